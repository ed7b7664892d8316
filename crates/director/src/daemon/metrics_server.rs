//! The Prometheus endpoint (`director.metrics`): `GET /metrics` in the text format
//! 0.0.4, served by a small HTTP/1.x responder on the daemon's runtime.
//!
//! One request per connection, answered and closed. A client gets [`READ_TIMEOUT`] for
//! its whole request head (not per read: a byte a second does not keep a connection)
//! and at most [`MAX_HEAD`] bytes of it, [`WRITE_TIMEOUT`] to take the answer and
//! [`LINGER`] to close; each
//! connection is a task of its own and at most [`MAX_CONNECTIONS`] are open (more are
//! closed at once), so a slow or hostile client costs a task and a socket, never the
//! daemon's attention. Rendering runs off the runtime's thread.
//!
//! A scrape asks the virtual-server task for its snapshot and the reconciler's thread
//! for the kernel's counters, each within a bound; what does not answer in time is left
//! out and `director_scrape_success{part}` says so. One scrape is gathered at a time:
//! scrapes that come meanwhile take the next one gathered after they came, so many
//! clients cost the daemon what one does, and no answer is older than its request.
//!
//! A reload that changes `director.metrics` moves the endpoint: the old address is
//! released, the new one bound; when that fails the old one is bound again and the
//! reload is refused.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::metrics::text::CONTENT_TYPE;
use crate::metrics::{self, Reloads, ServicesSnapshot, Snapshot};

use super::services::Command;
use super::{lock, Shared};

/// The request line and headers, at most.
const MAX_HEAD: usize = 8192;
/// For the whole request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// For the whole answer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// After the answer, what the client still sends is read and dropped for this long, up
/// to [`LINGER_BYTES`]: closing with unread data resets the connection, and the client
/// could lose the answer (a 431 to a huge request, say).
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 * 1024;
/// Connections open at once; more are closed as they come.
const MAX_CONNECTIONS: usize = 64;
/// How long a scrape waits for the virtual-server task's snapshot (it may be busy with
/// a reload), and then for the kernel's counters (the reconciler may be busy applying).
const SERVICES_WAIT: Duration = Duration::from_secs(2);
const IPVS_WAIT: Duration = Duration::from_secs(2);

type Rebind = (Option<SocketAddr>, oneshot::Sender<io::Result<()>>);

/// What the rest of the daemon tells the endpoint: reloads to count, addresses to move to.
#[derive(Debug)]
pub(super) struct MetricsState {
    started: SystemTime,
    reloads: Mutex<Reloads>,
    rebinds: mpsc::Sender<Rebind>,
    /// The last exposition and when its gathering began; held while one is gathered.
    last: tokio::sync::Mutex<Option<(Instant, Arc<String>)>>,
}

/// The listening socket (none when `director.metrics` is unset) and its serving loop.
#[derive(Debug)]
pub(super) struct Endpoint {
    listener: Option<TcpListener>,
    addr: Option<SocketAddr>,
    rebinds: mpsc::Receiver<Rebind>,
}

fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    // std sets SO_REUSEADDR (a restart does not wait out TIME_WAIT), not SO_REUSEPORT:
    // a second daemon on the same address fails to start instead of sharing it.
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

/// Binds `addr` (nothing when `None`); must run inside the runtime.
pub(super) fn bind(
    addr: Option<SocketAddr>,
) -> Result<(MetricsState, Endpoint), (SocketAddr, io::Error)> {
    let listener = match addr {
        Some(addr) => Some(listen(addr).map_err(|e| (addr, e))?),
        None => None,
    };
    if let Some(addr) = addr {
        tracing::info!("metrics: serving http://{addr}/metrics");
    }
    let started = SystemTime::now();
    let (rebinds, rebinds_rx) = mpsc::channel(1);
    let reloads = Reloads { ok: 0, failed: 0, last_ok: true, last_success: started };
    Ok((
        MetricsState {
            started,
            reloads: Mutex::new(reloads),
            rebinds,
            last: tokio::sync::Mutex::new(None),
        },
        Endpoint { listener, addr, rebinds: rebinds_rx },
    ))
}

impl MetricsState {
    /// Counts a reload by its answer: refused when it carries an `error`.
    pub(super) fn reloaded(&self, outcome: &serde_json::Value) {
        let mut reloads = lock(&self.reloads);
        if outcome.get("error").is_some() {
            reloads.failed += 1;
            reloads.last_ok = false;
        } else {
            reloads.ok += 1;
            reloads.last_ok = true;
            reloads.last_success = SystemTime::now();
        }
    }

    /// Moves the endpoint to `addr` (`None`: stops serving); nothing when it is there
    /// already. On failure the endpoint stays where it was; the error names `addr`.
    pub(super) async fn rebind(&self, addr: Option<SocketAddr>) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        let stopped = || "the metrics endpoint has stopped".to_string();
        self.rebinds.send((addr, reply)).await.map_err(|_| stopped())?;
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(match addr {
                Some(addr) => format!("director.metrics: cannot listen on {addr}: {e}"),
                None => e.to_string(),
            }),
            Err(_) => Err(stopped()),
        }
    }
}

impl Endpoint {
    /// Serves until the task is aborted.
    pub(super) async fn serve(mut self, shared: Arc<Shared>) {
        let open = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            tokio::select! {
                rebind = self.rebinds.recv() => match rebind {
                    Some((addr, reply)) => {
                        let _ = reply.send(self.rebind(addr));
                    }
                    None => return,
                },
                accepted = accept(self.listener.as_ref()) => match accepted {
                    Ok((stream, peer)) => match open.clone().try_acquire_owned() {
                        Ok(permit) => {
                            let shared = shared.clone();
                            tokio::spawn(async move {
                                answer(stream, &shared).await;
                                drop(permit);
                            });
                        }
                        Err(_) => tracing::debug!(
                            "metrics: {MAX_CONNECTIONS} connections open, closed the one from {peer}"
                        ),
                    },
                    Err(e) => {
                        // Out of file descriptors, say: try again shortly, not in a loop.
                        tracing::warn!("metrics: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
    }

    fn rebind(&mut self, addr: Option<SocketAddr>) -> io::Result<()> {
        if addr == self.addr {
            return Ok(());
        }
        // The old socket goes first: the new address may overlap it (the same port on
        // 0.0.0.0, say), which the kernel refuses while the old one listens.
        self.listener = None;
        match addr.map(listen).transpose() {
            Ok(listener) => {
                self.listener = listener;
                match addr {
                    Some(addr) => tracing::info!("metrics: serving http://{addr}/metrics"),
                    None => tracing::info!("metrics: endpoint closed (director.metrics unset)"),
                }
                self.addr = addr;
                Ok(())
            }
            Err(e) => {
                if let Some(old) = self.addr {
                    match listen(old) {
                        Ok(listener) => self.listener = Some(listener),
                        Err(again) => {
                            tracing::error!("metrics: cannot listen on {old} again: {again}");
                            self.addr = None;
                        }
                    }
                }
                Err(e)
            }
        }
    }
}

async fn accept(listener: Option<&TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// How a request head ended.
enum Head {
    /// Up to and including the blank line.
    Complete(Vec<u8>),
    TooLarge,
    /// The client closed before the blank line.
    Closed,
}

async fn read_head(stream: &mut TcpStream) -> io::Result<Head> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let room = MAX_HEAD + 1 - head.len();
        let n = stream.read(&mut chunk[..room.min(2048)]).await?;
        if n == 0 {
            return Ok(Head::Closed);
        }
        // Only the new bytes (and the three before them) can complete the blank line.
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&chunk[..n]);
        if let Some(end) = blank_line(&head[from..]) {
            head.truncate(from + end);
            return Ok(Head::Complete(head));
        }
        if head.len() > MAX_HEAD {
            return Ok(Head::TooLarge);
        }
    }
}

/// Where the head ends in `bytes`: after `\r\n\r\n` (or a bare `\n\n`).
fn blank_line(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len()).find_map(|i| {
        let rest = &bytes[i..];
        if rest.starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if rest.starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        }
    })
}

async fn answer(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let response = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Err(_) => plain(408, "Request Timeout", "no complete request within 5 s\n"),
        Ok(Err(_) | Ok(Head::Closed)) => return,
        Ok(Ok(Head::TooLarge)) => {
            plain(431, "Request Header Fields Too Large", "request head over 8 KiB\n")
        }
        Ok(Ok(Head::Complete(head))) => route(&head, shared).await,
    };
    let written = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(&response).await?;
        stream.shutdown().await
    });
    if let Ok(Err(e)) = written.await {
        tracing::debug!("metrics: answer: {e}");
        return;
    }
    let drained = async {
        let mut sink = [0u8; 4096];
        let mut total = 0;
        while total < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drained).await;
}

/// The answer to one complete request head.
async fn route(head: &[u8], shared: &Shared) -> Vec<u8> {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return plain(400, "Bad Request", "malformed request line\n");
    };
    if !version.starts_with("HTTP/1.") {
        return plain(400, "Bad Request", "HTTP/1.0 or HTTP/1.1 only\n");
    }
    let path = target.split('?').next().unwrap_or_default();
    if path != "/metrics" {
        return plain(404, "Not Found", "not found: the metrics are at /metrics\n");
    }
    let with_body = match method {
        "GET" => true,
        "HEAD" => false,
        _ => {
            let body = "GET or HEAD only\n";
            let mut response =
                header(405, "Method Not Allowed", PLAIN, "Allow: GET, HEAD\r\n", body.len());
            response.extend_from_slice(body.as_bytes());
            return response;
        }
    };
    let Some(text) = exposition(shared).await else {
        return plain(500, "Internal Server Error", "rendering the metrics failed\n");
    };
    let mut response = header(200, "OK", CONTENT_TYPE, "", text.len());
    if with_body {
        response.extend_from_slice(text.as_bytes());
    }
    response
}

const PLAIN: &str = "text/plain; charset=utf-8";

/// A response head; `extra` are more header lines, each ending in CRLF.
fn header(code: u16, reason: &str, content_type: &str, extra: &str, length: usize) -> Vec<u8> {
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\
         Connection: close\r\n{extra}\r\n"
    )
    .into_bytes()
}

fn plain(code: u16, reason: &str, body: &str) -> Vec<u8> {
    let mut response = header(code, reason, PLAIN, "", body.len());
    response.extend_from_slice(body.as_bytes());
    response
}

/// The exposition for a request that came now: gathered after it came, by this request
/// or by another one while this one waited for its turn.
async fn exposition(shared: &Shared) -> Option<Arc<String>> {
    let asked = Instant::now();
    let mut last = shared.metrics.last.lock().await;
    if let Some((began, text)) = &*last {
        if *began >= asked {
            return Some(text.clone());
        }
    }
    let began = Instant::now();
    let snapshot = snapshot(shared).await;
    match tokio::task::spawn_blocking(move || metrics::render(&snapshot)).await {
        Ok(text) => {
            let text = Arc::new(text);
            *last = Some((began, text.clone()));
            Some(text)
        }
        Err(e) => {
            tracing::error!("metrics: rendering failed: {e}");
            None
        }
    }
}

/// Everything a scrape shows, each part within its bound.
async fn snapshot(shared: &Shared) -> Snapshot {
    let services = lock(&shared.services).clone();
    let has_services = services.is_some();
    let services = match services {
        Some(commands) => services_snapshot(commands).await,
        None => None,
    };
    Snapshot {
        version: env!("CARGO_PKG_VERSION").to_string(),
        start_time: shared.metrics.started,
        reloads: *lock(&shared.metrics.reloads),
        vrrp: shared.vrrp.borrow().clone(),
        has_services,
        services,
    }
}

async fn services_snapshot(commands: mpsc::Sender<Command>) -> Option<ServicesSnapshot> {
    let asked = async {
        let (reply, answer) = oneshot::channel();
        commands.send(Command::Metrics(reply)).await.ok()?;
        answer.await.ok()
    };
    let answer = match tokio::time::timeout(SERVICES_WAIT, asked).await {
        Ok(Some(answer)) => answer,
        Ok(None) => return None,
        Err(_) => {
            tracing::warn!(
                "metrics: the virtual-server task did not answer within {SERVICES_WAIT:?}"
            );
            return None;
        }
    };
    let mut snapshot = answer.snapshot;
    snapshot.ipvs = match tokio::time::timeout(IPVS_WAIT, answer.ipvs).await {
        Ok(Ok(listed)) => Some(listed),
        Ok(Err(e)) => {
            tracing::warn!("metrics: IPVS counters: {e}");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: the IPVS counters were not read within {IPVS_WAIT:?}");
            None
        }
    };
    Some(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_ends_at_the_first_blank_line() {
        assert_eq!(blank_line(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"), Some(27));
        assert_eq!(blank_line(b"GET / HTTP/1.0\n\n"), Some(16));
        assert_eq!(blank_line(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
    }
}
