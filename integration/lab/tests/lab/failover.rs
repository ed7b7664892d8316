//! Scenarios 4 and 5: lb1 dies (directord SIGKILLed and the host unplugged from both
//! LANs, as a crashed machine), lb2 takes the VIP, the gateway and the rules, and
//! requests flow again through DR and NAT; lb1 comes back (plugged in, directord
//! restarted over what its crash left behind) and preempts: MASTER again, rules and
//! VIPs back on lb1, none left on lb2.

use std::time::{Duration, Instant};

use lab_tests::config::{master_down, PRIORITY, SLACK};
use lab_tests::topology::{dr_service, nat_service};
use lab_tests::{Expect, LabDirector, Rig};

use super::{assert_split, dr_round, nat_round, require_vm, ROUNDS};

/// Requests through `lb`'s table split as configured, DR and NAT.
fn traffic_through(rig: &Rig, lb: usize, what: &str) {
    let split = dr_round(rig, lb, ROUNDS);
    assert_split(
        rig,
        &format!("DR {what}"),
        &split,
        &dr_service().to_string(),
        &[("rs1", "192.0.2.21:80", 10), ("rs2", "192.0.2.22:80", 20), ("rs3", "192.0.2.23:80", 30)],
    );
    let split = nat_round(rig, lb, 20);
    assert_split(
        rig,
        &format!("NAT {what}"),
        &split,
        &nat_service().to_string(),
        &[("nat1", "198.51.100.11:80", 10), ("nat2", "198.51.100.12:80", 10)],
    );
}

/// Kills lb1 and waits for lb2 to own everything; returns the dead director.
fn lb1_dies(rig: &mut Rig) -> LabDirector {
    let mut lb1 = rig.directors[0].take().unwrap_or_else(|| panic!("lb1 not running"));
    lb1.kill9();
    rig.lab.set_director_link(0, false);
    rig.note("lb1: directord SIGKILLed, unplugged");
    // lb2 hears no advert and takes over when its master-down timer runs out.
    let bound = master_down(PRIORITY[1]) + SLACK;
    rig.time_until("lb2 holds the VIPs and the rules", bound, || rig.owns_everything(1));
    let took = rig.wait(Duration::from_secs(5), &Expect::steady(1));
    rig.note(&format!("lb2 MASTER in its status, ipvsadm agrees ({took:?} more)"));
    lb1
}

#[test]
#[ignore = "needs the IPVS VM: scripts/vm-lab.sh"]
fn s4_lb1_killed_lb2_takes_over_dr_and_nat() {
    require_vm();
    let t0 = Instant::now();
    let mut rig = Rig::start("s4");
    traffic_through(&rig, 0, "through lb1");
    let _lb1 = lb1_dies(&mut rig);
    traffic_through(&rig, 1, "through lb2");
    let status = rig.status(1);
    let became = status.vrrp_instances[0].counters.became_master;
    if became != 1 {
        rig.fail(&format!("lb2 became MASTER {became} times, want once"));
    }
    rig.note(&format!("done in {:.3}s", t0.elapsed().as_secs_f64()));
}

#[test]
#[ignore = "needs the IPVS VM: scripts/vm-lab.sh"]
fn s5_lb1_back_preempts_and_lb2_lets_go() {
    require_vm();
    let t0 = Instant::now();
    let mut rig = Rig::start("s5");
    let mut lb1 = lb1_dies(&mut rig);
    traffic_through(&rig, 1, "through lb2");

    rig.lab.set_director_link(0, true);
    let restarted = Instant::now();
    if let Err(e) = lb1.restart(&rig.lab.lb[0]) {
        rig.fail(&e);
    }
    rig.directors[0] = Some(lb1);
    rig.note("lb1: plugged in, directord restarted (its crash left VIPs and rules behind)");
    // It starts as BACKUP, hears lb2's lower priority, and takes over when its own
    // master-down timer runs out (preempt: true).
    let bound = master_down(PRIORITY[0]) + SLACK;
    rig.time_until("lb1 holds the VIPs and the rules, lb2 nothing", bound, || {
        rig.owns_everything(0) && rig.holds_nothing(1)
    });
    rig.note(&format!("{:?} since the restart began", restarted.elapsed()));
    let took = rig.wait(Duration::from_secs(5), &Expect::steady(0));
    rig.note(&format!("lb1 MASTER, lb2 BACKUP in their status, ipvsadm agrees ({took:?} more)"));
    traffic_through(&rig, 0, "through lb1 again");
    let lb2 = rig.status(1);
    let transitions = &lb2.vrrp_instances[0].counters;
    rig.note(&format!(
        "lb2 counters: became_master {}, transitions {}",
        transitions.became_master, transitions.transitions
    ));
    rig.note(&format!("done in {:.3}s", t0.elapsed().as_secs_f64()));
}
