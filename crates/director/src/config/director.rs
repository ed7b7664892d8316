//! `director:`: who this director is and where it listens.

use std::path::PathBuf;

use super::error::Report;
use super::model::{RawDirector, RawIpvsSyncDaemon};
use super::virtual_server::known_instance;
use super::vrrp::{in_range, interface_name};
use super::{DirectorSection, Instance, IpvsSyncDaemon, DEFAULT_CONTROL_SOCKET};

/// `instances` are the checked `vrrp.instances`, which the sync daemon may name.
pub(crate) fn check(
    raw: &RawDirector,
    instances: &[Instance],
    report: &mut Report<'_>,
) -> DirectorSection {
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
        keep_rules_on_exit: raw.keep_rules_on_exit,
        ipvs_sync_daemon: raw.ipvs_sync_daemon.as_ref().map(|d| sync_daemon(d, instances, report)),
    }
}

fn sync_daemon(
    raw: &RawIpvsSyncDaemon,
    instances: &[Instance],
    report: &mut Report<'_>,
) -> IpvsSyncDaemon {
    let path = "director.ipvs_sync_daemon";
    interface_name(report, &format!("{path}.interface"), &raw.interface);
    let sync_id = in_range(report, &format!("{path}.sync_id"), raw.sync_id.unwrap_or(0), 0, 255)
        .and_then(|id| u8::try_from(id).ok())
        .unwrap_or(0);
    match &raw.vrrp_instance {
        Some(name) => known_instance(report, &format!("{path}.vrrp_instance"), name, instances),
        // With one instance there is no doubt which one it follows.
        None if instances.len() > 1 => {
            let names: Vec<String> = instances.iter().map(|i| format!("{:?}", i.name)).collect();
            report.expected(
                &format!("{path}.vrrp_instance"),
                format!("the instance the sync daemon follows, one of {}", names.join(", ")),
                "none",
            );
        }
        None => {}
    }
    IpvsSyncDaemon {
        interface: raw.interface.clone(),
        sync_id,
        vrrp_instance: raw.vrrp_instance.clone(),
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
