//! The metrics endpoint of the whole daemon on the host: `directord`'s `run` on its own
//! current-thread runtime with real TCP checks against listeners on 127.0.0.1 and the
//! reconciler on an in-memory kernel (the host has no IPVS), scraped over TCP like
//! Prometheus does: health, weights and check failures follow a listener that goes
//! away, reloads are counted, hostile clients do not hold up a scrape, and a reload
//! moves the endpoint.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use director::config::Config;
use director::daemon::{ConnectIpvs, Options};
use director::reconcile::{FakeKernel, Reconciler};
use ipvs::{ConnCounts, Protocol, ServiceKey, Stats};
use tokio::sync::{mpsc, oneshot};

const VIP: &str = "192.0.2.100";

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    (l, port)
}

/// A loopback port free a moment ago.
fn free_port() -> u16 {
    listener().1
}

fn yaml(metrics: u16, ports: &[u16], weights: &[u32]) -> String {
    let mut rs = String::new();
    for (port, weight) in ports.iter().zip(weights) {
        rs.push_str(&format!("      - {{address: 127.0.0.1, port: {port}, weight: {weight}}}\n"));
    }
    format!(
        "director: {{id: metrics-test, metrics: \"127.0.0.1:{metrics}\"}}
virtual_servers:
  - name: web
    address: {VIP}
    port: 80
    scheduler: wrr
    forwarding: nat
    check: {{type: tcp, delay_loop: 200ms, connect_timeout: 300ms, retry: 0, delay_before_retry: 100ms}}
    real_servers:
{rs}"
    )
}

fn key() -> ServiceKey {
    ServiceKey::Addr { protocol: Protocol::Tcp, addr: VIP.parse().expect("vip"), port: 80 }
}

/// `run_with` on a thread of its own, as `directord` runs it.
struct Daemon {
    reloads: mpsc::Sender<()>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
    config_path: PathBuf,
}

impl Daemon {
    fn start(dir: &Path, yaml: &str, kernel: &FakeKernel) -> Daemon {
        let config_path = dir.join("director.yaml");
        std::fs::write(&config_path, yaml).expect("write config");
        let config = Config::load(&config_path).unwrap_or_else(|e| panic!("{e}"));
        let options = Options {
            socket: dir.join("d.sock"),
            config_path: config_path.clone(),
            supervision: Default::default(),
        };
        let kernel = kernel.clone();
        let connect: ConnectIpvs = Arc::new(move || Reconciler::spawn(kernel.clone()));
        let (reloads, reloads_rx) = mpsc::channel(1);
        let (stop, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let shutdown = async move {
                    let _ = stop_rx.await;
                };
                director::daemon::run_with(config, options, reloads_rx, shutdown, connect)
                    .await
                    .map_err(|e| e.to_string())
            })
        });
        Daemon { reloads, stop: Some(stop), thread: Some(thread), config_path }
    }

    /// Writes `yaml` and reloads (as SIGHUP does).
    fn reload(&self, yaml: &str) {
        std::fs::write(&self.config_path, yaml).expect("write config");
        self.reloads.blocking_send(()).expect("daemon running");
    }

    fn stop(mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread.take().expect("thread").join().expect("daemon thread")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One HTTP exchange: `request` sent as is, the whole answer read until the server
/// closes. (status code, head, body)
fn exchange(addr: SocketAddr, request: &[u8]) -> Result<(u16, String, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    stream.write_all(request).map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8(answer).map_err(|e| e.to_string())?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or(format!("no head in {text:?}"))?;
    let code = head.split(' ').nth(1).and_then(|c| c.parse().ok()).ok_or(format!("{head:?}"))?;
    Ok((code, head.to_string(), body.to_string()))
}

fn try_scrape(addr: SocketAddr) -> Result<String, String> {
    let request = b"GET /metrics HTTP/1.1\r\nHost: test\r\nAccept: text/plain\r\n\r\n";
    let (code, head, body) = exchange(addr, request)?;
    assert_eq!(code, 200, "{head}\n{body}");
    let length = format!("Content-Length: {}\r\n", body.len());
    assert!(head.contains(&length), "{head}");
    Ok(body)
}

fn scrape(addr: SocketAddr) -> String {
    try_scrape(addr).unwrap_or_else(|e| panic!("scrape: {e}"))
}

/// The value of the one sample `series` (name and labels as written), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn rs(port: u16) -> String {
    format!("virtual_server=\"web\",address=\"127.0.0.1\",port=\"{port}\"")
}

/// Scrapes until `cond` holds on a scrape; that scrape.
fn wait_scrape(addr: SocketAddr, what: &str, cond: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Refused until the daemon's thread has bound the endpoint.
        let text = try_scrape(addr).unwrap_or_else(|e| e);
        if cond(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; last scrape:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn scrapes_follow_checks_reloads_and_survive_hostile_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_l1, p1) = listener();
    let (l2, p2) = listener();
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let kernel = FakeKernel::default();
    let daemon = Daemon::start(dir.path(), &yaml(port, &[p1, p2], &[1, 2]), &kernel);

    // Both real servers up and in the table with their weights.
    let up = |text: &str, port: u16, weight: u32| {
        value(text, &format!("director_real_server_healthy{{{}}}", rs(port))) == Some(1.0)
            && value(text, &format!("director_real_server_in_ipvs{{{}}}", rs(port))) == Some(1.0)
            && value(text, &format!("director_real_server_weight{{{}}}", rs(port)))
                == Some(f64::from(weight))
    };
    // (Up from the start without alpha; the first probe comes within a delay_loop.)
    let probes = format!("director_check_duration_seconds_count{{{},type=\"tcp\"}}", rs(p1));
    let text = wait_scrape(addr, "both real servers up and probed", |t| {
        up(t, p1, 1) && up(t, p2, 2) && value(t, &probes).is_some_and(|n| n >= 1.0)
    });
    assert_eq!(
        value(&text, "director_virtual_server_quorum_up{virtual_server=\"web\"}"),
        Some(1.0)
    );
    assert_eq!(value(&text, "director_scrape_success{part=\"ipvs_stats\"}"), Some(1.0));
    assert!(value(&text, "director_reconcile_ops_total").is_some_and(|n| n >= 3.0), "{text}");
    assert_eq!(value(&text, "director_config_reloads_total{result=\"ok\"}"), Some(0.0));
    let (code, head, _) = exchange(addr, b"GET /metrics HTTP/1.0\r\n\r\n").expect("1.0");
    assert_eq!(code, 200);
    assert!(head.contains("Content-Type: text/plain; version=0.0.4"), "{head}");

    // The kernel's counters, read at scrape time.
    let stats = Stats { conns: 42, inpkts: 420, inbytes: 42_000, ..Stats::default() };
    kernel.set_service_stats(key(), stats);
    let dest: IpAddr = [127, 0, 0, 1].into();
    let conns = ConnCounts { active: 3, inactive: 1, persistent: 0 };
    kernel.set_destination_stats(key(), (dest, p1), Stats { conns: 40, ..stats }, conns);
    let text = scrape(addr);
    assert_eq!(value(&text, "director_ipvs_connections_total{virtual_server=\"web\"}"), Some(42.0));
    assert_eq!(
        value(&text, "director_ipvs_bytes_in_total{virtual_server=\"web\"}"),
        Some(42_000.0)
    );
    let rs_conns = format!("director_ipvs_real_server_connections_total{{{}}}", rs(p1));
    assert_eq!(value(&text, &rs_conns), Some(40.0));
    let active = format!("director_ipvs_real_server_active_connections{{{}}}", rs(p1));
    assert_eq!(value(&text, &active), Some(3.0));

    // rs2's listener goes: unhealthy, out of the table, failures counted as refused.
    drop(l2);
    let refused =
        format!("director_check_failures_total{{{},type=\"tcp\",reason=\"refused\"}}", rs(p2));
    let text = wait_scrape(addr, "rs2 down", |t| {
        value(t, &format!("director_real_server_healthy{{{}}}", rs(p2))) == Some(0.0)
            && value(t, &format!("director_real_server_in_ipvs{{{}}}", rs(p2))) == Some(0.0)
            && value(t, &refused).is_some_and(|n| n >= 1.0)
    });
    assert_eq!(value(&text, &format!("director_real_server_weight{{{}}}", rs(p2))), Some(0.0));
    assert_eq!(
        value(&text, &format!("director_real_server_configured_weight{{{}}}", rs(p2))),
        Some(2.0)
    );
    assert_eq!(
        value(&text, "director_virtual_server_live_weight{virtual_server=\"web\"}"),
        Some(1.0)
    );
    // Failures keep counting while it stays down (every probe, not only the change).
    let first = value(&text, &refused).unwrap_or_default();
    wait_scrape(addr, "more refused probes", |t| value(t, &refused).is_some_and(|n| n > first));

    // A good reload (rs1's weight 1 -> 4) and a bad one are counted.
    let before = scrape(addr);
    let loaded = "director_config_last_reload_success_timestamp_seconds";
    let loaded_at = value(&before, loaded).expect("timestamp");
    daemon.reload(&yaml(port, &[p1, p2], &[4, 2]));
    let text = wait_scrape(addr, "a good reload", |t| {
        value(t, "director_config_reloads_total{result=\"ok\"}") == Some(1.0)
    });
    assert_eq!(value(&text, &format!("director_real_server_weight{{{}}}", rs(p1))), Some(4.0));
    assert_eq!(value(&text, "director_config_last_reload_successful"), Some(1.0));
    assert!(value(&text, loaded).is_some_and(|t| t > loaded_at), "{text}");
    daemon.reload("virtual_servers: [this is not a virtual server\n");
    let text = wait_scrape(addr, "a bad reload", |t| {
        value(t, "director_config_reloads_total{result=\"failed\"}") == Some(1.0)
    });
    assert_eq!(value(&text, "director_config_last_reload_successful"), Some(0.0));
    assert_eq!(value(&text, "director_config_reloads_total{result=\"ok\"}"), Some(1.0));
    assert_eq!(value(&text, &format!("director_real_server_weight{{{}}}", rs(p1))), Some(4.0));

    hostile_clients_do_not_hold_up_a_scrape(addr);
    other_paths_and_methods(addr);
    // Many at once: each gets a whole answer (they share gatherings).
    let many: Vec<_> = (0..16).map(|_| std::thread::spawn(move || try_scrape(addr))).collect();
    for scrape in many {
        let text = scrape.join().expect("scrape thread").unwrap_or_else(|e| panic!("{e}"));
        assert!(text.contains("director_reconcile_ops_total "), "{text}");
    }

    // A reload that moves the endpoint: the new port serves, the old one is closed.
    let moved = free_port();
    let moved_addr: SocketAddr = ([127, 0, 0, 1], moved).into();
    daemon.reload(&yaml(moved, &[p1, p2], &[4, 2]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while exchange(moved_addr, b"GET /metrics HTTP/1.0\r\n\r\n").is_err() {
        assert!(Instant::now() < deadline, "the endpoint did not move to {moved_addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = scrape(moved_addr);
    assert_eq!(value(&text, "director_config_reloads_total{result=\"ok\"}"), Some(2.0));
    assert!(TcpStream::connect(addr).is_err(), "{addr} still listens");

    // A reload to an address that is taken is refused; the endpoint stays.
    let (_taken, taken) = listener();
    daemon.reload(&yaml(taken, &[p1, p2], &[4, 2]));
    let text = wait_scrape(moved_addr, "a refused move", |t| {
        value(t, "director_config_reloads_total{result=\"failed\"}") == Some(2.0)
    });
    assert_eq!(value(&text, "director_config_last_reload_successful"), Some(0.0));

    assert_eq!(daemon.stop(), Ok(()));
    assert!(TcpStream::connect(moved_addr).is_err(), "the endpoint outlived the daemon");
}

/// A slowloris (a header byte now and then, never the blank line) and a huge request
/// head hold neither the endpoint nor the daemon: a scrape between them is answered at
/// once, the huge head gets 431 and the slow one 408 within the read timeout.
fn hostile_clients_do_not_hold_up_a_scrape(addr: SocketAddr) {
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("slowloris connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nX-Slow: ");
        let started = Instant::now();
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        // One byte every 100 ms until the server answers or gives up on us.
        s.set_nonblocking(true).expect("nonblocking");
        loop {
            match s.read(&mut byte) {
                Ok(0) => break,
                Ok(_) => answer.push(byte[0]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if s.write_all(b"a").is_err() || started.elapsed() > Duration::from_secs(10) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(_) => break,
            }
        }
        (String::from_utf8_lossy(&answer).into_owned(), started.elapsed())
    });
    let mut huge = TcpStream::connect(addr).expect("huge connect");
    huge.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    huge.set_write_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let _ = huge.write_all(b"GET /metrics HTTP/1.1\r\nX-Huge: ");
    // Far more than the head may have; the server stops reading and answers.
    let _ = huge.write_all(&vec![b'x'; 64 * 1024]);
    // Meanwhile an honest scrape is answered at once.
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    let text = scrape(addr);
    assert!(t0.elapsed() < Duration::from_secs(1), "scrape took {:?}", t0.elapsed());
    assert!(text.contains("director_build_info"), "{text}");
    let mut answer = Vec::new();
    let _ = huge.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431 "), "huge request: {answer:?}");
    let (answer, took) = slow.join().expect("slowloris thread");
    assert!(answer.starts_with("HTTP/1.1 408 "), "slowloris: {answer:?}");
    assert!(took < Duration::from_secs(7), "slowloris kept its connection {took:?}");
}

fn other_paths_and_methods(addr: SocketAddr) {
    let (code, _, _) = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect("GET /");
    assert_eq!(code, 404);
    let (code, _, _) = exchange(addr, b"GET /metricsx HTTP/1.1\r\n\r\n").expect("GET /metricsx");
    assert_eq!(code, 404);
    let (code, head, _) =
        exchange(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").expect("POST");
    assert_eq!(code, 405);
    assert!(head.contains("Allow: GET, HEAD"), "{head}");
    let (code, head, body) = exchange(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n").expect("HEAD");
    assert_eq!(code, 200);
    assert!(body.is_empty() && head.contains("Content-Length: "), "{head}\n{body}");
    let (code, _, body) = exchange(addr, b"GET /metrics?x=1 HTTP/1.1\r\n\r\n").expect("query");
    assert_eq!(code, 200);
    assert!(body.contains("director_build_info"));
    let (code, _, _) = exchange(addr, b"BREW\r\n\r\n").expect("garbage");
    assert_eq!(code, 400);
}

#[test]
fn a_taken_metrics_address_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_taken, port) = listener();
    let kernel = FakeKernel::default();
    let (_rs, rs_port) = listener();
    let daemon = Daemon::start(dir.path(), &yaml(port, &[rs_port], &[1]), &kernel);
    let err = daemon.stop().expect_err("the start must fail");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("director.metrics"),
        "{err}"
    );
    assert!(!dir.path().join("d.sock").exists(), "the control socket was left behind");
}
