//! The end-to-end lab, run inside the IPVS test VM (`scripts/vm-lab.sh`): a client,
//! two `directord` in VRRP, three DR real servers, a sorry server and two NAT real
//! servers, each in a network namespace; real HTTP from the client to the VIP through
//! the kernel's IPVS, `ipvsadm` as the independent reader of each director's table
//! and `directorctl status --json` as the daemon's own account.
//!
//! * [`topology`]: the namespaces, LANs and addresses ([`Lab`]).
//! * [`server`]: busybox httpd per server; [`http`]: the client's requests.
//! * [`config`]: the directors' YAML and check timings; [`daemon`]: directord there.
//! * [`ipvsadm`]: `ipvsadm -Ln` read back; [`status`]: the status JSON.
//! * [`rig`]: the lab with both directors, and waiting for an expected state.
//! * [`demo`]: the story `make demo` plays (bin `lab-demo`).
//!
//! The tests (tests/lab) are `#[ignore]`d: they need root, iproute2 and a kernel with
//! IPVS, which only the VM has. `integration/vm/lab.sh` runs them with `--ignored`.

pub mod config;
pub mod daemon;
pub mod demo;
pub mod http;
pub mod ipvsadm;
pub mod rig;
pub mod server;
pub mod status;
pub mod topology;

pub use daemon::LabDirector;
pub use rig::{Expect, Rig};
pub use topology::Lab;

/// True inside the lab VM (`run.sh` sets `IN_VM=1`); the tests refuse to run
/// elsewhere, since they need IPVS in the namespaces they create.
pub fn in_vm() -> bool {
    std::env::var("IN_VM").as_deref() == Ok("1")
}
