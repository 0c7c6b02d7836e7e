//! Concurrent transactions over `graphdb-core`: the shared handle moves from `Mutex` to
//! `RwLock` behind the `rwlock-optimization` feature, and then past it to lock-free reads.
//!
//! This crate is being built; see `docs/graphdb-concurrent.md` for the plan.
#![deny(missing_docs)]

/// Whether the `rwlock-optimization` feature selected the `RwLock` handle as the default.
pub const RWLOCK_BY_DEFAULT: bool = cfg!(feature = "rwlock-optimization");
