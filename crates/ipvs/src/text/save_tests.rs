//! Tests of `ipvsadm -Sn` rendering and `ipvsadm -R` parsing. Expected bytes are written by
//! hand from ipvsadm 1.31's `print_service_entry` / `print_tunnel_rule` formats (FMT_RULE).

use super::*;
use crate::model::{Family, Forwarding, Netmask, Protocol, Scheduler, ServiceFlags, TunnelType};
use crate::text::fixtures::{self, dest, fwm, ip, svc, table, tcp};
use proptest::prelude::*;

/// Services and their servers in one canonical order, so tables compare as sets.
fn sorted(t: &Table) -> Table {
    let mut t = t.clone();
    t.services.sort_by_key(|ts| ts.service.key);
    for ts in &mut t.services {
        ts.destinations.sort_by_key(|d| d.key());
    }
    t
}

fn parse_ok(s: &str) -> Table {
    match parse(s) {
        Ok(t) => t,
        Err(e) => panic!("{e} (column {:?})\n{s}", e.column),
    }
}

fn parse_err(s: &str) -> ParseError {
    match parse(s) {
        Ok(t) => panic!("expected an error, got {t:?}"),
        Err(e) => e,
    }
}

#[test]
fn render_web_matches_ipvsadm() {
    // "-A %s -s %s" + " -p %u" + " -M %s"; "-a %s -r %s %s -w %d"; servers sorted by address.
    let expected = "\
-A -t 10.0.0.1:80 -s wlc
-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 5
-a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 1
-a -t 10.0.0.1:80 -r 10.0.1.3:8080 -m -w 2
-A -t 10.0.0.1:443 -s rr -p 360 -M 255.255.255.0
-a -t 10.0.0.1:443 -r 10.0.1.1:443 -g -w 1
";
    assert_eq!(render(&fixtures::web()), expected);
}

#[test]
fn render_mixed_matches_ipvsadm() {
    // Order: ipvs_cmp_services (fwmark, af, protocol, address, port). IPv6 in brackets;
    // "-f %d -6"; " -M %i" for IPv6 prefixes; " --pe %s" then " -o" then " -b " flags.
    let expected = "\
-A --sctp-service 10.0.0.5:3868 -s sed
-A -t [2001:db8::10]:80 -s sh -b sh-fallback,sh-port
-a -t [2001:db8::10]:80 -r [2001:db8::1]:80 -g -w 0
-a -t [2001:db8::10]:80 -r [2001:db8::2]:8080 -m -w 3
-A -u [2001:db8::10]:53 -s rr -p 60 -M 64 -o
-a -u [2001:db8::10]:53 -r [2001:db8::3]:53 -g -w 1
-A -f 1 -s lc -p 600 -M 255.255.0.0 --pe sip -o
-a -f 1 -r 192.168.1.10:0 -g -w 1
-a -f 1 -r 192.168.1.11:8443 -m -w 1
-A -f 2 -6 -s mh -b mh-port
-a -f 2 -6 -r [2001:db8::4]:0 -g -w 7
";
    assert_eq!(render(&fixtures::mixed()), expected);
}

#[test]
fn render_tunnels_matches_print_tunnel_rule() {
    // ipip: " --tun-type ipip"; gue: " --tun-type gue --tun-port %d %s"; gre: " --tun-type gre
    // %s" with tun_flags_opts[] = --tun-nocsum, --tun-csum, --tun-remcsum.
    let expected = "\
-A -t 192.0.2.1:80 -s wrr
-a -t 192.0.2.1:80 -r 198.51.100.1:80 -i -w 1 --tun-type ipip
-a -t 192.0.2.1:80 -r 198.51.100.2:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
-a -t 192.0.2.1:80 -r 198.51.100.3:80 -i -w 1 --tun-type gue --tun-port 6081 --tun-nocsum
-a -t 192.0.2.1:80 -r 198.51.100.4:80 -i -w 1 --tun-type gue --tun-port 6082 --tun-remcsum
-a -t 192.0.2.1:80 -r 198.51.100.5:80 -i -w 1 --tun-type gre --tun-csum
-a -t 192.0.2.1:80 -r 198.51.100.6:80 -i -w 1 --tun-type gre --tun-nocsum
-a -t 192.0.2.1:80 -r [2001:db8::99]:80 -i -w 1 --tun-type ipip
";
    assert_eq!(render(&fixtures::tunnels()), expected);
}

#[test]
fn render_prints_what_ipvsadm_prints_and_drops_the_rest() {
    let mut s = svc(tcp("10.0.0.1", 80), "sh");
    // Not persistent: timeout and netmask stay unprinted. A flag bit sh does not name
    // still makes ipvsadm print " -b " with nothing after it.
    s.timeout = 300;
    s.netmask = fixtures::mask4("255.0.0.0");
    s.flags.set(ServiceFlags::IP_VS_SVC_F_SCHED3, true);
    s.pe_name = Some("sip".into());
    let mut d = dest("10.0.0.2", 80, Forwarding::Local, 2);
    d.upper_threshold = 100;
    d.lower_threshold = 10;
    let mut big = dest("10.0.0.3", 80, Forwarding::Route, u32::MAX);
    big.tunnel.kind = Some(TunnelType::Gue);
    // A mark of 2^31 compares "below" every address service and they below it
    // (`ipvs_cmp_services` subtracts into an int); glibc's merge sort then decides.
    let t = table(vec![
        (s, vec![d, big]),
        (svc(fwm(Family::Inet, 0x8000_0000), "rr"), vec![]),
        (svc(tcp("::a00:1", 80), "rr"), vec![]),
    ]);
    let expected = "\
-A -t 10.0.0.1:80 -s sh --pe sip -b 
-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 2
-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w -1
-A -f -2147483648 -s rr
-A -t [::10.0.0.1]:80 -s rr
";
    assert_eq!(render(&t), expected);
}

#[test]
fn round_trip_keeps_every_fixture() {
    for t in fixtures::all() {
        let text = render(&t);
        let back = parse_ok(&text);
        assert_eq!(sorted(&back), sorted(&t), "{text}");
        assert_eq!(render(&back), text);
    }
}

#[test]
fn saved_view_is_what_a_round_trip_keeps() {
    let mut t = fixtures::web();
    t.services[0].service.timeout = 99;
    t.services[0].destinations[0].upper_threshold = 5;
    t.services[0].destinations[1].forwarding = Forwarding::Local;
    t.services[0].destinations[1].port = 81;
    let back = parse_ok(&render(&t));
    assert_eq!(sorted(&back), sorted(&saved_view(&t)));
    assert_ne!(sorted(&back), sorted(&t));
}

#[test]
fn parses_a_realistic_file_with_long_and_short_options() {
    let text = "\
# written by hand; ipvsadm-restore drops lines starting with #

ipvsadm -A -t 10.0.0.1:http -s rr
--add-server --tcp-service 10.0.0.1:80 --real-server 10.0.1.1 --gatewaying --weight 3
-a -t 10.0.0.1:80 -r 10.0.1.2:8080 -m -w 0 -x 100 -y 10\r
-A --udp-service 10.0.0.1:53 --scheduler=wrr --persistent --netmask 255.255.255.0 --ops
-a -u 10.0.0.1:domain -r 10.0.1.1 -m
  -A   -f 7 -6 -s mh -b mh-fallback,mh-port --pe sip -p 120 -M 48
-a -f 7 -6 -r [2001:db8::7]:443 -i --tun-type=gue --tun-port 6080 --tun-remcsum
--add-server -f 7 -6 -r 2001:db8::8 --ipip --tun-type gre --tun-csum -x 5
-A --sctp-service [2001:db8::1]:443 -s fo
-E -t 10.0.0.1:80 -s wlc -p
-e -t 10.0.0.1:80 -r 10.0.1.1:80 -w 4
-d -t 10.0.0.1:80 -r 10.0.1.1
-a -t 10.0.0.1:80 -r 10.0.1.9 -w 9
-D --sctp-service [2001:db8::1]:443
-Z
";
    let t = parse_ok(text);
    let http = tcp("10.0.0.1", 80);
    let mut web = svc(http, "wlc");
    web.flags.set(ServiceFlags::IP_VS_SVC_F_PERSISTENT, true);
    web.timeout = DEFAULT_PERSISTENT_TIMEOUT;
    let mut masq = dest("10.0.1.2", 8080, Forwarding::Masq, 0);
    masq.upper_threshold = 100;
    masq.lower_threshold = 10;
    let dns_key = fixtures::key(Protocol::Udp, "10.0.0.1", 53);
    let mut dns = fixtures::persistent(svc(dns_key, "wrr"), 360, fixtures::mask4("255.255.255.0"));
    dns.flags.set(ServiceFlags::IP_VS_SVC_F_ONEPACKET, true);
    let mut mark =
        fixtures::persistent(svc(fwm(Family::Inet6, 7), "mh"), 120, Netmask::V6Prefix(48));
    mark.flags.set(
        ServiceFlags::IP_VS_SVC_F_SCHED_MH_FALLBACK | ServiceFlags::IP_VS_SVC_F_SCHED_MH_PORT,
        true,
    );
    mark.pe_name = Some("sip".into());
    let gue = fixtures::tunnel("2001:db8::7", 443, TunnelType::Gue, 6080, 2);
    let mut gre = fixtures::tunnel("2001:db8::8", 0, TunnelType::Gre, 0, 1);
    gre.upper_threshold = 5;
    let expected = table(vec![
        (web, vec![masq, dest("10.0.1.9", 80, Forwarding::Route, 9)]),
        (dns, vec![dest("10.0.1.1", 53, Forwarding::Masq, 1)]),
        (mark, vec![gue, gre]),
    ]);
    assert_eq!(t, expected);
}

#[test]
fn defaults_follow_ipvsadm() {
    let t = parse_ok("-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2:9999\n");
    let s = &t.services[0];
    assert_eq!(s.service.scheduler, Scheduler::Wlc);
    assert_eq!(s.service.netmask, Netmask::full(Family::Inet));
    assert_eq!(s.service.timeout, 0);
    // Direct routing is the default and forces the service port.
    assert_eq!(s.destinations[0], dest("10.0.0.2", 80, Forwarding::Route, 1));
    let t = parse_ok("-A -t [::1]:80 -p\n");
    assert_eq!(t.services[0].service.netmask, Netmask::V6Prefix(128));
    assert_eq!(t.services[0].service.timeout, 360);
}

#[test]
fn edit_replaces_the_whole_service_and_server() {
    let t = parse_ok(
        "-A -t 10.0.0.1:80 -s rr -p 60\n-a -t 10.0.0.1:80 -r 10.0.0.2 -w 5 -x 9\n\
         -E -t 10.0.0.1:80\n-e -t 10.0.0.1:80 -r 10.0.0.2\n",
    );
    assert_eq!(
        t,
        table(vec![(
            svc(tcp("10.0.0.1", 80), "wlc"),
            vec![dest("10.0.0.2", 80, Forwarding::Route, 1)]
        )])
    );
}

#[test]
fn clear_empties_the_table() {
    let t = parse_ok("-A -t 10.0.0.1:80\n-C\n-A -u 10.0.0.1:53\n");
    assert_eq!(t, table(vec![(svc(fixtures::key(Protocol::Udp, "10.0.0.1", 53), "wlc"), vec![])]));
}

#[test]
fn address_forms_follow_parse_service() {
    let first = |s: &str| parse_ok(s).services[0].service.key;
    // inet_aton forms, a bare IPv6 address without port (persistent, so port 0 is fine),
    // and a bracketed IPv4 address, whose port ipvsadm ignores.
    assert_eq!(first("-A -t 10.1:80"), tcp("10.0.0.1", 80));
    assert_eq!(first("-A -t 0x0a.0.0.1:+80"), tcp("10.0.0.1", 80));
    assert_eq!(first("-A -t 2001:db8::1:80 -p"), tcp("2001:db8::1:80", 0));
    assert_eq!(first("-A -t [10.0.0.1]:80 -p"), tcp("10.0.0.1", 0));
    assert_eq!(first("-A -t 10.0.0.1:https"), tcp("10.0.0.1", 443));
    assert_eq!(first("-At10.0.0.1:80"), tcp("10.0.0.1", 80));
    assert_eq!(first("-A -f 4294967295"), fwm(Family::Inet, u32::MAX));
    assert_eq!(
        parse_ok("-A -t 1.2.3.4:80\n-a -t 1.2.3.4:80 -r [::ffff:1.2.3.5]:80 -i\n").services[0]
            .destinations[0]
            .addr,
        ip("::ffff:1.2.3.5")
    );
}

#[test]
fn errors_name_line_column_and_expectation() {
    let e = parse_err("-A -t 10.0.0.1:80\n\n-A -t 10.0.0.1:81 --foo\n");
    assert_eq!((e.line, e.column), (3, Some(19)));
    assert_eq!(e.to_string(), "line 3: unknown option --foo");

    let e = parse_err("-A -t 10.0.0.1:80\n-A -t 10.0.0.1:80 -s rr\n");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("duplicate service 10.0.0.1:80/tcp"), "{}", e.message);

    let e = parse_err("-a -t 10.0.0.1:80 -r 10.0.0.2\n");
    assert_eq!(e.line, 1);
    assert!(e.message.contains("not defined"), "{}", e.message);

    let e = parse_err("-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2 -w 2147483648\n");
    assert_eq!((e.line, e.column), (2, Some(34)));
    assert!(e.message.contains("illegal weight specified: `2147483648'"), "{}", e.message);

    let cases: &[(&str, &str)] = &[
        ("-A -t 10.0.0.300:80", "illegal virtual server address"),
        ("-A -t host.example:80", "illegal virtual server address"),
        ("-A -t 10.0.0.1:99999", "illegal virtual server address"),
        ("-A -t 10.0.0.1", "Zero port specified for non-persistent service"),
        ("-A -t 10.0.0.1:80 -o", "One-Packet Scheduling is only for UDP"),
        ("-A -t 10.0.0.1:80 -u 10.0.0.1:80", "multiple 'service-address' options"),
        ("-A -t 10.0.0.1:80 -A", "multiple commands"),
        ("-t 10.0.0.1:80 -A", "expected a command"),
        ("10.0.0.1", "expected a command"),
        ("-L -n", "not a table command"),
        ("-A -t 10.0.0.1:80 -r 10.0.0.2", "Illegal 'real-server' option with the 'add-service'"),
        ("-A -t 10.0.0.1:80 extra", "unexpected argument extra"),
        ("-A -t 10.0.0.1:80 -p 0", "invalid timeout value `0'"),
        ("-A -t 10.0.0.1:80 -s rr -b sh-port", "incompatible scheduler flag `sh-port'"),
        ("-A -t 10.0.0.1:80 -b bogus", "invalid scheduler flag `bogus'"),
        ("-A -t 10.0.0.1:80 -p -M 255.255.0.x", "illegal virtual server persistent mask"),
        ("-A -t [::1]:80 -p -M 129", "illegal ipv6 netmask"),
        ("-A -6 -f 1", "-6 used before -f"),
        ("-A -f 0", "invalid fwmark value `0'"),
        ("-a -t 10.0.0.1:80", "You need to supply the 'real-server' option"),
        ("-a -t 10.0.0.1:80 -r [::1]:80", "Different address family"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 --tun-type gre", "Tunnel options conflict"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gue", "You need to supply the 'tun-port'"),
        (
            "-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-port 1",
            "Illegal 'tun-port' option with the 'ipip'",
        ),
        (
            "-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gre --tun-csum --tun-nocsum",
            "The option 'tun-csum' conflicts with the 'tun-nocsum'",
        ),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type vxlan", "illegal tunnel type"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -g -m", "multiple 'forwarding-method'"),
        ("-a -t 10.0.0.1:80 -r 10.0.0.2 -w", "option -w requires an argument"),
    ];
    for (line, want) in cases {
        let e = parse_err(&format!("-A -t 10.0.0.9:80\n{line}\n"));
        assert_eq!(e.line, 2, "{line}");
        assert!(e.message.contains(want), "{line}: {}", e.message);
    }
}

#[test]
fn kernel_refusals_are_errors_too() {
    let base = "-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2\n";
    let cases: &[(&str, &str)] = &[
        ("-a -t 10.0.0.1:80 -r 10.0.0.2", "duplicate server 10.0.0.2:80"),
        ("-e -t 10.0.0.1:80 -r 10.0.0.3", "no server 10.0.0.3:80"),
        ("-d -t 10.0.0.1:80 -r 10.0.0.3:80", "no server 10.0.0.3:80"),
        ("-E -t 10.0.0.1:81", "not defined"),
        ("-D -t 10.0.0.1:81", "not defined"),
        ("-Z -t 10.0.0.1:81", "not defined"),
        (
            "-a -t 10.0.0.1:80 -r 10.0.0.4 -y 5",
            "lower threshold 5 is higher than upper threshold 0",
        ),
    ];
    for (line, want) in cases {
        let e = parse_err(&format!("{base}{line}\n"));
        assert_eq!((e.line, e.column), (3, None), "{line}");
        assert!(e.message.contains(want), "{line}: {}", e.message);
    }
}

/// A generated table in the form a round trip keeps.
fn arb_table() -> impl Strategy<Value = Table> {
    let dest_spec = (0u8..4, 1u8..250, prop_oneof![Just(0u16), 1u16..9000], 0u32..=65535, 0u8..6);
    let service = (
        0u8..5,
        1u8..250,
        1u16..9000,
        prop::sample::select(Scheduler::KNOWN.to_vec()),
        proptest::option::of(1u32..=2_678_400),
        0u8..3,
        proptest::collection::vec(dest_spec, 0..5),
    );
    proptest::collection::vec(service, 0..6).prop_map(|specs| {
        let mut t = Table::default();
        for (kind, host, port, sched, timeout, extra, dests) in specs {
            let v6 = kind % 2 == 1;
            let addr = |h: u8| {
                if v6 {
                    ip(&format!("2001:db8::{h:x}"))
                } else {
                    ip(&format!("10.0.0.{h}"))
                }
            };
            let key = match kind {
                0 | 1 => crate::model::ServiceKey::Addr {
                    protocol: Protocol::Tcp,
                    addr: addr(host),
                    port,
                },
                2 | 3 => crate::model::ServiceKey::Addr {
                    protocol: Protocol::Udp,
                    addr: addr(host),
                    port,
                },
                _ => fwm(if host % 2 == 0 { Family::Inet } else { Family::Inet6 }, u32::from(host)),
            };
            if t.services.iter().any(|ts| ts.service.key == key) {
                continue;
            }
            let family = key.family();
            let mut s = svc(key, sched);
            if let Some(timeout) = timeout {
                s = fixtures::persistent(
                    s,
                    timeout,
                    match family {
                        Family::Inet => {
                            Netmask::V4(std::net::Ipv4Addr::from(0xffff_ff00u32 << (extra * 4)))
                        }
                        Family::Inet6 => Netmask::V6Prefix(128 - extra * 16),
                    },
                );
            }
            let udp_or_mark =
                !matches!(key, crate::model::ServiceKey::Addr { protocol: Protocol::Tcp, .. });
            if extra == 1 && udp_or_mark {
                s.flags.set(ServiceFlags::IP_VS_SVC_F_ONEPACKET, true);
            }
            if extra == 2 {
                s.flags.set(ServiceFlags::IP_VS_SVC_F_SCHED2, true);
                s.pe_name = Some("sip".into());
            }
            let svc_port = match key {
                crate::model::ServiceKey::Addr { port, .. } => Some(port),
                _ => None,
            };
            let dest_v6 = family == Family::Inet6;
            let mut ds: Vec<crate::model::Destination> = Vec::new();
            for (fwd, h, dport, weight, tun) in dests {
                let a = if dest_v6 {
                    ip(&format!("2001:db8:1::{h:x}"))
                } else {
                    ip(&format!("10.9.0.{h}"))
                };
                let mut d = match fwd {
                    0 => dest("0.0.0.0", 0, Forwarding::Masq, weight),
                    1 => dest("0.0.0.0", 0, Forwarding::Route, weight),
                    _ => {
                        let kind = [TunnelType::Ipip, TunnelType::Gue, TunnelType::Gre]
                            [usize::from(tun % 3)];
                        let (p, f) = match kind {
                            TunnelType::Gue => (6000 + u16::from(tun), u16::from(tun % 3)),
                            TunnelType::Gre => (0, u16::from(tun % 2)),
                            _ => (0, 0),
                        };
                        fixtures::tunnel("0.0.0.0", 0, kind, p, f)
                    }
                };
                d.addr = a;
                d.weight = weight;
                d.port = match (svc_port, d.forwarding) {
                    (Some(p), Forwarding::Route | Forwarding::Tunnel) => p,
                    _ => dport,
                };
                if !ds.iter().any(|x| x.key() == d.key()) {
                    ds.push(d);
                }
            }
            t.services.push(crate::model::TableService { service: s, destinations: ds });
        }
        t
    })
}

proptest! {
    #[test]
    fn generated_tables_round_trip(t in arb_table()) {
        let text = render(&t);
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(sorted(&back), sorted(&t));
        prop_assert_eq!(render(&back), text);
    }
}
