//! Benchmarks and stress run of this crate: not written yet (see its issue).

use crate::StressContext;
use bench_harness::Suite;

/// Measures nothing yet.
pub fn bench(_suite: &mut Suite) {}

/// Exercises nothing yet.
pub fn stress(_ctx: &StressContext) -> Result<String, String> {
    Ok("no stress run yet".into())
}
