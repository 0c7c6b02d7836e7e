//! Serialising a graph: JSON (versioned schema), Graphviz DOT, and a text summary.
//!
//! JSON and DOT are pure functions of the graph minus its timings, so they are
//! byte-identical for the same source whatever the thread count, file order or folder.

use std::fmt::Write as _;

use serde::Serialize;

use crate::error::{CodeGraphError, Diagnostic};
use crate::model::{CodeGraph, CrateInfo, Edge, Node, ParseMetrics};

/// The version of the JSON schema written by [`to_json`]. It changes whenever a field is
/// renamed, removed or changes meaning; adding a field does not change it.
pub const SCHEMA_VERSION: u32 = 1;

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
