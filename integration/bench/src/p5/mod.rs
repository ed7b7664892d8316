//! P5 (inside the VM, as root): the daemon's footprint with 1,000 virtual servers × 10
//! real servers, every real server tcp-checked against local listeners: steady-state
//! memory (VmRSS, VmHWM, PSS) and CPU over a window, directord against keepalived on the
//! equivalent keepalived.conf in the same VM, one after the other on the same listeners.
//!
//! The whole process tree is measured (keepalived: parent, checker and any VRRP child;
//! CPU includes reaped children), and the listeners' accept count says how many probes
//! each daemon really made in the window.

pub mod tree;

use std::time::{Duration, Instant};

use ipvs::Client;

use crate::p2::lab::{self, Daemon, Lab};
use crate::p2::site::{Check, Site};

struct Args {
    services: u32,
    dests: u32,
    delay_loop: u32,
    seconds: Duration,
    /// After the table is in, before the window: longer than delay_loop, so every check
    /// is on its steady cycle.
    warmup: Option<Duration>,
    directord: Option<String>,
    keepalived: Option<String>,
}

impl Args {
    fn from_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut a = Args {
            services: 1_000,
            dests: 10,
            delay_loop: 6,
            seconds: Duration::from_secs(60),
            warmup: None,
            directord: Some("directord".into()),
            keepalived: Some("keepalived".into()),
        };
        for (flag, value) in crate::flag_pairs(args)? {
            match flag.as_str() {
                "--services" => a.services = crate::number(&flag, &value)?,
                "--dests" => a.dests = crate::number(&flag, &value)?,
                "--delay-loop" => a.delay_loop = crate::number(&flag, &value)?,
                "--seconds" => a.seconds = Duration::from_secs(crate::number(&flag, &value)?),
                "--warmup" => a.warmup = Some(Duration::from_secs(crate::number(&flag, &value)?)),
                "--directord" => a.directord = (value != "none").then_some(value),
                "--keepalived" => a.keepalived = (value != "none").then_some(value),
                other => return Err(format!("unknown option {other}")),
            }
        }
        if a.services == 0 || a.dests == 0 || a.delay_loop == 0 || a.seconds.is_zero() {
            return Err("--services, --dests, --delay-loop and --seconds must be positive".into());
        }
        Ok(a)
    }

    fn warmup(&self) -> Duration {
        self.warmup.unwrap_or(Duration::from_secs(u64::from(self.delay_loop) + 5))
    }
}

/// One daemon over the window.
#[derive(Debug, Clone)]
struct Footprint {
    who: String,
    processes: usize,
    wall: Duration,
    cpu: Duration,
    memory: tree::Memory,
    /// Connections the listeners accepted in the window: the daemon's probes.
    accepted: u64,
    listener_cpu: Duration,
    /// From start until the whole table was in the kernel.
    installed: Duration,
}

impl Footprint {
    fn cpu_percent(&self) -> f64 {
        100.0 * self.cpu.as_secs_f64() / self.wall.as_secs_f64()
    }

    fn probes_per_second(&self) -> f64 {
        self.accepted as f64 / self.wall.as_secs_f64()
    }

    fn cpu_per_probe(&self) -> Duration {
        self.cpu.div_f64(self.accepted.max(1) as f64)
    }
}

/// `director-bench p5 ...`: see [`Args::from_args`] for the options.
pub fn main(args: impl Iterator<Item = String>) -> Result<(), String> {
    let a = Args::from_args(args)?;
    let check = Check {
        delay_loop: a.delay_loop,
        connect_timeout: 3,
        retry: 1,
        delay_before_retry: 1,
        warmup: None,
    };
    let site = Site::new(a.services, a.services * a.dests, check)?;
    println!(
        "P5: footprint with {} virtual servers x {} real servers ({} tcp checks every {} s \
         against listeners on {} local ports), {} s window after {} s warm-up",
        a.services,
        a.dests,
        site.real_server_count(),
        a.delay_loop,
        site.rs_ports(),
        a.seconds.as_secs(),
        a.warmup().as_secs()
    );
    let mut lab = Lab::start(&site, "/tmp/director-bench-p5")?;
    let mut client = Client::connect().map_err(|e| format!("IPVS netlink: {e}"))?;
    client.flush().map_err(|e| format!("flush: {e}"))?;
    let mut results = Vec::new();
    if let Some(path) = &a.directord {
        let (conf, socket) = (lab.path("director.yaml"), lab.path("director.sock"));
        lab::write_atomically(&conf, &site.yaml("director_bench_p5"))?;
        let daemon = Daemon::directord(path, &conf, &socket, lab.path("directord.log"))?;
        results.push(measure(&a, &site, daemon, &mut lab, &mut client)?);
    }
    if let Some(path) = &a.keepalived {
        let conf = lab.path("keepalived.conf");
        lab::write_atomically(&conf, &site.keepalived_conf("director_bench_p5"))?;
        let daemon = Daemon::keepalived(path, &conf, &lab.dir)?;
        results.push(measure(&a, &site, daemon, &mut lab, &mut client)?);
    }
    report(&a, &site, &results);
    Ok(())
}

fn measure(
    a: &Args,
    site: &Site,
    mut daemon: Daemon,
    lab: &mut Lab,
    client: &mut Client,
) -> Result<Footprint, String> {
    let installed = daemon.wait_for_entries(client, site.entries(), Duration::from_secs(900))?;
    std::thread::sleep(a.warmup());
    let pids = tree::pids(daemon.pid());
    let (listen0, cpu0, start) = (lab.listeners.sample()?, tree::cpu(&pids)?, Instant::now());
    std::thread::sleep(a.seconds);
    let (listen1, cpu1, wall) = (lab.listeners.sample()?, tree::cpu(&pids)?, start.elapsed());
    let memory = tree::memory(&pids)?;
    daemon.alive()?;
    let now = tree::pids(daemon.pid());
    if now != pids {
        return Err(format!(
            "{}: processes {pids:?} became {now:?} during the window",
            daemon.name
        ));
    }
    // Every check passed throughout: a failing one would have taken its server out.
    let entries = lab::entries(client)?;
    if entries != site.entries() {
        return Err(format!(
            "{}: {entries} IPVS entries after the window, want {} (checks failing?); log ends:\n{}",
            daemon.name,
            site.entries(),
            daemon.log_tail(20)
        ));
    }
    let who = daemon.name.clone();
    let stopped = daemon.stop(client)?;
    println!(
        "  {who}: table in {:.1} s, stopped in {:.1} s",
        installed.as_secs_f64(),
        stopped.as_secs_f64()
    );
    let f = Footprint {
        who,
        processes: pids.len(),
        wall,
        cpu: cpu1 - cpu0,
        memory,
        accepted: listen1.0 - listen0.0,
        listener_cpu: listen1.1 - listen0.1,
        installed,
    };
    // A window without the probes it should hold measured an idle daemon, not this one.
    let want = site.real_server_count() as f64 / f64::from(a.delay_loop);
    let ratio = f.probes_per_second() / want;
    if !(0.5..=1.1).contains(&ratio) {
        return Err(format!(
            "{}: {:.0} probes/s, want about {want:.0} (checks x 1/delay_loop)",
            f.who,
            f.probes_per_second()
        ));
    }
    Ok(f)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn report(a: &Args, site: &Site, results: &[Footprint]) {
    println!(
        "  {:<12} {:>5} {:>7} {:>9} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "daemon",
        "procs",
        "CPU %",
        "probes/s",
        "CPU/probe",
        "RSS MiB",
        "HWM MiB",
        "PSS MiB",
        "listen %",
        "table s"
    );
    for f in results {
        println!(
            "  {:<12} {:>5} {:>7.2} {:>9.0} {:>8.0}µs {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>9.1}",
            f.who,
            f.processes,
            f.cpu_percent(),
            f.probes_per_second(),
            f.cpu_per_probe().as_secs_f64() * 1e6,
            mib(f.memory.rss),
            mib(f.memory.hwm),
            mib(f.memory.pss),
            100.0 * f.listener_cpu.as_secs_f64() / f.wall.as_secs_f64(),
            f.installed.as_secs_f64()
        );
    }
    if let [ours, theirs] = results {
        let r = |x: f64, y: f64| if y > 0.0 { format!("{:.2}", x / y) } else { "-".into() };
        println!(
            "  ratio directord / keepalived: CPU {} , CPU per probe {}, RSS {}, HWM {}, PSS {} \
             ({} checks, delay_loop {} s)",
            r(ours.cpu_percent(), theirs.cpu_percent()),
            r(ours.cpu_per_probe().as_secs_f64(), theirs.cpu_per_probe().as_secs_f64()),
            r(ours.memory.rss as f64, theirs.memory.rss as f64),
            r(ours.memory.hwm as f64, theirs.memory.hwm as f64),
            r(ours.memory.pss as f64, theirs.memory.pss as f64),
            site.real_server_count(),
            a.delay_loop
        );
    }
}
