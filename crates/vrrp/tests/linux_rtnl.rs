//! rtnetlink addresses and link state in namespaces (root only), checked against
//! iproute2 as the independent reader.
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use testkit::netns::{netns_available, Lan};
use vrrp::linux::rtnl::{Link, LinkMonitor, Operation, Rtnl, RtnlError};
use vrrp::machine::config::VirtualAddress;

fn vip(last: u8, prefix_len: u8, label: Option<&str>) -> VirtualAddress {
    VirtualAddress {
        address: Ipv4Addr::new(192, 0, 2, last),
        prefix_len,
        dev: None,
        label: label.map(str::to_string),
    }
}

/// `ip -4 -o addr show dev eth0` in namespace `ns`, one line per address, words only.
fn ip_addrs(ns: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["-n", ns, "-4", "-o", "addr", "show", "dev", "eth0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            // "2: eth0    inet 192.0.2.10/24 brd 192.0.2.255 scope global eth0\  valid_lft ..."
            let words: Vec<_> = l.split('\\').next().unwrap().split_whitespace().collect();
            words[2..].join(" ")
        })
        .collect()
}

#[test]
fn add_and_delete_virtual_addresses() {
    if !netns_available() {
        return;
    }
    let lan = Lan::new("ra", 1);
    let ns = lan.hosts[0].name().to_string();
    lan.hosts[0]
        .in_thread(move || {
            let rtnl = Rtnl::open().unwrap();
            let eth0 = rtnl.link("eth0").unwrap();
            let index = eth0.index;
            // The fixture adds its address without a broadcast.
            let base = "inet 192.0.2.10/24 scope global eth0";
            assert_eq!(ip_addrs(&ns), [base]);

            let plain = vip(100, 24, None);
            let labelled = vip(101, 32, Some("eth0:vip"));
            rtnl.add_address(index, &plain).unwrap();
            rtnl.add_address(index, &labelled).unwrap();
            // Adding again is fine: the driver re-asserts its addresses.
            rtnl.add_address(index, &plain).unwrap();
            rtnl.add_address(index, &labelled).unwrap();
            assert_eq!(
                ip_addrs(&ns),
                [
                    base,
                    "inet 192.0.2.101/32 scope global eth0:vip",
                    "inet 192.0.2.100/24 brd 192.0.2.255 scope global secondary eth0",
                ]
            );

            let ours = rtnl.ipv4_addresses(index).unwrap();
            let summary: Vec<_> = ours
                .iter()
                .map(|a| (a.address.to_string(), a.prefix_len, a.label.clone(), a.secondary))
                .collect();
            let row = |a: &str, p, l: &str, s| (a.to_string(), p, Some(l.to_string()), s);
            assert_eq!(
                summary,
                [
                    row("192.0.2.10", 24, "eth0", false),
                    row("192.0.2.101", 32, "eth0:vip", false),
                    row("192.0.2.100", 24, "eth0", true),
                ]
            );
            assert_eq!(rtnl.primary_ipv4(index).unwrap(), Some(Lan::address(0)));
            assert_eq!(rtnl.ipv4_addresses(1).unwrap().len(), 1, "lo has 127.0.0.1");

            rtnl.del_address(index, &plain).unwrap();
            rtnl.del_address(index, &labelled).unwrap();
            assert_eq!(ip_addrs(&ns), [base]);
            // Deleting what is not there is fine: the driver cleans up at start.
            rtnl.del_address(index, &plain).unwrap();
            rtnl.del_address(index, &vip(102, 32, None)).unwrap();
            assert_eq!(ip_addrs(&ns), [base]);
        })
        .join()
        .unwrap();
}

#[test]
fn bad_requests_are_named_errors() {
    if !netns_available() {
        return;
    }
    let lan = Lan::new("rb", 1);
    let ns = lan.hosts[0].name().to_string();
    lan.hosts[0]
        .in_thread(move || {
            let rtnl = Rtnl::open().unwrap();
            let index = rtnl.link("eth0").unwrap().index;

            let err = rtnl.add_address(index, &vip(100, 32, Some("vip0"))).unwrap_err();
            assert!(matches!(err, RtnlError::BadLabel { .. }), "{err:?}");
            assert_eq!(
                err.to_string(),
                "add address 192.0.2.100/32 on eth0: label \"vip0\" must start with the \
                 interface name \"eth0\" and be at most 15 bytes"
            );
            let long = rtnl.add_address(index, &vip(100, 32, Some("eth0:0123456789ab")));
            assert!(matches!(long, Err(RtnlError::BadLabel { .. })), "{long:?}");
            assert_eq!(ip_addrs(&ns).len(), 1, "nothing was added");

            let err = rtnl.link("nosuch0").unwrap_err();
            assert!(matches!(err, RtnlError::NoSuchLink { .. }), "{err:?}");
            assert_eq!(err.to_string(), "get link on nosuch0: no such interface");

            let err = rtnl.add_address(999, &vip(100, 24, None)).unwrap_err();
            assert_eq!(err.errno(), Some(libc::ENODEV), "{err}");
            assert_eq!(err.request().op, Operation::AddAddress);
            assert!(err.to_string().starts_with("add address 192.0.2.100/24 on ifindex 999"));

            let err = rtnl.add_address(index, &vip(100, 33, None)).unwrap_err();
            assert!(matches!(err, RtnlError::BadPrefix { prefix_len: 33, .. }), "{err:?}");
        })
        .join()
        .unwrap();
}

/// The next event about `name` whose `up` is `want`, within a few seconds.
async fn wait_for(monitor: &mut LinkMonitor, name: &str, want: bool) -> Link {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let batch = tokio::time::timeout(left, monitor.next())
            .await
            .unwrap_or_else(|_| panic!("no event with {name} up={want}"))
            .unwrap();
        if let Some(link) = batch.into_iter().rev().find(|l| l.name == name) {
            if link.up == want {
                return link;
            }
        }
    }
}

#[test]
fn link_state_follows_the_carrier() {
    if !netns_available() {
        return;
    }
    let lan = Lan::new("rl", 1);
    let ns = lan.hosts[0].name().to_string();
    let (to_main, from_thread) = mpsc::channel();
    let (to_thread, from_main) = mpsc::channel::<()>();
    let host = lan.hosts[0].in_thread(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let mut monitor = LinkMonitor::open().unwrap();
            let rtnl = Rtnl::open().unwrap();
            let eth0 = rtnl.link("eth0").unwrap();
            assert!(eth0.up, "{eth0:?}");
            let listed = rtnl.links().unwrap();
            let names: Vec<_> = listed.iter().map(|l| l.name.as_str()).collect();
            assert_eq!(names, ["lo", "eth0"]);
            assert_eq!(listed[1], eth0);
            to_main.send(eth0.clone()).unwrap();

            let down = wait_for(&mut monitor, "eth0", false).await;
            assert_eq!((down.index, down.mac), (eth0.index, eth0.mac));
            assert!(!rtnl.link("eth0").unwrap().up);
            to_main.send(down).unwrap();
            from_main.recv().unwrap();

            let up = wait_for(&mut monitor, "eth0", true).await;
            assert!(rtnl.link("eth0").unwrap().up);
            assert_eq!(up.index, eth0.index);

            // A link that goes away is reported down.
            let run = |args: &[&str]| {
                let st = Command::new("ip").args(["-n", &ns]).args(args).status().unwrap();
                assert!(st.success(), "{args:?}");
            };
            run(&["link", "add", "va", "type", "veth", "peer", "name", "vb"]);
            run(&["link", "set", "va", "up"]);
            run(&["link", "set", "vb", "up"]);
            wait_for(&mut monitor, "va", true).await;
            run(&["link", "del", "va"]);
            wait_for(&mut monitor, "va", false).await;
            assert!(matches!(rtnl.link("va"), Err(RtnlError::NoSuchLink { .. })));
        })
    });

    // A failed assertion in the thread surfaces as its own panic, not as a closed channel.
    let from_host = |timeout| match from_thread.recv_timeout(timeout) {
        Ok(link) => link,
        Err(e) => panic!("{e}: host thread ended"),
    };
    let eth0 = from_host(Duration::from_secs(10));
    // The MAC against iproute2's.
    let show = lan.hosts[0].run(&["ip", "-o", "link", "show", "eth0"]);
    let mac = eth0.mac.unwrap().map(|b| format!("{b:02x}")).join(":");
    assert!(show.contains(&format!("link/ether {mac} ")), "{show} vs {mac}");

    lan.set_port(0, false);
    from_host(Duration::from_secs(15));
    lan.set_port(0, true);
    to_thread.send(()).unwrap();
    host.join().unwrap();
}
