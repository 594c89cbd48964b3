// SPDX-License-Identifier: GPL-2.0

//! New connections: scheduled for a client's first packet
//! (`ip_vs_schedule`, `ip_vs_sched_persist`), or started by a real server
//! (`ip_vs_new_conn_out`, here for every UDP service with `conn_out`).

use crate::conn::{
    ConnRef, InUse, Lookup, NewConn, OnePacket, LOCAL_REPLY, NOOUTPUT, OPS_TEMPLATE,
};
use crate::ftp;
use crate::kapi::abi::hz;
use crate::kapi::net::Net;
use crate::kapi::netfilter::Verdict;
use crate::kapi::rhash::ReadSide;
use crate::kapi::skb::Packet;
use crate::list::Shared;
use crate::nat::UDP;
use crate::netns::IpvsNet;
use crate::packet::{addr16, Parsed};
use crate::params::Sysctl;
use crate::sctp::Event;
use crate::service::{Addr, Counters, Dest, DestShared, Service, SvcKey, AF_INET6};
use crate::sip;
use crate::uapi::conn_flags;
use kernel::prelude::*;

/// Timeout of a connection until its first state change, seconds.
const INITIAL_TIMEOUT: u32 = 3;

/// The client's network for persistence (`ip_vs_addr_set` with the
/// service netmask): IPv4 masks with the stored network-order mask,
/// IPv6 with a prefix length.
fn client_net(af: u16, addr: &Addr, netmask: u32) -> Addr {
    let mut net = [0u8; 16];
    if af == AF_INET6 {
        let bits = netmask.min(128) as usize;
        for (i, b) in net.iter_mut().enumerate() {
            let keep = bits.saturating_sub(i * 8).min(8);
            let mask = if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
            *b = addr[i] & mask;
        }
    } else {
        let mask = netmask.to_ne_bytes();
        for i in 0..4 {
            net[i] = addr[i] & mask[i];
        }
    }
    net
}

/// A real server picked for a new connection.
struct Pick {
    addr: Addr,
    port: [u8; 2],
    fwd: u32,
    dest: Shared<DestShared>,
}

impl Pick {
    fn of(d: &Dest) -> Self {
        Self {
            addr: d.addr,
            port: d.port,
            fwd: d.fwd,
            dest: d.shared.clone(),
        }
    }
}

/// What a persistence template stands for: clients of one network (the
/// service's netmask) on one virtual service,
/// `<protocol, client net, 0, vaddr, vport>`.
struct Template {
    af: u16,
    protocol: u8,
    cnet: Addr,
    vaddr: Addr,
    vport: [u8; 2],
    /// The SIP Call-ID, for `--pe sip` services' packets that carry one.
    call_id: Option<KVec<u8>>,
    /// The packet's firewall mark.
    fwmark: u32,
    /// Whether the template names the real server's port: not for
    /// port-zero, fwmark and FTP services, as stock.
    names_port: bool,
}

/// Stock's `FTPPORT`: templates of a port-21 service leave out ports, so
/// that the FTP data connections share them.
const FTP_PORT: [u8; 2] = ftp::CONTROL_PORT.to_be_bytes();
/// Stock's `FTPDATA`.
const FTP_DATA_PORT: [u8; 2] = ftp::DATA_PORT.to_be_bytes();

impl Template {
    /// The template of `client` talking to `vaddr:vport` of `svc`
    /// (`ip_vs_conn_fill_param_persist`). A `--pe sip` service keys it by
    /// the packet's SIP Call-ID too; without one there is none (stock's
    /// `ip_vs_sip_fill_param` fails, and the packet starts nothing).
    fn new(
        svc: &Service,
        pkt: (&Packet<'_>, &Parsed),
        client: &Addr,
        vaddr: &Addr,
        vport: [u8; 2],
    ) -> Option<Self> {
        let protocol = pkt.1.protocol;
        let call_id = if svc.pe_sip() {
            Some(sip_call_id(pkt.0, pkt.1)?)
        } else {
            None
        };
        let af = svc.key.af();
        // `ip_vs_sched_persist`: the ports are named only if the packet's
        // is the service's (and not FTP's).
        let svc_port = svc.key.port();
        let names_port = vport == svc_port && svc_port != FTP_PORT;
        let vport = if names_port { svc_port } else { [0, 0] };
        let (protocol, vaddr) = match svc.key {
            SvcKey::Fwmark { mark, .. } => (0, addr16(mark.to_be_bytes())),
            SvcKey::Tuple { .. } => (protocol, *vaddr),
        };
        Some(Self {
            af,
            protocol,
            cnet: client_net(af, client, svc.netmask),
            vaddr,
            vport,
            call_id,
            fwmark: pkt.0.mark(),
            names_port,
        })
    }

    /// The live template, if usable (`ip_vs_check_template`).
    fn find(&self, ipvs: &IpvsNet) -> Option<ConnRef> {
        let quiescent = ipvs.sysctl(Sysctl::ExpireQuiescentTemplate) != 0;
        ipvs.conns
            .lookup_template(
                self.af,
                self.protocol,
                &self.cnet,
                &self.vaddr,
                self.vport,
                self.call_id.as_deref(),
            )
            .filter(|t| t.template_usable(quiescent))
    }

    /// A new template pointing at `pick`.
    fn create(self, ipvs: &IpvsNet, svc: &Service, pick: &Pick) -> Result<ConnRef, Verdict> {
        ipvs.conns
            .as_ref()
            .create(NewConn {
                af: self.af,
                protocol: self.protocol,
                caddr: self.cnet,
                cport: [0, 0],
                vaddr: self.vaddr,
                vport: self.vport,
                daddr: pick.addr,
                dport: if self.names_port { pick.port } else { [0, 0] },
                flags: if svc.one_packet() {
                    conn_flags::TEMPLATE | OPS_TEMPLATE
                } else {
                    conn_flags::TEMPLATE
                },
                timeout: svc.timeout.saturating_mul(hz()),
                dest: pick.dest.clone(),
                svc_stats: svc.stats.clone(),
                control: None,
                pe_data: self.call_id,
                fwmark: self.fwmark,
            })
            .map_err(|_| Verdict::Drop)
    }
}

/// The Call-ID of a UDP packet's SIP message (`ip_vs_sip_fill_param`).
fn sip_call_id(pkt: &Packet<'_>, p: &Parsed) -> Option<KVec<u8>> {
    const UDP_HDRLEN: usize = 8;
    if p.protocol != UDP {
        return None;
    }
    let at = p.hdr.len() + UDP_HDRLEN;
    let len = (pkt.len() as usize).checked_sub(at).filter(|&l| l > 0)?;
    let mut payload = KVec::from_elem(0u8, len, GFP_ATOMIC).ok()?;
    if !pkt.read_into(at, &mut payload) {
        return None;
    }
    let id = sip::call_id(&payload)?;
    let mut out = KVec::with_capacity(id.len(), GFP_ATOMIC).ok()?;
    out.extend_from_slice(id, GFP_ATOMIC).ok()?;
    Some(out)
}

/// The client and virtual ends of a new connection.
struct Ends {
    /// The client is on this host.
    local: bool,
    fwmark: u32,
    af: u16,
    caddr: Addr,
    cport: [u8; 2],
    vaddr: Addr,
    vport: [u8; 2],
}

/// Creates the connection of `ends` to `pick`, counted as a new one; a
/// one-packet connection in `slot`.
#[allow(clippy::too_many_arguments)]
fn create<'a>(
    ipvs: &IpvsNet,
    protocol: u8,
    ends: Ends,
    pick: Pick,
    one_packet: bool,
    svc_stats: Shared<Counters>,
    control: Option<ConnRef>,
    slot: &'a mut OnePacket,
) -> Result<InUse<'a>, Verdict> {
    let mut flags = pick.fwd;
    if pick.fwd != conn_flags::MASQ {
        flags |= NOOUTPUT;
    }
    if one_packet {
        flags |= conn_flags::ONE_PACKET;
    }
    if ends.local && pick.fwd == conn_flags::MASQ {
        // Its replies come to `LOCAL_IN`.
        flags |= LOCAL_REPLY;
    }
    if ipvs.sysctl(Sysctl::Conntrack) != 0 {
        flags |= conn_flags::NFCT;
    }
    pick.dest.stats.count_conn();
    svc_stats.count_conn();
    ipvs.totals.count_conn();
    let n = NewConn {
        af: ends.af,
        protocol,
        caddr: ends.caddr,
        cport: ends.cport,
        vaddr: ends.vaddr,
        vport: ends.vport,
        daddr: pick.addr,
        // A real server without port takes the virtual one.
        dport: if pick.port == [0, 0] {
            ends.vport
        } else {
            pick.port
        },
        flags,
        timeout: INITIAL_TIMEOUT * hz(),
        dest: pick.dest,
        svc_stats,
        control,
        pe_data: None,
        fwmark: ends.fwmark,
    };
    make(ipvs, n, slot)
}

/// Makes the connection `n`: in `slot` if it is a one-packet one.
fn make<'a>(ipvs: &IpvsNet, n: NewConn, slot: &'a mut OnePacket) -> Result<InUse<'a>, Verdict> {
    let table = ipvs.conns.as_ref();
    if n.flags & conn_flags::ONE_PACKET != 0 {
        return Ok(InUse::OnePacket(table.create_one_packet(slot, n)));
    }
    table
        .create(n)
        .map(InUse::Counted)
        .map_err(|_| Verdict::Drop)
}

/// Schedules a new connection for a packet to a virtual service
/// (`ip_vs_schedule`, `ip_vs_sched_persist`), from a client on this host
/// if `local`. `Ok(None)`: not ours; `Err`: the verdict to return. A
/// one-packet connection lives in `slot`.
pub(crate) fn schedule<'a>(
    ipvs: &IpvsNet,
    net: &Net,
    pkt: &Packet<'_>,
    p: &Parsed,
    local: bool,
    slot: &'a mut OnePacket,
) -> Result<Option<InUse<'a>>, Verdict> {
    schedule_as(ipvs, pkt, p, local, net, false, slot)
}

/// [`schedule`] for the flow an ICMP error `pkt` from a client quotes
/// (`schedule_icmp`), `p` the client's side of it: as stock, whatever
/// the quoted packet's TCP flags or SCTP chunks. A `--pe sip` service
/// finds no Call-ID in an ICMP error and schedules nothing.
pub(crate) fn schedule_for_icmp<'a>(
    ipvs: &IpvsNet,
    net: &Net,
    pkt: &Packet<'_>,
    p: &Parsed,
    local: bool,
    slot: &'a mut OnePacket,
) -> Result<Option<InUse<'a>>, Verdict> {
    schedule_as(ipvs, pkt, p, local, net, true, slot)
}

/// [`schedule`], or [`schedule_for_icmp`] with `icmp`.
fn schedule_as<'a>(
    ipvs: &IpvsNet,
    pkt: &Packet<'_>,
    p: &Parsed,
    local: bool,
    net: &Net,
    icmp: bool,
    slot: &'a mut OnePacket,
) -> Result<Option<InUse<'a>>, Verdict> {
    // Where the packet came in, for a bypass (never an ICMP error's).
    let bypass_net = (!icmp).then_some(net);
    let af = p.af;
    let rcu = pkt.rcu();
    let mark = pkt.mark();
    let Some(node) = ipvs.find_service(&rcu, |s| {
        s.find_for_packet(af, p.protocol, &p.daddr, p.dport, mark, |port| {
            ftp_data_port(Some(net), port)
        })
    }) else {
        return Ok(None);
    };
    // The service's lock, held while it schedules (and finds or makes the
    // client's template, so that one client gets one).
    let mut svc = node.lock();
    if svc.gone {
        return Ok(None);
    }
    // An active FTP data connection from a real server is never
    // scheduled (stock: `FTPDATA`, whatever the service); through NAT
    // the FTP helper made its connection already.
    if p.sport == FTP_DATA_PORT {
        return Ok(None);
    }
    // Only a SYN opens a TCP connection, an INIT an SCTP one, unless
    // sloppy; a RST or an ABORT never does (stock: `tcp_conn_schedule`).
    let tcp_refused = p
        .tcp_flags
        .is_some_and(|f| f.rst || (!f.syn && ipvs.sysctl(Sysctl::SloppyTcp) == 0));
    let sctp_refused = p.sctp_event.is_some_and(|e| {
        e == Event::Abort || (e != Event::Init && ipvs.sysctl(Sysctl::SloppySctp) == 0)
    });
    if tcp_refused || sctp_refused {
        return Ok(None);
    }
    // Under memory pressure (`drop_packet`), one in so many goes.
    if ipvs.defense.todrop() {
        return Err(Verdict::Drop);
    }
    let mut control = None;
    let pick = if svc.persistent() {
        // No ICMP error for a SIP packet without Call-ID, as stock.
        if icmp && svc.pe_sip() {
            return Err(Verdict::Drop);
        }
        let t = Template::new(&svc, (pkt, p), &p.saddr, &p.daddr, p.dport).ok_or(Verdict::Drop)?;
        let existing = t.find(ipvs).and_then(|tmpl| {
            let d = svc.dest_shared(&tmpl.dest)?;
            Some((Pick::of(d), tmpl))
        });
        let (mut pick, tmpl) = match existing {
            Some(found) => found,
            None => {
                let Some(d) = svc.schedule(&p.saddr, p.sport, &p.daddr, ipvs) else {
                    let bypass = Bypass::of(&svc, bypass_net);
                    drop(svc);
                    return leave(ipvs, pkt, p, bypass, slot);
                };
                let pick = Pick::of(d);
                let tmpl = t.create(ipvs, &svc, &pick)?;
                (pick, tmpl)
            }
        };
        tmpl.use_template(svc.timeout.saturating_mul(hz()));
        control = Some(tmpl);
        // The connection goes to the packet's port unless it is the
        // service's and the real server has one (stock's persistent
        // path; `ip_vs_schedule` prefers the real server's always).
        if p.dport != svc.key.port() || pick.port == [0, 0] {
            pick.port = p.dport;
        }
        pick
    } else if !matches!(svc.key, SvcKey::Fwmark { .. }) && p.dport != svc.key.port() {
        // Only a persistent service takes other ports (its port-zero
        // or FTP data connections); stock leaves such packets alone
        // for an FTP service (a data connection its helper does not
        // know), else refuses them.
        if svc.key.port() == FTP_PORT {
            return Ok(None);
        }
        let bypass = Bypass::of(&svc, bypass_net);
        drop(svc);
        return leave(ipvs, pkt, p, bypass, slot);
    } else {
        match svc.schedule(&p.saddr, p.sport, &p.daddr, ipvs) {
            Some(d) => Pick::of(d),
            None => {
                let bypass = Bypass::of(&svc, bypass_net);
                drop(svc);
                return leave(ipvs, pkt, p, bypass, slot);
            }
        }
    };
    let one_packet = svc.one_packet() && p.protocol == UDP;
    let svc_stats = svc.stats.clone();
    drop(svc);
    let ends = Ends {
        local,
        fwmark: pkt.mark(),
        af,
        caddr: p.saddr,
        cport: p.sport,
        vaddr: p.daddr,
        vport: p.dport,
    };
    create(
        ipvs, p.protocol, ends, pick, one_packet, svc_stats, control, slot,
    )
    .map(Some)
}

/// Whether a TCP packet to `port` may belong to a data connection of an
/// FTP service of its address (stock's `ip_vs_service_find`): port 20,
/// or one any user of `net` may bind (without `net`: from 1024 on,
/// the default).
pub(crate) fn ftp_data_port(net: Option<&Net>, port: u16) -> bool {
    port == ftp::DATA_PORT
        || match net {
            Some(net) => !net.port_privileged(port),
            None => port >= 1024,
        }
}

/// A client's first packet to a connection that waited for its port
/// (an FTP passive data connection, found by
/// [`ConnTable::lookup_in_no_cport`]): a copy with the port takes its
/// place (stock fills the port in). If another CPU's packet did it
/// first, the copy is looked up.
///
/// [`ConnTable::lookup_in_no_cport`]: crate::conn::ConnTable::lookup_in_no_cport
pub(crate) fn fill_cport<'a>(
    ipvs: &'a IpvsNet,
    rcu: &'a impl ReadSide,
    cp: InUse<'a>,
    l: &Lookup<'_>,
) -> Option<InUse<'a>> {
    if !cp.take_no_cport() {
        drop(cp);
        return ipvs.conns.lookup_in(rcu, l);
    }
    let n = cp.with_cport(l.sport);
    let (listening, timeout) = (cp.tcp_listening(), n.timeout);
    // The copy takes the conntrack entry over (there is none yet).
    cp.leave_conntrack();
    cp.expire_now();
    let c = ipvs.conns.as_ref().create(n).ok()?;
    if listening {
        c.tcp_listen(timeout);
    }
    Some(InUse::Counted(c))
}

/// What [`leave`] needs to know of a service that has no real server
/// for a packet: where it came in if it may bypass (a fwmark service, a
/// packet that is no ICMP error), and whether it schedules one packet at
/// a time.
struct Bypass<'a> {
    net: Option<&'a Net>,
    one_packet: bool,
}

impl<'a> Bypass<'a> {
    fn of(svc: &Service, net: Option<&'a Net>) -> Self {
        Self {
            net: net.filter(|_| matches!(svc.key, SvcKey::Fwmark { .. })),
            one_packet: svc.one_packet(),
        }
    }
}

/// No real server takes the packet (`ip_vs_leave`). With `cache_bypass`
/// a fwmark service's packet to a unicast address of another host goes
/// on there, by a connection without real server that its flow's next
/// packets follow (neither counted on the service nor in the totals, as
/// stock); otherwise the client is told (ICMP port unreachable) and the
/// packet dropped.
fn leave<'a>(
    ipvs: &IpvsNet,
    pkt: &Packet<'_>,
    p: &Parsed,
    b: Bypass<'_>,
    slot: &'a mut OnePacket,
) -> Result<Option<InUse<'a>>, Verdict> {
    let ipv6 = p.af == AF_INET6;
    let bypass = b
        .net
        .is_some_and(|net| ipvs.sysctl(Sysctl::CacheBypass) != 0 && net.is_unicast(ipv6, &p.daddr));
    if !bypass {
        pkt.icmp_port_unreach(ipv6);
        return Err(Verdict::Drop);
    }
    let mut flags = conn_flags::BYPASS;
    if b.one_packet && p.protocol == UDP {
        flags |= conn_flags::ONE_PACKET;
    }
    if ipvs.sysctl(Sysctl::Conntrack) != 0 {
        flags |= conn_flags::NFCT;
    }
    let n = NewConn {
        af: p.af,
        protocol: p.protocol,
        caddr: p.saddr,
        cport: p.sport,
        vaddr: p.daddr,
        vport: p.dport,
        daddr: [0; 16],
        dport: [0, 0],
        flags,
        timeout: INITIAL_TIMEOUT * hz(),
        dest: ipvs.bypass.clone(),
        svc_stats: ipvs.bypass_stats.clone(),
        control: None,
        pe_data: None,
        fwmark: pkt.mark(),
    };
    make(ipvs, n, slot).map(Some)
}

/// A UDP packet from a real server that matches no connection: with the
/// `conn_out` knob on (or for `--pe sip` services, as stock), the
/// connection it starts, as if its peer had started it from the outside
/// (`ip_vs_new_conn_out`). The real server's service decides
/// ([`crate::svc_index::Services::find_real_service`]); persistent services get
/// a template first, so that the client's next connections stick.
///
/// Stock leaves out fwmark and port-less services, whose virtual address
/// or port it does not know. Here the packet's source port stands for a
/// missing virtual port, and a fwmark service shows the address the
/// director sends from to the client (as `MASQUERADE` would).
/// A one-packet connection lives in `slot`.
pub(crate) fn conn_out<'a>(
    ipvs: &IpvsNet,
    pkt: &Packet<'_>,
    p: &Parsed,
    slot: &'a mut OnePacket,
) -> Option<InUse<'a>> {
    let any = ipvs.sysctl(Sysctl::ConnOut) != 0;
    if p.protocol != UDP || !(any || ipvs.has_sip_services()) {
        return None;
    }
    let rcu = pkt.rcu();
    let node = ipvs.find_service(&rcu, |s| {
        s.find_real_service(p.af, p.protocol, &p.saddr, p.sport)
    })?;
    let svc = node.lock();
    let d = svc
        .nat_dest(p.af, &p.saddr, p.sport)
        .filter(|_| !svc.gone)?;
    if !(any || svc.pe_sip()) {
        return None;
    }
    let (vaddr, vport) = match svc.key {
        SvcKey::Tuple { addr, port, .. } => (addr, port),
        SvcKey::Fwmark { .. } => (pkt.route_saddr(p.af == AF_INET6)?, [0, 0]),
    };
    let vport = if vport == [0, 0] { p.sport } else { vport };
    let pick = Pick {
        // The port the real server speaks from.
        port: p.sport,
        ..Pick::of(d)
    };
    let mut control = None;
    if svc.persistent() {
        let t = Template::new(&svc, (pkt, p), &p.daddr, &vaddr, vport)?;
        let tmpl = match t.find(ipvs) {
            Some(tmpl) if Shared::ptr_eq(&tmpl.dest, &pick.dest) => tmpl,
            found => {
                // One pointing elsewhere gives way (stock:
                // `ip_vs_check_template` with the real server).
                if let Some(old) = found {
                    old.invalidate();
                }
                t.create(ipvs, &svc, &pick).ok()?
            }
        };
        tmpl.use_template(svc.timeout.saturating_mul(hz()));
        control = Some(tmpl);
    }
    let one_packet = svc.one_packet();
    let svc_stats = svc.stats.clone();
    drop(svc);
    let ends = Ends {
        // Started by a real server's packet passing through.
        local: false,
        fwmark: pkt.mark(),
        af: p.af,
        caddr: p.daddr,
        cport: p.dport,
        vaddr,
        vport,
    };
    create(
        ipvs, p.protocol, ends, pick, one_packet, svc_stats, control, slot,
    )
    .ok()
}
