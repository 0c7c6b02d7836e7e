//! Multi-version reads: snapshots see exactly the commits before them.

use graphdb_core::engine::Engine;
use graphdb_core::{Direction, Edge, GraphError, Node, PropertyValue};

use crate::{mem_db, small_config};

fn val(n: &Option<Node>) -> Option<i64> {
    n.as_ref().map(|n| match n.properties.get("v") {
        Some(PropertyValue::Int(i)) => *i,
        _ => -1,
    })
}

#[test]
fn snapshots_see_exactly_what_committed_before_them() {
    let (mut db, _, _) = mem_db(small_config());
    let t0 = db.current_commit_ts();
    let mut tx = db.begin_write_txn().unwrap();
    let id = tx.add_node(Node::new().with_property("v", 1i64)).unwrap();
    let t1 = tx.commit().unwrap();
    let mut stamps = vec![(t1, Some(1))];
    for v in 2..6i64 {
        let mut tx = db.begin_write_txn().unwrap();
        tx.update_node(id, Node::new().with_property("v", v))
            .unwrap();
        stamps.push((tx.commit().unwrap(), Some(v)));
    }
    let mut tx = db.begin_write_txn().unwrap();
    tx.delete_node(id).unwrap();
    stamps.push((tx.commit().unwrap(), None));
    // Every snapshot, cached or not, sees the version committed at or before it.
    for cold in [false, true] {
        if cold {
            db.clear_caches().unwrap();
        }
        assert_eq!(val(&db.get_node_with_snapshot(id, t0, None).unwrap()), None);
        for (ts, want) in &stamps {
            assert_eq!(
                val(&db.get_node_with_snapshot(id, *ts, None).unwrap()),
                *want,
                "at {ts}"
            );
        }
    }
    assert_eq!(db.get_node(id).unwrap(), None);
}

#[test]
fn cached_head_does_not_leak_into_older_snapshots() {
    let (mut db, _, _) = mem_db(small_config());
    let mut tx = db.begin_write_txn().unwrap();
    let id = tx.add_node(Node::new().with_property("v", 1i64)).unwrap();
    let t1 = tx.commit().unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    tx.update_node(id, Node::new().with_property("v", 2i64))
        .unwrap();
    tx.commit().unwrap();
    // Warm the cache with the head, then read the old snapshot.
    assert_eq!(val(&db.get_node(id).unwrap()), Some(2));
    assert_eq!(
        val(&db.get_node_with_snapshot(id, t1, None).unwrap()),
        Some(1)
    );
}

#[test]
fn own_writes_are_visible_only_to_their_transaction() {
    let (mut db, _, _) = mem_db(small_config());
    let mut tx = db.begin_write_txn().unwrap();
    let a = tx.add_node(Node::new().with_property("v", 1i64)).unwrap();
    let b = tx.add_node(Node::new()).unwrap();
    tx.commit().unwrap();

    let snap = db.current_commit_ts();
    let t = db.allocate_tx_id();
    db.begin_write(t, snap).unwrap();
    db.update_node(a, Node::new().with_property("v", 9i64), t)
        .unwrap();
    let e = db.add_edge_internal(Edge::new(a, b, "X"), t).unwrap();
    assert_eq!(
        val(&db.get_node_with_snapshot(a, snap, Some(t)).unwrap()),
        Some(9)
    );
    assert_eq!(
        val(&db.get_node_with_snapshot(a, snap, None).unwrap()),
        Some(1)
    );
    assert_eq!(
        db.edges_of(a, Direction::Outgoing, snap, Some(t)).unwrap(),
        vec![e]
    );
    assert!(db
        .edges_of(a, Direction::Outgoing, snap, None)
        .unwrap()
        .is_empty());
    assert!(db.get_edge_with_snapshot(e, snap, None).unwrap().is_none());
    db.rollback_transaction(t);
    assert_eq!(val(&db.get_node(a).unwrap()), Some(1));
    assert!(matches!(db.load_edge(e), Err(GraphError::EdgeNotFound(_))));
}

#[test]
fn first_committer_wins_and_loser_leaves_no_trace() {
    let (mut db, _, _) = mem_db(small_config());
    let mut tx = db.begin_write_txn().unwrap();
    let a = tx.add_node(Node::new().with_property("v", 0i64)).unwrap();
    let b = tx.add_node(Node::new()).unwrap();
    tx.commit().unwrap();
    let snap = db.current_commit_ts();
    let (t1, t2) = (db.allocate_tx_id(), db.allocate_tx_id());
    db.begin_write(t1, snap).unwrap();
    db.begin_write(t2, snap).unwrap();
    db.update_node(a, Node::new().with_property("v", 1i64), t1)
        .unwrap();
    db.update_node(a, Node::new().with_property("v", 2i64), t2)
        .unwrap();
    let loser_node = db.add_node_internal(Node::new(), t2).unwrap();
    db.commit_transaction(t1).unwrap();
    let err = db.commit_transaction(t2).unwrap_err();
    assert!(matches!(err, GraphError::Conflict { .. }), "{err}");
    assert_eq!(val(&db.get_node(a).unwrap()), Some(1));
    assert!(db.get_node(loser_node).unwrap().is_none());

    // Edges added concurrently to the same node do not conflict with each other nor
    // with an update of that node.
    let snap = db.current_commit_ts();
    let (t3, t4, t5) = (
        db.allocate_tx_id(),
        db.allocate_tx_id(),
        db.allocate_tx_id(),
    );
    for t in [t3, t4, t5] {
        db.begin_write(t, snap).unwrap();
    }
    let e3 = db.add_edge_internal(Edge::new(a, b, "X"), t3).unwrap();
    let e4 = db.add_edge_internal(Edge::new(b, a, "Y"), t4).unwrap();
    db.update_node(a, Node::new().with_property("v", 5i64), t5)
        .unwrap();
    db.commit_transaction(t3).unwrap();
    db.commit_transaction(t4).unwrap();
    db.commit_transaction(t5).unwrap();
    let ts = db.current_commit_ts();
    let mut both = db.edges_of(a, Direction::Both, ts, None).unwrap();
    both.sort_unstable();
    assert_eq!(both, vec![e3, e4]);
    assert_eq!(val(&db.get_node(a).unwrap()), Some(5));

    // Deleting a node conflicts with an edge added to it meanwhile, and an edge to a node
    // deleted meanwhile conflicts too.
    let snap = db.current_commit_ts();
    let (t6, t7) = (db.allocate_tx_id(), db.allocate_tx_id());
    db.begin_write(t6, snap).unwrap();
    db.begin_write(t7, snap).unwrap();
    db.delete_node(b, t6).unwrap();
    db.add_edge_internal(Edge::new(a, b, "Z"), t7).unwrap();
    db.commit_transaction(t6).unwrap();
    assert!(matches!(
        db.commit_transaction(t7),
        Err(GraphError::Conflict { .. })
    ));
    assert!(db.get_node(b).unwrap().is_none());
    let ts = db.current_commit_ts();
    assert!(db
        .edges_of(a, Direction::Both, ts, None)
        .unwrap()
        .is_empty());
}

#[test]
fn vacuum_keeps_what_live_snapshots_see() {
    let (mut db, _, _) = mem_db(small_config());
    let mut tx = db.begin_write_txn().unwrap();
    let id = tx.add_node(Node::new().with_property("v", 0i64)).unwrap();
    let mut stamps = vec![tx.commit().unwrap()];
    for v in 1..10i64 {
        let mut tx = db.begin_write_txn().unwrap();
        tx.update_node(id, Node::new().with_property("v", v))
            .unwrap();
        stamps.push(tx.commit().unwrap());
    }
    // A reader still holds the snapshot of version 4.
    let held = stamps[4];
    let stats = db.vacuum(held).unwrap();
    assert_eq!(stats.versions_freed, 4);
    db.clear_caches().unwrap();
    for (v, ts) in stamps.iter().enumerate().skip(4) {
        assert_eq!(
            val(&db.get_node_with_snapshot(id, *ts, None).unwrap()),
            Some(v as i64)
        );
    }
    // Older snapshots no longer find a version: that is exactly what vacuum promised.
    assert_eq!(
        db.get_node_with_snapshot(id, stamps[1], None).unwrap(),
        None
    );
    // Deleted records disappear completely once no snapshot sees them.
    let mut tx = db.begin_write_txn().unwrap();
    tx.delete_node(id).unwrap();
    tx.commit().unwrap();
    let stats = db.vacuum(db.current_commit_ts()).unwrap();
    assert_eq!(stats.ids_removed, 1);
    assert!(db.get_node(id).unwrap().is_none());
    assert_eq!(db.vacuum(db.current_commit_ts()).unwrap().versions_freed, 0);
}

#[test]
fn open_write_transactions_hold_back_vacuum() {
    let (mut db, _, _) = mem_db(small_config());
    let mut tx = db.begin_write_txn().unwrap();
    let id = tx.add_node(Node::new().with_property("v", 0i64)).unwrap();
    let t0 = tx.commit().unwrap();
    let reader = db.allocate_tx_id();
    db.begin_write(reader, t0).unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    tx.update_node(id, Node::new().with_property("v", 1i64))
        .unwrap();
    tx.commit().unwrap();
    db.vacuum(db.current_commit_ts()).unwrap();
    assert_eq!(
        val(&db.get_node_with_snapshot(id, t0, Some(reader)).unwrap()),
        Some(0)
    );
}
