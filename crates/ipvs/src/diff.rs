//! Desired vs current: the minimal list of operations that turns one table into the other.
//!
//! Minimal means: nothing is sent for what is already right, and a service or destination
//! whose identity stays is edited in place (one `SET_*`), never deleted and re-added, so
//! its connections and counters survive.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::model::{Destination, ServiceKey, Table, TableService};
use crate::op::Op;

/// Operations that make `current` equal to `desired` (both compared in normalized form).
/// Services are visited in key order, so the output is deterministic. A table that names
/// a service or destination twice is read like a map: the later entry wins.
pub fn diff(desired: &Table, current: &Table) -> Vec<Op> {
    let desired = index(desired);
    let current = index(current);
    let mut ops = Vec::new();
    for key in current.keys().filter(|k| !desired.contains_key(*k)) {
        ops.push(Op::DeleteService(**key));
    }
    for (key, want) in &desired {
        match current.get(key) {
            None => {
                ops.push(Op::AddService(want.service.clone()));
                diff_destinations(key, &want.destinations, &[], &mut ops);
            }
            Some(have) => {
                if want.service != have.service {
                    ops.push(Op::EditService(want.service.clone()));
                }
                diff_destinations(key, &want.destinations, &have.destinations, &mut ops);
            }
        }
    }
    ops
}

/// Destination changes within one service that exists on both sides.
pub fn diff_destinations(
    key: &ServiceKey,
    desired: &[Destination],
    current: &[Destination],
    ops: &mut Vec<Op>,
) {
    let want: BTreeMap<(IpAddr, u16), Destination> =
        desired.iter().map(|d| (d.key(), d.clone().normalized())).collect();
    let have: BTreeMap<(IpAddr, u16), Destination> =
        current.iter().map(|d| (d.key(), d.clone().normalized())).collect();
    for (dk, _) in have.iter().filter(|(dk, _)| !want.contains_key(dk)) {
        ops.push(Op::DeleteDestination(*key, dk.0, dk.1));
    }
    for (dk, d) in &want {
        match have.get(dk) {
            None => ops.push(Op::AddDestination(*key, d.clone())),
            Some(h) if h != d => ops.push(Op::EditDestination(*key, d.clone())),
            Some(_) => {}
        }
    }
}

fn index(t: &Table) -> BTreeMap<&ServiceKey, &TableService> {
    t.services.iter().map(|s| (&s.service.key, s)).collect()
}

/// Why an operation cannot apply to a table (the kernel's refusal, modelled).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}: already exists")]
    Exists(String),
    #[error("{0}: no such entry")]
    Missing(String),
}

/// Applies operations to an in-memory table as the kernel would. Used to check diffs and
/// to preview a restore without a kernel.
pub fn apply(table: &mut Table, ops: &[Op]) -> Result<(), ApplyError> {
    for op in ops {
        let pos = table.services.iter().position(|s| &s.service.key == op.service_key());
        match (op, pos) {
            (Op::AddService(s), None) => {
                table.services.push(TableService { service: s.clone(), destinations: Vec::new() })
            }
            (Op::AddService(_), Some(_)) => return Err(ApplyError::Exists(op.to_string())),
            (Op::EditService(s), Some(i)) => table.services[i].service = s.clone(),
            (Op::DeleteService(_), Some(i)) => {
                table.services.remove(i);
            }
            (_, None) => return Err(ApplyError::Missing(op.to_string())),
            (Op::AddDestination(_, d) | Op::EditDestination(_, d), Some(i)) => {
                let dests = &mut table.services[i].destinations;
                let at = dests.iter().position(|x| x.key() == d.key());
                match (op, at) {
                    (Op::AddDestination(..), None) => dests.push(d.clone()),
                    (Op::EditDestination(..), Some(j)) => dests[j] = d.clone(),
                    (Op::AddDestination(..), Some(_)) => {
                        return Err(ApplyError::Exists(op.to_string()))
                    }
                    _ => return Err(ApplyError::Missing(op.to_string())),
                }
            }
            (Op::DeleteDestination(_, addr, port), Some(i)) => {
                let dests = &mut table.services[i].destinations;
                match dests.iter().position(|x| x.key() == (*addr, *port)) {
                    Some(j) => {
                        dests.remove(j);
                    }
                    None => return Err(ApplyError::Missing(op.to_string())),
                }
            }
        }
    }
    Ok(())
}

/// Two tables hold the same configuration, whatever their order.
pub fn same_table(a: &Table, b: &Table) -> bool {
    let canon = |t: &Table| -> BTreeMap<ServiceKey, (crate::model::Service, Vec<Destination>)> {
        t.clone()
            .normalized()
            .services
            .into_iter()
            .map(|mut s| {
                s.destinations.sort();
                (s.service.key, (s.service, s.destinations))
            })
            .collect()
    };
    canon(a) == canon(b)
}

#[cfg(test)]
mod tests;
