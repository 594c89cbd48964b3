// SPDX-License-Identifier: GPL-2.0

//! Schedulers: pick the real server for a new connection.
//!
//! Pure code, host-tested against the stock algorithms' sequences
//! (`net/netfilter/ipvs/ip_vs_{rr,wrr,lc,wlc,sed,nq}.c`). A service keeps
//! its real servers in a list, newest first as stock does, and hands the
//! scheduler a snapshot of their load ([`DestLoad`]); the scheduler answers
//! with an index into that list. Positions are list indexes; `None` is the
//! list head.

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
}

impl DestLoad {
    fn available(&self) -> bool {
        !self.overloaded && self.weight > 0
    }

    /// Stock `ip_vs_dest_conn_overhead`: active connections cost 256 times
    /// more than the rest.
    fn overhead(&self) -> i64 {
        (i64::from(self.active) << 8) + i64::from(self.total)
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
#[derive(Clone, Debug, PartialEq, Eq)]
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

impl Scheduler {
    /// Fresh state for `kind` over `dests`.
    pub(crate) fn new(kind: Kind, dests: &[DestLoad]) -> Self {
        match kind {
            Kind::Rr => Scheduler::Rr(None),
            Kind::Wrr => Scheduler::Wrr(WrrMark::new(dests)),
            Kind::Lc => Scheduler::Lc,
            Kind::Wlc => Scheduler::Wlc,
            Kind::Sed => Scheduler::Sed,
            Kind::Nq => Scheduler::Nq,
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
        }
    }

    /// Picks a server for a new connection; `None` if none is available.
    pub(crate) fn schedule(&mut self, dests: &[DestLoad]) -> Option<usize> {
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
        }
    }

    /// A server was inserted at index `at` (stock inserts at the head).
    pub(crate) fn dest_added(&mut self, at: usize, dests: &[DestLoad]) {
        match self {
            Scheduler::Rr(Some(l)) if *l >= at => *l += 1,
            Scheduler::Wrr(m) => m.changed(dests),
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
            _ => {}
        }
    }

    /// A server's weight or thresholds changed.
    pub(crate) fn dest_updated(&mut self, dests: &[DestLoad]) {
        if let Scheduler::Wrr(m) = self {
            m.changed(dests)
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

    fn run(s: &mut Scheduler, d: &[DestLoad], n: usize) -> Vec<Option<usize>> {
        (0..n).map(|_| s.schedule(d)).collect()
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
        assert_eq!(s.schedule(&none), None);
        assert_eq!(Scheduler::new(Kind::Rr, &[]).schedule(&[]), None);
    }

    #[test]
    fn rr_follows_removals() {
        let mut d = w(&[1, 1, 1]);
        let mut s = Scheduler::new(Kind::Rr, &d);
        assert_eq!(run(&mut s, &d, 2), [Some(0), Some(1)]);
        d.remove(1);
        s.dest_removed(1, &d);
        // The mark moved back to 0; the next is the old third server.
        assert_eq!(s.schedule(&d), Some(1));
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
        assert_eq!(s.schedule(&d), None);
        let mut d = w(&[3, 1]);
        d[0].overloaded = true;
        d[1].overloaded = true;
        let mut s = Scheduler::new(Kind::Wrr, &d);
        assert_eq!(s.schedule(&d), None);
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
        assert_eq!(s.schedule(&d), Some(1));
        d[1].weight = 0;
        assert_eq!(s.schedule(&d), Some(2));
    }

    #[test]
    fn wlc_divides_by_weight() {
        let mut d = w(&[1, 3]);
        d[0].active = 1;
        d[0].total = 1;
        d[1].active = 2;
        d[1].total = 2;
        // 257/1 vs 514/3: the heavier server wins.
        assert_eq!(Scheduler::new(Kind::Wlc, &d).schedule(&d), Some(1));
        // Ties keep the first.
        let e = w(&[2, 2]);
        assert_eq!(Scheduler::new(Kind::Wlc, &e).schedule(&e), Some(0));
    }

    #[test]
    fn sed_and_nq() {
        let mut d = w(&[1, 4]);
        d[0].active = 0;
        d[1].active = 2;
        // sed: (0+1)/1 = 1 vs (2+1)/4 = 0.75 -> server 1.
        assert_eq!(Scheduler::new(Kind::Sed, &d).schedule(&d), Some(1));
        // nq: server 0 is idle -> taken at once.
        assert_eq!(Scheduler::new(Kind::Nq, &d).schedule(&d), Some(0));
        d[0].active = 1;
        assert_eq!(Scheduler::new(Kind::Nq, &d).schedule(&d), Some(1));
    }

    #[test]
    fn distribution_follows_weights_under_load() {
        // Simulated service: wlc with connections that never end spreads
        // new connections in proportion to the weights.
        let mut d = w(&[1, 2, 3]);
        let mut s = Scheduler::new(Kind::Wlc, &d);
        for _ in 0..600 {
            let i = s.schedule(&d).unwrap();
            d[i].active += 1;
            d[i].total += 1;
        }
        assert_eq!([d[0].active, d[1].active, d[2].active], [100, 200, 300]);
    }
}
