//! Scenario 1: the MASTER's table follows the configured weights, and real HTTP
//! through it splits exactly by them, DR (wrr 1/2/3) and NAT (rr) alike.

use std::time::Instant;

use lab_tests::topology::{dr_service, nat_service};
use lab_tests::Rig;

use super::{assert_split, dr_round, nat_round, require_vm, ROUNDS};

#[test]
#[ignore = "needs the IPVS VM: scripts/vm-lab.sh"]
fn s1_requests_split_by_wrr_weights_dr_and_nat() {
    require_vm();
    let t0 = Instant::now();
    let rig = Rig::start("s1");
    // Rig::start already waited for lb1's table to list rs1..rs3 with weights 1/2/3
    // and nat1, nat2 (ipvsadm -Ln), and lb2's to list none of it.
    let dr = dr_service().to_string();
    let split = dr_round(&rig, 0, ROUNDS);
    assert_split(
        &rig,
        "DR wrr",
        &split,
        &dr,
        &[("rs1", "192.0.2.21:80", 10), ("rs2", "192.0.2.22:80", 20), ("rs3", "192.0.2.23:80", 30)],
    );
    let nat = nat_service().to_string();
    let split = nat_round(&rig, 0, 20);
    assert_split(
        &rig,
        "NAT rr",
        &split,
        &nat,
        &[("nat1", "198.51.100.11:80", 10), ("nat2", "198.51.100.12:80", 10)],
    );
    // Nothing reached lb2's table: the BACKUP has no rules to count with.
    let lb2 = rig.ipvs(1).unwrap_or_else(|e| rig.fail(&e));
    if !lb2.services.is_empty() {
        rig.fail(&format!("lb2 (BACKUP) has rules:\n{lb2}"));
    }
    // The status agrees after the traffic too (nothing flapped meanwhile).
    let status = rig.status(0);
    let instance = &status.vrrp_instances[0];
    if instance.counters.became_master != 1 {
        rig.fail(&format!("lb1 became MASTER {} times", instance.counters.became_master));
    }
    rig.wait(std::time::Duration::from_secs(5), &lab_tests::Expect::steady(0));
    rig.note(&format!("done in {:.3}s", t0.elapsed().as_secs_f64()));
}
