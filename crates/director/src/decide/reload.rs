//! A reload: carry state over to the new configuration, drain what it removed.

use std::collections::HashMap;
use std::time::Instant;

use crate::config::VirtualServer;

use super::{index_of, Draining, Level, RealServerState, VirtualServerState};

impl VirtualServerState {
    /// Applies a reloaded configuration of this virtual server.
    ///
    /// A real server that stays (same address and port) keeps its health, dynamic weight
    /// and last check when its check is unchanged; a changed check keeps its health until
    /// the new check's first result (a check added or removed starts it afresh, per
    /// alpha). A real server the reload removed runs its notify_down if it was healthy
    /// (keepalived's `clear_diff_rs`) and, if it was in the table, drains: weight 0 until
    /// `now + drain_timeout`, so its connections finish. Service settings come from `vs`,
    /// and quorum is re-evaluated with the new quorum and hysteresis.
    pub fn reconfigure(&mut self, vs: &VirtualServer, now: Instant) {
        let sorry_before = self.active_sorry_label();
        let name = vs.name.clone();
        if self.config.service != vs.service {
            self.log(
                Level::Info,
                format!("virtual server {name}: service settings changed ({})", vs.service.key),
            );
        }
        let old: Vec<(RealServerState, bool)> = std::mem::take(&mut self.servers)
            .into_iter()
            .map(|s| {
                let in_table = self.wanted_weight(&s).is_some();
                (s, in_table)
            })
            .collect();
        let mut old_by_key: HashMap<_, _> =
            old.into_iter().enumerate().map(|(order, (s, t))| (s.key(), (order, s, t))).collect();

        let mut servers = Vec::with_capacity(vs.real_servers.len());
        for rs in &vs.real_servers {
            let key = rs.destination.key();
            let fresh = RealServerState::new(rs, vs.alpha);
            let state = match old_by_key.remove(&key) {
                Some((_, old, _)) if old.config.check == rs.check => {
                    RealServerState { config: rs.clone(), ..old }
                }
                // keepalived's migrate_checkers: a changed check takes over the real
                // server as it is, and its first result decides; starting afresh would
                // take a healthy server out (alpha) or put a failed one in for a while.
                Some((_, old, _)) if old.config.check.is_some() && rs.check.is_some() => {
                    self.log(
                        Level::Info,
                        format!(
                            "virtual server {name}: real server {}: check changed, stays {} \
                             until the new check's first result",
                            fresh.label(),
                            if old.healthy { "up" } else { "down" }
                        ),
                    );
                    RealServerState { config: rs.clone(), dynamic_weight: None, ..old }
                }
                Some(_) => {
                    let health = if fresh.healthy { "up" } else { "down until its check passes" };
                    self.log(
                        Level::Info,
                        format!(
                            "virtual server {name}: real server {}: check changed, starting {health}",
                            fresh.label()
                        ),
                    );
                    fresh
                }
                None => {
                    if let Some(at) = self.draining.iter().position(|d| d.server.key() == key) {
                        self.draining.remove(at);
                        self.log(
                            Level::Info,
                            format!(
                                "virtual server {name}: real server {} is back, no longer draining",
                                fresh.label()
                            ),
                        );
                    }
                    fresh
                }
            };
            servers.push(state);
        }

        let mut removed: Vec<_> = old_by_key.into_values().collect();
        removed.sort_by_key(|(order, ..)| *order);
        for (_, server, in_table) in removed {
            self.remove_server(server, in_table, vs, now);
        }

        self.config = vs.clone();
        self.index = index_of(&servers);
        self.servers = servers;
        self.update_quorum_from(sorry_before);
    }

    fn remove_server(
        &mut self,
        server: RealServerState,
        in_table: bool,
        vs: &VirtualServer,
        now: Instant,
    ) {
        let label = server.label();
        let name = &vs.name;
        let message = if in_table && !vs.drain_timeout.is_zero() {
            format!(
                "virtual server {name}: real server {label} removed by reload, draining \
                 with weight 0 for {:?}",
                vs.drain_timeout
            )
        } else {
            format!("virtual server {name}: real server {label} removed by reload")
        };
        self.log(Level::Info, message);
        if server.healthy {
            self.notify(server.config.notify_down.clone(), &format!("real server {label} removed"));
        }
        if in_table && !vs.drain_timeout.is_zero() {
            self.draining.push(Draining { server, until: now + vs.drain_timeout });
        }
    }
}
