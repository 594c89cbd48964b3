//! The command line: ipvsadm's commands and options, parsed with clap and
//! checked against ipvsadm's table of legal command/option combinations.

use crate::format::tun_name;
use crate::model::{AF_INET, AF_INET6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};
use crate::uapi::{conn_flags, svc_flags, tunnel};
use clap::Parser;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

/// Linux Virtual Server administration, compatible with ipvsadm 1.31.
///
/// One command per invocation (ipvsadm's), plus options. Listings take
/// `--json` for a machine-readable document (see
/// Documentation/ipvsadm-rs.rst). Errors are one line on stderr and a
/// non-zero exit status.
#[derive(Parser, Debug, Default, Clone)]
#[command(
    name = "ipvsadm-rs",
    disable_version_flag = true,
    disable_help_flag = true,
    after_help = "virtual-service is -t|-u|--sctp-service host[:port] or -f fwmark.\n\
                  Exit status: 0 on success, 1 when the kernel refuses, 2 on a usage error."
)]
pub struct Cli {
    /// Add virtual service with options
    #[arg(short = 'A', long = "add-service")]
    pub add_service: bool,
    /// Edit virtual service with options
    #[arg(short = 'E', long = "edit-service")]
    pub edit_service: bool,
    /// Delete virtual service
    #[arg(short = 'D', long = "delete-service")]
    pub delete_service: bool,
    /// Clear the whole table
    #[arg(short = 'C', long = "clear")]
    pub clear: bool,
    /// Restore rules from stdin (the -S format); all or nothing
    #[arg(short = 'R', long = "restore")]
    pub restore: bool,
    /// Save rules to stdout
    #[arg(short = 'S', long = "save")]
    pub save: bool,
    /// Add real server with options
    #[arg(short = 'a', long = "add-server")]
    pub add_server: bool,
    /// Edit real server with options
    #[arg(short = 'e', long = "edit-server")]
    pub edit_server: bool,
    /// Delete real server
    #[arg(short = 'd', long = "delete-server")]
    pub delete_server: bool,
    /// List the table
    #[arg(short = 'L', long = "list")]
    pub list_upper: bool,
    /// List the table
    #[arg(short = 'l')]
    pub list_lower: bool,
    /// Zero counters in a service or all services
    #[arg(short = 'Z', long = "zero")]
    pub zero: bool,
    /// Set connection timeout values: tcp tcpfin udp (seconds, 0 = keep)
    #[arg(long = "set", num_args = 3, value_names = ["TCP", "TCPFIN", "UDP"])]
    pub set: Option<Vec<String>>,
    /// Start connection sync daemon (master|backup)
    #[arg(long = "start-daemon", value_name = "STATE")]
    pub start_daemon: Option<String>,
    /// Stop connection sync daemon (master|backup)
    #[arg(long = "stop-daemon", value_name = "STATE")]
    pub stop_daemon: Option<String>,
    /// Display this help message
    #[arg(short = 'h', long = "help")]
    pub help: bool,
    /// Display the version
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// Generate shell completions (bash, zsh, fish, ...) on stdout
    #[arg(long = "completions", value_name = "SHELL")]
    pub completions: Option<clap_complete::Shell>,
    /// Print the manual page (roff, for man -l -) on stdout
    #[arg(long = "man")]
    pub man: bool,

    /// TCP virtual service host[:port]
    #[arg(short = 't', long = "tcp-service", value_name = "SERVICE")]
    pub tcp: Option<String>,
    /// UDP virtual service host[:port]
    #[arg(short = 'u', long = "udp-service", value_name = "SERVICE")]
    pub udp: Option<String>,
    /// SCTP virtual service host[:port]
    #[arg(long = "sctp-service", value_name = "SERVICE")]
    pub sctp: Option<String>,
    /// Firewall-mark virtual service (an integer > 0)
    #[arg(short = 'f', long = "fwmark-service", value_name = "FWMARK")]
    pub fwmark: Option<String>,
    /// The fwmark service is IPv6
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// Scheduler: rr|wrr|lc|wlc|sed|nq|sh|mh|... (default wlc)
    #[arg(short = 's', long = "scheduler")]
    pub scheduler: Option<String>,
    /// Persistent service, optional timeout in seconds (default 300)
    #[arg(short = 'p', long = "persistent", num_args = 0..=1, default_missing_value = "", value_name = "TIMEOUT")]
    pub persistent: Option<String>,
    /// Persistent granularity mask (IPv4 netmask or IPv6 prefix length)
    #[arg(short = 'M', long = "netmask")]
    pub netmask: Option<String>,
    /// Persistence engine (sip)
    #[arg(long = "pe", value_name = "ENGINE")]
    pub pe: Option<String>,
    /// Scheduler flags, comma-separated (flag-1, sh-port, ...)
    #[arg(short = 'b', long = "sched-flags", value_name = "FLAGS")]
    pub sched_flags: Option<String>,
    /// One-packet scheduling (UDP)
    #[arg(short = 'o', long = "ops")]
    pub ops: bool,
    /// Real server host[:port]
    #[arg(short = 'r', long = "real-server", value_name = "SERVER")]
    pub real_server: Option<String>,
    /// Gatewaying (direct routing), the default
    #[arg(short = 'g', long = "gatewaying")]
    pub gatewaying: bool,
    /// IPIP encapsulation (tunneling)
    #[arg(short = 'i', long = "ipip")]
    pub ipip: bool,
    /// Masquerading (NAT)
    #[arg(short = 'm', long = "masquerading")]
    pub masquerading: bool,
    /// Capacity of real server, 0..65535
    #[arg(short = 'w', long = "weight")]
    pub weight: Option<String>,
    /// Upper threshold of connections
    #[arg(short = 'x', long = "u-threshold")]
    pub u_threshold: Option<String>,
    /// Lower threshold of connections
    #[arg(short = 'y', long = "l-threshold")]
    pub l_threshold: Option<String>,
    /// Tunnel type: ipip|gue|gre
    #[arg(long = "tun-type")]
    pub tun_type: Option<String>,
    /// Tunnel destination port (gue)
    #[arg(long = "tun-port")]
    pub tun_port: Option<String>,
    /// Tunnel encapsulation without checksum
    #[arg(long = "tun-nocsum")]
    pub tun_nocsum: bool,
    /// Tunnel encapsulation with checksum
    #[arg(long = "tun-csum")]
    pub tun_csum: bool,
    /// Tunnel encapsulation with remote checksum
    #[arg(long = "tun-remcsum")]
    pub tun_remcsum: bool,

    /// Numeric output of addresses and ports
    #[arg(short = 'n', long = "numeric")]
    pub numeric: bool,
    /// Output of current IPVS connections
    #[arg(short = 'c', long = "connection")]
    pub connection: bool,
    /// Output of timeout (tcp tcpfin udp)
    #[arg(long = "timeout")]
    pub timeout: bool,
    /// Output of daemon information
    #[arg(long = "daemon")]
    pub daemon: bool,
    /// Output of statistics information
    #[arg(long = "stats")]
    pub stats: bool,
    /// Output of rate information
    #[arg(long = "rate")]
    pub rate: bool,
    /// Output of thresholds information
    #[arg(long = "thresholds")]
    pub thresholds: bool,
    /// Output of persistent connection info
    #[arg(long = "persistent-conn")]
    pub persistent_conn: bool,
    /// Output of tunnel information
    #[arg(long = "tun-info")]
    pub tun_info: bool,
    /// Disable sorting output of service/server entries
    #[arg(long = "nosort")]
    pub nosort: bool,
    /// Does nothing, for backwards compatibility
    #[arg(long = "sort")]
    pub sort: bool,
    /// Expand numbers (display exact values)
    #[arg(short = 'X', long = "exact")]
    pub exact: bool,
    /// Machine-readable output of listings
    #[arg(long = "json")]
    pub json: bool,

    /// Multicast interface for connection sync
    #[arg(long = "mcast-interface")]
    pub mcast_interface: Option<String>,
    /// SyncID for connection sync (0..255)
    #[arg(long = "syncid")]
    pub syncid: Option<String>,
    /// IPv4/IPv6 multicast group
    #[arg(long = "mcast-group")]
    pub mcast_group: Option<String>,
    /// Multicast UDP port
    #[arg(long = "mcast-port")]
    pub mcast_port: Option<String>,
    /// Multicast TTL
    #[arg(long = "mcast-ttl")]
    pub mcast_ttl: Option<String>,
    /// Max sync message length
    #[arg(long = "sync-maxlen")]
    pub sync_maxlen: Option<String>,
    /// Unicast sync (ipvs_rs.ko only): a master sends to each peer given,
    /// a backup listens on the one (local) address given
    #[arg(long = "sync-peer", action = clap::ArgAction::Append)]
    pub sync_peer: Vec<String>,
}

/// ipvsadm's commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
}

impl Cmd {
    fn name(self) -> &'static str {
        [
            "add-service",
            "edit-service",
            "delete-service",
            "flush",
            "list",
            "add-server",
            "delete-server",
            "edit-server",
            "set",
            "start-daemon",
            "stop-daemon",
            "restore",
            "save",
            "zero",
        ][self as usize]
    }
}

/// A usage error: ipvsadm's message, exit status 2.
#[derive(Debug, PartialEq, Eq)]
pub struct Usage(pub String);

fn usage<T>(msg: impl Into<String>) -> Result<T, Usage> {
    Err(Usage(msg.into()))
}

const OPTNAMES: [&str; 35] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
    "sync-peer",
];

/// ipvsadm's `commands_v_options`: '+' compulsory, 'x' illegal, '1' at
/// most one of these, ' ' optional.
const RULES: [&str; 14] = [
    /* ADD      */ "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxxx",
    /* EDIT     */ "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxxx",
    /* DEL      */ "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* FLUSH    */ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* LIST     */ " 11xxxxxxxxx11       xxxxxxx xxxxxx",
    /* ADDSRV   */ "xx+xxx+    xxxxxxxxxxxxxxxxxx     x",
    /* DELSRV   */ "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* EDITSRV  */ "xx+xxx+    xxxxxxxxxxxxxxxxxx     x",
    /* TIMEOUT  */ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* STARTD   */ "xxxxxxxxxxx xxxxxxx xxxx    xxxxxx ",
    /* STOPD    */ "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxxx",
    /* RESTORE  */ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* SAVE     */ " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* ZERO     */ "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

/// A parsed service or server address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostPort {
    pub addr: IpAddr,
    pub port: Option<u16>,
}

/// What the command line asks for, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub cmd: Cmd,
    pub af: u16,
    pub protocol: u16,
    pub addr: Option<IpAddr>,
    pub port: u16,
    pub fwmark: u32,
    pub sched: String,
    pub pe: String,
    pub flags: u32,
    pub timeout: u32,
    pub netmask: u32,
    pub has_service: bool,
    pub dest: Option<(u16, IpAddr, u16)>,
    pub fwd: u32,
    pub weight: i32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub tun_type: u8,
    pub tun_port: u16,
    pub tun_flags: u16,
    pub timeouts: [u32; 3],
    pub daemon_state: u32,
    pub mcast_ifn: String,
    pub syncid: u32,
    pub sync_maxlen: u16,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: u16,
    pub mcast_ttl: u8,
    pub sync_peers: Vec<IpAddr>,
}

fn number(s: &str, min: i64, max: i64) -> Option<i64> {
    s.parse::<i64>().ok().filter(|n| (min..=max).contains(n))
}

fn service_port(name: &str, protocol: u16) -> Option<u16> {
    let proto = match protocol {
        IPPROTO_TCP => "tcp",
        IPPROTO_UDP => "udp",
        IPPROTO_SCTP => "sctp",
        _ => return None,
    };
    let n = std::ffi::CString::new(name).ok()?;
    let p = std::ffi::CString::new(proto).ok()?;
    // SAFETY: both strings are NUL-terminated; the result is read at once.
    let se = unsafe { libc::getservbyname(n.as_ptr(), p.as_ptr()) };
    // SAFETY: non-NULL results point to a valid servent.
    (!se.is_null()).then(|| u16::from_be(unsafe { (*se).s_port } as u16))
}

/// ipvsadm's `parse_service`: `host[:port]`, `[v6]:port`, names allowed.
pub fn parse_hostport(s: &str, protocol: u16) -> Option<HostPort> {
    if s.is_empty() || s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once(']')?;
        (h, Some(p.strip_prefix(':')?))
    } else if s.parse::<std::net::Ipv6Addr>().is_ok() {
        (s, None)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let addr = match host.parse::<IpAddr>() {
        Ok(a) => a,
        Err(_) => (host, 0)
            .to_socket_addrs()
            .ok()?
            .map(|a| a.ip())
            .find(IpAddr::is_ipv4)?,
    };
    let port = match port {
        None => None,
        Some(p) => Some(match number(p, 0, 65535) {
            Some(n) => n as u16,
            None => service_port(p, protocol)?,
        }),
    };
    Some(HostPort { addr, port })
}

impl Cli {
    /// The tunnel options `tun_type` allows, as ipvsadm checks them.
    fn check_tunnel_options(&self, tun_type: u8) -> Result<(), Usage> {
        let name = tun_name(tun_type);
        let given = [
            ("tun-port", self.tun_port.is_some()),
            ("tun-nocsum", self.tun_nocsum),
            ("tun-csum", self.tun_csum),
            ("tun-remcsum", self.tun_remcsum),
        ];
        // What each type refuses: IPIP every option, GRE the port and the
        // remote checksum.
        let illegal = match tun_type {
            tunnel::IPIP => &["tun-port", "tun-nocsum", "tun-csum", "tun-remcsum"][..],
            tunnel::GRE => &["tun-port", "tun-remcsum"][..],
            _ => &[][..],
        };
        if let Some((opt, _)) = given.iter().find(|(o, g)| *g && illegal.contains(o)) {
            return usage(format!(
                "Illegal '{opt}' option with the '{name}' tunnel type"
            ));
        }
        if tun_type == tunnel::GUE && self.tun_port.is_none() {
            return usage("You need to supply the 'tun-port' option for the 'gue' tunnel type");
        }
        // The checksum options exclude each other; ipvsadm names the later.
        for (i, (first, a)) in given.iter().enumerate().skip(1) {
            if let Some((later, _)) = given[i + 1..].iter().find(|(_, b)| *a && *b) {
                return usage(format!(
                    "The option '{later}' conflicts with the '{first}' option in the '{name}' tunnel type"
                ));
            }
        }
        Ok(())
    }

    /// The command, and ipvsadm's checks of what goes with it.
    pub fn request(&self) -> Result<Request, Usage> {
        let mut cmds = Vec::new();
        let mut push = |on: bool, c: Cmd| {
            if on {
                cmds.push(c)
            }
        };
        push(self.add_service, Cmd::Add);
        push(self.edit_service, Cmd::Edit);
        push(self.delete_service, Cmd::Del);
        push(self.clear, Cmd::Flush);
        push(self.list_upper || self.list_lower, Cmd::List);
        push(self.add_server, Cmd::AddDest);
        push(self.delete_server, Cmd::DelDest);
        push(self.edit_server, Cmd::EditDest);
        push(self.set.is_some(), Cmd::Timeout);
        push(self.start_daemon.is_some(), Cmd::StartDaemon);
        push(self.stop_daemon.is_some(), Cmd::StopDaemon);
        push(self.restore, Cmd::Restore);
        push(self.save, Cmd::Save);
        push(self.zero, Cmd::Zero);
        if cmds.len() > 1 {
            return usage("multiple commands specified");
        }
        let cmd = cmds.first().copied().unwrap_or(Cmd::List);

        let svc_count = [
            self.tcp.is_some(),
            self.udp.is_some(),
            self.sctp.is_some(),
            self.fwmark.is_some(),
        ]
        .iter()
        .filter(|&&b| b)
        .count();
        if svc_count > 1 {
            return usage("multiple 'service-address' options specified");
        }
        let fwd_count = [self.gatewaying, self.ipip, self.masquerading]
            .iter()
            .filter(|&&b| b)
            .count();
        if fwd_count > 1 {
            return usage("multiple 'forwarding-method' options specified");
        }
        let given = [
            self.numeric,
            self.connection,
            svc_count == 1,
            self.scheduler.is_some(),
            self.persistent.is_some(),
            self.netmask.is_some(),
            self.real_server.is_some(),
            fwd_count == 1,
            self.weight.is_some(),
            self.u_threshold.is_some(),
            self.l_threshold.is_some(),
            self.mcast_interface.is_some(),
            self.timeout,
            self.daemon,
            self.stats,
            self.rate,
            self.thresholds,
            self.persistent_conn,
            self.nosort,
            self.syncid.is_some(),
            self.exact,
            self.ops,
            self.pe.is_some(),
            self.sched_flags.is_some(),
            self.mcast_group.is_some(),
            self.mcast_port.is_some(),
            self.mcast_ttl.is_some(),
            self.sync_maxlen.is_some(),
            self.tun_info,
            self.tun_type.is_some(),
            self.tun_port.is_some(),
            self.tun_nocsum,
            self.tun_csum,
            self.tun_remcsum,
            !self.sync_peer.is_empty(),
        ];
        let rules = RULES[cmd as usize].as_bytes();
        let mut first_excl: Option<usize> = None;
        for (j, &on) in given.iter().enumerate() {
            match (on, rules[j]) {
                (false, b'+') => {
                    return usage(format!(
                        "You need to supply the '{}' option for the '{}' command",
                        OPTNAMES[j],
                        cmd.name()
                    ))
                }
                (true, b'x') => {
                    return usage(format!(
                        "Illegal '{}' option with the '{}' command",
                        OPTNAMES[j],
                        cmd.name()
                    ))
                }
                (true, b'1') => match first_excl {
                    None => first_excl = Some(j),
                    Some(last) => {
                        return usage(format!(
                            "The option '{}' conflicts with the '{}' option in the '{}' command",
                            OPTNAMES[j],
                            OPTNAMES[last],
                            cmd.name()
                        ))
                    }
                },
                _ => {}
            }
        }

        let mut r = Request {
            cmd,
            af: AF_INET,
            protocol: 0,
            addr: None,
            port: 0,
            fwmark: 0,
            sched: String::new(),
            pe: String::new(),
            flags: 0,
            timeout: 0,
            netmask: 0xffff_ffff,
            has_service: svc_count == 1,
            dest: None,
            fwd: conn_flags::DROUTE,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: 0,
            tun_port: 0,
            tun_flags: 0,
            timeouts: [0; 3],
            daemon_state: 0,
            mcast_ifn: String::new(),
            syncid: 0,
            sync_maxlen: 0,
            mcast_group: None,
            mcast_port: 0,
            mcast_ttl: 0,
            sync_peers: Vec::new(),
        };

        for (opt, proto) in [
            (&self.tcp, IPPROTO_TCP),
            (&self.udp, IPPROTO_UDP),
            (&self.sctp, IPPROTO_SCTP),
        ] {
            if let Some(s) = opt {
                r.protocol = proto;
                let hp = parse_hostport(s, proto).ok_or_else(|| {
                    Usage("illegal virtual server address[:port] specified".into())
                })?;
                r.addr = Some(hp.addr);
                r.port = hp.port.unwrap_or(0);
                if hp.addr.is_ipv6() {
                    r.af = AF_INET6;
                    r.netmask = 128;
                }
            }
        }
        if let Some(f) = &self.fwmark {
            r.protocol = IPPROTO_TCP;
            r.fwmark = f
                .parse::<u64>()
                .ok()
                .filter(|&l| l > 0 && l <= u64::from(u32::MAX))
                .ok_or_else(|| Usage(format!("invalid fwmark value `{f}' specified")))?
                as u32;
        }
        if self.ipv6 {
            if r.fwmark == 0 {
                return usage("-6 used before -f");
            }
            r.af = AF_INET6;
            r.netmask = 128;
        }
        if let Some(s) = &self.scheduler {
            r.sched = s.chars().take(15).collect();
        }
        if let Some(p) = &self.persistent {
            r.flags |= svc_flags::PERSISTENT;
            r.timeout = if p.is_empty() {
                300
            } else {
                number(p, 1, 86400 * 31)
                    .ok_or_else(|| Usage(format!("invalid timeout value `{p}' specified")))?
                    as u32
            };
        }
        if let Some(m) = &self.netmask {
            if r.af != AF_INET6 {
                let mask: Ipv4Addr = m.parse().map_err(|_| {
                    Usage("illegal virtual server persistent mask specified".into())
                })?;
                r.netmask = u32::from_ne_bytes(mask.octets());
            } else {
                r.netmask = m
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=128).contains(n))
                    .ok_or_else(|| Usage("illegal ipv6 netmask specified".into()))?;
            }
        }
        if let Some(rs) = &self.real_server {
            let hp = parse_hostport(rs, r.protocol)
                .ok_or_else(|| Usage("illegal real server address[:port] specified".into()))?;
            let af = if hp.addr.is_ipv6() { AF_INET6 } else { AF_INET };
            r.dest = Some((af, hp.addr, hp.port.unwrap_or(r.port)));
        }
        if self.ipip {
            r.fwd = conn_flags::TUNNEL;
        } else if self.masquerading {
            r.fwd = conn_flags::MASQ;
        }
        if let Some(w) = &self.weight {
            r.weight =
                number(w, 0, 65535).ok_or_else(|| Usage("illegal weight specified".into()))? as i32;
        }
        if let Some(x) = &self.u_threshold {
            r.u_threshold = number(x, 0, i32::MAX.into())
                .ok_or_else(|| Usage("illegal u_threshold specified".into()))?
                as u32;
        }
        if let Some(y) = &self.l_threshold {
            r.l_threshold = number(y, 0, i32::MAX.into())
                .ok_or_else(|| Usage("illegal l_threshold specified".into()))?
                as u32;
        }
        if self.ops {
            r.flags |= svc_flags::ONEPACKET;
        }
        if let Some(pe) = &self.pe {
            r.pe = pe.chars().take(16).collect();
        }
        if let Some(t) = &self.tun_type {
            r.tun_type = [tunnel::IPIP, tunnel::GUE, tunnel::GRE]
                .into_iter()
                .find(|&k| tun_name(k) == t)
                .ok_or_else(|| Usage("illegal tunnel type specified".into()))?;
        }
        if let Some(p) = &self.tun_port {
            r.tun_port = number(p, 1, 65535)
                .ok_or_else(|| Usage("illegal tunnel port specified".into()))?
                as u16;
        }
        if self.tun_csum {
            r.tun_flags |= tunnel::CSUM;
        }
        if self.tun_remcsum {
            r.tun_flags |= tunnel::REMCSUM;
        }
        if let Some(v) = &self.set {
            for (i, s) in v.iter().enumerate() {
                r.timeouts[i] = number(s, 0, 86400 * 31)
                    .ok_or_else(|| Usage(format!("invalid timeout value `{s}' specified")))?
                    as u32;
            }
        }
        for (opt, what) in [
            (&self.start_daemon, "start-daemon"),
            (&self.stop_daemon, "start_daemon"),
        ] {
            if let Some(s) = opt {
                r.daemon_state = match s.as_str() {
                    "master" => 1,
                    "backup" => 2,
                    _ => {
                        return usage(if what == "start-daemon" {
                            "illegal start-daemon parameter specified"
                        } else {
                            "illegal start_daemon specified"
                        })
                    }
                };
            }
        }
        if let Some(m) = &self.mcast_interface {
            r.mcast_ifn = m.chars().take(15).collect();
        }
        if let Some(s) = &self.syncid {
            r.syncid =
                number(s, 0, 255).ok_or_else(|| Usage("illegal syncid specified".into()))? as u32;
        }
        // ipvsadm's checks and messages for the daemon's options.
        if let Some(g) = &self.mcast_group {
            let (v6, ok) = if g.contains(':') {
                (true, g.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6))
            } else {
                (false, g.parse::<Ipv4Addr>().ok().map(IpAddr::V4))
            };
            match ok {
                Some(a) if a.is_multicast() => r.mcast_group = Some(a),
                _ => {
                    return usage(format!(
                        "invalid IPv{} mcast-group `{g}'",
                        if v6 { 6 } else { 4 }
                    ))
                }
            }
        }
        if let Some(s) = &self.mcast_port {
            r.mcast_port = number(s, 1, 65535)
                .ok_or_else(|| Usage("illegal mcast-port specified".into()))?
                as u16;
        }
        if let Some(s) = &self.mcast_ttl {
            r.mcast_ttl =
                number(s, 1, 255).ok_or_else(|| Usage("illegal mcast-ttl specified".into()))? as u8;
        }
        if let Some(s) = &self.sync_maxlen {
            r.sync_maxlen = number(s, 1, 65535 - 20 - 8)
                .ok_or_else(|| Usage("illegal sync-maxlen specified".into()))?
                as u16;
        }
        for p in &self.sync_peer {
            match p.parse::<IpAddr>() {
                Ok(a) if !a.is_multicast() && !a.is_unspecified() => r.sync_peers.push(a),
                _ => return usage(format!("invalid sync-peer `{p}'")),
            }
        }
        if let Some(b) = &self.sched_flags {
            let sched = if r.sched.is_empty() {
                "wlc"
            } else {
                r.sched.as_str()
            };
            r.flags &= !(svc_flags::SCHED1 | svc_flags::SCHED2 | svc_flags::SCHED3);
            for flag in b.split(',') {
                let (bit, only) = match flag {
                    "flag-1" => (svc_flags::SCHED1, None),
                    "flag-2" => (svc_flags::SCHED2, None),
                    "flag-3" => (svc_flags::SCHED3, None),
                    "sh-fallback" => (svc_flags::SCHED1, Some("sh")),
                    "sh-port" => (svc_flags::SCHED2, Some("sh")),
                    "mh-fallback" => (svc_flags::SCHED1, Some("mh")),
                    "mh-port" => (svc_flags::SCHED2, Some("mh")),
                    _ => return usage(format!("invalid scheduler flag `{flag}'")),
                };
                if only.is_some_and(|s| s != sched) {
                    return usage(format!("incompatible scheduler flag `{flag}'"));
                }
                r.flags |= bit;
            }
        }

        if matches!(cmd, Cmd::Add | Cmd::Edit) {
            if r.fwmark == 0 && r.port == 0 && r.flags & svc_flags::PERSISTENT == 0 {
                return usage("Zero port specified for non-persistent service");
            }
            if r.flags & svc_flags::ONEPACKET != 0 && r.fwmark == 0 && r.protocol != IPPROTO_UDP {
                return usage("One-Packet Scheduling is only for UDP virtual services");
            }
            if r.sched.is_empty() {
                r.sched = "wlc".into();
            }
        }
        if cmd == Cmd::StartDaemon && r.mcast_ifn.is_empty() {
            r.mcast_ifn = "eth0".into();
        }
        if matches!(cmd, Cmd::AddDest | Cmd::EditDest) {
            if let Some((daf, daddr, dport)) = r.dest {
                let dport =
                    if r.fwmark == 0 && matches!(r.fwd, conn_flags::TUNNEL | conn_flags::DROUTE) {
                        r.port
                    } else {
                        dport
                    };
                r.dest = Some((daf, daddr, dport));
                if daf != r.af && r.fwd != conn_flags::TUNNEL {
                    return usage("Different address family is allowed only for tunneling servers");
                }
            }
            let tun_opts = self.tun_type.is_some()
                || self.tun_port.is_some()
                || self.tun_nocsum
                || self.tun_csum
                || self.tun_remcsum;
            if tun_opts && r.fwd != conn_flags::TUNNEL {
                return usage("Tunnel options conflict with forward method");
            }
            self.check_tunnel_options(r.tun_type)?;
        }
        if cmd == Cmd::List
            && ((self.connection || self.timeout || self.daemon)
                && (self.stats || self.rate || self.thresholds)
                || (self.timeout || self.daemon) && self.persistent_conn)
        {
            return usage("options conflicts in the list command");
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(args: &[&str]) -> Result<Request, Usage> {
        let mut v = vec!["ipvsadm-rs"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v)
            .map_err(|e| Usage(e.to_string()))?
            .request()
    }

    #[test]
    fn add_service_defaults() {
        let r = req(&["-A", "-t", "10.0.0.1:80"]).unwrap();
        assert_eq!(r.cmd, Cmd::Add);
        assert_eq!(r.sched, "wlc");
        assert_eq!(r.port, 80);
        assert_eq!(r.netmask, 0xffff_ffff);
        let r = req(&["-A", "-u", "[2001:db8::1]:53", "-s", "rr", "-p"]).unwrap();
        assert_eq!((r.af, r.timeout, r.netmask), (AF_INET6, 300, 128));
        let r = req(&["-A", "-f", "7", "-6", "-p", "60", "-M", "64"]).unwrap();
        assert_eq!(
            (r.fwmark, r.af, r.netmask, r.timeout),
            (7, AF_INET6, 64, 60)
        );
    }

    #[test]
    fn ipvsadm_rules() {
        assert_eq!(
            req(&["-A", "-r", "1.1.1.1"]),
            Err(Usage(
                "You need to supply the 'service-address' option for the 'add-service' command"
                    .into()
            ))
        );
        assert_eq!(
            req(&["-D", "-t", "1.1.1.1:80", "-s", "rr"]),
            Err(Usage(
                "Illegal 'scheduler' option with the 'delete-service' command".into()
            ))
        );
        assert_eq!(
            req(&["-L", "-c", "--timeout"]),
            Err(Usage(
                "The option 'timeout' conflicts with the 'connection' option in the 'list' command"
                    .into()
            ))
        );
        assert_eq!(
            req(&["-A", "-t", "1.1.1.1"]),
            Err(Usage(
                "Zero port specified for non-persistent service".into()
            ))
        );
        assert_eq!(
            req(&["-A", "-t", "1.1.1.1:80", "-o"]),
            Err(Usage(
                "One-Packet Scheduling is only for UDP virtual services".into()
            ))
        );
        assert_eq!(
            req(&["-a", "-t", "1.1.1.1:80", "-r", "2.2.2.2", "-w", "70000"]),
            Err(Usage("illegal weight specified".into()))
        );
        assert_eq!(
            req(&["-A", "-L"]),
            Err(Usage("multiple commands specified".into()))
        );
    }

    /// ipvsadm's answers to tunnel options (seen in the VM).
    #[test]
    fn tunnel_options_as_ipvsadm() {
        let add = |opts: &str| {
            let mut a = vec!["-a", "-t", "10.0.0.1:80", "-r", "10.0.1.1", "-i"];
            a.extend(opts.split_whitespace());
            req(&a).map(|r| (r.tun_type, r.tun_port, r.tun_flags))
        };
        assert_eq!(add("--tun-type gre"), Ok((tunnel::GRE, 0, 0)));
        assert_eq!(
            add("--tun-type gre --tun-csum"),
            Ok((tunnel::GRE, 0, tunnel::CSUM))
        );
        assert_eq!(add("--tun-type gre --tun-nocsum"), Ok((tunnel::GRE, 0, 0)));
        assert_eq!(
            add("--tun-type gue --tun-port 5000 --tun-remcsum"),
            Ok((tunnel::GUE, 5000, tunnel::REMCSUM))
        );
        let err = |opts: &str, msg: &str| assert_eq!(add(opts), Err(Usage(msg.into())), "{opts}");
        err(
            "--tun-type gre --tun-port 5000",
            "Illegal 'tun-port' option with the 'gre' tunnel type",
        );
        err(
            "--tun-type gre --tun-remcsum",
            "Illegal 'tun-remcsum' option with the 'gre' tunnel type",
        );
        err(
            "--tun-type gre --tun-csum --tun-nocsum",
            "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' tunnel type",
        );
        err(
            "--tun-type gue --tun-port 5000 --tun-csum --tun-remcsum",
            "The option 'tun-remcsum' conflicts with the 'tun-csum' option in the 'gue' tunnel type",
        );
        err(
            "--tun-type gue --tun-port 5000 --tun-nocsum --tun-csum",
            "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gue' tunnel type",
        );
        err(
            "--tun-type ipip --tun-csum",
            "Illegal 'tun-csum' option with the 'ipip' tunnel type",
        );
        err(
            "--tun-type ipip --tun-port 3",
            "Illegal 'tun-port' option with the 'ipip' tunnel type",
        );
        err(
            "--tun-type gue",
            "You need to supply the 'tun-port' option for the 'gue' tunnel type",
        );
    }

    #[test]
    fn dest_port_follows_service_for_dr_and_tunnel() {
        let r = req(&["-a", "-t", "10.0.0.1:80", "-r", "192.168.0.2:8080"]).unwrap();
        assert_eq!(r.dest.unwrap().2, 80);
        let r = req(&["-a", "-t", "10.0.0.1:80", "-r", "192.168.0.2:8080", "-m"]).unwrap();
        assert_eq!(r.dest.unwrap().2, 8080);
        let r = req(&[
            "-a",
            "-t",
            "10.0.0.1:80",
            "-r",
            "192.168.0.2",
            "-m",
            "-w",
            "0",
        ])
        .unwrap();
        assert_eq!((r.dest.unwrap().2, r.weight), (80, 0));
    }

    #[test]
    fn hostport_forms() {
        assert_eq!(parse_hostport("1.2.3.4", 6).unwrap().port, None);
        assert_eq!(parse_hostport("1.2.3.4:8080", 6).unwrap().port, Some(8080));
        assert_eq!(parse_hostport("[::1]:53", 17).unwrap().port, Some(53));
        assert!(parse_hostport("::1", 17).unwrap().addr.is_ipv6());
        assert_eq!(parse_hostport("1234", 6), None);
        assert_eq!(parse_hostport("[::1]53", 6), None);
    }
}
