//! [`Scheduler::stalled`] on paused tokio time: a check that progresses never shows,
//! one whose probe never ends shows once past its budget and the grace.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::spec::{CheckKind, Target, Timing};

/// Passes at once, or (once `hang` is set) never returns; claims to bound itself,
/// so the scheduler's hung-probe timeout does not save it.
#[derive(Clone, Default)]
struct Hanging {
    hang: Arc<AtomicBool>,
}

impl Prober for Hanging {
    fn probe(&self, _spec: &CheckSpec) -> impl Future<Output = ProbeReport> + Send {
        let hang = self.hang.load(Ordering::SeqCst);
        async move {
            if hang {
                std::future::pending::<()>().await;
            }
            ProbeReport::up(Duration::from_millis(1))
        }
    }

    fn bounds_itself(&self, _spec: &CheckSpec) -> bool {
        true
    }
}

fn spec(port: u16) -> CheckSpec {
    let addr: SocketAddr = ([192, 0, 2, 10], port).into();
    CheckSpec {
        target: Target::new(addr),
        kind: CheckKind::Tcp,
        timing: Timing {
            delay_loop: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(2),
            retry: 0,
            delay_before_retry: Duration::from_secs(1),
            warmup: Some(Duration::ZERO),
            alpha: false,
        },
    }
}

const GRACE: Duration = Duration::from_secs(2);

#[tokio::test(start_paused = true)]
async fn progressing_checks_are_never_stalled() {
    let (mut scheduler, _events) = Scheduler::new(Hanging::default(), SchedulerConfig::default());
    scheduler.subscribe("a", spec(80));
    scheduler.subscribe("b", spec(81));
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(scheduler.stalled(Instant::now(), GRACE), None);
    }
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_never_ends_is_stalled_past_budget_and_grace() {
    let prober = Hanging::default();
    let (mut scheduler, _events) = Scheduler::new(prober.clone(), SchedulerConfig::default());
    scheduler.subscribe("a", spec(80));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    prober.hang.store(true, Ordering::SeqCst);
    // The next probe starts at 3 s; budget 2 s (connect_timeout) + 1 s margin.
    let hung_at = Instant::now() + Duration::from_millis(500);
    tokio::time::sleep_until(hung_at + Duration::from_secs(3) + GRACE).await;
    assert_eq!(scheduler.stalled(Instant::now(), GRACE), None, "exactly at the limit");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let stalled = scheduler.stalled(Instant::now(), GRACE).expect("stalled");
    assert_eq!(stalled.phase, "probing");
    assert_eq!(stalled.target, "192.0.2.10:80");
    assert_eq!(stalled.overdue, Duration::from_millis(10));
    // Unsubscribing ends the check: nothing stalled any more.
    scheduler.unsubscribe(&"a");
    assert_eq!(scheduler.stalled(Instant::now(), GRACE), None);
}

#[test]
fn a_task_asleep_past_its_deadline_is_stalled() {
    // A timer that never fires (a lost wakeup) is judged from the recorded phase.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (mut scheduler, _events) =
            Scheduler::new(Hanging::default(), SchedulerConfig::default());
        scheduler.subscribe("a", spec(80));
        let now = Instant::now();
        let running = scheduler.checks.values().next().unwrap();
        running.task.abort();
        running.shared.lock().phase = Phase::Waiting { until: now };
        assert_eq!(scheduler.stalled(now + GRACE, GRACE), None);
        let stalled = scheduler.stalled(now + GRACE * 2, GRACE).unwrap();
        assert_eq!((stalled.phase, stalled.overdue), ("waiting", GRACE));
    });
}
