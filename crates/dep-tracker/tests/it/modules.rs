//! The example's module language over real files in a temporary directory: the
//! incremental build always agrees with a fresh build of the same files.

use std::path::Path;

use dep_tracker::Error;

// The example's language, shared verbatim; the tests use only part of it.
#[allow(dead_code)]
#[path = "../../examples/modules/lang.rs"]
pub(crate) mod lang;

fn write(dir: &Path, module: &str, text: &str) {
    std::fs::write(dir.join(format!("{module}.mod")), text).unwrap();
}

fn fresh(dir: &Path, module: &str) -> Result<std::collections::BTreeMap<String, i64>, Error> {
    let mut engine = lang::engine();
    lang::load_dir(&mut engine, dir).unwrap();
    lang::exec(&engine, module)
}

#[test]
fn incremental_builds_over_files_match_fresh_builds_through_edits() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write(dir, "base", "let a = 1\nlet b = a + 2\n");
    write(dir, "mid", "import base\nlet c = base.b + 10\n");
    write(dir, "side", "let s = 5\n");
    write(
        dir,
        "top",
        "import mid\nimport side\nlet t = mid.c + side.s\n",
    );
    let mut engine = lang::engine();
    engine.set_parallel(false);
    lang::load_dir(&mut engine, dir).unwrap();
    assert_eq!(lang::exec(&engine, "top").unwrap()["t"], 18);
    let first = engine.executions();

    let edits: &[(&str, &str)] = &[
        ("base", "# only a comment\nlet a = 1\nlet b = a + 2\n"),
        ("base", "let a = 4\nlet b = a + 2\n"),
        ("side", "let s = oops +\n"),
        ("side", "let s = 6\n"),
        ("base", "import top\nlet a = top.t\nlet b = a\n"),
        ("base", "let a = 0\nlet b = 0\n"),
        ("mid", "import base\nlet c = nowhere.x\n"),
        ("mid", "import base\nlet c = base.b\n"),
    ];
    for (module, text) in edits {
        write(dir, module, text);
        lang::load_dir(&mut engine, dir).unwrap();
        assert_eq!(
            lang::exec(&engine, "top"),
            fresh(dir, "top"),
            "after editing {module}"
        );
    }
    // The comment edit re-ran Parse(base) only; later edits re-ran far less than a
    // from-scratch build each (13 steps).
    assert!(engine.executions() - first < 13 * edits.len() as u64);
}

#[test]
fn a_syntax_error_names_the_step_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "m", "let x = 1\nwhat is this\n");
    let err = fresh(dir.path(), "m").unwrap_err();
    assert_eq!(
        err,
        Error::StepFailed {
            step: "Parse(\"m\")".into(),
            message: "line 2: expected `import` or `let`".into()
        }
    );
}

#[test]
fn an_import_cycle_between_files_is_reported_by_module() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a", "import b\nlet x = b.y\n");
    write(dir.path(), "b", "import a\nlet y = a.x\n");
    let err = fresh(dir.path(), "a").unwrap_err();
    assert_eq!(
        err.to_string(),
        "dependency cycle: Exec(\"a\") -> Exec(\"b\") -> Exec(\"a\")"
    );
}
