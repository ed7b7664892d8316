//! The raw IP protocol 112 sockets: one per interface to receive adverts, one per source
//! address to send them.
//!
//! Receiving and sending are split because they want opposite things: the receiver must
//! not be bound to an address (a bound raw socket only sees datagrams for that address,
//! and adverts go to 224.0.0.18), while the sender is bound so that adverts leave from the
//! instance's primary address whatever the routing table would pick.
//!
//! Errors are the kernel's, errno kept, so that the caller can tell a missing interface
//! or address from other failures; the caller names the interface in its messages.

use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::packet::{IPPROTO_VRRP, VRRP_MCAST_V4, VRRP_TTL};

/// IP precedence "internetwork control" (RFC 791), as routing protocols mark their
/// traffic so that queues on the way prefer it over bulk data.
const TOS_INTERNETWORK_CONTROL: u32 = 0xc0;

/// Receive buffer of the send-only socket: the smallest the kernel allows, since the
/// filter drops everything before it is queued anyway.
const SEND_SOCKET_RCVBUF: usize = 1024;

/// Receives VRRP datagrams arriving on one interface, IP header included.
#[derive(Debug)]
pub struct ReceiveSocket {
    fd: AsyncFd<Socket>,
}

impl ReceiveSocket {
    /// Opens the socket on `ifname` (whose index is `ifindex`) and, when
    /// `join_multicast`, joins 224.0.0.18 there. Unicast-only instances skip the join.
    ///
    /// Must be called within a tokio runtime.
    pub fn open(ifname: &str, ifindex: u32, join_multicast: bool) -> io::Result<Self> {
        let sock = vrrp_socket()?;
        // Only this interface's adverts: the same VRID may be in use on other LANs.
        sock.bind_device(Some(ifname.as_bytes()))?;
        if join_multicast {
            sock.join_multicast_v4_n(&VRRP_MCAST_V4, &InterfaceIndexOrAddress::Index(ifindex))?;
        }
        // Datagrams from other interfaces may have been queued before SO_BINDTODEVICE.
        drain(&sock);
        // SAFETY: the socket owns its descriptor, keeps it open until dropped and always
        // returns the same one; the AsyncFd owns the socket.
        let fd = unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE) }?;
        Ok(ReceiveSocket { fd })
    }

    /// Waits for the next datagram and copies it, IPv4 header first, into `buf`; returns
    /// its length (truncated to `buf.len()`: give it at least the interface MTU).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| fd.get_ref().read(buf)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

/// Sends VRRP messages from one source address out of one interface.
#[derive(Debug)]
pub struct SendSocket {
    fd: AsyncFd<Socket>,
}

impl SendSocket {
    /// Opens the socket bound to `source` on `ifname` (index `ifindex`). `source` must be
    /// an address of this host.
    ///
    /// Must be called within a tokio runtime.
    pub fn open(ifname: &str, ifindex: u32, source: Ipv4Addr) -> io::Result<Self> {
        let sock = vrrp_socket()?;
        sock.bind_device(Some(ifname.as_bytes()))?;
        sock.bind(&SockAddr::from(SocketAddrV4::new(source, 0)))?;
        set_multicast_if_index(&sock, ifindex)?;
        // RFC 5798 5.1.1.3: sent with TTL 255, so that a receiver can tell that the
        // advert was not forwarded by a router.
        sock.set_multicast_ttl_v4(u32::from(VRRP_TTL))?;
        sock.set_ttl(u32::from(VRRP_TTL))?;
        // Our own adverts must not come back to our receive socket.
        sock.set_multicast_loop_v4(false)?;
        sock.set_tos(TOS_INTERNETWORK_CONTROL)?;
        // A raw socket gets a copy of every protocol 112 datagram for its address; this
        // one never reads, so drop them all in the kernel rather than fill a queue.
        sock.attach_filter(&[drop_all_filter()])?;
        sock.set_recv_buffer_size(SEND_SOCKET_RCVBUF)?;
        // SAFETY: the socket owns its descriptor, keeps it open until dropped and always
        // returns the same one; the AsyncFd owns the socket.
        let fd = unsafe { AsyncFd::register_with_interest(sock, Interest::WRITABLE) }?;
        Ok(SendSocket { fd })
    }

    /// Sends one VRRP message (`payload`, without IP header: the kernel writes it) to
    /// `dst`, 224.0.0.18 or a unicast peer.
    pub async fn send_to(&self, payload: &[u8], dst: Ipv4Addr) -> io::Result<()> {
        let addr = SockAddr::from(SocketAddrV4::new(dst, 0));
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| fd.get_ref().send_to(payload, &addr)) {
                Ok(Ok(n)) if n == payload.len() => return Ok(()),
                Ok(Ok(n)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("sent {n} of {} bytes to {dst}", payload.len()),
                    ))
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

/// A non-blocking raw IPv4 socket for protocol 112, close-on-exec (socket2's default).
fn vrrp_socket() -> io::Result<Socket> {
    let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(i32::from(IPPROTO_VRRP))))?;
    sock.set_nonblocking(true)?;
    Ok(sock)
}

/// Discards whatever is queued on a non-blocking socket.
fn drain(mut sock: &Socket) {
    let mut buf = [0u8; 64];
    while sock.read(&mut buf).is_ok() {}
}

/// The one-instruction classic BPF program `ret #0`: accept zero bytes of every packet.
fn drop_all_filter() -> libc::sock_filter {
    libc::sock_filter { code: (libc::BPF_RET | libc::BPF_K) as u16, jt: 0, jf: 0, k: 0 }
}

/// IP_MULTICAST_IF by interface index (socket2 only takes an address, and the interface
/// may have several or, for a unicast-free setup, share one with another interface).
fn set_multicast_if_index(sock: &Socket, ifindex: u32) -> io::Result<()> {
    let index = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index too large"))?;
    let mreqn = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: index,
    };
    // SAFETY: the option value points at a live, initialised ip_mreqn and its exact size
    // is passed; the kernel only reads it during the call.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            std::ptr::from_ref(&mreqn).cast(),
            std::mem::size_of::<libc::ip_mreqn>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_filter_is_ret_zero() {
        let f = drop_all_filter();
        // BPF_RET (0x06) | BPF_K (0x00), returning 0 bytes.
        assert_eq!((f.code, f.jt, f.jf, f.k), (0x06, 0, 0, 0));
    }
}
