//! A lock-free latency histogram: 8 buckets per power of two (within 12.5%),
//! cheap enough to record every probe of 10,000 checks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
/// Up to 2^40 µs (12 days): far past any probe.
const BUCKETS: usize = ((40 - SUB_BITS + 1) as usize + 1) * SUB as usize;

#[derive(Debug)]
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_us: AtomicU64,
    max_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }
}

fn index(us: u64) -> usize {
    if us < SUB {
        return us as usize;
    }
    let exp = 63 - us.leading_zeros();
    let sub = (us >> (exp - SUB_BITS)) & (SUB - 1);
    (((exp - SUB_BITS + 1) as u64 * SUB + sub) as usize).min(BUCKETS - 1)
}

/// The largest value that lands in bucket `i`.
fn upper_bound(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let exp = (i / SUB) as u32 + SUB_BITS - 1;
    let sub = i % SUB;
    ((SUB + sub + 1) << (exp - SUB_BITS)) - 1
}

impl Histogram {
    pub fn record(&self, value: Duration) {
        let us = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        self.buckets[index(us)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn max(&self) -> Duration {
        Duration::from_micros(self.max_us.load(Ordering::Relaxed))
    }

    pub fn mean(&self) -> Duration {
        let count = self.count();
        Duration::from_micros(self.sum_us.load(Ordering::Relaxed).checked_div(count).unwrap_or(0))
    }

    /// The value at quantile `q` (0.0-1.0), rounded up to its bucket's bound.
    pub fn quantile(&self, q: f64) -> Duration {
        self.snapshot().quantile(q)
    }

    /// A copy of the counts now, to compare with a later one (see
    /// [`Snapshot::since`]): what happened in a window, without resetting
    /// counters that others (metrics) read as monotonic.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            buckets: self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
            count: self.count(),
            sum_us: self.sum_us.load(Ordering::Relaxed),
            max_us: self.max_us.load(Ordering::Relaxed),
        }
    }
}

/// The counts of a [`Histogram`] at one moment, or between two moments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    buckets: Vec<u64>,
    count: u64,
    sum_us: u64,
    max_us: u64,
}

impl Snapshot {
    /// What was recorded after `earlier` (a snapshot of the same histogram).
    /// The maximum of the window is not kept by the histogram: it is the bound
    /// of the highest bucket that grew (within 12.5%), capped by the overall max.
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        let buckets: Vec<u64> =
            self.buckets.iter().zip(&earlier.buckets).map(|(a, b)| a.saturating_sub(*b)).collect();
        let top = buckets.iter().rposition(|&n| n > 0);
        Snapshot {
            count: self.count.saturating_sub(earlier.count),
            sum_us: self.sum_us.saturating_sub(earlier.sum_us),
            max_us: top.map_or(0, |i| upper_bound(i).min(self.max_us)),
            buckets,
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> Duration {
        Duration::from_micros(self.max_us)
    }

    pub fn mean(&self) -> Duration {
        Duration::from_micros(self.sum_us.checked_div(self.count).unwrap_or(0))
    }

    /// The value at quantile `q` (0.0-1.0), rounded up to its bucket's bound.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Duration::from_micros(upper_bound(i).min(self.max_us));
            }
        }
        self.max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_within_an_eighth() {
        let mut previous_bound = None;
        for us in 0..200_000u64 {
            let i = index(us);
            assert!(upper_bound(i) >= us, "{us} above its bucket bound");
            assert!(upper_bound(i) - us <= us / 8 + 1, "{us} bucket too coarse");
            if let Some((pi, pb)) = previous_bound {
                assert!(i == pi || (i == pi + 1 && us == pb + 1), "gap at {us}");
            }
            previous_bound = Some((i, upper_bound(i)));
        }
    }

    #[test]
    fn quantiles_of_a_known_spread() {
        let h = Histogram::default();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        let p50 = h.quantile(0.5).as_micros() as f64;
        let p99 = h.quantile(0.99).as_micros() as f64;
        assert!((50_000.0..=50_000.0 * 1.125).contains(&p50), "p50 {p50}");
        assert!((99_000.0..=100_000.0).contains(&p99), "p99 {p99}");
        assert_eq!(h.max(), Duration::from_millis(100));
        assert_eq!(h.count(), 100);
    }

    #[test]
    fn a_window_sees_only_what_was_recorded_in_it() {
        let h = Histogram::default();
        for _ in 0..1000 {
            h.record(Duration::from_secs(2));
        }
        let before = h.snapshot();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        let window = h.snapshot().since(&before);
        assert_eq!(window.count(), 100);
        assert_eq!(window.mean(), Duration::from_micros(50_500));
        let p50 = window.quantile(0.5).as_micros();
        assert!((50_000..=56_250).contains(&p50), "p50 {p50}");
        // The 2 s values before the window do not leak into its max or p99.
        let max = window.max().as_micros();
        assert!((100_000..=112_500).contains(&max), "max {max}");
        assert!(window.quantile(0.99) <= window.max());
        assert_eq!(h.max(), Duration::from_secs(2), "the histogram itself is untouched");
        assert_eq!(h.count(), 1100);
    }

    #[test]
    fn an_empty_window_is_all_zero() {
        let h = Histogram::default();
        h.record(Duration::from_millis(3));
        let now = h.snapshot();
        let window = now.since(&now);
        assert_eq!(
            (window.count(), window.max(), window.mean()),
            (0, Duration::ZERO, Duration::ZERO)
        );
        assert_eq!(window.quantile(0.99), Duration::ZERO);
    }
}
