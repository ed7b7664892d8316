//! The reconciler on the fake kernel: adoption, scope, minimal reloads, drift, refusals,
//! coalescing.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipvs::diff::same_table;
use ipvs::{Destination, Op, Protocol, Scheduler, Service, ServiceKey, Table, TableService};

use super::*;

pub(super) fn key(port: u16) -> ServiceKey {
    ServiceKey::Addr { protocol: Protocol::Tcp, addr: "192.0.2.1".parse().unwrap(), port }
}

pub(super) fn dest(host: u8, weight: u32) -> Destination {
    let mut d = Destination::new(IpAddr::from([198, 51, 100, host]), 80);
    d.weight = weight;
    d
}

/// A service on port `port` with real servers 198.51.100.<host> of the given weights.
pub(super) fn service(port: u16, reals: &[(u8, u32)]) -> TableService {
    TableService {
        service: Service::new(key(port)),
        destinations: reals.iter().map(|&(h, w)| dest(h, w)).collect(),
    }
}

pub(super) fn table(services: Vec<TableService>) -> Table {
    Table { services }
}

pub(super) fn keys_of(t: &Table) -> BTreeSet<ServiceKey> {
    t.services.iter().map(|s| s.service.key).collect()
}

pub(super) fn keys(ports: &[u16]) -> BTreeSet<ServiceKey> {
    ports.iter().map(|&p| key(p)).collect()
}

fn web() -> Table {
    table(vec![service(80, &[(1, 1), (2, 2)]), service(443, &[(1, 1), (3, 1)])])
}

pub(super) fn assert_same(a: &Table, b: &Table) {
    assert!(same_table(a, b), "tables differ:\n{a:#?}\n{b:#?}");
}

/// A reconciler that has applied `desired` to a kernel that had `kernel` before.
async fn started(kernel: Table, desired: &Table) -> (FakeKernel, Reconciler, ApplyReport) {
    let fake = FakeKernel::new(kernel);
    let rec = Reconciler::spawn(fake.clone()).unwrap();
    let report = rec.apply(desired.clone(), keys_of(desired)).await;
    (fake, rec, report)
}

#[tokio::test]
async fn startup_on_a_kernel_that_has_the_rules_changes_nothing() {
    let (fake, rec, report) = started(web(), &web()).await;
    assert!(report.is_ok(), "{:?}", report.failed);
    assert!(report.ops.is_empty(), "{:?}", report.ops);
    assert!(report.read_kernel);
    // One service dump and one destination dump per service; nothing else.
    assert_eq!(report.requests, 3);
    assert_eq!(fake.apply_calls(), 0);
    assert_eq!(rec.ops_total(), 0);
    assert_snapshot(&rec, &web());
}

fn assert_snapshot(rec: &Reconciler, want: &Table) {
    assert_same(&rec.applied(), want);
}

#[tokio::test]
async fn startup_edits_in_place_what_differs() {
    let mut kernel = web();
    kernel.services[0].destinations[1].weight = 7;
    kernel.services[1].service.scheduler = Scheduler::Rr;
    let (fake, _rec, report) = started(kernel, &web()).await;
    assert_eq!(
        report.ops,
        vec![Op::EditDestination(key(80), dest(2, 2)), Op::EditService(Service::new(key(443)))]
    );
    assert_same(&fake.table(), &web());
}

#[tokio::test]
async fn services_outside_the_managed_set_are_never_read_or_changed() {
    let foreign = service(8080, &[(9, 1), (10, 1)]);
    let mut kernel = web();
    kernel.services.push(foreign.clone());
    let (fake, rec, report) = started(kernel, &web()).await;
    assert!(report.ops.is_empty());
    // The foreign service's destinations were not dumped: 1 + 2 requests.
    assert_eq!(report.requests, 3);

    // Nothing desired, both web services managed (a BACKUP director): ours go, it stays.
    let report = rec.apply(Table::default(), keys(&[80, 443])).await;
    assert_eq!(report.ops, vec![Op::DeleteService(key(80)), Op::DeleteService(key(443))]);
    assert_same(&fake.table(), &table(vec![foreign.clone()]));
    assert!(rec.applied().services.is_empty());

    // A resync does not touch it either.
    let report = rec.resync().await;
    assert!(report.ops.is_empty() && report.drift.is_empty(), "{report:?}");
    assert_same(&fake.table(), &table(vec![foreign]));
}

#[tokio::test]
async fn a_reload_that_changes_one_weight_sends_one_operation_and_reads_nothing() {
    let (fake, rec, _) = started(Table::default(), &web()).await;
    let dumps = fake.service_dumps();
    let ops_before = rec.ops_total();
    let mut reload = web();
    reload.services[1].destinations[0].weight = 5;
    let report = rec.apply(reload.clone(), keys_of(&reload)).await;
    assert_eq!(report.ops, vec![Op::EditDestination(key(443), dest(1, 5))]);
    assert_eq!(report.requests, 1);
    assert!(!report.read_kernel);
    assert_eq!(fake.service_dumps(), dumps);
    assert_eq!(rec.ops_total(), ops_before + 1);
    assert_same(&fake.table(), &reload);
    assert_snapshot(&rec, &reload);

    // The same config again: nothing at all.
    let report = rec.apply(reload.clone(), keys_of(&reload)).await;
    assert_eq!((report.ops.len(), report.requests), (0, 0));
}

/// The size of the benchmark's table: 2,284 services, 37,298 destinations.
fn big_table() -> Table {
    let services = (0..2284u32)
        .map(|i| {
            let addr = IpAddr::from([203, 0, (i / 250) as u8, (i % 250) as u8 + 1]);
            let key = ServiceKey::Addr { protocol: Protocol::Tcp, addr, port: 80 };
            let n = if i < 754 { 17 } else { 16 };
            let destinations = (0..n)
                .map(|j| {
                    Destination::new(
                        IpAddr::from([198, 51, (j + 1) as u8, (i % 250) as u8]),
                        8000 + (i / 250) as u16,
                    )
                })
                .collect();
            TableService { service: Service::new(key), destinations }
        })
        .collect();
    Table { services }
}

#[tokio::test]
async fn one_change_in_a_large_table_is_one_operation() {
    let big = big_table();
    assert_eq!(big.services.iter().map(|s| s.destinations.len()).sum::<usize>(), 37_298);
    let (fake, rec, report) = started(big.clone(), &big).await;
    assert!(report.ops.is_empty() && report.is_ok());
    let mut reload = big;
    reload.services[1500].destinations[3].weight = 9;
    let started_at = std::time::Instant::now();
    let report = rec.apply(reload.clone(), keys_of(&reload)).await;
    let took = started_at.elapsed();
    assert_eq!(report.ops.len(), 1, "{:?}", report.ops);
    assert_eq!(report.requests, 1);
    assert!(!report.read_kernel);
    // Generous for a debug build; the release number is in BENCHMARKS.md.
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    assert_eq!(fake.accepted().len(), 1);
}

#[tokio::test]
async fn a_service_that_leaves_the_managed_set_is_deleted() {
    let (fake, rec, _) = started(Table::default(), &web()).await;
    let reload = table(vec![service(80, &[(1, 1), (2, 2)])]);
    let report = rec.apply(reload.clone(), keys(&[80])).await;
    assert_eq!(report.ops, vec![Op::DeleteService(key(443))]);
    assert_same(&fake.table(), &reload);

    // Now it is not ours any more: a service made there by hand later is left alone.
    fake.edit(|t| t.services.push(service(443, &[(5, 1)])));
    let report = rec.resync().await;
    assert!(report.ops.is_empty() && report.drift.is_empty(), "{report:?}");
    assert_eq!(fake.table().services.len(), 2);
}

#[tokio::test]
async fn a_newly_managed_service_already_in_the_kernel_is_adopted_not_re_added() {
    // A previous run left both services; this run manages 80 first, then 443 too.
    let (fake, rec, _) = started(web(), &table(vec![web().services[0].clone()])).await;
    // 443 was not managed: it stays.
    assert_eq!(fake.table().services.len(), 2);
    let report = rec.apply(web(), keys_of(&web())).await;
    assert!(report.is_ok(), "{:?}", report.failed);
    assert!(report.ops.is_empty(), "{:?}", report.ops);
    assert!(report.read_kernel);
    // Only the new service was read: a service dump and one destination dump.
    assert_eq!(report.requests, 2);
}

#[tokio::test]
async fn resync_repairs_and_reports_drift() {
    let foreign = service(8080, &[(9, 1)]);
    let mut kernel = web();
    kernel.services.push(foreign.clone());
    let (fake, rec, _) = started(kernel, &web()).await;
    fake.edit(|t| {
        t.services[0].destinations.retain(|d| d.addr != dest(1, 1).addr); // deleted by hand
        t.services[1].destinations[0].weight = 50; // edited by hand
        t.services[1].destinations.push(dest(7, 1)); // added by hand to a managed service
        t.services[2].destinations.push(dest(8, 1)); // added by hand to a foreign service
    });
    let report = rec.resync().await;
    assert!(report.is_ok(), "{:?}", report.failed);
    assert!(report.read_kernel);
    let want = vec![
        Op::AddDestination(key(80), dest(1, 1)),
        Op::DeleteDestination(key(443), dest(7, 1).addr, 80),
        Op::EditDestination(key(443), dest(1, 1)),
    ];
    assert_eq!(report.drift, want);
    assert_eq!(report.ops, want);
    let mut expected = web();
    let mut foreign = foreign;
    foreign.destinations.push(dest(8, 1));
    expected.services.push(foreign);
    assert_same(&fake.table(), &expected);

    // Repaired: the next resync finds nothing.
    let report = rec.resync().await;
    assert!(report.drift.is_empty() && report.ops.is_empty(), "{report:?}");
}

#[tokio::test]
async fn resync_re_adds_a_service_deleted_by_hand() {
    let (fake, rec, _) = started(Table::default(), &web()).await;
    fake.edit(|t| t.services.retain(|s| s.service.key != key(443)));
    let report = rec.resync().await;
    let want = vec![
        Op::AddService(Service::new(key(443))),
        Op::AddDestination(key(443), dest(1, 1)),
        Op::AddDestination(key(443), dest(3, 1)),
    ];
    assert_eq!(report.drift, want);
    assert_eq!(report.ops, want);
    assert_same(&fake.table(), &web());
}

#[tokio::test]
async fn a_refused_service_is_reported_the_rest_applies_and_a_resync_retries() {
    let fake = FakeKernel::new(Table::default());
    // The kernel lacks ip_vs_mh.
    fake.refuse(|op| match op {
        Op::AddService(s) | Op::EditService(s) if s.scheduler.name() == "mh" => Some(libc::ENOENT),
        _ => None,
    });
    let rec = Reconciler::spawn(fake.clone()).unwrap();
    let mut desired = web();
    desired.services[1].service.scheduler = Scheduler::from_name("mh");
    let report = rec.apply(desired.clone(), keys_of(&desired)).await;

    assert_eq!(report.failed.len(), 3, "{:?}", report.failed);
    let refused = &report.failed[0];
    assert_eq!(refused.errno(), Some(libc::ENOENT));
    assert_eq!(refused.op(), Some(&Op::AddService(desired.services[1].service.clone())));
    let text = refused.to_string();
    assert!(text.contains("192.0.2.1:443/tcp") && text.contains("ip_vs_mh"), "{text}");
    // Its destinations were not sent, and say why.
    assert!(report.failed[1].to_string().contains("not sent"), "{}", report.failed[1]);
    // The other service is in.
    assert_eq!(report.ops.len(), 3, "{:?}", report.ops);
    assert_same(&fake.table(), &table(vec![web().services[0].clone()]));
    // The cache (and the status snapshot) do not claim the refused service.
    assert_snapshot(&rec, &fake.table());

    // A reload with the same config tries it again, and is refused again.
    let report = rec.apply(desired.clone(), keys_of(&desired)).await;
    assert_eq!(report.failed.len(), 3);

    // The module gets loaded: the periodic resync adds it, and it is no drift.
    fake.clear_refusals();
    let report = rec.resync().await;
    assert!(report.is_ok(), "{:?}", report.failed);
    assert!(report.drift.is_empty(), "{:?}", report.drift);
    assert_eq!(report.ops.len(), 3);
    assert_same(&fake.table(), &desired);
    assert_snapshot(&rec, &desired);
}

#[tokio::test]
async fn a_refused_edit_leaves_the_cache_honest() {
    let (fake, rec, _) = started(Table::default(), &web()).await;
    fake.refuse(|op| matches!(op, Op::EditDestination(..)).then_some(libc::ERANGE));
    let mut reload = web();
    reload.services[0].destinations[0].weight = 3;
    reload.services[1].destinations[1].weight = 4;
    reload.services[0].destinations.push(dest(4, 1));
    let report = rec.apply(reload.clone(), keys_of(&reload)).await;
    assert_eq!(report.failed.len(), 2);
    assert!(report.failed.iter().all(|e| e.errno() == Some(libc::ERANGE)));
    assert_eq!(report.ops, vec![Op::AddDestination(key(80), dest(4, 1))]);
    // The table was read back after the refusal.
    assert!(report.read_kernel);
    assert_snapshot(&rec, &fake.table());

    fake.clear_refusals();
    let report = rec.apply(reload.clone(), keys_of(&reload)).await;
    assert_eq!(report.ops.len(), 2, "{:?}", report.ops);
    assert!(!report.read_kernel);
    assert_same(&fake.table(), &reload);
}

#[tokio::test]
async fn queued_applies_are_coalesced_into_the_newest() {
    let (fake, rec, _) = started(Table::default(), &web()).await;
    let calls = fake.apply_calls();
    fake.pause();
    let mut first = web();
    first.services[0].destinations[0].weight = 10;
    let first = rec.apply(first.clone(), keys_of(&first));
    // Wait until the thread is inside the kernel with the first request.
    while fake.waiting() == 0 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let mut second = web();
    second.services.push(service(8443, &[(6, 1)]));
    let second = rec.apply(second.clone(), keys_of(&second));
    let mut third = web();
    third.services[0].destinations[0].weight = 30;
    let third_table = third.clone();
    // 443 leaves the managed set in the newest request.
    third.services.truncate(1);
    let third = rec.apply(third.clone(), keys(&[80]));
    fake.resume();
    let (first, second, third) = tokio::join!(first, second, third);
    assert_eq!(first.ops.len(), 1);
    // Two batches for three requests; the second and third got the same report.
    assert_eq!(fake.apply_calls(), calls + 2);
    assert_eq!(second.ops, third.ops);
    // 8443 was managed by the coalesced second request, never added; 443 left.
    assert_eq!(
        third.ops,
        vec![Op::DeleteService(key(443)), Op::EditDestination(key(80), dest(1, 30))]
    );
    let mut want = third_table;
    want.services.truncate(1);
    assert_same(&fake.table(), &want);
}
