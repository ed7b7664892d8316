//! The VRRP side of the metrics endpoint: two directord in VRRPv3 at 100 ms, each
//! serving `director.metrics` on 127.0.0.1:9310 of its own namespace. A scrape of each
//! shows who is MASTER and BACKUP, the priorities, adverts sent by one and received by
//! the other, hostile packets from a third host counted by reason (as status counts
//! them), and the handover when the master stops.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::net::SocketAddr;
use std::time::Duration;

use netns_tests::{addr, settle, status, wait_state};
use testkit::directord::Directord;
use testkit::metrics::{scrape, value};
use testkit::netns::{netns_available, Lan, Netns};
use testkit::router::{Instance, Router, VIP};
use testkit::wait::wait_until;
use testkit::wire::{send_raw, VRRP_GROUP};
use vrrp::packet::{encode_ipv4, Advert, Auth, Version};

const METRICS: &str = "127.0.0.1:9310";

fn metrics_addr() -> SocketAddr {
    METRICS.parse().unwrap()
}

fn get(ns: &Netns) -> String {
    scrape(ns, metrics_addr()).unwrap_or_else(|e| panic!("scrape in {}: {e}", ns.name()))
}

fn vrrp(text: &str, name: &str) -> f64 {
    value(text, name, &[("vrrp_instance", "vi1")])
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

fn state(text: &str, state: &str) -> f64 {
    let labels = [("vrrp_instance", "vi1"), ("state", state)];
    value(text, "director_vrrp_state", &labels).unwrap_or_else(|| panic!("no state in:\n{text}"))
}

fn dropped(text: &str, reason: &str) -> f64 {
    let labels = [("vrrp_instance", "vi1"), ("reason", reason)];
    value(text, "director_vrrp_adverts_dropped_total", &labels)
        .unwrap_or_else(|| panic!("no {reason} drops in:\n{text}"))
}

fn unclaimed(text: &str, reason: &str) -> f64 {
    value(text, "director_vrrp_unclaimed_packets_dropped_total", &[("reason", reason)])
        .unwrap_or_else(|| panic!("no unclaimed {reason} in:\n{text}"))
}

/// Waits until a scrape of `ns` satisfies `cond`; that scrape.
fn wait_scrape(ns: &Netns, what: &str, cond: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    let ok = wait_until(Duration::from_secs(5), || {
        last = get(ns);
        cond(&last)
    });
    assert!(ok, "{what} not within 5 s; last scrape of {}:\n{last}", ns.name());
    last
}

#[test]
fn two_directord_show_their_roles_adverts_and_drops() {
    if !netns_available() {
        return;
    }
    let (high, low) = (Instance::v3(150, 100), Instance::v3(100, 100));
    let lan = Lan::new("mx", 3);
    let (ha, hb, attacker) = (&lan.hosts[0], &lan.hosts[1], &lan.hosts[2]);
    let mut a =
        Directord::start(ha, &Router::new("lb1", high.clone()).with_metrics(metrics_addr()))
            .unwrap();
    let b = Directord::start(hb, &Router::new("lb2", low.clone()).with_metrics(metrics_addr()))
        .unwrap();
    wait_state(&a, "MASTER", settle(&high));
    wait_state(&b, "BACKUP", settle(&low));

    // Roles, priorities and adverts: A sends, B receives; both agree with status.
    let sa = wait_scrape(ha, "A sending", |t| vrrp(t, "director_vrrp_adverts_sent_total") >= 5.0);
    let sb =
        wait_scrape(hb, "B hearing A", |t| vrrp(t, "director_vrrp_adverts_received_total") >= 5.0);
    assert_eq!((state(&sa, "MASTER"), state(&sa, "BACKUP")), (1.0, 0.0), "{sa}");
    assert_eq!((state(&sb, "MASTER"), state(&sb, "BACKUP")), (0.0, 1.0), "{sb}");
    assert_eq!(state(&sa, "FAULT") + state(&sa, "INIT"), 0.0);
    assert_eq!(vrrp(&sa, "director_vrrp_priority"), 150.0);
    assert_eq!(vrrp(&sb, "director_vrrp_priority"), 100.0);
    assert_eq!(vrrp(&sb, "director_vrrp_effective_priority"), 100.0);
    assert_eq!(vrrp(&sa, "director_vrrp_advert_interval_seconds"), 0.1);
    assert_eq!(vrrp(&sa, "director_vrrp_became_master_total"), 1.0);
    assert_eq!(vrrp(&sb, "director_vrrp_became_master_total"), 0.0);
    assert!(vrrp(&sa, "director_vrrp_transitions_total") >= 1.0, "{sa}");
    // A BACKUP sends nothing; the MASTER accepts no adverts (none come).
    assert_eq!(vrrp(&sb, "director_vrrp_adverts_sent_total"), 0.0);
    assert_eq!(vrrp(&sa, "director_vrrp_adverts_received_total"), 0.0);
    // The same counters as status, read a moment later (they only grow).
    let status_a = status(&a).instance("vi1").counters.clone();
    assert!(status_a.adverts_sent as f64 >= vrrp(&sa, "director_vrrp_adverts_sent_total"));
    let sa2 = get(ha);
    assert!(vrrp(&sa2, "director_vrrp_adverts_sent_total") >= status_a.adverts_sent as f64);
    // Without virtual servers there is no virtual-server part.
    assert!(!sa.contains("director_scrape_success{") && !sa.contains("director_real_server"));

    // Hostile packets from host 2: three with TTL 64 (vi1's, dropped as bad_ttl) and
    // three for VRID 52 (nobody's: unclaimed). Counted by both, changing nothing.
    let good = Advert {
        version: Version::V3,
        vrid: 51,
        priority: 254,
        interval_cs: 10,
        addresses: vec![VIP],
        auth: Auth::None,
    };
    let ttl64 = encode_ipv4(&good, addr(2), VRRP_GROUP, 64).unwrap();
    let vrid52 = encode_ipv4(&Advert { vrid: 52, ..good }, addr(2), VRRP_GROUP, 255).unwrap();
    let before: Vec<(f64, f64)> = [ha, hb]
        .iter()
        .map(|ns| get(ns))
        .map(|t| (dropped(&t, "bad_ttl"), unclaimed(&t, "unknown_vrid")))
        .collect();
    for _ in 0..3 {
        send_raw(attacker, "eth0", ttl64.clone()).unwrap();
        send_raw(attacker, "eth0", vrid52.clone()).unwrap();
    }
    for (ns, (ttl_before, vrid_before)) in [ha, hb].into_iter().zip(before) {
        wait_scrape(ns, "the hostile packets counted", |t| {
            dropped(t, "bad_ttl") >= ttl_before + 3.0
                && unclaimed(t, "unknown_vrid") >= vrid_before + 3.0
        });
        // No more than sent: a moment later the counts stay.
        std::thread::sleep(Duration::from_millis(50));
        let text = get(ns);
        assert_eq!(dropped(&text, "bad_ttl"), ttl_before + 3.0, "{text}");
        assert_eq!(unclaimed(&text, "unknown_vrid"), vrid_before + 3.0, "{text}");
        assert_eq!(dropped(&text, "auth_mismatch"), 0.0, "every reason is listed: {text}");
    }
    let sb = get(hb);
    let dropped_status = status(&b).instance("vi1").dropped("bad_ttl");
    assert_eq!(dropped(&sb, "bad_ttl"), dropped_status as f64);

    // A stops (priority 0): B takes over, and its scrape says so.
    let transitions = vrrp(&sb, "director_vrrp_transitions_total");
    a.kill(libc::SIGTERM).unwrap();
    assert!(a.wait_exit(Duration::from_secs(3)).is_some_and(|e| e.success()), "{}", a.log());
    let sb = wait_scrape(hb, "B MASTER", |t| state(t, "MASTER") == 1.0);
    assert_eq!(state(&sb, "BACKUP"), 0.0);
    assert_eq!(vrrp(&sb, "director_vrrp_became_master_total"), 1.0);
    assert!(vrrp(&sb, "director_vrrp_transitions_total") > transitions, "{sb}");
    let sent = vrrp(&sb, "director_vrrp_adverts_sent_total");
    wait_scrape(hb, "B sending", |t| vrrp(t, "director_vrrp_adverts_sent_total") > sent);
    // A's endpoint went with it.
    assert!(scrape(ha, metrics_addr()).is_err(), "A's endpoint outlived it");
}
