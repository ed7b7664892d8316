//! The client side: plain HTTP/1.0 GETs, one TCP connection each (so IPVS schedules
//! every request anew), from a thread inside the client namespace.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use testkit::netns::Netns;

/// Per request: connect, send and read each get this long. A healthy path under TCG
/// answers in a few milliseconds; a black-holed one (a VIP that nobody owns) fails
/// here rather than hanging a test.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /` on `addr`; the body (trimmed) of a 200 answer, else what went wrong.
pub fn get(addr: SocketAddr, timeout: Duration) -> Result<String, String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n")
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| format!("read from {addr}: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) =
        text.split_once("\r\n\r\n").ok_or_else(|| format!("{addr}: no HTTP header in {text:?}"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("{addr}: {status}"));
    }
    Ok(body.trim().to_string())
}

/// Responses counted by body (the server's name), and the failures in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub by_server: BTreeMap<String, usize>,
    pub errors: Vec<String>,
}

impl Tally {
    pub fn count(&self, server: &str) -> usize {
        self.by_server.get(server).copied().unwrap_or(0)
    }

    pub fn ok(&self) -> usize {
        self.by_server.values().sum()
    }

    /// Every request answered, and only by `servers`.
    pub fn all_from(&self, servers: &[&str]) -> bool {
        self.errors.is_empty() && self.by_server.keys().all(|s| servers.contains(&s.as_str()))
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.by_server)?;
        if !self.errors.is_empty() {
            write!(f, ", {} failed (first: {})", self.errors.len(), self.errors[0])?;
        }
        Ok(())
    }
}

/// `n` GETs on `addr` from inside `client`, one after the other.
pub fn requests(client: &Netns, addr: SocketAddr, n: usize) -> Tally {
    client
        .in_thread(move || {
            let mut tally = Tally::default();
            for _ in 0..n {
                match get(addr, REQUEST_TIMEOUT) {
                    Ok(body) => *tally.by_server.entry(body).or_default() += 1,
                    Err(e) => tally.errors.push(e),
                }
            }
            tally
        })
        .join()
        .unwrap_or_else(|_| panic!("lab: client thread panicked"))
}
