//! [`WriteTxn`]: a borrow-checked guard over one write transaction of a [`GraphDB`].

use crate::db::GraphDB;
use crate::error::Result;
use crate::types::{Direction, Edge, EdgeId, Node, NodeId, TxId};

/// One write transaction on a `&mut GraphDB`: reads see its snapshot plus its own writes;
/// dropping it without [`commit`](WriteTxn::commit) rolls it back.
#[derive(Debug)]
pub struct WriteTxn<'a> {
    db: &'a mut GraphDB,
    tx_id: TxId,
    snapshot_ts: u64,
}

impl<'a> WriteTxn<'a> {
    pub(crate) fn new(db: &'a mut GraphDB, tx_id: TxId, snapshot_ts: u64) -> Self {
        WriteTxn {
            db,
            tx_id,
            snapshot_ts,
        }
    }

    /// The transaction id.
    pub fn id(&self) -> TxId {
        self.tx_id
    }

    /// The snapshot the transaction reads.
    pub fn snapshot_ts(&self) -> u64 {
        self.snapshot_ts
    }

    /// Adds a node; returns its id.
    pub fn add_node(&mut self, node: Node) -> Result<NodeId> {
        self.db.add_node_internal(node, self.tx_id)
    }

    /// Adds an edge; returns its id.
    pub fn add_edge(&mut self, edge: Edge) -> Result<EdgeId> {
        self.db.add_edge_internal(edge, self.tx_id)
    }

    /// Replaces a node's labels and properties.
    pub fn update_node(&mut self, id: NodeId, node: Node) -> Result<()> {
        self.db.update_node(id, node, self.tx_id)
    }

    /// Replaces an edge's type and properties.
    pub fn update_edge(&mut self, id: EdgeId, edge: Edge) -> Result<()> {
        self.db.update_edge(id, edge, self.tx_id)
    }

    /// Deletes a node and its edges.
    pub fn delete_node(&mut self, id: NodeId) -> Result<()> {
        self.db.delete_node(id, self.tx_id)
    }

    /// Deletes an edge.
    pub fn delete_edge(&mut self, id: EdgeId) -> Result<()> {
        self.db.delete_edge(id, self.tx_id)
    }

    /// A node as this transaction sees it.
    pub fn get_node(&self, id: NodeId) -> Result<Option<Node>> {
        self.db
            .get_node_with_snapshot(id, self.snapshot_ts, Some(self.tx_id))
    }

    /// An edge as this transaction sees it.
    pub fn get_edge(&self, id: EdgeId) -> Result<Option<Edge>> {
        self.db
            .get_edge_with_snapshot(id, self.snapshot_ts, Some(self.tx_id))
    }

    /// A node's edge ids as this transaction sees them.
    pub fn edges_of(&self, id: NodeId, direction: Direction) -> Result<Vec<EdgeId>> {
        self.db
            .edges_of(id, direction, self.snapshot_ts, Some(self.tx_id))
    }

    /// Commits: checks for write-write conflicts (the first committer wins), writes the
    /// new versions, logs them and syncs according to the [`SyncMode`](crate::SyncMode).
    /// Returns the commit timestamp; snapshots at or after it see the transaction.
    ///
    /// # The commit contract
    ///
    /// - **`Ok(ts)`** means the transaction is committed: visible to every snapshot at or
    ///   after `ts`, and durable as the sync mode promises. Under [`SyncMode::Full`](crate::SyncMode::Full) its
    ///   log frames were written and `fsync`ed before the call returned, so it survives
    ///   a crash or power cut. Under [`SyncMode::Batched`](crate::SyncMode::Batched) and [`SyncMode::Off`](crate::SyncMode::Off) it is
    ///   applied (and, for `Off`, written to the log file unless that write failed, see
    ///   below); a crash may lose it whole, never part of it.
    /// - **`Err(_)`** means nothing of the transaction was applied: no snapshot of this
    ///   handle sees any of it, and it is closed (begin a new one to retry). That holds
    ///   for every error, with one exception that no storage engine can avoid:
    ///   [`GraphError::CommitNotDurable`](crate::GraphError::CommitNotDurable) under `SyncMode::Full` says the log write or
    ///   `fsync` of this very commit failed. The transaction is then not visible in this
    ///   handle, which refuses every later write, but its frames may or may not have
    ///   reached the disk, so after reopening it may be present or not (as in SQLite or
    ///   PostgreSQL after a failed `fsync`). Do not retry it blindly on a new handle:
    ///   read first.
    /// - Work that runs *after* the commit point never changes the result: writing the
    ///   log under `Off`/`Batched`, the checkpoint that folds a full log into the main
    ///   file (with its file growth), cache upkeep. If it fails, the commit still
    ///   returns `Ok`, and the handle records the failure in [`health`](GraphDB::health):
    ///   [`Health::CheckpointPending`](crate::Health::CheckpointPending) (a checkpoint failed; commits and reads go on and
    ///   the next checkpoint retries it) or [`Health::WritesRefused`](crate::Health::WritesRefused) (a log write or
    ///   sync failed; reads go on, and every later write, commit or checkpoint fails
    ///   with [`GraphError::Closed`](crate::GraphError::Closed) naming the cause until the database is reopened,
    ///   which recovers exactly what the log holds).
    pub fn commit(self) -> Result<u64> {
        let tx = self.tx_id;
        // `Drop` below rolls back an id that is no longer open, which is a no-op.
        self.db.commit_transaction(tx)
    }

    /// Rolls back.
    pub fn rollback(self) {}

    /// A fresh node id for [`bulk_write`](WriteTxn::bulk_write).
    #[cfg_attr(not(feature = "tools"), allow(dead_code))]
    pub(crate) fn next_bulk_node_id(&self) -> Result<NodeId> {
        self.db.next_bulk_node_id()
    }

    /// A fresh edge id for [`bulk_write`](WriteTxn::bulk_write).
    #[cfg_attr(not(feature = "tools"), allow(dead_code))]
    pub(crate) fn next_bulk_edge_id(&self) -> Result<EdgeId> {
        self.db.next_bulk_edge_id()
    }

    /// Writes new nodes and edges straight into the commit being built, their adjacency
    /// deferred (see [`GraphDB::bulk_write`]): what the bulk import calls once per batch.
    /// Nothing is visible or durable before [`commit`](WriteTxn::commit).
    #[cfg_attr(not(feature = "tools"), allow(dead_code))]
    pub(crate) fn bulk_write(
        &mut self,
        nodes: Vec<Node>,
        edges: &crate::db::BulkEdges,
        names: &[String],
        max_dirty_pages: usize,
    ) -> Result<usize> {
        self.db
            .bulk_write(self.tx_id, nodes, edges, names, max_dirty_pages)
    }

    /// Appends the deferred adjacency of nodes this transaction created (see
    /// [`GraphDB::apply_adjacency`]).
    #[cfg_attr(not(feature = "tools"), allow(dead_code))]
    pub(crate) fn apply_adjacency(
        &mut self,
        lists: &[crate::db::AdjLists],
        types: &[String],
        max_dirty_pages: usize,
    ) -> Result<usize> {
        self.db
            .apply_adjacency(self.tx_id, lists, types, max_dirty_pages)
    }

    /// Modified pages the commit being built holds in memory.
    #[cfg_attr(not(feature = "tools"), allow(dead_code))]
    pub(crate) fn dirty_pages(&mut self) -> usize {
        self.db.dirty_pages()
    }
}

impl Drop for WriteTxn<'_> {
    fn drop(&mut self) {
        self.db.rollback_transaction(self.tx_id);
    }
}
