//! Fixtures for the workspace's acceptance tests: real components on loopback.
//!
//! * [`Nginx`]: the Debian `nginx` binary, started per fixture with its own
//!   config, plain HTTP and TLS on free 127.0.0.1 ports; see [`site`] for what
//!   it serves.
//! * [`refused_addr`]: a loopback port nothing listens on.
//! * [`BlackHole`]: a loopback port that accepts connections and never answers.
//! * [`raw`]: a bare HTTP/1.1 client, to see what a server sent on the wire.
//! * VRRP labs in network namespaces ([`netns`]): [`router`] describes a VRRP router
//!   once for both [`directord`] and [`keepalived`]; [`addrwatch`] times VIP changes
//!   over rtnetlink, [`wire`] sniffs and injects VRRP packets, [`wait`] polls.
//! * [`metrics`]: scrapes directord's Prometheus endpoint inside a namespace.
//!
//! Skip policy: when nginx is not installed, [`Nginx::start_or_skip`] prints a
//! skip line and returns `None`, unless `DIRECTOR_REQUIRE_NGINX=1` (as `make
//! test` sets), in which case it panics telling to install nginx.

pub mod addrwatch;
pub mod directord;
pub mod keepalived;
pub mod metrics;
pub mod netns;
mod nginx;
pub mod process;
pub mod raw;
pub mod router;
pub mod site;
pub mod wait;
pub mod wire;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

pub use nginx::Nginx;

/// Set to `1` to turn "nginx is not installed" from a skip into a failure.
pub const REQUIRE_NGINX_ENV: &str = "DIRECTOR_REQUIRE_NGINX";

/// Whether missing nginx must fail the tests instead of skipping them.
pub fn nginx_required() -> bool {
    std::env::var(REQUIRE_NGINX_ENV).is_ok_and(|v| v == "1")
}

/// Prints `SKIP <test>: <why>` where `cargo test` shows it: straight to the
/// stderr handle, which the test harness does not capture (it only captures
/// the print macros), so a skipped test is visible without `--nocapture`.
pub fn print_skip(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("test");
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
}

/// A loopback address where nothing listens: connecting is refused at once.
/// (The port was free a moment ago; another process could take it, which on
/// loopback in a test run is unlikely enough.)
pub fn refused_addr() -> SocketAddr {
    let listener = bind_loopback().unwrap_or_else(|e| panic!("bind 127.0.0.1:0: {e}"));
    listener.local_addr().unwrap_or_else(|e| panic!("local_addr: {e}"))
}

/// A listening socket that nobody accepts from: the kernel completes the TCP
/// handshake into the backlog, so a client connects, sends its request and
/// waits forever. Closed on drop.
#[derive(Debug)]
pub struct BlackHole {
    listener: TcpListener,
}

impl BlackHole {
    pub fn bind() -> BlackHole {
        let listener = bind_loopback().unwrap_or_else(|e| panic!("bind 127.0.0.1:0: {e}"));
        BlackHole { listener }
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|e| panic!("local_addr: {e}"))
    }
}

fn bind_loopback() -> std::io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
}
