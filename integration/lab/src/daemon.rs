//! `directord` in a director namespace with a full YAML config (VRRP and virtual
//! servers), its control socket and log in a temporary directory; `directorctl
//! status --json` and `reload` against it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tempfile::TempDir;
use testkit::directord::{spawn_in, status_at, wait_answering, Directord};
use testkit::netns::Netns;
use testkit::process::{Process, STOP_GRACE};

use crate::status::Status;

/// How long the daemon may take to answer on its control socket (TCG exec included).
const START_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug)]
pub struct LabDirector {
    process: Process,
    name: String,
    netns: String,
    dir: TempDir,
}

impl LabDirector {
    /// Writes `yaml` and starts directord in `ns`; returns once it answers `status`.
    pub fn start(ns: &Netns, name: &str, yaml: &str) -> Result<LabDirector, String> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("lab-{name}-"))
            .tempdir()
            .map_err(|e| format!("{name}: temporary directory: {e}"))?;
        let config = dir.path().join("director.yaml");
        fs::write(&config, yaml).map_err(|e| format!("{}: {e}", config.display()))?;
        let process = launch(ns, dir.path())?;
        let mut d =
            LabDirector { process, name: name.to_string(), netns: ns.name().to_string(), dir };
        d.wait_ready()?;
        Ok(d)
    }

    /// Starts it again in `ns` (after [`LabDirector::kill9`]), same config file; the log
    /// carries on.
    pub fn restart(&mut self, ns: &Netns) -> Result<(), String> {
        self.process.stop(STOP_GRACE);
        self.process = launch(ns, self.dir.path())?;
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let socket = self.socket();
        wait_answering(&mut self.process, &socket, START_TIMEOUT).map_err(|last| {
            let exit = self.process.exit_status();
            format!(
                "directord {} in {} not ready (exit {exit:?}, last status error: {last}); log:\n{}",
                self.name,
                self.netns,
                self.log()
            )
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("director.yaml")
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("director.sock")
    }

    /// `directorctl --socket S ARGS`, output as is. A unix socket path is reached from
    /// any network namespace, so this runs in the test's own.
    pub fn ctl(&self, args: &[&str]) -> Output {
        let ctl = ctl_binary();
        Command::new(&ctl)
            .arg("--socket")
            .arg(self.socket())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", ctl.display()))
    }

    /// `directorctl status --json`, parsed.
    pub fn status(&self) -> Result<Status, String> {
        status_at(&self.socket()).map_err(|e| format!("{}: {e}", self.name))
    }

    /// Replaces the config file (the daemon reads it at the next reload).
    pub fn write_config(&self, yaml: &str) {
        let path = self.config_path();
        fs::write(&path, yaml).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// `directorctl reload`.
    pub fn reload(&self) -> Output {
        self.ctl(&["reload"])
    }

    /// SIGKILL by PID, reaped: nothing of the daemon runs when this returns (what it
    /// put in the kernel stays, as after a crash).
    pub fn kill9(&mut self) {
        self.process.signal(libc::SIGKILL).unwrap_or_else(|e| panic!("{}: {e}", self.name));
        assert!(
            self.process.wait_exit(Duration::from_secs(5)).is_some(),
            "directord {} did not exit after SIGKILL",
            self.name
        );
    }

    pub fn signal(&mut self, signal: libc::c_int) -> Result<(), String> {
        self.process.signal(signal)
    }

    /// The exit status once the daemon exits, within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.process.wait_exit(timeout)
    }

    pub fn running(&mut self) -> bool {
        self.process.running()
    }

    /// What the daemon wrote on stderr and stdout.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("directord.log")).unwrap_or_default()
    }
}

fn launch(ns: &Netns, dir: &Path) -> Result<Process, String> {
    spawn_in(ns, &dir.join("director.yaml"), &dir.join("director.sock"), &dir.join("directord.log"))
}

fn ctl_binary() -> PathBuf {
    Directord::binaries().map(|(_, ctl)| ctl).unwrap_or_else(|e| panic!("{e}"))
}
