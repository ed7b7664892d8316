//! The real directord in a network namespace (a veth pair for VRRP, an
//! in-memory IPVS, a real TCP check) under a stand-in service manager: the watchdog
//! pings stop when one loop hangs (VRRP, the checks, the reconciler's thread) while
//! the process otherwise runs, and `--log-format json` writes one line per state
//! change. Needs root; built with the `fault-injection` feature (`make unit`).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod supervised;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use supervised::{events, json_lines, Daemon, NotifySocket};
use testkit::netns::{netns_available, Netns};

const CONFIG: &str = "director: {id: hang-test}
vrrp:
  instances:
    - name: vi1
      interface: d0
      vrid: 51
      priority: 100
      version: 3
      advert_interval: 100ms
      unicast: {source: 192.0.2.5, peers: [192.0.2.6]}
      virtual_addresses: [192.0.2.100/24]
virtual_servers:
  - name: web
    address: 192.0.2.100
    port: 80
    forwarding: nat
    quorum: 1
    sorry_server: {address: 192.0.2.5, port: 8081}
    vrrp_instance: vi1
    check: {type: tcp, delay_loop: 200ms, connect_timeout: 500ms, retry: 0, delay_before_retry: 100ms}
    real_servers:
      - {address: 192.0.2.5, port: 8080}
";

/// Dropped in this order: the daemon before its namespace. The last two are held only
/// to be dropped last.
struct Site {
    daemon: Daemon,
    notify: NotifySocket,
    _dir: tempfile::TempDir,
    _ns: Netns,
}

/// directord in a fresh namespace on `d0` (192.0.2.5/24), pinging every 500 ms.
fn start(listen: bool) -> (Site, Option<TcpListener>) {
    let ns = Netns::new("wdh");
    // A veth pair inside the namespace (this kernel has no dummy links): adverts
    // leave d0 into d1 and stop there.
    ns.run(&["ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1"]);
    ns.run(&["ip", "addr", "add", "192.0.2.5/24", "dev", "d0"]);
    ns.run(&["ip", "link", "set", "d1", "up"]);
    ns.run(&["ip", "link", "set", "d0", "up"]);
    let listener = listen
        .then(|| ns.in_thread(|| TcpListener::bind("192.0.2.5:8080").unwrap()).join().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let notify = NotifySocket::bind(dir.path());
    let config = dir.path().join("director.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let mut command: Command = ns.command(&[env!("CARGO_BIN_EXE_directord")]);
    command
        .env("NOTIFY_SOCKET", &notify.path)
        .env("WATCHDOG_USEC", "1000000")
        .env("DIRECTOR_FAULT_FAKE_IPVS", "1")
        .args(["--log-format", "json"]);
    let daemon = Daemon::spawn(command, dir.path(), &config);
    notify.wait_line(0, "READY=1", Duration::from_secs(10));
    (Site { daemon, notify, _dir: dir, _ns: ns }, listener)
}

impl Site {
    fn wait_master(&self) {
        let master = testkit::wait::wait_until(Duration::from_secs(10), || {
            self.daemon.request("status")["vrrp_instances"][0]["state"] == "MASTER"
        });
        assert!(master, "not MASTER; log:\n{}", self.daemon.log());
    }

    /// Injects `fault`, then asserts the pings stop within `within` and stay stopped
    /// for 3 s while the daemon still answers on its control socket.
    /// `answers`: whether `status` still answers (not when the virtual-server task,
    /// which status asks, is the one stuck).
    fn pings_stop_after(
        &mut self,
        fault: &str,
        within: Duration,
        stalled_task: &str,
        answers: bool,
    ) {
        let before = Instant::now();
        std::thread::sleep(Duration::from_millis(1500));
        assert!(self.notify.pings_since(before).len() >= 2, "no pings before the fault");
        let answer = self.daemon.request(&format!("fault {fault}"));
        assert_eq!(answer["fault"], fault, "{answer}");
        let injected = Instant::now();
        // Stopped: three ping periods without one.
        let stopped = testkit::wait::wait_until(within, || {
            let last = self.notify.pings_since(before).last().copied();
            last.is_some_and(|at| at.elapsed() > Duration::from_millis(1500))
        });
        let silent_after = injected.elapsed();
        assert!(stopped, "pings go on after {fault}; log:\n{}", self.daemon.log());
        let quiet_from = Instant::now();
        std::thread::sleep(Duration::from_secs(3));
        let late = self.notify.pings_since(quiet_from);
        assert!(late.is_empty(), "{} pings resumed after {fault}", late.len());
        assert!(self.daemon.running(), "directord exited");
        // Otherwise up: the control socket still answers.
        if answers {
            let status = self.daemon.request("status");
            assert_eq!(status["director"]["id"], "hang-test", "{status}");
        }
        let lines = json_lines(&self.daemon.log());
        let stalled = events(&lines, "watchdog_stalled");
        assert_eq!(stalled.len(), 1, "{stalled:?}");
        let tasks = stalled[0]["tasks"].as_str().unwrap();
        assert!(tasks.contains(stalled_task), "{tasks}");
        eprintln!("{fault}: pings silent {silent_after:?} after the fault");
    }
}

#[test]
fn a_hung_vrrp_loop_stops_the_watchdog_pings() {
    if !netns_available() {
        return;
    }
    let (mut site, _listener) = start(false);
    site.wait_master();
    site.pings_stop_after("hang-vrrp", Duration::from_secs(8), "vrrp", true);
}

#[test]
fn a_hung_check_stops_the_watchdog_pings() {
    if !netns_available() {
        return;
    }
    let (mut site, _listener) = start(false);
    // Probe budget 0.5 s + 1 s margin, 2 s grace, 3 s window, 0.5 s ping period.
    site.pings_stop_after("hang-checks", Duration::from_secs(12), "checks", true);
    let lines = json_lines(&site.daemon.log());
    let stuck = events(&lines, "check_stalled");
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert_eq!(stuck[0]["check_target"], "192.0.2.5:8080");
}

#[test]
fn a_reconciler_stuck_in_the_kernel_stops_the_watchdog_pings() {
    if !netns_available() {
        return;
    }
    let (mut site, _listener) = start(false);
    // The next drift repair (every delay_loop) blocks the virtual-server task.
    site.pings_stop_after("hang-ipvs", Duration::from_secs(10), "services", false);
}

#[test]
fn json_logs_have_one_line_per_state_change() {
    if !netns_available() {
        return;
    }
    let (site, listener) = start(true);
    site.wait_master();
    let up = testkit::wait::wait_until(Duration::from_secs(10), || {
        site.daemon.request("status")["virtual_servers"][0]["real_servers"][0]["healthy"] == true
    });
    assert!(up, "the real server never came up; log:\n{}", site.daemon.log());
    drop(listener);
    let down = testkit::wait::wait_until(Duration::from_secs(10), || {
        let lines = json_lines(&site.daemon.log());
        !events(&lines, "real_server_down").is_empty()
            && !events(&lines, "sorry_server_in").is_empty()
    });
    assert!(down, "no down line; log:\n{}", site.daemon.log());
    std::thread::sleep(Duration::from_millis(1000));

    let lines = json_lines(&site.daemon.log());
    let masters: Vec<_> =
        events(&lines, "vrrp_transition").into_iter().filter(|l| l["to"] == "MASTER").collect();
    assert_eq!(masters.len(), 1, "{masters:?}");
    let m = masters[0];
    assert_eq!(
        (&m["instance"], &m["from"], &m["priority"]),
        (&"vi1".into(), &"BACKUP".into(), &100.into()),
        "{m}"
    );
    assert!(m["reason"].as_str().is_some_and(|r| !r.is_empty()), "{m}");
    assert_eq!(m["level"], "INFO");

    let downs = events(&lines, "real_server_down");
    assert_eq!(downs.len(), 1, "{downs:?}");
    let d = downs[0];
    assert_eq!(d["virtual_server"], "web", "{d}");
    assert_eq!(d["real_server"], "192.0.2.5:8080", "{d}");
    assert!(d["reason"].as_str().is_some_and(|r| !r.is_empty()), "{d}");
    // Not alpha: it starts up, so its first passing check is no change and no line.
    assert_eq!(events(&lines, "real_server_up").len(), 0);
    let lost = events(&lines, "quorum_lost");
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0]["virtual_server"], "web");
    let sorry = events(&lines, "sorry_server_in");
    assert_eq!(sorry.len(), 1, "{sorry:?}");
    assert_eq!(sorry[0]["sorry_server"], "192.0.2.5:8081");
}
