//! busybox `httpd` as the lab's web servers: each serves one page that names it, so a
//! response tells which server the request reached.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;
use testkit::netns::Netns;
use testkit::process::Process;

use crate::http;
use crate::topology::HTTP_PORT;

/// How long a freshly started httpd may take to accept connections (TCG is slow to
/// exec, but not this slow).
const SERVE_TIMEOUT: Duration = Duration::from_secs(10);

/// One document root per server name, `index.html` holding the name.
#[derive(Debug)]
pub struct Site {
    dir: TempDir,
}

impl Site {
    pub fn new(names: &[&str]) -> Site {
        let dir = tempfile::Builder::new()
            .prefix("lab-www-")
            .tempdir()
            .unwrap_or_else(|e| panic!("lab: document roots: {e}"));
        for name in names {
            let root = dir.path().join(name);
            fs::create_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
            let page = root.join("index.html");
            fs::write(&page, format!("{name}\n"))
                .unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        }
        Site { dir }
    }

    fn root(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `busybox httpd -f` in a namespace, on port 80 of every address there. Stopped by
/// PID when dropped.
#[derive(Debug)]
pub struct Httpd {
    name: String,
    netns: String,
    process: Process,
}

impl Httpd {
    /// Started from a thread inside `ns` (the child inherits its network namespace),
    /// which spares the exec of `ip netns exec`.
    pub fn start(ns: &Netns, site: &Site, name: &str) -> Httpd {
        let root = site.root(name);
        let label = format!("httpd {name}");
        let process = ns
            .in_thread(move || {
                let mut command = Command::new("httpd");
                command.args(["-f", "-p", &HTTP_PORT.to_string(), "-h"]).arg(root);
                command.stdin(Stdio::null());
                Process::spawn(&mut command, &label)
            })
            .join()
            .unwrap_or_else(|_| Err("httpd spawn thread panicked".into()))
            .unwrap_or_else(|e| panic!("lab: {e}"));
        Httpd { name: name.to_string(), netns: ns.name().to_string(), process }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Waits until it answers with its page on 127.0.0.1 inside `ns` (its namespace).
    pub fn wait_serving(&self, ns: &Netns) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, HTTP_PORT));
        let name = self.name.clone();
        let answered = ns
            .in_thread(move || {
                testkit::wait::wait_until(SERVE_TIMEOUT, || {
                    http::get(addr, Duration::from_secs(1)).is_ok_and(|body| body == name)
                })
            })
            .join()
            .unwrap_or(false);
        assert!(
            answered,
            "lab: httpd {} in {} not serving after {SERVE_TIMEOUT:?}",
            self.name, self.netns
        );
    }

    /// Kills it (SIGKILL by PID) and reaps it: the port is closed when this returns.
    pub fn kill(&mut self) {
        self.process.signal(libc::SIGKILL).unwrap_or_else(|e| panic!("lab: {e}"));
        assert!(
            self.process.wait_exit(Duration::from_secs(5)).is_some(),
            "lab: httpd {} (pid {}) did not exit after SIGKILL",
            self.name,
            self.pid()
        );
    }
}
