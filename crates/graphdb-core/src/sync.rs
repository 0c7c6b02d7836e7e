//! The one place that chooses the crate's locks and atomics.
//!
//! The engine's locks are [`OrderedMutex`]es with a rank from the documented lock order
//! (pager, then dirty-page list, then the WAL sync state). Two kinds of plain locks are
//! leaves below all of them (nothing is locked while one is held): the record cache's
//! shards (`RwLock`s in `cache.rs`, held only to copy an `Arc` in or out) and the log's
//! state mutex (`LogShared` in `wal.rs`, a plain [`Mutex`] because group-commit waiters
//! sleep on a [`Condvar`] with it). In debug builds each thread records which ranks it holds and a `debug_assert!`
//! fires when a lock is taken while a lock of the same or a later rank is held, so an
//! ordering mistake shows up in tests instead of as a rare deadlock. A poisoned lock is
//! reported as [`GraphError::Corruption`]: the thread that panicked may have left the
//! guarded state half-updated.

use std::ops::{Deref, DerefMut};

use crate::error::{GraphError, Result};

pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard, RwLock};

/// Ranks of the lock order; a thread may only take a lock of a higher rank than every
/// lock it already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rank {
    Pager = 0,
    DirtyPages = 1,
    WalSync = 2,
}

#[cfg(debug_assertions)]
thread_local! {
    static HELD: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// A mutex that knows its place in the lock order.
#[derive(Debug)]
pub(crate) struct OrderedMutex<T> {
    // Only the debug-build order check reads the rank.
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    rank: Rank,
    name: &'static str,
    inner: Mutex<T>,
}

/// The guard of an [`OrderedMutex`]; releases the rank on drop.
pub(crate) struct OrderedGuard<'a, T> {
    #[cfg(debug_assertions)]
    rank: Rank,
    guard: std::sync::MutexGuard<'a, T>,
}

impl<T> OrderedMutex<T> {
    pub(crate) fn new(rank: Rank, name: &'static str, value: T) -> Self {
        OrderedMutex {
            rank,
            name,
            inner: Mutex::new(value),
        }
    }

    /// Takes the lock, checking the lock order in debug builds.
    pub(crate) fn lock(&self) -> Result<OrderedGuard<'_, T>> {
        #[cfg(debug_assertions)]
        HELD.with(|held| {
            let bit = 1u32 << (self.rank as u32);
            debug_assert!(
                held.get() >> (self.rank as u32) == 0,
                "lock order violated: taking {} while holding a lock of the same or a later rank (held mask {:#b})",
                self.name,
                held.get()
            );
            held.set(held.get() | bit);
        });
        match self.inner.lock() {
            Ok(guard) => Ok(OrderedGuard {
                #[cfg(debug_assertions)]
                rank: self.rank,
                guard,
            }),
            Err(_) => {
                #[cfg(debug_assertions)]
                HELD.with(|held| held.set(held.get() & !(1u32 << (self.rank as u32))));
                Err(GraphError::corrupt(
                    format!("{} lock poisoned by a panicking thread", self.name),
                    None,
                ))
            }
        }
    }

    /// Exclusive access without locking, for `&mut self` paths.
    pub(crate) fn get_mut(&mut self) -> Result<&mut T> {
        let name = self.name;
        self.inner.get_mut().map_err(|_| {
            GraphError::corrupt(format!("{name} lock poisoned by a panicking thread"), None)
        })
    }

    /// Exclusive access without locking, for `&mut self` paths that run after a commit
    /// point and must not fail: the guarded value is used even if a thread panicked while
    /// holding the lock. Only for values that are updated in whole steps (a map entry
    /// inserted or removed, a list extended), which a panic cannot leave half-done.
    pub(crate) fn get_mut_recovered(&mut self) -> &mut T {
        self.inner
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<T> Deref for OrderedGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for OrderedGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for OrderedGuard<'_, T> {
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        HELD.with(|held| held.set(held.get() & !(1u32 << (self.rank as u32))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_locking_is_accepted() {
        let a = OrderedMutex::new(Rank::Pager, "pager", 1);
        let b = OrderedMutex::new(Rank::DirtyPages, "dirty pages", 2);
        let ga = a.lock().unwrap();
        let gb = b.lock().unwrap();
        assert_eq!(*ga + *gb, 3);
        drop(gb);
        drop(ga);
        // Released ranks can be taken again in any order afterwards.
        let gb = b.lock().unwrap();
        drop(gb);
        let _ga = a.lock().unwrap();
    }

    #[cfg(debug_assertions)]
    #[test]
    fn out_of_order_locking_is_caught_in_debug_builds() {
        let outcome = std::thread::spawn(|| {
            let a = OrderedMutex::new(Rank::Pager, "pager", ());
            let b = OrderedMutex::new(Rank::DirtyPages, "dirty pages", ());
            let _gb = b.lock();
            let _ga = a.lock();
        })
        .join();
        assert!(
            outcome.is_err(),
            "taking the pager under the cache must trip the check"
        );
    }

    #[test]
    fn poisoned_lock_is_corruption() {
        let m = std::sync::Arc::new(OrderedMutex::new(Rank::DirtyPages, "dirty pages", 0));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = m2.lock().unwrap();
            panic!("poison it on purpose");
        })
        .join();
        assert!(matches!(m.lock(), Err(GraphError::Corruption { .. })));
    }
}
