//! Logging of dropped packets: once per minute per (interface, VRID, reason), with the
//! count of those not logged in between, and the values that disagree, so an operator
//! sees "interval 2 s, ours 1 s" rather than only a counter going up.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::counters::DropReason;
use crate::machine::InstanceConfig;
use crate::packet::{Advert, Auth};

/// At most one log line per key in this long.
const LOG_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(super) struct DropLog {
    /// Per key: when it was last logged and how many drops went unlogged since.
    seen: HashMap<(String, Option<u8>, DropReason), (Instant, u64)>,
}

impl DropLog {
    pub fn record(
        &mut self,
        now: Instant,
        iface: &str,
        vrid: Option<u8>,
        reason: DropReason,
        from: Option<Ipv4Addr>,
        why: &str,
    ) {
        let key = (iface.to_string(), vrid, reason);
        let quiet = match self.seen.get_mut(&key) {
            Some((last, quiet)) if now.duration_since(*last) < LOG_EVERY => {
                *quiet += 1;
                return;
            }
            Some((last, quiet)) => {
                *last = now;
                std::mem::take(quiet)
            }
            None => {
                self.seen.insert(key, (now, 0));
                0
            }
        };
        let from = from.map_or_else(|| "?".to_string(), |a| a.to_string());
        let vrid = vrid.map_or_else(|| "?".to_string(), |v| v.to_string());
        let since = if quiet > 0 {
            format!(" ({quiet} more since the last report)")
        } else {
            String::new()
        };
        let line = format!(
            "dropped VRRP packet on {iface} from {from} (vrid {vrid}): {}: {why}{since}",
            reason.as_str()
        );
        // Other routers' VRIDs on a shared LAN are normal, not a warning.
        if reason == DropReason::UnknownVrid {
            tracing::debug!("{line}");
        } else {
            tracing::warn!("{line}");
        }
    }
}

/// What differs between a dropped advert and the instance it was meant for.
pub(super) fn mismatch(
    reason: DropReason,
    advert: &Advert,
    ours: Option<&InstanceConfig>,
) -> String {
    let Some(ours) = ours else {
        return format!("no instance runs vrid {} on this interface", advert.vrid);
    };
    match reason {
        DropReason::VersionMismatch => {
            format!("version {}, ours {}", advert.version.number(), ours.version.number())
        }
        DropReason::IntervalMismatch => format!(
            "interval {} ms, ours {} ms",
            u32::from(advert.interval_cs) * 10,
            u32::from(ours.advert_interval_cs) * 10
        ),
        DropReason::AuthMismatch => {
            format!("authentication {}, ours {}", auth(&advert.auth), auth(&ours.auth))
        }
        DropReason::AddressMismatch => {
            let theirs: Vec<String> = advert.addresses.iter().map(|a| a.to_string()).collect();
            let mine: Vec<String> =
                ours.virtual_addresses.iter().map(|v| v.address.to_string()).collect();
            format!("addresses [{}], ours [{}]", theirs.join(", "), mine.join(", "))
        }
        _ => format!("priority {}", advert.priority),
    }
}

/// Never prints a password: only whether the types and secrets agree.
fn auth(auth: &Auth) -> String {
    match auth {
        Auth::None => "none".into(),
        Auth::Pass(_) => "pass (password not shown)".into(),
        Auth::Other { auth_type, .. } => format!("type {auth_type}"),
    }
}
