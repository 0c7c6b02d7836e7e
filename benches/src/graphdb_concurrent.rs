//! `concurrent_throughput` of graphdb-concurrent (seed 004): read, write and mixed
//! transactions at every thread count for the `mutex`, `rwlock` and `lockfree` handles;
//! phase-3 reads beside a continuously committing writer; and group commit. The stress
//! run drives a mixed workload on every variant with integrity checks along the way.

use std::fmt::Display;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bench_harness::{BenchSpec, Budget, Suite};
use graphdb_concurrent::{ConcurrentGraphDB, Error, Variant};
use graphdb_core::{Config, Direction, Edge, GraphDB, Node, NodeId, SyncMode};
use rand::Rng;
use tempfile::TempDir;

use crate::StressContext;

const CRATE: &str = "graphdb-concurrent";

const READ: BenchSpec = BenchSpec {
    crate_name: CRATE,
    bench: "concurrent_throughput-read",
    description: "One read transaction: begin_read, get_node of a random node, commit.",
    baseline: "mutex",
    seed_target: Some(
        "3-5M reads/s at 50 threads (seed before: 2.63M at 1 thread, 560K at 50; seed's own result after: 414K at 50)",
    ),
};

const WRITE: BenchSpec = BenchSpec {
    crate_name: CRATE,
    bench: "concurrent_throughput-write",
    description:
        "One write transaction: begin_transaction, add_node, commit (SyncMode::Off: crash-atomic, no fsync). lockfree writes the log records of 64 commits together; lockfree-write-each writes every commit's own (a group of one, as before groups); lockfree-page-images writes groups of 64 in the page-image log (format 3, as before log format 4).",
    baseline: "mutex",
    seed_target: Some("about 16K writes/s at 20 threads, unchanged by the plan"),
};

const MIXED: BenchSpec = BenchSpec {
    crate_name: CRATE,
    bench: "concurrent_throughput-mixed",
    description: "80% read transactions (as in read), 20% write transactions (as in write).",
    baseline: "mutex",
    seed_target: Some(
        "300-500K ops/s at 10 threads (seed before: 285K at 1 thread, 64K at 2; seed's own result after: 59K at 10)",
    ),
};

const WITH_WRITER: BenchSpec = BenchSpec {
    crate_name: CRATE,
    bench: "lockfree-reads-with-writer",
    description: "LockFreeReads read transactions (as in read) with no writer, and while one extra thread commits node updates back to back.",
    baseline: "read-only",
    seed_target: None,
};

const GROUP_COMMIT: BenchSpec = BenchSpec {
    crate_name: CRATE,
    bench: "group-commit",
    description: "One write transaction (add_node, commit) with SyncMode::Full, log in a temporary directory on the local disk: rwlock writes and fsyncs under the write lock; lockfree queues its log frames in memory under the lock and, after releasing it, one leader writes and fsyncs each batch for every waiting committer.",
    baseline: "rwlock",
    seed_target: None,
};

fn ok<T, E: Display>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("graphdb-concurrent benchmark: {what}: {e}"))
}

/// A cheap, well-mixed number from (thread, iteration) so every thread reads different
/// ids without a shared random generator.
fn mix(thread: usize, i: u64) -> u64 {
    let mut x = (thread as u64) << 40 ^ i ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn person(i: u64) -> Node {
    Node::new()
        .with_label("Person")
        .with_property("name", format!("person-{i}"))
        .with_property("age", (i % 90) as i64)
}

/// A database of `nodes` people in a temporary directory.
struct Fixture {
    _dir: TempDir,
    db: ConcurrentGraphDB,
    nodes: u64,
}

fn fixture(variant: Variant, nodes: u64, sync_mode: SyncMode) -> Fixture {
    fixture_in(variant, nodes, sync_mode, graphdb_core::LOG_FORMAT_VERSION)
}

/// A fixture whose engine writes its log in format `log_format`.
fn fixture_in(variant: Variant, nodes: u64, sync_mode: SyncMode, log_format: u32) -> Fixture {
    let dir = ok(tempfile::tempdir(), "temporary directory");
    let config = Config {
        sync_mode,
        ..Config::default()
    };
    let mut engine = ok(GraphDB::create(dir.path().join("g.db"), config), "open");
    ok(engine.use_log_format(log_format), "log format");
    let db = ConcurrentGraphDB::from_db(engine, variant);
    let mut tx = ok(db.begin_transaction(), "begin");
    for i in 0..nodes {
        ok(tx.add_node(person(i)), "add node");
    }
    ok(tx.commit(), "commit");
    // Warm every variant's cache the same way: one read of each node.
    let r = ok(db.begin_read(), "begin read");
    for id in 1..=nodes {
        black_box(ok(r.get_node(id), "warm read"));
    }
    ok(r.commit(), "commit read");
    Fixture {
        _dir: dir,
        db,
        nodes,
    }
}

fn read_tx(db: &ConcurrentGraphDB, nodes: u64, thread: usize, i: u64) {
    let id = 1 + mix(thread, i) % nodes;
    let tx = ok(db.begin_read(), "begin read");
    black_box(ok(tx.get_node(id), "get node"));
    black_box(ok(tx.commit(), "commit read"));
}

fn write_tx(db: &ConcurrentGraphDB, i: u64) {
    let mut tx = ok(db.begin_transaction(), "begin");
    ok(tx.add_node(person(i)), "add node");
    black_box(ok(tx.commit(), "commit"));
}

/// Phase-3 state with one extra thread committing updates of random nodes back to back
/// until the state is dropped.
struct WithWriter {
    db: ConcurrentGraphDB,
    stop: Arc<AtomicBool>,
    writer: Option<JoinHandle<()>>,
}

impl WithWriter {
    fn start(db: &ConcurrentGraphDB, nodes: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (w_db, w_stop) = (db.clone(), stop.clone());
        let writer = std::thread::spawn(move || {
            let mut i = 0u64;
            while !w_stop.load(Ordering::Relaxed) {
                let id = 1 + mix(usize::MAX, i) % nodes;
                let mut tx = ok(w_db.begin_transaction(), "writer begin");
                ok(tx.update_node(id, person(i)), "writer update");
                // The only writer, so it never conflicts.
                ok(tx.commit(), "writer commit");
                i += 1;
            }
        });
        WithWriter {
            db: db.clone(),
            stop,
            writer: Some(writer),
        }
    }
}

impl Drop for WithWriter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(w) = self.writer.take() {
            // A writer that panicked already printed why; the benchmark goes on.
            let _ = w.join();
        }
    }
}

/// Measures every benchmark of the crate.
pub fn bench(suite: &mut Suite) {
    let nodes = suite.mode().pick(500, 10_000, 100_000);
    let threads = suite.threads().to_vec();

    for variant in Variant::ALL {
        let f = fixture(variant, nodes, SyncMode::Off);
        for &t in &threads {
            let (db, n) = (&f.db, f.nodes);
            suite.measure(
                &READ,
                variant.name(),
                t,
                Budget::Duration,
                || db.clone(),
                move |db, thread, i| read_tx(db, n, thread, i),
            );
        }
        for &t in &threads {
            suite.measure(
                &WRITE,
                variant.name(),
                t,
                Budget::Duration,
                || f.db.clone(),
                |db, _, i| write_tx(db, i),
            );
        }
        for &t in &threads {
            let n = f.nodes;
            suite.measure(
                &MIXED,
                variant.name(),
                t,
                Budget::Duration,
                || f.db.clone(),
                move |db, thread, i| {
                    if mix(thread, i).is_multiple_of(5) {
                        write_tx(db, i);
                    } else {
                        read_tx(db, n, thread, i);
                    }
                },
            );
        }
    }

    // The lock-free handle as it was before no-fsync commits were written in groups:
    // every commit writes its own frames (a group of one); and as it was before log
    // format 4 (groups, with the page-image log).
    for (name, group, format) in [
        ("lockfree-write-each", 1, graphdb_core::LOG_FORMAT_VERSION),
        ("lockfree-page-images", 64, 3),
    ] {
        let f = fixture_in(Variant::LockFreeReads, nodes, SyncMode::Off, format);
        f.db.set_off_write_group(group);
        for &t in &threads {
            suite.measure(
                &WRITE,
                name,
                t,
                Budget::Duration,
                || f.db.clone(),
                |db, _, i| write_tx(db, i),
            );
        }
        for &t in &threads {
            let n = f.nodes;
            suite.measure(
                &MIXED,
                name,
                t,
                Budget::Duration,
                || f.db.clone(),
                move |db, thread, i| {
                    if mix(thread, i).is_multiple_of(5) {
                        write_tx(db, i);
                    } else {
                        read_tx(db, n, thread, i);
                    }
                },
            );
        }
    }

    let f = fixture(Variant::LockFreeReads, nodes, SyncMode::Off);
    for &t in &threads {
        let n = f.nodes;
        suite.measure(
            &WITH_WRITER,
            "read-only",
            t,
            Budget::Duration,
            || f.db.clone(),
            move |db, thread, i| read_tx(db, n, thread, i),
        );
        suite.measure(
            &WITH_WRITER,
            "one-writer",
            t,
            Budget::Duration,
            || WithWriter::start(&f.db, n),
            move |s, thread, i| read_tx(&s.db, n, thread, i),
        );
    }
    drop(f);

    for variant in [Variant::RwLock, Variant::LockFreeReads] {
        let f = fixture(variant, 100, SyncMode::Full);
        for &t in &threads {
            suite.measure(
                &GROUP_COMMIT,
                variant.name(),
                t,
                Budget::Duration,
                || f.db.clone(),
                |db, _, i| write_tx(db, i),
            );
        }
    }
}

/// What one stress worker found wrong, if anything.
fn stress_step(
    db: &ConcurrentGraphDB,
    rng: &mut impl Rng,
    top: &AtomicU64,
    counts: &[AtomicU64; 3],
) -> Result<(), String> {
    let e = |what: &str, err: Error| format!("{what}: {err}");
    let hi = top.load(Ordering::Relaxed).max(1);
    let id: NodeId = rng.gen_range(1..=hi);
    let roll: u32 = rng.gen_range(0..100);
    if roll < 75 {
        let r = db.begin_read().map_err(|x| e("begin read", x))?;
        let first = r.get_node(id).map_err(|x| e("get", x))?;
        if first.is_some() {
            for edge in r
                .edges_of(id, Direction::Both)
                .map_err(|x| e("edges_of", x))?
            {
                let edge = r
                    .get_edge(edge)
                    .map_err(|x| e("get edge", x))?
                    .ok_or_else(|| format!("node {id} lists edge {edge}, which is not visible"))?;
                for end in [edge.source, edge.target] {
                    if r.get_node(end).map_err(|x| e("get end", x))?.is_none() {
                        return Err(format!("edge {} has an invisible endpoint {end}", edge.id));
                    }
                }
            }
        }
        let again = r.get_node(id).map_err(|x| e("get again", x))?;
        if first.as_deref() != again.as_deref() {
            return Err(format!("node {id} read twice in one snapshot differs"));
        }
        r.commit().map_err(|x| e("commit read", x))?;
        counts[0].fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    let mut tx = db.begin_transaction().map_err(|x| e("begin", x))?;
    let present = tx.get_node(id).map_err(|x| e("get", x))?.is_some();
    let step = match roll {
        75..=89 => tx.add_node(person(id)).and_then(|n| {
            top.fetch_max(n, Ordering::Relaxed);
            if present {
                tx.add_edge(Edge::new(id, n, "KNOWS")).map(|_| ())
            } else {
                Ok(())
            }
        }),
        90..=96 if present => tx.update_node(id, person(id + 1)),
        _ if present => tx.delete_node(id),
        _ => Ok(()),
    };
    step.map_err(|x| e("write", x))?;
    match tx.commit() {
        Ok(_) => counts[1].fetch_add(1, Ordering::Relaxed),
        Err(x) if x.is_conflict() => counts[2].fetch_add(1, Ordering::Relaxed),
        Err(x) => return Err(e("commit", x)),
    };
    Ok(())
}

/// Mixed reads and writes on every variant in turn (a third of the time each), with the
/// integrity check every second and at the end of each variant's run.
pub fn stress(ctx: &StressContext) -> Result<String, String> {
    let slice = ctx.duration / Variant::ALL.len() as u32;
    let mut summary = Vec::new();
    for (k, variant) in Variant::ALL.into_iter().enumerate() {
        let f = fixture(variant, 200, SyncMode::Off);
        let top = AtomicU64::new(f.nodes);
        let counts = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
        let failure = parking_lot::Mutex::new(None::<String>);
        let end = slice * (k as u32 + 1);
        let checks = AtomicU64::new(0);
        std::thread::scope(|s| {
            for thread in 0..ctx.threads {
                let (db, top, counts, failure, checks) = (&f.db, &top, &counts, &failure, &checks);
                s.spawn(move || {
                    let mut rng = ctx.rng(thread as u64 + 1000 * k as u64);
                    let mut last_check = Instant::now();
                    while ctx.keep_going() && ctx.elapsed() < end && failure.lock().is_none() {
                        let mut outcome = stress_step(db, &mut rng, top, counts);
                        if outcome.is_ok()
                            && thread == 0
                            && last_check.elapsed() > Duration::from_secs(1)
                        {
                            last_check = Instant::now();
                            checks.fetch_add(1, Ordering::Relaxed);
                            outcome = match db.check() {
                                Ok(r) if r.is_ok() => Ok(()),
                                Ok(r) => Err(format!("integrity check: {:?}", r.problems)),
                                Err(x) => Err(format!("integrity check failed: {x}")),
                            };
                        }
                        if let Err(msg) = outcome {
                            *failure.lock() =
                                Some(format!("{} (seed {}): {msg}", variant.name(), ctx.seed));
                        }
                        ctx.beat();
                    }
                });
            }
        });
        if let Some(msg) = failure.into_inner() {
            return Err(msg);
        }
        let report =
            f.db.check()
                .map_err(|x| format!("{}: final check: {x}", variant.name()))?;
        if !report.is_ok() {
            return Err(format!(
                "{}: final check: {:?}",
                variant.name(),
                report.problems
            ));
        }
        summary.push(format!(
            "{}: {} reads, {} writes, {} conflicts, {} checks, {} nodes",
            variant.name(),
            counts[0].load(Ordering::Relaxed),
            counts[1].load(Ordering::Relaxed),
            counts[2].load(Ordering::Relaxed),
            checks.load(Ordering::Relaxed) + 1,
            report.nodes
        ));
    }
    Ok(summary.join("; "))
}
