//! The driver against the real kernel: two routers in their own namespaces on one
//! bridge elect a master, which holds the address; stopping it hands over.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use testkit::netns::{netns_available, Lan, Netns};
use testkit::wait::wait_until;
use tokio::sync::{mpsc, watch};
use vrrp::driver::{DriverConfig, DriverStatus, InstanceIo};
use vrrp::machine::{
    GarpConfig, InitialState, InstanceConfig, RouterConfig, State, VirtualAddress,
};
use vrrp::packet::{Auth, Version};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

fn config(priority: u8) -> DriverConfig {
    let instance = InstanceConfig {
        name: "vi1".into(),
        interface: "eth0".into(),
        vrid: 51,
        priority,
        version: Version::V3,
        advert_interval_cs: 10,
        initial_state: InitialState::Backup,
        preempt: true,
        preempt_delay: Duration::ZERO,
        auth: Auth::None,
        primary_address: Ipv4Addr::UNSPECIFIED,
        virtual_addresses: vec![VirtualAddress {
            address: VIP,
            prefix_len: 24,
            dev: None,
            label: None,
        }],
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
        garp: GarpConfig::default(),
    };
    DriverConfig {
        router: RouterConfig {
            instances: vec![instance],
            scripts: Vec::new(),
            sync_groups: Vec::new(),
        },
        instances: vec![InstanceIo::default()],
        sync_groups: Vec::new(),
    }
}

/// A driver on its own thread inside a namespace; `stop` (or drop) stops it.
struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    status: watch::Receiver<DriverStatus>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(ns: &Netns, config: DriverConfig) -> Running {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (status_tx, status) = watch::channel(DriverStatus::default());
        let thread = ns.in_thread(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let (_inputs_tx, inputs) = mpsc::channel(8);
                let stopped = async move {
                    let _ = stop_rx.await;
                };
                vrrp::driver::run(config, inputs, status_tx, stopped).await.unwrap();
            });
        });
        Running { stop: Some(stop_tx), status, thread: Some(thread) }
    }

    fn state(&self) -> Option<State> {
        self.status.borrow().instances.first().map(|i| i.state)
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `wait_until`, failing the test with `what` on timeout; returns how long it took.
fn wait_for(what: &str, timeout: Duration, cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    assert!(wait_until(timeout, cond), "timed out after {timeout:?} waiting for {what}");
    start.elapsed()
}

#[test]
fn higher_priority_wins_and_graceful_stop_hands_over() {
    if !netns_available() {
        return;
    }
    let lan = Lan::new("vd", 2);
    let mut high = Running::start(&lan.hosts[0], config(200));
    let low = Running::start(&lan.hosts[1], config(100));

    wait_for("the priority 200 router to be MASTER", Duration::from_secs(5), || {
        high.state() == Some(State::Master) && low.state() == Some(State::Backup)
    });
    wait_for("the VIP on the master", Duration::from_secs(2), || {
        lan.hosts[0].has_address("eth0", VIP)
    });
    assert!(!lan.hosts[1].has_address("eth0", VIP), "the backup holds the VIP too");
    let received = low.status.borrow().instances[0].counters.adverts_received;
    assert!(received > 0, "the backup accepted no adverts");

    // Priority 0 on stop: the backup takes over after its skew time (~61 ms at
    // priority 100 and 100 ms adverts), far sooner than Master_Down_Interval (361 ms).
    high.stop();
    assert!(!lan.hosts[0].has_address("eth0", VIP), "the stopped master kept the VIP");
    let took = wait_for("the backup to take the VIP", Duration::from_secs(2), || {
        lan.hosts[1].has_address("eth0", VIP)
    });
    assert!(took < Duration::from_millis(300), "takeover took {took:?}, not a skew time");
    assert_eq!(low.state(), Some(State::Master));
}

#[test]
fn a_recreated_interface_gets_its_sockets_back() {
    if !netns_available() {
        return;
    }
    // Address then link up, and link up before its address (the send socket cannot
    // bind the address until it is there).
    recreated("vra", false);
    recreated("vrb", true);
}

fn recreated(prefix: &str, up_before_address: bool) {
    let lan = Lan::new(prefix, 2);
    let high = Running::start(&lan.hosts[0], config(200));
    let low = Running::start(&lan.hosts[1], config(100));
    wait_for("the priority 200 router to be MASTER", Duration::from_secs(5), || {
        high.state() == Some(State::Master) && low.state() == Some(State::Backup)
    });

    // eth0 goes away: the instance's own link is down, so FAULT; the peer takes over.
    lan.hosts[0].run(&["ip", "link", "del", "eth0"]);
    wait_for("FAULT on the router that lost eth0", Duration::from_secs(2), || {
        high.state() == Some(State::Fault)
    });
    wait_for("the peer to take over", Duration::from_secs(2), || {
        low.state() == Some(State::Master) && lan.hosts[1].has_address("eth0", VIP)
    });

    // A new eth0 (new index): sockets bound to the old one would hear and send nothing,
    // leaving two masters. With them reopened, the router hears the peer as BACKUP,
    // then preempts it, and the peer hears that.
    let received_before = high.status.borrow().instances[0].counters.adverts_received;
    lan.replug_host(0, up_before_address);
    wait_for("MASTER again after the interface came back", Duration::from_secs(5), || {
        high.state() == Some(State::Master) && low.state() == Some(State::Backup)
    });
    let received_after = high.status.borrow().instances[0].counters.adverts_received;
    assert!(received_after > received_before, "no advert heard on the new eth0");
    wait_for("the VIP on the new eth0", Duration::from_secs(2), || {
        lan.hosts[0].has_address("eth0", VIP) && !lan.hosts[1].has_address("eth0", VIP)
    });
}

#[test]
fn an_address_on_a_down_device_faults_its_instance() {
    if !netns_available() {
        return;
    }
    let lan = Lan::new("vt", 1);
    let host = &lan.hosts[0];
    // A veth pair inside the namespace: eth1 has carrier while eth1p is up.
    host.run(&["ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p"]);
    host.run(&["ip", "link", "set", "eth1p", "up"]);
    host.run(&["ip", "link", "set", "eth1", "up"]);
    let mut alone = config(200);
    let on_eth1 = Ipv4Addr::new(198, 51, 100, 100);
    alone.router.instances[0].virtual_addresses.push(VirtualAddress {
        address: on_eth1,
        prefix_len: 24,
        dev: Some("eth1".into()),
        label: None,
    });
    let router = Running::start(host, alone);
    wait_for("MASTER with both addresses", Duration::from_secs(3), || {
        router.state() == Some(State::Master) && host.has_address("eth1", on_eth1)
    });
    // keepalived tracks the device of every address: eth1 down means FAULT, and the
    // addresses go (the peer, had there been one, would take over).
    host.run(&["ip", "link", "set", "eth1p", "down"]);
    wait_for("FAULT with eth1 down", Duration::from_secs(2), || {
        router.state() == Some(State::Fault)
    });
    assert!(!host.has_address("eth0", VIP), "the VIP stayed on eth0 in FAULT");
    let faults = router.status.borrow().instances[0].faults.clone();
    assert_eq!(faults, ["eth1"]);
    host.run(&["ip", "link", "set", "eth1p", "up"]);
    wait_for("MASTER again with eth1 up", Duration::from_secs(3), || {
        router.state() == Some(State::Master) && host.has_address("eth1", on_eth1)
    });
}
