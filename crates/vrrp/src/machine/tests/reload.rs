//! Reloads of running routers: instances that stay keep their state, changes apply in
//! place, and leaving or new instances stop and start as at shutdown and startup.

use std::time::Duration;

use super::sim::Sim;
use super::{addr, instance, mdi, router, skew, vip};
use crate::machine::{Action, InstanceConfig, RouterConfig, State, TrackScript};
use crate::packet::{Advert, Auth, Version};

const MS: Duration = Duration::from_millis(1);

/// "vi" on A (priority `a`, .1) and B (`b`, .2), run until A is MASTER.
fn pair(a: u8, b: u8) -> Sim {
    let mut sim = Sim::new(vec![one(instance("vi", a, 1)), one(instance("vi", b, 2))]);
    sim.start_all();
    sim.run_until(sim.t(10.0));
    assert_eq!(sim.masters(0), vec![0]);
    sim
}

fn one(instance: InstanceConfig) -> RouterConfig {
    router(vec![instance])
}

/// Reloads `node` and returns what it did.
fn reload(sim: &mut Sim, node: usize, config: RouterConfig) -> Vec<Action> {
    let mark = sim.nodes[node].log.len();
    sim.reconfigure(node, config);
    sim.nodes[node].log[mark..].iter().map(|(_, action)| action.clone()).collect()
}

fn advert(vrid: u8, priority: u8, hosts: &[u8]) -> Advert {
    Advert {
        version: Version::V3,
        vrid,
        priority,
        interval_cs: 100,
        addresses: hosts.iter().map(|&h| addr(h)).collect(),
        auth: Auth::None,
    }
}

#[test]
fn an_identical_configuration_changes_nothing() {
    let mut sim = pair(200, 100);
    let before: Vec<_> =
        (0..2).map(|n| (sim.status(n, 0), sim.nodes[n].router.poll_timeout())).collect();
    let at = sim.now;
    for (node, host, priority) in [(0, 1, 200), (1, 2, 100)] {
        let actions = reload(&mut sim, node, one(instance("vi", priority, host)));
        assert_eq!(actions, vec![Action::Reconfigured]);
    }
    let after: Vec<_> =
        (0..2).map(|n| (sim.status(n, 0), sim.nodes[n].router.poll_timeout())).collect();
    assert_eq!(after, before, "same state, counters and timers");

    sim.run_until(sim.t(30.0));
    assert_eq!(sim.masters(0), vec![0]);
    for (node, (status, _)) in before.iter().enumerate() {
        assert_eq!(sim.status(node, 0).counters.transitions, status.counters.transitions);
    }
    // The master's adverts keep their one-second beat across the reload, and its
    // counter carries on.
    let sent: Vec<_> = sim.sent(0, 0).into_iter().map(|(t, _)| t).collect();
    assert!(sent.windows(2).all(|w| w[1] - w[0] == Duration::from_secs(1)));
    assert!(sent.iter().any(|&t| t < at) && sent.iter().any(|&t| t > at));
    assert_eq!(sim.status(0, 0).counters.adverts_sent, sent.len() as u64);
}

#[test]
fn a_master_with_a_lower_priority_stays_until_the_protocol_says_otherwise() {
    // The backup does not preempt: the master keeps the VIP at its new priority.
    let mut sim = Sim::new(vec![one(instance("vi", 200, 1)), {
        let mut b = instance("vi", 100, 2);
        b.preempt = false;
        one(b)
    }]);
    sim.start_all();
    sim.run_until(sim.t(10.0));
    let actions = reload(&mut sim, 0, one(instance("vi", 50, 1)));
    // Advertised at once, as a tracking change would be.
    let expected = vec![
        Action::Reconfigured,
        Action::SendAdvert { instance: 0, advert: advert(1, 50, &[100]) },
    ];
    assert_eq!(actions, expected);
    sim.run_until(sim.t(30.0));
    assert_eq!(sim.masters(0), vec![0]);
    assert_eq!(
        (sim.status(0, 0).effective_priority, sim.status(0, 0).counters.transitions),
        (50, 2)
    );

    // The backup preempts: it ignores the now lower master and takes over when its
    // timer runs out, at most Master_Down_Interval after the master's last good advert.
    let mut sim = pair(200, 100);
    let at = sim.now;
    reload(&mut sim, 0, one(instance("vi", 50, 1)));
    assert_eq!(sim.state(0, 0), State::Master);
    sim.run_until(sim.t(20.0));
    let took = sim.entered(1, 0, State::Master, at).expect("B preempted");
    assert!(took > at && took <= at + mdi(100, 100) + MS, "took over at {:?}", took - at);
    assert_eq!(sim.masters(0), vec![1]);
    assert!(sim.entered(0, 0, State::Backup, at).is_some());
}

#[test]
fn a_backup_whose_priority_now_wins_preempts_per_its_setting() {
    let mut sim = pair(200, 100);
    let at = sim.now;
    // A backup only uses its priority when it compares: nothing at the reload.
    assert_eq!(reload(&mut sim, 1, one(instance("vi", 250, 2))), vec![Action::Reconfigured]);
    assert_eq!(sim.status(1, 0).effective_priority, 250);
    sim.run_until(sim.t(20.0));
    let took = sim.entered(1, 0, State::Master, at).expect("B preempted");
    assert!(took <= at + mdi(100, 100) + MS, "took over at {:?}", took - at);
    let reason = sim.transitions(1, 0).last().expect("transition").3.clone();
    assert_eq!(reason, "preempting lower priority master 192.0.2.1 (prio 200)");
    assert_eq!(sim.masters(0), vec![1]);

    // Without preempt it stays BACKUP behind the lower priority master.
    let mut sim = pair(200, 100);
    let mut b = instance("vi", 250, 2);
    b.preempt = false;
    assert_eq!(reload(&mut sim, 1, one(b)), vec![Action::Reconfigured]);
    sim.run_until(sim.t(30.0));
    assert_eq!(sim.masters(0), vec![0]);
    assert_eq!(sim.status(1, 0).counters.transitions, 1);
}

#[test]
fn a_master_adds_and_removes_exactly_the_changed_addresses() {
    let mut sim = pair(200, 100);
    let transitions = sim.status(0, 0).counters.transitions;
    let with = |mut i: InstanceConfig, hosts: &[u8]| {
        i.virtual_addresses = hosts.iter().map(|&h| vip(h)).collect();
        one(i)
    };
    let actions = reload(&mut sim, 0, with(instance("vi", 200, 1), &[100, 101]));
    assert_eq!(
        actions,
        vec![
            Action::Reconfigured,
            Action::AddAddresses { instance: 0, addresses: vec![vip(101)] },
            Action::SendAdvert { instance: 0, advert: advert(1, 200, &[100, 101]) },
            Action::SendGratuitousArp { instance: 0, addresses: vec![vip(101)], repeat: 5 },
        ]
    );
    // The backup, reloaded too, has no address to touch.
    let actions = reload(&mut sim, 1, with(instance("vi", 100, 2), &[100, 101]));
    assert_eq!(actions, vec![Action::Reconfigured]);
    // Half a beat off the master's adverts (one went out at the reload), so none is in
    // flight at the next reload.
    sim.run_until(sim.t(20.5));
    assert_eq!((sim.holders(addr(100)), sim.holders(addr(101))), (vec![0], vec![0]));

    let actions = reload(&mut sim, 0, with(instance("vi", 200, 1), &[101]));
    assert_eq!(
        actions,
        vec![
            Action::Reconfigured,
            Action::RemoveAddresses { instance: 0, addresses: vec![vip(100)] },
            Action::SendAdvert { instance: 0, advert: advert(1, 200, &[101]) },
        ]
    );
    reload(&mut sim, 1, with(instance("vi", 100, 2), &[101]));
    sim.run_until(sim.t(30.0));
    assert_eq!((sim.holders(addr(100)), sim.holders(addr(101))), (vec![], vec![0]));
    assert_eq!(sim.status(0, 0).counters.transitions, transitions);
    assert_eq!(sim.status(1, 0).counters.transitions, 1);
    // The backup heard every advert: none dropped for a mismatch.
    assert_eq!(sim.status(1, 0).counters.dropped, Default::default());
}

/// "vi" (VRID 1, VIP .100) and "vj" (VRID 2, VIP .110) on each node; A wins both.
fn two_instances(priority: u8, host: u8) -> RouterConfig {
    router(vec![instance("vi", priority, host), vj(priority, host)])
}

fn vj(priority: u8, host: u8) -> InstanceConfig {
    let mut vj = instance("vj", priority, host);
    vj.vrid = 2;
    vj.virtual_addresses = vec![vip(110)];
    vj
}

#[test]
fn a_removed_instance_leaves_as_at_shutdown() {
    let mut sim = Sim::new(vec![two_instances(200, 1), two_instances(100, 2)]);
    sim.start_all();
    sim.run_until(sim.t(10.0));
    let at = sim.now;
    let sent = sim.status(0, 0).counters.adverts_sent;
    let actions = reload(&mut sim, 0, one(instance("vi", 200, 1)));
    assert_eq!(
        actions,
        vec![
            Action::SendAdvert { instance: 1, advert: advert(2, 0, &[110]) },
            Action::RemoveAddresses { instance: 1, addresses: vec![vip(110)] },
            Action::Transition {
                instance: 1,
                from: State::Master,
                to: State::Init,
                priority: 200,
                reason: "reload: instance removed".to_string(),
                stopping: true,
            },
            Action::Reconfigured,
        ]
    );
    // The priority 0 advert was the leaving instance's, not counted on "vi".
    assert_eq!(sim.status(0, 0).counters.adverts_sent, sent);
    assert_eq!(sim.nodes[0].router.status().len(), 1);
    // The peer takes over after its skew time, not Master_Down_Interval.
    sim.run_until(sim.t(20.0));
    let took = sim.entered(1, 1, State::Master, at).expect("B took vj over");
    assert!(took <= at + skew(100, 100) + 2 * MS, "took over at {:?}", took - at);
    assert_eq!(sim.holders(addr(110)), vec![1]);
    assert_eq!((sim.state(0, 0), sim.status(0, 0).counters.transitions), (State::Master, 2));
}

#[test]
fn a_new_instance_starts_and_elects_while_the_others_keep_theirs() {
    let mut sim = pair(200, 100);
    let at = sim.now;
    // New first: "vi" moves to index 1 and does nothing.
    let actions = reload(&mut sim, 0, router(vec![vj(200, 1), instance("vi", 200, 1)]));
    assert_eq!(
        actions,
        vec![
            Action::Reconfigured,
            Action::RemoveAddresses { instance: 0, addresses: vec![vip(110)] },
            Action::Transition {
                instance: 0,
                from: State::Init,
                to: State::Backup,
                priority: 200,
                reason: "startup".to_string(),
                stopping: false,
            },
        ]
    );
    reload(&mut sim, 1, router(vec![vj(100, 2), instance("vi", 100, 2)]));
    sim.run_until(sim.t(20.0));
    assert_eq!(sim.entered(0, 0, State::Master, at), Some(at + mdi(200, 100)));
    assert_eq!(sim.masters(0), vec![0]);
    assert_eq!(sim.state(1, 0), State::Backup);
    let vi = sim.status(0, 1);
    assert_eq!((vi.name.as_str(), vi.state, vi.counters.transitions), ("vi", State::Master, 2));
    assert_eq!(sim.status(1, 1).counters.transitions, 1);
    assert_eq!(sim.holders(addr(100)), vec![0]);
}

#[test]
fn a_new_identity_leaves_and_starts_afresh() {
    let mut sim = pair(200, 100);
    let at = sim.now;
    let moved = |priority, host| {
        let mut i = instance("vi", priority, host);
        i.vrid = 5;
        one(i)
    };
    let actions = reload(&mut sim, 0, moved(200, 1));
    assert_eq!(
        actions,
        vec![
            Action::SendAdvert { instance: 0, advert: advert(1, 0, &[100]) },
            Action::RemoveAddresses { instance: 0, addresses: vec![vip(100)] },
            Action::Transition {
                instance: 0,
                from: State::Master,
                to: State::Init,
                priority: 200,
                reason: "reload: vrid 1 -> 5".to_string(),
                stopping: true,
            },
            Action::Reconfigured,
            Action::RemoveAddresses { instance: 0, addresses: vec![vip(100)] },
            Action::Transition {
                instance: 0,
                from: State::Init,
                to: State::Backup,
                priority: 200,
                reason: "startup".to_string(),
                stopping: false,
            },
        ]
    );
    // A new instance: its counters start from nothing.
    assert_eq!(sim.status(0, 0).counters.transitions, 1);
    assert_eq!(sim.status(0, 0).counters.adverts_sent, 0);
    reload(&mut sim, 1, moved(100, 2));
    sim.run_until(sim.t(20.0));
    assert_eq!(sim.entered(0, 0, State::Master, at), Some(at + mdi(200, 100)));
    assert_eq!(sim.masters(0), vec![0]);
    // After the old instance's priority 0 advert, only the new VRID is heard.
    assert!(sim.sent(0, 0).iter().all(|(t, a)| *t < at || a.vrid == 5 || a.priority == 0));
}

#[test]
fn a_refused_configuration_changes_nothing() {
    let mut sim = pair(200, 100);
    let before = sim.status(0, 0);
    let mut bad = instance("vi", 150, 1);
    bad.track_scripts = vec![TrackScript { name: "missing".to_string(), weight: None }];
    let refused = sim.nodes[0].router.reconfigure(sim.now, one(bad));
    assert_eq!(
        refused.map_err(|e| e.to_string()),
        Err("instance vi: track script missing is not defined".to_string())
    );
    assert_eq!(sim.nodes[0].router.poll_action(), None);
    assert_eq!(sim.status(0, 0), before);
}
