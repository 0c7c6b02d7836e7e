//! Traversal over one snapshot: neighbours by direction and edge type, breadth-first
//! search with a depth limit (a streaming iterator), unweighted shortest paths, k-hop
//! neighbourhoods and weakly connected components.
//!
//! Every result is computed against one snapshot timestamp, so a traversal never mixes
//! versions of different commits even while the handle keeps committing in between calls
//! (the caller passes the `&GraphDB` around; snapshots are plain timestamps).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// The visited set of a search: node ids hashed by a multiplicative mix, not SipHash.
type IdSet = HashSet<NodeId, crate::cache::IdBuild>;

use crate::db::GraphDB;
use crate::error::{GraphError, Result};
use crate::types::{Direction, Edge, EdgeId, Node, NodeId, PropertyValue, TxId};

/// A read view of the graph at one snapshot timestamp, optionally including one write
/// transaction's own uncommitted writes. Cheap to create and to copy.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    db: &'a GraphDB,
    ts: u64,
    tx: Option<TxId>,
}

impl GraphDB {
    /// A view of the newest committed state.
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            db: self,
            ts: self.current_commit_ts(),
            tx: None,
        }
    }

    /// A view at `snapshot_ts`, plus the writes of `tx_id` if given.
    pub(crate) fn snapshot_at(&self, snapshot_ts: u64, tx_id: Option<TxId>) -> Snapshot<'_> {
        Snapshot {
            db: self,
            ts: snapshot_ts,
            tx: tx_id,
        }
    }
}

/// The weakly connected components of a snapshot (edge directions ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Components {
    /// For every visible node, the smallest node id of its component.
    pub component_of: HashMap<NodeId, NodeId>,
    /// The number of components (isolated nodes count as one each).
    pub count: usize,
}

impl Components {
    /// The components as sorted lists of node ids, ordered by their smallest id.
    pub fn groups(&self) -> Vec<Vec<NodeId>> {
        let mut by_root: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
        for (n, r) in &self.component_of {
            by_root.entry(*r).or_default().push(*n);
        }
        let mut groups: Vec<Vec<NodeId>> = by_root
            .into_values()
            .map(|mut g| {
                g.sort_unstable();
                g
            })
            .collect();
        groups.sort_unstable();
        groups
    }
}

impl<'a> Snapshot<'a> {
    pub(crate) fn db(&self) -> &'a GraphDB {
        self.db
    }

    pub(crate) fn tx(&self) -> Option<TxId> {
        self.tx
    }

    /// The snapshot timestamp.
    pub fn ts(&self) -> u64 {
        self.ts
    }

    /// The node as this view sees it.
    pub fn node(&self, id: NodeId) -> Result<Option<Node>> {
        self.db.get_node_with_snapshot(id, self.ts, self.tx)
    }

    /// The edge as this view sees it.
    pub fn edge(&self, id: EdgeId) -> Result<Option<Edge>> {
        self.db.get_edge_with_snapshot(id, self.ts, self.tx)
    }

    /// Every committed node this view sees, in id order (a full scan).
    pub fn all_nodes(&self) -> Result<Vec<Node>> {
        self.db.scan_nodes(self.ts, |_| true)
    }

    /// Every committed edge this view sees, in id order (a full scan).
    pub fn all_edges(&self) -> Result<Vec<Edge>> {
        self.db.scan_edges(self.ts)
    }

    /// The nodes with `label` (from a label index when there is one).
    pub fn nodes_by_label(&self, label: &str) -> Result<Vec<Node>> {
        self.db.get_nodes_by_label_at(label, self.ts, self.tx)
    }

    /// The nodes with `label` whose property `key` equals `value` (from a property index
    /// when there is one).
    pub fn nodes_by_property(
        &self,
        label: &str,
        key: &str,
        value: &PropertyValue,
    ) -> Result<Vec<Node>> {
        self.db
            .find_nodes_by_property_at(label, key, value, self.ts, self.tx)
    }

    /// Like [`nodes_by_label`](Self::nodes_by_label), but the results share the node
    /// cache's versions instead of being copies.
    pub fn nodes_by_label_shared(&self, label: &str) -> Result<Vec<Arc<Node>>> {
        self.db
            .get_nodes_by_label_shared_at(label, self.ts, self.tx)
    }

    /// Like [`nodes_by_property`](Self::nodes_by_property), but the results share the
    /// node cache's versions instead of being copies.
    pub fn nodes_by_property_shared(
        &self,
        label: &str,
        key: &str,
        value: &PropertyValue,
    ) -> Result<Vec<Arc<Node>>> {
        self.db
            .find_nodes_by_property_shared_at(label, key, value, self.ts, self.tx)
    }

    /// The nodes with `label` whose property `key` lies between the bounds (in the order
    /// of [`compare_values`](crate::compare_values)), in id order, from a property index
    /// when there is one; the results share the node cache's versions.
    pub fn nodes_by_property_range(
        &self,
        label: &str,
        key: &str,
        lo: std::ops::Bound<&PropertyValue>,
        hi: std::ops::Bound<&PropertyValue>,
    ) -> Result<Vec<Arc<Node>>> {
        self.db
            .find_nodes_by_property_range_shared(label, key, lo, hi, self.ts, self.tx)
    }

    /// The edges of `node` in `direction`, optionally only those of `edge_type`, as
    /// (edge id, node at the other end) pairs: outgoing first, then incoming, each in
    /// adjacency order. A self-loop appears in both lists for `Both`.
    pub fn edges(
        &self,
        node: NodeId,
        direction: Direction,
        edge_type: Option<&str>,
    ) -> Result<Vec<(EdgeId, NodeId)>> {
        let mut out = Vec::new();
        self.edges_into(node, direction, edge_type, &mut out)?;
        Ok(out)
    }

    fn edges_into(
        &self,
        node: NodeId,
        direction: Direction,
        edge_type: Option<&str>,
        out: &mut Vec<(EdgeId, NodeId)>,
    ) -> Result<()> {
        if !self.db.has_pending_writes(self.tx) {
            return self
                .db
                .adjacent_committed(node, direction, edge_type, self.ts, out);
        }
        // With uncommitted writes in view, go through the transaction-aware reads.
        for dir in [Direction::Outgoing, Direction::Incoming] {
            if direction != Direction::Both && direction != dir {
                continue;
            }
            for e in self.db.edges_of(node, dir, self.ts, self.tx)? {
                let edge = self.db.load_edge_with_snapshot(e, self.ts, self.tx)?;
                if edge_type.is_some_and(|t| t != edge.edge_type) {
                    continue;
                }
                out.push((
                    e,
                    if dir == Direction::Outgoing {
                        edge.target
                    } else {
                        edge.source
                    },
                ));
            }
        }
        Ok(())
    }

    /// The nodes at the other end of `node`'s edges (one entry per edge, so repeated for
    /// parallel edges).
    pub fn neighbors(
        &self,
        node: NodeId,
        direction: Direction,
        edge_type: Option<&str>,
    ) -> Result<Vec<NodeId>> {
        Ok(self
            .edges(node, direction, edge_type)?
            .into_iter()
            .map(|(_, n)| n)
            .collect())
    }

    /// A breadth-first search from `start` that yields `(node, depth)` as it goes, the
    /// start at depth 0, each node once, never deeper than `max_depth` (if given).
    /// `NodeNotFound` if `start` is not visible.
    pub fn bfs(
        &self,
        start: NodeId,
        direction: Direction,
        edge_type: Option<&str>,
        max_depth: Option<u32>,
    ) -> Result<Bfs<'a>> {
        let mut scratch = Vec::new();
        let mut expanded = false;
        if !self.db.has_pending_writes(self.tx) && max_depth != Some(0) {
            // The start's edges are read now anyway: reading them also says whether the
            // start is visible (`NodeNotFound` otherwise), without loading the node.
            self.edges_into(start, direction, edge_type, &mut scratch)?;
            expanded = true;
        } else if self.node(start)?.is_none() {
            return Err(GraphError::NodeNotFound(start));
        }
        let mut visited = IdSet::with_capacity_and_hasher(64, Default::default());
        visited.insert(start);
        Ok(Bfs {
            view: *self,
            direction,
            edge_type: edge_type.map(str::to_owned),
            max_depth,
            queue: VecDeque::from([(start, 0)]),
            visited,
            parents: None,
            scratch,
            expanded,
            failed: false,
        })
    }

    /// The nodes at distance 1 to `k` from `start`, in BFS order (the start excluded).
    pub fn k_hop(
        &self,
        start: NodeId,
        k: u32,
        direction: Direction,
        edge_type: Option<&str>,
    ) -> Result<Vec<NodeId>> {
        self.bfs(start, direction, edge_type, Some(k))?
            .skip(1)
            .map(|r| r.map(|(n, _)| n))
            .collect()
    }

    /// A shortest path (fewest edges) from `from` to `to` as the list of nodes on it, both
    /// ends included; `None` if `to` cannot be reached. Ties go to the path whose nodes
    /// were discovered first (adjacency order).
    pub fn shortest_path(
        &self,
        from: NodeId,
        to: NodeId,
        direction: Direction,
        edge_type: Option<&str>,
    ) -> Result<Option<Vec<NodeId>>> {
        if self.node(to)?.is_none() {
            return Err(GraphError::NodeNotFound(to));
        }
        let mut bfs = self.bfs(from, direction, edge_type, None)?;
        bfs.parents = Some(HashMap::new());
        while let Some(step) = bfs.next() {
            let (node, _) = step?;
            if node == to {
                let parents = bfs.parents.take().unwrap_or_default();
                let mut path = vec![to];
                let mut at = to;
                while let Some(p) = parents.get(&at) {
                    path.push(*p);
                    at = *p;
                }
                path.reverse();
                return Ok(Some(path));
            }
        }
        Ok(None)
    }

    /// The weakly connected components of every node this view sees.
    pub fn weakly_connected_components(&self) -> Result<Components> {
        let mut ids = self.db.node_ids_at(self.ts)?;
        if self.tx.is_some() {
            ids.extend(self.db.pending_node_ids(self.tx));
            ids.sort_unstable();
            ids.dedup();
            let mut visible = Vec::with_capacity(ids.len());
            for id in ids {
                if self.node(id)?.is_some() {
                    visible.push(id);
                }
            }
            ids = visible;
        }
        let index: HashMap<NodeId, usize> = ids.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let mut parent: Vec<usize> = (0..ids.len()).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let mut adj = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            adj.clear();
            // Outgoing edges suffice: every edge is some node's outgoing edge.
            self.edges_into(*id, Direction::Outgoing, None, &mut adj)?;
            for (_, other) in &adj {
                let Some(&j) = index.get(other) else {
                    return Err(GraphError::corrupt(
                        format!("edge from node {id} to invisible node {other}"),
                        None,
                    ));
                };
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                if a != b {
                    // The smaller index becomes the root, so roots are the smallest ids.
                    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                    parent[hi] = lo;
                }
            }
        }
        let mut component_of = HashMap::with_capacity(ids.len());
        let mut count = 0;
        for i in 0..ids.len() {
            let r = find(&mut parent, i);
            if r == i {
                count += 1;
            }
            component_of.insert(ids[i], ids[r]);
        }
        Ok(Components {
            component_of,
            count,
        })
    }
}

/// A breadth-first search in progress: an iterator of `(node, depth)` that reads each
/// node's edges only when the node is taken from the queue, so memory holds the frontier
/// and the visited set, never the whole result.
#[derive(Debug)]
pub struct Bfs<'a> {
    view: Snapshot<'a>,
    direction: Direction,
    edge_type: Option<String>,
    max_depth: Option<u32>,
    queue: VecDeque<(NodeId, u32)>,
    visited: IdSet,
    /// Set by `shortest_path`: the node each node was discovered from.
    parents: Option<HashMap<NodeId, NodeId>>,
    scratch: Vec<(EdgeId, NodeId)>,
    /// `scratch` already holds the start's edges (read when the search was created).
    expanded: bool,
    failed: bool,
}

impl Iterator for Bfs<'_> {
    type Item = Result<(NodeId, u32)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let (node, depth) = self.queue.pop_front()?;
        if self.max_depth.is_none_or(|m| depth < m) {
            let mut scratch = std::mem::take(&mut self.scratch);
            if std::mem::take(&mut self.expanded) {
                // The start's edges, read by `bfs`.
            } else {
                scratch.clear();
                if let Err(e) = self.view.edges_into(
                    node,
                    self.direction,
                    self.edge_type.as_deref(),
                    &mut scratch,
                ) {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
            for (_, next) in &scratch {
                if self.visited.insert(*next) {
                    if let Some(p) = self.parents.as_mut() {
                        p.insert(*next, node);
                    }
                    self.queue.push_back((*next, depth + 1));
                }
            }
            self.scratch = scratch;
        }
        Some(Ok((node, depth)))
    }
}
