//! The bench's own child processes, killed by PID when dropped, so that no error
//! path leaves one behind.

use std::io::{BufRead, BufReader, Lines, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Args, Flavour, Measured};

/// A child that is ended when dropped: SIGTERM first when `grace` is set (so it
/// can clean up), SIGKILL after the grace or at once.
#[derive(Debug)]
pub struct Guard {
    pub child: Child,
    pub grace: Option<Duration>,
}

impl Guard {
    pub fn spawn(
        command: &mut Command,
        name: &str,
        grace: Option<Duration>,
    ) -> Result<Guard, String> {
        let child = command.spawn().map_err(|e| format!("start {name}: {e}"))?;
        Ok(Guard { child, grace })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running (not reaped).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Ends it now; idempotent.
    pub fn end(&mut self) {
        if !self.running() {
            return;
        }
        if let Some(grace) = self.grace {
            let pid = libc::pid_t::try_from(self.pid()).unwrap_or(libc::pid_t::MAX);
            // SAFETY: kill(2) on our own child's PID, which it keeps until we reap it.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline && self.running() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.end();
    }
}

/// The `p3-listen` process and its line protocol.
#[derive(Debug)]
pub struct Listeners {
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    guard: Guard,
}

impl Listeners {
    pub fn start(exe: &Path, a: &Args) -> Result<Listeners, String> {
        let mut command = Command::new(exe);
        command.arg("p3-listen").args(a.for_child(Flavour::CurrentThread));
        Listeners::spawn(&mut command, a.layout.checks as usize)
    }

    /// Runs `command` (a process that [`super::listen::serve`]s `targets` targets) and
    /// waits until they all listen.
    pub fn spawn(command: &mut Command, targets: usize) -> Result<Listeners, String> {
        command.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut guard = Guard::spawn(command, "listeners", None)?;
        let stdin = guard.child.stdin.take().ok_or("listeners: no stdin")?;
        let stdout = guard.child.stdout.take().ok_or("listeners: no stdout")?;
        let mut listeners = Listeners { stdin, lines: BufReader::new(stdout).lines(), guard };
        let ready = listeners.line()?;
        if ready != format!("ready {targets}") {
            return Err(format!("listeners said {ready:?}, want ready {targets}"));
        }
        Ok(listeners)
    }

    fn line(&mut self) -> Result<String, String> {
        match self.lines.next() {
            Some(Ok(line)) => Ok(line),
            Some(Err(e)) => Err(format!("listeners: {e}")),
            None => Err("listeners exited (see their error above)".into()),
        }
    }

    /// Connections accepted so far over all targets, and the listeners' CPU time.
    pub fn sample(&mut self) -> Result<(u64, Duration), String> {
        writeln!(self.stdin, "count").map_err(|e| format!("listeners: {e}"))?;
        let line = self.line()?;
        let accepted =
            line.trim().parse().map_err(|e| format!("listeners answered {line:?}: {e}"))?;
        let (user, system) = super::sys::cpu_time_of(self.guard.pid())?;
        Ok((accepted, user + system))
    }

    pub fn stop(mut self) -> Result<(), String> {
        if !self.guard.running() {
            return Err("the listeners died during the run".into());
        }
        self.guard.end();
        Ok(())
    }
}

/// One `p3-run` child, its window bracketed by the listeners' counts.
#[derive(Debug)]
pub struct OurRun;

impl OurRun {
    pub fn measure(
        exe: &Path,
        a: &Args,
        flavour: Flavour,
        listeners: &mut Listeners,
    ) -> Result<Measured, String> {
        let mut command = Command::new(exe);
        command.arg("p3-run").args(a.for_child(flavour)).stdout(Stdio::piped());
        let name = format!("p3-run {}", flavour.name());
        let mut guard = Guard::spawn(&mut command, &name, None)?;
        let stdout = guard.child.stdout.take().ok_or("p3-run: no stdout")?;
        let (mut start, mut end, mut result) = (None, None, None);
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("{name}: {e}"))?;
            match line.as_str() {
                "window start" => start = Some(listeners.sample()?),
                "window end" => end = Some(listeners.sample()?),
                _ => match line.strip_prefix("result ") {
                    Some(fields) => result = Some(Measured::from_line(fields)?),
                    None => println!("  {name}: {line}"),
                },
            }
        }
        let status = guard.child.wait().map_err(|e| format!("{name}: {e}"))?;
        let (Some(start), Some(end), Some(mut measured), true) =
            (start, end, result, status.success())
        else {
            return Err(format!("{name} failed ({status}); see its error above"));
        };
        measured.accepted = end.0 - start.0;
        measured.listener_cpu = end.1 - start.1;
        Ok(measured)
    }
}
