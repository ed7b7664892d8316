//! What the driver is told, beyond the state machine's own configuration.

use std::net::Ipv4Addr;

use crate::machine::RouterConfig;

/// Everything the driver needs: the machine's configuration plus what only the I/O side
/// uses (where adverts go, what to run on a transition).
///
/// An instance whose [`crate::machine::InstanceConfig::primary_address`] is
/// `0.0.0.0` gets its interface's primary IPv4 address at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    pub router: RouterConfig,
    /// Parallel to `router.instances`.
    pub instances: Vec<InstanceIo>,
    /// Parallel to `router.sync_groups`.
    pub sync_groups: Vec<Notify>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceIo {
    /// None: multicast to 224.0.0.18.
    pub unicast: Option<Unicast>,
    pub notify: Notify,
}

/// keepalived's unicast_src_ip / unicast_peer: adverts go to each peer, and only
/// adverts from a peer are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unicast {
    /// None: the interface's primary address.
    pub source: Option<Ipv4Addr>,
    pub peers: Vec<Ipv4Addr>,
}

/// Programs run on transitions, as argv (never through a shell). keepalived's
/// convention: `master`/`backup`/`fault`/`stop` run as given; `any` (keepalived's plain
/// `notify`) gets four more arguments: `INSTANCE|GROUP`, the name, the new state
/// (`MASTER|BACKUP|FAULT|STOP`) and the priority.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notify {
    pub master: Option<Vec<String>>,
    pub backup: Option<Vec<String>>,
    pub fault: Option<Vec<String>>,
    pub stop: Option<Vec<String>>,
    pub any: Option<Vec<String>>,
}
