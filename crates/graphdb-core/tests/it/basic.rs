//! Basic engine behaviour: round trips, reopening, the file lock, failed syncs and
//! vacuum.

use graphdb_core::engine::Engine;
use graphdb_core::{
    Config, Direction, Edge, GraphDB, GraphError, Node, PropertyValue, MAX_LIST_DEPTH,
};

use crate::{mem_db, small_config};

fn all_kinds() -> Node {
    Node::new()
        .with_label("Thing")
        .with_property("null", PropertyValue::Null)
        .with_property("bool", true)
        .with_property("int", -42i64)
        .with_property("float", 2.5f64)
        .with_property("string", "héllo")
        .with_property("bytes", vec![0u8, 1, 255])
        .with_property(
            "list",
            PropertyValue::List(vec![PropertyValue::Int(1), PropertyValue::List(vec![])]),
        )
}

#[test]
fn round_trip_through_reopen_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let (a, b, e);
    {
        let mut db = GraphDB::create(&path, Config::default()).unwrap();
        let mut tx = db.begin_write_txn().unwrap();
        a = tx.add_node(all_kinds()).unwrap();
        b = tx.add_node(Node::new().with_label("Other")).unwrap();
        e = tx
            .add_edge(Edge::new(a, b, "LINKS").with_property("w", 3i64))
            .unwrap();
        tx.commit().unwrap();
        // Dropped without close: the log alone must carry the data.
    }
    let db = GraphDB::open(&path, Config::default()).unwrap();
    assert_eq!(db.stats().unwrap().recovered_txs, 1);
    let mut want = all_kinds();
    want.id = a;
    assert_eq!(db.get_node(a).unwrap(), Some(want));
    let edge = db.load_edge(e).unwrap();
    assert_eq!(
        (edge.source, edge.target, edge.edge_type.as_str()),
        (a, b, "LINKS")
    );
    let ts = db.current_commit_ts();
    assert_eq!(
        db.neighbors(a, Direction::Outgoing, ts, None).unwrap(),
        vec![b]
    );
    assert_eq!(
        db.neighbors(b, Direction::Incoming, ts, None).unwrap(),
        vec![a]
    );
    assert_eq!(db.get_nodes_by_label("Thing").unwrap().len(), 1);
    assert_eq!(
        db.find_nodes_by_property("Thing", "int", &PropertyValue::Int(-42))
            .unwrap()
            .len(),
        1
    );
    db.close().unwrap();
    // After close the log is folded in and empty.
    let db = GraphDB::open(&path, Config::default()).unwrap();
    assert_eq!(db.stats().unwrap().wal_frames, 0);
    assert!(db.get_node(b).unwrap().is_some());
}

#[test]
fn a_second_open_of_the_same_file_is_refused_until_the_first_handle_drops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let mut first = GraphDB::create(&path, Config::default()).unwrap();
    let mut tx = first.begin_write_txn().unwrap();
    let id = tx.add_node(Node::new().with_label("Kept")).unwrap();
    tx.commit().unwrap();

    // Two pagers over one file would overwrite each other's pages; the second open must
    // fail before recovery touches the file (at once with no wait; after the default
    // wait otherwise).
    let no_wait = Config {
        lock_wait: std::time::Duration::ZERO,
        ..Config::default()
    };
    match GraphDB::open(&path, no_wait) {
        Err(GraphError::InUse(p)) => assert!(p.ends_with("g.db"), "{p}"),
        other => panic!("expected InUse, got {:?}", other.map(|_| "an open handle")),
    }
    match GraphDB::open(&path, Config::default()) {
        Err(GraphError::InUse(p)) => assert!(p.ends_with("g.db"), "{p}"),
        other => panic!("expected InUse, got {:?}", other.map(|_| "an open handle")),
    }
    assert!(first.get_node(id).unwrap().is_some());
    drop(first);

    let reopened = GraphDB::open(&path, Config::default()).unwrap();
    assert!(reopened.get_node(id).unwrap().is_some());
}

#[test]
fn an_open_waits_for_a_handle_that_is_being_dropped_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let mut first = GraphDB::create(&path, Config::default()).unwrap();
    let mut tx = first.begin_write_txn().unwrap();
    let id = tx.add_node(Node::new().with_label("Kept")).unwrap();
    tx.commit().unwrap();

    // The handle is dropped by another thread while this one is already waiting; a
    // generous wait keeps the test free of timing assumptions (the open returns as soon
    // as the lock is free).
    let (about_to_open, wait_for_open) = std::sync::mpsc::channel::<()>();
    let dropper = std::thread::spawn(move || {
        wait_for_open.recv().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        drop(first);
    });
    let patient = Config {
        lock_wait: std::time::Duration::from_secs(60),
        ..Config::default()
    };
    about_to_open.send(()).unwrap();
    let reopened = GraphDB::open(&path, patient).unwrap();
    dropper.join().unwrap();
    assert!(reopened.get_node(id).unwrap().is_some());
}

#[test]
fn large_records_use_overflow_pages() {
    let (mut db, _, _) = mem_db(small_config());
    let big = vec![7u8; 100_000];
    let mut tx = db.begin_write_txn().unwrap();
    let id = tx
        .add_node(Node::new().with_property("blob", big.clone()))
        .unwrap();
    tx.commit().unwrap();
    db.clear_caches().unwrap();
    let n = db.get_node(id).unwrap().unwrap();
    assert_eq!(n.properties["blob"], PropertyValue::Bytes(big));
    // Updating it frees nothing yet (the old version is still visible to old snapshots),
    // vacuum then returns the old overflow pages to the free list.
    let mut tx = db.begin_write_txn().unwrap();
    tx.update_node(id, Node::new()).unwrap();
    tx.commit().unwrap();
    let before = db.stats().unwrap().free_pages;
    let stats = db.vacuum(db.current_commit_ts()).unwrap();
    assert_eq!(stats.versions_freed, 1);
    assert!(db.stats().unwrap().free_pages > before + 10);
    // Freed pages are reused.
    let pages = db.stats().unwrap().page_count;
    let mut tx = db.begin_write_txn().unwrap();
    tx.add_node(Node::new().with_property("blob", vec![1u8; 50_000]))
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(db.stats().unwrap().page_count, pages);
}

#[test]
fn many_nodes_span_many_pages_and_checkpoints() {
    let (mut db, _, _) = mem_db(small_config());
    let mut ids = Vec::new();
    for batch in 0..20 {
        let mut tx = db.begin_write_txn().unwrap();
        for i in 0..100 {
            ids.push(
                tx.add_node(
                    Node::new()
                        .with_property("n", (batch * 100 + i) as i64)
                        .with_property("pad", "p".repeat(60)),
                )
                .unwrap(),
            );
        }
        tx.commit().unwrap();
    }
    assert!(db.stats().unwrap().pager.checkpoints > 0);
    db.clear_caches().unwrap();
    for (i, id) in ids.iter().enumerate() {
        let n = db.get_node(*id).unwrap().unwrap();
        assert_eq!(n.properties["n"], PropertyValue::Int(i as i64));
    }
    assert!(db.verify_pages().unwrap() > 10);
}

#[test]
fn bad_input_is_an_error() {
    let (mut db, _, _) = mem_db(small_config());
    let mut deep = PropertyValue::Null;
    for _ in 0..=MAX_LIST_DEPTH {
        deep = PropertyValue::List(vec![deep]);
    }
    let mut tx = db.begin_write_txn().unwrap();
    assert!(matches!(
        tx.add_node(Node::new().with_property("deep", deep)),
        Err(GraphError::InvalidArgument(_))
    ));
    assert!(matches!(
        tx.add_edge(Edge::new(1, 2, "X")),
        Err(GraphError::NodeNotFound(1))
    ));
    assert!(matches!(
        tx.delete_node(99),
        Err(GraphError::NodeNotFound(99))
    ));
    assert!(matches!(
        tx.delete_edge(99),
        Err(GraphError::EdgeNotFound(99))
    ));
    let a = tx.add_node(Node::new()).unwrap();
    let b = tx.add_node(Node::new()).unwrap();
    let e = tx.add_edge(Edge::new(a, b, "X")).unwrap();
    assert!(matches!(
        tx.update_edge(e, Edge::new(b, a, "X")),
        Err(GraphError::InvalidArgument(_))
    ));
    tx.commit().unwrap();
    assert!(matches!(
        db.load_edge(12345),
        Err(GraphError::EdgeNotFound(12345))
    ));
    assert_eq!(db.get_node(0).unwrap(), None);
    assert_eq!(db.get_node(u64::MAX).unwrap(), None);
    assert!(matches!(
        db.commit_transaction(777),
        Err(GraphError::TransactionNotFound(777))
    ));
    assert!(matches!(
        db.begin_write(5, db.current_commit_ts() + 10),
        Err(GraphError::InvalidArgument(_))
    ));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.db");
    std::fs::write(&p, b"not empty").unwrap();
    assert!(matches!(
        GraphDB::create(&p, Config::default()),
        Err(GraphError::InvalidArgument(_))
    ));
}

#[test]
fn delete_node_cascades_to_its_edges() {
    let (mut db, _, _) = mem_db(small_config());
    let mut tx = db.begin_write_txn().unwrap();
    let a = tx.add_node(Node::new()).unwrap();
    let b = tx.add_node(Node::new()).unwrap();
    let e1 = tx.add_edge(Edge::new(a, b, "X")).unwrap();
    let e2 = tx.add_edge(Edge::new(b, a, "Y")).unwrap();
    let e3 = tx.add_edge(Edge::new(a, a, "SELF")).unwrap();
    tx.commit().unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    tx.delete_node(a).unwrap();
    assert!(tx.get_edge(e1).unwrap().is_none());
    assert!(tx.edges_of(b, Direction::Both).unwrap().is_empty());
    tx.commit().unwrap();
    assert!(db.get_node(a).unwrap().is_none());
    for e in [e1, e2, e3] {
        assert!(matches!(db.load_edge(e), Err(GraphError::EdgeNotFound(_))));
    }
    let ts = db.current_commit_ts();
    assert!(db
        .edges_of(b, Direction::Both, ts, None)
        .unwrap()
        .is_empty());
}

#[test]
fn tracking_records_written_pages() {
    let (mut db, _, _) = mem_db(small_config());
    db.enable_tracking();
    let mut tx = db.begin_write_txn().unwrap();
    tx.add_node(Node::new()).unwrap();
    tx.commit().unwrap();
    let pages = db.take_recent_dirty_pages().unwrap();
    assert!(
        pages.contains(&0),
        "the header page is written by every commit"
    );
    assert!(db.take_recent_dirty_pages().unwrap().is_empty());
    db.disable_tracking();
    let mut tx = db.begin_write_txn().unwrap();
    tx.add_node(Node::new()).unwrap();
    tx.commit().unwrap();
    assert!(db.take_recent_dirty_pages().unwrap().is_empty());
}

#[test]
fn sync_modes_control_fsyncs() {
    for (mode, max_syncs) in [
        (graphdb_core::SyncMode::Full, 20),
        (graphdb_core::SyncMode::Batched { commits: 5 }, 4),
        (graphdb_core::SyncMode::Off, 0),
    ] {
        let mut config = small_config();
        config.sync_mode = mode;
        config.checkpoint_after_frames = 1_000_000;
        let (mut db, _, wal) = mem_db(config);
        let base = wal.sync_count();
        for _ in 0..20 {
            let mut tx = db.begin_write_txn().unwrap();
            tx.add_node(Node::new()).unwrap();
            tx.commit().unwrap();
        }
        let syncs = wal.sync_count() - base;
        assert!(
            syncs <= max_syncs && (max_syncs == 0 || syncs >= max_syncs),
            "{mode:?}: {syncs}"
        );
    }
}

#[test]
fn group_commit_shares_one_fsync() {
    let (mut db, _, wal) = mem_db(small_config());
    let mut seqs = Vec::new();
    for _ in 0..5 {
        let tx = db.allocate_tx_id();
        db.begin_write(tx, db.current_commit_ts()).unwrap();
        db.add_node_internal(Node::new(), tx).unwrap();
        seqs.push(db.commit_deferred(tx).unwrap().seq);
    }
    let base = wal.sync_count();
    for s in seqs {
        db.sync_commits_upto(s).unwrap();
    }
    assert_eq!(wal.sync_count() - base, 1);
}

/// A log whose fsync can be made to fail, as a full or failing disk would.
#[derive(Debug)]
struct FlakySync {
    inner: graphdb_core::MemStorage,
    fail: std::sync::atomic::AtomicBool,
}

impl graphdb_core::Storage for FlakySync {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.inner.set_len(len)
    }
    fn sync(&self) -> std::io::Result<()> {
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(std::io::Error::other("injected fsync failure"));
        }
        self.inner.sync()
    }
}

#[test]
fn failed_fsync_stops_writes_and_reopen_recovers_synced_state() {
    use graphdb_core::Storage as _;
    let main = graphdb_core::MemStorage::new();
    let wal_mem = graphdb_core::MemStorage::new();
    let wal = std::sync::Arc::new(FlakySync {
        inner: wal_mem.clone(),
        fail: std::sync::atomic::AtomicBool::new(false),
    });
    let mut db = GraphDB::open_with_storage(
        std::sync::Arc::new(main.clone()),
        wal.clone(),
        small_config(),
    )
    .unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    let kept = tx.add_node(Node::new().with_label("kept")).unwrap();
    tx.commit().unwrap();
    wal.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut tx = db.begin_write_txn().unwrap();
    tx.add_node(Node::new().with_label("lost")).unwrap();
    let err = tx.commit().unwrap_err();
    assert!(matches!(err, GraphError::CommitNotDurable(_)), "{err}");
    // Not published: no snapshot of this handle sees the failed commit.
    assert!(db.get_nodes_by_label("lost").unwrap().is_empty());
    assert!(matches!(
        db.health(),
        graphdb_core::Health::WritesRefused { .. }
    ));
    assert!(matches!(
        db.begin_write_txn().map(|_| ()),
        Err(GraphError::Closed(_))
    ));
    assert!(db.get_node(kept).unwrap().is_some(), "reads still work");
    std::mem::forget(db);
    // What a power cut leaves: only what was synced.
    let (m, w) = (main.crash_image(0, None), wal_mem.crash_image(0, None));
    assert!(w.len().unwrap() > 0);
    let db = GraphDB::open_with_storage(
        std::sync::Arc::new(m),
        std::sync::Arc::new(w),
        small_config(),
    )
    .unwrap();
    assert!(db.get_node(kept).unwrap().is_some());
    assert!(db.get_nodes_by_label("lost").unwrap().is_empty());
}

#[test]
fn vacuum_lets_partial_updates_reuse_space() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let (mut db, _, _) = mem_db(small_config());
    let mut tx = db.begin_write_txn().unwrap();
    let ids: Vec<u64> = (0..300)
        .map(|i| {
            tx.add_node(Node::new().with_property("pad", vec![i as u8; 150]))
                .unwrap()
        })
        .collect();
    tx.commit().unwrap();
    let mut pages_at = Vec::new();
    for round in 0..40u8 {
        // A random third of the nodes changes, so pages end up holding a mix of live and
        // dead versions: only compaction and the partial-page list can reuse that space.
        let mut tx = db.begin_write_txn().unwrap();
        for id in &ids {
            if rng.gen_bool(0.33) {
                tx.update_node(*id, Node::new().with_property("pad", vec![round; 150]))
                    .unwrap();
            }
        }
        tx.commit().unwrap();
        db.vacuum(db.current_commit_ts()).unwrap();
        pages_at.push(db.stats().unwrap().page_count - db.stats().unwrap().free_pages);
    }
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.versions, 300, "vacuum keeps one version per node");
    println!("{pages_at:?}");
    let (early, late) = (pages_at[9], pages_at[39]);
    assert!(
        late <= early + 2,
        "pages in use grew from {early} to {late}: {pages_at:?}"
    );
    // 300 records of about 200 bytes fill 8 pages; with the id map, the header and the
    // fill page about 17 are in use. Without reuse of partly dead pages it settles near 34.
    assert!(
        late <= 22,
        "{late} pages in use for 64 KiB of live records: {pages_at:?}"
    );
}
