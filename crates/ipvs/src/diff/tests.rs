use super::*;
use crate::model::{
    Family, Forwarding, Netmask, Protocol, Scheduler, Service, ServiceFlags, Tunnel, TunnelType,
};
use proptest::prelude::*;

fn tcp(last: u8, port: u16) -> ServiceKey {
    ServiceKey::Addr { protocol: Protocol::Tcp, addr: IpAddr::from([192, 0, 2, last]), port }
}

fn dest(last: u8, weight: u32) -> Destination {
    let mut d = Destination::new(IpAddr::from([198, 51, 100, last]), 80);
    d.weight = weight;
    d
}

fn table(services: Vec<(Service, Vec<Destination>)>) -> Table {
    Table {
        services: services
            .into_iter()
            .map(|(service, destinations)| TableService { service, destinations })
            .collect(),
    }
}

#[test]
fn identical_tables_need_nothing() {
    let t = table(vec![(Service::new(tcp(1, 80)), vec![dest(1, 1), dest(2, 2)])]);
    assert!(diff(&t, &t).is_empty());
}

#[test]
fn weight_change_is_one_edit() {
    let cur = table(vec![(Service::new(tcp(1, 80)), vec![dest(1, 1), dest(2, 2)])]);
    let want = table(vec![(Service::new(tcp(1, 80)), vec![dest(1, 1), dest(2, 5)])]);
    assert_eq!(diff(&want, &cur), vec![Op::EditDestination(tcp(1, 80), dest(2, 5))]);
}

#[test]
fn scheduler_and_persistence_change_is_one_service_edit() {
    let cur = table(vec![(Service::new(tcp(1, 80)), vec![dest(1, 1)])]);
    let mut s = Service::new(tcp(1, 80));
    s.scheduler = Scheduler::Sh;
    s.flags = ServiceFlags(ServiceFlags::IP_VS_SVC_F_PERSISTENT);
    s.timeout = 60;
    s.netmask = Netmask::V4("255.255.255.0".parse().unwrap());
    let want = table(vec![(s.clone(), vec![dest(1, 1)])]);
    assert_eq!(diff(&want, &cur), vec![Op::EditService(s)]);
}

#[test]
fn plain_ipip_tunnel_equals_unset_tunnel() {
    let mut a = dest(1, 1);
    a.forwarding = Forwarding::Tunnel;
    let mut b = a.clone();
    b.tunnel = Tunnel { kind: Some(TunnelType::Ipip), ..Tunnel::default() };
    let want = table(vec![(Service::new(tcp(1, 80)), vec![a])]);
    let cur = table(vec![(Service::new(tcp(1, 80)), vec![b])]);
    assert!(diff(&want, &cur).is_empty());
}

#[test]
fn removed_service_is_one_delete_even_with_destinations() {
    let cur = table(vec![
        (Service::new(tcp(1, 80)), vec![dest(1, 1), dest(2, 1)]),
        (Service::new(tcp(2, 80)), vec![dest(3, 1)]),
    ]);
    let want = table(vec![(Service::new(tcp(2, 80)), vec![dest(3, 1)])]);
    assert_eq!(diff(&want, &cur), vec![Op::DeleteService(tcp(1, 80))]);
}

#[test]
fn apply_refuses_what_the_kernel_refuses() {
    let mut t = table(vec![(Service::new(tcp(1, 80)), vec![dest(1, 1)])]);
    let err = apply(&mut t, &[Op::AddDestination(tcp(1, 80), dest(1, 2))]).unwrap_err();
    assert!(matches!(err, ApplyError::Exists(_)));
    let err = apply(&mut t, &[Op::DeleteService(tcp(9, 80))]).unwrap_err();
    assert!(matches!(err, ApplyError::Missing(_)));
}

fn arb_key() -> impl Strategy<Value = ServiceKey> {
    prop_oneof![
        (0u8..4, prop_oneof![Just(80u16), Just(443)]).prop_map(|(l, p)| tcp(l, p)),
        (1u32..3).prop_map(|mark| ServiceKey::Fwmark { family: Family::Inet, mark }),
        (1u32..3).prop_map(|mark| ServiceKey::Fwmark { family: Family::Inet6, mark }),
    ]
}

fn arb_service() -> impl Strategy<Value = Service> {
    (arb_key(), 0usize..3, any::<bool>(), 0u32..3).prop_map(|(key, sched, pers, timeout)| {
        let mut s = Service::new(key);
        s.scheduler = [Scheduler::Wrr, Scheduler::Rr, Scheduler::Mh][sched].clone();
        s.flags.set(ServiceFlags::IP_VS_SVC_F_PERSISTENT, pers);
        s.timeout = timeout * 100;
        s
    })
}

fn arb_tunnel() -> impl Strategy<Value = Tunnel> {
    (0usize..4, prop_oneof![Just(0u16), Just(6080)], 0u16..3).prop_map(|(kind, port, flags)| {
        Tunnel {
            kind: [None, Some(TunnelType::Ipip), Some(TunnelType::Gue), Some(TunnelType::Gre)]
                [kind],
            port,
            flags: crate::model::TunnelFlags(flags),
        }
    })
}

fn arb_dest() -> impl Strategy<Value = Destination> {
    (0u8..6, any::<bool>(), 0u32..4, 0usize..3, 0u32..2, arb_tunnel()).prop_map(
        |(last, v6, weight, fwd, thr, tunnel)| {
            let mut d = dest(last, weight);
            if v6 {
                d.addr = IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(last)]);
            }
            d.forwarding = [Forwarding::Route, Forwarding::Masq, Forwarding::Tunnel][fwd];
            d.upper_threshold = thr * 10;
            d.tunnel = tunnel;
            d
        },
    )
}

/// The number of operations a minimal diff needs, counted with set arithmetic.
fn minimal_op_count(desired: &Table, current: &Table) -> usize {
    use std::collections::BTreeMap;
    let dests = |s: &TableService| -> BTreeMap<(IpAddr, u16), Destination> {
        s.destinations.iter().map(|d| (d.key(), d.clone().normalized())).collect()
    };
    let by_key = |t: &Table| -> BTreeMap<ServiceKey, TableService> {
        t.services.iter().map(|s| (s.service.key, s.clone())).collect()
    };
    let (want, have) = (by_key(desired), by_key(current));
    let deleted = have.keys().filter(|k| !want.contains_key(*k)).count();
    let added: usize =
        want.iter().filter(|(k, _)| !have.contains_key(*k)).map(|(_, s)| 1 + dests(s).len()).sum();
    let changed: usize = want
        .iter()
        .filter_map(|(k, w)| have.get(k).map(|h| (w, h)))
        .map(|(w, h)| {
            let (wd, hd) = (dests(w), dests(h));
            usize::from(w.service != h.service)
                + hd.keys().filter(|k| !wd.contains_key(*k)).count()
                + wd.iter().filter(|(k, d)| hd.get(*k) != Some(*d)).count()
        })
        .sum();
    deleted + added + changed
}

fn arb_table() -> impl Strategy<Value = Table> {
    proptest::collection::vec((arb_service(), proptest::collection::vec(arb_dest(), 0..5)), 0..6)
        .prop_map(|entries| {
            let mut seen = std::collections::BTreeSet::new();
            let mut t = Table::default();
            for (s, ds) in entries {
                if !seen.insert(s.key) {
                    continue;
                }
                let mut keys = std::collections::BTreeSet::new();
                let ds = ds.into_iter().filter(|d| keys.insert(d.key())).collect();
                t.services.push(TableService { service: s, destinations: ds });
            }
            t
        })
}

proptest! {
    #[test]
    fn applying_the_diff_yields_desired(desired in arb_table(), current in arb_table()) {
        let ops = diff(&desired, &current);
        let mut t = current.clone();
        apply(&mut t, &ops).unwrap();
        prop_assert!(same_table(&t, &desired), "after {ops:?}");
        prop_assert!(diff(&desired, &t).is_empty());
    }

    #[test]
    fn surviving_entries_are_never_deleted_and_readded(
        desired in arb_table(), current in arb_table()
    ) {
        let ops = diff(&desired, &current);
        for op in &ops {
            if let Op::DeleteService(k) = op {
                prop_assert!(!ops.contains(&Op::AddService(
                    desired.services.iter().find(|s| &s.service.key == k)
                        .map(|s| s.service.clone()).unwrap_or_else(|| Service::new(*k)))));
                prop_assert!(!desired.services.iter().any(|s| &s.service.key == k));
            }
            if let Op::DeleteDestination(k, a, p) = op {
                let readded = ops.iter().any(|o| matches!(o,
                    Op::AddDestination(k2, d) if k2 == k && d.key() == (*a, *p)));
                prop_assert!(!readded);
            }
        }
        // Exactly as many ops as entries that differ: nothing sent for what is right.
        prop_assert_eq!(ops.len(), minimal_op_count(&desired, &current));
    }
}

#[test]
fn duplicate_destinations_read_like_a_map_on_both_paths() {
    let mut twice = vec![dest(1, 1), dest(1, 4)];
    let want = table(vec![(Service::new(tcp(1, 80)), twice.clone())]);
    // New service: one add for the destination, with the later entry's weight.
    let ops = diff(&want, &Table::default());
    assert_eq!(
        ops,
        vec![Op::AddService(Service::new(tcp(1, 80))), Op::AddDestination(tcp(1, 80), dest(1, 4))]
    );
    // Existing service: the same reading.
    twice.truncate(1);
    let cur = table(vec![(Service::new(tcp(1, 80)), twice)]);
    assert_eq!(diff(&want, &cur), vec![Op::EditDestination(tcp(1, 80), dest(1, 4))]);
}

#[test]
fn tunnel_without_type_is_ipip() {
    let mut a = dest(1, 1);
    a.forwarding = Forwarding::Tunnel;
    a.tunnel = Tunnel { kind: None, port: 6080, ..Tunnel::default() };
    let mut b = a.clone();
    b.tunnel.kind = Some(TunnelType::Ipip);
    assert_eq!(a.normalized(), b.normalized());
}
