//! Version stamps and a short ancestry chain: what `union`'s fast paths consult.
//!
//! Every write gives a handle a fresh, process-wide unique stamp, so two handles with the
//! same stamp hold the same data (they were cloned from one another with no write since).
//! Every handle also remembers the stamps of its last [`MAX_HISTORY`] states. Because all
//! writes only add instances or tombstones (see `docs/cow-env.md`), a state whose stamp appears in another
//! handle's history is contained in it, and their union is that other handle.

use crate::sync::{AtomicU64, Ordering};
use std::sync::Arc;

/// How many past states a handle remembers. Older ancestors are forgotten to bound
/// memory; a union with one of them takes the deep merge, which gives the same result.
pub(crate) const MAX_HISTORY: u32 = 64;

static NEXT_STAMP: AtomicU64 = AtomicU64::new(1);

#[derive(Debug)]
struct Node {
    stamp: u64,
    depth: u32,
    parent: Option<Arc<Node>>,
}

/// The stamp of a handle's current state and the chain of its recent ancestors.
#[derive(Debug, Clone)]
pub(crate) struct Lineage {
    head: Arc<Node>,
}

impl Lineage {
    pub(crate) fn new() -> Self {
        Lineage {
            head: Arc::new(Node {
                stamp: NEXT_STAMP.fetch_add(1, Ordering::Relaxed),
                depth: 0,
                parent: None,
            }),
        }
    }

    /// The stamp of the current state.
    pub(crate) fn stamp(&self) -> u64 {
        self.head.stamp
    }

    /// Records a write: the current state becomes an ancestor of a new one.
    pub(crate) fn advance(&mut self) {
        let depth = self.head.depth + 1;
        let (parent, depth) = if depth >= MAX_HISTORY {
            (None, 0)
        } else {
            (Some(self.head.clone()), depth)
        };
        self.head = Arc::new(Node {
            stamp: NEXT_STAMP.fetch_add(1, Ordering::Relaxed),
            depth,
            parent,
        });
    }

    /// Whether `other`'s current state is this handle's current state or one of its
    /// remembered ancestors.
    pub(crate) fn contains_state_of(&self, other: &Lineage) -> bool {
        let target = other.stamp();
        let mut node = Some(&self.head);
        while let Some(n) = node {
            if n.stamp == target {
                return true;
            }
            node = n.parent.as_ref();
        }
        false
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Unlink the chain iteratively so that dropping a long one cannot recurse deeply.
        let mut next = self.parent.take();
        while let Some(node) = next {
            match Arc::try_unwrap(node) {
                Ok(mut inner) => next = inner.parent.take(),
                Err(_) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestry_is_remembered_for_a_bounded_number_of_writes() {
        let base = Lineage::new();
        let mut child = base.clone();
        assert!(child.contains_state_of(&base) && base.contains_state_of(&child));
        child.advance();
        assert!(child.contains_state_of(&base));
        assert!(!base.contains_state_of(&child));
        for _ in 0..MAX_HISTORY {
            child.advance();
        }
        assert!(
            !child.contains_state_of(&base),
            "forgotten after MAX_HISTORY writes"
        );
    }
}
