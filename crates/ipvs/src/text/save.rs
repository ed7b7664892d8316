//! `ipvsadm -Sn` (render) and `ipvsadm -R` (parse).
//!
//! What `-S` leaves out, and so what a save/restore round trip loses, is ipvsadm's choice,
//! kept here: connection thresholds (`-x`/`-y`) are never printed, the persistence timeout
//! and netmask only for persistent services, tunnel settings only for `-i` servers.
//! [`saved_view`] gives the part of a table that survives.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::command::{self, Op};
use super::{cfmt, order};
use crate::model::{
    Destination, Family, Forwarding, Netmask, Protocol, Service, ServiceFlags, ServiceKey, Table,
    TableService, Tunnel, TunnelFlags, TunnelType,
};

pub use super::ParseError;

/// libipvs `IPVS_SVC_PERSISTENT_TIMEOUT`: what a bare `-p` means.
pub const DEFAULT_PERSISTENT_TIMEOUT: u32 = command::DEFAULT_PERSISTENT_TIMEOUT;

/// Exactly what `ipvsadm -Sn` prints for this table.
///
/// Services and servers are sorted as ipvsadm sorts them. Where ipvsadm's comparison is
/// not a consistent order (addresses 2^31 or more apart, mixed-family tunnel servers; see
/// `order`), its result depends on the order the kernel listed them in, which is taken to
/// be the table's order: a table read from the kernel renders exactly.
pub fn render(table: &Table) -> String {
    let mut out = String::new();
    for ts in order::services(&table.services, |ts| &ts.service.key) {
        let name = rule_service_name(&ts.service.key);
        service_rule(&mut out, &name, &ts.service);
        for d in order::destinations(&ts.destinations, |d| d) {
            dest_rule(&mut out, &name, d);
        }
    }
    out
}

/// Reads what `ipvsadm-restore` accepts: one ipvsadm command per line, applied in order to
/// an empty table. Lines starting with `#` are skipped as ipvsadm-restore's `grep -v '^#'`
/// does (plain `ipvsadm -R` would choke on them). Nothing is returned unless every line
/// parses and applies.
pub fn parse(input: &str) -> Result<Table, ParseError> {
    let mut table = Building::default();
    for (i, line) in input.split('\n').enumerate() {
        if line.starts_with('#') {
            continue;
        }
        let err = |column, message| ParseError { line: i + 1, column, message };
        let op = command::parse_line(line).map_err(|e| err(e.column, e.message))?;
        if let Some(op) = op {
            apply(&mut table, op).map_err(|m| err(None, m))?;
        }
    }
    Ok(table.table)
}

/// The table being read, with an index of its services: a rules file names a service on
/// every line, and a linear search made large files quadratic.
#[derive(Default)]
struct Building {
    table: Table,
    index: HashMap<ServiceKey, usize>,
}

impl Building {
    fn find(&self, key: &ServiceKey) -> Option<usize> {
        self.index.get(key).copied()
    }

    fn reindex(&mut self) {
        self.index =
            self.table.services.iter().enumerate().map(|(i, s)| (s.service.key, i)).collect();
    }
}

/// The table as it reads back after `render` then `parse` (or `ipvsadm -S` then `-R`):
/// ipvsadm's save drops what it does not print.
pub fn saved_view(table: &Table) -> Table {
    let services = table
        .services
        .iter()
        .map(|ts| {
            let mut service = ts.service.clone();
            service.pe_name = service.pe_name.filter(|p| !p.is_empty());
            if !service.persistent() {
                service.timeout = 0;
                service.netmask = Netmask::full(service.key.family());
            }
            let svc_port = match service.key {
                ServiceKey::Addr { port, .. } => Some(port),
                ServiceKey::Fwmark { .. } => None,
            };
            let destinations = ts
                .destinations
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    d.upper_threshold = 0;
                    d.lower_threshold = 0;
                    d.tunnel = saved_tunnel(&d);
                    if d.forwarding == Forwarding::Local {
                        d.forwarding = Forwarding::Route;
                    }
                    // ipvsadm gives direct-routing and tunnel servers the service's port.
                    if let (Some(p), Forwarding::Route | Forwarding::Tunnel) =
                        (svc_port, d.forwarding)
                    {
                        d.port = p;
                    }
                    d
                })
                .collect();
            TableService { service, destinations }
        })
        .collect();
    Table { services }
}

fn saved_tunnel(d: &Destination) -> Tunnel {
    if d.forwarding != Forwarding::Tunnel {
        return Tunnel::default();
    }
    let t = d.tunnel;
    match t.kind.unwrap_or(TunnelType::Ipip) {
        TunnelType::Gue => Tunnel { kind: t.kind, port: t.port, flags: flag_opt(t.flags).1 },
        TunnelType::Gre => Tunnel { kind: t.kind, port: 0, flags: flag_opt(t.flags).1 },
        // ipip prints no options and an unknown type prints none at all: both read back as
        // the default tunnel type.
        _ => Tunnel { kind: Some(TunnelType::Ipip), port: 0, flags: TunnelFlags::default() },
    }
}

/// What the kernel does with each command (`ip_vs_ctl.c`), with its refusals as errors.
fn apply(table: &mut Building, op: Op) -> Result<(), String> {
    let missing = |k: &ServiceKey| format!("service {k} is not defined (add it with -A first)");
    match op {
        Op::AddService(service) => {
            if table.find(&service.key).is_some() {
                return Err(format!("duplicate service {}: it already exists", service.key));
            }
            table.index.insert(service.key, table.table.services.len());
            table.table.services.push(TableService { service, destinations: Vec::new() });
        }
        Op::EditService(service) => {
            let i = table.find(&service.key).ok_or_else(|| missing(&service.key))?;
            table.table.services[i].service = service;
        }
        Op::DelService(key) => {
            let i = table.find(&key).ok_or_else(|| missing(&key))?;
            table.table.services.remove(i);
            table.reindex();
        }
        Op::Clear => {
            table.table.services.clear();
            table.index.clear();
        }
        Op::Zero(key) => {
            if let Some(k) = key {
                table.find(&k).ok_or_else(|| missing(&k))?;
            }
        }
        Op::AddDest(key, dest) | Op::EditDest(key, dest)
            if dest.lower_threshold > dest.upper_threshold =>
        {
            return Err(format!(
                "server {dest} of service {key}: lower threshold {} is higher than upper \
                 threshold {} (the kernel refuses this; -y needs an -x at least as large)",
                dest.lower_threshold, dest.upper_threshold
            ));
        }
        Op::AddDest(key, dest) => {
            let i = table.find(&key).ok_or_else(|| missing(&key))?;
            let dests = &mut table.table.services[i].destinations;
            if dests.iter().any(|d| d.key() == dest.key()) {
                return Err(format!("duplicate server {dest} in service {key}: it already exists"));
            }
            dests.push(dest);
        }
        Op::EditDest(key, dest) => {
            let i = table.find(&key).ok_or_else(|| missing(&key))?;
            let d = table.table.services[i]
                .destinations
                .iter_mut()
                .find(|d| d.key() == dest.key())
                .ok_or_else(|| format!("no server {dest} in service {key}"))?;
            *d = dest;
        }
        Op::DelDest(key, (addr, port)) => {
            let i = table.find(&key).ok_or_else(|| missing(&key))?;
            let dests = &mut table.table.services[i].destinations;
            let j = dests.iter().position(|d| d.key() == (addr, port)).ok_or_else(|| {
                format!("no server {} in service {key}", cfmt::addrport(&addr, port))
            })?;
            dests.remove(j);
        }
    }
    Ok(())
}

/// The service part of `-A`/`-a` lines (`print_service_entry`, `FMT_RULE`):
/// `-f MARK [-6]` or `-t|-u|--sctp-service ADDR:PORT`. Marks print with `%d`.
fn rule_service_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Fwmark { family: Family::Inet6, mark } => format!("-f {} -6", *mark as i32),
        ServiceKey::Fwmark { family: Family::Inet, mark } => format!("-f {}", *mark as i32),
        ServiceKey::Addr { protocol, addr, port } => {
            let opt = match protocol {
                Protocol::Tcp => "-t",
                Protocol::Udp => "-u",
                Protocol::Sctp => "--sctp-service",
                Protocol::Other(_) => "--xxx-service",
            };
            format!("{opt} {}", cfmt::addrport(addr, *port))
        }
    }
}

/// The netmask as libipvs holds it: a u32 over the attribute's bytes.
pub(crate) fn netmask_raw(n: &Netmask) -> u32 {
    match n {
        Netmask::V4(m) => u32::from_ne_bytes(m.octets()),
        Netmask::V6Prefix(p) => u32::from(*p),
    }
}

/// ` -M MASK` / ` mask MASK` unless the netmask is the full one: `inet_ntoa` for IPv4,
/// `%i` of the prefix for IPv6.
pub(crate) fn netmask_text(s: &Service) -> Option<String> {
    let raw = netmask_raw(&s.netmask);
    match s.key.family() {
        Family::Inet => {
            (raw != 0xffff_ffff).then(|| std::net::Ipv4Addr::from(raw.to_ne_bytes()).to_string())
        }
        Family::Inet6 => (raw != 128).then(|| (raw as i32).to_string()),
    }
}

/// `print_sched_flags`: names depend on the scheduler; None if nothing is printed.
pub(crate) fn sched_flags_text(s: &Service) -> Option<String> {
    let set = s.sched_flag_names();
    (!set.is_empty()).then(|| set.join(","))
}

/// Whether any scheduler flag bit is set (the test ipvsadm makes before printing them).
pub(crate) fn has_sched_flags(s: &Service) -> bool {
    s.flags.0
        & (ServiceFlags::IP_VS_SVC_F_SCHED1
            | ServiceFlags::IP_VS_SVC_F_SCHED2
            | ServiceFlags::IP_VS_SVC_F_SCHED3)
        != 0
}

/// `-A NAME -s SCHED[ -p TIMEOUT[ -M MASK]][ --pe PE][ -o][ -b FLAGS]`.
fn service_rule(out: &mut String, name: &str, s: &Service) {
    let _ = write!(out, "-A {name} -s {}", s.scheduler.name());
    if s.persistent() {
        let _ = write!(out, " -p {}", s.timeout);
        if let Some(m) = netmask_text(s) {
            let _ = write!(out, " -M {m}");
        }
    }
    if let Some(pe) = s.pe_name.as_deref().filter(|p| !p.is_empty()) {
        let _ = write!(out, " --pe {pe}");
    }
    if s.flags.contains(ServiceFlags::IP_VS_SVC_F_ONEPACKET) {
        out.push_str(" -o");
    }
    if has_sched_flags(s) {
        // ipvsadm prints " -b " even when print_sched_flags then prints nothing.
        out.push_str(" -b ");
        out.push_str(&sched_flags_text(s).unwrap_or_default());
    }
    out.push('\n');
}

/// `fwd_switch`: local-node servers save as `-g`; an unknown method prints as glibc
/// prints a NULL string.
fn fwd_switch(f: Forwarding) -> &'static str {
    match f {
        Forwarding::Masq => "-m",
        Forwarding::Tunnel => "-i",
        Forwarding::Local | Forwarding::Route => "-g",
        Forwarding::Other(_) => "(null)",
    }
}

/// `tun_flags_opts[tun_flags]`. ipvsadm indexes an array with the flags, so only 0, 1, 2
/// are defined; other values (not producible with ipvsadm) print the strongest checksum.
fn flag_opt(flags: TunnelFlags) -> (&'static str, TunnelFlags) {
    if flags.0 & TunnelFlags::IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM != 0 {
        ("--tun-remcsum", TunnelFlags(TunnelFlags::IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM))
    } else if flags.0 & TunnelFlags::IP_VS_TUNNEL_ENCAP_FLAG_CSUM != 0 {
        ("--tun-csum", TunnelFlags(TunnelFlags::IP_VS_TUNNEL_ENCAP_FLAG_CSUM))
    } else {
        ("--tun-nocsum", TunnelFlags(TunnelFlags::IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM))
    }
}

/// `-a NAME -r ADDR:PORT FWD -w WEIGHT` plus `print_tunnel_rule`'s tunnel options.
/// A missing tunnel type reads as 0, which is ipip, as libipvs' zeroed entry does.
fn dest_rule(out: &mut String, name: &str, d: &Destination) {
    let _ = write!(
        out,
        "-a {name} -r {} {} -w {}",
        cfmt::addrport(&d.addr, d.port),
        fwd_switch(d.forwarding),
        d.weight as i32
    );
    if d.forwarding == Forwarding::Tunnel {
        let t = d.tunnel;
        let _ = match t.kind.unwrap_or(TunnelType::Ipip) {
            TunnelType::Gre => write!(out, " --tun-type gre {}", flag_opt(t.flags).0),
            TunnelType::Gue => {
                write!(out, " --tun-type gue --tun-port {} {}", t.port, flag_opt(t.flags).0)
            }
            TunnelType::Ipip => write!(out, " --tun-type ipip"),
            TunnelType::Other(_) => Ok(()),
        };
    }
    out.push('\n');
}

#[cfg(test)]
#[path = "save_tests.rs"]
mod tests;
