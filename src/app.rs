// SPDX-License-Identifier: GPL-2.0

//! Application helpers (`ip_vs_app.c`): code that reads, and may
//! rewrite, the payload of a NAT connection whose protocol carries
//! addresses (FTP). A connection gets its helper when it is made, by
//! protocol and virtual port; the NAT path hands the helper each packet
//! before rewriting its addresses. A new helper is one type implementing
//! [`App`] and one line in [`APPS`].

use crate::conn::Conn;
use crate::kapi::skb::Packet;
use crate::netns::IpvsNet;
use crate::packet::Hdr;
use crate::uapi::conn_flags;

/// An application helper.
pub(crate) trait App: Sync {
    /// The protocol of the connections it watches.
    fn protocol(&self) -> u8;
    /// Whether it watches connections to virtual port `port`.
    fn watches(&self, port: u16) -> bool;
    /// Connection flags its connections need (stock's `init_conn`).
    fn conn_flags(&self) -> u32 {
        0
    }
    /// A client's packet of a connection it watches, before NAT
    /// rewrites it (`pkt_in`); `false`: drop the packet.
    fn pkt_in(&self, ipvs: &IpvsNet, cp: &Conn, pkt: &Packet<'_>, hdr: &Hdr) -> bool;
    /// A real server's packet of a connection it watches, before NAT
    /// rewrites it (`pkt_out`); `false`: drop the packet.
    fn pkt_out(&self, ipvs: &IpvsNet, cp: &Conn, pkt: &Packet<'_>, hdr: &Hdr) -> bool;
}

/// The helpers; a connection keeps its helper's position plus one.
static APPS: [&dyn App; 1] = [&crate::app_ftp::Ftp];

/// The helper that watches a new connection (`ip_vs_bind_app`; NAT
/// connections only, as stock's TCP and UDP binding): its number for
/// [`get`], 0 for none.
pub(crate) fn bind(protocol: u8, vport: [u8; 2], fwd: u32) -> u8 {
    if fwd != conn_flags::MASQ {
        return 0;
    }
    let port = u16::from_be_bytes(vport);
    APPS.iter()
        .position(|a| a.protocol() == protocol && a.watches(port))
        .map_or(0, |i| i as u8 + 1)
}

/// The helper [`bind`] numbered `id`.
pub(crate) fn get(id: u8) -> Option<&'static dyn App> {
    APPS.get(usize::from(id).checked_sub(1)?).copied()
}

/// Gives a client's packet to its connection's helper, if any
/// (`ip_vs_app_pkt_in`, with `tcp_dnat_handler`'s checksum check first).
/// `false`: drop the packet.
pub(crate) fn pkt_in(ipvs: &IpvsNet, cp: &Conn, pkt: &Packet<'_>, hdr: &Hdr) -> bool {
    let Some(app) = cp.app() else {
        return true;
    };
    pkt.tcp_checksum_ok(hdr.len(), hdr.is_v6()) && app.pkt_in(ipvs, cp, pkt, hdr)
}

/// As [`pkt_in`], for a real server's packet (`ip_vs_app_pkt_out`).
pub(crate) fn pkt_out(ipvs: &IpvsNet, cp: &Conn, pkt: &Packet<'_>, hdr: &Hdr) -> bool {
    let Some(app) = cp.app() else {
        return true;
    };
    pkt.tcp_checksum_ok(hdr.len(), hdr.is_v6()) && app.pkt_out(ipvs, cp, pkt, hdr)
}
