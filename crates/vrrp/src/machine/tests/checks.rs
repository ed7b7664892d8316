//! Advert checks, drop counting, configuration errors and shutdown, on one router.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::{addr, instance, mdi, router, vip};
use crate::counters::DropReason;
use crate::machine::{
    Action, ConfigError, InstanceConfig, Router, RouterConfig, ScriptConfig, State,
    SyncGroupConfig, TrackScript, VirtualAddress,
};
use crate::packet::{Advert, Auth, Received, Version, VRRP_MCAST_V4, VRRP_TTL};

fn advert(priority: u8) -> Advert {
    Advert {
        version: Version::V3,
        vrid: 1,
        priority,
        interval_cs: 100,
        addresses: vec![addr(100)],
        auth: Auth::None,
    }
}

fn from(host: u8, advert: Advert) -> Received {
    Received { src: addr(host), dst: VRRP_MCAST_V4, ttl: VRRP_TTL, advert }
}

fn started(cfg: InstanceConfig, t0: Instant) -> Router {
    let mut r = Router::new(router(vec![cfg])).expect("valid");
    r.start(t0);
    while r.poll_action().is_some() {}
    r
}

/// Started alone and MASTER once its Master_Down_Interval ran out; returns that instant.
fn mastered(cfg: InstanceConfig) -> (Router, Instant) {
    let t0 = Instant::now();
    let down = t0 + mdi(cfg.priority, 100);
    let mut r = started(cfg, t0);
    r.handle_timeout(down);
    while r.poll_action().is_some() {}
    assert_eq!(r.status()[0].state, State::Master);
    (r, down)
}

fn actions(r: &mut Router) -> Vec<Action> {
    std::iter::from_fn(|| r.poll_action()).collect()
}

/// Each bad advert is dropped with its reason, counted, and changes nothing.
fn assert_dropped(r: &mut Router, now: Instant, received: Received, reason: DropReason) {
    let (state, timeout) = (r.status()[0].state, r.poll_timeout());
    let before = r.status()[0].counters.dropped.get(&reason).copied().unwrap_or(0);
    assert_eq!(r.handle_advert(now, "eth0", &received), Err(reason));
    let status = &r.status()[0];
    assert_eq!(status.counters.dropped.get(&reason).copied(), Some(before + 1));
    assert_eq!((status.state, r.poll_timeout()), (state, timeout));
    assert_eq!(actions(r), vec![]);
}

#[test]
fn bad_adverts_change_nothing_in_backup() {
    let t0 = Instant::now();
    let mut r = started(instance("vi", 100, 1), t0);
    let now = t0 + Duration::from_millis(500);
    let mut v2 = advert(200);
    v2.version = Version::V2;
    assert_dropped(&mut r, now, from(2, v2), DropReason::VersionMismatch);
    let mut other = advert(200);
    other.addresses = vec![addr(101)];
    assert_dropped(&mut r, now, from(2, other), DropReason::AddressMismatch);
    let mut extra = advert(0);
    extra.addresses.push(addr(101));
    assert_dropped(&mut r, now, from(2, extra), DropReason::AddressMismatch);
    assert_dropped(&mut r, now, from(1, advert(200)), DropReason::OwnPacket);
    assert_eq!(r.status()[0].counters.adverts_received, 0);
    assert_eq!(r.status()[0].counters.dropped_total(), 4);
    // The same addresses in another order are the same set.
    let mut cfg = instance("vi", 100, 1);
    cfg.virtual_addresses = vec![vip(100), vip(101)];
    let mut r = started(cfg, t0);
    let mut reordered = advert(200);
    reordered.addresses = vec![addr(101), addr(100)];
    assert_eq!(r.handle_advert(now, "eth0", &from(2, reordered)), Ok(0));
    assert_eq!(r.poll_timeout(), Some(now + mdi(100, 100)));
}

#[test]
fn v2_auth_and_interval_are_checked() {
    let t0 = Instant::now();
    let mut cfg = instance("vi", 100, 1);
    cfg.version = Version::V2;
    cfg.auth = Auth::Pass(*b"secret\0\0");
    let mut r = started(cfg, t0);
    let v2 = |auth, interval_cs| Advert { version: Version::V2, auth, interval_cs, ..advert(200) };
    let now = t0 + Duration::from_millis(10);
    assert_dropped(
        &mut r,
        now,
        from(2, v2(Auth::Pass(*b"other\0\0\0"), 100)),
        DropReason::AuthMismatch,
    );
    assert_dropped(&mut r, now, from(2, v2(Auth::None, 100)), DropReason::AuthMismatch);
    let pass = Auth::Pass(*b"secret\0\0");
    assert_dropped(&mut r, now, from(2, v2(pass, 200)), DropReason::IntervalMismatch);
    assert_eq!(r.handle_advert(now, "eth0", &from(2, v2(pass, 100))), Ok(0));
    assert_eq!(r.status()[0].master, Some(addr(2)));
}

#[test]
fn a_master_is_not_demoted_by_a_bad_advert() {
    let (mut r, t0) = mastered(instance("vi", 100, 1));
    let mut bad = advert(254);
    bad.addresses = vec![];
    assert_dropped(&mut r, t0, from(2, bad), DropReason::AddressMismatch);
    assert_eq!(r.status()[0].state, State::Master);
}

#[test]
fn unknown_vrid_and_driver_drops() {
    let t0 = Instant::now();
    let mut r = started(instance("vi", 100, 1), t0);
    let mut seven = advert(200);
    seven.vrid = 7;
    assert_eq!(r.handle_advert(t0, "eth0", &from(2, seven)), Err(DropReason::UnknownVrid));
    assert_eq!(r.handle_advert(t0, "eth1", &from(2, advert(200))), Err(DropReason::UnknownVrid));
    assert_eq!(r.unclaimed_drops().dropped.get(&DropReason::UnknownVrid), Some(&2));
    assert_eq!(r.status()[0].counters.dropped_total(), 0);

    r.count_drop("eth0", Some(1), DropReason::BadChecksum);
    r.count_drop("eth0", Some(9), DropReason::BadChecksum);
    r.count_drop("eth0", None, DropReason::Truncated);
    assert_eq!(r.status()[0].counters.dropped.get(&DropReason::BadChecksum), Some(&1));
    assert_eq!(r.unclaimed_drops().dropped.get(&DropReason::BadChecksum), Some(&1));
    assert_eq!(r.unclaimed_drops().dropped_total(), 4);
    r.count_sent(0);
    r.count_sent(5);
    assert_eq!(r.status()[0].counters.adverts_sent, 1);
}

#[test]
fn master_answers_priority_zero_and_lower_priority_at_once() {
    let (mut r, t0) = mastered(instance("vi", 100, 1));
    for (k, priority) in [0u8, 50, 100].into_iter().enumerate() {
        // 100 from a lower address loses the tie.
        let now = t0 + Duration::from_millis(100 * (k as u64 + 1));
        let host = if priority == 100 { 0 } else { 2 };
        assert_eq!(r.handle_advert(now, "eth0", &from(host, advert(priority))), Ok(0));
        match actions(&mut r).as_slice() {
            [Action::SendAdvert { advert, .. }] => assert_eq!(advert.priority, 100),
            other => panic!("{other:?}"),
        }
        assert_eq!(r.poll_timeout(), Some(now + Duration::from_secs(1)));
    }
    assert_eq!(r.status()[0].state, State::Master);
    // A higher priority demotes it: addresses go, then the transition is reported.
    let now = t0 + Duration::from_secs(2);
    let mut fast = advert(101);
    fast.interval_cs = 50;
    assert_eq!(r.handle_advert(now, "eth0", &from(2, fast)), Ok(0));
    let acts = actions(&mut r);
    assert!(matches!(acts[0], Action::RemoveAddresses { .. }));
    assert!(matches!(&acts[1], Action::Transition { to: State::Backup, reason, .. }
        if reason == "higher priority advert from 192.0.2.2 (prio 101)"));
    assert_eq!(acts.len(), 2);
    let status = &r.status()[0];
    assert_eq!((status.master, status.advert_interval_cs), (Some(addr(2)), 50));
    assert_eq!(r.poll_timeout(), Some(now + mdi(100, 50)));
}

#[test]
fn before_start_nothing_runs() {
    let t0 = Instant::now();
    let mut r = Router::new(router(vec![instance("vi", 100, 1)])).expect("valid");
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(r.handle_advert(t0, "eth0", &from(2, advert(50))), Ok(0));
    r.handle_timeout(t0 + Duration::from_secs(100));
    r.shutdown(t0);
    assert_eq!(r.poll_action(), None);
    assert_eq!(r.status()[0].state, State::Init);
    r.start(t0);
    assert_eq!(r.status()[0].state, State::Backup);
    assert_eq!(r.poll_timeout(), Some(t0 + mdi(100, 100)));
}

#[test]
fn shutdown_stops_everything() {
    let t0 = Instant::now();
    // The address owner is MASTER from the start.
    let master = instance("a", 255, 1);
    let mut backup = instance("b", 100, 1);
    backup.vrid = 2;
    let mut config = router(vec![master, backup]);
    config.sync_groups = vec![SyncGroupConfig {
        name: "g".to_string(),
        instances: vec!["b".to_string()],
        tracking_weight: false,
    }];
    let mut r = Router::new(config).expect("valid");
    r.start(t0);
    actions(&mut r);
    r.shutdown(t0 + Duration::from_secs(1));
    let acts = actions(&mut r);
    assert!(matches!(&acts[0], Action::SendAdvert { instance: 0, advert } if advert.priority == 0));
    assert!(matches!(acts[1], Action::RemoveAddresses { instance: 0, .. }));
    let stop = |i| Action::Transition {
        instance: i,
        from: if i == 0 { State::Master } else { State::Backup },
        to: State::Init,
        priority: if i == 0 { 255 } else { 100 },
        reason: "shutdown".to_string(),
        stopping: true,
    };
    assert_eq!(
        acts[2..],
        [stop(0), stop(1), Action::GroupTransition { group: 0, to: State::Init, stopping: true }]
    );
    assert_eq!(r.poll_timeout(), None);
    assert!(r.status().iter().all(|s| s.state == State::Init));
}

#[test]
fn config_errors() {
    let err = |config: RouterConfig| Router::new(config).expect_err("invalid");
    let with = |f: fn(&mut InstanceConfig)| {
        let mut cfg = instance("vi", 100, 1);
        f(&mut cfg);
        err(router(vec![cfg]))
    };
    assert!(matches!(with(|c| c.priority = 0), ConfigError::ZeroPriority(_)));
    assert!(matches!(with(|c| c.vrid = 0), ConfigError::ZeroVrid(_)));
    assert!(matches!(with(|c| c.advert_interval_cs = 0), ConfigError::IntervalOutOfRange { .. }));
    assert!(matches!(
        with(|c| c.advert_interval_cs = 4096),
        ConfigError::IntervalOutOfRange { .. }
    ));
    fn v2(c: &mut InstanceConfig, cs: u16) {
        c.version = Version::V2;
        c.advert_interval_cs = cs;
    }
    assert!(matches!(with(|c| v2(c, 150)), ConfigError::IntervalOutOfRange { .. }));
    assert!(matches!(with(|c| v2(c, 25_600)), ConfigError::IntervalOutOfRange { .. }));
    assert!(Router::new(router(vec![{
        let mut c = instance("vi", 100, 1);
        v2(&mut c, 25_500);
        c
    }]))
    .is_ok());
    assert!(matches!(with(|c| c.auth = Auth::Pass([1; 8])), ConfigError::AuthWithV3(_)));
    let track = |c: &mut InstanceConfig| {
        c.track_scripts = vec![TrackScript { name: "nope".to_string(), weight: None }];
    };
    assert!(matches!(with(track), ConfigError::UnknownScript { .. }));

    // An advert carries at most 255 addresses.
    let many = |count: u32| {
        let mut c = instance("vi", 100, 1);
        c.virtual_addresses = (0..count)
            .map(|k| VirtualAddress {
                address: Ipv4Addr::from(0x0A00_0000 + k),
                prefix_len: 32,
                dev: None,
                label: None,
            })
            .collect();
        router(vec![c])
    };
    assert_eq!(
        err(many(256)),
        ConfigError::TooManyAddresses { instance: "vi".to_string(), count: 256 }
    );
    assert!(Router::new(many(255)).is_ok());

    let two = |b: InstanceConfig| router(vec![instance("a", 100, 1), b]);
    assert!(matches!(err(two(instance("a", 100, 1))), ConfigError::DuplicateInstance(_)));
    assert!(matches!(err(two(instance("b", 100, 1))), ConfigError::DuplicateVrid { .. }));
    let mut other_if = instance("b", 100, 1);
    other_if.interface = "eth1".to_string();
    assert!(Router::new(two(other_if)).is_ok());

    let script = ScriptConfig { name: "s".to_string(), weight: 0, rise: 1, fall: 1 };
    let mut config = router(vec![instance("a", 100, 1)]);
    config.scripts = vec![script.clone(), script];
    assert!(matches!(err(config), ConfigError::DuplicateScript(_)));

    let group = |members: &[&str]| SyncGroupConfig {
        name: "g".to_string(),
        instances: members.iter().map(|m| m.to_string()).collect(),
        tracking_weight: false,
    };
    let mut config = router(vec![instance("a", 100, 1)]);
    config.sync_groups = vec![group(&["a", "x"])];
    assert!(matches!(err(config.clone()), ConfigError::UnknownGroupMember { .. }));
    config.sync_groups = vec![group(&["a"]), group(&["a"])];
    assert!(matches!(err(config.clone()), ConfigError::DuplicateGroupMember { .. }));
    config.sync_groups = vec![group(&["a", "a"])];
    assert!(matches!(err(config), ConfigError::DuplicateGroupMember { .. }));
}
