//! The analytics path for whole-graph work: a compressed sparse row (CSR) layout of one
//! committed snapshot, built once and reused by every breadth-first search, k-hop
//! expansion and weakly-connected-components run on that snapshot while no commit
//! intervenes.
//!
//! Nodes are numbered densely in id order; each node's outgoing and incoming edges are
//! two contiguous slices of `(dense neighbour, edge type)` in the node's adjacency order,
//! so a traversal touches no page, record or lock once the layout exists, and its
//! results are exactly those of the record-by-record traversal on [`Snapshot`] (same
//! order, same levels, same components).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::db::{AdjacencySink, GraphDB};
use crate::error::{GraphError, Result};
use crate::traverse::{Components, Snapshot};
use crate::types::{Direction, NodeId};

/// One direction's adjacency: offsets per dense node, and `(neighbour, type)` entries.
type Slices<'a> = (&'a [usize], &'a [(u32, u32)]);

/// The arrays of [`Analytics::build`] while the nodes are visited: entries hold node
/// ids (renumbered afterwards).
struct Builder {
    ids: Vec<NodeId>,
    out_at: Vec<usize>,
    out: Vec<(u32, u32)>,
    in_at: Vec<usize>,
    inn: Vec<(u32, u32)>,
    types: Vec<String>,
    /// The type number of the previous entry, and where its name lay in the record
    /// being visited: the entries of one node name their type by the same bytes of
    /// that record, so an address match needs no comparison. Reset after every node
    /// (the next record may sit where another one was).
    last_type: u32,
    last_name: (usize, usize),
    /// The first entry naming an id beyond `u32` (impossible in a sound file).
    bad: Option<NodeId>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            ids: Vec::new(),
            out_at: vec![0],
            out: Vec::new(),
            in_at: vec![0],
            inn: Vec::new(),
            types: Vec::new(),
            last_type: 0,
            last_name: (0, 0),
            bad: None,
        }
    }
}

impl AdjacencySink for Builder {
    fn begin(&mut self, next_node_id: u64, next_edge_id: u64) {
        // Every edge is one outgoing and one incoming entry. The bound counts deleted
        // ids too, so it is capped: past it the arrays grow as usual. Reserved memory
        // that is never written costs no physical pages.
        const CAP: u64 = 1 << 26;
        let nodes = next_node_id.saturating_sub(1).min(CAP) as usize;
        let edges = next_edge_id.saturating_sub(1).min(CAP) as usize;
        self.ids.reserve(nodes);
        self.out_at.reserve(nodes);
        self.in_at.reserve(nodes);
        self.out.reserve(edges);
        self.inn.reserve(edges);
    }

    #[inline]
    fn entry(&mut self, other: NodeId, ty: &str, outgoing: bool) {
        let Ok(other) = u32::try_from(other) else {
            self.bad.get_or_insert(other);
            return;
        };
        let name = (ty.as_ptr() as usize, ty.len());
        let t = match self.types.get(self.last_type as usize) {
            _ if name == self.last_name => self.last_type,
            Some(last) if last == ty => {
                self.last_name = name;
                self.last_type
            }
            _ => {
                let t = match self.types.iter().position(|x| x == ty) {
                    Some(p) => p as u32,
                    None => {
                        self.types.push(ty.to_owned());
                        (self.types.len() - 1) as u32
                    }
                };
                self.last_type = t;
                self.last_name = name;
                t
            }
        };
        if outgoing {
            self.out.push((other, t));
        } else {
            self.inn.push((other, t));
        }
    }

    fn node_done(&mut self, id: NodeId) {
        self.last_name = (0, 0);
        self.ids.push(id);
        self.out_at.push(self.out.len());
        self.in_at.push(self.inn.len());
    }
}

/// A CSR layout of one committed snapshot (see the module docs); from
/// [`Snapshot::analytics`].
#[derive(Debug)]
pub struct Analytics {
    ts: u64,
    /// Visible node ids, ascending: dense index `i` is node `ids[i]`.
    ids: Vec<NodeId>,
    /// Outgoing edges of dense node `i`: `out[out_at[i]..out_at[i + 1]]`.
    out_at: Vec<usize>,
    out: Vec<(u32, u32)>,
    /// Incoming edges, laid out like the outgoing ones.
    in_at: Vec<usize>,
    inn: Vec<(u32, u32)>,
    /// Edge type names by type number.
    types: Vec<String>,
}

impl Analytics {
    /// Builds the layout of the committed state at `ts` in one pass over the nodes under
    /// one pager lock: each visible node's newest version is visited once and its
    /// adjacency entries are decoded straight into the CSR arrays, holding node ids; a
    /// second pass renumbers them densely through a table indexed by id (no hashing per
    /// entry). Edge types are numbered by comparing with the previous entry's type.
    pub(crate) fn build(db: &GraphDB, ts: u64) -> Result<Analytics> {
        let mut b = Builder::default();
        db.visit_all_adjacency(ts, &mut b)?;
        let Builder {
            ids,
            out_at,
            mut out,
            in_at,
            mut inn,
            types,
            bad,
            ..
        } = b;
        if let Some(other) = bad {
            return Err(GraphError::corrupt(
                format!("adjacency entry names node {other}, beyond every node id"),
                None,
            ));
        }
        // Node id -> dense index (u32::MAX: not in the snapshot).
        let max = ids.last().copied().unwrap_or(0) as usize;
        let mut dense = vec![u32::MAX; max + 1];
        for (i, id) in ids.iter().enumerate() {
            dense[*id as usize] = i as u32;
        }
        let renumber = |list: &mut [(u32, u32)], at: &[usize]| -> Result<()> {
            for (k, (j, _)) in list.iter_mut().enumerate() {
                match dense.get(*j as usize) {
                    Some(&d) if d != u32::MAX => *j = d,
                    _ => {
                        // The node whose list holds entry `k`.
                        let owner = at.partition_point(|&end| end <= k).saturating_sub(1);
                        return Err(GraphError::corrupt(
                            format!(
                                "edge from node {} to invisible node {}",
                                ids.get(owner).copied().unwrap_or(0),
                                *j
                            ),
                            None,
                        ));
                    }
                }
            }
            Ok(())
        };
        renumber(&mut out, &out_at)?;
        renumber(&mut inn, &in_at)?;
        Ok(Analytics {
            ts,
            ids,
            out_at,
            out,
            in_at,
            inn,
            types,
        })
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
        let (mut out_at, mut in_at) = (Vec::with_capacity(ids.len() + 1), Vec::new());
        in_at.reserve(ids.len() + 1);
        let (mut out, mut inn) = (Vec::new(), Vec::new());
        let mut bad = None;
        for id in &ids {
            out_at.push(out.len());
            in_at.push(inn.len());
            db.adjacent_visit(*id, Direction::Both, ts, |_, other, ty, outgoing| {
                let Some(&j) = dense.get(&other) else {
                    bad = Some(other);
                    return;
                };
                let t = match type_of.get(ty) {
                    Some(t) => *t,
                    None => {
                        let t = types.len() as u32;
                        types.push(ty.to_owned());
                        type_of.insert(ty.to_owned(), t);
                        t
                    }
                };
                if outgoing {
                    out.push((j, t));
                } else {
                    inn.push((j, t));
                }
            })?;
            if let Some(other) = bad {
                return Err(GraphError::corrupt(
                    format!("edge from node {id} to invisible node {other}"),
                    None,
                ));
            }
        }
        out_at.push(out.len());
        in_at.push(inn.len());
        Ok(Analytics {
            ts,
            ids,
            out_at,
            out,
            in_at,
            inn,
            types,
        })
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
        self.out.len()
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

    fn visit(&self, i: usize, direction: Direction, filter: Option<u32>, mut f: impl FnMut(u32)) {
        let lists: &[Slices<'_>] = match direction {
            Direction::Outgoing => &[(&self.out_at, &self.out)],
            Direction::Incoming => &[(&self.in_at, &self.inn)],
            Direction::Both => &[(&self.out_at, &self.out), (&self.in_at, &self.inn)],
        };
        for (at, list) in lists {
            for (j, t) in &list[at[i]..at[i + 1]] {
                if filter.is_none_or(|want| want == *t) {
                    f(*j);
                }
            }
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
        let filter = self.type_filter(edge_type);
        let mut seen = vec![false; self.ids.len()];
        seen[s] = true;
        let mut queue = VecDeque::from([(s as u32, 0u32)]);
        let mut order = Vec::new();
        while let Some((i, depth)) = queue.pop_front() {
            order.push((self.ids[i as usize], depth));
            if max_depth.is_some_and(|m| depth >= m) {
                continue;
            }
            let Ok(filter) = filter else { continue };
            self.visit(i as usize, direction, filter, |j| {
                if !seen[j as usize] {
                    seen[j as usize] = true;
                    queue.push_back((j, depth + 1));
                }
            });
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
            for &(j, _) in &self.out[self.out_at[i]..self.out_at[i + 1]] {
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
    /// adjacency read per node) and shared by later calls on the same snapshot until a
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
