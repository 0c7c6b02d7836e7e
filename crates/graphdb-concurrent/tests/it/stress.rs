//! A bounded mixed stress run on 50 threads per variant, under a deadlock watchdog,
//! followed by the engine's integrity check.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use graphdb_concurrent::Variant;
use graphdb_core::{Direction, Edge};
use rand::{Rng, SeedableRng};

use crate::{is_conflict, open, seed, seed_nodes, v_of, watchdog, with_v};

#[test]
fn fifty_threads_mixed_then_integrity_check() {
    let seed = seed("stress");
    for variant in Variant::ALL {
        let (_dir, db) = open(variant);
        let initial = seed_nodes(&db, 64, 0);
        let top = Arc::new(AtomicU64::new(*initial.last().unwrap()));
        let stats = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
        let (db2, top2, stats2) = (db.clone(), top.clone(), stats.clone());
        watchdog("stress", Duration::from_secs(90), move || {
            std::thread::scope(|s| {
                for t in 0..50u64 {
                    let (db, top, stats) = (&db2, &top2, &stats2);
                    s.spawn(move || {
                        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ (t << 8));
                        for _ in 0..30 {
                            let roll: u32 = rng.gen_range(0..100);
                            let hi = top.load(Ordering::Relaxed);
                            let id = rng.gen_range(1..=hi);
                            if roll < 70 {
                                // A read transaction: repeated reads agree, every edge's
                                // endpoints exist in the same snapshot.
                                let r = db.begin_read().unwrap();
                                let a = r.get_node(id).unwrap();
                                if let Some(n) = &a {
                                    for e in r.edges_of(id, Direction::Both).unwrap() {
                                        let edge =
                                            r.get_edge(e).unwrap().expect("listed edge exists");
                                        assert!(r.get_node(edge.source).unwrap().is_some());
                                        assert!(r.get_node(edge.target).unwrap().is_some());
                                    }
                                    let again = r.get_node(id).unwrap().expect("still there");
                                    assert_eq!(v_of(n), v_of(&again), "non-repeatable read");
                                }
                                r.commit().unwrap();
                                stats[0].fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            let mut tx = db.begin_transaction().unwrap();
                            let outcome = (|| -> Result<(), graphdb_concurrent::Error> {
                                match roll {
                                    70..=84 => {
                                        let n = tx.add_node(with_v(0))?;
                                        if tx.get_node(id)?.is_some() {
                                            tx.add_edge(Edge::new(id, n, "E"))?;
                                        }
                                        top.fetch_max(n, Ordering::Relaxed);
                                    }
                                    85..=94 => {
                                        if let Some(n) = tx.get_node(id)? {
                                            tx.update_node(id, with_v(v_of(&n) + 1))?;
                                        }
                                    }
                                    95..=97 => {
                                        if let Some(e) = tx
                                            .edges_of(id, Direction::Outgoing)
                                            .ok()
                                            .and_then(|v| v.first().copied())
                                        {
                                            tx.delete_edge(e)?;
                                        }
                                    }
                                    _ => {
                                        if tx.get_node(id)?.is_some() {
                                            tx.delete_node(id)?;
                                        }
                                    }
                                }
                                Ok(())
                            })();
                            outcome.unwrap();
                            let r = tx.commit();
                            if is_conflict(&r) {
                                stats[2].fetch_add(1, Ordering::Relaxed);
                            } else {
                                r.unwrap();
                                stats[1].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            });
        });
        let report = db.check().unwrap();
        assert!(report.is_ok(), "{variant:?}: {:?}", report.problems);
        let reads = stats[0].load(Ordering::Relaxed);
        let writes = stats[1].load(Ordering::Relaxed);
        let conflicts = stats[2].load(Ordering::Relaxed);
        assert_eq!(reads + writes + conflicts, 50 * 30);
        eprintln!(
            "{variant:?}: {reads} reads, {writes} writes, {conflicts} conflicts; {} nodes",
            report.nodes
        );
    }
}
