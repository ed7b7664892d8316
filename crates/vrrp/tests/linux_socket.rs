//! The VRRP raw sockets between two namespaces on a bridge (root only).
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::mpsc;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use testkit::netns::{netns_available, Lan};
use vrrp::linux::rtnl::Rtnl;
use vrrp::linux::socket::{ReceiveSocket, SendSocket};

const MCAST: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// A second address on host 0, so that "leaves from the bound source" is not the
/// routing table's own choice (192.0.2.10).
const SOURCE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn eth0_index() -> u32 {
    Rtnl::open().unwrap().link("eth0").unwrap().index
}

/// What the tests look at in a received datagram.
#[derive(Debug, PartialEq, Eq)]
struct Datagram {
    tos: u8,
    ttl: u8,
    protocol: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    payload: Vec<u8>,
}

fn parse(buf: &[u8]) -> Datagram {
    assert_eq!(buf[0] >> 4, 4, "not IPv4: {buf:?}");
    let ihl = usize::from(buf[0] & 0x0f) * 4;
    let addr = |at: usize| Ipv4Addr::new(buf[at], buf[at + 1], buf[at + 2], buf[at + 3]);
    Datagram {
        tos: buf[1],
        ttl: buf[8],
        protocol: buf[9],
        src: addr(12),
        dst: addr(16),
        payload: buf[ihl..].to_vec(),
    }
}

/// Everything `sock` receives until `quiet` passes without a datagram.
async fn receive_all(sock: &ReceiveSocket, quiet: Duration) -> Vec<Datagram> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = tokio::time::timeout(quiet, sock.recv(&mut buf)).await {
        got.push(parse(&buf[..n.unwrap()]));
    }
    got
}

#[test]
fn adverts_cross_the_lan_with_ttl_255_from_the_bound_source() {
    if !netns_available() {
        return;
    }
    let lan = Lan::new("vs", 2);
    lan.hosts[0].run(&["ip", "addr", "add", &format!("{SOURCE}/24"), "dev", "eth0"]);
    let (ready_tx, ready_rx) = mpsc::channel();

    let receiver = lan.hosts[1].in_thread(move || {
        runtime().block_on(async move {
            let sock = ReceiveSocket::open("eth0", eth0_index(), true).unwrap();
            ready_tx.send(()).unwrap();
            receive_all(&sock, Duration::from_secs(2)).await
        })
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();

    let sender = lan.hosts[0].in_thread(move || {
        runtime().block_on(async move {
            let index = eth0_index();
            // On the sender too: its own multicast must not loop back to it.
            let own = ReceiveSocket::open("eth0", index, true).unwrap();
            let sock = SendSocket::open("eth0", index, SOURCE).unwrap();
            sock.send_to(b"to the group", MCAST).await.unwrap();
            sock.send_to(b"to the peer", Lan::address(1)).await.unwrap();

            // A datagram that crossed a router: TTL 64. The receive side must pass it
            // up as it is so that the decoder can drop it.
            let plain = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
            plain.set_ttl(64).unwrap();
            let dst = SockAddr::from(SocketAddrV4::new(Lan::address(1), 0));
            plain.send_to(b"routed", &dst).unwrap();

            receive_all(&own, Duration::from_secs(2)).await
        })
    });

    let looped_back = sender.join().unwrap();
    assert_eq!(looped_back, [], "the sender received its own adverts");

    let got = receiver.join().unwrap();
    let advert = |dst, payload: &[u8]| Datagram {
        tos: 0xc0,
        ttl: 255,
        protocol: 112,
        src: SOURCE,
        dst,
        payload: payload.to_vec(),
    };
    assert!(got.contains(&advert(MCAST, b"to the group")), "{got:?}");
    assert!(got.contains(&advert(Lan::address(1), b"to the peer")), "{got:?}");
    let routed = got.iter().find(|d| d.payload == b"routed").unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!((routed.ttl, routed.src), (64, Lan::address(0)));
    assert_eq!(got.len(), 3, "{got:?}");
}

#[test]
fn without_the_join_no_multicast_arrives() {
    if !netns_available() {
        return;
    }
    let lan = Lan::new("vj", 2);
    let (ready_tx, ready_rx) = mpsc::channel();
    let receiver = lan.hosts[1].in_thread(move || {
        runtime().block_on(async move {
            let sock = ReceiveSocket::open("eth0", eth0_index(), false).unwrap();
            ready_tx.send(()).unwrap();
            receive_all(&sock, Duration::from_secs(2)).await
        })
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    lan.hosts[0]
        .in_thread(|| {
            runtime().block_on(async {
                let sock = SendSocket::open("eth0", eth0_index(), Lan::address(0)).unwrap();
                sock.send_to(b"group", MCAST).await.unwrap();
                sock.send_to(b"unicast", Lan::address(1)).await.unwrap();
            })
        })
        .join()
        .unwrap();
    // The unicast one shows the socket was listening; the group one was not for us.
    let got: Vec<_> = receiver.join().unwrap().into_iter().map(|d| d.payload).collect();
    assert_eq!(got, [b"unicast".to_vec()]);
}

#[test]
fn send_socket_needs_a_local_source() {
    if !netns_available() {
        return;
    }
    let lan = Lan::new("vb", 1);
    let err = lan.hosts[0]
        .in_thread(|| {
            runtime().block_on(async {
                SendSocket::open("eth0", eth0_index(), Ipv4Addr::new(192, 0, 2, 99)).unwrap_err()
            })
        })
        .join()
        .unwrap();
    assert_eq!(err.raw_os_error(), Some(libc::EADDRNOTAVAIL), "{err}");
}
