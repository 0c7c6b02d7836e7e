//! The handle and transaction API, per variant.

use graphdb_concurrent::{ConcurrentGraphDB, Error, Variant, RWLOCK_BY_DEFAULT};
use graphdb_core::{Config, Direction, Edge, GraphError, Node};

use crate::{open, read_v, seed_nodes, v_of, with_v};

#[test]
fn default_variant_is_the_best_measured_and_the_feature_picks_the_seeds() {
    let seed = if RWLOCK_BY_DEFAULT {
        Variant::RwLock
    } else {
        Variant::Mutex
    };
    assert_eq!(Variant::seed_default(), seed);
    assert_eq!(Variant::default(), Variant::LockFreeReads);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    ConcurrentGraphDB::create(&path, Config::default(), Variant::seed_default())
        .unwrap()
        .close()
        .unwrap();
    // A user who names no variant gets the default one.
    let db = ConcurrentGraphDB::open(&path, Config::default()).unwrap();
    assert_eq!(db.variant(), Variant::default());
    drop(db);
    let db = ConcurrentGraphDB::open_with_variant(&path, Config::default(), seed).unwrap();
    assert_eq!(db.variant(), seed);
    let names: Vec<_> = Variant::ALL.iter().map(|v| v.name()).collect();
    assert_eq!(names, ["mutex", "rwlock", "lockfree"]);
}

#[test]
fn crud_and_neighbours_in_every_variant() {
    for variant in Variant::ALL {
        let (_dir, db) = open(variant);
        let mut tx = db.begin_transaction().unwrap();
        assert!(tx.id().is_some() && !tx.is_read_only());
        let a = tx
            .add_node(Node::new().with_label("P").with_property("v", 1))
            .unwrap();
        let b = tx.add_node(with_v(2)).unwrap();
        let c = tx.add_node(with_v(3)).unwrap();
        let ab = tx.add_edge(Edge::new(a, b, "KNOWS")).unwrap();
        let ac = tx.add_edge(Edge::new(a, c, "KNOWS")).unwrap();
        // Own writes are visible inside the transaction.
        assert_eq!(v_of(&tx.get_node(b).unwrap().unwrap()), 2);
        assert_eq!(tx.neighbors(a, Direction::Outgoing).unwrap(), vec![b, c]);
        let ts = tx.commit().unwrap();
        assert!(ts >= 1, "{variant:?}");

        let r = db.begin_read().unwrap();
        assert!(r.is_read_only() && r.id().is_none());
        assert_eq!(r.snapshot_ts(), ts);
        assert!(r.get_node(a).unwrap().unwrap().has_label("P"));
        assert_eq!(r.get_edge(ab).unwrap().unwrap().target, b);
        assert_eq!(r.edges_of(a, Direction::Outgoing).unwrap(), vec![ab, ac]);
        assert_eq!(r.neighbors(b, Direction::Incoming).unwrap(), vec![a]);
        assert!(r.get_node(999).unwrap().is_none());
        assert_eq!(r.commit().unwrap(), ts);

        let mut tx = db.begin_transaction().unwrap();
        tx.update_node(b, with_v(20)).unwrap();
        tx.update_edge(ab, Edge::new(a, b, "LIKES")).unwrap();
        tx.delete_edge(ac).unwrap();
        tx.delete_node(c).unwrap();
        tx.commit().unwrap();
        let r = db.begin_read().unwrap();
        assert_eq!(v_of(&r.get_node(b).unwrap().unwrap()), 20, "{variant:?}");
        assert_eq!(r.get_edge(ab).unwrap().unwrap().edge_type, "LIKES");
        assert!(r.get_edge(ac).unwrap().is_none());
        assert!(r.get_node(c).unwrap().is_none());
        assert_eq!(r.neighbors(a, Direction::Both).unwrap(), vec![b]);
        drop(r);
        assert!(db.check().unwrap().is_ok());
        db.close().unwrap();
    }
}

#[test]
fn read_only_transactions_refuse_writes() {
    for variant in Variant::ALL {
        let (_dir, db) = open(variant);
        let mut r = db.begin_read().unwrap();
        assert!(matches!(r.add_node(Node::new()), Err(Error::ReadOnly)));
        assert!(matches!(
            r.update_node(1, Node::new()),
            Err(Error::ReadOnly)
        ));
        assert!(matches!(r.delete_node(1), Err(Error::ReadOnly)));
        r.commit().unwrap();
    }
}

#[test]
fn rollback_explicit_and_on_drop() {
    for variant in Variant::ALL {
        let (_dir, db) = open(variant);
        let ids = seed_nodes(&db, 1, 5);
        let mut tx = db.begin_transaction().unwrap();
        tx.update_node(ids[0], with_v(6)).unwrap();
        let gone = tx.add_node(with_v(7)).unwrap();
        tx.rollback().unwrap();
        {
            let mut tx = db.begin_transaction().unwrap();
            tx.update_node(ids[0], with_v(8)).unwrap();
            tx.add_node(with_v(9)).unwrap();
            // Dropped here without commit.
        }
        assert_eq!(read_v(&db, ids[0]), 5, "{variant:?}");
        let r = db.begin_read().unwrap();
        assert!(r.get_node(gone).unwrap().is_none());
        drop(r);
        // The rolled-back transactions left nothing behind that blocks a later writer.
        let mut tx = db.begin_transaction().unwrap();
        tx.update_node(ids[0], with_v(10)).unwrap();
        tx.commit().unwrap();
        assert_eq!(read_v(&db, ids[0]), 10);
    }
}

#[test]
fn errors_leave_the_transaction_usable() {
    for variant in Variant::ALL {
        let (_dir, db) = open(variant);
        let mut tx = db.begin_transaction().unwrap();
        let r = tx.add_edge(Edge::new(41, 42, "X"));
        assert!(
            matches!(r, Err(Error::Graph(GraphError::NodeNotFound(41)))),
            "{variant:?}: {r:?}"
        );
        assert!(tx.update_node(77, Node::new()).is_err());
        let a = tx.add_node(Node::new()).unwrap();
        tx.commit().unwrap();
        assert!(db.begin_read().unwrap().get_node(a).unwrap().is_some());
    }
}

#[test]
fn close_fails_while_other_handles_exist() {
    for variant in Variant::ALL {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let db = ConcurrentGraphDB::create(&path, Config::default(), variant).unwrap();
        let ids = seed_nodes(&db, 3, 1);
        let other = db.clone();
        assert_eq!(db.handle_count(), 2);
        let err = db.close().unwrap_err();
        assert!(matches!(err, Error::HandlesOpen { others: 1 }), "{err:?}");
        assert!(err.to_string().contains("1 other handle"), "{err}");
        // The database stays usable through the remaining handle, which then closes.
        assert_eq!(read_v(&other, ids[2]), 1);
        assert_eq!(other.handle_count(), 1);
        other.close().unwrap();
        let db = ConcurrentGraphDB::open_with_variant(&path, Config::default(), variant).unwrap();
        assert_eq!(
            read_v(&db, ids[2]),
            1,
            "{variant:?}: data survives close and reopen"
        );
        db.close().unwrap();
    }
}

#[test]
fn handles_are_shared_across_threads() {
    for variant in Variant::ALL {
        let (_dir, db) = open(variant);
        let ids = seed_nodes(&db, 1, 0);
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                let id = ids[0];
                std::thread::spawn(move || {
                    let tx = db.begin_read().unwrap();
                    let n = tx.get_node(id).unwrap().unwrap();
                    tx.commit().unwrap();
                    v_of(&n)
                })
            })
            .collect();
        for w in workers {
            assert_eq!(w.join().unwrap(), 0);
        }
    }
}

#[test]
fn phase3_snapshots_keep_their_versions_across_commits() {
    // The phase-3 cache must never hand a version to a snapshot that should not see it,
    // also when the same id is read before and after a series of commits.
    let (_dir, db) = open(Variant::LockFreeReads);
    let ids = seed_nodes(&db, 1, 0);
    let mut old = Vec::new();
    for i in 1..=5 {
        let r = db.begin_read().unwrap();
        assert_eq!(v_of(&r.get_node(ids[0]).unwrap().unwrap()), i - 1);
        old.push((r, i - 1));
        let mut tx = db.begin_transaction().unwrap();
        tx.update_node(ids[0], with_v(i)).unwrap();
        tx.commit().unwrap();
        assert_eq!(read_v(&db, ids[0]), i);
    }
    for (r, expect) in old {
        assert_eq!(v_of(&r.get_node(ids[0]).unwrap().unwrap()), expect);
        r.commit().unwrap();
    }
}

/// A main file whose syncs fail: every checkpoint fails after its commit point.
#[derive(Debug)]
struct MainSyncFails(graphdb_core::MemStorage);

impl graphdb_core::Storage for MainSyncFails {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.0.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.0.write_at(buf, offset)
    }
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn sync(&self) -> std::io::Result<()> {
        Err(std::io::Error::other("injected: main file sync fails"))
    }
}

#[test]
fn a_failed_checkpoint_never_fails_a_commit_in_any_variant() {
    use graphdb_core::{GraphDB, MemStorage, Storage};
    for variant in Variant::ALL {
        let main = MemStorage::new();
        // A database whose header is already synced, then a main file that cannot sync.
        GraphDB::open_with_storage(
            std::sync::Arc::new(main.clone()),
            std::sync::Arc::new(MemStorage::new()),
            Config::default(),
        )
        .unwrap();
        let wal = MemStorage::new();
        let engine = GraphDB::open_with_storage(
            std::sync::Arc::new(MainSyncFails(main.clone())),
            std::sync::Arc::new(wal.clone()),
            Config {
                checkpoint_after_frames: 4,
                ..Config::default()
            },
        )
        .unwrap();
        let db = ConcurrentGraphDB::from_db(engine, variant);
        let mut ids = Vec::new();
        for i in 0..10i64 {
            let mut tx = db.begin_transaction().unwrap();
            ids.push(tx.add_node(Node::new().with_property("v", i)).unwrap());
            // Every commit past the fourth frame runs a checkpoint that fails.
            tx.commit().unwrap();
        }
        let r = db.begin_read().unwrap();
        for id in &ids {
            assert!(r.get_node(*id).unwrap().is_some(), "{variant:?}");
        }
        drop(r);
        assert!(wal.len().unwrap() > 0);
    }
}
