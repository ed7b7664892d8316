#![allow(clippy::unwrap_used)]
//! Every example configuration shipped in etc/ loads.

use std::path::Path;

use director::config::Config;

#[test]
fn every_example_in_etc_loads() {
    let etc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc");
    let mut checked = 0;
    for entry in std::fs::read_dir(&etc).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            if let Err(e) = Config::load(&path) {
                panic!("{}:\n{e}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 1, "no etc/*.yaml found in {}", etc.display());
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
