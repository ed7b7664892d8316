//! A LAN of routers on virtual time. Each SendAdvert reaches every other running router
//! on the same segment after a random delay; time jumps to the next delivery or timer.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::counters::DropReason;
use crate::machine::{Action, InstanceIndex, InstanceStatus, Router, RouterConfig, State};
use crate::packet::{Advert, Received, VRRP_MCAST_V4, VRRP_TTL};

/// One advert handed to a router.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) at: Instant,
    pub(crate) src: Ipv4Addr,
    pub(crate) priority: u8,
    pub(crate) result: Result<InstanceIndex, DropReason>,
}

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) router: Router,
    config: RouterConfig,
    /// Taken by the router, in force from its [`Action::Reconfigured`].
    pending: Option<RouterConfig>,
    /// A node that is down neither hears nor sends, and its timers stand still.
    pub(crate) up: bool,
    /// Adverts only reach nodes on the same segment.
    segment: u32,
    pub(crate) log: Vec<(Instant, Action)>,
    pub(crate) rx: Vec<Delivery>,
    /// Addresses on the host's interfaces. A crash leaves them there, as `kill -9` does.
    pub(crate) held: BTreeSet<Ipv4Addr>,
}

#[derive(Debug)]
struct Packet {
    at: Instant,
    seq: u64,
    from: usize,
    to: usize,
    interface: String,
    received: Received,
}

#[derive(Debug)]
pub(crate) struct Sim {
    pub(crate) t0: Instant,
    pub(crate) now: Instant,
    pub(crate) nodes: Vec<Node>,
    wire: Vec<Packet>,
    /// Delivery delay, uniform in [min, max].
    pub(crate) delay: (Duration, Duration),
    rng: u64,
    seq: u64,
}

impl Sim {
    pub(crate) fn new(configs: Vec<RouterConfig>) -> Sim {
        let t0 = Instant::now();
        let nodes = configs
            .into_iter()
            .map(|config| Node {
                router: Router::new(config.clone()).expect("valid config"),
                config,
                pending: None,
                up: true,
                segment: 0,
                log: Vec::new(),
                rx: Vec::new(),
                held: BTreeSet::new(),
            })
            .collect();
        Sim {
            t0,
            now: t0,
            nodes,
            wire: Vec::new(),
            delay: (Duration::ZERO, Duration::from_millis(1)),
            rng: 0x9E37_79B9_7F4A_7C15,
            seq: 0,
        }
    }

    pub(crate) fn seed(mut self, seed: u64) -> Sim {
        self.rng = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
        self
    }

    /// t0 + `secs`.
    pub(crate) fn t(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    pub(crate) fn start(&mut self, node: usize) {
        self.nodes[node].router.start(self.now);
        self.drain(node);
    }

    pub(crate) fn start_all(&mut self) {
        for node in 0..self.nodes.len() {
            self.start(node);
        }
    }

    /// Runs the node's router as the driver would: a call, then every action.
    pub(crate) fn with(&mut self, node: usize, f: impl FnOnce(&mut Router, Instant)) {
        f(&mut self.nodes[node].router, self.now);
        self.drain(node);
    }

    /// A reload: the router takes `config` now, and the node's adverts follow it from
    /// the router's switch on, as the driver's do.
    pub(crate) fn reconfigure(&mut self, node: usize, config: RouterConfig) {
        let now = self.now;
        self.nodes[node].router.reconfigure(now, config.clone()).expect("valid config");
        self.nodes[node].pending = Some(config);
        self.drain(node);
    }

    pub(crate) fn kill(&mut self, node: usize) {
        self.nodes[node].up = false;
    }

    /// A fresh router from the same configuration, started now.
    pub(crate) fn restart(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.router = Router::new(n.config.clone()).expect("valid config");
        n.up = true;
        self.start(node);
    }

    pub(crate) fn partition(&mut self, node: usize, segment: u32) {
        self.nodes[node].segment = segment;
    }

    fn sample_delay(&mut self) -> Duration {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let (min, max) = self.delay;
        let span = (max - min).as_micros() as u64 + 1;
        min + Duration::from_micros(r % span)
    }

    fn drain(&mut self, node: usize) {
        while let Some(action) = self.nodes[node].router.poll_action() {
            match &action {
                Action::SendAdvert { instance, advert } => {
                    // Before a switch, the sender is a leaving instance: nothing to count.
                    if self.nodes[node].pending.is_none() {
                        self.nodes[node].router.count_sent(*instance);
                    }
                    self.transmit(node, *instance, advert.clone());
                }
                Action::AddAddresses { addresses, .. } => {
                    self.nodes[node].held.extend(addresses.iter().map(|v| v.address));
                }
                Action::RemoveAddresses { addresses, .. } => {
                    for v in addresses {
                        self.nodes[node].held.remove(&v.address);
                    }
                }
                Action::Reconfigured => {
                    let n = &mut self.nodes[node];
                    n.config = n.pending.take().expect("a configuration to switch to");
                }
                _ => {}
            }
            self.nodes[node].log.push((self.now, action));
        }
    }

    fn transmit(&mut self, from: usize, instance: InstanceIndex, advert: Advert) {
        let cfg = &self.nodes[from].config.instances[instance];
        let (interface, src) = (cfg.interface.clone(), cfg.primary_address);
        let segment = self.nodes[from].segment;
        for to in 0..self.nodes.len() {
            if to == from || !self.nodes[to].up || self.nodes[to].segment != segment {
                continue;
            }
            let at = self.now + self.sample_delay();
            self.seq += 1;
            let received =
                Received { src, dst: VRRP_MCAST_V4, ttl: VRRP_TTL, advert: advert.clone() };
            let interface = interface.clone();
            self.wire.push(Packet { at, seq: self.seq, from, to, interface, received });
        }
    }

    fn next_event(&self) -> Option<Instant> {
        let packet = self.wire.iter().map(|p| p.at).min();
        let timer =
            self.nodes.iter().filter(|n| n.up).filter_map(|n| n.router.poll_timeout()).min();
        packet.into_iter().chain(timer).min()
    }

    /// Processes every delivery and timer up to `until`, then sets the clock to it.
    pub(crate) fn run_until(&mut self, until: Instant) {
        let mut steps = 0u32;
        while let Some(next) = self.next_event().filter(|t| *t <= until) {
            steps += 1;
            assert!(steps < 1_000_000, "no quiescence: event storm at {:?}", next - self.t0);
            self.now = self.now.max(next);
            if let Some(k) = (0..self.wire.len())
                .filter(|&k| self.wire[k].at <= self.now)
                .min_by_key(|&k| (self.wire[k].at, self.wire[k].seq))
            {
                let p = self.wire.swap_remove(k);
                self.deliver(p);
                continue;
            }
            for node in 0..self.nodes.len() {
                let due = self.nodes[node].router.poll_timeout().is_some_and(|t| t <= self.now);
                if self.nodes[node].up && due {
                    let now = self.now;
                    self.with(node, |router, _| router.handle_timeout(now));
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// A partition made while a packet is in flight drops it.
    fn deliver(&mut self, p: Packet) {
        if !self.nodes[p.to].up || self.nodes[p.from].segment != self.nodes[p.to].segment {
            return;
        }
        let node = &mut self.nodes[p.to];
        let result = node.router.handle_advert(self.now, &p.interface, &p.received);
        node.rx.push(Delivery {
            at: self.now,
            src: p.received.src,
            priority: p.received.advert.priority,
            result,
        });
        self.drain(p.to);
    }

    pub(crate) fn status(&self, node: usize, instance: InstanceIndex) -> InstanceStatus {
        self.nodes[node].router.status().swap_remove(instance)
    }

    pub(crate) fn state(&self, node: usize, instance: InstanceIndex) -> State {
        self.status(node, instance).state
    }

    /// (when, from, to, reason) of the instance's transitions.
    pub(crate) fn transitions(
        &self,
        node: usize,
        instance: InstanceIndex,
    ) -> Vec<(Instant, State, State, String)> {
        self.nodes[node]
            .log
            .iter()
            .filter_map(|(at, action)| match action {
                Action::Transition { instance: i, from, to, reason, .. } if *i == instance => {
                    Some((*at, *from, *to, reason.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// When the instance first entered `state` at or after `after`.
    pub(crate) fn entered(
        &self,
        node: usize,
        instance: InstanceIndex,
        state: State,
        after: Instant,
    ) -> Option<Instant> {
        self.transitions(node, instance)
            .into_iter()
            .find(|(at, _, to, _)| *to == state && *at >= after)
            .map(|(at, ..)| at)
    }

    /// Running nodes whose instance is MASTER.
    pub(crate) fn masters(&self, instance: InstanceIndex) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&n| self.nodes[n].up && self.state(n, instance) == State::Master)
            .collect()
    }

    /// Running nodes that have `address` on an interface.
    pub(crate) fn holders(&self, address: Ipv4Addr) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&n| self.nodes[n].up && self.nodes[n].held.contains(&address))
            .collect()
    }

    /// The node's actions for `instance`, with when.
    pub(crate) fn actions(&self, node: usize, instance: InstanceIndex) -> Vec<(Instant, Action)> {
        self.nodes[node]
            .log
            .iter()
            .filter(|(_, action)| action_instance(action) == Some(instance))
            .cloned()
            .collect()
    }

    /// When the node last accepted an advert for `instance` at or before `until`.
    pub(crate) fn last_accepted(
        &self,
        node: usize,
        instance: InstanceIndex,
        until: Instant,
    ) -> Option<Delivery> {
        self.nodes[node].rx.iter().rfind(|d| d.result == Ok(instance) && d.at <= until).cloned()
    }

    /// Adverts the node sent for `instance`, with when.
    pub(crate) fn sent(&self, node: usize, instance: InstanceIndex) -> Vec<(Instant, Advert)> {
        self.nodes[node]
            .log
            .iter()
            .filter_map(|(at, action)| match action {
                Action::SendAdvert { instance: i, advert } if *i == instance => {
                    Some((*at, advert.clone()))
                }
                _ => None,
            })
            .collect()
    }
}

fn action_instance(action: &Action) -> Option<InstanceIndex> {
    match action {
        Action::SendAdvert { instance, .. }
        | Action::AddAddresses { instance, .. }
        | Action::RemoveAddresses { instance, .. }
        | Action::SendGratuitousArp { instance, .. }
        | Action::Transition { instance, .. } => Some(*instance),
        Action::GroupTransition { .. } | Action::Reconfigured => None,
    }
}
