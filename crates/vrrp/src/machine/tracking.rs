//! Tracked interfaces and scripts: what they do to an instance's priority and whether
//! they put it in FAULT.

use std::collections::HashMap;
use std::fmt;

use super::config::{InstanceConfig, ScriptConfig};

/// One reason an instance is in FAULT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    Link(String),
    Script(String),
    /// A weight 0 script that has not reported yet: keepalived holds the instance in
    /// FAULT until the first result, so it never takes over on an unchecked service.
    ScriptPending(String),
}

impl Fault {
    pub(crate) fn name(&self) -> &str {
        match self {
            Fault::Link(name) | Fault::Script(name) | Fault::ScriptPending(name) => name,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Link(name) => write!(f, "link {name} down"),
            Fault::Script(name) => write!(f, "script {name} failed"),
            Fault::ScriptPending(name) => write!(f, "script {name}: no result yet"),
        }
    }
}

/// "link eth0 down, script chk failed": the reason text of a move to FAULT.
pub(crate) fn describe(faults: &[Fault]) -> String {
    faults.iter().map(Fault::to_string).collect::<Vec<_>>().join(", ")
}

/// A script's rise/fall counting. Until its first result it is neither OK nor failed
/// (keepalived's init state): a weight 0 script faults its instances, a weighted one
/// adds nothing. The first result then counts at once, whatever rise and fall say, as
/// keepalived starts the count one short of either.
#[derive(Debug)]
struct ScriptState {
    name: String,
    rise: u32,
    fall: u32,
    /// None until the first result.
    ok: Option<bool>,
    /// Results in a row that disagree with `ok`.
    streak: u32,
}

impl ScriptState {
    /// Returns whether the script changed: its first result, or a flip between OK and
    /// failed.
    fn report(&mut self, ok: bool) -> bool {
        let Some(current) = self.ok else {
            self.ok = Some(ok);
            return true;
        };
        if ok == current {
            self.streak = 0;
            return false;
        }
        self.streak += 1;
        let needed = if ok { self.rise } else { self.fall };
        if self.streak >= needed {
            self.ok = Some(ok);
            self.streak = 0;
            true
        } else {
            false
        }
    }
}

/// Link and script state shared by every instance of a router.
#[derive(Debug)]
pub(crate) struct Tracking {
    /// Interfaces never reported are up.
    links: HashMap<String, bool>,
    scripts: Vec<ScriptState>,
}

/// What tracking makes of one instance.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Assessment {
    pub(crate) faults: Vec<Fault>,
    pub(crate) effective_priority: u8,
}

impl Tracking {
    pub(crate) fn new(scripts: &[ScriptConfig]) -> Tracking {
        let scripts = scripts
            .iter()
            .map(|s| ScriptState {
                name: s.name.clone(),
                // The config documents "at least 1"; 0 would mean flipping on no evidence.
                rise: s.rise.max(1),
                fall: s.fall.max(1),
                ok: None,
                streak: 0,
            })
            .collect();
        Tracking { links: HashMap::new(), scripts }
    }

    /// The scripts of a new configuration. A script that keeps its name keeps its
    /// result and its count in a row (new rise / fall apply from the next result); a
    /// new one starts in the init state. Link states are the host's, not the
    /// configuration's, and stay.
    pub(crate) fn reconfigure(&mut self, scripts: &[ScriptConfig]) {
        let mut fresh = Tracking::new(scripts);
        for script in &mut fresh.scripts {
            if let Some(old) = self.scripts.iter().find(|old| old.name == script.name) {
                script.ok = old.ok;
                script.streak = old.streak;
            }
        }
        self.scripts = fresh.scripts;
    }

    pub(crate) fn script_index(&self, name: &str) -> Option<usize> {
        self.scripts.iter().position(|s| s.name == name)
    }

    /// Returns whether the link state changed.
    pub(crate) fn set_link(&mut self, interface: &str, up: bool) -> bool {
        let before = self.link_up(interface);
        self.links.insert(interface.to_string(), up);
        before != up
    }

    fn link_up(&self, interface: &str) -> bool {
        self.links.get(interface).copied().unwrap_or(true)
    }

    /// Returns whether the script flipped; unknown scripts are ignored.
    pub(crate) fn script_result(&mut self, name: &str, ok: bool) -> bool {
        match self.script_index(name) {
            Some(i) => self.scripts[i].report(ok),
            None => false,
        }
    }

    /// `scripts` are the instance's tracked scripts resolved to (index, weight).
    pub(crate) fn assess(&self, cfg: &InstanceConfig, scripts: &[(usize, i32)]) -> Assessment {
        let mut faults = Vec::new();
        let mut delta: i64 = 0;
        let mut fault = |f: Fault| {
            if !faults.contains(&f) {
                faults.push(f);
            }
        };
        for name in cfg.required_interfaces() {
            if !self.link_up(name) {
                fault(Fault::Link(name.to_string()));
            }
        }
        for t in &cfg.track_interfaces {
            let up = self.link_up(&t.name);
            delta += weighted(t.weight, up, || fault(Fault::Link(t.name.clone())));
        }
        for &(index, weight) in scripts {
            let script = &self.scripts[index];
            match script.ok {
                Some(ok) => {
                    delta += weighted(weight, ok, || fault(Fault::Script(script.name.clone())));
                }
                None if weight == 0 => fault(Fault::ScriptPending(script.name.clone())),
                None => {}
            }
        }
        let effective_priority = if cfg.priority == 255 {
            255
        } else {
            (i64::from(cfg.priority) + delta).clamp(1, 254) as u8
        };
        Assessment { faults, effective_priority }
    }
}

/// The priority change of one tracked object; calls `on_fault` for a weight 0 object
/// that is down.
fn weighted(weight: i32, up: bool, on_fault: impl FnOnce()) -> i64 {
    match (weight, up) {
        (0, false) => {
            on_fault();
            0
        }
        (w, false) if w < 0 => i64::from(w),
        (w, true) if w > 0 => i64::from(w),
        _ => 0,
    }
}
