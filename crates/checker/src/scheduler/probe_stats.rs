//! Plain counts of one check's probes, for whoever exports metrics: latency in fixed
//! buckets and failures by [`Failure::kind`](crate::Failure::kind). Nothing here knows
//! an exposition format; the counts only grow while the check runs.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::outcome::ProbeReport;

/// Upper bounds of the latency buckets: from a loopback connect (well under a
/// millisecond) to a script that runs for seconds.
pub const LATENCY_BOUNDS: [Duration; 14] = [
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_micros(2500),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_micros(2_500_000),
    Duration::from_secs(5),
    Duration::from_secs(10),
];

/// Every probe of one check since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeStats {
    /// Probes with a verdict (a hung probe counts, with its budget as latency).
    pub probes: u64,
    /// Probes by latency, not cumulative: `buckets[i]` counts those above
    /// `LATENCY_BOUNDS[i - 1]` and at most `LATENCY_BOUNDS[i]`; the last one those
    /// above every bound.
    pub buckets: [u64; LATENCY_BOUNDS.len() + 1],
    /// Sum of every probe's latency.
    pub latency_sum: Duration,
    /// Failed probes by [`Failure::kind`](crate::Failure::kind); kinds never seen are
    /// absent.
    pub failures: BTreeMap<&'static str, u64>,
}

impl ProbeStats {
    pub fn record(&mut self, report: &ProbeReport) {
        self.probes += 1;
        let bucket = LATENCY_BOUNDS
            .iter()
            .position(|bound| report.latency <= *bound)
            .unwrap_or(LATENCY_BOUNDS.len());
        self.buckets[bucket] += 1;
        self.latency_sum = self.latency_sum.saturating_add(report.latency);
        if let Some(failure) = report.failure() {
            *self.failures.entry(failure.kind()).or_default() += 1;
        }
    }

    /// Failed probes, whatever the kind.
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Failure;

    #[test]
    fn bounds_grow() {
        assert!(LATENCY_BOUNDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn probes_land_in_their_bucket_and_failures_by_kind() {
        let mut stats = ProbeStats::default();
        stats.record(&ProbeReport::up(Duration::from_micros(200)));
        // A bound is inclusive (Prometheus' `le`).
        stats.record(&ProbeReport::up(Duration::from_millis(1)));
        stats.record(&ProbeReport::down(Failure::Refused, Duration::from_micros(1001)));
        stats.record(&ProbeReport::down(Failure::Refused, Duration::from_millis(3)));
        stats.record(&ProbeReport::down(
            Failure::Hung(Duration::from_secs(11)),
            Duration::from_secs(11),
        ));
        assert_eq!(stats.probes, 5);
        assert_eq!(&stats.buckets[..4], &[1, 1, 1, 1]);
        assert_eq!(stats.buckets[LATENCY_BOUNDS.len()], 1);
        assert_eq!(stats.buckets.iter().sum::<u64>(), 5);
        assert_eq!(stats.latency_sum, Duration::from_micros(200 + 1000 + 1001 + 3000 + 11_000_000));
        assert_eq!(stats.failures.get("refused"), Some(&2));
        assert_eq!(stats.failures.get("hung"), Some(&1));
        assert_eq!(stats.failed(), 3);
    }
}
