//! Benchmarks and stress run of `config-eval`: sequential against parallel type check
//! and evaluation of a generated large configuration, a small file in parallel mode
//! against sequential, a chain of dependent tasks on the parking work queue against
//! the seed's 1 ms sleep-polling queue (issue 9); our sequential and parallel runs
//! against Jsonnet on the same configuration, and the type checker on the doubling
//! family (issue 15).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench_harness::{
    measure_task, measure_threads, BenchSpec, Budget, Measurement, Record, Suite, SweepConfig,
};
use config_eval::{
    generate, Config, Engine, Error, PollingWorkQueue, Priority, Program, Strategy, WorkQueue,
};
use rand::Rng;

use crate::StressContext;

const LARGE_TARGET: &str =
    "issue 9: parallel at 2 workers >= 1.5x sequential on the large configuration";

const CHECK_LARGE: BenchSpec = BenchSpec {
    crate_name: "config-eval",
    bench: "typecheck-large",
    description: "Type check of a generated configuration (quick/full: 2,000 modules x 50 \
                  declarations + root; a DAG 32 modules wide, about 75 deep); one op = one \
                  whole check. threads = engine workers.",
    baseline: "sequential",
    seed_target: Some(LARGE_TARGET),
};

const CHECK_CHAIN: BenchSpec = BenchSpec {
    crate_name: "config-eval",
    bench: "typecheck-chain",
    description: "Type check of the same modules and declarations as typecheck-large, in \
                  the import graph the generator had before (module i imports i - 1: one \
                  chain through all 2,001 modules, so nothing can be checked in parallel); \
                  one op = one whole check. threads = engine workers. Shows what the \
                  parallel checker costs on a serial graph, not a target.",
    baseline: "sequential",
    seed_target: None,
};

const EVAL_LARGE: BenchSpec = BenchSpec {
    crate_name: "config-eval",
    bench: "eval-large",
    description: "Evaluation of every binding of the same generated configuration (already \
                  checked); one op = one whole evaluation. threads = engine workers.",
    baseline: "sequential",
    seed_target: Some(LARGE_TARGET),
};

const SMALL_FILE: BenchSpec = BenchSpec {
    crate_name: "config-eval",
    bench: "small-file",
    description: "Check and evaluate one 10-declaration file, caching off; `parallel-mode` is \
                  the parallel configuration (it falls back to sequential below the threshold), \
                  `parallel-forced` has no threshold. threads = callers sharing one 2-worker engine. \
                  The variants are sampled interleaved (quick: 20 rounds, median).",
    baseline: "sequential",
    seed_target: Some("issue 9: small file in parallel mode at most 1.05x the sequential time"),
};

const CHAIN: BenchSpec = BenchSpec {
    crate_name: "config-eval",
    bench: "task-chain",
    description: "A chain of dependent tasks (quick/full: 1,000), each doing 3 to 5 us of \
                  arithmetic on its predecessor's result (a tiny module check); one op = one \
                  task. threads = queue workers; quick: median of 7 chains.",
    baseline: "sleep-polling",
    seed_target: Some("issue 9: the 1,000-task chain at least 100x faster than sleep-polling"),
};

const JSONNET_TARGET: &str = "issue 15: at least 5x Jsonnet's speed";

const VS_JSONNET_SMALL: BenchSpec = BenchSpec {
    crate_name: "config-eval",
    bench: "vs-jsonnet-2000",
    description: "Read, parse, type check (ours), evaluate and write as JSON text the same \
                  generated configuration, 2,000 service records over 50 modules (smoke: 50 \
                  over 5), written in this crate's language and in Jsonnet; one op = one \
                  whole run from files on disk, caching off. Ours runs in-process (threads = \
                  engine workers; `parallel` has no size threshold); `jsonnet` is the \
                  `jsonnet` command (Debian package), one process per op, so its figure \
                  includes starting the process (about 1 ms). The two JSON outputs are \
                  compared before timing.",
    baseline: "jsonnet",
    seed_target: Some(JSONNET_TARGET),
};

const VS_JSONNET_LARGE: BenchSpec = BenchSpec {
    crate_name: "config-eval",
    bench: "vs-jsonnet-20000",
    description: "As vs-jsonnet-2000 with 20,000 records over 500 modules (smoke: 100 over \
                  10).",
    baseline: "jsonnet",
    seed_target: Some(JSONNET_TARGET),
};

const DOUBLING: BenchSpec = BenchSpec {
    crate_name: "config-eval",
    bench: "typecheck-doubling",
    description: "Type check of `let f = \\x -> { a = x, b = x };` applied n times to 1 (the \
                  result's type, printed as a tree, has 2^n leaves); one op = one check of \
                  the module, caching off. Linear time shows as ops/s x n staying level \
                  across the variants.",
    baseline: "n=10",
    seed_target: None,
};

const SMALL_SOURCE: &str = "module small;
type Port = Integer where \\p -> p > 0 && p < 65536;
type Option 'T = Some('T) | None;
let base: Port = 8000;
let hosts = [\"a\", \"b\", \"c\"];
let pick = \\o d -> match o { Some(x) => x, None => d };
let port = pick (Some(base + 80)) 80;
let name = \"svc-\" ++ \"main\";
let limits = { cpu = 2, memory = 512 * 1024 };
let retries = if limits.cpu > 1 then 3 else 1;
export let service = { name = name, port = port, hosts = hosts, retries = retries };
export let total = limits.memory + retries;
";

fn engine(parallel: bool, workers: usize, threshold: usize) -> Engine {
    Engine::new(Config {
        parallel,
        worker_threads: workers,
        cache_size: 0,
        parallel_threshold: threshold,
        ..Config::default()
    })
    .unwrap_or_else(|e| panic!("engine: {e}"))
}

fn load_large(files: Vec<(String, String)>) -> Program {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    engine(false, 1, 0)
        .load_files(&refs, "main.lig")
        .unwrap_or_else(|e| panic!("generated configuration: {e}"))
}

/// One whole type check of `program` per op, for each (variant, parallel, workers).
fn measure_typecheck(
    suite: &mut Suite,
    spec: &BenchSpec,
    program: &Arc<Program>,
    variants: &[(&str, bool, usize)],
) {
    for &(name, parallel, workers) in variants {
        let strategy = if parallel {
            Strategy::Parallel
        } else {
            Strategy::Sequential
        };
        let p = program.clone();
        suite.measure_task(
            spec,
            name,
            workers,
            || engine(parallel, workers, 0),
            |e| {
                // A failure would be a bug in the generator; report it loudly.
                if let Err(err) = e.typecheck_with(&p, strategy) {
                    panic!("typecheck: {err}");
                }
                1
            },
        );
    }
}

/// Measures every benchmark of issue 9.
pub fn bench(suite: &mut Suite) {
    let (modules, decls) = suite.mode().pick((20, 10), (2000, 50), (2000, 50));
    let program = Arc::new(load_large(generate::large_config(modules, decls, 2024)));
    let variants: [(&str, bool, usize); 4] = [
        ("sequential", false, 1),
        ("parallel", true, 1),
        ("parallel", true, 2),
        ("parallel", true, 8),
    ];
    measure_typecheck(suite, &CHECK_LARGE, &program, &variants);
    let chain = Arc::new(load_large(generate::chain_config(modules, decls, 2024)));
    measure_typecheck(suite, &CHECK_CHAIN, &chain, &[variants[0], variants[2]]);
    drop(chain);
    for (name, parallel, workers) in variants {
        let strategy = if parallel {
            Strategy::Parallel
        } else {
            Strategy::Sequential
        };
        let p = program.clone();
        suite.measure_task(
            &EVAL_LARGE,
            name,
            workers,
            || {
                let e = engine(parallel, workers, 0);
                if let Err(err) = e.typecheck_with(&p, Strategy::Sequential) {
                    panic!("typecheck: {err}");
                }
                e
            },
            |e| {
                if let Err(err) = e.evaluate_with(&p, strategy) {
                    panic!("eval: {err}");
                }
                1
            },
        );
    }
    drop(program);

    let small = engine(false, 1, 0)
        .load_files(&[("main.lig", SMALL_SOURCE)], "main.lig")
        .unwrap_or_else(|e| panic!("small file: {e}"));
    measure_small_file(suite, &small);

    bench_vs_jsonnet(suite);
    bench_doubling(suite);

    let chain = suite.mode().pick(20u64, 1000, 1000);
    // A whole chain takes milliseconds (parking) or about a second (polling), and on a
    // loaded machine one descheduled worker can turn a polling run into a one-worker
    // run that never sleeps: more samples than the suite's three, for both variants,
    // keep the median from landing on such a run (or on a preempted parking run).
    let chain_config = SweepConfig {
        samples: suite.mode().pick(1, 7, 9).max(suite.config().samples),
        ..suite.config().clone()
    };
    for workers in [1usize, 2, 4] {
        let m = measure_task(
            &chain_config,
            || Arc::new(WorkQueue::<u64>::new()),
            |q| {
                run_chain(
                    workers,
                    chain,
                    |deps, i| {
                        q.submit(Priority::Normal, deps, move |inp| {
                            Ok(spin(inp.first().map_or(0, |v| **v) + i))
                        })
                    },
                    || q.run_worker(),
                    |id| q.wait(id).map(|v| *v),
                    || q.close(),
                );
                chain
            },
        );
        suite.record(&CHAIN, "parking", workers, m);
        let m = measure_task(
            &chain_config,
            || Arc::new(PollingWorkQueue::<u64>::new()),
            |q| {
                run_chain(
                    workers,
                    chain,
                    |deps, i| {
                        q.submit(Priority::Normal, deps, move |inp| {
                            Ok(spin(inp.first().map_or(0, |v| **v) + i))
                        })
                    },
                    || q.run_worker(),
                    |id| q.wait(id).map(|v| *v),
                    || q.close(),
                );
                chain
            },
        );
        suite.record(&CHAIN, "sleep-polling", workers, m);
    }
}

/// The small-file variants differ by a few percent at most, far less than the swings
/// of a shared machine over a second, so they are measured interleaved: each round
/// takes one short sample of every variant (rotating which goes first), with the
/// same total sampling time per variant as `Suite::measure` would spend, and each
/// variant's figure is the median of its rounds. Each sample runs on a fresh engine,
/// as with `Suite::measure`.
fn measure_small_file(suite: &mut Suite, small: &Program) {
    let base = suite.config().clone();
    let rounds = suite.mode().pick(1usize, 20, 35);
    let total = base.sample_time * base.samples.max(1) as u32;
    let slice = SweepConfig {
        warmup: Duration::ZERO,
        sample_time: total / rounds as u32,
        samples: 1,
    };
    let warm = SweepConfig {
        warmup: base.warmup,
        ..slice.clone()
    };
    let default_threshold = Config::default().parallel_threshold;
    let variants = [
        ("sequential", false, default_threshold),
        ("parallel-mode", true, default_threshold),
        ("parallel-forced", true, 0),
    ];
    for threads in suite.threads().to_vec() {
        let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); variants.len()];
        for round in 0..rounds {
            for k in 0..variants.len() {
                let v = (round + k) % variants.len();
                let (_, parallel, threshold) = variants[v];
                let m = measure_threads(
                    if round == 0 { &warm } else { &slice },
                    Budget::Duration,
                    threads,
                    || engine(parallel, 2, threshold),
                    |e, _, _| {
                        if let Err(err) = e.eval(small) {
                            panic!("small file: {err}");
                        }
                    },
                );
                samples[v].push(m.ops_per_sec);
            }
        }
        for (v, (name, _, _)) in variants.iter().enumerate() {
            if let Some(m) = Measurement::from_samples(&samples[v]) {
                suite.record(&SMALL_FILE, name, threads, m);
            }
        }
    }
}

/// 3 to 5 us of dependent arithmetic (3.4 us on the 2-vCPU EPYC), so that a task
/// takes long enough for a worker waiting on it to actually wait.
fn spin(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..2_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    std::hint::black_box(x)
}

/// Submits a chain of `len` tasks, runs `workers` workers until the last finishes.
fn run_chain(
    workers: usize,
    len: u64,
    submit: impl Fn(&[u64], u64) -> Result<u64, Error>,
    work: impl Fn() + Sync,
    wait: impl Fn(u64) -> Result<u64, Error>,
    close: impl Fn(),
) {
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(&work);
        }
        let mut prev: Option<u64> = None;
        for i in 0..len {
            let deps: Vec<u64> = prev.into_iter().collect();
            prev = Some(submit(&deps, i).unwrap_or_else(|e| panic!("submit: {e}")));
        }
        if let Some(last) = prev {
            let v = wait(last).unwrap_or_else(|e| panic!("chain: {e}"));
            std::hint::black_box(v);
        }
        close();
    });
}

/// Many threads evaluate random small programs and small generated configurations
/// on one shared parallel engine with a small cache (so entries are evicted and
/// reloaded), and compare every result with a private sequential engine's.
pub fn stress(ctx: &StressContext) -> Result<String, String> {
    let shared = Engine::new(Config {
        parallel: true,
        worker_threads: 4,
        cache_size: 32,
        parallel_threshold: 0,
        timeout: Some(Duration::from_secs(20)),
        ..Config::default()
    })
    .map_err(|e| e.to_string())?;
    let runs = AtomicU64::new(0);
    let failures_expected = AtomicU64::new(0);
    let result: Result<(), String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..ctx.threads)
            .map(|t| {
                let (shared, runs, failures_expected) = (&shared, &runs, &failures_expected);
                s.spawn(move || -> Result<(), String> {
                    let mut rng = ctx.rng(t as u64);
                    let reference = Engine::new(Config {
                        parallel: false,
                        worker_threads: 1,
                        cache_size: 0,
                        ..Config::default()
                    })
                    .map_err(|e| e.to_string())?;
                    while ctx.keep_going() {
                        let files: Vec<(String, String)> = if rng.gen_bool(0.8) {
                            vec![(
                                "main.lig".into(),
                                generate::small_program(rng.gen_range(0..500)),
                            )]
                        } else {
                            generate::large_config(
                                rng.gen_range(1..12),
                                rng.gen_range(1..8),
                                rng.gen_range(0..50),
                            )
                        };
                        let refs: Vec<(&str, &str)> = files
                            .iter()
                            .map(|(a, b)| (a.as_str(), b.as_str()))
                            .collect();
                        let want = reference
                            .load_files(&refs, "main.lig")
                            .and_then(|p| reference.eval(&p));
                        let got = shared
                            .load_files(&refs, "main.lig")
                            .and_then(|p| shared.eval(&p));
                        if got != want {
                            return Err(format!(
                                "thread {t}: parallel gave {got:?}, sequential {want:?} for {:?}",
                                files.first().map(|f| &f.1)
                            ));
                        }
                        if want.is_err() {
                            failures_expected.fetch_add(1, Ordering::Relaxed);
                        }
                        runs.fetch_add(1, Ordering::Relaxed);
                        ctx.beat();
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(r) => r?,
                Err(_) => return Err("a stress thread panicked".into()),
            }
        }
        Ok(())
    });
    result?;
    let c = shared.stats().cache.total();
    Ok(format!(
        "{} programs on {} threads agreed with the sequential engine ({} expected failures); cache {} hits, {} misses, {} evictions",
        runs.load(Ordering::Relaxed),
        ctx.threads,
        failures_expected.load(Ordering::Relaxed),
        c.hits,
        c.misses,
        c.evictions
    ))
}

/// Records `measured` (variant, threads, measurement) for `spec`, each record's
/// description extended with `note`, and prints them as `Suite::record` would.
fn record_with_note(
    suite: &mut Suite,
    spec: &BenchSpec,
    measured: &[(String, usize, Measurement)],
    note: &str,
) {
    let records: Vec<Record> = measured
        .iter()
        .map(|(variant, threads, m)| {
            eprintln!(
                "config-eval/{} {variant:<16} {threads:>3} thr  {:>12.2} ops/s",
                spec.bench, m.ops_per_sec
            );
            let mut r = Record::new(spec, variant, *threads, m);
            if !note.is_empty() {
                r.description = format!("{} {note}", r.description);
            }
            r
        })
        .collect();
    suite.extend(records);
}

fn write_tree(dir: &Path, files: &[(String, String)]) {
    for (path, text) in files {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
        }
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
}

/// A `VmRSS`/`VmHWM`-style line of `/proc/PID/status`, in bytes.
fn proc_status_bytes(pid: &str, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The `config-eval` binary of the same build profile as this program, built on
/// first use (it is the library plus clap, both already compiled for this program).
/// Its peak memory is measured the same way as Jsonnet's: a process of its own.
fn config_eval_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let bin = dir.join("config-eval");
    if bin.exists() {
        return Some(bin);
    }
    let profile = match dir.file_name()?.to_str()? {
        "debug" => "dev",
        other => other,
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--profile",
            profile,
            "-p",
            "config-eval",
            "--bin",
            "config-eval",
        ])
        .status()
        .is_ok_and(|s| s.success());
    (built && bin.exists()).then_some(bin)
}

/// Whether the `jsonnet` command runs.
fn jsonnet_installed() -> bool {
    Command::new("jsonnet")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `jsonnet main.jsonnet` in `dir`: its output and its peak resident memory
/// (polled from `/proc` every millisecond while it runs when `poll` is set).
fn run_jsonnet(dir: &Path, poll: bool) -> Result<(Vec<u8>, Option<u64>), String> {
    let mut command = Command::new("jsonnet");
    command.arg("main.jsonnet").current_dir(dir);
    run_process(command, poll)
}

/// Runs `command`: its standard output and its peak resident memory (`VmHWM`, polled
/// from `/proc` every millisecond while it runs when `poll` is set; the last poll
/// before it exits is the figure, so growth in its last millisecond is missed).
fn run_process(mut command: Command, poll: bool) -> Result<(Vec<u8>, Option<u64>), String> {
    let name = format!("{:?}", command.get_program());
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{name}: {e}"))?;
    let mut stdout = child.stdout.take().ok_or(format!("{name}: no stdout"))?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).map(|_| buf)
    });
    let pid = child.id().to_string();
    let mut peak = None;
    let status = if poll {
        loop {
            if let Some(p) = proc_status_bytes(&pid, "VmHWM:") {
                peak = Some(p);
            }
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => return Err(format!("{name}: {e}")),
            }
        }
    } else {
        child.wait().map_err(|e| format!("{name}: {e}"))?
    };
    let out = reader
        .join()
        .map_err(|_| format!("{name}: reader panicked"))?
        .map_err(|e| format!("{name}: {e}"))?;
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        return Err(format!("{name} failed: {err}"));
    }
    Ok((out, peak))
}

/// One whole run of ours: load from `dir`, check, evaluate, write the JSON text.
fn run_ours(engine: &Engine, dir: &Path) -> String {
    let program = engine
        .load(&dir.join("main.lig"))
        .unwrap_or_else(|e| panic!("load: {e}"));
    let value = engine
        .eval(&program)
        .unwrap_or_else(|e| panic!("eval: {e}"));
    let json = value.to_json().unwrap_or_else(|e| panic!("json: {e}"));
    serde_json::to_string(&json).unwrap_or_else(|e| panic!("json: {e}"))
}

fn megabytes(b: Option<u64>) -> String {
    b.map_or("n/a".to_owned(), |b| format!("{:.1} MB", b as f64 / 1e6))
}

/// Our sequential and parallel runs against Jsonnet on the same configurations.
fn bench_vs_jsonnet(suite: &mut Suite) {
    let installed = jsonnet_installed();
    let sizes = [
        (
            &VS_JSONNET_SMALL,
            suite.mode().pick((5, 10), (50, 40), (50, 40)),
        ),
        (
            &VS_JSONNET_LARGE,
            suite.mode().pick((10, 10), (500, 40), (500, 40)),
        ),
    ];
    let config = suite.config().clone();
    let binary = config_eval_binary();
    for (spec, (modules, records)) in sizes {
        let twin = config_eval::generate::twin_config(modules, records);
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        write_tree(tmp.path(), &twin.ligature);
        write_tree(tmp.path(), &twin.jsonnet);
        let variants: [(&str, bool, usize); 2] = [("sequential", false, 1), ("parallel", true, 2)];
        let mut measured = Vec::new();
        let mut memory = Vec::new();
        let mut ours_json = None;
        for (name, parallel, workers) in variants {
            let m = measure_task(
                &config,
                || engine(parallel, workers, 0),
                |e| {
                    std::hint::black_box(run_ours(&e, tmp.path()));
                    1
                },
            );
            let e = engine(parallel, workers, 0);
            ours_json.get_or_insert_with(|| run_ours(&e, tmp.path()));
            let peak = binary.as_ref().and_then(|bin| {
                let mut command = Command::new(bin);
                command.args(["eval", "main.lig", "--cache-size", "0"]);
                if parallel {
                    command.args(["--parallel", "--parallel-threshold", "0", "--workers"]);
                    command.arg(workers.to_string());
                } else {
                    command.args(["--workers", "1"]);
                }
                command.current_dir(tmp.path());
                run_process(command, true).ok().and_then(|(_, peak)| peak)
            });
            measured.push((name.to_owned(), workers, m));
            memory.push((name, peak));
        }
        let mut note = String::new();
        let mut compared = false;
        if !installed {
            note.push_str("Jsonnet: not installed (`apt-get install jsonnet`), so no ratio.");
        } else {
            let ours: serde_json::Value = serde_json::from_str(ours_json.as_deref().unwrap_or(""))
                .unwrap_or(serde_json::Value::Null);
            let first_run = Instant::now();
            let checked = run_jsonnet(tmp.path(), true);
            let first_run = first_run.elapsed();
            match checked {
                Err(e) => note.push_str(&format!("Jsonnet did not run: {e}.")),
                Ok((out, peak)) => {
                    let theirs: serde_json::Value =
                        serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null);
                    if theirs != ours {
                        note.push_str("Jsonnet's JSON output differs from ours, so no ratio.");
                    } else {
                        // A Jsonnet run of many seconds is timed once (the checked
                        // run, whose 1 ms memory polling costs nothing at that scale).
                        let single = first_run > Duration::from_secs(5);
                        let m = if single {
                            Measurement::from_samples(&[1.0 / first_run.as_secs_f64()])
                                .unwrap_or_else(|| panic!("one sample"))
                        } else {
                            measure_task(
                                &config,
                                || (),
                                |()| {
                                    if let Err(e) = run_jsonnet(tmp.path(), false) {
                                        panic!("{e}");
                                    }
                                    1
                                },
                            )
                        };
                        if single {
                            note.push_str("Jsonnet timed on one run. ");
                        }
                        compared = true;
                        let base = m.ops_per_sec;
                        measured.push(("jsonnet".to_owned(), 1, m));
                        note.push_str("Same JSON output (checked). Peak memory: ");
                        for (name, p) in &memory {
                            note.push_str(&format!("{name} {}, ", megabytes(*p)));
                        }
                        note.push_str(&format!(
                            "jsonnet {} (each the peak RSS of one process: the \
                             `config-eval` binary, the `jsonnet` command).",
                            megabytes(peak)
                        ));
                        for (name, _, mm) in &measured {
                            if name != "jsonnet" && base > 0.0 {
                                eprintln!(
                                    "config-eval/{}: {name} {:.2}x jsonnet's speed",
                                    spec.bench,
                                    mm.ops_per_sec / base
                                );
                            }
                        }
                    }
                }
            }
        }
        if !compared {
            // Our memory figures are still worth having.
            for (name, p) in &memory {
                note.push_str(&format!(
                    " Peak memory of the `config-eval` binary, {name}: {}.",
                    megabytes(*p)
                ));
            }
        }
        eprintln!("config-eval/{}: {note}", spec.bench);
        record_with_note(suite, spec, &measured, &note);
    }
}

/// The type checker on the doubling family: checks per second at 10, 20, 40 and 60
/// applications.
fn bench_doubling(suite: &mut Suite) {
    let config = suite.config().clone();
    let mut measured = Vec::new();
    let mut products = Vec::new();
    for n in [10usize, 20, 40, 60] {
        let e = engine(false, 1, 0);
        let p = e
            .load_files(
                &[("main.lig", &config_eval::generate::doubling_program(n))],
                "main.lig",
            )
            .unwrap_or_else(|err| panic!("doubling {n}: {err}"));
        let m = measure_threads(
            &config,
            Budget::Duration,
            1,
            || (),
            |_, _, _| {
                if let Err(err) = e.typecheck_with(&p, Strategy::Sequential) {
                    panic!("doubling {n}: {err}");
                }
            },
        );
        let check_steps = e.stats().last_check_steps;
        products.push(format!(
            "n={n}: {:.0} ({check_steps} checker steps)",
            m.ops_per_sec * n as f64
        ));
        measured.push((format!("n={n}"), 1, m));
    }
    let note = format!(
        "ops/s x n (and the checker's own step count, which does not depend on the \
         machine): {}.",
        products.join(", ")
    );
    eprintln!("config-eval/typecheck-doubling: {note}");
    record_with_note(suite, &DOUBLING, &measured, &note);
}
