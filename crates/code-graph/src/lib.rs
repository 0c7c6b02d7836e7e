//! A code graph of Rust source, built in parallel with `syn` and rayon, with stable IDs
//! and byte-identical output for the same source.
//!
//! Give it a crate directory or a Cargo workspace. It reads the `Cargo.toml` targets
//! (library, binaries, tests, examples, benches; one namespace per target), follows each
//! module tree from its root file through `mod` declarations (inline modules, `#[path]`,
//! `mod.rs` and `name.rs` layouts), parses every file on a rayon pool (item headers with
//! `syn`; function bodies with a reader of its own where it covers their syntax, checked
//! to give exactly the facts syn's trees give), and
//! builds a graph of modules, functions, methods, structs, enums, variants, unions,
//! traits, impls, type aliases, consts, statics, `macro_rules!` macros, `use` imports,
//! fields and interned type nodes, related by `contains`, `defines`, `implements`,
//! `impl-for`, `field-of`, `variant-of`, `has-param`, `returns`, `uses-type`, `imports`
//! and `calls`.
//!
//! Every node ID is a fixed-seed hash of (crate, module path, kind, name, ordinal among
//! same-key siblings), and every list in the output is sorted, so the JSON and DOT
//! exports are byte-identical for 1 or 8 threads, any file order, and any checkout
//! folder. Problems confined to a file (a parse error, a missing module file, a `#[path]`
//! cycle, a non-UTF-8 file, a file no module tree reaches) are reported as
//! [`Diagnostic`]s and the rest of the graph is still built.
//!
//! Modules declared inside macro invocations whose tokens are items (`cfg_if!`,
//! `cfg_rt! { mod x; }`), `include!` files, every `cfg_attr` path arm, and the expansion
//! of a crate's fixed-body `macro_rules!` invoked as `name!()` are followed; items in
//! function bodies are children of their function; a file shared by several targets
//! exists once. Manifests are read with the `toml` crate; one that cannot be read is a
//! diagnostic and the directory layout is used.
//!
//! What it deliberately does not do: expand other macros (invocations it cannot read
//! as items are counted in [`ParseMetrics`]), evaluate `cfg` (attributes are recorded on
//! nodes, and every `cfg` branch is in the graph), or infer types: a call is linked
//! when its callee path resolves by the crate's own items and `use`s (`Self::f`,
//! `self.f()`, `crate::a::f`, imported names, other workspace libraries), or when a
//! method name names exactly one method of the graph; other calls are counted as
//! ambiguous or unresolved.
//!
//! ```
//! use code_graph::{build, to_json, BuildOptions, EdgeKind, NodeKind};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir(dir.path().join("src"))?;
//! std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"demo\"\n")?;
//! std::fs::write(
//!     dir.path().join("src/lib.rs"),
//!     "pub struct Point { pub x: i32 }\npub fn origin() -> Point { make() }\nfn make() -> Point { Point { x: 0 } }\n",
//! )?;
//!
//! let graph = build(dir.path(), &BuildOptions::parallel(2))?;
//! let origin = graph.find(NodeKind::Function, "demo::origin").unwrap();
//! let make = graph.find(NodeKind::Function, "demo::make").unwrap();
//! assert!(graph.has_edge(origin.id, EdgeKind::Calls, make.id));
//!
//! // The same source gives the same bytes, sequentially or in parallel.
//! let sequential = build(dir.path(), &BuildOptions::sequential())?;
//! assert_eq!(to_json(&graph)?, to_json(&sequential)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Feature flags
//!
//! - `tools` (default): the `code-graph` binary and its dependencies (clap,
//!   indicatif, and mimalloc, the binary's allocator). The library needs none of them
//!   and never sets a global allocator.
//!
//! The seed's "before" (a sequential visitor with a plain `HashMap` interner) and its
//! concurrent design (rayon, atomic counters, a `DashMap` interner) are both always
//! compiled and chosen at run time with [`BuildOptions`] ([`BuildMode`],
//! [`InternerChoice`]), so one benchmark process measures both. The seed's atomic-counter
//! IDs survive as [`SeedIdAllocator`] for comparison; the graph never uses them because
//! they change from run to run.
#![deny(missing_docs)]

#[cfg(feature = "tools")]
#[doc(hidden)]
pub mod alloc;
mod body;
mod build;
mod docs;
mod error;
mod export;
mod extract;
mod fasthash;
mod hollow;
pub mod id;
mod interner;
mod items;
mod lex;
mod manifest;
mod model;
mod normalize;
mod scan;
mod sync;

pub use build::{build, BuildMode, BuildOptions, InternerChoice, Progress, ProgressFn};
pub use error::{CodeGraphError, Diagnostic, DiagnosticKind};
pub use export::{
    filter, summary, to_dot, to_json, write_compact, write_json, write_node_link, Filter,
    SCHEMA_VERSION,
};
pub use id::{NodeId, SeedIdAllocator};
pub use interner::{DashMapInterner, LocalInterner, MutexInterner, TypeInterner};
pub use model::{
    CodeGraph, CrateInfo, Edge, EdgeKind, Node, NodeKind, ParseMetrics, PhaseTimes, TargetKind,
};
pub use normalize::{normalize, normalize_tokens, normalize_type};

/// Parses `source` as a Rust file and extracts its items without building a graph: the
/// per-file work of a build, exposed for benchmarks (compare with bare
/// `syn::parse_file`). Returns the number of items found, or the parse error's
/// `(line, column, message)`.
pub fn extract_only(
    source: &str,
    interner: &dyn TypeInterner,
) -> Result<usize, (u32, u32, String)> {
    fn count(items: &[extract::ItemFact]) -> usize {
        items.iter().map(|i| 1 + count(&i.children)).sum()
    }
    extract::extract_file(source, interner)
        .map(|f| count(&f.items))
        .map_err(|e| (e.line, e.column, e.message))
}

/// Whether the facts extracted from `source` are the same with the brace-free
/// initialisers of its top-level consts and statics stepped over (what a build does) as
/// with the whole file parsed by `syn::parse_file`: `None` when they are, or when
/// neither parses; otherwise a description of the first difference. For differential
/// checks over many real files (tests, benchmarks).
#[doc(hidden)]
pub fn check_data_skip(source: &str) -> Option<String> {
    let none = extract::Shortcuts {
        skip_data: false,
        blank_docs: false,
        hollow_bodies: false,
    };
    let fast = extract::Shortcuts {
        skip_data: true,
        ..none
    };
    compare_facts(source, fast, none, false)
}

/// Whether the facts extracted from `source` are the same with its doc comments blanked
/// out before tokenising (what a build does) as with them tokenised and parsed as
/// `#[doc]` attributes, and a file that fails fails at the same line and column with
/// the same message: `None` when so, otherwise a description of the first difference.
/// For differential checks over many real files.
#[doc(hidden)]
pub fn check_doc_blanking(source: &str) -> Option<String> {
    let fast = extract::Shortcuts::ALL;
    let full = extract::Shortcuts {
        blank_docs: false,
        ..fast
    };
    compare_facts(source, fast, full, true)
}

/// `None` when the facts of `source` are the same with the shortcuts `fast` as with
/// `full`; with `errors_too`, so must be the parse errors.
fn compare_facts(
    source: &str,
    fast: extract::Shortcuts,
    full: extract::Shortcuts,
    errors_too: bool,
) -> Option<String> {
    let interner = LocalInterner::new();
    let fast = extract::extract_file_with(source, &interner, fast);
    let full = extract::extract_file_with(source, &interner, full);
    match (fast, full) {
        (Ok(a), Ok(b)) => {
            let (a, b) = (format!("{a:?}"), format!("{b:?}"));
            (a != b).then(|| {
                let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
                let from = at.saturating_sub(80);
                format!(
                    "facts differ at byte {at}: with the shortcut {:?} / without {:?}",
                    a.get(from..(at + 80).min(a.len())).unwrap_or(""),
                    b.get(from..(at + 80).min(b.len())).unwrap_or("")
                )
            })
        }
        (Err(a), Err(b)) => (errors_too
            && (a.line, a.column, &a.message) != (b.line, b.column, &b.message))
            .then(|| {
                format!(
                    "errors differ: with the shortcut {}:{} {} / without {}:{} {}",
                    a.line, a.column, a.message, b.line, b.column, b.message
                )
            }),
        (Ok(_), Err(e)) => Some(format!("only the full parse fails: {}", e.message)),
        (Err(e), Ok(_)) => Some(format!(
            "only the parse with the shortcut fails: {}",
            e.message
        )),
    }
}

/// Whether the facts extracted from `source` are the same with the function bodies that
/// the body reader covers read without syn (what a build does) as with every body
/// parsed by syn, and a file that fails fails the same way: `None` when so, otherwise
/// a description of the first difference. For differential checks over many real
/// files.
#[doc(hidden)]
pub fn check_body_shortcut(source: &str) -> Option<String> {
    let fast = extract::Shortcuts::ALL;
    let full = extract::Shortcuts {
        hollow_bodies: false,
        ..fast
    };
    compare_facts(source, fast, full, true)
}

/// How many of the function bodies in `source` the body reader covers, and how many it
/// leaves to syn (for the registry differential example).
#[doc(hidden)]
pub fn body_coverage(source: &str) -> (usize, usize) {
    hollow::coverage(source)
}

/// Bare `syn::parse_file` of `source`, the baseline [`extract_only`] and a whole build
/// are measured against. Returns the number of top-level items. Like the build, it
/// releases the thread's span table afterwards, so repeated calls do not grow memory.
pub fn parse_only(source: &str) -> Result<usize, (u32, u32, String)> {
    let result = syn::parse_file(source).map(|f| f.items.len()).map_err(|e| {
        let start = e.span().start();
        (start.line as u32, start.column as u32 + 1, e.to_string())
    });
    proc_macro2::extra::invalidate_current_thread_spans();
    result
}
