// SPDX-License-Identifier: GPL-2.0

//! A growable list for the pure-logic files: the kernel twin of
//! `host/src/list.rs` (same API over `std`'s `Vec`).
//!
//! Allocations are atomic: the tables live under a BH spinlock that the
//! packet path takes too.

use super::sync::{SpinLockBh, SpinLockBhBackend};
use kernel::prelude::*;

/// Allocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NoMem;

/// A vector with the few operations the IPVS tables need.
#[derive(Debug)]
pub(crate) struct List<T>(KVec<T>);

impl<T> List<T> {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        Self(KVec::new())
    }

    /// Appends `v`.
    pub(crate) fn push(&mut self, v: T) -> Result<(), NoMem> {
        self.0.push(v, GFP_ATOMIC).map_err(|_| NoMem)
    }

    /// Puts `v` first.
    pub(crate) fn insert_first(&mut self, v: T) -> Result<(), NoMem> {
        self.push(v)?;
        self.0.rotate_right(1);
        Ok(())
    }

    /// Drops every element, keeping the memory for later pushes.
    pub(crate) fn clear(&mut self) {
        let len = self.0.len();
        let items = core::ptr::slice_from_raw_parts_mut(self.0.as_mut_ptr(), len);
        // SAFETY: the length goes to zero first, so the elements are
        // neither reachable nor dropped again; each is dropped once here.
        unsafe {
            self.0.set_len(0);
            core::ptr::drop_in_place(items);
        }
    }

    /// Takes out element `i`, keeping the order of the rest.
    pub(crate) fn remove(&mut self, i: usize) -> T {
        self.0[i..].rotate_left(1);
        let last = self.0.len() - 1;
        // SAFETY: `last` is in bounds; after reading it out we shrink the
        // length so it is not dropped twice.
        unsafe {
            let v = core::ptr::read(self.0.as_ptr().add(last));
            self.0.set_len(last);
            v
        }
    }
}

impl<T> core::ops::Deref for List<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> core::ops::DerefMut for List<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

/// A reference-counted value shared by the control plane and connections.
pub(crate) type Shared<T> = kernel::sync::Arc<T>;

/// Wraps `v` in a [`Shared`].
pub(crate) fn share<T>(v: T) -> Result<Shared<T>, NoMem> {
    kernel::sync::Arc::new(v, GFP_ATOMIC).map_err(|_| NoMem)
}

/// A value behind a lock of its own (`spin_lock_bh`, so that the packet
/// path and process context may both take it).
pub(crate) struct Locked<T>(Pin<KBox<SpinLockBh<T>>>);

/// A [`Locked`] value, held.
pub(crate) type Held<'a, T> = kernel::sync::lock::Guard<'a, T, SpinLockBhBackend>;

impl<T> Locked<T> {
    /// Puts `v` behind a new lock. All such locks are one lockdep class:
    /// nobody may hold two.
    pub(crate) fn new(v: T) -> Result<Self, NoMem> {
        KBox::pin_init(
            crate::new_spinlock_bh!(v, kernel::c_str!("ipvs_rs::locked")),
            GFP_ATOMIC,
        )
        .map(Self)
        .map_err(|_| NoMem)
    }

    /// Takes the lock until the guard drops.
    pub(crate) fn lock(&self) -> Held<'_, T> {
        self.0.lock()
    }
}
