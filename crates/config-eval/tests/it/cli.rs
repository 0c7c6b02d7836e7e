//! The `config-eval` binary: outputs, flags and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_config-eval"))
        .args(args)
        .output()
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn eval_prints_json_and_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "lib.lig", "export let port = 8080;");
    let main = write(
        tmp.path(),
        "main.lig",
        "import lib;\nlet server = { port = lib.port, host = \"h\" };",
    );
    for extra in [
        &[][..],
        &["--parallel", "--workers", "2"][..],
        &["--workers", "1"][..],
    ] {
        let mut args = vec!["eval", main.as_str()];
        args.extend_from_slice(extra);
        let out = cli(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"server": {"host": "h", "port": 8080}})
        );
    }
}

#[test]
fn text_format_and_stats() {
    let tmp = tempfile::tempdir().unwrap();
    let main = write(tmp.path(), "main.lig", "let xs = [1, 2];\nlet s = \"a\";");
    let out = cli(&[
        "eval",
        &main,
        "--format",
        "text",
        "--stats",
        "--timeout",
        "30s",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "{ s = \"a\", xs = [1, 2] }"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("strategy sequential") && err.contains("cache:"),
        "{err}"
    );
}

#[test]
fn typecheck_reports_ok_or_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let good = write(tmp.path(), "good.lig", "let a = 1;");
    let out = cli(&["typecheck", &good, "--format", "text"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: 1 module(s), 1 declaration(s)"));
    let bad = write(tmp.path(), "bad.lig", "let a = 1 + true;");
    let out = cli(&["typecheck", &bad, "--parallel"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.lig:1:13: type error: type mismatch"),
        "{err}"
    );
}

#[test]
fn user_errors_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("syntax.lig", "let = 1;", "syntax error"),
        ("eval.lig", "let a = 1 / 0;", "division by zero"),
        ("import.lig", "import nowhere;", "not found"),
        (
            "slow.lig",
            "let f = \\n -> if n < 2 then n else f (n - 1) + f (n - 2);\nlet x = f 80;",
            "timed out after 100 ms",
        ),
    ];
    for (name, text, want) in cases {
        let p = write(tmp.path(), name, text);
        let out = cli(&["eval", &p, "--timeout", "100ms"]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{name}: {err}");
    }
    let out = cli(&[
        "eval",
        &tmp.path().join("missing.lig").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["eval"][..],
        &["frobnicate", "x.lig"][..],
        &["eval", "x.lig", "--workers", "many"][..],
        &["eval", "x.lig", "--timeout", "soon"][..],
        &["eval", "x.lig", "--format", "yaml"][..],
    ] {
        let out = cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn help_and_version_exit_0_on_stdout() {
    for args in [&["--help"][..], &["--version"][..], &["eval", "--help"][..]] {
        let out = cli(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    let help = String::from_utf8_lossy(&cli(&["eval", "--help"]).stdout).to_string();
    for flag in [
        "--timeout",
        "--max-steps",
        "--max-depth",
        "--max-value-size",
        "--max-input-size",
        "--max-check-steps",
        "--parallel-threshold",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn a_closed_stdout_ends_quietly_with_exit_0() {
    use std::io::Read;
    use std::process::Stdio;
    let tmp = tempfile::tempdir().unwrap();
    let items: Vec<String> = (0..200_000).map(|i| i.to_string()).collect();
    let main = write(
        tmp.path(),
        "main.lig",
        &format!("let xs = [{}];", items.join(", ")),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_config-eval"))
        .args(["eval", &main])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe, as `| head -1` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn limits_have_flags_and_errors_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let concat = write(
        tmp.path(),
        "concat.lig",
        "let d = \\s -> s ++ s;\nlet x = d (d (d (d \"abcd\")));",
    );
    let out = cli(&["eval", &concat, "--max-value-size", "32"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("concat.lig:1:17: value too large in `x`"),
        "{err}"
    );
    assert_eq!(cli(&["eval", &concat]).status.code(), Some(0));

    let rec = write(tmp.path(), "rec.lig", "let f = \\x -> f x;\nlet y = f 1;");
    let out = cli(&["eval", &rec]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rec.lig:1:15: recursion limit of 20000"),
        "{err}"
    );
    let out = cli(&["eval", &rec, "--max-depth", "50"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("recursion limit of 50"));

    let steps = write(
        tmp.path(),
        "steps.lig",
        "let f = \\n -> if n == 0 then 0 else f (n - 1);\nlet y = f 5000;",
    );
    let out = cli(&["eval", &steps, "--max-steps", "1000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("step limit of 1000 exceeded"));

    let out = cli(&["eval", &steps, "--max-input-size", "10"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("steps.lig: input too large"));

    let out = cli(&["typecheck", &steps, "--max-check-steps", "5"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("steps.lig: type checking exceeded its limit of 5 steps"),
        "{err}"
    );

    let bad = tmp.path().join("bad.lig");
    std::fs::write(&bad, b"let a = \"\xc3\x28\";").unwrap();
    let out = cli(&["eval", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.lig:1:10: syntax error: invalid UTF-8"),
        "{err}"
    );

    // Settings out of range are usage errors.
    for args in [
        &["eval", &steps, "--max-depth", "0"][..],
        &["eval", &steps, "--timeout", "0s"][..],
    ] {
        assert_eq!(cli(args).status.code(), Some(2), "{args:?}");
    }
    // `--timeout none` turns the timeout off.
    assert_eq!(
        cli(&["eval", &steps, "--timeout", "none"]).status.code(),
        Some(0)
    );
}

#[test]
fn parallel_threshold_lets_small_files_take_the_parallel_path() {
    let tmp = tempfile::tempdir().unwrap();
    let main = write(tmp.path(), "main.lig", "let a = 1;\nlet b = a + 1;");
    let run = |threshold: &str| {
        let out = cli(&[
            "eval",
            &main,
            "--parallel",
            "--workers",
            "2",
            "--parallel-threshold",
            threshold,
            "--stats",
        ]);
        assert_eq!(out.status.code(), Some(0));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json, serde_json::json!({"a": 1, "b": 2}));
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(run("0").contains("strategy parallel"));
    assert!(run("64").contains("strategy sequential"));
}

#[test]
fn typecheck_json_output_is_json() {
    let tmp = tempfile::tempdir().unwrap();
    let main = write(tmp.path(), "main.lig", "let a = 1;");
    let out = cli(&["typecheck", &main]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"ok": true, "modules": 1, "declarations": 1})
    );
}

#[test]
fn a_result_whose_output_would_be_exponential_is_an_error_not_a_hang() {
    // `r` is 61 records in memory (each level holds the one below twice) and 2^60
    // leaves as JSON or text.
    let tmp = tempfile::tempdir().unwrap();
    let mut call = "1".to_owned();
    for _ in 0..60 {
        call = format!("f ({call})");
    }
    let main = write(
        tmp.path(),
        "main.lig",
        &format!("let f = \\x -> {{ a = x, b = x }};\nlet r = {call};"),
    );
    for format in ["json", "text"] {
        let out = cli(&[
            "eval",
            &main,
            "--format",
            format,
            "--max-value-size",
            "10000",
        ]);
        assert_eq!(out.status.code(), Some(1), "{format}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("main.lig: cannot serialise the result"),
            "{format}: {err}"
        );
    }
}
