//! `&self` reads from many threads while one writer commits, with the `GraphDB` behind an
//! `RwLock` as the concurrent layer will hold it. Bounded by counts, not by time; in debug
//! builds every lock acquisition is also checked against the documented lock order.

use graphdb_core::engine::Engine;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use graphdb_core::{Direction, Edge, Node, PropertyValue};
use rand::{Rng, SeedableRng};

use crate::{mem_db, small_config};

fn v(n: &Option<Node>) -> Option<i64> {
    match n.as_ref()?.properties.get("v") {
        Some(PropertyValue::Int(i)) => Some(*i),
        _ => None,
    }
}

#[test]
fn readers_see_consistent_snapshots_while_a_writer_commits() {
    let seed: u64 = rand::random();
    println!("seed {seed}");
    let (mut db, _, _) = mem_db(small_config());
    let mut tx = db.begin_write_txn().unwrap();
    let a = tx.add_node(Node::new().with_property("v", 0i64)).unwrap();
    let b = tx.add_node(Node::new().with_property("v", 0i64)).unwrap();
    tx.commit().unwrap();
    let db = RwLock::new(db);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for r in 0..4u64 {
            let (db, done) = (&db, &done);
            s.spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ r);
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) || reads < 50 {
                    let db = db.read().unwrap();
                    let now = db.current_commit_ts();
                    let ts = rng.gen_range(now.saturating_sub(3).max(1)..=now);
                    let (va, vb) = (
                        v(&db.get_node_with_snapshot(a, ts, None).unwrap()),
                        v(&db.get_node_with_snapshot(b, ts, None).unwrap()),
                    );
                    let degree = db.edges_of(a, Direction::Outgoing, ts, None).unwrap().len();
                    assert_eq!(va, vb, "seed {seed}: torn snapshot {ts}");
                    assert_eq!(va, Some(degree as i64), "seed {seed}: adjacency at {ts}");
                    reads += 1;
                }
            });
        }
        for k in 1..=150i64 {
            let mut db = db.write().unwrap();
            let mut tx = db.begin_write_txn().unwrap();
            tx.update_node(a, Node::new().with_property("v", k))
                .unwrap();
            tx.update_node(b, Node::new().with_property("v", k))
                .unwrap();
            let leaf = tx.add_node(Node::new()).unwrap();
            tx.add_edge(Edge::new(a, leaf, "OUT")).unwrap();
            tx.commit().unwrap();
            if k % 50 == 0 {
                let horizon = db.current_commit_ts() - 3;
                db.vacuum(horizon).unwrap();
            }
        }
        done.store(true, Ordering::Release);
    });
    let db = db.into_inner().unwrap();
    assert!(db.check().unwrap().is_ok());
}
