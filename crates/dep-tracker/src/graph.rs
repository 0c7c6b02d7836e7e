//! A dependency graph with both edge directions, built from a log or from any edges.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::{self, Debug, Write as _};
use std::hash::Hash;

use crate::error::Error;
use crate::log::DependencyLog;
use crate::step::{Dependency, StepId};

/// A directed graph of steps where an edge `from -> to` means `from` needs `to` (the
/// crate's one edge direction, see [`Dependency`]).
///
/// Nodes are kept in first-insertion order, which makes every traversal, the
/// topological order and the DOT output deterministic for a given insertion order.
#[derive(Clone)]
pub struct DependencyGraph<N> {
    /// Invariant: `index[nodes[i]] == i` for every `i`, and nothing else is in `index`.
    nodes: Vec<N>,
    index: HashMap<N, usize>,
    /// `forward[i]`: the nodes node `i` needs, in the order the edges were added.
    forward: Vec<Vec<usize>>,
    /// `reverse[i]`: the nodes that need node `i`. Invariant: `j` is in `forward[i]`
    /// exactly when `i` is in `reverse[j]`, and each at most once.
    reverse: Vec<Vec<usize>>,
    /// Every edge once, as `(from, to)` indexes, so that adding an edge twice is a no-op.
    edges: HashSet<(usize, usize)>,
}

impl<N: Clone + Eq + Hash + Debug> Default for DependencyGraph<N> {
    fn default() -> Self {
        DependencyGraph::new()
    }
}

impl<N: Debug> Debug for DependencyGraph<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DependencyGraph")
            .field("nodes", &self.nodes.len())
            .field("edges", &self.edges.len())
            .finish()
    }
}

impl DependencyGraph<StepId> {
    /// The graph of a list of recorded edges.
    pub fn from_dependencies<'a>(deps: impl IntoIterator<Item = &'a Dependency>) -> Self {
        let mut graph = DependencyGraph::new();
        for dep in deps {
            graph.add_edge(dep.from, dep.to);
        }
        graph
    }

    /// The graph of everything `log` has published.
    pub fn from_log<L: DependencyLog>(log: &L) -> Self {
        let mut graph = DependencyGraph::new();
        log.for_each(&mut |dep| {
            graph.add_edge(dep.from, dep.to);
        });
        graph
    }
}

impl<N: Clone + Eq + Hash + Debug> DependencyGraph<N> {
    /// An empty graph.
    pub fn new() -> Self {
        DependencyGraph {
            nodes: Vec::new(),
            index: HashMap::new(),
            forward: Vec::new(),
            reverse: Vec::new(),
            edges: HashSet::new(),
        }
    }

    /// The graph of `(from, to)` pairs, `from` needing `to`.
    pub fn from_edges(edges: impl IntoIterator<Item = (N, N)>) -> Self {
        let mut graph = DependencyGraph::new();
        for (from, to) in edges {
            graph.add_edge(from, to);
        }
        graph
    }

    fn intern(&mut self, node: N) -> usize {
        if let Some(&i) = self.index.get(&node) {
            return i;
        }
        let i = self.nodes.len();
        self.nodes.push(node.clone());
        self.index.insert(node, i);
        self.forward.push(Vec::new());
        self.reverse.push(Vec::new());
        i
    }

    /// Adds a node without edges (an input nothing needs yet). No-op if present.
    pub fn add_node(&mut self, node: N) {
        self.intern(node);
    }

    /// Adds `from -> to` (`from` needs `to`), creating both nodes as needed. Returns
    /// whether the edge is new.
    pub fn add_edge(&mut self, from: N, to: N) -> bool {
        let (f, t) = (self.intern(from), self.intern(to));
        if !self.edges.insert((f, t)) {
            return false;
        }
        self.forward[f].push(t);
        self.reverse[t].push(f);
        true
    }

    /// Whether `node` is in the graph.
    pub fn contains(&self, node: &N) -> bool {
        self.index.contains_key(node)
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of distinct edges.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// The nodes in first-insertion order.
    pub fn nodes(&self) -> impl Iterator<Item = &N> + '_ {
        self.nodes.iter()
    }

    /// Every edge as `(from, to)`, grouped by `from` in node order.
    pub fn edges(&self) -> impl Iterator<Item = (&N, &N)> + '_ {
        self.forward
            .iter()
            .enumerate()
            .flat_map(move |(f, tos)| tos.iter().map(move |&t| (&self.nodes[f], &self.nodes[t])))
    }

    /// What `node` needs (its direct dependencies); empty for an unknown node.
    pub fn dependencies_of<'a>(&'a self, node: &N) -> impl Iterator<Item = &'a N> + 'a {
        let list = self.index.get(node).map(|&i| self.forward[i].as_slice());
        list.unwrap_or(&[]).iter().map(move |&i| &self.nodes[i])
    }

    /// What needs `node` (its direct dependents); empty for an unknown node.
    pub fn dependents_of<'a>(&'a self, node: &N) -> impl Iterator<Item = &'a N> + 'a {
        let list = self.index.get(node).map(|&i| self.reverse[i].as_slice());
        list.unwrap_or(&[]).iter().map(move |&i| &self.nodes[i])
    }

    /// Every step invalidated when `changed` change: the changed nodes that are in the
    /// graph and everything that transitively needs one of them (reachability in the
    /// reverse graph), in breadth-first order. Unknown nodes are skipped: nothing in the
    /// graph depends on them.
    pub fn invalidated<'a>(&self, changed: impl IntoIterator<Item = &'a N>) -> Vec<N>
    where
        N: 'a,
    {
        let mut seen = vec![false; self.nodes.len()];
        let mut queue = VecDeque::new();
        for node in changed {
            if let Some(&i) = self.index.get(node) {
                if !seen[i] {
                    seen[i] = true;
                    queue.push_back(i);
                }
            }
        }
        let mut out = Vec::new();
        while let Some(i) = queue.pop_front() {
            out.push(self.nodes[i].clone());
            for &dependent in &self.reverse[i] {
                if !seen[dependent] {
                    seen[dependent] = true;
                    queue.push_back(dependent);
                }
            }
        }
        out
    }

    /// A cycle of the graph if there is one, as its nodes in edge order with the first
    /// repeated at the end (`[a, b, a]` for `a -> b -> a`, `[a, a]` for a self-edge).
    pub fn find_cycle(&self) -> Option<Vec<N>> {
        // Iterative depth-first search with three colours, so deep chains cannot
        // overflow the stack: 0 unvisited, 1 on the current path, 2 finished.
        let mut colour = vec![0u8; self.nodes.len()];
        for start in 0..self.nodes.len() {
            if colour[start] != 0 {
                continue;
            }
            // Each frame: (node, index of the next forward edge to follow).
            let mut path: Vec<(usize, usize)> = vec![(start, 0)];
            colour[start] = 1;
            while let Some(frame) = path.last_mut() {
                let node = frame.0;
                if let Some(&to) = self.forward[node].get(frame.1) {
                    frame.1 += 1;
                    match colour[to] {
                        0 => {
                            colour[to] = 1;
                            path.push((to, 0));
                        }
                        1 => {
                            let from = path.iter().position(|&(n, _)| n == to).unwrap_or(0);
                            let mut cycle: Vec<N> = path[from..]
                                .iter()
                                .map(|&(n, _)| self.nodes[n].clone())
                                .collect();
                            cycle.push(self.nodes[to].clone());
                            return Some(cycle);
                        }
                        _ => {}
                    }
                } else {
                    colour[node] = 2;
                    path.pop();
                }
            }
        }
        None
    }

    /// Every node, each after everything it needs (dependencies first, so running the
    /// steps in this order never runs a step before its inputs). Ties keep insertion
    /// order. Fails with [`Error::Cycle`] naming a cycle when there is one.
    pub fn topological_order(&self) -> Result<Vec<N>, Error> {
        let mut waiting: Vec<usize> = self.forward.iter().map(Vec::len).collect();
        let mut ready: VecDeque<usize> =
            (0..self.nodes.len()).filter(|&i| waiting[i] == 0).collect();
        let mut out = Vec::with_capacity(self.nodes.len());
        while let Some(i) = ready.pop_front() {
            out.push(self.nodes[i].clone());
            for &dependent in &self.reverse[i] {
                waiting[dependent] -= 1;
                if waiting[dependent] == 0 {
                    ready.push_back(dependent);
                }
            }
        }
        if out.len() == self.nodes.len() {
            return Ok(out);
        }
        let cycle = self.find_cycle().unwrap_or_default();
        Err(Error::Cycle {
            cycle: cycle.iter().map(|n| format!("{n:?}")).collect(),
        })
    }

    /// The graph in Graphviz DOT, nodes labelled with their `Debug` form.
    pub fn to_dot(&self) -> String {
        self.to_dot_with(|n| format!("{n:?}"))
    }

    /// The graph in Graphviz DOT with labels from `label`. Edges point from the step
    /// that needs to the step needed.
    pub fn to_dot_with(&self, label: impl Fn(&N) -> String) -> String {
        let mut out = String::from("digraph dependencies {\n");
        for (i, node) in self.nodes.iter().enumerate() {
            let text = label(node).replace('\\', "\\\\").replace('"', "\\\"");
            // Writing to a String cannot fail.
            let _ = writeln!(out, "  n{i} [label=\"{text}\"];");
        }
        for (f, tos) in self.forward.iter().enumerate() {
            for t in tos {
                let _ = writeln!(out, "  n{f} -> n{t};");
            }
        }
        out.push_str("}\n");
        out
    }
}
