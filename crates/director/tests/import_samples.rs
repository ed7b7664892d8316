//! Every keepalived.conf sample converts, the YAML loads as a director configuration,
//! and the values that matter landed where they belong.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use checker::CheckKind;
use director::config::{Config, InitialState};
use director::import::{convert, Conversion};
use ipvs::{Forwarding, ServiceKey};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keepalived")
}

fn load(name: &str) -> (Conversion, Config) {
    let conversion = convert(&fixtures().join(name)).unwrap();
    let config = Config::from_yaml(&conversion.yaml, name).unwrap();
    (conversion, config)
}

#[test]
fn every_sample_converts_and_loads() {
    let mut count = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "conf") {
            let conversion = convert(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            Config::from_yaml(&conversion.yaml, "converted").unwrap();
            // Each converted file is also what `directorctl config check` reads.
            assert!(conversion.yaml.starts_with("# Converted from "), "{}", conversion.yaml);
            count += 1;
        }
    }
    assert_eq!(count, 6);
}

#[test]
fn the_repo_copies_match_the_shared_samples() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/keepalived-samples");
    if !shared.is_dir() {
        return;
    }
    for entry in std::fs::read_dir(&shared).unwrap() {
        let path = entry.unwrap().path();
        let copy = fixtures().join(path.file_name().unwrap());
        let (want, got) = (std::fs::read(&path).unwrap(), std::fs::read(&copy));
        assert_eq!(got.ok(), Some(want), "{} differs from {}", copy.display(), path.display());
    }
}

#[test]
fn master_backup_track() {
    let (conversion, config) = load("master-backup-track.conf");
    assert!(conversion.warnings.is_empty(), "{:?}", conversion.warnings);
    assert_eq!(config.director.id, "lb-a");
    let script = &config.vrrp.scripts[0];
    assert_eq!(script.name, "chk_proxy");
    assert_eq!(script.command, ["/usr/local/bin/check_proxy.sh", "--port", "80"]);
    assert_eq!((script.interval, script.timeout), (Duration::from_secs(2), Duration::from_secs(1)));
    assert_eq!((script.weight, script.rise, script.fall), (-30, 2, 3));
    let vi = &config.vrrp.instances[0];
    assert_eq!((vi.name.as_str(), vi.vrid, vi.priority), ("VI_WEB", 61, 200));
    assert_eq!(vi.initial_state, InitialState::Master);
    assert_eq!(vi.password.as_deref(), Some("s3cret"));
    assert_eq!(vi.virtual_addresses[0].address.to_string(), "192.0.2.100");
    assert_eq!(vi.virtual_addresses[0].prefix_len, 24);
    assert_eq!(vi.virtual_addresses[0].dev.as_deref(), Some("eth0"));
    assert_eq!(vi.track_scripts[0].name, "chk_proxy");
    let master: Vec<&str> = vi.notify.master.as_ref().unwrap().iter().map(|s| s.as_str()).collect();
    assert_eq!(master, ["/etc/keepalived/notify.sh", "MASTER"]);
    assert!(vi.notify.fault.is_some() && vi.notify.stop.is_none());
}

#[test]
fn dual_master_includes_the_peer_instance() {
    let (_, config) = load("dual-master.conf");
    let names: Vec<(&str, u8, u8)> =
        config.vrrp.instances.iter().map(|i| (i.name.as_str(), i.vrid, i.priority)).collect();
    assert_eq!(names, [("VI_A", 71, 150), ("VI_B", 72, 100)]);
    assert_eq!(config.vrrp.instances[0].virtual_addresses[0].label.as_deref(), Some("eth0:1"));
    assert_eq!(config.vrrp.instances[1].virtual_addresses[0].label.as_deref(), Some("eth0:2"));
    assert_eq!(config.vrrp.instances[1].initial_state, InitialState::Backup);
}

#[test]
fn lvs_dr_tcp_check() {
    let (conversion, config) = load("lvs-dr-tcp-check.conf");
    assert!(conversion.warnings.is_empty(), "{:?}", conversion.warnings);
    let vs = &config.virtual_servers[0];
    assert!(matches!(vs.service.key, ServiceKey::Addr { port: 80, .. }));
    assert_eq!(vs.service.scheduler.name(), "rr");
    assert!(vs.service.persistent());
    assert_eq!(vs.service.timeout, 30);
    assert_eq!(vs.quorum, 1);
    assert_eq!(vs.vrrp_instance, None, "keepalived installs the rules on every director");
    let sorry = &vs.sorry_server.as_ref().unwrap().destination;
    assert_eq!((sorry.addr.to_string(), sorry.port), ("198.51.100.99".to_string(), 80));
    assert_eq!(vs.real_servers.len(), 2);
    for rs in &vs.real_servers {
        assert_eq!(rs.destination.forwarding, Forwarding::Route);
        let check = rs.check.as_ref().unwrap();
        assert!(matches!(check.kind, CheckKind::Tcp));
        assert_eq!(check.timing.delay_loop, Duration::from_secs(5), "the virtual server's");
        assert_eq!((check.timing.retry, check.timing.connect_timeout), (2, Duration::from_secs(2)));
    }
    assert_eq!(vs.real_servers[0].check.as_ref().unwrap().target.connect.port(), 80);
    assert_eq!(vs.real_servers[1].check.as_ref().unwrap().target.connect.port(), 8080);
}

#[test]
fn lvs_nat_http_get() {
    let (_, config) = load("lvs-nat-http-get.conf");
    let vs = &config.virtual_servers[0];
    assert_eq!(vs.service.scheduler.name(), "wrr");
    assert!(vs.alpha && vs.inhibit_on_failure && !vs.omega);
    let rs = &vs.real_servers[0];
    assert_eq!((rs.destination.weight, rs.destination.forwarding), (3, Forwarding::Masq));
    let check = rs.check.as_ref().unwrap();
    let CheckKind::Http(http) = &check.kind else { panic!("{:?}", check.kind) };
    assert_eq!(http.virtualhost.as_deref(), Some("app.example.net"));
    assert_eq!(http.urls.len(), 2);
    assert_eq!(http.urls[0].path, "/healthz");
    assert_eq!(
        http.urls[1].digest.as_ref().map(ToString::to_string).as_deref(),
        Some("9b3a0c85a887a256d6939da88aabd8cd")
    );
    assert_eq!(check.timing.delay_before_retry, Duration::from_secs(2));
    assert!(check.timing.alpha);
    let misc = vs.real_servers[1].check.as_ref().unwrap();
    let CheckKind::Misc(misc) = &misc.kind else { panic!("{:?}", misc.kind) };
    assert_eq!(misc.argv, ["/usr/local/bin/check_app", "203.0.113.12", "8080"]);
    assert_eq!(misc.timeout, Duration::from_secs(5));
    assert!(misc.dynamic);
}

#[test]
fn unicast_nopreempt_sync_group_and_sync_daemon() {
    let (conversion, config) = load("unicast-nopreempt.conf");
    assert!(conversion.warnings.is_empty(), "{:?}", conversion.warnings);
    let edge = &config.vrrp.instances[0];
    assert!(!edge.preempt);
    assert_eq!(edge.preempt_delay, Duration::from_secs(10));
    let unicast = edge.unicast.as_ref().unwrap();
    assert_eq!(unicast.source.unwrap().to_string(), "192.0.2.1");
    assert_eq!(unicast.peers[0].to_string(), "192.0.2.2");
    let tracked: Vec<(&str, i32)> =
        edge.track_interfaces.iter().map(|t| (t.name.as_str(), t.weight)).collect();
    assert_eq!(tracked, [("eth0", 0), ("eth1", -10)]);
    assert_eq!(edge.virtual_addresses.len(), 2);
    assert_eq!(edge.virtual_addresses[1].prefix_len, 32);
    assert!(!config.vrrp.instances[1].preempt);
    let group = &config.vrrp.sync_groups[0];
    assert_eq!(group.instances, ["VI_EDGE", "VI_INNER"]);
    assert!(group.notify.master.is_some());
    let daemon = config.director.ipvs_sync_daemon.as_ref().unwrap();
    assert_eq!((daemon.interface.as_str(), daemon.sync_id), ("eth1", 5));
    assert_eq!(daemon.vrrp_instance.as_deref(), Some("VI_EDGE"));
}
