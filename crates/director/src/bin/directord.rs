//! `directord`: the director daemon. Thin: flags, config, signals; the work is in
//! `director::daemon`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use director::config::Config;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, Parser)]
#[command(name = "directord", version, about = "IPVS director daemon: health checks and VRRP")]
struct Cli {
    /// The YAML configuration.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
    /// Control socket (default: director.control_socket from the config).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DIRECTOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("directord: {e}");
            return ExitCode::from(1);
        }
    };
    let socket = cli.socket.clone().unwrap_or_else(|| config.control_socket().to_path_buf());
    // One thread: VRRP timing and the checks are I/O-bound, and one thread keeps
    // wake-ups cheap (see BENCHMARKS.md P3).
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("directord: tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let shutdown = match signals(cli.config.clone()) {
            Ok(shutdown) => shutdown,
            Err(e) => return Err(format!("signal handlers: {e}")),
        };
        tracing::info!("directord starting with {}", cli.config.display());
        director::daemon::run(config, socket, shutdown).await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => {
            tracing::info!("directord stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("directord: {e}");
            ExitCode::from(1)
        }
    }
}

/// A future that resolves on SIGTERM or SIGINT. SIGHUP re-reads and validates the
/// configuration: a bad file is refused with its errors and the running one stays.
fn signals(config_path: PathBuf) -> std::io::Result<impl std::future::Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    Ok(async move {
        loop {
            tokio::select! {
                _ = term.recv() => return tracing::info!("SIGTERM: stopping"),
                _ = int.recv() => return tracing::info!("SIGINT: stopping"),
                _ = hup.recv() => match Config::load(&config_path) {
                    Ok(_) => tracing::warn!(
                        "SIGHUP: {} is valid; this version applies VRRP changes only at \
                         restart, so the running configuration stays",
                        config_path.display()
                    ),
                    Err(e) => tracing::error!(
                        "SIGHUP: {} refused, the running configuration stays:\n{e}",
                        config_path.display()
                    ),
                },
            }
        }
    })
}
