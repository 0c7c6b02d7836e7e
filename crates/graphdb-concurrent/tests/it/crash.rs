//! Power cuts during group commit: many committers on `SyncMode::Full`, images of what a
//! crash would leave taken while they run, then recovery of each image.
//!
//! Every transaction writes a pair of nodes that name each other, so a recovered image
//! shows whether a transaction survived whole, in part, or not at all.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use graphdb_concurrent::{ConcurrentGraphDB, Variant};
use graphdb_core::{Config, GraphDB, MemStorage, Node, NodeId, PropertyValue, SyncMode};
use rand::{Rng, SeedableRng};

use crate::{seed, watchdog};

const LIMIT: Duration = Duration::from_secs(60);
const THREADS: i64 = 8;
const COMMITS: i64 = 25;

fn config() -> Config {
    Config {
        sync_mode: SyncMode::Full,
        // No checkpoint while the test runs: the main file then never changes, so an
        // image of the log alone is a consistent crash state.
        checkpoint_after_frames: u64::MAX,
        page_cache_pages: 64,
        ..Config::default()
    }
}

fn partner(node: &Node) -> NodeId {
    match node.properties.get("partner") {
        Some(PropertyValue::Int(p)) => *p as NodeId,
        other => panic!("node {} has partner = {other:?}", node.id),
    }
}

/// What a crash left, with the commits acknowledged before it was taken.
struct Image {
    main: MemStorage,
    wal: MemStorage,
    acked: Vec<(NodeId, NodeId)>,
    torn: bool,
}

/// Recovers an image and checks it: every acknowledged pair is there, and every pair
/// that is there is whole.
fn verify(image: Image, variant: Variant, seed: u64) {
    let db = GraphDB::open_with_storage(Arc::new(image.main), Arc::new(image.wal), config())
        .unwrap_or_else(|e| panic!("{variant:?} seed {seed}: recovery failed: {e}"));
    let what = format!("{variant:?} seed {seed} torn {}", image.torn);
    for (a, b) in &image.acked {
        let na = db.get_node(*a).unwrap();
        let nb = db.get_node(*b).unwrap();
        assert!(
            na.is_some() && nb.is_some(),
            "{what}: acknowledged commit of ({a}, {b}) lost"
        );
    }
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{what}: {:?}", report.problems);
    for n in db.snapshot().all_nodes().unwrap() {
        let p = partner(&n);
        if p == 0 {
            continue; // the seed node
        }
        let other = db
            .get_node(p)
            .unwrap()
            .unwrap_or_else(|| panic!("{what}: half a transaction: {} without {p}", n.id));
        assert_eq!(partner(&other), n.id, "{what}: pair ({}, {p}) mixed", n.id);
    }
}

/// Committers on every variant while another thread takes crash images: of the synced
/// state only (a power cut right after some commits returned) and of a random prefix of
/// the unsynced writes, the last one torn (a power cut in the middle of a group's write).
/// Every commit acknowledged before an image survives it; what did not survive was never
/// acknowledged and left nothing behind.
#[test]
fn acknowledged_commits_survive_power_cuts_during_group_commit() {
    let seed = seed("acknowledged_commits_survive_power_cuts_during_group_commit");
    for variant in Variant::ALL {
        let (main, wal) = (MemStorage::new(), MemStorage::new());
        let engine =
            GraphDB::open_with_storage(Arc::new(main.clone()), Arc::new(wal.clone()), config())
                .unwrap();
        let db = ConcurrentGraphDB::from_db(engine, variant);
        let mut tx = db.begin_transaction().unwrap();
        tx.add_node(Node::new().with_property("partner", 0i64))
            .unwrap();
        tx.commit().unwrap();

        let acked = Arc::new(Mutex::new(Vec::new()));
        let images = watchdog("power cuts during group commit", LIMIT, {
            let (db, acked, main, wal) = (db.clone(), acked.clone(), main.clone(), wal.clone());
            move || {
                let done = std::sync::atomic::AtomicUsize::new(0);
                std::thread::scope(|s| {
                    for _ in 0..THREADS {
                        let (db, acked, done) = (&db, &acked, &done);
                        s.spawn(move || {
                            for _ in 0..COMMITS {
                                let mut tx = db.begin_transaction().unwrap();
                                let a = tx.add_node(Node::new()).unwrap();
                                let b = tx
                                    .add_node(Node::new().with_property("partner", a as i64))
                                    .unwrap();
                                tx.update_node(a, Node::new().with_property("partner", b as i64))
                                    .unwrap();
                                tx.commit().unwrap();
                                acked.lock().unwrap().push((a, b));
                            }
                            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        });
                    }
                    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                    let mut images = Vec::new();
                    while done.load(std::sync::atomic::Ordering::SeqCst) < THREADS as usize {
                        // Acknowledged first, image second: everything in `acked` was
                        // synced before the image is taken.
                        let acked_now = acked.lock().unwrap().clone();
                        let torn = rng.gen_bool(0.5);
                        let wal_image = if torn {
                            let ops = wal.unsynced_ops();
                            wal.crash_image(
                                rng.gen_range(0..=ops),
                                Some(rng.gen_range(0..64 * 1024)),
                            )
                        } else {
                            wal.crash_image(0, None)
                        };
                        images.push(Image {
                            main: main.crash_image(0, None),
                            wal: wal_image,
                            acked: acked_now,
                            torn,
                        });
                        std::thread::sleep(Duration::from_micros(rng.gen_range(20..600)));
                    }
                    images
                })
            }
        });
        // A power cut after everything returned keeps every commit.
        let all = acked.lock().unwrap().clone();
        assert_eq!(all.len() as i64, THREADS * COMMITS);
        let last = Image {
            main: main.crash_image(0, None),
            wal: wal.crash_image(0, None),
            acked: all,
            torn: false,
        };
        eprintln!("{variant:?}: {} crash images", images.len() + 1);
        for image in images.into_iter().chain([last]) {
            verify(image, variant, seed);
        }
        db.close().unwrap();
    }
}

/// `SyncMode::Off` on the lock-free variant: consecutive commits are written to the log
/// in groups (one write for many commits, instead of one per commit), and a killed
/// process, which keeps every byte written, recovers a prefix of the commit order that
/// misses at most one group's commits, each of them whole.
#[test]
fn off_commits_are_written_in_groups_and_a_kill_keeps_a_whole_prefix() {
    let config = Config {
        sync_mode: SyncMode::Off,
        checkpoint_after_frames: u64::MAX,
        ..Config::default()
    };
    let (main, wal) = (MemStorage::new(), MemStorage::new());
    let engine = GraphDB::open_with_storage(
        Arc::new(main.clone()),
        Arc::new(wal.clone()),
        config.clone(),
    )
    .unwrap();
    let db = ConcurrentGraphDB::from_db(engine, Variant::LockFreeReads);
    const COMMITS: usize = 200;
    let writes_before = wal.unsynced_ops();
    let mut pairs = Vec::new();
    for _ in 0..COMMITS {
        let mut tx = db.begin_transaction().unwrap();
        let a = tx.add_node(Node::new()).unwrap();
        let b = tx
            .add_node(Node::new().with_property("partner", a as i64))
            .unwrap();
        tx.update_node(a, Node::new().with_property("partner", b as i64))
            .unwrap();
        tx.commit().unwrap();
        pairs.push((a, b));
    }
    let writes = wal.unsynced_ops() - writes_before;
    // A few writes per commit before (the log writes a frame around its zero run: 726
    // for these 200 commits); now a few per group of 64 commits (19).
    assert!(
        writes <= COMMITS / 4,
        "{writes} log writes for {COMMITS} commits"
    );
    // A killed process keeps every write it made, and nothing still in memory.
    let image = Image {
        main: main.crash_image(main.unsynced_ops(), None),
        wal: wal.crash_image(wal.unsynced_ops(), None),
        acked: Vec::new(),
        torn: false,
    };
    let recovered =
        GraphDB::open_with_storage(Arc::new(image.main), Arc::new(image.wal), config.clone())
            .unwrap();
    let alive: Vec<bool> = pairs
        .iter()
        .map(|(a, b)| {
            let (na, nb) = (
                recovered.get_node(*a).unwrap(),
                recovered.get_node(*b).unwrap(),
            );
            assert_eq!(na.is_some(), nb.is_some(), "half a commit of ({a}, {b})");
            let whole = nb.is_some();
            if let (Some(na), Some(nb)) = (na, nb) {
                assert_eq!((partner(&na), partner(&nb)), (*b, *a));
            }
            whole
        })
        .collect();
    let kept = alive.iter().take_while(|x| **x).count();
    assert!(alive[kept..].iter().all(|x| !x), "not a prefix: {alive:?}");
    assert!(kept + 64 > COMMITS, "only {kept} of {COMMITS} commits kept");
    assert!(recovered.check().unwrap().is_ok());
    drop(recovered);
    db.close().unwrap();

    // A group of one writes every commit at once, as before groups: a kill keeps all.
    let (main, wal) = (MemStorage::new(), MemStorage::new());
    let engine = GraphDB::open_with_storage(
        Arc::new(main.clone()),
        Arc::new(wal.clone()),
        config.clone(),
    )
    .unwrap();
    let db = ConcurrentGraphDB::from_db(engine, Variant::LockFreeReads);
    db.set_off_write_group(1);
    let before = wal.unsynced_ops();
    for _ in 0..10 {
        let mut tx = db.begin_transaction().unwrap();
        tx.add_node(Node::new()).unwrap();
        tx.commit().unwrap();
    }
    assert!(wal.unsynced_ops() - before >= 10);
    let recovered = GraphDB::open_with_storage(
        Arc::new(main.crash_image(main.unsynced_ops(), None)),
        Arc::new(wal.crash_image(wal.unsynced_ops(), None)),
        config,
    )
    .unwrap();
    assert_eq!(recovered.snapshot().all_nodes().unwrap().len(), 10);
    drop(recovered);
    db.close().unwrap();
}
