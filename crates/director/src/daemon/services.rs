//! The virtual-server side of the daemon: checks feed each virtual server's decisions
//! ([`crate::decide`]), VRRP says which of them this director owns, and the
//! [`Reconciler`] makes the kernel match. One task owns all of it, so every decision
//! sees one consistent state and no lock is shared with the control socket.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use checker::{CheckId, Event, Prober, Scheduler, SchedulerConfig};
use ipvs::{DaemonState, ServiceKey, SyncDaemon, Table};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use vrrp::driver::DriverStatus;
use vrrp::machine::State;

use crate::config::{Config, IpvsSyncDaemon, VirtualServer};
use crate::decide::{Action, VirtualServerState, VirtualServerStatus};
use crate::metrics::ServicesSnapshot;
use crate::reconcile::{ApplyReport, ReconcileError, Reconciler};

use super::notify;
use super::supervised::ServicesBeats;
use crate::supervise::BEAT_EVERY;

/// A real server's check subscription: its virtual server and its address.
pub type RsKey = (ServiceKey, IpAddr, u16);

/// Drift repair runs at least this often, and at most this often (see [`resync_period`]).
const RESYNC_MIN: Duration = Duration::from_secs(1);
const RESYNC_MAX: Duration = Duration::from_secs(60);

/// Requests from the rest of the daemon.
#[derive(Debug)]
pub enum Command {
    Status(oneshot::Sender<Vec<VirtualServerStatus>>),
    /// Apply a new, already checked configuration; answers with the IPVS work done.
    Reload(Arc<Config>, oneshot::Sender<ApplyReport>),
    /// Leave: omega notifications, rules removed unless kept.
    Stop(oneshot::Sender<ApplyReport>),
    /// What the metrics endpoint shows of the virtual servers and the reconciler.
    Metrics(oneshot::Sender<MetricsAnswer>),
}

/// The answer to [`Command::Metrics`]: the snapshot (without the kernel's counters), and
/// the read of those counters, queued on the reconciler's thread for the caller to
/// await (this task does not wait for the kernel).
pub struct MetricsAnswer {
    pub snapshot: ServicesSnapshot,
    pub ipvs:
        Pin<Box<dyn Future<Output = Result<Vec<ipvs::ListedService>, ReconcileError>> + Send>>,
}

impl std::fmt::Debug for MetricsAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsAnswer").field("snapshot", &self.snapshot).finish_non_exhaustive()
    }
}

/// Which VRRP instances are MASTER, and which have a settled role.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ownership {
    masters: BTreeSet<String>,
    settled: BTreeSet<String>,
}

pub struct Services<P: Prober> {
    scheduler: Scheduler<RsKey, P>,
    events: mpsc::UnboundedReceiver<Event<RsKey>>,
    /// One per virtual server, in config order; each holds its configuration.
    entries: Vec<VirtualServerState>,
    /// Where each virtual server is in `entries`.
    index: HashMap<ServiceKey, usize>,
    /// Real servers with a check, and the check they hear (a reload that changes a
    /// spec starts another check; results of the old one may still be queued).
    subscribed: BTreeMap<RsKey, CheckId>,
    reconciler: Reconciler,
    vrrp: watch::Receiver<DriverStatus>,
    vrrp_open: bool,
    /// VRRP instances whose role is known (see [`Services::ownership`]).
    settled: BTreeSet<String>,
    /// Since when each instance has been BACKUP under a master.
    backup_since: HashMap<String, Instant>,
    /// When the next of those settles.
    settle_at: Option<Instant>,
    /// The ownership the kernel was last reconciled for.
    applied_ownership: Option<Ownership>,
    /// The configured VRRP instance names, in order.
    vrrp_instances: Vec<String>,
    keep_rules_on_exit: bool,
    sync_daemon: Option<IpvsSyncDaemon>,
    /// The sync daemon state last asked of the kernel.
    sync_wanted: Option<SyncDaemon>,
    resync_every: Duration,
    next_resync: Instant,
    /// Proof of progress for the watchdog, when supervised.
    beats: Option<ServicesBeats>,
}

impl<P: Prober> std::fmt::Debug for Services<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("virtual_servers", &self.entries.len())
            .field("checks", &self.subscribed.len())
            .finish_non_exhaustive()
    }
}

impl<P: Prober> Services<P> {
    /// Must run inside the tokio runtime (the scheduler spawns checks on it).
    pub fn new(
        config: &Config,
        prober: P,
        reconciler: Reconciler,
        vrrp: watch::Receiver<DriverStatus>,
    ) -> Self {
        let (scheduler, events) = Scheduler::new(prober, SchedulerConfig::default());
        let now = Instant::now();
        let resync_every = resync_period(&config.virtual_servers);
        let mut services = Services {
            scheduler,
            events,
            entries: Vec::new(),
            index: HashMap::new(),
            subscribed: BTreeMap::new(),
            reconciler,
            vrrp,
            vrrp_open: true,
            settled: BTreeSet::new(),
            backup_since: HashMap::new(),
            settle_at: None,
            applied_ownership: None,
            vrrp_instances: Vec::new(),
            keep_rules_on_exit: config.director.keep_rules_on_exit,
            sync_daemon: config.director.ipvs_sync_daemon.clone(),
            sync_wanted: None,
            resync_every,
            next_resync: now + resync_every,
            beats: None,
        };
        services.set_config(config, now);
        services
    }

    /// Beats `beats` on every turn of [`Services::run`] (idle turns included).
    pub(crate) fn with_beats(mut self, beats: ServicesBeats) -> Self {
        self.beats = Some(beats);
        self
    }

    /// Runs until [`Command::Stop`] (or the command channel closes, which stops too).
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        self.apply("startup").await;
        let mut beat_tick = tokio::time::interval(BEAT_EVERY);
        beat_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if let Some(beats) = &mut self.beats {
                beats.beat(&self.scheduler);
            }
            let wake = self.next_wake();
            tokio::select! {
                // Commands first: a Stop must win over the VRRP change it causes.
                biased;
                command = commands.recv() => match command {
                    Some(Command::Status(reply)) => {
                        let _ = reply.send(self.status());
                    }
                    // A scrape that already gave up queues no kernel read.
                    Some(Command::Metrics(reply)) if reply.is_closed() => {}
                    Some(Command::Metrics(reply)) => {
                        let _ = reply.send(self.metrics());
                    }
                    Some(Command::Reload(config, reply)) => {
                        let report = self.reload(&config).await;
                        let _ = reply.send(report);
                    }
                    Some(Command::Stop(reply)) => {
                        let _ = reply.send(self.stop().await);
                        return;
                    }
                    None => {
                        self.stop().await;
                        return;
                    }
                },
                event = self.events.recv() => {
                    if let Some(event) = event {
                        let mut changed = self.on_event(event);
                        // A burst of results (a switch port down) is one reconcile.
                        while let Ok(event) = self.events.try_recv() {
                            changed |= self.on_event(event);
                        }
                        // First verdicts that confirm the start state change nothing.
                        if changed {
                            self.apply("check").await;
                        }
                    }
                }
                changed = self.vrrp.changed(), if self.vrrp_open => {
                    if changed.is_ok() {
                        self.follow_vrrp().await;
                    } else {
                        // VRRP is gone (shutdown in progress): ownership stays as it was.
                        self.vrrp_open = false;
                    }
                }
                () = tokio::time::sleep_until(wake) => self.on_timer().await,
                _ = beat_tick.tick() => {}
            }
        }
    }

    fn next_wake(&self) -> Instant {
        let drains = self.entries.iter().filter_map(VirtualServerState::poll_timeout).min();
        let mut wake = self.next_resync;
        if let Some(at) = drains {
            wake = wake.min(Instant::from_std(at));
        }
        if let Some(at) = self.settle_at {
            wake = wake.min(at);
        }
        wake
    }

    async fn on_timer(&mut self) {
        let now = Instant::now();
        let mut changed = false;
        for entry in &mut self.entries {
            if entry.poll_timeout().is_some_and(|at| Instant::from_std(at) <= now) {
                entry.handle_timeout(now.into_std());
                changed = true;
            }
        }
        self.run_actions();
        if changed {
            self.apply("drain").await;
        } else if self.settle_at.is_some_and(|at| at <= now) {
            self.follow_vrrp().await;
        }
        if now >= self.next_resync {
            self.next_resync = now + self.resync_every;
            let report = self.reconciler.resync().await;
            for op in &report.drift {
                tracing::warn!(event = "ipvs_drift_repaired", op = %op, "ipvs drift repaired: {op}");
            }
            log_failures(&report, "resync");
        }
    }

    /// Feeds one check result to its virtual server; whether the kernel entries that
    /// virtual server wants changed.
    fn on_event(&mut self, event: Event<RsKey>) -> bool {
        if self.subscribed.get(&event.subscriber) != Some(&event.check) {
            return false;
        }
        let (key, addr, port) = event.subscriber;
        let Some(&at) = self.index.get(&key) else { return false };
        let entry = &mut self.entries[at];
        let changed = entry.check_event((addr, port), event.change, &event.report, event.at);
        drain_actions(entry);
        changed
    }

    /// Takes `config`'s virtual servers: kept ones keep their state, new ones start,
    /// removed ones leave (their checks stop; the reconciler deletes their rules).
    fn set_config(&mut self, config: &Config, now: Instant) {
        let now = now.into_std();
        let mut old: HashMap<ServiceKey, VirtualServerState> =
            self.entries.drain(..).map(|e| (e.config().service.key, e)).collect();
        // Subscribing an unchanged spec is a no-op that keeps the check's state and a
        // changed one restarts it; a virtual server whose configuration is unchanged
        // keeps its subscriptions without even that (a reload of a big site touches
        // only what changed).
        let mut wanted = BTreeMap::new();
        for vs in &config.virtual_servers {
            let (entry, unchanged) = match old.remove(&vs.service.key) {
                Some(entry) if entry.config() == vs => (entry, true),
                Some(mut entry) => {
                    entry.reconfigure(vs, now);
                    (entry, false)
                }
                None => (VirtualServerState::new(vs), false),
            };
            for rs in &vs.real_servers {
                let Some(spec) = &rs.check else { continue };
                let key = rs_key(vs, rs);
                let kept = if unchanged { self.subscribed.get(&key).copied() } else { None };
                let id = kept.unwrap_or_else(|| self.scheduler.subscribe(key, spec.clone()));
                wanted.insert(key, id);
            }
            self.entries.push(entry);
        }
        for (_, mut gone) in old {
            // keepalived's omega covers a virtual server a reload removes, too.
            gone.shutdown();
            drain_actions(&mut gone);
        }
        for stale in self.subscribed.keys().filter(|k| !wanted.contains_key(*k)) {
            self.scheduler.unsubscribe(stale);
        }
        self.subscribed = wanted;
        self.index =
            self.entries.iter().enumerate().map(|(i, e)| (e.config().service.key, i)).collect();
        self.keep_rules_on_exit = config.director.keep_rules_on_exit;
        self.sync_daemon = config.director.ipvs_sync_daemon.clone();
        self.vrrp_instances = config.vrrp.instances.iter().map(|i| i.name.clone()).collect();
        self.resync_every = resync_period(&config.virtual_servers);
        self.run_actions();
    }

    async fn reload(&mut self, config: &Config) -> ApplyReport {
        self.set_config(config, Instant::now());
        self.apply("reload").await
    }

    /// Executes the decisions' notifications and logs.
    fn run_actions(&mut self) {
        for entry in &mut self.entries {
            drain_actions(entry);
        }
    }

    /// Who owns what, from the VRRP status at `now`. An instance is settled once it is
    /// MASTER or FAULT, or has been BACKUP under a master for a whole master-down
    /// interval: a restarted director with the higher priority hears the lower master
    /// too, as a BACKUP, until it preempts it; removing its rules then would only cost
    /// the connections it is about to serve again.
    fn ownership(&mut self, now: Instant) -> Ownership {
        let vrrp = self.vrrp.borrow();
        let mut masters = BTreeSet::new();
        self.settle_at = None;
        for i in &vrrp.instances {
            let settled = match i.state {
                State::Master => {
                    masters.insert(i.name.clone());
                    true
                }
                State::Fault => true,
                State::Backup if i.master.is_some() => {
                    let since = *self.backup_since.entry(i.name.clone()).or_insert(now);
                    // Master_Down_Interval is under 3 intervals + 1 s in v2 and v3.
                    let wait = Duration::from_millis(30 * u64::from(i.advert_interval_cs))
                        + Duration::from_secs(1);
                    let at = since + wait;
                    if now < at {
                        self.settle_at = Some(self.settle_at.map_or(at, |t: Instant| t.min(at)));
                    }
                    now >= at
                }
                State::Backup | State::Init => false,
            };
            if i.state != State::Backup || i.master.is_none() {
                self.backup_since.remove(&i.name);
            }
            if settled {
                self.settled.insert(i.name.clone());
            }
        }
        Ownership { masters, settled: self.settled.clone() }
    }

    /// The kernel state wanted under `ownership`: the owned virtual servers with their
    /// decided destinations. A virtual server whose instance has not settled yet is left
    /// as the kernel has it: a restarted MASTER keeps its rules (and their connections)
    /// while VRRP finds out who is master.
    fn desired(&self, ownership: &Ownership) -> (Table, BTreeSet<ServiceKey>) {
        let mut managed = BTreeSet::new();
        let mut services = Vec::new();
        for entry in &self.entries {
            match &entry.config().vrrp_instance {
                Some(name) if !ownership.settled.contains(name) => continue,
                Some(name) if !ownership.masters.contains(name) => {}
                _ => services.push(entry.desired()),
            }
            managed.insert(entry.config().service.key);
        }
        (Table { services }, managed)
    }

    /// Applies when who owns what changed; VRRP publishes every counter change too.
    async fn follow_vrrp(&mut self) {
        let ownership = self.ownership(Instant::now());
        if self.applied_ownership.as_ref() != Some(&ownership) {
            self.apply("vrrp").await;
        }
    }

    async fn apply(&mut self, why: &str) -> ApplyReport {
        // One VRRP snapshot for the sync daemon and the rules: a stop that arrives
        // while the sync daemon changes must not find the rules decided on a newer one.
        let ownership = self.ownership(Instant::now());
        let (table, managed) = self.desired(&ownership);
        let sync = self.wanted_sync_daemon(&ownership);
        self.applied_ownership = Some(ownership);
        self.follow_sync_daemon(sync).await;
        let report = self.reconciler.apply(table, managed).await;
        for op in &report.ops {
            tracing::info!("ipvs ({why}): {op}");
        }
        log_failures(&report, why);
        report
    }

    /// keepalived's lvs_sync_daemon: master while the instance is MASTER, else backup.
    fn wanted_sync_daemon(&self, ownership: &Ownership) -> Option<SyncDaemon> {
        let sync = self.sync_daemon.as_ref()?;
        let master = match (&sync.vrrp_instance, self.vrrp_instances.first()) {
            (Some(name), _) | (None, Some(name)) => ownership.masters.contains(name),
            // No VRRP: always master.
            (None, None) => true,
        };
        let state = if master { DaemonState::Master } else { DaemonState::Backup };
        Some(SyncDaemon::new(state, sync.interface.clone(), u32::from(sync.sync_id)))
    }

    async fn follow_sync_daemon(&mut self, want: Option<SyncDaemon>) {
        if want != self.sync_wanted {
            if let Err(e) = self.reconciler.sync_daemon(want.clone()).await {
                tracing::error!("ipvs sync daemon: {e}");
            }
            self.sync_wanted = want;
        }
    }

    fn status(&self) -> Vec<VirtualServerStatus> {
        let applied = self.reconciler.applied();
        let in_table: BTreeMap<ServiceKey, BTreeSet<(IpAddr, u16)>> = applied
            .services
            .iter()
            .map(|s| (s.service.key, s.destinations.iter().map(|d| d.key()).collect()))
            .collect();
        self.entries
            .iter()
            .map(|e| {
                let key = e.config().service.key;
                let dests = in_table.get(&key);
                let in_ipvs =
                    |addr: IpAddr, port: u16| dests.is_some_and(|d| d.contains(&(addr, port)));
                let mut status = e.status(&in_ipvs);
                let owned = match (&e.config().vrrp_instance, &self.applied_ownership) {
                    (None, _) => true,
                    (Some(name), Some(ownership)) => ownership.masters.contains(name),
                    (Some(_), None) => false,
                };
                if !owned {
                    status = status.not_owned();
                }
                // The decisions see changes only; the scheduler knows the latest probe.
                for rs in &mut status.real_servers {
                    if let Some(check) = self.scheduler.status(&(key, rs.address, rs.port)) {
                        if let (Some(report), Some(at)) = (check.last, check.last_at) {
                            rs.last_check = Some(crate::decide::LastCheck::new(&report, at));
                        }
                    }
                }
                status
            })
            .collect()
    }

    /// See [`Command::Metrics`]: the status of each virtual server, with the weights
    /// the kernel table has and every probe's latency and failure counted by its check.
    fn metrics(&self) -> MetricsAnswer {
        let applied = self.reconciler.applied();
        let weights: HashMap<RsKey, u32> = applied
            .services
            .iter()
            .flat_map(|s| {
                s.destinations.iter().map(|d| ((s.service.key, d.addr, d.port), d.weight))
            })
            .collect();
        let virtual_servers = self
            .status()
            .iter()
            .zip(&self.entries)
            .map(|(status, entry)| {
                let key = entry.config().service.key;
                let kinds: HashMap<(IpAddr, u16), &'static str> = entry
                    .config()
                    .real_servers
                    .iter()
                    .filter_map(|rs| Some((rs.destination.key(), rs.check.as_ref()?.kind.name())))
                    .collect();
                crate::metrics::VirtualServer::from_status(
                    status,
                    key,
                    |addr, port| weights.get(&(key, addr, port)).copied(),
                    |addr, port| {
                        let kind = *kinds.get(&(addr, port))?;
                        let stats = self.scheduler.status(&(key, addr, port))?.stats;
                        Some(crate::metrics::Check { kind, stats })
                    },
                )
            })
            .collect();
        MetricsAnswer {
            snapshot: ServicesSnapshot {
                virtual_servers,
                reconcile: self.reconciler.counts(),
                ipvs: None,
            },
            ipvs: Box::pin(self.reconciler.stats()),
        }
    }

    async fn stop(&mut self) -> ApplyReport {
        // Runs the omega programs when the virtual server has omega, nothing otherwise.
        for entry in &mut self.entries {
            entry.shutdown();
        }
        self.run_actions();
        let remove = !self.keep_rules_on_exit;
        let report = self.reconciler.shutdown(remove).await;
        for op in &report.ops {
            tracing::info!("ipvs (stop): {op}");
        }
        log_failures(&report, "stop");
        report
    }
}

fn rs_key(vs: &VirtualServer, rs: &crate::config::RealServer) -> RsKey {
    (vs.service.key, rs.destination.addr, rs.destination.port)
}

fn drain_actions(state: &mut VirtualServerState) {
    while let Some(action) = state.poll_action() {
        let vs = state.name();
        match action {
            Action::Notify { argv, why } => notify::spawn(vs, &why, &argv),
            Action::Log { level, message, fields } => level.log(vs, &message, &fields),
        }
    }
}

fn log_failures(report: &ApplyReport, why: &str) {
    for failure in &report.failed {
        tracing::error!("ipvs ({why}): {failure}");
    }
}

/// Drift repair follows the checks' pace: "an entry deleted by hand comes back within
/// one delay_loop" (the shortest one), bounded to [`RESYNC_MIN`, `RESYNC_MAX`].
pub fn resync_period(virtual_servers: &[VirtualServer]) -> Duration {
    virtual_servers
        .iter()
        .flat_map(|vs| vs.real_servers.iter())
        .filter_map(|rs| rs.check.as_ref().map(|c| c.timing.delay_loop))
        .min()
        .unwrap_or(RESYNC_MAX)
        .clamp(RESYNC_MIN, RESYNC_MAX)
}
