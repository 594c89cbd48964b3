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
    /// A defense mode, 0 to 3: a change takes effect at once.
    Defense,
    /// `fast_path`, 0 or 1: a change attaches or detaches its hooks at
    /// once.
    FastPath,
    /// Seconds in `/proc`, jiffies inside (`proc_dointvec_jiffies`).
    Jiffies,
    /// A power of two, at least 1 (`sync_ports`).
    PowerOfTwo,
    /// Two `int`s, threshold and period (`sync_threshold`); the default
    /// is [`SYNC_THRESHOLD`].
    Threshold,
    /// An `unsigned long`; its default is computed at run time.
    ULong,
    /// A CPU list (`est_cpulist`); reads as the possible CPUs until set.
    CpuList,
}

/// Stock `DEFAULT_SYNC_THRESHOLD` and `DEFAULT_SYNC_PERIOD`.
pub(crate) const SYNC_THRESHOLD: [i32; 2] = [3, 50];

impl Handler {
    /// Whether a write of `v` is accepted, for the handlers that check
    /// writes themselves (the `int` ones leave it to the kernel's).
    pub(crate) fn accepts(self, v: &[i32]) -> bool {
        match (self, v) {
            (Handler::PowerOfTwo, [p]) => *p >= 1 && p.count_ones() == 1,
            (Handler::Threshold, [t, p]) => *t >= 0 && *p >= 0 && (t < p || *p == 0),
            (Handler::IntRange(min, max), [x]) => (min..=max).contains(x),
            (Handler::Defense, [x]) => (0..=3).contains(x),
            (Handler::FastPath, [x]) => (0..=1).contains(x),
            (Handler::Int | Handler::Jiffies, [_]) => true,
            _ => false,
        }
    }
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

use Handler::{CpuList, Defense, FastPath, Int, IntRange, Jiffies, PowerOfTwo, Threshold, ULong};

sysctls! {
    Amemthresh => c"amemthresh", 1024, Int, false;
    AmDroprate => c"am_droprate", 10, Int, false;
    DropEntry => c"drop_entry", 0, Defense, false;
    DropPacket => c"drop_packet", 0, Defense, false;
    Conntrack => c"conntrack", 0, Int, false;
    SecureTcp => c"secure_tcp", 0, Defense, false;
    SnatReroute => c"snat_reroute", 1, Int, false;
    SyncVersion => c"sync_version", 1, IntRange(0, 1), false;
    SyncPorts => c"sync_ports", 1, PowerOfTwo, false;
    SyncPersistMode => c"sync_persist_mode", 0, Int, false;
    SyncQlenMax => c"sync_qlen_max", 0, ULong, true;
    SyncSockSize => c"sync_sock_size", 0, Int, true;
    CacheBypass => c"cache_bypass", 0, Int, false;
    ExpireNodestConn => c"expire_nodest_conn", 0, Int, false;
    SloppyTcp => c"sloppy_tcp", 0, Int, false;
    SloppySctp => c"sloppy_sctp", 0, Int, false;
    ExpireQuiescentTemplate => c"expire_quiescent_template", 0, Int, false;
    SyncThreshold => c"sync_threshold", SYNC_THRESHOLD[0], Threshold, false;
    SyncRefreshPeriod => c"sync_refresh_period", 0, Jiffies, false;
    SyncRetries => c"sync_retries", 0, IntRange(0, 3), false;
    NatIcmpSend => c"nat_icmp_send", 0, Int, false;
    PmtuDisc => c"pmtu_disc", 1, Int, false;
    BackupOnly => c"backup_only", 0, Int, false;
    ConnReuseMode => c"conn_reuse_mode", 1, Int, false;
    ScheduleIcmp => c"schedule_icmp", 0, Int, false;
    IgnoreTunneled => c"ignore_tunneled", 0, Int, false;
    RunEstimation => c"run_estimation", 1, Int, true;
    EstCpulist => c"est_cpulist", 0, CpuList, true;
    EstNice => c"est_nice", 0, IntRange(-20, 19), true;
    // Upstream since 2026 (resizable tables); read-only for unprivileged
    // namespaces, as there.
    ConnLfactor => c"conn_lfactor", -4, IntRange(-8, 8), true;
    SvcLfactor => c"svc_lfactor", -3, IntRange(-8, 8), true;
    // Stock registers these with its lblc and lblcr modules; defaults
    // of `Jiffies` knobs are in seconds.
    LblcExpiration => c"lblc_expiration", 24 * 60 * 60, Jiffies, false;
    LblcrExpiration => c"lblcr_expiration", 24 * 60 * 60, Jiffies, false;
    // Not in stock: see Documentation/deviations.rst.
    ConnOut => c"conn_out", 0, IntRange(0, 1), false;
    ConnReuseOldConntrack => c"conn_reuse_old_conntrack", 1, IntRange(0, 1), false;
    FastPath => c"fast_path", 0, FastPath, false;
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

/// Writes the CPUs of `mask` as a list (`0-1,4`) and a newline into
/// `out`, as `%*pbl` does; returns the length, or `None` if it does not fit.
pub(crate) fn format_cpulist(mask: u64, out: &mut [u8]) -> Option<usize> {
    use core::fmt::Write;
    struct Buf<'a> {
        out: &'a mut [u8],
        len: usize,
    }
    impl Write for Buf<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.len + s.len();
            let dst = self.out.get_mut(self.len..end).ok_or(core::fmt::Error)?;
            dst.copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
    let mut w = Buf { out, len: 0 };
    let mut sep = "";
    let mut cpu = 0;
    while cpu < 64 {
        if mask & (1 << cpu) == 0 {
            cpu += 1;
            continue;
        }
        let start = cpu;
        while cpu < 64 && mask & (1 << cpu) != 0 {
            cpu += 1;
        }
        let last = cpu - 1;
        if last == start {
            write!(w, "{sep}{start}").ok()?;
        } else {
            write!(w, "{sep}{start}-{last}").ok()?;
        }
        sep = ",";
    }
    w.write_str("\n").ok()?;
    Some(w.len)
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
    fn cpulists_as_the_kernel_prints_them() {
        let list = |mask| {
            let mut b = [0u8; 32];
            let n = format_cpulist(mask, &mut b).unwrap();
            String::from_utf8(b[..n].to_vec()).unwrap()
        };
        assert_eq!(list(0b11), "0-1\n");
        assert_eq!(list(0b1), "0\n");
        assert_eq!(list(0b1011_0101), "0,2,4-5,7\n");
        assert_eq!(list(0), "\n");
        assert_eq!(list(1 << 63 | 1 << 62), "62-63\n");
        assert_eq!(format_cpulist(0b1011_0101, &mut [0u8; 5]), None);
    }

    #[test]
    fn checked_writes() {
        assert!(Handler::PowerOfTwo.accepts(&[1]));
        assert!(Handler::PowerOfTwo.accepts(&[64]));
        assert!(!Handler::PowerOfTwo.accepts(&[0]));
        assert!(!Handler::PowerOfTwo.accepts(&[6]));
        assert!(!Handler::PowerOfTwo.accepts(&[-4]));
        // Stock proc_do_sync_threshold: both >= 0, threshold < period
        // unless the period is 0.
        assert!(Handler::Threshold.accepts(&[3, 50]));
        assert!(Handler::Threshold.accepts(&[7, 0]));
        assert!(!Handler::Threshold.accepts(&[50, 50]));
        assert!(!Handler::Threshold.accepts(&[-1, 50]));
        assert!(!Handler::Threshold.accepts(&[3]));
        // Stock proc_do_defense_mode: modes 0 to 3.
        assert!(Handler::Defense.accepts(&[0]));
        assert!(Handler::Defense.accepts(&[3]));
        assert!(!Handler::Defense.accepts(&[4]));
        assert!(!Handler::Defense.accepts(&[-1]));
        assert!(Handler::FastPath.accepts(&[1]));
        assert!(!Handler::FastPath.accepts(&[2]));
        assert_eq!(Sysctl::SecureTcp.def().handler, Handler::Defense);
    }

    #[test]
    fn enum_indexes_the_table() {
        assert_eq!(Sysctl::FastPath as usize, COUNT - 1);
        // Stock's 29 (without debug_level), its lblc and lblcr modules'
        // two, upstream's conn_lfactor and svc_lfactor, and our three.
        assert_eq!(COUNT, 36);
        assert_eq!(Sysctl::LblcExpiration.def().default, 24 * 60 * 60);
        assert_eq!(Sysctl::LblcrExpiration.def().handler, Handler::Jiffies);
        assert_eq!(Sysctl::ConnReuseMode.def().name, c"conn_reuse_mode");
    }
}
