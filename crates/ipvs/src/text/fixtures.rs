//! Hand-built tables shared by the save and list tests. Every table here is in the form a
//! save/restore round trip keeps (see `save::saved_view`), so `parse(render(t))` must give
//! it back.

use std::net::IpAddr;

use crate::model::{
    Destination, Family, Forwarding, Netmask, Protocol, Scheduler, Service, ServiceFlags,
    ServiceKey, Table, TableService, Tunnel, TunnelFlags, TunnelType,
};

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().expect("fixture address")
}

pub(crate) fn key(protocol: Protocol, addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr { protocol, addr: ip(addr), port }
}

pub(crate) fn tcp(addr: &str, port: u16) -> ServiceKey {
    key(Protocol::Tcp, addr, port)
}

pub(crate) fn fwm(family: Family, mark: u32) -> ServiceKey {
    ServiceKey::Fwmark { family, mark }
}

/// A service with ipvsadm's defaults and the given scheduler.
pub(crate) fn svc(key: ServiceKey, sched: &str) -> Service {
    Service { scheduler: Scheduler::from_name(sched), ..Service::new(key) }
}

/// Persistent with a timeout and netmask.
pub(crate) fn persistent(mut s: Service, timeout: u32, netmask: Netmask) -> Service {
    s.flags.set(ServiceFlags::IP_VS_SVC_F_PERSISTENT, true);
    s.timeout = timeout;
    s.netmask = netmask;
    s
}

pub(crate) fn flags(mut s: Service, bits: u32) -> Service {
    s.flags.set(bits, true);
    s
}

pub(crate) fn dest(addr: &str, port: u16, forwarding: Forwarding, weight: u32) -> Destination {
    Destination { forwarding, weight, ..Destination::new(ip(addr), port) }
}

pub(crate) fn tunnel(addr: &str, port: u16, kind: TunnelType, tport: u16, f: u16) -> Destination {
    Destination {
        tunnel: Tunnel { kind: Some(kind), port: tport, flags: TunnelFlags(f) },
        ..dest(addr, port, Forwarding::Tunnel, 1)
    }
}

pub(crate) fn table(services: Vec<(Service, Vec<Destination>)>) -> Table {
    Table {
        services: services
            .into_iter()
            .map(|(service, destinations)| TableService { service, destinations })
            .collect(),
    }
}

pub(crate) fn mask4(m: &str) -> Netmask {
    Netmask::V4(m.parse().expect("fixture mask"))
}

/// Two IPv4 web services, as in the exact-output tests.
pub(crate) fn web() -> Table {
    use Forwarding::{Masq, Route};
    table(vec![
        (
            svc(tcp("10.0.0.1", 80), "wlc"),
            vec![
                dest("10.0.1.2", 80, Route, 1),
                dest("10.0.1.1", 80, Route, 5),
                dest("10.0.1.3", 8080, Masq, 2),
            ],
        ),
        (
            persistent(svc(tcp("10.0.0.1", 443), "rr"), 360, mask4("255.255.255.0")),
            vec![dest("10.0.1.1", 443, Route, 1)],
        ),
    ])
}

/// IPv6 services, fwmark services of both families, flags and persistence engines.
pub(crate) fn mixed() -> Table {
    use Forwarding::{Masq, Route};
    let v6web = flags(
        svc(tcp("2001:db8::10", 80), "sh"),
        ServiceFlags::IP_VS_SVC_F_SCHED_SH_FALLBACK | ServiceFlags::IP_VS_SVC_F_SCHED_SH_PORT,
    );
    let v6dns = flags(
        persistent(svc(key(Protocol::Udp, "2001:db8::10", 53), "rr"), 60, Netmask::V6Prefix(64)),
        ServiceFlags::IP_VS_SVC_F_ONEPACKET,
    );
    let mut mark1 = flags(
        persistent(svc(fwm(Family::Inet, 1), "lc"), 600, mask4("255.255.0.0")),
        ServiceFlags::IP_VS_SVC_F_ONEPACKET,
    );
    mark1.pe_name = Some("sip".into());
    let mark2 = flags(svc(fwm(Family::Inet6, 2), "mh"), ServiceFlags::IP_VS_SVC_F_SCHED_MH_PORT);
    table(vec![
        (v6web, vec![dest("2001:db8::2", 8080, Masq, 3), dest("2001:db8::1", 80, Route, 0)]),
        (v6dns, vec![dest("2001:db8::3", 53, Route, 1)]),
        (mark2, vec![dest("2001:db8::4", 0, Route, 7)]),
        (mark1, vec![dest("192.168.1.10", 0, Route, 1), dest("192.168.1.11", 8443, Masq, 1)]),
        (svc(key(Protocol::Sctp, "10.0.0.5", 3868), "sed"), vec![]),
    ])
}

/// Every tunnel kind and checksum option, and a tunnel to the other address family.
pub(crate) fn tunnels() -> Table {
    use TunnelType::{Gre, Gue, Ipip};
    const CSUM: u16 = TunnelFlags::IP_VS_TUNNEL_ENCAP_FLAG_CSUM;
    const REMCSUM: u16 = TunnelFlags::IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM;
    table(vec![(
        svc(tcp("192.0.2.1", 80), "wrr"),
        vec![
            tunnel("198.51.100.1", 80, Ipip, 0, 0),
            tunnel("198.51.100.2", 80, Gue, 6080, CSUM),
            tunnel("198.51.100.3", 80, Gue, 6081, 0),
            tunnel("198.51.100.4", 80, Gue, 6082, REMCSUM),
            tunnel("198.51.100.5", 80, Gre, 0, CSUM),
            tunnel("198.51.100.6", 80, Gre, 0, 0),
            tunnel("2001:db8::99", 80, Ipip, 0, 0),
        ],
    )])
}

/// One service per scheduler ipvsadm knows, plus one it does not, with scheduler flags.
pub(crate) fn schedulers() -> Table {
    let mut services: Vec<(Service, Vec<Destination>)> = Scheduler::KNOWN
        .iter()
        .zip(1u16..)
        .map(|(name, port)| {
            let s = svc(tcp("10.1.0.1", 1000 + port), name);
            let d = dest("10.1.1.1", 1000 + port, Forwarding::Route, u32::from(port));
            (s, vec![d])
        })
        .collect();
    services.push((svc(tcp("10.1.0.1", 2000), "custom-sched"), vec![]));
    services.push((
        flags(
            svc(tcp("10.1.0.1", 2001), "rr"),
            ServiceFlags::IP_VS_SVC_F_SCHED1 | ServiceFlags::IP_VS_SVC_F_SCHED3,
        ),
        vec![],
    ));
    services.push((
        persistent(svc(tcp("10.1.0.1", 0), "wlc"), 1, Netmask::full(Family::Inet)),
        vec![dest("10.1.1.2", 0, Forwarding::Route, 65535)],
    ));
    table(services)
}

/// All of the above, for round trips.
pub(crate) fn all() -> Vec<Table> {
    vec![Table::default(), web(), mixed(), tunnels(), schedulers()]
}
