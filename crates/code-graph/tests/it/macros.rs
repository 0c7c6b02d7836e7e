//! Modules and items reached through macros, items in function bodies, and calls: each
//! with the bad inputs that go with it.

use code_graph::{build, BuildOptions, CodeGraph, DiagnosticKind, EdgeKind, NodeKind};

use crate::crate_dir;

fn find<'g>(g: &'g CodeGraph, kind: NodeKind, path: &str) -> &'g code_graph::Node {
    g.find(kind, path).unwrap_or_else(|| {
        panic!(
            "no {kind:?} at {path}; have {:?}",
            g.nodes_of(kind).map(|n| &n.path).collect::<Vec<_>>()
        )
    })
}

const WRAPPERS: &str = r#"
macro_rules! cfg_rt {
    ($($item:item)*) => { $( #[cfg(feature = "rt")] $item )* }
}
cfg_rt! {
    mod rt;
    pub fn in_wrapper() {}
}
cfg_if::cfg_if! {
    if #[cfg(unix)] {
        #[path = "sys/unix.rs"]
        mod imp;
    } else if #[cfg(windows)] {
        #[path = "sys/windows.rs"]
        mod imp;
    } else {
        pub fn fallback() {}
    }
}
#[cfg_attr(unix, path = "arch/a.rs")]
#[cfg_attr(not(unix), path = "arch/b.rs")]
mod arch;
include!("generated.rs");
include!(concat!(env!("OUT_DIR"), "/built.rs"));
mod root_macro;
root!();
"#;

fn wrappers() -> (tempfile::TempDir, CodeGraph) {
    let dir = crate_dir(
        "wrap",
        &[
            ("src/lib.rs", WRAPPERS),
            ("src/rt.rs", "pub fn spawn() {}\n"),
            ("src/sys/unix.rs", "pub fn unix_only() {}\n"),
            ("src/sys/windows.rs", "pub fn windows_only() {}\n"),
            ("src/arch/a.rs", "pub fn arch_a() {}\n"),
            ("src/arch/b.rs", "pub fn arch_b() {}\n"),
            ("src/generated.rs", "pub fn generated() {}\n"),
            (
                "src/root_macro.rs",
                "macro_rules! root { () => { pub mod from_root; pub fn rooted() {} }; }\n",
            ),
            ("src/from_root.rs", "pub fn deep_in_root() {}\n"),
        ],
    );
    let g = build(dir.path(), &BuildOptions::parallel(2)).unwrap();
    (dir, g)
}

#[test]
fn modules_declared_in_macros_are_followed() {
    let (_d, g) = wrappers();
    // A `macro_rules!` wrapper passing items through: the module and the function.
    find(&g, NodeKind::Function, "wrap::rt::spawn");
    let f = find(&g, NodeKind::Function, "wrap::in_wrapper");
    assert_eq!(f.attrs, vec!["macro(cfg_rt)"]);
    // cfg_if!: every arm, with the arm's cfg on the item.
    find(&g, NodeKind::Function, "wrap::imp::unix_only");
    find(&g, NodeKind::Function, "wrap::imp::windows_only");
    let fallback = find(&g, NodeKind::Function, "wrap::fallback");
    assert_eq!(fallback.attrs, vec!["cfg(not(any(unix, windows)))"]);
    let imps: Vec<_> = g
        .nodes_of(NodeKind::Module)
        .filter(|n| n.name == "imp")
        .collect();
    assert_eq!(imps.len(), 2);
    assert!(imps[0].attrs.iter().any(|a| a.starts_with("cfg(")));
    // cfg_attr path: both arms, the module records both.
    find(&g, NodeKind::Function, "wrap::arch::arch_a");
    find(&g, NodeKind::Function, "wrap::arch::arch_b");
    let arch = find(&g, NodeKind::Module, "wrap::arch");
    assert_eq!(
        arch.attrs
            .iter()
            .filter(|a| a.starts_with("cfg_attr("))
            .count(),
        2
    );
    // include!: the file's items are the including module's.
    let generated = find(&g, NodeKind::Function, "wrap::generated");
    assert_eq!(generated.file.as_deref(), Some("src/generated.rs"));
    // A fixed-body macro_rules invoked as `root!()`, and a module it declares.
    find(&g, NodeKind::Function, "wrap::rooted");
    find(&g, NodeKind::Function, "wrap::from_root::deep_in_root");
    // `include!(concat!(...))` cannot be followed: counted, not an error.
    assert_eq!(g.metrics.macro_invocations_skipped, 1);
    let unreachable: Vec<_> = g
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::Unreachable)
        .collect();
    assert!(unreachable.is_empty(), "{unreachable:?}");
}

#[test]
fn broken_macro_modules_are_diagnostics_not_failures() {
    let dir = crate_dir(
        "brk",
        &[
            (
                "src/lib.rs",
                "include!(\"nowhere.rs\");\ninclude!(\"lib.rs\");\n\
                 #[cfg_attr(unix, path = \"gone.rs\")]\nmod m;\n\
                 macro_rules! again { () => { again!(); pub fn once() {} }; }\nagain!();\n\
                 cfg_if::cfg_if! { if #[cfg(x)] { this is not rust } }\n\
                 pub fn kept() {}\n",
            ),
            ("src/m.rs", "pub fn default_file() {}\n"),
        ],
    );
    let g = build(dir.path(), &BuildOptions::sequential()).unwrap();
    find(&g, NodeKind::Function, "brk::kept");
    // The arm's file is missing; the default file is still used.
    find(&g, NodeKind::Function, "brk::m::default_file");
    let kinds: Vec<_> = g.diagnostics.iter().map(|d| d.kind).collect();
    assert!(kinds.contains(&DiagnosticKind::MissingModule), "{kinds:?}");
    assert!(kinds.contains(&DiagnosticKind::ModuleCycle), "{kinds:?}");
    // A macro that invokes itself expands a bounded number of times.
    assert!(
        g.nodes_of(NodeKind::Function)
            .filter(|n| n.name == "once")
            .count()
            <= 16
    );
    assert_eq!(g.metrics.parse_errors, 0);
}

#[test]
fn items_in_bodies_are_children_with_their_calls() {
    // syn's `error::new2` calls a nested function of the same name: the edge goes to
    // the nested one, never to itself.
    let src = "pub fn new2() -> u8 { return new2(); fn new2() -> u8 { helper() } }\n\
               fn helper() -> u8 { 0 }\n\
               pub fn outer() { struct Local; impl Local { fn m(&self) {} } \
               Local.m(); fn inner() { deeper() } fn deeper() {} inner(); }\n";
    let dir = crate_dir("nest", &[("src/lib.rs", src)]);
    let g = build(dir.path(), &BuildOptions::parallel(2)).unwrap();
    let outer_new2 = find(&g, NodeKind::Function, "nest::new2").id;
    let inner_new2 = find(&g, NodeKind::Function, "nest::new2::new2").id;
    let helper = find(&g, NodeKind::Function, "nest::helper").id;
    assert!(g.has_edge(outer_new2, EdgeKind::Calls, inner_new2));
    assert!(!g.has_edge(outer_new2, EdgeKind::Calls, outer_new2));
    assert!(g.has_edge(outer_new2, EdgeKind::Contains, inner_new2));
    assert!(g.has_edge(inner_new2, EdgeKind::Calls, helper));
    let outer = find(&g, NodeKind::Function, "nest::outer").id;
    let inner = find(&g, NodeKind::Function, "nest::outer::inner").id;
    let deeper = find(&g, NodeKind::Function, "nest::outer::deeper").id;
    let m = find(&g, NodeKind::Method, "nest::outer::impl Local::m").id;
    find(&g, NodeKind::Struct, "nest::outer::Local");
    assert!(g.has_edge(outer, EdgeKind::Calls, inner));
    assert!(g.has_edge(inner, EdgeKind::Calls, deeper));
    assert!(g.has_edge(outer, EdgeKind::Calls, m));
    // new2, Local, its impl, m, inner, deeper.
    assert_eq!(g.metrics.items_in_bodies, 6);
}

#[test]
fn method_calls_and_macro_arguments_are_calls() {
    let src = "pub struct V; pub struct W;\n\
               impl V { pub fn visit_unique(&self) {} pub fn twice(&self) {} pub fn len(&self) -> usize { 0 } }\n\
               impl W { pub fn twice(&self) {} }\n\
               fn g() -> bool { true }\nfn h() -> u8 { 0 }\n\
               pub fn user(v: &V, items: Vec<u8>) {\n\
                 v.visit_unique();\n\
                 v.twice();\n\
                 let _ = items.len();\n\
                 assert!(g());\n\
                 let _ = vec![h(); 3];\n\
                 let _ = format!(\"{}\", h());\n\
                 (|| ())();\n\
                 for w in std::iter::empty::<W>() { w.twice(); }\n\
               }\n";
    let dir = crate_dir("calls", &[("src/lib.rs", src)]);
    let g1 = build(dir.path(), &BuildOptions::sequential()).unwrap();
    let user = find(&g1, NodeKind::Function, "calls::user").id;
    let unique = find(&g1, NodeKind::Method, "calls::impl V::visit_unique").id;
    let g_fn = find(&g1, NodeKind::Function, "calls::g").id;
    let h_fn = find(&g1, NodeKind::Function, "calls::h").id;
    let len = find(&g1, NodeKind::Method, "calls::impl V::len").id;
    assert!(g1.has_edge(user, EdgeKind::Calls, unique));
    assert!(g1.has_edge(user, EdgeKind::Calls, g_fn));
    assert!(g1.has_edge(user, EdgeKind::Calls, h_fn));
    // `items.len()` means std's `len` as far as the names can tell: no edge.
    assert!(!g1.has_edge(user, EdgeKind::Calls, len));
    // `v: &V` says which `twice`; `w`, bound by a `for`, is of no known type.
    let v_twice = find(&g1, NodeKind::Method, "calls::impl V::twice").id;
    let w_twice = find(&g1, NodeKind::Method, "calls::impl W::twice").id;
    assert!(g1.has_edge(user, EdgeKind::Calls, v_twice));
    assert!(!g1.has_edge(user, EdgeKind::Calls, w_twice));
    // Every call site counted once: visit_unique, v.twice, g, h (twice) resolved;
    // w.twice ambiguous; len, the closure and `std::iter::empty` unresolved.
    let m = &g1.metrics;
    assert_eq!(m.calls_resolved, 5, "{m:?}");
    assert_eq!(m.calls_ambiguous, 1, "{m:?}");
    assert_eq!(m.calls_unresolved, 3, "{m:?}");
}

#[test]
fn one_arm_macros_expand_without_their_repetitions() {
    // serde's shape: a trait declared by a one-arm macro whose metavariables are used
    // only inside a repetition (the supertraits), invoked once per cfg.
    let src = r#"
macro_rules! declare_error_trait {
    (Error: Sized $(+ $($supertrait:ident)::+)*) => {
        pub trait Error: Sized $(+ $($supertrait)::+)* {
            fn custom(msg: &str) -> Self;
            fn invalid(n: usize) -> Self { Self::custom("invalid") }
        }
    };
}
#[cfg(feature = "std")]
declare_error_trait!(Error: Sized + std::error::Error);
#[cfg(not(feature = "std"))]
declare_error_trait!(Error: Sized + core::fmt::Debug);
macro_rules! named {
    ($name:ident) => { pub fn $name() {} };
}
named!(made);
macro_rules! two_arms {
    () => { pub fn from_empty_arm() {} };
    ($x:ident) => { pub fn from_ident_arm() {} };
}
two_arms!(x);
pub fn user<E: Error>() -> E { E::invalid(1) }
pub fn by_path<E: Error>() -> E { Error::invalid(2) }
"#;
    let dir = crate_dir("oa", &[("src/lib.rs", src)]);
    let g = build(dir.path(), &BuildOptions::sequential()).unwrap();
    // Both invocations are in the graph (cfg is recorded, not evaluated).
    let traits: Vec<_> = g
        .nodes_of(NodeKind::Trait)
        .filter(|n| n.path == "oa::Error")
        .collect();
    assert_eq!(traits.len(), 2, "{traits:?}");
    let invalid = find(&g, NodeKind::Method, "oa::Error::invalid").id;
    let by_path = find(&g, NodeKind::Function, "oa::by_path").id;
    assert!(g.has_edge(by_path, EdgeKind::Calls, invalid));
    // `E::invalid(..)` on a generic bounded by `Error`: the trait's method.
    let user = find(&g, NodeKind::Function, "oa::user").id;
    assert!(g.has_edge(user, EdgeKind::Calls, invalid));
    // A metavariable outside a repetition (`$name`), or a macro of several arms
    // invoked with arguments: not expanded, counted as skipped.
    assert!(g
        .nodes_of(NodeKind::Function)
        .all(|n| n.name != "made" && n.name != "from_empty_arm" && n.name != "from_ident_arm"));
    assert_eq!(g.metrics.macro_invocations_skipped, 2, "{:?}", g.metrics);
    // Same graph whatever the thread count.
    let par = build(dir.path(), &BuildOptions::parallel(4)).unwrap();
    assert_eq!(
        code_graph::to_json(&g).unwrap(),
        code_graph::to_json(&par).unwrap()
    );
}
