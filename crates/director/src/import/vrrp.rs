//! The document and its VRRP side: global_defs (router_id, vrrp_version, garp
//! defaults, lvs_sync_daemon), vrrp_script and vrrp_sync_group; vrrp_instance is in
//! [`super::instance`].

use super::instance::{self, Globals, SyncDaemon};
use super::lvs;
use super::tree::Node;
use super::values::Ctx;
use super::yaml::{Item, Map, Value};

const TOP: &str = "top level";

/// Why the usual keywords director has no equivalent for are left out.
pub(crate) fn reason(keyword: &str) -> &'static str {
    match keyword {
        k if k.starts_with('@') => {
            "a conditional line (keepalived -i picks it by config-id): write each director's \
             YAML with its own values"
        }
        k if k.starts_with('$') => "parameter definitions are not expanded: write the values",
        k if k.starts_with('~') => "~SEQ/~LST blocks are not expanded: write the entries",
        "notification_email"
        | "notification_email_from"
        | "smtp_server"
        | "smtp_connect_timeout"
        | "smtp_alert"
        | "smtp_helo_name"
        | "smtp_alert_vrrp"
        | "smtp_alert_checker" => "director sends no e-mail: use notify scripts",
        "enable_script_security" | "script_user" | "user" => "scripts run as directord's own user",
        "vrrp_strict" | "strict_mode" => "director has no strict mode",
        "use_vmac" | "vmac_xmit_base" | "use_vmac_addr" => "director has no virtual MAC",
        "virtual_routes" | "virtual_rules" | "static_routes" | "static_rules"
        | "static_ipaddress" => "director moves addresses only, not routes or rules",
        "virtual_server_group" => "director has no virtual server groups: write each service",
        "track_file" | "vrrp_track_file" | "vrrp_track_process" | "track_process" | "track_bfd"
        | "bfd_instance" => "director tracks interfaces and scripts only",
        "snmp_name"
        | "enable_snmp_vrrp"
        | "enable_snmp_checker"
        | "enable_traps"
        | "enable_dbus" => "director has no SNMP or D-Bus: see directorctl status --json",
        _ => "director has no equivalent",
    }
}

/// The whole YAML document of a parsed keepalived file.
pub(crate) fn document(nodes: &[Node], ctx: &mut Ctx) -> Map {
    let mut top = Map::default();
    let mut director = Map::default();
    let mut globals = Globals::default();
    let mut scripts = Map::default();
    let mut script_names = Vec::new();
    for node in nodes {
        match node.keyword() {
            "global_defs" => global_defs(node, ctx, &mut director, &mut globals),
            "vrrp_script" => {
                if let Some((name, table)) = script(node, ctx) {
                    scripts.set(&name, Value::Map(table));
                    script_names.push(name);
                }
            }
            _ => {}
        }
    }
    let mut instances = Vec::new();
    let mut converted = Vec::new();
    for node in nodes.iter().filter(|n| n.keyword() == "vrrp_instance") {
        match instance::convert(node, ctx, &globals, &script_names) {
            Some(done) => {
                if let Some(daemon) = done.sync_daemon {
                    globals.sync_daemon.get_or_insert(daemon);
                }
                converted.push((done.name, done.vrid));
                instances.push(Item::Value(Value::Map(done.table)));
            }
            None => continue,
        }
    }
    let mut groups = Vec::new();
    let mut servers = Vec::new();
    for node in nodes {
        match node.keyword() {
            "global_defs" | "vrrp_script" | "vrrp_instance" => {}
            "vrrp_sync_group" => groups.push(sync_group(node, ctx, &converted)),
            "virtual_server" => servers.push(lvs::virtual_server(node, ctx)),
            _ => {
                let reason = reason(node.keyword());
                ctx.skip(&mut top, node, TOP, reason);
            }
        }
    }
    if let Some(daemon) = globals.sync_daemon.take() {
        sync_daemon(daemon, ctx, &converted, &mut director);
    }
    let mut doc = top;
    if !director.is_empty() {
        doc.set("director", Value::Map(director));
    }
    let mut vrrp = Map::default();
    if !scripts.is_empty() {
        vrrp.set("scripts", Value::Map(scripts));
    }
    if !instances.is_empty() {
        vrrp.set("instances", Value::List(instances));
    }
    if !groups.is_empty() {
        vrrp.set("sync_groups", Value::List(groups));
    }
    if !vrrp.is_empty() {
        doc.set("vrrp", Value::Map(vrrp));
    }
    if !servers.is_empty() {
        doc.set("virtual_servers", Value::List(servers));
    }
    doc
}

fn global_defs(node: &Node, ctx: &mut Ctx, director: &mut Map, globals: &mut Globals) {
    let block = node.label();
    for child in node.children() {
        match child.keyword() {
            "router_id" => {
                if let Some(id) = ctx.arg(child, 1) {
                    director.set("id", Value::str(id));
                }
            }
            "vrrp_version" => globals.version = ctx.int(child, 1, 2, 3),
            "vrrp_garp_master_delay" => {
                if let Some(d) = ctx.seconds(child, 1) {
                    globals.garp.push(("master_delay", instance::duration(d)));
                }
            }
            "vrrp_garp_master_refresh" => {
                if let Some(d) = ctx.seconds(child, 1) {
                    globals.garp.push(("master_refresh", instance::duration(d)));
                }
            }
            "vrrp_garp_master_repeat" | "vrrp_garp_master_refresh_repeat" => {
                if let Some(n) = ctx.int(child, 1, 1, i64::from(u32::MAX)) {
                    let key = if child.keyword().ends_with("refresh_repeat") {
                        "master_refresh_repeat"
                    } else {
                        "master_repeat"
                    };
                    globals.garp.push((key, Value::num(n)));
                }
            }
            "lvs_sync_daemon" => {
                if let Some(daemon) = lvs_sync_daemon(child, ctx, director, &block) {
                    globals.sync_daemon = Some(daemon);
                }
            }
            _ => {
                let reason = reason(child.keyword());
                ctx.skip(director, child, &block, reason);
            }
        }
    }
}

/// `lvs_sync_daemon IFACE [[inst] INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group IP]`.
fn lvs_sync_daemon(node: &Node, ctx: &mut Ctx, out: &mut Map, block: &str) -> Option<SyncDaemon> {
    let interface = ctx.arg(node, 1)?.to_string();
    let mut daemon = SyncDaemon { node: node.clone(), interface, instance: None, sync_id: None };
    let mut i = 2;
    while i < node.words.len() {
        let word = node.words[i].text.as_str();
        match word {
            "inst" => daemon.instance = ctx.arg(node, i + 1).map(str::to_string),
            "id" => daemon.sync_id = ctx.int(node, i + 1, 0, 255),
            "maxlen" | "port" | "ttl" | "group" => {
                let reason = "director leaves the kernel's default for it";
                ctx.skip_word(out, node, word, block, reason);
            }
            _ if daemon.instance.is_none() => {
                daemon.instance = Some(word.to_string());
                i += 1;
                continue;
            }
            _ => {
                ctx.error(node, i, format!("lvs_sync_daemon: unexpected {word:?}"));
                return None;
            }
        }
        i += 2;
    }
    Some(daemon)
}

/// `director.ipvs_sync_daemon`, whose sync id defaults (as keepalived's) to the vrid of
/// the instance it follows.
fn sync_daemon(daemon: SyncDaemon, ctx: &mut Ctx, instances: &[(String, u8)], director: &mut Map) {
    let mut table = Map::default();
    table.set("interface", Value::str(&daemon.interface));
    let followed = match &daemon.instance {
        Some(name) => match instances.iter().find(|(n, _)| n == name) {
            Some(found) => Some(found),
            None => {
                let reason =
                    format!("it follows vrrp_instance {name:?}, which was not carried over");
                ctx.skip(director, &daemon.node, "global_defs", &reason);
                return;
            }
        },
        None => None,
    };
    let sync_id = daemon.sync_id.or(followed.map(|(_, vrid)| i64::from(*vrid))).unwrap_or(0);
    table.set("sync_id", Value::num(sync_id));
    if let Some((name, _)) = followed {
        table.set("vrrp_instance", Value::str(name));
    } else if instances.len() > 1 {
        let reason = "with no instance keepalived runs both sync daemons all the time; director \
                      needs the instance to follow";
        ctx.skip(director, &daemon.node, "global_defs", reason);
        return;
    }
    director.set("ipvs_sync_daemon", Value::Map(table));
}

/// `vrrp_script NAME {...}` as `vrrp.scripts.NAME`; None (with an error) without a script.
fn script(node: &Node, ctx: &mut Ctx) -> Option<(String, Map)> {
    let block = node.label();
    let Some(name) = node.args().first().map(|w| w.text.clone()) else {
        ctx.error(node, 0, "vrrp_script needs a name".into());
        return None;
    };
    let mut table = Map::default();
    for child in node.children() {
        match child.keyword() {
            "script" => {
                if let Some(argv) = ctx.script(&mut table, child, &block) {
                    table.set("command", Value::strs(&argv));
                }
            }
            "interval" | "timeout" => {
                if let Some(d) = ctx.seconds(child, 1) {
                    table.set(child.keyword(), instance::duration(d));
                }
            }
            "weight" => {
                if let Some(w) = ctx.int(child, 1, -253, 253) {
                    table.set("weight", Value::num(w));
                }
                if child.words.len() > 2 {
                    ctx.skip_word(&mut table, child, "reverse", &block, "no reversed weights");
                }
            }
            "rise" | "fall" => {
                if let Some(n) = ctx.int(child, 1, 1, i64::from(u32::MAX)) {
                    table.set(child.keyword(), Value::num(n));
                }
            }
            "init_fail" => {
                let reason = "a tracked script starts as neither up nor down until it has run";
                ctx.skip(&mut table, child, &block, reason);
            }
            other => {
                let reason = reason(other);
                ctx.skip(&mut table, child, &block, reason);
            }
        }
    }
    if !table.has("command") {
        ctx.error(node, 0, format!("vrrp_script {name} has no script"));
        return None;
    }
    Some((name, table))
}

fn sync_group(node: &Node, ctx: &mut Ctx, instances: &[(String, u8)]) -> Item {
    let block = node.label();
    let mut table = Map::default();
    let name = node.args().first().map(|w| w.text.clone()).unwrap_or_default();
    if name.is_empty() {
        ctx.error(node, 0, "vrrp_sync_group needs a name".into());
    }
    table.set("name", Value::str(&name));
    let mut members = Vec::new();
    let mut notify = Map::default();
    for child in node.children() {
        match child.keyword() {
            "group" => {
                for member in child.children() {
                    let name = member.keyword();
                    if instances.iter().any(|(n, _)| n == name) {
                        members.push(Item::Value(Value::str(name)));
                    } else {
                        let reason = "no vrrp_instance of that name was carried over";
                        members.push(Item::Comment(ctx.skip_text(member, name, &block, reason)));
                    }
                }
            }
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                let key = child.keyword().strip_prefix("notify_").unwrap_or("any");
                if let Some(argv) = ctx.script(&mut table, child, &block) {
                    notify.set(key, Value::strs(&argv));
                }
            }
            "sync_group_tracking_weight" | "global_tracking" => {
                table.set("tracking_weight", Value::bool(true));
            }
            other => {
                let reason = match other {
                    "track_interface" | "track_script" => {
                        "director tracks on instances only: track it in each member instance"
                    }
                    _ => reason(other),
                };
                ctx.skip(&mut table, child, &block, reason);
            }
        }
    }
    if members.iter().all(|m| matches!(m, Item::Comment(_))) {
        let reason = "none of its instances was carried over";
        return Item::Comment(ctx.skip_text(node, "vrrp_sync_group", TOP, reason));
    }
    table.set("instances", Value::List(members));
    if notify.has_entries() {
        table.set("notify", Value::Map(notify));
    }
    Item::Value(Value::Map(table))
}
