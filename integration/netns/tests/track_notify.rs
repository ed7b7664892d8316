//! A tracked script that fails lowers the master's priority below the peer's and the
//! VIP moves; when it passes again the master takes the VIP back. Each transition
//! runs the state's notify command and the generic (`any`) one with keepalived's four
//! arguments, the priority being the effective one (what keepalived passes).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use netns_tests::{assert_roles, settle, status, wait_state, write_script};
use testkit::addrwatch::AddrWatch;
use testkit::directord::Directord;
use testkit::netns::{netns_available, Lan};
use testkit::router::{Instance, Router, Script, VIP};
use testkit::wait::wait_until;

#[test]
fn a_failing_tracked_script_moves_the_vip_and_notify_commands_see_each_transition() {
    if !netns_available() {
        return;
    }
    let lan = Lan::new("tn", 2);
    let (ha, hb) = (&lan.hosts[0], &lan.hosts[1]);
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("proxy-down");
    let chk = dir.path().join("chk.sh");
    // The check an operator writes: fails while the flag file exists.
    write_script(&chk, &format!("[ ! -e '{}' ]", flag.display()));
    let mut ia = Instance::v3(150, 100);
    ia.track_scripts = vec!["chk".into()];
    ia.notify = true;
    let mut ib = Instance::v3(100, 100);
    ib.notify = true;
    let (wa, wb) = (AddrWatch::start(ha, "eth0").unwrap(), AddrWatch::start(hb, "eth0").unwrap());

    // B alone becomes MASTER, then A (150) starts and preempts it.
    let b = Directord::start(hb, &Router::new("lb2", ib.clone())).unwrap();
    wait_state(&b, "MASTER", settle(&ib));
    let start_b = ["backup", "INSTANCE vi1 BACKUP 100"];
    let mut seen_b = expect_new(&b, 0, &["master", "INSTANCE vi1 MASTER 100"], &start_b);
    let router_a =
        Router::new("lb1", ia.clone()).with_script(Script::every_second("chk", &chk, -60));
    let mut a = Directord::start(ha, &router_a).unwrap();
    wait_state(&a, "MASTER", settle(&ia));
    wait_state(&b, "BACKUP", settle(&ib));
    assert_roles(&lan, (&a, 0), (&b, 1));
    // An instance that starts as BACKUP may announce it (keepalived does); nothing else.
    let mut seen_a = expect_new(
        &a,
        0,
        &["master", "INSTANCE vi1 MASTER 150"],
        &["backup", "INSTANCE vi1 BACKUP 150"],
    );
    seen_b = expect_new(&b, seen_b, &["backup", "INSTANCE vi1 BACKUP 100"], &[]);

    // The check fails: 150 - 60 = 90 < 100, B (preempt) takes the VIP.
    let failed = Instant::now();
    std::fs::write(&flag, "down").unwrap();
    // One check interval (1 s) + B's Master_Down_Interval + margins.
    let moved = wb.wait_change(VIP, true, failed, Duration::from_secs(5));
    assert!(moved.is_some(), "the VIP stayed: {:?}\n{}", a.status(), a.log());
    wait_state(&a, "BACKUP", Duration::from_secs(2));
    assert_roles(&lan, (&b, 1), (&a, 0));
    let s = status(&a);
    let vi = s.instance("vi1");
    assert_eq!((vi.priority, vi.effective_priority), (150, 90), "{s:?}");
    seen_a = expect_new(&a, seen_a, &["backup", "INSTANCE vi1 BACKUP 90"], &[]);
    seen_b = expect_new(&b, seen_b, &["master", "INSTANCE vi1 MASTER 100"], &[]);

    // It passes again: back to 150, A preempts.
    let recovered = Instant::now();
    std::fs::remove_file(&flag).unwrap();
    let back = wa.wait_change(VIP, true, recovered, Duration::from_secs(5));
    assert!(back.is_some(), "A did not take the VIP back: {:?}", a.status());
    wait_state(&a, "MASTER", Duration::from_secs(2));
    wait_state(&b, "BACKUP", Duration::from_secs(2));
    assert_eq!(status(&a).instance("vi1").effective_priority, 150);
    seen_a = expect_new(&a, seen_a, &["master", "INSTANCE vi1 MASTER 150"], &[]);
    seen_b = expect_new(&b, seen_b, &["backup", "INSTANCE vi1 BACKUP 100"], &[]);

    // SIGTERM: A runs its stop command; B becomes MASTER.
    a.kill(libc::SIGTERM).unwrap();
    let exit = a.wait_exit(Duration::from_secs(2));
    assert!(exit.is_some_and(|e| e.success()), "exit {exit:?}\n{}", a.log());
    expect_new(&a, seen_a, &["stop", "INSTANCE vi1 STOP 150"], &[]);
    expect_new(&b, seen_b, &["master", "INSTANCE vi1 MASTER 100"], &[]);
}

/// Waits for the notify lines after the first `seen` to be `want` (in any order: the
/// state's command and the generic one are separate processes), allowing `optional`
/// lines as a whole before them; returns the new count.
fn expect_new(d: &Directord, seen: usize, want: &[&str], optional: &[&str]) -> usize {
    let new = || d.notify_lines().into_iter().skip(seen).collect::<Vec<_>>();
    wait_until(Duration::from_secs(3), || new().len() >= want.len());
    // Late extras (a second transition, a duplicate run) would show up meanwhile.
    std::thread::sleep(Duration::from_millis(300));
    let mut got = new();
    let total = seen + got.len();
    let has_optional = !optional.is_empty() && optional.iter().all(|o| got.iter().any(|g| g == o));
    if has_optional && got.len() == want.len() + optional.len() {
        got.retain(|g| !optional.contains(&g.as_str()));
    }
    got.sort();
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "notify lines after the first {seen}: {:?}", d.notify_lines());
    total
}
