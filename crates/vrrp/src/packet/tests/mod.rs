//! Codec tests: adverts captured from keepalived, one test per decode error, the
//! checksums, and properties (round trip, no panics on any input).

use std::net::Ipv4Addr;

use super::*;

mod decode_errors;
mod encode;
mod properties;

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
