//! Real crates: this workspace, and crates from the local cargo registry, with counts
//! checked against an independent count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use code_graph::{build, to_json, BuildOptions, DiagnosticKind, NodeKind, TargetKind};
use syn::visit::Visit;

#[test]
fn this_workspace_parallel_equals_sequential() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The workspace may be edited while the test runs (other crates are worked on in
    // the same tree), and an edit between the two builds is a real difference in the
    // input. So a pair that differs is taken again, sequential then parallel; a graph
    // that depended on the thread count would differ every time.
    let mut attempts = 0;
    let seq = loop {
        attempts += 1;
        let seq = build(&root, &BuildOptions::sequential()).unwrap();
        let par = build(&root, &BuildOptions::parallel(4)).unwrap();
        let (a, b) = (to_json(&seq).unwrap(), to_json(&par).unwrap());
        if a == b {
            break seq;
        }
        assert!(
            attempts < 3,
            "parallel differs from sequential {attempts} times"
        );
    };
    assert!(seq.crates.iter().any(|c| c.name == "code_graph"));
    assert!(seq
        .find(NodeKind::Function, "code_graph::build::build")
        .is_some());
}

/// Counts items the plain way: every file under `src`, a syn visitor that does not
/// enter function bodies.
#[derive(Default)]
struct Counter(BTreeMap<&'static str, usize>);

impl<'ast> Visit<'ast> for Counter {
    fn visit_item_fn(&mut self, _: &'ast syn::ItemFn) {
        *self.0.entry("function").or_default() += 1;
    }
    fn visit_foreign_item_fn(&mut self, _: &'ast syn::ForeignItemFn) {
        *self.0.entry("function").or_default() += 1;
    }
    fn visit_impl_item_fn(&mut self, _: &'ast syn::ImplItemFn) {
        *self.0.entry("method").or_default() += 1;
    }
    fn visit_trait_item_fn(&mut self, _: &'ast syn::TraitItemFn) {
        *self.0.entry("method").or_default() += 1;
    }
    fn visit_item_struct(&mut self, _: &'ast syn::ItemStruct) {
        *self.0.entry("struct").or_default() += 1;
    }
    fn visit_item_enum(&mut self, _: &'ast syn::ItemEnum) {
        *self.0.entry("enum").or_default() += 1;
    }
    fn visit_item_trait(&mut self, i: &'ast syn::ItemTrait) {
        *self.0.entry("trait").or_default() += 1;
        syn::visit::visit_item_trait(self, i);
    }
    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        *self.0.entry("impl").or_default() += 1;
        syn::visit::visit_item_impl(self, i);
    }
    fn visit_item_mod(&mut self, i: &'ast syn::ItemMod) {
        *self.0.entry("module").or_default() += 1;
        syn::visit::visit_item_mod(self, i);
    }
}

fn registry_crate(prefix: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let src = home.join("registry/src");
    let mut found = Vec::new();
    for index in std::fs::read_dir(src).ok()?.flatten() {
        for c in std::fs::read_dir(index.path()).ok()?.flatten() {
            let name = c.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix)
                && name[prefix.len()..].starts_with(|ch: char| ch.is_ascii_digit())
            {
                found.push(c.path());
            }
        }
    }
    found.sort();
    found.pop()
}

fn check_against_independent_count(dir: &Path) {
    let g = build(dir, &BuildOptions::parallel(2)).unwrap();
    let errors: Vec<_> = g
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::ParseError)
        .collect();
    assert!(errors.is_empty(), "{}: {errors:?}", dir.display());
    let skipped: Vec<&str> = g
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::Unreachable)
        .map(|d| d.file.as_str())
        .collect();
    let mut counter = Counter::default();
    for entry in walkdir::WalkDir::new(dir.join("src")) {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if entry.path().extension().is_some_and(|x| x == "rs") && !skipped.contains(&rel.as_str()) {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            counter.visit_file(&syn::parse_file(&text).unwrap());
        }
    }
    // Only the library and binaries live under `src`; count their namespaces only (a
    // test target may mount a `src` file a second time through `#[path]`, as syn's do).
    let src_crates: Vec<&str> = g
        .crates
        .iter()
        .filter(|c| matches!(c.kind, TargetKind::Lib | TargetKind::Bin))
        .map(|c| c.name.as_str())
        .collect();
    let in_src = |n: &&code_graph::Node| {
        src_crates.contains(&&*n.krate) && n.file.as_deref().is_some_and(|f| f.starts_with("src/"))
    };
    for (kind, name) in [
        (NodeKind::Function, "function"),
        (NodeKind::Method, "method"),
        (NodeKind::Struct, "struct"),
        (NodeKind::Enum, "enum"),
        (NodeKind::Trait, "trait"),
        (NodeKind::Impl, "impl"),
        (NodeKind::Module, "module"),
    ] {
        let graph_count = g.nodes_of(kind).filter(in_src).count();
        let expected = counter.0.get(name).copied().unwrap_or(0);
        assert_eq!(graph_count, expected, "{}: {name}", dir.display());
    }
    eprintln!(
        "{}: {} files, {} nodes, {} edges, counts agree",
        dir.display(),
        g.metrics.files,
        g.nodes.len(),
        g.edges.len()
    );
}

#[test]
fn registry_crates_parse_and_counts_agree() {
    let mut checked = 0;
    for name in [
        "serde_core-",
        "rayon-",
        "walkdir-",
        "thiserror-",
        "syn-",
        "regex-syntax-",
    ] {
        match registry_crate(name) {
            Some(dir) => {
                check_against_independent_count(&dir);
                checked += 1;
            }
            None => eprintln!("{name}: not in the local cargo registry; run `cargo fetch`"),
        }
    }
    eprintln!("{checked} registry crate(s) checked");
}
