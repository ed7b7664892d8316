//! decode_ipv4 on arbitrary bytes must not panic; what it accepts must survive
//! encode_ipv4 with the decoded addresses and TTL and decode to the same thing.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp::packet::{decode_ipv4, encode_ipv4, peek_vrid};

fuzz_target!(|data: &[u8]| {
    let vrid = peek_vrid(data);
    let Ok(received) = decode_ipv4(data) else {
        return;
    };
    assert_eq!(vrid, Some(received.advert.vrid));
    let again = encode_ipv4(&received.advert, received.src, received.dst, received.ttl)
        .expect("a decoded advert encodes");
    assert_eq!(decode_ipv4(&again).as_ref(), Ok(&received));
});
