//! The driver's sockets, opened once at start from the configuration: which interface
//! each instance and address lives on, and the sockets that reach them.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{DriverConfig, DriverError};
use crate::linux::arp::ArpSender;
use crate::linux::rtnl::{Link, LinkMonitor, Rtnl};
use crate::linux::socket::{ReceiveSocket, SendSocket};
use crate::machine::VirtualAddress;

/// A datagram as a receive socket delivered it, with the interface it came in on.
#[derive(Debug)]
pub(super) struct Received {
    pub interface: String,
    pub bytes: Vec<u8>,
}

/// The IPv4 source address of a datagram, if its header is there to read.
pub(super) fn source_of(datagram: &[u8]) -> Option<Ipv4Addr> {
    let src: [u8; 4] = datagram.get(12..16)?.try_into().ok()?;
    Some(Ipv4Addr::from(src))
}

pub(super) struct Interfaces {
    rtnl: Rtnl,
    /// Interface names whose link state the machine tracks (instance interfaces and
    /// tracked interfaces).
    tracked: HashSet<String>,
    /// Resolved at start; a tracked interface missing then is reported down.
    links: HashMap<String, Link>,
    /// Per instance: its interface's index and its send socket (index in `senders`).
    instance_ifindex: Vec<u32>,
    instance_sender: Vec<usize>,
    senders: Vec<SendSocket>,
    /// Taken by `spawn_receivers`.
    receivers: Vec<(String, ReceiveSocket)>,
    receiver_tasks: Vec<JoinHandle<()>>,
    arp: HashMap<u32, ArpSender>,
    /// Every address our adverts leave from, to ignore our own packets.
    own: HashSet<Ipv4Addr>,
}

impl std::fmt::Debug for Interfaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interfaces").field("tracked", &self.tracked).finish_non_exhaustive()
    }
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DriverError {
    let what = what.into();
    move |source| DriverError::Io { what, source }
}

impl Interfaces {
    /// Resolves every instance's interface, fills in primary addresses left as
    /// 0.0.0.0, and opens the sockets; also returns the link-event subscription.
    pub fn open(config: &mut DriverConfig) -> Result<(Interfaces, LinkMonitor), DriverError> {
        let rtnl = Rtnl::open().map_err(io_error("rtnetlink socket"))?;
        // Subscribed before the first read of link state, so no change falls between.
        let monitor = LinkMonitor::open().map_err(io_error("rtnetlink link monitor"))?;
        let mut links = HashMap::new();
        let mut tracked = HashSet::new();
        let mut instance_ifindex = Vec::new();
        for instance in &mut config.router.instances {
            let link = rtnl.link(&instance.interface).map_err(|source| DriverError::Interface {
                instance: instance.name.clone(),
                interface: instance.interface.clone(),
                source: Box::new(source),
            })?;
            if instance.primary_address.is_unspecified() {
                let primary =
                    rtnl.primary_ipv4(link.index).map_err(|source| DriverError::Interface {
                        instance: instance.name.clone(),
                        interface: instance.interface.clone(),
                        source: Box::new(source),
                    })?;
                instance.primary_address = primary.ok_or_else(|| DriverError::NoSourceAddress {
                    instance: instance.name.clone(),
                    interface: instance.interface.clone(),
                })?;
            }
            instance_ifindex.push(link.index);
            tracked.insert(instance.interface.clone());
            tracked.extend(instance.track_interfaces.iter().map(|t| t.name.clone()));
            links.insert(link.name.clone(), link);
        }
        for link in rtnl.links()? {
            if tracked.contains(&link.name) {
                links.insert(link.name.clone(), link);
            }
        }

        let mut senders: Vec<SendSocket> = Vec::new();
        let mut sender_keys: Vec<(u32, Ipv4Addr)> = Vec::new();
        let mut instance_sender = Vec::new();
        let mut multicast_on: HashMap<u32, (String, bool)> = HashMap::new();
        let mut own = HashSet::new();
        for (i, instance) in config.router.instances.iter().enumerate() {
            let ifindex = instance_ifindex[i];
            let key = (ifindex, instance.primary_address);
            let index = match sender_keys.iter().position(|k| *k == key) {
                Some(index) => index,
                None => {
                    let socket =
                        SendSocket::open(&instance.interface, ifindex, instance.primary_address)
                            .map_err(io_error(format!(
                                "VRRP send socket on {} from {}",
                                instance.interface, instance.primary_address
                            )))?;
                    senders.push(socket);
                    sender_keys.push(key);
                    senders.len() - 1
                }
            };
            instance_sender.push(index);
            own.insert(instance.primary_address);
            let multicast = config.instances[i].unicast.is_none();
            let entry = multicast_on.entry(ifindex).or_insert((instance.interface.clone(), false));
            entry.1 |= multicast;
        }
        let mut receivers = Vec::new();
        for (ifindex, (name, multicast)) in multicast_on {
            let socket = ReceiveSocket::open(&name, ifindex, multicast)
                .map_err(io_error(format!("VRRP receive socket on {name}")))?;
            receivers.push((name, socket));
        }

        let mut arp = HashMap::new();
        for instance in &config.router.instances {
            for vip in &instance.virtual_addresses {
                let link = match &vip.dev {
                    Some(dev) => rtnl.link(dev).map_err(|source| DriverError::Interface {
                        instance: instance.name.clone(),
                        interface: dev.clone(),
                        source: Box::new(source),
                    })?,
                    None => links[&instance.interface].clone(),
                };
                let Some(mac) = link.mac else { continue };
                if let std::collections::hash_map::Entry::Vacant(slot) = arp.entry(link.index) {
                    let sender = ArpSender::open(link.index, mac)
                        .map_err(io_error(format!("ARP socket on {}", link.name)))?;
                    slot.insert(sender);
                }
            }
        }
        let interfaces = Interfaces {
            rtnl,
            tracked,
            links,
            instance_ifindex,
            instance_sender,
            senders,
            receivers,
            receiver_tasks: Vec::new(),
            arp,
            own,
        };
        Ok((interfaces, monitor))
    }

    /// Link state at start of every tracked interface; missing ones are down.
    pub fn initial_links(&self) -> Vec<Link> {
        self.tracked
            .iter()
            .map(|name| self.links.get(name).cloned().unwrap_or_else(|| missing(name)))
            .collect()
    }

    pub fn tracks(&self, interface: &str) -> bool {
        self.tracked.contains(interface)
    }

    pub fn is_own_address(&self, address: Ipv4Addr) -> bool {
        self.own.contains(&address)
    }

    /// Current state of every tracked interface, for when link events were lost.
    pub fn reread_links(&self) -> Result<Vec<Link>, DriverError> {
        let links = self.rtnl.links()?;
        Ok(self
            .tracked
            .iter()
            .map(|name| {
                links.iter().find(|l| &l.name == name).cloned().unwrap_or_else(|| missing(name))
            })
            .collect())
    }

    /// One task per receive socket, feeding `packets`; they end with the driver.
    pub fn spawn_receivers(&mut self, packets: mpsc::Sender<Received>) -> Result<(), DriverError> {
        for (interface, socket) in self.receivers.drain(..) {
            let packets = packets.clone();
            self.receiver_tasks.push(tokio::spawn(async move {
                // Large enough for any IPv4 datagram the interface MTU lets through.
                let mut buf = vec![0u8; 65_536];
                loop {
                    match socket.recv(&mut buf).await {
                        Ok(n) => {
                            let datagram =
                                Received { interface: interface.clone(), bytes: buf[..n].to_vec() };
                            if packets.send(datagram).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!("receiving on {interface}: {e}");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                    }
                }
            }));
        }
        Ok(())
    }

    pub async fn send(
        &self,
        instance: usize,
        payload: &[u8],
        dst: Ipv4Addr,
    ) -> std::io::Result<()> {
        self.senders[self.instance_sender[instance]].send_to(payload, dst).await
    }

    fn address_ifindex(&self, instance: usize, vip: &VirtualAddress) -> Result<u32, DriverError> {
        match &vip.dev {
            Some(dev) => Ok(self.rtnl.link(dev)?.index),
            None => Ok(self.instance_ifindex[instance]),
        }
    }

    pub fn add_address(&self, instance: usize, vip: &VirtualAddress) -> Result<(), DriverError> {
        let ifindex = self.address_ifindex(instance, vip)?;
        Ok(self.rtnl.add_address(ifindex, vip)?)
    }

    pub fn remove_address(&self, instance: usize, vip: &VirtualAddress) -> Result<(), DriverError> {
        let ifindex = self.address_ifindex(instance, vip)?;
        Ok(self.rtnl.del_address(ifindex, vip)?)
    }

    pub fn send_gratuitous_arp(
        &self,
        instance: usize,
        vip: &VirtualAddress,
    ) -> Result<(), DriverError> {
        let ifindex = self.address_ifindex(instance, vip)?;
        match self.arp.get(&ifindex) {
            Some(sender) => sender
                .send_gratuitous(vip.address)
                .map_err(io_error(format!("gratuitous ARP for {}", vip.address))),
            // An interface without a MAC (e.g. a tunnel) has no ARP to send.
            None => Ok(()),
        }
    }
}

/// A tracked interface that does not exist counts as down.
fn missing(name: &str) -> Link {
    Link { index: 0, name: name.to_string(), up: false, mac: None }
}

impl Drop for Interfaces {
    fn drop(&mut self) {
        for task in &self.receiver_tasks {
            task.abort();
        }
    }
}
