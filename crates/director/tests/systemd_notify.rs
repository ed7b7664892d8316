//! directord under a stand-in service manager: the real binary with `$NOTIFY_SOCKET`
//! and `$WATCHDOG_USEC` pointing at a datagram socket in a temporary directory (no root,
//! no network; the configuration has neither VRRP nor virtual servers).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod supervised;

use std::process::Command;
use std::time::{Duration, Instant};

use supervised::{events, json_lines, monotonic_usec, Daemon, NotifySocket};

const EMPTY: &str = "director: {id: notify-test}\n";

fn directord() -> Command {
    Command::new(env!("CARGO_BIN_EXE_directord"))
}

fn directorctl_reload(socket: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_directorctl"))
        .arg("--socket")
        .arg(socket)
        .arg("reload")
        .output()
        .unwrap()
}

#[test]
fn ready_watchdog_reloading_and_stopping_reach_the_service_manager() {
    let dir = tempfile::tempdir().unwrap();
    let notify = NotifySocket::bind(dir.path());
    let config = dir.path().join("director.yaml");
    std::fs::write(&config, EMPTY).unwrap();
    let mut command = directord();
    command
        .env("NOTIFY_SOCKET", &notify.path)
        .env("WATCHDOG_USEC", "1000000")
        .args(["--log-format", "json"]);
    let mut daemon = Daemon::spawn(command, dir.path(), &config);

    let ready = notify.wait_line(0, "READY=1", Duration::from_secs(10));
    let first = &notify.since(ready)[0];
    assert!(first.contains("STATUS=no VRRP instances, no virtual servers"), "{first}");
    // READY only once the control socket answers.
    assert!(daemon.socket.exists());

    // WATCHDOG_USEC=1s: a ping every half second.
    let after_ready = Instant::now();
    std::thread::sleep(Duration::from_millis(2600));
    let pings = notify.pings_since(after_ready);
    assert!((4..=7).contains(&pings.len()), "{} pings in 2.6 s", pings.len());
    for gap in pings.windows(2).map(|w| w[1] - w[0]) {
        assert!(gap > Duration::from_millis(300) && gap < Duration::from_millis(800), "{gap:?}");
    }

    // A reload that is applied: RELOADING=1 with the monotonic clock, then READY=1.
    let before = notify.count();
    let clock_before = monotonic_usec();
    let out = directorctl_reload(&daemon.socket);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reloading = notify.wait_line(before, "RELOADING=1", Duration::from_secs(5));
    let message = &notify.since(reloading)[0];
    let usec: u64 = message
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC in {message:?}"))
        .parse()
        .unwrap();
    assert!(usec >= clock_before && usec <= monotonic_usec(), "{usec} vs {clock_before}");
    notify.wait_line(reloading + 1, "READY=1", Duration::from_secs(5));

    // A refused reload ends too: READY=1 again, the running configuration stays.
    std::fs::write(&config, "director: {id: x}\nno_such_key: 1\n").unwrap();
    let before = notify.count();
    let out = directorctl_reload(&daemon.socket);
    assert!(!out.status.success());
    let reloading = notify.wait_line(before, "RELOADING=1", Duration::from_secs(5));
    notify.wait_line(reloading + 1, "READY=1", Duration::from_secs(5));

    // SIGTERM: STOPPING=1, then a clean exit.
    let before = notify.count();
    daemon.signal(libc::SIGTERM);
    notify.wait_line(before, "STOPPING=1", Duration::from_secs(5));
    assert_eq!(daemon.wait_exit(Duration::from_secs(5)), Some(0));

    // Each reload is one log line, with its outcome's fields.
    let lines = json_lines(&daemon.log());
    let applied = events(&lines, "reload");
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(applied[0]["trigger"], "control");
    assert_eq!(applied[0]["changed"], false);
    assert!(applied[0]["duration_ms"].is_number(), "{}", applied[0]);
    let refused = events(&lines, "reload_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0]["error"].as_str().unwrap().contains("no_such_key"), "{}", refused[0]);
    assert_eq!(events(&lines, "ready").len(), 1);
    assert_eq!(events(&lines, "watchdog_stalled").len(), 0);
}

#[test]
fn a_sighup_reload_notifies_too() {
    let dir = tempfile::tempdir().unwrap();
    let notify = NotifySocket::bind(dir.path());
    let config = dir.path().join("director.yaml");
    std::fs::write(&config, EMPTY).unwrap();
    let mut command = directord();
    command.env("NOTIFY_SOCKET", &notify.path);
    let daemon = Daemon::spawn(command, dir.path(), &config);
    notify.wait_line(0, "READY=1", Duration::from_secs(10));
    let before = notify.count();
    daemon.signal(libc::SIGHUP);
    let reloading = notify.wait_line(before, "RELOADING=1", Duration::from_secs(5));
    notify.wait_line(reloading + 1, "READY=1", Duration::from_secs(5));
    // No WATCHDOG_USEC: no pings.
    assert!(notify.pings_since(Instant::now() - Duration::from_secs(60)).is_empty());
    assert!(daemon.log().contains("reload (SIGHUP)"), "{}", daemon.log());
}

#[test]
fn malformed_notify_variables_are_warnings_and_the_daemon_runs() {
    let dir = tempfile::tempdir().unwrap();
    let notify = NotifySocket::bind(dir.path());
    let config = dir.path().join("director.yaml");
    std::fs::write(&config, EMPTY).unwrap();
    let mut command = directord();
    command.env("NOTIFY_SOCKET", &notify.path).env("WATCHDOG_USEC", "30s");
    let mut daemon = Daemon::spawn(command, dir.path(), &config);
    notify.wait_line(0, "READY=1", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(notify.pings_since(Instant::now() - Duration::from_secs(60)).is_empty());
    let log = daemon.log();
    assert!(log.contains("WATCHDOG_USEC=\"30s\" is not a positive number"), "{log}");
    assert!(daemon.running());
    drop(daemon);

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("director.yaml");
    std::fs::write(&config, EMPTY).unwrap();
    let mut command = directord();
    command.env("NOTIFY_SOCKET", "run/notify.sock");
    let daemon = Daemon::spawn(command, dir.path(), &config);
    let answered = testkit::wait::wait_until(Duration::from_secs(10), || daemon.socket.exists());
    assert!(answered);
    assert_eq!(daemon.request("status")["director"]["id"], "notify-test");
    let log = daemon.log();
    assert!(log.contains("NOTIFY_SOCKET=\"run/notify.sock\" is neither"), "{log}");
}

#[test]
fn an_unknown_log_format_is_a_usage_error() {
    let out = directord().args(["--config", "/nonexistent", "--log-format", "xml"]).output();
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid value 'xml' for '--log-format"), "{stderr}");
    assert!(stderr.contains("text") && stderr.contains("json"), "{stderr}");
}
