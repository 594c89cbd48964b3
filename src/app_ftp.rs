// SPDX-License-Identifier: GPL-2.0

//! The FTP helper (`ip_vs_ftp.c`) for NAT services on its ports
//! (`ftp_ports`, 21 by default). The real server's address must not
//! reach the client, and its data connections must reach the director:
//!
//! - passive mode: the server's `227`/`229` answer is rewritten to the
//!   virtual address and the server's data port, and a connection from
//!   the client (port not known yet) to that port is made for it;
//! - active mode: the client's `PORT`/`EPRT` makes a connection for the
//!   server's data connection, from its port 20 to the client.
//!
//! The data connections are controlled by the control connection, which
//! stays while they do. The payload's text is in [`crate::ftp`].

use crate::app::App;
use crate::conn::{Conn, ConnRef, InUse, Lookup, NewConn, NO_CPORT};
use crate::ftp::{self, Command, Mode};
use crate::kapi::abi::{self, hz};
use crate::kapi::skb::Packet;
use crate::nat::TCP;
use crate::netns::IpvsNet;
use crate::packet::Hdr;
use crate::service::AF_INET6;
use crate::state::Tcp;
use crate::uapi::conn_flags;

/// The FTP helper.
pub(crate) struct Ftp;

/// How long a data connection waits for its first packet (LISTEN's
/// timeout, `ip_vs_tcp_conn_listen`).
fn listen_timeout() -> u32 {
    Tcp::Listen.default_timeout().saturating_mul(hz())
}

/// Gives `f` the TCP payload of the packet, made linear and private
/// (stock's `skb_ensure_writable` of the whole packet). `None` if that
/// fails; `Some(None)` if there is no payload or `f` finds nothing.
fn with_payload<R>(
    pkt: &Packet<'_>,
    hdr: &Hdr,
    f: impl FnOnce(&[u8]) -> Option<R>,
) -> Option<Option<R>> {
    let l4 = hdr.len();
    let len = usize::try_from(pkt.len()).ok()?;
    let from_nh = len.checked_sub(usize::try_from(pkt.network_offset()).ok()?)?;
    pkt.with_header_mut(from_nh, |b| {
        let doff = usize::from(*b.get(l4 + 12)? >> 4) * 4;
        if doff < 20 {
            return None;
        }
        b.get(l4 + doff..).filter(|d| !d.is_empty()).and_then(f)
    })
}

/// A new data connection (its caller puts it in LISTEN).
fn data_conn(ipvs: &IpvsNet, n: NewConn) -> Option<ConnRef> {
    ipvs.conns.as_ref().create(n).ok()
}

/// The fields a data connection of `cp` shares with it.
fn new_conn(cp: &Conn, mark: u32, control: ConnRef) -> NewConn {
    NewConn {
        af: cp.af,
        protocol: TCP,
        caddr: cp.caddr,
        cport: [0, 0],
        vaddr: cp.vaddr,
        vport: [0, 0],
        daddr: cp.daddr,
        dport: [0, 0],
        flags: cp.fwd() | conn_flags::NFCT,
        timeout: listen_timeout(),
        dest: cp.dest.clone(),
        svc_stats: cp.svc_stats.clone(),
        control: Some(control),
        pe_data: None,
        fwmark: mark,
    }
}

/// One port below `port` (the data port of an FTP control port).
fn below(port: [u8; 2]) -> [u8; 2] {
    u16::from_be_bytes(port).wrapping_sub(1).to_be_bytes()
}

impl App for Ftp {
    fn protocol(&self) -> u8 {
        TCP
    }

    fn watches(&self, port: u16) -> bool {
        abi::ftp_watches(port)
    }

    /// The control connection's conntrack entry carries the sequence
    /// adjustment of rewritten answers.
    fn conn_flags(&self) -> u32 {
        conn_flags::NFCT
    }

    /// The client's commands: `PASV`/`EPSV` say an answer to rewrite
    /// comes; `PORT`/`EPRT` make the connection of the server's active
    /// data connection (nothing to rewrite: the client's address is
    /// what the server must reach).
    fn pkt_in(&self, ipvs: &IpvsNet, cp: &Conn, pkt: &Packet<'_>, hdr: &Hdr) -> bool {
        if !cp.tcp_established() {
            return true;
        }
        let ipv6 = cp.af == AF_INET6;
        let Some(cmd) = with_payload(pkt, hdr, |d| ftp::client_command(d, ipv6)) else {
            return false;
        };
        let to = match cmd {
            None => return true,
            Some(Command::Pasv) => {
                cp.set_app_data(Mode::Pasv as u8);
                return true;
            }
            Some(Command::Epsv) => {
                cp.set_app_data(Mode::Epsv as u8);
                return true;
            }
            Some(Command::Active(to)) => to,
        };
        cp.set_app_data(Mode::Active as u8);
        let rcu = pkt.rcu();
        let vport = below(cp.vport);
        let l = Lookup {
            af: cp.af,
            protocol: TCP,
            saddr: &to.addr,
            sport: to.port.to_be_bytes(),
            daddr: &cp.vaddr,
            dport: vport,
        };
        let n = match ipvs.conns.lookup_in(&rcu, &l) {
            Some(n) => n,
            None => {
                let Some(control) = cp.counted() else {
                    return false;
                };
                let n = NewConn {
                    caddr: to.addr,
                    cport: to.port.to_be_bytes(),
                    vport,
                    dport: below(cp.dport),
                    ..new_conn(cp, pkt.mark(), control)
                };
                match data_conn(ipvs, n) {
                    Some(n) => InUse::Counted(n),
                    None => return false,
                }
            }
        };
        n.tcp_listen(listen_timeout());
        true
    }

    /// The server's `227`/`229` answer after `PASV`/`EPSV`: rewritten to
    /// the virtual address (`229`: the port only), with a connection
    /// from the client to the data port made for it.
    fn pkt_out(&self, ipvs: &IpvsNet, cp: &Conn, pkt: &Packet<'_>, hdr: &Hdr) -> bool {
        if !cp.tcp_established() {
            return true;
        }
        let mode = Mode::from_u8(cp.app_data());
        if mode == Mode::Active {
            return true;
        }
        let ipv6 = cp.af == AF_INET6;
        let Some(found) = with_payload(pkt, hdr, |d| ftp::passive_reply(d, mode, ipv6, &cp.daddr))
        else {
            return false;
        };
        let Some(found) = found else {
            return true;
        };
        let rcu = pkt.rcu();
        let port = found.at.port.to_be_bytes();
        let l = Lookup {
            af: cp.af,
            protocol: TCP,
            saddr: &found.at.addr,
            sport: port,
            daddr: &cp.caddr,
            dport: [0, 0],
        };
        let n = match ipvs.conns.lookup_out(&rcu, &l) {
            Some(n) => n,
            None => {
                let Some(control) = cp.counted() else {
                    return false;
                };
                let mut n = NewConn {
                    vport: port,
                    daddr: found.at.addr,
                    dport: port,
                    ..new_conn(cp, pkt.mark(), control)
                };
                n.flags |= NO_CPORT;
                match data_conn(ipvs, n) {
                    Some(n) => InUse::Counted(n),
                    None => return false,
                }
            }
        };
        let (text, len) = ftp::passive_text(mode, &n.vaddr, u16::from_be_bytes(n.vport));
        let span = found.span;
        let rewritten = pkt.mangle_tcp(hdr.len(), span.start, span.len(), &text[..len]);
        if rewritten {
            pkt.ct_expect(TCP, &n.caddr, &n.vaddr, n.vport);
        }
        cp.set_app_data(Mode::Active as u8);
        n.tcp_listen(listen_timeout());
        rewritten
    }
}
