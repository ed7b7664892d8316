//! The lab with both directors running, and what every scenario asks of it: wait for
//! a state that status, ipvsadm and the VIPs all agree on, time it, and fail with
//! everything that shows why.

use std::io::Write;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use testkit::netns::Netns;

use crate::config::{LabConfig, DR_SERVICE, INSTANCE, METRICS, NAT_SERVICE};
use crate::daemon::LabDirector;
use crate::ipvsadm::{Conns, Table, Traffic};
use crate::status::{ServiceExpect, Status};
use crate::topology::{
    dr_service, nat_service, Lab, DR_PORT, DR_REAL, HTTP_PORT, NAT_GATEWAY, NAT_REAL, SORRY, VIP,
};

/// How often a wait looks again. Each look execs directorctl and ipvsadm (tens of
/// milliseconds each under TCG); measured times are this coarse.
pub const POLL: Duration = Duration::from_millis(50);
/// How often a timed wait looks (reading /proc, no exec).
pub const FAST_POLL: Duration = Duration::from_millis(10);
/// How often the kernel updates the counters ipvsadm --stats shows.
pub const STATS_TICK: Duration = Duration::from_secs(2);
/// How long a read of those counters waits for the expected total: a few ticks, since
/// the estimator's kernel thread runs late on a loaded TCG host (a CI run once saw 4 s
/// not be enough). The wait ends as soon as the total is there.
pub const STATS_SETTLE: Duration = Duration::from_secs(10);
/// Startup: both daemons up, VRRP settled (lb1 waits out its master-down timer as
/// BACKUP first), every real server checked once.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the lab should look like: who is MASTER, and each service as the master
/// reports it. The other director (when running) is BACKUP with the same health and
/// nothing in its table.
#[derive(Debug, Clone)]
pub struct Expect {
    pub master: usize,
    pub dr: ServiceExpect,
    pub nat: ServiceExpect,
}

impl Expect {
    /// Everything healthy and in `master`'s table.
    pub fn steady(master: usize) -> Expect {
        Expect {
            master,
            dr: ServiceExpect::all_up(&DR_REAL, true),
            nat: ServiceExpect::all_up(&NAT_REAL, true),
        }
    }
}

/// Field order is drop order: the daemons stop before the namespaces go.
#[derive(Debug)]
pub struct Rig {
    /// lb1, lb2; `None` while a scenario has one stopped.
    pub directors: [Option<LabDirector>; 2],
    pub lab: Lab,
    pub config: LabConfig,
    scenario: String,
    started: Instant,
}

impl Rig {
    /// Builds the lab, starts lb1 and lb2 with the default config and waits until lb1
    /// is MASTER with every real server in its table.
    pub fn start(scenario: &str) -> Rig {
        let started = Instant::now();
        let lab = Lab::new();
        let mut rig = Rig {
            directors: [None, None],
            lab,
            config: LabConfig::default(),
            scenario: scenario.to_string(),
            started,
        };
        rig.note("lab built");
        for lb in 0..2 {
            let yaml = rig.config.yaml(lb);
            match LabDirector::start(&rig.lab.lb[lb], &format!("lb{}", lb + 1), &yaml) {
                Ok(d) => rig.directors[lb] = Some(d),
                Err(e) => rig.fail(&e),
            }
        }
        rig.note("directors answer");
        let took = rig.wait(SETTLE_TIMEOUT, &Expect::steady(0));
        rig.note(&format!("steady: lb1 MASTER with every real server ({took:?})"));
        rig
    }

    pub fn director(&self, lb: usize) -> &LabDirector {
        self.directors[lb].as_ref().unwrap_or_else(|| panic!("lb{} is not running", lb + 1))
    }

    pub fn director_mut(&mut self, lb: usize) -> &mut LabDirector {
        self.directors[lb].as_mut().unwrap_or_else(|| panic!("lb{} is not running", lb + 1))
    }

    /// Prints `lab[scenario] +12.345s: what` straight to stderr (the test harness
    /// does not capture it), so a run shows its timeline.
    pub fn note(&self, what: &str) {
        let t = self.started.elapsed().as_secs_f64();
        let _ = writeln!(std::io::stderr(), "lab[{}] +{t:.3}s: {what}", self.scenario);
    }

    /// Waits until `expect` holds everywhere (status, ipvsadm and VIPs of both
    /// directors); returns how long that took. Fails the test after `timeout`, with
    /// what did not match.
    pub fn wait(&self, timeout: Duration, expect: &Expect) -> Duration {
        let t0 = Instant::now();
        loop {
            match self.check(expect) {
                Ok(()) => return t0.elapsed(),
                Err(why) if t0.elapsed() >= timeout => {
                    self.fail(&format!("not within {timeout:?}: {why}"))
                }
                Err(_) => std::thread::sleep(POLL),
            }
        }
    }

    /// Whether `expect` holds now: `Err` says what does not.
    pub fn check(&self, expect: &Expect) -> Result<(), String> {
        for lb in 0..2 {
            let Some(d) = &self.directors[lb] else { continue };
            let master = lb == expect.master;
            let who = format!("lb{}", lb + 1);
            let status = d.status()?;
            let want_state = if master { "MASTER" } else { "BACKUP" };
            let state = status.state(INSTANCE);
            if state != want_state {
                return Err(format!("{who} is {state:?}, want {want_state}"));
            }
            let (dr, nat) = if master {
                (expect.dr.clone(), expect.nat.clone())
            } else {
                (expect.dr.as_backup(), expect.nat.as_backup())
            };
            for (name, want) in [(DR_SERVICE, &dr), (NAT_SERVICE, &nat)] {
                if let Some(why) = want.mismatch(status.virtual_server(name)) {
                    return Err(format!("{who} status {name}: {why}"));
                }
            }
            let table = self.ipvs(lb)?;
            check_table(&table, &dr, &self.config.dr_weights, &dr_service().to_string())
                .map_err(|e| format!("{who} ipvsadm {DR_SERVICE}: {e}"))?;
            check_table(&table, &nat, &[1, 1], &nat_service().to_string())
                .map_err(|e| format!("{who} ipvsadm {NAT_SERVICE}: {e}"))?;
            let ns = &self.lab.lb[lb];
            for (dev, vip) in [("eth0", VIP), ("eth1", NAT_GATEWAY)] {
                let has = has_address(ns, dev, vip);
                if has != master {
                    return Err(format!("{who} {dev} has {vip}: {has}, want {master}"));
                }
            }
        }
        Ok(())
    }

    /// `ipvsadm -Ln` in director `lb`'s namespace.
    pub fn ipvs(&self, lb: usize) -> Result<Table, String> {
        Table::parse(&in_netns(&self.lab.lb[lb], &["ipvsadm", "-Ln"])?)
    }

    /// The kernel's table of director `lb` from `/proc/net/ip_vs`, read by a thread
    /// in its namespace: no exec, so a timed wait can look every few milliseconds.
    /// (`/proc/net` is the process's namespace; `/proc/thread-self/net` the thread's.)
    pub fn kernel_table(&self, lb: usize) -> Table {
        kernel_table(&self.lab.lb[lb]).unwrap_or_else(|e| self.fail(&e))
    }

    /// Polls `cond` every [`FAST_POLL`] until it holds; how long that took. Fails the
    /// test if it took more than `limit` (or never came, `limit` + 10 s).
    pub fn time_until(
        &self,
        what: &str,
        limit: Duration,
        mut cond: impl FnMut() -> bool,
    ) -> Duration {
        let t0 = Instant::now();
        while !cond() {
            if t0.elapsed() > limit + Duration::from_secs(10) {
                self.fail(&format!("{what}: not after {:?}", t0.elapsed()));
            }
            std::thread::sleep(FAST_POLL);
        }
        let took = t0.elapsed();
        if took > limit {
            self.fail(&format!("{what}: took {took:?}, more than {limit:?}"));
        }
        self.note(&format!("{what}: {took:?} (limit {limit:?})"));
        took
    }

    /// Director `lb` holds both VIPs and, in its kernel table, both services with
    /// every real server (quick: no exec).
    pub fn owns_everything(&self, lb: usize) -> bool {
        let ns = &self.lab.lb[lb];
        if !has_address(ns, "eth0", VIP) || !has_address(ns, "eth1", NAT_GATEWAY) {
            return false;
        }
        let table = self.kernel_table(lb);
        table.dests(&dr_service().to_string()).len() == DR_REAL.len()
            && table.dests(&nat_service().to_string()).len() == NAT_REAL.len()
    }

    /// Director `lb` holds neither VIP nor any of the services (quick: no exec).
    pub fn holds_nothing(&self, lb: usize) -> bool {
        let ns = &self.lab.lb[lb];
        let table = self.kernel_table(lb);
        !has_address(ns, "eth0", VIP)
            && !has_address(ns, "eth1", NAT_GATEWAY)
            && table.service(&dr_service().to_string()).is_none()
            && table.service(&nat_service().to_string()).is_none()
    }

    /// `ipvsadm -Ln --stats --exact` in director `lb`'s namespace.
    pub fn ipvs_conns(&self, lb: usize) -> Conns {
        in_netns(&self.lab.lb[lb], &["ipvsadm", "-Ln", "--stats", "--exact"])
            .and_then(|t| Conns::parse(&t))
            .unwrap_or_else(|e| self.fail(&e))
    }

    /// `ipvsadm -Ln --stats --exact` in director `lb`'s namespace, every counter.
    pub fn ipvs_traffic(&self, lb: usize) -> Traffic {
        in_netns(&self.lab.lb[lb], &["ipvsadm", "-Ln", "--stats", "--exact"])
            .and_then(|t| Traffic::parse(&t))
            .unwrap_or_else(|e| self.fail(&e))
    }

    /// A scrape of director `lb`'s metrics endpoint (from a thread in its namespace).
    pub fn scrape(&self, lb: usize) -> String {
        let addr = METRICS.parse().unwrap_or_else(|e| panic!("{METRICS}: {e}"));
        testkit::metrics::scrape(&self.lab.lb[lb], addr)
            .unwrap_or_else(|e| self.fail(&format!("lb{} metrics: {e}", lb + 1)))
    }

    /// The connection counters once they show at least `total` new connections to
    /// `service` since `before`. The kernel folds its per-CPU counters into what
    /// ipvsadm reads only every 2 s (the rate estimator's tick), so a read right
    /// after the traffic still shows the old numbers.
    pub fn ipvs_conns_settled(
        &self,
        lb: usize,
        before: &Conns,
        service: &str,
        total: u64,
    ) -> Conns {
        let t0 = Instant::now();
        loop {
            let now = self.ipvs_conns(lb);
            if now.total_since(before, service) >= total || t0.elapsed() > STATS_SETTLE {
                return now;
            }
            std::thread::sleep(POLL * 4);
        }
    }

    /// Status of director `lb`, or the test fails.
    pub fn status(&self, lb: usize) -> Status {
        self.director(lb).status().unwrap_or_else(|e| self.fail(&e))
    }

    /// Fails the test with `why` and everything there is to see: both directors'
    /// status and log tail, both IPVS tables.
    pub fn fail(&self, why: &str) -> ! {
        let mut report = format!("lab[{}]: {why}\n", self.scenario);
        for lb in 0..2 {
            let who = format!("lb{}", lb + 1);
            match &self.directors[lb] {
                None => report.push_str(&format!("--- {who}: not running\n")),
                Some(d) => {
                    let status = d.ctl(&["status", "--json"]);
                    report.push_str(&format!(
                        "--- {who} status ({}):\n{}{}\n",
                        status.status,
                        String::from_utf8_lossy(&status.stdout),
                        String::from_utf8_lossy(&status.stderr)
                    ));
                    let log = d.log();
                    let tail: Vec<&str> = log.lines().rev().take(40).collect();
                    report.push_str(&format!("--- {who} log (last 40 lines):\n"));
                    for line in tail.iter().rev() {
                        report.push_str(line);
                        report.push('\n');
                    }
                }
            }
            let table = in_netns(&self.lab.lb[lb], &["ipvsadm", "-Ln"]).unwrap_or_else(|e| e);
            report.push_str(&format!("--- {who} ipvsadm -Ln:\n{table}"));
        }
        panic!("{report}")
    }
}

/// `table` lists service `addr` with exactly the real servers that `want` has in
/// IPVS (with `weights`, in config order) plus the sorry server when active; or
/// lists no such service when nothing should be in it.
fn check_table(
    table: &Table,
    want: &ServiceExpect,
    weights: &[u32],
    addr: &str,
) -> Result<(), String> {
    let mut expected: Vec<(String, Option<u32>)> = Vec::new();
    for ((a, e), w) in want.real.iter().zip(weights) {
        if e.in_ipvs {
            let port = if addr.ends_with(&format!(":{DR_PORT}")) { DR_PORT } else { HTTP_PORT };
            expected.push((format!("{a}:{port}"), Some(*w)));
        }
    }
    if want.sorry_server_active == Some(true) {
        expected.push((format!("{SORRY}:{DR_PORT}"), None));
    }
    let Some(service) = table.service(addr) else {
        return if expected.is_empty() && !want.service_in_ipvs() {
            Ok(())
        } else {
            Err(format!("service missing, want {expected:?}"))
        };
    };
    if !want.service_in_ipvs() {
        return Err(format!("service present on a backup: {:?}", service.dests));
    }
    let mut got: Vec<(String, Option<u32>)> = service
        .dests
        .iter()
        .map(|d| {
            let sorry = d.addr == format!("{SORRY}:{DR_PORT}");
            (d.addr.clone(), (!sorry).then_some(d.weight))
        })
        .collect();
    got.sort();
    expected.sort();
    if got != expected {
        return Err(format!("destinations {got:?}, want {expected:?}"));
    }
    Ok(())
}

/// Runs `argv` in `ns` from a thread that joined it (cheaper than `ip netns exec`,
/// which also sets up a mount namespace; ipvsadm and ip need only the network one).
pub fn in_netns(ns: &Netns, argv: &[&str]) -> Result<String, String> {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let name = ns.name().to_string();
    ns.in_thread(move || {
        let out = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("in {name}: {}: {e}", argv[0]))?;
        if !out.status.success() {
            return Err(format!(
                "in {name}: {argv:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    })
    .join()
    .unwrap_or_else(|_| Err("in_netns thread panicked".into()))
}

/// The kernel's IPVS table in `ns` from `/proc/net/ip_vs`, read by a thread in the
/// namespace: no exec. (`/proc/net` is the process's namespace; `/proc/thread-self/net`
/// the thread's.)
pub fn kernel_table(ns: &Netns) -> Result<Table, String> {
    let text = ns
        .in_thread(|| std::fs::read_to_string("/proc/thread-self/net/ip_vs"))
        .join()
        .map_err(|_| "kernel_table thread panicked".to_string())?;
    text.map_err(|e| format!("/proc/thread-self/net/ip_vs: {e}"))
        .and_then(|t| Table::parse_proc(&t))
}

/// Whether `addr` is on `dev` in `ns`: getifaddrs(3) from a thread in the namespace
/// (its netlink socket is the namespace's), no exec.
pub fn has_address(ns: &Netns, dev: &str, addr: Ipv4Addr) -> bool {
    let dev = dev.to_string();
    ns.in_thread(move || ipv4_addresses(&dev).contains(&addr)).join().unwrap_or(false)
}

fn ipv4_addresses(dev: &str) -> Vec<Ipv4Addr> {
    let mut found = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list that freeifaddrs releases;
    // every pointer read below comes from that list and is checked for null.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return found;
        }
        let mut cur = list;
        while !cur.is_null() {
            let ifa = &*cur;
            cur = ifa.ifa_next;
            if ifa.ifa_addr.is_null() || i32::from((*ifa.ifa_addr).sa_family) != libc::AF_INET {
                continue;
            }
            if std::ffi::CStr::from_ptr(ifa.ifa_name).to_bytes() != dev.as_bytes() {
                continue;
            }
            let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
            found.push(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
        }
        libc::freeifaddrs(list);
    }
    found
}
