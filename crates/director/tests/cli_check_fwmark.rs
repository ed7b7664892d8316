//! `directorctl check --fwmark` really marks the probe: in a network namespace
//! of its own, a policy rule sends marked packets to a table that prohibits the
//! listener's address, so the same probe passes unmarked and fails marked.
//! Needs root and iproute2; skipped (with a line saying so) otherwise, unless
//! DIRECTOR_REQUIRE_NETNS=1.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use testkit::netns::{netns_available, Netns};

/// Kills the listener by PID when the test ends, pass or fail.
struct Listener(Child);

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn fwmark_routes_the_probe_by_policy() {
    if !netns_available() {
        return;
    }
    let ns = Netns::new("dirchk");
    // Marked packets consult table 100 before the local table, which prohibits 127.0.0.1.
    ns.run(&["ip", "rule", "add", "pref", "10", "lookup", "local"]);
    ns.run(&["ip", "rule", "del", "pref", "0"]);
    ns.run(&["ip", "rule", "add", "pref", "5", "fwmark", "7", "lookup", "100"]);
    ns.run(&["ip", "route", "add", "prohibit", "127.0.0.1/32", "table", "100"]);

    let listen = "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',18211))\ns.listen(64)\nprint('ready',flush=True)\ntime.sleep(60)";
    let _listener =
        Listener(ns.command(&["python3", "-c", listen]).stdout(Stdio::piped()).spawn().unwrap());
    let started = Instant::now();
    let ctl = env!("CARGO_BIN_EXE_directorctl");
    let probe = |extra: &[&str]| {
        let mut args = vec![ctl, "check", "tcp", "127.0.0.1:18211", "--timeout", "1s"];
        args.extend_from_slice(extra);
        ns.exec(&args)
    };
    let unmarked = loop {
        let out = probe(&[]);
        if out.status.success() || started.elapsed() > Duration::from_secs(5) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(unmarked.status.success(), "{}", String::from_utf8_lossy(&unmarked.stdout));

    let marked = probe(&["--fwmark", "7"]);
    let text = String::from_utf8_lossy(&marked.stdout);
    assert_eq!(marked.status.code(), Some(1), "{text}");
    assert!(text.starts_with("failed tcp 127.0.0.1:18211"), "{text}");
    assert!(text.contains("connect:"), "a routing refusal, not a timeout: {text}");

    // Another mark takes the normal path.
    assert!(probe(&["--fwmark", "8"]).status.success());
}
