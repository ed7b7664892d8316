//! Scenarios 2, 3 and 7: health checks drive the MASTER's table. A stopped real
//! server leaves it within keepalived's bound, all of them down bring the sorry server
//! in, recovery takes it out again, and a rule removed behind the daemon's back
//! comes back at the next resync.

use std::time::{Duration, Instant};

use lab_tests::config::{removal_bound, DELAY_LOOP, SLACK};
use lab_tests::ipvsadm::Table;
use lab_tests::topology::{dr_service, nat_service, DR_REAL, NAT_REAL};
use lab_tests::{Expect, Rig};

use super::{assert_split, dr_round, nat_round, require_vm, ROUNDS};

/// Times `cond` on lb1's kernel table (read from /proc, every 10 ms).
fn time_table(rig: &Rig, what: &str, limit: Duration, cond: impl Fn(&Table) -> bool) -> Duration {
    rig.time_until(what, limit, || cond(&rig.kernel_table(0)))
}

fn lists(table: &Table, service: &str, dest: &str) -> bool {
    table.dests(service).iter().any(|(d, _)| d == dest)
}

#[test]
#[ignore = "needs the IPVS VM: scripts/vm-lab.sh"]
fn s2_stopped_real_server_leaves_within_check_bound_dr_and_nat() {
    require_vm();
    let t0 = Instant::now();
    let mut rig = Rig::start("s2");
    let dr = dr_service().to_string();
    rig.lab.dr_httpd(0).kill();
    rig.note("rs1's httpd killed");
    let bound = removal_bound() + SLACK;
    time_table(&rig, "rs1 out of lb1's table", bound, |t| !lists(t, &dr, "192.0.2.21:80"));
    let down =
        Expect { dr: Expect::steady(0).dr.with(DR_REAL[0], false, false), ..Expect::steady(0) };
    rig.wait(Duration::from_secs(3), &down);
    let rs1 = rig.status(0);
    let check = rs1
        .virtual_server("web-dr")
        .and_then(|v| v.real_server("192.0.2.21"))
        .and_then(|r| r.last_check.clone());
    match check {
        Some(c) if !c.ok && c.error.is_some() => {
            rig.note(&format!("rs1 last_check error: {:?}", c.error))
        }
        other => {
            rig.fail(&format!("rs1's last_check should be a failure with its error: {other:?}"))
        }
    }
    // From here on no request fails, and rs2/rs3 split 2:3.
    let split = dr_round(&rig, 0, ROUNDS);
    assert_split(
        &rig,
        "DR without rs1",
        &split,
        &dr,
        &[("rs2", "192.0.2.22:80", 24), ("rs3", "192.0.2.23:80", 36)],
    );

    rig.lab.restart_dr_httpd(0);
    rig.note("rs1's httpd back");
    time_table(&rig, "rs1 back in lb1's table", DELAY_LOOP + SLACK, |t| {
        lists(t, &dr, "192.0.2.21:80")
    });
    rig.wait(Duration::from_secs(3), &Expect::steady(0));
    let split = dr_round(&rig, 0, ROUNDS);
    assert_split(
        &rig,
        "DR with rs1 again",
        &split,
        &dr,
        &[("rs1", "192.0.2.21:80", 10), ("rs2", "192.0.2.22:80", 20), ("rs3", "192.0.2.23:80", 30)],
    );

    // NAT, HTTP check: nat1 stopped leaves the same way; nat2 takes every request.
    let nat = nat_service().to_string();
    rig.lab.nat_httpd(0).kill();
    rig.note("nat1's httpd killed");
    time_table(&rig, "nat1 out of lb1's table", bound, |t| !lists(t, &nat, "198.51.100.11:80"));
    let down =
        Expect { nat: Expect::steady(0).nat.with(NAT_REAL[0], false, false), ..Expect::steady(0) };
    rig.wait(Duration::from_secs(3), &down);
    let split = nat_round(&rig, 0, 10);
    assert_split(&rig, "NAT without nat1", &split, &nat, &[("nat2", "198.51.100.12:80", 10)]);
    rig.note(&format!("done in {:.3}s", t0.elapsed().as_secs_f64()));
}

#[test]
#[ignore = "needs the IPVS VM: scripts/vm-lab.sh"]
fn s3_all_real_servers_down_sorry_server_answers_then_steps_back() {
    require_vm();
    let t0 = Instant::now();
    let mut rig = Rig::start("s3");
    let dr = dr_service().to_string();
    for i in 0..3 {
        rig.lab.dr_httpd(i).kill();
    }
    rig.note("rs1..rs3's httpd killed");
    time_table(&rig, "sorry server in lb1's table", removal_bound() + SLACK, |t| {
        t.dests(&dr).iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>() == ["192.0.2.40:80"]
    });
    let sorry = Expect { dr: Expect::steady(0).dr.all_down(), ..Expect::steady(0) };
    rig.wait(Duration::from_secs(3), &sorry);
    let split = dr_round(&rig, 0, 10);
    assert_split(&rig, "DR all down", &split, &dr, &[("sorry", "192.0.2.40:80", 10)]);
    // The NAT service has its own real servers: untouched.
    let split = nat_round(&rig, 0, 4);
    assert_split(
        &rig,
        "NAT meanwhile",
        &split,
        &nat_service().to_string(),
        &[("nat1", "198.51.100.11:80", 2), ("nat2", "198.51.100.12:80", 2)],
    );

    for i in 0..3 {
        rig.lab.restart_dr_httpd(i);
    }
    rig.note("rs1..rs3's httpd back");
    time_table(&rig, "sorry server out, rs1..rs3 in", DELAY_LOOP + SLACK, |t| {
        let dests: Vec<String> = t.dests(&dr).into_iter().map(|(d, _)| d).collect();
        dests == ["192.0.2.21:80", "192.0.2.22:80", "192.0.2.23:80"]
    });
    rig.wait(Duration::from_secs(3), &Expect::steady(0));
    let split = dr_round(&rig, 0, ROUNDS);
    assert_split(
        &rig,
        "DR recovered",
        &split,
        &dr,
        &[("rs1", "192.0.2.21:80", 10), ("rs2", "192.0.2.22:80", 20), ("rs3", "192.0.2.23:80", 30)],
    );
    rig.note(&format!("done in {:.3}s", t0.elapsed().as_secs_f64()));
}

#[test]
#[ignore = "needs the IPVS VM: scripts/vm-lab.sh"]
fn s7_rules_changed_behind_the_daemon_come_back_within_a_resync() {
    require_vm();
    let t0 = Instant::now();
    let rig = Rig::start("s7");
    let dr = dr_service().to_string();
    let nat = nat_service().to_string();
    let ipvsadm = |args: &[&str]| {
        let mut argv = vec!["ipvsadm"];
        argv.extend_from_slice(args);
        lab_tests::rig::in_netns(&rig.lab.lb[0], &argv).unwrap_or_else(|e| rig.fail(&e))
    };
    let bound = DELAY_LOOP + SLACK;

    ipvsadm(&["-d", "-t", &dr, "-r", "192.0.2.22:80"]);
    rig.note("ipvsadm -d rs2");
    time_table(&rig, "rs2 back", bound, |t| {
        t.dests(&dr).contains(&("192.0.2.22:80".to_string(), 2))
    });

    ipvsadm(&["-e", "-t", &dr, "-r", "192.0.2.23:80", "-g", "-w", "9"]);
    rig.note("ipvsadm -e rs3 weight 9");
    time_table(&rig, "rs3's weight 3 again", bound, |t| {
        t.dests(&dr).contains(&("192.0.2.23:80".to_string(), 3))
    });

    ipvsadm(&["-D", "-t", &nat]);
    rig.note("ipvsadm -D the NAT service");
    let nat_dests = NAT_REAL.map(|a| (format!("{a}:80"), 1)).to_vec();
    time_table(&rig, "NAT service back", bound, |t| t.dests(&nat) == nat_dests);

    ipvsadm(&["-a", "-t", &dr, "-r", "192.0.2.99:80", "-g", "-w", "1"]);
    rig.note("ipvsadm -a a stranger 192.0.2.99");
    time_table(&rig, "stranger gone", bound, |t| !lists(t, &dr, "192.0.2.99:80"));

    rig.wait(Duration::from_secs(3), &Expect::steady(0));
    let split = dr_round(&rig, 0, ROUNDS);
    assert_split(
        &rig,
        "DR after resyncs",
        &split,
        &dr,
        &[("rs1", "192.0.2.21:80", 10), ("rs2", "192.0.2.22:80", 20), ("rs3", "192.0.2.23:80", 30)],
    );
    let split = nat_round(&rig, 0, 4);
    assert_split(
        &rig,
        "NAT after resync",
        &split,
        &nat,
        &[("nat1", "198.51.100.11:80", 2), ("nat2", "198.51.100.12:80", 2)],
    );
    rig.note(&format!("done in {:.3}s", t0.elapsed().as_secs_f64()));
}
