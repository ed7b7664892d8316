//! The lab's network: two LANs, each a bridge in a switch namespace, and a namespace
//! per host.
//!
//! ```text
//!  front LAN 192.0.2.0/24                      back LAN 198.51.100.0/24
//!  client .5                                   nat1 .11, nat2 .12 (gateway .1)
//!  lb1 .2, lb2 .3 (eth0) ---- VIP .100 ----    lb1 .2, lb2 .3 (eth1), VIP .1
//!  rs1 .21, rs2 .22, rs3 .23, sorry .40 (VIP on lo, DR)
//! ```
//!
//! The DR real servers and the sorry server carry the VIP on `lo` and neither answer
//! nor announce it (arp_ignore=1, arp_announce=2). The NAT real servers route
//! everything through the floating gateway 198.51.100.1, which is a VIP of the VRRP
//! instance on the directors' eth1, so replies go back through the MASTER. Nothing has
//! a route out of the lab.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::{Command, Stdio};

use testkit::netns::Netns;

use crate::server::{Httpd, Site};

/// The virtual IP both services listen on, on the front LAN.
pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
/// The DR service's port (the real servers listen on the same port, as DR needs).
pub const DR_PORT: u16 = 80;
/// The NAT service's port; its real servers listen on [`HTTP_PORT`].
pub const NAT_PORT: u16 = 8080;
/// Where every web server in the lab listens.
pub const HTTP_PORT: u16 = 80;
/// The NAT real servers' default gateway: a VIP on the directors' back interface.
pub const NAT_GATEWAY: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 5);
/// The directors' addresses on the front (eth0) and back (eth1) LANs.
pub const LB_FRONT: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 2, 2), Ipv4Addr::new(192, 0, 2, 3)];
pub const LB_BACK: [Ipv4Addr; 2] = [Ipv4Addr::new(198, 51, 100, 2), Ipv4Addr::new(198, 51, 100, 3)];
/// DR real servers rs1..rs3.
pub const DR_REAL: [Ipv4Addr; 3] =
    [Ipv4Addr::new(192, 0, 2, 21), Ipv4Addr::new(192, 0, 2, 22), Ipv4Addr::new(192, 0, 2, 23)];
pub const SORRY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 40);
/// NAT real servers nat1, nat2.
pub const NAT_REAL: [Ipv4Addr; 2] =
    [Ipv4Addr::new(198, 51, 100, 11), Ipv4Addr::new(198, 51, 100, 12)];

/// The DR service's address.
pub fn dr_service() -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(VIP, DR_PORT))
}

/// The NAT service's address.
pub fn nat_service() -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(VIP, NAT_PORT))
}

/// A bridge in a namespace of its own: a plain hub (no STP, no forwarding delay, no
/// multicast snooping, so VRRP multicast reaches every port at once).
#[derive(Debug)]
pub struct Switch {
    ns: Netns,
}

impl Switch {
    /// The bridge and one veth pair per `(port, host, dev)`: `port` on the bridge,
    /// `dev` in the host (still down, without address). One `ip -batch` for it all:
    /// every exec costs ~0.1 s under TCG.
    pub fn new(prefix: &str, ports: &[(&str, &Netns, &str)]) -> Switch {
        let ns = Netns::new(prefix);
        let mut commands = vec![
            "link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0".to_string(),
            "link set br0 up".to_string(),
        ];
        for (port, host, dev) in ports {
            commands
                .push(format!("link add {port} type veth peer name {dev} netns {}", host.name()));
            commands.push(format!("link set {port} master br0"));
            commands.push(format!("link set {port} up"));
        }
        ip_batch(&ns, &commands);
        Switch { ns }
    }

    /// Takes a port down (the host behind it loses carrier, as if unplugged) or up.
    pub fn set_port(&self, port: &str, up: bool) {
        ip_batch(&self.ns, &[format!("link set {port} {}", if up { "up" } else { "down" })]);
    }
}

/// Every namespace and web server of the lab (no directors: see [`crate::LabDirector`]).
/// Dropping it stops the servers by PID, then deletes the hosts, then the switches.
#[derive(Debug)]
pub struct Lab {
    /// rs1..rs3, then sorry, then nat1, nat2 (see the accessors).
    servers: Vec<Httpd>,
    pub client: Netns,
    pub lb: [Netns; 2],
    pub rs: [Netns; 3],
    pub sorry: Netns,
    pub nat: [Netns; 2],
    front: Switch,
    back: Switch,
    /// The document roots.
    site: Site,
}

impl Lab {
    /// Builds the namespaces and links and starts every web server; returns once
    /// each one answers.
    pub fn new() -> Lab {
        let client = Netns::new("client");
        let lb = [Netns::new("lb1"), Netns::new("lb2")];
        let rs = [Netns::new("rs1"), Netns::new("rs2"), Netns::new("rs3")];
        let sorry = Netns::new("sorry");
        let nat = [Netns::new("nat1"), Netns::new("nat2")];
        let front = Switch::new(
            "labf",
            &[
                ("client", &client, "eth0"),
                ("lb1", &lb[0], "eth0"),
                ("lb2", &lb[1], "eth0"),
                ("rs1", &rs[0], "eth0"),
                ("rs2", &rs[1], "eth0"),
                ("rs3", &rs[2], "eth0"),
                ("sorry", &sorry, "eth0"),
            ],
        );
        let back = Switch::new(
            "labb",
            &[
                ("lb1", &lb[0], "eth1"),
                ("lb2", &lb[1], "eth1"),
                ("nat1", &nat[0], "eth0"),
                ("nat2", &nat[1], "eth0"),
            ],
        );
        ip_batch(&client, &up("eth0", CLIENT));
        for (i, ns) in lb.iter().enumerate() {
            let mut commands = up("eth0", LB_FRONT[i]);
            commands.extend(up("eth1", LB_BACK[i]));
            ip_batch(ns, &commands);
            // NAT: the directors route the real servers' replies back to the client.
            sysctl(ns, "net/ipv4/ip_forward", "1");
        }
        for (ns, addr) in rs.iter().zip(DR_REAL).chain([(&sorry, SORRY)]) {
            dr_real_server(ns, addr);
        }
        for (ns, addr) in nat.iter().zip(NAT_REAL) {
            let mut commands = up("eth0", addr);
            commands.push(format!("route add default via {NAT_GATEWAY}"));
            ip_batch(ns, &commands);
        }

        let site = Site::new(&["rs1", "rs2", "rs3", "sorry", "nat1", "nat2"]);
        let mut servers = Vec::new();
        for (i, ns) in rs.iter().enumerate() {
            servers.push(Httpd::start(ns, &site, &format!("rs{}", i + 1)));
        }
        servers.push(Httpd::start(&sorry, &site, "sorry"));
        for (i, ns) in nat.iter().enumerate() {
            servers.push(Httpd::start(ns, &site, &format!("nat{}", i + 1)));
        }
        let lab = Lab { servers, client, lb, rs, sorry, nat, front, back, site };
        let hosts = lab.rs.iter().chain([&lab.sorry]).chain(&lab.nat);
        for (server, ns) in lab.servers.iter().zip(hosts) {
            server.wait_serving(ns);
        }
        lab
    }

    /// rs1..rs3's web servers (index 0..3).
    pub fn dr_httpd(&mut self, i: usize) -> &mut Httpd {
        &mut self.servers[i]
    }

    pub fn nat_httpd(&mut self, i: usize) -> &mut Httpd {
        &mut self.servers[4 + i]
    }

    /// Restarts a stopped web server (same page, same address).
    pub fn restart_dr_httpd(&mut self, i: usize) {
        let server = Httpd::start(&self.rs[i], &self.site, &format!("rs{}", i + 1));
        server.wait_serving(&self.rs[i]);
        self.servers[i] = server;
    }

    /// Unplugs director `i` (0 = lb1) from both LANs, or plugs it back.
    pub fn set_director_link(&self, i: usize, up: bool) {
        let port = format!("lb{}", i + 1);
        self.front.set_port(&port, up);
        self.back.set_port(&port, up);
    }
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

/// `ip` commands that give `dev` its /24 address and bring it up.
fn up(dev: &str, address: Ipv4Addr) -> Vec<String> {
    vec![format!("addr add {address}/24 dev {dev}"), format!("link set {dev} up")]
}

/// Runs `commands` (`ip` arguments, one per line) with one `ip -batch` in `ns`.
pub fn ip_batch(ns: &Netns, commands: &[String]) {
    let mut child = Command::new("ip")
        .args(["-n", ns.name(), "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("ip -batch: {e}"));
    let script = commands.join("\n") + "\n";
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).unwrap_or_else(|e| panic!("ip -batch stdin: {e}"));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("ip -batch: {e}"));
    assert!(
        out.status.success(),
        "in {}: ip -batch:\n{script}{}",
        ns.name(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sets `/proc/sys/<key>` in `ns` (written from a thread in the namespace: the
/// net sysctls are the opener's namespace's).
pub fn sysctl(ns: &Netns, key: &str, value: &str) {
    let path = format!("/proc/sys/{key}");
    let value = value.to_string();
    let name = ns.name().to_string();
    ns.in_thread(move || {
        std::fs::write(&path, &value).unwrap_or_else(|e| panic!("in {name}: {path} = {value}: {e}"))
    })
    .join()
    .unwrap_or_else(|_| panic!("sysctl {key}: thread panicked"));
}

/// A DR real server: its address on eth0, the VIP on `lo`, never answered or
/// announced in ARP.
fn dr_real_server(ns: &Netns, address: Ipv4Addr) {
    let mut commands = up("eth0", address);
    commands.push(format!("addr add {VIP}/32 dev lo"));
    ip_batch(ns, &commands);
    for dev in ["all", "eth0"] {
        sysctl(ns, &format!("net/ipv4/conf/{dev}/arp_ignore"), "1");
        sysctl(ns, &format!("net/ipv4/conf/{dev}/arp_announce"), "2");
    }
}
