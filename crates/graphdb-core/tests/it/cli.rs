//! The `graphdb` binary: export and import round-trip exactly (CSV and JSON lines), a
//! malformed file is reported with its line and changes nothing, and the exit codes.

use graphdb_core::engine::Engine;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use graphdb_core::{Config, Edge, GraphDB, Node, PropertyValue, SyncMode};

fn graphdb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_graphdb"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = graphdb(args);
    assert!(
        out.status.success(),
        "graphdb {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A database whose values CSV can express, with deleted nodes (so ids have gaps) and
/// text that needs quoting.
fn build(path: &Path, csv_safe: bool) {
    let mut db = GraphDB::create(
        path,
        Config {
            sync_mode: SyncMode::Off,
            ..Config::default()
        },
    )
    .unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    let mut ids = Vec::new();
    for i in 0..40i64 {
        let mut n = Node::new()
            .with_label(if i % 2 == 0 { "Person" } else { "City" })
            .with_property("name", format!("n{i}, \"quoted\"\nnext line ü"))
            .with_property("score", 0.1 * i as f64 - 1.0)
            .with_property("flag", i % 3 == 0);
        if i % 4 == 0 {
            n = n.with_label("Admin");
            n = n.with_property("age", i * 1_000_000_007);
            n = n.with_property(
                "tags",
                PropertyValue::List(vec!["a".into(), format!("t{i}").into()]),
            );
        }
        if i == 5 {
            n = n.with_property("tags", PropertyValue::List(vec![]));
            n = n.with_property("empty", "");
            n = n.with_property("neg0", -0.0);
            n = n.with_property("big", 1e300);
        }
        if !csv_safe && i == 6 {
            n = n
                .with_property("nothing", PropertyValue::Null)
                .with_property("raw", PropertyValue::Bytes(vec![0, 255, 7]))
                .with_property("nan", f64::from_bits(0x7ff8_0000_0000_0123))
                .with_property(
                    "nested",
                    PropertyValue::List(vec![PropertyValue::List(vec![1i64.into()]), "x".into()]),
                );
        }
        ids.push(tx.add_node(n).unwrap());
    }
    for i in 0..39 {
        let e = Edge::new(
            ids[i],
            ids[(i * 7 + 3) % 40],
            if i % 2 == 0 { "KNOWS" } else { "IN" },
        )
        .with_property("w", i as i64);
        tx.add_edge(e).unwrap();
    }
    tx.commit().unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    for i in [1usize, 9, 20] {
        tx.delete_node(ids[i]).unwrap();
    }
    tx.commit().unwrap();
    db.close().unwrap();
}

/// Nodes (labels, properties) in id order and edges (source position, target position,
/// type, properties): the content of a database independent of its ids.
fn content(path: &Path) -> (Vec<String>, Vec<String>) {
    content_of(&GraphDB::open(path, Config::default()).unwrap())
}

/// The nodes and edges of an open database, edges by their ends' positions.
fn content_of(db: &GraphDB) -> (Vec<String>, Vec<String>) {
    let ts = db.current_commit_ts();
    let nodes = db.scan_nodes(ts, |_| true).unwrap();
    let pos = |id: u64| nodes.iter().position(|n| n.id == id).unwrap();
    let n: Vec<String> = nodes
        .iter()
        .map(|n| format!("{:?} {:?}", n.labels, n.properties))
        .collect();
    let e: Vec<String> = db
        .scan_edges(ts)
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {:?}",
                pos(e.source),
                pos(e.target),
                e.edge_type,
                e.properties
            )
        })
        .collect();
    (n, e)
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[test]
fn csv_export_and_import_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| -> PathBuf { dir.path().join(n) };
    build(&d("a.db"), true);
    ok(&[
        "export",
        s(&d("a.db")),
        "--format",
        "csv",
        "--out",
        s(&d("ea")),
    ]);
    let nodes = d("ea").join("nodes.csv");
    let edges = d("ea").join("edges.csv");
    assert!(read(&d("ea"), "nodes.csv").starts_with(":ID,:LABEL,"));
    assert!(read(&d("ea"), "edges.csv").starts_with(":START_ID,:END_ID,:TYPE,w:long"));
    // The Kuzu script declares one column per CSV column, in the same order.
    let kuzu = read(&d("ea"), "kuzu.cypher");
    let node_header = read(&d("ea"), "nodes.csv")
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let node_decl = kuzu
        .lines()
        .find(|l| l.starts_with("CREATE NODE TABLE"))
        .unwrap();
    assert_eq!(
        node_decl.matches(',').count(),
        node_header.matches(',').count() + 1
    );
    assert!(node_decl.contains("`age` INT64") && node_decl.contains("`score` DOUBLE"));
    assert!(kuzu.contains("CREATE REL TABLE Edge(FROM Node TO Node, type STRING, `w` INT64);"));
    ok(&[
        "import",
        s(&d("b.db")),
        "--nodes",
        s(&nodes),
        "--edges",
        s(&edges),
        "-q",
    ]);
    assert_eq!(content(&d("a.db")), content(&d("b.db")));
    // A second generation is byte for byte the same files.
    ok(&[
        "export",
        s(&d("b.db")),
        "--format",
        "csv",
        "--out",
        s(&d("eb")),
    ]);
    ok(&[
        "import",
        s(&d("c.db")),
        "--nodes",
        s(&d("eb").join("nodes.csv")),
        "--edges",
        s(&d("eb").join("edges.csv")),
        "-q",
    ]);
    ok(&[
        "export",
        s(&d("c.db")),
        "--format",
        "csv",
        "--out",
        s(&d("ec")),
    ]);
    for f in ["nodes.csv", "edges.csv"] {
        assert_eq!(read(&d("eb"), f), read(&d("ec"), f), "{f}");
    }
    assert!(ok(&["check", s(&d("c.db"))]).contains("ok"));
}

#[test]
fn jsonl_round_trips_every_value_and_csv_refuses_what_it_cannot_say() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| -> PathBuf { dir.path().join(n) };
    build(&d("a.db"), false);
    ok(&["export", s(&d("a.db")), "--out", s(&d("a.jsonl"))]);
    ok(&["import", s(&d("b.db")), "--jsonl", s(&d("a.jsonl")), "-q"]);
    // One handle on b.db: closing a file and opening it again at once can find it still
    // locked while another test's child process is between fork and exec (the lock
    // belongs to the open file, which the child shares until exec closes its copy).
    let b = GraphDB::open(d("b.db"), Config::default()).unwrap();
    assert_eq!(content(&d("a.db")), content_of(&b));
    let six = b
        .scan_nodes(b.current_commit_ts(), |n| n.properties.contains_key("nan"))
        .unwrap();
    match six[0].properties["nan"] {
        PropertyValue::Float(f) => assert_eq!(f.to_bits(), 0x7ff8_0000_0000_0123),
        ref other => panic!("{other:?}"),
    }
    drop(b);
    ok(&["export", s(&d("b.db")), "--out", s(&d("b.jsonl"))]);
    ok(&["import", s(&d("c.db")), "--jsonl", s(&d("b.jsonl")), "-q"]);
    ok(&["export", s(&d("c.db")), "--out", s(&d("c.jsonl"))]);
    assert_eq!(read(dir.path(), "b.jsonl"), read(dir.path(), "c.jsonl"));

    let out = graphdb(&[
        "export",
        s(&d("a.db")),
        "--format",
        "csv",
        "--out",
        s(&d("x")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JSON lines"));
}

#[test]
fn malformed_import_names_file_and_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| -> PathBuf { dir.path().join(n) };
    build(&d("a.db"), true);
    ok(&["export", s(&d("a.db")), "--out", s(&d("before.jsonl"))]);
    let nodes = d("n.csv");
    std::fs::write(
        &nodes,
        ":ID,:LABEL,age:long\nx1,P,1\nx2,P,\"multi\nline\"\nx3,P,3\n",
    )
    .unwrap();
    let out = graphdb(&["import", s(&d("a.db")), "--nodes", s(&nodes), "-q"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("n.csv:3:") && err.contains("not an integer"),
        "{err}"
    );

    let cases: &[(&str, &str, &str)] = &[
        (":ID,name\na,1,2\n", "n.csv:2:", "fields"),
        (":ID,age:decimal\n", "n.csv:1:", "unknown type"),
        (":ID\na\na\n", "n.csv:3:", "twice"),
        ("name\n", "n.csv:1:", ":ID"),
        (":ID,x\n\"open,1\n", "n.csv:2:", "quoted"),
    ];
    for (text, place, why) in cases {
        std::fs::write(&nodes, text).unwrap();
        let out = graphdb(&["import", s(&d("a.db")), "--nodes", s(&nodes), "-q"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{text:?}: {err}");
        assert!(err.contains(place) && err.contains(why), "{text:?}: {err}");
    }
    // Good nodes, then an edge to an unknown id on line 3: nothing of either file stays.
    std::fs::write(&nodes, ":ID,:LABEL\np,P\nq,P\n").unwrap();
    let edges = d("e.csv");
    std::fs::write(&edges, ":START_ID,:END_ID,:TYPE\np,q,R\np,zz,R\n").unwrap();
    let out = graphdb(&[
        "import",
        s(&d("a.db")),
        "--nodes",
        s(&nodes),
        "--edges",
        s(&edges),
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("e.csv:3:"));
    let jl = d("bad.jsonl");
    std::fs::write(
        &jl,
        "{\"kind\":\"node\",\"id\":1}\n{\"kind\":\"node\",\"id\":2,\n",
    )
    .unwrap();
    let out = graphdb(&["import", s(&d("a.db")), "--jsonl", s(&jl), "-q"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.jsonl:2: not JSON"));

    // A failed import into a database that did not exist leaves no file behind.
    let out = graphdb(&["import", s(&d("new.db")), "--jsonl", s(&jl), "-q"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!d("new.db").exists() && !d("new.db-wal").exists());

    ok(&["export", s(&d("a.db")), "--out", s(&d("after.jsonl"))]);
    assert_eq!(
        read(dir.path(), "before.jsonl"),
        read(dir.path(), "after.jsonl")
    );
    assert!(ok(&["check", s(&d("a.db"))]).contains("ok"));
}

#[test]
fn commands_answer_and_exit_codes_say_what_went_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let db = s(&db);
    assert_eq!(
        graphdb(&["stats", db]).status.code(),
        Some(1),
        "no database yet"
    );
    ok(&["create", db]);
    assert_eq!(graphdb(&["create", db]).status.code(), Some(1));
    let nodes = dir.path().join("n.csv");
    let edges = dir.path().join("e.csv");
    std::fs::write(&nodes, ":ID,:LABEL,k:long\na,P,1\nb,P,2\nc,Q,1\n").unwrap();
    std::fs::write(&edges, ":START_ID,:END_ID,:TYPE\na,b,X\nb,c,Y\n").unwrap();
    ok(&[
        "import",
        db,
        "--nodes",
        s(&nodes),
        "--edges",
        s(&edges),
        "-q",
    ]);
    assert!(ok(&["stats", db]).contains("nodes 3"));
    assert!(ok(&["get", db, "node", "1"]).contains("\"k\":1"));
    assert!(ok(&["get", db, "edge", "2"]).contains("\"type\":\"Y\""));
    assert_eq!(ok(&["neighbors", db, "2"]), "2\t3\n1\t1\n");
    assert_eq!(ok(&["neighbors", db, "2", "--type", "X"]), "1\t1\n");
    assert_eq!(ok(&["bfs", db, "1"]), "1\t0\n2\t1\n3\t2\n");
    assert_eq!(ok(&["bfs", db, "1", "--depth", "1"]), "1\t0\n2\t1\n");
    assert_eq!(ok(&["path", db, "1", "3"]), "1 2 3\n");
    assert_eq!(ok(&["path", db, "3", "1"]), "no path\n");
    ok(&["index", "create", db, "--label", "P", "--property", "k"]);
    assert_eq!(ok(&["index", "list", db]), ":P(k)\n");
    assert_eq!(
        graphdb(&["index", "create", db, "--label", "P", "--property", "k"])
            .status
            .code(),
        Some(2)
    );
    ok(&["vacuum", db]);
    ok(&["checkpoint", db]);
    assert!(ok(&["check", db]).ends_with("ok\n"));
    assert_eq!(graphdb(&["get", db, "node", "99"]).status.code(), Some(1));
    assert_eq!(graphdb(&["bfs", db, "99"]).status.code(), Some(1));
    assert_eq!(graphdb(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(graphdb(&["bfs", db, "not-a-number"]).status.code(), Some(2));

    // A flipped byte in a records page: check lists it and exits with 5.
    let mut bytes = std::fs::read(dir.path().join("g.db")).unwrap();
    let page = graphdb_core::PAGE_SIZE;
    assert!(bytes.len() >= 4 * page);
    for p in 1..bytes.len() / page {
        bytes[p * page + 300] ^= 0x20;
    }
    std::fs::write(dir.path().join("g.db"), bytes).unwrap();
    let out = graphdb(&["check", db]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("checksum"));
}

/// A database on disk whose commits all live in the log (never checkpointed).
fn logged_db(dir: &Path, commits: i64) -> PathBuf {
    let path = dir.join("l.db");
    let mut db = GraphDB::create(
        &path,
        Config {
            checkpoint_after_frames: 1_000_000,
            sync_mode: SyncMode::Off,
            ..Config::default()
        },
    )
    .unwrap();
    let mut prev = None;
    for i in 0..commits {
        let mut tx = db.begin_write_txn().unwrap();
        let n = tx.add_node(Node::new().with_property("i", i)).unwrap();
        if let Some(p) = prev {
            tx.add_edge(Edge::new(p, n, "NEXT")).unwrap();
        }
        prev = Some(n);
        tx.commit().unwrap();
    }
    drop(db);
    path
}

#[test]
fn every_command_prints_the_recovery_report_and_check_fails_on_dropped_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = logged_db(dir.path(), 5);
    let out = graphdb(&["stats", s(&path)]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("recovery: replayed 5 transactions"), "{err}");
    // The salt of the first log record (the first commit), damaged: the four commits
    // after it are dropped and counted.
    let log = graphdb_core::wal_path(&path);
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[32 + 18] ^= 0x01;
    std::fs::write(&log, &bytes).unwrap();
    let strict = graphdb(&["check", "--strict", s(&path)]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("strict recovery"));
    assert_eq!(
        std::fs::read(&log).unwrap(),
        bytes,
        "strict changed the log"
    );
    let out = graphdb(&["check", s(&path)]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout} {stderr}");
    assert!(stderr.contains("4 committed transactions"), "{stderr}");
    assert!(!stdout.contains("\nok"), "{stdout}");
}

#[test]
fn check_of_an_empty_main_file_beside_a_log_never_says_ok() {
    let dir = tempfile::tempdir().unwrap();
    let path = logged_db(dir.path(), 4);
    let mut db = GraphDB::open(&path, Config::default()).unwrap();
    db.checkpoint().unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    tx.add_node(Node::new()).unwrap();
    tx.commit().unwrap();
    drop(db);
    std::fs::File::create(&path).unwrap();
    let out = graphdb(&["check", s(&path)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("l.db-wal"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn a_closed_stdout_ends_quietly_and_help_and_version_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = logged_db(dir.path(), 3000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_graphdb"))
        // Far more than a pipe buffer holds, so the writer meets the closed pipe.
        .args(["export", s(&path), "--format", "jsonl", "--out", "-"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 4];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for flag in ["--help", "--version"] {
        assert_eq!(graphdb(&[flag]).status.code(), Some(0));
    }
    let json = ok(&["get", s(&path), "node", "2"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["properties"]["i"], 1);
}
