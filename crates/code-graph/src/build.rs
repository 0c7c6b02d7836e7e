//! The build: discover, parse (in parallel), follow module trees, assemble (in parallel
//! over modules), resolve (in parallel over sites), sort.
//!
//! Determinism comes from construction, not from luck: every ID is a hash of a key that
//! names the item (never a counter), per-file results are collected into a map keyed by
//! path, and every output list is sorted by a total order at the end. Threads only
//! decide how fast, never what.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use crate::error::{CodeGraphError, Diagnostic, DiagnosticKind};
use crate::extract::{
    extract_file_with, Callee, FileFacts, ImplFact, ItemFact, Shortcuts, GROUP, WITH_ARGS,
};
use crate::fasthash::{FastMap, FastSet};
use crate::id::{crate_id, item_id, NodeId};
use crate::interner::{DashMapInterner, LocalInterner, MutexInterner, TypeInterner};
use crate::manifest::{self, Target};
use crate::model::{
    CodeGraph, CrateInfo, Edge, EdgeKind, Node, NodeKind, ParseMetrics, PhaseTimes,
};
use crate::sync::{AtomicU64, AtomicUsize, Ordering};

mod resolve;
mod types;

use resolve::{push_few, Resolver, Want};
use types::TypeSite;

/// Sequential (the seed's "before") or parallel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildMode {
    /// One thread, plain iterators and a plain `HashMap` interner.
    Sequential,
    /// Rayon: files parsed in parallel, modules assembled in parallel, sites resolved
    /// in parallel.
    #[default]
    Parallel,
}

/// Which shared type interner the parallel build uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InternerChoice {
    /// The seed's `DashMap` with the entry API.
    #[default]
    DashMap,
    /// One `Mutex<HashMap>`.
    Mutex,
}

/// Progress of a build, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The files to parse are known.
    Discovered {
        /// How many.
        files: usize,
    },
    /// One more file was parsed.
    Parsed {
        /// Files parsed so far.
        done: usize,
        /// Files to parse.
        total: usize,
    },
}

/// A progress callback; it is called from worker threads.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How to build.
#[derive(Clone, Default)]
pub struct BuildOptions {
    /// Sequential or parallel.
    pub mode: BuildMode,
    /// Worker threads for the parallel build; 0 means one per core.
    pub threads: usize,
    /// The parallel build's interner.
    pub interner: InternerChoice,
    /// Processes files in an order shuffled with this seed (tests and benchmarks use it
    /// to show that the order does not matter).
    pub shuffle_seed: Option<u64>,
    /// Called as files are discovered and parsed.
    pub progress: Option<ProgressFn>,
    /// Parse the initialisers of top-level consts and statics as expressions even where
    /// they cannot hold an item (no `{ }` among their tokens). Off by default: such an
    /// initialiser contributes nothing to the graph, and a build steps over its tokens
    /// instead (generated tables parse several times faster). On, every file goes
    /// through `syn::parse_file` whole; the graph is the same, which benchmarks and
    /// tests use this to check.
    pub parse_data: bool,
    /// Tokenise doc comments and parse them as `#[doc]` attributes. Off by default: the
    /// graph takes nothing from them, and a build blanks their text out before
    /// tokenising (lines and columns kept), which on documented code saves about a fifth
    /// of the parse. On, the graph is the same; benchmarks use it as the "before".
    pub parse_docs: bool,
    /// Parse every function body with syn. Off by default: a build reads the bodies
    /// whose syntax its own body reader covers (most of them) without building syn
    /// trees, and takes the same facts from them; see docs/code-graph.md. On, the graph
    /// is the same; benchmarks use it as the "before".
    pub parse_bodies: bool,
}

impl std::fmt::Debug for BuildOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOptions")
            .field("mode", &self.mode)
            .field("threads", &self.threads)
            .field("interner", &self.interner)
            .field("shuffle_seed", &self.shuffle_seed)
            .field("progress", &self.progress.is_some())
            .field("parse_data", &self.parse_data)
            .field("parse_docs", &self.parse_docs)
            .field("parse_bodies", &self.parse_bodies)
            .finish()
    }
}

impl BuildOptions {
    /// The sequential build.
    pub fn sequential() -> Self {
        BuildOptions {
            mode: BuildMode::Sequential,
            ..Self::default()
        }
    }

    /// The parallel build on `threads` threads.
    pub fn parallel(threads: usize) -> Self {
        BuildOptions {
            mode: BuildMode::Parallel,
            threads,
            ..Self::default()
        }
    }
}

/// The stack of every thread that parses or walks a tree. syn recurses once (or more)
/// per nesting level; `scan` refuses files whose nesting cost passes `scan::MAX_COST`,
/// and this stack holds that cost with a wide margin even in a debug build. Only address
/// space is reserved; pages are touched on demand.
const WORKER_STACK: usize = 256 << 20;

/// Pending sites resolved per parallel pass (see the resolve phase of `run`).
const RESOLVE_CHUNK: usize = 1 << 14;

/// How deep module files may nest (`mod a;` in a file of `mod b;` in ...): each level
/// is a recursion of the walker.
const MAX_MODULE_DEPTH: usize = 1000;

/// Builds the graph of the crate or workspace in `dir`.
pub fn build(dir: &Path, options: &BuildOptions) -> Result<CodeGraph, CodeGraphError> {
    match options.mode {
        BuildMode::Sequential => {
            // On a thread of its own, with the same stack as a parallel worker: the
            // caller's stack may be small (a test thread has 2 MiB).
            std::thread::scope(|scope| {
                let worker = std::thread::Builder::new()
                    .name("code-graph".into())
                    .stack_size(WORKER_STACK)
                    .spawn_scoped(scope, || {
                        let interner = LocalInterner::new();
                        run(dir, options, Interner::Local(&interner), &SequentialExec)
                    })
                    .map_err(|e| CodeGraphError::ThreadPool {
                        threads: 1,
                        message: e.to_string(),
                    })?;
                match worker.join() {
                    Ok(result) => result,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            })
        }
        BuildMode::Parallel => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(options.threads)
                .thread_name(|i| format!("code-graph-{i}"))
                // syn's parser and the extractor recurse once per nesting level; see
                // `WORKER_STACK`.
                .stack_size(WORKER_STACK)
                .build()
                .map_err(|e| CodeGraphError::ThreadPool {
                    threads: options.threads,
                    message: e.to_string(),
                })?;
            let interner: Box<dyn TypeInterner + Send + Sync> = match options.interner {
                InternerChoice::DashMap => Box::new(DashMapInterner::new()),
                InternerChoice::Mutex => Box::new(MutexInterner::new()),
            };
            pool.install(|| run(dir, options, Interner::Shared(&*interner), &ParallelExec))
        }
    }
}

/// Maps a slice sequentially or with rayon, keeping the input order in the output.
trait Exec: Sync {
    fn sort<T: Ord + Send>(&self, items: &mut [T]);
    fn sort_stable_by_key<T: Send, K: Ord, F: Fn(&T) -> K + Sync>(&self, items: &mut [T], key: F);
    fn sort_by<T: Send, F: Fn(&T, &T) -> std::cmp::Ordering + Sync>(&self, items: &mut [T], cmp: F);
    fn map<'t, T: Sync, R: Send>(&self, items: &'t [T], f: &(dyn Fn(&'t T) -> R + Sync)) -> Vec<R>;
    /// Drops every item (in parallel, where the items are many separate trees).
    fn drop_all<T: Send>(&self, items: Vec<T>);
}

struct SequentialExec;
struct ParallelExec;

impl Exec for SequentialExec {
    fn sort<T: Ord + Send>(&self, items: &mut [T]) {
        items.sort_unstable();
    }

    fn sort_stable_by_key<T: Send, K: Ord, F: Fn(&T) -> K + Sync>(&self, items: &mut [T], key: F) {
        items.sort_by_key(key);
    }

    fn sort_by<T: Send, F: Fn(&T, &T) -> std::cmp::Ordering + Sync>(
        &self,
        items: &mut [T],
        cmp: F,
    ) {
        items.sort_unstable_by(cmp);
    }

    fn map<'t, T: Sync, R: Send>(&self, items: &'t [T], f: &(dyn Fn(&'t T) -> R + Sync)) -> Vec<R> {
        items.iter().map(f).collect()
    }

    fn drop_all<T: Send>(&self, items: Vec<T>) {
        drop(items);
    }
}

impl Exec for ParallelExec {
    fn sort<T: Ord + Send>(&self, items: &mut [T]) {
        items.par_sort_unstable();
    }

    fn sort_stable_by_key<T: Send, K: Ord, F: Fn(&T) -> K + Sync>(&self, items: &mut [T], key: F) {
        items.par_sort_by_key(key);
    }

    fn sort_by<T: Send, F: Fn(&T, &T) -> std::cmp::Ordering + Sync>(
        &self,
        items: &mut [T],
        cmp: F,
    ) {
        items.par_sort_unstable_by(cmp);
    }

    fn map<'t, T: Sync, R: Send>(&self, items: &'t [T], f: &(dyn Fn(&'t T) -> R + Sync)) -> Vec<R> {
        items.par_iter().map(f).collect()
    }

    fn drop_all<T: Send>(&self, items: Vec<T>) {
        items.into_par_iter().for_each(drop);
    }
}

/// The interner of a build: the sequential build's plain one, or a shared one that
/// worker threads use at once.
enum Interner<'a> {
    Local(&'a LocalInterner),
    Shared(&'a (dyn TypeInterner + Sync)),
}

impl Interner<'_> {
    fn as_dyn(&self) -> &dyn TypeInterner {
        match self {
            Interner::Local(l) => *l,
            Interner::Shared(s) => *s,
        }
    }
}

/// Per-run statistics, bumped from worker threads.
struct Counters {
    files: AtomicU64,
    bytes: AtomicU64,
    parse_errors: AtomicU64,
    done: AtomicUsize,
    /// Not a statistic: [`BuildOptions::parse_data`], read wherever a file is parsed.
    parse_data: bool,
    /// Not a statistic: [`BuildOptions::parse_docs`], read wherever a file is parsed.
    parse_docs: bool,
    /// Not a statistic: [`BuildOptions::parse_bodies`].
    parse_bodies: bool,
}

/// The outcome of reading one file.
struct Parsed {
    facts: Option<Arc<FileFacts>>,
    diagnostic: Option<Diagnostic>,
}

fn parse_one(path: &Path, root: &Path, interner: &dyn TypeInterner, counters: &Counters) -> Parsed {
    let file = rel(root, path);
    let fail = |kind, line, column, message| Parsed {
        facts: None,
        diagnostic: Some(Diagnostic {
            file: file.clone(),
            line,
            column,
            kind,
            message,
        }),
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return fail(DiagnosticKind::ReadError, 0, 0, e.to_string()),
    };
    counters.files.fetch_add(1, Ordering::Relaxed);
    counters
        .bytes
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    let source = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            counters.parse_errors.fetch_add(1, Ordering::Relaxed);
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() as u32 + 1;
            return fail(
                DiagnosticKind::NotUtf8,
                line,
                0,
                format!(
                    "not UTF-8 (invalid byte at offset {}); file skipped",
                    valid.len()
                ),
            );
        }
    };
    let shortcuts = Shortcuts {
        skip_data: !counters.parse_data,
        blank_docs: !counters.parse_docs,
        hollow_bodies: !counters.parse_bodies,
    };
    match extract_file_with(&source, interner, shortcuts) {
        Ok(facts) => Parsed {
            facts: Some(Arc::new(facts)),
            diagnostic: None,
        },
        Err(e) => {
            counters.parse_errors.fetch_add(1, Ordering::Relaxed);
            fail(
                DiagnosticKind::ParseError,
                e.line,
                e.column,
                format!("{}; file skipped", e.message),
            )
        }
    }
}

fn run<E: Exec>(
    dir: &Path,
    options: &BuildOptions,
    interner_arg: Interner<'_>,
    exec: &E,
) -> Result<CodeGraph, CodeGraphError> {
    let interner = interner_arg.as_dyn();
    let total_start = Instant::now();
    let mut timings = PhaseTimes::default();
    let root = std::fs::canonicalize(dir).map_err(|source| CodeGraphError::Io {
        path: dir.to_owned(),
        source,
    })?;
    if !root.is_dir() {
        return Err(CodeGraphError::NoManifest { path: root });
    }
    let mut diagnostics = Vec::new();
    let packages = manifest::discover(&root, &mut diagnostics)?;
    let mut targets: Vec<Target> = packages.iter().flat_map(|p| p.targets.clone()).collect();
    if targets.is_empty() {
        return Err(CodeGraphError::NoTargets { path: root });
    }
    let mut canonical = Canonical::default();
    targets.retain_mut(|t| match canonical.path(&t.root) {
        Ok(c) => {
            t.root = c;
            true
        }
        Err(e) => {
            diagnostics.push(Diagnostic {
                file: rel(&root, &t.root),
                line: 0,
                column: 0,
                kind: DiagnosticKind::ReadError,
                message: format!("target `{}`: {e}; skipped", t.namespace),
            });
            false
        }
    });
    targets.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    targets.dedup_by(|a, b| a.namespace == b.namespace);
    let mut files = list_files(&packages, &targets);
    timings.discover = total_start.elapsed();

    // Phase 1: every file, in parallel. Results go into a map keyed by path, so the
    // processing order cannot leak into the output.
    let phase = Instant::now();
    if let Some(seed) = options.shuffle_seed {
        shuffle(&mut files, seed);
    }
    if let Some(p) = &options.progress {
        p(Progress::Discovered { files: files.len() });
    }
    let counters = Counters {
        files: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        parse_errors: AtomicU64::new(0),
        done: AtomicUsize::new(0),
        parse_data: options.parse_data,
        parse_docs: options.parse_docs,
        parse_bodies: options.parse_bodies,
    };
    let total = files.len();
    let report = |out: Parsed| {
        if let Some(p) = &options.progress {
            let done = counters.done.fetch_add(1, Ordering::Relaxed) + 1;
            p(Progress::Parsed { done, total });
        }
        out
    };
    let parsed: Vec<(&PathBuf, Parsed)> = match interner_arg {
        Interner::Local(local) => files
            .iter()
            .map(|path| (path, report(parse_one(path, &root, local, &counters))))
            .collect(),
        Interner::Shared(shared) => {
            // Largest files first, one file per task: a big file picked up last would
            // leave the other workers idle while it is parsed. (A shuffled build keeps
            // its shuffled order, which is what it is for.)
            let mut work: Vec<(u64, &PathBuf)> = files
                .iter()
                .map(|p| (std::fs::metadata(p).map_or(0, |m| m.len()), p))
                .collect();
            if options.shuffle_seed.is_none() {
                work.sort_by_key(|(size, _)| std::cmp::Reverse(*size));
            }
            work.par_iter()
                .with_max_len(1)
                .map(|(_, path)| (*path, report(parse_one(path, &root, shared, &counters))))
                .collect()
        }
    };
    let mut slots: FastMap<PathBuf, Option<Arc<FileFacts>>> = FastMap::default();
    for (path, p) in parsed {
        diagnostics.extend(p.diagnostic);
        slots.insert(path.clone(), p.facts);
    }
    timings.parse = phase.elapsed();

    // Phase 2: module trees, sequential (cheap: no parsing unless `#[path]` leaves the
    // listed directories).
    let phase = Instant::now();
    let krates: Vec<Arc<str>> = targets
        .iter()
        .map(|t| Arc::from(t.namespace.as_str()))
        .collect();
    let mut walker = Walker {
        canonical,
        root: &root,
        slots: &mut slots,
        used: FastSet::default(),
        mounted: FastMap::default(),
        aliases: Vec::new(),
        macro_bodies: FastMap::default(),
        expanding: 0,
        unexpanded: 0,
        instances: Vec::new(),
        module_nodes: Vec::new(),
        module_edges: Vec::new(),
        parents: FastMap::default(),
        diagnostics: &mut diagnostics,
        interner,
        counters: &counters,
        krates: &krates,
    };
    let mut crates = Vec::new();
    for (ti, t) in targets.iter().enumerate() {
        let id = crate_id(&t.namespace);
        let file = rel(&root, &t.root);
        crates.push(CrateInfo {
            name: t.namespace.clone(),
            package: t.package.clone(),
            kind: t.kind,
            root: file.clone(),
            id,
        });
        walker.parents.insert(id, (None, id));
        let mut ancestors = Vec::new();
        let inner = walker.mount_file(
            ti,
            &t.namespace,
            &t.root,
            id,
            &t.namespace,
            true,
            &mut ancestors,
            id,
            id,
        );
        walker.module_nodes.push(Node {
            id,
            kind: NodeKind::Crate,
            name: t.namespace.clone(),
            path: t.namespace.clone(),
            krate: Arc::clone(&krates[ti]),
            file: Some(Arc::from(file)),
            line: 0,
            attrs: inner,
            detail: Some(t.package.clone()),
        });
    }
    let Walker {
        used,
        aliases,
        unexpanded,
        instances,
        module_nodes,
        module_edges,
        parents,
        ..
    } = walker;
    let mut unreachable = 0;
    for path in &files {
        if !used.contains(path) {
            unreachable += 1;
            diagnostics.push(Diagnostic {
                file: rel(&root, path),
                line: 0,
                column: 0,
                kind: DiagnosticKind::Unreachable,
                message: "no target's module tree reaches this file".into(),
            });
        }
    }
    timings.module_tree = phase.elapsed();

    // Phase 3: nodes and local edges of every module instance, in parallel.
    let phase = Instant::now();
    let mut parts = exec.map(&instances, &|inst| assemble(inst, &krates[inst.target]));
    timings.assemble = phase.elapsed();

    // Phase 4: scopes, member tables, then every path site resolved in parallel.
    let phase = Instant::now();
    // Nodes stay in the vectors they were made in until they are moved, once, into
    // their final order.
    let mut node_lists: Vec<Vec<Node>> = Vec::with_capacity(parts.len() + 2);
    // The largest part's edge and pending vectors are the bases the others are appended
    // to: on a one-file crate that part is nearly everything, and copying it into fresh
    // vectors would hold it twice until it is dropped. (Both are put in a total order or
    // only counted later, so where a part's entries land does not matter.)
    let largest = parts
        .iter()
        .enumerate()
        .max_by_key(|(i, p)| (p.edges.len() + p.pending.len(), std::cmp::Reverse(*i)))
        .map(|(i, _)| i);
    let (mut edges, mut pending) = match largest {
        Some(i) => (
            std::mem::take(&mut parts[i].edges),
            std::mem::take(&mut parts[i].pending),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let mut resolver = Resolver {
        scopes: FastMap::default(),
        kinds: Vec::new(),
        members: FastMap::default(),
        crates: FastMap::default(),
        methods: FastMap::default(),
        lib_targets: targets.iter().map(|t| t.lib_name.is_some()).collect(),
        aliases: aliases.into_iter().collect(),
        typed: FastMap::default(),
        impl_targets: FastMap::default(),
        impl_traits: FastMap::default(),
        variant_of: FastMap::default(),
    };
    for t in &targets {
        if let Some(lib) = &t.lib_name {
            resolver.crates.insert(lib.clone(), crate_id(&t.namespace));
        }
    }
    // Sized once: growing these by doubling would copy every node and edge again.
    let part_nodes: usize = parts.iter().map(|p| p.nodes.len()).sum();
    // Room for the parts' edges and one per pending site (the most resolution can add),
    // exactly: `reserve` may double, and a doubled edge vector is tens of megabytes on
    // a large input.
    edges.reserve_exact(
        module_edges.len()
            + pending.len()
            + parts
                .iter()
                .map(|p| p.edges.len() + p.pending.len())
                .sum::<usize>(),
    );
    edges.extend(module_edges);
    resolver.kinds.reserve(module_nodes.len() + part_nodes);
    resolver
        .kinds
        .extend(module_nodes.iter().map(|n| (n.id, n.kind)));
    node_lists.push(module_nodes);
    for (id, (parent, root_id)) in &parents {
        let scope = resolver.scopes.entry(*id).or_default();
        scope.parent = *parent;
        scope.root = *root_id;
    }
    pending.reserve_exact(parts.iter().map(|p| p.pending.len()).sum());
    let mut opaque_calls = 0;
    let mut impls = Vec::new();
    for part in parts {
        resolver.kinds.extend_from_slice(&part.kinds);
        let scope = resolver.scopes.entry(part.module).or_default();
        scope.items.reserve(part.scope_items.len());
        for (name, kind, id) in part.scope_items {
            push_few(&mut scope.items, name, (kind, id));
        }
        for (name, path) in part.uses {
            push_few(&mut scope.uses, name, path);
        }
        scope.globs.extend(part.globs);
        for (owner, name, kind, id) in part.members {
            if kind == NodeKind::Variant {
                resolver.variant_of.insert(id, owner);
            }
            resolver
                .members
                .entry(owner)
                .or_default()
                .push(name, kind, id);
        }
        resolver.typed.extend(part.typed);
        impls.extend(part.impls);
        for (name, id) in part.methods {
            resolver
                .methods
                .entry(name)
                .or_default()
                .push((part.target, id));
        }
        node_lists.push(part.nodes);
        edges.extend(part.edges);
        pending.extend(part.pending);
        opaque_calls += part.opaque_calls;
    }
    exec.sort_stable_by_key(&mut resolver.kinds, |(id, _)| *id);
    for m in resolver.members.values_mut() {
        m.seal();
    }
    for list in resolver.methods.values_mut() {
        list.sort_unstable();
        list.dedup();
    }
    // Methods of an impl become members of the type the impl is for, so `Type::f` and
    // `Self::f` resolve; the impls are visited in a sorted order so the member lists
    // (and which of two same-named candidates wins) do not depend on scheduling.
    impls.sort_by_key(|i| i.id);
    let impl_targets: FastMap<NodeId, Option<NodeId>> = exec
        .map(&impls, &|i: &ImplSite<'_>| {
            (
                i.id,
                i.imp.self_path.as_ref().and_then(|p| {
                    resolver.resolve_scoped(i.module, i.locals.as_deref(), p, Want::Namespace)
                }),
            )
        })
        .into_iter()
        .collect();
    let mut additions: Vec<(NodeId, &str, NodeKind, NodeId)> = Vec::new();
    for imp in &impls {
        let target = impl_targets.get(&imp.id).copied().flatten();
        if let (Some(target), Some(members)) = (target, resolver.members.get(&imp.id)) {
            for (name, kind, id) in &members.0 {
                additions.push((target, name, *kind, *id));
            }
        }
    }
    // The member lists were filled in impl order above; sort so that which of two
    // same-named candidates comes first does not depend on a map's iteration order.
    exec.sort_by(&mut additions, |a, b| (a.0, a.1, a.3).cmp(&(b.0, b.1, b.3)));
    let mut grown: Vec<NodeId> = Vec::new();
    for (target, name, kind, id) in additions {
        if grown.last() != Some(&target) {
            grown.push(target);
        }
        resolver
            .members
            .entry(target)
            .or_default()
            .push(name, kind, id);
    }
    for target in grown {
        if let Some(m) = resolver.members.get_mut(&target) {
            m.seal();
        }
    }
    // The traits each type implements, for methods a trait provides: sorted, so the
    // candidates of a call come in one order whatever the scheduling.
    let impl_traits: Vec<(NodeId, NodeId)> = exec
        .map(&impls, &|i: &ImplSite<'_>| {
            let target = impl_targets.get(&i.id).copied().flatten()?;
            let tr = resolver
                .resolve_scoped(
                    i.module,
                    i.locals.as_deref(),
                    i.imp.trait_path.as_deref()?,
                    Want::Namespace,
                )
                .filter(|t| resolver.kind(*t) == Some(NodeKind::Trait))?;
            Some((target, tr))
        })
        .into_iter()
        .flatten()
        .collect();
    for (target, tr) in impl_traits {
        resolver.impl_traits.entry(target).or_default().push(tr);
    }
    for list in resolver.impl_traits.values_mut() {
        list.sort_unstable();
        list.dedup();
    }
    resolver.impl_targets = impl_targets;
    let mut calls_resolved = 0;
    let mut calls_ambiguous = 0;
    let mut calls_unresolved = opaque_calls;
    // Resolved a slice at a time: the results of every site at once would be one more
    // vector as long as the sites, held at the build's peak on a large input.
    for sites in pending.chunks(RESOLVE_CHUNK) {
        let resolved = exec.map(sites, &|p: &Pending<'_>| resolver.pending(p));
        for (p, (r, ambiguous)) in sites.iter().zip(resolved) {
            if matches!(p, Pending::Call { .. }) {
                if r.is_some() {
                    calls_resolved += 1;
                } else if ambiguous {
                    calls_ambiguous += 1;
                } else {
                    calls_unresolved += 1;
                }
            }
            edges.extend(r);
        }
    }
    // The per-file facts, borrowed by the resolver, are the largest thing held on a
    // large input; they are freed here, before the nodes are put in order.
    let mut macros_skipped = unexpanded;
    let mut items_in_bodies = 0;
    for facts in slots.values().flatten() {
        macros_skipped += facts.macro_invocations;
        items_in_bodies += facts.items_in_bodies;
    }
    let item_kinds = std::mem::take(&mut resolver.kinds);
    drop(resolver);
    drop(pending);
    drop(impls);
    drop(instances);
    // Every file's facts: many small allocations, freed on every thread.
    exec.drop_all(slots.into_values().collect());

    // Type nodes: only the types some emitted edge points at (a type seen only in an
    // unreachable file gets no node).
    let mut texts: FastMap<NodeId, String> = interner.snapshot().into_iter().collect();
    let mut type_ids: Vec<NodeId> = edges
        .iter()
        .filter(|e| texts.contains_key(&e.to))
        .map(|e| e.to)
        .collect();
    type_ids.sort_unstable();
    type_ids.dedup();
    let mut type_nodes = Vec::with_capacity(type_ids.len());
    let no_crate: Arc<str> = Arc::from("");
    for id in type_ids {
        if let Some(text) = texts.remove(&id) {
            type_nodes.push(Node {
                id,
                kind: NodeKind::Type,
                name: text.clone(),
                path: text,
                krate: no_crate.clone(),
                file: None,
                line: 0,
                attrs: Vec::new(),
                detail: None,
            });
        }
    }

    // Total orders everywhere: this is what makes the export byte-identical.
    // Nodes are ordered by (crate, path, kind, ID); of two nodes with one ID, the first
    // in this order is kept.
    // IDs are 64-bit hashes, so two nodes with one ID are all but impossible; the item
    // IDs are already sorted (`kinds`), which proves it cheaply, and only otherwise is
    // the map below consulted.
    let unique = item_kinds.windows(2).all(|w| w[0].0 != w[1].0)
        && type_nodes
            .iter()
            .all(|t| item_kinds.binary_search_by_key(&t.id, |(k, _)| *k).is_err());
    drop(item_kinds);
    node_lists.push(type_nodes);
    let total_nodes: usize = node_lists.iter().map(Vec::len).sum();
    // One vector, put in order in place: a second vector of every node (or a vector of
    // options beside the result) would hold all nodes twice at the peak.
    // The largest list (on a one-file crate, nearly every node) is the base: growing it
    // moves its block once (a block that large is remapped, not copied), where a fresh
    // vector would hold every node a second time until the lists are dropped.
    let largest = node_lists
        .iter()
        .enumerate()
        .max_by_key(|(i, l)| (l.len(), std::cmp::Reverse(*i)))
        .map_or(0, |(i, _)| i);
    let mut nodes: Vec<Node> = std::mem::take(&mut node_lists[largest]);
    nodes.reserve_exact(total_nodes - nodes.len());
    for list in node_lists {
        nodes.extend(list);
    }
    let order = node_order(std::slice::from_ref(&nodes), &crates, exec);
    let perm: Vec<u32> = order.into_iter().map(|(_, at)| at).collect();
    permute(&mut nodes, &perm);
    drop(perm);
    if !unique {
        let mut seen: FastMap<NodeId, usize> = FastMap::default();
        let mut kept: Vec<Node> = Vec::with_capacity(total_nodes);
        for n in nodes {
            match seen.get(&n.id) {
                Some(&at) => diagnostics.push(Diagnostic {
                    file: n.file.as_deref().unwrap_or_default().to_owned(),
                    line: n.line,
                    column: 0,
                    kind: DiagnosticKind::DuplicateId,
                    message: format!(
                        "`{}` has the same ID as `{}` ({}); dropped",
                        n.path, kept[at].path, n.id
                    ),
                }),
                None => {
                    seen.insert(n.id, kept.len());
                    kept.push(n);
                }
            }
        }
        nodes = kept;
    }
    exec.sort(&mut edges);
    edges.dedup();
    diagnostics.sort();
    diagnostics.dedup();
    crates.sort();
    timings.resolve = phase.elapsed();

    let (hits, misses) = interner.stats();
    let mut metrics = ParseMetrics {
        files: counters.files.load(Ordering::Relaxed),
        bytes: counters.bytes.load(Ordering::Relaxed),
        parse_errors: counters.parse_errors.load(Ordering::Relaxed),
        type_interner_hits: hits,
        type_interner_misses: misses,
        calls_resolved,
        calls_ambiguous,
        calls_unresolved,
        unreachable_files: unreachable,
        ..ParseMetrics::default()
    };
    metrics.macro_invocations_skipped = macros_skipped;
    metrics.items_in_bodies = items_in_bodies;
    // Counted in arrays indexed by kind, then named: one map entry per kind, not one
    // string allocation per node and edge.
    let mut node_counts = [0u64; NodeKind::ALL.len()];
    for n in &nodes {
        node_counts[n.kind as usize] += 1;
    }
    for (kind, count) in NodeKind::ALL.iter().zip(node_counts) {
        if count > 0 {
            metrics
                .items_by_kind
                .insert(kind.as_str().to_owned(), count);
        }
    }
    let mut edge_counts = [0u64; EdgeKind::ALL.len()];
    for e in &edges {
        edge_counts[e.kind as usize] += 1;
    }
    for (kind, count) in EdgeKind::ALL.iter().zip(edge_counts) {
        if count > 0 {
            metrics
                .edges_by_kind
                .insert(kind.as_str().to_owned(), count);
        }
    }
    timings.total = total_start.elapsed();
    metrics.timings = timings;
    Ok(CodeGraph {
        crates,
        nodes,
        edges,
        diagnostics,
        metrics,
    })
}

/// Reorders `items` so that position `i` holds the item that was at `perm[i]` (`perm` is
/// a permutation), by following its cycles: no second vector of items.
fn permute<T>(items: &mut [T], perm: &[u32]) {
    let mut done = vec![false; items.len()];
    for i in 0..items.len() {
        if done[i] {
            continue;
        }
        let mut j = i;
        loop {
            done[j] = true;
            let k = perm[j] as usize;
            if k == i {
                break;
            }
            items.swap(j, k);
            j = k;
        }
    }
}

/// The places of the nodes of `lists` in (crate, path, kind, ID) order, ties (one node
/// twice) broken by place so the order is total.
///
/// The nodes' path strings lie scattered over the heap, and a comparison sort reads two
/// of them per comparison: on a large graph the sort waited on memory more than it
/// computed. So the paths are first copied, in one sequential pass, into one contiguous
/// buffer that stays in cache, and small keys pointing into it are sorted; the nodes
/// are then moved once. The crate name is replaced by its rank among the crate names
/// (type nodes, whose crate is empty, come first), which orders the same way.
fn node_order<E: Exec>(lists: &[Vec<Node>], crates: &[CrateInfo], exec: &E) -> Vec<(u32, u32)> {
    let mut names: Vec<&str> = crates.iter().map(|c| c.name.as_str()).collect();
    names.push("");
    names.sort_unstable();
    names.dedup();
    let all = || {
        lists.iter().enumerate().flat_map(|(l, v)| {
            v.iter()
                .enumerate()
                .map(move |(i, n)| (l as u32, i as u32, n))
        })
    };
    let total: usize = all().map(|(_, _, n)| n.path.len()).sum();
    let mut arena = String::with_capacity(total);
    let mut keys: Vec<NodeKey> = Vec::with_capacity(lists.iter().map(Vec::len).sum());
    let mut unknown = false;
    for (list, at, n) in all() {
        let rank = match names.binary_search(&&*n.krate) {
            Ok(r) => r as u32,
            Err(_) => {
                unknown = true;
                u32::MAX
            }
        };
        // Paths of one crate all start with `namespace::` (the crate node's path is the
        // namespace itself), so that prefix says nothing about their order.
        let rest = if n.krate.is_empty() {
            Some(n.path.as_str())
        } else if n.path == *n.krate {
            Some("")
        } else {
            n.path
                .strip_prefix(&*n.krate)
                .and_then(|r| r.strip_prefix("::"))
        };
        let head = match rest {
            Some(rest) => {
                let mut b = [0u8; 8];
                let take = rest.len().min(8);
                b[..take].copy_from_slice(&rest.as_bytes()[..take]);
                u64::from_be_bytes(b)
            }
            None => {
                // Not built that way; the comparison without heads stays right.
                unknown = true;
                0
            }
        };
        keys.push(NodeKey {
            rank,
            head,
            start: arena.len() as u32,
            len: n.path.len() as u32,
            kind: n.kind,
            id: n.id,
            list,
            at,
        });
        arena.push_str(&n.path);
    }
    let arena = arena.as_bytes();
    let path = |k: &NodeKey| &arena[k.start as usize..(k.start + k.len) as usize];
    if unknown {
        // Every node's crate is a target namespace or empty, so this does not happen;
        // should it, the slow comparison keeps the order right.
        exec.sort_by(&mut keys, |a: &NodeKey, b: &NodeKey| {
            let na = &lists[a.list as usize][a.at as usize];
            let nb = &lists[b.list as usize][b.at as usize];
            (&na.krate, path(a), a.kind, a.id, a.list, a.at).cmp(&(
                &nb.krate,
                path(b),
                b.kind,
                b.id,
                b.list,
                b.at,
            ))
        });
    } else {
        exec.sort_by(&mut keys, |a: &NodeKey, b: &NodeKey| {
            (a.rank, a.head).cmp(&(b.rank, b.head)).then_with(|| {
                (path(a), a.kind, a.id, a.list, a.at).cmp(&(path(b), b.kind, b.id, b.list, b.at))
            })
        });
    }
    keys.into_iter().map(|k| (k.list, k.at)).collect()
}

/// A node's place in the order: crate rank, path (a range of the path buffer), kind, ID.
#[derive(Clone, Copy)]
struct NodeKey {
    rank: u32,
    /// The first 8 bytes of the path after its crate's `namespace::` prefix, big-endian,
    /// zero-padded: it orders two keys whenever it differs (a path that ends first is
    /// the smaller one), so most comparisons never read the path buffer.
    head: u64,
    start: u32,
    len: u32,
    kind: NodeKind,
    id: NodeId,
    /// Which node vector, and where in it.
    list: u32,
    at: u32,
}

/// Every `.rs` file of the packages' source directories (and the target roots), sorted.
fn list_files(packages: &[manifest::Package], targets: &[Target]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for p in packages {
        for sub in ["src", "tests", "examples", "benches"] {
            // Under a canonical folder, with links not followed, every path the walk
            // yields is canonical already.
            let Ok(base) = std::fs::canonicalize(p.dir.join(sub)) else {
                continue;
            };
            let walk = walkdir::WalkDir::new(base)
                .follow_links(false)
                .into_iter()
                .filter_entry(|e| {
                    let name = e.file_name().to_string_lossy();
                    e.depth() == 0 || !(name.starts_with('.') || name == "target")
                });
            for entry in walk.flatten() {
                let path = entry.path();
                if entry.file_type().is_file() && path.extension().is_some_and(|x| x == "rs") {
                    files.push(path.to_owned());
                }
            }
        }
    }
    files.extend(targets.iter().map(|t| t.root.clone()));
    files.sort();
    files.dedup();
    files
}

/// `std::fs::canonicalize` with the directories' answers remembered: a file that is not
/// a symbolic link is its canonical directory joined with its name, so resolving the
/// hundreds of files of one folder costs one system call each instead of one per path
/// component.
#[derive(Default)]
struct Canonical {
    dirs: FastMap<PathBuf, PathBuf>,
}

impl Canonical {
    fn path(&mut self, p: &Path) -> std::io::Result<PathBuf> {
        let plain_file = std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file());
        let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
            return std::fs::canonicalize(p);
        };
        if !plain_file || dir.as_os_str().is_empty() {
            return std::fs::canonicalize(p);
        }
        if let Some(c) = self.dirs.get(dir) {
            return Ok(c.join(name));
        }
        let c = std::fs::canonicalize(dir)?;
        let file = c.join(name);
        self.dirs.insert(dir.to_owned(), c);
        Ok(file)
    }
}

fn shuffle(v: &mut [PathBuf], seed: u64) {
    let mut state = seed;
    let mut next = || {
        // splitmix64: a fixed, dependency-free generator is all a shuffle needs.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..v.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// `path` relative to `root` with `/` separators, lexically (`..` where it lies outside).
pub(crate) fn rel(root: &Path, path: &Path) -> String {
    if let Ok(r) = path.strip_prefix(root) {
        return join_components(r);
    }
    let rc: Vec<Component<'_>> = root.components().collect();
    let pc: Vec<Component<'_>> = path.components().collect();
    let common = rc.iter().zip(&pc).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); rc.len() - common];
    parts.extend(
        pc[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

fn join_components(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// A `mod` item (or an item-position `include!`) of a module being mounted.
struct ModDecl {
    index: usize,
    name: String,
    line: u32,
    attrs: Vec<String>,
    inline: bool,
    path_attr: Option<String>,
    cfg_paths: Vec<String>,
    include: bool,
    invoke: Option<String>,
}

/// A module's place in a tree: whose items, mounted where.
struct Instance {
    target: usize,
    module: NodeId,
    /// The parent in the IDs of this instance's items: the module itself, or, for a
    /// second file mounted into the same module (an `include!`, another `cfg_attr` path
    /// arm), a key of its own, so same-named items of the two files get distinct IDs.
    id_parent: NodeId,
    path: String,
    file: Arc<str>,
    facts: Arc<FileFacts>,
    /// Child indices from the file's top level down to an inline module's items.
    inline_path: Vec<usize>,
}

impl Instance {
    fn items(&self) -> &[ItemFact] {
        let mut items: &[ItemFact] = &self.facts.items;
        for i in &self.inline_path {
            match items.get(*i) {
                Some(item) => items = &item.children,
                None => return &[],
            }
        }
        items
    }
}

/// How deep fixed-body macro expansions may nest.
const MAX_EXPANSION_DEPTH: u32 = 16;

/// Where a fixed-body macro's items are: a file's facts and the path to the macro fact.
#[derive(Clone)]
struct MacroBody {
    facts: Arc<FileFacts>,
    inline_path: Vec<usize>,
    file: PathBuf,
    /// Invocations with arguments expand it too (see [`ItemFact::is_one_arm`]).
    one_arm: bool,
}

struct Walker<'a> {
    root: &'a Path,
    slots: &'a mut FastMap<PathBuf, Option<Arc<FileFacts>>>,
    used: FastSet<PathBuf>,
    /// File -> the module it was first mounted as. A file's items exist once: a later
    /// mount (another target's `mod common;`, a second `#[path]`) becomes a module node
    /// with a `mounts` edge to this one.
    mounted: FastMap<PathBuf, NodeId>,
    /// Module -> the module that holds its items (see `mounted`).
    aliases: Vec<(NodeId, NodeId)>,
    /// (target, name) -> a fixed-body `macro_rules!` seen so far in the walk.
    macro_bodies: FastMap<(usize, String), MacroBody>,
    /// Fixed-body expansions being mounted, one inside another.
    expanding: u32,
    /// `name!()` invocations with no fixed-body macro of that name before them.
    unexpanded: u64,
    instances: Vec<Instance>,
    module_nodes: Vec<Node>,
    module_edges: Vec<Edge>,
    /// Module -> (parent module, crate root).
    parents: FastMap<NodeId, (Option<NodeId>, NodeId)>,
    diagnostics: &'a mut Vec<Diagnostic>,
    interner: &'a dyn TypeInterner,
    counters: &'a Counters,
    /// Each target's namespace, shared by all of its nodes.
    krates: &'a [Arc<str>],
    /// Canonical paths of the folders module files were found in.
    canonical: Canonical,
}

impl Walker<'_> {
    /// Mounts `file` as module `id`; returns the file's inner attributes.
    #[allow(clippy::too_many_arguments)]
    fn mount_file(
        &mut self,
        target: usize,
        namespace: &str,
        file: &Path,
        id: NodeId,
        qpath: &str,
        mod_rs: bool,
        ancestors: &mut Vec<PathBuf>,
        crate_root: NodeId,
        id_parent: NodeId,
    ) -> Vec<String> {
        self.used.insert(file.to_owned());
        if !self.slots.contains_key(file) {
            // Reached only through `#[path]` or `include!` outside the listed
            // directories.
            let p = parse_one(file, self.root, self.interner, self.counters);
            self.diagnostics.extend(p.diagnostic);
            self.slots.insert(file.to_owned(), p.facts);
        }
        let Some(facts) = self.slots.get(file).cloned().flatten() else {
            return Vec::new();
        };
        if let Some(first) = self.mounted.get(file) {
            if *first != id {
                self.module_edges.push(Edge {
                    from: id,
                    kind: EdgeKind::Mounts,
                    to: *first,
                });
                self.aliases.push((id, *first));
            }
            return facts.inner_attrs.clone();
        }
        self.mounted.insert(file.to_owned(), id);
        let file_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let child_dir = if mod_rs {
            file_dir.clone()
        } else {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            file_dir.join(stem)
        };
        ancestors.push(file.to_owned());
        let ctx = MountCtx {
            target,
            namespace,
            file,
            file_dir: &file_dir,
            crate_root,
        };
        self.mount_items(
            &ctx,
            &facts,
            Vec::new(),
            (id, id_parent),
            qpath,
            child_dir,
            false,
            ancestors,
        );
        ancestors.pop();
        facts.inner_attrs.clone()
    }

    #[allow(clippy::too_many_arguments)]
    fn mount_items(
        &mut self,
        ctx: &MountCtx<'_>,
        facts: &Arc<FileFacts>,
        inline_path: Vec<usize>,
        (id, id_parent): (NodeId, NodeId),
        qpath: &str,
        child_dir: PathBuf,
        in_inline: bool,
        ancestors: &mut Vec<PathBuf>,
    ) {
        let file_rel = rel(self.root, ctx.file);
        let instance = Instance {
            target: ctx.target,
            module: id,
            id_parent,
            path: qpath.to_owned(),
            file: Arc::from(file_rel.as_str()),
            facts: facts.clone(),
            inline_path: inline_path.clone(),
        };
        let modules: Vec<ModDecl> = instance
            .items()
            .iter()
            .enumerate()
            .filter_map(|(i, it)| {
                it.module().map(|m| ModDecl {
                    index: i,
                    name: it.name.clone(),
                    line: it.line,
                    attrs: it.attrs.clone(),
                    inline: m.inline,
                    path_attr: m.path_attr.clone(),
                    cfg_paths: m.cfg_paths.clone(),
                    include: m.include,
                    invoke: m.invoke.clone(),
                })
            })
            .collect();
        // The fixed-body macros this module defines, for invocations that follow.
        for (i, it) in instance.items().iter().enumerate() {
            if it.kind == NodeKind::Macro && !it.children.is_empty() {
                let mut p = inline_path.clone();
                p.push(i);
                self.macro_bodies.insert(
                    (ctx.target, it.name.clone()),
                    MacroBody {
                        facts: facts.clone(),
                        inline_path: p,
                        file: ctx.file.to_owned(),
                        one_arm: it.is_one_arm(),
                    },
                );
            }
        }
        self.instances.push(instance);
        let mut ordinals: FastMap<String, u32> = FastMap::default();
        let mut invocations: FastMap<String, u32> = FastMap::default();
        for decl in modules {
            if decl.include {
                self.mount_include(ctx, &file_rel, &decl, (id, id_parent), qpath, ancestors);
                continue;
            }
            if let Some(name) = &decl.invoke {
                let nth = invocations.entry(name.clone()).or_insert(0);
                let key = item_id(id_parent, NodeKind::Macro, &format!("{name}!()"), *nth);
                *nth += 1;
                let (macro_name, args) = match name.strip_suffix(WITH_ARGS) {
                    Some(n) => (n, true),
                    None => (name.as_str(), false),
                };
                let body = self
                    .macro_bodies
                    .get(&(ctx.target, macro_name.to_owned()))
                    .filter(|b| b.one_arm || !args)
                    .cloned();
                match body {
                    // Bounded: a fixed body that invokes itself would never end.
                    Some(b) if self.expanding < MAX_EXPANSION_DEPTH => {
                        self.expanding += 1;
                        // The items are written in the macro's file (their nodes say
                        // so), but `mod` and `#[path]` in them are found from the
                        // invocation's place, as rustc does.
                        let body_ctx = MountCtx {
                            target: ctx.target,
                            namespace: ctx.namespace,
                            file: &b.file,
                            file_dir: ctx.file_dir,
                            crate_root: ctx.crate_root,
                        };
                        self.mount_items(
                            &body_ctx,
                            &b.facts,
                            b.inline_path.clone(),
                            (id, key),
                            qpath,
                            child_dir.clone(),
                            in_inline,
                            ancestors,
                        );
                        self.expanding -= 1;
                    }
                    _ => self.unexpanded += 1,
                }
                continue;
            }
            let name = decl.name;
            let line = decl.line;
            let ord = ordinals.entry(name.clone()).or_insert(0);
            let mid = item_id(id_parent, NodeKind::Module, &name, *ord);
            *ord += 1;
            let mpath = format!("{qpath}::{name}");
            self.parents.insert(mid, (Some(id), ctx.crate_root));
            self.module_edges.push(Edge {
                from: id,
                kind: EdgeKind::Contains,
                to: mid,
            });
            let mut node_attrs = decl.attrs;
            if decl.inline {
                let dir = child_dir.join(decl.path_attr.as_deref().unwrap_or(&name));
                let mut p = inline_path.clone();
                p.push(decl.index);
                self.mount_items(ctx, facts, p, (mid, mid), &mpath, dir, true, ancestors);
            } else {
                let found = self.find_module_files(
                    ctx,
                    &file_rel,
                    &name,
                    line,
                    decl.path_attr,
                    &decl.cfg_paths,
                    &child_dir,
                    in_inline,
                );
                for (k, (path, mod_rs)) in found.into_iter().enumerate() {
                    if ancestors.len() >= MAX_MODULE_DEPTH {
                        self.diagnostics.push(Diagnostic {
                            file: file_rel.clone(),
                            line,
                            column: 0,
                            kind: DiagnosticKind::ModuleCycle,
                            message: format!(
                                "`mod {name}`: module files nest more than {MAX_MODULE_DEPTH} deep; skipped"
                            ),
                        });
                        continue;
                    }
                    if ancestors.contains(&path) {
                        let chain: Vec<String> = ancestors
                            .iter()
                            .chain(std::iter::once(&path))
                            .map(|p| rel(self.root, p))
                            .collect();
                        self.diagnostics.push(Diagnostic {
                            file: file_rel.clone(),
                            line,
                            column: 0,
                            kind: DiagnosticKind::ModuleCycle,
                            message: format!(
                                "`mod {name}` would include a file that is already its own ancestor ({}); skipped",
                                chain.join(" -> ")
                            ),
                        });
                        continue;
                    }
                    // The first file's items hang off the module's own key; each further
                    // `cfg_attr` arm gets a key of its own.
                    let arm_parent = if k == 0 {
                        mid
                    } else {
                        item_id(mid, NodeKind::Module, &rel(self.root, &path), 0)
                    };
                    let inner = self.mount_file(
                        ctx.target,
                        ctx.namespace,
                        &path,
                        mid,
                        &mpath,
                        mod_rs,
                        ancestors,
                        ctx.crate_root,
                        arm_parent,
                    );
                    for a in inner {
                        if !node_attrs.contains(&a) {
                            node_attrs.push(a);
                        }
                    }
                }
            }
            self.module_nodes.push(Node {
                id: mid,
                kind: NodeKind::Module,
                name,
                path: mpath,
                krate: Arc::clone(&self.krates[ctx.target]),
                file: Some(Arc::from(file_rel.as_str())),
                line,
                attrs: node_attrs,
                detail: None,
            });
        }
    }

    /// An item-position `include!("file.rs")`: the file's items join module `id`.
    fn mount_include(
        &mut self,
        ctx: &MountCtx<'_>,
        file_rel: &str,
        decl: &ModDecl,
        (id, id_parent): (NodeId, NodeId),
        qpath: &str,
        ancestors: &mut Vec<PathBuf>,
    ) {
        let written = decl.path_attr.clone().unwrap_or_default();
        // `include!` paths are relative to the file that holds the invocation.
        let path = match self.canonical.path(&ctx.file_dir.join(&written)) {
            Ok(p) if p.is_file() => p,
            _ => {
                self.diagnostics.push(Diagnostic {
                    file: file_rel.to_owned(),
                    line: decl.line,
                    column: 0,
                    kind: DiagnosticKind::MissingModule,
                    message: format!("`include!(\"{written}\")`: no such file; skipped"),
                });
                return;
            }
        };
        if ancestors.contains(&path) || ancestors.len() >= MAX_MODULE_DEPTH {
            self.diagnostics.push(Diagnostic {
                file: file_rel.to_owned(),
                line: decl.line,
                column: 0,
                kind: DiagnosticKind::ModuleCycle,
                message: format!(
                    "`include!(\"{written}\")` would include one of its own ancestors; skipped"
                ),
            });
            return;
        }
        let key = item_id(
            id_parent,
            NodeKind::Module,
            &format!("include!({written})"),
            0,
        );
        self.mount_file(
            ctx.target,
            ctx.namespace,
            &path,
            id,
            qpath,
            true,
            ancestors,
            ctx.crate_root,
            key,
        );
    }

    /// The files of `mod name;`, each with whether it behaves as a `mod.rs` (its
    /// children live in its own directory): every `cfg_attr` path arm that exists, then
    /// the `#[path]` file or the default one. Reports what is missing.
    #[allow(clippy::too_many_arguments)]
    fn find_module_files(
        &mut self,
        ctx: &MountCtx<'_>,
        file_rel: &str,
        name: &str,
        line: u32,
        path_attr: Option<String>,
        cfg_paths: &[String],
        child_dir: &Path,
        in_inline: bool,
    ) -> Vec<(PathBuf, bool)> {
        // A `#[path]` file is always treated like a `mod.rs`; outside inline modules the
        // path is relative to the declaring file's directory.
        let base = if in_inline { child_dir } else { ctx.file_dir };
        let mut out: Vec<(PathBuf, bool)> = Vec::new();
        for p in cfg_paths {
            match self.canonical.path(&base.join(p)) {
                Ok(c) if c.is_file() => {
                    if !out.iter().any(|(q, _)| *q == c) {
                        out.push((c, true));
                    }
                }
                _ => self.diagnostics.push(Diagnostic {
                    file: file_rel.to_owned(),
                    line,
                    column: 0,
                    kind: DiagnosticKind::MissingModule,
                    message: format!(
                        "module `{name}`: `cfg_attr` path {} has no file; that arm skipped",
                        rel(self.root, &base.join(p))
                    ),
                }),
            }
        }
        let candidates: Vec<(PathBuf, bool)> = match &path_attr {
            Some(p) => vec![(base.join(p), true)],
            None => vec![
                (child_dir.join(format!("{name}.rs")), false),
                (child_dir.join(name).join("mod.rs"), true),
            ],
        };
        // A listed file (the common case) is known to exist with this canonical path;
        // only other paths are asked of the file system.
        let listed = |p: &Path| self.slots.contains_key(p);
        let existing: Vec<&(PathBuf, bool)> = candidates
            .iter()
            .filter(|(p, _)| listed(p) || p.is_file())
            .collect();
        if existing.len() > 1 {
            self.diagnostics.push(Diagnostic {
                file: file_rel.to_owned(),
                line,
                column: 0,
                kind: DiagnosticKind::AmbiguousModule,
                message: format!(
                    "module `{name}` found at both {} and {}; using the first",
                    rel(self.root, &candidates[0].0),
                    rel(self.root, &candidates[1].0)
                ),
            });
        }
        match existing.first() {
            Some((p, mod_rs)) => match if listed(p) {
                Ok(p.clone())
            } else {
                self.canonical.path(p)
            } {
                Ok(c) => {
                    if !out.iter().any(|(q, _)| *q == c) {
                        out.push((c, *mod_rs));
                    }
                }
                Err(e) => self.diagnostics.push(Diagnostic {
                    file: file_rel.to_owned(),
                    line,
                    column: 0,
                    kind: DiagnosticKind::ReadError,
                    message: format!("module `{name}`: {e}"),
                }),
            },
            // With a `cfg_attr` arm found, the default file is only the fallback when no
            // predicate holds; its absence is normal.
            None if !out.is_empty() => {}
            None => {
                let looked: Vec<String> =
                    candidates.iter().map(|(p, _)| rel(self.root, p)).collect();
                self.diagnostics.push(Diagnostic {
                    file: file_rel.to_owned(),
                    line,
                    column: 0,
                    kind: DiagnosticKind::MissingModule,
                    message: format!(
                        "module `{name}` has no file (looked for {}); skipped",
                        looked.join(" and ")
                    ),
                });
            }
        }
        out
    }
}

struct MountCtx<'a> {
    target: usize,
    namespace: &'a str,
    file: &'a Path,
    file_dir: &'a Path,
    crate_root: NodeId,
}

/// What one module instance contributes. Names and paths borrow from the instance's
/// facts, which outlive the resolution, so assembling copies no string it does not put
/// into a node.
struct Part<'a> {
    module: NodeId,
    target: usize,
    nodes: Vec<Node>,
    /// (ID, kind) of every node in `nodes`, gathered while they are made (reading
    /// them back later would touch every node again, long out of cache).
    kinds: Vec<(NodeId, NodeKind)>,
    edges: Vec<Edge>,
    pending: Vec<Pending<'a>>,
    scope_items: Vec<(&'a str, NodeKind, NodeId)>,
    uses: Vec<(&'a str, &'a [String])>,
    globs: Vec<&'a [String]>,
    /// (owner, name, kind, id): variants of enums, items of traits and impls.
    members: Vec<(NodeId, &'a str, NodeKind, NodeId)>,
    impls: Vec<ImplSite<'a>>,
    /// (name, ID) of inherent methods and trait-declared methods: the candidates of a
    /// method call resolved by name.
    methods: Vec<(&'a str, NodeId)>,
    /// What typing receivers needs of functions (return types, generics), fields and
    /// type aliases (their types).
    typed: Vec<(NodeId, TypeSite<'a>)>,
    opaque_calls: u64,
}

struct ImplSite<'a> {
    id: NodeId,
    module: NodeId,
    locals: Option<Arc<[NodeId]>>,
    /// The impl's self type and trait paths (one reference: there is an `ImplSite` per
    /// impl, hundreds of thousands on a large input).
    imp: &'a ImplFact,
}

/// Whose `Self` a function body sees.
#[derive(Clone)]
enum Owner {
    None,
    Impl(NodeId),
    Trait(NodeId),
}

/// A path to resolve once every module's names are known.
enum Pending<'a> {
    Implements {
        from: NodeId,
        module: NodeId,
        path: &'a [String],
        fallback: Option<NodeId>,
    },
    Import {
        from: NodeId,
        module: NodeId,
        path: &'a [String],
        glob: bool,
    },
    Call {
        from: NodeId,
        module: NodeId,
        /// The caller's target (index into the build's targets).
        target: usize,
        owner: Owner,
        locals: Option<Arc<[NodeId]>>,
        callee: &'a Callee,
    },
}

/// Ordinals among same-key siblings: a short list searched linearly (most parents have
/// a handful of children), moved into a map once it grows.
struct Ordinals<'a> {
    few: Vec<(NodeKind, &'a str, u32)>,
    many: Option<FastMap<(NodeKind, &'a str), u32>>,
}

impl<'a> Ordinals<'a> {
    const LINEAR: usize = 16;

    fn new() -> Self {
        Ordinals {
            few: Vec::new(),
            many: None,
        }
    }

    /// The ordinal of this (kind, name) among those already seen, counting it.
    fn next(&mut self, kind: NodeKind, name: &'a str) -> u32 {
        if let Some(many) = &mut self.many {
            let ord = many.entry((kind, name)).or_insert(0);
            *ord += 1;
            return *ord - 1;
        }
        if let Some(e) = self.few.iter_mut().find(|e| e.0 == kind && e.1 == name) {
            e.2 += 1;
            return e.2 - 1;
        }
        self.few.push((kind, name, 1));
        if self.few.len() == Self::LINEAR {
            self.many = Some(self.few.drain(..).map(|(k, n, o)| ((k, n), o)).collect());
        }
        0
    }
}

/// `parent::name`, built without the formatting machinery.
fn join_path(parent: &str, name: &str) -> String {
    let mut path = String::with_capacity(parent.len() + 2 + name.len());
    path.push_str(parent);
    path.push_str("::");
    path.push_str(name);
    path
}

/// (nodes, edges) that `items` and their children make, at most: the part's vectors are
/// sized once from it instead of grown by doubling (each growth copies every node made
/// so far).
fn capacity(items: &[ItemFact]) -> (usize, usize) {
    items.iter().fold((0, 0), |(nodes, edges), it| {
        let (n, e) = if it.kind == NodeKind::Module {
            // An inline module is an instance of its own; its items are not made here.
            (0, 0)
        } else {
            capacity(&it.children)
        };
        (nodes + 1 + n, edges + 1 + it.types.len() + e)
    })
}

fn assemble<'a>(inst: &'a Instance, krate: &Arc<str>) -> Part<'a> {
    let items = flatten(inst.items());
    let (nodes, edges) = capacity(inst.items());
    let mut part = Part {
        module: inst.module,
        target: inst.target,
        nodes: Vec::with_capacity(nodes),
        kinds: Vec::with_capacity(nodes),
        edges: Vec::with_capacity(edges),
        pending: Vec::new(),
        scope_items: Vec::new(),
        uses: Vec::new(),
        globs: Vec::new(),
        members: Vec::new(),
        impls: Vec::new(),
        methods: Vec::new(),
        typed: Vec::new(),
        opaque_calls: 0,
    };
    let mut ordinals = Ordinals::new();
    for item in items {
        if item
            .module()
            .is_some_and(|m| m.include || m.invoke.is_some())
        {
            // An `include!` or a fixed macro's invocation: the walker mounted those
            // items into this module as an instance of their own.
            continue;
        }
        let ordinal = ordinals.next(item.kind, &item.name);
        if item.kind == NodeKind::Module {
            // The walker made the node; only the name goes into the scope.
            let id = item_id(inst.id_parent, NodeKind::Module, &item.name, ordinal);
            part.scope_items.push((&item.name, NodeKind::Module, id));
            continue;
        }
        let ctx = EmitCtx {
            inst,
            krate,
            parent: inst.module,
            id_parent: inst.id_parent,
            parent_kind: NodeKind::Module,
            parent_path: &inst.path,
            owner: Owner::None,
            locals: None,
        };
        let id = emit(&ctx, item, ordinal, &mut part);
        if item.kind == NodeKind::Use {
            if let Some(u) = item.use_path() {
                if u.glob {
                    part.globs.push(&u.segments);
                } else {
                    part.uses.push((&item.name, &u.segments));
                }
            }
        } else if item.kind != NodeKind::Impl {
            part.scope_items.push((&item.name, item.kind, id));
        }
    }
    part
}

/// Top-level items with transparent groups (`use` lists, `extern` blocks) spliced in.
fn flatten(items: &[ItemFact]) -> Vec<&ItemFact> {
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        if it.detail.as_deref() == Some(GROUP) {
            out.extend(it.children.iter());
        } else {
            out.push(it);
        }
    }
    out
}

struct EmitCtx<'a> {
    inst: &'a Instance,
    krate: &'a Arc<str>,
    parent: NodeId,
    /// The parent in the item's ID key (see [`Instance::id_parent`]).
    id_parent: NodeId,
    /// The enclosing functions that declare items in their bodies, outermost first:
    /// where a name in a body is looked up before the module.
    locals: Option<Arc<[NodeId]>>,
    parent_kind: NodeKind,
    parent_path: &'a str,
    owner: Owner,
}

fn emit<'a>(ctx: &EmitCtx<'_>, item: &'a ItemFact, ordinal: u32, part: &mut Part<'a>) -> NodeId {
    let id = item_id(ctx.id_parent, item.kind, &item.name, ordinal);
    let path = join_path(ctx.parent_path, &item.name);
    let is_fn = matches!(item.kind, NodeKind::Function | NodeKind::Method);
    // A function with items in its body is a scope of its own for its body (and for
    // the bodies of those items).
    let locals = if is_fn && !item.children.is_empty() {
        let mut l: Vec<NodeId> = ctx.locals.as_deref().unwrap_or_default().to_vec();
        l.push(id);
        Some(Arc::from(l))
    } else {
        ctx.locals.clone()
    };
    let (from, kind, to) = match (ctx.parent_kind, item.kind) {
        (NodeKind::Impl | NodeKind::Trait, _) => (ctx.parent, EdgeKind::Defines, id),
        (_, NodeKind::Field) => (id, EdgeKind::FieldOf, ctx.parent),
        (_, NodeKind::Variant) => (id, EdgeKind::VariantOf, ctx.parent),
        _ => (ctx.parent, EdgeKind::Contains, id),
    };
    part.edges.push(Edge { from, kind, to });
    // Fields are members only when typing can use them (a field of a primitive or std
    // type is never looked up): on a large input, most are not.
    let typed_field = item.kind == NodeKind::Field && item.typed().is_some();
    if matches!(
        ctx.parent_kind,
        NodeKind::Impl | NodeKind::Trait | NodeKind::Enum | NodeKind::Function | NodeKind::Method
    ) || typed_field
    {
        part.members.push((ctx.parent, &item.name, item.kind, id));
    }
    if item.kind == NodeKind::Method && matches!(item.detail.as_deref(), Some("inherent" | "trait"))
    {
        part.methods.push((&item.name, id));
    }
    for (k, t) in &item.types {
        part.edges.push(Edge {
            from: id,
            kind: *k,
            to: *t,
        });
    }
    let fn_fact = item.fn_fact();
    let env = fn_fact.map(|f| &f.env);
    for callee in &item.calls {
        part.pending.push(Pending::Call {
            from: id,
            module: ctx.inst.module,
            target: ctx.inst.target,
            owner: ctx.owner.clone(),
            locals: locals.clone(),
            callee,
        });
    }
    let ty = fn_fact.and_then(|f| f.ret.as_ref()).or(item.typed());
    if ty.is_some() || env.is_some() {
        part.typed.push((
            id,
            TypeSite {
                ty,
                env,
                module: ctx.inst.module,
                locals: ctx.locals.clone(),
                owner: ctx.owner.clone(),
            },
        ));
    }
    part.opaque_calls += u64::from(item.opaque_calls);
    if let Some(u) = item.use_path() {
        part.pending.push(Pending::Import {
            from: id,
            module: ctx.inst.module,
            path: &u.segments,
            glob: u.glob,
        });
    }
    let mut owner = Owner::None;
    if let Some(imp) = item.imp() {
        owner = Owner::Impl(id);
        part.impls.push(ImplSite {
            id,
            module: ctx.inst.module,
            locals: locals.clone(),
            imp,
        });
        if let Some(tp) = &imp.trait_path {
            part.pending.push(Pending::Implements {
                from: id,
                module: ctx.inst.module,
                path: tp,
                fallback: imp.trait_type,
            });
        }
    }
    if item.kind == NodeKind::Trait {
        owner = Owner::Trait(id);
    }
    // A macro's children are its fixed expansion, mounted where it is invoked.
    if !item.children.is_empty() && item.kind != NodeKind::Macro {
        let child_ctx = EmitCtx {
            inst: ctx.inst,
            krate: ctx.krate,
            parent: id,
            id_parent: id,
            parent_kind: item.kind,
            parent_path: &path,
            owner,
            locals,
        };
        let mut ordinals = Ordinals::new();
        for child in &item.children {
            let o = ordinals.next(child.kind, &child.name);
            emit(&child_ctx, child, o, part);
        }
    }
    part.kinds.push((id, item.kind));
    part.nodes.push(Node {
        id,
        kind: item.kind,
        name: item.name.clone(),
        path,
        krate: Arc::clone(ctx.krate),
        file: Some(Arc::clone(&ctx.inst.file)),
        line: item.line,
        attrs: item.attrs.clone(),
        detail: item.detail.as_deref().map(str::to_owned),
    });
    id
}

#[cfg(test)]
mod canonical_tests {
    use super::Canonical;

    #[test]
    fn remembered_folders_give_what_canonicalize_gives() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir_all(real.join("sub")).unwrap();
        std::fs::write(real.join("a.rs"), "").unwrap();
        std::fs::write(real.join("sub/b.rs"), "").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
            std::os::unix::fs::symlink(real.join("a.rs"), real.join("alias.rs")).unwrap();
        }
        let mut c = Canonical::default();
        let mut paths = vec![
            real.join("a.rs"),
            real.join("sub/b.rs"),
            real.join("sub/../a.rs"),
            real.join("missing.rs"),
        ];
        if cfg!(unix) {
            paths.extend([
                dir.path().join("link/a.rs"),
                dir.path().join("link/sub/b.rs"),
                real.join("alias.rs"),
            ]);
        }
        // Twice: the second time from the remembered folders.
        for _ in 0..2 {
            for p in &paths {
                let want = std::fs::canonicalize(p).map_err(|e| e.kind());
                assert_eq!(c.path(p).map_err(|e| e.kind()), want, "{}", p.display());
            }
        }
    }
}
