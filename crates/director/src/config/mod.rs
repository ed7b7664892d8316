//! The director's YAML configuration (DESIGN.md, "Config"): load, check, convert.
//!
//! Loading is two passes. serde_yaml reads the text into [`model`]'s structs, which
//! refuses bad syntax, wrong types and unknown keys (the first such error stops it).
//! Then the semantic checks run over the whole document and collect every problem,
//! each placed at its line and column through a [`location::PathIndex`] of the same text.
//! What comes out is typed and checked: [`Config`] converts into the VRRP driver's
//! configuration without further checks.
//!
//! Sections are checked one module each ([`director`], [`vrrp`] with [`instance`],
//! [`virtual_server`] with [`real_server`] and [`check`]).

mod check;
mod convert;
mod de;
mod director;
mod error;
mod incremental;
mod instance;
mod location;
mod model;
mod model_vs;
mod real_server;
#[cfg(test)]
mod scale;
mod virtual_server;
mod vrrp;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use ::vrrp::driver::{Notify, Unicast};
pub use ::vrrp::machine::{GarpConfig, InitialState, TrackInterface, TrackScript, VirtualAddress};
pub use ::vrrp::packet::Version;
pub use check::{ENV_REAL_SERVER_ADDRESS, ENV_REAL_SERVER_PORT, ENV_VIRTUAL_SERVER};
pub(crate) use error::lines as one_per_line;
pub use error::{ConfigError, Located};
pub use incremental::{ConfigCache, LoadStats};
pub use virtual_server::{DEFAULT_DRAIN_TIMEOUT, DEFAULT_PERSISTENCE_TIMEOUT, DEFAULT_SCHEDULER};

use error::Report;
use model::RawConfig;

/// Where `directord` listens and `directorctl` connects when the file does not say.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/director/director.sock";

/// A checked configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub director: DirectorSection,
    pub vrrp: VrrpSection,
    /// `virtual_servers:`; names and service keys are unique, and every
    /// `vrrp_instance` names an instance of [`Config::vrrp`].
    pub virtual_servers: Vec<VirtualServer>,
}

/// `director:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorSection {
    /// keepalived's router_id; the host name when not given.
    pub id: String,
    pub control_socket: PathBuf,
    /// Where to serve Prometheus metrics, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// `keep_rules_on_exit: true`: SIGTERM leaves the IPVS rules in the kernel
    /// (default false: the rules this director installed are removed).
    pub keep_rules_on_exit: bool,
    /// `ipvs_sync_daemon: {interface, sync_id, vrrp_instance}`: the kernel's connection
    /// sync, master while the instance is MASTER, backup otherwise.
    pub ipvs_sync_daemon: Option<IpvsSyncDaemon>,
}

/// `director.ipvs_sync_daemon` (keepalived's lvs_sync_daemon).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsSyncDaemon {
    /// The multicast interface of the sync messages.
    pub interface: String,
    /// 0-255, the same on both directors.
    pub sync_id: u8,
    /// The instance whose state the daemon follows; `None` only when there is at most
    /// one instance (then it follows that one, or is master without VRRP).
    pub vrrp_instance: Option<String>,
}

/// `virtual_servers[N]`: one kernel service and the policy that fills it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServer {
    pub name: String,
    /// What goes to the kernel: key (address/port/protocol or fwmark), scheduler,
    /// persistence flags, timeout and netmask.
    pub service: ::ipvs::Service,
    /// Sum of the live real servers' weights needed for the real servers to serve
    /// (keepalived's quorum, default 1).
    pub quorum: u32,
    /// Quorum is lost below `quorum - hysteresis` and regained at `quorum + hysteresis`.
    pub hysteresis: u32,
    /// A failed real server stays in the table with weight 0 instead of being removed.
    pub inhibit_on_failure: bool,
    /// Real servers with a check start failed until it passes (also in each check's
    /// [`checker::Timing::alpha`]).
    pub alpha: bool,
    /// On shutdown (and when a reload removes the virtual server) the quorum_down and
    /// real servers' notify_down programs run, as keepalived's omega.
    pub omega: bool,
    /// Takes the place of every real server while quorum is lost.
    pub sorry_server: Option<SorryServer>,
    /// The rules belong to this VRRP instance's MASTER; `None`: always installed.
    pub vrrp_instance: Option<String>,
    /// A real server a reload removes stays with weight 0 this long, then goes.
    pub drain_timeout: Duration,
    /// argv of programs run when quorum is regained / lost.
    pub quorum_up: Option<Vec<String>>,
    pub quorum_down: Option<Vec<String>>,
    /// Unique by (address, port).
    pub real_servers: Vec<RealServer>,
}

/// `virtual_servers[N].real_servers[M]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServer {
    /// Address, port, forwarding (the virtual server's unless the real server names one),
    /// configured weight (0-65535), thresholds.
    pub destination: ::ipvs::Destination,
    /// The real server's own check, or else the virtual server's; `None` when neither
    /// has one: the real server is always up.
    pub check: Option<::checker::CheckSpec>,
    /// argv run when the real server goes up / down.
    pub notify_up: Option<Vec<String>>,
    pub notify_down: Option<Vec<String>>,
}

/// `virtual_servers[N].sorry_server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SorryServer {
    /// Same family as the virtual server; weight 1.
    pub destination: ::ipvs::Destination,
}

/// `vrrp:`. Names are unique and every reference between these lists resolves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VrrpSection {
    pub scripts: Vec<Script>,
    pub instances: Vec<Instance>,
    pub sync_groups: Vec<SyncGroup>,
}

/// `vrrp.scripts.NAME` (keepalived's vrrp_script).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub name: String,
    /// argv; the program is an absolute path.
    pub command: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    /// -253..=253, as keepalived.
    pub weight: i32,
    pub rise: u32,
    pub fall: u32,
}

/// `vrrp.instances[N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    pub version: Version,
    /// Whole seconds for version 2, a multiple of 10 ms for version 3.
    pub advert_interval: Duration,
    pub initial_state: InitialState,
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// Version 2 simple password, 1-8 bytes.
    pub password: Option<String>,
    pub unicast: Option<Unicast>,
    pub virtual_addresses: Vec<VirtualAddress>,
    pub track_interfaces: Vec<TrackInterface>,
    pub track_scripts: Vec<TrackScript>,
    pub notify: Notify,
    pub garp: GarpConfig,
}

/// `vrrp.sync_groups[N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    pub name: String,
    /// [`Instance::name`]s, each in no other group.
    pub instances: Vec<String>,
    /// keepalived's sync_group_tracking_weight: members' tracking weights apply
    /// (default false: they are ignored and a tracked failure faults the group).
    pub tracking_weight: bool,
    pub notify: Notify,
}

/// A tracked script for the daemon to run every `interval`, killed after `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackScriptRun {
    pub name: String,
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
}

impl Config {
    /// Settings that are valid but do not do what they say, as keepalived warns about
    /// them: `key.path: what happens instead`.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (i, instance) in self.vrrp.instances.iter().enumerate() {
            let master = instance.initial_state == InitialState::Master;
            if master && (!instance.preempt || !instance.preempt_delay.is_zero()) {
                warnings.push(format!(
                    "vrrp.instances[{i}].initial_state: master preempts at once, so preempt: \
                     false and preempt_delay are ignored (keepalived ignores nopreempt with \
                     state MASTER too); use initial_state: backup for nopreempt"
                ));
            }
        }
        for (i, vs) in self.virtual_servers.iter().enumerate() {
            let weights: u64 =
                vs.real_servers.iter().map(|rs| u64::from(rs.destination.weight)).sum();
            if weights < u64::from(vs.quorum) {
                warnings.push(format!(
                    "virtual_servers[{i}].quorum: {} is more than the real servers' weights \
                     add up to ({weights}), so quorum is never reached and the sorry server \
                     (if any) always serves",
                    vs.quorum
                ));
            }
        }
        warnings
    }

    /// Reads and checks `path`; errors name the path as given.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::from_yaml(&text, &path.display().to_string())
    }

    /// Checks YAML text; `origin` names it in errors (normally the file name).
    pub fn from_yaml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = serde_yaml::from_str(text)
            .map_err(|e| ConfigError::Invalid(vec![error::from_serde(origin, &e)]))?;
        Config::check(&raw, origin, text).map_err(ConfigError::Invalid)
    }

    /// The semantic pass over a parsed document; every problem, placed in `text`.
    fn check(raw: &RawConfig, origin: &str, text: &str) -> Result<Config, Vec<Located>> {
        let mut report = Report::new(origin, text);
        let vrrp = vrrp::check(&raw.vrrp, &mut report);
        let director = director::check(&raw.director, &vrrp.instances, &mut report);
        let virtual_servers =
            virtual_server::check(&raw.virtual_servers, &vrrp.instances, &mut report);
        let errors = report.finish();
        if errors.is_empty() {
            Ok(Config { director, vrrp, virtual_servers })
        } else {
            Err(errors)
        }
    }

    pub fn director_id(&self) -> &str {
        &self.director.id
    }

    pub fn control_socket(&self) -> &Path {
        &self.director.control_socket
    }
}
