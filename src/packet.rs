// SPDX-License-Identifier: GPL-2.0

//! IPv4 and IPv6 header parsing. Pure code, host-tested.

/// Bytes of an IPv4 header without options.
pub(crate) const IPV4_HDRLEN: usize = 20;
/// Bytes of the fixed IPv6 header.
// The IPv6 data path is not built yet (see Documentation/deviations.rst).
#[allow(dead_code)]
pub(crate) const IPV6_HDRLEN: usize = 40;

/// The fields of an IPv4 header IPVS looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ipv4Header {
    /// Header length in bytes (IHL * 4).
    pub(crate) header_len: usize,
    /// Total length of the datagram.
    pub(crate) total_len: u16,
    /// Transport protocol.
    pub(crate) protocol: u8,
    /// Source address, network order.
    pub(crate) saddr: [u8; 4],
    /// Destination address, network order.
    pub(crate) daddr: [u8; 4],
    /// Whether this is a fragment other than the first.
    pub(crate) later_fragment: bool,
    /// Whether this is any fragment (more-fragments flag or an offset).
    pub(crate) fragment: bool,
    /// Type of service byte.
    pub(crate) tos: u8,
    /// Time to live.
    pub(crate) ttl: u8,
    /// Don't-fragment flag.
    pub(crate) dont_fragment: bool,
}

impl Ipv4Header {
    /// Parses the fixed part of an IPv4 header; `None` if it is not one.
    pub(crate) fn parse(b: &[u8; IPV4_HDRLEN]) -> Option<Self> {
        if b[0] >> 4 != 4 {
            return None;
        }
        let header_len = usize::from(b[0] & 0x0f) * 4;
        let total_len = u16::from_be_bytes([b[2], b[3]]);
        if header_len < IPV4_HDRLEN || usize::from(total_len) < header_len {
            return None;
        }
        let frag = u16::from_be_bytes([b[6], b[7]]);
        Some(Self {
            header_len,
            total_len,
            protocol: b[9],
            saddr: [b[12], b[13], b[14], b[15]],
            daddr: [b[16], b[17], b[18], b[19]],
            later_fragment: frag & 0x1fff != 0,
            fragment: frag & 0x3fff != 0,
            tos: b[1],
            ttl: b[8],
            dont_fragment: frag & 0x4000 != 0,
        })
    }
}

/// The fields of an IPv6 header IPVS looks at.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ipv6Header {
    /// Payload length.
    pub(crate) payload_len: u16,
    /// First next-header value.
    pub(crate) next_header: u8,
    /// Source address.
    pub(crate) saddr: [u8; 16],
    /// Destination address.
    pub(crate) daddr: [u8; 16],
}

#[allow(dead_code)]
impl Ipv6Header {
    /// Parses the fixed IPv6 header; `None` if it is not one.
    pub(crate) fn parse(b: &[u8; IPV6_HDRLEN]) -> Option<Self> {
        if b[0] >> 4 != 6 {
            return None;
        }
        let mut saddr = [0; 16];
        let mut daddr = [0; 16];
        saddr.copy_from_slice(&b[8..24]);
        daddr.copy_from_slice(&b[24..40]);
        Some(Self {
            payload_len: u16::from_be_bytes([b[4], b[5]]),
            next_header: b[6],
            saddr,
            daddr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4() -> [u8; IPV4_HDRLEN] {
        [
            0x45, 0, 0, 60, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 207, 175, 44, 110,
        ]
    }

    #[test]
    fn ipv4_fields() {
        let h = Ipv4Header::parse(&v4()).unwrap();
        assert_eq!(h.header_len, 20);
        assert_eq!(h.total_len, 60);
        assert_eq!(h.protocol, 6);
        assert_eq!(h.saddr, [10, 0, 0, 2]);
        assert_eq!(h.daddr, [207, 175, 44, 110]);
        assert!(!h.later_fragment);
    }

    #[test]
    fn ipv4_rejects_garbage() {
        let mut b = v4();
        b[0] = 0x65;
        assert_eq!(Ipv4Header::parse(&b), None);
        let mut b = v4();
        b[0] = 0x44; // IHL below 5
        assert_eq!(Ipv4Header::parse(&b), None);
        let mut b = v4();
        b[3] = 10; // total length below header length
        assert_eq!(Ipv4Header::parse(&b), None);
        let mut b = v4();
        b[7] = 1; // fragment offset 8
        assert!(Ipv4Header::parse(&b).unwrap().later_fragment);
    }

    #[test]
    fn ipv6_fields() {
        let mut b = [0u8; IPV6_HDRLEN];
        b[0] = 0x60;
        b[5] = 8;
        b[6] = 17;
        b[23] = 1;
        b[39] = 2;
        let h = Ipv6Header::parse(&b).unwrap();
        assert_eq!(h.payload_len, 8);
        assert_eq!(h.next_header, 17);
        assert_eq!(h.saddr[15], 1);
        assert_eq!(h.daddr[15], 2);
        b[0] = 0x40;
        assert_eq!(Ipv6Header::parse(&b), None);
    }
}
