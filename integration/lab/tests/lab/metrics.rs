//! Scenario 11: the metrics endpoint against the real kernel. Each director serves
//! `director.metrics` in its namespace; the MASTER's scrape shows the roles, every real
//! server healthy with its weight in IPVS, and, after N requests through each VIP, the
//! same connection, packet and byte counters as `ipvsadm -Ln --stats --exact` in its
//! namespace, which moved by exactly the connections the client made.

use std::time::{Duration, Instant};

use lab_tests::config::{DR_SERVICE, INSTANCE, NAT_SERVICE};
use lab_tests::http;
use lab_tests::ipvsadm::Traffic;
use lab_tests::rig::{POLL, STATS_TICK};
use lab_tests::topology::{dr_service, nat_service, DR_PORT, DR_REAL, HTTP_PORT, NAT_REAL};
use lab_tests::Rig;
use testkit::metrics::value;

use super::require_vm;

const DR_REQUESTS: usize = 60;
const NAT_REQUESTS: usize = 20;

/// The metric names of ipvsadm's five counters, in its column order.
const SERVICE_COUNTERS: [&str; 5] = [
    "director_ipvs_connections_total",
    "director_ipvs_packets_in_total",
    "director_ipvs_packets_out_total",
    "director_ipvs_bytes_in_total",
    "director_ipvs_bytes_out_total",
];
const REAL_SERVER_COUNTERS: [&str; 5] = [
    "director_ipvs_real_server_connections_total",
    "director_ipvs_real_server_packets_in_total",
    "director_ipvs_real_server_packets_out_total",
    "director_ipvs_real_server_bytes_in_total",
    "director_ipvs_real_server_bytes_out_total",
];

/// A virtual server name, its address as ipvsadm lists it, its real servers (address,
/// port).
type LabService = (&'static str, String, Vec<(String, String)>);

fn services() -> [LabService; 2] {
    let reals = |addrs: &[std::net::Ipv4Addr], port: u16| {
        addrs.iter().map(|a| (a.to_string(), port.to_string())).collect::<Vec<_>>()
    };
    [
        (DR_SERVICE, dr_service().to_string(), reals(&DR_REAL, DR_PORT)),
        (NAT_SERVICE, nat_service().to_string(), reals(&NAT_REAL, HTTP_PORT)),
    ]
}

fn metric(rig: &Rig, text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(text, name, labels)
        .unwrap_or_else(|| rig.fail(&format!("no {name}{labels:?} in the scrape:\n{text}")))
}

/// The scrape's five counters of a virtual server (`dest` None) or of a real server.
fn scraped(rig: &Rig, text: &str, vs: &str, dest: Option<(&str, &str)>) -> [u64; 5] {
    let mut out = [0u64; 5];
    for (i, o) in out.iter_mut().enumerate() {
        let v = match dest {
            None => metric(rig, text, SERVICE_COUNTERS[i], &[("virtual_server", vs)]),
            Some((address, port)) => metric(
                rig,
                text,
                REAL_SERVER_COUNTERS[i],
                &[("virtual_server", vs), ("address", address), ("port", port)],
            ),
        };
        *o = v as u64;
    }
    out
}

/// ipvsadm, the scrape, ipvsadm again: when both ipvsadm reads agree (no estimator tick
/// folded counters in between), the scrape must show exactly what they show.
fn agreeing_reads(rig: &Rig) -> (Traffic, String) {
    let t0 = Instant::now();
    loop {
        let before = rig.ipvs_traffic(0);
        let text = rig.scrape(0);
        let after = rig.ipvs_traffic(0);
        if before == after {
            return (after, text);
        }
        if t0.elapsed() > STATS_TICK * 5 {
            rig.fail("ipvsadm's counters kept changing with no traffic");
        }
        std::thread::sleep(POLL);
    }
}

fn compare(rig: &Rig, what: &str, traffic: &Traffic, text: &str) {
    for (vs, service, reals) in services() {
        let kernel = traffic.get(&service, None);
        let metrics = scraped(rig, text, vs, None);
        if kernel != Some(metrics) {
            rig.fail(&format!("{what}: {vs}: ipvsadm {kernel:?}, metrics {metrics:?}"));
        }
        for (address, port) in &reals {
            let dest = format!("{address}:{port}");
            let kernel = traffic.get(&service, Some(&dest));
            let metrics = scraped(rig, text, vs, Some((address, port)));
            if kernel != Some(metrics) {
                rig.fail(&format!("{what}: {vs} {dest}: ipvsadm {kernel:?}, metrics {metrics:?}"));
            }
        }
    }
    rig.note(&format!("{what}: the scrape shows ipvsadm's counters exactly"));
}

#[test]
#[ignore = "needs the IPVS VM: scripts/vm-lab.sh"]
fn s11_metrics_match_ipvsadm_after_traffic_through_the_vip() {
    require_vm();
    let t0 = Instant::now();
    let rig = Rig::start("s11");

    // Roles: lb1 MASTER sending, lb2 BACKUP hearing it.
    let (m1, m2) = (rig.scrape(0), rig.scrape(1));
    let instance = [("vrrp_instance", INSTANCE)];
    let state = |text: &str, s: &str| {
        metric(&rig, text, "director_vrrp_state", &[("vrrp_instance", INSTANCE), ("state", s)])
    };
    if state(&m1, "MASTER") != 1.0 || state(&m2, "BACKUP") != 1.0 {
        rig.fail(&format!("want lb1 MASTER, lb2 BACKUP:\n{m1}\n---\n{m2}"));
    }
    if metric(&rig, &m1, "director_vrrp_adverts_sent_total", &instance) < 1.0
        || metric(&rig, &m2, "director_vrrp_adverts_received_total", &instance) < 1.0
    {
        rig.fail(&format!("adverts not counted:\n{m1}\n---\n{m2}"));
    }
    // Health and weights: in lb1's table with their weights; on lb2 healthy (its
    // checks run too) but not owned, nothing in its kernel.
    let weights = rig.config.dr_weights;
    for (vs, _, reals) in services() {
        let vs_label = [("virtual_server", vs)];
        let owned = |t: &str| metric(&rig, t, "director_virtual_server_owned", &vs_label);
        if owned(&m1) != 1.0 || owned(&m2) != 0.0 {
            rig.fail(&format!("{vs}: owned on lb1 and not on lb2, want 1/0"));
        }
        for (i, (address, port)) in reals.iter().enumerate() {
            let labels = [("virtual_server", vs), ("address", address.as_str()), ("port", port)];
            let want = if vs == DR_SERVICE { f64::from(weights[i]) } else { 1.0 };
            let get = |t: &str, name: &str| metric(&rig, t, name, &labels);
            let lb1 = (
                get(&m1, "director_real_server_healthy"),
                get(&m1, "director_real_server_in_ipvs"),
                get(&m1, "director_real_server_weight"),
            );
            let lb2 = (
                get(&m2, "director_real_server_healthy"),
                get(&m2, "director_real_server_in_ipvs"),
                get(&m2, "director_real_server_weight"),
            );
            if lb1 != (1.0, 1.0, want) || lb2 != (1.0, 0.0, 0.0) {
                rig.fail(&format!(
                    "{vs} {address}:{port}: (healthy, in_ipvs, weight) lb1 {lb1:?} want (1, 1, {want}), lb2 {lb2:?} want (1, 0, 0)"
                ));
            }
        }
    }
    if m2.contains("director_ipvs_connections_total{") {
        rig.fail(&format!("lb2 (BACKUP) shows IPVS counters of services it does not hold:\n{m2}"));
    }
    rig.note("roles, health and weights as configured in both scrapes");

    // Before: the scrape equals ipvsadm already (the lab's checks made no connections
    // through IPVS; the counters start where the service was created).
    let (before, text) = agreeing_reads(&rig);
    compare(&rig, "before traffic", &before, &text);

    let dr = http::requests(&rig.lab.client, dr_service(), DR_REQUESTS);
    let nat = http::requests(&rig.lab.client, nat_service(), NAT_REQUESTS);
    if dr.ok() != DR_REQUESTS || nat.ok() != NAT_REQUESTS {
        rig.fail(&format!("requests failed: DR {dr}, NAT {nat}"));
    }
    rig.note(&format!("{DR_REQUESTS} DR requests ({dr}), {NAT_REQUESTS} NAT requests ({nat})"));
    // The kernel folds its per-CPU counters every 2 s: wait until ipvsadm has them all.
    let t = Instant::now();
    let (after, text) = loop {
        let traffic = rig.ipvs_traffic(0);
        let conns = |service: &str, t: &Traffic| t.get(service, None).map_or(0, |c| c[0]);
        let dr_new =
            conns(&dr_service().to_string(), &traffic) - conns(&dr_service().to_string(), &before);
        let nat_new = conns(&nat_service().to_string(), &traffic)
            - conns(&nat_service().to_string(), &before);
        if dr_new >= DR_REQUESTS as u64 && nat_new >= NAT_REQUESTS as u64 {
            // One more tick for the last packets (the client's final ACKs).
            std::thread::sleep(STATS_TICK + Duration::from_millis(500));
            break agreeing_reads(&rig);
        }
        if t.elapsed() > STATS_TICK * 4 {
            rig.fail(&format!("ipvsadm never counted the requests: {traffic:?}"));
        }
        std::thread::sleep(POLL * 4);
    };
    compare(&rig, "after traffic", &after, &text);

    // The connections moved by exactly the requests, split as the schedulers split them.
    for (vs, service, reals) in services() {
        let counted = |t: &Traffic, dest: Option<&str>| t.get(&service, dest).map_or(0, |c| c[0]);
        let total = counted(&after, None) - counted(&before, None);
        let tally = if vs == DR_SERVICE { &dr } else { &nat };
        if total != tally.ok() as u64 {
            rig.fail(&format!(
                "{vs}: {total} new connections counted, {} requests made",
                tally.ok()
            ));
        }
        for (i, (address, port)) in reals.iter().enumerate() {
            let dest = format!("{address}:{port}");
            let new = counted(&after, Some(&dest)) - counted(&before, Some(&dest));
            let name =
                if vs == DR_SERVICE { format!("rs{}", i + 1) } else { format!("nat{}", i + 1) };
            if new != tally.count(&name) as u64 {
                rig.fail(&format!(
                    "{vs} {dest}: {new} new connections counted, {name} answered {}",
                    tally.count(&name)
                ));
            }
        }
        let labels = [("virtual_server", vs)];
        let out = metric(&rig, &text, "director_ipvs_packets_out_total", &labels);
        let inbound = metric(&rig, &text, "director_ipvs_packets_in_total", &labels);
        // DR: replies go straight from the real servers; NAT: back through the director.
        let dr_like = vs == DR_SERVICE;
        if inbound < total as f64 * 3.0
            || (dr_like && out != 0.0)
            || (!dr_like && out < total as f64)
        {
            rig.fail(&format!("{vs}: {inbound} packets in, {out} out for {total} connections"));
        }
    }
    rig.note(&format!("connections per real server match the answers; s11 in {:?}", t0.elapsed()));
}
