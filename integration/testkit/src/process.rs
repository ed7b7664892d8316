//! A child process that is signalled by its PID only and ended when dropped, so a
//! failing test leaves no daemon behind (never by name: other tests run the same
//! binaries at the same time).

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How long a daemon gets between SIGTERM and SIGKILL when a fixture is dropped.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug)]
pub struct Process {
    child: Child,
    name: String,
    exit: Option<ExitStatus>,
}

impl Process {
    pub fn spawn(command: &mut Command, name: &str) -> Result<Process, String> {
        let child = command.spawn().map_err(|e| format!("start {name}: {e}"))?;
        Ok(Process { child, name: name.to_string(), exit: None })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The exit status once it has exited (reaps it); `None` while it runs.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    pub fn running(&mut self) -> bool {
        self.exit_status().is_none()
    }

    /// Sends `signal` unless it has been reaped: until then the PID is still ours,
    /// so the signal cannot reach another process.
    pub fn signal(&mut self, signal: libc::c_int) -> Result<(), String> {
        if !self.running() {
            return Err(format!("{} (pid {}) has already exited", self.name, self.pid()));
        }
        signal_pid(self.pid(), signal).map_err(|e| format!("{}: {e}", self.name))
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; reaps it. Idempotent.
    pub fn stop(&mut self, grace: Duration) {
        if !self.running() {
            return;
        }
        let _ = self.signal(libc::SIGTERM);
        if self.wait_exit(grace).is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop(STOP_GRACE);
    }
}

/// kill(2) by PID.
pub fn signal_pid(pid: u32, signal: libc::c_int) -> Result<(), String> {
    let raw = libc::pid_t::try_from(pid).map_err(|_| format!("pid {pid} out of range"))?;
    // SAFETY: kill(2) has no memory effects; callers pass PIDs they own.
    if unsafe { libc::kill(raw, signal) } != 0 {
        return Err(format!("kill({pid}, {signal}): {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// The parent PID of `pid` from /proc, `None` when it is gone.
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` is a live process (not gone, not a zombie waiting to be reaped).
pub fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z" | "X"))
}
