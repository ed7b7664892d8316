//! Netlink and generic-netlink framing plus one module per IPVS kernel object.
//!
//! Everything here works on byte buffers: building requests into a [`MessageBuilder`]
//! (several messages may share one buffer, so a whole batch goes out in one `send`) and
//! parsing replies with [`Messages`] and [`Attrs`]. No sockets, no clocks.

pub mod acks;
pub mod ctrl;
pub mod daemon;
pub mod destination;
pub mod info;
pub mod ops;
pub mod service;
pub mod stats;

mod nla;

#[cfg(test)]
mod captured;

pub use nla::{Attr, Attrs, MessageBuilder};

use thiserror::Error;

/// `struct nlmsghdr` is 16 bytes, `struct genlmsghdr` 4.
pub const NLMSG_HDRLEN: usize = 16;
pub const GENL_HDRLEN: usize = 4;

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;

/// Generic netlink families (ipvs_genl_family in net/netfilter/ipvs/ip_vs_ctl.c).
pub const IPVS_GENL_NAME: &str = "IPVS";
pub const IPVS_GENL_VERSION: u8 = 0x1;

pub const IPVS_CMD_NEW_SERVICE: u8 = 1;
pub const IPVS_CMD_SET_SERVICE: u8 = 2;
pub const IPVS_CMD_DEL_SERVICE: u8 = 3;
pub const IPVS_CMD_GET_SERVICE: u8 = 4;
pub const IPVS_CMD_NEW_DEST: u8 = 5;
pub const IPVS_CMD_SET_DEST: u8 = 6;
pub const IPVS_CMD_DEL_DEST: u8 = 7;
pub const IPVS_CMD_GET_DEST: u8 = 8;
pub const IPVS_CMD_NEW_DAEMON: u8 = 9;
pub const IPVS_CMD_DEL_DAEMON: u8 = 10;
pub const IPVS_CMD_GET_DAEMON: u8 = 11;
pub const IPVS_CMD_SET_CONFIG: u8 = 12;
pub const IPVS_CMD_GET_CONFIG: u8 = 13;
pub const IPVS_CMD_SET_INFO: u8 = 14;
pub const IPVS_CMD_GET_INFO: u8 = 15;
pub const IPVS_CMD_ZERO: u8 = 16;
pub const IPVS_CMD_FLUSH: u8 = 17;

pub const IPVS_CMD_ATTR_SERVICE: u16 = 1;
pub const IPVS_CMD_ATTR_DEST: u16 = 2;
pub const IPVS_CMD_ATTR_DAEMON: u16 = 3;
pub const IPVS_CMD_ATTR_TIMEOUT_TCP: u16 = 4;
pub const IPVS_CMD_ATTR_TIMEOUT_TCP_FIN: u16 = 5;
pub const IPVS_CMD_ATTR_TIMEOUT_UDP: u16 = 6;

/// A reply that does not have the shape the kernel documents.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("message truncated: header says {declared} bytes, {available} available")]
    Truncated { declared: usize, available: usize },
    #[error("attribute {kind} truncated: length {len}")]
    BadAttr { kind: u16, len: usize },
    #[error("attribute {what} has {len} bytes, expected {expected}")]
    BadLength { what: &'static str, len: usize, expected: usize },
    #[error("missing attribute {0}")]
    Missing(&'static str),
    #[error("attribute {0} is not valid UTF-8")]
    BadString(&'static str),
    #[error("unknown address family {0}")]
    BadFamily(u16),
}

/// One netlink message of a reply buffer.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    /// Everything after the netlink header.
    pub payload: &'a [u8],
}

/// What a message says, once classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `NLMSG_ERROR` with error 0: the ack of a request.
    Ack,
    /// `NLMSG_ERROR` with a negative errno (kept positive here).
    Error(i32),
    /// `NLMSG_DONE`: end of a dump (a dump that failed ends with [`Reply::Error`]).
    Done,
    /// A generic netlink message: command and its top-level attributes.
    Genl { cmd: u8, attrs: &'a [u8] },
    /// Anything else (`NLMSG_NOOP`, unknown control types).
    Other(u16),
}

impl<'a> Message<'a> {
    /// Classifies the message. `family` is the generic netlink family we expect data from.
    pub fn reply(&self) -> Result<Reply<'a>, DecodeError> {
        match self.kind {
            NLMSG_ERROR => {
                let code = read_i32(self.payload, "nlmsgerr.error")?;
                Ok(if code == 0 { Reply::Ack } else { Reply::Error(-code) })
            }
            // NLMSG_DONE carries the dump's final status; negative means it was cut short.
            NLMSG_DONE => match read_i32(self.payload, "NLMSG_DONE status") {
                Ok(code) if code < 0 => Ok(Reply::Error(-code)),
                _ => Ok(Reply::Done),
            },
            NLMSG_NOOP => Ok(Reply::Other(NLMSG_NOOP)),
            kind if kind < 0x10 => Ok(Reply::Other(kind)),
            _ => {
                if self.payload.len() < GENL_HDRLEN {
                    return Err(DecodeError::BadLength {
                        what: "genlmsghdr",
                        len: self.payload.len(),
                        expected: GENL_HDRLEN,
                    });
                }
                Ok(Reply::Genl { cmd: self.payload[0], attrs: &self.payload[GENL_HDRLEN..] })
            }
        }
    }
}

/// Iterates over the netlink messages packed in one receive buffer.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    buf: &'a [u8],
}

impl<'a> Messages<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Messages { buf }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = u32::from_ne_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len < NLMSG_HDRLEN || len > self.buf.len() {
            let err = DecodeError::Truncated { declared: len, available: self.buf.len() };
            self.buf = &[];
            return Some(Err(err));
        }
        let msg = Message {
            kind: u16::from_ne_bytes([self.buf[4], self.buf[5]]),
            flags: u16::from_ne_bytes([self.buf[6], self.buf[7]]),
            seq: u32::from_ne_bytes([self.buf[8], self.buf[9], self.buf[10], self.buf[11]]),
            pid: u32::from_ne_bytes([self.buf[12], self.buf[13], self.buf[14], self.buf[15]]),
            payload: &self.buf[NLMSG_HDRLEN..len],
        };
        let advance = nla::align4(len).min(self.buf.len());
        self.buf = &self.buf[advance..];
        Some(Ok(msg))
    }
}

fn read_i32(buf: &[u8], what: &'static str) -> Result<i32, DecodeError> {
    match buf.get(..4) {
        Some(b) => Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(DecodeError::BadLength { what, len: buf.len(), expected: 4 }),
    }
}
