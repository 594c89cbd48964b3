// SPDX-License-Identifier: GPL-2.0

//! Weighted round robin (`ip_vs_wrr.c`).

use super::{gcd, Algorithm, Client, DestLoad, Setup};
use crate::list::NoMem;

/// Stock's `struct ip_vs_wrr_mark`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WeightedRoundRobin {
    /// The last server picked.
    cl: Option<usize>,
    /// Current weight.
    cw: i32,
    /// Maximum weight, less the gcd step.
    mw: i32,
    /// Decrease step: the gcd of the weights.
    di: i32,
}

impl WeightedRoundRobin {
    fn weights(dests: &[DestLoad]) -> (i32, i32) {
        let g = dests
            .iter()
            .filter(|d| d.weight > 0)
            .fold(0, |g, d| gcd(d.weight, g));
        let di = if g > 0 { g } else { 1 };
        let max = dests.iter().map(|d| d.weight).max().unwrap_or(0).max(0);
        (di, max - (di - 1))
    }

    /// `ip_vs_wrr_dest_changed`.
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
}

impl Algorithm for WeightedRoundRobin {
    const NAME: &'static str = "wrr";

    fn new(dests: &[DestLoad], _: &Setup) -> Result<Self, NoMem> {
        let (di, mw) = Self::weights(dests);
        Ok(Self {
            cl: None,
            cw: mw,
            mw,
            di,
        })
    }

    fn schedule(&mut self, dests: &[DestLoad], _: &Client<'_>) -> Option<usize> {
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

    fn dest_added(&mut self, _: usize, dests: &[DestLoad]) {
        self.changed(dests);
    }

    fn dest_removed(&mut self, _: usize, dests: &[DestLoad]) {
        self.changed(dests);
    }

    fn dest_updated(&mut self, dests: &[DestLoad]) {
        self.changed(dests);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Kind;

    #[test]
    fn stock_sequence() {
        // Weights 4, 3, 2: the classic interleaving, period 9.
        let d = w(&[4, 3, 2]);
        let mut s = make(Kind::Wrr, &d);
        let got: Vec<_> = run(&mut s, &d, 18)
            .into_iter()
            .map(Option::unwrap)
            .collect();
        let period = [0, 0, 1, 0, 1, 2, 0, 1, 2];
        assert_eq!(&got[..9], &period);
        assert_eq!(&got[9..], &period);
    }

    #[test]
    fn gcd_steps() {
        // Weights 4 and 2 (gcd 2): 2:1.
        let d = w(&[4, 2]);
        let mut s = make(Kind::Wrr, &d);
        let got: Vec<_> = run(&mut s, &d, 6).into_iter().map(Option::unwrap).collect();
        assert_eq!(got, [0, 0, 1, 0, 0, 1]);
    }

    #[test]
    fn nothing_available() {
        let d = w(&[0, 0]);
        let mut s = make(Kind::Wrr, &d);
        assert_eq!(s.schedule(&d, &ANY), None);
        let mut d = w(&[3, 1]);
        d[0].overloaded = true;
        d[1].overloaded = true;
        let mut s = make(Kind::Wrr, &d);
        assert_eq!(s.schedule(&d, &ANY), None);
        // Overload of one server leaves the other.
        d[1].overloaded = false;
        assert_eq!(run(&mut s, &d, 3), [Some(1), Some(1), Some(1)]);
    }
}
