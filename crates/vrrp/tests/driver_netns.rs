//! The driver against the real kernel: two routers in their own namespaces on one
//! bridge elect a master, which holds the address; stopping it hands over.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use testkit::netns::{netns_available, Lan, Netns};
use testkit::wait::wait_until;
use tokio::sync::{mpsc, watch};
use vrrp::driver::{DriverConfig, DriverError, DriverStatus, Input, InstanceIo};
use vrrp::machine::{
    ConfigError, GarpConfig, InitialState, InstanceConfig, RouterConfig, State, TrackScript,
    VirtualAddress,
};
use vrrp::packet::{Auth, Version};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const VIP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 101);

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
    inputs: mpsc::Sender<Input>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(ns: &Netns, config: DriverConfig) -> Running {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (status_tx, status) = watch::channel(DriverStatus::default());
        let (inputs_tx, inputs) = mpsc::channel(8);
        let thread = ns.in_thread(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let stopped = async move {
                    let _ = stop_rx.await;
                };
                vrrp::driver::run(config, inputs, status_tx, stopped).await.unwrap();
            });
        });
        Running { stop: Some(stop_tx), status, inputs: inputs_tx, thread: Some(thread) }
    }

    /// A reload, answered once carried out.
    fn reconfigure(&self, config: DriverConfig) -> Result<(), DriverError> {
        let (input, answer) = Input::reconfigure(config);
        self.inputs.blocking_send(input).unwrap();
        answer.blocking_recv().unwrap()
    }

    fn state(&self) -> Option<State> {
        self.status.borrow().instances.first().map(|i| i.state)
    }

    fn transitions(&self) -> u64 {
        self.status.borrow().instances[0].counters.transitions
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

#[test]
fn a_reload_keeps_the_master_and_applies_its_addresses() {
    if !netns_available() {
        return;
    }
    let lan = Lan::new("vl", 2);
    let master = Running::start(&lan.hosts[0], config(200));
    let backup = Running::start(&lan.hosts[1], config(100));
    wait_for("the priority 200 router to be MASTER", Duration::from_secs(5), || {
        master.state() == Some(State::Master)
            && backup.state() == Some(State::Backup)
            && lan.hosts[0].has_address("eth0", VIP)
    });
    let (master_moves, backup_moves) = (master.transitions(), backup.transitions());

    // A second VIP, backup first (as an operator would); the answer comes once done.
    let with_vip2 = |priority| {
        let mut config = config(priority);
        let vips = &mut config.router.instances[0].virtual_addresses;
        vips.push(VirtualAddress { address: VIP2, prefix_len: 24, dev: None, label: None });
        config
    };
    backup.reconfigure(with_vip2(100)).unwrap();
    master.reconfigure(with_vip2(200)).unwrap();
    assert!(lan.hosts[0].has_address("eth0", VIP2), "the new VIP is not up on the master");
    assert!(lan.hosts[0].has_address("eth0", VIP), "the kept VIP went away");
    // Some adverts later nobody moved: no re-election, no VIP flap.
    let heard = backup.status.borrow().instances[0].counters.adverts_received;
    wait_for("the backup to accept adverts with both VIPs", Duration::from_secs(2), || {
        backup.status.borrow().instances[0].counters.adverts_received > heard + 5
    });
    assert_eq!((master.transitions(), backup.transitions()), (master_moves, backup_moves));
    assert_eq!((master.state(), backup.state()), (Some(State::Master), Some(State::Backup)));
    assert!(!lan.hosts[1].has_address("eth0", VIP2), "the backup holds the new VIP");

    // Refused configurations leave the running one as it was, and say why.
    let mut unknown_script = with_vip2(150);
    unknown_script.router.instances[0].track_scripts =
        vec![TrackScript { name: "chk".into(), weight: None }];
    let refused = master.reconfigure(unknown_script);
    assert!(
        matches!(refused, Err(DriverError::Config(ConfigError::UnknownScript { .. }))),
        "{refused:?}"
    );
    let mut no_interface = with_vip2(150);
    no_interface.router.instances[0].interface = "nosuch0".into();
    let refused = master.reconfigure(no_interface);
    assert!(matches!(refused, Err(DriverError::Interface { .. })), "{refused:?}");
    assert_eq!(master.status.borrow().instances[0].priority, 200);

    // The instance removed: it leaves as at shutdown, with its addresses, and the
    // backup takes over at once (priority 0).
    let mut nothing = with_vip2(200);
    nothing.router.instances.clear();
    nothing.instances.clear();
    master.reconfigure(nothing).unwrap();
    assert!(master.status.borrow().instances.is_empty());
    for vip in [VIP, VIP2] {
        assert!(!lan.hosts[0].has_address("eth0", vip), "{vip} stayed on the master");
    }
    wait_for("the backup to take both VIPs", Duration::from_secs(2), || {
        lan.hosts[1].has_address("eth0", VIP) && lan.hosts[1].has_address("eth0", VIP2)
    });
}

#[test]
fn a_reload_attaches_new_interfaces_and_renumbers_kept_instances() {
    if !netns_available() {
        return;
    }
    let lan = Lan::new("vn", 1);
    let host = &lan.hosts[0];
    host.run(&["ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p"]);
    host.run(&["ip", "addr", "add", "198.51.100.1/24", "dev", "eth1"]);
    host.run(&["ip", "link", "set", "eth1p", "up"]);
    host.run(&["ip", "link", "set", "eth1", "up"]);
    let router = Running::start(host, config(200));
    wait_for("MASTER on eth0", Duration::from_secs(3), || router.state() == Some(State::Master));

    // A second instance on an interface the driver had no socket on.
    let on_eth1 = Ipv4Addr::new(198, 51, 100, 100);
    let mut second = config(200).router.instances.remove(0);
    second.name = "vi2".into();
    second.interface = "eth1".into();
    second.virtual_addresses[0].address = on_eth1;
    let mut both = config(200);
    both.router.instances.push(second.clone());
    both.instances.push(InstanceIo::default());
    router.reconfigure(both).unwrap();
    wait_for("vi2 MASTER with its VIP on eth1", Duration::from_secs(3), || {
        let status = router.status.borrow();
        status.instances.get(1).is_some_and(|i| i.state == State::Master)
            && host.has_address("eth1", on_eth1)
    });
    let sent = router.status.borrow().instances[1].counters.adverts_sent;

    // The first one removed: vi2 is now instance 0 and carries on as it was, its
    // adverts (counted from the same counter) still leaving from eth1.
    let mut only_second = config(200);
    only_second.router.instances = vec![second];
    router.reconfigure(only_second).unwrap();
    assert!(!host.has_address("eth0", VIP), "the removed instance left its VIP");
    let status = router.status.borrow().instances.clone();
    assert_eq!(status.len(), 1);
    assert_eq!((status[0].name.as_str(), status[0].state), ("vi2", State::Master));
    assert_eq!(status[0].counters.transitions, 2);
    wait_for("vi2 to keep advertising", Duration::from_secs(2), || {
        router.status.borrow().instances[0].counters.adverts_sent > sent + 5
    });
    assert!(host.has_address("eth1", on_eth1));
}
