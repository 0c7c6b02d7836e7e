//! Benchmarks and stress run of `cow-env`: the seed's phase 1C targets on a 10K-rule
//! environment, for the seed's Mutex-per-field design (`mutex`, the baseline), its
//! RwLock-per-field design (`rwlock`), and the copy-on-write `Environment` on its two
//! storage backends: the crate's own radix trie (`cow`, the default) and the `pathmap`
//! crate (`cow-pathmap`). The locked designs deep-copy all seven fields on the first
//! write after a clone: they are the seed's full deep copy, measured beside the
//! copy-on-write design.
//!
//! Then `metta-run` against the reference interpreter `metta` (`pip install hyperon`) on
//! the same programs (`benches/metta/*.metta`): each is run as a process by both, the
//! results are compared, and both times and the ratio are reported. Without `metta` on
//! the `PATH` the reference rows are skipped and the report says it is not installed.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bench_harness::{BenchSpec, Budget, Measurement, Mode, Suite};
use cow_env::{
    parse_atom, Atom, Environment, Interpreter, LockedEnvironment, MutexEnvironment, PathMapTrie,
    Rule, RuleEnvironment, RwLockEnvironment, RwLockWriteHitKind,
};
use parking_lot::RwLock;
use rand::Rng;

use crate::StressContext;

const CLONE: BenchSpec = BenchSpec {
    crate_name: "cow-env",
    bench: "clone",
    description:
        "One clone (and drop) of a 10K-rule environment; every thread clones the same handle.",
    baseline: "mutex",
    seed_target: Some("seed phase 1C: clone O(1), < 50 ns"),
};

const FIRST_WRITE: BenchSpec = BenchSpec {
    crate_name: "cow-env",
    bench: "first-write",
    description:
        "Clone a 10K-rule environment with a warm pattern cache, add one rule to the clone \
                  (the seed's make_owned), drop it.",
    baseline: "mutex",
    seed_target: Some("seed phase 1C: make_owned() < 100 us"),
};

const UNION_FAST: BenchSpec = BenchSpec {
    crate_name: "cow-env",
    bench: "union-fast-path",
    description: "union(fork, base) where fork = base + 1 rule, 10K rules: the ancestor fast path.",
    baseline: "mutex",
    seed_target: Some("seed phase 1C: union() fast path < 50 ns"),
};

const UNION_DEEP: BenchSpec = BenchSpec {
    crate_name: "cow-env",
    bench: "union-deep-merge",
    description: "union of two forks of a 10K-rule base that each added 100 rules (a real merge).",
    baseline: "mutex",
    seed_target: Some("seed phase 1C: union() deep merge < 100 us"),
};

const READ_HIT: BenchSpec = BenchSpec {
    crate_name: "cow-env",
    bench: "read-cache-hit",
    description:
        "get_matching_rules on a shared 10K-rule environment, 100 hot keys (pattern-cache hits).",
    baseline: "mutex",
    seed_target: Some("seed phase 1C: concurrent reads 4x improvement (RwLock against Mutex)"),
};

const EVAL: BenchSpec = BenchSpec {
    crate_name: "cow-env",
    bench: "eval-fib",
    description: "Evaluate (fib 10) (177 rule applications) against a shared 10K-rule environment.",
    baseline: "mutex",
    seed_target: Some("seed phase 1C: full parallel evaluation < 1% regression"),
};

/// The 10K rules: 1,000 heads `f0..f999` of arity 1, ten rules each.
fn rules(n: usize) -> impl Iterator<Item = Rule> {
    (0..n).map(|i| {
        Rule::new(
            Atom::expr(vec![
                Atom::sym(&format!("f{}", i % 1_000)),
                Atom::Int((i / 1_000) as i64),
            ]),
            Atom::Int(i as i64),
        )
    })
}

fn extra_rule(tag: &str, i: usize) -> Rule {
    Rule::new(
        Atom::expr(vec![Atom::sym(tag), Atom::Int(i as i64)]),
        Atom::Int(i as i64),
    )
}

fn queries() -> Vec<Atom> {
    (0..100)
        .map(|k| Atom::expr(vec![Atom::sym(&format!("f{k}")), Atom::Int(1)]))
        .collect()
}

fn build<E: RuleEnvironment>(n: usize) -> E {
    let mut env = E::empty();
    env.add_rules_bulk(rules(n));
    for q in queries() {
        env.get_matching_rules(&q);
    }
    env
}

fn with_fib<E: RuleEnvironment>(n: usize) -> E {
    let mut env = build::<E>(n);
    for text in [
        "(= (fib 0) 0)",
        "(= (fib 1) 1)",
        "(= (fib $n) (if (> $n 1) (+ (fib (- $n 1)) (fib (- $n 2))) (empty)))",
    ] {
        if let Ok(atom) = parse_atom(text) {
            env.add_atom(atom);
        }
    }
    env
}

fn bench_variant<E: RuleEnvironment>(suite: &mut Suite, variant: &str, n: usize) {
    let threads = suite.threads().to_vec();
    for &t in &threads {
        suite.measure(
            &CLONE,
            variant,
            t,
            Budget::Duration,
            || build::<E>(n),
            |env, _, _| {
                black_box(env.clone());
            },
        );
    }
    suite.measure(
        &FIRST_WRITE,
        variant,
        1,
        Budget::Duration,
        || build::<E>(n),
        |env, _, i| {
            let mut fork = env.clone();
            fork.add_rule(extra_rule("new", i as usize));
            black_box(&fork);
        },
    );
    suite.measure(
        &UNION_FAST,
        variant,
        1,
        Budget::Duration,
        || {
            let base = build::<E>(n);
            let mut fork = base.clone();
            fork.add_rule(extra_rule("new", 0));
            (base, fork)
        },
        |(base, fork), _, _| {
            black_box(fork.union(base));
        },
    );
    suite.measure(
        &UNION_DEEP,
        variant,
        1,
        Budget::Duration,
        || {
            let base = build::<E>(n);
            let mut a = base.clone();
            let mut b = base.clone();
            a.add_rules_bulk((0..100).map(|i| extra_rule("a", i)));
            b.add_rules_bulk((0..100).map(|i| extra_rule("b", i)));
            (a, b)
        },
        |(a, b), _, _| {
            black_box(a.union(b));
        },
    );
    let hot = queries();
    // The seed compares RwLock with Mutex at 2 and 8 threads; 8 joins the sweep here.
    let mut read_threads = threads.clone();
    if !read_threads.contains(&8) {
        read_threads.push(8);
        read_threads.sort_unstable();
    }
    for &t in &read_threads {
        suite.measure(
            &READ_HIT,
            variant,
            t,
            Budget::Duration,
            || build::<E>(n),
            |env, thread, i| {
                let q = &hot[(i as usize * 7 + thread * 13) % hot.len()];
                black_box(env.get_matching_rules(q).len());
            },
        );
    }
    let Ok(fib) = parse_atom("(fib 10)") else {
        return;
    };
    for &t in &threads {
        suite.measure(
            &EVAL,
            variant,
            t,
            Budget::Duration,
            || with_fib::<E>(n),
            |env, _, _| {
                let mut interp = Interpreter::new(env.clone());
                black_box(interp.eval(&fib).map(|r| r.len()).unwrap_or(0));
            },
        );
    }
}

/// Measures every benchmark of issue 7 for the three designs.
pub fn bench(suite: &mut Suite) {
    let n = suite.mode().pick(1_000, 10_000, 10_000);
    bench_variant::<MutexEnvironment>(suite, "mutex", n);
    bench_variant::<RwLockEnvironment>(suite, "rwlock", n);
    bench_variant::<Environment>(suite, "cow", n);
    bench_variant::<Environment<PathMapTrie>>(suite, "cow-pathmap", n);
    // The seed's "after" exactly as written: cache hits under the RwLock's write lock.
    let hot = queries();
    let mut read_threads = suite.threads().to_vec();
    if !read_threads.contains(&8) {
        read_threads.push(8);
        read_threads.sort_unstable();
    }
    for &t in &read_threads {
        suite.measure(
            &READ_HIT,
            "rwlock-seed",
            t,
            Budget::Duration,
            || build::<LockedEnvironment<RwLockWriteHitKind>>(n),
            |env, thread, i| {
                let q = &hot[(i as usize * 7 + thread * 13) % hot.len()];
                black_box(env.get_matching_rules(q).len());
            },
        );
    }
    bench_against_reference(suite);
}

/// One program of the comparison with the reference interpreter.
struct Program {
    /// Benchmark name in the report.
    bench: &'static str,
    /// File under `benches/metta/`.
    file: &'static str,
    /// What it exercises.
    what: &'static str,
    /// The target for `metta-run` against `metta`.
    target: &'static str,
}

const PROGRAMS: &[Program] = &[
    Program {
        bench: "metta-fib-15",
        file: "fib15.metta",
        what: "naive doubly recursive (fib 15)",
        target: "10x faster than the reference metta",
    },
    Program {
        bench: "metta-fib-20",
        file: "fib20.metta",
        what: "naive doubly recursive (fib 20)",
        target: "100x faster than the reference metta",
    },
    Program {
        bench: "metta-search",
        file: "search.metta",
        what: "nondeterministic search: Pythagorean triples up to 13 with superpose and empty",
        target: "10x faster than the reference metta",
    },
    Program {
        bench: "metta-kb-query",
        file: "kb.metta",
        what: "knowledge-base query: 360 facts, 35 nested-match queries",
        target: "10x faster than the reference metta",
    },
    Program {
        bench: "metta-typed",
        file: "typed.metta",
        what: "a program with declared types (cons lists, Peano length, typed helpers)",
        target: "10x faster than the reference metta",
    },
];

fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("metta")
}

/// Builds `metta-run` with the profile of this benchmark binary and returns its path.
fn metta_run_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let dir = exe
        .parent()
        .ok_or_else(|| "benchmark binary has no folder".to_string())?;
    let profile = if dir.ends_with("release") {
        "release"
    } else {
        "dev"
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--profile", profile, "-p", "cow-env"])
        .args(["--features", "pathmap", "--bin", "metta-run"])
        .status()
        .map_err(|e| format!("building metta-run: {e}"))?;
    if !status.success() {
        return Err(format!("building metta-run failed ({status})"));
    }
    let binary = dir.join(format!("metta-run{}", std::env::consts::EXE_SUFFIX));
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!("{} not found after building", binary.display()))
    }
}

/// Runs `command` once: its wall time and stdout, or why it failed.
fn time_run(command: &mut Command) -> Result<(Duration, String), String> {
    let started = Instant::now();
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "{command:?} exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok((
        elapsed,
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

/// The result lines of a run (`[a, b]` per `!` form) in a form that compares equal when
/// two interpreters agree up to the order of results and of the items of a collapsed
/// list: each result parsed and printed back, items of expressions sorted.
fn canonical_results(stdout: &str) -> Vec<Vec<String>> {
    fn canon(atom: &Atom) -> String {
        match atom.as_expr() {
            Some(items) => {
                let mut parts: Vec<String> = items.iter().map(canon).collect();
                parts.sort();
                format!("({})", parts.join(" "))
            }
            None => atom.to_string(),
        }
    }
    stdout
        .lines()
        .filter_map(|line| line.trim().strip_prefix('[')?.strip_suffix(']'))
        .map(|inner| {
            let mut results: Vec<String> = match cow_env::parse_program(&inner.replace(", ", " ")) {
                Ok(forms) => forms.iter().map(|f| canon(&f.atom)).collect(),
                Err(_) => vec![inner.to_string()],
            };
            results.sort();
            results
        })
        .collect()
}

/// Times of `samples` runs (at least one), stopping early once `budget` is spent.
fn sample(
    mut command: impl FnMut() -> Command,
    samples: usize,
    budget: Duration,
) -> Result<(Vec<f64>, String), String> {
    let mut rates = Vec::new();
    let mut stdout = String::new();
    let started = Instant::now();
    for i in 0..samples.max(1) {
        if i > 0 && started.elapsed() > budget {
            break;
        }
        let (elapsed, out) = time_run(&mut command())?;
        rates.push(1.0 / elapsed.as_secs_f64().max(1e-9));
        stdout = out;
    }
    Ok((rates, stdout))
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// `metta-run` against the reference `metta` on every program of [`PROGRAMS`].
pub fn bench_against_reference(suite: &mut Suite) {
    let mode = suite.mode();
    let binary = match metta_run_binary() {
        Ok(binary) => binary,
        Err(e) => {
            eprintln!("cow-env: metta-run against metta skipped: {e}");
            return;
        }
    };
    let reference = Command::new("metta")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let reference_note = match (reference, mode) {
        (false, _) => Some(
            "the reference `metta` is not installed (pip install hyperon): only metta-run measured",
        ),
        (true, Mode::Smoke) => Some("smoke mode: the reference `metta` is not run"),
        (true, _) => None,
    };
    let dir = programs_dir();
    for program in PROGRAMS {
        let path = dir.join(program.file);
        let ours = sample(
            || {
                let mut c = Command::new(&binary);
                c.arg("--quiet").arg(&path);
                c
            },
            mode.pick(1, 10, 20),
            Duration::from_secs(mode.pick(0, 2, 5)),
        );
        let (our_rates, our_out) = match ours {
            Ok(r) => r,
            Err(e) => {
                eprintln!("cow-env: {}: metta-run failed: {e}", program.bench);
                continue;
            }
        };
        let theirs = match reference_note {
            Some(_) => None,
            None => {
                // The reference takes seconds to a minute per program: one run in quick
                // mode, up to three in full mode within a two-minute budget.
                match sample(
                    || {
                        let mut c = Command::new("metta");
                        c.arg(&path);
                        c
                    },
                    mode.pick(0, 1, 3),
                    Duration::from_secs(120),
                ) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        eprintln!("cow-env: {}: metta failed: {e}", program.bench);
                        None
                    }
                }
            }
        };
        let agreement = match &theirs {
            Some((_, their_out)) if canonical_results(their_out) == canonical_results(&our_out) => {
                "results agree".to_string()
            }
            Some((_, their_out)) => {
                eprintln!(
                    "cow-env: {}: results differ\n  metta:     {}\n  metta-run: {}",
                    program.bench,
                    their_out.trim().replace('\n', " | "),
                    our_out.trim().replace('\n', " | ")
                );
                "RESULTS DIFFER".to_string()
            }
            None => reference_note
                .unwrap_or("the reference `metta` failed")
                .to_string(),
        };
        let Some(our_m) = Measurement::from_samples(&our_rates) else {
            continue;
        };
        let their_m = theirs
            .as_ref()
            .and_then(|(rates, _)| Measurement::from_samples(rates));
        // The cells of the report are runs per second; the times are in the description.
        let times = match &their_m {
            Some(their_m) => {
                let line = format!(
                    "metta {:.3} s, metta-run {:.4} s: {:.0}x",
                    their_m.ns_per_op() / 1e9,
                    our_m.ns_per_op() / 1e9,
                    their_m.ns_per_op() / our_m.ns_per_op()
                );
                eprintln!("cow-env: {}: {line}", program.bench);
                line
            }
            None => format!("metta-run {:.4} s", our_m.ns_per_op() / 1e9),
        };
        let spec = BenchSpec {
            crate_name: "cow-env",
            bench: program.bench,
            description: leak(format!(
                "One run of benches/metta/{} as a process ({}); median {times}; {agreement}.",
                program.file, program.what
            )),
            baseline: "metta",
            seed_target: Some(program.target),
        };
        if let Some(their_m) = their_m {
            suite.record(&spec, "metta", 1, their_m);
        }
        suite.record(&spec, "metta-run", 1, our_m);
    }
}

/// Clone, mutate and union storms on the copy-on-write environment. Each worker keeps
/// its own line of forks of a shared base, adds and removes its own rules through forks
/// that it merges back, checks after every step that its handles hold exactly its live
/// rules, and now and then publishes into a shared environment with `union`. At the end
/// the shared environment must hold the base once plus every worker's live rules once:
/// nothing a worker removed may come back from an older published copy.
pub fn stress(ctx: &StressContext) -> Result<String, String> {
    const BASE: usize = 500;
    let mut base = Environment::empty();
    base.add_rules_bulk(rules(BASE));
    let published = RwLock::new(base.clone());
    let steps = AtomicUsize::new(0);
    let removals = AtomicUsize::new(0);
    let outcomes: Vec<Result<(Environment, usize), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..ctx.threads)
            .map(|thread| {
                let (base, published, steps, removals) = (&base, &published, &steps, &removals);
                scope.spawn(move || -> Result<(Environment, usize), String> {
                    let mut rng = ctx.rng(thread as u64);
                    let tag = format!("w{thread}");
                    let mut mine = base.clone();
                    let mut next = 0usize;
                    let mut live: Vec<usize> = Vec::new();
                    while ctx.keep_going() {
                        match rng.gen_range(0..5) {
                            0 => {
                                // Fork, write to the fork, and check the original is untouched.
                                let mut fork = mine.clone();
                                fork.add_rule(extra_rule(&tag, next));
                                if mine.get_rule_count() != BASE + live.len() {
                                    return Err(format!(
                                        "{tag}: a fork's write reached its parent"
                                    ));
                                }
                                mine = if rng.gen_bool(0.5) {
                                    mine.union(&fork)
                                } else {
                                    fork.union(&mine)
                                };
                                live.push(next);
                                next += 1;
                            }
                            1 => {
                                // Two forks that both write, merged: the shared part once.
                                let mut a = mine.clone();
                                let mut b = mine.clone();
                                a.add_rule(extra_rule(&tag, next));
                                b.add_rule(extra_rule(&tag, next + 1));
                                mine = a.union(&b);
                                live.extend([next, next + 1]);
                                next += 2;
                            }
                            2 => {
                                let snapshot = mine.clone();
                                let mut shared = published.write();
                                *shared = shared.union(&snapshot);
                            }
                            3 if !live.is_empty() => {
                                // Remove in a fork while the other fork adds, then merge:
                                // the removal must survive the union with the older state.
                                let victim = live.swap_remove(rng.gen_range(0..live.len()));
                                let mut remover = mine.clone();
                                let mut adder = mine.clone();
                                let removed =
                                    remover.remove_atom(&extra_rule(&tag, victim).to_atom());
                                if removed != 1 {
                                    return Err(format!(
                                        "{tag}: removed {removed} instances of rule {victim}"
                                    ));
                                }
                                adder.add_rule(extra_rule(&tag, next));
                                live.push(next);
                                next += 1;
                                mine = if rng.gen_bool(0.5) {
                                    remover.union(&adder)
                                } else {
                                    adder.union(&remover)
                                };
                                removals.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {
                                let q = Atom::expr(vec![
                                    Atom::sym(&tag),
                                    Atom::Int(rng.gen_range(0..=next as i64)),
                                ]);
                                let got = mine.get_matching_rules(&q).len();
                                if got != live.len() {
                                    return Err(format!(
                                        "{tag}: {got} candidates for {q}, expected {}",
                                        live.len()
                                    ));
                                }
                            }
                        }
                        if mine.get_rule_count() != BASE + live.len() {
                            return Err(format!(
                                "{tag}: {} rules, expected the base of {BASE} plus {} live",
                                mine.get_rule_count(),
                                live.len()
                            ));
                        }
                        if base.get_rule_count() != BASE {
                            return Err("the shared base changed".into());
                        }
                        steps.fetch_add(1, Ordering::Relaxed);
                        ctx.beat();
                    }
                    Ok((mine, live.len()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a worker panicked".into())))
            .collect()
    });
    let mut shared = published.into_inner();
    let mut total = 0;
    for outcome in outcomes {
        let (env, live) = outcome?;
        shared = shared.union(&env);
        total += live;
    }
    if shared.get_rule_count() != BASE + total {
        return Err(format!(
            "published environment holds {} rules, expected {} (base {BASE} + {total} live)",
            shared.get_rule_count(),
            BASE + total
        ));
    }
    Ok(format!(
        "{} clone/mutate/union steps ({} removals) on {} threads; merged environment holds the base once plus all {total} live rules",
        steps.load(Ordering::Relaxed),
        removals.load(Ordering::Relaxed),
        ctx.threads
    ))
}
