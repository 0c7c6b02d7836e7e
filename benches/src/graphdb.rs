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
use graphdb_core::engine::Engine;
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
///
/// `GRAPHDB_BENCHES=lookups,kuzu` runs only the groups named (for profiling and for
/// focused before/after runs): `core`, `indexed-insert`, `lookups`, `traversal`,
/// `import`, `kuzu`. Unset or empty, every group runs.
pub fn bench(suite: &mut Suite) {
    if wanted("core") {
        bench_core(suite);
    }
    bench_tools(suite);
    if wanted("kuzu") {
        crate::graphdb_kuzu::bench(suite);
    }
}

/// Whether the group `name` is selected by `GRAPHDB_BENCHES` (see [`bench`]).
fn wanted(name: &str) -> bool {
    let only = std::env::var("GRAPHDB_BENCHES").unwrap_or_default();
    only.trim().is_empty() || only.split(',').any(|g| g.trim() == name)
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
        let mut db = expect(GraphDB::create(&path, config), "open");
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
    // GraphDB::open locks its file, so each differently configured handle reads its own
    // copy of the closed database.
    let copy_of = |name: &str| {
        let to = dir.path().join(name);
        expect(std::fs::copy(&path, &to), "copy database");
        let log = graphdb_core::wal_path(&path);
        if log.exists() {
            expect(std::fs::copy(&log, graphdb_core::wal_path(&to)), "copy log");
        }
        to
    };
    let uncached_path = copy_of("g-uncached.db");
    let pages_only_path = copy_of("g-pages-only.db");
    let db_cached = expect(GraphDB::open(&path, Config::default()), "reopen");
    let tiny = Config {
        page_cache_pages: 8,
        node_cache_capacity: 1,
        edge_cache_capacity: 1,
        ..Config::default()
    };
    // A second handle on a copy of the file: no useful node or page cache, so every read
    // goes to the file (the operating system's page cache) and is verified.
    let db_uncached = expect(GraphDB::open(&uncached_path, tiny), "reopen uncached");
    let pages_only = Config {
        node_cache_capacity: 1,
        edge_cache_capacity: 1,
        ..Config::default()
    };
    // A third handle: no node cache, but a page cache that holds the whole file, so a
    // read costs the id-map walk and the record decode, without I/O or checksums.
    let db_pages_only = expect(
        GraphDB::open(&pages_only_path, pages_only),
        "reopen pages only",
    );
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
    // The `-page-images` variants write the log format before version 4 (a whole page
    // image per page a commit wrote), measured beside the default in the same run.
    let modes = [
        ("full", SyncMode::Full, graphdb_core::LOG_FORMAT_VERSION),
        ("full-page-images", SyncMode::Full, 3),
        (
            "batched",
            SyncMode::Batched { commits: 32 },
            graphdb_core::LOG_FORMAT_VERSION,
        ),
        ("off", SyncMode::Off, graphdb_core::LOG_FORMAT_VERSION),
        ("off-page-images", SyncMode::Off, 3),
    ];
    for (variant, mode, format) in modes {
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
                let mut db = expect(GraphDB::create(dir.path().join("w.db"), config), "open");
                expect(db.use_log_format(format), "log format");
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

/// What the indexes and a traversal must say at a snapshot where nodes 1 and 2 have
/// `v == k` and `k` leaves exist: the pair by label and by value, one leaf per `k`, and a
/// depth-1 BFS from node 1 that reaches every leaf.
fn check_indexes(db: &GraphDB, ts: u64, k: i64, rng: &mut impl Rng) -> Result<(), String> {
    let ids = |r: graphdb_core::Result<Vec<Node>>| -> Result<Vec<u64>, String> {
        r.map(|v| v.into_iter().map(|n| n.id).collect())
            .map_err(|e| e.to_string())
    };
    let pair = ids(db.find_nodes_by_property_at("Pair", "v", &PropertyValue::Int(k), ts, None))?;
    let by_label = ids(db.get_nodes_by_label_at("Pair", ts, None))?;
    if pair != [1, 2] || by_label != [1, 2] {
        return Err(format!(
            "index lookups: v={k} gives {pair:?}, label Pair {by_label:?}"
        ));
    }
    if k > 0 {
        let j = rng.gen_range(1..=k);
        let leaf =
            ids(db.find_nodes_by_property_at("Leaf", "k", &PropertyValue::Int(j), ts, None))?;
        if leaf.len() != 1 {
            return Err(format!("leaf k={j} found {leaf:?}"));
        }
    }
    let reached = db
        .snapshot_at(ts, None)
        .bfs(1, Direction::Outgoing, Some("OUT"), Some(1))
        .map_err(|e| e.to_string())?
        .count() as i64;
    if reached != k + 1 {
        return Err(format!(
            "BFS from node 1 reached {reached}, expected {}",
            k + 1
        ));
    }
    Ok(())
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
        ..Config::default()
    };
    let err = |e: graphdb_core::GraphError| e.to_string();
    let mut db = GraphDB::create(&path, config.clone()).map_err(err)?;
    {
        let mut tx = db.begin_write_txn().map_err(err)?;
        for _ in 0..2 {
            tx.add_node(Node::new().with_label("Pair").with_property("v", 0i64))
                .map_err(err)?;
        }
        tx.commit().map_err(err)?;
    }
    // Indexes the readers check against the data they see (issue 5).
    for def in [
        graphdb_core::IndexDef::label("Pair"),
        graphdb_core::IndexDef::property("Pair", "v"),
        graphdb_core::IndexDef::property("Leaf", "k"),
    ] {
        db.create_index(def).map_err(err)?;
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
                            let leaf =
                                tx.add_node(Node::new().with_label("Leaf").with_property("k", k))?;
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
                        if k % 128 == 0 {
                            // The whole-file check, indexes included, at intervals.
                            match guard.check() {
                                Ok(r) if r.is_ok() => {}
                                Ok(r) => {
                                    report(format!("check after commit {k}: {:?}", r.problems))
                                }
                                Err(e) => report(format!("check after commit {k}: {e}")),
                            }
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
                                if let Some(v) = va.filter(|_| rng.gen_bool(0.3)) {
                                    if let Err(msg) = check_indexes(&guard, ts, v, &mut rng) {
                                        report(format!("snapshot {ts}: {msg}"));
                                    }
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
        "graphdb-core: {k} commits, {} snapshot reads (index lookups and BFS in a third) on {} threads, all consistent; check() every 128 commits; reopen checked",
        reads.load(std::sync::atomic::Ordering::Relaxed),
        ctx.threads.max(2)
    ))
}

// ----- issue 5: indexes, traversal, import -----

const LOOKUP_LABEL: BenchSpec = BenchSpec {
    crate_name: "graphdb-core",
    bench: "lookup-label",
    description: "All nodes with label VIP (1% of the nodes), newest snapshot. Every variant \
                  reads the same three values of each result, id, age and name (SQLite: the \
                  three columns of its row, the name copied into a String): `index` and \
                  `scan` get full copies of the nodes (`get_nodes_by_label`, the cloning \
                  API), `index-shared` shares the cached nodes (`get_nodes_by_label_shared`, \
                  `Arc<Node>`, no copy).",
    baseline: "scan",
    seed_target: None,
};

const LOOKUP_PROPERTY: BenchSpec = BenchSpec {
    crate_name: "graphdb-core",
    bench: "lookup-property",
    description: "All Person nodes whose age equals a random value (1% of the nodes). Each \
                  variant reads id, age and name of each result (see lookup-label): `index` \
                  copies the nodes (`find_nodes_by_property`), `index-shared` shares them \
                  (`find_nodes_by_property_shared`).",
    baseline: "scan",
    seed_target: None,
};

const LOOKUP_RANGE: BenchSpec = BenchSpec {
    crate_name: "graphdb-core",
    bench: "lookup-range",
    description: "All Person nodes with age in a random window of 3 values (3% of the \
                  nodes). Each variant reads id, age and name of each result (see \
                  lookup-label): `index` copies the nodes (`find_nodes_by_property_range`), \
                  `index-shared` shares them (`Snapshot::nodes_by_property_range`).",
    baseline: "scan",
    seed_target: None,
};

const TWO_HOP: BenchSpec = BenchSpec {
    crate_name: "graphdb-core",
    bench: "two-hop-count",
    description: "Distinct nodes within 2 outgoing hops of a random node of the scale-free graph.",
    baseline: "sqlite",
    seed_target: None,
};

const BFS_FULL: BenchSpec = BenchSpec {
    crate_name: "graphdb-core",
    bench: "bfs-scale-free",
    description: "Whole BFS (both directions, with levels) from node 1 of a scale-free graph \
                  (Barabási–Albert, 3 edges per new node); ops = nodes reached per second.",
    baseline: "sqlite",
    seed_target: None,
};

const IMPORT: BenchSpec = BenchSpec {
    crate_name: "graphdb-core",
    bench: "import",
    description: "Import a nodes CSV and an edges CSV (Neo4j layout, 3 edges per node) as one \
                  durable transaction into a fresh database; ops = records per second.",
    baseline: "sqlite",
    seed_target: None,
};

fn sqlite_at(path: &Path) -> Connection {
    expect(Connection::open(path), "sqlite open")
}

/// People with `age` 0..100 and `name`; 1% also carry the label VIP. The same rows in
/// SQLite (a `nodes` table and a `node_labels` table, both indexed).
struct LookupData {
    _dir: tempfile::TempDir,
    scan: Arc<GraphDB>,
    indexed: Arc<GraphDB>,
    sqlite_path: std::path::PathBuf,
}

fn build_lookup_data(nodes: u64) -> LookupData {
    let dir = temp_dir();
    let plain = dir.path().join("plain.db");
    let with_index = dir.path().join("indexed.db");
    let config = Config {
        sync_mode: SyncMode::Off,
        page_cache_pages: 16_384,
        ..Config::default()
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let rows: Vec<(i64, bool)> = (0..nodes)
        .map(|_| (rng.gen_range(0..100), rng.gen_bool(0.01)))
        .collect();
    for path in [&plain, &with_index] {
        let mut db = expect(GraphDB::create(path, config.clone()), "open");
        let mut tx = expect(db.begin_write_txn(), "begin");
        for (i, (age, vip)) in rows.iter().enumerate() {
            let mut n = Node::new()
                .with_label("Person")
                .with_property("age", *age)
                .with_property("name", format!("person-{i}"));
            if *vip {
                n = n.with_label("VIP");
            }
            expect(tx.add_node(n), "add");
        }
        expect(tx.commit(), "commit");
        if path == &with_index {
            expect(
                db.create_index(graphdb_core::IndexDef::label("VIP")),
                "index",
            );
            expect(
                db.create_index(graphdb_core::IndexDef::property("Person", "age")),
                "index",
            );
        }
        expect(db.close(), "close");
    }
    let sqlite_path = dir.path().join("lookup.sqlite");
    {
        let mut conn = sqlite_at(&sqlite_path);
        expect(
            conn.execute_batch(
                "PRAGMA journal_mode=WAL;
                 CREATE TABLE nodes (id INTEGER PRIMARY KEY, age INTEGER, name TEXT);
                 CREATE TABLE node_labels (label TEXT, node INTEGER);",
            ),
            "sqlite schema",
        );
        let tx = expect(conn.transaction(), "sqlite tx");
        {
            let mut ins = expect(tx.prepare("INSERT INTO nodes VALUES (?1, ?2, ?3)"), "prep");
            let mut lab = expect(
                tx.prepare("INSERT INTO node_labels VALUES (?1, ?2)"),
                "prep",
            );
            for (i, (age, vip)) in rows.iter().enumerate() {
                let id = i as i64 + 1;
                expect(
                    ins.execute(params![id, age, format!("person-{i}")]),
                    "insert",
                );
                expect(lab.execute(params!["Person", id]), "insert");
                if *vip {
                    expect(lab.execute(params!["VIP", id]), "insert");
                }
            }
        }
        expect(tx.commit(), "sqlite commit");
        expect(
            conn.execute_batch(
                "CREATE INDEX nodes_age ON nodes(age);
                 CREATE INDEX labels_label ON node_labels(label, node);",
            ),
            "sqlite index",
        );
    }
    let open = |p: &Path| Arc::new(expect(GraphDB::open(p, config.clone()), "reopen"));
    LookupData {
        scan: open(&plain),
        indexed: open(&with_index),
        _dir: dir,
        sqlite_path,
    }
}

fn count_rows(conn: &Connection, sql: &str, args: &[i64]) -> usize {
    let mut stmt = expect(conn.prepare_cached(sql), "prep");
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
        ))
    });
    // The same reads as `read_rows` does on graphdb's results.
    let mut sum = 0usize;
    let count = rows
        .map(|r| {
            r.filter_map(Result::ok)
                .map(|(id, age, name)| {
                    sum = sum.wrapping_add(id as usize ^ age as usize ^ name.len());
                })
                .count()
        })
        .unwrap_or(0);
    std::hint::black_box(sum);
    count
}

/// What every lookup variant reads from each result: id, age and the name's length (the
/// three columns SQLite returns).
fn read_rows<N: std::borrow::Borrow<Node>>(rows: &[N]) -> usize {
    let mut sum = 0usize;
    for n in rows {
        let n: &Node = n.borrow();
        let age = match n.properties.get("age") {
            Some(PropertyValue::Int(a)) => *a as usize,
            _ => 0,
        };
        let name = match n.properties.get("name") {
            Some(PropertyValue::String(s)) => s.len(),
            _ => 0,
        };
        sum = sum.wrapping_add(n.id as usize ^ age ^ name);
    }
    std::hint::black_box(sum);
    rows.len()
}

fn bench_lookups(suite: &mut Suite) {
    let nodes = suite.mode().pick(2_000, 20_000, 100_000);
    let data = build_lookup_data(nodes);
    let sqlite = data.sqlite_path.clone();
    for (variant, db) in [("scan", &data.scan), ("index", &data.indexed)] {
        let db = db.clone();
        suite.measure(
            &LOOKUP_LABEL,
            variant,
            1,
            Budget::Duration,
            || db.clone(),
            |db, _, _| {
                let found = db.get_nodes_by_label("VIP");
                std::hint::black_box(found.map(|v| read_rows(&v)).ok());
            },
        );
        let db2 = db.clone();
        suite.measure(
            &LOOKUP_PROPERTY,
            variant,
            1,
            Budget::Duration,
            || db2.clone(),
            |db, t, i| {
                let age = PropertyValue::Int((rand_id(t, i, 100) - 1) as i64);
                let found = db.find_nodes_by_property("Person", "age", &age);
                std::hint::black_box(found.map(|v| read_rows(&v)).ok());
            },
        );
        let db3 = db.clone();
        suite.measure(
            &LOOKUP_RANGE,
            variant,
            1,
            Budget::Duration,
            || db3.clone(),
            |db, t, i| {
                let lo = (rand_id(t, i, 97) - 1) as i64;
                let (lo, hi) = (PropertyValue::Int(lo), PropertyValue::Int(lo + 3));
                let found = db.find_nodes_by_property_range(
                    "Person",
                    "age",
                    std::ops::Bound::Included(&lo),
                    std::ops::Bound::Excluded(&hi),
                    db.current_commit_ts(),
                    None,
                );
                std::hint::black_box(found.map(|v| read_rows(&v)).ok());
            },
        );
    }
    // The same lookups returning the cached nodes shared (`Arc<Node>`), not copied.
    let db = data.indexed.clone();
    suite.measure(
        &LOOKUP_LABEL,
        "index-shared",
        1,
        Budget::Duration,
        || db.clone(),
        |db, _, _| {
            let found = db.get_nodes_by_label_shared("VIP");
            std::hint::black_box(found.map(|v| read_rows(&v)).ok());
        },
    );
    suite.measure(
        &LOOKUP_PROPERTY,
        "index-shared",
        1,
        Budget::Duration,
        || db.clone(),
        |db, t, i| {
            let age = PropertyValue::Int((rand_id(t, i, 100) - 1) as i64);
            let found = db.find_nodes_by_property_shared("Person", "age", &age);
            std::hint::black_box(found.map(|v| read_rows(&v)).ok());
        },
    );
    suite.measure(
        &LOOKUP_RANGE,
        "index-shared",
        1,
        Budget::Duration,
        || db.clone(),
        |db, t, i| {
            let lo = (rand_id(t, i, 97) - 1) as i64;
            let (lo, hi) = (PropertyValue::Int(lo), PropertyValue::Int(lo + 3));
            let found = db.snapshot().nodes_by_property_range(
                "Person",
                "age",
                std::ops::Bound::Included(&lo),
                std::ops::Bound::Excluded(&hi),
            );
            std::hint::black_box(found.map(|v| read_rows(&v)).ok());
        },
    );
    for (variant, hint) in [("sqlite-scan", "NOT INDEXED"), ("sqlite-index", "")] {
        let label_sql = format!(
            "SELECT n.id, n.age, n.name FROM node_labels AS l {hint} JOIN nodes n ON n.id = l.node WHERE l.label = 'VIP'"
        );
        let p = sqlite.clone();
        suite.measure(
            &LOOKUP_LABEL,
            variant,
            1,
            Budget::Duration,
            || Mutex::new(sqlite_at(&p)),
            |c, _, _| {
                let c = &*c.lock().unwrap_or_else(|p| p.into_inner());
                std::hint::black_box(count_rows(c, &label_sql, &[]));
            },
        );
        let eq_sql = format!("SELECT id, age, name FROM nodes {hint} WHERE age = ?1");
        suite.measure(
            &LOOKUP_PROPERTY,
            variant,
            1,
            Budget::Duration,
            || Mutex::new(sqlite_at(&p)),
            |c, t, i| {
                let c = &*c.lock().unwrap_or_else(|p| p.into_inner());
                let age = (rand_id(t, i, 100) - 1) as i64;
                std::hint::black_box(count_rows(c, &eq_sql, &[age]));
            },
        );
        let range_sql =
            format!("SELECT id, age, name FROM nodes {hint} WHERE age >= ?1 AND age < ?2");
        suite.measure(
            &LOOKUP_RANGE,
            variant,
            1,
            Budget::Duration,
            || Mutex::new(sqlite_at(&p)),
            |c, t, i| {
                let c = &*c.lock().unwrap_or_else(|p| p.into_inner());
                let lo = (rand_id(t, i, 97) - 1) as i64;
                std::hint::black_box(count_rows(c, &range_sql, &[lo, lo + 3]));
            },
        );
    }
}

/// Barabási–Albert: node `v` links to `k` earlier nodes picked by degree. Ids 1-based.
fn scale_free_edges(nodes: u64, k: usize, seed: u64) -> Vec<(u64, u64)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut ends: Vec<u64> = vec![1];
    let mut edges = Vec::with_capacity(nodes as usize * k);
    for v in 2..=nodes {
        for _ in 0..k.min(v as usize - 1) {
            let u = ends[rng.gen_range(0..ends.len())];
            edges.push((v, u));
            ends.push(u);
            ends.push(v);
        }
    }
    edges
}

struct GraphData {
    _dir: tempfile::TempDir,
    db: Arc<GraphDB>,
    sqlite_path: std::path::PathBuf,
    nodes: u64,
}

fn build_graph_data(nodes: u64) -> GraphData {
    let dir = temp_dir();
    let path = dir.path().join("sf.db");
    let edges = scale_free_edges(nodes, 3, 11);
    let config = Config {
        sync_mode: SyncMode::Off,
        page_cache_pages: 16_384,
        ..Config::default()
    };
    {
        let mut db = expect(GraphDB::create(&path, config.clone()), "open");
        let mut tx = expect(db.begin_write_txn(), "begin");
        for i in 1..=nodes {
            expect(tx.add_node(Node::new().with_property("i", i as i64)), "add");
        }
        for (s, t) in &edges {
            expect(tx.add_edge(Edge::new(*s, *t, "LINK")), "add edge");
        }
        expect(tx.commit(), "commit");
        expect(db.close(), "close");
    }
    let sqlite_path = dir.path().join("sf.sqlite");
    {
        let mut conn = sqlite_at(&sqlite_path);
        expect(
            conn.execute_batch(
                "PRAGMA journal_mode=WAL;
                 CREATE TABLE nodes (id INTEGER PRIMARY KEY, i INTEGER);
                 CREATE TABLE edges (id INTEGER PRIMARY KEY, src INTEGER, dst INTEGER, type TEXT);",
            ),
            "sqlite schema",
        );
        let tx = expect(conn.transaction(), "sqlite tx");
        {
            let mut ins = expect(tx.prepare("INSERT INTO nodes VALUES (?1, ?1)"), "prep");
            for i in 1..=nodes {
                expect(ins.execute(params![i as i64]), "insert");
            }
            let mut ins = expect(
                tx.prepare("INSERT INTO edges (src, dst, type) VALUES (?1, ?2, 'LINK')"),
                "prep",
            );
            for (s, t) in &edges {
                expect(ins.execute(params![*s as i64, *t as i64]), "insert");
            }
        }
        expect(tx.commit(), "sqlite commit");
        expect(
            conn.execute_batch(
                "CREATE INDEX edges_src ON edges(src, dst); CREATE INDEX edges_dst ON edges(dst, src);",
            ),
            "sqlite index",
        );
    }
    GraphData {
        db: Arc::new(expect(GraphDB::open(&path, config), "reopen")),
        _dir: dir,
        sqlite_path,
        nodes,
    }
}

/// BFS over SQLite the way an application would: one indexed query per node and
/// direction, levels kept in a hash map.
fn sqlite_bfs(conn: &Connection, start: i64) -> usize {
    let mut out = expect(
        conn.prepare_cached("SELECT dst FROM edges WHERE src = ?1"),
        "prep",
    );
    let mut inn = expect(
        conn.prepare_cached("SELECT src FROM edges WHERE dst = ?1"),
        "prep",
    );
    let mut level: std::collections::HashMap<i64, u32> = std::collections::HashMap::new();
    level.insert(start, 0);
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        let d = level[&v];
        for stmt in [&mut out, &mut inn] {
            let next: Vec<i64> = stmt
                .query_map(params![v], |r| r.get(0))
                .map(|rows| rows.filter_map(Result::ok).collect())
                .unwrap_or_default();
            for u in next {
                if let std::collections::hash_map::Entry::Vacant(e) = level.entry(u) {
                    e.insert(d + 1);
                    queue.push_back(u);
                }
            }
        }
    }
    level.len()
}

fn bench_traversal(suite: &mut Suite) {
    let nodes = suite.mode().pick(3_000, 100_000, 100_000);
    let data = build_graph_data(nodes);
    let n = data.nodes;
    let db = data.db.clone();
    suite.measure(
        &TWO_HOP,
        "graphdb",
        1,
        Budget::Duration,
        || db.clone(),
        |db, t, i| {
            let hop = db
                .snapshot()
                .k_hop(rand_id(t, i, n), 2, Direction::Outgoing, None);
            std::hint::black_box(hop.map(|v| v.len()).ok());
        },
    );
    let p = data.sqlite_path.clone();
    suite.measure(&TWO_HOP, "sqlite", 1, Budget::Duration, || Mutex::new(sqlite_at(&p)), |c, t, i| {
            let c = &*c.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = expect(
            c.prepare_cached(
                "SELECT COUNT(*) FROM (SELECT dst FROM edges WHERE src = ?1
                 UNION SELECT e2.dst FROM edges e1 JOIN edges e2 ON e2.src = e1.dst WHERE e1.src = ?1)
                 WHERE dst != ?1",
            ),
            "prep",
        );
        let count: Option<i64> = stmt.query_row(params![rand_id(t, i, n) as i64], |r| r.get(0)).ok();
        std::hint::black_box(count);
    });
    let db = data.db.clone();
    suite.measure_task(
        &BFS_FULL,
        "graphdb",
        1,
        || db.clone(),
        |db| {
            let reached = db
                .snapshot()
                .bfs(1, Direction::Both, None, None)
                .map(|it| it.filter(Result::is_ok).count())
                .unwrap_or(0);
            reached as u64
        },
    );
    // The analytics layout (CSR of the snapshot): built for every BFS (the caches are
    // cleared first), and reused as it is while no commit intervenes.
    suite.measure_task(
        &BFS_FULL,
        "graphdb-csr-cold",
        1,
        || db.clone(),
        |db| {
            let _ = db.clear_caches();
            db.snapshot()
                .analytics()
                .and_then(|a| a.bfs(1, Direction::Both, None, None))
                .map_or(0, |v| v.len() as u64)
        },
    );
    suite.measure_task(
        &BFS_FULL,
        "graphdb-csr",
        1,
        || db.clone(),
        |db| {
            db.snapshot()
                .analytics()
                .and_then(|a| a.bfs(1, Direction::Both, None, None))
                .map_or(0, |v| v.len() as u64)
        },
    );
    suite.measure_task(
        &BFS_FULL,
        "sqlite",
        1,
        || sqlite_at(&p),
        |c| sqlite_bfs(&c, 1) as u64,
    );
}

/// The import input: a nodes file and an edges file in Neo4j's layout.
fn write_import_files(dir: &Path, nodes: u64) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::io::Write as _;
    let (np, ep) = (dir.join("nodes.csv"), dir.join("edges.csv"));
    let mut w = std::io::BufWriter::new(expect(std::fs::File::create(&np), "create"));
    expect(writeln!(w, ":ID,:LABEL,age:long,name:string"), "write");
    for i in 1..=nodes {
        expect(
            writeln!(w, "{i},Person,{},\"person-{i}\"", i % 100),
            "write",
        );
    }
    expect(w.flush(), "flush");
    let mut w = std::io::BufWriter::new(expect(std::fs::File::create(&ep), "create"));
    expect(writeln!(w, ":START_ID,:END_ID,:TYPE,since:long"), "write");
    for (s, t) in scale_free_edges(nodes, 3, 3) {
        expect(writeln!(w, "{s},{t},KNOWS,{}", (s + t) % 30), "write");
    }
    expect(w.flush(), "flush");
    (np, ep)
}

fn bench_import(suite: &mut Suite) {
    let nodes = suite.mode().pick(2_000, 20_000, 100_000);
    let input = temp_dir();
    let (np, ep) = write_import_files(input.path(), nodes);
    suite.measure_task(
        &IMPORT,
        "graphdb",
        1,
        || {
            let dir = temp_dir();
            let db = expect(
                GraphDB::create(dir.path().join("i.db"), Config::default()),
                "open",
            );
            (db, dir)
        },
        |(mut db, _dir)| {
            let counts = expect(
                graphdb_core::interchange::import_csv(&mut db, &[&np], &[&ep], &mut |_| {}),
                "import",
            );
            expect(db.close(), "close");
            counts.nodes + counts.edges
        },
    );
    suite.measure_task(
        &IMPORT,
        "sqlite",
        1,
        || {
            let dir = temp_dir();
            let conn = sqlite_at(&dir.path().join("i.sqlite"));
            expect(
                conn.execute_batch(
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
                     CREATE TABLE nodes (id INTEGER PRIMARY KEY, label TEXT, age INTEGER, name TEXT);
                     CREATE TABLE edges (id INTEGER PRIMARY KEY, src INTEGER, dst INTEGER, type TEXT, since INTEGER);
                     CREATE INDEX edges_src ON edges(src); CREATE INDEX edges_dst ON edges(dst);",
                ),
                "sqlite schema",
            );
            (conn, dir)
        },
        |(mut conn, _dir)| {
            // The same work as the import: read and split both files, one transaction.
            let tx = expect(conn.transaction(), "sqlite tx");
            let mut records = 0u64;
            {
                let text = expect(std::fs::read_to_string(&np), "read");
                let mut ins = expect(tx.prepare("INSERT INTO nodes VALUES (?1, ?2, ?3, ?4)"), "prep");
                for line in text.lines().skip(1) {
                    let f: Vec<&str> = line.split(',').collect();
                    let id: i64 = f[0].parse().unwrap_or(0);
                    let age: i64 = f[2].parse().unwrap_or(0);
                    expect(ins.execute(params![id, f[1], age, f[3].trim_matches('"')]), "insert");
                    records += 1;
                }
                let text = expect(std::fs::read_to_string(&ep), "read");
                let mut ins = expect(
                    tx.prepare("INSERT INTO edges (src, dst, type, since) VALUES (?1, ?2, ?3, ?4)"),
                    "prep",
                );
                for line in text.lines().skip(1) {
                    let f: Vec<&str> = line.split(',').collect();
                    let s: i64 = f[0].parse().unwrap_or(0);
                    let t: i64 = f[1].parse().unwrap_or(0);
                    let since: i64 = f[3].parse().unwrap_or(0);
                    expect(ins.execute(params![s, t, f[2], since]), "insert");
                    records += 1;
                }
            }
            expect(tx.commit(), "sqlite commit");
            records
        },
    );
}

const INDEXED_INSERT: BenchSpec = BenchSpec {
    crate_name: "graphdb-core",
    bench: "indexed-insert",
    description: "Insert one Person node (age, name) and commit with SyncMode::Off, into a \
                  database without indexes or with a label and two property indexes.",
    baseline: "no-index",
    seed_target: None,
};

/// What the indexes cost a writer: the same commit with and without three indexes.
fn bench_indexed_insert(suite: &mut Suite) {
    for (variant, indexed) in [("no-index", false), ("3-indexes", true)] {
        suite.measure(
            &INDEXED_INSERT,
            variant,
            1,
            Budget::Duration,
            || {
                let dir = temp_dir();
                let config = Config {
                    sync_mode: SyncMode::Off,
                    ..Config::default()
                };
                let mut db = expect(GraphDB::create(dir.path().join("w.db"), config), "open");
                if indexed {
                    for def in [
                        graphdb_core::IndexDef::label("Person"),
                        graphdb_core::IndexDef::property("Person", "id"),
                        graphdb_core::IndexDef::property("Person", "name"),
                    ] {
                        expect(db.create_index(def), "index");
                    }
                }
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
}

/// The issue-5 benchmarks: lookups with and without indexes, 2-hop counts, BFS and
/// import, each beside SQLite on the same data, and the write cost of indexes.
pub fn bench_tools(suite: &mut Suite) {
    if wanted("indexed-insert") {
        bench_indexed_insert(suite);
    }
    if wanted("lookups") {
        bench_lookups(suite);
    }
    if wanted("traversal") {
        bench_traversal(suite);
    }
    if wanted("import") {
        bench_import(suite);
    }
}
