//! The one place that picks the crate's synchronisation primitives.
//!
//! parking_lot is used for the scheduler's mutex and condition variables because its
//! locks cannot be poisoned: a task that panics is caught and recorded as `Failed`, so
//! the queue's state is never left half-updated by an unwinding thread. Under
//! `cfg(loom)` the same API is provided over loom's mutex and condition variable, so
//! the loom models explore the work queue's real code.

#[cfg(not(loom))]
pub(crate) use parking_lot::{Condvar, Mutex};
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
pub(crate) use std::sync::{Arc, OnceLock, Weak};

/// The sharded concurrent map of the parallel type environment and of the seed's
/// polling queue; imported from here like every other synchronisation type.
pub(crate) use dashmap::DashMap;

#[cfg(loom)]
pub(crate) use loom_shim::{Condvar, Mutex};

#[cfg(loom)]
mod loom_shim {
    use std::ops::{Deref, DerefMut};

    /// loom's mutex with parking_lot's signature.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// A guard that a [`Condvar`] can take and give back while waiting.
    pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            // Poison is recovered on purpose, as parking_lot has none: tasks run
            // outside the lock and panics inside it are bugs the model would report.
            MutexGuard(Some(self.0.lock().unwrap_or_else(|p| p.into_inner())))
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0
                .as_ref()
                .expect("the guard is only absent inside Condvar::wait")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0
                .as_mut()
                .expect("the guard is only absent inside Condvar::wait")
        }
    }

    /// loom's condition variable with parking_lot's signature.
    #[derive(Debug)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            if let Some(inner) = guard.0.take() {
                guard.0 = Some(self.0.wait(inner).unwrap_or_else(|p| p.into_inner()));
            }
        }
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}
