// SPDX-License-Identifier: GPL-2.0

//! Packet rewriting for the forwarding methods: address and port
//! translation with incremental checksum updates (NAT), and the outer
//! header of the IPIP tunnel. Works on the bytes from the IPv4 header on;
//! pure code, host-tested.

use crate::csum;
use crate::packet::{self, IPV4_HDRLEN, IPV6_HDRLEN};

/// Which end of a packet NAT rewrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The source (replies from a real server get the virtual address).
    Source,
    /// The destination (requests go to the real server).
    Destination,
}

/// `IPPROTO_TCP`.
pub(crate) const TCP: u8 = 6;
/// `IPPROTO_UDP`.
pub(crate) const UDP: u8 = 17;
/// `IPPROTO_SCTP`.
pub(crate) const SCTP: u8 = 132;

/// Bytes of transport header NAT needs to see and rewrite.
pub(crate) fn transport_header_len(protocol: u8) -> Option<usize> {
    match protocol {
        TCP => Some(20),
        UDP => Some(8),
        SCTP => Some(crate::sctp::COMMON_HDR),
        _ => None,
    }
}

/// Offset of the checksum field in the transport header.
fn check_offset(protocol: u8) -> Option<usize> {
    match protocol {
        TCP => Some(16),
        UDP => Some(6),
        SCTP => Some(8),
        _ => None,
    }
}

fn get16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Rewrites the address and port at `end` of an IPv4 TCP, UDP or SCTP packet
/// (`pkt` holds the IP header and at least the transport header) and
/// updates the IP and transport checksums. With `partial` the transport
/// checksum holds only the pseudo-header sum (`CHECKSUM_PARTIAL`), so
/// only the address part of it changes. `None` if the packet is not one
/// this can rewrite (left untouched then). SCTP's checksum is left for
/// the caller to recompute.
pub(crate) fn rewrite4(
    pkt: &mut [u8],
    end: End,
    addr: [u8; 4],
    port: [u8; 2],
    partial: bool,
) -> Option<()> {
    let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
    let protocol = *pkt.get(9)?;
    let check_at = ihl + check_offset(protocol)?;
    if ihl < IPV4_HDRLEN || pkt.len() < ihl + transport_header_len(protocol)? {
        return None;
    }
    let (addr_at, port_at) = match end {
        End::Source => (12, ihl),
        End::Destination => (16, ihl + 2),
    };
    // IP header: only the address is covered.
    let ip_check = csum::update(get16(pkt, 10), &pkt[addr_at..addr_at + 4], &addr);
    put16(pkt, 10, ip_check);
    replace(
        pkt,
        protocol,
        check_at,
        (addr_at, &addr),
        (port_at, port),
        partial,
    );
    Some(())
}

/// Writes `addr` and `port` at their offsets and updates the transport
/// checksum at `check_at` for the change (from the old bytes in place,
/// the address and then the port: the same sum as over both at once).
fn replace(
    pkt: &mut [u8],
    protocol: u8,
    check_at: usize,
    (addr_at, addr): (usize, &[u8]),
    (port_at, port): (usize, [u8; 2]),
    partial: bool,
) {
    let n = addr.len();
    // SCTP: CRC32c over the whole packet, which the caller recomputes.
    if protocol != SCTP {
        let check = get16(pkt, check_at);
        let old_addr = &pkt[addr_at..addr_at + n];
        let updated = if partial {
            // The pseudo-header has the addresses, not the ports.
            Some(csum::update_partial(check, old_addr, addr))
        } else if protocol == UDP && check == 0 {
            // No UDP checksum (IPv4 only): leave it absent.
            None
        } else {
            let c = csum::update(check, old_addr, addr);
            let c = csum::update(c, &pkt[port_at..port_at + 2], &port);
            Some(if protocol == UDP {
                csum::udp_mangled(c)
            } else {
                c
            })
        };
        if let Some(c) = updated {
            put16(pkt, check_at, c);
        }
    }
    pkt[addr_at..addr_at + n].copy_from_slice(addr);
    pkt[port_at..port_at + 2].copy_from_slice(&port);
}

/// Rewrites the address and port at `end` of an IPv6 TCP, UDP or SCTP
/// packet of `protocol` whose transport header starts at `l4` (after any
/// extension headers; `pkt` holds all of them and the transport header)
/// and updates the transport checksum, as [`rewrite4`] does.
pub(crate) fn rewrite6(
    pkt: &mut [u8],
    (protocol, l4): (u8, usize),
    end: End,
    addr: &[u8; 16],
    port: [u8; 2],
    partial: bool,
) -> Option<()> {
    let check_at = l4 + check_offset(protocol)?;
    if l4 < IPV6_HDRLEN
        || pkt.first()? >> 4 != 6
        || pkt.len() < l4 + transport_header_len(protocol)?
    {
        return None;
    }
    let (addr_at, port_at) = match end {
        End::Source => (8, l4),
        End::Destination => (24, l4 + 2),
    };
    replace(
        pkt,
        protocol,
        check_at,
        (addr_at, addr),
        (port_at, port),
        partial,
    );
    Some(())
}

/// `IPPROTO_ESP`.
pub(crate) const ESP: u8 = 50;
/// `IPPROTO_AH`.
pub(crate) const AH: u8 = 51;

/// Rewrites only the address at `end` of an IPv4 or IPv6 packet
/// (`pkt` holds at least its fixed header), for protocols NAT has no
/// transport handler for (stock's AH and ESP: `dnat_handler` and
/// `snat_handler` are `NULL`). IPv4's header checksum follows; nothing
/// else is covered (AH's ICV does cover the addresses: as on stock, NAT
/// breaks AH). `None` if `pkt` is not such a header.
pub(crate) fn readdress(pkt: &mut [u8], end: End, addr: &[u8; 16]) -> Option<()> {
    match pkt.first()? >> 4 {
        4 => {
            let ihl = usize::from(pkt[0] & 0x0f) * 4;
            if ihl < IPV4_HDRLEN || pkt.len() < ihl {
                return None;
            }
            let at = if end == End::Source { 12 } else { 16 };
            let new = &addr[..4];
            let check = csum::update(get16(pkt, 10), &pkt[at..at + 4], new);
            put16(pkt, 10, check);
            pkt[at..at + 4].copy_from_slice(new);
        }
        6 => {
            if pkt.len() < IPV6_HDRLEN {
                return None;
            }
            let at = if end == End::Source { 8 } else { 24 };
            pkt[at..at + 16].copy_from_slice(addr);
        }
        _ => return None,
    }
    Some(())
}

/// `IPPROTO_ICMP`.
pub(crate) const ICMP: u8 = 1;
/// `IPPROTO_ICMPV6`.
pub(crate) const ICMPV6: u8 = 58;

/// What an ICMP error says about the packet it quotes. IPv4 addresses
/// take the first four bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IcmpError {
    /// Protocol of the quoted packet.
    pub(crate) protocol: u8,
    /// Quoted source address.
    pub(crate) saddr: [u8; 16],
    /// Quoted source port.
    pub(crate) sport: [u8; 2],
    /// Quoted destination address.
    pub(crate) daddr: [u8; 16],
    /// Quoted destination port.
    pub(crate) dport: [u8; 2],
    /// The quoted packet is AH or ESP: the fields above are those of
    /// the IKE flow it follows (UDP, port 500 both ways), as stock's
    /// handlers for them look it up; it never starts a connection.
    pub(crate) ipsec: bool,
}

/// The IKE port (`PORT_ISAKMP`), which AH and ESP follow.
pub(crate) const IKE_PORT: [u8; 2] = 500u16.to_be_bytes();

/// Where the parts of an ICMP error start in the datagram.
struct IcmpLayout {
    /// The ICMP header.
    icmp: usize,
    /// The quoted IP header.
    inner: usize,
    /// The quoted transport header (its ports).
    ports: usize,
    /// The quoted packet's transport protocol.
    protocol: u8,
}

impl IcmpLayout {
    /// Whether the quoted packet is AH or ESP.
    fn ipsec(&self) -> bool {
        matches!(self.protocol, AH | ESP)
    }

    /// The quoted packet's addresses (of `n` bytes, at `saddr_at` after
    /// its IP header) and ports.
    fn error(&self, pkt: &[u8], n: usize, saddr_at: usize) -> Option<IcmpError> {
        let (protocol, sport, dport, ipsec) = match self.protocol {
            TCP | UDP | SCTP => (
                self.protocol,
                [pkt[self.ports], pkt[self.ports + 1]],
                [pkt[self.ports + 2], pkt[self.ports + 3]],
                false,
            ),
            AH | ESP => (UDP, IKE_PORT, IKE_PORT, true),
            _ => return None,
        };
        let (s, d) = (self.inner + saddr_at, self.inner + saddr_at + n);
        let mut e = IcmpError {
            protocol,
            saddr: [0; 16],
            sport,
            daddr: [0; 16],
            dport,
            ipsec,
        };
        e.saddr[..n].copy_from_slice(&pkt[s..s + n]);
        e.daddr[..n].copy_from_slice(&pkt[d..d + n]);
        Some(e)
    }
}

/// The layout of an ICMPv4 error; `None` if it is too short to quote the
/// ports.
fn icmp4_layout(pkt: &[u8]) -> Option<IcmpLayout> {
    let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
    let inner = ihl + 8;
    let inner_ihl = usize::from(*pkt.get(inner)? & 0x0f) * 4;
    if ihl < IPV4_HDRLEN || inner_ihl < IPV4_HDRLEN || pkt[inner] >> 4 != 4 {
        return None;
    }
    let ports = inner + inner_ihl;
    (pkt.len() >= ports + 4).then_some(IcmpLayout {
        icmp: ihl,
        inner,
        ports,
        protocol: *pkt.get(inner + 9)?,
    })
}

/// Parses an ICMPv4 error (destination unreachable, source quench, time
/// exceeded) quoting a TCP, UDP, SCTP, AH or ESP packet, as
/// `ip_vs_in_icmp` and `ip_vs_out_icmp` accept. `pkt` is the whole
/// datagram.
pub(crate) fn icmp4_error(pkt: &[u8]) -> Option<IcmpError> {
    if *pkt.get(9)? != ICMP {
        return None;
    }
    let at = icmp4_layout(pkt)?;
    if !matches!(pkt[at.icmp], 3 | 4 | 11) {
        return None;
    }
    at.error(pkt, 4, 12)
}

/// NAT of an ICMPv4 error about a connection (`ip_vs_nat_icmp`). Going to
/// the client (`outward`), the error and the packet it quotes come from
/// the virtual address and port; going to the real server, they are
/// addressed to it. Recomputes both IP checksums and the ICMP checksum
/// (the quoted transport checksum stays, as in stock). `pkt` is the whole
/// datagram.
pub(crate) fn icmp4_nat(pkt: &mut [u8], outward: bool, addr: [u8; 4], port: [u8; 2]) -> Option<()> {
    let at = icmp4_layout(pkt)?;
    let (outer_at, inner_at, port_at) = if outward {
        (12, at.inner + 16, at.ports + 2)
    } else {
        (16, at.inner + 12, at.ports)
    };
    pkt[outer_at..outer_at + 4].copy_from_slice(&addr);
    pkt[inner_at..inner_at + 4].copy_from_slice(&addr);
    // AH and ESP have no ports (the SPI is there).
    if !at.ipsec() {
        pkt[port_at..port_at + 2].copy_from_slice(&port);
    }
    set_ipv4_checksum(&mut pkt[at.inner..at.ports]);
    set_ipv4_checksum(pkt);
    put16(pkt, at.icmp + 2, 0);
    let c = csum::checksum(&pkt[at.icmp..]);
    put16(pkt, at.icmp + 2, c);
    Some(())
}

/// The upper layer of the IPv6 packet at the start of `pkt`.
fn ipv6_upper_layer(pkt: &[u8]) -> Option<(u8, usize)> {
    if pkt.first()? >> 4 != 6 {
        return None;
    }
    packet::ipv6_upper_layer(*pkt.get(6)?, |at| pkt.get(at..at + 8)?.try_into().ok())
}

/// The layout of an ICMPv6 error; `None` if it is none, or too short to
/// quote the ports.
fn icmp6_layout(pkt: &[u8]) -> Option<IcmpLayout> {
    let (ICMPV6, icmp) = ipv6_upper_layer(pkt)? else {
        return None;
    };
    // Types below 128 are errors (RFC 4443).
    if *pkt.get(icmp)? >= 128 {
        return None;
    }
    let inner = icmp + 8;
    let (protocol, l4) = ipv6_upper_layer(pkt.get(inner..)?)?;
    let ports = inner + l4;
    (pkt.len() >= ports + 4).then_some(IcmpLayout {
        icmp,
        inner,
        ports,
        protocol,
    })
}

/// Parses an ICMPv6 error quoting a TCP, UDP, SCTP or ESP packet, as
/// `ip_vs_in_icmp_v6` and `ip_vs_out_icmp_v6` accept. `pkt` is the whole
/// datagram.
pub(crate) fn icmp6_error(pkt: &[u8]) -> Option<IcmpError> {
    icmp6_layout(pkt)?.error(pkt, 16, 8)
}

/// NAT of an ICMPv6 error about a connection (`ip_vs_nat_icmp_v6`), as
/// [`icmp4_nat`]; the ICMPv6 checksum covers the new addresses.
pub(crate) fn icmp6_nat(
    pkt: &mut [u8],
    outward: bool,
    addr: &[u8; 16],
    port: [u8; 2],
) -> Option<()> {
    let at = icmp6_layout(pkt)?;
    let (outer_at, inner_at, port_at) = if outward {
        (8, at.inner + 24, at.ports + 2)
    } else {
        (24, at.inner + 8, at.ports)
    };
    pkt[outer_at..outer_at + 16].copy_from_slice(addr);
    pkt[inner_at..inner_at + 16].copy_from_slice(addr);
    if !at.ipsec() {
        pkt[port_at..port_at + 2].copy_from_slice(&port);
    }
    put16(pkt, at.icmp + 2, 0);
    let (src, dst) = (pkt[8..24].try_into().ok()?, pkt[24..40].try_into().ok()?);
    let c = csum::checksum6(&src, &dst, ICMPV6, &pkt[at.icmp..]);
    put16(pkt, at.icmp + 2, c);
    Some(())
}

/// `IPPROTO_IPIP`.
pub(crate) const IPIP: u8 = 4;
/// `IPPROTO_GRE`.
#[cfg(test)]
const GRE: u8 = 47;

/// The outer IPv4 header of a tunnel of `protocol` ([`IPIP`], GRE, UDP)
/// around `inner_len` bytes, with identification and checksum zero: the
/// kernel picks the identification, then [`set_ipv4_checksum`] finishes
/// it.
pub(crate) fn ipip_header(
    protocol: u8,
    tos: u8,
    ttl: u8,
    dont_fragment: bool,
    inner_len: usize,
    saddr: [u8; 4],
    daddr: [u8; 4],
) -> Option<[u8; IPV4_HDRLEN]> {
    let total = u16::try_from(inner_len.checked_add(IPV4_HDRLEN)?).ok()?;
    let mut h = [0u8; IPV4_HDRLEN];
    h[0] = 0x45;
    h[1] = tos;
    put16(&mut h, 2, total);
    put16(&mut h, 6, if dont_fragment { 0x4000 } else { 0 });
    h[8] = ttl;
    h[9] = protocol;
    h[12..16].copy_from_slice(&saddr);
    h[16..20].copy_from_slice(&daddr);
    Some(h)
}

/// `IPPROTO_IPV6`: IPv6 inside a tunnel (in IPv6, or in IPv4: 6-in-4).
pub(crate) const IPV6_IN_IP: u8 = 41;

/// Bytes of a packet's start that [`dsfield_ttl`] reads.
pub(crate) const DSFIELD_TTL_LEN: usize = 10;

/// The DS field (IPv4 TOS, IPv6 traffic class) and TTL (hop limit) of
/// the IPv4 or IPv6 header that starts `h`: what a tunnel's outer header
/// carries over (stock's `ip_vs_prepare_tunneled_skb`).
pub(crate) fn dsfield_ttl(h: &[u8; DSFIELD_TTL_LEN]) -> Option<(u8, u8)> {
    match h[0] >> 4 {
        4 => Some((h[1], h[8])),
        // The traffic class straddles the first two bytes.
        6 => Some((h[0] << 4 | h[1] >> 4, h[7])),
        _ => None,
    }
}

/// The outer IPv6 header of a tunnel around an inner packet of
/// `inner_len` bytes whose `next` protocol is IPv6 or IPv4 (stock's
/// `ip_vs_tunnel_xmit_v6`): traffic class `tclass` and hop limit carried
/// over, no flow label.
pub(crate) fn ipv6_tunnel_header(
    (tclass, hop_limit): (u8, u8),
    next: u8,
    inner_len: usize,
    saddr: &[u8; 16],
    daddr: &[u8; 16],
) -> Option<[u8; IPV6_HDRLEN]> {
    let payload = u16::try_from(inner_len).ok()?;
    let mut h = [0u8; IPV6_HDRLEN];
    h[0] = 0x60 | tclass >> 4;
    h[1] = tclass << 4;
    put16(&mut h, 4, payload);
    h[6] = next;
    h[7] = hop_limit;
    h[8..24].copy_from_slice(saddr);
    h[24..40].copy_from_slice(daddr);
    Some(h)
}

/// Computes and stores the IPv4 header checksum of `hdr`.
pub(crate) fn set_ipv4_checksum(hdr: &mut [u8]) {
    let ihl = usize::from(hdr[0] & 0x0f) * 4;
    put16(hdr, 10, 0);
    let c = csum::checksum(&hdr[..ihl.min(hdr.len())]);
    put16(hdr, 10, c);
}

/// Where a packet's remaining hops are: the IPv4 TTL, the IPv6 hop limit.
pub(crate) fn ttl_offset(ipv6: bool) -> usize {
    if ipv6 {
        7
    } else {
        8
    }
}

/// Takes one hop from the header in `b` (as `ip_decrease_ttl`, the
/// IPv4 checksum updated incrementally; IPv6 has none). The caller has
/// checked that more than one is left.
pub(crate) fn decrease_ttl(b: &mut [u8], ipv6: bool) {
    let at = ttl_offset(ipv6);
    b[at] = b[at].wrapping_sub(1);
    if !ipv6 {
        // The word holding the TTL fell by 0x0100: the checksum rises
        // by as much, with the end-around carry.
        let c = u32::from(get16(b, 10)) + 0x0100;
        put16(b, 10, (c + (c >> 16)) as u16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_decrease_keeps_the_checksum_valid() {
        for ttl in 2..=255u8 {
            for id in [0u16, 0x1234, 0xfeff, 0xffff] {
                let mut h = [0u8; 20];
                h[0] = 0x45;
                h[2..4].copy_from_slice(&60u16.to_be_bytes());
                h[4..6].copy_from_slice(&id.to_be_bytes());
                h[8] = ttl;
                h[9] = UDP;
                h[12..16].copy_from_slice(&[10, 0, 0, 2]);
                h[16..20].copy_from_slice(&[10, 0, 0, 100]);
                set_ipv4_checksum(&mut h);
                decrease_ttl(&mut h, false);
                assert_eq!(h[8], ttl - 1);
                // A valid header sums to zero (either representation).
                assert_eq!(csum::checksum(&h), 0, "ttl {ttl} id {id:#x}");
            }
        }
        let mut h6 = [0u8; 40];
        h6[0] = 0x60;
        h6[7] = 2;
        decrease_ttl(&mut h6, true);
        assert_eq!(h6[7], 1);
        assert_eq!(h6[..7], [0x60, 0, 0, 0, 0, 0, 0]);
    }

    /// Full TCP/UDP checksum over the IPv4 pseudo-header and segment.
    fn l4_checksum(pkt: &[u8]) -> u16 {
        let ihl = usize::from(pkt[0] & 0x0f) * 4;
        let seg = &pkt[ihl..];
        let mut buf = Vec::new();
        buf.extend_from_slice(&pkt[12..20]);
        buf.extend_from_slice(&[0, pkt[9]]);
        buf.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        buf.extend_from_slice(seg);
        csum::checksum(&buf)
    }

    fn packet(protocol: u8) -> Vec<u8> {
        let payload = b"hello, real server";
        let l4 = transport_header_len(protocol).unwrap();
        let total = 20 + l4 + payload.len();
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        put16(&mut p, 2, total as u16);
        p[8] = 64;
        p[9] = protocol;
        p[12..16].copy_from_slice(&[10, 0, 0, 2]);
        p[16..20].copy_from_slice(&[207, 175, 44, 110]);
        put16(&mut p, 20, 50000);
        put16(&mut p, 22, 8080);
        match protocol {
            TCP => {
                p[32] = 0x50;
                p[33] = 0x18;
            }
            UDP => put16(&mut p, 24, (8 + payload.len()) as u16),
            _ => {}
        }
        p[20 + l4..].copy_from_slice(payload);
        set_ipv4_checksum(&mut p);
        if protocol == SCTP {
            // A CRC32c stand-in: NAT must leave it for its caller.
            p[28..32].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
            return p;
        }
        let at = 20 + check_offset(protocol).unwrap();
        let c = l4_checksum(&p);
        put16(&mut p, at, c);
        assert_eq!(l4_checksum(&p), 0);
        p
    }

    #[test]
    fn esp_and_ah_are_readdressed_only() {
        let payload = [0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 0xaa, 0xbb];
        let mut p = vec![0u8; 20 + payload.len()];
        p[0] = 0x45;
        let len = p.len() as u16;
        put16(&mut p, 2, len);
        p[8] = 64;
        p[9] = ESP;
        p[12..16].copy_from_slice(&[10, 0, 0, 2]);
        p[16..20].copy_from_slice(&[10, 0, 0, 100]);
        p[20..].copy_from_slice(&payload);
        set_ipv4_checksum(&mut p);
        let mut rs = [0u8; 16];
        rs[..4].copy_from_slice(&[192, 168, 1, 12]);
        readdress(&mut p, End::Destination, &rs).unwrap();
        assert_eq!(p[16..20], [192, 168, 1, 12]);
        assert_eq!(p[12..16], [10, 0, 0, 2]);
        assert_eq!(csum::checksum(&p[..20]), 0);
        assert_eq!(p[20..], payload);
        let mut vip = [0u8; 16];
        vip[..4].copy_from_slice(&[10, 0, 0, 100]);
        readdress(&mut p, End::Source, &vip).unwrap();
        assert_eq!(p[12..16], [10, 0, 0, 100]);
        assert_eq!(csum::checksum(&p[..20]), 0);
        // With options.
        let mut o = vec![0u8; 24 + payload.len()];
        o[0] = 0x46;
        o[9] = AH;
        set_ipv4_checksum(&mut o[..24]);
        readdress(&mut o, End::Destination, &rs).unwrap();
        assert_eq!(csum::checksum(&o[..24]), 0);
        assert_eq!(o[16..20], [192, 168, 1, 12]);

        let mut p6 = vec![0u8; 40 + payload.len()];
        p6[0] = 0x60;
        p6[6] = ESP;
        p6[8..24].copy_from_slice(&[0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p6[40..].copy_from_slice(&payload);
        let rs6 = [0xfd, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
        readdress(&mut p6, End::Destination, &rs6).unwrap();
        assert_eq!(p6[24..40], rs6);
        assert_eq!(p6[8], 0xfd);
        assert_eq!(p6[40..], payload);

        // Not a header it can rewrite: untouched.
        let mut short = vec![0x45u8; 10];
        assert!(readdress(&mut short, End::Source, &vip).is_none());
        let mut bad = vec![0x44u8; 40];
        assert!(readdress(&mut bad, End::Source, &vip).is_none());
        assert!(readdress(&mut [0x60u8; 39], End::Source, &vip).is_none());
        assert!(readdress(&mut [], End::Source, &vip).is_none());
    }

    #[test]
    fn dnat_and_snat_keep_checksums_valid() {
        for proto in [TCP, UDP] {
            let mut p = packet(proto);
            rewrite4(
                &mut p,
                End::Destination,
                [172, 16, 0, 2],
                80u16.to_be_bytes(),
                false,
            )
            .unwrap();
            assert_eq!(&p[16..20], &[172, 16, 0, 2]);
            assert_eq!(get16(&p, 22), 80);
            assert_eq!(csum::checksum(&p[..20]), 0, "IP header checksum");
            assert_eq!(l4_checksum(&p), 0, "transport checksum, proto {proto}");
            rewrite4(
                &mut p,
                End::Source,
                [1, 2, 3, 4],
                1234u16.to_be_bytes(),
                false,
            )
            .unwrap();
            assert_eq!(&p[12..16], &[1, 2, 3, 4]);
            assert_eq!(get16(&p, 20), 1234);
            assert_eq!(csum::checksum(&p[..20]), 0);
            assert_eq!(l4_checksum(&p), 0);
        }
    }

    #[test]
    fn partial_checksum_tracks_the_pseudo_header() {
        // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum
        // (not complemented); the device adds the segment later.
        let mut p = packet(TCP);
        let pseudo = |p: &[u8]| {
            let mut b = Vec::new();
            b.extend_from_slice(&p[12..20]);
            b.extend_from_slice(&[0, TCP]);
            b.extend_from_slice(&((p.len() - 20) as u16).to_be_bytes());
            !csum::checksum(&b)
        };
        let at = 36;
        let ps = pseudo(&p);
        put16(&mut p, at, ps);
        rewrite4(
            &mut p,
            End::Destination,
            [172, 16, 0, 2],
            80u16.to_be_bytes(),
            true,
        )
        .unwrap();
        assert_eq!(get16(&p, at), pseudo(&p));
        assert_eq!(get16(&p, 22), 80);
    }

    #[test]
    fn udp_without_checksum_stays_without() {
        let mut p = packet(UDP);
        put16(&mut p, 26, 0);
        rewrite4(
            &mut p,
            End::Destination,
            [172, 16, 0, 2],
            53u16.to_be_bytes(),
            false,
        )
        .unwrap();
        assert_eq!(get16(&p, 26), 0);
    }

    #[test]
    fn refuses_what_it_cannot_rewrite() {
        let mut p = packet(TCP);
        p.truncate(30);
        let before = p.clone();
        assert!(rewrite4(&mut p, End::Destination, [1, 1, 1, 1], [0, 1], false).is_none());
        assert_eq!(p, before);
        let mut icmp = packet(UDP);
        icmp[9] = 1;
        assert!(rewrite4(&mut icmp, End::Destination, [1, 1, 1, 1], [0, 1], false).is_none());
    }

    #[test]
    fn sctp_ports_change_and_checksum_is_left() {
        let mut p = packet(SCTP);
        rewrite4(
            &mut p,
            End::Destination,
            [192, 168, 1, 11],
            9999u16.to_be_bytes(),
            false,
        )
        .unwrap();
        assert_eq!(&p[16..20], &[192, 168, 1, 11]);
        assert_eq!(get16(&p, 22), 9999);
        assert_eq!(get16(&p, 20), 50000);
        assert_eq!(&p[28..32], &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(csum::checksum(&p[..20]), 0);
        // Shorter than the common header: untouched.
        let mut short = p[..30].to_vec();
        let before = short.clone();
        assert!(rewrite4(&mut short, End::Source, [1, 1, 1, 1], [0, 1], false).is_none());
        assert_eq!(short, before);
    }

    const CLIENT6: [u8; 16] = [0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const VIP6: [u8; 16] = [0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    const RS6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11];

    /// An IPv6 TCP or UDP packet client:40000 -> VIP:80 with a valid
    /// checksum, after the extension headers `ext` (first next-header
    /// value, then the headers' bytes, whose last one must name `next`).
    fn packet6(proto: u8, ext: Option<(u8, &[u8])>) -> (Vec<u8>, usize) {
        let l4 = if proto == TCP { 20 } else { 8 };
        let payload = b"sixty-six";
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[6] = proto;
        p[7] = 64;
        p[8..24].copy_from_slice(&CLIENT6);
        p[24..40].copy_from_slice(&VIP6);
        if let Some((first, bytes)) = ext {
            p[6] = first;
            p.extend_from_slice(bytes);
        }
        let at = p.len();
        p.resize(at + l4 + payload.len(), 0);
        let payload_len = (p.len() - 40) as u16;
        put16(&mut p, 4, payload_len);
        put16(&mut p, at, 40000);
        put16(&mut p, at + 2, 80);
        if proto == TCP {
            p[at + 12] = 0x50;
        } else {
            put16(&mut p, at + 4, (8 + payload.len()) as u16);
        }
        p[at + l4..].copy_from_slice(payload);
        let c = l4_checksum6(&p, proto, at);
        put16(&mut p, at + check_offset(proto).unwrap(), c);
        assert_eq!(l4_checksum6(&p, proto, at), 0);
        (p, at)
    }

    /// IPv6 TCP/UDP checksum from scratch, of the segment at `at`.
    fn l4_checksum6(pkt: &[u8], proto: u8, at: usize) -> u16 {
        let (src, dst) = (
            pkt[8..24].try_into().unwrap(),
            pkt[24..40].try_into().unwrap(),
        );
        csum::checksum6(&src, &dst, proto, &pkt[at..])
    }

    #[test]
    fn ipv6_nat_keeps_checksums_valid() {
        // Hop-by-hop options (PadN) then destination options, 8 bytes each.
        let ext: &[u8] = &[60, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0];
        for (proto, ext) in [(TCP, None), (UDP, None), (UDP, Some((0, ext)))] {
            let (mut p, at) = packet6(proto, ext);
            assert_eq!(ipv6_upper_layer(&p), Some((proto, at)));
            let l4 = (proto, at);
            rewrite6(
                &mut p,
                l4,
                End::Destination,
                &RS6,
                8080u16.to_be_bytes(),
                false,
            )
            .unwrap();
            assert_eq!(&p[24..40], &RS6);
            assert_eq!(get16(&p, at + 2), 8080);
            assert_eq!(l4_checksum6(&p, proto, at), 0, "proto {proto}, at {at}");
            rewrite6(&mut p, l4, End::Source, &VIP6, 1u16.to_be_bytes(), false).unwrap();
            assert_eq!(&p[8..24], &VIP6);
            assert_eq!(get16(&p, at), 1);
            assert_eq!(l4_checksum6(&p, proto, at), 0);
        }
        // Not IPv6, or cut inside the transport header: untouched.
        let (mut p, _) = packet6(TCP, None);
        p.truncate(50);
        let before = p.clone();
        assert!(rewrite6(&mut p, (TCP, 40), End::Source, &RS6, [0, 1], false).is_none());
        assert_eq!(p, before);
    }

    /// ICMPv6 port unreachable from the real server about
    /// `client:40000 -> rs:8080` (UDP), behind optional extension headers.
    fn icmp6_unreachable(inner_ext: Option<(u8, &[u8])>) -> Vec<u8> {
        let (mut q, at) = packet6(UDP, inner_ext);
        q[24..40].copy_from_slice(&RS6);
        put16(&mut q, at + 2, 8080);
        let mut p = vec![0u8; 48];
        p[0] = 0x60;
        p[6] = ICMPV6;
        p[7] = 64;
        p[8..24].copy_from_slice(&RS6);
        p[24..40].copy_from_slice(&CLIENT6);
        p[40] = 1;
        p[41] = 4;
        p.extend_from_slice(&q);
        let payload_len = (p.len() - 40) as u16;
        put16(&mut p, 4, payload_len);
        let c = csum::checksum6(&RS6, &CLIENT6, ICMPV6, &p[40..]);
        put16(&mut p, 42, c);
        p
    }

    #[test]
    fn icmpv6_errors_are_parsed_and_translated() {
        let ext: &[u8] = &[17, 0, 1, 4, 0, 0, 0, 0];
        for inner_ext in [None, Some((60, ext))] {
            let mut p = icmp6_unreachable(inner_ext);
            let e = icmp6_error(&p).unwrap();
            assert_eq!((e.protocol, e.saddr, e.daddr), (UDP, CLIENT6, RS6));
            assert_eq!(
                (e.sport, e.dport),
                (40000u16.to_be_bytes(), 8080u16.to_be_bytes())
            );
            // To the client: from the virtual service.
            icmp6_nat(&mut p, true, &VIP6, 80u16.to_be_bytes()).unwrap();
            assert_eq!(&p[8..24], &VIP6);
            let e = icmp6_error(&p).unwrap();
            assert_eq!((e.daddr, e.dport), (VIP6, 80u16.to_be_bytes()));
            assert_eq!(csum::checksum6(&VIP6, &CLIENT6, ICMPV6, &p[40..]), 0);
            // And back to the real server (as for a client's error).
            icmp6_nat(&mut p, false, &RS6, 8080u16.to_be_bytes()).unwrap();
            assert_eq!(&p[24..40], &RS6);
            let e = icmp6_error(&p).unwrap();
            assert_eq!((e.saddr, e.sport), (RS6, 8080u16.to_be_bytes()));
            assert_eq!(csum::checksum6(&VIP6, &RS6, ICMPV6, &p[40..]), 0);
        }
        // Informational messages (echo request) and cut errors are not
        // errors about a connection.
        let mut echo = icmp6_unreachable(None);
        echo[40] = 128;
        assert!(icmp6_error(&echo).is_none());
        let p = icmp6_unreachable(None);
        assert!(icmp6_error(&p[..40 + 8 + 40 + 3]).is_none());
        assert!(icmp6_error(&p[..40 + 8 + 40 + 4]).is_some());
        assert!(icmp4_error(&p).is_none());
    }

    /// Port unreachable from a real server about `client:50000 -> rs:8080`.
    fn icmp_unreachable() -> Vec<u8> {
        let quoted = packet(UDP);
        let mut q = quoted.clone();
        q[16..20].copy_from_slice(&[172, 16, 0, 2]);
        set_ipv4_checksum(&mut q[..20]);
        let mut p = vec![0u8; 20 + 8 + 28];
        p[0] = 0x45;
        put16(&mut p, 2, 56);
        p[8] = 64;
        p[9] = ICMP;
        p[12..16].copy_from_slice(&[172, 16, 0, 2]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        p[20] = 3;
        p[21] = 3;
        p[28..].copy_from_slice(&q[..28]);
        set_ipv4_checksum(&mut p);
        let c = csum::checksum(&p[20..]);
        put16(&mut p, 22, c);
        p
    }

    #[test]
    fn icmp_errors_are_parsed_and_translated() {
        let mut p = icmp_unreachable();
        let e = icmp4_error(&p).unwrap();
        assert_eq!(e.protocol, UDP);
        assert_eq!(
            (&e.saddr[..4], &e.daddr[..4]),
            (&[10, 0, 0, 2][..], &[172, 16, 0, 2][..])
        );
        assert_eq!(e.saddr[4..], [0; 12]);
        assert_eq!(
            (e.sport, e.dport),
            (50000u16.to_be_bytes(), 8080u16.to_be_bytes())
        );
        // To the client: from the virtual service.
        icmp4_nat(&mut p, true, [207, 175, 44, 110], 80u16.to_be_bytes()).unwrap();
        assert_eq!(&p[12..16], &[207, 175, 44, 110]);
        let e = icmp4_error(&p).unwrap();
        assert_eq!(
            (&e.daddr[..4], e.dport),
            (&[207, 175, 44, 110][..], 80u16.to_be_bytes())
        );
        assert_eq!(csum::checksum(&p[..20]), 0, "outer IP");
        assert_eq!(csum::checksum(&p[28..48]), 0, "quoted IP");
        assert_eq!(csum::checksum(&p[20..]), 0, "ICMP");
        // Echo requests and truncated errors are not errors about us.
        let mut echo = icmp_unreachable();
        echo[20] = 8;
        assert!(icmp4_error(&echo).is_none());
        let short = &icmp_unreachable()[..50];
        assert!(icmp4_error(short).is_none());
    }

    #[test]
    fn icmp_errors_about_esp_follow_ike() {
        let mut p = icmp_unreachable();
        // The quoted packet is ESP: SPI 0x01020304 where ports were.
        p[28 + 9] = ESP;
        set_ipv4_checksum(&mut p[28..48]);
        p[48..52].copy_from_slice(&[1, 2, 3, 4]);
        let e = icmp4_error(&p).unwrap();
        assert!(e.ipsec);
        assert_eq!((e.protocol, e.sport, e.dport), (UDP, IKE_PORT, IKE_PORT));
        assert_eq!(&e.daddr[..4], &[172, 16, 0, 2]);
        // The addresses change, the SPI stays.
        icmp4_nat(&mut p, true, [207, 175, 44, 110], 80u16.to_be_bytes()).unwrap();
        assert_eq!(
            (&p[12..16], &p[44..48]),
            (&[207, 175, 44, 110][..], &[207, 175, 44, 110][..])
        );
        assert_eq!(&p[48..52], &[1, 2, 3, 4]);
        assert_eq!(csum::checksum(&p[28..48]), 0, "quoted IP");
        assert_eq!(csum::checksum(&p[20..]), 0, "ICMP");
        // Other protocols are no business of IPVS.
        p[28 + 9] = 47;
        assert!(icmp4_error(&p).is_none());
    }

    #[test]
    fn ip6ip6_header_wraps_the_packet() {
        let (p, _) = packet6(UDP, None);
        let mut inner: [u8; DSFIELD_TTL_LEN] = p[..DSFIELD_TTL_LEN].try_into().unwrap();
        // Traffic class 0xb8 (EF), flow label 0x12345.
        inner[0] = 0x6b;
        inner[1] = 0x81;
        inner[2] = 0x23;
        inner[3] = 0x45;
        let fields = dsfield_ttl(&inner).unwrap();
        assert_eq!(fields, (0xb8, 64));
        let h = ipv6_tunnel_header(fields, IPV6_IN_IP, p.len(), &VIP6, &RS6).unwrap();
        assert_eq!(h[0] >> 4, 6);
        assert_eq!((h[0] & 0x0f) << 4 | h[1] >> 4, 0xb8, "traffic class");
        assert_eq!((h[1] & 0x0f, h[2], h[3]), (0, 0, 0), "no flow label");
        assert_eq!(usize::from(get16(&h, 4)), p.len());
        assert_eq!((h[6], h[7]), (41, 64));
        assert_eq!((&h[8..24], &h[24..40]), (&VIP6[..], &RS6[..]));
        let mut whole = h.to_vec();
        whole.extend_from_slice(&p);
        assert_eq!(ipv6_upper_layer(&whole), Some((41, 40)));
        assert!(ipv6_tunnel_header(fields, IPV6_IN_IP, 70000, &VIP6, &RS6).is_none());

        // IPv4 inside IPv6 (4-in-6): TOS and TTL carry over.
        let v4 = packet(UDP);
        let mut first = [0u8; DSFIELD_TTL_LEN];
        first.copy_from_slice(&v4[..DSFIELD_TTL_LEN]);
        first[1] = 0x2e;
        let fields = dsfield_ttl(&first).unwrap();
        assert_eq!(fields, (0x2e, 64));
        let h = ipv6_tunnel_header(fields, IPIP, v4.len(), &VIP6, &RS6).unwrap();
        assert_eq!((h[0], h[1]), (0x62, 0xe0));
        assert_eq!((h[6], h[7]), (IPIP, 64));
        assert_eq!(usize::from(get16(&h, 4)), v4.len());
        assert!(dsfield_ttl(&[0x50; DSFIELD_TTL_LEN]).is_none());
    }

    #[test]
    fn ipip_header_is_valid() {
        let mut h =
            ipip_header(IPIP, 0x10, 63, true, 60, [172, 16, 0, 1], [172, 16, 0, 2]).unwrap();
        set_ipv4_checksum(&mut h);
        assert_eq!(csum::checksum(&h), 0);
        assert_eq!(get16(&h, 2), 80);
        assert_eq!(h[9], 4);
        assert_eq!(get16(&h, 6), 0x4000);
        assert!(ipip_header(IPIP, 0, 1, false, 70000, [0; 4], [0; 4]).is_none());
        // GRE: the caller counts the GRE header into the inner length.
        let h = ipip_header(GRE, 0, 64, false, 64, [10, 0, 0, 1], [10, 0, 0, 2]).unwrap();
        assert_eq!((h[9], get16(&h, 2)), (47, 84));
    }
}
