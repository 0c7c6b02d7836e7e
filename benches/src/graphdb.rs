//! Benchmarks and stress runs of the graph database crates.
//!
//! `bench_core` measures the graphdb-core engine (point reads cached and uncached, one
//! committed insert per sync mode, one-hop neighbours), each beside SQLite (through
//! `rusqlite`, bundled) on the same data in the same run. `stress_core` runs concurrent
//! readers against one writer over a `GraphDB` shared behind an `RwLock` and checks
//! snapshot consistency throughout and integrity at the end. The graphdb-concurrent
//! benchmarks are added beside these and called from `bench` and `stress`.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use bench_harness::{BenchSpec, Budget, Suite};
use graphdb_core::{Config, Direction, Edge, GraphDB, Node, PropertyValue, SyncMode};
use rand::{Rng, SeedableRng};
use rusqlite::{params, Connection};

use crate::StressContext;

const POINT_READ: BenchSpec = BenchSpec {
    crate_name: "graphdb-core",
    bench: "point-read",
    description:
        "Read one node (labels and two properties) by id, newest committed version, random ids.",
    baseline: "sqlite",
    seed_target: Some(
        "2.6M reads/s at 1 thread (the seed's node cache hit, whole read transaction)",
    ),
};

const INSERT_COMMIT: BenchSpec = BenchSpec {
    crate_name: "graphdb-core",
    bench: "insert-commit",
    description: "One write transaction that inserts one node and commits it, on a real file.",
    baseline: "sqlite-full",
    seed_target: Some("about 16K writes/s at 20 threads (unchanged by the seed's plan)"),
};

const ONE_HOP: BenchSpec = BenchSpec {
    crate_name: "graphdb-core",
    bench: "one-hop",
    description: "Ids of the out-neighbours of a random node (8 out-edges on average).",
    baseline: "sqlite",
    seed_target: None,
};

/// Every graphdb benchmark of the workspace.
pub fn bench(suite: &mut Suite) {
    bench_core(suite);
}

/// Exercises every graphdb crate under concurrency.
pub fn stress(ctx: &StressContext) -> Result<String, String> {
    stress_core(ctx)
}

fn temp_dir() -> tempfile::TempDir {
    // A real disk directory, so that fsync costs what it costs.
    tempfile::Builder::new()
        .prefix("graphdb-bench")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}

fn person(i: u64) -> Node {
    Node::new()
        .with_label("Person")
        .with_property("id", i as i64)
        .with_property("name", format!("person-{i}"))
}

/// The same graph in both engines: `nodes` people with 8 random out-edges each.
struct Dataset {
    _dir: tempfile::TempDir,
    nodes: u64,
    db_cached: Arc<GraphDB>,
    db_uncached: Arc<GraphDB>,
    db_pages_only: Arc<GraphDB>,
    sqlite_path: std::path::PathBuf,
}

fn build_dataset(nodes: u64) -> Dataset {
    let dir = temp_dir();
    let path = dir.path().join("g.db");
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let edges: Vec<(u64, u64)> = (1..=nodes)
        .flat_map(|s| (0..8).map(move |k| (s, k)))
        .map(|(s, _)| (s, rng.gen_range(1..=nodes)))
        .collect();
    {
        let config = Config {
            sync_mode: SyncMode::Off,
            ..Config::default()
        };
        let mut db = expect(GraphDB::open(&path, config), "open");
        for chunk in (1..=nodes).collect::<Vec<_>>().chunks(5_000) {
            let mut tx = expect(db.begin_write_txn(), "begin");
            for i in chunk {
                expect(tx.add_node(person(*i)), "add node");
            }
            expect(tx.commit(), "commit");
        }
        for chunk in edges.chunks(5_000) {
            let mut tx = expect(db.begin_write_txn(), "begin");
            for (s, t) in chunk {
                expect(tx.add_edge(Edge::new(*s, *t, "KNOWS")), "add edge");
            }
            expect(tx.commit(), "commit");
        }
        expect(db.close(), "close");
    }
    let db_cached = expect(GraphDB::open(&path, Config::default()), "reopen");
    let tiny = Config {
        page_cache_pages: 8,
        node_cache_capacity: 1,
        edge_cache_capacity: 1,
        ..Config::default()
    };
    // A second handle on the same (now read-only) file: no useful node or page cache, so
    // every read goes to the file (the operating system's page cache) and is verified.
    let db_uncached = expect(GraphDB::open(&path, tiny), "reopen uncached");
    let pages_only = Config {
        node_cache_capacity: 1,
        edge_cache_capacity: 1,
        ..Config::default()
    };
    // A third handle: no node cache, but a page cache that holds the whole file, so a
    // read costs the id-map walk and the record decode, without I/O or checksums.
    let db_pages_only = expect(GraphDB::open(&path, pages_only), "reopen pages only");
    let sqlite_path = dir.path().join("g.sqlite");
    {
        let mut conn = expect(Connection::open(&sqlite_path), "sqlite open");
        expect(
            conn.execute_batch(
                "PRAGMA journal_mode=WAL;
                 CREATE TABLE nodes (id INTEGER PRIMARY KEY, label TEXT, pid INTEGER, name TEXT);
                 CREATE TABLE edges (id INTEGER PRIMARY KEY, src INTEGER, dst INTEGER, type TEXT);
                 CREATE INDEX edges_src ON edges(src);",
            ),
            "sqlite schema",
        );
        let tx = expect(conn.transaction(), "sqlite tx");
        {
            let mut ins = expect(
                tx.prepare("INSERT INTO nodes VALUES (?1, 'Person', ?1, ?2)"),
                "prep",
            );
            for i in 1..=nodes {
                expect(
                    ins.execute(params![i as i64, format!("person-{i}")]),
                    "insert",
                );
            }
            let mut ins = expect(
                tx.prepare("INSERT INTO edges (src, dst, type) VALUES (?1, ?2, 'KNOWS')"),
                "prep",
            );
            for (s, t) in &edges {
                expect(ins.execute(params![*s as i64, *t as i64]), "insert");
            }
        }
        expect(tx.commit(), "sqlite commit");
    }
    Dataset {
        _dir: dir,
        nodes,
        db_cached: Arc::new(db_cached),
        db_uncached: Arc::new(db_uncached),
        db_pages_only: Arc::new(db_pages_only),
        sqlite_path,
    }
}

/// Benchmarks cannot return errors to the harness; a failure here is a broken setup.
fn expect<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("graphdb bench setup, {what}: {e}"))
}

/// One SQLite connection per worker thread (a connection is not `Sync`).
fn sqlite_conns(path: &Path, threads: usize) -> Vec<Mutex<Connection>> {
    (0..threads)
        .map(|_| Mutex::new(expect(Connection::open(path), "sqlite open")))
        .collect()
}

fn rand_id(thread: usize, i: u64, n: u64) -> u64 {
    // A cheap scrambler: a fresh pseudo-random id per call without shared state.
    let x = (i ^ ((thread as u64) << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    1 + (x >> 17) % n
}

/// The graphdb-core benchmarks.
pub fn bench_core(suite: &mut Suite) {
    let nodes = suite.mode().pick(2_000, 20_000, 100_000);
    let data = build_dataset(nodes);
    let n = data.nodes;
    for threads in suite.threads().to_vec() {
        for (variant, db) in [
            ("cached", &data.db_cached),
            ("page-cache", &data.db_pages_only),
            ("uncached", &data.db_uncached),
        ] {
            let db = db.clone();
            suite.measure(
                &POINT_READ,
                variant,
                threads,
                Budget::Duration,
                || db.clone(),
                |db, t, i| {
                    let node = db.get_node(rand_id(t, i, n));
                    std::hint::black_box(node.ok());
                },
            );
        }
        let path = data.sqlite_path.clone();
        suite.measure(
            &POINT_READ,
            "sqlite",
            threads,
            Budget::Duration,
            || sqlite_conns(&path, threads),
            |conns, t, i| {
                let conn = conns[t].lock().unwrap_or_else(|p| p.into_inner());
                let mut stmt = expect(
                    conn.prepare_cached("SELECT label, pid, name FROM nodes WHERE id = ?1"),
                    "prep",
                );
                let row: Option<(String, i64, String)> = stmt
                    .query_row(params![rand_id(t, i, n) as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .ok();
                std::hint::black_box(row);
            },
        );
        let db = data.db_cached.clone();
        suite.measure(
            &ONE_HOP,
            "graphdb",
            threads,
            Budget::Duration,
            || db.clone(),
            |db, t, i| {
                let ts = db.current_commit_ts();
                let out = db.neighbors(rand_id(t, i, n), Direction::Outgoing, ts, None);
                std::hint::black_box(out.ok());
            },
        );
        suite.measure(
            &ONE_HOP,
            "sqlite",
            threads,
            Budget::Duration,
            || sqlite_conns(&path, threads),
            |conns, t, i| {
                let conn = conns[t].lock().unwrap_or_else(|p| p.into_inner());
                let mut stmt = expect(
                    conn.prepare_cached("SELECT dst FROM edges WHERE src = ?1"),
                    "prep",
                );
                let ids: Vec<i64> = stmt
                    .query_map(params![rand_id(t, i, n) as i64], |r| r.get(0))
                    .map(|rows| rows.filter_map(Result::ok).collect())
                    .unwrap_or_default();
                std::hint::black_box(ids);
            },
        );
    }
    bench_inserts(suite);
}

/// Inserts run on one thread: the engine has one writer by design (the concurrent crate
/// measures many committers sharing fsyncs).
fn bench_inserts(suite: &mut Suite) {
    let modes = [
        ("full", SyncMode::Full),
        ("batched", SyncMode::Batched { commits: 32 }),
        ("off", SyncMode::Off),
    ];
    for (variant, mode) in modes {
        suite.measure(
            &INSERT_COMMIT,
            variant,
            1,
            Budget::Duration,
            || {
                let dir = temp_dir();
                let config = Config {
                    sync_mode: mode,
                    ..Config::default()
                };
                let db = expect(GraphDB::open(dir.path().join("w.db"), config), "open");
                (Mutex::new(db), dir)
            },
            |(db, _), _, i| {
                let mut db = db.lock().unwrap_or_else(|p| p.into_inner());
                let mut tx = expect(db.begin_write_txn(), "begin");
                expect(tx.add_node(person(i)), "add");
                expect(tx.commit(), "commit");
            },
        );
    }
    for (variant, sync) in [
        ("sqlite-full", "FULL"),
        ("sqlite-normal", "NORMAL"),
        ("sqlite-off", "OFF"),
    ] {
        suite.measure(
            &INSERT_COMMIT,
            variant,
            1,
            Budget::Duration,
            || {
                let dir = temp_dir();
                let conn = expect(Connection::open(dir.path().join("w.sqlite")), "sqlite open");
                expect(
                    conn.execute_batch(&format!(
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync};
                         CREATE TABLE nodes (id INTEGER PRIMARY KEY, label TEXT, pid INTEGER, name TEXT);"
                    )),
                    "sqlite schema",
                );
                (Mutex::new(conn), dir)
            },
            |(conn, _), _, i| {
                let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                let tx = expect(conn.transaction(), "sqlite begin");
                {
                    let mut stmt = expect(
                        tx.prepare_cached("INSERT INTO nodes (label, pid, name) VALUES ('Person', ?1, ?2)"),
                        "prep",
                    );
                    expect(stmt.execute(params![i as i64, format!("person-{i}")]), "insert");
                }
                expect(tx.commit(), "sqlite commit");
            },
        );
    }
}

fn int(node: &Option<Node>, key: &str) -> Option<i64> {
    match node.as_ref()?.properties.get(key) {
        Some(PropertyValue::Int(i)) => Some(*i),
        _ => None,
    }
}

/// Readers against one writer on a `GraphDB` behind an `RwLock` (the seed's phase-2
/// shape). The writer's every commit sets `v = k` on nodes 1 and 2 and adds one edge out of
/// node 1, so in every snapshot: v(1) == v(2) == out-degree(1). Readers check that on the
/// snapshot they take; the end checks the final state, page checksums, and a reopen.
pub fn stress_core(ctx: &StressContext) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("stress.db");
    let config = Config {
        sync_mode: SyncMode::Batched { commits: 16 },
        page_cache_pages: 64,
        node_cache_capacity: 64,
        edge_cache_capacity: 64,
        checkpoint_after_frames: 256,
    };
    let err = |e: graphdb_core::GraphError| e.to_string();
    let mut db = GraphDB::open(&path, config.clone()).map_err(err)?;
    {
        let mut tx = db.begin_write_txn().map_err(err)?;
        for _ in 0..2 {
            tx.add_node(Node::new().with_label("Pair").with_property("v", 0i64))
                .map_err(err)?;
        }
        tx.commit().map_err(err)?;
    }
    let db = RwLock::new(db);
    let violations = Mutex::new(Vec::<String>::new());
    let commits = std::sync::atomic::AtomicI64::new(0);
    let reads = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for thread in 0..ctx.threads.max(2) {
            let (db, violations, commits, reads) = (&db, &violations, &commits, &reads);
            scope.spawn(move || {
                let mut rng = ctx.rng(thread as u64);
                let report = |msg: String| {
                    violations
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(msg)
                };
                while ctx.keep_going() {
                    if thread == 0 {
                        let mut guard = db.write().unwrap_or_else(|p| p.into_inner());
                        let k = commits.load(std::sync::atomic::Ordering::Relaxed) + 1;
                        let outcome = (|| {
                            let mut tx = guard.begin_write_txn()?;
                            let leaf = tx.add_node(Node::new().with_property("k", k))?;
                            tx.add_edge(Edge::new(1, leaf, "OUT"))?;
                            for id in [1, 2] {
                                tx.update_node(
                                    id,
                                    Node::new().with_label("Pair").with_property("v", k),
                                )?;
                            }
                            tx.commit()
                        })();
                        match outcome {
                            Ok(_) => commits.store(k, std::sync::atomic::Ordering::Relaxed),
                            Err(e) => report(format!("commit {k}: {e}")),
                        }
                        if k % 64 == 0 {
                            // Readers may use the snapshot before the newest one.
                            let ts = guard.current_commit_ts().saturating_sub(1);
                            if let Err(e) = guard.vacuum(ts) {
                                report(format!("vacuum: {e}"));
                            }
                        }
                    } else {
                        let guard = db.read().unwrap_or_else(|p| p.into_inner());
                        let now = guard.current_commit_ts();
                        // Mostly the newest snapshot, sometimes the one before it.
                        let ts = if rng.gen_bool(0.2) {
                            now.saturating_sub(1).max(1)
                        } else {
                            now
                        };
                        let a = guard.get_node_with_snapshot(1, ts, None);
                        let b = guard.get_node_with_snapshot(2, ts, None);
                        let deg = guard.edges_of(1, Direction::Outgoing, ts, None);
                        match (a, b, deg) {
                            (Ok(a), Ok(b), Ok(deg)) => {
                                let (va, vb) = (int(&a, "v"), int(&b, "v"));
                                if va.is_none() || va != vb || va != Some(deg.len() as i64) {
                                    report(format!(
                                        "snapshot {ts}: v1 {va:?}, v2 {vb:?}, degree {}",
                                        deg.len()
                                    ));
                                }
                            }
                            (a, b, d) => report(format!(
                                "read at {ts} failed: {:?} {:?} {:?}",
                                a.err(),
                                b.err(),
                                d.err()
                            )),
                        }
                        reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    ctx.beat();
                }
            });
        }
    });
    let mut violations = violations.into_inner().unwrap_or_else(|p| p.into_inner());
    let k = commits.load(std::sync::atomic::Ordering::Relaxed);
    let db = db.into_inner().unwrap_or_else(|p| p.into_inner());
    let check = |db: &GraphDB, when: &str, violations: &mut Vec<String>| {
        let v1 = int(&db.get_node(1).unwrap_or(None), "v");
        let ts = db.current_commit_ts();
        let degree = db
            .edges_of(1, Direction::Outgoing, ts, None)
            .map(|d| d.len() as i64);
        if v1 != Some(k) || degree.as_ref().ok() != Some(&k) {
            violations.push(format!("{when}: v1 {v1:?}, degree {degree:?}, commits {k}"));
        }
        match db.check() {
            Ok(report) if report.is_ok() => {}
            Ok(report) => {
                violations.push(format!("{when}: integrity check: {:?}", report.problems))
            }
            Err(e) => violations.push(format!("{when}: {e}")),
        }
    };
    check(&db, "end", &mut violations);
    if let Err(e) = db.close() {
        violations.push(format!("close: {e}"));
    }
    match GraphDB::open(&path, config) {
        Ok(db) => check(&db, "after reopen", &mut violations),
        Err(e) => violations.push(format!("reopen: {e}")),
    }
    if let Some(first) = violations.first() {
        return Err(format!("{} violations, first: {first}", violations.len()));
    }
    Ok(format!(
        "graphdb-core: {k} commits, {} snapshot reads on {} threads, all consistent; reopen checked",
        reads.load(std::sync::atomic::Ordering::Relaxed),
        ctx.threads.max(2)
    ))
}
