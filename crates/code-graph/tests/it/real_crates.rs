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

/// Counts items the plain way: every file under `src`, a syn visitor that enters
/// function bodies, macro invocations whose tokens parse as items (for `cfg_if!`, the
/// items of each brace-delimited arm), and the `() => { ... }` arm of a `macro_rules!`.
#[derive(Default)]
struct Counter {
    counts: BTreeMap<&'static str, usize>,
    /// Macros invoked at item position: name -> (invocations as `name!()`, invocations
    /// with arguments that are not items).
    invoked: BTreeMap<String, (usize, usize)>,
    /// The same for the file being visited only: a one-arm macro is taken to be
    /// invoked in the file defining it (serde_core's `de` and `ser` each define and
    /// invoke their own `declare_error_trait!`).
    local: BTreeMap<String, (usize, usize)>,
}

#[derive(Default)]
struct Invoked(BTreeMap<String, (usize, usize)>);

impl<'ast> Visit<'ast> for Invoked {
    fn visit_item_macro(&mut self, i: &'ast syn::ItemMacro) {
        // `name!()`, or `name!(tokens)` whose tokens are not items.
        let tokens_are_items = syn::parse::Parser::parse2(
            |input: syn::parse::ParseStream<'_>| {
                let mut v: Vec<syn::Item> = Vec::new();
                while !input.is_empty() {
                    v.push(input.parse()?);
                }
                Ok(v)
            },
            i.mac.tokens.clone(),
        )
        .is_ok_and(|v| !v.is_empty());
        if i.ident.is_none() && (i.mac.tokens.is_empty() || !tokens_are_items) {
            if let Some(s) = i.mac.path.segments.last() {
                if s.ident != "include" && s.ident != "cfg_if" {
                    let e = self.0.entry(s.ident.to_string()).or_default();
                    if i.mac.tokens.is_empty() {
                        e.0 += 1;
                    } else {
                        e.1 += 1;
                    }
                }
            }
        }
    }
}

/// A macro body with its `$( ... ) sep? op` repetitions dropped and `$crate` as
/// `crate`, or `None` if another `$` is left.
fn drop_repetitions(tokens: proc_macro2::TokenStream) -> Option<proc_macro2::TokenStream> {
    use proc_macro2::TokenTree;
    let mut out: Vec<TokenTree> = Vec::new();
    let mut it = tokens.into_iter().peekable();
    while let Some(t) = it.next() {
        match t {
            TokenTree::Punct(p) if p.as_char() == '$' => match it.next() {
                Some(TokenTree::Group(_)) => {
                    // Separator (optional), then `*`, `+` or `?`.
                    let op = |t: &TokenTree| matches!(t, TokenTree::Punct(p) if "*+?".contains(p.as_char()));
                    let first = it.next()?;
                    if !op(&first) && !op(&it.next()?) {
                        return None;
                    }
                }
                Some(TokenTree::Ident(i)) if i == "crate" => {
                    out.push(TokenTree::Ident(proc_macro2::Ident::new("crate", i.span())));
                }
                _ => return None,
            },
            TokenTree::Group(g) => {
                let inner = drop_repetitions(g.stream())?;
                out.push(TokenTree::Group(proc_macro2::Group::new(
                    g.delimiter(),
                    inner,
                )));
            }
            other => out.push(other),
        }
    }
    Some(out.into_iter().collect())
}

impl Counter {
    fn bump(&mut self, kind: &'static str) {
        *self.counts.entry(kind).or_default() += 1;
    }

    fn items_of(&mut self, tokens: proc_macro2::TokenStream) -> bool {
        let parser = |input: syn::parse::ParseStream<'_>| {
            let mut v: Vec<syn::Item> = Vec::new();
            while !input.is_empty() {
                v.push(input.parse()?);
            }
            Ok(v)
        };
        match syn::parse::Parser::parse2(parser, tokens) {
            Ok(items) if !items.is_empty() => {
                for i in &items {
                    self.visit_item(i);
                }
                true
            }
            _ => false,
        }
    }

    fn macro_items(&mut self, mac: &syn::Macro) {
        if mac.path.is_ident("cfg_if") {
            for tt in mac.tokens.clone() {
                if let proc_macro2::TokenTree::Group(g) = tt {
                    if g.delimiter() == proc_macro2::Delimiter::Brace {
                        self.items_of(g.stream());
                    }
                }
            }
        } else {
            self.items_of(mac.tokens.clone());
        }
    }
}

fn are_exprs(tokens: proc_macro2::TokenStream) -> bool {
    let parser = |input: syn::parse::ParseStream<'_>| {
        while !input.is_empty() {
            input.parse::<syn::Expr>()?;
            if input.is_empty() {
                break;
            }
            if input.peek(syn::Token![;]) {
                input.parse::<syn::Token![;]>()?;
            } else {
                input.parse::<syn::Token![,]>()?;
            }
        }
        Ok(())
    };
    syn::parse::Parser::parse2(parser, tokens).is_ok()
}

impl<'ast> Visit<'ast> for Counter {
    fn visit_item_fn(&mut self, i: &'ast syn::ItemFn) {
        self.bump("function");
        syn::visit::visit_item_fn(self, i);
    }
    fn visit_foreign_item_fn(&mut self, _: &'ast syn::ForeignItemFn) {
        self.bump("function");
    }
    fn visit_impl_item_fn(&mut self, i: &'ast syn::ImplItemFn) {
        self.bump("method");
        syn::visit::visit_impl_item_fn(self, i);
    }
    fn visit_trait_item_fn(&mut self, i: &'ast syn::TraitItemFn) {
        self.bump("method");
        syn::visit::visit_trait_item_fn(self, i);
    }
    fn visit_item_struct(&mut self, _: &'ast syn::ItemStruct) {
        self.bump("struct");
    }
    fn visit_item_enum(&mut self, _: &'ast syn::ItemEnum) {
        self.bump("enum");
    }
    fn visit_item_trait(&mut self, i: &'ast syn::ItemTrait) {
        self.bump("trait");
        syn::visit::visit_item_trait(self, i);
    }
    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        self.bump("impl");
        syn::visit::visit_item_impl(self, i);
    }
    fn visit_item_mod(&mut self, i: &'ast syn::ItemMod) {
        self.bump("module");
        syn::visit::visit_item_mod(self, i);
    }
    fn visit_item_macro(&mut self, i: &'ast syn::ItemMacro) {
        if i.ident.is_none() {
            self.macro_items(&i.mac);
            return;
        }
        // A `macro_rules!` with a `() => { ... }` arm: its items once per `name!()`
        // (serde_core defines `crate_root!` so and invokes it once).
        let Some(&(empty, _)) = i
            .ident
            .as_ref()
            .and_then(|n| self.invoked.get(&n.to_string()))
        else {
            return;
        };
        let tokens: Vec<proc_macro2::TokenTree> = i.mac.tokens.clone().into_iter().collect();
        let mut arms = Vec::new();
        for w in tokens.windows(4) {
            if let (proc_macro2::TokenTree::Group(m), proc_macro2::TokenTree::Group(body)) =
                (&w[0], &w[3])
            {
                if matches!(&w[1], proc_macro2::TokenTree::Punct(p) if p.as_char() == '=') {
                    if m.stream().is_empty() {
                        for _ in 0..empty {
                            self.items_of(body.stream());
                        }
                        return;
                    }
                    arms.push(body.stream());
                }
            }
        }
        // One arm whose expansion needs no metavariable outside repetitions: its items
        // with the repetitions left out, once per invocation (serde's
        // `declare_error_trait!`, invoked once for std and once without).
        let (empty, with_args) = i
            .ident
            .as_ref()
            .and_then(|n| self.local.get(&n.to_string()))
            .copied()
            .unwrap_or_default();
        if let [body] = &arms[..] {
            if let Some(b) = drop_repetitions(body.clone()) {
                for _ in 0..empty + with_args {
                    self.items_of(b.clone());
                }
            }
        }
    }
    fn visit_stmt_macro(&mut self, s: &'ast syn::StmtMacro) {
        if !are_exprs(s.mac.tokens.clone()) {
            self.macro_items(&s.mac);
        }
    }
    fn visit_impl_item_macro(&mut self, i: &'ast syn::ImplItemMacro) {
        let parser = |input: syn::parse::ParseStream<'_>| {
            let mut v: Vec<syn::ImplItem> = Vec::new();
            while !input.is_empty() {
                v.push(input.parse()?);
            }
            Ok(v)
        };
        if let Ok(items) = syn::parse::Parser::parse2(parser, i.mac.tokens.clone()) {
            for ii in &items {
                self.visit_impl_item(ii);
            }
        }
    }
}

pub(crate) fn registry_crate(prefix: &str) -> Option<PathBuf> {
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
    let mut files = Vec::new();
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
            files.push(syn::parse_file(&text).unwrap());
        }
    }
    // First pass: the macros invoked as `name!()` at item position.
    let mut invoked = Invoked::default();
    for f in &files {
        invoked.visit_file(f);
    }
    let mut counter = Counter {
        invoked: invoked.0,
        ..Counter::default()
    };
    for f in &files {
        let mut local = Invoked::default();
        local.visit_file(f);
        counter.local = local.0;
        counter.visit_file(f);
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
        let expected = counter.counts.get(name).copied().unwrap_or(0);
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
    // These are dependencies of this workspace, so `cargo test` has put them in the
    // registry; a missing one means the check did not run, which is a failure.
    for name in [
        "serde_core-",
        "rayon-",
        "walkdir-",
        "thiserror-",
        "syn-",
        "regex-syntax-",
    ] {
        let dir = registry_crate(name).unwrap_or_else(|| {
            panic!("{name}: not in the local cargo registry (run `cargo fetch`)")
        });
        check_against_independent_count(&dir);
    }
}

#[test]
fn registry_crates_with_macro_declared_modules_are_reached() {
    // parking_lot_core (under parking_lot, a dependency of this crate) declares its
    // platform modules inside `cfg_if!`, each with `#[path]`; serde_core (under serde)
    // declares its whole public tree inside `crate_root!()`.
    let dir = registry_crate("parking_lot_core-")
        .expect("parking_lot_core: not in the local cargo registry (run `cargo fetch`)");
    let g = build(&dir, &BuildOptions::parallel(2)).unwrap();
    let imps = g
        .nodes_of(NodeKind::Module)
        .filter(|n| n.path == "parking_lot_core::thread_parker::imp")
        .count();
    assert!(imps >= 5, "{imps} `imp` modules");
    let unreachable: Vec<_> = g
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::Unreachable)
        .collect();
    assert!(unreachable.is_empty(), "{unreachable:?}");
    assert!(g
        .find(
            NodeKind::Struct,
            "parking_lot_core::thread_parker::imp::ThreadParker"
        )
        .is_some());

    let dir = registry_crate("serde_core-")
        .expect("serde_core: not in the local cargo registry (run `cargo fetch`)");
    let g = build(&dir, &BuildOptions::parallel(2)).unwrap();
    for (kind, path) in [
        (NodeKind::Trait, "serde_core::de::Deserializer"),
        (NodeKind::Trait, "serde_core::ser::Serializer"),
        (NodeKind::Module, "serde_core::private"),
    ] {
        assert!(g.find(kind, path).is_some(), "{path}");
    }
    assert_eq!(g.metrics.unreachable_files, 0, "{:?}", g.diagnostics);
}

/// The `.rs` files directly in each `(crate name prefix, subdirectory)` of the local
/// registry, in a fixed order; a crate missing from the registry fails the test.
fn registry_sources(dirs: &[(&str, &str)]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for (name, sub) in dirs {
        let dir = registry_crate(name)
            .unwrap_or_else(|| {
                panic!("{name}: not in the local cargo registry (run `cargo fetch`)")
            })
            .join(sub);
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// Runs a differential check on a thread with a large stack (a debug build of syn
/// recurses deeply on some registry files).
fn on_a_big_stack<T: Send>(check: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(s, check)
            .unwrap()
            .join()
            .unwrap()
    })
}

#[test]
fn skipping_data_initialisers_changes_no_fact_on_registry_files() {
    // The build steps over brace-free `const`/`static` initialisers instead of parsing
    // them; the facts must equal those of a full parse. regex-syntax (a dependency of
    // this workspace) has the generated tables this is for; syn and serde_core have
    // consts of every other shape. (The whole registry is checked by the
    // `shortcut_check` example in a release build.)
    let files = registry_sources(&[
        ("regex-syntax-", "src/unicode_tables"),
        ("regex-syntax-", "src/hir"),
        ("syn-", "src"),
        ("serde_core-", "src"),
    ]);
    let mut checked = 0;
    let mut skipped_some = 0;
    for f in &files {
        let source = std::fs::read_to_string(f).unwrap();
        // Only files with a top-level data item exercise the shortcut; the others are
        // parsed the same way by construction.
        if !source.lines().any(|l| {
            let l = l
                .trim_start_matches("pub ")
                .trim_start_matches("pub(crate) ");
            l.starts_with("const ") || l.starts_with("static ")
        }) {
            continue;
        }
        skipped_some += 1;
        let diff = on_a_big_stack(|| code_graph::check_data_skip(&source));
        assert_eq!(diff, None, "{}", f.display());
        checked += 1;
    }
    assert!(
        skipped_some >= 15,
        "only {skipped_some} files with data items"
    );
    assert_eq!(checked, skipped_some);
}

#[test]
fn blanking_doc_comments_changes_no_fact_on_registry_files() {
    // The build blanks doc comments out before tokenising; the facts (and any parse
    // error) must equal those with the comments tokenised as `#[doc]` attributes. syn
    // and serde_core are documented throughout, with doc comments on items, fields,
    // variants, statements and inside macros. (The whole registry is checked by the
    // `shortcut_check` example in a release build.)
    let files = registry_sources(&[
        ("syn-", "src"),
        ("serde_core-", "src"),
        ("regex-syntax-", "src/hir"),
    ]);
    let mut documented = 0;
    for f in &files {
        let source = std::fs::read_to_string(f).unwrap();
        if source.contains("///") || source.contains("//!") {
            documented += 1;
        }
        let diff = on_a_big_stack(|| code_graph::check_doc_blanking(&source));
        assert_eq!(diff, None, "{}", f.display());
    }
    assert!(documented >= 40, "only {documented} documented files");
}

#[test]
fn reading_bodies_without_syn_changes_no_fact_on_registry_files() {
    // The build reads the function bodies its body reader covers without syn (the
    // bodies hollowed out of the text syn parses); the facts (and any parse error) must
    // equal those with every body parsed by syn. syn, serde_core, regex-syntax and
    // rayon have bodies of every shape: long matches, closures, macros, nested items.
    // (The whole registry is checked by the `shortcut_check` example in a release
    // build.)
    let files = registry_sources(&[
        ("syn-", "src"),
        ("serde_core-", "src"),
        ("regex-syntax-", "src/hir"),
        ("rayon-", "src/iter"),
    ]);
    let (mut read, mut left) = (0, 0);
    for f in &files {
        let source = std::fs::read_to_string(f).unwrap();
        let (r, l) = code_graph::body_coverage(&source);
        read += r;
        left += l;
        let diff = on_a_big_stack(|| code_graph::check_body_shortcut(&source));
        assert_eq!(diff, None, "{}", f.display());
    }
    // The shortcut must really be taken: most bodies are read by the reader.
    assert!(read >= 2000, "only {read} bodies read");
    assert!(read >= 9 * left, "{read} bodies read, {left} left to syn");
}
