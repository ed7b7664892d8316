//! Helpers for the VRRP acceptance tests in tests/: each test builds its own LAN of
//! network namespaces (testkit), runs `directord` (and keepalived as a peer) there,
//! and judges the daemon by what it shows (`directorctl status --json`), what the
//! kernel shows (the VIP on eth0, timed over rtnetlink) and what it sends (adverts
//! captured in the peer's namespace).
//!
//! The binaries come from the workspace's target directory (see
//! `testkit::directord`): `cargo test --workspace`, as `make test` runs, builds them.
//!
//! Timing bounds: the lower ones are RFC 5798 / 3768 values (a router that takes over
//! before Master_Down_Interval is wrong however fast the machine); the upper ones add
//! [`slack`] for a loaded 2-core machine.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use testkit::addrwatch::{overlap, AddrWatch};
use testkit::directord::{Directord, Status};
use testkit::keepalived::Keepalived;
use testkit::netns::Lan;
use testkit::router::{Instance, Router, VIP};
use testkit::wait::wait_until;
use testkit::wire::Sniffer;

/// The VIP as status lists it.
pub const VIP_CIDR: &str = "192.0.2.100/24";

/// How late a timer may fire here on a busy machine and still count as on time.
pub fn slack(i: &Instance) -> Duration {
    if i.version == 2 {
        Duration::from_millis(400)
    } else {
        Duration::from_millis(150)
    }
}

/// Long enough for any election of `i` to settle: a few Master_Down_Intervals.
pub fn settle(i: &Instance) -> Duration {
    i.master_down() * 3 + Duration::from_secs(2)
}

/// Waits until `d`'s instance vi1 is in `state`; panics with its status and log if not.
pub fn wait_state(d: &Directord, state: &str, timeout: Duration) {
    let ok = wait_until(timeout, || d.state("vi1").is_ok_and(|s| s == state));
    assert!(ok, "vi1 not {state} within {timeout:?}: {:?}\nlog:\n{}", d.status(), d.log());
}

/// `d`'s status; panics with the error and its log.
pub fn status(d: &Directord) -> Status {
    d.status().unwrap_or_else(|e| panic!("{e}\nlog:\n{}", d.log()))
}

/// The status and the interfaces agree: `master` (on host `mi`) is MASTER with the VIP
/// on eth0, `backup` (on host `bi`) is BACKUP without it and names the master.
pub fn assert_roles(lan: &Lan, master: (&Directord, usize), backup: (&Directord, usize)) {
    let (m, b) = (status(master.0), status(backup.0));
    let (mi, bi) = (m.instance("vi1"), b.instance("vi1"));
    assert_eq!(mi.state, "MASTER", "{m:?}");
    assert_eq!(bi.state, "BACKUP", "{b:?}");
    assert_eq!(mi.virtual_addresses, vec![VIP_CIDR.to_string()], "{m:?}");
    let master_addr = Lan::address(master.1).to_string();
    assert_eq!(bi.master.as_deref(), Some(master_addr.as_str()), "backup's view: {b:?}");
    assert!(lan.hosts[master.1].has_address("eth0", VIP), "MASTER without the VIP on eth0");
    assert!(!lan.hosts[backup.1].has_address("eth0", VIP), "BACKUP with the VIP on eth0");
}

/// Over `window`, never both `a` and `b` held the VIP, and exactly `holder` holds it
/// at the end: sampled from the whole address history, not a few polls.
pub fn assert_one_master(a: &AddrWatch, b: &AddrWatch, holder_is_a: bool, window: Duration) {
    let from = Instant::now();
    std::thread::sleep(window);
    let both = overlap(a, b, VIP, from, Instant::now());
    assert_eq!(
        both,
        Duration::ZERO,
        "two masters for {both:?} in {window:?}: A {:?} B {:?}",
        a.periods(VIP),
        b.periods(VIP)
    );
    assert_eq!((a.has(VIP), b.has(VIP)), (holder_is_a, !holder_is_a), "VIP holder");
    let changes = |w: &AddrWatch| w.events().iter().filter(|e| e.at >= from).count();
    assert_eq!((changes(a), changes(b)), (0, 0), "the VIP moved during a steady window");
}

/// An executable shell script at `path`.
pub fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n"))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// A named scenario for [`run_parallel`].
pub type Case = (String, Box<dyn FnOnce() + Send>);

pub fn case(name: &str, f: impl FnOnce() + Send + 'static) -> Case {
    (name.to_string(), Box::new(f))
}

/// Runs independent scenarios in parallel (each builds its own LAN) and fails with
/// the names and messages of the ones that failed; the suite's wall time is then the
/// slowest scenario, not their sum.
pub fn run_parallel(cases: Vec<Case>) {
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(name, f)| {
            let thread = std::thread::Builder::new().name(name.clone()).spawn(f);
            (name, thread)
        })
        .collect();
    let mut failed = Vec::new();
    for (name, handle) in handles {
        let outcome = match handle {
            Ok(h) => h.join().map_err(|p| panic_text(p.as_ref())),
            Err(e) => Err(format!("spawn: {e}")),
        };
        if let Err(why) = outcome {
            failed.push(format!("{name}: {why}"));
        }
    }
    assert!(failed.is_empty(), "{} scenario(s) failed:\n{}", failed.len(), failed.join("\n\n"));
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// The unicast pair of addresses for host `me` talking to host `peer`.
pub fn unicast(i: Instance, me: usize, peer: usize) -> Instance {
    i.unicast(Lan::address(me), Lan::address(peer))
}

/// Host `i`'s address.
pub fn addr(i: usize) -> Ipv4Addr {
    Lan::address(i)
}

/// directord (lb1, host 0) and keepalived (lb2, host 1) on a fresh LAN, with a VIP
/// watcher and an advert sniffer on each host, started before either daemon.
/// Fields drop in order: daemons, watchers, then the LAN they live in.
#[derive(Debug)]
pub struct MixedLab {
    pub d: Directord,
    pub k: Keepalived,
    pub wd: AddrWatch,
    pub wk: AddrWatch,
    pub sniff_d: Sniffer,
    pub sniff_k: Sniffer,
    /// Just before the daemons started.
    pub started: Instant,
    pub lan: Lan,
}

impl MixedLab {
    pub fn start(prefix: &str, id: &Instance, ik: &Instance) -> MixedLab {
        let lan = Lan::new(prefix, 2);
        let (hd, hk) = (&lan.hosts[0], &lan.hosts[1]);
        let watch = |ns| AddrWatch::start(ns, "eth0").unwrap_or_else(|e| panic!("{e}"));
        let sniff = |ns| Sniffer::start(ns, "eth0").unwrap_or_else(|e| panic!("{e}"));
        let (wd, wk, sniff_d, sniff_k) = (watch(hd), watch(hk), sniff(hd), sniff(hk));
        let started = Instant::now();
        let d = Directord::start(hd, &Router::new("lb1", id.clone()))
            .unwrap_or_else(|e| panic!("directord: {e}"));
        let k = Keepalived::start(hk, &Router::new("lb2", ik.clone()))
            .unwrap_or_else(|e| panic!("keepalived: {e}"));
        MixedLab { d, k, wd, wk, sniff_d, sniff_k, started, lan }
    }
}
