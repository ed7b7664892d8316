//! `status_code: [200, 301-302]`: the HTTP statuses a check accepts.

use std::fmt;
use std::str::FromStr;

/// A list of status codes and inclusive ranges; a response passes when its
/// status is in any of them. Keepalived's default is any 2xx.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatusCodes {
    ranges: Vec<(u16, u16)>,
}

/// Why a status list did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad status code {item:?}: {reason} (expected a code 100-599 or a range like 301-302)")]
pub struct StatusCodesError {
    pub item: String,
    pub reason: &'static str,
}

impl Default for StatusCodes {
    fn default() -> Self {
        StatusCodes { ranges: vec![(200, 299)] }
    }
}

impl StatusCodes {
    /// Builds a list from `(first, last)` ranges, checking each.
    pub fn from_ranges(ranges: Vec<(u16, u16)>) -> Result<Self, StatusCodesError> {
        for &(lo, hi) in &ranges {
            check_range(lo, hi, &format!("{lo}-{hi}"))?;
        }
        if ranges.is_empty() {
            return Err(StatusCodesError { item: String::new(), reason: "empty list" });
        }
        Ok(StatusCodes { ranges })
    }

    /// Parses one item: `200` or `301-302`.
    pub fn parse_item(item: &str) -> Result<(u16, u16), StatusCodesError> {
        let err = |reason| StatusCodesError { item: item.to_string(), reason };
        let trimmed = item.trim();
        let (lo, hi) = match trimmed.split_once('-') {
            Some((lo, hi)) => (lo.trim(), hi.trim()),
            None => (trimmed, trimmed),
        };
        let lo: u16 = lo.parse().map_err(|_| err("not a number"))?;
        let hi: u16 = hi.parse().map_err(|_| err("not a number"))?;
        check_range(lo, hi, item)?;
        Ok((lo, hi))
    }

    pub fn contains(&self, status: u16) -> bool {
        self.ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&status))
    }

    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }
}

fn check_range(lo: u16, hi: u16, item: &str) -> Result<(), StatusCodesError> {
    let err = |reason| Err(StatusCodesError { item: item.to_string(), reason });
    if !(100..=599).contains(&lo) || !(100..=599).contains(&hi) {
        return err("out of range 100-599");
    }
    if lo > hi {
        return err("range runs backwards");
    }
    Ok(())
}

/// `200,301-302` (the command-line form).
impl FromStr for StatusCodes {
    type Err = StatusCodesError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ranges = s.split(',').map(StatusCodes::parse_item).collect::<Result<Vec<_>, _>>()?;
        StatusCodes::from_ranges(ranges)
    }
}

impl fmt::Display for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(lo, hi)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_ranges() {
        let codes: StatusCodes = "200, 301-302".parse().unwrap();
        assert!(codes.contains(200) && codes.contains(301) && codes.contains(302));
        assert!(!codes.contains(201) && !codes.contains(303));
        assert_eq!(codes.to_string(), "200,301-302");
    }

    #[test]
    fn default_is_any_2xx() {
        let codes = StatusCodes::default();
        assert!(codes.contains(200) && codes.contains(299));
        assert!(!codes.contains(300) && !codes.contains(199));
        assert_eq!(codes.to_string(), "200-299");
    }

    #[test]
    fn rejects_nonsense_with_the_item() {
        let err = "200,30x".parse::<StatusCodes>().unwrap_err();
        assert_eq!(err.item, "30x");
        assert_eq!("302-301".parse::<StatusCodes>().unwrap_err().reason, "range runs backwards");
        assert_eq!("700".parse::<StatusCodes>().unwrap_err().reason, "out of range 100-599");
        assert!("".parse::<StatusCodes>().is_err());
    }
}
