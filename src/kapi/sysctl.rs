// SPDX-License-Identifier: GPL-2.0

//! Per-namespace sysctl tables (`register_net_sysctl_sz`).

use crate::bindings;
use crate::kapi::net::Net;
use core::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
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

/// The validation of a [`Entry::checked`] entry: whether to accept the
/// values written.
pub(crate) struct Check(pub(crate) fn(&[i32]) -> bool);

/// Most `int`s a checked entry holds.
const MAX_INTS: usize = 2;

impl Entry {
    /// An entry of `values.len()` `int`s (at most two) whose writes
    /// `check` must accept, else `-EINVAL` and nothing changes.
    pub(crate) fn checked(
        name: &'static core::ffi::CStr,
        values: &[AtomicI32],
        mode: u16,
        check: &'static Check,
    ) -> Self {
        let n = values.len().min(MAX_INTS);
        Self(bindings::ctl_table {
            procname: name.as_ptr().cast(),
            data: values.as_ptr().cast_mut().cast(),
            maxlen: (n * core::mem::size_of::<i32>()) as i32,
            mode,
            proc_handler: Some(proc_checked),
            extra1: core::ptr::from_ref(check).cast_mut().cast(),
            ..Default::default()
        })
    }

    /// An `unsigned long` entry (`proc_doulongvec_minmax`, no bounds).
    pub(crate) fn ulong(name: &'static core::ffi::CStr, value: &AtomicUsize, mode: u16) -> Self {
        Self(bindings::ctl_table {
            procname: name.as_ptr().cast(),
            data: value.as_ptr().cast(),
            maxlen: core::mem::size_of::<usize>() as i32,
            mode,
            proc_handler: Some(bindings::proc_doulongvec_minmax),
            ..Default::default()
        })
    }

    /// A CPU list entry (`0-3,6`) over the bitmap in `value`: bit 63 set
    /// means a list was written; until then it reads as the possible CPUs.
    pub(crate) fn cpulist(name: &'static core::ffi::CStr, value: &AtomicU64, mode: u16) -> Self {
        Self(bindings::ctl_table {
            procname: name.as_ptr().cast(),
            data: value.as_ptr().cast(),
            maxlen: 0,
            mode,
            proc_handler: Some(proc_cpulist),
            ..Default::default()
        })
    }
}

/// An `int` entry's bounds and what hears of its changes
/// ([`Entry::notifying`]).
pub(crate) struct Notify<T> {
    /// Smallest value accepted.
    pub(crate) min: i32,
    /// Largest value accepted.
    pub(crate) max: i32,
    /// Called with the entry's target after a write changed the value.
    pub(crate) changed: fn(&T),
}

impl Entry {
    /// An `int` entry within `notify`'s bounds (`-EINVAL` and no change
    /// outside) whose changes `notify` hears of with `target` (stock's
    /// `proc_do_defense_mode`).
    ///
    /// # Safety
    ///
    /// `target` must outlive the table the entry is registered in.
    pub(crate) unsafe fn notifying<T: Sync>(
        name: &'static core::ffi::CStr,
        value: &AtomicI32,
        mode: u16,
        notify: &'static Notify<T>,
        target: &T,
    ) -> Self {
        Self(bindings::ctl_table {
            procname: name.as_ptr().cast(),
            data: value.as_ptr().cast(),
            maxlen: core::mem::size_of::<i32>() as i32,
            mode,
            proc_handler: Some(proc_notifying::<T>),
            extra1: core::ptr::from_ref(notify).cast_mut().cast(),
            extra2: core::ptr::from_ref(target).cast_mut().cast(),
            ..Default::default()
        })
    }
}

/// `proc_handler` of [`Entry::notifying`].
///
/// # Safety
///
/// Called by the sysctl core on an entry [`Entry::notifying`] made for a
/// `T`, with the core's buffer, length and position.
unsafe extern "C" fn proc_notifying<T: Sync>(
    table: *const bindings::ctl_table,
    write: kernel::ffi::c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut bindings::loff_t,
) -> kernel::ffi::c_int {
    // SAFETY: the core passes the registered entry, which outlives the call.
    let t = unsafe { &*table };
    // SAFETY: `Entry::notifying` points `data` at an atomic, `extra1` at
    // a static `Notify<T>` and `extra2` at a `T`, all outliving the table.
    let (value, notify, target) = unsafe {
        (
            &*t.data.cast::<AtomicI32>().cast_const(),
            &*t.extra1.cast::<Notify<T>>().cast_const(),
            &*t.extra2.cast::<T>().cast_const(),
        )
    };
    let mut val = value.load(Ordering::Relaxed);
    let tmp = bindings::ctl_table {
        data: core::ptr::from_mut(&mut val).cast(),
        ..*t
    };
    // SAFETY: `tmp` describes `val`, which lives through the call; the
    // other arguments are the core's own.
    let rc = unsafe { bindings::proc_dointvec(&tmp, write, buffer, lenp, ppos) };
    if write != 0 && rc >= 0 && val != value.load(Ordering::Relaxed) {
        if !(notify.min..=notify.max).contains(&val) {
            return -(bindings::EINVAL as kernel::ffi::c_int);
        }
        value.store(val, Ordering::Relaxed);
        (notify.changed)(target);
    }
    rc
}

/// Bit 63 of a CPU list entry: a list was written.
const CPULIST_SET: u64 = 1 << 63;

/// `proc_handler` of [`Entry::checked`].
///
/// # Safety
///
/// Called by the sysctl core on an entry [`Entry::checked`] made, with the
/// core's buffer, length and position.
unsafe extern "C" fn proc_checked(
    table: *const bindings::ctl_table,
    write: kernel::ffi::c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut bindings::loff_t,
) -> kernel::ffi::c_int {
    // SAFETY: the core passes the registered entry, which outlives the call.
    let t = unsafe { &*table };
    let n = t.maxlen as usize / core::mem::size_of::<i32>();
    // SAFETY: `Entry::checked` points `data` at `n` atomics that outlive
    // the table, and `extra1` at a static `Check`.
    let (values, check) = unsafe {
        (
            core::slice::from_raw_parts(t.data.cast::<AtomicI32>().cast_const(), n),
            &*t.extra1.cast::<Check>().cast_const(),
        )
    };
    let mut vals = [0i32; MAX_INTS];
    for (v, a) in vals.iter_mut().zip(values) {
        *v = a.load(Ordering::Relaxed);
    }
    let tmp = bindings::ctl_table {
        data: vals.as_mut_ptr().cast(),
        ..*t
    };
    // SAFETY: `tmp` describes `vals`, which lives through the call; the
    // other arguments are the core's own.
    let rc = unsafe { bindings::proc_dointvec(&tmp, write, buffer, lenp, ppos) };
    if write != 0 && rc >= 0 {
        if !(check.0)(&vals[..n]) {
            return -(bindings::EINVAL as kernel::ffi::c_int);
        }
        for (a, v) in values.iter().zip(vals) {
            a.store(v, Ordering::Relaxed);
        }
    }
    rc
}

/// The CPUs an [`Entry::cpulist`] value names: the possible ones until
/// written.
pub(crate) fn cpulist_cpus(value: u64) -> u64 {
    if value & CPULIST_SET != 0 {
        value & !CPULIST_SET
    } else {
        possible_cpus()
    }
}

/// The possible CPUs, as a bitmap of the first 63.
fn possible_cpus() -> u64 {
    // SAFETY: reads a word of the possible-CPU mask, set at boot.
    (unsafe { bindings::ipvs_rs_possible_cpus() } as u64) & !CPULIST_SET
}

/// `proc_handler` of [`Entry::cpulist`] (stock `ipvs_proc_est_cpulist`).
///
/// # Safety
///
/// Called by the sysctl core on an entry [`Entry::cpulist`] made, with the
/// core's buffer (NUL-terminated on writes, one spare byte on reads),
/// length and position.
unsafe extern "C" fn proc_cpulist(
    table: *const bindings::ctl_table,
    write: kernel::ffi::c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut bindings::loff_t,
) -> kernel::ffi::c_int {
    // SAFETY: the core passes valid pointers for the duration of the call;
    // `data` is the entry's atomic, which outlives the table.
    let (value, len, pos) = unsafe {
        (
            &*(*table).data.cast::<AtomicU64>().cast_const(),
            &mut *lenp,
            &mut *ppos,
        )
    };
    // Like stock: no appending, no partial reads.
    if *pos != 0 || *len == 0 {
        *len = 0;
        return 0;
    }
    if write != 0 {
        let mut mask = [0 as kernel::ffi::c_ulong; 1];
        // SAFETY: the core NUL-terminates what was written; `mask` holds
        // the 63 bits asked for.
        let rc = unsafe { bindings::bitmap_parselist(buffer.cast(), mask.as_mut_ptr(), 63) };
        if rc < 0 {
            return rc;
        }
        value.store(
            (mask[0] as u64 & possible_cpus()) | CPULIST_SET,
            Ordering::Relaxed,
        );
        *pos += *len as bindings::loff_t;
        return 0;
    }
    let mask = cpulist_cpus(value.load(Ordering::Relaxed));
    // SAFETY: on reads the core's buffer holds `*len + 1` bytes.
    let out = unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), *len + 1) };
    match crate::params::format_cpulist(mask, out) {
        Some(n) => {
            *len = n;
            *pos += n as bindings::loff_t;
            0
        }
        None => -(bindings::EINVAL as kernel::ffi::c_int),
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
