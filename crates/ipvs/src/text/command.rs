//! One line of an `ipvsadm -R` stream turned into a table operation, with the checks
//! ipvsadm 1.31 makes before it talks to the kernel (`parse_options`, `process_options`)
//! and its defaults (`process_options`: weight 1, direct routing, tunnel type ipip, full
//! netmask; scheduler wlc).

use std::net::{IpAddr, Ipv4Addr};

use super::args::{self, Cmd, Opt, Spelled, Tag};
use super::cfmt;
use super::optc::{self, Present};
use super::values::{self, HostPort};
use crate::model::{
    Destination, Family, Forwarding, Netmask, Protocol, Scheduler, Service, ServiceFlags,
    ServiceKey, Tunnel, TunnelFlags, TunnelType, AF_INET, AF_INET6,
};

/// What a line asks of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    AddService(Service),
    EditService(Service),
    DelService(ServiceKey),
    Clear,
    AddDest(ServiceKey, Destination),
    EditDest(ServiceKey, Destination),
    DelDest(ServiceKey, (IpAddr, u16)),
    /// `-Z`: zeroes counters, leaves the table as it is.
    Zero(Option<ServiceKey>),
}

/// An error within one line; the caller adds the line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineError {
    pub column: Option<usize>,
    pub message: String,
}

fn fail<T>(column: Option<usize>, message: impl Into<String>) -> Result<T, LineError> {
    Err(LineError { column, message: message.into() })
}

/// `MAX_TIMEOUT`: 31 days.
const MAX_TIMEOUT: i64 = 86400 * 31;
/// libipvs `IPVS_SVC_PERSISTENT_TIMEOUT` (6 * 60), used for a bare `-p`.
pub(crate) const DEFAULT_PERSISTENT_TIMEOUT: u32 = 360;
/// `-w` range in `parse_options`: 0 to INT_MAX (Debian's 1.31 accepts 2147483647 and
/// refuses 2147483648; the man page says the same).
const WEIGHT_MAX: i64 = i32::MAX as i64;
/// `-x`/`-y` range.
const THRESHOLD_MAX: i64 = i32::MAX as i64;
/// `IP_VS_SCHEDNAME_MAXLEN - 1` and `IP_VS_PENAME_MAXLEN`: ipvsadm `strncpy`s that much.
const SCHED_NAME_MAX: usize = 15;
const PE_NAME_MAX: usize = 16;

const SCHED_MASK: u32 = ServiceFlags::IP_VS_SVC_F_SCHED1
    | ServiceFlags::IP_VS_SVC_F_SCHED2
    | ServiceFlags::IP_VS_SVC_F_SCHED3;

const COMMANDS: &str = "-A, -E, -D, -C, -a, -e, -d or -Z";

/// `ipvs_service_t` while options are read.
struct Svc {
    af: u16,
    protocol: u16,
    addr: IpAddr,
    port: u16,
    fwmark: u32,
    sched: String,
    flags: u32,
    timeout: u32,
    /// As libipvs holds it: the IPv4 mask's bytes read as a native u32, or the IPv6 prefix.
    netmask: u32,
    pe: String,
}

/// `ipvs_dest_t` while options are read.
struct Dest {
    af: u16,
    addr: IpAddr,
    port: u16,
    conn_flags: u32,
    weight: u32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: u8,
    tun_port: u16,
    tun_flags: u16,
}

/// `struct ipvs_command_entry` plus the options seen so far.
struct Entry {
    cmd: Cmd,
    svc: Svc,
    dest: Dest,
    present: Present,
    sched_flags: Option<(String, Option<usize>)>,
}

/// Reads one line. `Ok(None)` for a line without words, which ipvsadm skips.
pub(crate) fn parse_line(line: &str) -> Result<Option<Op>, LineError> {
    let words = args::tokenize(line);
    if words.is_empty() {
        return Ok(None);
    }
    let scanned = args::scan(&words);
    let mut opts = scanned.opts.iter();
    // popt hands back options in order; ipvsadm wants the command first.
    let cmd = match opts.next() {
        Some(Opt { tag: Tag::Command(c), spelled, column, .. }) => {
            table_command(*c, *spelled, *column)?
        }
        Some(o) => {
            let what = format!("expected a command ({COMMANDS}) first, found {}", o.spelled);
            return fail(Some(o.column), what);
        }
        None => {
            if let Some((column, message)) = scanned.error {
                return fail(Some(column), message);
            }
            let w = scanned.args.first().unwrap_or(&words[0]);
            let what = format!("expected a command ({COMMANDS}), found `{}'", w.text);
            return fail(Some(w.column), what);
        }
    };
    let mut e = Entry::new(cmd);
    for o in opts {
        e.option(o)?;
    }
    if let Some((column, message)) = scanned.error {
        return fail(Some(column), message);
    }
    if let Some(a) = scanned.args.first() {
        return fail(Some(a.column), format!("unexpected argument {}", a.text));
    }
    e.finish().map(Some)
}

/// The commands that change the table; the rest (listing, saving, daemons, timeouts) have
/// no place in a table file.
fn table_command(cmd: Cmd, spelled: Spelled<'_>, column: usize) -> Result<Cmd, LineError> {
    match cmd {
        Cmd::Add
        | Cmd::Edit
        | Cmd::Del
        | Cmd::Flush
        | Cmd::AddDest
        | Cmd::EditDest
        | Cmd::DelDest
        | Cmd::Zero => Ok(cmd),
        _ => {
            let what =
                format!("{spelled} ({}) is not a table command; expected {COMMANDS}", cmd.name());
            fail(Some(column), what)
        }
    }
}

fn family_of(addr: &IpAddr) -> u16 {
    Family::of(addr).to_af()
}

impl Entry {
    /// `process_options` defaults.
    fn new(cmd: Cmd) -> Self {
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        Entry {
            cmd,
            svc: Svc {
                af: 0,
                protocol: 0,
                addr: any,
                port: 0,
                fwmark: 0,
                sched: String::new(),
                flags: 0,
                timeout: 0,
                netmask: 0xffff_ffff,
                pe: String::new(),
            },
            dest: Dest {
                af: 0,
                addr: any,
                port: 0,
                conn_flags: Forwarding::IP_VS_CONN_F_DROUTE,
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
                tun_type: TunnelType::IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
                tun_port: 0,
                tun_flags: 0,
            },
            present: Present::default(),
            sched_flags: None,
        }
    }

    /// One option of `parse_options`' loop.
    fn option(&mut self, o: &Opt) -> Result<(), LineError> {
        let col = Some(o.column);
        if let Tag::Command(_) = o.tag {
            return fail(col, format!("multiple commands specified ({})", o.spelled));
        }
        if let Some(c) = optc::optc(o.tag) {
            if !self.present.add(c, o.column) {
                let what =
                    format!("multiple '{}' options specified ({})", optc::OPTNAMES[c], o.spelled);
                return fail(col, what);
            }
        }
        let value = o.value.map_or("", |v| v.text);
        let vcol = o.value.map(|v| v.column).or(col);
        let result = match o.tag {
            Tag::Tcp | Tag::Udp | Tag::Sctp | Tag::Fwmark | Tag::Ipv6 => self.service_option(o),
            Tag::Scheduler => {
                self.svc.sched = values::truncated(value, SCHED_NAME_MAX);
                Ok(())
            }
            Tag::Persistent => self.persistent(o.value.map(|v| v.text)),
            Tag::Netmask => self.netmask(value),
            Tag::Ops => {
                self.svc.flags |= ServiceFlags::IP_VS_SVC_F_ONEPACKET;
                Ok(())
            }
            Tag::Pe => {
                self.svc.pe = values::truncated(value, PE_NAME_MAX);
                Ok(())
            }
            Tag::SchedFlags => {
                self.sched_flags = Some((values::truncated(value, 127), vcol));
                Ok(())
            }
            // The rest only count as present: `generic_opt_check` rejects them for every
            // table command.
            _ => self.dest_option(o.tag, value),
        };
        // -6 is blamed on itself, everything else on its value.
        let blame = if o.tag == Tag::Ipv6 { col } else { vcol };
        result.map_err(|message| LineError { column: blame, message })
    }

    /// `-t`, `-u`, `--sctp-service`, `-f`, `-6`.
    fn service_option(&mut self, o: &Opt) -> Result<(), String> {
        let value = o.value.map_or("", |v| v.text);
        let protocol = match o.tag {
            Tag::Tcp => Protocol::IPPROTO_TCP,
            Tag::Udp => Protocol::IPPROTO_UDP,
            Tag::Sctp => Protocol::IPPROTO_SCTP,
            Tag::Fwmark => {
                // ipvsadm sets a TCP protocol for fwmark services "to a sane value".
                self.svc.af = AF_INET;
                self.svc.protocol = Protocol::IPPROTO_TCP;
                self.svc.fwmark = match cfmt::strtol_whole(value) {
                    Some(m) if m > 0 && m <= i64::from(u32::MAX) => m as u32,
                    _ => {
                        return Err(format!(
                            "invalid fwmark value `{value}' specified (expected 1..=4294967295)"
                        ))
                    }
                };
                return Ok(());
            }
            _ => {
                if self.svc.fwmark == 0 {
                    return Err("-6 used before -f (it makes a fwmark service IPv6)".into());
                }
                self.svc.af = AF_INET6;
                self.svc.netmask = 128;
                return Ok(());
            }
        };
        self.svc.protocol = protocol;
        let Some(HostPort { addr, port }) = values::parse_service(value, protocol) else {
            return Err(format!(
                "illegal virtual server address[:port] specified: `{value}' \
                 (expected a.b.c.d:port or [ipv6]:port)"
            ));
        };
        self.svc.addr = addr;
        self.svc.af = family_of(&addr);
        if addr.is_ipv6() {
            self.svc.netmask = 128;
        }
        if let Some(p) = port {
            self.svc.port = p;
        }
        Ok(())
    }

    /// `-p [timeout]`.
    fn persistent(&mut self, value: Option<&str>) -> Result<(), String> {
        self.svc.flags |= ServiceFlags::IP_VS_SVC_F_PERSISTENT;
        self.svc.timeout = match value {
            None => DEFAULT_PERSISTENT_TIMEOUT,
            Some(v) => match cfmt::string_to_number(v, 1, MAX_TIMEOUT) {
                Some(t) => t as u32,
                None => {
                    return Err(format!(
                        "invalid timeout value `{v}' specified (expected 1..={MAX_TIMEOUT} seconds)"
                    ))
                }
            },
        };
        Ok(())
    }

    /// `-M`: an IPv4 mask (inet_aton) unless the service read so far is IPv6, then a prefix.
    fn netmask(&mut self, value: &str) -> Result<(), String> {
        if self.svc.af != AF_INET6 {
            let Some(m) = cfmt::inet_aton(value) else {
                return Err(format!(
                    "illegal virtual server persistent mask specified: `{value}' \
                     (expected a dotted IPv4 mask)"
                ));
            };
            self.svc.netmask = u32::from_ne_bytes(m.octets());
        } else {
            let p = cfmt::atoi(value);
            if !(1..=128).contains(&p) {
                return Err(format!(
                    "illegal ipv6 netmask specified: `{value}' (expected 1..=128)"
                ));
            }
            self.svc.netmask = p as u32;
        }
        Ok(())
    }

    /// The real-server options.
    fn dest_option(&mut self, tag: Tag, value: &str) -> Result<(), String> {
        let d = &mut self.dest;
        match tag {
            Tag::RealServer => {
                // Parsed with the service's protocol; no port means the service's port
                // as read so far.
                let Some(HostPort { addr, port }) = values::parse_service(value, self.svc.protocol)
                else {
                    return Err(format!(
                        "illegal real server address[:port] specified: `{value}' \
                         (expected a.b.c.d[:port] or [ipv6]:port)"
                    ));
                };
                d.addr = addr;
                d.af = family_of(&addr);
                d.port = port.unwrap_or(self.svc.port);
            }
            Tag::Ipip => d.conn_flags = Forwarding::IP_VS_CONN_F_TUNNEL,
            Tag::Gate => d.conn_flags = Forwarding::IP_VS_CONN_F_DROUTE,
            Tag::Masq => d.conn_flags = Forwarding::IP_VS_CONN_F_MASQ,
            Tag::Weight => d.weight = values::number(value, 0, WEIGHT_MAX, "weight")?,
            Tag::UThreshold => {
                d.u_threshold = values::number(value, 0, THRESHOLD_MAX, "u_threshold")?;
            }
            Tag::LThreshold => {
                d.l_threshold = values::number(value, 0, THRESHOLD_MAX, "l_threshold")?;
            }
            Tag::TunType => {
                d.tun_type = match value {
                    "ipip" => TunnelType::IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
                    "gue" => TunnelType::IP_VS_CONN_F_TUNNEL_TYPE_GUE,
                    "gre" => TunnelType::IP_VS_CONN_F_TUNNEL_TYPE_GRE,
                    _ => {
                        return Err(format!(
                            "illegal tunnel type specified: `{value}' (expected ipip, gue or gre)"
                        ))
                    }
                };
            }
            Tag::TunPort => d.tun_port = values::number(value, 1, 65535, "tunnel port")? as u16,
            Tag::TunCsum => d.tun_flags |= TunnelFlags::IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
            Tag::TunRemcsum => d.tun_flags |= TunnelFlags::IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM,
            _ => {}
        }
        Ok(())
    }

    /// What `parse_options` does after its loop and `process_options` before the kernel.
    fn finish(mut self) -> Result<Op, LineError> {
        if let Some((arg, col)) = self.sched_flags.take().filter(|(a, _)| !a.is_empty()) {
            let sched = if self.svc.sched.is_empty() { "wlc" } else { &self.svc.sched };
            let flags = values::parse_sched_flags(sched, &arg)
                .map_err(|message| LineError { column: col, message })?;
            self.svc.flags = (self.svc.flags & !SCHED_MASK) | flags;
        }
        optc::generic_opt_check(self.cmd, &self.present)?;
        match self.cmd {
            Cmd::Add | Cmd::Edit => self.service_op(),
            Cmd::Del => Ok(Op::DelService(self.key())),
            Cmd::Flush => Ok(Op::Clear),
            Cmd::Zero => Ok(Op::Zero(self.present.has(optc::SERVICE).then(|| self.key()))),
            Cmd::DelDest => Ok(Op::DelDest(self.key(), (self.dest.addr, self.dest.port))),
            _ => self.destination_op(),
        }
    }

    /// The add/edit-service checks of `process_options`, then the service.
    fn service_op(mut self) -> Result<Op, LineError> {
        let s = &mut self.svc;
        let persistent = s.flags & ServiceFlags::IP_VS_SVC_F_PERSISTENT != 0;
        if s.fwmark == 0 && s.port == 0 && !persistent {
            let col = self.present.column(optc::SERVICE);
            return fail(col, "Zero port specified for non-persistent service");
        }
        let ops = s.flags & ServiceFlags::IP_VS_SVC_F_ONEPACKET != 0;
        if ops && s.fwmark == 0 && s.protocol != Protocol::IPPROTO_UDP {
            let col = self.present.column(optc::ONEPACKET);
            return fail(col, "One-Packet Scheduling is only for UDP virtual services");
        }
        if s.sched.is_empty() {
            s.sched = "wlc".into();
        }
        let netmask = if s.af == AF_INET6 {
            Netmask::V6Prefix(u8::try_from(s.netmask).unwrap_or(128))
        } else {
            Netmask::V4(Ipv4Addr::from(s.netmask.to_ne_bytes()))
        };
        let service = Service {
            key: self.key(),
            scheduler: Scheduler::from_name(&self.svc.sched),
            flags: ServiceFlags(self.svc.flags),
            timeout: self.svc.timeout,
            netmask,
            pe_name: (!self.svc.pe.is_empty()).then(|| self.svc.pe.clone()),
        };
        Ok(if self.cmd == Cmd::Add { Op::AddService(service) } else { Op::EditService(service) })
    }

    /// The add/edit-server checks of `process_options`, then the destination.
    fn destination_op(mut self) -> Result<Op, LineError> {
        let fwd = self.dest.conn_flags & Forwarding::IP_VS_CONN_F_FWD_MASK;
        let tunnel = fwd == Forwarding::IP_VS_CONN_F_TUNNEL;
        // Direct routing and tunnelling keep the packet's port, so ipvsadm overrides any
        // port given with -r (fwmark services have none to impose).
        if self.svc.fwmark == 0 && (tunnel || fwd == Forwarding::IP_VS_CONN_F_DROUTE) {
            self.dest.port = self.svc.port;
        }
        if self.dest.af != self.svc.af && !tunnel {
            let col = self.present.column(optc::SERVER);
            return fail(col, "Different address family is allowed only for tunneling servers");
        }
        let tun_opts =
            [optc::TUN_TYPE, optc::TUN_PORT, optc::TUN_NOCSUM, optc::TUN_CSUM, optc::TUN_REMCSUM];
        if let Some(j) = tun_opts.iter().find(|j| self.present.has(**j)).filter(|_| !tunnel) {
            let col = self.present.column(*j);
            return fail(col, "Tunnel options conflict with forward method (they need -i)");
        }
        optc::tunnel_opt_check(self.dest.tun_type, &self.present)?;
        let d = &self.dest;
        let dest = Destination {
            addr: d.addr,
            port: d.port,
            forwarding: Forwarding::from_kernel(d.conn_flags),
            weight: d.weight,
            upper_threshold: d.u_threshold,
            lower_threshold: d.l_threshold,
            // ipvsadm sends ipip/0/0 for every server; the model keeps tunnel settings
            // only where they mean something.
            tunnel: if tunnel {
                Tunnel {
                    kind: Some(TunnelType::from_kernel(d.tun_type)),
                    port: d.tun_port,
                    flags: TunnelFlags(d.tun_flags),
                }
            } else {
                Tunnel::default()
            },
        };
        let key = self.key();
        Ok(if self.cmd == Cmd::AddDest { Op::AddDest(key, dest) } else { Op::EditDest(key, dest) })
    }

    fn key(&self) -> ServiceKey {
        let s = &self.svc;
        if s.fwmark != 0 {
            let family = if s.af == AF_INET6 { Family::Inet6 } else { Family::Inet };
            ServiceKey::Fwmark { family, mark: s.fwmark }
        } else {
            let protocol = Protocol::from_number(s.protocol);
            ServiceKey::Addr { protocol, addr: s.addr, port: s.port }
        }
    }
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
