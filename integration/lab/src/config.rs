//! The directors' YAML (DESIGN.md's keys): one VRRP instance that owns the front VIP
//! and the back gateway, a DR service with a sorry server and a NAT service, both tied
//! to the instance. lb1 and lb2 differ only in id and priority.

use std::fmt::Write;
use std::time::Duration;

use crate::topology::{DR_PORT, DR_REAL, HTTP_PORT, NAT_GATEWAY, NAT_PORT, NAT_REAL, SORRY, VIP};

/// Health-check timings: short, so that a scenario takes seconds, and long enough
/// that a check under TCG (a few ms) never times out by accident.
pub const DELAY_LOOP: Duration = Duration::from_secs(1);
pub const RETRY: u32 = 1;
pub const DELAY_BEFORE_RETRY: Duration = Duration::from_millis(500);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// VRRPv3 advert interval. Failover takes 3 x this + skew; see the README for what
/// was stable under TCG.
pub const ADVERT_INTERVAL: Duration = Duration::from_millis(500);
/// VRRP priorities of lb1 and lb2; lb1 preempts.
pub const PRIORITY: [u8; 2] = [150, 100];
pub const INSTANCE: &str = "lab";
pub const DR_SERVICE: &str = "web-dr";
pub const NAT_SERVICE: &str = "web-nat";
/// Each director serves Prometheus metrics here, in its own namespace.
pub const METRICS: &str = "127.0.0.1:9310";

/// What a scenario may change between reloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabConfig {
    /// rs1..rs3's weights in the DR service (wrr).
    pub dr_weights: [u32; 3],
    /// How many of rs1..rs3 the DR service has (a reload may remove the last ones).
    pub dr_servers: usize,
    /// The DR service's `drain_timeout`; the default (30 s) when `None`.
    pub drain_timeout: Option<Duration>,
}

impl Default for LabConfig {
    fn default() -> Self {
        LabConfig { dr_weights: [1, 2, 3], dr_servers: 3, drain_timeout: None }
    }
}

impl LabConfig {
    /// The YAML for director `lb` (0 = lb1).
    pub fn yaml(&self, lb: usize) -> String {
        let ms = |d: Duration| format!("{}ms", d.as_millis());
        let mut y = String::new();
        let _ = write!(
            y,
            "\
director:
  id: lb{id}
  metrics: \"{METRICS}\"
vrrp:
  instances:
    - name: {INSTANCE}
      interface: eth0
      vrid: 51
      priority: {priority}
      version: 3
      advert_interval: {advert}
      initial_state: backup
      preempt: true
      virtual_addresses:
        - {VIP}/24
        - {{address: {NAT_GATEWAY}/24, dev: eth1}}
virtual_servers:
  - name: {DR_SERVICE}
    address: {VIP}
    port: {DR_PORT}
    protocol: tcp
    scheduler: wrr
    forwarding: dr
    quorum: 1
    sorry_server: {{address: {SORRY}, port: {DR_PORT}, forwarding: dr}}
    vrrp_instance: {INSTANCE}
{drain}    check: {{type: tcp, delay_loop: {delay_loop}, connect_timeout: {connect}, retry: {RETRY}, delay_before_retry: {before_retry}}}
    real_servers:
",
            drain = self.drain_timeout.map(|d| format!("    drain_timeout: {}\n", ms(d))).unwrap_or_default(),
            id = lb + 1,
            priority = PRIORITY[lb],
            advert = ms(ADVERT_INTERVAL),
            delay_loop = ms(DELAY_LOOP),
            connect = ms(CONNECT_TIMEOUT),
            before_retry = ms(DELAY_BEFORE_RETRY),
        );
        for (addr, weight) in DR_REAL.iter().zip(self.dr_weights).take(self.dr_servers) {
            let _ = writeln!(y, "      - {{address: {addr}, port: {DR_PORT}, weight: {weight}}}");
        }
        let _ = write!(
            y,
            // Not a `\` continuation: it would eat the line's indentation.
            "  - name: {NAT_SERVICE}
    address: {VIP}
    port: {NAT_PORT}
    protocol: tcp
    scheduler: rr
    forwarding: nat
    vrrp_instance: {INSTANCE}
    check: {{type: http, path: /, status_code: [200], delay_loop: {delay_loop}, connect_timeout: {connect}, retry: {RETRY}, delay_before_retry: {before_retry}}}
    real_servers:
",
            delay_loop = ms(DELAY_LOOP),
            connect = ms(CONNECT_TIMEOUT),
            before_retry = ms(DELAY_BEFORE_RETRY),
        );
        for addr in NAT_REAL {
            let _ = writeln!(y, "      - {{address: {addr}, port: {HTTP_PORT}, weight: 1}}");
        }
        y
    }
}

/// What a measured change may take beyond its protocol bound: the check's own run
/// and the table write (milliseconds), a [`crate::rig::POLL`] of the observer plus
/// the exec of ipvsadm/directorctl under TCG (tens of ms each), and TCG scheduling
/// with eight processes busy on two emulated CPUs. The measured values are printed
/// on every run (see integration/vm/README.md).
pub const SLACK: Duration = Duration::from_millis(1000);

/// VRRPv3 master-down time of a backup with `priority`: 3 x advert + skew, where
/// skew = (256 - priority) x advert / 256 (RFC 5798 6.1).
pub fn master_down(priority: u8) -> Duration {
    ADVERT_INTERVAL * 3 + ADVERT_INTERVAL * (256 - u32::from(priority)) / 256
}

/// The longest a failed real server may stay in the table after its server stopped,
/// by keepalived's semantics: the next check is at most one delay_loop away, then
/// `retry` more tries `delay_before_retry` apart. A refused TCP connect fails at once,
/// so connect_timeout does not add.
pub fn removal_bound() -> Duration {
    DELAY_LOOP + DELAY_BEFORE_RETRY * RETRY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directors_differ_in_id_and_priority_only() {
        let config = LabConfig::default();
        let (lb1, lb2) = (config.yaml(0), config.yaml(1));
        assert!(lb1.contains("id: lb1") && lb1.contains("priority: 150"), "{lb1}");
        assert!(lb2.contains("id: lb2") && lb2.contains("priority: 100"), "{lb2}");
        let same = |y: &str| {
            y.lines().filter(|l| !l.contains("id: lb") && !l.contains("priority:")).count()
        };
        assert_eq!(same(&lb1), same(&lb2));
        assert!(lb1.contains("- {address: 192.0.2.23, port: 80, weight: 3}"), "{lb1}");
        assert!(lb1.contains("- {address: 198.51.100.1/24, dev: eth1}"), "{lb1}");
        assert!(lb1.contains("\n  - name: web-nat\n    address: 192.0.2.100\n"), "{lb1}");
    }
}
