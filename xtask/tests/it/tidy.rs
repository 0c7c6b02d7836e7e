//! Tidy checks: conventions of the workspace that a test enforces, so that
//! `cargo test --workspace` (and so CI) fails when one is broken.
//!
//! - Every `.rs` file opens with a `//!` doc comment.
//! - In each crate's library and binaries (`crates/*/src`), locks and atomics (`std`'s
//!   `Mutex`, `RwLock`, `Condvar`, `atomic`; `parking_lot`; `dashmap`; loom's `sync`)
//!   are named only in the crate's `sync` module (`src/sync.rs` or `src/sync/`), and
//!   that module is private. Test code is not checked: items under `#[cfg(test)]` (or a
//!   `cfg` naming `test`), integration tests and the `benches` crate measure and exercise
//!   raw primitives on purpose (a loom model counts its runs with `std`'s atomic).
//! - No test is skipped (`ignore` attribute) or passes by panicking (`should_panic`).
//! - A library crate's README links nowhere outside its package: crates.io and docs.rs
//!   show the README without the rest of the repository, so a link to `../../docs/x.md`
//!   is dead there; it must be an absolute URL.
//!
//! Each failure names the file and line. The checks read source text with comments and
//! string literals blanked out, so prose and test data never trip them.
//!
//! clippy's `disallowed-types` does not fit the lock rule: it resolves a re-export to the
//! original type, so it would flag `crate::sync::Mutex` as much as `std::sync::Mutex`.

use std::fs;
use std::path::{Path, PathBuf};

/// Names that must not follow `std::sync::` outside a `sync` module.
const LOCK_NAMES: [&str; 7] = [
    "Mutex",
    "MutexGuard",
    "RwLock",
    "RwLockReadGuard",
    "RwLockWriteGuard",
    "Condvar",
    "atomic",
];

/// Paths that are locks or atomics whatever follows them.
const LOCK_CRATES: [&str; 3] = ["parking_lot::", "dashmap::", "crossbeam_utils::atomic"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// Every `.rs` file below `dir`, skipping build output and hidden folders.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let file_type = entry
            .file_type()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if file_type.is_dir() {
            if !(name.starts_with('.') || name == "target" || name.starts_with("target-")) {
                rust_files(&path, out);
            }
        } else if file_type.is_file() && name.ends_with(".rs") {
            out.push(path);
        }
    }
}

struct Source {
    /// Relative to the workspace root, with `/` separators.
    path: String,
    text: String,
    /// `text` with comments and string and character literals replaced by spaces; line
    /// breaks are kept, so byte offsets map to the same lines.
    code: String,
}

fn sources() -> Vec<Source> {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    assert!(
        files.len() > 50,
        "tidy found only {} .rs files under {}: is the workspace root right?",
        files.len(),
        root.display()
    );
    files
        .into_iter()
        .map(|file| {
            let text =
                fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let path = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            let code = blank_comments_and_literals(&text);
            Source { path, text, code }
        })
        .collect()
}

/// Replaces comments, string literals (plain, byte and raw) and character literals with
/// spaces, keeping line breaks. Lifetimes (`'a`) are code and stay.
fn blank_comments_and_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if !prev_ident
            && (c == 'r' || (c == 'b' && next == Some('r')))
            && raw_string_start(&chars, i).is_some()
        {
            let (hashes, body_start) = raw_string_start(&chars, i).unwrap_or((0, i));
            let closing: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            for _ in i..body_start {
                out.push(' ');
            }
            i = body_start;
            while i < chars.len() && !chars[i..].starts_with(&closing) {
                out.push(blank(chars[i]));
                i += 1;
            }
            for _ in 0..closing.len().min(chars.len().saturating_sub(i)) {
                out.push(' ');
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A character literal is 'x' or an escape; anything else is a lifetime.
            let end = if next == Some('\\') {
                (i + 2..chars.len().min(i + 12)).find(|&j| chars[j] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    for _ in i..=end {
                        out.push(' ');
                    }
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// At `r"`, `r#"`, `br"`...: the number of `#` and the index of the first body char.
fn raw_string_start(chars: &[char], at: usize) -> Option<(usize, usize)> {
    let mut i = at + if chars[at] == 'b' { 2 } else { 1 };
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    (chars.get(i) == Some(&'"')).then_some((hashes, i + 1))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// The text after `at`: a balanced `{...}` group, or a path of identifiers and `::`.
fn path_tail(code: &str, at: usize) -> &str {
    let rest = &code[at..];
    if rest.starts_with('{') {
        let mut depth = 0;
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return &rest[..=i];
                    }
                }
                _ => {}
            }
        }
        rest
    } else {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        &rest[..end]
    }
}

/// The lock or atomic names in a path tail such as `{Arc, Mutex}` or `atomic::AtomicU64`.
fn lock_names(tail: &str) -> Vec<&str> {
    tail.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| LOCK_NAMES.contains(w) || w.starts_with("Atomic"))
        .collect()
}

/// Byte offsets of `needle` in `code` that start a path (not the tail of a longer name).
fn path_starts<'a>(code: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    code.match_indices(needle)
        .map(|(i, _)| i)
        .filter(move |&i| {
            !code[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
}

/// Lock and atomic names used outside the `sync` module in one file's code.
fn lock_violations(code: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for root in ["std::sync::", "core::sync::", "loom::sync::"] {
        for at in path_starts(code, root) {
            let names = lock_names(path_tail(code, at + root.len()));
            if !names.is_empty() {
                found.push((line_of(code, at), format!("{root}{}", names.join(", "))));
            }
        }
    }
    // `use std::{sync::Mutex, ...}`.
    for at in path_starts(code, "std::{") {
        let group = path_tail(code, at + "std::".len());
        for (offset, _) in group.match_indices("sync::") {
            let names = lock_names(path_tail(group, offset + "sync::".len()));
            if !names.is_empty() {
                found.push((
                    line_of(code, at),
                    format!("std::sync::{}", names.join(", ")),
                ));
            }
        }
    }
    for krate in LOCK_CRATES {
        for at in path_starts(code, krate) {
            found.push((line_of(code, at), krate.trim_end_matches(':').to_string()));
        }
    }
    found.sort();
    found
}

/// `code` with every item gated on a `cfg` that names `test` (a test module, a test-only
/// helper or import) blanked out, line breaks kept.
fn without_test_items(code: &str) -> String {
    let mut out: Vec<u8> = code.as_bytes().to_vec();
    for (at, _) in code.match_indices("#[cfg(") {
        let Some(close) = code[at..].find(']').map(|i| at + i) else {
            continue;
        };
        let condition = &code[at..close];
        let names_test = condition
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|w| w == "test");
        if !names_test || condition.contains("not(test") {
            continue;
        }
        // The item ends at its first `;` or at the brace closing its first `{`.
        let mut depth = 0;
        let mut end = code.len();
        for (i, c) in code[close..].char_indices() {
            match c {
                ';' if depth == 0 => {
                    end = close + i + 1;
                    break;
                }
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = close + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        for byte in &mut out[at..end] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    }
    // Only ASCII bytes were replaced, by ASCII, so the text stays valid UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// Whether a file is a crate's library or binary source outside its `sync` module.
fn is_checked_for_locks(path: &str) -> bool {
    let mut parts = path.split('/');
    let (Some("crates"), Some(_krate), Some("src")) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let rest: Vec<&str> = parts.collect();
    !(rest == ["sync.rs"] || rest.first() == Some(&"sync"))
}

fn report(violations: &[String], what: &str) {
    assert!(
        violations.is_empty(),
        "{} {what}:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn every_rust_file_opens_with_a_module_doc_comment() {
    let violations: Vec<String> = sources()
        .iter()
        .filter(|s| !s.text.starts_with("//!"))
        .map(|s| format!("{}:1: does not open with a `//!` doc comment", s.path))
        .collect();
    report(&violations, "file(s) without an opening `//!` comment");
}

#[test]
fn locks_and_atomics_come_only_from_the_crates_sync_module() {
    let mut violations = Vec::new();
    for source in sources() {
        if is_checked_for_locks(&source.path) {
            for (line, what) in lock_violations(&without_test_items(&source.code)) {
                violations.push(format!(
                    "{}:{line}: names `{what}` outside the crate's `sync` module; \
                     import it from `crate::sync`",
                    source.path
                ));
            }
        }
        if source.path.starts_with("crates/") && source.path.ends_with("/src/lib.rs") {
            for (at, _) in source.code.match_indices("pub mod sync") {
                violations.push(format!(
                    "{}:{}: the `sync` module is public; it is the crate's private choice \
                     (`mod sync;`)",
                    source.path,
                    line_of(&source.code, at)
                ));
            }
        }
    }
    report(
        &violations,
        "lock or atomic import(s) outside a `sync` module",
    );
}

#[test]
fn no_test_is_skipped_or_expected_to_panic() {
    let attributes = [concat!("#[", "ignore"), concat!("#[", "should_panic")];
    let mut violations = Vec::new();
    for source in sources() {
        for attribute in attributes {
            for (at, _) in source.code.match_indices(attribute) {
                let after = source.code[at + attribute.len()..].chars().next();
                if matches!(after, Some(']' | '=' | '(' | ' ')) {
                    violations.push(format!(
                        "{}:{}: `{attribute}]`: assert on the error instead of skipping \
                         or expecting a panic",
                        source.path,
                        line_of(&source.code, at)
                    ));
                }
            }
        }
    }
    report(&violations, "skipped or panic-expecting test(s)");
}

/// Relative link targets in markdown that leave the file's folder (`](../x)`).
fn links_leaving_the_folder(markdown: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in markdown.lines().enumerate() {
        for (at, _) in line.match_indices("](") {
            let target: String = line[at + 2..].chars().take_while(|&c| c != ')').collect();
            if target.starts_with("../") || target.starts_with("/") {
                found.push((index + 1, target));
            }
        }
    }
    found
}

#[test]
fn crate_readmes_link_only_inside_the_package_or_to_urls() {
    let crates = workspace_root().join("crates");
    let mut readmes: Vec<PathBuf> = fs::read_dir(&crates)
        .unwrap_or_else(|e| panic!("{}: {e}", crates.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("README.md"))
        .filter(|path| path.is_file())
        .collect();
    readmes.sort();
    assert!(!readmes.is_empty(), "no crates/*/README.md found");
    let mut violations = Vec::new();
    for readme in readmes {
        let text =
            fs::read_to_string(&readme).unwrap_or_else(|e| panic!("{}: {e}", readme.display()));
        let shown = readme
            .strip_prefix(workspace_root())
            .unwrap_or(&readme)
            .display()
            .to_string();
        for (line, target) in links_leaving_the_folder(&text) {
            violations.push(format!(
                "{shown}:{line}: links to `{target}`, outside the package: use an absolute \
                 URL (the repository's, from Cargo.toml)"
            ));
        }
    }
    report(
        &violations,
        "README link(s) that break on crates.io and docs.rs",
    );
}

#[test]
fn the_checks_see_through_comments_and_strings_but_not_code() {
    let code = blank_comments_and_literals(
        "//! Doc.\nuse std::sync::{Arc, Mutex}; // parking_lot::Mutex\nlet s = \"std::sync::atomic\";\nlet r = r#\"dashmap::\"#;\nfn f<'a>(c: char) -> bool { c == '\"' }\n/* parking_lot:: */ use parking_lot::RwLock;\n",
    );
    let found = lock_violations(&code);
    assert_eq!(
        found,
        [
            (2, "std::sync::Mutex".to_string()),
            (6, "parking_lot".to_string())
        ]
    );
    assert_eq!(code.lines().count(), 6);
    assert!(code.contains("fn f<'a>"));

    let grouped = "use std::{collections::HashMap, sync::{atomic::{AtomicU64, Ordering}, Arc}};\n";
    assert_eq!(
        lock_violations(grouped),
        [(1, "std::sync::atomic, AtomicU64".to_string())]
    );
    assert!(
        lock_violations("use std::sync::{Arc, OnceLock, Barrier};\nstruct DashMapInterner;\n")
            .is_empty()
    );
    assert!(!lock_violations("let x = std::sync::atomic::AtomicBool::new(false);").is_empty());

    let gated = "use a::B;\n#[cfg(test)]\nmod tests {\n    use std::sync::Mutex;\n    fn f() { g({ 1 }); }\n}\n#[cfg(all(test, loom))]\nuse loom::sync::Mutex;\n#[cfg(not(test))]\nuse std::sync::RwLock;\n";
    let kept = without_test_items(gated);
    assert_eq!(kept.lines().count(), 10);
    assert_eq!(
        lock_violations(&kept),
        [(10, "std::sync::RwLock".to_string())]
    );
    assert!(lock_violations("use loom::sync::Arc;").is_empty());

    assert!(is_checked_for_locks("crates/cow-env/src/cache.rs"));
    assert!(is_checked_for_locks("crates/cow-env/src/bin/metta-run.rs"));
    assert!(!is_checked_for_locks("crates/cow-env/src/sync.rs"));
    assert!(!is_checked_for_locks(
        "crates/graphdb-core/src/sync/rank.rs"
    ));
    assert!(!is_checked_for_locks("crates/cow-env/tests/it/main.rs"));
    assert!(!is_checked_for_locks("benches/src/cow_env.rs"));

    assert_eq!(
        links_leaving_the_folder(
            "See [a](../../docs/a.md) and [b](https://x/b.md).\n[c](src/c.rs)"
        ),
        [(1, "../../docs/a.md".to_string())]
    );
}
