//! VRRP advertisement codec: RFC 3768 (version 2) and RFC 5798 (version 3), IPv4.
//!
//! Pure code: bytes in, typed adverts out, and back. The receive side takes the whole
//! IPv4 datagram as a raw socket delivers it, because the TTL and the addresses of the
//! IP header are part of the checks (TTL 255, the v3 pseudo-header checksum).

use std::net::Ipv4Addr;

use crate::counters::DropReason;

/// IANA protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// The IPv4 multicast group adverts go to (RFC 5798 section 5.1.1.2).
pub const VRRP_MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// Adverts must arrive with this TTL / hop limit.
pub const VRRP_TTL: u8 = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768: interval in whole seconds (1-255), authentication data.
    V2,
    /// RFC 5798: interval in centiseconds (12 bits), checksum with the IP pseudo-header.
    V3,
}

/// VRRPv2 authentication (RFC 3768 section 5.3.6). Version 3 has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Auth {
    None,
    /// Type 1: up to 8 bytes of clear text, zero padded.
    Pass([u8; 8]),
    /// Any other type (2 was IP AH), kept so it can be named in errors and re-emitted.
    Other { auth_type: u8, data: [u8; 8] },
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
