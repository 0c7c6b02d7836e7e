//! The one place that picks the crate's synchronisation primitives.
//!
//! The type interner's "before" variant locks a `parking_lot::Mutex` (no poisoning, so no
//! poisoned-lock path to handle); the per-run counters are std atomics; the concurrent
//! map is `dashmap`. Everything else imports these names from here.

pub(crate) use dashmap::DashMap;
pub(crate) use parking_lot::Mutex;
#[cfg(feature = "tools")]
pub(crate) use std::sync::atomic::AtomicU8;
pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
