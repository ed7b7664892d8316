//! `virtual_servers:`: the kernel services, the policy around them, and the checks
//! across them (unique names and services, known VRRP instances).
//!
//! Defaults are keepalived's: scheduler wlc (IPVS_DEF_SCHED), forwarding nat (what
//! keepalived sets when no lb_kind is given), quorum 1, hysteresis 0, persistence timeout
//! 6 minutes. A fwmark service is IPv4 unless it says `family: inet6`; its real servers
//! must then be of that family too.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use ::ipvs::{Family, Netmask, Scheduler, Service, ServiceFlags, ServiceKey};

use super::check::{self, Shared};
use super::error::Report;
use super::location::join_key;
use super::model::{RawFamily, RawPersistence, RawProtocol, RawVirtualServer};
use super::real_server::{self, forwarding};
use super::vrrp::{command, in_range, unique_name};
use super::{Instance, VirtualServer};
use crate::duration;

/// keepalived's IPVS_DEF_SCHED.
pub const DEFAULT_SCHEDULER: &str = "wlc";
/// keepalived's persistence_timeout when none is given (IPVS_SVC_PERSISTENT_TIMEOUT).
pub const DEFAULT_PERSISTENCE_TIMEOUT: Duration = Duration::from_secs(360);
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The persistence engines the kernel has (ip_vs_pe_sip).
const PERSISTENCE_ENGINES: [&str; 1] = ["sip"];

pub(crate) fn check(
    raw: &[RawVirtualServer],
    instances: &[Instance],
    report: &mut Report<'_>,
) -> Vec<VirtualServer> {
    let mut shared = Shared::default();
    let servers: Vec<VirtualServer> = raw
        .iter()
        .enumerate()
        .map(|(i, vs)| {
            virtual_server(&format!("virtual_servers[{i}]"), vs, instances, &mut shared, report)
        })
        .collect();
    let mut names: HashMap<&str, usize> = HashMap::with_capacity(servers.len());
    let mut keys: HashMap<ServiceKey, usize> = HashMap::with_capacity(servers.len());
    for (i, vs) in servers.iter().enumerate() {
        if !vs.name.trim().is_empty() {
            unique_name(report, &mut names, "virtual_servers", i, &vs.name, "virtual server");
        }
        // An unusable key was reported and kept as fwmark 0; do not pair on it.
        if matches!(vs.service.key, ServiceKey::Fwmark { mark: 0, .. }) {
            continue;
        }
        match keys.get(&vs.service.key) {
            Some(&first) => {
                let key_path = key_path_of(&raw[i], i);
                let line = report.line_of(&key_path_of(&raw[first], first));
                report.expected(
                    &key_path,
                    "a service no other virtual server has",
                    format!(
                        "{}, also the service of virtual_servers[{first}] {:?} (line {line})",
                        vs.service.key, servers[first].name
                    ),
                );
            }
            None => {
                keys.insert(vs.service.key, i);
            }
        }
    }
    servers
}

/// Where a virtual server's service key is written: its fwmark or its address.
fn key_path_of(raw: &RawVirtualServer, i: usize) -> String {
    let key = if raw.fwmark.is_some() { "fwmark" } else { "address" };
    format!("virtual_servers[{i}].{key}")
}

fn virtual_server(
    path: &str,
    raw: &RawVirtualServer,
    instances: &[Instance],
    shared: &mut Shared,
    report: &mut Report<'_>,
) -> VirtualServer {
    let at = |key: &str| join_key(path, key);
    if raw.name.trim().is_empty() {
        report.expected(&at("name"), "a virtual server name", "an empty string");
    }
    let (key, port) = service_key(path, raw, report);
    let family = key.family();
    let scheduler = scheduler(&at("scheduler"), raw.scheduler.as_deref(), report);
    let mut service = Service::new(key);
    service.scheduler = scheduler;
    if let Some(persistence) = &raw.persistence {
        persist(&at("persistence"), persistence, family, &mut service, report);
    }
    if let Some(engine) = &raw.persistence_engine {
        if !PERSISTENCE_ENGINES.contains(&engine.as_str()) {
            let known = PERSISTENCE_ENGINES.join(", ");
            report.expected(
                &at("persistence_engine"),
                format!("one of {known}"),
                format!("{engine:?}"),
            );
        }
        service.pe_name = Some(engine.clone());
    }
    // ipvsadm: "Zero port specified for non-persistent service".
    if port == Some(0) && !service.persistent() {
        report.expected(&at("port"), "a port 1-65535 (port 0, every port, needs persistence)", 0);
    }
    let quorum = in_range(report, &at("quorum"), raw.quorum.unwrap_or(1), 1, i64::from(u32::MAX))
        .and_then(|q| u32::try_from(q).ok())
        .unwrap_or(1);
    // keepalived: below quorum - hysteresis is down, so hysteresis must stay under quorum.
    let hysteresis = match raw.hysteresis.unwrap_or(0) {
        h if (0..i64::from(quorum)).contains(&h) => u32::try_from(h).unwrap_or(0),
        h => {
            report.expected(&at("hysteresis"), format!("0 to quorum - 1 ({})", quorum - 1), h);
            0
        }
    };
    let vrrp_instance = raw.vrrp_instance.as_ref().map(|name| {
        known_instance(report, &at("vrrp_instance"), name, instances);
        name.clone()
    });
    let drain_timeout = raw.drain_timeout.unwrap_or(DEFAULT_DRAIN_TIMEOUT);
    for (key, argv) in [("quorum_up", &raw.quorum_up), ("quorum_down", &raw.quorum_down)] {
        if let Some(argv) = argv {
            command(report, &at(key), argv);
        }
    }
    let context = real_server::Service {
        path,
        name: &raw.name,
        family,
        port,
        // keepalived: "no forwarding method set, setting default NAT".
        forwarding: raw.forwarding.map_or(::ipvs::Forwarding::Masq, forwarding),
        alpha: raw.alpha,
    };
    let sorry_server = raw
        .sorry_server
        .as_ref()
        .map(|sorry| real_server::sorry_server(&context, &at("sorry_server"), sorry, report));
    let default_check = raw
        .check
        .as_ref()
        .and_then(|c| check::template(&at("check"), c, family, raw.alpha, shared, report));
    let real_servers =
        real_server::check_all(&context, &raw.real_servers, default_check.as_ref(), shared, report);
    VirtualServer {
        name: raw.name.clone(),
        service,
        quorum,
        hysteresis,
        inhibit_on_failure: raw.inhibit_on_failure,
        alpha: raw.alpha,
        omega: raw.omega,
        sorry_server,
        vrrp_instance,
        drain_timeout,
        quorum_up: raw.quorum_up.clone(),
        quorum_down: raw.quorum_down.clone(),
        real_servers,
    }
}

/// The kernel key, and the service port (None for fwmark). A key that cannot be made is
/// reported and replaced by fwmark 0, which nothing pairs with.
fn service_key(
    path: &str,
    raw: &RawVirtualServer,
    report: &mut Report<'_>,
) -> (ServiceKey, Option<u16>) {
    let at = |key: &str| join_key(path, key);
    let unusable = |family| (ServiceKey::Fwmark { family, mark: 0 }, None);
    if let Some(mark) = raw.fwmark {
        for (key, given) in [
            ("address", raw.address.is_some()),
            ("port", raw.port.is_some()),
            ("protocol", raw.protocol.is_some()),
        ] {
            if given {
                report.key(
                    &at(key),
                    format!("expected no {key} with fwmark (the mark alone selects the packets)"),
                );
            }
        }
        let family = match raw.family {
            Some(RawFamily::Inet6) => Family::Inet6,
            Some(RawFamily::Inet) | None => Family::Inet,
        };
        return match in_range(report, &at("fwmark"), mark, 1, i64::from(u32::MAX)) {
            Some(mark) => {
                (ServiceKey::Fwmark { family, mark: u32::try_from(mark).unwrap_or(0) }, None)
            }
            None => unusable(family),
        };
    }
    if raw.family.is_some() {
        report.key(&at("family"), "expected no family with an address (the address gives it)");
    }
    let Some(addr) = raw.address else {
        report.value(path, "expected address and port, or fwmark, got neither");
        return unusable(Family::Inet);
    };
    let Some(port) = raw.port else {
        report.expected(&at("port"), "a port (the virtual server has an address)", "none");
        return unusable(Family::of(&addr));
    };
    let Some(port) =
        in_range(report, &at("port"), port, 0, 65535).and_then(|p| u16::try_from(p).ok())
    else {
        return unusable(Family::of(&addr));
    };
    let protocol = match raw.protocol.unwrap_or(RawProtocol::Tcp) {
        RawProtocol::Tcp => ::ipvs::Protocol::Tcp,
        RawProtocol::Udp => ::ipvs::Protocol::Udp,
        RawProtocol::Sctp => ::ipvs::Protocol::Sctp,
    };
    (ServiceKey::Addr { protocol, addr, port }, Some(port))
}

fn scheduler(path: &str, name: Option<&str>, report: &mut Report<'_>) -> Scheduler {
    let name = name.unwrap_or(DEFAULT_SCHEDULER);
    if !Scheduler::KNOWN.contains(&name) {
        report.expected(
            path,
            format!("one of {}", Scheduler::KNOWN.join(" ")),
            format!("{name:?}"),
        );
    }
    Scheduler::from_name(name)
}

fn persist(
    path: &str,
    raw: &RawPersistence,
    family: Family,
    service: &mut Service,
    report: &mut Report<'_>,
) {
    let at = |key: &str| join_key(path, key);
    let timeout = raw.timeout.unwrap_or(DEFAULT_PERSISTENCE_TIMEOUT);
    // The kernel keeps whole seconds.
    let seconds = u32::try_from(timeout.as_secs()).ok().filter(|s| *s > 0);
    match seconds {
        Some(seconds) if timeout.subsec_nanos() == 0 => service.timeout = seconds,
        _ => report.expected(
            &at("timeout"),
            format!("whole seconds from 1s to {}s", u32::MAX),
            duration::format(timeout),
        ),
    }
    service.flags.set(ServiceFlags::IP_VS_SVC_F_PERSISTENT, true);
    if let Some(text) = &raw.netmask {
        match netmask(text, family) {
            Some(mask) => service.netmask = mask,
            None => {
                let expected = match family {
                    Family::Inet => "a contiguous IPv4 netmask such as 255.255.255.0",
                    Family::Inet6 => "an IPv6 prefix length 1-128",
                };
                report.expected(&at("netmask"), expected, format!("{text:?}"));
            }
        }
    }
}

/// `255.255.255.0` for IPv4 (contiguous, as the kernel masks with it); `64` for IPv6.
fn netmask(text: &str, family: Family) -> Option<Netmask> {
    match family {
        Family::Inet => {
            let mask: Ipv4Addr = text.parse().ok()?;
            let bits = u32::from(mask);
            (bits.leading_ones() + bits.trailing_zeros() == 32 && bits != 0)
                .then_some(Netmask::V4(mask))
        }
        Family::Inet6 => {
            let prefix: u8 = text.parse().ok()?;
            (1..=128).contains(&prefix).then_some(Netmask::V6Prefix(prefix))
        }
    }
}

/// An instance name that exists; the error lists those that do.
pub(crate) fn known_instance(
    report: &mut Report<'_>,
    path: &str,
    name: &str,
    instances: &[Instance],
) {
    if instances.iter().any(|i| i.name == name) {
        return;
    }
    let known: Vec<String> = instances.iter().map(|i| format!("{:?}", i.name)).collect();
    let expected = if known.is_empty() {
        "the name of an instance in vrrp.instances (there are none)".to_string()
    } else {
        format!("the name of an instance in vrrp.instances ({})", known.join(", "))
    };
    report.expected(path, expected, format!("{name:?}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmasks_are_contiguous_v4_masks_or_v6_prefixes() {
        let v4 = |m: &str| netmask(m, Family::Inet);
        assert_eq!(v4("255.255.255.0"), Some(Netmask::V4(Ipv4Addr::new(255, 255, 255, 0))));
        assert_eq!(v4("255.255.255.255"), Some(Netmask::V4(Ipv4Addr::BROADCAST)));
        for bad in ["255.0.255.0", "0.0.0.0", "24", "255.255.255.256"] {
            assert_eq!(v4(bad), None, "{bad}");
        }
        assert_eq!(netmask("64", Family::Inet6), Some(Netmask::V6Prefix(64)));
        for bad in ["0", "129", "ffff::"] {
            assert_eq!(netmask(bad, Family::Inet6), None, "{bad}");
        }
    }
}
