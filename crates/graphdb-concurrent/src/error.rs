//! The one error type of the crate.

use graphdb_core::GraphError;

/// Everything that can go wrong in a concurrent handle or transaction.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine refused the operation. A write-write conflict arrives here as
    /// [`GraphError::Conflict`]: the later committer fails and nothing of it is applied.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// [`close`](crate::ConcurrentGraphDB::close) was called while other clones of the
    /// handle were still alive; the database stays open through them.
    #[error("cannot close the database: {others} other handle(s) still open; drop them first")]
    HandlesOpen {
        /// How many other handles held the database when `close` was called.
        others: usize,
    },
    /// A thread panicked while holding the database lock, so the engine state it guarded
    /// may be half-updated. Reopen the database to recover from the log.
    #[error("the {0} lock was poisoned by a panicking thread; reopen the database")]
    Poisoned(&'static str),
    /// A write was attempted through a transaction begun with
    /// [`begin_read`](crate::ConcurrentGraphDB::begin_read).
    #[error("the transaction is read-only")]
    ReadOnly,
}

impl Error {
    /// Whether this is a write-write conflict, after which retrying the whole
    /// transaction on a fresh snapshot is the usual response.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Graph(GraphError::Conflict { .. }))
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
