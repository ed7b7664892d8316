//! Virtual services: `IPVS_CMD_ATTR_SERVICE` and its `IPVS_SVC_ATTR_*` attributes.

use super::{stats, Attrs, DecodeError, MessageBuilder, IPVS_CMD_ATTR_SERVICE};
use crate::model::{
    Family, Netmask, Protocol, Scheduler, Service, ServiceEntry, ServiceFlags, ServiceKey, Stats,
};
use std::net::Ipv4Addr;

pub const IPVS_SVC_ATTR_AF: u16 = 1;
pub const IPVS_SVC_ATTR_PROTOCOL: u16 = 2;
pub const IPVS_SVC_ATTR_ADDR: u16 = 3;
pub const IPVS_SVC_ATTR_PORT: u16 = 4;
pub const IPVS_SVC_ATTR_FWMARK: u16 = 5;
pub const IPVS_SVC_ATTR_SCHED_NAME: u16 = 6;
pub const IPVS_SVC_ATTR_FLAGS: u16 = 7;
pub const IPVS_SVC_ATTR_TIMEOUT: u16 = 8;
pub const IPVS_SVC_ATTR_NETMASK: u16 = 9;
pub const IPVS_SVC_ATTR_STATS: u16 = 10;
pub const IPVS_SVC_ATTR_PE_NAME: u16 = 11;
pub const IPVS_SVC_ATTR_STATS64: u16 = 12;

/// The kernel's limits on names (`IP_VS_SCHEDNAME_MAXLEN`, `IP_VS_PENAME_MAXLEN`, with NUL).
pub const IP_VS_SCHEDNAME_MAXLEN: usize = 16;
pub const IP_VS_PENAME_MAXLEN: usize = 16;

fn put_key_attrs(b: &mut MessageBuilder, key: &ServiceKey) {
    b.put_u16(IPVS_SVC_ATTR_AF, key.family().to_af());
    match key {
        ServiceKey::Addr { protocol, addr, port } => {
            b.put_u16(IPVS_SVC_ATTR_PROTOCOL, protocol.number());
            b.put_inet_addr(IPVS_SVC_ATTR_ADDR, addr);
            b.put_be16(IPVS_SVC_ATTR_PORT, *port);
        }
        ServiceKey::Fwmark { mark, .. } => b.put_u32(IPVS_SVC_ATTR_FWMARK, *mark),
    }
}

/// `IPVS_CMD_ATTR_SERVICE` naming a service only (delete, destination ops, dumps).
pub fn put_key(b: &mut MessageBuilder, key: &ServiceKey) {
    b.begin_nested(IPVS_CMD_ATTR_SERVICE);
    put_key_attrs(b, key);
    b.end_nested();
}

/// `IPVS_CMD_ATTR_SERVICE` with every settable field (add, edit): the kernel requires
/// scheduler, flags, timeout and netmask together.
pub fn put_full(b: &mut MessageBuilder, svc: &Service) {
    b.begin_nested(IPVS_CMD_ATTR_SERVICE);
    put_key_attrs(b, &svc.key);
    b.put_cstr(IPVS_SVC_ATTR_SCHED_NAME, svc.scheduler.name());
    if let Some(pe) = &svc.pe_name {
        b.put_cstr(IPVS_SVC_ATTR_PE_NAME, pe);
    }
    // struct ip_vs_flags { flags, mask }: a full mask replaces every flag.
    let mut flags = [0u8; 8];
    flags[..4].copy_from_slice(&svc.flags.0.to_ne_bytes());
    flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    b.put(IPVS_SVC_ATTR_FLAGS, &flags);
    b.put_u32(IPVS_SVC_ATTR_TIMEOUT, svc.timeout);
    b.put_u32(IPVS_SVC_ATTR_NETMASK, netmask_to_kernel(&svc.netmask));
    b.end_nested();
}

fn netmask_to_kernel(mask: &Netmask) -> u32 {
    match mask {
        // The IPv4 mask travels as its network-order bytes read as a native u32.
        Netmask::V4(m) => u32::from_ne_bytes(m.octets()),
        Netmask::V6Prefix(p) => u32::from(*p),
    }
}

fn netmask_from_kernel(family: Family, raw: u32) -> Netmask {
    match family {
        Family::Inet => Netmask::V4(Ipv4Addr::from(raw.to_ne_bytes())),
        Family::Inet6 => Netmask::V6Prefix(raw.min(128) as u8),
    }
}

/// Parses the payload of an `IPVS_CMD_ATTR_SERVICE` from a dump or get reply.
pub fn parse(buf: &[u8]) -> Result<ServiceEntry, DecodeError> {
    let mut af = None;
    let (mut protocol, mut addr, mut port, mut fwmark) = (None, None, None, None);
    let (mut sched, mut flags, mut timeout, mut netmask, mut pe) = (None, 0, 0, None, None);
    let (mut stats, mut stats64): (Option<Stats>, Option<Stats>) = (None, None);
    // Attributes may come in any order; the address needs the family, so keep it raw.
    let mut raw_addr = None;
    for attr in Attrs::new(buf) {
        let attr = attr?;
        match attr.kind {
            IPVS_SVC_ATTR_AF => af = Some(attr.u16("IPVS_SVC_ATTR_AF")?),
            IPVS_SVC_ATTR_PROTOCOL => protocol = Some(attr.u16("IPVS_SVC_ATTR_PROTOCOL")?),
            IPVS_SVC_ATTR_ADDR => raw_addr = Some(attr),
            IPVS_SVC_ATTR_PORT => port = Some(attr.be16("IPVS_SVC_ATTR_PORT")?),
            IPVS_SVC_ATTR_FWMARK => fwmark = Some(attr.u32("IPVS_SVC_ATTR_FWMARK")?),
            IPVS_SVC_ATTR_SCHED_NAME => sched = Some(attr.string("IPVS_SVC_ATTR_SCHED_NAME")?),
            IPVS_SVC_ATTR_FLAGS => flags = attr.u32("IPVS_SVC_ATTR_FLAGS")?,
            IPVS_SVC_ATTR_TIMEOUT => timeout = attr.u32("IPVS_SVC_ATTR_TIMEOUT")?,
            IPVS_SVC_ATTR_NETMASK => netmask = Some(attr.u32("IPVS_SVC_ATTR_NETMASK")?),
            IPVS_SVC_ATTR_PE_NAME => {
                pe = Some(attr.string("IPVS_SVC_ATTR_PE_NAME")?).filter(|s| !s.is_empty())
            }
            IPVS_SVC_ATTR_STATS => stats = Some(stats::parse(attr.payload, false)?),
            IPVS_SVC_ATTR_STATS64 => stats64 = Some(stats::parse(attr.payload, true)?),
            _ => {}
        }
    }
    let af = af.ok_or(DecodeError::Missing("IPVS_SVC_ATTR_AF"))?;
    let family = Family::from_af(af).ok_or(DecodeError::BadFamily(af))?;
    if let Some(a) = raw_addr {
        addr = Some(a.inet_addr(af, "IPVS_SVC_ATTR_ADDR")?);
    }
    let key = match (fwmark, protocol, addr, port) {
        (Some(mark), ..) if mark != 0 => ServiceKey::Fwmark { family, mark },
        (_, Some(p), Some(addr), Some(port)) => {
            ServiceKey::Addr { protocol: Protocol::from_number(p), addr, port }
        }
        _ => return Err(DecodeError::Missing("IPVS_SVC_ATTR_FWMARK or PROTOCOL/ADDR/PORT")),
    };
    let service = Service {
        key,
        scheduler: Scheduler::from_name(
            &sched.ok_or(DecodeError::Missing("IPVS_SVC_ATTR_SCHED_NAME"))?,
        ),
        flags: ServiceFlags::from_kernel(flags),
        timeout,
        netmask: netmask.map_or(Netmask::full(family), |m| netmask_from_kernel(family, m)),
        pe_name: pe,
    };
    Ok(ServiceEntry { service, stats: stats64.or(stats).unwrap_or_default() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Attrs;
    use std::net::IpAddr;

    fn nested_payload(b: &MessageBuilder) -> Vec<u8> {
        let attr = Attrs::new(b.as_bytes()).next().unwrap().unwrap();
        assert_eq!(attr.kind, IPVS_CMD_ATTR_SERVICE);
        attr.payload.to_vec()
    }

    #[test]
    fn full_service_bytes_match_kernel_layout() {
        // The service whose kernel dump is captured in wire/captured.rs.
        let svc = crate::wire::captured::captured_service();
        let mut b = MessageBuilder::new();
        put_full(&mut b, &svc);
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[84u8, 0, 1, 0x80][..],                        // nested IPVS_CMD_ATTR_SERVICE
            &[6, 0, 1, 0, 2, 0, 0, 0],                      // AF = AF_INET
            &[6, 0, 2, 0, 6, 0, 0, 0],                      // PROTOCOL = 6
            &[20, 0, 3, 0, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // ADDR
            &[6, 0, 4, 0, 0, 80, 0, 0],                     // PORT, big endian
            &[8, 0, 6, 0, b'w', b'r', b'r', 0],             // SCHED_NAME
            &[12, 0, 7, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], // FLAGS {1, ~0}
            &[8, 0, 8, 0, 44, 1, 0, 0],                     // TIMEOUT 300
            &[8, 0, 9, 0, 255, 255, 255, 0],                // NETMASK 255.255.255.0
        ]
        .concat();
        assert_eq!(b.as_bytes(), &expected[..]);

        // And the same bytes parse back into the same service.
        let parsed = parse(&nested_payload(&b)).unwrap();
        assert_eq!(parsed.service, svc);
    }

    #[test]
    fn fwmark_ipv6_key_and_hashed_flag_is_dropped() {
        let mut b = MessageBuilder::new();
        b.begin_nested(IPVS_CMD_ATTR_SERVICE);
        b.put_u16(IPVS_SVC_ATTR_AF, crate::model::AF_INET6);
        b.put_u32(IPVS_SVC_ATTR_FWMARK, 7);
        b.put_cstr(IPVS_SVC_ATTR_SCHED_NAME, "mh");
        b.put(IPVS_SVC_ATTR_FLAGS, &[0x0a, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        b.put_u32(IPVS_SVC_ATTR_TIMEOUT, 0);
        b.put_u32(IPVS_SVC_ATTR_NETMASK, 64);
        b.put_cstr(IPVS_SVC_ATTR_PE_NAME, "");
        b.end_nested();
        let e = parse(&nested_payload(&b)).unwrap();
        assert_eq!(e.service.key, ServiceKey::Fwmark { family: Family::Inet6, mark: 7 });
        assert_eq!(e.service.scheduler, Scheduler::Mh);
        assert_eq!(e.service.flags.0, ServiceFlags::IP_VS_SVC_F_SCHED1);
        assert_eq!(e.service.netmask, Netmask::V6Prefix(64));
        assert_eq!(e.service.pe_name, None);
    }

    #[test]
    fn ipv6_address_key_roundtrips() {
        let svc = Service::new(ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr: IpAddr::V6("2001:db8::1".parse().unwrap()),
            port: 9000,
        });
        let mut b = MessageBuilder::new();
        put_full(&mut b, &svc);
        assert_eq!(parse(&nested_payload(&b)).unwrap().service, svc);
    }

    #[test]
    fn missing_family_is_reported() {
        let mut b = MessageBuilder::new();
        b.begin_nested(IPVS_CMD_ATTR_SERVICE);
        b.put_u32(IPVS_SVC_ATTR_FWMARK, 7);
        b.end_nested();
        assert_eq!(parse(&nested_payload(&b)), Err(DecodeError::Missing("IPVS_SVC_ATTR_AF")));
    }
}
