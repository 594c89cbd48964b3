//! The module's pure-logic files, compiled for the host so that `cargo test`
//! (and later property tests and fuzzers) exercise the exact same code the
//! kernel runs. Nothing here may use the `kernel` crate.

#![allow(dead_code)]

#[path = "../../src/config.rs"]
pub mod config;
#[path = "../../src/csum.rs"]
pub mod csum;
#[path = "../../src/daemon.rs"]
pub mod daemon;
#[path = "../../src/defense.rs"]
pub mod defense;
#[path = "../../src/ftp.rs"]
pub mod ftp;
#[path = "../../src/hash.rs"]
pub mod hash;
pub(crate) mod list;
#[path = "../../src/listing.rs"]
pub mod listing;
#[path = "../../src/nat.rs"]
pub mod nat;
#[path = "../../src/nlattr.rs"]
pub mod nlattr;
#[path = "../../src/packet.rs"]
pub mod packet;
#[path = "../../src/params.rs"]
pub mod params;
pub(crate) mod percpu;
#[path = "../../src/kapi/rhash.rs"]
pub mod rhash;
#[cfg(test)]
mod rhash_tests;
pub(crate) mod route;
#[path = "../../src/sched/mod.rs"]
pub mod sched;
#[path = "../../src/sctp.rs"]
pub mod sctp;
#[path = "../../src/service.rs"]
pub mod service;
#[path = "../../src/sip.rs"]
pub mod sip;
#[path = "../../src/state.rs"]
pub mod state;
#[path = "../../src/svc_index.rs"]
pub mod svc_index;
#[path = "../../src/sync_msg.rs"]
pub mod sync_msg;
#[path = "../../src/uapi.rs"]
pub mod uapi;
#[cfg(test)]
mod xorshift;
