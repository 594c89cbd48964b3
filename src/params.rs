// SPDX-License-Identifier: GPL-2.0

//! The `/proc/sys/net/ipv4/vs/` knobs: names, stock defaults and ranges.
//!
//! Pure data (no `kernel` crate), so the host tests check it too. The module
//! turns [`SYSCTLS`] into a per-network-namespace `ctl_table`.

/// How a knob parses and validates what is written to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handler {
    /// Any `int` (`proc_dointvec`).
    Int,
    /// An `int` in `min..=max`, else `-EINVAL` (`proc_dointvec_minmax`).
    IntRange(i32, i32),
    /// Seconds in `/proc`, jiffies inside (`proc_dointvec_jiffies`).
    Jiffies,
}

/// One knob.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SysctlDef {
    /// File name under `/proc/sys/net/ipv4/vs/`.
    pub(crate) name: &'static core::ffi::CStr,
    /// Value in a new network namespace.
    pub(crate) default: i32,
    /// Parser and validation.
    pub(crate) handler: Handler,
    /// Read-only (0444) in namespaces owned by a non-initial user namespace,
    /// as stock does for knobs that cost global resources.
    pub(crate) unpriv_read_only: bool,
}

macro_rules! sysctls {
    ($($variant:ident => $name:literal, $default:expr, $handler:expr, $ro:expr;)*) => {
        /// Index of a knob in [`SYSCTLS`]. Each is read by the code that
        /// implements its knob; some knobs have none yet.
        #[allow(dead_code)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub(crate) enum Sysctl { $($variant),* }

        /// Every knob, in stock order.
        pub(crate) const SYSCTLS: &[SysctlDef] = &[
            $(SysctlDef { name: $name, default: $default, handler: $handler, unpriv_read_only: $ro }),*
        ];
    };
}

use Handler::{Int, IntRange, Jiffies};

sysctls! {
    Amemthresh => c"amemthresh", 1024, Int, false;
    AmDroprate => c"am_droprate", 10, Int, false;
    DropEntry => c"drop_entry", 0, IntRange(0, 3), false;
    DropPacket => c"drop_packet", 0, IntRange(0, 3), false;
    Conntrack => c"conntrack", 0, Int, false;
    SecureTcp => c"secure_tcp", 0, IntRange(0, 3), false;
    SnatReroute => c"snat_reroute", 1, Int, false;
    SyncVersion => c"sync_version", 1, IntRange(0, 1), false;
    SyncPersistMode => c"sync_persist_mode", 0, Int, false;
    SyncSockSize => c"sync_sock_size", 0, Int, true;
    CacheBypass => c"cache_bypass", 0, Int, false;
    ExpireNodestConn => c"expire_nodest_conn", 0, Int, false;
    SloppyTcp => c"sloppy_tcp", 0, Int, false;
    SloppySctp => c"sloppy_sctp", 0, Int, false;
    ExpireQuiescentTemplate => c"expire_quiescent_template", 0, Int, false;
    SyncRefreshPeriod => c"sync_refresh_period", 0, Jiffies, false;
    SyncRetries => c"sync_retries", 0, IntRange(0, 3), false;
    NatIcmpSend => c"nat_icmp_send", 0, Int, false;
    PmtuDisc => c"pmtu_disc", 1, Int, false;
    BackupOnly => c"backup_only", 0, Int, false;
    ConnReuseMode => c"conn_reuse_mode", 1, Int, false;
    ScheduleIcmp => c"schedule_icmp", 0, Int, false;
    IgnoreTunneled => c"ignore_tunneled", 0, Int, false;
}

/// Number of knobs.
pub(crate) const COUNT: usize = SYSCTLS.len();

#[allow(dead_code)]
impl Sysctl {
    /// The knob's definition.
    pub(crate) const fn def(self) -> &'static SysctlDef {
        &SYSCTLS[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, a) in SYSCTLS.iter().enumerate() {
            for b in &SYSCTLS[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn defaults_are_within_ranges() {
        for d in SYSCTLS {
            if let Handler::IntRange(min, max) = d.handler {
                assert!((min..=max).contains(&d.default), "{:?}", d.name);
            }
        }
    }

    #[test]
    fn stock_defaults() {
        // net/netfilter/ipvs/ip_vs_ctl.c, ip_vs_control_net_init_sysctl()
        assert_eq!(Sysctl::Amemthresh.def().default, 1024);
        assert_eq!(Sysctl::AmDroprate.def().default, 10);
        assert_eq!(Sysctl::SnatReroute.def().default, 1);
        assert_eq!(Sysctl::SyncVersion.def().default, 1);
        assert_eq!(Sysctl::PmtuDisc.def().default, 1);
        assert_eq!(Sysctl::ConnReuseMode.def().default, 1);
        assert_eq!(Sysctl::ExpireNodestConn.def().default, 0);
        assert_eq!(Sysctl::SyncRetries.def().handler, Handler::IntRange(0, 3));
        assert!(Sysctl::SyncSockSize.def().unpriv_read_only);
    }

    #[test]
    fn enum_indexes_the_table() {
        assert_eq!(Sysctl::IgnoreTunneled as usize, COUNT - 1);
        assert_eq!(Sysctl::ConnReuseMode.def().name, c"conn_reuse_mode");
    }
}
