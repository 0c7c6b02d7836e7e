//! Damaged files: every kind of page, the header, truncation, and the log. The engine
//! must answer with `Corruption` (or recover to a committed state), never panic or return
//! wrong data.

use std::collections::BTreeSet;
use std::sync::Arc;

use graphdb_core::{Config, Edge, GraphDB, GraphError, MemStorage, Node, PAGE_SIZE};
use rand::{Rng, SeedableRng};

use crate::model::{read_data, read_state, State};
use crate::small_config;

fn open(main: &MemStorage, wal: &MemStorage) -> Result<GraphDB, GraphError> {
    GraphDB::open_with_storage(
        Arc::new(main.clone()),
        Arc::new(wal.clone()),
        small_config(),
    )
}

/// A database whose main file holds every page type: header, map pages, records,
/// overflow and free pages. Returns the checkpointed storages and the committed state.
fn build() -> (MemStorage, MemStorage, State) {
    let (main, wal) = (MemStorage::new(), MemStorage::new());
    let mut db = open(&main, &wal).unwrap();
    let mut ids = Vec::new();
    for round in 0..4i64 {
        let mut tx = db.begin_write_txn().unwrap();
        for i in 0..40i64 {
            ids.push(
                tx.add_node(
                    Node::new()
                        .with_label("L")
                        .with_property("v", round * 100 + i),
                )
                .unwrap(),
            );
        }
        for w in ids.windows(2).skip(round as usize * 40).take(39) {
            tx.add_edge(Edge::new(w[0], w[1], "E").with_property("v", 0i64))
                .unwrap();
        }
        tx.commit().unwrap();
    }
    let mut tx = db.begin_write_txn().unwrap();
    let big = tx
        .add_node(Node::new().with_label("L").with_property("v", 1i64))
        .unwrap();
    tx.commit().unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    tx.update_node(
        big,
        Node::new()
            .with_label("L")
            .with_property("v", 2i64)
            .with_property("blob", vec![3u8; 30_000]),
    )
    .unwrap();
    tx.commit().unwrap();
    // Replace the big version and vacuum, so some pages end up on the free list, then add
    // another big one so overflow pages stay in use.
    let mut tx = db.begin_write_txn().unwrap();
    tx.update_node(big, Node::new().with_label("L").with_property("v", 3i64))
        .unwrap();
    tx.commit().unwrap();
    db.vacuum(db.current_commit_ts()).unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    tx.add_node(
        Node::new()
            .with_label("L")
            .with_property("v", 4i64)
            .with_property("blob", vec![5u8; 12_000]),
    )
    .unwrap();
    tx.commit().unwrap();
    // `read_state` reads the `v` property only, the blob is checked by checksums.
    let state = read_state(&db).unwrap();
    assert!(db.stats().unwrap().free_pages > 0);
    db.close().unwrap();
    (main, wal, state)
}

fn is_corruption<T>(r: &Result<T, GraphError>) -> bool {
    matches!(r, Err(GraphError::Corruption { .. }))
}

#[test]
fn a_flipped_byte_in_any_page_type_is_reported() {
    let seed: u64 = rand::random();
    println!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (main, wal, state) = build();
    let image = main.snapshot();
    let pages = image.len() / PAGE_SIZE;
    let mut kinds_seen = BTreeSet::new();
    for page in 0..pages {
        let kind = image[page * PAGE_SIZE + 4];
        kinds_seen.insert(kind);
        for _ in 0..3 {
            let mut bad = image.clone();
            let at = page * PAGE_SIZE + rng.gen_range(0..PAGE_SIZE);
            bad[at] ^= 1 << rng.gen_range(0..8);
            let m = MemStorage::new();
            m.overwrite(bad);
            let w = MemStorage::new();
            w.overwrite(wal.snapshot());
            match open(&m, &w) {
                Err(e) => assert!(
                    matches!(e, GraphError::Corruption { .. }),
                    "page {page}: {e}"
                ),
                Ok(db) => {
                    assert!(
                        is_corruption(&db.verify_pages()),
                        "page {page} (type {kind}) flip at {at} not caught"
                    );
                    assert!(!db.check().unwrap().is_ok(), "check misses page {page}");
                    // Reads either hit the bad page and say so, or never touch it and
                    // return the committed data.
                    match read_data(&db) {
                        Ok(s) => assert_eq!(s, state, "page {page}: wrong data returned"),
                        Err(e) => assert!(matches!(e, GraphError::Corruption { .. }), "{e}"),
                    }
                }
            }
        }
    }
    // Header, free, map inner, map leaf, records, overflow.
    assert_eq!(kinds_seen, (1..=6).collect::<BTreeSet<u8>>());
}

#[test]
fn header_problems_have_precise_messages() {
    let (main, wal, _) = build();
    let image = main.snapshot();
    let cases: [(usize, &str); 3] = [(16, "magic"), (24, "version"), (28, "page size")];
    for (at, word) in cases {
        let mut bad = image.clone();
        bad[at] ^= 0x01;
        let m = MemStorage::new();
        m.overwrite(bad);
        let err = open(&m, &wal).unwrap_err();
        assert!(err.to_string().contains(word), "{err}");
    }
    let m = MemStorage::new();
    m.overwrite(b"SQLite format 3\0".repeat(PAGE_SIZE / 16));
    assert!(open(&m, &MemStorage::new())
        .unwrap_err()
        .to_string()
        .contains("magic"));
}

/// A file of an earlier format (version 3: 42-byte record headers and names inline;
/// version 2: fixed-width records, adjacency of edge ids only) is refused with a message
/// that names its version and says what to do, never misread. Its header is rewritten here with a valid checksum, so only the version
/// differs from a healthy file.
#[test]
fn a_file_of_the_previous_format_version_is_named_and_refused() {
    let (main, wal, _) = build();
    assert_eq!(graphdb_core::FORMAT_VERSION, 4);
    let image = main.snapshot();
    assert_eq!(&image[24..28], &4u32.to_le_bytes());
    for old in [1u32, 2, 3] {
        let mut bad = image.clone();
        bad[24..28].copy_from_slice(&old.to_le_bytes());
        let mut h = crc32fast::Hasher::new();
        h.update(&0u64.to_le_bytes());
        h.update(&bad[4..PAGE_SIZE]);
        let crc = h.finalize();
        bad[0..4].copy_from_slice(&crc.to_le_bytes());
        let m = MemStorage::new();
        m.overwrite(bad);
        let err = open(&m, &wal).unwrap_err().to_string();
        assert!(err.contains(&format!("format version {old}")), "{err}");
        assert!(err.contains("reads format version 4"), "{err}");
        assert!(err.contains("export"), "{err}");
    }
}

#[test]
fn truncated_main_file_is_corruption() {
    let (main, wal, _) = build();
    let image = main.snapshot();
    let m = MemStorage::new();
    m.overwrite(image[..image.len() - 100].to_vec());
    assert!(is_corruption(&open(&m, &wal)));
    m.overwrite(image[..image.len() - PAGE_SIZE].to_vec());
    let db = open(&m, &wal).unwrap();
    let err = db.verify_pages().unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    m.overwrite(image[..PAGE_SIZE / 2].to_vec());
    assert!(is_corruption(&open(&m, &wal)));
}

/// A database whose recent commits live only in the log.
fn logged() -> (MemStorage, MemStorage, Vec<State>, u64) {
    let (main, wal) = (MemStorage::new(), MemStorage::new());
    let config = Config {
        checkpoint_after_frames: 1_000_000,
        ..small_config()
    };
    let mut db =
        GraphDB::open_with_storage(Arc::new(main.clone()), Arc::new(wal.clone()), config).unwrap();
    let mut states = vec![read_state(&db).unwrap()];
    for i in 0..6i64 {
        let mut tx = db.begin_write_txn().unwrap();
        let a = tx.add_node(Node::new().with_property("v", i)).unwrap();
        tx.add_edge(Edge::new(a, a, "SELF").with_property("v", i))
            .unwrap();
        tx.commit().unwrap();
        states.push(read_state(&db).unwrap());
    }
    let end = db.wal_end().unwrap();
    std::mem::forget(db);
    (main, wal, states, end)
}

#[test]
fn damaged_log_recovers_a_committed_prefix() {
    let (main, wal, states, end) = logged();
    let mut log = wal.snapshot();
    // The log is preallocated with zeros; cutting inside the zeros proves nothing new.
    log.truncate(end as usize + 100);
    let check = |bytes: Vec<u8>, what: &str| {
        let w = MemStorage::new();
        w.overwrite(bytes);
        let db = open(&main, &w).unwrap();
        let report = db.recovery_report().clone();
        // Dropped committed transactions are never silent: the check says so.
        let got = if report.lost_committed_data() {
            assert!(
                !db.check().unwrap().is_ok(),
                "{what}: check ok after {report}"
            );
            read_data(&db).unwrap()
        } else {
            read_state(&db).unwrap()
        };
        assert!(states.contains(&got), "{what}: not a committed state");
        let found = states.iter().position(|s| *s == got).unwrap_or(0);
        // Every committed transaction is either replayed or counted as dropped.
        // Only the damaged transaction itself can go uncounted (when its own commit frame
        // is the damaged one, nothing tells it from a torn write).
        if what.starts_with("flip") {
            assert!(
                found as u64 + report.dropped_transactions + 1 >= (states.len() - 1) as u64,
                "{what}: replayed {found}, {report}"
            );
        }
        std::mem::forget(db);
        found
    };
    // Truncation anywhere.
    let mut last = 0;
    for cut in (0..=log.len()).step_by(997).chain([log.len()]) {
        let found = check(log[..cut].to_vec(), &format!("cut at {cut}"));
        assert!(found >= last);
        last = found;
    }
    assert_eq!(last, states.len() - 1);
    // Flipped bytes: whatever follows the flip is dropped, never misread.
    for at in (0..log.len()).step_by(1531) {
        let mut bad = log.clone();
        bad[at] ^= 0x10;
        check(bad, &format!("flip at {at}"));
    }
    // Garbage instead of a log: the main file's state (empty here).
    assert_eq!(check(vec![0x5A; 20_000], "garbage"), 0);
    assert_eq!(check(Vec::new(), "empty"), 0);
}
