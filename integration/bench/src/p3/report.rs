//! P3's printed result, and the checks that a run measured what it claims.

use std::time::Duration;

use super::keepalived::Anchor;
use super::{Args, Flavour, Measured};

/// The goals from the issue, for this many checks.
const GOAL_CHECKS: u32 = 10_000;
const CPU_GOAL_PERCENT: f64 = 10.0;
const P99_GOAL: Duration = Duration::from_millis(50);

pub fn header(a: &Args) {
    let l = a.layout;
    println!(
        "P3: {} TCP checks (delay_loop 1 s, connect_timeout 1 s, retry 1) against listeners on \
         {} addresses in 127.1.0.0/16 x {} ports (own process); {} s window after {} s warm-up",
        l.checks,
        l.addresses(),
        l.ports_per_address,
        a.seconds.as_secs(),
        a.warmup.as_secs()
    );
    println!(
        "  {:<28} {:>7} {:>7} {:>8} {:>8} {:>9} {:>9} {:>10} {:>9}   lateness p50 / p99 / max",
        "checker",
        "CPU %",
        "(sys)",
        "RSS MiB",
        "peak MiB",
        "probes/s",
        "accepts/s",
        "CPU/probe",
        "listen %"
    );
}

/// Fails loudly unless every check was probed about once a second (`low` and
/// `high`: the fractions of checks × seconds allowed), the listeners saw those
/// probes, and nothing failed: a run that measured nothing is worthless.
pub fn sane(who: &str, m: &Measured, a: &Args, (low, high): (f64, f64)) -> Result<(), String> {
    let want = f64::from(a.layout.checks) * m.wall.as_secs_f64();
    let outside = |n: u64| !(low..=high).contains(&(n as f64 / want));
    if outside(m.probes) || outside(m.accepted) {
        return Err(format!(
            "{who}: {} probes and {} connections accepted in {:.1} s, want {want:.0} \
             ({:.0}% to {:.0}% of that)",
            m.probes,
            m.accepted,
            m.wall.as_secs_f64(),
            low * 100.0,
            high * 100.0,
        ));
    }
    if m.failures > 0 || m.not_up > 0 {
        return Err(format!(
            "{who}: {} failed probes, {} checks not up: the listeners did not keep up",
            m.failures, m.not_up
        ));
    }
    Ok(())
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

pub fn row(label: &str, m: &Measured) {
    let per_probe = m.cpu.as_secs_f64() * 1e6 / m.probes.max(1) as f64;
    let lateness = match m.lateness {
        Some([p50, p99, max]) => format!("{} / {} / {} ms", ms(p50), ms(p99), ms(max)),
        None => "not reported".into(),
    };
    println!(
        "  {label:<28} {:>6.2}% {:>6.2}% {:>8.1} {:>8.1} {:>9.0} {:>9.0} {:>8.1}µs {:>8.1}%   {lateness}",
        m.cpu_percent(),
        m.system_percent(),
        mib(m.rss_kib),
        mib(m.peak_kib),
        m.rate(m.probes),
        m.rate(m.accepted),
        per_probe,
        100.0 * m.listener_cpu.as_secs_f64() / m.wall.as_secs_f64(),
    );
}

pub fn summary(a: &Args, ours: &[(Flavour, Measured)], anchor: Option<&Anchor>) {
    let Some((flavour, headline)) =
        ours.iter().find(|(f, _)| *f == Flavour::MultiThread).or(ours.first())
    else {
        return;
    };
    match anchor {
        Some(Anchor::Measured { measured: k, .. }) => {
            let per_probe = |m: &Measured| m.cpu.as_secs_f64() / m.probes.max(1) as f64;
            for (which, m) in ours {
                println!(
                    "  ratio ours ({}) / keepalived: CPU {:.2}, CPU per probe {:.2}, RSS {:.2}",
                    which.name(),
                    m.cpu_percent() / k.cpu_percent(),
                    per_probe(m) / per_probe(k),
                    m.rss_kib as f64 / k.rss_kib as f64,
                );
            }
        }
        Some(Anchor::Unavailable { version, why }) => {
            println!("  anchor: no figure, {version}'s checker cannot run on this host:");
            for line in why.lines() {
                println!("    | {line}");
            }
        }
        None => println!("  anchor: skipped (--keepalived none)"),
    }
    if a.layout.checks != GOAL_CHECKS {
        println!("  goals: they are for {GOAL_CHECKS} checks on the host; not judged here");
        return;
    }
    let cpu = headline.cpu_percent();
    let p99 = headline.lateness.map_or(Duration::MAX, |[_, p99, _]| p99);
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    println!(
        "  goals, ours ({}): CPU {cpu:.2}% < {CPU_GOAL_PERCENT}% of one core: {}; \
         p99 lateness {} ms < {} ms: {}",
        flavour.name(),
        verdict(cpu < CPU_GOAL_PERCENT),
        ms(p99),
        P99_GOAL.as_millis(),
        verdict(p99 < P99_GOAL),
    );
}
