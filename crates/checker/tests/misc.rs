//! MISC_CHECK probes running real `#!/bin/sh` scripts written by each test.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use checker::{probe, CheckKind, CheckSpec, Failure, MiscCheck, Outcome, ProbeReport, Target};
use tempfile::TempDir;
use tokio::sync::RwLock;

/// Exec of a file fails with ETXTBSY while any process holds it open for
/// writing, and a child forked by another test thread briefly inherits our
/// write descriptor. So script writes exclude probes (which fork) in this binary.
static EXEC_LOCK: RwLock<()> = RwLock::const_new(());

/// Writes an executable `#!/bin/sh` script.
async fn script(dir: &TempDir, name: &str, body: &str) -> String {
    use std::io::Write;
    let path = dir.path().join(name);
    let _writing = EXEC_LOCK.write().await;
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o755).open(&path).unwrap();
    file.write_all(format!("#!/bin/sh\n{body}\n").as_bytes()).unwrap();
    drop(file);
    path.to_str().unwrap().to_string()
}

fn check(argv: &[&str], timeout: Duration) -> MiscCheck {
    MiscCheck {
        argv: argv.iter().map(|a| a.to_string()).collect(),
        timeout,
        dynamic: false,
        env: Vec::new(),
        cwd: None,
    }
}

async fn run(check: MiscCheck) -> ProbeReport {
    let spec = CheckSpec::new(Target::new(([127, 0, 0, 1], 0).into()), CheckKind::Misc(check));
    let _spawning = EXEC_LOCK.read().await;
    probe::run(&spec).await
}

const TIMEOUT: Duration = Duration::from_secs(5);

fn failure(report: ProbeReport) -> Failure {
    report.failure().cloned().unwrap_or_else(|| panic!("expected a failure, got {report:?}"))
}

#[tokio::test]
async fn exit_0_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let ok = script(&dir, "ok.sh", "exit 0").await;
    let report = run(check(&[&ok], TIMEOUT)).await;
    assert_eq!(report.outcome, Outcome::Up { weight: None });
}

#[tokio::test]
async fn exit_1_is_down_with_what_it_printed() {
    let dir = tempfile::tempdir().unwrap();
    let body = "echo 'backend said no'\necho 'disk full' >&2\nexit 1";
    let fail = script(&dir, "fail.sh", body).await;
    let failure = failure(run(check(&[&fail], TIMEOUT)).await);
    assert_eq!(
        failure,
        Failure::ScriptExit { code: 1, output: "backend said no disk full".into() }
    );
    assert_eq!(failure.to_string(), "script exited with status 1: backend said no disk full");
}

#[tokio::test]
async fn a_hung_script_is_killed_with_its_background_children() {
    let dir = tempfile::tempdir().unwrap();
    let body = "sleep 1000 &\necho $! > \"$1\"\nsleep 1000";
    let hang = script(&dir, "hang.sh", body).await;
    let pid_file = dir.path().join("background.pid");
    let timeout = Duration::from_millis(300);
    let report = run(check(&[&hang, pid_file.to_str().unwrap()], timeout)).await;
    assert!(
        report.latency >= timeout && report.latency < timeout + Duration::from_millis(1500),
        "latency {:?}",
        report.latency
    );
    assert_eq!(failure(report), Failure::ScriptTimeout(timeout));

    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    assert!(!pid.is_empty(), "the script wrote its background child's pid");
    // The kill is synchronous (SIGKILL to the group), but the grandchild's
    // reaper is not us: allow it a moment to go, and count a zombie as dead.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while is_running(&pid) {
        if std::time::Instant::now() > deadline {
            kill9(&pid);
            panic!("background child {pid} survived the timeout");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGKILL to `pid` by the syscall, not by running kill(1): a fork here, outside
/// [`EXEC_LOCK`], could inherit another test's script being written (ETXTBSY).
fn kill9(pid: &str) {
    if let Ok(pid) = pid.parse::<libc::pid_t>() {
        // SAFETY: kill(2) with a plain pid and signal number; no memory is involved.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Waits (2 s at most) for `pid` to die; kills it and fails the test otherwise.
fn assert_dies(pid: &str, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while is_running(pid) {
        if std::time::Instant::now() > deadline {
            kill9(pid);
            panic!("{what} {pid} survived");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test]
async fn an_abandoned_probe_kills_the_whole_group() {
    // What unsubscribing, a reload or shutdown does to a running script.
    let dir = tempfile::tempdir().unwrap();
    let body = "sleep 1000 &\necho $! > \"$1\"\necho $$ > \"$2\"\nsleep 1000";
    let hang = script(&dir, "abandoned.sh", body).await;
    let child_file = dir.path().join("child.pid");
    let self_file = dir.path().join("self.pid");
    let argv = [hang.as_str(), child_file.to_str().unwrap(), self_file.to_str().unwrap()];
    let probe = run(check(&argv, Duration::from_secs(60)));
    assert!(tokio::time::timeout(Duration::from_millis(500), probe).await.is_err());
    let child = std::fs::read_to_string(&child_file).unwrap().trim().to_string();
    let script_pid = std::fs::read_to_string(&self_file).unwrap().trim().to_string();
    assert_dies(&script_pid, "abandoned script");
    assert_dies(&child, "abandoned script's background child");
}

#[tokio::test]
async fn a_pass_just_inside_the_timeout_is_a_pass() {
    // A background child keeps the output pipes open after the script exits 0:
    // the verdict is the exit status, not a timeout.
    let dir = tempfile::tempdir().unwrap();
    let body = "sleep 5 &\necho $! > \"$1\"\nsleep 0.2\nexit 0";
    let late = script(&dir, "late.sh", body).await;
    let child_file = dir.path().join("child.pid");
    let report =
        run(check(&[&late, child_file.to_str().unwrap()], Duration::from_millis(300))).await;
    assert_eq!(report.outcome, Outcome::Up { weight: None }, "{report:?}");
    let child = std::fs::read_to_string(&child_file).unwrap().trim().to_string();
    kill9(&child);
}

/// Alive and not a zombie, per /proc/PID/stat (state is the field after "(comm)").
fn is_running(pid: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(Path::new("/proc").join(pid).join("stat")) else {
        return false;
    };
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X"))
}

#[tokio::test]
async fn a_chatty_script_does_not_block_on_its_pipes() {
    let dir = tempfile::tempdir().unwrap();
    // 1 MiB to each pipe: far past the 64 KiB a pipe buffers.
    let chatty =
        "head -c 1048576 /dev/zero | tr '\\0' o\nhead -c 1048576 /dev/zero | tr '\\0' e >&2";
    let pass = script(&dir, "chatty.sh", &format!("{chatty}\nexit 0")).await;
    let fail = script(&dir, "chatty-fail.sh", &format!("{chatty}\nexit 1")).await;
    let timeout = Duration::from_secs(3);
    let report = run(check(&[&pass], timeout)).await;
    assert!(report.is_up(), "{report:?}");
    assert!(report.latency < Duration::from_millis(2500), "slow: {:?}", report.latency);

    // A failure keeps only the start of all that.
    let Failure::ScriptExit { code: 1, output } = failure(run(check(&[&fail], timeout)).await)
    else {
        panic!("not a script exit")
    };
    assert!(output.starts_with("ooo") && output.len() <= 200, "{} bytes", output.len());
}

#[tokio::test]
async fn dynamic_exit_codes_set_the_weight() {
    let dir = tempfile::tempdir().unwrap();
    let exit_with = script(&dir, "exit-with.sh", "exit \"$1\"").await;
    let dynamic = |code: &str| MiscCheck { dynamic: true, ..check(&[&exit_with, code], TIMEOUT) };
    assert_eq!(run(dynamic("7")).await.outcome, Outcome::Up { weight: Some(5) });
    assert_eq!(run(dynamic("0")).await.outcome, Outcome::Up { weight: None });
    assert_eq!(
        failure(run(dynamic("1")).await),
        Failure::ScriptExit { code: 1, output: String::new() }
    );
    // Not dynamic, 7 is just a failure.
    let plain = check(&[&exit_with, "7"], TIMEOUT);
    assert!(matches!(failure(run(plain).await), Failure::ScriptExit { code: 7, .. }));
}

#[tokio::test]
async fn a_script_killed_by_a_signal_is_down_with_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    let killed = script(&dir, "killed.sh", "kill -9 $$\nexit 0").await;
    assert_eq!(failure(run(check(&[&killed], TIMEOUT)).await), Failure::ScriptSignal(9));
}

#[tokio::test]
async fn arguments_are_passed_without_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let args =
        script(&dir, "args.sh", "out=$1\nshift\nprintf '%s\\n' \"$#\" \"$@\" > \"$out\"").await;
    let out = dir.path().join("args.txt");
    let given = ["two words", "$HOME", "*", "it's; exit 1"];
    let mut argv = vec![args.as_str(), out.to_str().unwrap()];
    argv.extend(given);
    let report = run(check(&argv, TIMEOUT)).await;
    assert!(report.is_up(), "{report:?}");
    let expected = format!("{}\n{}\n", given.len(), given.join("\n"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected);
}

#[tokio::test]
async fn a_missing_program_is_named() {
    let missing = "/nonexistent/director-check.sh";
    let Failure::ScriptSpawn(message) = failure(run(check(&[missing], TIMEOUT)).await) else {
        panic!("not a spawn failure")
    };
    assert!(message.contains(missing), "{message}");
    assert!(message.contains("No such file"), "{message}");
}

#[tokio::test]
async fn env_vars_reach_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let body = "[ \"$RS_ADDRESS\" = 192.0.2.7 ] && [ \"$RS_PORT\" = 8080 ] && exit 0\n\
                echo \"got RS_ADDRESS=$RS_ADDRESS RS_PORT=$RS_PORT\"\nexit 1";
    let env_check = script(&dir, "env.sh", body).await;
    let env = vec![("RS_ADDRESS".into(), "192.0.2.7".into()), ("RS_PORT".into(), "8080".into())];
    let with_env = MiscCheck { env, ..check(&[&env_check], TIMEOUT) };
    let report = run(with_env).await;
    assert!(report.is_up(), "{report:?}");

    // Without them the same script fails, so the pass above was the env's doing.
    let without = failure(run(check(&[&env_check], TIMEOUT)).await);
    assert_eq!(without, Failure::ScriptExit { code: 1, output: "got RS_ADDRESS= RS_PORT=".into() });
}
