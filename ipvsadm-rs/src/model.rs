//! IPVS objects as the kernel reports them, parsed from netlink attributes.

use crate::attr::{find, Attr};
use crate::uapi::{dest_attr, info_attr, stats_attr, svc_attr};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
pub const IPPROTO_TCP: u16 = 6;
pub const IPPROTO_UDP: u16 = 17;
pub const IPPROTO_SCTP: u16 = 132;

/// `IPVS_CMD_GET_INFO`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Info {
    pub version: String,
    pub conn_tab_size: u32,
}

impl Info {
    pub fn parse(attrs: &[Attr]) -> Option<Self> {
        let code = find(attrs, info_attr::VERSION)?.as_u32()?;
        let (a, b, c) = crate::uapi::version_triple(code);
        Some(Self {
            version: format!("{a}.{b}.{c}"),
            conn_tab_size: find(attrs, info_attr::CONN_TAB_SIZE)?.as_u32()?,
        })
    }
}

/// Traffic counters and rates.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

impl Stats {
    /// Parses `STATS64` (u64 values) or, failing that, `STATS` (u32 counts,
    /// u64 bytes).
    fn parse(attrs: &[Attr], stats64: u16, stats32: u16) -> Self {
        let (nest, wide) = match (find(attrs, stats64), find(attrs, stats32)) {
            (Some(a), _) => (a, true),
            (None, Some(a)) => (a, false),
            (None, None) => return Self::default(),
        };
        let kids = nest.children().unwrap_or_default();
        let get = |k: u16| -> u64 {
            let a = find(&kids, k);
            let bytes = k == stats_attr::INBYTES || k == stats_attr::OUTBYTES;
            match a {
                Some(a) if wide || bytes => a.as_u64().unwrap_or(0),
                Some(a) => a.as_u32().map(u64::from).unwrap_or(0),
                None => 0,
            }
        };
        Self {
            conns: get(stats_attr::CONNS),
            inpkts: get(stats_attr::INPKTS),
            outpkts: get(stats_attr::OUTPKTS),
            inbytes: get(stats_attr::INBYTES),
            outbytes: get(stats_attr::OUTBYTES),
            cps: get(stats_attr::CPS),
            inpps: get(stats_attr::INPPS),
            outpps: get(stats_attr::OUTPPS),
            inbps: get(stats_attr::INBPS),
            outbps: get(stats_attr::OUTBPS),
        }
    }
}

fn addr(af: u16, a: &Attr) -> Option<IpAddr> {
    let p = a.payload();
    match af {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::from(
            <[u8; 4]>::try_from(p.get(..4)?).ok()?,
        ))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(p.get(..16)?).ok()?,
        ))),
        _ => None,
    }
}

fn be16(a: &Attr) -> Option<u16> {
    Some(u16::from_be_bytes(a.payload().get(..2)?.try_into().ok()?))
}

/// A virtual service.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Service {
    pub af: u16,
    pub protocol: u16,
    pub addr: Option<IpAddr>,
    pub port: u16,
    pub fwmark: u32,
    pub scheduler: String,
    pub flags: u32,
    pub timeout: u32,
    pub netmask: u32,
    pub pe_name: String,
    pub stats: Stats,
    pub dests: Vec<Dest>,
}

impl Service {
    /// Parses the attributes nested in `IPVS_CMD_ATTR_SERVICE`.
    pub fn parse(attrs: &[Attr]) -> Option<Self> {
        let af = find(attrs, svc_attr::AF)?.as_u16()?;
        let fwmark = find(attrs, svc_attr::FWMARK)
            .and_then(Attr::as_u32)
            .unwrap_or(0);
        Some(Self {
            af,
            protocol: find(attrs, svc_attr::PROTOCOL)
                .and_then(Attr::as_u16)
                .unwrap_or(0),
            addr: find(attrs, svc_attr::ADDR).and_then(|a| addr(af, a)),
            port: find(attrs, svc_attr::PORT).and_then(be16).unwrap_or(0),
            fwmark,
            scheduler: find(attrs, svc_attr::SCHED_NAME)?.as_str()?,
            flags: find(attrs, svc_attr::FLAGS)
                .and_then(Attr::as_u32)
                .unwrap_or(0),
            timeout: find(attrs, svc_attr::TIMEOUT)
                .and_then(Attr::as_u32)
                .unwrap_or(0),
            netmask: find(attrs, svc_attr::NETMASK)
                .and_then(Attr::as_u32)
                .unwrap_or(0),
            pe_name: find(attrs, svc_attr::PE_NAME)
                .and_then(Attr::as_str)
                .unwrap_or_default(),
            stats: Stats::parse(attrs, svc_attr::STATS64, svc_attr::STATS),
            dests: Vec::new(),
        })
    }

    /// The attributes that identify this service in a request.
    pub fn key_attrs(&self) -> Vec<Attr> {
        let mut v = vec![Attr::u16(svc_attr::AF, self.af)];
        if self.fwmark != 0 {
            v.push(Attr::u32(svc_attr::FWMARK, self.fwmark));
        } else {
            v.push(Attr::u16(svc_attr::PROTOCOL, self.protocol));
            v.push(Attr::bytes(svc_attr::ADDR, crate::addr_bytes(self.addr)));
            v.push(Attr::bytes(
                svc_attr::PORT,
                self.port.to_be_bytes().to_vec(),
            ));
        }
        v
    }
}

/// A real server.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Dest {
    pub af: u16,
    pub addr: Option<IpAddr>,
    pub port: u16,
    pub fwd_method: u32,
    pub weight: i32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
    pub tun_type: u8,
    pub tun_port: u16,
    pub tun_flags: u16,
    pub stats: Stats,
}

impl Dest {
    /// Parses the attributes nested in `IPVS_CMD_ATTR_DEST`; `svc_af` is
    /// the family when the kernel omits `ADDR_FAMILY` (old kernels).
    pub fn parse(attrs: &[Attr], svc_af: u16) -> Option<Self> {
        let af = find(attrs, dest_attr::ADDR_FAMILY)
            .and_then(Attr::as_u16)
            .unwrap_or(svc_af);
        let u32_of = |k| find(attrs, k).and_then(Attr::as_u32).unwrap_or(0);
        Some(Self {
            af,
            addr: find(attrs, dest_attr::ADDR).and_then(|a| addr(af, a)),
            port: find(attrs, dest_attr::PORT).and_then(be16).unwrap_or(0),
            fwd_method: u32_of(dest_attr::FWD_METHOD),
            weight: u32_of(dest_attr::WEIGHT) as i32,
            u_threshold: u32_of(dest_attr::U_THRESH),
            l_threshold: u32_of(dest_attr::L_THRESH),
            active_conns: u32_of(dest_attr::ACTIVE_CONNS),
            inact_conns: u32_of(dest_attr::INACT_CONNS),
            persist_conns: u32_of(dest_attr::PERSIST_CONNS),
            tun_type: find(attrs, dest_attr::TUN_TYPE)
                .and_then(|a| a.payload().first().copied())
                .unwrap_or(0),
            tun_port: find(attrs, dest_attr::TUN_PORT).and_then(be16).unwrap_or(0),
            tun_flags: find(attrs, dest_attr::TUN_FLAGS)
                .and_then(Attr::as_u16)
                .unwrap_or(0),
            stats: Stats::parse(attrs, dest_attr::STATS64, dest_attr::STATS),
        })
    }
}

/// `IPVS_CMD_GET_CONFIG`.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

impl Timeouts {
    pub fn parse(attrs: &[Attr]) -> Self {
        use crate::uapi::cmd_attr;
        let g = |k| find(attrs, k).and_then(Attr::as_u32).unwrap_or(0);
        Self {
            tcp: g(cmd_attr::TIMEOUT_TCP),
            tcp_fin: g(cmd_attr::TIMEOUT_TCP_FIN),
            udp: g(cmd_attr::TIMEOUT_UDP),
        }
    }
}

/// A sync daemon (`IPVS_CMD_GET_DAEMON`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Daemon {
    pub state: String,
    pub mcast_ifn: String,
    pub syncid: u32,
    pub sync_maxlen: u16,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: u16,
    pub mcast_ttl: u8,
    /// Unicast peers (ipvs_rs.ko only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sync_peers: Vec<IpAddr>,
}

impl Daemon {
    pub fn parse(attrs: &[Attr]) -> Option<Self> {
        use crate::uapi::daemon_attr as d;
        let state = match find(attrs, d::STATE)?.as_u32()? {
            1 => "master",
            2 => "backup",
            _ => return None,
        };
        let group = find(attrs, d::MCAST_GROUP)
            .and_then(|a| addr(AF_INET, a))
            .or_else(|| find(attrs, d::MCAST_GROUP6).and_then(|a| addr(AF_INET6, a)));
        Some(Self {
            state: state.into(),
            mcast_ifn: find(attrs, d::MCAST_IFN)
                .and_then(Attr::as_str)
                .unwrap_or_default(),
            syncid: find(attrs, d::SYNC_ID).and_then(Attr::as_u32).unwrap_or(0),
            sync_maxlen: find(attrs, d::SYNC_MAXLEN)
                .and_then(Attr::as_u16)
                .unwrap_or(0),
            mcast_group: group,
            mcast_port: find(attrs, d::MCAST_PORT)
                .and_then(Attr::as_u16)
                .unwrap_or(0),
            mcast_ttl: find(attrs, d::MCAST_TTL)
                .and_then(|a| a.payload().first().copied())
                .unwrap_or(0),
            sync_peers: attrs
                .iter()
                .filter(|a| a.kind == d::RS_PEER)
                .filter_map(|a| match a.payload().len() {
                    4 => addr(AF_INET, a),
                    16 => addr(AF_INET6, a),
                    _ => None,
                })
                .collect(),
        })
    }
}

/// One line of `/proc/net/ip_vs_conn`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Conn {
    pub protocol: String,
    pub client: (IpAddr, u16),
    pub virtual_: (IpAddr, u16),
    pub dest: (IpAddr, u16),
    pub state: String,
    pub expires: u32,
    pub pe_name: Option<String>,
    pub pe_data: Option<String>,
}

fn proc_addr(s: &str) -> Option<IpAddr> {
    if let Ok(a) = s.parse::<IpAddr>() {
        return Some(a);
    }
    // Old kernels print IPv4 as eight hex digits.
    u32::from_str_radix(s, 16)
        .ok()
        .map(|v| IpAddr::V4(Ipv4Addr::from(v)))
}

impl Conn {
    /// Parses a line after the header: `Pro FromIP FPrt ToIP TPrt DestIP
    /// DPrt State Expires [PEName PEData]`.
    pub fn parse(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 9 {
            return None;
        }
        let port = |s: &str| u16::from_str_radix(s, 16).ok();
        Some(Self {
            protocol: f[0].into(),
            client: (proc_addr(f[1])?, port(f[2])?),
            virtual_: (proc_addr(f[3])?, port(f[4])?),
            dest: (proc_addr(f[5])?, port(f[6])?),
            state: f[7].into(),
            expires: f[8].parse().ok()?,
            pe_name: f.get(9).map(|s| s.to_string()),
            pe_data: f.get(10).map(|s| s.to_string()),
        })
    }
}
