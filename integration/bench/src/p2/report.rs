//! P2's printed result: every run, medians with their spread, and the ratios.

use std::time::Duration;

use super::site::Site;
use super::{Args, Change, Idle, Operator, Reload};

const GOAL: Duration = Duration::from_millis(200);

pub fn header(a: &Args, site: &Site, change: &Change) {
    println!(
        "P2: reload of {} virtual servers / {} real servers ({} IPVS entries; tcp checks every \
         {} s, first probes spread over {} s, against local listeners), one weight changed per \
         run ({} of {}: {} <-> {}); {} runs",
        site.services.len(),
        site.real_server_count(),
        site.entries(),
        a.delay_loop,
        a.warmup,
        change.rs,
        site.services[change.service].addr,
        change.weight(1),
        change.weight(0),
        a.runs
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median, min and max.
pub fn spread(v: &[Duration]) -> (Duration, Duration, Duration) {
    let mut s = v.to_vec();
    s.sort();
    (s[s.len() / 2], s[0], s[s.len() - 1])
}

fn list(v: &[Duration]) -> String {
    v.iter().map(|d| format!("{:.0}", ms(*d))).collect::<Vec<_>>().join(", ")
}

/// One run as it ends (keepalived's take minutes under emulation).
pub fn run(who: &str, i: usize, r: &Reload) {
    let ours = match (r.daemon_ms, r.load_ms, r.ipvs_ops) {
        (Some(d), Some(l), Some(n)) => format!(", daemon {d:.1} ms (load {l:.1} ms), {n} op(s)"),
        _ => String::new(),
    };
    println!(
        "    {who} run {i}: {:.1} ms{ours}; CPU {:.0} ms and {} probes in {:.1} s",
        ms(r.took),
        ms(r.cpu),
        r.probes,
        r.window.as_secs_f64()
    );
}

/// CPU above what the daemon uses idle, over a reload's window.
fn extra_cpu(idle: Idle, r: &Reload) -> Duration {
    let rate = idle.cpu.as_secs_f64() / idle.wall.as_secs_f64().max(1e-3);
    Duration::from_secs_f64((r.cpu.as_secs_f64() - rate * r.window.as_secs_f64()).max(0.0))
}

pub fn runs(who: &str, idle: Idle, runs: &[Reload]) {
    let took: Vec<Duration> = runs.iter().map(|r| r.took).collect();
    let (med, min, max) = spread(&took);
    println!(
        "  {who:<24} median {:.1} ms (min {:.1}, max {:.1}; runs: {})",
        ms(med),
        ms(min),
        ms(max),
        list(&took),
    );
    let cpu: Vec<Duration> = runs.iter().map(|r| r.cpu).collect();
    let probes: Vec<String> = runs.iter().map(|r| r.probes.to_string()).collect();
    println!(
        "    idle: CPU {:.1}% of one core, {:.0} probes/s; reload windows ({:.1} s from the \
         request): CPU {} ms (above idle, median {:.0} ms), probes {}",
        100.0 * idle.cpu.as_secs_f64() / idle.wall.as_secs_f64(),
        idle.probes as f64 / idle.wall.as_secs_f64(),
        spread(&runs.iter().map(|r| r.window).collect::<Vec<_>>()).0.as_secs_f64(),
        list(&cpu),
        ms(spread(&runs.iter().map(|r| extra_cpu(idle, r)).collect::<Vec<_>>()).0),
        probes.join(", "),
    );
    if runs.iter().any(|r| r.daemon_ms.is_some()) {
        let field = |f: fn(&Reload) -> Option<f64>| {
            runs.iter()
                .map(|r| f(r).map_or("-".into(), |v| format!("{v:.1}")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ops: Vec<String> =
            runs.iter().map(|r| r.ipvs_ops.map_or("-".into(), |n| n.to_string())).collect();
        println!("    daemon's duration_ms: {}", field(|r| r.daemon_ms));
        println!("    daemon's load_ms:     {}", field(|r| r.load_ms));
        println!("    daemon's ipvs_ops:    {} (goal exactly 1)", ops.join(", "));
    }
}

pub fn summary(
    ours: Option<(Idle, &[Reload])>,
    keepalived: Option<(Idle, &[Reload])>,
    op: &Operator,
) {
    let median = |runs: &[Reload]| spread(&runs.iter().map(|r| r.took).collect::<Vec<_>>()).0;
    for (label, times) in
        [("ipvsadm -C + ipvsadm -R", &op.restore), ("ipvsadm -e (by hand)", &op.edit)]
    {
        if !times.is_empty() {
            let (med, min, max) = spread(times);
            println!(
                "  {label:<24} median {:.1} ms (min {:.1}, max {:.1}; runs: {})",
                ms(med),
                ms(min),
                ms(max),
                list(times)
            );
        }
    }
    let Some((ours_idle, ours)) = ours else { return };
    let m = median(ours);
    let ops_ok = ours.iter().all(|r| r.ipvs_ops == Some(1));
    println!(
        "  directord: median {:.1} ms (goal < {} ms: {}), IPVS operations {} (goal exactly 1: {})",
        ms(m),
        GOAL.as_millis(),
        if m < GOAL { "met" } else { "missed" },
        ours.iter()
            .map(|r| r.ipvs_ops.map_or("-".into(), |n| n.to_string()))
            .collect::<Vec<_>>()
            .join("/"),
        if ops_ok { "met" } else { "missed" }
    );
    if let Some((k_idle, k)) = keepalived {
        let km = median(k);
        let cpu = |idle: Idle, runs: &[Reload]| {
            spread(&runs.iter().map(|r| extra_cpu(idle, r)).collect::<Vec<_>>()).0.as_secs_f64()
        };
        println!(
            "  ratio directorctl reload / keepalived SIGHUP: {:.3} (CPU above idle per reload {:.3})",
            m.as_secs_f64() / km.as_secs_f64(),
            cpu(ours_idle, ours) / cpu(k_idle, k).max(1e-3)
        );
    }
    if !op.restore.is_empty() {
        println!(
            "  ratio directorctl reload / (ipvsadm -C + -R): {:.3}",
            m.as_secs_f64() / spread(&op.restore).0.as_secs_f64()
        );
    }
    if !op.edit.is_empty() {
        println!(
            "  ratio directorctl reload / ipvsadm -e: {:.1}",
            m.as_secs_f64() / spread(&op.edit).0.as_secs_f64()
        );
    }
}
