//! What recovery does with a missing main file, a damaged log and an old log format, and
//! how it reports it.

use std::sync::Arc;

use graphdb_core::{
    wal_path, Config, GraphDB, GraphError, LogEnd, MemStorage, Node, Storage, LOG_FORMAT_VERSION,
};

fn no_checkpoint() -> Config {
    Config {
        checkpoint_after_frames: 1_000_000,
        ..Config::default()
    }
}

/// Commits `n` transactions of one node each (labels `n0`, `n1`, ...).
fn commit_n(db: &mut GraphDB, n: usize) {
    for i in 0..n {
        let mut tx = db.begin_write_txn().unwrap();
        tx.add_node(Node::new().with_label(format!("n{i}")))
            .unwrap();
        tx.commit().unwrap();
    }
}

fn count(db: &GraphDB, n: usize) -> usize {
    (0..n)
        .filter(|i| !db.get_nodes_by_label(&format!("n{i}")).unwrap().is_empty())
        .count()
}

#[test]
fn opening_a_missing_database_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.db");
    assert!(matches!(
        GraphDB::open(&path, Config::default()),
        Err(GraphError::NotFound(_))
    ));
    assert!(!path.exists() && !wal_path(&path).exists());
    let created = GraphDB::open(
        &path,
        Config {
            create_if_missing: true,
            ..Config::default()
        },
    )
    .unwrap();
    created.close().unwrap();
    assert!(GraphDB::create(&path, Config::default()).is_err());
}

#[test]
fn an_empty_or_missing_main_file_is_rebuilt_from_a_log_that_holds_every_page() {
    for remove in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let mut db = GraphDB::create(&path, no_checkpoint()).unwrap();
        commit_n(&mut db, 40);
        drop(db);
        if remove {
            std::fs::remove_file(&path).unwrap();
        } else {
            std::fs::File::create(&path).unwrap();
        }
        let db = GraphDB::open(&path, Config::default()).unwrap();
        let report = db.recovery_report().clone();
        assert!(report.rebuilt_main_file, "{report}");
        assert_eq!(report.transactions_replayed, 40);
        assert_eq!(count(&db, 40), 40);
        assert!(db.check().unwrap().is_ok());
        db.close().unwrap();
        // The rebuilt file stands on its own.
        std::fs::remove_file(wal_path(&path)).unwrap();
        let db = GraphDB::open(&path, Config::default()).unwrap();
        assert_eq!(count(&db, 40), 40);
    }
}

#[test]
fn an_empty_main_file_beside_a_partial_log_is_an_error_naming_both_files() {
    for remove in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let mut db = GraphDB::create(&path, no_checkpoint()).unwrap();
        commit_n(&mut db, 20);
        db.checkpoint().unwrap();
        commit_n(&mut db, 3);
        drop(db);
        let log_before = std::fs::read(wal_path(&path)).unwrap();
        if remove {
            std::fs::remove_file(&path).unwrap();
        } else {
            std::fs::File::create(&path).unwrap();
        }
        let err = GraphDB::open(&path, Config::default()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, GraphError::Corruption { .. }), "{msg}");
        assert!(msg.contains("g.db ") && msg.contains("g.db-wal"), "{msg}");
        // Neither wiped nor replaced by an empty database.
        assert_eq!(std::fs::read(wal_path(&path)).unwrap(), log_before);
        assert_eq!(path.exists(), !remove);
        assert!(GraphDB::create(&path, Config::default()).is_err());
    }
}

/// A database whose last 10 commits live only in the log (in memory).
fn logged() -> (MemStorage, MemStorage) {
    logged_in(LOG_FORMAT_VERSION)
}

/// The same, with the log written in format `version`.
fn logged_in(version: u32) -> (MemStorage, MemStorage) {
    let (main, wal) = (MemStorage::new(), MemStorage::new());
    let mut db = GraphDB::open_with_storage(
        Arc::new(main.clone()),
        Arc::new(wal.clone()),
        no_checkpoint(),
    )
    .unwrap();
    db.use_log_format(version).unwrap();
    commit_n(&mut db, 10);
    std::mem::forget(db);
    (main, wal)
}

fn reopen(main: &MemStorage, log: Vec<u8>, strict: bool) -> Result<GraphDB, GraphError> {
    let w = MemStorage::new();
    w.overwrite(log);
    GraphDB::open_with_storage(
        Arc::new(main.clone()),
        Arc::new(w),
        Config {
            strict_recovery: strict,
            ..no_checkpoint()
        },
    )
}

const WAL_HEADER: usize = 32;

#[test]
fn a_damaged_salt_in_the_first_frame_is_reported_with_every_dropped_commit() {
    let (main, wal) = logged();
    let log = wal.snapshot();
    let mut bad = log.clone();
    // The salt of the first record (record header bytes 16..24).
    bad[WAL_HEADER + 17] ^= 0x40;
    let db = reopen(&main, bad.clone(), false).unwrap();
    let r = db.recovery_report().clone();
    assert_eq!(r.transactions_replayed, 0, "{r}");
    assert!(r.dropped_bytes > 0, "{r}");
    // The damaged record is the first commit itself (one record per commit): nothing
    // tells it from a torn write, so the nine after it are what is counted.
    assert_eq!(r.dropped_transactions, 9, "{r}");
    assert!(matches!(r.end, LogEnd::DamagedFrame { .. }), "{r}");
    assert!(r.lost_committed_data());
    let check = db.check().unwrap();
    assert!(!check.is_ok() && check.problems[0].contains("dropped 9 committed"));
    std::mem::forget(db);
    // Strict mode refuses, and leaves the log as it was.
    let w = MemStorage::new();
    w.overwrite(bad.clone());
    let err = GraphDB::open_with_storage(
        Arc::new(main.clone()),
        Arc::new(w.clone()),
        Config {
            strict_recovery: true,
            ..no_checkpoint()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("strict recovery"), "{err}");
    assert_eq!(w.snapshot(), bad);
    // Undamaged, strict opens and replays everything.
    let db = reopen(&main, log, true).unwrap();
    assert_eq!(db.recovery_report().transactions_replayed, 10);
    assert_eq!(db.recovery_report().end, LogEnd::Clean);
}

#[test]
fn a_torn_tail_is_not_reported_as_lost_committed_data() {
    let (main, wal) = logged();
    let log = wal.snapshot();
    let db = reopen(&main, log.clone(), false).unwrap();
    let end = db.wal_end().unwrap() as usize;
    std::mem::forget(db);
    // Part of a record written after the last commit: an interrupted commit (a record
    // header of this log generation, and a body that does not match its checksum).
    let mut torn = log.clone();
    torn.copy_within(WAL_HEADER..WAL_HEADER + 32, end);
    torn[end + 32..end + 100].fill(0x77);
    let db = reopen(&main, torn, true).unwrap();
    let r = db.recovery_report();
    assert_eq!(r.transactions_replayed, 10);
    assert!(matches!(r.end, LogEnd::TornTail { .. }), "{r}");
    assert!(!r.lost_committed_data());
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn a_log_of_the_previous_format_is_replayed_and_an_unknown_one_named() {
    // A page-image log (format 3) turned into format 1 by re-chaining its frames.
    let (main, wal) = logged_in(3);
    let log = wal.snapshot();
    // Frames chain their checksums from the header's, so a new header means
    // re-chaining every frame of this generation.
    let with_version = |v: u32| {
        let mut l = log.clone();
        l[8..12].copy_from_slice(&v.to_le_bytes());
        let mut crc = crc32(0, &l[0..24]);
        l[24..28].copy_from_slice(&crc.to_le_bytes());
        let frame = 32 + graphdb_core::PAGE_SIZE;
        let mut at = WAL_HEADER;
        while at + frame <= l.len() && l[at + 16..at + 24] == l[16..24] {
            let mut bytes = l[at..at + 24].to_vec();
            bytes.extend_from_slice(&l[at + 32..at + frame]);
            crc = crc32(crc, &bytes);
            l[at + 24..at + 28].copy_from_slice(&crc.to_le_bytes());
            at += frame;
        }
        l
    };
    // Version 1 frames are version 2 frames without the own checksum, which version 1
    // readers ignore; the header says which rules apply.
    let w = MemStorage::new();
    w.overwrite(with_version(1));
    let db =
        GraphDB::open_with_storage(Arc::new(main.clone()), Arc::new(w.clone()), no_checkpoint())
            .unwrap();
    assert_eq!(db.recovery_report().log_version, 1);
    assert_eq!(db.recovery_report().transactions_replayed, 10);
    assert_eq!(count(&db, 10), 10);
    // The old log was folded into the main file at once; the log is now the current
    // format.
    let now = w.snapshot();
    assert_eq!(
        u32::from_le_bytes(now[8..12].try_into().unwrap()),
        LOG_FORMAT_VERSION
    );
    drop(db);
    let err = reopen(&main, with_version(99), false).unwrap_err();
    assert!(err.to_string().contains("format version 99"), "{err}");
}

/// CRC-32 (IEEE) continued from a previous checksum, as the log chains them.
fn crc32(previous: u32, bytes: &[u8]) -> u32 {
    let mut crc = !previous;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn the_report_is_in_the_stats_after_a_clean_reopen() {
    let (main, wal) = logged();
    let db = reopen(&main, wal.snapshot(), false).unwrap();
    assert_eq!(db.recovery_report().transactions_replayed, 10);
    assert!(db.recovery_report().frames_replayed >= 10);
    assert_eq!(db.stats().unwrap().recovered_txs, 10);
    let _ = main.len();
}

#[test]
fn close_shrinks_a_log_that_commit_checkpoints_left_empty_but_large() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let config = Config {
        checkpoint_after_frames: 16,
        ..Config::default()
    };
    let mut db = GraphDB::create(&path, config).unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    for i in 0..600i64 {
        tx.add_node(Node::new().with_property("p", vec![i as u8 | 1; 9000]))
            .unwrap();
    }
    // The commit's own checkpoint folds the log and keeps its space.
    tx.commit().unwrap();
    let log = wal_path(&path);
    let big = std::fs::metadata(&log).unwrap().len();
    assert!(big > 4 << 20, "log {big} bytes");
    db.close().unwrap();
    let small = std::fs::metadata(&log).unwrap().len();
    assert!(small <= 1 << 20, "log after close {small} bytes");
    let db = GraphDB::open(&path, Config::default()).unwrap();
    assert_eq!(db.snapshot().all_nodes().unwrap().len(), 600);
}

#[test]
fn a_checkpoint_shrinks_a_large_log_back_to_a_small_bound() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let mut db = GraphDB::create(&path, no_checkpoint()).unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    for i in 0..600i64 {
        // About one overflow page each: several MiB of log.
        tx.add_node(Node::new().with_property("p", vec![i as u8 | 1; 9000]))
            .unwrap();
    }
    tx.commit().unwrap();
    let log = wal_path(&path);
    let big = std::fs::metadata(&log).unwrap().len();
    assert!(big > 4 << 20, "log {big} bytes");
    db.checkpoint().unwrap();
    let small = std::fs::metadata(&log).unwrap().len();
    assert!(small <= 1 << 20, "log after checkpoint {small} bytes");
    // The shrunken log is reused, and the data is all there after a reopen.
    let mut tx = db.begin_write_txn().unwrap();
    tx.add_node(Node::new().with_label("n0")).unwrap();
    tx.commit().unwrap();
    drop(db);
    let db = GraphDB::open(&path, Config::default()).unwrap();
    assert_eq!(db.snapshot().all_nodes().unwrap().len(), 601);
    assert_eq!(count(&db, 1), 1);
}

/// `use_log_format(3)` writes the page-image log (the format before 4) from then on; a
/// handle opened later replays it, folds it into the main file and writes format 4
/// again; a format this build cannot write is refused, naming the ones it can.
#[test]
fn the_page_image_log_is_written_on_request_and_folded_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let mut db = GraphDB::create(&path, no_checkpoint()).unwrap();
    for bad in [0, 2, 5] {
        let err = db.use_log_format(bad).unwrap_err();
        assert!(matches!(err, GraphError::InvalidArgument(_)), "{err}");
        assert!(err.to_string().contains("versions 3 and 4"), "{err}");
    }
    db.use_log_format(3).unwrap();
    commit_n(&mut db, 5);
    let version = |p: &std::path::Path| {
        let log = std::fs::read(wal_path(p)).unwrap();
        u32::from_le_bytes(log[8..12].try_into().unwrap())
    };
    assert_eq!(version(&path), 3);
    drop(db);
    let db = GraphDB::open(&path, no_checkpoint()).unwrap();
    assert_eq!(db.recovery_report().log_version, 3);
    assert_eq!(db.recovery_report().transactions_replayed, 5);
    assert_eq!(version(&path), LOG_FORMAT_VERSION);
    assert_eq!(count(&db, 5), 5);
    assert!(db.check().unwrap().is_ok());
}
