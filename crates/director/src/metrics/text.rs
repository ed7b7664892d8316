//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` once per
//! family, then its samples together; label values and help text escaped; histograms
//! as cumulative `_bucket` series ending at `le="+Inf"`, with `_sum` and `_count`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

/// The `Content-Type` of a response in this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A sample value: integers exactly (a byte counter may pass 2^53), or a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(u64::from(v))
    }
}

impl From<u8> for Value {
    fn from(v: u8) -> Self {
        Value::Int(u64::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(u64::from(v))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

fn write_value(out: &mut String, value: Value) {
    match value {
        Value::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Float(v) => write_float(out, v),
    }
}

/// Go's `strconv.ParseFloat` reads what Rust's `Display` writes (never an exponent);
/// the special values have the format's own spelling.
fn write_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// A label value between double quotes: backslash, double quote and line feed escaped.
fn write_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Help text: backslash and line feed escaped.
fn write_help(out: &mut String, help: &str) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*` (label names: without the colon, which callers never use).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Writes one exposition; families are written in the order they are started.
#[derive(Debug, Default)]
pub struct Encoder {
    out: String,
    started: BTreeSet<&'static str>,
}

impl Encoder {
    pub fn new() -> Self {
        Encoder::default()
    }

    /// Starts the family `name`. Its `# HELP` and `# TYPE` lines come with its first
    /// sample, so a family without samples leaves no trace. Every sample of a family is
    /// written through the one [`Family`]: starting a name twice is a bug (the format
    /// wants each family in one block), caught in debug builds.
    pub fn family(&mut self, name: &'static str, kind: Kind, help: &'static str) -> Family<'_> {
        debug_assert!(valid_name(name), "metric name {name:?}");
        let first = self.started.insert(name);
        debug_assert!(first, "metric family {name} started twice");
        Family { encoder: self, name, kind, help, header: false }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// The samples of one family (see [`Encoder::family`]).
#[derive(Debug)]
pub struct Family<'a> {
    encoder: &'a mut Encoder,
    name: &'static str,
    kind: Kind,
    help: &'static str,
    header: bool,
}

impl Family<'_> {
    fn header(&mut self) -> &mut String {
        let out = &mut self.encoder.out;
        if !self.header {
            self.header = true;
            let _ = write!(out, "# HELP {} ", self.name);
            write_help(out, self.help);
            let _ = writeln!(out, "\n# TYPE {} {}", self.name, self.kind.as_str());
        }
        out
    }

    fn line(
        &mut self,
        suffix: &str,
        labels: &[(&'static str, &str)],
        le: Option<&str>,
        value: Value,
    ) {
        let name = self.name;
        let out = self.header();
        out.push_str(name);
        out.push_str(suffix);
        let extra = le.map(|le| ("le", le));
        let mut all = labels.iter().copied().chain(extra).peekable();
        if all.peek().is_some() {
            out.push('{');
            for (i, (label, value)) in all.enumerate() {
                debug_assert!(valid_name(label) && !label.contains(':'), "label name {label:?}");
                if i > 0 {
                    out.push(',');
                }
                out.push_str(label);
                out.push_str("=\"");
                write_label_value(out, value);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        write_value(out, value);
        out.push('\n');
    }

    /// One sample of a counter or gauge.
    pub fn sample(&mut self, labels: &[(&'static str, &str)], value: impl Into<Value>) {
        debug_assert!(self.kind != Kind::Histogram, "{}: a histogram takes histogram()", self.name);
        self.line("", labels, None, value.into());
    }

    /// One histogram: `counts[i]` observations fell in `(bounds[i-1], bounds[i]]` and
    /// `counts[bounds.len()]` above the last bound (not cumulative: this adds them up);
    /// `sum` is the sum of every observation.
    pub fn histogram(
        &mut self,
        labels: &[(&'static str, &str)],
        bounds: &[f64],
        counts: &[u64],
        sum: f64,
    ) {
        debug_assert!(self.kind == Kind::Histogram, "{}: not a histogram", self.name);
        debug_assert_eq!(
            counts.len(),
            bounds.len() + 1,
            "{}: counts per bound and +Inf",
            self.name
        );
        let mut cumulative = 0u64;
        let mut le = String::new();
        for (bound, count) in bounds.iter().zip(counts) {
            cumulative += count;
            le.clear();
            write_float(&mut le, *bound);
            self.line("_bucket", labels, Some(&le), Value::Int(cumulative));
        }
        let total = cumulative + counts.get(bounds.len()).copied().unwrap_or(0);
        self.line("_bucket", labels, Some("+Inf"), Value::Int(total));
        self.line("_sum", labels, None, Value::Float(sum));
        self.line("_count", labels, None, Value::Int(total));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_once_then_samples_and_nothing_for_an_empty_family() {
        let mut e = Encoder::new();
        let mut f = e.family("x_total", Kind::Counter, "Things.");
        f.sample(&[("a", "1")], 3u64);
        f.sample(&[("a", "2")], 4u64);
        e.family("empty", Kind::Gauge, "Never sampled.");
        e.family("up", Kind::Gauge, "No labels.").sample(&[], true);
        assert_eq!(
            e.finish(),
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total{a=\"1\"} 3\nx_total{a=\"2\"} 4\n\
             # HELP up No labels.\n# TYPE up gauge\nup 1\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut e = Encoder::new();
        e.family("m", Kind::Gauge, "Back\\slash and\nnewline \"quoted\".")
            .sample(&[("name", "a\"b\\c\nd"), ("plain", "é ok")], 1u64);
        assert_eq!(
            e.finish(),
            "# HELP m Back\\\\slash and\\nnewline \"quoted\".\n# TYPE m gauge\n\
             m{name=\"a\\\"b\\\\c\\nd\",plain=\"é ok\"} 1\n"
        );
    }

    #[test]
    fn values_integers_exact_floats_and_special_values() {
        let mut e = Encoder::new();
        let mut f = e.family("v", Kind::Gauge, "Values.");
        for (case, value) in [
            ("max", Value::from(u64::MAX)),
            ("half", Value::from(0.5)),
            ("whole", Value::from(3.0)),
            ("tiny", Value::from(0.0005)),
            ("nan", Value::from(f64::NAN)),
            ("inf", Value::from(f64::INFINITY)),
            ("ninf", Value::from(f64::NEG_INFINITY)),
        ] {
            f.sample(&[("case", case)], value);
        }
        let text = e.finish();
        let samples: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            samples,
            [
                "v{case=\"max\"} 18446744073709551615",
                "v{case=\"half\"} 0.5",
                "v{case=\"whole\"} 3",
                "v{case=\"tiny\"} 0.0005",
                "v{case=\"nan\"} NaN",
                "v{case=\"inf\"} +Inf",
                "v{case=\"ninf\"} -Inf",
            ]
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_inf() {
        let mut e = Encoder::new();
        let mut f = e.family("d_seconds", Kind::Histogram, "Durations.");
        f.histogram(&[("k", "a")], &[0.005, 0.5, 1.0], &[2, 0, 3, 1], 4.25);
        f.histogram(&[], &[1.0], &[0, 0], 0.0);
        assert_eq!(
            e.finish(),
            "# HELP d_seconds Durations.\n# TYPE d_seconds histogram\n\
             d_seconds_bucket{k=\"a\",le=\"0.005\"} 2\n\
             d_seconds_bucket{k=\"a\",le=\"0.5\"} 2\n\
             d_seconds_bucket{k=\"a\",le=\"1\"} 5\n\
             d_seconds_bucket{k=\"a\",le=\"+Inf\"} 6\n\
             d_seconds_sum{k=\"a\"} 4.25\n\
             d_seconds_count{k=\"a\"} 6\n\
             d_seconds_bucket{le=\"1\"} 0\n\
             d_seconds_bucket{le=\"+Inf\"} 0\n\
             d_seconds_sum 0\n\
             d_seconds_count 0\n"
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "started twice")]
    fn a_family_started_twice_is_caught() {
        let mut e = Encoder::new();
        e.family("twice", Kind::Gauge, "Once.").sample(&[], 1u64);
        e.family("twice", Kind::Gauge, "Twice.").sample(&[], 2u64);
    }

    #[test]
    fn names() {
        assert!(valid_name("director_up") && valid_name("_x:y9"));
        assert!(!valid_name("9x") && !valid_name("a-b") && !valid_name(""));
    }
}
