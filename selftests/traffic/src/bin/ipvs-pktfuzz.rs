// SPDX-License-Identifier: GPL-2.0

//! A packet fuzzer for a director: Ethernet frames written straight to an
//! interface (`AF_PACKET`, so nothing in the sender's stack fixes them
//! up), each an IPv4 or IPv6 packet built towards a target and then
//! damaged: bad versions, header lengths and total lengths, fragments
//! (first, middle, last, overlapping, tiny), options and extension header
//! chains of any length, TCP, UDP, SCTP, ICMP and ICMPv6 (errors quoting
//! a packet of a connection, garbage or a cut header), AH, ESP, GRE and
//! IP-in-IP, headers cut short, lengths that lie, checksums right or not.
//!
//! `ipvs-pktfuzz IFNAME DSTMAC SRCMAC SRC4 SRC6 COUNT SEED TARGET...`:
//! sends COUNT frames from the seed (the same seed sends the same
//! frames) out of IFNAME to DSTMAC, from SRC4 / SRC6 (or, one in four,
//! from random addresses), each to one of the TARGETs (`ADDR:PORT`,
//! IPv4 or `[IPv6]:PORT`; port 0: any). With `IPVS_PKTFUZZ_SPORTS=P,Q...` most
//! source ports are one of those (replies of services' real servers).
//! Prints `sent=N`.

use ipvs_traffic::rng::Rng;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

const TCP: u8 = 6;
const UDP: u8 = 17;
const SCTP: u8 = 132;
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;
const AH: u8 = 51;
const ESP: u8 = 50;
const GRE: u8 = 47;
const IPIP: u8 = 4;
const IPV6IN: u8 = 41;

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    for c in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    if at + 2 <= b.len() {
        b[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
}

/// A transport header and payload for `proto` from `sport` to `dport`.
fn transport(r: &mut Rng, proto: u8, sport: u16, dport: u16) -> Vec<u8> {
    let n = *r.pick(&[0usize, 1, 4, 16, 64, 300]);
    let payload = r.bytes(n);
    let mut t = match proto {
        TCP => {
            let mut h = vec![0u8; 20];
            put16(&mut h, 0, sport);
            put16(&mut h, 2, dport);
            h[4..12].copy_from_slice(&r.bytes(8));
            // Data offset: mostly 5, sometimes short, long or with options.
            let doff = *r.pick(&[5u8, 5, 5, 0, 4, 6, 15]);
            h[12] = doff << 4;
            if doff > 5 {
                h.extend(r.bytes(usize::from(doff - 5) * 4));
            }
            h[13] = *r.pick(&[0x02u8, 0x10, 0x18, 0x11, 0x04, 0x12, 0x01, 0x3f, 0]);
            put16(&mut h, 14, 0xffff);
            h
        }
        UDP => {
            let mut h = vec![0u8; 8];
            put16(&mut h, 0, sport);
            put16(&mut h, 2, dport);
            h
        }
        SCTP => {
            let mut h = vec![0u8; 12];
            put16(&mut h, 0, sport);
            put16(&mut h, 2, dport);
            h[4..8].copy_from_slice(&r.bytes(4));
            // A chunk: INIT, DATA, ABORT, SHUTDOWN or garbage, its length
            // true or not.
            let kind = *r.pick(&[1u8, 0, 6, 7, 3, 255]);
            let len = *r.pick(&[4u16, 20, 16, 0, 3, 1000]);
            h.extend([kind, 0]);
            h.extend(len.to_be_bytes());
            let n = *r.pick(&[0usize, 12, 16]);
            h.extend(r.bytes(n));
            h
        }
        AH => {
            let mut h = vec![
                *r.pick(&[TCP, UDP, 59, 0]),
                *r.pick(&[4u8, 0, 1, 255]),
                0,
                0,
            ];
            h.extend(r.bytes(20));
            h
        }
        _ => r.bytes(8),
    };
    t.extend(payload);
    if proto == UDP {
        let len = t.len() as u16;
        let lie = match r.below(10) {
            0 => r.next_u64() as u16,
            1 => len.saturating_sub(1),
            2 => 0,
            _ => len,
        };
        put16(&mut t, 4, lie);
    }
    t
}

/// The checksum field's offset in a transport header of `proto`.
fn check_at(proto: u8) -> Option<usize> {
    match proto {
        TCP => Some(16),
        UDP => Some(6),
        ICMP | ICMPV6 => Some(2),
        _ => None,
    }
}

/// Fills in the transport checksum (right, mostly) over the pseudo
/// header of `src`, `dst`.
fn checksum(r: &mut Rng, t: &mut [u8], proto: u8, src: &[u8], dst: &[u8]) {
    let Some(at) = check_at(proto) else {
        if proto == SCTP && t.len() >= 12 && r.pct(50) {
            // Not CRC32c: SCTP is mostly dropped for its checksum then.
            t[8..12].copy_from_slice(&r.bytes(4));
        }
        return;
    };
    if at + 2 > t.len() {
        return;
    }
    put16(t, at, 0);
    let mut acc = if proto == ICMP {
        0
    } else {
        let mut a = sum16(src, 0);
        a = sum16(dst, a);
        a + u32::from(proto) + t.len() as u32
    };
    acc = sum16(t, acc);
    let mut c = fold(acc);
    if r.pct(8) {
        c = r.next_u64() as u16;
    }
    put16(t, at, c);
}

/// An IPv4 header with `proto`, `payload_len` and `src`, `dst`.
fn ipv4_header(r: &mut Rng, proto: u8, src: [u8; 4], dst: [u8; 4], payload_len: usize) -> Vec<u8> {
    let mut h = vec![0u8; 20];
    h[0] = 0x45;
    if r.pct(5) {
        // Options: garbage, a NOP run, or a length that lies.
        let n = *r.pick(&[4usize, 8, 40]);
        let mut o = r.bytes(n);
        if r.pct(50) {
            o.fill(1);
        }
        h.extend(o);
        h[0] = 0x40 | (h.len() / 4) as u8;
    }
    let total = h.len() + payload_len;
    put16(&mut h, 2, total as u16);
    put16(&mut h, 4, r.next_u64() as u16);
    h[8] = *r.pick(&[64u8, 64, 64, 1, 0, 2]);
    h[9] = proto;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    h
}

fn ipv4_finish(r: &mut Rng, h: &mut [u8]) {
    put16(h, 10, 0);
    let hl = (usize::from(h[0] & 0xf) * 4).clamp(20, h.len());
    let mut c = fold(sum16(&h[..hl], 0));
    if r.pct(3) {
        c = r.next_u64() as u16;
    }
    put16(h, 10, c);
}

/// An ICMP(v6) error quoting a packet of the flow `quoted` (mostly a
/// real-looking one, sometimes garbage or cut).
fn icmp_error(r: &mut Rng, v6: bool, quoted: Vec<u8>) -> Vec<u8> {
    let (kind, code) = if v6 {
        *r.pick(&[(1u8, 4u8), (2, 0), (3, 0), (4, 1), (1, 0), (128, 0)])
    } else {
        *r.pick(&[(3u8, 3u8), (3, 4), (11, 0), (12, 0), (3, 1), (8, 0), (5, 1)])
    };
    let mut m = vec![kind, code, 0, 0];
    m.extend(if kind == 3 && code == 4 || kind == 2 {
        [0u8, 0, 0x05, 0x78]
    } else {
        [0u8; 4]
    });
    let q = match r.below(10) {
        0 => {
            let n = r.below(60);
            r.bytes(n)
        }
        1 => quoted[..r.below(quoted.len() + 1)].to_vec(),
        _ => quoted,
    };
    m.extend(q);
    m
}

/// One IPv4 packet to `dst`:`dport` (or its reply path: `sport` is the
/// service port then).
fn packet4(r: &mut Rng, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let proto = *r.pick(&[
        TCP, TCP, UDP, UDP, SCTP, ICMP, ICMP, AH, ESP, GRE, IPIP, 200,
    ]);
    let mut payload = if proto == ICMP {
        // The quoted packet goes the other way.
        let inner_proto = *r.pick(&[TCP, UDP, SCTP]);
        let t = transport(r, inner_proto, dport, sport);
        let mut q = ipv4_header(r, inner_proto, dst, src, t.len());
        ipv4_finish(r, &mut q);
        if r.pct(10) {
            q[0] = *r.pick(&[0x44u8, 0x4f, 0x65, 0x46]);
        }
        q.extend(&t[..t.len().min(8 + r.below(t.len()))]);
        icmp_error(r, false, q)
    } else if proto == IPIP {
        let t = transport(r, UDP, sport, dport);
        let mut q = ipv4_header(r, UDP, src, dst, t.len());
        ipv4_finish(r, &mut q);
        q.extend(t);
        q
    } else {
        transport(r, proto, sport, dport)
    };
    checksum(r, &mut payload, proto, &src, &dst);
    let mut h = ipv4_header(r, proto, src, dst, payload.len());
    // Fragments: first, middle, last, tiny, overlapping.
    if r.pct(12) {
        let (mf, off) = *r.pick(&[
            (true, 0u16),
            (true, 8),
            (false, 8),
            (false, 0x1fff),
            (true, 1),
        ]);
        let cut = (*r.pick(&[8usize, 16, 1])).min(payload.len());
        if off != 0 {
            payload.drain(..cut);
        }
        put16(&mut h, 6, (u16::from(mf) << 13) | off);
        if r.pct(30) {
            payload.truncate(payload.len() / 2);
        }
        let total = (h.len() + payload.len()) as u16;
        put16(&mut h, 2, total);
    }
    // Lengths and versions that lie.
    match r.below(30) {
        0 => put16(&mut h, 2, r.next_u64() as u16),
        1 => {
            let total = (h.len() + payload.len() + 1 + r.below(100)) as u16;
            put16(&mut h, 2, total)
        }
        2 => h[0] = 0x40 | *r.pick(&[0u8, 4, 15]),
        3 => h[0] = (*r.pick(&[0u8, 5, 6, 15]) << 4) | 5,
        4 => payload.truncate(r.below(payload.len() + 1)),
        _ => {}
    }
    ipv4_finish(r, &mut h);
    h.extend(payload);
    h
}

/// One IPv6 packet to `dst`:`dport`, with extension headers sometimes.
fn packet6(r: &mut Rng, src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16) -> Vec<u8> {
    let proto = *r.pick(&[
        TCP, TCP, UDP, UDP, SCTP, ICMPV6, ICMPV6, AH, ESP, IPV6IN, 200,
    ]);
    let mut payload = if proto == ICMPV6 {
        let inner_proto = *r.pick(&[TCP, UDP, SCTP]);
        let t = transport(r, inner_proto, dport, sport);
        let mut q = vec![0x60, 0, 0, 0];
        q.extend((t.len() as u16).to_be_bytes());
        q.extend([inner_proto, 64]);
        q.extend(dst);
        q.extend(src);
        q.extend(&t[..t.len().min(8 + r.below(t.len()))]);
        icmp_error(r, true, q)
    } else if proto == IPV6IN {
        let t = transport(r, UDP, sport, dport);
        let mut q = vec![0x60, 0, 0, 0];
        q.extend((t.len() as u16).to_be_bytes());
        q.extend([UDP, 64]);
        q.extend(src);
        q.extend(dst);
        q.extend(t);
        q
    } else {
        transport(r, proto, sport, dport)
    };
    checksum(r, &mut payload, proto, &src, &dst);
    // Extension headers before the transport: hop-by-hop, destination
    // options, routing, fragment; their lengths true or not.
    let mut next = proto;
    let mut ext = Vec::new();
    if r.pct(25) {
        for _ in 0..1 + r.below(4) {
            let kind = *r.pick(&[0u8, 60, 43, 44, 60]);
            let mut e = if kind == 44 {
                let (mf, off) = *r.pick(&[(1u16, 0u16), (1, 1), (0, 1), (0, 0)]);
                let mut f = vec![next, 0];
                f.extend(((off << 3) | mf).to_be_bytes());
                f.extend(r.bytes(4));
                f
            } else {
                let units = *r.pick(&[0u8, 0, 1, 2, 200]);
                let mut o = vec![next, units];
                o.extend(vec![1u8; 6]);
                o.extend(r.bytes(usize::from(units.min(3)) * 8));
                if kind == 43 && o.len() >= 4 {
                    o[2] = *r.pick(&[0u8, 2, 4]);
                    o[3] = *r.pick(&[0u8, 1]);
                }
                o
            };
            if r.pct(5) {
                e.truncate(r.below(e.len()));
            }
            e.extend(ext);
            ext = e;
            next = kind;
        }
    }
    let mut h = vec![0x60, 0, 0, 0];
    let mut plen = (ext.len() + payload.len()) as u16;
    match r.below(25) {
        0 => plen = r.next_u64() as u16,
        1 => plen += 1 + r.below(64) as u16,
        2 => h[0] = *r.pick(&[0x40u8, 0x70, 0x00]),
        3 => payload.truncate(r.below(payload.len() + 1)),
        _ => {}
    }
    h.extend(plen.to_be_bytes());
    h.extend([next, *r.pick(&[64u8, 64, 1, 0])]);
    h.extend(src);
    h.extend(dst);
    h.extend(ext);
    h.extend(payload);
    h
}

fn mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|x| u8::from_str_radix(x, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    v.try_into().ok()
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = (|| {
        let ifname = args.first()?.clone();
        let dmac = mac(args.get(1)?)?;
        let smac = mac(args.get(2)?)?;
        let src4: std::net::Ipv4Addr = args.get(3)?.parse().ok()?;
        let src6: std::net::Ipv6Addr = args.get(4)?.parse().ok()?;
        let count: u64 = args.get(5)?.parse().ok()?;
        let seed: u64 = args.get(6)?.parse().ok()?;
        let targets: Vec<SocketAddr> = args[7..]
            .iter()
            .map(|a| a.parse().ok())
            .collect::<Option<_>>()?;
        (!targets.is_empty()).then_some((ifname, dmac, smac, src4, src6, count, seed, targets))
    })();
    let Some((ifname, dmac, smac, src4, src6, count, seed, targets)) = parsed else {
        eprintln!("usage: ipvs-pktfuzz IFNAME DSTMAC SRCMAC SRC4 SRC6 COUNT SEED ADDR:PORT...");
        return std::process::ExitCode::from(2);
    };
    let (fd, mut sa) = match ipvs_traffic::packet_socket::open(&ifname, 0) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    sa.sll_halen = 6;
    sa.sll_addr[..6].copy_from_slice(&dmac);
    // Source ports to use mostly (the reply path: the services' ports).
    let sports: Vec<u16> = std::env::var("IPVS_PKTFUZZ_SPORTS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|p| p.parse().ok())
        .collect();
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut sent = 0u64;
    for _ in 0..count {
        let to = targets[r.below(targets.len())];
        let sport = match (sports.is_empty(), r.below(100)) {
            (false, 0..=84) => sports[r.below(sports.len())],
            (_, 0..=69) => 1024 + r.below(64) as u16,
            _ => r.next_u64() as u16,
        };
        let dport = if to.port() != 0 && r.pct(85) {
            to.port()
        } else {
            r.next_u64() as u16
        };
        let (ethertype, pkt) = match to.ip() {
            IpAddr::V4(d) => {
                let s = if r.pct(75) {
                    src4.octets()
                } else {
                    (r.next_u64() as u32).to_be_bytes()
                };
                (0x0800u16, packet4(&mut r, s, d.octets(), sport, dport))
            }
            IpAddr::V6(d) => {
                let mut s = src6.octets();
                if r.pct(25) {
                    s[8..].copy_from_slice(&r.bytes(8));
                }
                (0x86ddu16, packet6(&mut r, s, d.octets(), sport, dport))
            }
        };
        let mut frame = Vec::with_capacity(14 + pkt.len());
        frame.extend(dmac);
        frame.extend(smac);
        frame.extend(ethertype.to_be_bytes());
        frame.extend(pkt);
        // SAFETY: `frame` and `sa` live through the call.
        let n = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                std::ptr::from_ref(&sa).cast(),
                std::mem::size_of_val(&sa) as libc::socklen_t,
            )
        };
        if n == frame.len() as isize {
            sent += 1;
        }
        // Now and then a breath, so the veth's queue does not overflow.
        if sent.is_multiple_of(256) {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    println!("sent={sent}");
    std::process::ExitCode::SUCCESS
}
