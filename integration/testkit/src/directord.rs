//! `directord` in a network namespace with a VRRP-only YAML config, its control socket
//! in a temporary directory, and `directorctl status --json` parsed.
//!
//! The binaries are the workspace's own build: `$DIRECTORD` / `$DIRECTORCTL` when set,
//! else next to the running executable (a test runs from target/<profile>/deps/ and
//! the bench from target/<profile>/, the binaries are in target/<profile>/). A test
//! package cannot name another package's binaries (`CARGO_BIN_EXE_*` is for its own),
//! so `cargo test --workspace` (as `make test` runs) is what builds them first; a
//! missing binary is an error that says so.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use tempfile::TempDir;

use crate::keepalived::{read_lines, write_executable};
use crate::netns::Netns;
use crate::process::{Process, STOP_GRACE};
use crate::router::{self, Router};

/// How long the daemon may take to answer on its control socket after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// `directorctl status --json`, the fields the tests read (others are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    pub director: DirectorId,
    pub vrrp_instances: Vec<InstanceStatus>,
    /// Packets no instance could claim (too short for a VRID, or an unknown VRID).
    #[serde(default)]
    pub vrrp_unclaimed_drops: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DirectorId {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstanceStatus {
    pub name: String,
    /// MASTER, BACKUP, FAULT or INIT.
    pub state: String,
    pub priority: i64,
    pub effective_priority: i64,
    pub virtual_addresses: Vec<String>,
    pub master: Option<String>,
    pub advert_interval_ms: Option<u64>,
    #[serde(default)]
    pub faults: Vec<serde_json::Value>,
    pub counters: Counters,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Counters {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub transitions: u64,
    pub became_master: u64,
    pub dropped: BTreeMap<String, u64>,
}

impl Status {
    /// The instance named `name`; panics with the whole status when it is missing.
    pub fn instance(&self, name: &str) -> &InstanceStatus {
        self.vrrp_instances
            .iter()
            .find(|i| i.name == name)
            .unwrap_or_else(|| panic!("no instance {name} in {self:?}"))
    }

    pub fn unclaimed(&self, reason: &str) -> u64 {
        self.vrrp_unclaimed_drops.get(reason).copied().unwrap_or(0)
    }
}

impl InstanceStatus {
    pub fn dropped(&self, reason: &str) -> u64 {
        self.counters.dropped.get(reason).copied().unwrap_or(0)
    }
}

/// `directorctl --socket SOCKET status --json`, parsed as `T` (the fields a caller
/// reads). A unix socket path is reached from any network namespace.
pub fn status_at<T: DeserializeOwned>(socket: &Path) -> Result<T, String> {
    let (_, ctl) = Directord::binaries()?;
    let out = std::process::Command::new(&ctl)
        .arg("--socket")
        .arg(socket)
        .args(["status", "--json"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", ctl.display()))?;
    if !out.status.success() {
        return Err(format!(
            "directorctl status: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("status JSON: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Waits up to `timeout` until the daemon `process` answers `status` on `socket`;
/// `Err` with the last status error when it did not (or exited first).
pub fn wait_answering(
    process: &mut Process,
    socket: &Path,
    timeout: Duration,
) -> Result<(), String> {
    let mut last = String::new();
    let answered = crate::wait::wait_until(timeout, || {
        if !process.running() {
            return true;
        }
        match status_at::<serde_json::Value>(socket) {
            Ok(_) => true,
            Err(e) => {
                last = e;
                false
            }
        }
    });
    if answered && process.running() {
        Ok(())
    } else {
        Err(last)
    }
}

#[derive(Debug)]
pub struct Directord {
    process: Process,
    router: Router,
    netns: String,
    socket: PathBuf,
    dir: TempDir,
}

impl Directord {
    /// `directord` and `directorctl`, or why they cannot be found.
    pub fn binaries() -> Result<(PathBuf, PathBuf), String> {
        Ok((find_binary("directord", "DIRECTORD")?, find_binary("directorctl", "DIRECTORCTL")?))
    }

    /// Writes `router` as YAML and starts directord in `ns`; returns once it answers
    /// `status` on its control socket.
    pub fn start(ns: &Netns, router: &Router) -> Result<Directord, String> {
        let dir = tempfile::Builder::new()
            .prefix("testkit-directord-")
            .tempdir()
            .map_err(|e| format!("directord fixture: temporary directory: {e}"))?;
        let notify = dir.path().join("notify.sh");
        write_executable(&notify, &router::notify_script(&dir.path().join("notify.log")))?;
        let socket = dir.path().join("director.sock");
        let mut d = Directord {
            process: launch(ns, dir.path(), router, &socket)?,
            router: router.clone(),
            netns: ns.name().to_string(),
            socket,
            dir,
        };
        d.wait_ready()?;
        Ok(d)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        wait_answering(&mut self.process, &self.socket, START_TIMEOUT).map_err(|last| {
            let exit = self.process.exit_status();
            format!(
                "directord in {} not ready (exit {exit:?}, last status error: {last}); log:\n{}",
                self.netns,
                self.log()
            )
        })
    }

    /// `directorctl --socket S status --json`, parsed.
    pub fn status(&self) -> Result<Status, String> {
        status_at(&self.socket)
    }

    /// The state of `instance` ("MASTER", ...), or the status error.
    pub fn state(&self, instance: &str) -> Result<String, String> {
        let status = self.status()?;
        let i = status.vrrp_instances.iter().find(|i| i.name == instance);
        i.map(|i| i.state.clone()).ok_or(format!("no instance {instance} in {status:?}"))
    }

    /// Sends `signal` to the daemon.
    pub fn kill(&mut self, signal: libc::c_int) -> Result<(), String> {
        self.process.signal(signal)?;
        if signal == libc::SIGKILL {
            self.process.wait_exit(STOP_GRACE);
        }
        Ok(())
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.process.wait_exit(timeout)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Ends the daemon (if it still runs) and starts it again, with `router` when
    /// given (else the same config). The log carries on in the same file.
    pub fn restart(&mut self, ns: &Netns, router: Option<&Router>) -> Result<(), String> {
        self.process.stop(STOP_GRACE);
        if let Some(r) = router {
            self.router = r.clone();
        }
        self.process = launch(ns, self.dir.path(), &self.router, &self.socket)?;
        self.wait_ready()
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Lines the notify script wrote (instances with `notify: true`).
    pub fn notify_lines(&self) -> Vec<String> {
        read_lines(&self.dir.path().join("notify.log"))
    }

    /// What the daemon printed on stderr (and stdout).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("directord.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn launch(ns: &Netns, dir: &Path, router: &Router, socket: &Path) -> Result<Process, String> {
    let config = dir.join("director.yaml");
    fs::write(&config, router::yaml(router, &dir.join("notify.sh")))
        .map_err(|e| format!("{}: {e}", config.display()))?;
    spawn_in(ns, &config, socket, &dir.join("directord.log"))
}

/// Starts directord in `ns` on `config` and `socket`, appending its stdout and stderr
/// to `log` (a restart carries on in the same file).
pub fn spawn_in(ns: &Netns, config: &Path, socket: &Path, log: &Path) -> Result<Process, String> {
    let (directord, _) = Directord::binaries()?;
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| format!("{}: {e}", log.display()))?;
    let (d, c, s) = (
        directord.display().to_string(),
        config.display().to_string(),
        socket.display().to_string(),
    );
    let mut command = ns.command(&[&d, "--config", &c, "--socket", &s]);
    command.stdin(Stdio::null()).stdout(out).stderr(err);
    Process::spawn(&mut command, "directord")
}

fn find_binary(name: &str, env: &str) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(env) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let found = exe.ancestors().skip(1).take(2).map(|dir| dir.join(name)).find(|p| p.is_file());
    found.ok_or(format!(
        "{name} not found next to {} (build it: cargo build -p director --bins, or set {env})",
        exe.display()
    ))
}
