//! The hasher of the build's internal maps: foldhash's fast hasher with its fixed seed,
//! several times cheaper than std's SipHash on the short keys the build uses (node IDs
//! and identifiers), and the same in every run.
//!
//! It is not flooding-resistant; an adversarial source tree could make a map slow, never
//! wrong. Nothing depends on a map's iteration order (every output list is sorted), so
//! the choice of hasher cannot change the output.

use std::collections::{HashMap, HashSet};

/// The build-hasher of the crate's maps.
pub(crate) type FastState = foldhash::fast::FixedState;
/// A `HashMap` with the fast hasher.
pub(crate) type FastMap<K, V> = HashMap<K, V, FastState>;
/// A `HashSet` with the fast hasher.
pub(crate) type FastSet<K> = HashSet<K, FastState>;
