//! Configuration checks done once by [`super::Router::new`], so the machine can rely on
//! them afterwards.

use std::collections::HashSet;

use thiserror::Error;

use super::config::{InstanceConfig, RouterConfig};
use crate::packet::{Auth, Version};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("instance {instance}: track script {script} is not defined")]
    UnknownScript { instance: String, script: String },
    #[error("script {0} is defined twice")]
    DuplicateScript(String),
    #[error("sync group {group}: no instance named {instance}")]
    UnknownGroupMember { group: String, instance: String },
    #[error("sync group {group}: instance {instance} is already in a sync group")]
    DuplicateGroupMember { group: String, instance: String },
    #[error("instance name {0} is used twice")]
    DuplicateInstance(String),
    #[error("instances {first} and {second} both use VRID {vrid} on {interface}")]
    DuplicateVrid { interface: String, vrid: u8, first: String, second: String },
    #[error("instance {0}: VRID must be 1-255")]
    ZeroVrid(String),
    #[error("instance {0}: priority must be 1-255")]
    ZeroPriority(String),
    #[error(
        "instance {instance}: advert interval {interval_cs} cs is out of range for VRRP{} \
         (v2: 1-255 s in whole seconds, v3: 1-4095 cs)",
        if *version == Version::V2 { "v2" } else { "v3" }
    )]
    IntervalOutOfRange { instance: String, interval_cs: u16, version: Version },
    #[error("instance {0}: VRRPv3 has no authentication")]
    AuthWithV3(String),
    /// An advert's address count is one octet, so a master with more could never
    /// advertise them all.
    #[error("instance {instance}: {count} virtual addresses, an advert carries at most 255")]
    TooManyAddresses { instance: String, count: usize },
}

pub(crate) fn validate(config: &RouterConfig) -> Result<(), ConfigError> {
    let mut scripts = HashSet::new();
    for script in &config.scripts {
        if !scripts.insert(script.name.as_str()) {
            return Err(ConfigError::DuplicateScript(script.name.clone()));
        }
    }
    let mut names = HashSet::new();
    for (i, instance) in config.instances.iter().enumerate() {
        if !names.insert(instance.name.as_str()) {
            return Err(ConfigError::DuplicateInstance(instance.name.clone()));
        }
        if let Some(first) = config.instances[..i]
            .iter()
            .find(|o| o.interface == instance.interface && o.vrid == instance.vrid)
        {
            return Err(ConfigError::DuplicateVrid {
                interface: instance.interface.clone(),
                vrid: instance.vrid,
                first: first.name.clone(),
                second: instance.name.clone(),
            });
        }
        validate_instance(instance, &scripts)?;
    }
    let mut grouped = HashSet::new();
    for group in &config.sync_groups {
        for member in &group.instances {
            if !names.contains(member.as_str()) {
                return Err(ConfigError::UnknownGroupMember {
                    group: group.name.clone(),
                    instance: member.clone(),
                });
            }
            if !grouped.insert(member.as_str()) {
                return Err(ConfigError::DuplicateGroupMember {
                    group: group.name.clone(),
                    instance: member.clone(),
                });
            }
        }
    }
    Ok(())
}

fn validate_instance(
    instance: &InstanceConfig,
    scripts: &HashSet<&str>,
) -> Result<(), ConfigError> {
    let name = || instance.name.clone();
    if instance.vrid == 0 {
        return Err(ConfigError::ZeroVrid(name()));
    }
    if instance.priority == 0 {
        return Err(ConfigError::ZeroPriority(name()));
    }
    let cs = instance.advert_interval_cs;
    let in_range = match instance.version {
        // v2 carries whole seconds in 8 bits.
        Version::V2 => cs % 100 == 0 && (100..=25_500).contains(&cs),
        // v3 carries centiseconds in 12 bits.
        Version::V3 => (1..=4095).contains(&cs),
    };
    if !in_range {
        return Err(ConfigError::IntervalOutOfRange {
            instance: name(),
            interval_cs: cs,
            version: instance.version,
        });
    }
    let count = instance.virtual_addresses.len();
    if count > usize::from(u8::MAX) {
        return Err(ConfigError::TooManyAddresses { instance: name(), count });
    }
    if instance.version == Version::V3 && instance.auth != Auth::None {
        return Err(ConfigError::AuthWithV3(name()));
    }
    if let Some(t) = instance.track_scripts.iter().find(|t| !scripts.contains(t.name.as_str())) {
        return Err(ConfigError::UnknownScript { instance: name(), script: t.name.clone() });
    }
    Ok(())
}
