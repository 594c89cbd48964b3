// SPDX-License-Identifier: GPL-2.0

//! Destination hashing (`ip_vs_dh.c`): 256 buckets dealt to the real
//! servers in turn, taken by the hash of the packet's destination
//! address. Weights only quiesce (0); there is no fallback.

use super::{fold, hash_32, Algorithm, Client, DestLoad, Setup};
use crate::list::NoMem;

const TAB_BITS: u32 = 8;

/// Stock deals bucket `i` to server `i mod n`, so the bucket's server
/// is computed, not stored.
#[derive(Debug)]
pub(crate) struct DestinationHashing;

/// `ip_vs_dh_hashkey`.
fn hashkey(af: u16, addr: &[u8; 16]) -> u32 {
    hash_32(fold(af, addr), TAB_BITS)
}

impl Algorithm for DestinationHashing {
    const NAME: &'static str = "dh";

    fn new(_: &[DestLoad], _: &Setup) -> Result<Self, NoMem> {
        Ok(Self)
    }

    fn schedule(&mut self, dests: &[DestLoad], c: &Client<'_>) -> Option<usize> {
        if dests.is_empty() {
            return None;
        }
        // `ip_vs_dh_reassign` deals the buckets in list order (with more
        // than 256 servers, the first ones only).
        let i = hashkey(c.af, c.daddr) as usize % dests.len();
        dests[i].available().then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Client, Kind};
    use super::*;

    #[test]
    fn hashes_the_destination_like_stock() {
        // hash_32(0x0a000064, 8): 10.0.0.100.
        assert_eq!(
            hashkey(2, &VIP),
            0x0a00_0064u32.wrapping_mul(0x61C8_8647) >> 24
        );
        let d = w(&[1, 1, 1]);
        let mut s = make(Kind::Dh, &d);
        let want = hashkey(2, &VIP) as usize % 3;
        // Every client of one destination: one server.
        for last in 1..50u8 {
            let mut a = CLIENT_ADDR;
            a[3] = last;
            let c = Client { addr: &a, ..ANY };
            assert_eq!(s.schedule(&d, &c), Some(want));
        }
        // Destinations spread.
        let mut hit = [0; 3];
        for last in 0..=255u8 {
            let mut v = VIP;
            v[3] = last;
            let c = Client { daddr: &v, ..ANY };
            hit[s.schedule(&d, &c).unwrap()] += 1;
        }
        assert!(hit.iter().all(|&h| h > 60), "{hit:?}");
    }

    #[test]
    fn weights_only_quiesce() {
        let d = w(&[1, 100, 1]);
        let mut s = make(Kind::Dh, &d);
        let i = hashkey(2, &VIP) as usize % 3;
        assert_eq!(s.schedule(&d, &ANY), Some(i));
        let mut q = d.clone();
        q[i].weight = 0;
        assert_eq!(s.schedule(&q, &ANY), None);
        q[i].weight = 1;
        q[i].overloaded = true;
        assert_eq!(s.schedule(&q, &ANY), None);
    }
}
