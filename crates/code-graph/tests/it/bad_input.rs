//! Bad input gets a clear message, never a panic or a hang.

use code_graph::{build, BuildOptions, CodeGraphError, DiagnosticKind, NodeKind};

use crate::{crate_dir, write_tree};

#[test]
fn unparsable_file_is_reported_with_line_and_column_and_skipped() {
    let dir = crate_dir(
        "broken",
        &[
            ("src/lib.rs", "mod bad;\nmod good;\n"),
            ("src/bad.rs", "pub fn ok() {}\n\nfn broken( {\n"),
            ("src/good.rs", "pub fn fine() {}\n"),
        ],
    );
    for options in [BuildOptions::sequential(), BuildOptions::parallel(2)] {
        let g = build(dir.path(), &options).unwrap();
        let d = g
            .diagnostics
            .iter()
            .find(|d| d.kind == DiagnosticKind::ParseError)
            .expect("a parse error");
        assert_eq!(d.file, "src/bad.rs");
        assert!(d.line >= 3, "{d}");
        assert!(d.column > 0, "{d}");
        assert!(d.to_string().starts_with("src/bad.rs:"), "{d}");
        assert!(g.find(NodeKind::Function, "broken::good::fine").is_some());
        assert!(g.find(NodeKind::Module, "broken::bad").is_some());
        assert_eq!(g.metrics.parse_errors, 1);
    }
}

#[test]
fn missing_module_file_is_reported() {
    let dir = crate_dir("missing", &[("src/lib.rs", "pub fn a() {}\n\nmod gone;\n")]);
    let g = build(dir.path(), &BuildOptions::parallel(2)).unwrap();
    let d = g
        .diagnostics
        .iter()
        .find(|d| d.kind == DiagnosticKind::MissingModule)
        .unwrap();
    assert_eq!((d.file.as_str(), d.line), ("src/lib.rs", 3));
    assert!(d.message.contains("src/gone.rs"), "{d}");
    assert!(d.message.contains("src/gone/mod.rs"), "{d}");
    assert!(g.find(NodeKind::Function, "missing::a").is_some());
}

#[test]
fn path_cycle_is_reported_not_followed_forever() {
    let dir = crate_dir(
        "cyclic",
        &[
            ("src/lib.rs", "#[path = \"a.rs\"]\nmod a;\n"),
            ("src/a.rs", "pub fn in_a() {}\n#[path = \"b.rs\"]\nmod b;\n"),
            ("src/b.rs", "#[path = \"a.rs\"]\nmod again;\n"),
        ],
    );
    let g = build(dir.path(), &BuildOptions::parallel(2)).unwrap();
    let d = g
        .diagnostics
        .iter()
        .find(|d| d.kind == DiagnosticKind::ModuleCycle)
        .unwrap();
    assert_eq!(d.file, "src/b.rs");
    assert!(
        d.message.contains("src/a.rs -> src/b.rs -> src/a.rs"),
        "{d}"
    );
    assert!(g.find(NodeKind::Function, "cyclic::a::in_a").is_some());
}

#[test]
fn non_utf8_file_is_reported() {
    let dir = crate_dir("latin", &[("src/lib.rs", "mod l1;\npub fn ok() {}\n")]);
    std::fs::write(dir.path().join("src/l1.rs"), b"// caf\xe9\nfn x() {}\n").unwrap();
    let g = build(dir.path(), &BuildOptions::sequential()).unwrap();
    let d = g
        .diagnostics
        .iter()
        .find(|d| d.kind == DiagnosticKind::NotUtf8)
        .unwrap();
    assert_eq!((d.file.as_str(), d.line), ("src/l1.rs", 1));
    assert!(g.find(NodeKind::Function, "latin::ok").is_some());
}

#[test]
fn empty_directory_missing_path_and_targetless_crate_are_errors() {
    let empty = tempfile::tempdir().unwrap();
    let e = build(empty.path(), &BuildOptions::default()).unwrap_err();
    assert!(matches!(e, CodeGraphError::NoManifest { .. }), "{e}");
    assert!(e.to_string().contains("no Cargo.toml"), "{e}");

    let e = build(&empty.path().join("nope"), &BuildOptions::default()).unwrap_err();
    assert!(matches!(e, CodeGraphError::Io { .. }), "{e}");

    let bare = crate_dir("bare", &[]);
    let e = build(bare.path(), &BuildOptions::default()).unwrap_err();
    assert!(matches!(e, CodeGraphError::NoTargets { .. }), "{e}");
}

#[test]
fn unreadable_manifest_is_reported_and_the_layout_used() {
    let bad = tempfile::tempdir().unwrap();
    write_tree(
        bad.path(),
        &[
            ("Cargo.toml", "[package\nname = \"x\"\n"),
            ("src/lib.rs", "pub fn f() {}\n"),
        ],
    );
    let g = build(bad.path(), &BuildOptions::default()).unwrap();
    let d: Vec<_> = g
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::Manifest)
        .collect();
    assert_eq!(d.len(), 1, "{:?}", g.diagnostics);
    assert_eq!(d[0].file, "Cargo.toml");
    assert!(d[0].message.contains("line 1"), "{}", d[0].message);
    // Named after the directory, built from `src/lib.rs`.
    assert_eq!(g.crates.len(), 1);
    assert!(g.nodes_of(NodeKind::Function).any(|n| n.name == "f"));
}

#[test]
fn manifests_that_the_old_reader_rejected_are_read() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\n  \"crates/*\",\n]\n[workspace.metadata]\nx = { a = [\n 1,\n 2 ] }\n",
            ),
            (
                "crates/one/Cargo.toml",
                "[package]\nname = \"one\"\ndescription = \"\"\"\nmulti\nline\"\"\"\n[[example]]\nname = \"demo\"\n",
            ),
            ("crates/one/src/lib.rs", "pub fn lib_fn() {}\n"),
            ("crates/one/examples/demo/main.rs", "fn main() {}\n"),
        ],
    );
    let g = build(dir.path(), &BuildOptions::default()).unwrap();
    let names: Vec<_> = g.crates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["one", "one[example:demo]"]);
    assert!(g.diagnostics.is_empty(), "{:?}", g.diagnostics);
}

#[test]
fn ambiguous_module_layout_is_reported() {
    let dir = crate_dir(
        "amb",
        &[
            ("src/lib.rs", "mod m;\n"),
            ("src/m.rs", "pub fn from_file() {}\n"),
            ("src/m/mod.rs", "pub fn from_dir() {}\n"),
        ],
    );
    let g = build(dir.path(), &BuildOptions::sequential()).unwrap();
    assert!(g
        .diagnostics
        .iter()
        .any(|d| d.kind == DiagnosticKind::AmbiguousModule));
    assert!(g.find(NodeKind::Function, "amb::m::from_file").is_some());
}

#[test]
fn glob_import_cycles_do_not_hang_resolution() {
    let src = "pub mod a { pub use super::b::*; pub fn in_a() {} }\n\
               pub mod b { pub use super::a::*; pub fn in_b() { missing(); in_a(); } }\n\
               use self::a::*;\nuse self::b::*;\npub fn top() { nowhere::deeper(); in_b(); }\n";
    let dir = crate_dir("globs", &[("src/lib.rs", src)]);
    let g = build(dir.path(), &BuildOptions::parallel(2)).unwrap();
    let id = |p: &str| g.find(NodeKind::Function, p).unwrap().id;
    use code_graph::EdgeKind::Calls;
    assert!(g.has_edge(id("globs::b::in_b"), Calls, id("globs::a::in_a")));
    assert!(g.has_edge(id("globs::top"), Calls, id("globs::b::in_b")));
    assert_eq!(g.metrics.calls_unresolved, 2);
}

#[test]
fn a_file_nested_too_deeply_is_a_per_file_error() {
    // 100,000 nested parentheses once aborted the process with a stack overflow.
    let n = 100_000;
    let deep = format!(
        "pub fn f() -> u8 {{ {}1{} }}\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    let chain = format!("pub fn g() -> i32 {{ {}1 }}\n", "-".repeat(n));
    let elses = format!(
        "pub fn h(a: bool) {{ if a {{}} {} }}\n",
        "else if a {} ".repeat(n)
    );
    let dir = crate_dir(
        "deep",
        &[
            ("src/lib.rs", "pub fn fine() {}\nmod a;\nmod b;\nmod c;\n"),
            ("src/a.rs", &deep),
            ("src/b.rs", &chain),
            ("src/c.rs", &elses),
        ],
    );
    for options in [BuildOptions::sequential(), BuildOptions::parallel(2)] {
        let g = build(dir.path(), &options).unwrap();
        assert!(g.find(NodeKind::Function, "deep::fine").is_some());
        let errors: Vec<_> = g
            .diagnostics
            .iter()
            .filter(|d| d.kind == DiagnosticKind::ParseError)
            .map(|d| (d.file.as_str(), d.message.contains("nested too deeply")))
            .collect();
        assert_eq!(
            errors,
            [("src/a.rs", true), ("src/b.rs", true), ("src/c.rs", true)]
        );
    }
}

#[test]
fn a_large_file_is_parsed_in_pieces_with_the_right_lines() {
    // Over the size from which files are cut into pieces; some top-level `}` are not
    // item ends (`{ 1 } + 1`), and one piece boundary falls inside a raw string.
    let mut src = String::new();
    let mut n = 0;
    while src.len() < 600_000 {
        src.push_str(&format!(
            "/// Doc {n}.\npub struct S{n} {{ pub a: u8 }}\npub const C{n}: u8 = {{ 1 }} + 1;\n\
             pub fn f{n}() -> &'static str {{ g(); r#\"}} fn not_an_item() {{\"# }}\n"
        ));
        n += 1;
    }
    src.push_str("fn g() {}\npub fn last() {}\n");
    let lines = src.lines().count() as u32;
    let dir = crate_dir("big", &[("src/lib.rs", &src)]);
    let g = build(dir.path(), &BuildOptions::parallel(2)).unwrap();
    assert_eq!(g.metrics.parse_errors, 0, "{:?}", g.diagnostics);
    assert_eq!(g.nodes_of(NodeKind::Struct).count(), n);
    assert_eq!(g.nodes_of(NodeKind::Const).count(), n);
    assert!(g.find(NodeKind::Function, "big::not_an_item").is_none());
    assert_eq!(g.find(NodeKind::Function, "big::last").unwrap().line, lines);
    let s = g
        .find(NodeKind::Struct, &format!("big::S{}", n - 1))
        .unwrap();
    assert_eq!(s.line, lines - 4);
    assert_eq!(g.metrics.calls_resolved, n as u64);
}
