// SPDX-License-Identifier: GPL-2.0

//! Safe abstractions over the kernel APIs that the `kernel` crate of 6.12
//! does not cover: network namespaces, netfilter hooks, generic netlink,
//! sysctl tables, RCU and socket buffers, and KUnit registration.
//!
//! Every `unsafe` use of [`crate::bindings`] lives in this module.

pub(crate) mod abi;
pub(crate) mod errno;
pub(crate) mod genl;
pub(crate) mod kthread;
pub(crate) mod kunit;
pub(crate) mod list;
pub(crate) mod module;
pub(crate) mod net;
pub(crate) mod netfilter;
pub(crate) mod percpu;
pub(crate) mod pernet;
pub(crate) mod proc;
pub(crate) mod rcu;
pub(crate) mod rhash;
pub(crate) mod route;
pub(crate) mod skb;
pub(crate) mod slab;
pub(crate) mod socket;
pub(crate) mod sync;
pub(crate) mod sysctl;
pub(crate) mod timer;
pub(crate) mod work;
