//! VRRP on the wire, from a namespace: a sniffer of IP protocol 112 that stamps each
//! packet with the kernel's receive time, and a sender of hand-made IPv4 datagrams
//! (IP_HDRINCL) for hostile-input tests.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::netns::Netns;

pub const IPPROTO_VRRP: i32 = 112;
pub const VRRP_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// One captured datagram, IPv4 header included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The kernel's receive time, on the monotonic clock.
    pub at: Instant,
    pub bytes: Vec<u8>,
}

impl Packet {
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.bytes[12], self.bytes[13], self.bytes[14], self.bytes[15])
    }

    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.bytes[16], self.bytes[17], self.bytes[18], self.bytes[19])
    }

    pub fn ttl(&self) -> u8 {
        self.bytes[8]
    }

    /// The VRRP part (after the IP header).
    pub fn vrrp(&self) -> &[u8] {
        let ihl = usize::from(self.bytes[0] & 0x0f) * 4;
        self.bytes.get(ihl..).unwrap_or(&[])
    }

    pub fn version(&self) -> Option<u8> {
        self.vrrp().first().map(|b| b >> 4)
    }

    pub fn vrid(&self) -> Option<u8> {
        self.vrrp().get(1).copied()
    }

    pub fn priority(&self) -> Option<u8> {
        self.vrrp().get(2).copied()
    }
}

/// Captures every VRRP packet that reaches `dev` in a namespace (multicast ones too:
/// the socket joins 224.0.0.18 there).
#[derive(Debug)]
pub struct Sniffer {
    packets: Arc<Mutex<Vec<Packet>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sniffer {
    pub fn start(ns: &Netns, dev: &str) -> Result<Sniffer, String> {
        let packets = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let (p, s, dev) = (packets.clone(), stop.clone(), dev.to_string());
        let thread = ns.in_thread(move || match open_sniffer(&dev) {
            Ok(fd) => {
                let _ = ready_tx.send(Ok(()));
                sniff_loop(&fd, &p, &s);
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        });
        ready_rx.recv().map_err(|_| "sniffer thread died".to_string())??;
        Ok(Sniffer { packets, stop, thread: Some(thread) })
    }

    pub fn packets(&self) -> Vec<Packet> {
        self.packets.lock().map(|p| p.clone()).unwrap_or_default()
    }

    pub fn from(&self, src: Ipv4Addr) -> Vec<Packet> {
        self.packets().into_iter().filter(|p| p.src() == src).collect()
    }

    /// The last packet from `src` received before `t`.
    pub fn last_from_before(&self, src: Ipv4Addr, t: Instant) -> Option<Packet> {
        self.from(src).into_iter().rev().find(|p| p.at <= t)
    }
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn open_sniffer(dev: &str) -> Result<OwnedFd, String> {
    let fd = socket(libc::AF_INET, libc::SOCK_RAW, IPPROTO_VRRP)?;
    let ifindex = ifindex(dev)?;
    let mreq = libc::ip_mreqn {
        imr_multiaddr: in_addr(VRRP_GROUP),
        imr_address: in_addr(Ipv4Addr::UNSPECIFIED),
        imr_ifindex: ifindex,
    };
    setsockopt(&fd, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq)?;
    set_int_opt(&fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)?;
    set_int_opt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 1 << 20)?;
    set_recv_timeout(&fd, Duration::from_millis(50))?;
    Ok(fd)
}

fn sniff_loop(fd: &OwnedFd, packets: &Mutex<Vec<Packet>>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65_536];
    // Room for one timespec control message, u64-aligned.
    let mut control = [0u64; 8];
    while !stop.load(Ordering::Relaxed) {
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: msghdr is plain data; the pointers set below outlive the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: recvmsg into buffers that live across the call.
        let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, 0) };
        let (now, wall) = (Instant::now(), SystemTime::now());
        let Ok(n) = usize::try_from(n) else { continue };
        if n < 20 {
            continue;
        }
        // The kernel stamp is on the wall clock; carry it over to the monotonic one
        // by how long ago it was.
        let at = kernel_stamp(&msg)
            .and_then(|k| wall.duration_since(k).ok())
            .and_then(|ago| now.checked_sub(ago))
            .unwrap_or(now);
        if let Ok(mut p) = packets.lock() {
            p.push(Packet { at, bytes: buf[..n].to_vec() });
        }
    }
}

fn kernel_stamp(msg: &libc::msghdr) -> Option<SystemTime> {
    // SAFETY: msg was filled by recvmsg; the CMSG macros walk its control buffer.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SO_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                let d =
                    Duration::new(u64::try_from(ts.tv_sec).ok()?, u32::try_from(ts.tv_nsec).ok()?);
                return SystemTime::UNIX_EPOCH.checked_add(d);
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

/// Sends `datagram` (a whole IPv4 datagram, header included) from `ns` out of `dev`.
/// The kernel fills in the IP total length and header checksum; everything else,
/// TTL included, goes out as given.
pub fn send_raw(ns: &Netns, dev: &str, datagram: Vec<u8>) -> Result<(), String> {
    let dev = dev.to_string();
    ns.in_thread(move || send_here(&dev, &datagram))
        .join()
        .map_err(|_| "raw sender thread panicked".to_string())?
}

fn send_here(dev: &str, datagram: &[u8]) -> Result<(), String> {
    if datagram.len() < 20 {
        return Err("an IPv4 datagram has at least 20 bytes".into());
    }
    // IPPROTO_RAW implies IP_HDRINCL.
    let fd = socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW)?;
    let mreq = libc::ip_mreqn {
        imr_multiaddr: in_addr(Ipv4Addr::UNSPECIFIED),
        imr_address: in_addr(Ipv4Addr::UNSPECIFIED),
        imr_ifindex: ifindex(dev)?,
    };
    // Multicast has no route in the lab's namespaces: name the interface.
    setsockopt(&fd, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq)?;
    let dst = Ipv4Addr::new(datagram[16], datagram[17], datagram[18], datagram[19]);
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: in_addr(dst),
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: sendto from a live buffer to a valid sockaddr_in.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            datagram.as_ptr().cast(),
            datagram.len(),
            0,
            (&sa as *const libc::sockaddr_in).cast(),
            len,
        )
    };
    if n < 0 {
        return Err(format!("sendto {dst}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

fn socket(domain: i32, kind: i32, proto: i32) -> Result<OwnedFd, String> {
    // SAFETY: plain socket(2); the fd is owned at once.
    let raw = unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, proto) };
    if raw < 0 {
        return Err(format!(
            "socket({domain}, {kind}, {proto}): {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: raw is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn setsockopt<T>(fd: &OwnedFd, level: i32, name: i32, value: &T) -> Result<(), String> {
    let len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: value points to a live T of the given length.
    let rc =
        unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (value as *const T).cast(), len) };
    if rc != 0 {
        return Err(format!("setsockopt({level}, {name}): {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

pub(crate) fn set_int_opt(fd: &OwnedFd, level: i32, name: i32, value: i32) -> Result<(), String> {
    setsockopt(fd, level, name, &value)
}

pub(crate) fn set_recv_timeout(fd: &OwnedFd, timeout: Duration) -> Result<(), String> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: libc::suseconds_t::from(timeout.subsec_micros() as i32),
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
}

fn in_addr(ip: Ipv4Addr) -> libc::in_addr {
    libc::in_addr { s_addr: u32::from_ne_bytes(ip.octets()) }
}

fn ifindex(dev: &str) -> Result<i32, String> {
    let name = std::ffi::CString::new(dev).map_err(|_| format!("bad interface name {dev:?}"))?;
    // SAFETY: a NUL-terminated name.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(format!("no interface {dev}: {}", std::io::Error::last_os_error()));
    }
    i32::try_from(index).map_err(|_| format!("ifindex {index} out of range"))
}
