//! rtnetlink messages in and out: the requests [`super::Rtnl`] sends and the conversion
//! of the kernel's answers to [`Link`] and [`Ipv4Address`]. Pure, so unit-testable.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{
    DecodeError, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK,
    NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{Ipv4Address, Link};

/// Length of struct nlmsghdr.
const NLMSG_HDRLEN: usize = 16;

pub(crate) type Message = NetlinkMessage<RouteNetlinkMessage>;

/// Whether the request is answered by one reply (and the ACK asked for) or by a
/// multipart dump ending in NLMSG_DONE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Single,
    Dump,
    /// Creation that fails with EEXIST when the object is already there.
    CreateExclusive,
}

/// The bytes of one request.
pub(crate) fn request(body: RouteNetlinkMessage, kind: Kind, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST
        | match kind {
            Kind::Single => NLM_F_ACK,
            Kind::Dump => NLM_F_DUMP,
            Kind::CreateExclusive => NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        };
    header.sequence_number = seq;
    let mut msg = Message::new(header, NetlinkPayload::InnerMessage(body));
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// RTM_GETLINK for one interface by name.
pub(crate) fn get_link_by_name(name: &str) -> RouteNetlinkMessage {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    RouteNetlinkMessage::GetLink(msg)
}

/// RTM_GETLINK for one interface by index.
pub(crate) fn get_link_by_index(index: u32) -> RouteNetlinkMessage {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    RouteNetlinkMessage::GetLink(msg)
}

/// RTM_GETLINK dump of all interfaces.
pub(crate) fn dump_links() -> RouteNetlinkMessage {
    RouteNetlinkMessage::GetLink(LinkMessage::default())
}

/// RTM_GETADDR dump of the IPv4 addresses of all interfaces (the kernel only filters
/// by interface with strict checking on; filtering here works everywhere).
pub(crate) fn dump_ipv4_addresses() -> RouteNetlinkMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = AddressFamily::Inet;
    RouteNetlinkMessage::GetAddress(msg)
}

/// RTM_NEWADDR body: IFA_LOCAL and IFA_ADDRESS both the address (as for any
/// non-point-to-point interface), the directed broadcast when the prefix has one, and
/// the label when given.
pub(crate) fn new_address(
    ifindex: u32,
    address: Ipv4Addr,
    prefix_len: u8,
    label: Option<&str>,
) -> RouteNetlinkMessage {
    let mut msg = address_message(ifindex, address, prefix_len);
    if let Some(brd) = broadcast(address, prefix_len) {
        msg.attributes.push(AddressAttribute::Broadcast(brd));
    }
    if let Some(label) = label {
        msg.attributes.push(AddressAttribute::Label(label.to_string()));
    }
    RouteNetlinkMessage::NewAddress(msg)
}

/// RTM_DELADDR body. No label: the address goes whatever label it carries now.
pub(crate) fn del_address(ifindex: u32, address: Ipv4Addr, prefix_len: u8) -> RouteNetlinkMessage {
    RouteNetlinkMessage::DelAddress(address_message(ifindex, address, prefix_len))
}

fn address_message(ifindex: u32, address: Ipv4Addr, prefix_len: u8) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = AddressFamily::Inet;
    msg.header.prefix_len = prefix_len;
    msg.header.scope = AddressScope::Universe;
    msg.header.index = ifindex;
    msg.attributes.push(AddressAttribute::Local(IpAddr::V4(address)));
    msg.attributes.push(AddressAttribute::Address(IpAddr::V4(address)));
    msg
}

/// The directed broadcast address of `address/prefix_len`; none for /31 (RFC 3021) and
/// /32, whose "broadcast" would be a host address.
pub(crate) fn broadcast(address: Ipv4Addr, prefix_len: u8) -> Option<Ipv4Addr> {
    if prefix_len >= 31 {
        return None;
    }
    let host_mask = u32::MAX >> prefix_len;
    Some(Ipv4Addr::from(u32::from(address) | host_mask))
}

/// Splits one datagram into its netlink messages and parses each.
pub(crate) fn parse_datagram(mut buf: &[u8]) -> Vec<Result<Message, DecodeError>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let len = match NetlinkBuffer::new_checked(buf) {
            Ok(b) => b.length() as usize,
            Err(e) => {
                out.push(Err(e));
                break;
            }
        };
        out.push(Message::deserialize(&buf[..len]));
        // Messages are 4-byte aligned; the last one may end without padding.
        let next = len.next_multiple_of(4).min(buf.len());
        buf = &buf[next..];
    }
    out
}

/// The interface a link message describes; `up` needs both IFF_UP and IFF_RUNNING, the
/// latter being the kernel's "operationally up" (carrier present, not dormant).
pub(crate) fn link(msg: &LinkMessage) -> Link {
    let mut name = String::new();
    let mut mac = None;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => name.clone_from(n),
            LinkAttribute::Address(a) => mac = <[u8; 6]>::try_from(a.as_slice()).ok(),
            _ => {}
        }
    }
    let flags = msg.header.flags;
    Link {
        index: msg.header.index,
        name,
        up: flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::Running),
        mac,
    }
}

/// The IPv4 address an address message describes, with its interface index; None for
/// other families.
pub(crate) fn ipv4_address(msg: &AddressMessage) -> Option<(u32, Ipv4Address)> {
    if msg.header.family != AddressFamily::Inet {
        return None;
    }
    let mut local = None;
    let mut address = None;
    let mut label = None;
    let mut secondary = msg.header.flags.contains(AddressHeaderFlags::Secondary);
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(IpAddr::V4(a)) => local = Some(*a),
            AddressAttribute::Address(IpAddr::V4(a)) => address = Some(*a),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            AddressAttribute::Flags(f) => {
                secondary |= f.contains(netlink_packet_route::address::AddressFlags::Secondary);
            }
            _ => {}
        }
    }
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS differs from it only on
    // point-to-point links, where it is the peer's.
    let address = local.or(address)?;
    Some((
        msg.header.index,
        Ipv4Address { address, prefix_len: msg.header.prefix_len, label, secondary },
    ))
}

/// The kernel's own explanation in an error reply (NLMSGERR_ATTR_MSG), present when
/// extended ACKs are on. `flags` are the error message's header flags and `payload` its
/// body after the error code: the echoed request (only its header when capped), then
/// the attributes.
pub(crate) fn extack_message(flags: u16, payload: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let echoed_len = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        u32::from_ne_bytes(payload.get(..4)?.try_into().ok()?) as usize
    };
    let skip = echoed_len.next_multiple_of(4);
    let mut tlvs = payload.get(skip..)?;
    while tlvs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([tlvs[0], tlvs[1]]));
        let kind = u16::from_ne_bytes([tlvs[2], tlvs[3]]) & 0x3fff;
        if len < 4 || len > tlvs.len() {
            return None;
        }
        // NLMSGERR_ATTR_MSG: a NUL-terminated string.
        if kind == 1 {
            let text = &tlvs[4..len];
            let text = text.split(|b| *b == 0).next().unwrap_or_default();
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        tlvs = tlvs.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn broadcast_by_prefix() {
        let a = Ipv4Addr::new(192, 0, 2, 100);
        assert_eq!(broadcast(a, 24), Some(Ipv4Addr::new(192, 0, 2, 255)));
        assert_eq!(broadcast(a, 25), Some(Ipv4Addr::new(192, 0, 2, 127)));
        assert_eq!(broadcast(a, 30), Some(Ipv4Addr::new(192, 0, 2, 103)));
        assert_eq!(broadcast(a, 0), Some(Ipv4Addr::BROADCAST));
        assert_eq!(broadcast(a, 31), None);
        assert_eq!(broadcast(a, 32), None);
    }

    #[test]
    fn new_address_request_bytes() {
        let body = new_address(7, Ipv4Addr::new(192, 0, 2, 100), 24, Some("eth0:v"));
        let bytes = request(body, Kind::CreateExclusive, 42);
        #[rustfmt::skip]
        let want: Vec<u8> = [
            &[60, 0, 0, 0][..], // length: 16 + 8 + 3 * 8 + 12
            &20u16.to_ne_bytes(), // RTM_NEWADDR
            &(0x1u16 | 0x4 | 0x400 | 0x200).to_ne_bytes(), // REQUEST|ACK|CREATE|EXCL
            &42u32.to_ne_bytes(), &0u32.to_ne_bytes(),
            &[2, 24, 0, 0], &7u32.to_ne_bytes(), // AF_INET, /24, no flags, universe
            &8u16.to_ne_bytes(), &2u16.to_ne_bytes(), &[192, 0, 2, 100], // IFA_LOCAL
            &8u16.to_ne_bytes(), &1u16.to_ne_bytes(), &[192, 0, 2, 100], // IFA_ADDRESS
            &8u16.to_ne_bytes(), &4u16.to_ne_bytes(), &[192, 0, 2, 255], // IFA_BROADCAST
            &11u16.to_ne_bytes(), &3u16.to_ne_bytes(), b"eth0:v\0", &[0], // IFA_LABEL
        ]
        .concat();
        assert_eq!(bytes, want);
    }

    #[test]
    fn host_route_has_no_broadcast_and_delete_no_label() {
        let body = del_address(3, Ipv4Addr::new(192, 0, 2, 7), 32);
        let bytes = request(body, Kind::Single, 1);
        assert_eq!(bytes.len(), 16 + 8 + 8 + 8);
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), 21); // RTM_DELADDR
    }

    #[test]
    fn datagram_with_two_messages_round_trips() {
        let a = request(get_link_by_index(3), Kind::Single, 5);
        let b = request(dump_links(), Kind::Dump, 6);
        let parsed = parse_datagram(&[a, b].concat());
        assert_eq!(parsed.len(), 2);
        let first = parsed[0].as_ref().unwrap();
        assert_eq!(first.header.sequence_number, 5);
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::GetLink(m)) = &first.payload else {
            panic!("{first:?}");
        };
        assert_eq!(m.header.index, 3);
        assert_eq!(parsed[1].as_ref().unwrap().header.sequence_number, 6);
    }

    #[test]
    fn truncated_datagram_is_an_error() {
        let a = request(get_link_by_name("eth0"), Kind::Single, 5);
        let parsed = parse_datagram(&a[..a.len() - 3]);
        assert!(parsed[0].is_err());
    }

    #[test]
    fn link_up_needs_running() {
        let mut msg = LinkMessage::default();
        msg.header.index = 4;
        msg.header.flags = LinkFlags::Up;
        msg.attributes.push(LinkAttribute::IfName("eth0".into()));
        msg.attributes.push(LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]));
        let l = link(&msg);
        assert_eq!(
            (l.index, l.name.as_str(), l.up, l.mac),
            (4, "eth0", false, Some([2, 0, 0, 0, 0, 1]))
        );
        msg.header.flags = LinkFlags::Up | LinkFlags::Running;
        assert!(link(&msg).up);
        msg.header.flags = LinkFlags::Running;
        assert!(!link(&msg).up);
    }

    #[test]
    fn address_prefers_local_and_reads_secondary() {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = 24;
        msg.header.index = 9;
        msg.header.flags = AddressHeaderFlags::Secondary;
        msg.attributes.push(AddressAttribute::Address(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))));
        msg.attributes.push(AddressAttribute::Local(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2))));
        msg.attributes.push(AddressAttribute::Label("eth0:x".into()));
        let (index, a) = ipv4_address(&msg).unwrap();
        assert_eq!(index, 9);
        assert_eq!(a.address, Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(a.prefix_len, 24);
        assert_eq!(a.label.as_deref(), Some("eth0:x"));
        assert!(a.secondary);
        msg.header.family = AddressFamily::Inet6;
        assert!(ipv4_address(&msg).is_none());
    }

    #[test]
    fn extack_message_found_after_capped_header() {
        let echoed = request(get_link_by_index(1), Kind::Single, 1);
        let mut payload = echoed[..16].to_vec();
        let text = b"Invalid label\0";
        let len = 4 + text.len();
        payload.extend_from_slice(&(len as u16).to_ne_bytes());
        payload.extend_from_slice(&1u16.to_ne_bytes());
        payload.extend_from_slice(text);
        payload.resize(payload.len().next_multiple_of(4), 0);
        let flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
        assert_eq!(extack_message(flags, &payload).as_deref(), Some("Invalid label"));
        assert_eq!(extack_message(flags, &payload[..16]), None);
        assert_eq!(extack_message(NLM_F_CAPPED, &payload), None);
        // Not capped: the whole echoed request comes first.
        let mut whole = echoed.clone();
        whole.extend_from_slice(&payload[16..]);
        let flags = NLM_F_ACK_TLVS;
        assert_eq!(extack_message(flags, &whole).as_deref(), Some("Invalid label"));
    }
}
