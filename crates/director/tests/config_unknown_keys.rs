#![allow(clippy::unwrap_used)]
//! Unknown keys are errors in every table, naming the key and where it is.

use director::config::{Config, ConfigError};

/// Every table of the director: and vrrp: sections, in block style so a key can be
/// inserted after any line.
const BASE: &str = "\
director:
  id: lb01
vrrp:
  scripts:
    chk:
      command: [/bin/true]
  instances:
    - name: a
      interface: eth0
      vrid: 51
      authentication:
        type: pass
        password: secret
      unicast:
        peers: [192.0.2.6]
      virtual_addresses:
        - address: 192.0.2.100/24
          dev: eth1
      track:
        interfaces:
          - name: eth1
            weight: -10
        scripts:
          - name: chk
            weight: -5
      notify:
        master: [/bin/true]
      garp:
        master_repeat: 3
  sync_groups:
    - name: g
      instances: [a]
      notify:
        any: [/bin/true]
";

/// Every table of the virtual_servers: section and director.ipvs_sync_daemon.
const VS_BASE: &str = "\
director:
  keep_rules_on_exit: true
  ipvs_sync_daemon:
    interface: eth1
    vrrp_instance: a
vrrp:
  instances:
    - {name: a, interface: eth0, vrid: 51}
virtual_servers:
  - name: web
    address: 192.0.2.10
    port: 443
    persistence:
      timeout: 50s
    sorry_server:
      address: 198.51.100.99
      port: 443
    check:
      type: https
      urls:
        - path: /health
          status_code: [200]
    real_servers:
      - address: 198.51.100.7
        port: 443
        check:
          type: tcp
          connect_timeout: 3s
";

fn check_rejected(after_line: usize, indent: usize, table_path: &str) {
    check_rejected_in(BASE, after_line, indent, table_path);
}

fn check_rejected_in(base: &str, after_line: usize, indent: usize, table_path: &str) {
    let mut lines: Vec<String> = base.lines().map(str::to_string).collect();
    lines.insert(after_line, format!("{}bogus_key: 1", " ".repeat(indent)));
    let text = lines.join("\n");
    let err = Config::from_yaml(&text, "d.yaml").unwrap_err();
    let [e] = err.errors() else { panic!("one error expected: {err}") };
    let context = format!("in {table_path}: {err}");
    assert_eq!((e.line, e.column), (after_line + 1, indent + 1), "{context}");
    assert_eq!(e.path, table_path, "{context}");
    assert!(e.message.starts_with("unknown field `bogus_key`, expected "), "{context}");
    let shown = err.to_string();
    let want = format!(
        "d.yaml:{}:{}: {table_path}: unknown field `bogus_key`",
        after_line + 1,
        indent + 1
    );
    assert!(shown.starts_with(&want), "{shown}");
}

#[test]
fn the_base_document_is_valid() {
    Config::from_yaml(BASE, "d.yaml").unwrap();
}

#[test]
fn unknown_keys_in_every_table() {
    let cases = [
        (2, 2, "director"),
        (3, 2, "vrrp"),
        (6, 6, "vrrp.scripts.chk"),
        (8, 6, "vrrp.instances[0]"),
        (12, 8, "vrrp.instances[0].authentication"),
        (15, 8, "vrrp.instances[0].unicast"),
        (17, 10, "vrrp.instances[0].virtual_addresses[0]"),
        (20, 8, "vrrp.instances[0].track"),
        (21, 12, "vrrp.instances[0].track.interfaces[0]"),
        (24, 12, "vrrp.instances[0].track.scripts[0]"),
        (26, 8, "vrrp.instances[0].notify"),
        (28, 8, "vrrp.instances[0].garp"),
        (31, 6, "vrrp.sync_groups[0]"),
        (33, 8, "vrrp.sync_groups[0].notify"),
    ];
    for (after_line, indent, path) in cases {
        check_rejected(after_line, indent, path);
    }
}

#[test]
fn the_virtual_server_base_document_is_valid() {
    let config = Config::from_yaml(VS_BASE, "d.yaml").unwrap();
    assert_eq!(config.virtual_servers.len(), 1);
    assert!(config.director.ipvs_sync_daemon.is_some());
}

#[test]
fn unknown_keys_in_every_virtual_server_table() {
    let cases = [
        (3, 4, "director.ipvs_sync_daemon"),
        (10, 4, "virtual_servers[0]"),
        (13, 6, "virtual_servers[0].persistence"),
        (16, 6, "virtual_servers[0].sorry_server"),
        (19, 6, "virtual_servers[0].check"),
        (21, 10, "virtual_servers[0].check.urls[0]"),
        (24, 8, "virtual_servers[0].real_servers[0]"),
        (27, 10, "virtual_servers[0].real_servers[0].check"),
    ];
    for (after_line, indent, path) in cases {
        check_rejected_in(VS_BASE, after_line, indent, path);
    }
}

#[test]
fn an_unknown_top_level_key_lists_the_sections() {
    let text = format!("{BASE}virtual_server: []\n");
    let err = Config::from_yaml(&text, "d.yaml").unwrap_err();
    let [e] = err.errors() else { panic!("{err}") };
    assert_eq!((e.line, e.column, e.path.as_str()), (35, 1, ""));
    assert_eq!(
        e.message,
        "unknown field `virtual_server`, expected one of `director`, `vrrp`, `virtual_servers`"
    );
}

#[test]
fn syntax_and_type_errors_are_located() {
    let err = Config::from_yaml("vrrp:\n  instances: [\n", "d.yaml").unwrap_err();
    let [e] = err.errors() else { panic!("{err}") };
    assert_eq!(e.line, 3, "{err}");
    let err = Config::from_yaml("director:\n  metrics: nowhere\n", "d.yaml").unwrap_err();
    let [e] = err.errors() else { panic!("{err}") };
    assert_eq!((e.line, e.column, e.path.as_str()), (2, 12, "director.metrics"), "{err}");
    assert!(e.message.contains("invalid socket address"), "{err}");
    let bad = BASE.replace("vrid: 51", "vrid: fifty-one");
    let err = Config::from_yaml(&bad, "d.yaml").unwrap_err();
    let [e] = err.errors() else { panic!("{err}") };
    assert_eq!((e.line, e.column, e.path.as_str()), (10, 13, "vrrp.instances[0].vrid"), "{err}");
    let bad = BASE.replace("master_repeat: 3", "master_delay: soon");
    let err = Config::from_yaml(&bad, "d.yaml").unwrap_err();
    assert!(
        err.to_string().contains("vrrp.instances[0].garp.master_delay: bad duration \"soon\""),
        "{err}"
    );
}

#[test]
fn missing_required_keys_name_the_table() {
    let bad = BASE.replace("      vrid: 51\n", "");
    let err = Config::from_yaml(&bad, "d.yaml").unwrap_err();
    let [e] = err.errors() else { panic!("{err}") };
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("vrrp.instances[0]", "missing field `vrid`")
    );
    assert!(matches!(err, ConfigError::Invalid(_)));
}
