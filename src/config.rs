// SPDX-License-Identifier: GPL-2.0

//! The IPVS configuration of a network namespace: virtual services and
//! their real servers, as the control plane adds, edits, deletes and lists
//! them, with stock IPVS's validation and error numbers
//! (`ip_vs_genl_set_cmd()` and friends in `ip_vs_ctl.c`).
//!
//! Pure code: it sees netlink attributes through [`crate::nlattr`] and
//! stores through [`crate::list::List`], so the host tests run it as is.

use crate::hash::{sip13, SipKey};
use crate::list::{share, List, NoMem, Shared};
use crate::nlattr::{self, Attr, Nested, Rule};
use crate::percpu::Tally;
use crate::rhash::wanted_bits_in;
use crate::route::RouteCache;
use crate::sched::{Client, DestLoad, Env, Kind, Scheduler, Setup};
use crate::uapi::{cmd, conn_flags, dest_attr, svc_attr, svc_flags};
use core::ffi::CStr;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// `AF_INET`.
pub(crate) const AF_INET: u16 = 2;
/// `AF_INET6`.
pub(crate) const AF_INET6: u16 = 10;

const ENOENT: i32 = 2;
const ESRCH: i32 = 3;
const ENOMEM: i32 = 12;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;
const ERANGE: i32 = 34;
const EAFNOSUPPORT: i32 = 97;

/// A refused request: a positive errno and the extack text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Error {
    /// errno, positive.
    pub(crate) errno: i32,
    /// Why, for the extended ack.
    pub(crate) msg: &'static CStr,
}

const fn err(errno: i32, msg: &'static CStr) -> Error {
    Error { errno, msg }
}

impl From<NoMem> for Error {
    fn from(_: NoMem) -> Self {
        err(ENOMEM, c"ipvs: out of memory")
    }
}

/// An address as IPVS stores it (`union nf_inet_addr`); IPv4 uses the
/// first four bytes, the rest are zero.
pub(crate) type Addr = [u8; 16];

fn addr_eq(af: u16, a: &Addr, b: &Addr) -> bool {
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
    fn new(b: &[u8]) -> Option<Self> {
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

    fn matches(&self, other: &SvcKey) -> bool {
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

/// The settable part of a service (`full_entry` in stock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SvcParams {
    sched: Name,
    pe: Option<Name>,
    flags: u32,
    mask: u32,
    timeout: u32,
    netmask: u32,
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
/// updated every [`Estimator::PERIOD_SECS`] by the one estimator of the
/// namespace, with stock's scales (connections and packets per second
/// times 2^10, bytes per second times 2^5) and weight (1/4 new).
#[derive(Debug, Default)]
pub(crate) struct Estimator {
    /// The counters at the last update.
    last: [AtomicU64; 5],
    /// The scaled averages, as `i64` bits.
    avg: [AtomicU64; 5],
}

impl Estimator {
    /// Seconds between updates.
    pub(crate) const PERIOD_SECS: u32 = 2;
    /// Left shift of a two-second difference: scaled by 2^10 (or 2^5 for
    /// bytes), halved.
    const SHIFT: [u32; 5] = [9, 9, 9, 4, 4];
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

    /// Updates the rates from the counters (`ip_vs_chain_estimation`);
    /// called every [`Estimator::PERIOD_SECS`], by one caller at a time.
    pub(crate) fn estimate(&self) {
        let now = self.snapshot().as_array();
        for (i, now) in now.into_iter().enumerate() {
            let last = self.est.last[i].swap(now, Ordering::Relaxed);
            let rate = (now.wrapping_sub(last) << Estimator::SHIFT[i]) as i64;
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
    /// Its tunnel, for the packet path: see [`DestShared::gre`].
    pub(crate) tunnel: AtomicU32,
}

/// `IP_VS_CONN_F_TUNNEL_TYPE_GRE`.
const TUNNEL_TYPE_GRE: u8 = 2;
/// `IP_VS_TUNNEL_ENCAP_FLAG_CSUM`.
const TUNNEL_FLAG_CSUM: u16 = 1;

impl DestShared {
    /// How a tunnel reaches it: `None` for IPIP (and GUE, not built
    /// yet), `Some(checksummed)` for GRE.
    pub(crate) fn gre(&self) -> Option<bool> {
        let t = self.tunnel.load(Ordering::Relaxed);
        (t & 0xff == u32::from(TUNNEL_TYPE_GRE))
            .then_some(t >> 8 & u32::from(TUNNEL_FLAG_CSUM) != 0)
    }
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
    fn new(k: &DestKey, p: &DestParams) -> Result<Self, NoMem> {
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
    fn set(&mut self, p: &DestParams) {
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
        let tunnel = u32::from(p.tun_type) | u32::from(p.tun_flags) << 8;
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
    fn retire(&self) {
        self.shared.available.store(false, Ordering::Relaxed);
    }

    /// Whether this is the real server `k` names.
    fn is(&self, k: &DestKey) -> bool {
        self.af == k.af && self.port == k.port && addr_eq(k.af, &self.addr, &k.addr)
    }

    /// Whether no connection or template counts itself here.
    fn unused(&self) -> bool {
        self.active() == 0 && self.inactive() == 0 && self.persist() == 0
    }
}

/// How long an unused deleted real server stays in the trash, seconds
/// (stock `IP_VS_DEST_TRASH_PERIOD`).
const TRASH_PERIOD: u64 = 120;

/// A deleted real server, kept as stock's `dest_trash` does: added back to
/// the same service, it resumes its counters and statistics.
struct Trashed {
    /// The service it belonged to.
    svc: SvcKey,
    dest: Dest,
    /// When it was first seen unused, seconds.
    idle_since: Option<u64>,
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
}

impl Service {
    /// Scheduler name as listings show it.
    pub(crate) fn sched_name(&self) -> &'static str {
        self.sched.as_ref().map_or("none", |s| s.kind().name())
    }

    /// Zeroes the counters of the service and its real servers.
    fn zero(&self) {
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

    /// The real server at `addr:port`, if still configured.
    pub(crate) fn dest(&self, af: u16, addr: &Addr, port: [u8; 2]) -> Option<&Dest> {
        self.dests
            .iter()
            .find(|d| d.af == af && d.port == port && addr_eq(af, &d.addr, addr))
    }

    /// Refills [`Service::seen`] from the real servers, in their order,
    /// keeping its memory.
    fn look(&mut self) {
        self.seen.clear();
        for d in self.dests.iter() {
            // Allocation failure only hides the last real servers.
            if self.seen.push(d.load()).is_err() {
                break;
            }
        }
    }
}

/// Connection timeouts of `IPVS_CMD_SET_CONFIG`, seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// Established TCP.
    pub(crate) tcp: u32,
    /// TCP after FIN.
    pub(crate) tcp_fin: u32,
    /// UDP.
    pub(crate) udp: u32,
}

impl Timeouts {
    /// These timeouts with those of `IPVS_CMD_SET_CONFIG` (`[tcp,
    /// tcp_fin, udp]`, seconds) applied: each given and non-zero replaces
    /// its own. Each given must fit in jiffies as an `int` at `hz`
    /// (`ip_vs_set_timeout`: at most `INT_MAX / HZ`), else `EINVAL` and
    /// nothing changes.
    pub(crate) fn set(&self, given: [Option<u32>; 3], hz: u32) -> Result<Self, Error> {
        let max = i32::MAX as u32 / hz.max(1);
        if given.iter().flatten().any(|&v| v > max) {
            return Err(err(EINVAL, c"ipvs: timeout out of range"));
        }
        let mut t = *self;
        for (slot, v) in [&mut t.tcp, &mut t.tcp_fin, &mut t.udp]
            .into_iter()
            .zip(given)
        {
            if let Some(v) = v.filter(|&v| v != 0) {
                *slot = v;
            }
        }
        Ok(t)
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        // Stock tcp_timeouts[ESTABLISHED], [FIN_WAIT], udp_timeouts[NORMAL].
        Self {
            tcp: 900,
            tcp_fin: 120,
            udp: crate::state::UDP_TIMEOUT,
        }
    }
}

/// Where each service sits in [`Table`]'s list, by key (stock hashes its
/// services too): open addressing with linear probing, sized by the
/// number of services at load factor `svc_lfactor` (upstream's sysctl:
/// 2^lfactor services a slot, within 2^4..2^20 slots) and never more
/// than half full, which open addressing needs (so positive factors act
/// as 0 past a half). A removal shifts positions, so it rebuilds the
/// index.
#[derive(Debug)]
struct SvcIndex {
    /// Positions, or [`SvcIndex::EMPTY`]; a power of two of them.
    slots: List<u32>,
    /// The hash key (per namespace, from [`Table::set_seed`]).
    key: SipKey,
}

/// Smallest and largest service index, bits (upstream's service table).
const SVC_MIN_BITS: u32 = 4;
const SVC_MAX_BITS: u32 = 20;

impl SvcIndex {
    const EMPTY: u32 = u32::MAX;

    const fn new() -> Self {
        Self {
            slots: List::new(),
            key: SipKey([0, 0]),
        }
    }

    fn hash(&self, key: &SvcKey) -> usize {
        let w = |a: &Addr, i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&a[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let h = match *key {
            SvcKey::Tuple {
                af,
                protocol,
                addr,
                port,
            } => {
                let tail = u64::from(af) << 32
                    | u64::from(protocol) << 16
                    | u64::from(u16::from_ne_bytes(port));
                sip13(&self.key, &[w(&addr, 0), w(&addr, 8), tail])
            }
            SvcKey::Fwmark { af, mark } => {
                sip13(&self.key, &[u64::from(af) << 32 | u64::from(mark), 1 << 63])
            }
        };
        h as usize
    }

    /// Slots now, as bits (0 before the first service).
    fn bits(&self) -> u32 {
        if self.slots.is_empty() {
            0
        } else {
            self.slots.len().trailing_zeros()
        }
    }

    /// The slot that holds `key`, or the empty one where it would go;
    /// `None` while the index has no slots.
    fn slot(&self, services: &[Service], key: &SvcKey) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut i = self.hash(key) & mask;
        loop {
            match self.slots[i] {
                Self::EMPTY => return Some(i),
                pos if services[pos as usize].key.matches(key) => return Some(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// The position of the service with `key`.
    fn find(&self, services: &[Service], key: &SvcKey) -> Option<usize> {
        match self.slots[self.slot(services, key)?] {
            Self::EMPTY => None,
            pos => Some(pos as usize),
        }
    }

    /// The size `n` services want at `lfactor`, as bits.
    fn wanted(&self, n: usize, lfactor: i32) -> u32 {
        let bits = self.bits().max(SVC_MIN_BITS);
        let by_load = wanted_bits_in(n, lfactor, bits, SVC_MIN_BITS, SVC_MAX_BITS).unwrap_or(bits);
        // At most half full, whatever the factor and the maximum.
        let half = usize::BITS - (2 * n).saturating_sub(1).leading_zeros();
        by_load.max(half)
    }

    /// Resizes for `n` services (`services` and maybe one to come) and
    /// indexes `services` anew if the size changed; returns whether it
    /// did. On allocation failure the index keeps its size, which fails
    /// only if it has no room.
    fn fit(&mut self, services: &[Service], n: usize, lfactor: i32) -> Result<bool, NoMem> {
        let want = self.wanted(n, lfactor);
        if want == self.bits() {
            return Ok(false);
        }
        let mut slots = List::new();
        for _ in 0..1usize << want {
            if let Err(e) = slots.push(Self::EMPTY) {
                if self.slots.len() < 2 * n {
                    return Err(e);
                }
                self.rebuild(services);
                return Ok(true);
            }
        }
        self.slots = slots;
        self.rebuild(services);
        Ok(true)
    }

    /// After a removal (positions shifted): fits the index to `services`
    /// and indexes them anew, once.
    fn refit(&mut self, services: &[Service], lfactor: i32) {
        if !matches!(self.fit(services, services.len(), lfactor), Ok(true)) {
            self.rebuild(services);
        }
    }

    /// Indexes the service at `pos` (after [`SvcIndex::fit`]).
    fn insert(&mut self, services: &[Service], pos: usize) {
        if let Some(i) = self.slot(services, &services[pos].key) {
            self.slots[i] = pos as u32;
        }
    }

    /// Indexes `services` anew, in the slots it has.
    fn rebuild(&mut self, services: &[Service]) {
        self.slots.iter_mut().for_each(|s| *s = Self::EMPTY);
        for pos in 0..services.len() {
            self.insert(services, pos);
        }
    }
}

/// All services of a namespace.
pub(crate) struct Table {
    services: List<Service>,
    /// Where each service is in `services`.
    index: SvcIndex,
    /// Deleted real servers (see [`Trashed`]).
    trash: List<Trashed>,
    /// Connection timeouts.
    pub(crate) timeouts: Timeouts,
    /// Services per address family (IPv4, IPv6): a family's hooks are
    /// attached while it has any (stock: `num_services`, `num_services6`).
    per_family: [usize; 2],
    /// Secret that seeds the hash keys of Maglev schedulers and of the
    /// index (the kernel glue sets a random one).
    seed: u64,
    /// `svc_lfactor`, as last set.
    svc_lfactor: i32,
    /// A sync daemon runs (see [`Table::set_syncing`]).
    syncing: bool,
    /// Schedulers keyed so far, so that each gets its own keys.
    keyed: u64,
    /// A real server was deleted since [`Table::take_retired`] last
    /// looked.
    retired: bool,
}

fn u16_of(a: &Attr<'_>, msg: &'static CStr) -> Result<u16, Error> {
    a.u16().ok_or(err(EINVAL, msg))
}

fn u32_of(a: &Attr<'_>, msg: &'static CStr) -> Result<u32, Error> {
    a.u32().ok_or(err(EINVAL, msg))
}

fn port_of(a: &Attr<'_>, msg: &'static CStr) -> Result<[u8; 2], Error> {
    a.bytes()
        .get(..2)
        .and_then(|b| b.try_into().ok())
        .ok_or(err(EINVAL, msg))
}

fn addr_of(a: &Attr<'_>, af: u16, msg: &'static CStr) -> Result<Addr, Error> {
    let b = a.bytes();
    if b.len() > 16 {
        return Err(err(EINVAL, msg));
    }
    let mut addr = [0; 16];
    addr[..b.len()].copy_from_slice(b);
    if af != AF_INET6 {
        addr[4..].fill(0);
    }
    Ok(addr)
}

/// A name up to its NUL, at most `max` bytes; what it names is looked up
/// later (stock answers a name of no scheduler with `ENOENT`).
fn name_of(a: &Attr<'_>, max: usize, msg: &'static CStr) -> Result<Name, Error> {
    let b = a.bytes();
    b.iter()
        .position(|&c| c == 0)
        .filter(|&end| end <= max)
        .and_then(|end| Name::new(&b[..end]))
        .ok_or(err(EINVAL, msg))
}

/// Collects a nested attribute run into an array indexed by type.
fn collect<'a, const N: usize>(
    nest: Attr<'a>,
    policy: &[Rule; N],
    msg: &'static CStr,
) -> Result<[Option<Attr<'a>>; N], Error> {
    // Stock parses the whole nest first and answers any failure with
    // `EINVAL`, before it looks at a single value.
    if !nlattr::valid(nest.bytes(), policy) {
        return Err(err(EINVAL, msg));
    }
    let mut out = [None; N];
    for a in Nested::new(nest.bytes()) {
        let Ok((ty, a)) = a else {
            break;
        };
        if let Some(slot) = out.get_mut(usize::from(ty)) {
            *slot = Some(a);
        }
    }
    Ok(out)
}

/// Stock's `ip_vs_svc_policy`.
const SVC_POLICY: [Rule; svc_attr::MAX as usize + 1] = [
    Rule::Any,
    Rule::Int(2),        // AF
    Rule::Int(2),        // PROTOCOL
    Rule::AtMost(16),    // ADDR
    Rule::Int(2),        // PORT
    Rule::Int(4),        // FWMARK
    Rule::NulString(15), // SCHED_NAME
    Rule::AtMost(8),     // FLAGS
    Rule::Int(4),        // TIMEOUT
    Rule::Int(4),        // NETMASK
    Rule::Nested,        // STATS
    Rule::NulString(16), // PE_NAME
    Rule::Any,           // STATS64
];

/// Stock's `ip_vs_dest_policy`.
const DEST_POLICY: [Rule; dest_attr::MAX as usize + 1] = [
    Rule::Any,
    Rule::AtMost(16), // ADDR
    Rule::Int(2),     // PORT
    Rule::Int(4),     // FWD_METHOD
    Rule::Int(4),     // WEIGHT
    Rule::Int(4),     // U_THRESH
    Rule::Int(4),     // L_THRESH
    Rule::Int(4),     // ACTIVE_CONNS
    Rule::Int(4),     // INACT_CONNS
    Rule::Int(4),     // PERSIST_CONNS
    Rule::Nested,     // STATS
    Rule::Int(2),     // ADDR_FAMILY
    Rule::Any,        // STATS64
    Rule::Int(1),     // TUN_TYPE
    Rule::Int(2),     // TUN_PORT
    Rule::Int(2),     // TUN_FLAGS
];

fn af_valid(af: u16) -> bool {
    af == AF_INET || af == AF_INET6
}

/// Whether a request adds an IPv6 service or real server, which needs
/// IPv6 reassembly before the hooks (stock: `nf_defrag_ipv6_enable` in
/// `ip_vs_add_service` and `ip_vs_new_dest`). Malformed requests say no
/// here and are refused by [`Table::apply`].
pub(crate) fn adds_ipv6(c: u8, svc: Option<Attr<'_>>, dest: Option<Attr<'_>>) -> bool {
    let af_is_ipv6 = |nest: Option<Attr<'_>>, ty: u16| {
        nest.is_some_and(|n| {
            n.nested()
                .any(|a| matches!(a, Ok((t, v)) if t == ty && v.u16() == Some(AF_INET6)))
        })
    };
    match c {
        cmd::NEW_SERVICE => af_is_ipv6(svc, svc_attr::AF),
        cmd::NEW_DEST => af_is_ipv6(svc, svc_attr::AF) || af_is_ipv6(dest, dest_attr::ADDR_FAMILY),
        _ => false,
    }
}

/// Parses `IPVS_CMD_ATTR_SERVICE`; the parameters only when `full`.
fn parse_service(nest: Option<Attr<'_>>, full: bool) -> Result<(SvcKey, Option<SvcParams>), Error> {
    const BAD: &CStr = c"ipvs: malformed service attributes";
    let nest = nest.ok_or(err(EINVAL, c"ipvs: service attribute missing"))?;
    let a = collect(nest, &SVC_POLICY, BAD)?;
    let get = |t: u16| a[usize::from(t)];
    let af = get(svc_attr::AF).ok_or(err(EINVAL, c"ipvs: service address family missing"))?;
    let af = u16_of(&af, BAD)?;
    let key = match (
        get(svc_attr::FWMARK),
        get(svc_attr::PROTOCOL),
        get(svc_attr::ADDR),
        get(svc_attr::PORT),
    ) {
        (Some(m), ..) => SvcKey::Fwmark {
            af,
            mark: u32_of(&m, BAD)?,
        },
        (None, Some(p), Some(addr), Some(port)) => SvcKey::Tuple {
            af,
            protocol: u16_of(&p, BAD)?,
            addr: addr_of(&addr, af, c"ipvs: service address longer than 16 bytes")?,
            port: port_of(&port, BAD)?,
        },
        _ => {
            return Err(err(
                EINVAL,
                c"ipvs: service needs a fwmark or protocol, address and port",
            ))
        }
    };
    if !af_valid(af) {
        return Err(err(
            EAFNOSUPPORT,
            c"ipvs: service address family not supported",
        ));
    }
    if !full {
        return Ok((key, None));
    }
    let (Some(sched), Some(flags), Some(timeout), Some(netmask)) = (
        get(svc_attr::SCHED_NAME),
        get(svc_attr::FLAGS),
        get(svc_attr::TIMEOUT),
        get(svc_attr::NETMASK),
    ) else {
        return Err(err(
            EINVAL,
            c"ipvs: service needs scheduler, flags, timeout and netmask",
        ));
    };
    let fl = flags.bytes();
    if fl.len() > 8 {
        return Err(err(EINVAL, BAD));
    }
    let mut fb = [0u8; 8];
    fb[..fl.len()].copy_from_slice(fl);
    let pe = match get(svc_attr::PE_NAME) {
        Some(p) => {
            Some(name_of(&p, 16, c"ipvs: persistence engine name too long")?).filter(|n| n.len > 0)
        }
        None => None,
    };
    Ok((
        key,
        Some(SvcParams {
            sched: name_of(&sched, 15, c"ipvs: scheduler name too long")?,
            pe,
            flags: u32::from_ne_bytes([fb[0], fb[1], fb[2], fb[3]]),
            mask: u32::from_ne_bytes([fb[4], fb[5], fb[6], fb[7]]),
            timeout: u32_of(&timeout, BAD)?,
            netmask: u32_of(&netmask, BAD)?,
        }),
    ))
}

/// What identifies a real server within its service; `af` 0 means the
/// service's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DestKey {
    af: u16,
    addr: Addr,
    port: [u8; 2],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DestParams {
    fwd: u32,
    weight: i32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: u8,
    tun_port: [u8; 2],
    tun_flags: u16,
}

/// `IP_VS_CONN_F_TUNNEL_TYPE_GUE`.
const TUNNEL_TYPE_GUE: u8 = 1;

fn parse_dest(nest: Option<Attr<'_>>, full: bool) -> Result<(DestKey, Option<DestParams>), Error> {
    const BAD: &CStr = c"ipvs: malformed real server attributes";
    let nest = nest.ok_or(err(EINVAL, c"ipvs: real server attribute missing"))?;
    let a = collect(nest, &DEST_POLICY, BAD)?;
    let get = |t: u16| a[usize::from(t)];
    let (Some(addr), Some(port)) = (get(dest_attr::ADDR), get(dest_attr::PORT)) else {
        return Err(err(EINVAL, c"ipvs: real server needs address and port"));
    };
    let af = match get(dest_attr::ADDR_FAMILY) {
        Some(f) => u16_of(&f, BAD)?,
        None => 0,
    };
    let key = DestKey {
        af,
        addr: addr_of(
            &addr,
            if af == 0 { AF_INET6 } else { af },
            c"ipvs: real server address longer than 16 bytes",
        )?,
        port: port_of(&port, BAD)?,
    };
    if !full {
        return Ok((key, None));
    }
    let (Some(fwd), Some(weight), Some(u), Some(l)) = (
        get(dest_attr::FWD_METHOD),
        get(dest_attr::WEIGHT),
        get(dest_attr::U_THRESH),
        get(dest_attr::L_THRESH),
    ) else {
        return Err(err(
            EINVAL,
            c"ipvs: real server needs forwarding method, weight and thresholds",
        ));
    };
    Ok((
        key,
        Some(DestParams {
            fwd: u32_of(&fwd, BAD)? & conn_flags::FWD_MASK,
            weight: u32_of(&weight, BAD)? as i32,
            u_threshold: u32_of(&u, BAD)?,
            l_threshold: u32_of(&l, BAD)?,
            tun_type: get(dest_attr::TUN_TYPE).and_then(|a| a.u8()).unwrap_or(0),
            tun_port: match get(dest_attr::TUN_PORT) {
                Some(p) => port_of(&p, BAD)?,
                None => [0; 2],
            },
            tun_flags: match get(dest_attr::TUN_FLAGS) {
                Some(f) => u16_of(&f, BAD)?,
                None => 0,
            },
        }),
    ))
}

fn check_dest_params(p: &DestParams) -> Result<(), Error> {
    if p.weight < 0 {
        return Err(err(ERANGE, c"ipvs: real server weight less than zero"));
    }
    if p.l_threshold > p.u_threshold {
        return Err(err(
            ERANGE,
            c"ipvs: lower threshold is higher than upper threshold",
        ));
    }
    if p.u_threshold > i32::MAX as u32 {
        return Err(err(EINVAL, c"ipvs: upper threshold too large"));
    }
    if p.tun_type == TUNNEL_TYPE_GUE && p.tun_port == [0; 2] {
        return Err(err(EINVAL, c"ipvs: GUE tunnel port is zero"));
    }
    Ok(())
}

fn scheduler_of(
    p: &SvcParams,
    af: u16,
    loads: &[DestLoad],
    keys: [u64; 4],
) -> Result<Option<Scheduler>, Error> {
    match p.sched.as_str() {
        "none" => Ok(None),
        name => {
            let kind = Kind::from_name(name).ok_or(err(ENOENT, c"ipvs: scheduler not found"))?;
            Ok(Some(Scheduler::new(kind, loads, &Setup { af, keys })?))
        }
    }
}

fn check_svc_params(af: u16, p: &SvcParams) -> Result<(), Error> {
    // In stock's order: scheduler, persistence engine, netmask.
    let sched = p.sched.as_str();
    if sched != "none" && Kind::from_name(sched).is_none() {
        return Err(err(ENOENT, c"ipvs: scheduler not found"));
    }
    if p.pe.is_some_and(|pe| pe.as_str() != "sip") {
        return Err(err(ENOENT, c"ipvs: persistence engine not found"));
    }
    if af == AF_INET6 && !(1..=128).contains(&p.netmask) {
        return Err(err(
            EINVAL,
            c"ipvs: IPv6 persistence netmask must be 1..128",
        ));
    }
    Ok(())
}

impl Table {
    /// No services, default timeouts.
    pub(crate) fn new() -> Self {
        Self {
            services: List::new(),
            index: SvcIndex::new(),
            trash: List::new(),
            timeouts: Timeouts::default(),
            per_family: [0; 2],
            seed: 0,
            svc_lfactor: -3,
            syncing: false,
            keyed: 0,
            retired: false,
        }
    }

    /// Whether a real server was deleted since the last call (then its
    /// connections may go at once: `expire_nodest_conn`).
    pub(crate) fn take_retired(&mut self) -> bool {
        core::mem::take(&mut self.retired)
    }

    /// Sets the secret the hashing schedulers' keys and the index's key
    /// derive from (before any service is added).
    pub(crate) fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
        let [a, b, ..] = self.next_keys();
        self.index.key = SipKey([a, b]);
    }

    /// Whether a service has a real server of another family (stock:
    /// `mixed_address_family_dests`), which keeps sync daemons from
    /// starting.
    pub(crate) fn has_mixed_families(&self) -> bool {
        self.services
            .iter()
            .any(|s| s.dests.iter().any(|d| d.af != s.key.af()))
    }

    /// Says whether a sync daemon runs: the sync messages carry one
    /// family per connection, so no real server of the other family may
    /// be added or edited meanwhile (stock: `ipvs->sync_state`).
    pub(crate) fn set_syncing(&mut self, syncing: bool) {
        self.syncing = syncing;
    }

    /// Sets the service index's load factor (`svc_lfactor`), resizing it
    /// if that changes its size.
    pub(crate) fn set_svc_lfactor(&mut self, lfactor: i32) {
        if lfactor != self.svc_lfactor {
            self.svc_lfactor = lfactor;
            // Shrinking may fail for memory and keeps the size then.
            let _ = self.index.fit(&self.services, self.services.len(), lfactor);
        }
    }

    /// Slots of the service index, and the factor it follows.
    pub(crate) fn index_size(&self) -> (usize, i32) {
        (self.index.slots.len(), self.svc_lfactor)
    }

    /// Fresh keys for one scheduler (splitmix64 over the seed).
    fn next_keys(&mut self) -> [u64; 4] {
        core::array::from_fn(|_| {
            self.keyed = self.keyed.wrapping_add(1);
            let mut z = self
                .seed
                .wrapping_add(self.keyed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
    }

    /// The services, in no particular order.
    pub(crate) fn services(&self) -> &[Service] {
        &self.services
    }

    /// Whether there are IPv4 and IPv6 services.
    pub(crate) fn families(&self) -> [bool; 2] {
        self.per_family.map(|n| n != 0)
    }

    fn count_service(&mut self, key: &SvcKey, added: bool) {
        let n = &mut self.per_family[usize::from(key.af() == AF_INET6)];
        *n = if added { *n + 1 } else { *n - 1 };
    }

    /// Lets the schedulers age their state (every estimator tick).
    pub(crate) fn tick_schedulers(&mut self, env: &dyn Env) {
        for s in self.services.iter_mut() {
            if let Some(sched) = s.sched.as_mut() {
                sched.tick(env);
            }
        }
    }

    /// Updates the rates of every service and real server (see
    /// [`Counters::estimate`]).
    pub(crate) fn estimate(&self) {
        for s in self.services.iter() {
            s.stats.estimate();
            for d in s.dests.iter() {
                d.shared.stats.estimate();
            }
        }
    }

    fn find(&self, key: &SvcKey) -> Option<usize> {
        self.index.find(&self.services, key)
    }

    /// The service a packet belongs to (`ip_vs_service_find`): its
    /// firewall mark first, then protocol, address and port, then a
    /// port-zero service of the address.
    pub(crate) fn find_for_packet(
        &mut self,
        af: u16,
        protocol: u8,
        addr: &Addr,
        port: [u8; 2],
        mark: u32,
    ) -> Option<&mut Service> {
        let mut tuple = SvcKey::Tuple {
            af,
            protocol: u16::from(protocol),
            addr: *addr,
            port,
        };
        let fwmark = SvcKey::Fwmark { af, mark };
        let mut i = None;
        if mark != 0 {
            i = self.find(&fwmark);
        }
        if i.is_none() {
            i = self.find(&tuple);
        }
        if i.is_none() && port != [0, 0] {
            if let SvcKey::Tuple { port, .. } = &mut tuple {
                *port = [0, 0];
            }
            i = self.find(&tuple);
        }
        i.map(|i| &mut self.services[i])
    }

    /// The service of a NAT real server at `addr:port` (or at `addr`
    /// without port) for `protocol` (`ip_vs_find_real_service`, for
    /// connections real servers start). A service with a virtual port is
    /// preferred, then one without (port-less, persistent), then a
    /// fwmark service (any protocol); the first configured among equals.
    pub(crate) fn find_real_service(
        &self,
        af: u16,
        protocol: u8,
        addr: &Addr,
        port: [u8; 2],
    ) -> Option<(&Service, &Dest)> {
        self.services
            .iter()
            .filter_map(|s| {
                let rank = match s.key {
                    SvcKey::Tuple { protocol: p, .. } if p != u16::from(protocol) => return None,
                    SvcKey::Tuple { port: [0, 0], .. } => 1,
                    SvcKey::Tuple { .. } => 0,
                    SvcKey::Fwmark { .. } => 2,
                };
                let d = s.dests.iter().find(|d| {
                    d.fwd == conn_flags::MASQ
                        && d.af == af
                        && (d.port == port || d.port == [0, 0])
                        && addr_eq(af, &d.addr, addr)
                })?;
                Some((rank, s, d))
            })
            .min_by_key(|&(rank, ..)| rank)
            .map(|(_, s, d)| (s, d))
    }

    /// Whether a NAT real server of some service is at `addr:port` for
    /// `protocol` (`ip_vs_has_real_service`; fwmark services for any).
    pub(crate) fn has_real_service(
        &self,
        af: u16,
        protocol: u8,
        addr: &Addr,
        port: [u8; 2],
    ) -> bool {
        self.services.iter().any(|s| {
            let fits = match s.key {
                SvcKey::Tuple { protocol: p, .. } => p == u16::from(protocol),
                SvcKey::Fwmark { .. } => true,
            };
            fits && s.dests.iter().any(|d| {
                d.fwd == conn_flags::MASQ
                    && d.af == af
                    && d.port == port
                    && addr_eq(af, &d.addr, addr)
            })
        })
    }

    /// The service named by an `IPVS_CMD_ATTR_SERVICE` attribute (only
    /// the identifying members are read).
    pub(crate) fn lookup(&self, nest: Option<Attr<'_>>) -> Result<Option<&Service>, Error> {
        let (key, _) = parse_service(nest, false)?;
        Ok(self.find(&key).map(|i| &self.services[i]))
    }

    /// Applies a configuration command (`ip_vs_genl_set_cmd`).
    /// `addr_ok(af, addr)`: whether a new real server's address is
    /// unicast or local, as the routing tables say (`ip_vs_new_dest`).
    pub(crate) fn apply(
        &mut self,
        c: u8,
        svc: Option<Attr<'_>>,
        dest: Option<Attr<'_>>,
        addr_ok: &dyn Fn(u16, &Addr) -> bool,
    ) -> Result<(), Error> {
        match c {
            cmd::FLUSH => {
                let mut res = Ok(());
                while let Some(last) = self.services.len().checked_sub(1) {
                    let s = self.services.remove(last);
                    self.count_service(&s.key, false);
                    res = self.discard(s);
                    if res.is_err() {
                        break;
                    }
                }
                self.index.refit(&self.services, self.svc_lfactor);
                return res;
            }
            cmd::ZERO if svc.is_none() => {
                for s in self.services.iter() {
                    s.zero();
                }
                return Ok(());
            }
            _ => {}
        }
        let full_svc = c == cmd::NEW_SERVICE || c == cmd::SET_SERVICE;
        let (key, params) = parse_service(svc, full_svc)?;
        let idx = self.find(&key);
        let Some(idx) = idx else {
            if c != cmd::NEW_SERVICE {
                return Err(err(ESRCH, c"ipvs: no such service"));
            }
            let p = params.ok_or(err(EINVAL, c"ipvs: service parameters missing"))?;
            return self.add_service(key, &p);
        };
        let dest = if matches!(c, cmd::NEW_DEST | cmd::SET_DEST | cmd::DEL_DEST) {
            let (mut k, p) = parse_dest(dest, c != cmd::DEL_DEST)?;
            let svc_af = self.services[idx].key.af();
            if k.af == 0 {
                k.af = svc_af;
                if svc_af != AF_INET6 {
                    k.addr[4..].fill(0);
                }
            }
            if !af_valid(k.af) {
                return Err(err(
                    EAFNOSUPPORT,
                    c"ipvs: real server address family not supported",
                ));
            }
            if k.af != svc_af && c != cmd::DEL_DEST {
                if self.syncing {
                    return Err(err(
                        EINVAL,
                        c"ipvs: no real server of another family while sync runs",
                    ));
                }
                if p.is_some_and(|p| p.fwd != conn_flags::TUNNEL) {
                    return Err(err(
                        EINVAL,
                        c"ipvs: mixed address families need tunnel forwarding",
                    ));
                }
            }
            Some((k, p))
        } else {
            None
        };
        let keys = self.next_keys();
        let s = &mut self.services[idx];
        match (c, dest) {
            (cmd::NEW_SERVICE, _) => Err(err(EEXIST, c"ipvs: service already exists")),
            (cmd::SET_SERVICE, _) => {
                let mut p = params.ok_or(err(EINVAL, c"ipvs: service parameters missing"))?;
                p.flags = (s.flags & !p.mask) | (p.flags & p.mask);
                check_svc_params(s.key.af(), &p)?;
                s.look();
                // The same scheduler keeps its state (stock does not
                // re-initialise it either).
                if s.sched_name() != p.sched.as_str() {
                    s.sched = scheduler_of(&p, s.key.af(), &s.seen, keys)?;
                }
                s.flags = p.flags | svc_flags::HASHED;
                s.timeout = p.timeout;
                s.netmask = p.netmask;
                Ok(())
            }
            (cmd::DEL_SERVICE, _) => {
                let s = self.services.remove(idx);
                self.count_service(&s.key, false);
                self.index.refit(&self.services, self.svc_lfactor);
                self.discard(s)
            }
            (cmd::ZERO, _) => {
                s.zero();
                Ok(())
            }
            (cmd::NEW_DEST, Some((k, Some(p)))) => {
                check_dest_params(&p)?;
                if find_dest(s, &k).is_some() {
                    return Err(err(EEXIST, c"ipvs: real server already exists"));
                }
                let d = match self
                    .trash
                    .iter()
                    .position(|t| t.svc.matches(&s.key) && t.dest.is(&k))
                {
                    Some(t) => {
                        let mut d = self.trash.remove(t).dest;
                        d.shared.available.store(true, Ordering::Relaxed);
                        d.set(&p);
                        d
                    }
                    None if !addr_ok(k.af, &k.addr) => {
                        return Err(err(
                            EINVAL,
                            c"ipvs: real server address is neither unicast nor local",
                        ));
                    }
                    None => Dest::new(&k, &p)?,
                };
                s.dests.insert_first(d)?;
                s.look();
                if let Some(sch) = s.sched.as_mut() {
                    sch.dest_added(0, &s.seen);
                }
                Ok(())
            }
            (cmd::SET_DEST, Some((k, Some(p)))) => {
                check_dest_params(&p)?;
                let i = find_dest(s, &k).ok_or(err(ENOENT, c"ipvs: no such real server"))?;
                s.dests[i].set(&p);
                s.look();
                if let Some(sch) = s.sched.as_mut() {
                    sch.dest_updated(&s.seen);
                }
                Ok(())
            }
            (cmd::DEL_DEST, Some((k, _))) => {
                let i = find_dest(s, &k).ok_or(err(ENOENT, c"ipvs: no such real server"))?;
                let d = s.dests.remove(i);
                s.look();
                if let Some(sch) = s.sched.as_mut() {
                    sch.dest_removed(i, &s.seen);
                }
                let svc = s.key;
                self.trash_dest(svc, d)
            }
            _ => Err(err(EINVAL, c"ipvs: unknown command")),
        }
    }

    /// Moves a deleted real server to the trash.
    fn trash_dest(&mut self, svc: SvcKey, dest: Dest) -> Result<(), Error> {
        dest.retire();
        self.retired = true;
        self.trash.push(Trashed {
            svc,
            dest,
            idle_since: None,
        })?;
        Ok(())
    }

    /// Moves the real servers of a deleted service to the trash.
    fn discard(&mut self, mut s: Service) -> Result<(), Error> {
        let mut res = Ok(());
        while let Some(last) = s.dests.len().checked_sub(1) {
            let d = s.dests.remove(last);
            // Out of memory: the connections keep what they share.
            res = res.and(self.trash_dest(s.key, d));
        }
        res
    }

    /// Frees the deleted real servers that no connection has used for
    /// [`TRASH_PERIOD`] (stock's trash timer); `now` in seconds.
    pub(crate) fn empty_trash(&mut self, now: u64) {
        let mut i = 0;
        while i < self.trash.len() {
            let t = &mut self.trash[i];
            if !t.dest.unused() {
                t.idle_since = None;
            } else if let Some(since) = t.idle_since {
                if now.wrapping_sub(since) >= TRASH_PERIOD {
                    self.trash.remove(i);
                    continue;
                }
            } else {
                t.idle_since = Some(now);
            }
            i += 1;
        }
    }

    /// Deleted real servers kept for their connections.
    #[cfg(test)]
    pub(crate) fn trashed(&self) -> usize {
        self.trash.len()
    }

    fn add_service(&mut self, key: SvcKey, p: &SvcParams) -> Result<(), Error> {
        check_svc_params(key.af(), p)?;
        let sched = scheduler_of(p, key.af(), &[], self.next_keys())?;
        let n = self.services.len() + 1;
        self.index.fit(&self.services, n, self.svc_lfactor)?;
        self.services.push(Service {
            key,
            sched,
            pe: p.pe,
            flags: (p.flags & p.mask) | svc_flags::HASHED,
            timeout: p.timeout,
            netmask: p.netmask,
            dests: List::new(),
            stats: share(Counters::default())?,
            seen: List::new(),
        })?;
        self.index.insert(&self.services, self.services.len() - 1);
        self.count_service(&key, true);
        Ok(())
    }
}

fn find_dest(s: &Service, k: &DestKey) -> Option<usize> {
    s.dests.iter().position(|d| d.is(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nlattr::push;
    use crate::uapi::cmd_attr;

    fn nest(attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = Vec::new();
        for (t, v) in attrs {
            push(&mut b, *t, v);
        }
        b
    }

    fn v4(a: [u8; 4]) -> Vec<u8> {
        let mut v = a.to_vec();
        v.resize(16, 0);
        v
    }

    fn svc(port: u16, sched: &str, full: bool) -> Vec<u8> {
        svc_proto(port, sched, full, 6)
    }

    fn svc_proto(port: u16, sched: &str, full: bool, protocol: u16) -> Vec<u8> {
        let mut a = vec![
            (svc_attr::AF, AF_INET.to_ne_bytes().to_vec()),
            (svc_attr::PROTOCOL, protocol.to_ne_bytes().to_vec()),
            (svc_attr::ADDR, v4([10, 0, 0, 1])),
            (svc_attr::PORT, port.to_be_bytes().to_vec()),
        ];
        if full {
            let mut s = sched.as_bytes().to_vec();
            s.push(0);
            a.push((svc_attr::SCHED_NAME, s));
            let mut f = 0u32.to_ne_bytes().to_vec();
            f.extend_from_slice(&u32::MAX.to_ne_bytes());
            a.push((svc_attr::FLAGS, f));
            a.push((svc_attr::TIMEOUT, 0u32.to_ne_bytes().to_vec()));
            a.push((svc_attr::NETMASK, u32::MAX.to_ne_bytes().to_vec()));
        }
        nest(&a)
    }

    #[test]
    fn ipv6_services_and_real_servers_are_told_apart() {
        let svc4 = svc(80, "rr", true);
        let mut svc6 = svc4.clone();
        // The AF attribute comes first: its payload at bytes 4..6.
        svc6[4..6].copy_from_slice(&AF_INET6.to_ne_bytes());
        let dest4 = nest(&[(dest_attr::ADDR_FAMILY, AF_INET.to_ne_bytes().to_vec())]);
        let dest6 = nest(&[(dest_attr::ADDR_FAMILY, AF_INET6.to_ne_bytes().to_vec())]);
        fn a(b: &[u8]) -> Option<Attr<'_>> {
            Some(Attr::new(b))
        }
        assert!(adds_ipv6(cmd::NEW_SERVICE, a(&svc6), None));
        assert!(!adds_ipv6(cmd::NEW_SERVICE, a(&svc4), None));
        assert!(!adds_ipv6(cmd::DEL_SERVICE, a(&svc6), None));
        assert!(adds_ipv6(cmd::NEW_DEST, a(&svc6), a(&dest4)));
        // An IPv6 real server of an IPv4 service (tunnels may mix).
        assert!(adds_ipv6(cmd::NEW_DEST, a(&svc4), a(&dest6)));
        assert!(!adds_ipv6(cmd::NEW_DEST, a(&svc4), None));
        assert!(!adds_ipv6(
            cmd::NEW_SERVICE,
            Some(Attr::new(&[1, 2, 3, 4, 5])),
            None
        ));
    }

    fn dest(last: u8, weight: i32, full: bool) -> Vec<u8> {
        let mut a = vec![
            (dest_attr::ADDR, v4([192, 168, 0, last])),
            (dest_attr::PORT, 80u16.to_be_bytes().to_vec()),
        ];
        if full {
            a.push((
                dest_attr::FWD_METHOD,
                conn_flags::MASQ.to_ne_bytes().to_vec(),
            ));
            a.push((dest_attr::WEIGHT, weight.to_ne_bytes().to_vec()));
            a.push((dest_attr::U_THRESH, 0u32.to_ne_bytes().to_vec()));
            a.push((dest_attr::L_THRESH, 0u32.to_ne_bytes().to_vec()));
        }
        nest(&a)
    }

    #[test]
    fn other_family_real_servers_tunnel_and_not_while_syncing() {
        let mut t = Table::new();
        let s = svc(80, "rr", true);
        apply(&mut t, cmd::NEW_SERVICE, &s, None).unwrap();
        let six = |fwd: u32| {
            nest(&[
                (
                    dest_attr::ADDR,
                    vec![0xfd, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11],
                ),
                (dest_attr::PORT, 80u16.to_be_bytes().to_vec()),
                (dest_attr::ADDR_FAMILY, AF_INET6.to_ne_bytes().to_vec()),
                (dest_attr::FWD_METHOD, fwd.to_ne_bytes().to_vec()),
                (dest_attr::WEIGHT, 1u32.to_ne_bytes().to_vec()),
                (dest_attr::U_THRESH, 0u32.to_ne_bytes().to_vec()),
                (dest_attr::L_THRESH, 0u32.to_ne_bytes().to_vec()),
            ])
        };
        let masq = six(conn_flags::MASQ);
        let tun = six(conn_flags::TUNNEL);
        assert_eq!(apply(&mut t, cmd::NEW_DEST, &s, Some(&masq)), Err(EINVAL));
        t.set_syncing(true);
        assert_eq!(apply(&mut t, cmd::NEW_DEST, &s, Some(&tun)), Err(EINVAL));
        t.set_syncing(false);
        assert!(!t.has_mixed_families());
        apply(&mut t, cmd::NEW_DEST, &s, Some(&tun)).unwrap();
        assert!(t.has_mixed_families());
        // Deleting is no adding.
        t.set_syncing(true);
        assert_eq!(apply(&mut t, cmd::SET_DEST, &s, Some(&tun)), Err(EINVAL));
        apply(&mut t, cmd::DEL_DEST, &s, Some(&tun)).unwrap();
    }

    #[test]
    fn nests_are_checked_whole_before_their_values() {
        let mut t = Table::new();
        // A service of an unknown family, and with a persistence engine
        // name too long: the nest fails first (EINVAL), as stock parses
        // it whole.
        let mut bad = svc(80, "rr", true);
        bad[4..6].copy_from_slice(&7u16.to_ne_bytes());
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &bad, None),
            Err(EAFNOSUPPORT)
        );
        let mut long = bad.clone();
        crate::nlattr::push(&mut long, svc_attr::PE_NAME, &[b'x'; 20]);
        assert_eq!(apply(&mut t, cmd::NEW_SERVICE, &long, None), Err(EINVAL));
        // An unknown scheduler is named before a bad IPv6 netmask.
        let mut six = svc(80, "nope", true);
        six[4..6].copy_from_slice(&AF_INET6.to_ne_bytes());
        assert_eq!(apply(&mut t, cmd::NEW_SERVICE, &six, None), Err(ENOENT));
        // A malformed tail is ignored, as the kernel's parser does.
        let mut tail = svc(80, "rr", true);
        tail.extend_from_slice(&[200, 0, 1, 0]);
        apply(&mut t, cmd::NEW_SERVICE, &tail, None).unwrap();
    }

    fn apply(t: &mut Table, c: u8, s: &[u8], d: Option<&[u8]>) -> Result<(), i32> {
        t.apply(c, Some(Attr::new(s)), d.map(Attr::new), &|_, _| true)
            .map_err(|e| e.errno)
    }

    #[test]
    fn add_list_edit_delete() {
        let mut t = Table::new();
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None).unwrap();
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &svc(80, "wlc", true), None),
            Err(EEXIST)
        );
        apply(
            &mut t,
            cmd::NEW_DEST,
            &svc(80, "", false),
            Some(&dest(2, 1, true)),
        )
        .unwrap();
        apply(
            &mut t,
            cmd::NEW_DEST,
            &svc(80, "", false),
            Some(&dest(3, 2, true)),
        )
        .unwrap();
        let s = &t.services()[0];
        assert_eq!(s.sched_name(), "rr");
        assert_eq!(s.flags, svc_flags::HASHED);
        // Newest first, as stock.
        assert_eq!(s.dests[0].addr[3], 3);
        assert_eq!(s.dests[1].weight, 1);
        apply(
            &mut t,
            cmd::SET_DEST,
            &svc(80, "", false),
            Some(&dest(2, 0, true)),
        )
        .unwrap();
        assert_eq!(t.services()[0].dests[1].weight, 0);
        apply(&mut t, cmd::SET_SERVICE, &svc(80, "wrr", true), None).unwrap();
        assert_eq!(t.services()[0].sched_name(), "wrr");
        apply(
            &mut t,
            cmd::DEL_DEST,
            &svc(80, "", false),
            Some(&dest(3, 0, false)),
        )
        .unwrap();
        assert_eq!(t.services()[0].dests.len(), 1);
        assert_eq!(
            apply(
                &mut t,
                cmd::DEL_DEST,
                &svc(80, "", false),
                Some(&dest(3, 0, false))
            ),
            Err(ENOENT)
        );
        apply(&mut t, cmd::DEL_SERVICE, &svc(80, "", false), None).unwrap();
        assert!(t.services().is_empty());
    }

    #[test]
    fn deleted_real_server_resumes_from_the_trash() {
        let mut t = Table::new();
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "lc", true), None).unwrap();
        apply(
            &mut t,
            cmd::NEW_DEST,
            &svc(80, "", false),
            Some(&dest(2, 1, true)),
        )
        .unwrap();
        let shared = t.services()[0].dests[0].shared.clone();
        shared.inactive.store(3, Ordering::Relaxed); // three connections
        shared.stats.count_conn();
        apply(
            &mut t,
            cmd::DEL_DEST,
            &svc(80, "", false),
            Some(&dest(2, 0, false)),
        )
        .unwrap();
        assert!(!shared.available.load(Ordering::Relaxed));
        // In use: kept however long.
        t.empty_trash(0);
        t.empty_trash(1000);
        assert_eq!(t.trashed(), 1);
        // Added back with a new weight: same counters, available again.
        apply(
            &mut t,
            cmd::NEW_DEST,
            &svc(80, "", false),
            Some(&dest(2, 5, true)),
        )
        .unwrap();
        let d = &t.services()[0].dests[0];
        assert!(Shared::ptr_eq(&d.shared, &shared));
        assert_eq!(
            (d.weight, d.inactive(), d.shared.stats.snapshot().conns),
            (5, 3, 1)
        );
        assert!(shared.available.load(Ordering::Relaxed));
        assert_eq!(t.trashed(), 0);
        // Another service's real server at the same address is new.
        apply(&mut t, cmd::NEW_SERVICE, &svc(81, "rr", true), None).unwrap();
        apply(&mut t, cmd::DEL_SERVICE, &svc(80, "", false), None).unwrap();
        assert_eq!(t.trashed(), 1);
        apply(
            &mut t,
            cmd::NEW_DEST,
            &svc(81, "", false),
            Some(&dest(2, 1, true)),
        )
        .unwrap();
        let other = &t.services()[0].dests[0];
        assert!(!Shared::ptr_eq(&other.shared, &shared));
        // Unused for TRASH_PERIOD: freed.
        shared.inactive.store(0, Ordering::Relaxed);
        t.empty_trash(2000);
        t.empty_trash(2000 + TRASH_PERIOD - 1);
        assert_eq!(t.trashed(), 1);
        t.empty_trash(2000 + TRASH_PERIOD);
        assert_eq!(t.trashed(), 0);
    }

    #[test]
    fn real_service_of_a_real_server() {
        let mut t = Table::new();
        let udp = |port: u16| svc_proto(port, "rr", true, 17);
        let rs = |a: [u8; 4], port: u16| {
            let mut x = [0u8; 16];
            x[..4].copy_from_slice(&a);
            (x, port.to_be_bytes())
        };
        apply(&mut t, cmd::NEW_SERVICE, &udp(53), None).unwrap();
        apply(&mut t, cmd::NEW_DEST, &udp(53), Some(&dest(2, 1, true))).unwrap();
        let (a, p80) = rs([192, 168, 0, 2], 80);
        // The real server's port is 80 (dest() builds port 80).
        let (s, d) = t.find_real_service(AF_INET, 17, &a, p80).unwrap();
        assert_eq!((s.key.af(), d.port), (AF_INET, p80));
        // Another port, another protocol, another address: none.
        assert!(t.find_real_service(AF_INET, 17, &a, [0, 81]).is_none());
        assert!(t.find_real_service(AF_INET, 6, &a, p80).is_none());
        let (b, _) = rs([192, 168, 0, 3], 80);
        assert!(t.find_real_service(AF_INET, 17, &b, p80).is_none());
        // `nat_icmp_send`'s question: the same, exact port only.
        assert!(t.has_real_service(AF_INET, 17, &a, p80));
        assert!(!t.has_real_service(AF_INET, 17, &a, [0, 81]));
        assert!(!t.has_real_service(AF_INET, 6, &a, p80));
        assert!(!t.has_real_service(AF_INET, 17, &b, p80));
    }

    #[test]
    fn sip_is_the_one_persistence_engine() {
        let with_pe = |pe: &[u8]| {
            let mut b = svc(80, "rr", true);
            push(&mut b, svc_attr::PE_NAME, pe);
            b
        };
        let mut t = Table::new();
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &with_pe(b"foo\0"), None),
            Err(ENOENT)
        );
        apply(&mut t, cmd::NEW_SERVICE, &with_pe(b"sip\0"), None).unwrap();
        assert!(t.services()[0].pe_sip());
    }

    #[test]
    fn stock_errors() {
        let mut t = Table::new();
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &svc(80, "nope", true), None),
            Err(ENOENT)
        );
        assert_eq!(
            apply(&mut t, cmd::SET_SERVICE, &svc(80, "rr", true), None),
            Err(ESRCH)
        );
        assert_eq!(
            apply(
                &mut t,
                cmd::NEW_DEST,
                &svc(80, "", false),
                Some(&dest(2, 1, true))
            ),
            Err(ESRCH)
        );
        // A service without scheduler, flags, timeout or netmask.
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", false), None),
            Err(EINVAL)
        );
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None).unwrap();
        assert_eq!(
            apply(
                &mut t,
                cmd::NEW_DEST,
                &svc(80, "", false),
                Some(&dest(2, -1, true))
            ),
            Err(ERANGE)
        );
        assert_eq!(
            apply(
                &mut t,
                cmd::NEW_DEST,
                &svc(80, "", false),
                Some(&dest(2, 1, false))
            ),
            Err(EINVAL)
        );
        assert_eq!(
            apply(&mut t, cmd::NEW_DEST, &svc(80, "", false), None),
            Err(EINVAL)
        );
        apply(
            &mut t,
            cmd::NEW_DEST,
            &svc(80, "", false),
            Some(&dest(2, 1, true)),
        )
        .unwrap();
        assert_eq!(
            apply(
                &mut t,
                cmd::NEW_DEST,
                &svc(80, "", false),
                Some(&dest(2, 1, true))
            ),
            Err(EEXIST)
        );
        // Addresses neither unicast nor local: EINVAL, after EEXIST (as
        // ip_vs_add_dest, then ip_vs_new_dest).
        let no = |_: u16, _: &Addr| false;
        let add = |t: &mut Table, last| {
            let d = dest(last, 1, true);
            t.apply(
                cmd::NEW_DEST,
                Some(Attr::new(&svc(80, "", false))),
                Some(Attr::new(&d)),
                &no,
            )
            .map_err(|e| e.errno)
        };
        assert_eq!(add(&mut t, 2), Err(EEXIST));
        assert_eq!(add(&mut t, 7), Err(EINVAL));
        assert_eq!(t.services()[0].dests.len(), 1);
        // Lower threshold above the upper one.
        let mut d = nest(&[
            (dest_attr::ADDR, v4([192, 168, 0, 9])),
            (dest_attr::PORT, 80u16.to_be_bytes().to_vec()),
            (dest_attr::FWD_METHOD, 0u32.to_ne_bytes().to_vec()),
            (dest_attr::WEIGHT, 1u32.to_ne_bytes().to_vec()),
            (dest_attr::U_THRESH, 5u32.to_ne_bytes().to_vec()),
            (dest_attr::L_THRESH, 6u32.to_ne_bytes().to_vec()),
        ]);
        assert_eq!(
            apply(&mut t, cmd::NEW_DEST, &svc(80, "", false), Some(&d)),
            Err(ERANGE)
        );
        // A truncated attribute run.
        let n = d.len();
        d[n - 8] = 200; // the last attribute claims 200 bytes
        assert_eq!(
            apply(&mut t, cmd::NEW_DEST, &svc(80, "", false), Some(&d)),
            Err(EINVAL)
        );
        // Wrong address family.
        let bad = nest(&[
            (svc_attr::AF, 3u16.to_ne_bytes().to_vec()),
            (svc_attr::FWMARK, 1u32.to_ne_bytes().to_vec()),
        ]);
        assert_eq!(
            apply(&mut t, cmd::DEL_SERVICE, &bad, None),
            Err(EAFNOSUPPORT)
        );
        assert_eq!(
            t.apply(cmd::DEL_SERVICE, None, None, &|_, _| true)
                .map_err(|e| e.errno),
            Err(EINVAL)
        );
        let _ = cmd_attr::SERVICE;
    }

    #[test]
    fn ipv4_key_ignores_padding_and_flush_empties() {
        let mut t = Table::new();
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None).unwrap();
        // Same service with garbage after the IPv4 address.
        let mut a = v4([10, 0, 0, 1]);
        a[8] = 0xff;
        let key = nest(&[
            (svc_attr::AF, AF_INET.to_ne_bytes().to_vec()),
            (svc_attr::PROTOCOL, 6u16.to_ne_bytes().to_vec()),
            (svc_attr::ADDR, a),
            (svc_attr::PORT, 80u16.to_be_bytes().to_vec()),
        ]);
        assert!(t.lookup(Some(Attr::new(&key))).unwrap().is_some());
        apply(&mut t, cmd::NEW_SERVICE, &svc(81, "rr", true), None).unwrap();
        t.apply(cmd::FLUSH, None, None, &|_, _| true).unwrap();
        assert!(t.services().is_empty());
    }

    #[test]
    fn families_follow_the_services() {
        let mut t = Table::new();
        let six = |port: u16| {
            nest(&[
                (svc_attr::AF, AF_INET6.to_ne_bytes().to_vec()),
                (svc_attr::PROTOCOL, 6u16.to_ne_bytes().to_vec()),
                (svc_attr::ADDR, vec![0xfd; 16]),
                (svc_attr::PORT, port.to_be_bytes().to_vec()),
                (svc_attr::SCHED_NAME, b"rr\0".to_vec()),
                (
                    svc_attr::FLAGS,
                    [0u32, u32::MAX].map(u32::to_ne_bytes).concat(),
                ),
                (svc_attr::TIMEOUT, 0u32.to_ne_bytes().to_vec()),
                (svc_attr::NETMASK, 128u32.to_ne_bytes().to_vec()),
            ])
        };
        assert_eq!(t.families(), [false, false]);
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None).unwrap();
        apply(&mut t, cmd::NEW_SERVICE, &svc(81, "rr", true), None).unwrap();
        assert_eq!(t.families(), [true, false]);
        // A refused service counts for nothing.
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None),
            Err(EEXIST)
        );
        apply(&mut t, cmd::NEW_SERVICE, &six(80), None).unwrap();
        assert_eq!(t.families(), [true, true]);
        apply(&mut t, cmd::DEL_SERVICE, &svc(80, "", false), None).unwrap();
        assert_eq!(t.families(), [true, true]);
        apply(&mut t, cmd::DEL_SERVICE, &svc(81, "", false), None).unwrap();
        assert_eq!(t.families(), [false, true]);
        apply(&mut t, cmd::NEW_SERVICE, &svc(82, "rr", true), None).unwrap();
        t.apply(cmd::FLUSH, None, None, &|_, _| true).unwrap();
        assert_eq!(t.families(), [false, false]);
        apply(&mut t, cmd::NEW_SERVICE, &six(80), None).unwrap();
        assert_eq!(t.families(), [false, true]);
    }

    #[test]
    fn flags_follow_the_mask() {
        let mut t = Table::new();
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None).unwrap();
        let mut s = svc(80, "rr", false);
        push(&mut s, svc_attr::SCHED_NAME, b"rr\0");
        let mut f = svc_flags::PERSISTENT.to_ne_bytes().to_vec();
        f.extend_from_slice(&svc_flags::PERSISTENT.to_ne_bytes());
        push(&mut s, svc_attr::FLAGS, &f);
        push(&mut s, svc_attr::TIMEOUT, &300u32.to_ne_bytes());
        push(&mut s, svc_attr::NETMASK, &u32::MAX.to_ne_bytes());
        apply(&mut t, cmd::SET_SERVICE, &s, None).unwrap();
        assert_eq!(
            t.services()[0].flags,
            svc_flags::PERSISTENT | svc_flags::HASHED
        );
        assert_eq!(t.services()[0].timeout, 300);
    }

    #[test]
    fn real_service_prefers_a_virtual_port() {
        let mut t = Table::new();
        let full = |key: Vec<(u16, Vec<u8>)>| {
            let mut a = key;
            a.push((svc_attr::SCHED_NAME, b"rr\0".to_vec()));
            let mut f = svc_flags::PERSISTENT.to_ne_bytes().to_vec();
            f.extend_from_slice(&u32::MAX.to_ne_bytes());
            a.push((svc_attr::FLAGS, f));
            a.push((svc_attr::TIMEOUT, 60u32.to_ne_bytes().to_vec()));
            a.push((svc_attr::NETMASK, u32::MAX.to_ne_bytes().to_vec()));
            nest(&a)
        };
        let fwmark = full(vec![
            (svc_attr::AF, AF_INET.to_ne_bytes().to_vec()),
            (svc_attr::FWMARK, 7u32.to_ne_bytes().to_vec()),
        ]);
        let (fwmark_key, portless, port80) = (
            nest(&[
                (svc_attr::AF, AF_INET.to_ne_bytes().to_vec()),
                (svc_attr::FWMARK, 7u32.to_ne_bytes().to_vec()),
            ]),
            svc(0, "", false),
            svc(80, "", false),
        );
        // Configured in the order the lookup likes least first.
        apply(&mut t, cmd::NEW_SERVICE, &fwmark, None).unwrap();
        apply(&mut t, cmd::NEW_SERVICE, &svc(0, "rr", true), None).unwrap();
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None).unwrap();
        for key in [&fwmark_key, &portless, &port80] {
            apply(&mut t, cmd::NEW_DEST, key, Some(&dest(2, 1, true))).unwrap();
        }
        let rs = v4([192, 168, 0, 2]).try_into().unwrap();
        let port = 80u16.to_be_bytes();
        let found = |t: &Table, protocol: u8| {
            t.find_real_service(AF_INET, protocol, &rs, port)
                .map(|(s, _)| s.key)
        };
        let tuple = |port: u16| SvcKey::Tuple {
            af: AF_INET,
            protocol: 6,
            addr: v4([10, 0, 0, 1]).try_into().unwrap(),
            port: port.to_be_bytes(),
        };
        let mark = SvcKey::Fwmark {
            af: AF_INET,
            mark: 7,
        };
        assert_eq!(found(&t, 6), Some(tuple(80)));
        // A fwmark service takes any protocol.
        assert_eq!(found(&t, 17), Some(mark));
        // Not a real server of anyone at another port.
        assert_eq!(
            t.find_real_service(AF_INET, 6, &rs, 81u16.to_be_bytes())
                .map(|(s, _)| s.key),
            None
        );
        apply(&mut t, cmd::DEL_SERVICE, &port80, None).unwrap();
        assert_eq!(found(&t, 6), Some(tuple(0)));
        apply(&mut t, cmd::DEL_SERVICE, &portless, None).unwrap();
        assert_eq!(found(&t, 6), Some(mark));
    }

    #[test]
    fn timeouts_are_set_as_stock() {
        let t = Timeouts::default();
        let hz = 250;
        let set = t.set([Some(100), None, Some(0)], hz).unwrap();
        assert_eq!((set.tcp, set.tcp_fin, set.udp), (100, t.tcp_fin, t.udp));
        let max = i32::MAX as u32 / hz;
        assert_eq!(t.set([None, Some(max), None], hz).unwrap().tcp_fin, max);
        for bad in [max + 1, 0x8000_0000, u32::MAX] {
            let e = t.set([Some(5), None, Some(bad)], hz).unwrap_err();
            assert_eq!(e.errno, EINVAL);
        }
    }

    #[test]
    fn rates_follow_the_counters_as_stock() {
        let c = Counters::default();
        // 100 connections and 1000 packets of 150 bytes in each period,
        // nothing out: 50 connections, 500 packets and 75000 bytes a second.
        for _ in 0..80 {
            c.cells.add(CONNS, 100);
            for _ in 0..1000 {
                c.count_packet(true, 150);
            }
            c.estimate();
        }
        assert_eq!(c.rates(), [50, 500, 0, 75000, 0]);
        // The first update after a quiet start takes a quarter of the rate.
        let d = Counters::default();
        d.cells.add(CONNS, 8);
        d.estimate();
        assert_eq!(d.rates()[0], 1);
        // Traffic stops: the rates decay.
        for _ in 0..4 {
            c.estimate();
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
        c.estimate();
        assert_eq!(c.rates()[0], 0);
    }

    #[test]
    fn many_services_are_found_after_adds_and_deletes() {
        let mut t = Table::new();
        for port in 1..=1000 {
            apply(&mut t, cmd::NEW_SERVICE, &svc(port, "rr", true), None).unwrap();
        }
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &svc(500, "rr", true), None),
            Err(EEXIST)
        );
        for port in (2..=1000).step_by(2) {
            apply(&mut t, cmd::DEL_SERVICE, &svc(port, "", false), None).unwrap();
        }
        for port in 1..=1000u16 {
            let found = t.lookup(Some(Attr::new(&svc(port, "", false)))).unwrap();
            assert_eq!(found.is_some(), port % 2 == 1, "port {port}");
            if let Some(s) = found {
                assert!(matches!(s.key, SvcKey::Tuple { port: p, .. } if p == port.to_be_bytes()));
            }
        }
        // Listed in the order they came.
        assert_eq!(t.services().len(), 500);
        assert!(
            matches!(t.services()[1].key, SvcKey::Tuple { port, .. } if port == 3u16.to_be_bytes())
        );
        t.apply(cmd::FLUSH, None, None, &|_, _| true).unwrap();
        assert!(t
            .lookup(Some(Attr::new(&svc(1, "", false))))
            .unwrap()
            .is_none());
        apply(&mut t, cmd::NEW_SERVICE, &svc(1, "rr", true), None).unwrap();
        assert!(t
            .lookup(Some(Attr::new(&svc(1, "", false))))
            .unwrap()
            .is_some());
    }

    #[test]
    fn the_index_follows_svc_lfactor_both_ways() {
        let mut t = Table::new();
        t.set_seed(0x5eed);
        let found = |t: &Table, port: u16| {
            t.lookup(Some(Attr::new(&svc(port, "", false))))
                .unwrap()
                .is_some()
        };
        assert_eq!(t.index_size().0, 0);
        // Default -3: eight slots a service, from 16 slots up.
        apply(&mut t, cmd::NEW_SERVICE, &svc(1, "rr", true), None).unwrap();
        assert_eq!(t.index_size().0, 16);
        for port in 2..=100 {
            apply(&mut t, cmd::NEW_SERVICE, &svc(port, "rr", true), None).unwrap();
        }
        assert_eq!(t.index_size().0, 1024);
        // 10 left want 80 slots: a quarter of the load shrinks, to twice
        // what the load needs.
        for port in 11..=100 {
            apply(&mut t, cmd::DEL_SERVICE, &svc(port, "", false), None).unwrap();
        }
        assert_eq!(t.index_size().0, 256);
        assert!((1..=10).all(|p| found(&t, p)) && !found(&t, 11));
        // A positive factor stops at half full (open addressing).
        t.set_svc_lfactor(2);
        assert_eq!(t.index_size().0, 32);
        assert!((1..=10).all(|p| found(&t, p)));
        t.set_svc_lfactor(-8);
        assert_eq!(t.index_size().0, 4096);
        assert!((1..=10).all(|p| found(&t, p)) && !found(&t, 11));
        t.apply(cmd::FLUSH, None, None, &|_, _| true).unwrap();
        assert_eq!(t.index_size().0, 16);
        assert!(!found(&t, 1));
    }
}
