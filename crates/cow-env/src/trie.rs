//! The byte-keyed persistent maps under the environments, and the choice of backend.
//!
//! Every field of an [`crate::Environment`] is a map from byte paths ([`crate::Atom::encode`]
//! and rule keys) to a value, with the operations listed in [`private::TrieMap`]: O(1)
//! clone, a write that copies only the nodes on its path, iteration and counting under a
//! prefix, and a union and a difference that skip the subtries two forks still share.
//!
//! Two backends implement it:
//! - [`NativeTrie`] (always built, the default): [`Trie`], a persistent radix trie of this
//!   crate. Nodes are `Arc`-shared and carry their subtrie's value count; a write goes
//!   through `Arc::make_mut` from the root down, so it copies the nodes on one path and
//!   nothing else; `join` and the difference compare nodes by pointer first and take a
//!   shared subtrie whole without walking it. It needs no unsafe code, no SIMD and no
//!   build flags.
//! - [`PathMapTrie`] (feature `pathmap`): the `pathmap` crate, the seed's trie. Its hasher
//!   (`gxhash`) does not compile on x86_64 unless AES-NI and SSE2 are enabled, so a build
//!   with this feature needs `RUSTFLAGS="-C target-feature=+aes,+sse2"` there.
//!
//! `PathMap::new()` creates its root node lazily, and a read through `&self` creates it
//! without synchronisation: two threads reading one never-written map race (seen with
//! ThreadSanitizer). Every `PathMap` made here is therefore initialised before it can be
//! shared: `new` forces the root, and `join` re-forces it because a join of two empty
//! maps hands back an uninitialised one. The native trie has no lazy state.

use std::fmt;
use std::sync::Arc;

use crate::rule::RuleRef;

/// The crate-internal traits of the backends: public so that [`TrieBackend`] can name
/// them, in a private module so that no other crate can.
pub(crate) mod private {
    use super::RuleRef;

    /// A value a trie stores: `()` for sets, [`RuleRef`] for the rule indexes. Two
    /// values under one path are the same thing (one instance id), so a union keeps
    /// either.
    #[cfg(not(feature = "pathmap"))]
    pub trait Value: Clone + Send + Sync + Unpin + std::fmt::Debug + 'static {}

    /// A value a trie stores: `()` for sets, [`RuleRef`] for the rule indexes. Two
    /// values under one path are the same thing (one instance id), so a union keeps
    /// either. (With `pathmap`, also its lattice operations.)
    #[cfg(feature = "pathmap")]
    pub trait Value:
        Clone
        + Send
        + Sync
        + Unpin
        + std::fmt::Debug
        + 'static
        + pathmap::ring::Lattice
        + pathmap::ring::DistributiveLattice
    {
    }

    impl Value for () {}
    impl Value for RuleRef {}

    /// The map operations the environments use.
    pub trait TrieMap<V: Value>: Clone + Send + Sync + std::fmt::Debug + 'static {
        /// An empty map, safe to share at once.
        fn new_map() -> Self;
        /// The value at `path`.
        fn get_val(&self, path: &[u8]) -> Option<&V>;
        /// Stores `value` at `path`; the value it replaced.
        fn set_val(&mut self, path: &[u8], value: V) -> Option<V>;
        /// Removes the value at `path`; the value removed.
        fn remove_val(&mut self, path: &[u8]) -> Option<V>;
        /// The number of values.
        fn count(&self) -> usize;
        /// The number of values at `prefix` or under it.
        fn count_prefix(&self, prefix: &[u8]) -> usize;
        /// Calls `f(suffix, value)` for each value at `prefix` or under it, in byte order
        /// of the paths (a path before its extensions).
        fn visit_prefix(&self, prefix: &[u8], f: &mut dyn FnMut(&[u8], &V));
        /// The union; where both have a value, the left one is kept.
        fn union_with(&self, other: &Self) -> Self;
        /// The number of values of `self` whose path has no value in `other`.
        fn count_missing_in(&self, other: &Self) -> usize;
        /// Calls `f(path, value)` for each value of `self` whose path has no value in
        /// `other`.
        fn visit_missing_in(&self, other: &Self, f: &mut dyn FnMut(&[u8], &V));
    }
}

use private::{TrieMap, Value};

/// Which persistent map an [`crate::Environment`] stores its fields in.
///
/// Sealed: the implementations are [`NativeTrie`] (the default) and, with the `pathmap`
/// feature, `PathMapTrie`. A feature only adds a backend; it never changes what
/// `Environment` (that is, `Environment<NativeTrie>`) is.
pub trait TrieBackend: fmt::Debug + Send + Sync + 'static {
    /// The map type for values `V`.
    #[doc(hidden)]
    type Map<V: Value>: TrieMap<V>;
    /// A short lowercase name for reports (`native`, `pathmap`).
    const NAME: &'static str;
    /// The atom set of a space snapshot, from the map (O(1)).
    #[doc(hidden)]
    fn atoms(map: &Self::Map<()>) -> Atoms;
}

/// The persistent radix trie of this crate: the default backend, built with no flags on
/// every target. Nodes are shared with `Arc`; a write copies one path; a union or a
/// difference of two forks skips the subtries they share.
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeTrie;

impl TrieBackend for NativeTrie {
    type Map<V: Value> = Trie<V>;
    const NAME: &'static str = "native";
    fn atoms(map: &Trie<()>) -> Atoms {
        Atoms::Native(map.clone())
    }
}

/// The `pathmap` crate as the backend (feature `pathmap`; on x86_64 the build needs
/// `RUSTFLAGS="-C target-feature=+aes,+sse2"`).
#[cfg(feature = "pathmap")]
#[derive(Debug, Clone, Copy, Default)]
pub struct PathMapTrie;

#[cfg(feature = "pathmap")]
impl TrieBackend for PathMapTrie {
    type Map<V: Value> = pathmap::PathMap<V>;
    const NAME: &'static str = "pathmap";
    fn atoms(map: &pathmap::PathMap<()>) -> Atoms {
        Atoms::PathMap(map.clone())
    }
}

/// The atoms of a space snapshot, in whichever backend the environment used.
#[derive(Debug, Clone)]
pub enum Atoms {
    /// Held by a native trie.
    Native(Trie<()>),
    /// Held by a `PathMap`.
    #[cfg(feature = "pathmap")]
    PathMap(pathmap::PathMap<()>),
}

impl Atoms {
    /// A native set of the given paths.
    pub(crate) fn from_paths(paths: impl IntoIterator<Item = Vec<u8>>) -> Self {
        let mut set: Trie<()> = fresh();
        for path in paths {
            set.set_val(&path, ());
        }
        Atoms::Native(set)
    }

    /// Whether `path` is in the set.
    pub(crate) fn contains(&self, path: impl AsRef<[u8]>) -> bool {
        match self {
            Atoms::Native(t) => t.get_val(path.as_ref()).is_some(),
            #[cfg(feature = "pathmap")]
            Atoms::PathMap(t) => t.get_val(path.as_ref()).is_some(),
        }
    }

    /// The number of paths.
    pub(crate) fn val_count(&self) -> usize {
        match self {
            Atoms::Native(t) => t.count(),
            #[cfg(feature = "pathmap")]
            Atoms::PathMap(t) => t.count(),
        }
    }

    fn visit_prefix(&self, prefix: &[u8], f: &mut dyn FnMut(&[u8], &())) {
        match self {
            Atoms::Native(t) => t.visit_prefix(prefix, f),
            #[cfg(feature = "pathmap")]
            Atoms::PathMap(t) => t.visit_prefix(prefix, f),
        }
    }
}

/// A map that [`for_each_under`] can walk: every backend map and [`Atoms`].
pub(crate) trait Walk<V> {
    fn walk(&self, prefix: &[u8], f: &mut dyn FnMut(&[u8], &V));
}

impl<V: Value, M: TrieMap<V>> Walk<V> for M {
    fn walk(&self, prefix: &[u8], f: &mut dyn FnMut(&[u8], &V)) {
        self.visit_prefix(prefix, f);
    }
}

impl Walk<()> for Atoms {
    fn walk(&self, prefix: &[u8], f: &mut dyn FnMut(&[u8], &())) {
        self.visit_prefix(prefix, f);
    }
}

/// An empty map of backend `M`.
pub(crate) fn fresh<V: Value, M: TrieMap<V>>() -> M {
    M::new_map()
}

/// The union of two maps; subtries the two share are taken as they are without being
/// walked, which is what makes merging two forks cost only their differences.
pub(crate) fn join<V: Value, M: TrieMap<V>>(a: &M, b: &M) -> M {
    a.union_with(b)
}

/// The number of values of `a` whose path is not in `b`. Shared subtries are skipped,
/// so for two forks this costs their differences only.
pub(crate) fn count_missing<V: Value, M: TrieMap<V>>(a: &M, b: &M) -> usize {
    a.count_missing_in(b)
}

/// Calls `f(path, value)` for every value of `a` whose path is not in `b`, skipping
/// shared subtries.
pub(crate) fn for_each_missing<V: Value, M: TrieMap<V>>(
    a: &M,
    b: &M,
    mut f: impl FnMut(&[u8], &V),
) {
    a.visit_missing_in(b, &mut f);
}

/// Calls `f(suffix, value)` for every value stored under `prefix`, in byte order.
pub(crate) fn for_each_under<V>(map: &impl Walk<V>, prefix: &[u8], mut f: impl FnMut(&[u8], &V)) {
    map.walk(prefix, &mut f);
}

/// The number of values stored under `prefix` (including one at `prefix` itself).
pub(crate) fn count_under<V: Value, M: TrieMap<V>>(map: &M, prefix: &[u8]) -> usize {
    map.count_prefix(prefix)
}

// ---------------------------------------------------------------------------------------
// The native persistent radix trie.

/// A persistent radix trie from byte paths to values: O(1) clone, a write copies the
/// nodes on one path, union and difference skip shared subtries. Only this crate builds
/// one; it appears in the public API only inside [`Atoms`].
pub struct Trie<V> {
    /// `None` when empty. The root sits at the empty path.
    root: Option<Arc<Node<V>>>,
}

/// The label of an edge (never empty) and the node it leads to. The label lives in the
/// parent, not in the node, so that a union or a split can hang an existing node under a
/// new label without copying it.
type Edge<V> = (Label, Arc<Node<V>>);

/// Bytes of a label kept inline (the label and its length fill 24 bytes).
const INLINE_LABEL: usize = 22;

/// An edge label: short ones inline, so that copying a node on write (which copies its
/// edges) costs no allocation or reference count for them; long ones shared.
#[derive(Clone)]
enum Label {
    Inline { len: u8, bytes: [u8; INLINE_LABEL] },
    Shared(Arc<[u8]>),
}

impl std::ops::Deref for Label {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Label::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Label::Shared(bytes) => bytes,
        }
    }
}

impl From<&[u8]> for Label {
    fn from(slice: &[u8]) -> Self {
        match u8::try_from(slice.len()) {
            Ok(len) if slice.len() <= INLINE_LABEL => {
                let mut bytes = [0; INLINE_LABEL];
                bytes[..slice.len()].copy_from_slice(slice);
                Label::Inline { len, bytes }
            }
            _ => Label::Shared(slice.into()),
        }
    }
}

impl From<Vec<u8>> for Label {
    fn from(bytes: Vec<u8>) -> Self {
        Label::from(&bytes[..])
    }
}

/// One node: its value, its edges (sorted by the first byte of their label, which is
/// unique among siblings) and the number of values in its subtrie.
struct Node<V> {
    value: Option<V>,
    children: Vec<Edge<V>>,
    count: usize,
}

impl<V: Clone> Clone for Node<V> {
    fn clone(&self) -> Self {
        Node {
            value: self.value.clone(),
            children: self.children.clone(),
            count: self.count,
        }
    }
}

impl<V> Clone for Trie<V> {
    fn clone(&self) -> Self {
        Trie {
            root: self.root.clone(),
        }
    }
}

impl<V> fmt::Debug for Trie<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trie")
            .field("values", &self.root.as_ref().map_or(0, |n| n.count))
            .finish()
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Where a walk stands in a trie: `pending` more label bytes, then `node` (at `node`
/// itself when `pending` is empty).
type Position<'a, V> = (&'a [u8], &'a Node<V>);

impl<V: Clone> Node<V> {
    fn leaf(value: V) -> Arc<Self> {
        Arc::new(Node {
            value: Some(value),
            children: Vec::new(),
            count: 1,
        })
    }

    /// A valueless node with one edge.
    fn above(label: &[u8], node: &Arc<Node<V>>) -> Arc<Self> {
        Arc::new(Node {
            value: None,
            children: vec![(label.into(), node.clone())],
            count: node.count,
        })
    }

    fn child_index(&self, byte: u8) -> Result<usize, usize> {
        self.children
            .binary_search_by_key(&byte, |(label, _)| label[0])
    }

    fn child(&self, byte: u8) -> Option<&Edge<V>> {
        self.child_index(byte).ok().map(|i| &self.children[i])
    }

    /// Inserts `value` at `key` below `node`.
    fn insert(node: &mut Arc<Node<V>>, key: &[u8], value: V) -> Option<V> {
        let this = Arc::make_mut(node);
        let old = match key.first() {
            None => this.value.replace(value),
            Some(&byte) => match this.child_index(byte) {
                Err(i) => {
                    this.children.insert(i, (key.into(), Node::leaf(value)));
                    None
                }
                Ok(i) => {
                    let (label, child) = &mut this.children[i];
                    let common = common_prefix(label, key);
                    if common == label.len() {
                        Node::insert(child, &key[common..], value)
                    } else {
                        // Split the edge: a new node at the common part, the old child
                        // below it under the rest of the label (not copied).
                        let mut middle = Node {
                            value: None,
                            children: vec![(label[common..].into(), child.clone())],
                            count: child.count + 1,
                        };
                        let rest = &key[common..];
                        if rest.is_empty() {
                            middle.value = Some(value);
                        } else {
                            let at = middle.child_index(rest[0]).unwrap_or_else(|i| i);
                            middle.children.insert(at, (rest.into(), Node::leaf(value)));
                        }
                        *label = key[..common].into();
                        *child = Arc::new(middle);
                        None
                    }
                }
            },
        };
        if old.is_none() {
            this.count += 1;
        }
        old
    }

    fn get<'a>(mut node: &'a Node<V>, mut key: &[u8]) -> Option<&'a V> {
        loop {
            let Some(&byte) = key.first() else {
                return node.value.as_ref();
            };
            let (label, child) = node.child(byte)?;
            key = key.strip_prefix(&**label)?;
            node = child;
        }
    }

    /// Removes the value at `key` below `node`; the caller has checked that it is there,
    /// so that no node is copied for nothing.
    fn remove(node: &mut Arc<Node<V>>, key: &[u8]) -> Option<V> {
        let this = Arc::make_mut(node);
        let old = match key.first() {
            None => this.value.take(),
            Some(&byte) => {
                let i = this.child_index(byte).ok()?;
                let (label, child) = &mut this.children[i];
                let old = Node::remove(child, &key[label.len()..]);
                // Keep the trie compressed: an empty child goes, a valueless child with
                // one edge is replaced by that edge, the labels joined.
                if child.value.is_none() {
                    match child.children.len() {
                        0 => {
                            this.children.remove(i);
                        }
                        1 => {
                            let (below, grandchild) = child.children[0].clone();
                            let mut joined = label.to_vec();
                            joined.extend_from_slice(&below);
                            this.children[i] = (joined.into(), grandchild);
                        }
                        _ => {}
                    }
                }
                old
            }
        };
        if old.is_some() {
            this.count -= 1;
        }
        old
    }

    /// Moves `position` down by `label`; `None` when the trie has no path there.
    fn descend<'a>(position: Position<'a, V>, label: &[u8]) -> Option<Position<'a, V>> {
        let (mut pending, mut node) = position;
        let mut label = label;
        loop {
            if !pending.is_empty() {
                let common = common_prefix(pending, label);
                if common == label.len() {
                    return Some((&pending[common..], node));
                }
                if common < pending.len() {
                    return None;
                }
                label = &label[common..];
            }
            let Some(&byte) = label.first() else {
                return Some((&[], node));
            };
            let (edge, child) = node.child(byte)?;
            pending = edge;
            node = child;
        }
    }

    /// Visits every value of the subtrie under `node`, `path` being the path to it.
    fn visit(node: &Node<V>, path: &mut Vec<u8>, f: &mut dyn FnMut(&[u8], &V)) {
        if let Some(value) = &node.value {
            f(path, value);
        }
        for (label, child) in &node.children {
            let len = path.len();
            path.extend_from_slice(label);
            Node::visit(child, path, f);
            path.truncate(len);
        }
    }

    fn join(a: &Arc<Node<V>>, b: &Arc<Node<V>>) -> Arc<Node<V>> {
        if Arc::ptr_eq(a, b) {
            return a.clone();
        }
        let mut joined = Node {
            value: a.value.clone().or_else(|| b.value.clone()),
            children: Vec::with_capacity(a.children.len().max(b.children.len())),
            count: 0,
        };
        let (mut i, mut j) = (0, 0);
        while i < a.children.len() || j < b.children.len() {
            let next_a = a.children.get(i).map(|(label, _)| label[0]);
            let next_b = b.children.get(j).map(|(label, _)| label[0]);
            match (next_a, next_b) {
                (Some(x), Some(y)) if x == y => {
                    joined
                        .children
                        .push(Node::join_edges(&a.children[i], &b.children[j]));
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x < y => {
                    joined.children.push(a.children[i].clone());
                    i += 1;
                }
                (Some(_), None) => {
                    joined.children.push(a.children[i].clone());
                    i += 1;
                }
                _ => {
                    joined.children.push(b.children[j].clone());
                    j += 1;
                }
            }
        }
        joined.count = usize::from(joined.value.is_some())
            + joined.children.iter().map(|(_, c)| c.count).sum::<usize>();
        Arc::new(joined)
    }

    /// The union of two sibling edges whose labels start with the same byte.
    fn join_edges((la, ca): &Edge<V>, (lb, cb): &Edge<V>) -> Edge<V> {
        let common = common_prefix(la, lb);
        if common == la.len() && common == lb.len() {
            return (la.clone(), Node::join(ca, cb));
        }
        if common == la.len() {
            return (la.clone(), Node::join(ca, &Node::above(&lb[common..], cb)));
        }
        if common == lb.len() {
            return (lb.clone(), Node::join(&Node::above(&la[common..], ca), cb));
        }
        // The labels diverge after `common` bytes: a new node there holds both.
        let mut children = vec![
            (la[common..].into(), ca.clone()),
            (lb[common..].into(), cb.clone()),
        ];
        children.sort_by_key(|(label, _): &Edge<V>| label[0]);
        let node = Node {
            value: None,
            children,
            count: ca.count + cb.count,
        };
        (la[..common].into(), Arc::new(node))
    }

    /// Reports the values under `a` whose path is not in the other trie, where `b` is
    /// the other trie's position at `a`'s path (`path`).
    fn missing(a: &Node<V>, b: Position<'_, V>, path: &mut Vec<u8>, sink: &mut dyn Sink<V>) {
        let (pending, b_node) = b;
        if pending.is_empty() && std::ptr::eq(a, b_node) {
            return;
        }
        if let Some(value) = &a.value {
            if !pending.is_empty() || b_node.value.is_none() {
                sink.one(path, value);
            }
        }
        for (label, child) in &a.children {
            let len = path.len();
            path.extend_from_slice(label);
            match Node::descend(b, label) {
                Some(position) => Node::missing(child, position, path, sink),
                None => sink.whole(child, path),
            }
            path.truncate(len);
        }
    }
}

/// What [`Node::missing`] reports to: single values, or whole subtries absent from the
/// other side.
trait Sink<V> {
    fn one(&mut self, path: &[u8], value: &V);
    fn whole(&mut self, node: &Node<V>, path: &mut Vec<u8>);
}

struct Counter(usize);

impl<V> Sink<V> for Counter {
    fn one(&mut self, _: &[u8], _: &V) {
        self.0 += 1;
    }
    fn whole(&mut self, node: &Node<V>, _: &mut Vec<u8>) {
        self.0 += node.count;
    }
}

struct Visitor<'f, V>(&'f mut dyn FnMut(&[u8], &V));

impl<V: Clone> Sink<V> for Visitor<'_, V> {
    fn one(&mut self, path: &[u8], value: &V) {
        (self.0)(path, value);
    }
    fn whole(&mut self, node: &Node<V>, path: &mut Vec<u8>) {
        Node::visit(node, path, self.0);
    }
}

impl<V: Value> TrieMap<V> for Trie<V> {
    fn new_map() -> Self {
        Trie { root: None }
    }

    fn get_val(&self, path: &[u8]) -> Option<&V> {
        Node::get(self.root.as_ref()?, path)
    }

    fn set_val(&mut self, path: &[u8], value: V) -> Option<V> {
        let root = self.root.get_or_insert_with(|| {
            Arc::new(Node {
                value: None,
                children: Vec::new(),
                count: 0,
            })
        });
        Node::insert(root, path, value)
    }

    fn remove_val(&mut self, path: &[u8]) -> Option<V> {
        self.get_val(path)?;
        let root = self.root.as_mut()?;
        let old = Node::remove(root, path);
        if root.count == 0 {
            self.root = None;
        }
        old
    }

    fn count(&self) -> usize {
        self.root.as_ref().map_or(0, |n| n.count)
    }

    fn count_prefix(&self, prefix: &[u8]) -> usize {
        self.root
            .as_ref()
            .and_then(|root| Node::descend((&[], root), prefix))
            .map_or(0, |(_, node)| node.count)
    }

    fn visit_prefix(&self, prefix: &[u8], f: &mut dyn FnMut(&[u8], &V)) {
        let Some(root) = &self.root else { return };
        if let Some((pending, node)) = Node::descend((&[], root), prefix) {
            Node::visit(node, &mut pending.to_vec(), f);
        }
    }

    fn union_with(&self, other: &Self) -> Self {
        match (&self.root, &other.root) {
            (Some(a), Some(b)) => Trie {
                root: Some(Node::join(a, b)),
            },
            (Some(_), None) => self.clone(),
            (None, _) => other.clone(),
        }
    }

    fn count_missing_in(&self, other: &Self) -> usize {
        let mut counter = Counter(0);
        match (&self.root, &other.root) {
            (Some(a), Some(b)) => Node::missing(a, (&[], b), &mut Vec::new(), &mut counter),
            (Some(a), None) => counter.0 = a.count,
            (None, _) => {}
        }
        counter.0
    }

    fn visit_missing_in(&self, other: &Self, f: &mut dyn FnMut(&[u8], &V)) {
        let mut visitor = Visitor(f);
        match (&self.root, &other.root) {
            (Some(a), Some(b)) => Node::missing(a, (&[], b), &mut Vec::new(), &mut visitor),
            (Some(a), None) => Node::visit(a, &mut Vec::new(), visitor.0),
            (None, _) => {}
        }
    }
}
// ---------------------------------------------------------------------------------------
// PathMap as a backend.

#[cfg(feature = "pathmap")]
mod pathmap_backend {
    use pathmap::ring::{AlgebraicResult, DistributiveLattice, Lattice, COUNTER_IDENT, SELF_IDENT};
    use pathmap::zipper::{ZipperIteration, ZipperMoving, ZipperValues};
    use pathmap::PathMap;

    use super::private::{TrieMap, Value};
    use crate::rule::RuleRef;

    /// Forces the root node of `map` (a no-op when it exists).
    fn initialise<V: Value>(map: &mut PathMap<V>) {
        // Creating a write zipper at the root allocates the root node and nothing else.
        drop(map.write_zipper());
    }

    impl Lattice for RuleRef {
        fn pjoin(&self, _other: &Self) -> AlgebraicResult<Self> {
            AlgebraicResult::Identity(SELF_IDENT | COUNTER_IDENT)
        }

        fn pmeet(&self, _other: &Self) -> AlgebraicResult<Self> {
            AlgebraicResult::Identity(SELF_IDENT | COUNTER_IDENT)
        }
    }

    impl DistributiveLattice for RuleRef {
        fn psubtract(&self, _other: &Self) -> AlgebraicResult<Self> {
            // The same id on both sides is the same instance: subtracting removes it.
            AlgebraicResult::None
        }
    }

    impl<V: Value> TrieMap<V> for PathMap<V> {
        fn new_map() -> Self {
            let mut map = PathMap::new();
            initialise(&mut map);
            map
        }

        fn get_val(&self, path: &[u8]) -> Option<&V> {
            self.get(path)
        }

        fn set_val(&mut self, path: &[u8], value: V) -> Option<V> {
            self.set_val_at(path, value)
        }

        fn remove_val(&mut self, path: &[u8]) -> Option<V> {
            self.remove_val_at(path, true)
        }

        fn count(&self) -> usize {
            self.val_count()
        }

        fn count_prefix(&self, prefix: &[u8]) -> usize {
            self.read_zipper_at_path(prefix).val_count()
        }

        fn visit_prefix(&self, prefix: &[u8], f: &mut dyn FnMut(&[u8], &V)) {
            let mut zipper = self.read_zipper_at_path(prefix);
            if let Some(value) = zipper.val() {
                f(&[], value);
            }
            while zipper.to_next_val() {
                if let Some(value) = zipper.val() {
                    f(zipper.path(), value);
                }
            }
        }

        fn union_with(&self, other: &Self) -> Self {
            let mut joined = self.join(other);
            initialise(&mut joined);
            joined
        }

        fn count_missing_in(&self, other: &Self) -> usize {
            // The difference is never shared, so its possibly lazy root does not matter.
            self.subtract(other).val_count()
        }

        fn visit_missing_in(&self, other: &Self, f: &mut dyn FnMut(&[u8], &V)) {
            self.subtract(other).visit_prefix(&[], f);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn collect<M: TrieMap<B>>(map: &M, prefix: &[u8]) -> Vec<(Vec<u8>, u8)> {
        let mut seen = Vec::new();
        for_each_under(map, prefix, |suffix, v: &B| {
            seen.push((suffix.to_vec(), v.0))
        });
        seen
    }

    /// A test value: a byte, with the lattice operations `pathmap` wants.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct B(u8);

    impl Value for B {}

    #[cfg(feature = "pathmap")]
    impl pathmap::ring::Lattice for B {
        fn pjoin(&self, _other: &Self) -> pathmap::ring::AlgebraicResult<Self> {
            pathmap::ring::AlgebraicResult::Identity(pathmap::ring::SELF_IDENT)
        }
        fn pmeet(&self, _other: &Self) -> pathmap::ring::AlgebraicResult<Self> {
            pathmap::ring::AlgebraicResult::Identity(pathmap::ring::SELF_IDENT)
        }
    }

    #[cfg(feature = "pathmap")]
    impl pathmap::ring::DistributiveLattice for B {
        fn psubtract(&self, _other: &Self) -> pathmap::ring::AlgebraicResult<Self> {
            pathmap::ring::AlgebraicResult::None
        }
    }

    fn iteration_under_a_prefix<M: TrieMap<B>>() {
        let mut map: M = fresh();
        map.set_val(b"ab1", B(1));
        map.set_val(b"ab2", B(2));
        map.set_val(b"ac", B(3));
        assert_eq!(
            collect(&map, b"ab"),
            vec![(b"1".to_vec(), 1), (b"2".to_vec(), 2)]
        );
        assert_eq!(count_under(&map, b"ab"), 2);
        assert_eq!(count_under(&map, b"a"), 3);
        assert_eq!(count_under(&map, b"zz"), 0);
        // A prefix that ends inside an edge.
        map.set_val(b"xyz12", B(4));
        assert_eq!(collect(&map, b"xy"), vec![(b"z12".to_vec(), 4)]);
    }

    fn missing_counts_one_side<M: TrieMap<B>>() {
        let mut a: M = fresh();
        a.set_val(b"x", B(1));
        let mut b = a.clone();
        b.set_val(b"y", B(2));
        b.set_val(b"z", B(3));
        assert_eq!(count_missing(&b, &a), 2);
        assert_eq!(count_missing(&a, &b), 0);
        let mut seen = Vec::new();
        for_each_missing(&b, &a, |p, v: &B| seen.push((p.to_vec(), v.0)));
        assert_eq!(seen, vec![(b"y".to_vec(), 2), (b"z".to_vec(), 3)]);
    }

    #[test]
    fn native_iteration_under_a_prefix_sees_only_that_subtrie() {
        iteration_under_a_prefix::<Trie<B>>();
    }

    #[test]
    fn native_count_missing_counts_one_side_only() {
        missing_counts_one_side::<Trie<B>>();
    }

    #[cfg(feature = "pathmap")]
    #[test]
    fn pathmap_backend_agrees_on_the_same_cases() {
        iteration_under_a_prefix::<pathmap::PathMap<B>>();
        missing_counts_one_side::<pathmap::PathMap<B>>();
    }

    #[cfg(feature = "pathmap")]
    #[test]
    fn join_of_empty_pathmaps_is_initialised_and_shareable() {
        let joined: pathmap::PathMap<()> = join(&fresh(), &fresh());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| assert!(joined.get_val(b"x").is_none()));
            }
        });
    }

    #[test]
    fn removing_compresses_and_empties_the_trie() {
        let mut map: Trie<B> = fresh();
        map.set_val(b"abc", B(1));
        map.set_val(b"abd", B(2));
        map.set_val(b"ab", B(3));
        assert_eq!(map.remove_val(b"ab"), Some(B(3)));
        assert_eq!(map.remove_val(b"ab"), None);
        assert_eq!(map.remove_val(b"abc"), Some(B(1)));
        assert_eq!(map.count(), 1);
        assert_eq!(collect(&map, b""), vec![(b"abd".to_vec(), 2)]);
        assert_eq!(map.remove_val(b"abd"), Some(B(2)));
        assert!(map.root.is_none());
    }

    #[test]
    fn a_clone_does_not_see_later_writes() {
        let mut a: Trie<B> = fresh();
        a.set_val(b"k1", B(1));
        let snapshot = a.clone();
        a.set_val(b"k2", B(2));
        a.remove_val(b"k1");
        assert_eq!(collect(&snapshot, b""), vec![(b"k1".to_vec(), 1)]);
        assert_eq!(collect(&a, b""), vec![(b"k2".to_vec(), 2)]);
    }

    #[test]
    fn joining_forks_reuses_the_shared_subtries() {
        let mut base: Trie<B> = fresh();
        for i in 0..200u8 {
            base.set_val(&[b'r', i, 0, 1], B(i));
        }
        let mut left = base.clone();
        let mut right = base.clone();
        left.set_val(b"left", B(1));
        right.set_val(b"more", B(2));
        let joined = join(&left, &right);
        assert_eq!(joined.count(), 202);
        let (Some(j), Some(b)) = (&joined.root, &base.root) else {
            panic!("both tries hold values");
        };
        // The subtrie of the 200 base paths (edge "r") is the base's own node in the
        // union: neither the forks' writes nor the union copied it.
        let (label, joined_r) = j.child(b'r').unwrap();
        let (base_label, base_r) = b.child(b'r').unwrap();
        assert_eq!((&**label, &**base_label), (&b"r"[..], &b"r"[..]));
        assert!(Arc::ptr_eq(joined_r, base_r));
        assert_eq!(joined_r.children.len(), 200);
    }

    type Model = BTreeMap<Vec<u8>, u8>;

    fn model_of(map: &Trie<B>) -> Model {
        collect(map, b"").into_iter().collect()
    }

    fn key() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(0u8..4, 0..6)
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(Vec<u8>, u8),
        Remove(Vec<u8>),
        Fork,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (key(), any::<u8>()).prop_map(|(k, v)| Op::Set(k, v)),
            2 => key().prop_map(Op::Remove),
            1 => Just(Op::Fork),
        ]
    }

    fn build(ops: &[Op], forks: &mut Vec<(Trie<B>, Model)>) -> (Trie<B>, Model) {
        let mut map: Trie<B> = fresh();
        let mut model = Model::new();
        for op in ops {
            match op {
                Op::Set(k, v) => {
                    assert_eq!(
                        map.set_val(k, B(*v)).map(|b| b.0),
                        model.insert(k.clone(), *v)
                    );
                }
                Op::Remove(k) => {
                    assert_eq!(map.remove_val(k).map(|b| b.0), model.remove(k));
                }
                Op::Fork => forks.push((map.clone(), model.clone())),
            }
        }
        (map, model)
    }

    proptest! {
        #[test]
        fn the_trie_behaves_as_an_ordered_map(ops in proptest::collection::vec(op(), 0..60)) {
            let mut forks = Vec::new();
            let (map, model) = build(&ops, &mut forks);
            prop_assert_eq!(model_of(&map), model.clone());
            prop_assert_eq!(map.count(), model.len());
            // Forks taken along the way still hold what they held.
            for (fork, fork_model) in &forks {
                prop_assert_eq!(&model_of(fork), fork_model);
            }
            for prefix in [vec![], vec![0], vec![1, 2], vec![3, 3, 3]] {
                let expected: Vec<(Vec<u8>, u8)> = model
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, v)| (k[prefix.len()..].to_vec(), *v))
                    .collect();
                prop_assert_eq!(count_under(&map, &prefix), expected.len());
                prop_assert_eq!(collect(&map, &prefix), expected);
            }
        }

        #[test]
        fn join_and_difference_agree_with_the_model(
            base in proptest::collection::vec(op(), 0..30),
            left in proptest::collection::vec(op(), 0..20),
            right in proptest::collection::vec(op(), 0..20),
        ) {
            let mut forks = Vec::new();
            let (base_map, base_model) = build(&base, &mut forks);
            // Two forks of one base, so that they share subtries.
            let apply = |ops: &[Op]| {
                let (mut map, mut model) = (base_map.clone(), base_model.clone());
                for op in ops {
                    match op {
                        Op::Set(k, v) => { map.set_val(k, B(*v)); model.insert(k.clone(), *v); }
                        Op::Remove(k) => { map.remove_val(k); model.remove(k); }
                        Op::Fork => {}
                    }
                }
                (map, model)
            };
            let (l, lm) = apply(&left);
            let (r, rm) = apply(&right);
            let mut union = rm.clone();
            union.extend(lm.iter().map(|(k, v)| (k.clone(), *v)));
            let joined = join(&l, &r);
            prop_assert_eq!(model_of(&joined), union);
            prop_assert_eq!(joined.count(), model_of(&joined).len());
            let only_l: Model = lm.iter().filter(|(k, _)| !rm.contains_key(*k)).map(|(k, v)| (k.clone(), *v)).collect();
            prop_assert_eq!(count_missing(&l, &r), only_l.len());
            let mut seen = Model::new();
            for_each_missing(&l, &r, |p, v: &B| { seen.insert(p.to_vec(), v.0); });
            prop_assert_eq!(seen, only_l);
            // Unrelated maps too.
            let (u, um) = build(&right, &mut Vec::new());
            let only_b: usize = base_model.keys().filter(|k| !um.contains_key(*k)).count();
            prop_assert_eq!(count_missing(&base_map, &u), only_b);
        }
    }
}
