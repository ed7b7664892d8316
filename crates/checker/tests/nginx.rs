//! HTTP, HTTPS and TCP probes against a real nginx on loopback (see
//! `testkit::Nginx` for what it serves). Each test starts its own nginx.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use checker::spec::BodyRegex;
use checker::{
    probe, CheckKind, CheckSpec, Digest, Failure, HttpCheck, ProbeReport, Target, TlsSettings,
    UrlCheck,
};
use md5::Digest as _;
use testkit::{raw, site, Nginx};

/// Generous: on loopback anything slower is a failure worth seeing.
const TIMEOUT: Duration = Duration::from_secs(3);

fn url(path: &str) -> UrlCheck {
    UrlCheck::new(path)
}

fn with_digest(path: &str, md5: &str) -> UrlCheck {
    UrlCheck { digest: Some(Digest::parse(md5).unwrap()), ..url(path) }
}

fn with_regex(path: &str, pattern: &str) -> UrlCheck {
    UrlCheck { regex: Some(BodyRegex::new(pattern).unwrap()), ..url(path) }
}

fn http(addr: SocketAddr, virtualhost: Option<&str>, urls: Vec<UrlCheck>) -> CheckSpec {
    let check = HttpCheck { virtualhost: virtualhost.map(str::to_string), urls };
    spec(addr, CheckKind::Http(check))
}

fn https(
    addr: SocketAddr,
    virtualhost: Option<&str>,
    tls: TlsSettings,
    urls: Vec<UrlCheck>,
) -> CheckSpec {
    let check = HttpCheck { virtualhost: virtualhost.map(str::to_string), urls };
    spec(addr, CheckKind::Https(check, tls))
}

fn spec(addr: SocketAddr, kind: CheckKind) -> CheckSpec {
    let mut spec = CheckSpec::new(Target::new(addr), kind);
    spec.timing.connect_timeout = TIMEOUT;
    spec
}

fn assert_up(report: &ProbeReport) {
    assert!(report.is_up(), "expected up, got {report:?}");
}

/// The failure of a probe that must have failed.
fn failure(report: ProbeReport) -> Failure {
    report.failure().cloned().unwrap_or_else(|| panic!("expected a failure, got {report:?}"))
}

fn md5_hex(data: &[u8]) -> String {
    md5::Md5::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn http_get_passes_with_status_and_digest() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let report = probe::run(&http(
        nginx.http_addr(),
        None,
        vec![with_digest(site::FIXED_PATH, site::FIXED_MD5)],
    ))
    .await;
    assert_up(&report);
    assert_eq!(report.status, Some(200));
    assert_eq!(report.digest.as_deref(), Some(site::FIXED_MD5));
}

#[tokio::test]
async fn wrong_status_names_what_came_and_what_was_expected() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let report = probe::run(&http(nginx.http_addr(), None, vec![url(site::DOWN_PATH)])).await;
    let failure = failure(report);
    let Failure::Status { path, got, expected } = &failure else { panic!("{failure:?}") };
    assert_eq!(
        (path.as_str(), *got, expected.to_string().as_str()),
        (site::DOWN_PATH, 503, "200-299")
    );
    assert_eq!(failure.to_string(), "GET /down: status 503, expected 200-299");
}

#[tokio::test]
async fn status_list_accepts_the_redirect_which_is_not_followed() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let listed = UrlCheck { status: "200,301-302".parse().unwrap(), ..url(site::REDIRECT_PATH) };
    let report = probe::run(&http(nginx.http_addr(), None, vec![listed])).await;
    assert_up(&report);
    assert_eq!(report.status, Some(301));

    // With the default (2xx) the same answer fails: the 301 is judged as is.
    let report = probe::run(&http(nginx.http_addr(), None, vec![url(site::REDIRECT_PATH)])).await;
    assert!(matches!(failure(report), Failure::Status { got: 301, .. }));
}

#[tokio::test]
async fn wrong_digest_carries_both_values() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let wrong = "0123456789abcdef0123456789abcdef";
    let report =
        probe::run(&http(nginx.http_addr(), None, vec![with_digest(site::FIXED_PATH, wrong)]))
            .await;
    let failure = failure(report);
    assert_eq!(
        failure,
        Failure::Digest {
            path: site::FIXED_PATH.into(),
            expected: wrong.into(),
            got: site::FIXED_MD5.into()
        }
    );
    let text = failure.to_string();
    assert!(text.contains(wrong) && text.contains(site::FIXED_MD5), "{text}");
}

#[tokio::test]
async fn digest_given_in_uppercase_still_matches() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let upper = site::FIXED_MD5.to_ascii_uppercase();
    assert_ne!(upper, site::FIXED_MD5, "the digest has letters to change case");
    let check = with_digest(site::FIXED_PATH, &upper);
    assert_up(&probe::run(&http(nginx.http_addr(), None, vec![check])).await);
}

#[tokio::test]
async fn regex_passes_and_fails_on_the_body() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let addr = nginx.http_addr();
    let matching = with_regex(site::FIXED_PATH, r"<p>a fixed page for \w+ checks</p>");
    assert_up(&probe::run(&http(addr, None, vec![matching])).await);

    let report = probe::run(&http(addr, None, vec![with_regex(site::FIXED_PATH, "^second")])).await;
    assert_eq!(
        failure(report),
        Failure::Regex { path: site::FIXED_PATH.into(), pattern: "^second".into() }
    );
}

#[tokio::test]
async fn virtualhost_picks_the_server_block() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let addr = nginx.http_addr();
    let second = || vec![with_digest("/", site::SECOND_INDEX_MD5)];
    assert_up(&probe::run(&http(addr, Some(site::SECOND_HOST), second())).await);

    // Without it the same path reaches the default server block.
    let report = probe::run(&http(addr, None, second())).await;
    assert!(
        matches!(failure(report.clone()), Failure::Digest { ref got, .. } if got == site::DEFAULT_INDEX_MD5),
        "{report:?}"
    );
    let regex = with_regex("/", "^second server");
    assert_up(&probe::run(&http(addr, Some(site::SECOND_HOST), vec![regex.clone()])).await);
    assert!(matches!(
        failure(probe::run(&http(addr, None, vec![regex])).await),
        Failure::Regex { .. }
    ));
}

#[tokio::test]
async fn several_urls_must_all_pass() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let addr = nginx.http_addr();
    let all_good = vec![
        with_digest(site::FIXED_PATH, site::FIXED_MD5),
        with_digest(site::CHUNKED_PATH, site::CHUNKED_MD5),
        with_digest(site::LARGE_PATH, site::LARGE_MD5),
    ];
    assert_up(&probe::run(&http(addr, None, all_good)).await);

    let one_bad = vec![
        with_digest(site::FIXED_PATH, site::FIXED_MD5),
        url(site::DOWN_PATH),
        with_digest(site::LARGE_PATH, site::LARGE_MD5),
    ];
    let report = probe::run(&http(addr, None, one_bad)).await;
    assert_eq!(report.status, Some(503));
    let failure = failure(report);
    assert!(matches!(&failure, Failure::Status { path, got: 503, .. } if path == site::DOWN_PATH));
    assert!(failure.to_string().contains(site::DOWN_PATH), "{failure}");
}

#[tokio::test]
async fn chunked_body_is_decoded_before_hashing() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    // First prove on the wire that nginx really sends this page chunked.
    let wire = raw::get(nginx.http_addr(), "127.0.0.1", site::CHUNKED_PATH).unwrap();
    assert_eq!(wire.status, 200);
    assert!(wire.is_chunked(), "not chunked: {:?}", wire.headers);
    assert_eq!(wire.header("content-length"), None);
    let (decoded, chunks) = raw::decode_chunked(&wire.body).unwrap();
    assert!(chunks >= 1 && wire.body.len() > decoded.len(), "framing present");
    assert_eq!(decoded, site::chunked_body().as_bytes());
    let decoded_md5 = md5_hex(&decoded);
    assert_eq!(decoded_md5, site::CHUNKED_MD5);

    let check = with_digest(site::CHUNKED_PATH, &decoded_md5);
    let report = probe::run(&http(nginx.http_addr(), None, vec![check])).await;
    assert_up(&report);
    assert_eq!(report.digest, Some(decoded_md5));
}

#[tokio::test]
async fn large_body_digest() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let check = with_digest(site::LARGE_PATH, site::LARGE_MD5);
    let report = probe::run(&http(nginx.http_addr(), None, vec![check])).await;
    assert_up(&report);
    assert_eq!(report.digest.as_deref(), Some(md5_hex(&site::large_body()).as_str()));
}

#[tokio::test]
async fn refused_port_is_refused_for_http_and_tcp() {
    let addr = testkit::refused_addr();
    let report = probe::run(&http(addr, None, vec![url("/")])).await;
    assert_eq!(failure(report), Failure::Refused);
    let report = probe::run(&spec(addr, CheckKind::Tcp)).await;
    assert_eq!(failure(report), Failure::Refused);
}

#[tokio::test]
async fn black_hole_times_out_within_connect_timeout() {
    let hole = testkit::BlackHole::bind();
    let timeout = Duration::from_millis(300);
    let mut spec = http(hole.addr(), None, vec![url(site::FIXED_PATH)]);
    spec.timing.connect_timeout = timeout;
    let report = probe::run(&spec).await;
    assert!(
        report.latency >= timeout && report.latency < timeout + Duration::from_millis(1500),
        "latency {:?}",
        report.latency
    );
    assert_eq!(
        failure(report),
        Failure::ResponseTimeout { path: site::FIXED_PATH.into(), after: timeout }
    );
}

#[tokio::test]
async fn tcp_check_passes_on_a_listening_port() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    assert_up(&probe::run(&spec(nginx.http_addr(), CheckKind::Tcp)).await);
    assert_up(&probe::run(&spec(nginx.https_addr(), CheckKind::Tcp)).await);
}

#[tokio::test]
async fn https_insecure_accepts_the_self_signed_certificate() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let check = vec![with_digest(site::FIXED_PATH, site::FIXED_MD5)];
    let report =
        probe::run(&https(nginx.https_addr(), None, TlsSettings::insecure().unwrap(), check)).await;
    assert_up(&report);
    assert_eq!(report.digest.as_deref(), Some(site::FIXED_MD5));
}

#[tokio::test]
async fn https_verified_with_the_right_ca_and_name_passes() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let tls = TlsSettings::verified(Some(&nginx.ca_file())).unwrap();
    let check = vec![with_digest(site::FIXED_PATH, site::FIXED_MD5)];
    assert_up(&probe::run(&https(nginx.https_addr(), Some(site::TLS_NAME), tls, check)).await);
}

#[tokio::test]
async fn https_verified_against_another_ca_names_the_unknown_issuer() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let other_ca = write_other_ca(dir.path());
    let tls = TlsSettings::verified(Some(&other_ca)).unwrap();
    let report = probe::run(&https(
        nginx.https_addr(),
        Some(site::TLS_NAME),
        tls,
        vec![url(site::FIXED_PATH)],
    ))
    .await;
    let Failure::Tls(message) = failure(report) else { panic!("not a TLS failure") };
    assert!(message.to_ascii_lowercase().contains("issuer"), "{message}");
}

#[tokio::test]
async fn https_verified_with_a_wrong_name_fails() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let tls = TlsSettings::verified(Some(&nginx.ca_file())).unwrap();
    let report = probe::run(&https(
        nginx.https_addr(),
        Some(site::SECOND_HOST),
        tls,
        vec![url(site::FIXED_PATH)],
    ))
    .await;
    let Failure::Tls(message) = failure(report) else { panic!("not a TLS failure") };
    assert!(
        message.contains("not valid for name") && message.contains(site::SECOND_HOST),
        "{message}"
    );
}

#[tokio::test]
async fn tls_against_a_plain_http_port_is_a_tls_failure() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let spec = https(
        nginx.http_addr(),
        None,
        TlsSettings::insecure().unwrap(),
        vec![url(site::FIXED_PATH)],
    );
    let report = probe::run(&spec).await;
    assert!(matches!(failure(report.clone()), Failure::Tls(_)), "{report:?}");
    assert!(report.latency < TIMEOUT, "failed fast, not by timeout: {:?}", report.latency);
}

#[tokio::test]
async fn virtualhost_is_sent_as_sni() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let addr = nginx.https_addr();
    let sni = |host: Option<&str>, pattern: &str| {
        https(
            addr,
            host,
            TlsSettings::insecure().unwrap(),
            vec![with_regex(site::SNI_PATH, pattern)],
        )
    };
    assert_up(&probe::run(&sni(Some(site::TLS_NAME), r"^sni=www\.example\.org\n$")).await);
    assert_up(&probe::run(&sni(Some(site::SECOND_HOST), r"^sni=second\.example\.org\n$")).await);
    // An address is never sent as SNI (RFC 6066): nginx saw none.
    assert_up(&probe::run(&sni(None, r"^sni=\n$")).await);
    // And the regex is not vacuous.
    let report = probe::run(&sni(Some(site::TLS_NAME), r"^sni=second")).await;
    assert!(matches!(failure(report), Failure::Regex { .. }));
}

#[tokio::test]
async fn bind_to_a_local_address_works_and_a_foreign_one_is_named() {
    let Some(nginx) = Nginx::start_or_skip() else { return };
    let mut spec =
        http(nginx.http_addr(), None, vec![with_digest(site::FIXED_PATH, site::FIXED_MD5)]);
    spec.target.bind_to = Some(IpAddr::from([127, 0, 0, 1]));
    assert_up(&probe::run(&spec).await);

    // 192.0.2.1 (TEST-NET-1) is on no interface here: bind fails, nothing is sent.
    spec.target.bind_to = Some(IpAddr::from([192, 0, 2, 1]));
    let report = probe::run(&spec).await;
    let Failure::Connect(message) = failure(report) else { panic!("not a connect failure") };
    assert!(message.contains("bind to 192.0.2.1"), "{message}");
    assert!(message.contains("Cannot assign requested address"), "{message}");
}

/// A CA that did not sign nginx's certificate, as a CA file. Its subject
/// differs from the fixture's issuer: with the same subject, rustls would try
/// it and report a bad signature rather than an unknown issuer.
fn write_other_ca(dir: &Path) -> std::path::PathBuf {
    let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "some other test CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let path = dir.join("other-ca.pem");
    std::fs::write(&path, params.self_signed(&key).unwrap().pem()).unwrap();
    path
}
