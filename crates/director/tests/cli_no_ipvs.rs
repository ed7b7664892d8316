//! `directorctl` on a kernel without IPVS (this development host, CI): a clear error and
//! exit 1, not a panic or a raw errno. Where IPVS is loaded, the same commands must work.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::process::Command;

/// `directorctl ipvs restore` with `input` on stdin.
fn restore(input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_directorctl"))
        .args(["ipvs", "restore"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn directorctl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_directorctl")).args(args).output().expect("run directorctl")
}

#[test]
fn ipvs_commands_explain_a_kernel_without_ipvs() {
    let ipvs_loaded = Path::new("/proc/net/ip_vs").exists();
    for args in [&["ipvs", "list"][..], &["ipvs", "save"], &["ipvs", "list", "--json"]] {
        let out = directorctl(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if ipvs_loaded {
            assert!(out.status.success(), "{args:?}: {stderr}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
            assert_eq!(
                stderr.trim(),
                "directorctl: IPVS is not available in this kernel (module ip_vs not loaded)"
            );
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = directorctl(&["ipvs", "list", "--stats", "--rate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = directorctl(&["ipvs", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn restore_refuses_bad_input_before_touching_the_kernel() {
    // Parse errors come first, so they show even where IPVS is missing.
    let out = restore(b"-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 198.51.100.1:80 -w x\n");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "directorctl: <stdin>:2:42: illegal weight specified: `x' (expected 0..=2147483647)"
    );
}

#[test]
fn restore_names_the_line_of_binary_garbage() {
    let out = restore(b"-A -t 192.0.2.1:80 -s rr\n-a \xff\xfe\n");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim(), "directorctl: <stdin>:2:4: not valid UTF-8 text");
}

#[test]
fn restore_counts_columns_in_characters() {
    // "-A é" is 4 characters (5 bytes) before the bad byte.
    let out = restore(b"-A \xc3\xa9\xff\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim(), "directorctl: <stdin>:1:5: not valid UTF-8 text");
}
