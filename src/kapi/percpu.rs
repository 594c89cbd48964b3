// SPDX-License-Identifier: GPL-2.0

//! Counters kept per CPU (`alloc_percpu`), as stock keeps its traffic
//! statistics: each CPU adds to its own copy, without a locked
//! instruction or a cache line shared with the other CPUs; readers sum
//! the copies. Host twin: `host/src/percpu.rs`.

use crate::bindings;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

/// Adds `v` to this CPU's copy of the per-CPU `u64` at `p`
/// (`this_cpu_add`): one instruction relative to the CPU's per-CPU base
/// (`%gs`), so neither preemption nor an interrupt can split it.
///
/// # Safety
///
/// `p` must be the (`__percpu`) address of a `u64` in a live per-CPU
/// allocation.
#[cfg(all(target_arch = "x86_64", CONFIG_SMP))]
#[inline(always)]
unsafe fn this_cpu_add(p: *mut u64, v: u64) {
    // SAFETY: `%gs` holds this CPU's per-CPU base and `p` is a per-CPU
    // address (the caller's guarantee), so the operand is this CPU's copy.
    unsafe {
        core::arch::asm!(
            "add qword ptr gs:[{p}], {v}",
            p = in(reg) p,
            v = in(reg) v,
            options(nostack)
        )
    };
}

/// Adds `v` to this CPU's copy of the per-CPU `u64` at `p`, through C.
///
/// # Safety
///
/// As the inline version.
#[cfg(not(all(target_arch = "x86_64", CONFIG_SMP)))]
unsafe fn this_cpu_add(p: *mut u64, v: u64) {
    // SAFETY: a per-CPU address of a live allocation (the caller's
    // guarantee); index 0 of it.
    unsafe { bindings::ipvs_rs_percpu_add2(p, 0, v, 0, 0) }
}

/// `N` counters that only grow (wrapping), summed over the CPUs.
pub(crate) struct Tally<const N: usize>(Cells<N>);

/// Where a [`Tally`] counts.
///
/// # Invariants
///
/// `PerCpu` holds a per-CPU allocation of `N` `u64`s (the `__percpu`
/// address), owned by the tally and freed on drop.
enum Cells<const N: usize> {
    PerCpu(NonNull<u64>),
    /// Without memory for the per-CPU copies: one shared set.
    Shared([AtomicU64; N]),
}

// SAFETY: the per-CPU memory is written only by its own CPU through
// `this_cpu_add`, read racily (whole aligned `u64`s) by summing, and freed
// once, on drop; the shared cells are atomics.
unsafe impl<const N: usize> Send for Tally<N> {}
// SAFETY: as above.
unsafe impl<const N: usize> Sync for Tally<N> {}

impl<const N: usize> Tally<N> {
    /// All zero. Never sleeps (the tables are built under a BH lock); per
    /// CPU unless the atomic per-CPU allocator has no room.
    pub(crate) fn new() -> Self {
        let bytes = (N * core::mem::size_of::<u64>()) as u32;
        // SAFETY: allocates zeroed per-CPU memory without sleeping; NULL
        // on failure.
        let p = unsafe { bindings::ipvs_rs_percpu_alloc(bytes) };
        match NonNull::new(p) {
            // INVARIANT: a fresh per-CPU allocation of `N` u64s we own.
            Some(p) => Self(Cells::PerCpu(p)),
            None => Self(Cells::Shared([const { AtomicU64::new(0) }; N])),
        }
    }

    /// Adds `a` to counter `i` and `b` to counter `j` on this CPU.
    ///
    /// # Panics
    ///
    /// If `i` or `j` is not below `N`.
    pub(crate) fn add2(&self, i: usize, a: u64, j: usize, b: u64) {
        assert!(i < N && j < N);
        match &self.0 {
            // SAFETY: a live per-CPU allocation of `N` u64s (type
            // invariant) and both indices inside it.
            Cells::PerCpu(p) => unsafe {
                this_cpu_add(p.as_ptr().add(i), a);
                this_cpu_add(p.as_ptr().add(j), b);
            },
            Cells::Shared(c) => {
                c[i].fetch_add(a, Ordering::Relaxed);
                c[j].fetch_add(b, Ordering::Relaxed);
            }
        }
    }

    /// Adds `v` to counter `i` on this CPU.
    ///
    /// # Panics
    ///
    /// If `i` is not below `N`.
    pub(crate) fn add(&self, i: usize, v: u64) {
        self.add2(i, v, i, 0);
    }

    /// The counters, summed over the CPUs (a racy snapshot, as stock's).
    pub(crate) fn sum(&self) -> [u64; N] {
        let mut out = [0u64; N];
        match &self.0 {
            // SAFETY: a live per-CPU allocation of `N` u64s (type
            // invariant); `out` has room for `N`.
            Cells::PerCpu(p) => unsafe {
                bindings::ipvs_rs_percpu_sum(p.as_ptr(), N as u32, out.as_mut_ptr())
            },
            Cells::Shared(c) => {
                for (o, c) in out.iter_mut().zip(c) {
                    *o = c.load(Ordering::Relaxed);
                }
            }
        }
        out
    }
}

impl<const N: usize> Default for Tally<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Debug for Tally<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.sum().fmt(f)
    }
}

impl<const N: usize> Drop for Tally<N> {
    fn drop(&mut self) {
        if let Cells::PerCpu(p) = self.0 {
            // SAFETY: ours (type invariant), freed once; `free_percpu`
            // may run in atomic context.
            unsafe { bindings::ipvs_rs_percpu_free(p.as_ptr()) }
        }
    }
}
