//! The corpus under `tests/corpus/<phase>/{success,failure}`, in the Dhall test
//! suite's layout: `nameA.lig` with the expected `nameB.json` for successes,
//! `name.lig` with the expected error text (a substring) in `name.err` for failures.
//! Every file runs on the sequential and the parallel engine, which must agree.

use std::path::{Path, PathBuf};

use crate::{parallel, sequential};
use config_eval::Strategy;

fn dir(phase: &str, kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(phase)
        .join(kind)
}

fn lig_files(d: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "lig"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no corpus files in {}", d.display());
    v
}

#[derive(Clone, Copy)]
enum Phase {
    Parse,
    Typecheck,
    Eval,
}

fn run(
    phase: Phase,
    src: &str,
    strategy: Strategy,
) -> Result<Option<serde_json::Value>, config_eval::Error> {
    let engine = match strategy {
        Strategy::Sequential => sequential(),
        Strategy::Parallel => parallel(3),
    };
    let p = engine.load_files(&[("main.lig", src)], "main.lig")?;
    match phase {
        Phase::Parse => Ok(None),
        Phase::Typecheck => engine.typecheck_with(&p, strategy).map(|_| None),
        Phase::Eval => Ok(Some(engine.eval_with(&p, strategy)?.to_json()?)),
    }
}

fn check_phase(name: &str, phase: Phase) {
    let mut count = 0;
    for path in lig_files(&dir(name, "success")) {
        let src = std::fs::read_to_string(&path).unwrap();
        let seq = run(phase, &src, Strategy::Sequential);
        let par = run(phase, &src, Strategy::Parallel);
        assert_eq!(seq, par, "{}: engines disagree", path.display());
        let got = seq.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Phase::Eval = phase {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            let expected_path =
                path.with_file_name(format!("{}B.json", stem.trim_end_matches('A')));
            let expected: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
            assert_eq!(got, Some(expected), "{}", path.display());
        }
        count += 1;
    }
    for path in lig_files(&dir(name, "failure")) {
        let src = std::fs::read_to_string(&path).unwrap();
        let expected = std::fs::read_to_string(path.with_extension("err")).unwrap();
        let seq = run(phase, &src, Strategy::Sequential);
        let par = run(phase, &src, Strategy::Parallel);
        assert_eq!(seq, par, "{}: engines disagree", path.display());
        let err = seq
            .expect_err(&format!("{} should fail", path.display()))
            .to_string();
        assert!(
            err.contains(expected.trim()),
            "{}: error `{err}` does not contain `{}`",
            path.display(),
            expected.trim()
        );
        count += 1;
    }
    assert!(count > 0);
}

#[test]
fn parse_corpus() {
    check_phase("parse", Phase::Parse);
}

#[test]
fn typecheck_corpus() {
    check_phase("typecheck", Phase::Typecheck);
}

#[test]
fn eval_corpus() {
    check_phase("eval", Phase::Eval);
}
