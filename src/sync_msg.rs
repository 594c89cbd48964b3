// SPDX-License-Identifier: GPL-2.0

//! The connection sync wire format (stock `ip_vs_sync.c`): the messages a
//! master director sends its backups, protocol versions 1 and 0, and the
//! rule that decides when a connection is sent (`ip_vs_sync_conn_needed`).
//!
//! Pure code: the kernel side ([`crate::sync`]) fills and sends buffers
//! built here and hands received datagrams to [`parse`]; the host tests
//! run the same code.
//!
//! Version 1 (all fields network order):
//!
//! ```text
//! message: 0 | syncid | size(16) | count | version=1 | 0(16) | conn...
//! conn:    type | protocol | ver(4) size(12) | flags(32) | state(16)
//!          | cport | vport | dport | fwmark(32) | timeout s(32)
//!          | caddr | vaddr | daddr (IPv4 or, type bit 0, IPv6)
//!          | options: type | len | data  (sequence data, PE data, PE name)
//! ```
//!
//! each connection padded to four bytes. Version 0 (IPv4 only):
//! `count | syncid | size(16)`, then 24-byte entries
//! `0 | protocol | cport | vport | dport | caddr | vaddr | daddr |
//! flags(16) | state(16)`, each followed by 24 bytes of sequence data
//! when its flags carry `IP_VS_CONN_F_SEQ_MASK`.

/// `AF_INET`.
pub(crate) const AF_INET: u16 = 2;
/// `AF_INET6`.
pub(crate) const AF_INET6: u16 = 10;

/// Default multicast group, 224.0.0.81 (`IP_VS_SYNC_GROUP`).
pub(crate) const SYNC_GROUP: [u8; 4] = [224, 0, 0, 81];
/// Default port (`IP_VS_SYNC_PORT`).
pub(crate) const SYNC_PORT: u16 = 8848;
/// Most sender or receiver threads (`IPVS_SYNC_PORTS_MAX`).
pub(crate) const PORTS_MAX: usize = 64;

/// Version 1 message header.
pub(crate) const V1_HDR: usize = 8;
/// Version 0 message header.
pub(crate) const V0_HDR: usize = 4;
/// Version 0 entry without sequence data.
const V0_CONN: usize = 24;
/// Sequence data (`struct ip_vs_sync_conn_options`: two `ip_vs_seq`).
pub(crate) const SEQ_LEN: usize = 24;
/// Version 1 IPv4 entry without options.
const V4_CONN: usize = 36;
/// Version 1 IPv6 entry without options.
const V6_CONN: usize = 72;
/// Most connections a message counts (one byte).
const MAX_COUNT: usize = 255;

/// Option types.
const OPT_SEQ_DATA: u8 = 1;
const OPT_PE_DATA: u8 = 2;
const OPT_PE_NAME: u8 = 3;
/// Set in an option type: the option may be ignored if unknown.
const OPT_F_PARAM: u8 = 1 << 6;

/// `IP_VS_PEDATA_MAXLEN`, `IP_VS_PENAME_MAXLEN`.
const PEDATA_MAXLEN: usize = 255;
const PENAME_MAXLEN: usize = 16;

/// Connection flags on the wire (`IP_VS_CONN_F_*`).
pub(crate) mod flags {
    /// Forwarding method bits.
    pub(crate) const FWD_MASK: u32 = 0x0007;
    /// Created by sync.
    pub(crate) const SYNC: u32 = 0x0020;
    /// Hashed (never sent).
    pub(crate) const HASHED: u32 = 0x0040;
    /// No output packets.
    pub(crate) const NOOUTPUT: u32 = 0x0080;
    /// Not established.
    pub(crate) const INACTIVE: u32 = 0x0100;
    /// Sequence adjustment in either direction.
    pub(crate) const SEQ_MASK: u32 = 0x0600;
    /// Client port not known yet.
    pub(crate) const NO_CPORT: u32 = 0x0800;
    /// Persistence template.
    pub(crate) const TEMPLATE: u32 = 0x1000;
    /// One-packet scheduling.
    pub(crate) const ONE_PACKET: u32 = 0x2000;
    /// What a backup keeps of received flags (`IP_VS_CONN_F_BACKUP_MASK`).
    pub(crate) const BACKUP_MASK: u32 =
        FWD_MASK | NOOUTPUT | INACTIVE | SEQ_MASK | NO_CPORT | TEMPLATE;
}

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_SCTP: u8 = 132;

/// Protocol states a backup accepts (`pp->num_states`); `None`: the
/// protocol has no handler (stock: "Unsupported protocol").
pub(crate) fn num_states(protocol: u8) -> Option<u16> {
    match protocol {
        IPPROTO_TCP => Some(11),
        IPPROTO_UDP => Some(1),
        IPPROTO_SCTP => Some(15),
        _ => None,
    }
}

/// Template states (`IP_VS_CTPL_S_LAST`).
const TEMPLATE_STATES: u16 = 2;

/// One connection as the wire carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SyncConn<'a> {
    /// Address family.
    pub(crate) af: u16,
    /// IP protocol (0 for fwmark templates).
    pub(crate) protocol: u8,
    /// `IP_VS_CONN_F_*`.
    pub(crate) flags: u32,
    /// Protocol (or template) state.
    pub(crate) state: u16,
    /// Client port, network order.
    pub(crate) cport: [u8; 2],
    /// Virtual port.
    pub(crate) vport: [u8; 2],
    /// Real server port.
    pub(crate) dport: [u8; 2],
    /// Firewall mark (version 1).
    pub(crate) fwmark: u32,
    /// Timeout, seconds; 0 (version 0): the backup picks the state's.
    pub(crate) timeout: u32,
    /// Client address (IPv4: the first four bytes).
    pub(crate) caddr: [u8; 16],
    /// Virtual address.
    pub(crate) vaddr: [u8; 16],
    /// Real server address.
    pub(crate) daddr: [u8; 16],
    /// Sequence adjustment data, as sent (network order).
    pub(crate) seq: Option<[u8; SEQ_LEN]>,
    /// Persistence engine data (the SIP Call-ID of a template).
    pub(crate) pe_data: Option<&'a [u8]>,
    /// Persistence engine name.
    pub(crate) pe_name: Option<&'a [u8]>,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn ip4(b: &[u8], at: usize) -> [u8; 16] {
    let mut a = [0; 16];
    a[..4].copy_from_slice(&b[at..at + 4]);
    a
}

fn ip6(b: &[u8], at: usize) -> [u8; 16] {
    let mut a = [0; 16];
    a.copy_from_slice(&b[at..at + 16]);
    a
}

fn port(b: &[u8], at: usize) -> [u8; 2] {
    [b[at], b[at + 1]]
}

impl SyncConn<'_> {
    /// Length of this entry in a version 1 message, without padding.
    pub(crate) fn len_v1(&self) -> usize {
        let mut len = if self.af == AF_INET6 {
            V6_CONN
        } else {
            V4_CONN
        };
        if self.seq.is_some() {
            len += SEQ_LEN + 2;
        }
        if let Some(d) = self.pe_data {
            len += d.len() + 2;
            if let Some(n) = self.pe_name {
                len += n.len() + 2;
            }
        }
        len
    }

    /// Length of this entry in a version 0 message.
    pub(crate) fn len_v0(&self) -> usize {
        if self.flags & flags::SEQ_MASK != 0 {
            V0_CONN + SEQ_LEN
        } else {
            V0_CONN
        }
    }
}

/// Which message layout a buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    /// The original IPv4-only format.
    V0,
    /// IPv6, timeouts, fwmarks, persistence data.
    V1,
}

/// A message being filled, in a buffer of the message's maximum length.
pub(crate) struct Writer<B> {
    buf: B,
    len: usize,
    count: usize,
    version: Version,
}

impl<B: core::ops::DerefMut<Target = [u8]>> Writer<B> {
    /// Starts a message of `version` for `syncid` in `buf`, whose length
    /// is the most the message may take. `None` if not even the header
    /// fits.
    pub(crate) fn new(mut buf: B, version: Version, syncid: u8) -> Option<Self> {
        let hdr = match version {
            Version::V0 => V0_HDR,
            Version::V1 => V1_HDR,
        };
        let b = buf.get_mut(..hdr)?;
        b.fill(0);
        b[1] = syncid;
        if version == Version::V1 {
            b[5] = 1;
        }
        let mut w = Self {
            buf,
            len: hdr,
            count: 0,
            version,
        };
        w.seal();
        Some(w)
    }

    /// The message layout.
    pub(crate) fn version(&self) -> Version {
        self.version
    }

    /// Connections in the message.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// The message as it goes on the wire.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn seal(&mut self) {
        let len = (self.len as u16).to_be_bytes();
        let count = self.count as u8;
        let b = &mut *self.buf;
        b[2..4].copy_from_slice(&len);
        match self.version {
            Version::V0 => b[0] = count,
            Version::V1 => b[4] = count,
        }
    }

    /// Whether `c` fits in what is left.
    pub(crate) fn fits(&self, c: &SyncConn<'_>) -> bool {
        let need = match self.version {
            Version::V0 => c.len_v0(),
            Version::V1 => c.len_v1() + (self.len.wrapping_neg() & 3),
        };
        self.count < MAX_COUNT && self.len + need <= self.buf.len()
    }

    /// Appends `c`; `false` (and nothing written) if it does not fit or
    /// cannot be expressed in this version (IPv6 in version 0).
    pub(crate) fn push(&mut self, c: &SyncConn<'_>) -> bool {
        if !self.fits(c) || (self.version == Version::V0 && c.af != AF_INET) {
            return false;
        }
        let at = self.len;
        let b = &mut *self.buf;
        let end = match self.version {
            Version::V0 => {
                let e = &mut b[at..at + c.len_v0()];
                e[0] = 0;
                e[1] = c.protocol;
                e[2..4].copy_from_slice(&c.cport);
                e[4..6].copy_from_slice(&c.vport);
                e[6..8].copy_from_slice(&c.dport);
                e[8..12].copy_from_slice(&c.caddr[..4]);
                e[12..16].copy_from_slice(&c.vaddr[..4]);
                e[16..20].copy_from_slice(&c.daddr[..4]);
                e[20..22].copy_from_slice(&((c.flags & !flags::HASHED) as u16).to_be_bytes());
                e[22..24].copy_from_slice(&c.state.to_be_bytes());
                if c.flags & flags::SEQ_MASK != 0 {
                    e[24..48].copy_from_slice(&c.seq.unwrap_or([0; SEQ_LEN]));
                }
                at + c.len_v0()
            }
            Version::V1 => {
                let pad = at.wrapping_neg() & 3;
                b[at..at + pad].fill(0);
                let at = at + pad;
                let len = c.len_v1();
                let e = &mut b[at..at + len];
                e[0] = u8::from(c.af == AF_INET6);
                e[1] = c.protocol;
                e[2..4].copy_from_slice(&((len & 0x0fff) as u16).to_be_bytes());
                e[4..8].copy_from_slice(&(c.flags & !flags::HASHED).to_be_bytes());
                e[8..10].copy_from_slice(&c.state.to_be_bytes());
                e[10..12].copy_from_slice(&c.cport);
                e[12..14].copy_from_slice(&c.vport);
                e[14..16].copy_from_slice(&c.dport);
                e[16..20].copy_from_slice(&c.fwmark.to_be_bytes());
                e[20..24].copy_from_slice(&c.timeout.to_be_bytes());
                let mut p = if c.af == AF_INET6 {
                    e[24..40].copy_from_slice(&c.caddr);
                    e[40..56].copy_from_slice(&c.vaddr);
                    e[56..72].copy_from_slice(&c.daddr);
                    V6_CONN
                } else {
                    e[24..28].copy_from_slice(&c.caddr[..4]);
                    e[28..32].copy_from_slice(&c.vaddr[..4]);
                    e[32..36].copy_from_slice(&c.daddr[..4]);
                    V4_CONN
                };
                let mut opt = |ty: u8, data: &[u8]| {
                    e[p] = ty;
                    e[p + 1] = data.len() as u8;
                    e[p + 2..p + 2 + data.len()].copy_from_slice(data);
                    p += 2 + data.len();
                };
                if let Some(seq) = &c.seq {
                    opt(OPT_SEQ_DATA, seq);
                }
                if let Some(d) = c.pe_data {
                    opt(OPT_PE_DATA, d);
                    if let Some(n) = c.pe_name {
                        opt(OPT_PE_NAME, n);
                    }
                }
                at + len
            }
        };
        self.len = end;
        self.count += 1;
        self.seal();
        true
    }
}

/// Why a whole datagram was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MsgError {
    /// Shorter than a header.
    Short,
    /// The header's size is not the datagram's.
    Size,
    /// An entry runs past the end, or its options do.
    Truncated,
    /// An entry of an unknown version or address type.
    Version,
    /// A malformed option (zero length, wrong size, repeated).
    Option,
}

/// Why one entry was skipped (the rest of its message still counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnError {
    /// One-packet, or a template without client port.
    Flags,
    /// A protocol without handler.
    Protocol,
    /// A state the protocol does not have.
    State,
    /// An unknown option that may not be ignored.
    Option,
    /// PE data without a PE name, or an engine we do not have.
    Engine,
}

/// What a datagram held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// Entries handed over.
    pub(crate) conns: u32,
    /// Entries skipped.
    pub(crate) skipped: u32,
}

/// Outcome of [`parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// For another sync group (the backup's syncid is set and differs).
    OtherSyncid,
    /// Read: so many entries handed over, so many skipped.
    Done(Parsed),
}

/// The options of a version 1 entry, `Err` for a malformed one.
#[derive(Default)]
struct Options<'a> {
    seq: Option<[u8; SEQ_LEN]>,
    pe_data: Option<&'a [u8]>,
    pe_name: Option<&'a [u8]>,
    unknown_mandatory: bool,
}

fn options(mut b: &[u8]) -> Result<Options<'_>, MsgError> {
    let mut o = Options::default();
    while !b.is_empty() {
        let [ty, len, rest @ ..] = b else {
            return Err(MsgError::Truncated);
        };
        let len = usize::from(*len);
        if len == 0 || len > rest.len() {
            return Err(MsgError::Truncated);
        }
        let data = &rest[..len];
        match ty & !OPT_F_PARAM {
            OPT_SEQ_DATA => {
                if len != SEQ_LEN || o.seq.is_some() {
                    return Err(MsgError::Option);
                }
                let mut s = [0; SEQ_LEN];
                s.copy_from_slice(data);
                o.seq = Some(s);
            }
            OPT_PE_DATA => {
                if len > PEDATA_MAXLEN || o.pe_data.is_some() {
                    return Err(MsgError::Option);
                }
                o.pe_data = Some(data);
            }
            OPT_PE_NAME => {
                if len > PENAME_MAXLEN || o.pe_name.is_some() {
                    return Err(MsgError::Option);
                }
                o.pe_name = Some(data);
            }
            _ => {
                if ty & OPT_F_PARAM == 0 {
                    o.unknown_mandatory = true;
                }
            }
        }
        b = &rest[len..];
    }
    Ok(o)
}

/// Checks what stock checks of an entry's flags, protocol and state
/// (`ip_vs_sync_validate_flags` and the state bounds); returns the flags
/// a backup keeps, with `IP_VS_CONN_F_SYNC`.
fn check(flags: u32, protocol: u8, state: u16) -> Result<u32, ConnError> {
    if flags & flags::ONE_PACKET != 0
        || flags & (flags::NO_CPORT | flags::TEMPLATE) == flags::NO_CPORT | flags::TEMPLATE
    {
        return Err(ConnError::Flags);
    }
    if flags & flags::TEMPLATE != 0 {
        if state >= TEMPLATE_STATES {
            return Err(ConnError::State);
        }
    } else {
        let n = num_states(protocol).ok_or(ConnError::Protocol)?;
        if state >= n {
            return Err(ConnError::State);
        }
    }
    Ok(flags & flags::BACKUP_MASK | flags::SYNC)
}

/// One version 1 entry (`b` is exactly its bytes).
fn entry_v1(b: &[u8]) -> Result<Result<SyncConn<'_>, ConnError>, MsgError> {
    let (af, fixed) = match b[0] {
        0 => (AF_INET, V4_CONN),
        t if t & 1 != 0 => (AF_INET6, V6_CONN),
        _ => return Err(MsgError::Version),
    };
    if b.len() < fixed {
        return Err(MsgError::Truncated);
    }
    let o = options(&b[fixed..])?;
    let (caddr, vaddr, daddr) = if af == AF_INET6 {
        (ip6(b, 24), ip6(b, 40), ip6(b, 56))
    } else {
        (ip4(b, 24), ip4(b, 28), ip4(b, 32))
    };
    if o.unknown_mandatory {
        return Ok(Err(ConnError::Option));
    }
    let protocol = b[1];
    let state = be16(b, 8);
    let flags = match check(be32(b, 4), protocol, state) {
        Ok(f) => f,
        Err(e) => return Ok(Err(e)),
    };
    if o.pe_data.is_some() && o.pe_name.is_none() {
        return Ok(Err(ConnError::Engine));
    }
    Ok(Ok(SyncConn {
        af,
        protocol,
        flags,
        state,
        cport: port(b, 10),
        vport: port(b, 12),
        dport: port(b, 14),
        fwmark: be32(b, 16),
        timeout: be32(b, 20),
        caddr,
        vaddr,
        daddr,
        seq: o.seq,
        pe_data: o.pe_data,
        pe_name: o.pe_name,
    }))
}

/// Walks a version 1 message's entries, `f` getting each.
fn walk_v1<'a>(
    b: &'a [u8],
    mut f: impl FnMut(Result<SyncConn<'a>, ConnError>),
) -> Result<(), MsgError> {
    let count = b[4];
    let mut at = V1_HDR;
    for _ in 0..count {
        if at + 4 > b.len() {
            return Err(MsgError::Truncated);
        }
        let vs = be16(b, at + 2);
        if vs >> 12 != 0 {
            return Err(MsgError::Version);
        }
        let size = usize::from(vs & 0x0fff);
        if size < 4 || at + size > b.len() {
            return Err(MsgError::Truncated);
        }
        f(entry_v1(&b[at..at + size])?);
        at += size.next_multiple_of(4);
    }
    Ok(())
}

/// Walks a version 0 message's entries.
fn walk_v0<'a>(
    b: &'a [u8],
    mut f: impl FnMut(Result<SyncConn<'a>, ConnError>),
) -> Result<(), MsgError> {
    let count = b[0];
    let mut at = V0_HDR;
    for _ in 0..count {
        if at + V0_CONN > b.len() {
            return Err(MsgError::Truncated);
        }
        let e = &b[at..];
        let raw_flags = u32::from(be16(e, 20));
        let len = if raw_flags & flags::SEQ_MASK != 0 {
            V0_CONN + SEQ_LEN
        } else {
            V0_CONN
        };
        if at + len > b.len() {
            return Err(MsgError::Truncated);
        }
        let protocol = e[1];
        let state = be16(e, 22);
        let seq = (len > V0_CONN).then(|| {
            let mut s = [0; SEQ_LEN];
            s.copy_from_slice(&e[V0_CONN..V0_CONN + SEQ_LEN]);
            s
        });
        f(check(raw_flags, protocol, state).map(|flags| SyncConn {
            af: AF_INET,
            protocol,
            flags,
            state,
            cport: port(e, 2),
            vport: port(e, 4),
            dport: port(e, 6),
            fwmark: 0,
            timeout: 0,
            caddr: ip4(e, 8),
            vaddr: ip4(e, 12),
            daddr: ip4(e, 16),
            seq,
            pe_data: None,
            pe_name: None,
        }));
        at += len;
    }
    Ok(())
}

/// Reads a datagram a backup received (`ip_vs_process_message`): checks
/// all of it first, so that a malformed one creates nothing (stock
/// applies the entries before the first bad one), then hands `f` each
/// entry that passes stock's checks. `syncid` is the backup's (0: any).
pub(crate) fn parse<'a>(
    b: &'a [u8],
    syncid: u8,
    mut f: impl FnMut(&SyncConn<'a>),
) -> Result<Outcome, MsgError> {
    if b.len() < V0_HDR {
        return Err(MsgError::Short);
    }
    if usize::from(be16(b, 2)) != b.len() {
        return Err(MsgError::Size);
    }
    if syncid != 0 && b[1] != syncid {
        return Ok(Outcome::OtherSyncid);
    }
    let v1 = b.len() >= V1_HDR && b[0] == 0 && b[5] == 1 && b[6] == 0 && b[7] == 0;
    let walk = |f: &mut dyn FnMut(Result<SyncConn<'a>, ConnError>)| {
        if v1 {
            walk_v1(b, f)
        } else {
            walk_v0(b, f)
        }
    };
    walk(&mut |_| {})?;
    let mut p = Parsed::default();
    walk(&mut |c| match c {
        Ok(c) => {
            p.conns += 1;
            f(&c);
        }
        Err(_) => p.skipped += 1,
    })?;
    Ok(Outcome::Done(p))
}

/// The sysctls that decide when a connection is sent.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Knobs {
    /// `sync_threshold`: packets before the first send.
    pub(crate) threshold: i32,
    /// `sync_period` (second value of `sync_threshold`).
    pub(crate) period: i32,
    /// `sync_refresh_period`, jiffies.
    pub(crate) refresh_period: u32,
    /// `sync_retries`.
    pub(crate) retries: i32,
    /// `sync_persist_mode`.
    pub(crate) persist_mode: bool,
    /// Jiffies per second.
    pub(crate) hz: u32,
}

/// What [`needed`] knows of a connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnView {
    /// A persistence template.
    pub(crate) template: bool,
    /// Controlled by a template.
    pub(crate) in_persistence: bool,
    /// IP protocol.
    pub(crate) protocol: u8,
    /// Protocol state now.
    pub(crate) state: u8,
    /// State at the last send.
    pub(crate) old_state: u8,
    /// Timeout, jiffies.
    pub(crate) timeout: u64,
}

/// TCP states worth a send: ESTABLISHED, FIN_WAIT, CLOSE, CLOSE_WAIT,
/// TIME_WAIT.
const TCP_SYNCED: u32 = 1 << 1 | 1 << 4 | 1 << 6 | 1 << 7 | 1 << 5;
const TCP_ESTABLISHED: u8 = 1;
/// SCTP: ESTABLISHED, SHUTDOWN_SENT, _RECEIVED, _ACK_SENT, CLOSED.
const SCTP_SYNCED: u32 = 1 << 8 | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 13;
const SCTP_ESTABLISHED: u8 = 8;

/// Whether the connection goes out now (`ip_vs_sync_conn_needed`), and
/// if so the `sync_endtime` to store (compare-and-swap against `orig`,
/// as stock: the send happens if the swap succeeds or `force`).
/// `pkts` is the connection's packet count (for templates and one-packet
/// connections, what stock passes). Returns `(force, new_endtime)`.
pub(crate) fn needed(
    k: &Knobs,
    c: &ConnView,
    pkts: i32,
    orig: u64,
    now: u64,
) -> Option<(bool, u64)> {
    let mut n = now.wrapping_add(c.timeout) & !3;
    let synced = |mask: u32| c.state < 32 && (1u32 << c.state) & mask != 0;
    let force;
    if c.template {
        force = false;
    } else if k.persist_mode && c.in_persistence {
        return None;
    } else if c.protocol == IPPROTO_TCP || c.protocol == IPPROTO_SCTP {
        let (mask, est) = if c.protocol == IPPROTO_TCP {
            (TCP_SYNCED, TCP_ESTABLISHED)
        } else {
            (SCTP_SYNCED, SCTP_ESTABLISHED)
        };
        if !synced(mask) {
            return None;
        }
        force = c.state != c.old_state;
        if force && c.state != est {
            return Some((true, n));
        }
    } else {
        force = false;
    }
    let refresh = u64::from(k.refresh_period);
    if refresh > 0 {
        let diff = n.wrapping_sub(orig) as i64;
        let min_diff = (c.timeout >> 1).max(10 * u64::from(k.hz));
        if diff.unsigned_abs() < refresh.min(min_diff) {
            let retries = (orig & 3) as i32;
            if retries >= k.retries {
                return None;
            }
            // Not before an eighth of the refresh period has passed.
            let since = orig.wrapping_sub(c.timeout).wrapping_add(refresh >> 3);
            if (now.wrapping_sub(since) as i64) < 0 {
                return None;
            }
            n |= (retries + 1) as u64;
        }
    }
    if k.period > 0 {
        if !c.template && pkts % k.period != k.threshold {
            return None;
        }
    } else if refresh == 0 && pkts != k.threshold {
        return None;
    }
    Some((force, n))
}

/// Whether a full resynchronization sends the connection: what
/// [`needed`] would ever send (templates; TCP and SCTP in a synced state;
/// not under a template with `sync_persist_mode`). One-packet connections
/// are the caller's to skip.
pub(crate) fn resync_wanted(persist_mode: bool, c: &ConnView) -> bool {
    let synced = |mask: u32| c.state < 32 && (1u32 << c.state) & mask != 0;
    if c.template {
        true
    } else if persist_mode && c.in_persistence {
        false
    } else if c.protocol == IPPROTO_TCP {
        synced(TCP_SYNCED)
    } else if c.protocol == IPPROTO_SCTP {
        synced(SCTP_SYNCED)
    } else {
        true
    }
}

/// A backup's request for a full resynchronization (ipvs_rs only), sent
/// to the masters' resync port ([`RESYNC_PORT_OFFSET`] above the sync
/// port): a magic, the backup's sync id (0: any), three zero bytes.
pub(crate) const RESYNC_MAGIC: [u8; 8] = *b"IPVSRSYN";
/// Length of a resync request.
pub(crate) const RESYNC_LEN: usize = 12;
/// The resync port is the sync port plus this (past every sync thread's
/// port, so no stock daemon ever sees a request).
pub(crate) const RESYNC_PORT_OFFSET: u16 = PORTS_MAX as u16;

/// The resync request of a backup with `syncid`.
pub(crate) fn resync_request(syncid: u8) -> [u8; RESYNC_LEN] {
    let mut b = [0u8; RESYNC_LEN];
    b[..8].copy_from_slice(&RESYNC_MAGIC);
    b[8] = syncid;
    b
}

/// Whether `b` is a resync request a master with `syncid` answers.
pub(crate) fn resync_asked(b: &[u8], syncid: u8) -> bool {
    b.len() == RESYNC_LEN
        && b[..8] == RESYNC_MAGIC
        && b[9..] == [0, 0, 0]
        && (b[8] == 0 || b[8] == syncid)
}

/// A backup's acknowledgement while a master sends it a table: a magic,
/// the backup's sync id, three zero bytes and how many resync datagrams
/// it has taken in since its last acknowledgement (big-endian). It goes
/// to the masters' resync port whenever the backup has emptied its
/// socket.
pub(crate) const RESYNC_ACK_MAGIC: [u8; 8] = *b"IPVSRACK";
/// Length of a resync acknowledgement.
pub(crate) const RESYNC_ACK_LEN: usize = 16;
/// Resync messages a master sends beyond what its backups acknowledged:
/// about 80 kB of socket buffer at a 1500-byte MTU, well inside a
/// backup's default receive buffer, so a slow backup drops nothing.
pub(crate) const RESYNC_WINDOW: u32 = 32;

/// The acknowledgement of a backup with `syncid` that took `count`
/// resync datagrams since its last one.
pub(crate) fn resync_ack(syncid: u8, count: u32) -> [u8; RESYNC_ACK_LEN] {
    let mut b = [0u8; RESYNC_ACK_LEN];
    b[..8].copy_from_slice(&RESYNC_ACK_MAGIC);
    b[8] = syncid;
    b[12..].copy_from_slice(&count.to_be_bytes());
    b
}

/// The count of `b` if it is an acknowledgement a master with `syncid`
/// takes.
pub(crate) fn resync_acked(b: &[u8], syncid: u8) -> Option<u32> {
    let ok = b.len() == RESYNC_ACK_LEN
        && b[..8] == RESYNC_ACK_MAGIC
        && b[9..12] == [0, 0, 0]
        && (b[8] == 0 || b[8] == syncid);
    ok.then(|| u32::from_be_bytes([b[12], b[13], b[14], b[15]]))
}

/// A master's flow control while it sends its table: how many resync
/// messages it sent and how many the backups acknowledged.
#[derive(Debug, Default)]
pub(crate) struct ResyncPace {
    sent: u32,
    acked: u32,
    timeouts: u32,
}

/// Waits without an acknowledgement after which a walk goes on unpaced
/// (its backup is likely gone; a lost acknowledgement costs one wait).
pub(crate) const RESYNC_MAX_TIMEOUTS: u32 = 3;

impl ResyncPace {
    /// One more message sent.
    pub(crate) fn sent(&mut self) {
        self.sent = self.sent.wrapping_add(1);
    }

    /// A backup acknowledged `count` more messages; more than are in
    /// flight (another master's datagrams, a late acknowledgement of an
    /// earlier walk) acknowledges what is.
    pub(crate) fn acked(&mut self, count: u32) {
        self.acked = self
            .acked
            .wrapping_add(count.min(self.sent.wrapping_sub(self.acked)));
    }

    /// Nobody answered in time (a backup gone, its acknowledgements
    /// lost): go on as if all was taken; after [`RESYNC_MAX_TIMEOUTS`],
    /// without waiting any more.
    pub(crate) fn give_up(&mut self) {
        self.acked = self.sent;
        self.timeouts += 1;
    }

    /// Whether the master must wait before sending more.
    pub(crate) fn must_wait(&self) -> bool {
        self.timeouts < RESYNC_MAX_TIMEOUTS && self.sent.wrapping_sub(self.acked) > RESYNC_WINDOW
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resync_acks() {
        let a = resync_ack(7, 0x0102_0304);
        assert_eq!(resync_acked(&a, 7), Some(0x0102_0304));
        assert_eq!(resync_acked(&a, 8), None);
        assert_eq!(resync_acked(&resync_ack(0, 5), 8), Some(5));
        assert_eq!(resync_acked(&a[..15], 7), None);
        let mut bad = a;
        bad[10] = 1;
        assert_eq!(resync_acked(&bad, 7), None);
        // A request is no acknowledgement and the reverse.
        assert_eq!(resync_acked(&resync_request(7), 7), None);
        assert!(!resync_asked(&a, 7));
    }

    #[test]
    fn resync_pace_keeps_a_window() {
        let mut p = ResyncPace::default();
        for _ in 0..RESYNC_WINDOW {
            p.sent();
        }
        assert!(!p.must_wait());
        p.sent();
        assert!(p.must_wait());
        p.acked(1);
        assert!(!p.must_wait());
        p.sent();
        assert!(p.must_wait());
        // More than in flight (another master's datagrams counted too).
        p.acked(1000);
        assert!(!p.must_wait());
        for _ in 0..RESYNC_WINDOW {
            p.sent();
        }
        assert!(!p.must_wait());
        p.sent();
        assert!(p.must_wait());
        p.give_up();
        assert!(!p.must_wait());
        // After a few waits in vain, no more waiting.
        for _ in 1..RESYNC_MAX_TIMEOUTS {
            for _ in 0..=RESYNC_WINDOW {
                p.sent();
            }
            assert!(p.must_wait());
            p.give_up();
        }
        for _ in 0..=RESYNC_WINDOW * 4 {
            p.sent();
        }
        assert!(!p.must_wait());
        // Across the wrap of the counters.
        let mut p = ResyncPace {
            sent: u32::MAX - 3,
            acked: u32::MAX - 3,
            timeouts: 0,
        };
        for _ in 0..=RESYNC_WINDOW {
            p.sent();
        }
        assert!(p.must_wait());
        p.acked(6);
        assert!(!p.must_wait());
    }

    #[test]
    fn resync_requests() {
        let r = resync_request(7);
        assert!(resync_asked(&r, 7));
        assert!(!resync_asked(&r, 8));
        assert!(resync_asked(&resync_request(0), 8));
        assert!(!resync_asked(&r[..11], 7));
        let mut bad = r;
        bad[0] = b'X';
        assert!(!resync_asked(&bad, 7));
        bad = r;
        bad[11] = 1;
        assert!(!resync_asked(&bad, 7));
        // A stock backup would never take one for a message: its size
        // field (bytes 2 and 3) is not the datagram's length.
        assert_ne!(usize::from(u16::from_be_bytes([r[2], r[3]])), RESYNC_LEN);
    }

    #[test]
    fn resync_sends_what_stock_would_ever_send() {
        let v = |protocol, state, template, in_persistence| ConnView {
            template,
            in_persistence,
            protocol,
            state,
            old_state: state,
            timeout: 0,
        };
        assert!(resync_wanted(false, &v(IPPROTO_TCP, 1, false, false)));
        assert!(!resync_wanted(false, &v(IPPROTO_TCP, 3, false, false)));
        assert!(resync_wanted(false, &v(IPPROTO_UDP, 0, false, false)));
        assert!(resync_wanted(false, &v(IPPROTO_SCTP, 8, false, false)));
        assert!(!resync_wanted(false, &v(IPPROTO_SCTP, 1, false, false)));
        assert!(resync_wanted(true, &v(IPPROTO_UDP, 0, true, false)));
        assert!(!resync_wanted(true, &v(IPPROTO_TCP, 1, false, true)));
        assert!(resync_wanted(false, &v(IPPROTO_TCP, 1, false, true)));
    }

    fn conn4() -> SyncConn<'static> {
        SyncConn {
            af: AF_INET,
            protocol: IPPROTO_TCP,
            flags: 0x0000,
            state: 1,
            cport: [0x9c, 0x40],
            vport: [0, 80],
            dport: [0x1f, 0x90],
            fwmark: 0,
            timeout: 900,
            caddr: ip4(&[10, 0, 0, 2], 0),
            vaddr: ip4(&[10, 0, 0, 100], 0),
            daddr: ip4(&[10, 1, 0, 3], 0),
            seq: None,
            pe_data: None,
            pe_name: None,
        }
    }

    fn collect(b: &[u8], syncid: u8) -> Result<(Outcome, Vec<SyncConn<'_>>), MsgError> {
        let mut v = Vec::new();
        let o = parse(b, syncid, |c| v.push(*c))?;
        Ok((o, v))
    }

    /// A version 1 message with one IPv4 connection, byte for byte as
    /// stock's `ip_vs_sync_conn` lays it out.
    #[test]
    fn v1_layout_is_stocks() {
        let mut w = Writer::new(vec![0u8; 1472], Version::V1, 7).unwrap();
        let mut c = conn4();
        c.flags = flags::HASHED | flags::NOOUTPUT | 3;
        assert!(w.push(&c));
        let want: Vec<u8> = [
            &[0, 7, 0, 44, 1, 1, 0, 0][..],
            &[
                0, 6, 0, 36, 0, 0, 0, 0x83, 0, 1, 0x9c, 0x40, 0, 80, 0x1f, 0x90,
            ],
            &[0, 0, 0, 0, 0, 0, 3, 0x84],
            &[10, 0, 0, 2, 10, 0, 0, 100, 10, 1, 0, 3],
        ]
        .concat();
        assert_eq!(w.bytes(), &want[..]);
    }

    #[test]
    fn v0_layout_is_stocks() {
        let mut w = Writer::new(vec![0u8; 1472], Version::V0, 3).unwrap();
        assert!(w.push(&conn4()));
        let want: Vec<u8> = [
            &[1, 3, 0, 28][..],
            &[0, 6, 0x9c, 0x40, 0, 80, 0x1f, 0x90],
            &[10, 0, 0, 2, 10, 0, 0, 100, 10, 1, 0, 3, 0, 0, 0, 1],
        ]
        .concat();
        assert_eq!(w.bytes(), &want[..]);
        // Version 0 cannot carry IPv6.
        let mut c6 = conn4();
        c6.af = AF_INET6;
        assert!(!w.push(&c6));
    }

    #[test]
    fn round_trips_every_kind() {
        let call_id = b"a84b4c76e66710@pc33";
        let mut six = conn4();
        six.af = AF_INET6;
        six.caddr = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        six.vaddr = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100];
        six.daddr = [0x20, 1, 0xd, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3];
        six.seq = Some([5; SEQ_LEN]);
        six.flags = flags::SEQ_MASK;
        let mut tpl = conn4();
        tpl.protocol = IPPROTO_UDP;
        tpl.flags = flags::TEMPLATE | 3;
        tpl.state = 1;
        tpl.cport = [0, 0];
        tpl.pe_data = Some(call_id);
        tpl.pe_name = Some(b"sip");
        let mut fwm = conn4();
        fwm.fwmark = 42;
        fwm.flags = flags::INACTIVE | flags::NOOUTPUT | 2;
        fwm.state = 2;
        let all = [conn4(), six, tpl, fwm];
        let mut w = Writer::new(vec![0u8; 1472], Version::V1, 0).unwrap();
        for c in &all {
            assert!(w.push(c));
        }
        assert_eq!(w.count(), 4);
        let (o, got) = collect(w.bytes(), 0).unwrap();
        assert_eq!(
            o,
            Outcome::Done(Parsed {
                conns: 4,
                skipped: 0
            })
        );
        for (g, c) in got.iter().zip(&all) {
            let want = SyncConn {
                flags: c.flags & flags::BACKUP_MASK | flags::SYNC,
                ..*c
            };
            assert_eq!(*g, want);
        }
    }

    #[test]
    fn fills_to_the_limit_and_no_further() {
        let mut w = Writer::new(vec![0u8; 1472], Version::V1, 1).unwrap();
        let mut n = 0;
        while w.push(&conn4()) {
            n += 1;
        }
        // (1472 - 8) / 36 entries of 36 bytes, no padding needed.
        assert_eq!(n, 40);
        assert!(w.bytes().len() <= 1472);
        // A message never counts past 255, whatever the size.
        let mut w = Writer::new(vec![0u8; 65000], Version::V1, 1).unwrap();
        while w.push(&conn4()) {}
        assert_eq!(w.count(), 255);
        let (o, got) = collect(w.bytes(), 1).unwrap();
        assert!(matches!(o, Outcome::Done(p) if p.conns == 255));
        assert_eq!(got.len(), 255);
    }

    #[test]
    fn pads_entries_to_four_bytes() {
        let mut w = Writer::new(vec![0u8; 1472], Version::V1, 0).unwrap();
        let mut t = conn4();
        t.flags = flags::TEMPLATE;
        t.state = 0;
        t.pe_data = Some(b"abc");
        t.pe_name = Some(b"sip");
        assert!(w.push(&t));
        assert_eq!(w.bytes().len(), 8 + 36 + 5 + 5);
        assert!(w.push(&conn4()));
        // Two bytes of padding before the second entry.
        assert_eq!(w.bytes().len(), 8 + 46 + 2 + 36);
        assert_eq!(collect(w.bytes(), 0).unwrap().1.len(), 2);
    }

    #[test]
    fn drops_malformed_datagrams_whole() {
        let mut w = Writer::new(vec![0u8; 1472], Version::V1, 0).unwrap();
        assert!(w.push(&conn4()));
        assert!(w.push(&conn4()));
        let good = w.bytes().to_vec();
        assert_eq!(collect(&good[..3], 0).unwrap_err(), MsgError::Short);
        assert_eq!(collect(&good[..50], 0).unwrap_err(), MsgError::Size);
        // The size field claims the cut length, the count does not.
        let mut cut = good[..50].to_vec();
        cut[2..4].copy_from_slice(&50u16.to_be_bytes());
        assert_eq!(collect(&cut, 0).unwrap_err(), MsgError::Truncated);
        // The second entry's length runs past the end: nothing handed
        // over, not even the first, good one.
        let mut long = good.clone();
        long[8 + 36 + 2..8 + 36 + 4].copy_from_slice(&200u16.to_be_bytes());
        assert_eq!(collect(&long, 0).unwrap_err(), MsgError::Truncated);
        // An entry version other than 0.
        let mut ver = good.clone();
        ver[8 + 2] |= 0x10;
        assert_eq!(collect(&ver, 0).unwrap_err(), MsgError::Version);
        // An unknown address type.
        let mut ty = good.clone();
        ty[8] = 2;
        assert_eq!(collect(&ty, 0).unwrap_err(), MsgError::Version);
        // A zero-length option.
        let mut t = conn4();
        t.seq = Some([0; SEQ_LEN]);
        let mut w = Writer::new(vec![0u8; 1472], Version::V1, 0).unwrap();
        assert!(w.push(&t));
        let mut opt = w.bytes().to_vec();
        opt[8 + 36 + 1] = 0;
        assert_eq!(collect(&opt, 0).unwrap_err(), MsgError::Truncated);
        let mut opt = w.bytes().to_vec();
        opt[8 + 36 + 1] = 20;
        assert_eq!(collect(&opt, 0).unwrap_err(), MsgError::Option);
        // Entry length below its fixed part.
        let mut small = good.clone();
        small[8 + 2..8 + 4].copy_from_slice(&20u16.to_be_bytes());
        assert_eq!(collect(&small, 0).unwrap_err(), MsgError::Truncated);
        // A huge count with nothing behind it.
        let mut count = good.clone();
        count[4] = 255;
        assert_eq!(collect(&count, 0).unwrap_err(), MsgError::Truncated);
    }

    #[test]
    fn skips_entries_stock_skips() {
        let mut bad = [conn4(); 6];
        bad[0].flags = flags::ONE_PACKET;
        bad[1].flags = flags::TEMPLATE | flags::NO_CPORT;
        bad[2].protocol = 47;
        bad[3].state = 11;
        bad[4].protocol = IPPROTO_UDP;
        bad[4].state = 1;
        bad[5].flags = flags::TEMPLATE;
        bad[5].state = 2;
        let mut w = Writer::new(vec![0u8; 1472], Version::V1, 0).unwrap();
        for c in &bad {
            assert!(w.push(c));
        }
        assert!(w.push(&conn4()));
        let (o, got) = collect(w.bytes(), 0).unwrap();
        assert_eq!(
            o,
            Outcome::Done(Parsed {
                conns: 1,
                skipped: 6
            })
        );
        assert_eq!(got[0].caddr, conn4().caddr);
        // PE data without a name.
        let mut t = conn4();
        t.flags = flags::TEMPLATE;
        t.state = 0;
        t.pe_data = Some(b"x");
        let mut w = Writer::new(vec![0u8; 1472], Version::V1, 0).unwrap();
        assert!(w.push(&t));
        let (o, _) = collect(w.bytes(), 0).unwrap();
        assert_eq!(
            o,
            Outcome::Done(Parsed {
                conns: 0,
                skipped: 1
            })
        );
    }

    #[test]
    fn syncid_filters_only_when_set() {
        let mut w = Writer::new(vec![0u8; 100], Version::V1, 5).unwrap();
        assert!(w.push(&conn4()));
        assert_eq!(collect(w.bytes(), 6).unwrap().0, Outcome::OtherSyncid);
        assert_eq!(collect(w.bytes(), 5).unwrap().1.len(), 1);
        assert_eq!(collect(w.bytes(), 0).unwrap().1.len(), 1);
    }

    #[test]
    fn v0_round_trip_with_sequence_data() {
        let mut c = conn4();
        c.flags = flags::SEQ_MASK | 0x80;
        c.seq = Some([9; SEQ_LEN]);
        let mut w = Writer::new(vec![0u8; 1472], Version::V0, 0).unwrap();
        assert!(w.push(&c));
        assert!(w.push(&conn4()));
        assert_eq!(w.bytes().len(), 4 + 48 + 24);
        let (_, got) = collect(w.bytes(), 0).unwrap();
        assert_eq!(got[0].seq, Some([9; SEQ_LEN]));
        assert_eq!(got[0].timeout, 0);
        assert_eq!(got[1].seq, None);
        // Truncated sequence data.
        let b = w.bytes();
        let mut cut = b[..4 + 40].to_vec();
        cut[2..4].copy_from_slice(&44u16.to_be_bytes());
        assert_eq!(collect(&cut, 0).unwrap_err(), MsgError::Truncated);
    }

    /// A tiny xorshift: the property tests need no crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// Random and mutated datagrams never panic, and whatever parses is
    /// within bounds: every entry handed over passed stock's checks.
    #[test]
    fn survives_random_and_mutated_datagrams() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let mut w = Writer::new(vec![0u8; 1472], Version::V1, 0).unwrap();
        let mut t = conn4();
        t.pe_data = Some(b"call");
        t.pe_name = Some(b"sip");
        t.seq = Some([1; SEQ_LEN]);
        t.flags = flags::TEMPLATE | flags::SEQ_MASK;
        t.state = 1;
        while w.push(&t) && w.push(&conn4()) {}
        let seed = w.bytes().to_vec();
        for round in 0..200_000 {
            let mut b = if round % 2 == 0 {
                seed.clone()
            } else {
                let len = (rng.next() % 200) as usize;
                (0..len).map(|_| rng.next() as u8).collect()
            };
            for _ in 0..(rng.next() % 4) {
                if b.is_empty() {
                    break;
                }
                let i = (rng.next() as usize) % b.len();
                b[i] = rng.next() as u8;
            }
            if rng.next().is_multiple_of(3) && b.len() > 4 {
                let cut = (rng.next() as usize) % b.len();
                b.truncate(cut.max(4));
                let n = b.len() as u16;
                b[2..4].copy_from_slice(&n.to_be_bytes());
            }
            let _ = parse(&b, 0, |c| {
                assert!(c.af == AF_INET || c.af == AF_INET6);
                assert_eq!(c.flags & !(flags::BACKUP_MASK | flags::SYNC), 0);
                assert_eq!(c.flags & flags::ONE_PACKET, 0);
                if c.flags & flags::TEMPLATE != 0 {
                    assert!(c.state < TEMPLATE_STATES);
                } else {
                    assert!(c.state < num_states(c.protocol).unwrap());
                }
                assert!(c.pe_data.is_none_or(|d| d.len() <= PEDATA_MAXLEN));
                assert!(c.pe_name.is_none_or(|n| n.len() <= PENAME_MAXLEN));
                assert!(c.pe_data.is_none() || c.pe_name.is_some());
            });
        }
    }

    const K: Knobs = Knobs {
        threshold: 3,
        period: 50,
        refresh_period: 0,
        retries: 0,
        persist_mode: false,
        hz: 100,
    };

    fn tcp(state: u8, old_state: u8) -> ConnView {
        ConnView {
            template: false,
            in_persistence: false,
            protocol: IPPROTO_TCP,
            state,
            old_state,
            timeout: 900 * 100,
        }
    }

    #[test]
    fn sends_on_threshold_and_period() {
        let es = tcp(1, 1);
        let sent: Vec<i32> = (1..=200)
            .filter(|&p| needed(&K, &es, p, 0, 1000).is_some())
            .collect();
        assert_eq!(sent, vec![3, 53, 103, 153]);
        // Not in SYN_RECV.
        assert!(needed(&K, &tcp(3, 3), 3, 0, 1000).is_none());
        // A state change to FIN_WAIT goes at once, forced.
        assert_eq!(needed(&K, &tcp(4, 1), 7, 0, 1000).map(|r| r.0), Some(true));
        // To ESTABLISHED: forced, but still by the packet count.
        assert!(needed(&K, &tcp(1, 3), 7, 0, 1000).is_none());
        assert_eq!(needed(&K, &tcp(1, 3), 3, 0, 1000).map(|r| r.0), Some(true));
    }

    #[test]
    fn period_zero_sends_once_and_on_changes() {
        let k = Knobs { period: 0, ..K };
        let sent: Vec<i32> = (1..=100)
            .filter(|&p| needed(&k, &tcp(1, 1), p, 0, 1000).is_some())
            .collect();
        assert_eq!(sent, vec![3]);
    }

    #[test]
    fn refresh_period_limits_the_rate_with_retries() {
        let k = Knobs {
            period: 0,
            refresh_period: 60 * 100,
            retries: 2,
            ..K
        };
        let c = tcp(1, 1);
        // First send: endtime 0 is far from now + timeout.
        let (_, end) = needed(&k, &c, 1, 0, 10_000).unwrap();
        assert_eq!(end, (10_000 + 90_000) & !3);
        // Within an eighth of the refresh period: nothing.
        assert!(needed(&k, &c, 2, end, 10_100).is_none());
        // After it: a retry, counted in the low bits.
        let (_, end2) = needed(&k, &c, 3, end, 10_800).unwrap();
        assert_eq!(end2 & 3, 1);
        let (_, end3) = needed(&k, &c, 4, end2, 11_600).unwrap();
        assert_eq!(end3 & 3, 2);
        // Retries used up.
        assert!(needed(&k, &c, 5, end3, 12_400).is_none());
        // Once the refresh period has passed: sent again.
        assert!(needed(&k, &c, 6, end3, 17_700).is_some());
    }

    #[test]
    fn persist_mode_and_templates() {
        let k = Knobs {
            persist_mode: true,
            ..K
        };
        let mut c = tcp(1, 1);
        c.in_persistence = true;
        assert!(needed(&k, &c, 3, 0, 1000).is_none());
        assert!(needed(&K, &c, 3, 0, 1000).is_some());
        // Templates ignore the period, never forced.
        let t = ConnView {
            template: true,
            ..tcp(0, 0)
        };
        assert_eq!(needed(&K, &t, 17, 0, 1000).map(|r| r.0), Some(false));
        // UDP has one state: only the packet count decides.
        let u = ConnView {
            protocol: IPPROTO_UDP,
            ..tcp(0, 0)
        };
        assert!(needed(&K, &u, 3, 0, 1000).is_some());
        assert!(needed(&K, &u, 4, 0, 1000).is_none());
    }
}
