//! The one-line `STATUS=` that `systemctl status` shows, from the status document.

use std::collections::BTreeMap;

use crate::daemon::status::Status;

/// E.g. "2 VRRP instances: 1 MASTER, 1 BACKUP; 3/4 real servers healthy".
pub fn summary(status: &Status) -> String {
    let mut parts = Vec::new();
    let instances = &status.vrrp_instances;
    if !instances.is_empty() {
        let mut states: BTreeMap<&str, usize> = BTreeMap::new();
        for i in instances {
            *states.entry(i.state.as_str()).or_default() += 1;
        }
        let states: Vec<String> = states.iter().map(|(s, n)| format!("{n} {s}")).collect();
        parts.push(format!(
            "{} {}: {}",
            instances.len(),
            plural(instances.len(), "VRRP instance"),
            states.join(", ")
        ));
    }
    let servers = &status.virtual_servers;
    if !servers.is_empty() {
        let real: Vec<_> = servers.iter().flat_map(|vs| vs.real_servers.iter()).collect();
        let healthy = real.iter().filter(|rs| rs.healthy).count();
        let mut text = format!("{healthy}/{} real servers healthy", real.len());
        let sorry = servers.iter().filter(|vs| vs.sorry_server_active).count();
        if sorry > 0 {
            text.push_str(&format!(
                ", {sorry} {} on the sorry server",
                plural(sorry, "virtual server")
            ));
        }
        parts.push(text);
    }
    if parts.is_empty() {
        return "no VRRP instances, no virtual servers".to_string();
    }
    parts.join("; ")
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(json: serde_json::Value) -> Status {
        serde_json::from_value(json).unwrap()
    }

    fn instance(name: &str, state: &str) -> serde_json::Value {
        serde_json::json!({"name": name, "state": state, "priority": 100,
            "effective_priority": 100, "virtual_addresses": [], "master": null,
            "advert_interval_ms": 1000, "faults": [],
            "counters": {"adverts_sent": 0, "adverts_received": 0, "transitions": 0,
                "became_master": 0, "dropped": {}}})
    }

    #[test]
    fn counts_states_and_healthy_real_servers() {
        let s = status(serde_json::json!({
            "director": {"id": "lb01"},
            "vrrp_instances": [instance("a", "MASTER"), instance("b", "BACKUP")],
            "vrrp_unclaimed_drops": {},
            "virtual_servers": [],
        }));
        assert_eq!(summary(&s), "2 VRRP instances: 1 BACKUP, 1 MASTER");
    }

    #[test]
    fn an_empty_director_says_so() {
        let s = status(serde_json::json!({"director": {"id": "x"}, "vrrp_instances": [],
            "vrrp_unclaimed_drops": {}, "virtual_servers": []}));
        assert_eq!(summary(&s), "no VRRP instances, no virtual servers");
    }
}
