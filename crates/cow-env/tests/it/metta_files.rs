//! Every `.metta` file under `tests/metta` passes on every environment variant, and a
//! failing assertion is reported with its file and line.

use std::path::{Path, PathBuf};

use cow_env::{
    run_file, run_source, Environment, Error, MutexEnvironment, RuleEnvironment, RwLockEnvironment,
};

fn files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/metta");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "metta"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 4,
        "expected the shipped .metta files in {}",
        dir.display()
    );
    files
}

fn run_all<E: RuleEnvironment>() {
    for file in files() {
        let report = run_file::<E>(&file).unwrap();
        assert!(
            report.assertions > 0,
            "{} has no assertions",
            file.display()
        );
        let failures: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
        assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    }
}

#[test]
fn metta_files_pass_on_the_cow_environment() {
    run_all::<Environment>();
}

#[test]
fn metta_files_pass_on_the_mutex_environment() {
    run_all::<MutexEnvironment>();
}

#[test]
fn metta_files_pass_on_the_rwlock_environment() {
    run_all::<RwLockEnvironment>();
}

#[test]
fn failures_name_file_and_line_and_compare_as_multisets() {
    let text = "(= (c) a)\n(= (c) b)\n!(assertEqualToResult (c) (b a))\n\n!(assertEqualToResult (c) (a a))\n!(assertEqual (+ 1 1) 3)\n";
    let (report, _) = run_source(Path::new("demo.metta"), text, Environment::empty()).unwrap();
    assert_eq!(report.assertions, 3);
    let lines: Vec<usize> = report.failures.iter().map(|f| f.line).collect();
    assert_eq!(lines, vec![5, 6]);
    let shown = report.failures[0].to_string();
    assert!(shown.starts_with("demo.metta:5: "), "{shown}");
    assert!(shown.contains("expected [a, a] but got [a, b]"), "{shown}");
}

#[test]
fn runaway_recursion_is_a_reported_failure() {
    let text = "(= (loop $x) (loop (+ $x 1)))\n!(loop 0)\n!(assertEqual 1 1)\n";
    let (report, _) = run_source(Path::new("loop.metta"), text, Environment::empty()).unwrap();
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].line, 2);
    assert!(
        report.failures[0].message.contains("depth limit"),
        "{}",
        report.failures[0].message
    );
}

#[test]
fn parse_errors_and_missing_files_are_errors_with_location() {
    let err = run_source(Path::new("bad.metta"), "(a)\n(b", Environment::empty()).unwrap_err();
    match err {
        Error::InFile { path, line, .. } => {
            assert_eq!(path, Path::new("bad.metta"));
            assert_eq!(line, 2);
        }
        other => panic!("unexpected {other:?}"),
    }
    let missing = run_file::<Environment>(Path::new("/nonexistent/x.metta")).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }));
}

#[test]
fn plain_bang_forms_record_their_results() {
    let (report, _) = run_source(
        Path::new("o.metta"),
        "(= (f) 1)\n(= (f) 2)\n!(f)",
        Environment::empty(),
    )
    .unwrap();
    assert_eq!(report.outputs.len(), 1);
    assert_eq!(report.outputs[0].0, 3);
    assert_eq!(report.outputs[0].1.len(), 2);
}

#[cfg(feature = "cli")]
#[test]
fn the_binary_reports_failures_with_file_and_line_and_exits_nonzero() {
    let dir = std::env::temp_dir().join(format!("cow-env-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.metta");
    std::fs::write(
        &bad,
        "(= (two) 2)\n!(assertEqual (two) 2)\n!(assertEqual (two) 3)\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_metta-run"))
        .arg("--env")
        .arg("rwlock")
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("FAIL {}:3: ", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("1 passed, 1 failed"), "{stderr}");

    let good = files().into_iter().next().unwrap();
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_metta-run"))
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let usage = std::process::Command::new(env!("CARGO_BIN_EXE_metta-run"))
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}
