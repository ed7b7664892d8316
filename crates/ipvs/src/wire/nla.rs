//! Netlink attributes (`struct nlattr`) and a builder that packs whole messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{DecodeError, GENL_HDRLEN, NLMSG_HDRLEN};

const NLA_HDRLEN: usize = 4;
const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;

pub(crate) fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Writes netlink messages into one buffer. Several messages may be packed back to back;
/// the kernel processes them in order and acks each one.
#[derive(Debug, Default)]
pub struct MessageBuilder {
    buf: Vec<u8>,
    msg_start: usize,
    nests: Vec<usize>,
}

impl MessageBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a generic netlink message; finish it with [`MessageBuilder::end_message`].
    pub fn begin_genl(&mut self, family: u16, flags: u16, seq: u32, cmd: u8, version: u8) {
        self.msg_start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched at the end
        self.buf.extend_from_slice(&family.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
        self.buf.extend_from_slice(&[cmd, version, 0, 0]);
        debug_assert_eq!(self.buf.len() - self.msg_start, NLMSG_HDRLEN + GENL_HDRLEN);
    }

    pub fn end_message(&mut self) {
        debug_assert!(self.nests.is_empty(), "unbalanced nested attribute");
        let len = (self.buf.len() - self.msg_start) as u32;
        self.buf[self.msg_start..self.msg_start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    pub fn put(&mut self, kind: u16, payload: &[u8]) {
        let len = (NLA_HDRLEN + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    pub fn put_u8(&mut self, kind: u16, v: u8) {
        self.put(kind, &[v]);
    }

    pub fn put_u16(&mut self, kind: u16, v: u16) {
        self.put(kind, &v.to_ne_bytes());
    }

    /// A 16-bit value in network byte order (ports).
    pub fn put_be16(&mut self, kind: u16, v: u16) {
        self.put(kind, &v.to_be_bytes());
    }

    pub fn put_u32(&mut self, kind: u16, v: u32) {
        self.put(kind, &v.to_ne_bytes());
    }

    /// A NUL-terminated string (`NLA_NUL_STRING`).
    pub fn put_cstr(&mut self, kind: u16, s: &str) {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.put(kind, &v);
    }

    /// An address as `union nf_inet_addr`: 16 bytes, IPv4 in the first four.
    pub fn put_inet_addr(&mut self, kind: u16, addr: &IpAddr) {
        let mut raw = [0u8; 16];
        match addr {
            IpAddr::V4(a) => raw[..4].copy_from_slice(&a.octets()),
            IpAddr::V6(a) => raw.copy_from_slice(&a.octets()),
        }
        self.put(kind, &raw);
    }

    pub fn begin_nested(&mut self, kind: u16) {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    }

    pub fn end_nested(&mut self) {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
    }

    fn pad(&mut self) {
        let target = align4(self.buf.len());
        self.buf.resize(target, 0);
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.nests.clear();
        self.msg_start = 0;
    }
}

/// One attribute: its type (flags stripped) and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    pub kind: u16,
    pub payload: &'a [u8],
}

impl<'a> Attr<'a> {
    fn exact<const N: usize>(&self, what: &'static str) -> Result<[u8; N], DecodeError> {
        self.payload.get(..N).and_then(|b| b.try_into().ok()).ok_or(DecodeError::BadLength {
            what,
            len: self.payload.len(),
            expected: N,
        })
    }

    pub fn u8(&self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.exact::<1>(what)?[0])
    }

    pub fn u16(&self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_ne_bytes(self.exact::<2>(what)?))
    }

    pub fn be16(&self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.exact::<2>(what)?))
    }

    pub fn u32(&self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_ne_bytes(self.exact::<4>(what)?))
    }

    pub fn u64(&self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_ne_bytes(self.exact::<8>(what)?))
    }

    /// A string, with or without its terminating NUL.
    pub fn string(&self, what: &'static str) -> Result<String, DecodeError> {
        let end = self.payload.iter().position(|&b| b == 0).unwrap_or(self.payload.len());
        std::str::from_utf8(&self.payload[..end])
            .map(str::to_owned)
            .map_err(|_| DecodeError::BadString(what))
    }

    /// An address stored as `union nf_inet_addr` (or just its IPv4 part).
    pub fn inet_addr(&self, af: u16, what: &'static str) -> Result<IpAddr, DecodeError> {
        match af {
            crate::model::AF_INET => Ok(IpAddr::V4(Ipv4Addr::from(self.exact::<4>(what)?))),
            crate::model::AF_INET6 => Ok(IpAddr::V6(Ipv6Addr::from(self.exact::<16>(what)?))),
            other => Err(DecodeError::BadFamily(other)),
        }
    }

    pub fn nested(&self) -> Attrs<'a> {
        Attrs::new(self.payload)
    }
}

/// Iterates over a run of attributes.
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    buf: &'a [u8],
}

impl<'a> Attrs<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Attrs { buf }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.len() < NLA_HDRLEN {
            return None;
        }
        let len = u16::from_ne_bytes([self.buf[0], self.buf[1]]) as usize;
        let kind = u16::from_ne_bytes([self.buf[2], self.buf[3]]) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > self.buf.len() {
            self.buf = &[];
            return Some(Err(DecodeError::BadAttr { kind, len }));
        }
        let attr = Attr { kind, payload: &self.buf[NLA_HDRLEN..len] };
        let advance = align4(len).min(self.buf.len());
        self.buf = &self.buf[advance..];
        Some(Ok(attr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_attribute_lengths_are_patched_and_padded() {
        let mut b = MessageBuilder::new();
        b.begin_genl(0x20, 0x5, 7, 1, 1);
        b.begin_nested(1);
        b.put_u8(2, 9);
        b.put_cstr(3, "rr");
        b.end_nested();
        b.end_message();
        let bytes = b.as_bytes();
        // nlmsghdr(16) + genlhdr(4) + nest hdr(4) + u8 attr(8) + "rr\0" attr(8)
        assert_eq!(bytes.len(), 40);
        assert_eq!(u32::from_ne_bytes(bytes[0..4].try_into().unwrap()), 40);
        assert_eq!(&bytes[20..24], &[20, 0, 0x01, 0x80]);
        assert_eq!(&bytes[24..32], &[5, 0, 2, 0, 9, 0, 0, 0]);
        assert_eq!(&bytes[32..40], &[7, 0, 3, 0, b'r', b'r', 0, 0]);
        let attrs: Vec<_> = Attrs::new(&bytes[20..]).collect::<Result<_, _>>().unwrap();
        assert_eq!(attrs.len(), 1);
        let inner: Vec<_> = attrs[0].nested().collect::<Result<_, _>>().unwrap();
        assert_eq!(inner[0].u8("x").unwrap(), 9);
        assert_eq!(inner[1].string("s").unwrap(), "rr");
    }

    #[test]
    fn truncated_attribute_is_an_error_not_a_panic() {
        let buf = [12u8, 0, 1, 0, 1, 2];
        let got: Vec<_> = Attrs::new(&buf).collect();
        assert_eq!(got, vec![Err(DecodeError::BadAttr { kind: 1, len: 12 })]);
    }
}
