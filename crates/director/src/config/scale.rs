//! How long a reload-sized file takes to load (`cargo test --release -p director
//! config::scale -- --ignored --nocapture`): the reload benchmark's 2,284 virtual servers
//! with 37,298 real servers and tcp checks. Prints each pass's share.

use std::fmt::Write;
use std::time::Instant;

use super::error::Report;
use super::location::PathIndex;
use super::model::RawConfig;
use super::Config;

const VIRTUAL_SERVERS: usize = 2284;
const REAL_SERVERS: usize = 37_298;

/// Addresses from the documentation ranges, distinct per service and real server.
fn generated() -> String {
    let mut text = String::from(
        "director: {id: lb01}\nvrrp:\n  instances:\n    - {name: VI_1, interface: eth0, vrid: 51}\n\
         virtual_servers:\n",
    );
    let mut left = REAL_SERVERS;
    for vs in 0..VIRTUAL_SERVERS {
        let count = left / (VIRTUAL_SERVERS - vs);
        left -= count;
        let (third, fourth) = (vs / 250, vs % 250 + 1);
        let port = 1000 + third;
        let _ = write!(
            text,
            "  - name: vs{vs}\n    address: 192.0.2.{fourth}\n    port: {port}\n    \
             scheduler: wrr\n    forwarding: dr\n    vrrp_instance: VI_1\n    check: {{type: tcp, \
             delay_loop: 6s, connect_timeout: 3s, retry: 3, delay_before_retry: 3s}}\n    \
             real_servers:\n"
        );
        for rs in 0..count {
            let _ = write!(
                text,
                "      - address: 198.51.{}.{}\n        port: {port}\n        weight: 1\n",
                100 + vs % 100,
                rs + 1
            );
        }
    }
    text
}

#[test]
#[ignore = "a measurement, not a check: run in release with --ignored --nocapture"]
fn load_time_of_a_reload_sized_file() {
    let text = generated();
    // The best of a few runs: the first pays for growing the heap.
    let mut total = std::time::Duration::MAX;
    let mut config = None;
    for _ in 0..5 {
        let start = Instant::now();
        let loaded =
            Config::from_yaml(&text, "generated.yaml").expect("the generated file is valid");
        total = total.min(start.elapsed());
        config = Some(loaded);
    }
    let config = config.expect("loaded");
    let real_servers: usize = config.virtual_servers.iter().map(|vs| vs.real_servers.len()).sum();
    assert_eq!((config.virtual_servers.len(), real_servers), (VIRTUAL_SERVERS, REAL_SERVERS));

    let start = Instant::now();
    let raw: RawConfig = serde_yaml::from_str(&text).expect("parses");
    let serde = start.elapsed();
    let start = Instant::now();
    let mut report = Report::new("generated.yaml", &text);
    let vrrp = super::vrrp::check(&raw.vrrp, &mut report);
    let servers = super::virtual_server::check(&raw.virtual_servers, &vrrp.instances, &mut report);
    let semantic = start.elapsed();
    assert_eq!(servers.len(), VIRTUAL_SERVERS);
    let start = Instant::now();
    let index = PathIndex::build(&text);
    let index_time = start.elapsed();
    assert!(index.value("virtual_servers[2283].name").line > 1);
    println!(
        "{} bytes, {VIRTUAL_SERVERS} virtual servers, {REAL_SERVERS} real servers: \
         Config::from_yaml {total:?} (serde_yaml {serde:?}, semantic checks {semantic:?}); \
         the path index, built only when there are errors, would add {index_time:?}",
        text.len()
    );
}
