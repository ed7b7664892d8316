//! directord's Prometheus endpoint, scraped from inside a network namespace (each has
//! its own loopback, so every director can serve on 127.0.0.1:9310): a plain
//! `GET /metrics`, and the value of one series read back.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::netns::Netns;

/// Connect, send and read each get this long.
const TIMEOUT: Duration = Duration::from_secs(5);

/// `GET /metrics` on `addr` from a thread in `ns`: the body of a 200 answer, else what
/// went wrong.
pub fn scrape(ns: &Netns, addr: SocketAddr) -> Result<String, String> {
    ns.in_thread(move || get(addr)).join().map_err(|_| "scrape thread panicked".to_string())?
}

/// `GET /metrics` on `addr` from this thread's namespace.
pub fn get(addr: SocketAddr) -> Result<String, String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\n\r\n")
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| format!("read from {addr}: {e}"))?;
    let text = String::from_utf8(answer).map_err(|e| format!("{addr}: {e}"))?;
    let (head, body) =
        text.split_once("\r\n\r\n").ok_or_else(|| format!("{addr}: no HTTP head in {text:?}"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("{addr}: {status}"));
    }
    if !head.contains("Content-Type: text/plain; version=0.0.4") {
        return Err(format!("{addr}: not the text format 0.0.4: {head}"));
    }
    Ok(body.to_string())
}

/// The value of the series `name{labels}` (labels in the order the daemon writes them),
/// if the scrape has it.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut series = name.to_string();
    if !labels.is_empty() {
        let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        series = format!("{series}{{{}}}", inner.join(","));
    }
    text.lines().find_map(|l| l.strip_prefix(&series)?.strip_prefix(' ')?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_finds_the_exact_series() {
        let text = "# HELP a x\n# TYPE a gauge\na{i=\"vi1\",s=\"MASTER\"} 1\na{i=\"vi10\",s=\"MASTER\"} 0\nb 7.5\n";
        assert_eq!(value(text, "a", &[("i", "vi1"), ("s", "MASTER")]), Some(1.0));
        assert_eq!(value(text, "a", &[("i", "vi10"), ("s", "MASTER")]), Some(0.0));
        assert_eq!(value(text, "b", &[]), Some(7.5));
        assert_eq!(value(text, "a", &[("i", "vi")]), None);
    }
}
