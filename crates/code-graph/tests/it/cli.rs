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
    assert_eq!(json["schema_version"], 1);
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
