//! A virtual server's part of the status document (DESIGN.md, "Status JSON"): the
//! stable fields named there, plus a few more.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use checker::ProbeReport;
use serde::{Deserialize, Serialize};

use super::{destination_label, CheckRecord, RealServerState, VirtualServerState};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualServerStatus {
    pub name: String,
    /// `null` for a fwmark service.
    pub address: Option<IpAddr>,
    pub port: Option<u16>,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: Option<String>,
    /// `null` for an address service.
    pub fwmark: Option<u32>,
    pub sorry_server_active: bool,
    pub quorum_up: bool,
    pub real_servers: Vec<RealServerStatus>,
    pub scheduler: String,
    pub quorum: u32,
    pub hysteresis: u32,
    /// Sum of the healthy real servers' effective weights.
    pub live_weight: u64,
    /// `address:port` of the configured sorry server.
    pub sorry_server: Option<String>,
    /// The VRRP instance whose MASTER holds the rules.
    #[serde(default)]
    pub vrrp_instance: Option<String>,
    /// Whether this director holds the rules now: no `vrrp_instance`, or it is MASTER
    /// here. On a BACKUP the decisions still run (checks go on), the rules do not.
    #[serde(default = "yes")]
    pub owned: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealServerStatus {
    pub address: IpAddr,
    pub port: u16,
    /// The weight wanted in the table now (0 when it is not wanted there).
    pub weight: u32,
    pub healthy: bool,
    /// Whether the kernel table has it.
    pub in_ipvs: bool,
    /// `null` before the first check result.
    pub last_check: Option<LastCheck>,
    pub configured_weight: u32,
    /// The configured weight or the one a dynamic check set.
    pub effective_weight: u32,
    /// Whether the decisions want it in the table.
    pub wanted_in_ipvs: bool,
    /// Removed by a reload, in the table with weight 0 until its drain timeout.
    pub draining: bool,
    /// What checks it, e.g. `tcp 192.0.2.11:80`; `null`: no check, always up.
    pub check: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastCheck {
    pub ok: bool,
    /// RFC 3339, UTC.
    pub at: Option<String>,
    pub latency_ms: f64,
    /// The failure in words, `null` when ok.
    pub error: Option<String>,
}

// `latency_ms` comes from a `Duration`, so it is never NaN and equality is total.
impl Eq for LastCheck {}

impl LastCheck {
    /// The status form of a probe's result, e.g. the scheduler's latest probe.
    pub fn new(report: &ProbeReport, at: SystemTime) -> Self {
        LastCheck::from_record(&CheckRecord::new(report, at))
    }

    fn from_record(record: &CheckRecord) -> Self {
        LastCheck {
            ok: record.ok,
            at: rfc3339_utc(record.at),
            latency_ms: record.latency.as_secs_f64() * 1000.0,
            error: record.error.clone(),
        }
    }
}

impl VirtualServerState {
    /// The status of this virtual server; `in_ipvs(address, port)` says whether the
    /// kernel table holds that destination under this service.
    pub fn status(&self, in_ipvs: &dyn Fn(IpAddr, u16) -> bool) -> VirtualServerStatus {
        let (address, port, protocol, fwmark) = match &self.config.service.key {
            ipvs::ServiceKey::Addr { protocol, addr, port } => {
                (Some(*addr), Some(*port), Some(protocol.name()), None)
            }
            ipvs::ServiceKey::Fwmark { mark, .. } => (None, None, None, Some(*mark)),
        };
        let rs = |s: &RealServerState, wanted: Option<u32>, draining: bool| {
            let (addr, port) = s.key();
            RealServerStatus {
                address: addr,
                port,
                weight: wanted.unwrap_or(0),
                healthy: s.healthy,
                in_ipvs: in_ipvs(addr, port),
                last_check: s.last_check.as_ref().map(LastCheck::from_record),
                configured_weight: s.config.destination.weight,
                effective_weight: s.effective_weight(),
                wanted_in_ipvs: wanted.is_some(),
                draining,
                check: s.config.check.as_ref().map(|c| c.to_string()),
            }
        };
        let sorry_active = self.sorry_active();
        let mut real_servers: Vec<_> =
            self.servers.iter().map(|s| rs(s, self.wanted_weight(s), false)).collect();
        real_servers.extend(
            self.draining.iter().map(|d| rs(&d.server, (!sorry_active).then_some(0), true)),
        );
        VirtualServerStatus {
            name: self.config.name.clone(),
            address,
            port,
            protocol,
            fwmark,
            sorry_server_active: sorry_active,
            quorum_up: self.quorum_up,
            real_servers,
            scheduler: self.config.service.scheduler.name().to_string(),
            quorum: self.config.quorum,
            hysteresis: self.config.hysteresis,
            live_weight: self.live_weight(),
            sorry_server: self
                .config
                .sorry_server
                .as_ref()
                .map(|s| destination_label(&s.destination)),
            vrrp_instance: self.config.vrrp_instance.clone(),
            owned: true,
        }
    }
}

/// The human form of a virtual server's status for `directorctl status`: one line for
/// the virtual server, one per real server.
pub fn to_text(status: &VirtualServerStatus) -> String {
    status.to_text()
}

impl VirtualServerStatus {
    /// The same status for a director that does not hold the rules (a BACKUP): nothing
    /// is wanted in its kernel.
    pub fn not_owned(mut self) -> Self {
        self.owned = false;
        for rs in &mut self.real_servers {
            rs.wanted_in_ipvs = false;
        }
        self
    }

    /// See [`to_text`].
    pub fn to_text(&self) -> String {
        let service = match (self.address, self.port, &self.protocol, self.fwmark) {
            (_, _, _, Some(mark)) => format!("fwmark {mark}"),
            (Some(addr), Some(port), protocol, None) => format!(
                "{}/{}",
                std::net::SocketAddr::new(addr, port),
                protocol.as_deref().unwrap_or("?")
            ),
            _ => "?".to_string(),
        };
        let quorum = if self.quorum_up { "quorum up" } else { "QUORUM DOWN" };
        let owner = match (&self.vrrp_instance, self.owned) {
            (Some(instance), false) => format!(" [rules with {instance}'s MASTER, not here]"),
            _ => String::new(),
        };
        let mut out = format!(
            "virtual server {} {service} {}{owner}: {quorum} (live weight {}, quorum {} \
             hysteresis {})",
            self.name, self.scheduler, self.live_weight, self.quorum, self.hysteresis
        );
        match (&self.sorry_server, self.sorry_server_active) {
            (Some(sorry), true) => {
                let _ = write!(out, ", sorry server {sorry} ACTIVE");
            }
            (Some(sorry), false) => {
                let _ = write!(out, ", sorry server {sorry} standing by");
            }
            (None, _) => {}
        }
        out.push('\n');
        for rs in &self.real_servers {
            out.push_str(&rs.to_text());
            out.push('\n');
        }
        out
    }
}

impl RealServerStatus {
    fn to_text(&self) -> String {
        let health = match (self.draining, self.healthy) {
            (true, _) => "draining",
            (false, true) => "up",
            (false, false) => "DOWN",
        };
        let table = match (self.wanted_in_ipvs, self.in_ipvs) {
            (true, true) => "in ipvs".to_string(),
            (false, false) => "not in ipvs".to_string(),
            (true, false) => "NOT YET in ipvs".to_string(),
            (false, true) => "STILL in ipvs".to_string(),
        };
        let mut line = format!(
            "  {} {health} weight {} {table}",
            std::net::SocketAddr::new(self.address, self.port),
            self.weight
        );
        if self.effective_weight != self.configured_weight {
            let _ = write!(line, " (dynamic weight, configured {})", self.configured_weight);
        }
        match (&self.check, &self.last_check) {
            (None, _) => line.push_str(", no check"),
            (Some(check), None) => {
                let _ = write!(line, ", {check}: not checked yet");
            }
            (Some(check), Some(last)) => {
                let result = match &last.error {
                    None if last.ok => "ok".to_string(),
                    None => "failed".to_string(),
                    Some(error) => format!("failed: {error}"),
                };
                let _ = write!(
                    line,
                    ", {check}: {result} in {:.1} ms at {}",
                    last.latency_ms,
                    last.at.as_deref().unwrap_or("?")
                );
            }
        }
        line
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`; `None` before 1970.
pub(crate) fn rfc3339_utc(at: SystemTime) -> Option<String> {
    let since = at.duration_since(UNIX_EPOCH).ok()?;
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    ))
}

/// The proleptic Gregorian date `days` after 1970-01-01: count whole 400-year eras
/// (146097 days each) from 0000-03-01, so that the leap day ends each year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}
