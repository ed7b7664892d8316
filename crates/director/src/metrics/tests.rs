//! Exact output of the renderer: family blocks, labels, escaping, histograms.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

use checker::ProbeStats;
use ipvs::{
    ConnCounts, Destination, DestinationEntry, ListedService, Protocol, Service, ServiceEntry,
    ServiceKey, Stats,
};
use vrrp::counters::{Counters, DropReason};
use vrrp::driver::DriverStatus;
use vrrp::machine::{InstanceStatus, State};

use super::*;

fn key() -> ServiceKey {
    ServiceKey::Addr { protocol: Protocol::Tcp, addr: "192.0.2.100".parse().unwrap(), port: 80 }
}

fn rs(host: &str, port: u16) -> RealServer {
    RealServer {
        address: host.parse().unwrap(),
        port,
        healthy: true,
        in_ipvs: true,
        draining: false,
        weight: 2,
        effective_weight: 2,
        configured_weight: 2,
        check: None,
    }
}

fn base() -> Snapshot {
    Snapshot {
        version: "0.1.0".into(),
        start_time: UNIX_EPOCH + Duration::from_millis(1_700_000_000_500),
        reloads: Reloads {
            ok: 2,
            failed: 1,
            last_ok: false,
            last_success: UNIX_EPOCH + Duration::from_secs(1_700_000_100),
        },
        vrrp: DriverStatus::default(),
        has_services: false,
        services: None,
    }
}

/// The block of family `name`: its HELP and TYPE lines and its samples.
fn family(text: &str, name: &str) -> String {
    let help = format!("# HELP {name} ");
    let start = text.find(&help).unwrap_or_else(|| panic!("no family {name} in:\n{text}"));
    let rest = &text[start..];
    let end = rest[1..].find("# HELP ").map_or(rest.len(), |i| i + 1);
    rest[..end].to_string()
}

/// Samples of family `name`, without the HELP and TYPE lines.
fn samples(text: &str, name: &str) -> Vec<String> {
    family(text, name).lines().skip(2).map(str::to_string).collect()
}

/// What Prometheus' parser insists on: HELP then TYPE once per family, each family's
/// samples in one block under it, names that belong to the family, no duplicate series.
fn assert_well_formed(text: &str) {
    let mut families = std::collections::HashSet::new();
    let mut series = std::collections::HashSet::new();
    let mut current: Option<(String, String)> = None;
    let mut lines = text.lines().peekable();
    assert!(text.ends_with('\n'), "the last line ends");
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(families.insert(name.clone()), "family {name} twice");
            let ty = lines.next().unwrap_or_default();
            let kind = ty
                .strip_prefix(&format!("# TYPE {name} "))
                .unwrap_or_else(|| panic!("TYPE of {name} after its HELP, got {ty:?}"));
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{ty}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name} without _total");
            }
            current = Some((name, kind.to_string()));
            continue;
        }
        let (name, kind) =
            current.as_ref().unwrap_or_else(|| panic!("sample before a HELP: {line}"));
        let sample_name = line.split(['{', ' ']).next().unwrap();
        let ok = match kind.as_str() {
            "histogram" => {
                ["_bucket", "_sum", "_count"].iter().any(|s| sample_name == format!("{name}{s}"))
            }
            _ => sample_name == name,
        };
        assert!(ok, "sample {line:?} in family {name}");
        let (series_id, value) = line.rsplit_once(' ').unwrap();
        assert!(series.insert(series_id.to_string()), "series twice: {series_id}");
        assert!(value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value), "{line}");
    }
}

#[test]
fn daemon_families_exactly() {
    let text = render(&base());
    assert_well_formed(&text);
    assert_eq!(
        text,
        "# HELP director_build_info Always 1; the version of directord.\n\
         # TYPE director_build_info gauge\n\
         director_build_info{version=\"0.1.0\"} 1\n\
         # HELP director_start_time_seconds When directord started, in seconds since the Unix epoch.\n\
         # TYPE director_start_time_seconds gauge\n\
         director_start_time_seconds 1700000000.5\n\
         # HELP director_config_reloads_total Configuration reloads (SIGHUP or directorctl reload) by result: ok (applied, or unchanged) or failed (refused; the running configuration stayed).\n\
         # TYPE director_config_reloads_total counter\n\
         director_config_reloads_total{result=\"ok\"} 2\n\
         director_config_reloads_total{result=\"failed\"} 1\n\
         # HELP director_config_last_reload_successful Whether the last reload applied (1 before any reload).\n\
         # TYPE director_config_last_reload_successful gauge\n\
         director_config_last_reload_successful 0\n\
         # HELP director_config_last_reload_success_timestamp_seconds When the configuration in force was loaded (at start or by the last good reload), in seconds since the Unix epoch.\n\
         # TYPE director_config_last_reload_success_timestamp_seconds gauge\n\
         director_config_last_reload_success_timestamp_seconds 1700000100\n",
        "a VRRP-only director without instances has no VRRP and no virtual-server series"
    );
}

fn instance(name: &str, state: State) -> InstanceStatus {
    let mut counters = Counters {
        adverts_sent: 10,
        adverts_received: 3,
        transitions: 2,
        became_master: 1,
        ..Counters::default()
    };
    counters.drop(DropReason::BadTtl);
    counters.drop(DropReason::BadTtl);
    counters.drop(DropReason::AuthMismatch);
    InstanceStatus {
        name: name.into(),
        state,
        priority: 150,
        effective_priority: 130,
        advert_interval_cs: 50,
        master: None,
        faults: Vec::new(),
        counters,
    }
}

#[test]
fn vrrp_instances() {
    let mut s = base();
    s.vrrp.instances = vec![instance("vi_1", State::Master), instance("web \"b\"", State::Backup)];
    s.vrrp.unclaimed.drop(DropReason::UnknownVrid);
    let text = render(&s);
    assert_well_formed(&text);
    assert_eq!(
        samples(&text, "director_vrrp_state"),
        [
            "director_vrrp_state{vrrp_instance=\"vi_1\",state=\"MASTER\"} 1",
            "director_vrrp_state{vrrp_instance=\"vi_1\",state=\"BACKUP\"} 0",
            "director_vrrp_state{vrrp_instance=\"vi_1\",state=\"FAULT\"} 0",
            "director_vrrp_state{vrrp_instance=\"vi_1\",state=\"INIT\"} 0",
            "director_vrrp_state{vrrp_instance=\"web \\\"b\\\"\",state=\"MASTER\"} 0",
            "director_vrrp_state{vrrp_instance=\"web \\\"b\\\"\",state=\"BACKUP\"} 1",
            "director_vrrp_state{vrrp_instance=\"web \\\"b\\\"\",state=\"FAULT\"} 0",
            "director_vrrp_state{vrrp_instance=\"web \\\"b\\\"\",state=\"INIT\"} 0",
        ]
    );
    assert_eq!(
        family(&text, "director_vrrp_effective_priority"),
        "# HELP director_vrrp_effective_priority The priority advertised: configured, plus tracked interface and script weights.\n\
         # TYPE director_vrrp_effective_priority gauge\n\
         director_vrrp_effective_priority{vrrp_instance=\"vi_1\"} 130\n\
         director_vrrp_effective_priority{vrrp_instance=\"web \\\"b\\\"\"} 130\n"
    );
    assert_eq!(
        samples(&text, "director_vrrp_advert_interval_seconds")[0],
        "director_vrrp_advert_interval_seconds{vrrp_instance=\"vi_1\"} 0.5"
    );
    assert_eq!(
        samples(&text, "director_vrrp_adverts_sent_total")[0],
        "director_vrrp_adverts_sent_total{vrrp_instance=\"vi_1\"} 10"
    );
    assert_eq!(
        samples(&text, "director_vrrp_adverts_received_total")[0],
        "director_vrrp_adverts_received_total{vrrp_instance=\"vi_1\"} 3"
    );
    assert_eq!(
        samples(&text, "director_vrrp_transitions_total")[0],
        "director_vrrp_transitions_total{vrrp_instance=\"vi_1\"} 2"
    );
    assert_eq!(
        samples(&text, "director_vrrp_became_master_total")[0],
        "director_vrrp_became_master_total{vrrp_instance=\"vi_1\"} 1"
    );
    // Every reason, so that rate() sees the first drop of a kind.
    let dropped = samples(&text, "director_vrrp_adverts_dropped_total");
    assert_eq!(dropped.len(), 2 * DropReason::ALL.len());
    assert!(dropped.contains(
        &"director_vrrp_adverts_dropped_total{vrrp_instance=\"vi_1\",reason=\"bad_ttl\"} 2"
            .to_string()
    ));
    assert!(dropped.contains(
        &"director_vrrp_adverts_dropped_total{vrrp_instance=\"vi_1\",reason=\"auth_mismatch\"} 1"
            .to_string()
    ));
    assert!(dropped.contains(
        &"director_vrrp_adverts_dropped_total{vrrp_instance=\"vi_1\",reason=\"not_peer\"} 0"
            .to_string()
    ));
    let unclaimed = samples(&text, "director_vrrp_unclaimed_packets_dropped_total");
    assert_eq!(unclaimed.len(), DropReason::ALL.len());
    assert!(unclaimed.contains(
        &"director_vrrp_unclaimed_packets_dropped_total{reason=\"unknown_vrid\"} 1".to_string()
    ));
}

fn services() -> ServicesSnapshot {
    let mut stats = ProbeStats::default();
    for ms in [0.2, 0.7, 3.0, 3.0] {
        stats.record(&checker::ProbeReport::up(Duration::from_secs_f64(ms / 1000.0)));
    }
    stats
        .record(&checker::ProbeReport::down(checker::Failure::Refused, Duration::from_micros(100)));
    stats.record(&checker::ProbeReport::down(
        checker::Failure::ConnectTimeout(Duration::from_secs(3)),
        Duration::from_secs(3),
    ));
    let checked = RealServer { check: Some(Check { kind: "tcp", stats }), ..rs("192.0.2.21", 80) };
    let v6 = RealServer {
        healthy: false,
        in_ipvs: false,
        weight: 0,
        configured_weight: 5,
        effective_weight: 5,
        ..rs("2001:db8::7", 8080)
    };
    let draining = RealServer { draining: true, weight: 0, ..rs("192.0.2.23", 80) };
    let web = VirtualServer {
        name: "web".into(),
        key: key(),
        scheduler: "wrr".into(),
        vrrp_instance: Some("vi_1".into()),
        owned: true,
        quorum_up: true,
        sorry_server_active: false,
        live_weight: 2,
        quorum: 1,
        real_servers: vec![checked, v6, draining],
    };
    let mark = VirtualServer {
        name: "mark".into(),
        key: ServiceKey::Fwmark { family: ipvs::Family::Inet, mark: 7 },
        scheduler: "rr".into(),
        vrrp_instance: None,
        real_servers: Vec::new(),
        quorum_up: false,
        sorry_server_active: true,
        ..web.clone()
    };
    let dest = |addr: &str, port: u16, conns: u64| DestinationEntry {
        destination: Destination::new(addr.parse::<IpAddr>().unwrap(), port),
        conns: ConnCounts { active: 1, inactive: 4, persistent: 0 },
        stats: Stats { conns, inpkts: conns * 5, inbytes: conns * 300, ..Stats::default() },
    };
    let listed = ListedService {
        entry: ServiceEntry {
            service: Service::new(key()),
            stats: Stats {
                conns: 30,
                inpkts: 150,
                outpkts: 0,
                inbytes: u64::MAX,
                outbytes: 0,
                ..Stats::default()
            },
        },
        destinations: vec![dest("192.0.2.21", 80, 10), dest("192.0.2.23", 80, 20)],
    };
    // A service of the kernel's that the configuration does not have: not shown.
    let stranger = ListedService {
        entry: ServiceEntry {
            service: Service::new(ServiceKey::Addr {
                protocol: Protocol::Udp,
                addr: "192.0.2.9".parse().unwrap(),
                port: 53,
            }),
            stats: Stats::default(),
        },
        destinations: Vec::new(),
    };
    ServicesSnapshot {
        virtual_servers: vec![web, mark],
        reconcile: crate::reconcile::Counts {
            ops_applied: 12,
            errors: BTreeMap::from([("refused", 2)]),
            drift_repairs: 1,
            requests: 40,
            reads: 3,
            diffs: 9,
        },
        ipvs: Some(vec![stranger, listed]),
    }
}

#[test]
fn virtual_and_real_servers() {
    let mut s = base();
    s.has_services = true;
    s.services = Some(services());
    let text = render(&s);
    assert_well_formed(&text);
    assert_eq!(
        samples(&text, "director_scrape_success"),
        [
            "director_scrape_success{part=\"virtual_servers\"} 1",
            "director_scrape_success{part=\"ipvs_stats\"} 1"
        ]
    );
    assert_eq!(
        samples(&text, "director_virtual_server_info"),
        [
            "director_virtual_server_info{virtual_server=\"web\",service=\"192.0.2.100:80/tcp\",scheduler=\"wrr\",vrrp_instance=\"vi_1\"} 1",
            "director_virtual_server_info{virtual_server=\"mark\",service=\"fwmark 7\",scheduler=\"rr\",vrrp_instance=\"\"} 1",
        ]
    );
    assert_eq!(
        samples(&text, "director_virtual_server_sorry_server_active"),
        [
            "director_virtual_server_sorry_server_active{virtual_server=\"web\"} 0",
            "director_virtual_server_sorry_server_active{virtual_server=\"mark\"} 1",
        ]
    );
    assert_eq!(
        samples(&text, "director_virtual_server_quorum_up")[1],
        "director_virtual_server_quorum_up{virtual_server=\"mark\"} 0"
    );
    assert_eq!(
        samples(&text, "director_virtual_server_live_weight")[0],
        "director_virtual_server_live_weight{virtual_server=\"web\"} 2"
    );
    assert_eq!(
        samples(&text, "director_virtual_server_owned")[0],
        "director_virtual_server_owned{virtual_server=\"web\"} 1"
    );
    assert_eq!(
        samples(&text, "director_virtual_server_quorum")[0],
        "director_virtual_server_quorum{virtual_server=\"web\"} 1"
    );
    assert_eq!(
        family(&text, "director_real_server_healthy"),
        "# HELP director_real_server_healthy Whether the real server's check says it is up (always 1 without a check).\n\
         # TYPE director_real_server_healthy gauge\n\
         director_real_server_healthy{virtual_server=\"web\",address=\"192.0.2.21\",port=\"80\"} 1\n\
         director_real_server_healthy{virtual_server=\"web\",address=\"2001:db8::7\",port=\"8080\"} 0\n\
         director_real_server_healthy{virtual_server=\"web\",address=\"192.0.2.23\",port=\"80\"} 1\n"
    );
    let rs = |family: &str| samples(&text, family);
    assert_eq!(rs("director_real_server_in_ipvs")[1], "director_real_server_in_ipvs{virtual_server=\"web\",address=\"2001:db8::7\",port=\"8080\"} 0");
    assert_eq!(rs("director_real_server_draining")[2], "director_real_server_draining{virtual_server=\"web\",address=\"192.0.2.23\",port=\"80\"} 1");
    assert_eq!(
        rs("director_real_server_weight")[2],
        "director_real_server_weight{virtual_server=\"web\",address=\"192.0.2.23\",port=\"80\"} 0"
    );
    assert_eq!(rs("director_real_server_effective_weight")[1], "director_real_server_effective_weight{virtual_server=\"web\",address=\"2001:db8::7\",port=\"8080\"} 5");
    assert_eq!(rs("director_real_server_configured_weight")[0], "director_real_server_configured_weight{virtual_server=\"web\",address=\"192.0.2.21\",port=\"80\"} 2");
}

#[test]
fn check_histogram_and_failures() {
    let mut s = base();
    s.has_services = true;
    s.services = Some(services());
    let text = render(&s);
    let labels = "virtual_server=\"web\",address=\"192.0.2.21\",port=\"80\",type=\"tcp\"";
    // 0.1 ms and 0.2 ms (<= 0.5 ms), 0.7 ms, 3 ms twice, 3 s.
    let le = |le: &str, n: u64| {
        format!("director_check_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}")
    };
    let mut want = vec![
        "# HELP director_check_duration_seconds How long each probe of the real server's health check took, failures included.".to_string(),
        "# TYPE director_check_duration_seconds histogram".to_string(),
    ];
    for (bound, n) in [
        ("0.0005", 2),
        ("0.001", 3),
        ("0.0025", 3),
        ("0.005", 5),
        ("0.01", 5),
        ("0.025", 5),
        ("0.05", 5),
        ("0.1", 5),
        ("0.25", 5),
        ("0.5", 5),
        ("1", 5),
        ("2.5", 5),
        ("5", 6),
        ("10", 6),
        ("+Inf", 6),
    ] {
        want.push(le(bound, n));
    }
    want.push(format!("director_check_duration_seconds_sum{{{labels}}} 3.007"));
    want.push(format!("director_check_duration_seconds_count{{{labels}}} 6"));
    let got: Vec<String> =
        family(&text, "director_check_duration_seconds").lines().map(str::to_string).collect();
    assert_eq!(got, want, "only the checked real server has a histogram");
    assert_eq!(
        samples(&text, "director_check_failures_total"),
        [
            format!("director_check_failures_total{{{labels},reason=\"connect_timeout\"}} 1"),
            format!("director_check_failures_total{{{labels},reason=\"refused\"}} 1"),
        ]
    );
}

#[test]
fn ipvs_counters_and_reconcile() {
    let mut s = base();
    s.has_services = true;
    s.services = Some(services());
    let text = render(&s);
    assert_eq!(
        family(&text, "director_ipvs_connections_total"),
        "# HELP director_ipvs_connections_total Connections IPVS scheduled for the virtual server since the kernel has its service (ipvsadm --stats Conns).\n\
         # TYPE director_ipvs_connections_total counter\n\
         director_ipvs_connections_total{virtual_server=\"web\"} 30\n",
        "the fwmark service is not in the kernel and the stranger is not ours"
    );
    assert_eq!(
        samples(&text, "director_ipvs_packets_in_total"),
        ["director_ipvs_packets_in_total{virtual_server=\"web\"} 150"]
    );
    assert_eq!(
        samples(&text, "director_ipvs_packets_out_total"),
        ["director_ipvs_packets_out_total{virtual_server=\"web\"} 0"]
    );
    assert_eq!(
        samples(&text, "director_ipvs_bytes_in_total"),
        ["director_ipvs_bytes_in_total{virtual_server=\"web\"} 18446744073709551615"]
    );
    assert_eq!(
        samples(&text, "director_ipvs_bytes_out_total"),
        ["director_ipvs_bytes_out_total{virtual_server=\"web\"} 0"]
    );
    assert_eq!(
        samples(&text, "director_ipvs_real_server_connections_total"),
        [
            "director_ipvs_real_server_connections_total{virtual_server=\"web\",address=\"192.0.2.21\",port=\"80\"} 10",
            "director_ipvs_real_server_connections_total{virtual_server=\"web\",address=\"192.0.2.23\",port=\"80\"} 20",
        ]
    );
    assert_eq!(samples(&text, "director_ipvs_real_server_packets_in_total")[1], "director_ipvs_real_server_packets_in_total{virtual_server=\"web\",address=\"192.0.2.23\",port=\"80\"} 100");
    assert_eq!(samples(&text, "director_ipvs_real_server_bytes_in_total")[0], "director_ipvs_real_server_bytes_in_total{virtual_server=\"web\",address=\"192.0.2.21\",port=\"80\"} 3000");
    assert_eq!(samples(&text, "director_ipvs_real_server_active_connections")[0], "director_ipvs_real_server_active_connections{virtual_server=\"web\",address=\"192.0.2.21\",port=\"80\"} 1");
    assert_eq!(samples(&text, "director_ipvs_real_server_inactive_connections")[0], "director_ipvs_real_server_inactive_connections{virtual_server=\"web\",address=\"192.0.2.21\",port=\"80\"} 4");
    assert_eq!(samples(&text, "director_reconcile_ops_total"), ["director_reconcile_ops_total 12"]);
    assert_eq!(
        samples(&text, "director_ipvs_drift_repairs_total"),
        ["director_ipvs_drift_repairs_total 1"]
    );
    assert_eq!(
        samples(&text, "director_reconcile_netlink_requests_total"),
        ["director_reconcile_netlink_requests_total 40"]
    );
    assert_eq!(
        samples(&text, "director_reconcile_kernel_reads_total"),
        ["director_reconcile_kernel_reads_total 3"]
    );
    let errors = samples(&text, "director_reconcile_errors_total");
    assert_eq!(
        errors.len(),
        crate::reconcile::ReconcileError::KINDS.len(),
        "every kind, seen or not"
    );
    assert_eq!(errors[0], "director_reconcile_errors_total{kind=\"refused\"} 2");
    assert_eq!(errors[1], "director_reconcile_errors_total{kind=\"unconfirmed\"} 0");
}

#[test]
fn parts_that_did_not_answer_are_left_out_and_said_so() {
    let mut s = base();
    s.has_services = true;
    let text = render(&s);
    assert_well_formed(&text);
    assert_eq!(
        samples(&text, "director_scrape_success"),
        ["director_scrape_success{part=\"virtual_servers\"} 0"]
    );
    assert!(
        !text.contains("director_virtual_server_") && !text.contains("director_reconcile_"),
        "{text}"
    );

    let mut services = services();
    services.ipvs = None;
    s.services = Some(services);
    let text = render(&s);
    assert_well_formed(&text);
    assert_eq!(
        samples(&text, "director_scrape_success")[1],
        "director_scrape_success{part=\"ipvs_stats\"} 0"
    );
    assert!(!text.contains("director_ipvs_connections_total"), "{text}");
    assert!(text.contains("director_real_server_healthy{"), "{text}");
}

#[test]
fn from_status_keeps_one_series_per_real_server() {
    let mut status = crate::decide::VirtualServerState::new(&crate::config::Config::from_yaml(
        "virtual_servers:\n  - name: w\n    address: 192.0.2.1\n    port: 80\n    real_servers:\n      - {address: 192.0.2.2, port: 80, weight: 3}\n",
        "t.yaml",
    )
    .unwrap()
    .virtual_servers[0])
    .status(&|_, _| true);
    let twice = status.real_servers[0].clone();
    status.real_servers.push(twice);
    let vs = VirtualServer::from_status(&status, key(), |_, _| Some(3), |_, _| None);
    assert_eq!(vs.real_servers.len(), 1);
    let rs = &vs.real_servers[0];
    assert_eq!((rs.weight, rs.configured_weight, rs.healthy, rs.in_ipvs), (3, 3, true, true));
}
