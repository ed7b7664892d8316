//! P3 (on the host, no IPVS needed): 10,000 TCP checks at delay_loop 1 s against
//! loopback listeners: CPU % of one core, memory, and how late probes start
//! against their schedule; keepalived's checker on the same listeners as anchor.
//!
//! Processes: this one (the conductor, idle while measuring), `p3-listen` (all the
//! listeners), then one `p3-run` per tokio runtime flavour, then keepalived. Each
//! checker runs alone against the same listeners, in its own process, so its CPU
//! and memory are its own.

pub mod child;
pub mod keepalived;
pub mod listen;
pub mod ours;
mod report;
pub mod sys;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use child::{Listeners, OurRun};

/// First port of each listening address.
const BASE_PORT: u16 = 20_000;

/// Where the checks go: `checks` targets, `ports_per_address` ports on each of
/// 127.1.0.1, 127.1.0.2, ... (250 per /24, so no .0 or .255).
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub checks: u32,
    pub ports_per_address: u16,
}

impl Layout {
    pub fn addresses(&self) -> u32 {
        self.checks.div_ceil(u32::from(self.ports_per_address))
    }

    pub fn targets(&self) -> Vec<SocketAddr> {
        let per = u32::from(self.ports_per_address);
        (0..self.checks)
            .map(|i| {
                let host = i / per;
                let ip = Ipv4Addr::new(127, 1, (host / 250) as u8, 1 + (host % 250) as u8);
                SocketAddr::V4(SocketAddrV4::new(ip, BASE_PORT + (i % per) as u16))
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    CurrentThread,
    MultiThread,
}

impl Flavour {
    pub fn name(self) -> &'static str {
        match self {
            Flavour::CurrentThread => "current_thread",
            Flavour::MultiThread => "multi_thread",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Args {
    pub layout: Layout,
    pub seconds: Duration,
    /// Not measured at the start: the first interval, while first probes spread.
    pub warmup: Duration,
    pub flavours: Vec<Flavour>,
    /// keepalived binary for the anchor; `None` skips it.
    pub keepalived: Option<String>,
}

impl Args {
    pub fn from_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut a = Args {
            layout: Layout { checks: 10_000, ports_per_address: 4 },
            seconds: Duration::from_secs(60),
            warmup: Duration::from_secs(2),
            // multi_thread first: it is what directord will run (tokio's default).
            flavours: vec![Flavour::MultiThread, Flavour::CurrentThread],
            keepalived: Some("keepalived".into()),
        };
        for (flag, value) in crate::flag_pairs(args)? {
            match flag.as_str() {
                "--checks" => a.layout.checks = crate::number(&flag, &value)?,
                "--ports-per-address" => a.layout.ports_per_address = crate::number(&flag, &value)?,
                "--seconds" => a.seconds = Duration::from_secs(crate::number(&flag, &value)?),
                "--warmup" => a.warmup = Duration::from_secs(crate::number(&flag, &value)?),
                "--runtime" => {
                    a.flavours = match value.as_str() {
                        "multi_thread" => vec![Flavour::MultiThread],
                        "current_thread" => vec![Flavour::CurrentThread],
                        "both" => vec![Flavour::MultiThread, Flavour::CurrentThread],
                        _ => {
                            return Err(format!(
                                "--runtime {value}: want multi_thread, current_thread or both"
                            ))
                        }
                    }
                }
                "--keepalived" => a.keepalived = (value != "none").then_some(value),
                other => return Err(format!("unknown option {other}")),
            }
        }
        let l = a.layout;
        if l.checks == 0 || l.ports_per_address == 0 || a.seconds.is_zero() {
            return Err("--checks, --ports-per-address and --seconds must be positive".into());
        }
        if l.addresses() > 250 * 256
            || u32::from(BASE_PORT) + u32::from(l.ports_per_address) > 65_535
        {
            return Err(format!(
                "{} checks over {} ports each do not fit 127.1.0.0/16",
                l.checks, l.ports_per_address
            ));
        }
        Ok(a)
    }

    /// The arguments that make a child see the same layout and window.
    fn for_child(&self, flavour: Flavour) -> Vec<String> {
        let secs = |d: Duration| d.as_secs().to_string();
        [
            ("--checks", self.layout.checks.to_string()),
            ("--ports-per-address", self.layout.ports_per_address.to_string()),
            ("--seconds", secs(self.seconds)),
            ("--warmup", secs(self.warmup)),
            ("--runtime", flavour.name().to_string()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }
}

/// One checker over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    pub wall: Duration,
    /// User + system CPU of the checker process over the window.
    pub cpu: Duration,
    /// The system (kernel) part of `cpu`: on loopback that includes both ends of
    /// each probe's TCP handshake, run in the caller's connect().
    pub cpu_system: Duration,
    pub rss_kib: u64,
    pub peak_kib: u64,
    /// Probes started in the window, by the checker's own count (keepalived keeps
    /// none: there it is the listeners' count).
    pub probes: u64,
    /// Connections the listeners accepted in the window.
    pub accepted: u64,
    /// The listeners' CPU over the window (not the checker's: the machine's load).
    pub listener_cpu: Duration,
    /// p50, p99, max of how late probes started (keepalived does not tell).
    pub lateness: Option<[Duration; 3]>,
    pub failures: u64,
    /// Checks not UP at the end, plus DOWN transitions seen.
    pub not_up: u64,
}

impl Measured {
    pub fn cpu_percent(&self) -> f64 {
        100.0 * self.cpu.as_secs_f64() / self.wall.as_secs_f64()
    }

    pub fn system_percent(&self) -> f64 {
        100.0 * self.cpu_system.as_secs_f64() / self.wall.as_secs_f64()
    }

    pub fn rate(&self, n: u64) -> f64 {
        n as f64 / self.wall.as_secs_f64()
    }

    /// `key=value` pairs, for the child-to-parent line.
    pub fn to_line(&self) -> String {
        let us = |d: Duration| d.as_micros().to_string();
        let mut f = vec![
            ("wall_us", us(self.wall)),
            ("cpu_us", us(self.cpu)),
            ("cpu_system_us", us(self.cpu_system)),
            ("rss_kib", self.rss_kib.to_string()),
            ("peak_kib", self.peak_kib.to_string()),
            ("probes", self.probes.to_string()),
            ("failures", self.failures.to_string()),
            ("not_up", self.not_up.to_string()),
        ];
        if let Some([p50, p99, max]) = self.lateness {
            f.extend([("p50_us", us(p50)), ("p99_us", us(p99)), ("max_us", us(max))]);
        }
        f.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }

    pub fn from_line(line: &str) -> Result<Measured, String> {
        let fields: HashMap<&str, u64> = line
            .split_whitespace()
            .map(|kv| {
                let (k, v) = kv.split_once('=').ok_or(format!("bad field {kv:?}"))?;
                Ok((k, v.parse().map_err(|e| format!("{kv}: {e}"))?))
            })
            .collect::<Result<_, String>>()?;
        let get = |k: &str| fields.get(k).copied().ok_or(format!("no {k} in {line:?}"));
        let us = |k: &str| get(k).map(Duration::from_micros);
        let lateness = match (us("p50_us"), us("p99_us"), us("max_us")) {
            (Ok(a), Ok(b), Ok(c)) => Some([a, b, c]),
            _ => None,
        };
        Ok(Measured {
            wall: us("wall_us")?,
            cpu: us("cpu_us")?,
            cpu_system: us("cpu_system_us")?,
            rss_kib: get("rss_kib")?,
            peak_kib: get("peak_kib")?,
            probes: get("probes")?,
            accepted: 0,
            listener_cpu: Duration::ZERO,
            lateness,
            failures: get("failures")?,
            not_up: get("not_up")?,
        })
    }
}

/// `director-bench p3 ...`: see [`Args::from_args`] for the options.
pub fn main(args: impl Iterator<Item = String>) -> Result<(), String> {
    let a = Args::from_args(args)?;
    sys::raise_nofile(u64::from(a.layout.checks) + 4096)?;
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    report::header(&a);
    let mut listeners = Listeners::start(&exe, &a)?;
    let mut ours = Vec::new();
    for &flavour in &a.flavours {
        let m = OurRun::measure(&exe, &a, flavour, &mut listeners)?;
        // On the grid: one probe per check per second, give or take the window's edges.
        report::sane(&format!("ours ({})", flavour.name()), &m, &a, (0.98, 1.02))?;
        report::row(&format!("ours, tokio {}", flavour.name()), &m);
        ours.push((flavour, m));
    }
    let anchor = match &a.keepalived {
        Some(path) => Some(keepalived::measure(path, &a, &mut listeners)?),
        None => None,
    };
    if let Some(keepalived::Anchor::Measured { version, measured }) = &anchor {
        // keepalived waits delay_loop after each check ends, so it probes less often
        // than once a second (more so when connects are slow): reported, not judged.
        report::sane("keepalived", measured, &a, (0.5, 1.02))?;
        report::row(&format!("{version} checker"), measured);
    }
    listeners.stop()?;
    report::summary(&a, &ours, anchor.as_ref());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_distinct_loopback_sockets() {
        let layout = Layout { checks: 10_000, ports_per_address: 4 };
        let targets = layout.targets();
        let distinct: std::collections::HashSet<_> = targets.iter().collect();
        assert_eq!(distinct.len(), 10_000);
        assert_eq!(layout.addresses(), 2_500);
        assert!(targets.iter().all(|t| t.ip().is_loopback() && t.port() >= BASE_PORT));
        assert_eq!(targets[0], "127.1.0.1:20000".parse().expect("literal"));
        assert_eq!(targets[9_999], "127.1.9.250:20003".parse().expect("literal"));
    }

    #[test]
    fn a_measurement_survives_the_trip_between_processes() {
        let m = Measured {
            wall: Duration::from_micros(60_000_123),
            cpu: Duration::from_micros(2_500_000),
            cpu_system: Duration::from_micros(1_500_000),
            rss_kib: 10_240,
            peak_kib: 12_000,
            probes: 600_000,
            accepted: 0,
            listener_cpu: Duration::ZERO,
            lateness: Some([1, 2, 3].map(Duration::from_micros)),
            failures: 0,
            not_up: 0,
        };
        assert_eq!(Measured::from_line(&m.to_line()), Ok(m.clone()));
        let without = Measured { lateness: None, ..m };
        assert_eq!(Measured::from_line(&without.to_line()), Ok(without));
    }

    #[test]
    fn children_see_the_same_layout_and_window() {
        let a = Args::from_args(
            ["--checks", "100", "--seconds", "5", "--keepalived", "none"]
                .map(String::from)
                .into_iter(),
        )
        .expect("valid");
        let child =
            Args::from_args(a.for_child(Flavour::CurrentThread).into_iter()).expect("valid");
        assert_eq!((child.layout.checks, child.seconds), (100, Duration::from_secs(5)));
        assert_eq!(child.flavours, vec![Flavour::CurrentThread]);
    }
}
