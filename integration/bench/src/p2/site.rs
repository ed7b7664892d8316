//! The benchmarked site, one model written out twice: as directord's YAML and as the
//! equivalent keepalived.conf, so both daemons run the same services, real servers,
//! weights and checks.
//!
//! Virtual servers on 203.0.113.0/24 × ports, real servers on 198.51.100.0/24 × ports,
//! all TCP, wrr, NAT, one tcp check per real server. The real servers' /24 is made local
//! on `lo` inside the VM (see [`super::lab`]), so the checks reach the bench's listeners.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use ipvs::{Destination, Forwarding, Protocol, Scheduler, Service, ServiceKey, TableService};

/// First port of the virtual servers and of the real servers.
const VS_BASE_PORT: u16 = 10_000;
pub const RS_BASE_PORT: u16 = 8_000;
/// Usable hosts per /24: .1 to .250 (no .0, .255, and room for the lab's own .254).
const HOSTS: u32 = 250;

/// The tcp check every real server gets (keepalived's TCP_CHECK), in whole seconds
/// because keepalived.conf takes seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    pub delay_loop: u32,
    pub connect_timeout: u32,
    pub retry: u32,
    pub delay_before_retry: u32,
    /// The window the first probes are spread over (both daemons' `warmup`); unset,
    /// delay_loop.
    pub warmup: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServer {
    pub addr: SocketAddrV4,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServer {
    pub name: String,
    pub addr: SocketAddrV4,
    pub real_servers: Vec<RealServer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub services: Vec<VirtualServer>,
    pub check: Check,
}

impl Site {
    /// `services` virtual servers sharing `real_servers` real servers as evenly as they
    /// go (the first ones get one more). Every real server is a distinct address:port,
    /// .1-.250 of 198.51.100.0/24 cycling fastest, so the ports used are
    /// [`RS_BASE_PORT`] onwards, [`Site::rs_ports`] of them.
    pub fn new(services: u32, real_servers: u32, check: Check) -> Result<Site, String> {
        if services == 0 || real_servers < services {
            return Err(format!("{services} services need at least one real server each"));
        }
        if services > HOSTS * 1000 || real_servers > HOSTS * 10_000 {
            return Err(format!("{services} services / {real_servers} real servers: too many"));
        }
        let (per, extra) = (real_servers / services, real_servers % services);
        let mut next_rs = 0u32;
        let services = (0..services)
            .map(|s| {
                let vip = Ipv4Addr::new(203, 0, 113, 1 + (s / 1000) as u8);
                let addr = SocketAddrV4::new(vip, VS_BASE_PORT + (s % 1000) as u16);
                let count = per + u32::from(s < extra);
                let real_servers = (0..count)
                    .map(|r| {
                        let g = next_rs + r;
                        let ip = Ipv4Addr::new(198, 51, 100, 1 + (g % HOSTS) as u8);
                        let port = RS_BASE_PORT + (g / HOSTS) as u16;
                        RealServer { addr: SocketAddrV4::new(ip, port), weight: 1 + g % 5 }
                    })
                    .collect();
                next_rs += count;
                VirtualServer { name: format!("vs{s:05}"), addr, real_servers }
            })
            .collect();
        Ok(Site { services, check })
    }

    pub fn real_server_count(&self) -> usize {
        self.services.iter().map(|s| s.real_servers.len()).sum()
    }

    /// Lines `ipvsadm -Sn` prints for this site: one per service and per real server.
    pub fn entries(&self) -> usize {
        self.services.len() + self.real_server_count()
    }

    /// How many real-server ports are in use, from [`RS_BASE_PORT`].
    pub fn rs_ports(&self) -> u16 {
        let max = self.services.iter().flat_map(|s| &s.real_servers).map(|r| r.addr.port()).max();
        max.map_or(0, |p| p - RS_BASE_PORT + 1)
    }

    /// directord's config (DESIGN.md's keys), no `vrrp:` so the rules are always installed.
    pub fn yaml(&self, id: &str) -> String {
        let c = self.check;
        let mut y = format!("director:\n  id: {id}\nvirtual_servers:\n");
        for vs in &self.services {
            let _ = writeln!(y, "  - name: {}", vs.name);
            let _ = writeln!(y, "    address: {}\n    port: {}", vs.addr.ip(), vs.addr.port());
            y.push_str("    protocol: tcp\n    scheduler: wrr\n    forwarding: nat\n");
            let _ = writeln!(
                y,
                "    check: {{type: tcp, delay_loop: {}s, connect_timeout: {}s, retry: {}, \
                 delay_before_retry: {}s{}}}",
                c.delay_loop,
                c.connect_timeout,
                c.retry,
                c.delay_before_retry,
                c.warmup.map_or(String::new(), |w| format!(", warmup: {w}s"))
            );
            y.push_str("    real_servers:\n");
            for rs in &vs.real_servers {
                let _ = writeln!(
                    y,
                    "      - {{address: {}, port: {}, weight: {}}}",
                    rs.addr.ip(),
                    rs.addr.port(),
                    rs.weight
                );
            }
        }
        y
    }

    /// The same site for keepalived (checker only: no vrrp_instance).
    pub fn keepalived_conf(&self, id: &str) -> String {
        let c = self.check;
        let mut k = format!("global_defs {{\n    router_id {id}\n}}\n");
        for vs in &self.services {
            let _ = writeln!(k, "virtual_server {} {} {{", vs.addr.ip(), vs.addr.port());
            let _ = writeln!(k, "    delay_loop {}", c.delay_loop);
            k.push_str("    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n");
            for rs in &vs.real_servers {
                let _ = writeln!(k, "    real_server {} {} {{", rs.addr.ip(), rs.addr.port());
                let _ = writeln!(k, "        weight {}\n        TCP_CHECK {{", rs.weight);
                let _ = writeln!(
                    k,
                    "            connect_timeout {}\n            retry {}\n            \
                     delay_before_retry {}",
                    c.connect_timeout, c.retry, c.delay_before_retry
                );
                if let Some(w) = c.warmup {
                    let _ = writeln!(k, "            warmup {w}");
                }
                k.push_str("        }\n    }\n");
            }
            k.push_str("}\n");
        }
        k
    }

    /// The IPVS service the kernel should hold for virtual server `i`.
    pub fn table_service(&self, i: usize) -> TableService {
        let vs = &self.services[i];
        let mut service = Service::new(self.key(i));
        service.scheduler = Scheduler::Wrr;
        let destinations = vs
            .real_servers
            .iter()
            .map(|rs| {
                let mut d = Destination::new((*rs.addr.ip()).into(), rs.addr.port());
                d.forwarding = Forwarding::Masq;
                d.weight = rs.weight;
                d
            })
            .collect();
        TableService { service, destinations }
    }

    pub fn key(&self, i: usize) -> ServiceKey {
        let addr = self.services[i].addr;
        ServiceKey::Addr { protocol: Protocol::Tcp, addr: (*addr.ip()).into(), port: addr.port() }
    }
}

/// Where the listeners go: `ports` real-server ports on every address of the host.
pub fn listen_targets(ports: u16) -> Vec<SocketAddr> {
    (0..ports)
        .map(|i| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, RS_BASE_PORT + i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: Check = Check {
        delay_loop: 600,
        connect_timeout: 3,
        retry: 1,
        delay_before_retry: 1,
        warmup: Some(10),
    };

    #[test]
    fn issue_5_size_spreads_real_servers_evenly_and_distinctly() {
        let site = Site::new(2_284, 37_298, CHECK).expect("fits");
        assert_eq!(site.services.len(), 2_284);
        assert_eq!(site.real_server_count(), 37_298);
        assert_eq!(site.entries(), 39_582);
        let sizes: std::collections::BTreeSet<_> =
            site.services.iter().map(|s| s.real_servers.len()).collect();
        assert_eq!(sizes.into_iter().collect::<Vec<_>>(), vec![16, 17]);
        let rs: std::collections::HashSet<_> =
            site.services.iter().flat_map(|s| &s.real_servers).map(|r| r.addr).collect();
        assert_eq!(rs.len(), 37_298);
        let vs: std::collections::HashSet<_> = site.services.iter().map(|s| s.addr).collect();
        assert_eq!(vs.len(), 2_284);
        assert_eq!(site.rs_ports(), 150);
        for s in &site.services {
            assert_eq!(s.addr.ip().octets()[..3], [203, 0, 113]);
            assert!(s.real_servers.iter().all(|r| r.addr.ip().octets()[..3] == [198, 51, 100]));
            assert!(s.real_servers.iter().all(|r| (1..=250).contains(&r.addr.ip().octets()[3])));
        }
    }

    #[test]
    fn both_configs_name_every_real_server_with_its_weight() {
        let site = Site::new(3, 7, CHECK).expect("fits");
        let (yaml, conf) = (site.yaml("b"), site.keepalived_conf("b"));
        assert_eq!(yaml.matches("- name: vs").count(), 3);
        assert_eq!(conf.matches("virtual_server 203.0.113.1 ").count(), 3);
        for rs in site.services.iter().flat_map(|s| &s.real_servers) {
            let (ip, port, w) = (rs.addr.ip(), rs.addr.port(), rs.weight);
            assert!(yaml.contains(&format!("{{address: {ip}, port: {port}, weight: {w}}}")));
            assert!(conf.contains(&format!("real_server {ip} {port} {{\n        weight {w}\n")));
        }
        assert_eq!(conf.matches('{').count(), conf.matches('}').count());
        assert_eq!(conf.matches("TCP_CHECK").count(), 7);
        assert!(yaml.contains("delay_loop: 600s") && conf.contains("delay_loop 600"));
        assert_eq!(yaml.matches(", warmup: 10s}").count(), 3);
        assert_eq!(conf.matches("            warmup 10\n        }\n    }\n").count(), 7);
        assert!(!conf.contains("vrrp") && !yaml.contains("vrrp"));
        let t = site.table_service(0);
        assert_eq!(t.destinations.len(), 3);
        assert_eq!(t.destinations[0].weight, site.services[0].real_servers[0].weight);
    }
}
