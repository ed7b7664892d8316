//! What one probe found, and why a server failed, in words an operator can act on.

use std::fmt;
use std::time::Duration;

use crate::status_codes::StatusCodes;

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    pub outcome: Outcome,
    /// From the start of the probe to its verdict.
    pub latency: Duration,
    /// HTTP status of the last response read.
    pub status: Option<u16>,
    /// MD5 of the last body read, lowercase hex.
    pub digest: Option<String>,
}

impl ProbeReport {
    pub fn up(latency: Duration) -> Self {
        ProbeReport { outcome: Outcome::Up { weight: None }, latency, status: None, digest: None }
    }

    pub fn down(failure: Failure, latency: Duration) -> Self {
        ProbeReport { outcome: Outcome::Down(failure), latency, status: None, digest: None }
    }

    pub fn is_up(&self) -> bool {
        matches!(self.outcome, Outcome::Up { .. })
    }

    pub fn failure(&self) -> Option<&Failure> {
        match &self.outcome {
            Outcome::Down(f) => Some(f),
            Outcome::Up { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed; `weight` is set by a dynamic misc check (exit code - 2).
    Up {
        weight: Option<u32>,
    },
    Down(Failure),
}

/// Why a probe failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    Refused,
    ConnectTimeout(Duration),
    /// Any other connect error (unreachable, bind to bind_to failed, ...).
    Connect(String),
    /// Connected, but no complete answer within connect_timeout.
    ResponseTimeout {
        path: String,
        after: Duration,
    },
    /// The server broke HTTP (closed early, garbage, ...).
    Http {
        path: String,
        error: String,
    },
    Status {
        path: String,
        got: u16,
        expected: StatusCodes,
    },
    Digest {
        path: String,
        expected: String,
        got: String,
    },
    Regex {
        path: String,
        pattern: String,
    },
    Tls(String),
    /// Non-zero exit (or 1 for a dynamic check); `output` is the start of what it printed.
    ScriptExit {
        code: i32,
        output: String,
    },
    ScriptSignal(i32),
    /// The script ran past its timeout; its process group was killed.
    ScriptTimeout(Duration),
    ScriptSpawn(String),
    /// The probe overran its whole budget (a bug or a stuck system call): the
    /// scheduler gave up on it instead of waiting silently.
    Hung(Duration),
}

impl Failure {
    /// A short stable name, for metrics and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Refused => "refused",
            Failure::ConnectTimeout(_) => "connect_timeout",
            Failure::Connect(_) => "connect_error",
            Failure::ResponseTimeout { .. } => "response_timeout",
            Failure::Http { .. } => "http_error",
            Failure::Status { .. } => "status",
            Failure::Digest { .. } => "digest",
            Failure::Regex { .. } => "regex",
            Failure::Tls(_) => "tls",
            Failure::ScriptExit { .. } => "script_exit",
            Failure::ScriptSignal(_) => "script_signal",
            Failure::ScriptTimeout(_) => "script_timeout",
            Failure::ScriptSpawn(_) => "script_spawn",
            Failure::Hung(_) => "hung",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused => f.write_str("connection refused"),
            Failure::ConnectTimeout(t) => write!(f, "connect timeout after {t:?}"),
            Failure::Connect(e) => write!(f, "connect: {e}"),
            Failure::ResponseTimeout { path, after } => {
                write!(f, "GET {path}: no response within {after:?}")
            }
            Failure::Http { path, error } => write!(f, "GET {path}: {error}"),
            Failure::Status { path, got, expected } => {
                write!(f, "GET {path}: status {got}, expected {expected}")
            }
            Failure::Digest { path, expected, got } => {
                write!(f, "GET {path}: digest mismatch: expected {expected}, got {got}")
            }
            Failure::Regex { path, pattern } => {
                write!(f, "GET {path}: body does not match regex {pattern:?}")
            }
            Failure::Tls(e) => write!(f, "tls: {e}"),
            Failure::ScriptExit { code, output } if output.is_empty() => {
                write!(f, "script exited with status {code}")
            }
            Failure::ScriptExit { code, output } => {
                write!(f, "script exited with status {code}: {output}")
            }
            Failure::ScriptSignal(sig) => write!(f, "script killed by signal {sig}"),
            Failure::ScriptTimeout(t) => {
                write!(f, "script timed out after {t:?} (process group killed)")
            }
            Failure::ScriptSpawn(e) => write!(f, "script could not start: {e}"),
            Failure::Hung(t) => write!(f, "probe hung: no verdict after {t:?}"),
        }
    }
}
