//! ipvsadm's text output, byte for byte (ipvsadm 1.31, `ipvsadm.c`).

use crate::model::{
    Conn, Daemon, Dest, Info, Service, Timeouts, AF_INET6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
};
use crate::uapi::{conn_flags, svc_flags, tunnel};
use std::cmp::Ordering;
use std::fmt::Write;
use std::net::IpAddr;

/// Listing options (ipvsadm's `FMT_*`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Format {
    pub numeric: bool,
    pub rule: bool,
    pub stats: bool,
    pub rate: bool,
    pub thresholds: bool,
    pub persistent_conn: bool,
    pub nosort: bool,
    pub exact: bool,
    pub tun_info: bool,
}

/// Reverse lookups for non-numeric output.
pub trait Names {
    fn host(&self, addr: IpAddr) -> Option<String>;
    fn service(&self, port: u16, protocol: u16) -> Option<String>;
}

/// No lookups (what `-n` does).
pub struct Numeric;

impl Names for Numeric {
    fn host(&self, _: IpAddr) -> Option<String> {
        None
    }
    fn service(&self, _: u16, _: u16) -> Option<String> {
        None
    }
}

/// `addrport_to_anyname`.
pub fn addr_port(
    addr: Option<IpAddr>,
    port: u16,
    protocol: u16,
    fmt: &Format,
    names: &dyn Names,
) -> String {
    let addr = addr.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let (open, close) = if addr.is_ipv6() { ("[", "]") } else { ("", "") };
    if fmt.numeric {
        return format!("{open}{addr}{close}:{port}");
    }
    let host = names.host(addr).unwrap_or_else(|| addr.to_string());
    let svc = names
        .service(port, protocol)
        .unwrap_or_else(|| port.to_string());
    format!("{open}{host}{close}:{svc}")
}

fn addr_words(a: Option<IpAddr>) -> [u32; 4] {
    match a {
        Some(IpAddr::V4(v)) => [u32::from(v), 0, 0, 0],
        Some(IpAddr::V6(v)) => {
            let o = v.octets();
            core::array::from_fn(|i| {
                u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]])
            })
        }
        None => [0; 4],
    }
}

/// libipvs compares with C `int` subtraction of unsigned values; keep its
/// (wrapping) order so listings match ipvsadm's.
fn c_sub(a: u32, b: u32) -> Ordering {
    (a.wrapping_sub(b) as i32).cmp(&0)
}

fn cmp_addr_port(af: u16, a: Option<IpAddr>, pa: u16, b: Option<IpAddr>, pb: u16) -> Ordering {
    let (wa, wb) = (addr_words(a), addr_words(b));
    let n = if af == AF_INET6 { 4 } else { 1 };
    for i in 0..n {
        let r = c_sub(wa[i], wb[i]);
        if r != Ordering::Equal {
            return r;
        }
    }
    c_sub(u32::from(pa), u32::from(pb))
}

/// `ipvs_cmp_services`.
pub fn cmp_services(a: &Service, b: &Service) -> Ordering {
    c_sub(a.fwmark, b.fwmark)
        .then(c_sub(a.af.into(), b.af.into()))
        .then(c_sub(a.protocol.into(), b.protocol.into()))
        .then_with(|| cmp_addr_port(a.af, a.addr, a.port, b.addr, b.port))
}

/// `ipvs_cmp_dests`.
pub fn cmp_dests(a: &Dest, b: &Dest) -> Ordering {
    cmp_addr_port(a.af, a.addr, a.port, b.addr, b.port)
}

/// Sorts as ipvsadm does unless `--nosort`.
pub fn sort(services: &mut [Service], fmt: &Format) {
    if fmt.nosort {
        return;
    }
    services.sort_by(cmp_services);
    for s in services.iter_mut() {
        s.dests.sort_by(cmp_dests);
    }
}

fn largenum(s: &mut String, i: u64, fmt: &Format) {
    if fmt.exact {
        let len = i.to_string().len();
        let w = if len <= 8 { 9 } else { len + 1 };
        let _ = write!(s, "{i:>w$}");
        return;
    }
    let _ = match i {
        0..100_000_000 => write!(s, "{i:>9}"),
        100_000_000..1_000_000_000 => write!(s, "{:>8}K", i / 1000),
        1_000_000_000..100_000_000_000 => write!(s, "{:>8}M", i / 1_000_000),
        100_000_000_000..100_000_000_000_000 => write!(s, "{:>8}G", i / 1_000_000_000),
        _ => write!(s, "{:>8}T", i / 1_000_000_000_000),
    };
}

fn title(s: &mut String, fmt: &Format) {
    let col = "Prot LocalAddress:Port";
    if fmt.stats {
        let _ = writeln!(
            s,
            "{col:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        );
    } else if fmt.rate {
        let _ = writeln!(
            s,
            "{col:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        );
    } else if fmt.thresholds {
        let _ = writeln!(
            s,
            "{col:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        );
    } else if fmt.persistent_conn {
        let _ = writeln!(
            s,
            "{col:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Weight", "PersistConn", "ActiveConn", "InActConn"
        );
    } else if fmt.tun_info {
        s.push_str(
            "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n",
        );
    } else if !fmt.rule {
        s.push_str("Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    }
}

fn proto_name(p: u16) -> &'static str {
    match p {
        IPPROTO_TCP => "TCP",
        IPPROTO_UDP => "UDP",
        IPPROTO_SCTP => "SCTP",
        _ => "?",
    }
}

fn proto_option(p: u16) -> &'static str {
    match p {
        IPPROTO_TCP => "-t",
        IPPROTO_UDP => "-u",
        IPPROTO_SCTP => "--sctp-service",
        _ => "--xxx-service",
    }
}

fn fwd_name(flags: u32) -> &'static str {
    match flags & conn_flags::FWD_MASK {
        conn_flags::MASQ => "Masq",
        conn_flags::LOCALNODE => "Local",
        conn_flags::TUNNEL => "Tunnel",
        conn_flags::DROUTE => "Route",
        _ => "(null)",
    }
}

fn fwd_switch(flags: u32) -> &'static str {
    match flags & conn_flags::FWD_MASK {
        conn_flags::MASQ => "-m",
        conn_flags::TUNNEL => "-i",
        conn_flags::LOCALNODE | conn_flags::DROUTE => "-g",
        _ => "(null)",
    }
}

/// A tunnel type's name, as `--tun-type` takes it.
pub fn tun_name(tun_type: u8) -> &'static str {
    match tun_type {
        tunnel::GUE => "gue",
        tunnel::GRE => "gre",
        _ => "ipip",
    }
}

/// The checksum flags as `--tun-info` shows them and as options.
fn tun_flags(flags: u16) -> (&'static str, &'static str) {
    if flags & tunnel::CSUM != 0 {
        ("+c", "--tun-csum")
    } else if flags & tunnel::REMCSUM != 0 {
        ("r+c", "--tun-remcsum")
    } else {
        ("-c", "--tun-nocsum")
    }
}

fn sched_flags(svc: &Service) -> String {
    let f = svc.flags;
    let mut out = Vec::new();
    let names: [(u32, &str); 3] = match svc.scheduler.as_str() {
        "sh" => [
            (svc_flags::SCHED1, "sh-fallback"),
            (svc_flags::SCHED2, "sh-port"),
            (0, ""),
        ],
        "mh" => [
            (svc_flags::SCHED1, "mh-fallback"),
            (svc_flags::SCHED2, "mh-port"),
            (0, ""),
        ],
        _ => [
            (svc_flags::SCHED1, "flag-1"),
            (svc_flags::SCHED2, "flag-2"),
            (svc_flags::SCHED3, "flag-3"),
        ],
    };
    for (bit, name) in names {
        if bit != 0 && f & bit != 0 {
            out.push(name);
        }
    }
    out.join(",")
}

fn mask_text(svc: &Service, keyword: &str) -> String {
    if svc.af == AF_INET6 {
        if svc.netmask != 128 {
            return format!(" {keyword} {}", svc.netmask);
        }
    } else if svc.netmask != 0xffff_ffff {
        return format!(
            " {keyword} {}",
            std::net::Ipv4Addr::from(svc.netmask.to_ne_bytes())
        );
    }
    String::new()
}

/// `print_service_entry`.
pub fn service_entry(s: &mut String, svc: &Service, fmt: &Format, names: &dyn Names) {
    const SCHED_MASK: u32 = svc_flags::SCHED1 | svc_flags::SCHED2 | svc_flags::SCHED3;
    let name = if svc.fwmark != 0 {
        match (fmt.rule, svc.af == AF_INET6) {
            (true, true) => format!("-f {} -6", svc.fwmark),
            (true, false) => format!("-f {}", svc.fwmark),
            (false, true) => format!("FWM  {} IPv6", svc.fwmark),
            (false, false) => format!("FWM  {}", svc.fwmark),
        }
    } else {
        let v = addr_port(svc.addr, svc.port, svc.protocol, fmt, names);
        if fmt.rule {
            format!("{} {v}", proto_option(svc.protocol))
        } else {
            let mut n = format!("{:<4} {v}", proto_name(svc.protocol));
            if svc.af != AF_INET6 {
                n.truncate(33);
            }
            n
        }
    };
    if fmt.rule {
        let _ = write!(s, "-A {name} -s {}", svc.scheduler);
        if svc.flags & svc_flags::PERSISTENT != 0 {
            let _ = write!(s, " -p {}{}", svc.timeout, mask_text(svc, "-M"));
        }
        if !svc.pe_name.is_empty() {
            let _ = write!(s, " --pe {}", svc.pe_name);
        }
        if svc.flags & svc_flags::ONEPACKET != 0 {
            s.push_str(" -o");
        }
        if svc.flags & SCHED_MASK != 0 {
            let _ = write!(s, " -b {}", sched_flags(svc));
        }
    } else if fmt.stats || fmt.rate {
        let _ = write!(s, "{name:<33}");
        let st = &svc.stats;
        let v = if fmt.stats {
            [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes]
        } else {
            [st.cps, st.inpps, st.outpps, st.inbps, st.outbps]
        };
        for x in v {
            largenum(s, x, fmt);
        }
    } else {
        let _ = write!(s, "{name} {}", svc.scheduler);
        if svc.flags & SCHED_MASK != 0 {
            let _ = write!(s, " ({})", sched_flags(svc));
        }
        if svc.flags & svc_flags::PERSISTENT != 0 {
            let _ = write!(s, " persistent {}{}", svc.timeout, mask_text(svc, "mask"));
            if !svc.pe_name.is_empty() {
                let _ = write!(s, " pe {}", svc.pe_name);
            }
        }
        if svc.flags & svc_flags::ONEPACKET != 0 {
            s.push_str(" ops");
        }
    }
    s.push('\n');

    for d in &svc.dests {
        let mut dname = addr_port(d.addr, d.port, svc.protocol, fmt, names);
        if !fmt.rule && d.af != AF_INET6 {
            dname.truncate(28);
        }
        let fwd = d.fwd_method & conn_flags::FWD_MASK;
        if fmt.rule {
            let sw = fwd_switch(d.fwd_method);
            let tun = match (fwd == conn_flags::TUNNEL, d.tun_type) {
                (true, t @ tunnel::IPIP) => format!(" --tun-type {}", tun_name(t)),
                (true, t @ tunnel::GUE) => format!(
                    " --tun-type {} --tun-port {} {}",
                    tun_name(t),
                    d.tun_port,
                    tun_flags(d.tun_flags).1
                ),
                (true, t @ tunnel::GRE) => {
                    format!(" --tun-type {} {}", tun_name(t), tun_flags(d.tun_flags).1)
                }
                _ => String::new(),
            };
            let _ = writeln!(s, "-a {name} -r {dname} {sw} -w {}{tun}", d.weight);
        } else if fmt.stats {
            let _ = write!(s, "  -> {dname:<28}");
            let st = &d.stats;
            for x in [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes] {
                largenum(s, x, fmt);
            }
            s.push('\n');
        } else if fmt.rate {
            let st = &d.stats;
            let _ = write!(
                s,
                "  -> {dname:<28} {:>8} {:>8} {:>8}",
                st.cps, st.inpps, st.outpps
            );
            largenum(s, st.inbps, fmt);
            largenum(s, st.outbps, fmt);
            s.push('\n');
        } else if fmt.thresholds {
            let _ = writeln!(
                s,
                "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                d.u_threshold, d.l_threshold, d.active_conns, d.inact_conns
            );
        } else if fmt.persistent_conn {
            let _ = writeln!(
                s,
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                d.weight, d.persist_conns, d.active_conns, d.inact_conns
            );
        } else if fmt.tun_info {
            let ti = match (fwd == conn_flags::TUNNEL, d.tun_type) {
                (true, t @ tunnel::IPIP) => tun_name(t).to_string(),
                (true, t @ tunnel::GUE) => {
                    format!(
                        "{}:{}:{}",
                        tun_name(t),
                        d.tun_port,
                        tun_flags(d.tun_flags).0
                    )
                }
                (true, t @ tunnel::GRE) => format!("{}:{}", tun_name(t), tun_flags(d.tun_flags).0),
                _ => "n/a".into(),
            };
            let _ = writeln!(
                s,
                "  -> {dname:<28} {:<7} {ti:<13} {:<6} {:<10} {:<10}",
                fwd_name(d.fwd_method),
                d.weight,
                d.active_conns,
                d.inact_conns
            );
        } else {
            let _ = writeln!(
                s,
                "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}",
                fwd_name(d.fwd_method),
                d.weight,
                d.active_conns,
                d.inact_conns
            );
        }
    }
}

/// `list_all` (and `-S` with `fmt.rule`).
pub fn list(info: &Info, services: &[Service], fmt: &Format, names: &dyn Names) -> String {
    let mut s = String::new();
    if !fmt.rule {
        let _ = writeln!(
            s,
            "IP Virtual Server version {} (size={})",
            info.version, info.conn_tab_size
        );
    }
    title(&mut s, fmt);
    for svc in services {
        service_entry(&mut s, svc, fmt, names);
    }
    s
}

/// `list_service`: one service, no version line.
pub fn list_one(svc: &Service, fmt: &Format, names: &dyn Names) -> String {
    let mut s = String::new();
    title(&mut s, fmt);
    service_entry(&mut s, svc, fmt, names);
    s
}

/// `list_timeout`.
pub fn timeouts(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp, t.tcp_fin, t.udp
    )
}

/// `list_daemon`.
pub fn daemons(ds: &[Daemon]) -> String {
    let mut s = String::new();
    for d in ds {
        let _ = write!(
            s,
            "{} sync daemon (mcast={}, syncid={}",
            d.state, d.mcast_ifn, d.syncid
        );
        if d.sync_maxlen != 0 {
            let _ = write!(s, ", maxlen={}", d.sync_maxlen);
        }
        if let Some(g) = d.mcast_group {
            let _ = write!(s, ", group={g}");
        }
        if d.mcast_port != 0 {
            let _ = write!(s, ", port={}", d.mcast_port);
        }
        if d.mcast_ttl != 0 {
            let _ = write!(s, ", ttl={}", d.mcast_ttl);
        }
        // Beyond ipvsadm: only a unicast daemon (ipvs_rs.ko) has peers.
        for (i, p) in d.sync_peers.iter().enumerate() {
            let _ = write!(s, "{}{p}", if i == 0 { ", peers=" } else { "," });
        }
        s.push_str(")\n");
    }
    s
}

/// `list_conn`.
pub fn conns(cs: &[Conn], fmt: &Format, names: &dyn Names) -> String {
    let mut s = String::from("IPVS connection entries\n");
    if fmt.persistent_conn {
        let _ = writeln!(
            s,
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} pe_data",
            "state", "source", "virtual", "destination", "pe name"
        );
    } else {
        let _ = writeln!(
            s,
            "pro expire {:<11} {:<18} {:<18} destination",
            "state", "source", "virtual"
        );
    }
    for c in cs {
        let proto = match c.protocol.as_str() {
            "TCP" => IPPROTO_TCP,
            "UDP" => IPPROTO_UDP,
            "SCTP" => IPPROTO_SCTP,
            _ => 0,
        };
        let n = |(a, p): (IpAddr, u16)| addr_port(Some(a), p, proto, fmt, names);
        let expire = format!("{:02}:{:02}", c.expires / 60, c.expires % 60);
        let (cn, vn, dn) = (n(c.client), n(c.virtual_), n(c.dest));
        match (&c.pe_name, &c.pe_data, fmt.persistent_conn) {
            (Some(pn), Some(pd), true) => {
                let _ = writeln!(
                    s,
                    "{:<3} {expire:<6} {:<11} {cn:<18} {vn:<18} {dn:<16} {pn:<18} {pd}",
                    c.protocol, c.state
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "{:<3} {expire:<6} {:<11} {cn:<18} {vn:<18} {dn}",
                    c.protocol, c.state
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Stats, AF_INET};
    use std::net::Ipv4Addr;

    fn dest(last: u8, weight: i32) -> Dest {
        Dest {
            af: AF_INET,
            addr: Some(IpAddr::V4(Ipv4Addr::new(172, 16, 0, last))),
            port: 8080,
            fwd_method: conn_flags::MASQ,
            weight,
            u_threshold: 0,
            l_threshold: 0,
            active_conns: 0,
            inact_conns: 0,
            persist_conns: 0,
            tun_type: 0,
            tun_port: 0,
            tun_flags: 0,
            stats: Stats::default(),
        }
    }

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
            dests: vec![dest(3, 2), dest(2, 1)],
        }
    }

    fn n() -> Format {
        Format {
            numeric: true,
            ..Default::default()
        }
    }

    #[test]
    fn empty_listing_is_ipvsadms() {
        let info = Info {
            version: "1.2.1".into(),
            conn_tab_size: 4096,
        };
        assert_eq!(
            list(&info, &[], &n(), &Numeric),
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        );
    }

    #[test]
    fn service_dest_and_rule_lines() {
        let mut v = vec![svc()];
        sort(&mut v, &n());
        let info = Info {
            version: "1.2.1".into(),
            conn_tab_size: 4096,
        };
        let out = list(&info, &v, &n(), &Numeric);
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines[3], "TCP  207.175.44.110:8080 rr");
        assert_eq!(
            lines[4],
            "  -> 172.16.0.2:8080              Masq    1      0          0         "
        );
        let rule = Format { rule: true, ..n() };
        assert_eq!(
            list(&info, &v, &rule, &Numeric),
            "-A -t 207.175.44.110:8080 -s rr\n\
             -a -t 207.175.44.110:8080 -r 172.16.0.2:8080 -m -w 1\n\
             -a -t 207.175.44.110:8080 -r 172.16.0.3:8080 -m -w 2\n"
        );
    }

    /// Stock ipvsadm's `-Ln --tun-info` and `-Sn` for GRE and GUE real
    /// servers (seen in the VM against ip_vs.ko).
    #[test]
    fn tunnel_info_and_rules() {
        let mut s = svc();
        s.dests.clear();
        for (last, t, port, flags) in [
            (1, tunnel::GRE, 0, 0),
            (3, tunnel::GRE, 0, tunnel::CSUM),
            (12, tunnel::GUE, 5000, tunnel::REMCSUM),
            (13, tunnel::IPIP, 0, 0),
        ] {
            let mut d = dest(last, 1);
            d.fwd_method = conn_flags::TUNNEL;
            (d.tun_type, d.tun_port, d.tun_flags) = (t, port, flags);
            s.dests.push(d);
        }
        let ti = Format {
            tun_info: true,
            ..n()
        };
        let out = list_one(&s, &ti, &Numeric);
        let infos: Vec<_> = out.lines().filter(|l| l.starts_with("  -> 1")).collect();
        let l = |a: &str, ti: &str| {
            format!("  -> {a:<28} Tunnel  {ti:<13} 1      0          0         ")
        };
        assert_eq!(
            infos,
            [
                l("172.16.0.1:8080", "gre:-c"),
                l("172.16.0.3:8080", "gre:+c"),
                l("172.16.0.12:8080", "gue:5000:r+c"),
                l("172.16.0.13:8080", "ipip"),
            ]
        );
        let rule = Format { rule: true, ..n() };
        let out = list_one(&s, &rule, &Numeric);
        let r = "-a -t 207.175.44.110:8080 -r 172.16.0";
        assert_eq!(
            out.lines()
                .filter(|l| l.starts_with("-a"))
                .collect::<Vec<_>>(),
            [
                format!("{r}.1:8080 -i -w 1 --tun-type gre --tun-nocsum"),
                format!("{r}.3:8080 -i -w 1 --tun-type gre --tun-csum"),
                format!("{r}.12:8080 -i -w 1 --tun-type gue --tun-port 5000 --tun-remcsum"),
                format!("{r}.13:8080 -i -w 1 --tun-type ipip"),
            ]
        );
    }

    #[test]
    fn persistent_mask_ops_and_sctp() {
        let mut s = svc();
        s.flags = svc_flags::PERSISTENT | svc_flags::ONEPACKET;
        s.timeout = 300;
        s.netmask = u32::from_ne_bytes([255, 255, 255, 0]);
        s.dests.clear();
        s.protocol = IPPROTO_SCTP;
        let mut out = String::new();
        service_entry(&mut out, &s, &n(), &Numeric);
        assert_eq!(
            out,
            "SCTP 207.175.44.110:8080 rr persistent 300 mask 255.255.255.0 ops\n"
        );
    }

    #[test]
    fn largenum_units() {
        let f = Format::default();
        let mut s = String::new();
        for v in [0, 99_999_999, 100_000_000, 1_500_000_000, 250_000_000_000] {
            largenum(&mut s, v, &f);
        }
        assert_eq!(s, "        0 99999999  100000K    1500M     250G");
        let mut s = String::new();
        largenum(&mut s, 1_234_567_890, &Format { exact: true, ..f });
        assert_eq!(s, " 1234567890");
    }

    #[test]
    fn libipvs_order_wraps() {
        // libipvs compares with int subtraction: 1.0.0.0 sorts after
        // 192.0.0.0 (0x01000000 - 0xc0000000 wraps positive).
        let mut a = svc();
        a.addr = Some(IpAddr::V4(Ipv4Addr::new(1, 0, 0, 0)));
        let mut b = svc();
        b.addr = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 0, 0)));
        assert_eq!(cmp_services(&a, &b), Ordering::Greater);
        // And so does 10.0.0.1 (0x0a000001 - 0xc0000000 > 0 as int).
        let mut c = svc();
        c.addr = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(cmp_services(&c, &b), Ordering::Greater);
        assert_eq!(cmp_services(&c, &a), Ordering::Greater);
    }

    #[test]
    fn conn_lines() {
        let c =
            Conn::parse("TCP 0A000002 A3F2 CFAF2C6E 1F90 AC100002 1F90 ESTABLISHED 899").unwrap();
        let out = conns(&[c], &n(), &Numeric);
        assert_eq!(
            out.lines().nth(2).unwrap(),
            "TCP 14:59  ESTABLISHED 10.0.0.2:41970     207.175.44.110:8080 172.16.0.2:8080"
        );
    }
}
