//! Gratuitous ARP (RFC 5227 section 3 "ARP announcement"): after taking over a virtual
//! address, tell the LAN's switches and hosts that it now lives at our MAC.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use socket2::{Domain, Socket, Type};

/// EtherType of ARP.
const ETH_P_ARP: u16 = 0x0806;
/// ARP hardware type Ethernet.
const ARPHRD_ETHER: u16 = 1;
/// ARP protocol type IPv4 (the IPv4 EtherType).
const ETH_P_IP: u16 = 0x0800;
/// ARP operation "request".
const ARPOP_REQUEST: u16 = 1;
/// Length of an Ethernet/IPv4 ARP packet.
pub const ARP_LEN: usize = 28;
/// A burst of adverts for many addresses must not fail on a full default buffer.
const SNDBUF: usize = 1 << 20;

/// Sends gratuitous ARPs out of one interface.
#[derive(Debug)]
pub struct ArpSender {
    sock: Socket,
    ifindex: i32,
    mac: [u8; 6],
}

impl ArpSender {
    /// Opens a packet socket for interface `ifindex`; `mac` is the hardware address the
    /// announcements claim (the interface's own, or a virtual MAC).
    pub fn open(ifindex: u32, mac: [u8; 6]) -> io::Result<ArpSender> {
        let ifindex = i32::try_from(ifindex).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "interface index too large")
        })?;
        // Protocol 0: the socket receives nothing (it would otherwise queue a copy of
        // every ARP frame on the host); the EtherType of each frame sent is given in its
        // destination address instead.
        let sock = Socket::new(Domain::PACKET, Type::DGRAM, Some(0.into()))?;
        // Sending runs on the driver's event loop: never block it; a full queue is an
        // error the caller logs.
        sock.set_nonblocking(true)?;
        sock.set_send_buffer_size(SNDBUF)?;
        Ok(ArpSender { sock, ifindex, mac })
    }

    /// Broadcasts one gratuitous ARP request for `addr`.
    pub fn send_gratuitous(&self, addr: Ipv4Addr) -> io::Result<()> {
        let frame = gratuitous_arp(self.mac, addr);
        // SAFETY: sockaddr_ll is plain old data, for which all-zero bytes are valid.
        let mut dst: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        dst.sll_family = libc::AF_PACKET as u16;
        dst.sll_protocol = ETH_P_ARP.to_be();
        dst.sll_ifindex = self.ifindex;
        dst.sll_halen = 6;
        dst.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        // SAFETY: the buffer and the address point at live values of the lengths passed;
        // the kernel only reads them during the call.
        let rc = unsafe {
            libc::sendto(
                self.sock.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                std::ptr::from_ref(&dst).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        match usize::try_from(rc) {
            Ok(n) if n == frame.len() => Ok(()),
            Ok(n) => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("gratuitous ARP for {addr}: sent {n} of {ARP_LEN} bytes"),
            )),
            Err(_) => Err(io::Error::last_os_error()),
        }
    }
}

/// The ARP packet (without Ethernet header) of a gratuitous ARP request: sender and
/// target protocol address both `addr`, sender hardware address `mac`, target hardware
/// address zero, as RFC 5227 specifies for announcements.
pub fn gratuitous_arp(mac: [u8; 6], addr: Ipv4Addr) -> [u8; ARP_LEN] {
    let mut p = [0u8; ARP_LEN];
    p[0..2].copy_from_slice(&ARPHRD_ETHER.to_be_bytes());
    p[2..4].copy_from_slice(&ETH_P_IP.to_be_bytes());
    p[4] = 6; // hardware address length
    p[5] = 4; // protocol address length
    p[6..8].copy_from_slice(&ARPOP_REQUEST.to_be_bytes());
    p[8..14].copy_from_slice(&mac);
    p[14..18].copy_from_slice(&addr.octets());
    // 18..24: target hardware address, zero.
    p[24..28].copy_from_slice(&addr.octets());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gratuitous_arp_bytes() {
        let mac = [0x02, 0x00, 0x5e, 0x00, 0x01, 0x07];
        let got = gratuitous_arp(mac, Ipv4Addr::new(192, 0, 2, 100));
        #[rustfmt::skip]
        let want: [u8; 28] = [
            0x00, 0x01, // Ethernet
            0x08, 0x00, // IPv4
            6, 4, // address lengths
            0x00, 0x01, // request
            0x02, 0x00, 0x5e, 0x00, 0x01, 0x07, // sender MAC
            192, 0, 2, 100, // sender IP
            0, 0, 0, 0, 0, 0, // target MAC
            192, 0, 2, 100, // target IP
        ];
        assert_eq!(got, want);
    }
}
