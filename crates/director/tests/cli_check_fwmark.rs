//! `directorctl check --fwmark` really marks the probe: in a network namespace
//! of its own, a policy rule sends marked packets to a table that prohibits the
//! listener's address, so the same probe passes unmarked and fails marked.
//! Needs root and iproute2; skipped (with a line saying so) otherwise, unless
//! DIRECTOR_REQUIRE_NETNS=1.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Netns {
    name: String,
    listener: Option<Child>,
}

impl Netns {
    fn exec(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(args);
        cmd.output().unwrap()
    }

    fn run(&self, args: &[&str]) {
        let out = self.exec(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(mut child) = self.listener.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

fn netns_available() -> bool {
    let root = euid_is_root();
    let ip = Command::new("ip").arg("-V").output().is_ok_and(|o| o.status.success());
    if root && ip {
        return true;
    }
    assert!(
        std::env::var("DIRECTOR_REQUIRE_NETNS").as_deref() != Ok("1"),
        "DIRECTOR_REQUIRE_NETNS=1 but this needs root and iproute2"
    );
    testkit::print_skip("needs root and iproute2 (ip netns)");
    false
}

fn euid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_string))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
}

#[test]
fn fwmark_routes_the_probe_by_policy() {
    if !netns_available() {
        return;
    }
    let mut ns = Netns { name: format!("dirchk-mark-{}", std::process::id()), listener: None };
    let out = Command::new("ip").args(["netns", "add", &ns.name]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ns.run(&["ip", "link", "set", "lo", "up"]);
    // Marked packets consult table 100 before the local table, which prohibits 127.0.0.1.
    ns.run(&["ip", "rule", "add", "pref", "10", "lookup", "local"]);
    ns.run(&["ip", "rule", "del", "pref", "0"]);
    ns.run(&["ip", "rule", "add", "pref", "5", "fwmark", "7", "lookup", "100"]);
    ns.run(&["ip", "route", "add", "prohibit", "127.0.0.1/32", "table", "100"]);

    let listen = "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',18211))\ns.listen(64)\nprint('ready',flush=True)\ntime.sleep(60)";
    let listener = Command::new("ip")
        .args(["netns", "exec", &ns.name, "python3", "-c", listen])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    ns.listener = Some(listener);
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
