//! The `metta-run` binary as a user runs it: clap's `--help` and `--version`, results on
//! stdout, failures and the summary on stderr, exit 0 / 1 / 2, and a closed stdout.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn metta_run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_metta-run"))
        .args(args)
        .output()
        .unwrap()
}

/// A scratch folder of this test process, removed by the caller.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cow-env-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, program: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, program).unwrap();
    path.display().to_string()
}

#[test]
fn help_and_version_are_answered_not_read_as_files() {
    let help = metta_run(&["--help"]);
    assert_eq!(help.status.code(), Some(0), "{}", text(&help.stderr));
    let usage = text(&help.stdout);
    assert!(usage.contains("Usage: metta-run"), "{usage}");
    assert!(usage.contains("--env"), "{usage}");

    let version = metta_run(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        text(&version.stdout).trim(),
        format!("metta-run {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["--no-such-flag", "x.metta"],
        &["--env", "nope", "x.metta"],
    ] {
        let out = metta_run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!text(&out.stderr).is_empty(), "{args:?}");
    }
}

#[test]
fn results_go_to_stdout_and_failures_to_stderr() {
    let dir = scratch("streams");
    let good = write(
        &dir,
        "good.metta",
        "(= (twice $x) (* 2 $x))\n!(twice 21)\n!(assertEqual (twice 2) 4)\n",
    );
    let out = metta_run(&[&good]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "[42]\n");
    assert!(text(&out.stderr).contains("1 passed, 0 failed"));

    let located = metta_run(&["--locations", &good]);
    assert_eq!(text(&located.stdout), format!("{good}:2: [42]\n"));

    let bad = write(&dir, "bad.metta", "!(assertEqual (+ 1 1) 3)\n!(+ 2 2)\n");
    let out = metta_run(&[&good, &bad]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "[42]\n[4]\n");
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("FAIL {bad}:1: ")), "{stderr}");
    assert!(stderr.contains("1 passed, 1 failed"), "{stderr}");

    // Every assert* form counts, an unknown one as a failure; an unknown name warns.
    let asserts = write(
        &dir,
        "asserts.metta",
        "!(assertEqualMsg 1 2 \"one is not two\")\n!(assertNoSuchThing 1)\n!(no-such-function 3)\n",
    );
    let out = metta_run(&[&asserts]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("0 passed, 2 failed"), "{stderr}");
    assert!(stderr.contains("warning: "), "{stderr}");
    assert!(stderr.contains("no-such-function"), "{stderr}");

    let missing = dir.join("missing.metta").display().to_string();
    let out = metta_run(&[&missing]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("missing.metta"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let dir = scratch("pipe");
    // Far more output than a pipe buffers, so the writes after the reader is gone fail.
    let program = "!(+ 1 1)\n".repeat(40_000);
    let file = write(&dir, "many.metta", &program);
    let mut child = Command::new(env!("CARGO_BIN_EXE_metta-run"))
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line's worth, then hang up, as `| head -1` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 4];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"[2]\n");
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
