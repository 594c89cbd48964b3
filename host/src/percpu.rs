//! Host twin of `src/kapi/percpu.rs`: the same API over shared atomics.

use core::sync::atomic::{AtomicU64, Ordering};

/// `N` counters that only grow (wrapping).
#[derive(Debug)]
pub(crate) struct Tally<const N: usize>([AtomicU64; N]);

impl<const N: usize> Tally<N> {
    pub(crate) fn new() -> Self {
        Self([const { AtomicU64::new(0) }; N])
    }

    pub(crate) fn add2(&self, i: usize, a: u64, j: usize, b: u64) {
        self.0[i].fetch_add(a, Ordering::Relaxed);
        self.0[j].fetch_add(b, Ordering::Relaxed);
    }

    pub(crate) fn add(&self, i: usize, v: u64) {
        self.0[i].fetch_add(v, Ordering::Relaxed);
    }

    pub(crate) fn sum(&self) -> [u64; N] {
        core::array::from_fn(|i| self.0[i].load(Ordering::Relaxed))
    }
}

impl<const N: usize> Default for Tally<N> {
    fn default() -> Self {
        Self::new()
    }
}
