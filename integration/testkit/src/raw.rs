//! A bare HTTP/1.1 client over std sockets, independent of the code under
//! test: to see what a server really sent (framing, headers) on the wire.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One response, as received: the head parsed, the body still framed.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// Everything after the blank line, as sent (still chunk-encoded if it was).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    pub fn is_chunked(&self) -> bool {
        self.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    }
}

/// `GET path` with `Host: host` and `Connection: close`, read to EOF.
pub fn get(addr: SocketAddr, host: &str, path: &str) -> io::Result<RawResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse(&raw)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn parse(raw: &[u8]) -> io::Result<RawResponse> {
    let end =
        raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| invalid("no end of head"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| invalid("head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(&format!("bad status line {status_line:?}")))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(RawResponse { status, headers, body: raw[end + 4..].to_vec() })
}

/// Decodes a chunked body (RFC 9112 section 7.1); fails unless it is complete
/// (ends with the zero-size chunk). Returns the data and how many data chunks
/// carried it.
pub fn decode_chunked(mut body: &[u8]) -> io::Result<(Vec<u8>, usize)> {
    let mut data = Vec::new();
    let mut chunks = 0;
    loop {
        let eol =
            body.windows(2).position(|w| w == b"\r\n").ok_or_else(|| invalid("no chunk size"))?;
        let size_field = std::str::from_utf8(&body[..eol]).map_err(|_| invalid("chunk size"))?;
        // A chunk extension (";name=value") may follow the size.
        let size_hex = size_field.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| invalid(&format!("bad chunk size {size_field:?}")))?;
        body = &body[eol + 2..];
        if size == 0 {
            return Ok((data, chunks));
        }
        if body.len() < size + 2 || &body[size..size + 2] != b"\r\n" {
            return Err(invalid("truncated chunk"));
        }
        data.extend_from_slice(&body[..size]);
        chunks += 1;
        body = &body[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_chunks_with_extensions_and_refuses_truncation() {
        let (data, n) = decode_chunked(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!((data.as_slice(), n), (&b"abcde"[..], 2));
        assert!(decode_chunked(b"3\r\nabc\r\n").is_err(), "no last chunk");
        assert!(decode_chunked(b"5\r\nabc\r\n0\r\n\r\n").is_err(), "short chunk");
    }

    #[test]
    fn parses_status_and_headers() {
        let r = parse(
            b"HTTP/1.1 301 Moved\r\nLocation: /x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        );
        let r = r.unwrap();
        assert_eq!(r.status, 301);
        assert_eq!(r.header("LOCATION"), Some("/x"));
        assert!(r.is_chunked());
        assert_eq!(r.body, b"0\r\n\r\n");
    }
}
