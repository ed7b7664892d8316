//! `p3-listen`: the checked servers, in their own process so that their CPU is
//! not counted against the checker. Every target accepts and closes.
//!
//! Talks over stdin/stdout: prints `ready N` once all N targets listen, answers each
//! `count` line with the number of connections accepted so far (the independent
//! witness that probes really happen), and exits when stdin closes, so it cannot
//! outlive the bench that started it.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpSocket;

use std::net::SocketAddr;

use super::{sys, Args};

pub fn main(args: impl Iterator<Item = String>) -> Result<(), String> {
    serve(&Args::from_args(args)?.layout.targets())
}

/// Listens on every target and speaks the line protocol above until stdin closes
/// (also P2's and P5's listeners, with their own targets).
pub fn serve(targets: &[SocketAddr]) -> Result<(), String> {
    sys::raise_nofile(targets.len() as u64 * 2 + 1024)?;
    let accepted = Arc::new(AtomicU64::new(0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async {
        for addr in targets {
            let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
            socket.set_reuseaddr(true).map_err(|e| format!("SO_REUSEADDR: {e}"))?;
            socket.bind(*addr).map_err(|e| format!("bind {addr}: {e}"))?;
            // Room for a burst: a dropped SYN would cost the prober a 1 s retransmit.
            let listener = socket.listen(1024).map_err(|e| format!("listen {addr}: {e}"))?;
            let accepted = accepted.clone();
            tokio::spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((conn, _)) => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                            drop(conn);
                        }
                        // Out of descriptors, say: back off rather than spin.
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                }
            });
        }
        println!("ready {}", targets.len());
        let _ = std::io::stdout().flush();
        let accepted = accepted.clone();
        // Blocking stdin reads stay off the runtime's only thread.
        tokio::task::spawn_blocking(move || answer_counts(&accepted))
            .await
            .map_err(|e| format!("stdin thread: {e}"))
    })
}

fn answer_counts(accepted: &AtomicU64) {
    let mut out = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        match line.as_deref().map(str::trim) {
            Ok("count") => {
                let _ = writeln!(out, "{}", accepted.load(Ordering::Relaxed));
                let _ = out.flush();
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}
