//! The daemon's side of supervision ([`crate::supervise`]): when it counts as
//! started, the one log line and the notifications around a reload, `STATUS=`
//! updates, and the heartbeats of the virtual-server task and its checks.

use std::sync::Arc;
use std::time::Duration;

use checker::{CheckId, Prober, Scheduler};
use tokio::sync::{mpsc, oneshot, watch};
use vrrp::driver::DriverStatus;

use super::services::{Command, RsKey};
use super::status::Status;
use super::Shared;
use crate::supervise::summary::summary;
use crate::supervise::{Heartbeat, Notifier};

/// How often `STATUS=` is brought up to date (also at every VRRP change).
const STATUS_EVERY: Duration = Duration::from_secs(5);

/// A check asleep or probing this long past its deadline is stuck, not late: on a
/// current-thread runtime a timer is only that late when the loop is starved.
const CHECK_GRACE: Duration = Duration::from_secs(2);

/// How often the checks are scanned for a stalled one: the scan is O(checks) with a
/// lock each, and the watchdog's window (at least 3 s) needs no finer grain.
const CHECK_SCAN_EVERY: Duration = crate::supervise::BEAT_EVERY;

/// Resolves once the director does what it was started for, so `READY=1` (and
/// `systemctl start` returning) means it: the control socket answers (it is served
/// before this is polled), the VRRP driver has opened its interfaces and published
/// its first state, and the virtual-server task has made its first IPVS apply (it
/// answers its first status request only after that apply).
pub(super) async fn started(
    vrrp: Option<watch::Receiver<DriverStatus>>,
    services: Option<mpsc::Sender<Command>>,
) {
    if let Some(mut vrrp) = vrrp {
        // An error means the driver ended; the daemon's loop sees that too.
        let _ = vrrp.wait_for(|s| !s.instances.is_empty()).await;
    }
    if let Some(services) = services {
        let (reply, answer) = oneshot::channel();
        if services.send(Command::Status(reply)).await.is_ok() {
            let _ = answer.await;
        }
    }
}

/// The one-line summary of the running director.
pub(super) async fn current_summary(shared: &Shared) -> String {
    // Bounded: a busy virtual-server task must not hold the main loop (its own
    // heartbeat says whether it is stuck).
    match tokio::time::timeout(SUMMARY_TIMEOUT, shared.status()).await {
        Ok(status) => match serde_json::from_value::<Status>(status) {
            Ok(status) => summary(&status),
            Err(_) => "status unavailable".to_string(),
        },
        Err(_) => "status unavailable (the virtual-server task is busy)".to_string(),
    }
}

/// How long a `STATUS=` summary waits for the virtual-server task.
const SUMMARY_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs `work` while beating `beat`: a long reload is the main loop at work, not a
/// stuck one; the loops the reload waits on beat (or fall silent) on their own.
pub(super) async fn beating<T>(beat: &Heartbeat, work: impl std::future::Future<Output = T>) -> T {
    tokio::pin!(work);
    let mut tick = tokio::time::interval(crate::supervise::BEAT_EVERY);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => {
                beat.send_replace(std::time::Instant::now());
            }
        }
    }
}

/// Keeps `STATUS=` current: at every VRRP change and every [`STATUS_EVERY`].
pub(super) async fn status_updates(shared: Arc<Shared>, notifier: Arc<Notifier>) {
    let mut vrrp = shared.vrrp.clone();
    let mut last = String::new();
    loop {
        tokio::select! {
            changed = vrrp.changed() => {
                if changed.is_err() {
                    // VRRP is gone: the periodic update is all that is left.
                    tokio::time::sleep(STATUS_EVERY).await;
                }
            }
            () = tokio::time::sleep(STATUS_EVERY) => {}
        }
        let now = current_summary(&shared).await;
        if now != last {
            notifier.status(&now);
            last = now;
        }
    }
}

/// The one log line of a reload (applied or refused, with its counts and time), and
/// `READY=1` with the new summary: the reload is over either way.
/// Logs a reload's outcome and tells the service manager it is over: `READY=1` once the
/// daemon has started (`started`), only `STATUS=` before (a reload during startup must
/// not announce readiness early).
pub(super) async fn reloaded(
    trigger: &str,
    outcome: &serde_json::Value,
    shared: &Shared,
    notifier: &Notifier,
    started: bool,
) {
    let number = |key: &str| outcome.get(key).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    if let Some(error) = outcome.get("error").and_then(|e| e.as_str()) {
        tracing::error!(
            event = "reload_refused",
            trigger,
            error,
            "reload ({trigger}) refused: {}",
            error.replace('\n', "; ")
        );
    } else {
        let failed = outcome.get("ipvs_failed").and_then(|f| f.as_array()).map_or(0, Vec::len);
        let changed = outcome.get("changed").and_then(serde_json::Value::as_bool).unwrap_or(false);
        let (duration_ms, ipvs_ops) = (number("duration_ms"), number("ipvs_ops") as u64);
        let file = outcome.get("reloaded").and_then(|f| f.as_str()).unwrap_or_default();
        tracing::info!(
            event = "reload",
            trigger,
            config = file,
            changed,
            ipvs_ops,
            ipvs_failed = failed,
            duration_ms,
            load_ms = number("load_ms"),
            "reload ({trigger}): {file} {} in {duration_ms:.1} ms, {ipvs_ops} IPVS operations, \
             {failed} failed",
            if changed { "applied" } else { "unchanged" }
        );
    }
    let summary = current_summary(shared).await;
    if started {
        notifier.ready(&summary);
    } else {
        notifier.status(&summary);
    }
}

/// The virtual-server task's heartbeat, and its checks': the checks beat while the
/// scheduler finds none of them stuck.
#[derive(Debug)]
pub struct ServicesBeats {
    services: Heartbeat,
    checks: Heartbeat,
    last_scan: Option<tokio::time::Instant>,
    /// The stuck check already logged.
    stalled: Option<CheckId>,
}

impl ServicesBeats {
    pub fn new(services: Heartbeat, checks: Heartbeat) -> ServicesBeats {
        ServicesBeats { services, checks, last_scan: None, stalled: None }
    }

    /// One turn of the virtual-server loop.
    pub fn beat<P: Prober>(&mut self, scheduler: &Scheduler<RsKey, P>) {
        self.services.send_replace(std::time::Instant::now());
        let now = tokio::time::Instant::now();
        if self.last_scan.is_some_and(|at| now < at + CHECK_SCAN_EVERY) {
            // Between scans the checks are as the last scan found them: beat along with
            // this loop, so that a stuck loop silences both at once.
            if self.stalled.is_none() {
                self.checks.send_replace(std::time::Instant::now());
            }
            return;
        }
        self.last_scan = Some(now);
        match scheduler.stalled(now, CHECK_GRACE) {
            None => {
                if self.stalled.take().is_some() {
                    tracing::info!(
                        event = "checks_resumed",
                        "checks: every check progresses again"
                    );
                }
                self.checks.send_replace(std::time::Instant::now());
            }
            Some(stall) if self.stalled != Some(stall.check) => {
                tracing::error!(
                    event = "check_stalled",
                    check_target = %stall.target,
                    phase = stall.phase,
                    overdue_ms = stall.overdue.as_millis() as u64,
                    "checks: the check of {} is stuck {} ({} ms past its deadline)",
                    stall.target,
                    stall.phase,
                    stall.overdue.as_millis()
                );
                self.stalled = Some(stall.check);
            }
            Some(_) => {}
        }
    }
}
