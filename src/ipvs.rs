// SPDX-License-Identifier: GPL-2.0

//! ipvs_rs: IP Virtual Server, the kernel's layer-4 load balancer, in Rust.
//!
//! A drop-in replacement for `ip_vs.ko`: same generic netlink family, same
//! sysctls. Load one or the other.

use kernel::prelude::*;

mod app;
mod app_ftp;
mod bindings;
mod config;
mod conn;
mod csum;
mod daemon;
mod defense;
mod estimator;
mod ftp;
mod glue;
mod hash;
mod hooks;
// Abstractions and parsers grow ahead of their IPVS users.
#[allow(dead_code)]
mod kapi;
mod kunit_tests;
mod listing;
mod nat;
mod netlink;
mod netns;
mod newconn;
#[allow(dead_code)]
mod nlattr;
mod packet;
mod params;
mod procfs;
mod sched;
mod sctp;
mod service;
mod sip;
mod state;
mod svc_index;
mod sync;
mod sync_msg;
// The whole ABI, used piecemeal.
#[allow(dead_code)]
mod uapi;
mod xmit;

use kapi::{genl, module, pernet};
// The container the pure-logic files store into (`host/` has a twin).
pub(crate) use kapi::list;
pub(crate) use kapi::percpu;
pub(crate) use kapi::rhash;
pub(crate) use kapi::route;

module! {
    type: IpvsModule,
    name: "ipvs_rs",
    author: "ipvs-rs developers",
    description: "IP Virtual Server (layer-4 load balancer) in Rust",
    license: "GPL",
}

/// The module: its registrations, torn down in field order.
struct IpvsModule {
    _gate: module::Registration<StockGate>,
    _glue: pernet::Registration<glue::NetGlue>,
    _family: genl::Registration<netlink::IpvsFamily>,
    _state: pernet::Registration<netns::IpvsNet>,
    /// The namespaces' connections are all freed by then.
    _conns: kapi::slab::CacheGuard<conn::Conn>,
    /// Last: real servers' routes freed after a grace period (the last
    /// connections drop them in RCU callbacks) are gone before the code.
    _rcu: kapi::rcu::Barrier,
}

impl kernel::Module for IpvsModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let conns = conn::CONNS.create(c"ipvs_rs_conn")?;
        let state = pernet::Registration::new()?;
        // The family name is the one stock IPVS registers, so this is where
        // a loaded ip_vs.ko shows, before we touch hooks or sysctls.
        let family = genl::Registration::new().inspect_err(|&e| {
            if e == EEXIST {
                pr_err!(
                    "ip_vs.ko is loaded (generic netlink family IPVS exists): unload it first\n"
                );
            }
        })?;
        let glue = pernet::Registration::new()?;
        let gate = module::Registration::new()?;
        pr_info!(
            "IPVS {}.{}.{} loaded (connection table up to {} buckets, {} bytes a connection)\n",
            uapi::version_triple(uapi::VERSION_CODE).0,
            uapi::version_triple(uapi::VERSION_CODE).1,
            uapi::version_triple(uapi::VERSION_CODE).2,
            1u32 << kapi::abi::conn_tab_bits(),
            core::mem::size_of::<conn::Conn>()
        );
        Ok(Self {
            _gate: gate,
            _glue: glue,
            _family: family,
            _state: state,
            _conns: conns,
            _rcu: kapi::rcu::Barrier,
        })
    }
}

/// Keeps stock `ip_vs.ko` out while we are loaded. Its init would register
/// the same sysctls, fail, and on that failure 6.12's sysctl core erases
/// entries it never inserted (`insert_header()` error path), dropping ours
/// from `/proc/sys/net/ipv4/vs`. Refusing it before its init avoids that.
struct StockGate;

impl module::ModuleGate for StockGate {
    fn coming(name: &core::ffi::CStr) -> Result {
        if name == c"ip_vs" {
            pr_err!("refusing to load ip_vs.ko: ipvs_rs.ko provides IPVS; unload it first\n");
            // Not EEXIST: modprobe takes that for "already loaded" and
            // reports success.
            return Err(EBUSY);
        }
        Ok(())
    }
}
