// SPDX-License-Identifier: GPL-2.0

//! Per-namespace sysctl tables (`register_net_sysctl_sz`).

use crate::bindings;
use crate::kapi::net::Net;
use core::sync::atomic::AtomicI32;
use kernel::error::Result;
use kernel::ffi::c_void;
use kernel::prelude::*;

/// How an `int` entry parses what is written to it.
#[derive(Clone, Copy)]
pub(crate) enum IntKind {
    /// Any value (`proc_dointvec`).
    Any,
    /// Between the two bounds, inclusive (`proc_dointvec_minmax`).
    Range(&'static i32, &'static i32),
    /// Seconds outside, jiffies inside (`proc_dointvec_jiffies`).
    Jiffies,
}

/// One `int` entry of a table, backed by an [`AtomicI32`] so that Rust can
/// read it while `/proc` writes it.
pub(crate) struct Entry(bindings::ctl_table);

impl Entry {
    /// An entry named `name` holding `value`, with file mode `mode`.
    pub(crate) fn int(
        name: &'static core::ffi::CStr,
        value: &AtomicI32,
        mode: u16,
        kind: IntKind,
    ) -> Self {
        let (handler, extra1, extra2) = match kind {
            IntKind::Any => (bindings::proc_dointvec as Handler, None, None),
            IntKind::Range(min, max) => (
                bindings::proc_dointvec_minmax as Handler,
                Some(min),
                Some(max),
            ),
            IntKind::Jiffies => (bindings::proc_dointvec_jiffies as Handler, None, None),
        };
        let bound = |b: Option<&'static i32>| {
            b.map_or(core::ptr::null_mut(), |b| {
                core::ptr::from_ref(b).cast_mut().cast::<c_void>()
            })
        };
        Self(bindings::ctl_table {
            procname: name.as_ptr().cast(),
            data: value.as_ptr().cast(),
            maxlen: core::mem::size_of::<i32>() as i32,
            mode,
            proc_handler: Some(handler),
            extra1: bound(extra1),
            extra2: bound(extra2),
            ..Default::default()
        })
    }
}

type Handler = unsafe extern "C" fn(
    *const bindings::ctl_table,
    kernel::ffi::c_int,
    *mut c_void,
    *mut usize,
    *mut bindings::loff_t,
) -> kernel::ffi::c_int;

/// A registered table; unregistered on drop.
pub(crate) struct Table {
    header: *mut bindings::ctl_table_header,
    // Referenced by `header` until it is unregistered.
    _entries: KVec<bindings::ctl_table>,
}

// SAFETY: the table is only a handle; unregistering may run on any thread.
unsafe impl Send for Table {}
// SAFETY: no method takes `&self`.
unsafe impl Sync for Table {}

impl Table {
    /// Registers `entries` under `/proc/sys/<path>` in `net`.
    ///
    /// # Safety
    ///
    /// The values the entries point to and `net` must outlive the table.
    pub(crate) unsafe fn register(
        net: &Net,
        path: &'static core::ffi::CStr,
        entries: impl IntoIterator<Item = Entry>,
    ) -> Result<Self> {
        let mut table = KVec::new();
        for e in entries {
            table.push(e.0, GFP_KERNEL)?;
        }
        // SAFETY: `table` is heap-allocated and kept in `self` (the vector is
        // not grown again, so the buffer does not move); `path` is static;
        // the caller keeps the data and `net` alive.
        let header = unsafe {
            bindings::register_net_sysctl_sz(
                net.as_ptr(),
                path.as_ptr().cast(),
                table.as_mut_ptr(),
                table.len(),
            )
        };
        if header.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self {
            header,
            _entries: table,
        })
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: `header` came from a successful registration.
        unsafe { bindings::unregister_net_sysctl_table(self.header) };
    }
}
