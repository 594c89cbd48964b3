// SPDX-License-Identifier: GPL-2.0

//! RCU read-side critical sections.

use crate::bindings;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;

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

/// A type with an embedded [`Head`] queued by [`Head::call_for`].
///
/// # Safety
///
/// `OFFSET` must be the offset of a [`Head`] field of `Self`.
pub(crate) unsafe trait HasRcuHead: Sized {
    /// Where the head is in `Self` (`offset_of!`).
    const OFFSET: usize;

    /// A grace period passed since [`Head::call_for`] (softirq context);
    /// the caller of that handed `this` over.
    fn rcu_done(this: NonNull<Self>);
}

/// The C callback of [`Head::call_for`].
///
/// # Safety
///
/// Called by RCU only, for a head queued by
/// [`Head::call_for::<T>`](Head::call_for).
unsafe extern "C" fn done_for<T: HasRcuHead>(h: *mut bindings::callback_head) {
    // SAFETY: the head is the field at `T::OFFSET` of a `T` kept alive
    // until now (`call_for`'s contract); non-null.
    let this = unsafe { NonNull::new_unchecked(h.cast::<u8>().sub(T::OFFSET).cast::<T>()) };
    T::rcu_done(this);
}

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

    /// Runs `T`'s [`HasRcuHead::rcu_done`] with the `T` this head is
    /// embedded in, after a grace period.
    ///
    /// # Safety
    ///
    /// As [`Head::call`]; and `self` must be the head at
    /// [`HasRcuHead::OFFSET`] of a `T`.
    pub(crate) unsafe fn call_for<T: HasRcuHead>(&self) {
        // SAFETY: per the caller.
        unsafe { self.call(done_for::<T>) }
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
        // Twice: a callback may queue one more (a connection or a view
        // freed drops a real server, whose route entry goes by RCU too),
        // which the first barrier need not wait for.
        barrier();
        barrier();
    }
}

/// A value that readers reach under RCU (`rcu_dereference`) and its owner
/// replaces whole (`rcu_assign_pointer`); a replaced value is dropped
/// after a grace period, in an RCU callback (softirq), so `T`'s drop must
/// not sleep.
///
/// # Invariants
///
/// `ptr` is null or comes from [`KBox::into_raw`] of a `Node<T>`, owned by
/// this value until it is swapped out and queued to be freed.
pub(crate) struct Pointer<T: Send + Sync> {
    ptr: AtomicPtr<Node<T>>,
}

/// A published value with the head of its delayed free.
#[repr(C)]
struct Node<T> {
    /// First, so that the callback's head is the node.
    head: Head,
    value: T,
}

impl<T: Send + Sync> Pointer<T> {
    /// Nothing published yet.
    pub(crate) const fn new() -> Self {
        Self {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// The value published now, for as long as `_rcu` holds the read
    /// side.
    pub(crate) fn get<'a, R: super::rhash::ReadSide>(&'a self, _rcu: &'a R) -> Option<&'a T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: by the type invariant a non-null `p` is a live node; it
        // is freed only after a grace period that starts once it was
        // swapped out, which `_rcu`'s read side (held for `'a`) delays.
        unsafe { p.as_ref() }.map(|n| &n.value)
    }

    /// Publishes `v`; the value it replaces goes after a grace period.
    pub(crate) fn set(&self, v: T) -> Result<(), super::list::NoMem> {
        let node = KBox::new(
            Node {
                head: Head::uninit(),
                value: v,
            },
            GFP_ATOMIC,
        )
        .map_err(|_| super::list::NoMem)?;
        let old = self.ptr.swap(KBox::into_raw(node), Ordering::AcqRel);
        Self::retire(old);
        Ok(())
    }

    /// Frees `old` (swapped out, so no longer reachable to new readers)
    /// after a grace period.
    fn retire(old: *mut Node<T>) {
        // SAFETY: by the type invariant a non-null `old` is a live node;
        // the swap that took it out made this its only owner.
        let Some(n) = (unsafe { old.as_ref() }) else {
            return;
        };
        // SAFETY: the node is boxed (it does not move), its head was never
        // queued, and it lives until `free::<T>` frees it, once.
        unsafe { n.head.call(free::<T>) };
    }
}

impl<T: Send + Sync> Drop for Pointer<T> {
    fn drop(&mut self) {
        // Readers of this pointer may still be in their read side.
        Self::retire(self.ptr.swap(core::ptr::null_mut(), Ordering::AcqRel));
    }
}

/// Frees a [`Pointer`]'s node.
///
/// # Safety
///
/// `head` is the head of a `Node<T>` that [`Pointer::retire`] queued.
unsafe extern "C" fn free<T>(head: *mut bindings::callback_head) {
    // SAFETY: `Node` is `repr(C)` with the head first, and per the caller
    // the node came from `KBox::into_raw` and is freed only here.
    drop(unsafe { KBox::from_raw(head.cast::<Node<T>>()) });
}
