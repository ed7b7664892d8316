//! `directorctl config check FILE`, run as a user would: exit 0 with a summary, 1 with
//! every error as FILE:LINE:COLUMN on stderr, 2 for a bad command line.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::process::{Command, Output};

fn directorctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_directorctl")).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn a_good_file_exits_0_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("director.yaml");
    // An interface this host does not have: the check is offline.
    let yaml = "vrrp:\n  instances:\n    - {name: a, interface: nosuchif0, vrid: 9, \
                virtual_addresses: [203.0.113.9/24]}\n    - {name: b, interface: nosuchif1, vrid: 9}\n";
    std::fs::write(&file, yaml).unwrap();
    let file = file.to_str().unwrap();
    let out = directorctl(&["config", "check", file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{file}: ok (2 vrrp instances)\n"));
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn the_shipped_example_checks() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc/vrrp-only.yaml");
    let out = directorctl(&["config", "check", example.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).ends_with("vrrp-only.yaml: ok (2 vrrp instances)\n"));
}

#[test]
fn the_documented_example_checks() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc/director.yaml");
    let out = directorctl(&["config", "check", example.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .ends_with("director.yaml: ok (2 vrrp instances, 3 virtual servers, 7 real servers)\n"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn a_bad_file_exits_1_with_every_error_located() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    let yaml = "vrrp:\n  instances:\n    - name: a\n      interface: eth0\n      vrid: 300\n      \
                priority: 0\n";
    std::fs::write(&file, yaml).unwrap();
    let file = file.to_str().unwrap();
    let out = directorctl(&["config", "check", file]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        format!(
            "{file}:5:13: vrrp.instances[0].vrid: expected 1-255, got 300\n\
             {file}:6:17: vrrp.instances[0].priority: expected 1-255, got 0\n"
        )
    );
}

#[test]
fn an_unknown_key_exits_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "director:\n  id: lb01\n  colour: blue\n").unwrap();
    let file = file.to_str().unwrap();
    let out = directorctl(&["config", "check", file]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!("{file}:3:3: director: unknown field `colour`")),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_exits_1_naming_it() {
    let out = directorctl(&["config", "check", "/nonexistent/director.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("/nonexistent/director.yaml: "), "{}", text(&out.stderr));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(directorctl(&["config", "check"]).status.code(), Some(2));
    assert_eq!(directorctl(&["config", "check", "a.yaml", "b.yaml"]).status.code(), Some(2));
    assert_eq!(directorctl(&["config", "lint", "a.yaml"]).status.code(), Some(2));
}
