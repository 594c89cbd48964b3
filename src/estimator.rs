// SPDX-License-Identifier: GPL-2.0

//! The rate estimator's thread (stock's `ip_vs_est.c` kthreads).
//!
//! One kernel thread per namespace, "ipvs-e:GEN:0", runs from the first
//! service on while `run_estimation` is 1 and `est_cpulist` names a CPU
//! (stock's conditions), on the CPUs of `est_cpulist` at the nice value
//! of `est_nice`. Every period ([`Estimator::PERIOD_SECS`]) it updates
//! the rates of every service, real server and the totals, a
//! [`Estimator::ROWS`]th of the services every tick, so that no tick is
//! long. Each period starts from a copy of the list of services, taken
//! under the table's lock; the rows follow it.
//!
//! Unlike stock, which spreads estimators over several threads once one
//! is full, one thread does all: the rates need one pass of counter sums
//! a period, which a thread keeps up with at the sizes the service index
//! holds (measured in `Documentation/performance.rst`).

use crate::kapi::kthread::{self, Kthread, ThreadFn};
use crate::kapi::timer::jiffies;
use crate::list::List;
use crate::netns::IpvsNet;
use crate::params::Sysctl;
use crate::service::Estimator;
use crate::svc_index::SvcRef;
use kernel::prelude::*;

/// The thread's body; its state lives on its stack.
pub(crate) struct EstThread;

/// The thread of a namespace, while it runs.
pub(crate) type Running = Kthread<EstThread, IpvsNet>;

/// Jiffies between ticks: a period over [`Estimator::ROWS`].
fn tick_len(hz: u64) -> u64 {
    (u64::from(Estimator::PERIOD_SECS) * hz / Estimator::ROWS as u64).max(1)
}

impl ThreadFn<IpvsNet> for EstThread {
    fn run(&self, ipvs: &IpvsNet) {
        let hz = u64::from(crate::kapi::abi::hz());
        let period = u64::from(Estimator::PERIOD_SECS) * hz;
        let tick = tick_len(hz);
        let mut services = List::new();
        let mut steered = None;
        let mut row = 0;
        let mut due = jiffies();
        loop {
            let steer = (ipvs.sysctl(Sysctl::EstNice), ipvs.est_cpus());
            if steered != Some(steer) {
                kthread::steer(steer.0, steer.1);
                steered = Some(steer);
            }
            if row == 0 {
                copy_services(ipvs, &mut services);
                ipvs.totals.estimate(jiffies(), period);
            }
            for s in &services[Estimator::row(services.len(), row)] {
                let s = s.lock();
                let now = jiffies();
                s.stats.estimate(now, period);
                for d in s.dests.iter() {
                    d.shared.stats.estimate(now, period);
                }
            }
            row = (row + 1) % Estimator::ROWS;
            if row == 0 {
                // Deleted services go with the period.
                services.clear();
            }
            due = due.wrapping_add(tick);
            let now = jiffies();
            let mut wait = due.wrapping_sub(now);
            if wait > tick {
                // Behind (a long row, a busy CPU): the next row a tick
                // from now, not the missed ones back to back; the rates
                // scale to the time that passed.
                due = now.wrapping_add(tick);
                wait = tick;
            }
            kthread::prepare_sleep();
            if kthread::should_stop() {
                kthread::cancel_sleep();
                return;
            }
            kthread::sleep(wait);
        }
    }
}

/// Fills `out` with the namespace's services, in the table's order (on
/// allocation failure, as many as fit: the rest wait for a period).
fn copy_services(ipvs: &IpvsNet, out: &mut List<SvcRef>) {
    out.clear();
    let config = ipvs.config.lock();
    for s in config.services() {
        if out.push(s.clone()).is_err() {
            break;
        }
    }
}

/// Starts or stops the thread of `ipvs` as stock's conditions say; from
/// the namespace's one-second tick (process context).
pub(crate) fn follow(ipvs: &IpvsNet) {
    let want =
        ipvs.had_services() && ipvs.sysctl(Sysctl::RunEstimation) != 0 && ipvs.est_cpus() != 0;
    let mut slot = ipvs.est_thread.lock();
    if want == slot.is_some() {
        return;
    }
    if !want {
        pr_info!("stopping estimator thread 0...\n");
        // Dropping the handle stops the thread and waits for it.
        *slot = None;
        return;
    }
    let name = crate::sync::name('e', ipvs.sync.gen(), 0);
    let name = crate::sync::cstr(&name);
    // SAFETY: the handle lives in `ipvs` and is dropped before the rest
    // of it (`IpvsNet::drop` stops the thread first).
    match unsafe { Kthread::start(EstThread, ipvs, name) } {
        Ok(t) => {
            pr_info!("starting estimator thread 0...\n");
            *slot = Some(t);
        }
        // Tried again next tick.
        Err(e) => pr_err!("cannot start the estimator thread: {:?}\n", e),
    }
}
