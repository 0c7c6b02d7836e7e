//! The pattern cache of the copy-on-write environment: query key to the rules it
//! matches, least recently used entries evicted first.
//!
//! A hit takes the map's read lock only: recency is an atomic stamp on the entry, so
//! concurrent readers never serialise on a write lock. Only a miss takes the write lock
//! to insert. The clock advances on inserts, not on hits, so a hot entry read by many
//! threads is written at most once per insert epoch and its cache line stays shared.

use crate::sync::{AtomicU64, Ordering};
use std::collections::HashMap;
use std::sync::Arc;

use crate::sync::CacheLock;
use crate::Rule;

/// The rules a query matches, in the order the evaluator tries them.
pub type RuleList = Arc<[Arc<Rule>]>;

#[derive(Debug)]
struct Entry {
    rules: RuleList,
    last_used: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct PatternCache {
    entries: CacheLock<HashMap<Vec<u8>, Entry>>,
    clock: AtomicU64,
    capacity: usize,
}

impl PatternCache {
    pub(crate) fn new(capacity: usize) -> Self {
        PatternCache {
            entries: CacheLock::new(HashMap::new()),
            clock: AtomicU64::new(0),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<RuleList> {
        let entries = self.entries.read();
        let entry = entries.get(key)?;
        let now = self.clock.load(Ordering::Relaxed);
        if entry.last_used.load(Ordering::Relaxed) != now {
            entry.last_used.store(now, Ordering::Relaxed);
        }
        Some(entry.rules.clone())
    }

    pub(crate) fn insert(&self, key: Vec<u8>, rules: RuleList) {
        let now = self.clock.fetch_add(1, Ordering::Relaxed) + 1;
        let mut entries = self.entries.write();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            // Evict the least recently used eighth in one pass, so the sort is paid once
            // per capacity/8 inserts rather than on every insert.
            let mut ages: Vec<(u64, Vec<u8>)> = entries
                .iter()
                .map(|(k, e)| (e.last_used.load(Ordering::Relaxed), k.clone()))
                .collect();
            ages.sort_unstable();
            let evict = (self.capacity / 8).max(1);
            for (_, k) in ages.into_iter().take(evict) {
                entries.remove(&k);
            }
        }
        entries.insert(
            key,
            Entry {
                rules,
                last_used: AtomicU64::new(now),
            },
        );
    }

    /// Drops one entry; needs exclusive access, which a writer of the environment has.
    pub(crate) fn invalidate(&mut self, key: &[u8]) {
        self.entries.get_mut().remove(key);
    }

    pub(crate) fn clear(&mut self) {
        self.entries.get_mut().clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Atom;

    fn list(n: i64) -> RuleList {
        Arc::from(vec![Arc::new(Rule::new(Atom::Int(n), Atom::Int(n)))])
    }

    #[test]
    fn evicts_least_recently_used_first() {
        let cache = PatternCache::new(8);
        for i in 0..8u8 {
            cache.insert(vec![i], list(i64::from(i)));
        }
        // Touch key 0 after the last insert so it is the most recent.
        assert!(cache.get(&[0]).is_some());
        cache.insert(vec![100], list(100));
        assert!(cache.get(&[0]).is_some(), "recently read entry survived");
        assert!(
            cache.get(&[1]).is_none(),
            "oldest untouched entry was evicted"
        );
        assert!(cache.len() <= 8);
    }

    #[test]
    fn a_hit_needs_only_the_read_lock() {
        let cache = PatternCache::new(4);
        cache.insert(vec![1], list(1));
        // Hold a read guard: a hit that wanted the write lock would block behind it.
        let guard = cache.entries.read();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let _ = tx.send(cache.get(&[1]).is_some());
            });
            let outcome = rx.recv_timeout(std::time::Duration::from_secs(5));
            drop(guard);
            assert_eq!(
                outcome,
                Ok(true),
                "the hit completed while a reader held the lock"
            );
        });
    }

    #[test]
    fn invalidate_and_clear() {
        let mut cache = PatternCache::new(4);
        cache.insert(vec![1], list(1));
        cache.insert(vec![2], list(2));
        cache.invalidate(&[1]);
        assert!(cache.get(&[1]).is_none());
        assert!(cache.get(&[2]).is_some());
        cache.clear();
        assert_eq!(cache.len(), 0);
    }
}
