//! Power cuts at every point of a run that crosses checkpoints: both files share one
//! journal of operations, so a cut can fall between the main file's writes and syncs and
//! the log's, in their real order.

use std::io;
use std::sync::{Arc, Mutex};

use graphdb_core::{Config, GraphDB, MemStorage, Node, PropertyValue, Storage, SyncMode};

use crate::model::{read_state, State};

#[derive(Debug, Clone)]
enum Op {
    Write(usize, u64, Vec<u8>),
    SetLen(usize, u64),
    Sync(usize),
}

/// The operations on both files, in the order they were issued.
#[derive(Debug, Default)]
struct Journal {
    ops: Vec<Op>,
}

#[derive(Debug)]
struct Journaled {
    file: usize,
    live: MemStorage,
    journal: Arc<Mutex<Journal>>,
}

impl Journaled {
    fn push(&self, op: Op) {
        self.journal.lock().unwrap().ops.push(op);
    }
}

impl Storage for Journaled {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.live.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.push(Op::Write(self.file, offset, buf.to_vec()));
        self.live.write_at(buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        self.live.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.push(Op::SetLen(self.file, len));
        self.live.set_len(len)
    }
    fn sync(&self) -> io::Result<()> {
        self.push(Op::Sync(self.file));
        self.live.sync()
    }
}

/// The two files as a power cut after `cut` operations leaves them. With `lose_unsynced`
/// each file keeps only what it had synced before the cut; otherwise every operation
/// before the cut reached the disk.
fn image(ops: &[Op], cut: usize, lose_unsynced: bool) -> [MemStorage; 2] {
    let files = [MemStorage::new(), MemStorage::new()];
    let mut last_sync = [0usize; 2];
    for (i, op) in ops[..cut].iter().enumerate() {
        if let Op::Sync(f) = op {
            last_sync[*f] = i;
        }
    }
    for (i, op) in ops[..cut].iter().enumerate() {
        match op {
            Op::Write(f, off, bytes) if !lose_unsynced || i < last_sync[*f] => {
                files[*f].write_at(bytes, *off).unwrap()
            }
            Op::SetLen(f, len) if !lose_unsynced || i < last_sync[*f] => {
                files[*f].set_len(*len).unwrap()
            }
            _ => {}
        }
    }
    files
}

#[test]
fn power_cut_anywhere_across_checkpoints() {
    let journal = Arc::new(Mutex::new(Journal::default()));
    let main = Arc::new(Journaled {
        file: 0,
        live: MemStorage::new(),
        journal: journal.clone(),
    });
    let wal = Arc::new(Journaled {
        file: 1,
        live: MemStorage::new(),
        journal: journal.clone(),
    });
    let config = Config {
        sync_mode: SyncMode::Full,
        page_cache_pages: 8,
        node_cache_capacity: 2,
        edge_cache_capacity: 2,
        checkpoint_after_frames: 3,
        ..Config::default()
    };
    let mut db = GraphDB::open_with_storage(main, wal, config.clone()).unwrap();
    let mut states: Vec<State> = vec![read_state(&db).unwrap()];
    // For each commit, the journal length when it returned: a cut after that point must
    // keep it.
    let mut acked_at = vec![journal.lock().unwrap().ops.len()];
    for i in 0..14i64 {
        let mut tx = db.begin_write_txn().unwrap();
        tx.add_node(Node::new().with_label("N").with_property("v", i))
            .unwrap();
        if i > 2 {
            tx.update_node(1, Node::new().with_label("N").with_property("v", -i))
                .unwrap();
        }
        tx.commit().unwrap();
        states.push(read_state(&db).unwrap());
        acked_at.push(journal.lock().unwrap().ops.len());
    }
    let ops = journal.lock().unwrap().ops.clone();
    assert!(
        ops.iter().filter(|op| matches!(op, Op::Sync(0))).count() >= 3,
        "the run must cross several checkpoints"
    );
    std::mem::forget(db);
    let first_usable = acked_at[0];
    for cut in first_usable..=ops.len() {
        for lose in [false, true] {
            let [m, w] = image(&ops, cut, lose);
            let db = GraphDB::open_with_storage(Arc::new(m), Arc::new(w), config.clone())
                .unwrap_or_else(|e| panic!("cut {cut} (lose {lose}): open failed: {e}"));
            let got = read_state(&db).unwrap();
            let found = states
                .iter()
                .position(|s| *s == got)
                .unwrap_or_else(|| panic!("cut {cut} (lose {lose}): not a committed state"));
            let must_have = acked_at.iter().rposition(|a| *a <= cut).unwrap_or(0);
            assert!(
                found >= must_have,
                "cut {cut} (lose {lose}): commit {must_have} lost, found {found}"
            );
            if let Some(PropertyValue::Int(v)) = db
                .get_node(1)
                .unwrap()
                .and_then(|n| n.properties.get("v").cloned())
            {
                assert!(v <= 0 || found <= 3, "cut {cut}: node 1 has v {v}");
            }
            std::mem::forget(db);
        }
    }
}
