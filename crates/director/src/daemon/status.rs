//! The status document: what `directorctl status` shows and the control socket serves.
//! Field names are the contract of DESIGN.md; new fields are added, never renamed.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use vrrp::counters::Counters;
use vrrp::driver::DriverStatus;
use vrrp::machine::InstanceStatus;

pub use crate::decide::VirtualServerStatus;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub director: DirectorStatus,
    pub vrrp_instances: Vec<VrrpInstanceStatus>,
    /// Packets no instance could claim (unknown VRID, unreadable header), by reason.
    pub vrrp_unclaimed_drops: BTreeMap<String, u64>,
    /// Empty for a VRRP-only director.
    pub virtual_servers: Vec<VirtualServerStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectorStatus {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpInstanceStatus {
    pub name: String,
    /// MASTER | BACKUP | FAULT | INIT
    pub state: String,
    pub priority: u8,
    pub effective_priority: u8,
    /// `address/prefix`
    pub virtual_addresses: Vec<String>,
    /// The master we hear, when BACKUP.
    pub master: Option<String>,
    pub advert_interval_ms: u32,
    /// Tracked interfaces or scripts holding the instance in FAULT.
    pub faults: Vec<String>,
    pub counters: VrrpCounters,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpCounters {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub transitions: u64,
    pub became_master: u64,
    /// By reason (`bad_ttl`, `auth_mismatch`, ...); reasons never seen are absent.
    pub dropped: BTreeMap<String, u64>,
}

fn dropped(counters: &Counters) -> BTreeMap<String, u64> {
    counters.dropped.iter().map(|(reason, n)| (reason.as_str().to_string(), *n)).collect()
}

impl VrrpInstanceStatus {
    fn new(status: &InstanceStatus, vips: Vec<String>) -> Self {
        VrrpInstanceStatus {
            name: status.name.clone(),
            state: status.state.as_str().to_string(),
            priority: status.priority,
            effective_priority: status.effective_priority,
            virtual_addresses: vips,
            master: status.master.map(|a| a.to_string()),
            advert_interval_ms: u32::from(status.advert_interval_cs) * 10,
            faults: status.faults.clone(),
            counters: VrrpCounters {
                adverts_sent: status.counters.adverts_sent,
                adverts_received: status.counters.adverts_received,
                transitions: status.counters.transitions,
                became_master: status.counters.became_master,
                dropped: dropped(&status.counters),
            },
        }
    }
}

impl Status {
    /// `vips[name]` are the instance's configured addresses, as `address/prefix`.
    pub fn new(
        id: &str,
        vrrp: &DriverStatus,
        vips: &HashMap<String, Vec<String>>,
        virtual_servers: Vec<VirtualServerStatus>,
    ) -> Status {
        Status {
            director: DirectorStatus { id: id.to_string() },
            vrrp_instances: vrrp
                .instances
                .iter()
                .map(|s| VrrpInstanceStatus::new(s, vips.get(&s.name).cloned().unwrap_or_default()))
                .collect(),
            vrrp_unclaimed_drops: dropped(&vrrp.unclaimed),
            virtual_servers,
        }
    }

    /// The human form of `directorctl status`.
    pub fn to_text(&self) -> String {
        let mut out = format!("director {}\n", self.director.id);
        if self.vrrp_instances.is_empty() {
            out.push_str("no VRRP instances\n");
        }
        for i in &self.vrrp_instances {
            let master = match (&i.master, i.state.as_str()) {
                (_, "MASTER") => String::new(),
                (Some(m), _) => format!(", master {m}"),
                (None, _) => String::new(),
            };
            out.push_str(&format!(
                "vrrp {}: {} priority {} (effective {}), advert {} ms{master}\n",
                i.name, i.state, i.priority, i.effective_priority, i.advert_interval_ms
            ));
            out.push_str(&format!("  addresses: {}\n", i.virtual_addresses.join(", ")));
            if !i.faults.is_empty() {
                out.push_str(&format!("  faults: {}\n", i.faults.join(", ")));
            }
            let c = &i.counters;
            out.push_str(&format!(
                "  adverts sent {}, received {}, transitions {}, became master {}\n",
                c.adverts_sent, c.adverts_received, c.transitions, c.became_master
            ));
            if !c.dropped.is_empty() {
                out.push_str(&format!("  dropped: {}\n", join_counts(&c.dropped)));
            }
        }
        if !self.vrrp_unclaimed_drops.is_empty() {
            out.push_str(&format!(
                "vrrp packets no instance claimed: {}\n",
                join_counts(&self.vrrp_unclaimed_drops)
            ));
        }
        for vs in &self.virtual_servers {
            out.push_str(&crate::decide::to_text(vs));
        }
        out
    }
}

fn join_counts(counts: &BTreeMap<String, u64>) -> String {
    counts.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}
