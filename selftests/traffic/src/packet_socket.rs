// SPDX-License-Identifier: GPL-2.0

//! A raw `AF_PACKET` socket on one interface, as the packet fuzzer
//! (sending) and the sniffer (receiving) use it.

use std::os::fd::{FromRawFd, OwnedFd};

/// A raw packet socket for `protocol` (`ETH_P_*`, host order; 0 for a
/// socket that only sends) and the link-layer address of `ifname`,
/// with family, protocol and interface set.
pub fn open(ifname: &str, protocol: u16) -> Result<(OwnedFd, libc::sockaddr_ll), String> {
    let proto = protocol.to_be();
    // SAFETY: a plain socket call; the descriptor moves into an `OwnedFd`.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
    if fd < 0 {
        return Err(format!(
            "no AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `fd` is new and ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let cname = std::ffi::CString::new(ifname).map_err(|_| "bad interface name".to_string())?;
    // SAFETY: a C string that lives through the call.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        return Err(format!("no such interface: {ifname}"));
    }
    // SAFETY: all-zero is a valid `sockaddr_ll`.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = proto;
    sa.sll_ifindex = ifindex as i32;
    Ok((fd, sa))
}
