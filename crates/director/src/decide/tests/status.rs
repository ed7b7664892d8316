//! The status document: exact JSON keys, nulls, RFC 3339 times, the text form.

use std::time::{Duration, UNIX_EPOCH};

use ipvs::{Family, Service, ServiceKey};
use serde_json::Value;

use super::{addr, rs, rs_unchecked, sorry, vs, Harness};
use crate::decide::status::rfc3339_utc;
use crate::decide::VirtualServerStatus;

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<_> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

fn sorted(mut names: Vec<&'static str>) -> Vec<&'static str> {
    names.sort_unstable();
    names
}

#[test]
fn json_has_the_design_fields() {
    let mut config = vs(vec![rs(11, 3), rs_unchecked(12, 1)]);
    config.sorry_server = sorry(99);
    let mut h = Harness::new(&config);
    h.down(11);
    let status = h.state.status(&|a, _| a == addr(12));
    let json = serde_json::to_value(&status).unwrap();

    let stable = ["name", "address", "port", "protocol", "fwmark", "sorry_server_active"];
    let mut expected: Vec<_> = stable.into_iter().chain(["quorum_up", "real_servers"]).collect();
    expected.extend(["scheduler", "quorum", "hysteresis", "live_weight", "sorry_server"]);
    expected.extend(["vrrp_instance", "owned"]);
    assert_eq!(keys(&json), sorted(expected));
    assert_eq!(json["owned"], true);
    let backup = serde_json::to_value(status.clone().not_owned()).unwrap();
    assert_eq!(backup["owned"], false);
    assert_eq!(backup["real_servers"][1]["wanted_in_ipvs"], false);
    assert_eq!(json["name"], "web");
    assert_eq!(json["address"], "192.0.2.1");
    assert_eq!(json["port"], 80);
    assert_eq!(json["protocol"], "tcp");
    assert_eq!(json["fwmark"], Value::Null);
    assert_eq!(json["sorry_server_active"], false);
    assert_eq!(json["quorum_up"], true);
    assert_eq!(json["sorry_server"], "192.0.2.99:80");
    assert_eq!(json["scheduler"], "wlc");

    let failed = &json["real_servers"][0];
    let rs_keys = ["address", "port", "weight", "healthy", "in_ipvs", "last_check"];
    let mut expected: Vec<_> = rs_keys.into_iter().collect();
    expected.extend([
        "configured_weight",
        "effective_weight",
        "wanted_in_ipvs",
        "draining",
        "check",
    ]);
    assert_eq!(keys(failed), sorted(expected));
    assert_eq!(failed["address"], "192.0.2.11");
    assert_eq!(failed["weight"], 0);
    assert_eq!(failed["configured_weight"], 3);
    assert_eq!(failed["healthy"], false);
    assert_eq!(failed["in_ipvs"], false);
    assert_eq!(failed["check"], "tcp 192.0.2.11:80");
    let last = &failed["last_check"];
    assert_eq!(keys(last), sorted(vec!["ok", "at", "latency_ms", "error"]));
    assert_eq!(last["ok"], false);
    assert_eq!(last["at"], "2023-11-14T22:13:20.000Z");
    assert_eq!(last["latency_ms"].as_f64(), Some(0.3));
    assert_eq!(last["error"], "connection refused");

    let unchecked = &json["real_servers"][1];
    assert_eq!(unchecked["weight"], 1);
    assert_eq!(unchecked["healthy"], true);
    assert_eq!(unchecked["in_ipvs"], true);
    assert_eq!(unchecked["last_check"], Value::Null);
    assert_eq!(unchecked["check"], Value::Null);

    // directorctl reads it back.
    let back: VirtualServerStatus = serde_json::from_value(json).unwrap();
    assert_eq!(back, status);
}

#[test]
fn fwmark_services_have_null_address_port_and_protocol() {
    let mut config = vs(vec![rs(11, 1)]);
    config.service = Service::new(ServiceKey::Fwmark { family: Family::Inet, mark: 7 });
    let h = Harness::new(&config);
    let json = serde_json::to_value(h.state.status(&|_, _| false)).unwrap();
    assert_eq!(json["fwmark"], 7);
    assert_eq!(json["address"], Value::Null);
    assert_eq!(json["port"], Value::Null);
    assert_eq!(json["protocol"], Value::Null);
}

#[test]
fn a_passed_check_has_a_null_error() {
    let mut h = Harness::new(&vs(vec![rs(11, 1)]));
    h.advance(Duration::from_millis(1234));
    h.up(11);
    let json = serde_json::to_value(h.state.status(&|_, _| true)).unwrap();
    let last = &json["real_servers"][0]["last_check"];
    assert_eq!(last["ok"], true);
    assert_eq!(last["error"], Value::Null);
    assert_eq!(last["at"], "2023-11-14T22:13:21.234Z");
    assert_eq!(last["latency_ms"].as_f64(), Some(1.5));
}

#[test]
fn rfc3339_known_dates() {
    let at = |secs: u64, millis: u64| {
        rfc3339_utc(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
    };
    assert_eq!(at(0, 0).as_deref(), Some("1970-01-01T00:00:00.000Z"));
    // Leap day, end of a leap year, the 2000 leap century, and a far date.
    assert_eq!(at(951_782_400, 5).as_deref(), Some("2000-02-29T00:00:00.005Z"));
    assert_eq!(at(1_709_251_199, 999).as_deref(), Some("2024-02-29T23:59:59.999Z"));
    assert_eq!(at(1_735_689_599, 0).as_deref(), Some("2024-12-31T23:59:59.000Z"));
    assert_eq!(at(4_107_542_400, 0).as_deref(), Some("2100-03-01T00:00:00.000Z"));
    assert_eq!(rfc3339_utc(UNIX_EPOCH - Duration::from_secs(1)), None);
}

#[test]
fn text_has_one_line_per_virtual_and_real_server() {
    let mut config = vs(vec![rs(11, 3), rs(12, 1)]);
    config.sorry_server = sorry(99);
    config.quorum = 4;
    let mut h = Harness::new(&config);
    h.down(11);
    let text = h.state.status(&|_, _| false).to_text();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("virtual server web 192.0.2.1:80/tcp wlc: QUORUM DOWN"), "{text}");
    assert!(lines[0].contains("sorry server 192.0.2.99:80 ACTIVE"), "{text}");
    assert!(lines[1].starts_with("  192.0.2.11:80 DOWN weight 0 not in ipvs"), "{text}");
    assert!(lines[1].contains("tcp 192.0.2.11:80: failed: connection refused in 0.3 ms"), "{text}");
    assert!(lines[2].contains("192.0.2.12:80 up weight 0 not in ipvs"), "{text}");
    assert!(lines[2].contains("not checked yet"), "{text}");
}
