//! One `vrrp.instances[N]`: its keys, keepalived's defaults, and the checks that need
//! nothing but the instance (and the script names it tracks).

use std::net::Ipv4Addr;
use std::time::Duration;

use ::vrrp::driver::Unicast;
use ::vrrp::machine::{GarpConfig, InitialState, TrackInterface, TrackScript, VirtualAddress};
use ::vrrp::packet::Version;

use super::error::Report;
use super::location::join_key;
use super::model::{RawAuthType, RawGarp, RawInitialState, RawInstance, RawVirtualAddress};
use super::vrrp::{at_least_one, in_range, interface_name, notify, weight};
use super::{Instance, Script};
use crate::duration;

/// keepalived's default priority.
const DEFAULT_PRIORITY: i64 = 100;
/// keepalived's default vrrp_version.
const DEFAULT_VERSION: i64 = 2;
/// VRRPv2 passwords are 8 bytes on the wire.
const PASSWORD_MAX: usize = 8;

pub(crate) fn check(
    path: &str,
    raw: &RawInstance,
    scripts: &[Script],
    report: &mut Report<'_>,
) -> Instance {
    let at = |key: &str| join_key(path, key);
    if raw.name.trim().is_empty() {
        report.expected(&at("name"), "an instance name", "an empty string");
    }
    interface_name(report, &at("interface"), &raw.interface);
    // 0 marks an invalid vrid or priority; nothing downstream runs on a refused config.
    let byte = |report: &mut Report<'_>, key: &str, value: i64| {
        in_range(report, &at(key), value, 1, 255).and_then(|v| u8::try_from(v).ok()).unwrap_or(0)
    };
    let vrid = byte(report, "vrid", raw.vrid);
    let priority = byte(report, "priority", raw.priority.unwrap_or(DEFAULT_PRIORITY));
    let version = match raw.version.unwrap_or(DEFAULT_VERSION) {
        2 => Some(Version::V2),
        3 => Some(Version::V3),
        other => {
            report.expected(&at("version"), "2 or 3", other);
            None
        }
    };
    let advert_interval = raw.advert_interval.unwrap_or(Duration::from_secs(1));
    if let Some(version) = version {
        check_advert_interval(report, &at("advert_interval"), version, advert_interval);
    }
    let password = raw.authentication.as_ref().map(|auth| {
        // The only type; `type:` is still required so the file says what it holds.
        let RawAuthType::Pass = auth.kind;
        if version == Some(Version::V3) {
            report.key(
                &at("authentication"),
                "expected no authentication with version 3 (only VRRPv2 has it), got a password",
            );
        }
        let len = auth.password.len();
        if len == 0 || len > PASSWORD_MAX {
            report.expected(
                &at("authentication.password"),
                "a password of 1-8 bytes",
                format!("{len} bytes"),
            );
        }
        auth.password.clone()
    });
    let unicast = raw.unicast.as_ref().map(|unicast| {
        if unicast.peers.is_empty() {
            report.expected(&at("unicast.peers"), "at least one peer address", "an empty list");
        }
        Unicast { source: unicast.source, peers: unicast.peers.clone() }
    });
    // One advert carries at most 255 addresses; a master with more could not advertise.
    if raw.virtual_addresses.len() > 255 {
        report.expected(
            &at("virtual_addresses"),
            "at most 255 addresses (an advert's count is one byte)",
            format!("{}", raw.virtual_addresses.len()),
        );
    }
    let virtual_addresses = raw
        .virtual_addresses
        .iter()
        .enumerate()
        .map(|(j, entry)| {
            let entry_path = at(&format!("virtual_addresses[{j}]"));
            let address_path = entry.main_key_path(&entry_path, "address");
            virtual_address(report, &entry_path, &address_path, &entry.value, &raw.interface)
        })
        .collect();
    let track_interfaces = raw
        .track
        .interfaces
        .iter()
        .enumerate()
        .map(|(j, entry)| {
            let entry_path = at(&format!("track.interfaces[{j}]"));
            interface_name(report, &entry.main_key_path(&entry_path, "name"), &entry.value.name);
            let weight = weight(report, &join_key(&entry_path, "weight"), entry.value.weight);
            TrackInterface { name: entry.value.name.clone(), weight }
        })
        .collect();
    let track_scripts = raw
        .track
        .scripts
        .iter()
        .enumerate()
        .map(|(j, entry)| {
            let entry_path = at(&format!("track.scripts[{j}]"));
            let name = &entry.value.name;
            if !scripts.iter().any(|s| s.name == *name) {
                report.expected(
                    &entry.main_key_path(&entry_path, "name"),
                    "the name of a script in vrrp.scripts",
                    format!("{name:?}"),
                );
            }
            let weight = entry
                .value
                .weight
                .map(|w| weight(report, &join_key(&entry_path, "weight"), Some(w)));
            TrackScript { name: name.clone(), weight }
        })
        .collect();
    Instance {
        name: raw.name.clone(),
        interface: raw.interface.clone(),
        vrid,
        priority,
        version: version.unwrap_or(Version::V2),
        advert_interval,
        initial_state: match raw.initial_state {
            Some(RawInitialState::Master) => InitialState::Master,
            Some(RawInitialState::Backup) | None => InitialState::Backup,
        },
        preempt: raw.preempt.unwrap_or(true),
        preempt_delay: raw.preempt_delay.unwrap_or(Duration::ZERO),
        password,
        unicast,
        virtual_addresses,
        track_interfaces,
        track_scripts,
        notify: notify(report, &at("notify"), &raw.notify),
        garp: garp(report, &at("garp"), &raw.garp),
    }
}

/// Version 2 carries whole seconds in 8 bits; version 3 centiseconds in 12.
fn check_advert_interval(
    report: &mut Report<'_>,
    path: &str,
    version: Version,
    interval: Duration,
) {
    let ok = match version {
        Version::V2 => interval.subsec_nanos() == 0 && (1..=255).contains(&interval.as_secs()),
        Version::V3 => {
            interval.as_nanos().is_multiple_of(10_000_000)
                && (10..=40_950).contains(&interval.as_millis())
        }
    };
    if !ok {
        let expected = match version {
            Version::V2 => "whole seconds from 1s to 255s (VRRP version 2)",
            Version::V3 => "10ms to 40950ms in steps of 10ms (VRRP version 3)",
        };
        report.expected(path, expected, duration::format(interval));
    }
}

fn virtual_address(
    report: &mut Report<'_>,
    entry_path: &str,
    address_path: &str,
    raw: &RawVirtualAddress,
    interface: &str,
) -> VirtualAddress {
    let (address, prefix_len) = parse_address(&raw.address).unwrap_or_else(|| {
        report.expected(
            address_path,
            "ADDRESS[/PREFIX] with an IPv4 address and a prefix of 0-32",
            format!("{:?}", raw.address),
        );
        (Ipv4Addr::UNSPECIFIED, 32)
    });
    if let Some(dev) = &raw.dev {
        interface_name(report, &join_key(entry_path, "dev"), dev);
    }
    if let Some(label) = &raw.label {
        // The kernel refuses an address label that does not begin with its device's name.
        let dev = raw.dev.as_deref().unwrap_or(interface);
        if !label.starts_with(dev) || label.len() > 15 {
            report.expected(
                &join_key(entry_path, "label"),
                format!("a label of at most 15 bytes starting with the device name {dev:?}"),
                format!("{label:?}"),
            );
        }
    }
    VirtualAddress { address, prefix_len, dev: raw.dev.clone(), label: raw.label.clone() }
}

/// `ADDRESS[/PREFIX]`, /32 when no prefix is given (as keepalived).
fn parse_address(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, prefix.parse::<u8>().ok().filter(|p| *p <= 32)?),
        None => (text, 32),
    };
    Some((address.parse().ok()?, prefix))
}

fn garp(report: &mut Report<'_>, path: &str, raw: &RawGarp) -> GarpConfig {
    let at = |key: &str| join_key(path, key);
    let defaults = GarpConfig::default();
    GarpConfig {
        master_delay: raw.master_delay.unwrap_or(defaults.master_delay),
        master_repeat: at_least_one(
            report,
            &at("master_repeat"),
            raw.master_repeat.unwrap_or(defaults.master_repeat),
        ),
        // keepalived: a refresh of 0 means none.
        master_refresh: raw.master_refresh.filter(|d| !d.is_zero()),
        master_refresh_repeat: at_least_one(
            report,
            &at("master_refresh_repeat"),
            raw.master_refresh_repeat.unwrap_or(defaults.master_refresh_repeat),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_a_host_prefix() {
        assert_eq!(parse_address("192.0.2.1"), Some(("192.0.2.1".parse().unwrap(), 32)));
        assert_eq!(parse_address("192.0.2.1/24"), Some(("192.0.2.1".parse().unwrap(), 24)));
        assert_eq!(parse_address("192.0.2.1/0"), Some(("192.0.2.1".parse().unwrap(), 0)));
        for bad in ["192.0.2.1/33", "192.0.2.1/", "192.0.2/24", "2001:db8::1/64", "", "/24"] {
            assert_eq!(parse_address(bad), None, "{bad:?}");
        }
    }
}
