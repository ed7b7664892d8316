//! Errors of the IPVS client. Kernel refusals keep their errno and say what they mean for
//! the request that caused them.

use std::fmt;
use std::io;

use crate::model::ServiceKey;
use crate::op::Op;
use crate::wire::DecodeError;

/// What was asked of the kernel when it answered with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Op(Op),
    /// Anything that is not a table operation ("list services", "flush", ...).
    Other(String),
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Op(op) => op.fmt(f),
            Request::Other(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("IPVS is not available in this kernel (module ip_vs not loaded)")]
    NotAvailable,
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
    #[error("malformed reply from the kernel: {0}")]
    Decode(#[from] DecodeError),
    #[error("{}", describe(request, *errno))]
    Kernel { request: Request, errno: i32 },
    /// Not sent, because an operation it depends on failed.
    #[error("{request}: not sent: {reason}")]
    Skipped { request: Request, reason: String },
    /// No answer in time. The kernel handles a request inside our `send`, so this is not
    /// about slow kernel work: it catches answers that never come (netlink sends none for
    /// `-EINTR`), so the caller gets an error instead of a silent hang.
    #[error("{request}: no reply from the kernel within {}s", timeout.as_secs_f64())]
    Timeout { request: Request, timeout: std::time::Duration },
}

impl Error {
    /// The kernel's errno, where the kernel refused.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io(e) => e.raw_os_error(),
            _ => None,
        }
    }
}

fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    // "File exists (os error 17)" -> "File exists, errno 17"
    match text.rfind(" (os error") {
        Some(i) => format!("{}, errno {errno}", &text[..i]),
        None => text,
    }
}

fn describe(request: &Request, errno: i32) -> String {
    let why = strerror(errno);
    let svc = |k: &ServiceKey| format!("service {k}");
    let meaning = match (request, errno) {
        (_, libc::EPERM) => format!("{request}: not permitted: IPVS needs CAP_NET_ADMIN"),
        (Request::Op(Op::AddService(s)), libc::EEXIST) => format!("{} already exists", svc(&s.key)),
        (Request::Op(Op::AddService(s) | Op::EditService(s)), libc::ENOENT) => match &s.pe_name {
            None => format!(
                "{}: scheduler {} is not available (kernel module ip_vs_{} not loaded)",
                svc(&s.key),
                s.scheduler,
                s.scheduler
            ),
            Some(pe) => format!(
                "{}: scheduler {} or persistence engine {pe} is not available \
                 (kernel module ip_vs_{} or ip_vs_pe_{pe} not loaded)",
                svc(&s.key),
                s.scheduler,
                s.scheduler
            ),
        },
        (Request::Op(op), libc::ESRCH) => format!("{} does not exist", svc(op.service_key())),
        (Request::Op(Op::AddDestination(k, d)), libc::EEXIST) => {
            format!("destination {d} already exists in {}", svc(k))
        }
        (Request::Op(Op::EditDestination(k, d)), libc::ENOENT) => {
            format!("destination {d} does not exist in {}", svc(k))
        }
        (Request::Op(op @ Op::DeleteDestination(k, ..)), libc::ENOENT) => {
            format!("{op}: no such destination in {}", svc(k))
        }
        (Request::Op(Op::AddDestination(k, d) | Op::EditDestination(k, d)), libc::ERANGE) => {
            format!(
                "destination {d} in {}: lower threshold {} is above upper threshold {}",
                svc(k),
                d.lower_threshold,
                d.upper_threshold
            )
        }
        (_, libc::EINVAL) => format!("{request}: invalid argument (refused by the kernel)"),
        _ => format!("{request}: refused by the kernel"),
    };
    format!("{meaning} ({why})")
}

/// Some operations of a batch failed or were not sent; the others were applied.
#[derive(Debug, thiserror::Error)]
#[error("{} of {total} IPVS operations failed{}:\n  {}", failed.len(), unconfirmed_note(*unconfirmed), list(failed))]
pub struct BatchError {
    pub total: usize,
    pub failed: Vec<Error>,
    /// Operations whose outcome is unknown because the socket failed before they were
    /// answered or sent.
    pub unconfirmed: usize,
}

impl BatchError {
    /// Of `destinations`, those still worth sending: the ones of a service whose add the
    /// kernel refused could only fail (each with a misleading "no such service"), so they
    /// are recorded as skipped instead.
    pub fn skip_refused<'a>(&mut self, destinations: Vec<&'a Op>) -> Vec<&'a Op> {
        let refused: Vec<ServiceKey> = self
            .failed
            .iter()
            .filter_map(|e| match e {
                Error::Kernel { request: Request::Op(Op::AddService(s)), .. } => Some(s.key),
                _ => None,
            })
            .collect();
        let (skipped, send): (Vec<&Op>, Vec<&Op>) =
            destinations.into_iter().partition(|op| refused.contains(op.service_key()));
        self.failed.extend(skipped.into_iter().map(|op| Error::Skipped {
            request: Request::Op(op.clone()),
            reason: format!("service {} was not added", op.service_key()),
        }));
        send
    }
}

fn unconfirmed_note(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" and {n} were not confirmed (the netlink socket failed)")
    }
}

fn list(errors: &[Error]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Destination, Protocol, Service};

    fn key() -> ServiceKey {
        ServiceKey::Addr { protocol: Protocol::Tcp, addr: "192.0.2.1".parse().unwrap(), port: 80 }
    }

    #[test]
    fn messages_name_the_object_and_keep_errno() {
        let e = Error::Kernel {
            request: Request::Op(Op::AddService(Service::new(key()))),
            errno: libc::EEXIST,
        };
        assert_eq!(
            e.to_string(),
            "service 192.0.2.1:80/tcp already exists (File exists, errno 17)"
        );
        assert_eq!(e.errno(), Some(libc::EEXIST));
        let d = Destination::new("198.51.100.1".parse().unwrap(), 80);
        let e = Error::Kernel {
            request: Request::Op(Op::EditDestination(key(), d)),
            errno: libc::ENOENT,
        };
        assert_eq!(
            e.to_string(),
            "destination 198.51.100.1:80 does not exist in service 192.0.2.1:80/tcp \
             (No such file or directory, errno 2)"
        );
    }
}
