//! Cycles: every member and every key that reads one reports the cycle, the same cycle
//! wherever evaluation entered it, and once the cycle is gone every such key equals its
//! from-scratch value.

use std::path::Path;

use dep_tracker::{Engine, Error};

use crate::modules::lang;

fn cycle(names: &[&str]) -> Error {
    Error::Cycle {
        cycle: names.iter().map(|n| format!("{n:?}")).collect(),
    }
}

/// `a` reads `src` and, when `src == 1`, `b`; `b` reads `a` and adds one.
fn a_b_src(parallel: bool) -> Engine<&'static str, i64> {
    let mut engine = Engine::<&'static str, i64>::new(|key, step| match *key {
        "a" => {
            let src = step.get(&"src")?;
            if src == 1 {
                step.get(&"b")
            } else {
                Ok(src)
            }
        }
        "b" => Ok(step.get(&"a")? + 1),
        "c" => Ok(step.get(&"b")? * 10),
        _ => Err(step.fail("not computed")),
    });
    engine.set_parallel(parallel);
    engine
}

#[test]
fn breaking_a_cycle_through_another_input_clears_the_error_of_every_member() {
    for parallel in [false, true] {
        for first in ["a", "b", "c"] {
            let mut engine = a_b_src(parallel);
            engine.set_input("src", 1);
            let expected = Err(cycle(&["a", "b", "a"]));
            // Whichever key is asked first, every member reports the same cycle, and a
            // key that reads a member reports it too.
            assert_eq!(engine.get(&first), expected, "entered at {first}");
            for key in ["a", "b", "c"] {
                assert_eq!(engine.get(&key), expected, "{key}, entered at {first}");
            }
            engine.set_input("src", 2);
            assert_eq!(engine.get(&first), fresh(2, first), "{first} after the fix");
            for key in ["a", "b", "c"] {
                assert_eq!(engine.get(&key), fresh(2, key), "{key} after the fix");
            }
            // And back: the cycle returns, then goes again.
            engine.set_input("src", 1);
            assert_eq!(engine.get(&"c"), expected);
            engine.set_input("src", 5);
            assert_eq!(engine.get(&"b"), Ok(6));
            assert_eq!(engine.get(&"c"), Ok(60));
        }
    }
}

fn fresh(src: i64, key: &'static str) -> Result<i64, Error> {
    let mut engine = a_b_src(false);
    engine.set_input("src", src);
    engine.get(&key)
}

#[test]
fn an_unchanged_input_keeps_the_cycle_and_runs_little() {
    let mut engine = a_b_src(false);
    engine.set_input("src", 1);
    engine.set_input("other", 0);
    assert_eq!(engine.get(&"c"), Err(cycle(&["a", "b", "a"])));
    let before = engine.executions();
    engine.set_input("other", 1);
    assert_eq!(engine.get(&"c"), Err(cycle(&["a", "b", "a"])));
    // The cycle is checked again (its memos depend on every input), but its unchanged
    // error stops there: `c` does not run again.
    assert!(
        engine.executions() - before <= 2,
        "{}",
        engine.executions() - before
    );
}

fn write(dir: &Path, module: &str, text: &str) {
    std::fs::write(dir.join(format!("{module}.mod")), text).unwrap();
}

fn fresh_module(
    dir: &Path,
    module: &str,
) -> Result<std::collections::BTreeMap<String, i64>, Error> {
    let mut engine = lang::engine();
    lang::load_dir(&mut engine, dir).unwrap();
    lang::exec(&engine, module)
}

#[test]
fn modules_example_main_stops_importing_report_and_the_cycle_errors_go() {
    for parallel in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        write(dir, "config", "# settings\nlet base = 10\nlet scale = 3\n");
        write(dir, "math", "import config\nlet double = config.base + config.base\nlet triple = double + config.base\n");
        write(
            dir,
            "report",
            "import math\nimport config\nlet total = math.triple + config.scale\n",
        );
        write(dir, "extra", "let unrelated = 42\n");
        write(
            dir,
            "main",
            "import report\nimport extra\nlet answer = report.total + extra.unrelated\n",
        );
        let mut engine = lang::engine();
        engine.set_parallel(parallel);
        lang::load_dir(&mut engine, dir).unwrap();
        assert_eq!(lang::exec(&engine, "main").unwrap()["answer"], 75);

        write(dir, "config", "import main\nlet base = 11\nlet scale = 3\n");
        lang::load_dir(&mut engine, dir).unwrap();
        let err = lang::exec(&engine, "main").unwrap_err();
        assert!(matches!(err, Error::Cycle { .. }), "{err}");
        for module in ["config", "math", "report", "main"] {
            assert_eq!(lang::exec(&engine, module), Err(err.clone()), "{module}");
        }

        write(dir, "main", "import extra\nlet answer = extra.unrelated\n");
        lang::load_dir(&mut engine, dir).unwrap();
        assert_eq!(lang::exec(&engine, "main").unwrap()["answer"], 42);
        for module in ["config", "math", "report", "main", "extra"] {
            let got = lang::exec(&engine, module);
            assert!(got.is_ok(), "{module}: {got:?}");
            assert_eq!(got, fresh_module(dir, module), "{module}");
        }
        assert_eq!(lang::exec(&engine, "report").unwrap()["total"], 36);
    }
}

#[test]
fn a_self_read_is_a_cycle_of_one_and_goes_when_the_read_does() {
    let mut engine = Engine::<&'static str, i64>::new(|key, step| match *key {
        "x" if step.get(&"flag")? == 1 => step.get(&"x"),
        "x" => Ok(7),
        "y" => step.get(&"x").or(Ok(-1)),
        _ => Err(step.fail("not computed")),
    });
    engine.set_parallel(false);
    engine.set_input("flag", 1);
    assert_eq!(engine.get(&"x"), Err(cycle(&["x", "x"])));
    // A reader that catches the error is not a member: its own value stands.
    assert_eq!(engine.get(&"y"), Ok(-1));
    engine.set_input("flag", 0);
    assert_eq!(engine.get(&"y"), Ok(7));
    assert_eq!(engine.get(&"x"), Ok(7));
}

#[test]
fn a_member_that_ignores_the_cycle_error_still_reports_the_cycle() {
    // `b` swallows the error it gets from `a`; being on the cycle, it reports it anyway,
    // so the values do not depend on which key was asked first.
    for first in ["a", "b"] {
        let mut engine = Engine::<&'static str, i64>::new(|key, step| match *key {
            "a" => Ok(step.get(&"b")? + 1),
            "b" => Ok(step.get(&"a").unwrap_or(0)),
            _ => Err(step.fail("not computed")),
        });
        engine.set_parallel(false);
        assert_eq!(engine.get(&first), Err(cycle(&["a", "b", "a"])), "{first}");
        let other = if first == "a" { "b" } else { "a" };
        assert_eq!(engine.get(&other), Err(cycle(&["a", "b", "a"])), "{other}");
    }
}
