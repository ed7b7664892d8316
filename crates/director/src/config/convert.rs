//! A checked [`Config`] into what the VRRP driver and the script runner take.

use std::net::Ipv4Addr;

use ::vrrp::driver::{DriverConfig, InstanceIo};
use ::vrrp::machine::{InstanceConfig, RouterConfig, ScriptConfig, SyncGroupConfig};
use ::vrrp::packet::{Auth, Version};

use super::{Config, Instance, Script, TrackScriptRun};

impl Config {
    /// The VRRP driver's configuration. Scripts no instance tracks are left out, as
    /// keepalived leaves them out: nothing would read their results.
    pub fn driver_config(&self) -> DriverConfig {
        let vrrp = &self.vrrp;
        let router = RouterConfig {
            instances: vrrp.instances.iter().map(instance_config).collect(),
            scripts: self
                .tracked_scripts()
                .map(|s| ScriptConfig {
                    name: s.name.clone(),
                    weight: s.weight,
                    rise: s.rise,
                    fall: s.fall,
                })
                .collect(),
            sync_groups: vrrp
                .sync_groups
                .iter()
                .map(|g| SyncGroupConfig {
                    name: g.name.clone(),
                    instances: g.instances.clone(),
                    tracking_weight: g.tracking_weight,
                })
                .collect(),
        };
        DriverConfig {
            router,
            instances: vrrp
                .instances
                .iter()
                .map(|i| InstanceIo { unicast: i.unicast.clone(), notify: i.notify.clone() })
                .collect(),
            sync_groups: vrrp.sync_groups.iter().map(|g| g.notify.clone()).collect(),
        }
    }

    /// The scripts the daemon runs: those some instance tracks.
    pub fn track_scripts(&self) -> Vec<TrackScriptRun> {
        self.tracked_scripts()
            .map(|s| TrackScriptRun {
                name: s.name.clone(),
                argv: s.command.clone(),
                interval: s.interval,
                timeout: s.timeout,
            })
            .collect()
    }

    fn tracked_scripts(&self) -> impl Iterator<Item = &Script> {
        let instances = &self.vrrp.instances;
        self.vrrp.scripts.iter().filter(move |script| {
            instances.iter().any(|i| i.track_scripts.iter().any(|t| t.name == script.name))
        })
    }
}

fn instance_config(instance: &Instance) -> InstanceConfig {
    InstanceConfig {
        name: instance.name.clone(),
        interface: instance.interface.clone(),
        vrid: instance.vrid,
        priority: instance.priority,
        version: instance.version,
        advert_interval_cs: centiseconds(instance),
        initial_state: instance.initial_state,
        preempt: instance.preempt,
        preempt_delay: instance.preempt_delay,
        auth: match (&instance.password, instance.version) {
            (Some(password), Version::V2) => Auth::Pass(padded(password)),
            _ => Auth::None,
        },
        // 0.0.0.0: the driver takes the interface's primary address at start.
        primary_address: instance
            .unicast
            .as_ref()
            .and_then(|u| u.source)
            .unwrap_or(Ipv4Addr::UNSPECIFIED),
        virtual_addresses: instance.virtual_addresses.clone(),
        track_interfaces: instance.track_interfaces.clone(),
        track_scripts: instance.track_scripts.clone(),
        garp: instance.garp.clone(),
    }
}

/// The checks bounded the interval to 40.95 s, which fits.
fn centiseconds(instance: &Instance) -> u16 {
    u16::try_from(instance.advert_interval.as_millis() / 10).unwrap_or(u16::MAX)
}

/// The wire field is 8 bytes, zero padded (RFC 3768 section 5.3.10).
fn padded(password: &str) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (slot, byte) in out.iter_mut().zip(password.bytes()) {
        *slot = byte;
    }
    out
}
