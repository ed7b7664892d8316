//! Reloads: state carried over, checks reset, drains.

use std::time::Duration;

use ipvs::Scheduler;

use super::{key, rs, sorry, tcp_check, vs, Harness};

#[test]
fn unchanged_checks_keep_health_weight_and_last_check() {
    let config = vs(vec![rs(11, 1), rs(12, 1)]);
    let mut h = Harness::new(&config);
    h.down(11);
    h.weight(12, Some(9));
    h.actions();

    let mut next = config.clone();
    next.real_servers[1].destination.forwarding = ipvs::Forwarding::Masq;
    let now = h.now;
    h.state.reconfigure(&next, now);
    assert_eq!(h.state.is_healthy(key(11)), Some(false));
    assert_eq!(h.table(), vec![(12, 9)]);
    assert_eq!(h.state.desired().destinations[0].forwarding, ipvs::Forwarding::Masq);
    let status = h.state.status(&|_, _| false);
    assert!(status.real_servers[0].last_check.is_some());
    assert!(h.notifies().is_empty());
}

#[test]
fn a_changed_check_keeps_the_servers_state_until_its_first_result() {
    let mut config = vs(vec![rs(11, 1), rs(12, 1), rs(13, 1)]);
    config.alpha = true;
    let mut h = Harness::new(&config);
    h.up(11);
    h.up(12);
    h.weight(12, Some(4));
    assert_eq!(h.table(), vec![(11, 1), (12, 4)]);
    h.actions();

    // keepalived's migrate_checkers: 12 stays up (the dynamic weight was the old
    // check's), 13 stays down, until the new checks answer.
    let mut next = config.clone();
    next.real_servers[1].check.as_mut().unwrap().timing.retry = 5;
    next.real_servers[2].check.as_mut().unwrap().timing.retry = 5;
    let now = h.now;
    h.state.reconfigure(&next, now);
    assert_eq!(h.table(), vec![(11, 1), (12, 1)], "12 keeps up, 13 keeps down");
    assert!(h.logs().iter().any(|m| m.contains("192.0.2.12:80: check changed, stays up")));
    h.down(12);
    h.up(13);
    assert_eq!(h.table(), vec![(11, 1), (13, 1)], "the new checks decide");

    // A check removed: always up. A check added: afresh, per alpha (down).
    let mut third = next.clone();
    third.real_servers[1].check = None;
    let mut with_check = third.clone();
    with_check.real_servers[1].check = Some(tcp_check(12));
    h.state.reconfigure(&third, now);
    assert_eq!(h.state.is_healthy(key(12)), Some(true));
    h.state.reconfigure(&with_check, now);
    assert_eq!(h.state.is_healthy(key(12)), Some(false), "a new check under alpha starts down");
}

#[test]
fn a_removed_server_drains_with_weight_0_until_its_deadline() {
    let config = vs(vec![rs(11, 1), rs(12, 2)]);
    let mut h = Harness::new(&config);
    h.actions();
    assert_eq!(h.state.poll_timeout(), None);

    let mut next = config.clone();
    next.real_servers.remove(1);
    next.drain_timeout = Duration::from_secs(10);
    let start = h.now;
    h.state.reconfigure(&next, start);
    assert_eq!(h.table(), vec![(11, 1), (12, 0)]);
    // It was healthy: its notify_down runs as it leaves service (keepalived clear_diff_rs).
    assert_eq!(h.notifies(), vec!["rs12-down"]);
    assert_eq!(h.state.poll_timeout(), Some(start + Duration::from_secs(10)));
    let status = h.state.status(&|_, _| true);
    assert!(status.real_servers[1].draining);
    assert_eq!(status.real_servers[1].weight, 0);

    // Draining servers do not count for quorum, and events for them are ignored.
    assert_eq!(h.state.live_weight(), 1);
    h.up(12);
    h.advance(Duration::from_millis(9_999));
    let now = h.now;
    h.state.handle_timeout(now);
    assert_eq!(h.table(), vec![(11, 1), (12, 0)]);

    h.advance(Duration::from_millis(1));
    let now = h.now;
    h.state.handle_timeout(now);
    assert_eq!(h.table(), vec![(11, 1)]);
    assert_eq!(h.state.poll_timeout(), None);
    assert!(h.logs().iter().any(|m| m.contains("192.0.2.12:80 drained")));
}

#[test]
fn a_server_added_back_during_its_drain_is_no_longer_draining() {
    let config = vs(vec![rs(11, 1), rs(12, 2)]);
    let mut h = Harness::new(&config);
    let mut without = config.clone();
    without.real_servers.remove(1);
    let now = h.now;
    h.state.reconfigure(&without, now);
    h.advance(Duration::from_secs(5));
    let now = h.now;
    h.state.reconfigure(&config, now);
    assert_eq!(h.table(), vec![(11, 1), (12, 2)]);
    assert_eq!(h.state.poll_timeout(), None);
    assert!(h.logs().iter().any(|m| m.contains("192.0.2.12:80 is back")));
    h.advance(Duration::from_secs(60));
    let now = h.now;
    h.state.handle_timeout(now);
    assert_eq!(h.table(), vec![(11, 1), (12, 2)]);
}

#[test]
fn a_server_not_in_the_table_is_not_drained() {
    let config = vs(vec![rs(11, 1), rs(12, 2)]);
    let mut h = Harness::new(&config);
    h.down(12);
    h.actions();
    let mut next = config.clone();
    next.real_servers.remove(1);
    let now = h.now;
    h.state.reconfigure(&next, now);
    assert_eq!(h.table(), vec![(11, 1)]);
    assert_eq!(h.state.poll_timeout(), None);
    // Already down: no second notify_down.
    assert!(h.notifies().is_empty());
}

#[test]
fn a_zero_drain_timeout_removes_at_once() {
    let config = vs(vec![rs(11, 1), rs(12, 2)]);
    let mut h = Harness::new(&config);
    let mut next = config.clone();
    next.real_servers.remove(1);
    next.drain_timeout = Duration::ZERO;
    let now = h.now;
    h.state.reconfigure(&next, now);
    assert_eq!(h.table(), vec![(11, 1)]);
    assert_eq!(h.state.poll_timeout(), None);
}

#[test]
fn service_settings_come_from_the_new_configuration() {
    let config = vs(vec![rs(11, 1)]);
    let mut h = Harness::new(&config);
    let mut next = config.clone();
    next.service.scheduler = Scheduler::Wrr;
    next.service.timeout = 300;
    let now = h.now;
    h.state.reconfigure(&next, now);
    let desired = h.state.desired();
    assert_eq!(desired.service.scheduler, Scheduler::Wrr);
    assert_eq!(desired.service.timeout, 300);
    assert!(h.logs().iter().any(|m| m.contains("service settings changed")));
}

#[test]
fn new_quorum_values_flip_quorum_with_notifies() {
    let mut config = vs(vec![rs(11, 1), rs(12, 1)]);
    config.sorry_server = sorry(99);
    let mut h = Harness::new(&config);
    h.actions();

    let mut stricter = config.clone();
    stricter.quorum = 3;
    let now = h.now;
    h.state.reconfigure(&stricter, now);
    assert!(!h.state.quorum_up());
    assert_eq!(h.table(), vec![(99, 1)]);
    assert_eq!(h.notifies(), vec!["quorum-down"]);

    // A reload that drops the sorry server puts the real servers back without a quorum
    // change.
    let mut no_sorry = stricter.clone();
    no_sorry.sorry_server = None;
    h.state.reconfigure(&no_sorry, now);
    assert_eq!(h.table(), vec![(11, 1), (12, 1)]);
    assert!(h.logs().iter().any(|m| m.contains("sorry server 192.0.2.99:80 out")));

    h.state.reconfigure(&config, now);
    assert!(h.state.quorum_up());
    assert_eq!(h.notifies(), vec!["quorum-up"]);
}

#[test]
fn removing_servers_can_lose_quorum() {
    let mut config = vs(vec![rs(11, 1), rs(12, 1)]);
    config.quorum = 2;
    let mut h = Harness::new(&config);
    h.actions();
    let mut next = config.clone();
    next.real_servers.remove(0);
    let now = h.now;
    h.state.reconfigure(&next, now);
    assert_eq!(h.notifies(), vec!["rs11-down", "quorum-down"]);
    assert_eq!(h.table(), vec![(12, 1), (11, 0)]);
}
