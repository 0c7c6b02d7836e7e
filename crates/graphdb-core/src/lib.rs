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
//! Reads of cached records share everything: the node and edge caches are sharded
//! reader-writer maps of `Arc`s ([`GraphDB::get_node_shared`] hands one out without a
//! clone), so readers on several cores do not take turns on a mutex. Commits queue their
//! log frames in memory; a sync writes and fsyncs every queued commit at once, and
//! [`GraphDB::log_sync`] lets committers of a concurrent layer do that after releasing
//! their lock, so concurrent committers share one write and one fsync (group commit).
//!
//! On top of the records:
//! - **Indexes** ([`IndexDef`]): persistent label indexes and property indexes (B+trees in
//!   the same checksummed, logged pages), created and dropped at run time with
//!   [`GraphDB::create_index`] / [`GraphDB::drop_index`]. [`GraphDB::get_nodes_by_label`],
//!   [`GraphDB::find_nodes_by_property`] and [`GraphDB::find_nodes_by_property_range`]
//!   read them when they exist and scan otherwise. Entries are kept for every stored
//!   version, so an index answers for old snapshots too, and vacuum removes entries with
//!   the versions that produced them.
//! - **Traversal** on one snapshot ([`Snapshot`], from [`GraphDB::snapshot`]): neighbours
//!   by direction and edge type, a streaming breadth-first search with a depth limit
//!   ([`Bfs`]), shortest paths, k-hop neighbourhoods and weakly connected components.
//! - **Integrity check**: [`GraphDB::check`] verifies checksums, record pointers, version
//!   chains, the free and partial-page lists, adjacency symmetry and every index entry
//!   against the data.
//! - With the `tools` feature: the `graphdb` command-line tool and `interchange` (CSV in
//!   Neo4j's bulk-import layout and JSON lines, imported as one transaction).
//!
//! What it deliberately does not do: it is not a concurrent handle (share it behind a
//! lock; the `graphdb-concurrent` crate does), it has no query language or planner (a
//! lookup uses the index named by its label and key, nothing else), it does not lock the
//! file against a second process (the `graphdb` tool does), and it does not decide which
//! snapshots are still in use: [`GraphDB::vacuum`] takes the oldest one from the caller.
//!
//! ```
//! use graphdb_core::{Config, Direction, Edge, GraphDB, IndexDef, Node, PropertyValue};
//!
//! # fn main() -> Result<(), graphdb_core::GraphError> {
//! let dir = tempfile::tempdir()?;
//! let mut db = GraphDB::create(dir.path().join("g.db"), Config::default())?;
//! db.create_index(IndexDef::property("Person", "name"))?;
//! let mut tx = db.begin_write_txn()?;
//! let alice = tx.add_node(Node::new().with_label("Person").with_property("name", "Alice"))?;
//! let bob = tx.add_node(Node::new().with_label("Person").with_property("name", "Bob"))?;
//! let carol = tx.add_node(Node::new().with_label("Person").with_property("name", "Carol"))?;
//! tx.add_edge(Edge::new(alice, bob, "KNOWS"))?;
//! tx.add_edge(Edge::new(bob, carol, "KNOWS"))?;
//! let ts = tx.commit()?;
//!
//! let found = db.find_nodes_by_property("Person", "name", &PropertyValue::from("Bob"))?;
//! assert_eq!(found[0].id, bob);
//! assert_eq!(db.lookup_stats().full_scans, 0); // answered from the index
//! assert_eq!(db.neighbors(alice, Direction::Outgoing, ts, None)?, vec![bob]);
//! let snap = db.snapshot();
//! assert_eq!(snap.shortest_path(alice, carol, Direction::Outgoing, Some("KNOWS"))?,
//!            Some(vec![alice, bob, carol]));
//! let reached: Vec<(u64, u32)> = snap.bfs(alice, Direction::Both, None, Some(1))?
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(reached, vec![(alice, 0), (bob, 1)]);
//! // A snapshot taken before the commit sees nothing.
//! assert!(db.get_node_with_snapshot(alice, ts - 1, None)?.is_none());
//! assert!(db.check()?.is_ok());
//! db.close()?;
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! - `tools` (default): the `graphdb` binary (clap, indicatif) and the `interchange`
//!   module (serde_json). The workspace depends on this crate without default features,
//!   so `graphdb-concurrent` and other library users compile none of that.
//!
//! The seed's migration switch (`rwlock-optimization`) belongs to the concurrent layer;
//! this crate always has the phase-1 shape (`Mutex<Pager>`, `&self` reads), except that
//! its record caches are sharded read-mode maps instead of the seed's `Mutex<LruCache>`.
#![deny(missing_docs)]

mod cache;
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
pub use db::{
    wal_path, CommitInfo, Config, DbStats, GraphDB, Health, LogSync, SyncMode, VacuumStats,
};
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
pub use wal::{LogEnd, RecoveryReport, LOG_FORMAT_VERSION};
