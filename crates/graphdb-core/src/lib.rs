//! An embedded, crash-safe on-disk graph storage engine: fixed-size checksummed pages, a
//! write-ahead log with checksummed frames, multi-version records with snapshot reads,
//! indexes and traversal.
//!
//! # The user API
//!
//! - **Open or create**: [`GraphDB::create`] makes a new database (a file of 8 KiB pages
//!   plus a log beside it, `<path>-wal`); [`GraphDB::open`] opens an existing one and
//!   never creates one unless [`Config::create_if_missing`] says so. The handle takes an
//!   exclusive advisory lock on the file, so a second handle or process cannot open it
//!   ([`GraphError::InUse`]).
//! - **Write transactions** are objects: [`GraphDB::begin_write_txn`] returns a
//!   [`WriteTxn`] (add, update, delete nodes and edges, read its own writes);
//!   [`WriteTxn::commit`] documents the commit contract (what `Ok` and each error mean
//!   under each [`SyncMode`], and the [`Health`] state a failure after the commit point
//!   leaves).
//! - **Read transactions** are objects too: [`GraphDB::snapshot`] returns a [`Snapshot`]
//!   that reads one committed state however many commits follow: nodes, edges, label and
//!   property lookups, neighbours, breadth-first search ([`Bfs`]), k-hop neighbourhoods,
//!   shortest paths and weakly connected components. For whole-graph work,
//!   [`Snapshot::analytics`] builds (once per snapshot, reused until a commit) a
//!   contiguous CSR layout ([`Analytics`]) whose BFS, k-hop and components give exactly
//!   the same answers without touching pages. [`GraphDB::get_node`],
//!   [`GraphDB::get_nodes_by_label`] and [`GraphDB::find_nodes_by_property`] read the
//!   newest state directly.
//! - **Indexes** ([`IndexDef`]): label and property indexes (B+trees in the same logged
//!   pages), created and dropped at run time ([`GraphDB::create_index`]); lookups use
//!   them when they exist and scan otherwise. Each lookup also has a shared form
//!   ([`GraphDB::find_nodes_by_property_shared`], [`Snapshot::nodes_by_property_range`],
//!   ...) returning `Arc<Node>`s of the node cache instead of copies.
//! - **Check and recovery**: [`GraphDB::check`] walks the whole file and lists every
//!   inconsistency; [`GraphDB::recovery_report`] says what recovery did at open
//!   ([`RecoveryReport`]: transactions replayed, and what was dropped after a damaged or
//!   torn log frame and why). A database whose recovery dropped committed transactions
//!   never checks ok, and [`Config::strict_recovery`] refuses to open it instead.
//! - **Interchange** (feature `tools`): CSV in Neo4j's bulk-import layout and JSON lines,
//!   imported as one commit in bounded memory (batches written into the commit being
//!   built, pages spilled to the log ahead of its commit frame, adjacency sorted in
//!   runs), and the `graphdb` command-line tool.
//!
//! The [`engine`] module holds what a concurrency layer needs (raw transaction ids,
//! snapshot timestamps, deferred commits with group sync, shared record versions). It
//! is not for users; `graphdb-concurrent` builds on it.
//!
//! # How it works
//!
//! A write transaction keeps its changes in memory; its commit turns them into new
//! record versions (each pointing at the previous version), writes the changed pages to
//! the log as one checksummed log transaction and syncs according to the [`SyncMode`].
//! Recovery on open replays every whole log transaction up to the first frame that
//! fails its checks; a checkpoint copies logged pages into the main file. Readers ask
//! for the version visible at their snapshot, so they never see a partial commit. Every
//! page carries a checksum, so damaged bytes surface as [`GraphError::Corruption`].
//! Storage is pluggable ([`Storage`]): [`FileStorage`] for real files, [`MemStorage`] for
//! tests that simulate power cuts by dropping or tearing unsynced writes.
//!
//! What it deliberately does not do: it is not a concurrent handle (share it behind a
//! lock; the `graphdb-concurrent` crate does), it has no query language or planner (a
//! lookup uses the index named by its label and key, nothing else), and it does not
//! decide which snapshots are still in use: [`GraphDB::vacuum`] takes the oldest one
//! from the caller.
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
//! let snap = db.snapshot();
//! assert_eq!(snap.neighbors(alice, Direction::Outgoing, None)?, vec![bob]);
//! assert_eq!(snap.shortest_path(alice, carol, Direction::Outgoing, Some("KNOWS"))?,
//!            Some(vec![alice, bob, carol]));
//! let reached: Vec<(u64, u32)> = snap.bfs(alice, Direction::Both, None, Some(1))?
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(reached, vec![(alice, 0), (bob, 1)]);
//! // Every commit gets a newer timestamp; deleting a node takes its edges first.
//! let carols_edges = db.snapshot().edges(carol, Direction::Both, None)?;
//! let mut tx = db.begin_write_txn()?;
//! for (edge, _) in carols_edges {
//!     tx.delete_edge(edge)?;
//! }
//! tx.delete_node(carol)?;
//! assert!(tx.commit()? > ts);
//! assert!(db.get_node(carol)?.is_none());
//! assert!(db.recovery_report().transactions_replayed == 0);
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

mod analytics;
mod cache;
mod check;
mod codec;
mod db;
mod dict;
pub mod engine;
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

pub use analytics::Analytics;
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
    Direction, Edge, EdgeId, Node, NodeId, PageId, Properties, PropertyValue, TxId, MAX_LIST_DEPTH,
};
pub use wal::{LogEnd, RecoveryReport, LOG_FORMAT_VERSION};
