//! `virtual_server` and its `real_server`s as `virtual_servers[N]`.
//!
//! keepalived installs the IPVS rules on every director whatever its VRRP state, so the
//! virtual servers get no `vrrp_instance:` (which would install them on the MASTER only).

use std::net::IpAddr;

use ::ipvs::Scheduler;

use super::checks::{self, Defaults, SUPPORTED};
use super::tree::Node;
use super::values::Ctx;
use super::vrrp::reason;
use super::yaml::{Item, Map, Value};

/// What real servers take from their virtual server.
struct Service {
    /// None for a fwmark service.
    port: Option<u16>,
    forwarding: &'static str,
    defaults: Defaults,
    inhibit_on_failure: bool,
    alpha: bool,
}

pub(crate) fn virtual_server(node: &Node, ctx: &mut Ctx) -> Item {
    let block = node.label();
    let args: Vec<&str> = node.args().iter().map(|w| w.text.as_str()).collect();
    let mut out = Map::default();
    out.set("name", Value::str(""));
    let (address, port, fwmark) = match args.as_slice() {
        ["group", _] => {
            let reason = reason("virtual_server_group");
            return Item::Comment(ctx.skip_text(node, "virtual_server group", "top level", reason));
        }
        ["fwmark", _] => match ctx.int(node, 2, 1, i64::from(u32::MAX)) {
            Some(mark) => (None, None, Some(mark)),
            None => return Item::Comment(String::new()),
        },
        [ip] | [ip, _] => {
            let Some(address) = ctx.ip(node, 1) else { return Item::Comment(String::new()) };
            let port = if args.len() == 2 {
                match ctx.int(node, 2, 0, 65535) {
                    Some(p) => u16::try_from(p).unwrap_or(0),
                    None => return Item::Comment(String::new()),
                }
            } else {
                0
            };
            let _ = ip;
            (Some(address), Some(port), None)
        }
        _ => {
            ctx.error(
                node,
                0,
                "virtual_server takes ADDRESS [PORT], fwmark N or group NAME".into(),
            );
            return Item::Comment(String::new());
        }
    };
    if let Some(address) = address {
        out.set("address", Value::str(&address.to_string()));
        out.set("port", Value::num(port.unwrap_or(0)));
    }
    if let Some(mark) = fwmark {
        out.set("fwmark", Value::num(mark));
    }
    let mut service = Service {
        port,
        forwarding: "nat",
        defaults: Defaults::default(),
        inhibit_on_failure: false,
        alpha: false,
    };
    let mut protocol = "tcp";
    let mut persistence = Map::default();
    let mut sorry: Option<(&Node, IpAddr, Option<i64>)> = None;
    let mut sorry_forwarding = None;
    for child in node.children().iter().filter(|c| c.keyword() != "real_server") {
        let keyword = child.keyword();
        if service.defaults.read(child, ctx) {
            continue;
        }
        match keyword {
            "lb_algo" | "lvs_sched" => match ctx.arg(child, 1) {
                Some(name) if Scheduler::KNOWN.contains(&name) => {
                    out.set("scheduler", Value::str(name));
                }
                Some(_) => {
                    ctx.skip(&mut out, child, &block, "a scheduler the kernel crate does not know")
                }
                None => {}
            },
            "lb_kind" | "lvs_method" => {
                if let Some(method) = forwarding(child, ctx, &mut out, &block) {
                    service.forwarding = method;
                    out.set("forwarding", Value::str(method));
                }
            }
            "protocol" => match ctx.arg(child, 1) {
                Some("TCP") => protocol = "tcp",
                Some("UDP") => protocol = "udp",
                Some("SCTP") => protocol = "sctp",
                Some(other) => {
                    ctx.error(child, 1, format!("protocol must be TCP, UDP or SCTP, got {other:?}"))
                }
                None => {}
            },
            "persistence_timeout" => {
                let timeout = if child.words.len() > 1 {
                    ctx.int(child, 1, 1, i64::from(u32::MAX))
                } else {
                    Some(360)
                };
                if let Some(t) = timeout {
                    persistence.set("timeout", Value::str(&format!("{t}s")));
                }
            }
            "persistence_granularity" => {
                if let Some(mask) = ctx.arg(child, 1) {
                    persistence.set("netmask", Value::str(mask));
                }
            }
            "persistence_engine" => {
                if let Some(engine) = ctx.arg(child, 1) {
                    out.set("persistence_engine", Value::str(engine));
                }
            }
            "quorum" => {
                if let Some(q) = ctx.int(child, 1, 1, i64::from(u32::MAX)) {
                    out.set("quorum", Value::num(q));
                }
            }
            "hysteresis" => {
                if let Some(h) = ctx.int(child, 1, 0, i64::from(u32::MAX)) {
                    out.set("hysteresis", Value::num(h));
                }
            }
            "inhibit_on_failure" | "alpha" | "omega" => {
                if let Some(on) = ctx.flag(child) {
                    if keyword == "inhibit_on_failure" {
                        service.inhibit_on_failure = on;
                    } else if keyword == "alpha" {
                        service.alpha = on;
                    }
                    out.set(keyword, Value::bool(on));
                }
            }
            "quorum_up" | "quorum_down" => {
                if let Some(argv) = ctx.script(&mut out, child, &block) {
                    out.set(keyword, Value::strs(&argv));
                }
            }
            "sorry_server" => {
                if let Some(ip) = ctx.ip(child, 1) {
                    let port =
                        if child.words.len() > 2 { ctx.int(child, 2, 0, 65535) } else { None };
                    sorry = Some((child, ip, port));
                }
            }
            "sorry_server_lvs_method" => {
                sorry_forwarding = forwarding(child, ctx, &mut out, &block)
            }
            "ip_family" => match ctx.arg(child, 1) {
                Some(family @ ("inet" | "inet6")) if fwmark.is_some() => {
                    out.set("family", Value::str(family))
                }
                Some("inet" | "inet6") => {}
                Some(other) => {
                    ctx.error(child, 1, format!("ip_family must be inet or inet6, got {other:?}"))
                }
                None => {}
            },
            other => {
                let reason = match other {
                    "ha_suspend" => "director checks real servers whether or not the address is up",
                    "sorry_server_inhibit" => "the sorry server is removed when quorum returns",
                    "ops" | "flag-1" | "flag-2" | "flag-3" | "sh-port" | "sh-fallback"
                    | "mh-port" | "mh-fallback" => "director sets no scheduler flags",
                    _ => reason(other),
                };
                ctx.skip(&mut out, child, &block, reason);
            }
        }
    }
    let name = match (address, fwmark) {
        (Some(IpAddr::V6(a)), _) => format!("[{a}]:{}", port.unwrap_or(0)),
        (Some(a), _) => format!("{a}:{}", port.unwrap_or(0)),
        (None, mark) => format!("fwmark{}", mark.unwrap_or(0)),
    };
    if fwmark.is_some() {
        out.set("name", Value::str(&name));
        if protocol != "tcp" {
            let protocol_node = node.children().iter().find(|c| c.keyword() == "protocol");
            if let Some(p) = protocol_node {
                ctx.skip(&mut out, p, &block, "a fwmark service has no protocol: the mark selects");
            }
        }
    } else {
        let suffix = if protocol == "tcp" { String::new() } else { format!("/{protocol}") };
        out.set("name", Value::str(&format!("{name}{suffix}")));
        out.set("protocol", Value::str(protocol));
    }
    if persistence.has_entries() {
        if !persistence.has("timeout") {
            persistence.set("timeout", Value::str("360s"));
        }
        out.set("persistence", Value::Map(persistence));
    }
    if let Some((child, ip, sorry_port)) = sorry {
        let method = sorry_forwarding.unwrap_or(service.forwarding);
        let mut table = Map::default();
        table.set("address", Value::str(&ip.to_string()));
        let port = match (service.port, method) {
            (Some(vs_port), "dr" | "tun") => Some(i64::from(vs_port)),
            (_, _) => sorry_port.or(service.port.map(i64::from)),
        };
        if let Some(p) = port {
            table.set("port", Value::num(p));
        }
        if sorry_port.is_some() && port != sorry_port {
            ctx.changed(&mut out, child, &block, "dr and tun forward to the service's port");
        }
        table.set("forwarding", Value::str(method));
        out.set("sorry_server", Value::Map(table));
    }
    let mut servers = Vec::new();
    for child in node.children().iter().filter(|c| c.keyword() == "real_server") {
        if let Some(item) = real_server(child, ctx, &service) {
            servers.push(item);
        }
    }
    out.set("real_servers", Value::List(servers));
    Item::Value(Value::Map(out))
}

/// `NAT|DR|TUN [type ...]` as nat, dr or tun.
fn forwarding(node: &Node, ctx: &mut Ctx, out: &mut Map, block: &str) -> Option<&'static str> {
    let method = match ctx.arg(node, 1)? {
        "NAT" => "nat",
        "DR" => "dr",
        "TUN" => "tun",
        other => {
            ctx.error(node, 1, format!("{} must be NAT, DR or TUN, got {other:?}", node.keyword()));
            return None;
        }
    };
    if node.words.len() > 2 {
        ctx.skip_word(out, node, "type", block, "director's tunnels are IPIP only");
    }
    Some(method)
}

fn real_server(node: &Node, ctx: &mut Ctx, service: &Service) -> Option<Item> {
    let block = node.label();
    let address = ctx.ip(node, 1)?;
    let written_port = if node.words.len() > 2 { Some(ctx.int(node, 2, 0, 65535)?) } else { None };
    let mut out = Map::default();
    out.set("address", Value::str(&address.to_string()));
    let mut forwarding_method = service.forwarding;
    let mut defaults = service.defaults.clone();
    let mut checkers = Vec::new();
    for child in node.children() {
        let keyword = child.keyword();
        if defaults.read(child, ctx) {
            continue;
        }
        match keyword {
            "weight" => {
                if let Some(w) = ctx.int(child, 1, 0, 65535) {
                    out.set("weight", Value::num(w));
                }
            }
            "lvs_method" | "lb_kind" => {
                if let Some(method) = forwarding(child, ctx, &mut out, &block) {
                    forwarding_method = method;
                    out.set("forwarding", Value::str(method));
                }
            }
            "uthreshold" | "lthreshold" => {
                if let Some(n) = ctx.int(child, 1, 0, i64::from(u32::MAX)) {
                    let key =
                        if keyword == "uthreshold" { "upper_threshold" } else { "lower_threshold" };
                    out.set(key, Value::num(n));
                }
            }
            "notify_up" | "notify_down" => {
                if let Some(argv) = ctx.script(&mut out, child, &block) {
                    out.set(keyword, Value::strs(&argv));
                }
            }
            "inhibit_on_failure" | "alpha" => {
                let vs_value =
                    if keyword == "alpha" { service.alpha } else { service.inhibit_on_failure };
                if ctx.flag(child).is_some_and(|on| on != vs_value) {
                    let reason = format!("{keyword} is per virtual server in director");
                    ctx.skip(&mut out, child, &block, &reason);
                }
            }
            k if SUPPORTED.contains(&k) => checkers.push(child),
            other => {
                let reason = match other {
                    "SMTP_CHECK" | "DNS_CHECK" | "UDP_CHECK" | "PING_CHECK" | "BFD_CHECK"
                    | "FILE_CHECK" => {
                        "director checks with TCP, HTTP, HTTPS and scripts only (a MISC_CHECK \
                         script can do this check)"
                    }
                    _ => reason(other),
                };
                ctx.skip(&mut out, child, &block, reason);
            }
        }
    }
    // DR and TUN send packets to the service's port whatever the real server says; the
    // port written in keepalived is then only where its checks connect.
    let mut port = written_port.or(service.port.map(i64::from));
    let mut check_port = None;
    if let (Some(vs_port), Some(rs_port), "dr" | "tun") =
        (service.port, written_port, forwarding_method)
    {
        if rs_port != i64::from(vs_port) {
            port = Some(i64::from(vs_port));
            check_port = Some(rs_port);
            let reason = format!(
                "{forwarding_method} forwards to the service's port {vs_port}: the real server \
                 gets that port, and its check connects to {rs_port}"
            );
            ctx.changed(&mut out, node, &block, &reason);
        }
    }
    if let Some(p) = port {
        out.set("port", Value::num(p));
    }
    let mut checkers = checkers.into_iter();
    if let Some(first) = checkers.next() {
        if let Some(mut check) = checks::convert(first, &defaults, service.alpha, ctx) {
            if let Some(p) = check_port.filter(|_| !check.has("connect_port")) {
                if first.keyword() != "MISC_CHECK" {
                    check.set("connect_port", Value::num(p));
                }
            }
            out.set("check", Value::Map(check));
        }
    }
    for extra in checkers {
        let reason = "director runs one check per real server (keepalived needs all to pass): \
                      the first is kept";
        ctx.skip(&mut out, extra, &block, reason);
    }
    Some(Item::Value(Value::Map(out)))
}
