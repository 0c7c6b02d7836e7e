//! Concurrent, snapshot-isolated transactions over one shared
//! [`graphdb_core::GraphDB`]: seed 004's phases 1 and 2 (the shared handle behind a
//! `Mutex`, then an `RwLock`) and a design past them whose readers take no lock at all.
//!
//! [`ConcurrentGraphDB`] is a cheap-to-clone, `Send + Sync` handle; give each thread a
//! clone. [`ConcurrentTransaction`] is one transaction on it:
//! [`begin_transaction`](ConcurrentGraphDB::begin_transaction) for one that may write,
//! [`begin_read`](ConcurrentGraphDB::begin_read) for a read-only one. A transaction reads
//! one snapshot plus its own writes (snapshot isolation); of two concurrent transactions
//! that write the same record, the later committer fails with
//! [`GraphError::Conflict`](graphdb_core::GraphError::Conflict) and nothing of it is
//! applied. Dropping a transaction rolls it back.
//!
//! Three designs ([`Variant`]) are real types in every build so that one benchmark
//! process measures them side by side:
//! - `Mutex`: the seed's "before", every operation exclusive;
//! - `RwLock`: the seed's "after", done right: a read transaction takes the lock only in
//!   read mode, also to begin and never to commit;
//! - `LockFreeReads` (the default, the best measured; the seed's plan calls what comes
//!   after its two phases "phase 3"): a read transaction's snapshot is an atomic load, its reads hit a sharded
//!   cache of `Arc` versions without touching the engine lock, its commit touches
//!   nothing shared; writers go one at a time (a writer gate, then the lock in write
//!   mode), write their new versions through to the cache, queue their log frames in
//!   memory, and after releasing every lock let one leader write and fsync the whole
//!   queue, so concurrent committers share one write and one fsync (group commit).
//!
//! See `docs/graphdb-concurrent.md` for the lock order, the cache invariant and the
//! measured figures.
//!
//! What it deliberately does not do: serializability (write skew is allowed, as snapshot
//! isolation allows it), vacuum of old versions (no tracking of the oldest live
//! snapshot), and caching of adjacency lists (neighbour reads take the lock in read
//! mode in every variant).
//!
//! ```
//! use graphdb_concurrent::{ConcurrentGraphDB, Variant};
//! use graphdb_core::{Config, Direction, Edge, Node};
//!
//! # fn main() -> Result<(), graphdb_concurrent::Error> {
//! let dir = tempfile::tempdir().map_err(graphdb_core::GraphError::from)?;
//! let db = ConcurrentGraphDB::create(dir.path().join("g.db"), Config::default(), Variant::LockFreeReads)?;
//!
//! let mut tx = db.begin_transaction()?;
//! let alice = tx.add_node(Node::new().with_label("Person").with_property("name", "Alice"))?;
//! let bob = tx.add_node(Node::new().with_label("Person"))?;
//! tx.add_edge(Edge::new(alice, bob, "KNOWS"))?;
//! tx.commit()?;
//!
//! // Readers on other threads use their own clone of the handle.
//! let reader = db.clone();
//! std::thread::spawn(move || -> Result<(), graphdb_concurrent::Error> {
//!     let tx = reader.begin_read()?;
//!     let node = tx.get_node(alice)?.expect("committed");
//!     assert_eq!(node.properties["name"], "Alice".into());
//!     assert_eq!(tx.neighbors(alice, Direction::Outgoing)?, vec![bob]);
//!     tx.commit()?;
//!     Ok(())
//! })
//! .join()
//! .expect("reader thread")?;
//!
//! // Two writers of the same node: the second to commit loses.
//! let mut t1 = db.begin_transaction()?;
//! let mut t2 = db.begin_transaction()?;
//! t1.update_node(bob, Node::new().with_property("n", 1))?;
//! t2.update_node(bob, Node::new().with_property("n", 2))?;
//! t1.commit()?;
//! assert!(t2.commit().unwrap_err().is_conflict());
//! db.close()?;
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! - `rwlock-optimization` (off by default): the seed's migration switch. It makes
//!   [`Variant::seed_default`], the seed's choice between its two designs, the `RwLock`
//!   one instead of the `Mutex` one. [`Variant::default`] (what
//!   [`ConcurrentGraphDB::open`] uses) is `LockFreeReads` either way, and every variant
//!   stays reachable through [`ConcurrentGraphDB::open_with_variant`].
#![deny(missing_docs)]

mod error;
mod handle;
mod sync;
mod txn;

pub use error::{Error, Result};
pub use handle::{ConcurrentGraphDB, Variant};
pub use txn::ConcurrentTransaction;

/// Whether the `rwlock-optimization` feature made [`Variant::seed_default`] the `RwLock`
/// handle (the seed's migration switch).
pub const RWLOCK_BY_DEFAULT: bool = cfg!(feature = "rwlock-optimization");
