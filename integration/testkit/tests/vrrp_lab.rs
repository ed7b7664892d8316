//! The VRRP lab itself: two keepalived in a LAN of namespaces elect one master, and
//! the fixtures (notify lines, address watch, sniffer, kill by PID) see it. This
//! proves the lab, not the project's code; directord's tests are in integration/netns.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use testkit::addrwatch::{overlap, AddrWatch};
use testkit::keepalived::Keepalived;
use testkit::netns::{netns_available, Lan};
use testkit::router::{Instance, Router, VIP};
use testkit::wire::Sniffer;

#[test]
fn two_keepalived_elect_one_master_and_the_backup_takes_over_a_killed_one() {
    if !netns_available() {
        return;
    }
    if !Keepalived::is_installed() {
        testkit::print_skip("keepalived is not installed");
        return;
    }
    let lan = Lan::new("tkl", 2);
    let (a, b) = (&lan.hosts[0], &lan.hosts[1]);
    let (wa, wb) = (AddrWatch::start(a, "eth0").unwrap(), AddrWatch::start(b, "eth0").unwrap());
    let sniff = Sniffer::start(b, "eth0").unwrap();
    let high = Instance::v3(150, 100);
    let mut ka = Keepalived::start(a, &Router::new("ka", high.clone())).unwrap();
    let kb = Keepalived::start(b, &Router::new("kb", Instance::v3(100, 100))).unwrap();

    let t0 = Instant::now();
    let at = wa.wait_change(VIP, true, t0, Duration::from_secs(5));
    assert!(at.is_some(), "A never got the VIP:\n{}", ka.log());
    // Steady state over ten intervals: A master, B backup, one VIP holder.
    std::thread::sleep(Duration::from_secs(1));
    let steady = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(overlap(&wa, &wb, VIP, steady, Instant::now()), Duration::ZERO);
    assert!(wa.has(VIP) && !wb.has(VIP) && a.has_address("eth0", VIP));
    assert_eq!(ka.state("vi1").as_deref(), Some("MASTER"), "{:?}", ka.notify_lines());
    assert_eq!(kb.state("vi1").as_deref(), Some("BACKUP"), "{:?}", kb.notify_lines());
    assert!(ka.notify_lines().contains(&"INSTANCE vi1 MASTER 150".to_string()));
    let adverts = sniff.from(testkit::netns::Lan::address(0));
    assert!(adverts.len() >= 8, "{} adverts from A in 1 s", adverts.len());
    assert!(adverts
        .iter()
        .all(|p| p.vrid() == Some(51) && p.priority() == Some(150) && p.ttl() == 255));

    let killed = Instant::now();
    ka.kill(libc::SIGKILL).unwrap();
    let took = wb.wait_change(VIP, true, killed, Duration::from_secs(5)).unwrap();
    let last = sniff.last_from_before(testkit::netns::Lan::address(0), took).unwrap();
    let from_last = took - last.at;
    // Master_Down_Interval of B: 3 x 100 ms + skew 61 ms.
    let down = Instance::v3(100, 100).master_down();
    assert!(
        from_last >= down - Duration::from_millis(15)
            && from_last < down + Duration::from_millis(150),
        "{from_last:?}"
    );
    // SIGKILL sends nothing: the dead master keeps its VIP, as keepalived does.
    assert!(a.has_address("eth0", VIP));
    // The fixture leaves no process behind: both of keepalived's, by PID.
    let pids = [ka.vrrp_pid(), kb.vrrp_pid()];
    drop((ka, kb));
    let gone = || pids.iter().all(|&p| !testkit::process::alive(p));
    assert!(testkit::wait::wait_until(Duration::from_secs(2), gone));
}
