//! `directorctl status --json` with DESIGN.md's virtual server fields (the testkit's
//! [`testkit::directord::Status`] knows only the VRRP part).

use serde::Deserialize;
use testkit::directord::{DirectorId, InstanceStatus};

#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    pub director: DirectorId,
    pub vrrp_instances: Vec<InstanceStatus>,
    pub virtual_servers: Vec<VirtualServer>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VirtualServer {
    pub name: String,
    pub address: Option<String>,
    pub port: Option<u16>,
    pub protocol: Option<String>,
    pub sorry_server_active: bool,
    pub quorum_up: bool,
    pub real_servers: Vec<RealServer>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RealServer {
    pub address: String,
    pub port: u16,
    pub weight: i64,
    pub healthy: bool,
    pub in_ipvs: bool,
    pub last_check: Option<LastCheck>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LastCheck {
    pub ok: bool,
    pub error: Option<String>,
}

impl Status {
    /// The state of the (only) VRRP instance named `name`, "" when it is missing.
    pub fn state(&self, name: &str) -> &str {
        self.vrrp_instances.iter().find(|i| i.name == name).map_or("", |i| i.state.as_str())
    }

    pub fn virtual_server(&self, name: &str) -> Option<&VirtualServer> {
        self.virtual_servers.iter().find(|v| v.name == name)
    }
}

impl VirtualServer {
    /// The real server at `address` (an IPv4 address without port).
    pub fn real_server(&self, address: &str) -> Option<&RealServer> {
        self.real_servers.iter().find(|r| r.address == address)
    }
}

/// What a scenario expects of one real server in the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealExpect {
    pub healthy: bool,
    pub in_ipvs: bool,
}

/// What a scenario expects of one virtual server on one director: `real` in the
/// order of the config; `sorry_server_active` unchecked when `None` (a BACKUP's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceExpect {
    /// Whether the service is in this director's IPVS table (the MASTER's only).
    pub in_ipvs: bool,
    pub sorry_server_active: Option<bool>,
    pub quorum_up: bool,
    pub real: Vec<(String, RealExpect)>,
}

impl ServiceExpect {
    /// Every real server in `addresses` healthy, and in the table iff `master`.
    pub fn all_up(addresses: &[std::net::Ipv4Addr], master: bool) -> ServiceExpect {
        let real = addresses
            .iter()
            .map(|a| (a.to_string(), RealExpect { healthy: true, in_ipvs: master }))
            .collect();
        ServiceExpect { in_ipvs: master, sorry_server_active: Some(false), quorum_up: true, real }
    }

    /// The same health seen by the BACKUP: nothing in its table.
    pub fn as_backup(&self) -> ServiceExpect {
        let real = self
            .real
            .iter()
            .map(|(a, e)| (a.clone(), RealExpect { healthy: e.healthy, in_ipvs: false }))
            .collect();
        ServiceExpect { in_ipvs: false, sorry_server_active: None, quorum_up: self.quorum_up, real }
    }

    /// All real servers down: the sorry server (if any) in their place.
    pub fn all_down(mut self) -> ServiceExpect {
        for (_, e) in &mut self.real {
            *e = RealExpect { healthy: false, in_ipvs: false };
        }
        self.quorum_up = false;
        self.sorry_server_active = Some(true);
        self
    }

    pub fn service_in_ipvs(&self) -> bool {
        self.in_ipvs
    }

    /// Sets real server `address`'s expectation.
    pub fn with(mut self, address: std::net::Ipv4Addr, healthy: bool, in_ipvs: bool) -> Self {
        let address = address.to_string();
        for (a, e) in &mut self.real {
            if *a == address {
                *e = RealExpect { healthy, in_ipvs };
            }
        }
        self
    }

    /// Why `vs` does not match, or `None` when it does.
    pub fn mismatch(&self, vs: Option<&VirtualServer>) -> Option<String> {
        let Some(vs) = vs else { return Some("virtual server missing".into()) };
        let mut why = Vec::new();
        if self.sorry_server_active.is_some_and(|want| vs.sorry_server_active != want) {
            why.push(format!("sorry_server_active {}", vs.sorry_server_active));
        }
        if vs.quorum_up != self.quorum_up {
            why.push(format!("quorum_up {}", vs.quorum_up));
        }
        for (address, want) in &self.real {
            match vs.real_server(address) {
                None => why.push(format!("{address} missing")),
                Some(r) if r.healthy != want.healthy || r.in_ipvs != want.in_ipvs => {
                    why.push(format!("{address} healthy {} in_ipvs {}", r.healthy, r.in_ipvs))
                }
                Some(_) => {}
            }
        }
        (!why.is_empty()).then(|| why.join(", "))
    }
}
