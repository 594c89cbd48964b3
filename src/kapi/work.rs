// SPDX-License-Identifier: GPL-2.0

//! Work items (`struct work_struct`) embedded in objects the caller
//! manages, run on the unbound system workqueue.

use crate::bindings;
use kernel::types::Opaque;

/// A work item embedded in a larger object; the object's owner guarantees
/// that the object outlives the work ([`Work::cancel_sync`] before it
/// goes).
///
/// # Invariants
///
/// The `work_struct` is all zeroes until [`Work::init`] sets it up, so its
/// `func` is set exactly when it was set up.
#[repr(transparent)]
pub(crate) struct Work(Opaque<bindings::work_struct>);

// SAFETY: workqueue operations are thread-safe in the kernel.
unsafe impl Sync for Work {}
// SAFETY: a work item is not tied to the thread that set it up.
unsafe impl Send for Work {}

/// A type with an embedded [`Work`] set up by [`Work::init_for`]; `ID`
/// tells several items of one type apart.
///
/// # Safety
///
/// `OFFSET` must be the offset of a [`Work`] field of `Self`.
pub(crate) unsafe trait HasWork<const ID: u8>: Sized {
    /// Where the item is in `Self` (`offset_of!`).
    const OFFSET: usize;

    /// The item runs (process context).
    fn work_run(this: &Self);
}

/// The C function of [`Work::init_for`].
///
/// # Safety
///
/// Called by the workqueue only, for an item set up by
/// [`Work::init_for::<T, ID>`](Work::init_for).
unsafe extern "C" fn run_for<T: HasWork<ID>, const ID: u8>(w: *mut bindings::work_struct) {
    // SAFETY: the item is the field at `T::OFFSET` of a `T` that outlives
    // the run (`init_for`'s contract).
    let this = unsafe { &*w.cast::<u8>().sub(T::OFFSET).cast::<T>() };
    T::work_run(this);
}

/// A work function: gets the work item that runs.
pub(crate) type Callback = unsafe extern "C" fn(*mut bindings::work_struct);

impl Work {
    /// A work item not set up yet: [`Work::init`] must run before it is
    /// queued. Cancelling or flushing it before that does nothing (an
    /// owner whose construction failed half-way drops it so).
    pub(crate) fn uninit() -> Self {
        // All zeroes: not set up (type invariant).
        Self(Opaque::new(bindings::work_struct::default()))
    }

    /// Whether [`Work::init`] ran.
    fn is_set_up(&self) -> bool {
        // SAFETY: `func` is written by `init` only, before the item is
        // shared (its safety contract); a plain read of a live field.
        unsafe { (*self.0.get()).func.is_some() }
    }

    /// Sets the item up to run `f`, not queued.
    ///
    /// # Safety
    ///
    /// The item is not queued or running, and does not move afterwards.
    pub(crate) unsafe fn init(&self, f: Callback) {
        // SAFETY: per the caller.
        unsafe { bindings::ipvs_rs_work_init(self.0.get(), Some(f)) }
    }

    /// Sets the item up to run `T`'s [`HasWork::work_run`] with the `T`
    /// it is embedded in, not queued.
    ///
    /// # Safety
    ///
    /// As [`Work::init`]; and `self` must be the item at
    /// [`HasWork::OFFSET`] of a `T` that outlives every run (its owner
    /// cancels the item before it goes).
    pub(crate) unsafe fn init_for<T: HasWork<ID>, const ID: u8>(&self) {
        // SAFETY: per the caller.
        unsafe { self.init(run_for::<T, ID>) }
    }

    /// Queues the item unless it is queued already (a running item is
    /// queued again). Returns whether this call queued it.
    pub(crate) fn queue(&self) -> bool {
        // SAFETY: initialised (owners run `init` before sharing it).
        unsafe { bindings::ipvs_rs_work_queue(self.0.get()) }
    }

    /// Dequeues the item and waits for a running one to finish. The
    /// caller must keep it from being queued again meanwhile.
    pub(crate) fn cancel_sync(&self) {
        // Never set up, so never queued.
        if !self.is_set_up() {
            return;
        }
        // SAFETY: set up (checked); may sleep (process context callers).
        unsafe { bindings::cancel_work_sync(self.0.get()) };
    }

    /// Waits until the item, if queued or running, has finished
    /// (`flush_work`); process context.
    pub(crate) fn flush(&self) {
        if !self.is_set_up() {
            return;
        }
        // SAFETY: set up (checked); may sleep (process context callers).
        unsafe { bindings::flush_work(self.0.get()) };
    }

    /// Raw pointer, for container-of computations in callbacks.
    pub(crate) fn as_ptr(&self) -> *mut bindings::work_struct {
        self.0.get()
    }
}
