//! Integration tests of config-eval: the corpus, the CLI, limits, imports, the work
//! queue, property tests and a bounded stress run.

// Tests may unwrap (clippy.toml allows it inside #[test] functions; the helpers
// shared between tests are covered here).
#![allow(clippy::unwrap_used)]

#[cfg(feature = "cli")]
mod cli;
mod corpus;
mod imports;
mod language;
mod limits;
mod props;
mod scheduler;
mod stress;

use config_eval::{Config, Engine, Error, Strategy, Value};

/// A sequential engine without cache: the reference.
pub fn sequential() -> Engine {
    Engine::new(Config {
        parallel: false,
        worker_threads: 1,
        cache_size: 0,
        ..Config::default()
    })
    .unwrap()
}

/// A parallel engine that never falls back to the sequential path.
pub fn parallel(workers: usize) -> Engine {
    Engine::new(Config {
        parallel: true,
        worker_threads: workers,
        cache_size: 0,
        parallel_threshold: 0,
        ..Config::default()
    })
    .unwrap()
}

/// Evaluates `files` (root `main.lig`) with both engines, asserts they agree and
/// returns the sequential result.
pub fn eval_both(files: &[(&str, &str)]) -> Result<Value, Error> {
    let seq = sequential();
    let par = parallel(4);
    let a = seq
        .load_files(files, "main.lig")
        .and_then(|p| seq.eval_with(&p, Strategy::Sequential));
    let b = par
        .load_files(files, "main.lig")
        .and_then(|p| par.eval_with(&p, Strategy::Parallel));
    assert_eq!(a, b, "sequential and parallel disagree on {files:?}");
    a
}
