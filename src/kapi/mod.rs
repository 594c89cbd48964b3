// SPDX-License-Identifier: GPL-2.0

//! Safe abstractions over the kernel APIs that the `kernel` crate of 6.12
//! does not cover: network namespaces, netfilter hooks, generic netlink,
//! sysctl tables, RCU and socket buffers, and KUnit registration.
//!
//! Every `unsafe` use of [`crate::bindings`] lives in this module.

pub mod genl;
pub mod kunit;
pub mod net;
pub mod netfilter;
pub mod pernet;
pub mod rcu;
pub mod skb;
pub mod sysctl;
