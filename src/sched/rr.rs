// SPDX-License-Identifier: GPL-2.0

//! Round robin (`ip_vs_rr.c`).

use super::{Algorithm, Client, DestLoad, Setup};
use crate::list::NoMem;

/// The last server picked.
#[derive(Debug)]
pub(crate) struct RoundRobin {
    last: Option<usize>,
}

impl Algorithm for RoundRobin {
    const NAME: &'static str = "rr";

    fn new(_: &[DestLoad], _: &Setup) -> Result<Self, NoMem> {
        Ok(Self { last: None })
    }

    fn schedule(&mut self, dests: &[DestLoad], _: &Client<'_>) -> Option<usize> {
        // One full turn, starting after the last pick.
        let n = dests.len();
        let start = self.last.map_or(0, |l| l + 1);
        let pick = (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| dests[i].available());
        if pick.is_some() {
            self.last = pick;
        }
        pick
    }

    fn dest_added(&mut self, at: usize, _: &[DestLoad]) {
        if let Some(l) = self.last.as_mut() {
            if *l >= at {
                *l += 1;
            }
        }
    }

    fn dest_removed(&mut self, at: usize, _: &[DestLoad]) {
        // Stock moves the mark to the previous entry.
        if let Some(l) = self.last {
            if l >= at {
                self.last = l.checked_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Kind;

    #[test]
    fn cycles_and_skips_quiesced() {
        let d = w(&[1, 0, 5]);
        let mut s = make(Kind::Rr, &d);
        assert_eq!(
            run(&mut s, &d, 5),
            [Some(0), Some(2), Some(0), Some(2), Some(0)]
        );
        let none = w(&[0, 0]);
        let mut s = make(Kind::Rr, &none);
        assert_eq!(s.schedule(&none, &ANY), None);
    }

    #[test]
    fn follows_removals() {
        let mut d = w(&[1, 1, 1]);
        let mut s = make(Kind::Rr, &d);
        assert_eq!(run(&mut s, &d, 2), [Some(0), Some(1)]);
        d.remove(1);
        s.dest_removed(1, &d);
        // The mark moved back to 0; the next is the old third server.
        assert_eq!(s.schedule(&d, &ANY), Some(1));
    }
}
