//! Decode details beyond the errors, and encode's own errors.

use super::*;

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
