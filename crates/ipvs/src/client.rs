//! The IPVS client: one generic netlink socket, the family resolved once, requests batched.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use crate::error::{BatchError, Error, Request};
use crate::global::{DaemonState, Info, SyncDaemon, Timeouts};
use crate::model::{DestinationEntry, ListedService, ServiceEntry, ServiceKey, Table};
use crate::op::Op;
use crate::wire::{
    self,
    acks::{AckTracker, Outcome},
    ctrl, daemon, destination, info, ops, service, MessageBuilder, Messages, Reply,
    IPVS_CMD_ATTR_DAEMON, IPVS_CMD_ATTR_DEST, IPVS_CMD_ATTR_SERVICE, IPVS_GENL_NAME,
};

/// Most messages sent in one `send`: their acks must fit the receive buffer.
const BATCH_MESSAGES: usize = 512;
/// Most bytes sent in one `send` (below the default socket send buffer).
const BATCH_BYTES: usize = 96 * 1024;
/// Receive buffer asked for (with `SO_RCVBUFFORCE` when allowed): acks of a whole batch.
const RCVBUF: libc::c_int = 8 * 1024 * 1024;

/// How long to wait for the kernel's answer before giving up with [`Error::Timeout`].
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to the kernel's IPVS generic netlink family.
#[derive(Debug)]
pub struct Client {
    sock: Socket,
    family: u16,
    seq: u32,
    out: MessageBuilder,
    buf: Vec<u8>,
    sent: u64,
    reply_timeout: Duration,
}

impl Client {
    /// Opens the socket and resolves the "IPVS" family.
    pub fn connect() -> Result<Self, Error> {
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // Smaller acks (no echo of the request) and a buffer large enough for a batch.
        let _ = sock.set_cap_ack(true);
        set_rcvbuf(&sock, RCVBUF);
        set_rcvtimeo(&sock, DEFAULT_REPLY_TIMEOUT)?;
        let mut client = Client {
            sock,
            family: 0,
            seq: 0,
            out: MessageBuilder::new(),
            buf: Vec::with_capacity(256 * 1024),
            sent: 0,
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
        };
        client.family = client.resolve_family()?;
        Ok(client)
    }

    /// Changes how long to wait for each reply (see [`DEFAULT_REPLY_TIMEOUT`]); at least
    /// one millisecond (zero would mean "wait forever" to the socket).
    pub fn set_reply_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        let timeout = timeout.max(Duration::from_millis(1));
        set_rcvtimeo(&self.sock, timeout)?;
        self.reply_timeout = timeout;
        Ok(())
    }

    /// Netlink requests sent so far (family lookup excluded).
    pub fn requests_sent(&self) -> u64 {
        self.sent
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn resolve_family(&mut self) -> Result<u16, Error> {
        let seq = self.next_seq();
        self.out.clear();
        ctrl::get_family(&mut self.out, seq, IPVS_GENL_NAME);
        let mut id = None;
        let what = Request::Other(format!("resolve the {IPVS_GENL_NAME} generic netlink family"));
        let res = self.roundtrip(seq, &what, |_, attrs| {
            id = Some(ctrl::parse_family_id(attrs)?);
            Ok(())
        });
        match res {
            Err(Error::Kernel { errno: libc::ENOENT, .. }) => Err(Error::NotAvailable),
            Err(e) => Err(e),
            Ok(()) => id.ok_or(Error::NotAvailable),
        }
    }

    /// Sends what is in `self.out` (one request, `seq`) and reads until its ack or the end
    /// of its dump, handing every data message to `on_data`. When `on_data` fails midway
    /// through a dump, the rest of the dump is still read, so the socket stays usable (the
    /// kernel refuses a new dump on a socket whose previous dump is unfinished).
    fn roundtrip(
        &mut self,
        seq: u32,
        what: &Request,
        mut on_data: impl FnMut(u8, &[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.sock.send(self.out.as_bytes(), 0)?;
        self.sent += 1;
        let mut failure = None;
        loop {
            self.recv(what)?;
            for msg in Messages::new(&self.buf) {
                let msg = msg?;
                if msg.seq != seq {
                    continue; // a late answer to an earlier, abandoned request
                }
                match msg.reply()? {
                    Reply::Genl { cmd, attrs } => {
                        if failure.is_none() {
                            failure = on_data(cmd, attrs).err();
                        }
                    }
                    Reply::Ack | Reply::Done => return failure.map_or(Ok(()), Err),
                    Reply::Error(errno) => {
                        let request = what.clone();
                        return Err(failure.unwrap_or(Error::Kernel { request, errno }));
                    }
                    Reply::Other(_) => {}
                }
            }
        }
    }

    /// Sends one do-request followed by a `GET_INFO` barrier and reads until the barrier
    /// is answered. Netlink handles requests in order, so by then the first one is done.
    /// Returns `Ok(false)` when the kernel sent no answer at all for it: it does that only
    /// for `-EINTR` (`netlink_rcv_skb` skips the ack), e.g. when stopping a sync daemon
    /// whose kernel thread had not started running yet.
    fn command_with_barrier(
        &mut self,
        what: Request,
        build: impl FnOnce(&mut MessageBuilder, u16, u32),
    ) -> Result<bool, Error> {
        let seq = self.next_seq();
        let barrier = self.next_seq();
        self.out.clear();
        build(&mut self.out, self.family, seq);
        ops::get_info(&mut self.out, self.family, barrier);
        let mut tracker = AckTracker::new(seq, 2);
        self.sock.send(self.out.as_bytes(), 0)?;
        self.sent += 2;
        while tracker.outcomes()[1] == Outcome::Pending {
            self.recv(&what)?;
            self.record_answers(&mut tracker)?;
        }
        match tracker.outcomes()[0] {
            Outcome::Acked => Ok(true),
            Outcome::Failed(errno) => Err(Error::Kernel { request: what, errno }),
            Outcome::Pending => Ok(false),
        }
    }

    fn recv(&mut self, what: &Request) -> Result<(), Error> {
        self.buf.clear();
        if self.buf.capacity() < 256 * 1024 {
            self.buf.reserve(256 * 1024);
        }
        loop {
            match self.sock.recv(&mut self.buf, 0) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(Error::Timeout {
                        request: what.clone(),
                        timeout: self.reply_timeout,
                    });
                }
                Err(e) => return Err(Error::Io(e)),
            }
        }
    }

    /// A do-request with no data expected beyond the ack; errors are described by `what`.
    fn command(
        &mut self,
        what: Request,
        build: impl FnOnce(&mut MessageBuilder, u16, u32),
    ) -> Result<(), Error> {
        let seq = self.next_seq();
        self.out.clear();
        build(&mut self.out, self.family, seq);
        self.roundtrip(seq, &what, |_, _| Ok(()))
    }

    /// A request whose data messages are collected by `on_data`.
    fn query(
        &mut self,
        what: &str,
        build: impl FnOnce(&mut MessageBuilder, u16, u32),
        on_data: impl FnMut(u8, &[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let seq = self.next_seq();
        self.out.clear();
        build(&mut self.out, self.family, seq);
        self.roundtrip(seq, &Request::Other(what.into()), on_data)
    }

    pub fn info(&mut self) -> Result<Info, Error> {
        let mut out = None;
        self.query("get IPVS info", ops::get_info, |_, attrs| {
            out = Some(info::parse_info(attrs)?);
            Ok(())
        })?;
        out.ok_or(Error::Decode(wire::DecodeError::Missing("GET_INFO reply")))
    }

    pub fn timeouts(&mut self) -> Result<Timeouts, Error> {
        let mut out = None;
        self.query("get timeouts", ops::get_config, |_, attrs| {
            out = Some(info::parse_timeouts(attrs)?);
            Ok(())
        })?;
        out.ok_or(Error::Decode(wire::DecodeError::Missing("GET_CONFIG reply")))
    }

    pub fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), Error> {
        self.command(Request::Other("set timeouts".into()), |b, f, s| ops::set_config(b, f, s, t))
    }

    /// Every service, with counters.
    pub fn services(&mut self) -> Result<Vec<ServiceEntry>, Error> {
        let mut out = Vec::new();
        self.query("list services", ops::dump_services, |_, attrs| {
            out.push(service::parse(nested(attrs, IPVS_CMD_ATTR_SERVICE)?)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// One service; `None` when the kernel does not have it.
    pub fn service(&mut self, key: &ServiceKey) -> Result<Option<ServiceEntry>, Error> {
        let mut out = None;
        let res = self.query(
            &format!("get service {key}"),
            |b, f, s| ops::get_service(b, f, s, key),
            |_, attrs| {
                out = Some(service::parse(nested(attrs, IPVS_CMD_ATTR_SERVICE)?)?);
                Ok(())
            },
        );
        match res {
            Err(e) if e.errno() == Some(libc::ESRCH) => Ok(None),
            Err(e) => Err(e),
            Ok(()) => Ok(out),
        }
    }

    /// The destinations of one service, with counters.
    pub fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<DestinationEntry>, Error> {
        let af = key.family().to_af();
        let mut out = Vec::new();
        self.query(
            &format!("list destinations of service {key}"),
            |b, f, s| ops::dump_destinations(b, f, s, key),
            |_, attrs| {
                out.push(destination::parse(nested(attrs, IPVS_CMD_ATTR_DEST)?, af)?);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Every service with its destinations and counters, in kernel order.
    pub fn list(&mut self) -> Result<Vec<ListedService>, Error> {
        let services = self.services()?;
        let mut out = Vec::with_capacity(services.len());
        for entry in services {
            let destinations = self.destinations(&entry.service.key)?;
            out.push(ListedService { entry, destinations });
        }
        Ok(out)
    }

    /// The configuration part of the whole table.
    pub fn table(&mut self) -> Result<Table, Error> {
        Ok(Table { services: self.list()?.iter().map(ListedService::to_table_service).collect() })
    }

    /// Removes every service and destination.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.command(Request::Other("flush the IPVS table".into()), ops::flush)
    }

    /// Zeroes the counters of one service, or of all.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), Error> {
        let what = match key {
            Some(k) => format!("zero counters of service {k}"),
            None => "zero all counters".into(),
        };
        self.command(Request::Other(what), |b, f, s| ops::zero(b, f, s, key))
    }

    pub fn daemons(&mut self) -> Result<Vec<SyncDaemon>, Error> {
        let mut out = Vec::new();
        self.query("list sync daemons", ops::dump_daemons, |_, attrs| {
            out.push(daemon::parse(nested(attrs, IPVS_CMD_ATTR_DAEMON)?)?);
            Ok(())
        })?;
        Ok(out)
    }

    pub fn start_daemon(&mut self, d: &SyncDaemon) -> Result<(), Error> {
        let what = Request::Other(format!("start sync daemon {:?} on {}", d.state, d.mcast_ifn));
        self.command(what, |b, f, s| ops::start_daemon(b, f, s, d))
    }

    /// Stops a sync daemon. The kernel leaves a stop unanswered when the daemon's thread
    /// had not run yet (`-EINTR`, see [`Client::command_with_barrier`]); the daemon is
    /// stopped all the same, which the listing then confirms.
    pub fn stop_daemon(&mut self, state: DaemonState) -> Result<(), Error> {
        let what = Request::Other(format!("stop sync daemon {state:?}"));
        if self.command_with_barrier(what.clone(), |b, f, s| ops::stop_daemon(b, f, s, state))? {
            return Ok(());
        }
        if self.daemons()?.iter().any(|d| d.state == state) {
            Err(Error::Kernel { request: what, errno: libc::EINTR })
        } else {
            Ok(())
        }
    }

    /// Applies one operation.
    pub fn execute(&mut self, op: &Op) -> Result<(), Error> {
        self.command(Request::Op(op.clone()), |b, f, s| ops::op(b, f, s, op))
    }

    /// Applies operations, many per `send`, and waits for every answer. Service
    /// operations go first; destinations of a service the kernel refused to add are not
    /// sent (they could only fail, each with a misleading "no such service"). The kernel
    /// carries on after a refusal, so every refusal is reported, and the rest is applied.
    pub fn apply(&mut self, batch: &[Op]) -> Result<(), BatchError> {
        let (services, destinations) = crate::op::services_first(batch);
        let mut report = BatchError { total: batch.len(), failed: Vec::new(), unconfirmed: 0 };
        self.apply_phase(&services, &mut report);
        let destinations = report.skip_refused(destinations);
        self.apply_phase(&destinations, &mut report);
        if report.failed.is_empty() && report.unconfirmed == 0 {
            Ok(())
        } else {
            Err(report)
        }
    }

    fn apply_phase(&mut self, ops: &[&Op], report: &mut BatchError) {
        let mut next = 0;
        while next < ops.len() {
            self.out.clear();
            let first_seq = self.seq.wrapping_add(1);
            let start = next;
            while next < ops.len() && next - start < BATCH_MESSAGES && self.out.len() < BATCH_BYTES
            {
                let seq = self.next_seq();
                ops::op(&mut self.out, self.family, seq, ops[next]);
                next += 1;
            }
            let chunk = &ops[start..next];
            let mut tracker = AckTracker::new(first_seq, chunk.len());
            let what = format!("batch of {} operations from \"{}\"", chunk.len(), chunk[0]);
            let result = self.send_batch(&mut tracker, &Request::Other(what));
            for (op, outcome) in chunk.iter().zip(tracker.outcomes()) {
                if let Outcome::Failed(errno) = *outcome {
                    report
                        .failed
                        .push(Error::Kernel { request: Request::Op((*op).clone()), errno });
                }
            }
            if let Err(e) = result {
                // The socket failed: what was not answered, and what was never sent, is
                // not known to be applied.
                report.unconfirmed += tracker.pending() + (ops.len() - next);
                report.failed.push(e);
                return;
            }
        }
    }

    /// Records the acks and refusals in the last received datagram.
    fn record_answers(&self, tracker: &mut AckTracker) -> Result<(), Error> {
        for msg in Messages::new(&self.buf) {
            let msg = msg?;
            match msg.reply()? {
                Reply::Ack => tracker.record(msg.seq, 0),
                Reply::Error(errno) => tracker.record(msg.seq, errno),
                _ => None,
            };
        }
        Ok(())
    }

    fn send_batch(&mut self, tracker: &mut AckTracker, what: &Request) -> Result<(), Error> {
        self.sock.send(self.out.as_bytes(), 0)?;
        self.sent += tracker.outcomes().len() as u64;
        while tracker.pending() > 0 {
            self.recv(what)?;
            self.record_answers(tracker)?;
        }
        Ok(())
    }
}

/// The payload of the one nested top-level attribute `kind` of a reply.
fn nested(attrs: &[u8], kind: u16) -> Result<&[u8], Error> {
    for attr in wire::Attrs::new(attrs) {
        let attr = attr?;
        if attr.kind == kind {
            return Ok(attr.payload);
        }
    }
    Err(Error::Decode(wire::DecodeError::Missing("IPVS_CMD_ATTR_* in reply")))
}

fn set_rcvtimeo(sock: &Socket, timeout: Duration) -> Result<(), Error> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: libc::suseconds_t::from(timeout.subsec_micros() as i32),
    };
    let len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    let ptr = &tv as *const libc::timeval as *const libc::c_void;
    // SAFETY: the fd is owned by `sock`; ptr/len describe a timeval on our stack.
    let rc = unsafe {
        libc::setsockopt(sock.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVTIMEO, ptr, len)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::Io(io::Error::last_os_error()))
    }
}

fn set_rcvbuf(sock: &Socket, size: libc::c_int) {
    let fd = sock.as_raw_fd();
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let ptr = &size as *const libc::c_int as *const libc::c_void;
    // SAFETY: fd is a live socket owned by `sock`; ptr/len describe a c_int on our stack.
    let forced = unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, ptr, len) };
    if forced != 0 {
        // Without CAP_NET_ADMIN: take what rmem_max allows.
        // SAFETY: as above.
        unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, ptr, len) };
    }
}
