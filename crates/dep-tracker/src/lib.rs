//! The dependency log of a query pipeline (read, parse, resolve, exec), made to scale
//! across threads, and the incremental re-execution that such a log exists for.
//!
//! A run starts from [`Context::root`]; each step starts its dependencies with
//! [`Context::in_read`], [`in_parse`](Context::in_parse),
//! [`in_resolve`](Context::in_resolve) or [`in_exec`](Context::in_exec), which record one
//! [`Dependency`] and return the child's context. Edges have one direction everywhere:
//! `from` is the step that needs, `to` the step needed. Steps may run on any thread;
//! [`StepId`]s are unique in the process and a child keeps its real parent wherever it
//! runs.
//!
//! Where the edges go is a [`DependencyLog`]: [`MutexLog`] (the seed's `Mutex<Vec>`),
//! [`AppendOnlyVecLog`] (the seed's option 1), [`BoxcarLog`] and [`BufferedLog`] (each
//! step publishes its edges once, when it finishes). [`DefaultLog`] is the best-measured
//! one. A [`DependencyGraph`] built from a log (or from any edges) answers what a change
//! invalidates, finds cycles, orders steps and exports DOT. [`Engine`] is the
//! incremental re-execution: steps record what they read, and after inputs change only
//! the steps whose inputs changed run again, with early cutoff.
//!
//! It deliberately does not persist anything, schedule work of its own (parallelism is
//! rayon's), or know what a step does: step kinds are labels, keys and values are the
//! user's.
//!
//! ```
//! use dep_tracker::{Context, DependencyGraph, StepKind};
//!
//! let root = Context::root();
//! let exec = root.in_exec();
//! let resolve = exec.in_resolve();
//! let parse = resolve.in_parse();
//! let read = parse.in_read();
//! let ids = [root.step(), exec.step(), resolve.step(), parse.step(), read.step()];
//! drop((read, parse, resolve, exec));
//!
//! let deps = root.dependencies();
//! assert_eq!(deps.len(), 4);
//! // `from` needs `to`: the root needs the exec step, and so on down to the read.
//! assert!(deps.iter().any(|d| d.from == ids[0] && d.to == ids[1] && d.kind == StepKind::Exec));
//!
//! let graph = DependencyGraph::from_dependencies(&deps);
//! // Changing what was read invalidates every step above it.
//! assert_eq!(graph.invalidated(&[ids[4]]).len(), 5);
//! // Dependencies first.
//! assert_eq!(graph.topological_order().unwrap(), ids.iter().rev().copied().collect::<Vec<_>>());
//! ```
//!
//! # Feature flags
//!
//! - `append-only-vec-log`: makes [`DefaultLog::default`] record like
//!   [`AppendOnlyVecLog`], the seed's recommended option 1, instead of like
//!   [`BufferedLog`]. It changes that default value only: [`DefaultLog`] is the same type
//!   with or without the feature, so a dependent turning it on changes no type another
//!   dependent names. Every log is a real, tested type either way.
//! - `loom`: loom models of the buffered log's publication; they run only with
//!   `RUSTFLAGS="--cfg loom"` (`cargo test -p dep-tracker --features loom --release --lib
//!   loom`).
#![deny(missing_docs)]

mod context;
mod engine;
mod error;
mod graph;
mod log;
mod step;
mod sync;
mod table;

pub use context::Context;
pub use engine::{Engine, Step};
pub use error::Error;
pub use graph::DependencyGraph;
pub use log::{
    AppendOnlyVecLog, BoxcarLog, BufferedLog, DefaultLog, DependencyLog, MutexLog, StepBuffer,
};
pub use step::{Dependency, StepId, StepKind};
