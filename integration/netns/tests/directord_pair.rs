//! Two directord, VRRPv3 at 100 ms and VRRPv2 at 1 s (PASS), in a LAN of namespaces:
//! election, kill -9 takeover, preemption on restart and its absence with
//! `preempt: false`, and the fast handover of a graceful stop (priority 0).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use netns_tests::{addr, assert_one_master, assert_roles, case, settle, slack, status, wait_state};
use testkit::addrwatch::AddrWatch;
use testkit::directord::Directord;
use testkit::netns::{netns_available, Lan};
use testkit::router::{Instance, Router, VIP};
use testkit::wait::wait_until;
use testkit::wire::Sniffer;

#[test]
fn two_directord_elect_fail_over_preempt_and_hand_over() {
    if !netns_available() {
        return;
    }
    netns_tests::run_parallel(vec![
        case("v3 100 ms", || scenario("dpv3", Instance::v3(150, 100), Instance::v3(100, 100))),
        case("v2 1 s", || scenario("dpv2", Instance::v2(150, 1), Instance::v2(100, 1))),
    ]);
}

/// A (host 0, `high`) and B (host 1, `low`).
fn scenario(prefix: &str, high: Instance, low: Instance) {
    let lan = Lan::new(prefix, 2);
    let (ha, hb) = (&lan.hosts[0], &lan.hosts[1]);
    let (wa, wb) = (AddrWatch::start(ha, "eth0").unwrap(), AddrWatch::start(hb, "eth0").unwrap());
    let (sniff_a, sniff_b) =
        (Sniffer::start(ha, "eth0").unwrap(), Sniffer::start(hb, "eth0").unwrap());
    let router_a = Router::new("lb1", high.clone());
    let mut a = Directord::start(ha, &router_a).unwrap();
    let mut b = Directord::start(hb, &Router::new("lb2", low.clone())).unwrap();

    // Election: the higher priority is MASTER and alone holds the VIP.
    wait_state(&a, "MASTER", settle(&high));
    wait_state(&b, "BACKUP", settle(&low));
    let before = status(&b).instance("vi1").counters.adverts_received;
    let window = (high.advert * 5).max(Duration::from_millis(500));
    let sniffed_from = Instant::now();
    assert_one_master(&wa, &wb, true, window);
    assert_roles(&lan, (&a, 0), (&b, 1));
    let adverts: Vec<_> =
        sniff_b.from(addr(0)).into_iter().filter(|p| p.at >= sniffed_from).collect();
    let expected = window.as_secs_f64() / high.advert.as_secs_f64();
    let n = adverts.len() as f64;
    assert!(n >= expected * 0.7 && n <= expected * 1.3 + 1.0, "{n} adverts in {window:?}");
    for p in &adverts {
        let v = p.vrrp();
        assert_eq!(
            (p.version(), p.vrid(), p.priority(), p.ttl()),
            (Some(high.version), Some(51), Some(150), 255)
        );
        // The interval field: v3 centiseconds in 12 bits, v2 whole seconds.
        let interval = if high.version == 3 {
            u64::from(u16::from_be_bytes([v[4], v[5]]) & 0x0fff) * 10
        } else {
            u64::from(v[5]) * 1000
        };
        assert_eq!(interval, high.advert.as_millis() as u64);
    }
    let s = status(&b);
    assert!(s.instance("vi1").counters.adverts_received > before, "B counts A's adverts: {s:?}");
    let sa = status(&a);
    let ca = &sa.instance("vi1").counters;
    assert!(ca.adverts_sent >= adverts.len() as u64 && ca.became_master == 1, "{sa:?}");
    assert_eq!(sa.director.id, "lb1");

    // kill -9 A: B takes over once Master_Down_Interval has passed since A's last advert.
    kill9_takeover(&mut a, &b, &wb, &sniff_b, &low);
    // SIGKILL sends nothing: the VIP stays on the dead box, as with keepalived.
    assert!(ha.has_address("eth0", VIP));

    // Restart A (preempt: true): it takes the VIP back, B steps down.
    a.restart(ha, None).unwrap();
    wait_state(&a, "MASTER", settle(&high));
    wait_state(&b, "BACKUP", settle(&low));
    assert_one_master(&wa, &wb, true, window);
    assert_roles(&lan, (&a, 0), (&b, 1));

    // Again, now restarting A with preempt: false: B keeps the VIP, and A, a
    // BACKUP, clears the VIP the killed process left (keepalived does at start).
    kill9_takeover(&mut a, &b, &wb, &sniff_b, &low);
    let no_preempt = Router::new("lb1", high.clone().preempt(false));
    a.restart(ha, Some(&no_preempt)).unwrap();
    wait_state(&a, "BACKUP", settle(&high));
    let cleared = wait_until(Duration::from_secs(1), || !ha.has_address("eth0", VIP));
    assert!(
        cleared,
        "A, BACKUP after a restart, kept the VIP its killed process left on eth0 \
         (keepalived removes it at start): {:?}\nA's log:\n{}",
        ha.ipv4_addresses("eth0"),
        a.log()
    );
    assert_one_master(&wa, &wb, false, high.master_down() * 2 + slack(&high));
    assert_roles(&lan, (&b, 1), (&a, 0));
    assert_eq!(status(&a).instance("vi1").state, "BACKUP", "A preempted with preempt: false");

    // SIGTERM on the master (B): it sends priority 0 and drops the VIP; A takes over
    // after its skew time, not after 3 x interval.
    let signalled = Instant::now();
    b.kill(libc::SIGTERM).unwrap();
    let took = wa.wait_change(VIP, true, signalled, settle(&high)).expect("A takes the VIP");
    let exit = b.wait_exit(Duration::from_secs(2));
    assert!(exit.is_some_and(|e| e.success()), "SIGTERM: exit {exit:?}; log:\n{}", b.log());
    let zero = sniff_a.from(addr(1)).into_iter().filter(|p| p.at >= signalled).collect::<Vec<_>>();
    let p0 = zero.iter().find(|p| p.priority() == Some(0));
    let p0 = p0.unwrap_or_else(|| panic!("no priority-0 advert from B after SIGTERM: {zero:?}"));
    let handover = took.saturating_duration_since(p0.at);
    let limit = high.skew() + slack(&high);
    assert!(handover <= limit, "priority 0 -> VIP on A {handover:?}, want <= {limit:?}");
    assert!(
        took - signalled < high.master_down(),
        "{:?}: no faster than a timeout",
        took - signalled
    );
    assert!(!hb.has_address("eth0", VIP), "B kept the VIP after SIGTERM");
    wait_state(&a, "MASTER", Duration::from_secs(1));
}

/// SIGKILL the master `a`; `b` must take the VIP no earlier than Master_Down_Interval
/// after a's last advert and not much later.
fn kill9_takeover(
    a: &mut Directord,
    b: &Directord,
    wb: &AddrWatch,
    sniff_b: &Sniffer,
    low: &Instance,
) {
    let killed = Instant::now();
    a.kill(libc::SIGKILL).unwrap();
    let took = wb
        .wait_change(VIP, true, killed, settle(low))
        .unwrap_or_else(|| panic!("B never took the VIP: {:?}\nlog:\n{}", b.status(), b.log()));
    let last = sniff_b.last_from_before(addr(0), took).unwrap();
    let gap = took.saturating_duration_since(last.at);
    let (min, max) =
        (low.master_down() - Duration::from_millis(25), low.master_down() + slack(low));
    assert!(gap >= min && gap <= max, "last advert -> VIP {gap:?}, want {min:?}..{max:?}");
    wait_state(b, "MASTER", Duration::from_secs(1));
}
