// SPDX-License-Identifier: GPL-2.0

//! The IPVS generic netlink ABI (`include/uapi/linux/ip_vs.h`).
//!
//! Pure constants, shared by the module and `ipvsadm-rs`. The module checks
//! them against the kernel header at build time (see `netlink.rs`).

/// Generic netlink family name.
pub(crate) const GENL_NAME: &str = "IPVS";
/// Generic netlink family version.
pub(crate) const GENL_VERSION: u8 = 0x1;
/// IPVS version reported by `IPVS_CMD_GET_INFO`: 1.2.1.
pub(crate) const VERSION_CODE: u32 = 0x010201;

/// Splits a version code into (major, minor, patch).
pub(crate) const fn version_triple(code: u32) -> (u32, u32, u32) {
    ((code >> 16) & 0xff, (code >> 8) & 0xff, code & 0xff)
}

/// Generic netlink commands.
pub(crate) mod cmd {
    pub(crate) const NEW_SERVICE: u8 = 1;
    pub(crate) const SET_SERVICE: u8 = 2;
    pub(crate) const DEL_SERVICE: u8 = 3;
    pub(crate) const GET_SERVICE: u8 = 4;
    pub(crate) const NEW_DEST: u8 = 5;
    pub(crate) const SET_DEST: u8 = 6;
    pub(crate) const DEL_DEST: u8 = 7;
    pub(crate) const GET_DEST: u8 = 8;
    pub(crate) const NEW_DAEMON: u8 = 9;
    pub(crate) const DEL_DAEMON: u8 = 10;
    pub(crate) const GET_DAEMON: u8 = 11;
    pub(crate) const SET_CONFIG: u8 = 12;
    pub(crate) const GET_CONFIG: u8 = 13;
    pub(crate) const SET_INFO: u8 = 14;
    pub(crate) const GET_INFO: u8 = 15;
    pub(crate) const ZERO: u8 = 16;
    pub(crate) const FLUSH: u8 = 17;
    pub(crate) const MAX: u8 = FLUSH;
}

/// Top-level command attributes.
pub(crate) mod cmd_attr {
    pub(crate) const SERVICE: u16 = 1;
    pub(crate) const DEST: u16 = 2;
    pub(crate) const DAEMON: u16 = 3;
    pub(crate) const TIMEOUT_TCP: u16 = 4;
    pub(crate) const TIMEOUT_TCP_FIN: u16 = 5;
    pub(crate) const TIMEOUT_UDP: u16 = 6;
    pub(crate) const MAX: u16 = TIMEOUT_UDP;
}

/// Attributes nested in `cmd_attr::SERVICE`.
pub(crate) mod svc_attr {
    pub(crate) const AF: u16 = 1;
    pub(crate) const PROTOCOL: u16 = 2;
    pub(crate) const ADDR: u16 = 3;
    pub(crate) const PORT: u16 = 4;
    pub(crate) const FWMARK: u16 = 5;
    pub(crate) const SCHED_NAME: u16 = 6;
    pub(crate) const FLAGS: u16 = 7;
    pub(crate) const TIMEOUT: u16 = 8;
    pub(crate) const NETMASK: u16 = 9;
    pub(crate) const STATS: u16 = 10;
    pub(crate) const PE_NAME: u16 = 11;
    pub(crate) const STATS64: u16 = 12;
    pub(crate) const MAX: u16 = STATS64;
}

/// Attributes nested in `cmd_attr::DEST`.
pub(crate) mod dest_attr {
    pub(crate) const ADDR: u16 = 1;
    pub(crate) const PORT: u16 = 2;
    pub(crate) const FWD_METHOD: u16 = 3;
    pub(crate) const WEIGHT: u16 = 4;
    pub(crate) const U_THRESH: u16 = 5;
    pub(crate) const L_THRESH: u16 = 6;
    pub(crate) const ACTIVE_CONNS: u16 = 7;
    pub(crate) const INACT_CONNS: u16 = 8;
    pub(crate) const PERSIST_CONNS: u16 = 9;
    pub(crate) const STATS: u16 = 10;
    pub(crate) const ADDR_FAMILY: u16 = 11;
    pub(crate) const STATS64: u16 = 12;
    pub(crate) const TUN_TYPE: u16 = 13;
    pub(crate) const TUN_PORT: u16 = 14;
    pub(crate) const TUN_FLAGS: u16 = 15;
    pub(crate) const MAX: u16 = TUN_FLAGS;
}

/// Attributes nested in `cmd_attr::DAEMON`.
pub(crate) mod daemon_attr {
    pub(crate) const STATE: u16 = 1;
    pub(crate) const MCAST_IFN: u16 = 2;
    pub(crate) const SYNC_ID: u16 = 3;
    pub(crate) const SYNC_MAXLEN: u16 = 4;
    pub(crate) const MCAST_GROUP: u16 = 5;
    pub(crate) const MCAST_GROUP6: u16 = 6;
    pub(crate) const MCAST_PORT: u16 = 7;
    pub(crate) const MCAST_TTL: u16 = 8;
    pub(crate) const MAX: u16 = MCAST_TTL;
    /// ipvs_rs only: a unicast peer (4 or 16 bytes), repeated. A master
    /// sends to each peer instead of the group; a backup listens on its
    /// one peer address, a local one. Far above stock's numbers, so
    /// that a new stock attribute never collides; stock ignores it.
    pub(crate) const RS_PEER: u16 = 64;
}

/// Attributes nested in the `STATS`/`STATS64` attributes.
pub(crate) mod stats_attr {
    pub(crate) const CONNS: u16 = 1;
    pub(crate) const INPKTS: u16 = 2;
    pub(crate) const OUTPKTS: u16 = 3;
    pub(crate) const INBYTES: u16 = 4;
    pub(crate) const OUTBYTES: u16 = 5;
    pub(crate) const CPS: u16 = 6;
    pub(crate) const INPPS: u16 = 7;
    pub(crate) const OUTPPS: u16 = 8;
    pub(crate) const INBPS: u16 = 9;
    pub(crate) const OUTBPS: u16 = 10;
    pub(crate) const PAD: u16 = 11;
    pub(crate) const MAX: u16 = PAD;
}

/// Attributes of the `IPVS_CMD_GET_INFO` reply.
pub(crate) mod info_attr {
    pub(crate) const VERSION: u16 = 1;
    pub(crate) const CONN_TAB_SIZE: u16 = 2;
    pub(crate) const MAX: u16 = CONN_TAB_SIZE;
}

/// Service flags (`IP_VS_SVC_F_*`).
pub(crate) mod svc_flags {
    pub(crate) const PERSISTENT: u32 = 0x0001;
    pub(crate) const HASHED: u32 = 0x0002;
    pub(crate) const ONEPACKET: u32 = 0x0004;
    pub(crate) const SCHED1: u32 = 0x0008;
    pub(crate) const SCHED2: u32 = 0x0010;
    pub(crate) const SCHED3: u32 = 0x0020;
}

/// Connection flags (`IP_VS_CONN_F_*`); the low bits are the forwarding method.
pub(crate) mod conn_flags {
    pub(crate) const FWD_MASK: u32 = 0x0007;
    pub(crate) const MASQ: u32 = 0x0000;
    pub(crate) const LOCALNODE: u32 = 0x0001;
    pub(crate) const TUNNEL: u32 = 0x0002;
    pub(crate) const DROUTE: u32 = 0x0003;
    pub(crate) const BYPASS: u32 = 0x0004;
    pub(crate) const ONE_PACKET: u32 = 0x2000;
    pub(crate) const TEMPLATE: u32 = 0x1000;
    pub(crate) const NFCT: u32 = 1 << 16;
}

/// Tunnel types (`IP_VS_CONN_F_TUNNEL_TYPE_*`) and their flags
/// (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
pub(crate) mod tunnel {
    pub(crate) const IPIP: u8 = 0;
    pub(crate) const GUE: u8 = 1;
    pub(crate) const GRE: u8 = 2;
    pub(crate) const TYPE_MAX: u8 = 3;
    pub(crate) const CSUM: u16 = 1 << 0;
    pub(crate) const REMCSUM: u16 = 1 << 1;
}

/// What a tunnel puts between its outer header and the inner packet: a
/// real server's `--tun-type` with its flags and port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Encap {
    /// [`tunnel::IPIP`] (nothing), [`tunnel::GUE`] or [`tunnel::GRE`].
    pub(crate) kind: u8,
    /// [`tunnel::CSUM`], [`tunnel::REMCSUM`].
    pub(crate) flags: u16,
    /// GUE's UDP destination port (network order).
    pub(crate) port: [u8; 2],
}

impl Encap {
    /// Its bytes on a packet whose checksum is left to the device
    /// (`partial`): GUE's remote checksum option is only added then.
    pub(crate) fn len(&self, partial: bool) -> usize {
        match self.kind {
            // UDP and GUE headers, then the private flags word and the
            // option.
            tunnel::GUE if self.flags & tunnel::REMCSUM != 0 && partial => 8 + 4 + 8,
            tunnel::GUE => 8 + 4,
            tunnel::GRE if self.flags & tunnel::CSUM != 0 => 8,
            tunnel::GRE => 4,
            _ => 0,
        }
    }
}

/// Maximum lengths of names carried as strings.
pub(crate) const SCHEDNAME_MAXLEN: usize = 16;
pub(crate) const PENAME_MAXLEN: usize = 16;
pub(crate) const IFNAME_MAXLEN: usize = 16;
pub(crate) const PEDATA_MAXLEN: usize = 255;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encap_len_is_stocks() {
        let e = |kind, flags| Encap {
            kind,
            flags,
            port: [0x17, 0x70],
        };
        assert_eq!(e(tunnel::IPIP, 0).len(true), 0);
        assert_eq!(e(tunnel::GUE, 0).len(true), 12);
        assert_eq!(e(tunnel::GUE, tunnel::CSUM).len(true), 12);
        assert_eq!(e(tunnel::GUE, tunnel::REMCSUM).len(true), 20);
        assert_eq!(e(tunnel::GUE, tunnel::REMCSUM).len(false), 12);
        assert_eq!(e(tunnel::GRE, 0).len(true), 4);
        assert_eq!(e(tunnel::GRE, tunnel::CSUM).len(false), 8);
    }
}
