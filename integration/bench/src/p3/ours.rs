//! `p3-run`: our checker, measured from inside its own process.
//!
//! Subscribes one TCP check per target to a `checker::Scheduler` with the real
//! `NetProber`, lets the first interval pass (the spread first probes), then
//! measures a window: CPU of this process (every thread), memory, and the lateness
//! of the probes that started in the window. Prints `window start` and `window end`
//! as they happen (the parent reads the listeners' count then) and a `result` line.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checker::scheduler::{HistogramSnapshot, SchedulerStats};
use checker::{Change, CheckKind, CheckSpec, NetProber, Scheduler, SchedulerConfig, Target};

use super::{sys, Args, Flavour, Measured};

pub fn main(args: impl Iterator<Item = String>) -> Result<(), String> {
    let a = Args::from_args(args)?;
    let [flavour] = a.flavours[..] else { return Err("p3-run takes one --runtime".into()) };
    sys::raise_nofile(u64::from(a.layout.checks) + 4096)?;
    let runtime = match flavour {
        Flavour::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavour::MultiThread => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build()
    .map_err(|e| format!("runtime: {e}"))?;
    let measured = runtime.block_on(run(&a))?;
    println!("result {}", measured.to_line());
    Ok(())
}

/// keepalived's TCP_CHECK with delay_loop 1, connect_timeout 1, retry 1; no warmup,
/// so first probes spread over the first second.
fn spec(addr: SocketAddr) -> CheckSpec {
    let mut spec = CheckSpec::new(Target::new(addr), CheckKind::Tcp);
    spec.timing.delay_loop = Duration::from_secs(1);
    spec.timing.connect_timeout = Duration::from_secs(1);
    spec.timing.retry = 1;
    spec.timing.delay_before_retry = Duration::from_secs(1);
    spec.timing.warmup = None;
    spec
}

struct Sample {
    at: Instant,
    cpu: (Duration, Duration),
    probes: u64,
    lateness: HistogramSnapshot,
}

impl Sample {
    fn take(stats: &SchedulerStats) -> Result<Sample, String> {
        Ok(Sample {
            at: Instant::now(),
            cpu: sys::cpu_time_self()?,
            probes: stats.probes(),
            lateness: stats.lateness.snapshot(),
        })
    }
}

async fn run(a: &Args) -> Result<Measured, String> {
    let (mut scheduler, mut events) = Scheduler::new(NetProber, SchedulerConfig::default());
    let downs = Arc::new(AtomicU64::new(0));
    let counter = downs.clone();
    // The director would consume these; here they must be drained, and any DOWN counted.
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let Change::Down { .. } = event.change {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let targets = a.layout.targets();
    for (key, addr) in targets.iter().enumerate() {
        scheduler.subscribe(key, spec(*addr));
    }
    if scheduler.check_count() != targets.len() {
        return Err(format!("{} checks running, want {}", scheduler.check_count(), targets.len()));
    }
    let stats = scheduler.stats();
    tokio::time::sleep(a.warmup).await;
    let before = Sample::take(&stats)?;
    say("window start");
    tokio::time::sleep(a.seconds).await;
    let after = Sample::take(&stats)?;
    say("window end");
    let (rss_kib, peak_kib) = sys::memory_kib(None)?;

    let (mut not_up, mut failed) = (0, 0);
    for key in 0..targets.len() {
        let status = scheduler.status(&key).ok_or(format!("check {key} vanished"))?;
        not_up += usize::from(!(status.up && status.has_verdict));
        failed += status.failed_probes;
    }
    let window = after.lateness.since(&before.lateness);
    Ok(Measured {
        wall: after.at - before.at,
        cpu: (after.cpu.0 + after.cpu.1) - (before.cpu.0 + before.cpu.1),
        cpu_system: after.cpu.1 - before.cpu.1,
        rss_kib,
        peak_kib,
        probes: after.probes - before.probes,
        lateness: Some([window.quantile(0.5), window.quantile(0.99), window.max()]),
        accepted: 0,
        listener_cpu: Duration::ZERO,
        // Hung probes are failed probes too; a DOWN event needs failures first.
        failures: failed,
        not_up: not_up as u64 + downs.load(Ordering::Relaxed),
    })
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
