//! `director`: the daemon and CLI that join IPVS, checkers and VRRP.
//!
//! The binaries are thin: `directorctl` parses its arguments and calls [`ctl`].

pub mod config;
pub mod ctl;
pub mod daemon;
pub mod decide;
pub mod duration;
pub mod import;
pub mod metrics;
pub mod reconcile;
pub mod supervise;
