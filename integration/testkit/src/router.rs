//! One description of a VRRP router, rendered either as directord's YAML or as a
//! keepalived.conf, so interop tests give both daemons the same instance.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// A router: its id, its scripts and its VRRP instances.
#[derive(Debug, Clone)]
pub struct Router {
    pub id: String,
    pub scripts: Vec<Script>,
    pub instances: Vec<Instance>,
    /// (name, instance names)
    pub sync_groups: Vec<(String, Vec<String>)>,
    /// directord's `director.metrics` (keepalived has none).
    pub metrics: Option<SocketAddr>,
}

impl Router {
    pub fn new(id: &str, instance: Instance) -> Router {
        Router {
            id: id.into(),
            scripts: Vec::new(),
            instances: vec![instance],
            sync_groups: vec![],
            metrics: None,
        }
    }

    /// Serves Prometheus metrics on `addr` (directord only).
    pub fn with_metrics(mut self, addr: SocketAddr) -> Router {
        self.metrics = Some(addr);
        self
    }

    pub fn with_script(mut self, script: Script) -> Router {
        self.scripts.push(script);
        self
    }
}

/// A tracked script (keepalived's vrrp_script).
#[derive(Debug, Clone)]
pub struct Script {
    pub name: String,
    pub command: Vec<String>,
    /// keepalived takes whole seconds.
    pub interval: Duration,
    pub timeout: Duration,
    pub weight: i32,
    pub rise: u32,
    pub fall: u32,
}

impl Script {
    /// Runs `path` every second; a failure changes the priority by `weight`.
    pub fn every_second(name: &str, path: &Path, weight: i32) -> Script {
        Script {
            name: name.into(),
            command: vec![path.display().to_string()],
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            weight,
            rise: 1,
            fall: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unicast {
    pub source: Ipv4Addr,
    pub peers: Vec<Ipv4Addr>,
}

/// One VRRP instance on eth0.
#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    /// 2 or 3.
    pub version: u8,
    pub advert: Duration,
    pub preempt: bool,
    /// PASS authentication (version 2 only).
    pub password: Option<String>,
    pub unicast: Option<Unicast>,
    pub vips: Vec<String>,
    pub track_interfaces: Vec<(String, i32)>,
    pub track_scripts: Vec<String>,
    /// Have the daemon run the fixture's notify script on every transition.
    pub notify: bool,
}

/// The lab's virtual address.
pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

impl Instance {
    /// `vi1`, VRID 51, VRRPv3 at `advert_ms`, multicast, preempting, VIP 192.0.2.100/24.
    pub fn v3(priority: u8, advert_ms: u64) -> Instance {
        Instance {
            name: "vi1".into(),
            interface: "eth0".into(),
            vrid: 51,
            priority,
            version: 3,
            advert: Duration::from_millis(advert_ms),
            preempt: true,
            password: None,
            unicast: None,
            vips: vec![format!("{VIP}/24")],
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            notify: false,
        }
    }

    /// The same as [`Instance::v3`] but VRRPv2 with PASS "1111" at `advert_s` seconds.
    pub fn v2(priority: u8, advert_s: u64) -> Instance {
        Instance {
            version: 2,
            advert: Duration::from_secs(advert_s),
            password: Some("1111".into()),
            ..Instance::v3(priority, 1000)
        }
    }

    pub fn unicast(mut self, source: Ipv4Addr, peer: Ipv4Addr) -> Instance {
        self.unicast = Some(Unicast { source, peers: vec![peer] });
        self
    }

    pub fn preempt(mut self, preempt: bool) -> Instance {
        self.preempt = preempt;
        self
    }

    /// RFC 5798 skew time for this priority, at this instance's interval.
    pub fn skew(&self) -> Duration {
        let interval = if self.version == 2 { Duration::from_secs(1) } else { self.advert };
        interval * (256 - u32::from(self.priority)) / 256
    }

    /// Master_Down_Interval: 3 x interval + skew.
    pub fn master_down(&self) -> Duration {
        self.advert * 3 + self.skew()
    }
}

/// directord's YAML for `router` (see DESIGN.md); `notify` is the fixture's script.
pub fn yaml(router: &Router, notify: &Path) -> String {
    let mut y = format!("director:\n  id: {}\n", router.id);
    if let Some(addr) = router.metrics {
        let _ = writeln!(y, "  metrics: \"{addr}\"");
    }
    y.push_str("vrrp:\n");
    if !router.scripts.is_empty() {
        y.push_str("  scripts:\n");
        for s in &router.scripts {
            let _ = writeln!(
                y,
                "    {}: {{command: {}, interval: {}, timeout: {}, weight: {}, rise: {}, fall: {}}}",
                s.name,
                list(&s.command),
                ms(s.interval),
                ms(s.timeout),
                s.weight,
                s.rise,
                s.fall
            );
        }
    }
    y.push_str("  instances:\n");
    for i in &router.instances {
        let _ = writeln!(y, "    - name: {}\n      interface: {}", i.name, i.interface);
        let _ = writeln!(y, "      vrid: {}\n      priority: {}", i.vrid, i.priority);
        let _ =
            writeln!(y, "      version: {}\n      advert_interval: {}", i.version, ms(i.advert));
        let _ = writeln!(y, "      preempt: {}\n      preempt_delay: 0s", i.preempt);
        if let Some(p) = &i.password {
            let _ = writeln!(y, "      authentication: {{type: pass, password: \"{p}\"}}");
        }
        if let Some(u) = &i.unicast {
            let peers: Vec<String> = u.peers.iter().map(Ipv4Addr::to_string).collect();
            let _ = writeln!(y, "      unicast: {{source: {}, peers: {}}}", u.source, list(&peers));
        }
        let _ = writeln!(y, "      virtual_addresses: {}", list(&i.vips));
        if !i.track_interfaces.is_empty() || !i.track_scripts.is_empty() {
            let ifaces: Vec<String> = i
                .track_interfaces
                .iter()
                .map(|(n, w)| format!("{{name: {n}, weight: {w}}}"))
                .collect();
            let _ = writeln!(
                y,
                "      track: {{interfaces: [{}], scripts: {}}}",
                ifaces.join(", "),
                list(&i.track_scripts)
            );
        }
        if i.notify {
            let n = notify.display();
            y.push_str("      notify:\n");
            for state in ["master", "backup", "fault", "stop"] {
                let _ = writeln!(y, "        {state}: [{n}, {state}]");
            }
            let _ = writeln!(y, "        any: [{n}]");
        }
    }
    if !router.sync_groups.is_empty() {
        y.push_str("  sync_groups:\n");
        for (name, members) in &router.sync_groups {
            let _ = writeln!(y, "    - {{name: {name}, instances: {}}}", list(members));
        }
    }
    y
}

/// keepalived.conf for `router`. keepalived has no other way to tell its state than
/// its notify scripts, so every instance notifies `notify` (whatever `Instance::notify`
/// says), with the same arguments as directord's notify commands.
pub fn keepalived_conf(router: &Router, notify: &Path) -> String {
    let version = router.instances.first().map_or(2, |i| i.version);
    let mut c = format!("global_defs {{\n    router_id {}\n", router.id);
    let _ = writeln!(c, "    vrrp_version {version}");
    // Scripts run as root without the keepalived_script user; no second GARP burst 5 s
    // after becoming master, which would only add noise to the captures.
    c.push_str("    script_user root\n    vrrp_garp_master_delay 0\n}\n");
    for s in &router.scripts {
        let _ = writeln!(c, "vrrp_script {} {{\n    script \"{}\"", s.name, s.command.join(" "));
        let _ = writeln!(c, "    interval {}\n    timeout {}", secs(s.interval), secs(s.timeout));
        let _ =
            writeln!(c, "    weight {}\n    rise {}\n    fall {}\n}}", s.weight, s.rise, s.fall);
    }
    for i in &router.instances {
        let _ = writeln!(c, "vrrp_instance {} {{", i.name);
        // keepalived's nopreempt needs the BACKUP start state; directord starts as
        // backup by default too.
        c.push_str("    state BACKUP\n");
        if !i.preempt {
            c.push_str("    nopreempt\n");
        }
        let _ = writeln!(c, "    interface {}\n    virtual_router_id {}", i.interface, i.vrid);
        let _ = writeln!(c, "    priority {}\n    advert_int {}", i.priority, secs(i.advert));
        if let Some(p) = &i.password {
            let _ = writeln!(
                c,
                "    authentication {{\n        auth_type PASS\n        auth_pass {p}\n    }}"
            );
        }
        if let Some(u) = &i.unicast {
            let _ = writeln!(c, "    unicast_src_ip {}\n    unicast_peer {{", u.source);
            for p in &u.peers {
                let _ = writeln!(c, "        {p}");
            }
            c.push_str("    }\n");
        }
        c.push_str("    virtual_ipaddress {\n");
        for v in &i.vips {
            let _ = writeln!(c, "        {v} dev {}", i.interface);
        }
        c.push_str("    }\n");
        if !i.track_interfaces.is_empty() {
            c.push_str("    track_interface {\n");
            for (name, weight) in &i.track_interfaces {
                let _ = writeln!(c, "        {name} weight {weight}");
            }
            c.push_str("    }\n");
        }
        if !i.track_scripts.is_empty() {
            let _ = writeln!(
                c,
                "    track_script {{\n        {}\n    }}",
                i.track_scripts.join("\n        ")
            );
        }
        let n = notify.display();
        for state in ["master", "backup", "fault", "stop"] {
            let _ = writeln!(c, "    notify_{state} \"{n} {state}\"");
        }
        let _ = writeln!(c, "    notify \"{n}\"\n}}");
    }
    for (name, members) in &router.sync_groups {
        let _ = writeln!(
            c,
            "vrrp_sync_group {name} {{\n    group {{\n        {}\n    }}\n}}",
            members.join("\n        ")
        );
    }
    c
}

/// A shell script that appends its arguments as one line to `log`.
pub fn notify_script(log: &Path) -> String {
    // One write(2) per line with O_APPEND: lines from concurrent runs do not interleave.
    format!("#!/bin/sh\necho \"$*\" >> '{}'\n", log.display())
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// Seconds as keepalived writes them: "1", "0.05".
fn secs(d: Duration) -> String {
    let s = format!("{:.3}", d.as_secs_f64());
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_as_keepalived_writes_them() {
        assert_eq!(secs(Duration::from_secs(1)), "1");
        assert_eq!(secs(Duration::from_millis(50)), "0.05");
        assert_eq!(secs(Duration::from_millis(100)), "0.1");
        assert_eq!(secs(Duration::from_millis(1500)), "1.5");
    }

    #[test]
    fn skew_follows_rfc_5798() {
        let v3 = Instance::v3(100, 100);
        // (256 - 100) * 100 ms / 256 = 60.9375 ms
        assert_eq!(v3.skew(), Duration::from_nanos(60_937_500));
        assert_eq!(v3.master_down(), Duration::from_nanos(360_937_500));
        let v2 = Instance::v2(100, 1);
        assert_eq!(v2.skew(), Duration::from_micros(609_375));
    }

    #[test]
    fn both_renderings_carry_the_instance() {
        let i = Instance::v2(150, 1)
            .unicast(Ipv4Addr::new(192, 0, 2, 10), Ipv4Addr::new(192, 0, 2, 11))
            .preempt(false);
        let r = Router::new("lb1", i);
        let n = Path::new("/tmp/n.sh");
        let y = yaml(&r, n);
        assert!(y.contains("vrid: 51") && y.contains("advert_interval: 1000ms"), "{y}");
        assert!(y.contains("unicast: {source: 192.0.2.10, peers: [192.0.2.11]}"), "{y}");
        assert!(y.contains("preempt: false") && y.contains("password: \"1111\""), "{y}");
        let c = keepalived_conf(&r, n);
        assert!(c.contains("nopreempt") && c.contains("auth_pass 1111"), "{c}");
        assert!(c.contains("unicast_src_ip 192.0.2.10") && c.contains("vrrp_version 2"), "{c}");
        assert_eq!(c.matches('{').count(), c.matches('}').count());
    }
}
