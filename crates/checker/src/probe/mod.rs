//! One probe: open the checked connection (or run the script), judge it, close it.

mod connect;
mod http;
mod misc;

use std::future::Future;

use crate::outcome::ProbeReport;
use crate::spec::{CheckKind, CheckSpec};

/// Runs probes for the scheduler; tests substitute scripted results.
pub trait Prober: Send + Sync + 'static {
    fn probe(&self, spec: &CheckSpec) -> impl Future<Output = ProbeReport> + Send;
}

/// The real thing: sockets and processes.
#[derive(Debug, Default, Clone, Copy)]
pub struct NetProber;

impl Prober for NetProber {
    fn probe(&self, spec: &CheckSpec) -> impl Future<Output = ProbeReport> + Send {
        run(spec)
    }
}

/// Runs one probe of `spec` now. Never panics on what the network or the script
/// does; every failure is a [`crate::Failure`] in the report.
pub async fn run(spec: &CheckSpec) -> ProbeReport {
    let timeout = spec.timing.connect_timeout;
    match &spec.kind {
        CheckKind::Tcp => connect::tcp(&spec.target, timeout).await,
        CheckKind::Http(check) => http::run(&spec.target, check, None, timeout).await,
        CheckKind::Https(check, tls) => http::run(&spec.target, check, Some(tls), timeout).await,
        CheckKind::Misc(check) => misc::run(check).await,
    }
}
