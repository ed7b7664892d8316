//! `directord` and `directorctl status` without a network: what an operator sees when
//! the daemon is not running, the socket is stale, the config is bad or names an
//! interface that does not exist. (Running VRRP is integration/netns's.)

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::process::Command;

fn directorctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_directorctl"))
}

fn directord() -> Command {
    Command::new(env!("CARGO_BIN_EXE_directord"))
}

#[test]
fn status_without_a_daemon_says_so_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let out = directorctl().arg("--socket").arg(&socket).arg("status").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("directord is not running"), "{stderr}");
    assert!(stderr.contains(&socket.display().to_string()), "{stderr}");
}

#[test]
fn status_on_a_stale_socket_says_so_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("stale.sock");
    // Bound and closed: the file stays, nobody listens.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let out = directorctl().arg("--socket").arg(&socket).args(["status", "--json"]).output();
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refuses connections"), "{stderr}");
}

#[test]
fn a_bad_config_is_refused_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.yaml");
    std::fs::write(
        &config,
        "vrrp:\n  instances:\n    - {name: a, interface: eth0, vrid: 300, virtual_addresses: [192.0.2.1]}\n",
    )
    .unwrap();
    let out = directord().arg("--config").arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml:3:"), "{stderr}");
    assert!(stderr.contains("vrrp.instances[0].vrid"), "{stderr}");
}

#[test]
fn an_interface_that_does_not_exist_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("noif.yaml");
    let socket = dir.path().join("d.sock");
    std::fs::write(
        &config,
        "director: {id: t}\nvrrp:\n  instances:\n    - {name: vi1, interface: nosuchif0, vrid: 7, \
         virtual_addresses: [192.0.2.1/24]}\n",
    )
    .unwrap();
    let out =
        directord().arg("--config").arg(&config).arg("--socket").arg(&socket).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("vrrp instance vi1: interface nosuchif0"), "{stderr}");
    assert!(!socket.exists(), "the control socket was left behind");
}

#[test]
fn a_socket_path_that_is_a_regular_file_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("only.yaml");
    std::fs::write(&config, "director: {id: t}\n").unwrap();
    let out = directord().arg("--config").arg(&config).arg("--socket").arg(&config).output();
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a socket"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "director: {id: t}\n");
}
