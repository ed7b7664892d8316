//! [`Router`]: every instance of one director, their tracking and their sync groups,
//! behind the event API the driver calls.

use std::collections::VecDeque;
use std::time::Instant;

use super::instance::{Instance, Outcome};
use super::sync_group::Group;
use super::tracking::{describe, Tracking};
use super::validate::{validate, ConfigError};
use super::{Action, InstanceConfig, InstanceIndex, InstanceStatus, RouterConfig, State};
use crate::counters::{Counters, DropReason};
use crate::packet::Received;

/// The sans-IO VRRP machine of one director. See the module documentation.
#[derive(Debug)]
pub struct Router {
    pub(super) instances: Vec<Instance>,
    pub(super) groups: Vec<Group>,
    pub(super) tracking: Tracking,
    pub(super) actions: VecDeque<Action>,
    pub(super) unclaimed: Counters,
    /// Between start and shutdown.
    pub(super) running: bool,
}

impl Router {
    /// Checks the configuration; every instance starts in INIT until [`Router::start`].
    pub fn new(config: RouterConfig) -> Result<Router, ConfigError> {
        validate(&config)?;
        let tracking = Tracking::new(&config.scripts);
        let instances = config
            .instances
            .iter()
            .enumerate()
            .map(|(index, cfg)| {
                let (cfg, scripts) = resolve(&config, &tracking, cfg);
                Instance::new(index, cfg, scripts)
            })
            .collect();
        let groups = config.sync_groups.iter().map(|g| Group::new(&config, g)).collect();
        let mut router = Router {
            instances,
            groups,
            tracking,
            actions: VecDeque::new(),
            unclaimed: Counters::default(),
            running: false,
        };
        router.assess();
        Ok(router)
    }

    /// Every instance leaves INIT: FAULT if tracking says so, MASTER if it owns the
    /// addresses, BACKUP otherwise (`initial_state: master` included, as in keepalived).
    /// Sync group members start together. Instances that do not start MASTER first
    /// remove their addresses, which a run that was killed may have left behind.
    pub fn start(&mut self, now: Instant) {
        if self.running {
            return;
        }
        self.running = true;
        self.assess();
        for i in 0..self.instances.len() {
            if self.group_of(i).is_none() {
                let (target, reason) = self.start_target(i);
                self.start_instance(now, i, target, reason);
            }
        }
        for g in 0..self.groups.len() {
            self.start_group(now, g);
        }
        self.emit_group_states();
    }

    /// Where instance `i` goes at start on its own, and why.
    pub(super) fn start_target(&self, i: InstanceIndex) -> (State, String) {
        let instance = &self.instances[i];
        if !instance.faults.is_empty() {
            (State::Fault, describe(&instance.faults))
        } else if instance.is_owner() {
            (State::Master, "address owner (priority 255)".to_string())
        } else {
            (State::Backup, "startup".to_string())
        }
    }

    pub(super) fn start_instance(&mut self, now: Instant, i: usize, to: State, reason: String) {
        let out = &mut self.actions;
        let instance = &mut self.instances[i];
        // Otherwise a host that comes back as BACKUP keeps answering ARP for the VIP
        // while the peer is MASTER. The driver ignores addresses that are not there.
        if to != State::Master && !instance.cfg.virtual_addresses.is_empty() {
            out.push_back(Action::RemoveAddresses {
                instance: i,
                addresses: instance.cfg.virtual_addresses.clone(),
            });
        }
        match to {
            State::Master => instance.enter_master(now, reason, out),
            State::Fault => instance.enter_fault(reason, out),
            _ => instance.start_backup(now, reason, out),
        }
    }

    /// Applies one advert received on `interface`. Drops (checks that failed, or no
    /// instance for the VRID) are counted and returned.
    pub fn handle_advert(
        &mut self,
        now: Instant,
        interface: &str,
        received: &Received,
    ) -> Result<InstanceIndex, DropReason> {
        let Some(i) = self.find(interface, received.advert.vrid) else {
            self.unclaimed.drop(DropReason::UnknownVrid);
            return Err(DropReason::UnknownVrid);
        };
        let outcome = self.instances[i].receive(now, received, &mut self.actions)?;
        self.follow(now, i, outcome);
        Ok(i)
    }

    fn find(&self, interface: &str, vrid: u8) -> Option<InstanceIndex> {
        self.instances.iter().position(|i| i.cfg.interface == interface && i.cfg.vrid == vrid)
    }

    /// Counts a drop the driver detected, on the instance it was meant for if any.
    pub fn count_drop(&mut self, interface: &str, vrid: Option<u8>, reason: DropReason) {
        match vrid.and_then(|vrid| self.find(interface, vrid)) {
            Some(i) => self.instances[i].counters.drop(reason),
            None => self.unclaimed.drop(reason),
        }
    }

    /// The driver sent an advert of `instance`. Adverts queued before an
    /// [`Action::Reconfigured`] are of leaving instances and are not counted.
    pub fn count_sent(&mut self, instance: InstanceIndex) {
        if let Some(instance) = self.instances.get_mut(instance) {
            instance.counters.adverts_sent += 1;
        }
    }

    /// A link went up or down (interfaces never reported are up).
    pub fn set_link(&mut self, now: Instant, interface: &str, up: bool) {
        if self.tracking.set_link(interface, up) {
            self.reassess(now);
        }
    }

    /// One exit of a tracked script; it flips after `rise` / `fall` results in a row.
    pub fn script_result(&mut self, now: Instant, script: &str, ok: bool) {
        if self.tracking.script_result(script, ok) {
            self.reassess(now);
        }
    }

    /// Leaves cleanly: MASTERs send priority 0 and drop their addresses, every instance
    /// and group reports a stop, and no timer is left.
    pub fn shutdown(&mut self, _now: Instant) {
        if !self.running {
            return;
        }
        self.running = false;
        for instance in &mut self.instances {
            instance.stop("shutdown".to_string(), &mut self.actions);
        }
        for (group, g) in self.groups.iter_mut().enumerate() {
            g.state = State::Init;
            self.actions.push_back(Action::GroupTransition {
                group,
                to: State::Init,
                stopping: true,
            });
        }
    }

    /// Runs every timer due at `now`, earliest first.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Every timer a firing sets is later than `now`, so this ends.
        while let Some(i) = self
            .instances
            .iter()
            .enumerate()
            .filter_map(|(i, instance)| Some((instance.next_timeout()?, i)))
            .filter(|(at, _)| *at <= now)
            .min()
            .map(|(_, i)| i)
        {
            if let Some(outcome) = self.instances[i].fire_due(now, &mut self.actions) {
                self.follow(now, i, outcome);
            }
        }
    }

    /// The earliest pending timer; None when nothing will happen without an input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.instances.iter().filter_map(Instance::next_timeout).min()
    }

    /// The next action, in the order they must be carried out.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn status(&self) -> Vec<InstanceStatus> {
        self.instances.iter().map(Instance::status).collect()
    }

    /// Drops no instance could claim (unknown VRID, undecodable packets).
    pub fn unclaimed_drops(&self) -> &Counters {
        &self.unclaimed
    }

    /// Recomputes faults and effective priorities from the tracking state.
    pub(super) fn assess(&mut self) {
        for instance in &mut self.instances {
            let assessment = self.tracking.assess(&instance.cfg, &instance.scripts);
            instance.faults = assessment.faults;
            // Before start nothing is advertised, so the priority is just set.
            instance.effective_priority = assessment.effective_priority;
        }
    }

    /// Applies a tracking change: priorities, then moves into and out of FAULT.
    pub(super) fn reassess(&mut self, now: Instant) {
        if !self.running {
            self.assess();
            return;
        }
        for instance in &mut self.instances {
            let assessment = self.tracking.assess(&instance.cfg, &instance.scripts);
            instance.faults = assessment.faults;
            if instance.faults.is_empty() {
                instance.set_effective_priority(
                    now,
                    assessment.effective_priority,
                    &mut self.actions,
                );
            } else {
                // About to go FAULT with a priority 0 advert: no advert of the new priority.
                instance.effective_priority = assessment.effective_priority;
            }
        }
        self.follow_faults(now);
        self.emit_group_states();
    }

    /// Moves instances (and whole sync groups) into FAULT, or out of it, as their
    /// faults say.
    pub(super) fn follow_faults(&mut self, now: Instant) {
        for i in 0..self.instances.len() {
            if self.group_of(i).is_some() {
                continue;
            }
            let out = &mut self.actions;
            let instance = &mut self.instances[i];
            match (instance.faults.is_empty(), instance.state) {
                (false, State::Backup | State::Master) => {
                    let reason = describe(&instance.faults);
                    instance.enter_fault(reason, out);
                }
                (true, State::Fault) if instance.is_owner() => {
                    instance.enter_master(now, "faults cleared, address owner".to_string(), out);
                }
                (true, State::Fault) => {
                    instance.enter_backup(now, "faults cleared".to_string(), None, out);
                }
                _ => {}
            }
        }
        for g in 0..self.groups.len() {
            self.group_faults(now, g);
        }
    }

    /// After an instance acted on its own: it takes over if its sync group lets it,
    /// and the group follows a member that gave way.
    fn follow(&mut self, now: Instant, i: InstanceIndex, outcome: Outcome) {
        match outcome {
            Outcome::Stay => return,
            Outcome::WantsMaster => self.want_master(now, i),
            Outcome::BecameBackup => self.propagate_backup(now, i),
        }
        self.emit_group_states();
    }
}

/// An instance's configuration as the machine runs it, with its tracked scripts
/// resolved to (script index, weight). In a sync group without `tracking_weight` every
/// weight is dropped, so a tracked failure faults the group instead.
pub(super) fn resolve(
    config: &RouterConfig,
    tracking: &Tracking,
    cfg: &InstanceConfig,
) -> (InstanceConfig, Vec<(usize, i32)>) {
    let weights =
        !config.sync_groups.iter().any(|g| !g.tracking_weight && g.instances.contains(&cfg.name));
    let mut cfg = cfg.clone();
    if !weights {
        for t in &mut cfg.track_interfaces {
            t.weight = 0;
        }
    }
    let scripts = cfg
        .track_scripts
        .iter()
        .filter_map(|t| {
            let script = tracking.script_index(&t.name)?;
            let weight = t.weight.unwrap_or(config.scripts[script].weight);
            Some((script, if weights { weight } else { 0 }))
        })
        .collect();
    (cfg, scripts)
}
