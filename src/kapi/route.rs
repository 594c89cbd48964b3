// SPDX-License-Identifier: GPL-2.0

//! A real server's route cache (`struct dst_cache`; stock keeps one per
//! real server too, `ip_vs_dest_dst`), so that packets to it skip the
//! route lookup, and routes looked up for a packet. Host twin:
//! `host/src/route.rs`.

use crate::bindings;
use crate::kapi::net::Net;
use crate::kapi::skb::Packet;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use kernel::error::{code::EINVAL, to_result, Result};
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

/// A route to a real server, looked up and not yet attached to a packet:
/// the packet keeps the route it came in with until [`Packet::attach`]
/// (its errors, such as ICMP time exceeded, still go out as from the
/// address it was sent to).
///
/// # Invariants
///
/// `self.0` points to a live `struct dst_entry` of which this value owns
/// one reference.
pub(crate) struct Dst(NonNull<bindings::dst_entry>);

impl Dst {
    /// The route's MTU.
    pub(crate) fn mtu(&self) -> u32 {
        // SAFETY: live, by the type invariant.
        unsafe { bindings::ipvs_rs_dst_mtu(self.0.as_ptr()) }
    }
}

impl Drop for Dst {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this value owns a reference, and
        // gives it up here.
        unsafe { bindings::ipvs_rs_dst_release(self.0.as_ptr()) }
    }
}

/// Where a lookup found the destination.
pub(crate) enum Route {
    /// On this host.
    Local,
    /// Elsewhere, by this route.
    Remote(Dst),
}

/// Builds a [`Route`] from a lookup helper's answer.
///
/// # Safety
///
/// When `r` is 0, `dst` must point to a live `struct dst_entry` whose
/// reference the caller passes on.
unsafe fn route_of(r: i32, dst: *mut bindings::dst_entry) -> Result<Route> {
    to_result(r)?;
    if r == 1 {
        return Ok(Route::Local);
    }
    let dst = NonNull::new(dst).ok_or(EINVAL)?;
    // INVARIANT: the caller passes on a live reference.
    Ok(Route::Remote(Dst(dst)))
}

impl RouteCache {
    /// Looks up the route to the real server at `daddr` (IPv4) through
    /// this cache, with `daddr` as the next hop (right for NAT, direct
    /// routing and tunnels alike, as `daddr` is the real server); also
    /// returns the source address the route picks.
    pub(crate) fn route4(&self, net: &Net, daddr: [u8; 4]) -> Result<(Route, [u8; 4])> {
        let mut saddr = 0u32;
        let mut dst = core::ptr::null_mut();
        // SAFETY: a live namespace, an initialised cache and writable
        // out-parameters.
        let r = unsafe {
            bindings::ipvs_rs_route4_cached(
                net.as_ptr(),
                self.0.get(),
                u32::from_ne_bytes(daddr),
                &mut saddr,
                &mut dst,
            )
        };
        // SAFETY: on 0 the helper set `dst` and passes its reference on.
        let route = unsafe { route_of(r, dst) }?;
        Ok((route, saddr.to_ne_bytes()))
    }
}

/// Looks up the route to `daddr` (IPv6). With `via_daddr` the next hop is
/// `daddr` whatever the packet's header says (direct routing).
pub(crate) fn route6(net: &Net, daddr: &[u8; 16], via_daddr: bool) -> Result<Route> {
    let mut dst = core::ptr::null_mut();
    // SAFETY: a live namespace, 16 readable bytes (`struct in6_addr` is
    // plain bytes) and a writable out-parameter.
    let r = unsafe {
        bindings::ipvs_rs_route6(net.as_ptr(), daddr.as_ptr().cast(), via_daddr, &mut dst)
    };
    // SAFETY: on 0 the helper set `dst` and passes its reference on.
    unsafe { route_of(r, dst) }
}

impl Packet<'_> {
    /// Makes `dst` the packet's route (its old one is dropped).
    pub(crate) fn attach(&self, dst: Dst) {
        let dst = ManuallyDrop::new(dst);
        // SAFETY: a live skb owned by the caller's hook; the reference
        // `dst` owned moves into the skb (hence no drop).
        unsafe { bindings::ipvs_rs_skb_dst_attach(self.as_ptr(), dst.0.as_ptr()) }
    }

    /// Routes a NAT reply again from its new source address, as if this
    /// host sent it (policy routing by source applies); an error means
    /// it has no way out.
    pub(crate) fn snat_reroute(&self, net: &Net, ipv6: bool) -> Result {
        // SAFETY: a live, routed skb owned by the caller's hook (`FORWARD`
        // or `LOCAL_OUT`), in the live namespace `net`.
        to_result(unsafe { bindings::ipvs_rs_snat_reroute(net.as_ptr(), self.as_ptr(), ipv6) })
    }

    /// Drops a packet that has no hop left before leaving for another
    /// host: tells its sender (ICMP time exceeded, from its input route)
    /// and counts it (`InHdrErrors`).
    pub(crate) fn icmp_time_exceeded(&self, net: &Net, ipv6: bool) {
        // SAFETY: a live skb owned by the caller's hook, in the live
        // namespace `net`.
        unsafe { bindings::ipvs_rs_icmp_time_exceeded(net.as_ptr(), self.as_ptr(), ipv6) }
    }
}
