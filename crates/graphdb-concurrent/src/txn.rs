//! [`ConcurrentTransaction`]: one snapshot-isolated transaction on a shared handle.

use std::sync::Arc;
use std::time::{Duration, Instant};

use graphdb_core::engine::Engine;
use graphdb_core::{Direction, Edge, EdgeId, GraphDB, GraphError, Node, NodeId, SyncMode, TxId};

use crate::error::{Error, Result};
use crate::handle::{Phase3, Shared};
use crate::sync::{AtomicU64, DbLock, Ordering};

/// One transaction. It reads one snapshot (plus its own writes); its writes become
/// visible to others all at once at [`commit`](Self::commit), or never. A write-write
/// conflict with a transaction that committed after this one's snapshot fails the
/// commit with [`GraphError::Conflict`](graphdb_core::GraphError::Conflict), applying
/// nothing (first committer wins). Dropping it without `commit` rolls it back.
///
/// Holding a transaction holds no lock: every operation takes and releases the lock it
/// needs, so an open, uncommitted writer never blocks readers.
#[derive(Debug)]
pub struct ConcurrentTransaction<'db> {
    shared: &'db Shared,
    snapshot_ts: u64,
    /// `None` for a read-only transaction: it never needs one, and allocating one would
    /// write a shared counter.
    tx_id: Option<TxId>,
    /// Whether the engine knows this transaction (it wrote something). Until then reads
    /// take the snapshot path, which in phase 3 is the lock-free cache.
    registered: bool,
    finished: bool,
}

impl<'db> ConcurrentTransaction<'db> {
    pub(crate) fn new(shared: &'db Shared, snapshot_ts: u64, tx_id: Option<TxId>) -> Self {
        ConcurrentTransaction {
            shared,
            snapshot_ts,
            tx_id,
            registered: false,
            finished: false,
        }
    }

    /// The transaction id; `None` for a read-only transaction.
    pub fn id(&self) -> Option<TxId> {
        self.tx_id
    }

    /// The commit timestamp of the snapshot this transaction reads.
    pub fn snapshot_ts(&self) -> u64 {
        self.snapshot_ts
    }

    /// Whether the transaction was begun with `begin_read`.
    pub fn is_read_only(&self) -> bool {
        self.tx_id.is_none()
    }

    fn own(&self) -> Option<TxId> {
        if self.registered {
            self.tx_id
        } else {
            None
        }
    }

    /// The phase-3 read path, when it applies: phase 3 and no own writes to overlay.
    fn fast_path(&self) -> Option<&'db Phase3> {
        if self.registered {
            None
        } else {
            self.shared.phase3.as_ref()
        }
    }

    /// A node as this transaction sees it.
    pub fn get_node(&self, id: NodeId) -> Result<Option<Arc<Node>>> {
        if let Some(p3) = self.fast_path() {
            if let Some(hit) = p3.nodes.get(id, self.snapshot_ts) {
                return Ok(Some(hit));
            }
            return load_node(&self.shared.db, p3, id, self.snapshot_ts);
        }
        let db = self.shared.db.read()?;
        Ok(db.get_node_shared(id, self.snapshot_ts, self.own())?)
    }

    /// An edge as this transaction sees it.
    pub fn get_edge(&self, id: EdgeId) -> Result<Option<Arc<Edge>>> {
        if let Some(p3) = self.fast_path() {
            if let Some(hit) = p3.edges.get(id, self.snapshot_ts) {
                return Ok(Some(hit));
            }
            return load_edge(&self.shared.db, p3, id, self.snapshot_ts);
        }
        let db = self.shared.db.read()?;
        Ok(db.get_edge_shared(id, self.snapshot_ts, self.own())?)
    }

    /// The ids of a node's edges in `direction`; `NodeNotFound` if the node is not
    /// visible. Takes the engine lock in read mode in every variant (adjacency is not
    /// cached).
    pub fn edges_of(&self, id: NodeId, direction: Direction) -> Result<Vec<EdgeId>> {
        let db = self.shared.db.read()?;
        Ok(db.edges_of(id, direction, self.snapshot_ts, self.own())?)
    }

    /// The nodes at the other end of a node's edges in `direction`, one entry per edge.
    pub fn neighbors(&self, id: NodeId, direction: Direction) -> Result<Vec<NodeId>> {
        let db = self.shared.db.read()?;
        Ok(db.neighbors(id, direction, self.snapshot_ts, self.own())?)
    }

    /// Runs one write under the engine lock in write mode, registering the transaction
    /// with the engine at its first write.
    fn write<R>(
        &mut self,
        op: impl FnOnce(&mut GraphDB, TxId) -> graphdb_core::Result<R>,
    ) -> Result<R> {
        let tx = self.tx_id.ok_or(Error::ReadOnly)?;
        let mut db = self.shared.exclusive()?;
        if !self.registered {
            db.begin_write(tx, self.snapshot_ts)?;
            self.registered = true;
        }
        Ok(op(&mut db, tx)?)
    }

    /// Adds a node; returns its id.
    pub fn add_node(&mut self, node: Node) -> Result<NodeId> {
        self.write(|db, tx| db.add_node_internal(node, tx))
    }

    /// Adds an edge between two nodes this transaction sees; returns its id.
    pub fn add_edge(&mut self, edge: Edge) -> Result<EdgeId> {
        self.write(|db, tx| db.add_edge_internal(edge, tx))
    }

    /// Replaces a node's labels and properties.
    pub fn update_node(&mut self, id: NodeId, node: Node) -> Result<()> {
        self.write(|db, tx| db.update_node(id, node, tx))
    }

    /// Replaces an edge's type and properties (its endpoints cannot change).
    pub fn update_edge(&mut self, id: EdgeId, edge: Edge) -> Result<()> {
        self.write(|db, tx| db.update_edge(id, edge, tx))
    }

    /// Deletes a node together with its edges.
    pub fn delete_node(&mut self, id: NodeId) -> Result<()> {
        self.write(|db, tx| db.delete_node(id, tx))
    }

    /// Deletes an edge.
    pub fn delete_edge(&mut self, id: EdgeId) -> Result<()> {
        self.write(|db, tx| db.delete_edge(id, tx))
    }

    /// Commits and returns the commit timestamp (the snapshot timestamp for a transaction
    /// that wrote nothing: such a commit touches nothing shared).
    ///
    /// The contract is the engine's ([`graphdb_core::WriteTxn::commit`]): `Ok` means
    /// durable under `SyncMode::Full` and applied under `Batched`/`Off`; an error means
    /// nothing of the transaction was applied (a
    /// [`GraphError::Conflict`](graphdb_core::GraphError::Conflict), for instance), with
    /// one exception, [`GraphError::CommitNotDurable`]: the log write or fsync after the
    /// commit point failed. With [`Variant::LockFreeReads`](crate::Variant) the commit is
    /// then already visible to new snapshots (it is published before the shared fsync,
    /// as in SQLite's WAL mode with `synchronous=NORMAL`); with `Mutex` and `RwLock` it
    /// is not. Either way the engine refuses later writes and only reopening tells
    /// whether it reached the disk. Checkpoints and cache upkeep after the commit point
    /// never change the result (see [`graphdb_core::GraphDB::health`]).
    pub fn commit(mut self) -> Result<u64> {
        self.finished = true;
        let Some(tx) = self.own() else {
            return Ok(self.snapshot_ts);
        };
        match &self.shared.phase3 {
            None => Ok(self.shared.exclusive()?.commit_transaction(tx)?),
            Some(p3) => commit_phase3(self.shared, p3, tx),
        }
    }

    /// Discards every write of the transaction.
    pub fn rollback(mut self) -> Result<()> {
        self.finished = true;
        if let Some(tx) = self.own() {
            self.shared.exclusive()?.rollback_transaction(tx);
        }
        Ok(())
    }
}

impl Drop for ConcurrentTransaction<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Some(tx) = self.own() {
            // A poisoned lock means the engine is unusable anyway (every later operation
            // reports it), so there is nothing left to roll back into.
            if let Ok(mut db) = self.shared.exclusive() {
                db.rollback_transaction(tx);
            }
        }
    }
}

/// A phase-3 cache miss: reads the version under the lock in read mode and caches it if
/// it is the newest, before the lock is released (the cache invariant needs that).
fn load_node(lock: &DbLock, p3: &Phase3, id: NodeId, snapshot: u64) -> Result<Option<Arc<Node>>> {
    let db = lock.read()?;
    Ok(match db.read_node_version(id, snapshot)? {
        Some((node, head)) => {
            let begin = node.version();
            let node = Arc::new(node);
            if head {
                p3.nodes.insert_head(id, Arc::clone(&node), begin);
            }
            Some(node)
        }
        None => None,
    })
}

fn load_edge(lock: &DbLock, p3: &Phase3, id: EdgeId, snapshot: u64) -> Result<Option<Arc<Edge>>> {
    let db = lock.read()?;
    Ok(match db.read_edge_version(id, snapshot)? {
        Some((edge, head)) => {
            let begin = edge.version();
            let edge = Arc::new(edge);
            if head {
                p3.edges.insert_head(id, Arc::clone(&edge), begin);
            }
            Some(edge)
        }
        None => None,
    })
}

/// Under [`SyncMode::Off`], the log frames of this many commits are written together by
/// default (see `commit_phase3` and [`ConcurrentGraphDB::set_off_write_group`]).
///
/// [`ConcurrentGraphDB::set_off_write_group`]: crate::ConcurrentGraphDB::set_off_write_group
pub(crate) const OFF_WRITE_EVERY: u64 = 64;

/// Commits touching more ids than this only close cache spans instead of publishing the
/// new versions.
const WRITE_THROUGH_MAX: usize = 64;

/// Phase-3 commit: apply and publish under the lock in write mode (the engine queues the
/// log frames in memory), then write and fsync outside every lock, so committers that
/// arrive during one fsync are all covered by the next one.
fn commit_phase3(shared: &Shared, p3: &Phase3, tx: TxId) -> Result<u64> {
    let in_flight = InFlight::enter(&p3.committing);
    let info = {
        let mut db = shared.exclusive()?;
        let info = db.commit_deferred(tx)?;
        if info.seq != 0 {
            let ts = info.commit_ts;
            // Write-through: readers at the new snapshot hit the new versions instead of
            // all missing onto the lock the writer holds. A bulk commit only closes spans,
            // so it does not decode thousands of records under the write lock.
            let through = info.touched_nodes.len() + info.touched_edges.len() <= WRITE_THROUGH_MAX;
            // Only versions the cache holds are refreshed (no write-allocate): a node or
            // edge this commit created, or one no reader loaded, is not added. A full
            // cache drops an arbitrary entry for each new one, so a stream of inserts
            // would otherwise evict the versions readers use; the first reader of a new
            // node loads it (under the engine lock in read mode, as any miss). No reader
            // can add an entry meanwhile: a miss takes the engine lock this commit holds.
            // A version that cannot be read back here is only not cached: its span is
            // closed and the next reader of it misses and meets the error itself.
            let prev = ts.saturating_sub(1);
            for id in &info.touched_nodes {
                let cached = through && p3.nodes.get(*id, prev).is_some();
                match cached.then(|| db.read_node_version(*id, ts)) {
                    Some(Ok(Some((node, true)))) => p3.nodes.publish(*id, Arc::new(node), ts),
                    _ => p3.nodes.end_version(*id, ts),
                }
            }
            for id in &info.touched_edges {
                let cached = through && p3.edges.get(*id, prev).is_some();
                match cached.then(|| db.read_edge_version(*id, ts)) {
                    Some(Ok(Some((edge, true)))) => p3.edges.publish(*id, Arc::new(edge), ts),
                    _ => p3.edges.end_version(*id, ts),
                }
            }
            p3.published_ts.store(ts, Ordering::Release);
            // From here on the commit is applied and published: what follows never
            // changes its result. A failure goes into the engine's health (a failed log
            // write refuses later writes, a failed checkpoint is retried), as for the
            // engine's own commits.
            if shared.sync_mode == SyncMode::Off {
                // No fsync ever runs between checkpoints. Consecutive commits wait in
                // the log's memory (log format 4: each a record of the bytes it
                // changed; the page-image format merges the header, records and map
                // pages that each small commit rewrites, so they are encoded once per
                // group) and are written once per group instead of once per commit,
                // and every `off_write_group`-th commit (64 by default) writes the group with one
                // uncontended `pwrite`, here under the lock (cheaper than handing it to
                // a leader: a wake-up per write). A killed process keeps every group
                // written; it loses at most the last `off_write_group - 1` commits, all
                // of them whole and the newest last, as `SyncMode::Off` allows (a power
                // cut loses more). `sync`, checkpoint, close and drop write them too.
                let waiting = p3.unwritten.load(Ordering::Relaxed) + 1;
                if waiting >= p3.off_write_group.load(Ordering::Relaxed) {
                    p3.unwritten.store(0, Ordering::Relaxed);
                    let _ = p3.log.flush();
                } else {
                    p3.unwritten.store(waiting, Ordering::Relaxed);
                }
            }
            let full = db
                .stats()
                .is_ok_and(|s| s.wal_frames >= db.config().checkpoint_after_frames);
            if full {
                let _ = db.checkpoint_keeping_log();
            }
        }
        info
    };
    drop(in_flight);
    if info.seq != 0 && shared.sync_mode != SyncMode::Off {
        // No engine lock is held here, so the next writers keep committing (into memory)
        // while this write and fsync run, and the next leader covers all of them.
        // `Batched` between syncs: the frames stay in memory until the next sync, which
        // writes them with its own batch. A crash (of the process or the machine) then
        // loses at most the commits since the last sync, the bound `Batched` documents,
        // and no committer waits behind a running fsync just to write.
        if p3.needs_sync(shared.sync_mode) {
            wait_for_siblings(&p3.committing);
            if let Err(e) = p3.log.sync() {
                // Published but not known to be durable: the log refuses every later
                // write, and only reopening tells whether the bytes reached the disk.
                return Err(GraphError::CommitNotDurable(e.to_string()).into());
            }
        }
    }
    Ok(info.commit_ts)
}

/// Counts a committer in flight until dropped (also on an error return).
struct InFlight<'a>(&'a AtomicU64);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicU64) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How long a committer about to sync waits for committers still in flight.
const GROUP_WAIT: Duration = Duration::from_micros(100);

/// PostgreSQL's `commit_delay` with `commit_siblings = 1`: while other committers are
/// between entering `commit` and appending, yield (up to [`GROUP_WAIT`]) so that their
/// commits join this sync instead of each needing the next one. A lone committer never
/// waits, so one thread pays nothing; under load one fsync covers more commits.
fn wait_for_siblings(committing: &AtomicU64) {
    if committing.load(Ordering::Acquire) == 0 {
        return;
    }
    let until = Instant::now() + GROUP_WAIT;
    while committing.load(Ordering::Acquire) > 0 && Instant::now() < until {
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use graphdb_core::{Config, GraphDB, Node, SyncMode};

    use crate::{ConcurrentGraphDB, Variant};

    /// Write-through refreshes cached versions but adds none: a stream of inserts into a
    /// full node cache leaves the nodes readers loaded cached, and an update of one of
    /// them is published at once.
    #[test]
    fn inserts_do_not_evict_the_versions_readers_cached() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            sync_mode: SyncMode::Off,
            node_cache_capacity: 64,
            create_if_missing: true,
            ..Config::default()
        };
        let engine = GraphDB::create(dir.path().join("g.db"), config).unwrap();
        let db = ConcurrentGraphDB::from_db(engine, Variant::LockFreeReads);
        let mut tx = db.begin_transaction().unwrap();
        let hot: Vec<u64> = (0..32)
            .map(|i| tx.add_node(Node::new().with_property("v", i)).unwrap())
            .collect();
        tx.commit().unwrap();
        let r = db.begin_read().unwrap();
        for id in &hot {
            assert!(r.get_node(*id).unwrap().is_some());
        }
        r.commit().unwrap();
        for i in 0..300i64 {
            let mut tx = db.begin_transaction().unwrap();
            tx.add_node(Node::new().with_property("v", i)).unwrap();
            tx.commit().unwrap();
        }
        let p3 = db.shared.phase3.as_ref().unwrap();
        let ts = db.current_commit_ts().unwrap();
        let missing = hot
            .iter()
            .filter(|id| p3.nodes.get(**id, ts).is_none())
            .count();
        assert_eq!(missing, 0, "inserts evicted {missing} of 32 cached nodes");
        let mut tx = db.begin_transaction().unwrap();
        tx.update_node(hot[0], Node::new().with_property("v", -1i64))
            .unwrap();
        let ts = tx.commit().unwrap();
        let node = p3.nodes.get(hot[0], ts).unwrap();
        assert_eq!(node.properties.get("v"), Some(&(-1i64).into()));
    }
}
