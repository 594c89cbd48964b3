// SPDX-License-Identifier: GPL-2.0

//! Network namespaces.

use crate::bindings;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::types::Opaque;

/// Whether a message about the network may go to the log now
/// (`net_ratelimit`: one budget for the whole stack, by default 10 messages
/// every 5 seconds).
pub(crate) fn net_ratelimit() -> bool {
    // SAFETY: a plain call without arguments, from any context.
    unsafe { bindings::net_ratelimit() != 0 }
}

/// A network namespace (`struct net`).
///
/// Only ever used by reference: the kernel owns it, and a `&Net` is valid
/// for as long as the callback that produced it runs.
#[repr(transparent)]
pub(crate) struct Net(Opaque<bindings::net>);

impl Net {
    /// Wraps a raw `struct net` pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live `struct net` that stays alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::net) -> &'a Net {
        // SAFETY: `Net` is a transparent wrapper of `struct net`, and the
        // caller guarantees the pointee is alive for `'a`.
        unsafe { &*ptr.cast::<Net>() }
    }

    /// The raw `struct net` pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::net {
        self.0.get()
    }

    /// Kills the conntrack entry of the flow `caddr:cport -> vaddr:vport`
    /// (addresses as `union nf_inet_addr`, ports in network order), if any.
    pub(crate) fn ct_drop(
        &self,
        af: u16,
        protocol: u8,
        client: (&[u8; 16], [u8; 2]),
        virt: (&[u8; 16], [u8; 2]),
    ) {
        // SAFETY: `self` is a live namespace; the addresses hold 16 bytes.
        unsafe {
            bindings::ipvs_rs_ct_drop(
                self.as_ptr(),
                af,
                protocol,
                client.0.as_ptr(),
                u16::from_ne_bytes(client.1),
                virt.0.as_ptr(),
                u16::from_ne_bytes(virt.1),
            )
        }
    }

    /// Whether this is the initial network namespace.
    pub(crate) fn is_init(&self) -> bool {
        // SAFETY: `self` is a live `struct net`.
        unsafe { bindings::ipvs_rs_net_is_init(self.as_ptr()) }
    }

    /// Whether `addr` (IPv6 or IPv4, as `union nf_inet_addr`) is unicast
    /// or local here, as a real server's must be (`ip_vs_new_dest`); IPv6
    /// link-local addresses only if local.
    pub(crate) fn unicast_or_local(&self, ipv6: bool, addr: &[u8; 16]) -> bool {
        // SAFETY: `self` is a live namespace; `addr` holds 16 bytes, as
        // many as the helper reads.
        unsafe { bindings::ipvs_rs_unicast_or_local(self.as_ptr(), ipv6, addr.as_ptr().cast()) }
    }

    /// Whether `addr` is a unicast address of another host
    /// (`ip_vs_addr_is_unicast`): IPv4 by the routing tables (not local,
    /// broadcast or multicast), IPv6 by its type.
    pub(crate) fn is_unicast(&self, ipv6: bool, addr: &[u8; 16]) -> bool {
        // SAFETY: `self` is a live namespace; `addr` holds 16 bytes, as
        // many as the helper reads.
        unsafe { bindings::ipvs_rs_addr_is_unicast(self.as_ptr(), ipv6, addr.as_ptr().cast()) }
    }

    /// Whether binding `port` needs privilege here
    /// (`inet_port_requires_bind_service`: below
    /// `ip_unprivileged_port_start`).
    pub(crate) fn port_privileged(&self, port: u16) -> bool {
        // SAFETY: `self` is a live namespace.
        unsafe { bindings::ipvs_rs_port_privileged(self.as_ptr(), port) }
    }

    /// Whether the namespace is owned by the initial user namespace.
    pub(crate) fn owned_by_init_user_ns(&self) -> bool {
        // SAFETY: `self` is a live `struct net`.
        unsafe { bindings::ipvs_rs_net_user_ns_is_init(self.as_ptr()) }
    }
}

/// A namespace held without a reference by an object the namespace
/// outlives until [`NetSlot::clear`], after which it is empty.
pub(crate) struct NetSlot(AtomicPtr<bindings::net>);

impl NetSlot {
    /// Holds `net` (or nothing).
    ///
    /// # Safety
    ///
    /// The owner must call [`NetSlot::clear`] before `net` is freed, and
    /// no [`NetSlot::with`] may run across that point.
    pub(crate) unsafe fn new(net: Option<&Net>) -> Self {
        Self(AtomicPtr::new(
            net.map_or(core::ptr::null_mut(), Net::as_ptr),
        ))
    }

    /// Empties the slot.
    pub(crate) fn clear(&self) {
        self.0.store(core::ptr::null_mut(), Ordering::Release);
    }

    /// Calls `f` with the namespace, if the slot holds one.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Net) -> R) -> Option<R> {
        let p = self.0.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: non-null only while the namespace is alive (`new`'s
        // contract).
        Some(f(unsafe { Net::from_raw(p) }))
    }
}

/// The initial network namespace.
pub(crate) fn init_net() -> &'static Net {
    // SAFETY: `init_net` is static and never freed.
    unsafe { Net::from_raw(&raw const bindings::init_net) }
}
