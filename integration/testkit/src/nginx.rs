//! A real nginx in the foreground, one per fixture, in its own temporary
//! directory (config, pid file, logs, temp paths, document roots, TLS files).

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::site;
use crate::BlackHole;

/// The Debian package's binary; `NGINX` overrides it.
const DEFAULT_BINARY: &str = "/usr/sbin/nginx";
/// How long nginx may take to listen before the fixture gives up.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Free ports are picked, released, then bound by nginx: another process may
/// take one in between, so a start that loses that race is retried.
const START_ATTEMPTS: usize = 5;

/// A running nginx on 127.0.0.1, killed (by PID) when dropped. Starting one
/// takes a few milliseconds: give each test its own. (A fixture kept in a
/// `static` is never dropped and would leave nginx running after the tests.)
///
/// * [`Nginx::http_addr`]: plain HTTP. The default server block serves
///   [`site::DEFAULT_INDEX_BODY`] at `/`, and [`site::FIXED_PATH`],
///   [`site::DOWN_PATH`] (503), [`site::REDIRECT_PATH`] (301),
///   [`site::CHUNKED_PATH`] (chunked), [`site::LARGE_PATH`] (1 MiB). With
///   `Host: `[`site::SECOND_HOST`] a second server block answers `/` with
///   [`site::SECOND_INDEX_BODY`].
/// * [`Nginx::https_addr`]: TLS with a self-signed certificate for
///   [`site::TLS_NAME`] ([`Nginx::ca_file`] trusts it); the same pages as the
///   default server, plus [`site::SNI_PATH`], which echoes the SNI received.
#[derive(Debug)]
pub struct Nginx {
    child: Option<Child>,
    pid: u32,
    http: SocketAddr,
    https: SocketAddr,
    black_hole: BlackHole,
    dir: TempDir,
}

impl Nginx {
    /// The binary the fixture runs: `$NGINX`, else /usr/sbin/nginx.
    pub fn binary() -> PathBuf {
        std::env::var_os("NGINX").map_or_else(|| PathBuf::from(DEFAULT_BINARY), PathBuf::from)
    }

    pub fn is_installed() -> bool {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(Self::binary())
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }

    /// Starts nginx, or returns `None` after printing a skip line when it is
    /// not installed. Panics when it is installed but does not start, or when
    /// it is missing and `DIRECTOR_REQUIRE_NGINX=1`.
    pub fn start_or_skip() -> Option<Nginx> {
        if !Self::is_installed() {
            let why = format!(
                "nginx not found at {} (install the Debian package nginx-light, or set NGINX \
                 to its path)",
                Self::binary().display()
            );
            if crate::nginx_required() {
                panic!("{}=1 but {why}", crate::REQUIRE_NGINX_ENV);
            }
            crate::print_skip(&why);
            return None;
        }
        match Nginx::start() {
            Ok(nginx) => Some(nginx),
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts nginx and waits until both ports accept connections.
    pub fn start() -> Result<Nginx, String> {
        let dir = tempfile::Builder::new()
            .prefix("testkit-nginx-")
            .tempdir()
            .map_err(|e| format!("nginx fixture: temporary directory: {e}"))?;
        write_site(dir.path()).map_err(|e| format!("nginx fixture: writing the site: {e}"))?;
        write_tls(dir.path())?;
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let (http, https) = free_ports()?;
            match launch(dir.path(), http, https) {
                Ok(child) => {
                    let pid = child.id();
                    return Ok(Nginx {
                        child: Some(child),
                        pid,
                        http: SocketAddr::from((Ipv4Addr::LOCALHOST, http)),
                        https: SocketAddr::from((Ipv4Addr::LOCALHOST, https)),
                        black_hole: BlackHole::bind(),
                        dir,
                    });
                }
                Err(Launch::PortTaken(e)) => last_error = e,
                Err(Launch::Failed(e)) => return Err(e),
            }
        }
        Err(format!("nginx fixture: no free port pair after {START_ATTEMPTS} tries: {last_error}"))
    }

    /// Plain HTTP (default and second server blocks).
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// TLS.
    pub fn https_addr(&self) -> SocketAddr {
        self.https
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// `https://127.0.0.1:PORT/path`.
    pub fn https_url(&self, path: &str) -> String {
        format!("https://{}{path}", self.https)
    }

    /// The self-signed certificate (PEM) nginx serves; use it as the CA file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/cert.pem")
    }

    /// A port owned by this fixture that accepts and never answers.
    pub fn black_hole_addr(&self) -> SocketAddr {
        self.black_hole.addr()
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The fixture's directory (config, logs, document roots, TLS files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// nginx's error log and stderr, for failure messages.
    pub fn logs(&self) -> String {
        logs(self.dir.path())
    }

    /// Kills nginx (SIGKILL to its PID; it runs as a single process) and reaps
    /// it: from then on its ports refuse connections. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Launch {
    /// Another process bound one of the ports first: try other ports.
    PortTaken(String),
    Failed(String),
}

fn launch(dir: &Path, http: u16, https: u16) -> Result<Child, Launch> {
    let failed =
        |what: &str, e: std::io::Error| Launch::Failed(format!("nginx fixture: {what}: {e}"));
    let conf = dir.join("nginx.conf");
    fs::write(&conf, config(dir, http, https)).map_err(|e| failed("writing nginx.conf", e))?;
    let pid_file = dir.join("nginx.pid");
    let _ = fs::remove_file(&pid_file);
    let stderr = fs::File::create(dir.join("stderr.log")).map_err(|e| failed("stderr.log", e))?;
    let binary = Nginx::binary();
    let mut child = Command::new(&binary)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        // Errors before the config is read go here too, not to /var/log.
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| failed(&format!("starting {}", binary.display()), e))?;
    let pid = child.id();
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let logs = logs(dir);
            let message =
                format!("nginx fixture: {} exited ({status}) at start:\n{logs}", binary.display());
            return Err(if logs.contains("Address already in use") {
                Launch::PortTaken(message)
            } else {
                Launch::Failed(message)
            });
        }
        // The pid file is written after the listening sockets are bound, so a
        // connection that succeeds then reaches this nginx, not a squatter.
        let pid_written = fs::read_to_string(&pid_file).is_ok_and(|p| p.trim() == pid.to_string());
        if pid_written && accepts(http) && accepts(https) {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Launch::Failed(format!(
                "nginx fixture: not listening on 127.0.0.1:{http} and :{https} after \
                 {START_TIMEOUT:?}:\n{}",
                logs(dir)
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn accepts(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Two distinct ports free right now (both held while picking).
fn free_ports() -> Result<(u16, u16), String> {
    let bind = || {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| Ok((l.local_addr()?.port(), l)))
            .map_err(|e| format!("nginx fixture: picking a free port: {e}"))
    };
    let (a, _held_a) = bind()?;
    let (b, _held_b) = bind()?;
    Ok((a, b))
}

fn logs(dir: &Path) -> String {
    let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap_or_default();
    format!("error.log:\n{}stderr:\n{}", read("error.log"), read("stderr.log"))
}

fn write_site(dir: &Path) -> std::io::Result<()> {
    let default = dir.join("www/default");
    let second = dir.join("www/second");
    fs::create_dir_all(&default)?;
    fs::create_dir_all(&second)?;
    fs::write(default.join("index.html"), site::DEFAULT_INDEX_BODY)?;
    fs::write(second.join("index.html"), site::SECOND_INDEX_BODY)?;
    let file = |path: &str| default.join(path.trim_start_matches('/'));
    fs::write(file(site::FIXED_PATH), site::FIXED_BODY)?;
    fs::write(file(site::CHUNKED_PATH), site::chunked_template())?;
    fs::write(file(site::LARGE_PATH), site::large_body())?;
    Ok(())
}

fn write_tls(dir: &Path) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("nginx fixture: TLS certificate: {e}");
    let tls = dir.join("tls");
    fs::create_dir_all(&tls).map_err(|e| err(&e))?;
    let certified = rcgen::generate_simple_self_signed(vec![site::TLS_NAME.to_string()])
        .map_err(|e| err(&e))?;
    fs::write(tls.join("cert.pem"), certified.cert.pem()).map_err(|e| err(&e))?;
    fs::write(tls.join("key.pem"), certified.key_pair.serialize_pem()).map_err(|e| err(&e))?;
    Ok(())
}

/// The whole config: everything nginx writes stays in `dir`, and it listens on
/// 127.0.0.1 only. A single process (`master_process off`), so killing the
/// PID leaves no worker behind.
fn config(dir: &Path, http: u16, https: u16) -> String {
    let d = dir.display();
    let (fixed, down, moved, chunked, sni) = (
        site::FIXED_PATH,
        site::DOWN_PATH,
        site::REDIRECT_PATH,
        site::CHUNKED_PATH,
        site::SNI_PATH,
    );
    let (second, tls_name) = (site::SECOND_HOST, site::TLS_NAME);
    let (placeholder, replacement) = (site::CHUNKED_PLACEHOLDER, site::CHUNKED_REPLACEMENT);
    format!(
        r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log notice;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp-body;
    proxy_temp_path {d}/tmp-proxy;
    fastcgi_temp_path {d}/tmp-fastcgi;
    uwsgi_temp_path {d}/tmp-uwsgi;
    scgi_temp_path {d}/tmp-scgi;
    default_type application/octet-stream;

    server {{
        listen 127.0.0.1:{http} default_server;
        server_name _;
        root {d}/www/default;
        location = {down} {{ return 503; }}
        location = {moved} {{ return 301 {fixed}; }}
        location = {chunked} {{
            sub_filter '{placeholder}' '{replacement}';
            sub_filter_once off;
        }}
    }}

    server {{
        listen 127.0.0.1:{http};
        server_name {second};
        root {d}/www/second;
    }}

    server {{
        listen 127.0.0.1:{https} ssl default_server;
        server_name {tls_name};
        ssl_certificate {d}/tls/cert.pem;
        ssl_certificate_key {d}/tls/key.pem;
        root {d}/www/default;
        location = {sni} {{
            default_type text/plain;
            return 200 "sni=$ssl_server_name\n";
        }}
    }}
}}
"#
    )
}
