//! MISC_CHECK: run a program (no shell), judge its exit status.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::time::Instant;

use crate::outcome::{Failure, Outcome, ProbeReport};
use crate::spec::MiscCheck;

/// How much of the script's output is kept for the failure message.
const OUTPUT_KEPT: usize = 200;
/// After the script exits, how long to wait for its output pipes to close
/// (a background child may hold them open).
const OUTPUT_GRACE: Duration = Duration::from_millis(100);

pub(crate) async fn run(check: &MiscCheck) -> ProbeReport {
    let start = Instant::now();
    let outcome = execute(check).await;
    ProbeReport { outcome, latency: start.elapsed(), status: None, digest: None }
}

async fn execute(check: &MiscCheck) -> Outcome {
    let Some((program, args)) = check.argv.split_first() else {
        return Outcome::Down(Failure::ScriptSpawn("empty command".into()));
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(check.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills everything it started.
        .process_group(0);
    if let Some(cwd) = &check.cwd {
        command.current_dir(cwd);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::Down(Failure::ScriptSpawn(format!("{program}: {e}"))),
    };
    // Declared after `child`, so dropped first: an abandoned probe (timeout,
    // unsubscribe, shutdown) kills the group while its leader is still unreaped.
    let mut group = GroupKiller(child.id().and_then(|id| libc::pid_t::try_from(id).ok()));
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let mut output = std::pin::pin!(read_output(stdout, stderr));
    let mut captured = None;

    let waited = tokio::time::timeout(check.timeout, async {
        // Drain output while waiting, or a chatty script blocks on a full pipe.
        loop {
            tokio::select! {
                status = child.wait() => break status,
                out = &mut output, if captured.is_none() => captured = Some(out),
            }
        }
    })
    .await;

    match waited {
        Ok(Ok(status)) => {
            // Reaped: the group id may be reused from now on, never signal it.
            group.disarm();
            let output = match captured {
                Some(out) => out,
                None => tokio::time::timeout(OUTPUT_GRACE, output).await.unwrap_or_default(),
            };
            judge(status, check.dynamic, output)
        }
        Ok(Err(e)) => Outcome::Down(Failure::ScriptSpawn(format!("waiting for {program}: {e}"))),
        Err(_) => {
            drop(group);
            let _ = child.wait().await;
            Outcome::Down(Failure::ScriptTimeout(check.timeout))
        }
    }
}

/// Kills a script's process group when dropped, unless disarmed.
struct GroupKiller(Option<libc::pid_t>);

impl GroupKiller {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // SAFETY: killpg takes plain integers. The group leader is our child
            // and not yet reaped (the guard is disarmed once it is), so the id
            // still names its group and no other.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

/// keepalived's rules: 0 is up; with `dynamic`, 2-255 is up with weight code-2;
/// anything else, or death by a signal, is down.
fn judge(status: ExitStatus, dynamic: bool, output: String) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    match status.code() {
        Some(0) => Outcome::Up { weight: None },
        Some(code @ 2..=255) if dynamic => Outcome::Up { weight: Some(code as u32 - 2) },
        Some(code) => Outcome::Down(Failure::ScriptExit { code, output }),
        None => Outcome::Down(Failure::ScriptSignal(status.signal().unwrap_or(0))),
    }
}

/// The start of stdout then stderr, on one line; the rest is read and dropped.
async fn read_output(
    stdout: Option<impl AsyncRead + Unpin>,
    stderr: Option<impl AsyncRead + Unpin>,
) -> String {
    let (out, err) = tokio::join!(read_start(stdout), read_start(stderr));
    let text = String::from_utf8_lossy(&out) + String::from_utf8_lossy(&err);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    line.chars().take(OUTPUT_KEPT).collect()
}

async fn read_start(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let Some(mut pipe) = pipe else { return Vec::new() };
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = pipe.read(&mut buf).await {
        if kept.len() < OUTPUT_KEPT * 4 {
            kept.extend_from_slice(&buf[..n]);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn exit(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn keepalived_exit_rules() {
        assert_eq!(judge(exit(0), false, String::new()), Outcome::Up { weight: None });
        assert_eq!(judge(exit(0), true, String::new()), Outcome::Up { weight: None });
        assert!(matches!(judge(exit(1), true, String::new()), Outcome::Down(_)));
        assert!(matches!(judge(exit(5), false, String::new()), Outcome::Down(_)));
        assert_eq!(judge(exit(2), true, String::new()), Outcome::Up { weight: Some(0) });
        assert_eq!(judge(exit(255), true, String::new()), Outcome::Up { weight: Some(253) });
        let killed = ExitStatus::from_raw(libc::SIGKILL);
        assert_eq!(judge(killed, true, String::new()), Outcome::Down(Failure::ScriptSignal(9)));
    }
}
