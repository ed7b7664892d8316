//! How long a reload-sized file takes to load (`cargo test --release -p director
//! config::scale -- --ignored --nocapture`): the reload benchmark's 2,284 virtual servers
//! with 37,298 real servers and tcp checks. Prints each pass's share, then the same
//! file through a [`ConfigCache`]: first load with and without threads, and a reload
//! with one real server's weight changed (benchmark P2).

use std::fmt::Write;
use std::time::Instant;

use super::error::Report;
use super::location::PathIndex;
use super::model::RawConfig;
use super::{Config, ConfigCache};

const VIRTUAL_SERVERS: usize = 2284;
const REAL_SERVERS: usize = 37_298;
/// Loads timed; the best is kept (the first pays for growing the heap).
const RUNS: usize = 5;

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

/// The generated file with one real server's weight changed, as a P2 reload does.
fn one_weight_changed(text: &str, weight: u32) -> String {
    let at = text.find("virtual_servers:").expect("the key") + text.len() / 2;
    let at = at.min(text.len() - 1);
    let line = at + text[at..].find("weight: 1\n").expect("a weight after the middle");
    format!("{}weight: {weight}\n{}", &text[..line], &text[line + "weight: 1\n".len()..])
}

#[test]
#[ignore = "a measurement, not a check: run in release with --ignored --nocapture"]
fn cached_reload_time_of_a_reload_sized_file() {
    let text = generated();
    let full = Config::from_yaml(&text, "generated.yaml").expect("the generated file is valid");

    let first_load = |threads: usize| {
        let mut best = std::time::Duration::MAX;
        for _ in 0..RUNS {
            let mut cache = ConfigCache::default();
            cache.set_threads(threads);
            let start = Instant::now();
            let loaded = Config::from_yaml_cached(&text, "generated.yaml", &mut cache);
            best = best.min(start.elapsed());
            assert_eq!(loaded.expect("valid"), full);
            assert_eq!(cache.last_load().fallback, None);
            assert_eq!(cache.last_load().parsed, VIRTUAL_SERVERS);
        }
        best
    };
    let sequential = first_load(1);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let parallel = first_load(threads);

    // Alternate between two weights so that every load has exactly one new item.
    let mut cache = ConfigCache::default();
    cache.fill(&text);
    let mut reload = std::time::Duration::MAX;
    let mut full_reload = std::time::Duration::MAX;
    for run in 0..RUNS {
        let edited = one_weight_changed(&text, 2 + run as u32);
        let start = Instant::now();
        let cached = Config::from_yaml_cached(&edited, "generated.yaml", &mut cache);
        reload = reload.min(start.elapsed());
        let stats = cache.last_load();
        assert_eq!((stats.fallback, stats.parsed), (None, 1), "{stats:?}");
        let start = Instant::now();
        let expected = Config::from_yaml(&edited, "generated.yaml");
        full_reload = full_reload.min(start.elapsed());
        let cached = cached.expect("valid");
        assert_eq!(cached, expected.expect("valid"));
        assert_ne!(cached, full, "the weight changed");
    }
    println!(
        "{} bytes: reload with one weight changed: Config::from_yaml {full_reload:?}, \
         Config::from_yaml_cached {reload:?}; first load through the cache: 1 thread \
         {sequential:?}, {threads} threads {parallel:?}",
        text.len()
    );
}
