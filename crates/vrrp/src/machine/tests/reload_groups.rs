//! Reloads that change sync groups or tracking, on one router: members keep their state
//! unless the group would otherwise be split, and tracking is evaluated afresh.

use std::time::{Duration, Instant};

use super::{instance, mdi};
use crate::machine::{
    Action, InstanceConfig, Router, RouterConfig, ScriptConfig, State, SyncGroupConfig, TrackScript,
};

/// "a" (eth0 VRID 1), "b" (eth1 VRID 2), "c" (eth2 VRID 3), all priority 100.
fn member(name: &str, k: u8) -> InstanceConfig {
    let mut i = instance(name, 100, 1);
    i.interface = format!("eth{k}");
    i.vrid = k + 1;
    i
}

fn config(names: &[&str], group: &[&str]) -> RouterConfig {
    let all = ["a", "b", "c"];
    let instances = names
        .iter()
        .map(|name| member(name, all.iter().position(|n| n == name).expect("known") as u8))
        .collect();
    let sync_groups = if group.is_empty() {
        Vec::new()
    } else {
        vec![SyncGroupConfig {
            name: "VG_1".to_string(),
            instances: group.iter().map(|n| n.to_string()).collect(),
            tracking_weight: false,
        }]
    };
    RouterConfig { instances, scripts: Vec::new(), sync_groups }
}

fn drain(r: &mut Router) -> Vec<Action> {
    std::iter::from_fn(|| r.poll_action()).collect()
}

fn states(r: &Router) -> Vec<State> {
    r.status().iter().map(|s| s.state).collect()
}

/// A router alone on its LAN, started with `config` and run until its instances are
/// MASTER.
fn alone(config: RouterConfig) -> (Router, Instant) {
    let t0 = Instant::now();
    let mut r = Router::new(config).expect("valid");
    r.start(t0);
    let now = t0 + Duration::from_secs(10);
    while let Some(due) = r.poll_timeout().filter(|t| *t <= now) {
        r.handle_timeout(due);
    }
    drain(&mut r);
    assert!(states(&r).iter().all(|s| *s == State::Master), "{:?}", states(&r));
    (r, now)
}

#[test]
fn grouping_masters_keeps_them_and_reports_the_group_once() {
    let (mut r, now) = alone(config(&["a", "b"], &[]));
    r.reconfigure(now, config(&["a", "b"], &["a", "b"])).expect("valid");
    let expected = vec![
        Action::Reconfigured,
        Action::GroupTransition { group: 0, to: State::Master, stopping: false },
    ];
    assert_eq!(drain(&mut r), expected);

    // Leaving the group moves nobody; a removed group reports its stop with the old
    // index, before the switch.
    r.reconfigure(now, config(&["a", "b"], &["a"])).expect("valid");
    assert_eq!(drain(&mut r), vec![Action::Reconfigured]);
    r.reconfigure(now, config(&["a", "b"], &[])).expect("valid");
    let expected = vec![
        Action::GroupTransition { group: 0, to: State::Init, stopping: true },
        Action::Reconfigured,
    ];
    assert_eq!(drain(&mut r), expected);
    assert_eq!(states(&r), vec![State::Master, State::Master]);
    assert!(r.status().iter().all(|s| s.counters.transitions == 2));
}

#[test]
fn a_new_member_starting_backup_takes_its_group_along() {
    let (mut r, now) = alone(config(&["a", "b"], &["a", "b"]));
    r.reconfigure(now, config(&["a", "b", "c"], &["a", "b", "c"])).expect("valid");
    let actions = drain(&mut r);
    // Never a group MASTER on one router and partly BACKUP: the new member starts
    // BACKUP as at startup, and the others follow it.
    assert_eq!(states(&r), vec![State::Backup; 3]);
    let moved: Vec<(usize, State, String)> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Transition { instance, to, reason, .. } => {
                Some((*instance, *to, reason.clone()))
            }
            _ => None,
        })
        .collect();
    let follow = "sync group VG_1: member c is BACKUP".to_string();
    assert_eq!(
        moved,
        vec![
            (2, State::Backup, "startup".to_string()),
            (0, State::Backup, follow.clone()),
            (1, State::Backup, follow),
        ]
    );
    assert_eq!(
        actions.last(),
        Some(&Action::GroupTransition { group: 0, to: State::Backup, stopping: false })
    );
    // With nobody else on the LAN the group goes MASTER together.
    let at = now + mdi(100, 100);
    assert_eq!(r.poll_timeout(), Some(at));
    r.handle_timeout(at);
    assert_eq!(states(&r), vec![State::Master; 3]);
}

fn tracked(scripts: &[(&str, i32)], priority: u8) -> RouterConfig {
    let mut a = member("a", 0);
    a.priority = priority;
    a.track_scripts = scripts
        .iter()
        .map(|(name, _)| TrackScript { name: name.to_string(), weight: None })
        .collect();
    let scripts = scripts
        .iter()
        .map(|(name, weight)| ScriptConfig {
            name: name.to_string(),
            weight: *weight,
            rise: 2,
            fall: 2,
        })
        .collect();
    RouterConfig { instances: vec![a], scripts, sync_groups: Vec::new() }
}

#[test]
fn a_kept_script_keeps_its_result_and_a_new_one_starts_unknown() {
    let (mut r, now) = alone(tracked(&[("chk", -30)], 100));
    r.script_result(now, "chk", false);
    drain(&mut r);
    assert_eq!(r.status()[0].effective_priority, 70);

    // A new priority on top of the failed script: 120 - 30, advertised at once.
    r.reconfigure(now, tracked(&[("chk", -30)], 120)).expect("valid");
    let actions = drain(&mut r);
    assert!(matches!(&actions[..], [Action::Reconfigured, Action::SendAdvert { advert, .. }]
        if advert.priority == 90));

    // A new weight 0 script holds the instance in FAULT until its first result
    // (keepalived's init state), as at startup.
    r.reconfigure(now, tracked(&[("chk", -30), ("new", 0)], 120)).expect("valid");
    drain(&mut r);
    let status = &r.status()[0];
    assert_eq!((status.state, status.faults.clone()), (State::Fault, vec!["new".to_string()]));
    r.script_result(now, "new", true);
    assert_eq!(states(&r), vec![State::Backup]);
    assert_eq!(r.status()[0].effective_priority, 90);
}
