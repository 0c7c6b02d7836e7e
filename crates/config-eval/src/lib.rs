//! A typed configuration language (a Ligature-compatible core) evaluated and
//! type-checked in parallel, with concurrent caches, a dependency-aware scheduler,
//! timeouts and a CLI.
//!
//! This crate is being built; see `docs/config-eval.md` for the plan.
#![deny(missing_docs)]
