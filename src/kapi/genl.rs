// SPDX-License-Identifier: GPL-2.0

//! Generic netlink families (`genl_register_family`).
//!
//! A [`Family`] names its commands in a static [`Ops`] table and answers
//! them in [`Family::doit`] (one request, one reply) and [`Family::dumpit`]
//! (a listing that may span several reply buffers).

use crate::bindings;
use crate::kapi::errno::emsgsize;
use crate::kapi::net::Net;
use crate::nlattr::Attr;
use kernel::error::{to_result, Error, Result};
use kernel::ffi::{c_int, c_long};
use kernel::prelude::*;
use kernel::types::Opaque;

/// One entry of a [`Policy`] (`struct nla_policy`).
#[repr(transparent)]
pub(crate) struct PolicyEntry(bindings::nla_policy);

/// Attribute validation policy of a family's top-level attributes.
pub(crate) struct Policy<const N: usize>([PolicyEntry; N]);

// SAFETY: never written after construction; holds no pointers but NULL.
unsafe impl<const N: usize> Sync for Policy<N> {}

/// Type of one top-level attribute.
#[derive(Clone, Copy)]
pub(crate) enum AttrType {
    /// Not accepted.
    Unspec,
    /// Nested attributes, checked by the command itself.
    Nested,
    /// A `u32`.
    U32,
}

impl<const N: usize> Policy<N> {
    /// Builds a policy; index `i` describes attribute type `i`.
    pub(crate) const fn new(types: [AttrType; N]) -> Self {
        // SAFETY: `nla_policy` is plain data; all-zero is `NLA_UNSPEC`.
        let mut p: [PolicyEntry; N] = unsafe { core::mem::zeroed() };
        let mut i = 0;
        while i < N {
            p[i].0.type_ = match types[i] {
                AttrType::Unspec => bindings::NLA_UNSPEC as u8,
                AttrType::Nested => bindings::NLA_NESTED as u8,
                AttrType::U32 => bindings::NLA_U32 as u8,
            };
            i += 1;
        }
        Self(p)
    }
}

/// Who may run a command.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permission {
    /// Anyone.
    Any,
    /// CAP_NET_ADMIN in the user namespace that owns the request's
    /// network namespace (`GENL_UNS_ADMIN_PERM`).
    NetnsAdmin,
}

/// One command of a family.
pub(crate) struct Op(bindings::genl_small_ops);

impl Op {
    /// Command `cmd`, answered by `F::doit` when `doit`, by `F::dumpit` when
    /// `dump`.
    pub(crate) const fn new<F: Family>(cmd: u8, doit: bool, dump: bool, perm: Permission) -> Self {
        // SAFETY: plain data; zero is the C default.
        let mut op: bindings::genl_small_ops = unsafe { core::mem::zeroed() };
        op.cmd = cmd;
        if doit {
            op.doit = Some(doit_callback::<F>);
        }
        if dump {
            op.dumpit = Some(dumpit_callback::<F>);
        }
        if matches!(perm, Permission::NetnsAdmin) {
            op.flags = bindings::GENL_UNS_ADMIN_PERM as u8;
        }
        // As stock IPVS: commands parse their nested attributes themselves.
        op.validate = (bindings::genl_validate_flags_GENL_DONT_VALIDATE_STRICT
            | bindings::genl_validate_flags_GENL_DONT_VALIDATE_DUMP) as u8;
        Self(op)
    }
}

/// The command table of a family.
pub(crate) struct Ops<const N: usize>([Op; N]);

// SAFETY: never written after construction; the pointers are functions.
unsafe impl<const N: usize> Sync for Ops<N> {}

impl<const N: usize> Ops<N> {
    /// Builds the table.
    pub(crate) const fn new(ops: [Op; N]) -> Self {
        Self(ops)
    }
}

/// A generic netlink family.
pub(crate) trait Family: Sized + 'static {
    /// Family name.
    const NAME: &'static core::ffi::CStr;
    /// Family version.
    const VERSION: u32;
    /// Commands numbered below this one accept attributes the policy does not
    /// know (`resv_start_op`).
    const RESV_START_OP: u8;
    /// Number of top-level attribute types (`maxattr` + 1).
    const ATTRS: usize;
    /// Top-level attribute policy.
    fn policy() -> &'static [PolicyEntry];
    /// Commands.
    fn ops() -> &'static [Op];
    /// Answers a request.
    fn doit(cmd: u8, req: &mut Request<'_>) -> Result;
    /// Fills one buffer of a listing; called again while it adds messages.
    fn dumpit(cmd: u8, dump: &mut Dump<'_>) -> Result;
}

impl<const N: usize> Policy<N> {
    /// The policy as the slice [`Family::policy`] returns.
    pub(crate) const fn as_slice(&'static self) -> &'static [PolicyEntry] {
        &self.0
    }
}

impl<const N: usize> Ops<N> {
    /// The table as the slice [`Family::ops`] returns.
    pub(crate) fn as_slice(&'static self) -> &'static [Op] {
        &self.0
    }
}

/// A registered family; unregistered on drop.
pub(crate) struct Registration<F: Family> {
    family: KBox<Opaque<bindings::genl_family>>,
    _type: core::marker::PhantomData<F>,
}

// SAFETY: a handle; unregistering may run on any thread.
unsafe impl<F: Family> Send for Registration<F> {}
// SAFETY: no method takes `&self`.
unsafe impl<F: Family> Sync for Registration<F> {}

impl<F: Family> Registration<F> {
    /// Registers the family. Fails with `EEXIST` if the name is taken.
    pub(crate) fn new() -> Result<Self> {
        let mut name = [0; bindings::GENL_NAMSIZ as usize];
        let src = F::NAME.to_bytes();
        if src.len() >= name.len() {
            return Err(EINVAL);
        }
        for (d, s) in name.iter_mut().zip(src) {
            *d = *s;
        }
        let ops = F::ops();
        let mut family = bindings::genl_family {
            name,
            version: F::VERSION,
            maxattr: u32::try_from(F::ATTRS - 1)?,
            // `PolicyEntry` is a transparent `nla_policy`.
            policy: F::policy().as_ptr().cast(),
            // `Op` is a transparent wrapper in layout: a one-field struct.
            small_ops: ops.as_ptr().cast(),
            n_small_ops: u8::try_from(ops.len())?,
            resv_start_op: F::RESV_START_OP,
            // SAFETY: returns this module's `struct module`.
            module: unsafe { bindings::ipvs_rs_this_module() },
            ..Default::default()
        };
        family.set_netnsok(1);
        family.set_parallel_ops(1);
        let family = KBox::new(Opaque::new(family), GFP_KERNEL)?;
        // SAFETY: `family` is boxed (stable address) and, with the static
        // policy and ops it points to, outlives the registration.
        to_result(unsafe { bindings::genl_register_family(family.get()) })?;
        Ok(Self {
            family,
            _type: core::marker::PhantomData,
        })
    }
}

impl<F: Family> Drop for Registration<F> {
    fn drop(&mut self) {
        // SAFETY: registered in `new`.
        unsafe { bindings::genl_unregister_family(self.family.get()) };
    }
}

/// A request being answered by [`Family::doit`].
pub(crate) struct Request<'a> {
    info: *mut bindings::genl_info,
    net: &'a Net,
    attrs: usize,
}

impl<'a> Request<'a> {
    /// Namespace of the requesting socket.
    pub(crate) fn net(&self) -> &'a Net {
        self.net
    }

    /// Top-level attribute `ty`, validated against the family policy. The
    /// request outlives the handler, so the attribute may too.
    pub(crate) fn attr(&self, ty: u16) -> Option<Attr<'a>> {
        if usize::from(ty) >= self.attrs {
            return None;
        }
        // SAFETY: `info` is live during the request and its `attrs` array
        // has `maxattr + 1 == self.attrs` entries.
        unsafe { attr_of(bindings::ipvs_rs_genl_info_attr(self.info, ty.into())) }
    }

    /// Sets the extended ack message returned with an error.
    pub(crate) fn set_err_msg(&self, msg: &'static core::ffi::CStr) {
        // SAFETY: `info` is live; `msg` is static as extack requires.
        unsafe { bindings::ipvs_rs_genl_set_err_msg(self.info, msg.as_ptr().cast()) };
    }

    /// Sends one reply message `cmd`, filled in by `fill`.
    pub(crate) fn reply(
        &mut self,
        cmd: u8,
        fill: impl FnOnce(&mut Message<'_>) -> Result,
    ) -> Result {
        // SAFETY: allocation with GFP_KERNEL in process context (doit).
        let skb = unsafe { bindings::ipvs_rs_genlmsg_new() };
        if skb.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `skb` is fresh; `info` and its family are live.
        let hdr = unsafe {
            bindings::ipvs_rs_genlmsg_put_reply(
                skb,
                self.info,
                bindings::ipvs_rs_genl_info_family(self.info),
                cmd,
            )
        };
        let res = if hdr.is_null() {
            Err(emsgsize())
        } else {
            fill(&mut Message {
                skb,
                _life: core::marker::PhantomData,
            })
        };
        match res {
            Ok(()) => {
                // SAFETY: `hdr` was put into `skb`; `genlmsg_reply` consumes
                // `skb`.
                to_result(unsafe {
                    bindings::ipvs_rs_genlmsg_end(skb, hdr);
                    bindings::ipvs_rs_genlmsg_reply(skb, self.info)
                })
            }
            Err(e) => {
                // SAFETY: we still own `skb`.
                unsafe { bindings::ipvs_rs_nlmsg_free(skb) };
                Err(e)
            }
        }
    }
}

/// # Safety
///
/// `nla` must be NULL or a valid attribute living for `'a`.
unsafe fn attr_of<'a>(nla: *const bindings::nlattr) -> Option<Attr<'a>> {
    if nla.is_null() {
        return None;
    }
    // SAFETY: `nla` is valid; its payload is `nla_len` bytes.
    let data = unsafe {
        let len = usize::try_from(bindings::ipvs_rs_nla_len(nla)).ok()?;
        core::slice::from_raw_parts(bindings::ipvs_rs_nla_data(nla).cast::<u8>(), len)
    };
    Some(Attr::new(data))
}

/// A listing being produced by [`Family::dumpit`].
pub(crate) struct Dump<'a> {
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
    net: &'a Net,
    full: bool,
}

impl<'a> Dump<'a> {
    /// Namespace of the requesting socket.
    pub(crate) fn net(&self) -> &'a Net {
        self.net
    }

    /// Six words kept between the calls of one listing (`cb->args`),
    /// zero on the first call.
    pub(crate) fn cursor(&mut self) -> &mut [c_long; 6] {
        // SAFETY: `cb` is live and `args` is `long[6]`.
        unsafe { &mut *bindings::ipvs_rs_netlink_cb_args(self.cb).cast::<[c_long; 6]>() }
    }

    /// The attributes of the request that started the listing (dumps do
    /// not get them parsed: the command reads them itself, as stock does).
    pub(crate) fn request_attrs(&self) -> &[u8] {
        let mut len: c_int = 0;
        // SAFETY: `cb` is live; the helper returns the payload after the
        // generic netlink header of the request and its length.
        unsafe {
            let p = bindings::ipvs_rs_genl_dump_attrs(self.cb, &mut len);
            core::slice::from_raw_parts(p.cast::<u8>(), usize::try_from(len).unwrap_or(0))
        }
    }

    /// Whether the buffer filled up; the listing resumes at the next call.
    pub(crate) fn is_full(&self) -> bool {
        self.full
    }

    /// Adds a message `cmd` filled in by `fill`. Returns `false` (and
    /// leaves the buffer as it was) when the message does not fit.
    pub(crate) fn add(
        &mut self,
        cmd: u8,
        fill: impl FnOnce(&mut Message<'_>) -> Result,
    ) -> Result<bool> {
        if self.full {
            return Ok(false);
        }
        // SAFETY: `skb` and `cb` are live for this call.
        let hdr = unsafe { bindings::ipvs_rs_genlmsg_put_dump(self.skb, self.cb, cmd) };
        if hdr.is_null() {
            self.full = true;
            return Ok(false);
        }
        let mut msg = Message {
            skb: self.skb,
            _life: core::marker::PhantomData,
        };
        match fill(&mut msg) {
            Ok(()) => {
                // SAFETY: `hdr` was put into `skb` above.
                unsafe { bindings::ipvs_rs_genlmsg_end(self.skb, hdr) };
                Ok(true)
            }
            Err(e) => {
                // SAFETY: `hdr` was put into `skb` above.
                unsafe { bindings::ipvs_rs_genlmsg_cancel(self.skb, hdr) };
                if e == emsgsize() {
                    self.full = true;
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// A message under construction.
pub(crate) struct Message<'a> {
    skb: *mut bindings::sk_buff,
    _life: core::marker::PhantomData<&'a mut ()>,
}

impl Message<'_> {
    /// Adds attribute `ty` with raw payload `data`.
    pub(crate) fn put(&mut self, ty: u16, data: &[u8]) -> Result {
        let len = c_int::try_from(data.len())?;
        // SAFETY: `skb` is live and owned by the message's builder.
        to_result(unsafe {
            bindings::ipvs_rs_nla_put(self.skb, ty.into(), len, data.as_ptr().cast())
        })
    }

    /// Adds a `u8` attribute.
    pub(crate) fn put_u8(&mut self, ty: u16, v: u8) -> Result {
        self.put(ty, &[v])
    }

    /// Adds a `u16` attribute.
    pub(crate) fn put_u16(&mut self, ty: u16, v: u16) -> Result {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Adds a `u32` attribute.
    pub(crate) fn put_u32(&mut self, ty: u16, v: u32) -> Result {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Adds a `u64` attribute, 8-byte aligned with a `pad` attribute where
    /// the architecture needs it.
    pub(crate) fn put_u64(&mut self, ty: u16, v: u64, pad: u16) -> Result {
        // SAFETY: `skb` is live and owned by the message's builder.
        to_result(unsafe { bindings::ipvs_rs_nla_put_u64(self.skb, ty.into(), v, pad.into()) })
    }

    /// Adds attributes nested in attribute `ty`.
    pub(crate) fn nest(
        &mut self,
        ty: u16,
        fill: impl FnOnce(&mut Message<'_>) -> Result,
    ) -> Result {
        // SAFETY: `skb` is live.
        let start = unsafe { bindings::ipvs_rs_nla_nest_start(self.skb, ty.into()) };
        if start.is_null() {
            return Err(emsgsize());
        }
        match fill(self) {
            Ok(()) => {
                // SAFETY: `start` was opened on `skb` above.
                unsafe { bindings::ipvs_rs_nla_nest_end(self.skb, start) };
                Ok(())
            }
            Err(e) => {
                // SAFETY: `start` was opened on `skb` above.
                unsafe { bindings::ipvs_rs_nla_nest_cancel(self.skb, start) };
                Err(e)
            }
        }
    }
}

/// `doit` of every command of `F`.
///
/// # Safety
///
/// Called by the genetlink core only, with a live `info`.
unsafe extern "C" fn doit_callback<F: Family>(
    _skb: *mut bindings::sk_buff,
    info: *mut bindings::genl_info,
) -> c_int {
    // SAFETY: the genetlink core passes a live `info` for this request; the
    // requesting socket's namespace is alive while it runs.
    let (cmd, net) = unsafe {
        (
            bindings::ipvs_rs_genl_info_cmd(info),
            Net::from_raw(bindings::ipvs_rs_genl_info_net(info)),
        )
    };
    let mut req = Request {
        info,
        net,
        attrs: F::ATTRS,
    };
    match F::doit(cmd, &mut req) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `dumpit` of every command of `F`.
///
/// # Safety
///
/// Called by the netlink core only, with a live `skb` and `cb`.
unsafe extern "C" fn dumpit_callback<F: Family>(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
) -> c_int {
    // SAFETY: the netlink core passes a live reply `skb` and dump state
    // `cb`; the dumping socket's namespace is alive while it runs.
    let (cmd, net) = unsafe {
        let info = bindings::ipvs_rs_genl_dump_info(cb);
        (
            bindings::ipvs_rs_genl_info_cmd(info),
            Net::from_raw(bindings::ipvs_rs_netlink_cb_net(cb)),
        )
    };
    let mut dump = Dump {
        skb,
        cb,
        net,
        full: false,
    };
    match F::dumpit(cmd, &mut dump) {
        // SAFETY: `skb` is live. A non-zero length asks for another call.
        Ok(()) => unsafe { bindings::ipvs_rs_skb_len(skb) as c_int },
        Err(e) => Error::to_errno(e),
    }
}
