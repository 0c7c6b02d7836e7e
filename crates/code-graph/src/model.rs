//! The graph: nodes, edges, crates, diagnostics and metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::error::Diagnostic;
use crate::id::NodeId;

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeKind {
    /// A crate target (library, binary, test, example or bench): the root module.
    Crate,
    /// A module, inline or from its own file.
    Module,
    /// A free function (also one declared in an `extern` block).
    Function,
    /// A function inside an `impl` or `trait`; `detail` says `inherent`, `trait` or
    /// `trait-impl`.
    Method,
    /// A struct.
    Struct,
    /// An enum.
    Enum,
    /// An enum variant.
    Variant,
    /// A union.
    Union,
    /// A trait (or trait alias).
    Trait,
    /// An `impl` block; its name is `impl Type` or `impl Trait for Type`.
    Impl,
    /// A type alias, or an associated type in a trait or impl.
    TypeAlias,
    /// A `const`, free or associated.
    Const,
    /// A `static`.
    Static,
    /// A `macro_rules!` macro.
    Macro,
    /// One name brought in by a `use` (or `extern crate`); `detail` is the full path.
    Use,
    /// A struct, union or variant field (tuple fields are named `0`, `1`, ...).
    Field,
    /// A normalised type text, interned once for the whole graph.
    Type,
}

impl NodeKind {
    /// Every kind, in declaration order.
    pub const ALL: [NodeKind; 17] = [
        NodeKind::Crate,
        NodeKind::Module,
        NodeKind::Function,
        NodeKind::Method,
        NodeKind::Struct,
        NodeKind::Enum,
        NodeKind::Variant,
        NodeKind::Union,
        NodeKind::Trait,
        NodeKind::Impl,
        NodeKind::TypeAlias,
        NodeKind::Const,
        NodeKind::Static,
        NodeKind::Macro,
        NodeKind::Use,
        NodeKind::Field,
        NodeKind::Type,
    ];

    /// The name used in JSON and DOT.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Crate => "crate",
            NodeKind::Module => "module",
            NodeKind::Function => "function",
            NodeKind::Method => "method",
            NodeKind::Struct => "struct",
            NodeKind::Enum => "enum",
            NodeKind::Variant => "variant",
            NodeKind::Union => "union",
            NodeKind::Trait => "trait",
            NodeKind::Impl => "impl",
            NodeKind::TypeAlias => "type-alias",
            NodeKind::Const => "const",
            NodeKind::Static => "static",
            NodeKind::Macro => "macro",
            NodeKind::Use => "use",
            NodeKind::Field => "field",
            NodeKind::Type => "type",
        }
    }

    /// Whether a path can name an item of this kind in type (or module) position.
    pub(crate) fn is_namespace(self) -> bool {
        matches!(
            self,
            NodeKind::Crate
                | NodeKind::Module
                | NodeKind::Struct
                | NodeKind::Enum
                | NodeKind::Union
                | NodeKind::Trait
                | NodeKind::TypeAlias
        )
    }
}

/// What an edge says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// Crate or module to an item declared directly in it.
    Contains,
    /// Impl or trait to a method, associated const or associated type it defines.
    Defines,
    /// Impl to the trait it implements (the trait node when the path resolves in the
    /// graph, else the type node of the trait path).
    Implements,
    /// Impl to the type node of its self type.
    ImplFor,
    /// Field to its struct, union or variant.
    FieldOf,
    /// Variant to its enum.
    VariantOf,
    /// Function or method to the type node of a parameter (receivers included).
    HasParam,
    /// Function or method to the type node of its return type.
    Returns,
    /// Field, const, static or type alias to the type node of its type.
    UsesType,
    /// Use to the item it names, when the path resolves in the graph.
    Imports,
    /// Function or method to a function or method it calls: the callee path resolves
    /// in the graph, or the method name names exactly one method of the graph.
    Calls,
    /// Module to the module that holds its file's items: a file mounted a second time
    /// (by another target's `mod common;`, or a second `#[path]`) is not copied.
    Mounts,
}

impl EdgeKind {
    /// Every kind, in declaration order.
    pub const ALL: [EdgeKind; 12] = [
        EdgeKind::Contains,
        EdgeKind::Defines,
        EdgeKind::Implements,
        EdgeKind::ImplFor,
        EdgeKind::FieldOf,
        EdgeKind::VariantOf,
        EdgeKind::HasParam,
        EdgeKind::Returns,
        EdgeKind::UsesType,
        EdgeKind::Imports,
        EdgeKind::Calls,
        EdgeKind::Mounts,
    ];

    /// The name used in JSON and DOT.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Contains => "contains",
            EdgeKind::Defines => "defines",
            EdgeKind::Implements => "implements",
            EdgeKind::ImplFor => "impl-for",
            EdgeKind::FieldOf => "field-of",
            EdgeKind::VariantOf => "variant-of",
            EdgeKind::HasParam => "has-param",
            EdgeKind::Returns => "returns",
            EdgeKind::UsesType => "uses-type",
            EdgeKind::Imports => "imports",
            EdgeKind::Calls => "calls",
            EdgeKind::Mounts => "mounts",
        }
    }
}

/// One node of the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// Stable identity (see [`crate::id`]).
    pub id: NodeId,
    /// What it is.
    pub kind: NodeKind,
    /// Its own name (`impl Trait for Type` for impls, the text for types).
    pub name: String,
    /// Qualified path from the crate namespace, e.g. `my_crate::a::Foo::bar`.
    pub path: String,
    /// The crate namespace it belongs to; empty for type nodes, which are shared.
    ///
    /// One allocation per crate namespace (and per module for `file`), shared by every
    /// node of it: a string of its own per node was two of the five allocations a node
    /// cost, and two of the frees when the graph is dropped.
    #[serde(rename = "crate", serialize_with = "ser_arc_str")]
    pub krate: Arc<str>,
    /// The file it is written in, relative to the input directory; absent for types.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_arc_str"
    )]
    pub file: Option<Arc<str>>,
    /// 1-based line of its name (0 when it has no place in a file).
    pub line: u32,
    /// Its attributes other than doc comments, normalised: `cfg(test)`, `derive(Debug)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attrs: Vec<String>,
    /// Kind-specific detail: the method flavour, the full path of a use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

// Written as plain strings, exactly as the `String` fields they replaced were (serde's
// own `Arc` support needs its `rc` feature, which this crate does not otherwise need).
fn ser_arc_str<S: Serializer>(s: &Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

fn ser_opt_arc_str<S: Serializer>(s: &Option<Arc<str>>, ser: S) -> Result<S::Ok, S::Error> {
    match s {
        Some(s) => ser.serialize_some(&**s),
        None => ser.serialize_none(),
    }
}

/// One directed edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Edge {
    /// Source node.
    pub from: NodeId,
    /// Edge kind.
    pub kind: EdgeKind,
    /// Target node.
    pub to: NodeId,
}

/// What kind of Cargo target a crate namespace is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// `[lib]`.
    Lib,
    /// `[[bin]]`.
    Bin,
    /// `[[test]]`.
    Test,
    /// `[[example]]`.
    Example,
    /// `[[bench]]`.
    Bench,
}

/// One crate namespace of the graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CrateInfo {
    /// The namespace: the library's crate name, or `package[kind:name]` for other targets.
    pub name: String,
    /// The Cargo package.
    pub package: String,
    /// The target kind.
    pub kind: TargetKind,
    /// The root file, relative to the input directory.
    pub root: String,
    /// The crate node's ID.
    pub id: NodeId,
}

/// Per-run statistics. Everything here except `timings` is a function of the input alone
/// (the same for every thread count and file order), so it goes into the JSON export.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ParseMetrics {
    /// Files read and parsed (reachable or not).
    pub files: u64,
    /// Bytes of source read.
    pub bytes: u64,
    /// Files that did not parse (or were not UTF-8).
    pub parse_errors: u64,
    /// Nodes in the graph by kind.
    pub items_by_kind: BTreeMap<String, u64>,
    /// Edges in the graph by kind.
    pub edges_by_kind: BTreeMap<String, u64>,
    /// Type-interner lookups that found the text already there.
    pub type_interner_hits: u64,
    /// Type-interner lookups that inserted (= distinct type texts seen).
    pub type_interner_misses: u64,
    /// Item-position macro invocations (`foo! { ... }` outside bodies) whose tokens are
    /// not items (and not `cfg_if!` or `include!`): their expansion is out of scope, so
    /// any items they would define are not in the graph.
    pub macro_invocations_skipped: u64,
    /// Items declared inside function bodies (and const or static initialisers); they
    /// are in the graph, children of their function.
    pub items_in_bodies: u64,
    /// Call sites whose callee resolved to a function or method of the graph.
    pub calls_resolved: u64,
    /// Method calls whose name alone could mean several methods of the graph: no edge.
    pub calls_ambiguous: u64,
    /// Call sites whose callee did not resolve (external, local variable, closure, a
    /// std method name on a value of unknown type). Every call site is counted once in
    /// `calls_resolved`, `calls_ambiguous` or here.
    pub calls_unresolved: u64,
    /// `.rs` files no module tree reaches.
    pub unreachable_files: u64,
    /// Wall-clock time per phase; varies from run to run, so not exported.
    #[serde(skip)]
    pub timings: PhaseTimes,
}

/// Wall-clock time of each build phase.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhaseTimes {
    /// Reading manifests and listing files.
    pub discover: Duration,
    /// Reading, parsing and extracting every file (the parallel phase).
    pub parse: Duration,
    /// Following `mod` declarations from each target's root.
    pub module_tree: Duration,
    /// Creating nodes and edges for every module (parallel over modules).
    pub assemble: Duration,
    /// Resolving paths of impls, uses and calls (parallel over sites), sorting.
    pub resolve: Duration,
    /// The whole build.
    pub total: Duration,
}

/// The code graph of a crate or workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeGraph {
    /// The crate namespaces, sorted by name.
    pub crates: Vec<CrateInfo>,
    /// Every node, sorted by (crate, path, kind, id).
    pub nodes: Vec<Node>,
    /// Every edge, sorted and without duplicates.
    pub edges: Vec<Edge>,
    /// Problems found along the way, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// Statistics.
    pub metrics: ParseMetrics,
}

impl CodeGraph {
    /// The node with this ID (binary search would need a second order; this is linear).
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Nodes of one kind.
    pub fn nodes_of(&self, kind: NodeKind) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(move |n| n.kind == kind)
    }

    /// The first node with this qualified path and kind.
    pub fn find(&self, kind: NodeKind, path: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.kind == kind && n.path == path)
    }

    /// Whether the edge `from -kind-> to` exists.
    pub fn has_edge(&self, from: NodeId, kind: EdgeKind, to: NodeId) -> bool {
        self.edges.binary_search(&Edge { from, kind, to }).is_ok()
    }

    /// Targets of the edges of `kind` leaving `from`.
    pub fn targets(&self, from: NodeId, kind: EdgeKind) -> Vec<NodeId> {
        self.edges
            .iter()
            .filter(|e| e.from == from && e.kind == kind)
            .map(|e| e.to)
            .collect()
    }
}
