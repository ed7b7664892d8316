//! The driver's sockets, per interface: which interface each instance and address lives
//! on, and the sockets that reach it. An interface deleted and created again (ifdown /
//! ifup of a VLAN, a veth re-made) gets a new index, and sockets bound to the old one
//! hear nothing; [`Interfaces::on_link`] opens them afresh.

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

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DriverError {
    let what = what.into();
    move |source| DriverError::Io { what, source }
}

/// What an interface needs open; kept so the sockets can be opened again.
#[derive(Debug, Clone, Default)]
struct Needs {
    /// Instances run here: a receive socket (joined to 224.0.0.18 if `multicast`).
    receive: bool,
    multicast: bool,
    /// Source addresses of the instances here: one send socket each.
    sources: Vec<Ipv4Addr>,
}

impl Needs {
    /// Whether one receive socket serves both.
    fn same_receive(&self, other: &Needs) -> bool {
        self.receive == other.receive && self.multicast == other.multicast
    }
}

/// A configuration resolved and its new sockets opened, not in force yet
/// ([`Interfaces::prepare`], [`Interfaces::commit`]).
pub(super) struct Prepared {
    tracked: HashMap<String, Option<Link>>,
    needs: HashMap<String, Needs>,
    /// Attachments for interfaces not attached yet, or heard another way now.
    opened: HashMap<String, Attachment>,
    /// Send sockets for new sources on an attachment that stays.
    senders: Vec<(String, Ipv4Addr, SendSocket)>,
    instance_iface: Vec<String>,
    instance_source: Vec<Ipv4Addr>,
}

impl Prepared {
    /// Whether the configuration sends from `address`.
    pub fn sends_from(&self, address: Ipv4Addr) -> bool {
        self.instance_source.contains(&address)
    }
}

/// The sockets open on one interface.
struct Attachment {
    link: Link,
    senders: HashMap<Ipv4Addr, SendSocket>,
    arp: Option<ArpSender>,
    receiver: Option<JoinHandle<()>>,
}

impl Attachment {
    /// Opens the sockets `needs` asks for on `link`. With `strict`, a send socket that
    /// cannot bind its source address is an error (at start: a unicast source that is
    /// not ours); otherwise it is left for [`Interfaces::send`] to open once the
    /// address is there (a re-created interface is often up before its address).
    fn open(
        link: Link,
        needs: &Needs,
        packets: &mpsc::Sender<Received>,
        strict: bool,
    ) -> Result<Attachment, DriverError> {
        let name = link.name.clone();
        let mut senders = HashMap::new();
        for &source in &needs.sources {
            match SendSocket::open(&name, link.index, source) {
                Ok(socket) => {
                    senders.insert(source, socket);
                }
                Err(e) if !strict => tracing::warn!(
                    "VRRP send socket on {name} from {source}: {e}; retried at the next advert"
                ),
                Err(e) => {
                    return Err(io_error(format!("VRRP send socket on {name} from {source}"))(e))
                }
            }
        }
        let arp = match link.mac {
            // An interface without a MAC (a tunnel, say) has no ARP to send.
            Some(mac) => Some(
                ArpSender::open(link.index, mac)
                    .map_err(io_error(format!("ARP socket on {name}")))?,
            ),
            None => None,
        };
        let receiver = if needs.receive {
            let socket = ReceiveSocket::open(&name, link.index, needs.multicast)
                .map_err(io_error(format!("VRRP receive socket on {name}")))?;
            Some(tokio::spawn(receive(name, socket, packets.clone())))
        } else {
            None
        };
        Ok(Attachment { link, senders, arp, receiver })
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if let Some(task) = &self.receiver {
            task.abort();
        }
    }
}

/// Feeds every datagram of `socket` to the loop until the loop is gone.
async fn receive(interface: String, socket: ReceiveSocket, packets: mpsc::Sender<Received>) {
    // Large enough for any IPv4 datagram the interface MTU lets through.
    let mut buf = vec![0u8; 65_536];
    loop {
        match socket.recv(&mut buf).await {
            Ok(n) => {
                let datagram = Received { interface: interface.clone(), bytes: buf[..n].to_vec() };
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
}

pub(super) struct Interfaces {
    rtnl: Rtnl,
    /// Interface names whose link state the machine tracks (instance interfaces and
    /// tracked interfaces), with their state at start.
    tracked: HashMap<String, Option<Link>>,
    /// What each interface we use needs open: the instances' and the addresses'
    /// devices. Kept apart from the sockets, so a failed reopen is retried.
    needs: HashMap<String, Needs>,
    /// The sockets open per interface; missing while a reopen keeps failing.
    attached: HashMap<String, Attachment>,
    /// Per instance: its interface and the address its adverts leave from.
    instance_iface: Vec<String>,
    instance_source: Vec<Ipv4Addr>,
    /// Every address our adverts leave from: never removed as a VIP.
    own: HashSet<Ipv4Addr>,
    packets: mpsc::Sender<Received>,
}

impl std::fmt::Debug for Interfaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interfaces").field("tracked", &self.tracked.keys()).finish_non_exhaustive()
    }
}

impl Interfaces {
    /// Resolves every instance's interface, fills in primary addresses left as 0.0.0.0,
    /// opens the sockets (received datagrams go to `packets`) and returns the
    /// link-event subscription, opened before the first read of link state so no
    /// change falls between.
    pub fn open(
        config: &mut DriverConfig,
        packets: mpsc::Sender<Received>,
    ) -> Result<(Interfaces, LinkMonitor), DriverError> {
        let rtnl = Rtnl::open().map_err(io_error("rtnetlink socket"))?;
        let monitor = LinkMonitor::open().map_err(io_error("rtnetlink link monitor"))?;
        let mut interfaces = Interfaces {
            rtnl,
            tracked: HashMap::new(),
            needs: HashMap::new(),
            attached: HashMap::new(),
            instance_iface: Vec::new(),
            instance_source: Vec::new(),
            own: HashSet::new(),
            packets,
        };
        let prepared = interfaces.prepare(config)?;
        interfaces.commit(prepared);
        Ok((interfaces, monitor))
    }

    /// Everything `config` needs, resolved and opened beside what is in use, so that a
    /// configuration that cannot run is refused before anything changes: interfaces
    /// looked up, primary addresses left as 0.0.0.0 filled in, sockets opened for
    /// interfaces and source addresses not in use yet (a unicast source that is not
    /// ours is an error), and the link state of every interface to track.
    pub fn prepare(&self, config: &mut DriverConfig) -> Result<Prepared, DriverError> {
        let mut links: HashMap<String, Link> = HashMap::new();
        let mut needs: HashMap<String, Needs> = HashMap::new();
        let mut instance_iface = Vec::new();
        let mut instance_source = Vec::new();
        for (instance, io) in config.router.instances.iter_mut().zip(&config.instances) {
            let interface_error = |source| DriverError::Interface {
                instance: instance.name.clone(),
                interface: instance.interface.clone(),
                source: Box::new(source),
            };
            let link = self.rtnl.link(&instance.interface).map_err(interface_error)?;
            if instance.primary_address.is_unspecified() {
                let primary = self.rtnl.primary_ipv4(link.index).map_err(interface_error)?;
                instance.primary_address = primary.ok_or_else(|| DriverError::NoSourceAddress {
                    instance: instance.name.clone(),
                    interface: instance.interface.clone(),
                })?;
            }
            let need = needs.entry(link.name.clone()).or_default();
            need.receive = true;
            need.multicast |= io.unicast.is_none();
            if !need.sources.contains(&instance.primary_address) {
                need.sources.push(instance.primary_address);
            }
            for vip in &instance.virtual_addresses {
                if let Some(dev) = &vip.dev {
                    let link = self.rtnl.link(dev).map_err(|source| DriverError::Interface {
                        instance: instance.name.clone(),
                        interface: dev.clone(),
                        source: Box::new(source),
                    })?;
                    needs.entry(link.name.clone()).or_default();
                    links.insert(link.name.clone(), link);
                }
            }
            instance_iface.push(instance.interface.clone());
            instance_source.push(instance.primary_address);
            links.insert(link.name.clone(), link);
        }
        let mut tracked: HashMap<String, Option<Link>> = HashMap::new();
        for instance in &config.router.instances {
            for name in instance.link_dependencies() {
                tracked.insert(name.to_string(), None);
            }
        }
        for link in self.rtnl.links()? {
            if let Some(state) = tracked.get_mut(&link.name) {
                *state = Some(link);
            }
        }
        let mut opened = HashMap::new();
        let mut senders = Vec::new();
        for (name, need) in &needs {
            let link = links.remove(name).ok_or_else(|| DriverError::Io {
                what: format!("interface {name}"),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })?;
            let in_use = self.needs.get(name);
            match self.attached.get(name) {
                // The same interface, heard the same way: only new sources need a socket.
                Some(attachment)
                    if attachment.link.index == link.index
                        && in_use.is_some_and(|n| n.same_receive(need)) =>
                {
                    let known = in_use.map(|n| n.sources.as_slice()).unwrap_or_default();
                    for &source in need.sources.iter().filter(|s| !known.contains(s)) {
                        let socket = SendSocket::open(name, link.index, source).map_err(
                            io_error(format!("VRRP send socket on {name} from {source}")),
                        )?;
                        senders.push((name.clone(), source, socket));
                    }
                }
                _ => {
                    let attachment = Attachment::open(link, need, &self.packets, true)?;
                    opened.insert(name.clone(), attachment);
                }
            }
        }
        Ok(Prepared { tracked, needs, opened, senders, instance_iface, instance_source })
    }

    /// Puts a prepared configuration in force: its sockets replace those it changed,
    /// and sockets nothing uses any more close.
    pub fn commit(&mut self, prepared: Prepared) {
        let Prepared { tracked, needs, opened, senders, instance_iface, instance_source } =
            prepared;
        // Replaced attachments and unused ones close (their receive tasks end).
        self.attached.retain(|name, _| needs.contains_key(name) && !opened.contains_key(name));
        self.attached.extend(opened);
        for (name, source, socket) in senders {
            if let Some(attachment) = self.attached.get_mut(&name) {
                attachment.senders.insert(source, socket);
            }
        }
        for (name, attachment) in &mut self.attached {
            if let Some(need) = needs.get(name) {
                attachment.senders.retain(|source, _| need.sources.contains(source));
            }
        }
        self.own = instance_source.iter().copied().collect();
        self.tracked = tracked;
        self.needs = needs;
        self.instance_iface = instance_iface;
        self.instance_source = instance_source;
    }

    /// Interfaces `prepared` tracks that are not tracked now, with their state.
    pub fn newly_tracked(&self, prepared: &Prepared) -> Vec<Link> {
        prepared
            .tracked
            .iter()
            .filter(|(name, _)| !self.tracked.contains_key(*name))
            .map(|(name, link)| link.clone().unwrap_or_else(|| missing(name)))
            .collect()
    }

    /// Link state at start of every tracked interface; missing ones are down.
    pub fn initial_links(&self) -> Vec<Link> {
        self.tracked
            .iter()
            .map(|(name, link)| link.clone().unwrap_or_else(|| missing(name)))
            .collect()
    }

    pub fn tracks(&self, interface: &str) -> bool {
        self.tracked.contains_key(interface)
    }

    pub fn is_own_address(&self, address: Ipv4Addr) -> bool {
        self.own.contains(&address)
    }

    /// Current state of every interface we track or hold sockets on, for when link
    /// events were lost.
    pub fn reread_links(&self) -> Result<Vec<Link>, DriverError> {
        let links = self.rtnl.links()?;
        let names: HashSet<&String> = self.tracked.keys().chain(self.needs.keys()).collect();
        Ok(names
            .into_iter()
            .map(|name| {
                links.iter().find(|l| &l.name == name).cloned().unwrap_or_else(|| missing(name))
            })
            .collect())
    }

    /// Follows a link event: an interface we use that is up under another index than
    /// our sockets' (re-created), or whose sockets a failed reopen left closed, gets its
    /// sockets opened again. True if that happened; an error leaves it for the next
    /// event.
    pub fn on_link(&mut self, link: &Link) -> Result<bool, DriverError> {
        let Some(needs) = self.needs.get(&link.name) else { return Ok(false) };
        let current = self.attached.get(&link.name).map(|a| a.link.index);
        if !link.up || link.index == 0 || current == Some(link.index) {
            return Ok(false);
        }
        // The old sockets go first: their receive task must not outlive them.
        self.attached.remove(&link.name);
        let fresh = Attachment::open(link.clone(), needs, &self.packets, false)?;
        self.attached.insert(link.name.clone(), fresh);
        Ok(true)
    }

    /// Sends from the instance's socket, opening it first if a reopen could not bind
    /// its source address then.
    pub async fn send(
        &mut self,
        instance: usize,
        payload: &[u8],
        dst: Ipv4Addr,
    ) -> std::io::Result<()> {
        let iface = &self.instance_iface[instance];
        let source = self.instance_source[instance];
        let attachment = self
            .attached
            .get_mut(iface)
            .ok_or_else(|| std::io::Error::other(format!("no sockets on {iface}")))?;
        if !attachment.senders.contains_key(&source) {
            let socket = SendSocket::open(iface, attachment.link.index, source)?;
            attachment.senders.insert(source, socket);
        }
        match attachment.senders.get(&source) {
            Some(sender) => sender.send_to(payload, dst).await,
            None => Err(std::io::Error::other(format!("no send socket on {iface}"))),
        }
    }

    fn attachment(
        &self,
        instance: usize,
        vip: &VirtualAddress,
    ) -> Result<&Attachment, DriverError> {
        let name = vip.dev.as_ref().unwrap_or(&self.instance_iface[instance]);
        self.attached.get(name).ok_or_else(|| DriverError::Io {
            what: format!("interface {name} for {}", vip.address),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        })
    }

    pub fn add_address(&self, instance: usize, vip: &VirtualAddress) -> Result<(), DriverError> {
        let ifindex = self.attachment(instance, vip)?.link.index;
        Ok(self.rtnl.add_address(ifindex, vip)?)
    }

    pub fn remove_address(&self, instance: usize, vip: &VirtualAddress) -> Result<(), DriverError> {
        let ifindex = self.attachment(instance, vip)?.link.index;
        Ok(self.rtnl.del_address(ifindex, vip)?)
    }

    pub fn send_gratuitous_arp(
        &self,
        instance: usize,
        vip: &VirtualAddress,
    ) -> Result<(), DriverError> {
        match &self.attachment(instance, vip)?.arp {
            Some(sender) => sender
                .send_gratuitous(vip.address)
                .map_err(io_error(format!("gratuitous ARP for {}", vip.address))),
            None => Ok(()),
        }
    }
}

/// A tracked interface that does not exist counts as down.
fn missing(name: &str) -> Link {
    Link { index: 0, name: name.to_string(), up: false, mac: None }
}
