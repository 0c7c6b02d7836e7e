//! Integration tests of graphdb-core: one binary, one module per concern.

// Helpers shared by the tests are not `#[test]` functions, so clippy's test exemption
// does not reach them; a failing unwrap there is a test failure, as intended.
#![allow(clippy::unwrap_used)]

mod basic;
#[cfg(feature = "tools")]
mod cli;
mod concurrency;
mod corruption;
mod crash;
mod faults;
mod format;
#[cfg(feature = "tools")]
mod import;
mod index;
mod isolation;
mod journal;
mod model;
mod mvcc;
mod recovery;
#[cfg(feature = "tools")]
mod stress;
mod traversal;

use std::sync::Arc;

use graphdb_core::{Config, GraphDB, MemStorage, SyncMode};

/// A database over in-memory storage, plus the two storages for crash simulation.
pub(crate) fn mem_db(config: Config) -> (GraphDB, MemStorage, MemStorage) {
    let main = MemStorage::new();
    let wal = MemStorage::new();
    let db =
        GraphDB::open_with_storage(Arc::new(main.clone()), Arc::new(wal.clone()), config).unwrap();
    (db, main, wal)
}

pub(crate) fn small_config() -> Config {
    Config {
        sync_mode: SyncMode::Full,
        page_cache_pages: 16,
        node_cache_capacity: 8,
        edge_cache_capacity: 8,
        // A log of format 4 counts its size in page frames or the page images it holds,
        // whichever is larger: 8 is a checkpoint every few commits here.
        checkpoint_after_frames: 8,
        ..Config::default()
    }
}
