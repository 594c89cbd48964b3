// SPDX-License-Identifier: GPL-2.0

//! Weighted random twos choice (`ip_vs_twos.c`): two servers drawn at
//! random in proportion to their weights; the less loaded one wins.

use super::{random_below, Algorithm, Client, DestLoad, Setup};
use crate::list::NoMem;

/// Stateless.
#[derive(Debug)]
pub(crate) struct TwoChoices;

impl Algorithm for TwoChoices {
    const NAME: &'static str = "twos";

    fn new(_: &[DestLoad], _: &Setup) -> Result<Self, NoMem> {
        Ok(Self)
    }

    fn schedule(&mut self, dests: &[DestLoad], c: &Client<'_>) -> Option<usize> {
        let total: i64 = dests
            .iter()
            .filter(|d| d.available())
            .map(|d| i64::from(d.weight))
            .sum();
        if total == 0 {
            return None;
        }
        // Draws in 0..=total, as stock (its `total_weight + 1`).
        let ceil = u32::try_from(total + 1).unwrap_or(u32::MAX);
        let mut r1 = i64::from(random_below(c.env, ceil));
        let mut r2 = i64::from(random_below(c.env, ceil));
        let (mut one, mut two) = (None, None);
        for (i, d) in dests.iter().enumerate() {
            if !d.available() {
                continue;
            }
            r1 -= i64::from(d.weight);
            r2 -= i64::from(d.weight);
            if r1 <= 0 && one.is_none() {
                one = Some(i);
            }
            if r2 <= 0 && two.is_none() {
                two = Some(i);
            }
            if one.is_some() && two.is_some() {
                break;
            }
        }
        let (one, two) = (one?, two?);
        let (d1, d2) = (&dests[one], &dests[two]);
        // overhead1 / weight1 > overhead2 / weight2: the second.
        let second = i64::from(d2.weight) * d1.overhead() > i64::from(d1.weight) * d2.overhead();
        Some(if second { two } else { one })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Client, Kind};

    #[test]
    fn spreads_by_weight_and_load() {
        let env = FakeEnv::new();
        let c = Client { env: &env, ..ANY };
        let d = w(&[1, 0, 3]);
        let mut s = make(Kind::Twos, &d);
        let mut hit = [0; 3];
        for _ in 0..4000 {
            hit[s.schedule(&d, &c).unwrap()] += 1;
        }
        // Without load the first draw wins: shares follow the weights,
        // but draws run 0..=total, so the first server gets one share
        // more (2/5 here), as stock.
        assert_eq!(hit[1], 0);
        assert!((1400..1800).contains(&hit[0]), "{hit:?}");
        // Under load (connections that stay), load evens out by weight.
        let mut d = w(&[1, 1, 2]);
        for _ in 0..4000 {
            let i = s.schedule(&d, &c).unwrap();
            d[i].active += 1;
            d[i].total += 1;
        }
        let a: Vec<u32> = d.iter().map(|d| d.active).collect();
        assert!(
            a[0].abs_diff(1000) < 60 && a[2].abs_diff(2000) < 120,
            "{a:?}"
        );
        assert_eq!(s.schedule(&w(&[0, 0]), &c), None);
    }
}
