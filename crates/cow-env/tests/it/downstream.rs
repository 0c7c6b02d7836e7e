//! cow-env as a dependency of a fresh crate outside this workspace: with default
//! features it must build with no extra flags (the workspace's `.cargo/config.toml` does
//! not reach a user's build), and must not pull in `pathmap` or its `gxhash` hasher,
//! which need `-C target-feature=+aes,+sse2` on x86_64.
//!
//! The crate is written to a temporary folder, resolved offline against the workspace's
//! lock file, and built into `target/downstream` so that later runs reuse the build.

use std::path::{Path, PathBuf};
use std::process::Command;

const MAIN: &str = r#"
use cow_env::{parse_atom, AtomSpace, Environment, Interpreter, RuleEnvironment};

fn main() {
    let mut env = Environment::empty();
    for line in [
        "(= (fib 0) 0)",
        "(= (fib 1) 1)",
        "(= (fib $n) (if (> $n 1) (+ (fib (- $n 1)) (fib (- $n 2))) (empty)))",
    ] {
        env.add_atom(parse_atom(line).expect("a rule"));
    }
    let mut fork = env.clone();
    fork.update_pathmap(&AtomSpace::from_atoms([parse_atom("(colour sky blue)").expect("a fact")]));
    let merged = env.union(&fork);
    let mut interp = Interpreter::new(merged);
    let results = interp.eval(&parse_atom("(fib 10)").expect("a query")).expect("evaluates");
    println!("fib 10 = {}", results[0]);
}
"#;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `cargo` with none of the flags this process may have inherited.
fn cargo(dir: &Path) -> Command {
    let mut command = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    command
        .current_dir(dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS")
        .env(
            "CARGO_TARGET_DIR",
            workspace_root().join("target/downstream"),
        );
    command
}

#[test]
fn a_fresh_crate_builds_and_runs_with_default_features_and_no_flags() {
    let dir = std::env::temp_dir().join(format!("cow-env-downstream-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let crate_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .canonicalize()
        .unwrap();
    // Its own `[workspace]` table keeps a parent folder's workspace from adopting it.
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"cow-env-downstream\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\ncow-env = {{ path = {:?} }}\n\n[workspace]\n",
            crate_path.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
    // The workspace's lock file pins the versions this workspace already has, so the
    // build resolves offline.
    std::fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    let tree = cargo(&dir)
        .args(["tree", "--offline", "--edges", "normal", "--prefix", "none"])
        .output()
        .unwrap();
    let tree_text = String::from_utf8_lossy(&tree.stdout);
    assert!(
        tree.status.success(),
        "cargo tree failed:\n{}",
        String::from_utf8_lossy(&tree.stderr)
    );
    assert!(tree_text.contains("cow-env"), "{tree_text}");
    for unwanted in ["pathmap", "gxhash"] {
        assert!(
            !tree_text.lines().any(|l| l.starts_with(unwanted)),
            "default features pull in {unwanted}:\n{tree_text}"
        );
    }

    let run = cargo(&dir)
        .args(["run", "--quiet", "--offline"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the downstream crate did not build or run:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(stdout.trim(), "fib 10 = 55");
    std::fs::remove_dir_all(&dir).unwrap();
}
