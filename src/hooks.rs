// SPDX-License-Identifier: GPL-2.0

//! The netfilter hooks: where packets meet the connection table
//! (`ip_vs_in` and `ip_vs_out` of stock's `ip_vs_core.c`).
//!
//! Requests from clients arrive at `LOCAL_IN` (the virtual address is
//! local), or at `LOCAL_OUT` from clients on this host, find or create
//! their connection and leave through [`xmit`]. Replies of NAT
//! connections pass the director at `FORWARD` (or reach `LOCAL_IN` for a
//! client on this host), where their source becomes the virtual address
//! again.

use crate::conn::{self, InUse, Lookup, OnePacket};
use crate::kapi::abi::hz;
use crate::kapi::netfilter::{
    Family, Hook, HookOps, HookPoint, HookSpec, HookState, OnDemand, Verdict,
};
use crate::kapi::skb::Packet;
use crate::nat::{self, IcmpError, AH, ESP, ICMP, ICMPV6, IKE_PORT, SCTP, TCP, UDP};
use crate::netns::IpvsNet;
use crate::newconn;
use crate::packet::{self, addr16, Hdr, Ipv4Header, Ipv6Header, Parsed, IPV4_HDRLEN, IPV6_HDRLEN};
use crate::params::Sysctl;
use crate::sctp::{self, Event};
use crate::service::{Addr, AF_INET, AF_INET6};
use crate::state::{Dir, Flags};
use crate::sync;
use crate::uapi::conn_flags;
use crate::xmit;
use core::sync::atomic::Ordering;
use kernel::error::Result;

/// `NF_IP_PRI_NAT_SRC`/`NF_IP6_PRI_NAT_SRC`.
const PRI_NAT_SRC: i32 = 100;
/// `NF_IP_PRI_NAT_DST`/`NF_IP6_PRI_NAT_DST`.
const PRI_NAT_DST: i32 = -100;

impl Parsed {
    /// The connection-table key of this packet, as it travels.
    fn lookup(&self) -> Lookup<'_> {
        Lookup {
            af: self.af,
            protocol: self.protocol,
            saddr: &self.saddr,
            sport: self.sport,
            daddr: &self.daddr,
            dport: self.dport,
        }
    }
}

/// What a hook found in a packet.
enum Seen {
    /// A TCP, UDP or SCTP packet.
    Transport(Parsed),
    /// An AH or ESP packet, keyed as the IKE flow it follows (see
    /// [`ike`]); never starts a connection.
    Ipsec(Parsed),
    /// An ICMP error quoting one.
    IcmpError(Hdr, IcmpError),
    /// An IPv4 fragment of one, or of an ICMP error (reassembled only
    /// where the stack has not done it: see [`Reply`]).
    Fragment,
    /// A packet of a protocol IPVS has no handler for (stock: no
    /// `ip_vs_proto_data`), such as a tunnel's.
    Foreign,
}

/// An AH or ESP packet as stock's handlers for them see it
/// (`ah_esp_conn_fill_param_proto`): a packet of the UDP flow between
/// the same addresses from and to the IKE port, which carries the key
/// exchange and was scheduled as any; the packet follows that
/// connection, and nothing else is read of it.
fn ike(hdr: Hdr, af: u16, saddr: Addr, daddr: Addr) -> Seen {
    Seen::Ipsec(Parsed {
        hdr,
        af,
        protocol: UDP,
        saddr,
        daddr,
        sport: IKE_PORT,
        dport: IKE_PORT,
        tcp_flags: None,
        sctp_event: None,
    })
}

/// Reads what IPVS needs of a packet, from one read of its network header.
fn inspect(pkt: &Packet<'_>, family: Family) -> Option<Seen> {
    let (hdr, af, protocol, saddr, daddr) = match family {
        Family::Ipv4 => {
            let iph = Ipv4Header::parse(&pkt.read::<IPV4_HDRLEN>(0)?)?;
            if iph.fragment {
                return Some(match iph.protocol {
                    TCP | UDP | SCTP | ICMP => Seen::Fragment,
                    // Their fragments are looked up as they come (stock:
                    // `dont_defrag`).
                    AH | ESP => ike(Hdr::V4(iph), AF_INET, addr16(iph.saddr), addr16(iph.daddr)),
                    _ => Seen::Foreign,
                });
            }
            let (p, s, d) = (iph.protocol, addr16(iph.saddr), addr16(iph.daddr));
            (Hdr::V4(iph), AF_INET, p, s, d)
        }
        Family::Ipv6 => {
            // Fragments never get here once reassembly is on (with the
            // first IPv6 service); before that, they are not for IPVS.
            let h = Ipv6Header::parse(&pkt.read::<IPV6_HDRLEN>(0)?)?;
            let (protocol, l4) = match h.next_header {
                TCP | UDP | SCTP | ICMPV6 => (h.next_header, IPV6_HDRLEN),
                next => packet::ipv6_upper_layer(next, |at| pkt.read::<8>(at))?,
            };
            (
                Hdr::V6 { l4, protocol },
                AF_INET6,
                protocol,
                h.saddr,
                h.daddr,
            )
        }
    };
    match protocol {
        TCP | UDP | SCTP => {}
        ICMP if af == AF_INET => return icmp_error(pkt, hdr, nat::icmp4_error),
        ICMPV6 if af == AF_INET6 => return icmp_error(pkt, hdr, nat::icmp6_error),
        AH | ESP => return Some(ike(hdr, af, saddr, daddr)),
        ICMP | ICMPV6 => return None,
        _ => return Some(Seen::Foreign),
    }
    let l4 = hdr.len();
    // One read for TCP: the ports and the flags byte.
    let (ports, tcp_flags) = if protocol == TCP {
        let h = pkt.read::<14>(l4)?;
        ([h[0], h[1], h[2], h[3]], Some(Flags::from_byte(h[13])))
    } else {
        (pkt.read::<4>(l4)?, None)
    };
    let sctp_event = if protocol == SCTP {
        Some(sctp_event(pkt, l4)?)
    } else {
        None
    };
    Some(Seen::Transport(Parsed {
        hdr,
        af,
        protocol,
        saddr,
        daddr,
        sport: [ports[0], ports[1]],
        dport: [ports[2], ports[3]],
        tcp_flags,
        sctp_event,
    }))
}

/// An ICMP error about a TCP, UDP or SCTP packet, as `parse` finds it in
/// the packet's first bytes (which hold what matters: ICMP errors quote
/// the start of a packet).
fn icmp_error(pkt: &Packet<'_>, hdr: Hdr, parse: fn(&[u8]) -> Option<IcmpError>) -> Option<Seen> {
    let mut buf = [0u8; 192];
    let n = (pkt.len() as usize).min(buf.len());
    if !pkt.read_into(0, &mut buf[..n]) {
        return None;
    }
    Some(Seen::IcmpError(hdr, parse(&buf[..n])?))
}

/// The state machine event of the SCTP packet whose common header is at
/// `l4` (`set_sctp_state`: the first chunk, or an ABORT bundled after a
/// COOKIE-ECHO or COOKIE-ACK). `None` without a whole first chunk header.
fn sctp_event(pkt: &Packet<'_>, l4: usize) -> Option<Event> {
    use sctp::COMMON_HDR;
    let first = pkt.read::<4>(l4 + COMMON_HDR)?;
    let mut second = None;
    if matches!(first[0], sctp::chunk::COOKIE_ECHO | sctp::chunk::COOKIE_ACK) {
        let len = usize::from(u16::from_be_bytes([first[2], first[3]]));
        if len >= 4 {
            second = pkt
                .read::<1>(l4 + COMMON_HDR + len.next_multiple_of(4))
                .map(|b| b[0]);
        }
    }
    Some(Event::of(first[0], second))
}

/// How to find the connection of an ICMP error: the quoted packet went
/// *to* whoever complains, so the error travels the other way.
fn quoted(af: u16, e: &IcmpError) -> Lookup<'_> {
    Lookup {
        af,
        protocol: e.protocol,
        saddr: &e.daddr,
        sport: e.dport,
        daddr: &e.saddr,
        dport: e.sport,
    }
}

/// `backup_only`: a director whose backup daemon runs does no load
/// balancing (stock `sysctl_backup_only`).
fn backup_only(ipvs: &IpvsNet) -> bool {
    ipvs.sync.is_backup() && ipvs.sysctl(Sysctl::BackupOnly) != 0
}

/// Runs the protocol's state machine and sets the timeout that follows.
fn track(ipvs: &IpvsNet, cp: &conn::Conn, dir: Dir, p: &Parsed) {
    let t = ipvs.timeouts();
    let secs = match p.tcp_flags {
        Some(flags) => {
            let secure = ipvs.defense.secure_tcp();
            conn::tcp_timeout(cp.tcp_transition(dir, flags, secure), &t)
        }
        None => match p.sctp_event {
            Some(event) => cp.sctp_transition(dir, event).timeout(),
            None => {
                if dir == Dir::Output {
                    cp.assure_control();
                }
                t.udp
            }
        },
    };
    cp.set_timeout(secs.saturating_mul(hz()));
}

/// Whether a client packet may use the connection it found (`ip_vs_in`):
/// `Ok(None)` when it was expired to schedule a new one, `Err` when the
/// packet must be dropped.
///
/// A SYN replaces a closed connection (`conn_reuse_mode`), or one to a
/// quiesced real server with `expire_nodest_conn`. Packets to a deleted
/// real server are dropped, or with `expire_nodest_conn` expire their
/// connection and are scheduled anew.
///
/// If the packet still belongs to the old conntrack entry, stock drops
/// it (the entry goes with the old connection; the client's retransmit a
/// second later starts afresh). With `conn_reuse_old_conntrack` a SYN
/// gets a fresh entry at once instead and goes on.
fn still_valid<'a>(
    ipvs: &IpvsNet,
    pkt: &Packet<'_>,
    state: &HookState<'_>,
    cp: InUse<'a>,
    p: &Parsed,
) -> Result<Option<InUse<'a>>, Verdict> {
    let nodest = ipvs.sysctl(Sysctl::ExpireNodestConn) != 0;
    let syn = p.tcp_flags.is_some_and(|f| f.syn);
    let (resched, keep) = if !cp.dest.available.load(Ordering::Relaxed) {
        if !nodest {
            return Err(Verdict::Drop);
        }
        (true, false)
    } else if syn {
        let reuse = ipvs.sysctl(Sysctl::ConnReuseMode);
        let quiesced = cp.dest.weight.load(Ordering::Relaxed) == 0;
        // A connection that controls others (FTP's control connection)
        // is left to them when a new one replaces it.
        let controls = cp.n_control() > 0;
        if nodest && quiesced {
            (true, controls)
        } else if reuse != 0 && cp.new_conn_expected(reuse) {
            // Not while it still uses its old conntrack entry, which
            // its data connections' expectations hang on.
            (!controls || !pkt.ct_confirmed(), controls)
        } else {
            (false, false)
        }
    } else {
        (false, false)
    };
    if !resched {
        return Ok(Some(cp));
    }
    let old_ct = pkt.ct_confirmed();
    let renew = old_ct && syn && ipvs.sysctl(Sysctl::ConnReuseOldConntrack) != 0;
    if !old_ct || renew {
        // The entry stays (or is replaced below): not the old
        // connection's to drop when it expires.
        cp.leave_conntrack();
    }
    if keep {
        drop(cp);
    } else {
        cp.expire_now();
    }
    if old_ct && !(renew && pkt.ct_renew(state)) {
        return Err(Verdict::Drop);
    }
    Ok(None)
}

/// Client to virtual service (`ip_vs_in`): what a packet `seen` as a
/// request gets, from outside (`LOCAL_IN`) or from this host
/// (`LOCAL_OUT`: [`xmit`] sends the packet on its new route and steals
/// it, as for the others).
fn request(ipvs: &IpvsNet, pkt: Packet<'_>, state: &HookState<'_>, seen: Option<&Seen>) -> Verdict {
    let rcu = pkt.rcu();
    let (p, related) = match seen {
        Some(Seen::Transport(p)) => (p, false),
        Some(Seen::Ipsec(p)) => (p, true),
        Some(Seen::IcmpError(hdr, e)) => {
            let hdr = *hdr;
            // About a reply (virtual service to client).
            return match ipvs.conns.lookup_in(&rcu, &quoted(hdr.af(), e)) {
                Some(cp) => icmp_to_server(pkt, state, cp, hdr),
                // A flow this director never saw (another one's, or
                // answered directly by a DR real server): with
                // `schedule_icmp`, scheduled as the client's packet
                // would have been.
                // Never for AH or ESP (stock: `ah_esp_conn_schedule`).
                None if ipvs.sysctl(Sysctl::ScheduleIcmp) != 0 && !e.ipsec => {
                    schedule_icmp(ipvs, pkt, state, hdr, e)
                }
                None => Verdict::Accept,
            };
        }
        // The stack reassembles before LOCAL_IN; LOCAL_OUT is before
        // fragmentation.
        Some(Seen::Fragment) | None => return Verdict::Accept,
        Some(Seen::Foreign) => {
            // Seen again only decapsulated: with `ignore_tunneled` it
            // is not balanced then (stock marks it as IPVS's).
            if ipvs.sysctl(Sysctl::IgnoreTunneled) != 0 {
                pkt.set_ipvs_property();
            }
            return Verdict::Accept;
        }
    };
    let l = p.lookup();
    let found = match ipvs.conns.lookup_in(&rcu, &l) {
        Some(cp) => Some(cp),
        // An FTP passive data connection's first packet.
        None => ipvs
            .conns
            .lookup_in_no_cport(&rcu, &l)
            .and_then(|cp| newconn::fill_cport(ipvs, &rcu, cp, &l)),
    };
    if let Some(cp) = found {
        match still_valid(ipvs, &pkt, state, cp, p) {
            // The established path.
            Ok(Some(cp)) => return to_server(ipvs, pkt, state, cp, p, related),
            Ok(None) => {}
            Err(v) => return v,
        }
    }
    // AH and ESP follow their IKE connection only (stock:
    // `ah_esp_conn_schedule` lets the packet pass).
    if related {
        return Verdict::Accept;
    }
    schedule(ipvs, pkt, state, p)
}

/// A client's first packet: scheduled, then forwarded ([`to_server`]).
/// A one-packet connection lives in this frame.
#[inline(never)]
fn schedule(ipvs: &IpvsNet, pkt: Packet<'_>, state: &HookState<'_>, p: &Parsed) -> Verdict {
    let mut slot = OnePacket::new();
    let local = state.point == HookPoint::LocalOut;
    let verdict = match newconn::schedule(ipvs, state.net, &pkt, p, local, &mut slot) {
        Ok(Some(cp)) => to_server(ipvs, pkt, state, cp, p, false),
        Ok(None) => Verdict::Accept,
        Err(v) => v,
    };
    verdict
}

/// A client's packet goes to its connection's real server: counted,
/// tracked, sent, synced. `related`: an AH or ESP packet, which changes
/// no state and keeps the IKE connection's timeout.
fn to_server(
    ipvs: &IpvsNet,
    pkt: Packet<'_>,
    state: &HookState<'_>,
    cp: InUse<'_>,
    p: &Parsed,
    related: bool,
) -> Verdict {
    let len = pkt.len();
    cp.count_packet(true, len);
    // Bypassing packets count nowhere (stock: no real server).
    if cp.fwd() != conn_flags::BYPASS {
        ipvs.totals.count_packet(true, len);
    }
    if !related {
        track(ipvs, &cp, Dir::Input, p);
    }
    let verdict = xmit::transmit(pkt, state.net, &cp, &p.hdr);
    sync::client_packet(ipvs, &cp);
    verdict
}

/// A client's ICMP error about a reply goes to the connection's real
/// server; through NAT only with a right checksum (stock drops the
/// others, uncounted).
fn icmp_to_server(pkt: Packet<'_>, state: &HookState<'_>, cp: InUse<'_>, hdr: Hdr) -> Verdict {
    if cp.fwd() == conn_flags::MASQ && !pkt.icmp_checksum_ok(hdr.len(), hdr.is_v6()) {
        return Verdict::Drop;
    }
    cp.count_packet(true, pkt.len());
    xmit::icmp_to_server(pkt, state.net, &cp, hdr)
}

/// `schedule_icmp`: a client's ICMP error `e` about a flow this
/// director never saw is scheduled as the client's own packet of that
/// flow would have been, then goes to the real server.
#[inline(never)]
fn schedule_icmp(
    ipvs: &IpvsNet,
    pkt: Packet<'_>,
    state: &HookState<'_>,
    hdr: Hdr,
    e: &IcmpError,
) -> Verdict {
    let as_request = Parsed {
        hdr,
        af: hdr.af(),
        protocol: e.protocol,
        saddr: e.daddr,
        daddr: e.saddr,
        sport: e.dport,
        dport: e.sport,
        tcp_flags: None,
        sctp_event: None,
    };
    let mut slot = OnePacket::new();
    let local = state.point == HookPoint::LocalOut;
    let verdict =
        match newconn::schedule_for_icmp(ipvs, state.net, &pkt, &as_request, local, &mut slot) {
            Ok(Some(cp)) => icmp_to_server(pkt, state, cp, hdr),
            Ok(None) => Verdict::Accept,
            Err(v) => v,
        };
    verdict
}

/// Real server to client (`ip_vs_out`): what a packet `seen` as a reply
/// gets, passing through (`FORWARD`), to a client on this host
/// (`LOCAL_IN`) or from a real server on it (`LOCAL_OUT`); `None` if it
/// is not one.
fn reply(ipvs: &IpvsNet, pkt: &Packet<'_>, state: &HookState<'_>, seen: &Seen) -> Option<Verdict> {
    let rcu = pkt.rcu();
    let (p, related) = match seen {
        Seen::Transport(p) => (p, false),
        Seen::Ipsec(p) => (p, true),
        Seen::IcmpError(hdr, e) => {
            // About a request a real server got (client to real server).
            let cp = ipvs.conns.lookup_out(&rcu, &quoted(hdr.af(), e))?;
            if cp.fwd() != conn_flags::MASQ {
                cp.count_packet(false, pkt.len());
                return Some(passed(pkt, &cp));
            }
            // Readdressed only with a right checksum, as stock.
            if !pkt.icmp_checksum_ok(hdr.len(), hdr.is_v6()) {
                return Some(Verdict::Drop);
            }
            cp.count_packet(false, pkt.len());
            let reroute = xmit::snat_reroute(ipvs, state.point == HookPoint::LocalIn);
            return Some(xmit::icmp_to_client(pkt, state.net, &cp, hdr, reroute));
        }
        Seen::Fragment | Seen::Foreign => return None,
    };
    if let Some(cp) = ipvs.conns.lookup_out(&rcu, &p.lookup()) {
        return Some(to_client(ipvs, pkt, state, cp, p, related));
    }
    // Real servers start connections only with packets that pass
    // through (stock: `__ip_vs_rs_conn_out`).
    if related {
        return None;
    }
    if state.point == HookPoint::LocalIn {
        return stray(ipvs, pkt, p);
    }
    reply_out(ipvs, pkt, state, p)
}

/// A real server's packet that matches no connection: the connection it
/// starts ([`newconn::conn_out`]), or a stray. A one-packet connection
/// lives in this frame.
#[inline(never)]
fn reply_out(
    ipvs: &IpvsNet,
    pkt: &Packet<'_>,
    state: &HookState<'_>,
    p: &Parsed,
) -> Option<Verdict> {
    let mut slot = OnePacket::new();
    let verdict = match newconn::conn_out(ipvs, pkt, p, &mut slot) {
        Some(cp) => Some(to_client(ipvs, pkt, state, cp, p, false)),
        None => stray(ipvs, pkt, p),
    };
    verdict
}

/// A real server's packet goes on to the client of its connection:
/// counted, tracked and, for NAT, readdressed from the virtual service.
/// `related`: an AH or ESP packet, which changes no state.
fn to_client(
    ipvs: &IpvsNet,
    pkt: &Packet<'_>,
    state: &HookState<'_>,
    cp: InUse<'_>,
    p: &Parsed,
    related: bool,
) -> Verdict {
    let len = pkt.len();
    cp.count_packet(false, len);
    ipvs.totals.count_packet(false, len);
    if !related {
        track(ipvs, &cp, Dir::Output, p);
    }
    if cp.fwd() != conn_flags::MASQ {
        return passed(pkt, &cp);
    }
    let reroute = xmit::snat_reroute(ipvs, state.point == HookPoint::LocalIn);
    xmit::nat_reply(pkt, state.net, &cp, &p.hdr, reroute)
}

/// A packet from a NAT real server's address and port that belongs to no
/// connection: with `nat_icmp_send`, the real server is told (ICMP port
/// unreachable) and the packet dropped, unless it is a TCP reset or an
/// SCTP abort (stock `ip_vs_out`). `None`: not IPVS's to judge.
fn stray(ipvs: &IpvsNet, pkt: &Packet<'_>, p: &Parsed) -> Option<Verdict> {
    if ipvs.sysctl(Sysctl::NatIcmpSend) == 0
        || p.tcp_flags.is_some_and(|f| f.rst)
        || p.sctp_event == Some(Event::Abort)
        || ipvs
            .find_service(&pkt.rcu(), |s| {
                s.real_service_at(p.af, p.protocol, &p.saddr, p.sport)
            })
            .is_none()
    {
        return None;
    }
    pkt.icmp_port_unreach(p.af == AF_INET6);
    Some(Verdict::Drop)
}

/// A reply of a direct routing or tunnel connection that passes this
/// director anyway: counted and tracked by the caller, left as it is
/// (stock `handle_response`).
fn passed(pkt: &Packet<'_>, cp: &conn::Conn) -> Verdict {
    xmit::conntrack(pkt, cp, false);
    pkt.set_ipvs_property();
    Verdict::Accept
}

/// The state of the namespace a packet is in, unless IPVS sent the
/// packet or the director only backs another up (`backup_only`).
fn balancing<'a>(pkt: &Packet<'_>, state: &HookState<'a>) -> Option<&'a IpvsNet> {
    // What IPVS sent passes `LOCAL_OUT` and `FORWARD` again: first out.
    if pkt.ipvs_property() {
        return None;
    }
    IpvsNet::get_rcu(state.net, &pkt.rcu()).filter(|ipvs| !backup_only(ipvs))
}

/// Packets for this host (`LOCAL_IN`): replies to clients on this host
/// first, then requests, from one read of the headers (stock runs
/// `ip_vs_out` and `ip_vs_in` there as two hooks, each parsing).
struct LocalIn;

impl Hook for LocalIn {
    #[inline]
    fn hook(pkt: Packet<'_>, state: &HookState<'_>) -> Verdict {
        let Some(ipvs) = balancing(&pkt, state) else {
            return Verdict::Accept;
        };
        let seen = inspect(&pkt, state.family);
        // Replies come here only to clients on this host: no lookup
        // without such connections, unless strays from real servers are
        // to be refused (`nat_icmp_send`).
        if ipvs.conns.local_replies() || ipvs.sysctl(Sysctl::NatIcmpSend) != 0 {
            if let Some(v) = seen.as_ref().and_then(|s| reply(ipvs, &pkt, state, s)) {
                return v;
            }
        }
        request(ipvs, pkt, state, seen.as_ref())
    }
}

/// With `fast_path`, requests of established connections are taken at
/// `PRE_ROUTING` and get what [`LocalIn`] would give them, without the
/// input route lookup, local delivery and `INPUT` rules before it (see
/// deviations.rst). Everything else goes on to `LOCAL_IN` as without
/// it: first packets and TCP SYNs (scheduling and `conn_reuse_mode`
/// stay there), IPv4 options, IPv6 extension headers, fragments, ICMP,
/// connections with an application helper, and every packet while the
/// backup daemon runs (whose connections' virtual addresses need not be
/// this host's) or connections of clients on this host exist.
struct Established;

impl Hook for Established {
    #[inline]
    fn hook(pkt: Packet<'_>, state: &HookState<'_>) -> Verdict {
        let Some(ipvs) = balancing(&pkt, state) else {
            return Verdict::Accept;
        };
        if ipvs.sync.is_backup() || ipvs.conns.local_replies() {
            return Verdict::Accept;
        }
        let Some(Seen::Transport(p)) = inspect(&pkt, state.family) else {
            return Verdict::Accept;
        };
        let plain = match p.hdr {
            Hdr::V4(h) => h.header_len == IPV4_HDRLEN,
            Hdr::V6 { l4, .. } => l4 == IPV6_HDRLEN,
        };
        if !plain || p.tcp_flags.is_some_and(|f| f.syn) {
            return Verdict::Accept;
        }
        let rcu = pkt.rcu();
        let Some(cp) = ipvs.conns.lookup_in(&rcu, &p.lookup()) else {
            return Verdict::Accept;
        };
        let forwarded = matches!(
            cp.fwd(),
            conn_flags::MASQ | conn_flags::DROUTE | conn_flags::TUNNEL
        );
        if !forwarded || cp.app().is_some() || !cp.dest.available.load(Ordering::Relaxed) {
            return Verdict::Accept;
        }
        to_server(ipvs, pkt, state, cp, &p, false)
    }
}

/// Packets leaving this host (`LOCAL_OUT`): replies of real servers on
/// it first (stock's `ip_vs_local_reply` hooks), then requests of its
/// clients, from one read of the headers.
struct LocalOut;

impl Hook for LocalOut {
    #[inline]
    fn hook(pkt: Packet<'_>, state: &HookState<'_>) -> Verdict {
        let Some(ipvs) = balancing(&pkt, state) else {
            return Verdict::Accept;
        };
        let seen = inspect(&pkt, state.family);
        // No lookup before a connection went to a real server here.
        if ipvs.conns.local_servers() {
            if let Some(v) = seen.as_ref().and_then(|s| reply(ipvs, &pkt, state, s)) {
                return v;
            }
        }
        request(ipvs, pkt, state, seen.as_ref())
    }
}

/// Packets passing through (`FORWARD`): replies from real servers.
struct Forward;

impl Hook for Forward {
    #[inline]
    fn hook(mut pkt: Packet<'_>, state: &HookState<'_>) -> Verdict {
        let Some(ipvs) = balancing(&pkt, state) else {
            return Verdict::Accept;
        };
        let mut seen = inspect(&pkt, state.family);
        if let Some(Seen::Fragment) = seen {
            // Nobody reassembled it (stock: `ip_vs_gather_frags`). Not in
            // a namespace where no reply can be ours (stock: no services,
            // `ipvs->enable`).
            let may_start = ipvs.sysctl(Sysctl::ConnOut) != 0 || ipvs.has_sip_services();
            if ipvs.conns.count() == 0 && !may_start {
                return Verdict::Accept;
            }
            pkt = match pkt.gather_frags(state) {
                Ok(whole) => whole,
                Err(v) => return v,
            };
            seen = inspect(&pkt, state.family);
        }
        seen.and_then(|s| reply(ipvs, &pkt, state, &s))
            .unwrap_or(Verdict::Accept)
    }
}

/// Runs a configuration command that adds or deletes services, with each
/// family's hooks attached while it has services (stock: hooks registered
/// before a family's first service, unregistered after its last): a
/// namespace without services pays nothing per packet. `change` runs
/// under the configuration lock (which it takes) and returns what it
/// decided and the families that have services after it. `adds_ipv6`
/// says which family a new service would be of, `None` if the command
/// adds none. The hooks' own (sleeping) lock is held throughout, so
/// commands in parallel never detach what another is adding a service
/// for.
pub(crate) fn follow_services<R>(
    ipvs: &IpvsNet,
    adds_ipv6: Option<bool>,
    change: impl FnOnce() -> (Result<R>, [bool; 2]),
) -> Result<R> {
    let mut hooks = ipvs.hooks.lock();
    if let Some(six) = adds_ipv6 {
        let ops = if six { &HOOKS6 } else { &HOOKS4 };
        hooks.attach(usize::from(six), ops)?;
    }
    let (res, families) = change();
    for (i, used) in families.into_iter().enumerate() {
        if !used {
            hooks.detach(i);
        }
    }
    fast_path_hooks(ipvs, &mut hooks);
    res
}

/// `fast_path` changed: its hooks follow (see [`Established`]).
pub(crate) fn follow_fast_path(ipvs: &IpvsNet) {
    fast_path_hooks(ipvs, &mut ipvs.hooks.lock());
}

/// Attaches each family's `fast_path` hook (slots 2 and 3) while the
/// family's own hooks are attached and `fast_path` is 1, else detaches
/// it. Where attaching fails, requests take the `LOCAL_IN` way.
fn fast_path_hooks(ipvs: &IpvsNet, hooks: &mut OnDemand<4>) {
    let on = ipvs.sysctl(Sysctl::FastPath) != 0;
    for (i, ops) in [&FAST4, &FAST6].into_iter().enumerate() {
        if on && hooks.attached(i) {
            if hooks.attach(2 + i, ops).is_err() {
                kernel::pr_warn!("fast_path: hooks not attached\n");
            }
        } else {
            hooks.detach(2 + i);
        }
    }
}

/// The IPv4 hooks, at stock's points and priorities (`LOCAL_IN` at
/// that of its first), attached to a namespace while it has IPv4
/// services (see [`follow_services`]).
pub(crate) static HOOKS4: HookOps<3> = HookOps::new([
    HookSpec::new::<LocalIn>(Family::Ipv4, HookPoint::LocalIn, PRI_NAT_SRC - 2),
    HookSpec::new::<Forward>(Family::Ipv4, HookPoint::Forward, PRI_NAT_SRC),
    HookSpec::new::<LocalOut>(Family::Ipv4, HookPoint::LocalOut, PRI_NAT_DST + 2),
]);

/// The `fast_path` hooks, at `PRE_ROUTING` after conntrack, `mangle` and
/// DNAT, with the priority of `LOCAL_IN`'s.
static FAST4: HookOps<1> = HookOps::new([HookSpec::new::<Established>(
    Family::Ipv4,
    HookPoint::PreRouting,
    PRI_NAT_SRC - 2,
)]);
static FAST6: HookOps<1> = HookOps::new([HookSpec::new::<Established>(
    Family::Ipv6,
    HookPoint::PreRouting,
    PRI_NAT_SRC - 2,
)]);

/// The IPv6 hooks, attached while a namespace has IPv6 services.
pub(crate) static HOOKS6: HookOps<3> = HookOps::new([
    HookSpec::new::<LocalIn>(Family::Ipv6, HookPoint::LocalIn, PRI_NAT_SRC - 2),
    HookSpec::new::<Forward>(Family::Ipv6, HookPoint::Forward, PRI_NAT_SRC),
    HookSpec::new::<LocalOut>(Family::Ipv6, HookPoint::LocalOut, PRI_NAT_DST + 2),
]);
