//! P4 (on the host, as root, no VM): VRRP failover time between two routers in
//! network namespaces on one bridge, directord against keepalived in the same lab.
//!
//! Each run starts two routers (A priority 150, B priority 100, one VIP), waits until
//! A is master and B has seen its adverts, then ends A with SIGKILL (nothing sent: B
//! waits out Master_Down_Interval = 3 x interval + skew) or SIGTERM (A sends
//! priority 0: B waits only its skew). In B's namespace a thread on an rtnetlink
//! RTMGRP_IPV4_IFADDR socket times the VIP's arrival, and a raw protocol-112 socket
//! stamps A's adverts with the kernel's receive time, so both "signal -> VIP" and
//! "A's last advert -> VIP" are measured, the latter free of when the signal landed
//! within an interval.

mod report;

use std::time::{Duration, Instant};

use testkit::addrwatch::AddrWatch;
use testkit::directord::Directord;
use testkit::keepalived::Keepalived;
use testkit::netns::{Lan, Netns};
use testkit::router::{Instance, Router, VIP};
use testkit::wire::Sniffer;

pub use report::Sample;

const PRIORITY_A: u8 = 150;
const PRIORITY_B: u8 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    Directord,
    Keepalived,
}

impl Daemon {
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Directord => "directord",
            Daemon::Keepalived => "keepalived",
        }
    }
}

/// VRRPv2 at 1 s or VRRPv3 at 50 ms, the two settings the goal names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    V2,
    V3,
}

impl Mode {
    pub fn instance(self, priority: u8) -> Instance {
        match self {
            Mode::V2 => Instance::v2(priority, 1),
            Mode::V3 => Instance::v3(priority, 50),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::V2 => "v2 1 s",
            Mode::V3 => "v3 50 ms",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Kill,
    Term,
}

impl Stop {
    fn signal(self) -> libc::c_int {
        match self {
            Stop::Kill => libc::SIGKILL,
            Stop::Term => libc::SIGTERM,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Args {
    pub runs_v2: usize,
    pub runs_v3: usize,
    pub daemons: Vec<Daemon>,
    pub modes: Vec<Mode>,
}

impl Args {
    pub fn from_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut a = Args {
            runs_v2: 7,
            runs_v3: 21,
            daemons: vec![Daemon::Directord, Daemon::Keepalived],
            modes: vec![Mode::V3, Mode::V2],
        };
        for (flag, value) in crate::flag_pairs(args)? {
            match flag.as_str() {
                "--runs" => a.runs_v2 = crate::number(&flag, &value)?,
                "--runs-v3" => a.runs_v3 = crate::number(&flag, &value)?,
                // Where the binaries are not next to this one; the fixtures read these.
                "--directord" => std::env::set_var("DIRECTORD", &value),
                "--directorctl" => std::env::set_var("DIRECTORCTL", &value),
                "--keepalived" => std::env::set_var("KEEPALIVED", &value),
                "--daemons" => {
                    a.daemons = match value.as_str() {
                        "both" => vec![Daemon::Directord, Daemon::Keepalived],
                        "directord" => vec![Daemon::Directord],
                        "keepalived" => vec![Daemon::Keepalived],
                        _ => {
                            return Err(format!(
                                "--daemons {value}: want both, directord or keepalived"
                            ))
                        }
                    }
                }
                "--modes" => {
                    a.modes = match value.as_str() {
                        "both" => vec![Mode::V3, Mode::V2],
                        "v2" => vec![Mode::V2],
                        "v3" => vec![Mode::V3],
                        _ => return Err(format!("--modes {value}: want both, v2 or v3")),
                    }
                }
                other => return Err(format!("unknown option {other}")),
            }
        }
        if a.runs_v2 == 0 || a.runs_v3 == 0 {
            return Err("--runs and --runs-v3 must be positive".into());
        }
        Ok(a)
    }

    fn runs(&self, mode: Mode) -> usize {
        match mode {
            Mode::V2 => self.runs_v2,
            Mode::V3 => self.runs_v3,
        }
    }
}

/// `director-bench p4 ...`: see [`Args::from_args`] for the options.
pub fn main(args: impl Iterator<Item = String>) -> Result<(), String> {
    let a = Args::from_args(args)?;
    if !testkit::netns::netns_available() {
        return Err("P4 needs root and iproute2 (network namespaces)".into());
    }
    report::header(&a);
    let mut rows = Vec::new();
    for &mode in &a.modes {
        for &daemon in &a.daemons {
            let lan = Lan::new("p4", 2);
            for stop in [Stop::Kill, Stop::Term] {
                let mut samples = Vec::new();
                for run in 0..a.runs(mode) {
                    let s = run_once(&lan, daemon, mode, stop)
                        .map_err(|e| format!("{} {} run {run}: {e}", daemon.name(), mode.name()))?;
                    samples.push(s);
                }
                let row = report::Row { daemon, mode, stop, samples };
                row.print();
                rows.push(row);
            }
        }
    }
    report::summary(&rows);
    Ok(())
}

/// A router under test, either daemon.
enum Peer {
    Directord(Directord),
    Keepalived(Keepalived),
}

impl Peer {
    fn start(daemon: Daemon, ns: &Netns, router: &Router) -> Result<Peer, String> {
        Ok(match daemon {
            Daemon::Directord => Peer::Directord(Directord::start(ns, router)?),
            Daemon::Keepalived => Peer::Keepalived(Keepalived::start(ns, router)?),
        })
    }

    fn kill(&mut self, signal: libc::c_int) -> Result<(), String> {
        match self {
            Peer::Directord(d) => d.kill(signal),
            Peer::Keepalived(k) => k.kill(signal),
        }
    }

    fn log(&self) -> String {
        match self {
            Peer::Directord(d) => d.log(),
            Peer::Keepalived(k) => k.log(),
        }
    }
}

fn run_once(lan: &Lan, daemon: Daemon, mode: Mode, stop: Stop) -> Result<Sample, String> {
    let (a, b) = (&lan.hosts[0], &lan.hosts[1]);
    // A SIGKILLed master keeps its VIP: each run starts from a clean interface.
    for host in [a, b] {
        if host.has_address("eth0", VIP) {
            host.run(&["ip", "addr", "del", &format!("{VIP}/24"), "dev", "eth0"]);
        }
    }
    let (inst_a, inst_b) = (mode.instance(PRIORITY_A), mode.instance(PRIORITY_B));
    let interval = inst_b.advert;
    let (watch_a, watch_b) = (AddrWatch::start(a, "eth0")?, AddrWatch::start(b, "eth0")?);
    let sniff = Sniffer::start(b, "eth0")?;
    let mut pa = Peer::start(daemon, a, &Router::new("p4a", inst_a))?;
    let pb = Peer::start(daemon, b, &Router::new("p4b", inst_b.clone()))?;
    let start = Instant::now();
    let elect = inst_b.master_down() * 3 + Duration::from_secs(2);
    if watch_a.wait_change(VIP, true, start, elect).is_none() {
        return Err(format!("A never took the VIP; A's log:\n{}", pa.log()));
    }
    // Settled: B has seen A's adverts for a while (v3 learns A's interval from them).
    std::thread::sleep((interval * 4).max(Duration::from_millis(500)));
    let a_addr = Lan::address(0);
    if watch_b.has(VIP) || sniff.from(a_addr).len() < 3 {
        return Err(format!("no steady A master before the stop; B's log:\n{}", pb.log()));
    }
    let signalled = Instant::now();
    pa.kill(stop.signal())?;
    let Some(vip) = watch_b.wait_change(VIP, true, signalled, inst_b.master_down() * 3) else {
        return Err(format!("B never took the VIP after {stop:?}; B's log:\n{}", pb.log()));
    };
    let last =
        sniff.last_from_before(a_addr, vip).ok_or("no advert from A seen before B took over")?;
    if stop == Stop::Term && last.priority() != Some(0) {
        return Err(format!(
            "A's last advert had priority {:?}, not 0; log:\n{}",
            last.priority(),
            pa.log()
        ));
    }
    // One sent just before the signal may still be on its way; later ones mean the
    // kill did not stop A.
    if stop == Stop::Kill && last.at > signalled + Duration::from_millis(5) {
        return Err("an advert from A arrived after SIGKILL".into());
    }
    // On SIGTERM A must have removed its VIP too; when, relative to B, is reported.
    let a_released = match stop {
        Stop::Term => watch_a.wait_change(VIP, false, signalled, Duration::from_secs(3)),
        Stop::Kill => None,
    };
    Ok(Sample {
        signal_to_vip: vip - signalled,
        advert_to_vip: vip.saturating_duration_since(last.at),
        a_released: a_released.map(|t| t.saturating_duration_since(signalled)),
        expected: match stop {
            Stop::Kill => inst_b.master_down(),
            Stop::Term => inst_b.skew(),
        },
    })
}
