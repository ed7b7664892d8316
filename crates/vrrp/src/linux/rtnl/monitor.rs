//! Link state events: a NETLINK_ROUTE socket in the RTMGRP_LINK multicast group.

use std::io;

use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::{wire, Link};

/// The RTMGRP_LINK multicast group bit (rtnetlink.h).
const RTMGRP_LINK: u32 = 1;
/// Events arrive in bursts (a bridge going down touches every port); a large buffer
/// makes losing some (ENOBUFS) unlikely.
const RCVBUF: usize = 1 << 20;
/// One event datagram; link messages are a few KiB at most.
const RECV_BUF: usize = 64 * 1024;

/// Reports interfaces whose state changed, as the kernel announces them.
#[derive(Debug)]
pub struct LinkMonitor {
    fd: AsyncFd<Socket>,
    buf: Vec<u8>,
}

impl LinkMonitor {
    /// Subscribes in the calling thread's network namespace. Events from before this
    /// call are not reported: read the current state with [`super::Rtnl::links`] after
    /// opening the monitor, so that nothing falls between the two.
    ///
    /// Must be called within a tokio runtime.
    pub fn open() -> io::Result<LinkMonitor> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind(&SocketAddr::new(0, RTMGRP_LINK))?;
        sock.set_non_blocking(true)?;
        sock.set_rx_buf_sz(RCVBUF)?;
        // SAFETY: the socket owns its descriptor, keeps it open until dropped and always
        // returns the same one; the AsyncFd owns the socket.
        let fd = unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE) }?;
        Ok(LinkMonitor { fd, buf: Vec::with_capacity(RECV_BUF) })
    }

    /// The links in the next batch of RTM_NEWLINK/RTM_DELLINK messages (all the
    /// datagrams queued when it wakes up); a deleted link is reported with `up: false`.
    /// A link may appear more than once, latest last.
    ///
    /// An error whose `raw_os_error()` is `ENOBUFS` means the kernel dropped events: the
    /// caller re-reads every link with [`super::Rtnl::links`] and carries on calling
    /// `next`.
    pub async fn next(&mut self) -> io::Result<Vec<Link>> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut links = Vec::new();
            // Drain what is queued so one wake-up reports a whole burst.
            loop {
                self.buf.clear();
                self.buf.reserve(RECV_BUF);
                let buf = &mut self.buf;
                match guard.try_io(|fd| fd.get_ref().recv(buf, 0)) {
                    Ok(Ok(_)) => collect(&self.buf, &mut links),
                    Ok(Err(e)) => return Err(e),
                    // try_io cleared readiness: the next readable() waits for more.
                    Err(_would_block) => break,
                }
            }
            if !links.is_empty() {
                return Ok(links);
            }
        }
    }
}

/// The links in one event datagram. Messages that do not parse are skipped: an event
/// the parser does not understand must not stop the monitor.
fn collect(datagram: &[u8], links: &mut Vec<Link>) {
    for msg in wire::parse_datagram(datagram).into_iter().flatten() {
        match msg.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                links.push(wire::link(&l));
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                links.push(Link { up: false, ..wire::link(&l) });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NetlinkHeader, NetlinkMessage};
    use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};

    fn event(body: RouteNetlinkMessage) -> Vec<u8> {
        let mut msg = NetlinkMessage::new(NetlinkHeader::default(), body.into());
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        buf
    }

    #[test]
    fn new_and_deleted_links() {
        let mut up = LinkMessage::default();
        up.header.index = 2;
        up.header.flags = LinkFlags::Up | LinkFlags::Running;
        up.attributes.push(LinkAttribute::IfName("eth0".into()));
        let mut gone = up.clone();
        gone.header.index = 3;
        gone.attributes = vec![LinkAttribute::IfName("eth1".into())];
        let datagram =
            [event(RouteNetlinkMessage::NewLink(up)), event(RouteNetlinkMessage::DelLink(gone))]
                .concat();
        let mut links = Vec::new();
        collect(&datagram, &mut links);
        let got: Vec<_> = links.iter().map(|l| (l.index, l.name.as_str(), l.up)).collect();
        assert_eq!(got, [(2, "eth0", true), (3, "eth1", false)]);
    }
}
