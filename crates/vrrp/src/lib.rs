//! VRRP (RFC 3768 version 2, RFC 5798 version 3) for a pair of load-balancer directors.
//!
//! * [`packet`]: the advertisement codec, pure bytes in and out.
//! * [`machine`]: the per-instance state machine with tracking and sync groups, sans-IO:
//!   time, packets, link and script events in; [`machine::Action`]s out.
//! * [`linux`]: the Linux primitives: raw IP protocol 112 socket, rtnetlink addresses and
//!   link state, gratuitous ARP.
//! * [`driver`]: joins the machine to the Linux primitives on tokio.
//!
//! Nothing here knows about IPVS.

pub mod counters;
pub mod driver;
pub mod linux;
pub mod machine;
pub mod packet;
