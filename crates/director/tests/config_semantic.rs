#![allow(clippy::unwrap_used)]
//! Semantic errors: every one in a document is reported, each with its key path, line
//! and column, and what was expected against what was found.

use director::config::Config;

const BAD: &str = r#"director:
  id: ""
vrrp:
  scripts:
    empty: {command: []}
    relative: {command: [check.sh], interval: 0s, timeout: 0, rise: 0, fall: 0, weight: 254}
  instances:
    - name: a
      interface: eth0
      vrid: 300
      priority: 0
      version: 4
    - name: a
      interface: a-very-long-interface-name
      vrid: 7
      advert_interval: 1500ms
      authentication: {type: pass, password: "123456789"}
      unicast: {peers: []}
      virtual_addresses: [192.0.2.1/33, {address: 192.0.2.2, dev: eth1, label: "eth0:x"}]
      track: {interfaces: [{name: eth1, weight: 300}], scripts: [nope, {name: relative, weight: -254}]}
      notify: {master: [], any: [/bin/true]}
      garp: {master_repeat: 0}
    - name: c
      interface: a-very-long-interface-name
      vrid: 7
      version: 3
      advert_interval: 5ms
      authentication: {type: pass, password: x}
  sync_groups:
    - {name: g, instances: [a, missing]}
    - {name: g, instances: [a, c, c], notify: {stop: []}}
    - {name: h, instances: []}
"#;

const LONG_IF: &str = "expected an interface name of 1-15 bytes without '/', ':' or spaces, \
                       got \"a-very-long-interface-name\" (26 bytes)";
const ARGV: &str = "expected a command as [PROGRAM, ARG...], got an empty list";

#[test]
fn every_error_is_reported_in_file_order() {
    let err = Config::from_yaml(BAD, "d.yaml").unwrap_err();
    let got: Vec<(usize, usize, &str, &str)> = err
        .errors()
        .iter()
        .map(|e| (e.line, e.column, e.path.as_str(), e.message.as_str()))
        .collect();
    let want: Vec<(usize, usize, String, String)> = [
        (2, 7, "director.id", "expected a name, got an empty string".to_string()),
        (5, 22, "vrrp.scripts.empty.command", ARGV.into()),
        (6, 26, "vrrp.scripts.relative.command[0]", r#"expected an absolute path, got "check.sh""#.into()),
        (6, 47, "vrrp.scripts.relative.interval", "expected a duration above zero, got 0ms".into()),
        (6, 60, "vrrp.scripts.relative.timeout", "expected a duration above zero, got 0ms".into()),
        (6, 69, "vrrp.scripts.relative.rise", "expected at least 1, got 0".into()),
        (6, 78, "vrrp.scripts.relative.fall", "expected at least 1, got 0".into()),
        (6, 89, "vrrp.scripts.relative.weight", "expected -253 to 253, got 254".into()),
        (10, 13, "vrrp.instances[0].vrid", "expected 1-255, got 300".into()),
        (11, 17, "vrrp.instances[0].priority", "expected 1-255, got 0".into()),
        (12, 16, "vrrp.instances[0].version", "expected 2 or 3, got 4".into()),
        (
            13,
            13,
            "vrrp.instances[1].name",
            r#"expected a name no other instance has, got "a", also the name of vrrp.instances[0] (line 8)"#
                .into(),
        ),
        (14, 18, "vrrp.instances[1].interface", LONG_IF.into()),
        (
            16,
            24,
            "vrrp.instances[1].advert_interval",
            "expected whole seconds from 1s to 255s (VRRP version 2), got 1500ms".into(),
        ),
        (
            17,
            46,
            "vrrp.instances[1].authentication.password",
            "expected a password of 1-8 bytes, got 9 bytes".into(),
        ),
        (
            18,
            24,
            "vrrp.instances[1].unicast.peers",
            "expected at least one peer address, got an empty list".into(),
        ),
        (
            19,
            27,
            "vrrp.instances[1].virtual_addresses[0]",
            r#"expected ADDRESS[/PREFIX] with an IPv4 address and a prefix of 0-32, got "192.0.2.1/33""#
                .into(),
        ),
        (
            19,
            80,
            "vrrp.instances[1].virtual_addresses[1].label",
            r#"expected a label of at most 15 bytes starting with the device name "eth1", got "eth0:x""#
                .into(),
        ),
        (20, 49, "vrrp.instances[1].track.interfaces[0].weight", "expected -253 to 253, got 300".into()),
        (
            20,
            66,
            "vrrp.instances[1].track.scripts[0]",
            r#"expected the name of a script in vrrp.scripts, got "nope""#.into(),
        ),
        (20, 97, "vrrp.instances[1].track.scripts[1].weight", "expected -253 to 253, got -254".into()),
        (21, 24, "vrrp.instances[1].notify.master", ARGV.into()),
        (22, 29, "vrrp.instances[1].garp.master_repeat", "expected at least 1, got 0".into()),
        (24, 18, "vrrp.instances[2].interface", LONG_IF.into()),
        (
            25,
            13,
            "vrrp.instances[2].vrid",
            r#"expected a vrid no other instance on a-very-long-interface-name uses, got 7, also used by "a" (line 15)"#
                .into(),
        ),
        (
            27,
            24,
            "vrrp.instances[2].advert_interval",
            "expected 10ms to 40950ms in steps of 10ms (VRRP version 3), got 5ms".into(),
        ),
        (
            28,
            7,
            "vrrp.instances[2].authentication",
            "expected no authentication with version 3 (only VRRPv2 has it), got a password".into(),
        ),
        (
            30,
            32,
            "vrrp.sync_groups[0].instances[1]",
            r#"expected the name of an instance in vrrp.instances, got "missing""#.into(),
        ),
        (
            31,
            14,
            "vrrp.sync_groups[1].name",
            r#"expected a name no other sync group has, got "g", also the name of vrrp.sync_groups[0] (line 30)"#
                .into(),
        ),
        (
            31,
            29,
            "vrrp.sync_groups[1].instances[0]",
            r#"instance "a" is already in sync group "g" (line 30); an instance can be in one group only"#
                .into(),
        ),
        (
            31,
            35,
            "vrrp.sync_groups[1].instances[2]",
            r#"instance "c" is listed twice in this group (line 31)"#.into(),
        ),
        (31, 54, "vrrp.sync_groups[1].notify.stop", ARGV.into()),
        (32, 28, "vrrp.sync_groups[2].instances", "expected at least one instance, got an empty list".into()),
    ]
    .into_iter()
    .map(|(l, c, p, m)| (l, c, p.to_string(), m))
    .collect();
    let got: Vec<(usize, usize, String, String)> =
        got.into_iter().map(|(l, c, p, m)| (l, c, p.to_string(), m.to_string())).collect();
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    assert_eq!(got.len(), want.len(), "{err}");
}

#[test]
fn display_is_one_compiler_style_line_per_error() {
    let err = Config::from_yaml(BAD, "director.yaml").unwrap_err();
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), err.errors().len());
    assert!(lines.contains(&"director.yaml:10:13: vrrp.instances[0].vrid: expected 1-255, got 300"));
}

fn only_error(text: &str) -> (usize, usize, String, String) {
    let err = Config::from_yaml(text, "d.yaml").unwrap_err();
    let [e] = err.errors() else { panic!("one error expected: {err}") };
    (e.line, e.column, e.path.clone(), e.message.clone())
}

const ONE: &str = "vrrp:\n  instances:\n    - name: a\n      interface: eth0\n      vrid: 1\n";

#[test]
fn advert_interval_bounds_per_version() {
    let v2 = |interval: &str| {
        Config::from_yaml(&format!("{ONE}      advert_interval: {interval}\n"), "d")
    };
    assert!(v2("1").is_ok());
    assert!(v2("255s").is_ok());
    for bad in ["0", "256", "500ms"] {
        let err = v2(bad).unwrap_err();
        assert_eq!(err.errors()[0].path, "vrrp.instances[0].advert_interval", "{bad}");
    }
    let v3 = |interval: &str| {
        Config::from_yaml(
            &format!("{ONE}      version: 3\n      advert_interval: {interval}\n"),
            "d",
        )
    };
    for good in ["10ms", "50ms", "1s", "40950ms"] {
        assert!(v3(good).is_ok(), "{good}");
    }
    for bad in ["0s", "5ms", "15ms", "40960ms", "1001us"] {
        assert!(v3(bad).is_err(), "{bad}");
    }
}

#[test]
fn duplicate_script_names_point_at_the_second() {
    let text = "vrrp:\n  scripts:\n    s: {command: [/bin/true]}\n    s: {command: [/bin/false]}\n";
    let want = (
        4,
        5,
        "vrrp.scripts.s".to_string(),
        r#"expected a name no other script has, got "s" again"#,
    );
    let got = only_error(text);
    assert_eq!((got.0, got.1, got.2, got.3.as_str()), want);
}

#[test]
fn labels_and_devices_follow_the_kernel() {
    let vip = |entry: &str| format!("{ONE}      virtual_addresses: [{entry}]\n");
    assert!(Config::from_yaml(&vip("{address: 192.0.2.1, label: \"eth0:vip\"}"), "d").is_ok());
    assert!(Config::from_yaml(&vip("{address: 192.0.2.1, dev: eth1, label: eth1}"), "d").is_ok());
    let (line, column, path, _) =
        only_error(&vip("{address: 192.0.2.1, label: \"eth0:a-long-label\"}"));
    assert_eq!(
        (line, column, path.as_str()),
        (6, 55, "vrrp.instances[0].virtual_addresses[0].label")
    );
    let (_, _, path, message) = only_error(&vip("{address: 192.0.2.1, dev: \"eth 1\"}"));
    assert_eq!(path, "vrrp.instances[0].virtual_addresses[0].dev");
    assert!(message.contains("\"eth 1\""), "{message}");
    let (_, _, path, _) =
        only_error(&format!("{ONE}      track: {{interfaces: [sixteen-bytes-xx]}}\n"));
    assert_eq!(path, "vrrp.instances[0].track.interfaces[0]");
}

#[test]
fn long_form_track_script_names_point_at_the_name() {
    let text = format!("{ONE}      track: {{scripts: [{{name: gone}}]}}\n");
    let (line, column, path, _) = only_error(&text);
    assert_eq!((line, column, path.as_str()), (6, 32, "vrrp.instances[0].track.scripts[0].name"));
}

#[test]
fn a_sync_group_member_in_two_groups() {
    let text = format!("{ONE}  sync_groups:\n    - {{name: x, instances: [a]}}\n    - {{name: y, instances: [a]}}\n");
    let (line, column, path, message) = only_error(&text);
    assert_eq!((line, column, path.as_str()), (8, 29, "vrrp.sync_groups[1].instances[0]"));
    assert!(message.contains(r#"already in sync group "x" (line 7)"#), "{message}");
}
