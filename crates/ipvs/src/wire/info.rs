//! Global information and connection timeouts (`IPVS_CMD_GET_INFO`, `*_CONFIG`).

use super::{
    Attrs, DecodeError, MessageBuilder, IPVS_CMD_ATTR_TIMEOUT_TCP, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
    IPVS_CMD_ATTR_TIMEOUT_UDP,
};
use crate::global::{Info, Timeouts};

pub const IPVS_INFO_ATTR_VERSION: u16 = 1;
pub const IPVS_INFO_ATTR_CONN_TAB_SIZE: u16 = 2;

/// Parses the top-level attributes of a `GET_INFO` reply.
pub fn parse_info(attrs: &[u8]) -> Result<Info, DecodeError> {
    let (mut version, mut size) = (None, None);
    for attr in Attrs::new(attrs) {
        let attr = attr?;
        match attr.kind {
            IPVS_INFO_ATTR_VERSION => version = Some(attr.u32("IPVS_INFO_ATTR_VERSION")?),
            IPVS_INFO_ATTR_CONN_TAB_SIZE => size = Some(attr.u32("CONN_TAB_SIZE")?),
            _ => {}
        }
    }
    Ok(Info {
        version: version.ok_or(DecodeError::Missing("IPVS_INFO_ATTR_VERSION"))?,
        conn_tab_size: size.ok_or(DecodeError::Missing("IPVS_INFO_ATTR_CONN_TAB_SIZE"))?,
    })
}

/// Parses the top-level attributes of a `GET_CONFIG` reply.
pub fn parse_timeouts(attrs: &[u8]) -> Result<Timeouts, DecodeError> {
    let mut t = Timeouts::default();
    for attr in Attrs::new(attrs) {
        let attr = attr?;
        match attr.kind {
            IPVS_CMD_ATTR_TIMEOUT_TCP => t.tcp = attr.u32("IPVS_CMD_ATTR_TIMEOUT_TCP")?,
            IPVS_CMD_ATTR_TIMEOUT_TCP_FIN => t.tcp_fin = attr.u32("TIMEOUT_TCP_FIN")?,
            IPVS_CMD_ATTR_TIMEOUT_UDP => t.udp = attr.u32("IPVS_CMD_ATTR_TIMEOUT_UDP")?,
            _ => {}
        }
    }
    Ok(t)
}

/// The attributes of `SET_CONFIG`; a zero timeout is sent as zero, which the kernel
/// takes as "leave unchanged".
pub fn put_timeouts(b: &mut MessageBuilder, t: &Timeouts) {
    b.put_u32(IPVS_CMD_ATTR_TIMEOUT_TCP, t.tcp);
    b.put_u32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, t.tcp_fin);
    b.put_u32(IPVS_CMD_ATTR_TIMEOUT_UDP, t.udp);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_reply() {
        #[rustfmt::skip]
        let attrs = [8u8, 0, 1, 0, 0x01, 0x02, 0x01, 0x00, 8, 0, 2, 0, 0x00, 0x10, 0, 0];
        let info = parse_info(&attrs).unwrap();
        assert_eq!(info.version_string(), "1.2.1");
        assert_eq!(info.conn_tab_size, 4096);
    }

    #[test]
    fn timeouts_roundtrip() {
        let t = Timeouts { tcp: 900, tcp_fin: 120, udp: 300 };
        let mut b = MessageBuilder::new();
        put_timeouts(&mut b, &t);
        assert_eq!(parse_timeouts(b.as_bytes()).unwrap(), t);
    }
}
