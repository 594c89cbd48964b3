// SPDX-License-Identifier: GPL-2.0

//! Kernel threads (`kthread_run`, `kthread_stop`) that borrow a context
//! their owner outlives.

use crate::bindings;
use core::ffi::{c_int, c_void, CStr};
use core::ptr::NonNull;
use kernel::error::{Error, Result};
use kernel::prelude::*;

/// What a kernel thread runs: `run` loops until [`should_stop`].
pub(crate) trait ThreadFn<C: Sync>: Send + Sync + Sized {
    /// The thread's body.
    fn run(&self, ctx: &C);
}

/// What the thread function gets.
struct Start<T, C> {
    data: T,
    ctx: *const C,
}

/// A running kernel thread; dropping it stops the thread and waits for it.
///
/// # Invariants
///
/// `task` is a started kthread whose task we hold a reference to; it runs
/// `T::run` on `start`, which stays allocated and in place until the
/// thread has returned (`drop` stops it first).
pub(crate) struct Kthread<T: ThreadFn<C>, C: Sync> {
    task: NonNull<bindings::task_struct>,
    start: Pin<KBox<Start<T, C>>>,
}

// SAFETY: the handle only stops the thread; `T` is `Send + Sync` and the
// context `Sync`.
unsafe impl<T: ThreadFn<C>, C: Sync> Send for Kthread<T, C> {}
// SAFETY: as above; `&Kthread` only reads `data`, which is `Sync`.
unsafe impl<T: ThreadFn<C>, C: Sync> Sync for Kthread<T, C> {}

impl<T: ThreadFn<C>, C: Sync> Kthread<T, C> {
    /// Starts a thread named `name` that runs `data.run(ctx)`.
    ///
    /// # Safety
    ///
    /// `ctx` must outlive the returned handle.
    pub(crate) unsafe fn start(data: T, ctx: &C, name: &CStr) -> Result<Self> {
        let start = KBox::pin(Start { data, ctx }, GFP_KERNEL)?;
        let arg = (&*start as *const Start<T, C>).cast_mut().cast::<c_void>();
        let name = name.as_ptr().cast();
        // SAFETY: `arg` points at `start`, pinned and kept until the thread
        // is stopped; `name` is NUL-terminated (copied by the kernel).
        let task = unsafe { bindings::ipvs_rs_kthread_run(Some(Self::main), arg, name) };
        if task.is_null() {
            return Err(ENOMEM);
        }
        let err = task as isize;
        if (-4095..0).contains(&err) {
            return Err(Error::from_errno(err as i32));
        }
        Ok(Self {
            // SAFETY: non-null and not an error pointer, checked above.
            task: unsafe { NonNull::new_unchecked(task) },
            start,
        })
    }

    /// The thread's data.
    pub(crate) fn data(&self) -> &T {
        &self.start.data
    }

    /// # Safety
    ///
    /// Called by the kthread core with the `arg` of `start`.
    unsafe extern "C" fn main(arg: *mut c_void) -> c_int {
        // SAFETY: `arg` is the pinned `Start` of `start`, alive until the
        // handle's drop has stopped this thread.
        let s = unsafe { &*arg.cast::<Start<T, C>>() };
        // SAFETY: the caller of `start` guarantees `ctx` outlives the
        // handle, which outlives this thread.
        s.data.run(unsafe { &*s.ctx });
        // Returning before being stopped is allowed: the handle holds a
        // reference to the task.
        0
    }
}

impl<T: ThreadFn<C>, C: Sync> Drop for Kthread<T, C> {
    fn drop(&mut self) {
        // SAFETY: a started thread whose task we hold a reference to (type
        // invariant); stopped and put once. `start` is freed after this.
        unsafe { bindings::ipvs_rs_kthread_stop(self.task.as_ptr()) };
    }
}

/// Whether the current kthread has been told to stop.
pub(crate) fn should_stop() -> bool {
    // SAFETY: only meaningful in a kthread, harmless elsewhere.
    unsafe { bindings::ipvs_rs_kthread_should_stop() }
}

/// Marks the current task as about to sleep, before it checks for work:
/// a wake-up after this point is not lost ([`sleep`] returns at once).
pub(crate) fn prepare_sleep() {
    // SAFETY: sets the current task's state; no preconditions.
    unsafe { bindings::ipvs_rs_set_current_interruptible() }
}

/// Undoes [`prepare_sleep`] when work turned up.
pub(crate) fn cancel_sleep() {
    // SAFETY: as above.
    unsafe { bindings::ipvs_rs_set_current_running() }
}

/// Sleeps up to `jiffies` after [`prepare_sleep`] (or until woken).
pub(crate) fn sleep(jiffies: u64) {
    // SAFETY: process context (a kthread); the state was set by
    // `prepare_sleep`.
    unsafe { bindings::ipvs_rs_schedule_timeout(jiffies.min(i64::MAX as u64) as _) };
}

/// Lets the scheduler run others if this task has run long (a loop over
/// a large table in process context).
pub(crate) fn cond_resched() {
    // SAFETY: process context; may sleep, no locks held by the callers.
    unsafe { bindings::ipvs_rs_cond_resched() }
}

/// Gives the current kthread the nice value `nice` (clamped to -20..19)
/// and the CPUs whose bits are set in `cpus` (the first 64; if none of
/// them exists, its CPUs stay as they are).
pub(crate) fn steer(nice: i32, cpus: u64) {
    // SAFETY: changes the current task's priority and affinity; process
    // context, no locks held (callers are kthread bodies).
    unsafe { bindings::ipvs_rs_kthread_steer(nice, cpus as _) };
}
