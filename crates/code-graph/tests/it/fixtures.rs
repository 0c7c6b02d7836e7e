//! Every node kind and relation kind, checked on small fixture crates.

use code_graph::{build, BuildOptions, CodeGraph, DiagnosticKind, EdgeKind, NodeKind};

use crate::{crate_dir, write_tree};

const LIB: &str = r#"
#![allow(dead_code)]
//! Fixture.
pub mod shapes;
mod util;
#[path = "odd/place.rs"]
mod placed;
pub mod inline {
    pub fn helper() -> u8 { 1 }
    pub mod deeper;
}

use crate::shapes::{Shape, Circle as Round};
pub use util::*;

pub const LIMIT: usize = 10;
pub static NAME: &str = "fixture";
pub type Pair = (u8,   u8);

macro_rules! twice { ($e:expr) => { $e * 2 } }
some_macro! { struct Hidden; }

#[cfg(feature = "extra")]
pub fn gated() {}

pub union Bits { pub i: u32, pub f: f32 }

pub fn entry(r: Round) -> f64 {
    let s = Round::new(1.0);
    let _ = inline::helper();
    let _ = crate::util::twice_of(2);
    let _ = local();
    fn local() -> u8 { 0 }
    s.area() + r.area()
}
"#;

const SHAPES: &str = r#"
/// A shape.
pub trait Shape {
    const SIDES: u32;
    type Unit;
    fn area(&self) -> f64;
    fn describe(&self) -> String { self.name() }
    fn name(&self) -> String;
}

#[derive(Debug, Clone)]
pub struct Circle { pub radius: f64 }

pub struct Wrapper(pub Vec < Circle >, u8);

pub enum Kind { Round(f64), Square { side: f64 }, Empty }

impl Circle {
    pub fn new(radius: f64) -> Self { Self::check(radius); Circle { radius } }
    fn check(_r: f64) {}
}

impl Shape for Circle {
    const SIDES: u32 = 0;
    type Unit = f64;
    fn area(&self) -> f64 { 3.0 * self.radius * self.radius }
    fn name(&self) -> String { String::new() }
}

impl std::fmt::Display for Circle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { Ok(()) }
}
"#;

fn fixture() -> (tempfile::TempDir, CodeGraph) {
    let dir = crate_dir(
        "fixture",
        &[
            ("src/lib.rs", LIB),
            ("src/shapes.rs", SHAPES),
            (
                "src/util/mod.rs",
                "pub fn twice_of(x: u8) -> u8 { x * 2 }\nmod nested;\n",
            ),
            ("src/util/nested.rs", "pub struct N;\n"),
            ("src/odd/place.rs", "pub fn placed_fn() {}\nmod child;\n"),
            ("src/odd/child.rs", "pub fn child_fn() {}\n"),
            ("src/inline/deeper.rs", "pub fn deep() {}\n"),
            ("src/orphan.rs", "pub fn lost() {}\n"),
            // Two test targets share `tests/common/mod.rs`: its items exist once.
            ("tests/common/mod.rs", "pub fn setup() {}\n"),
            ("tests/a.rs", "mod common;\nfn t() { common::setup() }\n"),
            ("tests/b.rs", "mod common;\nfn t() { common::setup() }\n"),
            (
                "src/main.rs",
                "fn main() { fixture::entry(fixture::shapes::Circle::new(1.0)); }\n",
            ),
        ],
    );
    let g = build(dir.path(), &BuildOptions::parallel(2)).unwrap();
    (dir, g)
}

fn id(g: &CodeGraph, kind: NodeKind, path: &str) -> code_graph::NodeId {
    match g.find(kind, path) {
        Some(n) => n.id,
        None => panic!(
            "no {kind:?} at {path}; have: {:?}",
            g.nodes
                .iter()
                .filter(|n| n.kind == kind)
                .map(|n| &n.path)
                .collect::<Vec<_>>()
        ),
    }
}

#[test]
fn module_tree_layouts_are_followed() {
    let (_d, g) = fixture();
    let krate = id(&g, NodeKind::Crate, "fixture");
    let shapes = id(&g, NodeKind::Module, "fixture::shapes");
    assert!(g.has_edge(krate, EdgeKind::Contains, shapes));
    // mod.rs layout, name.rs layout, #[path], a child of a #[path] file, and a file
    // module inside an inline module.
    id(&g, NodeKind::Struct, "fixture::util::nested::N");
    id(&g, NodeKind::Function, "fixture::placed::placed_fn");
    id(&g, NodeKind::Function, "fixture::placed::child::child_fn");
    id(&g, NodeKind::Function, "fixture::inline::deeper::deep");
    let inline = id(&g, NodeKind::Module, "fixture::inline");
    let helper = id(&g, NodeKind::Function, "fixture::inline::helper");
    assert!(g.has_edge(inline, EdgeKind::Contains, helper));
    // The binary is its own namespace.
    id(&g, NodeKind::Function, "fixture[bin:fixture]::main");
    // The orphan is reported, not dropped silently.
    assert!(g
        .diagnostics
        .iter()
        .any(|d| d.kind == DiagnosticKind::Unreachable && d.file == "src/orphan.rs"));
    assert!(g
        .find(NodeKind::Function, "fixture::orphan::lost")
        .is_none());
    assert_eq!(g.metrics.unreachable_files, 1);
}

#[test]
fn every_node_kind_is_present() {
    let (_d, g) = fixture();
    for kind in NodeKind::ALL {
        assert!(g.nodes_of(kind).count() > 0, "no {kind:?} node");
    }
    let flavours = |name: &str| {
        g.nodes_of(NodeKind::Method)
            .filter(|n| n.name == name)
            .map(|n| n.detail.clone().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(flavours("new"), vec!["inherent"]);
    let mut area = flavours("area");
    area.sort();
    assert_eq!(area, vec!["trait", "trait-impl"]);
}

#[test]
fn a_file_shared_by_targets_exists_once() {
    let (_d, g) = fixture();
    let setups: Vec<_> = g
        .nodes_of(NodeKind::Function)
        .filter(|n| n.name == "setup")
        .collect();
    assert_eq!(setups.len(), 1, "{setups:?}");
    let setup = setups[0].id;
    let a_common = id(&g, NodeKind::Module, "fixture[test:a]::common");
    let b_common = id(&g, NodeKind::Module, "fixture[test:b]::common");
    assert!(g.has_edge(b_common, EdgeKind::Mounts, a_common));
    // Calls from both targets reach the one copy.
    let ta = id(&g, NodeKind::Function, "fixture[test:a]::t");
    let tb = id(&g, NodeKind::Function, "fixture[test:b]::t");
    assert!(g.has_edge(ta, EdgeKind::Calls, setup));
    assert!(g.has_edge(tb, EdgeKind::Calls, setup));
}

#[test]
fn every_edge_kind_is_present() {
    let (_d, g) = fixture();
    for kind in EdgeKind::ALL {
        assert!(g.edges.iter().any(|e| e.kind == kind), "no {kind:?} edge");
    }
}

#[test]
fn relations_point_where_they_should() {
    let (_d, g) = fixture();
    let circle = id(&g, NodeKind::Struct, "fixture::shapes::Circle");
    let radius = id(&g, NodeKind::Field, "fixture::shapes::Circle::radius");
    assert!(g.has_edge(radius, EdgeKind::FieldOf, circle));
    let f64_ty = id(&g, NodeKind::Type, "f64");
    assert!(g.has_edge(radius, EdgeKind::UsesType, f64_ty));

    // Tuple fields are numbered; their types are normalised and interned once.
    let w0 = id(&g, NodeKind::Field, "fixture::shapes::Wrapper::0");
    let vec_ty = id(&g, NodeKind::Type, "Vec<Circle>");
    assert!(g.has_edge(w0, EdgeKind::UsesType, vec_ty));
    assert_eq!(
        g.nodes_of(NodeKind::Type)
            .filter(|n| n.name == "f64")
            .count(),
        1
    );
    id(&g, NodeKind::Type, "(u8, u8)");

    let kind = id(&g, NodeKind::Enum, "fixture::shapes::Kind");
    let square = id(&g, NodeKind::Variant, "fixture::shapes::Kind::Square");
    assert!(g.has_edge(square, EdgeKind::VariantOf, kind));
    let side = id(&g, NodeKind::Field, "fixture::shapes::Kind::Square::side");
    assert!(g.has_edge(side, EdgeKind::FieldOf, square));

    let shape = id(&g, NodeKind::Trait, "fixture::shapes::Shape");
    let imp = id(&g, NodeKind::Impl, "fixture::shapes::impl Shape for Circle");
    assert!(g.has_edge(imp, EdgeKind::Implements, shape));
    let circle_ty = id(&g, NodeKind::Type, "Circle");
    assert!(g.has_edge(imp, EdgeKind::ImplFor, circle_ty));
    let area = id(
        &g,
        NodeKind::Method,
        "fixture::shapes::impl Shape for Circle::area",
    );
    assert!(g.has_edge(imp, EdgeKind::Defines, area));
    id(
        &g,
        NodeKind::Const,
        "fixture::shapes::impl Shape for Circle::SIDES",
    );
    id(&g, NodeKind::TypeAlias, "fixture::shapes::Shape::Unit");
    // An external trait falls back to its type node.
    let display = id(
        &g,
        NodeKind::Impl,
        "fixture::shapes::impl std::fmt::Display for Circle",
    );
    let display_ty = id(&g, NodeKind::Type, "std::fmt::Display");
    assert!(g.has_edge(display, EdgeKind::Implements, display_ty));

    // Parameters (receivers included) and return types.
    let self_ref = id(&g, NodeKind::Type, "&Self");
    assert!(g.has_edge(area, EdgeKind::HasParam, self_ref));
    assert!(g.has_edge(area, EdgeKind::Returns, f64_ty));

    // Imports resolve through renames and globs.
    let use_round = id(&g, NodeKind::Use, "fixture::Round");
    assert_eq!(
        g.node(use_round).unwrap().detail.as_deref(),
        Some("crate::shapes::Circle")
    );
    assert!(g.has_edge(use_round, EdgeKind::Imports, circle));
    let use_util = id(&g, NodeKind::Use, "fixture::*");
    let util = id(&g, NodeKind::Module, "fixture::util");
    assert!(g.has_edge(use_util, EdgeKind::Imports, util));
}

#[test]
fn calls_resolve_syntactically() {
    let (_d, g) = fixture();
    let entry = id(&g, NodeKind::Function, "fixture::entry");
    let new = id(&g, NodeKind::Method, "fixture::shapes::impl Circle::new");
    let check = id(&g, NodeKind::Method, "fixture::shapes::impl Circle::check");
    let helper = id(&g, NodeKind::Function, "fixture::inline::helper");
    let twice_of = id(&g, NodeKind::Function, "fixture::util::twice_of");
    // Through a renamed import (`Round::new`), a relative path, and `crate::`.
    assert!(g.has_edge(entry, EdgeKind::Calls, new));
    assert!(g.has_edge(entry, EdgeKind::Calls, helper));
    assert!(g.has_edge(entry, EdgeKind::Calls, twice_of));
    // `Self::check` inside an impl.
    assert!(g.has_edge(new, EdgeKind::Calls, check));
    // `self.name()` in a trait's default method goes to the trait's declaration.
    let describe = id(&g, NodeKind::Method, "fixture::shapes::Shape::describe");
    let name = id(&g, NodeKind::Method, "fixture::shapes::Shape::name");
    assert!(g.has_edge(describe, EdgeKind::Calls, name));
    // Across targets: the binary calls into the library by its crate name.
    let main = id(&g, NodeKind::Function, "fixture[bin:fixture]::main");
    let lib_entry = id(&g, NodeKind::Function, "fixture::entry");
    assert!(g.has_edge(main, EdgeKind::Calls, lib_entry));
    assert!(g.has_edge(main, EdgeKind::Calls, new));
    // `s.area()` has an unknown receiver type: unresolved and counted.
    assert!(g.metrics.calls_unresolved > 0);
    assert!(g.metrics.calls_resolved >= 7);
}

#[test]
fn attributes_macros_and_skips_are_recorded() {
    let (_d, g) = fixture();
    let gated = g.find(NodeKind::Function, "fixture::gated").unwrap();
    assert_eq!(gated.attrs, vec!["cfg(feature=\"extra\")"]);
    let circle = g.find(NodeKind::Struct, "fixture::shapes::Circle").unwrap();
    assert_eq!(
        circle.attrs,
        vec!["derive(Debug, Clone)"],
        "doc comments are not attributes"
    );
    let krate = g.find(NodeKind::Crate, "fixture").unwrap();
    assert_eq!(krate.attrs, vec!["allow(dead_code)"]);
    id(&g, NodeKind::Macro, "fixture::twice");
    // `some_macro! { struct Hidden; }`: the tokens are items, so the item is taken as
    // written, tagged with the macro it came through.
    let hidden = id(&g, NodeKind::Struct, "fixture::Hidden");
    assert_eq!(g.node(hidden).unwrap().attrs, vec!["macro(some_macro)"]);
    assert_eq!(g.metrics.macro_invocations_skipped, 0);
    // `fn local` inside `entry` is a child of `entry`.
    let entry = id(&g, NodeKind::Function, "fixture::entry");
    let local = id(&g, NodeKind::Function, "fixture::entry::local");
    assert!(g.has_edge(entry, EdgeKind::Contains, local));
    assert_eq!(g.metrics.items_in_bodies, 1);
    assert_eq!(g.metrics.parse_errors, 0);
}

#[test]
fn same_named_siblings_get_distinct_stable_ids() {
    let src = "pub struct S;\nimpl S { fn a() {} }\nimpl S { fn a() {} }\n#[cfg(unix)] fn f() {}\n#[cfg(not(unix))] fn f() {}\n";
    let dir = crate_dir("dups", &[("src/lib.rs", src)]);
    let g = build(dir.path(), &BuildOptions::sequential()).unwrap();
    assert_eq!(g.nodes_of(NodeKind::Impl).count(), 2);
    assert_eq!(g.nodes_of(NodeKind::Function).count(), 2);
    assert_eq!(g.nodes_of(NodeKind::Method).count(), 2);
    let mut ids: Vec<_> = g.nodes.iter().map(|n| n.id).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total);
}

#[test]
fn workspace_gives_one_namespace_per_crate_and_links_them() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
            ("crates/a/Cargo.toml", "[package]\nname = \"a-lib\"\n"),
            ("crates/a/src/lib.rs", "pub fn shared() {}\n"),
            ("crates/b/Cargo.toml", "[package]\nname = \"b\"\n"),
            ("crates/b/src/lib.rs", "pub fn user() { a_lib::shared() }\n"),
        ],
    );
    let g = build(dir.path(), &BuildOptions::parallel(2)).unwrap();
    let names: Vec<_> = g.crates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["a_lib", "b"]);
    assert_eq!(g.crates[0].root, "crates/a/src/lib.rs");
    let user = id(&g, NodeKind::Function, "b::user");
    let shared = id(&g, NodeKind::Function, "a_lib::shared");
    assert!(g.has_edge(user, EdgeKind::Calls, shared));
}
