#![allow(clippy::unwrap_used)]
//! Every example configuration shipped in etc/ loads.

use std::path::Path;

use director::config::Config;

#[test]
fn every_example_in_etc_loads() {
    let etc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc");
    let mut pending = vec![etc.clone()];
    let mut checked = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                if let Err(e) = Config::load(&path) {
                    panic!("{}:\n{e}", path.display());
                }
                checked.push(path);
            }
        }
    }
    // etc/director.yaml, etc/vrrp-only.yaml and the demo's two, at least.
    assert!(checked.len() >= 4, "etc/ examples found: {checked:?}");
    assert!(checked.iter().any(|p| p.ends_with("demo/lb2.yaml")), "{checked:?}");
}

#[test]
fn the_demo_directors_differ_in_id_and_priority_only() {
    let etc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc/demo");
    let [lb1, lb2] = ["lb1.yaml", "lb2.yaml"].map(|f| Config::load(&etc.join(f)).unwrap());
    assert_eq!((lb1.director.id.as_str(), lb2.director.id.as_str()), ("lb1", "lb2"));
    assert_eq!((lb1.vrrp.instances[0].priority, lb2.vrrp.instances[0].priority), (150, 100));
    let mut same = lb2.clone();
    same.director.id = lb1.director.id.clone();
    same.vrrp.instances[0].priority = lb1.vrrp.instances[0].priority;
    assert_eq!(same, lb1);
}

#[test]
fn the_vrrp_only_example_says_what_it_shows() {
    let etc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc/vrrp-only.yaml");
    let config = Config::load(&etc).unwrap();
    let names: Vec<_> = config.vrrp.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_web", "VI_gw"]);
    let web = &config.vrrp.instances[0];
    assert!(!web.track_scripts.is_empty() && !web.track_interfaces.is_empty());
    assert!(web.notify.master.is_some() && web.notify.any.is_some());
    assert_eq!(config.track_scripts().len(), 1);
    assert_eq!(config.vrrp.sync_groups[0].instances, ["VI_web", "VI_gw"]);
}

#[test]
fn the_documented_example_shows_dr_nat_fwmark_sorry_server_and_checks() {
    use checker::CheckKind;
    use ipvs::{Forwarding, ServiceKey};

    let etc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc/director.yaml");
    let config = Config::load(&etc).unwrap();
    let sync = config.director.ipvs_sync_daemon.as_ref().unwrap();
    assert_eq!((sync.interface.as_str(), sync.sync_id), ("eth1", 51));
    let names: Vec<_> = config.virtual_servers.iter().map(|vs| vs.name.as_str()).collect();
    assert_eq!(names, ["web", "api", "web-mark"]);
    let [web, api, mark] = &config.virtual_servers[..] else { panic!("three services") };
    assert_eq!(web.real_servers[0].destination.forwarding, Forwarding::Route);
    assert_eq!(api.real_servers[0].destination.forwarding, Forwarding::Masq);
    assert_eq!(api.real_servers[0].destination.port, 8443);
    assert!(matches!(mark.service.key, ServiceKey::Fwmark { mark: 1, .. }));
    let sorry = web.sorry_server.as_ref().unwrap();
    assert_eq!(sorry.destination.forwarding, Forwarding::Masq);
    assert!(web.vrrp_instance.is_some() && web.service.persistent());
    let kinds: Vec<&str> = config
        .virtual_servers
        .iter()
        .flat_map(|vs| &vs.real_servers)
        .map(|rs| rs.check.as_ref().map_or("none", |c| c.kind.name()))
        .collect();
    assert_eq!(kinds, ["tcp", "http", "https", "https", "misc", "tcp", "tcp"]);
    assert!(
        matches!(&web.real_servers[1].check.as_ref().unwrap().kind, CheckKind::Http(h) if h.virtualhost.is_some())
    );
    // Only the documentation ranges, as the project's rules ask.
    let text = std::fs::read_to_string(&etc).unwrap();
    for word in text.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
        let parts: Vec<&str> = word.split('.').collect();
        if parts.len() == 4 && parts.iter().all(|p| p.parse::<u8>().is_ok()) {
            let ok = ["192.0.2.", "198.51.100.", "203.0.113.", "127.", "255."]
                .iter()
                .any(|prefix| word.starts_with(prefix));
            assert!(ok, "{word} is outside the documentation ranges");
        }
    }
}

/// Each topology example of etc/ has what its header comment promises.
#[test]
fn the_topology_examples_show_their_topologies() {
    use checker::CheckKind;
    use ipvs::Forwarding;

    let etc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc");
    let load = |f: &str| Config::load(&etc.join(f)).unwrap();

    let nginx = load("vrrp-nginx-track-script.yaml");
    assert!(nginx.virtual_servers.is_empty());
    let vi = &nginx.vrrp.instances[0];
    assert_eq!(vi.track_scripts.len(), 1);
    let script = &nginx.vrrp.scripts[0];
    // 150 - 60 falls below the peer's 100.
    assert_eq!(i32::from(vi.priority) + script.weight, 90);

    let dr = load("lvs-dr-tcp.yaml");
    let web = &dr.virtual_servers[0];
    assert!(web.real_servers.iter().all(|rs| rs.destination.forwarding == Forwarding::Route
        && matches!(rs.check.as_ref().unwrap().kind, CheckKind::Tcp)));
    assert_eq!(web.vrrp_instance.as_deref(), Some("VI_1"));

    let nat = load("lvs-nat-http-sorry.yaml");
    let shop = &nat.virtual_servers[0];
    assert!(shop.sorry_server.is_some());
    assert!(shop.real_servers.iter().all(|rs| rs.destination.forwarding == Forwarding::Masq
        && matches!(rs.check.as_ref().unwrap().kind, CheckKind::Http(_))));
    assert_eq!(nat.vrrp.sync_groups[0].instances, ["VI_outside", "VI_inside"]);

    let dual = load("dual-master.yaml");
    let prio: Vec<u8> = dual.vrrp.instances.iter().map(|i| i.priority).collect();
    assert_eq!(prio, [150, 100]);
    let owners: Vec<_> =
        dual.virtual_servers.iter().map(|vs| vs.vrrp_instance.as_deref().unwrap()).collect();
    assert_eq!(owners, ["VI_1", "VI_2"]);

    let unicast = load("unicast-peers.yaml");
    let vi = &unicast.vrrp.instances[0];
    assert!(!vi.preempt && vi.password.is_some());
    assert_eq!(vi.unicast.as_ref().unwrap().peers.len(), 1);
}
