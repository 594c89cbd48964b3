// SPDX-License-Identifier: GPL-2.0

//! Socket buffers: header access, rewriting, routing and sending.

use crate::bindings;
use crate::kapi::net::Net;
use crate::kapi::netfilter::HookState;
use crate::kapi::netfilter::Verdict;
use crate::nat::{ICMP as IPPROTO_ICMP, ICMPV6 as IPPROTO_ICMPV6, TCP as IPPROTO_TCP};
use crate::uapi::Encap;
use core::marker::PhantomData;
use kernel::error::{code::EINVAL, to_result, Result};
use kernel::types::Opaque;

/// The conntrack state bits in `skb->_nfct` below the entry's address
/// (`NFCT_INFOMASK`; `helpers.c` asserts the value).
const NFCT_INFOMASK: kernel::ffi::c_ulong = 7;

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
        // SAFETY: `self` is a live skb; a plain field read through the
        // raw pointer (no reference to the shared struct is made).
        unsafe { (*self.as_ptr()).len }
    }

    /// The header fields (`struct_group(headers)` of `struct sk_buff`).
    fn headers(&self) -> *const bindings::sk_buff__bindgen_ty_4__bindgen_ty_1 {
        // SAFETY: `self` is a live skb; the union's members all start at
        // its address, this one being the plain view of the header fields.
        unsafe { core::ptr::addr_of!((*self.as_ptr()).__bindgen_anon_4).cast() }
    }

    /// The linear area: its start (`skb->data`), where the network
    /// header starts (`skb_network_header`) and how long the area is
    /// (`skb_headlen`).
    fn linear(&self) -> (*const u8, *const u8, usize) {
        let p = self.as_ptr();
        // SAFETY: `self` is a live skb; plain field reads through raw
        // pointers. `head + network_header` stays inside the buffer the
        // skb owns (the stack set the offset), as `skb_network_header`.
        unsafe {
            let nh = (*p).head.add(usize::from((*self.headers()).network_header));
            let headlen = (*p).len.saturating_sub((*p).data_len) as usize;
            ((*p).data.cast_const(), nh.cast_const(), headlen)
        }
    }

    /// Offset of the network header from `skb->data`.
    pub(crate) fn network_offset(&self) -> i32 {
        let (data, nh, _) = self.linear();
        // Both point into the skb's buffer, which is far shorter than
        // `i32::MAX`.
        (nh as isize - data as isize) as i32
    }

    /// Copies `N` bytes starting `offset` bytes after the network header,
    /// wherever they live (linear area or fragments). `None` if the packet
    /// is too short.
    pub(crate) fn read<const N: usize>(&self, offset: usize) -> Option<[u8; N]> {
        let mut buf = [0u8; N];
        self.read_into(offset, &mut buf).then_some(buf)
    }
}

/// `skb->ip_summed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Csum {
    /// `CHECKSUM_NONE`: nobody checked it.
    None,
    /// `CHECKSUM_UNNECESSARY`: verified.
    Unnecessary,
    /// `CHECKSUM_COMPLETE`: `skb->csum` holds the sum of the payload.
    Complete,
    /// `CHECKSUM_PARTIAL`: the field holds the pseudo-header sum; the
    /// device (or software fallback) computes the rest.
    Partial,
}

impl SkBuff {
    /// `skb->ip_summed`.
    pub(crate) fn csum(&self) -> Csum {
        // SAFETY: `self` is a live skb whose owner does not write it
        // meanwhile; the bitfield accessor reads one byte of it.
        match u32::from(unsafe { (*self.headers()).ip_summed() }) {
            bindings::CHECKSUM_UNNECESSARY => Csum::Unnecessary,
            bindings::CHECKSUM_COMPLETE => Csum::Complete,
            bindings::CHECKSUM_PARTIAL => Csum::Partial,
            _ => Csum::None,
        }
    }

    /// Sets `skb->ip_summed` (only `None` and `Unnecessary` make sense
    /// after rewriting).
    pub(crate) fn set_csum(&self, c: Csum) {
        let v = match c {
            Csum::None => bindings::CHECKSUM_NONE,
            Csum::Unnecessary => bindings::CHECKSUM_UNNECESSARY,
            Csum::Complete => bindings::CHECKSUM_COMPLETE,
            Csum::Partial => bindings::CHECKSUM_PARTIAL,
        };
        // SAFETY: `self` is a live skb owned by the caller's hook, whose
        // header bits nobody else writes meanwhile.
        unsafe {
            bindings::sk_buff__bindgen_ty_4__bindgen_ty_1::set_ip_summed_raw(
                self.headers().cast_mut(),
                v as u8,
            )
        }
    }

    /// The firewall mark (`skb->mark`).
    pub(crate) fn mark(&self) -> u32 {
        // SAFETY: `self` is a live skb; a plain read of a header field.
        unsafe { (*self.headers()).__bindgen_anon_4.mark }
    }

    /// The address this host would send from to the packet's destination
    /// on the packet's route (the primary address of the route's device,
    /// as `MASQUERADE` picks it); IPv4 in the first four bytes.
    pub(crate) fn route_saddr(&self, ipv6: bool) -> Option<[u8; 16]> {
        let mut a = [0u8; 16];
        let out = a.as_mut_ptr().cast();
        // SAFETY: `self` is a live skb of that family owned by the
        // caller's hook; `a` has room for either address.
        let r = unsafe { bindings::ipvs_rs_route_saddr(self.as_ptr(), ipv6, out) };
        (r == 0).then_some(a)
    }

    /// Answers the packet with an ICMP port unreachable.
    pub(crate) fn icmp_port_unreach(&self, ipv6: bool) {
        if ipv6 {
            // SAFETY: `self` is a live IPv6 skb owned by the caller's hook.
            unsafe { bindings::ipvs_rs_icmp6_port_unreach(self.as_ptr()) }
        } else {
            // SAFETY: `self` is a live IPv4 skb owned by the caller's hook.
            unsafe { bindings::ipvs_rs_icmp_port_unreach(self.as_ptr()) }
        }
    }

    /// Whether IPVS already handled this packet (`skb->ipvs_property`).
    pub(crate) fn ipvs_property(&self) -> bool {
        // SAFETY: `self` is a live skb whose owner does not write it
        // meanwhile; the bitfield accessor reads one byte of it.
        unsafe { (*self.headers()).ipvs_property() != 0 }
    }

    /// Whether the ICMP (or ICMPv6, `ipv6`) message `l4` bytes after the
    /// network header has a right checksum (stock
    /// `ip_vs_checksum_common_check`): true if the device or the stack
    /// checked it already, or the packet is this host's own.
    pub(crate) fn icmp_checksum_ok(&self, l4: usize, ipv6: bool) -> bool {
        let proto = if ipv6 { IPPROTO_ICMPV6 } else { IPPROTO_ICMP };
        self.l4_checksum_ok(l4, proto, ipv6)
    }

    /// Whether the TCP segment `l4` bytes after the network header has a
    /// right checksum (stock's `tcp_csum_check`, before a helper reads
    /// the payload), as [`SkBuff::icmp_checksum_ok`].
    pub(crate) fn tcp_checksum_ok(&self, l4: usize, ipv6: bool) -> bool {
        self.l4_checksum_ok(l4, IPPROTO_TCP, ipv6)
    }

    fn l4_checksum_ok(&self, l4: usize, proto: u8, ipv6: bool) -> bool {
        let Some(off) = usize::try_from(self.network_offset())
            .ok()
            .and_then(|n| u32::try_from(n + l4).ok())
        else {
            return false;
        };
        // SAFETY: `self` is a live skb owned by the caller's hook; the
        // helper reads it through `skb_checksum`, whatever its layout.
        unsafe { bindings::ipvs_rs_l4_checksum_ok(self.as_ptr(), off, proto, ipv6) }
    }

    /// Recomputes the SCTP checksum of the packet, whose common header
    /// starts `l4` bytes after the network header and was made writable
    /// by [`SkBuff::with_header_mut`].
    pub(crate) fn set_sctp_checksum(&self, l4: usize) {
        let Some(off) = usize::try_from(self.network_offset())
            .ok()
            .and_then(|n| u32::try_from(n + l4).ok())
        else {
            return;
        };
        // SAFETY: `self` is a live skb owned by the caller's hook; the 12
        // bytes of the common header at `off` are linear and writable.
        unsafe { bindings::ipvs_rs_sctp_set_checksum(self.as_ptr(), off) }
    }

    /// Marks the packet as handled by IPVS.
    pub(crate) fn set_ipvs_property(&self) {
        // SAFETY: as in `set_csum`.
        unsafe {
            bindings::sk_buff__bindgen_ty_4__bindgen_ty_1::set_ipvs_property_raw(
                self.headers().cast_mut(),
                1,
            )
        }
    }

    /// Gives `f` the first `len` bytes from the network header, made
    /// private to this skb and linear. `None` if the packet is shorter.
    pub(crate) fn with_header_mut<R>(
        &self,
        len: usize,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Option<R> {
        let end = usize::try_from(self.network_offset())
            .ok()?
            .checked_add(len)?;
        // SAFETY: `self` is a live skb; a read of its own bit.
        let cloned = unsafe { bindings::sk_buff::cloned_raw(self.as_ptr()) } != 0;
        let (_, mut nh, mut headlen) = self.linear();
        // Linear and not shared already, as mostly: nothing to call.
        if cloned || end > headlen {
            let total = u32::try_from(end).ok()?;
            // SAFETY: `self` is a live skb owned by the caller's hook.
            if unsafe { bindings::ipvs_rs_skb_ensure_writable(self.as_ptr(), total) } != 0 {
                return None;
            }
            // The buffer may have moved (the offsets stay).
            (_, nh, headlen) = self.linear();
        }
        if end > headlen {
            return None;
        }
        // SAFETY: `len` bytes from the network header lie in the linear
        // area, which no clone shares (or `skb_ensure_writable` made it
        // so); nobody else touches them while the hook owns the skb, and
        // the closure cannot keep the slice.
        let bytes = unsafe { core::slice::from_raw_parts_mut(nh.cast_mut(), len) };
        Some(f(bytes))
    }

    /// Whether the packet is too big for `mtu` (GSO packets: by their
    /// segments; reassembled IPv6 packets: by their largest fragment).
    pub(crate) fn exceeds_mtu(&self, mtu: u32, ipv6: bool) -> bool {
        // What fits needs no look at GSO (IPv6 may have a fragment size).
        if !ipv6 && self.len() <= mtu {
            return false;
        }
        // SAFETY: `self` is a live skb.
        unsafe { bindings::ipvs_rs_exceeds_mtu(self.as_ptr(), mtu, ipv6) }
    }

    /// Tells the packet's sender that the path takes at most `mtu` bytes
    /// (ICMP "fragmentation needed", ICMPv6 "packet too big").
    pub(crate) fn icmp_too_big(&self, net: &Net, mtu: u32, ipv6: bool) {
        // SAFETY: a live skb of that family owned by the caller's hook, in
        // the live namespace `net`.
        unsafe { bindings::ipvs_rs_icmp_too_big(net.as_ptr(), self.as_ptr(), mtu, ipv6) }
    }

    /// Wraps the routed packet (of protocol `inner`, IPIP or IPv6) for a
    /// tunnel: `encap`'s header, then room for an outer IPv4 header from
    /// `saddr` to `daddr`, where the network header then points (the
    /// caller writes it). Returns the outer header's protocol.
    pub(crate) fn push_tunnel4(
        &self,
        net: &Net,
        inner: u8,
        encap: Encap,
        saddr: [u8; 4],
        daddr: [u8; 4],
    ) -> Result<u8> {
        self.push_tunnel(net, inner, encap, &saddr, &daddr)
    }

    /// As [`Packet::push_tunnel4`], with an outer IPv6 header to `daddr`;
    /// returns the outer protocol and the source address the route gives.
    pub(crate) fn push_tunnel6(
        &self,
        net: &Net,
        inner: u8,
        encap: Encap,
        daddr: &[u8; 16],
    ) -> Result<(u8, [u8; 16])> {
        let mut saddr = [0u8; 16];
        // SAFETY: routed live skb owned by the caller; 16 readable and 16
        // writable bytes (`struct in6_addr` is plain bytes).
        to_result(unsafe {
            bindings::ipvs_rs_tunnel_saddr6(
                self.as_ptr(),
                daddr.as_ptr().cast(),
                saddr.as_mut_ptr().cast(),
            )
        })?;
        Ok((self.push_tunnel(net, inner, encap, &saddr, daddr)?, saddr))
    }

    /// [`Packet::push_tunnel4`] or, with 16-byte addresses, its IPv6 twin.
    fn push_tunnel(
        &self,
        net: &Net,
        inner: u8,
        encap: Encap,
        saddr: &[u8],
        daddr: &[u8],
    ) -> Result<u8> {
        let outer_v6 = daddr.len() == 16;
        if saddr.len() != daddr.len() || !(outer_v6 || daddr.len() == 4) {
            return Err(EINVAL);
        }
        // SAFETY: routed (dst attached) live skb owned by the caller, in
        // the live namespace `net`; the helper reads 16 bytes at each
        // address for an outer IPv6 header, else 4, as many as they hold.
        let r = unsafe {
            bindings::ipvs_rs_push_tunnel(
                net.as_ptr(),
                self.as_ptr(),
                outer_v6,
                inner,
                encap.kind,
                encap.flags,
                u16::from_ne_bytes(encap.port),
                saddr.as_ptr().cast(),
                daddr.as_ptr().cast(),
            )
        };
        to_result(r)?;
        u8::try_from(r).map_err(|_| EINVAL)
    }

    /// Picks the IPv4 identification of a header just written.
    pub(crate) fn select_ident(&self, net: &Net) {
        // SAFETY: live skb with an IPv4 header at its network header.
        unsafe { bindings::ipvs_rs_ip_select_ident(net.as_ptr(), self.as_ptr()) }
    }
}

/// A packet a hook owns: it may be rewritten, and sending it ends the
/// hook's ownership.
///
/// # Invariants
///
/// Exists only while the netfilter hook it was passed to runs, which is
/// an RCU read-side critical section (`nf_hook` holds `rcu_read_lock`)
/// for all of `'a`.
pub(crate) struct Packet<'a>(&'a SkBuff);

/// The RCU read side a hook holds while it runs (see [`Packet`]).
pub(crate) struct HookRcu<'a>(PhantomData<&'a ()>);

// SAFETY: only [`Packet::rcu`] makes one, for no longer than the packet's
// hook runs, which holds `rcu_read_lock` throughout (`Packet`'s
// invariant).
unsafe impl crate::kapi::rhash::ReadSide for HookRcu<'_> {}

impl<'a> Packet<'a> {
    /// The read side this packet's hook holds: no need to take another.
    pub(crate) fn rcu(&self) -> HookRcu<'a> {
        HookRcu(PhantomData)
    }

    /// Wraps the packet a hook got.
    ///
    /// # Safety
    ///
    /// Only a netfilter hook callback may build it, once per call, from the
    /// skb it was passed.
    pub(crate) unsafe fn new(skb: &'a SkBuff) -> Self {
        Self(skb)
    }

    /// Reassembles an IPv4 fragment met at `state`'s hook: the whole
    /// datagram once this was its last fragment, or `Err(Stolen)`, the
    /// verdict to return, when the packet was queued for the others (or
    /// dropped).
    pub(crate) fn gather_frags(self, state: &HookState<'_>) -> core::result::Result<Self, Verdict> {
        let hook = crate::kapi::netfilter::hooknum(state.point);
        let (net, skb) = (state.net.as_ptr(), self.0.as_ptr());
        // SAFETY: the hook owns the live IPv4 skb; on failure it is queued
        // or freed, and `Stolen` tells netfilter it is gone. On success it
        // is still the hook's, now the whole datagram.
        let err = unsafe { bindings::ipvs_rs_ip_gather_frags(net, skb, hook) };
        if err == 0 {
            Ok(self)
        } else {
            Err(Verdict::Stolen)
        }
    }

    /// Sends the routed IPv4 packet through `LOCAL_OUT` (as stock IPVS
    /// does) marked as handled; the hook must return the verdict.
    pub(crate) fn send4(self, net: &Net) -> Verdict {
        // SAFETY: the hook owns the routed skb and gives it up here; the
        // `Stolen` verdict tells netfilter not to touch it again.
        unsafe {
            bindings::ipvs_rs_send(net.as_ptr(), self.0.as_ptr(), bindings::NFPROTO_IPV4 as u8)
        };
        Verdict::Stolen
    }
}

impl Packet<'_> {
    /// Takes the packet out of conntrack (IPVS forwards it on its own).
    pub(crate) fn ct_untrack(&self) {
        // SAFETY: the hook owns the live skb; a plain read of its field.
        let nfct = unsafe { (*self.0.as_ptr())._nfct };
        // No entry (`nf_ct_get` would find none): nothing to drop.
        if nfct & !NFCT_INFOMASK == 0 {
            return;
        }
        // SAFETY: the hook owns the live skb; this drops its conntrack
        // reference and marks it untracked.
        unsafe { bindings::ipvs_rs_ct_untrack(self.0.as_ptr()) }
    }

    /// Whether the packet belongs to a confirmed (older) conntrack entry.
    pub(crate) fn ct_confirmed(&self) -> bool {
        // SAFETY: reads the live skb's conntrack entry.
        unsafe { bindings::ipvs_rs_ct_confirmed(self.0.as_ptr()) }
    }

    /// For a new conntrack entry in the original direction: expect the
    /// reply from `addr:port` (`from_server`) or addressed to it.
    /// With `seqadj` (a TCP connection with a helper that may resize
    /// its payload) the entry gets room for sequence adjustment.
    pub(crate) fn ct_alter_reply(
        &self,
        from_server: bool,
        addr: &[u8; 16],
        port: [u8; 2],
        seqadj: bool,
    ) {
        // SAFETY: the hook owns the live skb; `addr` holds the 16 bytes of
        // a `union nf_inet_addr`.
        unsafe {
            bindings::ipvs_rs_ct_alter_reply(
                self.0.as_ptr(),
                from_server,
                addr.as_ptr(),
                u16::from_ne_bytes(port),
                seqadj,
            )
        }
    }

    /// Tells conntrack that the packet's entry expects a related
    /// `protocol` flow from `saddr` (any port) to `daddr:dport`; nothing
    /// if conntrack declines (as stock, which ignores it too).
    pub(crate) fn ct_expect(
        &self,
        protocol: u8,
        saddr: &[u8; 16],
        daddr: &[u8; 16],
        dport: [u8; 2],
    ) {
        // SAFETY: the hook owns the live skb; the addresses hold the 16
        // bytes of a `union nf_inet_addr`.
        unsafe {
            bindings::ipvs_rs_ct_expect(
                self.0.as_ptr(),
                protocol,
                saddr.as_ptr(),
                daddr.as_ptr(),
                u16::from_ne_bytes(dport),
            )
        }
    }

    /// Replaces `len` bytes at `at` of the TCP payload (the TCP header
    /// `l4` bytes after the network header) by `text`: the checksum is
    /// redone and conntrack adjusts the sequence numbers after it. Needs
    /// the packet's conntrack entry, with room for the adjustment (see
    /// [`Packet::ct_alter_reply`]) if the length changes; `false` if
    /// not done. Offsets and lengths outside the packet are refused by
    /// the kernel's own checks.
    pub(crate) fn mangle_tcp(&self, l4: usize, at: usize, len: usize, text: &[u8]) -> bool {
        let (Ok(l4), Ok(at), Ok(len), Ok(n)) = (
            u32::try_from(l4),
            u32::try_from(at),
            u32::try_from(len),
            u32::try_from(text.len()),
        ) else {
            return false;
        };
        // Where the payload starts, from `skb->data`.
        let Some(doff) = self
            .read::<1>(l4 as usize + 12)
            .map(|b| u32::from(b[0] >> 4) * 4)
        else {
            return false;
        };
        let Ok(nh) = u32::try_from(self.network_offset()) else {
            return false;
        };
        let start = nh + l4 + doff;
        if doff < 20
            || [at, len, start]
                .iter()
                .try_fold(0u32, |a, &b| a.checked_add(b))
                .map_or(true, |end| end > self.len())
        {
            return false;
        }
        // SAFETY: the hook owns the live skb; `text` is readable for `n`
        // bytes; the range to replace lies inside the packet (checked).
        unsafe {
            bindings::ipvs_rs_mangle_tcp(self.0.as_ptr(), l4, at, len, text.as_ptr().cast(), n)
        }
    }

    /// Replaces the packet's confirmed conntrack entry (killed) by a new
    /// one built from the packet; `false` if conntrack refused it.
    pub(crate) fn ct_renew(&self, state: &HookState<'_>) -> bool {
        // SAFETY: the hook owns the live skb, and `state` is the hook
        // state it was called with.
        unsafe {
            bindings::ipvs_rs_ct_renew(self.0.as_ptr(), state.as_ptr()) == bindings::NF_ACCEPT
        }
    }

    /// Sends the routed IPv6 packet, as [`Packet::send4`].
    pub(crate) fn send6(self, net: &Net) -> Verdict {
        // SAFETY: as in `send4`.
        unsafe {
            bindings::ipvs_rs_send(net.as_ptr(), self.0.as_ptr(), bindings::NFPROTO_IPV6 as u8)
        };
        Verdict::Stolen
    }
}

impl core::ops::Deref for Packet<'_> {
    type Target = SkBuff;

    fn deref(&self) -> &SkBuff {
        self.0
    }
}

impl SkBuff {
    /// Copies `buf.len()` bytes starting `offset` bytes after the network
    /// header into `buf`; `false` if the packet is too short.
    pub(crate) fn read_into(&self, offset: usize, buf: &mut [u8]) -> bool {
        let (data, nh, headlen) = self.linear();
        // From `skb->data`, where `skb_header_pointer` counts too.
        let Some(from_data) = isize::try_from(offset)
            .ok()
            .and_then(|o| (nh as isize - data as isize).checked_add(o))
        else {
            return false;
        };
        if let Ok(start) = usize::try_from(from_data) {
            if start
                .checked_add(buf.len())
                .is_some_and(|end| end <= headlen)
            {
                // SAFETY: `start..start + len` lies in the linear area,
                // `headlen` bytes readable from `data` while the hook owns
                // the skb; `buf` is ours.
                unsafe {
                    core::ptr::copy_nonoverlapping(data.add(start), buf.as_mut_ptr(), buf.len())
                };
                return true;
            }
        }
        // In the fragments (or nowhere): the kernel's copy.
        let (Ok(off), Ok(len)) = (i32::try_from(from_data), i32::try_from(buf.len())) else {
            return false;
        };
        // SAFETY: `self` is a live skb and `buf` has room for `len` bytes.
        let p = unsafe {
            bindings::ipvs_rs_skb_header_pointer(self.as_ptr(), off, len, buf.as_mut_ptr().cast())
        };
        if p.is_null() {
            return false;
        }
        if p != buf.as_mut_ptr().cast() {
            // SAFETY: `skb_header_pointer` returned `len` readable bytes
            // inside the skb's linear area, which cannot overlap `buf`.
            unsafe { core::ptr::copy_nonoverlapping(p.cast::<u8>(), buf.as_mut_ptr(), buf.len()) };
        }
        true
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
