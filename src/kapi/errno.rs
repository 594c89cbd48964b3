// SPDX-License-Identifier: GPL-2.0

//! Error codes the 6.12 `kernel` crate does not name.

use kernel::error::Error;

fn errno(code: u32) -> Error {
    // Errno values are small positive numbers; the kernel wants them negated.
    Error::from_errno(-(code as i32))
}

/// `-EMSGSIZE`: a netlink message is full.
pub(crate) fn emsgsize() -> Error {
    errno(kernel::bindings::EMSGSIZE)
}

/// `-EOPNOTSUPP`: operation not supported.
pub(crate) fn eopnotsupp() -> Error {
    errno(kernel::bindings::EOPNOTSUPP)
}
