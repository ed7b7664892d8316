//! Gratuitous ARP bursts: on entering MASTER, after garp_master_delay, and every
//! garp_master_refresh while MASTER.

use std::time::Duration;

use super::sim::Sim;
use super::{addr, instance, mdi, router};
use crate::machine::{Action, GarpConfig, State};
use crate::packet::{Advert, Auth, Received, Version, VRRP_MCAST_V4, VRRP_TTL};

/// (seconds since the first takeover, repeat) of every burst the node asked for.
fn bursts(sim: &Sim) -> Vec<(f64, u32)> {
    let takeover = sim.t0 + mdi(100, 100);
    sim.nodes[0]
        .log
        .iter()
        .filter_map(|(at, action)| match action {
            Action::SendGratuitousArp { repeat, .. } => {
                Some(((*at - takeover).as_secs_f64(), *repeat))
            }
            _ => None,
        })
        .collect()
}

/// Alone on the LAN, so MASTER after one Master_Down_Interval.
fn master_alone(garp: GarpConfig) -> Sim {
    let mut cfg = instance("vi", 100, 1);
    cfg.garp = garp;
    let mut sim = Sim::new(vec![router(vec![cfg])]);
    sim.start_all();
    sim.run_until(sim.t0 + mdi(100, 100));
    assert_eq!(sim.state(0, 0), State::Master);
    sim
}

#[test]
fn bursts_at_entry_after_delay_and_on_refresh() {
    let mut sim = master_alone(GarpConfig {
        master_delay: Duration::from_secs(5),
        master_repeat: 3,
        master_refresh: Some(Duration::from_secs(60)),
        master_refresh_repeat: 2,
    });
    // Addresses up, advert out and GARPs sent before the transition is reported, so
    // `notify master` runs with the VIP in place.
    let takeover = sim.t0 + mdi(100, 100);
    let entry: Vec<Action> =
        sim.nodes[0].log.iter().filter(|(at, _)| *at == takeover).map(|(_, a)| a.clone()).collect();
    assert!(
        matches!(&entry[0], Action::AddAddresses { addresses, .. } if addresses[0].address == addr(100))
    );
    assert!(matches!(entry[1], Action::SendAdvert { .. }));
    assert!(matches!(entry[2], Action::SendGratuitousArp { repeat: 3, .. }));
    assert!(matches!(entry[3], Action::Transition { to: State::Master, .. }));
    sim.run_until(takeover + Duration::from_secs(130));
    assert_eq!(bursts(&sim), vec![(0.0, 3), (5.0, 3), (60.0, 2), (120.0, 2)]);

    // Giving way to a better master cancels every GARP timer.
    let better = Advert {
        version: Version::V3,
        vrid: 1,
        priority: 200,
        interval_cs: 100,
        addresses: vec![addr(100)],
        auth: Auth::None,
    };
    let received = Received { src: addr(2), dst: VRRP_MCAST_V4, ttl: VRRP_TTL, advert: better };
    sim.with(0, |r, now| {
        r.handle_advert(now, "eth0", &received).expect("accepted");
    });
    assert_eq!(sim.state(0, 0), State::Backup);
    // Nobody else speaks, so it takes over again and the schedule starts afresh.
    sim.run_until(sim.t(200.0));
    let again = (Duration::from_secs(130) + mdi(100, 100)).as_secs_f64();
    assert_eq!(
        bursts(&sim),
        vec![
            (0.0, 3),
            (5.0, 3),
            (60.0, 2),
            (120.0, 2),
            (again, 3),
            (again + 5.0, 3),
            (again + 60.0, 2)
        ]
    );
}

#[test]
fn no_delay_no_refresh_means_one_burst() {
    let mut sim = master_alone(GarpConfig {
        master_delay: Duration::ZERO,
        master_repeat: 5,
        master_refresh: None,
        master_refresh_repeat: 1,
    });
    let takeover = sim.t0 + mdi(100, 100);
    sim.run_until(takeover + Duration::from_millis(100_500));
    assert_eq!(bursts(&sim), vec![(0.0, 5)]);
    // Only adverts keep it busy.
    assert_eq!(sim.nodes[0].router.poll_timeout(), Some(takeover + Duration::from_secs(101)));
}
