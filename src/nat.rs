// SPDX-License-Identifier: GPL-2.0

//! Packet rewriting for the forwarding methods: address and port
//! translation with incremental checksum updates (NAT), and the outer
//! header of the IPIP tunnel. Works on the bytes from the IPv4 header on;
//! pure code, host-tested.

use crate::csum;
use crate::packet::{IPV4_HDRLEN, IPV6_HDRLEN};

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
        _ => None,
    }
}

/// Offset of the checksum field in the transport header.
fn check_offset(protocol: u8) -> Option<usize> {
    match protocol {
        TCP => Some(16),
        UDP => Some(6),
        _ => None,
    }
}

fn get16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Rewrites the address and port at `end` of an IPv4 TCP or UDP packet
/// (`pkt` holds the IP header and at least the transport header) and
/// updates the IP and transport checksums. With `partial` the transport
/// checksum holds only the pseudo-header sum (`CHECKSUM_PARTIAL`), so
/// only the address part of it changes. `None` if the packet is not one
/// this can rewrite (left untouched then).
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
/// checksum at `check_at` for the change.
fn replace(
    pkt: &mut [u8],
    protocol: u8,
    check_at: usize,
    (addr_at, addr): (usize, &[u8]),
    (port_at, port): (usize, [u8; 2]),
    partial: bool,
) {
    let n = addr.len();
    let mut old = [0u8; 18];
    old[..n].copy_from_slice(&pkt[addr_at..addr_at + n]);
    old[n..n + 2].copy_from_slice(&pkt[port_at..port_at + 2]);
    let mut new = [0u8; 18];
    new[..n].copy_from_slice(addr);
    new[n..n + 2].copy_from_slice(&port);
    pkt[addr_at..addr_at + n].copy_from_slice(addr);
    pkt[port_at..port_at + 2].copy_from_slice(&port);

    let check = get16(pkt, check_at);
    let updated = if partial {
        // The pseudo-header has the addresses, not the ports.
        csum::update_partial(check, &old[..n], &new[..n])
    } else if protocol == UDP && check == 0 {
        // No UDP checksum (IPv4 only): leave it absent.
        return;
    } else {
        let c = csum::update(check, &old[..n + 2], &new[..n + 2]);
        if protocol == UDP {
            csum::udp_mangled(c)
        } else {
            c
        }
    };
    put16(pkt, check_at, updated);
}

/// Rewrites the address and port at `end` of an IPv6 TCP or UDP packet
/// whose transport header follows the fixed header (`pkt` holds both) and
/// updates the transport checksum, as [`rewrite4`] does.
pub(crate) fn rewrite6(
    pkt: &mut [u8],
    end: End,
    addr: &[u8; 16],
    port: [u8; 2],
    partial: bool,
) -> Option<()> {
    let protocol = *pkt.get(6)?;
    let l4 = IPV6_HDRLEN;
    let check_at = l4 + check_offset(protocol)?;
    if pkt.first()? >> 4 != 6 || pkt.len() < l4 + transport_header_len(protocol)? {
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

/// The outer IPv4 header of an IPIP tunnel around `inner` (`inner_len`
/// bytes), with identification and checksum zero: the kernel picks the
/// identification, then [`set_ipv4_checksum`] finishes it.
pub(crate) fn ipip_header(
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
    // IPPROTO_IPIP
    h[9] = 4;
    h[12..16].copy_from_slice(&saddr);
    h[16..20].copy_from_slice(&daddr);
    Some(h)
}

/// Computes and stores the IPv4 header checksum of `hdr`.
pub(crate) fn set_ipv4_checksum(hdr: &mut [u8]) {
    let ihl = usize::from(hdr[0] & 0x0f) * 4;
    put16(hdr, 10, 0);
    let c = csum::checksum(&hdr[..ihl.min(hdr.len())]);
    put16(hdr, 10, c);
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let l4 = if protocol == TCP { 20 } else { 8 };
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
        if protocol == TCP {
            p[32] = 0x50;
            p[33] = 0x18;
        } else {
            put16(&mut p, 24, (8 + payload.len()) as u16);
        }
        p[20 + l4..].copy_from_slice(payload);
        set_ipv4_checksum(&mut p);
        let at = 20 + check_offset(protocol).unwrap();
        let c = l4_checksum(&p);
        put16(&mut p, at, c);
        assert_eq!(l4_checksum(&p), 0);
        p
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

    /// IPv6 TCP/UDP checksum from scratch.
    fn l4_checksum6(pkt: &[u8]) -> u16 {
        let seg = &pkt[40..];
        let mut buf = Vec::new();
        buf.extend_from_slice(&pkt[8..40]);
        buf.extend_from_slice(&(seg.len() as u32).to_be_bytes());
        buf.extend_from_slice(&[0, 0, 0, pkt[6]]);
        buf.extend_from_slice(seg);
        csum::checksum(&buf)
    }

    #[test]
    fn ipv6_nat_keeps_checksums_valid() {
        for proto in [TCP, UDP] {
            let l4 = if proto == TCP { 20 } else { 8 };
            let payload = b"sixty-six";
            let mut p = vec![0u8; 40 + l4 + payload.len()];
            p[0] = 0x60;
            put16(&mut p, 4, (l4 + payload.len()) as u16);
            p[6] = proto;
            p[7] = 64;
            p[8..24].copy_from_slice(&[0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
            p[24..40].copy_from_slice(&[0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
            put16(&mut p, 40, 40000);
            put16(&mut p, 42, 80);
            if proto == TCP {
                p[52] = 0x50;
            } else {
                put16(&mut p, 44, (8 + payload.len()) as u16);
            }
            p[40 + l4..].copy_from_slice(payload);
            let at = 40 + check_offset(proto).unwrap();
            let c = l4_checksum6(&p);
            put16(&mut p, at, c);
            assert_eq!(l4_checksum6(&p), 0);
            let rs = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11];
            rewrite6(&mut p, End::Destination, &rs, 8080u16.to_be_bytes(), false).unwrap();
            assert_eq!(&p[24..40], &rs);
            assert_eq!(get16(&p, 42), 8080);
            assert_eq!(l4_checksum6(&p), 0, "proto {proto}");
            rewrite6(&mut p, End::Source, &rs, 1u16.to_be_bytes(), false).unwrap();
            assert_eq!(l4_checksum6(&p), 0);
        }
    }

    #[test]
    fn ipip_header_is_valid() {
        let mut h = ipip_header(0x10, 63, true, 60, [172, 16, 0, 1], [172, 16, 0, 2]).unwrap();
        set_ipv4_checksum(&mut h);
        assert_eq!(csum::checksum(&h), 0);
        assert_eq!(get16(&h, 2), 80);
        assert_eq!(h[9], 4);
        assert_eq!(get16(&h, 6), 0x4000);
        assert!(ipip_header(0, 1, false, 70000, [0; 4], [0; 4]).is_none());
    }
}
