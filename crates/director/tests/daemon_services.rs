//! The daemon's virtual-server task end to end on the host: real TCP checks against
//! listeners on 127.0.0.1, real decisions, the reconciler on an in-memory kernel
//! (the host has no IPVS; the VM lab runs the same path against the real one).

use std::net::{IpAddr, TcpListener};
use std::time::Duration;

use director::config::Config;
use director::daemon::services::{Command, Services};
use director::reconcile::{ApplyReport, FakeKernel, Reconciler};
use ipvs::{Destination, Service, ServiceKey, Table, TableService};
use tokio::sync::{mpsc, oneshot, watch};
use vrrp::counters::Counters;
use vrrp::driver::DriverStatus;
use vrrp::machine::{InstanceStatus, State};

const VIP: &str = "192.0.2.100";

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    (l, port)
}

fn yaml(ports: &[u16], weights: &[u32], sorry: u16, owner: bool) -> String {
    let mut rs = String::new();
    for (port, weight) in ports.iter().zip(weights) {
        rs.push_str(&format!("      - {{address: 127.0.0.1, port: {port}, weight: {weight}}}\n"));
    }
    let vrrp_instance = if owner { "    vrrp_instance: vi1\n" } else { "" };
    format!(
        "director: {{id: test}}
vrrp:
  instances:
    - {{name: vi1, interface: eth0, vrid: 51, priority: 100, virtual_addresses: [{VIP}/24]}}
virtual_servers:
  - name: web
    address: {VIP}
    port: 80
    scheduler: wrr
    forwarding: nat
    sorry_server: {{address: 127.0.0.1, port: {sorry}}}
{vrrp_instance}    check: {{type: tcp, delay_loop: 200ms, connect_timeout: 300ms, retry: 0, delay_before_retry: 100ms}}
    real_servers:
{rs}"
    )
}

fn config(text: &str) -> Config {
    Config::from_yaml(text, "test.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn vrrp_state(state: State) -> DriverStatus {
    vrrp_heard(state, None)
}

/// `state`, hearing `master`'s adverts every 100 ms.
fn vrrp_heard(state: State, master: Option<&str>) -> DriverStatus {
    DriverStatus {
        instances: vec![InstanceStatus {
            name: "vi1".into(),
            state,
            priority: 100,
            effective_priority: 100,
            advert_interval_cs: 10,
            master: master.map(|m| m.parse().expect("address")),
            faults: Vec::new(),
            counters: Counters::default(),
        }],
        ..DriverStatus::default()
    }
}

fn key() -> ServiceKey {
    ServiceKey::Addr { protocol: ipvs::Protocol::Tcp, addr: VIP.parse().expect("vip"), port: 80 }
}

/// The destinations of our service in the fake kernel: (port, weight).
fn dests(kernel: &FakeKernel) -> Option<Vec<(u16, u32)>> {
    let table = kernel.table();
    let service = table.services.iter().find(|s| s.service.key == key())?;
    let mut d: Vec<_> = service.destinations.iter().map(|d| (d.port, d.weight)).collect();
    d.sort_unstable();
    Some(d)
}

fn unmanaged() -> TableService {
    let key = ServiceKey::Addr {
        protocol: ipvs::Protocol::Udp,
        addr: "203.0.113.9".parse().expect("addr"),
        port: 53,
    };
    let addr: IpAddr = "198.51.100.9".parse().expect("addr");
    TableService { service: Service::new(key), destinations: vec![Destination::new(addr, 53)] }
}

fn sorted(dests: &[(u16, u32)]) -> Option<Vec<(u16, u32)>> {
    let mut d = dests.to_vec();
    d.sort_unstable();
    Some(d)
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        if std::env::var_os("TRACE_TEST").is_some() {
            eprintln!("waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn send(
    commands: &mpsc::Sender<Command>,
    make: impl FnOnce(oneshot::Sender<ApplyReport>) -> Command,
) -> ApplyReport {
    let (tx, rx) = oneshot::channel();
    commands.send(make(tx)).await.expect("services running");
    rx.await.expect("answer")
}

#[tokio::test(flavor = "current_thread")]
async fn checks_drive_the_table_sorry_server_reload_and_stop() {
    let (l1, p1) = listener();
    let (l2, p2) = listener();
    let (l3, p3) = listener();
    let (_sorry, ps) = listener();
    let first = config(&yaml(&[p1, p2, p3], &[1, 2, 3], ps, false));
    let kernel = FakeKernel::new(Table { services: vec![unmanaged()] });
    let reconciler = Reconciler::spawn(kernel.clone()).expect("reconciler");
    let (_vrrp_tx, vrrp_rx) = watch::channel(DriverStatus::default());
    let services = Services::new(&first, checker::NetProber, reconciler, vrrp_rx);
    let (commands, rx) = mpsc::channel(4);
    let task = tokio::spawn(services.run(rx));

    // Up at start (no alpha): all three with their weights.
    wait_for("three real servers", || dests(&kernel) == sorted(&[(p1, 1), (p2, 2), (p3, 3)])).await;

    // One listener gone: its real server leaves after one failed probe (retry 0).
    drop(l2);
    wait_for("rs2 removed", || dests(&kernel) == sorted(&[(p1, 1), (p3, 3)])).await;
    let (tx, rx) = oneshot::channel();
    commands.send(Command::Status(tx)).await.expect("status");
    let status = rx.await.expect("status answer");
    let rs2 = status[0].real_servers.iter().find(|r| r.port == p2).expect("rs2 in status");
    assert!(!rs2.healthy && !rs2.in_ipvs, "{rs2:?}");
    assert!(rs2.last_check.as_ref().is_some_and(|c| !c.ok), "{rs2:?}");

    // All gone: the sorry server alone.
    drop(l1);
    drop(l3);
    wait_for("sorry server", || dests(&kernel) == sorted(&[(ps, 1)])).await;
    let (tx, rx) = oneshot::channel();
    commands.send(Command::Status(tx)).await.expect("status");
    let status = rx.await.expect("status answer");
    assert!(status[0].sorry_server_active && !status[0].quorum_up, "{:?}", status[0]);

    // Back: real servers in, sorry server out.
    let _l1 = TcpListener::bind(("127.0.0.1", p1)).expect("rebind 1");
    let _l2 = TcpListener::bind(("127.0.0.1", p2)).expect("rebind 2");
    let _l3 = TcpListener::bind(("127.0.0.1", p3)).expect("rebind 3");
    wait_for("recovery", || dests(&kernel) == sorted(&[(p1, 1), (p2, 2), (p3, 3)])).await;

    // A reload changing one weight is one operation.
    let second = config(&yaml(&[p1, p2, p3], &[1, 5, 3], ps, false));
    let report = send(&commands, |tx| Command::Reload(std::sync::Arc::new(second), tx)).await;
    assert_eq!(report.ops.len(), 1, "{:?}", report.ops);
    assert!(!report.read_kernel);
    assert_eq!(dests(&kernel), sorted(&[(p1, 1), (p2, 5), (p3, 3)]));

    // Stop removes our service and nothing else.
    let report = send(&commands, Command::Stop).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    task.await.expect("task");
    assert_eq!(dests(&kernel), None);
    assert_eq!(kernel.table().services, vec![unmanaged()]);
}

#[tokio::test(flavor = "current_thread")]
async fn rules_follow_the_vrrp_master() {
    let (_l1, p1) = listener();
    let (_sorry, ps) = listener();
    let config = config(&yaml(&[p1], &[1], ps, true));
    let kernel = FakeKernel::new(Table::default());
    let reconciler = Reconciler::spawn(kernel.clone()).expect("reconciler");
    let (vrrp_tx, vrrp_rx) = watch::channel(vrrp_state(State::Backup));
    let services = Services::new(&config, checker::NetProber, reconciler, vrrp_rx);
    let (commands, rx) = mpsc::channel(4);
    let task = tokio::spawn(services.run(rx));

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(dests(&kernel), None, "a BACKUP installs no rules");
    vrrp_tx.send_replace(vrrp_state(State::Master));
    wait_for("rules on MASTER", || dests(&kernel) == sorted(&[(p1, 1)])).await;
    vrrp_tx.send_replace(vrrp_state(State::Fault));
    wait_for("rules gone on FAULT", || dests(&kernel).is_none()).await;
    vrrp_tx.send_replace(vrrp_state(State::Master));
    wait_for("rules back", || dests(&kernel) == sorted(&[(p1, 1)])).await;

    let report = send(&commands, Command::Stop).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    task.await.expect("task");
    assert!(kernel.table().services.is_empty());
}

/// A restarted director finds its own rules in the kernel and hears the old peer as a
/// BACKUP before it preempts it: the rules stay (no connection lost) unless it is still
/// BACKUP after a master-down interval.
#[tokio::test(flavor = "current_thread")]
async fn a_restarted_director_keeps_its_rules_until_its_role_settles() {
    let (_l1, p1) = listener();
    let (_sorry, ps) = listener();
    let config = config(&yaml(&[p1], &[1], ps, true));
    let ours = TableService {
        service: config.virtual_servers[0].service.clone(),
        destinations: config.virtual_servers[0]
            .real_servers
            .iter()
            .map(|rs| rs.destination.clone())
            .collect(),
    };
    let peer = Some("192.0.2.2");

    // Preempts after a while: never a delete.
    let kernel = FakeKernel::new(Table { services: vec![ours.clone()] });
    let reconciler = Reconciler::spawn(kernel.clone()).expect("reconciler");
    let (vrrp_tx, vrrp_rx) = watch::channel(vrrp_heard(State::Backup, peer));
    let services = Services::new(&config, checker::NetProber, reconciler, vrrp_rx);
    let (commands, rx) = mpsc::channel(4);
    let task = tokio::spawn(services.run(rx));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(dests(&kernel), sorted(&[(p1, 1)]), "kept while BACKUP under a lower master");
    vrrp_tx.send_replace(vrrp_state(State::Master));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(kernel.accepted().is_empty(), "{:?}", kernel.accepted());
    send(&commands, Command::Stop).await;
    task.await.expect("task");

    // Stays BACKUP under a master past the master-down interval (3 x 100 ms + 1 s):
    // the rules are the master's business, they go.
    let kernel = FakeKernel::new(Table { services: vec![ours] });
    let reconciler = Reconciler::spawn(kernel.clone()).expect("reconciler");
    let (_vrrp_tx, vrrp_rx) = watch::channel(vrrp_heard(State::Backup, peer));
    let services = Services::new(&config, checker::NetProber, reconciler, vrrp_rx);
    let (commands, rx) = mpsc::channel(4);
    let task = tokio::spawn(services.run(rx));
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(dests(&kernel), sorted(&[(p1, 1)]), "still inside the master-down interval");
    wait_for("rules removed once settled as BACKUP", || dests(&kernel).is_none()).await;
    send(&commands, Command::Stop).await;
    task.await.expect("task");
}

/// Check results that change nothing (first verdicts confirming the start state, steady
/// passes) send nothing to the kernel: at 10,000 checks a whole-table reconcile per
/// result is what made a daemon fall behind its own checks.
#[tokio::test(flavor = "current_thread")]
async fn results_that_change_nothing_send_nothing() {
    let (_l1, p1) = listener();
    let (_l2, p2) = listener();
    let (_sorry, ps) = listener();
    let config = config(&yaml(&[p1, p2], &[1, 2], ps, false));
    let kernel = FakeKernel::new(Table::default());
    let reconciler = Reconciler::spawn(kernel.clone()).expect("reconciler");
    let watcher = reconciler.clone();
    let (_vrrp_tx, vrrp_rx) = watch::channel(DriverStatus::default());
    let services = Services::new(&config, checker::NetProber, reconciler, vrrp_rx);
    let (commands, rx) = mpsc::channel(4);
    let task = tokio::spawn(services.run(rx));
    wait_for("both in", || dests(&kernel) == sorted(&[(p1, 1), (p2, 2)])).await;
    let diffs = watcher.diffs();
    // delay_loop 200 ms: about five probes of each check, first verdicts included.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (tx, rx) = oneshot::channel();
    commands.send(Command::Status(tx)).await.expect("status");
    let status = rx.await.expect("status answer");
    assert!(status[0].real_servers.iter().all(|r| r.last_check.as_ref().is_some_and(|c| c.ok)));
    assert_eq!(watcher.diffs(), diffs, "passing checks were reconciled");
    send(&commands, Command::Stop).await;
    task.await.expect("task");
}
