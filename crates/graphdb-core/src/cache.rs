//! The record cache, the one cache of record versions in graphdb-core and in the
//! concurrent layer above it: a sharded map from id to `Arc`s of up to two committed
//! versions (the newest and the one before it), each tagged with the span of snapshots
//! that see it.
//!
//! The seed's `Mutex<LruCache>` made every cached read exclusive (an LRU `get` reorders
//! the list) and cloned the record; two readers on two cores took turns. Here a hit takes
//! its shard in read mode and clones an `Arc`, so readers share everything but one lock
//! word per shard (shards sit on their own cache lines) and the record's reference
//! count. The price is the eviction policy: a full shard drops an arbitrary entry instead
//! of the least recently used one, because recency bookkeeping is a write on every read.
//!
//! Invariant: a cached version `{value, begin, end}` is exactly what every snapshot `s`
//! with `begin <= s < end` sees for that id, and a version with `end = u64::MAX` is the
//! newest committed version. Only two parties write entries, and neither can race a
//! commit: the committer (with the engine exclusively) publishes the new version of every
//! id its commit touched, or closes the span of the old one, *before* it publishes the
//! commit timestamp to new snapshots; a reader that missed (with the engine shared, so
//! no commit can slip in) caches the newest version it just read. So a snapshot never
//! finds a stale version valid, and a snapshot slightly older than the newest commit
//! still hits the version before it.
//!
//! Shard locks are leaves of the lock order: nothing else is locked while one is held.
//! A panic cannot leave a half-written entry (entries are replaced whole), so a poisoned
//! shard is still consistent and is used as is.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, PoisonError};

use crate::sync::RwLock;

/// Shards per cache; small caches get fewer (see `new`).
const MAX_SHARDS: usize = 64;
const MIN_PER_SHARD: usize = 16;

/// Ids are dense small integers, so a multiplicative mix is enough and much cheaper than
/// SipHash on the read path.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

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

/// Hashing for maps and sets keyed by ids (records, pages): see [`IdHasher`].
pub(crate) type IdBuild = BuildHasherDefault<IdHasher>;

type Map<T> = HashMap<u64, Entry<T>, IdBuild>;

struct Version<T> {
    value: Arc<T>,
    begin: u64,
    end: u64,
}

impl<T> Version<T> {
    fn sees(&self, snapshot: u64) -> Option<Arc<T>> {
        (self.begin <= snapshot && snapshot < self.end).then(|| Arc::clone(&self.value))
    }
}

struct Entry<T> {
    cur: Version<T>,
    prev: Option<Version<T>>,
}

/// One shard on its own cache lines, so readers of different shards do not bounce the
/// same line between cores.
#[repr(align(128))]
struct Shard<T>(RwLock<Map<T>>);

/// The record cache (see the module docs). Not for users: reached through
/// [`engine`](crate::engine) by the concurrent layer.
pub struct VersionCache<T> {
    shards: Box<[Shard<T>]>,
    per_shard: usize,
}

impl<T> std::fmt::Debug for VersionCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionCache")
            .field("shards", &self.shards.len())
            .field("per_shard", &self.per_shard)
            .finish()
    }
}

impl<T> VersionCache<T> {
    /// A cache of about `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let want = (capacity / MIN_PER_SHARD).clamp(1, MAX_SHARDS);
        // A power of two, so the shard of an id is a mask.
        let count = if want.is_power_of_two() {
            want
        } else {
            want.next_power_of_two() / 2
        };
        let shards = (0..count)
            .map(|_| Shard(RwLock::new(Map::default())))
            .collect();
        VersionCache {
            shards,
            per_shard: (capacity / count).max(1),
        }
    }

    fn shard(&self, id: u64) -> &RwLock<Map<T>> {
        // Consecutive ids land in consecutive shards.
        &self.shards[(id as usize) & (self.shards.len() - 1)].0
    }

    /// The cached version of `id` that `snapshot` sees, if the cache has it.
    pub fn get(&self, id: u64, snapshot: u64) -> Option<Arc<T>> {
        // A panic cannot leave a half-written entry (entries are replaced whole), so a
        // poisoned shard is still consistent and is used as is.
        let map = self
            .shard(id)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let e = map.get(&id)?;
        e.cur
            .sees(snapshot)
            .or_else(|| e.prev.as_ref().and_then(|p| p.sees(snapshot)))
    }

    /// The cached versions of several ids that `snapshot` sees, `out[i]` for `ids[i]`
    /// (`None` where the cache has none), taking each shard's lock once instead of once
    /// per id: between two lock operations (atomic read-modify-writes, which order
    /// every memory access around them) the probes of one shard overlap in memory.
    pub fn get_many(&self, ids: &[u64], snapshot: u64) -> Vec<Option<Arc<T>>> {
        let mut out: Vec<Option<Arc<T>>> = Vec::with_capacity(ids.len());
        out.resize_with(ids.len(), || None);
        let shards = self.shards.len();
        if ids.len() < 2 * shards {
            for (slot, id) in out.iter_mut().zip(ids) {
                *slot = self.get(*id, snapshot);
            }
            return out;
        }
        // A counting sort of the positions by shard.
        let mask = (shards - 1) as u64;
        let mut start = vec![0usize; shards + 1];
        for id in ids {
            start[(id & mask) as usize + 1] += 1;
        }
        for s in 0..shards {
            start[s + 1] += start[s];
        }
        let mut next = start.clone();
        let mut order = vec![0usize; ids.len()];
        for (i, id) in ids.iter().enumerate() {
            let s = (id & mask) as usize;
            order[next[s]] = i;
            next[s] += 1;
        }
        for s in 0..shards {
            let positions = &order[start[s]..start[s + 1]];
            if positions.is_empty() {
                continue;
            }
            // Poisoning: see `get`.
            let map = self.shards[s]
                .0
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            for &i in positions {
                out[i] = map.get(&ids[i]).and_then(|e| {
                    e.cur
                        .sees(snapshot)
                        .or_else(|| e.prev.as_ref().and_then(|p| p.sees(snapshot)))
                });
            }
        }
        out
    }

    /// Caches the newest version of `id`, committed at `begin`, after a miss. The caller
    /// holds the database lock in read mode (see the module invariant).
    pub fn insert_head(&self, id: u64, value: Arc<T>, begin: u64) {
        let mut map = self
            .shard(id)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if map.get(&id).is_some_and(|e| e.cur.begin >= begin) {
            // Another reader cached the same head first.
            return;
        }
        self.put(&mut map, id, value, begin);
    }

    /// Publishes the version of `id` that a commit at `commit_ts` just wrote; the one it
    /// replaces stays cached for older snapshots. The caller holds the database lock in
    /// write mode and publishes `commit_ts` only afterwards.
    pub fn publish(&self, id: u64, value: Arc<T>, commit_ts: u64) {
        let mut map = self
            .shard(id)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        self.put(&mut map, id, value, commit_ts);
    }

    fn put(&self, map: &mut Map<T>, id: u64, value: Arc<T>, begin: u64) {
        let cur = Version {
            value,
            begin,
            end: u64::MAX,
        };
        if let Some(e) = map.get_mut(&id) {
            let mut old = std::mem::replace(&mut e.cur, cur);
            old.end = old.end.min(begin);
            e.prev = Some(old);
            return;
        }
        if map.len() >= self.per_shard {
            // Bounded size without bookkeeping on the read path: drop an arbitrary entry.
            if let Some(victim) = map.keys().next().copied() {
                map.remove(&victim);
            }
        }
        map.insert(id, Entry { cur, prev: None });
    }

    /// Closes the span of the newest cached version of `id` at `commit_ts` (the id was
    /// deleted, or the commit was too large to publish every version). Same locking as
    /// [`publish`](Self::publish).
    pub fn end_version(&self, id: u64, commit_ts: u64) {
        let mut map = self
            .shard(id)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = map.get_mut(&id) {
            e.cur.end = e.cur.end.min(commit_ts);
        }
    }

    /// Empties the cache.
    pub fn clear(&self) {
        for s in self.shards.iter() {
            s.0.write().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }

    /// Entries currently cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.0.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_decide_visibility() {
        let c = VersionCache::new(1024);
        c.insert_head(7, Arc::new("v5"), 5);
        assert_eq!(c.get(7, 4), None);
        assert_eq!(c.get(7, 5).as_deref(), Some(&"v5"));
        assert_eq!(c.get(7, 100).as_deref(), Some(&"v5"));
        c.end_version(7, 9);
        c.end_version(8, 9);
        assert_eq!(c.get(7, 8).as_deref(), Some(&"v5"));
        assert_eq!(c.get(7, 9), None);
        c.insert_head(7, Arc::new("v9"), 9);
        assert_eq!(c.get(7, 9).as_deref(), Some(&"v9"));
        // The version before the head still serves older snapshots.
        assert_eq!(c.get(7, 8).as_deref(), Some(&"v5"));
        assert_eq!(c.get(7, 4), None);
        // A writer's publish keeps exactly one older version.
        c.publish(7, Arc::new("v12"), 12);
        assert_eq!(c.get(7, 11).as_deref(), Some(&"v9"));
        assert_eq!(c.get(7, 12).as_deref(), Some(&"v12"));
        assert_eq!(c.get(7, 8), None);
        // A racing reader cannot put an older head back.
        c.insert_head(7, Arc::new("v9 again"), 9);
        assert_eq!(c.get(7, 20).as_deref(), Some(&"v12"));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn get_many_answers_like_get_for_every_id() {
        let c = VersionCache::new(1024);
        for id in (0..3000u64).step_by(3) {
            c.insert_head(id, Arc::new(id), 5);
        }
        c.publish(300, Arc::new(1300), 9);
        c.end_version(600, 9);
        // Unsorted, repeated and missing ids, fewer and more than two per shard.
        let mut ids: Vec<u64> = (0..3000u64).rev().step_by(2).collect();
        ids.extend([300, 300, 600, 5_000_000]);
        for n in [0, 1, 5, 100, ids.len()] {
            for snapshot in [4, 5, 8, 9, 100] {
                let want: Vec<Option<Arc<u64>>> =
                    ids[..n].iter().map(|id| c.get(*id, snapshot)).collect();
                assert_eq!(
                    c.get_many(&ids[..n], snapshot),
                    want,
                    "{n} ids at {snapshot}"
                );
            }
        }
        assert_eq!(c.get_many(&[300], 8)[0].as_deref(), Some(&300));
        assert_eq!(c.get_many(&[300], 9)[0].as_deref(), Some(&1300));
    }

    #[test]
    fn size_stays_bounded() {
        let c = VersionCache::new(128);
        for id in 0..10_000u64 {
            c.insert_head(id, Arc::new(id), 1);
        }
        assert!(c.len() <= 128, "{}", c.len());
        // The newest insert is always present.
        assert_eq!(c.get(9_999, 1).as_deref(), Some(&9_999));
    }
}
