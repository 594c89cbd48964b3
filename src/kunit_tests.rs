// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `ipvs_rs`: checks the glue against the running kernel. It
//! runs when the module loads (results in dmesg and debugfs).

use crate::kapi::kunit::Test;
use crate::kapi::skb::OwnedSkBuff;
use crate::kexpect;
use crate::packet::{Ipv4Header, IPV4_HDRLEN};
use crate::params::{Sysctl, SYSCTLS};

const PACKET: [u8; 28] = [
    0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 207, 175, 44, 110, // IPv4
    0x30, 0x39, 0x1f, 0x90, 0, 8, 0, 0, // UDP 12345 -> 8080
];

/// Header reads through `skb_header_pointer` see what was put in the skb.
fn skb_read_headers(t: &mut Test) {
    let Ok(skb) = OwnedSkBuff::from_bytes(&PACKET) else {
        kexpect!(t, false);
        return;
    };
    kexpect!(t, skb.len() == 28);
    let h = skb
        .read::<IPV4_HDRLEN>(0)
        .and_then(|b| Ipv4Header::parse(&b));
    kexpect!(
        t,
        h.is_some_and(|h| h.protocol == 17 && h.daddr == [207, 175, 44, 110])
    );
    kexpect!(
        t,
        skb.read::<8>(20) == Some([0x30, 0x39, 0x1f, 0x90, 0, 8, 0, 0])
    );
    // Reads past the end fail instead of returning garbage.
    kexpect!(t, skb.read::<8>(21).is_none());
    kexpect!(t, skb.read::<1>(usize::MAX).is_none());
}

/// The init namespace has its state, with stock defaults.
fn init_net_state(t: &mut Test) {
    let Some(ipvs) = crate::netns::IpvsNet::get(crate::kapi::net::init_net()) else {
        kexpect!(t, false);
        return;
    };
    kexpect!(t, ipvs.sysctl(Sysctl::Amemthresh) == 1024);
    kexpect!(t, ipvs.sysctl(Sysctl::ConnReuseMode) == 1);
    kexpect!(
        t,
        ipvs.sysctl(Sysctl::SyncVersion) == SYSCTLS[Sysctl::SyncVersion as usize].default
    );
}

/// The connection table size follows `conn_tab_bits`, within stock bounds.
fn conn_tab_size(t: &mut Test) {
    let size = crate::netlink::conn_tab_size();
    kexpect!(t, size.is_power_of_two());
    kexpect!(t, (256..=1 << 20).contains(&size));
}

crate::kunit_suite!("ipvs_rs", [skb_read_headers, init_net_state, conn_tab_size]);
