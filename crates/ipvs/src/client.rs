//! The IPVS client: one generic netlink socket, the family resolved once, requests batched.

use std::io;
use std::os::fd::AsRawFd;

use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use crate::error::{BatchError, Error, Request};
use crate::model::{
    DaemonState, DestinationEntry, Info, ListedService, ServiceEntry, ServiceKey, SyncDaemon,
    Table, Timeouts,
};
use crate::op::Op;
use crate::wire::{
    self, ctrl, daemon, destination, info, ops, service, MessageBuilder, Messages, Reply,
    IPVS_CMD_ATTR_DAEMON, IPVS_CMD_ATTR_DEST, IPVS_CMD_ATTR_SERVICE, IPVS_GENL_NAME,
};

/// Most messages sent in one `send`: their acks must fit the receive buffer.
const BATCH_MESSAGES: usize = 512;
/// Most bytes sent in one `send` (below the default socket send buffer).
const BATCH_BYTES: usize = 96 * 1024;
/// Receive buffer asked for (with `SO_RCVBUFFORCE` when allowed): acks of a whole batch.
const RCVBUF: libc::c_int = 8 * 1024 * 1024;

/// A connection to the kernel's IPVS generic netlink family.
#[derive(Debug)]
pub struct Client {
    sock: Socket,
    family: u16,
    seq: u32,
    out: MessageBuilder,
    buf: Vec<u8>,
    sent: u64,
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
        let mut client = Client {
            sock,
            family: 0,
            seq: 0,
            out: MessageBuilder::new(),
            buf: Vec::with_capacity(256 * 1024),
            sent: 0,
        };
        client.family = client.resolve_family()?;
        Ok(client)
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
        let res = self.roundtrip(seq, |_, attrs| {
            id = Some(ctrl::parse_family_id(attrs)?);
            Ok(())
        });
        match res {
            Err(Error::Kernel {
                errno: libc::ENOENT,
                ..
            }) => Err(Error::NotAvailable),
            Err(e) => Err(e),
            Ok(()) => id.ok_or(Error::NotAvailable),
        }
    }

    /// Sends what is in `self.out` (one request, `seq`) and reads until its ack or the end
    /// of its dump, handing every data message to `on_data`.
    fn roundtrip(
        &mut self,
        seq: u32,
        mut on_data: impl FnMut(u8, &[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.sock.send(self.out.as_bytes(), 0)?;
        self.sent += 1;
        let describe = || Request::Other("request".into());
        loop {
            self.recv()?;
            for msg in Messages::new(&self.buf) {
                let msg = msg?;
                if msg.seq != seq {
                    continue; // a late answer to an earlier, abandoned request
                }
                match msg.reply()? {
                    Reply::Genl { cmd, attrs } => on_data(cmd, attrs)?,
                    Reply::Ack | Reply::Done => return Ok(()),
                    Reply::Error(errno) => {
                        return Err(Error::Kernel {
                            request: describe(),
                            errno,
                        });
                    }
                    Reply::Other(_) => {}
                }
            }
        }
    }

    fn recv(&mut self) -> Result<(), Error> {
        self.buf.clear();
        if self.buf.capacity() < 256 * 1024 {
            self.buf.reserve(256 * 1024);
        }
        loop {
            match self.sock.recv(&mut self.buf, 0) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
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
        self.roundtrip(seq, |_, _| Ok(()))
            .map_err(|e| with_request(e, what))
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
        self.roundtrip(seq, on_data)
            .map_err(|e| with_request(e, Request::Other(what.into())))
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
        out.ok_or(Error::Decode(wire::DecodeError::Missing(
            "GET_CONFIG reply",
        )))
    }

    pub fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), Error> {
        self.command(Request::Other("set timeouts".into()), |b, f, s| {
            ops::set_config(b, f, s, t)
        })
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
            out.push(ListedService {
                entry,
                destinations,
            });
        }
        Ok(out)
    }

    /// The configuration part of the whole table.
    pub fn table(&mut self) -> Result<Table, Error> {
        Ok(Table {
            services: self
                .list()?
                .iter()
                .map(ListedService::to_table_service)
                .collect(),
        })
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
        let what = Request::Other(format!(
            "start sync daemon {:?} on {}",
            d.state, d.mcast_ifn
        ));
        self.command(what, |b, f, s| ops::start_daemon(b, f, s, d))
    }

    pub fn stop_daemon(&mut self, state: DaemonState) -> Result<(), Error> {
        let what = Request::Other(format!("stop sync daemon {state:?}"));
        self.command(what, |b, f, s| ops::stop_daemon(b, f, s, state))
    }

    /// Applies one operation.
    pub fn execute(&mut self, op: &Op) -> Result<(), Error> {
        self.command(Request::Op(op.clone()), |b, f, s| ops::op(b, f, s, op))
    }

    /// Applies operations in order, many per `send`, and waits for every ack. The kernel
    /// carries on after a refused operation, so all refusals are reported together.
    pub fn apply(&mut self, batch: &[Op]) -> Result<(), BatchError> {
        let mut failed = Vec::new();
        let mut next = 0;
        while next < batch.len() {
            self.out.clear();
            let first_seq = self.seq.wrapping_add(1);
            let start = next;
            while next < batch.len()
                && next - start < BATCH_MESSAGES
                && self.out.len() < BATCH_BYTES
            {
                let seq = self.next_seq();
                ops::op(&mut self.out, self.family, seq, &batch[next]);
                next += 1;
            }
            if let Err(e) = self.send_batch(first_seq, &batch[start..next], &mut failed) {
                // The socket itself failed: nothing after this point is known to be applied.
                failed.push(e);
                break;
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(BatchError {
                total: batch.len(),
                failed,
            })
        }
    }

    fn send_batch(
        &mut self,
        first_seq: u32,
        ops: &[Op],
        failed: &mut Vec<Error>,
    ) -> Result<(), Error> {
        self.sock.send(self.out.as_bytes(), 0)?;
        self.sent += ops.len() as u64;
        let mut pending = ops.len();
        while pending > 0 {
            self.recv()?;
            for msg in Messages::new(&self.buf) {
                let msg = msg?;
                let idx = msg.seq.wrapping_sub(first_seq) as usize;
                if idx >= ops.len() {
                    continue;
                }
                match msg.reply()? {
                    Reply::Ack => pending -= 1,
                    Reply::Error(errno) => {
                        pending -= 1;
                        failed.push(Error::Kernel {
                            request: Request::Op(ops[idx].clone()),
                            errno,
                        });
                    }
                    _ => {}
                }
            }
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
    Err(Error::Decode(wire::DecodeError::Missing(
        "IPVS_CMD_ATTR_* in reply",
    )))
}

fn with_request(e: Error, request: Request) -> Error {
    match e {
        Error::Kernel { errno, .. } => Error::Kernel { request, errno },
        other => other,
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
