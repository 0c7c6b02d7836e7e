//! An embedded, crash-safe on-disk graph storage engine: pager, records, write-ahead
//! log, MVCC snapshots and indexes.
//!
//! This crate is being built; see `docs/graphdb-core.md` for the plan.
#![deny(missing_docs)]
