//! The engine interface: what a concurrency layer such as `graphdb-concurrent` builds on.
//! **Not for users.** Nothing here is needed to use the database, and none of it promises
//! stability: raw transaction ids, snapshot timestamps, commits whose log frames wait for
//! a group sync, shared record versions, dirty-page tracking.
//!
//! A user opens a database with [`GraphDB::open`] / [`GraphDB::create`], writes through a
//! [`WriteTxn`](crate::WriteTxn) ([`GraphDB::begin_write_txn`]) and reads through a
//! [`Snapshot`] ([`GraphDB::snapshot`]). The methods of [`Engine`] are those same
//! operations with the transaction id and the snapshot timestamp spelled out, so that a
//! layer above can run many transactions over one engine. Bring the trait into scope
//! (`use graphdb_core::engine::Engine;`) to call them.
//!
//! `RecordPointer` and the record cache stay private to the crate; the concurrent layer
//! uses the engine's record cache type, [`VersionCache`], for its own lock-free read path.

use std::sync::Arc;

pub use crate::cache::VersionCache;

use crate::db::{CommitInfo, GraphDB, LogSync};
use crate::error::Result;
use crate::traverse::Snapshot;
use crate::types::{Direction, Edge, EdgeId, Node, NodeId, PageId, PropertyValue, TxId};

/// The engine's transaction-id and timestamp interface (see the module docs: not for
/// users).
pub trait Engine {
    /// A fresh transaction id (an atomic increment; ids are unique across reopenings
    /// because the next id is persisted with every commit).
    fn allocate_tx_id(&self) -> TxId;

    /// Registers a write transaction that reads at `snapshot_ts`. Every write method needs
    /// the transaction registered first. Registering an open id again is an error.
    fn begin_write(&mut self, tx_id: TxId, snapshot_ts: u64) -> Result<()>;

    /// The snapshot timestamps of the open write transactions (for choosing a vacuum
    /// horizon).
    fn open_write_snapshots(&self) -> Vec<u64>;

    /// Adds a node in transaction `tx_id` and returns its new id. `node.id` is ignored.
    fn add_node_internal(&mut self, node: Node, tx_id: TxId) -> Result<NodeId>;

    /// Replaces the labels and properties of a node visible to `tx_id`.
    fn update_node(&mut self, node_id: NodeId, node: Node, tx_id: TxId) -> Result<()>;

    /// Deletes a node visible to `tx_id` together with every edge it has in that view.
    fn delete_node(&mut self, node_id: NodeId, tx_id: TxId) -> Result<()>;

    /// Adds an edge between two nodes visible to `tx_id` and returns its id.
    fn add_edge_internal(&mut self, edge: Edge, tx_id: TxId) -> Result<EdgeId>;

    /// Replaces the type and properties of an edge visible to `tx_id`; its endpoints
    /// cannot change (delete it and add another).
    fn update_edge(&mut self, edge_id: EdgeId, edge: Edge, tx_id: TxId) -> Result<()>;

    /// Deletes an edge visible to `tx_id`.
    fn delete_edge(&mut self, edge_id: EdgeId, tx_id: TxId) -> Result<()>;

    /// Forgets the transaction's writes. Unknown ids are ignored (rollback is idempotent).
    fn rollback_transaction(&mut self, tx_id: TxId);

    /// Commits `tx_id` (what [`WriteTxn::commit`](crate::WriteTxn::commit) does, and
    /// under the contract documented there). Returns the commit timestamp.
    fn commit_transaction(&mut self, tx_id: TxId) -> Result<u64>;

    /// Commits `tx_id` without writing or syncing the log, whatever the [`SyncMode`](crate::SyncMode): the
    /// transaction is visible to new snapshots at once, its log frames wait in memory,
    /// and it is durable once [`sync_commits_upto`](crate::engine::Engine::sync_commits_upto)`(info.seq)`
    /// or a [`LogSync::sync`] begun after this call returned ([`LogSync::flush`] puts it
    /// in the file without syncing; checkpoint, `sync`, `close` and drop also write it).
    /// This is the building block of group commit. `seq` is 0 for a read-only
    /// transaction. An error means nothing of the transaction was applied.
    fn commit_deferred(&mut self, tx_id: TxId) -> Result<CommitInfo>;

    /// Makes every commit up to sequence number `seq` durable. Takes `&self` so that
    /// committers can release their write access before the fsync; when several wait,
    /// one fsync covers them all.
    fn sync_commits_upto(&self, seq: u64) -> Result<()>;

    /// A handle on the log that syncs (or only writes) every commit made before each call
    /// without any access to the engine: committers of a concurrent layer release their
    /// lock and then share one write and one fsync (group commit).
    fn log_sync(&self) -> LogSync;

    /// The checkpoint a busy writer runs when the log is full: like
    /// [`GraphDB::checkpoint`] (same contract and errors), but the log keeps its space
    /// for the next generation instead of being cut back to 1 MiB, so the next commits
    /// write into allocated blocks rather than growing the file again.
    fn checkpoint_keeping_log(&mut self) -> Result<()>;

    /// The version of a node that a snapshot at `snapshot_ts` sees; with `tx_id`, that
    /// transaction's own uncommitted writes come first.
    fn get_node_with_snapshot(
        &self,
        node_id: NodeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Option<Node>>;

    /// Like [`get_node_with_snapshot`](crate::engine::Engine::get_node_with_snapshot), but shares the
    /// cached version instead of cloning it. A cache hit takes one cache shard in read
    /// mode and no exclusive lock, so readers on several threads run in parallel.
    fn get_node_shared(
        &self,
        node_id: NodeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Option<Arc<Node>>>;

    /// The committed version of a node visible at `snapshot_ts`, read from the pages
    /// without consulting or filling the node cache, and whether it is the newest version.
    /// A cache kept above the engine (one that hands out `Arc<Node>`) loads through this.
    fn read_node_version(&self, node_id: NodeId, snapshot_ts: u64) -> Result<Option<(Node, bool)>>;

    /// The version of an edge a snapshot sees (own writes first); `EdgeNotFound` if none.
    fn load_edge_with_snapshot(
        &self,
        edge_id: EdgeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Edge>;

    /// Like [`load_edge_with_snapshot`](crate::engine::Engine::load_edge_with_snapshot) but `None` for a
    /// missing edge.
    fn get_edge_with_snapshot(
        &self,
        edge_id: EdgeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Option<Edge>>;

    /// Like [`get_edge_with_snapshot`](crate::engine::Engine::get_edge_with_snapshot), but shares the
    /// cached version instead of cloning it (a hit takes no exclusive lock).
    fn get_edge_shared(
        &self,
        edge_id: EdgeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Option<Arc<Edge>>>;

    /// The committed version of an edge visible at `snapshot_ts`, bypassing the edge
    /// cache, and whether it is the newest version.
    fn read_edge_version(&self, edge_id: EdgeId, snapshot_ts: u64) -> Result<Option<(Edge, bool)>>;

    /// The newest committed versions of several edges, in order; `EdgeNotFound` for the
    /// first missing one.
    fn load_edges_batch(&self, edge_ids: &[EdgeId]) -> Result<Vec<Edge>>;

    /// The ids of a node's edges in `direction` as a snapshot (and optionally a write
    /// transaction) sees them; `NodeNotFound` if the node is not visible.
    fn edges_of(
        &self,
        node_id: NodeId,
        direction: Direction,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<EdgeId>>;

    /// The nodes at the other end of a node's edges in `direction` (one entry per edge).
    fn neighbors(
        &self,
        node_id: NodeId,
        direction: Direction,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<NodeId>>;

    /// Every node visible at `snapshot_ts` that passes `keep`, in id order.
    fn scan_nodes(&self, snapshot_ts: u64, keep: impl Fn(&Node) -> bool) -> Result<Vec<Node>>;

    /// Every edge visible at `snapshot_ts`, in id order.
    fn scan_edges(&self, snapshot_ts: u64) -> Result<Vec<Edge>>;

    /// Starts recording the pages each commit writes.
    fn enable_tracking(&self);

    /// Stops recording written pages.
    fn disable_tracking(&self);

    /// The pages written by commits since the last call (while tracking was on).
    fn take_recent_dirty_pages(&self) -> Result<Vec<PageId>>;

    /// A view at `snapshot_ts`, plus the writes of `tx_id` if given.
    fn snapshot_at(&self, snapshot_ts: u64, tx_id: Option<TxId>) -> Snapshot<'_>;

    /// Every node carrying `label` that a snapshot (and optionally a write transaction's
    /// own writes) sees, in id order.
    fn get_nodes_by_label_at(
        &self,
        label: &str,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Node>>;

    /// Every node with `label` whose `key` equals `value` at a snapshot, in id order.
    fn find_nodes_by_property_at(
        &self,
        label: &str,
        key: &str,
        value: &PropertyValue,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Node>>;

    /// Like [`get_nodes_by_label_at`](crate::engine::Engine::get_nodes_by_label_at), but
    /// the results share the node cache's versions instead of being copies.
    fn get_nodes_by_label_shared_at(
        &self,
        label: &str,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Arc<Node>>>;

    /// Like [`find_nodes_by_property_at`](crate::engine::Engine::find_nodes_by_property_at),
    /// but the results share the node cache's versions instead of being copies.
    fn find_nodes_by_property_shared_at(
        &self,
        label: &str,
        key: &str,
        value: &PropertyValue,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Arc<Node>>>;
}

impl Engine for GraphDB {
    fn allocate_tx_id(&self) -> TxId {
        GraphDB::allocate_tx_id(self)
    }

    fn begin_write(&mut self, tx_id: TxId, snapshot_ts: u64) -> Result<()> {
        GraphDB::begin_write(self, tx_id, snapshot_ts)
    }

    fn open_write_snapshots(&self) -> Vec<u64> {
        GraphDB::open_write_snapshots(self)
    }

    fn add_node_internal(&mut self, node: Node, tx_id: TxId) -> Result<NodeId> {
        GraphDB::add_node_internal(self, node, tx_id)
    }

    fn update_node(&mut self, node_id: NodeId, node: Node, tx_id: TxId) -> Result<()> {
        GraphDB::update_node(self, node_id, node, tx_id)
    }

    fn delete_node(&mut self, node_id: NodeId, tx_id: TxId) -> Result<()> {
        GraphDB::delete_node(self, node_id, tx_id)
    }

    fn add_edge_internal(&mut self, edge: Edge, tx_id: TxId) -> Result<EdgeId> {
        GraphDB::add_edge_internal(self, edge, tx_id)
    }

    fn update_edge(&mut self, edge_id: EdgeId, edge: Edge, tx_id: TxId) -> Result<()> {
        GraphDB::update_edge(self, edge_id, edge, tx_id)
    }

    fn delete_edge(&mut self, edge_id: EdgeId, tx_id: TxId) -> Result<()> {
        GraphDB::delete_edge(self, edge_id, tx_id)
    }

    fn rollback_transaction(&mut self, tx_id: TxId) {
        GraphDB::rollback_transaction(self, tx_id)
    }

    fn commit_transaction(&mut self, tx_id: TxId) -> Result<u64> {
        GraphDB::commit_transaction(self, tx_id)
    }

    fn commit_deferred(&mut self, tx_id: TxId) -> Result<CommitInfo> {
        GraphDB::commit_deferred(self, tx_id)
    }

    fn sync_commits_upto(&self, seq: u64) -> Result<()> {
        GraphDB::sync_commits_upto(self, seq)
    }

    fn log_sync(&self) -> LogSync {
        GraphDB::log_sync(self)
    }

    fn checkpoint_keeping_log(&mut self) -> Result<()> {
        GraphDB::checkpoint_keeping_log(self)
    }

    fn get_node_with_snapshot(
        &self,
        node_id: NodeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Option<Node>> {
        GraphDB::get_node_with_snapshot(self, node_id, snapshot_ts, tx_id)
    }

    fn get_node_shared(
        &self,
        node_id: NodeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Option<Arc<Node>>> {
        GraphDB::get_node_shared(self, node_id, snapshot_ts, tx_id)
    }

    fn read_node_version(&self, node_id: NodeId, snapshot_ts: u64) -> Result<Option<(Node, bool)>> {
        GraphDB::read_node_version(self, node_id, snapshot_ts)
    }

    fn load_edge_with_snapshot(
        &self,
        edge_id: EdgeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Edge> {
        GraphDB::load_edge_with_snapshot(self, edge_id, snapshot_ts, tx_id)
    }

    fn get_edge_with_snapshot(
        &self,
        edge_id: EdgeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Option<Edge>> {
        GraphDB::get_edge_with_snapshot(self, edge_id, snapshot_ts, tx_id)
    }

    fn get_edge_shared(
        &self,
        edge_id: EdgeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Option<Arc<Edge>>> {
        GraphDB::get_edge_shared(self, edge_id, snapshot_ts, tx_id)
    }

    fn read_edge_version(&self, edge_id: EdgeId, snapshot_ts: u64) -> Result<Option<(Edge, bool)>> {
        GraphDB::read_edge_version(self, edge_id, snapshot_ts)
    }

    fn load_edges_batch(&self, edge_ids: &[EdgeId]) -> Result<Vec<Edge>> {
        GraphDB::load_edges_batch(self, edge_ids)
    }

    fn edges_of(
        &self,
        node_id: NodeId,
        direction: Direction,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<EdgeId>> {
        GraphDB::edges_of(self, node_id, direction, snapshot_ts, tx_id)
    }

    fn neighbors(
        &self,
        node_id: NodeId,
        direction: Direction,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<NodeId>> {
        GraphDB::neighbors(self, node_id, direction, snapshot_ts, tx_id)
    }

    fn scan_nodes(&self, snapshot_ts: u64, keep: impl Fn(&Node) -> bool) -> Result<Vec<Node>> {
        GraphDB::scan_nodes(self, snapshot_ts, keep)
    }

    fn scan_edges(&self, snapshot_ts: u64) -> Result<Vec<Edge>> {
        GraphDB::scan_edges(self, snapshot_ts)
    }

    fn enable_tracking(&self) {
        GraphDB::enable_tracking(self)
    }

    fn disable_tracking(&self) {
        GraphDB::disable_tracking(self)
    }

    fn take_recent_dirty_pages(&self) -> Result<Vec<PageId>> {
        GraphDB::take_recent_dirty_pages(self)
    }

    fn snapshot_at(&self, snapshot_ts: u64, tx_id: Option<TxId>) -> Snapshot<'_> {
        GraphDB::snapshot_at(self, snapshot_ts, tx_id)
    }

    fn get_nodes_by_label_at(
        &self,
        label: &str,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Node>> {
        GraphDB::get_nodes_by_label_at(self, label, snapshot_ts, tx_id)
    }

    fn find_nodes_by_property_at(
        &self,
        label: &str,
        key: &str,
        value: &PropertyValue,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Node>> {
        GraphDB::find_nodes_by_property_at(self, label, key, value, snapshot_ts, tx_id)
    }

    fn get_nodes_by_label_shared_at(
        &self,
        label: &str,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Arc<Node>>> {
        GraphDB::get_nodes_by_label_shared_at(self, label, snapshot_ts, tx_id)
    }

    fn find_nodes_by_property_shared_at(
        &self,
        label: &str,
        key: &str,
        value: &PropertyValue,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<Arc<Node>>> {
        GraphDB::find_nodes_by_property_shared_at(self, label, key, value, snapshot_ts, tx_id)
    }
}

/// The analytics layout of a snapshot built the way it was before the one-pass build of
/// [`Snapshot::analytics`]: the visible ids first, then one adjacency read (one pager
/// lock) per node, neighbours renumbered through a hash map. Not cached. Kept so that a
/// benchmark measures both builds in one run; same result, same errors.
pub fn analytics_per_node(snapshot: &Snapshot<'_>) -> Result<crate::Analytics> {
    if snapshot.db().has_pending_writes(snapshot.tx()) {
        return Err(crate::GraphError::InvalidArgument(
            "the analytics layout covers committed data only".into(),
        ));
    }
    crate::Analytics::build_per_node(snapshot.db(), snapshot.ts())
}
