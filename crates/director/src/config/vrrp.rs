//! `vrrp:`: scripts, sync groups, the checks across instances, and the small checks
//! every part of the section shares. One instance's own keys are in [`super::instance`].

use std::collections::HashMap;
use std::time::Duration;

use ::vrrp::driver::Notify;

use super::error::Report;
use super::instance;
use super::location::join_key;
use super::model::{RawNotify, RawScript, RawSyncGroup, RawVrrp};
use super::{Instance, Script, SyncGroup, VrrpSection};
use crate::duration;

/// keepalived's bounds for script and interface weights.
pub(crate) const WEIGHT_MIN: i64 = -253;
pub(crate) const WEIGHT_MAX: i64 = 253;
/// IFNAMSIZ less the terminating NUL.
const IFNAME_MAX: usize = 15;

pub(crate) fn check(raw: &RawVrrp, report: &mut Report<'_>) -> VrrpSection {
    let scripts: Vec<Script> =
        raw.scripts.0.iter().map(|(name, script)| check_script(name, script, report)).collect();
    for (i, script) in scripts.iter().enumerate() {
        if scripts[..i].iter().any(|s| s.name == script.name) {
            // Both keys share this path; the index holds the later one, this one.
            let path = join_key("vrrp.scripts", &script.name);
            report.key(
                &path,
                format!("expected a name no other script has, got {:?} again", script.name),
            );
        }
    }
    let instances: Vec<Instance> = raw
        .instances
        .iter()
        .enumerate()
        .map(|(i, raw)| instance::check(&format!("vrrp.instances[{i}]"), raw, &scripts, report))
        .collect();
    check_unique_instances(&instances, report);
    let sync_groups = check_sync_groups(&raw.sync_groups, &instances, report);
    VrrpSection { scripts, instances, sync_groups }
}

fn check_script(name: &str, raw: &RawScript, report: &mut Report<'_>) -> Script {
    let path = join_key("vrrp.scripts", name);
    let at = |key: &str| join_key(&path, key);
    if name.trim().is_empty() {
        report.key(&path, "expected a script name, got an empty string");
    }
    command(report, &at("command"), &raw.command);
    let interval = raw.interval.unwrap_or(Duration::from_secs(1));
    nonzero(report, &at("interval"), interval);
    // keepalived: a script with no timeout may run for its whole interval.
    let timeout = raw.timeout.unwrap_or(interval);
    nonzero(report, &at("timeout"), timeout);
    let weight = weight(report, &at("weight"), raw.weight);
    let rise = at_least_one(report, &at("rise"), raw.rise.unwrap_or(1));
    let fall = at_least_one(report, &at("fall"), raw.fall.unwrap_or(1));
    Script {
        name: name.to_string(),
        command: raw.command.clone(),
        interval,
        timeout,
        weight,
        rise,
        fall,
    }
}

fn check_unique_instances(instances: &[Instance], report: &mut Report<'_>) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut vrids: HashMap<(&str, u8), usize> = HashMap::new();
    for (i, instance) in instances.iter().enumerate() {
        let path = format!("vrrp.instances[{i}]");
        // An empty name was already reported as such.
        if !instance.name.trim().is_empty() {
            unique_name(report, &mut names, "vrrp.instances", i, &instance.name, "instance");
        }
        // An invalid vrid was already reported and kept as 0; do not pair on it.
        if instance.vrid == 0 {
            continue;
        }
        let key = (instance.interface.as_str(), instance.vrid);
        if let Some(&first) = vrids.get(&key) {
            let line = report.line_of(&format!("vrrp.instances[{first}].vrid"));
            report.expected(
                &join_key(&path, "vrid"),
                format!("a vrid no other instance on {} uses", instance.interface),
                format!(
                    "{}, also used by {:?} (line {line})",
                    instance.vrid, instances[first].name
                ),
            );
        } else {
            vrids.insert(key, i);
        }
    }
}

/// Records `name`, the name of `table[index]`; a name an earlier entry has is reported
/// at this entry, naming the first one and its line.
pub(crate) fn unique_name<'a>(
    report: &mut Report<'_>,
    seen: &mut HashMap<&'a str, usize>,
    table: &str,
    index: usize,
    name: &'a str,
    what: &str,
) {
    match seen.get(name) {
        Some(&first) => {
            let line = report.line_of(&format!("{table}[{first}].name"));
            report.expected(
                &format!("{table}[{index}].name"),
                format!("a name no other {what} has"),
                format!("{name:?}, also the name of {table}[{first}] (line {line})"),
            );
        }
        None => {
            seen.insert(name, index);
        }
    }
}

fn check_sync_groups(
    raw: &[RawSyncGroup],
    instances: &[Instance],
    report: &mut Report<'_>,
) -> Vec<SyncGroup> {
    // Instance name -> (group index, path of its entry), for "already in".
    let mut member_of: HashMap<&str, (usize, String)> = HashMap::new();
    let mut group_names: HashMap<&str, usize> = HashMap::new();
    let mut groups = Vec::new();
    for (g, group) in raw.iter().enumerate() {
        let path = format!("vrrp.sync_groups[{g}]");
        let name_path = join_key(&path, "name");
        if group.name.trim().is_empty() {
            report.expected(&name_path, "a sync group name", "an empty string");
        } else {
            unique_name(report, &mut group_names, "vrrp.sync_groups", g, &group.name, "sync group");
        }
        if group.instances.is_empty() {
            report.expected(
                &join_key(&path, "instances"),
                "at least one instance",
                "an empty list",
            );
        }
        for (m, member) in group.instances.iter().enumerate() {
            let member_path = format!("{path}.instances[{m}]");
            if !instances.iter().any(|i| i.name == *member) {
                report.expected(
                    &member_path,
                    "the name of an instance in vrrp.instances",
                    format!("{member:?}"),
                );
                continue;
            }
            match member_of.get(member.as_str()) {
                Some((first, first_path)) => {
                    let line = report.line_of(first_path);
                    let message = if *first == g {
                        format!("instance {member:?} is listed twice in this group (line {line})")
                    } else {
                        format!(
                            "instance {member:?} is already in sync group {:?} (line {line}); \
                             an instance can be in one group only",
                            raw[*first].name
                        )
                    };
                    report.value(&member_path, message);
                }
                None => {
                    member_of.insert(member, (g, member_path));
                }
            }
        }
        let notify = notify(report, &join_key(&path, "notify"), &group.notify);
        groups.push(SyncGroup {
            name: group.name.clone(),
            instances: group.instances.clone(),
            tracking_weight: group.tracking_weight,
            notify,
        });
    }
    groups
}

/// An argv whose program is an absolute path: scripts run without a shell or PATH.
pub(crate) fn command(report: &mut Report<'_>, path: &str, argv: &[String]) {
    match argv.first() {
        None => report.expected(path, "a command as [PROGRAM, ARG...]", "an empty list"),
        Some(program) if !program.starts_with('/') => {
            report.expected(&format!("{path}[0]"), "an absolute path", format!("{program:?}"));
        }
        Some(_) => {}
    }
}

pub(crate) fn notify(report: &mut Report<'_>, path: &str, raw: &RawNotify) -> Notify {
    let mut argv = |key: &str, value: &Option<Vec<String>>| {
        if value.as_ref().is_some_and(Vec::is_empty) {
            let at = join_key(path, key);
            report.expected(&at, "a command as [PROGRAM, ARG...]", "an empty list");
        }
        value.clone()
    };
    Notify {
        master: argv("master", &raw.master),
        backup: argv("backup", &raw.backup),
        fault: argv("fault", &raw.fault),
        stop: argv("stop", &raw.stop),
        any: argv("any", &raw.any),
    }
}

/// A network interface name as the kernel accepts it (dev_valid_name).
pub(crate) fn interface_name(report: &mut Report<'_>, path: &str, name: &str) {
    let bad_char = name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace());
    if name.is_empty() || name.len() > IFNAME_MAX || bad_char || name == "." || name == ".." {
        report.expected(
            path,
            "an interface name of 1-15 bytes without '/', ':' or spaces",
            format!("{name:?} ({} bytes)", name.len()),
        );
    }
}

/// An integer in `lo..=hi`, or None after reporting it.
pub(crate) fn in_range(
    report: &mut Report<'_>,
    path: &str,
    value: i64,
    lo: i64,
    hi: i64,
) -> Option<i64> {
    if (lo..=hi).contains(&value) {
        Some(value)
    } else {
        // `1-255` reads well; `-253-253` does not.
        let range = if lo < 0 { format!("{lo} to {hi}") } else { format!("{lo}-{hi}") };
        report.expected(path, range, value);
        None
    }
}

/// A priority adjustment (0 when not given).
pub(crate) fn weight(report: &mut Report<'_>, path: &str, value: Option<i64>) -> i32 {
    let value = value.unwrap_or(0);
    in_range(report, path, value, WEIGHT_MIN, WEIGHT_MAX)
        .and_then(|w| i32::try_from(w).ok())
        .unwrap_or(0)
}

pub(crate) fn at_least_one(report: &mut Report<'_>, path: &str, value: u32) -> u32 {
    if value == 0 {
        report.expected(path, "at least 1", 0);
    }
    value
}

pub(crate) fn nonzero(report: &mut Report<'_>, path: &str, value: Duration) {
    if value.is_zero() {
        report.expected(path, "a duration above zero", duration::format(value));
    }
}
