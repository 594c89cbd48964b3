// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks (`nf_register_net_hooks`).
//!
//! Hook tables are `static` ([`HookOps`]) and shared by all namespaces, as
//! in C; a [`Registration`] attaches one to a namespace.

use crate::bindings;
use crate::kapi::net::Net;
use crate::kapi::skb::{Packet, SkBuff};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::error::{to_result, Result};
use kernel::ffi::{c_uint, c_void};

/// What a hook decides for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let the packet continue.
    Accept,
    /// Drop (and free) the packet.
    Drop,
    /// The hook took the packet ([`crate::kapi::skb::Packet::send4`]).
    Stolen,
}

/// Address family of a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// IPv4 (`NFPROTO_IPV4`).
    Ipv4,
    /// IPv6 (`NFPROTO_IPV6`).
    Ipv6,
}

/// Where in the stack a hook runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HookPoint {
    /// `NF_INET_PRE_ROUTING`.
    PreRouting,
    /// `NF_INET_LOCAL_IN`.
    LocalIn,
    /// `NF_INET_FORWARD`.
    Forward,
    /// `NF_INET_LOCAL_OUT`.
    LocalOut,
    /// `NF_INET_POST_ROUTING`.
    PostRouting,
}

/// The context of a hook invocation (`struct nf_hook_state`).
pub(crate) struct HookState<'a> {
    /// The C state, for the few calls that want it back.
    raw: &'a bindings::nf_hook_state,
    /// Namespace the packet is in.
    pub(crate) net: &'a Net,
    /// Hook point.
    pub(crate) point: HookPoint,
    /// Address family.
    pub(crate) family: Family,
}

impl HookState<'_> {
    /// The C hook state.
    pub(crate) fn as_ptr(&self) -> *const bindings::nf_hook_state {
        self.raw
    }
}

/// A netfilter hook function.
pub(crate) trait Hook {
    /// Called for each packet, in softirq or process context, under RCU.
    fn hook(skb: Packet<'_>, state: &HookState<'_>) -> Verdict;
}

/// One hook of a [`HookOps`] table.
#[derive(Clone, Copy)]
pub(crate) struct HookSpec {
    hook: unsafe extern "C" fn(
        *mut c_void,
        *mut bindings::sk_buff,
        *const bindings::nf_hook_state,
    ) -> c_uint,
    family: Family,
    point: HookPoint,
    priority: i32,
}

impl HookSpec {
    /// Hook `H` at `point` of `family`, ordered by `priority`.
    pub(crate) const fn new<H: Hook>(family: Family, point: HookPoint, priority: i32) -> Self {
        Self {
            hook: hook_callback::<H>,
            family,
            point,
            priority,
        }
    }
}

const fn nfproto(family: Family) -> u8 {
    match family {
        Family::Ipv4 => bindings::NFPROTO_IPV4 as u8,
        Family::Ipv6 => bindings::NFPROTO_IPV6 as u8,
    }
}

pub(crate) const fn hooknum(point: HookPoint) -> c_uint {
    match point {
        HookPoint::PreRouting => bindings::nf_inet_hooks_NF_INET_PRE_ROUTING,
        HookPoint::LocalIn => bindings::nf_inet_hooks_NF_INET_LOCAL_IN,
        HookPoint::Forward => bindings::nf_inet_hooks_NF_INET_FORWARD,
        HookPoint::LocalOut => bindings::nf_inet_hooks_NF_INET_LOCAL_OUT,
        HookPoint::PostRouting => bindings::nf_inet_hooks_NF_INET_POST_ROUTING,
    }
}

fn point_of(hooknum: u8) -> HookPoint {
    match c_uint::from(hooknum) {
        bindings::nf_inet_hooks_NF_INET_PRE_ROUTING => HookPoint::PreRouting,
        bindings::nf_inet_hooks_NF_INET_LOCAL_IN => HookPoint::LocalIn,
        bindings::nf_inet_hooks_NF_INET_FORWARD => HookPoint::Forward,
        bindings::nf_inet_hooks_NF_INET_LOCAL_OUT => HookPoint::LocalOut,
        _ => HookPoint::PostRouting,
    }
}

/// A table of hooks, built at compile time.
pub(crate) struct HookOps<const N: usize>([bindings::nf_hook_ops; N]);

// SAFETY: the table is never written after construction; the raw pointers
// in it are function pointers and NULLs.
unsafe impl<const N: usize> Sync for HookOps<N> {}

impl<const N: usize> HookOps<N> {
    /// Builds the table.
    pub(crate) const fn new(specs: [HookSpec; N]) -> Self {
        // SAFETY: `nf_hook_ops` is plain data; all-zero is its C default.
        let mut ops: [bindings::nf_hook_ops; N] = unsafe { core::mem::zeroed() };
        let mut i = 0;
        while i < N {
            ops[i].hook = Some(specs[i].hook);
            ops[i].pf = nfproto(specs[i].family);
            ops[i].hooknum = hooknum(specs[i].point);
            ops[i].priority = specs[i].priority;
            i += 1;
        }
        Self(ops)
    }
}

/// Hooks of a [`HookOps`] table attached to one namespace; detached on drop.
pub(crate) struct Registration {
    net: *mut bindings::net,
    ops: &'static [bindings::nf_hook_ops],
}

// SAFETY: the registration is only a handle; unregistering may happen on any
// thread.
unsafe impl Send for Registration {}
// SAFETY: no method takes `&self`.
unsafe impl Sync for Registration {}

impl Registration {
    /// Attaches `ops` to `net`.
    ///
    /// # Safety
    ///
    /// The registration must be dropped before `net` is freed, e.g. by
    /// keeping it in that namespace's pernet state.
    pub(crate) unsafe fn new<const N: usize>(net: &Net, ops: &'static HookOps<N>) -> Result<Self> {
        let len = c_uint::try_from(N)?;
        // SAFETY: `ops` is static and `net` live.
        to_result(unsafe { bindings::nf_register_net_hooks(net.as_ptr(), ops.0.as_ptr(), len) })?;
        Ok(Self {
            net: net.as_ptr(),
            ops: &ops.0,
        })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in `new` on this `net`, which the caller of
        // `new` keeps alive until now. `len` fit in `c_uint` there.
        unsafe {
            bindings::nf_unregister_net_hooks(self.net, self.ops.as_ptr(), self.ops.len() as c_uint)
        };
    }
}

/// Hook tables attached to one namespace on demand, one per slot (as
/// stock attaches a family's hooks with its first service); all detached
/// on drop.
///
/// # Invariants
///
/// `net` is live while `self` exists (see [`OnDemand::new`]).
pub(crate) struct OnDemand<const S: usize> {
    net: *mut bindings::net,
    slots: [Option<Registration>; S],
}

// SAFETY: a handle like `Registration`; attaching and detaching take
// `&mut self` and may run on any thread.
unsafe impl<const S: usize> Send for OnDemand<S> {}
// SAFETY: the only method taking `&self`, `attached`, reads which slots
// hold a table.
unsafe impl<const S: usize> Sync for OnDemand<S> {}

impl<const S: usize> OnDemand<S> {
    /// Nothing attached to `net` yet.
    ///
    /// # Safety
    ///
    /// Must be dropped before `net` is freed, e.g. by keeping it in that
    /// namespace's pernet state.
    pub(crate) unsafe fn new(net: &Net) -> Self {
        Self {
            net: net.as_ptr(),
            slots: [const { None }; S],
        }
    }

    /// Attaches `ops` in slot `i`, unless a table is attached there; may
    /// sleep.
    ///
    /// # Panics
    ///
    /// If `i` is not below `S`.
    pub(crate) fn attach<const N: usize>(&mut self, i: usize, ops: &'static HookOps<N>) -> Result {
        if self.slots[i].is_none() {
            // SAFETY: by the type invariant, `net` is live while `self` is.
            let net = unsafe { Net::from_raw(self.net) };
            // SAFETY: dropped with `self` at the latest, before `net` goes.
            self.slots[i] = Some(unsafe { Registration::new(net, ops)? });
        }
        Ok(())
    }

    /// Detaches slot `i`'s table, if any; may sleep (waits for the hooks
    /// running).
    ///
    /// # Panics
    ///
    /// If `i` is not below `S`.
    pub(crate) fn detach(&mut self, i: usize) {
        self.slots[i] = None;
    }

    /// Whether slot `i` holds a table.
    ///
    /// # Panics
    ///
    /// If `i` is not below `S`.
    pub(crate) fn attached(&self, i: usize) -> bool {
        self.slots[i].is_some()
    }
}

/// Reassembly of IPv6 fragments before the hooks of one namespace
/// (`nf_defrag_ipv6`): off until [`Ipv6Defrag::enable`], off again on drop.
pub(crate) struct Ipv6Defrag {
    net: *mut bindings::net,
    on: AtomicBool,
}

// SAFETY: a handle on the namespace's defrag user count; enabling and
// disabling take the defrag module's own mutex, on any thread.
unsafe impl Send for Ipv6Defrag {}
// SAFETY: `enable` only touches the atomic flag and the mutex-protected count.
unsafe impl Sync for Ipv6Defrag {}

impl Ipv6Defrag {
    /// Off, for `net`.
    ///
    /// # Safety
    ///
    /// Must be dropped before `net` is freed, e.g. by keeping it in that
    /// namespace's pernet state.
    pub(crate) unsafe fn new(net: &Net) -> Self {
        Self {
            net: net.as_ptr(),
            on: AtomicBool::new(false),
        }
    }

    /// Turns reassembly on, once; may sleep.
    pub(crate) fn enable(&self) -> Result {
        if self.on.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // SAFETY: `net` is live (see `new`); process context (may sleep).
        let r = to_result(unsafe { bindings::ipvs_rs_defrag_ipv6_enable(self.net) });
        if r.is_err() {
            self.on.store(false, Ordering::Release);
        }
        r
    }
}

impl Drop for Ipv6Defrag {
    fn drop(&mut self) {
        if *self.on.get_mut() {
            // SAFETY: enabled once on this live `net` (see `new`).
            unsafe { bindings::ipvs_rs_defrag_ipv6_disable(self.net) };
        }
    }
}

/// Conntrack in a namespace for one address family (`nf_ct_netns_get`),
/// which stock's FTP helper needs for its NAT services: off until
/// [`Conntrack::enable`], off again on drop.
pub(crate) struct Conntrack {
    net: *mut bindings::net,
    af: u8,
    on: AtomicBool,
}

// SAFETY: a handle on the namespace's conntrack user count, which the
// conntrack core keeps under its own mutex, on any thread.
unsafe impl Send for Conntrack {}
// SAFETY: `enable` only touches the atomic flag and the mutex-protected count.
unsafe impl Sync for Conntrack {}

impl Conntrack {
    /// Off, for family `af` (`AF_INET` or `AF_INET6`) of `net`.
    ///
    /// # Safety
    ///
    /// Must be dropped before `net` is freed, e.g. by keeping it in that
    /// namespace's pernet state.
    pub(crate) unsafe fn new(net: &Net, af: u16) -> Self {
        Self {
            net: net.as_ptr(),
            af: af as u8,
            on: AtomicBool::new(false),
        }
    }

    /// Turns conntrack on, once; may sleep.
    pub(crate) fn enable(&self) -> Result {
        if self.on.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // SAFETY: `net` is live (see `new`); process context (may sleep).
        let r = to_result(unsafe { bindings::ipvs_rs_ct_netns_get(self.net, self.af) });
        if r.is_err() {
            self.on.store(false, Ordering::Release);
        }
        r
    }
}

impl Drop for Conntrack {
    fn drop(&mut self) {
        if *self.on.get_mut() {
            // SAFETY: enabled once on this live `net` (see `new`).
            unsafe { bindings::ipvs_rs_ct_netns_put(self.net, self.af) };
        }
    }
}

/// The C hook function of `H`.
///
/// # Safety
///
/// Called by netfilter only, with a live `skb` and `state`.
unsafe extern "C" fn hook_callback<H: Hook>(
    _priv: *mut c_void,
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> c_uint {
    // SAFETY: netfilter passes a live skb and hook state for the duration
    // of the call; the state's `net` is the namespace the hook runs in.
    let (skb, state) = unsafe {
        let s = &*state;
        (
            SkBuff::from_raw(skb),
            HookState {
                raw: s,
                net: Net::from_raw(s.net),
                point: point_of(s.hook),
                family: if c_uint::from(s.pf) == bindings::NFPROTO_IPV6 {
                    Family::Ipv6
                } else {
                    Family::Ipv4
                },
            },
        )
    };
    // SAFETY: built once from the skb this callback was given.
    let packet = unsafe { Packet::new(skb) };
    match H::hook(packet, &state) {
        Verdict::Accept => bindings::NF_ACCEPT,
        Verdict::Drop => bindings::NF_DROP,
        Verdict::Stolen => bindings::NF_STOLEN,
    }
}
