//! `directorctl check` against a real nginx (integration/testkit): the line it
//! prints, its JSON, and its exit status (0 pass, 1 fail, 2 bad usage).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::process::{Command, Output};

use testkit::site::{self, FIXED_MD5, FIXED_PATH, SECOND_HOST, SECOND_INDEX_MD5, TLS_NAME};
use testkit::{BlackHole, Nginx};

fn directorctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_directorctl")).args(args).output().unwrap()
}

/// Exit code and stdout (stderr must be empty when the command ran).
fn check(args: &[&str]) -> (i32, String) {
    let mut full = vec!["check"];
    full.extend_from_slice(args);
    let out = directorctl(&full);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{args:?}: stderr {stderr}");
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

fn json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut full = args.to_vec();
    full.push("--json");
    let (code, stdout) = check(&full);
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout}");
    (code, serde_json::from_str(&stdout).unwrap())
}

#[test]
fn http_pass_prints_status_digest_latency() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let url = nginx.http_url(FIXED_PATH);
    let (code, line) = check(&["http", &url]);
    assert_eq!(code, 0, "{line}");
    let expected = format!("ok http {url} status 200 digest {FIXED_MD5} latency ");
    assert!(line.starts_with(&expected), "{line}");
    assert!(line.trim_end().ends_with("ms"), "{line}");

    let upper = FIXED_MD5.to_uppercase();
    let (code, value) = json(&["http", &url, "--digest", &upper, "--regex", "fixed"]);
    assert_eq!(code, 0, "{value}");
    assert_eq!(value["ok"], true);
    assert_eq!(value["status"], 200);
    assert_eq!(value["digest"], FIXED_MD5);
    assert!(value["error"].is_null());
    assert!(value["latency_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn http_failures_say_why_and_exit_1() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let down = nginx.http_url(site::DOWN_PATH);
    let (code, line) = check(&["http", &down]);
    assert_eq!(code, 1);
    assert!(line.starts_with(&format!("failed http {down} status 503 digest ")), "{line}");
    assert!(line.trim_end().ends_with(": GET /down: status 503, expected 200-299"), "{line}");

    let (code, value) = json(&["http", &down, "--status", "200,500-503"]);
    assert_eq!((code, &value["ok"]), (0, &serde_json::json!(true)), "{value}");

    let fixed = nginx.http_url(FIXED_PATH);
    let wrong = "00000000000000000000000000000000";
    let (code, value) = json(&["http", &fixed, "--digest", wrong]);
    assert_eq!(code, 1);
    assert_eq!(value["reason"], "digest");
    let error = value["error"].as_str().unwrap();
    assert!(error.contains(wrong) && error.contains(FIXED_MD5), "{error}");

    let (code, value) = json(&["http", &fixed, "--regex", "^no such text$"]);
    assert_eq!((code, value["reason"].as_str()), (1, Some("regex")), "{value}");
}

#[test]
fn virtualhost_selects_the_server_block() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let url = nginx.http_url("/");
    let (code, value) = json(&["http", &url, "--virtualhost", SECOND_HOST]);
    assert_eq!(code, 0);
    assert_eq!(value["digest"], SECOND_INDEX_MD5);
    let (_, value) = json(&["http", &url]);
    assert_eq!(value["digest"], site::DEFAULT_INDEX_MD5);
}

#[test]
fn https_insecure_ca_and_sni() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let sni = nginx.https_url("/sni");
    let ca = nginx.ca_file();
    let ca = ca.to_str().unwrap();

    // Self-signed: the default (system roots) refuses it, -k and --ca accept it.
    let (code, value) = json(&["https", &sni, "--virtualhost", TLS_NAME]);
    assert_eq!((code, value["reason"].as_str()), (1, Some("tls")), "{value}");
    let (code, line) =
        check(&["https", &sni, "-k", "--virtualhost", TLS_NAME, "--regex", "sni=www"]);
    assert_eq!(code, 0, "{line}");
    let (code, line) = check(&["https", &sni, "--ca", ca, "--virtualhost", TLS_NAME]);
    assert_eq!(code, 0, "{line}");
    // The name is checked too.
    let (code, line) = check(&["https", &sni, "--ca", ca, "--virtualhost", SECOND_HOST]);
    assert_eq!(code, 1);
    assert!(line.contains("tls: ") && line.contains("not valid for name"), "{line}");
}

#[test]
fn tcp_refused_and_timeout() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let (code, line) = check(&["tcp", &nginx.http_addr().to_string()]);
    assert_eq!(code, 0, "{line}");
    assert!(line.starts_with(&format!("ok tcp {} latency ", nginx.http_addr())), "{line}");

    let refused = testkit::refused_addr().to_string();
    let (code, value) = json(&["tcp", &refused]);
    assert_eq!((code, value["error"].as_str()), (1, Some("connection refused")));

    let hole = BlackHole::bind();
    let url = format!("http://{}/", hole.addr());
    let started = std::time::Instant::now();
    let (code, value) = json(&["http", &url, "--timeout", "300ms"]);
    assert_eq!((code, value["reason"].as_str()), (1, Some("response_timeout")), "{value}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn bad_usage_exits_2_naming_the_value() {
    for (args, needle) in [
        (&["http", "http://127.0.0.1/", "--status", "2xx"][..], "2xx"),
        (&["http", "http://127.0.0.1/", "--digest", "abc"], "abc"),
        (&["http", "http://127.0.0.1/", "--regex", "("], "unclosed group"),
        (&["http", "https://127.0.0.1/"], "http://"),
        (&["tcp", "127.0.0.1:80", "--timeout", "soon"], "soon"),
        (&["tcp", "127.0.0.1:80", "--timeout", "0"], "above zero"),
        (&["tcp", "192.0.2.7"], "HOST:PORT"),
        (&["tcp", "host:port"], "port"),
        (&["https", "https://127.0.0.1/", "--virtualhost", "bad_host:443"], "bad TLS server name"),
        (&["https", "https://127.0.0.1/", "-k", "--ca", "x.pem"], "--ca"),
    ] {
        let mut full = vec!["check"];
        full.extend_from_slice(args);
        let out = directorctl(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let out = directorctl(&["check", "https", "https://127.0.0.1/", "--ca", "/nonexistent.pem"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CA file /nonexistent.pem"));
}
