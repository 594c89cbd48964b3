// SPDX-License-Identifier: GPL-2.0

//! A real server's route cache (stock keeps one per real server too,
//! `ip_vs_dest_dst`), so that packets to it skip the route lookup and
//! take no reference to the route. Host twin:
//! `host/src/route.rs`.

use crate::bindings;
use crate::kapi::net::Net;
use crate::kapi::skb::Packet;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use kernel::error::{code::EINVAL, to_result, Result};
use kernel::types::Opaque;

/// The route to one real server (`struct ipvs_rs_route_cache`; stock's
/// `ip_vs_dest_dst`): an entry replaced whole under RCU, whose route
/// packets use without a reference.
pub(crate) struct RouteCache(Opaque<bindings::ipvs_rs_route_cache>);

// SAFETY: the entry is replaced atomically and freed after a grace
// period (`helpers.c`); the cache holds no pointer to itself.
unsafe impl Send for RouteCache {}
// SAFETY: as above.
unsafe impl Sync for RouteCache {}

impl Default for RouteCache {
    /// An empty cache.
    fn default() -> Self {
        Self(Opaque::new(bindings::ipvs_rs_route_cache {
            cur: core::ptr::null_mut(),
        }))
    }
}

impl Drop for RouteCache {
    fn drop(&mut self) {
        // SAFETY: a valid cache; its entry, if any, goes after a grace
        // period (the module waits for that before unloading).
        unsafe { bindings::ipvs_rs_route_cache_reset(self.0.get()) };
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
/// `ptr` points to a live `struct dst_entry`. With `owned` this value owns
/// one reference to it; without, the route is a cache entry's and stays
/// live for `'a`, the hook (an RCU read side) it was looked up in.
pub(crate) struct Dst<'a> {
    ptr: NonNull<bindings::dst_entry>,
    owned: bool,
    _hook: PhantomData<&'a ()>,
}

impl Dst<'_> {
    /// The route's MTU.
    pub(crate) fn mtu(&self) -> u32 {
        // SAFETY: live, by the type invariant.
        unsafe { bindings::ipvs_rs_dst_mtu(self.ptr.as_ptr()) }
    }

    /// Whether the route's device computes SCTP checksums itself
    /// (`NETIF_F_SCTP_CRC`).
    pub(crate) fn offloads_sctp_crc(&self) -> bool {
        // SAFETY: live, by the type invariant; a route holds its device.
        unsafe { bindings::ipvs_rs_dst_sctp_crc(self.ptr.as_ptr()) }
    }
}

impl Drop for Dst<'_> {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: by the type invariant this value owns a reference,
            // and gives it up here.
            unsafe { bindings::ipvs_rs_dst_release(self.ptr.as_ptr()) }
        }
    }
}

/// Where a lookup found the destination.
pub(crate) enum Route<'a> {
    /// On this host.
    Local,
    /// Elsewhere, by this route.
    Remote(Dst<'a>),
}

/// Builds a [`Route`] from a lookup helper's answer.
///
/// # Safety
///
/// When `r` is 0, `dst` must point to a live `struct dst_entry`: one whose
/// reference the caller passes on unless `noref`, else one that stays
/// live for `'a`.
unsafe fn route_of<'a>(r: i32, dst: *mut bindings::dst_entry, noref: bool) -> Result<Route<'a>> {
    to_result(r)?;
    if r == 1 {
        return Ok(Route::Local);
    }
    let ptr = NonNull::new(dst).ok_or(EINVAL)?;
    // INVARIANT: as the caller guarantees.
    Ok(Route::Remote(Dst {
        ptr,
        owned: !noref,
        _hook: PhantomData,
    }))
}

impl RouteCache {
    /// Looks up the route to the real server at `daddr` (IPv4) for the
    /// hook's packet `_pkt` (whose hook is the RCU read side a cached
    /// route lasts for) through this cache, with `daddr` as the next hop (right for NAT,
    /// direct routing and tunnels alike, as `daddr` is the real server);
    /// also returns the source address the route picks.
    pub(crate) fn route4<'a>(
        &'a self,
        _pkt: &Packet<'a>,
        net: &Net,
        daddr: [u8; 4],
    ) -> Result<(Route<'a>, [u8; 4])> {
        let mut saddr = 0u32;
        let mut dst = core::ptr::null_mut();
        let mut noref = false;
        // SAFETY: a live namespace, a valid cache, writable out-parameters;
        // under RCU, as `_pkt` is a hook's (see `Packet`).
        let r = unsafe {
            bindings::ipvs_rs_route4_cached(
                net.as_ptr(),
                self.0.get(),
                u32::from_ne_bytes(daddr),
                &mut saddr,
                &mut dst,
                &mut noref,
            )
        };
        // SAFETY: on 0 the helper set `dst`, with a reference for us or
        // (`noref`) a cache entry's, which a grace period keeps alive
        // while the hook of `_pkt` runs, and `self` at least as long.
        let route = unsafe { route_of(r, dst, noref) }?;
        Ok((route, saddr.to_ne_bytes()))
    }

    /// Looks up the route to the real server at `daddr` (IPv6) for the
    /// hook's packet `_pkt` through this cache. With `via_daddr` the next hop is `daddr`
    /// whatever the packet's header says (direct routing).
    pub(crate) fn route6<'a>(
        &'a self,
        _pkt: &Packet<'a>,
        net: &Net,
        daddr: &[u8; 16],
        via_daddr: bool,
    ) -> Result<Route<'a>> {
        let mut dst = core::ptr::null_mut();
        let mut noref = false;
        // SAFETY: a live namespace, a valid cache, 16 readable bytes
        // (`struct in6_addr` is plain bytes) and writable out-parameters;
        // under RCU, as `_pkt` is a hook's.
        let r = unsafe {
            bindings::ipvs_rs_route6_cached(
                net.as_ptr(),
                self.0.get(),
                daddr.as_ptr().cast(),
                via_daddr,
                &mut dst,
                &mut noref,
            )
        };
        // SAFETY: as in `route4`.
        unsafe { route_of(r, dst, noref) }
    }
}

/// Looks up the route to `daddr` (IPv6, or IPv4 in its first four bytes)
/// for the hook's packet `_pkt` without a cache: for a packet that goes
/// where it was sent (`cache_bypass`).
pub(crate) fn route_to<'a>(
    _pkt: &Packet<'a>,
    net: &Net,
    ipv6: bool,
    daddr: &[u8; 16],
) -> Result<Route<'a>> {
    let mut dst = core::ptr::null_mut();
    // SAFETY: a live namespace, 16 readable bytes (as many as the helper
    // reads at most), a writable out-parameter.
    let r = unsafe {
        bindings::ipvs_rs_route_plain(net.as_ptr(), ipv6, daddr.as_ptr().cast(), &mut dst)
    };
    // SAFETY: on 0 the helper set `dst`, with a reference for us.
    unsafe { route_of(r, dst, false) }
}

impl<'a> Packet<'a> {
    /// Makes `dst` the packet's route (its old one is dropped).
    pub(crate) fn attach(&self, dst: Dst<'a>) {
        let dst = ManuallyDrop::new(dst);
        // SAFETY: a live skb owned by the caller's hook; a reference `dst`
        // owned moves into the skb (hence no drop). A cache's route lasts
        // for `'a`, this hook; the stack takes a reference if it keeps the
        // skb beyond it (`skb_dst_force`).
        unsafe { bindings::ipvs_rs_skb_dst_attach(self.as_ptr(), dst.ptr.as_ptr(), !dst.owned) }
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
