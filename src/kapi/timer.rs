// SPDX-License-Identifier: GPL-2.0

//! Kernel timers (`struct timer_list`) embedded in objects the caller
//! manages, and `jiffies`.

use crate::bindings;
use crate::kapi::work::Work;
use core::ptr::NonNull;
use kernel::types::Opaque;

/// The current `jiffies`.
pub(crate) fn jiffies() -> u64 {
    // SAFETY: `jiffies` is a kernel variable that lives forever; the
    // timer interrupt updates it, hence the volatile read (`READ_ONCE`),
    // of a whole aligned word.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(bindings::jiffies)) as u64 }
}

/// Sleeps at least `ms` milliseconds (`msleep`); process context only.
pub(crate) fn msleep(ms: u32) {
    // SAFETY: no memory is touched; sleeping where that is not allowed is
    // a bug `might_sleep` reports, not undefined behaviour.
    unsafe { bindings::msleep(ms) }
}

/// A timer embedded in a larger object; the object's owner decides when the
/// callback may run and guarantees the object outlives it.
///
/// # Invariants
///
/// The `timer_list` is all zeroes until [`Timer::setup`] sets it up, so its
/// `function` is set exactly when it was set up.
#[repr(transparent)]
pub(crate) struct Timer(Opaque<bindings::timer_list>);

// SAFETY: timer operations are thread-safe in the kernel.
unsafe impl Sync for Timer {}
// SAFETY: a timer is not tied to the thread that set it up.
unsafe impl Send for Timer {}

/// A type with an embedded [`Timer`] set up by [`Timer::setup_for`].
///
/// # Safety
///
/// `OFFSET` must be the offset of a [`Timer`] field of `Self`.
pub(crate) unsafe trait HasTimer: Sized {
    /// Where the timer is in `Self` (`offset_of!`).
    const OFFSET: usize;

    /// The timer fired (softirq context); `this` is alive (see
    /// [`Timer::setup_for`]).
    fn timer_fired(this: NonNull<Self>);
}

/// The C callback of [`Timer::setup_for`].
///
/// # Safety
///
/// Called by the timer core only, for a timer set up by
/// [`Timer::setup_for::<T>`](Timer::setup_for).
unsafe extern "C" fn fired_for<T: HasTimer>(t: *mut bindings::timer_list) {
    // SAFETY: the timer is the field at `T::OFFSET` of a live `T`
    // (`setup_for`'s contract), so stepping back stays inside it and is
    // non-null.
    let this = unsafe { NonNull::new_unchecked(t.cast::<u8>().sub(T::OFFSET).cast::<T>()) };
    T::timer_fired(this);
}

/// A timer callback: gets the timer that fired.
pub(crate) type Callback = unsafe extern "C" fn(*mut bindings::timer_list);

impl Timer {
    /// A timer not set up yet: [`Timer::setup`] must run before it is
    /// armed. Shutting it down before that does nothing (an owner whose
    /// construction failed half-way drops it so).
    pub(crate) fn uninit() -> Self {
        // All zeroes: not set up (type invariant).
        Self(Opaque::new(bindings::timer_list::default()))
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

    /// Sets the timer up to call `T`'s [`HasTimer::timer_fired`] with
    /// the `T` it is embedded in, not pending.
    ///
    /// # Safety
    ///
    /// As [`Timer::setup`]; and `self` must be the timer at
    /// [`HasTimer::OFFSET`] of a `T` that is alive whenever the timer
    /// fires.
    pub(crate) unsafe fn setup_for<T: HasTimer>(&self) {
        // SAFETY: per the caller.
        unsafe { self.setup(fired_for::<T>) }
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

    /// Moves the timer to `expires` (jiffies) if it is pending; an idle
    /// one stays idle (`mod_timer_pending`). Returns whether it was
    /// pending.
    pub(crate) fn modify_pending(&self, expires: u64) -> bool {
        // SAFETY: as in `modify`.
        unsafe { bindings::mod_timer_pending(self.0.get(), expires as _) != 0 }
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
        // SAFETY: `function` is written by `setup` only, before the timer
        // is shared; a plain read of a live field.
        if unsafe { (*self.0.get()).function.is_none() } {
            // Never set up, so never armed.
            return;
        }
        // SAFETY: set up (checked).
        unsafe { bindings::timer_shutdown_sync(self.0.get()) };
    }

    /// When the timer fires, if pending (`timer->expires`): a snapshot,
    /// which a concurrent [`Timer::modify`] makes stale.
    pub(crate) fn expires(&self) -> u64 {
        // SAFETY: a live timer; `mod_timer` writes `expires` with
        // `WRITE_ONCE`, so a volatile read sees one whole value.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.0.get()).expires)) as u64 }
    }

    /// Whether the timer is pending.
    pub(crate) fn pending(&self) -> bool {
        let t = self.0.get();
        // SAFETY: a live timer; as `timer_pending`, a lockless read of
        // `entry.pprev`, which the timer core writes with `WRITE_ONCE`.
        let pprev = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*t).entry.pprev)) };
        !pprev.is_null()
    }
}

/// What a [`Ticker`] calls.
pub(crate) trait Tick: Sync {
    /// Called in process context (a work item) every period.
    fn tick(&self);
}

/// Calls [`Tick::tick`] on its target every `period` jiffies, from its
/// start until it is dropped: a timer queues a work item, which ticks and
/// arms the timer again (so ticks may sleep and take locks that bottom
/// halves must not, as stock's defense work and estimator kthreads do).
#[repr(C)]
pub(crate) struct Ticker<T: Tick> {
    timer: Timer,
    work: Work,
    period: u64,
    target: *const T,
}

// SAFETY: the target is `Sync` and only read through; the timer and the
// work item are thread-safe.
unsafe impl<T: Tick> Sync for Ticker<T> {}
// SAFETY: as above; nothing ties a ticker to a thread.
unsafe impl<T: Tick> Send for Ticker<T> {}

impl<T: Tick> Ticker<T> {
    /// Starts ticking `target`, first `period` jiffies from now.
    ///
    /// # Safety
    ///
    /// `target` must outlive the returned ticker.
    pub(crate) unsafe fn start(
        target: &T,
        period: u64,
    ) -> kernel::error::Result<core::pin::Pin<kernel::alloc::KBox<Self>>> {
        let t = kernel::alloc::KBox::pin(
            Self {
                timer: Timer::uninit(),
                work: Work::uninit(),
                period,
                target,
            },
            kernel::alloc::flags::GFP_KERNEL,
        )?;
        // SAFETY: the timer and the work item are new, so idle, and
        // pinned in their box.
        unsafe {
            t.timer.setup(Self::fired);
            t.work.init(Self::run);
        }
        t.timer.modify(jiffies() + period);
        Ok(t)
    }

    /// # Safety
    ///
    /// Called by the kernel with the `timer` of a live [`Ticker`].
    unsafe extern "C" fn fired(raw: *mut bindings::timer_list) {
        let off = core::mem::offset_of!(Self, timer);
        // SAFETY: `raw` is the `timer` field of a `Ticker`, which is
        // alive: its drop waits for this callback.
        let this = unsafe { &*raw.cast::<u8>().sub(off).cast::<Self>() };
        this.work.queue();
    }

    /// # Safety
    ///
    /// Called by the workqueue with the `work` of a live [`Ticker`].
    unsafe extern "C" fn run(raw: *mut bindings::work_struct) {
        let off = core::mem::offset_of!(Self, work);
        // SAFETY: `raw` is the `work` field of a `Ticker`, which is
        // alive: its drop cancels and waits for this work.
        let this = unsafe { &*raw.cast::<u8>().sub(off).cast::<Self>() };
        // SAFETY: `start`'s caller keeps the target alive longer.
        unsafe { &*this.target }.tick();
        // A no-op once the drop has shut the timer down.
        this.timer.modify(jiffies() + this.period);
    }
}

impl<T: Tick> Drop for Ticker<T> {
    fn drop(&mut self) {
        // Also keeps the work from arming it again; then nothing queues
        // the work.
        self.timer.shutdown_sync();
        self.work.cancel_sync();
    }
}
