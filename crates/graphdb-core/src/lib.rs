//! An embedded, crash-safe on-disk graph storage engine: fixed-size checksummed pages, a
//! write-ahead log with checksummed frames, multi-version records with snapshot reads, and
//! the seed's phase-1 handle [`GraphDB`] whose read methods take `&self`.
//!
//! A database is one file of 8 KiB pages plus a log file beside it (`<path>-wal`). A
//! write transaction keeps its changes in memory; `commit_transaction` turns them into new
//! record versions (each pointing at the previous version), writes the changed pages to
//! the log as one checksummed transaction and syncs according to the [`SyncMode`].
//! Recovery on open keeps every fully logged transaction and drops torn or unfinished
//! ones; a checkpoint copies logged pages into the main file. Readers ask for the version
//! visible at a snapshot timestamp, so they never see a partial commit. Every page carries
//! a checksum, so damaged bytes surface as [`GraphError::Corruption`], and
//! [`GraphDB::check`] walks the whole file and lists every inconsistency it finds.
//!
//! Storage is pluggable ([`Storage`]): [`FileStorage`] for real files, [`MemStorage`] for
//! tests that simulate power cuts by dropping or tearing unsynced writes.
//!
//! What it deliberately does not do: it is not a concurrent handle (share it behind a
//! lock; the `graphdb-concurrent` crate does), it has no query language, no secondary
//! indexes (label and property lookups scan), and it does not decide which snapshots are
//! still in use: [`GraphDB::vacuum`] takes the oldest one from the caller.
//!
//! ```
//! use graphdb_core::{Config, Edge, GraphDB, Node, Direction};
//!
//! # fn main() -> Result<(), graphdb_core::GraphError> {
//! let dir = tempfile::tempdir()?;
//! let mut db = GraphDB::open(dir.path().join("g.db"), Config::default())?;
//! let mut tx = db.begin_write_txn()?;
//! let alice = tx.add_node(Node::new().with_label("Person").with_property("name", "Alice"))?;
//! let bob = tx.add_node(Node::new().with_label("Person").with_property("name", "Bob"))?;
//! tx.add_edge(Edge::new(alice, bob, "KNOWS"))?;
//! let ts = tx.commit()?;
//!
//! let found = db.get_node(alice)?.expect("committed");
//! assert_eq!(found.properties["name"], "Alice".into());
//! assert_eq!(db.neighbors(alice, Direction::Outgoing, ts, None)?, vec![bob]);
//! // A snapshot taken before the commit sees nothing.
//! assert!(db.get_node_with_snapshot(alice, ts - 1, None)?.is_none());
//! db.close()?;
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! None. The seed's migration switch (`rwlock-optimization`) belongs to the concurrent
//! layer; this crate always has the phase-1 shape (`Mutex<Pager>`, `Mutex<LruCache>`
//! caches, `&self` reads).
#![deny(missing_docs)]

mod check;
mod codec;
mod db;
mod error;
mod index;
#[cfg(feature = "tools")]
pub mod interchange;
mod lookup;
mod page;
mod pager;
mod records;
mod storage;
mod sync;
mod traverse;
mod txn;
mod types;
mod wal;

pub use check::CheckReport;
pub use db::{wal_path, CommitInfo, Config, DbStats, GraphDB, SyncMode, VacuumStats};
pub use error::{GraphError, Result};
pub use index::{compare_values, IndexDef};
pub use lookup::LookupStats;
pub use page::{FORMAT_VERSION, PAGE_SIZE};
pub use pager::PagerStats;
pub use storage::{FileStorage, MemStorage, Storage};
pub use traverse::{Bfs, Components, Snapshot};
pub use txn::WriteTxn;
pub use types::{
    Direction, Edge, EdgeId, Node, NodeId, PageId, Properties, PropertyValue, RecordPointer, TxId,
    MAX_LIST_DEPTH,
};
