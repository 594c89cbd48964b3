// SPDX-License-Identifier: GPL-2.0

//! Forwarding a client's packet to its real server (`ip_vs_xmit.c`): NAT
//! rewrites the destination, direct routing only re-routes, the tunnel
//! wraps the packet in an outer IPv4 header. Replies of NAT connections
//! are rewritten back in [`nat_reply`].

use crate::config::Addr;
use crate::conn::Conn;
use crate::kapi::net::Net;
use crate::kapi::netfilter::Verdict;
use crate::kapi::skb::{Csum, Packet, Route};
use crate::nat::{self, End};
use crate::packet::{Ipv4Header, IPV4_HDRLEN, IPV6_HDRLEN};
use crate::uapi::conn_flags;

fn v4(a: &Addr) -> [u8; 4] {
    [a[0], a[1], a[2], a[3]]
}

/// The network header of a packet IPVS handles.
pub(crate) enum Hdr {
    /// IPv4, with the fields forwarding needs.
    V4(Ipv4Header),
    /// IPv6 with the transport header right after the fixed header.
    V6,
}

impl Hdr {
    /// Bytes before the transport header.
    pub(crate) fn len(&self) -> usize {
        match self {
            Hdr::V4(h) => h.header_len,
            Hdr::V6 => IPV6_HDRLEN,
        }
    }

    fn is_v6(&self) -> bool {
        matches!(self, Hdr::V6)
    }
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
        if to_server {
            pkt.ct_alter_reply(true, &cp.daddr, cp.dport);
        } else {
            pkt.ct_alter_reply(false, &cp.vaddr, cp.vport);
        }
    }
}

/// Sends a client's packet on its way according to the connection's
/// forwarding method.
pub(crate) fn transmit(pkt: Packet<'_>, net: &Net, cp: &Conn, hdr: &Hdr) -> Verdict {
    conntrack(&pkt, cp, true);
    match cp.fwd() {
        conn_flags::MASQ => nat_request(pkt, net, cp, hdr),
        conn_flags::DROUTE => route_and_send(pkt, net, hdr, cp, true),
        conn_flags::TUNNEL => match hdr {
            Hdr::V4(iph) => tunnel(pkt, net, cp, iph),
            // No IPv6 tunnels yet (documented).
            Hdr::V6 => Verdict::Drop,
        },
        // The real server is this host, or the packet bypasses IPVS.
        _ => Verdict::Accept,
    }
}

/// Rewrites `end` of the packet to `addr:port`, minding checksum offload.
fn rewrite(
    pkt: &Packet<'_>,
    hdr: &Hdr,
    protocol: u8,
    end: End,
    addr: &Addr,
    port: [u8; 2],
) -> bool {
    let Some(l4) = nat::transport_header_len(protocol) else {
        return false;
    };
    let partial = pkt.csum() == Csum::Partial;
    let done = pkt
        .with_header_mut(hdr.len() + l4, |b| match hdr {
            Hdr::V4(_) => nat::rewrite4(b, end, v4(addr), port, partial),
            Hdr::V6 => nat::rewrite6(b, end, addr, port, partial),
        })
        .flatten()
        .is_some();
    if done && protocol == nat::SCTP {
        pkt.set_sctp_checksum(hdr.len());
    } else if done && pkt.csum() == Csum::Complete {
        // The payload sum no longer matches the rewritten header.
        pkt.set_csum(Csum::None);
    }
    done
}

/// Routes to the connection's real server and sends; a route back to this
/// host delivers locally. With `via_daddr` (direct routing) the packet
/// keeps its destination and only its next hop is the real server, which
/// has the virtual address on a non-ARPing interface (IPv4 routes always
/// take the real server as next hop, through its cache).
fn route_and_send(pkt: Packet<'_>, net: &Net, hdr: &Hdr, cp: &Conn, via_daddr: bool) -> Verdict {
    let route = if hdr.is_v6() {
        pkt.route6(net, &cp.daddr, via_daddr)
    } else {
        pkt.route4_cached(net, &cp.dest.route, v4(&cp.daddr))
            .map(|(r, _)| r)
    };
    match route {
        Ok(Route::Remote) if hdr.is_v6() => pkt.send6(net),
        Ok(Route::Remote) => pkt.send4(net),
        Ok(Route::Local) => {
            pkt.set_ipvs_property();
            Verdict::Accept
        }
        Err(_) => Verdict::Drop,
    }
}

/// NAT, client to real server (`ip_vs_nat_xmit`).
fn nat_request(pkt: Packet<'_>, net: &Net, cp: &Conn, hdr: &Hdr) -> Verdict {
    if !rewrite(
        &pkt,
        hdr,
        cp.protocol,
        End::Destination,
        &cp.daddr,
        cp.dport,
    ) {
        return Verdict::Drop;
    }
    route_and_send(pkt, net, hdr, cp, false)
}

/// NAT, real server to client (`handle_response`): the reply leaves with
/// the virtual address and port as its source.
pub(crate) fn nat_reply(pkt: &Packet<'_>, cp: &Conn, hdr: &Hdr) -> Verdict {
    if !rewrite(pkt, hdr, cp.protocol, End::Source, &cp.vaddr, cp.vport) {
        return Verdict::Drop;
    }
    conntrack(pkt, cp, false);
    pkt.set_ipvs_property();
    Verdict::Accept
}

/// IPIP tunnel (`ip_vs_tunnel_xmit`).
fn tunnel(pkt: Packet<'_>, net: &Net, cp: &Conn, iph: &Ipv4Header) -> Verdict {
    let daddr = v4(&cp.daddr);
    let saddr = match pkt.route4_cached(net, &cp.dest.route, daddr) {
        Ok((Route::Remote, saddr)) => saddr,
        Ok((Route::Local, _)) => {
            pkt.set_ipvs_property();
            return Verdict::Accept;
        }
        Err(_) => return Verdict::Drop,
    };
    let inner_len = pkt.len() as usize;
    let Some(mut outer) =
        nat::ipip_header(iph.tos, iph.ttl, iph.dont_fragment, inner_len, saddr, daddr)
    else {
        return Verdict::Drop;
    };
    if pkt.push_ipip().is_err() {
        return Verdict::Drop;
    }
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

/// Readdresses a whole ICMPv4 error (`nat::icmp4_nat`); its checksums
/// are complete afterwards.
fn rewrite_icmp(pkt: &Packet<'_>, outward: bool, addr: &Addr, port: [u8; 2]) -> bool {
    let len = pkt.len() as usize;
    let done = pkt
        .with_header_mut(len, |b| nat::icmp4_nat(b, outward, v4(addr), port))
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
pub(crate) fn icmp_to_client(pkt: &Packet<'_>, cp: &Conn) -> Verdict {
    if !rewrite_icmp(pkt, true, &cp.vaddr, cp.vport) {
        return Verdict::Drop;
    }
    conntrack(pkt, cp, false);
    pkt.set_ipvs_property();
    Verdict::Accept
}

/// An ICMP error from a client about a connection's reply, going to the
/// real server (`ip_vs_in_icmp`): NAT readdresses it and the packet it
/// quotes; the other methods carry it as it is.
pub(crate) fn icmp_to_server(pkt: Packet<'_>, net: &Net, cp: &Conn, iph: Ipv4Header) -> Verdict {
    if cp.fwd() != conn_flags::MASQ {
        return transmit(pkt, net, cp, &Hdr::V4(iph));
    }
    if !rewrite_icmp(&pkt, false, &cp.daddr, cp.dport) {
        return Verdict::Drop;
    }
    conntrack(&pkt, cp, true);
    route_and_send(pkt, net, &Hdr::V4(iph), cp, false)
}
