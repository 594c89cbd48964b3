// SPDX-License-Identifier: GPL-2.0

//! Locality-based least connection with replication (`ip_vs_lblcr.c`):
//! each destination address keeps a set of real servers and is served by
//! the least loaded of them; an overloaded set grows by the least loaded
//! server of all, and a set unchanged for the expiration time loses its
//! most loaded member.

use super::lblc::{least_loaded, overloaded, Cache, DestId};
use super::{time_before, Algorithm, Client, DestLoad, Env, Setup};
use crate::list::{List, NoMem};

/// A destination's servers, newest first (`struct ip_vs_dest_set`).
#[derive(Debug)]
pub(crate) struct DestSet {
    members: List<DestId>,
    /// Last changed, jiffies.
    lastmod: u64,
}

impl DestSet {
    /// `ip_vs_dest_set_insert`: adds `id` first, unless already in.
    fn insert(&mut self, id: DestId, now: u64) {
        if self.members.contains(&id) {
            return;
        }
        if self.members.insert_first(id).is_ok() {
            self.lastmod = now;
        }
    }

    /// `ip_vs_dest_set_min`: the least loaded available member.
    fn min(&self, dests: &[DestLoad]) -> Option<usize> {
        let mut least: Option<usize> = None;
        for m in self.members.iter() {
            let Some(i) = m.find(dests) else {
                continue;
            };
            let d = &dests[i];
            if d.overloaded {
                continue;
            }
            match least {
                None if d.weight > 0 => least = Some(i),
                None => {}
                Some(l) => {
                    let lw = i64::from(dests[l].weight);
                    if dests[l].overhead() * i64::from(d.weight) > d.overhead() * lw {
                        least = Some(i);
                    }
                }
            }
        }
        least
    }

    /// `ip_vs_dest_set_max`: the most loaded weighted member (overload
    /// does not matter here). Members no longer configured are skipped.
    fn max(&self, dests: &[DestLoad]) -> Option<DestId> {
        let mut most: Option<usize> = None;
        for m in self.members.iter() {
            let Some(i) = m.find(dests) else {
                continue;
            };
            let d = &dests[i];
            if d.weight <= 0 {
                continue;
            }
            match most {
                None => most = Some(i),
                Some(h) => {
                    let hw = i64::from(dests[h].weight);
                    if dests[h].overhead() * i64::from(d.weight) < d.overhead() * hw {
                        most = Some(i);
                    }
                }
            }
        }
        most.map(|i| DestId::of(&dests[i]))
    }

    /// `ip_vs_dest_set_erase`.
    fn erase(&mut self, id: DestId, now: u64) {
        if let Some(i) = self.members.iter().position(|m| *m == id) {
            self.members.remove(i);
            self.lastmod = now;
        }
    }
}

/// Destination address to a set of real servers.
#[derive(Debug)]
pub(crate) struct LocalityReplicated {
    cache: Cache<DestSet>,
}

impl Algorithm for LocalityReplicated {
    const NAME: &'static str = "lblcr";

    fn new(_: &[DestLoad], setup: &Setup) -> Result<Self, NoMem> {
        Ok(Self {
            cache: Cache::new(setup)?,
        })
    }

    fn schedule(&mut self, dests: &[DestLoad], c: &Client<'_>) -> Option<usize> {
        let now = c.env.now();
        if let Some(en) = self.cache.get(c.daddr) {
            en.lastuse = now;
            let set = &mut en.value;
            let pick = set.min(dests);
            // A set unchanged for long enough loses its busiest member.
            let expiry = set.lastmod.wrapping_add(c.env.lblcr_expiration());
            if set.members.len() > 1 && time_before(expiry, now) {
                if let Some(m) = set.max(dests) {
                    set.erase(m, now);
                }
            }
            if let Some(i) = pick.filter(|&i| !overloaded(dests, i)) {
                return Some(i);
            }
            // Overloaded (or nobody left): the least loaded of all joins.
            let i = least_loaded(dests)?;
            set.insert(DestId::of(&dests[i]), now);
            return Some(i);
        }
        let i = least_loaded(dests)?;
        let mut set = DestSet {
            members: List::new(),
            lastmod: now,
        };
        if set.members.push(DestId::of(&dests[i])).is_ok() {
            self.cache.insert(c.daddr, now, set);
        }
        Some(i)
    }

    fn tick(&mut self, env: &dyn Env) {
        self.cache.tick(env, env.lblcr_expiration());
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Client;
    use super::*;

    #[test]
    fn sets_grow_under_load_and_shrink_with_time() {
        let mut env = FakeEnv::new();
        env.lblcr = 60 * HZ;
        let mut d = w(&[2, 2, 2]);
        let mut s = LocalityReplicated::new(&d, &setup()).unwrap();
        let c = Client { env: &env, ..ANY };
        let place = |d: &mut Vec<DestLoad>, s: &mut LocalityReplicated| {
            let i = s.schedule(d, &c).unwrap();
            d[i].active += 1;
            d[i].total += 1;
            i
        };
        // One server while it has no more active connections than its
        // weight (and then while no other is under half its weight).
        assert_eq!(place(&mut d, &mut s), 0);
        assert_eq!(place(&mut d, &mut s), 0);
        assert_eq!(place(&mut d, &mut s), 0);
        // Server 0 has 3 > 2 and the others are idle: the set grows.
        assert_eq!(place(&mut d, &mut s), 1);
        let set = |s: &mut LocalityReplicated| s.cache.get(&VIP).unwrap().value.members.len();
        assert_eq!(set(&mut s), 2);
        // Then the least loaded member serves.
        assert_eq!(place(&mut d, &mut s), 1);
        assert_eq!(place(&mut d, &mut s), 1);
        // A minute unchanged: the busiest member leaves (a tie at 3
        // active: the first in the set, the newest, server 1), and the
        // overloaded pick brings in server 2.
        env.advance(61);
        assert_eq!(place(&mut d, &mut s), 2);
        let members = &s.cache.get(&VIP).unwrap().value.members;
        assert_eq!(members.len(), 2);
        assert_eq!(members[0], DestId::of(&d[2]));
        assert_eq!(members[1], DestId::of(&d[0]));
    }

    #[test]
    fn quiesced_members_are_passed_over() {
        let env = FakeEnv::new();
        let mut d = w(&[1, 1]);
        let mut s = LocalityReplicated::new(&d, &setup()).unwrap();
        let c = Client { env: &env, ..ANY };
        assert_eq!(s.schedule(&d, &c), Some(0));
        d[0].weight = 0;
        assert_eq!(s.schedule(&d, &c), Some(1));
        assert_eq!(s.schedule(&d, &c), Some(1));
        d[1].weight = 0;
        assert_eq!(s.schedule(&d, &c), None);
        s.tick(&env);
    }
}
