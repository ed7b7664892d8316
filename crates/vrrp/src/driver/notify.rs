//! Notify programs, run on transitions as keepalived runs them: argv directly (no
//! shell), not waited for by the loop, reaped in the background, output to our stderr.

use super::Notify;
use crate::machine::State;

/// Runs the program for `to` (or `stop`) and the `any` program with keepalived's four
/// arguments: `kind` (INSTANCE|GROUP), `name`, the state and the priority.
pub(super) fn run(
    notify: &Notify,
    kind: &str,
    name: &str,
    to: State,
    stopping: bool,
    priority: u8,
) {
    // Init without stopping is no state keepalived notifies.
    if to == State::Init && !stopping {
        return;
    }
    let specific = if stopping {
        notify.stop.as_ref()
    } else {
        match to {
            State::Master => notify.master.as_ref(),
            State::Backup => notify.backup.as_ref(),
            State::Fault => notify.fault.as_ref(),
            State::Init => None,
        }
    };
    let state = if stopping { "STOP" } else { to.as_str() };
    if let Some(argv) = specific {
        spawn(name, argv, &[]);
    }
    if let Some(argv) = &notify.any {
        spawn(name, argv, &[kind, name, state, &priority.to_string()]);
    }
}

fn spawn(name: &str, argv: &[String], extra: &[&str]) {
    let Some((program, args)) = argv.split_first() else { return };
    let mut command = tokio::process::Command::new(program);
    command.args(args).args(extra).stdin(std::process::Stdio::null());
    match command.spawn() {
        Ok(mut child) => {
            let program = program.clone();
            let name = name.to_string();
            tokio::spawn(async move {
                match child.wait().await {
                    Ok(status) if status.success() => {}
                    Ok(status) => tracing::warn!("{name}: notify {program}: {status}"),
                    Err(e) => tracing::warn!("{name}: notify {program}: {e}"),
                }
            });
        }
        Err(e) => tracing::error!("{name}: notify {program}: cannot start: {e}"),
    }
}
