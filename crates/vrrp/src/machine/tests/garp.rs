//! Gratuitous ARP bursts: on entering MASTER, after garp_master_delay, and every
//! garp_master_refresh while MASTER.

use std::time::Duration;

use super::sim::Sim;
use super::{addr, instance, mdi, router};
use crate::machine::{Action, GarpConfig, InitialState, State};
use crate::packet::{Advert, Auth, Received, Version, VRRP_MCAST_V4, VRRP_TTL};

/// (seconds since t0, repeat) of every burst the node asked for.
fn bursts(sim: &Sim) -> Vec<(f64, u32)> {
    sim.nodes[0]
        .log
        .iter()
        .filter_map(|(at, action)| match action {
            Action::SendGratuitousArp { repeat, .. } => {
                Some(((*at - sim.t0).as_secs_f64(), *repeat))
            }
            _ => None,
        })
        .collect()
}

fn master_alone(garp: GarpConfig) -> Sim {
    let mut cfg = instance("vi", 100, 1);
    cfg.initial_state = InitialState::Master;
    cfg.garp = garp;
    let mut sim = Sim::new(vec![router(vec![cfg])]);
    sim.start_all();
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
    let entry: Vec<Action> = sim.nodes[0].log.iter().map(|(_, a)| a.clone()).collect();
    assert!(matches!(entry[0], Action::Transition { to: State::Master, .. }));
    assert!(
        matches!(&entry[1], Action::AddAddresses { addresses, .. } if addresses[0].address == addr(100))
    );
    assert!(matches!(entry[2], Action::SendAdvert { .. }));
    assert!(matches!(entry[3], Action::SendGratuitousArp { repeat: 3, .. }));
    sim.run_until(sim.t(130.0));
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
    let again = (mdi(100, 100) + Duration::from_secs(130)).as_secs_f64();
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
    sim.run_until(sim.t(100.0));
    assert_eq!(bursts(&sim), vec![(0.0, 5)]);
    // Only adverts keep it busy.
    assert_eq!(sim.nodes[0].router.poll_timeout(), Some(sim.t(101.0)));
}
