//! Short runs of the `graphdb-stress` harness (`cargo xtask stress --crate graphdb` runs
//! it for minutes): killed child processes and randomly damaged files.

use std::process::Command;

fn harness(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_graphdb-stress"))
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(out.status.success(), "{args:?}: {stdout}\n{stderr}");
    assert!(stderr.contains("seed"), "the seed is printed: {stderr}");
    stdout
}

#[test]
fn sigkilled_children_lose_no_acknowledged_commit() {
    let out = harness(&["crash", "--cycles", "6"]);
    assert!(
        out.contains("6 kills") && out.contains(" 0 lost or wrong"),
        "{out}"
    );
}

#[test]
fn damaged_files_give_a_clean_error_or_a_committed_state() {
    let out = harness(&["corrupt", "--cases", "60"]);
    assert!(
        out.contains("60 cases") && out.contains(" 0 wrong data"),
        "{out}"
    );
}

#[test]
fn a_bad_duration_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_graphdb-stress"))
        .args(["crash", "--duration", "5x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
