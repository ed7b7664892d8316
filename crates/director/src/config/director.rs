//! `director:`: who this director is and where it listens.

use std::path::PathBuf;

use super::error::Report;
use super::model::RawDirector;
use super::{DirectorSection, DEFAULT_CONTROL_SOCKET};

pub(crate) fn check(raw: &RawDirector, report: &mut Report<'_>) -> DirectorSection {
    let id = match &raw.id {
        Some(id) if id.trim().is_empty() => {
            report.expected("director.id", "a name", "an empty string");
            String::new()
        }
        Some(id) => id.clone(),
        None => hostname(),
    };
    let control_socket = match &raw.control_socket {
        Some(path) if path.as_os_str().is_empty() => {
            report.expected("director.control_socket", "a socket path", "an empty string");
            PathBuf::new()
        }
        Some(path) => path.clone(),
        None => PathBuf::from(DEFAULT_CONTROL_SOCKET),
    };
    DirectorSection {
        id,
        control_socket,
        metrics: raw.metrics,
        keep_rules_on_exit: false,
        ipvs_sync_daemon: None,
    }
}

/// keepalived's router_id default. The kernel's own record of the name (what
/// gethostname returns, per UTS namespace) rather than /etc/hostname, which may
/// disagree; "localhost" when even that is unreadable, so an offline check never fails
/// for it.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
