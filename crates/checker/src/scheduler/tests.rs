//! The scheduler on paused tokio time with a scripted prober: no sleeps, no sockets.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::outcome::{Failure, Outcome};
use crate::spec::{CheckKind, Target, Timing};

/// Answers from a script per target port (then passes forever), after `latency`;
/// records when each probe started and how many ran at once.
#[derive(Clone, Default)]
struct Scripted {
    inner: Arc<ScriptedInner>,
}

#[derive(Default)]
struct ScriptedInner {
    latency: Mutex<Duration>,
    script: Mutex<HashMap<u16, VecDeque<Option<bool>>>>,
    starts: Mutex<Vec<(u16, Instant)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Scripted {
    fn with_latency(latency: Duration) -> Self {
        let s = Scripted::default();
        *s.inner.latency.lock().unwrap() = latency;
        s
    }

    /// `Some(true)` pass, `Some(false)` fail, `None` hang forever.
    fn script(&self, port: u16, results: &[Option<bool>]) {
        self.inner.script.lock().unwrap().insert(port, results.iter().copied().collect());
    }

    fn starts(&self, port: u16) -> Vec<Instant> {
        let starts = self.inner.starts.lock().unwrap();
        starts.iter().filter(|(p, _)| *p == port).map(|(_, t)| *t).collect()
    }
}

impl Prober for Scripted {
    fn probe(&self, spec: &CheckSpec) -> impl Future<Output = ProbeReport> + Send {
        let inner = self.inner.clone();
        let port = spec.target.connect.port();
        async move {
            inner.starts.lock().unwrap().push((port, Instant::now()));
            let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let next = inner.script.lock().unwrap().get_mut(&port).and_then(|q| q.pop_front());
            let latency = *inner.latency.lock().unwrap();
            let result = match next {
                Some(None) => std::future::pending().await,
                Some(Some(false)) => Some(Failure::Refused),
                _ => None,
            };
            tokio::time::sleep(latency).await;
            inner.in_flight.fetch_sub(1, Ordering::SeqCst);
            match result {
                Some(failure) => ProbeReport::down(failure, latency),
                None => ProbeReport::up(latency),
            }
        }
    }
}

fn spec(port: u16, delay_loop_ms: u64, retry: u32, warmup: Option<Duration>) -> CheckSpec {
    let addr: SocketAddr = ([192, 0, 2, 10], port).into();
    CheckSpec {
        target: Target::new(addr),
        kind: CheckKind::Tcp,
        timing: Timing {
            delay_loop: Duration::from_millis(delay_loop_ms),
            connect_timeout: Duration::from_secs(3),
            retry,
            delay_before_retry: Duration::from_millis(500),
            warmup,
            alpha: false,
        },
    }
}

async fn run_for(duration: Duration) {
    tokio::time::sleep(duration).await;
}

#[tokio::test(start_paused = true)]
async fn probes_stay_on_their_deadlines_whatever_they_take() {
    let prober = Scripted::with_latency(Duration::from_millis(300));
    let (mut scheduler, _events) = Scheduler::new(prober.clone(), SchedulerConfig::default());
    let t0 = Instant::now();
    scheduler.subscribe("a", spec(80, 1000, 1, Some(Duration::ZERO)));
    run_for(Duration::from_millis(10_100)).await;
    let starts = prober.starts(80);
    assert_eq!(starts.len(), 11, "one probe per second, the first at once");
    for (k, start) in starts.iter().enumerate() {
        // keepalived would start each one 300 ms later than the last.
        assert_eq!(*start - t0, Duration::from_secs(k as u64), "probe {k}");
    }
    assert_eq!(scheduler.stats().lateness.max(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn first_probes_spread_evenly_over_the_interval() {
    let prober = Scripted::with_latency(Duration::from_millis(1));
    let (mut scheduler, _events) = Scheduler::new(prober.clone(), SchedulerConfig::default());
    let t0 = Instant::now();
    for port in 0..1000 {
        scheduler.subscribe(port, spec(port, 1000, 1, None));
    }
    run_for(Duration::from_millis(1001)).await;
    // The first start of each check (tokio timers round up to the millisecond).
    let mut first = HashMap::new();
    for (port, t) in prober.inner.starts.lock().unwrap().iter() {
        first.entry(*port).or_insert(*t - t0);
    }
    assert_eq!(first.len(), 1000, "every check probed within its first interval");
    let mut per_tenth = [0usize; 10];
    for offset in first.values() {
        per_tenth[(offset.as_millis().min(999) / 100) as usize] += 1;
    }
    for (tenth, n) in per_tenth.iter().enumerate() {
        assert!((90..=110).contains(n), "{n} first probes in tenth {tenth}: {per_tenth:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn warmup_bounds_the_first_delay() {
    let prober = Scripted::with_latency(Duration::ZERO);
    let (mut scheduler, _events) = Scheduler::new(prober.clone(), SchedulerConfig::default());
    let t0 = Instant::now();
    for port in 0..50 {
        scheduler.subscribe(port, spec(port, 60_000, 1, Some(Duration::from_secs(2))));
    }
    run_for(Duration::from_secs(3)).await;
    let starts = prober.inner.starts.lock().unwrap().clone();
    assert_eq!(starts.len(), 50);
    assert!(starts.iter().all(|(_, t)| *t - t0 < Duration::from_secs(2)));
}

#[tokio::test(start_paused = true)]
async fn retries_then_down_with_keepalived_timing() {
    let prober = Scripted::with_latency(Duration::from_millis(100));
    prober.script(80, &[Some(true), Some(false), Some(false), Some(false), Some(true)]);
    let (mut scheduler, mut events) = Scheduler::new(prober.clone(), SchedulerConfig::default());
    let t0 = Instant::now();
    scheduler.subscribe("rs", spec(80, 5000, 2, Some(Duration::ZERO)));

    let up = events.recv().await.unwrap();
    assert_eq!(up.change, Change::Up { weight: None, first: true });
    let down = events.recv().await.unwrap();
    assert_eq!(down.change, Change::Down { first: false });
    assert_eq!(down.report.failure(), Some(&Failure::Refused));
    // Pass at 0; fail at 5 s, retries 500 ms after each failure's verdict: DOWN
    // on the third failure.
    let offsets: Vec<_> = prober.starts(80).iter().map(|t| (*t - t0).as_millis()).collect();
    assert_eq!(offsets, [0, 5000, 5600, 6200]);
    assert_eq!(Instant::now() - t0, Duration::from_millis(6300));
    let back = events.recv().await.unwrap();
    assert_eq!(back.change, Change::Up { weight: None, first: false });
    assert_eq!((Instant::now() - t0).as_millis(), 10_100, "next regular slot, not 6.3 s + 5 s");
    let status = scheduler.status(&"rs").unwrap();
    assert_eq!((status.up, status.probes, status.failed_probes), (true, 5, 3));
    // Every probe counted, not only the changes: 100 ms each, 3 refused.
    assert_eq!(status.stats.probes, 5);
    assert_eq!(status.stats.latency_sum, Duration::from_millis(500));
    assert_eq!(status.stats.buckets[7], 5, "the 100 ms bucket");
    assert_eq!(status.stats.failures.get("refused"), Some(&3));
}

#[tokio::test(start_paused = true)]
async fn identical_checks_share_one_probe() {
    let prober = Scripted::with_latency(Duration::from_millis(5));
    prober.script(80, &[Some(false)]);
    let (mut scheduler, mut events) = Scheduler::new(prober.clone(), SchedulerConfig::default());
    let a = scheduler.subscribe("vs1/rs", spec(80, 1000, 0, Some(Duration::ZERO)));
    let b = scheduler.subscribe("vs2/rs", spec(80, 1000, 0, Some(Duration::ZERO)));
    let other = scheduler.subscribe("vs3/rs", spec(80, 2000, 0, Some(Duration::ZERO)));
    assert_eq!(a, b);
    assert_ne!(a, other, "different timing is a different check");
    assert_eq!((scheduler.check_count(), scheduler.subscriber_count()), (2, 3));

    run_for(Duration::from_millis(4500)).await;
    // 5 probes for the shared 1 s check + 3 for the 2 s one.
    assert_eq!(prober.starts(80).len(), 8);
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push((event.subscriber, event.change));
    }
    seen.sort_by_key(|(s, _)| *s);
    // The shared check (started first) drew the scripted failure; both of its
    // subscribers hear it and the recovery, the other check only its pass.
    let down = Change::Down { first: true };
    let up = |first| Change::Up { weight: None, first };
    let expected =
        [("vs1/rs", down), ("vs1/rs", up(false)), ("vs2/rs", down), ("vs2/rs", up(false))];
    assert_eq!(seen[..4], expected);
    assert_eq!(seen[4..], [("vs3/rs", up(true))]);

    // A late subscriber hears the current verdict at once.
    scheduler.subscribe("vs4/rs", spec(80, 1000, 0, Some(Duration::ZERO)));
    let late = events.try_recv().unwrap();
    assert_eq!((late.subscriber, late.check), ("vs4/rs", a));

    for key in ["vs1/rs", "vs2/rs", "vs4/rs"] {
        scheduler.unsubscribe(&key);
    }
    assert_eq!(scheduler.check_count(), 1);
    let before = prober.starts(80).len();
    run_for(Duration::from_secs(4)).await;
    assert_eq!(prober.starts(80).len(), before + 2, "only the 2 s check still probes");
}

#[tokio::test(start_paused = true)]
async fn resubscribing_to_another_spec_moves_the_subscriber() {
    let prober = Scripted::with_latency(Duration::ZERO);
    let (mut scheduler, _events) = Scheduler::new(prober.clone(), SchedulerConfig::default());
    let a = scheduler.subscribe("rs", spec(80, 1000, 0, None));
    assert_eq!(scheduler.subscribe("rs", spec(80, 1000, 0, None)), a, "same spec: no restart");
    let b = scheduler.subscribe("rs", spec(81, 1000, 0, None));
    assert_ne!(a, b);
    assert_eq!((scheduler.check_count(), scheduler.subscriber_count()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_capped() {
    let prober = Scripted::with_latency(Duration::from_millis(400));
    let config = SchedulerConfig { max_concurrent: 3 };
    let (mut scheduler, _events) = Scheduler::new(prober.clone(), config);
    for port in 0..10 {
        scheduler.subscribe(port, spec(port, 10_000, 0, Some(Duration::ZERO)));
    }
    run_for(Duration::from_millis(1700)).await;
    assert_eq!(prober.inner.max_in_flight.load(Ordering::SeqCst), 3);
    assert_eq!(prober.inner.starts.lock().unwrap().len(), 10, "all ran, three at a time");
    // Waiting for a permit counts as lateness: the last batch started 1.2 s late.
    assert_eq!(scheduler.stats().lateness.max(), Duration::from_millis(1200));
}

#[tokio::test(start_paused = true)]
async fn a_hung_probe_fails_instead_of_stalling_the_check() {
    let prober = Scripted::with_latency(Duration::ZERO);
    prober.script(80, &[Some(true), None]);
    let (mut scheduler, mut events) = Scheduler::new(prober.clone(), SchedulerConfig::default());
    scheduler.subscribe("rs", spec(80, 1000, 0, Some(Duration::ZERO)));
    assert_eq!(events.recv().await.unwrap().change, Change::Up { weight: None, first: true });
    let down = events.recv().await.unwrap();
    // Budget: connect_timeout 3 s + 1 s margin, from the probe at 1 s.
    assert_eq!(down.report.failure(), Some(&Failure::Hung(Duration::from_secs(4))));
    assert_eq!(scheduler.stats().hung.load(Ordering::Relaxed), 1);
    assert_eq!(scheduler.status(&"rs").unwrap().stats.failures.get("hung"), Some(&1));
    assert!(matches!(events.recv().await.unwrap().change, Change::Up { first: false, .. }));
}

#[tokio::test(start_paused = true)]
async fn alpha_servers_start_down_until_a_pass() {
    let prober = Scripted::with_latency(Duration::ZERO);
    let (mut scheduler, mut events) = Scheduler::new(prober, SchedulerConfig::default());
    let mut alpha = spec(80, 1000, 0, Some(Duration::from_secs(1)));
    alpha.timing.alpha = true;
    scheduler.subscribe("rs", alpha);
    let status = scheduler.status(&"rs").unwrap();
    assert!(!status.up && !status.has_verdict);
    assert!(matches!(events.recv().await.unwrap().change, Change::Up { first: true, .. }));
    assert!(matches!(scheduler.status(&"rs").unwrap().last.unwrap().outcome, Outcome::Up { .. }));
}
