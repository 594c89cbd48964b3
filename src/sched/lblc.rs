// SPDX-License-Identifier: GPL-2.0

//! Locality-based least connection (`ip_vs_lblc.c`): each destination
//! address keeps the real server it was first given, until that server
//! is quiesced or overloaded; new destinations go to the least loaded.
//! The remembered destinations expire as stock's do (see [`Cache`]).

use super::{least_weighted, position, time_before, Algorithm, Client, DestLoad, Env, Setup};
use crate::list::{List, NoMem};

const TAB_BITS: u32 = 10;
const TAB_SIZE: usize = 1 << TAB_BITS;
/// Entries beyond which the periodic check expires idle ones.
const MAX_SIZE: usize = TAB_SIZE * 16;
/// How often the cache is checked, seconds (`CHECK_EXPIRE_INTERVAL`).
const CHECK_INTERVAL: u64 = 60;
/// Idle time after which an entry may go when the cache is over
/// [`MAX_SIZE`], seconds (`ENTRY_TIMEOUT`).
const ENTRY_TIMEOUT: u64 = 6 * 60;
/// Every this many checks, a full one (`COUNT_FOR_FULL_EXPIRATION`).
const COUNT_FOR_FULL_EXPIRATION: u32 = 30;

/// A real server as the locality schedulers remember it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DestId {
    addr: [u8; 16],
    port: [u8; 2],
}

impl DestId {
    pub(super) fn of(d: &DestLoad) -> Self {
        Self {
            addr: d.addr,
            port: d.port,
        }
    }

    /// Where it is in `dests`, if still there.
    pub(super) fn find(&self, dests: &[DestLoad]) -> Option<usize> {
        position(dests, &self.addr, self.port)
    }
}

/// One destination address and what it maps to.
#[derive(Debug)]
pub(super) struct Entry<V> {
    addr: [u8; 16],
    /// Last scheduled for, jiffies.
    pub(super) lastuse: u64,
    pub(super) value: V,
}

/// Stock's `ip_vs_lblc_table` (and lblcr's): destination addresses hashed
/// into 1024 buckets, checked every minute. Every 30th check drops
/// the entries idle for longer than the expiration sysctl; in between,
/// only a cache over 16384 entries loses idle ones (6 minutes), at most
/// 4/3 of the excess from where the last check stopped. Stock's per-service
/// timer is the estimator's tick here (every two seconds).
#[derive(Debug)]
pub(super) struct Cache<V> {
    buckets: List<List<Entry<V>>>,
    entries: usize,
    rover: usize,
    counter: u32,
    /// When the next check is due, jiffies; `None` until the first tick
    /// (stock starts its timer with the service).
    next_check: Option<u64>,
    af: u16,
}

/// `ip_vs_lblc_hashkey`.
fn hashkey(af: u16, addr: &[u8; 16]) -> usize {
    super::hash_32(super::fold(af, addr), TAB_BITS) as usize
}

impl<V> Cache<V> {
    pub(super) fn new(setup: &Setup) -> Result<Self, NoMem> {
        let mut buckets = List::new();
        for _ in 0..TAB_SIZE {
            buckets.push(List::new())?;
        }
        Ok(Self {
            buckets,
            entries: 0,
            rover: 0,
            counter: 1,
            next_check: None,
            af: setup.af,
        })
    }

    /// Entries cached.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries
    }

    /// The entry of destination `addr`.
    pub(super) fn get(&mut self, addr: &[u8; 16]) -> Option<&mut Entry<V>> {
        self.buckets[hashkey(self.af, addr)]
            .iter_mut()
            .find(|e| e.addr == *addr)
    }

    /// Adds an entry for `addr` (which has none), unless the cache is
    /// half again over its size or memory is short.
    pub(super) fn insert(&mut self, addr: &[u8; 16], now: u64, value: V) {
        if self.entries >= MAX_SIZE * 3 / 2 {
            return;
        }
        let e = Entry {
            addr: *addr,
            lastuse: now,
            value,
        };
        if self.buckets[hashkey(self.af, addr)].push(e).is_ok() {
            self.entries += 1;
        }
    }

    /// Drops the entries of bucket `j` idle since `now - idle`; how many.
    fn expire_bucket(&mut self, j: usize, now: u64, idle: u64) -> usize {
        let b = &mut self.buckets[j];
        let mut gone = 0;
        let mut i = b.len();
        while i > 0 {
            i -= 1;
            if !time_before(now, b[i].lastuse.wrapping_add(idle)) {
                b.remove(i);
                gone += 1;
            }
        }
        self.entries -= gone;
        gone
    }

    /// The periodic check (`ip_vs_lblc_check_expire`), when it is due;
    /// `expiration` in jiffies.
    pub(super) fn tick(&mut self, env: &dyn Env, expiration: u64) {
        let now = env.now();
        let next = now.wrapping_add(CHECK_INTERVAL * env.hz());
        match self.next_check {
            Some(due) if !time_before(now, due) => self.next_check = Some(next),
            Some(_) => return,
            None => {
                self.next_check = Some(next);
                return;
            }
        }
        if self.counter == COUNT_FOR_FULL_EXPIRATION {
            // `ip_vs_lblc_full_check`.
            let mut j = self.rover;
            for _ in 0..TAB_SIZE {
                j = (j + 1) & (TAB_SIZE - 1);
                self.expire_bucket(j, now, expiration);
            }
            self.rover = j;
            self.counter = 1;
            return;
        }
        if self.entries <= MAX_SIZE {
            self.counter += 1;
            return;
        }
        let mut goal = ((self.entries - MAX_SIZE) * 4 / 3).min(MAX_SIZE / 2) as isize;
        let mut j = self.rover;
        for _ in 0..TAB_SIZE {
            j = (j + 1) & (TAB_SIZE - 1);
            goal -= self.expire_bucket(j, now, ENTRY_TIMEOUT * env.hz()) as isize;
            if goal <= 0 {
                break;
            }
        }
        self.rover = j;
    }
}

/// lblc's and lblcr's own overload test: more active connections than
/// its weight, while some server is under half of its own.
pub(super) fn overloaded(dests: &[DestLoad], i: usize) -> bool {
    let half_idle = |d: &DestLoad| i64::from(d.active) * 2 < i64::from(d.weight);
    i64::from(dests[i].active) > i64::from(dests[i].weight) && dests.iter().any(half_idle)
}

/// The least loaded server by weight (`__ip_vs_lblc_schedule`, wlc's
/// formula).
pub(super) fn least_loaded(dests: &[DestLoad]) -> Option<usize> {
    least_weighted(dests, DestLoad::overhead, false)
}

/// Destination address to real server.
#[derive(Debug)]
pub(crate) struct Locality {
    cache: Cache<DestId>,
}

impl Algorithm for Locality {
    const NAME: &'static str = "lblc";

    fn new(_: &[DestLoad], setup: &Setup) -> Result<Self, NoMem> {
        Ok(Self {
            cache: Cache::new(setup)?,
        })
    }

    fn schedule(&mut self, dests: &[DestLoad], c: &Client<'_>) -> Option<usize> {
        let now = c.env.now();
        if let Some(en) = self.cache.get(c.daddr) {
            en.lastuse = now;
            let cached = en.value.find(dests);
            if let Some(i) = cached.filter(|&i| dests[i].weight > 0 && !overloaded(dests, i)) {
                return Some(i);
            }
        }
        let i = least_loaded(dests)?;
        // `ip_vs_lblc_new`: the entry now names this server. Stock
        // replaces it (which frees the room the new one needs), here it
        // is renamed; its last use is already now.
        let id = DestId::of(&dests[i]);
        match self.cache.get(c.daddr) {
            Some(en) => en.value = id,
            None => self.cache.insert(c.daddr, now, id),
        }
        Some(i)
    }

    fn tick(&mut self, env: &dyn Env) {
        self.cache.tick(env, env.lblc_expiration());
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Client;
    use super::*;

    fn to<'a>(v: &'a [u8; 16], env: &'a FakeEnv) -> Client<'a> {
        Client {
            daddr: v,
            env,
            ..ANY
        }
    }

    fn vip(n: u32) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&(0x0a01_0000 + n).to_be_bytes());
        a
    }

    #[test]
    fn destinations_stick_to_their_server() {
        let env = FakeEnv::new();
        let mut d = w(&[1, 1, 1]);
        let mut s = Locality::new(&d, &setup()).unwrap();
        // Three destinations, each to the least loaded server in turn.
        let mut first = Vec::new();
        for n in 0..3 {
            let i = s.schedule(&d, &to(&vip(n), &env)).unwrap();
            d[i].active += 1;
            d[i].total += 1;
            first.push(i);
        }
        assert_eq!(first, [0, 1, 2]);
        // Again: the same servers, whatever the load.
        d[1].active += 5;
        d[1].total += 5;
        for n in 0..3 {
            assert_eq!(s.schedule(&d, &to(&vip(n), &env)), Some(first[n as usize]));
        }
        assert_eq!(s.cache.len(), 3);
        // Overloaded (active over weight while server 0 is under half its
        // weight... it is not: 1 active of 1) stays; then with server 0
        // weighted 4 it is half idle, and server 1 loses its destination.
        d[0].weight = 4;
        let moved = s.schedule(&d, &to(&vip(1), &env)).unwrap();
        assert_ne!(moved, 1);
        assert_eq!(s.schedule(&d, &to(&vip(1), &env)), Some(moved));
        // Quiesced: the destination moves.
        d[2].weight = 0;
        let moved = s.schedule(&d, &to(&vip(2), &env)).unwrap();
        assert_ne!(moved, 2);
        assert_eq!(s.cache.len(), 3);
    }

    #[test]
    fn deleted_server_forgotten_until_added_back() {
        let env = FakeEnv::new();
        let d = w(&[1, 1]);
        let mut s = Locality::new(&d, &setup()).unwrap();
        let v = vip(7);
        let c = to(&v, &env);
        assert_eq!(s.schedule(&d, &c), Some(0));
        // Server 0 deleted: the destination goes to the other.
        let one = vec![d[1]];
        assert_eq!(s.schedule(&one, &c), Some(0));
        assert_eq!(s.cache.get(&vip(7)).unwrap().value, DestId::of(&d[1]));
    }

    #[test]
    fn entries_expire_as_stock() {
        let mut env = FakeEnv::new();
        env.lblc = 120 * HZ;
        let d = w(&[1, 1]);
        let mut s = Locality::new(&d, &setup()).unwrap();
        s.schedule(&d, &to(&vip(1), &env));
        // The first tick starts the clock (stock: service creation).
        s.tick(&env);
        // Checks every minute; the full one (expiration) every 30th.
        for _ in 0..29 {
            env.advance(60);
            s.tick(&env);
        }
        assert_eq!(s.cache.len(), 1, "only the 30th check expires");
        env.advance(60);
        s.tick(&env);
        assert_eq!(s.cache.len(), 0);
        // Over 16384 entries, the idle ones (6 minutes) go at once.
        let mut s = Locality::new(&d, &setup()).unwrap();
        let v0 = vip(0);
        let c = to(&v0, &env);
        for n in 0..(MAX_SIZE as u32 + 2000) {
            let v = vip(n);
            s.schedule(&d, &Client { daddr: &v, ..c });
        }
        assert_eq!(s.cache.len(), MAX_SIZE + 2000);
        s.tick(&env);
        env.advance(7 * 60);
        s.tick(&env);
        let left = s.cache.len();
        // 4/3 of the excess, by whole buckets (of about 18 entries).
        let (excess, goal) = (2000, 2000 * 4 / 3);
        let most = MAX_SIZE + excess - goal;
        assert!((most - 60..=most).contains(&left), "{left}");
        // At most half again the size.
        let mut s = Locality::new(&d, &setup()).unwrap();
        for n in 0..(MAX_SIZE as u32 * 2) {
            let v = vip(n);
            s.schedule(&d, &Client { daddr: &v, ..c });
        }
        assert_eq!(s.cache.len(), MAX_SIZE * 3 / 2);
    }
}
