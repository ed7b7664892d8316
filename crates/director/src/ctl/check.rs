//! `directorctl check tcp|http|https`: one probe now, keepalived's genhash
//! made useful: status, body MD5, latency and the reason, as text or JSON.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use checker::spec::BodyRegex;
use checker::{
    CheckKind, CheckSpec, Digest, HttpCheck, ProbeReport, StatusCodes, Target, TlsSettings,
    UrlCheck,
};

use super::CtlError;

/// What to check.
#[derive(Debug, Clone)]
pub enum CheckTarget {
    Tcp(HostPort),
    Http(HttpUrl),
    Https(HttpUrl),
}

/// A parsed `HOST:PORT` (`[v6]:PORT` for IPv6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

/// A parsed `http[s]://host[:port]/path` (the scheme is the subcommand's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

/// How an https check treats the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CertCheck {
    /// Against the system's roots, like curl.
    #[default]
    System,
    /// Against this CA file.
    Ca(PathBuf),
    /// Not at all (keepalived SSL_GET's behaviour).
    Insecure,
}

#[derive(Debug, Clone)]
pub struct CheckArgs {
    pub target: CheckTarget,
    pub virtualhost: Option<String>,
    pub status: Option<StatusCodes>,
    pub digest: Option<Digest>,
    pub regex: Option<BodyRegex>,
    pub timeout: Duration,
    pub cert: CertCheck,
    pub bind_to: Option<IpAddr>,
    pub fwmark: Option<u32>,
    pub json: bool,
}

/// Parses the URL argument of `check http|https`; the scheme, when given, must
/// match `https`.
pub fn parse_url(text: &str, https: bool) -> Result<HttpUrl, String> {
    let uri: http::Uri = text.parse().map_err(|e| format!("bad URL {text:?}: {e}"))?;
    let want = if https { "https" } else { "http" };
    if let Some(scheme) = uri.scheme_str() {
        if scheme != want {
            return Err(format!("bad URL {text:?}: `check {want}` takes {want}:// URLs"));
        }
    }
    let host = uri.host().ok_or_else(|| format!("bad URL {text:?}: no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let path = if path.starts_with('/') { path } else { format!("/{path}") };
    Ok(HttpUrl { host, port, path })
}

/// Runs the check, prints one line (or JSON), and says whether it passed.
pub fn check(args: CheckArgs, out: &mut impl Write) -> Result<bool, CtlError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| CtlError::Io { what: "starting the async runtime".into(), err })?;
    if let (CheckTarget::Https(_), Some(name)) = (&args.target, &args.virtualhost) {
        check_server_name(name)?;
    }
    let shown = shown_target(&args.target);
    let report = runtime.block_on(async {
        let spec = match build_spec(&args).await {
            Ok(spec) => spec,
            Err(BuildError::Resolve(message)) => return Ok(Err(message)),
            Err(BuildError::Tls(e)) => return Err(CtlError::Usage(e.to_string())),
        };
        Ok(Ok(checker::probe::run(&spec).await))
    })?;
    let passed = matches!(&report, Ok(r) if r.is_up());
    let write = |e| CtlError::Io { what: "writing the result".into(), err: e };
    let line = if args.json { json_line(&report) } else { text_line(&shown, &report) };
    writeln!(out, "{line}").map_err(write)?;
    Ok(passed)
}

enum BuildError {
    Resolve(String),
    Tls(checker::tls::TlsConfigError),
}

async fn build_spec(args: &CheckArgs) -> Result<CheckSpec, BuildError> {
    let (host, port, url) = match &args.target {
        CheckTarget::Tcp(target) => (target.host.clone(), target.port, None),
        CheckTarget::Http(url) => (url.host.clone(), url.port, Some((url, false))),
        CheckTarget::Https(url) => (url.host.clone(), url.port, Some((url, true))),
    };
    let connect = resolve(&host, port).await.map_err(BuildError::Resolve)?;
    let target = Target { connect, bind_to: args.bind_to, fwmark: args.fwmark };
    let kind = match url {
        None => CheckKind::Tcp,
        Some((url, https)) => http_kind(args, url, https).map_err(BuildError::Tls)?,
    };
    let mut spec = CheckSpec::new(target, kind);
    spec.timing.connect_timeout = args.timeout;
    Ok(spec)
}

fn http_kind(
    args: &CheckArgs,
    url: &HttpUrl,
    https: bool,
) -> Result<CheckKind, checker::tls::TlsConfigError> {
    let host = &url.host;
    let mut check = UrlCheck::new(url.path.clone());
    check.status = args.status.clone().unwrap_or_default();
    check.digest = args.digest.clone();
    check.regex = args.regex.clone();
    // A name in the URL is the virtual host unless one is given.
    let virtualhost = args
        .virtualhost
        .clone()
        .or_else(|| host.parse::<IpAddr>().is_err().then(|| host.to_string()));
    let http = HttpCheck { virtualhost, urls: vec![check] };
    if !https {
        return Ok(CheckKind::Http(http));
    }
    let tls = match &args.cert {
        CertCheck::Insecure => TlsSettings::insecure()?,
        CertCheck::Ca(path) => TlsSettings::verified(Some(path))?,
        CertCheck::System => TlsSettings::verified(None)?,
    };
    Ok(CheckKind::Https(http, tls))
}

/// Parses the target of `check tcp` (a usage error when bad).
pub fn parse_host_port(target: &str) -> Result<HostPort, String> {
    if let Ok(addr) = target.parse::<SocketAddr>() {
        return Ok(HostPort { host: addr.ip().to_string(), port: addr.port() });
    }
    let bad = |what| format!("bad target {target:?}: {what}");
    let (host, port) = target.rsplit_once(':').ok_or_else(|| bad("expected HOST:PORT"))?;
    let port = port.parse().map_err(|_| bad("the port is not a number 0-65535"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(':') {
        return Err(bad("expected HOST:PORT, [IPv6]:PORT for IPv6"));
    }
    Ok(HostPort { host: host.to_string(), port })
}

/// `--timeout`: a duration above zero.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match crate::duration::parse(text) {
        Ok(d) if d.is_zero() => Err("the timeout must be above zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

/// `--virtualhost` of an https check: it is also the TLS server name.
fn check_server_name(name: &str) -> Result<(), CtlError> {
    TlsSettings::server_name(name).map(|_| ()).map_err(CtlError::Usage)
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let mut found = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    found.next().ok_or_else(|| format!("cannot resolve {host}: no addresses"))
}

fn shown_target(target: &CheckTarget) -> String {
    match target {
        CheckTarget::Tcp(t) => format!("tcp {}:{}", bracketed(&t.host), t.port),
        CheckTarget::Http(u) => format!("http http://{}:{}{}", bracketed(&u.host), u.port, u.path),
        CheckTarget::Https(u) => {
            format!("https https://{}:{}{}", bracketed(&u.host), u.port, u.path)
        }
    }
}

/// An IPv6 address in brackets, as it appears before `:PORT`.
fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn latency_ms(latency: Duration) -> f64 {
    (latency.as_secs_f64() * 1e6).round() / 1e3
}

/// `ok http http://…/ status 200 digest … latency 1.234ms` or `failed … : reason`.
fn text_line(shown: &str, report: &Result<ProbeReport, String>) -> String {
    let report = match report {
        Ok(report) => report,
        Err(message) => return format!("failed {shown}: {message}"),
    };
    let mut details = String::new();
    if let Some(status) = report.status {
        details.push_str(&format!(" status {status}"));
    }
    if let Some(digest) = &report.digest {
        details.push_str(&format!(" digest {digest}"));
    }
    details.push_str(&format!(" latency {}ms", latency_ms(report.latency)));
    match report.failure() {
        None => format!("ok {shown}{details}"),
        Some(failure) => format!("failed {shown}{details}: {failure}"),
    }
}

fn json_line(report: &Result<ProbeReport, String>) -> String {
    let value = match report {
        Ok(report) => serde_json::json!({
            "ok": report.is_up(),
            "status": report.status,
            "digest": report.digest,
            "latency_ms": latency_ms(report.latency),
            "error": report.failure().map(|f| f.to_string()),
            "reason": report.failure().map(|f| f.kind()),
        }),
        Err(message) => serde_json::json!({
            "ok": false, "status": null, "digest": null, "latency_ms": null,
            "error": message, "reason": "resolve",
        }),
    };
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let url = parse_url("http://192.0.2.7:8080/a/b?c=1", false).unwrap();
        assert_eq!(url, HttpUrl { host: "192.0.2.7".into(), port: 8080, path: "/a/b?c=1".into() });
        let url = parse_url("https://[2001:db8::1]/", true).unwrap();
        assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("2001:db8::1", 443, "/"));
        assert_eq!(parse_url("192.0.2.7", false).unwrap().path, "/");
        assert!(parse_url("https://192.0.2.7/", false).unwrap_err().contains("http://"));
        assert!(parse_url("http://", false).is_err());
    }

    #[test]
    fn tcp_targets() {
        let hp = |host: &str, port| HostPort { host: host.into(), port };
        assert_eq!(parse_host_port("192.0.2.7:80"), Ok(hp("192.0.2.7", 80)));
        assert_eq!(parse_host_port("[2001:db8::1]:80"), Ok(hp("2001:db8::1", 80)));
        assert_eq!(parse_host_port("localhost:22"), Ok(hp("localhost", 22)));
        assert!(parse_host_port("192.0.2.7").unwrap_err().contains("HOST:PORT"));
        assert!(parse_host_port("h:port").unwrap_err().contains("port"));
        assert!(parse_host_port("2001:db8::1:80").is_err(), "IPv6 needs brackets");
        assert!(parse_host_port(":80").is_err());
    }

    #[test]
    fn timeouts_above_zero() {
        assert_eq!(parse_timeout("300ms"), Ok(Duration::from_millis(300)));
        assert!(parse_timeout("0").unwrap_err().contains("above zero"));
        assert!(parse_timeout("soon").unwrap_err().contains("soon"));
    }
}
