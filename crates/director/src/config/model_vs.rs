//! `virtual_servers:` as written (see [`super::model`] for the conventions: unknown keys
//! refused, ranged numbers read as i64, defaults left to the checks).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::de::{self, TextList};

/// `virtual_servers[N]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVirtualServer {
    pub name: String,
    pub address: Option<IpAddr>,
    pub port: Option<i64>,
    pub protocol: Option<RawProtocol>,
    pub fwmark: Option<i64>,
    /// Only with fwmark: an address service's family is its address's.
    pub family: Option<RawFamily>,
    pub scheduler: Option<String>,
    pub forwarding: Option<RawForwarding>,
    pub persistence: Option<RawPersistence>,
    pub persistence_engine: Option<String>,
    pub quorum: Option<i64>,
    pub hysteresis: Option<i64>,
    #[serde(default)]
    pub inhibit_on_failure: bool,
    #[serde(default)]
    pub alpha: bool,
    #[serde(default)]
    pub omega: bool,
    pub sorry_server: Option<RawSorryServer>,
    pub vrrp_instance: Option<String>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub drain_timeout: Option<Duration>,
    pub quorum_up: Option<Vec<String>>,
    pub quorum_down: Option<Vec<String>>,
    pub check: Option<RawCheck>,
    #[serde(default)]
    pub real_servers: Vec<RawRealServer>,
}

/// keepalived writes `protocol TCP`; both spellings are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawProtocol {
    #[serde(alias = "TCP")]
    Tcp,
    #[serde(alias = "UDP")]
    Udp,
    #[serde(alias = "SCTP")]
    Sctp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawFamily {
    Inet,
    Inet6,
}

/// keepalived's lb_kind / lvs_method: `DR`, `NAT`, `TUN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawForwarding {
    #[serde(alias = "DR")]
    Dr,
    #[serde(alias = "NAT")]
    Nat,
    #[serde(alias = "TUN")]
    Tun,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPersistence {
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub timeout: Option<Duration>,
    /// A dotted IPv4 mask, or an IPv6 prefix length.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub netmask: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSorryServer {
    pub address: IpAddr,
    pub port: Option<i64>,
    pub forwarding: Option<RawForwarding>,
}

/// `virtual_servers[N].real_servers[M]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRealServer {
    pub address: IpAddr,
    pub port: Option<i64>,
    pub weight: Option<i64>,
    pub forwarding: Option<RawForwarding>,
    pub upper_threshold: Option<i64>,
    pub lower_threshold: Option<i64>,
    pub notify_up: Option<Vec<String>>,
    pub notify_down: Option<Vec<String>>,
    pub check: Option<RawCheck>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawCheckType {
    Tcp,
    Http,
    Https,
    Misc,
}

impl RawCheckType {
    pub(crate) fn name(self) -> &'static str {
        match self {
            RawCheckType::Tcp => "tcp",
            RawCheckType::Http => "http",
            RawCheckType::Https => "https",
            RawCheckType::Misc => "misc",
        }
    }
}

/// One table for every check type; the checks refuse the keys a type does not take, so
/// that `path:` on a tcp check says so rather than being ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    #[serde(rename = "type")]
    pub kind: RawCheckType,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub delay_loop: Option<Duration>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub connect_timeout: Option<Duration>,
    pub retry: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub delay_before_retry: Option<Duration>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub warmup: Option<Duration>,
    pub connect_ip: Option<IpAddr>,
    pub connect_port: Option<i64>,
    pub bind_to: Option<IpAddr>,
    pub fwmark: Option<i64>,
    // http, https
    pub path: Option<String>,
    pub status_code: Option<TextList>,
    pub digest: Option<String>,
    pub regex: Option<String>,
    pub urls: Option<Vec<RawUrl>>,
    pub virtualhost: Option<String>,
    // https
    pub verify: Option<bool>,
    pub ca_file: Option<PathBuf>,
    // misc
    pub command: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub timeout: Option<Duration>,
    pub dynamic: Option<bool>,
}

/// `check.urls[N]`: one GET of several.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUrl {
    pub path: String,
    pub status_code: Option<TextList>,
    pub digest: Option<String>,
    pub regex: Option<String>,
}
