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

    /// True when a probe of `spec` cannot outlive its own timeout, so the
    /// scheduler can skip its hung-probe watchdog (one timer less per probe).
    fn bounds_itself(&self, _spec: &CheckSpec) -> bool {
        false
    }
}

/// The real thing: sockets and processes.
#[derive(Debug, Default, Clone, Copy)]
pub struct NetProber;

impl Prober for NetProber {
    fn probe(&self, spec: &CheckSpec) -> impl Future<Output = ProbeReport> + Send {
        run(spec)
    }

    /// A TCP probe is one connect under `timeout()`, nothing else awaits.
    fn bounds_itself(&self, spec: &CheckSpec) -> bool {
        matches!(spec.kind, CheckKind::Tcp)
    }
}

/// Runs one probe of `spec` now. Never panics on what the network or the script
/// does; every failure is a [`crate::Failure`] in the report.
pub async fn run(spec: &CheckSpec) -> ProbeReport {
    let timeout = spec.timing.connect_timeout;
    // The HTTP and script probes are boxed: their state (rustls, hyper) is ~9 KiB
    // and would otherwise sit inline in every check's task, TCP checks included.
    match &spec.kind {
        CheckKind::Tcp => connect::tcp(&spec.target, timeout).await,
        CheckKind::Http(check) => Box::pin(http::run(&spec.target, check, None, timeout)).await,
        CheckKind::Https(check, tls) => {
            Box::pin(http::run(&spec.target, check, Some(tls), timeout)).await
        }
        CheckKind::Misc(check) => Box::pin(misc::run(check)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HttpCheck, Target, UrlCheck};

    #[test]
    fn only_tcp_probes_skip_the_watchdog() {
        let target = Target::new(([192, 0, 2, 1], 80).into());
        let tcp = CheckSpec::new(target.clone(), CheckKind::Tcp);
        let http = HttpCheck { virtualhost: None, urls: vec![UrlCheck::new("/")] };
        let http = CheckSpec::new(target, CheckKind::Http(http));
        assert!(NetProber.bounds_itself(&tcp));
        assert!(!NetProber.bounds_itself(&http));
    }
}
