// SPDX-License-Identifier: GPL-2.0

//! Schedulers: pick the real server for a new connection.
//!
//! Stock's shape (`struct ip_vs_scheduler`): each algorithm is one file
//! here implementing [`Algorithm`], and one line of the table at the end
//! of this file makes it known by its `ipvsadm -s` name. Pure code,
//! host-tested against the stock algorithms' sequences
//! (`net/netfilter/ipvs/ip_vs_*.c`).
//!
//! A service keeps its real servers in a list, newest first as stock does,
//! and hands the scheduler a snapshot of their load ([`DestLoad`]); the
//! scheduler answers with an index into that list. The service's
//! configuration lock serialises every call (stock's `sched_lock` and
//! RCU reads in one).

use crate::list::NoMem;

mod dh;
mod fo;
mod lblc;
mod lblcr;
mod lc;
mod mh;
mod nq;
mod ovf;
mod rr;
mod sed;
mod sh;
mod twos;
mod wlc;
mod wrr;

/// What a scheduler sees of a real server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DestLoad {
    /// Configured weight; 0 quiesces the server (no new connections).
    pub(crate) weight: i32,
    /// Active (established) connections.
    pub(crate) active: u32,
    /// All connections, active and inactive (`totalconns`).
    pub(crate) total: u32,
    /// Over its upper connection threshold.
    pub(crate) overloaded: bool,
    /// Latest non-zero weight (`last_weight`: Maglev keeps quiesced
    /// servers in its table).
    pub(crate) last_weight: i32,
    /// Address (Maglev hashes it; the locality schedulers remember it).
    pub(crate) addr: [u8; 16],
    /// Port, network order.
    pub(crate) port: [u8; 2],
}

impl DestLoad {
    /// Neither overloaded nor quiesced.
    pub(crate) fn available(&self) -> bool {
        !self.overloaded && self.weight > 0
    }

    /// Stock `ip_vs_dest_conn_overhead`: active connections cost 256 times
    /// more than inactive ones.
    pub(crate) fn overhead(&self) -> i64 {
        let inactive = self.total.saturating_sub(self.active);
        (i64::from(self.active) << 8) + i64::from(inactive)
    }
}

/// What the schedulers may ask of the kernel, behind a trait so that the
/// host tests drive time and chance.
pub(crate) trait Env {
    /// `jiffies`.
    fn now(&self) -> u64;
    /// Jiffies per second.
    fn hz(&self) -> u64;
    /// A random number (`get_random_u32`).
    fn random_u32(&self) -> u32;
    /// The `lblc_expiration` sysctl, jiffies.
    fn lblc_expiration(&self) -> u64;
    /// The `lblcr_expiration` sysctl, jiffies.
    fn lblcr_expiration(&self) -> u64;
}

/// A random number below `ceil`, as the kernel's `get_random_u32_below`
/// draws it (multiply and shift, rejecting the biased low products).
pub(crate) fn random_below(env: &dyn Env, ceil: u32) -> u32 {
    if ceil == 0 {
        return env.random_u32();
    }
    let mut mult = u64::from(ceil) * u64::from(env.random_u32());
    if (mult as u32) < ceil {
        let bound = ceil.wrapping_neg() % ceil;
        while (mult as u32) < bound {
            mult = u64::from(ceil) * u64::from(env.random_u32());
        }
    }
    (mult >> 32) as u32
}

/// The packet a scheduler places: who sent it, and where to.
#[derive(Clone, Copy)]
pub(crate) struct Client<'a> {
    /// Address family.
    pub(crate) af: u16,
    /// Client address (IPv4 in the first four bytes).
    pub(crate) addr: &'a [u8; 16],
    /// Client port, network order (0 when the protocol has none).
    pub(crate) port: [u8; 2],
    /// Destination address of the packet (the locality and destination
    /// hashing schedulers key on it).
    pub(crate) daddr: &'a [u8; 16],
    /// The service's `IP_VS_SVC_F_*` flags (`sh-fallback`, `sh-port`).
    pub(crate) svc_flags: u32,
    /// Time, chance and the schedulers' sysctls.
    pub(crate) env: &'a dyn Env,
}

/// What a scheduler is created with, beyond the real servers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Setup {
    /// The service's address family.
    pub(crate) af: u16,
    /// Secret keys for the hashing schedulers that want them (Maglev).
    pub(crate) keys: [u64; 4],
}

/// One scheduling algorithm (stock's `struct ip_vs_scheduler`): its
/// per-service state, and how it reacts to the real servers changing.
pub(crate) trait Algorithm: Sized {
    /// The `ipvsadm -s` name.
    const NAME: &'static str;

    /// Fresh state over `dests` (`init_service`).
    fn new(dests: &[DestLoad], setup: &Setup) -> Result<Self, NoMem>;

    /// Picks a server for a new connection from `client`, as an index
    /// into `dests`; `None` if none is available.
    fn schedule(&mut self, dests: &[DestLoad], client: &Client<'_>) -> Option<usize>;

    /// A server was inserted at index `at` (stock inserts at the head).
    fn dest_added(&mut self, _at: usize, _dests: &[DestLoad]) {}

    /// The server at index `at` was removed.
    fn dest_removed(&mut self, _at: usize, _dests: &[DestLoad]) {}

    /// A server's weight or thresholds changed.
    fn dest_updated(&mut self, _dests: &[DestLoad]) {}

    /// Called every estimator tick (two seconds): where state ages.
    fn tick(&mut self, _env: &dyn Env) {}
}

/// The kernel's `hash_32`.
pub(crate) fn hash_32(val: u32, bits: u32) -> u32 {
    val.wrapping_mul(0x61C8_8647) >> (32 - bits)
}

/// An address folded to 32 bits, host order, as the hashing schedulers
/// do (`addr->ip`, or the XOR of the four IPv6 words).
pub(crate) fn fold(af: u16, addr: &[u8; 16]) -> u32 {
    let w = |i: usize| u32::from_be_bytes([addr[i], addr[i + 1], addr[i + 2], addr[i + 3]]);
    if af == 10 {
        w(0) ^ w(4) ^ w(8) ^ w(12)
    } else {
        w(0)
    }
}

/// Greatest common divisor.
pub(crate) fn gcd(a: i32, b: i32) -> i32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Least-loaded pick: the first available server minimising
/// `overhead / weight` (compared as cross products, as stock does).
/// `idle_wins` is never-queue's shortcut: a server without active
/// connections is taken at once.
pub(crate) fn least_weighted(
    dests: &[DestLoad],
    overhead: impl Fn(&DestLoad) -> i64,
    idle_wins: bool,
) -> Option<usize> {
    let mut least: Option<(usize, i64)> = None;
    for (i, d) in dests.iter().enumerate() {
        if !d.available() {
            continue;
        }
        let doh = overhead(d);
        if idle_wins && d.active == 0 {
            return Some(i);
        }
        match least {
            Some((l, loh)) if loh * i64::from(d.weight) <= doh * i64::from(dests[l].weight) => {}
            _ => least = Some((i, doh)),
        }
    }
    least.map(|(i, _)| i)
}

/// Where a real server is in `dests` now: the locality schedulers
/// remember servers by address and port, as stock remembers them by
/// pointer (a deleted server is not found; added back, it is again).
pub(crate) fn position(dests: &[DestLoad], addr: &[u8; 16], port: [u8; 2]) -> Option<usize> {
    dests.iter().position(|d| d.addr == *addr && d.port == port)
}

/// `time_before(a, b)` on jiffies.
pub(crate) fn time_before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

macro_rules! schedulers {
    ($($variant:ident => $ty:ty,)*) => {
        /// The scheduling algorithms.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Kind {
            $(
                #[doc = concat!("`", stringify!($ty), "`.")]
                $variant,
            )*
        }

        impl Kind {
            /// Every algorithm, in table order.
            #[cfg(test)]
            pub(crate) const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The scheduler called `name`, if we have it.
            pub(crate) fn from_name(name: &str) -> Option<Self> {
                $(
                    if name == <$ty as Algorithm>::NAME {
                        return Some(Kind::$variant);
                    }
                )*
                None
            }

            /// Its name.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Kind::$variant => <$ty as Algorithm>::NAME,)*
                }
            }
        }

        /// Per-service scheduler state.
        #[derive(Debug)]
        pub(crate) enum Scheduler {
            $(
                #[doc = concat!("`", stringify!($ty), "`.")]
                $variant($ty),
            )*
        }

        impl Scheduler {
            /// Fresh state for `kind` over `dests`.
            pub(crate) fn new(
                kind: Kind,
                dests: &[DestLoad],
                setup: &Setup,
            ) -> Result<Self, NoMem> {
                Ok(match kind {
                    $(Kind::$variant => Scheduler::$variant(<$ty>::new(dests, setup)?),)*
                })
            }

            /// The algorithm.
            pub(crate) fn kind(&self) -> Kind {
                match self {
                    $(Scheduler::$variant(_) => Kind::$variant,)*
                }
            }

            /// See [`Algorithm::schedule`].
            pub(crate) fn schedule(
                &mut self,
                dests: &[DestLoad],
                client: &Client<'_>,
            ) -> Option<usize> {
                match self {
                    $(Scheduler::$variant(s) => s.schedule(dests, client),)*
                }
            }

            /// See [`Algorithm::dest_added`].
            pub(crate) fn dest_added(&mut self, at: usize, dests: &[DestLoad]) {
                match self {
                    $(Scheduler::$variant(s) => s.dest_added(at, dests),)*
                }
            }

            /// See [`Algorithm::dest_removed`].
            pub(crate) fn dest_removed(&mut self, at: usize, dests: &[DestLoad]) {
                match self {
                    $(Scheduler::$variant(s) => s.dest_removed(at, dests),)*
                }
            }

            /// See [`Algorithm::dest_updated`].
            pub(crate) fn dest_updated(&mut self, dests: &[DestLoad]) {
                match self {
                    $(Scheduler::$variant(s) => s.dest_updated(dests),)*
                }
            }

            /// See [`Algorithm::tick`].
            pub(crate) fn tick(&mut self, env: &dyn Env) {
                match self {
                    $(Scheduler::$variant(s) => s.tick(env),)*
                }
            }
        }
    };
}

// The algorithms stock 6.12 ships, by `ipvsadm -s` name.
schedulers! {
    Rr => rr::RoundRobin,
    Wrr => wrr::WeightedRoundRobin,
    Lc => lc::LeastConnection,
    Wlc => wlc::WeightedLeastConnection,
    Sed => sed::ShortestExpectedDelay,
    Nq => nq::NeverQueue,
    Sh => sh::SourceHashing,
    Mh => mh::Maglev,
    Dh => dh::DestinationHashing,
    Lblc => lblc::Locality,
    Lblcr => lblcr::LocalityReplicated,
    Fo => fo::Failover,
    Ovf => ovf::Overflow,
    Twos => twos::TwoChoices,
}

/// Helpers for the algorithms' tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use core::cell::Cell;

    /// A fake kernel: time moves when told, chance follows a script.
    pub(crate) struct FakeEnv {
        pub(crate) now: Cell<u64>,
        pub(crate) rand: Cell<u32>,
        pub(crate) lblc: u64,
        pub(crate) lblcr: u64,
    }

    /// HZ of the fake kernel.
    pub(crate) const HZ: u64 = 100;

    impl FakeEnv {
        pub(crate) const fn new() -> Self {
            Self {
                now: Cell::new(1000),
                rand: Cell::new(0x1234_5678),
                lblc: 24 * 60 * 60 * HZ,
                lblcr: 24 * 60 * 60 * HZ,
            }
        }

        pub(crate) fn advance(&self, secs: u64) {
            self.now.set(self.now.get() + secs * HZ);
        }
    }

    impl Env for FakeEnv {
        fn now(&self) -> u64 {
            self.now.get()
        }
        fn hz(&self) -> u64 {
            HZ
        }
        fn random_u32(&self) -> u32 {
            // xorshift32: deterministic, and not biased toward any index.
            let mut x = self.rand.get();
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.rand.set(x);
            x
        }
        fn lblc_expiration(&self) -> u64 {
            self.lblc
        }
        fn lblcr_expiration(&self) -> u64 {
            self.lblcr
        }
    }

    struct Unused;

    impl Env for Unused {
        fn now(&self) -> u64 {
            0
        }
        fn hz(&self) -> u64 {
            HZ
        }
        fn random_u32(&self) -> u32 {
            4
        }
        fn lblc_expiration(&self) -> u64 {
            0
        }
        fn lblcr_expiration(&self) -> u64 {
            0
        }
    }

    pub(crate) const CLIENT_ADDR: [u8; 16] = [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    pub(crate) const VIP: [u8; 16] = [10, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// 10.0.0.2:50000 to 10.0.0.100, no flags.
    pub(crate) const ANY: Client<'static> = Client {
        af: 2,
        addr: &CLIENT_ADDR,
        port: [0xc3, 0x50],
        daddr: &VIP,
        svc_flags: 0,
        env: &Unused,
    };

    pub(crate) fn setup() -> Setup {
        Setup {
            af: 2,
            keys: [0; 4],
        }
    }

    /// Servers of these weights, 192.168.1.11 up, port 80.
    pub(crate) fn w(weights: &[i32]) -> Vec<DestLoad> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| {
                let mut addr = [0u8; 16];
                addr[..4].copy_from_slice(&[192, 168, 1, 11 + i as u8]);
                DestLoad {
                    weight,
                    last_weight: weight,
                    addr,
                    port: [0, 80],
                    ..Default::default()
                }
            })
            .collect()
    }

    pub(crate) fn make(kind: Kind, d: &[DestLoad]) -> Scheduler {
        Scheduler::new(kind, d, &setup()).unwrap()
    }

    pub(crate) fn run(s: &mut Scheduler, d: &[DestLoad], n: usize) -> Vec<Option<usize>> {
        (0..n).map(|_| s.schedule(d, &ANY)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(Kind::ALL.len(), 14);
        for &k in Kind::ALL {
            assert_eq!(Kind::from_name(k.name()), Some(k));
            assert_eq!(make(k, &w(&[1])).kind(), k);
        }
        assert_eq!(Kind::from_name("nope"), None);
    }

    #[test]
    fn every_algorithm_copes_with_nothing() {
        for &k in Kind::ALL {
            let mut s = make(k, &[]);
            assert_eq!(s.schedule(&[], &ANY), None, "{k:?}");
            let q = w(&[0, 0]);
            s.dest_added(0, &q[..1]);
            s.dest_added(0, &q);
            assert_eq!(s.schedule(&q, &ANY), None, "{k:?} quiesced");
            s.dest_removed(1, &q[..1]);
            s.dest_updated(&q[..1]);
            s.tick(&FakeEnv::new());
        }
    }

    #[test]
    fn random_below_like_the_kernel() {
        let env = FakeEnv::new();
        for ceil in [1, 2, 3, 7, 100, 1 << 31] {
            for _ in 0..200 {
                assert!(random_below(&env, ceil) < ceil);
            }
        }
        // Spread: 3000 draws below 3, each value about a third.
        let mut n = [0; 3];
        for _ in 0..3000 {
            n[random_below(&env, 3) as usize] += 1;
        }
        assert!(n.iter().all(|&c| (900..1100).contains(&c)), "{n:?}");
    }

    #[test]
    fn least_weighted_ties_keep_the_first() {
        let e = w(&[2, 2]);
        assert_eq!(least_weighted(&e, DestLoad::overhead, false), Some(0));
    }
}
