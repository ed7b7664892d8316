//! Scenario 6: a reload with a broken file (YAML syntax, then a semantic error) is
//! refused by `directorctl reload` with the error, and the running config keeps
//! serving unchanged; a SIGHUP with a broken file changes nothing either. Good
//! reloads (directorctl and SIGHUP) do apply, so the refusals are not a daemon that
//! ignores reloads.

use std::time::{Duration, Instant};

use lab_tests::config::{LabConfig, DELAY_LOOP, SLACK};
use lab_tests::http;
use lab_tests::status::Status;
use lab_tests::topology::dr_service;
use lab_tests::{Expect, Rig};

use super::{assert_split, dr_round, require_vm, ROUNDS};

/// What must not change across a refused reload: per instance its state and
/// priority, per virtual server its health, weights and table membership.
fn summary(status: &Status) -> String {
    let mut s = String::new();
    for i in &status.vrrp_instances {
        s += &format!(
            "{} {} prio {} transitions {}\n",
            i.name, i.state, i.priority, i.counters.transitions
        );
    }
    for v in &status.virtual_servers {
        s += &format!("{} sorry {} quorum {}\n", v.name, v.sorry_server_active, v.quorum_up);
        for r in &v.real_servers {
            s += &format!(
                "  {}:{} w{} healthy {} in_ipvs {}\n",
                r.address, r.port, r.weight, r.healthy, r.in_ipvs
            );
        }
    }
    s
}

/// The 1-based number of the first line of `text` that is `line`.
fn line_of(text: &str, line: &str) -> usize {
    text.lines()
        .position(|l| l == line)
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("no line {line:?}"))
}

fn split_by(rig: &Rig, what: &str, weights: [usize; 3]) {
    let split = dr_round(rig, 0, ROUNDS);
    let [a, b, c] = weights.map(|w| w * ROUNDS / 6);
    assert_split(
        rig,
        what,
        &split,
        &dr_service().to_string(),
        &[("rs1", "192.0.2.21:80", a), ("rs2", "192.0.2.22:80", b), ("rs3", "192.0.2.23:80", c)],
    );
}

/// Reloads lb1 with `yaml`; it must be refused with a message that contains each of
/// `mentions`, and nothing may change.
fn refused(rig: &Rig, what: &str, yaml: &str, mentions: &[&str]) {
    let lb1 = rig.director(0);
    let before = summary(&rig.status(0));
    lb1.write_config(yaml);
    let out = lb1.reload();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        rig.fail(&format!("{what}: directorctl reload succeeded: {text}"));
    }
    for m in mentions {
        if !text.contains(m) {
            rig.fail(&format!("{what}: reload error does not mention {m:?}: {text}"));
        }
    }
    rig.note(&format!("{what}: refused ({}): {}", out.status, text.trim()));
    let after = summary(&rig.status(0));
    if after != before {
        rig.fail(&format!("{what}: status changed:\n{before}---\n{after}"));
    }
    rig.wait(Duration::from_secs(3), &Expect::steady(0));
    split_by(rig, &format!("DR after the refused {what}"), [1, 2, 3]);
}

#[test]
#[ignore = "needs the IPVS VM: scripts/vm-lab.sh"]
fn s6_bad_reload_is_refused_and_the_running_config_serves() {
    require_vm();
    let t0 = Instant::now();
    let mut rig = Rig::start("s6");
    let good = rig.config.yaml(0);

    // YAML that does not parse: a key indented less than its siblings. The error
    // names the file and the line (the parser notices at the bad line).
    let line = line_of(&good, "    scheduler: wrr");
    let broken = good.replacen("    scheduler: wrr", "   scheduler: wrr", 1);
    refused(&rig, "invalid YAML", &broken, &[&format!("director.yaml:{line}:")]);
    // Parses, but names a VRRP instance that does not exist: file, line and key.
    let line = line_of(&good, "    vrrp_instance: lab");
    let semantic = good.replacen("    vrrp_instance: lab", "    vrrp_instance: nosuch", 1);
    let at = format!("director.yaml:{line}:");
    refused(&rig, "unknown vrrp_instance", &semantic, &[&at, "vrrp_instance", "nosuch"]);

    // A good reload applies: weights 3/2/1, lb1 stays MASTER (no VRRP transition).
    let transitions = rig.status(0).vrrp_instances[0].counters.transitions;
    rig.config = LabConfig { dr_weights: [3, 2, 1], ..LabConfig::default() };
    for lb in 0..2 {
        let d = rig.director(lb);
        d.write_config(&rig.config.yaml(lb));
        let out = d.reload();
        if !out.status.success() {
            rig.fail(&format!(
                "lb{} good reload refused: {}{}",
                lb + 1,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // The reload answers once the kernel has the new table (the MASTER's).
        let dests = rig.kernel_table(0).dests(&dr_service().to_string());
        if lb == 0 && dests.iter().map(|(_, w)| *w).collect::<Vec<_>>() != [3, 2, 1] {
            rig.fail(&format!(
                "lb1's reload returned before its table had weights 3/2/1: {dests:?}"
            ));
        }
    }
    let took = rig.wait(Duration::from_secs(3), &Expect::steady(0));
    rig.note(&format!(
        "good reload (weights 3/2/1) in lb1's table when directorctl returned; status and ipvsadm agree {took:?} later"
    ));
    split_by(&rig, "DR after the good reload", [3, 2, 1]);
    let now = rig.status(0).vrrp_instances[0].counters.transitions;
    if now != transitions {
        rig.fail(&format!("reload caused VRRP transitions: {transitions} -> {now}"));
    }

    // SIGHUP with a broken file: the daemon lives on with weights 3/2/1.
    rig.director(0).write_config(&broken);
    rig.director_mut(0).signal(libc::SIGHUP).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(DELAY_LOOP * 2);
    if !rig.director_mut(0).running() {
        rig.fail("directord exited on SIGHUP with a broken file");
    }
    rig.wait(Duration::from_secs(3), &Expect::steady(0));
    split_by(&rig, "DR after a SIGHUP with a broken file", [3, 2, 1]);
    // SIGHUP with a good file applies (weights back to 1/2/3).
    rig.config = LabConfig::default();
    rig.director(0).write_config(&rig.config.yaml(0));
    rig.director_mut(0).signal(libc::SIGHUP).unwrap_or_else(|e| panic!("{e}"));
    let took = rig.wait(DELAY_LOOP + SLACK, &Expect::steady(0));
    rig.note(&format!("SIGHUP with weights 1/2/3 applied in {took:?}"));
    split_by(&rig, "DR after a good SIGHUP", [1, 2, 3]);
    rig.note(&format!("done in {:.3}s", t0.elapsed().as_secs_f64()));
}

/// A reload that removes a real server drains it: weight 0 (no new connections, the
/// established ones finish) until `drain_timeout`, then it leaves the table; new
/// requests meanwhile go to the others only.
#[test]
#[ignore = "runs inside the IPVS VM: scripts/vm-lab.sh"]
fn s10_a_reload_removing_a_real_server_drains_it() {
    require_vm();
    let mut rig = Rig::start("s10");
    let drain = Duration::from_secs(3);
    rig.config = LabConfig { dr_servers: 2, drain_timeout: Some(drain), ..LabConfig::default() };
    let service = dr_service().to_string();
    let lb1 = rig.director(0);
    lb1.write_config(&rig.config.yaml(0));
    let out = lb1.reload();
    let t0 = Instant::now();
    if !out.status.success() {
        rig.fail(&format!("reload: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let dests = rig.kernel_table(0).dests(&service);
    let rs3 = "192.0.2.23:80";
    if !dests.iter().any(|(addr, weight)| addr == rs3 && *weight == 0) {
        rig.fail(&format!("rs3 not draining (weight 0) right after the reload: {dests:?}"));
    }
    rig.note(&format!("rs3 draining with weight 0: {dests:?}"));
    let tally = http::requests(&rig.lab.client, dr_service(), 30);
    if !tally.all_from(&["rs1", "rs2"]) || tally.ok() != 30 {
        rig.fail(&format!("requests while rs3 drains: {tally}"));
    }
    let took = rig.time_until("rs3 gone after its drain", drain + SLACK * 2, || {
        !rig.kernel_table(0).dests(&service).iter().any(|(addr, _)| addr == rs3)
    });
    let since_reload = t0.elapsed();
    if since_reload + Duration::from_millis(500) < drain {
        rig.fail(&format!(
            "rs3 left {since_reload:?} after the reload, before its {drain:?} drain"
        ));
    }
    rig.note(&format!(
        "rs3 left the table {took:?} into the wait, {since_reload:?} after the reload"
    ));
}
