// SPDX-License-Identifier: GPL-2.0

//! The connection table: RCU lookups in a table that resizes online with
//! the number of connections (see [`crate::kapi::rhash`]), a timer per
//! connection.
//!
//! Reference counting follows stock IPVS. A hashed connection holds one
//! reference for the table and its timer; every [`ConnRef`] holds one more.
//! Dropping a [`ConnRef`] moves the connection's deadline to its timeout
//! from now. Unlike stock, it leaves the timer alone unless the deadline
//! comes sooner than the timer: a timer that fires before the deadline
//! is re-armed for it (as conntrack checks its entries' timeouts lazily),
//! so a busy connection costs one timer update per timeout, not one per
//! packet. When the timer fires past the deadline and only the table's
//! reference is left, the count goes 1 -> 0 (so lookups cannot revive
//! it), the connection is unhashed and freed after an RCU grace period.
//! Connections that were never hashed (one-packet scheduling) are freed
//! at once when their last reference goes: no timer, no RCU callback.

use crate::app;
use crate::defense::{self, EntryDropper};
use crate::hash::{conn_hash, SipKey};
use crate::kapi::net::{net_ratelimit, Net, NetSlot};
use crate::kapi::rhash::{self, Step};
use crate::kapi::slab::{CacheBox, StaticCache};
use crate::kapi::sync::{RawGuard, RawSpinLockBh};
use crate::kapi::timer::{jiffies, HasTimer, Timer};
use crate::kapi::work::{HasWork, Work};
use crate::kapi::{kthread, rcu};
use crate::list::Shared;
use crate::sctp::{Event, Sctp, SctpConn};
use crate::service::{Addr, Counters, DestShared};
use crate::state::{Dir, Flags, Tcp, TcpConn};
use crate::sync_msg;
use crate::uapi::conn_flags;
use core::mem::offset_of;
use core::ptr::NonNull;
use core::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use kernel::prelude::*;

/// `IP_VS_CONN_F_HASHED`.
const HASHED: u32 = 0x0040;
/// `IP_VS_CONN_F_NO_CPORT`: the client's port is not known yet (an FTP
/// passive data connection): hashed and found with port 0.
pub(crate) const NO_CPORT: u32 = 0x0800;
/// `IP_VS_CONN_F_NOOUTPUT`: the director sees only the client's side.
pub(crate) const NOOUTPUT: u32 = 0x0080;
/// Must not be found again: a template whose real server went away, or a
/// connection expired to make room for a new one.
const DEAD: u32 = 1 << 24;
/// A NAT connection whose replies may come to this host's `LOCAL_IN`:
/// its client is on this host, or it was synced (its client may have
/// been on the master). Counted in the table (`ConnTable::local_replies`).
pub(crate) const LOCAL_REPLY: u32 = 1 << 25;
/// A template of a one-packet service: the defense's random drop treats
/// it as a connection (stock `ip_vs_conn_ops_mode`).
pub(crate) const OPS_TEMPLATE: u32 = 1 << 26;

/// A template found unusable (with `DEAD`): listed as stock lists it
/// after `ip_vs_check_template` rehashed it out of reach (virtual and
/// real-server port 65535, client port 0).
const INVALIDATED: u32 = 1 << 27;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_SCTP: u8 = 132;

/// The connections' slab cache ("ipvs_rs_conn" in `/proc/slabinfo`),
/// created at module load: objects of exactly `Conn`'s size.
pub(crate) static CONNS: StaticCache<Conn> = StaticCache::new();

/// What a new connection is made of.
pub(crate) struct NewConn {
    /// Address family.
    pub(crate) af: u16,
    /// IP protocol (0 for fwmark templates).
    pub(crate) protocol: u8,
    /// Client address and port.
    pub(crate) caddr: Addr,
    /// Client port.
    pub(crate) cport: [u8; 2],
    /// Virtual address (or fwmark, for fwmark templates).
    pub(crate) vaddr: Addr,
    /// Virtual port.
    pub(crate) vport: [u8; 2],
    /// Real server address.
    pub(crate) daddr: Addr,
    /// Real server port.
    pub(crate) dport: [u8; 2],
    /// `IP_VS_CONN_F_*`.
    pub(crate) flags: u32,
    /// Timeout until the first state change, jiffies.
    pub(crate) timeout: u32,
    /// The real server.
    pub(crate) dest: Shared<DestShared>,
    /// The service's counters.
    pub(crate) svc_stats: Shared<Counters>,
    /// The persistence template this connection belongs to.
    pub(crate) control: Option<ConnRef>,
    /// A persistence engine's key (templates of `--pe sip`: the Call-ID).
    pub(crate) pe_data: Option<KVec<u8>>,
    /// The packet's firewall mark (sync sends it, so that a backup finds
    /// fwmark services).
    pub(crate) fwmark: u32,
}

/// The packed protocol state: the state number, bit 8 `no_output`.
fn pack((state, no_output): (u8, bool)) -> u32 {
    u32::from(state) | u32::from(no_output) << 8
}

/// In the state word once the connection gave back its real server's
/// count ([`Conn::release_resources`]): a packet still using it (under
/// RCU, uncounted) moves no count with a later transition.
const RELEASED: u32 = 0x200;

/// A template's state: `IP_VS_CTPL_S_ASSURED` (templates have no
/// protocol state; 0 is `NONE`).
const TEMPLATE_ASSURED: u32 = 1;

/// The inverse of [`pack`].
fn unpack(v: u32) -> (u8, bool) {
    (v as u8, v & 0x100 != 0)
}

/// A connection (or persistence template).
pub(crate) struct Conn {
    link: rhash::Link,
    /// [`conn_hash`] of protocol, client address and port.
    hash: u32,
    timer: Timer,
    rcu: rcu::Head,
    refcnt: AtomicI32,
    n_control: AtomicI32,
    flags: AtomicU32,
    /// Protocol state, packed (see [`pack`]); state 0 is NONE for every
    /// protocol.
    state: AtomicU32,
    /// Current timeout, jiffies.
    timeout: AtomicU32,
    /// When the connection expires unless used again, jiffies: the last
    /// use plus the timeout (the timer fires at or before it).
    deadline: AtomicU64,
    /// Counted reference to the controlling template, or NULL.
    control: AtomicPtr<Conn>,
    table: NonNull<ConnTable>,
    /// Address family.
    pub(crate) af: u16,
    /// IP protocol.
    pub(crate) protocol: u8,
    /// Client address.
    pub(crate) caddr: Addr,
    /// Client port.
    pub(crate) cport: [u8; 2],
    /// Virtual address.
    pub(crate) vaddr: Addr,
    /// Virtual port.
    pub(crate) vport: [u8; 2],
    /// Real server address.
    pub(crate) daddr: Addr,
    /// Real server port.
    pub(crate) dport: [u8; 2],
    /// The real server.
    pub(crate) dest: Shared<DestShared>,
    /// The service's counters.
    pub(crate) svc_stats: Shared<Counters>,
    /// The persistence engine's key of a template (the SIP Call-ID).
    pub(crate) pe_data: Option<KVec<u8>>,
    /// The firewall mark of the packet that created it.
    pub(crate) fwmark: u32,
    /// Client packets seen, for sync (`in_pkts`).
    in_pkts: AtomicI32,
    /// Protocol state when last synced (`old_state`).
    old_state: AtomicU8,
    /// The application helper watching it ([`app::bind`]), 0 for none.
    app: u8,
    /// The helper's state (stock's `app_data`).
    app_data: AtomicU8,
    /// When a sync expects the backup's copy to expire, low two bits the
    /// retries (`sync_endtime`).
    sync_endtime: AtomicU64,
}

// SAFETY: the shared fields are atomics, or immutable after creation; the
// table link, timer and RCU head are only touched under the rules of this
// module (table, reference count).
unsafe impl Send for Conn {}
// SAFETY: as above.
unsafe impl Sync for Conn {}

// SAFETY: `LINK` is the offset of `link`; `hash` is set before the
// connection is hashed and never changes.
unsafe impl rhash::Linked for Conn {
    const LINK: usize = offset_of!(Conn, link);
    fn hash(&self) -> u32 {
        self.hash
    }
}

impl Conn {
    /// `IP_VS_CONN_F_*` flags.
    pub(crate) fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// Forwarding method (`IP_VS_CONN_F_FWD_MASK` bits).
    pub(crate) fn fwd(&self) -> u32 {
        self.flags() & conn_flags::FWD_MASK
    }

    /// Whether this is a persistence template.
    pub(crate) fn is_template(&self) -> bool {
        self.flags() & conn_flags::TEMPLATE != 0
    }

    fn is_one_packet(&self) -> bool {
        self.flags() & conn_flags::ONE_PACKET != 0
    }

    fn tcp(&self) -> TcpConn {
        let (state, no_output) = unpack(self.state.load(Ordering::Relaxed));
        TcpConn {
            state: Tcp::from_index(state),
            no_output,
        }
    }

    /// The state name `/proc/net/ip_vs_conn` shows (`ip_vs_state_name`;
    /// templates: "NONE", or "ASSURED" once a connection of theirs got
    /// through, see [`Conn::assure_control`]).
    pub(crate) fn state_name(&self) -> &'static str {
        match self.protocol {
            _ if self.is_template() => {
                if self.state.load(Ordering::Relaxed) & TEMPLATE_ASSURED != 0 {
                    "ASSURED"
                } else {
                    "NONE"
                }
            }
            IPPROTO_TCP => self.tcp().state.name(),
            17 => "UDP",
            IPPROTO_SCTP => Sctp::from_index(self.state.load(Ordering::Relaxed) as u8).name(),
            _ => "NONE",
        }
    }

    /// When the timer fires (jiffies), if it is armed.
    pub(crate) fn timer_due(&self) -> Option<u64> {
        self.timer.pending().then(|| self.timer.expires())
    }

    /// Seconds until the connection expires unless used.
    pub(crate) fn expires_in(&self, hz: u32) -> u32 {
        let expires = self.deadline.load(Ordering::Relaxed);
        let left = expires.wrapping_sub(jiffies()) as i64;
        if left <= 0 {
            0
        } else {
            (left as u64 / u64::from(hz.max(1))) as u32
        }
    }

    /// Sets the timeout the next [`ConnRef`] drop arms, jiffies.
    pub(crate) fn set_timeout(&self, jiffies: u32) {
        self.timeout.store(jiffies, Ordering::Relaxed);
    }

    /// A template is used: it lives `jiffies` from now on (and again
    /// from when its connections are gone), listed so as stock's
    /// `ip_vs_conn_put` in `ip_vs_sched_persist` re-arms it.
    pub(crate) fn use_template(&self, jiffies: u32) {
        self.set_timeout(jiffies);
        self.touch();
    }

    /// Runs the TCP state machine on a packet; returns the new state.
    pub(crate) fn tcp_transition(&self, dir: Dir, flags: Flags, secure: bool) -> Tcp {
        let (was, state) = self.transition(|(state, no_output)| {
            let mut t = TcpConn {
                state: Tcp::from_index(state),
                no_output,
            };
            let next = t.on_packet(dir, flags, secure);
            ((next as u8, t.no_output), next.active())
        });
        let state = Tcp::from_index(state);
        if state == Tcp::Established && was != state as u8 {
            self.assure_control();
        }
        state
    }

    /// Runs the SCTP state machine on a packet; returns the new state.
    pub(crate) fn sctp_transition(&self, dir: Dir, event: Event) -> Sctp {
        let (was, state) = self.transition(|(state, no_output)| {
            let mut t = SctpConn {
                state: Sctp::from_index(state),
                no_output,
            };
            let next = t.on_packet(dir, event);
            ((next as u8, t.no_output), next.active())
        });
        let state = Sctp::from_index(state);
        if state == Sctp::Established && was != state as u8 {
            self.assure_control();
        }
        state
    }

    /// Marks the template that controls this connection as assured
    /// (`ip_vs_control_assure_ct`): a connection of its client got
    /// established (TCP, SCTP) or answered (UDP). Stock's defense drops
    /// only templates that are not.
    pub(crate) fn assure_control(&self) {
        let ctl = self.control.load(Ordering::Acquire);
        // SAFETY: `control` holds a counted reference to the template
        // until `release_resources`, which runs only once nobody holds a
        // reference to this connection, as our caller does.
        if let Some(ctl) = unsafe { ctl.as_ref() } {
            // An FTP control connection has a protocol state instead.
            if ctl.is_template() {
                ctl.state.fetch_or(TEMPLATE_ASSURED, Ordering::Relaxed);
            }
        }
    }

    /// Whether a sync daemon created this connection.
    pub(crate) fn synced(&self) -> bool {
        self.flags() & sync_msg::flags::SYNC != 0
    }

    /// The protocol state number (templates: 1 once assured).
    pub(crate) fn state_number(&self) -> u8 {
        unpack(self.state.load(Ordering::Relaxed)).0
    }

    /// The template that controls this connection, if any.
    pub(crate) fn control(&self) -> Option<&Conn> {
        let ctl = self.control.load(Ordering::Acquire);
        // SAFETY: `control` holds a counted reference to the template
        // until `release_resources`, which runs only once nobody holds a
        // reference to this connection; the result borrows `self`.
        unsafe { ctl.as_ref() }
    }

    /// Counts a client packet for sync; returns the new count.
    pub(crate) fn count_in_pkt(&self) -> i32 {
        self.in_pkts.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    /// Whether sync sends this connection now (`ip_vs_sync_conn_needed`),
    /// after `pkts` client packets, at `now` jiffies.
    pub(crate) fn sync_needed(&self, k: &sync_msg::Knobs, pkts: i32, now: u64) -> bool {
        let state = self.state_number();
        let view = sync_msg::ConnView {
            template: self.is_template(),
            in_persistence: self.control().is_some_and(|c| c.is_template()),
            protocol: self.protocol,
            state,
            old_state: self.old_state.load(Ordering::Relaxed),
            timeout: u64::from(self.timeout.load(Ordering::Relaxed)),
        };
        let orig = self.sync_endtime.load(Ordering::Relaxed);
        let Some((force, n)) = sync_msg::needed(k, &view, pkts, orig, now) else {
            return false;
        };
        self.old_state.store(state, Ordering::Relaxed);
        let swapped = self
            .sync_endtime
            .compare_exchange(orig, n, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        swapped || force
    }

    /// Whether a full resynchronization sends this connection.
    pub(crate) fn resync_wanted(&self, persist_mode: bool) -> bool {
        let state = self.state_number();
        let view = sync_msg::ConnView {
            template: self.is_template(),
            in_persistence: self.control().is_some_and(|c| c.is_template()),
            protocol: self.protocol,
            state,
            old_state: state,
            timeout: 0,
        };
        !self.is_one_packet() && sync_msg::resync_wanted(persist_mode, &view)
    }

    /// The connection as a sync message carries it.
    pub(crate) fn sync_entry(&self, hz: u32) -> sync_msg::SyncConn<'_> {
        let (state, no_output) = unpack(self.state.load(Ordering::Relaxed));
        let mut flags = self.flags() & 0xffff & !(HASHED | NOOUTPUT);
        if no_output {
            flags |= NOOUTPUT;
        }
        if !self.is_template() && !self.is_active(state) {
            flags |= sync_msg::flags::INACTIVE;
        }
        let pe_data = self.pe_data.as_deref();
        sync_msg::SyncConn {
            af: self.af,
            protocol: self.protocol,
            flags,
            state: u16::from(state),
            cport: self.cport,
            vport: self.vport,
            dport: self.dport,
            fwmark: self.fwmark,
            timeout: self.timeout.load(Ordering::Relaxed) / hz.max(1),
            caddr: self.caddr,
            vaddr: self.vaddr,
            daddr: self.daddr,
            seq: None,
            pe_data,
            pe_name: pe_data.map(|_| &b"sip"[..]),
        }
    }

    /// Takes what a sync message says of this connection: its state (the
    /// real server's active and inactive counts follow) and packet count.
    pub(crate) fn sync_update(&self, state: u8, in_pkts: i32) {
        if self.is_template() {
            let v = if state != 0 { TEMPLATE_ASSURED } else { 0 };
            self.state.store(v, Ordering::Relaxed);
        } else {
            let active = self.is_active(state);
            self.transition(|(_, no_output)| ((state, no_output), active));
        }
        self.old_state.store(state, Ordering::Relaxed);
        self.in_pkts.store(in_pkts, Ordering::Relaxed);
    }

    /// Whether state number `state` of this protocol is an active one.
    fn is_active(&self, state: u8) -> bool {
        match self.protocol {
            IPPROTO_TCP => Tcp::from_index(state).active(),
            IPPROTO_SCTP => Sctp::from_index(state).active(),
            _ => false,
        }
    }

    /// What the defense's random drop sees of this connection.
    fn defense_entry(&self) -> defense::Entry {
        let state = self.state_number();
        if self.is_template() {
            return defense::Entry::Template {
                assured: u32::from(state) & TEMPLATE_ASSURED != 0,
                one_packet: self.flags() & OPS_TEMPLATE != 0,
            };
        }
        match self.protocol {
            IPPROTO_TCP => match Tcp::from_index(state) {
                Tcp::SynRecv | Tcp::SynAck => defense::Entry::Opening,
                Tcp::Established => defense::Entry::Established,
                _ => defense::Entry::Other,
            },
            IPPROTO_SCTP => match Sctp::from_index(state) {
                Sctp::Init1 | Sctp::Init => defense::Entry::Opening,
                Sctp::Established => defense::Entry::Established,
                _ => defense::Entry::Other,
            },
            _ => defense::Entry::Datagram,
        }
    }

    /// Moves the packed state (state number, `no_output`) on by `step`,
    /// which also says whether the new state is active; moves the
    /// connection between the real server's active and inactive counts
    /// when that changes. Returns the state numbers before and after.
    fn transition(&self, step: impl Fn((u8, bool)) -> ((u8, bool), bool)) -> (u8, u8) {
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let was = self.is_active(cur as u8);
            let (next, active) = step(unpack(cur));
            match self.state.compare_exchange(
                cur,
                pack(next) | cur & RELEASED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if was != active && !self.is_template() && cur & RELEASED == 0 {
                        let (from, to) = if was {
                            (&self.dest.active, &self.dest.inactive)
                        } else {
                            (&self.dest.inactive, &self.dest.active)
                        };
                        from.fetch_sub(1, Ordering::Relaxed);
                        to.fetch_add(1, Ordering::Relaxed);
                    }
                    return (unpack(cur).0, next.0);
                }
                Err(now) => cur = now,
            }
        }
    }

    /// Whether a new connection (a SYN) from this connection's client port
    /// may replace it (`is_new_conn_expected`): a closed TCP connection
    /// that no template controls, or with `conn_reuse_mode` bit 2 one in
    /// FIN_WAIT whose replies bypass the director.
    pub(crate) fn new_conn_expected(&self, conn_reuse_mode: i32) -> bool {
        if !self.control.load(Ordering::Acquire).is_null() || self.protocol != IPPROTO_TCP {
            return false;
        }
        let t = self.tcp();
        matches!(t.state, Tcp::TimeWait | Tcp::Close)
            || (conn_reuse_mode & 2 != 0 && t.state == Tcp::FinWait && t.no_output)
    }

    /// Counts a packet of this connection; `inbound` is client to server.
    pub(crate) fn count_packet(&self, inbound: bool, bytes: u32) {
        self.dest.stats.count_packet(inbound, bytes);
        self.svc_stats.count_packet(inbound, bytes);
    }

    /// Whether a template may still direct new connections
    /// (`ip_vs_check_template`).
    pub(crate) fn template_usable(&self, expire_quiescent: bool) -> bool {
        if self.flags() & DEAD != 0 {
            return false;
        }
        let ok = self.dest.available.load(Ordering::Relaxed)
            && !(expire_quiescent && self.dest.weight.load(Ordering::Relaxed) == 0);
        if !ok {
            self.invalidate();
        }
        ok
    }

    /// Puts a template out of reach of lookups; the timer frees it
    /// (`ip_vs_check_template`).
    pub(crate) fn invalidate(&self) {
        self.flags.fetch_or(DEAD | INVALIDATED, Ordering::Relaxed);
    }

    /// This NAT connection's real server is (or, learned from a master,
    /// may be) on this host: replies are looked for at `LOCAL_OUT` from
    /// now on.
    pub(crate) fn server_is_local(&self) {
        let table = &self.table().local_servers;
        if !table.load(Ordering::Relaxed) {
            table.store(true, Ordering::Relaxed);
        }
    }

    /// The client, virtual and real-server ports as listings show them.
    pub(crate) fn listed_ports(&self) -> [[u8; 2]; 3] {
        if self.flags() & INVALIDATED != 0 {
            [[0, 0], [0xff, 0xff], [0xff, 0xff]]
        } else {
            [self.cport, self.vport, self.dport]
        }
    }

    fn table(&self) -> &ConnTable {
        // SAFETY: the table outlives its connections: it flushes them all
        // before it is dropped (`ConnTable::drop`).
        unsafe { self.table.as_ref() }
    }

    /// A counted reference to this connection, found under RCU; `None`
    /// if it is being freed (count 0).
    pub(crate) fn counted(&self) -> Option<ConnRef> {
        let mut n = self.refcnt.load(Ordering::Relaxed);
        while n != 0 {
            match self
                .refcnt
                .compare_exchange(n, n + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Some(ConnRef(NonNull::from(self))),
                Err(now) => n = now,
            }
        }
        None
    }

    /// A use without a reference (a packet under RCU) ends: the deadline
    /// moves, and a pending timer due after it (the timeout shrank) moves
    /// in. A timer that is not pending is left alone: it is running, and
    /// reads the deadline itself, or the connection goes (the packet raced
    /// its expiry and is its last, as one a moment later would find none).
    #[inline]
    fn touch(&self) {
        let deadline = jiffies() + u64::from(self.timeout.load(Ordering::Relaxed));
        self.deadline.store(deadline, Ordering::Relaxed);
        if self.timer.pending() && after(self.timer.expires(), deadline) {
            self.timer.modify_pending(deadline);
        }
    }

    /// Expires the connection at `now` and makes lookups skip it, unless
    /// its timer is running or idle (in use; `ip_vs_conn_del`).
    fn expire_soon(&self, now: u64) {
        if self.timer.delete() {
            self.flags.fetch_or(DEAD, Ordering::Relaxed);
            self.deadline.store(now, Ordering::Relaxed);
            self.timer.modify(now);
        }
    }

    /// Drops one reference (`ip_vs_conn_put`).
    fn put(this: NonNull<Conn>) {
        // SAFETY: the caller owns a reference, so the connection is alive.
        let c = unsafe { this.as_ref() };
        if c.is_one_packet() && c.refcnt.load(Ordering::Acquire) == 1 && !c.timer.pending() {
            Conn::expire(this);
            return;
        }
        let t = if c.is_one_packet() {
            0
        } else {
            c.timeout.load(Ordering::Relaxed)
        };
        let deadline = jiffies() + u64::from(t);
        c.deadline.store(deadline, Ordering::Relaxed);
        // A timer due before the deadline finds it when it fires (see
        // `expire`); only an idle timer, or one due later (the timeout
        // shrank), is armed here.
        if !c.timer.pending() || after(c.timer.expires(), deadline) {
            c.timer.modify(deadline);
        }
        c.refcnt.fetch_sub(1, Ordering::Release);
    }

    /// Tries to take the last reference away, and unhashes. Returns
    /// (taken, was hashed).
    fn unlink(&self) -> (bool, bool) {
        let hashed = self.flags() & HASHED != 0;
        if self
            .refcnt
            .compare_exchange(1, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return (false, hashed);
        }
        if hashed {
            // SAFETY: hashed in this table (`create`) and removed only
            // here, once: the count goes 1 -> 0 once.
            unsafe { self.table().table.remove(self) };
            self.flags.fetch_and(!HASHED, Ordering::Relaxed);
        }
        (true, hashed)
    }

    /// The timer's work (`ip_vs_conn_expire`): free the connection if
    /// nobody uses it, else try again after its timeout.
    fn expire(this: NonNull<Conn>) {
        // SAFETY: the table's (or the caller's last) reference keeps it
        // alive until `unlink` succeeds below.
        let c = unsafe { this.as_ref() };
        // Used since the timer was armed: not yet.
        let deadline = c.deadline.load(Ordering::Relaxed);
        if after(deadline, jiffies()) {
            c.timer.modify(deadline);
            return;
        }
        if c.n_control.load(Ordering::Acquire) == 0 {
            let (taken, hashed) = c.unlink();
            if taken {
                c.timer.delete();
                c.drop_conntrack();
                c.release_resources();
                let table = c.table();
                table.count.fetch_sub(1, Ordering::Relaxed);
                if c.flags() & LOCAL_REPLY != 0 {
                    table.local_replies.fetch_sub(1, Ordering::Relaxed);
                }
                c.take_no_cport();
                if hashed {
                    // SAFETY: unhashed and unreferenced; RCU readers that
                    // found it before may still look at it until the
                    // grace period ends, so the memory goes after it.
                    unsafe { c.rcu.call_for::<Conn>() };
                } else {
                    // SAFETY: never hashed, so nobody else ever saw it:
                    // the fast free path. The box came from `create`.
                    drop(unsafe { CacheBox::from_raw(this, &CONNS) });
                }
                return;
            }
        }
        // Still in use: expire later.
        c.refcnt.fetch_add(1, Ordering::Relaxed);
        Conn::put(this);
    }

    /// Kills the conntrack entry of a connection that used conntrack
    /// (`ip_vs_conn_drop_conntrack`), so that the client's next connection
    /// from its port starts a fresh one.
    fn drop_conntrack(&self) {
        if self.flags() & (conn_flags::NFCT | conn_flags::ONE_PACKET) != conn_flags::NFCT {
            return;
        }
        self.table().ct_net.with(|net| {
            net.ct_drop(
                self.af,
                self.protocol,
                (&self.caddr, self.cport),
                (&self.vaddr, self.vport),
            )
        });
    }

    /// Stops this connection from dropping its conntrack entry when it
    /// expires (a new connection takes the entry over).
    pub(crate) fn leave_conntrack(&self) {
        self.flags.fetch_and(!conn_flags::NFCT, Ordering::Relaxed);
    }

    /// Takes [`NO_CPORT`] off, once: `true` for the caller that did,
    /// which no longer counts it in the table's `no_cport`.
    pub(crate) fn take_no_cport(&self) -> bool {
        let was = self.flags.fetch_and(!NO_CPORT, Ordering::AcqRel);
        if was & NO_CPORT == 0 {
            return false;
        }
        self.table().no_cport.fetch_sub(1, Ordering::Relaxed);
        true
    }

    /// This connection (one with [`NO_CPORT`]) for the client port
    /// `cport` its first packet brought: a copy under the same control
    /// (`ip_vs_conn_fill_cport` sets the port in place and rehashes).
    pub(crate) fn with_cport(&self, cport: [u8; 2]) -> NewConn {
        NewConn {
            af: self.af,
            protocol: self.protocol,
            caddr: self.caddr,
            cport,
            vaddr: self.vaddr,
            vport: self.vport,
            daddr: self.daddr,
            dport: self.dport,
            flags: self.flags() & !(HASHED | DEAD | INVALIDATED | NO_CPORT),
            timeout: self.timeout.load(Ordering::Relaxed),
            dest: self.dest.clone(),
            svc_stats: self.svc_stats.clone(),
            control: self.control().and_then(Conn::counted),
            pe_data: None,
            fwmark: self.fwmark,
        }
    }

    /// How many connections it controls.
    pub(crate) fn n_control(&self) -> i32 {
        self.n_control.load(Ordering::Acquire)
    }

    /// The application helper watching it.
    pub(crate) fn app(&self) -> Option<&'static dyn app::App> {
        app::get(self.app)
    }

    /// The helper's state.
    pub(crate) fn app_data(&self) -> u8 {
        self.app_data.load(Ordering::Relaxed)
    }

    /// Sets the helper's state.
    pub(crate) fn set_app_data(&self, v: u8) {
        self.app_data.store(v, Ordering::Relaxed);
    }

    /// Whether it is a TCP connection in ESTABLISHED.
    pub(crate) fn tcp_established(&self) -> bool {
        self.protocol == IPPROTO_TCP && self.tcp().state == Tcp::Established
    }

    /// Whether it is a TCP connection in LISTEN.
    pub(crate) fn tcp_listening(&self) -> bool {
        self.protocol == IPPROTO_TCP && self.tcp().state == Tcp::Listen
    }

    /// Puts a TCP connection in LISTEN, waiting for its first packet
    /// `jiffies` long (`ip_vs_tcp_conn_listen`, for FTP data
    /// connections).
    pub(crate) fn tcp_listen(&self, jiffies: u32) {
        self.transition(|(_, no_output)| ((Tcp::Listen as u8, no_output), false));
        self.set_timeout(jiffies);
    }

    /// Gives back what the connection counted and held.
    fn release_resources(&self) {
        let d = &self.dest;
        // The state it is counted in, and no transition moves it after.
        let state = self.state.fetch_or(RELEASED, Ordering::AcqRel);
        let counter = if self.is_template() {
            &d.persist
        } else if self.is_active(state as u8) {
            &d.active
        } else {
            &d.inactive
        };
        counter.fetch_sub(1, Ordering::Relaxed);
        let ctl = self.control.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if let Some(ctl) = NonNull::new(ctl) {
            // `control` held a counted reference (see `create`); it moves
            // into this `ConnRef`, whose drop gives it back.
            let ctl = ConnRef(ctl);
            ctl.n_control.fetch_sub(1, Ordering::Release);
        }
    }
}

// SAFETY: `OFFSET` is that of `timer`.
unsafe impl HasTimer for Conn {
    const OFFSET: usize = offset_of!(Conn, timer);

    /// A pending timer belongs to a hashed connection, which the table
    /// keeps alive.
    fn timer_fired(this: NonNull<Self>) {
        Conn::expire(this);
    }
}

// SAFETY: `OFFSET` is that of `rcu`.
unsafe impl rcu::HasRcuHead for Conn {
    const OFFSET: usize = offset_of!(Conn, rcu);

    /// Frees a connection `expire` unhashed, a grace period later.
    fn rcu_done(this: NonNull<Self>) {
        // SAFETY: `expire` queued the head of a connection it owned, from
        // `create`'s box, and nobody reaches it since.
        drop(unsafe { CacheBox::from_raw(this, &CONNS) });
    }
}

/// A counted reference to a connection; dropping it re-arms the timer.
pub(crate) struct ConnRef(NonNull<Conn>);

// SAFETY: references may be dropped on any CPU; `Conn` is `Sync`.
unsafe impl Send for ConnRef {}
// SAFETY: as above.
unsafe impl Sync for ConnRef {}

impl core::ops::Deref for ConnRef {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        // SAFETY: the reference we hold keeps the connection alive.
        unsafe { self.0.as_ref() }
    }
}

impl ConnRef {
    /// Expires the connection now (`ip_vs_conn_expire_now`) and gives up
    /// this reference: lookups no longer find it, its timer frees it.
    pub(crate) fn expire_now(self) {
        self.flags.fetch_or(DEAD, Ordering::Relaxed);
        self.timeout.store(0, Ordering::Relaxed);
    }
}

impl Drop for ConnRef {
    fn drop(&mut self) {
        Conn::put(self.0);
    }
}

/// A connection a hook's packet uses: found under the hook's RCU read
/// side without taking a reference (the established path: no atomic on
/// the count per packet, as stock pays), or made for the packet (counted).
/// Dropping it is the end of the use: the deadline moves on.
pub(crate) enum InUse<'a> {
    /// Found by a lookup; RCU keeps it alive for `'a`.
    Found(&'a Conn),
    /// Made for this packet, or counted.
    Counted(ConnRef),
    /// A one-packet connection made for this packet in a [`OnePacket`]
    /// slot, which ends it.
    OnePacket(&'a Conn),
}

impl core::ops::Deref for InUse<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        match self {
            InUse::Found(c) | InUse::OnePacket(c) => c,
            InUse::Counted(c) => c,
        }
    }
}

impl InUse<'_> {
    /// A counted reference, to keep beyond the read side; `None` if the
    /// connection is being freed.
    pub(crate) fn counted(self) -> Option<ConnRef> {
        let this = core::mem::ManuallyDrop::new(self);
        match &*this {
            // A one-packet connection is never counted (see
            // `create_one_packet`): `None`.
            InUse::Found(c) | InUse::OnePacket(c) => c.counted(),
            // SAFETY: moved out once; `this` is never dropped.
            InUse::Counted(c) => Some(unsafe { core::ptr::read(c) }),
        }
    }

    /// Expires the connection now (`ip_vs_conn_expire_now`): lookups no
    /// longer find it, its timer frees it.
    pub(crate) fn expire_now(self) {
        self.flags.fetch_or(DEAD, Ordering::Relaxed);
        self.timeout.store(0, Ordering::Relaxed);
        // The drop moves the deadline, and the timer, to now.
    }
}

impl Drop for InUse<'_> {
    // Once per packet: no call for it.
    #[inline]
    fn drop(&mut self) {
        if let InUse::Found(c) = self {
            c.touch();
        }
    }
}

/// Room for a one-packet connection on the stack of the hook that makes
/// it ([`ConnTable::create_one_packet`]). It is never hashed, so no other
/// CPU or later packet sees it; when the slot goes, so does the
/// connection, giving back what it counted (as stock's fast free path
/// for one-packet connections, without the allocation).
pub(crate) struct OnePacket(Option<Conn>);

impl OnePacket {
    /// An empty slot.
    pub(crate) const fn new() -> Self {
        Self(None)
    }

    /// Ends the connection in the slot, if any (most hooks' slots stay
    /// empty: inline, and without moving the connection).
    #[inline(always)]
    fn release(&mut self) {
        if self.0.is_some() {
            self.end();
        }
    }

    #[inline(never)]
    fn end(&mut self) {
        if let Some(c) = &self.0 {
            // One-packet connections leave conntrack alone (see
            // `drop_conntrack`) and never armed a timer.
            c.release_resources();
            let table = c.table();
            table.count.fetch_sub(1, Ordering::Relaxed);
            if c.flags() & LOCAL_REPLY != 0 {
                table.local_replies.fetch_sub(1, Ordering::Relaxed);
            }
        }
        // Dropped in place.
        self.0 = None;
    }
}

impl Drop for OnePacket {
    #[inline(always)]
    fn drop(&mut self) {
        self.release();
    }
}

/// The bucket memory of a connection table.
struct ConnBuckets(KVVec<rhash::Head>);

impl rhash::Buckets for ConnBuckets {
    fn heads(&self) -> &[rhash::Head] {
        &self.0
    }
}

impl ConnBuckets {
    fn new(bits: u32) -> Result<Self> {
        let n = 1usize << bits;
        let mut v = KVVec::with_capacity(n, GFP_KERNEL | kernel::alloc::flags::__GFP_NOWARN)?;
        for _ in 0..n {
            v.push(rhash::Head::new(), GFP_KERNEL)?;
        }
        Ok(Self(v))
    }
}

/// The table's locks, one per 256th of the hash range.
struct ConnLocks([RawSpinLockBh; rhash::LOCKS]);

impl rhash::Locks for ConnLocks {
    type Guard<'a> = RawGuard<'a>;
    fn lock(&self, i: usize) -> RawGuard<'_> {
        self.0[i].lock()
    }
}

/// The connections of one namespace.
pub(crate) struct ConnTable {
    table: rhash::Table<Conn, ConnBuckets, ConnLocks>,
    /// This namespace's hash key.
    key: SipKey,
    /// The largest size, bits (the `conn_tab_bits` module parameter).
    max_bits: u32,
    count: AtomicU32,
    /// Connections with [`LOCAL_REPLY`].
    local_replies: AtomicU32,
    /// Connections with [`NO_CPORT`] (stock: `no_cport_conns`).
    no_cport: AtomicU32,
    /// A NAT connection went to a real server on this host, or was
    /// learned from a master: its replies may leave through `LOCAL_OUT`
    /// (set once, never cleared).
    local_servers: AtomicBool,
    /// Above this many connections, `create` queues a resize.
    grow_at: AtomicUsize,
    /// `conn_lfactor`, as last seen by [`ConnTable::check_size`].
    lfactor: AtomicI32,
    /// Resizes the table (process context).
    resize: Work,
    /// Expires the connections of deleted real servers (process context).
    nodest: Work,
    /// The pace of the defense's random drop.
    dropper: EntryDropper,
    /// `resize` is queued and has not started yet.
    resize_queued: AtomicBool,
    /// Resizes done, for tests.
    resizes: AtomicU32,
    /// The table goes: no more resizes.
    dying: AtomicBool,
    /// The namespace whose conntrack entries expiring connections drop;
    /// NULL while the namespace goes (conntrack may be gone already).
    ct_net: NetSlot,
}

/// The table's work items: [`ConnTable::resize_now`] and
/// [`ConnTable::expire_nodest_now`].
const RESIZE: u8 = 0;
const NODEST: u8 = 1;

// SAFETY: `OFFSET` is that of `resize`.
unsafe impl HasWork<RESIZE> for ConnTable {
    const OFFSET: usize = offset_of!(ConnTable, resize);

    /// The table's drop cancels and waits for the item first.
    fn work_run(t: &Self) {
        t.resize_queued.store(false, Ordering::Release);
        t.resize_now();
    }
}

// SAFETY: `OFFSET` is that of `nodest`.
unsafe impl HasWork<NODEST> for ConnTable {
    const OFFSET: usize = offset_of!(ConnTable, nodest);

    /// As for `resize`.
    fn work_run(t: &Self) {
        t.expire_nodest_now();
    }
}

/// What a lookup matches.
pub(crate) struct Lookup<'a> {
    /// Address family.
    pub(crate) af: u16,
    /// IP protocol.
    pub(crate) protocol: u8,
    /// Source address of the packet.
    pub(crate) saddr: &'a Addr,
    /// Source port.
    pub(crate) sport: [u8; 2],
    /// Destination address.
    pub(crate) daddr: &'a Addr,
    /// Destination port.
    pub(crate) dport: [u8; 2],
}

/// Old buckets moved per step of a resize, between two reschedules.
const RESIZE_STEP: usize = 1024;

impl ConnTable {
    /// A table of 2^[`rhash::MIN_BITS`] buckets that grows up to
    /// `1 << max_bits` at load factor `lfactor`.
    ///
    /// With `net`, expiring connections that use conntrack drop their
    /// entries there.
    ///
    /// # Safety
    ///
    /// With `net`, the table must be dropped before `net` is freed (it
    /// forgets `net` first thing in its drop).
    pub(crate) unsafe fn new(
        max_bits: u32,
        lfactor: i32,
        key: SipKey,
        net: Option<&Net>,
    ) -> Result<Pin<KBox<Self>>> {
        let max_bits = max_bits.clamp(rhash::MIN_BITS, rhash::MAX_BITS);
        let locks = ConnLocks(core::array::from_fn(|_| RawSpinLockBh::uninit()));
        let table = KBox::pin(
            Self {
                table: rhash::Table::new(ConnBuckets::new(rhash::MIN_BITS)?, locks),
                key,
                max_bits,
                count: AtomicU32::new(0),
                local_replies: AtomicU32::new(0),
                no_cport: AtomicU32::new(0),
                local_servers: AtomicBool::new(false),
                grow_at: AtomicUsize::new(rhash::thresholds(lfactor, rhash::MIN_BITS, max_bits).0),
                lfactor: AtomicI32::new(lfactor),
                resize: Work::uninit(),
                nodest: Work::uninit(),
                dropper: EntryDropper::default(),
                resize_queued: AtomicBool::new(false),
                resizes: AtomicU32::new(0),
                dying: AtomicBool::new(false),
                // SAFETY: cleared first thing in `drop`, which runs
                // before `net` goes (our contract); `drop_conntrack`
                // runs from the table's timers and works, which end
                // before `drop` returns.
                ct_net: unsafe { NetSlot::new(net) },
            },
            GFP_KERNEL,
        )?;
        // SAFETY: pinned in its box from here on; nobody else sees the
        // locks or the work item yet.
        unsafe {
            for l in &table.table.locks().0 {
                l.init();
            }
            table.resize.init_for::<ConnTable, RESIZE>();
            table.nodest.init_for::<ConnTable, NODEST>();
        }
        Ok(table)
    }

    /// Number of connections (templates included).
    pub(crate) fn count(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether a reply at `LOCAL_IN` may belong to a connection: only
    /// while one has [`LOCAL_REPLY`].
    pub(crate) fn local_replies(&self) -> bool {
        self.local_replies.load(Ordering::Relaxed) != 0
    }

    /// Whether a packet leaving this host may be a reply of a real
    /// server on it: only once a NAT connection went to one (or was
    /// learned by sync).
    pub(crate) fn local_servers(&self) -> bool {
        self.local_servers.load(Ordering::Relaxed)
    }

    /// Buckets now (`ipvsadm -Ln`'s "size=").
    pub(crate) fn size(&self) -> u32 {
        1 << self.table.bits()
    }

    /// Bits of the current size, and the factor it follows.
    pub(crate) fn sizing(&self) -> (u32, i32) {
        (self.table.bits(), self.lfactor.load(Ordering::Relaxed))
    }

    /// How many chains have 0, 1, ... 7 or more connections.
    pub(crate) fn chain_lengths(&self) -> [u32; 8] {
        let rcu = rcu::read_lock();
        self.table.chain_lengths(&rcu)
    }

    /// Resizes done since the table was made.
    pub(crate) fn resizes(&self) -> u32 {
        self.resizes.load(Ordering::Relaxed)
    }

    /// Queues a resize check at load factor `lfactor` if the count is
    /// past a threshold of the current size (the estimator calls this
    /// every two seconds, which also catches shrinking and `conn_lfactor`
    /// changes).
    pub(crate) fn check_size(&self, lfactor: i32) {
        self.lfactor.store(lfactor, Ordering::Relaxed);
        let bits = self.table.bits();
        let (grow, shrink) = rhash::thresholds(lfactor, bits, self.max_bits);
        let n = self.count() as usize;
        // The smallest table never shrinks: no work for an idle namespace.
        if n > grow || (n <= shrink && bits > rhash::MIN_BITS) {
            self.queue_resize();
        } else if !self.table.resizing() {
            self.grow_at.store(grow, Ordering::Relaxed);
        }
    }

    fn queue_resize(&self) {
        if !self.dying.load(Ordering::Relaxed) && !self.resize_queued.swap(true, Ordering::AcqRel) {
            self.resize.queue();
        }
    }

    /// Queues a resize check and waits for it (process context).
    pub(crate) fn resize_sync(&self) {
        self.resize_queued.store(true, Ordering::Release);
        self.resize.queue();
        self.resize.flush();
    }

    /// Resizes until the size fits the count: the work item's body (a
    /// work item never runs twice at once). Allocation failure leaves the
    /// size as it is.
    fn resize_now(&self) {
        // Nobody queues again for growth until this is over.
        self.grow_at.store(usize::MAX, Ordering::Relaxed);
        let lfactor = self.lfactor.load(Ordering::Relaxed);
        while !self.dying.load(Ordering::Relaxed) {
            let bits = self.table.bits();
            let Some(want) =
                rhash::wanted_bits(self.count() as usize, lfactor, bits, self.max_bits)
            else {
                break;
            };
            if !self.resize_to(want, RESIZE_STEP, kthread::cond_resched) {
                break;
            }
        }
        let bits = self.table.bits();
        let grow = rhash::thresholds(lfactor, bits, self.max_bits).0;
        self.grow_at.store(grow, Ordering::Relaxed);
        // Grown past while resizing: go again.
        if self.count() as usize > grow {
            self.queue_resize();
        }
    }

    /// Resizes to `1 << bits` buckets, moving `step` old buckets at a
    /// time and calling `between` after each step; process context.
    /// Returns `false` if a resize was under way or the memory was not
    /// there.
    pub(crate) fn resize_to(&self, bits: u32, step: usize, mut between: impl FnMut()) -> bool {
        let Ok(buckets) = ConnBuckets::new(bits) else {
            return false;
        };
        if self.table.start(buckets).is_err() {
            return false;
        }
        while self.table.migrate(step) == Step::More {
            between();
        }
        rcu::synchronize();
        // SAFETY: a grace period passed since the switch.
        drop(unsafe { self.table.retire() });
        self.resizes.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Finds a connection matching `pred` among those with the hash of
    /// (`protocol`, `addr`, `port`), under `rcu`, unless it is being
    /// freed (count 0); no reference is taken.
    fn find<'a>(
        &'a self,
        rcu: &'a impl rhash::ReadSide,
        protocol: u8,
        addr: &Addr,
        port: [u8; 2],
        pred: impl Fn(&Conn) -> bool,
    ) -> Option<&'a Conn> {
        let hash = conn_hash(&self.key, protocol, addr, port);
        self.table.find(rcu, hash, |c| {
            pred(c) && c.refcnt.load(Ordering::Relaxed) != 0
        })
    }

    /// A packet from a client (`ip_vs_conn_in_get`), under `rcu` (a
    /// hook's, or [`rcu::read_lock`]); [`InUse::counted`] makes it a
    /// counted reference.
    pub(crate) fn lookup_in<'a>(
        &'a self,
        rcu: &'a impl rhash::ReadSide,
        l: &Lookup<'_>,
    ) -> Option<InUse<'a>> {
        self.find(rcu, l.protocol, l.saddr, l.sport, |c| {
            c.af == l.af
                && c.protocol == l.protocol
                && c.cport == l.sport
                && c.vport == l.dport
                && c.caddr == *l.saddr
                && c.vaddr == *l.daddr
                && !c.is_template()
                && c.flags() & DEAD == 0
        })
        .map(InUse::Found)
    }

    /// A client's packet that [`ConnTable::lookup_in`] did not place: a
    /// connection waiting for its client's port ([`NO_CPORT`], found
    /// with port 0, as stock's `ip_vs_conn_in_get` retries), if the
    /// table has any.
    pub(crate) fn lookup_in_no_cport<'a>(
        &'a self,
        rcu: &'a impl rhash::ReadSide,
        l: &Lookup<'_>,
    ) -> Option<InUse<'a>> {
        if self.no_cport.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.lookup_in(
            rcu,
            &Lookup {
                sport: [0, 0],
                ..*l
            },
        )
        .filter(|c| c.flags() & NO_CPORT != 0)
    }

    /// A packet from a real server to a client (`ip_vs_conn_out_get`),
    /// under `rcu`.
    pub(crate) fn lookup_out<'a>(
        &'a self,
        rcu: &'a impl rhash::ReadSide,
        l: &Lookup<'_>,
    ) -> Option<InUse<'a>> {
        self.find(rcu, l.protocol, l.daddr, l.dport, |c| {
            // Real servers of the other methods answer from the
            // virtual address.
            let (saddr, sport) = if c.fwd() == conn_flags::MASQ {
                (&c.daddr, c.dport)
            } else {
                (&c.vaddr, c.vport)
            };
            c.af == l.af
                && c.protocol == l.protocol
                && sport == l.sport
                && c.cport == l.dport
                && *saddr == *l.saddr
                && c.caddr == *l.daddr
                && !c.is_template()
                && c.flags() & DEAD == 0
        })
        .map(InUse::Found)
    }

    /// A persistence template (`ip_vs_ct_in_get`), with the persistence
    /// engine's key `pe_data` if any (`ip_vs_sip_ct_match`).
    pub(crate) fn lookup_template(
        &self,
        af: u16,
        protocol: u8,
        caddr: &Addr,
        vaddr: &Addr,
        vport: [u8; 2],
        pe_data: Option<&[u8]>,
    ) -> Option<ConnRef> {
        let rcu = rcu::read_lock();
        let found = self.find(&rcu, protocol, caddr, [0, 0], |c| {
            c.af == af
                && c.protocol == protocol
                && c.cport == [0, 0]
                && c.vport == vport
                && c.caddr == *caddr
                && c.vaddr == *vaddr
                && c.is_template()
                && c.flags() & DEAD == 0
                && c.pe_data.as_deref() == pe_data
        });
        found.and_then(Conn::counted)
    }

    /// The connection `n` describes, counted nowhere yet, and the
    /// reference to its template that it is to hold.
    #[inline(always)]
    fn build(self: Pin<&Self>, n: NewConn) -> (Conn, Option<ConnRef>) {
        let no_output = n.flags & NOOUTPUT != 0;
        let one_packet = n.flags & conn_flags::ONE_PACKET != 0;
        // A helper watches it from the start (`ip_vs_bind_app`), with
        // the flags it wants (`init_conn`).
        let app = if n.flags & conn_flags::TEMPLATE == 0 {
            app::bind(n.protocol, n.vport, n.flags & conn_flags::FWD_MASK)
        } else {
            0
        };
        let flags = n.flags | app::get(app).map_or(0, |a| a.conn_flags());
        let conn = Conn {
            link: rhash::Link::new(),
            // One-packet connections are never hashed.
            hash: if one_packet {
                0
            } else {
                conn_hash(&self.key, n.protocol, &n.caddr, n.cport)
            },
            timer: Timer::uninit(),
            rcu: rcu::Head::uninit(),
            refcnt: AtomicI32::new(1),
            n_control: AtomicI32::new(0),
            flags: AtomicU32::new(flags & !HASHED),
            state: AtomicU32::new(pack((0, no_output))),
            timeout: AtomicU32::new(n.timeout),
            deadline: AtomicU64::new(0),
            control: AtomicPtr::new(core::ptr::null_mut()),
            table: NonNull::from(self.get_ref()),
            af: n.af,
            protocol: n.protocol,
            caddr: n.caddr,
            cport: n.cport,
            vaddr: n.vaddr,
            vport: n.vport,
            daddr: n.daddr,
            dport: n.dport,
            dest: n.dest,
            svc_stats: n.svc_stats,
            pe_data: n.pe_data,
            fwmark: n.fwmark,
            in_pkts: AtomicI32::new(0),
            old_state: AtomicU8::new(0),
            app,
            app_data: AtomicU8::new(0),
            sync_endtime: AtomicU64::new(0),
        };
        (conn, n.control)
    }

    /// Counts the new connection `c` on its real server, its template
    /// (whose reference `c` takes over) and the table; returns the
    /// table's count.
    fn account(&self, c: &Conn, control: Option<ConnRef>) -> usize {
        let counter = if c.is_template() {
            &c.dest.persist
        } else {
            &c.dest.inactive
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(ctl) = control {
            ctl.n_control.fetch_add(1, Ordering::Release);
            c.control.store(ctl.0.as_ptr(), Ordering::Release);
            // The reference now lives in `control`.
            core::mem::forget(ctl);
        }
        if c.flags() & LOCAL_REPLY != 0 {
            self.local_replies.fetch_add(1, Ordering::Relaxed);
        }
        if c.flags() & NO_CPORT != 0 {
            self.no_cport.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed) as usize + 1
    }

    /// Creates a connection, counts it on its real server and (unless it
    /// is a one-packet connection) hashes it.
    pub(crate) fn create(self: Pin<&Self>, n: NewConn) -> Result<ConnRef> {
        let (value, control) = self.build(n);
        let conn = CONNS.alloc_atomic(value).inspect_err(|_| {
            // The packet is dropped; stock says so the same way.
            if net_ratelimit() {
                pr_err!("ip_vs_conn_new(): no memory\n");
            }
        })?;
        let ptr = conn.into_raw();
        // SAFETY: just allocated; from here on the box is only reached via
        // `ptr` and never moves.
        let c = unsafe { ptr.as_ref() };
        // SAFETY: as above; nobody else sees the connection yet.
        unsafe { c.timer.setup_for::<Conn>() };
        let count = self.account(c, control);
        if !c.is_one_packet() {
            c.refcnt.fetch_add(1, Ordering::Relaxed);
            c.flags.fetch_or(HASHED, Ordering::Relaxed);
            // SAFETY: new, so in no table; boxed, so it does not move; freed
            // only after `unlink` removed it and a grace period passed.
            unsafe { self.table.insert(c) };
            if count > self.grow_at.load(Ordering::Relaxed) {
                self.queue_resize();
            }
        }
        Ok(ConnRef(ptr))
    }

    /// Creates the one-packet connection `n` (it must have `ONE_PACKET`)
    /// in `slot`, on the stack of the hook whose packet it carries: no
    /// allocation, no timer, no reference count, counted as any until
    /// the slot goes (stock allocates and frees one per packet).
    pub(crate) fn create_one_packet<'a>(
        self: Pin<&Self>,
        slot: &'a mut OnePacket,
        n: NewConn,
    ) -> &'a Conn {
        slot.release();
        let (value, control) = self.build(n);
        // Nobody may count it: `counted` finds it "being freed".
        value.refcnt.store(0, Ordering::Relaxed);
        let c = slot.0.insert(value);
        self.account(c, control);
        c
    }

    /// Calls `f` on every connection, each once even if the table resizes
    /// meanwhile, until `f` returns `false`. Runs under RCU and the
    /// table's locks: `f` must not sleep.
    pub(crate) fn for_each(&self, f: impl FnMut(&Conn) -> bool) {
        self.walk_from(0, f);
    }

    /// Calls `f` on the connections whose hash is `start` or more, until
    /// `f` returns `false`: the walk finishes the range of hashes at hand
    /// and returns where to go on (`None`: the table is done). A long walk
    /// goes in steps, each a short RCU read section; resizes in between
    /// neither repeat nor skip connections.
    pub(crate) fn walk_from(&self, start: u64, f: impl FnMut(&Conn) -> bool) -> Option<u64> {
        let rcu = rcu::read_lock();
        self.table.walk(&rcu, start, f)
    }

    /// Queues the expiry of the connections of deleted real servers
    /// (stock's `expire_nodest_conn_work`).
    pub(crate) fn expire_nodest(&self) {
        if !self.dying.load(Ordering::Relaxed) {
            self.nodest.queue();
        }
    }

    /// Expires the connections of deleted real servers that nothing else
    /// holds, then their templates once no connection uses them
    /// (`ip_vs_expire_nodest_conn_flush`); process context, in steps.
    fn expire_nodest_now(&self) {
        for templates in [false, true] {
            let now = jiffies();
            let mut pos = Some(0);
            while let Some(from) = pos {
                if self.dying.load(Ordering::Relaxed) {
                    return;
                }
                let mut seen = 0u32;
                pos = self.walk_from(from, |c| {
                    let gone = !c.dest.available.load(Ordering::Relaxed);
                    if gone
                        && c.is_template() == templates
                        && c.n_control.load(Ordering::Acquire) == 0
                    {
                        c.expire_soon(now);
                    }
                    seen += 1;
                    seen % 256 != 0
                });
                kthread::cond_resched();
            }
            if !templates {
                // The connections' timers fire now and give their
                // templates back.
                crate::kapi::timer::msleep(20);
            }
        }
    }

    /// Visits a 32nd of the buckets, picked at random, and expires what
    /// the defense says to (`ip_vs_random_dropentry`, the defense's
    /// `drop_entry`): connections still opening, unassured templates,
    /// idle ones at a pace by their client packets. Stops early once
    /// `wanted` says the defense no longer asks for it (a slow sweep may
    /// outlive the memory shortage). Process context.
    pub(crate) fn drop_random_entries(&self, wanted: impl Fn() -> bool) {
        let now = jiffies();
        let hz = u64::from(crate::kapi::abi::hz());
        let mut i = 0usize;
        // A 32nd of the table as it is now: it may shrink meanwhile.
        while i < ((1usize << self.table.bits()) >> defense::SCAN_SHIFT).max(1) {
            if self.dying.load(Ordering::Relaxed) || !wanted() {
                return;
            }
            // One bucket of the current size, at a random hash; an empty
            // one drops nothing, as stock's.
            let shift = 32 - self.table.bits();
            let from = u64::from(crate::kapi::abi::random_u32() >> shift << shift);
            let rcu = rcu::read_lock();
            self.table.walk_range(&rcu, from, from + (1 << shift), |c| {
                let timeout = u64::from(c.timeout.load(Ordering::Relaxed));
                let idle = (now + timeout).saturating_sub(c.deadline.load(Ordering::Relaxed));
                let in_use = c.n_control.load(Ordering::Acquire) != 0;
                let pkts = c.in_pkts.load(Ordering::Relaxed);
                if self
                    .dropper
                    .verdict(c.defense_entry(), in_use, idle, hz, pkts)
                {
                    c.expire_soon(now);
                }
                true
            });
            drop(rcu);
            i += 1;
            if i % 64 == 0 {
                kthread::cond_resched();
            }
        }
    }

    /// Expires every connection now (`ip_vs_conn_flush`); process
    /// context, in steps (a table of a million must not stall RCU).
    fn expire_all_now(&self) {
        let now = jiffies();
        let mut pos = Some(0);
        while let Some(from) = pos {
            let mut seen = 0u32;
            pos = self.walk_from(from, |c| {
                // Only the pending timer may be moved: a connection whose
                // timer is idle is in use and re-arms it when released.
                c.deadline.store(now, Ordering::Relaxed);
                if c.timer.delete() {
                    c.timer.modify(now);
                }
                seen += 1;
                seen % 256 != 0
            });
            kthread::cond_resched();
        }
    }
}

impl Drop for ConnTable {
    fn drop(&mut self) {
        // A resize under way finishes; none starts after.
        self.dying.store(true, Ordering::Relaxed);
        self.resize.cancel_sync();
        self.nodest.cancel_sync();
        // Conntrack may be torn down for the namespace already.
        self.ct_net.clear();
        // Packets no longer come (the hooks went first); expire what is
        // left, templates after the connections they control.
        while self.count() != 0 {
            self.expire_all_now();
            // Process context (namespace teardown / module exit).
            crate::kapi::timer::msleep(10);
        }
        // Let the RCU callbacks that free connections run before the
        // module text can go.
        rcu::barrier();
    }
}

/// Whether jiffies `a` come after `b` (`time_after`, across wraps).
fn after(a: u64, b: u64) -> bool {
    (b.wrapping_sub(a) as i64) < 0
}

/// The TCP timeout of `state`, seconds, with the `--set` overrides.
pub(crate) fn tcp_timeout(state: Tcp, t: &crate::config::Timeouts) -> u32 {
    match state {
        Tcp::Established => t.tcp,
        Tcp::FinWait => t.tcp_fin,
        s => s.default_timeout(),
    }
}
