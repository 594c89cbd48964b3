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

// SAFETY: a grace period cannot end while `rcu_read_lock` is held.
unsafe impl super::rhash::ReadSide for ReadGuard {}

/// Waits until every RCU reader that started before has finished
/// (`synchronize_rcu`); process context only.
pub(crate) fn synchronize() {
    // SAFETY: no memory is touched; sleeping where that is not allowed is
    // a bug `might_sleep` reports, not undefined behaviour.
    unsafe { bindings::synchronize_rcu() }
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        // SAFETY: the guard proves a matching `rcu_read_lock` on this task.
        unsafe { bindings::ipvs_rs_rcu_read_unlock() };
    }
}

/// An `rcu_head` embedded in an object freed after a grace period.
#[repr(transparent)]
pub(crate) struct Head(kernel::types::Opaque<bindings::callback_head>);

// SAFETY: the head is only handed to `call_rcu`, which is thread-safe.
unsafe impl Sync for Head {}
// SAFETY: as above.
unsafe impl Send for Head {}

/// An RCU callback: gets the head that was queued.
pub(crate) type Callback = unsafe extern "C" fn(*mut bindings::callback_head);

impl Head {
    /// A head for later use with [`Head::call`].
    pub(crate) const fn uninit() -> Self {
        Self(kernel::types::Opaque::uninit())
    }

    /// Runs `f` on this head after a grace period.
    ///
    /// # Safety
    ///
    /// The head must not be queued already, must not move, and its object
    /// must stay alive until `f` runs; `f` must be safe to run in softirq.
    pub(crate) unsafe fn call(&self, f: Callback) {
        // SAFETY: per the caller.
        unsafe { bindings::call_rcu(self.0.get(), Some(f)) }
    }

    /// Raw pointer, for container-of computations.
    pub(crate) fn as_ptr(&self) -> *mut bindings::callback_head {
        self.0.get()
    }
}

/// Waits until every callback queued with [`Head::call`] has run.
pub(crate) fn barrier() {
    // SAFETY: no preconditions; may sleep (callers run in process context).
    unsafe { bindings::rcu_barrier() }
}

/// Waits on drop until every RCU callback queued before has run, so that
/// a module's callbacks are done before its code goes.
pub(crate) struct Barrier;

impl Drop for Barrier {
    fn drop(&mut self) {
        barrier();
    }
}
