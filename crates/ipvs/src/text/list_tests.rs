//! Tests of `ipvsadm -Ln` rendering. Expected lines are written by hand from ipvsadm 1.31's
//! formats: `print_title`, and in `print_service_entry` the service line `"%s %s"` and the
//! server line `"  -> %-28s %-7s %-6d %-10u %-10u\n"` (hence the trailing blanks),
//! `"%-33s"` + `print_largenum` for `--stats`, `"  -> %-28s %8llu %8llu %8llu"` for `--rate`.

use super::*;
use crate::model::{ConnCounts, Destination, Family, Forwarding, ServiceEntry, Stats, Table};
use crate::text::fixtures::{self, dest, fwm, svc, table, tcp};

const INFO: Info = Info { version: 0x01_02_01, conn_tab_size: 4096 };

const HEADER: &str = "IP Virtual Server version 1.2.1 (size=4096)";
const TITLE: &str = "Prot LocalAddress:Port Scheduler Flags\n  \
                     -> RemoteAddress:Port           Forward Weight ActiveConn InActConn";

/// A listing of a table with counters picked per server.
fn listed(t: &Table, conns: impl Fn(&Destination) -> ConnCounts) -> Vec<ListedService> {
    t.services
        .iter()
        .map(|ts| ListedService {
            entry: ServiceEntry { service: ts.service.clone(), stats: Stats::default() },
            destinations: ts
                .destinations
                .iter()
                .map(|d| DestinationEntry {
                    destination: d.clone(),
                    conns: conns(d),
                    stats: Stats::default(),
                })
                .collect(),
        })
        .collect()
}

fn lines(ls: &[&str]) -> String {
    let mut s = ls.join("\n");
    s.push('\n');
    s
}

#[test]
fn empty_table_prints_header_and_title() {
    assert_eq!(render(&INFO, &[], ListOptions::default()), lines(&[HEADER, TITLE]));
}

#[test]
fn web_matches_ipvsadm_ln() {
    let l = listed(&fixtures::web(), |d| match d.weight {
        5 => ConnCounts { active: 12, inactive: 345, persistent: 0 },
        2 => ConnCounts { active: 7, inactive: 1, persistent: 0 },
        _ => ConnCounts::default(),
    });
    let expected = lines(&[
        HEADER,
        TITLE,
        "TCP  10.0.0.1:80 wlc",
        "  -> 10.0.1.1:80                  Route   5      12         345       ",
        "  -> 10.0.1.2:80                  Route   1      0          0         ",
        "  -> 10.0.1.3:8080                Masq    2      7          1         ",
        "TCP  10.0.0.1:443 rr persistent 360 mask 255.255.255.0",
        "  -> 10.0.1.1:443                 Route   1      0          0         ",
    ]);
    assert_eq!(render(&INFO, &l, ListOptions::default()), expected);
}

#[test]
fn mixed_matches_ipvsadm_ln() {
    // " (flags)" right after the scheduler, then " persistent %u", " mask", " pe", " ops".
    let l = listed(&fixtures::mixed(), |_| ConnCounts::default());
    let expected = lines(&[
        HEADER,
        TITLE,
        "SCTP 10.0.0.5:3868 sed",
        "TCP  [2001:db8::10]:80 sh (sh-fallback,sh-port)",
        "  -> [2001:db8::1]:80             Route   0      0          0         ",
        "  -> [2001:db8::2]:8080           Masq    3      0          0         ",
        "UDP  [2001:db8::10]:53 rr persistent 60 mask 64 ops",
        "  -> [2001:db8::3]:53             Route   1      0          0         ",
        "FWM  1 lc persistent 600 mask 255.255.0.0 pe sip ops",
        "  -> 192.168.1.10:0               Route   1      0          0         ",
        "  -> 192.168.1.11:8443            Masq    1      0          0         ",
        "FWM  2 IPv6 mh (mh-port)",
        "  -> [2001:db8::4]:0              Route   7      0          0         ",
    ]);
    assert_eq!(render(&INFO, &l, ListOptions::default()), expected);
}

#[test]
fn forwarding_names_and_persistence_engine_only_when_persistent() {
    let mut s = svc(fwm(Family::Inet6, 9), "rr");
    s.pe_name = Some("sip".into());
    let t = table(vec![(
        s,
        vec![
            fixtures::tunnel("10.0.0.4", 0, crate::model::TunnelType::Gre, 0, 1),
            dest("10.0.0.5", 0, Forwarding::Local, 1),
            dest("10.0.0.6", 0, Forwarding::Other(5), 70000),
        ],
    )]);
    let expected = lines(&[
        HEADER,
        TITLE,
        "FWM  9 IPv6 rr",
        "  -> 10.0.0.4:0                   Tunnel  1      0          0         ",
        "  -> 10.0.0.5:0                   Local   1      0          0         ",
        "  -> 10.0.0.6:0                   (null)  70000  0          0         ",
    ]);
    let l = listed(&t, |_| ConnCounts::default());
    assert_eq!(render(&INFO, &l, ListOptions::default()), expected);
}

fn one_service(stats: Stats) -> Vec<ListedService> {
    let t = table(vec![(
        svc(tcp("10.0.0.1", 80), "wlc"),
        vec![dest("10.0.1.1", 80, Forwarding::Route, 1)],
    )]);
    let mut l = listed(&t, |_| ConnCounts::default());
    l[0].entry.stats = stats;
    l[0].destinations[0].stats = stats;
    l
}

#[test]
fn stats_use_largenum_columns() {
    let stats = Stats {
        conns: 0,
        inpkts: 99_999_999,
        outpkts: 100_000_000,
        inbytes: 1_234_567_890_123,
        outbytes: 123_456_789_012_345_678,
        ..Stats::default()
    };
    let expected = lines(&[
        HEADER,
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
        "  -> RemoteAddress:Port",
        "TCP  10.0.0.1:80                         0 99999999  100000K    1234G  123456T",
        "  -> 10.0.1.1:80                         0 99999999  100000K    1234G  123456T",
    ]);
    let opts = ListOptions { stats: true, rate: false };
    assert_eq!(render(&INFO, &one_service(stats), opts), expected);
    // --stats wins over --rate, as FMT_STATS is tested first.
    let both = ListOptions { stats: true, rate: true };
    assert_eq!(render(&INFO, &one_service(stats), both), expected);
}

#[test]
fn rate_prints_packet_rates_plainly_for_servers() {
    let stats = Stats {
        cps: 5,
        inpps: 1_234_567_890,
        outpps: 7,
        inbps: 999_999_999,
        outbps: 100_000_000_000,
        ..Stats::default()
    };
    let expected = lines(&[
        HEADER,
        "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS",
        "  -> RemoteAddress:Port",
        "TCP  10.0.0.1:80                         5    1234M        7  999999K     100G",
        // 10^11 bytes/s keeps its low 32 bits for a server (see the test below).
        "  -> 10.0.1.1:80                         5 1234567890        7  999999K    1215M",
    ]);
    let opts = ListOptions { stats: false, rate: true };
    assert_eq!(render(&INFO, &one_service(stats), opts), expected);
}

#[test]
fn services_and_servers_are_sorted_like_ipvsadm() {
    let t = table(vec![
        (svc(fwm(Family::Inet, 3), "rr"), vec![]),
        (
            svc(tcp("10.0.0.2", 80), "rr"),
            vec![
                dest("10.0.1.2", 80, Forwarding::Route, 1),
                dest("10.0.1.1", 80, Forwarding::Route, 1),
            ],
        ),
        (svc(tcp("10.0.0.1", 80), "rr"), vec![]),
    ]);
    let expected = lines(&[
        HEADER,
        TITLE,
        "TCP  10.0.0.1:80 rr",
        "TCP  10.0.0.2:80 rr",
        "  -> 10.0.1.1:80                  Route   1      0          0         ",
        "  -> 10.0.1.2:80                  Route   1      0          0         ",
        "FWM  3 rr",
    ]);
    let l = listed(&t, |_| ConnCounts::default());
    assert_eq!(render(&INFO, &l, ListOptions::default()), expected);
}

#[test]
fn version_parts_are_bytes() {
    let info = Info { version: 0x0103_0405, conn_tab_size: u32::MAX };
    let out = render(&info, &[], ListOptions::default());
    assert!(out.starts_with("IP Virtual Server version 3.4.5 (size=-1)\n"), "{out}");
}

#[test]
fn server_counters_keep_their_low_32_bits_except_bytes() {
    // ipvsadm 1.31 reads a server's 64-bit stats with its 32-bit parser; services are
    // unaffected. 2^32 + 5 shows as 5; byte counters stay whole.
    let big = (1u64 << 32) + 5;
    let stats = Stats {
        conns: big,
        inpkts: big,
        outpkts: big,
        inbytes: big,
        outbytes: big,
        ..Stats::default()
    };
    let expected = lines(&[
        HEADER,
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
        "  -> RemoteAddress:Port",
        "TCP  10.0.0.1:80                     4294M    4294M    4294M    4294M    4294M",
        "  -> 10.0.1.1:80                         5        5        5    4294M    4294M",
    ]);
    let opts = ListOptions { stats: true, rate: false };
    assert_eq!(render(&INFO, &one_service(stats), opts), expected);
}
