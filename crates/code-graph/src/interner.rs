//! Type interning: every normalised type text gets one node, however many threads meet it.
//!
//! [`DashMapInterner`] is the seed's design (a sharded concurrent map with the entry
//! API) and the default of the parallel build; [`MutexInterner`] is one global lock
//! around a `HashMap`, kept as the measured alternative; [`LocalInterner`] is the
//! sequential build's plain map. All three give the same IDs (the ID is a hash of the
//! text, see [`crate::id::type_id`]) and the same hit and miss counts for the same input:
//! a miss is the first sighting of a text, so misses = distinct texts whatever the order.

use std::cell::RefCell;

use crate::fasthash::{FastMap, FastState};
use crate::id::{type_id, NodeId};
use crate::sync::{AtomicU64, DashMap, Mutex, Ordering};

/// Hands out the node ID of a type text and remembers the text.
pub trait TypeInterner {
    /// The ID of `text`, inserting it on first sight.
    fn intern(&self, text: &str) -> NodeId;
    /// (hits, misses) so far.
    fn stats(&self) -> (u64, u64);
    /// Every interned text with its ID, in no particular order.
    fn snapshot(&self) -> Vec<(NodeId, String)>;
}

/// The seed's concurrent interner: `DashMap<String, NodeId>` with the entry API.
#[derive(Debug, Default)]
pub struct DashMapInterner {
    map: DashMap<String, NodeId, FastState>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl DashMapInterner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TypeInterner for DashMapInterner {
    fn intern(&self, text: &str) -> NodeId {
        // A read-locked probe first: most lookups are hits and should not take a shard's
        // write lock. The guard is a temporary dropped at the end of this statement, so
        // no guard is alive during the `entry` call below (holding one across a call
        // that touches the same shard is the seed's deadlock).
        if let Some(id) = self.map.get(text).map(|r| *r.value()) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return id;
        }
        let mut inserted = false;
        // The closure runs under the shard's write lock, so it must not touch the map;
        // it only hashes the text and flips a local flag.
        let id = *self
            .map
            .entry(text.to_owned())
            .or_insert_with(|| {
                inserted = true;
                type_id(text)
            })
            .value();
        // Another thread may have inserted between the probe and the entry call: then
        // this sighting is a hit, and the counts stay exact (misses = distinct texts).
        if inserted {
            self.misses.fetch_add(1, Ordering::Relaxed);
        } else {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        id
    }

    fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    fn snapshot(&self) -> Vec<(NodeId, String)> {
        self.map
            .iter()
            .map(|r| (*r.value(), r.key().clone()))
            .collect()
    }
}

/// The alternative: one `Mutex<HashMap>` for every thread.
#[derive(Debug, Default)]
pub struct MutexInterner {
    map: Mutex<FastMap<String, NodeId>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl MutexInterner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TypeInterner for MutexInterner {
    fn intern(&self, text: &str) -> NodeId {
        let mut map = self.map.lock();
        if let Some(id) = map.get(text) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return *id;
        }
        let id = type_id(text);
        map.insert(text.to_owned(), id);
        self.misses.fetch_add(1, Ordering::Relaxed);
        id
    }

    fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    fn snapshot(&self) -> Vec<(NodeId, String)> {
        self.map
            .lock()
            .iter()
            .map(|(k, v)| (*v, k.clone()))
            .collect()
    }
}

/// The sequential build's interner: a plain map, single-threaded.
#[derive(Debug, Default)]
pub struct LocalInterner {
    map: RefCell<FastMap<String, NodeId>>,
    hits: std::cell::Cell<u64>,
    misses: std::cell::Cell<u64>,
}

impl LocalInterner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TypeInterner for LocalInterner {
    fn intern(&self, text: &str) -> NodeId {
        let mut map = self.map.borrow_mut();
        if let Some(id) = map.get(text) {
            self.hits.set(self.hits.get() + 1);
            return *id;
        }
        let id = type_id(text);
        map.insert(text.to_owned(), id);
        self.misses.set(self.misses.get() + 1);
        id
    }

    fn stats(&self) -> (u64, u64) {
        (self.hits.get(), self.misses.get())
    }

    fn snapshot(&self) -> Vec<(NodeId, String)> {
        self.map
            .borrow()
            .iter()
            .map(|(k, v)| (*v, k.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hammer(interner: &(dyn TypeInterner + Sync)) {
        std::thread::scope(|s| {
            for t in 0..8u64 {
                s.spawn(move || {
                    for i in 0..2000u64 {
                        let text = format!("T{}", (i * 7 + t) % 500);
                        assert_eq!(interner.intern(&text), type_id(&text));
                    }
                });
            }
        });
        let (hits, misses) = interner.stats();
        assert_eq!(misses, 500, "one miss per distinct text");
        assert_eq!(hits + misses, 8 * 2000);
        assert_eq!(interner.snapshot().len(), 500);
    }

    #[test]
    fn dashmap_interner_counts_exactly_under_contention() {
        hammer(&DashMapInterner::new());
    }

    #[test]
    fn mutex_interner_counts_exactly_under_contention() {
        hammer(&MutexInterner::new());
    }

    #[test]
    fn local_interner_agrees() {
        let l = LocalInterner::new();
        assert_eq!(l.intern("u8"), l.intern("u8"));
        assert_eq!(l.stats(), (1, 1));
    }
}
