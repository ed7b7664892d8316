//! The Internet checksum (RFC 1071): the one's complement of the one's complement sum
//! of the 16-bit big-endian words, an odd trailing byte padded with zero.

use std::net::Ipv4Addr;

use super::IPPROTO_VRRP;

/// A running one's complement sum. Chunks must start on even offsets of the summed
/// message (every caller here splits at even offsets), since an odd chunk is padded.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sum(u64);

impl Sum {
    pub(crate) fn add(mut self, data: &[u8]) -> Sum {
        let mut words = data.chunks_exact(2);
        for w in &mut words {
            self.0 += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = words.remainder() {
            self.0 += u64::from(*last) << 8;
        }
        self
    }

    /// The IPv4 pseudo-header of RFC 5798 section 5.2.8 (as for TCP/UDP): source,
    /// destination, zero, protocol 112, length of the VRRP message.
    pub(crate) fn add_pseudo_header(self, src: Ipv4Addr, dst: Ipv4Addr, len: u16) -> Sum {
        let [l0, l1] = len.to_be_bytes();
        self.add(&src.octets()).add(&dst.octets()).add(&[0, IPPROTO_VRRP, l0, l1])
    }

    /// The folded sum (not complemented). A message whose checksum field is right sums
    /// to 0xffff.
    pub(crate) fn folded(self) -> u16 {
        let mut s = self.0;
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    /// The value to write in the checksum field (the field itself summed as zero).
    pub(crate) fn checksum(self) -> u16 {
        !self.folded()
    }
}

/// The Internet checksum of `data` (with its checksum field, if any, zeroed).
pub fn internet_checksum(data: &[u8]) -> u16 {
    Sum::default().add(data).checksum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(Sum::default().add(&data).folded(), 0xddf2);
        assert_eq!(internet_checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_is_zero_padded() {
        assert_eq!(
            internet_checksum(&[0x12, 0x34, 0x56]),
            internet_checksum(&[0x12, 0x34, 0x56, 0])
        );
    }

    #[test]
    fn ipv4_header_of_a_captured_advert() {
        // The header of a keepalived advert (see tests.rs), checksum field 0x1891.
        let mut h = [
            0x45, 0xc0, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x18, 0x91, 192, 0, 2, 1,
            224, 0, 0, 18,
        ];
        assert_eq!(Sum::default().add(&h).folded(), 0xffff);
        h[10] = 0;
        h[11] = 0;
        assert_eq!(internet_checksum(&h), 0x1891);
    }
}
