//! Real servers: `IPVS_CMD_ATTR_DEST` and its `IPVS_DEST_ATTR_*` attributes.

use std::net::IpAddr;

use super::{stats, Attrs, DecodeError, MessageBuilder, IPVS_CMD_ATTR_DEST};
use crate::model::{
    ConnCounts, Destination, DestinationEntry, Family, Forwarding, Stats, Tunnel, TunnelFlags,
    TunnelType,
};

pub const IPVS_DEST_ATTR_ADDR: u16 = 1;
pub const IPVS_DEST_ATTR_PORT: u16 = 2;
pub const IPVS_DEST_ATTR_FWD_METHOD: u16 = 3;
pub const IPVS_DEST_ATTR_WEIGHT: u16 = 4;
pub const IPVS_DEST_ATTR_U_THRESH: u16 = 5;
pub const IPVS_DEST_ATTR_L_THRESH: u16 = 6;
pub const IPVS_DEST_ATTR_ACTIVE_CONNS: u16 = 7;
pub const IPVS_DEST_ATTR_INACT_CONNS: u16 = 8;
pub const IPVS_DEST_ATTR_PERSIST_CONNS: u16 = 9;
pub const IPVS_DEST_ATTR_STATS: u16 = 10;
pub const IPVS_DEST_ATTR_ADDR_FAMILY: u16 = 11;
pub const IPVS_DEST_ATTR_STATS64: u16 = 12;
pub const IPVS_DEST_ATTR_TUN_TYPE: u16 = 13;
pub const IPVS_DEST_ATTR_TUN_PORT: u16 = 14;
pub const IPVS_DEST_ATTR_TUN_FLAGS: u16 = 15;

/// `IPVS_CMD_ATTR_DEST` naming a destination only (delete).
pub fn put_key(b: &mut MessageBuilder, addr: &IpAddr, port: u16) {
    b.begin_nested(IPVS_CMD_ATTR_DEST);
    b.put_u16(IPVS_DEST_ATTR_ADDR_FAMILY, Family::of(addr).to_af());
    b.put_inet_addr(IPVS_DEST_ATTR_ADDR, addr);
    b.put_be16(IPVS_DEST_ATTR_PORT, port);
    b.end_nested();
}

/// `IPVS_CMD_ATTR_DEST` with every settable field (add, edit): the kernel requires
/// forwarding, weight and both thresholds together.
pub fn put_full(b: &mut MessageBuilder, d: &Destination) {
    b.begin_nested(IPVS_CMD_ATTR_DEST);
    b.put_u16(IPVS_DEST_ATTR_ADDR_FAMILY, Family::of(&d.addr).to_af());
    b.put_inet_addr(IPVS_DEST_ATTR_ADDR, &d.addr);
    b.put_be16(IPVS_DEST_ATTR_PORT, d.port);
    b.put_u32(IPVS_DEST_ATTR_FWD_METHOD, d.forwarding.to_kernel());
    b.put_u32(IPVS_DEST_ATTR_WEIGHT, d.weight);
    b.put_u32(IPVS_DEST_ATTR_U_THRESH, d.upper_threshold);
    b.put_u32(IPVS_DEST_ATTR_L_THRESH, d.lower_threshold);
    if let Some(kind) = d.tunnel.kind {
        b.put_u8(IPVS_DEST_ATTR_TUN_TYPE, kind.to_kernel());
        b.put_be16(IPVS_DEST_ATTR_TUN_PORT, d.tunnel.port);
        b.put_u16(IPVS_DEST_ATTR_TUN_FLAGS, d.tunnel.flags.0);
    }
    b.end_nested();
}

/// Parses the payload of an `IPVS_CMD_ATTR_DEST` from a dump. `service_af` is the family
/// of the service, which older kernels do not repeat per destination.
pub fn parse(buf: &[u8], service_af: u16) -> Result<DestinationEntry, DecodeError> {
    let mut af = service_af;
    let (mut raw_addr, mut port, mut fwd) = (None, None, None);
    let (mut weight, mut upper, mut lower) = (0, 0, 0);
    let mut tunnel_kind = None;
    let mut tunnel = Tunnel::default();
    let mut conns = ConnCounts::default();
    let (mut stats, mut stats64): (Option<Stats>, Option<Stats>) = (None, None);
    for attr in Attrs::new(buf) {
        let attr = attr?;
        match attr.kind {
            IPVS_DEST_ATTR_ADDR => raw_addr = Some(attr),
            IPVS_DEST_ATTR_PORT => port = Some(attr.be16("IPVS_DEST_ATTR_PORT")?),
            IPVS_DEST_ATTR_FWD_METHOD => fwd = Some(attr.u32("IPVS_DEST_ATTR_FWD_METHOD")?),
            IPVS_DEST_ATTR_WEIGHT => weight = attr.u32("IPVS_DEST_ATTR_WEIGHT")?,
            IPVS_DEST_ATTR_U_THRESH => upper = attr.u32("IPVS_DEST_ATTR_U_THRESH")?,
            IPVS_DEST_ATTR_L_THRESH => lower = attr.u32("IPVS_DEST_ATTR_L_THRESH")?,
            IPVS_DEST_ATTR_ACTIVE_CONNS => {
                conns.active = attr.u32("IPVS_DEST_ATTR_ACTIVE_CONNS")?
            }
            IPVS_DEST_ATTR_INACT_CONNS => {
                conns.inactive = attr.u32("IPVS_DEST_ATTR_INACT_CONNS")?
            }
            IPVS_DEST_ATTR_PERSIST_CONNS => {
                conns.persistent = attr.u32("IPVS_DEST_ATTR_PERSIST_CONNS")?
            }
            IPVS_DEST_ATTR_STATS => stats = Some(stats::parse(attr.payload, false)?),
            IPVS_DEST_ATTR_STATS64 => stats64 = Some(stats::parse(attr.payload, true)?),
            IPVS_DEST_ATTR_ADDR_FAMILY => af = attr.u16("IPVS_DEST_ATTR_ADDR_FAMILY")?,
            IPVS_DEST_ATTR_TUN_TYPE => {
                tunnel_kind = Some(TunnelType::from_kernel(attr.u8("IPVS_DEST_ATTR_TUN_TYPE")?))
            }
            IPVS_DEST_ATTR_TUN_PORT => tunnel.port = attr.be16("IPVS_DEST_ATTR_TUN_PORT")?,
            IPVS_DEST_ATTR_TUN_FLAGS => {
                tunnel.flags = TunnelFlags(attr.u16("IPVS_DEST_ATTR_TUN_FLAGS")?)
            }
            _ => {}
        }
    }
    let addr = raw_addr
        .ok_or(DecodeError::Missing("IPVS_DEST_ATTR_ADDR"))?
        .inet_addr(af, "IPVS_DEST_ATTR_ADDR")?;
    let forwarding = Forwarding::from_kernel(fwd.ok_or(DecodeError::Missing("FWD_METHOD"))?);
    tunnel.kind = tunnel_kind;
    // The kernel reports tunnel attributes for every destination (type ipip, port 0 when
    // unset); normalizing keeps them only where they mean something.
    let destination = Destination {
        addr,
        port: port.ok_or(DecodeError::Missing("IPVS_DEST_ATTR_PORT"))?,
        forwarding,
        weight,
        upper_threshold: upper,
        lower_threshold: lower,
        tunnel,
    }
    .normalized();
    Ok(DestinationEntry { destination, conns, stats: stats64.or(stats).unwrap_or_default() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AF_INET;

    fn payload(b: &MessageBuilder) -> Vec<u8> {
        let attr = Attrs::new(b.as_bytes()).next().unwrap().unwrap();
        assert_eq!(attr.kind, IPVS_CMD_ATTR_DEST);
        attr.payload.to_vec()
    }

    #[test]
    fn route_destination_bytes() {
        let mut d = Destination::new("198.51.100.7".parse().unwrap(), 8080);
        d.weight = 3;
        let mut b = MessageBuilder::new();
        put_full(&mut b, &d);
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[72u8, 0, 2, 0x80][..],
            &[6, 0, 11, 0, 2, 0, 0, 0],                     // ADDR_FAMILY AF_INET
            &[20, 0, 1, 0, 198, 51, 100, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[6, 0, 2, 0, 0x1f, 0x90, 0, 0],                // PORT 8080 big endian
            &[8, 0, 3, 0, 3, 0, 0, 0],                      // FWD_METHOD DROUTE
            &[8, 0, 4, 0, 3, 0, 0, 0],                      // WEIGHT
            &[8, 0, 5, 0, 0, 0, 0, 0],                      // U_THRESH
            &[8, 0, 6, 0, 0, 0, 0, 0],                      // L_THRESH
        ]
        .concat();
        assert_eq!(b.as_bytes(), &expected[..]);
        assert_eq!(parse(&payload(&b), AF_INET).unwrap().destination, d);
    }

    #[test]
    fn ipv6_tunnel_in_ipv4_service_with_gue() {
        let mut d = Destination::new("2001:db8::7".parse().unwrap(), 80);
        d.forwarding = Forwarding::Tunnel;
        d.tunnel = Tunnel {
            kind: Some(TunnelType::Gue),
            port: 6080,
            flags: TunnelFlags(TunnelFlags::IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM),
        };
        let mut b = MessageBuilder::new();
        put_full(&mut b, &d);
        assert_eq!(parse(&payload(&b), AF_INET).unwrap().destination, d);
    }

    #[test]
    fn tunnel_attributes_of_non_tunnel_destinations_are_ignored() {
        let mut b = MessageBuilder::new();
        b.begin_nested(IPVS_CMD_ATTR_DEST);
        b.put_inet_addr(IPVS_DEST_ATTR_ADDR, &"198.51.100.1".parse().unwrap());
        b.put_be16(IPVS_DEST_ATTR_PORT, 80);
        b.put_u32(IPVS_DEST_ATTR_FWD_METHOD, 0);
        b.put_u8(IPVS_DEST_ATTR_TUN_TYPE, 0);
        b.put_be16(IPVS_DEST_ATTR_TUN_PORT, 0);
        b.put_u32(IPVS_DEST_ATTR_ACTIVE_CONNS, 5);
        b.end_nested();
        let e = parse(&payload(&b), AF_INET).unwrap();
        assert_eq!(e.destination.forwarding, Forwarding::Masq);
        assert_eq!(e.destination.tunnel, Tunnel::default());
        assert_eq!(e.conns.active, 5);
    }
}
