//! Integration tests of code-graph: fixture crates written to temporary directories,
//! determinism, bad input, and real crates (this workspace and the local cargo registry).
// Test helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod bad_input;
mod call_sample;
mod calls;
// The binary is built only with the `tools` feature.
#[cfg(feature = "tools")]
mod cli;
mod determinism;
mod fixtures;
mod golden;
mod macros;
mod real_crates;

use std::path::Path;

/// Writes `files` (path, contents) under `dir`, creating directories.
pub(crate) fn write_tree(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// A temporary crate named `name` with the given files besides its `Cargo.toml`.
pub(crate) fn crate_dir(name: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[(
            "Cargo.toml",
            &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n"),
        )],
    );
    write_tree(dir.path(), files);
    dir
}
