//! The YAML as written: what serde can check (keys, types, syntax), nothing more.
//!
//! Every table denies unknown keys. Numbers with a range are read wider than they are
//! kept (`vrid` as i64, not u8) so that an out-of-range value is reported by the
//! semantic checks, together with every other problem, rather than stopping the parse.
//! Keys with a default are `Option`s here; the defaults live in one place, the checks.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::de::{self, Named, ShortForm, ShortOrTable};
pub(crate) use super::model_vs::*;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub director: RawDirector,
    #[serde(default)]
    pub vrrp: RawVrrp,
    #[serde(default)]
    pub virtual_servers: Vec<RawVirtualServer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDirector {
    pub id: Option<String>,
    pub control_socket: Option<PathBuf>,
    pub metrics: Option<SocketAddr>,
    #[serde(default)]
    pub keep_rules_on_exit: bool,
    pub ipvs_sync_daemon: Option<RawIpvsSyncDaemon>,
}

/// keepalived's lvs_sync_daemon.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIpvsSyncDaemon {
    pub interface: String,
    pub sync_id: Option<i64>,
    pub vrrp_instance: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVrrp {
    #[serde(default)]
    pub scripts: Named<RawScript>,
    #[serde(default)]
    pub instances: Vec<RawInstance>,
    #[serde(default)]
    pub sync_groups: Vec<RawSyncGroup>,
}

/// keepalived's vrrp_script.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScript {
    pub command: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub interval: Option<Duration>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub timeout: Option<Duration>,
    pub weight: Option<i64>,
    pub rise: Option<u32>,
    pub fall: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInstance {
    pub name: String,
    pub interface: String,
    pub vrid: i64,
    pub priority: Option<i64>,
    pub version: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub advert_interval: Option<Duration>,
    pub initial_state: Option<RawInitialState>,
    pub preempt: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub preempt_delay: Option<Duration>,
    pub authentication: Option<RawAuthentication>,
    pub unicast: Option<RawUnicast>,
    #[serde(default)]
    pub virtual_addresses: Vec<ShortOrTable<RawVirtualAddress>>,
    #[serde(default)]
    pub track: RawTrack,
    #[serde(default)]
    pub notify: RawNotify,
    #[serde(default)]
    pub garp: RawGarp,
}

/// keepalived writes `state MASTER`; both spellings are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawInitialState {
    #[serde(alias = "MASTER")]
    Master,
    #[serde(alias = "BACKUP")]
    Backup,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuthentication {
    #[serde(rename = "type")]
    pub kind: RawAuthType,
    pub password: String,
}

/// Only simple text passwords: IP AH (type 2) was dropped from VRRP by RFC 3768.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawAuthType {
    #[serde(alias = "PASS")]
    Pass,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUnicast {
    pub source: Option<Ipv4Addr>,
    pub peers: Vec<Ipv4Addr>,
}

/// `192.0.2.100/24`, or `{address: 192.0.2.100/24, dev: eth1, label: "eth1:vip"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVirtualAddress {
    pub address: String,
    pub dev: Option<String>,
    pub label: Option<String>,
}

impl ShortForm for RawVirtualAddress {
    const SHORT: &'static str = "an address such as 192.0.2.100/24";
    fn from_short(address: String) -> Self {
        RawVirtualAddress { address, dev: None, label: None }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrack {
    #[serde(default)]
    pub interfaces: Vec<ShortOrTable<RawTrackInterface>>,
    #[serde(default)]
    pub scripts: Vec<ShortOrTable<RawTrackScript>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrackInterface {
    pub name: String,
    pub weight: Option<i64>,
}

impl ShortForm for RawTrackInterface {
    const SHORT: &'static str = "an interface name";
    fn from_short(name: String) -> Self {
        RawTrackInterface { name, weight: None }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrackScript {
    pub name: String,
    /// Overrides the script's weight for this instance.
    pub weight: Option<i64>,
}

impl ShortForm for RawTrackScript {
    const SHORT: &'static str = "a script name";
    fn from_short(name: String) -> Self {
        RawTrackScript { name, weight: None }
    }
}

/// argv lists, run without a shell.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotify {
    pub master: Option<Vec<String>>,
    pub backup: Option<Vec<String>>,
    pub fault: Option<Vec<String>>,
    pub stop: Option<Vec<String>>,
    /// keepalived's plain `notify`: gets TYPE NAME STATE PRIORITY appended.
    pub any: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGarp {
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub master_delay: Option<Duration>,
    pub master_repeat: Option<u32>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub master_refresh: Option<Duration>,
    pub master_refresh_repeat: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSyncGroup {
    pub name: String,
    pub instances: Vec<String>,
    #[serde(default)]
    pub tracking_weight: bool,
    #[serde(default)]
    pub notify: RawNotify,
}
