//! A code graph of Rust source built in parallel with `syn` and rayon: unique, stable
//! IDs, race-free type deduplication, metrics and export.
//!
//! This crate is being built; see `docs/code-graph.md` for the plan.
#![deny(missing_docs)]
