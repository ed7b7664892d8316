//! Startup: addresses a crashed run left behind, `initial_state: master`, and tracked
//! scripts that have not reported yet.

use std::time::{Duration, Instant};

use super::sim::Sim;
use super::{addr, instance, mdi, router};
use crate::machine::{
    Action, InitialState, Router, RouterConfig, ScriptConfig, State, TrackScript,
};

/// A's (priority 200, .1) and B's (100, .2) configurations.
fn configs(b: impl FnOnce(&mut crate::machine::InstanceConfig)) -> Vec<RouterConfig> {
    let mut second = instance("vi", 100, 2);
    b(&mut second);
    vec![router(vec![instance("vi", 200, 1)]), router(vec![second])]
}

fn adds(sim: &Sim, node: usize) -> usize {
    sim.actions(node, 0).iter().filter(|(_, a)| matches!(a, Action::AddAddresses { .. })).count()
}

#[test]
fn restart_after_a_crash_removes_the_leftover_vip() {
    let mut sim = Sim::new(configs(|_| {}));
    // B is MASTER alone, then dies without cleaning up (kill -9).
    sim.start(1);
    sim.run_until(sim.t(5.0));
    assert_eq!(sim.holders(addr(100)), vec![1]);
    sim.kill(1);
    sim.start(0);
    sim.run_until(sim.t(10.0));
    assert_eq!(sim.masters(0), vec![0]);
    // Back as BACKUP, B drops what the dead run left before anything else.
    sim.restart(1);
    assert_eq!(sim.holders(addr(100)), vec![0]);
    let restarted: Vec<Action> = sim.nodes[1]
        .log
        .iter()
        .filter(|(at, _)| *at == sim.t(10.0))
        .map(|(_, a)| a.clone())
        .collect();
    assert!(matches!(restarted[0], Action::RemoveAddresses { instance: 0, .. }));
    assert!(matches!(restarted[1], Action::Transition { to: State::Backup, .. }));
    sim.run_until(sim.t(20.0));
    assert_eq!(sim.holders(addr(100)), vec![0]);
}

#[test]
fn only_a_master_start_keeps_the_addresses() {
    let t0 = Instant::now();
    let start = |priority: u8, link_up: bool| {
        let mut r = Router::new(router(vec![instance("vi", priority, 1)])).expect("valid");
        r.set_link(t0, "eth0", link_up);
        r.start(t0);
        std::iter::from_fn(|| r.poll_action()).collect::<Vec<_>>()
    };
    let fault = start(100, false);
    assert!(matches!(fault[0], Action::RemoveAddresses { .. }));
    assert!(matches!(fault[1], Action::Transition { to: State::Fault, .. }));
    let owner = start(255, true);
    assert!(!owner.iter().any(|a| matches!(a, Action::RemoveAddresses { .. })));
}

#[test]
fn initial_state_master_waits_for_the_live_master() {
    let mut sim = Sim::new(configs(|b| b.initial_state = InitialState::Master));
    sim.start(0);
    sim.run_until(sim.t(10.0));
    assert_eq!(sim.masters(0), vec![0]);
    // B restarts while A is live: BACKUP at once, never the VIP, no GARP.
    sim.start(1);
    sim.run_until(sim.t(30.0));
    let (_, from, to, reason) = sim.transitions(1, 0)[0].clone();
    assert_eq!((from, to, reason.as_str()), (State::Init, State::Backup, "startup"));
    assert_eq!(sim.transitions(1, 0).len(), 1);
    assert_eq!(adds(&sim, 1), 0);
    assert_eq!(sim.holders(addr(100)), vec![0]);
    assert_eq!(sim.status(1, 0).master, Some(addr(1)));
}

#[test]
fn initial_state_master_preempts_like_a_backup() {
    let mut sim = Sim::new(configs(|b| {
        b.initial_state = InitialState::Master;
        // keepalived clears nopreempt and preempt_delay for state MASTER.
        b.preempt = false;
        b.preempt_delay = Duration::from_secs(30);
        b.priority = 250;
    }));
    sim.start(0);
    sim.run_until(sim.t(10.0));
    sim.start(1);
    sim.run_until(sim.t(20.0));
    // It preempts A (200) as any preempting BACKUP would: after its own interval.
    assert_eq!(sim.entered(1, 0, State::Master, sim.t0), Some(sim.t(10.0) + mdi(250, 100)));
    assert_eq!(sim.transitions(1, 0)[0].2, State::Backup);
    assert_eq!(sim.masters(0), vec![1]);
}

fn tracked(priority: u8, script: ScriptConfig) -> RouterConfig {
    let mut cfg = instance("vi", priority, 1);
    cfg.track_scripts = vec![TrackScript { name: script.name.clone(), weight: None }];
    RouterConfig { instances: vec![cfg], scripts: vec![script], sync_groups: Vec::new() }
}

fn script(weight: i32, rise: u32, fall: u32) -> ScriptConfig {
    ScriptConfig { name: "chk".to_string(), weight, rise, fall }
}

#[test]
fn weight_zero_script_holds_fault_until_its_first_result() {
    let mut sim =
        Sim::new(vec![tracked(150, script(0, 2, 2)), router(vec![instance("vi", 100, 2)])]);
    sim.start_all();
    sim.run_until(sim.t(10.0));
    let a = sim.status(0, 0);
    assert_eq!((a.state, a.faults), (State::Fault, vec!["chk".to_string()]));
    assert_eq!(sim.transitions(0, 0)[0].3, "script chk: no result yet");
    assert_eq!((sim.masters(0), adds(&sim, 0)), (vec![1], 0));
    // One success is enough to leave FAULT, whatever `rise` says.
    sim.with(0, |r, now| r.script_result(now, "chk", true));
    assert_eq!(sim.state(0, 0), State::Backup);
    sim.run_until(sim.t(20.0));
    assert_eq!(sim.entered(0, 0, State::Master, sim.t0), Some(sim.t(10.0) + mdi(150, 100)));
    // A first failure is a failure at once, whatever `fall` says.
    let mut sim = Sim::new(vec![tracked(150, script(0, 2, 2))]);
    sim.start_all();
    sim.with(0, |r, now| r.script_result(now, "chk", false));
    let a = sim.status(0, 0);
    assert_eq!((a.state, a.faults), (State::Fault, vec!["chk".to_string()]));
    assert_eq!(sim.transitions(0, 0).len(), 1);
}

#[test]
fn weighted_script_counts_from_its_first_result() {
    // Until the bonus script reports, A runs at 100 and B (120) wins.
    let mut sim =
        Sim::new(vec![tracked(100, script(60, 3, 3)), router(vec![instance("vi", 120, 2)])]);
    sim.start_all();
    sim.run_until(sim.t(10.0));
    assert_eq!(sim.status(0, 0).effective_priority, 100);
    assert_eq!(sim.masters(0), vec![1]);
    sim.with(0, |r, now| r.script_result(now, "chk", true));
    assert_eq!(sim.status(0, 0).effective_priority, 160, "rise 3, yet one success counts");
    sim.run_until(sim.t(20.0));
    assert_eq!(sim.masters(0), vec![0]);

    // A negative weight is not applied before the first result, then at once on a failure.
    let mut r = Router::new(tracked(100, script(-30, 3, 3))).expect("valid");
    let now = Instant::now();
    assert_eq!(r.status()[0].effective_priority, 100);
    r.script_result(now, "chk", false);
    assert_eq!(r.status()[0].effective_priority, 70, "fall 3, yet one failure counts");
    // From then on rise and fall count as usual.
    for _ in 0..2 {
        r.script_result(now, "chk", true);
    }
    assert_eq!(r.status()[0].effective_priority, 70);
    r.script_result(now, "chk", true);
    assert_eq!(r.status()[0].effective_priority, 100);
}
