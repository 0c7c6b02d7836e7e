//! Criterion micro-benchmarks of single engine operations on one thread.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use graphdb_core::engine::Engine;
use graphdb_core::{Config, Direction, Edge, GraphDB, Node, SyncMode};

fn build(dir: &std::path::Path, nodes: u64, config: Config) -> GraphDB {
    let path = dir.join("g.db");
    if !path.exists() {
        let mut db = GraphDB::create(
            &path,
            Config {
                sync_mode: SyncMode::Off,
                ..Config::default()
            },
        )
        .expect("open");
        let mut tx = db.begin_write_txn().expect("begin");
        for i in 0..nodes {
            tx.add_node(Node::new().with_label("P").with_property("i", i as i64))
                .expect("add");
        }
        for i in 1..=nodes {
            for k in 1..=4 {
                tx.add_edge(Edge::new(i, 1 + (i * 7 + k) % nodes, "E"))
                    .expect("edge");
            }
        }
        tx.commit().expect("commit");
        db.close().expect("close");
    }
    GraphDB::open(&path, config).expect("reopen")
}

fn reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = 10_000u64;
    let cached = build(dir.path(), n, Config::default());
    let mut i = 0u64;
    c.bench_function("get_node/cached", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            black_box(cached.get_node(1 + i % n).expect("read"))
        })
    });
    c.bench_function("get_node/page-cache", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            black_box(cached.read_node_version(1 + i % n, u64::MAX).expect("read"))
        })
    });
    c.bench_function("neighbors/out", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            let ts = cached.current_commit_ts();
            black_box(
                cached
                    .neighbors(1 + i % n, Direction::Outgoing, ts, None)
                    .expect("read"),
            )
        })
    });
    drop(cached);
    let tiny = Config {
        page_cache_pages: 8,
        node_cache_capacity: 1,
        edge_cache_capacity: 1,
        ..Config::default()
    };
    let uncached = build(dir.path(), n, tiny);
    c.bench_function("get_node/uncached", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            black_box(uncached.get_node(1 + i % n).expect("read"))
        })
    });
}

fn writes(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = GraphDB::create(
        dir.path().join("w.db"),
        Config {
            sync_mode: SyncMode::Off,
            ..Config::default()
        },
    )
    .expect("open");
    c.bench_function("insert_commit/off", |b| {
        b.iter(|| {
            let mut tx = db.begin_write_txn().expect("begin");
            tx.add_node(Node::new().with_label("P")).expect("add");
            black_box(tx.commit().expect("commit"))
        })
    });
}

criterion_group!(benches, reads, writes);
criterion_main!(benches);
