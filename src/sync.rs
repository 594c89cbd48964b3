// SPDX-License-Identifier: GPL-2.0

//! Connection synchronization between directors (stock `ip_vs_sync.c`).
//!
//! A master daemon sends the connections its clients use to backup
//! directors, which create (or refresh) the same connections, so that
//! when the virtual address moves to a backup the connections go on.
//!
//! Master: the packet path decides per client packet whether a connection
//! goes out ([`crate::sync_msg::needed`], stock's rule) and packs it into
//! the current message of one of `sync_ports` sender threads, under a BH
//! spinlock; full messages wait in a queue bounded by `sync_qlen_max`.
//! Nothing is sent in the packet path: each sender thread (a kthread,
//! "ipvs-m:GEN:ID") wakes every 20 ms, sends what is queued, and flushes
//! a message that has been filling for two seconds.
//!
//! Backup: one receiver thread per port ("ipvs-b:GEN:ID") waits on its
//! socket and hands each datagram to [`crate::sync_msg::parse`], which
//! checks all of it before any entry is used; entries become connections
//! bound to the backup's own real servers when it has them (else to a
//! detached one that still forwards, as stock's connections without
//! destination do). What arrives is counted in
//! `/proc/net/ip_vs_sync_stats`.

use crate::conn::{self, Conn, Lookup, NewConn, LOCAL_REPLY, NOOUTPUT};
use crate::daemon::{DaemonCfg, BACKUP, MASTER};
use crate::kapi::abi::hz;
use crate::kapi::kthread::{self, Kthread, ThreadFn};
use crate::kapi::net::Net;
use crate::kapi::rcu;
use crate::kapi::socket::{self, UdpSocket};
use crate::kapi::sync::SpinLockBh;
use crate::kapi::timer::jiffies;
use crate::list::{share, Shared};
use crate::netns::IpvsNet;
use crate::params::Sysctl;
use crate::sctp::Sctp;
use crate::service::{Addr, Counters, DestShared, AF_INET, AF_INET6};
use crate::state::Tcp;
use crate::sync_msg::{self, flags, Outcome, ResyncPace, SyncConn, Version, Writer};
use crate::uapi::conn_flags;
use core::fmt::Write;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::sync::Mutex;

/// A message is sent after filling this long at most, seconds
/// (`IPVS_SYNC_FLUSH_TIME`).
const FLUSH_SECS: u32 = 2;
/// How often a sender looks for queued messages, per second (stock
/// wakes its sender 20 ms after the first message is queued).
const SENDER_POLLS_PER_SEC: u32 = 50;
/// Template timeout when a version 0 message gives none, seconds.
const TEMPLATE_TIMEOUT: u32 = 3 * 60;

/// One message being filled or waiting to go.
struct Msg {
    w: Writer<KVec<u8>>,
    /// Jiffies when the first entry went in.
    firstuse: u64,
}

/// The messages of one sender thread.
struct Port {
    cur: Option<Msg>,
    ready: KVec<Msg>,
    /// Taken by the sender and not sent yet: they count against
    /// `sync_qlen_max` too.
    taken: usize,
}

/// What the packet path of a master needs, under [`SyncState::master`].
struct Master {
    on: bool,
    syncid: u8,
    maxlen: usize,
    ports: KVec<Port>,
}

/// Counters a user can read in `/proc/net/ip_vs_sync_stats`.
#[derive(Default)]
pub(crate) struct Stats {
    sent_msgs: AtomicU64,
    sent_conns: AtomicU64,
    send_errors: AtomicU64,
    queue_drops: AtomicU64,
    alloc_failures: AtomicU64,
    recv_msgs: AtomicU64,
    recv_conns: AtomicU64,
    bad_msgs: AtomicU64,
    skipped_conns: AtomicU64,
    other_syncid: AtomicU64,
    resyncs: AtomicU64,
    resync_timeouts: AtomicU64,
}

fn inc(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Stats {
    /// Every counter with its name.
    pub(crate) fn list(&self) -> [(&'static str, u64); 12] {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("sent_msgs", r(&self.sent_msgs)),
            ("sent_conns", r(&self.sent_conns)),
            ("send_errors", r(&self.send_errors)),
            ("queue_drops", r(&self.queue_drops)),
            ("alloc_failures", r(&self.alloc_failures)),
            ("recv_msgs", r(&self.recv_msgs)),
            ("recv_conns", r(&self.recv_conns)),
            ("bad_msgs", r(&self.bad_msgs)),
            ("skipped_conns", r(&self.skipped_conns)),
            ("other_syncid", r(&self.other_syncid)),
            ("resyncs", r(&self.resyncs)),
            ("resync_timeouts", r(&self.resync_timeouts)),
        ]
    }
}

/// A running daemon: its configuration and threads.
struct Daemon<T: ThreadFn<IpvsNet>> {
    cfg: DaemonCfg,
    threads: KVec<Kthread<T, IpvsNet>>,
}

/// The daemons of a namespace, under [`SyncState::daemons`].
struct Daemons {
    /// Threads per daemon, fixed while either runs (`threads_mask + 1`).
    count: usize,
    master: Option<Daemon<Sender>>,
    /// The master's resync thread (ipvs_rs only).
    resync: Option<Kthread<Resyncer, IpvsNet>>,
    backup: Option<Daemon<Receiver>>,
}

/// The sync state of one namespace.
pub(crate) struct SyncState {
    /// `IP_VS_STATE_MASTER` | `IP_VS_STATE_BACKUP` bits.
    state: AtomicU32,
    /// The backup's sync id, 0 for any.
    backup_syncid: AtomicU32,
    master: Pin<KBox<SpinLockBh<Master>>>,
    daemons: Pin<KBox<Mutex<Daemons>>>,
    /// Counters.
    pub(crate) stats: Stats,
    /// Number in thread names (stock: the namespace's generation).
    gen: u32,
}

/// Namespaces so far, for thread names.
static GEN: AtomicU32 = AtomicU32::new(0);

/// A refusal: errno and extack text.
pub(crate) type Refusal = (Error, &'static core::ffi::CStr);

impl SyncState {
    /// The number in this namespace's thread names (stock: its
    /// generation).
    pub(crate) fn gen(&self) -> u32 {
        self.gen
    }

    /// Messages waiting for the master's senders, queued or taken (at
    /// most `sync_qlen_max` a sender).
    pub(crate) fn queued(&self) -> usize {
        let q = self.master.lock();
        q.ports.iter().map(|p| p.ready.len() + p.taken).sum()
    }

    /// No daemons.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            state: AtomicU32::new(0),
            backup_syncid: AtomicU32::new(0),
            master: KBox::pin_init(
                crate::new_spinlock_bh!(
                    Master {
                        on: false,
                        syncid: 0,
                        maxlen: 0,
                        ports: KVec::new(),
                    },
                    kernel::c_str!("ipvs_rs::sync_master")
                ),
                GFP_KERNEL,
            )?,
            daemons: KBox::pin_init(
                kernel::new_mutex!(
                    Daemons {
                        count: 0,
                        master: None,
                        resync: None,
                        backup: None,
                    },
                    "ipvs_rs::sync_daemons"
                ),
                GFP_KERNEL,
            )?,
            stats: Stats::default(),
            gen: GEN.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Whether a master daemon runs.
    pub(crate) fn is_master(&self) -> bool {
        self.state.load(Ordering::Relaxed) & MASTER != 0
    }

    /// Whether a backup daemon runs.
    pub(crate) fn is_backup(&self) -> bool {
        self.state.load(Ordering::Relaxed) & BACKUP != 0
    }

    /// The running daemons' configurations, master first.
    pub(crate) fn configs(&self) -> [Option<(u32, DaemonCfg)>; 2] {
        let d = self.daemons.lock();
        [
            d.master.as_ref().map(|m| (MASTER, m.cfg)),
            d.backup.as_ref().map(|b| (BACKUP, b.cfg)),
        ]
    }

    /// Stops both daemons (namespace teardown, module unload).
    pub(crate) fn stop_all(&self) {
        let _ = self.stop(MASTER);
        let _ = self.stop(BACKUP);
    }

    /// `IPVS_CMD_DEL_DAEMON`.
    pub(crate) fn stop(&self, state: u32) -> core::result::Result<(), Refusal> {
        let mut d = self.daemons.lock();
        match state {
            MASTER => {
                let Some(m) = d.master.take() else {
                    return Err((ESRCH, c"ipvs: no master sync daemon"));
                };
                drop(d.resync.take());
                // Stop queueing first, then take what is queued.
                let ports = {
                    let mut q = self.master.lock();
                    self.state.fetch_and(!MASTER, Ordering::Relaxed);
                    q.on = false;
                    core::mem::replace(&mut q.ports, KVec::new())
                };
                drop(ports);
                pr_info!("stopping master sync threads ({})\n", m.threads.len());
                drop(m);
            }
            BACKUP => {
                let Some(b) = d.backup.take() else {
                    return Err((ESRCH, c"ipvs: no backup sync daemon"));
                };
                self.state.fetch_and(!BACKUP, Ordering::Relaxed);
                pr_info!("stopping backup sync threads ({})\n", b.threads.len());
                drop(b);
            }
            _ => return Err((EINVAL, c"ipvs: sync daemon state must be master or backup")),
        }
        Ok(())
    }

    /// Takes what sender `id` should send now: the queued messages, and
    /// the current one if it has been filling for [`FLUSH_SECS`].
    fn take(&self, id: usize, now: u64) -> KVec<Msg> {
        let mut q = self.master.lock();
        let Some(port) = q.ports.get_mut(id) else {
            return KVec::new();
        };
        let mut out = core::mem::replace(&mut port.ready, KVec::new());
        let flush = u64::from(FLUSH_SECS * hz());
        let stale = port
            .cur
            .as_ref()
            .is_some_and(|m| now.wrapping_sub(m.firstuse) >= flush);
        if stale {
            if let Some(m) = port.cur.take() {
                // Pushing into a vector that had room for the queue;
                // on failure the message is lost, counted.
                if out.push(m, GFP_ATOMIC).is_err() {
                    inc(&self.stats.alloc_failures, 1);
                }
            }
        }
        port.taken += out.len();
        out
    }

    /// Sender `id` is done with one message it took.
    fn sent_one(&self, id: usize) {
        let mut q = self.master.lock();
        if let Some(port) = q.ports.get_mut(id) {
            port.taken = port.taken.saturating_sub(1);
        }
    }

    /// Queues `c` for sender `id` (`ip_vs_sync_conn`'s buffer work).
    fn queue(&self, c: &SyncConn<'_>, id: usize, version: Version, now: u64, qlen_max: usize) {
        let mut q = self.master.lock();
        if !q.on || q.ports.is_empty() {
            return;
        }
        let (syncid, maxlen) = (q.syncid, q.maxlen);
        let n = q.ports.len();
        let port = &mut q.ports[id & (n - 1)];
        let flush = port
            .cur
            .as_ref()
            .is_some_and(|m| m.w.version() != version || !m.w.fits(c));
        if flush {
            if let Some(m) = port.cur.take() {
                let full = port.ready.len() + port.taken >= qlen_max;
                if full || port.ready.push(m, GFP_ATOMIC).is_err() {
                    inc(&self.stats.queue_drops, 1);
                }
            }
        }
        if port.cur.is_none() {
            let len = maxlen.max(c.len_v1() + sync_msg::V1_HDR);
            let w = KVec::from_elem(0u8, len, GFP_ATOMIC)
                .ok()
                .and_then(|b| Writer::new(b, version, syncid));
            let Some(w) = w else {
                inc(&self.stats.alloc_failures, 1);
                return;
            };
            port.cur = Some(Msg { w, firstuse: now });
        }
        if let Some(m) = port.cur.as_mut() {
            m.w.push(c);
        }
    }
}

/// The knobs of the send rule.
fn knobs(ipvs: &IpvsNet) -> sync_msg::Knobs {
    let [threshold, period] = ipvs.sync_threshold();
    sync_msg::Knobs {
        threshold,
        period,
        refresh_period: ipvs.sysctl(Sysctl::SyncRefreshPeriod).max(0) as u32,
        retries: ipvs.sysctl(Sysctl::SyncRetries),
        persist_mode: ipvs.sysctl(Sysctl::SyncPersistMode) != 0,
        hz: hz(),
    }
}

/// The protocol version `sync_version` asks for.
fn version(ipvs: &IpvsNet) -> Version {
    if ipvs.sysctl(Sysctl::SyncVersion) == 0 {
        Version::V0
    } else {
        Version::V1
    }
}

/// The interface's IPv4 address in a socket address's 16 bytes.
fn addr4_of(dev: &socket::DevInfo) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&dev.addr4);
    a
}

/// Which sender a connection goes to (stock: by its address).
fn port_of(c: &Conn) -> usize {
    let a = c as *const Conn as usize;
    a >> (1 + core::mem::size_of::<Conn>().ilog2())
}

/// After a client packet of `cp` went through (the end of `ip_vs_in`):
/// counts it and, on a master, sends the connection and its template
/// when the rule says so.
pub(crate) fn client_packet(ipvs: &IpvsNet, cp: &Conn) {
    let one_packet = cp.flags() & conn_flags::ONE_PACKET != 0;
    if !ipvs.sync.is_master() {
        if one_packet {
            if let Some(ctl) = cp.control() {
                ctl.count_in_pkt();
            }
        } else {
            cp.count_in_pkt();
        }
        return;
    }
    let k = knobs(ipvs);
    let pkts = if one_packet {
        k.threshold
    } else {
        cp.count_in_pkt()
    };
    let version = version(ipvs);
    let now = jiffies();
    let qlen_max = ipvs.sync_qlen_max();
    let hz = hz();
    let (mut c, mut pkts) = (cp, pkts);
    loop {
        let skip = c.flags() & conn_flags::ONE_PACKET != 0;
        if version == Version::V0 && (skip || c.af != AF_INET) {
            // Version 0 stops here, templates included (as stock).
            return;
        }
        if !skip && c.sync_needed(&k, pkts, now) {
            ipvs.sync
                .queue(&c.sync_entry(hz), port_of(c), version, now, qlen_max);
        }
        let Some(ctl) = c.control() else {
            return;
        };
        pkts = if ctl.is_template() {
            ctl.count_in_pkt()
        } else {
            k.threshold
        };
        c = ctl;
    }
}

/// A master's sender thread.
struct Sender {
    sock: UdpSocket,
    id: usize,
    /// Unicast peers (family, addresses, port); none: the connected group.
    peers: KVec<[u8; 16]>,
    af: u16,
    port: u16,
}

impl Sender {
    /// Sends one message to the group or to each peer.
    fn send(&self, ipvs: &IpvsNet, m: &Msg) -> bool {
        send_msg(&self.sock, ipvs, &m.w, &self.peers, self.af, self.port)
    }
}

/// Sends `w` on `sock`: to its connected group if `peers` is empty, else
/// to each peer's `port`. False if the thread was told to stop.
fn send_msg(
    sock: &UdpSocket,
    ipvs: &IpvsNet,
    w: &Writer<KVec<u8>>,
    peers: &[[u8; 16]],
    af: u16,
    port: u16,
) -> bool {
    if peers.is_empty() {
        return send_to(sock, ipvs, w, None);
    }
    peers
        .iter()
        .all(|p| send_to(sock, ipvs, w, Some((af, p, port))))
}

/// Sends one datagram, waiting while the socket buffer is full.
fn send_to(
    sock: &UdpSocket,
    ipvs: &IpvsNet,
    w: &Writer<KVec<u8>>,
    to: Option<(u16, &[u8; 16], u16)>,
) -> bool {
    loop {
        match sock.send(w.bytes(), to) {
            Ok(_) => {
                inc(&ipvs.sync.stats.sent_msgs, 1);
                inc(&ipvs.sync.stats.sent_conns, w.count() as u64);
                return true;
            }
            Err(e) if e == EAGAIN => {
                sock.wait_writable();
                if kthread::should_stop() {
                    return false;
                }
            }
            Err(_) => {
                inc(&ipvs.sync.stats.send_errors, 1);
                return true;
            }
        }
    }
}

/// Entries a resync packs per step (one RCU read section).
const RESYNC_STEP: usize = 256;

/// A master's resync thread (ipvs_rs only): answers a backup's request
/// ([`sync_msg::resync_asked`]) with the whole connection table, sent
/// as ordinary sync messages to the group or the peers, so that a backup
/// that starts late holds the connections that see no traffic too.
struct Resyncer {
    /// Bound to the resync port; sends as the senders do.
    sock: UdpSocket,
    /// Where the messages go: the peers, or none for the group.
    peers: KVec<[u8; 16]>,
    group: [u8; 16],
    af: u16,
    /// Thread 0's sync port.
    port: u16,
    syncid: u8,
    maxlen: usize,
}

impl Resyncer {
    /// Sends every connection a backup may want, in steps, at the pace
    /// of the backups' acknowledgements. True if a backup asked again
    /// meanwhile.
    fn resync(&self, ipvs: &IpvsNet) -> bool {
        let version = version(ipvs);
        let persist = ipvs.sysctl(Sysctl::SyncPersistMode) != 0;
        let hz = hz();
        let group = [self.group];
        let dest: &[[u8; 16]] = if self.peers.is_empty() {
            &group
        } else {
            &self.peers
        };
        let mut pace = ResyncPace::default();
        let mut asked = false;
        let mut next = Some(0);
        while let Some(start) = next {
            if kthread::should_stop() {
                return asked;
            }
            // A table of millions takes seconds: let others run.
            kthread::cond_resched();
            let mut msgs: KVec<Writer<KVec<u8>>> = KVec::new();
            let mut n = 0;
            // Under RCU: atomic allocations, nothing sent yet.
            next = ipvs.conns.walk_from(start, |c| {
                if (version == Version::V0 && c.af != AF_INET) || !c.resync_wanted(persist) {
                    return true;
                }
                let e = c.sync_entry(hz);
                let full = !matches!(msgs.last(), Some(w) if w.fits(&e));
                if full {
                    let len = self.maxlen.max(e.len_v1() + sync_msg::V1_HDR);
                    let w = KVec::from_elem(0u8, len, GFP_ATOMIC)
                        .ok()
                        .and_then(|b| Writer::new(b, version, self.syncid));
                    match w.map(|w| msgs.push(w, GFP_ATOMIC)) {
                        Some(Ok(())) => {}
                        _ => {
                            inc(&ipvs.sync.stats.alloc_failures, 1);
                            return false;
                        }
                    }
                }
                if let Some(w) = msgs.last_mut() {
                    w.push(&e);
                }
                n += 1;
                n < RESYNC_STEP
            });
            for w in msgs.iter() {
                // Multicast: to the group's port (the socket is not
                // connected, it also receives requests).
                if !send_msg(&self.sock, ipvs, w, dest, self.af, self.port) {
                    return asked;
                }
                pace.sent();
                while pace.must_wait() {
                    if !self.await_acks(ipvs, &mut pace, &mut asked) {
                        return asked;
                    }
                }
            }
        }
        asked
    }

    /// Waits up to a second for acknowledgements (or requests, answered
    /// by the next walk). False if the thread is told to stop.
    fn await_acks(&self, ipvs: &IpvsNet, pace: &mut ResyncPace, asked: &mut bool) -> bool {
        if !self.sock.wait_readable_for(u64::from(hz())) {
            // A backup gone, or its acknowledgements lost: go on.
            inc(&ipvs.sync.stats.resync_timeouts, 1);
            pace.give_up();
        }
        let mut buf = [0u8; 64];
        while let Ok(n) = self.sock.recv(&mut buf) {
            let b = &buf[..n.min(buf.len())];
            if let Some(k) = sync_msg::resync_acked(b, self.syncid) {
                pace.acked(k);
            } else {
                *asked |= sync_msg::resync_asked(b, self.syncid);
            }
        }
        !kthread::should_stop()
    }
}

impl ThreadFn<IpvsNet> for Resyncer {
    fn run(&self, ipvs: &IpvsNet) {
        let mut buf = [0u8; 64];
        let mut last: Option<u64> = None;
        let mut again = false;
        while !kthread::should_stop() {
            if !again {
                self.sock.wait_readable();
            }
            let mut asked = core::mem::take(&mut again);
            // (Acknowledgements of a finished walk are dropped here.)
            while let Ok(n) = self.sock.recv(&mut buf) {
                asked |= sync_msg::resync_asked(&buf[..n.min(buf.len())], self.syncid);
            }
            if !asked {
                continue;
            }
            // At most one table walk a second, however many ask: requests
            // meanwhile are answered by the next walk.
            let gap = u64::from(hz());
            if let Some(t) = last {
                let wait = t.wrapping_add(gap).wrapping_sub(jiffies());
                if wait <= gap {
                    kthread::prepare_sleep();
                    kthread::sleep(wait);
                }
            }
            last = Some(jiffies());
            inc(&ipvs.sync.stats.resyncs, 1);
            again = self.resync(ipvs);
        }
    }
}

impl ThreadFn<IpvsNet> for Sender {
    fn run(&self, ipvs: &IpvsNet) {
        let poll = u64::from((hz() / SENDER_POLLS_PER_SEC).max(1));
        loop {
            kthread::prepare_sleep();
            if kthread::should_stop() {
                kthread::cancel_sleep();
                return;
            }
            let batch = ipvs.sync.take(self.id, jiffies());
            if batch.is_empty() {
                kthread::sleep(poll);
                continue;
            }
            kthread::cancel_sleep();
            for m in batch.iter() {
                if !self.send(ipvs, m) {
                    return;
                }
                ipvs.sync.sent_one(self.id);
                // Up to `sync_qlen_max` messages a batch.
                kthread::cond_resched();
            }
        }
    }
}

/// A backup's receiver thread.
struct Receiver {
    sock: UdpSocket,
    maxlen: usize,
    /// Thread 0's: acknowledges the masters' resync messages.
    acker: Option<Acker>,
    /// Where resync messages come from.
    resync_port: u16,
}

impl ThreadFn<IpvsNet> for Receiver {
    fn run(&self, ipvs: &IpvsNet) {
        let Ok(mut buf) = KVec::from_elem(0u8, self.maxlen, GFP_KERNEL) else {
            inc(&ipvs.sync.stats.alloc_failures, 1);
            while !kthread::should_stop() {
                kthread::prepare_sleep();
                kthread::sleep(u64::from(hz()));
            }
            return;
        };
        // Resync datagrams taken in since the last acknowledgement.
        let mut taken = 0u32;
        while !kthread::should_stop() {
            self.sock.wait_readable();
            // (An empty datagram is one too: counted as malformed.)
            while let Ok((n, sport)) = self.sock.recv_from(&mut buf) {
                process(ipvs, &buf[..n]);
                if sport == self.resync_port {
                    taken = taken.wrapping_add(1);
                }
                // A master's resync may keep the socket full for long.
                kthread::cond_resched();
            }
            // Emptied: the master may send more.
            if let (Some(a), true) = (&self.acker, taken != 0) {
                a.ack(taken);
                taken = 0;
            }
        }
    }
}

/// A datagram a backup received (`ip_vs_process_message`).
fn process(ipvs: &IpvsNet, b: &[u8]) {
    let s = &ipvs.sync.stats;
    inc(&s.recv_msgs, 1);
    let syncid = ipvs.sync.backup_syncid.load(Ordering::Relaxed);
    let mut failed = 0u64;
    // The wire carries the low byte; a larger backup id matches nothing,
    // as stock's comparison of the byte with the int.
    let filter = match u8::try_from(syncid) {
        Ok(id) => id,
        Err(_) => {
            inc(&s.other_syncid, 1);
            return;
        }
    };
    match sync_msg::parse(b, filter, |c| {
        if !apply(ipvs, c) {
            failed += 1;
        }
    }) {
        Err(_) => inc(&s.bad_msgs, 1),
        Ok(Outcome::OtherSyncid) => inc(&s.other_syncid, 1),
        Ok(Outcome::Done(p)) => {
            inc(&s.recv_conns, u64::from(p.conns) - failed);
            inc(&s.skipped_conns, u64::from(p.skipped) + failed);
        }
    }
}

fn addr_eq(af: u16, a: &Addr, b: &Addr) -> bool {
    if af == AF_INET6 {
        a == b
    } else {
        a[..4] == b[..4]
    }
}

/// The timeout of a received entry, jiffies: the message's, else (version
/// 0) the state's, or three minutes for a template.
fn timeout_of(ipvs: &IpvsNet, c: &SyncConn<'_>) -> u32 {
    let hz = hz().max(1);
    let secs = if c.timeout != 0 {
        c.timeout
    } else if c.flags & flags::TEMPLATE != 0 {
        TEMPLATE_TIMEOUT
    } else {
        let t = ipvs.timeouts();
        match c.protocol {
            6 => conn::tcp_timeout(Tcp::from_index(c.state as u8), &t),
            132 => Sctp::from_index(c.state as u8).timeout(),
            _ => t.udp,
        }
    };
    secs.min(u32::MAX / hz) * hz
}

/// Creates or refreshes the connection an entry describes
/// (`ip_vs_proc_conn`); `false` if it could not.
fn apply(ipvs: &IpvsNet, c: &SyncConn<'_>) -> bool {
    // Only the SIP engine exists; data for another is refused, as stock
    // refuses engines it has not loaded.
    let pe = match (c.pe_data, c.pe_name) {
        (Some(d), Some(b"sip")) => Some(d),
        (Some(_), _) => return false,
        _ => None,
    };
    let state = c.state as u8;
    let threshold = ipvs.sync_threshold()[0];
    let timeout = timeout_of(ipvs, c);
    let template = c.flags & flags::TEMPLATE != 0;
    let found = if template {
        ipvs.conns
            .lookup_template(c.af, c.protocol, &c.caddr, &c.vaddr, c.vport, pe)
    } else {
        let l = Lookup {
            af: c.af,
            protocol: c.protocol,
            saddr: &c.caddr,
            sport: c.cport,
            daddr: &c.vaddr,
            dport: c.vport,
        };
        let rcu = rcu::read_lock();
        let found = ipvs
            .conns
            .lookup_in(&rcu, &l)
            .and_then(conn::InUse::counted);
        drop(rcu);
        match found {
            Some(cp) if cp.dport != c.dport || !addr_eq(c.af, &cp.daddr, &c.daddr) => {
                if c.flags & flags::INACTIVE != 0 {
                    // The end of a connection that was replaced already.
                    return true;
                }
                // Scheduled elsewhere since: the old one goes.
                cp.expire_now();
                None
            }
            found => found,
        }
    };
    if let Some(cp) = found {
        cp.sync_update(state, threshold);
        cp.set_timeout(timeout);
        return true;
    }
    let Some((dest, svc_stats, mut fl)) = bind(ipvs, c) else {
        return false;
    };
    fl |= c.flags & (flags::TEMPLATE | flags::INACTIVE) | flags::SYNC;
    if fl & flags::FWD_MASK == conn_flags::MASQ {
        // Its client may have been on the master.
        fl |= LOCAL_REPLY;
    }
    let pe_data = match pe {
        Some(d) if template => {
            let mut v = KVec::new();
            if v.extend_from_slice(d, GFP_KERNEL).is_err() {
                return false;
            }
            Some(v)
        }
        _ => None,
    };
    let Ok(cp) = ipvs.conns.as_ref().create(NewConn {
        af: c.af,
        protocol: c.protocol,
        caddr: c.caddr,
        cport: c.cport,
        vaddr: c.vaddr,
        vport: c.vport,
        daddr: c.daddr,
        dport: c.dport,
        flags: fl,
        timeout,
        dest,
        svc_stats,
        control: None,
        pe_data,
        fwmark: c.fwmark,
    }) else {
        return false;
    };
    if fl & flags::FWD_MASK == conn_flags::MASQ {
        // Its real server may be on this host, and may answer before
        // any packet of the client came here.
        cp.server_is_local();
    }
    cp.sync_update(state, threshold);
    true
}

/// The real server a new entry belongs to (`ip_vs_find_dest`) with its
/// service's counters and the forwarding flags it gives (as
/// `ip_vs_bind_dest` for synced connections); without one, a detached
/// real server that forwards as the message says.
fn bind(ipvs: &IpvsNet, c: &SyncConn<'_>) -> Option<(Shared<DestShared>, Shared<Counters>, u32)> {
    {
        let rcu = rcu::read_lock();
        let found = ipvs.find_service(&rcu, |s| {
            s.find_for_packet(c.af, c.protocol, &c.vaddr, c.vport, c.fwmark, |p| {
                crate::newconn::ftp_data_port(None, p)
            })
        });
        let svc = found.as_ref().map(|s| s.lock()).filter(|s| !s.gone);
        if let Some(svc) = svc {
            let masq = c.flags & flags::FWD_MASK == conn_flags::MASQ;
            let port = if c.fwmark != 0 && !masq {
                [0, 0]
            } else {
                c.dport
            };
            let other = [port[0] ^ c.dport[0], port[1] ^ c.dport[1]];
            let d = svc
                .dest(c.af, &c.daddr, port)
                .or_else(|| svc.dest(c.af, &c.daddr, other));
            if let Some(d) = d {
                let mut fl = d.fwd;
                if d.fwd != conn_flags::MASQ {
                    fl |= NOOUTPUT;
                }
                if ipvs.sysctl(Sysctl::Conntrack) != 0 {
                    fl |= conn_flags::NFCT;
                }
                return Some((d.shared.clone(), svc.stats.clone(), fl));
            }
        }
    }
    let d = share(DestShared {
        af: c.af,
        ..DestShared::default()
    })
    .ok()?;
    d.available.store(true, Ordering::Relaxed);
    d.weight.store(1, Ordering::Relaxed);
    let stats = share(Counters::default()).ok()?;
    Some((d, stats, c.flags & (flags::FWD_MASK | flags::NOOUTPUT)))
}

/// A thread name, "ipvs-m:GEN:ID" as stock's (the estimator's too:
/// "ipvs-e:GEN:ID").
pub(crate) fn name(kind: char, gen: u32, id: usize) -> [u8; 32] {
    struct Buf([u8; 32], usize);
    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let b = s.as_bytes();
            let end = (self.1 + b.len()).min(self.0.len() - 1);
            self.0[self.1..end].copy_from_slice(&b[..end - self.1]);
            self.1 = end;
            Ok(())
        }
    }
    let mut b = Buf([0; 32], 0);
    let _ = write!(b, "ipvs-{kind}:{gen}:{id}");
    b.0
}

pub(crate) fn cstr(b: &[u8; 32]) -> &core::ffi::CStr {
    core::ffi::CStr::from_bytes_until_nul(b).unwrap_or(c"ipvs-sync")
}

/// The resync port of a daemon.
fn resync_port(cfg: &DaemonCfg) -> u16 {
    cfg.port.wrapping_add(sync_msg::RESYNC_PORT_OFFSET)
}

/// A master's resync thread: its socket listens on the resync port of
/// every address of the interface (and the group, for multicast).
fn resyncer(
    net: &Net,
    cfg: &DaemonCfg,
    dev: &socket::DevInfo,
    sock_size: i32,
) -> core::result::Result<Resyncer, Refusal> {
    let nomem = |e| (e, c"ipvs: cannot start sync daemon threads");
    let af = cfg.sock_af();
    let sock = UdpSocket::new(net, af).map_err(nomem)?;
    sock.mcast_sender(dev.ifindex, cfg.ttl, sock_size)
        .map_err(|e| (e, c"ipvs: cannot set up the sync socket"))?;
    sock.receiver(dev.ifindex, 0);
    sock.bind(af, &[0; 16], resync_port(cfg))
        .map_err(|e| (e, c"ipvs: cannot bind the resync socket"))?;
    // Requests may still come by unicast if the group cannot be joined
    // (an interface without multicast): not worth refusing the daemon.
    if cfg.peers().is_empty() && sock.join(af, &cfg.group, dev.ifindex).is_err() {
        pr_info!("sync: resync requests by multicast not received on this interface\n");
    }
    let mut peers = KVec::new();
    peers
        .extend_from_slice(cfg.peers(), GFP_KERNEL)
        .map_err(|_| nomem(ENOMEM))?;
    Ok(Resyncer {
        sock,
        peers,
        group: cfg.group,
        af,
        port: cfg.port,
        syncid: cfg.syncid as u8,
        maxlen: usize::from(cfg.sync_maxlen),
    })
}

/// A backup's line to its masters' resync threads: the group
/// (multicast), or the peers after its own address (unicast).
struct Acker {
    sock: UdpSocket,
    masters: KVec<[u8; 16]>,
    af: u16,
    port: u16,
    syncid: u8,
}

impl Acker {
    /// `None` when there is nobody to ask (a unicast backup with one
    /// peer) or no socket.
    fn new(net: &Net, cfg: &DaemonCfg, dev: &socket::DevInfo) -> Option<Self> {
        let group = [cfg.group];
        let masters: &[[u8; 16]] = match cfg.peers() {
            [] => &group,
            [_own, masters @ ..] => masters,
        };
        if masters.is_empty() {
            return None;
        }
        let af = cfg.sock_af();
        let sock = UdpSocket::new(net, af).ok()?;
        sock.mcast_sender(dev.ifindex, cfg.ttl, 0).ok()?;
        if af == AF_INET && dev.addr4 != [0; 4] {
            let _ = sock.bind(AF_INET, &addr4_of(dev), 0);
        }
        let mut m = KVec::new();
        m.extend_from_slice(masters, GFP_KERNEL).ok()?;
        Some(Self {
            sock,
            masters: m,
            af,
            port: resync_port(cfg),
            syncid: cfg.syncid as u8,
        })
    }

    fn send(&self, b: &[u8]) -> bool {
        self.masters
            .iter()
            .all(|m| self.sock.send(b, Some((self.af, m, self.port))).is_ok())
    }

    /// A starting backup asks its masters for their whole tables. Best
    /// effort: a master that is not up yet sends as traffic comes.
    fn ask(&self) {
        if !self.send(&sync_msg::resync_request(self.syncid)) {
            pr_info!("sync: a resync request could not be sent\n");
        }
    }

    /// Tells the masters `n` more resync datagrams were taken in.
    fn ack(&self, n: u32) {
        self.send(&sync_msg::resync_ack(self.syncid, n));
    }
}

/// `IPVS_CMD_NEW_DAEMON` (`start_sync_thread`): `cfg` as parsed, not yet
/// resolved.
pub(crate) fn start(
    ipvs: &IpvsNet,
    net: &Net,
    state: u32,
    mut cfg: DaemonCfg,
) -> core::result::Result<(), Refusal> {
    let s = &ipvs.sync;
    let mut d = s.daemons.lock();
    if d.master.is_none() && d.backup.is_none() {
        let ports = ipvs
            .sysctl(Sysctl::SyncPorts)
            .clamp(1, sync_msg::PORTS_MAX as i32);
        d.count = ports as usize;
    }
    let count = d.count;
    let dev = socket::dev_info(net, cfg.ifname_cstr())
        .map_err(|e| (e, c"ipvs: unknown sync interface"))?;
    cfg.resolve(state, dev.mtu);
    match state {
        MASTER if d.master.is_some() => {
            return Err((EEXIST, c"ipvs: master sync daemon already running"))
        }
        BACKUP if d.backup.is_some() => {
            return Err((EEXIST, c"ipvs: backup sync daemon already running"))
        }
        MASTER | BACKUP => {}
        _ => return Err((EINVAL, c"ipvs: sync daemon state must be master or backup")),
    }
    let sock_size = ipvs.sysctl(Sysctl::SyncSockSize);
    let nomem = |e| (e, c"ipvs: cannot start sync daemon threads");
    if state == MASTER {
        let mut threads = KVec::with_capacity(count, GFP_KERNEL).map_err(|_| nomem(ENOMEM))?;
        let af = cfg.sock_af();
        for id in 0..count {
            let port = cfg.port.wrapping_add(id as u16);
            let sock = UdpSocket::new(net, af).map_err(nomem)?;
            sock.mcast_sender(dev.ifindex, cfg.ttl, sock_size)
                .map_err(|e| (e, c"ipvs: cannot set up the sync socket"))?;
            if af == AF_INET {
                if dev.addr4 == [0; 4] {
                    pr_err!("sync interface has no IPv4 address\n");
                }
                sock.bind(AF_INET, &addr4_of(&dev), 0)
                    .map_err(|e| (e, c"ipvs: cannot bind the sync socket"))?;
            }
            let mut peers = KVec::new();
            if cfg.peers().is_empty() {
                sock.connect(af, &cfg.group, port)
                    .map_err(|e| (e, c"ipvs: cannot connect the sync socket"))?;
            } else {
                peers
                    .extend_from_slice(cfg.peers(), GFP_KERNEL)
                    .map_err(|_| nomem(ENOMEM))?;
            }
            let n = name('m', s.gen, id);
            let sender = Sender {
                sock,
                id,
                peers,
                af,
                port,
            };
            // SAFETY: the thread is kept in `ipvs.sync`, which stops it
            // before `ipvs` goes (`IpvsNet::drop`).
            let t = unsafe { Kthread::start(sender, ipvs, cstr(&n)) }.map_err(nomem)?;
            threads.push(t, GFP_KERNEL).map_err(|_| nomem(ENOMEM))?;
        }
        let resync = resyncer(net, &cfg, &dev, sock_size)?;
        let n = name('r', s.gen, 0);
        // SAFETY: as for the senders.
        let resync = unsafe { Kthread::start(resync, ipvs, cstr(&n)) }.map_err(nomem)?;
        let mut ports = KVec::with_capacity(count, GFP_KERNEL).map_err(|_| nomem(ENOMEM))?;
        for _ in 0..count {
            ports
                .push(
                    Port {
                        cur: None,
                        ready: KVec::new(),
                        taken: 0,
                    },
                    GFP_KERNEL,
                )
                .map_err(|_| nomem(ENOMEM))?;
        }
        {
            let mut q = s.master.lock();
            q.on = true;
            q.syncid = cfg.syncid as u8;
            q.maxlen = usize::from(cfg.sync_maxlen);
            q.ports = ports;
            s.state.fetch_or(MASTER, Ordering::Relaxed);
        }
        pr_info!(
            "sync thread started: state = MASTER, mcast_ifn = {}, syncid = {}, threads = {}\n",
            core::str::from_utf8(cfg.ifname()).unwrap_or("?"),
            cfg.syncid,
            count
        );
        d.master = Some(Daemon { cfg, threads });
        d.resync = Some(resync);
    } else {
        let mut threads = KVec::with_capacity(count, GFP_KERNEL).map_err(|_| nomem(ENOMEM))?;
        // Unicast: bound to the one peer address (a local one), no group.
        let (af, addr) = match cfg.peers().first() {
            Some(p) => (cfg.peer_af, *p),
            None => (cfg.mcast_af, cfg.group),
        };
        for id in 0..count {
            let sock = UdpSocket::new(net, af).map_err(nomem)?;
            sock.receiver(dev.ifindex, sock_size);
            sock.bind(af, &addr, cfg.port.wrapping_add(id as u16))
                .map_err(|e| (e, c"ipvs: cannot bind the sync socket"))?;
            if cfg.peers().is_empty() {
                sock.join(af, &cfg.group, dev.ifindex)
                    .map_err(|e| (e, c"ipvs: cannot join the sync group"))?;
            }
            let n = name('b', s.gen, id);
            let r = Receiver {
                sock,
                maxlen: usize::from(cfg.sync_maxlen),
                // Resyncs come to thread 0's port.
                acker: if id == 0 {
                    Acker::new(net, &cfg, &dev)
                } else {
                    None
                },
                resync_port: resync_port(&cfg),
            };
            // SAFETY: as for the master's threads.
            let t = unsafe { Kthread::start(r, ipvs, cstr(&n)) }.map_err(nomem)?;
            threads.push(t, GFP_KERNEL).map_err(|_| nomem(ENOMEM))?;
        }
        s.backup_syncid.store(cfg.syncid, Ordering::Relaxed);
        s.state.fetch_or(BACKUP, Ordering::Relaxed);
        if let Some(a) = Acker::new(net, &cfg, &dev) {
            a.ask();
        }
        pr_info!(
            "sync thread started: state = BACKUP, mcast_ifn = {}, syncid = {}, threads = {}\n",
            core::str::from_utf8(cfg.ifname()).unwrap_or("?"),
            cfg.syncid,
            count
        );
        d.backup = Some(Daemon { cfg, threads });
    }
    Ok(())
}

const _: () = assert!(AF_INET == sync_msg::AF_INET && AF_INET6 == sync_msg::AF_INET6);
