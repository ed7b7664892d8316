//! P4's printed result: per daemon, mode and stop signal, the median and range of the
//! runs against the value RFC 5798 / 3768 predict, and whether the goal was met.

use std::time::Duration;

use super::{Args, Daemon, Mode, Stop};

/// How far from the predicted value the median may be.
const GOAL_MARGIN: Duration = Duration::from_millis(20);

/// One failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Signal sent to A -> VIP on B.
    pub signal_to_vip: Duration,
    /// A's last advert received by B (priority 0 after SIGTERM) -> VIP on B.
    pub advert_to_vip: Duration,
    /// Signal -> VIP gone from A (SIGTERM only).
    pub a_released: Option<Duration>,
    /// SIGKILL: 3 x interval + skew; SIGTERM: skew.
    pub expected: Duration,
}

#[derive(Debug)]
pub struct Row {
    pub daemon: Daemon,
    pub mode: Mode,
    pub stop: Stop,
    pub samples: Vec<Sample>,
}

/// Median, min, max.
pub fn stats(mut v: Vec<Duration>) -> Option<[Duration; 3]> {
    v.sort();
    let (first, last) = (*v.first()?, *v.last()?);
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2 };
    Some([median, first, last])
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn cell(v: Vec<Duration>) -> String {
    match stats(v) {
        Some([median, min, max]) => format!("{} [{}-{}]", ms(median), ms(min), ms(max)),
        None => "-".into(),
    }
}

impl Row {
    fn expected(&self) -> Duration {
        self.samples.first().map_or(Duration::ZERO, |s| s.expected)
    }

    /// The figure the goal is about: SIGKILL, last advert -> VIP (what the backup
    /// controls; signal -> VIP also holds where in the interval the kill landed);
    /// SIGTERM, signal -> VIP.
    fn judged(&self) -> Vec<Duration> {
        self.samples
            .iter()
            .map(|s| match self.stop {
                Stop::Kill => s.advert_to_vip,
                Stop::Term => s.signal_to_vip,
            })
            .collect()
    }

    /// Whether the median is within [`GOAL_MARGIN`] of the prediction (SIGKILL) or
    /// at most the prediction plus the margin (SIGTERM: no lower bound, skew is a
    /// ceiling the backup may beat).
    pub fn met(&self) -> bool {
        let Some([median, ..]) = stats(self.judged()) else { return false };
        let e = self.expected();
        match self.stop {
            Stop::Kill => median.abs_diff(e) <= GOAL_MARGIN,
            Stop::Term => median <= e + GOAL_MARGIN,
        }
    }

    pub fn print(&self) {
        let stop = match self.stop {
            Stop::Kill => "kill -9",
            Stop::Term => "SIGTERM",
        };
        let released: Vec<Duration> = self.samples.iter().filter_map(|s| s.a_released).collect();
        println!(
            "  {:<11} {:<9} {:<8} {:>4} {:>9} {:>26} {:>26} {:>12} {:>5}",
            self.daemon.name(),
            self.mode.name(),
            stop,
            self.samples.len(),
            ms(self.expected()),
            cell(self.samples.iter().map(|s| s.signal_to_vip).collect()),
            cell(self.samples.iter().map(|s| s.advert_to_vip).collect()),
            stats(released).map_or("-".into(), |[m, ..]| ms(m)),
            if self.met() { "yes" } else { "NO" },
        );
    }
}

pub fn header(a: &Args) {
    println!(
        "P4: VRRP failover between two routers in network namespaces on one bridge \
         (A priority 150 master, B priority 100); {} runs at v2 1 s, {} at v3 50 ms",
        a.runs_v2, a.runs_v3
    );
    println!(
        "  times in ms, median [min-max]; expected: kill -9 3 x interval + skew of B, \
         SIGTERM skew of B; goal: kill -9 last advert -> VIP within {} ms of expected, \
         SIGTERM signal -> VIP <= expected + {} ms",
        GOAL_MARGIN.as_millis(),
        GOAL_MARGIN.as_millis()
    );
    println!(
        "  {:<11} {:<9} {:<8} {:>4} {:>9} {:>26} {:>26} {:>12} {:>5}",
        "daemon",
        "mode",
        "stop",
        "runs",
        "expected",
        "signal -> VIP on B",
        "last advert -> VIP on B",
        "A released",
        "goal"
    );
}

pub fn summary(rows: &[Row]) {
    let missed: Vec<String> = rows
        .iter()
        .filter(|r| !r.met())
        .map(|r| format!("{} {} {:?}", r.daemon.name(), r.mode.name(), r.stop))
        .collect();
    if missed.is_empty() {
        println!("P4: every goal met");
    } else {
        println!("P4: goal missed by {}", missed.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let d = |v: &[u64]| v.iter().map(|&m| Duration::from_millis(m)).collect::<Vec<_>>();
        let ms = Duration::from_millis;
        assert_eq!(stats(d(&[30, 10, 20])), Some([ms(20), ms(10), ms(30)]));
        assert_eq!(stats(d(&[40, 10, 20, 30])), Some([ms(25), ms(10), ms(40)]));
        assert_eq!(stats(Vec::new()), None);
    }

    #[test]
    fn a_kill_row_is_judged_on_last_advert_to_vip_both_ways() {
        let sample = |advert_ms| Sample {
            signal_to_vip: Duration::from_millis(100),
            advert_to_vip: Duration::from_millis(advert_ms),
            a_released: None,
            expected: Duration::from_millis(180),
        };
        let row = |v: &[u64]| Row {
            daemon: Daemon::Directord,
            mode: Mode::V3,
            stop: Stop::Kill,
            samples: v.iter().map(|&m| sample(m)).collect(),
        };
        assert!(row(&[185, 190, 500]).met());
        assert!(!row(&[150, 155, 160]).met(), "too early is a miss too");
        assert!(!row(&[205, 210, 220]).met());
    }
}
