//! RFC 5798 section 6.1 timer arithmetic. Kept in microseconds, as keepalived keeps it,
//! so that Skew_Time keeps its fraction of a centisecond.

use std::time::Duration;

use crate::packet::Version;

const MICROS_PER_CS: u64 = 10_000;

/// An interval given in centiseconds.
pub(crate) fn centiseconds(cs: u16) -> Duration {
    Duration::from_micros(u64::from(cs) * MICROS_PER_CS)
}

/// Skew_Time: v3 scales it by the master's interval, v2 by one second (RFC 3768).
pub(crate) fn skew_time(version: Version, priority: u8, master_adver_interval_cs: u16) -> Duration {
    let weight = 256 - u64::from(priority);
    let micros = match version {
        Version::V2 => weight * 1_000_000 / 256,
        Version::V3 => weight * u64::from(master_adver_interval_cs) * MICROS_PER_CS / 256,
    };
    Duration::from_micros(micros)
}

/// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
pub(crate) fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval_cs: u16,
) -> Duration {
    centiseconds(master_adver_interval_cs) * 3
        + skew_time(version, priority, master_adver_interval_cs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // Priority 100, one second: skew 156/256 s.
        assert_eq!(skew_time(Version::V3, 100, 100), Duration::from_micros(609_375));
        assert_eq!(skew_time(Version::V2, 100, 300), Duration::from_micros(609_375));
        assert_eq!(
            master_down_interval(Version::V3, 200, 100),
            Duration::from_micros(3_000_000 + 218_750)
        );
        // v2 skew does not follow the interval; v3 does.
        assert_eq!(
            master_down_interval(Version::V2, 255, 200),
            Duration::from_micros(6_000_000 + 3_906)
        );
        assert_eq!(skew_time(Version::V3, 156, 5), Duration::from_micros(19_531));
    }
}
