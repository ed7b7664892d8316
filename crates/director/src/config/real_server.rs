//! `real_servers[M]` and `sorry_server`: kernel destinations, with what the kernel and
//! ipvsadm require of their ports and families.
//!
//! Ports and forwarding: NAT rewrites the destination port, DR and TUN do not (ipvsadm
//! overwrites their port with the service's). So for an address service a DR/TUN real
//! server's port must be the service's port; writing another one is refused rather than
//! silently ignored. For a fwmark service the kernel looks DR/TUN destinations up with
//! port 0, so they get port 0 and a port written in the file only says where to check;
//! a NAT destination keeps its port, and port 0 sends to the port the client used.

use std::collections::HashMap;
use std::net::IpAddr;

use ::ipvs::{Destination, Family, Forwarding};

use super::check::{family_name, CheckTemplate, CheckedServer, Shared};
use super::error::Report;
use super::location::join_key;
use super::model::{RawForwarding, RawRealServer, RawSorryServer};
use super::vrrp::{command, in_range};
use super::{check, RealServer, SorryServer};

/// What every destination of one virtual server is checked against.
#[derive(Debug)]
pub(crate) struct Service<'a> {
    pub path: &'a str,
    pub name: &'a str,
    pub family: Family,
    /// None for a fwmark service.
    pub port: Option<u16>,
    /// The virtual server's forwarding, the default of its destinations.
    pub forwarding: Forwarding,
    pub alpha: bool,
}

pub(crate) fn forwarding(raw: RawForwarding) -> Forwarding {
    match raw {
        RawForwarding::Dr => Forwarding::Route,
        RawForwarding::Nat => Forwarding::Masq,
        RawForwarding::Tun => Forwarding::Tunnel,
    }
}

fn forwarding_name(forwarding: Forwarding) -> &'static str {
    match forwarding {
        Forwarding::Route => "dr",
        Forwarding::Masq => "nat",
        Forwarding::Tunnel => "tun",
        _ => "other",
    }
}

/// The real servers of one virtual server, unique by kernel destination.
pub(crate) fn check_all(
    service: &Service<'_>,
    raw: &[RawRealServer],
    default_check: Option<&CheckTemplate>,
    shared: &mut Shared,
    report: &mut Report<'_>,
) -> Vec<RealServer> {
    let mut seen: HashMap<(IpAddr, u16), usize> = HashMap::with_capacity(raw.len());
    let mut servers = Vec::with_capacity(raw.len());
    for (j, rs) in raw.iter().enumerate() {
        let path = format!("{}.real_servers[{j}]", service.path);
        let server = real_server(service, &path, rs, default_check, shared, report);
        let key = server.destination.key();
        if let Some(&first) = seen.get(&key) {
            let first_path = format!("{}.real_servers[{first}]", service.path);
            let line = report.line_of(&first_path);
            report.expected(
                &join_key(&path, "address"),
                "an address and port no other real server of this virtual server has",
                format!("{}, also {first_path} (line {line})", server.destination),
            );
        } else {
            seen.insert(key, j);
        }
        servers.push(server);
    }
    servers
}

fn real_server(
    service: &Service<'_>,
    path: &str,
    raw: &RawRealServer,
    default_check: Option<&CheckTemplate>,
    shared: &mut Shared,
    report: &mut Report<'_>,
) -> RealServer {
    let at = |key: &str| join_key(path, key);
    let forwarding = raw.forwarding.map_or(service.forwarding, forwarding);
    let (port, check_port) = ports(service, path, raw.port, forwarding, report);
    same_family(service, path, raw.address, report);
    let weight = ranged(report, path, "weight", raw.weight.unwrap_or(1), 0, 65535);
    let threshold = |report: &mut Report<'_>, key: &str, value: Option<i64>| {
        ranged(report, path, key, value.unwrap_or(0), 0, i64::from(u32::MAX))
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0)
    };
    let upper_threshold = threshold(report, "upper_threshold", raw.upper_threshold);
    let lower_threshold = threshold(report, "lower_threshold", raw.lower_threshold);
    // The kernel refuses a lower threshold above the upper one (ERANGE), 0 included.
    if lower_threshold > upper_threshold {
        report.expected(
            &at("lower_threshold"),
            format!("at most upper_threshold ({upper_threshold}; 0 means none)"),
            lower_threshold,
        );
    }
    for (key, argv) in [("notify_up", &raw.notify_up), ("notify_down", &raw.notify_down)] {
        if let Some(argv) = argv {
            command(report, &at(key), argv);
        }
    }
    let own_check = raw.check.as_ref().and_then(|check| {
        check::template(&at("check"), check, service.family, service.alpha, shared, report)
    });
    let template = if raw.check.is_some() { own_check.as_ref() } else { default_check };
    let checked = CheckedServer {
        path,
        virtual_server: service.name,
        address: raw.address,
        port: check_port,
    };
    let check = template.and_then(|t| t.spec(&checked, report));
    RealServer {
        destination: Destination {
            addr: raw.address,
            port,
            forwarding,
            weight: weight.and_then(|w| u32::try_from(w).ok()).unwrap_or(0),
            upper_threshold,
            lower_threshold,
            tunnel: Default::default(),
        },
        check,
        notify_up: raw.notify_up.clone(),
        notify_down: raw.notify_down.clone(),
    }
}

pub(crate) fn sorry_server(
    service: &Service<'_>,
    path: &str,
    raw: &RawSorryServer,
    report: &mut Report<'_>,
) -> SorryServer {
    let forwarding = raw.forwarding.map_or(service.forwarding, forwarding);
    let (port, _) = ports(service, path, raw.port, forwarding, report);
    same_family(service, path, raw.address, report);
    SorryServer { destination: Destination { forwarding, ..Destination::new(raw.address, port) } }
}

/// [`in_range`] for the `key` of the table at `path`, whose path is only formatted for
/// an error: this runs for every real server of a large file.
fn ranged(
    report: &mut Report<'_>,
    path: &str,
    key: &str,
    value: i64,
    lo: i64,
    hi: i64,
) -> Option<i64> {
    if (lo..=hi).contains(&value) {
        Some(value)
    } else {
        in_range(report, &join_key(path, key), value, lo, hi)
    }
}

/// Mixed families are only possible with tunnels; keeping one family per service keeps
/// the rules simple to read (and to check). `path` is the server's table.
fn same_family(service: &Service<'_>, path: &str, address: IpAddr, report: &mut Report<'_>) {
    if Family::of(&address) != service.family {
        report.expected(
            &join_key(path, "address"),
            format!("an {} address (the virtual server's family)", family_name(service.family)),
            address,
        );
    }
}

/// The destination's port for the kernel, and the port to check (see the module doc).
fn ports(
    service: &Service<'_>,
    path: &str,
    raw: Option<i64>,
    forwarding: Forwarding,
    report: &mut Report<'_>,
) -> (u16, Option<u16>) {
    let port_path = || join_key(path, "port");
    let port = raw
        .and_then(|p| ranged(report, path, "port", p, 0, 65535))
        .and_then(|p| u16::try_from(p).ok());
    match service.port {
        None if forwarding == Forwarding::Masq => (port.unwrap_or(0), port),
        None => (0, port),
        Some(service_port) => {
            let Some(port) = port else {
                if raw.is_none() {
                    report.expected(
                        &port_path(),
                        "a port 0-65535 (the virtual server has an address and port)",
                        "none",
                    );
                }
                return (service_port, None);
            };
            if forwarding != Forwarding::Masq && port != service_port {
                report.expected(
                    &port_path(),
                    format!(
                        "the virtual server's port {service_port} ({} forwards packets \
                         unchanged; only nat sends them to another port)",
                        forwarding_name(forwarding)
                    ),
                    port,
                );
            }
            (port, Some(port))
        }
    }
}
