#![allow(clippy::unwrap_used)]
//! Unknown keys are errors in every table, naming the key and where it is; and every
//! key the error lists is in docs/config-reference.md, under its table's heading.

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

fn check_rejected(after_line: usize, indent: usize, table_path: &str) -> String {
    check_rejected_in(BASE, after_line, indent, table_path)
}

/// Checks the error of an unknown key inserted after `after_line`; returns its message,
/// which lists the table's keys.
fn check_rejected_in(base: &str, after_line: usize, indent: usize, table_path: &str) -> String {
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
    e.message.clone()
}

/// The keys serde lists after "expected" in an unknown-field message.
fn listed_keys(message: &str) -> Vec<String> {
    let (_, list) = message.split_once("expected").unwrap();
    list.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// docs/config-reference.md's section under `heading` (up to the next heading) names
/// every key of the table, as `key`.
fn check_documented(heading: &str, message: &str) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config-reference.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc
        .lines()
        .position(|l| l.starts_with('#') && l.contains(heading))
        .unwrap_or_else(|| panic!("{}: no heading with {heading}", path.display()));
    let section: Vec<&str> =
        doc.lines().skip(start + 1).take_while(|l| !l.starts_with('#')).collect();
    let section = section.join("\n");
    let keys = listed_keys(message);
    assert!(!keys.is_empty(), "{message}");
    for key in keys {
        assert!(
            section.contains(&format!("`{key}`")),
            "{}: section {heading} does not document `{key}`",
            path.display()
        );
    }
}

#[test]
fn the_base_document_is_valid() {
    Config::from_yaml(BASE, "d.yaml").unwrap();
}

#[test]
fn unknown_keys_in_every_table() {
    // (line, indent, table, its section in docs/config-reference.md)
    let cases = [
        (2, 2, "director", "## `director`"),
        (3, 2, "vrrp", "## `vrrp`"),
        (6, 6, "vrrp.scripts.chk", "`vrrp.scripts.NAME`"),
        (8, 6, "vrrp.instances[0]", "`vrrp.instances[N]`"),
        (12, 8, "vrrp.instances[0].authentication", "`vrrp.instances[N].authentication`"),
        (15, 8, "vrrp.instances[0].unicast", "`vrrp.instances[N].unicast`"),
        (
            17,
            10,
            "vrrp.instances[0].virtual_addresses[0]",
            "`vrrp.instances[N].virtual_addresses[M]`",
        ),
        (20, 8, "vrrp.instances[0].track", "`vrrp.instances[N].track`"),
        (21, 12, "vrrp.instances[0].track.interfaces[0]", "`vrrp.instances[N].track`"),
        (24, 12, "vrrp.instances[0].track.scripts[0]", "`vrrp.instances[N].track`"),
        (26, 8, "vrrp.instances[0].notify", "`vrrp.instances[N].notify`"),
        (28, 8, "vrrp.instances[0].garp", "`vrrp.instances[N].garp`"),
        (31, 6, "vrrp.sync_groups[0]", "`vrrp.sync_groups[N]`"),
        (33, 8, "vrrp.sync_groups[0].notify", "`vrrp.instances[N].notify`"),
    ];
    for (after_line, indent, path, heading) in cases {
        let message = check_rejected(after_line, indent, path);
        check_documented(heading, &message);
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
    // (line, indent, table, its section in docs/config-reference.md)
    let cases = [
        (3, 4, "director.ipvs_sync_daemon", "`director.ipvs_sync_daemon`"),
        (10, 4, "virtual_servers[0]", "## `virtual_servers[N]`"),
        (13, 6, "virtual_servers[0].persistence", "`virtual_servers[N].persistence`"),
        (16, 6, "virtual_servers[0].sorry_server", "`virtual_servers[N].sorry_server`"),
        (19, 6, "virtual_servers[0].check", "### `check`"),
        (21, 10, "virtual_servers[0].check.urls[0]", "`check.urls[K]`"),
        (24, 8, "virtual_servers[0].real_servers[0]", "`virtual_servers[N].real_servers[M]`"),
        (27, 10, "virtual_servers[0].real_servers[0].check", "### `check`"),
    ];
    for (after_line, indent, path, heading) in cases {
        let message = check_rejected_in(VS_BASE, after_line, indent, path);
        check_documented(heading, &message);
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
