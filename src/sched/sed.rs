// SPDX-License-Identifier: GPL-2.0

//! Shortest expected delay (`ip_vs_sed.c`).

use super::{least_weighted, Algorithm, Client, DestLoad, Setup};
use crate::list::NoMem;

/// Stateless.
#[derive(Debug)]
pub(crate) struct ShortestExpectedDelay;

impl Algorithm for ShortestExpectedDelay {
    const NAME: &'static str = "sed";

    fn new(_: &[DestLoad], _: &Setup) -> Result<Self, NoMem> {
        Ok(Self)
    }

    fn schedule(&mut self, dests: &[DestLoad], _: &Client<'_>) -> Option<usize> {
        least_weighted(dests, |d| i64::from(d.active) + 1, false)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Kind;

    #[test]
    fn expected_delay() {
        let mut d = w(&[1, 4]);
        d[1].active = 2;
        // (0+1)/1 = 1 vs (2+1)/4 = 0.75 -> server 1.
        assert_eq!(make(Kind::Sed, &d).schedule(&d, &ANY), Some(1));
    }
}
