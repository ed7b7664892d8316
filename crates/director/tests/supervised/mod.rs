//! Shared by the systemd tests: a service manager's notification socket that records
//! what directord sends, and directord itself with its stderr in a file.

#![allow(dead_code)] // each test file uses its own part

use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A datagram socket in `dir` standing in for systemd's `$NOTIFY_SOCKET`; every
/// datagram is kept with when it came.
pub struct NotifySocket {
    pub path: PathBuf,
    seen: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl NotifySocket {
    pub fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = seen.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                keep.lock().unwrap().push((Instant::now(), text));
            }
        });
        NotifySocket { path, seen }
    }

    pub fn messages(&self) -> Vec<(Instant, String)> {
        self.seen.lock().unwrap().clone()
    }

    /// Messages from the `from`-th on.
    pub fn since(&self, from: usize) -> Vec<String> {
        self.messages().into_iter().skip(from).map(|(_, m)| m).collect()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Waits for a message (from the `from`-th on) with the line `line`; its index.
    pub fn wait_line(&self, from: usize, line: &str, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .messages()
                .iter()
                .enumerate()
                .skip(from)
                .find_map(|(i, (_, m))| m.lines().any(|l| l == line).then_some(i));
            if let Some(i) = found {
                return i;
            }
            assert!(
                Instant::now() < deadline,
                "no {line:?} within {timeout:?}; got {:?}",
                self.since(from)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// When each `WATCHDOG=1` came, from `from`-th message on.
    pub fn pings_since(&self, after: Instant) -> Vec<Instant> {
        self.messages()
            .into_iter()
            .filter(|(at, m)| *at >= after && m.lines().any(|l| l == "WATCHDOG=1"))
            .map(|(at, _)| at)
            .collect()
    }
}

/// directord running in the background; killed (by PID) on drop.
pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    pub config: PathBuf,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `command` (directord with its arguments), its stderr into `dir`.
    pub fn spawn(mut command: Command, dir: &Path, config: &Path) -> Daemon {
        let socket = dir.join("director.sock");
        let log = dir.join("directord.log");
        let err = std::fs::File::create(&log).unwrap();
        command
            .arg("--config")
            .arg(config)
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err);
        let child = command.spawn().unwrap();
        Daemon { child, socket, config: config.to_path_buf(), log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One control request line, its JSON answer.
    pub fn request(&self, line: &str) -> serde_json::Value {
        use std::io::{Read, Write};
        let mut stream = UnixStream::connect(&self.socket).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
    }

    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's PID.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0);
    }

    /// Waits for the exit; its code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("directord did not exit within {timeout:?}; log:\n{}", self.log());
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// CLOCK_MONOTONIC in microseconds, as systemd reads `MONOTONIC_USEC`.
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec to write to.
    assert_eq!(unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) }, 0);
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

/// Every stderr line parsed as JSON; panics naming a line that is not.
pub fn json_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The JSON log lines whose `event` is `event`.
pub fn events<'a>(lines: &'a [serde_json::Value], event: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["event"] == event).collect()
}
