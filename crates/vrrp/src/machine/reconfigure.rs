//! [`Router::reconfigure`]: a new configuration taken by a running router while its
//! instances keep their state, as keepalived's reload does.
//!
//! Instances are matched by name. One whose identity (interface, VRID, version, source
//! address: see [`Instance::same_identity`]) is unchanged is kept, with its state,
//! timers and counters, and takes the rest of its new settings in place. Any other
//! leaves as at shutdown and, if the name is still configured, starts afresh as at
//! startup under its new identity. Sync groups are matched by name too and recomputed.

use std::time::Instant;

use super::instance::Instance;
use super::router::{resolve, Router};
use super::sync_group::Group;
use super::validate::{validate, ConfigError};
use super::{Action, RouterConfig, State};

impl Router {
    /// Takes `config` in place of the running one. A configuration that fails the
    /// checks of [`Router::new`] is refused and nothing changes.
    ///
    /// The actions queued are, in order: what the leaving instances and groups do on
    /// their way out (priority 0 advert, addresses down, stop notifications), with the
    /// old indices; [`Action::Reconfigured`]; then, with the new indices, what the kept
    /// instances do about their changes (addresses added or dropped by a MASTER, an
    /// advert of what changed, moves into or out of FAULT) and the start of new ones.
    /// A kept instance whose settings did not change does nothing at all.
    ///
    /// A sync group whose members disagree after the change (a MASTER member with a
    /// BACKUP one, typically a new member that starts as BACKUP) goes BACKUP as a
    /// whole, as a group does at startup, and then MASTER together once every member
    /// may: never part of a group on each router.
    pub fn reconfigure(&mut self, now: Instant, config: RouterConfig) -> Result<(), ConfigError> {
        validate(&config)?;
        let mut old: Vec<Option<Instance>> =
            std::mem::take(&mut self.instances).into_iter().map(Some).collect();
        let mut kept: Vec<Option<Instance>> = config
            .instances
            .iter()
            .map(|cfg| {
                let slot =
                    old.iter_mut().find(|o| o.as_ref().is_some_and(|o| o.cfg.name == cfg.name))?;
                slot.take_if(|o| o.same_identity(cfg))
            })
            .collect();
        let old_groups = std::mem::take(&mut self.groups);
        if self.running {
            for instance in old.iter_mut().flatten() {
                let reason = match config.instances.iter().find(|c| c.name == instance.cfg.name) {
                    Some(cfg) => format!("reload: {}", instance.identity_change(cfg)),
                    None => "reload: instance removed".to_string(),
                };
                instance.stop(reason, &mut self.actions);
            }
            for (group, g) in old_groups.iter().enumerate() {
                if !config.sync_groups.iter().any(|new| new.name == g.name) {
                    self.actions.push_back(Action::GroupTransition {
                        group,
                        to: State::Init,
                        stopping: true,
                    });
                }
            }
        }
        self.actions.push_back(Action::Reconfigured);

        self.tracking.reconfigure(&config.scripts);
        let mut fresh = Vec::new();
        for (index, cfg) in config.instances.iter().enumerate() {
            let resolved = resolve(&config, &self.tracking, cfg);
            let instance = match kept[index].take() {
                Some(mut instance) => {
                    let assessment = self.tracking.assess(&resolved.0, &resolved.1);
                    instance.reconfigure(now, index, resolved, assessment, &mut self.actions);
                    instance
                }
                None => {
                    fresh.push(index);
                    Instance::new(index, resolved.0, resolved.1)
                }
            };
            self.instances.push(instance);
        }
        self.groups = config
            .sync_groups
            .iter()
            .map(|g| {
                let mut group = Group::new(&config, g);
                if let Some(old) = old_groups.iter().find(|old| old.name == g.name) {
                    group.state = old.state;
                }
                group
            })
            .collect();
        if !self.running {
            self.assess();
            return Ok(());
        }
        self.start_fresh(now, &fresh);
        self.follow_faults(now);
        for g in 0..self.groups.len() {
            self.unite_group(now, g);
        }
        self.emit_group_states();
        Ok(())
    }

    /// Starts the new instances as at startup; a group of nothing but new instances
    /// starts together.
    fn start_fresh(&mut self, now: Instant, fresh: &[usize]) {
        for &i in fresh {
            let instance = &mut self.instances[i];
            let assessment = self.tracking.assess(&instance.cfg, &instance.scripts);
            instance.faults = assessment.faults;
            instance.effective_priority = assessment.effective_priority;
        }
        let new_group =
            |g: &Group| !g.members.is_empty() && g.members.iter().all(|m| fresh.contains(m));
        for &i in fresh {
            if !self.group_of(i).is_some_and(|g| new_group(&self.groups[g])) {
                let (target, reason) = self.start_target(i);
                self.start_instance(now, i, target, reason);
            }
        }
        for g in 0..self.groups.len() {
            if new_group(&self.groups[g]) {
                self.start_group(now, g);
            }
        }
    }

    /// A group whose members are part MASTER, part BACKUP sends its masters to BACKUP.
    fn unite_group(&mut self, now: Instant, g: usize) {
        let group = &self.groups[g];
        let Some(&backup) =
            group.members.iter().find(|&&m| self.instances[m].state == State::Backup)
        else {
            return;
        };
        let reason = format!(
            "sync group {}: member {} is BACKUP",
            group.name, self.instances[backup].cfg.name
        );
        for &m in &group.members {
            let instance = &mut self.instances[m];
            if instance.state == State::Master {
                instance.enter_backup(now, reason.clone(), None, &mut self.actions);
            }
        }
    }
}
