//! The anchor: keepalived's checker process running the same 10,000 TCP_CHECKs
//! against the same listeners, measured from /proc over the same window.
//!
//! keepalived runs health checkers only for real servers of virtual servers, and its
//! checker process refuses to start when it cannot open IPVS; where the kernel has
//! no IPVS that is reported (with what keepalived printed) instead of a figure.
//! The config has no vrrp_instance and only loopback addresses, so nothing touches
//! a real interface; where IPVS exists (the test VM) keepalived adds the loopback
//! virtual servers to the kernel table and removes them when it stops.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::child::{Guard, Listeners};
use super::{sys, Args, Measured};

/// Real servers per virtual server: 100 services of 100, like a large site.
const PER_SERVICE: usize = 100;
/// keepalived reads 10,000 real servers before it starts checking.
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub enum Anchor {
    Measured { version: String, measured: Measured },
    Unavailable { version: String, why: String },
}

fn config(a: &Args) -> String {
    let mut c = String::from("global_defs {\n    router_id director_bench_p3\n}\n");
    for (n, chunk) in a.layout.targets().chunks(PER_SERVICE).enumerate() {
        // Virtual addresses on loopback too; nothing is ever sent to them.
        let _ = writeln!(c, "virtual_server 127.0.0.1 {} {{", 10_000 + n);
        c.push_str("    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n");
        for target in chunk {
            let _ = writeln!(c, "    real_server {} {} {{", target.ip(), target.port());
            c.push_str("        weight 1\n        TCP_CHECK {\n");
            c.push_str("            connect_timeout 1\n            retry 1\n");
            c.push_str("            delay_before_retry 1\n        }\n    }\n");
        }
        c.push_str("}\n");
    }
    c
}

fn version(path: &str) -> Result<String, String> {
    let out = Command::new(path)
        .arg("--version")
        .output()
        .map_err(|e| format!("{path} --version: {e}"))?;
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("Keepalived"))
        .ok_or(format!("{path} --version said {text:?}"))?;
    // "Keepalived v2.2.7 (01/16,2022)" -> "keepalived 2.2.7"
    let v = line.split_whitespace().nth(1).unwrap_or("?").trim_start_matches('v');
    Ok(format!("keepalived {v}"))
}

/// The lines worth quoting from keepalived's log when it gave up.
fn why(log: &str) -> String {
    let telling: Vec<&str> = log
        .lines()
        .filter(|l| {
            ["ipvs", "modprobe", "exited", "error", "fatal"]
                .iter()
                .any(|w| l.to_lowercase().contains(w))
        })
        .collect();
    let lines = if telling.is_empty() {
        log.lines().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect()
    } else {
        telling
    };
    lines.join("\n")
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

pub fn measure(path: &str, a: &Args, listeners: &mut Listeners) -> Result<Anchor, String> {
    let version = version(path)?;
    let dir = PathBuf::from("/tmp/director-bench-p3");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (conf, pid_file, checker_pid_file, log) = (
        dir.join("keepalived.conf"),
        dir.join("keepalived.pid"),
        dir.join("checkers.pid"),
        dir.join("keepalived.log"),
    );
    fs::write(&conf, config(a)).map_err(|e| format!("{}: {e}", conf.display()))?;
    for stale in [&pid_file, &checker_pid_file] {
        let _ = fs::remove_file(stale);
    }
    let log_out = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let log_err = log_out.try_clone().map_err(|e| format!("{}: {e}", log.display()))?;
    let mut command = Command::new(path);
    // Foreground, checkers only, log to the console (our file) not syslog, no respawn.
    command
        .args(["-n", "-l", "-G", "-C", "-R", "-f"])
        .arg(&conf)
        .arg("-p")
        .arg(&pid_file)
        .arg("-c")
        .arg(&checker_pid_file);
    command.stdin(Stdio::null()).stdout(log_out).stderr(log_err);
    let mut keepalived = Guard::spawn(&mut command, "keepalived", Some(Duration::from_secs(10)))?;
    let read_log = || fs::read_to_string(&log).unwrap_or_default();
    let unavailable = |keepalived: &mut Guard| -> Result<Anchor, String> {
        keepalived.end();
        Ok(Anchor::Unavailable { version: version.clone(), why: why(&read_log()) })
    };

    let started = Instant::now();
    let checker = loop {
        if !keepalived.running() {
            return unavailable(&mut keepalived);
        }
        if let Some(pid) = read_pid(&checker_pid_file) {
            break pid;
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(format!(
                "keepalived wrote no checker pid in {START_TIMEOUT:?}: {}",
                why(&read_log())
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The checker writes its pid before it opens IPVS, and exits if it cannot.
    std::thread::sleep(a.warmup);
    if !keepalived.running() || sys::cpu_time_of(checker).is_err() {
        return unavailable(&mut keepalived);
    }

    let (start_listeners, start_cpu, start) =
        (listeners.sample()?, sys::cpu_time_of(checker)?, Instant::now());
    std::thread::sleep(a.seconds);
    let (end_listeners, end_cpu, wall) =
        (listeners.sample()?, sys::cpu_time_of(checker)?, start.elapsed());
    let (rss_kib, peak_kib) = sys::memory_kib(Some(checker))?;
    if !keepalived.running() {
        return Err(format!("keepalived exited during the window: {}", why(&read_log())));
    }
    keepalived.end();
    // keepalived logs every failed check and every server it takes out.
    let text = read_log();
    let failures =
        text.lines().filter(|l| l.contains("failed") || l.contains("Removing service")).count()
            as u64;
    let accepted = end_listeners.0 - start_listeners.0;
    let measured = Measured {
        wall,
        cpu: (end_cpu.0 + end_cpu.1) - (start_cpu.0 + start_cpu.1),
        cpu_system: end_cpu.1 - start_cpu.1,
        rss_kib,
        peak_kib,
        // keepalived counts nothing itself: each accepted connection is one of its probes.
        probes: accepted,
        accepted,
        listener_cpu: end_listeners.1 - start_listeners.1,
        lateness: None,
        failures,
        not_up: 0,
    };
    Ok(Anchor::Measured { version, measured })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_every_target_once_and_no_vrrp() {
        let a = Args::from_args(
            ["--checks", "250", "--keepalived", "none"].map(String::from).into_iter(),
        )
        .expect("valid");
        let c = config(&a);
        assert_eq!(c.matches("real_server 127.1.").count(), 250);
        assert_eq!(c.matches("virtual_server 127.0.0.1 ").count(), 3);
        assert_eq!(c.matches("TCP_CHECK").count(), 250);
        assert!(!c.contains("vrrp"));
        assert_eq!(c.matches('{').count(), c.matches('}').count());
    }

    #[test]
    fn quotes_what_keepalived_said_about_ipvs() {
        let log =
            "Starting Keepalived\nInitializing ipvs\nmodprobe: FATAL: Module ip_vs not found\n\
                   IPVS: Can't initialize ipvs: No such file or directory\nStopped";
        let w = why(log);
        assert!(w.contains("Can't initialize ipvs") && w.contains("modprobe"), "{w}");
        assert!(!w.contains("Starting"));
    }
}
