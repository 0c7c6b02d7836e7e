//! Integration tests of dep-tracker: one binary, one module per area.

// Helper functions outside `#[test]` fall outside clippy's allow-unwrap-in-tests;
// a failed unwrap in a test is the failure report we want.
#![allow(clippy::unwrap_used)]

mod concurrency;
mod context;
mod cycles;
mod differential;
mod engine;
mod engine_threads;
mod graph;
mod modules;
mod props;

/// Runs `f` once for every log type, naming the log in any failure.
#[macro_export]
macro_rules! for_each_log {
    ($f:ident) => {
        $f::<dep_tracker::MutexLog>();
        $f::<dep_tracker::AppendOnlyVecLog>();
        $f::<dep_tracker::BoxcarLog>();
        $f::<dep_tracker::BufferedLog>();
    };
}
