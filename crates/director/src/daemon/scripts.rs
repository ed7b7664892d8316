//! Tracked VRRP scripts (keepalived's vrrp_script): each runs every `interval` with a
//! timeout, through the checker's script probe (argv, own process group, killed whole
//! on timeout), and every result goes to the VRRP driver, which counts rise/fall.

use std::time::Duration;

use checker::spec::{CheckKind, CheckSpec, MiscCheck, Target};
use tokio::sync::mpsc;
use vrrp::driver::Input;

use crate::config::TrackScriptRun;

/// Runs `script` until the driver's input channel closes.
pub async fn run(script: TrackScriptRun, driver: mpsc::Sender<Input>) {
    let check = MiscCheck {
        argv: script.argv.clone(),
        timeout: script.timeout,
        dynamic: false,
        env: Vec::new(),
        cwd: None,
    };
    // The target is unused by script probes; keepalived's scripts have none either.
    let spec = CheckSpec::new(Target::new(([0, 0, 0, 0], 0).into()), CheckKind::Misc(check));
    let mut ticks = tokio::time::interval(script.interval.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_ok = None;
    loop {
        ticks.tick().await;
        let report = checker::probe::run(&spec).await;
        let ok = report.is_up();
        if last_ok != Some(ok) {
            match report.failure() {
                Some(failure) => tracing::info!(script = %script.name, "failed: {failure}"),
                None => tracing::info!(script = %script.name, "succeeded"),
            }
            last_ok = Some(ok);
        }
        let input = Input::ScriptResult { name: script.name.clone(), ok };
        if driver.send(input).await.is_err() {
            return;
        }
    }
}
