//! IPVS generic-netlink client, a desired-vs-current table diff, and ipvsadm's text formats.
//!
//! Layers, from the wire up:
//! - [`wire`]: netlink/genetlink framing and one module per kernel object; pure bytes, no sockets.
//! - [`client`]: the one socket, request/ack/dump plumbing, family resolution (once).
//! - [`diff`]: the minimal operation list between two tables.
//! - [`text`]: `ipvsadm -Sn` (parse and render) and `ipvsadm -Ln` (render).

pub mod global;
pub mod model;
pub mod text;

pub use global::*;
pub use model::*;
pub mod diff;
pub mod op;
pub mod wire;

pub use op::Op;
pub mod client;
pub mod error;

pub use client::Client;
pub use error::{BatchError, Error};
