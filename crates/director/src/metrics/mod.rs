//! The Prometheus metrics of `directord`, as pure code: the daemon gathers a
//! [`Snapshot`] (daemon/metrics_server.rs) and [`render`] writes it in the text
//! exposition format ([`text`]). Every metric is listed in docs/metrics.md.

#[cfg(test)]
mod tests;
pub mod text;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use checker::scheduler::LATENCY_BOUNDS;
use checker::ProbeStats;
use ipvs::{ListedService, ServiceKey, Stats};
use vrrp::counters::{Counters, DropReason};
use vrrp::driver::DriverStatus;
use vrrp::machine::State;

use crate::decide::VirtualServerStatus;
use crate::reconcile::{Counts, ReconcileError};
use text::{Encoder, Kind, Value};

/// Everything one scrape shows.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `directord`'s version (`director_build_info`).
    pub version: String,
    pub start_time: SystemTime,
    pub reloads: Reloads,
    pub vrrp: DriverStatus,
    /// Whether the daemon runs virtual servers at all (a VRRP-only director does not).
    pub has_services: bool,
    /// What the virtual-server task answered; `None` when it did not answer in time.
    pub services: Option<ServicesSnapshot>,
}

/// Configuration reloads since start (SIGHUP and `directorctl reload` alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reloads {
    pub ok: u64,
    pub failed: u64,
    /// Whether the last reload applied (true before any).
    pub last_ok: bool,
    /// When the configuration in force was loaded: at start, then each good reload.
    pub last_success: SystemTime,
}

/// The virtual-server side: decisions, checks, the reconciler and the kernel's counters.
#[derive(Debug, Clone, Default)]
pub struct ServicesSnapshot {
    pub virtual_servers: Vec<VirtualServer>,
    pub reconcile: Counts,
    /// The kernel's counters of the services this director holds; `None` when they
    /// could not be read in time.
    pub ipvs: Option<Vec<ListedService>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServer {
    pub name: String,
    pub key: ServiceKey,
    pub scheduler: String,
    pub vrrp_instance: Option<String>,
    /// This director holds its rules (no `vrrp_instance`, or that instance is MASTER).
    pub owned: bool,
    pub quorum_up: bool,
    pub sorry_server_active: bool,
    pub live_weight: u64,
    pub quorum: u32,
    pub real_servers: Vec<RealServer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServer {
    pub address: IpAddr,
    pub port: u16,
    pub healthy: bool,
    /// The kernel table has it under this virtual server.
    pub in_ipvs: bool,
    /// Removed by a reload, weight 0 until its drain timeout.
    pub draining: bool,
    /// The weight the kernel table has (0 when absent).
    pub weight: u32,
    /// The configured weight, or the one a dynamic misc check set.
    pub effective_weight: u32,
    pub configured_weight: u32,
    /// `None`: no check, always up.
    pub check: Option<Check>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `tcp`, `http`, `https` or `misc`.
    pub kind: &'static str,
    pub stats: ProbeStats,
}

impl VirtualServer {
    /// From a virtual server's status (`key` its service): `weight(address, port)` is
    /// the real server's weight in the kernel table, `check(address, port)` its check.
    pub fn from_status(
        status: &VirtualServerStatus,
        key: ServiceKey,
        weight: impl Fn(IpAddr, u16) -> Option<u32>,
        check: impl Fn(IpAddr, u16) -> Option<Check>,
    ) -> VirtualServer {
        let mut seen = HashSet::new();
        let real_servers = status
            .real_servers
            .iter()
            // One series per real server, whatever the status lists.
            .filter(|rs| seen.insert((rs.address, rs.port)))
            .map(|rs| RealServer {
                address: rs.address,
                port: rs.port,
                healthy: rs.healthy,
                in_ipvs: rs.in_ipvs,
                draining: rs.draining,
                weight: weight(rs.address, rs.port).unwrap_or(0),
                effective_weight: rs.effective_weight,
                configured_weight: rs.configured_weight,
                check: check(rs.address, rs.port),
            })
            .collect();
        VirtualServer {
            name: status.name.clone(),
            key,
            scheduler: status.scheduler.clone(),
            vrrp_instance: status.vrrp_instance.clone(),
            owned: status.owned,
            quorum_up: status.quorum_up,
            sorry_server_active: status.sorry_server_active,
            live_weight: status.live_weight,
            quorum: status.quorum,
            real_servers,
        }
    }
}

/// A family of one sample per `T`: name, help, and the value.
type Field<T, V> = (&'static str, &'static str, fn(&T) -> V);

const STATES: [State; 4] = [State::Master, State::Backup, State::Fault, State::Init];

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// The exposition of `snapshot`, in the text format 0.0.4.
pub fn render(snapshot: &Snapshot) -> String {
    let mut e = Encoder::new();
    daemon(&mut e, snapshot);
    vrrp(&mut e, &snapshot.vrrp);
    let mut scrape =
        e.family("director_scrape_success", Kind::Gauge, "Whether this scrape read that part (1) or it did not answer in time (0); parts a director does not run are absent.");
    if snapshot.has_services {
        let services = snapshot.services.as_ref();
        scrape.sample(&[("part", "virtual_servers")], services.is_some());
        if let Some(s) = services {
            scrape.sample(&[("part", "ipvs_stats")], s.ipvs.is_some());
        }
    }
    if let Some(services) = &snapshot.services {
        virtual_servers(&mut e, &services.virtual_servers);
        real_servers(&mut e, &services.virtual_servers);
        checks(&mut e, &services.virtual_servers);
        if let Some(listed) = &services.ipvs {
            ipvs_stats(&mut e, &services.virtual_servers, listed);
        }
        reconcile(&mut e, &services.reconcile);
    }
    e.finish()
}

fn daemon(e: &mut Encoder, s: &Snapshot) {
    e.family("director_build_info", Kind::Gauge, "Always 1; the version of directord.")
        .sample(&[("version", &s.version)], 1u64);
    e.family(
        "director_start_time_seconds",
        Kind::Gauge,
        "When directord started, in seconds since the Unix epoch.",
    )
    .sample(&[], unix_seconds(s.start_time));
    let mut reloads = e.family(
        "director_config_reloads_total",
        Kind::Counter,
        "Configuration reloads (SIGHUP or directorctl reload) by result: ok (applied, or unchanged) or failed (refused; the running configuration stayed).",
    );
    reloads.sample(&[("result", "ok")], s.reloads.ok);
    reloads.sample(&[("result", "failed")], s.reloads.failed);
    e.family(
        "director_config_last_reload_successful",
        Kind::Gauge,
        "Whether the last reload applied (1 before any reload).",
    )
    .sample(&[], s.reloads.last_ok);
    e.family(
        "director_config_last_reload_success_timestamp_seconds",
        Kind::Gauge,
        "When the configuration in force was loaded (at start or by the last good reload), in seconds since the Unix epoch.",
    )
    .sample(&[], unix_seconds(s.reloads.last_success));
}

fn vrrp(e: &mut Encoder, status: &DriverStatus) {
    let instances = &status.instances;
    let mut f = e.family(
        "director_vrrp_state",
        Kind::Gauge,
        "1 for the state the VRRP instance is in (MASTER, BACKUP, FAULT or INIT), 0 for the others.",
    );
    for i in instances {
        for state in STATES {
            f.sample(&[("vrrp_instance", &i.name), ("state", state.as_str())], i.state == state);
        }
    }
    let gauges: [Field<vrrp::machine::InstanceStatus, Value>; 3] = [
        ("director_vrrp_priority", "The configured VRRP priority.", |i| i.priority.into()),
        (
            "director_vrrp_effective_priority",
            "The priority advertised: configured, plus tracked interface and script weights.",
            |i| i.effective_priority.into(),
        ),
        (
            "director_vrrp_advert_interval_seconds",
            "The advert interval in use: ours as MASTER, the master's as a VRRPv3 BACKUP.",
            |i| (f64::from(i.advert_interval_cs) / 100.0).into(),
        ),
    ];
    for (name, help, value) in gauges {
        let mut f = e.family(name, Kind::Gauge, help);
        for i in instances {
            f.sample(&[("vrrp_instance", &i.name)], value(i));
        }
    }
    let counters: [Field<Counters, u64>; 4] = [
        ("director_vrrp_transitions_total", "VRRP state changes, any direction.", |c| {
            c.transitions
        }),
        ("director_vrrp_became_master_total", "Times the instance became MASTER.", |c| {
            c.became_master
        }),
        ("director_vrrp_adverts_sent_total", "VRRP advertisements sent.", |c| c.adverts_sent),
        (
            "director_vrrp_adverts_received_total",
            "VRRP advertisements accepted (every check passed).",
            |c| c.adverts_received,
        ),
    ];
    for (name, help, value) in counters {
        let mut f = e.family(name, Kind::Counter, help);
        for i in instances {
            f.sample(&[("vrrp_instance", &i.name)], value(&i.counters));
        }
    }
    let mut f = e.family(
        "director_vrrp_adverts_dropped_total",
        Kind::Counter,
        "Received VRRP packets an instance dropped, by reason (docs/metrics.md lists them).",
    );
    for i in instances {
        for reason in DropReason::ALL {
            let n = i.counters.dropped.get(&reason).copied().unwrap_or(0);
            f.sample(&[("vrrp_instance", &i.name), ("reason", reason.as_str())], n);
        }
    }
    let mut f = e.family(
        "director_vrrp_unclaimed_packets_dropped_total",
        Kind::Counter,
        "Received VRRP packets no instance could claim (unreadable header, unknown VRID), by reason.",
    );
    if !instances.is_empty() {
        for reason in DropReason::ALL {
            let n = status.unclaimed.dropped.get(&reason).copied().unwrap_or(0);
            f.sample(&[("reason", reason.as_str())], n);
        }
    }
}

fn virtual_servers(e: &mut Encoder, vss: &[VirtualServer]) {
    let mut f = e.family(
        "director_virtual_server_info",
        Kind::Gauge,
        "Always 1; the virtual server's kernel service, scheduler and VRRP instance (empty: none).",
    );
    for vs in vss {
        let service = vs.key.to_string();
        let instance = vs.vrrp_instance.as_deref().unwrap_or("");
        f.sample(
            &[
                ("virtual_server", &vs.name),
                ("service", &service),
                ("scheduler", &vs.scheduler),
                ("vrrp_instance", instance),
            ],
            1u64,
        );
    }
    let gauges: [Field<VirtualServer, Value>; 5] = [
        (
            "director_virtual_server_owned",
            "Whether this director holds the virtual server's rules: no vrrp_instance, or it is MASTER here.",
            |v| v.owned.into(),
        ),
        (
            "director_virtual_server_quorum_up",
            "Whether the healthy real servers' weights reach the quorum.",
            |v| v.quorum_up.into(),
        ),
        (
            "director_virtual_server_sorry_server_active",
            "Whether the sorry server serves in place of the real servers (quorum lost).",
            |v| v.sorry_server_active.into(),
        ),
        (
            "director_virtual_server_live_weight",
            "Sum of the healthy real servers' effective weights (what quorum is measured on).",
            |v| v.live_weight.into(),
        ),
        ("director_virtual_server_quorum", "The configured quorum.", |v| v.quorum.into()),
    ];
    for (name, help, value) in gauges {
        let mut f = e.family(name, Kind::Gauge, help);
        for vs in vss {
            f.sample(&[("virtual_server", &vs.name)], value(vs));
        }
    }
}

fn real_servers(e: &mut Encoder, vss: &[VirtualServer]) {
    let gauges: [Field<RealServer, Value>; 6] = [
        (
            "director_real_server_healthy",
            "Whether the real server's check says it is up (always 1 without a check).",
            |r| r.healthy.into(),
        ),
        (
            "director_real_server_in_ipvs",
            "Whether the kernel's IPVS table has the real server under the virtual server.",
            |r| r.in_ipvs.into(),
        ),
        (
            "director_real_server_draining",
            "Whether a reload removed the real server and it drains with weight 0.",
            |r| r.draining.into(),
        ),
        (
            "director_real_server_weight",
            "The real server's weight in the kernel's IPVS table (0 when not in it).",
            |r| r.weight.into(),
        ),
        (
            "director_real_server_effective_weight",
            "The weight the real server gets while healthy: configured, or set by a dynamic misc check.",
            |r| r.effective_weight.into(),
        ),
        (
            "director_real_server_configured_weight",
            "The real server's weight in the configuration.",
            |r| r.configured_weight.into(),
        ),
    ];
    for (name, help, value) in gauges {
        let mut f = e.family(name, Kind::Gauge, help);
        for vs in vss {
            for rs in &vs.real_servers {
                let port = rs.port.to_string();
                let address = rs.address.to_string();
                f.sample(
                    &[("virtual_server", &vs.name), ("address", &address), ("port", &port)],
                    value(rs),
                );
            }
        }
    }
}

fn checks(e: &mut Encoder, vss: &[VirtualServer]) {
    let bounds: Vec<f64> = LATENCY_BOUNDS.iter().map(|b| seconds(*b)).collect();
    let with_checks = || {
        vss.iter().flat_map(|vs| {
            vs.real_servers.iter().filter_map(move |rs| {
                let check = rs.check.as_ref()?;
                Some((vs, rs, check, rs.address.to_string(), rs.port.to_string()))
            })
        })
    };
    let mut f = e.family(
        "director_check_duration_seconds",
        Kind::Histogram,
        "How long each probe of the real server's health check took, failures included.",
    );
    for (vs, _, check, address, port) in with_checks() {
        let labels = [
            ("virtual_server", vs.name.as_str()),
            ("address", &address),
            ("port", &port),
            ("type", check.kind),
        ];
        f.histogram(&labels, &bounds, &check.stats.buckets, seconds(check.stats.latency_sum));
    }
    let mut f = e.family(
        "director_check_failures_total",
        Kind::Counter,
        "Failed probes of the real server's health check by reason (docs/metrics.md lists them); reasons never seen are absent.",
    );
    for (vs, _, check, address, port) in with_checks() {
        for (reason, n) in &check.stats.failures {
            let labels = [
                ("virtual_server", vs.name.as_str()),
                ("address", &address),
                ("port", &port),
                ("type", check.kind),
                ("reason", reason),
            ];
            f.sample(&labels, *n);
        }
    }
}

type StatsField = fn(&Stats) -> u64;

/// Per virtual server, then per real server: name, help, and the counter.
const TRAFFIC: [(&str, &str, &str, &str, StatsField); 5] = [
    (
        "director_ipvs_connections_total",
        "Connections IPVS scheduled for the virtual server since the kernel has its service (ipvsadm --stats Conns).",
        "director_ipvs_real_server_connections_total",
        "Connections IPVS scheduled to the real server since the kernel has it.",
        |s| s.conns,
    ),
    (
        "director_ipvs_packets_in_total",
        "Packets IPVS forwarded from clients for the virtual server (ipvsadm InPkts).",
        "director_ipvs_real_server_packets_in_total",
        "Packets IPVS forwarded from clients to the real server.",
        |s| s.inpkts,
    ),
    (
        "director_ipvs_packets_out_total",
        "Reply packets IPVS forwarded for the virtual server (ipvsadm OutPkts; none with DR or TUN, whose replies bypass the director).",
        "director_ipvs_real_server_packets_out_total",
        "Reply packets IPVS forwarded from the real server (none with DR or TUN).",
        |s| s.outpkts,
    ),
    (
        "director_ipvs_bytes_in_total",
        "Bytes IPVS forwarded from clients for the virtual server (ipvsadm InBytes).",
        "director_ipvs_real_server_bytes_in_total",
        "Bytes IPVS forwarded from clients to the real server.",
        |s| s.inbytes,
    ),
    (
        "director_ipvs_bytes_out_total",
        "Reply bytes IPVS forwarded for the virtual server (ipvsadm OutBytes; none with DR or TUN).",
        "director_ipvs_real_server_bytes_out_total",
        "Reply bytes IPVS forwarded from the real server (none with DR or TUN).",
        |s| s.outbytes,
    ),
];

type ConnsField = fn(&ipvs::ConnCounts) -> u32;

const CONNS: [(&str, &str, ConnsField); 2] = [
    (
        "director_ipvs_real_server_active_connections",
        "Established connections IPVS tracks to the real server now (ipvsadm ActiveConn).",
        |c| c.active,
    ),
    (
        "director_ipvs_real_server_inactive_connections",
        "Other connections IPVS tracks to the real server now (ipvsadm InActConn).",
        |c| c.inactive,
    ),
];

/// The kernel's counters of the services this director holds (read at scrape time),
/// in configuration order; services the configuration no longer has are left out.
fn ipvs_stats(e: &mut Encoder, vss: &[VirtualServer], listed: &[ListedService]) {
    let by_key: HashMap<ServiceKey, &ListedService> =
        listed.iter().map(|l| (l.entry.service.key, l)).collect();
    let held: Vec<(&str, &ListedService)> =
        vss.iter().filter_map(|v| Some((v.name.as_str(), *by_key.get(&v.key)?))).collect();
    for (name, help, _, _, field) in TRAFFIC {
        let mut f = e.family(name, Kind::Counter, help);
        for (vs, l) in &held {
            f.sample(&[("virtual_server", vs)], field(&l.entry.stats));
        }
    }
    let destinations = || {
        held.iter().flat_map(|(vs, l)| {
            l.destinations.iter().map(move |d| {
                let (address, port) =
                    (d.destination.addr.to_string(), d.destination.port.to_string());
                (*vs, address, port, d)
            })
        })
    };
    for (_, _, name, help, field) in TRAFFIC {
        let mut f = e.family(name, Kind::Counter, help);
        for (vs, address, port, d) in destinations() {
            f.sample(
                &[("virtual_server", vs), ("address", &address), ("port", &port)],
                field(&d.stats),
            );
        }
    }
    for (name, help, field) in CONNS {
        let mut f = e.family(name, Kind::Gauge, help);
        for (vs, address, port, d) in destinations() {
            f.sample(
                &[("virtual_server", vs), ("address", &address), ("port", &port)],
                field(&d.conns),
            );
        }
    }
}

fn reconcile(e: &mut Encoder, counts: &Counts) {
    e.family(
        "director_reconcile_ops_total",
        Kind::Counter,
        "IPVS table operations (add, edit, delete of services and destinations) the kernel confirmed.",
    )
    .sample(&[], counts.ops_applied);
    let mut f = e.family(
        "director_reconcile_errors_total",
        Kind::Counter,
        "IPVS reconcile failures by kind: refused (the kernel refused an operation), unconfirmed, socket, read, connect, sync_daemon, thread, stopped.",
    );
    for kind in ReconcileError::KINDS {
        f.sample(&[("kind", kind)], counts.errors.get(kind).copied().unwrap_or(0));
    }
    e.family(
        "director_ipvs_drift_repairs_total",
        Kind::Counter,
        "Changes made to the director's IPVS services behind its back (ipvsadm by hand) that a resync found and undid, one per operation.",
    )
    .sample(&[], counts.drift_repairs);
    e.family(
        "director_reconcile_netlink_requests_total",
        Kind::Counter,
        "Netlink requests the IPVS reconciler sent: operations, reads, sync daemon commands and scrapes' counter reads.",
    )
    .sample(&[], counts.requests);
    e.family(
        "director_reconcile_kernel_reads_total",
        Kind::Counter,
        "Times the reconciler read its IPVS services back from the kernel (adoption at start, resyncs, after a refusal).",
    )
    .sample(&[], counts.reads);
}
