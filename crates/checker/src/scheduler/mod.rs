//! Runs many checks on a tokio runtime.
//!
//! * Deadline-based: a check's regular probes sit on a fixed grid (first slot +
//!   k × delay_loop), so how long a probe takes never pushes later ones back.
//! * Spread: first slots are scattered over the warmup window (delay_loop by
//!   default) on a low-discrepancy sequence, so 10,000 checks do not all fire
//!   in the same millisecond.
//! * Capped: at most `max_concurrent` probes are in flight.
//! * Shared: subscribers whose specs are equal share one probe and one state
//!   machine; each hears every change.
//! * Watched: a probe that overruns its budget is a failure (`Failure::Hung`),
//!   never a silent stall; and a check that still makes no progress (a timer that
//!   never fires, a probe that never ends) shows in [`Scheduler::stalled`].

mod histogram;
mod probe_stats;
mod task;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_stalled;

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, Semaphore};
use tokio::task::AbortHandle;
use tokio::time::Instant;

pub use histogram::{Histogram, Snapshot as HistogramSnapshot};
pub use probe_stats::{ProbeStats, LATENCY_BOUNDS};

use crate::outcome::ProbeReport;
use crate::probe::Prober;
use crate::spec::CheckSpec;
use crate::state::{Change, CheckState};

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Probes in flight at once, at most.
    pub max_concurrent: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig { max_concurrent: 1024 }
    }
}

/// Identifies a running check (one per distinct spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckId(pub u64);

/// A change of one check, addressed to one of its subscribers.
#[derive(Debug, Clone)]
pub struct Event<K> {
    pub subscriber: K,
    pub check: CheckId,
    pub change: Change,
    /// The probe that caused it.
    pub report: ProbeReport,
    pub at: SystemTime,
}

/// Where a check stands, for status displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckStatus {
    pub check: CheckId,
    pub up: bool,
    /// False until the first verdict (the starting state comes from alpha).
    pub has_verdict: bool,
    pub weight: Option<u32>,
    pub last: Option<ProbeReport>,
    pub last_at: Option<SystemTime>,
    pub probes: u64,
    pub failed_probes: u64,
    /// Subscribers sharing this check.
    pub subscribers: usize,
    /// Latency and failures of every probe since the check started (a changed spec is
    /// another check, which starts from zero).
    pub stats: ProbeStats,
}

/// Counters across all checks.
#[derive(Debug, Default)]
pub struct SchedulerStats {
    /// How late probes started against their deadline (the scheduler's drift).
    pub lateness: Histogram,
    pub probes: AtomicU64,
    pub hung: AtomicU64,
}

impl SchedulerStats {
    pub fn probes(&self) -> u64 {
        self.probes.load(Ordering::Relaxed)
    }
}

/// The state a check shares between its task and the scheduler.
#[derive(Debug)]
struct Shared<K> {
    id: CheckId,
    spec: Arc<CheckSpec>,
    inner: Mutex<SharedInner<K>>,
}

#[derive(Debug)]
struct SharedInner<K> {
    subscribers: Vec<K>,
    /// The retry state machine; the task steps it under this lock.
    state: CheckState,
    last: Option<ProbeReport>,
    last_at: Option<SystemTime>,
    probes: u64,
    failed_probes: u64,
    stats: ProbeStats,
    /// Where the check's task is, to tell a stalled task from a waiting one.
    phase: Phase,
}

/// What a check's task is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Asleep until its next probe is due.
    Waiting { until: Instant },
    /// Waiting for a probe slot (`max_concurrent`): the slots' holders are watched.
    Queued,
    /// Probing since `since`, which must end within `budget`.
    Probing { since: Instant, budget: Duration },
}

/// A check whose task makes no progress: asleep past its deadline, or probing past
/// its budget, by more than the grace given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalledCheck {
    pub check: CheckId,
    /// `address:port` of the checked target.
    pub target: String,
    /// "waiting" or "probing".
    pub phase: &'static str,
    /// Past the deadline (grace included).
    pub overdue: Duration,
}

impl<K> Shared<K> {
    fn lock(&self) -> MutexGuard<'_, SharedInner<K>> {
        // A panic while holding the lock leaves only plain data behind.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn status(&self) -> CheckStatus {
        let inner = self.lock();
        CheckStatus {
            check: self.id,
            up: inner.state.is_up(),
            has_verdict: inner.state.has_verdict(),
            weight: inner.state.weight(),
            last: inner.last.clone(),
            last_at: inner.last_at,
            probes: inner.probes,
            failed_probes: inner.failed_probes,
            subscribers: inner.subscribers.len(),
            stats: inner.stats.clone(),
        }
    }
}

#[derive(Debug)]
struct Running<K> {
    shared: Arc<Shared<K>>,
    task: AbortHandle,
}

/// Subscribers are keyed by `K` (the director uses virtual server + real server).
#[derive(Debug)]
pub struct Scheduler<K, P> {
    prober: Arc<P>,
    limiter: Arc<Semaphore>,
    stats: Arc<SchedulerStats>,
    events: mpsc::UnboundedSender<Event<K>>,
    checks: HashMap<Arc<CheckSpec>, Running<K>>,
    subscriptions: HashMap<K, Arc<CheckSpec>>,
    next_id: u64,
    spread: f64,
}

/// Golden-ratio steps fill [0, 1) evenly whatever the number of checks.
const GOLDEN: f64 = 0.618_033_988_749_894_9;

impl<K, P> Scheduler<K, P>
where
    K: Clone + Eq + Hash + Send + 'static,
    P: Prober,
{
    /// Must be called inside a tokio runtime; checks run as tasks on it.
    ///
    /// Events are only changes (a few per server per incident), so the channel
    /// is unbounded; a consumer must keep reading it. Events already sent to a
    /// subscriber may arrive after it unsubscribed: match them by `check`.
    pub fn new(prober: P, config: SchedulerConfig) -> (Self, mpsc::UnboundedReceiver<Event<K>>) {
        let (events, receiver) = mpsc::unbounded_channel();
        let scheduler = Scheduler {
            prober: Arc::new(prober),
            limiter: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            stats: Arc::new(SchedulerStats::default()),
            events,
            checks: HashMap::new(),
            subscriptions: HashMap::new(),
            next_id: 1,
            spread: fastrand::f64(),
        };
        (scheduler, receiver)
    }

    /// Subscribes `key` to `spec`, replacing what it was subscribed to. Joining
    /// a check that already has a verdict delivers that verdict at once.
    ///
    /// A changed spec (another delay_loop, say) is another check: it starts
    /// afresh from its own `alpha`, without the old check's verdict or retry
    /// count. A reload that must not flap keeps specs equal where nothing changed.
    pub fn subscribe(&mut self, key: K, spec: CheckSpec) -> CheckId {
        if let Some(current) = self.subscriptions.get(&key) {
            if **current == spec {
                if let Some(running) = self.checks.get(current) {
                    return running.shared.id;
                }
            }
            self.unsubscribe(&key);
        }
        let spec = match self.checks.get_key_value(&spec) {
            Some((shared_spec, _)) => shared_spec.clone(),
            None => {
                let spec = Arc::new(spec);
                let running = self.start(spec.clone());
                self.checks.insert(spec.clone(), running);
                spec
            }
        };
        let shared = &self.checks[&spec].shared;
        let mut inner = shared.lock();
        inner.subscribers.push(key.clone());
        if let (true, Some(report), Some(at)) =
            (inner.state.has_verdict(), &inner.last, inner.last_at)
        {
            let change = if inner.state.is_up() {
                Change::Up { weight: inner.state.weight(), first: true }
            } else {
                Change::Down { first: true }
            };
            let event = Event {
                subscriber: key.clone(),
                check: shared.id,
                change,
                report: report.clone(),
                at,
            };
            let _ = self.events.send(event);
        }
        drop(inner);
        let id = shared.id;
        self.subscriptions.insert(key, spec);
        id
    }

    /// Drops `key`'s subscription; the check stops when nobody is left.
    pub fn unsubscribe(&mut self, key: &K) {
        let Some(spec) = self.subscriptions.remove(key) else { return };
        let Some(running) = self.checks.get(&spec) else { return };
        let remaining = {
            let mut inner = running.shared.lock();
            inner.subscribers.retain(|k| k != key);
            inner.subscribers.len()
        };
        if remaining == 0 {
            if let Some(running) = self.checks.remove(&spec) {
                running.task.abort();
            }
        }
    }

    pub fn status(&self, key: &K) -> Option<CheckStatus> {
        let spec = self.subscriptions.get(key)?;
        Some(self.checks.get(spec)?.shared.status())
    }

    /// Distinct checks running (after sharing).
    pub fn check_count(&self) -> usize {
        self.checks.len()
    }

    pub fn subscriber_count(&self) -> usize {
        self.subscriptions.len()
    }

    pub fn stats(&self) -> Arc<SchedulerStats> {
        self.stats.clone()
    }

    /// The most overdue check whose task is stuck: asleep more than `grace` past its
    /// deadline (its timer did not fire), or probing more than `grace` past its
    /// budget (the probe neither ended nor timed out). `None` while every check
    /// progresses. A daemon's watchdog asks this: a hung check must stop the pings.
    pub fn stalled(&self, now: Instant, grace: Duration) -> Option<StalledCheck> {
        let mut worst: Option<StalledCheck> = None;
        for running in self.checks.values() {
            let deadline = match running.shared.lock().phase {
                Phase::Waiting { until } => ("waiting", until),
                Phase::Probing { since, budget } => ("probing", since + budget),
                Phase::Queued => continue,
            };
            let (phase, due) = deadline;
            let overdue = now.saturating_duration_since(due + grace);
            if overdue.is_zero() || worst.as_ref().is_some_and(|w| w.overdue >= overdue) {
                continue;
            }
            let target = running.shared.spec.target.connect.to_string();
            worst = Some(StalledCheck { check: running.shared.id, target, phase, overdue });
        }
        worst
    }

    fn start(&mut self, spec: Arc<CheckSpec>) -> Running<K> {
        let id = CheckId(self.next_id);
        self.next_id += 1;
        let shared = Arc::new(Shared {
            id,
            spec: spec.clone(),
            inner: Mutex::new(SharedInner {
                subscribers: Vec::new(),
                state: CheckState::new(&spec.timing),
                last: None,
                last_at: None,
                probes: 0,
                failed_probes: 0,
                stats: ProbeStats::default(),
                phase: Phase::Queued,
            }),
        });
        let first_delay = self.first_delay(&spec);
        let task = tokio::spawn(task::run(task::CheckTask {
            shared: shared.clone(),
            prober: self.prober.clone(),
            limiter: self.limiter.clone(),
            stats: self.stats.clone(),
            events: self.events.clone(),
            first_delay,
        }));
        Running { shared, task: task.abort_handle() }
    }

    fn first_delay(&mut self, spec: &CheckSpec) -> Duration {
        let window = spec.timing.warmup.unwrap_or(spec.timing.delay_loop);
        self.spread = (self.spread + GOLDEN).fract();
        // Whole milliseconds: tokio's timers round a deadline up to the next one, which
        // would put a delay just under the window on its end, outside it.
        let delay = window.mul_f64(self.spread);
        Duration::from_millis(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX))
    }
}

impl<K, P> Drop for Scheduler<K, P> {
    fn drop(&mut self) {
        for running in self.checks.values() {
            running.task.abort();
        }
    }
}
