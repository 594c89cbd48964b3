//! ipvsadm's text output, byte for byte.

use crate::model::{Dest, Info, Service, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use crate::uapi::{conn_flags, svc_flags};
use std::fmt::Write;
use std::net::IpAddr;

/// The listing of `ipvsadm -Ln`.
pub fn list(info: &Info, services: &[Service]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "IP Virtual Server version {} (size={})",
        info.version, info.conn_tab_size
    );
    s.push_str("Prot LocalAddress:Port Scheduler Flags\n");
    s.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    for svc in services {
        service_line(&mut s, svc);
        for d in &svc.dests {
            dest_line(&mut s, svc, d);
        }
    }
    s
}

fn proto_name(p: u16) -> &'static str {
    match p {
        IPPROTO_TCP => "TCP",
        IPPROTO_UDP => "UDP",
        _ => "SCTP",
    }
}

/// `addr:port`, IPv6 in brackets.
pub fn addr_port(addr: Option<IpAddr>, port: u16) -> String {
    match addr {
        Some(IpAddr::V6(a)) => format!("[{a}]:{port}"),
        Some(IpAddr::V4(a)) => format!("{a}:{port}"),
        None => format!("0.0.0.0:{port}"),
    }
}

fn truncate(mut s: String, n: usize) -> String {
    s.truncate(n);
    s
}

fn service_line(s: &mut String, svc: &Service) {
    let name = if svc.fwmark != 0 {
        if svc.af == AF_INET6 {
            format!("FWM  {} IPv6", svc.fwmark)
        } else {
            format!("FWM  {}", svc.fwmark)
        }
    } else {
        let n = format!(
            "{}  {}",
            proto_name(svc.protocol),
            addr_port(svc.addr, svc.port)
        );
        if svc.af == AF_INET6 {
            n
        } else {
            truncate(n, 33)
        }
    };
    let _ = write!(s, "{name} {}", svc.scheduler);
    if svc.flags & svc_flags::PERSISTENT != 0 {
        let _ = write!(s, " persistent {}", svc.timeout);
        if svc.af == AF_INET6 {
            if svc.netmask != 128 {
                let _ = write!(s, " mask {}", svc.netmask);
            }
        } else if svc.netmask != 0xffff_ffff {
            let _ = write!(
                s,
                " mask {}",
                std::net::Ipv4Addr::from(svc.netmask.to_ne_bytes())
            );
        }
    }
    if !svc.pe_name.is_empty() {
        let _ = write!(s, " pe {}", svc.pe_name);
    }
    if svc.flags & svc_flags::ONEPACKET != 0 {
        s.push_str(" ops");
    }
    s.push('\n');
}

fn fwd_name(flags: u32) -> &'static str {
    match flags & conn_flags::FWD_MASK {
        conn_flags::MASQ => "Masq",
        conn_flags::LOCALNODE => "Local",
        conn_flags::TUNNEL => "Tunnel",
        conn_flags::DROUTE => "Route",
        _ => "",
    }
}

fn dest_line(s: &mut String, svc: &Service, d: &Dest) {
    let name = addr_port(d.addr, d.port);
    let name = if svc.af == AF_INET6 {
        name
    } else {
        truncate(name, 28)
    };
    let _ = writeln!(
        s,
        "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
        name,
        fwd_name(d.fwd_method),
        d.weight,
        d.active_conns,
        d.inact_conns
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Stats, AF_INET};
    use std::net::Ipv4Addr;

    fn svc() -> Service {
        Service {
            af: AF_INET,
            protocol: IPPROTO_TCP,
            addr: Some(IpAddr::V4(Ipv4Addr::new(207, 175, 44, 110))),
            port: 8080,
            fwmark: 0,
            scheduler: "rr".into(),
            flags: 0,
            timeout: 0,
            netmask: 0xffff_ffff,
            pe_name: String::new(),
            stats: Stats::default(),
            dests: vec![Dest {
                af: AF_INET,
                addr: Some(IpAddr::V4(Ipv4Addr::new(172, 16, 0, 2))),
                port: 8080,
                fwd_method: conn_flags::MASQ,
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
                active_conns: 0,
                inact_conns: 0,
                persist_conns: 0,
                stats: Stats::default(),
            }],
        }
    }

    #[test]
    fn empty_listing_is_ipvsadms() {
        let info = Info {
            version: "1.2.1".into(),
            conn_tab_size: 4096,
        };
        assert_eq!(
            list(&info, &[]),
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        );
    }

    #[test]
    fn service_and_dest_lines() {
        let info = Info {
            version: "1.2.1".into(),
            conn_tab_size: 4096,
        };
        let out = list(&info, &[svc()]);
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines[3], "TCP  207.175.44.110:8080 rr");
        assert_eq!(
            lines[4],
            "  -> 172.16.0.2:8080              Masq    1      0          0         "
        );
    }

    #[test]
    fn persistent_with_mask_and_ops() {
        let mut s = svc();
        s.flags = svc_flags::PERSISTENT | svc_flags::ONEPACKET;
        s.timeout = 300;
        s.netmask = u32::from_ne_bytes([255, 255, 255, 0]);
        s.dests.clear();
        let mut out = String::new();
        service_line(&mut out, &s);
        assert_eq!(
            out,
            "TCP  207.175.44.110:8080 rr persistent 300 mask 255.255.255.0 ops\n"
        );
    }
}
