//! The Debian keepalived (2.2.x) as a VRRP peer in a network namespace: foreground,
//! VRRP only, its own config, pid files and log in a temporary directory.
//!
//! keepalived has no status command, so its state is read from its notify scripts
//! (every instance notifies the fixture's script, see [`crate::router::keepalived_conf`])
//! and from the VIP on the interface.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::netns::Netns;
use crate::process::{parent_of, signal_pid, Process, STOP_GRACE};
use crate::router::{self, Router};
use crate::wait::wait_for;

/// The Debian package's binary; `KEEPALIVED` overrides it.
const DEFAULT_BINARY: &str = "/usr/sbin/keepalived";
/// keepalived forks its VRRP process and writes its pid file within milliseconds.
const START_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Keepalived {
    parent: Process,
    /// The VRRP child, which sends the adverts; not our child, so checked to still be
    /// the parent's before it is signalled.
    vrrp_pid: u32,
    router: Router,
    netns: String,
    dir: TempDir,
}

impl Keepalived {
    pub fn binary() -> PathBuf {
        std::env::var_os("KEEPALIVED").map_or_else(|| PathBuf::from(DEFAULT_BINARY), PathBuf::from)
    }

    pub fn is_installed() -> bool {
        Self::binary().is_file()
    }

    /// Starts keepalived for `router` in `ns` and waits for its VRRP process.
    pub fn start(ns: &Netns, router: &Router) -> Result<Keepalived, String> {
        let dir = tempfile::Builder::new()
            .prefix("testkit-keepalived-")
            .tempdir()
            .map_err(|e| format!("keepalived fixture: temporary directory: {e}"))?;
        let notify = dir.path().join("notify.sh");
        write_executable(&notify, &router::notify_script(&dir.path().join("notify.log")))?;
        let conf = dir.path().join("keepalived.conf");
        fs::write(&conf, router::keepalived_conf(router, &notify))
            .map_err(|e| format!("{}: {e}", conf.display()))?;
        let mut k = Keepalived {
            parent: launch(ns, dir.path())?,
            vrrp_pid: 0,
            router: router.clone(),
            netns: ns.name().to_string(),
            dir,
        };
        k.vrrp_pid = k.wait_vrrp_pid()?;
        Ok(k)
    }

    fn wait_vrrp_pid(&mut self) -> Result<u32, String> {
        let pid_file = self.dir.path().join("vrrp.pid");
        let parent = self.parent.pid();
        let pid = wait_for(START_TIMEOUT, || {
            let pid: u32 = fs::read_to_string(&pid_file).ok()?.trim().parse().ok()?;
            (parent_of(pid) == Some(parent)).then_some(pid)
        });
        match pid {
            Some(pid) if self.parent.running() => Ok(pid),
            _ => Err(format!(
                "keepalived in {} did not start its VRRP process:\n{}",
                self.netns,
                self.log()
            )),
        }
    }

    /// Starts it again after a [`Keepalived::kill`], with the same config.
    pub fn restart(&mut self, ns: &Netns) -> Result<(), String> {
        self.parent.stop(STOP_GRACE);
        for stale in ["keepalived.pid", "vrrp.pid"] {
            let _ = fs::remove_file(self.dir.path().join(stale));
        }
        self.parent = launch(ns, self.dir.path())?;
        self.vrrp_pid = self.wait_vrrp_pid()?;
        Ok(())
    }

    /// SIGKILL: the VRRP process first, so that it sends nothing (killing the parent
    /// first would have it stop the child cleanly), then the parent.
    /// Any other signal goes to the parent, which passes SIGTERM on to the child.
    pub fn kill(&mut self, signal: libc::c_int) -> Result<(), String> {
        if signal == libc::SIGKILL {
            if parent_of(self.vrrp_pid) == Some(self.parent.pid()) {
                signal_pid(self.vrrp_pid, libc::SIGKILL)?;
            }
            self.parent.signal(libc::SIGKILL)?;
            self.parent.wait_exit(STOP_GRACE);
            return Ok(());
        }
        self.parent.signal(signal)
    }

    /// The parent's exit status once it has exited.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.parent.wait_exit(timeout)
    }

    pub fn vrrp_pid(&self) -> u32 {
        self.vrrp_pid
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Lines the notify script wrote, oldest first: "master", "backup", "stop", and
    /// "INSTANCE vi1 MASTER 150" for the generic notify.
    pub fn notify_lines(&self) -> Vec<String> {
        read_lines(&self.dir.path().join("notify.log"))
    }

    /// The state of `instance` from the last generic notify line ("MASTER", "BACKUP",
    /// "FAULT", "STOP"); `None` before the first transition.
    pub fn state(&self, instance: &str) -> Option<String> {
        self.notify_lines().iter().rev().find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 4 && w[0] == "INSTANCE" && w[1] == instance).then(|| w[2].to_string())
        })
    }

    /// What keepalived printed.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("keepalived.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn launch(ns: &Netns, dir: &Path) -> Result<Process, String> {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("keepalived.log"))
        .map_err(|e| format!("keepalived log: {e}"))?;
    let log2 = log.try_clone().map_err(|e| format!("keepalived log: {e}"))?;
    let binary = Keepalived::binary();
    let path = |name: &str| dir.join(name).display().to_string();
    let (conf, pid, vrrp_pid) = (path("keepalived.conf"), path("keepalived.pid"), path("vrrp.pid"));
    // Foreground, VRRP only, log to the console (our file) in detail, not to syslog,
    // no respawn of a killed child (a test kills it on purpose).
    let argv = [
        binary.to_str().unwrap_or(DEFAULT_BINARY),
        "-n",
        "-l",
        "-D",
        "-G",
        "-R",
        "--vrrp",
        "-f",
        &conf,
        "-p",
        &pid,
        "-r",
        &vrrp_pid,
    ];
    let mut command = ns.command(&argv);
    command.stdin(Stdio::null()).stdout(log).stderr(log2);
    Process::spawn(&mut command, "keepalived")
}

pub(crate) fn write_executable(path: &Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub(crate) fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// Whether `keepalived --version` runs (for a skip message where it is missing).
pub fn version() -> Option<String> {
    let out = Command::new(Keepalived::binary()).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.lines().next().map(str::to_string)
}
