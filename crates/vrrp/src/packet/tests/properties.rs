//! Properties: round trips, and no panic on any input.

use proptest::prelude::*;

use super::*;

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
