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
