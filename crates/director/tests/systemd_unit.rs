//! etc/directord.service: `systemd-analyze verify` accepts it without a warning (it
//! needs no running systemd; the binaries' paths point at this build, since verify
//! checks that they exist), and it keeps the settings the daemon relies on.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::process::Command;

fn unit_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc/directord.service");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_unit_verifies_cleanly() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        eprintln!("SKIP: systemd-analyze is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("directord.service");
    let text = unit_text()
        .replace("/usr/sbin/directorctl", env!("CARGO_BIN_EXE_directorctl"))
        .replace("/usr/sbin/directord", env!("CARGO_BIN_EXE_directord"));
    std::fs::write(&unit, text).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&unit).output().unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    // Unknown keys and bad values are only warnings: none allowed.
    assert_eq!(format!("{stdout}{stderr}").trim(), "", "systemd-analyze verify complained");
}

#[test]
fn the_unit_has_what_the_daemon_relies_on() {
    let text = unit_text();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for wanted in [
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=10s",
        "Restart=on-failure",
        "RuntimeDirectory=director",
        "ExecStart=/usr/sbin/directord --config /etc/director/director.yaml",
        "ExecReload=/usr/sbin/directorctl --socket /run/director/director.sock reload",
    ] {
        assert!(lines.contains(&wanted), "missing {wanted:?}");
    }
    let caps = lines.iter().find(|l| l.starts_with("CapabilityBoundingSet=")).unwrap();
    assert!(caps.contains("CAP_NET_ADMIN") && caps.contains("CAP_NET_RAW"), "{caps}");
}
