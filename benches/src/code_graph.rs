//! Benchmarks and stress run of `code-graph`.
//!
//! Inputs: a generated synthetic crate (so sizes are controlled and identical on every
//! machine) and, where the local cargo registry has them, real crates (`syn`,
//! `regex-syntax`, `clap_builder`, `rayon`, `proptest`, `serde_core`).
//!
//! - `build`: a whole build, sequential (the seed's "before") against parallel with the
//!   `DashMap` interner and with a `Mutex<HashMap>` interner; one op = one byte of source.
//! - `build-items`: the same runs counted in graph nodes per second.
//! - `build-real`: sequential against parallel on real registry crates, bytes per second.
//! - `per-file`: single-thread cost per file, bare `syn::parse_file` (baseline) against
//!   parse + extraction (`extract`) and the whole sequential build (`build`).
//! - `ids`: one node ID, the seed's atomic counter against the stable hash.
//! - `intern`: one type-interner lookup, `DashMap` against `Mutex<HashMap>`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bench_harness::{BenchSpec, Budget, Measurement, Suite};
use code_graph::{
    build, id, to_json, BuildOptions, DashMapInterner, InternerChoice, LocalInterner,
    MutexInterner, NodeKind, SeedIdAllocator, TypeInterner,
};
use rand::Rng;

use crate::StressContext;

const BUILD: BenchSpec = BenchSpec {
    crate_name: "code-graph",
    bench: "build",
    description:
        "A whole graph build of a generated crate; one op = one byte of source (ops/s = B/s).",
    baseline: "sequential",
    seed_target: None,
};

const BUILD_ITEMS: BenchSpec = BenchSpec {
    crate_name: "code-graph",
    bench: "build-items",
    description: "The `build` runs counted in graph nodes produced per second.",
    baseline: "sequential",
    seed_target: None,
};

const BUILD_REAL: BenchSpec = BenchSpec {
    crate_name: "code-graph",
    bench: "build-real",
    description:
        "A whole graph build of real crates from the local cargo registry; one op = one byte.",
    baseline: "sequential",
    seed_target: Some("parallel at 2 threads >= 1.6x sequential (issue 8)"),
};

const PER_FILE: BenchSpec = BenchSpec {
    crate_name: "code-graph",
    bench: "per-file",
    description: "Single-thread processing of the generated crate's files; one op = one byte. The three variants are timed in interleaved rounds (quick: 15, median).",
    baseline: "syn-parse",
    seed_target: Some("end-to-end >= 0.8x bare syn::parse_file (issue 8)"),
};

const VS_CTAGS: BenchSpec = BenchSpec {
    crate_name: "code-graph",
    bench: "vs-ctags",
    description: "Whole graph builds of real registry crates (syn, serde, rayon, regex-syntax, and tokio when present) against Universal Ctags indexing the same source directories; one op = one byte. ctags is single-threaded: its figure is repeated in each thread column. `code-graph-cli` is what a user gets: the `code-graph` binary (mimalloc, its allocator), one process per crate, writing the compact export where ctags writes its tags (to /dev/null); `code-graph-cli-system-alloc` is the same binary with `CODE_GRAPH_ALLOCATOR=system`. The in-process variants run `build` in this program (system allocator, no export): `code-graph` as it is, `code-graph-parse-bodies` with every function body parsed by syn (before the body reader), `code-graph-parse-docs` with that and doc comments tokenised (before they were blanked out), `code-graph-parse-data` with that and every const/static initialiser parsed (before they were stepped over). All are timed in interleaved rounds (median). When tokio is present, `vs-ctags-tokio` times the binary and ctags on tokio alone, the tree the target names.",
    baseline: "ctags",
    // Issue 16's target names tokio: it is `vs-ctags-tokio`'s.
    seed_target: None,
};

const VS_CTAGS_TOKIO: BenchSpec = BenchSpec {
    crate_name: "code-graph",
    bench: "vs-ctags-tokio",
    description: "The `code-graph` binary (compact export to /dev/null) against Universal Ctags on tokio's source alone (src, tests, examples, benches), one process each, timed in interleaved rounds (median); one op = one byte. `code-graph-cli-parse-bodies` is the same binary with every function body parsed by syn (`--parse-bodies`), the build before the body reader.",
    baseline: "ctags",
    seed_target: Some("code-graph-cli at 2 threads >= 0.5x ctags on tokio, i.e. at most 2x its wall time (issue 16)"),
};

const IDS: BenchSpec = BenchSpec {
    crate_name: "code-graph",
    bench: "ids",
    description: "One node ID: the seed's shared fetch_add counter against a stable key hash.",
    baseline: "atomic-counter",
    seed_target: None,
};

const INTERN: BenchSpec = BenchSpec {
    crate_name: "code-graph",
    bench: "intern",
    description: "One type-interner lookup (about 5% first sightings) from every thread.",
    baseline: "dashmap",
    seed_target: None,
};

/// A generated crate on disk, removed when dropped.
pub struct Synthetic {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

impl Synthetic {
    /// Writes a crate with `modules` module files of `items` item groups each.
    pub fn new(tag: &str, modules: usize, items: usize) -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "code-graph-bench-{tag}-{}-{modules}x{items}",
            std::process::id()
        ));
        let src = dir.join("src");
        std::fs::create_dir_all(&src)?;
        std::fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"synthetic\"\nversion = \"0.1.0\"\n",
        )?;
        let mut lib = String::from("//! Generated.\n");
        let mut files = vec![src.join("lib.rs")];
        for m in 0..modules {
            let _ = writeln!(lib, "pub mod m{m};");
            let mut text = String::from("use std::collections::HashMap;\nuse crate::m0::S0;\n\n");
            for i in 0..items {
                let _ = write!(
                    text,
                    r#"/// Item {i}.
#[derive(Debug, Clone, Default)]
pub struct S{i} {{
    pub id: u64,
    pub name: String,
    pub tags: Vec<String>,
    pub index: HashMap<String, Vec<u{bits}>>,
}}

pub enum E{i} {{ A(u32), B {{ x: i64, y: Option<S{i}> }}, C }}

pub trait T{i} {{
    fn run(&self, input: &[u8]) -> Result<usize, String>;
    fn name(&self) -> String {{ self.label() }}
    fn label(&self) -> String;
}}

impl S{i} {{
    pub fn new(id: u64) -> Self {{ Self::check(id); S{i} {{ id, ..Default::default() }} }}
    fn check(id: u64) -> bool {{ id > {i} }}
    pub fn total(&self, extra: Option<&S0>) -> usize {{
        let mut n = self.tags.len();
        for t in &self.tags {{ n += t.len(); }}
        if let Some(e) = extra {{ n += e.tags.len(); }}
        helper_{i}(n)
    }}
}}

impl T{i} for S{i} {{
    fn run(&self, input: &[u8]) -> Result<usize, String> {{
        if input.is_empty() {{ return Err(String::from("empty")); }}
        Ok(self.total(None) + input.len())
    }}
    fn label(&self) -> String {{ format!("{{}}-{{}}", self.name, self.id) }}
}}

pub fn helper_{i}(n: usize) -> usize {{ n.wrapping_mul(31).rotate_left({rot}) }}

pub const LIMIT_{i}: usize = {i} * 64;

"#,
                    bits = [8, 16, 32, 64][i % 4],
                    rot = i % 31,
                );
            }
            let path = src.join(format!("m{m}.rs"));
            std::fs::write(&path, text)?;
            files.push(path);
        }
        std::fs::write(src.join("lib.rs"), lib)?;
        Ok(Synthetic { dir, files })
    }

    /// The crate directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sources(&self) -> Vec<String> {
        self.files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .collect()
    }
}

impl Drop for Synthetic {
    fn drop(&mut self) {
        // Best effort: a leftover temporary directory is harmless.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn registry_crates(names: &[&str]) -> Vec<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry/src")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let Ok(indexes) = std::fs::read_dir(src) else {
        return out;
    };
    let entries: Vec<PathBuf> = indexes
        .flatten()
        .filter_map(|i| std::fs::read_dir(i.path()).ok())
        .flat_map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .collect();
    for name in names {
        let mut found: Vec<&PathBuf> = entries
            .iter()
            .filter(|p| {
                p.file_name().map(|f| f.to_string_lossy()).is_some_and(|f| {
                    f.strip_prefix(name)
                        .and_then(|r| r.strip_prefix('-'))
                        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
                })
            })
            .collect();
        found.sort();
        if let Some(p) = found.pop() {
            out.push(p.clone());
        }
    }
    out
}

fn build_bytes(dirs: &[PathBuf], options: &BuildOptions) -> (u64, u64) {
    let mut bytes = 0;
    let mut nodes = 0;
    for d in dirs {
        if let Ok(g) = build(d, options) {
            bytes += g.metrics.bytes;
            nodes += g.nodes.len() as u64;
        }
    }
    (bytes, nodes)
}

fn scaled(m: &Measurement, factor: f64) -> Measurement {
    Measurement {
        ops_per_sec: m.ops_per_sec * factor,
        min_ops_per_sec: m.min_ops_per_sec * factor,
        max_ops_per_sec: m.max_ops_per_sec * factor,
        samples: m.samples,
    }
}

/// Measures every benchmark of the crate.
pub fn bench(suite: &mut Suite) {
    let mode = suite.mode();
    let (modules, items) = mode.pick((4, 2), (60, 8), (200, 12));
    let synthetic = match Synthetic::new("bench", modules, items) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("code-graph: cannot write the synthetic crate: {e}");
            return;
        }
    };
    let dirs = vec![synthetic.dir().to_owned()];
    let (bytes, nodes) = build_bytes(&dirs, &BuildOptions::sequential());
    let items_per_byte = nodes as f64 / bytes.max(1) as f64;
    let threads = suite.threads().to_vec();

    // Whole builds.
    let m = suite.measure_task(
        &BUILD,
        "sequential",
        1,
        || (),
        |()| build_bytes(&dirs, &BuildOptions::sequential()).0,
    );
    suite.record(&BUILD_ITEMS, "sequential", 1, scaled(&m, items_per_byte));
    for &t in &threads {
        for (variant, interner) in [
            ("parallel-dashmap", InternerChoice::DashMap),
            ("parallel-mutex", InternerChoice::Mutex),
        ] {
            let options = BuildOptions {
                interner,
                ..BuildOptions::parallel(t)
            };
            let m = suite.measure_task(
                &BUILD,
                variant,
                t,
                || (),
                |()| build_bytes(&dirs, &options).0,
            );
            suite.record(&BUILD_ITEMS, variant, t, scaled(&m, items_per_byte));
        }
    }

    // Real crates, when the registry has them.
    let names: &[&str] = mode.pick(
        &["walkdir"][..],
        &["syn", "regex-syntax"][..],
        &[
            "syn",
            "regex-syntax",
            "clap_builder",
            "rayon",
            "proptest",
            "serde_core",
        ][..],
    );
    let real = registry_crates(names);
    if real.is_empty() {
        eprintln!("code-graph: no registry crates found; build-real skipped (run `cargo fetch`)");
    } else {
        suite.measure_task(
            &BUILD_REAL,
            "sequential",
            1,
            || (),
            |()| build_bytes(&real, &BuildOptions::sequential()).0,
        );
        for &t in &threads {
            suite.measure_task(
                &BUILD_REAL,
                "parallel",
                t,
                || (),
                |()| build_bytes(&real, &BuildOptions::parallel(t)).0,
            );
        }
    }

    vs_ctags(suite, &threads);

    // Per-file cost on one thread: parse only, parse + extract, whole build. One sample
    // is one pass over the crate (about 0.1 s), so three samples taken one variant after
    // the other let a single preempted pass move a median; the three variants are timed
    // in interleaved rounds instead (rotating which goes first), and each gets the median
    // of its rounds.
    let sources = synthetic.sources();
    let total: u64 = sources.iter().map(|s| s.len() as u64).sum();
    let parse = || {
        for s in &sources {
            let _ = std::hint::black_box(code_graph::parse_only(s));
        }
        total
    };
    let extract = || {
        let interner = LocalInterner::new();
        for s in &sources {
            let _ = std::hint::black_box(code_graph::extract_only(s, &interner));
        }
        total
    };
    let build = || build_bytes(&dirs, &BuildOptions::sequential()).0;
    let variants: [(&str, &dyn Fn() -> u64); 3] = [
        ("syn-parse", &parse),
        ("extract", &extract),
        ("build", &build),
    ];
    let rounds = mode.pick(1, 15, 41);
    let mut rates = vec![Vec::with_capacity(rounds); variants.len()];
    for round in 0..rounds {
        for k in 0..variants.len() {
            let v = (round + k) % variants.len();
            let start = std::time::Instant::now();
            let bytes = (variants[v].1)();
            rates[v].push(bytes as f64 / start.elapsed().as_secs_f64().max(1e-9));
        }
    }
    for ((name, _), rates) in variants.iter().zip(&rates) {
        if let Some(m) = bench_harness::Measurement::from_samples(rates) {
            suite.record(&PER_FILE, name, 1, m);
        }
    }

    // ID allocation.
    let ops = mode.pick(20_000, 2_000_000, 10_000_000);
    let names: Vec<String> = (0..1024).map(|i| format!("item_{i}")).collect();
    let parent = id::crate_id("bench");
    for &t in &threads {
        suite.measure(
            &IDS,
            "atomic-counter",
            t,
            Budget::Ops(ops),
            SeedIdAllocator::new,
            |a, _, _| {
                std::hint::black_box(a.next_node_id());
            },
        );
        suite.measure(
            &IDS,
            "stable-hash",
            t,
            Budget::Ops(ops),
            || (),
            |(), th, i| {
                let name = &names[(i as usize + th) % names.len()];
                std::hint::black_box(id::item_id(parent, NodeKind::Function, name, th as u32));
            },
        );
    }

    // Type interning.
    let texts: Vec<String> = (0..4096)
        .map(|i| format!("HashMap<String, Vec<T{}>>", i % 2048))
        .collect();
    let ops = mode.pick(20_000, 1_000_000, 5_000_000);
    for &t in &threads {
        suite.measure(
            &INTERN,
            "dashmap",
            t,
            Budget::Ops(ops),
            DashMapInterner::new,
            |m, th, i| {
                let text = &texts[(i as usize * 7 + th * 131) % texts.len()];
                std::hint::black_box(m.intern(text));
            },
        );
        suite.measure(
            &INTERN,
            "mutex",
            t,
            Budget::Ops(ops),
            MutexInterner::new,
            |m, th, i| {
                let text = &texts[(i as usize * 7 + th * 131) % texts.len()];
                std::hint::black_box(m.intern(text));
            },
        );
    }
}

/// Universal Ctags over the crates' source directories, writing its tags nowhere.
fn run_ctags(dirs: &[PathBuf]) -> Result<(), String> {
    let mut cmd = std::process::Command::new("ctags");
    cmd.args(["-R", "--languages=Rust", "-f", "-"]);
    for d in dirs {
        for sub in ["src", "tests", "examples", "benches"] {
            if d.join(sub).is_dir() {
                cmd.arg(d.join(sub));
            }
        }
    }
    let out = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    if out.success() {
        Ok(())
    } else {
        Err(format!("ctags exited with {out}"))
    }
}

/// Builds the `code-graph` binary (the profile of this program) and returns its path.
/// It is what a user runs, with its own allocator, which this program does not have.
fn cli_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe
        .parent()
        .ok_or("the benchmark program has no folder")?
        .to_owned();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no workspace root")?;
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(root).args([
        "build",
        "--quiet",
        "-p",
        "code-graph",
        "--bin",
        "code-graph",
    ]);
    if dir.file_name().is_some_and(|d| d == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build of the code-graph binary: {status}"));
    }
    let bin = dir.join(format!("code-graph{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{} not found after the build", bin.display()))
    }
}

/// The `code-graph` binary over each crate, writing the compact JSON export where ctags
/// writes its tags (nowhere); `system` selects the system allocator instead of mimalloc.
fn run_cli(bin: &Path, dirs: &[PathBuf], threads: usize, system: bool) -> Result<(), String> {
    run_cli_with(bin, dirs, threads, system, false)
}

/// [`run_cli`]; `parse_bodies`: with every function body parsed by syn.
fn run_cli_with(
    bin: &Path,
    dirs: &[PathBuf],
    threads: usize,
    system: bool,
    parse_bodies: bool,
) -> Result<(), String> {
    for d in dirs {
        let mut cmd = std::process::Command::new(bin);
        cmd.arg(d)
            .args(["--format", "compact", "--no-progress", "--threads"])
            .arg(threads.to_string());
        if system {
            cmd.env("CODE_GRAPH_ALLOCATOR", "system");
        }
        if parse_bodies {
            cmd.arg("--parse-bodies");
        }
        let status = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("code-graph {}: {status}", d.display()));
        }
    }
    Ok(())
}

/// The CPU time (user and system) of this program and of its waited-for children so
/// far, from `/proc/self/stat` (Linux; `None` elsewhere). Wall time on a shared machine
/// moves with the other work on it; the CPU time a run used moves much less.
fn cpu_time() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // After the command name in parentheses: field 3 (state) onwards; utime, stime,
    // cutime and cstime are fields 14 to 17, in clock ticks of 1/100 s (USER_HZ).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let mut ticks = 0u64;
    for k in 11..15 {
        ticks += fields.get(k)?.parse::<u64>().ok()?;
    }
    Some(std::time::Duration::from_millis(ticks * 10))
}

/// The median of `v` (which it sorts), or `None` when empty.
fn median(v: &mut [f64]) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// One way of running code-graph in the `vs-ctags` comparison.
enum Run {
    /// The binary as a user runs it; `true`: with the system allocator.
    Cli(bool),
    /// `build` in this process (the system allocator), with these options.
    InProcess(BuildOptions),
}

/// code-graph against Universal Ctags on the same real crates, side by side.
fn vs_ctags(suite: &mut Suite, threads: &[usize]) {
    let installed = std::process::Command::new("ctags")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        eprintln!("code-graph: vs-ctags skipped: universal-ctags (`ctags`) not installed");
        return;
    }
    // tokio is measured where a developer has its source in the registry; it is not a
    // dependency of this workspace, so it is often absent, and the report says so.
    // A smoke run (a debug build, once) only proves the comparison works: one small
    // tree.
    let trees: &[&str] = suite.mode().pick(
        &["serde"][..],
        &["syn", "serde", "rayon", "regex-syntax", "tokio"][..],
        &["syn", "serde", "rayon", "regex-syntax", "tokio"][..],
    );
    let mut real = Vec::new();
    for &name in trees {
        match registry_crates(&[name]).pop() {
            Some(dir) => {
                eprintln!("code-graph: vs-ctags: {name}: {}", dir.display());
                real.push(dir);
            }
            None => {
                eprintln!("code-graph: vs-ctags: {name}: not present in the local cargo registry")
            }
        }
    }
    if real.is_empty() {
        eprintln!("code-graph: vs-ctags skipped: no registry crates (run `cargo fetch`)");
        return;
    }
    let cli = match cli_binary() {
        Ok(bin) => Some(bin),
        Err(e) => {
            eprintln!("code-graph: vs-ctags: the binary's variants skipped: {e}");
            None
        }
    };
    let (bytes, _) = build_bytes(&real, &BuildOptions::parallel(1));
    let rounds = suite.mode().pick(1, 5, 11);
    let mut ctags_rates = Vec::with_capacity(rounds);
    // Per thread count: the binary with mimalloc and with the system allocator, and the
    // build in this process as it is, with doc comments tokenised (`parse_docs`, the
    // build before they were blanked out), and with every initialiser parsed too
    // (`parse_data`, before data initialisers were stepped over).
    let mut runs: Vec<(&str, usize, Run)> = Vec::new();
    for &t in threads {
        if cli.is_some() {
            runs.push(("code-graph-cli", t, Run::Cli(false)));
            runs.push(("code-graph-cli-system-alloc", t, Run::Cli(true)));
        }
        runs.push(("code-graph", t, Run::InProcess(BuildOptions::parallel(t))));
        runs.push((
            "code-graph-parse-bodies",
            t,
            Run::InProcess(BuildOptions {
                parse_bodies: true,
                ..BuildOptions::parallel(t)
            }),
        ));
        runs.push((
            "code-graph-parse-docs",
            t,
            Run::InProcess(BuildOptions {
                parse_bodies: true,
                parse_docs: true,
                ..BuildOptions::parallel(t)
            }),
        ));
        runs.push((
            "code-graph-parse-data",
            t,
            Run::InProcess(BuildOptions {
                parse_bodies: true,
                parse_docs: true,
                parse_data: true,
                ..BuildOptions::parallel(t)
            }),
        ));
    }
    let mut graph_rates = vec![Vec::with_capacity(rounds); runs.len()];
    // CPU seconds per round of each run (ctags last).
    let mut cpu = vec![Vec::with_capacity(rounds); runs.len() + 1];
    for round in 0..rounds {
        // Alternate which goes first, so a slow moment of the machine hits all.
        for step in 0..=runs.len() {
            let which = (round + step) % (runs.len() + 1);
            let start = std::time::Instant::now();
            let cpu_start = cpu_time();
            if which == runs.len() {
                if run_ctags(&real).is_err() {
                    return;
                }
                ctags_rates.push(bytes as f64 / start.elapsed().as_secs_f64().max(1e-9));
                if let (Some(a), Some(b)) = (cpu_start, cpu_time()) {
                    cpu[which].push((b - a).as_secs_f64());
                }
                continue;
            }
            let (_, t, run) = &runs[which];
            let done = match (run, &cli) {
                (Run::Cli(system), Some(bin)) => match run_cli(bin, &real, *t, *system) {
                    Ok(()) => bytes,
                    Err(e) => {
                        eprintln!("code-graph: vs-ctags: {e}");
                        return;
                    }
                },
                (Run::InProcess(options), _) => build_bytes(&real, options).0,
                (Run::Cli(_), None) => continue,
            };
            graph_rates[which].push(done as f64 / start.elapsed().as_secs_f64().max(1e-9));
            if let (Some(a), Some(b)) = (cpu_start, cpu_time()) {
                cpu[which].push((b - a).as_secs_f64());
            }
        }
    }
    let Some(ctags) = Measurement::from_samples(&ctags_rates) else {
        return;
    };
    for &t in threads {
        suite.record(&VS_CTAGS, "ctags", t, ctags.clone());
    }
    let c = ctags.ops_per_sec;
    let mut medians: Vec<(&str, usize, f64)> = Vec::new();
    for ((variant, t, _), rates) in runs.iter().zip(&graph_rates) {
        if let Some(m) = Measurement::from_samples(rates) {
            eprintln!(
                "code-graph: vs-ctags: {variant} at {t} thread(s): {:.2} MB/s against ctags {:.2} MB/s: {:.2}x its throughput, {:.1}x its wall time",
                m.ops_per_sec / 1e6,
                c / 1e6,
                m.ops_per_sec / c,
                c / m.ops_per_sec
            );
            medians.push((variant, *t, m.ops_per_sec));
            suite.record(&VS_CTAGS, variant, *t, m);
        }
    }
    // CPU time, which the machine's other work moves less than wall time (the
    // in-process runs include this program's own threads): at 2 threads and perfect scaling, code-graph's wall time is half its CPU
    // time, so "at most 2x ctags' wall time" needs at most 4x its CPU time.
    if let Some(ctags_cpu) = median(&mut cpu[runs.len()]).filter(|c| *c > 0.0) {
        eprintln!(
            "code-graph: vs-ctags: CPU time per round (median): ctags {:.0} ms",
            ctags_cpu * 1e3
        );
        for (k, (variant, t, _)) in runs.iter().enumerate() {
            if let Some(c) = median(&mut cpu[k]) {
                eprintln!(
                    "code-graph: vs-ctags: CPU time per round (median): {variant} at {t} thread(s) {:.0} ms, {:.1}x ctags'",
                    c * 1e3,
                    c / ctags_cpu
                );
            }
        }
    }
    // The before/after pairs, same run, same thread count.
    let rate = |v: &str, t: usize| {
        medians
            .iter()
            .find(|(n, th, _)| *n == v && *th == t)
            .map(|m| m.2)
    };
    for &t in threads {
        for (after, before) in [
            ("code-graph-cli", "code-graph-cli-system-alloc"),
            ("code-graph", "code-graph-parse-bodies"),
            ("code-graph-parse-bodies", "code-graph-parse-docs"),
            ("code-graph-parse-docs", "code-graph-parse-data"),
        ] {
            if let (Some(a), Some(b)) = (rate(after, t), rate(before, t)) {
                eprintln!(
                    "code-graph: vs-ctags: {after} / {before} at {t} thread(s): {:.2}x",
                    a / b
                );
            }
        }
    }
    if let Some(bin) = &cli {
        vs_ctags_tokio(suite, threads, bin);
    }
}

/// The binary against ctags on tokio alone, the tree issue 16's target names.
fn vs_ctags_tokio(suite: &mut Suite, threads: &[usize], bin: &Path) {
    let Some(tokio) = registry_crates(&["tokio"]).pop() else {
        eprintln!("code-graph: vs-ctags-tokio skipped: tokio is not in the local cargo registry");
        return;
    };
    let dirs = [tokio];
    let (bytes, _) = build_bytes(&dirs, &BuildOptions::parallel(1));
    let rounds = suite.mode().pick(1, 11, 21);
    // Per thread count: the binary as it is, and with every body parsed by syn; ctags
    // last.
    let runs: Vec<(&str, usize, bool)> = threads
        .iter()
        .flat_map(|&t| {
            [
                ("code-graph-cli", t, false),
                ("code-graph-cli-parse-bodies", t, true),
            ]
        })
        .collect();
    let mut wall = vec![Vec::with_capacity(rounds); runs.len() + 1];
    let mut cpu = vec![Vec::with_capacity(rounds); runs.len() + 1];
    for round in 0..rounds {
        for step in 0..=runs.len() {
            let which = (round + step) % (runs.len() + 1);
            let start = std::time::Instant::now();
            let cpu_start = cpu_time();
            let result = match runs.get(which) {
                Some(&(_, t, parse_bodies)) => run_cli_with(bin, &dirs, t, false, parse_bodies),
                None => run_ctags(&dirs),
            };
            if let Err(e) = result {
                eprintln!("code-graph: vs-ctags-tokio: {e}");
                return;
            }
            wall[which].push(start.elapsed().as_secs_f64());
            if let (Some(a), Some(b)) = (cpu_start, cpu_time()) {
                cpu[which].push((b - a).as_secs_f64());
            }
        }
    }
    let rate = |seconds: &[f64]| {
        let rates: Vec<f64> = seconds.iter().map(|s| bytes as f64 / s.max(1e-9)).collect();
        Measurement::from_samples(&rates)
    };
    let Some(ctags) = rate(&wall[runs.len()]) else {
        return;
    };
    let ctags_wall = median(&mut wall[runs.len()]).unwrap_or(0.0);
    let ctags_cpu = median(&mut cpu[runs.len()]).unwrap_or(0.0);
    eprintln!(
        "code-graph: vs-ctags-tokio: ctags {:.0} ms wall, {:.0} ms CPU ({:.1} MB)",
        ctags_wall * 1e3,
        ctags_cpu * 1e3,
        bytes as f64 / 1e6
    );
    for &t in threads {
        suite.record(&VS_CTAGS_TOKIO, "ctags", t, ctags.clone());
    }
    for (k, (variant, t, _)) in runs.iter().enumerate() {
        let Some(m) = rate(&wall[k]) else {
            continue;
        };
        let w = median(&mut wall[k]).unwrap_or(0.0);
        let c = median(&mut cpu[k]).unwrap_or(0.0);
        eprintln!(
            "code-graph: vs-ctags-tokio: {variant} at {t} thread(s): {:.0} ms wall, {:.0} ms CPU: {:.2}x ctags' wall time, {:.2}x its CPU time",
            w * 1e3,
            c * 1e3,
            w / ctags_wall.max(1e-9),
            c / ctags_cpu.max(1e-9)
        );
        suite.record(&VS_CTAGS_TOKIO, variant, *t, m);
    }
}

/// Repeated parallel builds of a generated crate with random thread counts and file
/// orders, from several threads at once; every export must equal the sequential one.
pub fn stress(ctx: &StressContext) -> Result<String, String> {
    let synthetic = Synthetic::new("stress", 24, 4).map_err(|e| e.to_string())?;
    let reference = build(synthetic.dir(), &BuildOptions::sequential())
        .map_err(|e| e.to_string())
        .and_then(|g| to_json(&g).map_err(|e| e.to_string()))?;
    let builds = std::sync::atomic::AtomicU64::new(0);
    let failure = parking_lot::Mutex::new(None::<String>);
    std::thread::scope(|scope| {
        for thread in 0..ctx.threads {
            let (reference, builds, failure, dir) =
                (&reference, &builds, &failure, synthetic.dir());
            scope.spawn(move || {
                let mut rng = ctx.rng(thread as u64);
                while ctx.keep_going() && failure.lock().is_none() {
                    let threads = rng.gen_range(1..=8);
                    let seed: u64 = rng.gen();
                    let interner = if rng.gen_bool(0.5) {
                        InternerChoice::DashMap
                    } else {
                        InternerChoice::Mutex
                    };
                    let options = BuildOptions {
                        shuffle_seed: Some(seed),
                        interner,
                        ..BuildOptions::parallel(threads)
                    };
                    let got = build(dir, &options)
                        .map_err(|e| e.to_string())
                        .and_then(|g| to_json(&g).map_err(|e| e.to_string()));
                    match got {
                        Ok(json) if json == *reference => {}
                        Ok(_) => {
                            *failure.lock() = Some(format!(
                                "export differs from the sequential one ({threads} threads, shuffle seed {seed}, {interner:?})"
                            ));
                        }
                        Err(e) => *failure.lock() = Some(e),
                    }
                    builds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    ctx.beat();
                }
            });
        }
    });
    if let Some(f) = failure.into_inner() {
        return Err(f);
    }
    Ok(format!(
        "{} parallel builds from {} threads, all byte-identical to the sequential build",
        builds.into_inner(),
        ctx.threads
    ))
}
