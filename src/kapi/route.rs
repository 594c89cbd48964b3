// SPDX-License-Identifier: GPL-2.0

//! A real server's route cache (`struct dst_cache`; stock keeps one per
//! real server too, `ip_vs_dest_dst`), so that packets to it skip the
//! route lookup. Host twin: `host/src/route.rs`.

use crate::bindings;
use crate::kapi::net::Net;
use crate::kapi::skb::{Packet, Route};
use kernel::error::{to_result, Result};
use kernel::types::Opaque;

/// The routes to one real server, per CPU.
pub(crate) struct RouteCache(Opaque<bindings::dst_cache>);

// SAFETY: `dst_cache` is per CPU and used with bottom halves off; its
// owner may live anywhere.
unsafe impl Send for RouteCache {}
// SAFETY: as above: each CPU touches only its own entry.
unsafe impl Sync for RouteCache {}

impl Default for RouteCache {
    /// A cache; without memory for it, an empty one that routes every
    /// packet afresh.
    fn default() -> Self {
        let c = Self(Opaque::uninit());
        // SAFETY: `c.0` is writable storage for a `dst_cache`; it holds
        // no pointer to itself, so it may move after this.
        unsafe { bindings::ipvs_rs_dst_cache_init(c.0.get()) };
        c
    }
}

impl Drop for RouteCache {
    fn drop(&mut self) {
        // SAFETY: initialised in `default`, and no one else uses it now.
        unsafe { bindings::ipvs_rs_dst_cache_destroy(self.0.get()) };
    }
}

impl core::fmt::Debug for RouteCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RouteCache")
    }
}

impl Packet<'_> {
    /// Routes the packet to the real server at `daddr` (IPv4) through
    /// its cache, with `daddr` as the next hop (right for NAT, direct
    /// routing and tunnels alike, as `daddr` is the real server); also
    /// returns the source address the route picks.
    pub(crate) fn route4_cached(
        &self,
        net: &Net,
        cache: &RouteCache,
        daddr: [u8; 4],
    ) -> Result<(Route, [u8; 4])> {
        let mut saddr = 0u32;
        // SAFETY: live skb owned by the caller's hook, a live namespace
        // and an initialised cache of a real server of that namespace.
        let r = unsafe {
            bindings::ipvs_rs_route4_cached(
                net.as_ptr(),
                self.as_ptr(),
                cache.0.get(),
                u32::from_ne_bytes(daddr),
                &mut saddr,
            )
        };
        to_result(r)?;
        let route = if r == 1 { Route::Local } else { Route::Remote };
        Ok((route, saddr.to_ne_bytes()))
    }
}
