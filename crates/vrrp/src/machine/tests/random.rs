//! Never two masters in steady state: seeded runs with random priorities, start times,
//! delivery delays, crashes and partitions.

use std::time::Duration;

use super::sim::Sim;
use super::{addr, instance, router};
use crate::machine::{InitialState, State};

/// xorshift64, enough to vary the scenarios reproducibly.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn secs(&mut self, max_ms: u64) -> f64 {
        self.below(max_ms + 1) as f64 / 1000.0
    }
}

/// Exactly one MASTER among the running nodes, holding the VIP alone, and no transition
/// since `settled`; with preemption everywhere, it is the highest priority.
fn assert_steady(sim: &Sim, settled: f64, priorities: &[u8], all_preempt: bool, seed: u64) {
    let masters = sim.masters(0);
    assert_eq!(masters.len(), 1, "seed {seed}: masters {masters:?}");
    // Only the master answers ARP for the VIP, even after a crash left it on a host.
    assert_eq!(sim.holders(addr(100)), masters, "seed {seed}: VIP holders");
    for node in 0..sim.nodes.len() {
        let late: Vec<_> =
            sim.transitions(node, 0).into_iter().filter(|(at, ..)| *at >= sim.t(settled)).collect();
        assert!(late.is_empty(), "seed {seed}: node {node} still moving: {late:?}");
        if sim.nodes[node].up {
            assert!(matches!(sim.state(node, 0), State::Master | State::Backup));
        }
    }
    if all_preempt {
        let best = (0..sim.nodes.len())
            .filter(|&n| sim.nodes[n].up)
            .max_by_key(|&n| (priorities[n], n))
            .expect("a running node");
        assert_eq!(masters, vec![best], "seed {seed}: priorities {priorities:?}");
    }
}

#[test]
fn one_master_in_steady_state() {
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut priorities: Vec<u8> = Vec::new();
        while priorities.len() < 3 {
            let p = 1 + rng.below(255) as u8;
            if !priorities.contains(&p) {
                priorities.push(p);
            }
        }
        let mut all_preempt = true;
        let configs = (0..3)
            .map(|n| {
                let mut cfg = instance("vi", priorities[n], n as u8 + 1);
                if rng.below(4) == 0 {
                    cfg.initial_state = InitialState::Master;
                }
                if rng.below(5) == 0 {
                    cfg.preempt = false;
                    all_preempt = false;
                }
                router(vec![cfg])
            })
            .collect();
        let mut sim = Sim::new(configs).seed(seed);
        sim.delay = (Duration::ZERO, Duration::from_millis(rng.below(30) + 1));
        let mut starts: Vec<(f64, usize)> = (0..3).map(|n| (rng.secs(5000), n)).collect();
        starts.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (at, node) in starts {
            sim.run_until(sim.t(at));
            sim.start(node);
        }
        sim.run_until(sim.t(30.0));
        assert_steady(&sim, 20.0, &priorities, all_preempt, seed);

        // Disturb: crash the master and bring it back, or cut a node off and heal.
        let master = sim.masters(0)[0];
        sim.run_until(sim.t(30.0 + rng.secs(1000)));
        if rng.below(2) == 0 {
            sim.kill(master);
            sim.run_until(sim.t(40.0 + rng.secs(1000)));
            assert_steady(&sim, 35.0, &priorities, all_preempt, seed);
            sim.restart(master);
        } else {
            let cut = rng.below(3) as usize;
            sim.partition(cut, 1);
            sim.run_until(sim.t(45.0 + rng.secs(1000)));
            sim.partition(cut, 0);
        }
        sim.run_until(sim.t(70.0));
        assert_steady(&sim, 60.0, &priorities, all_preempt, seed);
    }
}
