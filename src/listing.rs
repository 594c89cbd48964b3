// SPDX-License-Identifier: GPL-2.0

//! The text of `/proc/net/ip_vs*`, in stock's formats (`ip_vs_ctl.c`,
//! `ip_vs_conn.c`). Pure code, host-tested.

use crate::config::Table;
use crate::service::{Service, SvcKey, AF_INET6};
use crate::uapi::{conn_flags, svc_flags, version_triple, VERSION_CODE};
use core::fmt::{self, Write};

fn proto_name(p: u16) -> &'static str {
    match p {
        6 => "TCP",
        17 => "UDP",
        132 => "SCTP",
        50 => "ESP",
        51 => "AH",
        _ => "UNKNOWN",
    }
}

fn fwd_name(fwd: u32) -> &'static str {
    match fwd & conn_flags::FWD_MASK {
        conn_flags::LOCALNODE => "Local",
        conn_flags::TUNNEL => "Tunnel",
        conn_flags::DROUTE => "Route",
        _ => "Masq",
    }
}

/// `%pI6`: eight groups of four lowercase hex digits.
struct Ipv6Full<'a>(&'a [u8; 16]);

impl fmt::Display for Ipv6Full<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.0.chunks(2).enumerate() {
            if i > 0 {
                f.write_char(':')?;
            }
            write!(f, "{:02x}{:02x}", g[0], g[1])?;
        }
        Ok(())
    }
}

fn ipv4_hex(a: &[u8; 16]) -> u32 {
    u32::from_be_bytes([a[0], a[1], a[2], a[3]])
}

fn service(w: &mut impl Write, s: &Service, hz: u32) -> fmt::Result {
    let sched = s.sched_name();
    let ops = if s.flags & svc_flags::ONEPACKET != 0 {
        "ops "
    } else {
        ""
    };
    match s.key {
        SvcKey::Tuple {
            af,
            protocol,
            addr,
            port,
        } if af == AF_INET6 => {
            // Stock omits "ops " for IPv6 services.
            write!(
                w,
                "{}  [{}]:{:04X} {} ",
                proto_name(protocol),
                Ipv6Full(&addr),
                u16::from_be_bytes(port),
                sched
            )?
        }
        SvcKey::Tuple {
            protocol,
            addr,
            port,
            ..
        } => write!(
            w,
            "{}  {:08X}:{:04X} {} {} ",
            proto_name(protocol),
            ipv4_hex(&addr),
            u16::from_be_bytes(port),
            sched,
            ops
        )?,
        SvcKey::Fwmark { mark, .. } => write!(w, "FWM  {mark:08X} {sched} {ops}")?,
    }
    if s.flags & svc_flags::PERSISTENT != 0 {
        // Stock prints the timeout in jiffies here (seconds everywhere
        // else) and the netmask as kept: network order bits.
        writeln!(
            w,
            "persistent {} {:08X}",
            s.timeout.saturating_mul(hz),
            u32::from_be(s.netmask)
        )?;
    } else {
        w.write_char('\n')?;
    }
    for d in s.dests.iter() {
        let port = u16::from_be_bytes(d.port);
        if d.af == AF_INET6 {
            write!(w, "  -> [{}]:{port:04X}", Ipv6Full(&d.addr))?;
        } else {
            write!(w, "  -> {:08X}:{port:04X}", ipv4_hex(&d.addr))?;
        }
        writeln!(
            w,
            "      {:<7} {:<6} {:<10} {:<10}",
            fwd_name(d.fwd),
            d.weight,
            d.active(),
            d.inactive()
        )?;
    }
    Ok(())
}

/// `/proc/net/ip_vs`. Stock lists services in hash-table order; we list
/// them in the order they were added, tuple services first, then fwmark
/// services (as stock walks its two tables).
/// `hz` is the kernel's `HZ`.
pub(crate) fn ip_vs(w: &mut impl Write, t: &Table, conn_tab_size: u32, hz: u32) -> fmt::Result {
    let (a, b, c) = version_triple(VERSION_CODE);
    writeln!(
        w,
        "IP Virtual Server version {a}.{b}.{c} (size={conn_tab_size})"
    )?;
    w.write_str("Prot LocalAddress:Port Scheduler Flags\n")?;
    w.write_str("  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n")?;
    for s in t
        .services()
        .iter()
        .filter(|s| matches!(s.key, SvcKey::Tuple { .. }))
    {
        service(w, &s.lock(), hz)?;
    }
    for s in t
        .services()
        .iter()
        .filter(|s| matches!(s.key, SvcKey::Fwmark { .. }))
    {
        service(w, &s.lock(), hz)?;
    }
    Ok(())
}

/// Totals and rates of `/proc/net/ip_vs_stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Connections, packets and bytes in and out.
    pub(crate) counts: [u64; 5],
    /// The same per second.
    pub(crate) rates: [u64; 5],
}

/// `/proc/net/ip_vs_stats`.
pub(crate) fn ip_vs_stats(w: &mut impl Write, t: &Totals) -> fmt::Result {
    w.write_str("   Total Incoming Outgoing         Incoming         Outgoing\n")?;
    w.write_str("   Conns  Packets  Packets            Bytes            Bytes\n")?;
    let [a, b, c, d, e] = t.counts;
    writeln!(w, "{a:8X} {b:8X} {c:8X} {d:16X} {e:16X}\n")?;
    w.write_str(" Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n")?;
    let [a, b, c, d, e] = t.rates;
    writeln!(w, "{a:8X} {b:8X} {c:8X} {d:16X} {e:16X}")
}

/// The header of `/proc/net/ip_vs_conn`.
pub(crate) const IP_VS_CONN_HEADER: &str =
    "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n";

/// The header of `/proc/net/ip_vs_conn_sync`.
pub(crate) const IP_VS_CONN_SYNC_HEADER: &str =
    "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Origin Expires\n";

/// One connection as `/proc/net/ip_vs_conn` shows it.
pub(crate) struct ConnRow<'a> {
    /// Address family.
    pub(crate) af: u16,
    /// IP protocol; 0 for fwmark templates.
    pub(crate) protocol: u8,
    /// Client address and port.
    pub(crate) client: (&'a [u8; 16], [u8; 2]),
    /// Virtual address and port.
    pub(crate) virt: (&'a [u8; 16], [u8; 2]),
    /// Real server address and port.
    pub(crate) dest: (&'a [u8; 16], [u8; 2]),
    /// State name ("NONE" for templates).
    pub(crate) state: &'a str,
    /// Seconds left before expiry.
    pub(crate) expires: u32,
    /// Persistence engine name and key of a template, if any.
    pub(crate) pe: Option<(&'a str, &'a [u8])>,
}

/// `ip_vs_proto_name`.
fn conn_proto_name(p: u8) -> &'static str {
    match p {
        0 => "IP",
        6 => "TCP",
        17 => "UDP",
        132 => "SCTP",
        1 => "ICMP",
        58 => "ICMPv6",
        _ => "ERR!",
    }
}

/// A line of `/proc/net/ip_vs_conn` (`ip_vs_conn_seq_show`).
pub(crate) fn conn_line(w: &mut impl Write, r: &ConnRow<'_>) -> fmt::Result {
    conn_ends(w, r)?;
    write!(w, " {:<11} {:>7}", r.state, r.expires)?;
    if let Some((name, data)) = r.pe {
        // Keys are SIP words: ASCII.
        let data = core::str::from_utf8(data).unwrap_or("?");
        write!(w, " {name} {data}")?;
    }
    writeln!(w)
}

/// A line of `/proc/net/ip_vs_conn_sync` (`ip_vs_conn_sync_seq_show`):
/// `synced` for connections a sync daemon created.
pub(crate) fn conn_sync_line(w: &mut impl Write, r: &ConnRow<'_>, synced: bool) -> fmt::Result {
    conn_ends(w, r)?;
    let origin = if synced { "SYNC" } else { "LOCAL" };
    writeln!(w, " {:<11} {origin:<6} {:>7}", r.state, r.expires)
}

/// The protocol and the three ends of a connection line.
fn conn_ends(w: &mut impl Write, r: &ConnRow<'_>) -> fmt::Result {
    let port = |p: [u8; 2]| u16::from_be_bytes(p);
    let proto = conn_proto_name(r.protocol);
    if r.af == AF_INET6 {
        write!(
            w,
            "{proto:<3} {} {:04X} {} {:04X} {} {:04X}",
            Ipv6Full(r.client.0),
            port(r.client.1),
            Ipv6Full(r.virt.0),
            port(r.virt.1),
            Ipv6Full(r.dest.0),
            port(r.dest.1)
        )?;
    } else {
        write!(
            w,
            "{proto:<3} {:08X} {:04X} {:08X} {:04X} {:08X} {:04X}",
            ipv4_hex(r.client.0),
            port(r.client.1),
            ipv4_hex(r.virt.0),
            port(r.virt.1),
            ipv4_hex(r.dest.0),
            port(r.dest.1)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nlattr::{push, Attr};
    use crate::uapi::{cmd, dest_attr, svc_attr};

    fn table() -> Table {
        let mut t = Table::new();
        let mut s = Vec::new();
        push(&mut s, svc_attr::AF, &2u16.to_ne_bytes());
        push(&mut s, svc_attr::PROTOCOL, &6u16.to_ne_bytes());
        let mut a = vec![10, 0, 0, 1];
        a.resize(16, 0);
        push(&mut s, svc_attr::ADDR, &a);
        push(&mut s, svc_attr::PORT, &80u16.to_be_bytes());
        let key = s.clone();
        push(&mut s, svc_attr::SCHED_NAME, b"rr\0");
        let mut f = (svc_flags::PERSISTENT).to_ne_bytes().to_vec();
        f.extend_from_slice(&u32::MAX.to_ne_bytes());
        push(&mut s, svc_attr::FLAGS, &f);
        push(&mut s, svc_attr::TIMEOUT, &300u32.to_ne_bytes());
        push(
            &mut s,
            svc_attr::NETMASK,
            &u32::from_ne_bytes([255, 255, 255, 0]).to_ne_bytes(),
        );
        t.apply(cmd::NEW_SERVICE, Some(Attr::new(&s)), None, &|_, _| true)
            .unwrap();
        let mut d = Vec::new();
        let mut da = vec![192, 168, 0, 2];
        da.resize(16, 0);
        push(&mut d, dest_attr::ADDR, &da);
        push(&mut d, dest_attr::PORT, &8080u16.to_be_bytes());
        push(&mut d, dest_attr::FWD_METHOD, &0u32.to_ne_bytes());
        push(&mut d, dest_attr::WEIGHT, &3u32.to_ne_bytes());
        push(&mut d, dest_attr::U_THRESH, &0u32.to_ne_bytes());
        push(&mut d, dest_attr::L_THRESH, &0u32.to_ne_bytes());
        t.apply(
            cmd::NEW_DEST,
            Some(Attr::new(&key)),
            Some(Attr::new(&d)),
            &|_, _| true,
        )
        .unwrap();
        t
    }

    #[test]
    fn ip_vs_matches_stock_format() {
        let mut out = String::new();
        ip_vs(&mut out, &table(), 4096, 250).unwrap();
        assert_eq!(
            out,
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n\
             TCP  0A000001:0050 rr  persistent 75000 FFFFFF00\n  \
             -> C0A80002:1F90      Masq    3      0          0         \n"
        );
    }

    #[test]
    fn ipv6_full_form() {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[2] = 0x0d;
        a[3] = 0xb8;
        a[15] = 1;
        assert_eq!(
            Ipv6Full(&a).to_string(),
            "2001:0db8:0000:0000:0000:0000:0000:0001"
        );
    }

    #[test]
    fn stats_layout() {
        let mut out = String::new();
        ip_vs_stats(
            &mut out,
            &Totals {
                counts: [1, 0x10, 0, 0xabc, 0],
                rates: [0; 5],
            },
        )
        .unwrap();
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(
            lines[2],
            "       1       10        0              ABC                0"
        );
        assert_eq!(lines[3], "");
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn conn_line_layout() {
        let mut out = String::new();
        let c = [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let v = [207, 175, 44, 110, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let d = [172, 16, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let row = ConnRow {
            af: 2,
            protocol: 6,
            client: (&c, [0xc3, 0x50]),
            virt: (&v, [0x1f, 0x90]),
            dest: (&d, [0x1f, 0x90]),
            state: "ESTABLISHED",
            expires: 899,
            pe: None,
        };
        conn_line(&mut out, &row).unwrap();
        // The layout of ip_vs_conn_seq_show.
        assert_eq!(
            out,
            "TCP 0A000002 C350 CFAF2C6E 1F90 AC100002 1F90 ESTABLISHED     899\n"
        );
        out.clear();
        conn_line(
            &mut out,
            &ConnRow {
                protocol: 0,
                state: "PERSIST",
                ..row
            },
        )
        .unwrap();
        assert!(out.starts_with("IP  0A000002 C350 "));
        // Templates of a persistence engine end with its name and key.
        out.clear();
        conn_line(
            &mut out,
            &ConnRow {
                protocol: 17,
                state: "NONE",
                pe: Some(("sip", b"a84b@pc33")),
                ..row
            },
        )
        .unwrap();
        assert!(
            out.ends_with(" NONE            899 sip a84b@pc33\n"),
            "{out}"
        );
    }
}
