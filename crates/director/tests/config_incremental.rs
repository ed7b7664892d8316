#![allow(clippy::unwrap_used)]
//! `Config::from_yaml_cached` gives exactly what `Config::from_yaml` gives, parses only
//! the items whose text changed, and leaves to the full parse whatever it is not sure of.

use std::fmt::Write;
use std::path::Path;

use director::config::{Config, ConfigCache, ConfigError};

/// The cached load, checked against the full one: same config, or the same errors.
fn cached(text: &str, cache: &mut ConfigCache) -> Result<Config, ConfigError> {
    let loaded = Config::from_yaml_cached(text, "test.yaml", cache);
    let full = Config::from_yaml(text, "test.yaml");
    match (&loaded, &full) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
        _ => panic!("cached {:?} but full {:?} for\n{text}", loaded.is_ok(), full.is_ok()),
    }
    loaded
}

const HEAD: &str =
    "director: {id: lb01}\nvrrp:\n  instances:\n    - {name: VI_1, interface: eth0, vrid: 51}\n";

fn item(i: usize, weight: u32) -> String {
    format!(
        "  - name: vs{i}\n    address: 192.0.2.{}\n    port: 80\n    vrrp_instance: VI_1\n    \
         check: {{type: tcp, connect_timeout: 3s}}\n    real_servers:\n      \
         - {{address: 198.51.100.{}, port: 80, weight: {weight}}}\n      \
         - address: 198.51.100.{}\n        port: 80\n",
        i + 1,
        i + 1,
        i + 101
    )
}

fn document(weights: &[u32]) -> String {
    let mut text = format!("{HEAD}virtual_servers:\n");
    for (i, &w) in weights.iter().enumerate() {
        text.push_str(&item(i, w));
    }
    text
}

#[test]
fn the_examples_load_the_same() {
    let etc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc");
    let mut cache = ConfigCache::default();
    for name in ["director.yaml", "vrrp-only.yaml"] {
        let text = std::fs::read_to_string(etc.join(name)).unwrap();
        cached(&text, &mut cache).unwrap();
    }
    let text = std::fs::read_to_string(etc.join("director.yaml")).unwrap();
    cached(&text, &mut ConfigCache::default()).unwrap();
    let first = ConfigCache::default();
    let mut cache = first;
    cached(&text, &mut cache).unwrap();
    cached(&text, &mut cache).unwrap();
    let stats = cache.last_load();
    assert_eq!(stats.fallback, None, "etc/director.yaml is within the splitter's subset");
    assert!(stats.items >= 2 && stats.reused == stats.items, "{stats:?}");
}

#[test]
fn a_reload_parses_only_the_changed_item() {
    let mut weights = vec![1; 20];
    let mut cache = ConfigCache::default();
    cached(&document(&weights), &mut cache).unwrap();
    assert_eq!(cache.last_load().parsed, 20);
    weights[7] = 5;
    let config = cached(&document(&weights), &mut cache).unwrap();
    assert_eq!(config.virtual_servers[7].real_servers[0].destination.weight, 5);
    let stats = cache.last_load();
    assert_eq!((stats.items, stats.reused, stats.parsed, stats.fallback), (20, 19, 1, None));
    // Removed, then added back: the removed item is parsed again, nothing else.
    weights.pop();
    cached(&document(&weights), &mut cache).unwrap();
    assert_eq!(cache.last_load().parsed, 0);
    weights.push(1);
    cached(&document(&weights), &mut cache).unwrap();
    assert_eq!(cache.last_load().parsed, 1);
}

#[test]
fn a_primed_cache_serves_the_first_reload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("director.yaml");
    std::fs::write(&path, document(&[1; 10])).unwrap();
    let mut cache = ConfigCache::primed(&path);
    let mut weights = [1; 10];
    weights[3] = 9;
    let edited = dir.path().join("edited.yaml");
    std::fs::write(&edited, document(&weights)).unwrap();
    let config = Config::load_cached(&edited, &mut cache).unwrap();
    assert_eq!(config, Config::load(&edited).unwrap());
    assert_eq!((cache.last_load().reused, cache.last_load().parsed), (9, 1));
    let missing = Config::load_cached(&dir.path().join("none.yaml"), &mut cache).unwrap_err();
    assert!(matches!(missing, ConfigError::Read { .. }), "{missing}");
}

#[test]
fn other_layouts_split_the_same() {
    let layouts = [
        // A compact sequence at the key's own indentation, comments and blank lines.
        "virtual_servers:\n# first\n- name: a\n  address: 192.0.2.1\n  port: 80\n\n  # inside\n- name: b\n  address: 192.0.2.2\n  port: 80\ndirector: {id: x}\n",
        // A dash alone, deeper indentation, no newline at the end.
        "director:\n  id: x\nvirtual_servers:   # the services\n    -\n      name: a\n      address: 192.0.2.1\n      port: 80\n    -   name: 'b # not a comment & not an anchor'\n        address: \"192.0.2.2\"\n        port: 80",
        // Multi-line plain scalars and quoted keys stay within their item.
        "virtual_servers:\n  - name: a\n      b\n    \"address\": 192.0.2.1\n    port: 80\n    quorum_up: [/bin/echo, 'it''s up']\n",
    ];
    for text in layouts {
        let mut cache = ConfigCache::default();
        cached(text, &mut cache).unwrap();
        assert_eq!(cache.last_load().fallback, None, "{text}");
        assert_eq!(cache.last_load().items, 2.min(cache.last_load().items).max(1));
        cached(text, &mut cache).unwrap();
        assert_eq!(cache.last_load().parsed, 0, "{text}");
    }
}

#[test]
fn what_the_splitter_is_not_sure_of_goes_to_the_full_parse() {
    let base = document(&[1, 1]);
    let cases = [
        base.replace("virtual_servers:\n", "virtual_servers: &all\n"),
        base.replace("name: vs1", "name: !!str vs1"),
        base.replace("name: vs1", "name: >\n      vs1"),
        base.replace("name: vs1", "name: \"vs\n      1\""),
        format!("{HEAD}virtual_servers: [{{name: a, address: 192.0.2.1, port: 80}}]\n"),
        format!("---\n{base}"),
        format!("{base}...\n"),
        base.replace("    port: 80\n", "\tport: 80\n"),
        base.replace('\n', "\r\n"),
        format!("{base}virtual_servers: []\n"),
        format!("{base}\"virtual_servers\": []\n"),
        base.replace("check: {type: tcp,", "check: {type: tcp,\n      "),
        base.replace("virtual_servers:\n", "virtual_servers:#x\n"),
        format!("{HEAD}virtual_servers:\n"),
        format!("{HEAD}virtual_servers: []\n"),
    ];
    for text in &cases {
        let mut cache = ConfigCache::default();
        let _ = cached(text, &mut cache);
        assert!(cache.last_load().fallback.is_some(), "{text}");
    }
}

#[test]
fn errors_are_the_full_parses() {
    let base = document(&[1, 1, 1]);
    let cases = [
        base.replace("name: vs1", "name: vs0"),
        base.replace("name: vs1", "nmae: vs1"),
        base.replace("weight: 1}", "weight: 70000}"),
        base.replace("vrrp_instance: VI_1\n    check", "vrrp_instance: VI_9\n    check"),
        base.replace("port: 80\n    vrrp", "port: [80\n    vrrp"),
        base.replace("director: {id: lb01}", "director: {id: lb01, colour: red}"),
    ];
    let mut cache = ConfigCache::default();
    cached(&base, &mut cache).unwrap();
    for text in &cases {
        let error = cached(text, &mut cache).unwrap_err();
        assert!(!error.errors().is_empty(), "{text}");
        // A good file after a bad one still reuses what was parsed.
        cached(&base, &mut cache).unwrap();
    }
}

/// Random edits (bytes inserted, deleted, lines duplicated or moved) of a document:
/// whatever the cache says, the full parse says too. FUZZ_SEED=N tries other edits.
#[test]
fn random_edits_load_as_the_full_parse_does() {
    let mut base = document(&[1; 6]);
    let _ = write!(base, "  # trailing\n  - {{name: tail, fwmark: 7, real_servers: []}}\n");
    base.push_str("# end\n");
    let alphabet: &[u8] = b" -:#\n'\"&*!|>[]{},?0123456789abvs_\t";
    let mut seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut next = move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound as u64) as usize
    };
    let mut cache = ConfigCache::default();
    let (mut ok, mut incremental) = (0, 0);
    for _ in 0..4000 {
        let mut text = base.clone().into_bytes();
        for _ in 0..1 + next(2) {
            let at = next(text.len());
            match next(6) {
                // Mostly harmless: another digit, a comment line.
                4 => {
                    if let Some(digit) = text[at..].iter().position(u8::is_ascii_digit) {
                        text[at + digit] = b'0' + next(10) as u8;
                    }
                }
                5 => {
                    let start = text[..at].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                    let comment = [" ", "  ", "    ", ""][next(4)].to_string() + "# c\n";
                    text.splice(start..start, comment.into_bytes());
                }
                0 => text.insert(at, alphabet[next(alphabet.len())]),
                1 => {
                    text.remove(at);
                }
                2 => {
                    let start = text[..at].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                    let end = text[at..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(text.len(), |p| at + p + 1);
                    let line = text[start..end].to_vec();
                    let to = next(text.len());
                    let to = text[..to].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                    text.splice(to..to, line);
                }
                _ => text.insert(at, b' '),
            }
        }
        let Ok(text) = String::from_utf8(text) else { continue };
        if cached(&text, &mut cache).is_ok() {
            ok += 1;
            incremental += usize::from(cache.last_load().fallback.is_none());
        }
    }
    // The edits must leave enough valid documents for the comparison to mean something.
    assert!(ok > 700 && incremental > 600, "{ok} valid, {incremental} incremental");
}
