//! Fault injection for tests of the daemon's watchdog (feature `fault-injection`,
//! never built by default): makes every check's task hang in its next probe, as a
//! probe future that never completes would, outside the hung-probe timeout.

use std::sync::atomic::{AtomicBool, Ordering};

static HANG_PROBES: AtomicBool = AtomicBool::new(false);

/// From now on, every probe that starts hangs forever.
pub fn hang_probes() {
    HANG_PROBES.store(true, Ordering::SeqCst);
}

pub(crate) async fn maybe_hang() {
    if HANG_PROBES.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
}
