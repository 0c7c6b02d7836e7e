//! The one place that picks the crate's synchronisation primitives.
//!
//! parking_lot is used for the scheduler's mutex and condition variables because its
//! locks cannot be poisoned: a task that panics is caught and recorded as `Failed`, so
//! the queue's state is never left half-updated by an unwinding thread.

pub(crate) use parking_lot::{Condvar, Mutex};
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
pub(crate) use std::sync::{Arc, OnceLock, Weak};
