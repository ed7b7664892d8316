//! Option values as ipvsadm 1.31 reads them: `parse_service` (addresses and ports),
//! `parse_sched_flags`, and the bounded numbers of `string_to_number`.

use std::net::IpAddr;

use super::cfmt;
use crate::model::{Protocol, ServiceFlags};

/// An address with the port, when one was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostPort {
    pub addr: IpAddr,
    pub port: Option<u16>,
}

/// ipvsadm `parse_service`: `a.b.c.d[:port]`, `[v6addr]:port` or a bare IPv6 address;
/// the port is a number or a service name of `protocol` (`IPPROTO_*`). Host names are not
/// resolved (ipvsadm would ask the resolver), so they do not parse.
pub(crate) fn parse_service(buf: &str, protocol: u16) -> Option<HostPort> {
    // str_is_digit: a bare number (or nothing) is no address.
    if buf.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut host = buf;
    let mut port: Option<&str> = None;
    if let Some(inner) = buf.strip_prefix('[') {
        let close = inner.find(']')?;
        port = Some(inner[close + 1..].strip_prefix(':')?);
        host = &inner[..close];
    }
    let addr = match cfmt::inet_pton6(host) {
        Some(a) => IpAddr::V6(a),
        None => {
            // ipvsadm looks for the port again with strrchr: inside brackets that finds
            // none, so `[1.2.3.4]:80` is an address without a port.
            let split = host.rfind(':');
            port = split.map(|i| &host[i + 1..]);
            IpAddr::V4(cfmt::inet_aton(split.map_or(host, |i| &host[..i]))?)
        }
    };
    let Some(p) = port else {
        return Some(HostPort { addr, port: None });
    };
    let proto = match protocol {
        Protocol::IPPROTO_TCP => "tcp",
        Protocol::IPPROTO_UDP => "udp",
        Protocol::IPPROTO_SCTP => "sctp",
        _ => "",
    };
    let number = cfmt::string_to_number(p, 0, 65535).and_then(|n| u16::try_from(n).ok());
    let port = number.or_else(|| cfmt::service_port(p, proto))?;
    Some(HostPort { addr, port: Some(port) })
}

/// ipvsadm `parse_sched_flags`: comma-separated (strtok, so empty items are skipped); the
/// `sh-*` and `mh-*` names need their scheduler.
pub(crate) fn parse_sched_flags(sched: &str, arg: &str) -> Result<u32, String> {
    let mut flags = 0;
    let mut any = false;
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        any = true;
        let (bit, needs) = match flag {
            "flag-1" => (ServiceFlags::IP_VS_SVC_F_SCHED1, None),
            "flag-2" => (ServiceFlags::IP_VS_SVC_F_SCHED2, None),
            "flag-3" => (ServiceFlags::IP_VS_SVC_F_SCHED3, None),
            "sh-fallback" => (ServiceFlags::IP_VS_SVC_F_SCHED_SH_FALLBACK, Some("sh")),
            "sh-port" => (ServiceFlags::IP_VS_SVC_F_SCHED_SH_PORT, Some("sh")),
            "mh-fallback" => (ServiceFlags::IP_VS_SVC_F_SCHED_MH_FALLBACK, Some("mh")),
            "mh-port" => (ServiceFlags::IP_VS_SVC_F_SCHED_MH_PORT, Some("mh")),
            _ => {
                return Err(format!(
                    "invalid scheduler flag `{flag}' (expected flag-1, flag-2, flag-3, \
                     sh-fallback, sh-port, mh-fallback or mh-port)"
                ))
            }
        };
        if let Some(s) = needs.filter(|s| *s != sched) {
            return Err(format!(
                "incompatible scheduler flag `{flag}': it needs -s {s}, not {sched}"
            ));
        }
        flags |= bit;
    }
    if !any {
        return Err(format!("invalid scheduler flags `{arg}'"));
    }
    Ok(flags)
}

/// `string_to_number` with ipvsadm's "illegal X specified" message.
pub(crate) fn number(value: &str, min: i64, max: i64, what: &str) -> Result<u32, String> {
    match cfmt::string_to_number(value, min, max) {
        Some(n) => Ok(n as u32),
        None => Err(format!("illegal {what} specified: `{value}' (expected {min}..={max})")),
    }
}

/// `strncpy` into a fixed buffer: at most `max` bytes (never splitting a character).
pub(crate) fn truncated(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(buf: &str) -> Option<(String, Option<u16>)> {
        parse_service(buf, Protocol::IPPROTO_TCP).map(|h| (h.addr.to_string(), h.port))
    }

    #[test]
    fn parse_service_forms() {
        let s = |a: &str, p| Some((a.to_string(), p));
        assert_eq!(hp("10.0.0.1:80"), s("10.0.0.1", Some(80)));
        assert_eq!(hp("10.0.0.1"), s("10.0.0.1", None));
        assert_eq!(hp("[2001:db8::1]:443"), s("2001:db8::1", Some(443)));
        assert_eq!(hp("2001:db8::1"), s("2001:db8::1", None));
        assert_eq!(hp("[10.0.0.1]:80"), s("10.0.0.1", None));
        assert_eq!(hp("10.0.0.1:http"), s("10.0.0.1", Some(80)));
        assert_eq!(hp("10.0.0.1:0"), s("10.0.0.1", Some(0)));
        assert_eq!(hp("80"), None);
        assert_eq!(hp(""), None);
        assert_eq!(hp("[2001:db8::1]"), None);
        assert_eq!(hp("[2001:db8::1]80"), None);
        assert_eq!(hp("10.0.0.1:65536"), None);
        assert_eq!(hp("10.0.0.1:nosuch"), None);
        assert_eq!(hp("www.example.org:80"), None);
        assert_eq!(parse_service("10.0.0.1:http", Protocol::IPPROTO_UDP), None);
    }

    #[test]
    fn sched_flags() {
        let f = ServiceFlags::IP_VS_SVC_F_SCHED1 | ServiceFlags::IP_VS_SVC_F_SCHED3;
        assert_eq!(parse_sched_flags("rr", ",flag-3,,flag-1,"), Ok(f));
        assert_eq!(parse_sched_flags("sh", "sh-port"), Ok(ServiceFlags::IP_VS_SVC_F_SCHED2));
        assert!(parse_sched_flags("wlc", "sh-port").is_err());
        assert!(parse_sched_flags("mh", "flag-4").is_err());
        assert!(parse_sched_flags("mh", ",").is_err());
    }

    #[test]
    fn numbers_and_names() {
        assert_eq!(number("7", 0, 10, "weight"), Ok(7));
        assert_eq!(
            number("11", 0, 10, "weight"),
            Err("illegal weight specified: `11' (expected 0..=10)".to_string())
        );
        assert_eq!(truncated("abcdef", 4), "abcd");
        assert_eq!(truncated("ab", 4), "ab");
        assert_eq!(truncated("aé", 2), "a");
    }
}
