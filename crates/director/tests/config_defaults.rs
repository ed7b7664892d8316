#![allow(clippy::unwrap_used)]
//! keepalived's defaults, and the conversion into the VRRP driver's configuration.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use director::config::{Config, InitialState, TrackScriptRun, Version};
use vrrp::driver::{Notify, Unicast};
use vrrp::machine::{GarpConfig, TrackInterface, TrackScript, VirtualAddress};
use vrrp::packet::Auth;

const MINIMAL: &str = "\
vrrp:
  scripts:
    chk: {command: [/usr/bin/check]}
    unused: {command: [/usr/bin/other]}
  instances:
    - name: VI_1
      interface: eth0
      vrid: 51
      virtual_addresses: [192.0.2.100]
      track: {interfaces: [eth1], scripts: [chk]}
";

#[test]
fn keepalived_defaults() {
    let config = Config::from_yaml(MINIMAL, "d").unwrap();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(config.director_id(), hostname.trim());
    assert_eq!(config.control_socket(), Path::new("/run/director/director.sock"));
    assert_eq!(config.director.metrics, None);
    let script = &config.vrrp.scripts[0];
    assert_eq!(script.interval, Duration::from_secs(1));
    assert_eq!(script.timeout, Duration::from_secs(1));
    assert_eq!((script.weight, script.rise, script.fall), (0, 1, 1));
    let i = &config.vrrp.instances[0];
    assert_eq!(i.priority, 100);
    assert_eq!(i.version, Version::V2);
    assert_eq!(i.advert_interval, Duration::from_secs(1));
    assert_eq!(i.initial_state, InitialState::Backup);
    assert!(i.preempt);
    assert_eq!(i.preempt_delay, Duration::ZERO);
    assert_eq!(i.password, None);
    assert_eq!(i.unicast, None);
    let vip = VirtualAddress {
        address: Ipv4Addr::new(192, 0, 2, 100),
        prefix_len: 32,
        dev: None,
        label: None,
    };
    assert_eq!(i.virtual_addresses, [vip]);
    assert_eq!(i.track_interfaces, [TrackInterface { name: "eth1".into(), weight: 0 }]);
    assert_eq!(i.track_scripts, [TrackScript { name: "chk".into(), weight: None }]);
    assert_eq!(i.notify, Notify::default());
    let garp = GarpConfig {
        master_delay: Duration::from_secs(5),
        master_repeat: 5,
        master_refresh: None,
        master_refresh_repeat: 1,
    };
    assert_eq!(i.garp, garp);
}

#[test]
fn a_script_timeout_defaults_to_its_interval() {
    let text =
        MINIMAL.replace("{command: [/usr/bin/check]}", "{command: [/usr/bin/check], interval: 3}");
    let config = Config::from_yaml(&text, "d").unwrap();
    assert_eq!(config.vrrp.scripts[0].timeout, Duration::from_secs(3));
}

#[test]
fn an_empty_vrrp_section_and_no_director_section_are_valid() {
    let config = Config::from_yaml("vrrp: {}\n", "d").unwrap();
    assert!(config.vrrp.instances.is_empty());
    assert!(config.driver_config().router.instances.is_empty());
    let config = Config::from_yaml("director: {id: lb02}\n", "d").unwrap();
    assert_eq!(config.director_id(), "lb02");
}

const FULL: &str = r#"
director: {id: lb01, control_socket: /tmp/d.sock, metrics: "127.0.0.1:9310"}
vrrp:
  scripts:
    chk: {command: [/usr/bin/check, --fast], interval: 2s, timeout: 500ms, weight: -20, rise: 2, fall: 3}
  instances:
    - name: VI_1
      interface: eth0
      vrid: 51
      priority: 150
      version: 2
      advert_interval: 3
      initial_state: MASTER
      preempt: false
      preempt_delay: 30s
      authentication: {type: pass, password: "1111"}
      unicast: {source: 192.0.2.5, peers: [192.0.2.6, 192.0.2.7]}
      virtual_addresses: [192.0.2.100/24, {address: 198.51.100.1/25, dev: eth1, label: "eth1:vip"}]
      track:
        interfaces: [{name: eth1, weight: -20}]
        scripts: [{name: chk, weight: -50}]
      notify:
        master: [/etc/director/notify.sh, master]
        any: [/etc/director/any.sh]
      garp: {master_delay: 0, master_repeat: 2, master_refresh: 60s, master_refresh_repeat: 3}
    - name: VI_2
      interface: eth1
      vrid: 52
      version: 3
      advert_interval: 50ms
  sync_groups:
    - name: VG
      instances: [VI_1, VI_2]
      notify: {fault: [/etc/director/group.sh, fault]}
"#;

fn argv(words: &[&str]) -> Option<Vec<String>> {
    Some(words.iter().map(|w| w.to_string()).collect())
}

#[test]
fn director_section() {
    let config = Config::from_yaml(FULL, "d").unwrap();
    assert_eq!(config.director_id(), "lb01");
    assert_eq!(config.control_socket(), Path::new("/tmp/d.sock"));
    assert_eq!(config.director.metrics, Some("127.0.0.1:9310".parse().unwrap()));
}

#[test]
fn driver_config_field_by_field() {
    let driver = Config::from_yaml(FULL, "d").unwrap().driver_config();
    let router = &driver.router;
    let [one, two] = &router.instances[..] else { panic!() };
    assert_eq!(one.name, "VI_1");
    assert_eq!(one.interface, "eth0");
    assert_eq!((one.vrid, one.priority), (51, 150));
    assert_eq!(one.version, Version::V2);
    assert_eq!(one.advert_interval_cs, 300);
    assert_eq!(one.initial_state, InitialState::Master);
    assert!(!one.preempt);
    assert_eq!(one.preempt_delay, Duration::from_secs(30));
    assert_eq!(one.auth, Auth::Pass(*b"1111\0\0\0\0"));
    assert_eq!(one.primary_address, Ipv4Addr::new(192, 0, 2, 5));
    assert_eq!(
        one.virtual_addresses,
        [
            VirtualAddress {
                address: Ipv4Addr::new(192, 0, 2, 100),
                prefix_len: 24,
                dev: None,
                label: None
            },
            VirtualAddress {
                address: Ipv4Addr::new(198, 51, 100, 1),
                prefix_len: 25,
                dev: Some("eth1".into()),
                label: Some("eth1:vip".into()),
            },
        ]
    );
    assert_eq!(one.track_interfaces, [TrackInterface { name: "eth1".into(), weight: -20 }]);
    assert_eq!(one.track_scripts, [TrackScript { name: "chk".into(), weight: Some(-50) }]);
    let garp = GarpConfig {
        master_delay: Duration::ZERO,
        master_repeat: 2,
        master_refresh: Some(Duration::from_secs(60)),
        master_refresh_repeat: 3,
    };
    assert_eq!(one.garp, garp);

    assert_eq!(two.version, Version::V3);
    assert_eq!(two.advert_interval_cs, 5);
    assert_eq!(two.auth, Auth::None);
    // No unicast source: the driver fills in the interface's address.
    assert_eq!(two.primary_address, Ipv4Addr::UNSPECIFIED);
    assert_eq!(two.priority, 100);

    let [script] = &router.scripts[..] else { panic!() };
    assert_eq!((script.name.as_str(), script.weight, script.rise, script.fall), ("chk", -20, 2, 3));
    let [group] = &router.sync_groups[..] else { panic!() };
    assert_eq!(group.name, "VG");
    assert_eq!(group.instances, ["VI_1", "VI_2"]);
    // keepalived's default: members' tracking weights are ignored.
    assert!(!group.tracking_weight);

    let [io_one, io_two] = &driver.instances[..] else { panic!() };
    let unicast = Unicast {
        source: Some(Ipv4Addr::new(192, 0, 2, 5)),
        peers: vec![Ipv4Addr::new(192, 0, 2, 6), Ipv4Addr::new(192, 0, 2, 7)],
    };
    assert_eq!(io_one.unicast, Some(unicast));
    let notify = Notify {
        master: argv(&["/etc/director/notify.sh", "master"]),
        any: argv(&["/etc/director/any.sh"]),
        ..Notify::default()
    };
    assert_eq!(io_one.notify, notify);
    assert_eq!(io_two.unicast, None);
    assert_eq!(io_two.notify, Notify::default());
    let group_notify =
        Notify { fault: argv(&["/etc/director/group.sh", "fault"]), ..Notify::default() };
    assert_eq!(driver.sync_groups, [group_notify]);
}

#[test]
fn only_tracked_scripts_run() {
    let config = Config::from_yaml(MINIMAL, "d").unwrap();
    let run = TrackScriptRun {
        name: "chk".into(),
        argv: vec!["/usr/bin/check".into()],
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
    };
    assert_eq!(config.track_scripts(), [run]);
    let names: Vec<_> = config.driver_config().router.scripts.into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["chk"]);
    // Both are still checked and kept in the configuration.
    assert_eq!(config.vrrp.scripts.len(), 2);
}

#[test]
fn track_script_run_carries_interval_and_timeout() {
    let runs = Config::from_yaml(FULL, "d").unwrap().track_scripts();
    let want = TrackScriptRun {
        name: "chk".into(),
        argv: argv(&["/usr/bin/check", "--fast"]).unwrap(),
        interval: Duration::from_secs(2),
        timeout: Duration::from_millis(500),
    };
    assert_eq!(runs, [want]);
}

#[test]
fn passwords_are_zero_padded_to_eight_bytes() {
    let text = FULL.replace(r#"password: "1111""#, r#"password: "12345678""#);
    let driver = Config::from_yaml(&text, "d").unwrap().driver_config();
    assert_eq!(driver.router.instances[0].auth, Auth::Pass(*b"12345678"));
}

#[test]
fn plain_numbers_are_taken_as_text_where_text_is_expected() {
    // keepalived files have `auth_pass 1111`; an unquoted number must not be refused.
    let text = "vrrp:\n  instances:\n    - {name: 7, interface: eth0, vrid: 1, \
                authentication: {type: pass, password: 1111}, notify: {master: [/x, 1]}}\n";
    let config = Config::from_yaml(text, "d").unwrap();
    let i = &config.vrrp.instances[0];
    assert_eq!((i.name.as_str(), i.password.as_deref()), ("7", Some("1111")));
    assert_eq!(i.notify.master, argv(&["/x", "1"]));
}

#[test]
fn empty_sections_and_files_have_nothing_to_run() {
    for text in ["", "# all commented out\n", "director:\nvrrp:\n"] {
        let config = Config::from_yaml(text, "d").unwrap();
        assert_eq!(config.vrrp, Default::default(), "{text:?}");
        assert!(config.track_scripts().is_empty());
    }
}

#[test]
fn sync_group_tracking_weight_reaches_the_machine() {
    let yaml = "vrrp:\n  instances:\n    - {name: a, interface: eth0, vrid: 1, virtual_addresses: [192.0.2.1]}\n  \
                sync_groups:\n    - {name: G, instances: [a], tracking_weight: true}\n";
    let config = Config::from_yaml(yaml, "t.yaml").unwrap();
    let driver = config.driver_config();
    assert!(driver.router.sync_groups[0].tracking_weight);
}

#[test]
fn more_than_255_virtual_addresses_is_an_error() {
    let vips: Vec<String> =
        (0..256).map(|i| format!("198.51.{}.{}", 100 + i / 250, i % 250 + 1)).collect();
    let yaml = format!(
        "vrrp:\n  instances:\n    - {{name: a, interface: eth0, vrid: 1, virtual_addresses: [{}]}}\n",
        vips.join(", ")
    );
    let err = Config::from_yaml(&yaml, "t.yaml").unwrap_err().to_string();
    assert!(err.contains("vrrp.instances[0].virtual_addresses: expected at most 255"), "{err}");
}
