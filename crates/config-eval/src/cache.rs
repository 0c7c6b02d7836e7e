//! The bounded concurrent cache of parsed modules, checked module interfaces and
//! evaluated module runtimes.
//!
//! Each tier is a `quick_cache` (sharded, CLOCK-Pro eviction, no global lock) keyed by
//! a 64-bit structural hash. Statistics are plain atomics: the seed's
//! `try_write()` on a `RwLock<CacheStats>` silently dropped counts under contention.

use std::hash::{BuildHasher, Hash, Hasher};

use quick_cache::sync::Cache;
use quick_cache::{Lifecycle, UnitWeighter};

use crate::ast::Module;
use crate::eval::ModuleRuntime;
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::types::ModuleTypes;

/// Hit, miss, insert and eviction counts of one cache tier (or of all of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found an entry.
    pub hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Entries written.
    pub inserts: u64,
    /// Entries pushed out to respect the capacity.
    pub evictions: u64,
}

impl CacheStats {
    fn add(self, o: CacheStats) -> CacheStats {
        CacheStats {
            hits: self.hits + o.hits,
            misses: self.misses + o.misses,
            inserts: self.inserts + o.inserts,
            evictions: self.evictions + o.evictions,
        }
    }
}

#[derive(Clone, Default)]
struct EvictionCounter(Arc<AtomicU64>);

impl<K, V> Lifecycle<K, V> for EvictionCounter {
    type RequestState = ();
    fn begin_request(&self) -> Self::RequestState {}
    fn on_evict(&self, _state: &mut Self::RequestState, _key: K, _val: V) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A fixed, process-independent hasher for the already-hashed `u64` keys.
#[derive(Clone, Default)]
struct KeyHasher;
impl BuildHasher for KeyHasher {
    type Hasher = std::collections::hash_map::DefaultHasher;
    fn build_hasher(&self) -> Self::Hasher {
        std::collections::hash_map::DefaultHasher::new()
    }
}

struct Tier<V: Clone> {
    /// `None` when the configured capacity is zero: caching is off.
    cache: Option<Cache<u64, V, UnitWeighter, KeyHasher, EvictionCounter>>,
    evictions: EvictionCounter,
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
}

impl<V: Clone> Tier<V> {
    fn new(capacity: usize) -> Self {
        let evictions = EvictionCounter::default();
        let cache = (capacity > 0).then(|| {
            Cache::with(
                capacity,
                capacity as u64,
                UnitWeighter,
                KeyHasher,
                evictions.clone(),
            )
        });
        Tier {
            cache,
            evictions,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
        }
    }

    fn get(&self, key: u64) -> Option<V> {
        let found = self.cache.as_ref().and_then(|c| c.get(&key));
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Returns the cached value or computes it with `make`, single-flight: while one
    /// thread computes a key, others asking for it park inside quick_cache until the
    /// value is inserted (or, if `make` fails, until they may try themselves). A
    /// failure is not cached.
    fn get_or_try_insert<E>(&self, key: u64, make: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        let Some(cache) = &self.cache else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return make();
        };
        let mut computed = false;
        let v = cache.get_or_insert_with(&key, || {
            computed = true;
            make()
        })?;
        if computed {
            self.misses.fetch_add(1, Ordering::Relaxed);
            self.inserts.fetch_add(1, Ordering::Relaxed);
        } else {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(v)
    }

    fn insert(&self, key: u64, value: V) {
        if let Some(c) = &self.cache {
            c.insert(key, value);
            self.inserts.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            inserts: self.inserts.load(Ordering::Relaxed),
            evictions: self.evictions.0.load(Ordering::Relaxed),
        }
    }

    fn len(&self) -> usize {
        self.cache.as_ref().map_or(0, |c| c.len())
    }
}

/// The three cache tiers an [`Engine`](crate::Engine) shares between all its runs and
/// threads.
///
/// Keys are semantic: a parsed module is keyed by its path and text, a checked module
/// by the structural hash of its syntax tree (spans excluded) and the keys of its
/// imports, an evaluated module by the same. A failed check or evaluation is never
/// inserted, nor is a module whose evaluation hit a limit.
pub struct ConcurrentCache {
    parsed: Tier<Arc<Module>>,
    typed: Tier<Arc<ModuleTypes>>,
    values: Tier<Arc<ModuleRuntime>>,
}

impl std::fmt::Debug for ConcurrentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcurrentCache")
            .field("stats", &self.stats())
            .finish()
    }
}

/// Per-tier statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TierStats {
    /// Parsed modules.
    pub parsed: CacheStats,
    /// Checked module interfaces.
    pub typed: CacheStats,
    /// Evaluated modules.
    pub values: CacheStats,
}

impl TierStats {
    /// All tiers added up.
    pub fn total(&self) -> CacheStats {
        self.parsed.add(self.typed).add(self.values)
    }
}

impl ConcurrentCache {
    /// A cache holding at most `capacity` entries per tier; 0 turns caching off.
    pub fn new(capacity: usize) -> Self {
        ConcurrentCache {
            parsed: Tier::new(capacity),
            typed: Tier::new(capacity),
            values: Tier::new(capacity),
        }
    }

    /// The statistics so far.
    pub fn stats(&self) -> TierStats {
        TierStats {
            parsed: self.parsed.stats(),
            typed: self.typed.stats(),
            values: self.values.stats(),
        }
    }

    /// Entries currently held, over all tiers.
    pub fn len(&self) -> usize {
        self.parsed.len() + self.typed.len() + self.values.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn parsed_or<E>(
        &self,
        key: u64,
        parse: impl FnOnce() -> Result<Arc<Module>, E>,
    ) -> Result<Arc<Module>, E> {
        self.parsed.get_or_try_insert(key, parse)
    }
    pub(crate) fn typed_or<E>(
        &self,
        key: u64,
        check: impl FnOnce() -> Result<Arc<ModuleTypes>, E>,
    ) -> Result<Arc<ModuleTypes>, E> {
        self.typed.get_or_try_insert(key, check)
    }
    pub(crate) fn get_value(&self, key: u64) -> Option<Arc<ModuleRuntime>> {
        self.values.get(key)
    }
    pub(crate) fn put_value(&self, key: u64, r: Arc<ModuleRuntime>) {
        self.values.insert(key, r)
    }
}

/// A stable 64-bit hash of anything hashable.
pub(crate) fn hash_of<T: Hash + ?Sized>(t: &T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_hits_misses_inserts_and_evictions() {
        let t: Tier<u32> = Tier::new(4);
        assert_eq!(t.get(1), None);
        t.insert(1, 10);
        assert_eq!(t.get(1), Some(10));
        for k in 2..100 {
            t.insert(k, k as u32);
        }
        let s = t.stats();
        assert_eq!((s.hits, s.misses, s.inserts), (1, 1, 99));
        assert!(s.evictions > 0 && t.len() <= 4, "{s:?} {}", t.len());
    }

    #[test]
    fn concurrent_loads_of_one_key_compute_once() {
        let t: Tier<u32> = Tier::new(16);
        let runs = AtomicU64::new(0);
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    barrier.wait();
                    let v = t.get_or_try_insert(7, || -> Result<u32, ()> {
                        runs.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        Ok(70)
                    });
                    assert_eq!(v, Ok(70));
                });
            }
        });
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        let s = t.stats();
        assert_eq!((s.misses, s.inserts, s.hits), (1, 1, 3));
        // A failure is not cached.
        assert_eq!(t.get_or_try_insert(8, || Err::<u32, &str>("no")), Err("no"));
        assert_eq!(t.get_or_try_insert(8, || Ok::<u32, &str>(80)), Ok(80));
    }

    #[test]
    fn zero_capacity_turns_caching_off() {
        let t: Tier<u32> = Tier::new(0);
        t.insert(1, 1);
        assert_eq!(t.get(1), None);
        assert_eq!(t.stats().inserts, 0);
    }
}
