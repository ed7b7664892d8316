//! Per-virtual-server decisions, sans-IO: check results and reloads in, the kernel
//! entries this virtual server wants and the actions to run (notify programs, log lines)
//! out. Time comes in as arguments; nothing here sleeps, spawns or touches a socket.
//!
//! The semantics are keepalived's (check/ipwrapper.c): quorum with hysteresis over the
//! live real servers' weights, a sorry server that replaces every real server while
//! quorum is lost, inhibit_on_failure, alpha and omega. Beyond keepalived, a real server a
//! reload removes drains with weight 0 for `drain_timeout` before it leaves the table.

mod quorum;
mod reload;
mod status;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use checker::{Change, ProbeReport};

use crate::config::{RealServer, VirtualServer};

pub use status::{to_text, LastCheck, RealServerStatus, VirtualServerStatus};

/// A real server's identity within its virtual server.
pub type RealServerKey = (IpAddr, u16);

/// Something the daemon does on the decisions' behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run `argv` (notify_up, notify_down, quorum_up, quorum_down); keepalived passes
    /// no extra arguments to these, so neither do we.
    Notify { argv: Vec<String>, why: String },
    /// A transition worth a log line.
    Log { level: Level, message: String, fields: LogFields },
}

/// A log line's facts as fields (what `--log-format json` shows besides the message).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFields {
    /// What changed: `real_server_up`, `real_server_down`, `quorum_lost`, ...
    pub event: &'static str,
    /// `address:port`
    pub real_server: Option<String>,
    /// `address:port`
    pub sorry_server: Option<String>,
    pub reason: Option<String>,
}

impl LogFields {
    fn new(event: &'static str) -> Self {
        LogFields { event, ..LogFields::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
}

impl Level {
    /// Logs `message` at this level, with the virtual server and `fields` as fields.
    pub fn log(self, virtual_server: &str, message: &str, fields: &LogFields) {
        let LogFields { event, real_server, sorry_server, reason } = fields;
        let (real_server, sorry_server, reason) =
            (real_server.as_deref(), sorry_server.as_deref(), reason.as_deref());
        match self {
            Level::Info => tracing::info!(
                event,
                virtual_server,
                real_server,
                sorry_server,
                reason,
                "{message}"
            ),
            Level::Warn => tracing::warn!(
                event,
                virtual_server,
                real_server,
                sorry_server,
                reason,
                "{message}"
            ),
        }
    }
}

/// The result of the last probe of a real server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckRecord {
    ok: bool,
    at: SystemTime,
    latency: Duration,
    /// The failure in words, when not ok.
    error: Option<String>,
}

impl CheckRecord {
    fn new(report: &ProbeReport, at: SystemTime) -> Self {
        CheckRecord {
            ok: report.is_up(),
            at,
            latency: report.latency,
            error: report.failure().map(|f| f.to_string()),
        }
    }
}

/// One configured real server and what the checks said about it.
#[derive(Debug, Clone)]
pub(crate) struct RealServerState {
    config: RealServer,
    healthy: bool,
    /// Set by a dynamic misc check; `None`: the configured weight.
    dynamic_weight: Option<u32>,
    last_check: Option<CheckRecord>,
}

impl RealServerState {
    /// Without a check a real server is always up; with one it starts up unless alpha
    /// (keepalived marks alpha checkers failed before the first run).
    fn new(config: &RealServer, alpha: bool) -> Self {
        let healthy = match &config.check {
            None => true,
            Some(spec) => !(alpha || spec.timing.alpha),
        };
        RealServerState { config: config.clone(), healthy, dynamic_weight: None, last_check: None }
    }

    fn key(&self) -> RealServerKey {
        self.config.destination.key()
    }

    fn effective_weight(&self) -> u32 {
        self.dynamic_weight.unwrap_or(self.config.destination.weight)
    }

    fn label(&self) -> String {
        destination_label(&self.config.destination)
    }
}

/// A real server a reload removed while it was in the table: weight 0 until `until`.
#[derive(Debug, Clone)]
pub(crate) struct Draining {
    server: RealServerState,
    until: Instant,
}

/// The decisions for one virtual server.
#[derive(Debug)]
pub struct VirtualServerState {
    /// The running configuration; its `real_servers` are mirrored in `servers`.
    config: VirtualServer,
    servers: Vec<RealServerState>,
    index: HashMap<RealServerKey, usize>,
    draining: Vec<Draining>,
    quorum_up: bool,
    actions: VecDeque<Action>,
    /// `shutdown` ran; nothing more is queued.
    stopped: bool,
}

impl VirtualServerState {
    /// The state at start: real servers healthy unless alpha, then quorum as keepalived
    /// starts it (`init_service_vs`: quorum_up notify when the weights suffice, sorry
    /// server and quorum_down notify when they do not and there is a sorry server).
    pub fn new(vs: &VirtualServer) -> Self {
        let servers: Vec<_> =
            vs.real_servers.iter().map(|rs| RealServerState::new(rs, vs.alpha)).collect();
        let mut state = VirtualServerState {
            config: vs.clone(),
            index: index_of(&servers),
            servers,
            draining: Vec::new(),
            quorum_up: false,
            actions: VecDeque::new(),
            stopped: false,
        };
        state.start_quorum();
        state
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The configuration in force (the last one given to `new` or `reconfigure`).
    pub fn config(&self) -> &VirtualServer {
        &self.config
    }

    pub fn quorum_up(&self) -> bool {
        self.quorum_up
    }

    /// The sorry server is in the table in place of the real servers.
    pub fn sorry_active(&self) -> bool {
        !self.quorum_up && self.config.sorry_server.is_some()
    }

    /// Whether the real server at `key` is healthy; `None` when it is not configured.
    pub fn is_healthy(&self, key: RealServerKey) -> Option<bool> {
        self.index.get(&key).map(|&i| self.servers[i].healthy)
    }

    /// A check verdict for the real server `rs` (see [`checker::Change`]); whether
    /// [`Self::desired`] changed with it (a first verdict that confirms the start state
    /// changes nothing, and the kernel need not hear of it). Events for a real server
    /// this virtual server no longer has, or that has no check, are stale (a reload
    /// removed it) and ignored.
    pub fn check_event(
        &mut self,
        rs: RealServerKey,
        change: Change,
        report: &ProbeReport,
        at: SystemTime,
    ) -> bool {
        let Some(&i) = self.index.get(&rs) else { return false };
        if self.servers[i].config.check.is_none() || self.stopped {
            return false;
        }
        // Only this server and the quorum move: they are all `desired` can differ by.
        let before = (self.sorry_active(), self.wanted_weight(&self.servers[i]));
        self.servers[i].last_check = Some(CheckRecord::new(report, at));
        match change {
            Change::Up { weight, .. } => {
                let was_healthy = self.servers[i].healthy;
                self.set_dynamic_weight(i, weight);
                if !was_healthy {
                    self.servers[i].healthy = true;
                    self.server_went(i, true, report);
                }
            }
            Change::Down { first } => {
                if self.servers[i].healthy {
                    self.servers[i].healthy = false;
                    self.server_went(i, false, report);
                } else if first {
                    // keepalived notifies an alpha server's first failure although its
                    // state does not change (update_svr_checker_state).
                    self.server_went(i, false, report);
                }
            }
            Change::Weight(weight) => self.set_dynamic_weight(i, weight),
        }
        self.update_quorum();
        before != (self.sorry_active(), self.wanted_weight(&self.servers[i]))
    }

    fn set_dynamic_weight(&mut self, i: usize, weight: Option<u32>) {
        let server = &mut self.servers[i];
        let before = server.effective_weight();
        server.dynamic_weight = weight;
        let after = server.effective_weight();
        if before != after {
            let message = format!(
                "virtual server {}: real server {} weight {before} -> {after}{}",
                self.config.name,
                server.label(),
                if weight.is_none() { " (configured)" } else { " (dynamic)" },
            );
            self.log(Level::Info, message);
        }
    }

    /// Log and notify a real server's transition (keepalived's perform_svr_state).
    fn server_went(&mut self, i: usize, up: bool, report: &ProbeReport) {
        let server = &self.servers[i];
        let table = match (up, self.sorry_active(), self.config.inhibit_on_failure) {
            // Quorum is evaluated next; its log lines tell where the sorry server stands.
            (true, true, _) => String::new(),
            (false, true, _) => "; the sorry server is serving".to_string(),
            (true, false, _) => format!("; in the table with weight {}", server.effective_weight()),
            (false, false, true) => "; inhibited: weight 0 in the table".to_string(),
            (false, false, false) => "; removed from the table".to_string(),
        };
        let (level, message, mut fields) = if up {
            (
                Level::Info,
                format!("virtual server {}: real server {} up{table}", self.name(), server.label()),
                LogFields::new("real_server_up"),
            )
        } else {
            let why =
                report.failure().map(|f| f.to_string()).unwrap_or_else(|| "check failed".into());
            let message = format!(
                "virtual server {}: real server {} down: {why}{table}",
                self.name(),
                server.label()
            );
            let fields = LogFields { reason: Some(why), ..LogFields::new("real_server_down") };
            (Level::Warn, message, fields)
        };
        fields.real_server = Some(server.label());
        let argv = if up { &server.config.notify_up } else { &server.config.notify_down };
        let argv = argv.clone();
        let what = format!("real server {} {}", server.label(), if up { "up" } else { "down" });
        self.log_fields(level, message, fields);
        self.notify(argv, &what);
    }

    /// The kernel entries this virtual server wants now: while the sorry server is
    /// active, it alone; otherwise healthy real servers at their effective weight,
    /// failed ones at weight 0 under inhibit_on_failure, and draining ones at weight 0.
    pub fn desired(&self) -> ipvs::TableService {
        let destinations = match &self.config.sorry_server {
            Some(sorry) if !self.quorum_up => vec![sorry.destination.clone()],
            _ => self
                .servers
                .iter()
                .filter_map(|s| self.wanted_weight(s).map(|w| with_weight(s, w)))
                .chain(self.draining.iter().map(|d| with_weight(&d.server, 0)))
                .collect(),
        };
        ipvs::TableService { service: self.config.service.clone(), destinations }
    }

    /// The weight a configured real server has in [`Self::desired`], `None` when absent.
    fn wanted_weight(&self, server: &RealServerState) -> Option<u32> {
        if self.sorry_active() {
            None
        } else if server.healthy {
            Some(server.effective_weight())
        } else if self.config.inhibit_on_failure {
            Some(0)
        } else {
            None
        }
    }

    /// When [`Self::handle_timeout`] wants to run next: the earliest drain deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.draining.iter().map(|d| d.until).min()
    }

    /// Ends the drains that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let (done, keep): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.draining).into_iter().partition(|d| d.until <= now);
        self.draining = keep;
        for d in done {
            let message = format!(
                "virtual server {}: real server {} drained, leaving the table",
                self.config.name,
                d.server.label()
            );
            let fields = LogFields {
                real_server: Some(d.server.label()),
                ..LogFields::new("real_server_drained")
            };
            self.log_fields(Level::Info, message, fields);
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The director is stopping. With omega, keepalived runs each in-table healthy real
    /// server's notify_down and then the quorum_down program, whatever the quorum was
    /// (`clear_service_vs` with stopping set); without omega nothing runs.
    pub fn shutdown(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if !self.config.omega {
            return;
        }
        let mut notifies = Vec::new();
        for s in self.servers.iter().filter(|s| s.healthy && self.wanted_weight(s).is_some()) {
            notifies.push((
                s.config.notify_down.clone(),
                format!("real server {} down (shutdown)", s.label()),
            ));
        }
        notifies.push((self.config.quorum_down.clone(), "quorum down (shutdown)".to_string()));
        for (argv, what) in notifies {
            self.notify(argv, &what);
        }
    }

    fn log(&mut self, level: Level, message: String) {
        self.log_fields(level, message, LogFields::new("virtual_server"));
    }

    fn log_fields(&mut self, level: Level, message: String, fields: LogFields) {
        self.actions.push_back(Action::Log { level, message, fields });
    }

    fn notify(&mut self, argv: Option<Vec<String>>, what: &str) {
        if let Some(argv) = argv {
            let why = format!("virtual server {}: {what}", self.config.name);
            self.actions.push_back(Action::Notify { argv, why });
        }
    }
}

fn index_of(servers: &[RealServerState]) -> HashMap<RealServerKey, usize> {
    servers.iter().enumerate().map(|(i, s)| (s.key(), i)).collect()
}

fn with_weight(server: &RealServerState, weight: u32) -> ipvs::Destination {
    ipvs::Destination { weight, ..server.config.destination.clone() }
}

/// `address:port`, with brackets around an IPv6 address.
pub(crate) fn destination_label(d: &ipvs::Destination) -> String {
    std::net::SocketAddr::new(d.addr, d.port).to_string()
}
