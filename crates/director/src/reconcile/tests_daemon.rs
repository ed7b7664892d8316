//! The reconciler on the fake kernel: sync daemon, shutdown, socket failures.

use ipvs::{DaemonState, Op, SyncDaemon, Table};

use super::tests::{assert_same, key, keys, keys_of, service, table};
use super::*;

fn web() -> Table {
    table(vec![service(80, &[(1, 1), (2, 1)]), service(443, &[(1, 1)])])
}

#[tokio::test]
async fn sync_daemon_runs_exactly_what_is_wanted() {
    let fake = FakeKernel::default();
    let rec = Reconciler::spawn(fake.clone()).unwrap();
    let master = SyncDaemon::new(DaemonState::Master, "eth1", 51);
    let backup = SyncDaemon::new(DaemonState::Backup, "eth1", 51);

    let report = rec.sync_daemon(Some(master.clone())).await.unwrap();
    assert_eq!(report, DaemonReport { stopped: vec![], started: Some(master.clone()) });
    let running = fake.running_daemons();
    assert_eq!(running.len(), 1);
    assert!(daemon_matches(&master, &running[0]), "{running:?}");

    // Again: the kernel filled in its defaults, and it still is the wanted one.
    let requests = fake.requests();
    let report = rec.sync_daemon(Some(master.clone())).await.unwrap();
    assert_eq!(report, DaemonReport::default());
    assert_eq!(fake.requests(), requests + 1, "only the listing");

    // MASTER -> BACKUP.
    let report = rec.sync_daemon(Some(backup.clone())).await.unwrap();
    assert_eq!(report.stopped.len(), 1);
    assert_eq!(report.stopped[0].state, DaemonState::Master);
    assert_eq!(report.started, Some(backup.clone()));
    assert_eq!(fake.running_daemons().len(), 1);
    assert_eq!(fake.running_daemons()[0].state, DaemonState::Backup);

    // Another sync id is another daemon.
    let renumbered = SyncDaemon::new(DaemonState::Backup, "eth1", 52);
    let report = rec.sync_daemon(Some(renumbered.clone())).await.unwrap();
    assert_eq!((report.stopped.len(), report.started), (1, Some(renumbered)));

    let report = rec.sync_daemon(None).await.unwrap();
    assert_eq!(report.stopped.len(), 1);
    assert!(fake.running_daemons().is_empty());
    assert_eq!(rec.sync_daemon(None).await.unwrap(), DaemonReport::default());
}

#[tokio::test]
async fn sync_daemon_stops_daemons_started_by_hand_and_keeps_the_errno() {
    let fake = FakeKernel::default();
    let rec = Reconciler::spawn(fake.clone()).unwrap();
    // A master and a backup started by hand; only a master on eth1 is wanted.
    let mut by_hand = fake.clone();
    Kernel::start_daemon(&mut by_hand, &SyncDaemon::new(DaemonState::Master, "eth0", 7)).unwrap();
    Kernel::start_daemon(&mut by_hand, &SyncDaemon::new(DaemonState::Backup, "eth0", 7)).unwrap();
    let want = SyncDaemon::new(DaemonState::Master, "eth1", 7);
    fake.refuse_daemon_start(Some(libc::ENODEV));
    let err = rec.sync_daemon(Some(want.clone())).await.unwrap_err();
    assert_eq!(err.errno(), Some(libc::ENODEV));
    assert!(err.to_string().contains("Master on eth1"), "{err}");
    // The unwanted ones are stopped all the same.
    assert!(fake.running_daemons().is_empty());

    // The next call (the interface is there now) starts it.
    fake.refuse_daemon_start(None);
    let report = rec.sync_daemon(Some(want.clone())).await.unwrap();
    assert_eq!(report, DaemonReport { stopped: vec![], started: Some(want) });
    assert_eq!(fake.running_daemons().len(), 1);
}

#[tokio::test]
async fn shutdown_deletes_the_managed_services_only_one_operation_each() {
    let foreign = service(8080, &[(9, 1)]);
    let mut kernel = web();
    kernel.services.push(foreign.clone());
    let fake = FakeKernel::new(kernel);
    let rec = Reconciler::spawn(fake.clone()).unwrap();
    // 443 is managed but not desired here; still ours, still deleted at exit.
    let desired = table(vec![web().services[0].clone()]);
    let report = rec.apply(desired, keys(&[80, 443])).await;
    assert_eq!(report.ops, vec![Op::DeleteService(key(443))]);
    fake.edit(|t| t.services.push(service(443, &[(3, 1)]))); // and back by hand
    let master = SyncDaemon::new(DaemonState::Master, "eth1", 51);
    rec.sync_daemon(Some(master)).await.unwrap();
    let other = rec.clone();

    let report = rec.shutdown(true).await;
    assert!(report.is_ok(), "{:?}", report.failed);
    assert_eq!(report.ops, vec![Op::DeleteService(key(80)), Op::DeleteService(key(443))]);
    assert_same(&fake.table(), &table(vec![foreign]));
    assert!(fake.running_daemons().is_empty(), "the sync daemon it started is stopped");
    assert!(other.applied().services.is_empty());

    // The thread is gone: other handles get Stopped, not a hang.
    let late = other.apply(web(), keys_of(&web())).await;
    assert!(matches!(late.failed[..], [ReconcileError::Stopped]), "{late:?}");
    assert!(matches!(other.sync_daemon(None).await, Err(ReconcileError::Stopped)));
}

#[tokio::test]
async fn shutdown_keeping_rules_leaves_the_table() {
    let fake = FakeKernel::new(Table::default());
    let rec = Reconciler::spawn(fake.clone()).unwrap();
    rec.apply(web(), keys_of(&web())).await;
    let report = rec.shutdown(false).await;
    assert!(report.ops.is_empty() && report.is_ok(), "{report:?}");
    assert_same(&fake.table(), &web());
}

#[tokio::test]
async fn a_failed_socket_is_reopened_and_the_table_read_again() {
    let fake = FakeKernel::new(Table::default());
    let rec = Reconciler::spawn(fake.clone()).unwrap();
    rec.apply(web(), keys_of(&web())).await;

    // The socket dies after the service dump (8443 is new: is it there already?) and
    // the first of three operations.
    fake.break_socket_after(2);
    let mut reload = web();
    reload.services.push(service(8443, &[(5, 1), (6, 1)]));
    let report = rec.apply(reload.clone(), keys_of(&reload)).await;
    assert!(
        report.failed.iter().any(|e| matches!(e, ReconcileError::Unconfirmed { count: 2 })),
        "{:?}",
        report.failed
    );
    assert!(report.failed.iter().any(|e| e.errno() == Some(libc::ECONNRESET)));
    assert!(report.ops.is_empty(), "nothing is claimed: {:?}", report.ops);
    assert_eq!(fake.reconnects(), 0);

    // The next request reconnects, reads what did get in, and sends the rest.
    let report = rec.apply(reload.clone(), keys_of(&reload)).await;
    assert!(report.is_ok(), "{:?}", report.failed);
    assert_eq!(fake.reconnects(), 1);
    assert!(report.read_kernel);
    assert_eq!(report.ops.len(), 2, "{:?}", report.ops);
    assert_same(&fake.table(), &reload);
}

#[tokio::test]
async fn a_failed_read_at_startup_is_reported_and_retried() {
    let fake = FakeKernel::new(web());
    fake.break_socket_after(0);
    let rec = Reconciler::spawn(fake.clone()).unwrap();
    let report = rec.apply(web(), keys_of(&web())).await;
    assert!(matches!(report.failed[..], [ReconcileError::Read(_)]), "{:?}", report.failed);
    assert!(report.ops.is_empty());

    let report = rec.resync().await;
    assert!(report.is_ok(), "{:?}", report.failed);
    assert!(report.ops.is_empty() && report.drift.is_empty(), "{report:?}");
    assert_eq!(fake.reconnects(), 1);
    assert_same(&rec.applied(), &web());
}

#[tokio::test]
async fn stats_list_the_owned_services_with_their_counters() {
    let other = service(53, &[(9, 1)]);
    let fake = FakeKernel::new(table(vec![other]));
    let rec = Reconciler::spawn(fake.clone()).unwrap();
    rec.apply(web(), keys_of(&web())).await;
    let stats = ipvs::Stats {
        conns: 7,
        inpkts: 70,
        outpkts: 60,
        inbytes: 7000,
        outbytes: 6000,
        ..Default::default()
    };
    fake.set_service_stats(key(80), stats);
    let dest_stats = ipvs::Stats { conns: 4, ..Default::default() };
    let conns = ipvs::ConnCounts { active: 2, inactive: 1, persistent: 0 };
    fake.set_destination_stats(key(80), web().services[0].destinations[0].key(), dest_stats, conns);

    let listed = rec.stats().await.unwrap();
    let mut keys: Vec<_> = listed.iter().map(|s| s.entry.service.key).collect();
    keys.sort();
    assert_eq!(keys, vec![key(80), key(443)], "only the owned services");
    let web80 = listed.iter().find(|s| s.entry.service.key == key(80)).unwrap();
    assert_eq!(web80.entry.stats, stats);
    assert_eq!(web80.destinations.len(), 2);
    let first = &web80
        .destinations
        .iter()
        .find(|d| d.destination.key() == web().services[0].destinations[0].key())
        .unwrap();
    assert_eq!((first.stats, first.conns), (dest_stats, conns));
    // Reading counters changes nothing and is no table operation.
    assert_eq!(rec.counts().ops_applied, 3 + 2);
}

#[tokio::test]
async fn counts_follow_operations_drift_and_errors() {
    let fake = FakeKernel::default();
    let rec = Reconciler::spawn(fake.clone()).unwrap();
    let report = rec.apply(web(), keys_of(&web())).await;
    assert_eq!(rec.counts().ops_applied, report.ops.len() as u64);
    // Someone deletes a destination by hand: a resync puts it back, one drift repair.
    fake.edit(|t| {
        t.services[0].destinations.pop();
    });
    let report = rec.resync().await;
    assert_eq!(report.drift.len(), 1, "{report:?}");
    let counts = rec.counts();
    assert_eq!((counts.drift_repairs, counts.ops_applied), (1, 5 + 1));
    // A refused operation is an error of kind "refused".
    fake.refuse(|op| matches!(op, Op::EditDestination(..)).then_some(libc::ERANGE));
    let changed = table(vec![service(80, &[(1, 5), (2, 1)]), service(443, &[(1, 1)])]);
    let report = rec.apply(changed.clone(), keys_of(&changed)).await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(rec.counts().errors.get("refused"), Some(&1));
    // A sync daemon the kernel refuses counts too.
    fake.refuse_daemon_start(Some(libc::ENODEV));
    let master = SyncDaemon::new(DaemonState::Master, "eth9", 1);
    assert!(rec.sync_daemon(Some(master)).await.is_err());
    assert_eq!(rec.counts().errors.get("sync_daemon"), Some(&1));
}
