// SPDX-License-Identifier: GPL-2.0

//! Source hashing (`ip_vs_sh.c`): 256 buckets, each a real server, taken
//! by the hash of the client's address (and port with `sh-port`).

use super::{fold, hash_32, Algorithm, Client, DestLoad, Setup};
use crate::list::{List, NoMem};

/// `IP_VS_SVC_F_SCHED_SH_FALLBACK`.
pub(crate) const SH_FALLBACK: u32 = 0x0008;
/// `IP_VS_SVC_F_SCHED_SH_PORT`.
pub(crate) const SH_PORT: u32 = 0x0010;
const TAB_BITS: u32 = 8;
pub(crate) const TAB_SIZE: usize = 1 << TAB_BITS;

/// Which real server each bucket points at.
#[derive(Debug)]
pub(crate) struct SourceHashing {
    table: List<Option<u16>>,
}

/// `ip_vs_sh_hashkey`.
fn hashkey(c: &Client<'_>, port: [u8; 2], offset: usize) -> usize {
    let h = hash_32(
        u32::from(u16::from_be_bytes(port)).wrapping_add(fold(c.af, c.addr)),
        TAB_BITS,
    );
    (offset + h as usize) & (TAB_SIZE - 1)
}

/// `ip_vs_sh_reassign`: buckets go to the servers in list order, each
/// taking as many consecutive buckets as its weight (at least one).
/// On allocation failure the table stays empty (nothing scheduled until
/// the next change).
fn assign(dests: &[DestLoad]) -> List<Option<u16>> {
    let mut t = List::new();
    let (mut p, mut count) = (0usize, 0i32);
    for _ in 0..TAB_SIZE {
        let slot = if dests.is_empty() {
            None
        } else {
            u16::try_from(p).ok()
        };
        if t.push(slot).is_err() {
            return List::new();
        }
        if let Some(d) = dests.get(p) {
            count += 1;
            if count >= d.weight {
                p = (p + 1) % dests.len();
                count = 0;
            }
        }
    }
    t
}

impl Algorithm for SourceHashing {
    const NAME: &'static str = "sh";

    fn new(dests: &[DestLoad], _: &Setup) -> Result<Self, NoMem> {
        Ok(Self {
            table: assign(dests),
        })
    }

    fn schedule(&mut self, dests: &[DestLoad], c: &Client<'_>) -> Option<usize> {
        let port = if c.svc_flags & SH_PORT != 0 {
            c.port
        } else {
            [0, 0]
        };
        let usable = |i: Option<u16>| {
            let i = usize::from(i?);
            dests.get(i).filter(|d| d.available()).map(|_| i)
        };
        let slot = |off: usize| self.table.get(hashkey(c, port, off)).copied().flatten();
        let first = hashkey(c, port, 0);
        slot(0)?;
        if c.svc_flags & SH_FALLBACK == 0 {
            return usable(slot(0));
        }
        // Walk the table from the bucket it should have been.
        (0..TAB_SIZE)
            .map(|off| slot((off + first) % TAB_SIZE))
            .take_while(Option::is_some)
            .find_map(usable)
    }

    fn dest_added(&mut self, _: usize, dests: &[DestLoad]) {
        self.table = assign(dests);
    }

    fn dest_removed(&mut self, _: usize, dests: &[DestLoad]) {
        self.table = assign(dests);
    }

    fn dest_updated(&mut self, dests: &[DestLoad]) {
        self.table = assign(dests);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{Client, Kind};
    use super::*;

    #[test]
    fn fills_buckets_by_weight() {
        let t = assign(&w(&[1, 1, 1]));
        assert!(t
            .iter()
            .enumerate()
            .all(|(i, b)| *b == Some((i % 3) as u16)));
        let t = assign(&w(&[2, 1]));
        assert_eq!(
            &t[..6],
            &[Some(0), Some(0), Some(1), Some(0), Some(0), Some(1)]
        );
        // Weight 0 still takes one bucket, as stock.
        let t = assign(&w(&[0, 1]));
        assert_eq!(&t[..3], &[Some(0), Some(1), Some(0)]);
        let empty = assign(&[]);
        assert_eq!(empty.len(), TAB_SIZE);
        assert!(empty.iter().all(Option::is_none));
    }

    #[test]
    fn hashes_like_stock() {
        // hash_32(ntohl(10.0.0.2), 8), and with port 50000 added; values
        // computed from the kernel's formula separately.
        assert_eq!(hashkey(&ANY, [0, 0], 0), 137);
        assert_eq!(hashkey(&ANY, ANY.port, 0), 214);
        assert_eq!(hashkey(&ANY, [0, 0], 200), (137 + 200) & 255);
    }

    #[test]
    fn sticks_and_falls_back() {
        let d = w(&[1, 1, 1]);
        let mut s = make(Kind::Sh, &d);
        // Bucket 137 -> server 137 % 3 = 2, every time.
        assert_eq!(run(&mut s, &d, 3), vec![Some(2); 3]);
        let other = Client {
            addr: &[10, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ..ANY
        };
        assert_eq!(s.schedule(&d, &other), Some(hashkey(&other, [0, 0], 0) % 3));
        // sh-port: the port joins the hash (bucket 214 -> server 1).
        let port = Client {
            svc_flags: SH_PORT,
            ..ANY
        };
        assert_eq!(s.schedule(&d, &port), Some(1));
        // Quiesced target: nothing, unless sh-fallback walks on.
        let q = w(&[1, 1, 0]);
        s.dest_updated(&q);
        assert_eq!(s.schedule(&q, &ANY), None);
        let fb = Client {
            svc_flags: SH_FALLBACK,
            ..ANY
        };
        let got = s.schedule(&q, &fb).unwrap();
        assert_ne!(got, 2);
    }
}
