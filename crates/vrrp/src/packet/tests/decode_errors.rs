//! One test per decode error: each mutates a valid capture.

use super::*;

// --- one test per decode error -------------------------------------------------------

#[test]
fn ip_header_truncated() {
    let d = hex(V2_CAPTURED);
    let e = decode_err(&d[..19]);
    assert_eq!(e, DecodeError::IpHeaderTruncated { len: 19 });
    assert_eq!(e.reason(), DropReason::Truncated);
    assert_eq!(decode_err(&[]), DecodeError::IpHeaderTruncated { len: 0 });
}

#[test]
fn ip_version() {
    let mut d = hex(V2_CAPTURED);
    d[0] = 0x65;
    let e = decode_err(&d);
    assert_eq!(e, DecodeError::IpVersion { version: 6 });
    assert_eq!(e.reason(), DropReason::BadIpHeader);
    assert_eq!(e.to_string(), "IP version 6, expected 4");
}

#[test]
fn ip_header_length() {
    let mut d = hex(V2_CAPTURED);
    d[0] = 0x44;
    let e = decode_err(&d);
    assert_eq!(e, DecodeError::IpHeaderLength { ihl: 4 });
    assert_eq!(e.reason(), DropReason::BadIpHeader);
}

#[test]
fn ip_total_length_below_header_length() {
    let mut d = hex(V2_CAPTURED);
    d[0] = 0x4f; // 60-byte header in a 40-byte datagram
    let e = decode_err(&d);
    assert_eq!(e, DecodeError::IpTotalLength { total_length: 40, header_len: 60 });
    assert_eq!(e.reason(), DropReason::BadIpHeader);
    set_total_length(&mut d, 19);
    assert_eq!(decode_err(&d), DecodeError::IpTotalLength { total_length: 19, header_len: 60 });
}

#[test]
fn ip_truncated() {
    let d = hex(V2_CAPTURED);
    let e = decode_err(&d[..39]);
    assert_eq!(e, DecodeError::IpTruncated { total_length: 40, len: 39 });
    assert_eq!(e.reason(), DropReason::Truncated);
    assert_eq!(e.to_string(), "IPv4 total length 40, only 39 bytes received");
}

#[test]
fn bytes_past_the_total_length_are_ignored() {
    let mut d = hex(V2_CAPTURED);
    d.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(decode_ipv4(&d).unwrap().advert, v2_advert(150));
}

#[test]
fn fragment() {
    let mut d = hex(V2_CAPTURED);
    d[6] = 0x20; // more fragments
    let e = decode_err(&d);
    assert_eq!(e, DecodeError::Fragment { offset: 0, more_fragments: true });
    assert_eq!(e.reason(), DropReason::BadIpHeader);

    let mut d = hex(V2_CAPTURED);
    d[7] = 0x03; // offset 3 (24 bytes), last fragment
    assert_eq!(decode_err(&d), DecodeError::Fragment { offset: 3, more_fragments: false });

    // Don't fragment is fine.
    let mut d = hex(V2_CAPTURED);
    d[6] = 0x40;
    assert!(decode_ipv4(&d).is_ok());
}

#[test]
fn protocol() {
    let mut d = hex(V2_CAPTURED);
    d[9] = 6;
    let e = decode_err(&d);
    assert_eq!(e, DecodeError::Protocol { protocol: 6 });
    assert_eq!(e.reason(), DropReason::BadIpHeader);
    assert_eq!(e.to_string(), "IP protocol 6, expected 112 (VRRP)");
}

#[test]
fn ttl() {
    for capture in [V2_CAPTURED, V3_CAPTURED] {
        let mut d = hex(capture);
        d[8] = 64;
        let e = decode_err(&d);
        assert_eq!(e, DecodeError::Ttl { ttl: 64 });
        assert_eq!(e.reason(), DropReason::BadTtl);
        assert_eq!(e.to_string(), "TTL 64, expected 255");
    }
}

#[test]
fn unicast_receive_may_skip_the_ttl_check() {
    for capture in [V2_CAPTURED, V3_CAPTURED] {
        let mut d = hex(capture);
        d[8] = 62;
        let got = decode_ipv4_with(&d, TtlCheck::Any).unwrap();
        assert_eq!(got.ttl, 62);
        assert_eq!(got.advert, decode_ipv4(&hex(capture)).unwrap().advert);
        assert_eq!(decode_ipv4_with(&d, TtlCheck::Require255), Err(DecodeError::Ttl { ttl: 62 }));
    }
}

#[test]
fn vrrp_header_truncated() {
    let mut d = hex(V3_CAPTURED);
    d.truncate(27);
    set_total_length(&mut d, 27);
    let e = decode_err(&d);
    assert_eq!(e, DecodeError::HeaderTruncated { len: 7 });
    assert_eq!(e.reason(), DropReason::Truncated);
    d.truncate(20);
    set_total_length(&mut d, 20);
    assert_eq!(decode_err(&d), DecodeError::HeaderTruncated { len: 0 });
}

#[test]
fn vrrp_version() {
    for version in [0u8, 1, 4, 15] {
        let mut d = hex(V3_CAPTURED);
        d[20] = (version << 4) | 1;
        fix_vrrp_checksum(&mut d);
        let e = decode_err(&d);
        assert_eq!(e, DecodeError::Version { version });
        assert_eq!(e.reason(), DropReason::BadVersion);
        assert_eq!(e.to_string(), format!("VRRP version {version}"));
    }
}

#[test]
fn vrrp_type() {
    for capture in [V2_CAPTURED, V3_CAPTURED] {
        let mut d = hex(capture);
        d[20] = (d[20] & 0xf0) | 2;
        fix_vrrp_checksum(&mut d);
        let e = decode_err(&d);
        assert_eq!(e, DecodeError::Type { packet_type: 2 });
        assert_eq!(e.reason(), DropReason::BadType);
    }
}

#[test]
fn addresses_truncated() {
    // v3: 2 addresses in a 16-byte message; a count of 3 needs 20.
    let mut d = hex(V3_UNICAST);
    d[23] = 3;
    fix_vrrp_checksum(&mut d);
    let e = decode_err(&d);
    assert_eq!(e, DecodeError::AddressesTruncated { count: 3, need: 20, len: 16 });
    assert_eq!(e.reason(), DropReason::Truncated);
    assert_eq!(e.to_string(), "3 addresses need 20 bytes, the message has 16");

    // v2: the authentication data is part of what the count needs.
    let mut d = hex(V2_CAPTURED);
    d.truncate(36);
    set_total_length(&mut d, 36);
    let e = decode_err(&d);
    assert_eq!(e, DecodeError::AddressesTruncated { count: 1, need: 20, len: 16 });
    assert_eq!(e.to_string(), "1 address needs 20 bytes, the message has 16");
}

#[test]
fn length_with_extra_bytes() {
    let mut d = hex(V3_UNICAST);
    d[23] = 1;
    fix_vrrp_checksum(&mut d);
    let e = decode_err(&d);
    assert_eq!(e, DecodeError::Length { count: 1, need: 12, len: 16 });
    assert_eq!(e.reason(), DropReason::BadLength);
    assert_eq!(e.to_string(), "1 address needs 12 bytes, the message has 16 (extra bytes)");

    let mut d = hex(V2_CAPTURED);
    d.extend_from_slice(&[0; 4]);
    set_total_length(&mut d, 44);
    fix_vrrp_checksum(&mut d);
    assert_eq!(decode_err(&d), DecodeError::Length { count: 1, need: 20, len: 24 });
}

#[test]
fn zero_interval() {
    let mut d = hex(V2_CAPTURED);
    d[25] = 0;
    fix_vrrp_checksum(&mut d);
    let e = decode_err(&d);
    assert_eq!(e, DecodeError::ZeroInterval { version: 2 });
    assert_eq!(e.reason(), DropReason::BadInterval);

    let mut d = hex(V3_CAPTURED);
    d[24] = 0xf0; // reserved bits set, interval 0
    d[25] = 0;
    fix_vrrp_checksum(&mut d);
    let e = decode_err(&d);
    assert_eq!(e, DecodeError::ZeroInterval { version: 3 });
    assert_eq!(e.to_string(), "VRRPv3 advertisement interval 0");
}

#[test]
fn every_decode_reason_is_a_counter() {
    let reasons = [
        DecodeError::IpHeaderTruncated { len: 0 },
        DecodeError::IpVersion { version: 6 },
        DecodeError::IpHeaderLength { ihl: 0 },
        DecodeError::IpTotalLength { total_length: 0, header_len: 20 },
        DecodeError::IpTruncated { total_length: 40, len: 0 },
        DecodeError::Fragment { offset: 1, more_fragments: false },
        DecodeError::Protocol { protocol: 0 },
        DecodeError::Ttl { ttl: 0 },
        DecodeError::HeaderTruncated { len: 0 },
        DecodeError::Version { version: 0 },
        DecodeError::Type { packet_type: 0 },
        DecodeError::AddressesTruncated { count: 1, need: 12, len: 8 },
        DecodeError::Length { count: 1, need: 12, len: 16 },
        DecodeError::Checksum { found: 0, computed: 1 },
        DecodeError::ZeroInterval { version: 2 },
    ];
    for e in reasons {
        assert!(DropReason::ALL.contains(&e.reason()), "{e:?}");
        assert!(!e.to_string().is_empty());
    }
}
