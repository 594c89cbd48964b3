// SPDX-License-Identifier: GPL-2.0

//! Where `crate::uapi` (pure constants shared with `ipvsadm-rs`) meets the
//! kernel's own `include/uapi/linux/ip_vs.h`, and the module parameters
//! that live in C.

use crate::bindings;
use crate::uapi::{
    cmd, cmd_attr, dest_attr, info_attr, stats_attr, svc_attr, tunnel, GENL_VERSION, VERSION_CODE,
};

// The shared ABI constants must match the kernel's header.
const _: () = {
    assert!(cmd::GET_INFO as u32 == bindings::IPVS_CMD_GET_INFO);
    assert!(cmd::FLUSH as u32 == bindings::IPVS_CMD_FLUSH);
    assert!(cmd::MAX as u32 == bindings::IPVS_CMD_FLUSH);
    assert!(cmd_attr::MAX as u32 == bindings::IPVS_CMD_ATTR_TIMEOUT_UDP);
    assert!(svc_attr::MAX as u32 == bindings::IPVS_SVC_ATTR_STATS64);
    assert!(dest_attr::MAX as u32 == bindings::IPVS_DEST_ATTR_TUN_FLAGS);
    assert!(stats_attr::PAD as u32 == bindings::IPVS_STATS_ATTR_PAD);
    assert!(info_attr::CONN_TAB_SIZE as u32 == bindings::IPVS_INFO_ATTR_CONN_TAB_SIZE);
    assert!(VERSION_CODE == bindings::IP_VS_VERSION_CODE);
    assert!(GENL_VERSION as u32 == bindings::IPVS_GENL_VERSION);
    assert!(tunnel::IPIP as u32 == bindings::IP_VS_CONN_F_TUNNEL_TYPE_IPIP);
    assert!(tunnel::GUE as u32 == bindings::IP_VS_CONN_F_TUNNEL_TYPE_GUE);
    assert!(tunnel::GRE as u32 == bindings::IP_VS_CONN_F_TUNNEL_TYPE_GRE);
    assert!(tunnel::TYPE_MAX as u32 == bindings::IP_VS_CONN_F_TUNNEL_TYPE_MAX);
    assert!(tunnel::CSUM as u32 == bindings::IP_VS_TUNNEL_ENCAP_FLAG_CSUM);
    assert!(tunnel::REMCSUM as u32 == bindings::IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM);
};

/// Timer ticks per second (`HZ`).
pub(crate) const fn hz() -> u32 {
    bindings::CONFIG_HZ
}

/// The largest connection table, bits: the `conn_tab_bits` module
/// parameter within [`super::rhash::max_bits`]'s bounds.
pub(crate) fn conn_tab_bits() -> u32 {
    // SAFETY: reads an int module parameter, set before init runs.
    let bits = unsafe { bindings::ipvs_rs_conn_tab_bits() };
    // SAFETY: reads a counter; no preconditions.
    let pages = unsafe { bindings::ipvs_rs_totalram_pages() } as u64;
    super::rhash::max_bits(bits, pages * kernel::page::PAGE_SIZE as u64)
}

/// Free and buffer pages (`si_meminfo`'s `freeram + bufferram`), the
/// memory the defense modes watch.
pub(crate) fn avail_pages() -> usize {
    // SAFETY: reads memory statistics; no preconditions.
    unsafe { bindings::ipvs_rs_avail_pages() as usize }
}

/// Free pages in the zones that hold buffers (`nr_free_buffer_pages`).
pub(crate) fn free_buffer_pages() -> usize {
    // SAFETY: reads memory statistics; no preconditions.
    unsafe { bindings::nr_free_buffer_pages() }
}

/// `N` random `u64`s (`get_random_bytes`), for hash keys.
pub(crate) fn random_u64s<const N: usize>() -> [u64; N] {
    let mut v = [0u64; N];
    // SAFETY: writes exactly `size_of_val(&v)` bytes into `v`.
    unsafe { bindings::get_random_bytes(v.as_mut_ptr().cast(), core::mem::size_of_val(&v)) };
    v
}

/// A random 32-bit number (`get_random_u32`).
pub(crate) fn random_u32() -> u32 {
    // SAFETY: no preconditions.
    unsafe { bindings::get_random_u32() }
}

/// Whether the FTP helper watches virtual port `port` (the `ftp_ports`
/// module parameter, stock `ip_vs_ftp`'s `ports`: 21 by default).
pub(crate) fn ftp_watches(port: u16) -> bool {
    // SAFETY: reads a module parameter, fixed after load.
    unsafe { bindings::ipvs_rs_ftp_watches(port) }
}
