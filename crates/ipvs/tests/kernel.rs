//! Tests against the kernel's IPVS. They need root and the ip_vs modules, so they are
//! ignored by default and run inside the VM (`integration/vm`) with `--ignored`, one
//! thread at a time: they share the one IPVS table and each starts by flushing it.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::net::IpAddr;

use ipvs::{
    diff, Client, DaemonState, Destination, Family, Forwarding, Netmask, Op, Protocol, Scheduler,
    Service, ServiceFlags, ServiceKey, SyncDaemon, Table, TableService, Timeouts, Tunnel,
    TunnelFlags, TunnelType,
};

fn fresh() -> Client {
    let mut c = Client::connect().expect("connect to IPVS");
    c.flush().expect("flush");
    c
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr { protocol: Protocol::Tcp, addr: addr.parse().unwrap(), port }
}

fn dest(addr: &str, port: u16, fwd: Forwarding, weight: u32) -> Destination {
    let mut d = Destination::new(addr.parse().unwrap(), port);
    d.forwarding = fwd;
    d.weight = weight;
    d
}

#[test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
fn info_reports_version_and_table_size() {
    let info = fresh().info().unwrap();
    assert_eq!(info.version_string(), "1.2.1");
    assert!(info.conn_tab_size >= 4096, "{info:?}");
}

#[test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
fn service_add_get_edit_delete_ipv4() {
    let mut c = fresh();
    let key = tcp("192.0.2.1", 80);
    let mut svc = Service::new(key);
    svc.scheduler = Scheduler::Wrr;
    c.execute(&Op::AddService(svc.clone())).unwrap();
    assert_eq!(c.service(&key).unwrap().unwrap().service, svc);

    svc.scheduler = Scheduler::Sh;
    svc.flags = ServiceFlags(
        ServiceFlags::IP_VS_SVC_F_PERSISTENT
            | ServiceFlags::IP_VS_SVC_F_ONEPACKET
            | ServiceFlags::IP_VS_SVC_F_SCHED_SH_FALLBACK
            | ServiceFlags::IP_VS_SVC_F_SCHED_SH_PORT,
    );
    svc.timeout = 120;
    svc.netmask = Netmask::V4("255.255.255.0".parse().unwrap());
    c.execute(&Op::EditService(svc.clone())).unwrap();
    assert_eq!(c.service(&key).unwrap().unwrap().service, svc);

    let err = c.execute(&Op::AddService(svc.clone())).unwrap_err();
    assert_eq!(err.errno(), Some(libc::EEXIST));
    assert_eq!(err.to_string(), "service 192.0.2.1:80/tcp already exists (File exists, errno 17)");

    c.execute(&Op::DeleteService(key)).unwrap();
    assert_eq!(c.service(&key).unwrap(), None);
    let err = c.execute(&Op::DeleteService(key)).unwrap_err();
    assert_eq!(err.errno(), Some(libc::ESRCH));
    assert!(err.to_string().starts_with("service 192.0.2.1:80/tcp does not exist"), "{err}");
}

#[test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
fn ipv6_udp_sctp_and_fwmark_services() {
    let mut c = fresh();
    let v6 = ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: "2001:db8::53".parse().unwrap(),
        port: 53,
    };
    let sctp = ServiceKey::Addr {
        protocol: Protocol::Sctp,
        addr: "203.0.113.9".parse().unwrap(),
        port: 3868,
    };
    let fw4 = ServiceKey::Fwmark { family: Family::Inet, mark: 1 };
    let fw6 = ServiceKey::Fwmark { family: Family::Inet6, mark: 2 };
    let mut persistent6 = Service::new(v6);
    persistent6.flags = ServiceFlags(ServiceFlags::IP_VS_SVC_F_PERSISTENT);
    persistent6.timeout = 300;
    persistent6.netmask = Netmask::V6Prefix(64);
    let want = vec![persistent6, Service::new(sctp), Service::new(fw4), Service::new(fw6)];
    for s in &want {
        c.execute(&Op::AddService(s.clone())).unwrap();
    }
    c.execute(&Op::AddDestination(v6, dest("2001:db8::10", 53, Forwarding::Masq, 5))).unwrap();
    c.execute(&Op::AddDestination(fw6, dest("2001:db8::11", 0, Forwarding::Route, 1))).unwrap();
    let mut got: Vec<Service> = c.services().unwrap().into_iter().map(|e| e.service).collect();
    got.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got, want_sorted);
    let d = c.destinations(&v6).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].destination, dest("2001:db8::10", 53, Forwarding::Masq, 5));
    assert_eq!(
        c.destinations(&fw6).unwrap()[0].destination.addr,
        "2001:db8::11".parse::<IpAddr>().unwrap()
    );
}

#[test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
fn every_scheduler_is_accepted_and_an_unknown_one_is_explained() {
    let mut c = fresh();
    for (i, name) in Scheduler::KNOWN.iter().enumerate() {
        let mut s = Service::new(tcp("192.0.2.2", 8000 + i as u16));
        s.scheduler = Scheduler::from_name(name);
        c.execute(&Op::AddService(s.clone())).unwrap_or_else(|e| panic!("scheduler {name}: {e}"));
        assert_eq!(c.service(&s.key).unwrap().unwrap().service.scheduler.name(), *name);
    }
    let mut s = Service::new(tcp("192.0.2.2", 9999));
    s.scheduler = Scheduler::from_name("nosuch");
    let err = c.execute(&Op::AddService(s)).unwrap_err();
    assert_eq!(err.errno(), Some(libc::ENOENT));
    assert!(err.to_string().contains("scheduler nosuch"), "{err}");
}

#[test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
fn destinations_every_forwarding_method_thresholds_and_tunnels() {
    let mut c = fresh();
    let key = tcp("192.0.2.3", 80);
    c.execute(&Op::AddService(Service::new(key))).unwrap();
    let mut masq = dest("198.51.100.1", 8080, Forwarding::Masq, 3);
    masq.upper_threshold = 100;
    masq.lower_threshold = 10;
    let route = dest("198.51.100.2", 80, Forwarding::Route, 0);
    let ipip = dest("198.51.100.3", 80, Forwarding::Tunnel, 1);
    let mut gue = dest("198.51.100.4", 80, Forwarding::Tunnel, 1);
    gue.tunnel = Tunnel {
        kind: Some(TunnelType::Gue),
        port: 6080,
        flags: TunnelFlags(TunnelFlags::IP_VS_TUNNEL_ENCAP_FLAG_CSUM),
    };
    let mut gre = dest("198.51.100.5", 80, Forwarding::Tunnel, 1);
    gre.tunnel = Tunnel {
        kind: Some(TunnelType::Gre),
        port: 0,
        flags: TunnelFlags(TunnelFlags::IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM),
    };
    let mixed = dest("2001:db8::20", 80, Forwarding::Tunnel, 2);
    let all = [masq, route, ipip, gue, gre, mixed];
    for d in &all {
        c.execute(&Op::AddDestination(key, d.clone())).unwrap_or_else(|e| panic!("{d}: {e}"));
    }
    // Local-node forwarding has no ipvsadm option but is a kernel method: it round-trips.
    c.execute(&Op::AddDestination(key, dest("127.0.0.1", 80, Forwarding::Local, 1))).unwrap();
    let mut got: Vec<Destination> =
        c.destinations(&key).unwrap().into_iter().map(|e| e.destination).collect();
    got.sort();
    let mut want: Vec<Destination> = all.iter().cloned().map(Destination::normalized).collect();
    want.push(dest("127.0.0.1", 80, Forwarding::Local, 1));
    want.sort();
    assert_eq!(got, want);

    // Edit in place, then delete; errors name the destination.
    let mut edited = all[0].clone();
    edited.weight = 7;
    c.execute(&Op::EditDestination(key, edited.clone())).unwrap();
    let listed = c.destinations(&key).unwrap();
    assert!(listed.iter().any(|e| e.destination == edited));
    c.execute(&Op::DeleteDestination(key, edited.addr, edited.port)).unwrap();
    let err = c.execute(&Op::DeleteDestination(key, edited.addr, edited.port)).unwrap_err();
    assert_eq!(err.errno(), Some(libc::ENOENT));
    let err = c.execute(&Op::EditDestination(key, edited.clone())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "destination 198.51.100.1:8080 does not exist in service 192.0.2.3:80/tcp \
         (No such file or directory, errno 2)"
    );
    let err = c.execute(&Op::AddDestination(tcp("192.0.2.99", 80), edited)).unwrap_err();
    assert_eq!(err.errno(), Some(libc::ESRCH));
    // Thresholds the kernel refuses (lower above upper).
    let mut bad = dest("198.51.100.9", 80, Forwarding::Route, 1);
    bad.upper_threshold = 5;
    bad.lower_threshold = 10;
    let err = c.execute(&Op::AddDestination(key, bad)).unwrap_err();
    assert_eq!(err.errno(), Some(libc::ERANGE), "{err}");
    assert!(err.to_string().contains("lower threshold 10 is above upper threshold 5"), "{err}");
}

#[test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
fn timeouts_get_and_set() {
    let mut c = fresh();
    let before = c.timeouts().unwrap();
    let want = Timeouts { tcp: 901, tcp_fin: 121, udp: 301 };
    c.set_timeouts(&want).unwrap();
    assert_eq!(c.timeouts().unwrap(), want);
    c.set_timeouts(&before).unwrap();
    assert_eq!(c.timeouts().unwrap(), before);
}

#[test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
fn sync_daemon_start_list_stop() {
    let mut c = fresh();
    let iface = std::env::var("IPVS_TEST_SYNC_IFACE").unwrap_or_else(|_| "lo".into());
    let mut master = SyncDaemon::new(DaemonState::Master, iface.clone(), 51);
    master.mcast_group = Some("224.0.0.81".parse().unwrap());
    master.mcast_port = Some(8849);
    master.mcast_ttl = Some(2);
    master.sync_maxlen = Some(1000);
    c.start_daemon(&master).unwrap_or_else(|e| panic!("start master on {iface}: {e}"));
    let listed = c.daemons().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].state, DaemonState::Master);
    assert_eq!(listed[0].mcast_ifn, iface);
    assert_eq!(listed[0].sync_id, 51);
    assert_eq!(listed[0].mcast_group, master.mcast_group);
    assert_eq!(listed[0].mcast_port, Some(8849));
    assert_eq!(listed[0].mcast_ttl, Some(2));
    // ipvsadm, the independent reader, sees the same port (host byte order on the wire).
    let out = std::process::Command::new("ipvsadm").args(["-L", "--daemon"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("syncid=51") && text.contains("port=8849"), "{text}");
    // The stop may come before the kernel thread ever ran: the kernel then sends no
    // answer at all, and the client must still return (and the daemon be gone).
    c.stop_daemon(DaemonState::Master).unwrap();
    assert!(c.daemons().unwrap().is_empty());
    let err = c.stop_daemon(DaemonState::Master).unwrap_err();
    assert_eq!(err.errno(), Some(libc::ESRCH), "{err}");

    // Without a port or group the kernel picks its defaults: 224.0.0.81:8848.
    let backup = SyncDaemon::new(DaemonState::Backup, iface, 52);
    c.start_daemon(&backup).unwrap();
    let listed = c.daemons().unwrap();
    assert_eq!(listed[0].state, DaemonState::Backup);
    assert_eq!(listed[0].mcast_port, Some(8848));
    assert_eq!(listed[0].mcast_group, Some("224.0.0.81".parse().unwrap()));
    c.stop_daemon(DaemonState::Backup).unwrap();
    assert!(c.daemons().unwrap().is_empty());
}

#[test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
fn zero_and_flush() {
    let mut c = fresh();
    // Real connections through a NAT service on loopback, so there is something to zero.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let key = tcp("127.0.0.2", 80);
    c.execute(&Op::AddService(Service::new(key))).unwrap();
    c.execute(&Op::AddDestination(key, dest("127.0.0.1", port, Forwarding::Masq, 1))).unwrap();
    let connect = || {
        for _ in 0..3 {
            std::net::TcpStream::connect("127.0.0.2:80").unwrap();
        }
    };
    // The kernel folds per-CPU counters into what it reports every 2 s.
    let conns = |c: &mut Client| c.services().unwrap()[0].stats.conns;
    let wait_for = |c: &mut Client, want: u64| {
        for _ in 0..50 {
            if conns(c) == want {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("service counted {} connections, want {want}", conns(c));
    };
    connect();
    wait_for(&mut c, 3);
    assert_eq!(c.destinations(&key).unwrap()[0].stats.conns, 3);
    c.zero(Some(&key)).unwrap();
    assert_eq!(c.services().unwrap()[0].stats, ipvs::Stats::default());
    assert_eq!(c.destinations(&key).unwrap()[0].stats.conns, 0);

    connect();
    wait_for(&mut c, 3);
    c.zero(None).unwrap();
    assert_eq!(c.services().unwrap()[0].stats, ipvs::Stats::default());
    c.flush().unwrap();
    assert!(c.services().unwrap().is_empty());
    drop(listener);
}

fn big_table(services: u16, dests: u8) -> Table {
    let mut t = Table::default();
    for s in 0..services {
        let key = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: IpAddr::from([203, 0, 113, (s / 250) as u8 + 1]),
            port: 1000 + (s % 250),
        };
        let mut svc = Service::new(key);
        svc.scheduler = Scheduler::Wrr;
        let destinations = (0..dests)
            .map(|d| dest(&format!("198.51.100.{}", d + 1), 80, Forwarding::Masq, 1))
            .collect();
        t.services.push(TableService { service: svc, destinations });
    }
    t
}

#[test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
fn batched_apply_reaches_the_desired_table_and_reports_every_refusal() {
    let mut c = fresh();
    let desired = big_table(600, 5);
    let ops = diff::diff(&desired, &Table::default());
    assert_eq!(ops.len(), 600 * 6);
    c.apply(&ops).unwrap();
    assert!(diff::same_table(&c.table().unwrap(), &desired));
    assert!(diff::diff(&desired, &c.table().unwrap()).is_empty());

    // One weight change is one operation.
    let mut changed = desired.clone();
    changed.services[42].destinations[3].weight = 9;
    let ops = diff::diff(&changed, &c.table().unwrap());
    assert_eq!(ops.len(), 1);
    assert!(matches!(ops[0], Op::EditDestination(..)));
    let before = c.requests_sent();
    c.apply(&ops).unwrap();
    assert_eq!(c.requests_sent() - before, 1);
    assert!(diff::same_table(&c.table().unwrap(), &changed));

    // The kernel goes on after a refusal: both refusals come back, the good op applies.
    let key = changed.services[0].service.key;
    let ok = dest("198.51.100.200", 80, Forwarding::Masq, 1);
    let batch = vec![
        Op::AddService(changed.services[1].service.clone()),
        Op::AddDestination(key, ok.clone()),
        Op::DeleteDestination(key, "198.51.100.250".parse().unwrap(), 80),
    ];
    let err = c.apply(&batch).unwrap_err();
    assert_eq!(err.total, 3);
    assert_eq!(err.failed.len(), 2, "{err}");
    assert!(c.destinations(&key).unwrap().iter().any(|e| e.destination == ok));
}

/// Prints the raw bytes of real kernel replies (a service dump and a destination dump)
/// as hex, for the wire unit tests' fixtures: `--ignored --nocapture capture_`.
#[test]
#[ignore = "needs root and ip_vs: run in the VM (integration/vm)"]
fn capture_kernel_replies_for_fixtures() {
    use ipvs::wire::{ctrl, ops, MessageBuilder, Messages, Reply};
    use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};
    let mut c = fresh();
    let key = tcp("192.0.2.1", 80);
    let mut svc = Service::new(key);
    svc.scheduler = Scheduler::Wrr;
    svc.flags = ServiceFlags(ServiceFlags::IP_VS_SVC_F_PERSISTENT);
    svc.timeout = 300;
    svc.netmask = Netmask::V4("255.255.255.0".parse().unwrap());
    c.execute(&Op::AddService(svc)).unwrap();
    let mut d = dest("198.51.100.7", 8080, Forwarding::Masq, 3);
    d.upper_threshold = 100;
    d.lower_threshold = 10;
    c.execute(&Op::AddDestination(key, d)).unwrap();

    let mut sock = Socket::new(NETLINK_GENERIC).unwrap();
    sock.bind_auto().unwrap();
    sock.connect(&SocketAddr::new(0, 0)).unwrap();
    // Reads until the data message of request `seq`, then through to its end.
    let first_data = |sock: &Socket, seq: u32| -> Vec<u8> {
        let mut found = None;
        loop {
            let mut buf = Vec::with_capacity(65536);
            sock.recv(&mut buf, 0).unwrap();
            for msg in Messages::new(&buf) {
                let msg = msg.unwrap();
                if msg.seq != seq {
                    continue;
                }
                match msg.reply().unwrap() {
                    Reply::Genl { .. } if found.is_none() => found = Some(msg.payload.to_vec()),
                    Reply::Ack | Reply::Done => return found.unwrap(),
                    Reply::Error(e) => panic!("errno {e}"),
                    _ => {}
                }
            }
        }
    };
    let mut b = MessageBuilder::new();
    ctrl::get_family(&mut b, 1, "IPVS");
    sock.send(b.as_bytes(), 0).unwrap();
    let reply = first_data(&sock, 1);
    let family = ctrl::parse_family_id(&reply[4..]).unwrap();
    b.clear();
    ops::dump_services(&mut b, family, 2);
    ops::dump_destinations(&mut b, family, 3, &key);
    for (name, seq) in [("service dump", 2), ("destination dump", 3)] {
        // One request at a time: a socket runs one dump at once.
        let msgs: Vec<_> = Messages::new(b.as_bytes()).map(Result::unwrap).collect();
        let m = msgs.iter().find(|m| m.seq == seq).unwrap();
        let start = m.payload.as_ptr() as usize - b.as_bytes().as_ptr() as usize - 16;
        let len = 16 + m.payload.len();
        sock.send(&b.as_bytes()[start..start + len], 0).unwrap();
        let payload = first_data(&sock, seq);
        let hex: String = payload.iter().map(|x| format!("{x:02x}")).collect();
        println!("CAPTURE {name} (genl payload, family {family}): {hex}");
    }
}
