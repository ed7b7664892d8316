//! One change to the IPVS table: what the diff yields and the client sends.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::model::{Destination, Service, ServiceKey};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Op {
    AddService(Service),
    EditService(Service),
    DeleteService(ServiceKey),
    AddDestination(ServiceKey, Destination),
    EditDestination(ServiceKey, Destination),
    DeleteDestination(ServiceKey, IpAddr, u16),
}

/// A batch in the order the kernel needs it: service operations first (a destination
/// can only go into a service that exists), then destination operations, each in batch
/// order.
pub fn services_first(batch: &[Op]) -> (Vec<&Op>, Vec<&Op>) {
    batch.iter().partition(|op| op.is_service_op())
}

impl Op {
    /// Whether this op adds, edits or deletes a service (not a destination).
    pub fn is_service_op(&self) -> bool {
        matches!(self, Op::AddService(_) | Op::EditService(_) | Op::DeleteService(_))
    }

    /// The service this op concerns.
    pub fn service_key(&self) -> &ServiceKey {
        match self {
            Op::AddService(s) | Op::EditService(s) => &s.key,
            Op::DeleteService(k)
            | Op::AddDestination(k, _)
            | Op::EditDestination(k, _)
            | Op::DeleteDestination(k, ..) => k,
        }
    }
}

fn fmt_dest(addr: &IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::AddService(s) => write!(f, "add service {} ({})", s.key, s.scheduler),
            Op::EditService(s) => write!(f, "edit service {} ({})", s.key, s.scheduler),
            Op::DeleteService(k) => write!(f, "delete service {k}"),
            Op::AddDestination(k, d) => {
                write!(f, "add destination {d} to service {k} (weight {})", d.weight)
            }
            Op::EditDestination(k, d) => {
                write!(f, "edit destination {d} of service {k} (weight {})", d.weight)
            }
            Op::DeleteDestination(k, a, p) => {
                write!(f, "delete destination {} of service {k}", fmt_dest(a, *p))
            }
        }
    }
}
