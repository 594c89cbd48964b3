// SPDX-License-Identifier: GPL-2.0

//! Kernel timers (`struct timer_list`) embedded in objects the caller
//! manages, and `jiffies`.

use crate::bindings;
use kernel::types::Opaque;

/// The current `jiffies`.
pub(crate) fn jiffies() -> u64 {
    // SAFETY: reads a kernel variable.
    unsafe { bindings::ipvs_rs_jiffies() as u64 }
}

/// A timer embedded in a larger object; the object's owner decides when the
/// callback may run and guarantees the object outlives it.
#[repr(transparent)]
pub(crate) struct Timer(Opaque<bindings::timer_list>);

// SAFETY: timer operations are thread-safe in the kernel.
unsafe impl Sync for Timer {}
// SAFETY: a timer is not tied to the thread that set it up.
unsafe impl Send for Timer {}

/// A timer callback: gets the timer that fired.
pub(crate) type Callback = unsafe extern "C" fn(*mut bindings::timer_list);

impl Timer {
    /// An uninitialised timer; [`Timer::setup`] must run before any use.
    pub(crate) const fn uninit() -> Self {
        Self(Opaque::uninit())
    }

    /// Sets the timer up with `callback`, not pending.
    ///
    /// # Safety
    ///
    /// The timer must not be pending or running, and must not move after
    /// this call.
    pub(crate) unsafe fn setup(&self, callback: Callback) {
        // SAFETY: the caller guarantees the timer is idle and pinned.
        unsafe { bindings::ipvs_rs_timer_setup(self.0.get(), Some(callback)) }
    }

    /// Raw pointer, for container-of computations in callbacks.
    pub(crate) fn as_ptr(&self) -> *mut bindings::timer_list {
        self.0.get()
    }

    /// (Re)arms the timer to fire at `expires` (jiffies). Returns whether
    /// it was pending before.
    pub(crate) fn modify(&self, expires: u64) -> bool {
        // SAFETY: the timer was set up (every constructor of an owner runs
        // `setup` before sharing it).
        unsafe { bindings::mod_timer(self.0.get(), expires as _) != 0 }
    }

    /// Deactivates the timer if pending; does not wait for a running
    /// callback. Returns whether it was pending.
    pub(crate) fn delete(&self) -> bool {
        // SAFETY: as in `modify`.
        unsafe { bindings::timer_delete(self.0.get()) != 0 }
    }

    /// Deactivates the timer, waits for a running callback and makes later
    /// arming a no-op. Must not be called from the callback itself.
    pub(crate) fn shutdown_sync(&self) {
        // SAFETY: as in `modify`.
        unsafe { bindings::timer_shutdown_sync(self.0.get()) };
    }

    /// Whether the timer is pending.
    pub(crate) fn pending(&self) -> bool {
        // SAFETY: as in `modify`.
        unsafe { bindings::ipvs_rs_timer_pending(self.0.get()) }
    }
}
