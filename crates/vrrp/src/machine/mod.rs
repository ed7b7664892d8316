//! The VRRP state machine of RFC 5798 (and RFC 3768 for version 2), sans-IO.
//!
//! A [`Router`] holds every instance of one director, their tracked interfaces and
//! scripts, and their sync groups. The driver feeds it time, received adverts, link
//! changes and script results, sleeps until [`Router::poll_timeout`], and carries out
//! each [`Action`] from [`Router::poll_action`]. [`Router::reconfigure`] takes a new
//! configuration (a reload) while instances keep their state. Nothing here reads a
//! clock or a socket, so tests run many routers on virtual time.

pub mod config;
mod instance;
mod reconfigure;
mod router;
mod sync_group;
#[cfg(test)]
mod tests;
mod timers;
mod tracking;
mod validate;

pub use config::{
    GarpConfig, InitialState, InstanceConfig, RouterConfig, ScriptConfig, SyncGroupConfig,
    TrackInterface, TrackScript, VirtualAddress,
};
pub use router::Router;
pub(crate) use validate::validate;
pub use validate::ConfigError;

use std::net::Ipv4Addr;

use crate::counters::Counters;
use crate::packet::Advert;

/// Instance state, named as keepalived and the status JSON name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Init,
    Backup,
    Master,
    Fault,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

/// Index of an instance in [`RouterConfig::instances`] (of the configuration in force:
/// see [`Action::Reconfigured`]).
pub type InstanceIndex = usize;
/// Index of a group in [`RouterConfig::sync_groups`].
pub type GroupIndex = usize;

/// What the driver must do. Actions come out in the order they must be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send from the instance's socket: to 224.0.0.18, or to each unicast peer.
    SendAdvert {
        instance: InstanceIndex,
        advert: Advert,
    },
    AddAddresses {
        instance: InstanceIndex,
        addresses: Vec<VirtualAddress>,
    },
    RemoveAddresses {
        instance: InstanceIndex,
        addresses: Vec<VirtualAddress>,
    },
    /// `repeat` gratuitous ARPs for each address, on the address's interface.
    SendGratuitousArp {
        instance: InstanceIndex,
        addresses: Vec<VirtualAddress>,
        repeat: u32,
    },
    /// The instance changed state; the driver logs it and runs its notify scripts
    /// (`Stop` is reported as `to: Init` with `stopping: true`). It comes after the
    /// actions of the move, so `notify master` runs with the addresses up and announced,
    /// and `notify backup` / `fault` with them gone.
    Transition {
        instance: InstanceIndex,
        from: State,
        to: State,
        /// Effective priority at the time, for keepalived's notify argument.
        priority: u8,
        reason: String,
        stopping: bool,
    },
    /// A sync group as a whole entered a state (group notify scripts).
    GroupTransition {
        group: GroupIndex,
        to: State,
        stopping: bool,
    },
    /// [`Router::reconfigure`] took a new configuration. The instance and group indices
    /// of the actions before this one are the previous configuration's (instances and
    /// groups leaving), those after it the new one's: the driver switches its own view
    /// of the configuration here.
    Reconfigured,
}

/// A snapshot of one instance for status output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStatus {
    pub name: String,
    pub state: State,
    /// Configured priority.
    pub priority: u8,
    /// After tracking weights, clamped to 1-254 (255 stays 255 for the owner).
    pub effective_priority: u8,
    /// The interval in use: ours as MASTER, the master's as a v3 BACKUP.
    pub advert_interval_cs: u16,
    /// The master we last accepted an advert from (None when we are MASTER).
    pub master: Option<Ipv4Addr>,
    /// Why the instance is in FAULT (tracked interface or script names).
    pub faults: Vec<String>,
    pub counters: Counters,
}
