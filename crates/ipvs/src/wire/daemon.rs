//! Connection-sync daemons: `IPVS_CMD_ATTR_DAEMON` and its `IPVS_DAEMON_ATTR_*` attributes.

use std::net::{IpAddr, Ipv4Addr};

use super::{Attrs, DecodeError, MessageBuilder, IPVS_CMD_ATTR_DAEMON};
use crate::global::{DaemonState, SyncDaemon};
use crate::model::AF_INET6;

pub const IPVS_DAEMON_ATTR_STATE: u16 = 1;
pub const IPVS_DAEMON_ATTR_MCAST_IFN: u16 = 2;
pub const IPVS_DAEMON_ATTR_SYNC_ID: u16 = 3;
pub const IPVS_DAEMON_ATTR_SYNC_MAXLEN: u16 = 4;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP: u16 = 5;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP6: u16 = 6;
pub const IPVS_DAEMON_ATTR_MCAST_PORT: u16 = 7;
pub const IPVS_DAEMON_ATTR_MCAST_TTL: u16 = 8;

/// The daemon to start (`IPVS_CMD_NEW_DAEMON`).
pub fn put_full(b: &mut MessageBuilder, d: &SyncDaemon) {
    b.begin_nested(IPVS_CMD_ATTR_DAEMON);
    b.put_u32(IPVS_DAEMON_ATTR_STATE, d.state.to_kernel());
    b.put_cstr(IPVS_DAEMON_ATTR_MCAST_IFN, &d.mcast_ifn);
    b.put_u32(IPVS_DAEMON_ATTR_SYNC_ID, d.sync_id);
    if let Some(len) = d.sync_maxlen {
        b.put_u16(IPVS_DAEMON_ATTR_SYNC_MAXLEN, len);
    }
    match d.mcast_group {
        Some(IpAddr::V4(g)) => b.put(IPVS_DAEMON_ATTR_MCAST_GROUP, &g.octets()),
        Some(IpAddr::V6(g)) => b.put(IPVS_DAEMON_ATTR_MCAST_GROUP6, &g.octets()),
        None => {}
    }
    if let Some(port) = d.mcast_port {
        // Unlike service ports, the kernel keeps this one in host order (it adds the
        // thread id, then htons()).
        b.put_u16(IPVS_DAEMON_ATTR_MCAST_PORT, port);
    }
    if let Some(ttl) = d.mcast_ttl {
        b.put_u8(IPVS_DAEMON_ATTR_MCAST_TTL, ttl);
    }
    b.end_nested();
}

/// The daemon to stop (`IPVS_CMD_DEL_DAEMON`): the state is its identity.
pub fn put_state(b: &mut MessageBuilder, state: DaemonState) {
    b.begin_nested(IPVS_CMD_ATTR_DAEMON);
    b.put_u32(IPVS_DAEMON_ATTR_STATE, state.to_kernel());
    b.end_nested();
}

/// Parses the payload of an `IPVS_CMD_ATTR_DAEMON` from a dump.
pub fn parse(buf: &[u8]) -> Result<SyncDaemon, DecodeError> {
    let mut d = SyncDaemon::new(DaemonState::Other(0), String::new(), 0);
    let mut state = None;
    for attr in Attrs::new(buf) {
        let attr = attr?;
        match attr.kind {
            IPVS_DAEMON_ATTR_STATE => state = Some(attr.u32("IPVS_DAEMON_ATTR_STATE")?),
            IPVS_DAEMON_ATTR_MCAST_IFN => d.mcast_ifn = attr.string("MCAST_IFN")?,
            IPVS_DAEMON_ATTR_SYNC_ID => d.sync_id = attr.u32("IPVS_DAEMON_ATTR_SYNC_ID")?,
            IPVS_DAEMON_ATTR_SYNC_MAXLEN => d.sync_maxlen = Some(attr.u16("SYNC_MAXLEN")?),
            IPVS_DAEMON_ATTR_MCAST_GROUP => {
                let raw = attr.u32("IPVS_DAEMON_ATTR_MCAST_GROUP")?;
                let g = Ipv4Addr::from(raw.to_ne_bytes());
                d.mcast_group = Some(IpAddr::V4(g)).filter(|g| !g.is_unspecified());
            }
            IPVS_DAEMON_ATTR_MCAST_GROUP6 => {
                let g = attr.inet_addr(AF_INET6, "IPVS_DAEMON_ATTR_MCAST_GROUP6")?;
                d.mcast_group = Some(g).filter(|g| !g.is_unspecified());
            }
            IPVS_DAEMON_ATTR_MCAST_PORT => d.mcast_port = Some(attr.u16("MCAST_PORT")?),
            IPVS_DAEMON_ATTR_MCAST_TTL => d.mcast_ttl = Some(attr.u8("MCAST_TTL")?),
            _ => {}
        }
    }
    d.state = DaemonState::from_kernel(state.ok_or(DecodeError::Missing("DAEMON_ATTR_STATE"))?);
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_roundtrip_with_group_port_ttl() {
        let mut d = SyncDaemon::new(DaemonState::Master, "eth1", 51);
        d.mcast_group = Some("224.0.0.81".parse().unwrap());
        d.mcast_port = Some(8848);
        d.mcast_ttl = Some(1);
        d.sync_maxlen = Some(1472);
        let mut b = MessageBuilder::new();
        put_full(&mut b, &d);
        let attr = Attrs::new(b.as_bytes()).next().unwrap().unwrap();
        assert_eq!(attr.kind, IPVS_CMD_ATTR_DAEMON);
        assert_eq!(parse(attr.payload).unwrap(), d);
        // STATE first: u32 1
        assert_eq!(&attr.payload[..8], &[8, 0, 1, 0, 1, 0, 0, 0]);
        // MCAST_PORT travels in host order, as the kernel reads it.
        let port = Attrs::new(attr.payload)
            .map(Result::unwrap)
            .find(|a| a.kind == IPVS_DAEMON_ATTR_MCAST_PORT)
            .unwrap();
        assert_eq!(port.payload, &8848u16.to_ne_bytes());
    }
}
