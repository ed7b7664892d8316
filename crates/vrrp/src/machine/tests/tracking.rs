//! Tracked scripts and interfaces: priority weights, FAULT, and the failovers they cause.

use std::time::{Duration, Instant};

use super::sim::Sim;
use super::{instance, mdi, router, skew};
use crate::machine::{
    Action, Router, RouterConfig, ScriptConfig, State, TrackInterface, TrackScript,
};

const MS: Duration = Duration::from_millis(1);

fn script(name: &str, weight: i32, rise: u32, fall: u32) -> ScriptConfig {
    ScriptConfig { name: name.to_string(), weight, rise, fall }
}

fn track(name: &str, weight: Option<i32>) -> TrackScript {
    TrackScript { name: name.to_string(), weight }
}

fn track_if(name: &str, weight: i32) -> TrackInterface {
    TrackInterface { name: name.to_string(), weight }
}

fn effective(router: &Router) -> u8 {
    router.status()[0].effective_priority
}

#[test]
fn weights_add_up_and_clamp() {
    let mut cfg = instance("vi", 100, 1);
    cfg.track_interfaces = vec![track_if("eth1", -30), track_if("eth2", 20)];
    cfg.track_scripts = vec![track("chk", None), track("bonus", Some(200))];
    let config = RouterConfig {
        instances: vec![cfg],
        scripts: vec![script("chk", -50, 1, 1), script("bonus", 5, 1, 1)],
        sync_groups: Vec::new(),
    };
    let mut r = Router::new(config).expect("valid");
    let now = Instant::now();
    // Unknown interfaces are up: +20 for eth2; scripts count once they report.
    assert_eq!(effective(&r), 120);
    // The bonus script is OK: +200 (its own weight 5 is overridden) -> clamped to 254.
    r.script_result(now, "chk", true);
    r.script_result(now, "bonus", true);
    assert_eq!(effective(&r), 254);
    r.script_result(now, "bonus", false);
    assert_eq!(effective(&r), 120);
    r.set_link(now, "eth1", false);
    assert_eq!(effective(&r), 90);
    r.script_result(now, "chk", false);
    assert_eq!(effective(&r), 40);
    r.set_link(now, "eth2", false);
    assert_eq!(effective(&r), 20);
    r.set_link(now, "eth1", true);
    r.set_link(now, "eth2", true);
    assert_eq!(effective(&r), 70);

    let mut low = instance("vi", 10, 1);
    low.track_interfaces = vec![track_if("eth1", -60)];
    let mut r = Router::new(router(vec![low])).expect("valid");
    r.set_link(now, "eth1", false);
    assert_eq!(effective(&r), 1, "never below 1");
}

#[test]
fn owner_priority_is_never_adjusted() {
    let mut cfg = instance("vi", 255, 1);
    cfg.track_interfaces = vec![track_if("eth1", -100)];
    let mut r = Router::new(router(vec![cfg])).expect("valid");
    r.set_link(Instant::now(), "eth1", false);
    assert_eq!(effective(&r), 255);
}

#[test]
fn scripts_rise_and_fall_in_a_row() {
    let mut cfg = instance("vi", 100, 1);
    cfg.track_scripts = vec![track("chk", None)];
    let config = RouterConfig {
        instances: vec![cfg],
        scripts: vec![script("chk", -10, 2, 3)],
        sync_groups: Vec::new(),
    };
    let mut r = Router::new(config).expect("valid");
    let now = Instant::now();
    let mut report = |ok: bool| {
        r.script_result(now, "chk", ok);
        effective(&r)
    };
    // The first result counts at once; then two failures, a success (resets the run),
    // then three failures in a row.
    assert_eq!(report(true), 100);
    assert_eq!([false, false, true, false, false].map(&mut report), [100; 5]);
    assert_eq!(report(false), 90);
    // One success is not enough with rise 2; a failure in between restarts the count.
    assert_eq!([true, false, true].map(&mut report), [90; 3]);
    assert_eq!(report(true), 100);
    // Unknown scripts are ignored.
    r.script_result(now, "other", false);
    assert_eq!(effective(&r), 100);
}

#[test]
fn master_advertises_a_priority_change_at_once() {
    let mut cfg = instance("vi", 100, 1);
    cfg.track_interfaces = vec![track_if("eth1", -20)];
    let mut r = Router::new(router(vec![cfg])).expect("valid");
    let t0 = Instant::now();
    r.start(t0);
    r.handle_timeout(t0 + mdi(100, 100));
    while r.poll_action().is_some() {}
    assert_eq!(r.status()[0].state, State::Master);
    let later = t0 + mdi(100, 100) + Duration::from_millis(300);
    r.set_link(later, "eth1", false);
    match r.poll_action() {
        Some(Action::SendAdvert { advert, .. }) => assert_eq!(advert.priority, 80),
        other => panic!("expected an advert, got {other:?}"),
    }
    assert_eq!(r.poll_action(), None);
    // The advert timer restarts from the extra advert.
    assert_eq!(r.poll_timeout(), Some(later + Duration::from_secs(1)));
}

/// A (150, tracking `chk`) and B (100), started together; A is MASTER from
/// Master_Down_Interval(150).
fn tracked_pair(weight: i32, fall: u32) -> Sim {
    let mut a = instance("vi", 150, 1);
    a.track_scripts = vec![track("chk", None)];
    let a = RouterConfig {
        instances: vec![a],
        scripts: vec![script("chk", weight, 1, fall)],
        sync_groups: Vec::new(),
    };
    let mut sim = Sim::new(vec![a, router(vec![instance("vi", 100, 2)])]);
    sim.with(0, |r, now| r.script_result(now, "chk", true));
    sim.start_all();
    sim.run_until(sim.t(10.5));
    assert_eq!(sim.masters(0), vec![0]);
    sim
}

#[test]
fn failing_script_lowers_priority_and_fails_over() {
    let mut sim = tracked_pair(-60, 2);
    sim.with(0, |r, now| r.script_result(now, "chk", false));
    assert_eq!(sim.status(0, 0).effective_priority, 150, "fall 2: one failure is not enough");
    sim.run_until(sim.t(11.5));
    sim.with(0, |r, now| r.script_result(now, "chk", false));
    assert_eq!(sim.status(0, 0).effective_priority, 90);
    let (at, advert) = sim.sent(0, 0).pop().expect("advert");
    assert_eq!((at, advert.priority), (sim.t(11.5), 90));
    sim.run_until(sim.t(25.0));
    // B ignores the priority 90 advert, so it takes over one Master_Down_Interval after
    // the last advert it obeyed.
    let obeyed = sim.nodes[1].rx.iter().rfind(|d| d.priority == 150).expect("heard").at;
    let b_master = sim.entered(1, 0, State::Master, sim.t(10.5)).expect("B took over");
    assert_eq!(b_master, obeyed + mdi(100, 100));
    let a_backup = sim.entered(0, 0, State::Backup, sim.t(10.5)).expect("A gave way");
    assert!(a_backup <= b_master + MS);
    assert_eq!(sim.masters(0), vec![1]);

    // Recovered, A ignores B from now on and preempts when the timer set by the last
    // advert it obeyed runs out (its skew computed at priority 90, as keepalived).
    sim.with(0, |r, now| r.script_result(now, "chk", true));
    let obeyed = sim.last_accepted(0, 0, sim.t(25.0)).expect("heard B").at;
    sim.run_until(sim.t(40.0));
    assert_eq!(sim.entered(0, 0, State::Master, sim.t(25.0)), Some(obeyed + mdi(90, 100)));
    assert_eq!(sim.masters(0), vec![0]);
}

#[test]
fn weight_zero_script_means_fault() {
    let mut sim = tracked_pair(0, 1);
    sim.with(0, |r, now| r.script_result(now, "chk", false));
    let a = sim.status(0, 0);
    assert_eq!((a.state, a.faults.clone()), (State::Fault, vec!["chk".to_string()]));
    let (_, from, to, reason) = sim.transitions(0, 0).pop().expect("transition");
    assert_eq!((from, to, reason.as_str()), (State::Master, State::Fault, "script chk failed"));
    assert_eq!(sim.sent(0, 0).pop().expect("advert").1.priority, 0);
    sim.run_until(sim.t(20.0));
    let zero = sim.nodes[1].rx.iter().find(|d| d.priority == 0).expect("heard").at;
    assert_eq!(sim.entered(1, 0, State::Master, sim.t(10.5)), Some(zero + skew(100, 100)));
    // In FAULT A hears B (accepted and counted) and neither answers nor moves.
    let heard: Vec<_> = sim.nodes[0].rx.iter().filter(|d| d.at > sim.t(10.5)).collect();
    assert!(heard.len() >= 8 && heard.iter().all(|d| d.result == Ok(0)), "{heard:?}");
    assert_eq!(sim.sent(0, 0).last().expect("advert").0, sim.t(10.5));
    assert_eq!(sim.state(0, 0), State::Fault);

    sim.with(0, |r, now| r.script_result(now, "chk", true));
    assert_eq!(sim.state(0, 0), State::Backup);
    sim.run_until(sim.t(30.0));
    assert_eq!(sim.entered(0, 0, State::Master, sim.t(20.0)), Some(sim.t(20.0) + mdi(150, 100)));
    assert_eq!(sim.masters(0), vec![0]);
}

#[test]
fn own_interface_down_means_fault() {
    let mut sim = tracked_pair(-10, 1);
    sim.with(0, |r, now| r.set_link(now, "eth0", false));
    let a = sim.status(0, 0);
    assert_eq!((a.state, a.faults), (State::Fault, vec!["eth0".to_string()]));
    assert_eq!(sim.transitions(0, 0).pop().expect("transition").3, "link eth0 down");
    let log = &sim.nodes[0].log;
    assert!(matches!(log[log.len() - 2].1, Action::RemoveAddresses { .. }));
    sim.run_until(sim.t(20.0));
    assert_eq!(sim.masters(0), vec![1]);
    sim.with(0, |r, now| r.set_link(now, "eth0", true));
    sim.run_until(sim.t(30.0));
    assert_eq!(sim.entered(0, 0, State::Master, sim.t(20.0)), Some(sim.t(20.0) + mdi(150, 100)));
}

#[test]
fn faulty_at_start_and_owner_recovers_to_master() {
    let mut cfg = instance("vi", 255, 1);
    cfg.track_interfaces = vec![track_if("eth1", 0)];
    let mut r = Router::new(router(vec![cfg])).expect("valid");
    let t0 = Instant::now();
    r.set_link(t0, "eth1", false);
    r.start(t0);
    assert_eq!(r.status()[0].state, State::Fault);
    assert_eq!(r.poll_timeout(), None, "no timers in FAULT");
    r.set_link(t0 + MS, "eth1", true);
    assert_eq!(r.status()[0].state, State::Master);
}

#[test]
fn a_virtual_address_device_down_means_fault_unless_weighted() {
    let mut cfg = instance("vi", 150, 1);
    cfg.virtual_addresses[0].dev = Some("eth1".to_string());
    let t0 = Instant::now();
    let mut r = Router::new(router(vec![cfg.clone()])).expect("valid");
    r.start(t0);
    r.set_link(t0, "eth1", false);
    assert_eq!(r.status()[0].state, State::Fault);
    assert_eq!(r.status()[0].faults, ["eth1"]);
    r.set_link(t0, "eth1", true);
    assert_eq!(r.status()[0].state, State::Backup);

    // Tracked with a weight of its own, the device lowers the priority instead.
    cfg.track_interfaces = vec![track_if("eth1", -20)];
    let mut r = Router::new(router(vec![cfg])).expect("valid");
    r.start(t0);
    r.set_link(t0, "eth1", false);
    assert_eq!((r.status()[0].state, effective(&r)), (State::Backup, 130));
}
