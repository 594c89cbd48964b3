// SPDX-License-Identifier: GPL-2.0

//! The IPVS configuration of a network namespace: the table of virtual
//! services and their real servers, as the control plane adds, edits,
//! deletes and lists them, with stock IPVS's validation and error numbers
//! (`ip_vs_genl_set_cmd()` and friends in `ip_vs_ctl.c`).
//!
//! Pure code: it sees netlink attributes through [`crate::nlattr`] and
//! stores through [`crate::list::List`], so the host tests run it as is.

use crate::hash::SipKey;
use crate::list::{List, NoMem};
use crate::nlattr::{self, Attr, Nested, Rule};
use crate::sched::{DestLoad, Env, Kind, Scheduler, Setup};
use crate::service::{Addr, Dest, DestKey, DestParams, Name, Service, SvcKey, AF_INET, AF_INET6};
use crate::svc_index::{Services, SvcNode, SvcRef};
use crate::uapi::{cmd, conn_flags, dest_attr, svc_attr, svc_flags, tunnel};
use core::ffi::CStr;
use core::sync::atomic::Ordering;

const ENOENT: i32 = 2;
const ESRCH: i32 = 3;
const ENOMEM: i32 = 12;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;
const ERANGE: i32 = 34;
const EAFNOSUPPORT: i32 = 97;

/// A refused request: a positive errno and the extack text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Error {
    /// errno, positive.
    pub(crate) errno: i32,
    /// Why, for the extended ack.
    pub(crate) msg: &'static CStr,
}

const fn err(errno: i32, msg: &'static CStr) -> Error {
    Error { errno, msg }
}

impl From<NoMem> for Error {
    fn from(_: NoMem) -> Self {
        err(ENOMEM, c"ipvs: out of memory")
    }
}

/// The settable part of a service (`full_entry` in stock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SvcParams {
    sched: Name,
    pe: Option<Name>,
    flags: u32,
    mask: u32,
    timeout: u32,
    netmask: u32,
}

/// How long an unused deleted real server stays in the trash, seconds
/// (stock `IP_VS_DEST_TRASH_PERIOD`).
const TRASH_PERIOD: u64 = 120;

/// A deleted real server, kept as stock's `dest_trash` does: added back to
/// the same service, it resumes its counters and statistics.
struct Trashed {
    /// The service it belonged to.
    svc: SvcKey,
    dest: Dest,
    /// When it was first seen unused, seconds.
    idle_since: Option<u64>,
}

/// Connection timeouts of `IPVS_CMD_SET_CONFIG`, seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// Established TCP.
    pub(crate) tcp: u32,
    /// TCP after FIN.
    pub(crate) tcp_fin: u32,
    /// UDP.
    pub(crate) udp: u32,
}

impl Timeouts {
    /// These timeouts with those of `IPVS_CMD_SET_CONFIG` (`[tcp,
    /// tcp_fin, udp]`, seconds) applied: each given and non-zero replaces
    /// its own. Each given must fit in jiffies as an `int` at `hz`
    /// (`ip_vs_set_timeout`: at most `INT_MAX / HZ`), else `EINVAL` and
    /// nothing changes.
    pub(crate) fn set(&self, given: [Option<u32>; 3], hz: u32) -> Result<Self, Error> {
        let max = i32::MAX as u32 / hz.max(1);
        if given.iter().flatten().any(|&v| v > max) {
            return Err(err(EINVAL, c"ipvs: timeout out of range"));
        }
        let mut t = *self;
        for (slot, v) in [&mut t.tcp, &mut t.tcp_fin, &mut t.udp]
            .into_iter()
            .zip(given)
        {
            if let Some(v) = v.filter(|&v| v != 0) {
                *slot = v;
            }
        }
        Ok(t)
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        // Stock tcp_timeouts[ESTABLISHED], [FIN_WAIT], udp_timeouts[NORMAL].
        Self {
            tcp: 900,
            tcp_fin: 120,
            udp: crate::state::UDP_TIMEOUT,
        }
    }
}

/// All services of a namespace.
pub(crate) struct Table {
    /// The services and their index.
    svcs: Services,
    /// Deleted real servers (see [`Trashed`]).
    trash: List<Trashed>,
    /// Connection timeouts.
    pub(crate) timeouts: Timeouts,
    /// Services per address family (IPv4, IPv6): a family's hooks are
    /// attached while it has any (stock: `num_services`, `num_services6`).
    per_family: [usize; 2],
    /// Secret that seeds the hash keys of Maglev schedulers and of the
    /// index (the kernel glue sets a random one).
    seed: u64,
    /// `svc_lfactor`, as last set.
    svc_lfactor: i32,
    /// A sync daemon runs (see [`Table::set_syncing`]).
    syncing: bool,
    /// Schedulers keyed so far, so that each gets its own keys.
    keyed: u64,
    /// A real server was deleted since [`Table::take_retired`] last
    /// looked.
    retired: bool,
    /// Services were added or deleted since the packet path's view was
    /// last published (see [`Table::view`]).
    view_stale: bool,
    /// Services with the SIP persistence engine.
    sip: usize,
}

fn u16_of(a: &Attr<'_>, msg: &'static CStr) -> Result<u16, Error> {
    a.u16().ok_or(err(EINVAL, msg))
}

fn u32_of(a: &Attr<'_>, msg: &'static CStr) -> Result<u32, Error> {
    a.u32().ok_or(err(EINVAL, msg))
}

fn port_of(a: &Attr<'_>, msg: &'static CStr) -> Result<[u8; 2], Error> {
    a.bytes()
        .get(..2)
        .and_then(|b| b.try_into().ok())
        .ok_or(err(EINVAL, msg))
}

fn addr_of(a: &Attr<'_>, af: u16, msg: &'static CStr) -> Result<Addr, Error> {
    let b = a.bytes();
    if b.len() > 16 {
        return Err(err(EINVAL, msg));
    }
    let mut addr = [0; 16];
    addr[..b.len()].copy_from_slice(b);
    if af != AF_INET6 {
        addr[4..].fill(0);
    }
    Ok(addr)
}

/// A name up to its NUL, at most `max` bytes; what it names is looked up
/// later (stock answers a name of no scheduler with `ENOENT`).
fn name_of(a: &Attr<'_>, max: usize, msg: &'static CStr) -> Result<Name, Error> {
    let b = a.bytes();
    b.iter()
        .position(|&c| c == 0)
        .filter(|&end| end <= max)
        .and_then(|end| Name::new(&b[..end]))
        .ok_or(err(EINVAL, msg))
}

/// Collects a nested attribute run into an array indexed by type.
fn collect<'a, const N: usize>(
    nest: Attr<'a>,
    policy: &[Rule; N],
    msg: &'static CStr,
) -> Result<[Option<Attr<'a>>; N], Error> {
    // Stock parses the whole nest first and answers any failure with
    // `EINVAL`, before it looks at a single value.
    if !nlattr::valid(nest.bytes(), policy) {
        return Err(err(EINVAL, msg));
    }
    let mut out = [None; N];
    for a in Nested::new(nest.bytes()) {
        let Ok((ty, a)) = a else {
            break;
        };
        if let Some(slot) = out.get_mut(usize::from(ty)) {
            *slot = Some(a);
        }
    }
    Ok(out)
}

/// Stock's `ip_vs_svc_policy`.
const SVC_POLICY: [Rule; svc_attr::MAX as usize + 1] = [
    Rule::Any,
    Rule::Int(2),        // AF
    Rule::Int(2),        // PROTOCOL
    Rule::AtMost(16),    // ADDR
    Rule::Int(2),        // PORT
    Rule::Int(4),        // FWMARK
    Rule::NulString(15), // SCHED_NAME
    Rule::AtMost(8),     // FLAGS
    Rule::Int(4),        // TIMEOUT
    Rule::Int(4),        // NETMASK
    Rule::Nested,        // STATS
    Rule::NulString(16), // PE_NAME
    Rule::Any,           // STATS64
];

/// Stock's `ip_vs_dest_policy`.
const DEST_POLICY: [Rule; dest_attr::MAX as usize + 1] = [
    Rule::Any,
    Rule::AtMost(16), // ADDR
    Rule::Int(2),     // PORT
    Rule::Int(4),     // FWD_METHOD
    Rule::Int(4),     // WEIGHT
    Rule::Int(4),     // U_THRESH
    Rule::Int(4),     // L_THRESH
    Rule::Int(4),     // ACTIVE_CONNS
    Rule::Int(4),     // INACT_CONNS
    Rule::Int(4),     // PERSIST_CONNS
    Rule::Nested,     // STATS
    Rule::Int(2),     // ADDR_FAMILY
    Rule::Any,        // STATS64
    Rule::Int(1),     // TUN_TYPE
    Rule::Int(2),     // TUN_PORT
    Rule::Int(2),     // TUN_FLAGS
];

fn af_valid(af: u16) -> bool {
    af == AF_INET || af == AF_INET6
}

/// Whether a request adds an IPv6 service or real server, which needs
/// IPv6 reassembly before the hooks (stock: `nf_defrag_ipv6_enable` in
/// `ip_vs_add_service` and `ip_vs_new_dest`). Malformed requests say no
/// here and are refused by [`Table::apply`].
pub(crate) fn adds_ipv6(c: u8, svc: Option<Attr<'_>>, dest: Option<Attr<'_>>) -> bool {
    let af_is_ipv6 = |nest: Option<Attr<'_>>, ty: u16| {
        nest.is_some_and(|n| {
            n.nested()
                .any(|a| matches!(a, Ok((t, v)) if t == ty && v.u16() == Some(AF_INET6)))
        })
    };
    match c {
        cmd::NEW_SERVICE => af_is_ipv6(svc, svc_attr::AF),
        cmd::NEW_DEST => af_is_ipv6(svc, svc_attr::AF) || af_is_ipv6(dest, dest_attr::ADDR_FAMILY),
        _ => false,
    }
}

/// The family of a port-21 service that a request gives a NAT real
/// server: its FTP connections need conntrack in the namespace (stock's
/// `ip_vs_register_conntrack` in `__ip_vs_update_dest`). Malformed
/// requests say no here and are refused by [`Table::apply`].
pub(crate) fn ftp_needs_conntrack(
    c: u8,
    svc: Option<Attr<'_>>,
    dest: Option<Attr<'_>>,
) -> Option<u16> {
    if !matches!(c, cmd::NEW_DEST | cmd::SET_DEST) {
        return None;
    }
    fn find(nest: Option<Attr<'_>>, ty: u16) -> Option<Attr<'_>> {
        nest?.nested().find_map(|a| match a {
            Ok((t, v)) if t == ty => Some(v),
            _ => None,
        })
    }
    let port = find(svc, svc_attr::PORT)?.u16()?;
    let fwd = find(dest, dest_attr::FWD_METHOD)?.u32()?;
    if u16::from_be(port) != crate::ftp::CONTROL_PORT
        || fwd & conn_flags::FWD_MASK != conn_flags::MASQ
    {
        return None;
    }
    find(svc, svc_attr::AF)?.u16().filter(|&af| af_valid(af))
}

/// Parses `IPVS_CMD_ATTR_SERVICE`; the parameters only when `full`.
fn parse_service(nest: Option<Attr<'_>>, full: bool) -> Result<(SvcKey, Option<SvcParams>), Error> {
    const BAD: &CStr = c"ipvs: malformed service attributes";
    let nest = nest.ok_or(err(EINVAL, c"ipvs: service attribute missing"))?;
    let a = collect(nest, &SVC_POLICY, BAD)?;
    let get = |t: u16| a[usize::from(t)];
    let af = get(svc_attr::AF).ok_or(err(EINVAL, c"ipvs: service address family missing"))?;
    let af = u16_of(&af, BAD)?;
    let key = match (
        get(svc_attr::FWMARK),
        get(svc_attr::PROTOCOL),
        get(svc_attr::ADDR),
        get(svc_attr::PORT),
    ) {
        (Some(m), ..) => SvcKey::Fwmark {
            af,
            mark: u32_of(&m, BAD)?,
        },
        (None, Some(p), Some(addr), Some(port)) => SvcKey::Tuple {
            af,
            protocol: u16_of(&p, BAD)?,
            addr: addr_of(&addr, af, c"ipvs: service address longer than 16 bytes")?,
            port: port_of(&port, BAD)?,
        },
        _ => {
            return Err(err(
                EINVAL,
                c"ipvs: service needs a fwmark or protocol, address and port",
            ))
        }
    };
    if !af_valid(af) {
        return Err(err(
            EAFNOSUPPORT,
            c"ipvs: service address family not supported",
        ));
    }
    if !full {
        return Ok((key, None));
    }
    let (Some(sched), Some(flags), Some(timeout), Some(netmask)) = (
        get(svc_attr::SCHED_NAME),
        get(svc_attr::FLAGS),
        get(svc_attr::TIMEOUT),
        get(svc_attr::NETMASK),
    ) else {
        return Err(err(
            EINVAL,
            c"ipvs: service needs scheduler, flags, timeout and netmask",
        ));
    };
    let fl = flags.bytes();
    if fl.len() > 8 {
        return Err(err(EINVAL, BAD));
    }
    let mut fb = [0u8; 8];
    fb[..fl.len()].copy_from_slice(fl);
    let pe = match get(svc_attr::PE_NAME) {
        Some(p) => Some(name_of(&p, 16, c"ipvs: persistence engine name too long")?)
            .filter(|n| !n.is_empty()),
        None => None,
    };
    Ok((
        key,
        Some(SvcParams {
            sched: name_of(&sched, 15, c"ipvs: scheduler name too long")?,
            pe,
            flags: u32::from_ne_bytes([fb[0], fb[1], fb[2], fb[3]]),
            mask: u32::from_ne_bytes([fb[4], fb[5], fb[6], fb[7]]),
            timeout: u32_of(&timeout, BAD)?,
            netmask: u32_of(&netmask, BAD)?,
        }),
    ))
}

fn parse_dest(nest: Option<Attr<'_>>, full: bool) -> Result<(DestKey, Option<DestParams>), Error> {
    const BAD: &CStr = c"ipvs: malformed real server attributes";
    let nest = nest.ok_or(err(EINVAL, c"ipvs: real server attribute missing"))?;
    let a = collect(nest, &DEST_POLICY, BAD)?;
    let get = |t: u16| a[usize::from(t)];
    let (Some(addr), Some(port)) = (get(dest_attr::ADDR), get(dest_attr::PORT)) else {
        return Err(err(EINVAL, c"ipvs: real server needs address and port"));
    };
    let af = match get(dest_attr::ADDR_FAMILY) {
        Some(f) => u16_of(&f, BAD)?,
        None => 0,
    };
    let key = DestKey {
        af,
        addr: addr_of(
            &addr,
            if af == 0 { AF_INET6 } else { af },
            c"ipvs: real server address longer than 16 bytes",
        )?,
        port: port_of(&port, BAD)?,
    };
    if !full {
        return Ok((key, None));
    }
    let (Some(fwd), Some(weight), Some(u), Some(l)) = (
        get(dest_attr::FWD_METHOD),
        get(dest_attr::WEIGHT),
        get(dest_attr::U_THRESH),
        get(dest_attr::L_THRESH),
    ) else {
        return Err(err(
            EINVAL,
            c"ipvs: real server needs forwarding method, weight and thresholds",
        ));
    };
    Ok((
        key,
        Some(DestParams {
            fwd: u32_of(&fwd, BAD)? & conn_flags::FWD_MASK,
            weight: u32_of(&weight, BAD)? as i32,
            u_threshold: u32_of(&u, BAD)?,
            l_threshold: u32_of(&l, BAD)?,
            tun_type: get(dest_attr::TUN_TYPE).and_then(|a| a.u8()).unwrap_or(0),
            tun_port: match get(dest_attr::TUN_PORT) {
                Some(p) => port_of(&p, BAD)?,
                None => [0; 2],
            },
            tun_flags: match get(dest_attr::TUN_FLAGS) {
                Some(f) => u16_of(&f, BAD)?,
                None => 0,
            },
        }),
    ))
}

fn check_dest_params(p: &DestParams) -> Result<(), Error> {
    if p.weight < 0 {
        return Err(err(ERANGE, c"ipvs: real server weight less than zero"));
    }
    if p.l_threshold > p.u_threshold {
        return Err(err(
            ERANGE,
            c"ipvs: lower threshold is higher than upper threshold",
        ));
    }
    if p.u_threshold > i32::MAX as u32 {
        return Err(err(EINVAL, c"ipvs: upper threshold too large"));
    }
    if p.tun_type == tunnel::GUE && p.tun_port == [0; 2] {
        return Err(err(EINVAL, c"ipvs: GUE tunnel port is zero"));
    }
    Ok(())
}

fn scheduler_of(
    p: &SvcParams,
    af: u16,
    loads: &[DestLoad],
    keys: [u64; 4],
) -> Result<Option<Scheduler>, Error> {
    match p.sched.as_str() {
        "none" => Ok(None),
        name => {
            let kind = Kind::from_name(name).ok_or(err(ENOENT, c"ipvs: scheduler not found"))?;
            Ok(Some(Scheduler::new(kind, loads, &Setup { af, keys })?))
        }
    }
}

fn check_svc_params(af: u16, p: &SvcParams) -> Result<(), Error> {
    // In stock's order: scheduler, persistence engine, netmask.
    let sched = p.sched.as_str();
    if sched != "none" && Kind::from_name(sched).is_none() {
        return Err(err(ENOENT, c"ipvs: scheduler not found"));
    }
    if p.pe.is_some_and(|pe| pe.as_str() != "sip") {
        return Err(err(ENOENT, c"ipvs: persistence engine not found"));
    }
    if af == AF_INET6 && !(1..=128).contains(&p.netmask) {
        return Err(err(
            EINVAL,
            c"ipvs: IPv6 persistence netmask must be 1..128",
        ));
    }
    Ok(())
}

impl Table {
    /// No services, default timeouts.
    pub(crate) fn new() -> Self {
        Self {
            svcs: Services::new(),
            trash: List::new(),
            timeouts: Timeouts::default(),
            per_family: [0; 2],
            seed: 0,
            svc_lfactor: -3,
            syncing: false,
            keyed: 0,
            retired: false,
            view_stale: false,
            sip: 0,
        }
    }

    /// Whether a real server was deleted since the last call (then its
    /// connections may go at once: `expire_nodest_conn`).
    pub(crate) fn take_retired(&mut self) -> bool {
        core::mem::take(&mut self.retired)
    }

    /// Sets the secret the hashing schedulers' keys and the index's key
    /// derive from (before any service is added).
    pub(crate) fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
        let [a, b, ..] = self.next_keys();
        self.svcs.index.key = SipKey([a, b]);
    }

    /// Whether a service has a real server of another family (stock:
    /// `mixed_address_family_dests`), which keeps sync daemons from
    /// starting.
    pub(crate) fn has_mixed_families(&self) -> bool {
        self.svcs
            .list
            .iter()
            .any(|s| s.lock().dests.iter().any(|d| d.af != s.key.af()))
    }

    /// Says whether a sync daemon runs: the sync messages carry one
    /// family per connection, so no real server of the other family may
    /// be added or edited meanwhile (stock: `ipvs->sync_state`).
    pub(crate) fn set_syncing(&mut self, syncing: bool) {
        self.syncing = syncing;
    }

    /// Sets the service index's load factor (`svc_lfactor`), resizing it
    /// if that changes its size.
    pub(crate) fn set_svc_lfactor(&mut self, lfactor: i32) {
        if lfactor != self.svc_lfactor {
            self.svc_lfactor = lfactor;
            // Shrinking may fail for memory and keeps the size then.
            let _ = self
                .svcs
                .index
                .fit(&self.svcs.list, self.svcs.list.len(), lfactor);
        }
    }

    /// Slots of the service index, and the factor it follows.
    pub(crate) fn index_size(&self) -> (usize, i32) {
        (self.svcs.index.slots.len(), self.svc_lfactor)
    }

    /// Fresh keys for one scheduler (splitmix64 over the seed).
    fn next_keys(&mut self) -> [u64; 4] {
        core::array::from_fn(|_| {
            self.keyed = self.keyed.wrapping_add(1);
            let mut z = self
                .seed
                .wrapping_add(self.keyed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
    }

    /// The services, in the order they were added.
    pub(crate) fn services(&self) -> &[SvcRef] {
        &self.svcs.list
    }

    /// The services with their index, for lookups.
    pub(crate) fn svcs(&self) -> &Services {
        &self.svcs
    }

    /// Whether services were added or deleted since the last
    /// [`Table::view_published`].
    pub(crate) fn view_stale(&self) -> bool {
        self.view_stale
    }

    /// What the packet path should see now.
    pub(crate) fn view(&self) -> Result<Services, NoMem> {
        self.svcs.copy()
    }

    /// Says that the packet path sees the services as they are.
    pub(crate) fn view_published(&mut self) {
        self.view_stale = false;
    }

    /// How many services use the SIP persistence engine.
    pub(crate) fn sip_services(&self) -> usize {
        self.sip
    }

    /// Counts a service's persistence engine in or out.
    fn count_pe(&mut self, pe: Option<Name>, added: bool) {
        if pe.is_some_and(|pe| pe.as_str() == "sip") {
            self.sip = if added { self.sip + 1 } else { self.sip - 1 };
        }
    }

    /// Whether there are IPv4 and IPv6 services.
    pub(crate) fn families(&self) -> [bool; 2] {
        self.per_family.map(|n| n != 0)
    }

    fn count_service(&mut self, key: &SvcKey, added: bool) {
        let n = &mut self.per_family[usize::from(key.af() == AF_INET6)];
        *n = if added { *n + 1 } else { *n - 1 };
    }

    /// Lets the schedulers age their state (every estimator tick).
    pub(crate) fn tick_schedulers(&mut self, env: &dyn Env) {
        for s in self.svcs.list.iter() {
            if let Some(sched) = s.lock().sched.as_mut() {
                sched.tick(env);
            }
        }
    }

    fn find(&self, key: &SvcKey) -> Option<usize> {
        self.svcs.find(key)
    }

    /// The service named by an `IPVS_CMD_ATTR_SERVICE` attribute (only
    /// the identifying members are read).
    pub(crate) fn lookup(&self, nest: Option<Attr<'_>>) -> Result<Option<&SvcRef>, Error> {
        let (key, _) = parse_service(nest, false)?;
        Ok(self.find(&key).map(|i| &self.svcs.list[i]))
    }

    /// Applies a configuration command (`ip_vs_genl_set_cmd`).
    /// `addr_ok(af, addr)`: whether a new real server's address is
    /// unicast or local, as the routing tables say (`ip_vs_new_dest`).
    pub(crate) fn apply(
        &mut self,
        c: u8,
        svc: Option<Attr<'_>>,
        dest: Option<Attr<'_>>,
        addr_ok: &dyn Fn(u16, &Addr) -> bool,
    ) -> Result<(), Error> {
        match c {
            cmd::FLUSH => {
                while let Some(last) = self.svcs.list.len().checked_sub(1) {
                    let s = self.svcs.list.remove(last);
                    self.count_service(&s.key, false);
                    self.view_stale = true;
                    self.discard(&s);
                }
                self.svcs.index.refit(&self.svcs.list, self.svc_lfactor);
                return Ok(());
            }
            cmd::ZERO if svc.is_none() => {
                for s in self.svcs.list.iter() {
                    s.lock().zero();
                }
                return Ok(());
            }
            _ => {}
        }
        let full_svc = c == cmd::NEW_SERVICE || c == cmd::SET_SERVICE;
        let (key, params) = parse_service(svc, full_svc)?;
        let idx = self.find(&key);
        let Some(idx) = idx else {
            if c != cmd::NEW_SERVICE {
                return Err(err(ESRCH, c"ipvs: no such service"));
            }
            let p = params.ok_or(err(EINVAL, c"ipvs: service parameters missing"))?;
            return self.add_service(key, &p);
        };
        let dest = if matches!(c, cmd::NEW_DEST | cmd::SET_DEST | cmd::DEL_DEST) {
            let (mut k, p) = parse_dest(dest, c != cmd::DEL_DEST)?;
            let svc_af = self.svcs.list[idx].key.af();
            if k.af == 0 {
                k.af = svc_af;
                if svc_af != AF_INET6 {
                    k.addr[4..].fill(0);
                }
            }
            if !af_valid(k.af) {
                return Err(err(
                    EAFNOSUPPORT,
                    c"ipvs: real server address family not supported",
                ));
            }
            if k.af != svc_af && c != cmd::DEL_DEST {
                if self.syncing {
                    return Err(err(
                        EINVAL,
                        c"ipvs: no real server of another family while sync runs",
                    ));
                }
                if p.is_some_and(|p| p.fwd != conn_flags::TUNNEL) {
                    return Err(err(
                        EINVAL,
                        c"ipvs: mixed address families need tunnel forwarding",
                    ));
                }
            }
            Some((k, p))
        } else {
            None
        };
        let keys = self.next_keys();
        let node = self.svcs.list[idx].clone();
        let mut s = node.lock();
        match (c, dest) {
            (cmd::NEW_SERVICE, _) => Err(err(EEXIST, c"ipvs: service already exists")),
            (cmd::SET_SERVICE, _) => {
                let mut p = params.ok_or(err(EINVAL, c"ipvs: service parameters missing"))?;
                p.flags = (s.flags & !p.mask) | (p.flags & p.mask);
                check_svc_params(s.key.af(), &p)?;
                s.look();
                // The same scheduler keeps its state (stock does not
                // re-initialise it either).
                if s.sched_name() != p.sched.as_str() {
                    s.sched = scheduler_of(&p, s.key.af(), s.seen(), keys)?;
                }
                s.flags = p.flags | svc_flags::HASHED;
                s.timeout = p.timeout;
                s.netmask = p.netmask;
                let old = core::mem::replace(&mut s.pe, p.pe);
                drop(s);
                self.count_pe(old, false);
                self.count_pe(p.pe, true);
                Ok(())
            }
            (cmd::DEL_SERVICE, _) => {
                drop(s);
                self.svcs.list.remove(idx);
                self.count_service(&node.key, false);
                self.svcs.index.refit(&self.svcs.list, self.svc_lfactor);
                self.view_stale = true;
                self.discard(&node);
                Ok(())
            }
            (cmd::ZERO, _) => {
                s.zero();
                Ok(())
            }
            (cmd::NEW_DEST, Some((k, Some(p)))) => {
                check_dest_params(&p)?;
                if find_dest(&s, &k).is_some() {
                    return Err(err(EEXIST, c"ipvs: real server already exists"));
                }
                let d = match self
                    .trash
                    .iter()
                    .position(|t| t.svc.matches(&node.key) && t.dest.is(&k))
                {
                    Some(t) => {
                        let mut d = self.trash.remove(t).dest;
                        d.shared.available.store(true, Ordering::Relaxed);
                        d.set(&p);
                        d
                    }
                    None if !addr_ok(k.af, &k.addr) => {
                        return Err(err(
                            EINVAL,
                            c"ipvs: real server address is neither unicast nor local",
                        ));
                    }
                    None => Dest::new(&k, &p)?,
                };
                s.dests.insert_first(d)?;
                s.dest_added();
                Ok(())
            }
            (cmd::SET_DEST, Some((k, Some(p)))) => {
                check_dest_params(&p)?;
                let i = find_dest(&s, &k).ok_or(err(ENOENT, c"ipvs: no such real server"))?;
                s.dests[i].set(&p);
                s.dest_updated();
                Ok(())
            }
            (cmd::DEL_DEST, Some((k, _))) => {
                let i = find_dest(&s, &k).ok_or(err(ENOENT, c"ipvs: no such real server"))?;
                let d = s.dests.remove(i);
                s.dest_removed(i);
                drop(s);
                self.trash_dest(node.key, d);
                Ok(())
            }
            _ => Err(err(EINVAL, c"ipvs: unknown command")),
        }
    }

    /// Moves a deleted real server to the trash. Without memory for it
    /// the real server goes at once (its connections keep what they
    /// share; added back, it starts its counters afresh): a deletion
    /// never fails half-way, as stock's cannot.
    fn trash_dest(&mut self, svc: SvcKey, dest: Dest) {
        dest.retire();
        self.retired = true;
        let _ = self.trash.push(Trashed {
            svc,
            dest,
            idle_since: None,
        });
    }

    /// Moves the real servers of a deleted service to the trash.
    /// The packet path may still find the service in its view until the
    /// next one is published: it sees it gone, without real servers.
    fn discard(&mut self, node: &SvcNode) {
        let mut s = node.lock();
        self.count_pe(s.pe, false);
        s.gone = true;
        s.sched = None;
        while let Some(last) = s.dests.len().checked_sub(1) {
            let d = s.dests.remove(last);
            self.trash_dest(node.key, d);
        }
    }

    /// Frees the deleted real servers that no connection has used for
    /// [`TRASH_PERIOD`] (stock's trash timer); `now` in seconds.
    pub(crate) fn empty_trash(&mut self, now: u64) {
        let mut i = 0;
        while i < self.trash.len() {
            let t = &mut self.trash[i];
            if !t.dest.unused() {
                t.idle_since = None;
            } else if let Some(since) = t.idle_since {
                if now.wrapping_sub(since) >= TRASH_PERIOD {
                    self.trash.remove(i);
                    continue;
                }
            } else {
                t.idle_since = Some(now);
            }
            i += 1;
        }
    }

    /// Deleted real servers kept for their connections.
    #[cfg(test)]
    pub(crate) fn trashed(&self) -> usize {
        self.trash.len()
    }

    fn add_service(&mut self, key: SvcKey, p: &SvcParams) -> Result<(), Error> {
        check_svc_params(key.af(), p)?;
        let sched = scheduler_of(p, key.af(), &[], self.next_keys())?;
        let n = self.svcs.list.len() + 1;
        self.svcs.index.fit(&self.svcs.list, n, self.svc_lfactor)?;
        let flags = (p.flags & p.mask) | svc_flags::HASHED;
        let svc = Service::new(key, sched, p.pe, flags, p.timeout, p.netmask)?;
        self.svcs.list.push(SvcNode::share(svc)?)?;
        self.svcs
            .index
            .insert(&self.svcs.list, self.svcs.list.len() - 1);
        self.count_service(&key, true);
        self.count_pe(p.pe, true);
        self.view_stale = true;
        Ok(())
    }
}

fn find_dest(s: &Service, k: &DestKey) -> Option<usize> {
    s.dests.iter().position(|d| d.is(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::Shared;
    use crate::nlattr::push;
    use crate::uapi::cmd_attr;

    fn nest(attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = Vec::new();
        for (t, v) in attrs {
            push(&mut b, *t, v);
        }
        b
    }

    fn v4(a: [u8; 4]) -> Vec<u8> {
        let mut v = a.to_vec();
        v.resize(16, 0);
        v
    }

    fn svc(port: u16, sched: &str, full: bool) -> Vec<u8> {
        svc_proto(port, sched, full, 6)
    }

    fn svc_proto(port: u16, sched: &str, full: bool, protocol: u16) -> Vec<u8> {
        let mut a = vec![
            (svc_attr::AF, AF_INET.to_ne_bytes().to_vec()),
            (svc_attr::PROTOCOL, protocol.to_ne_bytes().to_vec()),
            (svc_attr::ADDR, v4([10, 0, 0, 1])),
            (svc_attr::PORT, port.to_be_bytes().to_vec()),
        ];
        if full {
            let mut s = sched.as_bytes().to_vec();
            s.push(0);
            a.push((svc_attr::SCHED_NAME, s));
            let mut f = 0u32.to_ne_bytes().to_vec();
            f.extend_from_slice(&u32::MAX.to_ne_bytes());
            a.push((svc_attr::FLAGS, f));
            a.push((svc_attr::TIMEOUT, 0u32.to_ne_bytes().to_vec()));
            a.push((svc_attr::NETMASK, u32::MAX.to_ne_bytes().to_vec()));
        }
        nest(&a)
    }

    #[test]
    fn ipv6_services_and_real_servers_are_told_apart() {
        let svc4 = svc(80, "rr", true);
        let mut svc6 = svc4.clone();
        // The AF attribute comes first: its payload at bytes 4..6.
        svc6[4..6].copy_from_slice(&AF_INET6.to_ne_bytes());
        let dest4 = nest(&[(dest_attr::ADDR_FAMILY, AF_INET.to_ne_bytes().to_vec())]);
        let dest6 = nest(&[(dest_attr::ADDR_FAMILY, AF_INET6.to_ne_bytes().to_vec())]);
        fn a(b: &[u8]) -> Option<Attr<'_>> {
            Some(Attr::new(b))
        }
        assert!(adds_ipv6(cmd::NEW_SERVICE, a(&svc6), None));
        assert!(!adds_ipv6(cmd::NEW_SERVICE, a(&svc4), None));
        assert!(!adds_ipv6(cmd::DEL_SERVICE, a(&svc6), None));
        assert!(adds_ipv6(cmd::NEW_DEST, a(&svc6), a(&dest4)));
        // An IPv6 real server of an IPv4 service (tunnels may mix).
        assert!(adds_ipv6(cmd::NEW_DEST, a(&svc4), a(&dest6)));
        assert!(!adds_ipv6(cmd::NEW_DEST, a(&svc4), None));
        assert!(!adds_ipv6(
            cmd::NEW_SERVICE,
            Some(Attr::new(&[1, 2, 3, 4, 5])),
            None
        ));
    }

    fn dest(last: u8, weight: i32, full: bool) -> Vec<u8> {
        let mut a = vec![
            (dest_attr::ADDR, v4([192, 168, 0, last])),
            (dest_attr::PORT, 80u16.to_be_bytes().to_vec()),
        ];
        if full {
            a.push((
                dest_attr::FWD_METHOD,
                conn_flags::MASQ.to_ne_bytes().to_vec(),
            ));
            a.push((dest_attr::WEIGHT, weight.to_ne_bytes().to_vec()));
            a.push((dest_attr::U_THRESH, 0u32.to_ne_bytes().to_vec()));
            a.push((dest_attr::L_THRESH, 0u32.to_ne_bytes().to_vec()));
        }
        nest(&a)
    }

    #[test]
    fn other_family_real_servers_tunnel_and_not_while_syncing() {
        let mut t = Table::new();
        let s = svc(80, "rr", true);
        apply(&mut t, cmd::NEW_SERVICE, &s, None).unwrap();
        let six = |fwd: u32| {
            nest(&[
                (
                    dest_attr::ADDR,
                    vec![0xfd, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11],
                ),
                (dest_attr::PORT, 80u16.to_be_bytes().to_vec()),
                (dest_attr::ADDR_FAMILY, AF_INET6.to_ne_bytes().to_vec()),
                (dest_attr::FWD_METHOD, fwd.to_ne_bytes().to_vec()),
                (dest_attr::WEIGHT, 1u32.to_ne_bytes().to_vec()),
                (dest_attr::U_THRESH, 0u32.to_ne_bytes().to_vec()),
                (dest_attr::L_THRESH, 0u32.to_ne_bytes().to_vec()),
            ])
        };
        let masq = six(conn_flags::MASQ);
        let tun = six(conn_flags::TUNNEL);
        assert_eq!(apply(&mut t, cmd::NEW_DEST, &s, Some(&masq)), Err(EINVAL));
        t.set_syncing(true);
        assert_eq!(apply(&mut t, cmd::NEW_DEST, &s, Some(&tun)), Err(EINVAL));
        t.set_syncing(false);
        assert!(!t.has_mixed_families());
        apply(&mut t, cmd::NEW_DEST, &s, Some(&tun)).unwrap();
        assert!(t.has_mixed_families());
        // Deleting is no adding.
        t.set_syncing(true);
        assert_eq!(apply(&mut t, cmd::SET_DEST, &s, Some(&tun)), Err(EINVAL));
        apply(&mut t, cmd::DEL_DEST, &s, Some(&tun)).unwrap();
    }

    #[test]
    fn nests_are_checked_whole_before_their_values() {
        let mut t = Table::new();
        // A service of an unknown family, and with a persistence engine
        // name too long: the nest fails first (EINVAL), as stock parses
        // it whole.
        let mut bad = svc(80, "rr", true);
        bad[4..6].copy_from_slice(&7u16.to_ne_bytes());
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &bad, None),
            Err(EAFNOSUPPORT)
        );
        let mut long = bad.clone();
        crate::nlattr::push(&mut long, svc_attr::PE_NAME, &[b'x'; 20]);
        assert_eq!(apply(&mut t, cmd::NEW_SERVICE, &long, None), Err(EINVAL));
        // An unknown scheduler is named before a bad IPv6 netmask.
        let mut six = svc(80, "nope", true);
        six[4..6].copy_from_slice(&AF_INET6.to_ne_bytes());
        assert_eq!(apply(&mut t, cmd::NEW_SERVICE, &six, None), Err(ENOENT));
        // A malformed tail is ignored, as the kernel's parser does.
        let mut tail = svc(80, "rr", true);
        tail.extend_from_slice(&[200, 0, 1, 0]);
        apply(&mut t, cmd::NEW_SERVICE, &tail, None).unwrap();
    }

    fn apply(t: &mut Table, c: u8, s: &[u8], d: Option<&[u8]>) -> Result<(), i32> {
        t.apply(c, Some(Attr::new(s)), d.map(Attr::new), &|_, _| true)
            .map_err(|e| e.errno)
    }

    #[test]
    fn add_list_edit_delete() {
        let mut t = Table::new();
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None).unwrap();
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &svc(80, "wlc", true), None),
            Err(EEXIST)
        );
        apply(
            &mut t,
            cmd::NEW_DEST,
            &svc(80, "", false),
            Some(&dest(2, 1, true)),
        )
        .unwrap();
        apply(
            &mut t,
            cmd::NEW_DEST,
            &svc(80, "", false),
            Some(&dest(3, 2, true)),
        )
        .unwrap();
        let s = t.services()[0].lock();
        assert_eq!(s.sched_name(), "rr");
        assert_eq!(s.flags, svc_flags::HASHED);
        // Newest first, as stock.
        assert_eq!(s.dests[0].addr[3], 3);
        assert_eq!(s.dests[1].weight, 1);
        drop(s);
        apply(
            &mut t,
            cmd::SET_DEST,
            &svc(80, "", false),
            Some(&dest(2, 0, true)),
        )
        .unwrap();
        assert_eq!(t.services()[0].lock().dests[1].weight, 0);
        apply(&mut t, cmd::SET_SERVICE, &svc(80, "wrr", true), None).unwrap();
        assert_eq!(t.services()[0].lock().sched_name(), "wrr");
        apply(
            &mut t,
            cmd::DEL_DEST,
            &svc(80, "", false),
            Some(&dest(3, 0, false)),
        )
        .unwrap();
        assert_eq!(t.services()[0].lock().dests.len(), 1);
        assert_eq!(
            apply(
                &mut t,
                cmd::DEL_DEST,
                &svc(80, "", false),
                Some(&dest(3, 0, false))
            ),
            Err(ENOENT)
        );
        apply(&mut t, cmd::DEL_SERVICE, &svc(80, "", false), None).unwrap();
        assert!(t.services().is_empty());
    }

    #[test]
    fn the_packet_path_sees_services_through_views() {
        let mut t = Table::new();
        let vip: Addr = v4([10, 0, 0, 1]).try_into().unwrap();
        let port = |p: u16| p.to_be_bytes();
        let key_port = |s: Option<&SvcRef>| s.map(|s| s.key.port());
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None).unwrap();
        assert!(t.view_stale());
        let v1 = t.view().unwrap();
        t.view_published();
        assert!(!t.view_stale());
        assert_eq!(
            key_port(v1.find_for_packet(AF_INET, 6, &vip, port(80), 0, |_| false)),
            Some(port(80))
        );
        assert!(v1
            .find_for_packet(AF_INET, 6, &vip, port(81), 0, |_| false)
            .is_none());
        assert!(v1
            .find_for_packet(AF_INET, 17, &vip, port(80), 0, |_| false)
            .is_none());
        // A new service: only a new view has it.
        apply(&mut t, cmd::NEW_SERVICE, &svc(0, "rr", true), None).unwrap();
        assert!(t.view_stale());
        assert!(v1
            .find_for_packet(AF_INET, 6, &vip, port(81), 0, |_| false)
            .is_none());
        let v2 = t.view().unwrap();
        t.view_published();
        assert_eq!(
            key_port(v2.find_for_packet(AF_INET, 6, &vip, port(81), 0, |_| false)),
            Some(port(0))
        );
        // Edits of a service show in every view at once, and make none.
        apply(
            &mut t,
            cmd::NEW_DEST,
            &svc(80, "", false),
            Some(&dest(2, 1, true)),
        )
        .unwrap();
        assert!(!t.view_stale());
        let s = v1
            .find_for_packet(AF_INET, 6, &vip, port(80), 0, |_| false)
            .unwrap();
        assert_eq!(s.lock().dests.len(), 1);
        // A deleted service stays in the old views, gone and empty.
        apply(&mut t, cmd::DEL_SERVICE, &svc(80, "", false), None).unwrap();
        assert!(t.view_stale());
        for v in [&v1, &v2] {
            let s = v
                .find_for_packet(AF_INET, 6, &vip, port(80), 0, |_| false)
                .unwrap()
                .lock();
            assert!(s.gone && s.dests.is_empty() && s.sched.is_none());
        }
        assert_eq!(t.trashed(), 1);
        let v3 = t.view().unwrap();
        assert_eq!(
            key_port(v3.find_for_packet(AF_INET, 6, &vip, port(80), 0, |_| false)),
            Some(port(0))
        );
        // Flushed: an empty view.
        t.apply(cmd::FLUSH, None, None, &|_, _| true).unwrap();
        assert!(t
            .view()
            .unwrap()
            .find_for_packet(AF_INET, 6, &vip, port(80), 0, |_| false)
            .is_none());
    }

    #[test]
    fn deleted_real_server_resumes_from_the_trash() {
        let mut t = Table::new();
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "lc", true), None).unwrap();
        apply(
            &mut t,
            cmd::NEW_DEST,
            &svc(80, "", false),
            Some(&dest(2, 1, true)),
        )
        .unwrap();
        let shared = t.services()[0].lock().dests[0].shared.clone();
        shared.inactive.store(3, Ordering::Relaxed); // three connections
        shared.stats.count_conn();
        apply(
            &mut t,
            cmd::DEL_DEST,
            &svc(80, "", false),
            Some(&dest(2, 0, false)),
        )
        .unwrap();
        assert!(!shared.available.load(Ordering::Relaxed));
        // In use: kept however long.
        t.empty_trash(0);
        t.empty_trash(1000);
        assert_eq!(t.trashed(), 1);
        // Added back with a new weight: same counters, available again.
        apply(
            &mut t,
            cmd::NEW_DEST,
            &svc(80, "", false),
            Some(&dest(2, 5, true)),
        )
        .unwrap();
        let s0 = t.services()[0].lock();
        let d = &s0.dests[0];
        assert!(Shared::ptr_eq(&d.shared, &shared));
        assert_eq!(
            (d.weight, d.inactive(), d.shared.stats.snapshot().conns),
            (5, 3, 1)
        );
        assert!(shared.available.load(Ordering::Relaxed));
        drop(s0);
        assert_eq!(t.trashed(), 0);
        // Another service's real server at the same address is new.
        apply(&mut t, cmd::NEW_SERVICE, &svc(81, "rr", true), None).unwrap();
        apply(&mut t, cmd::DEL_SERVICE, &svc(80, "", false), None).unwrap();
        assert_eq!(t.trashed(), 1);
        apply(
            &mut t,
            cmd::NEW_DEST,
            &svc(81, "", false),
            Some(&dest(2, 1, true)),
        )
        .unwrap();
        let s0 = t.services()[0].lock();
        let other = &s0.dests[0];
        assert!(!Shared::ptr_eq(&other.shared, &shared));
        drop(s0);
        // Unused for TRASH_PERIOD: freed.
        shared.inactive.store(0, Ordering::Relaxed);
        t.empty_trash(2000);
        t.empty_trash(2000 + TRASH_PERIOD - 1);
        assert_eq!(t.trashed(), 1);
        t.empty_trash(2000 + TRASH_PERIOD);
        assert_eq!(t.trashed(), 0);
    }

    #[test]
    fn real_service_of_a_real_server() {
        let mut t = Table::new();
        let udp = |port: u16| svc_proto(port, "rr", true, 17);
        let rs = |a: [u8; 4], port: u16| (crate::packet::addr16(a), port.to_be_bytes());
        apply(&mut t, cmd::NEW_SERVICE, &udp(53), None).unwrap();
        apply(&mut t, cmd::NEW_DEST, &udp(53), Some(&dest(2, 1, true))).unwrap();
        let (a, p80) = rs([192, 168, 0, 2], 80);
        // The real server's port is 80 (dest() builds port 80).
        let t = t.view().unwrap();
        let s = t.find_real_service(AF_INET, 17, &a, p80).unwrap();
        let d = s.lock().nat_dest(AF_INET, &a, p80).map(|d| d.port);
        assert_eq!((s.key.af(), d), (AF_INET, Some(p80)));
        // Another port, another protocol, another address: none.
        assert!(t.find_real_service(AF_INET, 17, &a, [0, 81]).is_none());
        assert!(t.find_real_service(AF_INET, 6, &a, p80).is_none());
        let (b, _) = rs([192, 168, 0, 3], 80);
        assert!(t.find_real_service(AF_INET, 17, &b, p80).is_none());
        // `nat_icmp_send`'s question: the same, exact port only.
        assert!(t.real_service_at(AF_INET, 17, &a, p80).is_some());
        assert!(t.real_service_at(AF_INET, 17, &a, [0, 81]).is_none());
        assert!(t.real_service_at(AF_INET, 6, &a, p80).is_none());
        assert!(t.real_service_at(AF_INET, 17, &b, p80).is_none());
    }

    #[test]
    fn sip_is_the_one_persistence_engine() {
        let with_pe = |pe: &[u8]| {
            let mut b = svc(80, "rr", true);
            push(&mut b, svc_attr::PE_NAME, pe);
            b
        };
        let mut t = Table::new();
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &with_pe(b"foo\0"), None),
            Err(ENOENT)
        );
        apply(&mut t, cmd::NEW_SERVICE, &with_pe(b"sip\0"), None).unwrap();
        assert!(t.services()[0].lock().pe_sip());
        assert_eq!(t.sip_services(), 1);
        // An edit sets the engine as stock's does: none if not given.
        apply(&mut t, cmd::SET_SERVICE, &svc(80, "rr", true), None).unwrap();
        assert!(!t.services()[0].lock().pe_sip());
        assert_eq!(t.sip_services(), 0);
        apply(&mut t, cmd::SET_SERVICE, &with_pe(b"sip\0"), None).unwrap();
        assert_eq!(t.sip_services(), 1);
        apply(&mut t, cmd::DEL_SERVICE, &svc(80, "", false), None).unwrap();
        assert_eq!(t.sip_services(), 0);
    }

    #[test]
    fn stock_errors() {
        let mut t = Table::new();
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &svc(80, "nope", true), None),
            Err(ENOENT)
        );
        assert_eq!(
            apply(&mut t, cmd::SET_SERVICE, &svc(80, "rr", true), None),
            Err(ESRCH)
        );
        assert_eq!(
            apply(
                &mut t,
                cmd::NEW_DEST,
                &svc(80, "", false),
                Some(&dest(2, 1, true))
            ),
            Err(ESRCH)
        );
        // A service without scheduler, flags, timeout or netmask.
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", false), None),
            Err(EINVAL)
        );
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None).unwrap();
        assert_eq!(
            apply(
                &mut t,
                cmd::NEW_DEST,
                &svc(80, "", false),
                Some(&dest(2, -1, true))
            ),
            Err(ERANGE)
        );
        assert_eq!(
            apply(
                &mut t,
                cmd::NEW_DEST,
                &svc(80, "", false),
                Some(&dest(2, 1, false))
            ),
            Err(EINVAL)
        );
        assert_eq!(
            apply(&mut t, cmd::NEW_DEST, &svc(80, "", false), None),
            Err(EINVAL)
        );
        apply(
            &mut t,
            cmd::NEW_DEST,
            &svc(80, "", false),
            Some(&dest(2, 1, true)),
        )
        .unwrap();
        assert_eq!(
            apply(
                &mut t,
                cmd::NEW_DEST,
                &svc(80, "", false),
                Some(&dest(2, 1, true))
            ),
            Err(EEXIST)
        );
        // Addresses neither unicast nor local: EINVAL, after EEXIST (as
        // ip_vs_add_dest, then ip_vs_new_dest).
        let no = |_: u16, _: &Addr| false;
        let add = |t: &mut Table, last| {
            let d = dest(last, 1, true);
            t.apply(
                cmd::NEW_DEST,
                Some(Attr::new(&svc(80, "", false))),
                Some(Attr::new(&d)),
                &no,
            )
            .map_err(|e| e.errno)
        };
        assert_eq!(add(&mut t, 2), Err(EEXIST));
        assert_eq!(add(&mut t, 7), Err(EINVAL));
        assert_eq!(t.services()[0].lock().dests.len(), 1);
        // Lower threshold above the upper one.
        let mut d = nest(&[
            (dest_attr::ADDR, v4([192, 168, 0, 9])),
            (dest_attr::PORT, 80u16.to_be_bytes().to_vec()),
            (dest_attr::FWD_METHOD, 0u32.to_ne_bytes().to_vec()),
            (dest_attr::WEIGHT, 1u32.to_ne_bytes().to_vec()),
            (dest_attr::U_THRESH, 5u32.to_ne_bytes().to_vec()),
            (dest_attr::L_THRESH, 6u32.to_ne_bytes().to_vec()),
        ]);
        assert_eq!(
            apply(&mut t, cmd::NEW_DEST, &svc(80, "", false), Some(&d)),
            Err(ERANGE)
        );
        // A truncated attribute run.
        let n = d.len();
        d[n - 8] = 200; // the last attribute claims 200 bytes
        assert_eq!(
            apply(&mut t, cmd::NEW_DEST, &svc(80, "", false), Some(&d)),
            Err(EINVAL)
        );
        // Wrong address family.
        let bad = nest(&[
            (svc_attr::AF, 3u16.to_ne_bytes().to_vec()),
            (svc_attr::FWMARK, 1u32.to_ne_bytes().to_vec()),
        ]);
        assert_eq!(
            apply(&mut t, cmd::DEL_SERVICE, &bad, None),
            Err(EAFNOSUPPORT)
        );
        assert_eq!(
            t.apply(cmd::DEL_SERVICE, None, None, &|_, _| true)
                .map_err(|e| e.errno),
            Err(EINVAL)
        );
        let _ = cmd_attr::SERVICE;
    }

    #[test]
    fn ipv4_key_ignores_padding_and_flush_empties() {
        let mut t = Table::new();
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None).unwrap();
        // Same service with garbage after the IPv4 address.
        let mut a = v4([10, 0, 0, 1]);
        a[8] = 0xff;
        let key = nest(&[
            (svc_attr::AF, AF_INET.to_ne_bytes().to_vec()),
            (svc_attr::PROTOCOL, 6u16.to_ne_bytes().to_vec()),
            (svc_attr::ADDR, a),
            (svc_attr::PORT, 80u16.to_be_bytes().to_vec()),
        ]);
        assert!(t.lookup(Some(Attr::new(&key))).unwrap().is_some());
        apply(&mut t, cmd::NEW_SERVICE, &svc(81, "rr", true), None).unwrap();
        t.apply(cmd::FLUSH, None, None, &|_, _| true).unwrap();
        assert!(t.services().is_empty());
    }

    #[test]
    fn families_follow_the_services() {
        let mut t = Table::new();
        let six = |port: u16| {
            nest(&[
                (svc_attr::AF, AF_INET6.to_ne_bytes().to_vec()),
                (svc_attr::PROTOCOL, 6u16.to_ne_bytes().to_vec()),
                (svc_attr::ADDR, vec![0xfd; 16]),
                (svc_attr::PORT, port.to_be_bytes().to_vec()),
                (svc_attr::SCHED_NAME, b"rr\0".to_vec()),
                (
                    svc_attr::FLAGS,
                    [0u32, u32::MAX].map(u32::to_ne_bytes).concat(),
                ),
                (svc_attr::TIMEOUT, 0u32.to_ne_bytes().to_vec()),
                (svc_attr::NETMASK, 128u32.to_ne_bytes().to_vec()),
            ])
        };
        assert_eq!(t.families(), [false, false]);
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None).unwrap();
        apply(&mut t, cmd::NEW_SERVICE, &svc(81, "rr", true), None).unwrap();
        assert_eq!(t.families(), [true, false]);
        // A refused service counts for nothing.
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None),
            Err(EEXIST)
        );
        apply(&mut t, cmd::NEW_SERVICE, &six(80), None).unwrap();
        assert_eq!(t.families(), [true, true]);
        apply(&mut t, cmd::DEL_SERVICE, &svc(80, "", false), None).unwrap();
        assert_eq!(t.families(), [true, true]);
        apply(&mut t, cmd::DEL_SERVICE, &svc(81, "", false), None).unwrap();
        assert_eq!(t.families(), [false, true]);
        apply(&mut t, cmd::NEW_SERVICE, &svc(82, "rr", true), None).unwrap();
        t.apply(cmd::FLUSH, None, None, &|_, _| true).unwrap();
        assert_eq!(t.families(), [false, false]);
        apply(&mut t, cmd::NEW_SERVICE, &six(80), None).unwrap();
        assert_eq!(t.families(), [false, true]);
    }

    #[test]
    fn flags_follow_the_mask() {
        let mut t = Table::new();
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None).unwrap();
        let mut s = svc(80, "rr", false);
        push(&mut s, svc_attr::SCHED_NAME, b"rr\0");
        let mut f = svc_flags::PERSISTENT.to_ne_bytes().to_vec();
        f.extend_from_slice(&svc_flags::PERSISTENT.to_ne_bytes());
        push(&mut s, svc_attr::FLAGS, &f);
        push(&mut s, svc_attr::TIMEOUT, &300u32.to_ne_bytes());
        push(&mut s, svc_attr::NETMASK, &u32::MAX.to_ne_bytes());
        apply(&mut t, cmd::SET_SERVICE, &s, None).unwrap();
        assert_eq!(
            t.services()[0].lock().flags,
            svc_flags::PERSISTENT | svc_flags::HASHED
        );
        assert_eq!(t.services()[0].lock().timeout, 300);
    }

    #[test]
    fn real_service_prefers_a_virtual_port() {
        let mut t = Table::new();
        let full = |key: Vec<(u16, Vec<u8>)>| {
            let mut a = key;
            a.push((svc_attr::SCHED_NAME, b"rr\0".to_vec()));
            let mut f = svc_flags::PERSISTENT.to_ne_bytes().to_vec();
            f.extend_from_slice(&u32::MAX.to_ne_bytes());
            a.push((svc_attr::FLAGS, f));
            a.push((svc_attr::TIMEOUT, 60u32.to_ne_bytes().to_vec()));
            a.push((svc_attr::NETMASK, u32::MAX.to_ne_bytes().to_vec()));
            nest(&a)
        };
        let fwmark = full(vec![
            (svc_attr::AF, AF_INET.to_ne_bytes().to_vec()),
            (svc_attr::FWMARK, 7u32.to_ne_bytes().to_vec()),
        ]);
        let (fwmark_key, portless, port80) = (
            nest(&[
                (svc_attr::AF, AF_INET.to_ne_bytes().to_vec()),
                (svc_attr::FWMARK, 7u32.to_ne_bytes().to_vec()),
            ]),
            svc(0, "", false),
            svc(80, "", false),
        );
        // Configured in the order the lookup likes least first.
        apply(&mut t, cmd::NEW_SERVICE, &fwmark, None).unwrap();
        apply(&mut t, cmd::NEW_SERVICE, &svc(0, "rr", true), None).unwrap();
        apply(&mut t, cmd::NEW_SERVICE, &svc(80, "rr", true), None).unwrap();
        for key in [&fwmark_key, &portless, &port80] {
            apply(&mut t, cmd::NEW_DEST, key, Some(&dest(2, 1, true))).unwrap();
        }
        let rs = v4([192, 168, 0, 2]).try_into().unwrap();
        let port = 80u16.to_be_bytes();
        let found = |t: &Table, protocol: u8| {
            let v = t.view().unwrap();
            v.find_real_service(AF_INET, protocol, &rs, port)
                .map(|s| s.key)
        };
        let tuple = |port: u16| SvcKey::Tuple {
            af: AF_INET,
            protocol: 6,
            addr: v4([10, 0, 0, 1]).try_into().unwrap(),
            port: port.to_be_bytes(),
        };
        let mark = SvcKey::Fwmark {
            af: AF_INET,
            mark: 7,
        };
        assert_eq!(found(&t, 6), Some(tuple(80)));
        // A fwmark service takes any protocol.
        assert_eq!(found(&t, 17), Some(mark));
        // Not a real server of anyone at another port.
        let v = t.view().unwrap();
        assert!(v
            .find_real_service(AF_INET, 6, &rs, 81u16.to_be_bytes())
            .is_none());
        apply(&mut t, cmd::DEL_SERVICE, &port80, None).unwrap();
        assert_eq!(found(&t, 6), Some(tuple(0)));
        apply(&mut t, cmd::DEL_SERVICE, &portless, None).unwrap();
        assert_eq!(found(&t, 6), Some(mark));
    }

    #[test]
    fn timeouts_are_set_as_stock() {
        let t = Timeouts::default();
        let hz = 250;
        let set = t.set([Some(100), None, Some(0)], hz).unwrap();
        assert_eq!((set.tcp, set.tcp_fin, set.udp), (100, t.tcp_fin, t.udp));
        let max = i32::MAX as u32 / hz;
        assert_eq!(t.set([None, Some(max), None], hz).unwrap().tcp_fin, max);
        for bad in [max + 1, 0x8000_0000, u32::MAX] {
            let e = t.set([Some(5), None, Some(bad)], hz).unwrap_err();
            assert_eq!(e.errno, EINVAL);
        }
    }

    #[test]
    fn many_services_are_found_after_adds_and_deletes() {
        let mut t = Table::new();
        for port in 1..=1000 {
            apply(&mut t, cmd::NEW_SERVICE, &svc(port, "rr", true), None).unwrap();
        }
        assert_eq!(
            apply(&mut t, cmd::NEW_SERVICE, &svc(500, "rr", true), None),
            Err(EEXIST)
        );
        for port in (2..=1000).step_by(2) {
            apply(&mut t, cmd::DEL_SERVICE, &svc(port, "", false), None).unwrap();
        }
        for port in 1..=1000u16 {
            let found = t.lookup(Some(Attr::new(&svc(port, "", false)))).unwrap();
            assert_eq!(found.is_some(), port % 2 == 1, "port {port}");
            if let Some(s) = found {
                assert!(matches!(s.key, SvcKey::Tuple { port: p, .. } if p == port.to_be_bytes()));
            }
        }
        // Listed in the order they came.
        assert_eq!(t.services().len(), 500);
        assert!(
            matches!(t.services()[1].key, SvcKey::Tuple { port, .. } if port == 3u16.to_be_bytes())
        );
        t.apply(cmd::FLUSH, None, None, &|_, _| true).unwrap();
        assert!(t
            .lookup(Some(Attr::new(&svc(1, "", false))))
            .unwrap()
            .is_none());
        apply(&mut t, cmd::NEW_SERVICE, &svc(1, "rr", true), None).unwrap();
        assert!(t
            .lookup(Some(Attr::new(&svc(1, "", false))))
            .unwrap()
            .is_some());
    }

    #[test]
    fn the_index_follows_svc_lfactor_both_ways() {
        let mut t = Table::new();
        t.set_seed(0x5eed);
        let found = |t: &Table, port: u16| {
            t.lookup(Some(Attr::new(&svc(port, "", false))))
                .unwrap()
                .is_some()
        };
        assert_eq!(t.index_size().0, 0);
        // Default -3: eight slots a service, from 16 slots up.
        apply(&mut t, cmd::NEW_SERVICE, &svc(1, "rr", true), None).unwrap();
        assert_eq!(t.index_size().0, 16);
        for port in 2..=100 {
            apply(&mut t, cmd::NEW_SERVICE, &svc(port, "rr", true), None).unwrap();
        }
        assert_eq!(t.index_size().0, 1024);
        // 10 left want 80 slots: a quarter of the load shrinks, to twice
        // what the load needs.
        for port in 11..=100 {
            apply(&mut t, cmd::DEL_SERVICE, &svc(port, "", false), None).unwrap();
        }
        assert_eq!(t.index_size().0, 256);
        assert!((1..=10).all(|p| found(&t, p)) && !found(&t, 11));
        // A positive factor stops at half full (open addressing).
        t.set_svc_lfactor(2);
        assert_eq!(t.index_size().0, 32);
        assert!((1..=10).all(|p| found(&t, p)));
        t.set_svc_lfactor(-8);
        assert_eq!(t.index_size().0, 4096);
        assert!((1..=10).all(|p| found(&t, p)) && !found(&t, 11));
        t.apply(cmd::FLUSH, None, None, &|_, _| true).unwrap();
        assert_eq!(t.index_size().0, 16);
        assert!(!found(&t, 1));
    }
}
