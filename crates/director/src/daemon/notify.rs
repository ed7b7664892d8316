//! Notify programs of virtual and real servers (keepalived's notify_up/notify_down,
//! quorum_up/quorum_down): argv run directly, no shell, not waited for by the loop,
//! reaped in the background; a failure to start or a non-zero exit is logged.

/// Starts `argv`; `vs` and `why` name it in logs.
pub fn spawn(vs: &str, why: &str, argv: &[String]) {
    let Some((program, args)) = argv.split_first() else { return };
    let mut command = tokio::process::Command::new(program);
    command.args(args).stdin(std::process::Stdio::null());
    match command.spawn() {
        Ok(mut child) => {
            let (program, vs, why) = (program.clone(), vs.to_string(), why.to_string());
            tokio::spawn(async move {
                match child.wait().await {
                    Ok(status) if status.success() => {}
                    Ok(status) => tracing::warn!("{vs}: notify {program} ({why}): {status}"),
                    Err(e) => tracing::warn!("{vs}: notify {program} ({why}): {e}"),
                }
            });
        }
        Err(e) => tracing::error!("{vs}: notify {program} ({why}): cannot start: {e}"),
    }
}
