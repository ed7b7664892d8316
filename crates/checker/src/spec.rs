//! What to check and how often: the parameters operators know from keepalived.
//!
//! Two specs that compare equal are the same check: the scheduler runs one probe
//! for all of their subscribers. Everything that changes what a probe does or
//! when it runs is part of the comparison.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::status_codes::StatusCodes;
use crate::tls::TlsSettings;

/// One check of one real server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckSpec {
    pub target: Target,
    pub kind: CheckKind,
    pub timing: Timing,
}

/// Where the probe goes and from where (keepalived's connect_ip, connect_port,
/// bind_to, fwmark).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub connect: SocketAddr,
    /// Source address of the probe.
    pub bind_to: Option<IpAddr>,
    /// SO_MARK on the probe socket, to route it (e.g. through the VIP to a DR real server).
    pub fwmark: Option<u32>,
}

impl Target {
    pub fn new(connect: SocketAddr) -> Self {
        Target { connect, bind_to: None, fwmark: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// Connect within connect_timeout (TCP_CHECK).
    Tcp,
    /// GET every url over plain HTTP (HTTP_GET).
    Http(HttpCheck),
    /// GET every url over TLS (SSL_GET).
    Https(HttpCheck, TlsSettings),
    /// Run a program (MISC_CHECK).
    Misc(MiscCheck),
}

impl CheckKind {
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Tcp => "tcp",
            CheckKind::Http(_) => "http",
            CheckKind::Https(..) => "https",
            CheckKind::Misc(_) => "misc",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpCheck {
    /// Host header and TLS server name; the target address when absent.
    pub virtualhost: Option<String>,
    /// All must pass.
    pub urls: Vec<UrlCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UrlCheck {
    pub path: String,
    pub status: StatusCodes,
    /// Expected MD5 of the body, lowercase hex.
    pub digest: Option<Digest>,
    pub regex: Option<BodyRegex>,
}

impl UrlCheck {
    pub fn new(path: impl Into<String>) -> Self {
        UrlCheck { path: path.into(), status: StatusCodes::default(), digest: None, regex: None }
    }
}

/// An MD5 digest as 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad digest {0:?}: expected 32 hex digits (an MD5 sum)")]
pub struct DigestError(pub String);

impl Digest {
    /// Accepts any case, as keepalived and genhash do.
    pub fn parse(hex: &str) -> Result<Self, DigestError> {
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestError(hex.to_string()));
        }
        Ok(Digest(hex.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A compiled body regex; equal when the pattern text is.
#[derive(Debug, Clone)]
pub struct BodyRegex(Arc<regex::bytes::Regex>);

impl BodyRegex {
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        Ok(BodyRegex(Arc::new(regex::bytes::Regex::new(pattern)?)))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn is_match(&self, body: &[u8]) -> bool {
        self.0.is_match(body)
    }
}

impl PartialEq for BodyRegex {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for BodyRegex {}

impl Hash for BodyRegex {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MiscCheck {
    /// Program and arguments; run directly, no shell.
    pub argv: Vec<String>,
    /// Killed (with its whole process group) after this long; keepalived's misc_timeout.
    pub timeout: Duration,
    /// Exit 2-255 means up with weight exit-2 (keepalived misc_dynamic).
    pub dynamic: bool,
    /// Extra environment, e.g. the real server's address.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

/// keepalived's timing knobs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timing {
    /// Interval between checks.
    pub delay_loop: Duration,
    pub connect_timeout: Duration,
    /// Extra attempts after a failure before the server is marked DOWN: DOWN
    /// comes after `retry + 1` failures in a row.
    pub retry: u32,
    pub delay_before_retry: Duration,
    /// Random delay before the first check, up to this long; `None` spreads the
    /// first check over delay_loop; zero starts at once.
    pub warmup: Option<Duration>,
    /// Start DOWN until a check passes (otherwise start UP).
    pub alpha: bool,
}

impl Timing {
    /// keepalived's defaults for a check type: retry 1 (misc 0), delay_before_retry
    /// 1 s (http/https 3 s), delay_loop 60 s, connect_timeout 5 s.
    pub fn defaults_for(kind: &CheckKind) -> Timing {
        let (retry, delay_before_retry) = match kind {
            CheckKind::Tcp => (1, Duration::from_secs(1)),
            CheckKind::Http(_) | CheckKind::Https(..) => (1, Duration::from_secs(3)),
            CheckKind::Misc(_) => (0, Duration::from_secs(1)),
        };
        Timing {
            delay_loop: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            retry,
            delay_before_retry,
            warmup: None,
            alpha: false,
        }
    }
}

impl CheckSpec {
    /// A spec with keepalived's default timing for its kind.
    pub fn new(target: Target, kind: CheckKind) -> Self {
        let timing = Timing::defaults_for(&kind);
        CheckSpec { target, kind, timing }
    }

    /// The longest a healthy-or-not probe can legitimately take; past this the
    /// scheduler declares it hung rather than wait silently.
    pub fn probe_budget(&self) -> Duration {
        let t = self.timing.connect_timeout;
        match &self.kind {
            CheckKind::Tcp => t,
            // Connect (and handshake), then the response, for every url.
            CheckKind::Http(h) | CheckKind::Https(h, _) => t * 3 * h.urls.len().max(1) as u32,
            CheckKind::Misc(m) => m.timeout + Duration::from_secs(1),
        }
    }
}

impl fmt::Display for CheckSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CheckKind::Misc(m) => write!(f, "misc {}", m.argv.join(" ")),
            kind => write!(f, "{} {}", kind.name(), self.target.connect),
        }
    }
}
