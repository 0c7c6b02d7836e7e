//! Integration tests of graphdb-concurrent, each run against every variant it applies to.

// The helpers below are not `#[test]` functions, so clippy's test exemption does not
// reach them; a failing unwrap in a helper is a test failure, as intended.
#![allow(clippy::unwrap_used)]

mod anomalies;
mod api;
mod atomicity;
mod crash;
mod stress;

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use graphdb_concurrent::{ConcurrentGraphDB, Error, Variant};
use graphdb_core::{Config, GraphError, Node, NodeId, PropertyValue, SyncMode};
use tempfile::TempDir;

/// A fresh database of `variant` in a temporary directory (kept alive by the `TempDir`).
pub fn open(variant: Variant) -> (TempDir, ConcurrentGraphDB) {
    open_with(variant, SyncMode::Off)
}

pub fn open_with(variant: Variant, sync_mode: SyncMode) -> (TempDir, ConcurrentGraphDB) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        sync_mode,
        ..Config::default()
    };
    let db = ConcurrentGraphDB::create(dir.path().join("g.db"), config, variant).unwrap();
    (dir, db)
}

/// Runs `f` on a thread and fails the test if it has not finished within `limit`: a
/// deadlock becomes a failure instead of a hung test run.
pub fn watchdog<T: Send + 'static>(
    name: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let out = f();
        let _ = done.send(());
        out
    });
    match finished.recv_timeout(limit) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => match worker.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(RecvTimeoutError::Timeout) => {
            panic!("{name}: did not finish within {limit:?}; deadlock or livelock")
        }
    }
}

/// The seed for randomised tests: `GRAPHDB_TEST_SEED` if set, otherwise fixed. Printed so
/// a failure can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("GRAPHDB_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0004);
    eprintln!("{test}: seed {seed} (set GRAPHDB_TEST_SEED to replay)");
    seed
}

/// A node carrying one integer property `v`.
pub fn with_v(v: i64) -> Node {
    Node::new().with_property("v", v)
}

/// Property `v` of a node.
pub fn v_of(node: &Node) -> i64 {
    match node.properties.get("v") {
        Some(PropertyValue::Int(v)) => *v,
        other => panic!("node {} has v = {other:?}", node.id),
    }
}

/// Creates `n` nodes with `v = init` in one committed transaction.
pub fn seed_nodes(db: &ConcurrentGraphDB, n: usize, init: i64) -> Vec<NodeId> {
    let mut tx = db.begin_transaction().unwrap();
    let ids = (0..n).map(|_| tx.add_node(with_v(init)).unwrap()).collect();
    tx.commit().unwrap();
    ids
}

/// Reads `v` of `id` in a fresh read transaction.
pub fn read_v(db: &ConcurrentGraphDB, id: NodeId) -> i64 {
    let tx = db.begin_read().unwrap();
    let v = v_of(&tx.get_node(id).unwrap().unwrap());
    tx.commit().unwrap();
    v
}

/// Whether `r` failed with a write-write conflict.
pub fn is_conflict<T: std::fmt::Debug>(r: &Result<T, Error>) -> bool {
    matches!(r, Err(Error::Graph(GraphError::Conflict { .. })))
}

/// Adds `delta` to `v` of `id`, retrying on conflict; returns how many attempts failed.
pub fn increment(db: &ConcurrentGraphDB, id: NodeId, delta: i64) -> u32 {
    let mut conflicts = 0;
    loop {
        let mut tx = db.begin_transaction().unwrap();
        let v = v_of(&tx.get_node(id).unwrap().unwrap());
        tx.update_node(id, with_v(v + delta)).unwrap();
        let r = tx.commit();
        if is_conflict(&r) {
            conflicts += 1;
            std::thread::yield_now();
            continue;
        }
        r.unwrap();
        return conflicts;
    }
}
