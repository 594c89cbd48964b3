// SPDX-License-Identifier: GPL-2.0

//! Weighted least connections (`ip_vs_wlc.c`).

use super::{least_weighted, Algorithm, Client, DestLoad, Setup};
use crate::list::NoMem;

/// Stateless.
#[derive(Debug)]
pub(crate) struct WeightedLeastConnection;

impl Algorithm for WeightedLeastConnection {
    const NAME: &'static str = "wlc";

    fn new(_: &[DestLoad], _: &Setup) -> Result<Self, NoMem> {
        Ok(Self)
    }

    fn schedule(&mut self, dests: &[DestLoad], _: &Client<'_>) -> Option<usize> {
        least_weighted(dests, DestLoad::overhead, false)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Kind;

    #[test]
    fn divides_by_weight() {
        let mut d = w(&[1, 3]);
        d[0].active = 1;
        d[0].total = 1;
        d[1].active = 2;
        d[1].total = 2;
        // 257/1 vs 514/3: the heavier server wins.
        assert_eq!(make(Kind::Wlc, &d).schedule(&d, &ANY), Some(1));
        // Ties keep the first.
        let e = w(&[2, 2]);
        assert_eq!(make(Kind::Wlc, &e).schedule(&e, &ANY), Some(0));
    }

    #[test]
    fn distribution_follows_weights_under_load() {
        // Connections that never end: new ones spread by weight.
        let mut d = w(&[1, 2, 3]);
        let mut s = make(Kind::Wlc, &d);
        for _ in 0..600 {
            let i = s.schedule(&d, &ANY).unwrap();
            d[i].active += 1;
            d[i].total += 1;
        }
        assert_eq!([d[0].active, d[1].active, d[2].active], [100, 200, 300]);
    }
}
