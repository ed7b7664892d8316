//! Sync groups: members move together and one fault faults them all.

use std::time::{Duration, Instant};

use super::sim::Sim;
use super::{addr, instance, mdi, skew};
use crate::machine::{Action, InstanceConfig, Router, RouterConfig, State, SyncGroupConfig};
use crate::packet::{Advert, Auth, Received, Version, VRRP_MCAST_V4, VRRP_TTL};

/// Two instances in group VG_1: "a" on eth0 VRID 1, "b" on eth1 VRID 2.
fn grouped(a: u8, b: u8, host: u8) -> RouterConfig {
    let mut second: InstanceConfig = instance("b", b, host);
    second.interface = "eth1".to_string();
    second.vrid = 2;
    RouterConfig {
        instances: vec![instance("a", a, host), second],
        scripts: Vec::new(),
        sync_groups: vec![SyncGroupConfig {
            name: "VG_1".to_string(),
            instances: vec!["a".to_string(), "b".to_string()],
            tracking_weight: false,
        }],
    }
}

fn drain(r: &mut Router) -> Vec<Action> {
    std::iter::from_fn(|| r.poll_action()).collect()
}

fn group_transitions(actions: &[Action]) -> Vec<State> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::GroupTransition { to, .. } => Some(*to),
            _ => None,
        })
        .collect()
}

fn states(r: &Router) -> Vec<State> {
    r.status().iter().map(|s| s.state).collect()
}

#[test]
fn members_move_together_on_one_router() {
    let t0 = Instant::now();
    let mut r = Router::new(grouped(200, 100, 1)).expect("valid");
    r.start(t0);
    assert_eq!(group_transitions(&drain(&mut r)), vec![State::Backup]);

    // "a" times out first but waits for "b": the group goes MASTER only when every
    // member wants it (keepalived prefers BACKUP to thrashing).
    let first = t0 + mdi(200, 100);
    assert_eq!(r.poll_timeout(), Some(first));
    r.handle_timeout(first);
    assert_eq!((states(&r), drain(&mut r)), (vec![State::Backup, State::Backup], vec![]));
    let down = t0 + mdi(100, 100);
    assert_eq!(r.poll_timeout(), Some(down));
    r.handle_timeout(down);
    let acts = drain(&mut r);
    assert_eq!(states(&r), vec![State::Master, State::Master]);
    assert!(acts.iter().any(|a| matches!(a, Action::Transition { instance: 0, reason, .. }
        if reason == "sync group VG_1: member b became MASTER")));
    assert_eq!(group_transitions(&acts), vec![State::Master]);

    // A better master for "b" sends both back.
    let better = Advert {
        version: Version::V3,
        vrid: 2,
        priority: 150,
        interval_cs: 100,
        addresses: vec![addr(100)],
        auth: Auth::None,
    };
    let rx = Received { src: addr(2), dst: VRRP_MCAST_V4, ttl: VRRP_TTL, advert: better };
    let now = down + Duration::from_millis(1500);
    assert_eq!(r.handle_advert(now, "eth1", &rx), Ok(1));
    let acts = drain(&mut r);
    assert_eq!(states(&r), vec![State::Backup, State::Backup]);
    assert_eq!(group_transitions(&acts), vec![State::Backup]);
    assert_eq!(acts.iter().filter(|a| matches!(a, Action::RemoveAddresses { .. })).count(), 2);

    // One member's link fault faults both, until it clears.
    r.set_link(now, "eth1", false);
    let acts = drain(&mut r);
    assert_eq!(states(&r), vec![State::Fault, State::Fault]);
    assert_eq!(group_transitions(&acts), vec![State::Fault]);
    let status = r.status();
    assert_eq!((status[0].faults.len(), status[1].faults.clone()), (0, vec!["eth1".to_string()]));
    assert!(matches!(&acts[0], Action::Transition { instance: 0, reason, .. }
        if reason == "sync group VG_1: b FAULT"));
    assert_eq!(r.poll_timeout(), None);
    r.set_link(now, "eth1", true);
    assert_eq!(states(&r), vec![State::Backup, State::Backup]);
    assert_eq!(group_transitions(&drain(&mut r)), vec![State::Backup]);
}

#[test]
fn group_fails_over_between_routers() {
    let mut sim = Sim::new(vec![grouped(200, 150, 1), grouped(100, 100, 2)]);
    sim.start_all();
    sim.run_until(sim.t(10.5));
    // "a" of A timed out first and waited for "b" (150); then both went.
    let together = sim.t0 + mdi(150, 100);
    assert_eq!(sim.entered(0, 0, State::Master, sim.t0), Some(together));
    assert_eq!(sim.entered(0, 1, State::Master, sim.t0), Some(together));
    assert_eq!((sim.masters(0), sim.masters(1)), (vec![0], vec![0]));

    // A fault on A's eth1 faults A's whole group; B hears priority 0 on both.
    sim.with(0, |r, now| r.set_link(now, "eth1", false));
    assert_eq!((sim.state(0, 0), sim.state(0, 1)), (State::Fault, State::Fault));
    sim.run_until(sim.t(20.0));
    let zero = |i| {
        let heard = sim.nodes[1].rx.iter().find(|d| d.priority == 0 && d.result == Ok(i));
        heard.expect("priority 0 heard").at + skew(100, 100)
    };
    // The member whose skew ran out last took the other along.
    for i in 0..2 {
        assert_eq!(sim.entered(1, i, State::Master, sim.t(10.5)), Some(zero(0).max(zero(1))));
    }
    assert_eq!((sim.masters(0), sim.masters(1)), (vec![1], vec![1]));

    // Cleared, A's group comes back as BACKUP and preempts together.
    sim.with(0, |r, now| r.set_link(now, "eth1", true));
    sim.run_until(sim.t(30.0));
    let back = sim.t(20.0) + mdi(150, 100);
    assert_eq!(sim.entered(0, 0, State::Master, sim.t(20.0)), Some(back));
    assert_eq!(sim.entered(0, 1, State::Master, sim.t(20.0)), Some(back));
    assert_eq!((sim.masters(0), sim.masters(1)), (vec![0], vec![0]));
}

/// Only "b" (eth1, VRID 2) of the group, at `priority`.
fn lone_b(priority: u8, host: u8) -> RouterConfig {
    let mut config = grouped(priority, priority, host);
    config.instances.remove(0);
    config.sync_groups.clear();
    config
}

#[test]
fn member_hearing_a_better_master_never_goes_master() {
    // X runs group {a, b} at 100; Y runs only b, at 200. X's "a" hears nobody, so its
    // timer keeps running out, but "b" obeys Y: the group must stay BACKUP.
    let mut sim = Sim::new(vec![grouped(100, 100, 1), lone_b(200, 2)]);
    sim.start_all();
    sim.run_until(sim.t(60.0));
    for i in 0..2 {
        let moves = sim.transitions(0, i);
        assert_eq!(moves.len(), 1, "X member {i} moved: {moves:?}");
        assert_eq!(moves[0].2, State::Backup);
    }
    assert_eq!(sim.holders(addr(100)), vec![1]);
    assert_eq!(sim.state(1, 0), State::Master);

    // Y dies: X's "b" times out too, and the group goes MASTER as one.
    sim.kill(1);
    sim.run_until(sim.t(70.0));
    let last = sim.last_accepted(0, 1, sim.t(60.0)).expect("X heard Y").at;
    let takeover = last + mdi(100, 100);
    assert_eq!(sim.entered(0, 1, State::Master, sim.t0), Some(takeover));
    assert_eq!(sim.entered(0, 0, State::Master, sim.t0), Some(takeover));
}

#[test]
fn group_fails_over_together_when_the_peer_dies() {
    let mut sim = Sim::new(vec![grouped(200, 200, 1), grouped(100, 100, 2)]);
    sim.start_all();
    sim.run_until(sim.t(10.5));
    assert_eq!((sim.masters(0), sim.masters(1)), (vec![0], vec![0]));
    sim.kill(0);
    sim.run_until(sim.t(20.0));
    // Each member's timer runs from the last advert it heard; the group moves when the
    // later one runs out, both members at that instant.
    let down = |i| sim.last_accepted(1, i, sim.t(10.5)).expect("B heard A").at + mdi(100, 100);
    let takeover = down(0).max(down(1));
    assert_eq!(sim.entered(1, 0, State::Master, sim.t0), Some(takeover));
    assert_eq!(sim.entered(1, 1, State::Master, sim.t0), Some(takeover));
    assert_eq!((sim.masters(0), sim.masters(1)), (vec![1], vec![1]));
    assert_eq!(sim.holders(addr(100)), vec![1]);
}

#[test]
fn an_owner_in_a_group_waits_for_the_other_members() {
    // keepalived starts a group MASTER only if every member owns its addresses.
    let t0 = Instant::now();
    let mut r = Router::new(grouped(255, 100, 1)).expect("valid");
    r.start(t0);
    drain(&mut r);
    assert_eq!(states(&r), vec![State::Backup, State::Backup]);
    assert_eq!(
        r.status()[0].counters.transitions,
        1,
        "the owner started BACKUP with its group, not MASTER"
    );
    r.handle_timeout(t0 + mdi(255, 100));
    assert_eq!(states(&r), vec![State::Backup, State::Backup]);
    r.handle_timeout(t0 + mdi(100, 100));
    assert_eq!(states(&r), vec![State::Master, State::Master]);
    // Out of FAULT they come back the same way.
    let now = t0 + Duration::from_secs(10);
    r.set_link(now, "eth1", false);
    r.set_link(now, "eth1", true);
    assert_eq!(states(&r), vec![State::Backup, State::Backup]);
    let mut all_owners = Router::new(grouped(255, 255, 1)).expect("valid");
    all_owners.start(t0);
    assert_eq!(states(&all_owners), vec![State::Master, State::Master]);
}

#[test]
fn member_weights_are_ignored_unless_the_group_tracks_weights() {
    let weighted = |tracking_weight: bool| {
        let mut config = grouped(200, 200, 1);
        config.instances[1].track_interfaces =
            vec![crate::machine::TrackInterface { name: "eth9".to_string(), weight: -60 }];
        config.sync_groups[0].tracking_weight = tracking_weight;
        let t0 = Instant::now();
        let mut r = Router::new(config).expect("valid");
        r.start(t0);
        r.set_link(t0, "eth9", false);
        drain(&mut r);
        r
    };
    // keepalived's default: the weight is dropped, the failure faults the whole group
    // rather than splitting it by one member's priority.
    let r = weighted(false);
    assert_eq!(states(&r), vec![State::Fault, State::Fault]);
    assert_eq!(r.status()[1].effective_priority, 200);
    // sync_group_tracking_weight: the weight applies and nothing faults.
    let r = weighted(true);
    assert_eq!(states(&r), vec![State::Backup, State::Backup]);
    assert_eq!(r.status()[1].effective_priority, 140);
}
