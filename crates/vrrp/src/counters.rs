//! Per-instance counters: what an operator reads to see why adverts are ignored.

use std::collections::BTreeMap;

/// Why a received packet was dropped. Stable snake_case names (`as_str`) for status and
/// metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Shorter than its headers or than its own length fields say.
    Truncated,
    /// IPv4 header malformed (version, IHL, total length, fragment).
    BadIpHeader,
    /// VRRP version neither 2 nor 3.
    BadVersion,
    /// VRRP type other than 1 (ADVERTISEMENT).
    BadType,
    /// IP TTL / hop limit other than 255 (RFC 5798 section 7.1).
    BadTtl,
    BadChecksum,
    /// The address count does not match the packet length.
    BadLength,
    /// Advertisement interval 0 (VRRPv2 Adver Int, VRRPv3 Max Adver Int).
    BadInterval,
    /// No instance with this VRID on the receiving interface.
    UnknownVrid,
    /// Version 2 or 3 while the instance runs the other.
    VersionMismatch,
    /// Authentication type or password differs (VRRPv2).
    AuthMismatch,
    /// Advertisement interval differs from ours (VRRPv2 only; v3 adopts the master's).
    IntervalMismatch,
    /// The virtual address list differs from ours.
    AddressMismatch,
    /// Unicast mode and the sender is not a configured peer.
    NotPeer,
    /// Our own advertisement looped back.
    OwnPacket,
}

impl DropReason {
    pub const ALL: [DropReason; 15] = [
        DropReason::Truncated,
        DropReason::BadIpHeader,
        DropReason::BadVersion,
        DropReason::BadType,
        DropReason::BadTtl,
        DropReason::BadChecksum,
        DropReason::BadLength,
        DropReason::BadInterval,
        DropReason::UnknownVrid,
        DropReason::VersionMismatch,
        DropReason::AuthMismatch,
        DropReason::IntervalMismatch,
        DropReason::AddressMismatch,
        DropReason::NotPeer,
        DropReason::OwnPacket,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::BadIpHeader => "bad_ip_header",
            DropReason::BadVersion => "bad_version",
            DropReason::BadType => "bad_type",
            DropReason::BadTtl => "bad_ttl",
            DropReason::BadChecksum => "bad_checksum",
            DropReason::BadLength => "bad_length",
            DropReason::BadInterval => "bad_interval",
            DropReason::UnknownVrid => "unknown_vrid",
            DropReason::VersionMismatch => "version_mismatch",
            DropReason::AuthMismatch => "auth_mismatch",
            DropReason::IntervalMismatch => "interval_mismatch",
            DropReason::AddressMismatch => "address_mismatch",
            DropReason::NotPeer => "not_peer",
            DropReason::OwnPacket => "own_packet",
        }
    }
}

/// Counters of one instance (or, for packets no instance can claim, of an interface).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub adverts_sent: u64,
    /// Adverts accepted by the instance (after every check passed).
    pub adverts_received: u64,
    pub dropped: BTreeMap<DropReason, u64>,
    /// State changes, any direction.
    pub transitions: u64,
    pub became_master: u64,
}

impl Counters {
    pub fn drop(&mut self, reason: DropReason) {
        *self.dropped.entry(reason).or_default() += 1;
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}
