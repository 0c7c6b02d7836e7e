//! [`ConcurrentGraphDB`]: the cheap-to-clone shared handle, and the state behind it.

use std::path::Path;
use std::sync::Arc;

use graphdb_core::{CheckReport, Config, Edge, GraphDB, LogSync, Node, SyncMode, TxId};

use crate::error::{Error, Result};
use crate::sync::{AtomicU64, DbLock, Mutex, MutexGuard, Ordering, RwLock, WriteGuard};
use crate::txn::ConcurrentTransaction;
use graphdb_core::engine::{Engine, VersionCache};

/// Which concurrency design a [`ConcurrentGraphDB`] uses. All three are real, tested
/// types in every build, so one benchmark process measures them side by side.
///
/// [`Variant::default`] is the best measured design, [`Variant::LockFreeReads`]. The
/// seed's two designs stay one argument away, and its `rwlock-optimization` feature
/// still chooses between them: [`Variant::seed_default`] is `RwLock` with the feature and
/// `Mutex` without.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Variant {
    /// The seed's "before" (its phase 1): the engine behind one `Mutex`; every operation
    /// is exclusive.
    Mutex,
    /// The seed's "after" (its phase 2): the engine behind an `RwLock`; reads (including
    /// beginning and committing a read transaction) take it in read mode, writes in
    /// write mode.
    RwLock,
    /// Past the seed: read transactions take their snapshot by an atomic load, read
    /// through a sharded cache of `Arc` versions without touching the engine lock, and
    /// commit without touching anything shared; writers go one at a time and release
    /// the lock before the fsync, so concurrent committers share one (group commit).
    LockFreeReads,
}

impl Variant {
    /// Every variant, in the order the benchmark reports them.
    pub const ALL: [Variant; 3] = [Variant::Mutex, Variant::RwLock, Variant::LockFreeReads];

    /// The short lowercase name used in benchmark reports and test messages.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Mutex => "mutex",
            Variant::RwLock => "rwlock",
            Variant::LockFreeReads => "lockfree",
        }
    }

    /// The seed's migration switch: `RwLock` with the `rwlock-optimization` feature,
    /// `Mutex` without.
    pub fn seed_default() -> Variant {
        if cfg!(feature = "rwlock-optimization") {
            Variant::RwLock
        } else {
            Variant::Mutex
        }
    }
}

impl Default for Variant {
    /// [`Variant::LockFreeReads`], the best measured design (see
    /// `docs/graphdb-concurrent.md` for the figures).
    fn default() -> Self {
        Variant::LockFreeReads
    }
}

/// What every handle and transaction of one database shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) db: DbLock,
    pub(crate) variant: Variant,
    /// The lock-free read path; `Some` only for [`Variant::LockFreeReads`].
    pub(crate) phase3: Option<Phase3>,
    pub(crate) sync_mode: SyncMode,
}

/// State of the phase-3 read path.
#[derive(Debug)]
pub(crate) struct Phase3 {
    /// The snapshot new transactions read at. Invariant: it is stored only while the
    /// engine lock is held in write mode, after the commit it names has closed the cache
    /// spans it replaces (see `cache.rs`), so a reader that loads it never sees a stale
    /// cached version.
    pub(crate) published_ts: AtomicU64,
    pub(crate) nodes: VersionCache<Node>,
    pub(crate) edges: VersionCache<Edge>,
    /// Commits since the last fsync, for [`SyncMode::Batched`].
    unsynced: AtomicU64,
    /// Commits whose log frames wait in memory, for [`SyncMode::Off`]: they are written
    /// together once `off_write_group` have gathered (see `commit_phase3`).
    pub(crate) unwritten: AtomicU64,
    /// How many `SyncMode::Off` commits are written to the log together (see
    /// [`ConcurrentGraphDB::set_off_write_group`]).
    pub(crate) off_write_group: AtomicU64,
    /// Committers between entering `commit` and having appended to the log (or failed):
    /// a committer about to lead a sync gives them a moment to join it.
    pub(crate) committing: AtomicU64,
    /// The next transaction id, so beginning a write transaction takes no lock. It starts
    /// from an id the engine allocated at open; the engine persists `max(tx_id) + 1` with
    /// every commit, so committed ids stay unique across reopenings.
    next_tx_id: AtomicU64,
    /// Writers queue here before taking the engine lock in write mode: one writer at a
    /// time, and writer-writer contention lands on a mutex (which spins briefly and hands
    /// over cheaply) instead of on the `RwLock`'s writer queue. Readers never take it.
    writers: Mutex<()>,
    /// Group commit: the engine's log handle, used after every lock is released. The
    /// engine queues a commit's log frames in memory; the first committer to sync leads,
    /// writing and syncing every queued commit at once while the others wait.
    pub(crate) log: LogSync,
}

impl Phase3 {
    /// Whether the commit just made must be followed by a log sync, by the sync mode.
    pub(crate) fn needs_sync(&self, mode: SyncMode) -> bool {
        match mode {
            SyncMode::Full => true,
            SyncMode::Off => false,
            SyncMode::Batched { commits } => {
                let n = self.unsynced.fetch_add(1, Ordering::AcqRel) + 1;
                if n >= u64::from(commits.max(1)) {
                    self.unsynced.store(0, Ordering::Release);
                    true
                } else {
                    false
                }
            }
            // A mode added later: syncing every commit is never wrong.
            _ => true,
        }
    }
}

/// The engine lock in write mode, behind the phase-3 writer gate when there is one.
pub(crate) struct Exclusive<'a> {
    // Fields drop in order: the engine lock is released before the gate.
    db: WriteGuard<'a>,
    _gate: Option<MutexGuard<'a, ()>>,
}

impl std::ops::Deref for Exclusive<'_> {
    type Target = GraphDB;
    fn deref(&self) -> &GraphDB {
        &self.db
    }
}

impl std::ops::DerefMut for Exclusive<'_> {
    fn deref_mut(&mut self) -> &mut GraphDB {
        &mut self.db
    }
}

impl Shared {
    /// Exclusive access for a write: the writer gate (phase 3), then the engine lock.
    pub(crate) fn exclusive(&self) -> Result<Exclusive<'_>> {
        let gate = match &self.phase3 {
            Some(p3) => Some(
                p3.writers
                    .lock()
                    .map_err(|_| Error::Poisoned("writer gate"))?,
            ),
            None => None,
        };
        Ok(Exclusive {
            db: self.db.write()?,
            _gate: gate,
        })
    }
}

/// A shared, cheap-to-clone handle to one database (`Send + Sync`). Every clone sees the
/// same data; transactions borrow the handle they were begun on.
#[derive(Debug, Clone)]
pub struct ConcurrentGraphDB {
    pub(crate) shared: Arc<Shared>,
}

impl ConcurrentGraphDB {
    /// Opens the database at `path` with the default [`Variant`] (see
    /// [`GraphDB::open`]: a path with no database is an error unless
    /// [`Config::create_if_missing`] is set).
    pub fn open(path: impl AsRef<Path>, config: Config) -> Result<Self> {
        Self::open_with_variant(path, config, Variant::default())
    }

    /// Opens the database at `path` with the given variant.
    pub fn open_with_variant(
        path: impl AsRef<Path>,
        config: Config,
        variant: Variant,
    ) -> Result<Self> {
        Ok(Self::from_db(GraphDB::open(path, config)?, variant))
    }

    /// Creates a new database at `path` (see [`GraphDB::create`]) with the given variant.
    pub fn create(path: impl AsRef<Path>, config: Config, variant: Variant) -> Result<Self> {
        Ok(Self::from_db(GraphDB::create(path, config)?, variant))
    }

    /// Shares an engine that is already open.
    pub fn from_db(db: GraphDB, variant: Variant) -> Self {
        let sync_mode = db.config().sync_mode;
        let phase3 = (variant == Variant::LockFreeReads).then(|| Phase3 {
            published_ts: AtomicU64::new(db.current_commit_ts()),
            nodes: VersionCache::new(db.config().node_cache_capacity),
            edges: VersionCache::new(db.config().edge_cache_capacity),
            unsynced: AtomicU64::new(0),
            unwritten: AtomicU64::new(0),
            off_write_group: AtomicU64::new(crate::txn::OFF_WRITE_EVERY),
            committing: AtomicU64::new(0),
            next_tx_id: AtomicU64::new(db.allocate_tx_id()),
            log: db.log_sync(),
            writers: Mutex::new(()),
        });
        let db = match variant {
            Variant::Mutex => DbLock::Mutex(Mutex::new(db)),
            Variant::RwLock | Variant::LockFreeReads => DbLock::RwLock(RwLock::new(db)),
        };
        ConcurrentGraphDB {
            shared: Arc::new(Shared {
                db,
                variant,
                phase3,
                sync_mode,
            }),
        }
    }

    /// The variant this handle uses.
    pub fn variant(&self) -> Variant {
        self.shared.variant
    }

    /// Under [`SyncMode::Off`] with [`Variant::LockFreeReads`], how many consecutive
    /// commits have their log records written together (default 64, at least 1). The
    /// records of a group wait in memory (with the page-image log, the pages that
    /// consecutive small commits all rewrite merge there), and the group's last commit
    /// writes them with one `pwrite`; a
    /// killed process loses at most the last `commits - 1` commits, whole and newest
    /// first. 1 writes every commit at once (the behaviour before groups). Other sync
    /// modes and variants ignore it.
    pub fn set_off_write_group(&self, commits: u64) {
        if let Some(p3) = &self.shared.phase3 {
            p3.off_write_group.store(commits.max(1), Ordering::Relaxed);
        }
    }

    /// Begins a transaction that may write: allocates its id and takes its snapshot (the
    /// newest published commit). It registers with the engine, in write mode, only at its
    /// first write, so until then it costs what a read transaction costs.
    pub fn begin_transaction(&self) -> Result<ConcurrentTransaction<'_>> {
        if let Some(p3) = &self.shared.phase3 {
            let tx_id = p3.next_tx_id.fetch_add(1, Ordering::Relaxed);
            let snapshot_ts = p3.published_ts.load(Ordering::Acquire);
            return Ok(ConcurrentTransaction::new(
                &self.shared,
                snapshot_ts,
                Some(tx_id),
            ));
        }
        let db = self.shared.db.read()?;
        let tx_id: TxId = db.allocate_tx_id();
        let snapshot_ts = db.current_commit_ts();
        drop(db);
        Ok(ConcurrentTransaction::new(
            &self.shared,
            snapshot_ts,
            Some(tx_id),
        ))
    }

    /// Begins a read-only transaction on the newest published snapshot. It takes no lock
    /// in write mode, ever; in [`Variant::LockFreeReads`] it takes no lock at all (an atomic load).
    pub fn begin_read(&self) -> Result<ConcurrentTransaction<'_>> {
        let snapshot_ts = self.current_commit_ts()?;
        Ok(ConcurrentTransaction::new(&self.shared, snapshot_ts, None))
    }

    /// The snapshot a transaction begun now would read at.
    pub fn current_commit_ts(&self) -> Result<u64> {
        Ok(match &self.shared.phase3 {
            Some(p3) => p3.published_ts.load(Ordering::Acquire),
            None => self.shared.db.read()?.current_commit_ts(),
        })
    }

    /// Runs the engine's integrity check ([`GraphDB::check`]) under the lock in read mode.
    pub fn check(&self) -> Result<CheckReport> {
        Ok(self.shared.db.read()?.check()?)
    }

    /// Makes every commit so far durable (one fsync of the log).
    pub fn sync(&self) -> Result<()> {
        Ok(self.shared.db.read()?.sync()?)
    }

    /// How many handles (this one included) share the database.
    pub fn handle_count(&self) -> usize {
        Arc::strong_count(&self.shared)
    }

    /// Syncs, checkpoints and closes the database. Fails with [`Error::HandlesOpen`] while
    /// other clones of this handle exist (this handle is dropped; the database stays open
    /// through the others and is synced when the last one goes). Open transactions
    /// borrow a handle, so none can outlive this call.
    pub fn close(self) -> Result<()> {
        let shared = Arc::try_unwrap(self.shared).map_err(|shared| Error::HandlesOpen {
            others: Arc::strong_count(&shared) - 1,
        })?;
        Ok(shared.db.into_inner()?.close()?)
    }
}

// Handles move between threads and are shared by reference across them.
const _: fn() = || {
    fn check<T: Send + Sync + Clone>() {}
    check::<ConcurrentGraphDB>();
};
