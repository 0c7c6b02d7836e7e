//! The record caches of [`GraphDB`](crate::GraphDB): newest committed node and edge
//! versions by id, as `Arc`s, in shards behind reader-writer locks.
//!
//! The seed's `Mutex<LruCache>` made every cached read exclusive (an LRU `get` reorders
//! the list) and cloned the record; two readers on two cores took turns. Here a hit takes
//! its shard in read mode and clones an `Arc`, so readers share everything they touch but
//! one lock word per shard (shards sit on their own cache lines) and the record's
//! reference count. The price is the eviction policy: a full shard drops an arbitrary
//! entry instead of the least recently used one, because recency bookkeeping is a write
//! on every read.
//!
//! Invariant (kept by `db.rs`): an entry is the newest committed version of its id, never
//! a tombstone or an uncommitted write; a commit removes the entries of the ids it
//! replaced while it holds the engine exclusively.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::error::Result;
use crate::sync::{OrderedRwLock, Rank};

/// Ids are dense small integers, so a multiplicative mix is enough and much cheaper than
/// SipHash on the read path.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 =
                (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Map<V> = HashMap<u64, Arc<V>, BuildHasherDefault<IdHasher>>;

/// One shard on its own cache lines, so readers of different shards on different cores
/// do not bounce one line between them.
#[repr(align(128))]
#[derive(Debug)]
struct Shard<V>(OrderedRwLock<Map<V>>);

/// At most this many shards; small caches get fewer, so that each shard still holds a
/// useful number of entries (a cache of capacity 1 is one shard of one entry).
const MAX_SHARDS: usize = 64;
const MIN_PER_SHARD: usize = 64;

#[derive(Debug)]
pub(crate) struct RecordCache<V> {
    shards: Box<[Shard<V>]>,
    per_shard: usize,
}

impl<V> RecordCache<V> {
    pub(crate) fn new(rank: Rank, name: &'static str, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let want = (capacity / MIN_PER_SHARD).clamp(1, MAX_SHARDS);
        // A power of two, so the shard of an id is a mask.
        let count = if want.is_power_of_two() {
            want
        } else {
            want.next_power_of_two() / 2
        };
        let shards = (0..count)
            .map(|_| Shard(OrderedRwLock::new(rank, name, Map::default())))
            .collect();
        RecordCache {
            shards,
            per_shard: (capacity / count).max(1),
        }
    }

    fn shard(&self, id: u64) -> &OrderedRwLock<Map<V>> {
        // Consecutive ids land in consecutive shards.
        &self.shards[(id as usize) & (self.shards.len() - 1)].0
    }

    /// The cached version of `id`, if any (shard in read mode).
    pub(crate) fn get(&self, id: u64) -> Result<Option<Arc<V>>> {
        Ok(self.shard(id).read()?.get(&id).cloned())
    }

    /// Whether the cached version of `id` passes `test` (shard in read mode, no clone).
    pub(crate) fn test(&self, id: u64, test: impl FnOnce(&V) -> bool) -> Result<bool> {
        Ok(self.shard(id).read()?.get(&id).is_some_and(|v| test(v)))
    }

    /// Caches `value` as the newest version of `id`, unless `keep_existing` says the entry
    /// already there is at least as new (a racing reader cached it, or a newer one).
    pub(crate) fn put(
        &self,
        id: u64,
        value: Arc<V>,
        keep_existing: impl FnOnce(&V) -> bool,
    ) -> Result<()> {
        let mut map = self.shard(id).write()?;
        if let Some(old) = map.get_mut(&id) {
            if !keep_existing(old) {
                *old = value;
            }
            return Ok(());
        }
        if map.len() >= self.per_shard {
            // Bounded size without bookkeeping on the read path: drop an arbitrary entry.
            if let Some(victim) = map.keys().next().copied() {
                map.remove(&victim);
            }
        }
        map.insert(id, value);
        Ok(())
    }

    /// Forgets `id` (a commit replaced or deleted it); the caller has the engine
    /// exclusively, so no lock is taken.
    ///
    /// It cannot fail: it runs after a commit point, and a shard poisoned by a panicking
    /// reader still holds whole entries, so the entry is removed from it all the same.
    pub(crate) fn remove_mut(&mut self, id: u64) {
        let n = self.shards.len();
        self.shards[(id as usize) & (n - 1)]
            .0
            .get_mut_recovered()
            .remove(&id);
    }

    /// Empties the cache.
    pub(crate) fn clear(&self) -> Result<()> {
        for s in self.shards.iter() {
            s.0.write()?.clear();
        }
        Ok(())
    }

    /// Entries cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.0.read().map_or(0, |m| m.len()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_newest_kept() {
        for cap in [1usize, 4, 100, 10_000] {
            let c = RecordCache::new(Rank::NodeCache, "test cache", cap);
            for id in 0..(3 * cap as u64 + 10) {
                c.put(id, Arc::new(id), |_| false).unwrap();
                // The entry just cached is always there.
                assert_eq!(c.get(id).unwrap().as_deref(), Some(&id));
            }
            assert!(c.len() <= cap.max(1), "capacity {cap}: {}", c.len());
        }
    }

    #[test]
    fn put_respects_keep_existing_and_remove_forgets() {
        let mut c = RecordCache::new(Rank::NodeCache, "test cache", 1000);
        c.put(7, Arc::new(5u64), |_| false).unwrap();
        // A racing reader with an older version does not replace a newer entry.
        c.put(7, Arc::new(3u64), |old| *old >= 3).unwrap();
        assert_eq!(c.get(7).unwrap().as_deref(), Some(&5));
        assert!(c.test(7, |v| *v == 5).unwrap());
        c.remove_mut(7);
        assert_eq!(c.get(7).unwrap(), None);
        c.put(8, Arc::new(1u64), |_| false).unwrap();
        c.clear().unwrap();
        assert_eq!(c.len(), 0);
    }
}
