//! The IPVS reconciler: the one owner of the kernel's IPVS table and sync daemon.
//!
//! The netlink client blocks, so it lives on a thread of its own; the daemon talks to it
//! through a [`Reconciler`] handle whose methods return futures. What it does:
//! - Only the services it is told it manages are ever read into a diff or changed;
//!   within a managed service everything is its own (a destination added by hand goes).
//! - The first apply reads the kernel and adopts what is there (a restart changes
//!   nothing, connections survive); later applies diff against what it applied last,
//!   without reading, so a reload that changes one real server sends one operation.
//! - A service that leaves the managed set is deleted: it was ours.
//! - Applies queued while one runs are coalesced: only the newest desired table is
//!   applied, and every caller gets its report.
//! - A refused operation is reported with its errno and the rest still applies; the table
//!   is then read again, so the cache never claims what the kernel refused. A failed
//!   socket is reopened at the next request.

mod fake;
mod kernel;
mod report;
mod worker;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_daemon;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{mpsc, Arc};

use ipvs::{ListedService, ServiceKey, SyncDaemon, Table};
use tokio::sync::{oneshot, watch};

pub use fake::FakeKernel;
pub use kernel::{daemon_matches, read_services, read_stats, Kernel};
pub use report::{ApplyReport, DaemonReport, ReconcileError};
use worker::{Counters, Worker};

enum Request {
    Apply {
        desired: Table,
        managed: BTreeSet<ServiceKey>,
        reply: oneshot::Sender<ApplyReport>,
    },
    Resync {
        reply: oneshot::Sender<ApplyReport>,
    },
    SyncDaemon {
        want: Option<SyncDaemon>,
        reply: oneshot::Sender<Result<DaemonReport, ReconcileError>>,
    },
    Shutdown {
        remove_rules: bool,
        reply: oneshot::Sender<ApplyReport>,
    },
    Stats {
        reply: oneshot::Sender<Result<Vec<ListedService>, ReconcileError>>,
    },
}

/// The reconciler's cumulative counts (see [`Reconciler::counts`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Table operations the kernel confirmed.
    pub ops_applied: u64,
    /// Failures by [`ReconcileError::kind`]; kinds never seen are absent.
    pub errors: BTreeMap<&'static str, u64>,
    /// Changes made behind the director's back that a resync found and undid.
    pub drift_repairs: u64,
    /// Every netlink request sent, reads and sync daemon commands included.
    pub requests: u64,
    /// Kernel table reads (adoption, resync, after a refusal).
    pub reads: u64,
    /// Desired tables diffed.
    pub diffs: u64,
}

/// A handle on the reconciler thread; clones share it. The thread ends at
/// [`Reconciler::shutdown`], or when every handle is gone (then the rules stay).
#[derive(Debug, Clone)]
pub struct Reconciler {
    requests: mpsc::Sender<Request>,
    applied: watch::Receiver<Arc<Table>>,
    counters: Arc<Counters>,
}

fn stopped() -> ApplyReport {
    ApplyReport { failed: vec![ReconcileError::Stopped], ..ApplyReport::default() }
}

impl Reconciler {
    /// Starts the reconciler thread on a kernel connection that is already open.
    pub fn spawn<K: Kernel + Send + 'static>(kernel: K) -> Result<Reconciler, ReconcileError> {
        let (requests, queue) = mpsc::channel();
        let (snapshot, applied) = watch::channel(Arc::new(Table::default()));
        let counters = Arc::new(Counters::default());
        let worker = Worker::new(kernel, snapshot, counters.clone());
        std::thread::Builder::new()
            .name("ipvs-reconcile".into())
            .spawn(move || serve(worker, &queue))
            .map_err(|e| ReconcileError::Thread(Arc::new(e)))?;
        Ok(Reconciler { requests, applied, counters })
    }

    /// Connects to the kernel's IPVS (one netlink round trip, on the calling thread) and
    /// starts the reconciler on that connection.
    pub fn connect() -> Result<Reconciler, ReconcileError> {
        let client = ipvs::Client::connect().map_err(|e| ReconcileError::Connect(Arc::new(e)))?;
        Self::spawn(client)
    }

    fn send<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> oneshot::Receiver<T> {
        let (reply, answer) = oneshot::channel();
        // A send to a stopped thread drops `reply`: the future then reports Stopped.
        let _ = self.requests.send(make(reply));
        answer
    }

    /// Makes the kernel's managed services equal `desired`: managed services absent from
    /// it are deleted, and so are services managed before and not any more. Services
    /// outside `managed` (and `desired`) are left alone. The request is queued when this
    /// is called; awaiting gives its report.
    pub fn apply(
        &self,
        desired: Table,
        managed: BTreeSet<ServiceKey>,
    ) -> impl Future<Output = ApplyReport> + Send + 'static {
        let answer = self.send(|reply| Request::Apply { desired, managed, reply });
        async move { answer.await.unwrap_or_else(|_| stopped()) }
    }

    /// Reads the managed services back from the kernel and repairs what was changed
    /// behind the director's back; the report's `drift` lists those changes.
    pub fn resync(&self) -> impl Future<Output = ApplyReport> + Send + 'static {
        let answer = self.send(|reply| Request::Resync { reply });
        async move { answer.await.unwrap_or_else(|_| stopped()) }
    }

    /// Starts or stops the kernel's connection-sync daemons so that exactly `want` runs
    /// (nothing for `None`). Idempotent: a daemon already running as wanted is kept.
    pub fn sync_daemon(
        &self,
        want: Option<SyncDaemon>,
    ) -> impl Future<Output = Result<DaemonReport, ReconcileError>> + Send + 'static {
        let answer = self.send(|reply| Request::SyncDaemon { want, reply });
        async move { answer.await.unwrap_or(Err(ReconcileError::Stopped)) }
    }

    /// Stops the reconciler: deletes every managed service the kernel has (one operation
    /// each; its destinations go with it) unless `remove_rules` is false, and stops the
    /// sync daemon asked for. Requests after it (from any clone) are answered `Stopped`.
    pub fn shutdown(
        &self,
        remove_rules: bool,
    ) -> impl Future<Output = ApplyReport> + Send + 'static {
        let answer = self.send(|reply| Request::Shutdown { remove_rules, reply });
        async move { answer.await.unwrap_or_else(|_| stopped()) }
    }

    /// The managed services the kernel has now, with their destinations and traffic
    /// counters (`ipvsadm -Ln --stats`): read at the reconciler's next turn, so it may
    /// wait for an apply in progress.
    pub fn stats(
        &self,
    ) -> impl Future<Output = Result<Vec<ListedService>, ReconcileError>> + Send + 'static {
        let answer = self.send(|reply| Request::Stats { reply });
        async move { answer.await.unwrap_or(Err(ReconcileError::Stopped)) }
    }

    /// What the kernel has of the managed services, as of the last request (for
    /// `in_ipvs` in the status). A snapshot: cheap, and never waits for the thread.
    pub fn applied(&self) -> Arc<Table> {
        self.applied.borrow().clone()
    }

    /// Netlink requests that carried table operations, since start.
    pub fn ops_total(&self) -> u64 {
        self.counters.ops.load(Relaxed)
    }

    /// Every netlink request sent, reads and sync daemon commands included.
    pub fn requests_total(&self) -> u64 {
        self.counters.requests.load(Relaxed)
    }

    /// How many desired tables were diffed: each a walk of the whole table.
    pub fn diffs(&self) -> u64 {
        self.counters.diffs.load(Relaxed)
    }

    /// How often the kernel table was read.
    pub fn kernel_reads(&self) -> u64 {
        self.counters.reads.load(Relaxed)
    }

    /// Every count since start, for metrics.
    pub fn counts(&self) -> Counts {
        let c = &self.counters;
        Counts {
            ops_applied: c.applied.load(Relaxed),
            errors: c.errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
            drift_repairs: c.drift.load(Relaxed),
            requests: c.requests.load(Relaxed),
            reads: c.reads.load(Relaxed),
            diffs: c.diffs.load(Relaxed),
        }
    }
}

/// The thread's loop: takes every queued request at once, so that queued applies are
/// coalesced into the newest one.
fn serve<K: Kernel>(mut worker: Worker<K>, queue: &mpsc::Receiver<Request>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter());
        if !handle_batch(&mut worker, batch) {
            return;
        }
    }
}

/// Handles requests in order, the applies as one at the place of the last; returns
/// false at shutdown.
fn handle_batch<K: Kernel>(worker: &mut Worker<K>, batch: Vec<Request>) -> bool {
    let counters = worker.counters();
    let last_apply = batch.iter().rposition(|r| matches!(r, Request::Apply { .. }));
    let mut managed = BTreeSet::new();
    let mut waiters = Vec::new();
    for (i, request) in batch.into_iter().enumerate() {
        match request {
            Request::Apply { desired, managed: m, reply } => {
                // Each coalesced request's managed keys were ours: they count.
                managed.extend(m);
                waiters.push(reply);
                if Some(i) == last_apply {
                    let report = worker.apply(desired, std::mem::take(&mut managed));
                    counters.record(&report);
                    for waiter in waiters.drain(..) {
                        let _ = waiter.send(report.clone());
                    }
                }
            }
            Request::Resync { reply } => {
                let report = worker.resync();
                counters.record(&report);
                let _ = reply.send(report);
            }
            Request::SyncDaemon { want, reply } => {
                let result = worker.sync_daemon(want);
                if let Err(e) = &result {
                    counters.error(e);
                }
                let _ = reply.send(result);
            }
            Request::Shutdown { remove_rules, reply } => {
                let report = worker.shutdown(remove_rules);
                counters.record(&report);
                let _ = reply.send(report);
                return false;
            }
            // A scrape that gave up while this waited behind an apply: no dump for nobody.
            Request::Stats { reply } if reply.is_closed() => {}
            Request::Stats { reply } => {
                let _ = reply.send(worker.stats());
            }
        }
    }
    true
}
