//! Typed IPVS objects: what a virtual service and a real server (destination) are,
//! independent of how they travel (netlink) or are written (ipvsadm text).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// `AF_INET` / `AF_INET6` as the kernel numbers them.
pub const AF_INET: u16 = libc::AF_INET as u16;
pub const AF_INET6: u16 = libc::AF_INET6 as u16;

/// Address family of a service or destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Family {
    Inet,
    Inet6,
}

impl Family {
    pub fn of(ip: &IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }

    pub fn to_af(self) -> u16 {
        match self {
            Family::Inet => AF_INET,
            Family::Inet6 => AF_INET6,
        }
    }

    pub fn from_af(af: u16) -> Option<Self> {
        match af {
            AF_INET => Some(Family::Inet),
            AF_INET6 => Some(Family::Inet6),
            _ => None,
        }
    }
}

/// Transport protocol of an address-based service (`IPPROTO_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
    Other(u16),
}

impl Protocol {
    pub const IPPROTO_TCP: u16 = 6;
    pub const IPPROTO_UDP: u16 = 17;
    pub const IPPROTO_SCTP: u16 = 132;

    pub fn from_number(n: u16) -> Self {
        match n {
            Self::IPPROTO_TCP => Protocol::Tcp,
            Self::IPPROTO_UDP => Protocol::Udp,
            Self::IPPROTO_SCTP => Protocol::Sctp,
            n => Protocol::Other(n),
        }
    }

    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => Self::IPPROTO_TCP,
            Protocol::Udp => Self::IPPROTO_UDP,
            Protocol::Sctp => Self::IPPROTO_SCTP,
            Protocol::Other(n) => n,
        }
    }

    /// Lower-case name as used in configs and messages (`tcp`).
    pub fn name(self) -> String {
        match self {
            Protocol::Tcp => "tcp".into(),
            Protocol::Udp => "udp".into(),
            Protocol::Sctp => "sctp".into(),
            Protocol::Other(n) => format!("proto{n}"),
        }
    }
}

/// How a virtual service is identified in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ServiceKey {
    /// `-t/-u/--sctp-service ADDR:PORT`.
    Addr { protocol: Protocol, addr: IpAddr, port: u16 },
    /// `-f MARK` (with `-6` for IPv6).
    Fwmark { family: Family, mark: u32 },
}

impl ServiceKey {
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr { protocol, addr: IpAddr::V4(a), port } => {
                write!(f, "{a}:{port}/{}", protocol.name())
            }
            ServiceKey::Addr { protocol, addr: IpAddr::V6(a), port } => {
                write!(f, "[{a}]:{port}/{}", protocol.name())
            }
            ServiceKey::Fwmark { family: Family::Inet, mark } => write!(f, "fwmark {mark}"),
            ServiceKey::Fwmark { family: Family::Inet6, mark } => write!(f, "fwmark {mark} (IPv6)"),
        }
    }
}

/// Scheduler name. Known kernel schedulers are named; anything else round-trips.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub enum Scheduler {
    Rr,
    Wrr,
    Lc,
    Wlc,
    Lblc,
    Lblcr,
    Dh,
    Sh,
    Sed,
    Nq,
    Fo,
    Ovf,
    Mh,
    Other(String),
}

impl Scheduler {
    pub const KNOWN: [&'static str; 13] =
        ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"];

    pub fn from_name(name: &str) -> Self {
        match name {
            "rr" => Scheduler::Rr,
            "wrr" => Scheduler::Wrr,
            "lc" => Scheduler::Lc,
            "wlc" => Scheduler::Wlc,
            "lblc" => Scheduler::Lblc,
            "lblcr" => Scheduler::Lblcr,
            "dh" => Scheduler::Dh,
            "sh" => Scheduler::Sh,
            "sed" => Scheduler::Sed,
            "nq" => Scheduler::Nq,
            "fo" => Scheduler::Fo,
            "ovf" => Scheduler::Ovf,
            "mh" => Scheduler::Mh,
            other => Scheduler::Other(other.to_string()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Scheduler::Rr => "rr",
            Scheduler::Wrr => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Wlc => "wlc",
            Scheduler::Lblc => "lblc",
            Scheduler::Lblcr => "lblcr",
            Scheduler::Dh => "dh",
            Scheduler::Sh => "sh",
            Scheduler::Sed => "sed",
            Scheduler::Nq => "nq",
            Scheduler::Fo => "fo",
            Scheduler::Ovf => "ovf",
            Scheduler::Mh => "mh",
            Scheduler::Other(s) => s,
        }
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Service flags (`IP_VS_SVC_F_*`). `HASHED` is kernel-internal and never kept here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ServiceFlags(pub u32);

impl ServiceFlags {
    pub const IP_VS_SVC_F_PERSISTENT: u32 = 0x0001;
    pub const IP_VS_SVC_F_HASHED: u32 = 0x0002;
    pub const IP_VS_SVC_F_ONEPACKET: u32 = 0x0004;
    pub const IP_VS_SVC_F_SCHED1: u32 = 0x0008;
    pub const IP_VS_SVC_F_SCHED2: u32 = 0x0010;
    pub const IP_VS_SVC_F_SCHED3: u32 = 0x0020;
    pub const IP_VS_SVC_F_SCHED_SH_FALLBACK: u32 = Self::IP_VS_SVC_F_SCHED1;
    pub const IP_VS_SVC_F_SCHED_SH_PORT: u32 = Self::IP_VS_SVC_F_SCHED2;
    pub const IP_VS_SVC_F_SCHED_MH_FALLBACK: u32 = Self::IP_VS_SVC_F_SCHED1;
    pub const IP_VS_SVC_F_SCHED_MH_PORT: u32 = Self::IP_VS_SVC_F_SCHED2;

    /// Flags as read from the kernel, without the internal `HASHED` bit.
    pub fn from_kernel(raw: u32) -> Self {
        ServiceFlags(raw & !Self::IP_VS_SVC_F_HASHED)
    }

    pub fn contains(self, bit: u32) -> bool {
        self.0 & bit == bit
    }

    pub fn set(&mut self, bit: u32, on: bool) {
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }
}

/// Persistence granularity: an IPv4 netmask or an IPv6 prefix length.
/// On the wire both are one u32 (`IPVS_SVC_ATTR_NETMASK`): the IPv4 mask in network
/// byte order, the IPv6 prefix as a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Netmask {
    V4(Ipv4Addr),
    V6Prefix(u8),
}

impl Netmask {
    pub fn full(family: Family) -> Self {
        match family {
            Family::Inet => Netmask::V4(Ipv4Addr::BROADCAST),
            Family::Inet6 => Netmask::V6Prefix(128),
        }
    }

    pub fn is_full(&self) -> bool {
        matches!(self, Netmask::V4(m) if *m == Ipv4Addr::BROADCAST)
            || matches!(self, Netmask::V6Prefix(128))
    }
}

/// A virtual service as configured (no counters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Service {
    pub key: ServiceKey,
    pub scheduler: Scheduler,
    pub flags: ServiceFlags,
    /// Persistence timeout in seconds (`-p`); kept by the kernel even when not persistent.
    pub timeout: u32,
    pub netmask: Netmask,
    /// Persistence engine (`--pe sip`).
    pub pe_name: Option<String>,
}

impl Service {
    /// A service with ipvsadm's defaults: `wlc`, not persistent, full netmask.
    pub fn new(key: ServiceKey) -> Self {
        let family = key.family();
        Service {
            key,
            scheduler: Scheduler::Wlc,
            flags: ServiceFlags::default(),
            timeout: 0,
            netmask: Netmask::full(family),
            pe_name: None,
        }
    }

    pub fn persistent(&self) -> bool {
        self.flags.contains(ServiceFlags::IP_VS_SVC_F_PERSISTENT)
    }

    /// The names of the scheduler flags set, as ipvsadm spells them: they depend on the
    /// scheduler (`sh-port` for sh, `mh-port` for mh, `flag-2` otherwise).
    pub fn sched_flag_names(&self) -> Vec<&'static str> {
        let names: &[(u32, &str)] = match self.scheduler.name() {
            "sh" => &[
                (ServiceFlags::IP_VS_SVC_F_SCHED_SH_FALLBACK, "sh-fallback"),
                (ServiceFlags::IP_VS_SVC_F_SCHED_SH_PORT, "sh-port"),
            ],
            "mh" => &[
                (ServiceFlags::IP_VS_SVC_F_SCHED_MH_FALLBACK, "mh-fallback"),
                (ServiceFlags::IP_VS_SVC_F_SCHED_MH_PORT, "mh-port"),
            ],
            _ => &[
                (ServiceFlags::IP_VS_SVC_F_SCHED1, "flag-1"),
                (ServiceFlags::IP_VS_SVC_F_SCHED2, "flag-2"),
                (ServiceFlags::IP_VS_SVC_F_SCHED3, "flag-3"),
            ],
        };
        names.iter().filter(|(bit, _)| self.flags.contains(*bit)).map(|(_, n)| *n).collect()
    }
}

/// Packet forwarding method of a destination (`IP_VS_CONN_F_*`, masked by `FWD_MASK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub enum Forwarding {
    /// NAT (`-m`, "Masq").
    Masq,
    /// Local node ("Local").
    Local,
    /// IP tunnelling (`-i`, "Tunnel").
    Tunnel,
    /// Direct routing (`-g`, "Route").
    Route,
    Other(u32),
}

impl Forwarding {
    pub const IP_VS_CONN_F_FWD_MASK: u32 = 0x0007;
    pub const IP_VS_CONN_F_MASQ: u32 = 0x0000;
    pub const IP_VS_CONN_F_LOCALNODE: u32 = 0x0001;
    pub const IP_VS_CONN_F_TUNNEL: u32 = 0x0002;
    pub const IP_VS_CONN_F_DROUTE: u32 = 0x0003;

    pub fn from_kernel(raw: u32) -> Self {
        match raw & Self::IP_VS_CONN_F_FWD_MASK {
            Self::IP_VS_CONN_F_MASQ => Forwarding::Masq,
            Self::IP_VS_CONN_F_LOCALNODE => Forwarding::Local,
            Self::IP_VS_CONN_F_TUNNEL => Forwarding::Tunnel,
            Self::IP_VS_CONN_F_DROUTE => Forwarding::Route,
            other => Forwarding::Other(other),
        }
    }

    pub fn to_kernel(self) -> u32 {
        match self {
            Forwarding::Masq => Self::IP_VS_CONN_F_MASQ,
            Forwarding::Local => Self::IP_VS_CONN_F_LOCALNODE,
            Forwarding::Tunnel => Self::IP_VS_CONN_F_TUNNEL,
            Forwarding::Route => Self::IP_VS_CONN_F_DROUTE,
            Forwarding::Other(n) => n,
        }
    }

    /// The word `ipvsadm -Ln` prints in the Forward column.
    pub fn ipvsadm_name(self) -> &'static str {
        match self {
            Forwarding::Masq => "Masq",
            Forwarding::Local => "Local",
            Forwarding::Tunnel => "Tunnel",
            Forwarding::Route => "Route",
            Forwarding::Other(_) => "Unknown",
        }
    }
}

/// Encapsulation of a tunnel destination (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub enum TunnelType {
    Ipip,
    Gue,
    Gre,
    Other(u8),
}

impl TunnelType {
    pub const IP_VS_CONN_F_TUNNEL_TYPE_IPIP: u8 = 0;
    pub const IP_VS_CONN_F_TUNNEL_TYPE_GUE: u8 = 1;
    pub const IP_VS_CONN_F_TUNNEL_TYPE_GRE: u8 = 2;

    pub fn from_kernel(raw: u8) -> Self {
        match raw {
            Self::IP_VS_CONN_F_TUNNEL_TYPE_IPIP => TunnelType::Ipip,
            Self::IP_VS_CONN_F_TUNNEL_TYPE_GUE => TunnelType::Gue,
            Self::IP_VS_CONN_F_TUNNEL_TYPE_GRE => TunnelType::Gre,
            n => TunnelType::Other(n),
        }
    }

    pub fn to_kernel(self) -> u8 {
        match self {
            TunnelType::Ipip => Self::IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
            TunnelType::Gue => Self::IP_VS_CONN_F_TUNNEL_TYPE_GUE,
            TunnelType::Gre => Self::IP_VS_CONN_F_TUNNEL_TYPE_GRE,
            TunnelType::Other(n) => n,
        }
    }

    pub fn name(self) -> String {
        match self {
            TunnelType::Ipip => "ipip".into(),
            TunnelType::Gue => "gue".into(),
            TunnelType::Gre => "gre".into(),
            TunnelType::Other(n) => format!("type{n}"),
        }
    }
}

/// Tunnel encapsulation flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TunnelFlags(pub u16);

impl TunnelFlags {
    pub const IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM: u16 = 0;
    pub const IP_VS_TUNNEL_ENCAP_FLAG_CSUM: u16 = 1 << 0;
    pub const IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM: u16 = 1 << 1;
}

/// Tunnel parameters; the kernel keeps them for every destination, they matter for tunnels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Tunnel {
    pub kind: Option<TunnelType>,
    pub port: u16,
    pub flags: TunnelFlags,
}

/// A real server of a virtual service, as configured (no counters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Destination {
    pub addr: IpAddr,
    pub port: u16,
    pub forwarding: Forwarding,
    pub weight: u32,
    /// Upper connection threshold (`-x`); 0 = none.
    pub upper_threshold: u32,
    /// Lower connection threshold (`-y`); 0 = none.
    pub lower_threshold: u32,
    pub tunnel: Tunnel,
}

impl Destination {
    /// A destination with ipvsadm's defaults: direct routing, weight 1.
    pub fn new(addr: IpAddr, port: u16) -> Self {
        Destination {
            addr,
            port,
            forwarding: Forwarding::Route,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
            tunnel: Tunnel::default(),
        }
    }

    /// Identity within its service: address and port.
    pub fn key(&self) -> (IpAddr, u16) {
        (self.addr, self.port)
    }

    /// The canonical form of what the kernel keeps: tunnel parameters only for tunnels,
    /// an unset tunnel type read as IPIP, and a plain IPIP tunnel (no port, no flags) the
    /// same as an unset one.
    pub fn normalized(mut self) -> Self {
        if self.forwarding != Forwarding::Tunnel {
            self.tunnel = Tunnel::default();
        } else {
            // No type means IPIP, the kernel's default.
            self.tunnel.kind = Some(self.tunnel.kind.unwrap_or(TunnelType::Ipip));
            if self.tunnel == (Tunnel { kind: Some(TunnelType::Ipip), ..Tunnel::default() }) {
                self.tunnel = Tunnel::default();
            }
        }
        self
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// Traffic counters and rates (64-bit, from `IPVS_*_ATTR_STATS64`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A service as listed by the kernel: configuration plus counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceEntry {
    pub service: Service,
    pub stats: Stats,
}

/// Connection counts the kernel keeps per destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ConnCounts {
    pub active: u32,
    pub inactive: u32,
    pub persistent: u32,
}

/// A destination as listed by the kernel: configuration plus counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestinationEntry {
    pub destination: Destination,
    pub conns: ConnCounts,
    pub stats: Stats,
}

/// A whole IPVS table: every service with its destinations.
/// Ordered maps make rendering and diffs deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Table {
    pub services: Vec<TableService>,
}

impl Table {
    /// The same table with every destination in canonical form (see
    /// [`Destination::normalized`]), so tables from different sources compare equal.
    pub fn normalized(mut self) -> Self {
        for s in &mut self.services {
            s.destinations = std::mem::take(&mut s.destinations)
                .into_iter()
                .map(Destination::normalized)
                .collect();
        }
        self
    }
}

/// One service of a [`Table`] with its destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableService {
    pub service: Service,
    pub destinations: Vec<Destination>,
}

/// Unspecified address of a family, used where the kernel wants an address for fwmark services.
pub fn unspecified(family: Family) -> IpAddr {
    match family {
        Family::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// A service and its destinations as listed by the kernel, with counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedService {
    pub entry: ServiceEntry,
    pub destinations: Vec<DestinationEntry>,
}

impl ListedService {
    /// The configuration part, without counters.
    pub fn to_table_service(&self) -> TableService {
        TableService {
            service: self.entry.service.clone(),
            destinations: self.destinations.iter().map(|d| d.destination.clone()).collect(),
        }
    }
}
