//! Graceful stop across implementations: a MASTER that gets SIGTERM sends priority 0,
//! and the other implementation takes over after its skew time, not after
//! Master_Down_Interval. Both directions: keepalived stopping with directord as
//! BACKUP, and directord stopping with keepalived as BACKUP (VRRPv3, 100 ms, multicast).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use netns_tests::{addr, case, settle, slack, wait_state, MixedLab};
use testkit::keepalived::Keepalived;
use testkit::netns::netns_available;
use testkit::router::{Instance, VIP};
use testkit::wait::wait_until;

#[test]
fn sigterm_on_either_master_hands_over_within_the_peers_skew_time() {
    if !netns_available() {
        return;
    }
    assert!(Keepalived::is_installed(), "keepalived is missing: scripts/deps.sh installs it");
    netns_tests::run_parallel(vec![
        case("keepalived stops", || scenario("igk", false)),
        case("directord stops", || scenario("igd", true)),
    ]);
}

/// directord on host 0, keepalived on host 1; the master is the one that stops.
fn scenario(prefix: &str, directord_master: bool) {
    let (pd, pk) = if directord_master { (150, 100) } else { (100, 150) };
    let (id, ik) = (Instance::v3(pd, 100), Instance::v3(pk, 100));
    let lab = MixedLab::start(prefix, &id, &ik);
    // `lab` keeps the LAN, dropped after the daemons and watchers moved out of it.
    let MixedLab { mut d, mut k, wd, wk, sniff_d, sniff_k, started: t0, .. } = lab;
    let (master, master_watch) = if directord_master { (&id, &wd) } else { (&ik, &wk) };
    assert!(master_watch.wait_change(VIP, true, t0, settle(master)).is_some());
    wait_state(&d, if directord_master { "MASTER" } else { "BACKUP" }, settle(&id));
    // A few intervals of steady state first, so the backup is past its start-up.
    std::thread::sleep(id.advert * 5);

    let signalled = Instant::now();
    let (backup, backup_watch, backup_sniff, master_addr) = if directord_master {
        d.kill(libc::SIGTERM).unwrap();
        (&ik, &wk, &sniff_k, addr(0))
    } else {
        k.kill(libc::SIGTERM).unwrap();
        (&id, &wd, &sniff_d, addr(1))
    };
    let took = backup_watch.wait_change(VIP, true, signalled, settle(backup));
    let took = took.unwrap_or_else(|| {
        panic!("no takeover; keepalived:\n{}\ndirectord:\n{}", k.log(), d.log())
    });
    let zero = backup_sniff
        .from(master_addr)
        .into_iter()
        .find(|p| p.at >= signalled && p.priority() == Some(0))
        .unwrap_or_else(|| panic!("no priority-0 advert from the stopping master"));
    let handover = took.saturating_duration_since(zero.at);
    let limit = backup.skew() + slack(backup);
    assert!(handover <= limit, "priority 0 -> VIP {handover:?}, want <= {limit:?}");
    assert!(
        took - signalled < backup.master_down(),
        "{:?}: the backup waited for a timeout instead of the priority-0 advert",
        took - signalled
    );
    // The stopped master let its VIP go, and the new master says it is one.
    if directord_master {
        assert!(d.wait_exit(Duration::from_secs(2)).is_some_and(|e| e.success()));
        assert!(!wd.has(VIP), "directord kept the VIP after SIGTERM");
        assert!(wait_until(Duration::from_secs(2), || k.state("vi1").as_deref() == Some("MASTER")));
    } else {
        assert!(wait_until(Duration::from_secs(2), || !wk.has(VIP)), "keepalived kept the VIP");
        wait_state(&d, "MASTER", Duration::from_secs(1));
    }
}
