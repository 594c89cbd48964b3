// SPDX-License-Identifier: GPL-2.0

//! Sync daemon requests (`IPVS_CMD_NEW_DAEMON`, `DEL_DAEMON`): their
//! attributes, stock's defaults and refusals (`ip_vs_genl_new_daemon`,
//! `start_sync_thread`).
//!
//! Pure code, host-tested.

use crate::config::Error;
use crate::nlattr::{Attr, Nested, Rule};
use crate::sync_msg::{AF_INET, AF_INET6, SYNC_GROUP, SYNC_PORT};
use crate::uapi::daemon_attr;
use core::ffi::CStr;

/// Unicast peers a daemon may have.
pub(crate) const MAX_PEERS: usize = 16;

/// `IP_VS_STATE_MASTER`.
pub(crate) const MASTER: u32 = 1;
/// `IP_VS_STATE_BACKUP`.
pub(crate) const BACKUP: u32 = 2;

const EINVAL: i32 = 22;

const fn einval(msg: &'static CStr) -> Error {
    Error { errno: EINVAL, msg }
}

/// A sync daemon's configuration (`struct ipvs_sync_daemon_cfg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DaemonCfg {
    /// Interface name, NUL-padded.
    pub(crate) ifname: [u8; 16],
    /// Sync group id (messages carry its low byte).
    pub(crate) syncid: u32,
    /// Largest message, bytes (0 until [`DaemonCfg::resolve`]).
    pub(crate) sync_maxlen: u16,
    /// Group address family, 0 for the default group.
    pub(crate) mcast_af: u16,
    /// Group address (IPv4: the first four bytes).
    pub(crate) group: [u8; 16],
    /// UDP port of the first thread (the n-th uses port + n).
    pub(crate) port: u16,
    /// Multicast TTL / hop limit.
    pub(crate) ttl: u8,
    /// Unicast peers' family, 0 without peers (multicast, as stock).
    pub(crate) peer_af: u16,
    /// How many of `peers` are used.
    pub(crate) npeers: u8,
    /// Unicast peers (IPv4: the first four bytes): a master sends to
    /// each, a backup listens on the first and asks the others to resync.
    pub(crate) peers: [[u8; 16]; MAX_PEERS],
}

impl DaemonCfg {
    /// The interface name without padding.
    pub(crate) fn ifname(&self) -> &[u8] {
        let n = self.ifname.iter().position(|&b| b == 0).unwrap_or(16);
        &self.ifname[..n]
    }

    /// The unicast peers (none: multicast).
    pub(crate) fn peers(&self) -> &[[u8; 16]] {
        &self.peers[..usize::from(self.npeers)]
    }

    /// The family of the sockets: the peers' if any, else the group's.
    pub(crate) fn sock_af(&self) -> u16 {
        if self.npeers > 0 {
            self.peer_af
        } else {
            self.mcast_af
        }
    }

    /// The interface name with its NUL, for the kernel's lookups.
    pub(crate) fn ifname_cstr(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.ifname).unwrap_or(c"")
    }

    /// Fills in stock's defaults (group 224.0.0.81, port 8848, TTL 1) and
    /// the message size: `sync_maxlen` clamped to what fits a datagram
    /// (a backup takes at least 1024), else the MTU (a master 1500, a
    /// backup its interface's, at least 1500) less the IP and UDP headers.
    pub(crate) fn resolve(&mut self, state: u32, dev_mtu: u32) {
        if self.mcast_af == 0 {
            self.mcast_af = AF_INET;
            self.group = [0; 16];
            self.group[..4].copy_from_slice(&SYNC_GROUP);
        }
        if self.port == 0 {
            self.port = SYNC_PORT;
        }
        if self.ttl == 0 {
            self.ttl = 1;
        }
        let hlen: u32 = if self.sock_af() == AF_INET6 {
            40 + 8
        } else {
            20 + 8
        };
        let backup = state == BACKUP;
        let mtu = if backup {
            dev_mtu.clamp(1500, 65535)
        } else {
            1500
        };
        let min = if backup { 1024 } else { 1 };
        self.sync_maxlen = if self.sync_maxlen != 0 {
            u32::from(self.sync_maxlen).clamp(min, 65535 - hlen) as u16
        } else {
            (mtu - hlen) as u16
        };
    }
}

/// Stock's `ip_vs_daemon_policy` (type 0 unchecked, as the kernel skips it).
const POLICY: [Rule; 9] = [
    Rule::Any,
    Rule::Int(4),        // STATE
    Rule::NulString(15), // MCAST_IFN
    Rule::Int(4),        // SYNC_ID
    Rule::Int(2),        // SYNC_MAXLEN
    Rule::Int(4),        // MCAST_GROUP
    Rule::AtLeast(16),   // MCAST_GROUP6
    Rule::Int(2),        // MCAST_PORT
    Rule::Int(1),        // MCAST_TTL
];

/// The attributes of `IPVS_CMD_ATTR_DAEMON`, each checked against stock's
/// policy (`ip_vs_daemon_policy`): any violation is `EINVAL`, as stock
/// answers a nest that fails to parse.
fn collect(nest: Option<Attr<'_>>) -> Result<[Option<Attr<'_>>; 9], Error> {
    const BAD: &CStr = c"ipvs: malformed sync daemon attributes";
    let nest = nest.ok_or(einval(c"ipvs: sync daemon attribute missing"))?;
    let mut out = [None; 9];
    for a in Nested::new(nest.bytes()) {
        // A malformed tail ends the nest, as the kernel's parser stops.
        let Ok((ty, a)) = a else {
            break;
        };
        let rule = POLICY.get(usize::from(ty)).copied().unwrap_or(Rule::Any);
        if !rule.accepts(a.bytes()) {
            return Err(einval(if ty == daemon_attr::MCAST_IFN {
                c"ipvs: sync interface name too long or unterminated"
            } else {
                BAD
            }));
        }
        if let Some(slot) = out.get_mut(usize::from(ty)) {
            *slot = Some(a);
        }
    }
    Ok(out)
}

fn is_multicast6(a: &[u8; 16]) -> bool {
    a[0] == 0xff
}

/// `IPVS_CMD_NEW_DAEMON`: the state asked for and the configuration.
pub(crate) fn parse_new(nest: Option<Attr<'_>>) -> Result<(u32, DaemonCfg), Error> {
    let a = collect(nest)?;
    let (Some(state), Some(ifn), Some(syncid)) = (
        a[usize::from(daemon_attr::STATE)],
        a[usize::from(daemon_attr::MCAST_IFN)],
        a[usize::from(daemon_attr::SYNC_ID)],
    ) else {
        return Err(einval(
            c"ipvs: sync daemon needs state, interface and sync id",
        ));
    };
    let mut c = DaemonCfg {
        ifname: [0; 16],
        syncid: syncid.u32().unwrap_or(0),
        sync_maxlen: 0,
        mcast_af: 0,
        group: [0; 16],
        port: 0,
        ttl: 0,
        peer_af: 0,
        npeers: 0,
        peers: [[0; 16]; MAX_PEERS],
    };
    let name = ifn.bytes();
    let n = name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(name.len())
        .min(15);
    c.ifname[..n].copy_from_slice(&name[..n]);
    if let Some(v) = a[usize::from(daemon_attr::SYNC_MAXLEN)] {
        c.sync_maxlen = v.u16().unwrap_or(0);
    }
    if let Some(g) = a[usize::from(daemon_attr::MCAST_GROUP)] {
        c.mcast_af = AF_INET;
        c.group[..4].copy_from_slice(&g.bytes()[..4]);
        if c.group[0] & 0xf0 != 0xe0 {
            return Err(einval(c"ipvs: sync group is not an IPv4 multicast address"));
        }
    } else if let Some(g) = a[usize::from(daemon_attr::MCAST_GROUP6)] {
        c.mcast_af = AF_INET6;
        c.group.copy_from_slice(&g.bytes()[..16]);
        if !is_multicast6(&c.group) {
            return Err(einval(c"ipvs: sync group is not an IPv6 multicast address"));
        }
    }
    if let Some(v) = a[usize::from(daemon_attr::MCAST_PORT)] {
        c.port = v.u16().unwrap_or(0);
    }
    if let Some(v) = a[usize::from(daemon_attr::MCAST_TTL)] {
        c.ttl = v.u8().unwrap_or(0);
    }
    let state = state.u32().unwrap_or(0);
    if let Some(n) = nest {
        peers(&mut c, n)?;
    }
    Ok((state, c))
}

/// The `RS_PEER` attributes (beyond stock): unicast addresses of one
/// family, at most [`MAX_PEERS`]. A master sends to each; a backup
/// listens on the first and asks the others (its masters) for a full
/// resynchronization when it starts.
fn peers(c: &mut DaemonCfg, nest: Attr<'_>) -> Result<(), Error> {
    for a in Nested::new(nest.bytes()) {
        let Ok((daemon_attr::RS_PEER, a)) = a else {
            continue;
        };
        let b = a.bytes();
        let af = match b.len() {
            4 => AF_INET,
            16 => AF_INET6,
            _ => return Err(einval(c"ipvs: a sync peer is an IPv4 or IPv6 address")),
        };
        if c.npeers > 0 && af != c.peer_af {
            return Err(einval(c"ipvs: sync peers must be of one family"));
        }
        let multicast = if af == AF_INET {
            b[0] & 0xf0 == 0xe0
        } else {
            b[0] == 0xff
        };
        if multicast || b.iter().all(|&x| x == 0) {
            return Err(einval(c"ipvs: a sync peer must be a unicast address"));
        }
        if usize::from(c.npeers) == MAX_PEERS {
            return Err(einval(c"ipvs: too many sync peers"));
        }
        c.peers[usize::from(c.npeers)][..b.len()].copy_from_slice(b);
        c.peer_af = af;
        c.npeers += 1;
    }
    Ok(())
}

/// `IPVS_CMD_DEL_DAEMON`: the state to stop.
pub(crate) fn parse_del(nest: Option<Attr<'_>>) -> Result<u32, Error> {
    let a = collect(nest)?;
    a[usize::from(daemon_attr::STATE)]
        .and_then(|s| s.u32())
        .ok_or(einval(c"ipvs: sync daemon state missing"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nlattr::push as put;

    fn nest(attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        for (t, d) in attrs {
            put(&mut b, *t, d);
        }
        b
    }

    fn new(attrs: &[(u16, &[u8])]) -> Result<(u32, DaemonCfg), Error> {
        let b = nest(attrs);
        parse_new(Some(Attr::new(&b)))
    }

    #[test]
    fn defaults_are_stocks() {
        let (state, mut c) = new(&[
            (daemon_attr::STATE, &MASTER.to_ne_bytes()),
            (daemon_attr::MCAST_IFN, b"eth0\0"),
            (daemon_attr::SYNC_ID, &7u32.to_ne_bytes()),
        ])
        .unwrap();
        assert_eq!(state, MASTER);
        assert_eq!(c.ifname(), b"eth0");
        c.resolve(MASTER, 9000);
        assert_eq!(c.mcast_af, AF_INET);
        assert_eq!(&c.group[..4], &[224, 0, 0, 81]);
        assert_eq!((c.port, c.ttl, c.sync_maxlen, c.syncid), (8848, 1, 1472, 7));
        // A backup sizes for its interface's MTU, at least 1500.
        let mut b = c;
        b.sync_maxlen = 0;
        b.resolve(BACKUP, 9000);
        assert_eq!(b.sync_maxlen, 9000 - 28);
        b.sync_maxlen = 0;
        b.resolve(BACKUP, 1280);
        assert_eq!(b.sync_maxlen, 1472);
        // Given sizes are clamped: a backup takes at least 1024.
        b.sync_maxlen = 100;
        b.resolve(BACKUP, 1500);
        assert_eq!(b.sync_maxlen, 1024);
        let mut m = c;
        m.sync_maxlen = 100;
        m.resolve(MASTER, 1500);
        assert_eq!(m.sync_maxlen, 100);
        m.sync_maxlen = 65535;
        m.resolve(MASTER, 1500);
        assert_eq!(m.sync_maxlen, 65535 - 28);
    }

    #[test]
    fn groups_must_be_multicast() {
        let base: [(u16, &[u8]); 3] = [
            (daemon_attr::STATE, &BACKUP.to_ne_bytes()),
            (daemon_attr::MCAST_IFN, b"eth0\0"),
            (daemon_attr::SYNC_ID, &0u32.to_ne_bytes()),
        ];
        let with = |extra: (u16, &[u8])| {
            let mut v = base.to_vec();
            v.push(extra);
            new(&v)
        };
        assert_eq!(
            with((daemon_attr::MCAST_GROUP, &[10, 0, 0, 1]))
                .unwrap_err()
                .errno,
            EINVAL
        );
        let (_, c) = with((daemon_attr::MCAST_GROUP, &[239, 1, 2, 3])).unwrap();
        assert_eq!((c.mcast_af, &c.group[..4]), (AF_INET, &[239, 1, 2, 3][..]));
        let mut g6 = [0u8; 16];
        g6[0] = 0x20;
        assert!(with((daemon_attr::MCAST_GROUP6, &g6)).is_err());
        g6[0] = 0xff;
        g6[1] = 0x02;
        g6[15] = 0x51;
        let (_, c) = with((daemon_attr::MCAST_GROUP6, &g6)).unwrap();
        assert_eq!((c.mcast_af, c.group), (AF_INET6, g6));
        let (_, mut c) = with((daemon_attr::MCAST_PORT, &9000u16.to_ne_bytes())).unwrap();
        c.resolve(BACKUP, 1500);
        assert_eq!(c.port, 9000);
    }

    #[test]
    fn unicast_peers() {
        let st = MASTER.to_ne_bytes();
        let bk = BACKUP.to_ne_bytes();
        let id = 7u32.to_ne_bytes();
        let ifn: (u16, &[u8]) = (daemon_attr::MCAST_IFN, b"eth0\0");
        let with = |state: &[u8], peers: &[&[u8]]| {
            let mut v: Vec<(u16, &[u8])> = vec![
                (daemon_attr::STATE, state),
                ifn,
                (daemon_attr::SYNC_ID, &id),
            ];
            for p in peers {
                v.push((daemon_attr::RS_PEER, p));
            }
            new(&v)
        };
        let (_, mut c) = with(&st, &[&[10, 0, 0, 12], &[10, 0, 0, 13]]).unwrap();
        assert_eq!(c.peers().len(), 2);
        assert_eq!(&c.peers()[1][..4], &[10, 0, 0, 13]);
        assert_eq!(c.sock_af(), AF_INET);
        c.resolve(MASTER, 1500);
        assert_eq!((c.mcast_af, c.sync_maxlen), (AF_INET, 1472));
        // IPv6 peers size messages for IPv6 headers.
        let mut p6 = [0u8; 16];
        p6[0] = 0xfd;
        p6[15] = 2;
        let (_, mut c) = with(&st, &[&p6]).unwrap();
        c.resolve(MASTER, 1500);
        assert_eq!((c.sock_af(), c.sync_maxlen), (AF_INET6, 1452));
        // One family, unicast, at most MAX_PEERS, one for a backup.
        assert!(with(&st, &[&[10, 0, 0, 12], &p6]).is_err());
        assert!(with(&st, &[&[239, 0, 0, 1]]).is_err());
        assert!(with(&st, &[&[0, 0, 0, 0]]).is_err());
        assert!(with(&st, &[&[10, 0, 0]]).is_err());
        let mut ff = [0u8; 16];
        ff[0] = 0xff;
        assert!(with(&st, &[&ff]).is_err());
        let many: Vec<[u8; 4]> = (1..=17).map(|i| [10, 0, 1, i]).collect();
        let refs: Vec<&[u8]> = many.iter().map(|a| &a[..]).collect();
        assert!(with(&st, &refs[..16]).is_ok());
        assert!(with(&st, &refs).is_err());
        // A backup: its own address, then the masters it asks to resync.
        let (_, c) = with(&bk, &[&[10, 0, 0, 12], &[10, 0, 0, 11]]).unwrap();
        assert_eq!(c.peers().len(), 2);
        // Without peers: multicast, as stock.
        let (_, c) = with(&st, &[]).unwrap();
        assert!(c.peers().is_empty());
    }

    #[test]
    fn refuses_what_stock_refuses() {
        let id = 1u32.to_ne_bytes();
        let st = MASTER.to_ne_bytes();
        // Missing state, interface or sync id.
        assert!(new(&[
            (daemon_attr::MCAST_IFN, b"eth0\0"),
            (daemon_attr::SYNC_ID, &id)
        ])
        .is_err());
        assert!(new(&[(daemon_attr::STATE, &st), (daemon_attr::SYNC_ID, &id)]).is_err());
        assert!(new(&[
            (daemon_attr::STATE, &st),
            (daemon_attr::MCAST_IFN, b"eth0\0")
        ])
        .is_err());
        // Short integers, unterminated or long names.
        let ifn: (u16, &[u8]) = (daemon_attr::MCAST_IFN, b"eth0\0");
        assert!(new(&[
            (daemon_attr::STATE, &[1, 0]),
            ifn,
            (daemon_attr::SYNC_ID, &id)
        ])
        .is_err());
        assert!(new(&[
            (daemon_attr::STATE, &st),
            (daemon_attr::MCAST_IFN, b"eth0"),
            (daemon_attr::SYNC_ID, &id)
        ])
        .is_err());
        assert!(new(&[
            (daemon_attr::STATE, &st),
            (daemon_attr::MCAST_IFN, b"abcdefghijklmnop\0"),
            (daemon_attr::SYNC_ID, &id)
        ])
        .is_err());
        assert!(new(&[
            (daemon_attr::STATE, &st),
            ifn,
            (daemon_attr::SYNC_ID, &id),
            (daemon_attr::MCAST_GROUP6, &[0xff; 8])
        ])
        .is_err());
        // No nest at all, or a malformed one.
        assert!(parse_new(None).is_err());
        assert!(parse_new(Some(Attr::new(&[200, 0, 1, 0]))).is_err());
        // Fifteen characters are fine.
        let (_, c) = new(&[
            (daemon_attr::STATE, &st),
            (daemon_attr::MCAST_IFN, b"abcdefghijklmno\0"),
            (daemon_attr::SYNC_ID, &id),
        ])
        .unwrap();
        assert_eq!(c.ifname(), b"abcdefghijklmno");
        assert_eq!(c.ifname_cstr(), c"abcdefghijklmno");
        // Delete needs the state only.
        let b = nest(&[(daemon_attr::STATE, &BACKUP.to_ne_bytes())]);
        assert_eq!(parse_del(Some(Attr::new(&b))), Ok(BACKUP));
        assert!(parse_del(Some(Attr::new(&[]))).is_err());
    }
}
