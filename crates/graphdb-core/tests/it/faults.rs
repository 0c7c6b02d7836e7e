//! The commit contract under injected I/O errors: a storage layer that fails the N-th
//! write, sync or resize (allocation), for every N a commit reaches. `Ok` must mean
//! durable (Full) or applied (Off); an error must mean nothing applied (with the one
//! documented exception, `CommitNotDurable`, whose outcome is known only after reopening).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use graphdb_core::{Config, GraphDB, GraphError, Health, MemStorage, Node, Storage, SyncMode};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Write,
    Sync,
    SetLen,
}

/// Counts operations of one kind across both storages and fails the `fail_at`-th one
/// (0: never). A failed operation does nothing.
#[derive(Debug, Default)]
struct Plan {
    seen: AtomicU64,
    fail_at: AtomicU64,
    failed: AtomicU64,
}

#[derive(Debug)]
struct Faulty {
    inner: MemStorage,
    plan: Arc<Plan>,
    kind: Op,
}

impl Faulty {
    fn hit(&self, op: Op) -> io::Result<()> {
        if op != self.kind {
            return Ok(());
        }
        let n = self.plan.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.plan.fail_at.load(Ordering::SeqCst) {
            self.plan.failed.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::other(format!("injected failure of {op:?} #{n}")));
        }
        Ok(())
    }
}

impl Storage for Faulty {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.hit(Op::Write)?;
        self.inner.write_at(buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.hit(Op::SetLen)?;
        self.inner.set_len(len)
    }
    fn sync(&self) -> io::Result<()> {
        self.hit(Op::Sync)?;
        self.inner.sync()
    }
}

fn config(mode: SyncMode) -> Config {
    Config {
        sync_mode: mode,
        page_cache_pages: 8,
        node_cache_capacity: 4,
        edge_cache_capacity: 4,
        // Small, so that commits run checkpoints (main file writes, growth, log reset).
        // (Format 4 counts the page images the log holds: 3 is every commit or two.)
        checkpoint_after_frames: 3,
        ..Config::default()
    }
}

fn labelled(db: &GraphDB, label: &str) -> usize {
    db.get_nodes_by_label(label).unwrap().len()
}

/// One run: a base commit, then the plan is armed and `COMMITS` commits follow.
/// Returns whether the injected failure was reached.
fn run(mode: SyncMode, kind: Op, fail_at: u64) -> bool {
    const COMMITS: usize = 4;
    let (main, wal) = (MemStorage::new(), MemStorage::new());
    let plan = Arc::new(Plan::default());
    let wrap = |m: &MemStorage| {
        Arc::new(Faulty {
            inner: m.clone(),
            plan: Arc::clone(&plan),
            kind,
        })
    };
    let mut db = GraphDB::open_with_storage(wrap(&main), wrap(&wal), config(mode)).unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    tx.add_node(Node::new().with_label("base")).unwrap();
    tx.commit().unwrap();
    db.sync().unwrap();
    plan.seen.store(0, Ordering::SeqCst);
    plan.fail_at.store(fail_at, Ordering::SeqCst);
    let what = format!("{mode:?}, {kind:?} #{fail_at}");
    // Per commit: Some(true) acknowledged, Some(false) failed with nothing applied,
    // None failed with the outcome unknown until reopening.
    let mut outcome: Vec<Option<bool>> = Vec::new();
    for i in 0..COMMITS {
        let label = format!("t{i}");
        let result = db.begin_write_txn().and_then(|mut tx| {
            // Several pages per commit, so that the log grows and checkpoints run.
            for k in 0..30i64 {
                tx.add_node(Node::new().with_label(&label).with_property("k", k))?;
            }
            tx.commit()
        });
        match result {
            Ok(_) => {
                assert_eq!(
                    labelled(&db, &label),
                    30,
                    "{what}: acknowledged commit {i} not visible"
                );
                // Under Off an acknowledged commit is applied; it reaches the file only
                // if the handle did not go into WritesRefused meanwhile.
                let written = !matches!(db.health(), Health::WritesRefused { .. });
                outcome.push(Some(mode == SyncMode::Full || written));
            }
            Err(e) => {
                assert_eq!(
                    labelled(&db, &label),
                    0,
                    "{what}: failed commit {i} ({e}) is visible"
                );
                outcome.push(if matches!(e, GraphError::CommitNotDurable(_)) {
                    None
                } else {
                    Some(false)
                });
            }
        }
        assert_eq!(labelled(&db, "base"), 1, "{what}: reads stopped");
    }
    let reached = plan.failed.load(Ordering::SeqCst) > 0;
    if !reached {
        assert_eq!(db.health(), Health::Ok, "{what}");
    }
    std::mem::forget(db);
    // A power cut keeps only synced bytes; a killed process keeps every write.
    for (image, synced_only) in [
        ((main.crash_image(0, None), wal.crash_image(0, None)), true),
        (
            (
                main.crash_image(usize::MAX, None),
                wal.crash_image(usize::MAX, None),
            ),
            false,
        ),
    ] {
        let db = GraphDB::open_with_storage(Arc::new(image.0), Arc::new(image.1), config(mode))
            .unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
        let report = db.check().unwrap();
        assert!(report.is_ok(), "{what}: {:?}", report.problems);
        assert_eq!(labelled(&db, "base"), 1, "{what}");
        for (i, o) in outcome.iter().enumerate() {
            let n = labelled(&db, &format!("t{i}"));
            assert!(n == 0 || n == 30, "{what}: commit {i} partly present ({n})");
            match o {
                Some(true) if mode == SyncMode::Full || !synced_only => {
                    assert_eq!(
                        n, 30,
                        "{what}: acknowledged commit {i} lost (synced only: {synced_only})"
                    )
                }
                Some(false) if mode == SyncMode::Full => {
                    assert_eq!(n, 0, "{what}: failed commit {i} present after reopen")
                }
                // Applied but never written (Off, log write failed): may be lost.
                Some(false) if mode == SyncMode::Off => {}
                _ => {}
            }
        }
    }
    reached
}

#[test]
fn every_injected_io_failure_keeps_the_commit_contract() {
    for mode in [SyncMode::Full, SyncMode::Off] {
        for kind in [Op::Write, Op::Sync, Op::SetLen] {
            let mut n = 1;
            // Step through every operation of this kind the commits issue, until a run
            // no longer reaches the N-th one.
            while run(mode, kind, n) {
                n += 1;
                assert!(n < 10_000, "runaway");
            }
            assert!(
                n > 1 || kind == Op::SetLen,
                "{mode:?} {kind:?}: no operation reached"
            );
        }
    }
}

#[test]
fn a_failed_checkpoint_does_not_fail_the_commit_and_is_retried() {
    let (main, wal) = (MemStorage::new(), MemStorage::new());
    let plan = Arc::new(Plan::default());
    let faulty_main = Arc::new(Faulty {
        inner: main.clone(),
        plan: Arc::clone(&plan),
        kind: Op::Sync,
    });
    let mut db =
        GraphDB::open_with_storage(faulty_main, Arc::new(wal.clone()), config(SyncMode::Full))
            .unwrap();
    // Only the main file fails: its first sync is the checkpoint's.
    plan.seen.store(0, Ordering::SeqCst);
    plan.fail_at.store(1, Ordering::SeqCst);
    let mut committed = 0;
    while plan.failed.load(Ordering::SeqCst) == 0 {
        let mut tx = db.begin_write_txn().unwrap();
        tx.add_node(Node::new().with_label("x")).unwrap();
        // The commit whose checkpoint fails still reports success.
        tx.commit().unwrap();
        committed += 1;
        assert!(committed < 100);
    }
    assert!(
        matches!(db.health(), Health::CheckpointPending { .. }),
        "{:?}",
        db.health()
    );
    assert_eq!(labelled(&db, "x"), committed);
    // The next checkpoint retries and clears the state.
    db.checkpoint().unwrap();
    assert_eq!(db.health(), Health::Ok);
    let mut tx = db.begin_write_txn().unwrap();
    tx.add_node(Node::new().with_label("x")).unwrap();
    tx.commit().unwrap();
    std::mem::forget(db);
    let db = GraphDB::open_with_storage(
        Arc::new(main.crash_image(0, None)),
        Arc::new(wal.crash_image(0, None)),
        config(SyncMode::Full),
    )
    .unwrap();
    assert_eq!(labelled(&db, "x"), committed + 1);
}
