//! The `code-graph` binary: formats, output file, and a clear error for a bad path.

use std::process::Command;

use crate::crate_dir;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_code-graph"))
}

#[test]
fn writes_json_dot_and_summary() {
    let dir = crate_dir("cli", &[("src/lib.rs", "pub fn a() { b() }\nfn b() {}\n")]);
    let out = dir.path().join("graph.json");
    let status = bin()
        .arg(dir.path())
        .args(["--format", "json", "--threads", "2", "--output"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 2);
    assert_eq!(json["metrics"]["calls_resolved"], 1);

    let dot = bin()
        .arg(dir.path())
        .args(["--format", "dot"])
        .output()
        .unwrap();
    assert!(String::from_utf8(dot.stdout)
        .unwrap()
        .starts_with("digraph code_graph {"));

    let summary = bin().arg(dir.path()).arg("--sequential").output().unwrap();
    let text = String::from_utf8(summary.stdout).unwrap();
    assert!(text.contains("1 crate(s)"), "{text}");
}

#[test]
fn bad_path_is_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let out = bin().arg(empty.path()).output().unwrap();
    // A build that cannot be done is a failure of the work (1), not a usage error (2).
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no Cargo.toml"), "{err}");
}

#[test]
fn node_link_compact_and_filters() {
    let dir = crate_dir(
        "cli",
        &[(
            "src/lib.rs",
            "pub struct S;\nimpl S { pub fn m(&self) { b() } }\npub fn a() { b() }\nfn b() {}\nmod inner { pub fn c() { super::a() } }\n",
        )],
    );
    let run = |extra: &[&str]| {
        let out = bin().arg(dir.path()).args(extra).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // Node-link: `networkx.node_link_graph(data)` with default arguments reads
    // `directed`, `multigraph`, `nodes` with `id`, and `edges` with `source`/`target`.
    let nl: serde_json::Value = serde_json::from_str(&run(&["--format", "node-link"])).unwrap();
    assert_eq!(nl["directed"], true);
    assert_eq!(nl["multigraph"], true);
    let ids: Vec<&str> = nl["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    let edges = nl["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    for e in edges {
        assert!(ids.contains(&e["source"].as_str().unwrap()));
        assert!(ids.contains(&e["target"].as_str().unwrap()));
        assert_eq!(e["key"], e["kind"]);
    }
    // Compact: the same counts, strings once.
    let full: serde_json::Value = serde_json::from_str(&run(&["--format", "json"])).unwrap();
    let compact_text = run(&["--format", "compact"]);
    let compact: serde_json::Value = serde_json::from_str(&compact_text).unwrap();
    assert_eq!(
        compact["nodes"].as_array().unwrap().len(),
        full["nodes"].as_array().unwrap().len()
    );
    assert_eq!(
        compact["edges"].as_array().unwrap().len(),
        full["edges"].as_array().unwrap().len()
    );
    let strings: Vec<&str> = compact["strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let mut unique = strings.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), strings.len());
    // Filters: functions only; a focus with its neighbours in DOT.
    let f: serde_json::Value =
        serde_json::from_str(&run(&["--format", "json", "--kind", "function"])).unwrap();
    let kinds: Vec<&str> = f["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["function", "function", "function"]);
    let dot = run(&["--format", "dot", "--focus", "cli::b", "--depth", "1"]);
    for name in ["\\na\"", "\\nb\"", "\\nm\""] {
        assert!(dot.contains(name), "{name} missing from {dot}");
    }
    assert!(!dot.contains("\\nc\""), "{dot}");
    // An unknown kind is a usage error.
    let out = bin()
        .arg(dir.path())
        .args(["--kind", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn closed_stdout_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let mut src = String::new();
    for i in 0..3000 {
        src.push_str(&format!("pub fn f{i}() {{}}\n"));
    }
    let dir = crate_dir("pipe", &[("src/lib.rs", &src)]);
    let mut child = bin()
        .arg(dir.path())
        .args(["--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte, then close the pipe while the tool is still writing.
    let mut stdout = child.stdout.take().unwrap();
    let mut one = [0u8; 1];
    stdout.read_exact(&mut one).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("panicked"), "{err}");
}
