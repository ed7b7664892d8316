//! Polling for conditions that other processes make true (a VIP appears, a daemon
//! answers): tests wait for the event rather than sleep a guessed time.

use std::time::{Duration, Instant};

/// How often [`wait_until`] looks again: fine enough for VRRP timings of 50 ms adverts.
pub const POLL: Duration = Duration::from_millis(10);

/// Calls `cond` every [`POLL`] until it is true (returns true) or `timeout` has passed
/// (returns false, after one last look).
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return cond();
        }
        std::thread::sleep(POLL);
    }
}

/// Like [`wait_until`] for a value: the first `Some` that `f` returns.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let mut found = None;
    wait_until(timeout, || {
        found = f();
        found.is_some()
    });
    found
}
