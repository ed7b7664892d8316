//! Durations are bounded (a year): a huge `drain_timeout` or `delay_loop` is refused
//! where it is written, instead of overflowing a clock in the running daemon.

use director::config::Config;

fn vs(key_value: &str) -> String {
    format!(
        "virtual_servers:
  - name: web
    address: 192.0.2.100
    port: 80
    {key_value}
    real_servers:
      - {{address: 198.51.100.7, port: 80}}
"
    )
}

#[test]
fn a_duration_past_a_year_is_refused_with_its_place() {
    for value in ["drain_timeout: 18446744073709551615", "drain_timeout: 8761h"] {
        let e = Config::from_yaml(&vs(value), "d.yaml").expect_err(value).to_string();
        assert!(e.contains("d.yaml:5:"), "{value}: {e}");
        assert!(e.contains("at most a year"), "{value}: {e}");
    }
    let check = "check: {type: tcp, delay_loop: 99999999999}";
    let e = Config::from_yaml(&vs(check), "d.yaml").expect_err("delay_loop").to_string();
    assert!(e.contains("d.yaml:5:") && e.contains("at most a year"), "{e}");
}

#[test]
fn a_year_is_accepted() {
    let config = Config::from_yaml(&vs("drain_timeout: 8760h"), "d.yaml").expect("a year");
    assert_eq!(config.virtual_servers[0].drain_timeout.as_secs(), 365 * 24 * 3600);
}
