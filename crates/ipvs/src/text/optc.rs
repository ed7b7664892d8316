//! ipvsadm's option classes (`OPTC_*`, `optnames[]`) and the two tables that say which
//! options go with which command (`commands_v_options[]`, checked by `generic_opt_check`)
//! and with which tunnel type (`tunnel_types_v_options[]`, `tunnel_opt_check`).

use super::args::{Cmd, Tag};
use super::command::LineError;

/// `optnames[]`, indexed by `OPTC_*`; `generic_opt_check` walks them in this order.
pub(crate) const OPTNAMES: [&str; 34] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
];

pub(crate) const SERVICE: usize = 2;
pub(crate) const SCHEDULER: usize = 3;
pub(crate) const PERSISTENT: usize = 4;
pub(crate) const NETMASK: usize = 5;
pub(crate) const SERVER: usize = 6;
pub(crate) const FORWARD: usize = 7;
pub(crate) const WEIGHT: usize = 8;
pub(crate) const UTHRESHOLD: usize = 9;
pub(crate) const LTHRESHOLD: usize = 10;
pub(crate) const ONEPACKET: usize = 21;
pub(crate) const PE: usize = 22;
pub(crate) const SCHED_FLAGS: usize = 23;
pub(crate) const TUN_TYPE: usize = 29;
pub(crate) const TUN_PORT: usize = 30;
pub(crate) const TUN_NOCSUM: usize = 31;
pub(crate) const TUN_CSUM: usize = 32;
pub(crate) const TUN_REMCSUM: usize = 33;

/// The option class a tag counts as (`set_option` calls); `None` for `-6` and `--sort`,
/// which ipvsadm lets repeat.
pub(crate) fn optc(tag: Tag) -> Option<usize> {
    Some(match tag {
        Tag::Numeric => 0,
        Tag::Connection => 1,
        Tag::Tcp | Tag::Udp | Tag::Sctp | Tag::Fwmark => SERVICE,
        Tag::Scheduler => SCHEDULER,
        Tag::Persistent => PERSISTENT,
        Tag::Netmask => NETMASK,
        Tag::RealServer => SERVER,
        Tag::Masq | Tag::Ipip | Tag::Gate => FORWARD,
        Tag::Weight => WEIGHT,
        Tag::UThreshold => UTHRESHOLD,
        Tag::LThreshold => LTHRESHOLD,
        Tag::McastInterface => 11,
        Tag::Timeout => 12,
        Tag::Daemon => 13,
        Tag::Stats => 14,
        Tag::Rate => 15,
        Tag::Thresholds => 16,
        Tag::PersistentConn => 17,
        Tag::NoSort => 18,
        Tag::SyncId => 19,
        Tag::Exact => 20,
        Tag::Ops => ONEPACKET,
        Tag::Pe => PE,
        Tag::SchedFlags => SCHED_FLAGS,
        Tag::McastGroup => 24,
        Tag::McastPort => 25,
        Tag::McastTtl => 26,
        Tag::SyncMaxlen => 27,
        Tag::TunInfo => 28,
        Tag::TunType => TUN_TYPE,
        Tag::TunPort => TUN_PORT,
        Tag::TunNocsum => TUN_NOCSUM,
        Tag::TunCsum => TUN_CSUM,
        Tag::TunRemcsum => TUN_REMCSUM,
        Tag::Ipv6 | Tag::Sort | Tag::Command(_) => return None,
    })
}

/// The option classes present on a line, and where each stood (for messages).
#[derive(Debug, Clone)]
pub(crate) struct Present {
    bits: u64,
    columns: [Option<usize>; 34],
}

impl Default for Present {
    fn default() -> Self {
        Present { bits: 0, columns: [None; 34] }
    }
}

impl Present {
    pub fn has(&self, optc: usize) -> bool {
        self.bits & (1 << optc) != 0
    }

    pub fn column(&self, optc: usize) -> Option<usize> {
        self.columns[optc]
    }

    /// `set_option`: false if the class was already there.
    pub fn add(&mut self, optc: usize, column: usize) -> bool {
        if self.has(optc) {
            return false;
        }
        self.bits |= 1 << optc;
        self.columns[optc] = Some(column);
        true
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    Required,
    Optional,
    Illegal,
}

/// `commands_v_options[]` for the commands a rules file may hold.
/// The option classes `cmd` requires, and those it accepts besides.
fn option_lists(cmd: Cmd) -> (&'static [usize], &'static [usize]) {
    const DEST_OPTIONAL: &[usize] = &[
        FORWARD,
        WEIGHT,
        UTHRESHOLD,
        LTHRESHOLD,
        TUN_TYPE,
        TUN_PORT,
        TUN_NOCSUM,
        TUN_CSUM,
        TUN_REMCSUM,
    ];
    match cmd {
        Cmd::Add | Cmd::Edit => {
            (&[SERVICE], &[SCHEDULER, PERSISTENT, NETMASK, ONEPACKET, PE, SCHED_FLAGS])
        }
        Cmd::Del => (&[SERVICE], &[]),
        Cmd::AddDest | Cmd::EditDest => (&[SERVICE, SERVER], DEST_OPTIONAL),
        Cmd::DelDest => (&[SERVICE, SERVER], &[]),
        Cmd::Zero => (&[], &[SERVICE]),
        _ => (&[], &[]),
    }
}

fn rule(cmd: Cmd, optc: usize) -> Rule {
    let (required, optional) = option_lists(cmd);
    if required.contains(&optc) {
        Rule::Required
    } else if optional.contains(&optc) {
        Rule::Optional
    } else {
        Rule::Illegal
    }
}

fn mask(classes: &[usize]) -> u64 {
    classes.iter().fold(0, |m, &c| m | 1 << c)
}

fn err(column: Option<usize>, message: String) -> Result<(), LineError> {
    Err(LineError { column, message })
}

/// `generic_opt_check`: the first missing compulsory or present illegal option, in
/// `OPTC_*` order.
pub(crate) fn generic_opt_check(cmd: Cmd, p: &Present) -> Result<(), LineError> {
    // Every line passes through here: check the masks first, walk the table only to
    // find which option to name.
    let (required, optional) = option_lists(cmd);
    let (required, allowed) = (mask(required), mask(required) | mask(optional));
    if p.bits & required == required && p.bits & !allowed == 0 {
        return Ok(());
    }
    for (j, name) in OPTNAMES.iter().enumerate() {
        match (p.has(j), rule(cmd, j)) {
            (false, Rule::Required) => {
                let what = format!(
                    "You need to supply the '{name}' option for the '{}' command",
                    cmd.name()
                );
                return err(None, what);
            }
            (true, Rule::Illegal) => {
                let what = format!("Illegal '{name}' option with the '{}' command", cmd.name());
                return err(p.column(j), what);
            }
            _ => {}
        }
    }
    Ok(())
}

/// `tunnel_opt_check` with `tunnel_types_v_options[]`: gue needs --tun-port and takes one
/// checksum option, gre takes --tun-nocsum or --tun-csum, ipip takes none.
pub(crate) fn tunnel_opt_check(tun_type: u8, p: &Present) -> Result<(), LineError> {
    const TUNNAMES: [&str; 3] = ["ipip", "gue", "gre"];
    const OPTS: [usize; 4] = [TUN_PORT, TUN_NOCSUM, TUN_CSUM, TUN_REMCSUM];
    const TABLE: [[u8; 4]; 3] = [*b"xxxx", *b"+111", *b"x11x"];
    let t = usize::from(tun_type).min(2);
    let tun = TUNNAMES[t];
    let mut first: Option<usize> = None;
    for (j, k) in OPTS.iter().enumerate() {
        let (rule, name) = (TABLE[t][j], OPTNAMES[*k]);
        if !p.has(*k) {
            if rule == b'+' {
                let what =
                    format!("You need to supply the '{name}' option for the '{tun}' tunnel type");
                return err(p.column(TUN_TYPE), what);
            }
            continue;
        }
        if rule == b'x' {
            return err(
                p.column(*k),
                format!("Illegal '{name}' option with the '{tun}' tunnel type"),
            );
        }
        if rule == b'1' {
            if let Some(last) = first {
                let what = format!(
                    "The option '{name}' conflicts with the '{}' option in the '{tun}' tunnel type",
                    OPTNAMES[last]
                );
                return err(p.column(*k), what);
            }
            first = Some(*k);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn present(opts: &[usize]) -> Present {
        let mut p = Present::default();
        for (i, o) in opts.iter().enumerate() {
            assert!(p.add(*o, i + 1));
        }
        p
    }

    #[test]
    fn a_class_counts_once() {
        let mut p = present(&[SERVICE]);
        assert!(!p.add(SERVICE, 9));
        assert_eq!(p.column(SERVICE), Some(1));
    }

    #[test]
    fn generic_check_reports_the_first_problem_in_optc_order() {
        assert!(generic_opt_check(Cmd::Add, &present(&[SERVICE, SCHEDULER, PE])).is_ok());
        let e =
            generic_opt_check(Cmd::AddDest, &present(&[SERVICE])).expect_err("should be refused");
        assert_eq!(
            e.message,
            "You need to supply the 'real-server' option for the 'add-server' command"
        );
        let e = generic_opt_check(Cmd::Add, &present(&[SERVICE, WEIGHT, SERVER]))
            .expect_err("should be refused");
        assert_eq!(e.message, "Illegal 'real-server' option with the 'add-service' command");
        assert_eq!(e.column, Some(3));
        assert!(generic_opt_check(Cmd::Flush, &present(&[])).is_ok());
        assert!(generic_opt_check(Cmd::Zero, &present(&[])).is_ok());
    }

    #[test]
    fn tunnel_check_follows_the_type_table() {
        assert!(tunnel_opt_check(0, &present(&[])).is_ok());
        assert!(tunnel_opt_check(1, &present(&[TUN_TYPE, TUN_PORT, TUN_CSUM])).is_ok());
        assert!(tunnel_opt_check(2, &present(&[TUN_TYPE, TUN_NOCSUM])).is_ok());
        let msg = |t, opts: &[usize]| {
            tunnel_opt_check(t, &present(opts)).expect_err("should be refused").message
        };
        assert_eq!(
            msg(1, &[TUN_TYPE]),
            "You need to supply the 'tun-port' option for the 'gue' tunnel type"
        );
        assert_eq!(
            msg(2, &[TUN_TYPE, TUN_REMCSUM]),
            "Illegal 'tun-remcsum' option with the 'gre' tunnel type"
        );
        assert_eq!(
            msg(1, &[TUN_TYPE, TUN_PORT, TUN_NOCSUM, TUN_CSUM]),
            "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gue' tunnel type"
        );
    }
}
