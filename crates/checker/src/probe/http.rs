//! HTTP_GET / SSL_GET: one fresh connection per url, `Connection: close`, the
//! whole body read (chunked decoded) and hashed.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, HOST, USER_AGENT};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use md5::{Digest as _, Md5};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::connect::connect;
use crate::outcome::{Failure, ProbeReport};
use crate::spec::{HttpCheck, Target, UrlCheck};
use crate::tls::TlsSettings;

/// How much of a body is kept for the regex (its matches must start and end in
/// the first MiB); the digest covers all of it.
const REGEX_BODY_LIMIT: usize = 1 << 20;
/// A body past this is a failure: a health page is small, and a server that
/// streams forever must not cost a core of hashing per check.
const BODY_LIMIT: u64 = 16 << 20;

const AGENT: &str = concat!("director-checker/", env!("CARGO_PKG_VERSION"));

pub(crate) async fn run(
    target: &Target,
    check: &HttpCheck,
    tls: Option<&TlsSettings>,
    timeout: Duration,
) -> ProbeReport {
    let start = Instant::now();
    let host =
        check.virtualhost.clone().unwrap_or_else(|| host_header(target.connect, tls.is_some()));
    let mut report = ProbeReport::up(Duration::ZERO);
    if check.urls.is_empty() {
        // Never pass a check that checked nothing (configs refuse this earlier).
        let error = "no urls configured".to_string();
        report.outcome = crate::Outcome::Down(Failure::Http { path: "-".into(), error });
    }
    for url in &check.urls {
        let fetched = fetch(target, &host, check.virtualhost.as_deref(), tls, url, timeout).await;
        match fetched {
            Ok(response) => {
                let failure = judge(url, &response);
                report.status = Some(response.status);
                report.digest = Some(response.digest);
                if let Some(failure) = failure {
                    report.outcome = crate::Outcome::Down(failure);
                    break;
                }
            }
            Err(failure) => {
                report.outcome = crate::Outcome::Down(failure);
                break;
            }
        }
    }
    report.latency = start.elapsed();
    report
}

/// `Host:` for a check without a virtualhost: the address, with the port unless
/// it is the scheme's default.
fn host_header(addr: SocketAddr, tls: bool) -> String {
    let default_port = if tls { 443 } else { 80 };
    match (addr, addr.port() == default_port) {
        (SocketAddr::V4(a), true) => a.ip().to_string(),
        (SocketAddr::V6(a), true) => format!("[{}]", a.ip()),
        (a, false) => a.to_string(),
    }
}

struct Response {
    status: u16,
    digest: String,
    /// The body's first REGEX_BODY_LIMIT bytes, kept only when a regex needs them.
    body: Vec<u8>,
}

fn judge(url: &UrlCheck, response: &Response) -> Option<Failure> {
    let path = || url.path.clone();
    if !url.status.contains(response.status) {
        return Some(Failure::Status {
            path: path(),
            got: response.status,
            expected: url.status.clone(),
        });
    }
    if let Some(expected) = &url.digest {
        if expected.as_str() != response.digest {
            return Some(Failure::Digest {
                path: path(),
                expected: expected.to_string(),
                got: response.digest.clone(),
            });
        }
    }
    if let Some(regex) = &url.regex {
        if !regex.is_match(&response.body) {
            return Some(Failure::Regex { path: path(), pattern: regex.as_str().to_string() });
        }
    }
    None
}

async fn fetch(
    target: &Target,
    host: &str,
    server_name: Option<&str>,
    tls: Option<&TlsSettings>,
    url: &UrlCheck,
    timeout: Duration,
) -> Result<Response, Failure> {
    let stream = connect(target, timeout).await?;
    let keep_body = url.regex.is_some();
    let Some(tls) = tls else {
        return exchange(stream, host, url, keep_body, timeout).await;
    };
    let address = || target.connect.ip().to_string();
    let name = match server_name.map(TlsSettings::server_name) {
        Some(Ok(name)) => name,
        // Unverified, a name that cannot be SNI is not fatal: send none, as
        // for an address.
        Some(Err(e)) if tls.verify() => return Err(Failure::Tls(e)),
        Some(Err(_)) | None => TlsSettings::server_name(&address()).map_err(Failure::Tls)?,
    };
    let connector = tokio_rustls::TlsConnector::from(tls.client_config());
    let stream = match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
        Err(_) => return Err(Failure::Tls(format!("handshake timed out after {timeout:?}"))),
        Ok(Err(e)) => return Err(Failure::Tls(error_chain(&e))),
        Ok(Ok(stream)) => stream,
    };
    exchange(stream, host, url, keep_body, timeout).await
}

/// Sends the GET and reads the answer, all within `timeout`.
async fn exchange<S>(
    stream: S,
    host: &str,
    url: &UrlCheck,
    keep_body: bool,
    timeout: Duration,
) -> Result<Response, Failure>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let http_err = |error: String| Failure::Http { path: url.path.clone(), error };
    let request = http::Request::get(url.path.as_str())
        .header(HOST, host)
        .header(CONNECTION, "close")
        .header(USER_AGENT, AGENT)
        .body(Empty::<Bytes>::new())
        .map_err(|e| http_err(format!("bad request: {e}")))?;
    let work = async {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| http_err(error_chain(&e)))?;
        let mut conn = std::pin::pin!(conn);
        let mut answer = std::pin::pin!(async {
            let response =
                sender.send_request(request).await.map_err(|e| http_err(error_chain(&e)))?;
            read_body(response, keep_body).await.map_err(|e| http_err(error_chain(&*e)))
        });
        // The connection future does the I/O; the answer completes from it.
        tokio::select! {
            answer = &mut answer => answer,
            _ = &mut conn => answer.await,
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Failure::ResponseTimeout { path: url.path.clone(), after: timeout }),
    }
}

async fn read_body(
    response: http::Response<hyper::body::Incoming>,
    keep_body: bool,
) -> Result<Response, Box<dyn std::error::Error + Send + Sync>> {
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut md5 = Md5::new();
    let mut kept = Vec::new();
    let mut length = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            length += data.len() as u64;
            if length > BODY_LIMIT {
                return Err(format!("body larger than {} MiB", BODY_LIMIT >> 20).into());
            }
            md5.update(&data);
            if keep_body && kept.len() < REGEX_BODY_LIMIT {
                let room = REGEX_BODY_LIMIT - kept.len();
                kept.extend_from_slice(&data[..data.len().min(room)]);
            }
        }
    }
    Ok(Response { status, digest: hex(&md5.finalize()), body: kept })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// An error and its causes on one line: "connection error: unexpected end of file".
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_names_the_port_only_when_not_default() {
        let v4: SocketAddr = "192.0.2.7:80".parse().unwrap();
        assert_eq!(host_header(v4, false), "192.0.2.7");
        assert_eq!(host_header(v4, true), "192.0.2.7:80");
        let v6: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
        assert_eq!(host_header(v6, true), "[2001:db8::1]");
        assert_eq!(host_header(v6, false), "[2001:db8::1]:443");
    }

    #[test]
    fn md5_hex_of_known_input() {
        assert_eq!(hex(&Md5::digest(b"")), "d41d8cd98f00b204e9800998ecf8427e");
    }

    /// A one-shot server that reads the request, answers `reply` raw, and closes.
    async fn answering(reply: &'static [u8]) -> SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            let _ = conn.write_all(reply).await;
        });
        addr
    }

    async fn get(addr: SocketAddr) -> ProbeReport {
        let check = HttpCheck { virtualhost: None, urls: vec![UrlCheck::new("/")] };
        run(&Target::new(addr), &check, None, Duration::from_secs(2)).await
    }

    #[tokio::test]
    async fn garbage_instead_of_http_is_a_named_failure() {
        let report = get(answering(b"SSH-2.0-OpenSSH_9.2\r\n").await).await;
        let failure = report.failure().unwrap();
        assert_eq!(failure.kind(), "http_error", "{failure}");
        assert!(failure.to_string().starts_with("GET /: "), "{failure}");
    }

    #[tokio::test]
    async fn a_body_cut_short_is_a_failure_not_a_pass() {
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this";
        let report = get(answering(reply).await).await;
        assert_eq!(report.failure().map(Failure::kind), Some("http_error"), "{report:?}");
    }

    #[tokio::test]
    async fn a_close_without_answer_is_a_failure() {
        let report = get(answering(b"").await).await;
        assert_eq!(report.failure().map(Failure::kind), Some("http_error"), "{report:?}");
    }

    #[tokio::test]
    async fn no_urls_never_passes() {
        let addr = answering(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
        let check = HttpCheck { virtualhost: None, urls: vec![] };
        let report = run(&Target::new(addr), &check, None, Duration::from_secs(2)).await;
        assert_eq!(report.failure().unwrap().to_string(), "GET -: no urls configured");
    }

    #[tokio::test]
    async fn an_endless_body_stops_at_the_limit() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let _ = conn.read(&mut [0u8; 1024]).await;
            let _ = conn.write_all(b"HTTP/1.0 200 OK\r\n\r\n").await;
            let block = vec![b'x'; 1 << 16];
            while conn.write_all(&block).await.is_ok() {}
        });
        let report = get(addr).await;
        let failure = report.failure().unwrap().to_string();
        assert_eq!(failure, "GET /: body larger than 16 MiB", "{report:?}");
    }

    #[tokio::test]
    async fn a_body_delimited_by_close_is_read_whole() {
        let reply = b"HTTP/1.0 200 OK\r\n\r\nhello\n";
        let report = get(answering(reply).await).await;
        assert!(report.is_up(), "{report:?}");
        assert_eq!(report.digest.as_deref(), Some("b1946ac92492d2347c6235b4d2611184"));
    }
}
