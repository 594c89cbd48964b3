// SPDX-License-Identifier: GPL-2.0

//! Finding a namespace's services: the index the table keeps, and the
//! view of it that the packet path reads under RCU (stock:
//! `ip_vs_service_find` over RCU hash lists).
//!
//! Pure code: the host tests run it as is.

use crate::ftp::CONTROL_PORT as FTP_PORT;
use crate::hash::{sip13, SipKey};
use crate::list::{Held, List, Locked, NoMem, Shared};
use crate::nat::TCP;
use crate::rhash::wanted_bits_in;
use crate::service::{addr_eq, Addr, Service, SvcKey};
use crate::uapi::conn_flags;

/// A service as the table and the packet path share it: its key, fixed
/// for its life, read without the lock; the rest edited in place under
/// the lock (stock's `svc->sched_lock` plays this part for the
/// schedulers that have state).
pub(crate) struct SvcNode {
    /// Identity.
    pub(crate) key: SvcKey,
    svc: Locked<Service>,
}

/// A shared [`SvcNode`].
pub(crate) type SvcRef = Shared<SvcNode>;

impl SvcNode {
    /// Shares `svc`.
    pub(crate) fn share(svc: Service) -> Result<SvcRef, NoMem> {
        crate::list::share(SvcNode {
            key: svc.key,
            svc: Locked::new(svc)?,
        })
    }

    /// The service, locked. Nobody holds two.
    pub(crate) fn lock(&self) -> Held<'_, Service> {
        self.svc.lock()
    }
}

/// Where each service sits in the table's list (and a view's), by key (stock hashes its
/// services too): open addressing with linear probing, sized by the
/// number of services at load factor `svc_lfactor` (upstream's sysctl:
/// 2^lfactor services a slot, within 2^4..2^20 slots) and never more
/// than half full, which open addressing needs (so positive factors act
/// as 0 past a half). A removal shifts positions, so it rebuilds the
/// index.
#[derive(Debug)]
pub(crate) struct SvcIndex {
    /// Positions, or [`SvcIndex::EMPTY`]; a power of two of them.
    pub(crate) slots: List<u32>,
    /// The hash key (per namespace, from `Table::set_seed`).
    pub(crate) key: SipKey,
}

/// Smallest and largest service index, bits (upstream's service table).
const SVC_MIN_BITS: u32 = 4;
const SVC_MAX_BITS: u32 = 20;

impl SvcIndex {
    const EMPTY: u32 = u32::MAX;

    pub(crate) const fn new() -> Self {
        Self {
            slots: List::new(),
            key: SipKey([0, 0]),
        }
    }

    fn hash(&self, key: &SvcKey) -> usize {
        let w = |a: &Addr, i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&a[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let h = match *key {
            SvcKey::Tuple {
                af,
                protocol,
                addr,
                port,
            } => {
                let tail = u64::from(af) << 32
                    | u64::from(protocol) << 16
                    | u64::from(u16::from_ne_bytes(port));
                sip13(&self.key, &[w(&addr, 0), w(&addr, 8), tail])
            }
            SvcKey::Fwmark { af, mark } => {
                sip13(&self.key, &[u64::from(af) << 32 | u64::from(mark), 1 << 63])
            }
        };
        h as usize
    }

    /// Slots now, as bits (0 before the first service).
    pub(crate) fn bits(&self) -> u32 {
        if self.slots.is_empty() {
            0
        } else {
            self.slots.len().trailing_zeros()
        }
    }

    /// The slot that holds `key`, or the empty one where it would go;
    /// `None` while the index has no slots.
    fn slot(&self, services: &[SvcRef], key: &SvcKey) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut i = self.hash(key) & mask;
        loop {
            match self.slots[i] {
                Self::EMPTY => return Some(i),
                pos if services[pos as usize].key.matches(key) => return Some(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// The position of the service with `key`.
    pub(crate) fn find(&self, services: &[SvcRef], key: &SvcKey) -> Option<usize> {
        match self.slots[self.slot(services, key)?] {
            Self::EMPTY => None,
            pos => Some(pos as usize),
        }
    }

    /// The size `n` services want at `lfactor`, as bits.
    fn wanted(&self, n: usize, lfactor: i32) -> u32 {
        let bits = self.bits().max(SVC_MIN_BITS);
        let by_load = wanted_bits_in(n, lfactor, bits, SVC_MIN_BITS, SVC_MAX_BITS).unwrap_or(bits);
        // At most half full, whatever the factor and the maximum.
        let half = usize::BITS - (2 * n).saturating_sub(1).leading_zeros();
        by_load.max(half)
    }

    /// Resizes for `n` services (`services` and maybe one to come) and
    /// indexes `services` anew if the size changed; returns whether it
    /// did. On allocation failure the index keeps its size, which fails
    /// only if it has no room.
    pub(crate) fn fit(
        &mut self,
        services: &[SvcRef],
        n: usize,
        lfactor: i32,
    ) -> Result<bool, NoMem> {
        let want = self.wanted(n, lfactor);
        if want == self.bits() {
            return Ok(false);
        }
        let mut slots = List::new();
        for _ in 0..1usize << want {
            if let Err(e) = slots.push(Self::EMPTY) {
                if self.slots.len() < 2 * n {
                    return Err(e);
                }
                self.rebuild(services);
                return Ok(true);
            }
        }
        self.slots = slots;
        self.rebuild(services);
        Ok(true)
    }

    /// After a removal (positions shifted): fits the index to `services`
    /// and indexes them anew, once.
    pub(crate) fn refit(&mut self, services: &[SvcRef], lfactor: i32) {
        if !matches!(self.fit(services, services.len(), lfactor), Ok(true)) {
            self.rebuild(services);
        }
    }

    /// Indexes the service at `pos` (after [`SvcIndex::fit`]).
    pub(crate) fn insert(&mut self, services: &[SvcRef], pos: usize) {
        if let Some(i) = self.slot(services, &services[pos].key) {
            self.slots[i] = pos as u32;
        }
    }

    /// Indexes `services` anew, in the slots it has.
    pub(crate) fn rebuild(&mut self, services: &[SvcRef]) {
        self.slots.iter_mut().for_each(|s| *s = Self::EMPTY);
        for pos in 0..services.len() {
            self.insert(services, pos);
        }
    }

    /// A copy, for a view.
    fn copy(&self) -> Result<Self, NoMem> {
        let mut slots = List::new();
        for &s in self.slots.iter() {
            slots.push(s)?;
        }
        Ok(Self {
            slots,
            key: self.key,
        })
    }

    /// The position of the service a packet belongs to
    /// (`ip_vs_service_find`): its firewall mark first, then protocol,
    /// address and port, then for TCP an FTP service (port 21) of the
    /// address if `ftp_data` says the port may be an FTP data
    /// connection's, then a port-zero service of the address.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn find_for_packet(
        &self,
        services: &[SvcRef],
        af: u16,
        protocol: u8,
        addr: &Addr,
        port: [u8; 2],
        mark: u32,
        ftp_data: impl FnOnce(u16) -> bool,
    ) -> Option<usize> {
        let tuple = |port| SvcKey::Tuple {
            af,
            protocol: u16::from(protocol),
            addr: *addr,
            port,
        };
        let by_mark = || (mark != 0).then(|| self.find(services, &SvcKey::Fwmark { af, mark }))?;
        let ftp = || {
            let p = u16::from_be_bytes(port);
            (protocol == TCP && p != FTP_PORT && ftp_data(p))
                .then(|| self.find(services, &tuple(FTP_PORT.to_be_bytes())))?
        };
        by_mark()
            .or_else(|| self.find(services, &tuple(port)))
            .or_else(ftp)
            .or_else(|| (port != [0, 0]).then(|| self.find(services, &tuple([0, 0])))?)
    }
}

/// A namespace's services with their index: the table's, and copies of
/// it that the packet path reads under RCU (views). Services are shared
/// between the table and the views and edited in place under their
/// lock, so only adding and deleting services makes a view stale.
pub(crate) struct Services {
    /// Where each is in `list`.
    pub(crate) index: SvcIndex,
    /// In the order they were added.
    pub(crate) list: List<SvcRef>,
}

impl Services {
    /// None.
    pub(crate) const fn new() -> Self {
        Self {
            index: SvcIndex::new(),
            list: List::new(),
        }
    }

    /// A copy, for a view.
    pub(crate) fn copy(&self) -> Result<Self, NoMem> {
        let mut list = List::new();
        for s in self.list.iter() {
            list.push(s.clone())?;
        }
        Ok(Self {
            index: self.index.copy()?,
            list,
        })
    }

    /// The position of the service with `key`.
    pub(crate) fn find(&self, key: &SvcKey) -> Option<usize> {
        self.index.find(&self.list, key)
    }

    /// The service a packet belongs to (see
    /// [`SvcIndex::find_for_packet`]); in a view, it may have been
    /// deleted since ([`Service::gone`]).
    pub(crate) fn find_for_packet(
        &self,
        af: u16,
        protocol: u8,
        addr: &Addr,
        port: [u8; 2],
        mark: u32,
        ftp_data: impl FnOnce(u16) -> bool,
    ) -> Option<&SvcRef> {
        self.index
            .find_for_packet(&self.list, af, protocol, addr, port, mark, ftp_data)
            .map(|i| &self.list[i])
    }

    /// The service of a NAT real server at `addr:port` (or at `addr`
    /// without port) for `protocol` (`ip_vs_find_real_service`, for
    /// connections real servers start; find the real server again with
    /// [`Service::nat_dest`] under the lock). A service with a virtual
    /// port is preferred, then one without (port-less, persistent), then
    /// a fwmark service (any protocol); the first configured among
    /// equals.
    pub(crate) fn find_real_service(
        &self,
        af: u16,
        protocol: u8,
        addr: &Addr,
        port: [u8; 2],
    ) -> Option<&SvcRef> {
        self.list
            .iter()
            .filter_map(|s| {
                let rank = match s.key {
                    SvcKey::Tuple { protocol: p, .. } if p != u16::from(protocol) => return None,
                    SvcKey::Tuple { port: [0, 0], .. } => 1,
                    SvcKey::Tuple { .. } => 0,
                    SvcKey::Fwmark { .. } => 2,
                };
                let svc = s.lock();
                (!svc.gone && svc.nat_dest(af, addr, port).is_some()).then_some((rank, s))
            })
            .min_by_key(|&(rank, _)| rank)
            .map(|(_, s)| s)
    }

    /// A service with a NAT real server at `addr:port` for `protocol`
    /// (`ip_vs_has_real_service`; fwmark services for any).
    pub(crate) fn real_service_at(
        &self,
        af: u16,
        protocol: u8,
        addr: &Addr,
        port: [u8; 2],
    ) -> Option<&SvcRef> {
        self.list.iter().find(|s| {
            let fits = match s.key {
                SvcKey::Tuple { protocol: p, .. } => p == u16::from(protocol),
                SvcKey::Fwmark { .. } => true,
            };
            fits && {
                let svc = s.lock();
                !svc.gone
                    && svc.dests.iter().any(|d| {
                        d.fwd == conn_flags::MASQ
                            && d.af == af
                            && d.port == port
                            && addr_eq(af, &d.addr, addr)
                    })
            }
        })
    }
}

/// A service found for a packet: in a view, or (while the view lags
/// behind the table) a reference taken under the table's lock.
pub(crate) enum Found<'a> {
    /// In the view, for as long as the caller's RCU read side.
    Viewed(&'a SvcRef),
    /// From the table.
    Held(SvcRef),
}

impl core::ops::Deref for Found<'_> {
    type Target = SvcNode;

    fn deref(&self) -> &SvcNode {
        match self {
            Found::Viewed(s) => s,
            Found::Held(s) => s,
        }
    }
}
