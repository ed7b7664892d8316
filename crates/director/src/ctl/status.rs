//! `directorctl status` and `reload`: ask the daemon over its control socket.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::daemon::status::Status;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("directord is not running: no control socket at {0} (start it, or pass --socket)")]
    NotRunning(PathBuf),
    #[error("directord is not running: {0} refuses connections (a stale socket)")]
    Refused(PathBuf),
    #[error("permission denied on {0}: the control socket is mode 0600; run as its owner (usually root)")]
    Permission(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: the daemon answered: {message}")]
    Daemon { path: PathBuf, message: String },
    #[error("{path}: unreadable answer: {source}")]
    BadAnswer {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl ControlError {
    /// 3: no daemon; 4: no permission; 1: anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            ControlError::NotRunning(_) | ControlError::Refused(_) => 3,
            ControlError::Permission(_) => 4,
            _ => 1,
        }
    }
}

/// Sends one request line and returns the daemon's JSON answer.
pub fn request(socket: &Path, line: &str) -> Result<serde_json::Value, ControlError> {
    let path = socket.to_path_buf();
    let mut stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ControlError::NotRunning(path.clone()),
        io::ErrorKind::ConnectionRefused => ControlError::Refused(path.clone()),
        io::ErrorKind::PermissionDenied => ControlError::Permission(path.clone()),
        _ => ControlError::Io { path: path.clone(), source: e },
    })?;
    let io_err = |source| ControlError::Io { path: path.clone(), source };
    // A reload of a big site waits for the kernel; status answers at once.
    let patience = if line == "reload" { 120 } else { 10 };
    stream.set_read_timeout(Some(Duration::from_secs(patience))).map_err(io_err)?;
    stream.write_all(format!("{line}\n").as_bytes()).map_err(io_err)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(io_err)?;
    let value: serde_json::Value = serde_json::from_str(&answer)
        .map_err(|source| ControlError::BadAnswer { path: path.clone(), source })?;
    if let Some(message) = value.get("error").and_then(|m| m.as_str()) {
        return Err(ControlError::Daemon { path, message: message.to_string() });
    }
    Ok(value)
}

/// Prints the status as JSON or text.
pub fn run(socket: &Path, json: bool, out: &mut impl Write) -> Result<(), ControlError> {
    let value = request(socket, "status")?;
    let path = socket.to_path_buf();
    let io_err = |source| ControlError::Io { path: path.clone(), source };
    if json {
        writeln!(out, "{value}").map_err(io_err)?;
    } else {
        let status: Status = serde_json::from_value(value)
            .map_err(|source| ControlError::BadAnswer { path: path.clone(), source })?;
        out.write_all(status.to_text().as_bytes()).map_err(io_err)?;
    }
    Ok(())
}

/// Asks for a reload and prints what was applied.
pub fn reload(socket: &Path, json: bool, out: &mut impl Write) -> Result<(), ControlError> {
    let value = request(socket, "reload")?;
    let path = socket.to_path_buf();
    let io_err = |source| ControlError::Io { path: path.clone(), source };
    if json {
        writeln!(out, "{value}").map_err(io_err)?;
        return Ok(());
    }
    let file = value.get("reloaded").and_then(|v| v.as_str()).unwrap_or("the configuration");
    if value.get("changed").and_then(|v| v.as_bool()) == Some(false) {
        writeln!(out, "{file}: unchanged, nothing to do").map_err(io_err)?;
        return Ok(());
    }
    let ops = value.get("ipvs_ops").and_then(|v| v.as_u64()).unwrap_or(0);
    let ms = value.get("duration_ms").and_then(|v| v.as_f64()).unwrap_or(0.0);
    writeln!(out, "{file}: reloaded in {ms:.1} ms, {ops} IPVS operation(s)").map_err(io_err)?;
    let failed = value.get("ipvs_failed").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    for failure in &failed {
        writeln!(out, "  failed: {}", failure.as_str().unwrap_or_default()).map_err(io_err)?;
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(ControlError::Daemon {
            path,
            message: format!("{} IPVS operation(s) refused by the kernel", failed.len()),
        })
    }
}
