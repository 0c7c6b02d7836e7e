//! Indexes: a model-based property test (random writes, index creation and removal,
//! vacuum, reopen and power cuts against a plain model, with an old snapshot held
//! throughout), plus focused tests of range lookups and of "no scan with an index".

use graphdb_core::engine::Engine;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use graphdb_core::{Config, GraphDB, IndexDef, MemStorage, Node, PropertyValue, SyncMode, TxId};
use proptest::prelude::*;

/// A node of the model: labels and the value of property `v`.
type Model = BTreeMap<u64, (Vec<String>, i64)>;

#[derive(Debug, Clone)]
enum Op {
    Add(u8, i64),
    Update(usize, u8, i64),
    Delete(usize),
    Commit,
    Abort,
    Create(u8),
    Drop(u8),
    Vacuum,
    Hold,
    Reopen,
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..3, 0i64..6).prop_map(|(l, v)| Op::Add(l, v)),
        3 => (any::<usize>(), 0u8..3, 0i64..6).prop_map(|(i, l, v)| Op::Update(i, l, v)),
        2 => any::<usize>().prop_map(Op::Delete),
        4 => Just(Op::Commit),
        1 => Just(Op::Abort),
        2 => (0u8..4).prop_map(Op::Create),
        1 => (0u8..4).prop_map(Op::Drop),
        1 => Just(Op::Vacuum),
        1 => Just(Op::Hold),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
    ]
}

fn labels_of(l: u8) -> Vec<String> {
    match l {
        0 => vec!["A".into()],
        1 => vec!["B".into()],
        _ => vec!["A".into(), "B".into()],
    }
}

fn def_of(i: u8) -> IndexDef {
    match i {
        0 => IndexDef::label("A"),
        1 => IndexDef::label("B"),
        2 => IndexDef::property("A", "v"),
        _ => IndexDef::property("B", "v"),
    }
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

fn ids(nodes: Vec<Node>) -> Vec<u64> {
    nodes.into_iter().map(|n| n.id).collect()
}

/// Every lookup at `ts` (with `tx`'s writes) answers what the model says.
fn lookups_match(db: &GraphDB, model: &Model, ts: u64, tx: Option<TxId>) {
    for label in ["A", "B"] {
        let want: Vec<u64> = model
            .iter()
            .filter(|(_, (l, _))| l.iter().any(|x| x == label))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(
            ids(db.get_nodes_by_label_at(label, ts, tx).unwrap()),
            want,
            "label {label} at {ts}"
        );
        for v in 0..6 {
            let want: Vec<u64> = model
                .iter()
                .filter(|(_, (l, x))| l.iter().any(|y| y == label) && *x == v)
                .map(|(id, _)| *id)
                .collect();
            let got = db
                .find_nodes_by_property_at(label, "v", &PropertyValue::Int(v), ts, tx)
                .unwrap();
            assert_eq!(ids(got), want, "{label}.v = {v} at {ts}");
        }
        let (lo, hi) = (1i64, 3i64);
        let want: Vec<u64> = model
            .iter()
            .filter(|(_, (l, x))| l.iter().any(|y| y == label) && *x > lo && *x <= hi)
            .map(|(id, _)| *id)
            .collect();
        let got = db
            .find_nodes_by_property_range(
                label,
                "v",
                Bound::Excluded(&PropertyValue::Int(lo)),
                Bound::Included(&PropertyValue::Int(hi)),
                ts,
                tx,
            )
            .unwrap();
        assert_eq!(ids(got), want, "{lo} < {label}.v <= {hi} at {ts}");
    }
    shared_lookups_match_copies(db, ts, tx);
}

/// The shared lookups return the same nodes as the copying ones, at any snapshot and
/// with a transaction's own writes.
fn shared_lookups_match_copies(db: &GraphDB, ts: u64, tx: Option<TxId>) {
    let copies = |v: Vec<Arc<Node>>| v.into_iter().map(Arc::unwrap_or_clone).collect::<Vec<_>>();
    for label in ["A", "B"] {
        assert_eq!(
            copies(db.get_nodes_by_label_shared_at(label, ts, tx).unwrap()),
            db.get_nodes_by_label_at(label, ts, tx).unwrap()
        );
        for v in 0..6 {
            let value = PropertyValue::Int(v);
            assert_eq!(
                copies(
                    db.find_nodes_by_property_shared_at(label, "v", &value, ts, tx)
                        .unwrap()
                ),
                db.find_nodes_by_property_at(label, "v", &value, ts, tx)
                    .unwrap()
            );
        }
        let (lo, hi) = (PropertyValue::Int(1), PropertyValue::Int(4));
        let view = db.snapshot_at(ts, tx);
        assert_eq!(
            copies(
                view.nodes_by_property_range(
                    label,
                    "v",
                    Bound::Included(&lo),
                    Bound::Excluded(&hi)
                )
                .unwrap()
            ),
            db.find_nodes_by_property_range(
                label,
                "v",
                Bound::Included(&lo),
                Bound::Excluded(&hi),
                ts,
                tx
            )
            .unwrap()
        );
    }
}

fn healthy(db: &GraphDB) {
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

fn run(ops: Vec<Op>) {
    let (mut main, mut wal) = (MemStorage::new(), MemStorage::new());
    let mut db = open(&main, &wal);
    let mut committed = Model::new();
    let mut working = Model::new();
    let mut indexes: Vec<IndexDef> = Vec::new();
    let mut tx: Option<TxId> = None;
    // An old snapshot a reader still holds, and what it must see.
    let mut held: Option<(u64, Model)> = None;
    for op in ops {
        let needs_tx = matches!(op, Op::Add(..) | Op::Update(..) | Op::Delete(_));
        if needs_tx && tx.is_none() {
            let t = db.allocate_tx_id();
            db.begin_write(t, db.current_commit_ts()).unwrap();
            tx = Some(t);
        }
        match op {
            Op::Add(l, v) => {
                let mut n = Node::new().with_property("v", v);
                n.labels = labels_of(l);
                let id = db.add_node_internal(n, tx.unwrap()).unwrap();
                working.insert(id, (labels_of(l), v));
            }
            Op::Update(i, l, v) => {
                if let Some(&id) = working.keys().nth(i % working.len().max(1)) {
                    let mut n = Node::new().with_property("v", v);
                    n.labels = labels_of(l);
                    db.update_node(id, n, tx.unwrap()).unwrap();
                    working.insert(id, (labels_of(l), v));
                }
            }
            Op::Delete(i) => {
                if let Some(&id) = working.keys().nth(i % working.len().max(1)) {
                    db.delete_node(id, tx.unwrap()).unwrap();
                    working.remove(&id);
                }
            }
            Op::Commit => {
                if let Some(t) = tx.take() {
                    db.commit_transaction(t).unwrap();
                    committed = working.clone();
                    healthy(&db);
                }
            }
            Op::Abort => {
                if let Some(t) = tx.take() {
                    db.rollback_transaction(t);
                    working = committed.clone();
                }
            }
            Op::Create(i) => {
                let def = def_of(i);
                let r = db.create_index(def.clone());
                if indexes.contains(&def) {
                    assert!(r.is_err());
                } else {
                    r.unwrap();
                    indexes.push(def);
                }
                healthy(&db);
            }
            Op::Drop(i) => {
                let def = def_of(i);
                let r = db.drop_index(&def);
                if let Some(pos) = indexes.iter().position(|d| *d == def) {
                    r.unwrap();
                    indexes.remove(pos);
                } else {
                    assert!(r.is_err());
                }
                healthy(&db);
            }
            Op::Vacuum => {
                let oldest = db
                    .open_write_snapshots()
                    .into_iter()
                    .chain(held.as_ref().map(|(ts, _)| *ts))
                    .min()
                    .unwrap_or(u64::MAX);
                db.vacuum(oldest).unwrap();
                healthy(&db);
            }
            Op::Hold => held = Some((db.current_commit_ts(), committed.clone())),
            Op::Reopen | Op::Crash => {
                tx = None;
                working = committed.clone();
                if matches!(op, Op::Reopen) {
                    db.close().unwrap();
                } else {
                    // A power cut: what was not synced is lost, the last write torn.
                    let (m, w) = (
                        main.crash_image(0, None),
                        wal.crash_image(usize::MAX, Some(100)),
                    );
                    std::mem::forget(db);
                    main = m;
                    wal = w;
                }
                db = open(&main, &wal);
                healthy(&db);
                // Snapshots do not survive the process.
                held = None;
            }
        }
        assert_eq!(db.indexes().unwrap(), indexes);
        lookups_match(&db, &committed, db.current_commit_ts(), None);
        if let Some(t) = tx {
            lookups_match(&db, &working, db.current_commit_ts(), Some(t));
        }
        if let Some((ts, model)) = &held {
            lookups_match(&db, model, *ts, None);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn indexes_match_model_under_random_operations(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops);
    }
}

#[test]
fn lookups_use_the_index_and_stay_correct_across_many_pages() {
    let (mut db, _m, _w) = crate::mem_db(Config::default());
    let mut tx = db.begin_write_txn().unwrap();
    for i in 0..3000i64 {
        let name = format!("user-{:05}-{}", i, "x".repeat((i % 40) as usize));
        tx.add_node(
            Node::new()
                .with_label(if i % 3 == 0 { "Admin" } else { "User" })
                .with_property("age", i % 90)
                .with_property("name", name),
        )
        .unwrap();
    }
    tx.commit().unwrap();
    let before_scan = db
        .find_nodes_by_property("User", "age", &PropertyValue::Int(42))
        .unwrap();
    assert_eq!(db.lookup_stats().full_scans, 1);

    db.create_index(IndexDef::property("User", "age")).unwrap();
    db.create_index(IndexDef::property("User", "name")).unwrap();
    db.create_index(IndexDef::label("Admin")).unwrap();
    let with_index = db
        .find_nodes_by_property("User", "age", &PropertyValue::Int(42))
        .unwrap();
    assert_eq!(with_index, before_scan);
    assert_eq!(db.get_nodes_by_label("Admin").unwrap().len(), 1000);
    let stats = db.lookup_stats();
    assert_eq!((stats.index_lookups, stats.full_scans), (2, 1));

    let ts = db.current_commit_ts();
    let range = db
        .find_nodes_by_property_range(
            "User",
            "age",
            Bound::Included(&PropertyValue::Int(10)),
            Bound::Excluded(&PropertyValue::Int(20)),
            ts,
            None,
        )
        .unwrap();
    let want = db
        .scan_nodes(ts, |n| {
            n.has_label("User")
                && matches!(n.properties["age"], PropertyValue::Int(a) if (10..20).contains(&a))
        })
        .unwrap();
    assert_eq!(range, want);
    // A string range over keys long enough to need many leaves.
    let names = db
        .find_nodes_by_property_range(
            "User",
            "name",
            Bound::Included(&"user-01000".into()),
            Bound::Excluded(&"user-01100".into()),
            ts,
            None,
        )
        .unwrap();
    let expected = (1000..1100).filter(|i| i % 3 != 0).count();
    assert_eq!(names.len(), expected);
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.indexes, 3);
    assert_eq!(report.index_entries, 2000 + 2000 + 1000);
    // Dropping frees every page of the index again.
    let pages_before = db.stats().unwrap().free_pages;
    db.drop_index(&IndexDef::property("User", "name")).unwrap();
    assert!(db.stats().unwrap().free_pages > pages_before);
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn index_survives_reopen_of_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    {
        let mut db = GraphDB::create(&path, Config::default()).unwrap();
        db.create_index(IndexDef::property("P", "k")).unwrap();
        let mut tx = db.begin_write_txn().unwrap();
        for i in 0..50i64 {
            tx.add_node(Node::new().with_label("P").with_property("k", i % 5))
                .unwrap();
        }
        tx.commit().unwrap();
        // Dropped without close: the log holds the commits, recovery replays them.
        drop(db);
    }
    let db = GraphDB::open(&path, Config::default()).unwrap();
    assert_eq!(db.indexes().unwrap(), vec![IndexDef::property("P", "k")]);
    assert_eq!(
        db.find_nodes_by_property("P", "k", &PropertyValue::Int(3))
            .unwrap()
            .len(),
        10
    );
    assert_eq!(db.lookup_stats().full_scans, 0);
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn creating_an_index_twice_or_dropping_a_missing_one_is_an_error() {
    let (mut db, _m, _w) = crate::mem_db(Config::default());
    db.create_index(IndexDef::label("L")).unwrap();
    assert!(matches!(
        db.create_index(IndexDef::label("L")),
        Err(graphdb_core::GraphError::InvalidArgument(_))
    ));
    assert!(matches!(
        db.drop_index(&IndexDef::label("M")),
        Err(graphdb_core::GraphError::InvalidArgument(_))
    ));
    assert!(db.create_index(IndexDef::label("")).is_err());
}

#[test]
fn long_values_share_a_cut_key_but_lookups_stay_exact() {
    let (mut db, _m, _w) = crate::mem_db(Config::default());
    db.create_index(IndexDef::property("T", "s")).unwrap();
    let long = |c: char| format!("{}{c}", "x".repeat(3000));
    let mut tx = db.begin_write_txn().unwrap();
    let a = tx
        .add_node(Node::new().with_label("T").with_property("s", long('a')))
        .unwrap();
    let b = tx
        .add_node(Node::new().with_label("T").with_property("s", long('b')))
        .unwrap();
    let c = tx
        .add_node(Node::new().with_label("T").with_property("s", long('c')))
        .unwrap();
    tx.commit().unwrap();
    let ids = |v: Vec<Node>| v.into_iter().map(|n| n.id).collect::<Vec<_>>();
    let find = |s: String| ids(db.find_nodes_by_property("T", "s", &s.into()).unwrap());
    assert_eq!(find(long('b')), vec![b]);
    assert_eq!(find(long('d')), Vec::<u64>::new());
    let ts = db.current_commit_ts();
    let range = db
        .find_nodes_by_property_range(
            "T",
            "s",
            Bound::Excluded(&long('a').into()),
            Bound::Included(&long('c').into()),
            ts,
            None,
        )
        .unwrap();
    assert_eq!(ids(range), vec![b, c]);
    assert_eq!(db.lookup_stats().full_scans, 0);
    let _ = a;
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn shared_lookups_hand_out_the_cached_versions_without_copying() {
    let (mut db, _m, _w) = crate::mem_db(Config::default());
    let mut tx = db.begin_write_txn().unwrap();
    for i in 0..200i64 {
        tx.add_node(
            Node::new()
                .with_label("P")
                .with_property("age", i % 10)
                .with_property("name", format!("p{i}")),
        )
        .unwrap();
    }
    tx.commit().unwrap();
    db.create_index(IndexDef::property("P", "age")).unwrap();
    db.create_index(IndexDef::label("P")).unwrap();
    let seven = PropertyValue::Int(7);
    let first = db
        .find_nodes_by_property_shared("P", "age", &seven)
        .unwrap();
    let again = db
        .find_nodes_by_property_shared("P", "age", &seven)
        .unwrap();
    assert_eq!(first.len(), 20);
    // The second lookup shares the versions the first one read and cached.
    for (a, b) in first.iter().zip(&again) {
        assert!(Arc::ptr_eq(a, b), "node {} was copied", a.id);
    }
    let by_label = db.get_nodes_by_label_shared("P").unwrap();
    assert_eq!(by_label.len(), 200);
    assert!(Arc::ptr_eq(&first[0], &by_label[7]));
    let ranged = db
        .snapshot()
        .nodes_by_property_range(
            "P",
            "age",
            Bound::Included(&PropertyValue::Int(7)),
            Bound::Included(&PropertyValue::Int(7)),
        )
        .unwrap();
    assert!(first.iter().zip(&ranged).all(|(a, b)| Arc::ptr_eq(a, b)));
    assert_eq!(db.lookup_stats().full_scans, 0);

    // A shared result is an immutable version: an update leaves it as it was, and the
    // next lookup sees the new version.
    let id = first[0].id;
    let old_ts = db.current_commit_ts();
    let mut tx = db.begin_write_txn().unwrap();
    tx.update_node(
        id,
        Node::new()
            .with_label("P")
            .with_property("age", 8)
            .with_property("name", "moved"),
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(first[0].properties["age"], PropertyValue::Int(7));
    let now = db
        .find_nodes_by_property_shared("P", "age", &seven)
        .unwrap();
    assert_eq!(now.len(), 19);
    assert!(now.iter().all(|n| n.id != id));
    let eight = db
        .find_nodes_by_property_shared("P", "age", &PropertyValue::Int(8))
        .unwrap();
    assert!(eight
        .iter()
        .any(|n| n.id == id && n.properties["name"] == "moved".into()));
    // The old snapshot still finds the old version.
    let then = db
        .snapshot_at(old_ts, None)
        .nodes_by_property_shared("P", "age", &seven)
        .unwrap();
    assert_eq!(then.len(), 20);
    assert!(Arc::ptr_eq(&then[0], &first[0]));
}

#[test]
fn shared_lookups_see_a_write_transactions_own_writes() {
    let (mut db, _m, _w) = crate::mem_db(Config::default());
    let mut tx = db.begin_write_txn().unwrap();
    let a = tx
        .add_node(Node::new().with_label("P").with_property("k", 1))
        .unwrap();
    let b = tx
        .add_node(Node::new().with_label("P").with_property("k", 1))
        .unwrap();
    tx.commit().unwrap();
    db.create_index(IndexDef::property("P", "k")).unwrap();
    let tx_id = db.allocate_tx_id();
    let ts = db.current_commit_ts();
    db.begin_write(tx_id, ts).unwrap();
    db.delete_node(a, tx_id).unwrap();
    let c = db
        .add_node_internal(Node::new().with_label("P").with_property("k", 1), tx_id)
        .unwrap();
    db.update_node(b, Node::new().with_label("P").with_property("k", 2), tx_id)
        .unwrap();
    let one = PropertyValue::Int(1);
    let mine = db.snapshot_at(ts, Some(tx_id));
    let got: Vec<u64> = mine
        .nodes_by_property_shared("P", "k", &one)
        .unwrap()
        .iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(got, [c]);
    let label: Vec<u64> = mine
        .nodes_by_label_shared("P")
        .unwrap()
        .iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(label, [b, c]);
    // Without the transaction, the committed state.
    let got: Vec<u64> = db
        .find_nodes_by_property_shared("P", "k", &one)
        .unwrap()
        .iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(got, [a, b]);
}

#[test]
fn range_lookups_take_any_bounds_without_error_or_panic() {
    let (mut db, _m, _w) = crate::mem_db(Config::default());
    let mut tx = db.begin_write_txn().unwrap();
    for i in 0..50i64 {
        tx.add_node(Node::new().with_label("P").with_property("k", i))
            .unwrap();
    }
    tx.add_node(Node::new().with_label("P").with_property("k", f64::NAN))
        .unwrap();
    tx.add_node(Node::new().with_label("P").with_property("k", "text"))
        .unwrap();
    tx.commit().unwrap();
    let count = |db: &GraphDB, lo: Bound<&PropertyValue>, hi: Bound<&PropertyValue>| {
        db.snapshot()
            .nodes_by_property_range("P", "k", lo, hi)
            .unwrap()
            .len()
    };
    let (i10, i20) = (PropertyValue::Int(10), PropertyValue::Int(20));
    let nan = PropertyValue::Float(f64::NAN);
    for indexed in [false, true] {
        if indexed {
            db.create_index(IndexDef::property("P", "k")).unwrap();
        }
        // Inverted and empty ranges find nothing.
        assert_eq!(count(&db, Bound::Included(&i20), Bound::Included(&i10)), 0);
        assert_eq!(count(&db, Bound::Excluded(&i10), Bound::Excluded(&i10)), 0);
        assert_eq!(count(&db, Bound::Included(&i10), Bound::Excluded(&i10)), 0);
        assert_eq!(count(&db, Bound::Included(&i10), Bound::Included(&i10)), 1);
        // Unbounded on both sides: every node with the property, of every type.
        assert_eq!(count(&db, Bound::Unbounded, Bound::Unbounded), 52);
        // Bounds of another type than the values, and NaN, follow the index order.
        assert_eq!(count(&db, Bound::Included(&nan), Bound::Included(&nan)), 1);
        let t = PropertyValue::from("text");
        assert_eq!(count(&db, Bound::Included(&t), Bound::Unbounded), 1);
        // Labels and keys nobody uses, empty ones included.
        for (label, key) in [("", "k"), ("P", ""), ("Nobody", "k"), ("P", "nothing")] {
            assert!(db
                .snapshot()
                .nodes_by_property_range(label, key, Bound::Unbounded, Bound::Unbounded)
                .unwrap()
                .is_empty());
            assert!(db
                .find_nodes_by_property_shared(label, key, &i10)
                .unwrap()
                .is_empty());
        }
        assert!(db.get_nodes_by_label_shared("").unwrap().is_empty());
    }
}
