//! Serialising a graph: JSON (versioned schema), Graphviz DOT, and a text summary.
//!
//! JSON and DOT are pure functions of the graph minus its timings, so they are
//! byte-identical for the same source whatever the thread count, file order or folder.

use std::fmt::Write as _;

use serde::Serialize;

use crate::error::{CodeGraphError, Diagnostic};
use crate::id::NodeId;
use crate::model::{CodeGraph, CrateInfo, Edge, EdgeKind, Node, NodeKind, ParseMetrics};

/// The version of the JSON schema written by [`to_json`]. It changes whenever a field is
/// renamed, removed or changes meaning; adding a field does not change it.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Serialize)]
struct JsonGraph<'a> {
    schema_version: u32,
    generator: &'static str,
    crates: &'a [CrateInfo],
    nodes: &'a [Node],
    edges: &'a [Edge],
    diagnostics: &'a [Diagnostic],
    metrics: &'a ParseMetrics,
}

/// The graph as pretty-printed JSON (see `docs/code-graph.md` for the schema).
pub fn to_json(graph: &CodeGraph) -> Result<String, CodeGraphError> {
    let doc = JsonGraph {
        schema_version: SCHEMA_VERSION,
        generator: "code-graph",
        crates: &graph.crates,
        nodes: &graph.nodes,
        edges: &graph.edges,
        diagnostics: &graph.diagnostics,
        metrics: &graph.metrics,
    };
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    Ok(text)
}

fn dot_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The graph in Graphviz DOT: one node per graph node labelled with kind and name, one
/// edge per graph edge labelled with its kind.
pub fn to_dot(graph: &CodeGraph) -> String {
    let mut out = String::from(
        "digraph code_graph {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for n in &graph.nodes {
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{}\\n{}\"];",
            n.id,
            n.kind.as_str(),
            dot_escape(&n.name)
        );
    }
    for e in &graph.edges {
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\"];",
            e.from,
            e.to,
            e.kind.as_str()
        );
    }
    out.push_str("}\n");
    out
}

/// A human summary: inputs, counts by kind, interner and call statistics, timings, and
/// the first diagnostics.
pub fn summary(graph: &CodeGraph) -> String {
    let m = &graph.metrics;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} crate(s), {} file(s), {:.1} KiB, {} node(s), {} edge(s)",
        graph.crates.len(),
        m.files,
        m.bytes as f64 / 1024.0,
        graph.nodes.len(),
        graph.edges.len()
    );
    let _ = writeln!(out, "nodes by kind:");
    for (k, v) in &m.items_by_kind {
        let _ = writeln!(out, "  {k:<12} {v}");
    }
    let _ = writeln!(out, "edges by kind:");
    for (k, v) in &m.edges_by_kind {
        let _ = writeln!(out, "  {k:<12} {v}");
    }
    let _ = writeln!(
        out,
        "type interner: {} hits, {} misses; calls: {} resolved, {} ambiguous, {} unresolved",
        m.type_interner_hits,
        m.type_interner_misses,
        m.calls_resolved,
        m.calls_ambiguous,
        m.calls_unresolved
    );
    let _ = writeln!(
        out,
        "{} item(s) in bodies; skipped: {} item macro invocation(s), {} unreachable file(s), {} parse error(s)",
        m.items_in_bodies, m.macro_invocations_skipped, m.unreachable_files, m.parse_errors
    );
    let t = &m.timings;
    let secs = t.total.as_secs_f64().max(1e-9);
    let _ = writeln!(
        out,
        "time: total {:.1} ms (discover {:.1}, parse {:.1}, module tree {:.1}, assemble {:.1}, resolve {:.1}); {:.1} MB/s",
        ms(t.total),
        ms(t.discover),
        ms(t.parse),
        ms(t.module_tree),
        ms(t.assemble),
        ms(t.resolve),
        m.bytes as f64 / 1e6 / secs
    );
    if !graph.diagnostics.is_empty() {
        let _ = writeln!(out, "{} diagnostic(s):", graph.diagnostics.len());
        for d in graph.diagnostics.iter().take(20) {
            let _ = writeln!(out, "  {d}");
        }
        if graph.diagnostics.len() > 20 {
            let _ = writeln!(out, "  ... and {} more", graph.diagnostics.len() - 20);
        }
    }
    out
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Which part of a graph to export (see [`filter`]). The default keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Keep only nodes of these crate namespaces or packages (type nodes, which belong
    /// to no crate, are kept when an edge from a kept node reaches them). Empty: all.
    pub crates: Vec<String>,
    /// Keep only nodes of these kinds. Empty: all.
    pub kinds: Vec<NodeKind>,
    /// Keep only what lies within `depth` edges (either direction) of the nodes whose
    /// path or name is this.
    pub focus: Option<String>,
    /// The radius around `focus`.
    pub depth: usize,
}

/// The part of `graph` that `f` selects: the nodes it keeps, and the edges between
/// them. Crates, diagnostics and metrics are kept as they are (they describe the
/// whole build). Everything stays in the graph's order, so exports stay deterministic.
pub fn filter(graph: &CodeGraph, f: &Filter) -> CodeGraph {
    use std::collections::{BTreeSet, VecDeque};
    let crate_ok = |n: &Node| {
        f.crates.is_empty()
            || f.crates.iter().any(|c| {
                *c == *n.krate
                    || graph
                        .crates
                        .iter()
                        .any(|ci| ci.name == *n.krate && ci.package == *c)
            })
    };
    let mut keep: BTreeSet<NodeId> = graph
        .nodes
        .iter()
        .filter(|n| n.kind != NodeKind::Type && crate_ok(n))
        .filter(|n| f.kinds.is_empty() || f.kinds.contains(&n.kind))
        .map(|n| n.id)
        .collect();
    // Type nodes reached from kept nodes, when types are wanted.
    if f.kinds.is_empty() || f.kinds.contains(&NodeKind::Type) {
        let types: BTreeSet<NodeId> = graph
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Type)
            .map(|n| n.id)
            .collect();
        let reached: Vec<NodeId> = graph
            .edges
            .iter()
            .filter(|e| keep.contains(&e.from) && types.contains(&e.to))
            .map(|e| e.to)
            .collect();
        keep.extend(reached);
    }
    if let Some(focus) = &f.focus {
        let mut seen: BTreeSet<NodeId> = graph
            .nodes
            .iter()
            .filter(|n| keep.contains(&n.id) && (n.path == *focus || n.name == *focus))
            .map(|n| n.id)
            .collect();
        let mut queue: VecDeque<(NodeId, usize)> = seen.iter().map(|id| (*id, 0)).collect();
        while let Some((id, d)) = queue.pop_front() {
            if d == f.depth {
                continue;
            }
            for e in &graph.edges {
                let next = if e.from == id {
                    e.to
                } else if e.to == id {
                    e.from
                } else {
                    continue;
                };
                if keep.contains(&next) && seen.insert(next) {
                    queue.push_back((next, d + 1));
                }
            }
        }
        keep = seen;
    }
    CodeGraph {
        crates: graph.crates.clone(),
        nodes: graph
            .nodes
            .iter()
            .filter(|n| keep.contains(&n.id))
            .cloned()
            .collect(),
        edges: graph
            .edges
            .iter()
            .filter(|e| keep.contains(&e.from) && keep.contains(&e.to))
            .copied()
            .collect(),
        diagnostics: graph.diagnostics.clone(),
        metrics: graph.metrics.clone(),
    }
}

/// Writes [`to_json`]'s document to `out` as it is produced, without building the
/// whole text in memory first.
pub fn write_json<W: std::io::Write>(graph: &CodeGraph, out: W) -> Result<(), CodeGraphError> {
    let doc = JsonGraph {
        schema_version: SCHEMA_VERSION,
        generator: "code-graph",
        crates: &graph.crates,
        nodes: &graph.nodes,
        edges: &graph.edges,
        diagnostics: &graph.diagnostics,
        metrics: &graph.metrics,
    };
    write_json_document(out, &doc, true)
}

/// Writes one JSON document and a final newline (pretty or compact).
fn write_json_document<W: std::io::Write, T: Serialize>(
    mut out: W,
    doc: &T,
    pretty: bool,
) -> Result<(), CodeGraphError> {
    if pretty {
        serde_json::to_writer_pretty(&mut out, doc)?;
    } else {
        serde_json::to_writer(&mut out, doc)?;
    }
    out.write_all(b"\n")
        .map_err(|e| CodeGraphError::Serialise(serde_json::Error::io(e)))
}

#[derive(Serialize)]
struct NodeLink<'a> {
    directed: bool,
    multigraph: bool,
    graph: NodeLinkMeta<'a>,
    nodes: &'a [Node],
    edges: Vec<NodeLinkEdge>,
}

#[derive(Serialize)]
struct NodeLinkMeta<'a> {
    generator: &'static str,
    schema_version: u32,
    crates: &'a [CrateInfo],
}

#[derive(Serialize)]
struct NodeLinkEdge {
    source: NodeId,
    target: NodeId,
    key: &'static str,
    kind: &'static str,
}

/// Writes the graph in the node-link form that `networkx.node_link_graph(data)` reads
/// with its default arguments (networkx 3.6; before 3.4 pass `link="edges"`): a
/// directed multigraph whose nodes carry their fields (`id` is the node ID) and whose
/// edges carry `source`, `target`, and their kind as both `key` and `kind`.
pub fn write_node_link<W: std::io::Write>(graph: &CodeGraph, out: W) -> Result<(), CodeGraphError> {
    let doc = NodeLink {
        directed: true,
        multigraph: true,
        graph: NodeLinkMeta {
            generator: "code-graph",
            schema_version: SCHEMA_VERSION,
            crates: &graph.crates,
        },
        nodes: &graph.nodes,
        edges: graph
            .edges
            .iter()
            .map(|e| NodeLinkEdge {
                source: e.from,
                target: e.to,
                key: e.kind.as_str(),
                kind: e.kind.as_str(),
            })
            .collect(),
    };
    write_json_document(out, &doc, false)
}

#[derive(Serialize)]
struct Compact<'a> {
    schema_version: u32,
    generator: &'static str,
    format: &'static str,
    node_kinds: Vec<&'static str>,
    edge_kinds: Vec<&'static str>,
    strings: Vec<&'a str>,
    crates: &'a [CrateInfo],
    /// `[id, kind, name, path, crate, file, line]`: kind indexes `node_kinds`; name,
    /// path, crate and file index `strings` (file -1 when there is none).
    nodes: Vec<(NodeId, u8, u32, u32, u32, i64, u32)>,
    /// `[from, kind, to]`: node positions in `nodes`, kind indexes `edge_kinds`.
    edges: Vec<(u32, u8, u32)>,
    diagnostics: &'a [Diagnostic],
    metrics: &'a ParseMetrics,
}

/// Writes the graph as compact JSON: every string (name, path, crate, file) once in a
/// table, nodes as arrays of indexes, edges as `[from, kind, to]` with node positions
/// instead of IDs, no indentation. Attributes and details are left out (the full JSON
/// has them).
pub fn write_compact<W: std::io::Write>(graph: &CodeGraph, out: W) -> Result<(), CodeGraphError> {
    let mut strings: Vec<&str> = Vec::new();
    let mut index: crate::fasthash::FastMap<&str, u32> = crate::fasthash::FastMap::default();
    let mut nodes = Vec::with_capacity(graph.nodes.len());
    let mut position: crate::fasthash::FastMap<NodeId, u32> =
        crate::fasthash::FastMap::with_capacity_and_hasher(graph.nodes.len(), Default::default());
    for (i, n) in graph.nodes.iter().enumerate() {
        position.insert(n.id, i as u32);
        nodes.push((n.id, n.kind as u8, 0, 0, 0, -1, n.line));
    }
    for (slot, n) in nodes.iter_mut().zip(graph.nodes.iter()) {
        for (field, text) in [
            (2usize, Some(n.name.as_str())),
            (3, Some(n.path.as_str())),
            (4, Some(&*n.krate)),
            (5, n.file.as_deref()),
        ] {
            let Some(text) = text else { continue };
            let at = match index.get(text) {
                Some(i) => *i,
                None => {
                    let i = strings.len() as u32;
                    strings.push(text);
                    index.insert(text, i);
                    i
                }
            };
            match field {
                2 => slot.2 = at,
                3 => slot.3 = at,
                4 => slot.4 = at,
                _ => slot.5 = i64::from(at),
            }
        }
    }
    let edges = graph
        .edges
        .iter()
        .filter_map(|e| Some((*position.get(&e.from)?, e.kind as u8, *position.get(&e.to)?)))
        .collect();
    let doc = Compact {
        schema_version: SCHEMA_VERSION,
        generator: "code-graph",
        format: "compact",
        node_kinds: NodeKind::ALL.iter().map(|k| k.as_str()).collect(),
        edge_kinds: EdgeKind::ALL.iter().map(|k| k.as_str()).collect(),
        strings,
        crates: &graph.crates,
        nodes,
        edges,
        diagnostics: &graph.diagnostics,
        metrics: &graph.metrics,
    };
    write_json_document(out, &doc, false)
}
