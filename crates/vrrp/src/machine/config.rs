//! What the state machine is told about each instance, script and sync group. Plain
//! data, built by the daemon from its YAML; the names here are the YAML's.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::packet::{Auth, Version};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    pub instances: Vec<InstanceConfig>,
    pub scripts: Vec<ScriptConfig>,
    pub sync_groups: Vec<SyncGroupConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialState {
    /// Start as BACKUP and wait Master_Down_Interval (RFC 5798).
    #[default]
    Backup,
    /// keepalived `state MASTER`. As in keepalived 2.2, only the address owner
    /// (priority 255) is MASTER at once, and it is whatever the initial state; any other
    /// priority starts BACKUP and waits Master_Down_Interval like [`InitialState::Backup`],
    /// so a restarted node never claims the VIP over a live master. What remains is that
    /// it always preempts: `preempt: false` and `preempt_delay` are ignored.
    Master,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    /// 1-255; 255 is the address owner.
    pub priority: u8,
    pub version: Version,
    /// Centiseconds; a multiple of 100 for version 2.
    pub advert_interval_cs: u16,
    pub initial_state: InitialState,
    /// false is keepalived's nopreempt (ignored with [`InitialState::Master`]).
    pub preempt: bool,
    /// Ignored with [`InitialState::Master`].
    pub preempt_delay: Duration,
    /// Version 2 only; [`Auth::None`] otherwise.
    pub auth: Auth,
    /// The address our adverts leave from; also breaks priority ties (higher wins).
    /// The driver fills it from the unicast source or the interface's primary address.
    pub primary_address: Ipv4Addr,
    pub virtual_addresses: Vec<VirtualAddress>,
    pub track_interfaces: Vec<TrackInterface>,
    pub track_scripts: Vec<TrackScript>,
    pub garp: GarpConfig,
}

impl InstanceConfig {
    /// Interfaces whose link going down always puts the instance in FAULT: its own,
    /// and (as keepalived, which has `dont_track` to opt out) the devices its virtual
    /// addresses live on, unless `track_interfaces` gives one a weight of its own.
    pub fn required_interfaces(&self) -> Vec<&str> {
        let mut names = vec![self.interface.as_str()];
        for dev in self.virtual_addresses.iter().filter_map(|v| v.dev.as_deref()) {
            let weighted = self.track_interfaces.iter().any(|t| t.name == dev);
            if !weighted && !names.contains(&dev) {
                names.push(dev);
            }
        }
        names
    }

    /// Every interface whose link state matters to the instance.
    pub fn link_dependencies(&self) -> impl Iterator<Item = &str> {
        self.required_interfaces()
            .into_iter()
            .chain(self.track_interfaces.iter().map(|t| t.name.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VirtualAddress {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// Interface to put it on; the instance's interface when None.
    pub dev: Option<String>,
    /// Address label (`eth0:1`), as keepalived's `label`.
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInterface {
    pub name: String,
    /// 0: link down puts the instance in FAULT. Negative: added to the priority while
    /// down. Positive: added while up.
    pub weight: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackScript {
    /// A [`ScriptConfig::name`].
    pub name: String,
    /// Overrides the script's own weight for this instance.
    pub weight: Option<i32>,
}

/// The sans-IO part of a tracked script: the driver runs it every interval and reports
/// each exit; the machine counts rise/fall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptConfig {
    pub name: String,
    /// 0: failure puts the instances tracking it in FAULT. Negative: added to the
    /// priority while failed. Positive: added while succeeding. Until the first result
    /// (keepalived's init state) a weight 0 script holds its instances in FAULT and a
    /// weighted one adds nothing.
    pub weight: i32,
    /// Successes in a row to count as up again (at least 1). The first result counts
    /// on its own, whatever rise and fall say, as in keepalived.
    pub rise: u32,
    /// Failures in a row to count as down (at least 1).
    pub fall: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupConfig {
    pub name: String,
    /// [`InstanceConfig::name`]s; they move between MASTER and BACKUP together and one
    /// in FAULT faults them all. They go MASTER only once every member's
    /// Master_Down_Timer has run out with no master heard (keepalived), so a member that
    /// hears a better master holds the whole group in BACKUP.
    pub instances: Vec<String>,
    /// keepalived's sync_group_tracking_weight. When false (keepalived's default), the
    /// weights of the members' tracked interfaces and scripts are ignored: a failure
    /// faults the whole group instead of lowering one member's priority, which would
    /// split the group across two routers.
    pub tracking_weight: bool,
}

/// Gratuitous ARP after becoming MASTER, as keepalived's garp_master_* settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpConfig {
    /// A second burst this long after the transition (keepalived default 5 s; zero: none).
    pub master_delay: Duration,
    /// Gratuitous ARPs per address in each burst (default 5).
    pub master_repeat: u32,
    /// Periodic bursts while MASTER (default none).
    pub master_refresh: Option<Duration>,
    /// Per address in each refresh burst (default 1).
    pub master_refresh_repeat: u32,
}

impl Default for GarpConfig {
    fn default() -> Self {
        GarpConfig {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: None,
            master_refresh_repeat: 1,
        }
    }
}
