//! The VM lab P2 and P5 share: the real servers' /24 made local on `lo`, listeners on
//! their ports, the two daemons started on the same site, and the kernel table read
//! both by our client (cheap, for polling) and by `ipvsadm` (the independent reader).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ipvs::{Client, ServiceKey};

use super::site::Site;
use crate::p3::child::{Guard, Listeners};

/// On `lo` with its /24, which makes all of 198.51.100.0/24 local (the kernel's local
/// route for a loopback prefix): the checks to every real server reach the listeners,
/// and nothing leaves the VM (it has no network card).
const LO_ADDRESS: &str = "198.51.100.254/24";

/// Refuses to run where there is no IPVS (the host): these benchmarks belong in the VM.
pub fn require_ipvs() -> Result<(), String> {
    if Path::new("/proc/net/ip_vs").exists() {
        Ok(())
    } else {
        Err("no IPVS in this kernel (/proc/net/ip_vs): run it in the VM (scripts/bench.sh)".into())
    }
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The address on `lo` and the listeners, removed and stopped when dropped.
pub struct Lab {
    pub listeners: Listeners,
    pub dir: PathBuf,
}

impl Lab {
    pub fn start(site: &Site, dir: &str) -> Result<Lab, String> {
        require_ipvs()?;
        let dir = PathBuf::from(dir);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        run("ip", &["addr", "add", LO_ADDRESS, "dev", "lo"])?;
        let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        let mut command = Command::new(exe);
        command.args(["p2-listen", "--ports", &site.rs_ports().to_string()]);
        let listeners = Listeners::spawn(&mut command, usize::from(site.rs_ports()));
        // Built only once the address is there, so a failed start still removes it.
        let listeners = listeners.inspect_err(|_| {
            let _ = run("ip", &["addr", "del", LO_ADDRESS, "dev", "lo"]);
        })?;
        Ok(Lab { listeners, dir })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = run("ip", &["addr", "del", LO_ADDRESS, "dev", "lo"]);
    }
}

/// `p2-listen --ports N`: listeners on ports RS_BASE_PORT.. of every local address.
pub fn listen_main(args: impl Iterator<Item = String>) -> Result<(), String> {
    let mut ports = 0u16;
    for (flag, value) in crate::flag_pairs(args)? {
        match flag.as_str() {
            "--ports" => ports = crate::number(&flag, &value)?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    crate::p3::listen::serve(&super::site::listen_targets(ports))
}

/// Writes `text` to `path` whole (a daemon reading it never sees half a file).
pub fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A daemon under test: its process (SIGTERM, then SIGKILL after the grace) and log.
pub struct Daemon {
    pub name: String,
    pub guard: Guard,
    pub log: PathBuf,
}

impl Daemon {
    /// `directord --config CONF --socket SOCK`, logging at `DIRECTOR_LOG` (default info).
    pub fn directord(
        path: &str,
        conf: &Path,
        socket: &Path,
        log: PathBuf,
    ) -> Result<Daemon, String> {
        let mut command = Command::new(path);
        command.arg("--config").arg(conf).arg("--socket").arg(socket);
        if std::env::var_os("DIRECTOR_LOG").is_none() {
            command.env("DIRECTOR_LOG", "info");
        }
        Daemon::spawn(command, "directord", log)
    }

    /// keepalived in the foreground, console log to our file (no syslog: in the VM that
    /// is the serial console), no respawn; its own pid
    /// files under the lab directory so it never meets a system one.
    pub fn keepalived(path: &str, conf: &Path, dir: &Path) -> Result<Daemon, String> {
        let mut command = Command::new(path);
        command.args(["-n", "-l", "-G", "-R", "-f"]).arg(conf);
        for (flag, file) in [("-p", "keepalived.pid"), ("-c", "checkers.pid"), ("-r", "vrrp.pid")] {
            let file = dir.join(file);
            let _ = fs::remove_file(&file);
            command.arg(flag).arg(file);
        }
        Daemon::spawn(command, "keepalived", dir.join("keepalived.log"))
    }

    fn spawn(mut command: Command, name: &str, log: PathBuf) -> Result<Daemon, String> {
        let out = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| format!("{}: {e}", log.display()))?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        // Removing tens of thousands of entries at exit takes a while under emulation.
        let guard = Guard::spawn(&mut command, name, Some(Duration::from_secs(300)))?;
        Ok(Daemon { name: name.to_string(), guard, log })
    }

    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// The last lines of its log, for an error message.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub fn alive(&mut self) -> Result<(), String> {
        if self.guard.running() {
            Ok(())
        } else {
            Err(format!("{} exited; its log ends:\n{}", self.name, self.log_tail(20)))
        }
    }

    /// Polls the kernel table until it holds `want` entries (services + destinations).
    pub fn wait_for_entries(
        &mut self,
        client: &mut Client,
        want: usize,
        timeout: Duration,
    ) -> Result<Duration, String> {
        let start = Instant::now();
        loop {
            self.alive()?;
            let have = entries(client)?;
            if have == want {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "{}: {have} IPVS entries after {timeout:?}, want {want}; log ends:\n{}",
                    self.name,
                    self.log_tail(20)
                ));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// SIGTERM, then waits (the daemon removes its rules), then empties the table.
    pub fn stop(mut self, client: &mut Client) -> Result<Duration, String> {
        let start = Instant::now();
        self.alive()?;
        self.guard.end();
        let took = start.elapsed();
        client.flush().map_err(|e| format!("flush after {}: {e}", self.name))?;
        Ok(took)
    }
}

/// Services plus destinations in the kernel table now.
pub fn entries(client: &mut Client) -> Result<usize, String> {
    let services = client.services().map_err(|e| format!("list services: {e}"))?;
    let mut n = services.len();
    for s in &services {
        n += client
            .destinations(&s.service.key)
            .map_err(|e| format!("list destinations of {}: {e}", s.service.key))?
            .len();
    }
    Ok(n)
}

/// The weight the kernel has for one destination of one service, if it has it.
pub fn kernel_weight(
    client: &mut Client,
    key: &ServiceKey,
    rs: std::net::SocketAddrV4,
) -> Result<Option<u32>, String> {
    let dests = client.destinations(key).map_err(|e| format!("destinations of {key}: {e}"))?;
    Ok(dests
        .iter()
        .find(|d| {
            d.destination.addr == std::net::IpAddr::V4(*rs.ip()) && d.destination.port == rs.port()
        })
        .map(|d| d.destination.weight))
}

/// `ipvsadm -Sn`: the table as the independent reader prints it.
pub fn ipvsadm_save(ipvsadm: &str) -> Result<String, String> {
    run(ipvsadm, &["-Sn"])
}

/// The lines only in `before` and only in `after` (order ignored).
pub fn line_diff(before: &str, after: &str) -> (Vec<String>, Vec<String>) {
    use std::collections::HashMap;
    let mut count: HashMap<&str, i64> = HashMap::new();
    for l in before.lines() {
        *count.entry(l).or_default() += 1;
    }
    for l in after.lines() {
        *count.entry(l).or_default() -= 1;
    }
    let mut gone: Vec<String> = Vec::new();
    let mut new: Vec<String> = Vec::new();
    for (line, n) in count {
        let target = if n > 0 { &mut gone } else { &mut new };
        target.extend(std::iter::repeat_n(line.to_string(), n.unsigned_abs() as usize));
    }
    gone.sort();
    new.sort();
    (gone, new)
}

/// Checks that `before` and `after` differ in exactly the one real server's line, whose
/// weight went to `weight`.
pub fn exactly_one_line_changed(
    before: &str,
    after: &str,
    rs: std::net::SocketAddrV4,
    weight: u32,
) -> Result<(), String> {
    let (gone, new) = line_diff(before, after);
    let marker = format!("-r {rs} ");
    let ok = gone.len() == 1
        && new.len() == 1
        && gone[0].contains(&marker)
        && new[0].contains(&marker)
        && new[0].ends_with(&format!(" -w {weight}"));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "ipvsadm -Sn before/after: want exactly the line of {rs} changed to weight {weight}; \
             gone {gone:?}, new {new:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_changed_line_is_found_and_anything_else_is_refused() {
        let before = "-A -t 203.0.113.1:10000 -s wrr\n\
                      -a -t 203.0.113.1:10000 -r 198.51.100.1:8000 -m -w 1\n\
                      -a -t 203.0.113.1:10000 -r 198.51.100.2:8000 -m -w 2\n";
        let after = before.replace("198.51.100.2:8000 -m -w 2", "198.51.100.2:8000 -m -w 12");
        let rs = "198.51.100.2:8000".parse().expect("literal");
        assert_eq!(exactly_one_line_changed(before, &after, rs, 12), Ok(()));
        assert!(exactly_one_line_changed(before, &after, rs, 2).is_err());
        assert!(exactly_one_line_changed(before, before, rs, 2).is_err());
        let two = after.replace("8000 -m -w 1", "8000 -m -w 5");
        assert!(exactly_one_line_changed(before, &two, rs, 12).is_err());
        let other = "198.51.100.1:8000".parse().expect("literal");
        assert!(exactly_one_line_changed(before, &after, other, 12).is_err());
        let (gone, new) = line_diff(before, &after);
        assert_eq!((gone.len(), new.len()), (1, 1));
    }
}
