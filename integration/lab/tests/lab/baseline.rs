//! The lab without directord: rules written by ipvsadm in lb1's namespace and the VIPs
//! added by hand. Proves the topology (DR with the VIP on the real servers' lo, NAT
//! through the floating gateway) carries real HTTP, so a failing scenario points at
//! the daemon, not at the lab.

use std::time::{Duration, Instant};

use lab_tests::http;
use lab_tests::ipvsadm::{Conns, Table};
use lab_tests::rig::{in_netns, STATS_TICK};
use lab_tests::topology::{dr_service, nat_service, Lab, DR_REAL, NAT_GATEWAY, NAT_REAL, VIP};

use super::{require_vm, say};

#[test]
#[ignore = "needs the IPVS VM: scripts/vm-lab.sh"]
fn s0_lab_carries_dr_and_nat_with_ipvsadm_rules() {
    require_vm();
    let t0 = Instant::now();
    let lab = Lab::new();
    say(&format!("lab[s0] +{:.3}s: lab built", t0.elapsed().as_secs_f64()));
    let lb1 = &lab.lb[0];
    let ipvsadm = |args: &[&str]| {
        let mut argv = vec!["ipvsadm"];
        argv.extend_from_slice(args);
        in_netns(lb1, &argv).unwrap_or_else(|e| panic!("{e}"))
    };
    lb1.run(&["ip", "addr", "add", &format!("{VIP}/24"), "dev", "eth0"]);
    lb1.run(&["ip", "addr", "add", &format!("{NAT_GATEWAY}/24"), "dev", "eth1"]);
    let dr = dr_service().to_string();
    let nat = nat_service().to_string();
    ipvsadm(&["-A", "-t", &dr, "-s", "wrr"]);
    for (i, rs) in DR_REAL.iter().enumerate() {
        let weight = (i + 1).to_string();
        ipvsadm(&["-a", "-t", &dr, "-r", &format!("{rs}:80"), "-g", "-w", &weight]);
    }
    ipvsadm(&["-A", "-t", &nat, "-s", "rr"]);
    for rs in NAT_REAL {
        ipvsadm(&["-a", "-t", &nat, "-r", &format!("{rs}:80"), "-m", "-w", "1"]);
    }
    let table = Table::parse(&ipvsadm(&["-Ln"])).unwrap_or_else(|e| panic!("{e}"));
    say(&format!("lab[s0]: table:\n{table}"));

    let stats =
        || Conns::parse(&ipvsadm(&["-Ln", "--stats", "--exact"])).unwrap_or_else(|e| panic!("{e}"));
    let before = stats();
    let t = Instant::now();
    let dr_tally = http::requests(&lab.client, dr_service(), 60);
    let dr_took = t.elapsed();
    let nat_tally = http::requests(&lab.client, nat_service(), 20);
    // The counters ipvsadm reads are folded from per-CPU ones every 2 s.
    let mut after = stats();
    let deadline = Instant::now() + STATS_TICK * 2;
    while (after.total_since(&before, &dr) < 60 || after.total_since(&before, &nat) < 20)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(200));
        after = stats();
    }
    say(&format!("lab[s0]: DR {dr_tally} ({dr_took:?} for 60), NAT {nat_tally}"));

    assert!(
        dr_tally.errors.is_empty() && nat_tally.errors.is_empty(),
        "DR {dr_tally}; NAT {nat_tally}"
    );
    for (i, rs) in DR_REAL.iter().enumerate() {
        let name = format!("rs{}", i + 1);
        let want = 10 * (i + 1);
        assert_eq!(dr_tally.count(&name), want, "DR {dr_tally}");
        assert_eq!(after.since(&before, &dr, &format!("{rs}:80")), want as u64, "{after:?}");
    }
    for (i, rs) in NAT_REAL.iter().enumerate() {
        assert_eq!(nat_tally.count(&format!("nat{}", i + 1)), 10, "NAT {nat_tally}");
        assert_eq!(after.since(&before, &nat, &format!("{rs}:80")), 10, "{after:?}");
    }
    // Without the rules nothing answers on the VIP's ports: the answers above came
    // through IPVS, not from something listening on lb1.
    ipvsadm(&["-C"]);
    let none = http::requests(&lab.client, dr_service(), 1);
    assert_eq!(none.ok(), 0, "{none}");
    say(&format!("lab[s0] done in {:.3}s", t0.elapsed().as_secs_f64()));
}
