//! Counters nested in services and destinations (`IPVS_STATS_ATTR_*`).

use super::{Attrs, DecodeError};
use crate::model::Stats;

pub const IPVS_STATS_ATTR_CONNS: u16 = 1;
pub const IPVS_STATS_ATTR_INPKTS: u16 = 2;
pub const IPVS_STATS_ATTR_OUTPKTS: u16 = 3;
pub const IPVS_STATS_ATTR_INBYTES: u16 = 4;
pub const IPVS_STATS_ATTR_OUTBYTES: u16 = 5;
pub const IPVS_STATS_ATTR_CPS: u16 = 6;
pub const IPVS_STATS_ATTR_INPPS: u16 = 7;
pub const IPVS_STATS_ATTR_OUTPPS: u16 = 8;
pub const IPVS_STATS_ATTR_INBPS: u16 = 9;
pub const IPVS_STATS_ATTR_OUTBPS: u16 = 10;

/// Parses `*_ATTR_STATS` (`wide == false`: mixed u32/u64) or `*_ATTR_STATS64` (all u64).
pub fn parse(buf: &[u8], wide: bool) -> Result<Stats, DecodeError> {
    let mut s = Stats::default();
    for attr in Attrs::new(buf) {
        let attr = attr?;
        // In the legacy set only the byte counters are 64-bit.
        let v = |what| {
            if wide || matches!(attr.kind, IPVS_STATS_ATTR_INBYTES | IPVS_STATS_ATTR_OUTBYTES) {
                attr.u64(what)
            } else {
                attr.u32(what).map(u64::from)
            }
        };
        match attr.kind {
            IPVS_STATS_ATTR_CONNS => s.conns = v("IPVS_STATS_ATTR_CONNS")?,
            IPVS_STATS_ATTR_INPKTS => s.inpkts = v("IPVS_STATS_ATTR_INPKTS")?,
            IPVS_STATS_ATTR_OUTPKTS => s.outpkts = v("IPVS_STATS_ATTR_OUTPKTS")?,
            IPVS_STATS_ATTR_INBYTES => s.inbytes = v("IPVS_STATS_ATTR_INBYTES")?,
            IPVS_STATS_ATTR_OUTBYTES => s.outbytes = v("IPVS_STATS_ATTR_OUTBYTES")?,
            IPVS_STATS_ATTR_CPS => s.cps = v("IPVS_STATS_ATTR_CPS")?,
            IPVS_STATS_ATTR_INPPS => s.inpps = v("IPVS_STATS_ATTR_INPPS")?,
            IPVS_STATS_ATTR_OUTPPS => s.outpps = v("IPVS_STATS_ATTR_OUTPPS")?,
            IPVS_STATS_ATTR_INBPS => s.inbps = v("IPVS_STATS_ATTR_INBPS")?,
            IPVS_STATS_ATTR_OUTBPS => s.outbps = v("IPVS_STATS_ATTR_OUTBPS")?,
            _ => {} // IPVS_STATS_ATTR_PAD and future counters
        }
    }
    Ok(s)
}
