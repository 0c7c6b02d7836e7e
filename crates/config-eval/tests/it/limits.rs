//! Limits and hostile input: timeouts, steps, recursion, deep nesting, huge literals.
//! Every test is bounded to a few seconds.

use std::time::{Duration, Instant};

use config_eval::{Config, Engine, Error, Strategy};

const SLOW: &str =
    "let fib = \\n -> if n < 2 then n else fib (n - 1) + fib (n - 2);\nlet x = fib 64;\n";

fn engine(timeout_ms: u64, parallel: bool) -> Engine {
    Engine::new(Config {
        parallel,
        worker_threads: 2,
        parallel_threshold: 0,
        timeout: Some(Duration::from_millis(timeout_ms)),
        ..Config::default()
    })
    .unwrap()
}

#[test]
fn timeout_stops_a_non_terminating_program_and_says_where() {
    for parallel in [false, true] {
        let e = engine(200, parallel);
        let start = Instant::now();
        let err = e.eval_str(SLOW).unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timeout did not stop the work"
        );
        match &err {
            Error::EvaluationTimeout {
                after_ms,
                file,
                binding,
                line,
                ..
            } => {
                assert_eq!(*after_ms, 200);
                assert_eq!(file, "main.lig");
                assert_eq!(binding, "x");
                assert!(*line == 1 || *line == 2);
            }
            other => panic!("expected a timeout, got {other}"),
        }
        assert!(err.to_string().contains("timed out after 200 ms"));
    }
}

#[test]
fn timeout_cancels_every_parallel_worker() {
    let mut src =
        String::from("let fib = \\n -> if n < 2 then n else fib (n - 1) + fib (n - 2);\n");
    for i in 0..8 {
        src.push_str(&format!("let x{i} = fib {};\n", 60 + i));
    }
    let e = engine(150, true);
    let start = Instant::now();
    let err = e.eval_str(&src).unwrap_err();
    assert!(matches!(err, Error::EvaluationTimeout { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn step_limit_is_a_clear_error() {
    let e = Engine::new(Config {
        max_steps: 10_000,
        ..Config::default()
    })
    .unwrap();
    let err = e.eval_str(SLOW).unwrap_err();
    assert!(
        matches!(err, Error::StepLimit { limit: 10_000, .. }),
        "{err}"
    );
    assert!(err.is_limit());
}

#[test]
fn unbounded_recursion_hits_the_recursion_limit_not_the_stack() {
    let src = "let down = \\n -> 1 + down (n + 1);\nlet x = down 0;\n";
    for strategy in [Strategy::Sequential, Strategy::Parallel] {
        let e = engine(10_000, true);
        let p = e.load_files(&[("main.lig", src)], "main.lig").unwrap();
        let err = e.eval_with(&p, strategy).unwrap_err();
        assert!(
            matches!(err, Error::RecursionLimit { limit: 20_000, .. }),
            "{err}"
        );
    }
    let small = Engine::new(Config {
        max_depth: 50,
        ..Config::default()
    })
    .unwrap();
    assert!(matches!(
        small.eval_str(src),
        Err(Error::RecursionLimit { limit: 50, .. })
    ));
}

#[test]
fn deep_nesting_of_100000_levels_is_a_syntax_error() {
    let e = Engine::new(Config::default()).unwrap();
    let n = 100_000;
    let cases = [
        format!("let x = {}1{};", "(".repeat(n), ")".repeat(n)),
        format!("let x = {}1{};", "[".repeat(n), "]".repeat(n)),
        format!("let x = {}1{};", "{ a = ".repeat(n), " }".repeat(n)),
        format!("let x = {}true;", "!".repeat(n)),
        format!("let x = {}1;", "\\y -> ".repeat(n)),
        format!("let x = 1{};", " + 1".repeat(n)),
        format!("let x = f{};", " 1".repeat(n)),
        format!("let x = r{};", ".a".repeat(n)),
        format!("let x: {}Integer{} = 1;", "(".repeat(n), ")".repeat(n)),
    ];
    for src in cases {
        let err = e.eval_str(&src).unwrap_err();
        assert!(matches!(err, Error::Syntax { .. }), "{err}");
        assert!(err.to_string().contains("too deep"), "{err}");
    }
}

#[test]
fn huge_literals_are_clear_errors() {
    let e = Engine::new(Config::default()).unwrap();
    let digits = "9".repeat(100_000);
    let err = e.eval_str(&format!("let x = {digits};")).unwrap_err();
    assert!(err.to_string().contains("does not fit in 64 bits"), "{err}");
    let err = e.eval_str(&format!("let x = {digits}.5;")).unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    // A long string is fine.
    let long = "a".repeat(1_000_000);
    let v = e.eval_str(&format!("let x = \"{long}\";")).unwrap();
    assert_eq!(v.to_json().unwrap()["x"].as_str().unwrap().len(), 1_000_000);
}

#[test]
fn bad_configuration_is_rejected() {
    assert!(matches!(
        Engine::new(Config {
            max_depth: 0,
            ..Config::default()
        }),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Engine::new(Config {
            worker_threads: 100_000,
            ..Config::default()
        }),
        Err(Error::Config(_))
    ));
}

#[test]
fn workers_1_forces_the_sequential_path() {
    let e = Engine::new(Config {
        parallel: true,
        worker_threads: 1,
        parallel_threshold: 0,
        ..Config::default()
    })
    .unwrap();
    let p = e
        .load_files(&[("main.lig", "let a = 1;")], "main.lig")
        .unwrap();
    assert_eq!(e.strategy_for(&p), Strategy::Sequential);
    let e = Engine::new(Config {
        parallel: true,
        worker_threads: 2,
        parallel_threshold: 10,
        ..Config::default()
    })
    .unwrap();
    assert_eq!(
        e.strategy_for(&p),
        Strategy::Sequential,
        "below the threshold"
    );
    let big: String = (0..20).map(|i| format!("let a{i} = {i};\n")).collect();
    let p = e.load_files(&[("main.lig", &big)], "main.lig").unwrap();
    assert_eq!(e.strategy_for(&p), Strategy::Parallel);
    e.eval(&p).unwrap();
    assert_eq!(e.stats().parallel_runs, 1);
}

#[test]
fn parallel_mode_below_the_threshold_runs_only_the_sequential_path() {
    let parallel = Engine::new(Config {
        parallel: true,
        worker_threads: 2,
        cache_size: 0,
        ..Config::default()
    })
    .unwrap();
    let sequential = Engine::new(Config {
        parallel: false,
        worker_threads: 2,
        cache_size: 0,
        ..Config::default()
    })
    .unwrap();
    let src = "let a = 1;\nlet b = a + 1;\nlet c = [a, b];";
    let p = parallel
        .load_files(&[("main.lig", src)], "main.lig")
        .unwrap();
    assert_eq!(p.declaration_count(), 3);
    assert_eq!(parallel.eval(&p), sequential.eval(&p));
    parallel.typecheck(&p).unwrap();
    let s = parallel.stats();
    assert_eq!((s.sequential_runs, s.parallel_runs), (2, 0));
}

#[test]
fn deep_values_built_by_recursion_print_serialise_and_drop() {
    let e = Engine::new(Config::default()).unwrap();
    let mk = "type Nest = Leaf | Node(Nest);\nlet mk = \\n -> if n == 0 then Leaf else Node(mk (n - 1));\n";
    let v = e.eval_str(&format!("{mk}let x = mk 200;")).unwrap();
    assert_eq!(v.to_string().matches("Node(").count(), 200);
    assert!(v.to_json().is_ok());
    // Deeper than the printers go: a clear error and an elided text, and dropping the
    // value does not recurse.
    let v = e.eval_str(&format!("{mk}let x = mk 6000;")).unwrap();
    assert!(v.to_string().contains("..."));
    assert!(matches!(v.to_json(), Err(Error::Serialise { .. })));
    drop(v);
    let deeper = e.eval_str(&format!("{mk}let x = mk 100000;"));
    assert!(matches!(deeper, Err(Error::RecursionLimit { .. })));
}

/// `let f = \x -> { a = x, b = x };` applied `n` times: as a tree, the type of the
/// result has 2^n leaves.
fn doubling(n: usize) -> String {
    let mut call = "1".to_owned();
    for _ in 0..n {
        call = format!("f ({call})");
    }
    // Only `ok` is exported: the value of `r`, shared in memory, would print as
    // 2^60 leaves.
    format!(
        "let f = \\x -> {{ a = x, b = x }};\nlet r = {call};\nlet leaf = r.a.b.a.b;\nexport let ok = true;\n"
    )
}

#[test]
fn the_doubling_family_type_checks_at_60_applications_within_a_small_step_budget() {
    // A budget of 100,000 type-checking steps: an exponential checker stops with the
    // limit error (it would need about 2^60), a linear one needs a few thousand.
    for parallel in [false, true] {
        let e = Engine::new(Config {
            parallel,
            worker_threads: 2,
            parallel_threshold: 0,
            max_check_steps: 100_000,
            ..Config::default()
        })
        .unwrap();
        let p = e
            .load_files(&[("main.lig", &doubling(60))], "main.lig")
            .unwrap();
        e.typecheck(&p).unwrap();
        let steps = e.stats().last_check_steps;
        assert!(steps > 0 && steps < 100_000, "{steps}");
        let v = e.eval(&p).unwrap();
        assert_eq!(v.to_json().unwrap(), serde_json::json!({"ok": true}));
    }
    let e = Engine::new(Config {
        max_check_steps: 500,
        ..Config::default()
    })
    .unwrap();
    let err = e.eval_str(&doubling(60)).unwrap_err();
    assert_eq!(
        err,
        Error::CheckLimit {
            file: "main.lig".into(),
            limit: 500
        }
    );
    assert!(err
        .to_string()
        .contains("type checking exceeded its limit of 500 steps"));
}

#[test]
fn doubling_a_string_60_times_is_value_too_large_by_default() {
    let mut call = "s".to_owned();
    for _ in 0..60 {
        call = format!("d ({call})");
    }
    let src = format!("let s = \"ab\";\nlet d = \\x -> x ++ x;\nlet big = {call};\n");
    for parallel in [false, true] {
        let e = Engine::new(Config {
            parallel,
            parallel_threshold: 0,
            ..Config::default()
        })
        .unwrap();
        let err = e.eval_str(&src).unwrap_err();
        assert!(matches!(err, Error::ValueTooLarge { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("main.lig:2:") && msg.contains("value too large in `big`"),
            "{msg}"
        );
        assert!(msg.contains("a string of 33554432"), "{msg}");
    }
    // The same for lists.
    let src = format!(
        "let s = [1, 2];\nlet d = \\(x : List Integer) -> x ++ x;\nlet big = {};\n",
        call
    );
    let err = Engine::new(Config::default())
        .unwrap()
        .eval_str(&src)
        .unwrap_err();
    assert!(err.to_string().contains("a list of 33554432"), "{err}");
    // The limit is a setting.
    let small = Engine::new(Config {
        max_value_size: 8,
        ..Config::default()
    })
    .unwrap();
    let err = small
        .eval_str("let x = \"abcde\" ++ \"fghij\";")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("a string of 10 would exceed the limit of 8"),
        "{err}"
    );
}

#[test]
fn non_terminating_recursion_ends_with_the_default_limits() {
    let e = Engine::new(Config::default()).unwrap();
    for src in [
        "let loop = \\x -> loop x;\nlet y = loop 1;\n",
        "let loop = \\x -> 1 + loop (x + 1);\nlet y = loop 1;\n",
        "let loop = \\x -> if x > 0 then loop (x - 1) else loop (x + 1);\nlet y = loop 5;\n",
    ] {
        let err = e.eval_str(src).unwrap_err();
        assert!(
            matches!(err, Error::RecursionLimit { limit: 20_000, .. }),
            "{src}: {err}"
        );
        assert!(err.to_string().contains("while evaluating `y`"), "{err}");
    }
}

#[test]
fn a_record_of_100000_fields_checks_evaluates_and_rejects_a_duplicate() {
    let fields: Vec<String> = (0..100_000).map(|i| format!("f{i} = {i}")).collect();
    let src = format!(
        "let r = {{ {} }};\nlet last = r.f99999;\n",
        fields.join(", ")
    );
    let e = Engine::new(Config::default()).unwrap();
    let v = e.eval_str(&src).unwrap().to_json().unwrap();
    assert_eq!(v["last"], 99_999);
    assert_eq!(v["r"].as_object().unwrap().len(), 100_000);
    let dup = format!("let r = {{ {}, f0 = 1 }};\n", fields.join(", "));
    let err = e.eval_str(&dup).unwrap_err();
    assert!(
        err.to_string().contains("field `f0` appears twice"),
        "{err}"
    );
    // Record types too.
    let tys: Vec<String> = (0..100_000).map(|i| format!("f{i}: Integer")).collect();
    let src = format!(
        "type Big = {{ {}, f5: Integer }};\nlet x = 1;\n",
        tys.join(", ")
    );
    let err = e.eval_str(&src).unwrap_err();
    assert!(
        err.to_string().contains("field `f5` appears twice"),
        "{err}"
    );
}

#[test]
fn input_files_larger_than_the_limit_are_refused() {
    let e = Engine::new(Config {
        max_input_size: 64,
        ..Config::default()
    })
    .unwrap();
    let big = format!("let x = \"{}\";", "a".repeat(100));
    let err = e.load_files(&[("main.lig", &big)], "main.lig").unwrap_err();
    assert_eq!(
        err,
        Error::InputTooLarge {
            path: "main.lig".into(),
            size: big.len() as u64,
            limit: 64
        }
    );
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("lib.lig"), &big).unwrap();
    std::fs::write(tmp.path().join("main.lig"), "import lib;\nlet y = lib.x;").unwrap();
    let err = e.load(&tmp.path().join("main.lig")).unwrap_err();
    let want = format!(
        "lib.lig: input too large: {} bytes, the limit is 64",
        big.len()
    );
    assert!(err.to_string().contains(&want), "{err}");
}

#[test]
fn invalid_utf8_names_the_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("lib.lig"),
        b"let a = 1;\nlet b = \"x\xffy\";\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("main.lig"), "import lib;\nlet y = lib.a;").unwrap();
    let e = Engine::new(Config::default()).unwrap();
    let err = e.load(&tmp.path().join("main.lig")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lib.lig:2:11: syntax error: invalid UTF-8 (byte 0xff)"
    );
}

#[test]
fn the_default_configuration_has_every_limit_on() {
    let c = Config::default();
    assert_eq!(c.timeout, Some(Duration::from_secs(60)));
    assert!(c.max_steps < u64::MAX);
    assert!(c.max_depth <= 100_000);
    assert!(c.max_check_steps < u64::MAX);
    assert!(c.max_value_size < usize::MAX);
    assert!(c.max_input_size < u64::MAX);
}

#[test]
fn json_output_of_a_shared_value_is_bounded() {
    let mut call = "1".to_owned();
    for _ in 0..60 {
        call = format!("f ({call})");
    }
    let e = Engine::new(Config::default()).unwrap();
    let v = e
        .eval_str(&format!(
            "let f = \\x -> {{ a = x, b = x }};\nlet r = {call};"
        ))
        .unwrap();
    let err = v.to_json_within(10_000).unwrap_err();
    assert!(matches!(err, Error::Serialise { .. }), "{err}");
    assert!(err.to_string().contains("too many JSON values"), "{err}");
    // A value within the bound is written.
    let small = e.eval_str("let xs = [1, 2, 3];").unwrap();
    assert_eq!(
        small.to_json_within(5).unwrap(),
        serde_json::json!({"xs": [1, 2, 3]})
    );
    assert!(small.to_json_within(4).is_err());
}
