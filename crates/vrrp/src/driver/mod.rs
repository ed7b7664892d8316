//! Runs a [`Router`] on tokio with the [`crate::linux`] primitives: one receive socket
//! per interface, one send socket per (interface, source address), rtnetlink for the
//! virtual addresses and link state, a packet socket for gratuitous ARP.
//!
//! The loop is the only owner of the router: received packets, link events, script
//! results and timer expiries all come to it, and every action it produces is carried
//! out before the next input is read, so the order the machine chose is the order the
//! network sees.
//!
//! A reload ([`Input::Reconfigure`]) is checked and its new interfaces and sockets are
//! opened before the machine sees it, so a configuration that cannot run is refused
//! with nothing changed. The driver switches to it at the machine's
//! [`Action::Reconfigured`]: leaving instances act under the old configuration (their
//! sockets, notify programs), everything after under the new one; sockets nothing uses
//! any more close then.

mod config;
mod drops;
mod io;
mod notify;

pub use config::{DriverConfig, InstanceIo, Notify, Unicast};

use std::net::Ipv4Addr;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch};

use crate::counters::{Counters, DropReason};
use crate::linux::rtnl::Link;
use crate::linux::timer::PreciseTimer;
use crate::machine::{Action, InstanceStatus, Router};
use crate::packet::{self, TtlCheck, VRRP_MCAST_V4};

use io::{Interfaces, Received as Datagram};

/// What the daemon tells a running driver.
#[derive(Debug)]
pub enum Input {
    /// One run of a tracked script finished.
    ScriptResult { name: String, ok: bool },
    /// A reload: `config` replaces the running configuration while instances keep
    /// their state ([`Router::reconfigure`] says what is kept). The reply comes once
    /// the change is carried out (addresses up or down, leaving instances gone): Ok, or
    /// why the configuration was refused, in which case the running one stays as it
    /// was. Build it with [`Input::reconfigure`].
    Reconfigure { config: Box<DriverConfig>, reply: oneshot::Sender<Result<(), DriverError>> },
    /// Test hook: the loop awaits forever from here on, as a lost wakeup would.
    #[cfg(feature = "fault-injection")]
    Hang,
}

/// A supervisor's proof that the loop turns: the instant of each turn, sent at least
/// every `every` (the loop wakes for it when idle).
#[derive(Debug)]
pub struct Heartbeat {
    pub beat: watch::Sender<Instant>,
    pub every: std::time::Duration,
}

impl Input {
    /// A [`Input::Reconfigure`] and the receiver of its reply.
    pub fn reconfigure(
        config: DriverConfig,
    ) -> (Input, oneshot::Receiver<Result<(), DriverError>>) {
        let (reply, answer) = oneshot::channel();
        (Input::Reconfigure { config: Box::new(config), reply }, answer)
    }
}

/// The driver's state as status output shows it, published after every change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverStatus {
    pub instances: Vec<InstanceStatus>,
    /// Packets no instance could claim (unknown VRID, unreadable header).
    pub unclaimed: Counters,
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("vrrp instance {instance}: interface {interface}: {source}")]
    Interface {
        instance: String,
        interface: String,
        #[source]
        source: Box<crate::linux::rtnl::RtnlError>,
    },
    #[error("vrrp instance {instance}: interface {interface} has no IPv4 address to send from; set unicast.source or add one")]
    NoSourceAddress { instance: String, interface: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] crate::machine::ConfigError),
    /// [`DriverConfig::instances`] or [`DriverConfig::sync_groups`] is not parallel to
    /// the router configuration's list.
    #[error("driver configuration: {what}: {io} entries for {router} in the router configuration")]
    NotParallel { what: &'static str, io: usize, router: usize },
    /// Boxed: rtnetlink errors carry the whole request, and results stay small.
    #[error("rtnetlink: {0}")]
    Rtnl(Box<crate::linux::rtnl::RtnlError>),
}

impl From<crate::linux::rtnl::RtnlError> for DriverError {
    fn from(e: crate::linux::rtnl::RtnlError) -> Self {
        DriverError::Rtnl(Box::new(e))
    }
}

/// Runs until `shutdown` resolves, then leaves as RFC 5798 asks: every MASTER sends a
/// priority 0 advert and drops its addresses, and stop notifications run.
///
/// `status` receives a snapshot after every input that changed something.
pub async fn run(
    config: DriverConfig,
    inputs: mpsc::Receiver<Input>,
    status: watch::Sender<DriverStatus>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DriverError> {
    run_with_heartbeat(config, inputs, status, shutdown, None).await
}

/// [`run`], beating `heartbeat` on every turn of the loop.
pub async fn run_with_heartbeat(
    mut config: DriverConfig,
    mut inputs: mpsc::Receiver<Input>,
    status: watch::Sender<DriverStatus>,
    shutdown: impl std::future::Future<Output = ()>,
    heartbeat: Option<Heartbeat>,
) -> Result<(), DriverError> {
    let (packets_tx, mut packets) = mpsc::channel::<Datagram>(256);
    check_parallel(&config)?;
    let (interfaces, mut links) = Interfaces::open(&mut config, packets_tx)?;
    let mut router = Router::new(config.router.clone())?;
    let timer =
        PreciseTimer::new().map_err(|source| DriverError::Io { what: "timerfd".into(), source })?;
    for link in interfaces.initial_links() {
        router.set_link(Instant::now(), &link.name, link.up);
    }
    let mut runner = Runner {
        config,
        pending: None,
        interfaces,
        drops: Default::default(),
        send_failures: Default::default(),
    };

    router.start(Instant::now());
    runner.perform(&mut router).await;
    publish(&router, &status);

    tokio::pin!(shutdown);
    let mut inputs_open = true;
    let mut reply = None;
    let idle_beat = heartbeat.as_ref().map_or(std::time::Duration::from_secs(3600), |h| h.every);
    let mut beat_tick = tokio::time::interval(idle_beat);
    beat_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if let Some(heartbeat) = &heartbeat {
            heartbeat.beat.send_replace(Instant::now());
        }
        let deadline = router.poll_timeout();
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            // Rare inputs first: a flood of packets must not delay a link or script
            // change (and timers are checked after every input below).
            links = links.next() => {
                let now = Instant::now();
                match links {
                    Ok(changed) => {
                        for link in changed {
                            runner.follow_link(&mut router, now, &link);
                        }
                    }
                    // ENOBUFS: the kernel dropped events; read the state afresh.
                    Err(e) => {
                        tracing::warn!("link monitor: {e}; re-reading link state");
                        match runner.interfaces.reread_links() {
                            Ok(all) => {
                                for link in all {
                                    runner.follow_link(&mut router, now, &link);
                                }
                            }
                            Err(e) => tracing::error!("re-reading link state: {e}"),
                        }
                    }
                }
            }
            input = inputs.recv(), if inputs_open => match input {
                Some(Input::ScriptResult { name, ok }) => {
                    router.script_result(Instant::now(), &name, ok);
                }
                Some(Input::Reconfigure { config, reply: answer }) => {
                    let result = runner.reconfigure(&mut router, *config);
                    match &result {
                        Ok(()) => tracing::info!("vrrp: new configuration in force"),
                        Err(e) => tracing::error!("vrrp: new configuration refused: {e}"),
                    }
                    reply = Some((answer, result));
                }
                #[cfg(feature = "fault-injection")]
                Some(Input::Hang) => std::future::pending::<()>().await,
                None => inputs_open = false,
            },
            Some(datagram) = packets.recv() => {
                runner.receive(&mut router, &datagram);
            }
            () = sleep_until(&timer, deadline) => {}
            _ = beat_tick.tick() => {}
        }
        // Timers are checked after every input, not only when the sleep branch wins:
        // with `biased` a steady stream of packets would otherwise starve them.
        if router.poll_timeout().is_some_and(|due| due <= Instant::now()) {
            router.handle_timeout(Instant::now());
        }
        runner.perform(&mut router).await;
        publish(&router, &status);
        if let Some((answer, result)) = reply.take() {
            // The daemon may have stopped waiting; the outcome is logged either way.
            let _ = answer.send(result);
        }
    }
    router.shutdown(Instant::now());
    runner.perform(&mut router).await;
    publish(&router, &status);
    Ok(())
}

/// Sleeps until the machine's next deadline, to the microsecond (a VRRP timer a
/// millisecond late is a failover a millisecond late).
async fn sleep_until(timer: &PreciseTimer, deadline: Option<Instant>) {
    let Some(at) = deadline else { return std::future::pending().await };
    if let Err(e) = timer.sleep_until(at).await {
        // Not expected; tokio's millisecond timer is the fallback.
        tracing::warn!("timerfd: {e}");
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
    }
}

fn publish(router: &Router, status: &watch::Sender<DriverStatus>) {
    let snapshot =
        DriverStatus { instances: router.status(), unclaimed: router.unclaimed_drops().clone() };
    status.send_if_modified(|current| {
        if *current == snapshot {
            return false;
        }
        *current = snapshot;
        true
    });
}

/// Every per-instance and per-group list of `config` has one entry per router entry.
fn check_parallel(config: &DriverConfig) -> Result<(), DriverError> {
    let router = &config.router;
    for (what, io, router) in [
        ("instances", config.instances.len(), router.instances.len()),
        ("sync_groups", config.sync_groups.len(), router.sync_groups.len()),
    ] {
        if io != router {
            return Err(DriverError::NotParallel { what, io, router });
        }
    }
    Ok(())
}

/// Carries out actions and filters received packets; owns the I/O side.
struct Runner {
    /// The configuration the indices of the machine's actions refer to.
    config: DriverConfig,
    /// A configuration the machine took, in force from its [`Action::Reconfigured`].
    pending: Option<(DriverConfig, io::Prepared)>,
    interfaces: Interfaces,
    /// Rate-limits the log of dropped packets; the counters count every one.
    drops: drops::DropLog,
    /// (instance, destination) whose send failure was logged.
    send_failures: std::collections::HashSet<(usize, Ipv4Addr)>,
}

impl Runner {
    fn receive(&mut self, router: &mut Router, datagram: &Datagram) {
        let iface = datagram.interface.as_str();
        let now = Instant::now();
        let vrid = packet::peek_vrid(&datagram.bytes);
        let unicast = vrid.and_then(|vrid| self.unicast_peers(iface, vrid)).is_some();
        let ttl = if unicast { TtlCheck::Any } else { TtlCheck::Require255 };
        let received = match packet::decode_ipv4_with(&datagram.bytes, ttl) {
            Ok(received) => received,
            Err(e) => {
                let from = io::source_of(&datagram.bytes);
                self.drops.record(now, iface, vrid, e.reason(), from, &e.to_string());
                router.count_drop(iface, vrid, e.reason());
                return;
            }
        };
        // Our own adverts (should one loop back) are the machine's to drop and count.
        let vrid = Some(received.advert.vrid);
        if let Some(peers) = self.unicast_peers(iface, received.advert.vrid) {
            if !peers.contains(&received.src) {
                let why = "not a configured unicast peer";
                self.drops.record(now, iface, vrid, DropReason::NotPeer, Some(received.src), why);
                router.count_drop(iface, vrid, DropReason::NotPeer);
                return;
            }
        }
        if let Err(reason) = router.handle_advert(now, iface, &received) {
            let ours = self.instance(iface, received.advert.vrid);
            let why = drops::mismatch(reason, &received.advert, ours);
            self.drops.record(now, iface, vrid, reason, Some(received.src), &why);
        }
    }

    /// Hands `config` to the machine once its interfaces and sockets are there; the
    /// switch itself happens at the machine's [`Action::Reconfigured`], so the leaving
    /// instances act under the configuration they came from.
    fn reconfigure(
        &mut self,
        router: &mut Router,
        mut config: DriverConfig,
    ) -> Result<(), DriverError> {
        check_parallel(&config)?;
        crate::machine::validate(&config.router)?;
        let prepared = self.interfaces.prepare(&mut config)?;
        let now = Instant::now();
        // No running instance depends on these yet, so this changes nothing by itself.
        for link in self.interfaces.newly_tracked(&prepared) {
            router.set_link(now, &link.name, link.up);
        }
        router.reconfigure(now, config.router.clone())?;
        self.pending = Some((config, prepared));
        Ok(())
    }

    /// The machine's configuration switch: the prepared sockets and configuration are
    /// now the ones in force.
    fn switch(&mut self) {
        let Some((config, prepared)) = self.pending.take() else { return };
        self.interfaces.commit(prepared);
        self.config = config;
        self.send_failures.clear();
    }

    /// Never the address adverts leave from, in the configuration in force or the one
    /// about to be: removing a host's own address (an owner's VIP) would cut it off.
    fn is_own_address(&self, address: Ipv4Addr) -> bool {
        self.interfaces.is_own_address(address)
            || self.pending.as_ref().is_some_and(|(_, prepared)| prepared.sends_from(address))
    }

    /// A link event (or a re-read): sockets reopened if the interface was re-created,
    /// then the machine told. A re-created interface lost its addresses, so the machine
    /// sees it go down and up, and a MASTER puts its VIPs back.
    fn follow_link(&mut self, router: &mut Router, now: Instant, link: &Link) {
        let recreated = match self.interfaces.on_link(link) {
            Ok(recreated) => recreated,
            Err(e) => {
                tracing::error!(
                    "{}: reopening sockets: {e} (retried at the next link event)",
                    link.name
                );
                false
            }
        };
        if !self.interfaces.tracks(&link.name) {
            return;
        }
        if recreated {
            tracing::info!(interface = %link.name, "re-created (index {}): sockets opened again", link.index);
            router.set_link(now, &link.name, false);
        }
        tracing::info!(interface = %link.name, up = link.up, "link state");
        router.set_link(now, &link.name, link.up);
    }

    fn instance(&self, iface: &str, vrid: u8) -> Option<&crate::machine::InstanceConfig> {
        self.config.router.instances.iter().find(|i| i.interface == iface && i.vrid == vrid)
    }

    /// The peers of the unicast instance for (interface, vrid), if it is one.
    fn unicast_peers(&self, iface: &str, vrid: u8) -> Option<&[Ipv4Addr]> {
        let index = self
            .config
            .router
            .instances
            .iter()
            .position(|i| i.interface == iface && i.vrid == vrid)?;
        self.config.instances[index].unicast.as_ref().map(|u| u.peers.as_slice())
    }

    async fn perform(&mut self, router: &mut Router) {
        while let Some(action) = router.poll_action() {
            match action {
                Action::SendAdvert { instance, advert } => {
                    // Before a switch, the sender is a leaving instance: nothing to count.
                    if self.send_advert(instance, &advert).await && self.pending.is_none() {
                        router.count_sent(instance);
                    }
                }
                Action::AddAddresses { instance, addresses } => {
                    for vip in &addresses {
                        if let Err(e) = self.interfaces.add_address(instance, vip) {
                            tracing::error!("{}: {e}", self.name(instance));
                        }
                    }
                }
                Action::RemoveAddresses { instance, addresses } => {
                    for vip in addresses.iter().filter(|v| !self.is_own_address(v.address)) {
                        if let Err(e) = self.interfaces.remove_address(instance, vip) {
                            tracing::error!("{}: {e}", self.name(instance));
                        }
                    }
                }
                Action::SendGratuitousArp { instance, addresses, repeat } => {
                    for vip in &addresses {
                        for _ in 0..repeat {
                            if let Err(e) = self.interfaces.send_gratuitous_arp(instance, vip) {
                                tracing::warn!(
                                    "{}: gratuitous ARP for {}: {e}",
                                    self.name(instance),
                                    vip.address
                                );
                                break;
                            }
                        }
                    }
                }
                Action::Transition { instance, from, to, priority, reason, stopping } => {
                    let name = self.name(instance).to_string();
                    let to_name = if stopping { "STOP" } else { to.as_str() };
                    // One line per transition, its facts as fields (JSON logs).
                    tracing::info!(
                        event = "vrrp_transition",
                        instance = %name,
                        from = from.as_str(),
                        to = to_name,
                        priority,
                        reason = %reason,
                        "{name}: {} -> {to_name} (priority {priority}): {reason}",
                        from.as_str()
                    );
                    let notify = &self.config.instances[instance].notify;
                    notify::run(notify, "INSTANCE", &name, to, stopping, priority);
                }
                Action::GroupTransition { group, to, stopping } => {
                    let name = self.config.router.sync_groups[group].name.clone();
                    let to_name = if stopping { "STOP" } else { to.as_str() };
                    tracing::info!(
                        event = "vrrp_group_transition",
                        group = %name,
                        to = to_name,
                        "sync group {name} -> {to_name}"
                    );
                    notify::run(&self.config.sync_groups[group], "GROUP", &name, to, stopping, 0);
                }
                Action::Reconfigured => self.switch(),
            }
        }
    }

    fn name(&self, instance: usize) -> &str {
        &self.config.router.instances[instance].name
    }

    /// Encodes and sends one advert to the group or every peer; true if all sends
    /// went out. Failures are logged once per instance and error kind.
    async fn send_advert(&mut self, instance: usize, advert: &packet::Advert) -> bool {
        let cfg = &self.config.router.instances[instance];
        let destinations: Vec<Ipv4Addr> = match &self.config.instances[instance].unicast {
            Some(unicast) => unicast.peers.clone(),
            None => vec![VRRP_MCAST_V4],
        };
        let mut all_sent = true;
        for dst in destinations {
            let result = match advert.encode(cfg.primary_address, dst) {
                Ok(bytes) => {
                    self.interfaces.send(instance, &bytes, dst).await.map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(()) => {
                    self.send_failures.remove(&(instance, dst));
                }
                Err(e) => {
                    all_sent = false;
                    if self.send_failures.insert((instance, dst)) {
                        tracing::error!(instance = %cfg.name, "sending advert to {dst}: {e}");
                    }
                }
            }
        }
        all_sent
    }
}
