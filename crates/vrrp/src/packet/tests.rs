//! Codec tests: adverts captured from keepalived, one test per decode error, the
//! checksums, and properties (round trip, no panics on any input).

use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::*;

// Captured from keepalived v2.2.7 (Debian package) on a veth pair between two network
// namespaces, 192.0.2.1/24 (keepalived, eth0) and 192.0.2.2/24 (the capture), with
// `keepalived -n -l -D -P -f CONF -p PID -r VRRP_PID -c CHECKER_PID -b BFD_PID` and a
// python3 `socket.socket(AF_INET, SOCK_RAW, 112)` that joined 224.0.0.18 on the peer.
// Whole IPv4 datagrams as the raw socket delivered them. The ones named SHUTDOWN are
// the priority 0 adverts keepalived sends when it stops.
//
// V2_*: global_defs { router_id h1 }
//   vrrp_instance VI_1 { interface eth0  state MASTER  virtual_router_id 51
//     priority 150  advert_int 1  authentication { auth_type PASS  auth_pass 1111 }
//     virtual_ipaddress { 192.0.2.100/24 } }
const V2_CAPTURED: &str =
    "45c0002800010000ff701891c0000201e00000122133960101012303c00002643131313100000000";
const V2_CAPTURED_SHUTDOWN: &str =
    "45c0002800040000ff70188ec0000201e0000012213300010101b903c00002643131313100000000";
// V3_*: as V2 with `vrrp_version 3` in global_defs, advert_int 0.05, no authentication.
const V3_CAPTURED: &str = "45c0002000010000ff701899c0000201e0000012313396010005d3d0c0000264";
const V3_CAPTURED_SHUTDOWN: &str =
    "45c0002000750000ff701825c0000201e000001231330001000569d1c0000264";
// V3_UNICAST_*: global_defs { router_id h1  vrrp_version 3 }
//   vrrp_instance VI_2 { interface eth0  state MASTER  virtual_router_id 7
//     priority 100  advert_int 1  unicast_src_ip 192.0.2.1  unicast_peer { 192.0.2.2 }
//     virtual_ipaddress { 192.0.2.100/24  192.0.2.101/24 } }
const V3_UNICAST: &str = "45c0002400010000ff7036a5c0000201c00002023107640200646143c0000264c0000265";
const V3_UNICAST_SHUTDOWN: &str =
    "45c0002400050000ff7036a1c0000201c0000202310700020064c543c0000264c0000265";

const KEEPALIVED: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const VIP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 101);

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0);
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn v2_advert(priority: u8) -> Advert {
    Advert {
        version: Version::V2,
        vrid: 51,
        priority,
        interval_cs: 100,
        addresses: vec![VIP],
        auth: Auth::Pass(*b"1111\0\0\0\0"),
    }
}

fn v3_advert(priority: u8) -> Advert {
    Advert {
        version: Version::V3,
        vrid: 51,
        priority,
        interval_cs: 5,
        addresses: vec![VIP],
        auth: Auth::None,
    }
}

fn v3_unicast_advert(priority: u8) -> Advert {
    Advert {
        version: Version::V3,
        vrid: 7,
        priority,
        interval_cs: 100,
        addresses: vec![VIP, VIP2],
        auth: Auth::None,
    }
}

/// All captures with the advert and destination each carries.
fn captures() -> Vec<(&'static str, Vec<u8>, Advert, Ipv4Addr)> {
    vec![
        ("v2", hex(V2_CAPTURED), v2_advert(150), VRRP_MCAST_V4),
        ("v2 shutdown", hex(V2_CAPTURED_SHUTDOWN), v2_advert(0), VRRP_MCAST_V4),
        ("v3", hex(V3_CAPTURED), v3_advert(150), VRRP_MCAST_V4),
        ("v3 shutdown", hex(V3_CAPTURED_SHUTDOWN), v3_advert(0), VRRP_MCAST_V4),
        ("v3 unicast", hex(V3_UNICAST), v3_unicast_advert(100), PEER),
        ("v3 unicast shutdown", hex(V3_UNICAST_SHUTDOWN), v3_unicast_advert(0), PEER),
    ]
}

/// Rewrites the VRRP checksum of a datagram after a mutation (version from the
/// message, pseudo-header for any version other than 2).
fn fix_vrrp_checksum(d: &mut [u8]) {
    let ihl = usize::from(d[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([d[2], d[3]]));
    let src = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
    let dst = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
    let msg = &mut d[ihl..total];
    msg[6] = 0;
    msg[7] = 0;
    let mut sum = checksum::Sum::default();
    if msg[0] >> 4 != 2 {
        sum = sum.add_pseudo_header(src, dst, msg.len() as u16);
    }
    let c = sum.add(msg).checksum();
    msg[6..8].copy_from_slice(&c.to_be_bytes());
}

fn set_total_length(d: &mut [u8], total: usize) {
    d[2..4].copy_from_slice(&(total as u16).to_be_bytes());
}

fn decode_err(d: &[u8]) -> DecodeError {
    match decode_ipv4(d) {
        Ok(r) => panic!("decoded {r:?}"),
        Err(e) => e,
    }
}

// --- captured adverts --------------------------------------------------------------

#[test]
fn captured_adverts_decode() {
    for (name, bytes, advert, dst) in captures() {
        let got = decode_ipv4(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, Received { src: KEEPALIVED, dst, ttl: VRRP_TTL, advert }, "{name}");
    }
}

#[test]
fn captured_adverts_encode_to_the_same_bytes() {
    for (name, bytes, advert, dst) in captures() {
        let message = advert.encode(KEEPALIVED, dst).unwrap();
        assert_eq!(message, bytes[IPV4_HEADER_LEN..], "{name}: VRRP message");
        assert_eq!(message.len(), advert.encoded_len(), "{name}");

        let id = u16::from_be_bytes([bytes[4], bytes[5]]);
        let datagram = encode_ipv4_with_id(&advert, KEEPALIVED, dst, VRRP_TTL, id).unwrap();
        assert_eq!(datagram, bytes, "{name}: datagram");

        // encode_ipv4 leaves the identification to the kernel: the same bytes with ID 0.
        let mut expected = bytes.clone();
        expected[4..6].copy_from_slice(&[0, 0]);
        expected[10..12].copy_from_slice(&[0, 0]);
        let c = internet_checksum(&expected[..IPV4_HEADER_LEN]);
        expected[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(encode_ipv4(&advert, KEEPALIVED, dst, VRRP_TTL).unwrap(), expected, "{name}");
    }
}

#[test]
fn v3_interval_of_50_ms_is_5_cs() {
    let r = decode_ipv4(&hex(V3_CAPTURED)).unwrap();
    assert_eq!(r.advert.interval_cs, 5);
}

// --- checksums ---------------------------------------------------------------------

#[test]
fn v2_checksum_is_verified() {
    let mut d = hex(V2_CAPTURED);
    d[26..28].copy_from_slice(&[0x12, 0x34]);
    let e = decode_err(&d);
    assert_eq!(e, DecodeError::Checksum { found: 0x1234, computed: 0x2303 });
    assert_eq!(e.reason(), DropReason::BadChecksum);
    assert_eq!(e.to_string(), "checksum 0x1234, computed 0x2303");

    // Covers the authentication data.
    let mut d = hex(V2_CAPTURED);
    d[39] = 1;
    assert!(matches!(decode_err(&d), DecodeError::Checksum { found: 0x2303, .. }));
}

#[test]
fn v2_checksum_ignores_the_ip_addresses() {
    // No pseudo-header in version 2: another destination or source still decodes.
    let mut d = hex(V2_CAPTURED);
    d[16..20].copy_from_slice(&PEER.octets());
    d[12..16].copy_from_slice(&[192, 0, 2, 9]);
    let r = decode_ipv4(&d).unwrap();
    assert_eq!((r.src, r.dst), (Ipv4Addr::new(192, 0, 2, 9), PEER));
    assert_eq!(r.advert, v2_advert(150));
}

#[test]
fn v3_checksum_is_verified() {
    let mut d = hex(V3_CAPTURED);
    d[26..28].copy_from_slice(&[0xab, 0xcd]);
    let e = decode_err(&d);
    assert_eq!(e, DecodeError::Checksum { found: 0xabcd, computed: 0xd3d0 });
    assert_eq!(e.to_string(), "checksum 0xabcd, computed 0xd3d0");
}

#[test]
fn v3_checksum_covers_the_pseudo_header_source() {
    let mut d = hex(V3_CAPTURED);
    d[15] = 3; // source 192.0.2.3
    assert!(matches!(decode_err(&d), DecodeError::Checksum { found: 0xd3d0, .. }));
}

#[test]
fn v3_unicast_checksum_uses_the_unicast_destination() {
    let d = hex(V3_UNICAST);
    assert_eq!(&d[16..20], &PEER.octets());
    let advert = v3_unicast_advert(100);
    // The checksum keepalived computed is the one with dst 192.0.2.2 ...
    assert_eq!(advert.encode(KEEPALIVED, PEER).unwrap()[6..8], [0x61, 0x43]);
    // ... not the one the multicast group would give.
    let mcast = advert.encode(KEEPALIVED, VRRP_MCAST_V4).unwrap();
    assert_ne!(mcast[6..8], [0x61, 0x43]);

    // The same bytes sent to the group fail: the receiver uses the header's dst.
    let mut to_group = d.clone();
    to_group[16..20].copy_from_slice(&VRRP_MCAST_V4.octets());
    let computed = u16::from_be_bytes([mcast[6], mcast[7]]);
    assert_eq!(decode_err(&to_group), DecodeError::Checksum { found: 0x6143, computed });
}

#[test]
fn v3_pseudo_header_length_is_the_vrrp_length() {
    // IP options lengthen the IPv4 header, not the pseudo-header's length.
    let d = hex(V3_UNICAST);
    let mut with_options = d[..IPV4_HEADER_LEN].to_vec();
    with_options[0] = 0x46;
    with_options.extend_from_slice(&[0x94, 0x04, 0x00, 0x00]); // router alert
    with_options.extend_from_slice(&d[IPV4_HEADER_LEN..]);
    set_total_length(&mut with_options, d.len() + 4);
    assert_eq!(decode_ipv4(&with_options).unwrap(), decode_ipv4(&d).unwrap());
}

#[test]
fn checksum_has_two_zeros() {
    // One's complement has two zeros: a message whose other bytes sum to 0xffff is
    // right with 0x0000 (what encode writes) or 0xffff in the checksum field.
    let mut advert = Advert { auth: Auth::Other { auth_type: 5, data: [0; 8] }, ..v2_advert(9) };
    let message = advert.encode(KEEPALIVED, VRRP_MCAST_V4).unwrap();
    let rest = checksum::Sum::default().add(&message[..6]).add(&message[8..]).folded();
    let mut data = [0; 8];
    data[6..].copy_from_slice(&(0xffff - rest).to_be_bytes());
    advert.auth = Auth::Other { auth_type: 5, data };

    let mut d = encode_ipv4(&advert, KEEPALIVED, VRRP_MCAST_V4, VRRP_TTL).unwrap();
    assert_eq!(d[26..28], [0, 0]);
    assert_eq!(decode_ipv4(&d).unwrap().advert, advert);
    d[26..28].copy_from_slice(&[0xff, 0xff]);
    assert_eq!(decode_ipv4(&d).unwrap().advert, advert);
}

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

// --- the rest of decode --------------------------------------------------------------

#[test]
fn v3_reserved_bits_are_ignored() {
    let mut d = hex(V3_CAPTURED);
    d[24] |= 0xf0;
    fix_vrrp_checksum(&mut d);
    assert_eq!(decode_ipv4(&d).unwrap().advert, v3_advert(150));
}

#[test]
fn v2_auth_types() {
    let mut d = hex(V2_CAPTURED);
    d[24] = VRRP_AUTH_NONE;
    fix_vrrp_checksum(&mut d);
    assert_eq!(decode_ipv4(&d).unwrap().advert.auth, Auth::None);

    d[24] = VRRP_AUTH_AH;
    fix_vrrp_checksum(&mut d);
    let auth = decode_ipv4(&d).unwrap().advert.auth;
    assert_eq!(auth, Auth::Other { auth_type: 2, data: *b"1111\0\0\0\0" });
    let advert = Advert { auth, ..v2_advert(150) };
    assert_eq!(advert.encode(KEEPALIVED, VRRP_MCAST_V4).unwrap(), d[20..]);
}

#[test]
fn zero_addresses_decode() {
    for version in [Version::V2, Version::V3] {
        let advert = Advert {
            version,
            vrid: 1,
            priority: 100,
            interval_cs: 100,
            addresses: vec![],
            auth: Auth::None,
        };
        let d = encode_ipv4(&advert, KEEPALIVED, VRRP_MCAST_V4, 255).unwrap();
        assert_eq!(decode_ipv4(&d).unwrap().advert, advert);
    }
}

#[test]
fn peek_vrid_attributes_bad_adverts() {
    let good = hex(V3_UNICAST);
    assert_eq!(peek_vrid(&good), Some(7));

    let mut bad_checksum = good.clone();
    bad_checksum[26] ^= 1;
    assert_eq!(peek_vrid(&bad_checksum), Some(7));

    let mut bad_ttl = good.clone();
    bad_ttl[8] = 1;
    assert_eq!(peek_vrid(&bad_ttl), Some(7));

    let mut two_bytes = good[..22].to_vec();
    set_total_length(&mut two_bytes, 22);
    assert_eq!(peek_vrid(&two_bytes), Some(7));

    let mut one_byte = good[..21].to_vec();
    set_total_length(&mut one_byte, 21);
    assert_eq!(peek_vrid(&one_byte), None);
    assert_eq!(peek_vrid(&good[..10]), None);

    let mut not_vrrp = good.clone();
    not_vrrp[9] = 17;
    assert_eq!(peek_vrid(&not_vrrp), None);

    let mut not_ipv4 = good;
    not_ipv4[0] = 0x60;
    assert_eq!(peek_vrid(&not_ipv4), None);
}

/// Every single-byte change of every captured datagram: never a panic, and the result
/// is what the field changed says.
#[test]
fn every_single_byte_mutation_of_the_captures() {
    for (name, bytes, advert, _) in captures() {
        let original = decode_ipv4(&bytes).unwrap();
        for i in 0..bytes.len() {
            for v in 0..=255u8 {
                if v == bytes[i] {
                    continue;
                }
                let mut d = bytes.clone();
                d[i] = v;
                let r = decode_ipv4(&d);
                match i {
                    // TOS, identification, header checksum (the kernel checks that).
                    1 | 4 | 5 | 10 | 11 => {
                        assert_eq!(r.as_ref(), Ok(&original), "{name} [{i}]={v}")
                    }
                    // Source and destination: only the v3 checksum covers them.
                    12..=19 if advert.version == Version::V2 => {
                        assert_eq!(r.map(|r| r.advert).as_ref(), Ok(&advert), "{name} [{i}]={v}")
                    }
                    // The DF bit and the reserved bit are not fragmentation.
                    6 if v & 0x3f == 0 => assert!(r.is_ok(), "{name} [{i}]={v}"),
                    _ => assert!(r.is_err(), "{name} [{i}]={v}: {r:?}"),
                }
            }
        }
    }
}

// --- encode errors --------------------------------------------------------------------

#[test]
fn encode_rejects_v2_intervals() {
    for interval_cs in [0, 50, 150, 25_600, 65_500] {
        let a = Advert { interval_cs, ..v2_advert(100) };
        assert_eq!(
            a.encode(KEEPALIVED, VRRP_MCAST_V4),
            Err(EncodeError::V2Interval { interval_cs })
        );
    }
    for interval_cs in [100, 25_500] {
        let a = Advert { interval_cs, ..v2_advert(100) };
        let d = encode_ipv4(&a, KEEPALIVED, VRRP_MCAST_V4, 255).unwrap();
        assert_eq!(decode_ipv4(&d).unwrap().advert, a);
    }
}

#[test]
fn encode_rejects_v3_intervals() {
    for interval_cs in [0, 4096, u16::MAX] {
        let a = Advert { interval_cs, ..v3_advert(100) };
        assert_eq!(
            a.encode(KEEPALIVED, VRRP_MCAST_V4),
            Err(EncodeError::V3Interval { interval_cs })
        );
    }
    let a = Advert { interval_cs: 4095, ..v3_advert(100) };
    let d = encode_ipv4(&a, KEEPALIVED, VRRP_MCAST_V4, 255).unwrap();
    assert_eq!(decode_ipv4(&d).unwrap().advert, a);
}

#[test]
fn encode_rejects_too_many_addresses() {
    let many: Vec<Ipv4Addr> = (0..256u32).map(|i| Ipv4Addr::from(0x0a00_0000 + i)).collect();
    for version in [Version::V2, Version::V3] {
        let a = Advert { addresses: many.clone(), ..v3_advert(100) };
        let a = Advert { version, interval_cs: 100, ..a };
        assert_eq!(
            a.encode(KEEPALIVED, VRRP_MCAST_V4),
            Err(EncodeError::TooManyAddresses { count: 256 })
        );
        let a = Advert { addresses: many[..255].to_vec(), ..a };
        let d = encode_ipv4(&a, KEEPALIVED, VRRP_MCAST_V4, 255).unwrap();
        assert_eq!(decode_ipv4(&d).unwrap().advert, a);
    }
}

#[test]
fn encode_rejects_auth_on_v3() {
    let a = Advert { auth: Auth::Pass(*b"secret\0\0"), ..v3_advert(100) };
    let e = a.encode(KEEPALIVED, VRRP_MCAST_V4).unwrap_err();
    assert_eq!(e, EncodeError::AuthOnV3 { auth_type: 1 });
    assert_eq!(encode_ipv4(&a, KEEPALIVED, VRRP_MCAST_V4, 255), Err(e));
}

#[test]
fn encode_ipv4_writes_any_ttl() {
    let d = encode_ipv4(&v2_advert(100), KEEPALIVED, VRRP_MCAST_V4, 1).unwrap();
    assert_eq!(decode_err(&d), DecodeError::Ttl { ttl: 1 });
}

// --- properties ------------------------------------------------------------------------

fn arb_addresses() -> impl Strategy<Value = Vec<Ipv4Addr>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u32>().prop_map(Ipv4Addr::from), 0..8),
        1 => prop::collection::vec(any::<u32>().prop_map(Ipv4Addr::from), 0..=255),
    ]
}

fn arb_v2_auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        Just(Auth::None),
        any::<[u8; 8]>().prop_map(Auth::Pass),
        (2..=255u8, any::<[u8; 8]>()).prop_map(|(auth_type, data)| Auth::Other { auth_type, data }),
    ]
}

fn arb_advert() -> impl Strategy<Value = Advert> {
    let v2 = (any::<u8>(), any::<u8>(), 1..=255u16, arb_addresses(), arb_v2_auth()).prop_map(
        |(vrid, priority, secs, addresses, auth)| Advert {
            version: Version::V2,
            vrid,
            priority,
            interval_cs: secs * 100,
            addresses,
            auth,
        },
    );
    let v3 = (any::<u8>(), any::<u8>(), 1..=4095u16, arb_addresses()).prop_map(
        |(vrid, priority, interval_cs, addresses)| Advert {
            version: Version::V3,
            vrid,
            priority,
            interval_cs,
            addresses,
            auth: Auth::None,
        },
    );
    prop_oneof![v2, v3]
}

fn arb_ip() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![Just(VRRP_MCAST_V4), any::<u32>().prop_map(Ipv4Addr::from)]
}

proptest! {
    #[test]
    fn encode_decode_round_trip(advert in arb_advert(), src in arb_ip(), dst in arb_ip()) {
        let message = advert.encode(src, dst).unwrap();
        prop_assert_eq!(message.len(), advert.encoded_len());
        prop_assert_eq!(&Advert::decode(&message, src, dst).unwrap(), &advert);

        let d = encode_ipv4(&advert, src, dst, VRRP_TTL).unwrap();
        prop_assert_eq!(peek_vrid(&d), Some(advert.vrid));
        let r = decode_ipv4(&d).unwrap();
        prop_assert_eq!(r, Received { src, dst, ttl: VRRP_TTL, advert });
    }

    #[test]
    fn decode_of_arbitrary_bytes_never_panics(d in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = decode_ipv4(&d);
        let _ = peek_vrid(&d);
    }

    /// Random VRRP bytes behind a valid IPv4 header, so decode gets past the IP checks.
    #[test]
    fn decode_of_arbitrary_vrrp_messages_never_panics(
        message in prop::collection::vec(any::<u8>(), 0..64),
        version in prop_oneof![Just(0x21u8), Just(0x31u8), any::<u8>()],
    ) {
        let mut d = encode_ipv4(&v3_advert(1), KEEPALIVED, VRRP_MCAST_V4, 255).unwrap();
        d.truncate(IPV4_HEADER_LEN);
        d.extend_from_slice(&message);
        if let Some(b) = d.get_mut(IPV4_HEADER_LEN) {
            *b = version;
        }
        let len = d.len();
        set_total_length(&mut d, len);
        if let Ok(r) = decode_ipv4(&d) {
            let again = encode_ipv4(&r.advert, r.src, r.dst, r.ttl).unwrap();
            prop_assert_eq!(decode_ipv4(&again), Ok(r));
        }
    }

    #[test]
    fn single_byte_mutation_never_panics(
        advert in arb_advert(),
        src in arb_ip(),
        dst in arb_ip(),
        index in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        let mut d = encode_ipv4(&advert, src, dst, VRRP_TTL).unwrap();
        let i = index.index(d.len());
        let changed = d[i] != value;
        d[i] = value;
        let r = decode_ipv4(&d);
        let _ = peek_vrid(&d);
        // Any change of the VRRP message is caught (by the checksum at the latest).
        if changed && i >= IPV4_HEADER_LEN {
            prop_assert!(r.is_err(), "[{}]={}: {:?}", i, value, r);
        }
    }
}
