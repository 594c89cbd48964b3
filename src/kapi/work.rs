// SPDX-License-Identifier: GPL-2.0

//! Work items (`struct work_struct`) embedded in objects the caller
//! manages, run on the unbound system workqueue.

use crate::bindings;
use kernel::types::Opaque;

/// A work item embedded in a larger object; the object's owner guarantees
/// that the object outlives the work ([`Work::cancel_sync`] before it
/// goes).
#[repr(transparent)]
pub(crate) struct Work(Opaque<bindings::work_struct>);

// SAFETY: workqueue operations are thread-safe in the kernel.
unsafe impl Sync for Work {}
// SAFETY: a work item is not tied to the thread that set it up.
unsafe impl Send for Work {}

/// A work function: gets the work item that runs.
pub(crate) type Callback = unsafe extern "C" fn(*mut bindings::work_struct);

impl Work {
    /// An uninitialised work item; [`Work::init`] must run before use.
    pub(crate) const fn uninit() -> Self {
        Self(Opaque::uninit())
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

    /// Queues the item unless it is queued already (a running item is
    /// queued again). Returns whether this call queued it.
    pub(crate) fn queue(&self) -> bool {
        // SAFETY: initialised (owners run `init` before sharing it).
        unsafe { bindings::ipvs_rs_work_queue(self.0.get()) }
    }

    /// Dequeues the item and waits for a running one to finish. The
    /// caller must keep it from being queued again meanwhile.
    pub(crate) fn cancel_sync(&self) {
        // SAFETY: as in `queue`; may sleep (process context callers).
        unsafe { bindings::cancel_work_sync(self.0.get()) };
    }

    /// Waits until the item, if queued or running, has finished
    /// (`flush_work`); process context.
    pub(crate) fn flush(&self) {
        // SAFETY: as in `queue`; may sleep (process context callers).
        unsafe { bindings::flush_work(self.0.get()) };
    }

    /// Raw pointer, for container-of computations in callbacks.
    pub(crate) fn as_ptr(&self) -> *mut bindings::work_struct {
        self.0.get()
    }
}
