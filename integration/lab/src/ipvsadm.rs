//! `ipvsadm -Ln` and `ipvsadm -Ln --stats --exact` read back as tables: the
//! independent view of what a director wrote into its namespace's IPVS table.

use std::collections::BTreeMap;
use std::fmt;

/// One virtual service as `ipvsadm -Ln` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// `TCP 192.0.2.100:80`.
    pub key: String,
    pub scheduler: String,
    pub dests: Vec<Dest>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dest {
    /// `192.0.2.21:80`.
    pub addr: String,
    /// Route, Masq, Tunnel, Local.
    pub forward: String,
    pub weight: u32,
}

/// The whole table; `text` is what ipvsadm printed, for failure messages.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub services: Vec<Service>,
    pub text: String,
}

impl Table {
    /// Parses `ipvsadm -Ln`.
    pub fn parse(text: &str) -> Result<Table, String> {
        let mut services: Vec<Service> = Vec::new();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["IP", "Virtual", ..] | ["Prot", ..] | ["->", "RemoteAddress:Port", ..] | [] => {}
                ["->", addr, forward, weight, _active, _inactive] => {
                    let service = services.last_mut().ok_or_else(|| {
                        format!("ipvsadm: destination before any service: {line:?}")
                    })?;
                    let weight =
                        weight.parse().map_err(|_| format!("ipvsadm: weight in {line:?}"))?;
                    service.dests.push(Dest {
                        addr: (*addr).to_string(),
                        forward: (*forward).to_string(),
                        weight,
                    });
                }
                [proto @ ("TCP" | "UDP" | "SCTP" | "FWM"), addr, scheduler, ..] => {
                    services.push(Service {
                        key: format!("{proto} {addr}"),
                        scheduler: (*scheduler).to_string(),
                        dests: Vec::new(),
                    });
                }
                _ => return Err(format!("ipvsadm -Ln: unexpected line {line:?} in:\n{text}")),
            }
        }
        Ok(Table { services, text: text.to_string() })
    }

    /// Parses the kernel's own text, `/proc/net/ip_vs`: the layout of `ipvsadm -Ln`
    /// with addresses and ports in hex (`C0000264:0050`), IPv4 only here.
    pub fn parse_proc(text: &str) -> Result<Table, String> {
        let mut plain = String::new();
        for line in text.lines() {
            let mut words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            let at = match words.first().map(String::as_str) {
                Some("->") if words.get(1).is_some_and(|w| w != "RemoteAddress:Port") => 1,
                Some("TCP" | "UDP" | "SCTP") => 1,
                _ => {
                    plain.push_str(line);
                    plain.push('\n');
                    continue;
                }
            };
            words[at] = hex_endpoint(&words[at])
                .ok_or_else(|| format!("/proc/net/ip_vs: address in {line:?}"))?;
            plain.push_str(&words.join(" "));
            plain.push('\n');
        }
        Table::parse(&plain)
    }

    /// The service `TCP addr`, if listed.
    pub fn service(&self, addr: &str) -> Option<&Service> {
        let key = format!("TCP {addr}");
        self.services.iter().find(|s| s.key == key)
    }

    /// The destinations of service `TCP addr` as (address, weight), sorted (the
    /// kernel lists the newest first, ipvsadm sorts); empty when the service is missing.
    pub fn dests(&self, addr: &str) -> Vec<(String, u32)> {
        let mut dests: Vec<(String, u32)> = self
            .service(addr)
            .map(|s| s.dests.iter().map(|d| (d.addr.clone(), d.weight)).collect())
            .unwrap_or_default();
        dests.sort();
        dests
    }
}

/// `C0000264:0050` -> `192.0.2.100:80`.
fn hex_endpoint(word: &str) -> Option<String> {
    let (addr, port) = word.split_once(':')?;
    let addr = std::net::Ipv4Addr::from(u32::from_str_radix(addr, 16).ok()?);
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(format!("{addr}:{port}"))
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Connections per destination as `ipvsadm -Ln --stats --exact` counts them, keyed by
/// (`TCP 192.0.2.100:80`, `192.0.2.21:80`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conns(pub BTreeMap<(String, String), u64>);

impl Conns {
    pub fn parse(text: &str) -> Result<Conns, String> {
        let mut conns = BTreeMap::new();
        let mut service: Option<String> = None;
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["IP", "Virtual", ..] | ["Prot", ..] | ["->", "RemoteAddress:Port"] | [] => {}
                ["->", addr, count, ..] => {
                    let service = service
                        .clone()
                        .ok_or_else(|| format!("ipvsadm --stats: destination first: {line:?}"))?;
                    let count =
                        count.parse().map_err(|_| format!("ipvsadm --stats: conns in {line:?}"))?;
                    conns.insert((service, (*addr).to_string()), count);
                }
                [proto @ ("TCP" | "UDP" | "SCTP" | "FWM"), addr, ..] => {
                    service = Some(format!("{proto} {addr}"));
                }
                _ => return Err(format!("ipvsadm --stats: unexpected line {line:?} in:\n{text}")),
            }
        }
        Ok(Conns(conns))
    }

    /// Connections to `dest` of service `TCP service` since `before`.
    pub fn since(&self, before: &Conns, service: &str, dest: &str) -> u64 {
        let key = (format!("TCP {service}"), dest.to_string());
        let now = self.0.get(&key).copied().unwrap_or(0);
        now.saturating_sub(before.0.get(&key).copied().unwrap_or(0))
    }

    /// Connections to any destination of `TCP service` since `before`.
    pub fn total_since(&self, before: &Conns, service: &str) -> u64 {
        let key = format!("TCP {service}");
        let dests: Vec<&String> =
            self.0.keys().filter(|(s, _)| *s == key).map(|(_, d)| d).collect();
        dests.into_iter().map(|d| self.since(before, service, d)).sum()
    }
}

/// Every counter of `ipvsadm -Ln --stats --exact`: [Conns, InPkts, OutPkts, InBytes,
/// OutBytes] per service (`TCP 192.0.2.100:80`, with an empty destination) and per
/// destination (`192.0.2.21:80`) of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traffic(pub BTreeMap<(String, String), [u64; 5]>);

impl Traffic {
    pub fn parse(text: &str) -> Result<Traffic, String> {
        let mut rows = BTreeMap::new();
        let mut service: Option<String> = None;
        let counters = |words: &[&str], line: &str| -> Result<[u64; 5], String> {
            let mut out = [0u64; 5];
            if words.len() != 5 {
                return Err(format!("ipvsadm --stats: five counters in {line:?}"));
            }
            for (o, w) in out.iter_mut().zip(words) {
                *o =
                    w.parse().map_err(|_| format!("ipvsadm --stats: counter {w:?} in {line:?}"))?;
            }
            Ok(out)
        };
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["IP", "Virtual", ..] | ["Prot", ..] | ["->", "RemoteAddress:Port"] | [] => {}
                ["->", addr, rest @ ..] => {
                    let service = service
                        .clone()
                        .ok_or_else(|| format!("ipvsadm --stats: destination first: {line:?}"))?;
                    rows.insert((service, (*addr).to_string()), counters(rest, line)?);
                }
                [proto @ ("TCP" | "UDP" | "SCTP" | "FWM"), addr, rest @ ..] => {
                    let key = format!("{proto} {addr}");
                    rows.insert((key.clone(), String::new()), counters(rest, line)?);
                    service = Some(key);
                }
                _ => return Err(format!("ipvsadm --stats: unexpected line {line:?} in:\n{text}")),
            }
        }
        Ok(Traffic(rows))
    }

    /// The counters of service `TCP service`, or of its destination `dest`.
    pub fn get(&self, service: &str, dest: Option<&str>) -> Option<[u64; 5]> {
        self.0.get(&(format!("TCP {service}"), dest.unwrap_or_default().to_string())).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.0.2.100:80 wrr
  -> 192.0.2.21:80                Route   1      0          3
  -> 192.0.2.22:80                Route   2      1          0
TCP  192.0.2.100:8080 rr persistent 50
  -> 198.51.100.11:80             Masq    1      0          0
";

    const STATS: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  192.0.2.100:80                     30      150        0     9000        0
  -> 192.0.2.21:80                      10       50        0     3000        0
  -> 192.0.2.22:80                      20      100        0     6000        0
";

    #[test]
    fn list_reads_services_and_weights() {
        let table = Table::parse(LIST).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(table.services.len(), 2);
        assert_eq!(
            table.dests("192.0.2.100:80"),
            [("192.0.2.21:80".to_string(), 1), ("192.0.2.22:80".to_string(), 2)]
        );
        let nat = table.service("192.0.2.100:8080").unwrap_or_else(|| panic!("no nat service"));
        assert_eq!((nat.scheduler.as_str(), nat.dests[0].forward.as_str()), ("rr", "Masq"));
        assert!(table.service("192.0.2.100:81").is_none());
    }

    #[test]
    fn list_refuses_what_it_does_not_know() {
        assert!(Table::parse("  -> 192.0.2.21:80 Route 1 0 0\n").is_err());
        assert!(Table::parse("TCP 192.0.2.100:80 wrr\n  -> 192.0.2.21:80 Route x 0 0\n").is_err());
        assert!(Table::parse("something else\n").is_err());
    }

    #[test]
    fn proc_text_reads_as_ipvsadm_does() {
        let proc = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C0000264:0050 wrr 
  -> C0000215:0050      Route   1      0          3         
  -> C0000216:0050      Route   2      1          0         
TCP  C0000264:1F90 rr persistent 50
  -> C633640B:0050      Masq    1      0          0         
";
        let from_proc = Table::parse_proc(proc).unwrap_or_else(|e| panic!("{e}"));
        let from_ipvsadm = Table::parse(LIST).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(from_proc.services, from_ipvsadm.services);
        assert!(Table::parse_proc("TCP  C00002XX:0050 wrr\n").is_err());
    }

    #[test]
    fn traffic_reads_every_counter() {
        let t = Traffic::parse(STATS).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.get("192.0.2.100:80", None), Some([30, 150, 0, 9000, 0]));
        assert_eq!(t.get("192.0.2.100:80", Some("192.0.2.22:80")), Some([20, 100, 0, 6000, 0]));
        assert_eq!(t.get("192.0.2.100:81", None), None);
        assert!(Traffic::parse("TCP 192.0.2.100:80 1 2 3\n").is_err());
    }

    #[test]
    fn stats_count_connections_since() {
        let before = Conns::parse(STATS).unwrap_or_else(|e| panic!("{e}"));
        let after = Conns::parse(&STATS.replace("  10       50", "  14       50"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(after.since(&before, "192.0.2.100:80", "192.0.2.21:80"), 4);
        assert_eq!(after.since(&before, "192.0.2.100:80", "192.0.2.22:80"), 0);
        assert_eq!(after.since(&Conns::default(), "192.0.2.100:80", "192.0.2.22:80"), 20);
    }
}
