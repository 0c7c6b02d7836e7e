//! The few `PathMap` operations the environments use, in one place so that every map
//! they share is initialised.
//!
//! `PathMap::new()` creates its root node lazily, and a read through `&self` creates it
//! without synchronisation: two threads reading one never-written map race (seen with
//! ThreadSanitizer). Every map built here is therefore initialised before it can be
//! shared: `fresh` forces the root, and `join` re-forces it because a join of two
//! empty maps hands back an uninitialised one.

use pathmap::ring::Lattice;
use pathmap::zipper::{ZipperIteration, ZipperMoving, ZipperValues};
use pathmap::PathMap;

/// An empty map whose root node already exists, so that sharing it is safe.
pub(crate) fn fresh<V: Clone + Send + Sync + Unpin>() -> PathMap<V> {
    let mut map = PathMap::new();
    initialise(&mut map);
    map
}

/// Forces the root node of `map` (a no-op when it exists).
pub(crate) fn initialise<V: Clone + Send + Sync + Unpin>(map: &mut PathMap<V>) {
    // Creating a write zipper at the root allocates the root node and nothing else.
    drop(map.write_zipper());
}

/// The union of two maps; subtries the two share by pointer are taken as they are
/// without being walked, which is what makes merging two forks cost only their
/// differences.
pub(crate) fn join<V: Clone + Send + Sync + Unpin + Lattice>(
    a: &PathMap<V>,
    b: &PathMap<V>,
) -> PathMap<V> {
    let mut joined = a.join(b);
    initialise(&mut joined);
    joined
}

/// The number of values of `a` whose path is not in `b`. Subtries the two share by
/// pointer are skipped, so for two forks this costs their differences only. The
/// subtraction is never shared, so its possibly uninitialised root does not matter.
pub(crate) fn count_missing<V>(a: &PathMap<V>, b: &PathMap<V>) -> usize
where
    V: Clone + Send + Sync + Unpin + pathmap::ring::DistributiveLattice,
{
    a.subtract(b).val_count()
}

/// Calls `f(suffix, value)` for every value stored under `prefix`, in byte order.
pub(crate) fn for_each_under<V: Clone + Send + Sync + Unpin>(
    map: &PathMap<V>,
    prefix: &[u8],
    mut f: impl FnMut(&[u8], &V),
) {
    let mut zipper = map.read_zipper_at_path(prefix);
    if let Some(value) = zipper.val() {
        f(&[], value);
    }
    while zipper.to_next_val() {
        if let Some(value) = zipper.val() {
            f(zipper.path(), value);
        }
    }
}

/// The number of values stored under `prefix` (including one at `prefix` itself).
pub(crate) fn count_under<V: Clone + Send + Sync + Unpin>(
    map: &PathMap<V>,
    prefix: &[u8],
) -> usize {
    let zipper = map.read_zipper_at_path(prefix);
    zipper.val_count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iteration_under_a_prefix_sees_only_that_subtrie() {
        let mut map = fresh::<u32>();
        map.set_val_at(b"ab1", 1);
        map.set_val_at(b"ab2", 2);
        map.set_val_at(b"ac", 3);
        let mut seen = Vec::new();
        for_each_under(&map, b"ab", |suffix, v| seen.push((suffix.to_vec(), *v)));
        assert_eq!(seen, vec![(b"1".to_vec(), 1), (b"2".to_vec(), 2)]);
        assert_eq!(count_under(&map, b"ab"), 2);
        assert_eq!(count_under(&map, b"zz"), 0);
    }

    #[test]
    fn count_missing_counts_one_side_only() {
        let mut a = fresh::<u64>();
        a.set_val_at(b"x", 1);
        let mut b = a.clone();
        b.set_val_at(b"y", 2);
        b.set_val_at(b"z", 3);
        assert_eq!(count_missing(&b, &a), 2);
        assert_eq!(count_missing(&a, &b), 0);
    }

    #[test]
    fn join_of_empty_maps_is_initialised_and_shareable() {
        let joined = join(&fresh::<()>(), &fresh::<()>());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| assert!(!joined.contains(b"x")));
            }
        });
    }
}
