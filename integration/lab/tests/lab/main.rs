//! The lab scenarios (see the crate docs). Each test builds its own lab, so each one
//! can fail on its own; run inside the VM by `integration/vm/lab.sh`:
//! `lab --ignored --test-threads=1`.

mod baseline;
mod distribution;
mod failover;
mod health;
mod metrics;
mod reload;
mod shutdown;

use std::io::Write;
use std::net::SocketAddr;

use lab_tests::http::{self, Tally};
use lab_tests::ipvsadm::Conns;
use lab_tests::topology::{dr_service, nat_service};
use lab_tests::Rig;

/// Requests per distribution check: ten full rounds of wrr 1/2/3.
const ROUNDS: usize = 60;

/// The tests need IPVS in namespaces they create: only the VM has that.
fn require_vm() {
    assert!(
        lab_tests::in_vm(),
        "the lab runs inside the IPVS VM (IN_VM=1): scripts/vm-lab.sh [TEST FILTER]"
    );
}

/// Prints one line to stderr past the harness's capture.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// `n` requests to the DR service from the client, with the MASTER `lb`'s connection
/// counters before and after (settled: see [`Rig::ipvs_conns_settled`]).
fn dr_round(rig: &Rig, lb: usize, n: usize) -> (Tally, Conns, Conns) {
    round(rig, lb, dr_service(), n)
}

fn nat_round(rig: &Rig, lb: usize, n: usize) -> (Tally, Conns, Conns) {
    round(rig, lb, nat_service(), n)
}

fn round(rig: &Rig, lb: usize, service: SocketAddr, n: usize) -> (Tally, Conns, Conns) {
    let before = rig.ipvs_conns(lb);
    let tally = http::requests(&rig.lab.client, service, n);
    let after = rig.ipvs_conns_settled(lb, &before, &service.to_string(), tally.ok() as u64);
    (tally, before, after)
}

/// Every request answered, each server's share exactly `want` (wrr and rr are
/// deterministic: any run of full rounds splits exactly by weight), and ipvsadm counted
/// the same connections per real server. `want` is (page name, real server address
/// with port, count).
fn assert_split(
    rig: &Rig,
    what: &str,
    (tally, before, after): &(Tally, Conns, Conns),
    service: &str,
    want: &[(&str, &str, usize)],
) {
    let names: Vec<&str> = want.iter().map(|w| w.0).collect();
    if !tally.all_from(&names) {
        rig.fail(&format!("{what}: want answers only from {names:?}, got {tally}"));
    }
    for (name, dest, count) in want {
        let counted = after.since(before, service, dest);
        if tally.count(name) != *count || counted != *count as u64 {
            rig.fail(&format!(
                "{what}: {name} answered {} and ipvsadm counted {counted} connections to {dest}, want {count} (all: {tally})",
                tally.count(name)
            ));
        }
    }
    rig.note(&format!("{what}: {tally}, ipvsadm agrees"));
}
