//! Node identities: stable IDs from a fixed-seed hash, and the seed's atomic counter
//! kept as the "before" for tests and benchmarks.

use serde::{Serialize, Serializer};

use crate::model::NodeKind;
use crate::sync::{AtomicUsize, Ordering};

/// The identity of a node: a 64-bit hash of its key, printed as 16 hex digits.
///
/// The key of an item is (parent ID, kind, name, ordinal among siblings with the same
/// kind and name); the parent chain ends at the crate, whose key is its namespace. So an
/// ID depends on the crate, the module path, the kind, the name and the ordinal, and on
/// nothing about the run: not the thread count, not the file order, not the folder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u64);

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// FNV-1a over 64 bits with its published offset basis: tiny, fixed forever, and the
/// same on every platform and Rust release (std's `DefaultHasher` promises none of that).
#[derive(Debug, Clone, Copy)]
pub struct StableHasher(u64);

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl StableHasher {
    /// Feeds bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Feeds one field: its length first, so `("ab", "c")` and `("a", "bc")` differ.
    pub fn field(&mut self, bytes: &[u8]) {
        self.write(&(bytes.len() as u64).to_le_bytes());
        self.write(bytes);
    }

    /// The hash, with a final avalanche so nearby keys spread over all 64 bits.
    pub fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }
}

/// The ID of the crate (target) named `namespace`.
pub fn crate_id(namespace: &str) -> NodeId {
    let mut h = StableHasher::default();
    h.field(b"crate");
    h.field(namespace.as_bytes());
    NodeId(h.finish())
}

/// The ID of the `ordinal`-th child of `parent` with this kind and name (0 for the first).
pub fn item_id(parent: NodeId, kind: NodeKind, name: &str, ordinal: u32) -> NodeId {
    let mut h = StableHasher::default();
    h.field(&parent.0.to_le_bytes());
    h.field(kind.as_str().as_bytes());
    h.field(name.as_bytes());
    h.field(&ordinal.to_le_bytes());
    NodeId(h.finish())
}

/// The ID of the type node whose normalised text is `text`: the same type text gets the
/// same node everywhere in the graph.
pub fn type_id(text: &str) -> NodeId {
    let mut h = StableHasher::default();
    h.field(b"type");
    h.field(text.as_bytes());
    NodeId(h.finish())
}

/// The seed's ID allocator: one atomic counter per ID space, `fetch_add` per ID.
///
/// IDs are unique under any number of threads, but which item gets which number depends
/// on the interleaving, so two runs over the same source disagree. The crate keeps it as
/// the measured "before" of [`item_id`]; the graph never uses it.
#[derive(Debug, Default)]
pub struct SeedIdAllocator {
    node: AtomicUsize,
    type_: AtomicUsize,
    trait_: AtomicUsize,
}

impl SeedIdAllocator {
    /// Starts every counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next node number.
    pub fn next_node_id(&self) -> usize {
        // Relaxed is enough: only uniqueness is wanted, and fetch_add is atomic on its own.
        self.node.fetch_add(1, Ordering::Relaxed)
    }

    /// The next type number.
    pub fn next_type_id(&self) -> usize {
        self.type_.fetch_add(1, Ordering::Relaxed)
    }

    /// The next trait number.
    pub fn next_trait_id(&self) -> usize {
        self.trait_.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[test]
    fn concurrent_type_ids_are_unique() {
        // The seed's own validation test, kept.
        let state = Arc::new(SeedIdAllocator::new());
        let handles: Vec<_> = (0..10)
            .map(|_| {
                let s = state.clone();
                std::thread::spawn(move || (0..1000).map(|_| s.next_type_id()).collect::<Vec<_>>())
            })
            .collect();
        let ids: HashSet<_> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn stable_ids_depend_on_every_key_part() {
        let c = crate_id("a");
        let base = item_id(c, NodeKind::Function, "f", 0);
        assert_eq!(base, item_id(crate_id("a"), NodeKind::Function, "f", 0));
        assert_ne!(base, item_id(crate_id("b"), NodeKind::Function, "f", 0));
        assert_ne!(base, item_id(c, NodeKind::Struct, "f", 0));
        assert_ne!(base, item_id(c, NodeKind::Function, "g", 0));
        assert_ne!(base, item_id(c, NodeKind::Function, "f", 1));
        assert_eq!(format!("{}", NodeId(255)), "00000000000000ff");
    }

    #[test]
    fn fnv_matches_its_published_vector() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; checks the constants.
        let mut h = StableHasher::default();
        h.write(b"a");
        assert_eq!(h.0, 0xaf63_dc4c_8601_ec8c);
    }
}
