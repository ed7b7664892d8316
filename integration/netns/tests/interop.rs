//! directord against the real keepalived as its VRRP peer: VRRPv2 with PASS
//! authentication and VRRPv3, multicast and unicast, either side with the higher
//! priority. Each combination: one master in steady state (sampled from both sides'
//! address histories), the backup accepts the master's adverts (none dropped), and
//! kill -9 of the master hands the VIP to the other daemon on time.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use netns_tests::{
    addr, assert_one_master, case, settle, slack, status, unicast, wait_state, MixedLab,
};
use testkit::keepalived::Keepalived;
use testkit::netns::netns_available;
use testkit::router::{Instance, VIP};
use testkit::wait::wait_until;
use testkit::wire::Sniffer;

#[test]
fn directord_and_keepalived_interoperate() {
    if !netns_available() {
        return;
    }
    assert!(Keepalived::is_installed(), "keepalived is missing: scripts/deps.sh installs it");
    let mut cases = Vec::new();
    for version in [2, 3] {
        for uni in [false, true] {
            for directord_high in [true, false] {
                let name = format!(
                    "v{version} {} {} higher",
                    if uni { "unicast" } else { "multicast" },
                    if directord_high { "directord" } else { "keepalived" }
                );
                let prefix = format!("io{version}{}{}", u8::from(uni), u8::from(directord_high));
                cases.push(case(&name, move || scenario(&prefix, version, uni, directord_high)));
            }
        }
    }
    netns_tests::run_parallel(cases);
}

/// directord on host 0, keepalived on host 1.
fn scenario(prefix: &str, version: u8, uni: bool, directord_high: bool) {
    let instance = |priority| match version {
        2 => Instance::v2(priority, 1),
        _ => Instance::v3(priority, 100),
    };
    let (pd, pk) = if directord_high { (150, 100) } else { (100, 150) };
    let (mut id, mut ik) = (instance(pd), instance(pk));
    if uni {
        (id, ik) = (unicast(id, 0, 1), unicast(ik, 1, 0));
    }
    let lab = MixedLab::start(prefix, &id, &ik);
    // `lab` keeps the LAN, dropped after the daemons and watchers moved out of it.
    let MixedLab { mut d, mut k, wd, wk, sniff_d, sniff_k, started: t0, .. } = lab;

    // Steady state: the higher priority holds the VIP, both say so, never two masters.
    let (high, high_watch) = if directord_high { (&id, &wd) } else { (&ik, &wk) };
    let got = high_watch.wait_change(VIP, true, t0, settle(high));
    assert!(got.is_some(), "the higher priority never took the VIP; keepalived:\n{}", k.log());
    let window = (id.advert * 5).max(Duration::from_secs(3));
    wait_state(&d, if directord_high { "MASTER" } else { "BACKUP" }, settle(&id));
    assert_one_master(&wd, &wk, directord_high, window);
    let k_state = if directord_high { "BACKUP" } else { "MASTER" };
    assert_eq!(k.state("vi1").as_deref(), Some(k_state), "{:?}", k.notify_lines());
    let s = status(&d);
    let vi = s.instance("vi1");
    // Every advert of keepalived's was accepted: nothing dropped but our own echoes.
    let dropped: Vec<_> =
        vi.counters.dropped.iter().filter(|(r, n)| *r != "own_packet" && **n > 0).collect();
    assert!(dropped.is_empty(), "directord dropped keepalived's adverts: {s:?}");
    if directord_high {
        // keepalived accepted ours: it stayed BACKUP through the window (above).
        assert!(vi.counters.adverts_sent > 0);
    } else {
        assert!(vi.counters.adverts_received > 0, "{s:?}");
        assert_eq!(vi.master.as_deref(), Some(addr(1).to_string().as_str()), "{s:?}");
    }
    // In unicast mode nothing goes to the multicast group.
    if uni {
        let to_group = |sn: &Sniffer| sn.packets().iter().any(|p| p.dst().is_multicast());
        assert!(!to_group(&sniff_d) && !to_group(&sniff_k), "multicast adverts in unicast mode");
    }

    // kill -9 the master: the other daemon takes over Master_Down_Interval after the
    // last advert it got.
    let killed = Instant::now();
    let (low, low_watch, low_sniff, master_addr) = if directord_high {
        d.kill(libc::SIGKILL).unwrap();
        (&ik, &wk, &sniff_k, addr(0))
    } else {
        k.kill(libc::SIGKILL).unwrap();
        (&id, &wd, &sniff_d, addr(1))
    };
    let took = low_watch.wait_change(VIP, true, killed, settle(low));
    let took = took.unwrap_or_else(|| {
        panic!("no takeover; keepalived:\n{}\ndirectord:\n{}", k.log(), d.log())
    });
    let last = low_sniff.last_from_before(master_addr, took).unwrap();
    let gap = took.saturating_duration_since(last.at);
    let (min, max) =
        (low.master_down() - Duration::from_millis(25), low.master_down() + slack(low));
    assert!(gap >= min && gap <= max, "last advert -> VIP {gap:?}, want {min:?}..{max:?}");
    if directord_high {
        assert!(wait_until(Duration::from_secs(2), || k.state("vi1").as_deref() == Some("MASTER")));
    } else {
        wait_state(&d, "MASTER", Duration::from_secs(1));
    }
}
