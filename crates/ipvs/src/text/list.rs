//! `ipvsadm -Ln`, `ipvsadm -Ln --stats` and `ipvsadm -Ln --rate` (ipvsadm 1.31 `list_all`,
//! `print_title`, `print_service_entry`, `print_largenum`), byte for byte, including the
//! trailing blanks of the default format's `%-10u` columns.

use std::fmt::Write as _;

use super::save::{has_sched_flags, netmask_text, sched_flags_text};
use super::{cfmt, order};
use crate::global::Info;
use crate::model::{
    DestinationEntry, Family, Forwarding, ListedService, Protocol, ServiceFlags, ServiceKey, Stats,
};

/// Which `ipvsadm -L` variant to print. `stats` wins over `rate` when both are set, as in
/// ipvsadm, which tests `FMT_STATS` first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListOptions {
    pub stats: bool,
    pub rate: bool,
}

/// Exactly what `ipvsadm -Ln` (or `--stats` / `--rate`) prints for these services.
/// Services and servers are sorted as ipvsadm sorts them, whatever order they come in.
pub fn render(info: &Info, services: &[ListedService], opts: ListOptions) -> String {
    let mut out = String::new();
    // list_all: NVERSION masks each part to a byte; size prints with %d.
    let v = info.version;
    let _ = writeln!(
        out,
        "IP Virtual Server version {}.{}.{} (size={})",
        (v >> 16) & 0xff,
        (v >> 8) & 0xff,
        v & 0xff,
        info.conn_tab_size as i32
    );
    title(&mut out, opts);
    for ls in order::services(services, |ls| &ls.entry.service.key) {
        service_line(&mut out, ls, opts);
        for d in order::destinations(&ls.destinations, |d| &d.destination) {
            dest_line(&mut out, d, opts);
        }
    }
    out
}

/// `print_title`.
fn title(out: &mut String, opts: ListOptions) {
    let columns = if opts.stats {
        Some(["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"])
    } else if opts.rate {
        Some(["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"])
    } else {
        None
    };
    match columns {
        Some(c) => {
            let _ = writeln!(
                out,
                "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
                "Prot LocalAddress:Port", c[0], c[1], c[2], c[3], c[4]
            );
        }
        None => out.push_str(
            "Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
        ),
    }
}

/// `protocol_name`.
fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Sctp => "SCTP",
        Protocol::Other(_) => "?",
    }
}

/// Cuts `s` to `n` bytes, as ipvsadm does by writing a NUL into its buffer (IPv4 only).
fn cut(mut s: String, n: usize) -> String {
    if s.len() > n {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// `svc_name` in list mode: `FWM  MARK[ IPv6]` or `%-4s ADDR:PORT`, cut at 33 for IPv4.
fn service_name(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Fwmark { family: Family::Inet, mark } => format!("FWM  {}", *mark as i32),
        ServiceKey::Fwmark { family: Family::Inet6, mark } => {
            format!("FWM  {} IPv6", *mark as i32)
        }
        ServiceKey::Addr { protocol, addr, port } => {
            let name = format!("{:<4} {}", protocol_name(*protocol), cfmt::addrport(addr, *port));
            if addr.is_ipv4() {
                cut(name, 33)
            } else {
                name
            }
        }
    }
}

/// Five `print_largenum` columns.
fn largenums(out: &mut String, values: [u64; 5]) {
    for v in values {
        cfmt::largenum(out, v);
    }
}

fn totals(s: &Stats) -> [u64; 5] {
    [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes]
}

fn rates(s: &Stats) -> [u64; 5] {
    [s.cps, s.inpps, s.outpps, s.inbps, s.outbps]
}

fn service_line(out: &mut String, ls: &ListedService, opts: ListOptions) {
    let s = &ls.entry.service;
    let name = service_name(&s.key);
    if opts.stats || opts.rate {
        let _ = write!(out, "{name:<33}");
        let st = &ls.entry.stats;
        largenums(out, if opts.stats { totals(st) } else { rates(st) });
    } else {
        let _ = write!(out, "{name} {}", s.scheduler.name());
        if has_sched_flags(s) {
            let _ = write!(out, " ({})", sched_flags_text(s).unwrap_or_default());
        }
        if s.persistent() {
            let _ = write!(out, " persistent {}", s.timeout);
            if let Some(m) = netmask_text(s) {
                let _ = write!(out, " mask {m}");
            }
            // Unlike -S, the list shows the persistence engine only for persistent services.
            if let Some(pe) = s.pe_name.as_deref().filter(|p| !p.is_empty()) {
                let _ = write!(out, " pe {pe}");
            }
        }
        if s.flags.contains(ServiceFlags::IP_VS_SVC_F_ONEPACKET) {
            out.push_str(" ops");
        }
    }
    out.push('\n');
}

/// `fwd_name`; an unknown method prints as glibc prints a NULL string.
fn fwd_name(f: Forwarding) -> &'static str {
    match f {
        Forwarding::Other(_) => "(null)",
        f => f.ipvsadm_name(),
    }
}

/// Server counters as ipvsadm 1.31 shows them: libipvs reads a server's 64-bit stats
/// attribute with its 32-bit parser (`ipvs_dests_parse_cb` calls `ipvs_parse_stats`), so
/// every counter but the two byte totals keeps only its low 32 bits.
fn dest_stats(s: &Stats) -> Stats {
    let low = |v: u64| v & 0xffff_ffff;
    Stats {
        conns: low(s.conns),
        inpkts: low(s.inpkts),
        outpkts: low(s.outpkts),
        inbytes: s.inbytes,
        outbytes: s.outbytes,
        cps: low(s.cps),
        inpps: low(s.inpps),
        outpps: low(s.outpps),
        inbps: low(s.inbps),
        outbps: low(s.outbps),
    }
}

fn dest_line(out: &mut String, e: &DestinationEntry, opts: ListOptions) {
    let d = &e.destination;
    let mut name = cfmt::addrport(&d.addr, d.port);
    if d.addr.is_ipv4() {
        name = cut(name, 28);
    }
    let st = &dest_stats(&e.stats);
    if opts.stats {
        let _ = write!(out, "  -> {name:<28}");
        largenums(out, totals(st));
    } else if opts.rate {
        // Packet rates print plainly (%8llu), only the byte rates go through largenum.
        let _ = write!(out, "  -> {name:<28} {:>8} {:>8} {:>8}", st.cps, st.inpps, st.outpps);
        cfmt::largenum(out, st.inbps);
        cfmt::largenum(out, st.outbps);
    } else {
        let _ = write!(
            out,
            "  -> {name:<28} {:<7} {:<6} {:<10} {:<10}",
            fwd_name(d.forwarding),
            d.weight as i32,
            e.conns.active,
            e.conns.inactive
        );
    }
    out.push('\n');
}

#[cfg(test)]
#[path = "list_tests.rs"]
mod tests;
