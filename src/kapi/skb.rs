// SPDX-License-Identifier: GPL-2.0

//! Socket buffers: read-only header access.

use crate::bindings;
use kernel::types::Opaque;

/// A socket buffer (`struct sk_buff`) borrowed from the networking core.
#[repr(transparent)]
pub(crate) struct SkBuff(Opaque<bindings::sk_buff>);

impl SkBuff {
    /// Wraps a raw `struct sk_buff` pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live `struct sk_buff` that nobody frees or
    /// reshapes (pull, linearize) for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::sk_buff) -> &'a SkBuff {
        // SAFETY: transparent wrapper; the caller guarantees liveness.
        unsafe { &*ptr.cast::<SkBuff>() }
    }

    /// The raw pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::sk_buff {
        self.0.get()
    }

    /// Bytes of data in the buffer (`skb->len`).
    pub(crate) fn len(&self) -> u32 {
        // SAFETY: `self` is a live skb.
        unsafe { bindings::ipvs_rs_skb_len(self.as_ptr()) }
    }

    /// Offset of the network header from `skb->data`.
    pub(crate) fn network_offset(&self) -> i32 {
        // SAFETY: `self` is a live skb.
        unsafe { bindings::ipvs_rs_skb_network_offset(self.as_ptr()) }
    }

    /// Copies `N` bytes starting `offset` bytes after the network header,
    /// wherever they live (linear area or fragments). `None` if the packet
    /// is too short.
    pub(crate) fn read<const N: usize>(&self, offset: usize) -> Option<[u8; N]> {
        let offset = i32::try_from(offset)
            .ok()?
            .checked_add(self.network_offset())?;
        let len = i32::try_from(N).ok()?;
        let mut buf = [0u8; N];
        // SAFETY: `self` is a live skb and `buf` has room for `len` bytes.
        let p = unsafe {
            bindings::ipvs_rs_skb_header_pointer(
                self.as_ptr(),
                offset,
                len,
                buf.as_mut_ptr().cast(),
            )
        };
        if p.is_null() {
            return None;
        }
        if p != buf.as_mut_ptr().cast() {
            // SAFETY: `skb_header_pointer` returned a pointer to `len`
            // readable bytes inside the skb's linear area.
            unsafe { core::ptr::copy_nonoverlapping(p.cast::<u8>(), buf.as_mut_ptr(), N) };
        }
        Some(buf)
    }
}

/// A socket buffer owned by Rust code (tests build packets with it).
pub(crate) struct OwnedSkBuff(core::ptr::NonNull<bindings::sk_buff>);

impl OwnedSkBuff {
    /// Allocates an skb holding a copy of `data`, with the network header at
    /// its start.
    pub(crate) fn from_bytes(data: &[u8]) -> kernel::error::Result<Self> {
        let len = u32::try_from(data.len())?;
        // SAFETY: allocating may sleep; callers run in process context.
        // NULL is handled below.
        let skb = unsafe { bindings::ipvs_rs_alloc_skb(len) };
        let skb = core::ptr::NonNull::new(skb).ok_or(kernel::error::code::ENOMEM)?;
        // SAFETY: the skb was just allocated with `len` bytes of tailroom.
        let dst = unsafe { bindings::skb_put(skb.as_ptr(), len) };
        // SAFETY: `skb_put` returned `len` writable bytes.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), dst.cast::<u8>(), data.len()) };
        Ok(Self(skb))
    }
}

impl core::ops::Deref for OwnedSkBuff {
    type Target = SkBuff;

    fn deref(&self) -> &SkBuff {
        // SAFETY: we own the skb until drop.
        unsafe { SkBuff::from_raw(self.0.as_ptr()) }
    }
}

impl Drop for OwnedSkBuff {
    fn drop(&mut self) {
        // SAFETY: we own the skb and nobody else refers to it.
        unsafe { bindings::ipvs_rs_kfree_skb(self.0.as_ptr()) };
    }
}
