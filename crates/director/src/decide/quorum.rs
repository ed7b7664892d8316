//! Quorum with hysteresis and the sorry server (keepalived's `update_quorum_state`).

use super::{destination_label, Level, LogFields, VirtualServerState};

/// The next quorum state, as keepalived's `update_quorum_state` (check/ipwrapper.c)
/// decides it: quorum is lost when the live weight is 0 or below `quorum - hysteresis`,
/// and regained when it reaches `quorum + hysteresis`; in between it stays as it was.
/// Unlike keepalived, a live weight of 0 never regains quorum: with `quorum` 0 keepalived
/// would flip on every evaluation.
pub(super) fn next_state(up: bool, live: u64, quorum: u32, hysteresis: u32) -> bool {
    let live = i128::from(live);
    let (quorum, hysteresis) = (i128::from(quorum), i128::from(hysteresis));
    if up {
        !(live == 0 || live < quorum - hysteresis)
    } else {
        live > 0 && live >= quorum + hysteresis
    }
}

impl VirtualServerState {
    /// Sum of the effective weights of the healthy real servers (keepalived's
    /// `weigh_live_realservers`); draining ones no longer count.
    pub fn live_weight(&self) -> u64 {
        self.servers.iter().filter(|s| s.healthy).map(|s| u64::from(s.effective_weight())).sum()
    }

    /// keepalived starts every virtual server with quorum down and evaluates it once with
    /// `init` set: enough weight gains quorum (quorum_up notify); otherwise, with a sorry
    /// server, it goes in and quorum_down is notified; without one nothing is notified.
    pub(super) fn start_quorum(&mut self) {
        let live = self.live_weight();
        let (quorum, hysteresis) = (self.config.quorum, self.config.hysteresis);
        self.quorum_up = next_state(false, live, quorum, hysteresis);
        let name = self.config.name.clone();
        if self.quorum_up {
            self.log(
                Level::Info,
                format!(
                    "virtual server {name}: starting with quorum up \
                     (live weight {live} >= {quorum}+{hysteresis})"
                ),
            );
            self.notify(self.config.quorum_up.clone(), "quorum up (start)");
        } else {
            self.log(
                Level::Warn,
                format!(
                    "virtual server {name}: starting with quorum down \
                     (live weight {live} < {quorum}+{hysteresis})"
                ),
            );
            if let Some(sorry) = &self.config.sorry_server {
                let sorry = destination_label(&sorry.destination);
                self.log(
                    Level::Warn,
                    format!("virtual server {name}: sorry server {sorry} in the table"),
                );
                self.notify(self.config.quorum_down.clone(), "quorum down (start)");
            }
        }
    }

    /// Re-evaluates quorum after a change of health or weight.
    pub(super) fn update_quorum(&mut self) {
        let before = self.active_sorry_label();
        self.update_quorum_from(before);
    }

    /// Re-evaluates quorum; `sorry_before` is the sorry server that was active before the
    /// change (a reload may replace it). A transition is reported in keepalived's order:
    /// the quorum log line, the sorry server, then the quorum_up or quorum_down program.
    pub(super) fn update_quorum_from(&mut self, sorry_before: Option<String>) {
        let live = self.live_weight();
        let (quorum, hysteresis) = (self.config.quorum, self.config.hysteresis);
        let up = next_state(self.quorum_up, live, quorum, hysteresis);
        if up == self.quorum_up {
            self.announce_sorry(sorry_before);
            return;
        }
        self.quorum_up = up;
        let name = &self.config.name;
        let (level, event, reason) = if up {
            (Level::Info, "quorum_regained", format!("live weight {live} >= {quorum}+{hysteresis}"))
        } else {
            (Level::Warn, "quorum_lost", format!("live weight {live} < {quorum}-{hysteresis}"))
        };
        let message = format!("virtual server {name}: {}: {reason}", event.replace('_', " "));
        self.log_fields(
            level,
            message,
            LogFields { reason: Some(reason), ..LogFields::new(event) },
        );
        self.announce_sorry(sorry_before);
        if up {
            self.notify(self.config.quorum_up.clone(), "quorum up");
        } else {
            self.notify(self.config.quorum_down.clone(), "quorum down");
        }
    }

    /// The active sorry server as `address:port`.
    pub(super) fn active_sorry_label(&self) -> Option<String> {
        match &self.config.sorry_server {
            Some(sorry) if !self.quorum_up => Some(destination_label(&sorry.destination)),
            _ => None,
        }
    }

    fn announce_sorry(&mut self, before: Option<String>) {
        let name = &self.config.name;
        let (level, message, event, sorry) = match (before, self.active_sorry_label()) {
            (None, Some(now)) => (
                Level::Warn,
                format!(
                    "virtual server {name}: sorry server {now} in, in place of the real servers"
                ),
                "sorry_server_in",
                now,
            ),
            (Some(was), None) => (
                Level::Info,
                format!("virtual server {name}: sorry server {was} out, real servers back"),
                "sorry_server_out",
                was,
            ),
            (Some(was), Some(now)) if was != now => (
                Level::Info,
                format!("virtual server {name}: sorry server {was} replaced by {now}"),
                "sorry_server_in",
                now,
            ),
            _ => return,
        };
        let fields = LogFields { sorry_server: Some(sorry), ..LogFields::new(event) };
        self.log_fields(level, message, fields);
    }
}
