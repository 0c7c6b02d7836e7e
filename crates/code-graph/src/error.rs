//! The crate's one error type (fatal problems) and the diagnostics it reports without
//! stopping (problems confined to one file or one module declaration).

use std::path::PathBuf;

use serde::Serialize;

/// A problem that stops the whole build: there is nothing sensible to return.
///
/// Problems confined to one file (a parse error, a missing module file, a `#[path]`
/// cycle) are not errors: they become [`Diagnostic`]s on the graph and the rest is built.
#[derive(Debug, thiserror::Error)]
pub enum CodeGraphError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The input directory holds no `Cargo.toml`.
    #[error("{path}: no Cargo.toml here; code-graph takes a crate or Cargo workspace directory")]
    NoManifest {
        /// The directory given.
        path: PathBuf,
    },
    /// The manifests name no target (no `src/lib.rs`, no `src/main.rs`, no `[[bin]]`...).
    #[error("{path}: no library, binary, test, example or bench target found")]
    NoTargets {
        /// The input directory.
        path: PathBuf,
    },
    /// The rayon thread pool could not be created.
    #[error("could not start {threads} worker threads: {message}")]
    ThreadPool {
        /// The requested thread count.
        threads: usize,
        /// The cause.
        message: String,
    },
    /// Writing an export failed.
    #[error("could not serialise the graph: {0}")]
    Serialise(#[from] serde_json::Error),
}

/// What kind of problem a [`Diagnostic`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiagnosticKind {
    /// The file is not valid Rust; it was skipped (its module node stays, empty).
    ParseError,
    /// The file is not UTF-8; it was skipped.
    NotUtf8,
    /// The file could not be read.
    ReadError,
    /// A `mod name;` declaration has no file.
    MissingModule,
    /// Both `name.rs` and `name/mod.rs` exist; `name.rs` was used.
    AmbiguousModule,
    /// A `mod` declaration (through `#[path]`) would include a file that is already one
    /// of its own ancestors; the declaration was skipped.
    ModuleCycle,
    /// A `.rs` file under the crate that no target's module tree reaches.
    Unreachable,
    /// Two different nodes hashed to the same ID; the second was dropped.
    DuplicateId,
    /// A manifest entry was ignored (for example a workspace member without Cargo.toml).
    Manifest,
}

/// A problem confined to one place in the input, reported on the graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Diagnostic {
    /// The file, relative to the input directory, with `/` separators.
    pub file: String,
    /// 1-based line, 0 when the problem concerns the whole file.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
    /// What kind of problem.
    pub kind: DiagnosticKind,
    /// A sentence for a human.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            DiagnosticKind::ParseError => "parse error",
            DiagnosticKind::NotUtf8 => "not UTF-8",
            DiagnosticKind::ReadError => "read error",
            DiagnosticKind::MissingModule => "missing module",
            DiagnosticKind::AmbiguousModule => "ambiguous module",
            DiagnosticKind::ModuleCycle => "module cycle",
            DiagnosticKind::Unreachable => "unreachable file",
            DiagnosticKind::DuplicateId => "duplicate id",
            DiagnosticKind::Manifest => "manifest",
        };
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {kind}: {}", self.file, self.message),
            (l, 0) => write!(f, "{}:{l}: {kind}: {}", self.file, self.message),
            (l, c) => write!(f, "{}:{l}:{c}: {kind}: {}", self.file, self.message),
        }
    }
}
