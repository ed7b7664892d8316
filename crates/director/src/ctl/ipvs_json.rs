//! The JSON shape of `directorctl ipvs list --json`: flat, lower-case, named like the
//! status JSON of DESIGN.md (`address`, `port`, `protocol`, `fwmark`), stable for scripts.

use ipvs::{
    DestinationEntry, Family, Forwarding, Info, ListedService, Netmask, Service, ServiceEntry,
    ServiceFlags, ServiceKey, Stats,
};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Listing {
    pub version: String,
    pub conn_tab_size: u32,
    pub services: Vec<ServiceJson>,
}

#[derive(Debug, Serialize)]
pub struct ServiceJson {
    pub family: &'static str,
    pub protocol: Option<String>,
    pub address: Option<String>,
    pub port: Option<u16>,
    pub fwmark: Option<u32>,
    pub scheduler: String,
    pub flags: Vec<&'static str>,
    /// Persistence timeout in seconds, when persistent.
    pub persistence_timeout: Option<u32>,
    /// Persistence granularity: an IPv4 netmask or an IPv6 prefix length.
    pub persistence_netmask: Option<String>,
    pub persistence_engine: Option<String>,
    pub stats: Stats,
    pub real_servers: Vec<RealServerJson>,
}

#[derive(Debug, Serialize)]
pub struct RealServerJson {
    pub address: String,
    pub port: u16,
    pub forwarding: &'static str,
    pub weight: u32,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
    pub tunnel_type: Option<String>,
    pub tunnel_port: Option<u16>,
    pub tunnel_flags: Option<u16>,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persistent_conns: u32,
    pub stats: Stats,
}

pub fn listing(info: &Info, services: &[ListedService]) -> Listing {
    Listing {
        version: info.version_string(),
        conn_tab_size: info.conn_tab_size,
        services: services.iter().map(service).collect(),
    }
}

/// `persistent`, `one-packet`, then the scheduler flags under ipvsadm's names.
fn flag_names(s: &Service) -> Vec<&'static str> {
    let mut out = Vec::new();
    if s.persistent() {
        out.push("persistent");
    }
    if s.flags.contains(ServiceFlags::IP_VS_SVC_F_ONEPACKET) {
        out.push("one-packet");
    }
    out.extend(s.sched_flag_names());
    out
}

fn service(ls: &ListedService) -> ServiceJson {
    let ServiceEntry { service: s, stats } = &ls.entry;
    let (protocol, address, port, fwmark) = match s.key {
        ServiceKey::Addr { protocol, addr, port } => {
            (Some(protocol.name()), Some(addr.to_string()), Some(port), None)
        }
        ServiceKey::Fwmark { mark, .. } => (None, None, None, Some(mark)),
    };
    let persistent = s.persistent();
    ServiceJson {
        family: match s.key.family() {
            Family::Inet => "inet",
            Family::Inet6 => "inet6",
        },
        protocol,
        address,
        port,
        fwmark,
        scheduler: s.scheduler.name().to_string(),
        flags: flag_names(s),
        persistence_timeout: persistent.then_some(s.timeout),
        persistence_netmask: persistent.then(|| match s.netmask {
            Netmask::V4(m) => m.to_string(),
            Netmask::V6Prefix(p) => p.to_string(),
        }),
        persistence_engine: s.pe_name.clone(),
        stats: *stats,
        real_servers: ls.destinations.iter().map(real_server).collect(),
    }
}

fn real_server(e: &DestinationEntry) -> RealServerJson {
    let d = &e.destination;
    let tunnel = (d.forwarding == Forwarding::Tunnel).then_some(d.tunnel);
    RealServerJson {
        address: d.addr.to_string(),
        port: d.port,
        forwarding: match d.forwarding {
            Forwarding::Masq => "nat",
            Forwarding::Route => "dr",
            Forwarding::Tunnel => "tun",
            Forwarding::Local => "local",
            _ => "unknown",
        },
        weight: d.weight,
        upper_threshold: d.upper_threshold,
        lower_threshold: d.lower_threshold,
        tunnel_type: tunnel.map(|t| t.kind.map_or("ipip".into(), |k| k.name())),
        tunnel_port: tunnel.map(|t| t.port),
        tunnel_flags: tunnel.map(|t| t.flags.0),
        active_conns: e.conns.active,
        inactive_conns: e.conns.inactive,
        persistent_conns: e.conns.persistent,
        stats: e.stats,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs::{ConnCounts, Destination, Protocol, Scheduler, Service};

    #[test]
    fn json_uses_flat_design_names() {
        let mut svc = Service::new(ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "192.0.2.10".parse().unwrap(),
            port: 443,
        });
        svc.scheduler = Scheduler::Sh;
        svc.flags = ServiceFlags(
            ServiceFlags::IP_VS_SVC_F_PERSISTENT | ServiceFlags::IP_VS_SVC_F_SCHED_SH_PORT,
        );
        svc.timeout = 300;
        let mut d = Destination::new("198.51.100.11".parse().unwrap(), 443);
        d.forwarding = Forwarding::Masq;
        let ls = ListedService {
            entry: ServiceEntry { service: svc, stats: Stats::default() },
            destinations: vec![DestinationEntry {
                destination: d,
                conns: ConnCounts { active: 2, inactive: 1, persistent: 0 },
                stats: Stats::default(),
            }],
        };
        let info = Info { version: 0x010201, conn_tab_size: 4096 };
        let v = serde_json::to_value(listing(&info, &[ls])).unwrap();
        let s = &v["services"][0];
        assert_eq!(v["version"], "1.2.1");
        assert_eq!(s["protocol"], "tcp");
        assert_eq!(s["address"], "192.0.2.10");
        assert_eq!(s["fwmark"], serde_json::Value::Null);
        assert_eq!(s["flags"], serde_json::json!(["persistent", "sh-port"]));
        assert_eq!(s["persistence_timeout"], 300);
        assert_eq!(s["persistence_netmask"], "255.255.255.255");
        let rs = &s["real_servers"][0];
        assert_eq!(rs["forwarding"], "nat");
        assert_eq!(rs["active_conns"], 2);
        assert_eq!(rs["tunnel_type"], serde_json::Value::Null);
    }
}
