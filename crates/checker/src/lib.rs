//! Health checks for real servers, with keepalived's semantics.
//!
//! * [`spec`]: what to check (tcp, http, https, misc) and keepalived's timing.
//! * [`probe`]: one probe, over a real connection or process.
//! * [`state`]: the retry/delay state machine, sans-IO.
//! * [`scheduler`]: thousands of checks on tokio, shared between subscribers.
//!
//! This crate opens no sockets but the checked connections and knows nothing of
//! IPVS.

#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod outcome;
pub mod probe;
pub mod scheduler;
pub mod spec;
pub mod state;
pub mod status_codes;
pub mod tls;

pub use outcome::{Failure, Outcome, ProbeReport};
pub use probe::{NetProber, Prober};
pub use scheduler::{
    CheckId, CheckStatus, Event, ProbeStats, Scheduler, SchedulerConfig, StalledCheck,
};
pub use spec::{CheckKind, CheckSpec, Digest, HttpCheck, MiscCheck, Target, Timing, UrlCheck};
pub use state::Change;
pub use status_codes::StatusCodes;
pub use tls::TlsSettings;
