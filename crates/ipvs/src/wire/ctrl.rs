//! The generic netlink controller: resolving the "IPVS" family id, once per socket.

use super::{Attrs, DecodeError, MessageBuilder, NLM_F_ACK, NLM_F_REQUEST};

pub const GENL_ID_CTRL: u16 = 0x10;
pub const CTRL_CMD_GETFAMILY: u8 = 3;
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;

/// `CTRL_CMD_GETFAMILY` for `name`.
pub fn get_family(b: &mut MessageBuilder, seq: u32, name: &str) {
    b.begin_genl(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq, CTRL_CMD_GETFAMILY, 1);
    b.put_cstr(CTRL_ATTR_FAMILY_NAME, name);
    b.end_message();
}

/// The family id from a `CTRL_CMD_NEWFAMILY` reply's attributes.
pub fn parse_family_id(attrs: &[u8]) -> Result<u16, DecodeError> {
    for attr in Attrs::new(attrs) {
        let attr = attr?;
        if attr.kind == CTRL_ATTR_FAMILY_ID {
            return attr.u16("CTRL_ATTR_FAMILY_ID");
        }
    }
    Err(DecodeError::Missing("CTRL_ATTR_FAMILY_ID"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Messages, Reply};

    #[test]
    fn getfamily_request_bytes() {
        let mut b = MessageBuilder::new();
        get_family(&mut b, 1, "IPVS");
        #[rustfmt::skip]
        let expected: [u8; 32] = [
            32, 0, 0, 0, 0x10, 0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr
            3, 1, 0, 0,                                         // genlmsghdr
            9, 0, 2, 0, b'I', b'P', b'V', b'S', 0, 0, 0, 0,     // FAMILY_NAME "IPVS\0"
        ];
        assert_eq!(b.as_bytes(), &expected);
    }

    #[test]
    fn family_id_from_reply() {
        // A trimmed NEWFAMILY reply: name, then id 0x1c.
        #[rustfmt::skip]
        let reply: [u8; 36] = [
            36, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
            1, 2, 0, 0,
            9, 0, 2, 0, b'I', b'P', b'V', b'S', 0, 0, 0, 0,
            6, 0, 1, 0,
        ];
        // The id attribute is cut: decoding must fail cleanly, then succeed when whole.
        let msg = Messages::new(&reply).next().unwrap().unwrap();
        let Reply::Genl { attrs, .. } = msg.reply().unwrap() else { panic!("not genl") };
        assert!(parse_family_id(attrs).is_err());
        let mut whole = reply.to_vec();
        whole.extend_from_slice(&[0x1c, 0, 0, 0]);
        whole[0] = 40;
        let msg = Messages::new(&whole).next().unwrap().unwrap();
        let Reply::Genl { attrs, .. } = msg.reply().unwrap() else { panic!("not genl") };
        assert_eq!(parse_family_id(attrs).unwrap(), 0x1c);
    }
}
