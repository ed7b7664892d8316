//! Settings of the IPVS instance as a whole: version and table size, connection
//! timeouts, and the connection-sync daemons.

use std::net::IpAddr;

use serde::Serialize;

/// Global information (`IPVS_CMD_GET_INFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Info {
    /// Packed version: `(major << 16) | (minor << 8) | patch`.
    pub version: u32,
    pub conn_tab_size: u32,
}

impl Info {
    pub fn version_string(&self) -> String {
        format!("{}.{}.{}", self.version >> 16, (self.version >> 8) & 0xff, self.version & 0xff)
    }
}

/// Connection timeouts in seconds (`ipvsadm --set tcp tcpfin udp`); 0 = unchanged on set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// Role of a connection-sync daemon (`IP_VS_STATE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum DaemonState {
    Master,
    Backup,
    Other(u32),
}

impl DaemonState {
    pub const IP_VS_STATE_NONE: u32 = 0;
    pub const IP_VS_STATE_MASTER: u32 = 1;
    pub const IP_VS_STATE_BACKUP: u32 = 2;

    pub fn from_kernel(raw: u32) -> Self {
        match raw {
            Self::IP_VS_STATE_MASTER => DaemonState::Master,
            Self::IP_VS_STATE_BACKUP => DaemonState::Backup,
            n => DaemonState::Other(n),
        }
    }

    pub fn to_kernel(self) -> u32 {
        match self {
            DaemonState::Master => Self::IP_VS_STATE_MASTER,
            DaemonState::Backup => Self::IP_VS_STATE_BACKUP,
            DaemonState::Other(n) => n,
        }
    }
}

/// A connection-sync daemon (`ipvsadm --start-daemon`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncDaemon {
    pub state: DaemonState,
    pub mcast_ifn: String,
    pub sync_id: u32,
    /// Max sync message length; `None` = kernel default.
    pub sync_maxlen: Option<u16>,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: Option<u16>,
    pub mcast_ttl: Option<u8>,
}

impl SyncDaemon {
    pub fn new(state: DaemonState, mcast_ifn: impl Into<String>, sync_id: u32) -> Self {
        SyncDaemon {
            state,
            mcast_ifn: mcast_ifn.into(),
            sync_id,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        }
    }
}
