// SPDX-License-Identifier: GPL-2.0

//! A generic netlink fuzzer that knows the "IPVS" family's policy (stock
//! `ip_vs_ctl.c`): every command, the nested service, real server and
//! daemon attributes with their types and lengths, boundary values,
//! wrong lengths and types, unknown attributes, nests of garbage,
//! truncated and oversized attributes, messages cut short, and random
//! byte flips in otherwise valid requests.
//!
//! `ipvs-nlfuzz COUNT SEED [nobody] [OUT]`: sends COUNT messages from the
//! seed (the same seed sends the same messages), each asking for an
//! acknowledgement. Every tenth one is bracketed by dumps of the whole
//! configuration (services, real servers, daemons, timeouts): a refused
//! request must leave it as it was. With `nobody` it runs as uid 65534
//! and every request must be refused with `EPERM` (or `EOPNOTSUPP` for
//! commands the family lacks). OUT, if given, receives one line per
//! message: its number, command and errno (the transcript to compare
//! across modules). Prints `sent=N ok=N refused=N dropped=N checked=N`
//! and a histogram of errnos; exits 1 on a violation, listing it.
//!
//! `ipvs-nlfuzz faults-load KO STRIDE` and `faults-config IFNAME`: the
//! same family under allocation failure (see `faults.rs`).

use ipvs_traffic::rng::Rng;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

#[path = "ipvs-nlfuzz/faults.rs"]
mod faults;

const NETLINK_GENERIC: i32 = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const GENL_ID_CTRL: u16 = 16;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NLA_F_NESTED: u16 = 1 << 15;

/// IPVS commands (`IPVS_CMD_*`).
mod cmd {
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const NEW_DAEMON: u8 = 9;
    pub const DEL_DAEMON: u8 = 10;
    pub const GET_DAEMON: u8 = 11;
    pub const SET_CONFIG: u8 = 12;
    pub const GET_CONFIG: u8 = 13;
    pub const SET_INFO: u8 = 14;
    pub const GET_INFO: u8 = 15;
    pub const ZERO: u8 = 16;
    pub const FLUSH: u8 = 17;
}

/// Top-level attributes (`IPVS_CMD_ATTR_*`).
const ATTR_SERVICE: u16 = 1;
const ATTR_DEST: u16 = 2;
const ATTR_DAEMON: u16 = 3;
const ATTR_TIMEOUT_TCP: u16 = 4;
const ATTR_TIMEOUT_TCP_FIN: u16 = 5;
const ATTR_TIMEOUT_UDP: u16 = 6;

/// The type of an attribute in the family's policy.
#[derive(Clone, Copy)]
enum Ty {
    U8,
    U16,
    Port,
    U32,
    Addr,
    Str(usize),
    Flags,
    /// Read-only in requests (statistics, connection counts).
    Ignored,
}

/// `IPVS_SVC_ATTR_*`.
const SERVICE: &[(u16, Ty)] = &[
    (1, Ty::U16),      // AF
    (2, Ty::U16),      // PROTOCOL
    (3, Ty::Addr),     // ADDR
    (4, Ty::Port),     // PORT
    (5, Ty::U32),      // FWMARK
    (6, Ty::Str(16)),  // SCHED_NAME
    (7, Ty::Flags),    // FLAGS
    (8, Ty::U32),      // TIMEOUT
    (9, Ty::U32),      // NETMASK
    (10, Ty::Ignored), // STATS
    (11, Ty::Str(32)), // PE_NAME
    (12, Ty::Ignored), // STATS64
];

/// `IPVS_DEST_ATTR_*`.
const DEST: &[(u16, Ty)] = &[
    (1, Ty::Addr),     // ADDR
    (2, Ty::Port),     // PORT
    (3, Ty::U32),      // FWD_METHOD
    (4, Ty::U32),      // WEIGHT
    (5, Ty::U32),      // U_THRESH
    (6, Ty::U32),      // L_THRESH
    (7, Ty::Ignored),  // ACTIVE_CONNS
    (8, Ty::Ignored),  // INACT_CONNS
    (9, Ty::Ignored),  // PERSIST_CONNS
    (10, Ty::Ignored), // STATS
    (11, Ty::U16),     // ADDR_FAMILY
    (12, Ty::Ignored), // STATS64
    (13, Ty::U8),      // TUN_TYPE
    (14, Ty::Port),    // TUN_PORT
    (15, Ty::U16),     // TUN_FLAGS
];

/// `IPVS_DAEMON_ATTR_*`.
const DAEMON: &[(u16, Ty)] = &[
    (1, Ty::U32),     // STATE
    (2, Ty::Str(16)), // MCAST_IFN
    (3, Ty::U32),     // SYNC_ID
    (4, Ty::U16),     // SYNC_MAXLEN
    (5, Ty::U32),     // MCAST_GROUP
    (6, Ty::Addr),    // MCAST_GROUP6
    (7, Ty::U16),     // MCAST_PORT
    (8, Ty::U8),      // MCAST_TTL
];

/// A generic netlink message: the netlink and genetlink headers, then
/// `attrs`.
fn message(family: u16, flags: u16, seq: u32, command: u8, version: u8, attrs: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(20 + attrs.len());
    m.extend_from_slice(&((20 + attrs.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&family.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[command, version, 0, 0]);
    m.extend_from_slice(attrs);
    m
}

fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut a = Vec::with_capacity(len + 3);
    a.extend_from_slice(&(len as u16).to_ne_bytes());
    a.extend_from_slice(&kind.to_ne_bytes());
    a.extend_from_slice(payload);
    while a.len() % 4 != 0 {
        a.push(0);
    }
    a
}

/// A few addresses that mean something (IPv4 in the first four bytes)
/// and some that do not.
fn address(r: &mut Rng) -> [u8; 16] {
    let mut a = [0u8; 16];
    match r.below(9) {
        0..=2 => a[..4].copy_from_slice(&[10, 0, 0, 100 + r.below(3) as u8]),
        3 => a[..4].copy_from_slice(&[192, 168, 1, 11 + r.below(3) as u8]),
        4 => {
            a[..2].copy_from_slice(&[0xfd, 0]);
            a[15] = 1 + r.below(3) as u8;
        }
        5 => a[..4].copy_from_slice(&[224, 0, 0, 81]),
        6 => a.fill(0xff),
        7 => a[..4].copy_from_slice(&[127, 0, 0, 1]),
        _ => {}
    }
    a
}

/// A value of `bits` bits: mostly small or meaningful, often a boundary.
fn number(r: &mut Rng, bits: u32) -> u64 {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    match r.below(8) {
        0 => 0,
        1 => max,
        2 => max >> 1,
        3 => (max >> 1) + 1,
        4 => r.next_u64() & max,
        _ => r.below(20) as u64 & max,
    }
}

/// A payload for an attribute of type `ty`, right or (sometimes) wrong.
fn value(r: &mut Rng, kind: u16, ty: Ty, nest: &[(u16, Ty)]) -> Vec<u8> {
    // A length the policy does not allow, about one time in eight.
    if r.pct(12) {
        let n = *r.pick(&[0usize, 1, 2, 3, 5, 7, 15, 17, 33, 300]);
        return r.bytes(n);
    }
    match ty {
        Ty::U8 => vec![number(r, 8) as u8],
        Ty::U16 => {
            let v = if kind == 1 && std::ptr::eq(nest, SERVICE) || kind == 11 {
                *r.pick(&[2u16, 2, 10, 10, 0, 1, 0xffff])
            } else if kind == 2 && std::ptr::eq(nest, SERVICE) {
                *r.pick(&[6u16, 6, 17, 17, 132, 0, 1, 255, 0xffff])
            } else {
                number(r, 16) as u16
            };
            v.to_ne_bytes().to_vec()
        }
        Ty::Port => (*r.pick(&[80u16, 80, 53, 0, 21, 500, 65535]))
            .to_be_bytes()
            .to_vec(),
        Ty::U32 => {
            let v = match (std::ptr::eq(nest, DEST), kind) {
                (true, 3) => *r.pick(&[0u32, 1, 2, 3, 4, 5, 7, 0xffff_ffff]),
                (true, 4) => *r.pick(&[0u32, 1, 3, 100, 65535, 0x7fff_ffff, 0x8000_0000]),
                _ => number(r, 32) as u32,
            };
            v.to_ne_bytes().to_vec()
        }
        Ty::Addr => address(r).to_vec(),
        Ty::Str(max) => {
            let mut s = match r.below(6) {
                0..=2 => r
                    .pick(&[
                        "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo",
                        "ovf", "mh", "twos", "none", "sip", "lo", "eth0", "cli", "br0",
                    ])
                    .as_bytes()
                    .to_vec(),
                3 => Vec::new(),
                4 => vec![b'x'; max + r.below(4)],
                _ => r.some_bytes(max + 8),
            };
            // Mostly terminated, as the policy wants.
            if r.pct(85) {
                s.push(0);
            }
            s
        }
        Ty::Flags => {
            let mut f = (number(r, 32) as u32).to_ne_bytes().to_vec();
            f.extend_from_slice(&(number(r, 32) as u32).to_ne_bytes());
            f
        }
        Ty::Ignored => {
            let n = *r.pick(&[0usize, 8, 64, 96]);
            r.bytes(n)
        }
    }
}

/// A nest of the attributes of `policy`: a random subset (the mandatory
/// ones usually present), sometimes an unknown attribute, a duplicate, a
/// nested flag or garbage.
fn nest(r: &mut Rng, kind: u16, policy: &[(u16, Ty)]) -> Vec<u8> {
    if r.pct(4) {
        return attr(kind | NLA_F_NESTED, &r.some_bytes(40));
    }
    let mut body = Vec::new();
    for &(k, ty) in policy {
        let want = match (std::ptr::eq(policy, SERVICE), k) {
            // AF, protocol, address, port (or fwmark), scheduler, flags,
            // timeout and netmask make a full service.
            (true, 1..=4) | (true, 6..=9) => 85,
            (true, 5) => 15,
            (false, 1..=4) if std::ptr::eq(policy, DEST) => 85,
            (false, 1..=3) => 80,
            _ => 25,
        };
        if r.pct(want) {
            body.extend(attr(k, &value(r, k, ty, policy)));
        }
    }
    if r.pct(5) {
        let k = *r.pick(&[0u16, 40, 200, 0x7fff]);
        body.extend(attr(k, &r.some_bytes(12)));
    }
    if r.pct(5) && !body.is_empty() {
        // A duplicate of the first attribute.
        let len = usize::from(u16::from_ne_bytes([body[0], body[1]]));
        let first = body[..len.min(body.len())].to_vec();
        body.extend(first);
    }
    if r.pct(3) {
        // An attribute claiming more than the nest holds.
        let mut a = attr(r.pick(policy).0, &[1, 2, 3, 4]);
        a[0..2].copy_from_slice(&200u16.to_ne_bytes());
        body.extend(a);
    }
    let flag = if r.pct(80) { NLA_F_NESTED } else { 0 };
    attr(kind | flag, &body)
}

/// One request: command, flags and attributes; and whether the kernel
/// reads it at all (one whose header claims more than was sent it drops
/// unanswered).
fn request(r: &mut Rng, family: u16, seq: u32) -> (u8, Vec<u8>, bool) {
    let command = match r.below(40) {
        0 => *r.pick(&[0u8, 18, 19, 100, 255]),
        1..=8 => cmd::NEW_SERVICE,
        9..=12 => cmd::SET_SERVICE,
        13..=14 => cmd::DEL_SERVICE,
        15..=17 => cmd::GET_SERVICE,
        18..=23 => cmd::NEW_DEST,
        24..=25 => cmd::SET_DEST,
        26..=27 => cmd::DEL_DEST,
        28..=29 => cmd::GET_DEST,
        30 => cmd::NEW_DAEMON,
        31 => cmd::DEL_DAEMON,
        32 => cmd::GET_DAEMON,
        33 => cmd::SET_CONFIG,
        34 => cmd::GET_CONFIG,
        35 => cmd::SET_INFO,
        36 => cmd::GET_INFO,
        37 => cmd::ZERO,
        38 => {
            if r.pct(30) {
                cmd::FLUSH
            } else {
                cmd::NEW_SERVICE
            }
        }
        _ => *r.pick(&[cmd::NEW_DEST, cmd::GET_SERVICE, cmd::SET_DEST]),
    };
    let mut attrs = Vec::new();
    let with = |r: &mut Rng, likely: bool| r.pct(if likely { 92 } else { 10 });
    let svc_cmd = matches!(command, 1..=8 | cmd::ZERO);
    let dest_cmd = matches!(command, cmd::NEW_DEST | cmd::SET_DEST | cmd::DEL_DEST);
    if with(r, svc_cmd) {
        attrs.extend(nest(r, ATTR_SERVICE, SERVICE));
    }
    if with(r, dest_cmd) {
        attrs.extend(nest(r, ATTR_DEST, DEST));
    }
    if with(r, matches!(command, cmd::NEW_DAEMON | cmd::DEL_DAEMON)) {
        attrs.extend(nest(r, ATTR_DAEMON, DAEMON));
    }
    for t in [ATTR_TIMEOUT_TCP, ATTR_TIMEOUT_TCP_FIN, ATTR_TIMEOUT_UDP] {
        if with(r, command == cmd::SET_CONFIG) {
            attrs.extend(attr(t, &value(r, t, Ty::U32, &[])));
        }
    }
    if r.pct(3) {
        attrs.extend(attr(*r.pick(&[0u16, 7, 99]), &r.some_bytes(20)));
    }
    let mut flags = NLM_F_REQUEST | NLM_F_ACK;
    let get = matches!(
        command,
        cmd::GET_SERVICE | cmd::GET_DEST | cmd::GET_DAEMON | cmd::GET_CONFIG | cmd::GET_INFO
    );
    if get && r.pct(60) || r.pct(2) {
        flags |= NLM_F_DUMP;
    }
    let version = if r.pct(97) {
        1
    } else {
        *r.pick(&[0u8, 2, 255])
    };
    let mut m = message(family, flags, seq, command, version, &attrs);
    // Mutations of the whole message.
    let mut read = true;
    match r.below(100) {
        // Random bytes flipped after the headers.
        0..=5 if m.len() > 20 => {
            for _ in 0..1 + r.below(4) {
                let at = 20 + r.below(m.len() - 20);
                m[at] ^= 1 << r.below(8);
            }
        }
        // Cut short, the header telling the truth.
        6..=8 => {
            let n = 16 + r.below(m.len() - 15);
            m.truncate(n);
            m[..4].copy_from_slice(&(n as u32).to_ne_bytes());
        }
        // The header claiming more than was sent (dropped unanswered).
        9 => {
            let more = m.len() as u32 + 1 + r.below(64) as u32;
            m[..4].copy_from_slice(&more.to_ne_bytes());
            read = false;
        }
        _ => {}
    }
    (command, m, read)
}

struct Nl {
    fd: OwnedFd,
    seq: u32,
}

impl Nl {
    fn open() -> Option<Self> {
        // SAFETY: a plain socket call; the descriptor moves into an
        // `OwnedFd` at once.
        let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, NETLINK_GENERIC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: `fd` is new and ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let one: i32 = 1;
        for opt in [libc::NETLINK_EXT_ACK, libc::NETLINK_CAP_ACK] {
            // SAFETY: `one` lives through the call. Best effort.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_NETLINK,
                    opt,
                    std::ptr::from_ref(&one).cast(),
                    4,
                )
            };
        }
        let big: i32 = 1 << 20;
        // SAFETY: as above.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                std::ptr::from_ref(&big).cast(),
                4,
            )
        };
        Some(Self { fd, seq: 1 })
    }

    fn send(&self, m: &[u8]) -> bool {
        // SAFETY: all-zero is a valid `sockaddr_nl` (the kernel).
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `m` and `sa` live through the call.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                m.as_ptr().cast(),
                m.len(),
                0,
                std::ptr::from_ref(&sa).cast(),
                std::mem::size_of_val(&sa) as libc::socklen_t,
            )
        };
        n == m.len() as isize
    }

    /// The messages of one datagram, waiting up to `ms`; `None` on
    /// timeout.
    fn recv(&self, ms: i32) -> Option<Vec<u8>> {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live `pollfd`.
        if unsafe { libc::poll(&mut p, 1, ms) } <= 0 {
            return None;
        }
        let mut buf = vec![0u8; 1 << 17];
        // SAFETY: `buf` lives through the call.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return None;
        }
        buf.truncate(n as usize);
        Some(buf)
    }

    /// Sends `m` (sequence number `seq`) and reads until its
    /// acknowledgement or the end of its dump: `Some(errno)` (0 for
    /// success), with the payloads of the dump, or `None` if no answer
    /// came (a message the kernel drops unread).
    fn exchange(&mut self, m: &[u8], seq: u32, ms: i32) -> Option<(i32, Vec<Vec<u8>>)> {
        if !self.send(m) {
            // SAFETY: reads the thread's errno.
            return Some((unsafe { *libc::__errno_location() }, Vec::new()));
        }
        let mut parts = Vec::new();
        loop {
            let buf = self.recv(ms)?;
            let mut at = 0;
            while at + 16 <= buf.len() {
                let len = u32::from_ne_bytes(buf[at..at + 4].try_into().ok()?) as usize;
                let ty = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
                let mseq = u32::from_ne_bytes(buf[at + 8..at + 12].try_into().ok()?);
                if len < 16 || at + len > buf.len() {
                    break;
                }
                let body = &buf[at + 16..at + len];
                at += (len + 3) & !3;
                if mseq != seq {
                    continue;
                }
                match ty {
                    NLMSG_ERROR => {
                        let e = i32::from_ne_bytes(body.get(..4)?.try_into().ok()?);
                        return Some((-e, parts));
                    }
                    NLMSG_DONE => {
                        // A dump that failed as it went says so here.
                        let e = body
                            .get(..4)
                            .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                        return Some((-e, parts));
                    }
                    _ => parts.push(body.to_vec()),
                }
            }
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq += 1;
        self.seq
    }

    /// The family id of "IPVS".
    fn resolve(&mut self) -> Option<u16> {
        let seq = self.next_seq();
        let name = attr(CTRL_ATTR_FAMILY_NAME, b"IPVS\0");
        let m = message(
            GENL_ID_CTRL,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            CTRL_CMD_GETFAMILY,
            1,
            &name,
        );
        let (_, parts) = self.exchange(&m, seq, 2000)?;
        let id = find_attr(parts.first()?, CTRL_ATTR_FAMILY_ID)?;
        Some(u16::from_ne_bytes([*id.first()?, *id.get(1)?]))
    }

    /// A plain request of `command` with `attrs`, as a dump or not.
    fn plain(
        &mut self,
        family: u16,
        command: u8,
        attrs: &[u8],
        dump: bool,
    ) -> Option<(i32, Vec<Vec<u8>>)> {
        let seq = self.next_seq();
        let mut flags = NLM_F_REQUEST | NLM_F_ACK;
        if dump {
            flags |= NLM_F_DUMP;
        }
        let m = message(family, flags, seq, command, 1, attrs);
        self.exchange(&m, seq, 5000)
    }
}

/// The payload of the first top-level attribute of `kind` in a generic
/// netlink message body (after its 4-byte header).
fn find_attr(body: &[u8], kind: u16) -> Option<&[u8]> {
    let mut at = 4;
    while at + 4 <= body.len() {
        let len = usize::from(u16::from_ne_bytes([body[at], body[at + 1]]));
        let k = u16::from_ne_bytes([body[at + 2], body[at + 3]]);
        if len < 4 || at + len > body.len() {
            break;
        }
        if k == kind {
            return Some(&body[at + 4..at + len]);
        }
        at += (len + 3) & !3;
    }
    None
}

/// Drops the statistics from a dumped service or real server (they are
/// not configuration), keeping everything else in order.
fn config_of(body: &[u8]) -> Vec<u8> {
    fn walk(b: &[u8], out: &mut Vec<u8>, depth: u32) {
        let mut at = 0;
        while at + 4 <= b.len() {
            let len = usize::from(u16::from_ne_bytes([b[at], b[at + 1]]));
            let kind = u16::from_ne_bytes([b[at + 2], b[at + 3]]) & !NLA_F_NESTED;
            if len < 4 || at + len > b.len() {
                break;
            }
            let payload = &b[at + 4..at + len];
            match (depth, kind) {
                // STATS, STATS64 (service and real server), and the real
                // server's connection counts.
                (1, 10 | 12) | (1, 7..=9) => {}
                (0, _) => {
                    out.extend_from_slice(&kind.to_ne_bytes());
                    walk(payload, out, 1);
                }
                _ => {
                    out.extend_from_slice(&kind.to_ne_bytes());
                    out.extend_from_slice(payload);
                }
            }
            at += (len + 3) & !3;
        }
    }
    let mut out = Vec::new();
    walk(body.get(4..).unwrap_or(&[]), &mut out, 0);
    out
}

/// The whole configuration, as dumps: services, each one's real servers,
/// daemons, timeouts. `None` if a dump failed.
fn snapshot(nl: &mut Nl, family: u16) -> Option<Vec<Vec<u8>>> {
    let mut all = Vec::new();
    let (e, services) = nl.plain(family, cmd::GET_SERVICE, &[], true)?;
    if e != 0 {
        return None;
    }
    for s in services {
        all.push(config_of(&s));
        // The service nest, as the real servers' dump wants it.
        let svc = s.get(4..)?.to_vec();
        let (e, dests) = nl.plain(family, cmd::GET_DEST, &svc, true)?;
        if e != 0 {
            return None;
        }
        let mut d: Vec<_> = dests.iter().map(|d| config_of(d)).collect();
        d.sort();
        all.extend(d);
    }
    for (c, dump) in [(cmd::GET_DAEMON, true), (cmd::GET_CONFIG, false)] {
        let (e, parts) = nl.plain(family, c, &[], dump)?;
        if e != 0 {
            return None;
        }
        all.extend(parts.iter().map(|p| p.get(4..).unwrap_or(&[]).to_vec()));
    }
    Some(all)
}

fn errno_name(e: i32) -> String {
    match e {
        0 => "ok".into(),
        1 => "EPERM".into(),
        2 => "ENOENT".into(),
        3 => "ESRCH".into(),
        12 => "ENOMEM".into(),
        16 => "EBUSY".into(),
        17 => "EEXIST".into(),
        19 => "ENODEV".into(),
        22 => "EINVAL".into(),
        34 => "ERANGE".into(),
        95 => "EOPNOTSUPP".into(),
        97 => "EAFNOSUPPORT".into(),
        e => format!("errno{e}"),
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("faults-load") => return faults::load(&args[1..]),
        Some("faults-config") => return faults::config(&args[1..]),
        _ => {}
    }
    let (Some(Ok(count)), Some(Ok(seed))) = (
        args.first().map(|a| a.parse::<u32>()),
        args.get(1).map(|a| a.parse::<u64>()),
    ) else {
        eprintln!("usage: ipvs-nlfuzz COUNT SEED [nobody] [OUT] | faults-load KO STRIDE | faults-config IFNAME");
        return std::process::ExitCode::from(2);
    };
    let nobody = args.get(2).is_some_and(|a| a == "nobody");
    let out_path = args.get(if nobody { 3 } else { 2 });
    let mut out = out_path.map(|p| std::io::BufWriter::new(std::fs::File::create(p).expect("OUT")));

    // Family and a reference snapshot as root; then, for `nobody`, drop
    // privileges before the socket that fuzzes.
    let mut root = Nl::open().expect("netlink socket");
    let Some(family) = root.resolve() else {
        eprintln!("no IPVS family");
        return std::process::ExitCode::FAILURE;
    };
    let before = snapshot(&mut root, family);
    if nobody {
        // The fuzzing runs in a child that becomes nobody; the root socket
        // stays with the parent, which looks at the configuration after
        // (a socket is only as privileged as the task using it).
        // SAFETY: a plain call; the process is single-threaded.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid > 0 {
            let mut status = 0;
            // SAFETY: waits for our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            let child_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
            if before != snapshot(&mut root, family) {
                println!("violation: the configuration changed under nobody");
                return std::process::ExitCode::FAILURE;
            }
            return if child_ok {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            };
        }
        // SAFETY: plain calls in the single-threaded child.
        let became = unsafe { libc::setgid(65534) == 0 && libc::setuid(65534) == 0 };
        assert!(became, "cannot become nobody");
    }
    let mut nl = Nl::open().expect("netlink socket");
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let (mut ok, mut refused, mut dropped, mut checked) = (0u32, 0u32, 0u32, 0u32);
    let mut errnos: BTreeMap<String, u32> = BTreeMap::new();
    let mut violations = Vec::new();
    for i in 0..count {
        let seq = nl.next_seq();
        let (command, m, read) = request(&mut r, family, seq);
        let check = !nobody && i % 10 == 0;
        let pre = if check {
            snapshot(&mut root, family)
        } else {
            None
        };
        let got = nl.exchange(&m, seq, if read { 3000 } else { 30 });
        let e = match got {
            Some((e, _)) => e,
            None => {
                dropped += 1;
                if read {
                    violations.push(format!("message {i} (cmd {command}) got no answer"));
                }
                -1
            }
        };
        if let Some(o) = out.as_mut() {
            let _ = writeln!(
                o,
                "{i} cmd={command} {}",
                if e < 0 { "none".into() } else { errno_name(e) }
            );
        }
        if e < 0 {
            continue;
        }
        *errnos.entry(errno_name(e)).or_default() += 1;
        if e == 0 {
            ok += 1;
        } else {
            refused += 1;
        }
        if nobody && e == 0 {
            violations.push(format!("message {i} (cmd {command}) accepted from nobody"));
        }
        // Only a message too short for its generic netlink header is
        // refused before the permission check.
        let short = m.len() < 20 || u32::from_ne_bytes([m[0], m[1], m[2], m[3]]) < 20;
        if nobody && e != 1 && e != 95 && !(e == 22 && short) {
            violations.push(format!(
                "message {i} (cmd {command}): {} from nobody",
                errno_name(e)
            ));
        }
        if let Some(pre) = pre {
            checked += 1;
            let post = snapshot(&mut root, family);
            if e != 0 && Some(&pre) != post.as_ref() {
                violations.push(format!(
                    "message {i} (cmd {command}) refused with {} but changed the configuration",
                    errno_name(e)
                ));
            }
        }
    }
    let hist: Vec<_> = errnos.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!(
        "sent={count} ok={ok} refused={refused} dropped={dropped} checked={checked} {}",
        hist.join(" ")
    );
    if violations.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        for v in violations.iter().take(20) {
            println!("violation: {v}");
        }
        std::process::ExitCode::FAILURE
    }
}
