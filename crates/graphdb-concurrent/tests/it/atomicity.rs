//! Atomicity under concurrency, no lost updates, readers never blocked by a writer, and
//! group commit durability.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use graphdb_concurrent::{ConcurrentGraphDB, Variant};
use graphdb_core::{Config, Direction, Edge, Node, PropertyValue, SyncMode};
use rand::{Rng, SeedableRng};

use crate::{increment, open, open_with, read_v, seed, seed_nodes, v_of, watchdog, with_v};

const LIMIT: Duration = Duration::from_secs(60);

/// While a write transaction is open and uncommitted (it has written), other threads'
/// read transactions begin, read and commit. The deadline is generous: it catches a
/// reader that blocks on the writer, it does not time anything.
#[test]
fn readers_are_not_blocked_by_an_open_writer() {
    for variant in Variant::ALL {
        let (_dir, db) = open(variant);
        let ids = seed_nodes(&db, 10, 1);
        let mut writer = db.begin_transaction().unwrap();
        for id in &ids {
            writer.update_node(*id, with_v(2)).unwrap();
        }
        writer.add_node(with_v(3)).unwrap();
        let (db2, ids2) = (db.clone(), ids.clone());
        let reads = watchdog("readers beside an open writer", LIMIT, move || {
            std::thread::scope(|s| {
                let readers: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            let mut n = 0;
                            for _ in 0..50 {
                                let r = db2.begin_read().unwrap();
                                for id in &ids2 {
                                    assert_eq!(v_of(&r.get_node(*id).unwrap().unwrap()), 1);
                                    n += 1;
                                }
                                r.commit().unwrap();
                                // A transaction that may write but has not yet written is
                                // not blocked either.
                                let t = db2.begin_transaction().unwrap();
                                assert_eq!(v_of(&t.get_node(ids2[0]).unwrap().unwrap()), 1);
                                t.commit().unwrap();
                            }
                            n
                        })
                    })
                    .collect();
                readers
                    .into_iter()
                    .map(|r| r.join().unwrap())
                    .sum::<usize>()
            })
        });
        assert_eq!(reads, 4 * 50 * ids.len(), "{variant:?}");
        writer.commit().unwrap();
        assert_eq!(read_v(&db, ids[0]), 2);
    }
}

/// Transactions that create a pair of nodes linked by an edge either commit or roll
/// back (explicitly or by drop), concurrently; a reader never sees half a pair, and in
/// the end exactly the committed pairs exist.
#[test]
fn atomicity_of_commit_and_rollback_under_concurrency() {
    let seed = seed("atomicity");
    for variant in Variant::ALL {
        let (_dir, db) = open(variant);
        let max_id = Arc::new(AtomicU64::new(1));
        let committed = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (db2, max2, com2, done2) =
            (db.clone(), max_id.clone(), committed.clone(), done.clone());
        watchdog("atomicity", LIMIT, move || {
            std::thread::scope(|s| {
                let writers: Vec<_> = (0..4u64)
                    .map(|t| {
                        let (db, max_id, committed) = (&db2, &max2, &com2);
                        s.spawn(move || {
                            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ t);
                            for _ in 0..40 {
                                let mut tx = db.begin_transaction().unwrap();
                                let fate: u8 = rng.gen_range(0..3);
                                let a = tx
                                    .add_node(Node::new().with_property("fate", i64::from(fate)))
                                    .unwrap();
                                let b = tx
                                    .add_node(Node::new().with_property("partner", a as i64))
                                    .unwrap();
                                tx.update_node(
                                    a,
                                    Node::new()
                                        .with_property("partner", b as i64)
                                        .with_property("fate", i64::from(fate)),
                                )
                                .unwrap();
                                tx.add_edge(Edge::new(a, b, "PAIR")).unwrap();
                                max_id.fetch_max(b, Ordering::Relaxed);
                                match fate {
                                    0 => {
                                        tx.commit().unwrap();
                                        committed.fetch_add(1, Ordering::Relaxed);
                                    }
                                    1 => tx.rollback().unwrap(),
                                    _ => drop(tx),
                                }
                            }
                        })
                    })
                    .collect();
                let reader = s.spawn(|| {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                    while !done2.load(Ordering::Acquire) {
                        let r = db2.begin_read().unwrap();
                        let top = max2.load(Ordering::Relaxed);
                        for _ in 0..20 {
                            let id = rng.gen_range(1..=top);
                            let Some(n) = r.get_node(id).unwrap() else {
                                continue;
                            };
                            if let Some(fate) = n.properties.get("fate") {
                                assert_eq!(
                                    fate,
                                    &PropertyValue::Int(0),
                                    "uncommitted node {id} seen"
                                );
                            }
                            let Some(PropertyValue::Int(p)) = n.properties.get("partner") else {
                                panic!("node {id} visible without its partner link: {n:?}")
                            };
                            let partner = r.get_node(*p as u64).unwrap();
                            assert!(partner.is_some(), "node {id} visible, partner {p} not");
                            let links = r.neighbors(id, Direction::Both).unwrap();
                            assert_eq!(links, vec![*p as u64], "node {id}: edge missing or extra");
                        }
                        r.commit().unwrap();
                    }
                });
                for w in writers {
                    w.join().unwrap();
                }
                done2.store(true, Ordering::Release);
                reader.join().unwrap();
            });
        });
        let r = db.begin_read().unwrap();
        let mut visible = 0;
        for id in 1..=max_id.load(Ordering::Relaxed) {
            if let Some(n) = r.get_node(id).unwrap() {
                visible += 1;
                if let Some(fate) = n.properties.get("fate") {
                    assert_eq!(
                        fate,
                        &PropertyValue::Int(0),
                        "{variant:?}: rolled-back node {id} visible"
                    );
                }
            }
        }
        assert_eq!(
            visible,
            2 * committed.load(Ordering::Relaxed),
            "{variant:?}"
        );
        drop(r);
        assert!(db.check().unwrap().is_ok());
    }
}

/// Counter increments from many threads, retrying on conflict, sum exactly.
#[test]
fn no_lost_update_with_retry() {
    for variant in Variant::ALL {
        let (_dir, db) = open(variant);
        let counter = seed_nodes(&db, 1, 0)[0];
        let db2 = db.clone();
        let conflicts = watchdog("counter", LIMIT, move || {
            std::thread::scope(|s| {
                let ws: Vec<_> = (0..8)
                    .map(|_| s.spawn(|| (0..25).map(|_| increment(&db2, counter, 1)).sum::<u32>()))
                    .collect();
                ws.into_iter().map(|w| w.join().unwrap()).sum::<u32>()
            })
        });
        assert_eq!(
            read_v(&db, counter),
            8 * 25,
            "{variant:?} ({conflicts} conflicts)"
        );
    }
}

/// A failed (conflicting) commit applies nothing: none of its other writes appear.
#[test]
fn conflicting_commit_applies_nothing() {
    for variant in Variant::ALL {
        let (_dir, db) = open(variant);
        let ids = seed_nodes(&db, 2, 0);
        let mut loser = db.begin_transaction().unwrap();
        let fresh = loser.add_node(with_v(99)).unwrap();
        loser.update_node(ids[1], with_v(99)).unwrap();
        loser.update_node(ids[0], with_v(99)).unwrap();
        increment(&db, ids[0], 5);
        let err = loser.commit().unwrap_err();
        assert!(err.is_conflict(), "{variant:?}: {err}");
        let r = db.begin_read().unwrap();
        assert!(r.get_node(fresh).unwrap().is_none());
        assert_eq!(v_of(&r.get_node(ids[1]).unwrap().unwrap()), 0);
        assert_eq!(v_of(&r.get_node(ids[0]).unwrap().unwrap()), 5);
        drop(r);
        assert!(db.check().unwrap().is_ok());
    }
}

/// Concurrent committers with `SyncMode::Full`: every acknowledged commit survives
/// close and reopen (phase 3 shares fsyncs between them; the others fsync each).
#[test]
fn durable_commits_from_concurrent_committers() {
    for variant in Variant::ALL {
        let (dir, db) = open_with(variant, SyncMode::Full);
        let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (db2, ids2) = (db.clone(), ids.clone());
        watchdog("group commit", LIMIT, move || {
            std::thread::scope(|s| {
                for t in 0..6i64 {
                    let (db, ids) = (&db2, &ids2);
                    s.spawn(move || {
                        for i in 0..8 {
                            let mut tx = db.begin_transaction().unwrap();
                            let id = tx.add_node(with_v(t * 100 + i)).unwrap();
                            tx.commit().unwrap();
                            ids.lock().unwrap().push((id, t * 100 + i));
                        }
                    });
                }
            });
        });
        db.close().unwrap();
        let db = ConcurrentGraphDB::open_with_variant(
            dir.path().join("g.db"),
            Config::default(),
            variant,
        )
        .unwrap();
        let r = db.begin_read().unwrap();
        let ids = ids.lock().unwrap();
        assert_eq!(ids.len(), 48);
        for (id, v) in ids.iter() {
            assert_eq!(v_of(&r.get_node(*id).unwrap().unwrap()), *v, "{variant:?}");
        }
    }
}
