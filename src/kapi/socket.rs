// SPDX-License-Identifier: GPL-2.0

//! Kernel UDP sockets (`sock_create_kern`), as the sync daemons use them:
//! multicast senders and receivers, non-blocking sends and receives, and
//! waits that end when the calling kthread is told to stop.

use crate::bindings;
use crate::kapi::net::Net;
use core::ffi::CStr;
use core::ptr::NonNull;
use kernel::error::{code::ENOMEM, to_result, Result};

/// A network interface, as a lookup by name found it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DevInfo {
    /// Interface index.
    pub(crate) ifindex: i32,
    /// MTU.
    pub(crate) mtu: u32,
    /// Its primary IPv4 address (zero if none).
    pub(crate) addr4: [u8; 4],
}

/// Looks up interface `name` in `net` (`ENODEV` if there is none).
pub(crate) fn dev_info(net: &Net, name: &CStr) -> Result<DevInfo> {
    let (mut ifindex, mut mtu, mut addr4) = (0, 0, 0);
    // SAFETY: a live namespace, a NUL-terminated name, and out-pointers to
    // locals.
    to_result(unsafe {
        bindings::ipvs_rs_dev_info(
            net.as_ptr(),
            name.as_ptr().cast(),
            &mut ifindex,
            &mut mtu,
            &mut addr4,
        )
    })?;
    Ok(DevInfo {
        ifindex,
        mtu,
        addr4: addr4.to_ne_bytes(),
    })
}

/// A kernel UDP socket.
///
/// # Invariants
///
/// `0` is a socket from `sock_create_kern` that this value owns and
/// releases on drop.
pub(crate) struct UdpSocket(NonNull<bindings::socket>);

// SAFETY: socket operations lock the socket themselves; the owner may
// live on any CPU.
unsafe impl Send for UdpSocket {}
// SAFETY: as above: every method takes the socket's own locks.
unsafe impl Sync for UdpSocket {}

impl UdpSocket {
    /// A UDP socket of family `af` in `net`.
    pub(crate) fn new(net: &Net, af: u16) -> Result<Self> {
        let mut sock = core::ptr::null_mut();
        // SAFETY: a live namespace; `sock` receives the new socket.
        to_result(unsafe { bindings::ipvs_rs_udp_sock_create(net.as_ptr(), af, &mut sock) })?;
        // INVARIANT: created just now, owned here.
        NonNull::new(sock).map(Self).ok_or(ENOMEM)
    }

    /// Sends multicast out of `ifindex` with `ttl`, without looping it
    /// back, letting routers fragment; `sndbuf` > 0 sets the send buffer.
    pub(crate) fn mcast_sender(&self, ifindex: i32, ttl: u8, sndbuf: i32) -> Result {
        // SAFETY: a live socket (type invariant).
        to_result(unsafe {
            bindings::ipvs_rs_sock_mcast_sender(self.0.as_ptr(), ifindex, ttl, sndbuf)
        })
    }

    /// Allows address reuse, binds to device `ifindex`; `rcvbuf` > 0 sets
    /// the receive buffer. Before [`UdpSocket::bind`].
    pub(crate) fn receiver(&self, ifindex: i32, rcvbuf: i32) {
        // SAFETY: a live socket (type invariant).
        unsafe { bindings::ipvs_rs_sock_receiver(self.0.as_ptr(), ifindex, rcvbuf) }
    }

    /// Binds to `addr:port` (IPv4: the first four bytes of `addr`).
    pub(crate) fn bind(&self, af: u16, addr: &[u8; 16], port: u16) -> Result {
        // SAFETY: a live socket; `addr` holds 16 bytes.
        to_result(unsafe { bindings::ipvs_rs_sock_bind(self.0.as_ptr(), af, addr.as_ptr(), port) })
    }

    /// Sets the default destination.
    pub(crate) fn connect(&self, af: u16, addr: &[u8; 16], port: u16) -> Result {
        // SAFETY: a live socket; `addr` holds 16 bytes.
        to_result(unsafe {
            bindings::ipvs_rs_sock_connect(self.0.as_ptr(), af, addr.as_ptr(), port)
        })
    }

    /// Joins multicast `group` on `ifindex`. Takes the RTNL lock.
    pub(crate) fn join(&self, af: u16, group: &[u8; 16], ifindex: i32) -> Result {
        // SAFETY: a live socket; `group` holds 16 bytes.
        to_result(unsafe {
            bindings::ipvs_rs_sock_join(self.0.as_ptr(), af, group.as_ptr(), ifindex)
        })
    }

    /// Sends `buf` as one datagram, without blocking (`EAGAIN` when the
    /// send buffer is full), to the connected destination or `to`.
    pub(crate) fn send(&self, buf: &[u8], to: Option<(u16, &[u8; 16], u16)>) -> Result<usize> {
        let (af, addr, port) =
            to.map_or((0, core::ptr::null(), 0), |(af, a, p)| (af, a.as_ptr(), p));
        // SAFETY: a live socket; `buf` is readable for its length, `addr`
        // is NULL (with `af` 0) or 16 readable bytes.
        let n = unsafe {
            bindings::ipvs_rs_sock_send(
                self.0.as_ptr(),
                buf.as_ptr().cast(),
                buf.len(),
                af,
                addr,
                port,
            )
        };
        to_result(n)?;
        Ok(n as usize)
    }

    /// Receives one datagram into `buf` without blocking (`EAGAIN` when
    /// none waits); a longer one is cut to `buf`'s length.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    /// [`Self::recv`], with the port the datagram came from.
    pub(crate) fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, u16)> {
        let mut sport = 0u16;
        // SAFETY: a live socket; `buf` is writable for its length and
        // `sport` for a `u16`.
        let n = unsafe {
            bindings::ipvs_rs_sock_recv(
                self.0.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut sport,
            )
        };
        to_result(n)?;
        Ok((n as usize, sport))
    }

    /// Sleeps until a datagram waits, or the calling kthread should stop.
    /// Only from a kthread.
    pub(crate) fn wait_readable(&self) {
        // SAFETY: a live socket; sleeping is allowed in a kthread.
        unsafe { bindings::ipvs_rs_sock_wait_readable(self.0.as_ptr()) }
    }

    /// [`Self::wait_readable`] for at most `jiffies`: false if nothing
    /// came in that time. Only from a kthread.
    pub(crate) fn wait_readable_for(&self, jiffies: u64) -> bool {
        let t = jiffies.min(isize::MAX as u64) as _;
        // SAFETY: a live socket; sleeping is allowed in a kthread.
        unsafe { bindings::ipvs_rs_sock_wait_readable_timeout(self.0.as_ptr(), t) }
    }

    /// Sleeps until the send buffer has room, or the calling kthread
    /// should stop. Only from a kthread.
    pub(crate) fn wait_writable(&self) {
        // SAFETY: as for `wait_readable`.
        unsafe { bindings::ipvs_rs_sock_wait_writable(self.0.as_ptr()) }
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        // SAFETY: owned (type invariant), released once; leaves any group
        // it joined.
        unsafe { bindings::ipvs_rs_sock_release(self.0.as_ptr()) }
    }
}
