//! Reverse lookups for listings without `-n`, through the C library as
//! ipvsadm does (`/etc/hosts`, DNS, `/etc/services`).

use crate::format::Names;
use crate::model::{IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};
use std::ffi::{CStr, CString};
use std::net::IpAddr;

/// The system resolver.
pub struct System;

impl Names for System {
    fn host(&self, addr: IpAddr) -> Option<String> {
        let mut host = [0 as libc::c_char; 1025];
        let (sa, len) = match addr {
            IpAddr::V4(a) => {
                // SAFETY: an all-zero sockaddr_in is valid.
                let mut s: libc::sockaddr_in = unsafe { std::mem::zeroed() };
                s.sin_family = libc::AF_INET as libc::sa_family_t;
                s.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
                // SAFETY: sockaddr_storage is larger than sockaddr_in.
                let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
                // SAFETY: copying a sockaddr_in into storage sized for any.
                unsafe { std::ptr::write(std::ptr::from_mut(&mut st).cast(), s) };
                (st, std::mem::size_of::<libc::sockaddr_in>())
            }
            IpAddr::V6(a) => {
                // SAFETY: an all-zero sockaddr_in6 is valid.
                let mut s: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
                s.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                s.sin6_addr.s6_addr = a.octets();
                // SAFETY: as above.
                let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
                // SAFETY: as above.
                unsafe { std::ptr::write(std::ptr::from_mut(&mut st).cast(), s) };
                (st, std::mem::size_of::<libc::sockaddr_in6>())
            }
        };
        // SAFETY: valid sockaddr of `len` bytes and output buffer.
        let rc = unsafe {
            libc::getnameinfo(
                std::ptr::from_ref(&sa).cast(),
                len as libc::socklen_t,
                host.as_mut_ptr(),
                host.len() as libc::socklen_t,
                std::ptr::null_mut(),
                0,
                libc::NI_NAMEREQD,
            )
        };
        // SAFETY: on success `host` holds a NUL-terminated name.
        (rc == 0).then(|| {
            unsafe { CStr::from_ptr(host.as_ptr()) }
                .to_string_lossy()
                .into_owned()
        })
    }

    fn service(&self, port: u16, protocol: u16) -> Option<String> {
        let proto = match protocol {
            IPPROTO_TCP => "tcp",
            IPPROTO_UDP => "udp",
            IPPROTO_SCTP => "sctp",
            _ => return None,
        };
        let p = CString::new(proto).ok()?;
        // SAFETY: `p` is NUL-terminated; the result is copied at once.
        let se = unsafe { libc::getservbyport(i32::from(port.to_be()), p.as_ptr()) };
        if se.is_null() {
            return None;
        }
        // SAFETY: non-NULL servent with a NUL-terminated name.
        Some(
            unsafe { CStr::from_ptr((*se).s_name) }
                .to_string_lossy()
                .into_owned(),
        )
    }
}
