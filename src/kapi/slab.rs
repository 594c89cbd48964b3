// SPDX-License-Identifier: GPL-2.0

//! Slab caches (`struct kmem_cache`) of one Rust type: objects of exactly
//! its size (a `KBox` rounds up to the next `kmalloc` size), allocated
//! without a size-class lookup, as stock's `ip_vs_conn` cache.

use crate::bindings;
use core::ffi::CStr;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::AllocError;
use kernel::prelude::*;

/// A module-wide cache of `T`, created at module load
/// ([`StaticCache::create`]) and destroyed by the returned guard.
///
/// # Invariants
///
/// `ptr` is NULL or a live cache of objects of `T`'s size and alignment.
pub(crate) struct StaticCache<T> {
    ptr: AtomicPtr<bindings::kmem_cache>,
    _t: PhantomData<T>,
}

// SAFETY: the cache is thread-safe; objects of it are only reached
// through `CacheBox`, which requires `T: Send` to cross threads.
unsafe impl<T> Sync for StaticCache<T> {}

/// Destroys its cache when dropped.
pub(crate) struct CacheGuard<T: 'static>(&'static StaticCache<T>);

impl<T> StaticCache<T> {
    /// A cache to [`StaticCache::create`].
    pub(crate) const fn new() -> Self {
        Self {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
            _t: PhantomData,
        }
    }

    /// Creates the cache, named `name` in `/proc/slabinfo`.
    pub(crate) fn create(&'static self, name: &'static CStr) -> Result<CacheGuard<T>> {
        let size = u32::try_from(core::mem::size_of::<T>()).map_err(|_| EINVAL)?;
        let align = core::mem::align_of::<T>() as u32;
        // SAFETY: `name` lives forever; size and alignment are `T`'s.
        let c = unsafe { bindings::ipvs_rs_cache_create(name.as_ptr().cast(), size, align) };
        if c.is_null() {
            return Err(ENOMEM);
        }
        self.ptr.store(c, Ordering::Release);
        Ok(CacheGuard(self))
    }

    /// Moves `v` into an object of the cache, allocated as the packet
    /// path may (`GFP_ATOMIC`).
    pub(crate) fn alloc_atomic(&'static self, v: T) -> Result<CacheBox<T>, AllocError> {
        let c = self.ptr.load(Ordering::Acquire);
        if c.is_null() {
            return Err(AllocError);
        }
        // SAFETY: `c` is a live cache (type invariant; the guard keeps it
        // until the module goes).
        let p = unsafe { bindings::ipvs_rs_cache_alloc_atomic(c) }.cast::<T>();
        let p = NonNull::new(p).ok_or(AllocError)?;
        // SAFETY: fresh memory of `T`'s size and alignment.
        unsafe { p.as_ptr().write(v) };
        Ok(CacheBox {
            ptr: p,
            cache: self,
        })
    }
}

impl<T> Drop for CacheGuard<T> {
    fn drop(&mut self) {
        let c = self.0.ptr.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: created by `create`; every object was freed before the
        // module's teardown reached this guard (its owners go first and
        // wait for their RCU callbacks).
        unsafe { bindings::kmem_cache_destroy(c) };
    }
}

/// A `T` in an object of a [`StaticCache`], freed on drop.
///
/// # Invariants
///
/// `ptr` holds an initialised `T` in an object of `cache`, owned by this
/// box.
pub(crate) struct CacheBox<T: 'static> {
    ptr: NonNull<T>,
    cache: &'static StaticCache<T>,
}

// SAFETY: owns its `T`, as `KBox` does.
unsafe impl<T: Send> Send for CacheBox<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for CacheBox<T> {}

impl<T> CacheBox<T> {
    /// Gives up ownership; [`CacheBox::from_raw`] takes it back.
    pub(crate) fn into_raw(self) -> NonNull<T> {
        let p = self.ptr;
        core::mem::forget(self);
        p
    }

    /// Takes back a box given up by [`CacheBox::into_raw`].
    ///
    /// # Safety
    ///
    /// `p` came from `into_raw` of a box of `cache`, and is not used
    /// through any other path afterwards.
    pub(crate) unsafe fn from_raw(p: NonNull<T>, cache: &'static StaticCache<T>) -> Self {
        Self { ptr: p, cache }
    }
}

impl<T> core::ops::Deref for CacheBox<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: initialised and owned (type invariant).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Drop for CacheBox<T> {
    fn drop(&mut self) {
        // SAFETY: initialised and owned (type invariant); dropped once.
        unsafe { core::ptr::drop_in_place(self.ptr.as_ptr()) };
        let c = self.cache.ptr.load(Ordering::Acquire);
        // SAFETY: the object came from this cache, which lives until its
        // guard goes, after every object.
        unsafe { bindings::kmem_cache_free(c, self.ptr.as_ptr().cast()) };
    }
}
