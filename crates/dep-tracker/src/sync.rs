//! The one place that chooses the crate's locks and atomics.
//!
//! Under `cfg(loom)` the types the loom models exercise (the buffered log's per-step
//! buffer and its published-edge counter) come from loom so the model checker can
//! permute them; everywhere else they are `std`'s. The step-id allocator is a process
//! `static`, which loom cannot construct, and it is outside every model, so it always
//! uses `std`'s atomic.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};

/// `std`'s atomic for what no loom model covers: the process-wide step-id counter
/// (a `static`) and the engine's counters.
pub(crate) use std::sync::atomic::AtomicU64 as StdAtomicU64;

#[cfg(loom)]
use loom::sync::{Mutex as InnerMutex, MutexGuard as InnerGuard};
#[cfg(not(loom))]
use std::sync::{Mutex as InnerMutex, MutexGuard as InnerGuard};

/// A mutex whose `lock` never fails.
///
/// Every value this crate keeps behind a lock (a `Vec` of `Copy` edges, a memo table of
/// finished results) is valid after any single operation on it, and no user code runs
/// while one of these guards is held, so a poisoned lock can only mean that an
/// allocation failed mid-push on another thread. Recovering the inner value is therefore
/// safe, and it keeps one panicking step from making the whole log unusable.
#[derive(Debug)]
pub(crate) struct Mutex<T>(InnerMutex<T>);

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(InnerMutex::new(value))
    }

    pub(crate) fn lock(&self) -> InnerGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

use std::sync::{
    RwLock as InnerRwLock, RwLockReadGuard as InnerReadGuard, RwLockWriteGuard as InnerWriteGuard,
};

/// A reader-writer lock whose `read` and `write` never fail, for the engine's memo
/// table. Always `std`'s: the engine is outside the loom models.
#[derive(Debug, Default)]
pub(crate) struct RwLock<T>(InnerRwLock<T>);

impl<T> RwLock<T> {
    pub(crate) fn new(value: T) -> Self {
        RwLock(InnerRwLock::new(value))
    }

    // The memo table is only ever changed by single `insert`s of complete entries, with
    // no user code running under the guard, so a poisoned lock still holds a valid map.
    pub(crate) fn read(&self) -> InnerReadGuard<'_, T> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.0
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn write(&self) -> InnerWriteGuard<'_, T> {
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
