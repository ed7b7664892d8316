//! Durations as operators write them: `500ms`, `3s`, `2m`, `1h`, or a bare
//! number meaning seconds (keepalived's unit). Fractions are allowed: `1.5s`.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad duration {text:?}: expected a number with a unit (500ms, 3s, 2m, 1h) or bare seconds, \
     at most a year"
)]
pub struct DurationError {
    pub text: String,
}

/// The longest duration any setting takes: a year is more than any interval, timeout
/// or drain needs, and keeps `now + duration` far from overflowing a clock.
pub const MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// Within [`MAX`]?
pub fn bounded(duration: Duration) -> Option<Duration> {
    (duration <= MAX).then_some(duration)
}

pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let err = || DurationError { text: text.to_string() };
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(err()),
    };
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(err());
    }
    let value: f64 = number.parse().map_err(|_| err())?;
    Duration::try_from_secs_f64(value * scale).ok().and_then(bounded).ok_or_else(err)
}

/// Renders the way [`parse`] reads, choosing the largest exact unit.
pub fn format(duration: Duration) -> String {
    let ms = duration.as_millis();
    if !duration.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}us", duration.as_micros())
    } else if !ms.is_multiple_of(1000) || ms == 0 {
        format!("{ms}ms")
    } else {
        format!("{}s", ms / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse(" 10 s "), Ok(Duration::from_secs(10)));
    }

    #[test]
    fn nonsense_is_refused_with_the_text() {
        for bad in
            ["", "s", "3x", "-1s", "1.s", ".5s", "1e3s", "3 seconds", "1..2s", "8761h", "1e30"]
        {
            assert_eq!(parse(bad), Err(DurationError { text: bad.to_string() }), "{bad:?}");
        }
    }

    #[test]
    fn format_round_trips() {
        for text in ["500ms", "3s", "120s", "0ms", "1500ms", "250us"] {
            assert_eq!(format(parse(text).unwrap()), text);
        }
    }
}
