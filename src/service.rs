// SPDX-License-Identifier: GPL-2.0

//! A virtual service and its real servers as the control plane keeps them
//! and the packet path schedules on them (stock `struct ip_vs_service`,
//! `struct ip_vs_dest`), with the counters both share with connections.
//!
//! Pure code: the host tests run it as is.

use crate::list::{share, List, NoMem, Shared};
use crate::percpu::Tally;
use crate::route::RouteCache;
use crate::sched::{Client, DestLoad, Env, Scheduler};
use crate::uapi::{conn_flags, svc_flags, Encap};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// `AF_INET`.
pub(crate) const AF_INET: u16 = 2;
/// `AF_INET6`.
pub(crate) const AF_INET6: u16 = 10;

/// An address as IPVS stores it (`union nf_inet_addr`); IPv4 uses the
/// first four bytes, the rest are zero.
pub(crate) type Addr = [u8; 16];

pub(crate) fn addr_eq(af: u16, a: &Addr, b: &Addr) -> bool {
    if af == AF_INET6 {
        a == b
    } else {
        a[..4] == b[..4]
    }
}

/// A short name (scheduler, persistence engine), without its NUL: at
/// most 16 bytes, any bytes (one that is no UTF-8 names nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Name {
    bytes: [u8; 17],
    len: u8,
}

impl Name {
    pub(crate) fn new(b: &[u8]) -> Option<Self> {
        let mut bytes = [0; 17];
        bytes
            .get_mut(..b.len())
            .filter(|_| b.len() < 17)?
            .copy_from_slice(b);
        Some(Self {
            bytes,
            len: b.len() as u8,
        })
    }

    /// Whether the name has no bytes.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The name; empty if it is no UTF-8.
    pub(crate) fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    /// The name with its NUL, as netlink carries it.
    pub(crate) fn with_nul(&self) -> &[u8] {
        &self.bytes[..=usize::from(self.len)]
    }
}

/// What identifies a virtual service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SvcKey {
    /// Protocol, virtual address and port (network order).
    Tuple {
        /// Address family.
        af: u16,
        /// `IPPROTO_*`.
        protocol: u16,
        /// Virtual address.
        addr: Addr,
        /// Virtual port, network order.
        port: [u8; 2],
    },
    /// Firewall mark.
    Fwmark {
        /// Address family.
        af: u16,
        /// The mark.
        mark: u32,
    },
}

impl SvcKey {
    /// Address family.
    pub(crate) fn af(&self) -> u16 {
        match *self {
            SvcKey::Tuple { af, .. } | SvcKey::Fwmark { af, .. } => af,
        }
    }

    /// Virtual port, network order: 0 for port-zero and fwmark services.
    pub(crate) fn port(&self) -> [u8; 2] {
        match *self {
            SvcKey::Tuple { port, .. } => port,
            SvcKey::Fwmark { .. } => [0, 0],
        }
    }

    pub(crate) fn matches(&self, other: &SvcKey) -> bool {
        match (self, other) {
            (
                SvcKey::Tuple {
                    af,
                    protocol,
                    addr,
                    port,
                },
                SvcKey::Tuple {
                    af: af2,
                    protocol: p2,
                    addr: a2,
                    port: port2,
                },
            ) => af == af2 && protocol == p2 && port == port2 && addr_eq(*af, addr, a2),
            (SvcKey::Fwmark { af, mark }, SvcKey::Fwmark { af: af2, mark: m2 }) => {
                af == af2 && mark == m2
            }
            _ => false,
        }
    }
}

/// Counters of a service or real server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    /// Connections scheduled.
    pub(crate) conns: u64,
    /// Packets in.
    pub(crate) inpkts: u64,
    /// Packets out.
    pub(crate) outpkts: u64,
    /// Bytes in.
    pub(crate) inbytes: u64,
    /// Bytes out.
    pub(crate) outbytes: u64,
}

impl Stats {
    /// Connections, packets in and out, bytes in and out.
    pub(crate) fn as_array(&self) -> [u64; 5] {
        [
            self.conns,
            self.inpkts,
            self.outpkts,
            self.inbytes,
            self.outbytes,
        ]
    }
}

/// Counters of a service or real server, updated by the packet path.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// In the order of [`Stats::as_array`], per CPU (as stock's
    /// `cpustats`): packets on different CPUs share no cache line.
    cells: Tally<5>,
    /// The sums when last zeroed (stock: `kstats0`); what is shown is
    /// counted from there.
    base: [AtomicU64; 5],
    est: Estimator,
}

/// Where each counter is in [`Counters::cells`].
const CONNS: usize = 0;
const INPKTS: usize = 1;
const OUTPKTS: usize = 2;
const INBYTES: usize = 3;
const OUTBYTES: usize = 4;

/// Rates of [`Counters`] (`struct ip_vs_estimator`): moving averages
/// updated every [`Estimator::PERIOD_SECS`] by the namespace's estimator
/// thread, with stock's scales (connections and packets per second
/// times 2^10, bytes per second times 2^5) and weight (1/4 new).
#[derive(Debug, Default)]
pub(crate) struct Estimator {
    /// The counters at the last update.
    last: [AtomicU64; 5],
    /// The scaled averages, as `i64` bits.
    avg: [AtomicU64; 5],
    /// When the last update was, jiffies (0: none yet).
    at: AtomicU64,
}

impl Estimator {
    /// Seconds between updates.
    pub(crate) const PERIOD_SECS: u32 = 2;
    /// Left shift of a two-second difference: scaled by 2^10 (or 2^5 for
    /// bytes), halved.
    const SHIFT: [u32; 5] = [9, 9, 9, 4, 4];
    /// The estimator thread updates a [`Estimator::ROWS`]th of the
    /// services each tick, so each once a period (stock:
    /// `IPVS_EST_NTICKS`).
    pub(crate) const ROWS: usize = 50;

    /// The services (of `n`, in a fixed order) that row `row` updates.
    pub(crate) fn row(n: usize, row: usize) -> core::ops::Range<usize> {
        let at = |r: usize| n * r / Self::ROWS;
        at(row.min(Self::ROWS))..at((row + 1).min(Self::ROWS))
    }
}

impl Counters {
    /// A copy of the current values.
    pub(crate) fn snapshot(&self) -> Stats {
        let sum = self.cells.sum();
        let v = |i: usize| sum[i].wrapping_sub(self.base[i].load(Ordering::Relaxed));
        Stats {
            conns: v(CONNS),
            inpkts: v(INPKTS),
            outpkts: v(OUTPKTS),
            inbytes: v(INBYTES),
            outbytes: v(OUTBYTES),
        }
    }

    /// Sets everything to zero, rates too (`ip_vs_zero_stats`).
    pub(crate) fn zero(&self) {
        for (b, v) in self.base.iter().zip(self.cells.sum()) {
            b.store(v, Ordering::Relaxed);
        }
        for a in self.est.last.iter().chain(&self.est.avg) {
            a.store(0, Ordering::Relaxed);
        }
    }

    /// Updates the rates from the counters (`ip_vs_chain_estimation`) at
    /// `now` (jiffies); called every `period` jiffies
    /// ([`Estimator::PERIOD_SECS`]), by one caller at a time. Stock's
    /// arithmetic; an update that comes sooner or later than `period`
    /// after the last (its service moved to another row) scales the
    /// difference to the period.
    pub(crate) fn estimate(&self, now: u64, period: u64) {
        let period = period.max(1);
        let at = self.est.at.swap(now.max(1), Ordering::Relaxed);
        let elapsed = if at == 0 {
            period
        } else {
            now.wrapping_sub(at).clamp(1, u64::from(u32::MAX))
        };
        // Never 0: a division without a panic path.
        let per = core::num::NonZeroU64::new(elapsed).unwrap_or(core::num::NonZeroU64::MIN);
        let counts = self.snapshot().as_array();
        for (i, now) in counts.into_iter().enumerate() {
            let last = self.est.last[i].swap(now, Ordering::Relaxed);
            let mut diff = now.wrapping_sub(last) << Estimator::SHIFT[i];
            if elapsed != period {
                diff = diff.saturating_mul(period) / per;
            }
            let rate = diff as i64;
            let avg = self.est.avg[i].load(Ordering::Relaxed) as i64;
            let avg = avg.wrapping_add(rate.wrapping_sub(avg) >> 2);
            self.est.avg[i].store(avg as u64, Ordering::Relaxed);
        }
    }

    /// The rates per second, in the order of [`Stats::as_array`]
    /// (`ip_vs_read_estimator`).
    pub(crate) fn rates(&self) -> [u64; 5] {
        core::array::from_fn(|i| {
            let avg = self.est.avg[i].load(Ordering::Relaxed);
            let scale = Estimator::SHIFT[i] + 1;
            avg.wrapping_add((1 << (scale - 1)) - 1) >> scale
        })
    }

    /// Counts a new connection.
    pub(crate) fn count_conn(&self) {
        self.cells.add(CONNS, 1);
    }

    /// Counts a packet from the client (`inbound`) or to it.
    pub(crate) fn count_packet(&self, inbound: bool, bytes: u32) {
        let (p, b) = if inbound {
            (INPKTS, INBYTES)
        } else {
            (OUTPKTS, OUTBYTES)
        };
        self.cells.add2(p, 1, b, u64::from(bytes));
    }
}

/// What a real server shares with its connections: they count themselves
/// here without taking the table's lock, and keep it alive after the real
/// server is deleted.
#[derive(Debug, Default)]
pub(crate) struct DestShared {
    /// Active connections (TCP established).
    pub(crate) active: AtomicU32,
    /// Other connections.
    pub(crate) inactive: AtomicU32,
    /// Persistence templates pointing here.
    pub(crate) persist: AtomicU32,
    /// Traffic counters.
    pub(crate) stats: Counters,
    /// Cleared when the real server is deleted.
    pub(crate) available: AtomicBool,
    /// Current weight (the table's copy, for the packet path).
    pub(crate) weight: core::sync::atomic::AtomicI32,
    /// Routes to it (IPv4).
    pub(crate) route: RouteCache,
    /// The real server's address family (a tunnel's may differ from its
    /// service's).
    pub(crate) af: u16,
    /// Its tunnel, for the packet path: see [`DestShared::encap`].
    pub(crate) tunnel: AtomicU64,
}

impl DestShared {
    /// How a tunnel reaches it (`--tun-type`, flags and port).
    pub(crate) fn encap(&self) -> Encap {
        let t = self.tunnel.load(Ordering::Relaxed);
        Encap {
            kind: t as u8,
            flags: (t >> 8) as u16,
            port: ((t >> 24) as u16).to_be_bytes(),
        }
    }
}

/// [`DestShared::tunnel`]'s value for these settings.
fn tunnel_word(p: &DestParams) -> u64 {
    u64::from(p.tun_type)
        | u64::from(p.tun_flags) << 8
        | u64::from(u16::from_be_bytes(p.tun_port)) << 24
}

/// What identifies a real server within its service; `af` 0 means the
/// service's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DestKey {
    pub(crate) af: u16,
    pub(crate) addr: Addr,
    pub(crate) port: [u8; 2],
}

/// The settable part of a real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DestParams {
    pub(crate) fwd: u32,
    pub(crate) weight: i32,
    pub(crate) u_threshold: u32,
    pub(crate) l_threshold: u32,
    pub(crate) tun_type: u8,
    pub(crate) tun_port: [u8; 2],
    pub(crate) tun_flags: u16,
}

/// A real server.
#[derive(Clone)]
pub(crate) struct Dest {
    /// Address family.
    pub(crate) af: u16,
    /// Address.
    pub(crate) addr: Addr,
    /// Port, network order.
    pub(crate) port: [u8; 2],
    /// Forwarding method (`IP_VS_CONN_F_FWD_MASK` bits).
    pub(crate) fwd: u32,
    /// Weight.
    pub(crate) weight: i32,
    /// Upper connection threshold, 0 for none.
    pub(crate) u_threshold: u32,
    /// Lower connection threshold.
    pub(crate) l_threshold: u32,
    /// Tunnel type (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
    pub(crate) tun_type: u8,
    /// Tunnel port, network order.
    pub(crate) tun_port: [u8; 2],
    /// Tunnel flags.
    pub(crate) tun_flags: u16,
    /// Latest non-zero weight.
    last_weight: i32,
    /// Counters shared with connections.
    pub(crate) shared: Shared<DestShared>,
}

impl Dest {
    pub(crate) fn new(k: &DestKey, p: &DestParams) -> Result<Self, NoMem> {
        let mut d = Dest {
            af: k.af,
            addr: k.addr,
            port: k.port,
            fwd: 0,
            weight: 0,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: 0,
            tun_port: [0; 2],
            tun_flags: 0,
            last_weight: 0,
            shared: share(DestShared {
                af: k.af,
                ..DestShared::default()
            })?,
        };
        d.shared.available.store(true, Ordering::Relaxed);
        d.set(p);
        Ok(d)
    }

    /// Applies the settable parameters (`NEW_DEST` and `SET_DEST`).
    pub(crate) fn set(&mut self, p: &DestParams) {
        self.fwd = p.fwd;
        self.weight = p.weight;
        if p.weight > 0 {
            self.last_weight = p.weight;
        }
        self.u_threshold = p.u_threshold;
        self.l_threshold = p.l_threshold;
        self.tun_type = p.tun_type;
        self.tun_port = p.tun_port;
        self.tun_flags = p.tun_flags;
        let tunnel = tunnel_word(p);
        self.shared.tunnel.store(tunnel, Ordering::Relaxed);
        self.shared.weight.store(p.weight, Ordering::Relaxed);
    }

    /// Active connections.
    pub(crate) fn active(&self) -> u32 {
        self.shared.active.load(Ordering::Relaxed)
    }

    /// Inactive connections.
    pub(crate) fn inactive(&self) -> u32 {
        self.shared.inactive.load(Ordering::Relaxed)
    }

    /// Connections through persistence templates.
    pub(crate) fn persist(&self) -> u32 {
        self.shared.persist.load(Ordering::Relaxed)
    }

    /// What the scheduler sees.
    pub(crate) fn load(&self) -> DestLoad {
        let (active, total) = (self.active(), self.active() + self.inactive());
        DestLoad {
            weight: self.weight,
            active,
            total,
            overloaded: self.u_threshold != 0 && total >= self.u_threshold,
            last_weight: self.last_weight,
            addr: self.addr,
            port: self.port,
        }
    }

    /// Marks the real server gone for the connections that still use it.
    pub(crate) fn retire(&self) {
        self.shared.available.store(false, Ordering::Relaxed);
    }

    /// Whether this is the real server `k` names.
    pub(crate) fn is(&self, k: &DestKey) -> bool {
        self.af == k.af && self.port == k.port && addr_eq(k.af, &self.addr, &k.addr)
    }

    /// Whether no connection or template counts itself here.
    pub(crate) fn unused(&self) -> bool {
        self.active() == 0 && self.inactive() == 0 && self.persist() == 0
    }
}

/// A virtual service.
pub(crate) struct Service {
    /// Identity.
    pub(crate) key: SvcKey,
    /// Scheduler state; `None` for scheduler "none".
    pub(crate) sched: Option<Scheduler>,
    /// Persistence engine name.
    pub(crate) pe: Option<Name>,
    /// `IP_VS_SVC_F_*`.
    pub(crate) flags: u32,
    /// Persistence timeout, seconds.
    pub(crate) timeout: u32,
    /// Persistence netmask (IPv4: network-order mask bits; IPv6: prefix).
    pub(crate) netmask: u32,
    /// Real servers, newest first (stock order).
    pub(crate) dests: List<Dest>,
    /// Counters, shared with connections.
    pub(crate) stats: Shared<Counters>,
    /// What the scheduler saw of the real servers last time: kept, so
    /// that scheduling a connection (or a one-packet datagram) allocates
    /// nothing once it has grown.
    seen: List<DestLoad>,
    /// Deleted: packets that still find it (in a view published before)
    /// go on as if it did not exist.
    pub(crate) gone: bool,
}

impl Service {
    /// A service without real servers.
    pub(crate) fn new(
        key: SvcKey,
        sched: Option<Scheduler>,
        pe: Option<Name>,
        flags: u32,
        timeout: u32,
        netmask: u32,
    ) -> Result<Self, NoMem> {
        Ok(Self {
            key,
            sched,
            pe,
            flags,
            timeout,
            netmask,
            dests: List::new(),
            stats: share(Counters::default())?,
            seen: List::new(),
            gone: false,
        })
    }

    /// What the scheduler saw of the real servers last time.
    pub(crate) fn seen(&self) -> &[DestLoad] {
        &self.seen
    }

    /// Scheduler name as listings show it.
    pub(crate) fn sched_name(&self) -> &'static str {
        self.sched.as_ref().map_or("none", |s| s.kind().name())
    }

    /// Zeroes the counters of the service and its real servers.
    pub(crate) fn zero(&self) {
        self.stats.zero();
        for d in self.dests.iter() {
            d.shared.stats.zero();
        }
    }

    /// Picks a real server for a new connection from `client:port`
    /// (`ip_vs_schedule`); `None` when every one is quiescent (weight 0)
    /// or overloaded.
    pub(crate) fn schedule(
        &mut self,
        client: &Addr,
        port: [u8; 2],
        daddr: &Addr,
        env: &dyn Env,
    ) -> Option<&Dest> {
        self.look();
        let c = Client {
            af: self.key.af(),
            addr: client,
            port,
            daddr,
            svc_flags: self.flags,
            env,
        };
        let i = self.sched.as_mut()?.schedule(&self.seen, &c)?;
        self.dests.get(i)
    }

    /// Whether this is a persistent service.
    pub(crate) fn persistent(&self) -> bool {
        self.flags & svc_flags::PERSISTENT != 0
    }

    /// Whether the SIP persistence engine keys this service's templates.
    pub(crate) fn pe_sip(&self) -> bool {
        self.pe.is_some_and(|pe| pe.as_str() == "sip")
    }

    /// Whether every packet is scheduled on its own (`-o`).
    pub(crate) fn one_packet(&self) -> bool {
        self.flags & svc_flags::ONEPACKET != 0
    }

    /// The real server whose shared part is `shared`, if still configured.
    pub(crate) fn dest_shared(&self, shared: &Shared<DestShared>) -> Option<&Dest> {
        self.dests
            .iter()
            .find(|d| Shared::ptr_eq(&d.shared, shared))
    }

    /// Its NAT real server at `addr:port`, or at `addr` without port
    /// (`ip_vs_find_real_service`'s test).
    pub(crate) fn nat_dest(&self, af: u16, addr: &Addr, port: [u8; 2]) -> Option<&Dest> {
        self.dests.iter().find(|d| {
            d.fwd == conn_flags::MASQ
                && d.af == af
                && (d.port == port || d.port == [0, 0])
                && addr_eq(af, &d.addr, addr)
        })
    }

    /// The real server at `addr:port`, if still configured.
    pub(crate) fn dest(&self, af: u16, addr: &Addr, port: [u8; 2]) -> Option<&Dest> {
        self.dests
            .iter()
            .find(|d| d.af == af && d.port == port && addr_eq(af, &d.addr, addr))
    }

    /// Tells the scheduler that a real server was put first.
    pub(crate) fn dest_added(&mut self) {
        self.look();
        if let Some(sch) = self.sched.as_mut() {
            sch.dest_added(0, &self.seen);
        }
    }

    /// Tells the scheduler that a real server's settings changed.
    pub(crate) fn dest_updated(&mut self) {
        self.look();
        if let Some(sch) = self.sched.as_mut() {
            sch.dest_updated(&self.seen);
        }
    }

    /// Tells the scheduler that the real server at `i` went.
    pub(crate) fn dest_removed(&mut self, i: usize) {
        self.look();
        if let Some(sch) = self.sched.as_mut() {
            sch.dest_removed(i, &self.seen);
        }
    }

    /// Refills [`Service::seen`] from the real servers, in their order,
    /// keeping its memory.
    pub(crate) fn look(&mut self) {
        self.seen.clear();
        for d in self.dests.iter() {
            // Allocation failure only hides the last real servers.
            if self.seen.push(d.load()).is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_the_counters_as_stock() {
        // Jiffies: the period at HZ 1000.
        const P: u64 = 2000;
        let mut t = 5;
        let c = Counters::default();
        // 100 connections and 1000 packets of 150 bytes in each period,
        // nothing out: 50 connections, 500 packets and 75000 bytes a second.
        for _ in 0..80 {
            c.cells.add(CONNS, 100);
            for _ in 0..1000 {
                c.count_packet(true, 150);
            }
            t += P;
            c.estimate(t, P);
        }
        assert_eq!(c.rates(), [50, 500, 0, 75000, 0]);
        // The first update after a quiet start takes a quarter of the rate.
        let d = Counters::default();
        d.cells.add(CONNS, 8);
        d.estimate(t, P);
        assert_eq!(d.rates()[0], 1);
        // Traffic stops: the rates decay.
        for _ in 0..4 {
            t += P;
            c.estimate(t, P);
        }
        let r = c.rates();
        assert!(r[0] > 0 && r[0] < 20, "{r:?}");
        c.zero();
        assert_eq!(c.rates(), [0; 5]);
        assert_eq!(c.snapshot().as_array(), [0; 5]);
        // Counting goes on from zero.
        c.count_conn();
        c.count_packet(false, 60);
        assert_eq!(c.snapshot().as_array(), [1, 0, 1, 0, 60]);
        t += P;
        c.estimate(t, P);
        assert_eq!(c.rates()[0], 0);
    }

    #[test]
    fn an_update_off_its_period_scales_to_it() {
        const P: u64 = 2000;
        let (a, b) = (Counters::default(), Counters::default());
        let (mut ta, mut tb) = (1, 1);
        a.estimate(ta, P);
        b.estimate(tb, P);
        for i in 0..40 {
            // `a` every period; `b` alternately 40 ms late and early, its
            // counts following the time that passed.
            a.cells.add(CONNS, 1000);
            ta += P;
            a.estimate(ta, P);
            let dt = if i % 2 == 0 { P + 40 } else { P - 40 };
            b.cells.add(CONNS, 1000 * dt / P);
            tb += dt;
            b.estimate(tb, P);
        }
        assert_eq!(a.rates()[0], 500);
        assert_eq!(b.rates()[0], 500);
    }

    #[test]
    fn rows_cover_every_service_once() {
        for n in [0, 1, 49, 50, 51, 99, 1000, 10007] {
            let mut next = 0;
            for r in 0..Estimator::ROWS {
                let range = Estimator::row(n, r);
                assert_eq!(range.start, next, "n {n} row {r}");
                next = range.end;
            }
            assert_eq!(next, n);
            assert!(Estimator::row(n, Estimator::ROWS).is_empty());
        }
    }
}
