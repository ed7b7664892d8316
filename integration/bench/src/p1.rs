//! P1 (run inside the VM, as root): cold apply of a large table in `ipvsadm -Sn` format,
//! `directorctl ipvs restore` against `ipvsadm -R` on the same file, interleaved runs,
//! medians and their ratio; then a restore that changes one destination, with its op count.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ipvs::text::save;
use ipvs::{
    Destination, Forwarding, Protocol, Scheduler, Service, ServiceKey, Table, TableService,
};

struct Args {
    services: u32,
    dests: u32,
    runs: usize,
    directorctl: String,
    ipvsadm: String,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        services: 1000,
        dests: 10,
        runs: 5,
        directorctl: "directorctl".into(),
        ipvsadm: "ipvsadm".into(),
    };
    for (flag, value) in crate::flag_pairs(args)? {
        match flag.as_str() {
            "--services" => a.services = crate::number(&flag, &value)?,
            "--dests" => a.dests = crate::number(&flag, &value)?,
            "--runs" => a.runs = crate::number(&flag, &value)?,
            "--directorctl" => a.directorctl = value,
            "--ipvsadm" => a.ipvsadm = value,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(a)
}

/// `services` TCP services on 203.0.113.0/24 ports, each with `dests` NAT real servers.
fn table(services: u32, dests: u32) -> Table {
    let mut t = Table::default();
    for s in 0..services {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1 + (s / 10_000) as u8)),
            port: 10_000 + (s % 10_000) as u16,
        };
        let mut service = Service::new(key);
        service.scheduler = Scheduler::Wrr;
        let destinations = (0..dests)
            .map(|d| {
                let ip = Ipv4Addr::new(198, 51, 100, 1 + (d % 250) as u8);
                let mut dest = Destination::new(IpAddr::V4(ip), 8000 + (d / 250) as u16);
                dest.forwarding = Forwarding::Masq;
                dest.weight = 1 + d % 5;
                dest
            })
            .collect();
        t.services.push(TableService { service, destinations });
    }
    t
}

fn run(cmd: &str, args: &[&str], stdin_file: Option<&str>) -> Result<(Duration, String), String> {
    let mut c = Command::new(cmd);
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(f) = stdin_file {
        c.stdin(fs::File::open(f).map_err(|e| format!("{f}: {e}"))?);
    }
    let start = Instant::now();
    let out = c.output().map_err(|e| format!("{cmd}: {e}"))?;
    let took = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{cmd} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((
        took,
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    ))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// `director-bench p1 [--services N] [--dests N] [--runs N] [--directorctl PATH] [--ipvsadm PATH]`
pub fn main(args: impl Iterator<Item = String>) -> Result<(), String> {
    p1(&parse_args(args)?)
}

fn p1(a: &Args) -> Result<(), String> {
    let t = table(a.services, a.dests);
    let file = "/tmp/p1.sav";
    fs::write(file, save::render(&t)).map_err(|e| format!("{file}: {e}"))?;
    let entries = a.services * (a.dests + 1);
    println!(
        "P1: cold apply of {} services x {} destinations ({entries} entries)",
        a.services, a.dests
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut last_report = String::new();
    for i in 0..a.runs {
        // Interleave, alternating who goes first, so drift in the emulator hits both.
        for who in if i % 2 == 0 { [0, 1] } else { [1, 0] } {
            run(&a.ipvsadm, &["-C"], None)?;
            if who == 0 {
                theirs.push(run(&a.ipvsadm, &["-R"], Some(file))?.0);
            } else {
                let (took, report) = run(&a.directorctl, &["ipvs", "restore", "-v"], Some(file))?;
                ours.push(took);
                last_report = report;
            }
            let (_, saved) = run(&a.ipvsadm, &["-Sn"], None)?;
            let lines = saved.lines().count() as u32;
            if lines != entries {
                return Err(format!(
                    "after run {i}: ipvsadm -Sn shows {lines} lines, want {entries}"
                ));
            }
        }
    }
    let (mo, mt) = (median(ours.clone()), median(theirs.clone()));
    println!("  ipvsadm -R                 median {} (runs: {})", ms(mt), list(&theirs));
    println!("  directorctl ipvs restore   median {} (runs: {})", ms(mo), list(&ours));
    println!("  last directorctl run: {}", last_report.trim());
    println!(
        "  ratio directorctl/ipvsadm  {:.3} (goal <= 0.5)",
        mo.as_secs_f64() / mt.as_secs_f64()
    );

    // One destination changes: exactly one netlink op.
    let mut changed = t.clone();
    changed.services[a.services as usize / 2].destinations[0].weight += 10;
    let file2 = "/tmp/p1-one-change.sav";
    fs::write(file2, save::render(&changed)).map_err(|e| format!("{file2}: {e}"))?;
    let mut one = Vec::new();
    let mut report = String::new();
    for i in 0..a.runs {
        let src = if i % 2 == 0 { file2 } else { file };
        let (d, out) = run(&a.directorctl, &["ipvs", "restore", "--verbose"], Some(src))?;
        one.push(d);
        report = out;
    }
    let (dump, _) = run(&a.directorctl, &["ipvs", "save"], None)?;
    let (ipvsadm_dump, _) = run(&a.ipvsadm, &["-Sn"], None)?;
    println!(
        "P1b: restore changing one destination: median {} ({})",
        ms(median(one)),
        report.trim()
    );
    println!(
        "  reading the table back: directorctl ipvs save {}, ipvsadm -Sn {}",
        ms(dump),
        ms(ipvsadm_dump)
    );
    run(&a.ipvsadm, &["-C"], None)?;
    Ok(())
}

fn list(v: &[Duration]) -> String {
    v.iter().map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0)).collect::<Vec<_>>().join(", ")
}
