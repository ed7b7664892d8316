//! One VRRP instance: RFC 5798 section 6.4 states, its timers and its counters. Sync
//! groups and tracking are the router's business; an instance only reports what it did
//! on its own ([`Outcome`]) so the router can move its group along.

use std::collections::{BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::config::{InitialState, InstanceConfig, VirtualAddress};
use super::timers::{centiseconds, master_down_interval, skew_time};
use super::tracking::{Assessment, Fault};
use super::{Action, InstanceIndex, InstanceStatus, State};
use crate::counters::{Counters, DropReason};
use crate::packet::{Advert, Received, Version};

pub(crate) type Out = VecDeque<Action>;

/// What an instance did on its own, for the router and its sync group to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Stay,
    /// Its Master_Down_Timer fired and it wants to take over; the router decides, since
    /// a sync group may hold it in BACKUP ([`Instance::take_over`], [`Instance::hold`]).
    WantsMaster,
    /// Gave way to a better master.
    BecameBackup,
}

#[derive(Debug, Default)]
struct Timers {
    /// BACKUP only.
    master_down: Option<Instant>,
    /// MASTER only, as the three below.
    advert: Option<Instant>,
    garp_delay: Option<Instant>,
    garp_refresh: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct Instance {
    index: InstanceIndex,
    pub(crate) cfg: InstanceConfig,
    /// Tracked scripts resolved to (script index, weight).
    pub(crate) scripts: Vec<(usize, i32)>,
    pub(crate) state: State,
    pub(crate) effective_priority: u8,
    pub(crate) faults: Vec<Fault>,
    master_adver_interval_cs: u16,
    master: Option<Ipv4Addr>,
    pub(crate) counters: Counters,
    timers: Timers,
    /// keepalived's preempt_time: until then a lower priority master is still obeyed.
    preempt_until: Option<Instant>,
    /// Why the Master_Down_Timer will fire, when it is not plain silence.
    down_reason: Option<String>,
    /// keepalived's wantstate MASTER: MASTER, or BACKUP whose Master_Down_Timer ran out
    /// with no master obeyed since. A sync group goes MASTER only when all members want it.
    pub(crate) want_master: bool,
}

impl Instance {
    pub(crate) fn new(
        index: InstanceIndex,
        cfg: InstanceConfig,
        scripts: Vec<(usize, i32)>,
    ) -> Self {
        Instance {
            index,
            effective_priority: cfg.priority,
            master_adver_interval_cs: cfg.advert_interval_cs,
            cfg,
            scripts,
            state: State::Init,
            faults: Vec::new(),
            master: None,
            counters: Counters::default(),
            timers: Timers::default(),
            preempt_until: None,
            down_reason: None,
            want_master: false,
        }
    }

    pub(crate) fn is_owner(&self) -> bool {
        self.cfg.priority == 255
    }

    /// keepalived clears nopreempt and preempt_delay for `state MASTER`, which is all
    /// that setting still does for a non-owner (it starts BACKUP like any other).
    fn preempt(&self) -> bool {
        self.cfg.preempt || self.cfg.initial_state == InitialState::Master
    }

    fn preempt_delay(&self) -> Duration {
        if self.cfg.initial_state == InitialState::Master {
            Duration::ZERO
        } else {
            self.cfg.preempt_delay
        }
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        let t = &self.timers;
        [t.master_down, t.advert, t.garp_delay, t.garp_refresh].into_iter().flatten().min()
    }

    fn master_down_interval(&self) -> Duration {
        master_down_interval(
            self.cfg.version,
            self.effective_priority,
            self.master_adver_interval_cs,
        )
    }

    fn advert(&self, priority: u8) -> Advert {
        Advert {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority,
            interval_cs: self.cfg.advert_interval_cs,
            addresses: self.cfg.virtual_addresses.iter().map(|v| v.address).collect(),
            auth: self.cfg.auth,
        }
    }

    fn send_advert(&mut self, now: Instant, out: &mut Out) {
        out.push_back(Action::SendAdvert {
            instance: self.index,
            advert: self.advert(self.effective_priority),
        });
        self.timers.advert = Some(now + centiseconds(self.cfg.advert_interval_cs));
    }

    fn garp(&self, repeat: u32, out: &mut Out) {
        out.push_back(Action::SendGratuitousArp {
            instance: self.index,
            addresses: self.cfg.virtual_addresses.clone(),
            repeat,
        });
    }

    fn transition(&mut self, to: State, reason: String, stopping: bool, out: &mut Out) {
        out.push_back(Action::Transition {
            instance: self.index,
            from: self.state,
            to,
            priority: self.effective_priority,
            reason,
            stopping,
        });
        self.counters.transitions += 1;
        if to == State::Master {
            self.counters.became_master += 1;
        }
        self.state = to;
    }

    /// Removes the VIPs and stops every MASTER timer.
    fn release(&mut self, out: &mut Out) {
        out.push_back(Action::RemoveAddresses {
            instance: self.index,
            addresses: self.cfg.virtual_addresses.clone(),
        });
        self.timers = Timers::default();
    }

    /// Addresses, advert and GARPs go out before the transition is reported: the driver
    /// runs `notify master` on it, and keepalived notifies once the VIPs are up.
    pub(crate) fn enter_master(&mut self, now: Instant, reason: String, out: &mut Out) {
        self.master = None;
        self.master_adver_interval_cs = self.cfg.advert_interval_cs;
        self.preempt_until = None;
        self.down_reason = None;
        self.want_master = true;
        self.timers = Timers::default();
        out.push_back(Action::AddAddresses {
            instance: self.index,
            addresses: self.cfg.virtual_addresses.clone(),
        });
        self.send_advert(now, out);
        let garp = &self.cfg.garp;
        self.garp(garp.master_repeat, out);
        if !garp.master_delay.is_zero() {
            self.timers.garp_delay = Some(now + garp.master_delay);
        }
        // A zero refresh period would fire forever at one instant.
        self.timers.garp_refresh =
            garp.master_refresh.filter(|r| !r.is_zero()).map(|refresh| now + refresh);
        self.transition(State::Master, reason, false, out);
    }

    /// Takes over once its Master_Down_Timer ran out (and its sync group agreed).
    pub(crate) fn take_over(&mut self, now: Instant, out: &mut Out) {
        let reason =
            self.down_reason.take().unwrap_or_else(|| "master down timer expired".to_string());
        self.enter_master(now, reason, out);
    }

    /// Held in BACKUP by its sync group: it still wants MASTER and its timer runs again,
    /// as keepalived re-arms it (the length matters little: another member's timer or
    /// a priority 0 advert is what usually lets the group go).
    pub(crate) fn hold(&mut self, now: Instant) {
        self.timers.master_down = Some(now + self.master_down_interval());
    }

    /// `adopt`: the interval of the master we gave way to (v3).
    pub(crate) fn enter_backup(
        &mut self,
        now: Instant,
        reason: String,
        adopt: Option<u16>,
        out: &mut Out,
    ) {
        if self.state == State::Master {
            self.release(out);
        }
        self.transition(State::Backup, reason, false, out);
        self.timers = Timers::default();
        self.master = None;
        self.master_adver_interval_cs = adopt.unwrap_or(self.cfg.advert_interval_cs);
        self.timers.master_down = Some(now + self.master_down_interval());
        self.preempt_until = None;
        self.down_reason = None;
        self.want_master = false;
    }

    /// BACKUP at startup: preempt_delay counts from here (keepalived).
    pub(crate) fn start_backup(&mut self, now: Instant, reason: String, out: &mut Out) {
        self.enter_backup(now, reason, None, out);
        let delay = self.preempt_delay();
        if !delay.is_zero() {
            self.preempt_until = Some(now + delay);
        }
    }

    pub(crate) fn enter_fault(&mut self, reason: String, out: &mut Out) {
        self.leave_master_with_priority_zero(out);
        self.transition(State::Fault, reason, false, out);
        self.clear();
    }

    pub(crate) fn stop(&mut self, reason: String, out: &mut Out) {
        self.leave_master_with_priority_zero(out);
        self.transition(State::Init, reason, true, out);
        self.clear();
    }

    /// A MASTER that stops tells the backups to take over after Skew_Time, not after
    /// Master_Down_Interval (RFC 5798 section 6.4.3).
    fn leave_master_with_priority_zero(&mut self, out: &mut Out) {
        if self.state == State::Master {
            out.push_back(Action::SendAdvert { instance: self.index, advert: self.advert(0) });
            self.release(out);
        }
    }

    fn clear(&mut self) {
        self.timers = Timers::default();
        self.master = None;
        self.preempt_until = None;
        self.down_reason = None;
        self.want_master = false;
        self.master_adver_interval_cs = self.cfg.advert_interval_cs;
    }

    /// Whether `cfg` is still this instance: the same interface, VRID, version and
    /// source address. Peers know a router by these (keepalived matches on reload by
    /// interface, VRID, family and unicast source); anything else changes in place.
    pub(crate) fn same_identity(&self, cfg: &InstanceConfig) -> bool {
        let ours = &self.cfg;
        ours.interface == cfg.interface
            && ours.vrid == cfg.vrid
            && ours.version == cfg.version
            && ours.primary_address == cfg.primary_address
    }

    /// What makes `cfg` another instance, for the log.
    pub(crate) fn identity_change(&self, cfg: &InstanceConfig) -> String {
        let ours = &self.cfg;
        let mut changes = Vec::new();
        if ours.interface != cfg.interface {
            changes.push(format!("interface {} -> {}", ours.interface, cfg.interface));
        }
        if ours.vrid != cfg.vrid {
            changes.push(format!("vrid {} -> {}", ours.vrid, cfg.vrid));
        }
        if ours.version != cfg.version {
            let (from, to) = (ours.version.number(), cfg.version.number());
            changes.push(format!("version {from} -> {to}"));
        }
        if ours.primary_address != cfg.primary_address {
            changes.push(format!("source {} -> {}", ours.primary_address, cfg.primary_address));
        }
        changes.join(", ")
    }

    /// Takes a new configuration of the same identity in place: state, timers and
    /// counters stay, and a new priority counts from now (a MASTER advertises it at once,
    /// a BACKUP uses it in its next comparison, as for a tracking change). `assessment`
    /// is tracking's view of `cfg`; moving into or out of FAULT is the router's, after.
    pub(crate) fn reconfigure(
        &mut self,
        now: Instant,
        index: InstanceIndex,
        (cfg, scripts): (InstanceConfig, Vec<(usize, i32)>),
        assessment: Assessment,
        out: &mut Out,
    ) {
        let old = std::mem::replace(&mut self.cfg, cfg);
        self.index = index;
        self.scripts = scripts;
        self.faults = assessment.faults;
        let priority_changed = self.effective_priority != assessment.effective_priority;
        self.effective_priority = assessment.effective_priority;
        match self.state {
            State::Master => self.reconfigure_master(now, &old, priority_changed, out),
            // A v3 backup keeps the interval of the master it follows.
            State::Backup if self.cfg.version == Version::V3 && self.master.is_some() => {}
            _ => self.master_adver_interval_cs = self.cfg.advert_interval_cs,
        }
    }

    /// Added addresses go up and are announced, dropped ones go down, and peers hear
    /// at once what the adverts now carry.
    fn reconfigure_master(
        &mut self,
        now: Instant,
        old: &InstanceConfig,
        priority_changed: bool,
        out: &mut Out,
    ) {
        let ours = &self.cfg.virtual_addresses;
        let dropped: Vec<VirtualAddress> =
            old.virtual_addresses.iter().filter(|v| !ours.contains(v)).cloned().collect();
        let added: Vec<VirtualAddress> =
            ours.iter().filter(|v| !old.virtual_addresses.contains(v)).cloned().collect();
        if !dropped.is_empty() {
            out.push_back(Action::RemoveAddresses { instance: self.index, addresses: dropped });
        }
        self.master_adver_interval_cs = self.cfg.advert_interval_cs;
        if !self.faults.is_empty() {
            // FAULT follows, with a priority 0 advert and every address down.
            return;
        }
        if !added.is_empty() {
            out.push_back(Action::AddAddresses { instance: self.index, addresses: added.clone() });
        }
        let carried = |c: &InstanceConfig| {
            let addresses: Vec<Ipv4Addr> = c.virtual_addresses.iter().map(|v| v.address).collect();
            (c.advert_interval_cs, c.auth, addresses)
        };
        if priority_changed || carried(old) != carried(&self.cfg) {
            self.send_advert(now, out);
        }
        if !added.is_empty() {
            out.push_back(Action::SendGratuitousArp {
                instance: self.index,
                addresses: added,
                repeat: self.cfg.garp.master_repeat,
            });
        }
        if old.garp.master_refresh != self.cfg.garp.master_refresh {
            self.timers.garp_refresh =
                self.cfg.garp.master_refresh.filter(|r| !r.is_zero()).map(|refresh| now + refresh);
        }
    }

    /// A MASTER advertises a new priority at once; a BACKUP uses it in its next
    /// comparison.
    pub(crate) fn set_effective_priority(&mut self, now: Instant, priority: u8, out: &mut Out) {
        if priority != self.effective_priority {
            self.effective_priority = priority;
            if self.state == State::Master {
                self.send_advert(now, out);
            }
        }
    }

    /// Fires the earliest timer if it is due; None when nothing is due.
    pub(crate) fn fire_due(&mut self, now: Instant, out: &mut Out) -> Option<Outcome> {
        let earliest = Some(self.next_timeout().filter(|t| *t <= now)?);
        if self.timers.master_down == earliest {
            self.timers.master_down = None;
            self.want_master = true;
            return Some(Outcome::WantsMaster);
        }
        if self.timers.advert == earliest {
            self.send_advert(now, out);
        } else if self.timers.garp_delay == earliest {
            self.timers.garp_delay = None;
            self.garp(self.cfg.garp.master_repeat, out);
        } else {
            self.timers.garp_refresh = self.cfg.garp.master_refresh.map(|refresh| now + refresh);
            self.garp(self.cfg.garp.master_refresh_repeat, out);
        }
        Some(Outcome::Stay)
    }

    /// The checks of RFC 5798 section 7.1 that need the instance's configuration.
    fn check(&self, received: &Received) -> Result<(), DropReason> {
        let advert = &received.advert;
        if received.src == self.cfg.primary_address && !received.src.is_unspecified() {
            return Err(DropReason::OwnPacket);
        }
        if advert.version != self.cfg.version {
            return Err(DropReason::VersionMismatch);
        }
        if self.cfg.version == Version::V2 {
            if advert.auth != self.cfg.auth {
                return Err(DropReason::AuthMismatch);
            }
            if advert.interval_cs != self.cfg.advert_interval_cs {
                return Err(DropReason::IntervalMismatch);
            }
        }
        let theirs: BTreeSet<Ipv4Addr> = advert.addresses.iter().copied().collect();
        let ours: BTreeSet<Ipv4Addr> =
            self.cfg.virtual_addresses.iter().map(|v| v.address).collect();
        if theirs != ours {
            return Err(DropReason::AddressMismatch);
        }
        Ok(())
    }

    /// Checks and counts one advert, then applies it to the state.
    pub(crate) fn receive(
        &mut self,
        now: Instant,
        received: &Received,
        out: &mut Out,
    ) -> Result<Outcome, DropReason> {
        if let Err(reason) = self.check(received) {
            self.counters.drop(reason);
            return Err(reason);
        }
        self.counters.adverts_received += 1;
        Ok(match self.state {
            // FAULT hears adverts (they are counted) but acts on none.
            State::Init | State::Fault => Outcome::Stay,
            State::Backup => {
                self.backup_receive(now, received);
                Outcome::Stay
            }
            State::Master => self.master_receive(now, received, out),
        })
    }

    fn backup_receive(&mut self, now: Instant, received: &Received) {
        let advert = &received.advert;
        let src = received.src;
        if advert.priority == 0 {
            self.timers.master_down = Some(
                now + skew_time(
                    self.cfg.version,
                    self.effective_priority,
                    self.master_adver_interval_cs,
                ),
            );
            self.down_reason = Some(format!("priority 0 advert from {src}"));
            return;
        }
        let lower = advert.priority < self.effective_priority;
        let obey = !self.preempt() || !lower || self.preempt_delay_open(now);
        if !lower {
            // A master at least as good as us ends any preempt delay.
            self.preempt_until = None;
        }
        self.master = Some(src);
        if obey {
            if self.cfg.version == Version::V3 {
                // A zero interval is the codec's to reject; never let it make a zero timer.
                self.master_adver_interval_cs = advert.interval_cs.max(1);
            }
            self.timers.master_down = Some(now + self.master_down_interval());
            self.down_reason = None;
            // A master is heard: a timer that ran out while the group held us back no
            // longer counts (keepalived sets wantstate BACKUP here).
            self.want_master = false;
        } else {
            // Ignored, so the timer runs out and we preempt.
            self.down_reason =
                Some(format!("preempting lower priority master {src} (prio {})", advert.priority));
        }
    }

    /// Whether preempt_delay still holds back preemption of a lower priority master;
    /// the first such master seen opens the window (keepalived).
    fn preempt_delay_open(&mut self, now: Instant) -> bool {
        let delay = self.preempt_delay();
        if delay.is_zero() {
            return false;
        }
        match self.preempt_until {
            Some(until) => now < until,
            None => {
                self.preempt_until = Some(now + delay);
                true
            }
        }
    }

    fn master_receive(&mut self, now: Instant, received: &Received, out: &mut Out) -> Outcome {
        let advert = &received.advert;
        let (src, priority, ours) = (received.src, advert.priority, self.effective_priority);
        if priority == 0 {
            // The old master left: make the backups hear us before their skew runs out.
            self.send_advert(now, out);
            return Outcome::Stay;
        }
        let higher_address = priority == ours && src > self.cfg.primary_address;
        if priority > ours || higher_address {
            let reason = if higher_address {
                format!("equal priority advert from higher address {src} (prio {priority})")
            } else {
                format!("higher priority advert from {src} (prio {priority})")
            };
            let adopt = (self.cfg.version == Version::V3).then_some(advert.interval_cs.max(1));
            self.enter_backup(now, reason, adopt, out);
            self.master = Some(src);
            return Outcome::BecameBackup;
        }
        // keepalived answers a lower priority master at once, ending a split brain within
        // one delivery instead of one interval.
        self.send_advert(now, out);
        Outcome::Stay
    }

    pub(crate) fn status(&self) -> InstanceStatus {
        InstanceStatus {
            name: self.cfg.name.clone(),
            state: self.state,
            priority: self.cfg.priority,
            effective_priority: self.effective_priority,
            advert_interval_cs: self.master_adver_interval_cs,
            master: if self.state == State::Master { None } else { self.master },
            faults: self.faults.iter().map(|f| f.name().to_string()).collect(),
            counters: self.counters.clone(),
        }
    }
}
