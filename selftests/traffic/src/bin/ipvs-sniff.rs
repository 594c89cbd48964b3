// SPDX-License-Identifier: GPL-2.0

//! Counts the frames an interface sends, by kind, to tell what a
//! director forwarded (tcpdump is not on every test machine).
//!
//! `ipvs-sniff IFNAME STOPFILE`: counts the frames IFNAME sends
//! (`PACKET_OUTGOING`) until STOPFILE exists, then prints one line a
//! kind, `COUNT KIND`, sorted by kind. A kind names the protocol and what
//! a damaged packet may differ in: IPv4 header length, fragment bits,
//! a total length that is not the frame's, TCP data offset and flags,
//! UDP length, ICMP type, IPv6 next header; transport ports are left
//! out (NAT changes them). With `IPVS_SNIFF_OWN=ADDR,...` (the sending
//! host's addresses), ICMP messages from those are marked `own`: made
//! there, not forwarded.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// What kind of frame `f` (from its Ethernet header on) is; `own`: the
/// sending host's addresses.
fn kind(f: &[u8], own: &[std::net::IpAddr]) -> String {
    if f.len() < 14 {
        return "runt".into();
    }
    let ethertype = u16::from_be_bytes([f[12], f[13]]);
    let p = &f[14..];
    match ethertype {
        0x0806 => "arp".into(),
        0x0800 => {
            let k = ipv4(p);
            let src = std::net::Ipv4Addr::new(p[12], p[13], p[14], p[15]);
            mark_own(k, own.contains(&src.into()))
        }
        0x86dd => {
            let k = ipv6(p);
            let src = p.get(8..24).and_then(|a| <[u8; 16]>::try_from(a).ok());
            let own_src = src.is_some_and(|a| own.contains(&std::net::Ipv6Addr::from(a).into()));
            mark_own(k, own_src)
        }
        t => format!("ethertype-{t:04x}"),
    }
}

/// `k`, marked `own` if it is an ICMP message the host made itself.
fn mark_own(k: String, own_src: bool) -> String {
    if own_src && k.contains("icmp") {
        k + " own"
    } else {
        k
    }
}

fn ipv4(p: &[u8]) -> String {
    if p.len() < 20 {
        return "ipv4 short".into();
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    let frag = u16::from_be_bytes([p[6], p[7]]);
    let (mf, off) = (frag & 0x2000 != 0, frag & 0x1fff);
    let mut k = format!("ipv4 ihl={ihl}");
    if total != p.len() {
        k += if total > p.len() {
            " total>frame"
        } else {
            " total<frame"
        };
    }
    if mf || off != 0 {
        k += &format!(" frag(mf={} off={})", u8::from(mf), u8::from(off != 0));
    }
    let l4 = p.get(ihl.max(20)..total.min(p.len())).unwrap_or(&[]);
    k + " " + &transport(p[9], l4)
}

fn ipv6(p: &[u8]) -> String {
    if p.len() < 40 {
        return "ipv6 short".into();
    }
    let payload = usize::from(u16::from_be_bytes([p[4], p[5]]));
    let mut k = "ipv6".to_string();
    if payload + 40 != p.len() {
        k += if payload + 40 > p.len() {
            " payload>frame"
        } else {
            " payload<frame"
        };
    }
    let next = p[6];
    if matches!(next, 0 | 43 | 44 | 60) {
        return k + &format!(" ext={next}");
    }
    k + " " + &transport(next, &p[40..])
}

fn transport(proto: u8, t: &[u8]) -> String {
    match proto {
        6 if t.len() >= 20 => format!("tcp doff={} flags={:02x}", t[12] >> 4, t[13] & 0x3f),
        17 if t.len() >= 8 => {
            let len = usize::from(u16::from_be_bytes([t[4], t[5]]));
            let lie = if len == t.len() { "" } else { " len-lies" };
            format!("udp{lie}")
        }
        132 if t.len() >= 16 => format!("sctp chunk={}", t[12]),
        1 if !t.is_empty() => format!("icmp type={}", t[0]),
        58 if !t.is_empty() => format!("icmpv6 type={}", t[0]),
        6 | 17 | 132 | 1 | 58 => format!("proto={proto} cut"),
        p => format!("proto={p}"),
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(ifname), Some(stop)) = (args.first(), args.get(1)) else {
        eprintln!("usage: ipvs-sniff IFNAME STOPFILE");
        return std::process::ExitCode::from(2);
    };
    let (fd, sa) = match ipvs_traffic::packet_socket::open(ifname, libc::ETH_P_ALL as u16) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // SAFETY: `sa` is a valid `sockaddr_ll` of the size given.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc != 0 {
        eprintln!("bind: {}", std::io::Error::last_os_error());
        return std::process::ExitCode::FAILURE;
    }
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 200_000,
    };
    // SAFETY: a valid `timeval` of the size given.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        );
    }
    let own: Vec<std::net::IpAddr> = std::env::var("IPVS_SNIFF_OWN")
        .unwrap_or_default()
        .split(',')
        .filter_map(|a| a.parse().ok())
        .collect();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut buf = vec![0u8; 65536];
    while !std::path::Path::new(stop).exists() {
        // SAFETY: all-zero is a valid `sockaddr_ll`.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut fromlen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        // SAFETY: `buf` and `from` are valid for the lengths given.
        let n = unsafe {
            libc::recvfrom(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&mut from as *mut libc::sockaddr_ll).cast(),
                &mut fromlen,
            )
        };
        if n < 0 {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        if from.sll_pkttype != libc::PACKET_OUTGOING {
            continue;
        }
        *counts.entry(kind(&buf[..n as usize], &own)).or_default() += 1;
    }
    for (k, n) in counts {
        println!("{n} {k}");
    }
    std::process::ExitCode::SUCCESS
}
