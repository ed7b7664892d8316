//! The VRRP side of the daemon: the driver task, its tracked scripts, and reloads
//! that reconfigure it in place (instances keep their state).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use vrrp::driver::{DriverError, DriverStatus, Input};

use crate::config::{Config, TrackScriptRun};
use crate::supervise::{Liveness, BEAT_EVERY};

use super::scripts;

/// Stopped, or running with its inputs and its stop signal.
pub struct VrrpRunner {
    /// Where every driver publishes; the daemon's readers never change channel.
    status: Arc<watch::Sender<DriverStatus>>,
    running: Option<Running>,
    /// Each driver started registers its loop here.
    liveness: Arc<Liveness>,
}

struct Running {
    inputs: mpsc::Sender<Input>,
    stop: watch::Sender<bool>,
    driver: JoinHandle<Result<(), DriverError>>,
    forward: JoinHandle<()>,
    scripts: Vec<JoinHandle<()>>,
    track_scripts: Vec<TrackScriptRun>,
}

/// How a driver task ended.
pub enum Ended {
    Ok,
    Failed(DriverError),
    Panicked(String),
}

impl VrrpRunner {
    pub fn new(liveness: Arc<Liveness>) -> (VrrpRunner, watch::Receiver<DriverStatus>) {
        let (status, receiver) = watch::channel(DriverStatus::default());
        (VrrpRunner { status: Arc::new(status), running: None, liveness }, receiver)
    }

    /// Whether a driver runs (the configuration has instances).
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Starts the driver if `config` has instances.
    pub fn start(&mut self, config: &Config) {
        let driver_config = config.driver_config();
        if driver_config.router.instances.is_empty() {
            return;
        }
        let (inputs_tx, inputs_rx) = mpsc::channel(64);
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let (own_tx, mut own_rx) = watch::channel(DriverStatus::default());
        let stopped = async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        };
        let beat =
            vrrp::driver::Heartbeat { beat: self.liveness.register("vrrp"), every: BEAT_EVERY };
        #[cfg(feature = "fault-injection")]
        super::fault::vrrp_started(inputs_tx.clone());
        let driver = tokio::spawn(vrrp::driver::run_with_heartbeat(
            driver_config,
            inputs_rx,
            own_tx,
            stopped,
            Some(beat),
        ));
        let status = self.status.clone();
        let forward = tokio::spawn(async move {
            while own_rx.changed().await.is_ok() {
                let now = own_rx.borrow_and_update().clone();
                status.send_replace(now);
            }
        });
        let track_scripts = config.track_scripts();
        let scripts = spawn_scripts(&track_scripts, &inputs_tx);
        self.running = Some(Running {
            inputs: inputs_tx,
            stop: stop_tx,
            driver,
            forward,
            scripts,
            track_scripts,
        });
    }

    /// Applies a reloaded configuration: a running driver is reconfigured (instances
    /// that stay keep their state), a stopped one starts if there are instances now.
    /// An error means the driver refused it and runs on with the old configuration.
    pub async fn reload(&mut self, config: &Config) -> Result<(), String> {
        let Some(running) = &mut self.running else {
            return self.start_checked(config).await;
        };
        let (reply, answer) = oneshot::channel();
        let input = Input::Reconfigure { config: Box::new(config.driver_config()), reply };
        running.inputs.send(input).await.map_err(|_| "the VRRP driver has stopped".to_string())?;
        match answer.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("the VRRP driver stopped during the reload".to_string()),
        }
        let track_scripts = config.track_scripts();
        if track_scripts != running.track_scripts {
            // Rise/fall counts live in the driver; restarting the runners loses nothing.
            for task in running.scripts.drain(..) {
                task.abort();
            }
            running.scripts = spawn_scripts(&track_scripts, &running.inputs);
            running.track_scripts = track_scripts;
        }
        Ok(())
    }

    /// Starts the driver for a reload and waits until it runs (its first status): a
    /// driver that cannot open its interfaces refuses the reload instead of ending the
    /// daemon later.
    async fn start_checked(&mut self, config: &Config) -> Result<(), String> {
        let mut published = self.status.subscribe();
        self.start(config);
        let Some(running) = &mut self.running else { return Ok(()) };
        let started = tokio::select! {
            ended = &mut running.driver => Err(match ended {
                Ok(Ok(())) => "the VRRP driver stopped at once".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(e) => format!("the VRRP driver panicked: {e}"),
            }),
            seen = published.wait_for(|s| !s.instances.is_empty()) => match seen {
                Ok(_) => Ok(()),
                Err(_) => Err("the VRRP driver stopped at once".to_string()),
            },
        };
        if started.is_err() {
            self.stop_tasks();
        }
        started
    }

    /// Resolves when a running driver ends by itself (an error); never if stopped.
    pub async fn ended(&mut self) -> Ended {
        match &mut self.running {
            Some(running) => {
                let ended = match (&mut running.driver).await {
                    Ok(Ok(())) => Ended::Ok,
                    Ok(Err(e)) => Ended::Failed(e),
                    Err(e) => Ended::Panicked(e.to_string()),
                };
                self.stop_tasks();
                ended
            }
            None => std::future::pending().await,
        }
    }

    /// Priority 0 adverts and addresses removed, within `budget`. `Err` when the
    /// budget ran out (the driver is then aborted).
    pub async fn stop(&mut self, budget: Duration) -> Result<Ended, ()> {
        let Some(running) = &mut self.running else { return Ok(Ended::Ok) };
        let _ = running.stop.send(true);
        let result = match tokio::time::timeout(budget, &mut running.driver).await {
            Ok(Ok(Ok(()))) => Ok(Ended::Ok),
            Ok(Ok(Err(e))) => Ok(Ended::Failed(e)),
            Ok(Err(e)) => Ok(Ended::Panicked(e.to_string())),
            Err(_) => {
                running.driver.abort();
                Err(())
            }
        };
        self.stop_tasks();
        result
    }

    fn stop_tasks(&mut self) {
        if let Some(running) = self.running.take() {
            for task in running.scripts {
                task.abort();
            }
            running.forward.abort();
        }
    }
}

fn spawn_scripts(scripts: &[TrackScriptRun], inputs: &mpsc::Sender<Input>) -> Vec<JoinHandle<()>> {
    scripts
        .iter()
        .map(|script| tokio::spawn(scripts::run(script.clone(), inputs.clone())))
        .collect()
}
