//! `cargo xtask package`: proves that every library crate can be published and used alone.
//!
//! For each library crate it
//! 1. runs `cargo package` (with the crate's workspace dependencies in the same call, so
//!    cargo resolves them from the packages it has just made, not from crates.io): the
//!    manifest is publishable, every path dependency has a version, and the package
//!    carries both licence files and its README;
//! 2. unpacks the `.crate` file into a scratch folder in the system's temporary directory,
//!    outside the workspace, so neither the workspace's `.cargo/config.toml` (its
//!    rustflags) nor its `[workspace]` tables apply;
//! 3. creates a fresh binary crate there whose `main` is the first `rust` example of the
//!    crate's README, depending on the unpacked package by path with default features,
//!    and builds and runs it.
//!
//! `cargo package --no-verify` is used because step 3 compiles the packaged sources
//! itself, outside the workspace, which is what a user of the crate does (cargo's own
//! verification builds with the configuration of the folder it starts in, so the
//! workspace's `.cargo/config.toml` would apply).
//! `--allow-dirty` packages the working tree as it is, so the check runs before a commit
//! too. Offline use works when `CARGO_NET_OFFLINE=true` and the registry cache holds the
//! workspace's dependencies. The fresh
//! crates copy the workspace's `Cargo.lock` (same dependency versions, nothing new to
//! download) and share one target folder, `target/package-check`, so the dependencies
//! are compiled once. Every crate is checked even when an earlier one fails; the summary
//! table on stdout names each crate's result.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{cargo, parse_flags, workspace_root, XtaskError};

/// The crates a user may depend on; each has a README with a runnable example.
pub(crate) const LIBRARY_CRATES: [&str; 6] = [
    "dep-tracker",
    "cow-env",
    "config-eval",
    "code-graph",
    "graphdb-core",
    "graphdb-concurrent",
];

/// Environment variables that would make the fresh crates' build unlike a user's.
const FOREIGN_BUILD_ENV: [&str; 6] = [
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
];

#[derive(Debug, PartialEq, Default)]
pub(crate) struct PackageArgs {
    pub(crate) crates: Vec<String>,
}

pub(crate) fn parse_package(args: &[String]) -> Result<PackageArgs, XtaskError> {
    let mut out = PackageArgs::default();
    parse_flags(args, |flag, value| {
        match flag {
            "--crate" => out.crates.push(value()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if let Some(unknown) = out
        .crates
        .iter()
        .find(|c| !LIBRARY_CRATES.contains(&c.as_str()))
    {
        return Err(XtaskError::Usage(format!(
            "unknown library crate `{unknown}` (one of {})",
            LIBRARY_CRATES.join(", ")
        )));
    }
    Ok(out)
}

/// The outcome of one step for one crate.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Ok,
    Failed,
    Skipped,
}

impl Step {
    fn word(&self) -> &'static str {
        match self {
            Step::Ok => "ok",
            Step::Failed => "FAILED",
            Step::Skipped => "-",
        }
    }
}

#[derive(Debug)]
struct Outcome {
    krate: String,
    package: Step,
    build: Step,
    run: Step,
    /// Why it failed: the end of the failing command's output.
    detail: String,
}

pub(crate) fn package(args: &PackageArgs) -> Result<(), XtaskError> {
    let root = workspace_root();
    let selected: Vec<&str> = LIBRARY_CRATES
        .iter()
        .copied()
        .filter(|c| args.crates.is_empty() || args.crates.iter().any(|a| a == c))
        .collect();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    let scratch = std::env::temp_dir().join(format!("xtask-package-{}", std::process::id()));
    if scratch.starts_with(&root) {
        return Err(XtaskError::Failed(format!(
            "the temporary directory {} is inside the workspace, whose .cargo/config.toml \
             would apply to the fresh crates; set TMPDIR to a folder outside it",
            scratch.display()
        )));
    }
    let packages = scratch.join("packages");
    fs::create_dir_all(&packages)
        .map_err(|e| XtaskError::Failed(format!("{}: {e}", packages.display())))?;

    let mut outcomes = Vec::new();
    for krate in &selected {
        eprintln!("xtask: package: {krate}");
        outcomes.push(check_crate(krate, &root, &target, &scratch));
    }

    println!(
        "\n{:<20} {:<8} {:<8} {:<8}",
        "crate", "package", "build", "run"
    );
    for o in &outcomes {
        println!(
            "{:<20} {:<8} {:<8} {:<8}",
            o.krate,
            o.package.word(),
            o.build.word(),
            o.run.word()
        );
    }
    let failed: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| [&o.package, &o.build, &o.run].contains(&&Step::Failed))
        .collect();
    for o in &failed {
        eprintln!("\n---- {} ----\n{}", o.krate, o.detail.trim_end());
    }
    if failed.is_empty() {
        // Nothing to look at: the scratch folder goes. On failure it stays for inspection.
        let _ = fs::remove_dir_all(&scratch);
        Ok(())
    } else {
        Err(XtaskError::Failed(format!(
            "package: {} of {} crate(s) failed: {} (scratch folder kept: {})",
            failed.len(),
            outcomes.len(),
            failed
                .iter()
                .map(|o| o.krate.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            scratch.display()
        )))
    }
}

fn check_crate(krate: &str, root: &Path, target: &Path, scratch: &Path) -> Outcome {
    let mut outcome = Outcome {
        krate: krate.to_string(),
        package: Step::Failed,
        build: Step::Skipped,
        run: Step::Skipped,
        detail: String::new(),
    };
    let fail = |mut outcome: Outcome, detail: String| {
        outcome.detail = detail;
        outcome
    };

    // 1. Package the crate together with the workspace crates it needs.
    let needed = match internal_closure(root, krate) {
        Ok(needed) => needed,
        Err(e) => return fail(outcome, e),
    };
    let mut command = cargo();
    command.args(["package", "--no-verify", "--allow-dirty"]);
    for name in &needed {
        command.args(["-p", name]);
    }
    match capture(&mut command) {
        Ok(_) => {}
        Err(e) => return fail(outcome, e),
    }

    // 2. Unpack every needed package outside the workspace.
    let packages = scratch.join("packages");
    let mut unpacked = Vec::new();
    for name in &needed {
        match unpack(name, target, &packages) {
            Ok(dir) => unpacked.push((name.clone(), dir)),
            Err(e) => return fail(outcome, e),
        }
    }
    let own_dir = unpacked
        .iter()
        .find(|(n, _)| n == krate)
        .map(|(_, d)| d.clone())
        .unwrap_or_default();
    let missing = missing_package_files(&own_dir);
    if !missing.is_empty() {
        return fail(outcome, format!("the package lacks {}", missing.join(", ")));
    }
    outcome.package = Step::Ok;

    // 3. A fresh crate that runs the README example.
    outcome.build = Step::Failed;
    let readme = match fs::read_to_string(own_dir.join("README.md")) {
        Ok(text) => text,
        Err(e) => return fail(outcome, format!("README.md in the package: {e}")),
    };
    let Some(example) = readme_example(&readme) else {
        return fail(
            outcome,
            "README.md has no ```rust example to run".to_string(),
        );
    };
    let fresh = scratch.join(format!("fresh-{krate}"));
    if let Err(e) = write_fresh_crate(root, &fresh, krate, &example, &unpacked) {
        return fail(outcome, e);
    }
    let build_env = |command: &mut Command| {
        command
            .current_dir(&fresh)
            .env("CARGO_TARGET_DIR", target.join("package-check"));
        for var in FOREIGN_BUILD_ENV {
            command.env_remove(var);
        }
    };
    let mut build = Command::new(cargo_program());
    build.args(["build", "--quiet"]);
    build_env(&mut build);
    if let Err(e) = capture(&mut build) {
        return fail(outcome, e);
    }
    outcome.build = Step::Ok;

    outcome.run = Step::Failed;
    let workdir = scratch.join(format!("run-{krate}"));
    if let Err(e) = prepare_workdir(&workdir, &example) {
        return fail(outcome, e);
    }
    let mut run = Command::new(cargo_program());
    run.args(["run", "--quiet", "--manifest-path"])
        .arg(fresh.join("Cargo.toml"));
    build_env(&mut run);
    run.current_dir(&workdir);
    if let Err(e) = capture(&mut run) {
        return fail(outcome, e);
    }
    outcome.run = Step::Ok;
    outcome
}

fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs a command, returning its output, or the end of its output as the error.
fn capture(command: &mut Command) -> Result<Output, String> {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .map_err(|e| format!("{shown}: could not start: {e}"))?;
    if output.status.success() {
        return Ok(output);
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    Err(format!(
        "{shown} failed ({}):\n{tail}",
        output
            .status
            .code()
            .map(|c| format!("exit code {c}"))
            .unwrap_or_else(|| "killed by a signal".into())
    ))
}

/// The crate and the library crates it depends on, directly or not, dependencies first.
fn internal_closure(root: &Path, krate: &str) -> Result<Vec<String>, String> {
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    visit(root, krate, &mut seen, &mut order)?;
    Ok(order)
}

fn visit(
    root: &Path,
    krate: &str,
    seen: &mut BTreeSet<String>,
    order: &mut Vec<String>,
) -> Result<(), String> {
    if !seen.insert(krate.to_string()) {
        return Ok(());
    }
    let path = root.join("crates").join(krate).join("Cargo.toml");
    let manifest = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    for dep in internal_dependencies(&manifest) {
        visit(root, &dep, seen, order)?;
    }
    order.push(krate.to_string());
    Ok(())
}

/// The library crates a manifest names in a (non-dev) dependency table.
fn internal_dependencies(manifest: &str) -> Vec<String> {
    let mut in_dependencies = false;
    let mut found = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            let table = line.trim_matches(|c| c == '[' || c == ']');
            in_dependencies = table == "dependencies"
                || (table.starts_with("target.") && table.ends_with(".dependencies"));
            if let Some(name) = table.strip_prefix("dependencies.") {
                if LIBRARY_CRATES.contains(&name) {
                    found.push(name.to_string());
                }
            }
            continue;
        }
        if !in_dependencies {
            continue;
        }
        if let Some((name, _)) = line.split_once('=') {
            let name = name.trim();
            if LIBRARY_CRATES.contains(&name) && !found.iter().any(|f| f == name) {
                found.push(name.to_string());
            }
        }
    }
    found
}

/// Unpacks `target/package/NAME-VERSION.crate` into `into`, returning the folder.
fn unpack(name: &str, target: &Path, into: &Path) -> Result<PathBuf, String> {
    let version = crate_version(name)?;
    let file = target
        .join("package")
        .join(format!("{name}-{version}.crate"));
    let dir = into.join(format!("{name}-{version}"));
    let _ = fs::remove_dir_all(&dir);
    let mut tar = Command::new("tar");
    tar.arg("xzf").arg(&file).arg("-C").arg(into);
    capture(&mut tar)?;
    if dir.join("Cargo.toml").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "{} did not unpack into {}",
            file.display(),
            dir.display()
        ))
    }
}

/// The files every published crate must carry: both licence texts (the crates are
/// `MIT OR Apache-2.0`) and the README that crates.io shows.
const REQUIRED_FILES: [&str; 3] = ["LICENSE-MIT", "LICENSE-APACHE", "README.md"];

fn missing_package_files(unpacked: &Path) -> Vec<&'static str> {
    REQUIRED_FILES
        .into_iter()
        .filter(|name| !unpacked.join(name).is_file())
        .collect()
}

/// The version of a workspace crate, from `cargo pkgid`.
fn crate_version(name: &str) -> Result<String, String> {
    let output = capture(cargo().args(["pkgid", "-p", name]))?;
    let id = String::from_utf8_lossy(&output.stdout).trim().to_string();
    pkgid_version(&id).ok_or_else(|| format!("cannot read a version from pkgid `{id}`"))
}

/// `path+file:///x/crates/a#0.1.0` or `path+file:///x#a@0.1.0` -> `0.1.0`.
fn pkgid_version(id: &str) -> Option<String> {
    let fragment = id.rsplit_once('#')?.1;
    let version = fragment.rsplit_once('@').map_or(fragment, |(_, v)| v);
    version
        .starts_with(|c: char| c.is_ascii_digit())
        .then(|| version.to_string())
}

/// The first ```rust block of a README as a program: rustdoc's hidden lines (`# ...`)
/// are kept, and a block without `fn main` is wrapped in one, returning the error type
/// of a trailing `Ok::<(), E>(())` as rustdoc does.
fn readme_example(readme: &str) -> Option<String> {
    let mut lines = readme.lines();
    lines.by_ref().find(|l| {
        let fence = l.trim_start();
        fence == "```rust" || fence == "```rust,no_run" || fence == "```rs"
    })?;
    let mut body = Vec::new();
    for line in lines {
        if line.trim_start().starts_with("```") {
            let code: Vec<String> = body
                .iter()
                .map(|l: &&str| {
                    let t = l.trim_start();
                    if t == "#" {
                        String::new()
                    } else if let Some(rest) = t.strip_prefix("# ") {
                        rest.to_string()
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            return Some(as_program(&code.join("\n")));
        }
        body.push(line);
    }
    None
}

fn as_program(code: &str) -> String {
    if code.contains("fn main") {
        return format!("{code}\n");
    }
    let last = code
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let error_type = last
        .trim()
        .strip_prefix("Ok::<(),")
        .and_then(|rest| rest.strip_suffix(">(())"))
        .map(str::trim);
    let indented: String = code.lines().map(|l| format!("    {l}\n")).collect();
    match error_type {
        Some(error) => format!("fn main() -> Result<(), {error}> {{\n{indented}}}\n"),
        None => format!("fn main() {{\n{indented}}}\n"),
    }
}

/// Writes `fresh/{Cargo.toml,Cargo.lock,src/main.rs}`.
fn write_fresh_crate(
    root: &Path,
    fresh: &Path,
    krate: &str,
    example: &str,
    unpacked: &[(String, PathBuf)],
) -> Result<(), String> {
    let _ = fs::remove_dir_all(fresh);
    let src = fresh.join("src");
    fs::create_dir_all(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    let write = |path: PathBuf, text: &str| {
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(
        fresh.join("Cargo.toml"),
        &fresh_manifest(krate, example, unpacked),
    )?;
    write(src.join("main.rs"), example)?;
    // The workspace's lock file: the same dependency versions as the workspace build.
    fs::copy(root.join("Cargo.lock"), fresh.join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;
    Ok(())
}

fn fresh_manifest(krate: &str, example: &str, unpacked: &[(String, PathBuf)]) -> String {
    let path_of = |name: &str| {
        unpacked
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.display().to_string().replace('\\', "/"))
    };
    let mut manifest = format!(
        "[package]\nname = \"fresh-{krate}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[dependencies]\n"
    );
    for (name, _) in unpacked {
        // The crate under test, and any other library crate its example names.
        let used = name == krate || example.contains(&format!("{}::", name.replace('-', "_")));
        if let (true, Some(path)) = (used, path_of(name)) {
            manifest.push_str(&format!("{name} = {{ path = \"{path}\" }}\n"));
        }
    }
    if example.contains("tempfile::") {
        manifest.push_str("tempfile = \"3\"\n");
    }
    // A packaged manifest names its workspace dependencies by version, as crates.io
    // would serve them; point those at the packages just made.
    manifest.push_str("\n[patch.crates-io]\n");
    for (name, _) in unpacked {
        if let Some(path) = path_of(name) {
            manifest.push_str(&format!("{name} = {{ path = \"{path}\" }}\n"));
        }
    }
    // Not a member of any workspace above the scratch folder.
    manifest.push_str("\n[workspace]\n");
    manifest
}

/// The folder the example runs in. An example that reads `path/to/crate` (code-graph's)
/// finds a two-function crate named `my_crate` there.
fn prepare_workdir(workdir: &Path, example: &str) -> Result<(), String> {
    let _ = fs::remove_dir_all(workdir);
    let io = |e: std::io::Error| format!("{}: {e}", workdir.display());
    fs::create_dir_all(workdir).map_err(io)?;
    if example.contains("\"path/to/crate\"") {
        let fixture = workdir.join("path/to/crate");
        fs::create_dir_all(fixture.join("src")).map_err(io)?;
        fs::write(
            fixture.join("Cargo.toml"),
            "[package]\nname = \"my_crate\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        )
        .map_err(io)?;
        fs::write(
            fixture.join("src/lib.rs"),
            "//! A fixture.\n\npub fn run() -> u32 {\n    helper()\n}\n\nfn helper() -> u32 {\n    1\n}\n",
        )
        .map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_example_becomes_a_program() {
        let readme = "# x\n\n```sh\ncargo run\n```\n\n```rust\nuse a::B;\n\nlet b = B::new()?;\n# Ok::<(), a::Error>(())\n```\n\n```rust\nlater();\n```\n";
        assert_eq!(
            readme_example(readme).unwrap(),
            "fn main() -> Result<(), a::Error> {\n    use a::B;\n    \n    let b = B::new()?;\n    Ok::<(), a::Error>(())\n}\n"
        );
        let with_main = "```rust\nfn main() {}\n```\n";
        assert_eq!(readme_example(with_main).unwrap(), "fn main() {}\n");
        assert_eq!(
            readme_example("```rust\nf();\n```").unwrap(),
            "fn main() {\n    f();\n}\n"
        );
        assert!(readme_example("no code\n```sh\nls\n```\n").is_none());
        assert!(readme_example("```rust\nunterminated();\n").is_none());
    }

    #[test]
    fn internal_dependencies_are_read_from_the_manifest() {
        let manifest = "[package]\nname = \"graphdb-concurrent\"\n\n[dependencies]\nthiserror = { workspace = true }\ngraphdb-core = { workspace = true }\n\n[dev-dependencies]\ndep-tracker = \"1\"\n\n[dependencies.cow-env]\nversion = \"0.1\"\n";
        assert_eq!(internal_dependencies(manifest), ["graphdb-core", "cow-env"]);
    }

    #[test]
    fn pkgid_forms_give_the_version() {
        assert_eq!(
            pkgid_version("path+file:///w/crates/dep-tracker#0.1.0").as_deref(),
            Some("0.1.0")
        );
        assert_eq!(
            pkgid_version("path+file:///w/x#dep-tracker@0.2.1").as_deref(),
            Some("0.2.1")
        );
        assert_eq!(pkgid_version("no fragment"), None);
    }

    #[test]
    fn fresh_manifest_patches_every_package_and_adds_named_crates() {
        let unpacked = vec![
            (
                "graphdb-core".to_string(),
                PathBuf::from("/s/graphdb-core-0.1.0"),
            ),
            (
                "graphdb-concurrent".to_string(),
                PathBuf::from("/s/graphdb-concurrent-0.1.0"),
            ),
        ];
        let example = "use graphdb_core::Node;\nlet d = tempfile::tempdir()?;";
        let manifest = fresh_manifest("graphdb-concurrent", example, &unpacked);
        assert!(manifest.contains("[dependencies]\ngraphdb-core = { path = \"/s/graphdb-core-0.1.0\" }\ngraphdb-concurrent = { path = \"/s/graphdb-concurrent-0.1.0\" }\ntempfile = \"3\"\n"));
        assert!(manifest.contains("[patch.crates-io]\ngraphdb-core = "));
        assert!(manifest.ends_with("[workspace]\n"));
        let plain = fresh_manifest("graphdb-concurrent", "let x = 1;", &unpacked);
        assert!(!plain.contains("tempfile"));
        assert!(!plain.contains("[dependencies]\ngraphdb-core"));
    }

    #[test]
    fn a_package_without_its_licence_files_is_named() {
        let dir = std::env::temp_dir().join(format!("xtask-package-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("README.md"), "# x\n").unwrap();
        fs::write(dir.join("LICENSE-MIT"), "MIT\n").unwrap();
        assert_eq!(missing_package_files(&dir), ["LICENSE-APACHE"]);
        fs::write(dir.join("LICENSE-APACHE"), "Apache\n").unwrap();
        assert!(missing_package_files(&dir).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_crates_are_usage_errors() {
        assert!(matches!(
            parse_package(&["--crate".to_string(), "benches".to_string()]),
            Err(XtaskError::Usage(m)) if m.contains("benches")
        ));
        assert_eq!(
            parse_package(&["--crate=cow-env".to_string()])
                .unwrap()
                .crates,
            ["cow-env"]
        );
    }
}
