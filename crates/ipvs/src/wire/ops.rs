//! Requests: one netlink message per table operation or query.

use super::{
    daemon, destination, info, service, MessageBuilder, IPVS_CMD_DEL_DAEMON, IPVS_CMD_DEL_DEST,
    IPVS_CMD_DEL_SERVICE, IPVS_CMD_FLUSH, IPVS_CMD_GET_CONFIG, IPVS_CMD_GET_DAEMON,
    IPVS_CMD_GET_DEST, IPVS_CMD_GET_INFO, IPVS_CMD_GET_SERVICE, IPVS_CMD_NEW_DAEMON,
    IPVS_CMD_NEW_DEST, IPVS_CMD_NEW_SERVICE, IPVS_CMD_SET_CONFIG, IPVS_CMD_SET_DEST,
    IPVS_CMD_SET_SERVICE, IPVS_CMD_ZERO, IPVS_GENL_VERSION, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use crate::global::{DaemonState, SyncDaemon, Timeouts};
use crate::model::ServiceKey;
use crate::op::Op;

const DO: u16 = NLM_F_REQUEST | NLM_F_ACK;
const DUMP: u16 = NLM_F_REQUEST | NLM_F_DUMP;

/// Appends the message for one table operation.
pub fn op(b: &mut MessageBuilder, family: u16, seq: u32, op: &Op) {
    match op {
        Op::AddService(s) => {
            b.begin_genl(family, DO, seq, IPVS_CMD_NEW_SERVICE, IPVS_GENL_VERSION);
            service::put_full(b, s);
        }
        Op::EditService(s) => {
            b.begin_genl(family, DO, seq, IPVS_CMD_SET_SERVICE, IPVS_GENL_VERSION);
            service::put_full(b, s);
        }
        Op::DeleteService(k) => {
            b.begin_genl(family, DO, seq, IPVS_CMD_DEL_SERVICE, IPVS_GENL_VERSION);
            service::put_key(b, k);
        }
        Op::AddDestination(k, d) => {
            b.begin_genl(family, DO, seq, IPVS_CMD_NEW_DEST, IPVS_GENL_VERSION);
            service::put_key(b, k);
            destination::put_full(b, d);
        }
        Op::EditDestination(k, d) => {
            b.begin_genl(family, DO, seq, IPVS_CMD_SET_DEST, IPVS_GENL_VERSION);
            service::put_key(b, k);
            destination::put_full(b, d);
        }
        Op::DeleteDestination(k, addr, port) => {
            b.begin_genl(family, DO, seq, IPVS_CMD_DEL_DEST, IPVS_GENL_VERSION);
            service::put_key(b, k);
            destination::put_key(b, addr, *port);
        }
    }
    b.end_message();
}

/// A request without attributes (`GET_INFO`, `GET_CONFIG`, `FLUSH`, `ZERO` of everything).
pub fn simple(b: &mut MessageBuilder, family: u16, seq: u32, cmd: u8) {
    b.begin_genl(family, DO, seq, cmd, IPVS_GENL_VERSION);
    b.end_message();
}

pub fn get_info(b: &mut MessageBuilder, family: u16, seq: u32) {
    simple(b, family, seq, IPVS_CMD_GET_INFO);
}

pub fn get_config(b: &mut MessageBuilder, family: u16, seq: u32) {
    simple(b, family, seq, IPVS_CMD_GET_CONFIG);
}

pub fn flush(b: &mut MessageBuilder, family: u16, seq: u32) {
    simple(b, family, seq, IPVS_CMD_FLUSH);
}

/// Zero counters of one service, or of everything.
pub fn zero(b: &mut MessageBuilder, family: u16, seq: u32, key: Option<&ServiceKey>) {
    b.begin_genl(family, DO, seq, IPVS_CMD_ZERO, IPVS_GENL_VERSION);
    if let Some(k) = key {
        service::put_key(b, k);
    }
    b.end_message();
}

pub fn set_config(b: &mut MessageBuilder, family: u16, seq: u32, t: &Timeouts) {
    b.begin_genl(family, DO, seq, IPVS_CMD_SET_CONFIG, IPVS_GENL_VERSION);
    info::put_timeouts(b, t);
    b.end_message();
}

/// One service (`GET_SERVICE` as a do-request).
pub fn get_service(b: &mut MessageBuilder, family: u16, seq: u32, key: &ServiceKey) {
    b.begin_genl(family, DO, seq, IPVS_CMD_GET_SERVICE, IPVS_GENL_VERSION);
    service::put_key(b, key);
    b.end_message();
}

pub fn dump_services(b: &mut MessageBuilder, family: u16, seq: u32) {
    b.begin_genl(family, DUMP, seq, IPVS_CMD_GET_SERVICE, IPVS_GENL_VERSION);
    b.end_message();
}

pub fn dump_destinations(b: &mut MessageBuilder, family: u16, seq: u32, key: &ServiceKey) {
    b.begin_genl(family, DUMP, seq, IPVS_CMD_GET_DEST, IPVS_GENL_VERSION);
    service::put_key(b, key);
    b.end_message();
}

pub fn dump_daemons(b: &mut MessageBuilder, family: u16, seq: u32) {
    b.begin_genl(family, DUMP, seq, IPVS_CMD_GET_DAEMON, IPVS_GENL_VERSION);
    b.end_message();
}

pub fn start_daemon(b: &mut MessageBuilder, family: u16, seq: u32, d: &SyncDaemon) {
    b.begin_genl(family, DO, seq, IPVS_CMD_NEW_DAEMON, IPVS_GENL_VERSION);
    daemon::put_full(b, d);
    b.end_message();
}

pub fn stop_daemon(b: &mut MessageBuilder, family: u16, seq: u32, state: DaemonState) {
    b.begin_genl(family, DO, seq, IPVS_CMD_DEL_DAEMON, IPVS_GENL_VERSION);
    daemon::put_state(b, state);
    b.end_message();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Destination, Protocol};
    use crate::wire::{Messages, Reply};

    #[test]
    fn batched_ops_are_separate_messages_with_their_own_seq() {
        let key = ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: "203.0.113.5".parse().unwrap(),
            port: 53,
        };
        let mut b = MessageBuilder::new();
        op(&mut b, 0x22, 10, &Op::DeleteDestination(key, "198.51.100.1".parse().unwrap(), 53));
        op(
            &mut b,
            0x22,
            11,
            &Op::AddDestination(key, Destination::new("198.51.100.2".parse().unwrap(), 53)),
        );
        let msgs: Vec<_> = Messages::new(b.as_bytes()).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!((msgs[0].seq, msgs[1].seq), (10, 11));
        assert!(msgs.iter().all(|m| m.kind == 0x22 && m.flags == DO));
        let cmds: Vec<u8> = msgs
            .iter()
            .map(|m| match m.reply().unwrap() {
                Reply::Genl { cmd, .. } => cmd,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(cmds, vec![IPVS_CMD_DEL_DEST, IPVS_CMD_NEW_DEST]);
    }
}
