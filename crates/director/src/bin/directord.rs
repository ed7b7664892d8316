//! `directord`: the director daemon. Thin: flags, config, signals; the work is in
//! `director::daemon`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use director::config::Config;
use director::supervise::{NotifyEnv, Supervision};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

#[derive(Debug, Parser)]
#[command(name = "directord", version, about = "IPVS director daemon: health checks and VRRP")]
struct Cli {
    /// The YAML configuration.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
    /// Control socket (default: director.control_socket from the config).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Log lines on stderr: text for people, json (one object per line) for machines.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Read before any thread starts, and taken out of the environment: notify and
    // check programs must not talk to the service manager in the daemon's name.
    let notify_env = NotifyEnv::parse(|k| std::env::var(k).ok(), std::process::id());
    for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        std::env::remove_var(var);
    }
    init_logs(cli.log_format);
    let supervision = Supervision::from_env(notify_env);
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
    let options =
        director::daemon::Options { socket, config_path: cli.config.clone(), supervision };
    let result = runtime.block_on(async {
        let (reloads, shutdown) = match signals() {
            Ok(signals) => signals,
            Err(e) => return Err(format!("signal handlers: {e}")),
        };
        tracing::info!(config = %cli.config.display(), "directord starting with {}", cli.config.display());
        director::daemon::run(config, options, reloads, shutdown).await.map_err(|e| e.to_string())
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

/// Logs to stderr, filtered by `DIRECTOR_LOG` (default `info`).
fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DIRECTOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        // Fields at the top level, so `jq .instance` works; no span noise.
        LogFormat::Json => logs.json().flatten_event(true).with_current_span(false).init(),
    }
}

/// SIGHUP becomes a reload request; the future resolves on SIGTERM or SIGINT.
fn signals() -> std::io::Result<(mpsc::Receiver<()>, impl std::future::Future<Output = ()>)> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let (reload_tx, reload_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading");
            // A reload already queued covers this one too: it re-reads the file.
            let _ = reload_tx.try_send(());
        }
    });
    Ok((reload_rx, async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = int.recv() => tracing::info!("SIGINT: stopping"),
        }
    }))
}
