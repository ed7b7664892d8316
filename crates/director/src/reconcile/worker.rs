//! The reconciler's state, on its own thread: what it owns, what it last applied, and
//! the blocking kernel calls.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use ipvs::{ListedService, Op, ServiceKey, SyncDaemon, Table};
use tokio::sync::watch;

use super::kernel::{daemon_matches, read_services, read_stats, Kernel};
use super::report::{is_connection_error, ApplyReport, DaemonReport, ReconcileError};

/// Cumulative counts, readable from any thread.
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Netlink requests carrying table operations.
    pub ops: AtomicU64,
    /// Every netlink request (reads and sync daemon commands too).
    pub requests: AtomicU64,
    /// Kernel table reads.
    pub reads: AtomicU64,
    /// Desired tables diffed (coalesced requests count once).
    pub diffs: AtomicU64,
    /// Table operations the kernel confirmed.
    pub applied: AtomicU64,
    /// Changes made behind the director's back that a resync undid.
    pub drift: AtomicU64,
    /// Failures of applies, resyncs, sync daemon commands and shutdown, by
    /// [`ReconcileError::kind`].
    pub errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl Counters {
    /// Counts what one apply, resync or shutdown did.
    pub fn record(&self, report: &ApplyReport) {
        self.applied.fetch_add(report.ops.len() as u64, Relaxed);
        self.drift.fetch_add(report.drift.len() as u64, Relaxed);
        for failure in &report.failed {
            self.error(failure);
        }
    }

    pub fn error(&self, error: &ReconcileError) {
        let mut errors = self.errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *errors.entry(error.kind()).or_default() += 1;
    }
}

pub(super) struct Worker<K> {
    kernel: K,
    /// The socket failed: reconnect before the next kernel call.
    broken: bool,
    /// The services this director may change: the managed set of the last apply, plus
    /// any service it had and has not yet seen deleted.
    owned: BTreeSet<ServiceKey>,
    /// Managed keys of the last apply (with its desired services' keys).
    managed: BTreeSet<ServiceKey>,
    desired: Option<Arc<Table>>,
    /// What the kernel has of the owned services, as far as known; `None` = read first.
    cache: Option<Arc<Table>>,
    /// The sync daemon asked for last (stopped at shutdown).
    daemon: Option<SyncDaemon>,
    snapshot: watch::Sender<Arc<Table>>,
    counters: Arc<Counters>,
    /// Netlink requests of the request being handled.
    tally: u64,
}

fn keys(table: &Table) -> impl Iterator<Item = ServiceKey> + '_ {
    table.services.iter().map(|s| s.service.key)
}

impl<K: Kernel> Worker<K> {
    pub fn new(kernel: K, snapshot: watch::Sender<Arc<Table>>, counters: Arc<Counters>) -> Self {
        Worker {
            kernel,
            broken: false,
            owned: BTreeSet::new(),
            managed: BTreeSet::new(),
            desired: None,
            cache: None,
            daemon: None,
            snapshot,
            counters,
            tally: 0,
        }
    }

    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Runs one kernel call, counting the netlink requests it sent.
    fn call<T>(&mut self, table_ops: bool, f: impl FnOnce(&mut K) -> T) -> T {
        let before = self.kernel.requests_sent();
        let out = f(&mut self.kernel);
        let sent = self.kernel.requests_sent().saturating_sub(before);
        self.tally += sent;
        self.counters.requests.fetch_add(sent, Relaxed);
        if table_ops {
            self.counters.ops.fetch_add(sent, Relaxed);
        }
        out
    }

    fn note_error(&mut self, e: &ipvs::Error) {
        if is_connection_error(e) {
            self.broken = true;
        }
    }

    /// Reconnects a failed socket; a new connection knows nothing, so the table is read
    /// again before the next change.
    fn ensure_connected(&mut self) -> Result<(), ReconcileError> {
        if self.broken {
            self.cache = None;
            self.kernel.reconnect().map_err(|e| ReconcileError::Connect(Arc::new(e)))?;
            self.broken = false;
        }
        Ok(())
    }

    fn read(&mut self, keys: &BTreeSet<ServiceKey>, report: &mut ApplyReport) -> Option<Table> {
        report.read_kernel = true;
        self.counters.reads.fetch_add(1, Relaxed);
        match self.call(false, |k| read_services(k, keys)) {
            Ok(table) => Some(table),
            Err(e) => {
                self.note_error(&e);
                report.failed.push(ReconcileError::Read(Arc::new(e)));
                None
            }
        }
    }

    fn begin(&mut self) -> ApplyReport {
        self.tally = 0;
        ApplyReport::default()
    }

    fn finish(&mut self, mut report: ApplyReport) -> ApplyReport {
        if let Some(cache) = &self.cache {
            // Keys that left the managed set are owned until seen deleted.
            self.owned = self.managed.iter().copied().chain(keys(cache)).collect();
            self.snapshot.send_replace(cache.clone());
        }
        report.requests = self.tally;
        report
    }

    /// Makes the owned services of the kernel equal `desired`. See [`super::Reconciler::apply`].
    pub fn apply(&mut self, desired: Table, managed: BTreeSet<ServiceKey>) -> ApplyReport {
        self.counters.diffs.fetch_add(1, Relaxed);
        let mut report = self.begin();
        let desired = Arc::new(desired);
        self.managed = managed;
        self.managed.extend(keys(&desired));
        let new_keys: BTreeSet<ServiceKey> =
            self.managed.difference(&self.owned).copied().collect();
        self.owned.extend(new_keys.iter().copied());
        self.desired = Some(desired.clone());
        if let Err(e) = self.ensure_connected() {
            report.failed.push(e);
            return self.finish(report);
        }
        if self.cache.is_none() {
            let owned = self.owned.clone();
            match self.read(&owned, &mut report) {
                Some(table) => self.cache = Some(Arc::new(table)),
                None => return self.finish(report),
            }
        } else if !new_keys.is_empty() {
            // Newly managed services may be in the kernel already: adopt them as they are.
            let Some(found) = self.read(&new_keys, &mut report) else {
                return self.finish(report);
            };
            if let Some(cache) = &mut self.cache {
                Arc::make_mut(cache).services.extend(found.services);
            }
        }
        let ops = match &self.cache {
            Some(cache) => ipvs::diff::diff(&desired, cache),
            None => Vec::new(),
        };
        self.execute(&desired, ops, &mut report);
        self.finish(report)
    }

    /// Sends `ops` (which turn the cache into `desired`) and keeps the cache honest.
    fn execute(&mut self, desired: &Arc<Table>, ops: Vec<Op>, report: &mut ApplyReport) {
        if ops.is_empty() {
            self.cache = Some(desired.clone());
            return;
        }
        let result = self.call(true, |k| k.apply(&ops));
        let failed = result.is_err();
        if report.record_batch(ops, result) {
            self.broken = true;
        }
        if !failed {
            self.cache = Some(desired.clone());
            return;
        }
        // Part of it was refused: what the kernel has is what it says it has.
        self.cache = None;
        if !self.broken {
            let owned = self.owned.clone();
            self.cache = self.read(&owned, report).map(Arc::new);
        }
    }

    /// Reads the owned services back from the kernel and repairs what differs.
    pub fn resync(&mut self) -> ApplyReport {
        let mut report = self.begin();
        let Some(desired) = self.desired.clone() else {
            return self.finish(report); // nothing applied yet: nothing to compare with
        };
        if let Err(e) = self.ensure_connected() {
            report.failed.push(e);
            return self.finish(report);
        }
        let owned = self.owned.clone();
        let Some(current) = self.read(&owned, &mut report) else {
            return self.finish(report);
        };
        if let Some(cache) = &self.cache {
            report.drift = ipvs::diff::diff(cache, &current);
        }
        let ops = ipvs::diff::diff(&desired, &current);
        self.cache = Some(Arc::new(current));
        self.execute(&desired, ops, &mut report);
        self.finish(report)
    }

    /// The owned services the kernel has, with their destinations and counters.
    pub fn stats(&mut self) -> Result<Vec<ListedService>, ReconcileError> {
        self.ensure_connected()?;
        let owned = self.owned.clone();
        self.call(false, |k| read_stats(k, &owned)).map_err(|e| {
            self.note_error(&e);
            ReconcileError::Read(Arc::new(e))
        })
    }

    /// Starts and stops sync daemons until exactly `want` runs.
    pub fn sync_daemon(
        &mut self,
        want: Option<SyncDaemon>,
    ) -> Result<DaemonReport, ReconcileError> {
        self.tally = 0;
        self.daemon.clone_from(&want);
        self.ensure_connected()?;
        let running = self.call(false, |k| k.daemons()).map_err(|e| self.daemon_error(e))?;
        let mut report = DaemonReport::default();
        let mut have = false;
        for daemon in running {
            if want.as_ref().is_some_and(|w| daemon_matches(w, &daemon)) {
                have = true;
                continue;
            }
            self.call(false, |k| k.stop_daemon(daemon.state)).map_err(|e| self.daemon_error(e))?;
            report.stopped.push(daemon);
        }
        if let (Some(want), false) = (want, have) {
            self.call(false, |k| k.start_daemon(&want)).map_err(|e| self.daemon_error(e))?;
            report.started = Some(want);
        }
        Ok(report)
    }

    fn daemon_error(&mut self, e: ipvs::Error) -> ReconcileError {
        self.note_error(&e);
        ReconcileError::SyncDaemon(Arc::new(e))
    }

    /// Deletes every owned service the kernel has (unless `remove_rules` is false) and
    /// stops the sync daemon this director asked for.
    pub fn shutdown(&mut self, remove_rules: bool) -> ApplyReport {
        let mut report = self.begin();
        if let Err(e) = self.ensure_connected() {
            report.failed.push(e);
            return self.finish(report);
        }
        if remove_rules {
            // One dump instead of trusting the cache: a service deleted by hand is not
            // deleted again (which the kernel would refuse).
            match self.call(false, |k| k.services()) {
                Ok(services) => {
                    let ops: Vec<Op> = services
                        .into_iter()
                        .filter(|s| self.owned.contains(&s.key))
                        .map(|s| Op::DeleteService(s.key))
                        .collect();
                    if !ops.is_empty() {
                        let result = self.call(true, |k| k.apply(&ops));
                        report.record_batch(ops, result);
                    }
                    if report.is_ok() {
                        self.snapshot.send_replace(Arc::new(Table::default()));
                    }
                }
                Err(e) => report.failed.push(ReconcileError::Read(Arc::new(e))),
            }
        }
        if let Some(want) = self.daemon.take() {
            match self.call(false, |k| k.daemons()) {
                Ok(running) if running.iter().any(|d| d.state == want.state) => {
                    if let Err(e) = self.call(false, |k| k.stop_daemon(want.state)) {
                        report.failed.push(ReconcileError::SyncDaemon(Arc::new(e)));
                    }
                }
                Ok(_) => {}
                Err(e) => report.failed.push(ReconcileError::SyncDaemon(Arc::new(e))),
            }
        }
        report.requests = self.tally;
        report
    }
}
