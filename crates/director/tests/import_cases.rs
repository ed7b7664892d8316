//! keepalived syntax and mappings beyond the samples: includes, comments, quoting, the
//! keywords not carried over (each with its line, in stderr's words and in the YAML),
//! and errors placed at their line.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use checker::CheckKind;
use director::config::Config;
use director::import::{convert, Conversion, ImportError, WarningKind};

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn convert_text(text: &str) -> (Result<Conversion, ImportError>, String) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "k.conf", text);
    let main = dir.path().join("k.conf");
    (convert(&main), main.display().to_string())
}

fn ok(text: &str) -> (Conversion, Config, String) {
    let (result, main) = convert_text(text);
    let conversion = result.unwrap();
    let config = Config::from_yaml(&conversion.yaml, "converted").unwrap();
    (conversion, config, main)
}

fn err(text: &str) -> String {
    let (result, main) = convert_text(text);
    result.unwrap_err().to_string().replace(&main, "k.conf")
}

const INSTANCE: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n}\n";

#[test]
fn includes_nest_glob_and_are_relative_to_the_including_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "main.conf",
        "global_defs {\n router_id main\n}\ninclude conf.d/*.conf\ninclude other/{x,y}.conf\n",
    );
    write(dir.path(), "conf.d/a.conf", "include ../more/inner.conf\n");
    // Read after a.conf, so inside the block inner.conf opened.
    write(dir.path(), "conf.d/b.conf", " priority 42\n");
    write(
        dir.path(),
        "more/inner.conf",
        "vrrp_instance VI_IN {\n interface eth0\n virtual_router_id 7\n",
    );
    // The block opened in inner.conf is closed here: includes are read in place.
    write(dir.path(), "other/x.conf", "}\n");
    write(
        dir.path(),
        "other/y.conf",
        "vrrp_instance VI_Y {\n interface eth1 # c\n virtual_router_id 8\n}\n",
    );
    let conversion = convert(&dir.path().join("main.conf")).unwrap();
    let config = Config::from_yaml(&conversion.yaml, "c").unwrap();
    assert_eq!(config.director.id, "main");
    assert_eq!(config.vrrp.instances[0].priority, 42);
    let ids: Vec<(&str, u8)> =
        config.vrrp.instances.iter().map(|i| (i.name.as_str(), i.vrid)).collect();
    assert_eq!(ids, [("VI_IN", 7), ("VI_Y", 8)]);

    write(dir.path(), "conf.d/c.conf", "\n\ninclude missing.conf\n");
    let message = convert(&dir.path().join("main.conf")).unwrap_err().to_string();
    let at = format!("{}:3: included file", dir.path().join("conf.d/c.conf").display());
    assert!(message.starts_with(&at), "{message}");

    std::fs::remove_file(dir.path().join("conf.d/c.conf")).unwrap();
    write(dir.path(), "main2.conf", "include none/*.conf\n");
    let conversion = convert(&dir.path().join("main2.conf")).unwrap();
    assert_eq!(conversion.warnings[0].keyword, "include");
    assert_eq!(conversion.warnings[0].line, 1);
}

#[test]
fn comments_quotes_and_one_line_blocks() {
    let (conversion, config, _) = ok("! header\n# another\nvrrp_script chk { script \"/usr/bin/killall -0 nginx\" # why\n interval 2 ! two\n}\n\
         vrrp_instance VI_1\n{\n interface eth0\n virtual_router_id 9\n virtual_ipaddress { 192.0.2.3/24 }\n \
         track_script {\n  chk weight -5\n }\n notify \"/etc/n.sh 'two words' x\\\\ y\"\n}\n");
    assert!(conversion.warnings.is_empty(), "{:?}", conversion.warnings);
    assert_eq!(config.vrrp.scripts[0].command, ["/usr/bin/killall", "-0", "nginx"]);
    let vi = &config.vrrp.instances[0];
    assert_eq!(vi.virtual_addresses[0].address.to_string(), "192.0.2.3");
    assert_eq!(vi.track_scripts[0].weight, Some(-5));
    assert_eq!(vi.notify.any.as_ref().unwrap(), &["/etc/n.sh", "two words", "x y"]);
    assert!(conversion.yaml.contains("[/usr/bin/killall, \"-0\", nginx]"), "{}", conversion.yaml);
}

#[test]
fn every_keyword_not_carried_over_is_reported_with_its_line_and_commented() {
    let text = "global_defs {\n router_id a\n notification_email {\n  x@example.org\n }\n}\n\
                vrrp_script s {\n script killall\n user nobody\n}\n\
                vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n use_vmac\n \
                authentication {\n  auth_type AH\n  auth_pass x\n }\n \
                virtual_ipaddress {\n  192.0.2.1/24 scope link\n  2001:db8::1/64\n }\n \
                track_script {\n  nope\n }\n mcast_src_ip 192.0.2.9\n}\n\
                virtual_server_group G {\n 192.0.2.1 80\n}\n\
                virtual_server 192.0.2.1 80 {\n ha_suspend\n real_server 192.0.2.7 80 {\n  \
                SMTP_CHECK {\n  }\n  TCP_CHECK {\n   bind_port 9\n  }\n  TCP_CHECK {\n  }\n }\n}\n";
    let (conversion, _, main) = ok(text);
    let found: Vec<(usize, &str, WarningKind)> =
        conversion.warnings.iter().map(|w| (w.line, w.keyword.as_str(), w.kind)).collect();
    use WarningKind::{Changed, NotCarried};
    assert_eq!(
        found,
        [
            (3, "notification_email", NotCarried),
            (8, "script", Changed),
            (9, "user", NotCarried),
            (14, "use_vmac", NotCarried),
            (24, "nope", NotCarried),
            (16, "auth_type", NotCarried),
            (26, "mcast_src_ip", NotCarried),
            (20, "scope", NotCarried),
            (21, "2001:db8::1/64", NotCarried),
            (28, "virtual_server_group", NotCarried),
            (32, "ha_suspend", NotCarried),
            (34, "SMTP_CHECK", NotCarried),
            (37, "bind_port", NotCarried),
            (39, "TCP_CHECK", NotCarried),
        ]
    );
    let first = conversion.warnings[0].to_string();
    assert_eq!(
        first,
        format!(
            "{main}:3: keyword 'notification_email' in global_defs: not carried over (director \
             sends no e-mail: use notify scripts)"
        )
    );
    for warning in &conversion.warnings {
        assert!(
            conversion.yaml.contains(&format!("# {warning}")),
            "{warning}\n{}",
            conversion.yaml
        );
    }
    // The comment sits in the block it came from.
    let at = conversion.yaml.find("keyword 'use_vmac'").unwrap();
    let instance = conversion.yaml.find("- name: VI_1").unwrap();
    assert!(at > instance, "{}", conversion.yaml);
    assert!(conversion.dropped_anything());
}

#[test]
fn keepalived_semantics_that_need_care() {
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n state MASTER\n \
                nopreempt\n advert_int 0.4\n authentication {\n  auth_type PASS\n  auth_pass 123456789\n }\n}\n\
                virtual_server 192.0.2.1 80 {\n lb_kind DR\n delay_loop 7\n real_server 192.0.2.7 8080 {\n  \
                TCP_CHECK {\n   nb_get_retry 4\n  }\n }\n}\n";
    let (conversion, config, _) = ok(text);
    let vi = &config.vrrp.instances[0];
    assert!(vi.preempt, "keepalived ignores nopreempt with state MASTER");
    assert_eq!(vi.advert_interval, std::time::Duration::from_secs(1), "VRRPv2: whole seconds");
    assert_eq!(vi.password.as_deref(), Some("12345678"));
    let kinds: Vec<(&str, WarningKind)> =
        conversion.warnings.iter().map(|w| (w.keyword.as_str(), w.kind)).collect();
    assert!(kinds.contains(&("nopreempt", WarningKind::NotCarried)), "{kinds:?}");
    assert!(kinds.contains(&("advert_int", WarningKind::Changed)), "{kinds:?}");
    assert!(kinds.contains(&("auth_pass", WarningKind::Changed)), "{kinds:?}");
    let rs = &config.virtual_servers[0].real_servers[0];
    assert_eq!(rs.destination.port, 80, "DR forwards to the service's port");
    let check = rs.check.as_ref().unwrap();
    assert_eq!(check.target.connect.port(), 8080, "the check goes where keepalived's went");
    assert!(matches!(check.kind, CheckKind::Tcp));
    assert_eq!(check.timing.retry, 4);
    assert_eq!(check.timing.delay_loop, std::time::Duration::from_secs(7));
}

#[test]
fn syntax_and_value_errors_name_file_line_and_column() {
    assert_eq!(err("a {\n b\n"), "k.conf:1:1: the block of 'a' is never closed (a '}' is missing)");
    assert_eq!(err("}\n"), "k.conf:1:1: '}' without a block to close");
    assert_eq!(err("x \"open\n"), "k.conf:1:3: unterminated quote");
    let bad = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 300\n priority\n}\n";
    assert_eq!(
        err(bad),
        "k.conf:3:20: 'virtual_router_id' must be 1 to 255, got 300\n\
         k.conf:4:2: 'priority' is missing its value\n\
         k.conf:1:1: vrrp_instance VI_1 has no virtual_router_id"
    );
    let bad = format!("{INSTANCE}virtual_server 192.0.2.300 80 {{\n}}\n");
    assert_eq!(err(&bad), "k.conf:5:16: 'virtual_server' needs an IP address, got \"192.0.2.300\"");
    let bad = "virtual_server 192.0.2.1 80 {\n real_server 192.0.2.2 80 {\n  weight x\n }\n}\n";
    assert_eq!(err(bad), "k.conf:3:10: 'weight' needs a whole number, got \"x\"");
    // keepalived would give the block to `weight` and drop the check: an error here.
    let bad = "virtual_server 192.0.2.1 80 {\n real_server 192.0.2.2 80 { weight 2 TCP_CHECK {\n }\n }\n}\n";
    assert_eq!(err(bad), "k.conf:2:29: 'weight' takes no block (a keyword missing a line break?)");
    let bad = "virtual_server 192.0.2.1 80 {\n delay_loop 5 lb_algo rr\n}\n";
    assert_eq!(
        err(bad),
        "k.conf:2:15: 'delay_loop' takes one value, got 3 (a keyword missing a line break?)"
    );
}
