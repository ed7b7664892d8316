//! Replies captured from a real kernel (Debian 6.1.0-56-cloud-amd64 in the test VM, by
//! the `capture_kernel_replies_for_fixtures` kernel test): the generic netlink payload
//! (genl header + attributes) of the first message of a service dump and of a
//! destination dump, for `-A -t 192.0.2.1:80 -s wrr -p 300 -M 255.255.255.0` and
//! `-a -r 198.51.100.7:8080 -m -w 3 -x 100 -y 10`.

use super::{
    destination, service, Attrs, Message, Reply, IPVS_CMD_ATTR_DEST, IPVS_CMD_ATTR_SERVICE,
};
use crate::model::{
    Destination, Forwarding, Netmask, Protocol, Scheduler, Service, ServiceFlags, ServiceKey,
    AF_INET,
};

const SERVICE_DUMP: &[&str] = &[
    "010100002c0101000600010002000000060002000600000014000300c00002010000000000000000",
    "00000000060004000050000008000600777272000c00070003000000ffffffff080008002c010000",
    "08000900ffffff005c000a000800010000000000080002000000000008000300000000000c000400",
    "00000000000000000c00050000000000000000000800060000000000080007000000000008000800",
    "00000000080009000000000008000a00000000007c000c000c00010000000000000000000c000200",
    "00000000000000000c00030000000000000000000c00040000000000000000000c00050000000000",
    "000000000c00060000000000000000000c00070000000000000000000c0008000000000000000000",
    "0c00090000000000000000000c000a000000000000000000",
];

const DESTINATION_DUMP: &[&str] = &[
    "050100005001020014000100c6336407000000000000000000000000060002001f90000008000300",
    "00000000080004000300000005000d000000000006000e000000000006000f000000000008000500",
    "64000000080006000a00000008000700000000000800080000000000080009000000000006000b00",
    "020000005c000a000800010000000000080002000000000008000300000000000c00040000000000",
    "000000000c0005000000000000000000080006000000000008000700000000000800080000000000",
    "080009000000000008000a00000000007c000c000c00010000000000000000000c00020000000000",
    "000000000c00030000000000000000000c00040000000000000000000c0005000000000000000000",
    "0c00060000000000000000000c00070000000000000000000c00080000000000000000000c000900",
    "00000000000000000c000a000000000000000000",
];

fn bytes(hex: &[&str]) -> Vec<u8> {
    let hex: String = hex.concat();
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

/// The one top-level attribute `kind` of a captured genl payload.
fn top_level(payload: &[u8], kind: u16) -> Vec<u8> {
    let msg = Message { kind: 0x20, flags: 0, seq: 0, pid: 0, payload };
    let Reply::Genl { attrs, .. } = msg.reply().unwrap() else { panic!("not genl") };
    let attr = Attrs::new(attrs).map(Result::unwrap).find(|a| a.kind == kind).unwrap();
    attr.payload.to_vec()
}

/// The service of the captured dump, for the byte tests of `wire::service` too.
pub(super) fn captured_service() -> Service {
    let mut svc = Service::new(ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "192.0.2.1".parse().unwrap(),
        port: 80,
    });
    svc.scheduler = Scheduler::Wrr;
    svc.flags = ServiceFlags(ServiceFlags::IP_VS_SVC_F_PERSISTENT);
    svc.timeout = 300;
    svc.netmask = Netmask::V4("255.255.255.0".parse().unwrap());
    svc
}

#[test]
fn parses_a_captured_service_dump() {
    let payload = bytes(SERVICE_DUMP);
    let entry = service::parse(&top_level(&payload, IPVS_CMD_ATTR_SERVICE)).unwrap();
    // The kernel reports HASHED (0x2) too; it is internal and dropped.
    assert_eq!(entry.service, captured_service());
    assert_eq!(entry.stats, crate::model::Stats::default());
}

#[test]
fn emits_the_service_key_and_scheduler_as_the_kernel_reports_them() {
    let mut b = super::MessageBuilder::new();
    service::put_full(&mut b, &captured_service());
    let ours = Attrs::new(b.as_bytes()).next().unwrap().unwrap().payload.to_vec();
    let theirs = top_level(&bytes(SERVICE_DUMP), IPVS_CMD_ATTR_SERVICE);
    // AF, PROTOCOL, ADDR, PORT, SCHED_NAME come first on both sides, byte for byte
    // (8 + 8 + 20 + 8 + 8 bytes); FLAGS then differ only by the kernel's HASHED bit.
    assert_eq!(ours[..52], theirs[..52]);
    assert_eq!(&ours[52..56], &[12, 0, 7, 0]);
    assert_eq!(&ours[56..60], &[1, 0, 0, 0]);
    assert_eq!(&theirs[56..60], &[3, 0, 0, 0]);
}

#[test]
fn parses_and_emits_a_captured_destination_dump() {
    let payload = bytes(DESTINATION_DUMP);
    let raw = top_level(&payload, IPVS_CMD_ATTR_DEST);
    let entry = destination::parse(&raw, AF_INET).unwrap();
    let mut want = Destination::new("198.51.100.7".parse().unwrap(), 8080);
    want.forwarding = Forwarding::Masq;
    want.weight = 3;
    want.upper_threshold = 100;
    want.lower_threshold = 10;
    assert_eq!(entry.destination, want);
    // Our ADDR and PORT attributes are the kernel's, byte for byte.
    let mut b = super::MessageBuilder::new();
    destination::put_full(&mut b, &want);
    let ours = Attrs::new(b.as_bytes()).next().unwrap().unwrap().payload.to_vec();
    let find = |buf: &[u8], kind| {
        Attrs::new(buf).map(Result::unwrap).find(|a| a.kind == kind).map(|a| a.payload.to_vec())
    };
    for kind in [1u16, 2, 3, 4, 5, 6, 11] {
        assert_eq!(find(&ours, kind), find(&raw, kind), "IPVS_DEST_ATTR {kind}");
    }
}
