// SPDX-License-Identifier: GPL-2.0

//! The generic netlink family "IPVS": the control plane `ipvsadm` and
//! keepalived speak. Same commands, attributes and permissions as stock.

use crate::bindings;
use crate::kapi::errno::eopnotsupp;
use crate::kapi::genl::{AttrType, Dump, Family, Op, Ops, Permission, Policy, Request};
use crate::uapi::{cmd, cmd_attr, info_attr, GENL_VERSION, VERSION_CODE};
use kernel::prelude::*;

// The shared ABI constants must match the kernel's header.
const _: () = {
    assert!(cmd::GET_INFO as u32 == bindings::IPVS_CMD_GET_INFO);
    assert!(cmd::FLUSH as u32 == bindings::IPVS_CMD_FLUSH);
    assert!(cmd::MAX as u32 == bindings::IPVS_CMD_FLUSH);
    assert!(cmd_attr::MAX as u32 == bindings::IPVS_CMD_ATTR_TIMEOUT_UDP);
    assert!(info_attr::CONN_TAB_SIZE as u32 == bindings::IPVS_INFO_ATTR_CONN_TAB_SIZE);
    assert!(VERSION_CODE == bindings::IP_VS_VERSION_CODE);
    assert!(GENL_VERSION as u32 == bindings::IPVS_GENL_VERSION);
};

/// The IPVS family.
pub(crate) struct IpvsFamily;

const ATTRS: usize = cmd_attr::MAX as usize + 1;

static POLICY: Policy<ATTRS> = Policy::new([
    AttrType::Unspec, // IPVS_CMD_ATTR_UNSPEC
    AttrType::Nested, // SERVICE
    AttrType::Nested, // DEST
    AttrType::Nested, // DAEMON
    AttrType::U32,    // TIMEOUT_TCP
    AttrType::U32,    // TIMEOUT_TCP_FIN
    AttrType::U32,    // TIMEOUT_UDP
]);

const fn op(c: u8, doit: bool, dump: bool) -> Op {
    // Stock IPVS requires CAP_NET_ADMIN for every command, reads included.
    Op::new::<IpvsFamily>(c, doit, dump, Permission::Admin)
}

static OPS: Ops<16> = Ops::new([
    op(cmd::NEW_SERVICE, true, false),
    op(cmd::SET_SERVICE, true, false),
    op(cmd::DEL_SERVICE, true, false),
    op(cmd::GET_SERVICE, true, true),
    op(cmd::NEW_DEST, true, false),
    op(cmd::SET_DEST, true, false),
    op(cmd::DEL_DEST, true, false),
    op(cmd::GET_DEST, false, true),
    op(cmd::NEW_DAEMON, true, false),
    op(cmd::DEL_DAEMON, true, false),
    op(cmd::GET_DAEMON, false, true),
    op(cmd::SET_CONFIG, true, false),
    op(cmd::GET_CONFIG, true, false),
    op(cmd::GET_INFO, true, false),
    op(cmd::ZERO, true, false),
    op(cmd::FLUSH, true, false),
]);

/// Size of the connection table, reported by `IPVS_CMD_GET_INFO`.
pub(crate) fn conn_tab_size() -> u32 {
    // SAFETY: reads a module parameter.
    1 << unsafe { bindings::ipvs_rs_conn_tab_bits() }
}

impl Family for IpvsFamily {
    const NAME: &'static core::ffi::CStr = c"IPVS";
    const VERSION: u32 = GENL_VERSION as u32;
    const RESV_START_OP: u8 = cmd::FLUSH + 1;
    const ATTRS: usize = ATTRS;

    fn policy() -> &'static [bindings::nla_policy] {
        POLICY.as_slice()
    }

    fn ops() -> &'static [Op] {
        OPS.as_slice()
    }

    fn doit(c: u8, req: &mut Request<'_>) -> Result {
        match c {
            cmd::GET_INFO => req.reply(cmd::SET_INFO, |m| {
                m.put_u32(info_attr::VERSION, VERSION_CODE)?;
                m.put_u32(info_attr::CONN_TAB_SIZE, conn_tab_size())
            }),
            cmd::GET_SERVICE => {
                // No command creates services yet, so none can be found.
                req.set_err_msg(c"ipvs_rs: no such service");
                Err(ESRCH)
            }
            _ => {
                req.set_err_msg(c"ipvs_rs: command not implemented yet");
                Err(eopnotsupp())
            }
        }
    }

    fn dumpit(c: u8, _dump: &mut Dump<'_>) -> Result {
        match c {
            // Empty listings: no services, real servers or sync daemons
            // exist yet.
            cmd::GET_SERVICE | cmd::GET_DEST | cmd::GET_DAEMON => Ok(()),
            _ => Err(eopnotsupp()),
        }
    }
}
