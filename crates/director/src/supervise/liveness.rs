//! Which of the daemon's loops still make progress. Each registered loop holds a
//! [`Heartbeat`] and beats on every turn; its waits are bounded (by [`BEAT_EVERY`]) so
//! an idle loop beats too. A loop that stops beating (stuck awaiting something that
//! never comes, or a thread caught in a kernel call) shows up in [`Liveness::stalled`],
//! and the watchdog pinger stops pinging.
//!
//! Sans-IO: beats carry their instant and [`Liveness::stalled`] takes `now`, so the
//! rules are tested on made-up time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// The longest a live loop waits between two beats.
pub const BEAT_EVERY: Duration = Duration::from_secs(1);

/// A loop's proof of progress: the instant of its latest turn. Dropping it (the loop
/// ended) unregisters the loop.
pub type Heartbeat = watch::Sender<Instant>;

/// A loop that has not beaten within the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stalled {
    pub task: String,
    /// Since its last beat.
    pub silent_for: Duration,
}

#[derive(Debug, Default)]
pub struct Liveness {
    tasks: Mutex<Vec<(String, watch::Receiver<Instant>)>>,
}

impl Liveness {
    pub fn new() -> Arc<Liveness> {
        Arc::new(Liveness::default())
    }

    /// Registers a loop named `task`, alive as of `now`.
    pub fn register_at(&self, task: &str, now: Instant) -> Heartbeat {
        let (beat, seen) = watch::channel(now);
        self.lock().push((task.to_string(), seen));
        beat
    }

    pub fn register(&self, task: &str) -> Heartbeat {
        self.register_at(task, Instant::now())
    }

    /// The loops that did not beat within `window` before `now`, longest silent
    /// first. Loops whose heartbeat is gone (they ended) are forgotten.
    pub fn stalled(&self, now: Instant, window: Duration) -> Vec<Stalled> {
        let mut tasks = self.lock();
        tasks.retain(|(_, seen)| seen.has_changed().is_ok());
        let mut stalled: Vec<Stalled> = tasks
            .iter()
            .filter_map(|(task, seen)| {
                let silent_for = now.saturating_duration_since(*seen.borrow());
                (silent_for > window).then(|| Stalled { task: task.clone(), silent_for })
            })
            .collect();
        stalled.sort_by_key(|s| std::cmp::Reverse(s.silent_for));
        stalled
    }

    /// The registered loops' names, in registration order.
    pub fn tasks(&self) -> Vec<String> {
        let mut tasks = self.lock();
        tasks.retain(|(_, seen)| seen.has_changed().is_ok());
        tasks.iter().map(|(task, _)| task.clone()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, watch::Receiver<Instant>)>> {
        self.tasks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How long a loop may stay silent before the pings stop: half the watchdog timeout,
/// so the service manager still hears a last ping before it would time out on a
/// loop that was fine, but never under three beats (a busy turn is not a hang).
pub fn window(watchdog: Duration) -> Duration {
    (watchdog / 2).max(BEAT_EVERY * 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(5);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn loops_that_beat_within_the_window_are_alive() {
        let t0 = Instant::now();
        let liveness = Liveness::new();
        let vrrp = liveness.register_at("vrrp", t0);
        let services = liveness.register_at("services", t0);
        // Virtual time: each loop beats every second for a minute.
        for s in 1..=60 {
            let now = t0 + secs(s);
            vrrp.send_replace(now);
            services.send_replace(now);
            assert_eq!(liveness.stalled(now + Duration::from_millis(999), WINDOW), vec![]);
        }
    }

    #[test]
    fn a_silent_loop_is_stalled_once_past_the_window_and_alive_again_when_it_beats() {
        let t0 = Instant::now();
        let liveness = Liveness::new();
        let vrrp = liveness.register_at("vrrp", t0);
        let checks = liveness.register_at("checks", t0);
        for s in 1..=10 {
            vrrp.send_replace(t0 + secs(s));
        }
        // checks last beat at t0: exactly the window is still fine, past it is not.
        assert_eq!(liveness.stalled(t0 + WINDOW, WINDOW), vec![]);
        let late = t0 + WINDOW + Duration::from_millis(1);
        let stalled = liveness.stalled(late, WINDOW);
        assert_eq!(stalled.len(), 1);
        assert_eq!(stalled[0].task, "checks");
        assert_eq!(stalled[0].silent_for, WINDOW + Duration::from_millis(1));
        checks.send_replace(late);
        assert_eq!(liveness.stalled(late, WINDOW), vec![]);
    }

    #[test]
    fn the_longest_silent_comes_first() {
        let t0 = Instant::now();
        let liveness = Liveness::new();
        let _a = liveness.register_at("a", t0 + secs(3));
        let _b = liveness.register_at("b", t0);
        let names: Vec<_> =
            liveness.stalled(t0 + secs(20), WINDOW).into_iter().map(|s| s.task).collect();
        assert_eq!(names, ["b", "a"]);
    }

    #[test]
    fn an_ended_loop_is_forgotten_not_stalled() {
        let t0 = Instant::now();
        let liveness = Liveness::new();
        let services = liveness.register_at("services", t0);
        let _vrrp = liveness.register_at("vrrp", t0 + secs(30));
        drop(services);
        assert_eq!(liveness.stalled(t0 + secs(31), WINDOW), vec![]);
        assert_eq!(liveness.tasks(), ["vrrp"]);
    }

    #[test]
    fn the_window_is_half_the_watchdog_but_at_least_three_beats() {
        assert_eq!(window(secs(10)), secs(5));
        assert_eq!(window(secs(2)), secs(3));
    }
}
