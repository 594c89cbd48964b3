//! Tests of the resizable table (src/kapi/rhash.rs): resizes in steps
//! interleaved with inserts, removals, lookups and walks, single-threaded
//! and with reader threads racing a writer and a resizer. A read-write
//! lock stands in for RCU: readers hold it shared, a grace period takes it
//! exclusively once.

use crate::rhash::{
    thresholds, wanted_bits, Buckets, Head, Link, Linked, Locks, ReadSide, Step, Table, MIN_BITS,
};
use std::collections::HashSet;
use std::mem::offset_of;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};

struct E {
    link: Link,
    hash: u32,
    key: u64,
    /// Set once a grace period passed after removal ("freed").
    freed: AtomicBool,
}

// SAFETY: `LINK` is the offset of `link`; `hash` never changes.
unsafe impl Linked for E {
    const LINK: usize = offset_of!(E, link);
    fn hash(&self) -> u32 {
        self.hash
    }
}

struct Mem(Box<[Head]>);

impl Buckets for Mem {
    fn heads(&self) -> &[Head] {
        &self.0
    }
}

fn mem(bits: u32) -> Mem {
    Mem((0..1usize << bits).map(|_| Head::new()).collect())
}

struct Mutexes(Vec<Mutex<()>>);

impl Locks for Mutexes {
    type Guard<'a> = MutexGuard<'a, ()>;
    fn lock(&self, i: usize) -> MutexGuard<'_, ()> {
        self.0[i].lock().unwrap()
    }
}

struct Rcu(RwLock<()>);

struct Reader<'a>(#[allow(dead_code)] RwLockReadGuard<'a, ()>);

// SAFETY: `Rcu::synchronize` takes the lock exclusively, so it waits for
// every reader alive when it started.
unsafe impl ReadSide for Reader<'_> {}

impl Rcu {
    fn read(&self) -> Reader<'_> {
        Reader(self.0.read().unwrap())
    }
    fn synchronize(&self) {
        drop(self.0.write().unwrap());
    }
}

type T = Table<E, Mem, Mutexes>;

fn table(bits: u32) -> T {
    Table::new(
        mem(bits),
        Mutexes((0..256).map(|_| Mutex::new(())).collect()),
    )
}

/// A hash that spreads keys over the whole range (splitmix64).
fn hash_of(key: u64) -> u32 {
    let mut z = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as u32
}

fn entry(key: u64) -> Box<E> {
    Box::new(E {
        link: Link::new(),
        hash: hash_of(key),
        key,
        freed: AtomicBool::new(false),
    })
}

fn find(t: &T, rcu: &Rcu, key: u64) -> bool {
    let r = rcu.read();
    let found = t.find(&r, hash_of(key), |e| e.key == key);
    if let Some(e) = found {
        assert!(!e.freed.load(Ordering::SeqCst), "found a freed entry");
    }
    found.is_some()
}

/// Every key once, by walking in steps of about `step` entries, calling
/// `between` after each step.
fn walk_steps(t: &T, rcu: &Rcu, step: usize, mut between: impl FnMut()) -> Vec<u64> {
    let mut keys = Vec::new();
    let mut pos = Some(0);
    while let Some(p) = pos {
        let r = rcu.read();
        let mut n = 0;
        pos = t.walk(&r, p, |e| {
            keys.push(e.key);
            n += 1;
            n < step
        });
        drop(r);
        between();
    }
    keys
}

fn walk_all(t: &T, rcu: &Rcu, step: usize) -> Vec<u64> {
    walk_steps(t, rcu, step, || {})
}

/// Resizes to `bits`, `per_step` old buckets at a time, calling `between`
/// after each step.
fn resize(t: &T, rcu: &Rcu, bits: u32, per_step: usize, mut between: impl FnMut()) {
    assert!(t.start(mem(bits)).is_ok());
    while t.migrate(per_step) == Step::More {
        between();
    }
    rcu.synchronize();
    // SAFETY: a grace period passed since the switch.
    assert!(unsafe { t.retire() }.is_some());
    assert_eq!(t.bits(), bits);
    assert!(!t.resizing());
}

#[test]
fn grow_and_shrink_with_changes_in_between() {
    let rcu = Rcu(RwLock::new(()));
    let t = table(MIN_BITS);
    let mut live: Vec<Box<E>> = Vec::new();
    let mut gone: Vec<Box<E>> = Vec::new();
    let mut next = 0u64;
    for _ in 0..3000 {
        let e = entry(next);
        next += 1;
        // SAFETY: new, boxed (does not move), kept until the end.
        unsafe { t.insert(&e) };
        live.push(e);
    }
    for bits in [12, 14, 9, MIN_BITS, 13] {
        resize(&t, &rcu, bits, 7, || {
            // Insert two, remove one, look all up, between steps.
            for _ in 0..2 {
                let e = entry(next);
                next += 1;
                // SAFETY: as above.
                unsafe { t.insert(&e) };
                live.push(e);
            }
            let e = live.swap_remove((next as usize * 7919) % live.len());
            // SAFETY: inserted and not removed.
            unsafe { t.remove(&e) };
            gone.push(e);
            for e in live.iter().step_by(13) {
                assert!(find(&t, &rcu, e.key), "lost {} during a resize", e.key);
            }
            for e in gone.iter().rev().take(5) {
                assert!(!find(&t, &rcu, e.key));
            }
            // A walk in the middle of the move lists each entry once.
            if next.is_multiple_of(50) {
                let keys = walk_all(&t, &rcu, 17);
                let set: HashSet<u64> = keys.iter().copied().collect();
                assert_eq!(set.len(), keys.len(), "listed twice");
                assert_eq!(set.len(), live.len());
            }
        });
        for e in &live {
            assert!(find(&t, &rcu, e.key));
        }
        for e in &gone {
            assert!(!find(&t, &rcu, e.key));
        }
        let mut keys = walk_all(&t, &rcu, 1000);
        keys.sort_unstable();
        let mut want: Vec<u64> = live.iter().map(|e| e.key).collect();
        want.sort_unstable();
        assert_eq!(keys, want);
    }
}

#[test]
fn walk_resumes_across_resizes() {
    let rcu = Rcu(RwLock::new(()));
    let t = table(10);
    let es: Vec<Box<E>> = (0..5000).map(entry).collect();
    for e in &es {
        // SAFETY: boxed and kept until the end.
        unsafe { t.insert(e) };
    }
    let sizes = [15, 8, 12, 9, 16, 11];
    let mut i = 0;
    let keys = walk_steps(&t, &rcu, 300, || {
        // Half the time, resize between two parts of a listing.
        if i % 2 == 0 {
            resize(&t, &rcu, sizes[(i / 2) % sizes.len()], 64, || {});
        }
        i += 1;
    });
    let set: HashSet<u64> = keys.iter().copied().collect();
    assert_eq!(set.len(), keys.len(), "an entry listed twice");
    assert_eq!(set.len(), es.len(), "an entry not listed");
}

#[test]
fn one_resize_at_a_time() {
    let rcu = Rcu(RwLock::new(()));
    let t = table(MIN_BITS);
    assert!(t.start(mem(10)).is_ok());
    assert!(t.resizing());
    assert!(t.start(mem(11)).is_err());
    while t.migrate(1) == Step::More {}
    // The old buckets still wait for a grace period.
    assert!(t.start(mem(11)).is_err());
    rcu.synchronize();
    // SAFETY: a grace period passed.
    assert_eq!(unsafe { t.retire() }.map(|m| m.0.len()), Some(256));
    // SAFETY: as above.
    assert!(unsafe { t.retire() }.is_none());
    assert!(t.start(mem(7)).is_err(), "below the minimum");
    assert!(t
        .start(Mem((0..300).map(|_| Head::new()).collect()))
        .is_err());
    assert_eq!(t.migrate(4), Step::Switched, "nothing to move");
}

#[test]
fn readers_never_miss_while_a_writer_and_a_resizer_run() {
    let rcu = Arc::new(Rcu(RwLock::new(())));
    let t = Arc::new(table(MIN_BITS));
    // Keys below 2000 stay in the table throughout.
    let fixed: Vec<Box<E>> = (0..2000).map(entry).collect();
    for e in &fixed {
        // SAFETY: boxed and kept until the threads end.
        unsafe { t.insert(e) };
    }
    let stop = Arc::new(AtomicBool::new(false));
    let lookups = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for r in 0..3u64 {
        let (t, rcu, stop, lookups) = (t.clone(), rcu.clone(), stop.clone(), lookups.clone());
        threads.push(std::thread::spawn(move || {
            let mut k = r;
            while !stop.load(Ordering::Relaxed) {
                k = (k * 7 + 13) % 2000;
                assert!(find(&t, &rcu, k), "reader missed fixed key {k}");
                lookups.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // The writer: churn of other keys, freed after a grace period.
    let writer = {
        let (t, rcu, stop) = (t.clone(), rcu.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut live: std::collections::VecDeque<Box<E>> = Default::default();
            let mut k = 1_000_000u64;
            while !stop.load(Ordering::Relaxed) {
                let e = entry(k);
                k += 1;
                // SAFETY: boxed; freed only after removal and a grace period.
                unsafe { t.insert(&e) };
                live.push_back(e);
                if live.len() > 3000 {
                    let e = live.pop_front().unwrap();
                    // SAFETY: inserted and not removed.
                    unsafe { t.remove(&e) };
                    rcu.synchronize();
                    e.freed.store(true, Ordering::SeqCst);
                }
            }
            live
        })
    };
    let mut resizes = 0;
    let t0 = std::time::Instant::now();
    while t0.elapsed() < std::time::Duration::from_millis(1500) {
        for bits in [12, 9, 14, MIN_BITS] {
            resize(&t, &rcu, bits, 3, std::thread::yield_now);
            resizes += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for th in threads {
        th.join().unwrap();
    }
    let live = writer.join().unwrap();
    let r = rcu.read();
    let mut seen = 0;
    let _ = t.walk(&r, 0, |_| {
        seen += 1;
        true
    });
    assert_eq!(seen, fixed.len() + live.len());
    assert!(resizes >= 4 && lookups.load(Ordering::Relaxed) > 1000);
}

#[test]
fn policy_grows_past_the_factor_and_shrinks_below_a_quarter() {
    // lfactor -4: 16 buckets per entry (upstream's default).
    assert_eq!(wanted_bits(0, -4, 8, 26), None);
    assert_eq!(wanted_bits(16, -4, 8, 26), None);
    assert_eq!(wanted_bits(17, -4, 8, 26), Some(9));
    assert_eq!(wanted_bits(1 << 20, -4, 8, 26), Some(24));
    // The maximum caps it: 4M entries at -4 want 2^26.
    assert_eq!(wanted_bits(4 << 20, -4, 8, 26), Some(26));
    assert_eq!(wanted_bits(5 << 20, -4, 26, 26), None);
    assert_eq!(wanted_bits(5 << 20, -4, 8, 20), Some(20));
    // Shrinks once the load needs a quarter of the buckets, to half.
    assert_eq!(wanted_bits(1 << 18, -4, 24, 26), Some(23));
    assert_eq!(wanted_bits((1 << 18) + 1, -4, 24, 26), None);
    assert_eq!(wanted_bits(0, -4, 24, 26), Some(MIN_BITS));
    assert_eq!(wanted_bits(3, -4, 9, 26), Some(MIN_BITS));
    // Positive factors tolerate chains: 2^2 entries per bucket.
    assert_eq!(wanted_bits(1024, 2, 8, 26), None);
    assert_eq!(wanted_bits(1025, 2, 8, 26), Some(9));
    // The thresholds agree with the policy.
    for lf in [-8, -4, 0, 3, 8] {
        for bits in [8u32, 9, 12, 20] {
            let (grow, shrink) = thresholds(lf, bits, 24);
            assert_eq!(wanted_bits(grow, lf, bits, 24), None, "{lf} {bits}");
            if grow < usize::MAX {
                assert!(wanted_bits(grow + 1, lf, bits, 24).unwrap() > bits);
            }
            if shrink > 0 {
                assert!(wanted_bits(shrink, lf, bits, 24).unwrap() < bits);
                assert_eq!(wanted_bits(shrink + 1, lf, bits, 24), None, "{lf} {bits}");
            }
        }
    }
}

#[test]
fn chain_lengths_count_every_bucket() {
    let rcu = Rcu(RwLock::new(()));
    let t = table(MIN_BITS);
    let es: Vec<Box<E>> = (0..512).map(entry).collect();
    for e in &es {
        // SAFETY: boxed and kept until the end.
        unsafe { t.insert(e) };
    }
    let r = rcu.read();
    let c: [u32; 8] = t.chain_lengths(&r);
    assert_eq!(c.iter().sum::<u32>(), 256, "one count per bucket");
    // Every entry is counted, the last count at least 7 each.
    let counted: u32 = c.iter().enumerate().map(|(len, &n)| len as u32 * n).sum();
    assert!(counted <= 512 && counted > 400, "{c:?}");
}

#[test]
fn walk_range_stops_at_its_end() {
    let rcu = Rcu(RwLock::new(()));
    let t = table(MIN_BITS);
    let es: Vec<Box<E>> = (0..2000).map(entry).collect();
    for e in &es {
        // SAFETY: each entry is boxed, in no table, and outlives `t`'s use.
        unsafe { t.insert(e) };
    }
    let (from, to) = (0x1234_5678u64, 0x2345_6789u64);
    let want: HashSet<u64> = es
        .iter()
        .filter(|e| (from..to).contains(&u64::from(e.hash)))
        .map(|e| e.key)
        .collect();
    assert!(!want.is_empty());
    // Whole, and during a resize (two arrays, ranges of the coarser one).
    for bits in [None, Some(MIN_BITS + 4)] {
        if let Some(b) = bits {
            assert!(t.start(mem(b)).is_ok());
            assert_eq!(t.migrate(7), Step::More);
        }
        let r = rcu.read();
        let mut seen = HashSet::new();
        assert_eq!(t.walk_range(&r, from, to, |e| seen.insert(e.key)), None);
        assert_eq!(seen, want);
        // An empty range sees nothing and does not run on.
        let mut n = 0;
        assert_eq!(
            t.walk_range(&r, 5, 6, |_| {
                n += 1;
                true
            }),
            None
        );
        assert_eq!(n, 0);
    }
    while t.migrate(64) != Step::Switched {}
    rcu.synchronize();
    // SAFETY: a grace period passed since the switch.
    drop(unsafe { t.retire() });
    for e in &es {
        // SAFETY: inserted above, not removed since.
        unsafe { t.remove(e) };
    }
}
