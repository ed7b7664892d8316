//! `directord` as a library: [`run`] takes a loaded configuration and a shutdown
//! signal, and runs the VRRP driver, its tracked scripts and the control socket until
//! the signal comes. The binary only parses flags, loads the file and waits for signals.

mod control;
mod script_safety;
mod scripts;
pub mod status;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use vrrp::driver::{DriverError, DriverStatus};

use crate::config::Config;
use control::{ControlSocket, Handler};
use status::Status;

/// How long the VRRP driver gets to send its priority 0 adverts and remove addresses.
const STOP_BUDGET: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("control socket {path}: {source}")]
    ControlSocket {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("vrrp: {0}")]
    Vrrp(#[from] DriverError),
    #[error(
        "vrrp did not finish stopping within {STOP_BUDGET:?}: priority 0 adverts may be \
         missing and virtual addresses may remain (see `ip addr`)"
    )]
    StopTimeout,
    #[error("vrrp driver stopped unexpectedly: {0}")]
    VrrpPanicked(String),
}

/// What the control socket reads; refreshed by the VRRP driver's status channel.
#[derive(Debug)]
struct Shared {
    id: String,
    vips: Vec<Vec<String>>,
    vrrp: watch::Receiver<DriverStatus>,
}

impl Handler for Shared {
    fn handle(&self, request: &str) -> serde_json::Value {
        match request {
            "status" => {
                let vrrp = self.vrrp.borrow().clone();
                serde_json::to_value(Status::new(&self.id, &vrrp, &self.vips))
                    .unwrap_or_else(|e| serde_json::json!({"error": e.to_string()}))
            }
            other => serde_json::json!({"error": format!("unknown request {other:?}")}),
        }
    }
}

/// Runs the director until `shutdown` resolves, then stops cleanly: VRRP masters send
/// priority 0 and drop their addresses (within [`STOP_BUDGET`]), and the control
/// socket file is removed.
pub async fn run(
    config: Config,
    socket: PathBuf,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let control = ControlSocket::bind(&socket)
        .map_err(|source| DaemonError::ControlSocket { path: socket.clone(), source })?;
    let driver_config = config.driver_config();
    let vips = driver_config
        .router
        .instances
        .iter()
        .map(|i| {
            i.virtual_addresses.iter().map(|v| format!("{}/{}", v.address, v.prefix_len)).collect()
        })
        .collect();
    for warning in config.warnings() {
        tracing::warn!("config: {warning}");
    }
    let track_scripts = config.track_scripts();
    for program in script_safety::programs(&driver_config, &track_scripts) {
        if let Some(problem) = script_safety::problem(&program) {
            tracing::warn!("run as root, but unsafe: {problem}");
        }
    }
    let (status_tx, status_rx) = watch::channel(DriverStatus::default());
    let shared = Arc::new(Shared { id: config.director_id().to_string(), vips, vrrp: status_rx });
    let server = tokio::spawn(control.serve(shared.clone()));

    let (stop_tx, stop_rx) = watch::channel(false);
    let (inputs_tx, inputs_rx) = mpsc::channel(64);
    let scripts: Vec<_> = track_scripts
        .into_iter()
        .map(|script| tokio::spawn(scripts::run(script, inputs_tx.clone())))
        .collect();
    drop(inputs_tx);

    let has_vrrp = !driver_config.router.instances.is_empty();
    let mut stop_rx_driver = stop_rx.clone();
    let mut driver = tokio::spawn(async move {
        if !has_vrrp {
            return Ok(());
        }
        let stopped = async move {
            let _ = stop_rx_driver.wait_for(|stop| *stop).await;
        };
        vrrp::driver::run(driver_config, inputs_rx, status_tx, stopped).await
    });

    tokio::pin!(shutdown);
    let early = tokio::select! {
        () = &mut shutdown => None,
        result = &mut driver, if has_vrrp => Some(result),
    };
    let _ = stop_tx.send(true);
    let result = match early {
        Some(result) => flatten(result),
        None => match tokio::time::timeout(STOP_BUDGET, &mut driver).await {
            Ok(result) => flatten(result),
            Err(_) => {
                driver.abort();
                Err(DaemonError::StopTimeout)
            }
        },
    };
    for task in scripts {
        task.abort();
    }
    server.abort();
    let _ = server.await;
    drop(stop_rx);
    result
}

fn flatten(
    joined: Result<Result<(), DriverError>, tokio::task::JoinError>,
) -> Result<(), DaemonError> {
    match joined {
        Ok(result) => Ok(result?),
        Err(e) => Err(DaemonError::VrrpPanicked(e.to_string())),
    }
}
