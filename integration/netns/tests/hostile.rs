//! Hostile adverts from a third host on the LAN, sent with a raw IP_HDRINCL socket:
//! each is built with the codec (`vrrp::packet::encode_ipv4`) with priority 254, so
//! that accepting it would move the VIP, then broken in one way. Both directors must
//! drop every copy, count it under the right reason in `directorctl status`, and
//! change nothing: same states, no transition, no VIP event on either host.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use netns_tests::{addr, case, settle, status, wait_state};
use testkit::addrwatch::AddrWatch;
use testkit::directord::{Directord, Status};
use testkit::netns::{netns_available, Lan};
use testkit::router::{Instance, Router, VIP};
use testkit::wait::wait_until;
use testkit::wire::{send_raw, VRRP_GROUP};
use vrrp::packet::{encode_ipv4, Advert, Auth, Version};

/// Copies of each hostile packet sent.
const COPIES: u64 = 3;

/// Where a drop is counted: on instance vi1, or as unclaimed (no instance).
#[derive(Debug, Clone, Copy)]
enum Counted {
    Instance(&'static str),
    Unclaimed(&'static str),
}

#[test]
fn hostile_adverts_are_dropped_counted_and_change_nothing() {
    if !netns_available() {
        return;
    }
    netns_tests::run_parallel(vec![
        case("v2 PASS", || scenario("hov2", Instance::v2(150, 1), Instance::v2(100, 1))),
        case("v3", || scenario("hov3", Instance::v3(150, 100), Instance::v3(100, 100))),
    ]);
}

fn pass(password: &str) -> Auth {
    let mut data = [0u8; 8];
    data[..password.len()].copy_from_slice(password.as_bytes());
    Auth::Pass(data)
}

/// A well-formed advert from host 2 for `i`'s router, priority 254.
fn advert(i: &Instance) -> Advert {
    let (version, auth) = match i.version {
        2 => (Version::V2, pass("1111")),
        _ => (Version::V3, Auth::None),
    };
    Advert {
        version,
        vrid: i.vrid,
        priority: 254,
        interval_cs: (i.advert.as_millis() / 10) as u16,
        addresses: vec![VIP],
        auth,
    }
}

fn encode(a: &Advert, ttl: u8) -> Vec<u8> {
    encode_ipv4(a, addr(2), VRRP_GROUP, ttl).unwrap()
}

/// The hostile packets for `i`: (what, datagram, where it must be counted).
fn hostile(i: &Instance) -> Vec<(&'static str, Vec<u8>, Counted)> {
    let good = advert(i);
    let mut out = vec![
        (
            "VRID 52",
            encode(&Advert { vrid: 52, ..good.clone() }, 255),
            Counted::Unclaimed("unknown_vrid"),
        ),
        ("TTL 64", encode(&good, 64), Counted::Instance("bad_ttl")),
    ];
    let mut bad_sum = encode(&good, 255);
    bad_sum[20 + 6] ^= 0xff;
    out.push(("bad checksum", bad_sum, Counted::Instance("bad_checksum")));
    // Too short to hold a VRID: nobody can claim it.
    let whole = encode(&good, 255);
    out.push(("1 byte of VRRP", whole[..21].to_vec(), Counted::Unclaimed("truncated")));
    // Its VRID is readable (vi1's), the rest of the 8-byte header is not there.
    out.push(("6 bytes of VRRP", whole[..26].to_vec(), Counted::Instance("truncated")));
    if i.version == 2 {
        let wrong = Advert { auth: pass("2222"), ..good.clone() };
        out.push(("wrong password", encode(&wrong, 255), Counted::Instance("auth_mismatch")));
        let none = Advert { auth: Auth::None, ..good.clone() };
        out.push(("no authentication", encode(&none, 255), Counted::Instance("auth_mismatch")));
        let slow = Advert { interval_cs: 300, ..good.clone() };
        out.push(("interval 3 s", encode(&slow, 255), Counted::Instance("interval_mismatch")));
    } else {
        let v2 =
            Advert { version: Version::V2, auth: Auth::None, interval_cs: 100, ..good.clone() };
        out.push(("a VRRPv2 advert", encode(&v2, 255), Counted::Instance("version_mismatch")));
        let mut v4 = encode(&good, 255);
        v4[20] = 0x41; // version 4, type 1
        out.push(("version 4", v4, Counted::Instance("bad_version")));
        let mut t2 = encode(&good, 255);
        t2[20] = 0x32; // version 3, type 2
        out.push(("type 2", t2, Counted::Instance("bad_type")));
    }
    out
}

fn count(s: &Status, c: Counted) -> u64 {
    match c {
        Counted::Instance(r) => s.instance("vi1").dropped(r),
        Counted::Unclaimed(r) => s.unclaimed(r),
    }
}

/// A (150) and B (100) elected, host 2 the attacker.
fn scenario(prefix: &str, high: Instance, low: Instance) {
    let lan = Lan::new(prefix, 3);
    let (ha, hb, attacker) = (&lan.hosts[0], &lan.hosts[1], &lan.hosts[2]);
    let a = Directord::start(ha, &Router::new("lb1", high.clone())).unwrap();
    let b = Directord::start(hb, &Router::new("lb2", low.clone())).unwrap();
    wait_state(&a, "MASTER", settle(&high));
    wait_state(&b, "BACKUP", settle(&low));
    let (wa, wb) = (AddrWatch::start(ha, "eth0").unwrap(), AddrWatch::start(hb, "eth0").unwrap());
    let started = Instant::now();
    let directors = [&a, &b];
    let before: Vec<Status> = directors.iter().map(|d| status(d)).collect();

    for (what, datagram, counted) in hostile(&high) {
        let was: Vec<u64> = directors.iter().map(|d| count(&status(d), counted)).collect();
        for _ in 0..COPIES {
            send_raw(attacker, "eth0", datagram.clone()).unwrap();
        }
        for (d, was) in directors.iter().zip(&was) {
            let want = was + COPIES;
            let reached = wait_until(Duration::from_secs(2), || count(&status(d), counted) >= want);
            std::thread::sleep(Duration::from_millis(50));
            let s = status(d);
            assert!(
                reached && count(&s, counted) == want,
                "{what}: {counted:?} != {want} on {}: {s:?}",
                s.director.id
            );
        }
    }

    // Nothing changed: no VIP event, same states, no transitions, B still follows A.
    std::thread::sleep(high.master_down());
    let after: Vec<Status> = directors.iter().map(|d| status(d)).collect();
    for (x, y) in before.iter().zip(&after) {
        let (i, j) = (x.instance("vi1"), y.instance("vi1"));
        assert_eq!((&i.state, i.counters.transitions), (&j.state, j.counters.transitions), "{y:?}");
        assert!(j.counters.adverts_received >= i.counters.adverts_received);
    }
    assert_eq!(after[1].instance("vi1").master.as_deref(), Some(addr(0).to_string().as_str()));
    let moved = |w: &AddrWatch| w.events().iter().filter(|e| e.at >= started).count();
    assert_eq!((moved(&wa), moved(&wb)), (0, 0), "the VIP moved");
    assert!(ha.has_address("eth0", VIP) && !hb.has_address("eth0", VIP));
}
