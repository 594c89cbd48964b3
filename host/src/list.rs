//! Host twin of `src/kapi/list.rs`: the same API over `std`'s `Vec`.

/// Allocation failed (never, on the host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NoMem;

/// A vector with the few operations the IPVS tables need.
#[derive(Debug)]
pub(crate) struct List<T>(Vec<T>);

impl<T> List<T> {
    pub(crate) const fn new() -> Self {
        Self(Vec::new())
    }

    pub(crate) fn push(&mut self, v: T) -> Result<(), NoMem> {
        self.0.push(v);
        Ok(())
    }

    pub(crate) fn insert_first(&mut self, v: T) -> Result<(), NoMem> {
        self.0.insert(0, v);
        Ok(())
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    pub(crate) fn remove(&mut self, i: usize) -> T {
        self.0.remove(i)
    }
}

impl<T> core::ops::Deref for List<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> core::ops::DerefMut for List<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

/// A reference-counted value shared by the control plane and connections.
pub(crate) type Shared<T> = std::sync::Arc<T>;

/// Wraps `v` in a [`Shared`].
pub(crate) fn share<T>(v: T) -> Result<Shared<T>, NoMem> {
    Ok(std::sync::Arc::new(v))
}

/// Host twin of the kernel's `Locked`: a value behind a mutex.
#[derive(Debug)]
pub(crate) struct Locked<T>(std::sync::Mutex<T>);

/// A [`Locked`] value, held.
pub(crate) type Held<'a, T> = std::sync::MutexGuard<'a, T>;

impl<T> Locked<T> {
    pub(crate) fn new(v: T) -> Result<Self, NoMem> {
        Ok(Self(std::sync::Mutex::new(v)))
    }

    pub(crate) fn lock(&self) -> Held<'_, T> {
        self.0.lock().unwrap()
    }
}
