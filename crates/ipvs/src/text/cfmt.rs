//! The C library behaviour ipvsadm's text depends on, redone in Rust: glibc's `inet_ntop`,
//! `inet_aton`, `strtol` and ipvsadm's own number and address helpers. Rust's own
//! formatting and parsing differ in corners (IPv4-compatible IPv6 addresses, `0x` octets,
//! signs), and those corners decide whether a file is byte-identical to `ipvsadm -Sn`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// glibc `inet_ntop(AF_INET6)`: like RFC 5952 but prints IPv4-compatible (`::a.b.c.d`)
/// and IPv4-mapped (`::ffff:a.b.c.d`) addresses with a dotted tail.
pub(crate) fn ntop6(addr: &Ipv6Addr) -> String {
    let words = addr.segments();
    // Longest run of zero words (first one on ties); runs of one word are not compressed.
    let (mut best_base, mut best_len) = (None::<usize>, 0usize);
    let mut cur: Option<(usize, usize)> = None;
    for (i, w) in words.iter().enumerate() {
        if *w == 0 {
            cur = Some(match cur {
                Some((b, l)) => (b, l + 1),
                None => (i, 1),
            });
        } else if let Some((b, l)) = cur.take() {
            if best_base.is_none() || l > best_len {
                (best_base, best_len) = (Some(b), l);
            }
        }
    }
    if let Some((b, l)) = cur {
        if best_base.is_none() || l > best_len {
            (best_base, best_len) = (Some(b), l);
        }
    }
    if best_len < 2 {
        best_base = None;
    }
    let in_run = |i: usize| best_base.is_some_and(|b| i >= b && i < b + best_len);
    let mut out = String::new();
    for i in 0..8 {
        if in_run(i) {
            if best_base == Some(i) {
                out.push(':');
            }
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        let embedded_v4 = i == 6
            && best_base == Some(0)
            && (best_len == 6 || (best_len == 5 && words[5] == 0xffff));
        if embedded_v4 {
            let o = addr.octets();
            let _ = write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            break;
        }
        let _ = write!(out, "{:x}", words[i]);
    }
    if best_base.is_some_and(|b| b + best_len == 8) {
        out.push(':');
    }
    out
}

/// ipvsadm `addrport_to_anyname` with `FMT_NUMERIC`: `"%s%s%s:%u"`, brackets unless IPv4.
pub(crate) fn addrport(addr: &IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{}]:{port}", ntop6(a)),
    }
}

/// ipvsadm `print_largenum` without `--exact`: nine columns, scaled by K/M/G/T past 10^8.
pub(crate) fn largenum(out: &mut String, i: u64) {
    let _ = if i < 100_000_000 {
        write!(out, "{i:9}")
    } else if i < 1_000_000_000 {
        write!(out, "{:8}K", i / 1000)
    } else if i < 100_000_000_000 {
        write!(out, "{:8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        write!(out, "{:8}G", i / 1_000_000_000)
    } else {
        write!(out, "{:8}T", i / 1_000_000_000_000)
    };
}

/// C `isspace` in the "C" locale.
fn c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Where the digits start after C's leading blanks and an optional sign, and whether
/// the sign was `-` (the prefix `strtol` and `atoi` share).
fn space_and_sign(b: &[u8]) -> (usize, bool) {
    let mut i = b.iter().take_while(|&&c| c_space(c)).count();
    let neg = b.get(i) == Some(&b'-');
    if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    (i, neg)
}

/// glibc `strtol(s, &end, 10)` requiring the whole string to be consumed and no `ERANGE`
/// (ipvsadm `string_to_number`, `parse_fwmark`): leading blanks and a sign are allowed.
pub(crate) fn strtol_whole(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (mut i, neg) = space_and_sign(b);
    let start = i;
    let mut v: i128 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        v = (v * 10 + i128::from(b[i] - b'0')).min(i128::from(u64::MAX) + 1);
        i += 1;
    }
    if i == start || i != b.len() {
        return None;
    }
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// ipvsadm `string_to_number(s, min, max)`.
pub(crate) fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    strtol_whole(s).filter(|n| (min..=max).contains(n))
}

/// C `atoi` as glibc does it (`(int) strtol(s, NULL, 10)`): stops at the first non-digit.
pub(crate) fn atoi(s: &str) -> i32 {
    let b = s.as_bytes();
    let (mut i, neg) = space_and_sign(b);
    let mut v: i64 = 0;
    let mut overflow = false;
    while i < b.len() && b[i].is_ascii_digit() {
        match v.checked_mul(10).and_then(|x| x.checked_add(i64::from(b[i] - b'0'))) {
            Some(n) => v = n,
            None => overflow = true,
        }
        i += 1;
    }
    // strtol saturates at LONG_MIN/LONG_MAX; the cast to int keeps the low 32 bits.
    let long = match (overflow, neg) {
        (true, false) => i64::MAX,
        (true, true) => i64::MIN,
        (false, true) => -v,
        (false, false) => v,
    };
    long as i32
}

/// One part of an `inet_aton` address: C `strtoul(.., 0)` (0x hex, leading-0 octal).
/// Returns the value and the rest of the string, or None if it does not start with a digit.
fn aton_part(s: &[u8]) -> Option<(u64, &[u8])> {
    if !s.first()?.is_ascii_digit() {
        return None;
    }
    let (radix, mut i) = if s[0] == b'0'
        && matches!(s.get(1), Some(b'x' | b'X'))
        && s.get(2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, 2)
    } else if s[0] == b'0' {
        (8, 1)
    } else {
        (10, 0)
    };
    let mut v: u64 = 0;
    while let Some(d) = s.get(i).and_then(|c| char::from(*c).to_digit(radix)) {
        // strtoul reports ERANGE on overflow, which inet_aton rejects.
        v = v.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
        i += 1;
    }
    Some((v, &s[i..]))
}

/// glibc `inet_aton`: `a.b.c.d`, `a.b.c`, `a.b` or `a`, each part decimal, octal or hex,
/// the last part filling the remaining bytes. Trailing blanks are allowed, as in glibc.
pub(crate) fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let mut rest = s.as_bytes();
    let mut parts: Vec<u64> = Vec::with_capacity(4);
    loop {
        let (v, r) = aton_part(rest)?;
        parts.push(v);
        match r.first() {
            Some(b'.') => {
                if parts.len() > 3 || v > 0xff {
                    return None;
                }
                rest = &r[1..];
            }
            Some(c) if !c_space(*c) => return None,
            _ => break,
        }
    }
    let (last, head) = parts.split_last()?;
    let max: u64 = [0xffff_ffff, 0xff_ffff, 0xffff, 0xff][head.len()];
    if *last > max {
        return None;
    }
    let mut v = *last as u32;
    for (i, p) in head.iter().enumerate() {
        v |= (*p as u32) << (24 - 8 * i);
    }
    Some(Ipv4Addr::from(v))
}

/// glibc `inet_pton(AF_INET6)`. Rust's parser accepts the same text forms.
pub(crate) fn inet_pton6(s: &str) -> Option<Ipv6Addr> {
    s.parse().ok()
}

/// `getservbyname(name, proto)` for the names a rules file plausibly uses, as Debian
/// bookworm's netbase `/etc/services` defines them. Parsing must not depend on the host.
pub(crate) fn service_port(name: &str, proto: &str) -> Option<u16> {
    const TCP: &[(&str, u16)] = &[
        ("ftp-data", 20),
        ("ftp", 21),
        ("ssh", 22),
        ("telnet", 23),
        ("smtp", 25),
        ("mail", 25),
        ("domain", 53),
        ("http", 80),
        ("www", 80),
        ("pop3", 110),
        ("pop-3", 110),
        ("imap2", 143),
        ("imap", 143),
        ("ldap", 389),
        ("https", 443),
        ("submission", 587),
        ("ldaps", 636),
        ("imaps", 993),
        ("pop3s", 995),
        ("mysql", 3306),
        ("sip", 5060),
        ("sip-tls", 5061),
        ("postgresql", 5432),
        ("postgres", 5432),
        ("redis", 6379),
        ("http-alt", 8080),
        ("webcache", 8080),
    ];
    const UDP: &[(&str, u16)] = &[
        ("domain", 53),
        ("ntp", 123),
        ("snmp", 161),
        ("ldap", 389),
        ("https", 443),
        ("ldaps", 636),
        ("sip", 5060),
        ("sip-tls", 5061),
    ];
    let table = match proto {
        "tcp" => TCP,
        "udp" => UDP,
        _ => return None,
    };
    table.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().expect("test address")
    }

    #[test]
    fn ntop6_matches_glibc_forms() {
        assert_eq!(ntop6(&v6("::")), "::");
        assert_eq!(ntop6(&v6("::1")), "::1");
        assert_eq!(ntop6(&v6("::2")), "::2");
        assert_eq!(ntop6(&v6("::ffff:10.0.0.1")), "::ffff:10.0.0.1");
        assert_eq!(ntop6(&v6("::a00:1")), "::10.0.0.1");
        assert_eq!(ntop6(&v6("2001:db8::1")), "2001:db8::1");
        assert_eq!(ntop6(&v6("2001:db8:0:1:0:0:0:1")), "2001:db8:0:1::1");
        assert_eq!(ntop6(&v6("2001:0:0:1:0:0:1:1")), "2001::1:0:0:1:1");
        assert_eq!(ntop6(&v6("2001:db8:1:2:3:4:5:0")), "2001:db8:1:2:3:4:5:0");
        assert_eq!(ntop6(&v6("fe80::")), "fe80::");
        assert_eq!(ntop6(&v6("1:0:1:0:1:0:1:0")), "1:0:1:0:1:0:1:0");
    }

    #[test]
    fn largenum_scales_like_print_largenum() {
        let f = |n| {
            let mut s = String::new();
            largenum(&mut s, n);
            s
        };
        assert_eq!(f(0), "        0");
        assert_eq!(f(99_999_999), " 99999999");
        assert_eq!(f(100_000_000), "  100000K");
        assert_eq!(f(999_999_999), "  999999K");
        assert_eq!(f(1_000_000_000), "    1000M");
        assert_eq!(f(99_999_999_999), "   99999M");
        assert_eq!(f(100_000_000_000), "     100G");
        assert_eq!(f(100_000_000_000_000), "     100T");
        assert_eq!(f(u64::MAX), "18446744T");
    }

    #[test]
    fn numbers_parse_like_strtol() {
        assert_eq!(strtol_whole("80"), Some(80));
        assert_eq!(strtol_whole(" +80"), Some(80));
        assert_eq!(strtol_whole("-3"), Some(-3));
        assert_eq!(strtol_whole("80x"), None);
        assert_eq!(strtol_whole(""), None);
        assert_eq!(strtol_whole("-"), None);
        assert_eq!(strtol_whole("99999999999999999999"), None);
        assert_eq!(string_to_number("65535", 0, 65535), Some(65535));
        assert_eq!(string_to_number("65536", 0, 65535), None);
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi("-1"), -1);
    }

    #[test]
    fn inet_aton_accepts_glibc_forms() {
        let a = |s| inet_aton(s).map(|a| a.to_string());
        assert_eq!(a("255.255.255.0").as_deref(), Some("255.255.255.0"));
        assert_eq!(a("10.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(a("10.1.2").as_deref(), Some("10.1.0.2"));
        assert_eq!(a("0xff.0377.255.0").as_deref(), Some("255.255.255.0"));
        assert_eq!(a("4294967040").as_deref(), Some("255.255.255.0"));
        assert_eq!(a("24").as_deref(), Some("0.0.0.24"));
        assert_eq!(a("256.1.1.1"), None);
        assert_eq!(a("1.2.3.4.5"), None);
        assert_eq!(a("08"), None);
        assert_eq!(a("1.2.3.x"), None);
        assert_eq!(a("host.example"), None);
        assert_eq!(a(""), None);
    }

    #[test]
    fn service_names_resolve_per_protocol() {
        assert_eq!(service_port("http", "tcp"), Some(80));
        assert_eq!(service_port("https", "udp"), Some(443));
        assert_eq!(service_port("http", "udp"), None);
        assert_eq!(service_port("http", "sctp"), None);
    }
}
