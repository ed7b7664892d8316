//! Running under a service manager: systemd's notifications (READY, RELOADING,
//! STOPPING, STATUS) and a watchdog that pings only while every loop of the daemon
//! makes progress ([`liveness`]).

pub mod liveness;
pub mod sd_notify;
pub mod summary;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use liveness::{Heartbeat, Liveness, Stalled, BEAT_EVERY};
pub use sd_notify::{Notifier, NotifyAddress, NotifyEnv};

/// What the daemon reports to, and proves its progress to.
#[derive(Debug, Clone)]
pub struct Supervision {
    pub notifier: Arc<Notifier>,
    pub liveness: Arc<Liveness>,
    /// The service manager's watchdog timeout (`WATCHDOG_USEC`), when it has one.
    pub watchdog: Option<Duration>,
}

impl Default for Supervision {
    /// Nobody to notify and no watchdog; heartbeats are still kept (and unused).
    fn default() -> Self {
        Supervision {
            notifier: Arc::new(Notifier::disabled()),
            liveness: Liveness::new(),
            watchdog: None,
        }
    }
}

impl Supervision {
    /// From the parsed environment; a socket that cannot be made is a warning and no
    /// notifications (the director runs the same without a service manager).
    pub fn from_env(env: NotifyEnv) -> Supervision {
        for warning in &env.warnings {
            tracing::warn!("sd_notify: {warning}");
        }
        let address = env.socket.clone();
        let notifier = match Notifier::new(env.socket) {
            Ok(notifier) => notifier,
            Err(e) => {
                let at = address.map(|a| a.to_string()).unwrap_or_default();
                tracing::warn!("sd_notify: a datagram socket for {at}: {e}; not notifying");
                Notifier::disabled()
            }
        };
        let watchdog = env.watchdog.filter(|_| notifier.enabled());
        Supervision { notifier: Arc::new(notifier), liveness: Liveness::new(), watchdog }
    }

    /// Pings `WATCHDOG=1` every half watchdog timeout while no loop is stalled; logs
    /// one line when the pings stop (naming the silent loops) and one when they
    /// resume. Runs until dropped; returns at once without a watchdog.
    pub async fn ping_watchdog(self) {
        let Some(watchdog) = self.watchdog else { return };
        let window = liveness::window(watchdog);
        let mut ticks = tokio::time::interval(watchdog / 2);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopped = false;
        loop {
            ticks.tick().await;
            let stalled = self.liveness.stalled(Instant::now(), window);
            if stalled.is_empty() {
                if stopped {
                    tracing::info!(
                        event = "watchdog_resumed",
                        "watchdog: every loop beats again; pings resume"
                    );
                    stopped = false;
                }
                self.notifier.watchdog();
            } else if !stopped {
                stopped = true;
                let tasks = describe(&stalled);
                tracing::error!(
                    event = "watchdog_stalled",
                    tasks = %tasks,
                    window_ms = window.as_millis() as u64,
                    "watchdog: pings stopped, the service manager will restart directord: {tasks}"
                );
                self.notifier.status(&format!("stalled: {tasks}"));
            }
        }
    }
}

fn describe(stalled: &[Stalled]) -> String {
    let each: Vec<String> = stalled
        .iter()
        .map(|s| format!("{} silent for {:.1}s", s.task, s.silent_for.as_secs_f64()))
        .collect();
    each.join(", ")
}
