//! The streaming bulk import: its memory stays bounded by its options whatever the input
//! size, it builds exactly the graph a one-transaction import builds, and a crash (a
//! killed process or a power cut) in the middle of it leaves the database as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use graphdb_core::interchange::{self, ImportOptions, ImportStats};
use graphdb_core::{Config, Direction, GraphDB, MemStorage, Node, Storage, SyncMode};
use rand::{Rng, SeedableRng};

use crate::mem_db;

/// Writes a nodes file and an edges file: `nodes` people and about three random edges
/// per node, some of them self-loops and parallel edges, with a hub (node 1) that gets
/// an edge from every tenth node.
fn write_files(dir: &Path, nodes: u64, seed: u64) -> (PathBuf, PathBuf) {
    use std::io::Write as _;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (np, ep) = (dir.join("nodes.csv"), dir.join("edges.csv"));
    let mut w = std::io::BufWriter::new(std::fs::File::create(&np).unwrap());
    writeln!(w, ":ID,:LABEL,age:long,name:string").unwrap();
    for i in 1..=nodes {
        writeln!(w, "n{i},Person;P{},{},\"person {i}\"", i % 3, i % 90).unwrap();
    }
    w.flush().unwrap();
    let mut w = std::io::BufWriter::new(std::fs::File::create(&ep).unwrap());
    writeln!(w, ":START_ID,:END_ID,:TYPE,w:long").unwrap();
    for i in 1..=nodes {
        for _ in 0..3 {
            let t = rng.gen_range(1..=nodes);
            writeln!(w, "n{i},n{t},KNOWS,{}", rng.gen_range(0..100)).unwrap();
        }
        if i % 10 == 0 {
            writeln!(w, "n{i},n1,LIKES,{i}").unwrap();
        }
    }
    w.flush().unwrap();
    (np, ep)
}

fn log_len(wal: &MemStorage) -> u64 {
    Storage::len(wal).unwrap()
}

/// The bytes of a log that are not zero (its length grows in large zero-filled steps).
fn written(wal: &MemStorage) -> usize {
    let mut all = vec![0u8; log_len(wal) as usize];
    wal.read_at(&mut all, 0).unwrap();
    all.iter().filter(|b| **b != 0).count()
}

fn config() -> Config {
    Config {
        sync_mode: SyncMode::Full,
        page_cache_pages: 64,
        checkpoint_after_frames: u64::MAX,
        ..Config::default()
    }
}

/// Small limits, so that a few thousand records take many batches, spills and runs.
const TINY: ImportOptions = ImportOptions {
    batch_records: 64,
    max_dirty_pages: 16,
    run_entries: 256,
    in_memory: false,
};

/// Everything a graph says, by the files' names (`name` property) rather than by id.
type Shape = BTreeMap<String, (Vec<String>, Vec<(String, String, String)>, usize)>;

fn shape(db: &GraphDB) -> Shape {
    let snap = db.snapshot();
    let name = |id: u64| -> String {
        let n = snap.node(id).unwrap().unwrap();
        format!("{:?}", n.properties.get("name"))
    };
    let mut out = Shape::new();
    for n in snap.all_nodes().unwrap() {
        let mut edges: Vec<(String, String, String)> = snap
            .edges(n.id, Direction::Outgoing, None)
            .unwrap()
            .into_iter()
            .map(|(e, _)| {
                let e = snap.edge(e).unwrap().unwrap();
                (
                    name(e.target),
                    e.edge_type.clone(),
                    format!("{:?}", e.properties),
                )
            })
            .collect();
        edges.sort();
        let incoming = snap.edges(n.id, Direction::Incoming, None).unwrap().len();
        let mut labels = n.labels.clone();
        labels.push(format!("{:?}", n.properties));
        out.insert(name(n.id), (labels, edges, incoming));
    }
    out
}

fn import(db: &mut GraphDB, files: &(PathBuf, PathBuf), options: ImportOptions) -> ImportStats {
    interchange::import_csv_with(db, &[&files.0], &[&files.1], options, &mut |_| {}).unwrap()
}

/// The importer's own state stays under the same fixed bounds for an input ten times
/// larger: parsed records under `batch_records`, adjacency entries under `run_entries`,
/// modified pages under the same small number; the larger input takes more batches,
/// spills and sorted runs instead of more memory. Both build exactly the graph of a
/// one-transaction import.
#[test]
fn streaming_import_holds_bounded_state_whatever_the_input_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut peaks = Vec::new();
    for nodes in [300u64, 3_000] {
        let sub = dir.path().join(nodes.to_string());
        std::fs::create_dir_all(&sub).unwrap();
        let files = write_files(&sub, nodes, nodes);
        let (mut streamed, _, wal) = mem_db(config());
        let stats = import(&mut streamed, &files, TINY);
        let records = nodes * 4 + nodes / 10;
        assert_eq!(stats.counts.nodes + stats.counts.edges, records);
        assert!(
            stats.peak_buffered_records <= TINY.batch_records as u64,
            "{stats:?}"
        );
        assert!(
            stats.peak_adjacency_entries <= TINY.run_entries as u64,
            "{stats:?}"
        );
        assert!(stats.batches >= records / 64, "{stats:?}");
        assert!(
            stats.adjacency_runs >= 2 * stats.counts.edges / 256 - 1,
            "{stats:?}"
        );
        assert!(log_len(&wal) > 0);
        eprintln!("{nodes} nodes: {stats:?}");
        peaks.push(stats.peak_dirty_pages);

        // The same files in one ordinary in-memory transaction.
        let (mut whole, _, _) = mem_db(config());
        let one = import(
            &mut whole,
            &files,
            ImportOptions {
                in_memory: true,
                ..ImportOptions::default()
            },
        );
        assert_eq!((one.batches, one.adjacency_runs), (0, 0));
        assert_eq!(shape(&streamed), shape(&whole), "{nodes} nodes");
        let report = streamed.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!(report.nodes, nodes);
    }
    // Modified pages after a batch: the limit plus what one batch of 64 records dirties,
    // the same for both sizes (measured: 17 to 19).
    assert!(peaks.iter().all(|p| *p <= 32), "{peaks:?}");
}

/// A crash in the middle of an import: images of the storage taken while it runs (all
/// written bytes kept, as after a killed process; or a random prefix of the unsynced
/// writes with the last one torn, as after a power cut) recover to the database as it
/// was before the import, with its earlier commit intact and nothing reported lost;
/// the image after the import returned holds all of it.
#[test]
fn a_crash_during_an_import_leaves_the_database_as_before_or_complete() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path(), 2_500, 7);
    let (mut db, main, wal) = mem_db(config());
    let mut tx = db.begin_write_txn().unwrap();
    tx.add_node(
        Node::new()
            .with_label("Before")
            .with_property("name", "old"),
    )
    .unwrap();
    tx.commit().unwrap();
    let written_before = written(&wal);
    let mut rng = rand::rngs::StdRng::seed_from_u64(18);
    let mut images = Vec::new();
    let stats = {
        let (main, wal) = (main.clone(), wal.clone());
        let mut progress = |_records: u64| {
            let ops = wal.unsynced_ops();
            // Alternately a killed process (the first, and the last: after every record
            // was read) and a power cut.
            let torn = images.len() % 2 == 1;
            let image = if torn {
                wal.crash_image(rng.gen_range(0..=ops), Some(rng.gen_range(0..9000)))
            } else {
                wal.crash_image(ops, None)
            };
            images.push((main.crash_image(main.unsynced_ops(), None), image, torn));
        };
        interchange::import_csv_with(&mut db, &[&files.0], &[&files.1], TINY, &mut progress)
            .unwrap()
    };
    eprintln!("{stats:?}, {} images", images.len());
    assert!(stats.batches > 10, "{stats:?}");
    // The last progress call comes after every record is read, before the commit.
    assert!(images.len() >= 3, "{}", images.len());
    assert!(
        images
            .iter()
            .any(|(_, w, torn)| !torn && written(w) > written_before + 16 * 8192),
        "the images must hold spilled frames of the import"
    );
    for (i, (m, w, torn)) in images.into_iter().enumerate() {
        let db = GraphDB::open_with_storage(Arc::new(m), Arc::new(w), config())
            .unwrap_or_else(|e| panic!("image {i} (torn {torn}): {e}"));
        let report = db.recovery_report().clone();
        assert!(!report.lost_committed_data(), "image {i}: {report}");
        let nodes = db.snapshot().all_nodes().unwrap();
        assert_eq!(
            nodes.len(),
            1,
            "image {i} (torn {torn}): part of the import survived"
        );
        assert_eq!(nodes[0].labels, vec!["Before".to_string()]);
        let check = db.check().unwrap();
        assert!(check.is_ok(), "image {i}: {:?}", check.problems);
    }
    // After the import returned (SyncMode::Full): a power cut keeps all of it.
    let db = GraphDB::open_with_storage(
        Arc::new(main.crash_image(0, None)),
        Arc::new(wal.crash_image(0, None)),
        config(),
    )
    .unwrap();
    assert_eq!(
        db.snapshot().all_nodes().unwrap().len() as u64,
        1 + stats.counts.nodes
    );
    assert!(db.check().unwrap().is_ok());
}

/// A malformed record after many batches rolls the whole import back: the spilled
/// frames are forgotten, and the next commit and a reopening see only what was there.
#[test]
fn a_rejected_import_after_many_batches_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path(), 1_000, 3);
    {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&files.1)
            .unwrap();
        writeln!(f, "n1,nowhere,KNOWS,1").unwrap();
    }
    let (mut db, main, wal) = mem_db(config());
    let err = interchange::import_csv_with(&mut db, &[&files.0], &[&files.1], TINY, &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("nowhere"), "{err}");
    assert!(db.snapshot().all_nodes().unwrap().is_empty());
    let mut tx = db.begin_write_txn().unwrap();
    tx.add_node(Node::new().with_property("name", "after"))
        .unwrap();
    tx.commit().unwrap();
    assert!(db.check().unwrap().is_ok());
    drop(db);
    let db = GraphDB::open_with_storage(Arc::new(main), Arc::new(wal), config()).unwrap();
    assert_eq!(db.snapshot().all_nodes().unwrap().len(), 1);
    assert!(db.check().unwrap().is_ok());
}

/// JSON lines stream the same way: an export re-imported in many small batches gives
/// the graph it came from.
#[test]
fn json_lines_import_in_batches_gives_the_graph_back() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path(), 800, 11);
    let (mut source, _, _) = mem_db(config());
    import(&mut source, &files, ImportOptions::default());
    let mut text = Vec::new();
    let ts = source.current_commit_ts();
    interchange::export_jsonl(&source, ts, &mut text).unwrap();
    let (mut copy, _, _) = mem_db(config());
    let stats =
        interchange::import_jsonl_with(&mut copy, "a.jsonl", &mut &text[..], TINY, &mut |_| {})
            .unwrap();
    assert!(stats.batches > 10 && stats.adjacency_runs > 10, "{stats:?}");
    assert!(stats.peak_buffered_records <= TINY.batch_records as u64);
    assert_eq!(shape(&copy), shape(&source));
    assert!(copy.check().unwrap().is_ok());
}
