//! Network namespaces for root-only tests: a namespace per simulated host, veth pairs
//! into a bridge that lives in a namespace of its own, addresses from 192.0.2.0/24.
//! Everything is removed on drop; processes started here are killed by PID.
//!
//! Skip policy: without root or iproute2, [`netns_available`] prints a skip line and
//! returns false, unless `DIRECTOR_REQUIRE_NETNS=1` (as `make test` sets), in which case
//! it panics.

use std::net::Ipv4Addr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Set to `1` to turn "cannot make network namespaces" from a skip into a failure.
pub const REQUIRE_NETNS_ENV: &str = "DIRECTOR_REQUIRE_NETNS";

/// True when this process may create network namespaces (root and iproute2).
pub fn netns_available() -> bool {
    let ip = Command::new("ip").arg("-V").output().is_ok_and(|o| o.status.success());
    if euid_is_root() && ip {
        return true;
    }
    assert!(
        std::env::var(REQUIRE_NETNS_ENV).as_deref() != Ok("1"),
        "{REQUIRE_NETNS_ENV}=1 but this needs root and iproute2"
    );
    crate::print_skip("needs root and iproute2 (ip netns)");
    false
}

fn euid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_string))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
}

/// A unique, short name (interface names are limited to 15 bytes).
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}x{n}", std::process::id() % 100_000)
}

/// One network namespace, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace with `lo` up. Panics with iproute2's message on failure.
    pub fn new(prefix: &str) -> Netns {
        let ns = Netns { name: unique_name(prefix) };
        run_ip(&["netns", "add", &ns.name]);
        ns.run(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `argv` inside the namespace, waited for.
    pub fn exec(&self, argv: &[&str]) -> Output {
        self.command(argv).output().unwrap_or_else(|e| panic!("{argv:?}: {e}"))
    }

    /// `argv` inside the namespace; panics unless it succeeds.
    pub fn run(&self, argv: &[&str]) -> String {
        let out = self.exec(argv);
        assert!(
            out.status.success(),
            "in {}: {argv:?}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A command that runs `argv` inside the namespace, for the caller to spawn.
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(argv);
        cmd
    }

    /// Spawns `argv` inside the namespace with stdin closed. `ip netns exec` execs the
    /// program, so the child's PID is the program's.
    pub fn spawn(&self, argv: &[&str]) -> std::io::Result<Child> {
        self.command(argv).stdin(Stdio::null()).spawn()
    }

    /// Runs `f` on a new thread that has joined this namespace; sockets it opens stay
    /// in the namespace.
    pub fn in_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            enter(&path);
            f()
        })
    }

    /// The IPv4 addresses on `dev`, as `ip -4 -o addr show dev` lists them.
    pub fn ipv4_addresses(&self, dev: &str) -> Vec<String> {
        let out = self.run(&["ip", "-4", "-o", "addr", "show", "dev", dev]);
        out.lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                words.find(|w| *w == "inet")?;
                words.next().map(str::to_string)
            })
            .collect()
    }

    /// Whether `addr` (without prefix) is on `dev`.
    pub fn has_address(&self, dev: &str, addr: Ipv4Addr) -> bool {
        let want = addr.to_string();
        self.ipv4_addresses(dev).iter().any(|a| a.split('/').next() == Some(want.as_str()))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ =
            Command::new("ip").args(["netns", "del", &self.name]).stderr(Stdio::null()).status();
    }
}

fn enter(path: &str) {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // SAFETY: setns on a valid namespace fd affects only the calling thread.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
}

fn run_ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap_or_else(|e| panic!("ip: {e}"));
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A LAN: a bridge in a namespace of its own and `hosts` namespaces, each with `eth0`
/// on the bridge and the address 192.0.2.(10 + i)/24.
#[derive(Debug)]
pub struct Lan {
    /// Declared before the switch so hosts go first on drop (their veths go with them).
    pub hosts: Vec<Netns>,
    pub switch: Netns,
}

impl Lan {
    pub fn new(prefix: &str, hosts: usize) -> Lan {
        let switch = Netns::new(&format!("{prefix}sw"));
        switch.run(&["ip", "link", "add", "br0", "type", "bridge"]);
        // No STP, no forwarding delay, no multicast snooping: a plain hub-like switch.
        switch.run(&["ip", "link", "set", "br0", "type", "bridge", "stp_state", "0"]);
        switch.run(&["ip", "link", "set", "br0", "type", "bridge", "forward_delay", "0"]);
        switch.run(&["ip", "link", "set", "br0", "type", "bridge", "mcast_snooping", "0"]);
        switch.run(&["ip", "link", "set", "br0", "up"]);
        let mut lan = Lan { hosts: Vec::new(), switch };
        for i in 0..hosts {
            let host = Netns::new(&format!("{prefix}h{i}"));
            let port = format!("p{i}");
            switch_veth(&lan.switch, &port, &host);
            host.run(&["ip", "addr", "add", &format!("{}/24", Lan::address(i)), "dev", "eth0"]);
            host.run(&["ip", "link", "set", "eth0", "up"]);
            lan.hosts.push(host);
        }
        lan
    }

    /// The fixed address of host `i`.
    pub fn address(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(192, 0, 2, 10 + i as u8)
    }

    /// Makes host `i`'s eth0 and bridge port again, with the same address, after the
    /// test deleted eth0 (`ip link del eth0`): `ifdown`/`ifup` of a virtual interface.
    /// The new eth0 has a new interface index. `up_before_address` brings the link up
    /// first and adds the address 200 ms later, as DHCP or systemd-networkd do.
    pub fn replug_host(&self, i: usize, up_before_address: bool) {
        let host = &self.hosts[i];
        switch_veth(&self.switch, &format!("p{i}"), host);
        let address = ["ip", "addr", "add", &format!("{}/24", Lan::address(i)), "dev", "eth0"];
        let up = ["ip", "link", "set", "eth0", "up"];
        if up_before_address {
            host.run(&up);
            std::thread::sleep(std::time::Duration::from_millis(200));
            host.run(&address);
        } else {
            host.run(&address);
            host.run(&up);
        }
    }

    /// Takes host `i`'s port on the bridge down (its eth0 loses carrier) or up.
    pub fn set_port(&self, i: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        self.switch.run(&["ip", "link", "set", &format!("p{i}"), state]);
    }
}

fn switch_veth(switch: &Netns, port: &str, host: &Netns) {
    switch.run(&[
        "ip",
        "link",
        "add",
        port,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        host.name(),
    ]);
    switch.run(&["ip", "link", "set", port, "master", "br0"]);
    switch.run(&["ip", "link", "set", port, "up"]);
}
