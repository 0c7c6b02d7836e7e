//! The one place that chooses the locks and atomics: the seed's "before" (a `Mutex` per
//! field) and its "after" (an `RwLock` per field), both as real types so that one
//! benchmark process measures both; the pattern cache's lock; the type index's `OnceLock`;
//! the atomics of the id and stamp counters and the cache clock. No other module imports
//! a lock or an atomic.
//!
//! parking_lot's locks are used because they do not poison: every write the
//! environments make under a lock is a single insertion or a whole-value replacement, and
//! a panicking reader cannot corrupt anything, so there is nothing to recover.

/// A lock around one field of a [`crate::LockedEnvironment`].
///
/// Cloning a lock clones the value it guards (taking the lock to read it), which is
/// what lets `Arc::make_mut` give the environments copy-on-write semantics.
pub trait FieldLock<T>: Send + Sync + Sized {
    /// A lock holding `value`.
    fn new(value: T) -> Self;
    /// Runs `f` on the value under the lock's shared mode (the exclusive mode for a
    /// mutex).
    fn read_with<R>(&self, f: impl FnOnce(&T) -> R) -> R;
    /// Runs `f` on the value under the lock's exclusive mode.
    fn write_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R;
    /// The value, through exclusive access to the lock itself (no locking).
    fn get_mut(&mut self) -> &mut T;
}

/// A family of locks: which lock every field of a [`crate::LockedEnvironment`] uses.
pub trait LockKind: Send + Sync + 'static {
    /// The lock type for a field of type `T`.
    type Lock<T: Send + Sync + Clone>: FieldLock<T> + Clone;
    /// A short lowercase name for reports (`mutex`, `rwlock`).
    const NAME: &'static str;
    /// Whether a pattern-cache hit uses the shared mode (`LruCache::peek`, no recency
    /// refresh) rather than the exclusive mode (`LruCache::get`).
    const SHARED_READS: bool;
}

/// One `parking_lot::Mutex` per field: the seed's "before".
#[derive(Debug, Clone, Copy, Default)]
pub struct MutexKind;

/// One `parking_lot::RwLock` per field: the seed's "after".
#[derive(Debug, Clone, Copy, Default)]
pub struct RwLockKind;

/// One `parking_lot::RwLock` per field with the seed's cache protocol: a pattern-cache
/// hit takes the write lock (`LruCache::get` needs `&mut`). Kept only so the benchmarks
/// can show what that costs; [`RwLockKind`] serves hits under the read lock.
#[derive(Debug, Clone, Copy, Default)]
pub struct RwLockWriteHitKind;

/// A mutex whose clone copies the guarded value.
#[derive(Debug, Default)]
pub struct MutexCell<T>(parking_lot::Mutex<T>);

/// A reader-writer lock whose clone copies the guarded value.
#[derive(Debug, Default)]
pub struct RwLockCell<T>(parking_lot::RwLock<T>);

impl<T: Clone> Clone for MutexCell<T> {
    fn clone(&self) -> Self {
        MutexCell(parking_lot::Mutex::new(self.0.lock().clone()))
    }
}

impl<T: Clone> Clone for RwLockCell<T> {
    fn clone(&self) -> Self {
        RwLockCell(parking_lot::RwLock::new(self.0.read().clone()))
    }
}

impl<T: Send + Sync> FieldLock<T> for MutexCell<T> {
    fn new(value: T) -> Self {
        MutexCell(parking_lot::Mutex::new(value))
    }
    fn read_with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0.lock())
    }
    fn write_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.lock())
    }
    fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

impl<T: Send + Sync> FieldLock<T> for RwLockCell<T> {
    fn new(value: T) -> Self {
        RwLockCell(parking_lot::RwLock::new(value))
    }
    fn read_with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0.read())
    }
    fn write_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.write())
    }
    fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

impl LockKind for MutexKind {
    type Lock<T: Send + Sync + Clone> = MutexCell<T>;
    const NAME: &'static str = "mutex";
    const SHARED_READS: bool = false;
}

impl LockKind for RwLockKind {
    type Lock<T: Send + Sync + Clone> = RwLockCell<T>;
    const NAME: &'static str = "rwlock";
    const SHARED_READS: bool = true;
}

impl LockKind for RwLockWriteHitKind {
    type Lock<T: Send + Sync + Clone> = RwLockCell<T>;
    const NAME: &'static str = "rwlock-seed";
    const SHARED_READS: bool = false;
}

/// The reader-writer lock of the copy-on-write environment's pattern cache.
pub(crate) type CacheLock<T> = parking_lot::RwLock<T>;

/// The atomic integer of the id and stamp counters and of the cache clock.
pub(crate) use std::sync::atomic::AtomicU64;
/// Memory orderings for [`AtomicU64`].
pub(crate) use std::sync::atomic::Ordering;
/// The once-initialised cell of the copy-on-write environment's type index.
pub(crate) use std::sync::OnceLock;
