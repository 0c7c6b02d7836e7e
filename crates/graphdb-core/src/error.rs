//! The one error type of the crate.

use std::io;

use crate::types::{EdgeId, NodeId, PageId, TxId};

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// The operating system refused a read, write, sync or resize.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// Stored bytes failed a check: a checksum, a magic number, a length, a pointer. `what`
    /// says which check, `page` where (if a page is involved). A poisoned internal lock is
    /// also reported here, because the state it guarded may be half-updated.
    #[error("corruption{}: {what}", page.map(|p| format!(" in page {p}")).unwrap_or_default())]
    Corruption {
        /// The failed check, in words.
        what: String,
        /// The page the bad bytes were found in, when there is one.
        page: Option<PageId>,
    },
    /// The caller passed something the engine cannot accept.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The node does not exist (or is not visible to the snapshot asked about).
    #[error("node {0} not found")]
    NodeNotFound(NodeId),
    /// The edge does not exist (or is not visible to the snapshot asked about).
    #[error("edge {0} not found")]
    EdgeNotFound(EdgeId),
    /// The transaction id is not an open write transaction.
    #[error("transaction {0} is not open")]
    TransactionNotFound(TxId),
    /// A write-write conflict: another transaction committed a change to the same record
    /// after this transaction's snapshot. Nothing of this transaction was applied.
    #[error("write conflict on {what}: changed by a transaction that committed after snapshot {snapshot_ts}")]
    Conflict {
        /// The record the transactions both wrote, e.g. `node 7`.
        what: String,
        /// The snapshot the failed transaction read from.
        snapshot_ts: u64,
    },
    /// An import file was rejected: which file, which line (1-based; 0 when the problem
    /// is not tied to a line) and why. Nothing of the import was applied.
    #[error("{file}:{line}: {reason}")]
    Import {
        /// The file, as given.
        file: String,
        /// The line the bad record starts on.
        line: u64,
        /// What is wrong, in words.
        reason: String,
    },
    /// The database was closed, or a previous commit failed half-way through writing to
    /// the log and the handle refuses further writes until it is reopened.
    #[error("database unusable: {0}")]
    Closed(String),
    /// Under [`SyncMode::Full`](crate::SyncMode::Full), the log write or `fsync` of this
    /// commit failed. The transaction is not visible in this handle, which refuses every
    /// later write; whether it reached the disk is unknown until the database is reopened
    /// (see the contract on
    /// [`Engine::commit_transaction`](crate::engine::Engine::commit_transaction)(crate::engine::Engine::commit_transaction)).
    #[error("commit not durable (the log write or sync failed; outcome known only after reopening): {0}")]
    CommitNotDurable(String),
    /// No database exists at the path given to [`GraphDB::open`](crate::GraphDB::open)
    /// (neither the file nor its log); create one with
    /// [`GraphDB::create`](crate::GraphDB::create) or
    /// [`Config::create_if_missing`](crate::Config::create_if_missing).
    #[error("no database at {0}")]
    NotFound(String),
    /// Another handle, in this process or another one, has the database file open:
    /// [`GraphDB::open`](crate::GraphDB::open) takes an exclusive lock on it so two pagers
    /// never write the same file.
    #[error("{0} is in use by another handle or process")]
    InUse(String),
}

impl GraphError {
    /// Shorthand for a [`GraphError::Corruption`].
    pub(crate) fn corrupt(what: impl Into<String>, page: Option<PageId>) -> Self {
        GraphError::Corruption {
            what: what.into(),
            page,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = GraphError> = std::result::Result<T, E>;
