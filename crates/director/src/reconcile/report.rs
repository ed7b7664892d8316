//! What one reconciler request did: the operations the kernel accepted, what it refused
//! (with the errno and the object), and what had changed behind the director's back.

use std::sync::Arc;

use ipvs::error::Request;
use ipvs::{BatchError, Op, SyncDaemon};

/// Why part of a request did not happen. Cheap to clone: one report answers every
/// coalesced caller.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReconcileError {
    /// The kernel refused one operation, or it was not sent because the service it
    /// belongs to was refused. The message names the service or destination and errno.
    #[error("{error}")]
    Op { op: Op, error: Arc<ipvs::Error> },
    /// The netlink socket failed in the middle of a batch: these operations may or may
    /// not be in the kernel (the table is read again before the next change).
    #[error("{count} IPVS operations were not confirmed: the netlink socket failed")]
    Unconfirmed { count: usize },
    /// The netlink socket failed (it is reopened at the next request).
    #[error("IPVS netlink socket: {0}")]
    Socket(Arc<ipvs::Error>),
    #[error("read the IPVS table: {0}")]
    Read(Arc<ipvs::Error>),
    #[error("connect to IPVS: {0}")]
    Connect(Arc<ipvs::Error>),
    #[error("IPVS sync daemon: {0}")]
    SyncDaemon(Arc<ipvs::Error>),
    #[error("start the IPVS reconciler thread: {0}")]
    Thread(Arc<std::io::Error>),
    #[error("the IPVS reconciler has stopped")]
    Stopped,
}

impl ReconcileError {
    /// The kernel's errno, where the kernel (or the socket) gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            ReconcileError::Op { error, .. }
            | ReconcileError::Socket(error)
            | ReconcileError::Read(error)
            | ReconcileError::Connect(error)
            | ReconcileError::SyncDaemon(error) => error.errno(),
            ReconcileError::Thread(e) => e.raw_os_error(),
            ReconcileError::Unconfirmed { .. } | ReconcileError::Stopped => None,
        }
    }

    /// Every [`ReconcileError::kind`].
    pub const KINDS: [&'static str; 8] =
        ["refused", "unconfirmed", "socket", "read", "connect", "sync_daemon", "thread", "stopped"];

    /// A short stable name of the kind of error, for metrics (one of [`Self::KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            ReconcileError::Op { .. } => "refused",
            ReconcileError::Unconfirmed { .. } => "unconfirmed",
            ReconcileError::Socket(_) => "socket",
            ReconcileError::Read(_) => "read",
            ReconcileError::Connect(_) => "connect",
            ReconcileError::SyncDaemon(_) => "sync_daemon",
            ReconcileError::Thread(_) => "thread",
            ReconcileError::Stopped => "stopped",
        }
    }

    /// The operation refused, for errors about one operation.
    pub fn op(&self) -> Option<&Op> {
        match self {
            ReconcileError::Op { op, .. } => Some(op),
            _ => None,
        }
    }
}

/// The outcome of an apply, resync or shutdown.
#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    /// Operations the kernel confirmed, in the diff's order (service by service).
    pub ops: Vec<Op>,
    pub failed: Vec<ReconcileError>,
    /// Changes made behind the director's back (found by a resync), as the operations
    /// that undo them; they are among `ops` unless the kernel refused them.
    pub drift: Vec<Op>,
    /// Whether the kernel table was read for this request.
    pub read_kernel: bool,
    /// Netlink requests this request sent (reads included).
    pub requests: u64,
}

impl ApplyReport {
    pub fn is_ok(&self) -> bool {
        self.failed.is_empty()
    }

    pub fn ops_applied(&self) -> usize {
        self.ops.len()
    }

    /// Records the outcome of one `apply` of `ops`; returns whether the socket failed.
    pub(super) fn record_batch(&mut self, ops: Vec<Op>, result: Result<(), BatchError>) -> bool {
        let batch = match result {
            Ok(()) => {
                self.ops.extend(ops);
                return false;
            }
            Err(batch) => batch,
        };
        let mut refused = Vec::new();
        let mut socket_failed = batch.unconfirmed > 0;
        for error in batch.failed {
            match error {
                ipvs::Error::Kernel { request: Request::Op(ref op), .. }
                | ipvs::Error::Skipped { request: Request::Op(ref op), .. } => {
                    refused.push(op.clone());
                    self.failed.push(ReconcileError::Op { op: op.clone(), error: Arc::new(error) });
                }
                other => {
                    socket_failed |= is_connection_error(&other);
                    self.failed.push(ReconcileError::Socket(Arc::new(other)));
                }
            }
        }
        if batch.unconfirmed > 0 {
            // Which of the others were applied is not known: none is claimed.
            self.failed.push(ReconcileError::Unconfirmed { count: batch.unconfirmed });
        } else {
            self.ops.extend(ops.into_iter().filter(|op| !refused.contains(op)));
        }
        socket_failed
    }
}

/// What [`super::Reconciler::sync_daemon`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonReport {
    /// Daemons that ran and were not wanted (another role, interface or sync id).
    pub stopped: Vec<SyncDaemon>,
    /// The wanted daemon, when it was not running already.
    pub started: Option<SyncDaemon>,
}

/// Errors after which the socket cannot be trusted: it is reopened before the next request.
pub(super) fn is_connection_error(e: &ipvs::Error) -> bool {
    matches!(
        e,
        ipvs::Error::Io(_)
            | ipvs::Error::Timeout { .. }
            | ipvs::Error::Decode(_)
            | ipvs::Error::NotAvailable
    )
}
