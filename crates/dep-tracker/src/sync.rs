//! The one place that chooses the crate's locks, atomics, cells and thread-locals.
//!
//! Under `cfg(loom)` the types the loom models exercise (the buffered log's step
//! buffers and thread segments: their locks, atomics, slots and thread-locals) come from
//! loom so the model checker can permute them and check every slot access for data
//! races; everywhere else they are `std`'s. The step-id allocator and the thread-token
//! and log-id counters are process `static`s, which loom cannot construct; they only
//! hand out unique numbers, which no interleaving can break, so they always use `std`'s
//! atomic.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// `std`'s `UnsafeCell` behind loom's closure API (`with`, `with_mut`), so the same code
/// compiles against both and loom can track each access.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a pointer the caller may only read through.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Calls `f` with a pointer the caller may write through.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Declares thread-locals: `std`'s, or loom's under `cfg(loom)` (loom runs the model's
/// threads on one OS thread, so `std`'s would be shared between them).
#[cfg(not(loom))]
macro_rules! thread_locals {
    ($($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;)*) => {
        std::thread_local! { $($(#[$attr])* static $name: $t = const { $init };)* }
    };
}
#[cfg(loom)]
macro_rules! thread_locals {
    ($($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;)*) => {
        loom::thread_local! { $($(#[$attr])* static $name: $t = $init;)* }
    };
}
pub(crate) use thread_locals;

/// `std`'s atomics for what no loom model covers: the process-wide step-id counter
/// (a `static`), the engine's counters and its memo table's pointers.
pub(crate) use std::sync::atomic::{
    AtomicBool as StdAtomicBool, AtomicPtr as StdAtomicPtr, AtomicU64 as StdAtomicU64,
    AtomicUsize as StdAtomicUsize,
};

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

/// `std`'s mutex and condition variable for the engine's in-flight records and memo
/// table shards, which no loom model covers. Poisoning is handled where they are used.
pub(crate) use std::sync::{Condvar as StdCondvar, Mutex as StdMutex, MutexGuard as StdGuard};
