//! P2 (inside the VM, as root): reload of a 2,284-virtual-server / 37,298-real-server
//! site where one real server's weight changed: time and netlink operations.
//!
//! directord runs the site; each run changes one weight in its YAML (alternating, so
//! every run is a change) and times `directorctl reload --json`; the daemon's answer
//! gives its own operation count, `ipvsadm -Sn` before and after must differ in exactly
//! that real server's line. Anchors in the same run: keepalived on the equivalent
//! keepalived.conf (SIGHUP until the kernel shows the new weight, polled over netlink),
//! then what an ipvsadm operator does: `ipvsadm -C` + `ipvsadm -R` of the whole table,
//! and for scale the single hand-written `ipvsadm -e`.

pub mod lab;
mod report;
pub mod site;

use std::net::SocketAddrV4;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ipvs::{Client, ServiceKey};

use crate::p5::tree;
use lab::{Daemon, Lab};
use site::{Check, Site};

const KEEPALIVED_RELOAD_TIMEOUT: Duration = Duration::from_secs(1800);

pub struct Args {
    pub services: u32,
    pub real_servers: u32,
    pub runs: usize,
    /// keepalived's reload of this site takes a long time under emulation: fewer runs.
    pub keepalived_runs: usize,
    pub ipvsadm_runs: usize,
    pub delay_loop: u32,
    /// First probes spread over this (both daemons' `warmup`), not over delay_loop. A
    /// day by default: the checks are configured, subscribed and carried over by the
    /// reload, but almost never probe, so neither daemon's checking is in the figure
    /// (under emulation 37,298 first verdicts within minutes overload both the VM and
    /// directord, which reconciles the whole table on each; see BENCHMARKS.md).
    pub warmup: u32,
    /// Wait after the table is in, and after each reload before the next.
    pub settle: Duration,
    pub directord: Option<String>,
    pub directorctl: String,
    pub keepalived: Option<String>,
    pub ipvsadm: String,
    /// Only write the two configs there and stop (for profiling on a machine without IPVS).
    pub write_configs: Option<std::path::PathBuf>,
}

impl Args {
    fn from_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut a = Args {
            services: 2_284,
            real_servers: 37_298,
            runs: 7,
            keepalived_runs: 3,
            ipvsadm_runs: 3,
            // Long, so the checks (all passing) stay far below the reload in the VM's CPU.
            delay_loop: 600,
            warmup: 86_400,
            settle: Duration::from_secs(5),
            directord: Some("directord".into()),
            directorctl: "directorctl".into(),
            keepalived: Some("keepalived".into()),
            ipvsadm: "ipvsadm".into(),
            write_configs: None,
        };
        for (flag, value) in crate::flag_pairs(args)? {
            match flag.as_str() {
                "--services" => a.services = crate::number(&flag, &value)?,
                "--real-servers" => a.real_servers = crate::number(&flag, &value)?,
                "--runs" => a.runs = crate::number(&flag, &value)?,
                "--keepalived-runs" => a.keepalived_runs = crate::number(&flag, &value)?,
                "--ipvsadm-runs" => a.ipvsadm_runs = crate::number(&flag, &value)?,
                "--delay-loop" => a.delay_loop = crate::number(&flag, &value)?,
                "--warmup" => a.warmup = crate::number(&flag, &value)?,
                "--settle" => a.settle = Duration::from_secs(crate::number(&flag, &value)?),
                "--directord" => a.directord = (value != "none").then_some(value),
                "--directorctl" => a.directorctl = value,
                "--keepalived" => a.keepalived = (value != "none").then_some(value),
                "--ipvsadm" => a.ipvsadm = value,
                "--write-configs" => a.write_configs = Some(value.into()),
                other => return Err(format!("unknown option {other}")),
            }
        }
        if a.runs == 0 || a.keepalived_runs == 0 || a.delay_loop == 0 {
            return Err("--runs, --keepalived-runs and --delay-loop must be positive".into());
        }
        Ok(a)
    }

    fn check(&self) -> Check {
        Check {
            delay_loop: self.delay_loop,
            connect_timeout: 3,
            retry: 1,
            delay_before_retry: 1,
            warmup: Some(self.warmup),
        }
    }
}

/// The real server every run changes: the first of the middle virtual server.
pub struct Change {
    pub service: usize,
    pub key: ServiceKey,
    pub rs: SocketAddrV4,
    pub base_weight: u32,
}

impl Change {
    fn new(site: &Site) -> Change {
        let service = site.services.len() / 2;
        let rs = &site.services[service].real_servers[0];
        Change { service, key: site.key(service), rs: rs.addr, base_weight: rs.weight }
    }

    /// Run `i`'s weight: base + 10, base, base + 10, ... so that every run is a change.
    pub fn weight(&self, i: usize) -> u32 {
        if i.is_multiple_of(2) {
            self.base_weight + 10
        } else {
            self.base_weight
        }
    }

    fn site_with(&self, site: &Site, weight: u32) -> Site {
        let mut s = site.clone();
        s.services[self.service].real_servers[0].weight = weight;
        s
    }
}

/// One timed reload of either daemon.
#[derive(Debug, Clone, Default)]
pub struct Reload {
    /// directord: the `directorctl reload` process from start to exit; keepalived:
    /// from SIGHUP until the kernel shows the new weight.
    pub took: Duration,
    /// directord's own figures from its answer.
    pub daemon_ms: Option<f64>,
    pub load_ms: Option<f64>,
    pub ipvs_ops: Option<u64>,
    /// CPU the daemon's process tree used from the signal/request to `settle` later.
    pub cpu: Duration,
    /// Connections the listeners accepted in that window: the checks it ran.
    pub probes: u64,
    /// That window's length.
    pub window: Duration,
}

/// A daemon left alone for `settle` with the site loaded: what a reload is measured against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Idle {
    pub wall: Duration,
    pub cpu: Duration,
    pub probes: u64,
}

/// Waits until `daemon` has the whole site in the kernel, lets it settle, and measures
/// it idle.
fn installed(
    a: &Args,
    site: &Site,
    daemon: &mut Daemon,
    lab: &mut Lab,
    client: &mut Client,
    timeout: Duration,
) -> Result<Idle, String> {
    let started = daemon.wait_for_entries(client, site.entries(), timeout)?;
    println!(
        "  {}: {} entries in the kernel {:.1} s after start",
        daemon.name,
        site.entries(),
        started.as_secs_f64()
    );
    std::thread::sleep(a.settle);
    idle(daemon, lab, a.settle)
}

/// CPU and probes of `daemon`'s tree over `window`, doing nothing.
fn idle(daemon: &Daemon, lab: &mut Lab, window: Duration) -> Result<Idle, String> {
    let pids = tree::pids(daemon.pid());
    let (cpu0, (probes0, _), start) = (tree::cpu(&pids)?, lab.listeners.sample()?, Instant::now());
    std::thread::sleep(window);
    let (cpu1, (probes1, _)) = (tree::cpu(&pids)?, lab.listeners.sample()?);
    Ok(Idle { wall: start.elapsed(), cpu: cpu1 - cpu0, probes: probes1 - probes0 })
}

/// `director-bench p2 ...`: see [`Args::from_args`] for the options.
pub fn main(args: impl Iterator<Item = String>) -> Result<(), String> {
    let a = Args::from_args(args)?;
    let site = Site::new(a.services, a.real_servers, a.check())?;
    let change = Change::new(&site);
    if let Some(dir) = &a.write_configs {
        return write_configs(dir, &site, &change);
    }
    report::header(&a, &site, &change);
    let mut lab = Lab::start(&site, "/tmp/director-bench-p2")?;
    let mut client = Client::connect().map_err(|e| format!("IPVS netlink: {e}"))?;
    client.flush().map_err(|e| format!("flush: {e}"))?;

    let ours = match &a.directord {
        Some(path) => Some(directord(&a, path, &site, &change, &mut lab, &mut client)?),
        None => None,
    };
    if let Some((idle, runs)) = &ours {
        report::runs("directorctl reload", *idle, runs);
    }
    let theirs = match &a.keepalived {
        Some(path) => Some(keepalived(&a, path, &site, &change, &mut lab, &mut client)?),
        None => None,
    };
    if let Some((idle, runs)) = &theirs {
        report::runs("keepalived SIGHUP", *idle, runs);
    }
    let operator = ipvsadm(&a, &site, &change, &lab, &mut client)?;
    report::summary(
        ours.as_ref().map(|(i, r)| (*i, r.as_slice())),
        theirs.as_ref().map(|(i, r)| (*i, r.as_slice())),
        &operator,
    );
    Ok(())
}

/// director.yaml, keepalived.conf and their one-weight-changed twins (`*.changed`).
fn write_configs(dir: &std::path::Path, site: &Site, change: &Change) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let changed = change.site_with(site, change.weight(0));
    for (name, text) in [
        ("director.yaml", site.yaml("director_bench_p2")),
        ("director.yaml.changed", changed.yaml("director_bench_p2")),
        ("keepalived.conf", site.keepalived_conf("director_bench_p2")),
        ("keepalived.conf.changed", changed.keepalived_conf("director_bench_p2")),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("wrote {}/{{director.yaml,keepalived.conf}}[.changed]", dir.display());
    Ok(())
}

fn directord(
    a: &Args,
    path: &str,
    site: &Site,
    change: &Change,
    lab: &mut Lab,
    client: &mut Client,
) -> Result<(Idle, Vec<Reload>), String> {
    let (conf, socket) = (lab.path("director.yaml"), lab.path("director.sock"));
    lab::write_atomically(&conf, &site.yaml("director_bench_p2"))?;
    let mut daemon = Daemon::directord(path, &conf, &socket, lab.path("directord.log"))?;
    let quiet = installed(a, site, &mut daemon, lab, client, Duration::from_secs(900))?;
    let mut runs = Vec::new();
    for i in 0..a.runs {
        let weight = change.weight(i);
        lab::write_atomically(&conf, &change.site_with(site, weight).yaml("director_bench_p2"))?;
        let before = lab::ipvsadm_save(&a.ipvsadm)?;
        let pids = tree::pids(daemon.pid());
        let (cpu0, (probes0, _)) = (tree::cpu(&pids)?, lab.listeners.sample()?);
        let start = Instant::now();
        let out = Command::new(&a.directorctl)
            .arg("--socket")
            .arg(&socket)
            .args(["reload", "--json"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", a.directorctl))?;
        let took = start.elapsed();
        let visible = lab::kernel_weight(client, &change.key, change.rs)?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "directorctl reload ({}): {text}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut reload = parse_answer(&text)?;
        reload.took = took;
        if visible != Some(weight) {
            return Err(format!(
                "run {i}: reload answered but the kernel has weight {visible:?} for {}, want {weight}",
                change.rs
            ));
        }
        std::thread::sleep(a.settle.saturating_sub(start.elapsed()));
        reload.cpu = tree::cpu(&pids)? - cpu0;
        reload.probes = lab.listeners.sample()?.0 - probes0;
        reload.window = start.elapsed();
        daemon.alive()?;
        let after = lab::ipvsadm_save(&a.ipvsadm)?;
        lab::exactly_one_line_changed(&before, &after, change.rs, weight)
            .map_err(|e| format!("directord run {i}: {e}"))?;
        if reload.ipvs_ops != Some(1) {
            println!(
                "  run {i}: directord reports {:?} IPVS operations, goal exactly 1",
                reload.ipvs_ops
            );
        }
        report::run("directord", i, &reload);
        runs.push(reload);
    }
    let stopped = daemon.stop(client)?;
    println!("  directord stopped (SIGTERM) in {:.1} s", stopped.as_secs_f64());
    Ok((quiet, runs))
}

/// `{"reloaded", "changed", "duration_ms", "load_ms", "ipvs_ops", "ipvs_failed"}`.
fn parse_answer(text: &str) -> Result<Reload, String> {
    let v: serde_json::Value =
        serde_json::from_str(text.trim()).map_err(|e| format!("reload answer {text:?}: {e}"))?;
    if v.get("changed").and_then(serde_json::Value::as_bool) != Some(true) {
        return Err(format!("reload answer {text:?}: want \"changed\": true"));
    }
    match v.get("ipvs_failed").and_then(serde_json::Value::as_array) {
        Some(failed) if failed.is_empty() => {}
        _ => return Err(format!("reload answer {text:?}: want \"ipvs_failed\": []")),
    }
    Ok(Reload {
        daemon_ms: v.get("duration_ms").and_then(serde_json::Value::as_f64),
        load_ms: v.get("load_ms").and_then(serde_json::Value::as_f64),
        ipvs_ops: v.get("ipvs_ops").and_then(serde_json::Value::as_u64),
        ..Reload::default()
    })
}

fn keepalived(
    a: &Args,
    path: &str,
    site: &Site,
    change: &Change,
    lab: &mut Lab,
    client: &mut Client,
) -> Result<(Idle, Vec<Reload>), String> {
    let conf = lab.path("keepalived.conf");
    lab::write_atomically(&conf, &site.keepalived_conf("director_bench_p2"))?;
    let mut daemon = Daemon::keepalived(path, &conf, &lab.dir)?;
    let quiet = installed(a, site, &mut daemon, lab, client, Duration::from_secs(1800))?;
    let parent = libc::pid_t::try_from(daemon.pid()).map_err(|e| format!("pid: {e}"))?;
    let mut runs = Vec::new();
    for i in 0..a.keepalived_runs {
        let weight = change.weight(i);
        lab::write_atomically(
            &conf,
            &change.site_with(site, weight).keepalived_conf("director_bench_p2"),
        )?;
        let before = lab::ipvsadm_save(&a.ipvsadm)?;
        let pids = tree::pids(daemon.pid());
        let (cpu0, (probes0, _)) = (tree::cpu(&pids)?, lab.listeners.sample()?);
        let start = Instant::now();
        // SAFETY: kill(2) on our own child's PID, which it keeps until we reap it.
        if unsafe { libc::kill(parent, libc::SIGHUP) } != 0 {
            return Err(format!("SIGHUP keepalived: {}", std::io::Error::last_os_error()));
        }
        let took = loop {
            if lab::kernel_weight(client, &change.key, change.rs)? == Some(weight) {
                break start.elapsed();
            }
            // keepalived re-reads the whole file in the parent and again in the checker
            // process: minutes for this site under emulation.
            if start.elapsed() > KEEPALIVED_RELOAD_TIMEOUT {
                return Err(format!(
                    "keepalived run {i}: weight {weight} not in the kernel after \
                     {KEEPALIVED_RELOAD_TIMEOUT:?}; its log ends:\n{}",
                    daemon.log_tail(20)
                ));
            }
            daemon.alive()?;
            // About 1% resolution, without the polling taking a vCPU from keepalived.
            let pause =
                (start.elapsed() / 100).clamp(Duration::from_millis(1), Duration::from_millis(50));
            std::thread::sleep(pause);
        };
        std::thread::sleep(a.settle.saturating_sub(start.elapsed()));
        // Its children may have been re-forked by the reload: the tree as it is now.
        let cpu = tree::cpu(&pids).or_else(|_| tree::cpu(&tree::pids(daemon.pid())))? - cpu0;
        let probes = lab.listeners.sample()?.0 - probes0;
        let window = start.elapsed();
        daemon.alive()?;
        let entries = lab::entries(client)?;
        if entries != site.entries() {
            return Err(format!(
                "keepalived run {i}: {entries} entries after the reload, want {}",
                site.entries()
            ));
        }
        let after = lab::ipvsadm_save(&a.ipvsadm)?;
        lab::exactly_one_line_changed(&before, &after, change.rs, weight)
            .map_err(|e| format!("keepalived run {i}: {e}"))?;
        let reload = Reload { took, cpu, probes, window, ..Reload::default() };
        report::run("keepalived", i, &reload);
        runs.push(reload);
    }
    let stopped = daemon.stop(client)?;
    println!("  keepalived stopped (SIGTERM) in {:.1} s", stopped.as_secs_f64());
    Ok((quiet, runs))
}

/// The operator without a daemon: the whole table again, and the one hand-written edit.
pub struct Operator {
    pub restore: Vec<Duration>,
    pub edit: Vec<Duration>,
}

fn ipvsadm(
    a: &Args,
    site: &Site,
    change: &Change,
    lab: &Lab,
    client: &mut Client,
) -> Result<Operator, String> {
    let mut op = Operator { restore: Vec::new(), edit: Vec::new() };
    for i in 0..a.ipvsadm_runs {
        let weight = change.weight(i);
        let changed = change.site_with(site, weight);
        let table = ipvs::Table {
            services: (0..changed.services.len()).map(|s| changed.table_service(s)).collect(),
        };
        let file = lab.path("table.sav");
        std::fs::write(&file, ipvs::text::save::render(&table))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let start = Instant::now();
        run_ipvsadm(&a.ipvsadm, &["-C"], None)?;
        run_ipvsadm(&a.ipvsadm, &["-R"], Some(&file))?;
        op.restore.push(start.elapsed());
        if lab::entries(client)? != site.entries()
            || lab::kernel_weight(client, &change.key, change.rs)? != Some(weight)
        {
            return Err("ipvsadm -R did not install the table".into());
        }
    }
    // The edits need the table the restores left.
    let edits = if a.ipvsadm_runs > 0 { a.runs } else { 0 };
    for i in 0..edits {
        let weight = change.weight(i + a.ipvsadm_runs);
        let (vip, rs, w) = (
            site.services[change.service].addr.to_string(),
            change.rs.to_string(),
            weight.to_string(),
        );
        let start = Instant::now();
        run_ipvsadm(&a.ipvsadm, &["-e", "-t", &vip, "-r", &rs, "-m", "-w", &w], None)?;
        op.edit.push(start.elapsed());
        if lab::kernel_weight(client, &change.key, change.rs)? != Some(weight) {
            return Err("ipvsadm -e did not change the weight".into());
        }
    }
    client.flush().map_err(|e| format!("flush: {e}"))?;
    Ok(op)
}

fn run_ipvsadm(
    ipvsadm: &str,
    args: &[&str],
    stdin: Option<&std::path::Path>,
) -> Result<(), String> {
    let mut c = Command::new(ipvsadm);
    c.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    c.stdin(match stdin {
        Some(f) => {
            Stdio::from(std::fs::File::open(f).map_err(|e| format!("{}: {e}", f.display()))?)
        }
        None => Stdio::null(),
    });
    let out = c.output().map_err(|e| format!("{ipvsadm}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{ipvsadm} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_changes_the_weight() {
        let site =
            Site::new(10, 30, Args::from_args(std::iter::empty()).expect("defaults").check())
                .expect("fits");
        let c = Change::new(&site);
        assert_eq!(c.service, 5);
        let weights: Vec<u32> = (0..4).map(|i| c.weight(i)).collect();
        assert!(weights.windows(2).all(|w| w[0] != w[1]), "{weights:?}");
        assert_eq!(c.site_with(&site, c.weight(1)), site);
    }

    #[test]
    fn reads_the_daemons_answer_and_refuses_failures() {
        let ok = r#"{"reloaded":"/tmp/x.yaml","changed":true,"duration_ms":12.5,"load_ms":80.25,"ipvs_ops":1,"ipvs_failed":[]}"#;
        let r = parse_answer(ok).expect("valid");
        assert_eq!((r.daemon_ms, r.load_ms, r.ipvs_ops), (Some(12.5), Some(80.25), Some(1)));
        assert!(parse_answer(&ok.replace("[]", r#"["-e 198.51.100.1:8000: EINVAL"]"#)).is_err());
        assert!(parse_answer(&ok.replace("true", "false")).is_err());
        assert!(parse_answer("error: no daemon").is_err());
    }
}
