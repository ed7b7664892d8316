//! The reconciler against the kernel's IPVS, with `ipvsadm` as the independent reader.
//! They need root and the ip_vs modules, so they are ignored by default and run inside the
//! VM (`integration/vm`) with `--ignored --test-threads=1`: they share the one IPVS table
//! and each starts by flushing it.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use director::reconcile::{ReconcileError, Reconciler};
use ipvs::diff::same_table;
use ipvs::{
    Client, DaemonState, Destination, Op, Protocol, Scheduler, Service, ServiceKey, SyncDaemon,
    Table, TableService,
};

fn fresh() -> Client {
    let mut c = Client::connect().expect("connect to IPVS");
    c.flush().expect("flush");
    c
}

fn key(last: u8, port: u16) -> ServiceKey {
    ServiceKey::Addr { protocol: Protocol::Tcp, addr: IpAddr::from([192, 0, 2, last]), port }
}

fn dest(host: u8, weight: u32) -> Destination {
    let mut d = Destination::new(IpAddr::from([198, 51, 100, host]), 80);
    d.weight = weight;
    d
}

fn service(key: ServiceKey, reals: &[(u8, u32)]) -> TableService {
    TableService {
        service: Service::new(key),
        destinations: reals.iter().map(|&(h, w)| dest(h, w)).collect(),
    }
}

fn web() -> Table {
    Table {
        services: vec![
            service(key(1, 80), &[(1, 1), (2, 2)]),
            service(key(1, 443), &[(1, 1), (3, 1)]),
        ],
    }
}

fn keys_of(t: &Table) -> BTreeSet<ServiceKey> {
    t.services.iter().map(|s| s.service.key).collect()
}

/// `services` x `per_service` destinations, all different.
fn large(services: u32, per_service: u32) -> Table {
    let services = (0..services)
        .map(|i| {
            let addr = IpAddr::from([203, 0, (i / 250) as u8, (i % 250) as u8 + 1]);
            let key = ServiceKey::Addr { protocol: Protocol::Tcp, addr, port: 80 };
            let destinations = (0..per_service)
                .map(|j| {
                    let addr = IpAddr::from([198, 51, (j % 250) as u8 + 1, (i % 250) as u8]);
                    Destination::new(addr, 8000 + (i / 250) as u16 + 16 * (j / 250) as u16)
                })
                .collect();
            TableService { service: Service::new(key), destinations }
        })
        .collect();
    Table { services }
}

fn ipvsadm(args: &[&str]) -> String {
    let out = Command::new("ipvsadm").args(args).output().expect("run ipvsadm");
    assert!(out.status.success(), "ipvsadm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn saved() -> Vec<String> {
    let mut lines: Vec<String> = ipvsadm(&["-Sn"]).lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

fn assert_kernel(c: &mut Client, want: &Table) {
    let have = c.table().unwrap();
    assert!(same_table(&have, want), "kernel:\n{have:#?}\nwant:\n{want:#?}");
}

#[tokio::test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
async fn startup_adopts_the_rules_already_there_and_leaves_others_alone() {
    let mut c = fresh();
    let mut kernel = web();
    let foreign = service(key(9, 80), &[(9, 1)]);
    kernel.services.push(foreign.clone());
    c.apply(&ipvs::diff::diff(&kernel, &Table::default())).unwrap();
    let before = saved();

    let rec = Reconciler::connect().unwrap();
    let report = rec.apply(web(), keys_of(&web())).await;
    assert!(report.is_ok() && report.ops.is_empty(), "{report:?}");
    assert_eq!(rec.ops_total(), 0);
    assert_eq!(saved(), before, "ipvsadm sees the table unchanged");

    // A reload: one weight, one operation, no read.
    let mut reload = web();
    reload.services[0].destinations[1].weight = 5;
    let report = rec.apply(reload.clone(), keys_of(&reload)).await;
    assert_eq!(report.ops.len(), 1, "{:?}", report.ops);
    assert_eq!((report.requests, report.read_kernel), (1, false));
    assert!(ipvsadm(&["-Sn"]).contains("-a -t 192.0.2.1:80 -r 198.51.100.2:80 -g -w 5"));

    // Exit removing rules: ours go, the foreign service stays.
    let report = rec.shutdown(true).await;
    assert!(report.is_ok(), "{:?}", report.failed);
    assert_eq!(report.ops.len(), 2);
    assert_kernel(&mut c, &Table { services: vec![foreign] });
}

#[tokio::test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
async fn drift_made_with_ipvsadm_is_repaired_by_a_resync() {
    let mut c = fresh();
    let rec = Reconciler::connect().unwrap();
    let report = rec.apply(web(), keys_of(&web())).await;
    assert_eq!(report.ops.len(), 6, "{report:?}");
    assert_kernel(&mut c, &web());

    // ipvsadm gives a direct-routing real server the service's port: the hand edits are
    // on the port 80 service, where both ports agree.
    ipvsadm(&["-d", "-t", "192.0.2.1:80", "-r", "198.51.100.1:80"]);
    ipvsadm(&["-e", "-t", "192.0.2.1:80", "-r", "198.51.100.2:80", "-w", "40"]);
    ipvsadm(&["-a", "-t", "192.0.2.1:80", "-r", "198.51.100.7:80"]);
    let report = rec.resync().await;
    assert!(report.is_ok(), "{:?}", report.failed);
    let shown: Vec<String> = report.drift.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "delete destination 198.51.100.7:80 of service 192.0.2.1:80/tcp",
            "add destination 198.51.100.1:80 to service 192.0.2.1:80/tcp (weight 1)",
            "edit destination 198.51.100.2:80 of service 192.0.2.1:80/tcp (weight 2)",
        ]
    );
    assert_eq!(report.ops, report.drift);
    assert_kernel(&mut c, &web());

    // A managed service deleted by hand comes back.
    ipvsadm(&["-D", "-t", "192.0.2.1:443"]);
    let report = rec.resync().await;
    assert_eq!(report.drift.len(), 3, "{:?}", report.drift);
    assert_kernel(&mut c, &web());
    rec.shutdown(true).await;
}

#[tokio::test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
async fn a_refused_service_is_reported_and_the_rest_applies() {
    let mut c = fresh();
    let rec = Reconciler::connect().unwrap();
    let mut desired = web();
    desired.services[1].service.scheduler = Scheduler::from_name("nosuch");
    let report = rec.apply(desired.clone(), keys_of(&desired)).await;
    assert_eq!(report.failed.len(), 3, "{:?}", report.failed);
    let refused = &report.failed[0];
    assert_eq!(refused.errno(), Some(libc::ENOENT), "{refused}");
    assert!(refused.to_string().contains("ip_vs_nosuch"), "{refused}");
    assert!(matches!(refused, ReconcileError::Op { op: Op::AddService(_), .. }));
    assert_eq!(report.ops.len(), 3);
    assert_kernel(&mut c, &Table { services: vec![web().services[0].clone()] });
    assert!(same_table(&rec.applied(), &c.table().unwrap()), "the snapshot claims no more");

    // The config is fixed: the reload adds what was refused.
    let report = rec.apply(web(), keys_of(&web())).await;
    assert!(report.is_ok(), "{:?}", report.failed);
    assert_eq!(report.ops.len(), 3, "{:?}", report.ops);
    assert_kernel(&mut c, &web());
    rec.shutdown(true).await;
}

#[tokio::test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
async fn one_change_in_a_large_table_is_one_operation() {
    let mut c = fresh();
    let big = large(2284, 16);
    let rec = Reconciler::connect().unwrap();
    let report = rec.apply(big.clone(), keys_of(&big)).await;
    assert!(report.is_ok(), "{:?}", report.failed.first());
    let mut reload = big;
    reload.services[1500].destinations[3].weight = 9;
    let ops_before = rec.ops_total();
    let started = Instant::now();
    let report = rec.apply(reload.clone(), keys_of(&reload)).await;
    let took = started.elapsed();
    eprintln!("reconcile: one change in 2284 services / 36544 destinations: {took:?}");
    assert_eq!(report.ops.len(), 1);
    assert_eq!(report.requests, 1);
    assert_eq!(rec.ops_total(), ops_before + 1);
    assert!(took < Duration::from_secs(2), "{took:?} (TCG; the bench measures natively)");
    assert_kernel(&mut c, &reload);
    rec.shutdown(true).await;
}

#[tokio::test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
async fn shutdown_of_1000_services_with_10_destinations_is_quick() {
    let mut c = fresh();
    let table = large(1000, 10);
    let rec = Reconciler::connect().unwrap();
    assert!(rec.apply(table.clone(), keys_of(&table)).await.is_ok());
    let started = Instant::now();
    let report = rec.shutdown(true).await;
    let took = started.elapsed();
    eprintln!("reconcile: shutdown of 1000 services x 10 destinations: {took:?}");
    assert!(report.is_ok(), "{:?}", report.failed.first());
    assert_eq!(report.ops.len(), 1000, "one delete per service");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(c.table().unwrap().services.is_empty());
    assert_eq!(ipvsadm(&["-Sn"]).trim(), "");
}

#[tokio::test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
async fn sync_daemon_follows_the_wanted_role() {
    let mut c = fresh();
    for d in c.daemons().unwrap() {
        c.stop_daemon(d.state).unwrap();
    }
    let iface = std::env::var("IPVS_TEST_SYNC_IFACE").unwrap_or_else(|_| "lo".into());
    let rec = Reconciler::connect().unwrap();
    let master = SyncDaemon::new(DaemonState::Master, iface.clone(), 51);
    let report = rec.sync_daemon(Some(master.clone())).await.unwrap();
    assert_eq!(report.started, Some(master.clone()));
    assert!(ipvsadm(&["-L", "--daemon"]).contains("master sync daemon"));
    // Idempotent against what the kernel reports (it fills in group, port, length).
    let report = rec.sync_daemon(Some(master)).await.unwrap();
    assert_eq!((report.started, report.stopped.len()), (None, 0));

    let backup = SyncDaemon::new(DaemonState::Backup, iface, 51);
    let report = rec.sync_daemon(Some(backup)).await.unwrap();
    assert_eq!(report.stopped.len(), 1);
    let listed = c.daemons().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].state, listed[0].sync_id), (DaemonState::Backup, 51));

    // Exit stops the daemon it started, rules or not.
    let report = rec.shutdown(false).await;
    assert!(report.is_ok(), "{:?}", report.failed);
    assert!(c.daemons().unwrap().is_empty());
}
