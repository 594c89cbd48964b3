// SPDX-License-Identifier: GPL-2.0

//! Per-network-namespace state (`register_pernet_device`).
//!
//! Device-level, as stock's `ipvs_core_dev_ops`: a namespace's state goes
//! before its devices are unregistered, so sockets of the sync daemons
//! (which hold routes, hence devices) are closed first; registered after
//! the subsystems (netfilter, conntrack), it is built after and torn down
//! before them.
//!
//! A [`PernetState`] value lives inside every network namespace, in the slot
//! the net core allocates for it (`net_generic`). It is built by
//! [`PernetState::init`] when a namespace is created (or, for namespaces that
//! already exist, when the [`Registration`] is made) and dropped when the
//! namespace is dismantled or the registration dropped.
//!
//! Ordering: for a new namespace, registrations run in the order they were
//! made; on teardown in reverse order. State registered first is therefore
//! always in place while later registrations (hooks, sysctls) exist.

use crate::bindings;
use crate::kapi::net::Net;
use crate::kapi::rhash::ReadSide;
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::error::{to_result, Result};
use kernel::ffi::{c_int, c_uint};
use kernel::prelude::*;
use kernel::types::Opaque;

/// State kept in every network namespace.
pub(crate) trait PernetState: Sized + Send + Sync + 'static {
    /// The slot id of this state type.
    fn id() -> &'static PernetId<Self>;

    /// Builds the state of a new namespace.
    fn init(net: &Net) -> Result<Self>;
}

/// The slot id the net core assigns to a state type at registration, to be
/// kept in a `static`.
pub(crate) struct PernetId<T> {
    id: UnsafeCell<c_uint>,
    registered: AtomicBool,
    _type: PhantomData<T>,
}

// SAFETY: `id` is written only by `register_pernet_device` before
// `registered` is set (release) and read only after `registered` is seen set
// (acquire).
unsafe impl<T> Sync for PernetId<T> {}

impl<T: PernetState> PernetId<T> {
    /// An unassigned id.
    pub(crate) const fn new() -> Self {
        Self {
            id: UnsafeCell::new(0),
            registered: AtomicBool::new(false),
            _type: PhantomData,
        }
    }

    /// The state of `net`, or `None` while no [`Registration`] for `T` is
    /// live.
    ///
    /// Must not be called from the init or exit callback of a pernet
    /// registration made before `T`'s: the only places where a live
    /// registration does not imply initialised state.
    pub(crate) fn get<'a>(&self, net: &'a Net) -> Option<&'a T> {
        if !self.registered.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: the registration is live, so every namespace that can run
        // code reaching here has had `T::init` succeed and not yet dropped
        // the state (see the ordering note above). `id` is stable now.
        unsafe {
            let slot = bindings::ipvs_rs_net_generic(net.as_ptr(), *self.id.get());
            Some(&*slot.cast::<T>())
        }
    }

    /// [`PernetId::get`] inside an RCU read side (a hook's), without a
    /// call: `net_generic` inline.
    pub(crate) fn get_rcu<'a>(&self, net: &'a Net, _rcu: &impl ReadSide) -> Option<&'a T> {
        if !self.registered.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: as in `get`, the slot exists and is initialised. The
        // read side keeps `net->gen` (replaced under RCU when the net core
        // grows it) alive; read once, as `rcu_dereference`. Its pointers
        // start at its address (`helpers.c` asserts it) and `id` is below
        // its length, the net core having sized it for every id given.
        unsafe {
            let gen = core::ptr::read_volatile(core::ptr::addr_of!((*net.as_ptr()).gen));
            let slot = *gen
                .cast::<*mut core::ffi::c_void>()
                .add(*self.id.get() as usize);
            Some(&*slot.cast::<T>())
        }
    }

    /// # Safety
    ///
    /// `net` must have a live, initialised slot for `T`.
    unsafe fn slot(&self, net: *const bindings::net) -> *mut T {
        // SAFETY: the caller guarantees the slot exists.
        unsafe { bindings::ipvs_rs_net_generic(net, *self.id.get()).cast::<T>() }
    }
}

/// A live `register_pernet_device` of `T`; unregisters on drop.
pub(crate) struct Registration<T: PernetState> {
    ops: KBox<Opaque<bindings::pernet_operations>>,
    _type: PhantomData<T>,
}

// SAFETY: a handle; registering and unregistering may run on any thread.
unsafe impl<T: PernetState> Send for Registration<T> {}
// SAFETY: no method takes `&self`.
unsafe impl<T: PernetState> Sync for Registration<T> {}

impl<T: PernetState> Registration<T> {
    /// Registers `T`, building its state in every existing namespace.
    pub(crate) fn new() -> Result<Self> {
        const {
            assert!(core::mem::size_of::<T>() > 0);
            // The net core's slot is kzalloc'ed: pointer alignment at least.
            assert!(core::mem::align_of::<T>() <= core::mem::size_of::<usize>());
        };
        let ops = KBox::new(
            Opaque::new(bindings::pernet_operations {
                init: Some(init_callback::<T>),
                exit: Some(exit_callback::<T>),
                id: T::id().id.get(),
                size: core::mem::size_of::<T>(),
                ..Default::default()
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: `ops` is boxed, so it stays at this address until drop,
        // where it is unregistered first.
        to_result(unsafe { bindings::register_pernet_device(ops.get()) })?;
        T::id().registered.store(true, Ordering::Release);
        Ok(Self {
            ops,
            _type: PhantomData,
        })
    }
}

impl<T: PernetState> Drop for Registration<T> {
    fn drop(&mut self) {
        T::id().registered.store(false, Ordering::Release);
        // SAFETY: `ops` was registered in `new`.
        unsafe { bindings::unregister_pernet_device(self.ops.get()) };
    }
}

/// Builds `T` in a new namespace.
///
/// # Safety
///
/// Called by the net core only, with the namespace being set up.
unsafe extern "C" fn init_callback<T: PernetState>(net: *mut bindings::net) -> c_int {
    // SAFETY: the net core passes a namespace under construction.
    let net_ref = unsafe { Net::from_raw(net) };
    match T::init(net_ref) {
        Ok(state) => {
            // SAFETY: the core allocated a zeroed slot of `size_of::<T>()`
            // bytes for this registration before calling us.
            unsafe { T::id().slot(net).write(state) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Drops `T` of a namespace being dismantled.
///
/// # Safety
///
/// Called by the net core only, after `init_callback` succeeded for `net`.
unsafe extern "C" fn exit_callback<T: PernetState>(net: *mut bindings::net) {
    // SAFETY: `init_callback` succeeded for this namespace (the core calls
    // exit only then), so the slot holds a `T` that nobody uses any more.
    unsafe { core::ptr::drop_in_place(T::id().slot(net)) };
}
