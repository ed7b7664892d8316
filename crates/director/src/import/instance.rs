//! One `vrrp_instance` as `vrrp.instances[N]`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::lexer::Word;
use super::tree::Node;
use super::values::Ctx;
use super::vrrp::reason;
use super::yaml::{Item, Map, Value};
use crate::duration as durations;

/// global_defs settings that are instances' defaults, and the sync daemon to place.
#[derive(Debug, Default)]
pub(crate) struct Globals {
    pub version: Option<i64>,
    pub garp: Vec<(&'static str, Value)>,
    pub sync_daemon: Option<SyncDaemon>,
}

/// keepalived's lvs_sync_daemon (global) or lvs_sync_daemon_interface (in an instance).
#[derive(Debug, Clone)]
pub(crate) struct SyncDaemon {
    pub node: Node,
    pub interface: String,
    pub instance: Option<String>,
    pub sync_id: Option<i64>,
}

pub(crate) struct Converted {
    pub name: String,
    pub vrid: u8,
    pub table: Map,
    pub sync_daemon: Option<SyncDaemon>,
}

pub(crate) fn duration(d: Duration) -> Value {
    Value::str(&durations::format(d))
}

/// None (with an error) when the instance lacks what director needs: a name, an
/// interface and a virtual_router_id.
pub(crate) fn convert(
    node: &Node,
    ctx: &mut Ctx,
    globals: &Globals,
    scripts: &[String],
) -> Option<Converted> {
    let block = node.label();
    let Some(name) = node.args().first().map(|w| w.text.clone()) else {
        ctx.error(node, 0, "vrrp_instance needs a name".into());
        return None;
    };
    let mut out = Map::default();
    out.set("name", Value::str(&name));
    let mut interface = None;
    let mut vrid = None;
    let mut version = globals.version;
    let mut advert: Option<(&Node, Duration)> = None;
    let mut master = false;
    let mut nopreempt: Option<&Node> = None;
    let mut preempt_delay: Option<(&Node, Duration)> = None;
    let mut auth: Option<&Node> = None;
    let mut source: Option<(&Node, Ipv4Addr)> = None;
    let mut peers = Vec::new();
    let mut vips: Option<&Node> = None;
    let mut track = Map::default();
    let mut notify = Map::default();
    let mut garp = Map::default();
    let mut sync_daemon = None;
    for (key, value) in &globals.garp {
        garp.set(key, value.clone());
    }
    for child in node.children() {
        let keyword = child.keyword();
        match keyword {
            "interface" => {
                interface = ctx.arg(child, 1).map(str::to_string);
                if let Some(i) = &interface {
                    out.set("interface", Value::str(i));
                }
            }
            "virtual_router_id" => {
                vrid = ctx.int(child, 1, 1, 255).and_then(|v| u8::try_from(v).ok());
                if let Some(v) = vrid {
                    out.set("vrid", Value::num(v));
                }
            }
            "priority" => {
                if let Some(p) = ctx.int(child, 1, 1, 255) {
                    out.set("priority", Value::num(p));
                }
            }
            "version" => version = ctx.int(child, 1, 2, 3),
            "advert_int" => advert = ctx.seconds(child, 1).map(|d| (child, d)),
            "state" => match ctx.arg(child, 1) {
                Some("MASTER") => {
                    master = true;
                    out.set("initial_state", Value::str("master"));
                }
                Some("BACKUP") => out.set("initial_state", Value::str("backup")),
                Some(other) => {
                    let message = format!("state must be MASTER or BACKUP, got {other:?}");
                    ctx.error(child, 1, message);
                }
                None => {}
            },
            "nopreempt" => nopreempt = Some(child),
            "preempt" => out.set("preempt", Value::bool(true)),
            "preempt_delay" => preempt_delay = ctx.seconds(child, 1).map(|d| (child, d)),
            "authentication" => auth = Some(child),
            "unicast_src_ip" | "mcast_src_ip" => match ctx.ip(child, 1) {
                Some(IpAddr::V4(ip)) => source = Some((child, ip)),
                Some(IpAddr::V6(_)) => {
                    ctx.skip(&mut out, child, &block, "director runs VRRP over IPv4 only");
                }
                None => {}
            },
            "unicast_peer" => peers.extend(unicast_peers(child, ctx, &block)),
            "virtual_ipaddress" => vips = Some(child),
            "track_interface" => {
                let items = track_interfaces(child, ctx, &block);
                extend_list(&mut track, "interfaces", items);
            }
            "track_script" => {
                let items = track_scripts(child, ctx, &block, scripts);
                extend_list(&mut track, "scripts", items);
            }
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                let key = keyword.strip_prefix("notify_").unwrap_or("any");
                if let Some(argv) = ctx.script(&mut out, child, &block) {
                    notify.set(key, Value::strs(&argv));
                }
            }
            "garp_master_delay" | "garp_master_refresh" => {
                if let Some(d) = ctx.seconds(child, 1) {
                    garp.set(keyword.trim_start_matches("garp_"), duration(d));
                }
            }
            "garp_master_repeat" | "garp_master_refresh_repeat" => {
                if let Some(n) = ctx.int(child, 1, 1, i64::from(u32::MAX)) {
                    garp.set(keyword.trim_start_matches("garp_"), Value::num(n));
                }
            }
            "lvs_sync_daemon_interface" => {
                if let Some(interface) = ctx.arg(child, 1) {
                    sync_daemon = Some(SyncDaemon {
                        node: child.clone(),
                        interface: interface.to_string(),
                        instance: Some(name.clone()),
                        sync_id: None,
                    });
                }
            }
            "virtual_ipaddress_excluded" => {
                let reason = "director has no addresses outside the adverts: list them in \
                              virtual_addresses if the peer is a director too";
                ctx.skip(&mut out, child, &block, reason);
            }
            other => {
                let reason = reason(other);
                ctx.skip(&mut out, child, &block, reason);
            }
        }
    }
    let Some(interface) = interface else {
        ctx.error(node, 0, format!("vrrp_instance {name} has no interface (director needs one)"));
        return None;
    };
    let Some(vrid) = vrid else {
        ctx.error(node, 0, format!("vrrp_instance {name} has no virtual_router_id"));
        return None;
    };
    let version = version.unwrap_or(2);
    if version == 3 {
        out.set("version", Value::num(3));
    }
    if let Some((child, interval)) = advert {
        let interval = advert_interval(child, interval, version, ctx, &mut out, &block);
        out.set("advert_interval", duration(interval));
    }
    if let Some(child) = nopreempt {
        if master {
            let reason = "keepalived ignores nopreempt with state MASTER (so does director): \
                          use state BACKUP on both directors";
            ctx.skip(&mut out, child, &block, reason);
        } else {
            out.set("preempt", Value::bool(false));
        }
    }
    if let Some((child, delay)) = preempt_delay {
        if master {
            ctx.skip(&mut out, child, &block, "ignored with state MASTER, as by keepalived");
        } else {
            out.set("preempt_delay", duration(delay));
        }
    }
    if let Some(child) = auth {
        authentication(child, ctx, &mut out, &block, version);
    }
    match (source, peers.is_empty()) {
        (source, false) => {
            let mut unicast = Map::default();
            if let Some((_, ip)) = source {
                unicast.set("source", Value::str(&ip.to_string()));
            }
            unicast.set("peers", Value::List(peers));
            out.set("unicast", Value::Map(unicast));
        }
        (Some((child, _)), true) => {
            let reason = "director sends multicast adverts from the interface's primary address";
            ctx.skip(&mut out, child, &block, reason);
        }
        (None, true) => {}
    }
    if let Some(child) = vips {
        let list = virtual_addresses(child, ctx, &block, &interface);
        out.set("virtual_addresses", Value::List(list));
    }
    if !track.is_empty() {
        out.set("track", Value::Map(track));
    }
    if !notify.is_empty() {
        out.set("notify", Value::Map(notify));
    }
    if !garp.is_empty() {
        out.set("garp", Value::Map(garp));
    }
    Some(Converted { name, vrid, table: out, sync_daemon })
}

fn extend_list(table: &mut Map, key: &str, items: Vec<Item>) {
    let mut list = match table.get(key) {
        Some(Value::List(list)) => list.clone(),
        _ => Vec::new(),
    };
    list.extend(items);
    table.set(key, Value::List(list));
}

/// VRRPv2 carries whole seconds (keepalived rounds, as newer keepalived does); v3
/// centiseconds from 10 ms to 40.95 s.
fn advert_interval(
    node: &Node,
    interval: Duration,
    version: i64,
    ctx: &mut Ctx,
    out: &mut Map,
    block: &str,
) -> Duration {
    let (rounded, why) = if version == 2 {
        let secs = interval.as_secs_f64().round().clamp(1.0, 255.0);
        (Duration::from_secs(secs as u64), "VRRPv2 adverts carry whole seconds from 1 to 255")
    } else {
        let cs = (interval.as_secs_f64() * 100.0).round().clamp(1.0, 4095.0);
        (Duration::from_millis(cs as u64 * 10), "VRRPv3 adverts carry 10 ms steps up to 40.95 s")
    };
    if rounded != interval {
        let reason =
            format!("{} became {}: {why}", durations::format(interval), durations::format(rounded));
        ctx.changed(out, node, block, &reason);
    }
    rounded
}

fn authentication(node: &Node, ctx: &mut Ctx, out: &mut Map, block: &str, version: i64) {
    if version == 3 {
        let reason = "VRRPv3 has no authentication (keepalived ignores it there too)";
        ctx.skip(out, node, block, reason);
        return;
    }
    let mut kind = None;
    let mut password = None;
    for child in node.children() {
        match child.keyword() {
            "auth_type" => kind = ctx.arg(child, 1).map(|k| (child, k.to_string())),
            "auth_pass" => password = ctx.arg(child, 1).map(|p| (child, p.to_string())),
            other => ctx.skip(out, child, "authentication", reason(other)),
        }
    }
    match kind {
        Some((_, k)) if k == "PASS" => {}
        Some((child, k)) if k == "AH" => {
            let reason = "IPsec AH was dropped from VRRP by RFC 3768; director has PASS only";
            ctx.skip(out, child, "authentication", reason);
            return;
        }
        Some((child, k)) => {
            ctx.error(child, 1, format!("auth_type must be PASS or AH, got {k:?}"));
            return;
        }
        None => {
            ctx.error(node, 0, "authentication has no auth_type".into());
            return;
        }
    }
    let Some((child, mut pass)) = password else {
        ctx.error(node, 0, "authentication has no auth_pass".into());
        return;
    };
    if pass.len() > 8 {
        let cut = (0..=8).rev().find(|i| pass.is_char_boundary(*i)).unwrap_or(0);
        pass.truncate(cut);
        let reason = "only the first 8 bytes are sent, as by keepalived: the password is those";
        ctx.changed(out, child, "authentication", reason);
    }
    let mut table = Map::default();
    table.set("type", Value::str("pass"));
    table.set("password", Value::str(&pass));
    out.set("authentication", Value::Map(table));
}

fn unicast_peers(node: &Node, ctx: &mut Ctx, block: &str) -> Vec<Item> {
    let mut items = Vec::new();
    for peer in node.children() {
        match peer.keyword().parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => items.push(Item::Value(Value::str(&ip.to_string()))),
            Ok(IpAddr::V6(_)) => {
                let reason = "director runs VRRP over IPv4 only";
                items.push(Item::Comment(ctx.skip_text(peer, peer.keyword(), block, reason)));
            }
            Err(_) => {
                ctx.error(peer, 0, format!("unicast_peer: not an address: {:?}", peer.keyword()))
            }
        }
        for option in peer.args().iter().step_by(2) {
            let reason = "director checks only that adverts come from a peer";
            items.push(Item::Comment(ctx.skip_text(peer, &option.text, "unicast_peer", reason)));
        }
    }
    items
}

fn track_interfaces(node: &Node, ctx: &mut Ctx, block: &str) -> Vec<Item> {
    let mut items = Vec::new();
    for entry in node.children() {
        let (weight, comment) = weight_option(entry, ctx, block);
        items.extend(comment);
        items.push(Item::Value(named(entry.keyword(), weight)));
    }
    items
}

fn track_scripts(node: &Node, ctx: &mut Ctx, block: &str, scripts: &[String]) -> Vec<Item> {
    let mut items = Vec::new();
    for entry in node.children() {
        let name = entry.keyword();
        if !scripts.iter().any(|s| s == name) {
            let reason = "no vrrp_script of that name was carried over";
            items.push(Item::Comment(ctx.skip_text(entry, name, block, reason)));
            continue;
        }
        let (weight, comment) = weight_option(entry, ctx, block);
        items.extend(comment);
        items.push(Item::Value(named(name, weight)));
    }
    items
}

/// `NAME` or `{name: NAME, weight: W}`.
fn named(name: &str, weight: Option<i64>) -> Value {
    match weight {
        None => Value::str(name),
        Some(w) => {
            let mut table = Map::default();
            table.set("name", Value::str(name));
            table.set("weight", Value::num(w));
            Value::Map(table)
        }
    }
}

/// `NAME weight W [reverse|noreverse]`.
fn weight_option(entry: &Node, ctx: &mut Ctx, block: &str) -> (Option<i64>, Option<Item>) {
    let args: Vec<&str> = entry.args().iter().map(|w: &Word| w.text.as_str()).collect();
    match args.as_slice() {
        [] => (None, None),
        ["weight", _] | ["weight", _, "noreverse"] => (ctx.int(entry, 2, -253, 253), None),
        ["weight", _, "reverse"] => {
            let reason = "director has no reversed tracking weights";
            let comment = ctx.skip_text(entry, "reverse", block, reason);
            (None, Some(Item::Comment(comment)))
        }
        _ => {
            ctx.error(entry, 1, format!("{}: expected 'weight N' after the name", entry.keyword()));
            (None, None)
        }
    }
}

/// Each line: `ADDRESS[/PREFIX] [brd X] [dev X] [label X] [scope X] ...`.
fn virtual_addresses(node: &Node, ctx: &mut Ctx, block: &str, interface: &str) -> Vec<Item> {
    let mut items = Vec::new();
    for line in node.children() {
        let address = line.keyword();
        let Some((ip, prefix)) = parse_cidr(address) else {
            ctx.error(line, 0, format!("virtual_ipaddress: not an address: {address:?}"));
            continue;
        };
        let IpAddr::V4(v4) = ip else {
            let reason = "director runs VRRP over IPv4 only";
            items.push(Item::Comment(ctx.skip_text(line, address, block, reason)));
            continue;
        };
        let mut table = Map::default();
        let mut comments = Vec::new();
        let words = line.args();
        let mut i = 0;
        while i < words.len() {
            let option = words[i].text.as_str();
            let value = words.get(i + 1).map(|w| w.text.as_str());
            let takes_value =
                matches!(option, "brd" | "dev" | "label" | "scope" | "peer" | "preferred_lft");
            if takes_value && value.is_none() {
                ctx.error(line, i + 1, format!("virtual_ipaddress: '{option}' needs a value"));
                break;
            }
            let skip = |ctx: &mut Ctx, reason: &str| {
                ctx.skip_text(line, option, "virtual_ipaddress", reason)
            };
            match (option, value) {
                ("dev", Some(dev)) => table.set("dev", Value::str(dev)),
                ("label", Some(label)) => table.set("label", Value::str(label)),
                ("scope", Some("global")) => {}
                ("brd", Some(brd))
                    if brd == "+" || Some(brd.to_string()) == broadcast(v4, prefix) => {}
                ("brd", Some(_)) => comments.push(skip(
                    ctx,
                    "director sets the subnet's directed broadcast (as brd +), no other",
                )),
                (_, _) => comments.push(skip(ctx, "director has no such address option")),
            }
            i += if takes_value { 2 } else { 1 };
        }
        if let Some(Value::Scalar(label)) = table.get("label") {
            let label: String = serde_yaml::from_str(label).unwrap_or_default();
            let dev = match table.get("dev") {
                Some(Value::Scalar(dev)) => serde_yaml::from_str(dev).unwrap_or_default(),
                _ => interface.to_string(),
            };
            if !label.starts_with(&dev) || label.len() > 15 {
                let reason = format!("the kernel needs a label of at most 15 bytes that starts with the device name {dev:?}");
                comments.push(ctx.skip_text(line, "label", "virtual_ipaddress", &reason));
                let mut kept = Map::default();
                if let Some(dev) = table.get("dev") {
                    kept.set("dev", dev.clone());
                }
                table = kept;
            }
        }
        items.extend(comments.into_iter().map(Item::Comment));
        let text = format!("{v4}/{prefix}");
        if table.has_entries() {
            let mut entry = Map::default();
            entry.set("address", Value::str(&text));
            for key in ["dev", "label"] {
                if let Some(value) = table.get(key) {
                    entry.set(key, value.clone());
                }
            }
            items.push(Item::Value(Value::Map(entry)));
        } else {
            items.push(Item::Value(Value::str(&text)));
        }
    }
    items
}

/// `ADDRESS[/PREFIX]`; a missing prefix is a host route, as keepalived.
fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (address, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let ip: IpAddr = address.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then_some((ip, prefix))
}

/// The directed broadcast director sets (none for /31 and /32).
fn broadcast(address: Ipv4Addr, prefix: u8) -> Option<String> {
    (prefix < 31).then(|| {
        let host = u32::MAX >> prefix;
        Ipv4Addr::from(u32::from(address) | host).to_string()
    })
}
