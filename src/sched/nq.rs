// SPDX-License-Identifier: GPL-2.0

//! Never queue (`ip_vs_nq.c`): an idle server at once, else the shortest
//! expected delay.

use super::{least_weighted, Algorithm, Client, DestLoad, Setup};
use crate::list::NoMem;

/// Stateless.
#[derive(Debug)]
pub(crate) struct NeverQueue;

impl Algorithm for NeverQueue {
    const NAME: &'static str = "nq";

    fn new(_: &[DestLoad], _: &Setup) -> Result<Self, NoMem> {
        Ok(Self)
    }

    fn schedule(&mut self, dests: &[DestLoad], _: &Client<'_>) -> Option<usize> {
        least_weighted(dests, |d| i64::from(d.active) + 1, true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Kind;

    #[test]
    fn idle_first() {
        let mut d = w(&[1, 4]);
        d[1].active = 2;
        // Server 0 is idle: taken at once.
        assert_eq!(make(Kind::Nq, &d).schedule(&d, &ANY), Some(0));
        d[0].active = 1;
        assert_eq!(make(Kind::Nq, &d).schedule(&d, &ANY), Some(1));
    }
}
