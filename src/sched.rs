// SPDX-License-Identifier: GPL-2.0

//! Schedulers: pick the real server for a new connection.
//!
//! Pure code, host-tested against the stock algorithms' sequences
//! (`net/netfilter/ipvs/ip_vs_{rr,wrr,lc,wlc,sed,nq,sh,mh}.c`). A service keeps
//! its real servers in a list, newest first as stock does, and hands the
//! scheduler a snapshot of their load ([`DestLoad`]); the scheduler answers
//! with an index into that list. Positions are list indexes; `None` is the
//! list head.

use crate::hash::{hsiphash_u32, SipKey};
use crate::list::List;

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
    /// Address (Maglev hashes it).
    pub(crate) addr: [u8; 16],
    /// Port, network order.
    pub(crate) port: [u8; 2],
}

impl DestLoad {
    fn available(&self) -> bool {
        !self.overloaded && self.weight > 0
    }

    /// Stock `ip_vs_dest_conn_overhead`: active connections cost 256 times
    /// more than inactive ones.
    fn overhead(&self) -> i64 {
        let inactive = self.total.saturating_sub(self.active);
        (i64::from(self.active) << 8) + i64::from(inactive)
    }
}

/// The scheduling algorithms, by `ipvsadm -s` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Round robin.
    Rr,
    /// Weighted round robin.
    Wrr,
    /// Least connections.
    Lc,
    /// Weighted least connections.
    Wlc,
    /// Shortest expected delay.
    Sed,
    /// Never queue.
    Nq,
    /// Source hashing.
    Sh,
    /// Maglev hashing.
    Mh,
}

impl Kind {
    /// The scheduler called `name`, if we have it.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "rr" => Kind::Rr,
            "wrr" => Kind::Wrr,
            "lc" => Kind::Lc,
            "wlc" => Kind::Wlc,
            "sed" => Kind::Sed,
            "nq" => Kind::Nq,
            "sh" => Kind::Sh,
            "mh" => Kind::Mh,
            _ => return None,
        })
    }

    /// Its name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Rr => "rr",
            Kind::Wrr => "wrr",
            Kind::Lc => "lc",
            Kind::Wlc => "wlc",
            Kind::Sed => "sed",
            Kind::Nq => "nq",
            Kind::Sh => "sh",
            Kind::Mh => "mh",
        }
    }
}

/// Weighted round robin position (stock `struct ip_vs_wrr_mark`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WrrMark {
    cl: Option<usize>,
    cw: i32,
    mw: i32,
    di: i32,
}

/// Per-service scheduler state.
#[derive(Debug)]
pub(crate) enum Scheduler {
    /// Round robin: the last server picked.
    Rr(Option<usize>),
    /// Weighted round robin.
    Wrr(WrrMark),
    /// Least connections (stateless).
    Lc,
    /// Weighted least connections (stateless).
    Wlc,
    /// Shortest expected delay (stateless).
    Sed,
    /// Never queue (stateless).
    Nq,
    /// Source hashing: which real server each of 256 buckets points at.
    Sh(List<Option<u16>>),
    /// Maglev hashing.
    Mh(Maglev),
}

/// What a hashing scheduler may look at of the client.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Client<'a> {
    /// Address family.
    pub(crate) af: u16,
    /// Client address (IPv4 in the first four bytes).
    pub(crate) addr: &'a [u8; 16],
    /// Client port, network order (0 when the protocol has none).
    pub(crate) port: [u8; 2],
    /// The service's `IP_VS_SVC_F_*` flags (`sh-fallback`, `sh-port`).
    pub(crate) svc_flags: u32,
}

/// `IP_VS_SVC_F_SCHED_SH_FALLBACK`.
const SH_FALLBACK: u32 = 0x0008;
/// `IP_VS_SVC_F_SCHED_SH_PORT`.
const SH_PORT: u32 = 0x0010;
const SH_TAB_BITS: u32 = 8;
const SH_TAB_SIZE: usize = 1 << SH_TAB_BITS;

/// The kernel's `hash_32`.
fn hash_32(val: u32, bits: u32) -> u32 {
    val.wrapping_mul(0x61C8_8647) >> (32 - bits)
}

/// `ip_vs_sh_hashkey`.
fn sh_hashkey(c: &Client<'_>, port: [u8; 2], offset: usize) -> usize {
    let w = |i: usize| u32::from_be_bytes([c.addr[i], c.addr[i + 1], c.addr[i + 2], c.addr[i + 3]]);
    let fold = if c.af == 10 {
        w(0) ^ w(4) ^ w(8) ^ w(12)
    } else {
        w(0)
    };
    let h = hash_32(
        u32::from(u16::from_be_bytes(port)).wrapping_add(fold),
        SH_TAB_BITS,
    );
    (offset + h as usize) & (SH_TAB_SIZE - 1)
}

/// `ip_vs_sh_reassign`: buckets go to the servers in list order, each
/// taking as many consecutive buckets as its weight (at least one).
/// On allocation failure the table stays empty (nothing scheduled until
/// the next change).
fn sh_assign(dests: &[DestLoad]) -> List<Option<u16>> {
    let mut t = List::new();
    let (mut p, mut count) = (0usize, 0i32);
    for _ in 0..SH_TAB_SIZE {
        let slot = if dests.is_empty() {
            None
        } else {
            u16::try_from(p).ok()
        };
        if t.push(slot).is_err() {
            return List::new();
        }
        if let Some(d) = dests.get(p) {
            count += 1;
            if count >= d.weight {
                p = (p + 1) % dests.len();
                count = 0;
            }
        }
    }
    t
}

fn sh_schedule(t: &[Option<u16>], dests: &[DestLoad], c: &Client<'_>) -> Option<usize> {
    let port = if c.svc_flags & SH_PORT != 0 {
        c.port
    } else {
        [0, 0]
    };
    let usable = |i: Option<u16>| {
        let i = usize::from(i?);
        dests.get(i).filter(|d| d.available()).map(|_| i)
    };
    let slot = |off: usize| t.get(sh_hashkey(c, port, off)).copied().flatten();
    let first = sh_hashkey(c, port, 0);
    slot(0)?;
    if c.svc_flags & SH_FALLBACK == 0 {
        return usable(slot(0));
    }
    // Walk the table from the bucket it should have been.
    (0..SH_TAB_SIZE)
        .map(|off| slot((off + first) % SH_TAB_SIZE))
        .take_while(Option::is_some)
        .find_map(usable)
}

fn gcd(a: i32, b: i32) -> i32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl WrrMark {
    fn weights(dests: &[DestLoad]) -> (i32, i32) {
        let g = dests
            .iter()
            .filter(|d| d.weight > 0)
            .fold(0, |g, d| gcd(d.weight, g));
        let di = if g > 0 { g } else { 1 };
        let max = dests.iter().map(|d| d.weight).max().unwrap_or(0).max(0);
        (di, max - (di - 1))
    }

    fn new(dests: &[DestLoad]) -> Self {
        let (di, mw) = Self::weights(dests);
        Self {
            cl: None,
            cw: mw,
            mw,
            di,
        }
    }

    fn changed(&mut self, dests: &[DestLoad]) {
        let (di, mw) = Self::weights(dests);
        self.cl = None;
        self.di = di;
        self.mw = mw;
        if self.cw > self.mw || self.cw == 0 {
            self.cw = self.mw;
        } else if self.di > 1 {
            self.cw = (self.cw / self.di) * self.di + 1;
        }
    }

    fn schedule(&mut self, dests: &[DestLoad]) -> Option<usize> {
        if self.mw == 0 {
            return None;
        }
        let last = self.cl;
        let mut stop: Option<usize> = None;
        let mut last_pass = false;
        let mut restarted = false;
        let mut pos = self.cl;
        loop {
            let from = pos.map_or(0, |p| p + 1);
            for (i, d) in dests.iter().enumerate().skip(from) {
                if !d.overloaded && d.weight >= self.cw {
                    self.cl = Some(i);
                    return Some(i);
                }
                if stop == Some(i) {
                    self.cl = Some(i);
                    return None;
                }
            }
            pos = None;
            self.cw -= self.di;
            if self.cw <= 0 {
                self.cw = self.mw;
                if last_pass || last.is_none() {
                    self.cl = None;
                    return None;
                }
                restarted = true;
            }
            last_pass = self.cw <= self.di;
            if last_pass && restarted && last.is_some() {
                stop = last;
            }
        }
    }
}

/// Least-loaded pick: the first available server minimising
/// `overhead / weight` (compared as cross products, as stock does).
/// `idle_wins` is never-queue's shortcut: a server without active
/// connections is taken at once.
fn least_weighted(
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

/// `IP_VS_SVC_F_SCHED_MH_FALLBACK` (same bit as sh's).
const MH_FALLBACK: u32 = SH_FALLBACK;
/// `IP_VS_SVC_F_SCHED_MH_PORT`.
const MH_PORT: u32 = SH_PORT;
/// Lookup table size: stock's default (`CONFIG_IP_VS_MH_TAB_INDEX` 12).
const MH_TAB_SIZE: usize = 4093;
/// `IP_VS_MH_TAB_BITS`.
const MH_TAB_BITS: u32 = 6;

/// `ip_vs_mh_hashkey`.
fn mh_hashkey(af: u16, addr: &[u8; 16], port: [u8; 2], key: [u64; 2], offset: u32) -> u32 {
    let w = |i: usize| u32::from_be_bytes([addr[i], addr[i + 1], addr[i + 2], addr[i + 3]]);
    let fold = if af == 10 {
        w(0) ^ w(4) ^ w(8) ^ w(12)
    } else {
        w(0)
    };
    let v = offset
        .wrapping_add(u32::from(u16::from_be_bytes(port)))
        .wrapping_add(fold);
    hsiphash_u32(v, &SipKey(key))
}

/// Maglev consistent hashing (`ip_vs_mh.c`): a lookup table of
/// [`MH_TAB_SIZE`] slots filled from each server's permutation, in
/// proportion to its weight.
#[derive(Debug)]
pub(crate) struct Maglev {
    af: u16,
    /// `hash1` (lookups, offsets) and `hash2` (skips).
    keys: [[u64; 2]; 2],
    table: List<Option<u16>>,
}

impl Maglev {
    fn new(af: u16, keys: [u64; 4], dests: &[DestLoad]) -> Self {
        let mut m = Self {
            af,
            keys: [[keys[0], keys[1]], [keys[2], keys[3]]],
            table: List::new(),
        };
        m.populate(dests);
        m
    }

    /// `ip_vs_mh_reassign`: rebuilds the table for `dests`.
    fn populate(&mut self, dests: &[DestLoad]) {
        let gcd_w = dests.iter().filter(|d| d.last_weight > 0).fold(0, |g, d| {
            if g > 0 {
                gcd(d.last_weight, g)
            } else {
                d.last_weight
            }
        });
        let mut table = List::new();
        for _ in 0..MH_TAB_SIZE {
            if table.push(None).is_err() {
                // No memory: no table, so no scheduling until the next change.
                self.table = List::new();
                return;
            }
        }
        if gcd_w < 1 {
            self.table = table;
            return;
        }
        let max_w = dests.iter().map(|d| d.last_weight).max().unwrap_or(0) / gcd_w;
        let fls = 32 - (max_w as u32).leading_zeros();
        let rshift = fls.saturating_sub(MH_TAB_BITS);
        struct Setup {
            perm: usize,
            skip: usize,
            turns: i32,
        }
        let size = MH_TAB_SIZE as u32;
        let mut setup: List<Setup> = List::new();
        for d in dests {
            let offset = mh_hashkey(self.af, &d.addr, d.port, self.keys[0], 0) % size;
            let skip = mh_hashkey(self.af, &d.addr, d.port, self.keys[1], 0) % (size - 1) + 1;
            let lw = d.last_weight;
            let turns = match (lw / gcd_w) >> rshift {
                0 => i32::from(lw != 0),
                t => t,
            };
            if setup
                .push(Setup {
                    perm: offset as usize,
                    skip: skip as usize,
                    turns,
                })
                .is_err()
            {
                self.table = List::new();
                return;
            }
        }
        let mut used = [0u64; MH_TAB_SIZE.div_ceil(64)];
        let (mut n, mut dt) = (0, 0);
        'fill: loop {
            let mut i = 0;
            while i < setup.len() {
                let ds = &mut setup[i];
                if ds.turns < 1 {
                    i += 1;
                    continue;
                }
                while used[ds.perm / 64] & (1 << (ds.perm % 64)) != 0 {
                    ds.perm = (ds.perm + ds.skip) % MH_TAB_SIZE;
                }
                used[ds.perm / 64] |= 1 << (ds.perm % 64);
                table[ds.perm] = u16::try_from(i).ok();
                n += 1;
                if n == MH_TAB_SIZE {
                    break 'fill;
                }
                dt += 1;
                if dt >= ds.turns {
                    dt = 0;
                    i += 1;
                }
            }
        }
        self.table = table;
    }

    fn schedule(&self, dests: &[DestLoad], c: &Client<'_>) -> Option<usize> {
        let port = if c.svc_flags & MH_PORT != 0 {
            c.port
        } else {
            [0, 0]
        };
        let size = MH_TAB_SIZE as u32;
        let slot = |off: u32| {
            let h = mh_hashkey(self.af, c.addr, port, self.keys[0], off) % size;
            self.table.get(h as usize).copied().flatten()
        };
        let usable = |i: u16| {
            let i = usize::from(i);
            dests.get(i).filter(|d| d.available()).map(|_| i)
        };
        let first = slot(0)?;
        if c.svc_flags & MH_FALLBACK == 0 {
            return usable(first);
        }
        if let Some(i) = usable(first) {
            return Some(i);
        }
        let ihash = mh_hashkey(self.af, c.addr, port, self.keys[0], 0) % size;
        (0..size)
            .map(|off| slot((off + ihash) % size))
            .take_while(Option::is_some)
            .find_map(|i| usable(i?))
    }
}

impl Scheduler {
    /// Fresh state for `kind` over `dests` of an IPv4 service, with
    /// all-zero hash keys.
    #[cfg(test)]
    pub(crate) fn new(kind: Kind, dests: &[DestLoad]) -> Self {
        Self::with_keys(kind, dests, 2, [0; 4])
    }

    /// Fresh state for `kind` over `dests` of an `af` service; `keys`
    /// seed the hashing schedulers that want secret keys (Maglev).
    pub(crate) fn with_keys(kind: Kind, dests: &[DestLoad], af: u16, keys: [u64; 4]) -> Self {
        match kind {
            Kind::Rr => Scheduler::Rr(None),
            Kind::Wrr => Scheduler::Wrr(WrrMark::new(dests)),
            Kind::Lc => Scheduler::Lc,
            Kind::Wlc => Scheduler::Wlc,
            Kind::Sed => Scheduler::Sed,
            Kind::Nq => Scheduler::Nq,
            Kind::Sh => Scheduler::Sh(sh_assign(dests)),
            Kind::Mh => Scheduler::Mh(Maglev::new(af, keys, dests)),
        }
    }

    /// The algorithm.
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Scheduler::Rr(_) => Kind::Rr,
            Scheduler::Wrr(_) => Kind::Wrr,
            Scheduler::Lc => Kind::Lc,
            Scheduler::Wlc => Kind::Wlc,
            Scheduler::Sed => Kind::Sed,
            Scheduler::Nq => Kind::Nq,
            Scheduler::Sh(_) => Kind::Sh,
            Scheduler::Mh(_) => Kind::Mh,
        }
    }

    /// Picks a server for a new connection from `client`; `None` if none
    /// is available.
    pub(crate) fn schedule(&mut self, dests: &[DestLoad], client: &Client<'_>) -> Option<usize> {
        match self {
            Scheduler::Rr(last) => {
                // One full turn, starting after the last pick.
                let n = dests.len();
                let start = last.map_or(0, |l| l + 1);
                let pick = (0..n)
                    .map(|k| (start + k) % n)
                    .find(|&i| dests[i].available());
                if pick.is_some() {
                    *last = pick;
                }
                pick
            }
            Scheduler::Wrr(mark) => mark.schedule(dests),
            Scheduler::Lc => {
                let mut least: Option<(usize, i64)> = None;
                for (i, d) in dests.iter().enumerate() {
                    if !d.available() {
                        continue;
                    }
                    let doh = d.overhead();
                    if !matches!(least, Some((_, loh)) if doh >= loh) {
                        least = Some((i, doh));
                    }
                }
                least.map(|(i, _)| i)
            }
            Scheduler::Wlc => least_weighted(dests, DestLoad::overhead, false),
            Scheduler::Sed => least_weighted(dests, |d| i64::from(d.active) + 1, false),
            Scheduler::Nq => least_weighted(dests, |d| i64::from(d.active) + 1, true),
            Scheduler::Sh(t) => sh_schedule(t, dests, client),
            Scheduler::Mh(m) => m.schedule(dests, client),
        }
    }

    /// A server was inserted at index `at` (stock inserts at the head).
    pub(crate) fn dest_added(&mut self, at: usize, dests: &[DestLoad]) {
        match self {
            Scheduler::Rr(Some(l)) if *l >= at => *l += 1,
            Scheduler::Wrr(m) => m.changed(dests),
            Scheduler::Sh(t) => *t = sh_assign(dests),
            Scheduler::Mh(m) => m.populate(dests),
            _ => {}
        }
    }

    /// The server at index `at` was removed.
    pub(crate) fn dest_removed(&mut self, at: usize, dests: &[DestLoad]) {
        match self {
            // Stock moves the mark to the previous entry.
            Scheduler::Rr(last) => {
                if let Some(l) = *last {
                    if l >= at {
                        *last = l.checked_sub(1);
                    }
                }
            }
            Scheduler::Wrr(m) => m.changed(dests),
            Scheduler::Sh(t) => *t = sh_assign(dests),
            Scheduler::Mh(m) => m.populate(dests),
            _ => {}
        }
    }

    /// A server's weight or thresholds changed.
    pub(crate) fn dest_updated(&mut self, dests: &[DestLoad]) {
        match self {
            Scheduler::Wrr(m) => m.changed(dests),
            Scheduler::Sh(t) => *t = sh_assign(dests),
            Scheduler::Mh(m) => m.populate(dests),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(weights: &[i32]) -> Vec<DestLoad> {
        weights
            .iter()
            .map(|&weight| DestLoad {
                weight,
                ..Default::default()
            })
            .collect()
    }

    const ANY: Client<'static> = Client {
        af: 2,
        addr: &[10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        port: [0xc3, 0x50],
        svc_flags: 0,
    };

    fn run(s: &mut Scheduler, d: &[DestLoad], n: usize) -> Vec<Option<usize>> {
        (0..n).map(|_| s.schedule(d, &ANY)).collect()
    }

    #[test]
    fn names_round_trip() {
        for k in [
            Kind::Rr,
            Kind::Wrr,
            Kind::Lc,
            Kind::Wlc,
            Kind::Sed,
            Kind::Nq,
        ] {
            assert_eq!(Kind::from_name(k.name()), Some(k));
        }
        assert_eq!(Kind::from_name("nope"), None);
    }

    #[test]
    fn rr_cycles_and_skips_quiesced() {
        let d = w(&[1, 0, 5]);
        let mut s = Scheduler::new(Kind::Rr, &d);
        assert_eq!(
            run(&mut s, &d, 5),
            [Some(0), Some(2), Some(0), Some(2), Some(0)]
        );
        let none = w(&[0, 0]);
        let mut s = Scheduler::new(Kind::Rr, &none);
        assert_eq!(s.schedule(&none, &ANY), None);
        assert_eq!(Scheduler::new(Kind::Rr, &[]).schedule(&[], &ANY), None);
    }

    #[test]
    fn rr_follows_removals() {
        let mut d = w(&[1, 1, 1]);
        let mut s = Scheduler::new(Kind::Rr, &d);
        assert_eq!(run(&mut s, &d, 2), [Some(0), Some(1)]);
        d.remove(1);
        s.dest_removed(1, &d);
        // The mark moved back to 0; the next is the old third server.
        assert_eq!(s.schedule(&d, &ANY), Some(1));
    }

    #[test]
    fn wrr_stock_sequence() {
        // Weights 4, 3, 2: the classic interleaving, period 9.
        let d = w(&[4, 3, 2]);
        let mut s = Scheduler::new(Kind::Wrr, &d);
        let got: Vec<_> = run(&mut s, &d, 18)
            .into_iter()
            .map(Option::unwrap)
            .collect();
        let period = [0, 0, 1, 0, 1, 2, 0, 1, 2];
        assert_eq!(&got[..9], &period);
        assert_eq!(&got[9..], &period);
    }

    #[test]
    fn wrr_gcd_steps() {
        // Weights 4 and 2 (gcd 2): 2:1.
        let d = w(&[4, 2]);
        let mut s = Scheduler::new(Kind::Wrr, &d);
        let got: Vec<_> = run(&mut s, &d, 6).into_iter().map(Option::unwrap).collect();
        assert_eq!(got, [0, 0, 1, 0, 0, 1]);
    }

    #[test]
    fn wrr_nothing_available() {
        let d = w(&[0, 0]);
        let mut s = Scheduler::new(Kind::Wrr, &d);
        assert_eq!(s.schedule(&d, &ANY), None);
        let mut d = w(&[3, 1]);
        d[0].overloaded = true;
        d[1].overloaded = true;
        let mut s = Scheduler::new(Kind::Wrr, &d);
        assert_eq!(s.schedule(&d, &ANY), None);
        // Overload of one server leaves the other.
        d[1].overloaded = false;
        assert_eq!(run(&mut s, &d, 3), [Some(1), Some(1), Some(1)]);
    }

    #[test]
    fn lc_prefers_fewest_connections() {
        let mut d = w(&[1, 1, 1]);
        d[0].active = 2;
        d[0].total = 2;
        d[1].total = 5; // inactive only
        d[2].active = 1;
        d[2].total = 1;
        let mut s = Scheduler::new(Kind::Lc, &d);
        assert_eq!(s.schedule(&d, &ANY), Some(1));
        d[1].weight = 0;
        assert_eq!(s.schedule(&d, &ANY), Some(2));
    }

    #[test]
    fn overhead_counts_inactive_apart() {
        // Stock: one active connection weighs as much as 256 inactive
        // ones, not 257; ties keep the first.
        let mut d = w(&[1, 1]);
        d[0].active = 1;
        d[0].total = 1;
        d[1].total = 256;
        assert_eq!(Scheduler::new(Kind::Lc, &d).schedule(&d, &ANY), Some(0));
    }

    #[test]
    fn wlc_divides_by_weight() {
        let mut d = w(&[1, 3]);
        d[0].active = 1;
        d[0].total = 1;
        d[1].active = 2;
        d[1].total = 2;
        // 257/1 vs 514/3: the heavier server wins.
        assert_eq!(Scheduler::new(Kind::Wlc, &d).schedule(&d, &ANY), Some(1));
        // Ties keep the first.
        let e = w(&[2, 2]);
        assert_eq!(Scheduler::new(Kind::Wlc, &e).schedule(&e, &ANY), Some(0));
    }

    #[test]
    fn sed_and_nq() {
        let mut d = w(&[1, 4]);
        d[0].active = 0;
        d[1].active = 2;
        // sed: (0+1)/1 = 1 vs (2+1)/4 = 0.75 -> server 1.
        assert_eq!(Scheduler::new(Kind::Sed, &d).schedule(&d, &ANY), Some(1));
        // nq: server 0 is idle -> taken at once.
        assert_eq!(Scheduler::new(Kind::Nq, &d).schedule(&d, &ANY), Some(0));
        d[0].active = 1;
        assert_eq!(Scheduler::new(Kind::Nq, &d).schedule(&d, &ANY), Some(1));
    }

    #[test]
    fn distribution_follows_weights_under_load() {
        // Simulated service: wlc with connections that never end spreads
        // new connections in proportion to the weights.
        let mut d = w(&[1, 2, 3]);
        let mut s = Scheduler::new(Kind::Wlc, &d);
        for _ in 0..600 {
            let i = s.schedule(&d, &ANY).unwrap();
            d[i].active += 1;
            d[i].total += 1;
        }
        assert_eq!([d[0].active, d[1].active, d[2].active], [100, 200, 300]);
    }

    #[test]
    fn sh_fills_buckets_by_weight() {
        let t = sh_assign(&w(&[1, 1, 1]));
        assert!(t
            .iter()
            .enumerate()
            .all(|(i, b)| *b == Some((i % 3) as u16)));
        let t = sh_assign(&w(&[2, 1]));
        assert_eq!(
            &t[..6],
            &[Some(0), Some(0), Some(1), Some(0), Some(0), Some(1)]
        );
        // Weight 0 still takes one bucket, as stock.
        let t = sh_assign(&w(&[0, 1]));
        assert_eq!(&t[..3], &[Some(0), Some(1), Some(0)]);
        let empty = sh_assign(&[]);
        assert_eq!(empty.len(), SH_TAB_SIZE);
        assert!(empty.iter().all(Option::is_none));
    }

    #[test]
    fn sh_hashes_like_stock() {
        // hash_32(ntohl(10.0.0.2), 8), and with port 50000 added; values
        // computed from the kernel's formula separately.
        assert_eq!(sh_hashkey(&ANY, [0, 0], 0), 137);
        assert_eq!(sh_hashkey(&ANY, ANY.port, 0), 214);
        assert_eq!(sh_hashkey(&ANY, [0, 0], 200), (137 + 200) & 255);
    }

    #[test]
    fn sh_sticks_and_falls_back() {
        let d = w(&[1, 1, 1]);
        let mut s = Scheduler::new(Kind::Sh, &d);
        // Bucket 137 -> server 137 % 3 = 2, every time.
        assert_eq!(run(&mut s, &d, 3), vec![Some(2); 3]);
        let other = Client {
            addr: &[10, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ..ANY
        };
        assert_eq!(
            s.schedule(&d, &other),
            Some(sh_hashkey(&other, [0, 0], 0) % 3)
        );
        // sh-port: the port joins the hash (bucket 214 -> server 1).
        let port = Client {
            svc_flags: SH_PORT,
            ..ANY
        };
        assert_eq!(s.schedule(&d, &port), Some(1));
        // Quiesced target: nothing, unless sh-fallback walks on.
        let q = w(&[1, 1, 0]);
        s.dest_updated(&q);
        assert_eq!(s.schedule(&q, &ANY), None);
        let fb = Client {
            svc_flags: SH_FALLBACK,
            ..ANY
        };
        let got = s.schedule(&q, &fb).unwrap();
        assert_ne!(got, 2);
    }

    fn servers(weights: &[i32]) -> Vec<DestLoad> {
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

    fn owners(m: &Maglev) -> Vec<usize> {
        let mut n = vec![0; 4];
        for s in m.table.iter() {
            n[usize::from(s.unwrap())] += 1;
        }
        n
    }

    #[test]
    fn maglev_fills_by_weight_and_stays_consistent() {
        let keys = [1, 2, 3, 4];
        let d = servers(&[1, 1, 2, 0]);
        let m = Maglev::new(2, keys, &d);
        assert_eq!(m.table.len(), MH_TAB_SIZE);
        let n = owners(&m);
        // Weight 0 (never weighted) gets nothing; the rest by weight.
        assert_eq!(n[3], 0);
        assert!((n[2] as i32 - 2 * n[0] as i32).abs() < 40, "{n:?}");
        assert!((n[0] as i32 - n[1] as i32).abs() < 40, "{n:?}");
        // Removing a server moves (almost) only the slots it had.
        let three = servers(&[1, 1, 2]);
        let mut two = three.clone();
        two.remove(1);
        let (m3, m2) = (Maglev::new(2, keys, &three), Maglev::new(2, keys, &two));
        let owner = |d: &[DestLoad], s: &Option<u16>| d[usize::from(s.unwrap())].addr;
        let moved = m3
            .table
            .iter()
            .zip(m2.table.iter())
            .filter(|(a, b)| {
                owner(&three, a) != three[1].addr && owner(&three, a) != owner(&two, b)
            })
            .count();
        assert!(moved < MH_TAB_SIZE / 10, "{moved} slots moved");
    }

    #[test]
    fn maglev_schedules_one_client_to_one_server() {
        let d = servers(&[1, 1, 1]);
        let mut s = Scheduler::with_keys(Kind::Mh, &d, 2, [5, 6, 7, 8]);
        let first = s.schedule(&d, &ANY).unwrap();
        assert_eq!(run(&mut s, &d, 5), vec![Some(first); 5]);
        // Quiesced: nothing without fallback, another server with it.
        let mut q = d.clone();
        q[first].weight = 0;
        s.dest_updated(&q);
        assert_eq!(s.schedule(&q, &ANY), None);
        let fb = Client {
            svc_flags: MH_FALLBACK,
            ..ANY
        };
        let other = s.schedule(&q, &fb).unwrap();
        assert_ne!(other, first);
        // Many clients spread over all three.
        let mut hit = [0; 3];
        for i in 0..300u32 {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&(0x0a00_0000 + i).to_be_bytes());
            let c = Client { addr: &a, ..ANY };
            hit[s.schedule(&d, &c).unwrap()] += 1;
        }
        assert!(hit.iter().all(|&h| h > 50), "{hit:?}");
    }
}
