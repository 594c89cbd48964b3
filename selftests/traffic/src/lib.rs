// SPDX-License-Identifier: GPL-2.0

//! What the selftests' tools share.

pub mod packet_socket;
pub mod rng;
