//! A typed configuration language (a Ligature-compatible core), type-checked and
//! evaluated sequentially or in parallel, with a bounded concurrent cache, a
//! dependency-aware work queue, timeouts, and the `config-eval` command-line tool.
//!
//! A program is a root module and the modules it imports. Each module has
//! `let` bindings, `type` aliases, unions and refinement types; the grammar is written
//! down in `docs/config-eval.md`. The [`Engine`] loads a program through a resolver
//! rooted at one directory, type-checks it (Hindley-Milner with annotations) and
//! evaluates every top-level binding strictly; the result is a record of the root
//! module's exported bindings, which serialises to JSON with [`Value::to_json`].
//!
//! The sequential path is the reference. The parallel path checks modules on a
//! [`WorkQueue`] that starts a module as soon as its imports are checked, and evaluates
//! all top-level bindings on a rayon pool, each binding computed once (others that need
//! it park until it is ready). It must give the same value, or the same first error,
//! as the sequential path; the tests check that on every corpus file and on generated
//! programs.
//!
//! The language has a standard library (lists, strings, conversions), string
//! interpolation, record update and merge, list patterns with a rest, refinement types
//! checked wherever a value enters them, and type classes.
//!
//! What this crate deliberately does not do: row polymorphism (a
//! record parameter whose fields are read needs an annotation), exhaustiveness checks
//! for `match` (a value no arm accepts is an evaluation error), lazy evaluation, I/O
//! from inside programs, network imports, or async: the work is CPU-bound and the
//! library never creates a runtime.
//!
//! ```
//! use config_eval::{Config, Engine};
//!
//! let engine = Engine::new(Config::default())?;
//! let value = engine.eval_str(r#"
//!     module demo;
//!     type Port = Integer where \p -> p > 0 && p < 65536;
//!     let base: Port = 8000;
//!     let offset = \n -> base + n;
//!     export let server = { host = "localhost", port = offset 80 };
//! "#)?;
//! assert_eq!(value.to_json()?.to_string(), r#"{"server":{"host":"localhost","port":8080}}"#);
//! # Ok::<(), config_eval::Error>(())
//! ```
//!
//! # Limits
//!
//! Every phase is bounded by default: [`Config::default`] sets a timeout (60 s, over
//! loading, type checking and evaluation), evaluation steps, recursion depth, the
//! largest string or list a program may build, the largest input file, and type-checking
//! steps. The type checker shares types (union-find over an arena), so it is linear in
//! the program even where a type written out would be exponentially large. The limits
//! and their defaults are listed in `docs/config-eval.md`.
//!
//! # Feature flags
//!
//! - `cli` (on): builds the `config-eval` binary; the only feature that pulls in clap.
//!   The library builds and works without it.
//! - `parallel-default` (off): makes [`Config::default`] choose the parallel engine.
//!   It is the seed's migration switch; both engines are always compiled and can be
//!   chosen per call with [`Engine::eval_with`] and [`Strategy`], so one process can
//!   measure both.
//! - `loom` (off): compiles loom models of the [`WorkQueue`]'s mutex and condition
//!   variable protocol (run with `RUSTFLAGS="--cfg loom"`); no effect otherwise.
#![deny(missing_docs)]

mod ast;
mod cache;
mod engine;
mod error;
mod eval;
pub mod generate;
mod parser;
mod printer;
mod program;
mod scheduler;
mod stdlib;
mod sync;
mod types;

pub use cache::{CacheStats, ConcurrentCache, TierStats};
pub use engine::{Config, Engine, EngineStats, Strategy};
pub use error::Error;
pub use eval::{Function, Value};
pub use program::Program;

/// Parses `source` and prints it back in canonical form: every compound expression
/// parenthesised, one item per line, comments dropped. The result parses to the same
/// syntax tree, so it evaluates to the same value.
pub fn format_source(source: &str) -> Result<String, Error> {
    let m = parser::parse_module(source).map_err(|e| Error::Syntax {
        file: "<input>".into(),
        line: e.span.line,
        col: e.span.col,
        message: e.message,
    })?;
    Ok(printer::print_module(&m))
}
pub use scheduler::{PollingWorkQueue, Priority, TaskId, TaskStatus, WorkQueue, POLL_INTERVAL};
