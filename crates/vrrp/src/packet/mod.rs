//! VRRP advertisement codec: RFC 3768 (version 2) and RFC 5798 (version 3), IPv4.
//!
//! Pure code: bytes in, typed adverts out, and back. The receive side takes the whole
//! IPv4 datagram as a raw socket delivers it, because the TTL and the addresses of the
//! IP header are part of the checks (TTL 255, the v3 pseudo-header checksum).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! v2: |   Auth Type   |   Adver Int   |          Checksum         |
//! v3: |(rsvd) |     Max Adver Int     |          Checksum         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  IP Address (1) ... (Count)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! v2 only: |        Authentication Data (1), (2): 8 bytes         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The v2 checksum covers the VRRP message; the v3 one also covers the IPv4
//! pseudo-header (RFC 5798 section 5.2.8).

use std::net::Ipv4Addr;

use crate::counters::DropReason;

mod checksum;
#[cfg(test)]
mod tests;

pub use checksum::internet_checksum;
use checksum::Sum;

/// IANA protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// The IPv4 multicast group adverts go to (RFC 5798 section 5.1.1.2).
pub const VRRP_MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// Adverts must arrive with this TTL / hop limit.
pub const VRRP_TTL: u8 = 255;

/// The only VRRP packet type (RFC 3768 section 5.3.2, RFC 5798 section 5.2.2).
pub const VRRP_TYPE_ADVERTISEMENT: u8 = 1;
/// Bytes before the address list, both versions.
pub const VRRP_HEADER_LEN: usize = 8;
/// VRRPv2 Authentication Data after the address list (RFC 3768 section 5.3.10).
pub const VRRP_AUTH_DATA_LEN: usize = 8;
/// RFC 3768 section 5.3.6 authentication types.
pub const VRRP_AUTH_NONE: u8 = 0;
pub const VRRP_AUTH_PASS: u8 = 1;
/// Type 2, IP Authentication Header: dropped from RFC 3768, decoded as [`Auth::Other`].
pub const VRRP_AUTH_AH: u8 = 2;
/// The largest "Count IP Addrs".
pub const VRRP_MAX_ADDRESSES: usize = 255;
/// VRRPv2 Adver Int range, seconds.
pub const VRRP_V2_ADVER_INT_MAX_S: u16 = 255;
/// VRRPv3 Max Adver Int: 12 bits of centiseconds (also the mask of the field; the top
/// 4 bits are reserved).
pub const VRRP_V3_MAX_ADVER_INT_MAX_CS: u16 = 0x0fff;

/// An IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// The TOS keepalived sends adverts with (IPTOS_PREC_INTERNETCONTROL, DSCP CS6);
/// [`encode_ipv4`] writes it too.
pub const IPTOS_PREC_INTERNETCONTROL: u8 = 0xc0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768: interval in whole seconds (1-255), authentication data.
    V2,
    /// RFC 5798: interval in centiseconds (12 bits), checksum with the IP pseudo-header.
    V3,
}

impl Version {
    /// The number in the Version field.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    pub fn from_number(n: u8) -> Option<Version> {
        match n {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
}

/// VRRPv2 authentication (RFC 3768 section 5.3.6). Version 3 has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Auth {
    None,
    /// Type 1: up to 8 bytes of clear text, zero padded.
    Pass([u8; 8]),
    /// Any other type (2 was IP AH), kept so it can be named in errors and re-emitted.
    Other {
        auth_type: u8,
        data: [u8; 8],
    },
}

impl Auth {
    /// The Auth Type field. [`Auth::Other`] is written as given, so one with type 0 or
    /// 1 decodes back as [`Auth::None`] or [`Auth::Pass`].
    pub fn auth_type(&self) -> u8 {
        match self {
            Auth::None => VRRP_AUTH_NONE,
            Auth::Pass(_) => VRRP_AUTH_PASS,
            Auth::Other { auth_type, .. } => *auth_type,
        }
    }

    /// The Authentication Data field (zeros for [`Auth::None`]).
    pub fn data(&self) -> [u8; 8] {
        match self {
            Auth::None => [0; 8],
            Auth::Pass(data) | Auth::Other { data, .. } => *data,
        }
    }

    fn from_wire(auth_type: u8, data: [u8; 8]) -> Auth {
        match auth_type {
            VRRP_AUTH_NONE => Auth::None,
            VRRP_AUTH_PASS => Auth::Pass(data),
            auth_type => Auth::Other { auth_type, data },
        }
    }
}

/// One advertisement, version independent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// Advertisement interval in centiseconds. Version 2 carries whole seconds, so
    /// there it is a multiple of 100.
    pub interval_cs: u16,
    pub addresses: Vec<Ipv4Addr>,
    /// Always [`Auth::None`] for version 3.
    pub auth: Auth,
}

/// A decoded advert with the IP header fields the state machine and filters need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub advert: Advert,
}

/// Why a datagram is not a valid advert. Each variant names the values it saw, for
/// logs; [`DecodeError::reason`] gives the counter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("datagram of {len} bytes is shorter than an IPv4 header ({IPV4_HEADER_LEN})")]
    IpHeaderTruncated { len: usize },
    #[error("IP version {version}, expected 4")]
    IpVersion { version: u8 },
    #[error("IPv4 IHL {ihl}, the minimum is 5 (20 bytes)")]
    IpHeaderLength { ihl: u8 },
    #[error("IPv4 total length {total_length} is less than its header length {header_len}")]
    IpTotalLength { total_length: usize, header_len: usize },
    #[error("IPv4 total length {total_length}, only {len} bytes received")]
    IpTruncated { total_length: usize, len: usize },
    #[error("IPv4 fragment (offset {offset}, more fragments: {more_fragments}); adverts are never fragmented")]
    Fragment { offset: u16, more_fragments: bool },
    #[error("IP protocol {protocol}, expected {IPPROTO_VRRP} (VRRP)")]
    Protocol { protocol: u8 },
    #[error("TTL {ttl}, expected {VRRP_TTL}")]
    Ttl { ttl: u8 },
    #[error("VRRP message of {len} bytes is shorter than its {VRRP_HEADER_LEN}-byte header")]
    HeaderTruncated { len: usize },
    #[error("VRRP version {version}")]
    Version { version: u8 },
    #[error("VRRP type {packet_type}, expected {VRRP_TYPE_ADVERTISEMENT} (advertisement)")]
    Type { packet_type: u8 },
    /// The message is shorter than its address count needs.
    #[error("{}, the message has {len}", addresses_need(*count, *need))]
    AddressesTruncated { count: u8, need: usize, len: usize },
    /// The message is longer than its address count needs.
    #[error("{}, the message has {len} (extra bytes)", addresses_need(*count, *need))]
    Length { count: u8, need: usize, len: usize },
    /// `found` is the Checksum field, `computed` what it should be.
    #[error("checksum {found:#06x}, computed {computed:#06x}")]
    Checksum { found: u16, computed: u16 },
    #[error("VRRPv{version} advertisement interval 0")]
    ZeroInterval { version: u8 },
}

fn addresses_need(count: u8, need: usize) -> String {
    if count == 1 {
        format!("1 address needs {need} bytes")
    } else {
        format!("{count} addresses need {need} bytes")
    }
}

impl DecodeError {
    /// The counter this drop goes to.
    pub fn reason(&self) -> DropReason {
        match self {
            DecodeError::IpHeaderTruncated { .. }
            | DecodeError::IpTruncated { .. }
            | DecodeError::HeaderTruncated { .. }
            | DecodeError::AddressesTruncated { .. } => DropReason::Truncated,
            DecodeError::IpVersion { .. }
            | DecodeError::IpHeaderLength { .. }
            | DecodeError::IpTotalLength { .. }
            | DecodeError::Fragment { .. }
            | DecodeError::Protocol { .. } => DropReason::BadIpHeader,
            DecodeError::Ttl { .. } => DropReason::BadTtl,
            DecodeError::Version { .. } => DropReason::BadVersion,
            DecodeError::Type { .. } => DropReason::BadType,
            DecodeError::Length { .. } => DropReason::BadLength,
            DecodeError::Checksum { .. } => DropReason::BadChecksum,
            DecodeError::ZeroInterval { .. } => DropReason::BadInterval,
        }
    }
}

/// Why an [`Advert`] cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    #[error("VRRPv2 interval {interval_cs} cs is not a whole number of seconds in 1-255 s")]
    V2Interval { interval_cs: u16 },
    #[error("VRRPv3 interval {interval_cs} cs is outside 1-4095 cs")]
    V3Interval { interval_cs: u16 },
    #[error("{count} addresses, an advert holds at most {VRRP_MAX_ADDRESSES}")]
    TooManyAddresses { count: usize },
    #[error("VRRPv3 has no authentication, got auth type {auth_type}")]
    AuthOnV3 { auth_type: u8 },
}

/// The IPv4 header fields decode needs, and the payload within the total length.
struct Ipv4<'a> {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    protocol: u8,
    payload: &'a [u8],
}

/// Checks version, IHL, total length and fragmentation, not the protocol or the TTL.
/// The header checksum is not checked: the kernel drops datagrams with a bad one
/// before a raw socket sees them.
fn parse_ipv4(datagram: &[u8]) -> Result<Ipv4<'_>, DecodeError> {
    let Some(h) = datagram.first_chunk::<IPV4_HEADER_LEN>() else {
        return Err(DecodeError::IpHeaderTruncated { len: datagram.len() });
    };
    let version = h[0] >> 4;
    if version != 4 {
        return Err(DecodeError::IpVersion { version });
    }
    let ihl = h[0] & 0x0f;
    if ihl < 5 {
        return Err(DecodeError::IpHeaderLength { ihl });
    }
    let header_len = usize::from(ihl) * 4;
    let total_length = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if total_length > datagram.len() {
        return Err(DecodeError::IpTruncated { total_length, len: datagram.len() });
    }
    if total_length < header_len {
        return Err(DecodeError::IpTotalLength { total_length, header_len });
    }
    let flags_offset = u16::from_be_bytes([h[6], h[7]]);
    let more_fragments = flags_offset & 0x2000 != 0;
    let offset = flags_offset & 0x1fff;
    if more_fragments || offset != 0 {
        return Err(DecodeError::Fragment { offset, more_fragments });
    }
    Ok(Ipv4 {
        src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
        dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
        ttl: h[8],
        protocol: h[9],
        payload: &datagram[header_len..total_length],
    })
}

/// Whether the receive path insists on TTL 255.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlCheck {
    /// RFC 3768/5798 section 7.1: an advert that crossed a router is dropped.
    Require255,
    /// Unicast peers may sit behind a router; keepalived skips the check for them too.
    Any,
}

/// Decodes a whole IPv4 datagram as a Linux raw socket of protocol 112 delivers it
/// (header in network byte order, options allowed). Bytes past the IPv4 total length
/// are ignored. The TTL must be 255.
pub fn decode_ipv4(datagram: &[u8]) -> Result<Received, DecodeError> {
    decode_ipv4_with(datagram, TtlCheck::Require255)
}

/// [`decode_ipv4`] with the TTL check chosen by the caller (unicast instances).
pub fn decode_ipv4_with(datagram: &[u8], ttl: TtlCheck) -> Result<Received, DecodeError> {
    let ip = parse_ipv4(datagram)?;
    if ip.protocol != IPPROTO_VRRP {
        return Err(DecodeError::Protocol { protocol: ip.protocol });
    }
    if ttl == TtlCheck::Require255 && ip.ttl != VRRP_TTL {
        return Err(DecodeError::Ttl { ttl: ip.ttl });
    }
    let advert = Advert::decode(ip.payload, ip.src, ip.dst)?;
    Ok(Received { src: ip.src, dst: ip.dst, ttl: ip.ttl, advert })
}

/// The VRID of a datagram whose IPv4 header is sound enough to find the VRRP message
/// and whose first two VRRP bytes are there, whatever else is wrong with it: lets a
/// driver count a drop against an instance.
pub fn peek_vrid(datagram: &[u8]) -> Option<u8> {
    let ip = parse_ipv4(datagram).ok()?;
    if ip.protocol != IPPROTO_VRRP {
        return None;
    }
    ip.payload.get(1).copied()
}

impl Advert {
    /// Decodes the VRRP message (the IPv4 payload). `src` and `dst` are the IPv4
    /// addresses, for the version 3 pseudo-header checksum. Checks, in order: header
    /// length, version, type, length against the address count, checksum, interval.
    /// The 4 reserved bits of a v3 message are ignored (RFC 5798 section 5.2.6).
    pub fn decode(message: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<Advert, DecodeError> {
        let Some(h) = message.first_chunk::<VRRP_HEADER_LEN>() else {
            return Err(DecodeError::HeaderTruncated { len: message.len() });
        };
        let Some(version) = Version::from_number(h[0] >> 4) else {
            return Err(DecodeError::Version { version: h[0] >> 4 });
        };
        let packet_type = h[0] & 0x0f;
        if packet_type != VRRP_TYPE_ADVERTISEMENT {
            return Err(DecodeError::Type { packet_type });
        }
        let (vrid, priority, count) = (h[1], h[2], h[3]);
        let addresses_len = 4 * usize::from(count);
        let need = match version {
            Version::V2 => VRRP_HEADER_LEN + addresses_len + VRRP_AUTH_DATA_LEN,
            Version::V3 => VRRP_HEADER_LEN + addresses_len,
        };
        let len = message.len();
        if len < need {
            return Err(DecodeError::AddressesTruncated { count, need, len });
        }
        if len > need {
            return Err(DecodeError::Length { count, need, len });
        }

        let found = u16::from_be_bytes([h[6], h[7]]);
        let mut sum = Sum::default();
        if version == Version::V3 {
            // need <= 8 + 4 * 255, so the length fits.
            sum = sum.add_pseudo_header(src, dst, len as u16);
        }
        let sum = sum.add(&message[..6]).add(&message[8..]);
        if sum.add(&h[6..8]).folded() != 0xffff {
            return Err(DecodeError::Checksum { found, computed: sum.checksum() });
        }

        let (interval_cs, auth) = match version {
            Version::V2 => {
                let adver_int = h[5];
                if adver_int == 0 {
                    return Err(DecodeError::ZeroInterval { version: 2 });
                }
                let mut data = [0; VRRP_AUTH_DATA_LEN];
                data.copy_from_slice(&message[need - VRRP_AUTH_DATA_LEN..]);
                (u16::from(adver_int) * 100, Auth::from_wire(h[4], data))
            }
            Version::V3 => {
                let max_adver_int = u16::from_be_bytes([h[4], h[5]]) & VRRP_V3_MAX_ADVER_INT_MAX_CS;
                if max_adver_int == 0 {
                    return Err(DecodeError::ZeroInterval { version: 3 });
                }
                (max_adver_int, Auth::None)
            }
        };
        let addresses = message[VRRP_HEADER_LEN..VRRP_HEADER_LEN + addresses_len]
            .chunks_exact(4)
            .map(|a| Ipv4Addr::new(a[0], a[1], a[2], a[3]))
            .collect();
        Ok(Advert { version, vrid, priority, interval_cs, addresses, auth })
    }

    /// The VRRP message (what goes after the IPv4 header; the kernel adds that).
    /// `src` and `dst` are the IPv4 addresses it will be sent with, for the version 3
    /// pseudo-header checksum; version 2 ignores them.
    pub fn encode(&self, src: Ipv4Addr, dst: Ipv4Addr) -> Result<Vec<u8>, EncodeError> {
        let count = self.addresses.len();
        if count > VRRP_MAX_ADDRESSES {
            return Err(EncodeError::TooManyAddresses { count });
        }
        let interval_cs = self.interval_cs;
        let field45: [u8; 2] = match self.version {
            Version::V2 => {
                let secs = interval_cs / 100;
                if interval_cs % 100 != 0 || !(1..=VRRP_V2_ADVER_INT_MAX_S).contains(&secs) {
                    return Err(EncodeError::V2Interval { interval_cs });
                }
                [self.auth.auth_type(), secs as u8]
            }
            Version::V3 => {
                if !(1..=VRRP_V3_MAX_ADVER_INT_MAX_CS).contains(&interval_cs) {
                    return Err(EncodeError::V3Interval { interval_cs });
                }
                if self.auth != Auth::None {
                    return Err(EncodeError::AuthOnV3 { auth_type: self.auth.auth_type() });
                }
                interval_cs.to_be_bytes()
            }
        };
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&[
            (self.version.number() << 4) | VRRP_TYPE_ADVERTISEMENT,
            self.vrid,
            self.priority,
            count as u8,
            field45[0],
            field45[1],
            0,
            0,
        ]);
        for a in &self.addresses {
            out.extend_from_slice(&a.octets());
        }
        let mut sum = Sum::default();
        match self.version {
            Version::V2 => out.extend_from_slice(&self.auth.data()),
            Version::V3 => sum = sum.add_pseudo_header(src, dst, out.len() as u16),
        }
        let checksum = sum.add(&out).checksum();
        out[6..8].copy_from_slice(&checksum.to_be_bytes());
        Ok(out)
    }

    /// Length of the VRRP message [`Advert::encode`] makes.
    pub fn encoded_len(&self) -> usize {
        let auth = match self.version {
            Version::V2 => VRRP_AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        VRRP_HEADER_LEN + 4 * self.addresses.len() + auth
    }
}

/// A whole IPv4 datagram carrying `advert`: a 20-byte header (TOS 0xc0 as keepalived
/// sends, identification 0 so that a Linux raw socket with IP_HDRINCL fills it in, no
/// fragmentation flags, `ttl`, protocol 112, checksum) and [`Advert::encode`]. For
/// tests that inject packets, including hostile ones (any `ttl`, any `dst`).
pub fn encode_ipv4(
    advert: &Advert,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
) -> Result<Vec<u8>, EncodeError> {
    encode_ipv4_with_id(advert, src, dst, ttl, 0)
}

fn encode_ipv4_with_id(
    advert: &Advert,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    id: u16,
) -> Result<Vec<u8>, EncodeError> {
    let message = advert.encode(src, dst)?;
    // At most 20 + 8 + 4 * 255 + 8 bytes.
    let total_length = (IPV4_HEADER_LEN + message.len()) as u16;
    let [l0, l1] = total_length.to_be_bytes();
    let [i0, i1] = id.to_be_bytes();
    let mut out = Vec::with_capacity(usize::from(total_length));
    out.extend_from_slice(&[0x45, IPTOS_PREC_INTERNETCONTROL, l0, l1, i0, i1, 0, 0]);
    out.extend_from_slice(&[ttl, IPPROTO_VRRP, 0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let checksum = internet_checksum(&out);
    out[10..12].copy_from_slice(&checksum.to_be_bytes());
    out.extend_from_slice(&message);
    Ok(out)
}
