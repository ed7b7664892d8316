//! Watches a namespace's IPv4 addresses as the kernel reports them (rtnetlink,
//! RTMGRP_IPV4_IFADDR), with the time of each change: when a VIP came or went is
//! known to within the wake-up of one blocked thread, without polling `ip addr`, and
//! "were there ever two masters" is answered from the whole history.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::netns::Netns;

const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
/// How often the reader thread looks at its stop flag.
const RECV_TIMEOUT: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrEvent {
    /// When the thread received the notification.
    pub at: Instant,
    pub added: bool,
    pub addr: Ipv4Addr,
}

#[derive(Debug)]
pub struct AddrWatch {
    started: Instant,
    initial: BTreeSet<Ipv4Addr>,
    events: Arc<Mutex<Vec<AddrEvent>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AddrWatch {
    /// Subscribes in `ns`, then reads the addresses already there on `dev`.
    pub fn start(ns: &Netns, dev: &str) -> Result<AddrWatch, String> {
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let (ev, st) = (events.clone(), stop.clone());
        let thread = ns.in_thread(move || match subscribe() {
            Ok(fd) => {
                let _ = ready_tx.send(Ok(()));
                read_loop(&fd, &ev, &st);
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        });
        ready_rx.recv().map_err(|_| "address watcher thread died".to_string())??;
        // Read after subscribing: a change in between is in both, and applying an
        // event to a state that already has it changes nothing.
        let initial = ns
            .ipv4_addresses(dev)
            .iter()
            .filter_map(|a| a.split('/').next()?.parse().ok())
            .collect();
        Ok(AddrWatch { started: Instant::now(), initial, events, stop, thread: Some(thread) })
    }

    pub fn events(&self) -> Vec<AddrEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Whether `addr` is there now, as far as the notifications received tell.
    pub fn has(&self, addr: Ipv4Addr) -> bool {
        self.has_at(addr, Instant::now())
    }

    /// Whether `addr` was there at `t` (for `t` after the watch started).
    pub fn has_at(&self, addr: Ipv4Addr, t: Instant) -> bool {
        let mut present = self.initial.contains(&addr);
        for e in self.events().iter().filter(|e| e.addr == addr && e.at <= t) {
            present = e.added;
        }
        present
    }

    /// The first time after `since` that `addr` appeared (`present`) or went, waiting
    /// up to `timeout` for it.
    pub fn wait_change(
        &self,
        addr: Ipv4Addr,
        present: bool,
        since: Instant,
        timeout: Duration,
    ) -> Option<Instant> {
        crate::wait::wait_for(timeout, || {
            self.events()
                .iter()
                .find(|e| e.addr == addr && e.added == present && e.at >= since)
                .map(|e| e.at)
        })
    }

    /// The periods (from, to) in which `addr` was present since the watch started;
    /// an open period ends now.
    pub fn periods(&self, addr: Ipv4Addr) -> Vec<(Instant, Instant)> {
        let mut out = Vec::new();
        let mut from = self.initial.contains(&addr).then_some(self.started);
        for e in self.events().iter().filter(|e| e.addr == addr) {
            match (e.added, from) {
                (true, None) => from = Some(e.at),
                (false, Some(f)) => {
                    out.push((f, e.at));
                    from = None;
                }
                _ => {}
            }
        }
        if let Some(f) = from {
            out.push((f, Instant::now()));
        }
        out
    }
}

impl Drop for AddrWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Total time within [from, to] in which both watches held `addr`: two masters.
pub fn overlap(
    a: &AddrWatch,
    b: &AddrWatch,
    addr: Ipv4Addr,
    from: Instant,
    to: Instant,
) -> Duration {
    let clip = |(s, e): (Instant, Instant)| (s.max(from), e.min(to));
    let mut total = Duration::ZERO;
    for pa in a.periods(addr).into_iter().map(clip) {
        for pb in b.periods(addr).into_iter().map(clip) {
            let (s, e) = (pa.0.max(pb.0), pa.1.min(pb.1));
            total += e.saturating_duration_since(s);
        }
    }
    total
}

fn subscribe() -> Result<OwnedFd, String> {
    // SAFETY: plain socket(2); the fd is owned at once.
    let raw = unsafe {
        libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE)
    };
    if raw < 0 {
        return Err(format!("netlink socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: raw is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_nl is plain data; zeroed is its unspecified state.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    sa.nl_groups = RTMGRP_IPV4_IFADDR;
    let len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // SAFETY: bind with a valid sockaddr_nl of the given length.
    if unsafe { libc::bind(fd.as_raw_fd(), (&sa as *const libc::sockaddr_nl).cast(), len) } != 0 {
        return Err(format!("netlink bind: {}", std::io::Error::last_os_error()));
    }
    crate::wire::set_recv_timeout(&fd, RECV_TIMEOUT)?;
    crate::wire::set_int_opt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 1 << 20)?;
    Ok(fd)
}

fn read_loop(fd: &OwnedFd, events: &Mutex<Vec<AddrEvent>>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 1 << 16];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: recv into our own buffer of its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let at = Instant::now();
        let Ok(n) = usize::try_from(n) else { continue };
        let parsed = parse(&buf[..n], at);
        if let Ok(mut e) = events.lock() {
            e.extend(parsed);
        }
    }
}

/// The address events in one netlink datagram.
fn parse(mut data: &[u8], at: Instant) -> Vec<AddrEvent> {
    let u16_at = |b: &[u8], i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
    let mut out = Vec::new();
    while data.len() >= 16 {
        let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let kind = u16_at(data, 4);
        if len < 16 || len > data.len() {
            break;
        }
        // ifaddrmsg (8 bytes) then attributes; IFA_LOCAL is the address of the
        // interface (IFA_ADDRESS is the peer's on point-to-point links).
        if (kind == RTM_NEWADDR || kind == RTM_DELADDR)
            && len >= 24
            && data[16] == libc::AF_INET as u8
        {
            let mut attrs = &data[24..len];
            let (mut local, mut address) = (None, None);
            while attrs.len() >= 4 {
                let alen = usize::from(u16_at(attrs, 0));
                let atype = u16_at(attrs, 2);
                if alen < 4 || alen > attrs.len() {
                    break;
                }
                if alen == 8 {
                    let ip = Ipv4Addr::new(attrs[4], attrs[5], attrs[6], attrs[7]);
                    match atype {
                        IFA_LOCAL => local = Some(ip),
                        IFA_ADDRESS => address = Some(ip),
                        _ => {}
                    }
                }
                attrs = &attrs[((alen + 3) & !3).min(attrs.len())..];
            }
            if let Some(addr) = local.or(address) {
                out.push(AddrEvent { at, added: kind == RTM_NEWADDR, addr });
            }
        }
        data = &data[((len + 3) & !3).min(data.len())..];
    }
    out
}
