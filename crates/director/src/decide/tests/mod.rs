//! Unit tests of the decisions on virtual time: configurations are built directly,
//! check verdicts are fed in, and the table, actions and status are read back.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod health;
mod quorum;
mod reload;
mod status;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use checker::{Change, CheckKind, CheckSpec, Failure, ProbeReport, Target};
use ipvs::{Destination, Protocol, Service, ServiceKey};

use super::{Action, VirtualServerState};
use crate::config::{RealServer, SorryServer, VirtualServer};

/// 192.0.2.`last`.
fn addr(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn key(last: u8) -> (IpAddr, u16) {
    (addr(last), 80)
}

fn tcp_check(last: u8) -> CheckSpec {
    CheckSpec::new(Target::new(SocketAddr::new(addr(last), 80)), CheckKind::Tcp)
}

/// A real server 192.0.2.`last`:80 with a TCP check and notify programs named after it.
fn rs(last: u8, weight: u32) -> RealServer {
    RealServer {
        destination: Destination { weight, ..Destination::new(addr(last), 80) },
        check: Some(tcp_check(last)),
        notify_up: Some(vec!["/bin/notify".into(), format!("rs{last}-up")]),
        notify_down: Some(vec!["/bin/notify".into(), format!("rs{last}-down")]),
    }
}

fn rs_unchecked(last: u8, weight: u32) -> RealServer {
    RealServer { check: None, ..rs(last, weight) }
}

/// Virtual server `web` on 192.0.2.1:80/tcp, quorum 1, hysteresis 0, no sorry server.
fn vs(real_servers: Vec<RealServer>) -> VirtualServer {
    VirtualServer {
        name: "web".into(),
        service: Service::new(ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: addr(1),
            port: 80,
        }),
        quorum: 1,
        hysteresis: 0,
        inhibit_on_failure: false,
        alpha: false,
        omega: false,
        sorry_server: None,
        vrrp_instance: None,
        drain_timeout: Duration::from_secs(30),
        quorum_up: Some(vec!["/bin/notify".into(), "quorum-up".into()]),
        quorum_down: Some(vec!["/bin/notify".into(), "quorum-down".into()]),
        real_servers,
    }
}

fn sorry(last: u8) -> Option<SorryServer> {
    Some(SorryServer { destination: Destination::new(addr(last), 80) })
}

/// A virtual server's decisions with a virtual clock.
struct Harness {
    state: VirtualServerState,
    now: Instant,
    wall: SystemTime,
}

impl Harness {
    fn new(config: &VirtualServer) -> Self {
        let now = Instant::now();
        Harness {
            state: VirtualServerState::new(config),
            now,
            wall: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.wall += by;
    }

    fn event(&mut self, last: u8, change: Change, report: ProbeReport) -> bool {
        self.state.check_event(key(last), change, &report, self.wall)
    }

    fn up(&mut self, last: u8) {
        self.event(last, Change::Up { weight: None, first: false }, ok_report());
    }

    fn down(&mut self, last: u8) {
        self.event(last, Change::Down { first: false }, refused_report());
    }

    fn weight(&mut self, last: u8, weight: Option<u32>) {
        let report = ProbeReport { outcome: checker::Outcome::Up { weight }, ..ok_report() };
        self.event(last, Change::Weight(weight), report);
    }

    fn actions(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.state.poll_action()).collect()
    }

    /// The notify programs queued since the last call (their last argument), dropping
    /// the log lines.
    fn notifies(&mut self) -> Vec<String> {
        self.actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Notify { argv, .. } => argv.last().cloned(),
                Action::Log { .. } => None,
            })
            .collect()
    }

    fn logs(&mut self) -> Vec<String> {
        self.actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Log { message, .. } => Some(message),
                Action::Notify { .. } => None,
            })
            .collect()
    }

    /// The desired destinations as (last octet, weight), in table order.
    fn table(&self) -> Vec<(u8, u32)> {
        self.state
            .desired()
            .destinations
            .iter()
            .map(|d| match d.addr {
                IpAddr::V4(a) => (a.octets()[3], d.weight),
                IpAddr::V6(_) => panic!("unexpected IPv6 destination"),
            })
            .collect()
    }
}

fn ok_report() -> ProbeReport {
    ProbeReport::up(Duration::from_micros(1500))
}

fn refused_report() -> ProbeReport {
    ProbeReport::down(Failure::Refused, Duration::from_micros(300))
}
