//! The one place that chooses the crate's locks and atomics.
//!
//! The seed's migration is a choice of lock around the shared [`GraphDB`]: a `Mutex`
//! (before) or an `RwLock` (after). [`DbLock`] holds either, so both are real types in
//! one build and the benchmark measures them side by side; the cargo feature only picks
//! [`Variant::default`](crate::Variant). Phase 3 also uses the `RwLock`, but its readers
//! normally never touch it (see `cache.rs`).
//!
//! A poisoned database lock becomes [`Error::Poisoned`]: the panicking thread may have
//! been half-way through a commit, so the engine state is not trusted any more.

use std::ops::{Deref, DerefMut};

use graphdb_core::GraphDB;

use crate::error::{Error, Result};

pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
pub(crate) use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The lock around the shared engine.
#[derive(Debug)]
pub(crate) enum DbLock {
    /// The seed's "before": every operation, read or write, is exclusive.
    Mutex(Mutex<GraphDB>),
    /// The seed's "after": reads share the lock, writes take it exclusively.
    RwLock(RwLock<GraphDB>),
}

/// Shared access to the engine (exclusive for the `Mutex` variant).
pub(crate) enum ReadGuard<'a> {
    Mutex(MutexGuard<'a, GraphDB>),
    RwLock(RwLockReadGuard<'a, GraphDB>),
}

/// Exclusive access to the engine.
pub(crate) enum WriteGuard<'a> {
    Mutex(MutexGuard<'a, GraphDB>),
    RwLock(RwLockWriteGuard<'a, GraphDB>),
}

const DB: &str = "database";

impl DbLock {
    /// Access for reading: `read()` of the `RwLock`, `lock()` of the `Mutex`.
    pub(crate) fn read(&self) -> Result<ReadGuard<'_>> {
        match self {
            DbLock::Mutex(m) => m
                .lock()
                .map(ReadGuard::Mutex)
                .map_err(|_| Error::Poisoned(DB)),
            DbLock::RwLock(l) => l
                .read()
                .map(ReadGuard::RwLock)
                .map_err(|_| Error::Poisoned(DB)),
        }
    }

    /// Access for writing: `write()` of the `RwLock`, `lock()` of the `Mutex`.
    pub(crate) fn write(&self) -> Result<WriteGuard<'_>> {
        match self {
            DbLock::Mutex(m) => m
                .lock()
                .map(WriteGuard::Mutex)
                .map_err(|_| Error::Poisoned(DB)),
            DbLock::RwLock(l) => l
                .write()
                .map(WriteGuard::RwLock)
                .map_err(|_| Error::Poisoned(DB)),
        }
    }

    /// The engine back, once no other reference to the lock exists.
    pub(crate) fn into_inner(self) -> Result<GraphDB> {
        match self {
            DbLock::Mutex(m) => m.into_inner().map_err(|_| Error::Poisoned(DB)),
            DbLock::RwLock(l) => l.into_inner().map_err(|_| Error::Poisoned(DB)),
        }
    }
}

impl Deref for ReadGuard<'_> {
    type Target = GraphDB;
    fn deref(&self) -> &GraphDB {
        match self {
            ReadGuard::Mutex(g) => g,
            ReadGuard::RwLock(g) => g,
        }
    }
}

impl Deref for WriteGuard<'_> {
    type Target = GraphDB;
    fn deref(&self) -> &GraphDB {
        match self {
            WriteGuard::Mutex(g) => g,
            WriteGuard::RwLock(g) => g,
        }
    }
}

impl DerefMut for WriteGuard<'_> {
    fn deref_mut(&mut self) -> &mut GraphDB {
        match self {
            WriteGuard::Mutex(g) => &mut *g,
            WriteGuard::RwLock(g) => &mut *g,
        }
    }
}
