//! `directord` as a library: [`run`] takes a loaded configuration, a reload trigger
//! and a shutdown signal, and runs the VRRP driver with its tracked scripts, the
//! virtual servers (checks, decisions, IPVS) and the control socket until the signal
//! comes. The binary only parses flags, loads the file and turns signals into calls.

mod control;
#[cfg(feature = "fault-injection")]
mod fault;
mod metrics_server;
mod notify;
mod script_safety;
mod scripts;
pub mod services;
pub mod status;
mod supervised;
mod vrrp_runner;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use vrrp::driver::{DriverError, DriverStatus};

use crate::config::{Config, ConfigCache};
use crate::reconcile::{ReconcileError, Reconciler};
use crate::supervise::{Supervision, BEAT_EVERY};
use control::{Answer, ControlSocket, Handler};
use services::{Command, Services};
use status::Status;
use vrrp_runner::{Ended, VrrpRunner};

/// How long the VRRP driver gets to send its priority 0 adverts and remove addresses,
/// and the IPVS rules to go, together.
const STOP_BUDGET: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("control socket {path}: {source}")]
    ControlSocket {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("director.metrics: cannot listen on {addr}: {source}")]
    Metrics {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("ipvs: {0}")]
    Ipvs(#[from] crate::reconcile::ReconcileError),
    #[error("vrrp: {0}")]
    Vrrp(#[from] DriverError),
    #[error(
        "did not finish stopping within {STOP_BUDGET:?}: priority 0 adverts may be missing, \
         and virtual addresses (see `ip addr`) or IPVS rules (`ipvsadm -Ln`) may remain"
    )]
    StopTimeout,
    #[error("vrrp driver stopped unexpectedly: {0}")]
    VrrpPanicked(String),
    #[error("the virtual-server task stopped unexpectedly: {0}")]
    ServicesStopped(String),
}

/// Where the daemon listens and what it reloads.
#[derive(Debug, Clone)]
pub struct Options {
    pub socket: PathBuf,
    /// Re-read on every reload.
    pub config_path: PathBuf,
    /// The service manager to notify, and the loops' heartbeats.
    pub supervision: Supervision,
}

/// What the control socket reads between requests.
struct Shared {
    id: Mutex<String>,
    /// Configured addresses per VRRP instance name, for status.
    vips: Mutex<HashMap<String, Vec<String>>>,
    vrrp: watch::Receiver<DriverStatus>,
    /// The virtual-server task, once there are virtual servers.
    services: Mutex<Option<mpsc::Sender<Command>>>,
    reloads: mpsc::Sender<oneshot::Sender<serde_json::Value>>,
    metrics: metrics_server::MetricsState,
    connect_ipvs: ConnectIpvs,
}

impl Shared {
    async fn status(&self) -> serde_json::Value {
        let services = lock(&self.services).clone();
        let virtual_servers = match services {
            Some(services) => {
                let (reply, answer) = oneshot::channel();
                if services.send(Command::Status(reply)).await.is_err() {
                    return serde_json::json!({"error": "the virtual-server task has stopped"});
                }
                answer.await.unwrap_or_default()
            }
            None => Vec::new(),
        };
        let vrrp = self.vrrp.borrow().clone();
        let id = lock(&self.id).clone();
        let vips = lock(&self.vips).clone();
        serde_json::to_value(Status::new(&id, &vrrp, &vips, virtual_servers))
            .unwrap_or_else(|e| serde_json::json!({"error": e.to_string()}))
    }

    async fn reload(&self) -> serde_json::Value {
        let (reply, answer) = oneshot::channel();
        if self.reloads.send(reply).await.is_err() {
            return serde_json::json!({"error": "directord is stopping"});
        }
        answer.await.unwrap_or_else(|_| serde_json::json!({"error": "directord is stopping"}))
    }
}

impl Handler for Shared {
    fn handle<'a>(&'a self, request: &'a str) -> Answer<'a> {
        Box::pin(async move {
            match request {
                "status" => self.status().await,
                "reload" => self.reload().await,
                #[cfg(feature = "fault-injection")]
                fault if fault.starts_with("fault ") => fault::inject(fault).await,
                other => serde_json::json!({"error": format!("unknown request {other:?}")}),
            }
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Opens the kernel's IPVS for the virtual servers: [`connect`] (the kernel, or the
/// fault-injection fake), or in tests a reconciler on a [`crate::reconcile::FakeKernel`].
pub type ConnectIpvs = Arc<dyn Fn() -> Result<Reconciler, ReconcileError> + Send + Sync>;

/// Runs the director until `shutdown` resolves, then stops cleanly within
/// [`STOP_BUDGET`]: VRRP masters send priority 0 and drop their addresses, the IPVS
/// rules go (unless `keep_rules_on_exit`), and the control socket file is removed.
/// Each message on `reloads` (SIGHUP) re-reads `options.config_path`, as does the
/// control socket's `reload`: a file that fails validation is refused and the
/// running configuration stays.
pub async fn run(
    config: Config,
    options: Options,
    reloads: mpsc::Receiver<()>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    run_with(config, options, reloads, shutdown, Arc::new(connect)).await
}

/// [`run`], reaching IPVS through `connect_ipvs`.
pub async fn run_with(
    config: Config,
    options: Options,
    mut reloads: mpsc::Receiver<()>,
    shutdown: impl Future<Output = ()>,
    connect_ipvs: ConnectIpvs,
) -> Result<(), DaemonError> {
    // The control socket first: a second directord is told that one already answers
    // there, not that the metrics port is taken (dropping `control` removes its file).
    let control = ControlSocket::bind(&options.socket)
        .map_err(|source| DaemonError::ControlSocket { path: options.socket.clone(), source })?;
    let (metrics, metrics_endpoint) = metrics_server::bind(config.director.metrics)
        .map_err(|(addr, source)| DaemonError::Metrics { addr, source })?;
    log_warnings(&config);
    for program in script_safety::programs(&config.driver_config(), &config.track_scripts()) {
        if let Some(problem) = script_safety::problem(&program) {
            tracing::warn!("run as root, but unsafe: {problem}");
        }
    }
    let supervision = options.supervision.clone();
    let (mut vrrp, vrrp_status) = VrrpRunner::new(supervision.liveness.clone());
    // Without virtual servers no IPVS is needed (a VRRP-only director on a host
    // without the module); a reload that adds some starts them.
    let mut services = None;
    if !config.virtual_servers.is_empty() {
        services = Some(ServicesTask::start(&config, connect_ipvs()?, &vrrp_status, &supervision));
    }
    vrrp.start(&config);

    let (reload_tx, mut reload_rx) = mpsc::channel(4);
    let shared = Arc::new(Shared {
        id: Mutex::new(config.director_id().to_string()),
        vips: Mutex::new(vips_by_instance(&config)),
        vrrp: vrrp_status,
        services: Mutex::new(services.as_ref().map(|s| s.commands.clone())),
        reloads: reload_tx,
        metrics,
        connect_ipvs,
    });
    let server =
        tokio::spawn(control.serve(shared.clone(), supervision.liveness.register("control")));
    let notifier = supervision.notifier.clone();
    let pinger = tokio::spawn(supervision.clone().ping_watchdog());
    let status_updates = notifier
        .enabled()
        .then(|| tokio::spawn(supervised::status_updates(shared.clone(), notifier.clone())));
    let started = supervised::started(
        vrrp.is_running().then(|| shared.vrrp.clone()),
        services.as_ref().map(|s| s.commands.clone()),
    );
    tokio::pin!(started);
    let mut ready = false;
    let main_beat = supervision.liveness.register("main");
    let mut beat_tick = tokio::time::interval(BEAT_EVERY);
    let metrics_task = tokio::spawn(metrics_endpoint.serve(shared.clone()));

    let mut current = Arc::new(config);
    // Reloads parse only the virtual servers whose text changed (benchmark P2).
    let mut cache = ConfigCache::primed(&options.config_path);
    tokio::pin!(shutdown);
    let early = loop {
        main_beat.send_replace(std::time::Instant::now());
        // SIGHUP and `directorctl reload` are one reload; only the latter wants the answer.
        let (trigger, reply) = tokio::select! {
            () = &mut shutdown => break None,
            () = &mut started, if !ready => {
                ready = true;
                let summary = supervised::current_summary(&shared).await;
                tracing::info!(event = "ready", status = %summary, "ready: {summary}");
                notifier.ready(&summary);
                continue;
            }
            _ = beat_tick.tick() => continue,
            ended = vrrp.ended() => break Some(ended_result(ended)),
            ended = services_ended(&mut services) => {
                // Nothing would follow the checks or VRRP any more: leave, so the
                // peer takes over, rather than hold the VIPs over frozen rules.
                let why = match ended {
                    Ok(()) => "stopped".to_string(),
                    Err(e) => e.to_string(),
                };
                tracing::error!("the virtual-server task {why}; stopping");
                services = None;
                break Some(Err(DaemonError::ServicesStopped(why)));
            }
            Some(()) = reloads.recv() => ("SIGHUP", None),
            Some(reply) = reload_rx.recv() => ("control", Some(reply)),
        };
        if ready {
            notifier.reloading();
        }
        let outcome = supervised::beating(
            &main_beat,
            reload(
                &options,
                &mut cache,
                &mut current,
                &mut vrrp,
                &mut services,
                &shared,
                &supervision,
            ),
        )
        .await;
        shared.metrics.reloaded(&outcome);
        supervised::reloaded(trigger, &outcome, &shared, &notifier, ready).await;
        if let Some(reply) = reply {
            let _ = reply.send(outcome);
        }
    };
    notifier.stopping();
    tracing::info!(event = "stopping", "stopping");
    drop(main_beat);
    pinger.abort();
    if let Some(task) = status_updates {
        task.abort();
    }
    server.abort();
    let _ = server.await;
    metrics_task.abort();
    let _ = metrics_task.await;
    // Whatever ended the loop, the rules leave (or stay) as configured.
    let stopped = stop(&mut vrrp, services).await;
    drop(shared);
    match early {
        Some(result) => result,
        None => stopped,
    }
}

/// Resolves when the virtual-server task ends (it only ends by a Stop); never without one.
async fn services_ended(services: &mut Option<ServicesTask>) -> Result<(), tokio::task::JoinError> {
    match services {
        Some(services) => (&mut services.task).await,
        None => std::future::pending().await,
    }
}

/// The virtual-server task and its command channel.
struct ServicesTask {
    commands: mpsc::Sender<Command>,
    task: tokio::task::JoinHandle<()>,
}

impl ServicesTask {
    fn start(
        config: &Config,
        reconciler: Reconciler,
        vrrp: &watch::Receiver<DriverStatus>,
        supervision: &Supervision,
    ) -> ServicesTask {
        let (commands, rx) = mpsc::channel(16);
        let beats = supervised::ServicesBeats::new(
            supervision.liveness.register("services"),
            supervision.liveness.register("checks"),
        );
        let services =
            Services::new(config, checker::NetProber, reconciler, vrrp.clone()).with_beats(beats);
        ServicesTask { commands, task: tokio::spawn(services.run(rx)) }
    }
}

/// VRRP and the rules leave together, within [`STOP_BUDGET`]. The virtual-server task
/// hears of the stop first, so that VRRP leaving MASTER is not read as a reason to
/// remove rules that `keep_rules_on_exit` keeps.
async fn stop(vrrp: &mut VrrpRunner, services: Option<ServicesTask>) -> Result<(), DaemonError> {
    let mut answer = None;
    if let Some(services) = &services {
        let (reply, receiver) = oneshot::channel();
        let sent = tokio::time::timeout(STOP_BUDGET, services.commands.send(Command::Stop(reply)));
        if matches!(sent.await, Ok(Ok(()))) {
            answer = Some(receiver);
        }
    }
    let rules = async {
        if let Some(answer) = answer {
            let _ = answer.await;
        }
        if let Some(services) = services {
            let _ = services.task.await;
        }
    };
    let (vrrp_stopped, rules_stopped) =
        tokio::join!(vrrp.stop(STOP_BUDGET), tokio::time::timeout(STOP_BUDGET, rules));
    match (vrrp_stopped, rules_stopped) {
        (Ok(ended), Ok(())) => ended_result(ended),
        _ => Err(DaemonError::StopTimeout),
    }
}

fn ended_result(ended: Ended) -> Result<(), DaemonError> {
    match ended {
        Ended::Ok => Ok(()),
        Ended::Failed(e) => Err(e.into()),
        Ended::Panicked(e) => Err(DaemonError::VrrpPanicked(e)),
    }
}

/// Re-reads the file; a valid one is applied (VRRP reconfigured in place, virtual
/// servers diffed), an invalid one refused with its errors. The answer is what
/// `directorctl reload` prints.
async fn reload(
    options: &Options,
    cache: &mut ConfigCache,
    current: &mut Arc<Config>,
    vrrp: &mut VrrpRunner,
    services: &mut Option<ServicesTask>,
    shared: &Shared,
    supervision: &Supervision,
) -> serde_json::Value {
    let started = Instant::now();
    let path = options.config_path.display().to_string();
    // Reading and checking a big file takes a while: off the thread VRRP runs on.
    let (file, mut taken) = (options.config_path.clone(), std::mem::take(cache));
    let loaded = tokio::task::spawn_blocking(move || {
        let loaded = Config::load_cached(&file, &mut taken);
        (loaded, taken)
    })
    .await;
    let config = match loaded {
        Ok((Ok(config), back)) => {
            *cache = back;
            // Shared with the virtual-server task, not copied: a big site is megabytes.
            Arc::new(config)
        }
        Ok((Err(e), back)) => {
            *cache = back;
            return serde_json::json!({
                "error": format!("{path} refused, the running configuration stays:\n{e}")
            });
        }
        Err(e) => {
            return serde_json::json!({
                "error": format!("{path}: reading it failed ({e}); the running configuration stays")
            })
        }
    };
    let loaded_ms = started.elapsed().as_secs_f64() * 1000.0;
    if *config == **current {
        // A move that failed may have left the endpoint closed: this retries it (and
        // costs nothing when it listens where it should).
        if let Err(e) = shared.metrics.rebind(current.director.metrics).await {
            tracing::warn!("reload: {e}");
        }
        return serde_json::json!({"reloaded": path, "changed": false, "ipvs_ops": 0,
            "duration_ms": started.elapsed().as_secs_f64() * 1000.0});
    }
    // The first virtual servers need the kernel: connect before anything changes.
    let mut first_reconciler = None;
    if !config.virtual_servers.is_empty() && services.is_none() {
        match (shared.connect_ipvs)() {
            Ok(reconciler) => first_reconciler = Some(reconciler),
            Err(e) => {
                return serde_json::json!({"error": format!(
                    "{path} refused, the running configuration stays: ipvs: {e}"
                )})
            }
        }
    }
    // Before anything changes, so that an address it cannot take refuses the reload.
    if let Err(e) = shared.metrics.rebind(config.director.metrics).await {
        return serde_json::json!({"error": format!(
            "{path} refused, the running configuration stays: {e}"
        )});
    }
    if let Err(e) = vrrp.reload(&config).await {
        let _ = shared.metrics.rebind(current.director.metrics).await;
        return serde_json::json!({"error": format!(
            "{path} refused by VRRP, the running configuration stays: {e}"
        )});
    }
    // VRRP runs the new instances now: status shows their addresses.
    *lock(&shared.id) = config.director_id().to_string();
    *lock(&shared.vips) = vips_by_instance(&config);
    if let Some(reconciler) = first_reconciler {
        let started = ServicesTask::start(&config, reconciler, &shared.vrrp, supervision);
        *lock(&shared.services) = Some(started.commands.clone());
        *services = Some(started);
    }
    log_warnings(&config);
    if config.director.control_socket != current.director.control_socket {
        tracing::warn!(
            "reload: director.control_socket changed; it takes effect at restart, the daemon \
             still listens on {}",
            options.socket.display()
        );
    }
    let mut ipvs = serde_json::json!({"ipvs_ops": 0, "ipvs_failed": []});
    if let Some(services) = services {
        let (reply, answer) = oneshot::channel();
        let command = Command::Reload(config.clone(), reply);
        let report = match services.commands.send(command).await {
            Ok(()) => answer.await.ok(),
            Err(_) => None,
        };
        let Some(report) = report else {
            *current = config;
            return serde_json::json!({"error": format!(
                "{path}: VRRP took it, but the virtual-server task has stopped (see the log)"
            )});
        };
        ipvs = serde_json::json!({
            "ipvs_ops": report.ops.len(),
            "ipvs_failed": report.failed.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
    }
    *current = config;
    // The reload's log line is its caller's (supervised::reloaded), with these numbers.
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut answer = serde_json::json!({"reloaded": path, "changed": true,
        "duration_ms": duration_ms, "load_ms": loaded_ms});
    if let (Some(answer), Some(ipvs)) = (answer.as_object_mut(), ipvs.as_object()) {
        answer.extend(ipvs.clone());
    }
    answer
}

/// The kernel's IPVS (or, with fault injection, a fake one when asked for).
fn connect() -> Result<Reconciler, ReconcileError> {
    #[cfg(feature = "fault-injection")]
    return fault::connect();
    #[cfg(not(feature = "fault-injection"))]
    Reconciler::connect()
}

fn log_warnings(config: &Config) {
    for warning in config.warnings() {
        tracing::warn!("config: {warning}");
    }
}

fn vips_by_instance(config: &Config) -> HashMap<String, Vec<String>> {
    let vips = |i: &crate::config::Instance| {
        i.virtual_addresses.iter().map(|v| format!("{}/{}", v.address, v.prefix_len)).collect()
    };
    config.vrrp.instances.iter().map(|i| (i.name.clone(), vips(i))).collect()
}
