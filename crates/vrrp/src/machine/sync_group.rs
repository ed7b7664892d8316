//! keepalived's vrrp_sync_group: members move between MASTER and BACKUP together, and a
//! fault in one faults them all. The group goes MASTER only when every member wants to
//! (its Master_Down_Timer ran out and no master was heard since); one member giving
//! way to a better master takes the others to BACKUP at once. Preferring BACKUP keeps
//! a group whose members hear different masters from flapping.

use std::time::Instant;

use super::router::Router;
use super::tracking::describe;
use super::{Action, GroupIndex, InstanceIndex, RouterConfig, State, SyncGroupConfig};

#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) members: Vec<InstanceIndex>,
    /// Last state reported in a GroupTransition.
    pub(crate) state: State,
}

impl Group {
    /// Members are resolved to their indices in `config`.
    pub(crate) fn new(config: &RouterConfig, group: &SyncGroupConfig) -> Group {
        let members = group
            .instances
            .iter()
            .filter_map(|name| config.instances.iter().position(|i| &i.name == name))
            .collect();
        Group { name: group.name.clone(), members, state: State::Init }
    }
}

impl Router {
    pub(super) fn group_of(&self, i: InstanceIndex) -> Option<GroupIndex> {
        self.groups.iter().position(|g| g.members.contains(&i))
    }

    /// Members start together: FAULT if any is faulty, else BACKUP if any would start
    /// BACKUP, else (all address owners) MASTER.
    pub(super) fn start_group(&mut self, now: Instant, g: GroupIndex) {
        let members = self.groups[g].members.clone();
        let targets: Vec<(State, String)> = members.iter().map(|&i| self.start_target(i)).collect();
        let leader = [State::Fault, State::Backup]
            .into_iter()
            .find_map(|s| targets.iter().position(|(t, _)| *t == s).map(|k| (s, k)));
        for (k, &i) in members.iter().enumerate() {
            let (to, reason) = match leader {
                Some((to, lead)) if lead != k && targets[k].0 != to => {
                    let name = &self.instances[members[lead]].cfg.name;
                    (
                        to,
                        format!(
                            "sync group {}: member {name} is {}",
                            self.groups[g].name,
                            to.as_str()
                        ),
                    )
                }
                _ => targets[k].clone(),
            };
            self.start_instance(now, i, to, reason);
        }
    }

    /// Instance `i`'s Master_Down_Timer ran out. On its own it takes over; in a group it
    /// does so, with every other member, only if they all want MASTER too, and is held
    /// in BACKUP otherwise (keepalived's vrrp_sync_can_goto_master).
    pub(super) fn want_master(&mut self, now: Instant, i: InstanceIndex) {
        let Some(g) = self.group_of(i) else {
            self.instances[i].take_over(now, &mut self.actions);
            return;
        };
        let group = &self.groups[g];
        if !group.members.iter().all(|&m| self.instances[m].want_master) {
            self.instances[i].hold(now);
            return;
        }
        self.instances[i].take_over(now, &mut self.actions);
        let reason = format!(
            "sync group {}: member {} became MASTER",
            group.name, self.instances[i].cfg.name
        );
        for &m in &group.members {
            let instance = &mut self.instances[m];
            if m != i && instance.state == State::Backup {
                instance.enter_master(now, reason.clone(), &mut self.actions);
            }
        }
    }

    /// A member gave way to a better master: the others leave MASTER with it.
    pub(super) fn propagate_backup(&mut self, now: Instant, from: InstanceIndex) {
        let Some(g) = self.group_of(from) else { return };
        let reason = format!(
            "sync group {}: member {} became BACKUP",
            self.groups[g].name, self.instances[from].cfg.name
        );
        for &i in &self.groups[g].members {
            let instance = &mut self.instances[i];
            if i != from && instance.state == State::Master {
                instance.enter_backup(now, reason.clone(), None, &mut self.actions);
            }
        }
    }

    /// A faulty member faults the whole group; when none is faulty any more they all
    /// leave FAULT together: to MASTER at once if all own their addresses, else BACKUP
    /// (an owner among them then waits for the others, as at start).
    pub(super) fn group_faults(&mut self, now: Instant, g: GroupIndex) {
        let group = &self.groups[g];
        let faulty: Vec<&str> = group
            .members
            .iter()
            .filter(|&&i| !self.instances[i].faults.is_empty())
            .map(|&i| self.instances[i].cfg.name.as_str())
            .collect();
        let reason = if faulty.is_empty() {
            format!("sync group {}: faults cleared", group.name)
        } else {
            format!("sync group {}: {} FAULT", group.name, faulty.join(", "))
        };
        let owner = group.members.iter().all(|&i| self.instances[i].is_owner());
        let leave_fault = faulty.is_empty();
        for &i in &group.members {
            let instance = &mut self.instances[i];
            let out = &mut self.actions;
            match (leave_fault, instance.state) {
                (false, State::Backup | State::Master) => {
                    let why = if instance.faults.is_empty() {
                        reason.clone()
                    } else {
                        describe(&instance.faults)
                    };
                    instance.enter_fault(why, out);
                }
                (true, State::Fault) if owner => instance.enter_master(now, reason.clone(), out),
                (true, State::Fault) => instance.enter_backup(now, reason.clone(), None, out),
                _ => {}
            }
        }
    }

    /// Reports each group whose members now agree on a new state.
    pub(super) fn emit_group_states(&mut self) {
        for (group, g) in self.groups.iter_mut().enumerate() {
            let mut states = g.members.iter().map(|&i| self.instances[i].state);
            let Some(first) = states.next() else { continue };
            if states.all(|s| s == first) && first != g.state {
                g.state = first;
                self.actions.push_back(Action::GroupTransition {
                    group,
                    to: first,
                    stopping: false,
                });
            }
        }
    }
}
