//! Linux primitives for the driver: the VRRP raw sockets, rtnetlink (addresses, links,
//! link events) and gratuitous ARP.

pub mod arp;
pub mod rtnl;
pub mod socket;
pub mod timer;
