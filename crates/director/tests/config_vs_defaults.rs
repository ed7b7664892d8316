#![allow(clippy::unwrap_used)]
//! The defaults of a minimal virtual server, real server and check: keepalived's, and
//! what reaches the kernel and the checker.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use checker::{CheckKind, StatusCodes, Timing};
use director::config::Config;
use ipvs::{Destination, Forwarding, Netmask, Protocol, Scheduler, ServiceKey};

const MINIMAL: &str = "\
virtual_servers:
  - name: web
    address: 192.0.2.10
    port: 80
    check: {type: tcp}
    real_servers:
      - {address: 198.51.100.7, port: 80}
      - address: 198.51.100.8
        port: 8080
        check: {type: http}
";

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn a_minimal_virtual_server_has_keepalived_defaults() {
    let config = Config::from_yaml(MINIMAL, "d").unwrap();
    assert!(!config.director.keep_rules_on_exit);
    assert_eq!(config.director.ipvs_sync_daemon, None);
    let [vs] = &config.virtual_servers[..] else { panic!("one service") };
    let key = ServiceKey::Addr { protocol: Protocol::Tcp, addr: ip("192.0.2.10"), port: 80 };
    assert_eq!(vs.service.key, key);
    assert_eq!(vs.service.scheduler, Scheduler::Wlc);
    assert!(!vs.service.persistent());
    assert_eq!(vs.service.netmask, Netmask::full(ipvs::Family::Inet));
    assert_eq!(vs.service.pe_name, None);
    assert_eq!((vs.quorum, vs.hysteresis), (1, 0));
    assert!(!vs.inhibit_on_failure && !vs.alpha && !vs.omega);
    assert_eq!(vs.sorry_server, None);
    assert_eq!(vs.vrrp_instance, None);
    assert_eq!(vs.drain_timeout, Duration::from_secs(30));
    assert_eq!((vs.quorum_up.as_ref(), vs.quorum_down.as_ref()), (None, None));
}

#[test]
fn a_minimal_real_server_is_nat_with_weight_1() {
    let config = Config::from_yaml(MINIMAL, "d").unwrap();
    let rs = &config.virtual_servers[0].real_servers[0];
    let want =
        Destination { forwarding: Forwarding::Masq, ..Destination::new(ip("198.51.100.7"), 80) };
    assert_eq!(rs.destination, want);
    assert_eq!((rs.notify_up.as_ref(), rs.notify_down.as_ref()), (None, None));
}

#[test]
fn checks_take_keepalived_timing_and_the_real_servers_address() {
    let config = Config::from_yaml(MINIMAL, "d").unwrap();
    let [tcp, http] = &config.virtual_servers[0].real_servers[..] else { panic!("two") };
    let tcp = tcp.check.as_ref().unwrap();
    assert_eq!(tcp.kind, CheckKind::Tcp);
    assert_eq!(tcp.target.connect, SocketAddr::new(ip("198.51.100.7"), 80));
    assert_eq!((tcp.target.bind_to, tcp.target.fwmark), (None, None));
    assert_eq!(tcp.timing, Timing::defaults_for(&CheckKind::Tcp));
    assert_eq!(tcp.timing.delay_loop, Duration::from_secs(60));
    assert_eq!(tcp.timing.connect_timeout, Duration::from_secs(5));
    // The real server's own check replaces the service's, and targets its own port.
    let http = http.check.as_ref().unwrap();
    assert_eq!(http.target.connect, SocketAddr::new(ip("198.51.100.8"), 8080));
    let CheckKind::Http(h) = &http.kind else { panic!("{:?}", http.kind) };
    assert_eq!(h.virtualhost, None);
    let [url] = &h.urls[..] else { panic!("one url") };
    assert_eq!((url.path.as_str(), &url.status), ("/", &StatusCodes::default()));
    assert_eq!((url.digest.as_ref(), url.regex.as_ref()), (None, None));
    assert_eq!(http.timing.delay_before_retry, Duration::from_secs(3));
}

#[test]
fn no_check_means_none_and_alpha_reaches_the_check() {
    let text = "virtual_servers:\n  - {name: a, address: 192.0.2.1, port: 80, alpha: true, \
                real_servers: [{address: 198.51.100.1, port: 80}]}\n  - {name: b, address: \
                192.0.2.1, port: 81, alpha: true, check: {type: tcp}, real_servers: \
                [{address: 198.51.100.1, port: 81}]}\n";
    let config = Config::from_yaml(text, "d").unwrap();
    assert_eq!(config.virtual_servers[0].real_servers[0].check, None);
    let check = config.virtual_servers[1].real_servers[0].check.as_ref().unwrap();
    assert!(check.timing.alpha);
}

#[test]
fn written_settings_reach_the_service_and_destinations() {
    let text = "\
vrrp:
  instances: [{name: VI_1, interface: eth0, vrid: 1}, {name: VI_2, interface: eth0, vrid: 2}]
director:
  keep_rules_on_exit: true
  ipvs_sync_daemon: {interface: eth1, sync_id: 7, vrrp_instance: VI_2}
virtual_servers:
  - name: v6
    fwmark: 9
    family: inet6
    scheduler: mh
    forwarding: tun
    persistence: {timeout: 50s, netmask: 64}
    persistence_engine: sip
    quorum: 3
    hysteresis: 2
    vrrp_instance: VI_1
    drain_timeout: 2m
    sorry_server: {address: \"2001:db8::99\"}
    check:
      type: misc
      command: [/usr/bin/check, x]
      dynamic: true
      delay_loop: 6s
      retry: 2
      warmup: 0s
    real_servers:
      - {address: \"2001:db8::7\", port: 80, weight: 300, upper_threshold: 10, lower_threshold: 5}
      - {address: \"2001:db8::8\", forwarding: nat, port: 8080}
";
    let config = Config::from_yaml(text, "d").unwrap();
    assert!(config.director.keep_rules_on_exit);
    let sync = config.director.ipvs_sync_daemon.unwrap();
    assert_eq!((sync.sync_id, sync.vrrp_instance.as_deref()), (7, Some("VI_2")));
    let vs = &config.virtual_servers[0];
    assert_eq!(vs.service.key, ServiceKey::Fwmark { family: ipvs::Family::Inet6, mark: 9 });
    assert_eq!(vs.service.scheduler, Scheduler::Mh);
    assert!(vs.service.persistent());
    assert_eq!((vs.service.timeout, vs.service.netmask), (50, Netmask::V6Prefix(64)));
    assert_eq!(vs.service.pe_name.as_deref(), Some("sip"));
    assert_eq!((vs.quorum, vs.hysteresis, vs.drain_timeout), (3, 2, Duration::from_secs(120)));
    let sorry = &vs.sorry_server.as_ref().unwrap().destination;
    assert_eq!((sorry.port, sorry.forwarding, sorry.weight), (0, Forwarding::Tunnel, 1));
    let [tun, nat] = &vs.real_servers[..] else { panic!("two") };
    // A fwmark tunnel destination has port 0 in the kernel; its port is where to check.
    assert_eq!((tun.destination.port, tun.destination.forwarding), (0, Forwarding::Tunnel));
    assert_eq!((tun.destination.weight, tun.destination.upper_threshold), (300, 10));
    assert_eq!(tun.destination.lower_threshold, 5);
    assert_eq!((nat.destination.port, nat.destination.forwarding), (8080, Forwarding::Masq));
    let check = tun.check.as_ref().unwrap();
    let CheckKind::Misc(misc) = &check.kind else { panic!("{:?}", check.kind) };
    assert_eq!(misc.argv, ["/usr/bin/check", "x"]);
    assert!(misc.dynamic);
    // keepalived's misc_timeout defaults to the delay loop.
    assert_eq!(misc.timeout, Duration::from_secs(6));
    let env: Vec<(&str, &str)> = misc.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        env,
        [
            ("DIRECTOR_VIRTUAL_SERVER", "v6"),
            ("DIRECTOR_REAL_SERVER_ADDRESS", "2001:db8::7"),
            ("DIRECTOR_REAL_SERVER_PORT", "80")
        ]
    );
    assert_eq!((check.timing.retry, check.timing.warmup), (2, Some(Duration::ZERO)));
}

#[test]
fn an_unreachable_quorum_is_a_warning() {
    let text = "virtual_servers:\n  - {name: a, address: 192.0.2.1, port: 80, quorum: 3, \
                real_servers: [{address: 198.51.100.1, port: 80, weight: 2}]}\n";
    let config = Config::from_yaml(text, "d").unwrap();
    assert_eq!(
        config.warnings(),
        ["virtual_servers[0].quorum: 3 is more than the real servers' weights add up to (2), \
          so quorum is never reached and the sorry server (if any) always serves"]
    );
    assert!(Config::from_yaml(MINIMAL, "d").unwrap().warnings().is_empty());
}
