//! The fixtures themselves: the site's digests are right (checked with
//! coreutils' md5sum), nginx serves what the docs say, and is gone after drop.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use testkit::{raw, site, BlackHole, Nginx};

fn md5sum(data: &[u8]) -> String {
    let mut child = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("md5sum (coreutils)");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

#[test]
fn the_published_digests_are_the_md5_of_the_bodies() {
    assert_eq!(md5sum(site::DEFAULT_INDEX_BODY.as_bytes()), site::DEFAULT_INDEX_MD5);
    assert_eq!(md5sum(site::SECOND_INDEX_BODY.as_bytes()), site::SECOND_INDEX_MD5);
    assert_eq!(md5sum(site::FIXED_BODY.as_bytes()), site::FIXED_MD5);
    assert_eq!(md5sum(site::chunked_body().as_bytes()), site::CHUNKED_MD5);
    let large = site::large_body();
    assert_eq!(large.len(), site::LARGE_LEN);
    assert_eq!(md5sum(&large), site::LARGE_MD5);
}

#[test]
fn nginx_serves_the_documented_site() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let get = |host: &str, path: &str| raw::get(nginx.http_addr(), host, path).unwrap();

    let r = get("127.0.0.1", "/");
    assert_eq!((r.status, r.body.as_slice()), (200, site::DEFAULT_INDEX_BODY.as_bytes()));
    let r = get(site::SECOND_HOST, "/");
    assert_eq!((r.status, r.body.as_slice()), (200, site::SECOND_INDEX_BODY.as_bytes()));
    let r = get("127.0.0.1", site::FIXED_PATH);
    assert_eq!((r.status, r.body.as_slice()), (200, site::FIXED_BODY.as_bytes()));
    assert_eq!(get("127.0.0.1", site::DOWN_PATH).status, 503);
    let r = get("127.0.0.1", site::REDIRECT_PATH);
    assert_eq!(r.status, 301);
    assert!(r.header("location").unwrap().ends_with(site::FIXED_PATH), "{r:?}");
    let r = get("127.0.0.1", site::CHUNKED_PATH);
    assert!(r.is_chunked(), "{:?}", r.headers);
    let (body, _) = raw::decode_chunked(&r.body).unwrap();
    assert_eq!(String::from_utf8(body).unwrap(), site::chunked_body());
    let r = get("127.0.0.1", site::LARGE_PATH);
    assert_eq!(r.body.len(), site::LARGE_LEN);
    assert!(std::fs::read_to_string(nginx.ca_file()).unwrap().contains("BEGIN CERTIFICATE"));
}

#[test]
fn dropping_the_fixture_kills_nginx() {
    let Some(mut nginx) = Nginx::start_or_skip() else { return };
    let proc_dir = format!("/proc/{}", nginx.pid());
    assert!(std::path::Path::new(&proc_dir).exists());
    let http = nginx.http_addr();
    nginx.stop();
    let refused = TcpStream::connect(http).map_err(|e| e.kind());
    assert_eq!(refused.err(), Some(ErrorKind::ConnectionRefused));
    drop(nginx);
    // Reaped, so not even a zombie is left.
    assert!(!std::path::Path::new(&proc_dir).exists());
}

#[test]
fn black_hole_accepts_and_never_answers_refused_refuses() {
    let hole = BlackHole::bind();
    let mut stream = TcpStream::connect(hole.addr()).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let err = stream.read(&mut [0; 16]).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err}");

    let refused = TcpStream::connect(testkit::refused_addr()).map_err(|e| e.kind());
    assert_eq!(refused.err(), Some(ErrorKind::ConnectionRefused));
}
