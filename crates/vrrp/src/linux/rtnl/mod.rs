//! rtnetlink: interfaces and their IPv4 addresses, adding and removing virtual
//! addresses ([`Rtnl`]), and link state events ([`LinkMonitor`]).

mod monitor;
mod wire;

use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::machine::config::VirtualAddress;

pub use monitor::LinkMonitor;
use wire::Kind;

/// How long a request waits for the kernel's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Receive buffer per `recv`: the kernel fills dump datagrams up to 32 KiB when the
/// reader offers that much.
const RECV_BUF: usize = 64 * 1024;
/// IFNAMSIZ less the terminating NUL: the longest interface name or address label.
const MAX_LABEL_LEN: usize = 15;
/// Dumps the kernel marks inconsistent (changed while being dumped) are retried.
const DUMP_ATTEMPTS: usize = 3;

/// A network interface as rtnetlink reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// Administratively up (IFF_UP) and operationally up (IFF_RUNNING: carrier present).
    pub up: bool,
    /// The hardware address, when it is a 6-byte (Ethernet) one.
    pub mac: Option<[u8; 6]>,
}

/// An IPv4 address on an interface.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ipv4Address {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// As the kernel reports it: the interface name for addresses added without one.
    pub label: Option<String>,
    /// A secondary address: another one in the same subnet was there first.
    pub secondary: bool,
}

/// What an [`RtnlError`] was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetLink,
    ListLinks,
    ListAddresses,
    AddAddress,
    DelAddress,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::GetLink => "get link",
            Operation::ListLinks => "list links",
            Operation::ListAddresses => "list IPv4 addresses",
            Operation::AddAddress => "add address",
            Operation::DelAddress => "delete address",
        })
    }
}

/// The operation, interface and address a request was for, as printed in errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub op: Operation,
    /// The interface name, or `ifindex N` when only its index was given.
    pub interface: Option<String>,
    pub address: Option<(Ipv4Addr, u8)>,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.op)?;
        if let Some((addr, prefix)) = self.address {
            write!(f, " {addr}/{prefix}")?;
        }
        if let Some(interface) = &self.interface {
            write!(f, " on {interface}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RtnlError {
    /// The kernel refused the request.
    #[error("{request}: {}", kernel_text(*.errno, .detail.as_deref()))]
    Kernel {
        request: Request,
        errno: i32,
        /// The kernel's extended ACK message, when it gave one.
        detail: Option<String>,
    },
    /// No interface with that name or index (ENODEV from the kernel, or not listed).
    #[error("{request}: no such interface")]
    NoSuchLink { request: Request },
    /// A label must start with the interface's name (iproute2's rule, which the kernel
    /// does not enforce) and fit in IFNAMSIZ (the kernel would truncate it).
    #[error(
        "{request}: label {label:?} must start with the interface name {interface:?} \
         and be at most {MAX_LABEL_LEN} bytes"
    )]
    BadLabel { request: Request, label: String, interface: String },
    #[error("{request}: prefix length {prefix_len} is over 32")]
    BadPrefix { request: Request, prefix_len: u8 },
    /// The netlink socket failed, or no answer came within the timeout.
    #[error("{request}: netlink: {source}")]
    Io { request: Request, source: io::Error },
    /// The kernel's answer could not be parsed.
    #[error("{request}: malformed netlink reply: {detail}")]
    Decode { request: Request, detail: String },
}

/// `File exists (errno 17): <the kernel's explanation>`.
fn kernel_text(errno: i32, detail: Option<&str>) -> String {
    let base = format!("{} (errno {errno})", io::Error::from_raw_os_error(errno));
    match detail {
        Some(d) if !d.is_empty() => format!("{base}: {d}"),
        _ => base,
    }
}

impl RtnlError {
    /// The kernel's errno, for errors that carry one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            RtnlError::Kernel { errno, .. } => Some(*errno),
            RtnlError::NoSuchLink { .. } => Some(libc::ENODEV),
            RtnlError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// The request that failed.
    pub fn request(&self) -> &Request {
        match self {
            RtnlError::Kernel { request, .. }
            | RtnlError::NoSuchLink { request }
            | RtnlError::BadLabel { request, .. }
            | RtnlError::BadPrefix { request, .. }
            | RtnlError::Io { request, .. }
            | RtnlError::Decode { request, .. } => request,
        }
    }
}

/// A NETLINK_ROUTE socket for requests. Requests block (up to 5 s) on the kernel's
/// answer, which comes at once in practice; they are rare (start, transitions).
/// Shareable between threads: one request at a time goes through the socket.
#[derive(Debug)]
pub struct Rtnl {
    conn: Mutex<Conn>,
}

#[derive(Debug)]
struct Conn {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Rtnl {
    /// Opens the socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // Errors echo only the request header, followed by the kernel's explanation.
        // Both are best effort: kernels without them still answer.
        let _ = sock.set_cap_ack(true);
        let _ = sock.set_ext_ack(true);
        socket2::SockRef::from(&sock).set_read_timeout(Some(REPLY_TIMEOUT))?;
        Ok(Rtnl { conn: Mutex::new(Conn { sock, seq: 0, buf: Vec::with_capacity(RECV_BUF) }) })
    }

    /// The interface called `name`.
    pub fn link(&self, name: &str) -> Result<Link, RtnlError> {
        let request =
            Request { op: Operation::GetLink, interface: Some(name.to_string()), address: None };
        self.one_link(wire::get_link_by_name(name), request)
    }

    /// All interfaces.
    pub fn links(&self) -> Result<Vec<Link>, RtnlError> {
        let request = Request { op: Operation::ListLinks, interface: None, address: None };
        let replies = self.exchange(wire::dump_links(), Kind::Dump, &request)?;
        Ok(replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(wire::link(l)),
                _ => None,
            })
            .collect())
    }

    /// The IPv4 addresses of interface `ifindex`, in the kernel's order (primaries of a
    /// subnet before its secondaries).
    pub fn ipv4_addresses(&self, ifindex: u32) -> Result<Vec<Ipv4Address>, RtnlError> {
        let request = Request {
            op: Operation::ListAddresses,
            interface: Some(format!("ifindex {ifindex}")),
            address: None,
        };
        let replies = self.exchange(wire::dump_ipv4_addresses(), Kind::Dump, &request)?;
        Ok(replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => wire::ipv4_address(a),
                _ => None,
            })
            .filter(|(index, _)| *index == ifindex)
            .map(|(_, a)| a)
            .collect())
    }

    /// The first primary (non-secondary) IPv4 address of interface `ifindex`.
    pub fn primary_ipv4(&self, ifindex: u32) -> Result<Option<Ipv4Addr>, RtnlError> {
        Ok(self.ipv4_addresses(ifindex)?.into_iter().find(|a| !a.secondary).map(|a| a.address))
    }

    /// Puts `addr` on interface `ifindex`; already being there counts as success.
    pub fn add_address(&self, ifindex: u32, addr: &VirtualAddress) -> Result<(), RtnlError> {
        let request = address_request(Operation::AddAddress, ifindex, addr)?;
        if let Some(label) = &addr.label {
            self.check_label(ifindex, label, &request)?;
        }
        let body = wire::new_address(ifindex, addr.address, addr.prefix_len, addr.label.as_deref());
        match self.exchange(body, Kind::CreateExclusive, &request) {
            Err(RtnlError::Kernel { errno: libc::EEXIST, .. }) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Removes `addr` (matched by address and prefix, whatever its label) from interface
    /// `ifindex`; not being there counts as success.
    pub fn del_address(&self, ifindex: u32, addr: &VirtualAddress) -> Result<(), RtnlError> {
        let request = address_request(Operation::DelAddress, ifindex, addr)?;
        let body = wire::del_address(ifindex, addr.address, addr.prefix_len);
        match self.exchange(body, Kind::Single, &request) {
            Err(RtnlError::Kernel { errno: libc::EADDRNOTAVAIL | libc::ENOENT, .. }) => Ok(()),
            other => other.map(drop),
        }
    }

    /// iproute2 refuses a label that does not start with the interface name, and tools
    /// that select addresses by label (ifconfig's `eth0:1` aliases) rely on it, but the
    /// kernel takes any label (6.x does) and silently truncates one over 15 bytes:
    /// refuse both here, with an error that says why.
    fn check_label(&self, ifindex: u32, label: &str, request: &Request) -> Result<(), RtnlError> {
        let link = self.one_link(wire::get_link_by_index(ifindex), request.clone())?;
        if label.starts_with(&link.name) && label.len() <= MAX_LABEL_LEN {
            return Ok(());
        }
        Err(RtnlError::BadLabel {
            request: Request { interface: Some(link.name.clone()), ..request.clone() },
            label: label.to_string(),
            interface: link.name,
        })
    }

    fn one_link(&self, body: RouteNetlinkMessage, request: Request) -> Result<Link, RtnlError> {
        let replies = match self.exchange(body, Kind::Single, &request) {
            Err(RtnlError::Kernel { errno: libc::ENODEV, .. }) => {
                return Err(RtnlError::NoSuchLink { request })
            }
            other => other?,
        };
        replies
            .iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(wire::link(l)),
                _ => None,
            })
            .ok_or(RtnlError::NoSuchLink { request })
    }

    /// Sends one request and collects the answer, retrying dumps the kernel marks as
    /// interrupted by a concurrent change.
    fn exchange(
        &self,
        body: RouteNetlinkMessage,
        kind: Kind,
        request: &Request,
    ) -> Result<Vec<RouteNetlinkMessage>, RtnlError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let mut attempt = 1;
        loop {
            let (replies, interrupted) = conn.exchange(body.clone(), kind, request)?;
            if !interrupted || attempt == DUMP_ATTEMPTS {
                return Ok(replies);
            }
            attempt += 1;
        }
    }
}

fn address_request(
    op: Operation,
    ifindex: u32,
    addr: &VirtualAddress,
) -> Result<Request, RtnlError> {
    let request = Request {
        op,
        interface: Some(addr.dev.clone().unwrap_or_else(|| format!("ifindex {ifindex}"))),
        address: Some((addr.address, addr.prefix_len)),
    };
    if addr.prefix_len > 32 {
        return Err(RtnlError::BadPrefix { request, prefix_len: addr.prefix_len });
    }
    Ok(request)
}

impl Conn {
    /// One request, its answer: the reply messages (the ACK or NLMSG_DONE not included)
    /// and whether the kernel flagged the dump as inconsistent.
    fn exchange(
        &mut self,
        body: RouteNetlinkMessage,
        kind: Kind,
        request: &Request,
    ) -> Result<(Vec<RouteNetlinkMessage>, bool), RtnlError> {
        let io_err = |source| RtnlError::Io { request: request.clone(), source };
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        self.sock.send(&wire::request(body, kind, seq), 0).map_err(io_err)?;
        let mut replies = Vec::new();
        let mut interrupted = false;
        loop {
            self.buf.clear();
            self.buf.reserve(RECV_BUF);
            // MSG_TRUNC: the datagram's real length, to notice a truncated one.
            let n = self.sock.recv(&mut self.buf, libc::MSG_TRUNC).map_err(|e| {
                if e.kind() == io::ErrorKind::WouldBlock {
                    io_err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no answer from the kernel in {REPLY_TIMEOUT:?}"),
                    ))
                } else {
                    io_err(e)
                }
            })?;
            if n > self.buf.len() {
                return Err(RtnlError::Decode {
                    request: request.clone(),
                    detail: format!("{n}-byte datagram truncated to {}", self.buf.len()),
                });
            }
            for msg in wire::parse_datagram(&self.buf) {
                let msg = msg.map_err(|e| RtnlError::Decode {
                    request: request.clone(),
                    detail: e.to_string(),
                })?;
                // A late answer to an earlier request that timed out.
                if msg.header.sequence_number != seq {
                    continue;
                }
                interrupted |= msg.header.flags & netlink_packet_core::NLM_F_DUMP_INTR != 0;
                match msg.payload {
                    NetlinkPayload::InnerMessage(m) => replies.push(m),
                    NetlinkPayload::Error(e) => match e.code {
                        None => return Ok((replies, interrupted)),
                        Some(code) => {
                            return Err(RtnlError::Kernel {
                                request: request.clone(),
                                errno: code.get().saturating_abs(),
                                detail: wire::extack_message(msg.header.flags, &e.header),
                            })
                        }
                    },
                    NetlinkPayload::Done(d) if d.code != 0 => {
                        return Err(RtnlError::Kernel {
                            request: request.clone(),
                            errno: d.code.saturating_abs(),
                            detail: None,
                        })
                    }
                    NetlinkPayload::Done(_) => return Ok((replies, interrupted)),
                    _ => {}
                }
            }
        }
    }
}
