//! Real server health: start state, failure, inhibit, dynamic weight, notifies.

use checker::Change;

use super::{key, ok_report, refused_report, rs, rs_unchecked, vs, Harness};
use crate::decide::{Action, Level};

#[test]
fn without_alpha_checked_servers_start_in_the_table() {
    let mut h = Harness::new(&vs(vec![rs(11, 1), rs(12, 2)]));
    assert_eq!(h.table(), vec![(11, 1), (12, 2)]);
    assert!(h.state.quorum_up());
    // keepalived runs quorum_up when a virtual server starts with quorum.
    assert_eq!(h.notifies(), vec!["quorum-up"]);
}

#[test]
fn alpha_starts_checked_servers_down_and_unchecked_ones_up() {
    let mut config = vs(vec![rs(11, 1), rs_unchecked(12, 3)]);
    config.alpha = true;
    config.quorum = 4;
    let mut h = Harness::new(&config);
    assert_eq!(h.state.is_healthy(key(11)), Some(false));
    assert_eq!(h.state.is_healthy(key(12)), Some(true));
    assert_eq!(h.table(), vec![(12, 3)]);
    assert!(!h.state.quorum_up(), "live weight 3 < quorum 4");
    // Quorum down at start without a sorry server: keepalived notifies nothing.
    assert_eq!(h.notifies(), Vec::<String>::new());

    h.up(11);
    assert_eq!(h.table(), vec![(11, 1), (12, 3)]);
    assert!(h.state.quorum_up());
    assert_eq!(h.notifies(), vec!["rs11-up", "quorum-up"]);
}

#[test]
fn the_check_s_own_alpha_also_starts_a_server_down() {
    let mut server = rs(11, 1);
    server.check.as_mut().unwrap().timing.alpha = true;
    let h = Harness::new(&vs(vec![server, rs(12, 1)]));
    assert_eq!(h.table(), vec![(12, 1)]);
}

#[test]
fn alpha_first_failure_notifies_down_although_nothing_changes() {
    let mut config = vs(vec![rs(11, 1)]);
    config.alpha = true;
    let mut h = Harness::new(&config);
    h.actions();
    h.event(11, Change::Down { first: true }, refused_report());
    assert_eq!(h.notifies(), vec!["rs11-down"]);
    assert!(h.table().is_empty());
}

#[test]
fn a_first_pass_of_a_server_already_up_notifies_nothing() {
    let mut h = Harness::new(&vs(vec![rs(11, 1)]));
    h.actions();
    h.event(11, Change::Up { weight: None, first: true }, ok_report());
    assert_eq!(h.notifies(), Vec::<String>::new());
    assert_eq!(h.table(), vec![(11, 1)]);
}

#[test]
fn a_failed_server_leaves_the_table_and_comes_back() {
    let mut h = Harness::new(&vs(vec![rs(11, 1), rs(12, 2)]));
    h.actions();
    h.down(12);
    assert_eq!(h.table(), vec![(11, 1)]);
    let actions = h.actions();
    let Action::Log { level, message, .. } = &actions[0] else { panic!("{actions:?}") };
    assert_eq!(*level, Level::Warn);
    assert!(message.contains("192.0.2.12:80 down: connection refused"), "{message}");
    assert!(message.contains("removed from the table"), "{message}");
    assert!(matches!(&actions[1], Action::Notify { argv, .. } if argv[1] == "rs12-down"));
    assert_eq!(actions.len(), 2, "quorum holds: {actions:?}");

    h.up(12);
    assert_eq!(h.table(), vec![(11, 1), (12, 2)]);
    assert_eq!(h.notifies(), vec!["rs12-up"]);
}

#[test]
fn inhibit_on_failure_keeps_a_failed_server_with_weight_0() {
    let mut config = vs(vec![rs(11, 1), rs(12, 2)]);
    config.inhibit_on_failure = true;
    let mut h = Harness::new(&config);
    h.down(12);
    assert_eq!(h.table(), vec![(11, 1), (12, 0)]);
    assert!(h.logs().iter().any(|m| m.contains("inhibited: weight 0")));
    h.up(12);
    assert_eq!(h.table(), vec![(11, 1), (12, 2)]);
}

#[test]
fn a_healthy_server_configured_with_weight_0_stays_with_weight_0() {
    let h = Harness::new(&vs(vec![rs(11, 1), rs(12, 0)]));
    assert_eq!(h.table(), vec![(11, 1), (12, 0)]);
}

#[test]
fn dynamic_weight_sets_and_resets_the_weight() {
    let mut h = Harness::new(&vs(vec![rs(11, 5)]));
    h.weight(11, Some(40));
    assert_eq!(h.table(), vec![(11, 40)]);
    assert!(h.logs().iter().any(|m| m.contains("weight 5 -> 40 (dynamic)")));
    h.weight(11, None);
    assert_eq!(h.table(), vec![(11, 5)]);

    // A server that comes up with a weight gets it at once.
    h.down(11);
    h.event(11, Change::Up { weight: Some(7), first: false }, ok_report());
    assert_eq!(h.table(), vec![(11, 7)]);
    // ... and one that comes up without a weight goes back to the configured one.
    h.down(11);
    h.up(11);
    assert_eq!(h.table(), vec![(11, 5)]);
}

#[test]
fn dynamic_weight_counts_in_the_quorum() {
    let mut config = vs(vec![rs(11, 5)]);
    config.quorum = 3;
    let mut h = Harness::new(&config);
    h.actions();
    h.weight(11, Some(2));
    assert!(!h.state.quorum_up(), "weight 2 < quorum 3");
    assert_eq!(h.notifies(), vec!["quorum-down"]);
    h.weight(11, Some(3));
    assert!(h.state.quorum_up());
    assert_eq!(h.notifies(), vec!["quorum-up"]);
}

#[test]
fn events_for_unknown_or_unchecked_servers_are_ignored() {
    let mut h = Harness::new(&vs(vec![rs(11, 1), rs_unchecked(12, 1)]));
    h.actions();
    h.down(99);
    h.down(12);
    assert_eq!(h.table(), vec![(11, 1), (12, 1)]);
    assert!(h.actions().is_empty());
}

#[test]
fn check_event_says_whether_the_wanted_entries_changed() {
    let mut h = Harness::new(&vs(vec![rs(11, 1), rs(12, 1)]));
    let first_up = Change::Up { weight: None, first: true };
    assert!(!h.event(11, first_up, ok_report()), "a first verdict confirming up");
    assert!(h.event(11, Change::Down { first: false }, refused_report()), "up -> down");
    assert!(!h.event(11, Change::Down { first: false }, refused_report()), "still down");
    assert!(h.event(12, Change::Weight(Some(5)), ok_report()), "dynamic weight");
    assert!(!h.event(12, Change::Weight(Some(5)), ok_report()), "same weight");
    assert!(!h.event(99, Change::Down { first: false }, refused_report()), "unknown server");
}
