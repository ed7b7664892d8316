//! Elections, failover and preemption between routers on the simulated LAN.

use std::time::Duration;

use super::sim::Sim;
use super::{addr, instance, mdi, mdi_v2, router, skew};
use crate::counters::DropReason;
use crate::machine::{Action, State};
use crate::packet::Version;

const MS: Duration = Duration::from_millis(1);

/// A (priority 200, .1) and B (100, .2), both started at t0.
fn pair() -> Sim {
    let mut sim =
        Sim::new(vec![router(vec![instance("vi", 200, 1)]), router(vec![instance("vi", 100, 2)])]);
    sim.start_all();
    sim
}

#[test]
fn both_start_backup_and_higher_priority_wins() {
    let mut sim = pair();
    sim.run_until(sim.t(20.0));
    for node in 0..2 {
        let (at, from, to, _) = sim.transitions(node, 0)[0].clone();
        assert_eq!((at, from, to), (sim.t0, State::Init, State::Backup));
    }
    assert_eq!(sim.entered(0, 0, State::Master, sim.t0), Some(sim.t0 + mdi(200, 100)));
    assert_eq!(sim.entered(1, 0, State::Master, sim.t0), None);
    assert_eq!(sim.masters(0), vec![0]);
    assert_eq!(sim.status(1, 0).master, Some(addr(1)));
    let reason = &sim.transitions(0, 0)[1].3;
    assert_eq!(reason, "master down timer expired");
    // One advert a second from the moment it took over.
    let sent: Vec<_> = sim.sent(0, 0).into_iter().map(|(at, _)| at - sim.t0).collect();
    assert_eq!(sent.len(), 17);
    assert!(sent.windows(2).all(|w| w[1] - w[0] == Duration::from_secs(1)));
    assert_eq!(sim.status(0, 0).counters.adverts_sent, 17);
}

#[test]
fn equal_priority_higher_address_wins() {
    let mut sim =
        Sim::new(vec![router(vec![instance("vi", 100, 1)]), router(vec![instance("vi", 100, 2)])]);
    sim.start_all();
    sim.run_until(sim.t(20.0));
    let down = sim.t0 + mdi(100, 100);
    // Both timers run out together; the lower address gives way on the first advert.
    assert_eq!(sim.entered(0, 0, State::Master, sim.t0), Some(down));
    assert_eq!(sim.entered(1, 0, State::Master, sim.t0), Some(down));
    let back = sim.entered(0, 0, State::Backup, down).expect("gave way");
    assert!(back <= down + MS);
    assert_eq!(
        sim.transitions(0, 0).last().expect("transition").3,
        "equal priority advert from higher address 192.0.2.2 (prio 100)"
    );
    assert_eq!(sim.masters(0), vec![1]);
}

#[test]
fn address_owner_takes_over_at_once() {
    let mut sim =
        Sim::new(vec![router(vec![instance("vi", 255, 1)]), router(vec![instance("vi", 100, 2)])]);
    sim.kill(0);
    sim.start(1);
    sim.run_until(sim.t(10.0));
    assert_eq!(sim.masters(0), vec![1]);
    sim.restart(0);
    assert_eq!(sim.state(0, 0), State::Master);
    assert_eq!(sim.transitions(0, 0)[0].3, "address owner (priority 255)");
    sim.run_until(sim.t(20.0));
    let back = sim.entered(1, 0, State::Backup, sim.t(10.0)).expect("B gave way");
    assert!(back <= sim.t(10.0) + MS);
    assert_eq!(sim.masters(0), vec![0]);
}

#[test]
fn failover_after_silence_then_preemption_on_return() {
    let mut sim = pair();
    sim.run_until(sim.t(10.5));
    sim.kill(0);
    sim.run_until(sim.t(20.25));
    let last = sim.last_accepted(1, 0, sim.t(10.5)).expect("B heard A");
    assert!(sim.t(10.5) - last.at < Duration::from_secs(1) + MS);
    assert_eq!(sim.entered(1, 0, State::Master, sim.t(10.5)), Some(last.at + mdi(100, 100)));
    assert_eq!(sim.masters(0), vec![1]);

    // A comes back as BACKUP, ignores B's lower adverts and preempts after its own
    // Master_Down_Interval.
    sim.restart(0);
    sim.run_until(sim.t(30.0));
    let preempt = sim.t(20.25) + mdi(200, 100);
    assert_eq!(sim.entered(0, 0, State::Master, sim.t(20.25)), Some(preempt));
    let reason = sim.transitions(0, 0).pop().expect("transition").3;
    assert_eq!(reason, "preempting lower priority master 192.0.2.2 (prio 100)");
    let back = sim.entered(1, 0, State::Backup, preempt).expect("B gave way");
    assert!(back <= preempt + MS);
    assert_eq!(sim.masters(0), vec![0]);
}

#[test]
fn nopreempt_keeps_the_current_master() {
    let mut a = instance("vi", 200, 1);
    a.preempt = false;
    let mut sim = Sim::new(vec![router(vec![a]), router(vec![instance("vi", 100, 2)])]);
    sim.start_all();
    sim.run_until(sim.t(10.5));
    assert_eq!(sim.masters(0), vec![0]);
    sim.kill(0);
    sim.run_until(sim.t(20.25));
    sim.restart(0);
    sim.run_until(sim.t(80.0));
    assert_eq!(sim.entered(0, 0, State::Master, sim.t(20.25)), None);
    assert_eq!(sim.masters(0), vec![1]);
    assert_eq!(sim.status(0, 0).master, Some(addr(2)));
}

#[test]
fn preempt_delay_holds_preemption_back_by_the_delay() {
    let delay = Duration::from_secs(10);
    let mut a = instance("vi", 200, 1);
    a.preempt_delay = delay;
    let mut sim = Sim::new(vec![router(vec![a]), router(vec![instance("vi", 100, 2)])]);
    sim.start_all();
    sim.run_until(sim.t(10.5));
    sim.kill(0);
    sim.run_until(sim.t(20.25));
    sim.restart(0);
    sim.run_until(sim.t(60.0));
    // Until the window closes B's adverts reset A's timer; the first one after is
    // ignored, so A takes over one Master_Down_Interval after the last one obeyed.
    let closes = sim.t(20.25) + delay;
    let last = sim.last_accepted(0, 0, closes - Duration::from_nanos(1)).expect("heard B");
    let took_over = sim.entered(0, 0, State::Master, sim.t(20.25)).expect("preempted");
    assert_eq!(took_over, last.at + mdi(200, 100));
    // Without the delay it would have been at restart + Master_Down_Interval.
    let without = sim.t(20.25) + mdi(200, 100);
    let held = took_over - without;
    assert!(held + Duration::from_secs(1) + MS > delay && held <= delay, "held back {held:?}");
    assert_eq!(sim.masters(0), vec![0]);
}

#[test]
fn priority_zero_on_shutdown_gives_takeover_after_skew() {
    let mut sim = pair();
    sim.run_until(sim.t(10.5));
    sim.with(0, |r, now| r.shutdown(now));
    assert_eq!(sim.nodes[0].router.poll_timeout(), None);
    let tail: Vec<_> =
        sim.nodes[0].log.iter().rev().take(3).rev().map(|(_, a)| a.clone()).collect();
    assert!(matches!(&tail[0], Action::SendAdvert { advert, .. } if advert.priority == 0));
    assert!(matches!(&tail[1], Action::RemoveAddresses { .. }));
    assert!(matches!(
        &tail[2],
        Action::Transition { from: State::Master, to: State::Init, stopping: true, .. }
    ));
    sim.run_until(sim.t(20.0));
    let zero = sim.nodes[1].rx.iter().find(|d| d.priority == 0).expect("priority 0 heard");
    assert_eq!(zero.src, addr(1));
    let zero = zero.at;
    assert_eq!(sim.entered(1, 0, State::Master, sim.t(10.5)), Some(zero + skew(100, 100)));
    assert_eq!(
        sim.transitions(1, 0).last().expect("transition").3,
        "priority 0 advert from 192.0.2.1"
    );
    assert_eq!(sim.masters(0), vec![1]);
}

#[test]
fn split_brain_heals_to_one_master() {
    let mut sim = pair();
    sim.run_until(sim.t(10.5));
    sim.partition(1, 1);
    sim.run_until(sim.t(20.5));
    let last = sim.last_accepted(1, 0, sim.t(10.5)).expect("B heard A");
    assert_eq!(sim.entered(1, 0, State::Master, sim.t(10.5)), Some(last.at + mdi(100, 100)));
    assert_eq!(sim.masters(0), vec![0, 1]);

    sim.partition(1, 0);
    sim.run_until(sim.t(40.0));
    let back = sim.entered(1, 0, State::Backup, sim.t(20.5)).expect("B gave way");
    assert!(back <= sim.t(20.5) + Duration::from_secs(1) + MS, "healed at {back:?}");
    assert_eq!(sim.masters(0), vec![0]);
    // A never stopped being MASTER.
    assert_eq!(sim.transitions(0, 0).len(), 2);
}

#[test]
fn v3_backup_adopts_the_master_interval() {
    let mut a = instance("vi", 200, 1);
    a.advert_interval_cs = 5;
    let mut sim = Sim::new(vec![router(vec![a]), router(vec![instance("vi", 100, 2)])]);
    sim.start_all();
    sim.run_until(sim.t(1.005));
    assert_eq!(sim.entered(0, 0, State::Master, sim.t0), Some(sim.t0 + mdi(200, 5)));
    assert_eq!(sim.status(1, 0).advert_interval_cs, 5);
    sim.kill(0);
    sim.run_until(sim.t(5.0));
    let last = sim.last_accepted(1, 0, sim.t(1.005)).expect("B heard A");
    // 3 × 50 ms + (156 × 50 ms) / 256, not B's own 3.6 s.
    assert_eq!(sim.entered(1, 0, State::Master, sim.t0), Some(last.at + mdi(100, 5)));
    // As MASTER it advertises its own interval.
    assert_eq!(sim.status(1, 0).advert_interval_cs, 100);
    assert!(sim.sent(1, 0).iter().all(|(_, advert)| advert.interval_cs == 100));
}

#[test]
fn v2_interval_mismatch_is_dropped_and_counted() {
    let v2 = |name: &str, priority, host, cs| {
        let mut i = instance(name, priority, host);
        i.version = Version::V2;
        i.advert_interval_cs = cs;
        i
    };
    let mut sim =
        Sim::new(vec![router(vec![v2("vi", 200, 1, 100)]), router(vec![v2("vi", 100, 2, 200)])]);
    sim.start_all();
    sim.run_until(sim.t(20.0));
    // Neither hears the other, so both time out into MASTER on their own clocks.
    assert_eq!(sim.entered(0, 0, State::Master, sim.t0), Some(sim.t0 + mdi_v2(200, 100)));
    assert_eq!(sim.entered(1, 0, State::Master, sim.t0), Some(sim.t0 + mdi_v2(100, 200)));
    assert_eq!(sim.masters(0), vec![0, 1]);
    let b = sim.status(1, 0).counters;
    assert_eq!(b.adverts_received, 0);
    let sent_by_a = sim.sent(0, 0).len() as u64;
    assert_eq!(b.dropped.get(&DropReason::IntervalMismatch), Some(&sent_by_a));
}
