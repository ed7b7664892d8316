//! TCP_CHECK, HTTP_GET, SSL_GET and MISC_CHECK as a real server's `check:` table.
//! Timing options may sit on the virtual server, the real server or the checker; the
//! nearest wins, as in keepalived.

use std::time::Duration;

use ::checker::spec::BodyRegex;
use ::checker::{Digest, StatusCodes};

use super::instance::duration;
use super::tree::Node;
use super::values::Ctx;
use super::vrrp::reason;
use super::yaml::{Item, Map, Value};

/// The checker types director runs.
pub(crate) const SUPPORTED: [&str; 4] = ["TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK"];

/// Options inherited by checks (virtual server, then real server, then checker).
#[derive(Debug, Clone, Default)]
pub(crate) struct Defaults {
    pub delay_loop: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub retry: Option<i64>,
    pub delay_before_retry: Option<Duration>,
    pub warmup: Option<Duration>,
    pub virtualhost: Option<String>,
}

impl Defaults {
    /// Reads one inheritable option; false when `node` is not one.
    pub(crate) fn read(&mut self, node: &Node, ctx: &mut Ctx) -> bool {
        match node.keyword() {
            "delay_loop" => self.delay_loop = ctx.seconds(node, 1).or(self.delay_loop),
            "connect_timeout" => {
                self.connect_timeout = ctx.seconds(node, 1).or(self.connect_timeout);
            }
            "retry" | "nb_get_retry" => {
                self.retry = ctx.int(node, 1, 0, i64::from(u32::MAX)).or(self.retry);
            }
            "delay_before_retry" => {
                self.delay_before_retry = ctx.seconds(node, 1).or(self.delay_before_retry);
            }
            "warmup" => self.warmup = ctx.seconds(node, 1).or(self.warmup),
            "virtualhost" => {
                self.virtualhost = ctx.arg(node, 1).map(str::to_string).or(self.virtualhost.take());
            }
            _ => return false,
        }
        true
    }
}

/// The `check:` table of one checker block.
pub(crate) fn convert(
    node: &Node,
    inherited: &Defaults,
    alpha: bool,
    ctx: &mut Ctx,
) -> Option<Map> {
    let block = node.label();
    let kind = match node.keyword() {
        "TCP_CHECK" => "tcp",
        "HTTP_GET" => "http",
        "SSL_GET" => "https",
        _ => "misc",
    };
    let mut out = Map::default();
    out.set("type", Value::str(kind));
    let mut defaults = inherited.clone();
    let mut urls = Vec::new();
    let mut target = Map::default();
    for child in node.children() {
        let keyword = child.keyword();
        if kind == "misc" && keyword == "connect_timeout" {
            ctx.skip(
                &mut out,
                child,
                &block,
                "a misc check has no connection (misc_timeout bounds it)",
            );
            continue;
        }
        if defaults.read(child, ctx) {
            continue;
        }
        let network = kind != "misc";
        match keyword {
            "connect_ip" | "bindto" | "bind_to" if network => {
                if let Some(ip) = ctx.ip(child, 1) {
                    let key = if keyword == "connect_ip" { "connect_ip" } else { "bind_to" };
                    target.set(key, Value::str(&ip.to_string()));
                }
            }
            "connect_port" if network => {
                if let Some(port) = ctx.int(child, 1, 1, 65535) {
                    target.set("connect_port", Value::num(port));
                }
            }
            "fwmark" if network => {
                if let Some(mark) = ctx.int(child, 1, 1, i64::from(u32::MAX)) {
                    target.set("fwmark", Value::num(mark));
                }
            }
            "alpha" => {
                if ctx.flag(child).is_some_and(|a| a != alpha) {
                    let reason = "alpha is per virtual server in director";
                    ctx.skip(&mut out, child, &block, reason);
                }
            }
            "url" if network && kind != "tcp" => {
                if let Some(url) = url(child, ctx) {
                    urls.push(url);
                }
            }
            "enable_sni" if kind == "https" => {}
            "misc_path" if kind == "misc" => {
                if let Some(argv) = ctx.script(&mut out, child, &block) {
                    out.set("command", Value::strs(&argv));
                }
            }
            "misc_timeout" if kind == "misc" => {
                if let Some(d) = ctx.seconds(child, 1).filter(|d| !d.is_zero()) {
                    out.set("timeout", duration(d));
                }
            }
            "misc_dynamic" if kind == "misc" => out.set("dynamic", Value::bool(true)),
            "sni_name" => {
                let reason = "the TLS server name is the virtualhost in director";
                ctx.skip(&mut out, child, &block, reason);
            }
            other => {
                let reason = match other {
                    "log_all_failures" | "http_protocol" | "fast_recovery" | "tls_compliant"
                    | "bind_port" | "bind_if" => "director has no such check option",
                    _ => reason(other),
                };
                ctx.skip(&mut out, child, &block, reason);
            }
        }
    }
    if kind == "misc" && !out.has("command") {
        ctx.error(node, 0, "MISC_CHECK has no misc_path".into());
        return None;
    }
    if matches!(kind, "http" | "https") {
        http_urls(node, &mut out, urls, &mut defaults, ctx)?;
    }
    timing(&mut out, &defaults, kind);
    for key in ["connect_ip", "connect_port", "bind_to", "fwmark"] {
        if let Some(value) = target.get(key) {
            out.set(key, value.clone());
        }
    }
    Some(out)
}

fn timing(out: &mut Map, defaults: &Defaults, kind: &str) {
    if let Some(d) = defaults.delay_loop {
        out.set("delay_loop", duration(d));
    }
    if kind != "misc" {
        if let Some(d) = defaults.connect_timeout {
            out.set("connect_timeout", duration(d));
        }
    }
    if let Some(r) = defaults.retry {
        out.set("retry", Value::num(r));
    }
    if let Some(d) = defaults.delay_before_retry {
        out.set("delay_before_retry", duration(d));
    }
    if let Some(d) = defaults.warmup {
        out.set("warmup", duration(d));
    }
}

/// One url: its keys, and the url's own virtualhost if it has one.
struct Url {
    table: Map,
    virtualhost: Option<(Node, String)>,
}

fn http_urls(
    node: &Node,
    out: &mut Map,
    urls: Vec<Url>,
    defaults: &mut Defaults,
    ctx: &mut Ctx,
) -> Option<()> {
    if urls.is_empty() {
        ctx.error(node, 0, format!("{} has no url block", node.keyword()));
        return None;
    }
    // director has one Host per check: a url's own virtualhost applies to all of them.
    let mut hosts = urls.iter().filter_map(|u| u.virtualhost.as_ref());
    if let Some((first_node, first)) = hosts.next() {
        if hosts.all(|(_, h)| h == first) {
            defaults.virtualhost = Some(first.clone());
        } else {
            let reason = "one virtualhost per check in director: the check's is used";
            ctx.skip(out, first_node, "url", reason);
        }
    }
    if let Some(host) = &defaults.virtualhost {
        out.set("virtualhost", Value::str(host));
    }
    if urls.len() == 1 {
        for url in urls {
            for key in ["path", "status_code", "digest", "regex"] {
                if let Some(value) = url.table.get(key) {
                    out.set(key, value.clone());
                }
            }
        }
    } else {
        let list = urls.into_iter().map(|u| Item::Value(Value::Map(u.table))).collect();
        out.set("urls", Value::List(list));
    }
    Some(())
}

fn url(node: &Node, ctx: &mut Ctx) -> Option<Url> {
    let mut table = Map::default();
    let mut virtualhost = None;
    let mut ok = true;
    for child in node.children() {
        match child.keyword() {
            "path" => match ctx.arg(child, 1) {
                Some(path) if path.starts_with('/') => table.set("path", Value::str(path)),
                Some(path) => {
                    ctx.error(child, 1, format!("path must start with /, got {path:?}"));
                    ok = false;
                }
                None => ok = false,
            },
            "digest" => match ctx.arg(child, 1) {
                Some(hex) if Digest::parse(hex).is_ok() => table.set("digest", Value::str(hex)),
                Some(hex) => {
                    ctx.error(child, 1, format!("digest must be 32 hex digits, got {hex:?}"));
                    ok = false;
                }
                None => ok = false,
            },
            "status_code" => {
                let codes: Vec<&str> = child.args().iter().map(|w| w.text.as_str()).collect();
                if codes.is_empty() {
                    ctx.arg(child, 1);
                    ok = false;
                }
                for (i, code) in codes.iter().enumerate() {
                    if let Err(e) = StatusCodes::parse_item(code) {
                        let message = format!("status_code {code:?}: {}", e.reason);
                        ctx.error(child, i + 1, message);
                        ok = false;
                    }
                }
                let items = codes
                    .iter()
                    .map(|c| match c.parse::<i64>() {
                        Ok(n) => Item::Value(Value::num(n)),
                        Err(_) => Item::Value(Value::str(c)),
                    })
                    .collect();
                table.set("status_code", Value::List(items));
            }
            "regex" => match ctx.arg(child, 1) {
                Some(pattern) if BodyRegex::new(pattern).is_ok() => {
                    table.set("regex", Value::str(pattern));
                }
                Some(_) => {
                    let reason = "the pattern is not one director's regex engine reads (PCRE \
                                  only syntax?)";
                    ctx.skip(&mut table, child, "url", reason);
                }
                None => ok = false,
            },
            "virtualhost" => {
                if let Some(host) = ctx.arg(child, 1) {
                    virtualhost = Some((child.clone(), host.to_string()));
                }
            }
            other => {
                let reason = match other {
                    "regex_no_match" | "regex_options" | "regex_stack" | "regex_min_offset"
                    | "regex_max_offset" => "director matches a regex plainly, with no options",
                    _ => reason(other),
                };
                ctx.skip(&mut table, child, "url", reason);
            }
        }
    }
    if !table.has("path") {
        if ok {
            ctx.error(node, 0, "url has no path".into());
        }
        return None;
    }
    ok.then_some(Url { table, virtualhost })
}
