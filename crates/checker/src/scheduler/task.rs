//! One check's loop: wait for the deadline, probe under the cap, step the
//! state machine, tell the subscribers.

use std::hash::Hash;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

use super::{Event, Phase, SchedulerStats, Shared};
use crate::outcome::{Failure, ProbeReport};
use crate::probe::Prober;
use crate::state::Next;

/// Extra time past a probe's own timeouts before it counts as hung.
const HUNG_MARGIN: Duration = Duration::from_secs(1);

pub(super) struct CheckTask<K, P> {
    pub shared: Arc<Shared<K>>,
    pub prober: Arc<P>,
    pub limiter: Arc<Semaphore>,
    pub stats: Arc<SchedulerStats>,
    pub events: mpsc::UnboundedSender<Event<K>>,
    pub first_delay: Duration,
}

pub(super) async fn run<K, P>(task: CheckTask<K, P>)
where
    K: Clone + Eq + Hash + Send + 'static,
    P: Prober,
{
    let spec = task.shared.spec.clone();
    let period = spec.timing.delay_loop.max(Duration::from_millis(1));
    let budget = spec.probe_budget() + HUNG_MARGIN;
    let watchdog = !task.prober.bounds_itself(&spec);
    let grid_start = Instant::now() + task.first_delay;
    let mut due = grid_start;
    loop {
        task.shared.lock().phase = Phase::Waiting { until: due };
        tokio::time::sleep_until(due).await;
        task.shared.lock().phase = Phase::Queued;
        let Ok(permit) = task.limiter.acquire().await else { return };
        let started = Instant::now();
        task.shared.lock().phase = Phase::Probing { since: started, budget };
        task.stats.lateness.record(started.saturating_duration_since(due));
        task.stats.probes.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "fault-injection")]
        crate::fault::maybe_hang().await;
        let report = if watchdog {
            match tokio::time::timeout(budget, task.prober.probe(&spec)).await {
                Ok(report) => report,
                Err(_) => {
                    task.stats.hung.fetch_add(1, Ordering::Relaxed);
                    ProbeReport::down(Failure::Hung(budget), budget)
                }
            }
        } else {
            task.prober.probe(&spec).await
        };
        drop(permit);
        let next = step_and_publish(&task, report);
        let now = Instant::now();
        due = match next {
            Next::Retry(delay) => now + delay,
            Next::Loop => next_slot(grid_start, period, now),
        };
    }
}

/// The first grid slot strictly after `now`.
fn next_slot(grid_start: Instant, period: Duration, now: Instant) -> Instant {
    if now < grid_start {
        return grid_start;
    }
    let periods = (now - grid_start).as_nanos() / period.as_nanos() + 1;
    grid_start + period * u32::try_from(periods).unwrap_or(u32::MAX)
}

/// Steps the state machine with `report`, records it, tells the subscribers of
/// a change, and says when to probe next.
fn step_and_publish<K: Clone, P>(task: &CheckTask<K, P>, report: ProbeReport) -> Next {
    let at = SystemTime::now();
    let mut inner = task.shared.lock();
    let step = inner.state.on_result(&report.outcome);
    inner.probes += 1;
    inner.failed_probes += u64::from(!report.is_up());
    inner.stats.record(&report);
    inner.last_at = Some(at);
    if let Some(change) = step.change {
        for subscriber in &inner.subscribers {
            let event = Event {
                subscriber: subscriber.clone(),
                check: task.shared.id,
                change,
                report: report.clone(),
                at,
            };
            let _ = task.events.send(event);
        }
    }
    inner.last = Some(report);
    step.next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_slot_stays_on_the_grid() {
        let start = Instant::now();
        let s = Duration::from_secs(1);
        assert_eq!(next_slot(start, s, start), start + s);
        assert_eq!(next_slot(start, s, start + Duration::from_millis(300)), start + s);
        assert_eq!(next_slot(start, s, start + Duration::from_millis(2500)), start + s * 3);
        assert_eq!(next_slot(start + s, s, start), start + s);
    }
}
