// SPDX-License-Identifier: GPL-2.0

//! A spinlock that also disables bottom halves (`spin_lock_bh`), for data
//! that both process context and the packet path (softirq) touch. The
//! `kernel` crate of 6.12 has only the plain spinlock.

use crate::bindings;
use kernel::sync::lock::{Backend, Lock};

/// A [`Lock`] taken with `spin_lock_bh`.
pub(crate) type SpinLockBh<T> = Lock<T, SpinLockBhBackend>;

/// Creates a [`SpinLockBh`] initialiser with a static lock class.
#[macro_export]
macro_rules! new_spinlock_bh {
    ($inner:expr, $name:expr) => {
        kernel::sync::lock::Lock::<_, $crate::kapi::sync::SpinLockBhBackend>::new(
            $inner,
            $name,
            kernel::static_lock_class!(),
        )
    };
}

/// The `spin_lock_bh` backend.
pub(crate) struct SpinLockBhBackend;

// SAFETY: `spin_lock_bh` provides mutual exclusion (with bottom halves
// disabled on the local CPU) until the matching `spin_unlock_bh`; the guard
// state is empty because the unlock needs nothing from the lock.
unsafe impl Backend for SpinLockBhBackend {
    type State = kernel::bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut kernel::bindings::lock_class_key,
    ) {
        // SAFETY: the caller guarantees `ptr` is writable and `name`/`key`
        // live forever.
        unsafe { kernel::bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: the caller guarantees the lock was initialised.
        unsafe { bindings::ipvs_rs_spin_lock_bh(ptr.cast()) }
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: the caller owns the lock.
        unsafe { bindings::ipvs_rs_spin_unlock_bh(ptr.cast()) }
    }
}

/// A bare `spin_lock_bh` lock guarding data that lives beside it (hash
/// buckets), initialised in place. All such locks share one lock class.
#[repr(transparent)]
pub(crate) struct RawSpinLockBh(kernel::types::Opaque<bindings::spinlock>);

// SAFETY: a spinlock is meant to be shared between threads.
unsafe impl Sync for RawSpinLockBh {}
// SAFETY: as above.
unsafe impl Send for RawSpinLockBh {}

impl RawSpinLockBh {
    /// A lock to [`RawSpinLockBh::init`] in place.
    pub(crate) const fn uninit() -> Self {
        Self(kernel::types::Opaque::uninit())
    }

    /// Initialises the lock.
    ///
    /// # Safety
    ///
    /// Nobody uses the lock yet, and it must not move afterwards.
    pub(crate) unsafe fn init(&self) {
        // SAFETY: per the caller.
        unsafe { bindings::ipvs_rs_bucket_lock_init(self.0.get()) }
    }

    /// Takes the lock (bottom halves disabled) until the guard drops.
    pub(crate) fn lock(&self) -> RawGuard<'_> {
        // SAFETY: initialised (owners run `init` before sharing).
        unsafe { bindings::ipvs_rs_spin_lock_bh(self.0.get()) };
        RawGuard(self)
    }
}

/// Holds a [`RawSpinLockBh`].
pub(crate) struct RawGuard<'a>(&'a RawSpinLockBh);

impl Drop for RawGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock.
        unsafe { bindings::ipvs_rs_spin_unlock_bh(self.0 .0.get()) }
    }
}
