//! Snapshot isolation against a model: up to three write transactions interleave their
//! operations; each reads its snapshot plus its own writes, and commit follows the
//! documented first-committer-wins rules exactly (`GraphError::Conflict`, nothing
//! applied), which the model re-derives from the history of committed states.

use graphdb_core::engine::Engine;
use std::collections::{BTreeMap, BTreeSet};

use graphdb_core::{Edge, GraphDB, GraphError, Node, TxId};
use proptest::prelude::*;

use crate::model::{read_state, State};
use crate::{mem_db, small_config};

#[derive(Debug, Clone)]
enum Op {
    Begin(usize),
    AddNode(usize, i64),
    UpdateNode(usize, usize, i64),
    DeleteNode(usize, usize),
    AddEdge(usize, usize, usize),
    UpdateEdge(usize, usize, i64),
    DeleteEdge(usize, usize),
    Commit(usize),
    Abort(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0usize..3;
    prop_oneof![
        2 => slot.clone().prop_map(Op::Begin),
        4 => (slot.clone(), -9i64..9).prop_map(|(s, v)| Op::AddNode(s, v)),
        3 => (slot.clone(), any::<usize>(), -9i64..9).prop_map(|(s, i, v)| Op::UpdateNode(s, i, v)),
        1 => (slot.clone(), any::<usize>()).prop_map(|(s, i)| Op::DeleteNode(s, i)),
        3 => (slot.clone(), any::<usize>(), any::<usize>()).prop_map(|(s, a, b)| Op::AddEdge(s, a, b)),
        2 => (slot.clone(), any::<usize>(), -9i64..9).prop_map(|(s, i, v)| Op::UpdateEdge(s, i, v)),
        1 => (slot.clone(), any::<usize>()).prop_map(|(s, i)| Op::DeleteEdge(s, i)),
        3 => slot.clone().prop_map(Op::Commit),
        1 => slot.prop_map(Op::Abort),
    ]
}

#[derive(Debug, Clone, PartialEq)]
enum W {
    Put { is_new: bool },
    Delete,
}

struct Tx {
    id: TxId,
    snapshot: usize,
    view: State,
    nodes: BTreeMap<u64, W>,
    edges: BTreeMap<u64, W>,
}

fn pick(keys: impl Iterator<Item = u64>, i: usize) -> Option<u64> {
    let keys: Vec<u64> = keys.collect();
    (!keys.is_empty()).then(|| keys[i % keys.len()])
}

fn node(v: i64) -> Node {
    Node::new().with_label("N").with_property("v", v)
}

fn touches(s: &State, node: u64) -> Vec<u64> {
    s.edges
        .iter()
        .filter(|(_, e)| e.0 == node || e.1 == node)
        .map(|(k, _)| *k)
        .collect()
}

/// What one commit wrote: nodes whose content or existence changed, nodes that got any
/// new version (content or adjacency), and edges. A write that stores an equal value is
/// still a new version, so this is tracked, not derived from state differences.
#[derive(Default)]
struct Written {
    node_content: BTreeSet<u64>,
    node_any: BTreeSet<u64>,
    edges: BTreeSet<u64>,
}

fn written_by(tx: &Tx, before: &State) -> Written {
    let mut w = Written::default();
    for id in tx.nodes.keys() {
        w.node_content.insert(*id);
        w.node_any.insert(*id);
    }
    for (id, op) in &tx.edges {
        w.edges.insert(*id);
        let ends = match op {
            W::Put { is_new: true } => Some(tx.view.edges[id].clone()),
            W::Delete => before.edges.get(id).cloned(),
            W::Put { is_new: false } => None,
        };
        if let Some((s, t, _, _)) = ends {
            w.node_any.insert(s);
            w.node_any.insert(t);
        }
    }
    w
}

/// Whether the model says the commit of `tx` conflicts, given what every later commit
/// wrote (`writes[ts]` is what the commit at `ts` wrote).
fn conflicts(history: &[State], writes: &[Written], tx: &Tx) -> bool {
    let later = &writes[tx.snapshot + 1..];
    let content = |id: &u64| later.iter().any(|w| w.node_content.contains(id));
    let any = |id: &u64| later.iter().any(|w| w.node_any.contains(id));
    let edge = |id: &u64| later.iter().any(|w| w.edges.contains(id));
    let current = history.last().expect("history starts with the empty state");
    for (id, w) in &tx.nodes {
        match w {
            W::Put { is_new: true } => {}
            W::Put { is_new: false } => {
                if !current.nodes.contains_key(id) || content(id) {
                    return true;
                }
            }
            W::Delete => {
                if !current.nodes.contains_key(id) || any(id) {
                    return true;
                }
            }
        }
    }
    for (id, w) in &tx.edges {
        match w {
            W::Put { is_new: true } => {
                let (s, t, _, _) = &tx.view.edges[id];
                for end in [s, t] {
                    let mine = matches!(tx.nodes.get(end), Some(W::Put { is_new: true }));
                    if !mine && !current.nodes.contains_key(end) {
                        return true;
                    }
                }
            }
            _ => {
                if !current.edges.contains_key(id) || edge(id) {
                    return true;
                }
            }
        }
    }
    false
}

/// The committed state after `tx` is applied on top of `current`.
fn apply(current: &State, tx: &Tx) -> State {
    let mut s = current.clone();
    for (id, w) in &tx.nodes {
        match w {
            W::Put { .. } => {
                s.nodes.insert(*id, tx.view.nodes[id].clone());
            }
            W::Delete => {
                s.nodes.remove(id);
            }
        }
    }
    for (id, w) in &tx.edges {
        match w {
            W::Put { .. } => {
                s.edges.insert(*id, tx.view.edges[id].clone());
            }
            W::Delete => {
                s.edges.remove(id);
            }
        }
    }
    s
}

fn record(map: &mut BTreeMap<u64, W>, id: u64, w: W) {
    match (map.get(&id), &w) {
        (Some(W::Put { is_new: true }), W::Delete) => {
            map.remove(&id);
        }
        (Some(W::Put { is_new: true }), W::Put { .. }) => {}
        _ => {
            map.insert(id, w);
        }
    }
}

fn run(ops: Vec<Op>) {
    let (mut db, _, _) = mem_db(small_config());
    // history[ts] is the committed state at commit timestamp ts.
    let mut history = vec![State::default()];
    let mut writes: Vec<Written> = vec![Written::default()];
    let mut slots: [Option<Tx>; 3] = [None, None, None];
    let (mut commits, mut conflicts_seen) = (0, 0);
    for op in ops {
        // Any write on a slot without a transaction begins one first.
        let auto = match &op {
            Op::AddNode(s, ..)
            | Op::UpdateNode(s, ..)
            | Op::DeleteNode(s, ..)
            | Op::AddEdge(s, ..)
            | Op::UpdateEdge(s, ..)
            | Op::DeleteEdge(s, ..) => Some(*s),
            _ => None,
        };
        if let Some(s) = auto {
            if slots[s].is_none() {
                let id = db.allocate_tx_id();
                let ts = db.current_commit_ts();
                db.begin_write(id, ts).unwrap();
                let view = history[ts as usize].clone();
                slots[s] = Some(Tx {
                    id,
                    snapshot: ts as usize,
                    view,
                    nodes: BTreeMap::new(),
                    edges: BTreeMap::new(),
                });
            }
        }
        match op {
            Op::Begin(s) => {
                if slots[s].is_none() {
                    let id = db.allocate_tx_id();
                    let ts = db.current_commit_ts();
                    db.begin_write(id, ts).unwrap();
                    let snapshot = ts as usize;
                    let view = history[snapshot].clone();
                    slots[s] = Some(Tx {
                        id,
                        snapshot,
                        view,
                        nodes: BTreeMap::new(),
                        edges: BTreeMap::new(),
                    });
                }
            }
            Op::AddNode(s, v) => {
                if let Some(tx) = &mut slots[s] {
                    let id = db.add_node_internal(node(v), tx.id).unwrap();
                    tx.view.nodes.insert(id, (vec!["N".into()], v));
                    record(&mut tx.nodes, id, W::Put { is_new: true });
                }
            }
            Op::UpdateNode(s, i, v) => {
                if let Some(tx) = &mut slots[s] {
                    if let Some(id) = pick(tx.view.nodes.keys().copied(), i) {
                        db.update_node(id, node(v), tx.id).unwrap();
                        tx.view.nodes.insert(id, (vec!["N".into()], v));
                        record(&mut tx.nodes, id, W::Put { is_new: false });
                    }
                }
            }
            Op::DeleteNode(s, i) => {
                if let Some(tx) = &mut slots[s] {
                    if let Some(id) = pick(tx.view.nodes.keys().copied(), i) {
                        db.delete_node(id, tx.id).unwrap();
                        for e in touches(&tx.view, id) {
                            tx.view.edges.remove(&e);
                            record(&mut tx.edges, e, W::Delete);
                        }
                        tx.view.nodes.remove(&id);
                        record(&mut tx.nodes, id, W::Delete);
                    }
                }
            }
            Op::AddEdge(s, a, b) => {
                if let Some(tx) = &mut slots[s] {
                    let ids = || tx.view.nodes.keys().copied();
                    if let (Some(src), Some(dst)) = (pick(ids(), a), pick(ids(), b)) {
                        let e = db
                            .add_edge_internal(
                                Edge::new(src, dst, "E").with_property("v", 0i64),
                                tx.id,
                            )
                            .unwrap();
                        tx.view.edges.insert(e, (src, dst, "E".into(), 0));
                        record(&mut tx.edges, e, W::Put { is_new: true });
                    }
                }
            }
            Op::UpdateEdge(s, i, v) => {
                if let Some(tx) = &mut slots[s] {
                    if let Some(e) = pick(tx.view.edges.keys().copied(), i) {
                        let (src, dst, ty, _) = tx.view.edges[&e].clone();
                        db.update_edge(
                            e,
                            Edge::new(src, dst, ty.clone()).with_property("v", v),
                            tx.id,
                        )
                        .unwrap();
                        tx.view.edges.insert(e, (src, dst, ty, v));
                        record(&mut tx.edges, e, W::Put { is_new: false });
                    }
                }
            }
            Op::DeleteEdge(s, i) => {
                if let Some(tx) = &mut slots[s] {
                    if let Some(e) = pick(tx.view.edges.keys().copied(), i) {
                        db.delete_edge(e, tx.id).unwrap();
                        tx.view.edges.remove(&e);
                        record(&mut tx.edges, e, W::Delete);
                    }
                }
            }
            Op::Commit(s) => {
                if let Some(tx) = slots[s].take() {
                    let expect_conflict = conflicts(&history, &writes, &tx);
                    let outcome = db.commit_transaction(tx.id);
                    let empty = tx.nodes.is_empty() && tx.edges.is_empty();
                    match outcome {
                        Err(GraphError::Conflict { .. }) => {
                            assert!(
                                expect_conflict,
                                "unexpected conflict for {:?} / {:?}",
                                tx.nodes, tx.edges
                            );
                            conflicts_seen += 1;
                        }
                        Ok(ts) => {
                            assert!(
                                !expect_conflict || empty,
                                "missed conflict for {:?} / {:?}",
                                tx.nodes,
                                tx.edges
                            );
                            if !empty {
                                let next = apply(history.last().unwrap(), &tx);
                                writes.push(written_by(&tx, history.last().unwrap()));
                                history.push(next);
                                assert_eq!(ts as usize, history.len() - 1);
                                commits += 1;
                            }
                        }
                        Err(other) => panic!("commit failed: {other}"),
                    }
                    assert_eq!(&read_state(&db).unwrap(), history.last().unwrap());
                }
            }
            Op::Abort(s) => {
                if let Some(tx) = slots[s].take() {
                    db.rollback_transaction(tx.id);
                }
            }
        }
        // Every open transaction still reads its snapshot plus its own writes.
        for tx in slots.iter().flatten() {
            check_view(&db, tx);
        }
    }
    println!("{commits} commits, {conflicts_seen} conflicts");
}

fn check_view(db: &GraphDB, tx: &Tx) {
    let ts = tx.snapshot as u64;
    for (id, (_, v)) in &tx.view.nodes {
        let n = db
            .get_node_with_snapshot(*id, ts, Some(tx.id))
            .unwrap()
            .expect("visible node");
        assert_eq!(n.properties["v"], (*v).into());
    }
    for (id, (s, t, _, v)) in &tx.view.edges {
        let e = db
            .get_edge_with_snapshot(*id, ts, Some(tx.id))
            .unwrap()
            .expect("visible edge");
        assert_eq!(
            (e.source, e.target, &e.properties["v"]),
            (*s, *t, &(*v).into())
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn interleaved_transactions_follow_first_committer_wins(ops in proptest::collection::vec(op(), 1..90)) {
        run(ops);
    }
}
