//! Quorum, hysteresis, the sorry server and omega.

use super::{rs, sorry, vs, Harness};
use crate::decide::quorum::next_state;
use crate::decide::{Action, Level};

#[test]
fn next_state_boundaries() {
    // quorum 4, hysteresis 1: lost below 3, regained at 5.
    assert!(next_state(true, 3, 4, 1));
    assert!(!next_state(true, 2, 4, 1));
    assert!(!next_state(false, 4, 4, 1));
    assert!(next_state(false, 5, 4, 1));
    // A live weight of 0 always loses quorum (keepalived's `!weight_sum`), even when
    // quorum - hysteresis is 0, and never regains it.
    assert!(!next_state(true, 0, 1, 1));
    assert!(next_state(true, 1, 1, 1));
    assert!(!next_state(false, 0, 0, 0));
    // No overflow at the extremes.
    assert!(next_state(false, u64::MAX, u32::MAX, u32::MAX));
    assert!(!next_state(true, 0, u32::MAX, u32::MAX));
}

#[test]
fn hysteresis_band_both_ways_without_flapping() {
    let servers = (11..=15).map(|i| rs(i, 1)).collect();
    let mut config = vs(servers);
    config.quorum = 4;
    config.hysteresis = 1;
    let mut h = Harness::new(&config);
    assert!(h.state.quorum_up(), "5 >= 4+1");
    h.actions();

    h.down(11);
    h.down(12);
    assert_eq!(h.state.live_weight(), 3);
    assert!(h.state.quorum_up(), "3 is not below 4-1");
    // Inside the band, going up and down changes nothing.
    h.up(12);
    h.down(12);
    assert_eq!(h.notifies(), vec!["rs11-down", "rs12-down", "rs12-up", "rs12-down"]);

    h.down(13);
    assert!(!h.state.quorum_up(), "2 < 4-1");
    assert_eq!(h.notifies(), vec!["rs13-down", "quorum-down"]);

    h.up(13);
    h.up(12);
    assert_eq!(h.state.live_weight(), 4);
    assert!(!h.state.quorum_up(), "4 < 4+1");
    h.down(12);
    h.up(12);
    assert_eq!(h.notifies(), vec!["rs13-up", "rs12-up", "rs12-down", "rs12-up"]);

    h.up(11);
    assert!(h.state.quorum_up(), "5 >= 4+1");
    assert_eq!(h.notifies(), vec!["rs11-up", "quorum-up"]);
}

#[test]
fn without_a_sorry_server_losing_quorum_keeps_the_live_servers() {
    let mut config = vs(vec![rs(11, 1), rs(12, 1)]);
    config.quorum = 2;
    let mut h = Harness::new(&config);
    h.down(12);
    assert!(!h.state.quorum_up());
    assert!(!h.state.sorry_active());
    assert_eq!(h.table(), vec![(11, 1)]);
}

#[test]
fn the_sorry_server_replaces_all_real_servers_and_leaves_on_regain() {
    let mut config = vs(vec![rs(11, 1), rs(12, 1), rs(13, 1)]);
    config.quorum = 3;
    config.inhibit_on_failure = true;
    config.sorry_server = sorry(99);
    let mut h = Harness::new(&config);
    assert_eq!(h.table(), vec![(11, 1), (12, 1), (13, 1)]);
    h.actions();

    h.down(13);
    assert!(h.state.sorry_active());
    // The live servers and the inhibited one all leave: the sorry server alone.
    assert_eq!(h.table(), vec![(99, 1)]);
    let actions = h.actions();
    let kinds: Vec<String> = actions
        .iter()
        .map(|a| match a {
            Action::Notify { argv, .. } => format!("notify {}", argv[1]),
            Action::Log { level: Level::Warn, message, .. } if message.contains("quorum lost") => {
                "log quorum lost".into()
            }
            Action::Log { message, .. } if message.contains("sorry server 192.0.2.99:80 in") => {
                "log sorry in".into()
            }
            Action::Log { message, .. } if message.contains("192.0.2.13:80 down") => {
                "log rs13 down".into()
            }
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "log rs13 down",
            "notify rs13-down",
            "log quorum lost",
            "log sorry in",
            "notify quorum-down"
        ]
    );

    // While the sorry server is in, real servers come and go out of the table.
    h.down(12);
    h.up(12);
    assert_eq!(h.table(), vec![(99, 1)]);
    h.actions();

    h.up(13);
    assert!(!h.state.sorry_active());
    assert_eq!(h.table(), vec![(11, 1), (12, 1), (13, 1)]);
    let logs: Vec<_> = h.actions();
    let notifies: Vec<_> = logs
        .iter()
        .filter_map(|a| match a {
            Action::Notify { argv, .. } => Some(argv[1].clone()),
            Action::Log { .. } => None,
        })
        .collect();
    assert_eq!(notifies, ["rs13-up", "quorum-up"]);
    assert!(logs.iter().any(
        |a| matches!(a, Action::Log { message, .. } if message.contains("sorry server 192.0.2.99:80 out"))
    ));
}

#[test]
fn starting_without_quorum_puts_the_sorry_server_in_and_notifies_quorum_down() {
    let mut config = vs(vec![rs(11, 1), rs(12, 1)]);
    config.alpha = true;
    config.sorry_server = sorry(99);
    let mut h = Harness::new(&config);
    assert!(h.state.sorry_active());
    assert_eq!(h.table(), vec![(99, 1)]);
    assert_eq!(h.notifies(), vec!["quorum-down"]);
    h.up(12);
    assert_eq!(h.table(), vec![(12, 1)]);
    assert_eq!(h.notifies(), vec!["rs12-up", "quorum-up"]);
}

#[test]
fn omega_shutdown_notifies_healthy_servers_then_quorum_down() {
    let mut config = vs(vec![rs(11, 1), rs(12, 1), rs(13, 1)]);
    config.omega = true;
    let mut h = Harness::new(&config);
    h.down(12);
    h.actions();
    h.state.shutdown();
    assert_eq!(h.notifies(), vec!["rs11-down", "rs13-down", "quorum-down"]);
    // Once only, and events after it change nothing.
    h.state.shutdown();
    h.up(12);
    assert!(h.actions().is_empty());
}

#[test]
fn omega_shutdown_runs_quorum_down_even_when_quorum_is_already_down() {
    let mut config = vs(vec![rs(11, 1)]);
    config.omega = true;
    let mut h = Harness::new(&config);
    h.down(11);
    h.actions();
    h.state.shutdown();
    assert_eq!(h.notifies(), vec!["quorum-down"]);
}

#[test]
fn shutdown_without_omega_runs_nothing() {
    let mut h = Harness::new(&vs(vec![rs(11, 1)]));
    h.actions();
    h.state.shutdown();
    assert!(h.actions().is_empty());
}
