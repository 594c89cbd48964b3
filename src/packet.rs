// SPDX-License-Identifier: GPL-2.0

//! IPv4 and IPv6 header parsing, and what the hooks read of a packet.
//! Pure code, host-tested.

use crate::sctp::Event;
use crate::service::{Addr, AF_INET, AF_INET6};
use crate::state::Flags;

/// Bytes of an IPv4 header without options.
pub(crate) const IPV4_HDRLEN: usize = 20;
/// Bytes of the fixed IPv6 header.
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

/// Next-header values of the IPv6 extension headers IPVS steps over.
mod nexthdr {
    pub(super) const HOP: u8 = 0;
    pub(super) const ROUTING: u8 = 43;
    pub(super) const FRAGMENT: u8 = 44;
    pub(super) const AUTH: u8 = 51;
    pub(super) const DEST: u8 = 60;
}

/// Finds the upper-layer header of an IPv6 packet whose fixed header says
/// `next` (`ipv6_skip_exthdr`): steps over hop-by-hop, routing,
/// destination options and authentication headers, and over a fragment
/// header that holds the whole packet (an atomic fragment). `read8(at)`
/// gives the 8 bytes `at` bytes from the start of the IPv6 header.
///
/// As stock, any number of them: each takes at least 8 bytes, so the
/// packet's end ends the walk. Returns the protocol and its offset;
/// `None` for real fragments (left to reassembly) or a chain cut short.
pub(crate) fn ipv6_upper_layer(
    mut next: u8,
    mut read8: impl FnMut(usize) -> Option<[u8; 8]>,
) -> Option<(u8, usize)> {
    let mut at = IPV6_HDRLEN;
    loop {
        let len = match next {
            nexthdr::HOP | nexthdr::ROUTING | nexthdr::DEST => {
                let h = read8(at)?;
                next = h[0];
                (usize::from(h[1]) + 1) * 8
            }
            nexthdr::AUTH => {
                let h = read8(at)?;
                next = h[0];
                (usize::from(h[1]) + 2) * 4
            }
            nexthdr::FRAGMENT => {
                let h = read8(at)?;
                // Offset 0 and no more fragments: the whole packet.
                if u16::from_be_bytes([h[2], h[3]]) & 0xfff9 != 0 {
                    return None;
                }
                next = h[0];
                8
            }
            _ => return Some((next, at)),
        };
        at = at.checked_add(len)?;
    }
}

/// The network header of a packet IPVS handles.
#[derive(Clone, Copy)]
pub(crate) enum Hdr {
    /// IPv4, with the fields forwarding needs.
    V4(Ipv4Header),
    /// IPv6, with the transport header (or ICMPv6) `l4` bytes in, after
    /// any extension headers.
    V6 {
        /// Offset of the upper-layer header.
        l4: usize,
        /// Its protocol.
        protocol: u8,
    },
}

impl Hdr {
    /// Bytes before the transport header.
    pub(crate) fn len(&self) -> usize {
        match self {
            Hdr::V4(h) => h.header_len,
            Hdr::V6 { l4, .. } => *l4,
        }
    }

    /// The upper-layer protocol.
    pub(crate) fn protocol(&self) -> u8 {
        match self {
            Hdr::V4(h) => h.protocol,
            Hdr::V6 { protocol, .. } => *protocol,
        }
    }

    /// The address family.
    pub(crate) fn af(&self) -> u16 {
        match self {
            Hdr::V4(_) => AF_INET,
            Hdr::V6 { .. } => AF_INET6,
        }
    }

    pub(crate) fn is_v6(&self) -> bool {
        matches!(self, Hdr::V6 { .. })
    }
}

/// An IPv4 address as IPVS stores addresses (the rest zero).
pub(crate) fn addr16(a: [u8; 4]) -> Addr {
    let mut x = [0u8; 16];
    x[..4].copy_from_slice(&a);
    x
}

/// What the hooks read from a packet.
pub(crate) struct Parsed {
    pub(crate) hdr: Hdr,
    pub(crate) af: u16,
    pub(crate) protocol: u8,
    pub(crate) saddr: Addr,
    pub(crate) daddr: Addr,
    pub(crate) sport: [u8; 2],
    pub(crate) dport: [u8; 2],
    pub(crate) tcp_flags: Option<Flags>,
    /// What an SCTP packet's chunks mean to the state machine.
    pub(crate) sctp_event: Option<Event>,
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

    /// `ipv6_upper_layer` over a packet in a slice.
    fn upper(pkt: &[u8]) -> Option<(u8, usize)> {
        ipv6_upper_layer(pkt[6], |at| pkt.get(at..at + 8)?.try_into().ok())
    }

    fn v6_with(exts: &[(u8, &[u8])], upper: u8) -> Vec<u8> {
        let mut p = vec![0u8; IPV6_HDRLEN];
        p[0] = 0x60;
        p[6] = exts.first().map_or(upper, |e| e.0);
        for (i, (_, body)) in exts.iter().enumerate() {
            let next = exts.get(i + 1).map_or(upper, |e| e.0);
            p.push(next);
            p.extend_from_slice(body);
        }
        p.extend_from_slice(&[0x12, 0x34, 0x00, 0x35, 0, 8, 0, 0]);
        p
    }

    #[test]
    fn ipv6_extension_headers_are_stepped_over() {
        // No extension header.
        assert_eq!(upper(&v6_with(&[], 17)), Some((17, 40)));
        // Hop-by-hop (8 bytes: length 0, PadN), then destination
        // options of 16 bytes (length 1), then UDP.
        let hop: &[u8] = &[0, 1, 4, 0, 0, 0, 0];
        let dst: &[u8] = &[1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let p = v6_with(&[(0, hop), (60, dst)], 17);
        assert_eq!(upper(&p), Some((17, 64)));
        // Authentication header: length in 4-byte units, minus 2.
        let ah: &[u8] = &[
            4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(upper(&v6_with(&[(51, ah)], 6)), Some((6, 64)));
        // Routing header, then ICMPv6.
        let rt: &[u8] = &[0, 0, 0, 0, 0, 0, 0];
        assert_eq!(upper(&v6_with(&[(43, rt)], 58)), Some((58, 48)));
    }

    #[test]
    fn ipv6_fragments_are_left_alone() {
        // An atomic fragment (offset 0, no more fragments) is stepped over.
        let atomic: &[u8] = &[0, 0, 0, 0, 0, 0, 1];
        assert_eq!(upper(&v6_with(&[(44, atomic)], 17)), Some((17, 48)));
        // A first fragment (more fragments) and a later one are not.
        let first: &[u8] = &[0, 0, 1, 0, 0, 0, 1];
        assert_eq!(upper(&v6_with(&[(44, first)], 17)), None);
        let later: &[u8] = &[0, 0x05, 0x00, 0, 0, 0, 1];
        assert_eq!(upper(&v6_with(&[(44, later)], 17)), None);
    }

    #[test]
    fn ipv6_bad_chains_end_the_walk() {
        // Cut short inside an extension header.
        let p = v6_with(&[(0, &[0, 1, 4, 0, 0, 0, 0])], 17);
        assert_eq!(upper(&p[..44]), None);
        // Cut short after many.
        let dst: &[u8] = &[0, 1, 4, 0, 0, 0, 0];
        let exts: Vec<(u8, &[u8])> = (0..20).map(|_| (60, dst)).collect();
        let p = v6_with(&exts, 60);
        assert_eq!(upper(&p[..p.len() - 4]), None);
    }

    #[test]
    fn ipv6_any_number_of_extension_headers() {
        // Stock's ipv6_find_hdr walks them all; so does this.
        let dst: &[u8] = &[0, 1, 4, 0, 0, 0, 0];
        for n in [8usize, 9, 100] {
            let exts: Vec<(u8, &[u8])> = (0..n).map(|_| (60, dst)).collect();
            assert_eq!(upper(&v6_with(&exts, 17)), Some((17, 40 + 8 * n)));
        }
    }
}
