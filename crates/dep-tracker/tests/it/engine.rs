//! The incremental engine: re-runs, early cutoff, failures, panics, cycles.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dep_tracker::{Engine, Error};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Text(&'static str),
    Len(&'static str),
    Total,
}

/// `Len(f)` is the length of `Text(f)`; `Total` sums `Len(a)` and `Len(b)`.
fn lengths(runs: Arc<AtomicUsize>) -> Engine<Key, i64> {
    let mut engine = Engine::<Key, i64>::new(move |key, step| {
        runs.fetch_add(1, Ordering::Relaxed);
        match key {
            Key::Len(f) => match step.get(&Key::Text(f))? {
                v if v < 0 => Err(step.fail("negative text")),
                v => Ok(v.to_string().len() as i64),
            },
            Key::Total => {
                let all = step.get_all(&[Key::Len("a"), Key::Len("b")]);
                all.into_iter().sum()
            }
            Key::Text(_) => Err(Error::UnknownInput {
                key: format!("{key:?}"),
            }),
        }
    });
    engine.set_parallel(false);
    engine.set_input(Key::Text("a"), 100);
    engine.set_input(Key::Text("b"), 7);
    engine
}

#[test]
fn only_steps_that_read_a_changed_input_run_again() {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut engine = lengths(Arc::clone(&runs));
    assert_eq!(engine.get(&Key::Total), Ok(4));
    assert_eq!(engine.executions(), 3);
    assert_eq!(engine.get(&Key::Total), Ok(4));
    assert_eq!(engine.executions(), 3, "nothing changed, nothing runs");
    assert!(engine.set_input(Key::Text("b"), 12));
    assert_eq!(engine.get(&Key::Total), Ok(5));
    assert_eq!(
        engine.executions(),
        5,
        "Len(b) and Total re-ran, Len(a) did not"
    );
    assert!(
        !engine.set_input(Key::Text("b"), 12),
        "same value: no new revision"
    );
    let mut hit = engine.invalidated_by(&[Key::Text("a")]);
    hit.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(hit, [Key::Len("a"), Key::Text("a"), Key::Total]);
}

#[test]
fn an_unchanged_result_stops_invalidation_early() {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut engine = lengths(Arc::clone(&runs));
    assert_eq!(engine.get(&Key::Total), Ok(4));
    // 100 -> 999: Len(a) re-runs and is still 3, so Total must not re-run.
    engine.set_input(Key::Text("a"), 999);
    assert_eq!(engine.get(&Key::Total), Ok(4));
    assert_eq!(engine.executions(), 4, "only Len(a) re-ran");
}

#[test]
fn a_failing_step_is_reported_and_recovers_when_its_input_is_fixed() {
    let mut engine = lengths(Arc::new(AtomicUsize::new(0)));
    engine.set_input(Key::Text("b"), -1);
    let err = engine.get(&Key::Total).unwrap_err();
    assert_eq!(
        err,
        Error::StepFailed {
            step: "Len(\"b\")".into(),
            message: "negative text".into()
        }
    );
    assert_eq!(
        engine.get(&Key::Len("a")),
        Ok(3),
        "the independent step is fine"
    );
    engine.set_input(Key::Text("b"), 5);
    assert_eq!(engine.get(&Key::Total), Ok(4));
}

#[test]
fn a_panicking_step_is_that_steps_failure_and_the_engine_stays_usable() {
    let mut engine = Engine::<Key, i64>::new(|key, step| match key {
        Key::Len(f) => {
            let v = step.get(&Key::Text(f))?;
            if v == 13 {
                panic!("unlucky input in {f}");
            }
            Ok(v * 2)
        }
        Key::Total => step
            .get_all(&[Key::Len("a"), Key::Len("b")])
            .into_iter()
            .sum(),
        Key::Text(_) => Err(step.fail("not an input")),
    });
    engine.set_input(Key::Text("a"), 1);
    engine.set_input(Key::Text("b"), 13);
    let expected = Error::StepPanicked {
        step: "Len(\"b\")".into(),
        message: "unlucky input in b".into(),
    };
    assert_eq!(engine.get(&Key::Total), Err(expected.clone()));
    assert_eq!(engine.get(&Key::Len("b")), Err(expected));
    assert_eq!(engine.get(&Key::Len("a")), Ok(2));
    engine.set_input(Key::Text("b"), 4);
    assert_eq!(engine.get(&Key::Total), Ok(10));
    assert_eq!(
        engine.get(&Key::Text("zzz")).unwrap_err().to_string(),
        "step Text(\"zzz\") failed: not an input"
    );
}

#[test]
fn a_dependency_cycle_is_an_error_naming_the_cycle_and_can_be_broken() {
    // Module m imports the module whose name is stored in input "m".
    let mut engine = Engine::<String, String>::new(|key, step| {
        let name = key
            .strip_prefix("exec:")
            .ok_or_else(|| step.fail("bad key"))?;
        let import = step.get(&format!("import:{name}"))?;
        if import.is_empty() {
            return Ok(name.to_owned());
        }
        Ok(format!("{name}+{}", step.get(&format!("exec:{import}"))?))
    });
    engine.set_input("import:a".into(), "b".into());
    engine.set_input("import:b".into(), "c".into());
    engine.set_input("import:c".into(), "a".into());
    let err = engine.get(&"exec:a".to_owned()).unwrap_err();
    assert_eq!(
        err,
        Error::Cycle {
            cycle: ["exec:a", "exec:b", "exec:c", "exec:a"]
                .iter()
                .map(|s| format!("{s:?}"))
                .collect()
        }
    );
    assert!(err
        .to_string()
        .starts_with("dependency cycle: \"exec:a\" -> \"exec:b\""));
    engine.set_input("import:c".into(), String::new());
    assert_eq!(engine.get(&"exec:a".to_owned()), Ok("a+b+c".into()));
    assert_eq!(engine.get(&"exec:c".to_owned()), Ok("c".into()));
}

#[test]
fn parallel_engine_computes_the_same_values_as_sequential() {
    let make = |parallel: bool| {
        let mut engine = Engine::<u32, u64>::new(|&k, step| {
            if k < 64 {
                return Err(step.fail("inputs are set, not computed"));
            }
            let deps: Vec<u32> = (1..=4).map(|d| k.saturating_sub(d * 7) % k).collect();
            let vals = step.get_all(&deps);
            vals.into_iter().try_fold(u64::from(k), |acc, v| {
                Ok(acc.wrapping_mul(31).wrapping_add(v?))
            })
        });
        engine.set_parallel(parallel);
        for i in 0..64 {
            engine.set_input(i, u64::from(i) * 3);
        }
        engine
    };
    let keys: Vec<u32> = (64..400).collect();
    let (mut seq, mut par) = (make(false), make(true));
    assert_eq!(seq.get_all(&keys), par.get_all(&keys));
    seq.set_input(5, 1);
    par.set_input(5, 1);
    assert_eq!(seq.get_all(&keys), par.get_all(&keys));
}

#[test]
fn the_recorded_graph_is_deterministic_and_points_from_reader_to_read() {
    let make = || {
        let engine = lengths(Arc::new(AtomicUsize::new(0)));
        engine.get(&Key::Total).unwrap();
        engine
    };
    let (a, b) = (make(), make());
    assert_eq!(a.graph().to_dot(), b.graph().to_dot());
    let graph = a.graph();
    let mut needs: Vec<_> = graph.dependencies_of(&Key::Total).cloned().collect();
    needs.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(needs, [Key::Len("a"), Key::Len("b")]);
    assert_eq!(
        graph.dependents_of(&Key::Text("a")).collect::<Vec<_>>(),
        [&Key::Len("a")]
    );
    assert_eq!(graph.topological_order().unwrap().last(), Some(&Key::Total));
}

#[test]
fn get_ref_reads_without_copying_records_the_read_and_returns_errors_by_value() {
    let mut engine = Engine::<&'static str, Arc<String>>::new(|key, step| match *key {
        "len" => {
            let text = step.get_ref(&"text")?;
            Ok(Arc::new(text.len().to_string()))
        }
        "same" => {
            let a = step.get_ref(&"text")?;
            let b = step.get_ref(&"text")?;
            Ok(Arc::new(Arc::ptr_eq(a, b).to_string()))
        }
        "broken" => {
            step.get_ref(&"missing")?;
            Ok(Arc::new("unreachable".to_owned()))
        }
        _ => Err(Error::UnknownInput {
            key: key.to_string(),
        }),
    });
    engine.set_input("text", Arc::new("hello".to_owned()));
    assert_eq!(
        engine.get(&"len").map(|v| v.to_string()),
        Ok("5".to_owned())
    );
    assert_eq!(
        engine.get(&"same").map(|v| v.to_string()),
        Ok("true".to_owned())
    );
    assert_eq!(
        engine.get(&"broken"),
        Err(Error::UnknownInput {
            key: "missing".to_owned()
        })
    );
    // The read was recorded: changing the input re-runs the reader.
    let before = engine.executions();
    engine.set_input("text", Arc::new("hello, world".to_owned()));
    assert_eq!(
        engine.get(&"len").map(|v| v.to_string()),
        Ok("12".to_owned())
    );
    assert_eq!(engine.executions(), before + 1);
    assert!(engine.graph().dependencies_of(&"len").any(|d| *d == "text"));
}
