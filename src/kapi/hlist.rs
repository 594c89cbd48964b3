// SPDX-License-Identifier: GPL-2.0

//! Intrusive RCU hash lists (`struct hlist_head`/`hlist_node`): writers
//! serialise on a lock of their own, readers walk under `rcu_read_lock`.

use crate::bindings;
use kernel::types::Opaque;

/// A list head (a hash bucket).
#[repr(transparent)]
pub(crate) struct Head(Opaque<bindings::hlist_head>);

/// A node embedded in an entry.
#[repr(transparent)]
pub(crate) struct Node(Opaque<bindings::hlist_node>);

// SAFETY: list heads and nodes are only changed under the owner's lock and
// read under RCU, as the C API expects.
unsafe impl Sync for Head {}
// SAFETY: as above.
unsafe impl Send for Head {}
// SAFETY: as above.
unsafe impl Sync for Node {}
// SAFETY: as above.
unsafe impl Send for Node {}

impl Head {
    /// An empty head; must be [`Head::init`]ed in place before use.
    pub(crate) const fn uninit() -> Self {
        Self(Opaque::uninit())
    }

    /// Makes the list empty.
    ///
    /// # Safety
    ///
    /// Nobody else may use the head; it must not move afterwards.
    pub(crate) unsafe fn init(&self) {
        // SAFETY: exclusive, per the caller.
        unsafe { bindings::ipvs_rs_hlist_init(self.0.get()) }
    }

    /// Adds `node` first.
    ///
    /// # Safety
    ///
    /// The caller holds the lock that serialises writers of this list,
    /// `node` is not on any list, and its entry stays alive until removed
    /// and an RCU grace period has passed.
    pub(crate) unsafe fn add_rcu(&self, node: &Node) {
        // SAFETY: per the caller.
        unsafe { bindings::ipvs_rs_hlist_add_rcu(node.0.get(), self.0.get()) }
    }

    /// Iterates the nodes.
    ///
    /// # Safety
    ///
    /// The caller holds `rcu_read_lock` or the writers' lock for as long as
    /// the iterator and the nodes it yields are used.
    pub(crate) unsafe fn iter(&self) -> Iter<'_> {
        // SAFETY: per the caller.
        let first = unsafe { bindings::ipvs_rs_hlist_first(self.0.get()) };
        Iter {
            next: first,
            _head: core::marker::PhantomData,
        }
    }
}

impl Node {
    /// A node on no list; must be [`Node::init`]ed in place before use.
    pub(crate) const fn uninit() -> Self {
        Self(Opaque::uninit())
    }

    /// Marks the node as on no list.
    ///
    /// # Safety
    ///
    /// Nobody else may use the node; it must not move afterwards.
    pub(crate) unsafe fn init(&self) {
        // SAFETY: exclusive, per the caller.
        unsafe { bindings::ipvs_rs_hlist_node_init(self.0.get()) }
    }

    /// Whether the node is on no list.
    pub(crate) fn unhashed(&self) -> bool {
        // SAFETY: reading the node's `pprev`; callers that need an exact
        // answer hold the writers' lock.
        unsafe { bindings::ipvs_rs_hlist_unhashed(self.0.get()) }
    }

    /// Takes the node off its list; readers may still see it until a grace
    /// period has passed.
    ///
    /// # Safety
    ///
    /// The caller holds the writers' lock and the node is on a list.
    pub(crate) unsafe fn del_rcu(&self) {
        // SAFETY: per the caller.
        unsafe { bindings::ipvs_rs_hlist_del_rcu(self.0.get()) }
    }

    /// Raw pointer, for container-of computations.
    pub(crate) fn as_ptr(&self) -> *mut bindings::hlist_node {
        self.0.get()
    }
}

/// Iterator over the nodes of a list (see [`Head::iter`]).
pub(crate) struct Iter<'a> {
    next: *mut bindings::hlist_node,
    _head: core::marker::PhantomData<&'a Head>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Node;

    fn next(&mut self) -> Option<&'a Node> {
        if self.next.is_null() {
            return None;
        }
        let node = self.next;
        // SAFETY: `node` is on the list, which the caller of `Head::iter`
        // keeps readable (RCU or lock) for `'a`.
        self.next = unsafe { bindings::ipvs_rs_hlist_next(node) };
        // SAFETY: `Node` is a transparent wrapper of `hlist_node`.
        Some(unsafe { &*node.cast::<Node>() })
    }
}
