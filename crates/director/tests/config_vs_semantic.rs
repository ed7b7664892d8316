#![allow(clippy::unwrap_used)]
//! Semantic errors of virtual_servers: and director.ipvs_sync_daemon, all reported in one
//! pass, each with its line, column, key path and what was expected against what was found.

use director::config::Config;

fn errors(text: &str) -> Vec<(usize, usize, String, String)> {
    let err = Config::from_yaml(text, "d.yaml").unwrap_err();
    err.errors().iter().map(|e| (e.line, e.column, e.path.clone(), e.message.clone())).collect()
}

fn owned(want: &[(usize, usize, &str, &str)]) -> Vec<(usize, usize, String, String)> {
    want.iter().map(|(l, c, p, m)| (*l, *c, p.to_string(), m.to_string())).collect()
}

const BAD: &str = r#"director:
  ipvs_sync_daemon: {interface: a-very-long-interface-name, sync_id: 256}
vrrp:
  instances:
    - {name: VI_1, interface: eth0, vrid: 1}
    - {name: VI_2, interface: eth0, vrid: 2}
virtual_servers:
  - name: web
    address: 192.0.2.10
    port: 80
    scheduler: fastest
    quorum: 2
    hysteresis: 2
    vrrp_instance: VI_9
    quorum_up: [quorum.sh]
    sorry_server: {address: "2001:db8::99", port: 80}
    check: {type: tcp, path: /x, delay_loop: 0s}
    real_servers:
      - {address: 198.51.100.7, port: 80, weight: 70000}
      - {address: 198.51.100.7, port: 80}
      - {address: 198.51.100.8, port: 8080, forwarding: dr}
      - {address: 198.51.100.9, port: 80, lower_threshold: 5, notify_down: [down.sh]}
  - name: web
    address: 192.0.2.10
    port: 80
    persistence: {netmask: 255.0.255.0}
    real_servers:
      - address: 198.51.100.10
        check:
          type: http
          status_code: [200, 3xx]
          digest: nothex
  - name: mark
    fwmark: 1
    address: 192.0.2.11
    check: {type: tcp}
    real_servers:
      - {address: 198.51.100.11}
      - address: 198.51.100.12
        check: {type: misc, command: [check.sh]}
"#;

#[test]
fn every_error_is_reported_in_file_order() {
    let want = [
        (2, 21, "director.ipvs_sync_daemon.vrrp_instance", "expected the instance the sync daemon follows, one of \"VI_1\", \"VI_2\", got none"),
        (2, 33, "director.ipvs_sync_daemon.interface", "expected an interface name of 1-15 bytes without '/', ':' or spaces, got \"a-very-long-interface-name\" (26 bytes)"),
        (2, 70, "director.ipvs_sync_daemon.sync_id", "expected 0-255, got 256"),
        (11, 16, "virtual_servers[0].scheduler", "expected one of rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh, got \"fastest\""),
        (13, 17, "virtual_servers[0].hysteresis", "expected 0 to quorum - 1 (1), got 2"),
        (14, 20, "virtual_servers[0].vrrp_instance", "expected the name of an instance in vrrp.instances (\"VI_1\", \"VI_2\"), got \"VI_9\""),
        (15, 17, "virtual_servers[0].quorum_up[0]", "expected an absolute path, got \"quorum.sh\""),
        (16, 29, "virtual_servers[0].sorry_server.address", "expected an IPv4 address (the virtual server's family), got 2001:db8::99"),
        (17, 24, "virtual_servers[0].check.path", "expected no path in a tcp check (only http and https checks take it)"),
        (17, 46, "virtual_servers[0].check.delay_loop", "expected a duration above zero, got 0ms"),
        (19, 51, "virtual_servers[0].real_servers[0].weight", "expected 0-65535, got 70000"),
        (20, 19, "virtual_servers[0].real_servers[1].address", "expected an address and port no other real server of this virtual server has, got 198.51.100.7:80, also virtual_servers[0].real_servers[0] (line 19)"),
        (21, 39, "virtual_servers[0].real_servers[2].port", "expected the virtual server's port 80 (dr forwards packets unchanged; only nat sends them to another port), got 8080"),
        (22, 60, "virtual_servers[0].real_servers[3].lower_threshold", "expected at most upper_threshold (0; 0 means none), got 5"),
        (22, 77, "virtual_servers[0].real_servers[3].notify_down[0]", "expected an absolute path, got \"down.sh\""),
        (23, 11, "virtual_servers[1].name", "expected a name no other virtual server has, got \"web\", also the name of virtual_servers[0] (line 8)"),
        (24, 14, "virtual_servers[1].address", "expected a service no other virtual server has, got 192.0.2.10:80/tcp, also the service of virtual_servers[0] \"web\" (line 9)"),
        (26, 28, "virtual_servers[1].persistence.netmask", "expected a contiguous IPv4 netmask such as 255.255.255.0, got \"255.0.255.0\""),
        (28, 9, "virtual_servers[1].real_servers[0].port", "expected a port 0-65535 (the virtual server has an address and port), got none"),
        (31, 30, "virtual_servers[1].real_servers[0].check.status_code[1]", "expected a status code 100-599 or a range such as 301-302, got \"3xx\" (not a number)"),
        (32, 19, "virtual_servers[1].real_servers[0].check.digest", "expected 32 hex digits (an MD5 sum), got \"nothex\""),
        (35, 5, "virtual_servers[2].address", "expected no address with fwmark (the mark alone selects the packets)"),
        (38, 9, "virtual_servers[2].real_servers[0].port", "expected a port for the tcp check at virtual_servers[2].check: the real server's port or the check's connect_port, got none"),
        (40, 39, "virtual_servers[2].real_servers[1].check.command[0]", "expected an absolute path, got \"check.sh\""),
    ];
    assert_eq!(errors(BAD), owned(&want));
}

#[test]
fn errors_display_as_file_line_column_key() {
    let err = Config::from_yaml(BAD, "director.yaml").unwrap_err().to_string();
    assert!(
        err.contains("director.yaml:19:51: virtual_servers[0].real_servers[0].weight: expected 0-65535, got 70000\n"),
        "{err}"
    );
}

const VIP: &str = "vrrp:\n  instances: [{name: VI_1, interface: eth0, vrid: 1}]\n";

fn one(vs: &str) -> Vec<(usize, usize, String, String)> {
    errors(&format!("{VIP}virtual_servers:\n  - {vs}\n"))
}

#[test]
fn a_service_key_is_an_address_and_port_or_a_fwmark() {
    assert_eq!(
        one("{name: a}"),
        owned(&[(4, 5, "virtual_servers[0]", "expected address and port, or fwmark, got neither")])
    );
    assert_eq!(
        one("{name: a, address: 192.0.2.1}"),
        owned(&[(
            4,
            5,
            "virtual_servers[0].port",
            "expected a port (the virtual server has an address), got none"
        )])
    );
    assert_eq!(
        one("{name: a, fwmark: 0, protocol: udp, port: 1}"),
        owned(&[
            (4, 23, "virtual_servers[0].fwmark", "expected 1-4294967295, got 0"),
            (
                4,
                26,
                "virtual_servers[0].protocol",
                "expected no protocol with fwmark (the mark alone selects the packets)"
            ),
            (
                4,
                41,
                "virtual_servers[0].port",
                "expected no port with fwmark (the mark alone selects the packets)"
            ),
        ])
    );
    assert_eq!(
        one("{name: a, address: 192.0.2.1, port: 0, family: inet}"),
        owned(&[
            (
                4,
                41,
                "virtual_servers[0].port",
                "expected a port 1-65535 (port 0, every port, needs persistence), got 0"
            ),
            (
                4,
                44,
                "virtual_servers[0].family",
                "expected no family with an address (the address gives it)"
            ),
        ])
    );
    // Port 0 with persistence is every port, as ipvsadm allows.
    Config::from_yaml(&format!("{VIP}virtual_servers:\n  - {{name: a, address: 192.0.2.1, port: 0, persistence: {{}}}}\n"), "d").unwrap();
}

#[test]
fn fwmark_real_servers_need_a_port_to_check() {
    let vs = "{name: m, fwmark: 3, forwarding: dr, check: {type: tcp}, real_servers: [{address: 198.51.100.1}]}";
    let [(line, _, path, message)] = &one(vs)[..] else { panic!("{:?}", one(vs)) };
    assert_eq!((*line, path.as_str()), (4, "virtual_servers[0].real_servers[0].port"));
    assert!(
        message.starts_with("expected a port for the tcp check at virtual_servers[0].check"),
        "{message}"
    );
    // connect_port, or the real server's port, is where the check goes.
    let fixed = vs.replace("{type: tcp}", "{type: tcp, connect_port: 8080}");
    let config = Config::from_yaml(&format!("{VIP}virtual_servers:\n  - {fixed}\n"), "d").unwrap();
    let rs = &config.virtual_servers[0].real_servers[0];
    assert_eq!(rs.check.as_ref().unwrap().target.connect.port(), 8080);
    assert_eq!(rs.destination.port, 0);
}

#[test]
fn check_tables_refuse_what_their_type_does_not_take() {
    let vs = "{name: a, address: 192.0.2.1, port: 443, check: {type: https, verify: false, ca_file: /etc/ca.pem, path: /a, urls: []}, real_servers: [{address: 198.51.100.1, port: 443, check: {type: misc, bind_to: 198.51.100.2}}]}";
    let got: Vec<(String, String)> = one(vs).into_iter().map(|(_, _, p, m)| (p, m)).collect();
    let want = [
        ("virtual_servers[0].check.path", "expected path inside each of urls, not beside them"),
        ("virtual_servers[0].check.urls", "expected at least one url, got an empty list"),
        ("virtual_servers[0].check.ca_file", "expected no ca_file with verify: false"),
        (
            "virtual_servers[0].real_servers[0].check.bind_to",
            "expected no bind_to in a misc check (only tcp and http and https checks take it)",
        ),
        (
            "virtual_servers[0].real_servers[0].check",
            "expected command: [PROGRAM, ARG...] in a misc check, got none",
        ),
    ];
    let want: Vec<(String, String)> =
        want.iter().map(|(p, m)| (p.to_string(), m.to_string())).collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut want_sorted = want;
    want_sorted.sort();
    assert_eq!(got_sorted, want_sorted, "{got:?}");
}

#[test]
fn families_must_match() {
    let vs = "{name: a, address: 192.0.2.1, port: 80, check: {type: tcp, bind_to: \"2001:db8::1\"}, real_servers: [{address: \"2001:db8::2\", port: 80}]}";
    let got: Vec<(String, String)> = one(vs).into_iter().map(|(_, _, p, m)| (p, m)).collect();
    assert_eq!(
        got,
        [
            (
                "virtual_servers[0].check.bind_to".to_string(),
                "expected an IPv4 address (the family of the checked address), got 2001:db8::1"
                    .to_string()
            ),
            (
                "virtual_servers[0].real_servers[0].address".to_string(),
                "expected an IPv4 address (the virtual server's family), got 2001:db8::2"
                    .to_string()
            ),
        ]
    );
}

#[test]
fn the_sync_daemon_names_a_known_instance_unless_there_is_one() {
    let one_instance = format!("{VIP}director:\n  ipvs_sync_daemon: {{interface: eth1}}\n");
    let config = Config::from_yaml(&one_instance, "d").unwrap();
    assert_eq!(config.director.ipvs_sync_daemon.unwrap().vrrp_instance, None);
    let text =
        format!("{VIP}director:\n  ipvs_sync_daemon: {{interface: eth1, vrrp_instance: VI_7}}\n");
    assert_eq!(
        errors(&text),
        owned(&[(
            4,
            54,
            "director.ipvs_sync_daemon.vrrp_instance",
            "expected the name of an instance in vrrp.instances (\"VI_1\"), got \"VI_7\""
        )])
    );
}

#[test]
fn unknown_persistence_engines_and_bad_regexes_are_named() {
    let vs = "{name: a, address: 192.0.2.1, port: 80, persistence_engine: nope, check: {type: http, regex: \"(\"}, real_servers: [{address: 198.51.100.1, port: 80}]}";
    let got: Vec<(String, String)> = one(vs).into_iter().map(|(_, _, p, m)| (p, m)).collect();
    assert_eq!(
        got[0],
        (
            "virtual_servers[0].persistence_engine".into(),
            "expected one of sip, got \"nope\"".into()
        )
    );
    assert_eq!(got[1].0, "virtual_servers[0].check.regex");
    assert!(got[1].1.starts_with("expected a regular expression, got \"(\""), "{}", got[1].1);
}
