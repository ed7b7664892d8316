//! `check:` tables (a virtual server's default, a real server's override): what is
//! probed, how often, and where. A table is checked once into a [`CheckTemplate`]; each
//! real server then only adds its target, so thousands of real servers sharing their
//! virtual server's check cost one parse.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ::checker::spec::BodyRegex;
use ::checker::{
    CheckKind, CheckSpec, Digest, HttpCheck, MiscCheck, StatusCodes, Target, Timing, TlsSettings,
    UrlCheck,
};
use ::ipvs::Family;

use super::de::TextList;
use super::error::Report;
use super::location::join_key;
use super::model::{RawCheck, RawCheckType, RawUrl};
use super::vrrp::{command, in_range, nonzero};

/// Environment a misc check's program gets, naming what it checks.
pub const ENV_VIRTUAL_SERVER: &str = "DIRECTOR_VIRTUAL_SERVER";
pub const ENV_REAL_SERVER_ADDRESS: &str = "DIRECTOR_REAL_SERVER_ADDRESS";
pub const ENV_REAL_SERVER_PORT: &str = "DIRECTOR_REAL_SERVER_PORT";

/// A checked `check:` table, before it has a real server to point at.
#[derive(Debug, Clone)]
pub(crate) struct CheckTemplate {
    /// The table's key path, for errors found when a real server uses it.
    path: String,
    kind: CheckKind,
    timing: Timing,
    connect_ip: Option<IpAddr>,
    connect_port: Option<u16>,
    bind_to: Option<IpAddr>,
    fwmark: Option<u32>,
}

/// What the real server gives a check: its address, its port as written (None for a
/// fwmark real server without one), and names for a misc check's environment.
pub(crate) struct CheckedServer<'a> {
    pub path: &'a str,
    pub virtual_server: &'a str,
    pub address: IpAddr,
    pub port: Option<u16>,
}

/// Built once per distinct setting in a file: TLS client configs and compiled regexes
/// are not cheap, and a file may use the same one for thousands of real servers.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    tls: HashMap<(bool, Option<PathBuf>), Result<TlsSettings, String>>,
    regexes: HashMap<String, Result<BodyRegex, String>>,
}

impl CheckTemplate {
    /// The check of one real server, or None after reporting why it has no target.
    pub(crate) fn spec(
        &self,
        server: &CheckedServer<'_>,
        report: &mut Report<'_>,
    ) -> Option<CheckSpec> {
        let address = self.connect_ip.unwrap_or(server.address);
        let port = self.connect_port.or(server.port).unwrap_or(0);
        let mut kind = self.kind.clone();
        match &mut kind {
            CheckKind::Misc(misc) => {
                misc.env = vec![
                    (ENV_VIRTUAL_SERVER.to_string(), server.virtual_server.to_string()),
                    (ENV_REAL_SERVER_ADDRESS.to_string(), server.address.to_string()),
                    (ENV_REAL_SERVER_PORT.to_string(), server.port.unwrap_or(0).to_string()),
                ];
            }
            _ if port == 0 => {
                report.expected(
                    &join_key(server.path, "port"),
                    format!(
                        "a port for the {} check at {}: the real server's port or the \
                         check's connect_port",
                        kind.name(),
                        self.path
                    ),
                    "none",
                );
                return None;
            }
            _ => {}
        }
        let target = Target {
            connect: SocketAddr::new(address, port),
            bind_to: self.bind_to,
            fwmark: self.fwmark,
        };
        Some(CheckSpec { target, kind, timing: self.timing.clone() })
    }
}

/// Which check types take a key, for "not in a tcp check" errors.
const HTTP: &[RawCheckType] = &[RawCheckType::Http, RawCheckType::Https];
const HTTPS: &[RawCheckType] = &[RawCheckType::Https];
const MISC: &[RawCheckType] = &[RawCheckType::Misc];
const NETWORK: &[RawCheckType] = &[RawCheckType::Tcp, RawCheckType::Http, RawCheckType::Https];

/// Checks the table at `path` of a virtual server of `family`; None when it is unusable
/// (the problems are reported).
pub(crate) fn template(
    path: &str,
    raw: &RawCheck,
    family: Family,
    alpha: bool,
    shared: &mut Shared,
    report: &mut Report<'_>,
) -> Option<CheckTemplate> {
    let at = |key: &str| join_key(path, key);
    let before = report.len();
    let keys: [(&str, bool, &[RawCheckType]); 16] = [
        ("connect_timeout", raw.connect_timeout.is_some(), NETWORK),
        ("connect_ip", raw.connect_ip.is_some(), NETWORK),
        ("connect_port", raw.connect_port.is_some(), NETWORK),
        ("bind_to", raw.bind_to.is_some(), NETWORK),
        ("fwmark", raw.fwmark.is_some(), NETWORK),
        ("path", raw.path.is_some(), HTTP),
        ("status_code", raw.status_code.is_some(), HTTP),
        ("digest", raw.digest.is_some(), HTTP),
        ("regex", raw.regex.is_some(), HTTP),
        ("urls", raw.urls.is_some(), HTTP),
        ("virtualhost", raw.virtualhost.is_some(), HTTP),
        ("verify", raw.verify.is_some(), HTTPS),
        ("ca_file", raw.ca_file.is_some(), HTTPS),
        ("command", raw.command.is_some(), MISC),
        ("timeout", raw.timeout.is_some(), MISC),
        ("dynamic", raw.dynamic.is_some(), MISC),
    ];
    for (key, present, types) in keys {
        if present && !types.contains(&raw.kind) {
            let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
            report.key(
                &at(key),
                format!(
                    "expected no {key} in a {} check (only {} checks take it)",
                    raw.kind.name(),
                    names.join(" and ")
                ),
            );
        }
    }
    let kind = match raw.kind {
        RawCheckType::Tcp => Some(CheckKind::Tcp),
        RawCheckType::Http => http(path, raw, shared, report).map(CheckKind::Http),
        RawCheckType::Https => {
            let http = http(path, raw, shared, report);
            let tls = tls(path, raw, shared, report);
            http.zip(tls).map(|(http, tls)| CheckKind::Https(http, tls))
        }
        RawCheckType::Misc => misc(path, raw, report).map(CheckKind::Misc),
    };
    let mut timing =
        kind.as_ref().map_or_else(|| Timing::defaults_for(&CheckKind::Tcp), Timing::defaults_for);
    if let Some(delay_loop) = raw.delay_loop {
        nonzero(report, &at("delay_loop"), delay_loop);
        timing.delay_loop = delay_loop;
    }
    if let Some(connect_timeout) = raw.connect_timeout {
        nonzero(report, &at("connect_timeout"), connect_timeout);
        timing.connect_timeout = connect_timeout;
    }
    if let Some(retry) = raw.retry {
        let retry = in_range(report, &at("retry"), retry, 0, i64::from(u32::MAX));
        timing.retry = retry.and_then(|r| u32::try_from(r).ok()).unwrap_or(0);
    }
    timing.delay_before_retry = raw.delay_before_retry.unwrap_or(timing.delay_before_retry);
    timing.warmup = raw.warmup;
    timing.alpha = alpha;
    let kind = match kind {
        // keepalived's misc_timeout defaults to the delay loop.
        Some(CheckKind::Misc(mut misc)) => {
            misc.timeout = raw.timeout.unwrap_or(timing.delay_loop);
            nonzero(report, &at("timeout"), misc.timeout);
            Some(CheckKind::Misc(misc))
        }
        other => other,
    };
    let connect_port = raw.connect_port.and_then(|port| {
        in_range(report, &at("connect_port"), port, 1, 65535).and_then(|p| u16::try_from(p).ok())
    });
    let fwmark = raw.fwmark.and_then(|mark| {
        in_range(report, &at("fwmark"), mark, 0, i64::from(u32::MAX))
            .and_then(|m| u32::try_from(m).ok())
            .filter(|m| *m != 0)
    });
    if let Some(bind_to) = raw.bind_to {
        let target_family = raw.connect_ip.as_ref().map_or(family, Family::of);
        if Family::of(&bind_to) != target_family {
            report.expected(
                &at("bind_to"),
                format!(
                    "an {} address (the family of the checked address)",
                    family_name(target_family)
                ),
                bind_to,
            );
        }
    }
    let kind = kind?;
    (report.len() == before).then(|| CheckTemplate {
        path: path.to_string(),
        kind,
        timing,
        connect_ip: raw.connect_ip,
        connect_port,
        bind_to: raw.bind_to,
        fwmark,
    })
}

pub(crate) fn family_name(family: Family) -> &'static str {
    match family {
        Family::Inet => "IPv4",
        Family::Inet6 => "IPv6",
    }
}

fn http(
    path: &str,
    raw: &RawCheck,
    shared: &mut Shared,
    report: &mut Report<'_>,
) -> Option<HttpCheck> {
    let at = |key: &str| join_key(path, key);
    let virtualhost = raw.virtualhost.as_ref().map(|name| {
        let valid = match raw.kind {
            RawCheckType::Https => TlsSettings::server_name(name).is_ok(),
            _ => !name.is_empty() && !name.contains(char::is_whitespace),
        };
        if !valid {
            report.expected(&at("virtualhost"), "a host name", format!("{name:?}"));
        }
        name.clone()
    });
    let urls = match &raw.urls {
        Some(urls) => {
            for key in ["path", "status_code", "digest", "regex"] {
                let given = match key {
                    "path" => raw.path.is_some(),
                    "status_code" => raw.status_code.is_some(),
                    "digest" => raw.digest.is_some(),
                    _ => raw.regex.is_some(),
                };
                if given {
                    report.key(
                        &at(key),
                        format!("expected {key} inside each of urls, not beside them"),
                    );
                }
            }
            if urls.is_empty() {
                report.expected(&at("urls"), "at least one url", "an empty list");
            }
            urls.iter()
                .enumerate()
                .map(|(i, url)| url_check(&at(&format!("urls[{i}]")), url, shared, report))
                .collect::<Option<Vec<_>>>()?
        }
        None => {
            let single = RawUrl {
                path: raw.path.clone().unwrap_or_else(|| "/".to_string()),
                status_code: None,
                digest: raw.digest.clone(),
                regex: raw.regex.clone(),
            };
            // The table's own keys: errors name `check.path`, not `check.urls[0].path`.
            // Both are checked before either can stop, so both report.
            let status =
                raw.status_code.as_ref().map(|c| status_codes(&at("status_code"), c, report));
            let mut url = url_check(path, &single, shared, report)?;
            if let Some(status) = status {
                url.status = status?;
            }
            vec![url]
        }
    };
    Some(HttpCheck { virtualhost, urls })
}

fn url_check(
    path: &str,
    raw: &RawUrl,
    shared: &mut Shared,
    report: &mut Report<'_>,
) -> Option<UrlCheck> {
    let at = |key: &str| join_key(path, key);
    let mut ok = true;
    if !raw.path.starts_with('/') || raw.path.contains(char::is_whitespace) {
        report.expected(
            &at("path"),
            "a path starting with / and without spaces",
            format!("{:?}", raw.path),
        );
        ok = false;
    }
    let mut url = UrlCheck::new(raw.path.clone());
    if let Some(codes) = &raw.status_code {
        match status_codes(&at("status_code"), codes, report) {
            Some(status) => url.status = status,
            None => ok = false,
        }
    }
    if let Some(digest) = &raw.digest {
        match Digest::parse(digest) {
            Ok(digest) => url.digest = Some(digest),
            Err(_) => {
                report.expected(&at("digest"), "32 hex digits (an MD5 sum)", format!("{digest:?}"));
                ok = false;
            }
        }
    }
    if let Some(pattern) = &raw.regex {
        let compiled = shared
            .regexes
            .entry(pattern.clone())
            .or_insert_with(|| BodyRegex::new(pattern).map_err(|e| e.to_string()));
        match compiled {
            Ok(regex) => url.regex = Some(regex.clone()),
            Err(message) => {
                let first = message.lines().last().unwrap_or(message).trim().to_string();
                report.expected(
                    &at("regex"),
                    "a regular expression",
                    format!("{pattern:?} ({first})"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(url)
}

fn status_codes(path: &str, codes: &TextList, report: &mut Report<'_>) -> Option<StatusCodes> {
    if codes.items.is_empty() {
        report.expected(path, "at least one status code", "an empty list");
        return None;
    }
    let mut ranges = Vec::new();
    for (i, item) in codes.items.iter().enumerate() {
        match StatusCodes::parse_item(item) {
            Ok(range) => ranges.push(range),
            Err(e) => report.expected(
                &codes.item_path(path, i),
                "a status code 100-599 or a range such as 301-302",
                format!("{item:?} ({})", e.reason),
            ),
        }
    }
    if ranges.len() != codes.items.len() {
        return None;
    }
    StatusCodes::from_ranges(ranges).ok()
}

/// keepalived's SSL_GET does not verify; `verify: true` (implied by `ca_file`) does.
fn tls(
    path: &str,
    raw: &RawCheck,
    shared: &mut Shared,
    report: &mut Report<'_>,
) -> Option<TlsSettings> {
    let verify = raw.verify.unwrap_or(raw.ca_file.is_some());
    if !verify && raw.ca_file.is_some() {
        report.key(&join_key(path, "ca_file"), "expected no ca_file with verify: false");
        return None;
    }
    let key = (verify, raw.ca_file.clone());
    let built = shared.tls.entry(key).or_insert_with(|| {
        let built = if verify {
            TlsSettings::verified(raw.ca_file.as_deref())
        } else {
            TlsSettings::insecure()
        };
        built.map_err(|e| e.to_string())
    });
    match built {
        Ok(tls) => Some(tls.clone()),
        Err(message) => {
            let key = if raw.ca_file.is_some() { "ca_file" } else { "verify" };
            report.value(&join_key(path, key), message.clone());
            None
        }
    }
}

fn misc(path: &str, raw: &RawCheck, report: &mut Report<'_>) -> Option<MiscCheck> {
    let Some(argv) = &raw.command else {
        report.value(path, "expected command: [PROGRAM, ARG...] in a misc check, got none");
        return None;
    };
    command(report, &join_key(path, "command"), argv);
    Some(MiscCheck {
        argv: argv.clone(),
        timeout: Duration::ZERO,
        dynamic: raw.dynamic.unwrap_or(false),
        env: Vec::new(),
        cwd: None,
    })
}
