//! Tests of the machine: unit checks on one [`Router`], and scenarios on a simulated
//! LAN of several routers ([`sim::Sim`]) on virtual time.

mod checks;
mod election;
mod garp;
mod groups;
mod random;
mod reload;
mod reload_groups;
mod sim;
mod startup;
mod tracking;

use std::net::Ipv4Addr;
use std::time::Duration;

use super::{GarpConfig, InitialState, InstanceConfig, RouterConfig, VirtualAddress};
use crate::packet::{Auth, Version};

/// 192.0.2.`host`
fn addr(host: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, host)
}

fn vip(host: u8) -> VirtualAddress {
    VirtualAddress { address: addr(host), prefix_len: 24, dev: None, label: None }
}

/// A v3 instance on eth0, VRID 1, one second, preempting, VIP 192.0.2.100.
fn instance(name: &str, priority: u8, host: u8) -> InstanceConfig {
    InstanceConfig {
        name: name.to_string(),
        interface: "eth0".to_string(),
        vrid: 1,
        priority,
        version: Version::V3,
        advert_interval_cs: 100,
        initial_state: InitialState::Backup,
        preempt: true,
        preempt_delay: Duration::ZERO,
        auth: Auth::None,
        primary_address: addr(host),
        virtual_addresses: vec![vip(100)],
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
        garp: GarpConfig::default(),
    }
}

fn router(instances: Vec<InstanceConfig>) -> RouterConfig {
    RouterConfig { instances, scripts: Vec::new(), sync_groups: Vec::new() }
}

/// Master_Down_Interval by RFC 5798 section 6.1, written out independently of the
/// machine's own arithmetic (microseconds, truncating as keepalived does).
fn mdi(priority: u8, interval_cs: u64) -> Duration {
    Duration::from_micros(3 * interval_cs * 10_000) + skew(priority, interval_cs)
}

fn skew(priority: u8, interval_cs: u64) -> Duration {
    Duration::from_micros((256 - u64::from(priority)) * interval_cs * 10_000 / 256)
}

/// Master_Down_Interval of VRRPv2: its Skew_Time is in seconds whatever the interval.
fn mdi_v2(priority: u8, interval_cs: u64) -> Duration {
    Duration::from_micros(3 * interval_cs * 10_000 + (256 - u64::from(priority)) * 1_000_000 / 256)
}
