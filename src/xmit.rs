// SPDX-License-Identifier: GPL-2.0

//! Forwarding a client's packet to its real server (`ip_vs_xmit.c`): NAT
//! rewrites the destination, direct routing only re-routes, the tunnel
//! wraps the packet in an outer IPv4 (IPIP) or IPv6 header. Replies of
//! NAT connections are rewritten back in [`nat_reply`].

use crate::app;
use crate::conn::Conn;
use crate::kapi::net::Net;
use crate::kapi::netfilter::Verdict;
use crate::kapi::route::Route;
use crate::kapi::skb::{Csum, Packet};
use crate::nat::{self, End};
use crate::netns::IpvsNet;
use crate::packet::{Hdr, IPV4_HDRLEN, IPV6_HDRLEN};
use crate::params::Sysctl;
use crate::service::{Addr, AF_INET6};
use crate::uapi::conn_flags;

fn v4(a: &Addr) -> [u8; 4] {
    [a[0], a[1], a[2], a[3]]
}

/// What conntrack keeps of a packet IPVS forwards (`ip_vs_notrack`,
/// `ip_vs_update_conntrack`): nothing, unless the connection uses
/// conntrack; then a new entry of a NAT connection learns where its
/// replies come from (`to_server`) or go to.
pub(crate) fn conntrack(pkt: &Packet<'_>, cp: &Conn, to_server: bool) {
    let flags = cp.flags();
    if flags & conn_flags::NFCT == 0 {
        pkt.ct_untrack();
    } else if cp.fwd() == conn_flags::MASQ && flags & conn_flags::ONE_PACKET == 0 {
        let seqadj = cp.app().is_some();
        if to_server {
            pkt.ct_alter_reply(true, &cp.daddr, cp.dport, seqadj);
        } else {
            pkt.ct_alter_reply(false, &cp.vaddr, cp.vport, seqadj);
        }
    }
}

/// Sends a client's packet on its way according to the connection's
/// forwarding method.
pub(crate) fn transmit(pkt: Packet<'_>, net: &Net, cp: &Conn, hdr: &Hdr) -> Verdict {
    forward(pkt, net, cp, hdr, true)
}

/// [`transmit`]; `mtu_check` is off for ICMP errors (nobody is told
/// about an error that does not fit).
fn forward(pkt: Packet<'_>, net: &Net, cp: &Conn, hdr: &Hdr, mtu_check: bool) -> Verdict {
    conntrack(&pkt, cp, true);
    match cp.fwd() {
        conn_flags::MASQ => nat_request(pkt, net, cp, hdr),
        conn_flags::DROUTE => route_and_send(pkt, net, hdr, cp, true, mtu_check),
        // The real server's family decides the outer header.
        conn_flags::TUNNEL if cp.dest.af == AF_INET6 => tunnel6(pkt, net, cp, hdr, mtu_check),
        conn_flags::TUNNEL => tunnel(pkt, net, cp, hdr, mtu_check),
        conn_flags::BYPASS => bypass(pkt, net, cp, hdr, mtu_check),
        // The real server is this host.
        _ => Verdict::Accept,
    }
}

/// A packet of a `cache_bypass` connection (`ip_vs_bypass_xmit`): on to
/// where the client sent it (the connection's virtual address), which
/// must be another host.
fn bypass(pkt: Packet<'_>, net: &Net, cp: &Conn, hdr: &Hdr, mtu_check: bool) -> Verdict {
    let Ok(Route::Remote(dst)) = crate::kapi::route::route_to(&pkt, net, hdr.is_v6(), &cp.vaddr)
    else {
        return Verdict::Drop;
    };
    if !hop(&pkt, net, hdr) || (mtu_check && !fits(&pkt, net, hdr, dst.mtu())) {
        return Verdict::Drop;
    }
    deliver(pkt, net, hdr, Route::Remote(dst))
}

/// Rewrites `end` of the packet to `addr:port`, minding checksum offload
/// (`sctp_offload`: the output device computes SCTP checksums). AH and
/// ESP packets (of the IKE connection they follow) get the address only.
fn rewrite(
    pkt: &Packet<'_>,
    hdr: &Hdr,
    end: End,
    (addr, port): (&Addr, [u8; 2]),
    sctp_offload: bool,
) -> bool {
    let protocol = hdr.protocol();
    let partial = pkt.csum() == Csum::Partial;
    // Where the port being rewritten is.
    let at = hdr.len() + if end == End::Source { 0 } else { 2 };
    let old_port = match protocol {
        nat::AH | nat::ESP => pkt
            .with_header_mut(hdr.len(), |b| nat::readdress(b, end, addr))
            .flatten()
            .map(|()| port),
        _ => {
            let Some(l4) = nat::transport_header_len(protocol) else {
                return false;
            };
            pkt.with_header_mut(hdr.len() + l4, |b| {
                let old: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
                match hdr {
                    Hdr::V4(_) => nat::rewrite4(b, end, v4(addr), port, partial),
                    Hdr::V6 { l4, .. } => {
                        nat::rewrite6(b, (protocol, *l4), end, addr, port, partial)
                    }
                }
                .map(|()| old)
            })
            .flatten()
        }
    };
    let Some(old_port) = old_port else {
        return false;
    };
    if protocol == nat::SCTP {
        sctp_checksum(pkt, hdr.len(), end, old_port != port, sctp_offload);
    } else if pkt.csum() == Csum::Complete {
        // The payload sum no longer matches the rewritten header.
        pkt.set_csum(Csum::None);
    }
    true
}

/// An SCTP packet's CRC32c after NAT (`sctp_snat_handler`,
/// `sctp_dnat_handler`): computed anew if the port changed (the addresses
/// are not in it) or the sum is partial, unless a request goes to a
/// device that computes it; else the packet is marked checked, as stock
/// does.
fn sctp_checksum(pkt: &Packet<'_>, l4: usize, end: End, port_changed: bool, offload: bool) {
    let partial = pkt.csum() == Csum::Partial;
    if port_changed || (partial && (end == End::Source || !offload)) {
        pkt.set_sctp_checksum(l4);
    } else if !partial {
        pkt.set_csum(Csum::Unnecessary);
    }
}

/// Routes to the connection's real server; a route back to this host
/// means local delivery. With `via_daddr` (direct routing) the packet
/// keeps its destination and only its next hop is the real server, which
/// has the virtual address on a non-ARPing interface (IPv4 routes always
/// take the real server as next hop, through its cache).
fn route<'a>(
    pkt: &Packet<'a>,
    net: &Net,
    hdr: &Hdr,
    cp: &'a Conn,
    via_daddr: bool,
) -> Option<Route<'a>> {
    let cache = &cp.dest.route;
    let route = if hdr.is_v6() {
        cache.route6(pkt, net, &cp.daddr, via_daddr)
    } else {
        cache.route4(pkt, net, v4(&cp.daddr)).map(|(r, _)| r)
    };
    route.ok()
}

/// A packet leaving for another host loses a hop (stock's
/// `decrement_ttl`); one with none left dies here and its sender is told
/// (ICMP time exceeded), so that directors forwarding to each other
/// cannot loop a packet forever.
#[inline]
fn hop(pkt: &Packet<'_>, net: &Net, hdr: &Hdr) -> bool {
    let ipv6 = hdr.is_v6();
    match pkt.read::<1>(nat::ttl_offset(ipv6)) {
        Some([ttl]) if ttl > 1 => {}
        Some(_) => {
            pkt.icmp_time_exceeded(net, ipv6);
            return false;
        }
        None => return false,
    }
    let len = if ipv6 { IPV6_HDRLEN } else { IPV4_HDRLEN };
    pkt.with_header_mut(len, |b| nat::decrease_ttl(b, ipv6))
        .is_some()
}

/// Whether the packet fits a route's `mtu` (`ensure_mtu_is_adequate`); if
/// not, its sender is told ("fragmentation needed", "packet too big")
/// and the packet must be dropped. IPv4 packets without the
/// don't-fragment flag always fit.
fn fits(pkt: &Packet<'_>, net: &Net, hdr: &Hdr, mtu: u32) -> bool {
    let ipv6 = hdr.is_v6();
    if matches!(hdr, Hdr::V4(iph) if !iph.dont_fragment) || !pkt.exceeds_mtu(mtu, ipv6) {
        return true;
    }
    pkt.icmp_too_big(net, mtu, ipv6);
    false
}

/// The way on to the real server ([`route`]); for another host the hop
/// is taken ([`hop`]) and, with `mtu_check`, the size checked
/// ([`fits`]). `None`: the packet must be dropped.
#[inline]
fn next_hop<'a>(
    pkt: &Packet<'a>,
    net: &Net,
    hdr: &Hdr,
    cp: &'a Conn,
    via_daddr: bool,
    mtu_check: bool,
) -> Option<Route<'a>> {
    match route(pkt, net, hdr, cp, via_daddr)? {
        Route::Remote(dst) => {
            let ok = hop(pkt, net, hdr) && (!mtu_check || fits(pkt, net, hdr, dst.mtu()));
            ok.then_some(Route::Remote(dst))
        }
        Route::Local => Some(Route::Local),
    }
}

/// Sends a packet by its route, or lets a local one go on to its socket.
fn deliver<'a>(pkt: Packet<'a>, net: &Net, hdr: &Hdr, route: Route<'a>) -> Verdict {
    match route {
        Route::Remote(dst) => {
            pkt.attach(dst);
            if hdr.is_v6() {
                pkt.send6(net)
            } else {
                pkt.send4(net)
            }
        }
        Route::Local => {
            pkt.set_ipvs_property();
            Verdict::Accept
        }
    }
}

/// [`next_hop`], then sends.
fn route_and_send(
    pkt: Packet<'_>,
    net: &Net,
    hdr: &Hdr,
    cp: &Conn,
    via_daddr: bool,
    mtu_check: bool,
) -> Verdict {
    match next_hop(&pkt, net, hdr, cp, via_daddr, mtu_check) {
        Some(r) => deliver(pkt, net, hdr, r),
        None => Verdict::Drop,
    }
}

/// NAT, client to real server (`ip_vs_nat_xmit`): routed and checked
/// before the rewrite, so that an ICMP error about the size quotes the
/// packet the client sent.
fn nat_request(pkt: Packet<'_>, net: &Net, cp: &Conn, hdr: &Hdr) -> Verdict {
    let Some(r) = next_hop(&pkt, net, hdr, cp, false, true) else {
        return Verdict::Drop;
    };
    if matches!(r, Route::Local) {
        cp.server_is_local();
    }
    // Local delivery computes no checksum (loopback offloads it).
    let offload = hdr.protocol() == nat::SCTP
        && match &r {
            Route::Remote(dst) => dst.offloads_sctp_crc(),
            Route::Local => true,
        };
    if cp.app().is_some() && !IpvsNet::get(net).is_some_and(|ipvs| app::pkt_in(ipvs, cp, &pkt, hdr))
    {
        return Verdict::Drop;
    }
    if !rewrite(&pkt, hdr, End::Destination, (&cp.daddr, cp.dport), offload) {
        return Verdict::Drop;
    }
    deliver(pkt, net, hdr, r)
}

/// NAT, real server to client (`handle_response`): the reply leaves with
/// the virtual address and port as its source. With `reroute` (see
/// [`snat_reroute`]) it is routed again from there.
pub(crate) fn nat_reply(
    pkt: &Packet<'_>,
    net: &Net,
    cp: &Conn,
    hdr: &Hdr,
    reroute: bool,
) -> Verdict {
    if cp.app().is_some() && !IpvsNet::get(net).is_some_and(|ipvs| app::pkt_out(ipvs, cp, pkt, hdr))
    {
        return Verdict::Drop;
    }
    if !rewrite(pkt, hdr, End::Source, (&cp.vaddr, cp.vport), false) {
        return Verdict::Drop;
    }
    to_client(pkt, net, cp, hdr, reroute)
}

/// A reply (or ICMP error) of a NAT connection, readdressed from the
/// virtual service, goes on to the client: routed again with `reroute`,
/// tracked, marked as IPVS's.
fn to_client(pkt: &Packet<'_>, net: &Net, cp: &Conn, hdr: &Hdr, reroute: bool) -> Verdict {
    if reroute && pkt.snat_reroute(net, hdr.is_v6()).is_err() {
        return Verdict::Drop;
    }
    conntrack(pkt, cp, false);
    pkt.set_ipvs_property();
    Verdict::Accept
}

/// Whether a tunnel checks the inner packet's size against `mtu_check`:
/// IPv6 always; IPv4 only with `pmtu_disc` (else the outer header lets
/// routers fragment whatever the inner one says), as stock's
/// `ensure_mtu_is_adequate` in tunnel mode.
fn tunnel_checks_mtu(net: &Net, hdr: &Hdr, mtu_check: bool) -> (bool, bool) {
    let pmtu_disc = IpvsNet::get(net).map_or(true, |i| i.sysctl(Sysctl::PmtuDisc) != 0);
    (mtu_check && (pmtu_disc || hdr.is_v6()), pmtu_disc)
}

/// Tunnel to an IPv4 real server (`ip_vs_tunnel_xmit`): IPIP around an
/// IPv4 packet, 6-in-4 (protocol 41) around an IPv6 one, or GUE or GRE
/// (`--tun-type`) around either.
fn tunnel(pkt: Packet<'_>, net: &Net, cp: &Conn, hdr: &Hdr, mtu_check: bool) -> Verdict {
    let daddr = v4(&cp.daddr);
    let (dst, saddr) = match cp.dest.route.route4(&pkt, net, daddr) {
        Ok((Route::Remote(dst), saddr)) => (dst, saddr),
        Ok((Route::Local, _)) => {
            pkt.set_ipvs_property();
            return Verdict::Accept;
        }
        Err(_) => return Verdict::Drop,
    };
    let (check, pmtu_disc) = tunnel_checks_mtu(net, hdr, mtu_check);
    if !hop(&pkt, net, hdr) {
        return Verdict::Drop;
    }
    // GUE or GRE: their headers come off the MTU too.
    let encap = cp.dest.encap();
    let elen = encap.len(pkt.csum() == Csum::Partial);
    let mtu = dst.mtu().saturating_sub((IPV4_HDRLEN + elen) as u32);
    if check && !fits(&pkt, net, hdr, mtu) {
        return Verdict::Drop;
    }
    pkt.attach(dst);
    // The outer header carries the inner DS field and TTL (less the hop
    // just taken), and an IPv4 packet's DF flag with `pmtu_disc`.
    let Some((tos, ttl)) = pkt.read(0).and_then(|h| nat::dsfield_ttl(&h)) else {
        return Verdict::Drop;
    };
    let (df, inner) = match hdr {
        Hdr::V4(iph) => (iph.dont_fragment && pmtu_disc, nat::IPIP),
        Hdr::V6 { .. } => (false, nat::IPV6_IN_IP),
    };
    let Ok(protocol) = pkt.push_tunnel4(net, inner, encap, saddr, daddr) else {
        return Verdict::Drop;
    };
    let inner_len = (pkt.len() as usize).saturating_sub(IPV4_HDRLEN);
    let Some(mut outer) = nat::ipip_header(protocol, tos, ttl, df, inner_len, saddr, daddr) else {
        return Verdict::Drop;
    };
    if pkt
        .with_header_mut(IPV4_HDRLEN, |b| b.copy_from_slice(&outer))
        .is_none()
    {
        return Verdict::Drop;
    }
    pkt.select_ident(net);
    let written = pkt.with_header_mut(IPV4_HDRLEN, |b| {
        outer[4..6].copy_from_slice(&b[4..6]);
        nat::set_ipv4_checksum(&mut outer);
        b.copy_from_slice(&outer);
    });
    if written.is_none() {
        return Verdict::Drop;
    }
    pkt.send4(net)
}

/// Tunnel to an IPv6 real server (`ip_vs_tunnel_xmit_v6`): IPv6 in IPv6,
/// IPv4 in IPv6 (4-in-6), or either in GUE or GRE.
fn tunnel6(pkt: Packet<'_>, net: &Net, cp: &Conn, hdr: &Hdr, mtu_check: bool) -> Verdict {
    let dst = match cp.dest.route.route6(&pkt, net, &cp.daddr, false) {
        Ok(Route::Remote(dst)) => dst,
        Ok(Route::Local) => {
            pkt.set_ipvs_property();
            return Verdict::Accept;
        }
        Err(_) => return Verdict::Drop,
    };
    let (check, _) = tunnel_checks_mtu(net, hdr, mtu_check);
    if !hop(&pkt, net, hdr) {
        return Verdict::Drop;
    }
    let encap = cp.dest.encap();
    let elen = encap.len(pkt.csum() == Csum::Partial);
    let mtu = dst.mtu().saturating_sub((IPV6_HDRLEN + elen) as u32);
    if check && !fits(&pkt, net, hdr, mtu) {
        return Verdict::Drop;
    }
    pkt.attach(dst);
    // The inner header as it leaves (hop taken): its DS field and hop
    // limit go outward.
    let Some(fields) = pkt.read(0).and_then(|h| nat::dsfield_ttl(&h)) else {
        return Verdict::Drop;
    };
    let inner = if hdr.is_v6() {
        nat::IPV6_IN_IP
    } else {
        nat::IPIP
    };
    let Ok((next, saddr)) = pkt.push_tunnel6(net, inner, encap, &cp.daddr) else {
        return Verdict::Drop;
    };
    let payload = (pkt.len() as usize).saturating_sub(IPV6_HDRLEN);
    let outer = nat::ipv6_tunnel_header(fields, next, payload, &saddr, &cp.daddr);
    let written = outer.and_then(|o| pkt.with_header_mut(IPV6_HDRLEN, |b| b.copy_from_slice(&o)));
    if written.is_none() {
        return Verdict::Drop;
    }
    pkt.send6(net)
}

/// Whether a NAT reply (or ICMP error) going to a client is routed
/// again once it comes from the virtual address, as if this host sent
/// it, so that policy routing by source applies: with `snat_reroute` (on
/// by default), unless the client is on this host (`LOCAL_IN`); stock's
/// `ip_vs_route_me_harder`.
pub(crate) fn snat_reroute(ipvs: &IpvsNet, local_in: bool) -> bool {
    !local_in && ipvs.sysctl(Sysctl::SnatReroute) != 0
}

/// Readdresses a whole ICMP error (`nat::icmp4_nat`, `nat::icmp6_nat`);
/// its checksums are complete afterwards.
fn rewrite_icmp(pkt: &Packet<'_>, hdr: &Hdr, outward: bool, addr: &Addr, port: [u8; 2]) -> bool {
    let len = pkt.len() as usize;
    let done = pkt
        .with_header_mut(len, |b| match hdr {
            Hdr::V4(_) => nat::icmp4_nat(b, outward, v4(addr), port),
            Hdr::V6 { .. } => nat::icmp6_nat(b, outward, addr, port),
        })
        .flatten()
        .is_some();
    if done {
        pkt.set_csum(Csum::Unnecessary);
    }
    done
}

/// An ICMP error from a real server (or a router on its way) about a NAT
/// connection, going to the client (`ip_vs_out_icmp`): it and the packet
/// it quotes now come from the virtual service.
pub(crate) fn icmp_to_client(
    pkt: &Packet<'_>,
    net: &Net,
    cp: &Conn,
    hdr: &Hdr,
    reroute: bool,
) -> Verdict {
    if !rewrite_icmp(pkt, hdr, true, &cp.vaddr, cp.vport) {
        return Verdict::Drop;
    }
    to_client(pkt, net, cp, hdr, reroute)
}

/// An ICMP error from a client about a connection's reply, going to the
/// real server (`ip_vs_in_icmp`): NAT readdresses it and the packet it
/// quotes; the other methods carry it as it is.
pub(crate) fn icmp_to_server(pkt: Packet<'_>, net: &Net, cp: &Conn, hdr: Hdr) -> Verdict {
    if cp.fwd() != conn_flags::MASQ {
        return forward(pkt, net, cp, &hdr, false);
    }
    if !rewrite_icmp(&pkt, &hdr, false, &cp.daddr, cp.dport) {
        return Verdict::Drop;
    }
    conntrack(&pkt, cp, true);
    route_and_send(pkt, net, &hdr, cp, false, false)
}
