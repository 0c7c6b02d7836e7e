//! Reading `Cargo.toml`: the packages of a crate or workspace directory and their targets.
//!
//! Manifests are parsed with the `toml` crate, so anything TOML allows (multi-line
//! strings, inline tables spanning lines, dotted keys) is read. From them this takes the
//! package name, `[lib]` (`name`, `path`), `[[bin]]`, `[[test]]`, `[[example]]` and
//! `[[bench]]` (`name`, `path`), the `autobins`-style switches, and `workspace.members`
//! (with `*` and `?` patterns) and `workspace.exclude`; targets are also discovered the
//! way Cargo does (`src/lib.rs`, `src/main.rs`, `src/bin/*.rs`, `src/bin/*/main.rs`,
//! `tests/`, `examples/`, `benches/`).
//!
//! A manifest that cannot be read is never the end of the build: it is reported as a
//! diagnostic, and the package is built from what Cargo would discover on its own, named
//! after its directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::build::rel;
use crate::error::{CodeGraphError, Diagnostic, DiagnosticKind};
use crate::model::TargetKind;

/// One target to follow: a root file and the namespace its module tree gets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Target {
    pub(crate) namespace: String,
    pub(crate) package: String,
    /// The library's crate name (what other targets write in paths); only for `Lib`.
    pub(crate) lib_name: Option<String>,
    pub(crate) kind: TargetKind,
    pub(crate) root: PathBuf,
}

/// A package: its directory and targets.
#[derive(Debug, Clone)]
pub(crate) struct Package {
    pub(crate) dir: PathBuf,
    pub(crate) targets: Vec<Target>,
}

/// What reading one `Cargo.toml` gave.
enum Read {
    /// There is none.
    Absent,
    /// It parsed.
    Table(toml::Table),
    /// It exists but could not be read or parsed; the message says why.
    Broken(String),
}

fn read_manifest(dir: &Path) -> Read {
    let path = dir.join("Cargo.toml");
    if !path.is_file() {
        return Read::Absent;
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return Read::Broken(e.to_string()),
    };
    match text.parse::<toml::Table>() {
        Ok(t) => Read::Table(t),
        Err(e) => Read::Broken(e.message().to_owned() + &line_of_error(&text, e.span())),
    }
}

fn line_of_error(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(r) => {
            let upto = &text.as_bytes()[..r.start.min(text.len())];
            let line = upto.iter().filter(|b| **b == b'\n').count() + 1;
            format!(" (line {line})")
        }
        None => String::new(),
    }
}

fn manifest_diag(root: &Path, dir: &Path, message: String) -> Diagnostic {
    Diagnostic {
        file: rel(root, &dir.join("Cargo.toml")),
        line: 0,
        column: 0,
        kind: DiagnosticKind::Manifest,
        message,
    }
}

fn table<'a>(t: &'a toml::Table, key: &str) -> Option<&'a toml::Table> {
    t.get(key).and_then(toml::Value::as_table)
}

fn string<'a>(t: &'a toml::Table, key: &str) -> Option<&'a str> {
    t.get(key).and_then(toml::Value::as_str)
}

fn strings(t: &toml::Table, key: &str) -> Vec<String> {
    t.get(key)
        .and_then(toml::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The packages of `dir`: the package itself, or a workspace's members (and its root
/// package, if it has one). Problems with single manifests become diagnostics; only a
/// directory with no `Cargo.toml` at all is an error.
pub(crate) fn discover(
    dir: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Vec<Package>, CodeGraphError> {
    let root = match read_manifest(dir) {
        Read::Absent => {
            return Err(CodeGraphError::NoManifest {
                path: dir.to_owned(),
            })
        }
        Read::Broken(message) => {
            diagnostics.push(manifest_diag(
                dir,
                dir,
                format!("{message}; targets discovered from the directory layout instead"),
            ));
            return Ok(vec![package(dir, dir, None, diagnostics)]);
        }
        Read::Table(t) => t,
    };
    let mut packages = Vec::new();
    if table(&root, "package").is_some() {
        packages.push(package(dir, dir, Some(&root), diagnostics));
    }
    if let Some(ws) = table(&root, "workspace") {
        let excluded: Vec<PathBuf> = strings(ws, "exclude")
            .iter()
            .map(|e| normal(&dir.join(e)))
            .collect();
        let mut member_dirs = Vec::new();
        for m in strings(ws, "members") {
            let found = expand_member(dir, &m);
            if found.is_empty() {
                diagnostics.push(manifest_diag(
                    dir,
                    dir,
                    format!("workspace member `{m}` matches no directory with a Cargo.toml"),
                ));
            }
            member_dirs.extend(found);
        }
        member_dirs.sort();
        member_dirs.dedup();
        for m in member_dirs {
            if excluded.iter().any(|e| m.starts_with(e)) || m == normal(dir) {
                continue;
            }
            match read_manifest(&m) {
                Read::Table(t) if table(&t, "package").is_some() => {
                    packages.push(package(dir, &m, Some(&t), diagnostics));
                }
                Read::Table(_) | Read::Absent => diagnostics.push(manifest_diag(
                    dir,
                    &m,
                    "workspace member has no package manifest; skipped".into(),
                )),
                Read::Broken(message) => {
                    diagnostics.push(manifest_diag(
                        dir,
                        &m,
                        format!("{message}; targets discovered from the directory layout instead"),
                    ));
                    packages.push(package(dir, &m, None, diagnostics));
                }
            }
        }
    } else if packages.is_empty() {
        diagnostics.push(manifest_diag(
            dir,
            dir,
            "neither [package] nor [workspace]; targets discovered from the directory layout"
                .into(),
        ));
        packages.push(package(dir, dir, None, diagnostics));
    }
    Ok(packages)
}

/// `a/./b/../c` as `a/c`, lexically (member paths are compared with each other).
fn normal(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// The member directories a `workspace.members` entry names: a plain path, or a pattern
/// with `*` and `?` in its components.
fn expand_member(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut current = vec![normal(root)];
    for comp in pattern.split('/').filter(|c| !c.is_empty() && *c != ".") {
        let mut next = Vec::new();
        for base in &current {
            if comp.contains(['*', '?', '[']) {
                let Ok(entries) = std::fs::read_dir(base) else {
                    continue;
                };
                let mut names: Vec<PathBuf> = entries
                    .flatten()
                    .filter(|e| e.path().is_dir())
                    .filter(|e| glob_match(comp, &e.file_name().to_string_lossy()))
                    .map(|e| e.path())
                    .collect();
                names.sort();
                next.extend(names);
            } else if comp == ".." {
                let mut b = base.clone();
                b.pop();
                next.push(b);
            } else {
                next.push(base.join(comp));
            }
        }
        current = next;
    }
    current
        .into_iter()
        .filter(|d| d.join("Cargo.toml").is_file())
        .collect()
}

/// `*` (any run) and `?` (one character) matching of one path component; a `[...]`
/// class matches any one character.
fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with one backtrack point: linear in practice, no recursion.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == '[' {
            if let Some(close) = p[pi..].iter().position(|c| *c == ']') {
                if p[pi + 1..pi + close].contains(&n[ni]) {
                    pi += close + 1;
                    ni += 1;
                    continue;
                }
            }
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
            continue;
        }
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
            continue;
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The package name when the manifest cannot say: the directory name without a
/// registry-style `-1.2.3` version suffix.
fn name_from_dir(dir: &Path) -> String {
    let base = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unnamed".into());
    match base.rfind('-') {
        Some(i) if base[i + 1..].starts_with(|c: char| c.is_ascii_digit()) => base[..i].to_owned(),
        _ => base,
    }
}

fn package(
    root: &Path,
    dir: &Path,
    toml: Option<&toml::Table>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Package {
    let empty = toml::Table::new();
    let toml = toml.unwrap_or(&empty);
    let pkg = table(toml, "package");
    let name = match pkg.and_then(|p| string(p, "name")) {
        Some(n) => n.to_owned(),
        None => {
            let n = name_from_dir(dir);
            if pkg.is_some() {
                diagnostics.push(manifest_diag(
                    root,
                    dir,
                    format!("[package] has no `name`; named `{n}` after its directory"),
                ));
            }
            n
        }
    };
    let auto = |key: &str| -> bool {
        pkg.and_then(|p| p.get(key))
            .and_then(toml::Value::as_bool)
            .unwrap_or(true)
    };
    let mut targets = Vec::new();
    // The library: `[lib] path`, or `src/lib.rs`.
    let lib = table(toml, "lib");
    let lib_path = lib
        .and_then(|t| string(t, "path"))
        .map(|p| dir.join(p))
        .unwrap_or_else(|| dir.join("src/lib.rs"));
    if lib_path.is_file() {
        let lib_name = lib
            .and_then(|t| string(t, "name"))
            .map(str::to_owned)
            .unwrap_or_else(|| name.clone())
            .replace('-', "_");
        targets.push(Target {
            namespace: lib_name.clone(),
            package: name.clone(),
            lib_name: Some(lib_name),
            kind: TargetKind::Lib,
            root: lib_path,
        });
    } else if lib.is_some() {
        diagnostics.push(manifest_diag(
            root,
            dir,
            format!("[lib] file {} does not exist", rel(root, &lib_path)),
        ));
    }
    let kinds = [
        (TargetKind::Bin, "bin", "src/bin", "autobins"),
        (TargetKind::Test, "test", "tests", "autotests"),
        (TargetKind::Example, "example", "examples", "autoexamples"),
        (TargetKind::Bench, "bench", "benches", "autobenches"),
    ];
    for (kind, key, auto_dir, auto_key) in kinds {
        let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
        // Cargo's automatic discovery: `dir/*.rs` and `dir/*/main.rs`, and for
        // binaries `src/main.rs` named after the package.
        if auto(auto_key) {
            if kind == TargetKind::Bin && dir.join("src/main.rs").is_file() {
                found.insert(name.clone(), dir.join("src/main.rs"));
            }
            if let Ok(entries) = std::fs::read_dir(dir.join(auto_dir)) {
                for e in entries.flatten() {
                    let p = e.path();
                    let stem = p
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if p.extension().is_some_and(|x| x == "rs") && p.is_file() {
                        found.insert(stem, p);
                    } else if p.join("main.rs").is_file() {
                        found.insert(stem, p.join("main.rs"));
                    }
                }
            }
        }
        let declared: Vec<&toml::Table> = toml
            .get(key)
            .and_then(toml::Value::as_array)
            .map(|a| a.iter().filter_map(toml::Value::as_table).collect())
            .unwrap_or_default();
        for t in declared {
            let tname = match (string(t, "name"), string(t, "path")) {
                (Some(n), _) => n.to_owned(),
                (None, Some(p)) => Path::new(p)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                (None, None) => {
                    diagnostics.push(manifest_diag(
                        root,
                        dir,
                        format!("a [[{key}]] has neither `name` nor `path`; skipped"),
                    ));
                    continue;
                }
            };
            let path = match string(t, "path") {
                Some(p) => dir.join(p),
                None => {
                    let flat = dir.join(auto_dir).join(format!("{tname}.rs"));
                    let nested = dir.join(auto_dir).join(&tname).join("main.rs");
                    if kind == TargetKind::Bin && tname == name && !flat.is_file() {
                        dir.join("src/main.rs")
                    } else if flat.is_file() || !nested.is_file() {
                        flat
                    } else {
                        nested
                    }
                }
            };
            if path.is_file() {
                found.insert(tname, path);
            } else {
                diagnostics.push(manifest_diag(
                    root,
                    dir,
                    format!(
                        "[[{key}]] `{tname}`: file {} does not exist; skipped",
                        rel(root, &path)
                    ),
                ));
            }
        }
        for (tname, root_file) in found {
            targets.push(Target {
                namespace: format!("{name}[{key}:{tname}]"),
                package: name.clone(),
                lib_name: None,
                kind,
                root: root_file,
            });
        }
    }
    Package {
        dir: dir.to_owned(),
        targets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(dir: &Path, text: &str) {
        std::fs::write(dir.join("Cargo.toml"), text).unwrap();
    }

    #[test]
    fn reads_what_the_hand_reader_could_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/my.rs"), "").unwrap();
        std::fs::write(dir.path().join("src/tool.rs"), "").unwrap();
        manifest(
            dir.path(),
            r#"
[package]
name = "my-crate"
description = """
several
lines"""
version.workspace = true
metadata = { a = [
  1,
  2,
] }

[lib]
path = "src/my.rs"

[[bin]]
name = "tool"
path = "src/tool.rs"
"#,
        );
        let mut d = Vec::new();
        let p = discover(dir.path(), &mut d).unwrap();
        assert!(d.is_empty(), "{d:?}");
        let names: Vec<&str> = p[0].targets.iter().map(|t| t.namespace.as_str()).collect();
        assert_eq!(names, ["my_crate", "my-crate[bin:tool]"]);
    }

    #[test]
    fn broken_manifest_is_reported_and_layout_used() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "").unwrap();
        std::fs::write(dir.path().join("src/main.rs"), "").unwrap();
        manifest(dir.path(), "[package\nname = ");
        let mut d = Vec::new();
        let p = discover(dir.path(), &mut d).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].kind, DiagnosticKind::Manifest);
        assert!(d[0].message.contains("line 1"), "{}", d[0].message);
        assert_eq!(p[0].targets.len(), 2);
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", "abc"));
        assert!(glob_match("tokio-*", "tokio-util"));
        assert!(!glob_match("tokio-*", "tokio"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("*-[xy]", "crate-y"));
        assert!(!glob_match("a*b", "acbc"));
        assert!(glob_match("a*b*", "acbc"));
        assert_eq!(name_from_dir(Path::new("/r/syn-2.0.119")), "syn");
        assert_eq!(name_from_dir(Path::new("/r/regex-syntax")), "regex-syntax");
    }
}
