//! Host twin of `src/kapi/route.rs`: a real server's route cache holds
//! nothing on the host.

/// The routes to one real server (none on the host).
#[derive(Debug, Default)]
pub(crate) struct RouteCache;
