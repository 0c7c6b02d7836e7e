//! `cargo xtask`: the workspace's automation, with no dependencies beyond std.
//!
//! - `bench`: builds and runs the `benches` crate's `bench` program, which measures every
//!   crate and writes `target/bench-report/{results.jsonl,report.md,*.svg}`.
//! - `stress`: runs the `stress` program: long concurrent runs with integrity checks.
//! - `features`: tests every crate with each of its migration features on and off, and
//!   runs loom models where a crate has them.
//! - `package`: packages each library crate and builds and runs its README example in a
//!   fresh crate outside the workspace (see `package.rs`).

mod package;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod graphdb_stress;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  bench      run every crate's benchmarks and write target/bench-report/
             --quick | --smoke | --full (default --full)
             --threads 1,2,10   thread counts (default 1,2,10,20,50; smoke 1,2)
             --crate NAME       only this crate (repeatable)
             --compare OLD.jsonl  regression table against an earlier run
             --out DIR          report folder (default target/bench-report)
  stress     long concurrent runs with integrity checks and a deadlock watchdog
             --duration 60s     total time, split over the crates (s, m, h)
             --threads N        worker threads (default 8)
             --crate NAME       only this crate (repeatable)
             --seed N           replay a run
             --mode crash|corrupt|all  graphdb's kill and file-damage harness
  features   test each crate with each migration feature on and off, and run loom models
             --crate NAME       only this crate (repeatable)
  package    cargo package each library crate, then build and run its README example
             in a fresh crate outside the workspace
             --crate NAME       only this crate (repeatable)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(XtaskError::Usage(message)) => {
            eprintln!("error: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(XtaskError::Failed(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, PartialEq)]
enum XtaskError {
    /// The command line is wrong: print the usage.
    Usage(String),
    /// A step ran and failed.
    Failed(String),
}

fn run(args: &[String]) -> Result<(), XtaskError> {
    let Some((command, rest)) = args.split_first() else {
        return Err(XtaskError::Usage("no command given".into()));
    };
    match command.as_str() {
        "bench" => bench(&parse_bench(rest)?),
        "stress" => stress(&parse_stress(rest)?),
        "features" => features(&parse_features(rest)?),
        "package" => package::package(&package::parse_package(rest)?),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(XtaskError::Usage(format!("unknown command `{other}`"))),
    }
}

#[derive(Debug, PartialEq, Default)]
struct BenchArgs {
    mode: String,
    threads: Option<String>,
    crates: Vec<String>,
    compare: Option<String>,
    out: Option<String>,
}

#[derive(Debug, PartialEq, Default)]
struct StressArgs {
    duration: String,
    threads: Option<String>,
    crates: Vec<String>,
    seed: Option<String>,
    /// The graphdb crash/corruption harness instead of the concurrent stress program.
    mode: Option<String>,
}

#[derive(Debug, PartialEq, Default)]
struct FeaturesArgs {
    crates: Vec<String>,
}

/// Walks `--flag value` pairs, handing each to `take`, which returns whether it knew
/// the flag.
fn parse_flags(
    args: &[String],
    mut take: impl FnMut(
        &str,
        &mut dyn FnMut() -> Result<String, XtaskError>,
    ) -> Result<bool, XtaskError>,
) -> Result<(), XtaskError> {
    let mut index = 0;
    while index < args.len() {
        let flag = args[index].clone();
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (flag.clone(), None),
        };
        let mut consumed_next = false;
        let mut value = || -> Result<String, XtaskError> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            match args.get(index + 1) {
                Some(v) if !v.starts_with("--") => {
                    consumed_next = true;
                    Ok(v.clone())
                }
                _ => Err(XtaskError::Usage(format!("{name} needs a value"))),
            }
        };
        if !take(&name, &mut value)? {
            return Err(XtaskError::Usage(format!("unknown option `{flag}`")));
        }
        index += if consumed_next { 2 } else { 1 };
    }
    Ok(())
}

fn parse_bench(args: &[String]) -> Result<BenchArgs, XtaskError> {
    let mut out = BenchArgs {
        mode: "full".into(),
        ..BenchArgs::default()
    };
    parse_flags(args, |flag, value| {
        match flag {
            "--quick" => out.mode = "quick".into(),
            "--smoke" => out.mode = "smoke".into(),
            "--full" => out.mode = "full".into(),
            "--threads" => out.threads = Some(check_threads(&value()?)?),
            "--crate" => out.crates.push(value()?),
            "--compare" => out.compare = Some(value()?),
            "--out" => out.out = Some(value()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(out)
}

fn parse_stress(args: &[String]) -> Result<StressArgs, XtaskError> {
    let mut out = StressArgs {
        duration: "60s".into(),
        ..StressArgs::default()
    };
    parse_flags(args, |flag, value| {
        match flag {
            "--duration" => out.duration = value()?,
            "--threads" => out.threads = Some(check_threads(&value()?)?),
            "--crate" => out.crates.push(value()?),
            "--seed" => out.seed = Some(value()?),
            "--mode" => out.mode = Some(value()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(out)
}

fn parse_features(args: &[String]) -> Result<FeaturesArgs, XtaskError> {
    let mut out = FeaturesArgs::default();
    parse_flags(args, |flag, value| {
        match flag {
            "--crate" => out.crates.push(value()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(out)
}

/// Validates a comma-separated list of positive thread counts.
fn check_threads(list: &str) -> Result<String, XtaskError> {
    let ok = !list.is_empty()
        && list
            .split(',')
            .all(|t| t.trim().parse::<usize>().map(|n| n > 0).unwrap_or(false));
    if ok {
        Ok(list.replace(' ', ""))
    } else {
        Err(XtaskError::Usage(format!(
            "--threads `{list}`: expected positive integers separated by commas"
        )))
    }
}

fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

fn run_step(description: &str, command: &mut Command) -> Result<(), XtaskError> {
    eprintln!("xtask: {description}");
    let status = command
        .status()
        .map_err(|e| XtaskError::Failed(format!("{description}: could not start: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(XtaskError::Failed(format!(
            "{description}: failed ({})",
            status
                .code()
                .map(|c| format!("exit code {c}"))
                .unwrap_or_else(|| "killed by a signal".into())
        )))
    }
}

fn bench(args: &BenchArgs) -> Result<(), XtaskError> {
    // Smoke runs only prove the programs work, so they reuse the test build (dev profile)
    // instead of compiling the whole workspace a second time in release.
    let profile = if args.mode == "smoke" {
        "dev"
    } else {
        "release"
    };
    let mut command = cargo();
    command.args([
        "run",
        "--quiet",
        "--profile",
        profile,
        "-p",
        "benches",
        "--bin",
        "bench",
        "--",
    ]);
    command.args(["--mode", &args.mode]);
    if let Some(threads) = &args.threads {
        command.args(["--threads", threads]);
    }
    for name in &args.crates {
        command.args(["--crate", name]);
    }
    if let Some(old) = &args.compare {
        command.args(["--compare", old]);
    }
    let out = args.out.clone().unwrap_or_else(|| {
        workspace_root()
            .join("target/bench-report")
            .display()
            .to_string()
    });
    command.args(["--out", &out]);
    run_step(
        &format!("bench ({} mode, {profile} build)", args.mode),
        &mut command,
    )
}

fn stress(args: &StressArgs) -> Result<(), XtaskError> {
    if graphdb_stress::wanted(args) {
        return graphdb_stress::run(args);
    }
    let mut command = cargo();
    command.args([
        "run",
        "--quiet",
        "--release",
        "-p",
        "benches",
        "--bin",
        "stress",
        "--",
    ]);
    command.args(["--duration", &args.duration]);
    if let Some(threads) = &args.threads {
        command.args(["--threads", threads]);
    }
    for name in &args.crates {
        command.args(["--crate", name]);
    }
    if let Some(seed) = &args.seed {
        command.args(["--seed", seed]);
    }
    run_step(&format!("stress for {}", args.duration), &mut command)
}

/// A crate's `[features]` table, as names: enough of TOML for a table of `name = [...]`.
fn feature_names(manifest: &str) -> Vec<String> {
    let mut in_features = false;
    let mut names = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_features = line == "[features]";
            continue;
        }
        if !in_features || line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((name, _)) = line.split_once('=') {
            let name = name.trim().trim_matches('"');
            if !name.is_empty() && !name.contains(char::is_whitespace) {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// The features a manifest's `default = [...]` turns on (one line or several).
fn default_features(manifest: &str) -> Vec<String> {
    let mut in_features = false;
    let mut list: Option<String> = None;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(text) = list.as_mut() {
            text.push_str(line);
        } else if line.starts_with('[') {
            in_features = line == "[features]";
            continue;
        } else if in_features {
            if let Some((name, value)) = line.split_once('=') {
                if name.trim().trim_matches('"') == "default" {
                    list = Some(value.trim().to_string());
                }
            }
        }
        if let Some(text) = &list {
            if text.contains(']') {
                return text
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(',')
                    .map(|f| f.trim().trim_matches('"').to_string())
                    .filter(|f| !f.is_empty())
                    .collect();
            }
        }
    }
    Vec::new()
}

/// The cargo invocations that test one crate with its features on and off: with none,
/// with each alone, with all of them, and with the defaults. A run whose feature set
/// equals an earlier run's (`--no-default-features --features tools` when the default is
/// `tools`, the defaults when they are empty) is left out: it would test the same build.
fn feature_matrix(krate: &str, features: &[String], defaults: &[String]) -> Vec<Vec<String>> {
    let base = |extra: &[&str]| {
        let mut args: Vec<String> = ["test", "-p", krate]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    type Set = std::collections::BTreeSet<String>;
    let set_of = |names: &[&String]| -> Set { names.iter().map(|s| s.to_string()).collect() };
    let with_defaults = |names: &[&String]| -> Set {
        defaults
            .iter()
            .chain(names.iter().copied())
            .cloned()
            .collect()
    };
    let mut runs: Vec<(Set, Vec<String>)> = Vec::new();
    let mut add = |set: Set, args: Vec<String>| {
        if !runs.iter().any(|(seen, _)| *seen == set) {
            runs.push((set, args));
        }
    };
    add(Set::new(), base(&["--no-default-features"]));
    let migrations: Vec<&String> = features
        .iter()
        .filter(|f| *f != "default" && *f != "loom")
        .collect();
    for feature in &migrations {
        add(
            set_of(&[feature]),
            base(&["--no-default-features", "--features", feature]),
        );
    }
    if migrations.len() > 1 {
        let all = migrations
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        add(with_defaults(&migrations), base(&["--features", &all]));
    }
    if features.iter().any(|f| f == "default") {
        add(with_defaults(&[]), base(&[]));
    }
    runs.into_iter().map(|(_, args)| args).collect()
}

fn features(args: &FeaturesArgs) -> Result<(), XtaskError> {
    let crates_dir = workspace_root().join("crates");
    let mut crates: Vec<(String, Vec<String>, Vec<String>)> = std::fs::read_dir(&crates_dir)
        .map_err(|e| XtaskError::Failed(format!("{}: {e}", crates_dir.display())))?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let manifest = std::fs::read_to_string(entry.path().join("Cargo.toml")).ok()?;
            Some((
                entry.file_name().to_string_lossy().into_owned(),
                feature_names(&manifest),
                default_features(&manifest),
            ))
        })
        .filter(|(name, _, _)| args.crates.is_empty() || args.crates.contains(name))
        .collect();
    crates.sort();
    if let Some(unknown) = args
        .crates
        .iter()
        .find(|c| !crates.iter().any(|(n, _, _)| n == *c))
    {
        return Err(XtaskError::Usage(format!("unknown crate `{unknown}`")));
    }
    for (krate, names, defaults) in &crates {
        if names.is_empty() {
            continue;
        }
        for run in feature_matrix(krate, names, defaults) {
            run_step(&format!("cargo {}", run.join(" ")), cargo().args(&run))?;
        }
        if names.iter().any(|f| f == "loom") {
            // loom needs its own cfg, which changes every crate's fingerprint: a separate
            // target folder keeps it from invalidating the normal build.
            let flags = format!(
                "--cfg loom {}",
                std::env::var("XTASK_EXTRA_RUSTFLAGS").unwrap_or_else(|_| default_rustflags())
            );
            run_step(
                &format!("loom models of {krate}"),
                cargo()
                    .args([
                        "test",
                        "-p",
                        krate,
                        "--features",
                        "loom",
                        "--release",
                        "--lib",
                        "loom",
                    ])
                    .env("RUSTFLAGS", flags.trim())
                    .env("CARGO_TARGET_DIR", workspace_root().join("target/loom")),
            )?;
        }
    }
    eprintln!(
        "xtask: features: {} crate(s) with features tested",
        crates.iter().filter(|(_, f, _)| !f.is_empty()).count()
    );
    Ok(())
}

/// RUSTFLAGS replaces the target rustflags of `.cargo/config.toml`, so the flags that
/// pathmap needs on x86_64 are repeated here.
fn default_rustflags() -> String {
    if cfg!(target_arch = "x86_64") {
        "-C target-feature=+aes,+sse2".into()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bench_flags_parse() {
        let args = parse_bench(&strings(&[
            "--quick",
            "--threads",
            "1,2",
            "--crate",
            "dep-tracker",
            "--crate=cow-env",
        ]))
        .unwrap();
        assert_eq!(args.mode, "quick");
        assert_eq!(args.threads.as_deref(), Some("1,2"));
        assert_eq!(args.crates, ["dep-tracker", "cow-env"]);
        assert_eq!(parse_bench(&[]).unwrap().mode, "full");
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        assert!(
            matches!(parse_bench(&strings(&["--fast"])), Err(XtaskError::Usage(m)) if m.contains("--fast"))
        );
        assert!(
            matches!(parse_bench(&strings(&["--threads"])), Err(XtaskError::Usage(m)) if m.contains("needs a value"))
        );
        assert!(matches!(
            parse_bench(&strings(&["--threads", "0,2"])),
            Err(XtaskError::Usage(_))
        ));
        assert!(matches!(
            parse_stress(&strings(&["--threads", "x"])),
            Err(XtaskError::Usage(_))
        ));
        assert!(matches!(
            run(&strings(&["frobnicate"])),
            Err(XtaskError::Usage(_))
        ));
        assert!(matches!(run(&[]), Err(XtaskError::Usage(_))));
    }

    #[test]
    fn stress_defaults_to_a_minute() {
        let args = parse_stress(&strings(&["--crate", "graphdb"])).unwrap();
        assert_eq!(args.duration, "60s");
        assert_eq!(args.crates, ["graphdb"]);
    }

    #[test]
    fn features_table_is_read_from_the_manifest() {
        let manifest = "[package]\nname = \"x\"\n\n[features]\n# the switch\nrwlock-optimization = []\nloom = [\"dep:loom\"]\n\n[dependencies]\nfoo = \"1\"\n";
        assert_eq!(feature_names(manifest), ["rwlock-optimization", "loom"]);
        assert!(feature_names("[package]\nname = \"x\"\n").is_empty());
    }

    #[test]
    fn every_migration_feature_is_tested_on_and_off() {
        let runs = feature_matrix("g", &strings(&["rwlock-optimization", "loom"]), &[]);
        let joined: Vec<String> = runs.iter().map(|r| r.join(" ")).collect();
        assert_eq!(
            joined,
            [
                "test -p g --no-default-features",
                "test -p g --no-default-features --features rwlock-optimization"
            ]
        );
        let runs = feature_matrix("g", &strings(&["default", "a", "b"]), &strings(&["a"]));
        // none, a, b, a+b; the default (a) is the `a` run again.
        assert_eq!(runs.len(), 4);
    }

    #[test]
    fn runs_that_would_build_the_same_features_are_left_out() {
        let joined =
            |runs: Vec<Vec<String>>| -> Vec<String> { runs.iter().map(|r| r.join(" ")).collect() };
        // `default = ["tools"]`: the default run is the `tools` run again.
        assert_eq!(
            joined(feature_matrix(
                "c",
                &strings(&["default", "tools"]),
                &strings(&["tools"])
            )),
            [
                "test -p c --no-default-features",
                "test -p c --no-default-features --features tools"
            ]
        );
        // `default = []`: the default run is the no-feature run again.
        assert_eq!(
            joined(feature_matrix(
                "d",
                &strings(&["default", "log", "loom"]),
                &[]
            )),
            [
                "test -p d --no-default-features",
                "test -p d --no-default-features --features log"
            ]
        );
        // `default = ["cli"]` with a migration switch: all four sets differ but the
        // default one, which equals `cli` alone.
        assert_eq!(
            joined(feature_matrix(
                "e",
                &strings(&["default", "cli", "fast", "loom"]),
                &strings(&["cli"])
            )),
            [
                "test -p e --no-default-features",
                "test -p e --no-default-features --features cli",
                "test -p e --no-default-features --features fast",
                "test -p e --features cli,fast"
            ]
        );
    }

    #[test]
    fn default_features_are_read_from_one_or_several_lines() {
        let one =
            "[package]\nname = \"x\"\n[features]\ndefault = [\"cli\", \"rwlock\"] # on\ncli = []\n";
        assert_eq!(default_features(one), ["cli", "rwlock"]);
        let several = "[features]\ndefault = [\n  \"a\",\n  \"b\",\n]\na = []\nb = []\n";
        assert_eq!(default_features(several), ["a", "b"]);
        assert!(default_features("[features]\ndefault = []\n").is_empty());
        assert!(default_features("[dependencies]\ndefault = [\"x\"]\n").is_empty());
    }
}
