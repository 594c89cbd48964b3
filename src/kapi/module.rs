// SPDX-License-Identifier: GPL-2.0

//! Watching other modules load (`register_module_notifier`).

use crate::bindings;
use kernel::error::{to_result, Result};
use kernel::ffi::{c_int, c_ulong, c_void};
use kernel::prelude::*;
use kernel::types::Opaque;

/// Decides whether a module may finish loading.
pub(crate) trait ModuleGate: 'static {
    /// Called before the module named `name` runs its init; an error makes
    /// the load fail with it.
    fn coming(name: &core::ffi::CStr) -> Result;
}

/// A registered module notifier; unregistered on drop.
pub(crate) struct Registration<G: ModuleGate> {
    nb: KBox<Opaque<bindings::notifier_block>>,
    _gate: core::marker::PhantomData<G>,
}

// SAFETY: a handle; (un)registering may run on any thread.
unsafe impl<G: ModuleGate> Send for Registration<G> {}
// SAFETY: no method takes `&self`.
unsafe impl<G: ModuleGate> Sync for Registration<G> {}

impl<G: ModuleGate> Registration<G> {
    /// Starts watching module loads.
    pub(crate) fn new() -> Result<Self> {
        let nb = KBox::new(
            Opaque::new(bindings::notifier_block {
                notifier_call: Some(callback::<G>),
                ..Default::default()
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: `nb` is boxed (stable address) and unregistered on drop.
        to_result(unsafe { bindings::register_module_notifier(nb.get()) })?;
        Ok(Self {
            nb,
            _gate: core::marker::PhantomData,
        })
    }
}

impl<G: ModuleGate> Drop for Registration<G> {
    fn drop(&mut self) {
        // SAFETY: registered in `new`.
        unsafe { bindings::unregister_module_notifier(self.nb.get()) };
    }
}

/// The notifier function.
///
/// # Safety
///
/// Called by the module loader only; `data` is a `struct module`.
unsafe extern "C" fn callback<G: ModuleGate>(
    _nb: *mut bindings::notifier_block,
    action: c_ulong,
    data: *mut c_void,
) -> c_int {
    if action != bindings::module_state_MODULE_STATE_COMING as c_ulong {
        return bindings::NOTIFY_DONE as c_int;
    }
    // SAFETY: for module state notifications `data` is the `struct module`
    // being loaded, alive for the call.
    let name = unsafe { bindings::ipvs_rs_module_name(data.cast()) };
    // SAFETY: `name` points to the module's NUL-terminated name array.
    let name = unsafe { core::ffi::CStr::from_ptr(name.cast()) };
    match G::coming(name) {
        Ok(()) => bindings::NOTIFY_DONE as c_int,
        // SAFETY: pure arithmetic on the errno.
        Err(e) => unsafe { bindings::ipvs_rs_notifier_from_errno(e.to_errno()) },
    }
}
