//! The demo's steps, in order, and the timeline they leave.

use std::time::{Duration, Instant};

use crate::daemon::LabDirector;
use crate::demo::plan::Plan;
use crate::demo::traffic::{tally, Traffic, INTERVAL};
use crate::ipvsadm::Table;
use crate::rig::{has_address, in_netns, kernel_table};
use crate::status::Status;
use crate::topology::{Lab, VIP};

/// How often a wait looks (each look reads /proc or execs directorctl).
const POLL: Duration = Duration::from_millis(20);
/// What a measured step may take beyond its protocol bound under TCG: the check
/// itself, the table write, and the observer's own polling on two emulated CPUs.
const SLACK: Duration = Duration::from_secs(2);
/// Startup: both daemons answer, VRRP elects lb1 (after its master-down wait as
/// BACKUP), every real server checked once.
const SETTLE: Duration = Duration::from_secs(40);
/// Requests of the distribution round: a multiple of the weights' sum.
const ROUND: usize = 60;

/// The lab, the two directors and what happened when.
#[derive(Debug)]
pub struct Demo {
    plan: Plan,
    /// lb1, lb2; `None` while one is down. Dropped before the lab.
    directors: [Option<LabDirector>; 2],
    /// The client, from the start; counted from [`Demo::serving_since`].
    traffic: Traffic,
    lab: Lab,
    serving_since: Instant,
    t0: Instant,
    timeline: Vec<(Instant, String)>,
    step: usize,
}

/// Plays the whole story; `Err` says which step did not happen.
pub fn run(plan: Plan) -> Result<(), String> {
    let t0 = Instant::now();
    println!("Building the lab: namespaces client, lb1, lb2, rs1-rs3, sorry; busybox httpd on each server.");
    let lab = Lab::new();
    let traffic = Traffic::start(&lab.client, plan.service);
    let mut demo = Demo {
        plan,
        directors: [None, None],
        traffic,
        lab,
        serving_since: t0,
        t0,
        timeline: Vec::new(),
        step: 0,
    };
    let result = demo.story();
    if let Err(why) = &result {
        demo.dump(why);
    }
    demo.print_timeline();
    result
}

impl Demo {
    fn story(&mut self) -> Result<(), String> {
        self.start_directors()?;
        self.distribution()?;
        self.one_fails()?;
        self.all_fail()?;
        self.recover()?;
        self.master_dies()?;
        self.master_returns()?;
        Ok(())
    }

    fn start_directors(&mut self) -> Result<(), String> {
        self.heading("two directors start with etc/demo/lb1.yaml and etc/demo/lb2.yaml");
        for lb in 0..2 {
            let name = format!("lb{}", lb + 1);
            let d = LabDirector::start(&self.lab.lb[lb], &name, &self.plan.yaml[lb])?;
            self.directors[lb] = Some(d);
        }
        self.event("directord started on lb1 and lb2");
        let took = self.wait("lb1 MASTER with every real server in its table", SETTLE, |d| {
            d.owns(0, d.plan.real_servers.len(), true) && d.holds_nothing(1)
        })?;
        self.serving_since = Instant::now();
        self.event(&format!("lb1 is MASTER, rs1-rs3 checked and in its table ({})", secs(took)));
        self.show(0);
        self.show_brief(1);
        Ok(())
    }

    fn distribution(&mut self) -> Result<(), String> {
        self.heading(&format!(
            "the client's next {ROUND} requests to {}: wrr with weights {}",
            self.plan.service,
            self.plan.weights()
        ));
        // The client's own requests: any run of consecutive connections that is a
        // multiple of the weights' sum splits exactly by weight under wrr.
        let from = Instant::now();
        let bound = INTERVAL * ROUND as u32 * 4;
        self.wait(&format!("{ROUND} requests sent"), bound, |d| {
            d.traffic().between(from, Instant::now()).len() >= ROUND
        })?;
        let samples = self.traffic().between(from, Instant::now());
        let split = tally(&samples[..ROUND]);
        println!("answered by: {split}");
        let total: u32 = self.plan.real_servers.iter().map(|(_, _, w)| w).sum();
        for (name, _, weight) in &self.plan.real_servers {
            let want = ROUND * *weight as usize / total.max(1) as usize;
            if split.count(name) != want || !split.errors.is_empty() {
                return Err(format!(
                    "{name} answered {}, want {want} ({split})",
                    split.count(name)
                ));
            }
        }
        self.event(&format!("{ROUND} requests split {split}, as the weights say"));
        Ok(())
    }

    fn one_fails(&mut self) -> Result<(), String> {
        self.heading("rs2's web server dies");
        let (name, addr, _) = self.plan.real_servers[1].clone();
        self.lab.dr_httpd(1).kill();
        let killed = Instant::now();
        self.event(&format!("{name}'s httpd killed"));
        let bound = self.plan.removal_bound + SLACK;
        let took = self.wait(&format!("{name} out of lb1's table"), bound, |d| {
            !d.table(0)
                .dests(&d.plan.service.to_string())
                .iter()
                .any(|(a, _)| *a == addr.to_string())
        })?;
        self.event(&format!(
            "{name} left lb1's table {} after its death (checks: at most {} + slack)",
            secs(took),
            secs(self.plan.removal_bound)
        ));
        self.show(0);
        std::thread::sleep(Duration::from_secs(2));
        let after = self.traffic().tally_since(killed + took);
        println!("requests since it left: {after}");
        if after.count(&name) > 0 || !after.errors.is_empty() {
            return Err(format!("after {name} left: {after}"));
        }
        let during = tally(&self.traffic().between(killed, killed + took));
        self.event(&format!(
            "while it was leaving: {} requests, {} failed; after: {} requests, none failed",
            during.ok() + during.errors.len(),
            during.errors.len(),
            after.ok()
        ));
        Ok(())
    }

    fn all_fail(&mut self) -> Result<(), String> {
        self.heading("rs1 and rs3 die too: every real server is down");
        self.lab.dr_httpd(0).kill();
        self.lab.dr_httpd(2).kill();
        let killed = Instant::now();
        self.event("rs1's and rs3's httpd killed");
        let took = self.wait(
            "the sorry server answers the client",
            self.plan.removal_bound + SLACK,
            |d| d.traffic().first_answer_from("sorry", killed).is_some(),
        )?;
        let failed = tally(&self.traffic().between(killed, killed + took)).errors.len();
        self.event(&format!(
            "the sorry server answers, {} after the last real server died ({failed} requests \
             refused meanwhile)",
            secs(took)
        ));
        self.show(0);
        Ok(())
    }

    fn recover(&mut self) -> Result<(), String> {
        self.heading("the three web servers come back");
        for i in 0..self.plan.real_servers.len() {
            self.lab.restart_dr_httpd(i);
        }
        let restarted = Instant::now();
        self.event("rs1-rs3's httpd restarted");
        let n = self.plan.real_servers.len();
        let took = self.wait(
            "rs1-rs3 back in lb1's table, the sorry server out",
            self.plan.removal_bound + SLACK,
            |d| d.owns(0, n, false),
        )?;
        self.event(&format!(
            "rs1-rs3 back and the sorry server out, {} after the restart",
            secs(took)
        ));
        self.show(0);
        std::thread::sleep(Duration::from_secs(1));
        let after = self.traffic().tally_since(restarted + took);
        println!("requests since: {after}");
        if after.count("sorry") > 0 || !after.errors.is_empty() {
            return Err(format!("after recovery: {after}"));
        }
        Ok(())
    }

    fn master_dies(&mut self) -> Result<(), String> {
        self.heading("lb1 dies: directord SIGKILLed and the host unplugged, as a crashed machine");
        let mut lb1 = self.directors[0].take().ok_or("lb1 is not running")?;
        lb1.kill9();
        self.lab.set_director_link(0, false);
        let died = Instant::now();
        self.directors[0] = Some(lb1);
        self.event("lb1 killed (kill -9) and unplugged");
        let bound = self.plan.master_down[1] + SLACK;
        let n = self.plan.real_servers.len();
        let took = self.wait("lb2 holds the VIP and the rules", bound, |d| d.owns(1, n, true))?;
        self.event(&format!(
            "lb2 holds the VIP and the rules {} after lb1 died (bound: {} after lb1's last \
             advert, RFC 5798's master-down interval)",
            secs(took),
            secs(self.plan.master_down[1])
        ));
        self.wait("the client is served again", SLACK, |d| {
            d.traffic().between(died + took, Instant::now()).iter().any(|s| s.answer.is_ok())
        })?;
        let since = self.traffic().between(died, Instant::now());
        let failed = since.iter().filter(|s| s.answer.is_err()).count();
        let last_failure = since.iter().rposition(|s| s.answer.is_err());
        let answered = since[last_failure.map_or(0, |i| i + 1)..].iter().find(|s| s.answer.is_ok());
        let gap = answered.map_or("-".to_string(), |s| secs(s.at.duration_since(died)));
        self.event(&format!(
            "failover seen by the client: first answer through lb2 {gap} after the crash, \
             {failed} requests failed"
        ));
        self.show(1);
        Ok(())
    }

    fn master_returns(&mut self) -> Result<(), String> {
        self.heading("lb1 comes back: plugged in, directord restarted; it preempts");
        self.lab.set_director_link(0, true);
        let restarted = Instant::now();
        let mut lb1 = self.directors[0].take().ok_or("lb1 missing")?;
        let result = lb1.restart(&self.lab.lb[0]);
        self.directors[0] = Some(lb1);
        result?;
        self.event("lb1 plugged in, directord restarted");
        let bound = self.plan.master_down[0] + SLACK * 2;
        let n = self.plan.real_servers.len();
        let took =
            self.wait("lb1 MASTER with the rules again, lb2 BACKUP with none", bound, |d| {
                d.owns(0, n, true) && d.holds_nothing(1)
            })?;
        let failed = tally(&self.traffic().between(restarted, restarted + took)).errors.len();
        self.event(&format!(
            "lb1 is MASTER again, lb2 let go, {} after the restart ({failed} requests failed \
             meanwhile)",
            secs(took)
        ));
        std::thread::sleep(Duration::from_secs(1));
        let after = self.traffic().tally_since(restarted + took);
        println!("requests since: {after}");
        if !after.errors.is_empty() {
            return Err(format!("after lb1 returned: {after}"));
        }
        self.show(0);
        self.show_brief(1);
        self.traffic.stop();
        let all = self.traffic().tally_since(self.serving_since);
        self.event(&format!(
            "since lb1 first served, the client sent {} requests: {} answered, {} failed",
            all.ok() + all.errors.len(),
            all.ok(),
            all.errors.len()
        ));
        Ok(())
    }

    fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// Director `lb` holds the VIP and, in its kernel table, exactly `n` real servers
    /// (no sorry server); with `status`, its status says MASTER too (an exec).
    fn owns(&self, lb: usize, n: usize, status: bool) -> bool {
        let service = self.plan.service.to_string();
        let dests = self.table(lb).dests(&service);
        let real: Vec<String> =
            self.plan.real_servers.iter().map(|(_, a, _)| a.to_string()).collect();
        has_address(&self.lab.lb[lb], "eth0", VIP)
            && dests.len() == n
            && dests.iter().all(|(a, _)| real.contains(a))
            && (!status || self.state(lb).as_deref() == Some("MASTER"))
    }

    fn holds_nothing(&self, lb: usize) -> bool {
        !has_address(&self.lab.lb[lb], "eth0", VIP)
            && self.table(lb).service(&self.plan.service.to_string()).is_none()
    }

    fn state(&self, lb: usize) -> Option<String> {
        let status: Status = self.directors[lb].as_ref()?.status().ok()?;
        Some(status.state(&self.plan.instance).to_string())
    }

    /// The kernel's table of director `lb` (empty when it cannot be read: the waits
    /// then keep waiting, up to their bound).
    fn table(&self, lb: usize) -> Table {
        kernel_table(&self.lab.lb[lb]).unwrap_or_default()
    }

    /// Polls `cond` until it holds; how long that took, or an error after `bound`.
    fn wait(
        &self,
        what: &str,
        bound: Duration,
        cond: impl Fn(&Demo) -> bool,
    ) -> Result<Duration, String> {
        let t = Instant::now();
        while !cond(self) {
            if t.elapsed() > bound {
                return Err(format!("{what}: not within {}", secs(bound)));
            }
            std::thread::sleep(POLL);
        }
        Ok(t.elapsed())
    }

    fn heading(&mut self, what: &str) {
        self.step += 1;
        println!("\n\x1b[1m== {}. {what}\x1b[0m  (+{})", self.step, secs(self.t0.elapsed()));
    }

    fn event(&mut self, what: &str) {
        println!("  -> {what}");
        self.timeline.push((Instant::now(), what.to_string()));
    }

    /// `directorctl status` and `ipvsadm -Ln` of director `lb`.
    fn show(&self, lb: usize) {
        let Some(d) = &self.directors[lb] else { return };
        let out = d.ctl(&["status"]);
        println!("\n$ directorctl status          # on lb{}", lb + 1);
        print!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        println!("$ ipvsadm -Ln                 # on lb{}", lb + 1);
        print!("{}", in_netns(&self.lab.lb[lb], &["ipvsadm", "-Ln"]).unwrap_or_else(|e| e));
    }

    /// The first lines of `directorctl status` (its VRRP part) of director `lb`.
    fn show_brief(&self, lb: usize) {
        let Some(d) = &self.directors[lb] else { return };
        let out = d.ctl(&["status"]);
        println!("\n$ directorctl status | head -n 3   # on lb{}", lb + 1);
        for line in String::from_utf8_lossy(&out.stdout).lines().take(3) {
            println!("{line}");
        }
    }

    fn dump(&self, why: &str) {
        println!("\ndemo: step {} failed: {why}", self.step);
        for lb in 0..2 {
            self.show(lb);
            if let Some(d) = &self.directors[lb] {
                let log = d.log();
                println!("--- lb{} log (last 30 lines):", lb + 1);
                for line in log.lines().rev().take(30).collect::<Vec<_>>().iter().rev() {
                    println!("{line}");
                }
            }
        }
    }

    fn print_timeline(&self) {
        println!("\n\x1b[1m== timeline\x1b[0m");
        for (at, what) in &self.timeline {
            println!("  +{:>7}  {what}", secs(at.duration_since(self.t0)));
        }
    }
}

/// `1.234s`
fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}
