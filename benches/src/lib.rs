//! The benchmark and stress programs of the workspace, one module per crate.
//!
//! `cargo xtask bench` runs the `bench` binary, which calls every [`CrateBenches::bench`]
//! with one [`Suite`]; `cargo xtask stress` runs the `stress` binary, which calls every
//! [`CrateBenches::stress`] under a deadlock watchdog.

pub mod code_graph;
pub mod config_eval;
pub mod cow_env;
pub mod demo;
pub mod dep_tracker;
pub mod graphdb;
pub mod graphdb_concurrent;
pub mod graphdb_kuzu;
pub mod stress;

use bench_harness::Suite;
pub use stress::StressContext;

/// The benchmark and stress entry points of one crate.
pub struct CrateBenches {
    /// The crate name, as `--crate` takes it.
    pub name: &'static str,
    /// Measures every benchmark of the crate into the suite.
    pub bench: fn(&mut Suite),
    /// A long concurrent run with integrity checks: `Ok(summary)` or `Err(what broke)`.
    pub stress: fn(&StressContext) -> Result<String, String>,
}

/// Every crate's entry, in report order.
pub const CRATES: &[CrateBenches] = &[
    CrateBenches {
        name: "demo",
        bench: demo::bench,
        stress: demo::stress,
    },
    CrateBenches {
        name: "dep-tracker",
        bench: dep_tracker::bench,
        stress: dep_tracker::stress,
    },
    CrateBenches {
        name: "cow-env",
        bench: cow_env::bench,
        stress: cow_env::stress,
    },
    CrateBenches {
        name: "config-eval",
        bench: config_eval::bench,
        stress: config_eval::stress,
    },
    CrateBenches {
        name: "code-graph",
        bench: code_graph::bench,
        stress: code_graph::stress,
    },
    CrateBenches {
        name: "graphdb",
        bench: graphdb::bench,
        stress: graphdb::stress,
    },
    CrateBenches {
        name: "graphdb-concurrent",
        bench: graphdb_concurrent::bench,
        stress: graphdb_concurrent::stress,
    },
];
