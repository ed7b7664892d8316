//! `directorctl import-keepalived` as an operator runs it: YAML on stdout (or --output)
//! that `directorctl config check` accepts, warnings on stderr, exit 0/1/5.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn directorctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_directorctl")).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn a_sample_converts_and_passes_config_check() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keepalived/lvs-nat-http-get.conf");
    let out = directorctl(&["import-keepalived", sample.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("d.yaml");
    std::fs::write(&yaml, &out.stdout).unwrap();
    let check = directorctl(&["config", "check", yaml.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("1 virtual server, 2 real servers"));

    // --output writes the same YAML to a file and nothing to stdout.
    let written = dir.path().join("o.yaml");
    let out = directorctl(&[
        "import-keepalived",
        sample.to_str().unwrap(),
        "--output",
        written.to_str().unwrap(),
    ]);
    assert_eq!((out.status.code(), out.stdout.len()), (Some(0), 0));
    assert_eq!(std::fs::read(&written).unwrap(), std::fs::read(&yaml).unwrap());
}

#[test]
fn warnings_go_to_stderr_and_strict_exits_5() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("k.conf");
    std::fs::write(
        &conf,
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n smtp_alert\n}\n",
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    let out = directorctl(&["import-keepalived", conf]);
    assert_eq!(out.status.code(), Some(0));
    let want = format!(
        "{conf}:4: keyword 'smtp_alert' in vrrp_instance VI_1: not carried over (director \
         sends no e-mail: use notify scripts)\n"
    );
    assert_eq!(text(&out.stderr), want);
    assert!(text(&out.stdout).contains(&format!("# {}", want.trim_end())));
    let out = directorctl(&["import-keepalived", "--strict", conf]);
    assert_eq!(out.status.code(), Some(5));
    assert!(!out.stdout.is_empty(), "the YAML is still written");
}

#[test]
fn errors_exit_1_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("k.conf");
    std::fs::write(&conf, "vrrp_instance VI_1 {\n interface eth0\n").unwrap();
    let conf = conf.to_str().unwrap();
    let out = directorctl(&["import-keepalived", conf]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout.len(), 0);
    assert_eq!(
        text(&out.stderr),
        format!(
            "{conf}:1:1: the block of 'vrrp_instance VI_1' is never closed (a '}}' is missing)\n"
        )
    );
    let out = directorctl(&["import-keepalived", "/nonexistent/keepalived.conf"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("/nonexistent/keepalived.conf: "));
}
