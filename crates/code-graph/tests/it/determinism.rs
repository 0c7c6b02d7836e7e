//! The export is a function of the source alone.

use std::path::{Path, PathBuf};

use code_graph::{build, to_dot, to_json, BuildOptions, EdgeKind, InternerChoice, NodeKind};
use proptest::prelude::*;

fn own_crate() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn exports(dir: &Path, options: &BuildOptions) -> (String, String) {
    let g = build(dir, options).unwrap();
    (to_json(&g).unwrap(), to_dot(&g))
}

#[test]
fn byte_identical_across_threads_order_and_interner() {
    let dir = own_crate();
    let reference = exports(&dir, &BuildOptions::sequential());
    for threads in [1, 2, 8] {
        for seed in [None, Some(1), Some(0xdead_beef)] {
            for interner in [InternerChoice::DashMap, InternerChoice::Mutex] {
                let options = BuildOptions {
                    shuffle_seed: seed,
                    interner,
                    ..BuildOptions::parallel(threads)
                };
                let got = exports(&dir, &options);
                assert!(
                    got == reference,
                    "export differs with {threads} threads, shuffle seed {seed:?}, {interner:?}"
                );
            }
        }
    }
}

#[test]
fn byte_identical_in_another_folder() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for d in [a.path(), b.path().join("deeper/still").as_path()] {
        copy_dir(&own_crate(), d);
    }
    let ja = exports(a.path(), &BuildOptions::parallel(2));
    let jb = exports(&b.path().join("deeper/still"), &BuildOptions::parallel(8));
    assert!(ja == jb, "exports differ between folders");
    assert!(
        !ja.0.contains(&a.path().display().to_string()),
        "absolute path leaked"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        if rel.starts_with("target") {
            continue;
        }
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

#[test]
fn node_ids_are_unique_and_edges_point_at_nodes() {
    let g = build(&own_crate(), &BuildOptions::parallel(8)).unwrap();
    let mut ids: Vec<_> = g.nodes.iter().map(|n| n.id).collect();
    ids.sort();
    let total = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), total);
    for e in &g.edges {
        assert!(ids.binary_search(&e.from).is_ok(), "dangling {e:?}");
        assert!(ids.binary_search(&e.to).is_ok(), "dangling {e:?}");
    }
    // Every non-type, non-crate node hangs from a parent by exactly one structural edge.
    assert!(g.nodes_of(NodeKind::Function).count() > 10);
}

/// Type texts built from a small grammar, with whitespace sprinkled between tokens.
fn type_text() -> impl Strategy<Value = Vec<&'static str>> {
    let leaf = prop_oneof![
        Just(vec!["u8"]),
        Just(vec!["String"]),
        Just(vec!["&", "'a", "str"]),
        Just(vec!["Self"]),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(|t| [vec!["Vec", "<"], t, vec![">"]].concat()),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| [
                vec!["("],
                a,
                vec![","],
                b,
                vec![")"]
            ]
            .concat()),
            inner.clone().prop_map(|t| [vec!["&", "mut"], t].concat()),
            inner.prop_map(|t| [vec!["["], t, vec![";", "4", "]"]].concat()),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Law: normalisation ignores whitespace between tokens, and is idempotent.
    #[test]
    fn normalisation_ignores_whitespace(tokens in type_text(), gaps in prop::collection::vec(0usize..3, 64)) {
        let tight = tokens.join(" ");
        let mut loose = String::new();
        for (i, t) in tokens.iter().enumerate() {
            loose.push_str(t);
            loose.push_str(["", " ", "\n  "][gaps[i % gaps.len()]]);
            if t.starts_with('\'') || t.chars().all(|c| c.is_alphanumeric()) {
                loose.push(' ');
            }
        }
        let a = code_graph::normalize(&syn::parse_str::<syn::Type>(&tight).unwrap());
        let b = code_graph::normalize(&syn::parse_str::<syn::Type>(&loose).unwrap());
        prop_assert_eq!(&a, &b);
        let fast = code_graph::normalize_type(&syn::parse_str::<syn::Type>(&loose).unwrap());
        prop_assert_eq!(&a, &fast);
        let again = code_graph::normalize(&syn::parse_str::<syn::Type>(&a).unwrap());
        prop_assert_eq!(a, again);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Law: the graph does not depend on the order files are processed in.
    #[test]
    fn any_shuffle_gives_the_same_graph(seed in any::<u64>(), threads in 1usize..5) {
        let dir = own_crate();
        let reference = build(&dir, &BuildOptions::sequential()).unwrap();
        let options = BuildOptions { shuffle_seed: Some(seed), ..BuildOptions::parallel(threads) };
        let g = build(&dir, &options).unwrap();
        prop_assert!(g.nodes == reference.nodes && g.edges == reference.edges);
    }
}

#[test]
fn byte_identical_with_macro_modules_shared_files_and_pieces() {
    // A registry crate whose modules live in `cfg_if!` arms with `#[path]`
    // (parking_lot_core), and a crate with everything this build follows beyond plain
    // `mod`: wrappers, `cfg_attr` arms, `include!`, a fixed-body macro, a file shared by
    // two test targets, items in bodies, and a file large enough to be parsed in pieces.
    let mut big = String::new();
    for i in 0..6000 {
        big.push_str(&format!(
            "pub struct S{i};\nimpl S{i} {{ pub fn m(&self) {{ f{i}() }} }}\npub fn f{i}() {{ fn inner() {{}} inner() }}\n"
        ));
    }
    let fixture = crate::crate_dir(
        "det",
        &[
            (
                "src/lib.rs",
                "macro_rules! w { ($($i:item)*) => { $($i)* } }\nw! { mod a; }\n\
                 cfg_if::cfg_if! { if #[cfg(unix)] { mod u; } else { mod u2; } }\n\
                 #[cfg_attr(unix, path = \"x1.rs\")]\n#[cfg_attr(windows, path = \"x2.rs\")]\nmod x;\n\
                 include!(\"inc.rs\");\nmod big;\nmod mac;\nroot!();\n",
            ),
            ("src/a.rs", "pub fn a() { crate::b() }\n"),
            ("src/u.rs", "pub fn u() {}\n"),
            ("src/u2.rs", "pub fn u() {}\n"),
            ("src/x1.rs", "pub fn x() {}\n"),
            ("src/x2.rs", "pub fn x() {}\n"),
            ("src/inc.rs", "pub fn b() { a::a() }\n"),
            ("src/big.rs", &big),
            ("src/mac.rs", "macro_rules! root { () => { pub fn rooted() {} }; }\n"),
            ("tests/common/mod.rs", "pub fn c() {}\n"),
            ("tests/t1.rs", "mod common;\nfn t() { common::c() }\n"),
            ("tests/t2.rs", "mod common;\nfn t() { common::c() }\n"),
        ],
    );
    let registry = crate::real_crates::registry_crate("parking_lot_core-")
        .expect("parking_lot_core: not in the local cargo registry (run `cargo fetch`)");
    for dir in [fixture.path(), registry.as_path()] {
        let reference = exports(dir, &BuildOptions::sequential());
        for threads in [1, 2, 8] {
            for seed in [None, Some(7)] {
                let options = BuildOptions {
                    shuffle_seed: seed,
                    ..BuildOptions::parallel(threads)
                };
                assert!(
                    exports(dir, &options) == reference,
                    "{}: export differs with {threads} threads, shuffle seed {seed:?}",
                    dir.display()
                );
            }
        }
    }
}

#[test]
fn stepping_over_data_initialisers_gives_the_same_graph() {
    // A table, a const whose block declares an impl and a function (so it must be
    // parsed), a static with a call, and a large file cut into pieces.
    let mut big = String::new();
    for i in 0..3000 {
        big.push_str(&format!(
            "pub const T{i}: &[(char, char)] = &[('a', 'z'), ('\\u{{300}}', 'ʹ')];\npub fn f{i}() -> u8 {{ T{i}.len() as u8 }}\n"
        ));
    }
    let dir = crate::crate_dir(
        "data",
        &[
            (
                "src/lib.rs",
                "#![allow(dead_code)]\nmod big;\npub struct S;\n\
                 const _: () = { impl S { pub fn hidden(&self) -> u8 { helper() } } fn helper() -> u8 { 1 } };\n\
                 pub static N: usize = compute(3) + [1, 2][0];\nconst fn compute(x: usize) -> usize { x }\n\
                 pub const WHERE: u8 = 1;\n",
            ),
            ("src/big.rs", &big),
        ],
    );
    let skipped = exports(dir.path(), &BuildOptions::parallel(2));
    let parsed = exports(
        dir.path(),
        &BuildOptions {
            parse_data: true,
            ..BuildOptions::parallel(2)
        },
    );
    assert!(skipped == parsed, "the graphs differ");
    let g = build(dir.path(), &BuildOptions::sequential()).unwrap();
    assert!(g.nodes.iter().any(|n| n.name == "hidden"));
    assert!(g
        .nodes
        .iter()
        .any(|n| n.name == "T2999" && n.kind == NodeKind::Const));
}

#[test]
fn blanking_doc_comments_gives_the_same_graph() {
    // Doc comments of every form, in every place: on items, fields, variants, methods,
    // statements and macro bodies, a block doc with non-ASCII text before code on its
    // line, one inside a string, a large file cut into pieces, and a file whose parse
    // error comes after doc comments (its diagnostic must keep its line and column).
    let mut big = String::from("//! Big.\n");
    for i in 0..2000 {
        big.push_str(&format!(
            "/// Function {i}, see [`g{i}`].\n/** é {i} */ pub fn f{i}() -> u8 {{ /// in body\n let x = 1; g{i}(x) }}\n\
             #[doc = \"kept\"]\nfn g{i}(x: u8) -> u8 {{ x }}\n"
        ));
    }
    let dir = crate::crate_dir(
        "docs",
        &[
            (
                "src/lib.rs",
                "//! Crate docs with `code`.\n/*! Inner block. */\nmod big;\nmod broken;\n\
                 /// A struct.\npub struct S {\n    /// A field.\n    pub x: u8,\n}\n\
                 /// An enum.\npub enum E {\n    /// A variant.\n    A,\n}\n\
                 impl S {\n    /// A method.\n    pub fn m(&self) -> u8 { /// a statement\n let y = self.x; helper(y) }\n}\n\
                 /** Block doc ünïcode */ fn helper(y: u8) -> u8 { y }\n\
                 macro_rules! items { () => { /// Made.\n pub fn made() {} } }\nitems!();\n\
                 cfg_if::cfg_if! { if #[cfg(unix)] { /// Unix.\n pub fn unix() { helper(1); } } }\n\
                 pub const TEXT: &str = \"/// not a doc comment\";\n",
            ),
            ("src/big.rs", &big),
            (
                "src/broken.rs",
                "/// Doc.\npub fn ok() {}\n/** é é */ fn bad( { }\n",
            ),
        ],
    );
    let g = same_graph_without_the_shortcut(
        dir.path(),
        BuildOptions {
            parse_docs: true,
            ..BuildOptions::parallel(2)
        },
        &["made", "unix", "f1999", "m"],
    );
    let error = parse_error_of(&g, "src/broken.rs");
    assert_eq!(error.line, 3, "{error:?}");
}

#[test]
fn reading_bodies_without_syn_gives_the_same_graph() {
    // Bodies of every kind the reader covers and some it leaves to syn, in a large file
    // cut into pieces (line numbers after hollowed bodies must stay right), in item
    // macros, with items declared inside, and a file whose parse error comes after
    // hollowed bodies (its diagnostic must keep its line and column).
    let mut big = String::new();
    for i in 0..2000 {
        big.push_str(&format!(
            "pub struct T{i} {{ pub v: u8 }}\nimpl T{i} {{\n    pub fn get(&self) -> u8 {{ let x = self.v; helper{i}(x).max(1) }}\n}}\n\
             pub fn helper{i}(x: u8) -> u8 {{ match x {{ 0 => 1, n => n.wrapping_add({i} as u8) }} }} pub fn after{i}() {{}}\n"
        ));
    }
    let dir = crate::crate_dir(
        "bodies",
        &[
            (
                "src/lib.rs",
                "mod big;\nmod broken;\npub struct S { pub x: u8 }\n\
                 impl S {\n    pub fn m(&self) -> u8 { let y = self.x; helper(y) + self.n() }\n    fn n(&self) -> u8 { 1 }\n}\n\
                 fn helper(y: u8) -> u8 { fn inner() -> u8 { 2 } struct Local; inner() + y }\n\
                 fn left_to_syn() { #![allow(unused)] helper(3); }\n\
                 cfg_if::cfg_if! { if #[cfg(unix)] { pub fn unix() { helper(1); } } }\n\
                 macro_rules! wrap { ($($i:item)*) => { $($i)* } }\n\
                 wrap! { pub fn wrapped(s: &S) -> u8 { s.m() } }\n\
                 pub fn closures(v: Vec<S>) -> usize { v.iter().map(|s| s.m()).filter(|n| *n > 0).count() }\n",
            ),
            ("src/big.rs", &big),
            (
                "src/broken.rs",
                "pub fn ok() { ok() }\npub fn fine(x: u8) -> u8 { x + 1 }\nfn bad( { }\n",
            ),
        ],
    );
    let g = same_graph_without_the_shortcut(
        dir.path(),
        BuildOptions {
            parse_bodies: true,
            ..BuildOptions::parallel(2)
        },
        &["inner", "Local", "unix", "wrapped", "after1999"],
    );
    let calls = g.edges.iter().filter(|e| e.kind == EdgeKind::Calls).count();
    assert!(calls >= 2000, "only {calls} call edges");
    let error = parse_error_of(&g, "src/broken.rs");
    assert_eq!((error.line, error.column), (3, 7), "{error:?}");
}

/// Asserts that a build with a shortcut turned off (`without`) exports exactly what the
/// default build exports, and that the graph has nodes named `names`; returns the graph.
fn same_graph_without_the_shortcut(
    dir: &Path,
    without: BuildOptions,
    names: &[&str],
) -> code_graph::CodeGraph {
    let with = exports(dir, &BuildOptions::parallel(2));
    assert!(with == exports(dir, &without), "the graphs differ");
    let g = build(dir, &BuildOptions::sequential()).unwrap();
    for name in names {
        assert!(g.nodes.iter().any(|n| n.name == *name), "{name} missing");
    }
    g
}

/// The parse-error diagnostic of `file`.
fn parse_error_of<'g>(g: &'g code_graph::CodeGraph, file: &str) -> &'g code_graph::Diagnostic {
    g.diagnostics
        .iter()
        .find(|d| d.file == file)
        .unwrap_or_else(|| panic!("no parse error for {file}"))
}
