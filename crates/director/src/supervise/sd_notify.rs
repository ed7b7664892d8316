//! The service manager's notification protocol (systemd's `sd_notify`), by hand: one
//! datagram of `KEY=VALUE` lines to the unix socket named by `$NOTIFY_SOCKET`, a path
//! or, with a leading `@`, an abstract name. Without the variable nothing is sent.

use std::fmt;
use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What the environment asked for, read once at start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NotifyEnv {
    /// Where to send, if anywhere.
    pub socket: Option<NotifyAddress>,
    /// The watchdog timeout, when the watchdog is on and meant for this process.
    pub watchdog: Option<Duration>,
    /// Problems with the variables, for the log: each names the variable and its value.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyAddress {
    Path(PathBuf),
    /// Without the leading `@`.
    Abstract(Vec<u8>),
}

impl fmt::Display for NotifyAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyAddress::Path(path) => write!(f, "{}", path.display()),
            NotifyAddress::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
        }
    }
}

impl NotifyEnv {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` through `var`
    /// (`std::env::var_os` in the daemon); `pid` is this process's. A malformed value
    /// turns that feature off with a warning; it never stops the daemon.
    pub fn parse(var: impl Fn(&str) -> Option<String>, pid: u32) -> NotifyEnv {
        let mut env = NotifyEnv::default();
        match var("NOTIFY_SOCKET").as_deref() {
            None | Some("") => {}
            Some(value) => match parse_address(value) {
                Some(address) => env.socket = Some(address),
                None => env.warnings.push(format!(
                    "NOTIFY_SOCKET={value:?} is neither an absolute path nor an @abstract \
                     name; not notifying the service manager"
                )),
            },
        }
        let usec = match var("WATCHDOG_USEC").as_deref() {
            None | Some("") => return env,
            Some(value) => match value.parse::<u64>() {
                Ok(usec) if usec > 0 => usec,
                _ => {
                    env.warnings.push(format!(
                        "WATCHDOG_USEC={value:?} is not a positive number of microseconds; \
                         no watchdog pings"
                    ));
                    return env;
                }
            },
        };
        match var("WATCHDOG_PID").as_deref() {
            None | Some("") => {}
            Some(value) => match value.parse::<u32>() {
                Ok(p) if p == pid => {}
                // The watchdog is another process's (a wrapper's): not ours to ping.
                Ok(_) => return env,
                Err(_) => {
                    env.warnings.push(format!(
                        "WATCHDOG_PID={value:?} is not a process id; no watchdog pings"
                    ));
                    return env;
                }
            },
        }
        if env.socket.is_none() {
            env.warnings.push(format!(
                "WATCHDOG_USEC={usec} without a usable NOTIFY_SOCKET; no watchdog pings"
            ));
            return env;
        }
        env.watchdog = Some(Duration::from_micros(usec));
        env
    }
}

fn parse_address(value: &str) -> Option<NotifyAddress> {
    if let Some(name) = value.strip_prefix('@') {
        return (!name.is_empty()).then(|| NotifyAddress::Abstract(name.as_bytes().to_vec()));
    }
    value.starts_with('/').then(|| NotifyAddress::Path(PathBuf::from(value)))
}

/// Sends notifications; a no-op without a socket. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Notifier {
    target: Option<(NotifyAddress, UnixDatagram)>,
    /// A send failure is logged once, not at every ping.
    failed: AtomicBool,
}

impl Notifier {
    /// A notifier for `address`; `Err` when no datagram socket can be made.
    pub fn new(address: Option<NotifyAddress>) -> io::Result<Notifier> {
        let target = match address {
            Some(address) => {
                let socket = UnixDatagram::unbound()?;
                // Sends run on the daemon's one runtime thread: a full receive queue
                // (systemd busy or re-executing) must fail the send, not stall VRRP.
                socket.set_nonblocking(true)?;
                Some((address, socket))
            }
            None => None,
        };
        Ok(Notifier { target, failed: AtomicBool::new(false) })
    }

    /// Sends nothing, ever.
    pub fn disabled() -> Notifier {
        Notifier { target: None, failed: AtomicBool::new(false) }
    }

    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends `message` (`KEY=VALUE` lines). A failure is logged (once until a send
    /// works again) and otherwise ignored: the service manager's absence must not
    /// stop the director.
    pub fn send(&self, message: &str) {
        let Some((address, socket)) = &self.target else { return };
        match send_to(socket, address, message.as_bytes()) {
            Ok(_) => {
                if self.failed.swap(false, Ordering::Relaxed) {
                    tracing::info!(notify_socket = %address, "sd_notify: sending works again");
                }
            }
            Err(e) => {
                if !self.failed.swap(true, Ordering::Relaxed) {
                    tracing::warn!(notify_socket = %address, "sd_notify: sending to {address}: {e}");
                }
            }
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// `RELOADING=1` with the monotonic clock, as `Type=notify-reload` requires.
    pub fn reloading(&self) {
        match monotonic_usec() {
            Ok(usec) => self.send(&format!("RELOADING=1\nMONOTONIC_USEC={usec}")),
            Err(e) => {
                tracing::warn!("sd_notify: CLOCK_MONOTONIC: {e}");
                self.send("RELOADING=1");
            }
        }
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }
}

fn send_to(socket: &UnixDatagram, address: &NotifyAddress, bytes: &[u8]) -> io::Result<usize> {
    match address {
        NotifyAddress::Path(path) => socket.send_to(bytes, path),
        NotifyAddress::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(bytes, &addr)
        }
    }
}

/// A value must stay on its line: a newline would start another assignment.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd compares `MONOTONIC_USEC` with.
fn monotonic_usec() -> io::Result<u64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    Ok(secs * 1_000_000 + nanos / 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)], pid: u32) -> NotifyEnv {
        let vars: Vec<(String, String)> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        NotifyEnv::parse(|k| vars.iter().find(|(name, _)| name == k).map(|(_, v)| v.clone()), pid)
    }

    #[test]
    fn a_receiver_that_reads_nothing_never_blocks_the_sender() {
        // A service manager that does not read: its queue fills, and a blocking send
        // would stall the daemon's only runtime thread.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let _receiver = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::new(Some(NotifyAddress::Path(path))).unwrap();
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for _ in 0..10_000 {
                notifier.watchdog();
            }
            let _ = done.send(notifier.failed.load(Ordering::Relaxed));
        });
        let failed = finished.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert!(failed, "10,000 unread datagrams should have filled the queue");
    }

    #[test]
    fn no_socket_means_nothing_and_no_warning() {
        assert_eq!(env(&[], 7), NotifyEnv::default());
        assert_eq!(env(&[("NOTIFY_SOCKET", "")], 7), NotifyEnv::default());
    }

    #[test]
    fn paths_and_abstract_names() {
        let e = env(&[("NOTIFY_SOCKET", "/run/systemd/notify")], 7);
        assert_eq!(e.socket, Some(NotifyAddress::Path("/run/systemd/notify".into())));
        let e = env(&[("NOTIFY_SOCKET", "@sd-notify")], 7);
        assert_eq!(e.socket, Some(NotifyAddress::Abstract(b"sd-notify".to_vec())));
        assert!(e.warnings.is_empty());
    }

    #[test]
    fn a_relative_socket_is_a_warning_naming_it() {
        let e = env(&[("NOTIFY_SOCKET", "run/notify"), ("WATCHDOG_USEC", "1000000")], 7);
        assert_eq!(e.socket, None);
        assert_eq!(e.watchdog, None);
        assert!(e.warnings[0].contains("NOTIFY_SOCKET=\"run/notify\""), "{:?}", e.warnings);
        assert!(e.warnings[1].contains("WATCHDOG_USEC=1000000"), "{:?}", e.warnings);
    }

    #[test]
    fn watchdog_for_this_pid_only() {
        let base = [("NOTIFY_SOCKET", "/n"), ("WATCHDOG_USEC", "2000000")];
        assert_eq!(env(&base, 7).watchdog, Some(Duration::from_secs(2)));
        let mine = [base[0], base[1], ("WATCHDOG_PID", "7")];
        assert_eq!(env(&mine, 7).watchdog, Some(Duration::from_secs(2)));
        let other = [base[0], base[1], ("WATCHDOG_PID", "8")];
        let e = env(&other, 7);
        assert_eq!(e.watchdog, None);
        assert!(e.warnings.is_empty());
    }

    #[test]
    fn malformed_watchdog_values_are_warnings() {
        for (key, value) in
            [("WATCHDOG_USEC", "10s"), ("WATCHDOG_USEC", "0"), ("WATCHDOG_PID", "x")]
        {
            let mut vars = vec![("NOTIFY_SOCKET", "/n"), ("WATCHDOG_USEC", "1000")];
            vars.retain(|(k, _)| *k != key);
            vars.push((key, value));
            let e = env(&vars, 7);
            assert_eq!(e.watchdog, None, "{key}={value}");
            assert!(e.warnings[0].contains(&format!("{key}={value:?}")), "{:?}", e.warnings);
        }
    }

    #[test]
    fn sends_one_datagram_per_message_to_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::new(Some(NotifyAddress::Path(path))).unwrap();
        notifier.ready("a\nb");
        let mut buf = [0u8; 256];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=a b");
        notifier.reloading();
        let n = listener.recv(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(text.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{text}");
        let usec: u64 = text.rsplit('=').next().unwrap().parse().unwrap();
        assert!(usec > 0);
    }

    #[test]
    fn sends_to_an_abstract_name() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("director-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        let notifier = Notifier::new(Some(NotifyAddress::Abstract(name.into_bytes()))).unwrap();
        notifier.watchdog();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }
}
