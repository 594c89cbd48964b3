// SPDX-License-Identifier: GPL-2.0

//! Maglev consistent hashing (`ip_vs_mh.c`): a lookup table of
//! [`TAB_SIZE`] slots filled from each server's permutation, in
//! proportion to its weight.

use super::sh::{SH_FALLBACK, SH_PORT};
use super::{fold, gcd, Algorithm, Client, DestLoad, Setup};
use crate::hash::{hsiphash_u32, SipKey};
use crate::list::{List, NoMem};

/// `IP_VS_SVC_F_SCHED_MH_FALLBACK` (same bit as sh's).
const MH_FALLBACK: u32 = SH_FALLBACK;
/// `IP_VS_SVC_F_SCHED_MH_PORT`.
const MH_PORT: u32 = SH_PORT;
/// Lookup table size: stock's default (`CONFIG_IP_VS_MH_TAB_INDEX` 12).
const TAB_SIZE: usize = 4093;
/// `IP_VS_MH_TAB_BITS`.
const TAB_BITS: u32 = 6;

/// `ip_vs_mh_hashkey`.
fn hashkey(af: u16, addr: &[u8; 16], port: [u8; 2], key: [u64; 2], offset: u32) -> u32 {
    let v = offset
        .wrapping_add(u32::from(u16::from_be_bytes(port)))
        .wrapping_add(fold(af, addr));
    hsiphash_u32(v, &SipKey(key))
}

/// The lookup table and its keys.
#[derive(Debug)]
pub(crate) struct Maglev {
    af: u16,
    /// `hash1` (lookups, offsets) and `hash2` (skips).
    keys: [[u64; 2]; 2],
    table: List<Option<u16>>,
}

impl Maglev {
    /// `ip_vs_mh_reassign`: rebuilds the table for `dests`.
    fn populate(&mut self, dests: &[DestLoad]) {
        let gcd_w = dests.iter().filter(|d| d.last_weight > 0).fold(0, |g, d| {
            if g > 0 {
                gcd(d.last_weight, g)
            } else {
                d.last_weight
            }
        });
        let mut table = List::new();
        for _ in 0..TAB_SIZE {
            if table.push(None).is_err() {
                // No memory: no table, so no scheduling until the next change.
                self.table = List::new();
                return;
            }
        }
        if gcd_w < 1 {
            self.table = table;
            return;
        }
        let max_w = dests.iter().map(|d| d.last_weight).max().unwrap_or(0) / gcd_w;
        let fls = 32 - (max_w as u32).leading_zeros();
        let rshift = fls.saturating_sub(TAB_BITS);
        struct Turn {
            perm: usize,
            skip: usize,
            turns: i32,
        }
        let size = TAB_SIZE as u32;
        let mut setup: List<Turn> = List::new();
        for d in dests {
            let offset = hashkey(self.af, &d.addr, d.port, self.keys[0], 0) % size;
            let skip = hashkey(self.af, &d.addr, d.port, self.keys[1], 0) % (size - 1) + 1;
            let lw = d.last_weight;
            let turns = match (lw / gcd_w) >> rshift {
                0 => i32::from(lw != 0),
                t => t,
            };
            if setup
                .push(Turn {
                    perm: offset as usize,
                    skip: skip as usize,
                    turns,
                })
                .is_err()
            {
                self.table = List::new();
                return;
            }
        }
        let mut used = [0u64; TAB_SIZE.div_ceil(64)];
        let (mut n, mut dt) = (0, 0);
        'fill: loop {
            let mut i = 0;
            while i < setup.len() {
                let ds = &mut setup[i];
                if ds.turns < 1 {
                    i += 1;
                    continue;
                }
                while used[ds.perm / 64] & (1 << (ds.perm % 64)) != 0 {
                    ds.perm = (ds.perm + ds.skip) % TAB_SIZE;
                }
                used[ds.perm / 64] |= 1 << (ds.perm % 64);
                table[ds.perm] = u16::try_from(i).ok();
                n += 1;
                if n == TAB_SIZE {
                    break 'fill;
                }
                dt += 1;
                if dt >= ds.turns {
                    dt = 0;
                    i += 1;
                }
            }
        }
        self.table = table;
    }
}

impl Algorithm for Maglev {
    const NAME: &'static str = "mh";

    fn new(dests: &[DestLoad], setup: &Setup) -> Result<Self, NoMem> {
        let k = setup.keys;
        let mut m = Self {
            af: setup.af,
            keys: [[k[0], k[1]], [k[2], k[3]]],
            table: List::new(),
        };
        m.populate(dests);
        Ok(m)
    }

    fn schedule(&mut self, dests: &[DestLoad], c: &Client<'_>) -> Option<usize> {
        let port = if c.svc_flags & MH_PORT != 0 {
            c.port
        } else {
            [0, 0]
        };
        let size = TAB_SIZE as u32;
        let slot = |off: u32| {
            let h = hashkey(self.af, c.addr, port, self.keys[0], off) % size;
            self.table.get(h as usize).copied().flatten()
        };
        let usable = |i: u16| {
            let i = usize::from(i);
            dests.get(i).filter(|d| d.available()).map(|_| i)
        };
        let first = slot(0)?;
        if c.svc_flags & MH_FALLBACK == 0 {
            return usable(first);
        }
        if let Some(i) = usable(first) {
            return Some(i);
        }
        let ihash = hashkey(self.af, c.addr, port, self.keys[0], 0) % size;
        (0..size)
            .map(|off| slot((off + ihash) % size))
            .take_while(Option::is_some)
            .find_map(|i| usable(i?))
    }

    fn dest_added(&mut self, _: usize, dests: &[DestLoad]) {
        self.populate(dests);
    }

    fn dest_removed(&mut self, _: usize, dests: &[DestLoad]) {
        self.populate(dests);
    }

    fn dest_updated(&mut self, dests: &[DestLoad]) {
        self.populate(dests);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Client, Kind, Scheduler, Setup};
    use super::*;

    fn owners(m: &Maglev) -> Vec<usize> {
        let mut n = vec![0; 4];
        for s in m.table.iter() {
            n[usize::from(s.unwrap())] += 1;
        }
        n
    }

    fn keyed(keys: [u64; 4]) -> Setup {
        Setup { keys, ..setup() }
    }

    #[test]
    fn fills_by_weight_and_stays_consistent() {
        let keys = keyed([1, 2, 3, 4]);
        let d = w(&[1, 1, 2, 0]);
        let m = Maglev::new(&d, &keys).unwrap();
        assert_eq!(m.table.len(), TAB_SIZE);
        let n = owners(&m);
        // Weight 0 (never weighted) gets nothing; the rest by weight.
        assert_eq!(n[3], 0);
        assert!((n[2] as i32 - 2 * n[0] as i32).abs() < 40, "{n:?}");
        assert!((n[0] as i32 - n[1] as i32).abs() < 40, "{n:?}");
        // Removing a server moves (almost) only the slots it had.
        let three = w(&[1, 1, 2]);
        let mut two = three.clone();
        two.remove(1);
        let m3 = Maglev::new(&three, &keys).unwrap();
        let m2 = Maglev::new(&two, &keys).unwrap();
        let owner = |d: &[DestLoad], s: &Option<u16>| d[usize::from(s.unwrap())].addr;
        let moved = m3
            .table
            .iter()
            .zip(m2.table.iter())
            .filter(|(a, b)| {
                owner(&three, a) != three[1].addr && owner(&three, a) != owner(&two, b)
            })
            .count();
        assert!(moved < TAB_SIZE / 10, "{moved} slots moved");
    }

    #[test]
    fn schedules_one_client_to_one_server() {
        let d = w(&[1, 1, 1]);
        let mut s = Scheduler::new(Kind::Mh, &d, &keyed([5, 6, 7, 8])).unwrap();
        let first = s.schedule(&d, &ANY).unwrap();
        assert_eq!(run(&mut s, &d, 5), vec![Some(first); 5]);
        // Quiesced: nothing without fallback, another server with it.
        let mut q = d.clone();
        q[first].weight = 0;
        s.dest_updated(&q);
        assert_eq!(s.schedule(&q, &ANY), None);
        let fb = Client {
            svc_flags: MH_FALLBACK,
            ..ANY
        };
        let other = s.schedule(&q, &fb).unwrap();
        assert_ne!(other, first);
        // Many clients spread over all three.
        let mut hit = [0; 3];
        for i in 0..300u32 {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&(0x0a00_0000 + i).to_be_bytes());
            let c = Client { addr: &a, ..ANY };
            hit[s.schedule(&d, &c).unwrap()] += 1;
        }
        assert!(hit.iter().all(|&h| h > 50), "{hit:?}");
    }
}
