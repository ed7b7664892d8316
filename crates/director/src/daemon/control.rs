//! The control socket: a Unix stream socket, mode 0600. One request line per
//! connection (`status`, `reload`), one JSON document back.

use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::supervise::{Heartbeat, BEAT_EVERY};

/// An answer still being worked out (a reload waits for the kernel).
pub type Answer<'a> = Pin<Box<dyn Future<Output = serde_json::Value> + Send + 'a>>;

/// Answers a request line; the daemon decides what each command means.
pub trait Handler: Send + Sync + 'static {
    fn handle<'a>(&'a self, request: &'a str) -> Answer<'a>;
}

/// The listening socket; removes its file on drop.
#[derive(Debug)]
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Binds `path` (creating its directory), refusing to take over a socket another
    /// daemon still answers on; a stale file from a crashed daemon is replaced.
    pub fn bind(path: &Path) -> io::Result<ControlSocket> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_socket() => {
                // Never delete what is not a socket: `--socket` pointing at a config
                // file must not cost the file.
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "exists and is not a socket; refusing to replace it",
                ));
            }
            Ok(_) => {
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        "another directord answers on this socket",
                    ));
                }
                std::fs::remove_file(path)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // The socket is created 0600 (umask), not made so after a window at 0644.
        // SAFETY: umask only swaps the process's file-creation mask.
        let old_mask = unsafe { libc::umask(0o177) };
        let bound = UnixListener::bind(path);
        // SAFETY: as above, restoring the previous mask.
        unsafe { libc::umask(old_mask) };
        let listener = bound?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        Ok(ControlSocket { listener, path: path.to_path_buf() })
    }

    /// Serves until the task is dropped; each connection gets its own task. Beats
    /// `heartbeat` at every accept and, idle, every [`BEAT_EVERY`].
    pub async fn serve(self, handler: std::sync::Arc<dyn Handler>, heartbeat: Heartbeat) {
        let mut beat_tick = tokio::time::interval(BEAT_EVERY);
        loop {
            heartbeat.send_replace(std::time::Instant::now());
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = beat_tick.tick() => continue,
            };
            match accepted {
                Ok((stream, _)) => {
                    let handler = handler.clone();
                    tokio::spawn(async move {
                        if let Err(e) = answer(stream, handler.as_ref()).await {
                            tracing::debug!("control connection: {e}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("control socket accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Requests longer than this are refused: no command needs more.
const MAX_REQUEST: u64 = 4096;

async fn answer(stream: UnixStream, handler: &dyn Handler) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST));
    let reply =
        match tokio::time::timeout(std::time::Duration::from_secs(5), reader.read_line(&mut line))
            .await
        {
            Ok(Ok(_)) => handler.handle(line.trim()).await,
            Ok(Err(e)) => return Err(e),
            Err(_) => serde_json::json!({"error": "no request within 5 s"}),
        };
    let mut bytes = serde_json::to_vec(&reply).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write.write_all(&bytes).await?;
    write.shutdown().await
}
