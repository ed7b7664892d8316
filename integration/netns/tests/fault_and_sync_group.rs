//! Interface tracking and sync groups between two directord (VRRPv3, 100 ms adverts).
//! A tracked interface that loses its carrier with weight 0 puts the instance in FAULT
//! (priority 0 advert, VIP dropped, silence) and the peer takes over in its skew time;
//! so does the instance's own interface. With a weight the interface only lowers the
//! effective priority and the peer preempts. In a sync group one faulty member faults
//! the whole group on that host, and both VIPs move, and come back, together.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use netns_tests::{addr, assert_one_master, case, settle, slack, status, wait_state};
use testkit::addrwatch::{overlap, AddrWatch};
use testkit::directord::Directord;
use testkit::netns::{netns_available, Lan, Netns};
use testkit::router::{Instance, Router, VIP};
use testkit::wait::wait_until;
use testkit::wire::Sniffer;

/// The second instance's VIP in the sync group scenario.
const VIP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 101);
/// A steady window: five adverts.
const STEADY: Duration = Duration::from_millis(500);

#[test]
fn tracked_interfaces_fault_or_weigh_and_sync_groups_move_together() {
    if !netns_available() {
        return;
    }
    netns_tests::run_parallel(vec![
        case("fault on eth1 and eth0", fault),
        case("weighted eth1", weighted),
        case("sync group", sync_group),
    ]);
}

/// Gives host `ns` an `eth1`: a veth whose peer (`eth1p`, same namespace) is the far
/// end of the cable, so taking the peer down takes eth1's carrier away.
fn add_eth1(ns: &Netns) {
    ns.run(&["ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p"]);
    ns.run(&["ip", "link", "set", "eth1p", "up"]);
    ns.run(&["ip", "link", "set", "eth1", "up"]);
    assert!(carrier(ns, true), "eth1 without carrier: {}", ns.run(&["ip", "link"]));
}

/// Plugs (`up`) or unplugs eth1's cable and waits for the kernel to show it.
fn cable(ns: &Netns, up: bool) {
    ns.run(&["ip", "link", "set", "eth1p", if up { "up" } else { "down" }]);
    assert!(carrier(ns, up), "eth1 carrier not {up}");
}

fn carrier(ns: &Netns, up: bool) -> bool {
    wait_until(Duration::from_secs(2), || {
        let out = ns.run(&["ip", "-o", "link", "show", "dev", "eth1"]);
        out.contains("NO-CARRIER") != up && out.contains("LOWER_UP") == up
    })
}

/// A (lb1, host 0) and B (lb2, host 1) with their VIP watchers and B's sniffer.
struct Pair {
    a: Directord,
    b: Directord,
    wa: AddrWatch,
    wb: AddrWatch,
    sniff_b: Sniffer,
}

/// Starts A and B and waits for A MASTER, B BACKUP and one master for a steady window.
fn steady_pair(lan: &Lan, ia: &Instance, ib: &Instance) -> Pair {
    let (ha, hb) = (&lan.hosts[0], &lan.hosts[1]);
    let (wa, wb) = (AddrWatch::start(ha, "eth0").unwrap(), AddrWatch::start(hb, "eth0").unwrap());
    let sniff_b = Sniffer::start(hb, "eth0").unwrap();
    let a = Directord::start(ha, &Router::new("lb1", ia.clone())).unwrap();
    let b = Directord::start(hb, &Router::new("lb2", ib.clone())).unwrap();
    wait_state(&a, "MASTER", settle(ia));
    wait_state(&b, "BACKUP", settle(ib));
    assert_one_master(&wa, &wb, true, STEADY);
    Pair { a, b, wa, wb, sniff_b }
}

/// The fault names of `instance` in `d`'s status.
fn faults(d: &Directord, instance: &str) -> Vec<String> {
    let s = status(d);
    let f = &s.instance(instance).faults;
    f.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect()
}

/// The states `d` notified for vi1, in order, without a BACKUP announced at start.
fn notified_states(d: &Directord) -> Vec<String> {
    let lines = d.notify_lines();
    let mut states: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("INSTANCE vi1 ")?.split(' ').next().map(str::to_string))
        .collect();
    if states.first().is_some_and(|s| s == "BACKUP") {
        states.remove(0);
    }
    states
}

fn fault() {
    let lan = Lan::new("hff", 2);
    let ha = &lan.hosts[0];
    add_eth1(ha);
    let mut ia = Instance::v3(150, 100);
    ia.track_interfaces = vec![("eth1".into(), 0)];
    ia.notify = true;
    let ib = Instance::v3(100, 100);
    let Pair { a, b, wa, wb, sniff_b } = steady_pair(&lan, &ia, &ib);

    // eth1 loses carrier: A goes FAULT, says priority 0 and drops the VIP; B takes
    // over after its skew time, not after Master_Down_Interval.
    let cut = Instant::now();
    cable(ha, false);
    let took = wb.wait_change(VIP, true, cut, settle(&ib));
    let took =
        took.unwrap_or_else(|| panic!("B never took the VIP: {:?}\n{}", a.status(), a.log()));
    wait_state(&a, "FAULT", Duration::from_secs(1));
    assert_eq!(faults(&a, "vi1"), ["eth1"], "{:?}", a.status());
    assert!(wa.wait_change(VIP, false, cut, Duration::from_secs(1)).is_some(), "A kept the VIP");
    let from_a: Vec<_> = sniff_b.from(addr(0)).into_iter().filter(|p| p.at >= cut).collect();
    let p0 = from_a.iter().find(|p| p.priority() == Some(0));
    let p0 = p0.unwrap_or_else(|| panic!("no priority 0 from A in FAULT: {from_a:?}")).at;
    let (handover, limit) = (took.saturating_duration_since(p0), ib.skew() + slack(&ib));
    assert!(handover <= limit, "priority 0 -> VIP on B {handover:?}, want <= {limit:?}");
    assert!(took - cut < ib.master_down(), "{:?}: no faster than a timeout", took - cut);
    wait_state(&b, "MASTER", Duration::from_secs(1));
    assert_one_master(&wa, &wb, false, STEADY);
    let later: Vec<_> = sniff_b.from(addr(0)).into_iter().filter(|p| p.at > p0).collect();
    assert!(later.is_empty(), "A advertised in FAULT: {later:?}");
    assert_eq!(status(&a).instance("vi1").state, "FAULT");

    // The cable is back: A is BACKUP first, so it preempts only once its
    // Master_Down_Interval has run out, then holds the VIP alone again.
    let mended = Instant::now();
    cable(ha, true);
    let back = wa.wait_change(VIP, true, mended, settle(&ia));
    let back = back.unwrap_or_else(|| panic!("A did not take the VIP back: {:?}", a.status()));
    let min = ia.master_down() - Duration::from_millis(25);
    assert!(back - mended >= min, "A MASTER {:?} after eth1 came back", back - mended);
    wait_state(&a, "MASTER", Duration::from_secs(1));
    wait_state(&b, "BACKUP", Duration::from_secs(1));
    assert_one_master(&wa, &wb, true, STEADY);
    assert!(faults(&a, "vi1").is_empty(), "{:?}", a.status());

    // A's own interface loses carrier: FAULT naming eth0, the VIP leaves, B (which
    // hears nothing more) takes over; with the link back A preempts again.
    let down = Instant::now();
    lan.set_port(0, false);
    wait_state(&a, "FAULT", Duration::from_secs(2));
    assert_eq!(faults(&a, "vi1"), ["eth0"], "{:?}", a.status());
    assert!(wa.wait_change(VIP, false, down, Duration::from_secs(1)).is_some(), "A kept the VIP");
    assert!(wb.wait_change(VIP, true, down, settle(&ib)).is_some(), "B never took the VIP");
    wait_state(&b, "MASTER", Duration::from_secs(1));
    assert_one_master(&wa, &wb, false, STEADY);
    assert_eq!(status(&a).instance("vi1").state, "FAULT");
    lan.set_port(0, true);
    wait_state(&a, "MASTER", settle(&ia));
    wait_state(&b, "BACKUP", Duration::from_secs(1));
    assert_one_master(&wa, &wb, true, STEADY);

    // Every transition, in order: FAULT is left through BACKUP.
    let want = ["MASTER", "FAULT", "BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER"];
    wait_until(Duration::from_secs(2), || notified_states(&a).len() >= want.len());
    assert_eq!(notified_states(&a), want, "notify lines: {:?}", a.notify_lines());
}

fn weighted() {
    let lan = Lan::new("hfw", 2);
    let ha = &lan.hosts[0];
    add_eth1(ha);
    let mut ia = Instance::v3(150, 100);
    ia.track_interfaces = vec![("eth1".into(), -60)];
    let ib = Instance::v3(100, 100);
    let Pair { a, b, wa, wb, sniff_b } = steady_pair(&lan, &ia, &ib);

    // eth1 down: 150 - 60 = 90 < 100. A advertises 90 (no FAULT, no priority 0) and
    // B, preempting, takes the VIP.
    let down = Instant::now();
    ha.run(&["ip", "link", "set", "eth1", "down"]);
    let took = wb.wait_change(VIP, true, down, settle(&ib));
    assert!(took.is_some(), "the VIP stayed on A: {:?}\n{}", a.status(), a.log());
    wait_state(&a, "BACKUP", Duration::from_secs(1));
    wait_state(&b, "MASTER", Duration::from_secs(1));
    assert_one_master(&wa, &wb, false, STEADY);
    let s = status(&a);
    let vi = s.instance("vi1");
    assert_eq!((vi.priority, vi.effective_priority), (150, 90), "{s:?}");
    assert!(vi.faults.is_empty(), "a weighted interface is no fault: {s:?}");
    let prios: Vec<_> =
        sniff_b.from(addr(0)).iter().filter(|p| p.at >= down).map(|p| p.priority()).collect();
    assert!(prios.contains(&Some(90)) && !prios.contains(&Some(0)), "A sent {prios:?}");

    // eth1 up: back to 150, A preempts.
    let up = Instant::now();
    ha.run(&["ip", "link", "set", "eth1", "up"]);
    let back = wa.wait_change(VIP, true, up, settle(&ia));
    assert!(back.is_some(), "A did not take the VIP back: {:?}", a.status());
    wait_state(&a, "MASTER", Duration::from_secs(1));
    wait_state(&b, "BACKUP", Duration::from_secs(1));
    assert_one_master(&wa, &wb, true, STEADY);
    assert_eq!(status(&a).instance("vi1").effective_priority, 150);
}

/// vi1 (VRID 51, VIP) and vi2 (VRID 52, VIP2) in one sync group; `track` makes vi2
/// alone track eth1 with weight 0.
fn group_router(id: &str, priority: u8, track: bool) -> Router {
    let vi1 = Instance::v3(priority, 100);
    let mut vi2 =
        Instance { name: "vi2".into(), vrid: 52, vips: vec![format!("{VIP2}/24")], ..vi1.clone() };
    if track {
        vi2.track_interfaces = vec![("eth1".into(), 0)];
    }
    let mut r = Router::new(id, vi1);
    r.instances.push(vi2);
    r.sync_groups = vec![("VG_1".into(), vec!["vi1".into(), "vi2".into()])];
    r
}

fn wait_both(d: &Directord, state: &str, timeout: Duration) {
    let ok =
        wait_until(timeout, || ["vi1", "vi2"].iter().all(|i| d.state(i).is_ok_and(|s| s == state)));
    assert!(ok, "vi1 and vi2 not {state} in {timeout:?}: {:?}\nlog:\n{}", d.status(), d.log());
}

/// Over a steady window both VIPs stay on one host (A if `on_a`), never one on each,
/// never on both, and do not move.
fn assert_group_steady(wa: &AddrWatch, wb: &AddrWatch, on_a: bool) {
    let from = Instant::now();
    std::thread::sleep(STEADY);
    for v in [VIP, VIP2] {
        let both = overlap(wa, wb, v, from, Instant::now());
        assert_eq!(both, Duration::ZERO, "{v} on both hosts for {both:?}");
        assert_eq!((wa.has(v), wb.has(v)), (on_a, !on_a), "{v}: A and B hold it?");
    }
    let moved = |w: &AddrWatch| w.events().iter().any(|e| e.at >= from);
    assert!(!moved(wa) && !moved(wb), "a VIP moved in a steady window");
}

/// When each VIP appeared (`present`) or went on `w` after `since`; they must do so
/// together, as one group.
fn moved_together(w: &AddrWatch, present: bool, since: Instant, what: &str) {
    let at = |v| w.wait_change(v, present, since, Duration::from_secs(3));
    let (t1, t2) = (at(VIP), at(VIP2));
    let (Some(t1), Some(t2)) = (t1, t2) else {
        panic!("{what}: {VIP} {t1:?}, {VIP2} {t2:?}: {:?}", w.events())
    };
    let apart = t1.max(t2) - t1.min(t2);
    assert!(apart < Duration::from_millis(50), "{what}: the two VIPs {apart:?} apart");
}

fn sync_group() {
    let lan = Lan::new("hfg", 2);
    let (ha, hb) = (&lan.hosts[0], &lan.hosts[1]);
    add_eth1(ha);
    let (wa, wb) = (AddrWatch::start(ha, "eth0").unwrap(), AddrWatch::start(hb, "eth0").unwrap());
    let ib = Instance::v3(100, 100);
    let a = Directord::start(ha, &group_router("lb1", 150, true)).unwrap();
    let b = Directord::start(hb, &group_router("lb2", 100, false)).unwrap();
    wait_both(&a, "MASTER", settle(&ib));
    wait_both(&b, "BACKUP", settle(&ib));
    assert_group_steady(&wa, &wb, true);

    // Only vi2 tracks eth1, yet vi1 goes FAULT with it and both VIPs move to B.
    let cut = Instant::now();
    cable(ha, false);
    moved_together(&wa, false, cut, "A dropping the VIPs");
    moved_together(&wb, true, cut, "B taking the VIPs");
    wait_both(&a, "FAULT", Duration::from_secs(1));
    wait_both(&b, "MASTER", Duration::from_secs(1));
    assert_eq!(faults(&a, "vi2"), ["eth1"], "{:?}", a.status());
    assert!(faults(&a, "vi1").is_empty(), "vi1 is FAULT by its group only: {:?}", a.status());
    assert_group_steady(&wa, &wb, false);

    // The cable is back: the group leaves FAULT and A takes both back together.
    let mended = Instant::now();
    cable(ha, true);
    moved_together(&wa, true, mended, "A taking the VIPs back");
    moved_together(&wb, false, mended, "B giving them up");
    wait_both(&a, "MASTER", Duration::from_secs(1));
    wait_both(&b, "BACKUP", Duration::from_secs(1));
    assert_group_steady(&wa, &wb, true);
}
