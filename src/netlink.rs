// SPDX-License-Identifier: GPL-2.0

//! The generic netlink family "IPVS": the control plane `ipvsadm` and
//! keepalived speak. Same commands, attributes, permissions and errors as
//! stock; the configuration logic itself is in [`crate::config`].

use crate::config;
use crate::daemon::{self, DaemonCfg};
use crate::hooks;
use crate::kapi::abi::hz;
use crate::kapi::errno::eopnotsupp;
use crate::kapi::genl::{
    AttrType, Dump, Family, Message, Op, Ops, Permission, Policy, PolicyEntry, Request,
};
use crate::kapi::timer::jiffies;
use crate::netns::IpvsNet;
use crate::nlattr::{self, Attr, Nested, Rule};
use crate::service::{Counters, Dest, Service, SvcKey, AF_INET6};
use crate::sync;
use crate::uapi::{
    cmd, cmd_attr, daemon_attr, dest_attr, info_attr, stats_attr, svc_attr, GENL_VERSION,
    VERSION_CODE,
};
use kernel::prelude::*;

/// The IPVS family.
pub(crate) struct IpvsFamily;

const ATTRS: usize = cmd_attr::MAX as usize + 1;

static POLICY: Policy<ATTRS> = Policy::new([
    AttrType::Unspec, // IPVS_CMD_ATTR_UNSPEC
    AttrType::Nested, // SERVICE
    AttrType::Nested, // DEST
    AttrType::Nested, // DAEMON
    AttrType::U32,    // TIMEOUT_TCP
    AttrType::U32,    // TIMEOUT_TCP_FIN
    AttrType::U32,    // TIMEOUT_UDP
]);

/// [`POLICY`] as the pure checker reads it, for the dump that parses its
/// request itself (`GET_DEST`).
const CMD_RULES: [Rule; ATTRS] = [
    Rule::Any,
    Rule::Nested,
    Rule::Nested,
    Rule::Nested,
    Rule::Int(4),
    Rule::Int(4),
    Rule::Int(4),
];

const fn op(c: u8, doit: bool, dump: bool) -> Op {
    // CAP_NET_ADMIN for every command, reads included, as stock; but in
    // the namespace's own user namespace (stock: the initial one), so a
    // container's root configures its own network namespace.
    Op::new::<IpvsFamily>(c, doit, dump, Permission::NetnsAdmin)
}

static OPS: Ops<16> = Ops::new([
    op(cmd::NEW_SERVICE, true, false),
    op(cmd::SET_SERVICE, true, false),
    op(cmd::DEL_SERVICE, true, false),
    op(cmd::GET_SERVICE, true, true),
    op(cmd::NEW_DEST, true, false),
    op(cmd::SET_DEST, true, false),
    op(cmd::DEL_DEST, true, false),
    op(cmd::GET_DEST, false, true),
    op(cmd::NEW_DAEMON, true, false),
    op(cmd::DEL_DAEMON, true, false),
    op(cmd::GET_DAEMON, false, true),
    op(cmd::SET_CONFIG, true, false),
    op(cmd::GET_CONFIG, true, false),
    op(cmd::GET_INFO, true, false),
    op(cmd::ZERO, true, false),
    op(cmd::FLUSH, true, false),
]);

/// Applies a command that changes services or real servers.
fn apply(ipvs: &IpvsNet, table: &mut config::Table, req: &Request<'_>, c: u8) -> Result {
    let (svc, dest) = (req.attr(cmd_attr::SERVICE), req.attr(cmd_attr::DEST));
    table.empty_trash(jiffies() / u64::from(hz().max(1)));
    table.set_svc_lfactor(ipvs.sysctl(crate::params::Sysctl::SvcLfactor));
    table.set_syncing(ipvs.sync.is_master() || ipvs.sync.is_backup());
    let net = req.net();
    let addr_ok = |af, addr: &_| net.unicast_or_local(af == AF_INET6, addr);
    let res = table
        .apply(c, svc, dest, &addr_ok)
        .map_err(|e| refuse(req, e));
    // Stock queues `ip_vs_expire_nodest_conn_flush` after deleting a
    // real server.
    if table.take_retired() && ipvs.sysctl(crate::params::Sysctl::ExpireNodestConn) != 0 {
        ipvs.conns.expire_nodest();
    }
    // Only service commands change which services use an engine;
    // counting on each of 100k real-server commands would cost.
    if matches!(
        c,
        cmd::NEW_SERVICE | cmd::SET_SERVICE | cmd::DEL_SERVICE | cmd::FLUSH
    ) {
        ipvs.publish_sip_services(table);
    }
    ipvs.publish_services(table, false);
    res
}

/// A `config::Error` as the kernel returns it: errno plus extack text.
fn refuse(req: &Request<'_>, e: config::Error) -> Error {
    req.set_err_msg(e.msg);
    Error::from_errno(-e.errno)
}

fn fill_stats(m: &mut Message<'_>, ty: u16, c: &Counters, wide: bool) -> Result {
    let s = c.snapshot();
    let rates = c.rates();
    m.nest(ty, |m| {
        let pad = stats_attr::PAD;
        if wide {
            m.put_u64(stats_attr::CONNS, s.conns, pad)?;
            m.put_u64(stats_attr::INPKTS, s.inpkts, pad)?;
            m.put_u64(stats_attr::OUTPKTS, s.outpkts, pad)?;
        } else {
            // The 32-bit attribute truncates, as stock's does.
            m.put_u32(stats_attr::CONNS, s.conns as u32)?;
            m.put_u32(stats_attr::INPKTS, s.inpkts as u32)?;
            m.put_u32(stats_attr::OUTPKTS, s.outpkts as u32)?;
        }
        m.put_u64(stats_attr::INBYTES, s.inbytes, pad)?;
        m.put_u64(stats_attr::OUTBYTES, s.outbytes, pad)?;
        let types = [
            stats_attr::CPS,
            stats_attr::INPPS,
            stats_attr::OUTPPS,
            stats_attr::INBPS,
            stats_attr::OUTBPS,
        ];
        for (t, r) in types.into_iter().zip(rates) {
            if wide {
                m.put_u64(t, r, pad)?;
            } else {
                m.put_u32(t, r as u32)?;
            }
        }
        Ok(())
    })
}

fn fill_service(m: &mut Message<'_>, s: &Service) -> Result {
    m.nest(cmd_attr::SERVICE, |m| {
        m.put_u16(svc_attr::AF, s.key.af())?;
        match s.key {
            SvcKey::Fwmark { mark, .. } => m.put_u32(svc_attr::FWMARK, mark)?,
            SvcKey::Tuple {
                protocol,
                addr,
                port,
                ..
            } => {
                m.put_u16(svc_attr::PROTOCOL, protocol)?;
                m.put(svc_attr::ADDR, &addr)?;
                m.put(svc_attr::PORT, &port)?;
            }
        }
        let mut name = [0u8; 16];
        let n = s.sched_name().as_bytes();
        name[..n.len()].copy_from_slice(n);
        m.put(svc_attr::SCHED_NAME, &name[..=n.len()])?;
        if let Some(pe) = &s.pe {
            m.put(svc_attr::PE_NAME, pe.with_nul())?;
        }
        let mut flags = [0u8; 8];
        flags[..4].copy_from_slice(&s.flags.to_ne_bytes());
        flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
        m.put(svc_attr::FLAGS, &flags)?;
        m.put_u32(svc_attr::TIMEOUT, s.timeout)?;
        m.put_u32(svc_attr::NETMASK, s.netmask)?;
        fill_stats(m, svc_attr::STATS, &s.stats, false)?;
        fill_stats(m, svc_attr::STATS64, &s.stats, true)
    })
}

fn fill_dest(m: &mut Message<'_>, d: &Dest) -> Result {
    m.nest(cmd_attr::DEST, |m| {
        m.put(dest_attr::ADDR, &d.addr)?;
        m.put(dest_attr::PORT, &d.port)?;
        m.put_u32(dest_attr::FWD_METHOD, d.fwd)?;
        m.put_u32(dest_attr::WEIGHT, d.weight as u32)?;
        m.put_u8(dest_attr::TUN_TYPE, d.tun_type)?;
        m.put(dest_attr::TUN_PORT, &d.tun_port)?;
        m.put_u16(dest_attr::TUN_FLAGS, d.tun_flags)?;
        m.put_u32(dest_attr::U_THRESH, d.u_threshold)?;
        m.put_u32(dest_attr::L_THRESH, d.l_threshold)?;
        m.put_u32(dest_attr::ACTIVE_CONNS, d.active())?;
        m.put_u32(dest_attr::INACT_CONNS, d.inactive())?;
        m.put_u32(dest_attr::PERSIST_CONNS, d.persist())?;
        m.put_u16(dest_attr::ADDR_FAMILY, d.af)?;
        fill_stats(m, dest_attr::STATS, &d.shared.stats, false)?;
        fill_stats(m, dest_attr::STATS64, &d.shared.stats, true)
    })
}

fn fill_daemon(m: &mut Message<'_>, state: u32, c: &DaemonCfg) -> Result {
    m.nest(cmd_attr::DAEMON, |m| {
        m.put_u32(daemon_attr::STATE, state)?;
        let name = c.ifname();
        let mut buf = [0u8; 16];
        buf[..name.len()].copy_from_slice(name);
        m.put(daemon_attr::MCAST_IFN, &buf[..=name.len()])?;
        m.put_u32(daemon_attr::SYNC_ID, c.syncid)?;
        m.put_u16(daemon_attr::SYNC_MAXLEN, c.sync_maxlen)?;
        m.put_u16(daemon_attr::MCAST_PORT, c.port)?;
        m.put_u8(daemon_attr::MCAST_TTL, c.ttl)?;
        let len = if c.peer_af == AF_INET6 { 16 } else { 4 };
        for p in c.peers() {
            m.put(daemon_attr::RS_PEER, &p[..len])?;
        }
        if c.mcast_af == AF_INET6 {
            m.put(daemon_attr::MCAST_GROUP6, &c.group)
        } else {
            m.put(daemon_attr::MCAST_GROUP, &c.group[..4])
        }
    })
}

/// `IPVS_CMD_SET_CONFIG`: each timeout present and non-zero is set, if
/// all are in range (see [`config::Timeouts::set`]).
fn set_config(req: &Request<'_>, t: &mut config::Timeouts) -> Result {
    let given = [
        cmd_attr::TIMEOUT_TCP,
        cmd_attr::TIMEOUT_TCP_FIN,
        cmd_attr::TIMEOUT_UDP,
    ]
    .map(|ty| req.attr(ty).and_then(|a| a.u32()));
    *t = t.set(given, hz()).map_err(|e| refuse(req, e))?;
    Ok(())
}

impl Family for IpvsFamily {
    const NAME: &'static core::ffi::CStr = c"IPVS";
    const VERSION: u32 = GENL_VERSION as u32;
    const RESV_START_OP: u8 = cmd::FLUSH + 1;
    const ATTRS: usize = ATTRS;

    fn policy() -> &'static [PolicyEntry] {
        POLICY.as_slice()
    }

    fn ops() -> &'static [Op] {
        OPS.as_slice()
    }

    fn doit(c: u8, req: &mut Request<'_>) -> Result {
        let ipvs = IpvsNet::get(req.net()).ok_or(ENOENT)?;
        if c == cmd::GET_INFO {
            // The namespace's table as it is now (upstream since 2026;
            // stock 6.12 gives its fixed size).
            let size = ipvs.conns.size();
            return req.reply(cmd::SET_INFO, |m| {
                m.put_u32(info_attr::VERSION, VERSION_CODE)?;
                m.put_u32(info_attr::CONN_TAB_SIZE, size)
            });
        }
        if config::adds_ipv6(c, req.attr(cmd_attr::SERVICE), req.attr(cmd_attr::DEST)) {
            // Before the lock: this may sleep.
            if let Err(e) = ipvs.defrag6.enable() {
                req.set_err_msg(c"ipvs_rs: cannot enable IPv6 reassembly");
                return Err(e);
            }
        }
        if let Some(af) =
            config::ftp_needs_conntrack(c, req.attr(cmd_attr::SERVICE), req.attr(cmd_attr::DEST))
        {
            // Before the lock: this may sleep. Failure is not the
            // request's (stock ignores it too).
            let _ = ipvs.ftp_ct[usize::from(af == AF_INET6)].enable();
        }
        if matches!(c, cmd::NEW_SERVICE | cmd::DEL_SERVICE | cmd::FLUSH) {
            let adds = (c == cmd::NEW_SERVICE)
                .then(|| config::adds_ipv6(c, req.attr(cmd_attr::SERVICE), None));
            let mut ran = false;
            let res = hooks::follow_services(ipvs, adds, || {
                ran = true;
                let mut table = ipvs.config.lock();
                let res = apply(ipvs, &mut table, req, c);
                (res, table.families())
            });
            if res.is_err() && !ran {
                req.set_err_msg(c"ipvs_rs: cannot attach the netfilter hooks");
            }
            return res;
        }
        let mut table = ipvs.config.lock();
        match c {
            cmd::GET_SERVICE => {
                let svc = match table.lookup(req.attr(cmd_attr::SERVICE)) {
                    Ok(Some(s)) => s,
                    Ok(None) => {
                        return Err(refuse(
                            req,
                            config::Error {
                                errno: 3,
                                msg: c"ipvs: no such service",
                            },
                        ))
                    }
                    Err(e) => return Err(refuse(req, e)),
                };
                req.reply(cmd::NEW_SERVICE, |m| fill_service(m, &svc.lock()))
            }
            cmd::GET_CONFIG => {
                let t = table.timeouts;
                req.reply(cmd::SET_CONFIG, |m| {
                    m.put_u32(cmd_attr::TIMEOUT_TCP, t.tcp)?;
                    m.put_u32(cmd_attr::TIMEOUT_TCP_FIN, t.tcp_fin)?;
                    m.put_u32(cmd_attr::TIMEOUT_UDP, t.udp)
                })
            }
            cmd::SET_CONFIG => {
                set_config(req, &mut table.timeouts)?;
                ipvs.publish_timeouts(&table.timeouts);
                Ok(())
            }
            cmd::NEW_DAEMON | cmd::DEL_DAEMON => {
                let mixed = table.has_mixed_families();
                // The daemons have their own (sleeping) lock.
                drop(table);
                let nest = req.attr(cmd_attr::DAEMON);
                let res = if c == cmd::NEW_DAEMON {
                    match daemon::parse_new(nest) {
                        // The sync messages carry one family per
                        // connection (stock: `mixed_address_family_dests`).
                        Ok(_) if mixed => Err((
                            EINVAL,
                            c"ipvs: no sync daemon while a service has real servers of another family",
                        )),
                        Ok((state, cfg)) => sync::start(ipvs, req.net(), state, cfg),
                        Err(e) => return Err(refuse(req, e)),
                    }
                } else {
                    match daemon::parse_del(nest) {
                        Ok(state) => ipvs.sync.stop(state),
                        Err(e) => return Err(refuse(req, e)),
                    }
                };
                res.map_err(|(e, msg)| {
                    req.set_err_msg(msg);
                    e
                })
            }
            _ => apply(ipvs, &mut table, req, c),
        }
    }

    fn dumpit(c: u8, dump: &mut Dump<'_>) -> Result {
        let ipvs = IpvsNet::get(dump.net()).ok_or(ENOENT)?;
        if c == cmd::GET_DAEMON {
            // Master, then backup; the cursor marks those sent.
            for (i, d) in ipvs.sync.configs().into_iter().enumerate() {
                let Some((state, cfg)) = d else {
                    continue;
                };
                if dump.cursor()[i] != 0 {
                    continue;
                }
                if !dump.add(cmd::NEW_DAEMON, |m| fill_daemon(m, state, &cfg))? {
                    break;
                }
                dump.cursor()[i] = 1;
            }
            return Ok(());
        }
        let table = ipvs.config.lock();
        match c {
            cmd::GET_SERVICE => {
                let start = dump.cursor()[0] as usize;
                for (i, s) in table.services().iter().enumerate().skip(start) {
                    if !dump.add(cmd::NEW_SERVICE, |m| fill_service(m, &s.lock()))? {
                        break;
                    }
                    dump.cursor()[0] = (i + 1) as _;
                }
                Ok(())
            }
            cmd::GET_DEST => {
                // The service comes in the request, parsed here as stock
                // does (dumps skip the family policy): a request that
                // fails the policy lists nothing, a malformed tail is
                // ignored.
                let attrs = dump.request_attrs();
                if !nlattr::valid(attrs, &CMD_RULES) {
                    return Ok(());
                }
                let mut svc_attr_run = None;
                for a in Nested::new(attrs) {
                    match a {
                        Ok((cmd_attr::SERVICE, a)) => svc_attr_run = Some(a),
                        Ok(_) => {}
                        Err(()) => break,
                    }
                }
                let Ok(Some(svc)) = table.lookup(svc_attr_run.map(|a: Attr<'_>| a)) else {
                    // No such service: an empty listing, as stock.
                    return Ok(());
                };
                let start = dump.cursor()[0] as usize;
                let svc = svc.lock();
                for (i, d) in svc.dests.iter().enumerate().skip(start) {
                    if !dump.add(cmd::NEW_DEST, |m| fill_dest(m, d))? {
                        break;
                    }
                    dump.cursor()[0] = (i + 1) as _;
                }
                Ok(())
            }
            _ => Err(eopnotsupp()),
        }
    }
}

const _: () = assert!(AF_INET6 == 10);
