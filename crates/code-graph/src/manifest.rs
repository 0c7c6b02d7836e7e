//! Reading `Cargo.toml`: the packages of a crate or workspace directory and their targets.
//!
//! Only the TOML this needs is understood: `[table]` and `[[array-of-tables]]` headers,
//! `key = value` with string, boolean, number and string-array values (arrays may span
//! lines), comments, and inline tables, which are skipped. Anything else in a value is
//! ignored unless it is one of the keys read here (`package.name`, `lib.name`,
//! `lib.path`, `name`/`path` of `[[bin]]`, `[[test]]`, `[[example]]`, `[[bench]]`,
//! `workspace.members`, `workspace.exclude`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Array(Vec<String>),
    Other,
}

/// Tables of one manifest: `name -> keys`, arrays of tables as several entries.
#[derive(Debug, Default)]
struct Toml {
    tables: Vec<(String, BTreeMap<String, Value>)>,
}

impl Toml {
    fn table(&self, name: &str) -> Option<&BTreeMap<String, Value>> {
        self.tables.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &BTreeMap<String, Value>> {
        let name = name.to_owned();
        self.tables
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, t)| t)
    }
}

fn str_of<'a>(t: &'a BTreeMap<String, Value>, key: &str) -> Option<&'a str> {
    match t.get(key) {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    }
}

fn parse_toml(text: &str, path: &Path) -> Result<Toml, CodeGraphError> {
    let err = |line: usize, message: String| CodeGraphError::Manifest {
        path: path.to_owned(),
        line,
        message,
    };
    let mut toml = Toml::default();
    toml.tables.push((String::new(), BTreeMap::new()));
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let line = strip_comment(lines[i]).trim().to_owned();
        i += 1;
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("[[") {
            let name = rest
                .strip_suffix("]]")
                .ok_or_else(|| err(lineno, "unclosed `[[` table header".into()))?;
            toml.tables.push((name.trim().to_owned(), BTreeMap::new()));
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or_else(|| err(lineno, "unclosed `[` table header".into()))?;
            toml.tables.push((name.trim().to_owned(), BTreeMap::new()));
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(
                lineno,
                format!("expected `key = value`, found `{line}`"),
            ));
        };
        let key = key.trim().trim_matches('"').to_owned();
        let mut value = value.trim().to_owned();
        // A multi-line array: gather lines until the brackets balance.
        if value.starts_with('[') {
            while bracket_depth(&value) > 0 {
                let Some(next) = lines.get(i) else {
                    return Err(err(lineno, format!("array of `{key}` is never closed")));
                };
                value.push(' ');
                value.push_str(strip_comment(next).trim());
                i += 1;
            }
        }
        let parsed = parse_value(&value).map_err(|m| err(lineno, format!("`{key}`: {m}")))?;
        if let Some((_, table)) = toml.tables.last_mut() {
            table.insert(key, parsed);
        }
    }
    Ok(toml)
}

fn strip_comment(line: &str) -> &str {
    let mut in_str: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (in_str, c) {
            (None, '"' | '\'') => in_str = Some(c),
            (Some(q), c) if c == q => in_str = None,
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn bracket_depth(s: &str) -> i32 {
    let mut depth = 0;
    let mut in_str: Option<char> = None;
    for c in s.chars() {
        match (in_str, c) {
            (None, '"' | '\'') => in_str = Some(c),
            (Some(q), c) if c == q => in_str = None,
            (None, '[') => depth += 1,
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    depth
}

fn parse_string(s: &str) -> Result<(String, &str), String> {
    let quote = s.chars().next().ok_or("empty value")?;
    let body = &s[1..];
    let end = body
        .find(quote)
        .ok_or_else(|| format!("unterminated string `{s}`"))?;
    Ok((body[..end].replace("\\\\", "\\"), &body[end + 1..]))
}

fn parse_value(s: &str) -> Result<Value, String> {
    let s = s.trim();
    if s.starts_with('"') || s.starts_with('\'') {
        return Ok(Value::Str(parse_string(s)?.0));
    }
    if let Some(inner) = s.strip_prefix('[') {
        let mut rest = inner.trim();
        let mut out = Vec::new();
        loop {
            rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
            if rest.starts_with(']') || rest.is_empty() {
                break;
            }
            if rest.starts_with('"') || rest.starts_with('\'') {
                let (item, after) = parse_string(rest)?;
                out.push(item);
                rest = after;
            } else {
                // Non-string arrays (numbers, inline tables) are not needed here.
                return Ok(Value::Other);
            }
        }
        return Ok(Value::Array(out));
    }
    Ok(Value::Other)
}

fn read_manifest(dir: &Path) -> Result<Option<Toml>, CodeGraphError> {
    let path = dir.join("Cargo.toml");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|source| CodeGraphError::Io {
        path: path.clone(),
        source,
    })?;
    parse_toml(&text, &path).map(Some)
}

/// The packages of `dir`: the package itself, or a workspace's members (and its root
/// package, if it has one). Members that cannot be found become diagnostics.
pub(crate) fn discover(
    dir: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Vec<Package>, CodeGraphError> {
    let Some(root) = read_manifest(dir)? else {
        return Err(CodeGraphError::NoManifest {
            path: dir.to_owned(),
        });
    };
    let mut packages = Vec::new();
    if root.table("package").is_some() {
        packages.push(package(dir, &root)?);
    }
    if let Some(ws) = root.table("workspace") {
        let excluded: Vec<PathBuf> = match ws.get("exclude") {
            Some(Value::Array(a)) => a.iter().map(|e| dir.join(e)).collect(),
            _ => Vec::new(),
        };
        let mut member_dirs = Vec::new();
        if let Some(Value::Array(members)) = ws.get("members") {
            for m in members {
                if let Some(prefix) = m.strip_suffix("/*") {
                    let base = dir.join(prefix);
                    let entries =
                        std::fs::read_dir(&base).map_err(|source| CodeGraphError::Io {
                            path: base.clone(),
                            source,
                        })?;
                    for e in entries.flatten() {
                        if e.path().join("Cargo.toml").is_file() {
                            member_dirs.push(e.path());
                        }
                    }
                } else {
                    member_dirs.push(dir.join(m));
                }
            }
        }
        member_dirs.sort();
        member_dirs.dedup();
        for m in member_dirs {
            if excluded.contains(&m) || m == dir {
                continue;
            }
            match read_manifest(&m)? {
                Some(t) if t.table("package").is_some() => packages.push(package(&m, &t)?),
                _ => diagnostics.push(Diagnostic {
                    file: "Cargo.toml".into(),
                    line: 0,
                    column: 0,
                    kind: DiagnosticKind::Manifest,
                    message: format!(
                        "workspace member `{}` has no package manifest; skipped",
                        m.display()
                    ),
                }),
            }
        }
    }
    Ok(packages)
}

fn package(dir: &Path, toml: &Toml) -> Result<Package, CodeGraphError> {
    let pkg = toml.table("package").and_then(|t| str_of(t, "name"));
    let Some(name) = pkg.map(str::to_owned) else {
        return Err(CodeGraphError::Manifest {
            path: dir.join("Cargo.toml"),
            line: 0,
            message: "[package] has no `name`".into(),
        });
    };
    let mut targets = Vec::new();
    // The library: `[lib] path`, or `src/lib.rs`.
    let lib = toml.table("lib");
    let lib_path = lib
        .and_then(|t| str_of(t, "path"))
        .map(|p| dir.join(p))
        .unwrap_or_else(|| dir.join("src/lib.rs"));
    if lib_path.is_file() {
        let lib_name = lib
            .and_then(|t| str_of(t, "name"))
            .map(str::to_owned)
            .unwrap_or_else(|| name.replace('-', "_"));
        targets.push(Target {
            namespace: lib_name.clone(),
            package: name.clone(),
            lib_name: Some(lib_name),
            kind: TargetKind::Lib,
            root: lib_path,
        });
    }
    let kinds = [
        (TargetKind::Bin, "bin", "src/bin"),
        (TargetKind::Test, "test", "tests"),
        (TargetKind::Example, "example", "examples"),
        (TargetKind::Bench, "bench", "benches"),
    ];
    for (kind, table, auto_dir) in kinds {
        let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
        // Cargo's automatic discovery: `dir/*.rs` and `dir/*/main.rs`, and for
        // binaries `src/main.rs` named after the package.
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
        for t in toml.all(table) {
            let Some(tname) = str_of(t, "name") else {
                continue;
            };
            let path = str_of(t, "path")
                .map(|p| dir.join(p))
                .unwrap_or_else(|| dir.join(auto_dir).join(format!("{tname}.rs")));
            if path.is_file() {
                found.insert(tname.to_owned(), path);
            }
        }
        for (tname, root) in found {
            targets.push(Target {
                namespace: format!("{name}[{table}:{tname}]"),
                package: name.clone(),
                lib_name: None,
                kind,
                root,
            });
        }
    }
    Ok(Package {
        dir: dir.to_owned(),
        targets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subset() {
        let text = r#"
# comment
[package]
name = "my-crate" # trailing
version.workspace = true

[lib]
path = "src/my.rs"

[[bin]]
name = "tool"
path = "src/tool.rs"

[workspace]
members = [
    "a",   # first
    "crates/*",
]
deps = { x = 1 }
"#;
        let t = parse_toml(text, Path::new("Cargo.toml")).unwrap();
        assert_eq!(
            str_of(t.table("package").unwrap(), "name"),
            Some("my-crate")
        );
        assert_eq!(str_of(t.table("lib").unwrap(), "path"), Some("src/my.rs"));
        assert_eq!(t.all("bin").count(), 1);
        assert_eq!(
            t.table("workspace").unwrap().get("members"),
            Some(&Value::Array(vec!["a".into(), "crates/*".into()]))
        );
    }

    #[test]
    fn reports_bad_lines() {
        let e = parse_toml("[package\nname = 1", Path::new("Cargo.toml")).unwrap_err();
        assert!(e.to_string().contains(":1:"), "{e}");
        let e = parse_toml("[a]\nx = [\"unclosed\"", Path::new("C")).unwrap_err();
        assert!(e.to_string().contains("never closed"), "{e}");
        let e = parse_toml("just words", Path::new("C")).unwrap_err();
        assert!(e.to_string().contains("key = value"), "{e}");
    }
}
