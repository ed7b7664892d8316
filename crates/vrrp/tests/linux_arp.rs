//! Gratuitous ARP from one namespace, captured in another (root only).
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::net::Ipv4Addr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use testkit::netns::{netns_available, Lan};
use vrrp::linux::arp::{gratuitous_arp, ArpSender};
use vrrp::linux::rtnl::Rtnl;

const ETH_P_ARP: u16 = 0x0806;

#[test]
fn gratuitous_arp_reaches_the_other_host() {
    if !netns_available() {
        return;
    }
    let lan = Lan::new("ga", 2);
    let vip = Ipv4Addr::new(192, 0, 2, 100);
    let (ready_tx, ready_rx) = mpsc::channel();

    // Host 1 captures whole Ethernet frames of type ARP.
    let capture = lan.hosts[1].in_thread(move || {
        let sock = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from(ETH_P_ARP.to_be()))),
        )
        .unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        ready_tx.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 1514];
        while Instant::now() < deadline {
            if let Ok(n) = (&sock).read(&mut buf) {
                // Only ours: the kernel's own ARP traffic may pass too.
                if n >= 42 && buf[28..32] == vip.octets() {
                    return Some(buf[..n].to_vec());
                }
            }
        }
        None
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();

    let mac = lan.hosts[0]
        .in_thread(move || {
            let eth0 = Rtnl::open().unwrap().link("eth0").unwrap();
            let mac = eth0.mac.unwrap();
            ArpSender::open(eth0.index, mac).unwrap().send_gratuitous(vip).unwrap();
            mac
        })
        .join()
        .unwrap();

    let frame = capture.join().unwrap().expect("no gratuitous ARP seen on host 1");
    assert_eq!(frame[0..6], [0xff; 6], "broadcast destination");
    assert_eq!(frame[6..12], mac, "from host 0's MAC");
    assert_eq!(frame[12..14], ETH_P_ARP.to_be_bytes());
    assert_eq!(frame[14..42], gratuitous_arp(mac, vip));
}
