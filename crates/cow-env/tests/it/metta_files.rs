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
    assert!(shown.contains("Expected: [a, a] Got: [a, b]"), "{shown}");
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

#[test]
fn every_assert_form_is_counted_and_unknown_heads_fail() {
    let text = "!(assertEqualMsg 1 2 \"one is not two\")\n!(assertEqual 1 1)\n!(assertSomethingNew 1 1)\n!(assertIncludes (superpose (1 2)) (3))\n";
    let (report, _) = run_source(Path::new("a.metta"), text, Environment::empty()).unwrap();
    assert_eq!(report.assertions, 4);
    let lines: Vec<usize> = report.failures.iter().map(|f| f.line).collect();
    assert_eq!(lines, vec![1, 3, 4]);
    assert!(report.failures[0].message.contains("one is not two"));
    assert!(report.failures[1]
        .message
        .contains("unknown assertion `assertSomethingNew`"));
}

#[test]
fn a_call_of_an_unknown_name_warns_once() {
    let text = "(= (known) 1)\n!(mystery 1)\n!(mystery 2)\n!(known)\n!(other)\n!(+ 1 2)\n";
    let (report, _) = run_source(Path::new("w.metta"), text, Environment::empty()).unwrap();
    let warned: Vec<usize> = report.warnings.iter().map(|(line, _)| *line).collect();
    assert_eq!(warned, vec![2, 5], "{:?}", report.warnings);
    assert!(report.warnings[0].1.contains("mystery"));
    assert!(report.passed());
}

#[test]
fn the_depth_limit_is_configurable_and_deep_recursion_fits_the_default() {
    use cow_env::{parse_atom, Interpreter, DEFAULT_MAX_DEPTH};
    let rule = parse_atom("(= (down $n) (if (== $n 0) 0 (+ 1 (down (- $n 1)))))").unwrap();
    let mut env = Environment::empty();
    env.add_atom(rule);
    let mut shallow = Interpreter::new(env.clone()).with_max_depth(500);
    let err = shallow
        .eval(&parse_atom("(down 1000)").unwrap())
        .unwrap_err();
    assert!(
        matches!(err, Error::DepthExceeded { limit: 500, .. }),
        "{err}"
    );
    const { assert!(DEFAULT_MAX_DEPTH >= 30_000) };
    // 20,000 levels on a test thread's 2 MiB stack: the recursion is not on it.
    let mut deep = Interpreter::new(env);
    let got = deep.eval(&parse_atom("(down 20000)").unwrap()).unwrap();
    assert_eq!(got, vec![cow_env::Atom::Int(20_000)]);
}

#[test]
fn malformed_special_forms_are_values_or_errors_never_panics() {
    use cow_env::{parse_atom, Interpreter};
    let forms = [
        "(index-atom (a) -1)",
        "(index-atom a 1)",
        "(get-state 5)",
        "(change-state! 1 2)",
        "(match 5 x y)",
        "(match (new-space) $x $x)",
        "(add-atom 7 x)",
        "(get-atoms nothing)",
        "(import! &self no-such-module-anywhere)",
        "(import! &self (a b))",
        "(bind! 1 2)",
        "(superpose 5)",
        "(let*)",
        "(let* (x) y)",
        "(case 1)",
        "(case 1 x)",
        "(switch)",
        "(sealed x y)",
        "(foldl-atom 1 2 3 4 5)",
        "(map-atom 1 $x $x)",
        "(assertEqual)",
        "(assert)",
        "(assertEqualMsg)",
        "(assertIncludes 1 2)",
        "(get-type)",
        "(get-type 1 2)",
        "(new-state)",
        "(chain 1 2 3)",
        "(unify)",
        "(eval)",
        "(eval ())",
        "(collapse)",
        "(if)",
        "(if True)",
        "(let $x)",
        "(cons-atom a b)",
        "(decons-atom ())",
        "(car-atom 1)",
        "(min-atom (a b))",
        "(parse \"(unclosed\")",
        "(format-args \"{} {}\" (1))",
        "(+ 1)",
        "(+ 1 2 3)",
        "(/ 5 0)",
        "(% 5 0)",
        "(help! 5)",
        "(get-doc 5 x)",
        "(pragma! type-check auto)",
        "(trace! 1)",
        "(nop 1 2 3)",
        "(if-decons-expr 1 2 3 4 5)",
        "(if-equal)",
        "(unique)",
        "(union 1)",
        "(State 1)",
        "()",
        "(())",
        "((()))",
    ];
    for text in forms {
        let mut interp = Interpreter::new(Environment::empty());
        let atom = parse_atom(text).unwrap();
        // Any value or typed error is fine; the point is that nothing panics.
        let _ = interp.eval(&atom);
    }
}

#[test]
fn recursion_through_nested_operands_ends_with_the_depth_error() {
    use cow_env::{parse_atom, Interpreter};
    let mut env = Environment::empty();
    env.add_atom(parse_atom("(= (deep $n) (foldl-atom (1) 0 $a $b (deep (+ $n 1))))").unwrap());
    let mut interp = Interpreter::new(env);
    let err = interp.eval(&parse_atom("(deep 0)").unwrap()).unwrap_err();
    assert!(matches!(err, Error::DepthExceeded { .. }), "{err}");
}
