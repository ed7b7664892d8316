//! The order in which `ipvsadm -L` and `-S` print: libipvs `ipvs_cmp_services` and
//! `ipvs_cmp_dests` handed to glibc `qsort`.
//!
//! The comparators subtract unsigned 32-bit values and keep the result as a C `int`, so two
//! addresses 2^31 or more apart compare "backwards" (10.0.0.1 sorts after 192.168.0.1), and
//! three such addresses can even form a cycle. To print what ipvsadm prints we keep that
//! arithmetic and glibc 2.36's sort (a top-down stable merge sort), instead of sorting by
//! the natural order of addresses.

use std::net::IpAddr;

use crate::model::{Destination, Family, ServiceKey, AF_INET6};

/// glibc `msort_with_tmp`: split at `n / 2`, sort both halves, merge taking the left element
/// while `cmp(left, right) <= 0`. Returns the permutation of `0..len`.
fn merge_sort(len: usize, cmp: &dyn Fn(usize, usize) -> i32) -> Vec<usize> {
    fn sort(idx: &[usize], cmp: &dyn Fn(usize, usize) -> i32) -> Vec<usize> {
        if idx.len() <= 1 {
            return idx.to_vec();
        }
        let (left, right) = idx.split_at(idx.len() / 2);
        let (left, right) = (sort(left, cmp), sort(right, cmp));
        let mut out = Vec::with_capacity(idx.len());
        let (mut l, mut r) = (0, 0);
        while l < left.len() && r < right.len() {
            if cmp(left[l], right[r]) <= 0 {
                out.push(left[l]);
                l += 1;
            } else {
                out.push(right[r]);
                r += 1;
            }
        }
        out.extend_from_slice(&left[l..]);
        out.extend_from_slice(&right[r..]);
        out
    }
    let all: Vec<usize> = (0..len).collect();
    sort(&all, cmp)
}

/// `union nf_inet_addr` as libipvs holds it: IPv4 in the first four bytes, the rest zero.
fn inet_addr_bytes(addr: &IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        }
        IpAddr::V6(a) => a.octets(),
    }
}

/// `ntohl(a) - ntohl(b)` assigned to an `int`.
fn word_diff(a: &[u8; 16], b: &[u8; 16], word: usize) -> i32 {
    let w = |x: &[u8; 16]| {
        u32::from_be_bytes([x[4 * word], x[4 * word + 1], x[4 * word + 2], x[4 * word + 3]])
    };
    w(a).wrapping_sub(w(b)) as i32
}

/// Address comparison shared by both comparators: four words for IPv6, one for IPv4,
/// chosen by the family of the left-hand entry.
fn addr_diff(v6: bool, a: &[u8; 16], b: &[u8; 16]) -> i32 {
    if v6 {
        (0..4).map(|i| word_diff(a, b, i)).find(|r| *r != 0).unwrap_or(0)
    } else {
        word_diff(a, b, 0)
    }
}

/// The fields `ipvs_cmp_services` looks at, as a kernel dump fills them: fwmark services
/// carry no protocol, address or port.
struct SvcSortKey {
    fwmark: u32,
    af: u16,
    protocol: u16,
    addr: [u8; 16],
    port: u16,
}

impl SvcSortKey {
    fn of(key: &ServiceKey) -> Self {
        match key {
            ServiceKey::Addr { protocol, addr, port } => SvcSortKey {
                fwmark: 0,
                af: Family::of(addr).to_af(),
                protocol: protocol.number(),
                addr: inet_addr_bytes(addr),
                port: *port,
            },
            ServiceKey::Fwmark { family, mark } => SvcSortKey {
                fwmark: *mark,
                af: family.to_af(),
                protocol: 0,
                addr: [0; 16],
                port: 0,
            },
        }
    }

    /// libipvs `ipvs_cmp_services`.
    fn cmp(&self, other: &Self) -> i32 {
        let r = self.fwmark.wrapping_sub(other.fwmark) as i32;
        if r != 0 {
            return r;
        }
        let r = i32::from(self.af) - i32::from(other.af);
        if r != 0 {
            return r;
        }
        let r = i32::from(self.protocol) - i32::from(other.protocol);
        if r != 0 {
            return r;
        }
        let r = addr_diff(self.af == AF_INET6, &self.addr, &other.addr);
        if r != 0 {
            return r;
        }
        i32::from(self.port) - i32::from(other.port)
    }
}

/// libipvs `ipvs_cmp_dests`.
fn cmp_dests(a: &Destination, b: &Destination) -> i32 {
    let v6 = Family::of(&a.addr).to_af() == AF_INET6;
    let r = addr_diff(v6, &inet_addr_bytes(&a.addr), &inet_addr_bytes(&b.addr));
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// Items reordered as ipvsadm lists services, given their order as read from the kernel.
pub(crate) fn services<T>(items: &[T], key: impl Fn(&T) -> &ServiceKey) -> Vec<&T> {
    let keys: Vec<SvcSortKey> = items.iter().map(|t| SvcSortKey::of(key(t))).collect();
    merge_sort(items.len(), &|a, b| keys[a].cmp(&keys[b])).into_iter().map(|i| &items[i]).collect()
}

/// Items reordered as ipvsadm lists the destinations of one service.
pub(crate) fn destinations<T>(items: &[T], dest: impl Fn(&T) -> &Destination) -> Vec<&T> {
    merge_sort(items.len(), &|a, b| cmp_dests(dest(&items[a]), dest(&items[b])))
        .into_iter()
        .map(|i| &items[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;

    fn tcp(addr: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: addr.parse().expect("test address"),
            port,
        }
    }

    fn names(keys: &[ServiceKey]) -> Vec<String> {
        services(keys, |k| k).iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn services_sort_by_fwmark_family_protocol_address_port() {
        let keys = vec![
            ServiceKey::Fwmark { family: Family::Inet6, mark: 1 },
            ServiceKey::Fwmark { family: Family::Inet, mark: 2 },
            ServiceKey::Fwmark { family: Family::Inet, mark: 1 },
            tcp("2001:db8::1", 80),
            ServiceKey::Addr {
                protocol: Protocol::Udp,
                addr: "10.0.0.1".parse().expect("addr"),
                port: 53,
            },
            tcp("10.0.0.2", 80),
            tcp("10.0.0.1", 443),
            tcp("10.0.0.1", 80),
        ];
        assert_eq!(
            names(&keys),
            [
                "10.0.0.1:80/tcp",
                "10.0.0.1:443/tcp",
                "10.0.0.2:80/tcp",
                "10.0.0.1:53/udp",
                "[2001:db8::1]:80/tcp",
                "fwmark 1",
                "fwmark 1 (IPv6)",
                "fwmark 2",
            ]
        );
    }

    #[test]
    fn addresses_far_apart_compare_as_c_int_overflow_does() {
        // 0x0a000001 - 0xc0a80001 wraps to a positive int: 10/8 sorts after 192.168/16.
        let keys = vec![tcp("10.0.0.1", 80), tcp("192.168.0.1", 80)];
        assert_eq!(names(&keys), ["192.168.0.1:80/tcp", "10.0.0.1:80/tcp"]);
    }

    #[test]
    fn merge_sort_is_stable_and_splits_like_glibc() {
        let v = [3, 1, 2, 1, 0];
        let order = merge_sort(v.len(), &|a, b| v[a] - v[b]);
        assert_eq!(order, [4, 1, 3, 2, 0]);
    }
}
