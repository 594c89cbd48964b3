// SPDX-License-Identifier: GPL-2.0

//! Weighted overflow (`ip_vs_ovf.c`): the server of highest weight until
//! its active connections exceed its weight, then the next one.

use super::{Algorithm, Client, DestLoad, Setup};
use crate::list::NoMem;

/// Stateless.
#[derive(Debug)]
pub(crate) struct Overflow;

impl Algorithm for Overflow {
    const NAME: &'static str = "ovf";

    fn new(_: &[DestLoad], _: &Setup) -> Result<Self, NoMem> {
        Ok(Self)
    }

    fn schedule(&mut self, dests: &[DestLoad], _: &Client<'_>) -> Option<usize> {
        let mut best: Option<(usize, i32)> = None;
        for (i, d) in dests.iter().enumerate() {
            let w = d.weight;
            // Stock compares the signed count with the signed weight.
            if d.overloaded || i64::from(d.active) > i64::from(w) || w == 0 {
                continue;
            }
            if !matches!(best, Some((_, hw)) if w <= hw) {
                best = Some((i, w));
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
    fn overflows_in_weight_order() {
        let mut d = w(&[2, 3, 1]);
        let mut s = make(Kind::Ovf, &d);
        let mut got = Vec::new();
        for _ in 0..8 {
            let i = s.schedule(&d, &ANY);
            if let Some(i) = i {
                d[i].active += 1;
            }
            got.push(i);
        }
        // Up to weight + 1 active each (stock's `>`), heaviest first.
        let want = [1, 1, 1, 1, 0, 0, 0, 2];
        assert_eq!(
            got[..8].iter().map(|i| i.unwrap()).collect::<Vec<_>>(),
            want
        );
        d[2].active += 1;
        assert_eq!(s.schedule(&d, &ANY), None);
    }
}
