//! What the demo reads from the two example configs (etc/demo/lb1.yaml and lb2.yaml):
//! the service, its real servers and the sorry server, matched to the lab's hosts, and
//! the bounds the story measures against, computed from the configured timings.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use director::config::Config;

use crate::topology::{DR_REAL, SORRY};

/// The two directors' configs, checked against the lab.
#[derive(Debug, Clone)]
pub struct Plan {
    /// lb1's and lb2's YAML, as read.
    pub yaml: [String; 2],
    pub service: SocketAddr,
    pub instance: String,
    /// rs1..rs3: name, address and configured weight.
    pub real_servers: Vec<(String, SocketAddr, u32)>,
    /// How long a stopped real server may stay in the table: at most one delay_loop
    /// until its next check, then `retry` more tries `delay_before_retry` apart (a
    /// refused connect fails at once).
    pub removal_bound: Duration,
    /// RFC 5798 master-down interval of each director: 3 x advert + skew.
    pub master_down: [Duration; 2],
}

impl Plan {
    pub fn load(lb1: &Path, lb2: &Path) -> Result<Plan, String> {
        let read = |path: &Path| {
            let yaml =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let config =
                Config::from_yaml(&yaml, &path.display().to_string()).map_err(|e| e.to_string())?;
            Ok::<_, String>((yaml, config))
        };
        let (yaml1, config1) = read(lb1)?;
        let (yaml2, config2) = read(lb2)?;
        let vs = match &config1.virtual_servers[..] {
            [vs] => vs,
            other => {
                return Err(format!(
                    "{}: want one virtual server, got {}",
                    lb1.display(),
                    other.len()
                ))
            }
        };
        let service = match vs.service.key {
            ipvs::ServiceKey::Addr { addr, port, .. } => SocketAddr::new(addr, port),
            ref other => {
                return Err(format!("{}: want an address service, got {other:?}", lb1.display()))
            }
        };
        let instance = vs.vrrp_instance.clone().ok_or_else(|| {
            format!("{}: virtual server {} has no vrrp_instance", lb1.display(), vs.name)
        })?;
        let mut real_servers = Vec::new();
        for (i, rs) in vs.real_servers.iter().enumerate() {
            let addr = SocketAddr::new(rs.destination.addr, rs.destination.port);
            let lab = DR_REAL.get(i).map(|a| IpAddr::V4(*a));
            if lab != Some(addr.ip()) {
                return Err(format!(
                    "{}: real server {} is {addr}, the lab's rs{} is {lab:?}",
                    lb1.display(),
                    i + 1,
                    i + 1
                ));
            }
            real_servers.push((format!("rs{}", i + 1), addr, rs.destination.weight));
        }
        match &vs.sorry_server {
            Some(sorry) if sorry.destination.addr == IpAddr::V4(SORRY) => {}
            other => {
                return Err(format!("{}: want sorry server {SORRY}, got {other:?}", lb1.display()))
            }
        }
        let timing = vs
            .real_servers
            .first()
            .and_then(|rs| rs.check.as_ref())
            .map(|check| check.timing.clone())
            .ok_or_else(|| format!("{}: the real servers have no check", lb1.display()))?;
        let removal_bound = timing.delay_loop + timing.delay_before_retry * timing.retry;
        let master_down = [&config1, &config2].map(|config| {
            config
                .vrrp
                .instances
                .iter()
                .find(|i| i.name == instance)
                .map(|i| {
                    i.advert_interval * 3 + i.advert_interval * (256 - u32::from(i.priority)) / 256
                })
                .unwrap_or_default()
        });
        Ok(Plan {
            yaml: [yaml1, yaml2],
            service,
            instance,
            real_servers,
            removal_bound,
            master_down,
        })
    }

    /// `rs1=1 rs2=2 rs3=3`
    pub fn weights(&self) -> String {
        let parts: Vec<String> =
            self.real_servers.iter().map(|(name, _, w)| format!("{name}={w}")).collect();
        parts.join(" ")
    }
}
