// SPDX-License-Identifier: GPL-2.0

//! ipvs_rs: IP Virtual Server, the kernel's layer-4 load balancer, in Rust.
//!
//! A drop-in replacement for `ip_vs.ko`: same generic netlink family, same
//! sysctls. Load one or the other.

use kernel::prelude::*;

mod bindings;
mod hooks;
mod kapi;
mod kunit_tests;
mod netlink;
mod netns;
mod nlattr;
mod packet;
mod params;
mod uapi;

use kapi::{genl, pernet};

module! {
    type: IpvsModule,
    name: "ipvs_rs",
    author: "ipvs-rs developers",
    description: "IP Virtual Server (layer-4 load balancer) in Rust",
    license: "GPL",
}

/// The module: its registrations, torn down in field order.
struct IpvsModule {
    _glue: pernet::Registration<netns::NetGlue>,
    _family: genl::Registration<netlink::IpvsFamily>,
    _state: pernet::Registration<netns::IpvsNet>,
}

impl kernel::Module for IpvsModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let state = pernet::Registration::new()?;
        // The family name is the one stock IPVS registers, so this is where
        // a loaded ip_vs.ko shows, before we touch hooks or sysctls.
        let family = genl::Registration::new().map_err(|e| {
            if e == EEXIST {
                pr_err!("ip_vs.ko is loaded (generic netlink family IPVS exists): unload it first\n");
            }
            e
        })?;
        let glue = pernet::Registration::new()?;
        pr_info!(
            "IPVS {}.{}.{} loaded (connection table size {})\n",
            uapi::version_triple(uapi::VERSION_CODE).0,
            uapi::version_triple(uapi::VERSION_CODE).1,
            uapi::version_triple(uapi::VERSION_CODE).2,
            netlink::conn_tab_size()
        );
        Ok(Self {
            _glue: glue,
            _family: family,
            _state: state,
        })
    }
}
