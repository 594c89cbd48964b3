// SPDX-License-Identifier: GPL-2.0

//! Per-network-namespace IPVS state.
//!
//! Two pernet registrations, as stock IPVS has: [`IpvsNet`] holds the data
//! (knob values, counters, the netfilter hooks, attached with a family's
//! first service) and is registered first; [`crate::glue::NetGlue`]
//! attaches the sysctl table, `/proc` files and ticker to it and is
//! registered after, so it always finds the data in place and is torn down
//! before it.

use crate::config::{Table, Timeouts};
use crate::conn::ConnTable;
use crate::defense::{self, Defense};
use crate::hash::SipKey;
use crate::kapi::abi::hz;
use crate::kapi::net::Net;
use crate::kapi::pernet::{PernetId, PernetState};
use crate::kapi::rhash::ReadSide;
use crate::kapi::sync::SpinLockBh;
use crate::kapi::timer::Tick;
use crate::kapi::{netfilter, rcu};
use crate::list::{share, Shared};
use crate::params::{self, Handler, Sysctl, SYSCTLS};
use crate::service::{Counters, DestShared, Estimator, AF_INET, AF_INET6};
use crate::svc_index::{Found, Services, SvcRef};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use kernel::prelude::*;
use kernel::sync::Mutex;

/// IPVS state of one network namespace.
pub(crate) struct IpvsNet {
    /// Connection sync daemons; stopped first on teardown (see `Drop`).
    pub(crate) sync: crate::sync::SyncState,
    /// The `int` knobs; the others below.
    pub(crate) sysctls: [AtomicI32; params::COUNT],
    /// `sync_threshold`: threshold and period.
    pub(crate) sync_threshold: [AtomicI32; 2],
    /// `sync_qlen_max`.
    pub(crate) sync_qlen_max: AtomicUsize,
    /// `est_cpulist` (see [`crate::kapi::sysctl::Entry::cpulist`]).
    pub(crate) est_cpulist: AtomicU64,
    /// Services and real servers, as the control plane changes them;
    /// nothing under the lock sleeps.
    pub(crate) config: Pin<KBox<SpinLockBh<Table>>>,
    /// The services as the packet path finds them, without that lock
    /// (see [`IpvsNet::publish_services`]).
    services: rcu::Pointer<Services>,
    /// `services` lags behind the table: lookups go to the table (under
    /// its lock) until the next publication.
    view_stale: AtomicBool,
    /// Connections.
    pub(crate) conns: Pin<KBox<ConnTable>>,
    /// Totals over all services (`/proc/net/ip_vs_stats`).
    pub(crate) totals: Counters,
    /// What `cache_bypass` connections point at instead of a real server
    /// (stock: none), and count on, unseen.
    pub(crate) bypass: Shared<DestShared>,
    /// Their service counters, unseen too.
    pub(crate) bypass_stats: Shared<Counters>,
    /// The memory-pressure defense as last assessed.
    pub(crate) defense: Defense,
    /// Ticks of the one-second timer (see [`Tick`]).
    ticks: AtomicU32,
    /// The `--set` timeouts, seconds, readable without the lock.
    timeouts: [AtomicU32; 3],
    /// Services with the SIP persistence engine (their real servers start
    /// connections: see [`crate::newconn::conn_out`]).
    sip_services: AtomicU32,
    /// IPv6 reassembly, on from the first IPv6 service or real server.
    pub(crate) defrag6: netfilter::Ipv6Defrag,
    /// Conntrack for IPv4 (0) and IPv6 (1), on from the first NAT real
    /// server of a port-21 service (the FTP helper rewrites through it);
    /// stock turns it off with the service, here with the namespace.
    pub(crate) ftp_ct: [netfilter::Conntrack; 2],
    /// The netfilter hooks of IPv4 (slot 0) and IPv6 (slot 1), each
    /// attached while the family has services (see
    /// [`crate::hooks::follow_services`]), and their `fast_path` hooks
    /// (slots 2 and 3); detached first on teardown.
    pub(crate) hooks: Pin<KBox<Mutex<netfilter::OnDemand<4>>>>,
    /// The rate estimator's thread, while it runs (see
    /// [`crate::estimator`]); stopped first on teardown.
    pub(crate) est_thread: Pin<KBox<Mutex<Option<crate::estimator::Running>>>>,
    /// The namespace has had a service (the estimator runs from then).
    had_services: AtomicBool,
}

static IPVS_NET: PernetId<IpvsNet> = PernetId::new();

/// Up to this many services, every change publishes a new view of them
/// at once (the copy is cheap); with more, the one-second ticker does.
const EAGER_SERVICES: usize = 256;

impl PernetState for IpvsNet {
    fn id() -> &'static PernetId<Self> {
        &IPVS_NET
    }

    fn init(net: &Net) -> Result<Self> {
        let t = Timeouts::default();
        let mut table = Table::new();
        let seed = |_| u64::from(crate::kapi::abi::random_u32());
        table.set_seed(seed(0) << 32 | seed(1));
        let free_pages = crate::kapi::abi::free_buffer_pages();
        Ok(Self {
            sync: crate::sync::SyncState::new()?,
            sysctls: core::array::from_fn(|i| {
                let def = &SYSCTLS[i];
                let v = if def.handler == Handler::Jiffies {
                    def.default.saturating_mul(hz() as i32)
                } else {
                    def.default
                };
                AtomicI32::new(v)
            }),
            sync_threshold: params::SYNC_THRESHOLD.map(AtomicI32::new),
            // Stock: a 32nd of the free buffer pages.
            sync_qlen_max: AtomicUsize::new(free_pages / 32),
            est_cpulist: AtomicU64::new(0),
            config: KBox::pin_init(
                crate::new_spinlock_bh!(table, kernel::c_str!("ipvs_rs::config")),
                GFP_KERNEL,
            )?,
            services: rcu::Pointer::new(),
            view_stale: AtomicBool::new(false),
            // SAFETY: the table is part of this namespace's pernet state,
            // dropped before the namespace goes.
            conns: unsafe {
                ConnTable::new(
                    crate::kapi::abi::conn_tab_bits(),
                    SYSCTLS[Sysctl::ConnLfactor as usize].default,
                    SipKey(crate::kapi::abi::random_u64s()),
                    Some(net),
                )
            }?,
            totals: Counters::default(),
            bypass: {
                let d = share(DestShared::default()).map_err(|_| ENOMEM)?;
                // Never quiescent either.
                d.available.store(true, Ordering::Relaxed);
                d.weight.store(1, Ordering::Relaxed);
                d
            },
            bypass_stats: share(Counters::default()).map_err(|_| ENOMEM)?,
            defense: Defense::default(),
            ticks: AtomicU32::new(0),
            timeouts: [t.tcp, t.tcp_fin, t.udp].map(AtomicU32::new),
            sip_services: AtomicU32::new(0),
            // SAFETY: part of this namespace's pernet state.
            defrag6: unsafe { netfilter::Ipv6Defrag::new(net) },
            // SAFETY: part of this namespace's pernet state.
            ftp_ct: [AF_INET, AF_INET6].map(|af| unsafe { netfilter::Conntrack::new(net, af) }),
            hooks: KBox::pin_init(
                kernel::new_mutex!(
                    // SAFETY: part of this namespace's pernet state.
                    unsafe { netfilter::OnDemand::new(net) },
                    "ipvs_rs::hooks"
                ),
                GFP_KERNEL,
            )?,
            est_thread: KBox::pin_init(
                kernel::new_mutex!(None, "ipvs_rs::est_thread"),
                GFP_KERNEL,
            )?,
            had_services: AtomicBool::new(false),
        })
    }
}

impl IpvsNet {
    /// Whether the namespace has had a service since it began.
    pub(crate) fn had_services(&self) -> bool {
        if !self.had_services.load(Ordering::Relaxed)
            && self.config.lock().families().contains(&true)
        {
            self.had_services.store(true, Ordering::Relaxed);
        }
        self.had_services.load(Ordering::Relaxed)
    }

    /// The CPUs `est_cpulist` names.
    pub(crate) fn est_cpus(&self) -> u64 {
        crate::kapi::sysctl::cpulist_cpus(self.est_cpulist.load(Ordering::Relaxed))
    }

    /// The state of `net`; `None` only while the module loads or unloads.
    pub(crate) fn get(net: &Net) -> Option<&IpvsNet> {
        IPVS_NET.get(net)
    }

    /// [`IpvsNet::get`] in the packet path (under a hook's RCU read side).
    pub(crate) fn get_rcu<'a>(net: &'a Net, rcu: &impl ReadSide) -> Option<&'a IpvsNet> {
        IPVS_NET.get_rcu(net, rcu)
    }

    /// The connection timeouts `--set` changed, seconds.
    pub(crate) fn timeouts(&self) -> Timeouts {
        let [tcp, tcp_fin, udp] = &self.timeouts;
        Timeouts {
            tcp: tcp.load(Ordering::Relaxed),
            tcp_fin: tcp_fin.load(Ordering::Relaxed),
            udp: udp.load(Ordering::Relaxed),
        }
    }

    /// Publishes new timeouts to the packet path.
    pub(crate) fn publish_timeouts(&self, t: &Timeouts) {
        for (a, v) in self.timeouts.iter().zip([t.tcp, t.tcp_fin, t.udp]) {
            a.store(v, Ordering::Relaxed);
        }
    }

    /// After a configuration change (`tick` false) or on the ticker:
    /// publishes the services for the packet path if services were added
    /// or deleted since it was last done. A view copies the index and
    /// the list, so with more than [`EAGER_SERVICES`] only the ticker
    /// does (a burst of commands, such as `ipvsadm -R` or a proxy's
    /// resync, pays for one copy a second); until then, and if memory
    /// runs out, lookups go to the table.
    pub(crate) fn publish_services(&self, table: &mut Table, tick: bool) {
        if !table.view_stale() {
            return;
        }
        self.view_stale.store(true, Ordering::Release);
        if !tick && table.services().len() > EAGER_SERVICES {
            return;
        }
        if table.view().is_ok_and(|v| self.services.set(v).is_ok()) {
            table.view_published();
            // After the view: whoever reads `false` then finds it.
            self.view_stale.store(false, Ordering::Release);
        }
    }

    /// What `find` finds in the services as the packet path sees them:
    /// the view under `rcu`, or while the view lags, the table (under its
    /// lock; a reference to what it finds is taken then).
    pub(crate) fn find_service<'a, R, F>(&'a self, rcu: &'a R, find: F) -> Option<Found<'a>>
    where
        R: ReadSide,
        F: for<'s> Fn(&'s Services) -> Option<&'s SvcRef>,
    {
        if !self.view_stale.load(Ordering::Acquire) {
            return find(self.services.get(rcu)?).map(Found::Viewed);
        }
        let table = self.config.lock();
        find(table.svcs()).cloned().map(Found::Held)
    }

    /// Whether any service uses the SIP persistence engine.
    pub(crate) fn has_sip_services(&self) -> bool {
        self.sip_services.load(Ordering::Relaxed) != 0
    }

    /// Publishes how many services use the SIP persistence engine (after
    /// each configuration change).
    pub(crate) fn publish_sip_services(&self, table: &Table) {
        let n = table.sip_services();
        self.sip_services.store(n as u32, Ordering::Relaxed);
    }

    /// Current value of an `int` knob (the others read as their default).
    pub(crate) fn sysctl(&self, s: Sysctl) -> i32 {
        self.sysctls[s as usize].load(Ordering::Relaxed)
    }

    /// Assesses the defense against memory pressure: every second and
    /// after each write to a mode knob (stock `update_defense_level`).
    /// Modes 1 and 2 switch to each other; a write in between wins.
    pub(crate) fn update_defense(&self) {
        let knobs = || defense::Knobs {
            drop_entry: self.sysctl(Sysctl::DropEntry),
            drop_packet: self.sysctl(Sysctl::DropPacket),
            secure_tcp: self.sysctl(Sysctl::SecureTcp),
            amemthresh: self.sysctl(Sysctl::Amemthresh),
            am_droprate: self.sysctl(Sysctl::AmDroprate),
        };
        let mut k = knobs();
        loop {
            let avail = crate::kapi::abi::avail_pages();
            let l = defense::assess(&k, i64::try_from(avail).unwrap_or(i64::MAX));
            for (s, was, now) in [
                (Sysctl::DropEntry, k.drop_entry, l.drop_entry),
                (Sysctl::DropPacket, k.drop_packet, l.drop_packet),
                (Sysctl::SecureTcp, k.secure_tcp, l.secure_tcp),
            ] {
                // Lost to a write meanwhile: see below.
                let _ = self.sysctls[s as usize].compare_exchange(
                    was,
                    now,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            self.defense.apply(&l);
            // A write since `k` was read (a mode, or the tick's run racing
            // a write's) may have applied its own assessment before this
            // one: the knobs tell, and the last apply must follow them.
            let now = knobs();
            if now == k.after(&l) {
                break;
            }
            k = now;
        }
    }

    /// `sync_threshold`: the threshold and the period.
    pub(crate) fn sync_threshold(&self) -> [i32; 2] {
        self.sync_threshold
            .each_ref()
            .map(|v| v.load(Ordering::Relaxed))
    }

    /// `sync_qlen_max`: messages a master sender may have queued.
    pub(crate) fn sync_qlen_max(&self) -> usize {
        self.sync_qlen_max.load(Ordering::Relaxed)
    }
}

impl Drop for IpvsNet {
    fn drop(&mut self) {
        // No packet may find this state half gone: the hooks go first.
        let mut hooks = self.hooks.lock();
        for slot in (0..4).rev() {
            hooks.detach(slot);
        }
        drop(hooks);
        // The daemons' and the estimator's threads borrow this state: they
        // stop before any field goes.
        self.sync.stop_all();
        *self.est_thread.lock() = None;
    }
}

/// Every second the defense (stock's `defense_work`) and a look at the
/// estimator's thread (see [`crate::estimator::follow`]); every other
/// second the schedulers' aging and the tables' size checks. Process
/// context.
impl Tick for IpvsNet {
    fn tick(&self) {
        self.update_defense();
        // A view held back by a burst of commands (or by memory) goes out.
        self.publish_services(&mut self.config.lock(), true);
        if self.defense.dropping_entries() {
            self.conns
                .drop_random_entries(|| self.defense.dropping_entries());
        }
        crate::estimator::follow(self);
        if self.ticks.fetch_add(1, Ordering::Relaxed) % Estimator::PERIOD_SECS == 0 {
            return;
        }
        // Also where the tables follow their load factors' sysctls, and
        // the connection table shrinks.
        self.conns.check_size(self.sysctl(Sysctl::ConnLfactor));
        let mut config = self.config.lock();
        config.set_svc_lfactor(self.sysctl(Sysctl::SvcLfactor));
        config.tick_schedulers(self);
    }
}

/// What the schedulers ask of the kernel.
impl crate::sched::Env for IpvsNet {
    fn now(&self) -> u64 {
        crate::kapi::timer::jiffies()
    }

    fn hz(&self) -> u64 {
        hz().into()
    }

    fn random_u32(&self) -> u32 {
        crate::kapi::abi::random_u32()
    }

    fn lblc_expiration(&self) -> u64 {
        self.sysctl(Sysctl::LblcExpiration).max(0) as u64
    }

    fn lblcr_expiration(&self) -> u64 {
        self.sysctl(Sysctl::LblcrExpiration).max(0) as u64
    }
}
