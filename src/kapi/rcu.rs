// SPDX-License-Identifier: GPL-2.0

//! RCU read-side critical sections.

use crate::bindings;
use core::marker::PhantomData;

/// An RCU read-side critical section, held until the guard is dropped.
///
/// Not `Send`: it must be released on the CPU/task that took it.
pub(crate) struct ReadGuard(PhantomData<*mut ()>);

/// Enters an RCU read-side critical section.
pub(crate) fn read_lock() -> ReadGuard {
    // SAFETY: `rcu_read_lock` has no preconditions; the guard releases it.
    unsafe { bindings::ipvs_rs_rcu_read_lock() };
    ReadGuard(PhantomData)
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        // SAFETY: the guard proves a matching `rcu_read_lock` on this task.
        unsafe { bindings::ipvs_rs_rcu_read_unlock() };
    }
}
