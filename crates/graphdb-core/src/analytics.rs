//! The analytics path for whole-graph work: a compressed sparse row (CSR) layout of one
//! committed snapshot, built once and reused by every breadth-first search, k-hop
//! expansion and weakly-connected-components run on that snapshot while no commit
//! intervenes.
//!
//! Nodes are numbered densely in id order; each node's edges are one contiguous slice of
//! dense neighbours, its outgoing entries then its incoming ones, each part in the
//! node's adjacency order (edge type numbers in a parallel array), so a traversal
//! touches no page, record or lock once the layout exists, a search in both directions
//! reads one slice per node, and its results are exactly those of the record-by-record
//! traversal on [`Snapshot`] (same order, same levels, same components).

use std::collections::HashMap;
use std::sync::Arc;

use crate::db::{AdjacencySink, GraphDB};
use crate::error::{GraphError, Result};
use crate::traverse::{Components, Snapshot};
use crate::types::{Direction, NodeId};

/// How many queue places ahead a breadth-first search asks for memory (see `bfs`).
const AHEAD: usize = 8;

/// Asks the processor to bring the cache line at `p` closer; no effect on results, and
/// none at all where there is no such instruction.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    // SAFETY: SSE is part of every x86_64 target, and a prefetch only hints: it never
    // faults or changes memory, whatever the address (none is dereferenced here).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The arrays of [`Analytics::build`] while the nodes are visited: entries hold node
/// ids (renumbered afterwards).
#[derive(Default)]
struct Builder {
    ids: Vec<NodeId>,
    at: Vec<(usize, usize)>,
    adj: Vec<u32>,
    ty: Vec<u32>,
    /// Where the incoming entries of the node being visited start, once one came.
    mid: Option<usize>,
    /// Where the entries of the node being visited start (the end of the previous
    /// visible node's).
    slice_end: usize,
    types: Vec<String>,
    /// The type number of the previous entry, and where its name lay in the record
    /// being visited: the entries of one node name their type by the same bytes, so an
    /// address match needs no comparison. Reset after every node (the next record may
    /// sit where another one was).
    last_type: u32,
    last_name: (usize, usize),
    /// The first entry naming an id beyond `u32` (impossible in a sound file).
    bad: Option<NodeId>,
}

impl Builder {
    /// The type number of `ty` (see `last_name`).
    #[inline]
    fn type_number(&mut self, ty: &str) -> u32 {
        let name = (ty.as_ptr() as usize, ty.len());
        if name == self.last_name {
            return self.last_type;
        }
        let t = match self.types.get(self.last_type as usize) {
            Some(last) if last == ty => self.last_type,
            _ => match self.types.iter().position(|x| x == ty) {
                Some(p) => p as u32,
                None => {
                    self.types.push(ty.to_owned());
                    (self.types.len() - 1) as u32
                }
            },
        };
        self.last_type = t;
        self.last_name = name;
        t
    }

    /// The layout, with entries renumbered from node ids to dense indices through a
    /// table indexed by id.
    fn finish(self, ts: u64) -> Result<Analytics> {
        let Builder {
            ids,
            at,
            mut adj,
            ty,
            types,
            bad,
            ..
        } = self;
        if let Some(other) = bad {
            return Err(GraphError::corrupt(
                format!("adjacency entry names node {other}, beyond every node id"),
                None,
            ));
        }
        let max = ids.last().copied().unwrap_or(0) as usize;
        if ids.len() == max {
            // Ids 1..=n with no gap: the dense index is the id minus one.
            let n = max as u32;
            if let Some((k, j)) = adj.iter().enumerate().find(|(_, j)| **j == 0 || **j > n) {
                return Err(invisible(&ids, &at, k, *j));
            }
            adj.iter_mut().for_each(|j| *j -= 1);
            return Ok(Analytics::new(ts, ids, at, adj, ty, types));
        }
        // Node id -> dense index (u32::MAX: not in the snapshot).
        let mut dense = vec![u32::MAX; max + 1];
        for (i, id) in ids.iter().enumerate() {
            dense[*id as usize] = i as u32;
        }
        for (k, j) in adj.iter_mut().enumerate() {
            match dense.get(*j as usize) {
                Some(&d) if d != u32::MAX => *j = d,
                _ => return Err(invisible(&ids, &at, k, *j)),
            }
        }
        Ok(Analytics::new(ts, ids, at, adj, ty, types))
    }
}

/// The error for entry `k` of the layout naming node `other`, which the snapshot does
/// not have.
fn invisible(ids: &[NodeId], at: &[(usize, usize)], k: usize, other: u32) -> GraphError {
    // The node whose slice holds entry `k`.
    let owner = at
        .partition_point(|&(start, _)| start <= k)
        .saturating_sub(1);
    GraphError::corrupt(
        format!(
            "edge from node {} to invisible node {other}",
            ids.get(owner).copied().unwrap_or(0)
        ),
        None,
    )
}

impl AdjacencySink for Builder {
    fn begin(&mut self, next_node_id: u64, next_edge_id: u64) {
        // Every edge is one outgoing and one incoming entry. The bound counts deleted
        // ids too, so it is capped: past it the arrays grow as usual. Reserved memory
        // that is never written costs no physical pages.
        const CAP: u64 = 1 << 26;
        let nodes = next_node_id.saturating_sub(1).min(CAP) as usize;
        let entries = 2 * next_edge_id.saturating_sub(1).min(CAP) as usize;
        self.ids.reserve(nodes);
        self.at.reserve(nodes + 1);
        self.adj.reserve(entries);
    }

    #[inline]
    fn entry(&mut self, other: NodeId, ty: &str, outgoing: bool) {
        let Ok(other) = u32::try_from(other) else {
            self.bad.get_or_insert(other);
            return;
        };
        let t = self.type_number(ty);
        if !outgoing && self.mid.is_none() {
            self.mid = Some(self.adj.len());
        }
        // Type numbers are stored once a second type appears (see `Analytics::ty`).
        if t != 0 || !self.ty.is_empty() {
            self.ty.resize(self.adj.len(), 0);
            self.ty.push(t);
        }
        self.adj.push(other);
    }

    fn node_done(&mut self, id: NodeId) {
        self.last_name = (0, 0);
        self.ids.push(id);
        // Entries arrive outgoing first: the node's slice began where the previous
        // one ended.
        let start = self.slice_end;
        let mid = self.mid.take().unwrap_or(self.adj.len());
        self.at.push((start, mid));
        self.slice_end = self.adj.len();
    }
}

/// A CSR layout of one committed snapshot (see the module docs); from
/// [`Snapshot::analytics`].
#[derive(Debug)]
pub struct Analytics {
    ts: u64,
    /// Visible node ids, ascending: dense index `i` is node `ids[i]`.
    ids: Vec<NodeId>,
    /// Dense node `i`'s entries are `adj[at[i].0..at[i + 1].0]`: outgoing ones
    /// `adj[at[i].0..at[i].1]`, then incoming ones `adj[at[i].1..at[i + 1].0]`. One more
    /// element than there are nodes (the end).
    at: Vec<(usize, usize)>,
    /// Dense neighbours.
    adj: Vec<u32>,
    /// The edge type number of each entry of `adj`; empty when every entry has type 0
    /// (a graph of one edge type, the common case, stores no type numbers).
    ty: Vec<u32>,
    /// Edges (outgoing entries).
    edges: usize,
    /// Edge type names by type number.
    types: Vec<String>,
}

impl Analytics {
    /// Builds the layout of the committed state at `ts` in one pass over the nodes under
    /// one pager lock: each visible node's newest version is visited once and its
    /// adjacency entries are decoded straight into the layout's arrays, holding node
    /// ids; a second pass renumbers them densely through a table indexed by id (no
    /// hashing per entry). Edge types are numbered by comparing with the previous
    /// entry's type.
    pub(crate) fn build(db: &GraphDB, ts: u64) -> Result<Analytics> {
        let mut b = Builder::default();
        db.visit_all_adjacency(ts, &mut b)?;
        b.finish(ts)
    }

    /// Builds the layout the way it was built before [`build`](Self::build): the visible
    /// ids first, then one adjacency read (one pager lock) per node, entries renumbered
    /// through a hash map and types through a map of names. Kept to measure the one-pass
    /// build against (see the `graphdb-cold-per-node` benchmark variant).
    pub(crate) fn build_per_node(db: &GraphDB, ts: u64) -> Result<Analytics> {
        let ids = db.node_ids_at(ts)?;
        let dense: HashMap<NodeId, u32> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i as u32))
            .collect();
        let mut type_of: HashMap<String, u32> = HashMap::new();
        let mut types: Vec<String> = Vec::new();
        let mut at = Vec::with_capacity(ids.len() + 1);
        let (mut adj, mut ty): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
        let mut bad = None;
        for id in &ids {
            let start = adj.len();
            let mut mid = None;
            db.adjacent_visit(*id, Direction::Both, ts, |_, other, name, outgoing| {
                let Some(&j) = dense.get(&other) else {
                    bad = Some(other);
                    return;
                };
                let t = match type_of.get(name) {
                    Some(t) => *t,
                    None => {
                        let t = types.len() as u32;
                        types.push(name.to_owned());
                        type_of.insert(name.to_owned(), t);
                        t
                    }
                };
                if !outgoing && mid.is_none() {
                    mid = Some(adj.len());
                }
                if t != 0 || !ty.is_empty() {
                    ty.resize(adj.len(), 0);
                    ty.push(t);
                }
                adj.push(j);
            })?;
            if let Some(other) = bad {
                return Err(GraphError::corrupt(
                    format!("edge from node {id} to invisible node {other}"),
                    None,
                ));
            }
            at.push((start, mid.unwrap_or(adj.len())));
        }
        Ok(Analytics::new(ts, ids, at, adj, ty, types))
    }

    /// The layout from its arrays: `at` holds one `(start, mid)` per node, without the
    /// end element.
    fn new(
        ts: u64,
        ids: Vec<NodeId>,
        mut at: Vec<(usize, usize)>,
        adj: Vec<u32>,
        mut ty: Vec<u32>,
        types: Vec<String>,
    ) -> Analytics {
        if !ty.is_empty() {
            ty.resize(adj.len(), 0);
        }
        let edges = at.iter().map(|(start, mid)| mid - start).sum();
        at.push((adj.len(), adj.len()));
        Analytics {
            ts,
            ids,
            at,
            adj,
            ty,
            edges,
            types,
        }
    }

    /// The snapshot timestamp the layout was built from.
    pub fn ts(&self) -> u64 {
        self.ts
    }

    /// Nodes in the layout.
    pub fn node_count(&self) -> usize {
        self.ids.len()
    }

    /// Edges in the layout.
    pub fn edge_count(&self) -> usize {
        self.edges
    }

    fn dense(&self, id: NodeId) -> Result<usize> {
        self.ids
            .binary_search(&id)
            .map_err(|_| GraphError::NodeNotFound(id))
    }

    /// The type number of `edge_type`: `Ok(None)` for no filter, `Err(())` for a type no
    /// edge has (nothing matches).
    fn type_filter(&self, edge_type: Option<&str>) -> std::result::Result<Option<u32>, ()> {
        match edge_type {
            None => Ok(None),
            Some(t) => self
                .types
                .iter()
                .position(|x| x == t)
                .map(|p| Some(p as u32))
                .ok_or(()),
        }
    }

    /// The range of `adj` holding node `i`'s entries in `direction`.
    #[inline]
    fn span(&self, i: usize, direction: Direction) -> std::ops::Range<usize> {
        let ((start, mid), (end, _)) = (self.at[i], self.at[i + 1]);
        match direction {
            Direction::Outgoing => start..mid,
            Direction::Incoming => mid..end,
            Direction::Both => start..end,
        }
    }

    /// A breadth-first search from `start`: every reached node once with its depth, in
    /// the order [`Snapshot::bfs`] yields them. `NodeNotFound` if `start` is not in the
    /// snapshot.
    pub fn bfs(
        &self,
        start: NodeId,
        direction: Direction,
        edge_type: Option<&str>,
        max_depth: Option<u32>,
    ) -> Result<Vec<(NodeId, u32)>> {
        let s = self.dense(start)?;
        // A type no edge has: nothing is expanded. With one type stored, its filter
        // keeps every entry.
        let filter = match self.type_filter(edge_type) {
            Ok(Some(_)) if self.ty.is_empty() => Ok(None),
            other => other,
        };
        // Level by level over one queue of dense indices (the queue is also the visiting
        // order); the visited set is a bit set, which stays in the first-level cache for
        // graphs of a few hundred thousand nodes.
        let mut seen = vec![0u64; self.ids.len().div_ceil(64)];
        let mut queue: Vec<u32> = Vec::with_capacity(self.ids.len());
        seen[s / 64] |= 1 << (s % 64);
        queue.push(s as u32);
        // `levels[d]`: where depth `d` starts in the queue.
        let mut levels = vec![0usize];
        let mut head = 0;
        while head < queue.len() {
            let depth = levels.len() as u32 - 1;
            let Ok(filter) = filter else { break };
            if max_depth.is_some_and(|m| depth >= m) {
                break;
            }
            let level_end = queue.len();
            while head < level_end {
                // The nodes of a level lie anywhere in the arrays: ask for the slice
                // bounds of a node `2 * AHEAD` places on, and for the entries of the one
                // `AHEAD` places on (whose bounds were asked for earlier), so the memory
                // loads of many nodes overlap.
                if let Some(&far) = queue.get(head + 2 * AHEAD) {
                    prefetch(self.at.as_ptr().wrapping_add(far as usize));
                }
                if let Some(&near) = queue.get(head + AHEAD) {
                    let (start, _) = self.at[near as usize];
                    prefetch(self.adj.as_ptr().wrapping_add(start));
                }
                let span = self.span(queue[head] as usize, direction);
                head += 1;
                let adj = &self.adj[span.clone()];
                let mut push = |j: u32| {
                    let (word, bit) = (j as usize / 64, 1u64 << (j % 64));
                    if seen[word] & bit == 0 {
                        seen[word] |= bit;
                        queue.push(j);
                    }
                };
                match filter {
                    None => adj.iter().for_each(|&j| push(j)),
                    // A filter survives only where type numbers are stored.
                    Some(want) => adj
                        .iter()
                        .zip(&self.ty[span])
                        .filter(|(_, t)| **t == want)
                        .for_each(|(&j, _)| push(j)),
                }
            }
            if queue.len() > level_end {
                levels.push(level_end);
            }
        }
        levels.push(queue.len());
        let mut order = Vec::with_capacity(queue.len());
        for (depth, w) in levels.windows(2).enumerate() {
            order.extend(
                queue[w[0]..w[1]]
                    .iter()
                    .map(|&i| (self.ids[i as usize], depth as u32)),
            );
        }
        Ok(order)
    }

    /// The nodes at distance 1 to `k` from `start`, in BFS order (as [`Snapshot::k_hop`]).
    pub fn k_hop(
        &self,
        start: NodeId,
        k: u32,
        direction: Direction,
        edge_type: Option<&str>,
    ) -> Result<Vec<NodeId>> {
        Ok(self
            .bfs(start, direction, edge_type, Some(k))?
            .into_iter()
            .skip(1)
            .map(|(n, _)| n)
            .collect())
    }

    /// The weakly connected components (as [`Snapshot::weakly_connected_components`]).
    pub fn weakly_connected_components(&self) -> Components {
        let n = self.ids.len();
        let mut parent: Vec<u32> = (0..n as u32).collect();
        fn find(parent: &mut [u32], mut x: u32) -> u32 {
            while parent[x as usize] != x {
                parent[x as usize] = parent[parent[x as usize] as usize];
                x = parent[x as usize];
            }
            x
        }
        for i in 0..n {
            for &j in &self.adj[self.span(i, Direction::Outgoing)] {
                let (a, b) = (find(&mut parent, i as u32), find(&mut parent, j));
                if a != b {
                    // The smaller index (so the smaller id) becomes the root.
                    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                    parent[hi as usize] = lo;
                }
            }
        }
        let mut component_of = HashMap::with_capacity(n);
        let mut count = 0;
        for i in 0..n as u32 {
            let r = find(&mut parent, i);
            if r == i {
                count += 1;
            }
            component_of.insert(self.ids[i as usize], self.ids[r as usize]);
        }
        Components {
            component_of,
            count,
        }
    }
}

impl Snapshot<'_> {
    /// The analytics layout of this snapshot's committed state: built on first use (one
    /// pass over the nodes) and shared by later calls on the same snapshot until a
    /// commit makes a newer one current. A view that includes a write transaction's
    /// uncommitted writes has no layout (`InvalidArgument`).
    pub fn analytics(&self) -> Result<Arc<Analytics>> {
        let db = self.db();
        if db.has_pending_writes(self.tx()) {
            return Err(GraphError::InvalidArgument(
                "the analytics layout covers committed data only".into(),
            ));
        }
        let ts = self.ts();
        // The lock guards only the cached `Arc`: a poisoned one still holds a whole
        // value (or none), so it is used as is.
        let cached = db
            .analytics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(a) = cached.filter(|a| a.ts == ts) {
            return Ok(a);
        }
        let built = Arc::new(Analytics::build(db, ts)?);
        if ts == db.current_commit_ts() {
            *db.analytics
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(&built));
        }
        Ok(built)
    }
}
