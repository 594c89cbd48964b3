// SPDX-License-Identifier: GPL-2.0

//! What ties a namespace's IPVS state to the rest of the kernel: its
//! sysctl table, `/proc` files and one-second ticker (the second of the two
//! pernet registrations described in [`crate::netns`]).

use crate::kapi::abi::hz;
use crate::kapi::net::Net;
use crate::kapi::pernet::{PernetId, PernetState};
use crate::kapi::timer::Ticker;
use crate::kapi::{proc, sysctl};
use crate::netns::IpvsNet;
use crate::params::{self, Handler, SYSCTLS};
use crate::procfs;
use kernel::prelude::*;

/// Bounds referenced by `IntRange` entries; `proc_dointvec_minmax` wants
/// pointers to ints that live as long as the table.
static BOUNDS: [[i32; 2]; params::COUNT] = {
    let mut b = [[0; 2]; params::COUNT];
    let mut i = 0;
    while i < params::COUNT {
        if let Handler::IntRange(min, max) = SYSCTLS[i].handler {
            b[i] = [min, max];
        }
        i += 1;
    }
    b
};

/// The defense modes: a change is assessed at once.
static DEFENSE: sysctl::Notify<IpvsNet> = sysctl::Notify {
    min: 0,
    max: 3,
    changed: IpvsNet::update_defense,
};

/// `fast_path`: a change attaches or detaches its hooks at once.
static FAST_PATH: sysctl::Notify<IpvsNet> = sysctl::Notify {
    min: 0,
    max: 1,
    changed: crate::hooks::follow_fast_path,
};

/// The checks of the knobs that validate writes themselves.
static POWER_OF_TWO: sysctl::Check = sysctl::Check(|v| Handler::PowerOfTwo.accepts(v));
static THRESHOLD: sysctl::Check = sysctl::Check(|v| Handler::Threshold.accepts(v));

/// What ties a namespace's [`IpvsNet`] to the rest of the kernel.
pub(crate) struct NetGlue {
    _sysctls: sysctl::Table,
    _proc: [proc::Entry; 6],
    _estimator: Pin<KBox<Ticker<IpvsNet>>>,
}

static NET_GLUE: PernetId<NetGlue> = PernetId::new();

impl PernetState for NetGlue {
    fn id() -> &'static PernetId<Self> {
        &NET_GLUE
    }

    fn init(net: &Net) -> Result<Self> {
        // Registered after `IpvsNet` (see `crate::IpvsModule`).
        let ipvs = IpvsNet::get(net).ok_or(ENOENT)?;
        let unpriv = !net.owned_by_init_user_ns();
        let entries =
            SYSCTLS
                .iter()
                .zip(&ipvs.sysctls)
                .zip(&BOUNDS)
                .map(|((def, value), bound)| {
                    let mode = if unpriv && def.unpriv_read_only {
                        0o444
                    } else {
                        0o644
                    };
                    let int = |kind| sysctl::Entry::int(def.name, value, mode, kind);
                    match def.handler {
                        Handler::Int => int(sysctl::IntKind::Any),
                        Handler::IntRange(..) => int(sysctl::IntKind::Range(&bound[0], &bound[1])),
                        // SAFETY: `ipvs` outlives the table (see below).
                        Handler::Defense => unsafe {
                            sysctl::Entry::notifying(def.name, value, mode, &DEFENSE, ipvs)
                        },
                        // SAFETY: as above.
                        Handler::FastPath => unsafe {
                            sysctl::Entry::notifying(def.name, value, mode, &FAST_PATH, ipvs)
                        },
                        Handler::Jiffies => int(sysctl::IntKind::Jiffies),
                        Handler::PowerOfTwo => sysctl::Entry::checked(
                            def.name,
                            core::slice::from_ref(value),
                            mode,
                            &POWER_OF_TWO,
                        ),
                        Handler::Threshold => {
                            sysctl::Entry::checked(def.name, &ipvs.sync_threshold, mode, &THRESHOLD)
                        }
                        Handler::ULong => sysctl::Entry::ulong(def.name, &ipvs.sync_qlen_max, mode),
                        Handler::CpuList => {
                            sysctl::Entry::cpulist(def.name, &ipvs.est_cpulist, mode)
                        }
                    }
                });
        // SAFETY: the values live in this namespace's `IpvsNet`, which is
        // dropped after this `NetGlue` (reverse registration order), and the
        // table is dropped with the namespace's glue, before `net` goes.
        let sysctls = unsafe { sysctl::Table::register(net, c"net/ipv4/vs", entries)? };
        // SAFETY: all six entries are kept in this namespace's pernet
        // state and dropped before the namespace is freed.
        let proc = unsafe {
            [
                proc::Entry::new::<procfs::Info>(net)?,
                proc::Entry::new::<procfs::Stats>(net)?,
                proc::Entry::walk(net, &procfs::CONN)?,
                proc::Entry::walk(net, &procfs::CONN_SYNC)?,
                proc::Entry::new::<procfs::SyncStats>(net)?,
                proc::Entry::new::<procfs::Status>(net)?,
            ]
        };
        let period = u64::from(hz());
        // SAFETY: `ipvs` outlives this `NetGlue` (reverse registration
        // order), which owns the ticker.
        let estimator = unsafe { Ticker::start(ipvs, period)? };
        Ok(Self {
            _sysctls: sysctls,
            _proc: proc,
            _estimator: estimator,
        })
    }
}
