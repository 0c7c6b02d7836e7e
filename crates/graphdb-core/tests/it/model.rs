//! Model-based property test: random operations against the engine and a plain in-memory
//! model, with commits, aborts, reopenings and simulated power cuts in between.

use graphdb_core::engine::Engine;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use graphdb_core::{
    Config, Direction, Edge, GraphDB, MemStorage, Node, PropertyValue, SyncMode, TxId,
};
use proptest::prelude::*;

type NodeVal = (Vec<String>, i64);
type EdgeVal = (u64, u64, String, i64);

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct State {
    pub(crate) nodes: BTreeMap<u64, NodeVal>,
    pub(crate) edges: BTreeMap<u64, EdgeVal>,
}

#[derive(Debug, Clone)]
enum Op {
    AddNode(u8, i64),
    UpdateNode(usize, i64),
    DeleteNode(usize),
    AddEdge(usize, usize, u8),
    UpdateEdge(usize, i64),
    DeleteEdge(usize),
    Commit,
    Abort,
    Reopen,
    Crash,
    Checkpoint,
    Vacuum,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..3, any::<i64>()).prop_map(|(l, v)| Op::AddNode(l, v)),
        3 => (any::<usize>(), any::<i64>()).prop_map(|(i, v)| Op::UpdateNode(i, v)),
        2 => any::<usize>().prop_map(Op::DeleteNode),
        5 => (any::<usize>(), any::<usize>(), 0u8..2).prop_map(|(a, b, t)| Op::AddEdge(a, b, t)),
        2 => (any::<usize>(), any::<i64>()).prop_map(|(i, v)| Op::UpdateEdge(i, v)),
        2 => any::<usize>().prop_map(Op::DeleteEdge),
        4 => Just(Op::Commit),
        1 => Just(Op::Abort),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Vacuum),
    ]
}

fn node_of(labels: &[String], v: i64) -> Node {
    let mut n = Node::new().with_property("v", v);
    n.labels = labels.to_vec();
    n
}

fn v_of(props: &graphdb_core::Properties) -> i64 {
    match props.get("v") {
        Some(PropertyValue::Int(i)) => *i,
        other => panic!("bad property {other:?}"),
    }
}

/// Reads the whole committed state of `db` and checks adjacency against the edges.
pub(crate) fn read_state(db: &GraphDB) -> Result<State, graphdb_core::GraphError> {
    let report = db.check()?;
    if let Some(first) = report.problems.first() {
        return Err(graphdb_core::GraphError::InvalidArgument(format!(
            "integrity check: {} problems, first: {first}",
            report.problems.len()
        )));
    }
    read_data(db)
}

/// Reads the whole committed state without the integrity check first.
pub(crate) fn read_data(db: &GraphDB) -> Result<State, graphdb_core::GraphError> {
    let ts = db.current_commit_ts();
    let mut s = State::default();
    for n in db.scan_nodes(ts, |_| true)? {
        s.nodes
            .insert(n.id, (n.labels.clone(), v_of(&n.properties)));
    }
    for e in db.scan_edges(ts)? {
        s.edges.insert(
            e.id,
            (e.source, e.target, e.edge_type.clone(), v_of(&e.properties)),
        );
    }
    for id in s.nodes.keys() {
        let mut out = db.edges_of(*id, Direction::Outgoing, ts, None)?;
        let mut inn = db.edges_of(*id, Direction::Incoming, ts, None)?;
        out.sort_unstable();
        inn.sort_unstable();
        let want_out: Vec<u64> = s
            .edges
            .iter()
            .filter(|(_, e)| e.0 == *id)
            .map(|(k, _)| *k)
            .collect();
        let want_in: Vec<u64> = s
            .edges
            .iter()
            .filter(|(_, e)| e.1 == *id)
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(out, want_out, "outgoing adjacency of {id}");
        assert_eq!(inn, want_in, "incoming adjacency of {id}");
    }
    Ok(s)
}

fn open(main: &MemStorage, wal: &MemStorage) -> GraphDB {
    let config = Config {
        sync_mode: SyncMode::Full,
        page_cache_pages: 8,
        node_cache_capacity: 4,
        edge_cache_capacity: 4,
        checkpoint_after_frames: 40,
        ..Config::default()
    };
    GraphDB::open_with_storage(Arc::new(main.clone()), Arc::new(wal.clone()), config).unwrap()
}

fn pick(keys: impl Iterator<Item = u64>, i: usize) -> Option<u64> {
    let keys: Vec<u64> = keys.collect();
    if keys.is_empty() {
        None
    } else {
        Some(keys[i % keys.len()])
    }
}

fn run(ops: Vec<Op>) {
    let (mut main, mut wal) = (MemStorage::new(), MemStorage::new());
    let mut db = open(&main, &wal);
    let mut committed = State::default();
    let mut working = committed.clone();
    let mut tx: Option<TxId> = None;
    let labels = ["A", "B", "C"];
    for op in ops {
        let t = match (&op, tx) {
            (Op::Commit | Op::Abort | Op::Reopen | Op::Crash | Op::Checkpoint | Op::Vacuum, _) => 0,
            (_, Some(t)) => t,
            (_, None) => {
                let t = db.allocate_tx_id();
                db.begin_write(t, db.current_commit_ts()).unwrap();
                tx = Some(t);
                t
            }
        };
        match op {
            Op::AddNode(l, v) => {
                let lab = vec![labels[l as usize].to_string()];
                let id = db.add_node_internal(node_of(&lab, v), t).unwrap();
                working.nodes.insert(id, (lab, v));
            }
            Op::UpdateNode(i, v) => {
                if let Some(id) = pick(working.nodes.keys().copied(), i) {
                    let lab = working.nodes[&id].0.clone();
                    db.update_node(id, node_of(&lab, v), t).unwrap();
                    working.nodes.insert(id, (lab, v));
                }
            }
            Op::DeleteNode(i) => {
                if let Some(id) = pick(working.nodes.keys().copied(), i) {
                    db.delete_node(id, t).unwrap();
                    working.nodes.remove(&id);
                    working.edges.retain(|_, e| e.0 != id && e.1 != id);
                }
            }
            Op::AddEdge(a, b, ty) => {
                if let (Some(s), Some(d)) = (
                    pick(working.nodes.keys().copied(), a),
                    pick(working.nodes.keys().copied(), b),
                ) {
                    let ty = ["X", "Y"][ty as usize].to_string();
                    let id = db
                        .add_edge_internal(Edge::new(s, d, ty.clone()).with_property("v", 0i64), t)
                        .unwrap();
                    working.edges.insert(id, (s, d, ty, 0));
                }
            }
            Op::UpdateEdge(i, v) => {
                if let Some(id) = pick(working.edges.keys().copied(), i) {
                    let (s, d, ty, _) = working.edges[&id].clone();
                    db.update_edge(id, Edge::new(s, d, ty.clone()).with_property("v", v), t)
                        .unwrap();
                    working.edges.insert(id, (s, d, ty, v));
                }
            }
            Op::DeleteEdge(i) => {
                if let Some(id) = pick(working.edges.keys().copied(), i) {
                    db.delete_edge(id, t).unwrap();
                    working.edges.remove(&id);
                }
            }
            Op::Commit => {
                if let Some(t) = tx.take() {
                    db.commit_transaction(t).unwrap();
                    committed = working.clone();
                    assert_eq!(read_state(&db).unwrap(), committed);
                }
            }
            Op::Abort => {
                if let Some(t) = tx.take() {
                    db.rollback_transaction(t);
                    working = committed.clone();
                }
            }
            Op::Reopen => {
                tx = None;
                working = committed.clone();
                db.close().unwrap();
                db = open(&main, &wal);
                assert_eq!(read_state(&db).unwrap(), committed);
            }
            Op::Crash => {
                tx = None;
                working = committed.clone();
                // A power cut: everything not synced is lost, the last write torn.
                let (m, w) = (
                    main.crash_image(0, None),
                    wal.crash_image(usize::MAX, Some(100)),
                );
                std::mem::forget(db);
                main = m;
                wal = w;
                db = open(&main, &wal);
                assert_eq!(read_state(&db).unwrap(), committed);
            }
            Op::Checkpoint => {
                db.checkpoint().unwrap();
            }
            Op::Vacuum => {
                let oldest = db
                    .open_write_snapshots()
                    .into_iter()
                    .min()
                    .unwrap_or(u64::MAX);
                db.vacuum(oldest).unwrap();
                db.verify_pages().unwrap();
                assert_eq!(read_state(&db).unwrap(), committed);
            }
        }
        // Inside a transaction, its own view matches the working model.
        if let Some(t) = tx {
            let snap = db.current_commit_ts();
            for (id, (labels, v)) in &working.nodes {
                let n = db
                    .get_node_with_snapshot(*id, snap, Some(t))
                    .unwrap()
                    .unwrap();
                assert_eq!((&n.labels, v_of(&n.properties)), (labels, *v));
            }
            let ids: BTreeSet<u64> = working.nodes.keys().copied().collect();
            for id in committed.nodes.keys().filter(|k| !ids.contains(k)) {
                assert!(db
                    .get_node_with_snapshot(*id, snap, Some(t))
                    .unwrap()
                    .is_none());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]
    #[test]
    fn engine_matches_in_memory_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops);
    }
}
