//! SIGTERM: the MASTER leaves within 2 s (priority 0, VIPs and rules gone) and the
//! BACKUP serves; with 10,000 real servers the rules still go within 2 s, or stay with
//! `keep_rules_on_exit: true` and are adopted unchanged by the next start.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use lab_tests::config::METRICS;
use lab_tests::rig::in_netns;
use lab_tests::{Expect, LabDirector, Rig};
use testkit::netns::Netns;

use super::{dr_round, require_vm, say, ROUNDS};

/// DESIGN.md: SIGTERM is done within 2 s.
const STOP_BUDGET: Duration = Duration::from_secs(2);

/// Sends SIGTERM and times the exit; fails past the budget or on a non-zero exit.
fn sigterm(d: &mut LabDirector) -> Duration {
    let t0 = Instant::now();
    d.signal(libc::SIGTERM).unwrap_or_else(|e| panic!("SIGTERM: {e}"));
    let status = d.wait_exit(Duration::from_secs(10));
    let took = t0.elapsed();
    let status = status.unwrap_or_else(|| panic!("no exit 10 s after SIGTERM; log:\n{}", d.log()));
    assert!(status.success(), "exit {status} after SIGTERM; log:\n{}", d.log());
    assert!(took <= STOP_BUDGET, "SIGTERM took {took:?} (> {STOP_BUDGET:?}); log:\n{}", d.log());
    took
}

#[test]
#[ignore = "runs inside the IPVS VM: scripts/vm-lab.sh"]
fn s8_sigterm_master_leaves_within_2s_and_the_backup_serves() {
    require_vm();
    let mut rig = Rig::start("s8");
    let took = sigterm(rig.director_mut(0));
    rig.note(&format!("lb1: SIGTERM to exit {took:?} (budget {STOP_BUDGET:?})"));
    if !rig.holds_nothing(0) {
        rig.fail("lb1 exited but still holds a VIP or a rule");
    }
    rig.directors[0] = None;
    let took = rig.wait(Duration::from_secs(10), &Expect::steady(1));
    rig.note(&format!("lb2 MASTER with VIPs and rules after {took:?}"));
    let (tally, ..) = dr_round(&rig, 1, ROUNDS);
    if !tally.errors.is_empty() || tally.ok() != ROUNDS {
        rig.fail(&format!("requests through lb2: {tally}"));
    }
    rig.note("done");
}

const SERVICES: usize = 1000;
const PER_SERVICE: usize = 10;

/// 1,000 NAT services × 10 real servers, no checks (always up), no VRRP.
fn big_yaml(keep_rules: bool) -> String {
    let mut y =
        format!("director: {{id: big, keep_rules_on_exit: {keep_rules}, metrics: \"{METRICS}\"}}\nvirtual_servers:\n");
    for s in 0..SERVICES {
        let _ = write!(
            y,
            "  - {{name: vs{s}, address: 203.0.113.{}, port: {}, scheduler: rr, forwarding: nat, real_servers: [",
            1 + s % 250,
            10_000 + s / 250
        );
        for r in 0..PER_SERVICE {
            let sep = if r == 0 { "" } else { ", " };
            let _ = write!(y, "{sep}{{address: 198.51.100.{}, port: 80}}", 1 + r);
        }
        y.push_str("]}\n");
    }
    y
}

/// A scrape of 10,000 real servers: whole (every part answered in time, a series per
/// real server and per kernel destination), and how long it took.
fn scrape_big(ns: &Netns) {
    let addr = METRICS.parse().unwrap_or_else(|e| panic!("{METRICS}: {e}"));
    let t0 = Instant::now();
    let text = testkit::metrics::scrape(ns, addr).unwrap_or_else(|e| panic!("scrape: {e}"));
    let took = t0.elapsed();
    let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
    let full = SERVICES * PER_SERVICE;
    assert_eq!(count("director_scrape_success{part=\"virtual_servers\"} 1"), 1, "{took:?}");
    assert_eq!(count("director_scrape_success{part=\"ipvs_stats\"} 1"), 1, "{took:?}");
    assert_eq!(count("director_real_server_in_ipvs{"), full);
    assert_eq!(count("director_ipvs_real_server_connections_total{"), full);
    say(&format!(
        "lab[s9]: a scrape of {full} real servers: {took:?}, {} lines, {} KiB",
        text.lines().count(),
        text.len() / 1024
    ));
}

/// Services and real servers in `ns`'s table, from `ipvsadm -Ln`.
fn counts(ns: &Netns) -> (usize, usize) {
    let text = in_netns(ns, &["ipvsadm", "-Ln"]).unwrap_or_else(|e| panic!("{e}"));
    let services = text.lines().filter(|l| l.starts_with("TCP ")).count();
    let reals = text.lines().filter(|l| l.trim_start().starts_with("-> 198.51.100.")).count();
    (services, reals)
}

fn wait_counts(ns: &Netns, want: (usize, usize), within: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let now = counts(ns);
        if now == want {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < within, "table {now:?}, want {want:?} within {within:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[ignore = "runs inside the IPVS VM: scripts/vm-lab.sh"]
fn s9_sigterm_with_10000_real_servers_within_2s_rules_removed_or_kept() {
    require_vm();
    let ns = Netns::new("big");
    let full = (SERVICES, SERVICES * PER_SERVICE);

    let mut d = LabDirector::start(&ns, "big", &big_yaml(false)).unwrap_or_else(|e| panic!("{e}"));
    let took = wait_counts(&ns, full, Duration::from_secs(60));
    say(&format!("lab[s9]: {full:?} installed {took:?} after the daemon answered"));
    scrape_big(&ns);
    let took = sigterm(&mut d);
    assert_eq!(counts(&ns), (0, 0), "rules left after SIGTERM; log:\n{}", d.log());
    say(&format!("lab[s9]: SIGTERM with {} real servers, rules removed: {took:?}", full.1));

    let mut d = LabDirector::start(&ns, "big", &big_yaml(true)).unwrap_or_else(|e| panic!("{e}"));
    wait_counts(&ns, full, Duration::from_secs(60));
    let took = sigterm(&mut d);
    assert_eq!(counts(&ns), full, "keep_rules_on_exit: rules gone; log:\n{}", d.log());
    say(&format!("lab[s9]: SIGTERM with keep_rules_on_exit: {took:?}, rules kept"));

    // The next start adopts the kept table: no operation at all.
    let before = in_netns(&ns, &["ipvsadm", "-Sn"]).unwrap_or_else(|e| panic!("{e}"));
    let mut d = LabDirector::start(&ns, "big", &big_yaml(true)).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_secs(2));
    let after = in_netns(&ns, &["ipvsadm", "-Sn"]).unwrap_or_else(|e| panic!("{e}"));
    assert!(before == after, "a start on our own rules changed the table");
    assert!(
        !d.log().contains("ipvs (startup):"),
        "a start on our own rules sent operations; log:\n{}",
        d.log()
    );
    sigterm(&mut d);
    say("lab[s9]: a restart adopted 10,000 kept real servers without an operation");
}
