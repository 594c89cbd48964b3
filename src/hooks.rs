// SPDX-License-Identifier: GPL-2.0

//! The netfilter hooks of IPVS. For now they count what they see.
//!
//! Same points and priorities as stock IPVS, so that ordering against
//! conntrack and NAT is already the one the data plane will need.

use crate::kapi::netfilter::{Family, Hook, HookOps, HookPoint, HookSpec, HookState, Verdict};
use crate::kapi::skb::SkBuff;
use crate::netns::IpvsNet;
use crate::packet::{Ipv4Header, Ipv6Header, IPV4_HDRLEN, IPV6_HDRLEN};
use core::sync::atomic::Ordering;

/// `NF_IP_PRI_NAT_SRC`/`NF_IP6_PRI_NAT_SRC`.
const PRI_NAT_SRC: i32 = 100;
/// `NF_IP_PRI_NAT_DST`/`NF_IP6_PRI_NAT_DST`.
const PRI_NAT_DST: i32 = -100;

/// Packets entering the director: for the local stack or to be forwarded.
struct Inbound;

impl Hook for Inbound {
    fn hook(skb: &SkBuff, state: &HookState<'_>) -> Verdict {
        if !is_ip(skb, state.family) {
            return Verdict::Accept;
        }
        if let Some(ipvs) = IpvsNet::get(state.net) {
            ipvs.counters.in_packets.fetch_add(1, Ordering::Relaxed);
            ipvs.counters
                .in_bytes
                .fetch_add(u64::from(skb.len()), Ordering::Relaxed);
        }
        Verdict::Accept
    }
}

/// Packets the director itself sends.
struct Outbound;

impl Hook for Outbound {
    fn hook(skb: &SkBuff, state: &HookState<'_>) -> Verdict {
        if !is_ip(skb, state.family) {
            return Verdict::Accept;
        }
        if let Some(ipvs) = IpvsNet::get(state.net) {
            ipvs.counters.out_packets.fetch_add(1, Ordering::Relaxed);
        }
        Verdict::Accept
    }
}

fn is_ip(skb: &SkBuff, family: Family) -> bool {
    match family {
        Family::Ipv4 => skb
            .read::<IPV4_HDRLEN>(0)
            .and_then(|h| Ipv4Header::parse(&h))
            .is_some(),
        Family::Ipv6 => skb
            .read::<IPV6_HDRLEN>(0)
            .and_then(|h| Ipv6Header::parse(&h))
            .is_some(),
    }
}

/// The hooks, attached to every namespace by [`crate::netns::NetGlue`].
pub(crate) static HOOKS: HookOps<6> = HookOps::new([
    HookSpec::new::<Inbound>(Family::Ipv4, HookPoint::LocalIn, PRI_NAT_SRC - 1),
    HookSpec::new::<Inbound>(Family::Ipv4, HookPoint::Forward, PRI_NAT_SRC - 1),
    HookSpec::new::<Outbound>(Family::Ipv4, HookPoint::LocalOut, PRI_NAT_DST + 2),
    HookSpec::new::<Inbound>(Family::Ipv6, HookPoint::LocalIn, PRI_NAT_SRC - 1),
    HookSpec::new::<Inbound>(Family::Ipv6, HookPoint::Forward, PRI_NAT_SRC - 1),
    HookSpec::new::<Outbound>(Family::Ipv6, HookPoint::LocalOut, PRI_NAT_DST + 2),
]);
