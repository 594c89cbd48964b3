// SPDX-License-Identifier: GPL-2.0

//! Per-namespace `/proc/net` files: small ones shown in one go
//! (`proc_create_net_single`, [`Show`]), tables listed in parts from a
//! position on ([`Walk`]), so that no read holds a lock or an RCU read
//! side for the whole table.

use crate::bindings;
use crate::kapi::net::Net;
use core::ffi::CStr;
use kernel::error::Result;
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;

/// Text written into a `seq_file`.
pub(crate) struct SeqOut(*mut bindings::seq_file);

impl core::fmt::Write for SeqOut {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // SAFETY: `self.0` is the live seq_file of the running show; the
        // seq_file core retries the show with a larger buffer on overflow.
        unsafe { bindings::seq_write(self.0, s.as_ptr().cast(), s.len()) };
        Ok(())
    }
}

/// A `/proc/net` file.
pub(crate) trait Show: 'static {
    /// File name.
    const NAME: &'static CStr;
    /// Permissions; 0 is the default, readable by all.
    const MODE: u16 = 0;
    /// Writes the whole content for namespace `net`.
    fn show(net: &Net, out: &mut SeqOut) -> core::fmt::Result;
}

/// A `/proc/net` file listed in parts: its records have positions below
/// 2^32 (the connection table's hash order), and a read resumes where
/// the last stopped.
pub(crate) trait Walk: 'static {
    /// File name.
    const NAME: &'static CStr;
    /// Permissions; 0 is the default, readable by all.
    const MODE: u16 = 0;
    /// Writes the first line.
    fn header(net: &Net, out: &mut SeqOut);
    /// Writes the records from position `pos` on, at least the first
    /// there is, and returns where the next ones begin (`None`: no more).
    fn records(net: &Net, pos: u64, out: &mut SeqOut) -> Option<u64>;
}

/// The callbacks of a [`Walk`] file, in a `static` of its user (the
/// file keeps a pointer to them).
pub(crate) struct WalkOps {
    ops: bindings::ipvs_rs_walk_ops,
    name: &'static CStr,
    mode: u16,
}

impl WalkOps {
    /// The callbacks of `S`.
    pub(crate) const fn new<S: Walk>() -> Self {
        Self {
            ops: bindings::ipvs_rs_walk_ops {
                header: Some(walk_header::<S>),
                records: Some(walk_records::<S>),
            },
            name: S::NAME,
            mode: S::MODE,
        }
    }
}

/// The header callback of `S`.
///
/// # Safety
///
/// Called by `helpers.c`'s seq_file operations only, with a live `seq`
/// of a file of the live namespace `net`.
unsafe extern "C" fn walk_header<S: Walk>(seq: *mut bindings::seq_file, net: *mut bindings::net) {
    // SAFETY: the namespace is alive while its file is open.
    S::header(unsafe { Net::from_raw(net) }, &mut SeqOut(seq));
}

/// The records callback of `S`: where the next begin, 2^32 at the end.
///
/// # Safety
///
/// As [`walk_header`].
unsafe extern "C" fn walk_records<S: Walk>(
    seq: *mut bindings::seq_file,
    net: *mut bindings::net,
    pos: u64,
) -> u64 {
    // SAFETY: the namespace is alive while its file is open.
    S::records(unsafe { Net::from_raw(net) }, pos, &mut SeqOut(seq)).unwrap_or(1 << 32)
}

/// A registered file; removed on drop.
pub(crate) struct Entry {
    net: *mut bindings::net,
    name: &'static CStr,
}

// SAFETY: a handle; removal may run on any thread.
unsafe impl Send for Entry {}
// SAFETY: no method takes `&self`.
unsafe impl Sync for Entry {}

impl Entry {
    /// Creates `/proc/net/<S::NAME>` in `net`.
    ///
    /// # Safety
    ///
    /// The entry must be dropped before `net` is freed, e.g. by keeping it
    /// in that namespace's pernet state.
    pub(crate) unsafe fn new<S: Show>(net: &Net) -> Result<Self> {
        // SAFETY: `net` is live, the name static, the callback valid for
        // as long as the module is loaded (the entry goes first).
        let ok = unsafe {
            bindings::ipvs_rs_proc_create(
                net.as_ptr(),
                S::NAME.as_ptr().cast(),
                S::MODE,
                Some(show_callback::<S>),
            )
        };
        if ok != 0 {
            return Err(ENOMEM);
        }
        Ok(Self {
            net: net.as_ptr(),
            name: S::NAME,
        })
    }
}

impl Entry {
    /// Creates `/proc/net/<name>` of `ops` in `net`, listed in parts.
    ///
    /// # Safety
    ///
    /// As [`Entry::new`].
    pub(crate) unsafe fn walk(net: &Net, ops: &'static WalkOps) -> Result<Self> {
        // SAFETY: `net` is live, the name and the callbacks static (the
        // entry goes before the module).
        let ok = unsafe {
            bindings::ipvs_rs_proc_create_walk(
                net.as_ptr(),
                ops.name.as_ptr().cast(),
                ops.mode,
                &ops.ops,
            )
        };
        if ok != 0 {
            return Err(ENOMEM);
        }
        Ok(Self {
            net: net.as_ptr(),
            name: ops.name,
        })
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // SAFETY: created in `new` on this namespace, which is still alive.
        unsafe { bindings::ipvs_rs_proc_remove(self.net, self.name.as_ptr().cast()) };
    }
}

/// The show function of `S`.
///
/// # Safety
///
/// Called by the seq_file core only, with a live `seq` opened by
/// `proc_create_net_single`.
unsafe extern "C" fn show_callback<S: Show>(
    seq: *mut bindings::seq_file,
    _v: *mut c_void,
) -> c_int {
    // SAFETY: the file belongs to a namespace that is alive while it is
    // open.
    let net = unsafe { Net::from_raw(bindings::ipvs_rs_seq_net(seq)) };
    let _ = S::show(net, &mut SeqOut(seq));
    0
}
