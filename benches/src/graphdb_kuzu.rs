//! graphdb beside Kuzu (an embedded graph database, through its Python package) on the
//! same generated scale-free graph: bulk import of the same CSV files, breadth-first
//! search from one node over the whole graph (both directions, with levels), weakly
//! connected components, two-hop counts and the size on disk after import.
//!
//! The benchmark writes the CSV files, measures graphdb, then runs
//! `benches/peers/kuzu_bench.py` on the same files and records Kuzu's samples as the
//! `kuzu` variant, so the report prints both and the ratio. Without the `kuzu` package
//! the report says "Kuzu not installed" and only graphdb is measured; smoke mode (CI)
//! never runs Kuzu.

use std::path::{Path, PathBuf};
use std::process::Command;

use bench_harness::{BenchSpec, Measurement, Mode, Suite};
use graphdb_core::engine::analytics_per_node;
use graphdb_core::{Config, Direction, GraphDB};
use rand::{Rng, SeedableRng};

const CRATE: &str = "graphdb-core";

const IMPORT: BenchSpec = BenchSpec {
    crate_name: CRATE,
    bench: "kuzu-import",
    description: "Bulk import of one nodes CSV and one edges CSV (Neo4j layout: id, label, \
                  two typed properties; scale-free edges with a type and one property) into \
                  a new database, records per second: graphdb's interchange::import_csv and \
                  close (graphdb: streaming, bounded memory; graphdb-one-tx: the whole \
                  input in one in-memory transaction, as before), Kuzu's COPY FROM of \
                  both files.",
    baseline: "kuzu",
    seed_target: None,
};

const BFS: BenchSpec = BenchSpec {
    crate_name: CRATE,
    bench: "kuzu-bfs",
    description: "Breadth-first search from node 1 over the whole imported graph, both \
                  directions, every reached node with its level; searches per second. \
                  graphdb-csr reuses the snapshot's analytics layout, graphdb-cold empties \
                  the caches and builds it first (one pass over the nodes), \
                  graphdb-cold-per-node the same with the layout built as before (one \
                  adjacency read per node, neighbours renumbered through a hash map); Kuzu \
                  runs a SHORTEST recursive match that computes every node's level and \
                  returns the count per level.",
    baseline: "kuzu",
    seed_target: None,
};

const WCC: BenchSpec = BenchSpec {
    crate_name: CRATE,
    bench: "kuzu-wcc",
    description: "Weakly connected components of the whole imported graph; runs per second. \
                  graphdb-csr reuses the analytics layout, graphdb-cold empties the caches \
                  and builds it first, graphdb-cold-per-node builds it as before (see \
                  kuzu-bfs). Kuzu projects the graph and calls weakly_connected_components.",
    baseline: "kuzu",
    seed_target: None,
};

const TWO_HOP: BenchSpec = BenchSpec {
    crate_name: CRATE,
    bench: "kuzu-two-hop",
    description: "Distinct nodes within two outgoing hops of a random node (itself left \
                  out), one query at a time; queries per second (Kuzu: one Cypher query \
                  each through its Python API).",
    baseline: "kuzu",
    seed_target: None,
};

fn expect<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("graphdb vs kuzu benchmark: {what}: {e}"))
}

/// Barabási–Albert: node `v` links to `k` earlier nodes picked by degree. Ids 1-based.
fn scale_free(nodes: u64, k: usize, seed: u64) -> impl Iterator<Item = (u64, u64)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut ends: Vec<u64> = vec![1];
    (2..=nodes).flat_map(move |v| {
        let picked: Vec<(u64, u64)> = (0..k.min(v as usize - 1))
            .map(|_| {
                let u = ends[rng.gen_range(0..ends.len())];
                (v, u)
            })
            .collect();
        for (v, u) in &picked {
            ends.push(*u);
            ends.push(*v);
        }
        picked
    })
}

/// Writes `nodes.csv` and `edges.csv` and returns their paths and the record count.
fn write_csv(dir: &Path, nodes: u64, k: usize) -> (PathBuf, PathBuf, u64) {
    use std::io::Write as _;
    let (np, ep) = (dir.join("nodes.csv"), dir.join("edges.csv"));
    let mut w = std::io::BufWriter::new(expect(std::fs::File::create(&np), "create"));
    expect(writeln!(w, ":ID,:LABEL,age:long,name:string"), "write");
    for i in 1..=nodes {
        expect(writeln!(w, "{i},Person,{},person-{i}", i % 100), "write");
    }
    expect(w.flush(), "flush");
    let mut w = std::io::BufWriter::new(expect(std::fs::File::create(&ep), "create"));
    expect(writeln!(w, ":START_ID,:END_ID,:TYPE,since:long"), "write");
    let mut edges = 0u64;
    for (s, t) in scale_free(nodes, k, 5) {
        expect(writeln!(w, "{s},{t},KNOWS,{}", (s + t) % 30), "write");
        edges += 1;
    }
    expect(w.flush(), "flush");
    (np, ep, nodes + edges)
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

/// Kuzu's figures from the script, or why there are none.
fn run_kuzu(
    mode: Mode,
    dir: &Path,
    np: &Path,
    ep: &Path,
    nodes: u64,
) -> Result<serde_json::Value, String> {
    if mode == Mode::Smoke {
        return Err("smoke mode: Kuzu is not run".into());
    }
    let installed = Command::new("python3")
        .args(["-c", "import kuzu"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !installed {
        return Err("Kuzu not installed (pip install kuzu): only graphdb measured".into());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/kuzu_bench.py");
    let scratch = dir.join("kuzu");
    expect(std::fs::create_dir_all(&scratch), "kuzu scratch dir");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--nodes")
        .arg(np)
        .arg("--edges")
        .arg(ep)
        .arg("--dir")
        .arg(&scratch)
        .args(["--node-count", &nodes.to_string()])
        .args(["--samples", &mode.pick(1, 3, 5).to_string()])
        .args(["--two-hop", &mode.pick(10, 200, 1000).to_string()])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("kuzu_bench.py output: {e}"))
}

/// Records Kuzu's samples (seconds each for `ops` operations) as the `kuzu` variant.
fn record_kuzu(suite: &mut Suite, spec: &BenchSpec, seconds: &serde_json::Value, ops: f64) {
    let rates: Vec<f64> = seconds
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_f64)
                .map(|s| ops / s.max(1e-9))
                .collect()
        })
        .unwrap_or_default();
    if let Some(m) = Measurement::from_samples(&rates) {
        suite.record(spec, "kuzu", 1, m);
    }
}

fn rand_node(i: u64, nodes: u64) -> u64 {
    let mut x = i ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x >> 31;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    1 + (x ^ (x >> 29)) % nodes
}

/// graphdb and Kuzu on the same scale-free graph (100K nodes and about 1M edges in quick
/// and full mode).
pub fn bench(suite: &mut Suite) {
    let mode = suite.mode();
    let (nodes, k) = mode.pick((2_000, 3), (100_000, 10), (100_000, 10));
    let dir = expect(
        tempfile::tempdir_in(std::env::temp_dir()),
        "temporary directory",
    );
    let (np, ep, records) = write_csv(dir.path(), nodes, k);
    let db_path = dir.path().join("g.db");
    let mut sizes = (0, 0);
    suite.measure_task(
        &IMPORT,
        "graphdb",
        1,
        || {
            let _ = std::fs::remove_file(&db_path);
            let _ = std::fs::remove_file(graphdb_core::wal_path(&db_path));
            expect(GraphDB::create(&db_path, Config::default()), "create")
        },
        |mut db| {
            let counts = expect(
                graphdb_core::interchange::import_csv(&mut db, &[&np], &[&ep], &mut |_| {}),
                "import",
            );
            expect(db.close(), "close");
            sizes = (
                file_len(&db_path),
                file_len(&graphdb_core::wal_path(&db_path)),
            );
            counts.nodes + counts.edges
        },
    );
    // The import as it was before it streamed: the whole input in one transaction held
    // in memory (limits too large to batch), in the same run.
    let whole = graphdb_core::interchange::ImportOptions {
        in_memory: true,
        ..Default::default()
    };
    suite.measure_task(
        &IMPORT,
        "graphdb-one-tx",
        1,
        || {
            let _ = std::fs::remove_file(&db_path);
            let _ = std::fs::remove_file(graphdb_core::wal_path(&db_path));
            expect(GraphDB::create(&db_path, Config::default()), "create")
        },
        |mut db| {
            let stats = expect(
                graphdb_core::interchange::import_csv_with(
                    &mut db,
                    &[&np],
                    &[&ep],
                    whole,
                    &mut |_| {},
                ),
                "import",
            );
            expect(db.close(), "close");
            stats.counts.nodes + stats.counts.edges
        },
    );
    // The streaming import's file is the one the other measurements read.
    {
        let _ = std::fs::remove_file(&db_path);
        let _ = std::fs::remove_file(graphdb_core::wal_path(&db_path));
        let mut db = expect(GraphDB::create(&db_path, Config::default()), "create");
        let stats = expect(
            graphdb_core::interchange::import_csv_with(
                &mut db,
                &[&np],
                &[&ep],
                Default::default(),
                &mut |_| {},
            ),
            "import",
        );
        expect(db.close(), "close");
        sizes = (
            file_len(&db_path),
            file_len(&graphdb_core::wal_path(&db_path)),
        );
        eprintln!("graphdb-core/kuzu-import: streaming import {stats:?}");
    }
    let db = expect(GraphDB::open(&db_path, Config::default()), "reopen");
    suite.measure_task(
        &BFS,
        "graphdb-csr",
        1,
        || (),
        |()| {
            let a = expect(db.snapshot().analytics(), "analytics");
            let reached = expect(a.bfs(1, Direction::Both, None, None), "bfs").len();
            std::hint::black_box(reached);
            1
        },
    );
    suite.measure_task(
        &BFS,
        "graphdb-cold",
        1,
        || expect(db.clear_caches(), "clear caches"),
        |()| {
            let a = expect(db.snapshot().analytics(), "analytics");
            std::hint::black_box(expect(a.bfs(1, Direction::Both, None, None), "bfs").len());
            1
        },
    );
    suite.measure_task(
        &BFS,
        "graphdb-cold-per-node",
        1,
        || expect(db.clear_caches(), "clear caches"),
        |()| {
            let a = expect(analytics_per_node(&db.snapshot()), "analytics");
            std::hint::black_box(expect(a.bfs(1, Direction::Both, None, None), "bfs").len());
            1
        },
    );
    let reached = expect(
        expect(db.snapshot().analytics(), "analytics").bfs(1, Direction::Both, None, None),
        "bfs",
    )
    .len();
    suite.measure_task(
        &WCC,
        "graphdb-csr",
        1,
        || (),
        |()| {
            let a = expect(db.snapshot().analytics(), "analytics");
            std::hint::black_box(a.weakly_connected_components().count);
            1
        },
    );
    suite.measure_task(
        &WCC,
        "graphdb-cold",
        1,
        || expect(db.clear_caches(), "clear caches"),
        |()| {
            let a = expect(db.snapshot().analytics(), "analytics");
            std::hint::black_box(a.weakly_connected_components().count);
            1
        },
    );
    suite.measure_task(
        &WCC,
        "graphdb-cold-per-node",
        1,
        || expect(db.clear_caches(), "clear caches"),
        |()| {
            let a = expect(analytics_per_node(&db.snapshot()), "analytics");
            std::hint::black_box(a.weakly_connected_components().count);
            1
        },
    );
    let components = expect(db.snapshot().analytics(), "analytics")
        .weakly_connected_components()
        .count;
    let queries = mode.pick(10u64, 200, 1000);
    suite.measure_task(
        &TWO_HOP,
        "graphdb",
        1,
        || (),
        |()| {
            let snap = db.snapshot();
            for i in 0..queries {
                let hop = snap.k_hop(rand_node(i, nodes), 2, Direction::Outgoing, None);
                std::hint::black_box(hop.map(|v| v.len()).ok());
            }
            queries
        },
    );
    expect(db.close(), "close");

    match run_kuzu(mode, dir.path(), &np, &ep, nodes) {
        Err(note) => eprintln!("graphdb-core/kuzu: {note}"),
        Ok(k) => {
            let kuzu_records = k["records"].as_f64().unwrap_or(records as f64);
            record_kuzu(suite, &IMPORT, &k["import_s"], kuzu_records);
            record_kuzu(suite, &BFS, &k["bfs_s"], 1.0);
            record_kuzu(suite, &WCC, &k["wcc_s"], 1.0);
            let q = k["two_hop_queries"].as_f64().unwrap_or(1.0);
            record_kuzu(suite, &TWO_HOP, &k["two_hop_s"], q);
            let kuzu_size = k["size_bytes"].as_u64().unwrap_or(0);
            eprintln!(
                "graphdb-core/kuzu-size: after import of {records} records graphdb main file \
                 {:.1} MB + log {:.1} MB, Kuzu {} {:.1} MB: main file {:.2}x Kuzu's, with \
                 the log {:.2}x",
                sizes.0 as f64 / 1e6,
                sizes.1 as f64 / 1e6,
                k["version"].as_str().unwrap_or("?"),
                kuzu_size as f64 / 1e6,
                sizes.0 as f64 / (kuzu_size.max(1)) as f64,
                (sizes.0 + sizes.1) as f64 / (kuzu_size.max(1)) as f64,
            );
            eprintln!(
                "graphdb-core/kuzu-agreement: BFS reached {reached} (Kuzu {}), components \
                 {components} (Kuzu {})",
                k["bfs_reached"], k["components"]
            );
        }
    }
}
