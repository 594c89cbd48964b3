// SPDX-License-Identifier: GPL-2.0

//! Weighted failover (`ip_vs_fo.c`): everything to the available server
//! of highest weight (the first of equals).

use super::{Algorithm, Client, DestLoad, Setup};
use crate::list::NoMem;

/// Stateless.
#[derive(Debug)]
pub(crate) struct Failover;

impl Algorithm for Failover {
    const NAME: &'static str = "fo";

    fn new(_: &[DestLoad], _: &Setup) -> Result<Self, NoMem> {
        Ok(Self)
    }

    fn schedule(&mut self, dests: &[DestLoad], _: &Client<'_>) -> Option<usize> {
        let mut best: Option<(usize, i32)> = None;
        for (i, d) in dests.iter().enumerate() {
            if !d.overloaded && d.weight > best.map_or(0, |(_, w)| w) {
                best = Some((i, d.weight));
            }
        }
        best.map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Kind;

    #[test]
    fn highest_weight_then_the_next() {
        let mut d = w(&[1, 3, 3, 2]);
        let mut s = make(Kind::Fo, &d);
        assert_eq!(run(&mut s, &d, 3), vec![Some(1); 3]);
        d[1].overloaded = true;
        assert_eq!(s.schedule(&d, &ANY), Some(2));
        d[2].weight = 0;
        assert_eq!(s.schedule(&d, &ANY), Some(3));
        // Load does not matter.
        d[3].active = 1000;
        assert_eq!(s.schedule(&d, &ANY), Some(3));
    }
}
