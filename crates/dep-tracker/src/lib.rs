//! Dependency log of a query pipeline (read, parse, resolve, exec), made lock-free, and
//! the incremental re-execution that such a log exists for.
//!
//! This crate is being built; see `docs/dep-tracker.md` for the plan.
#![deny(missing_docs)]
