// SPDX-License-Identifier: GPL-2.0

//! A hash table that resizes online, read under RCU.
//!
//! Entries embed a [`Link`] and carry a 32-bit hash. A table's bucket is the
//! hash's top bits, so that a bucket of any size covers one range of hash
//! values: walks resume at a hash value whatever resized in between, and
//! an entry's old and new buckets share the top [`LOCK_BITS`] bits, which
//! pick its lock (one array of locks for every size, hence the minimum of
//! 2^[`MIN_BITS`] buckets).
//!
//! A resize publishes a second bucket array, moves the entries over one old
//! bucket at a time under that bucket's lock, switches, and hands the old
//! array back to be freed after a grace period. Chains end in a "nulls"
//! marker naming their array and bucket: a reader that followed a moved
//! entry into the other array sees a foreign marker and starts again, and
//! a reader that missed an entry in the old array finds it in the new one,
//! which lookups search second. Writers never wait for readers.
//!
//! No `kernel` crate here: the caller supplies the bucket memory, the locks
//! and the proof of an RCU read-side section, and `cargo test` runs this
//! very code with threads (host/).

use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

/// Bits of the hash that pick a lock.
pub(crate) const LOCK_BITS: u32 = 8;
/// Number of locks a table needs.
pub(crate) const LOCKS: usize = 1 << LOCK_BITS;
/// The smallest table: 2^8 buckets, as upstream IPVS.
pub(crate) const MIN_BITS: u32 = LOCK_BITS;
/// The largest table the bucket numbering allows.
pub(crate) const MAX_BITS: u32 = 30;

/// The link an entry embeds.
pub(crate) struct Link {
    /// Next entry's `Link`, or a nulls marker (odd).
    next: AtomicUsize,
    /// The `next` (or bucket head) that points here; writers only.
    pprev: AtomicPtr<AtomicUsize>,
}

impl Link {
    /// A link on no list.
    pub(crate) const fn new() -> Self {
        Self {
            next: AtomicUsize::new(0),
            pprev: AtomicPtr::new(ptr::null_mut()),
        }
    }
}

impl Default for Link {
    fn default() -> Self {
        Self::new()
    }
}

/// A bucket: the first entry's `Link` or the bucket's nulls marker.
#[repr(transparent)]
pub(crate) struct Head(AtomicUsize);

impl Head {
    /// A bucket to be set up by the table.
    pub(crate) const fn new() -> Self {
        Self(AtomicUsize::new(0))
    }
}

impl Default for Head {
    fn default() -> Self {
        Self::new()
    }
}

/// An entry type of a [`Table`].
///
/// # Safety
///
/// `LINK` is the offset of a [`Link`] inside `Self`, and `hash` returns the
/// same value for the whole time the entry is in a table.
pub(crate) unsafe trait Linked: Sync {
    /// Offset of the entry's [`Link`].
    const LINK: usize;
    /// The entry's hash.
    fn hash(&self) -> u32;
}

/// Proof of an RCU read-side critical section while it lives.
///
/// # Safety
///
/// While a value of the implementing type exists, an RCU grace period
/// cannot end (in the kernel: `rcu_read_lock` or bottom halves disabled).
pub(crate) unsafe trait ReadSide {}

/// Bucket memory, owned by the table while it uses it.
pub(crate) trait Buckets: Send + Sync {
    /// The buckets; their address must not change while `self` lives.
    fn heads(&self) -> &[Head];
}

/// The table's locks: [`LOCKS`] of them.
pub(crate) trait Locks: Sync {
    /// Holds a lock until dropped.
    type Guard<'a>
    where
        Self: 'a;
    /// Takes lock `i` (< [`LOCKS`]).
    fn lock(&self, i: usize) -> Self::Guard<'_>;
}

const NO_SLOT: usize = usize::MAX;

/// One of the two bucket arrays a table may have at once.
struct Slot<B> {
    /// First bucket, NULL when the slot is free.
    heads: AtomicPtr<Head>,
    bits: AtomicU32,
    /// The memory behind `heads`: only the resizer touches it (`busy`).
    owner: UnsafeCell<Option<B>>,
}

/// Where a resize stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Old buckets remain: call [`Table::migrate`] again.
    More,
    /// Everything moved; the old array awaits a grace period before
    /// [`Table::retire`].
    Switched,
}

/// A resizable table of `T`.
///
/// # Invariants
///
/// Slot `cur` always holds buckets. An entry is on a chain of the slot
/// `ins` pointed to when it was inserted, or of slot `ins` after a
/// migration moved it: while `ins != cur`, old buckets below `moved` are
/// empty. Every chain change happens under the lock of the hash's top
/// [`LOCK_BITS`] bits. A slot's buckets are freed only after its `heads`
/// went NULL and a grace period passed.
pub(crate) struct Table<T: Linked, B: Buckets, L: Locks> {
    slots: [Slot<B>; 2],
    /// The slot lookups search first.
    cur: AtomicUsize,
    /// The slot new entries go to (`cur` unless resizing).
    ins: AtomicUsize,
    /// Old buckets already moved (resizer only).
    moved: AtomicUsize,
    /// The slot whose buckets await a grace period, or `NO_SLOT`.
    retiring: AtomicUsize,
    /// Serialises resizers.
    busy: AtomicBool,
    locks: L,
    _entries: PhantomData<*const T>,
}

// SAFETY: entries are `Sync` and reached through atomics; the bucket owner
// cells are only touched by the one resizer `busy` admits.
unsafe impl<T: Linked, B: Buckets, L: Locks> Sync for Table<T, B, L> {}
// SAFETY: as above; nothing is tied to a thread.
unsafe impl<T: Linked, B: Buckets, L: Locks> Send for Table<T, B, L> {}

fn marker(slot: usize, bucket: usize) -> usize {
    bucket << 2 | slot << 1 | 1
}

fn is_marker(v: usize) -> bool {
    v & 1 != 0
}

fn bucket_of(hash: u32, bits: u32) -> usize {
    (u64::from(hash) >> (32 - bits)) as usize
}

fn lock_of(hash: u32) -> usize {
    (hash >> (32 - LOCK_BITS)) as usize
}

/// Holds the resizer's role until dropped.
struct Busy<'a>(&'a AtomicBool);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<T: Linked, B: Buckets, L: Locks> Table<T, B, L> {
    /// A table on `buckets` (a power of two, at least 2^[`MIN_BITS`]).
    pub(crate) fn new(buckets: B, locks: L) -> Self {
        let bits = buckets.heads().len().trailing_zeros();
        assert!(buckets.heads().len().is_power_of_two() && (MIN_BITS..=MAX_BITS).contains(&bits));
        for (i, h) in buckets.heads().iter().enumerate() {
            h.0.store(marker(0, i), Ordering::Relaxed);
        }
        let slot = |b: Option<B>| Slot {
            heads: AtomicPtr::new(
                b.as_ref()
                    .map_or(ptr::null_mut(), |b| b.heads().as_ptr().cast_mut()),
            ),
            bits: AtomicU32::new(bits),
            owner: UnsafeCell::new(b),
        };
        Self {
            slots: [slot(Some(buckets)), slot(None)],
            cur: AtomicUsize::new(0),
            ins: AtomicUsize::new(0),
            moved: AtomicUsize::new(0),
            retiring: AtomicUsize::new(NO_SLOT),
            busy: AtomicBool::new(false),
            locks,
            _entries: PhantomData,
        }
    }

    /// The locks.
    pub(crate) fn locks(&self) -> &L {
        &self.locks
    }

    /// Bits of the current bucket array (the one new entries go to).
    pub(crate) fn bits(&self) -> u32 {
        self.slots[self.ins.load(Ordering::Acquire)]
            .bits
            .load(Ordering::Relaxed)
    }

    /// Whether a resize is under way (its old array not yet retired).
    pub(crate) fn resizing(&self) -> bool {
        self.ins.load(Ordering::Acquire) != self.cur.load(Ordering::Acquire)
            || self.retiring.load(Ordering::Acquire) != NO_SLOT
    }

    /// The buckets of slot `s`, if in use, with their bits.
    fn heads(&self, s: usize) -> Option<(&[Head], u32)> {
        let p = self.slots[s].heads.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        let bits = self.slots[s].bits.load(Ordering::Relaxed);
        // SAFETY: a non-NULL `heads` points at the `1 << bits` buckets of
        // the slot's owner, which are freed only after `heads` went NULL
        // and a grace period passed: every caller is in a read-side
        // section (or holds a bucket lock, which also blocks the resizer
        // from switching before it is released).
        Some((unsafe { core::slice::from_raw_parts(p, 1 << bits) }, bits))
    }

    fn entry<'a>(link: usize) -> &'a T {
        // SAFETY: a non-marker chain value is the address of the `Link` of
        // a `T` (`LINK` is its offset, per `Linked`), alive until a grace
        // period after its removal; callers hold a read-side section or
        // the chain's lock.
        unsafe { &*(link as *const u8).sub(T::LINK).cast::<T>() }
    }

    fn link(e: &T) -> &Link {
        // SAFETY: `LINK` is the offset of a `Link` in `T` (`Linked`).
        unsafe { &*(e as *const T).cast::<u8>().add(T::LINK).cast::<Link>() }
    }

    /// Finds an entry with `hash` that `pred` accepts.
    pub(crate) fn find<'a, R: ReadSide>(
        &'a self,
        _rcu: &'a R,
        hash: u32,
        mut pred: impl FnMut(&T) -> bool,
    ) -> Option<&'a T> {
        'again: loop {
            let first = self.cur.load(Ordering::Acquire);
            for s in [first, first ^ 1] {
                let Some((heads, bits)) = self.heads(s) else {
                    continue;
                };
                let b = bucket_of(hash, bits);
                let mut v = heads[b].0.load(Ordering::Acquire);
                while !is_marker(v) {
                    let e = Self::entry(v);
                    if e.hash() == hash && pred(e) {
                        return Some(e);
                    }
                    v = Self::link(e).next.load(Ordering::Acquire);
                }
                // A moved entry led to another chain: what followed it on
                // ours was skipped.
                if v != marker(s, b) {
                    continue 'again;
                }
            }
            return None;
        }
    }

    /// Adds `e`.
    ///
    /// # Safety
    ///
    /// `e` is in no table, does not move, and lives until a grace period
    /// after its [`Table::remove`].
    pub(crate) unsafe fn insert(&self, e: &T) {
        let hash = e.hash();
        let _g = self.locks.lock(lock_of(hash));
        // Under the lock: a resizer publishes its slot before it locks any
        // bucket, so `ins` cannot name a slot whose bucket for this hash
        // was moved already.
        let s = self.ins.load(Ordering::Acquire);
        // The insert slot always has buckets (type invariant).
        if let Some((heads, bits)) = self.heads(s) {
            Self::push(&heads[bucket_of(hash, bits)], Self::link(e));
        }
    }

    /// Links `l` first on `head`. Caller holds the chain's lock.
    fn push(head: &Head, l: &Link) {
        let first = head.0.load(Ordering::Relaxed);
        l.next.store(first, Ordering::Relaxed);
        l.pprev
            .store(ptr::from_ref(&head.0).cast_mut(), Ordering::Relaxed);
        if !is_marker(first) {
            Self::link(Self::entry(first))
                .pprev
                .store(ptr::from_ref(&l.next).cast_mut(), Ordering::Relaxed);
        }
        // Publishes the entry (`rcu_assign_pointer`).
        head.0.store(ptr::from_ref(l) as usize, Ordering::Release);
    }

    /// Takes `l` off its chain; its `next` stays for readers on it.
    /// Caller holds the chain's lock.
    fn unlink(l: &Link) {
        let next = l.next.load(Ordering::Relaxed);
        let pprev = l.pprev.load(Ordering::Relaxed);
        // SAFETY: a linked entry's `pprev` points at the `next` of the
        // entry before it or at its bucket head, both alive while it is
        // linked (the lock is held).
        unsafe { &*pprev }.store(next, Ordering::Release);
        if !is_marker(next) {
            Self::link(Self::entry(next))
                .pprev
                .store(pprev, Ordering::Relaxed);
        }
        l.pprev.store(ptr::null_mut(), Ordering::Relaxed);
    }

    /// Removes `e`; readers may still see it until a grace period passed.
    ///
    /// # Safety
    ///
    /// `e` was inserted in this table and not removed since.
    pub(crate) unsafe fn remove(&self, e: &T) {
        let _g = self.locks.lock(lock_of(e.hash()));
        Self::unlink(Self::link(e));
    }

    /// Calls `f` on the entries whose hash is `from` or more, in hash
    /// order of buckets, each entry once even across resizes. When `f`
    /// returns `false` the walk finishes the current range of hashes and
    /// returns where to resume (`None`: done). Each range is walked under
    /// its lock, with bottom halves disabled in the kernel: `f` must be
    /// short and must not sleep.
    pub(crate) fn walk<R: ReadSide>(
        &self,
        rcu: &R,
        from: u64,
        f: impl FnMut(&T) -> bool,
    ) -> Option<u64> {
        self.walk_range(rcu, from, 1 << 32, f)
    }

    /// [`Table::walk`] of the hashes from `from` below `to` only; returns
    /// where to resume, `None` once `to` is reached.
    pub(crate) fn walk_range<R: ReadSide>(
        &self,
        _rcu: &R,
        from: u64,
        to: u64,
        mut f: impl FnMut(&T) -> bool,
    ) -> Option<u64> {
        let to = to.min(1 << 32);
        let mut pos = from;
        while pos < to {
            let _g = self.locks.lock(lock_of(pos as u32));
            // Under the lock nothing moves in this lock's range: each
            // entry is on exactly one chain of the slots in use.
            let live = [self.heads(0), self.heads(1)];
            // One bucket of the coarser array: each chain is walked once
            // (its entries below `pos` were seen before a resize).
            let unit = live
                .iter()
                .flatten()
                .map(|&(_, b)| b)
                .min()
                .unwrap_or(MIN_BITS);
            let end = (((pos >> (32 - unit)) + 1) << (32 - unit)).min(to);
            let mut more = true;
            for (heads, bits) in live.into_iter().flatten() {
                let first = bucket_of(pos as u32, bits);
                let last = bucket_of((end - 1) as u32, bits);
                for head in &heads[first..=last] {
                    let mut v = head.0.load(Ordering::Acquire);
                    while !is_marker(v) {
                        let e = Self::entry(v);
                        if (pos..end).contains(&u64::from(e.hash())) {
                            more &= f(e);
                        }
                        v = Self::link(e).next.load(Ordering::Acquire);
                    }
                }
            }
            pos = end;
            if !more {
                break;
            }
        }
        (pos < to).then_some(pos)
    }

    /// Counts the chains of each length in the bucket arrays in use,
    /// the last count taking the longer ones too (for
    /// `/proc/net/ip_vs_status`; a resize meanwhile makes it approximate).
    pub(crate) fn chain_lengths<R: ReadSide, const N: usize>(&self, _rcu: &R) -> [u32; N] {
        let mut counts = [0u32; N];
        for (heads, _) in [self.heads(0), self.heads(1)].into_iter().flatten() {
            for head in heads {
                let mut len = 0;
                let mut v = head.0.load(Ordering::Acquire);
                while !is_marker(v) && len + 1 < N {
                    len += 1;
                    v = Self::link(Self::entry(v)).next.load(Ordering::Acquire);
                }
                if let Some(c) = counts.get_mut(len) {
                    *c += 1;
                }
            }
        }
        counts
    }

    fn claim(&self) -> Option<Busy<'_>> {
        self.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Busy(&self.busy))
    }

    /// Starts moving the entries to `buckets` (a power of two between
    /// 2^[`MIN_BITS`] and 2^[`MAX_BITS`]). Gives them back if a resize is
    /// under way or another resizer is busy.
    pub(crate) fn start(&self, buckets: B) -> Result<(), B> {
        let n = buckets.heads().len();
        let bits = n.trailing_zeros();
        if !n.is_power_of_two() || !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(buckets);
        }
        let Some(_busy) = self.claim() else {
            return Err(buckets);
        };
        // Checked as the resizer: another may have started since.
        if self.resizing() {
            return Err(buckets);
        }
        let s = self.cur.load(Ordering::Relaxed) ^ 1;
        for (i, h) in buckets.heads().iter().enumerate() {
            h.0.store(marker(s, i), Ordering::Relaxed);
        }
        let slot = &self.slots[s];
        let heads = buckets.heads().as_ptr().cast_mut();
        // SAFETY: `busy` is held, the only access to owners; the slot is
        // free (not resizing), so no reader uses what it held.
        unsafe { *slot.owner.get() = Some(buckets) };
        slot.bits.store(bits, Ordering::Relaxed);
        slot.heads.store(heads, Ordering::Release);
        self.moved.store(0, Ordering::Relaxed);
        // Before any bucket lock of the move is taken (see `insert`).
        self.ins.store(s, Ordering::Release);
        Ok(())
    }

    /// Moves up to `max` old buckets (at least one). Returns
    /// [`Step::Switched`] once all moved and lookups start at the new
    /// array, and also when there is nothing to move.
    pub(crate) fn migrate(&self, max: usize) -> Step {
        let Some(_busy) = self.claim() else {
            return Step::More;
        };
        let old = self.cur.load(Ordering::Relaxed);
        let new = self.ins.load(Ordering::Relaxed);
        if old == new {
            return Step::Switched;
        }
        // Both slots have buckets while moving (type invariant).
        let (Some((from, from_bits)), Some((to, to_bits))) = (self.heads(old), self.heads(new))
        else {
            return Step::Switched;
        };
        // Old bucket `i`'s lock: the top LOCK_BITS of its hashes.
        let lock_shift = from_bits - LOCK_BITS;
        let mut i = self.moved.load(Ordering::Relaxed);
        let stop = from.len().min(i + max.max(1));
        while i < stop {
            let _g = self.locks.lock(i >> lock_shift);
            let head = &from[i].0;
            loop {
                let v = head.load(Ordering::Relaxed);
                if is_marker(v) {
                    break;
                }
                let e = Self::entry(v);
                let l = Self::link(e);
                let next = l.next.load(Ordering::Relaxed);
                // Into the new chain first, then off the old one: a reader
                // that no longer sees it on the old chain finds it on the
                // new one; one still on it is led to a foreign marker.
                Self::push(&to[bucket_of(e.hash(), to_bits)], l);
                head.store(next, Ordering::Release);
                if !is_marker(next) {
                    Self::link(Self::entry(next))
                        .pprev
                        .store(ptr::from_ref(head).cast_mut(), Ordering::Relaxed);
                }
            }
            i += 1;
        }
        self.moved.store(i, Ordering::Relaxed);
        if i < from.len() {
            return Step::More;
        }
        self.cur.store(new, Ordering::Release);
        self.slots[old]
            .heads
            .store(ptr::null_mut(), Ordering::Release);
        self.retiring.store(old, Ordering::Release);
        Step::Switched
    }

    /// Gives back the old buckets of a finished resize.
    ///
    /// # Safety
    ///
    /// A grace period has passed since [`Table::migrate`] returned
    /// [`Step::Switched`].
    pub(crate) unsafe fn retire(&self) -> Option<B> {
        let _busy = self.claim()?;
        let s = self.retiring.load(Ordering::Relaxed);
        if s == NO_SLOT {
            return None;
        }
        // SAFETY: `busy` is held; `heads` went NULL when the slot retired
        // and a grace period has passed (caller), so no reader is left.
        let b = unsafe { (*self.slots[s].owner.get()).take() };
        self.retiring.store(NO_SLOT, Ordering::Release);
        b
    }
}

/// The bucket bits a table of `count` entries should have at load factor
/// `lfactor` (2^lfactor entries per bucket, as upstream's `conn_lfactor`),
/// within `MIN_BITS..=max_bits`; `None` to stay at `bits`. Grows as soon as
/// the load passes the factor, shrinks when it falls below a quarter of
/// it, to twice the size the load needs: a table that grew does not
/// shrink back until it lost three quarters of its entries.
pub(crate) fn wanted_bits(count: usize, lfactor: i32, bits: u32, max_bits: u32) -> Option<u32> {
    wanted_bits_in(
        count,
        lfactor,
        bits,
        MIN_BITS,
        max_bits.clamp(MIN_BITS, MAX_BITS),
    )
}

/// [`wanted_bits`] within `min_bits..=max_bits`.
pub(crate) fn wanted_bits_in(
    count: usize,
    lfactor: i32,
    bits: u32,
    min_bits: u32,
    max_bits: u32,
) -> Option<u32> {
    // Buckets the load needs: count / 2^lfactor, rounded up.
    let need = if lfactor < 0 {
        (count as u64) << lfactor.unsigned_abs().min(16)
    } else {
        (count as u64).div_ceil(1 << lfactor.min(16))
    };
    let fit = 64 - need.saturating_sub(1).leading_zeros();
    let target = if fit > bits {
        fit.min(max_bits)
    } else if fit + 2 <= bits {
        (fit + 1).max(min_bits)
    } else {
        bits
    };
    (target != bits).then_some(target)
}

/// The largest table for a `conn_tab_bits`-like parameter `param` on a
/// machine of `ram` bytes: 2^8 to 2^27 buckets (upstream's range on
/// 64-bit), and buckets of 8 bytes taking at most a 16th of the memory.
pub(crate) fn max_bits(param: i32, ram: u64) -> u32 {
    let by_ram = (63 - ram.max(1).leading_zeros()).saturating_sub(7);
    let top = by_ram.clamp(MIN_BITS, 27);
    (param.max(0) as u32).clamp(MIN_BITS, top)
}

/// The entry counts at which a table of `bits` should resize: grow above
/// the first, shrink below the second (see [`wanted_bits`]).
pub(crate) fn thresholds(lfactor: i32, bits: u32, max_bits: u32) -> (usize, usize) {
    let cap = |b: u32| -> u64 {
        if lfactor < 0 {
            (1u64 << b) >> lfactor.unsigned_abs().min(16)
        } else {
            (1u64 << b) << lfactor.min(16)
        }
    };
    let grow = if bits >= max_bits.clamp(MIN_BITS, MAX_BITS) {
        u64::MAX
    } else {
        cap(bits)
    };
    let shrink = if bits <= MIN_BITS { 0 } else { cap(bits - 2) };
    let c = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    (c(grow), c(shrink))
}
