// SPDX-License-Identifier: GPL-2.0

//! Least connections (`ip_vs_lc.c`).

use super::{Algorithm, Client, DestLoad, Setup};
use crate::list::NoMem;

/// Stateless.
#[derive(Debug)]
pub(crate) struct LeastConnection;

impl Algorithm for LeastConnection {
    const NAME: &'static str = "lc";

    fn new(_: &[DestLoad], _: &Setup) -> Result<Self, NoMem> {
        Ok(Self)
    }

    fn schedule(&mut self, dests: &[DestLoad], _: &Client<'_>) -> Option<usize> {
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
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Kind;

    #[test]
    fn prefers_fewest_connections() {
        let mut d = w(&[1, 1, 1]);
        d[0].active = 2;
        d[0].total = 2;
        d[1].total = 5; // inactive only
        d[2].active = 1;
        d[2].total = 1;
        let mut s = make(Kind::Lc, &d);
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
        assert_eq!(make(Kind::Lc, &d).schedule(&d, &ANY), Some(0));
    }
}
