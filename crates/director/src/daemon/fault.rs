//! Fault injection for the watchdog tests (feature `fault-injection`, never in a
//! default build): control requests that make one of the daemon's loops hang while
//! the process stays up, and an in-memory IPVS kernel for hosts without IPVS.
//!
//! - `DIRECTOR_FAULT_FAKE_IPVS=1` in the environment: virtual servers run on
//!   [`FakeKernel`] instead of the kernel's IPVS.
//! - `fault hang-vrrp`: the VRRP driver's loop awaits forever.
//! - `fault hang-checks`: every check's next probe never ends.
//! - `fault hang-ipvs`: the reconciler's thread blocks in its next kernel call (fake
//!   kernel only).

use std::sync::Mutex;

use tokio::sync::mpsc;
use vrrp::driver::Input;

use crate::reconcile::{FakeKernel, ReconcileError, Reconciler};

static VRRP_INPUTS: Mutex<Option<mpsc::Sender<Input>>> = Mutex::new(None);
static FAKE_KERNEL: Mutex<Option<FakeKernel>> = Mutex::new(None);

/// The running VRRP driver's inputs, for `fault hang-vrrp`.
pub fn vrrp_started(inputs: mpsc::Sender<Input>) {
    *super::lock(&VRRP_INPUTS) = Some(inputs);
}

/// The kernel connection, or the fake one when the environment asks for it.
pub fn connect() -> Result<Reconciler, ReconcileError> {
    if std::env::var_os("DIRECTOR_FAULT_FAKE_IPVS").is_none() {
        return Reconciler::connect();
    }
    tracing::warn!("fault injection: IPVS is an in-memory fake");
    let fake = FakeKernel::new(ipvs::Table::default());
    *super::lock(&FAKE_KERNEL) = Some(fake.clone());
    Reconciler::spawn(fake)
}

/// Answers a `fault ...` control request.
pub async fn inject(request: &str) -> serde_json::Value {
    let done = |what: &str| serde_json::json!({"fault": what});
    match request.trim_start_matches("fault").trim() {
        "hang-vrrp" => {
            let inputs = super::lock(&VRRP_INPUTS).clone();
            match inputs {
                Some(inputs) if inputs.send(Input::Hang).await.is_ok() => done("hang-vrrp"),
                _ => serde_json::json!({"error": "no VRRP driver runs"}),
            }
        }
        "hang-checks" => {
            checker::fault::hang_probes();
            done("hang-checks")
        }
        "hang-ipvs" => match super::lock(&FAKE_KERNEL).as_ref() {
            Some(fake) => {
                fake.pause();
                done("hang-ipvs")
            }
            None => serde_json::json!({"error": "hang-ipvs needs DIRECTOR_FAULT_FAKE_IPVS=1"}),
        },
        other => serde_json::json!({"error": format!("unknown fault {other:?}")}),
    }
}
