//! [`GraphDB`]: the engine handle in the seed's phase-1 shape.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cache::VersionCache;
use crate::codec::{self, EdgeRecord, NodeRecord, RecordHeader, KIND_EDGE, KIND_NODE};
use crate::error::{GraphError, Result};
use crate::pager::{CacheSizing, OpenMode, Pager, PagerStats};
use crate::records::{RecordStore, MAX_ID};
use crate::storage::{FileStorage, Storage};
use crate::sync::{AtomicBool, AtomicU64, Mutex, OrderedMutex, Ordering, Rank};
use crate::types::{
    validate_properties, Direction, Edge, EdgeId, Node, NodeId, PageId, PropertyValue,
    RecordPointer, TxId,
};
use crate::wal::{LogShared, RecoveryReport};

/// When a commit's log frames are forced to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncMode {
    /// `fsync` the log before `commit_transaction` returns: a returned commit survives any
    /// crash.
    Full,
    /// `fsync` the log once every `commits` commits (and on `sync`, checkpoint and close).
    /// A crash loses at most the last `commits - 1` acknowledged commits, never part of
    /// one. For true group commit (concurrent committers sharing one fsync) use
    /// [`Engine::commit_deferred`](crate::engine::Engine::commit_deferred) followed by [`Engine::sync_commits_upto`](crate::engine::Engine::sync_commits_upto).
    Batched {
        /// Commits per fsync (1 behaves like `Full`).
        commits: u32,
    },
    /// Never `fsync` on commit (only at checkpoint and close): crash-atomic but not
    /// durable. For bulk loads and tests.
    Off,
}

/// Whether a handle is fully usable: what failed after a commit point, if anything. See
/// the contract on [`WriteTxn::commit`](crate::WriteTxn::commit).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Health {
    /// Everything works.
    Ok,
    /// A checkpoint failed while writing the main file. Every commit is safe in the log;
    /// reads and commits go on, and the next checkpoint (automatic, explicit or at close)
    /// retries it.
    CheckpointPending {
        /// The failure, in words.
        reason: String,
    },
    /// A write or sync of the log failed. Every acknowledged commit is as durable as its
    /// sync mode promised; reads go on; every write, commit and checkpoint fails with
    /// [`GraphError::Closed`] until the database is reopened (reopening recovers exactly
    /// what the log holds).
    WritesRefused {
        /// The failure, in words.
        reason: String,
    },
}

/// Options for [`GraphDB::open`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Durability of commits.
    pub sync_mode: SyncMode,
    /// Pages the pager keeps cached (8 KiB each); 0 (the default) sizes the cache from
    /// the file: twice the database's pages at open and after each checkpoint (room to
    /// grow), at least 4096 pages (32 MiB), at most `page_cache_budget_bytes`.
    pub page_cache_pages: usize,
    /// The most memory an automatically sized page cache may hold (default 1 GiB).
    /// Pages are cached as they are read, so a small database never uses it all.
    pub page_cache_budget_bytes: u64,
    /// Newest node versions kept decoded in the node cache.
    pub node_cache_capacity: usize,
    /// Newest edge versions kept decoded in the edge cache.
    pub edge_cache_capacity: usize,
    /// The log is folded into the main file when it holds this many frames after a commit
    /// (default 4096). In log format 4 (the default) a commit's record is usually a small
    /// fraction of a page, so "frames" there is the log's size in page-frame units
    /// (8,224 bytes, so the log is folded at the size a log of page images was: about
    /// 33 MB by default) or the number of page images the log holds, whichever is larger
    /// (it keeps the newest image of each page it changed in memory: at most this many
    /// pages of 8 KiB).
    pub checkpoint_after_frames: u64,
    /// [`GraphDB::open`] creates a new database when neither the file nor its log exists
    /// (default `false`: opening a path that holds no database is an error, so a typo
    /// never creates an empty database). An empty or missing file beside a log that is
    /// not empty is never treated as new, whatever this says.
    pub create_if_missing: bool,
    /// Refuse to open when recovery would drop committed transactions found past a
    /// damaged log frame (default `false`: drop them and say so in the
    /// [`RecoveryReport`]). The files are left untouched, so they can be salvaged first.
    pub strict_recovery: bool,
    /// How long [`GraphDB::open`] waits for another handle to let go of the file before
    /// it answers [`GraphError::InUse`] (default 250 ms; zero answers at once). The wait
    /// covers a handle being dropped in another thread at the same moment, and a child
    /// process that another thread of this process is starting: between its fork and its
    /// exec the child holds a copy of every open file, and with it the file's lock.
    pub lock_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sync_mode: SyncMode::Full,
            page_cache_pages: 0,
            page_cache_budget_bytes: 1 << 30,
            node_cache_capacity: 100_000,
            edge_cache_capacity: 100_000,
            checkpoint_after_frames: 4096,
            create_if_missing: false,
            strict_recovery: false,
            lock_wait: Duration::from_millis(250),
        }
    }
}

/// What a deferred commit returns: its timestamp and its position in the log, for
/// [`Engine::sync_commits_upto`](crate::engine::Engine::sync_commits_upto).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit timestamp; snapshots at or after it see the transaction.
    pub commit_ts: u64,
    /// The commit's sequence number in the log; durable once `sync_commits_upto(seq)`
    /// returned.
    pub seq: u64,
    /// Nodes that got a new version (written, deleted, or an edge added or removed):
    /// a cache above the engine evicts these.
    pub touched_nodes: Vec<NodeId>,
    /// Edges that got a new version.
    pub touched_edges: Vec<EdgeId>,
}

/// What [`GraphDB::vacuum`] reclaimed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct VacuumStats {
    /// Record versions freed.
    pub versions_freed: u64,
    /// Ids whose whole chain was removed (deleted before the horizon).
    pub ids_removed: u64,
}

/// Counters describing the engine, for tests, tools and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbStats {
    /// Pager counters.
    pub pager: PagerStats,
    /// Pages in the database (including free pages).
    pub page_count: u64,
    /// Pages on the free list.
    pub free_pages: u64,
    /// Committed frames in the log since the last checkpoint (in log format 4, as
    /// [`Config::checkpoint_after_frames`] counts them).
    pub wal_frames: u64,
    /// The newest commit timestamp.
    pub commit_ts: u64,
    /// Transactions that recovery replayed from the log at open.
    pub recovered_txs: u64,
    /// Bytes of torn or uncommitted log tail that recovery discarded at open.
    pub recovery_dropped_bytes: u64,
}

#[derive(Debug, Clone)]
enum Pending<T> {
    Put { value: T, is_new: bool },
    Delete,
}

/// The uncommitted writes of one write transaction, kept in memory until commit.
#[derive(Debug)]
struct TxState {
    snapshot_ts: u64,
    nodes: BTreeMap<NodeId, Pending<Node>>,
    edges: BTreeMap<EdgeId, Pending<Edge>>,
    /// Batches of this transaction's writes already written into the pager by
    /// [`GraphDB::bulk_write`] (a bulk import): its commit is being built in the pager,
    /// and the maps above hold only the writes since the last batch.
    segments: u32,
    /// The ids of the nodes those earlier batches created, as sorted, disjoint
    /// inclusive ranges (an import creates one contiguous range, so this stays tiny).
    created: Vec<(NodeId, NodeId)>,
    /// The earlier batches left the adjacency of their edges to
    /// [`GraphDB::apply_adjacency`].
    deferred_adjacency: bool,
}

impl TxState {
    /// Whether an earlier batch of this transaction created node `id`.
    fn created_before(&self, id: NodeId) -> bool {
        let i = self.created.partition_point(|(_, hi)| *hi < id);
        self.created.get(i).is_some_and(|(lo, _)| *lo <= id)
    }

    fn note_created(&mut self, ids: impl Iterator<Item = NodeId>) {
        for id in ids {
            match self.created.last_mut() {
                Some((_, hi)) if *hi + 1 == id => *hi = id,
                Some((_, hi)) if *hi >= id => {
                    // Out of order (ids are allocated increasing, so never for one
                    // transaction alone): keep the ranges sorted and disjoint.
                    if !self.created_before(id) {
                        let at = self.created.partition_point(|(lo, _)| *lo < id);
                        self.created.insert(at, (id, id));
                    }
                }
                _ => self.created.push((id, id)),
            }
        }
    }
}

#[derive(Debug, Default)]
struct WalSyncState {
    /// Commits known to be on stable storage (a sequence number, see `commit_seq`).
    synced_seq: u64,
    /// Commits appended since the last sync (for `SyncMode::Batched`).
    unsynced: u32,
}

/// The storage engine: one database file plus its write-ahead log.
///
/// Reads take `&self` and lock, in this order and never the other way round, the pager,
/// then the dirty-page list, then the log sync state (debug builds assert it); the record
/// caches' shard locks are leaves, held only to copy an `Arc` in or out. Writes take `&mut self`: a write transaction's changes
/// stay in memory until [`commit_transaction`](crate::engine::Engine::commit_transaction) turns them
/// into new record versions, logs the pages and publishes the commit timestamp.
#[derive(Debug)]
pub struct GraphDB {
    path: Option<PathBuf>,
    config: Config,
    /// The seed's `pager: Mutex<Pager>`. Outside `&mut self` methods it never holds
    /// uncommitted pages.
    pub(crate) pager: OrderedMutex<Pager>,
    /// The seed's node cache, sharded behind reader-writer locks (see `cache.rs` for its
    /// invariant). It never holds a tombstone or an uncommitted write: readers cache the
    /// newest version they read, commits close the span of every version they replace
    /// before their timestamp is published.
    pub(crate) node_cache: VersionCache<Node>,
    /// The seed's edge cache, with the node cache's invariant.
    pub(crate) edge_cache: VersionCache<Edge>,
    pub(crate) tracking_enabled: AtomicBool,
    /// Pages written by commits while tracking is on.
    pub(crate) recent_dirty_pages: OrderedMutex<Vec<PageId>>,
    wal_sync: OrderedMutex<WalSyncState>,
    /// The log's shared state: commits queue their pages there; a sync or flush writes
    /// them (see `wal.rs`).
    log: Arc<LogShared>,
    /// The newest published commit timestamp: a snapshot taken now reads at it.
    commit_ts: AtomicU64,
    /// Commits appended to the log so far (in this process).
    commit_seq: AtomicU64,
    next_tx_id: AtomicU64,
    next_node_id: AtomicU64,
    next_edge_id: AtomicU64,
    pending: HashMap<TxId, TxState>,
    /// What recovery did at open.
    recovery: RecoveryReport,
    /// Lookups answered from an index and by a full scan (for tests and tools).
    pub(crate) index_lookups: AtomicU64,
    pub(crate) scan_lookups: AtomicU64,
    closed: bool,
    /// Set when an fsync of the log failed: the handle refuses writes from then on.
    failed: AtomicBool,
    /// What failed after a commit point, if anything (see [`GraphDB::health`]).
    health: Health,
    /// The analytics layout of the newest snapshot it was built for; reused while no
    /// commit intervenes (its timestamp says which snapshot it is). A leaf lock.
    pub(crate) analytics: Mutex<Option<Arc<crate::analytics::Analytics>>>,
}

/// The newest version of `id` visible at `snapshot_ts`, plus whether it is the head.
fn visible_version(
    rs: &mut RecordStore<'_>,
    root: PageId,
    kind: u8,
    id: u64,
    snapshot_ts: u64,
) -> Result<Option<(RecordPointer, RecordHeader, bool)>> {
    if id == 0 || id > MAX_ID {
        return Ok(None);
    }
    let mut ptr = RecordPointer::decode(rs.map_get(root, id)?);
    let mut newer_than = u64::MAX;
    let mut head = true;
    while let Some(p) = ptr {
        let h = rs.read_header(p)?;
        if h.id != id || h.kind != kind {
            return Err(GraphError::corrupt(
                format!(
                    "version chain of {id} reaches a record of {} (kind {})",
                    h.id, h.kind
                ),
                Some(p.page),
            ));
        }
        // Versions get strictly older along the chain; anything else would be a cycle.
        if h.commit_ts >= newer_than {
            return Err(GraphError::corrupt(
                format!("version chain of {id} is not ordered by commit time"),
                Some(p.page),
            ));
        }
        if h.commit_ts <= snapshot_ts {
            return Ok(Some((p, h, head)));
        }
        newer_than = h.commit_ts;
        head = false;
        ptr = h.prev;
    }
    Ok(None)
}

fn head_of(
    rs: &mut RecordStore<'_>,
    root: PageId,
    kind: u8,
    id: u64,
) -> Result<Option<(RecordPointer, RecordHeader)>> {
    Ok(visible_version(rs, root, kind, id, u64::MAX)?.map(|(p, h, _)| (p, h)))
}

fn read_node(rs: &mut RecordStore<'_>, ptr: RecordPointer) -> Result<NodeRecord> {
    rs.with_bytes(ptr, |bytes, dict| {
        codec::decode_node(bytes, Some(ptr.page), dict)
    })
}

fn read_edge(rs: &mut RecordStore<'_>, ptr: RecordPointer) -> Result<EdgeRecord> {
    rs.with_bytes(ptr, |bytes, dict| {
        codec::decode_edge(bytes, Some(ptr.page), dict)
    })
}

/// What [`GraphDB::visit_all_adjacency`] feeds: each visible node's entries, then the
/// node.
pub(crate) trait AdjacencySink {
    /// Called once before any node: ids below `next_node_id` and `next_edge_id` were
    /// ever allocated (an upper bound of what follows, for reserving space).
    fn begin(&mut self, next_node_id: u64, next_edge_id: u64);
    /// One adjacency entry of the node being visited.
    fn entry(&mut self, other: NodeId, edge_type: &str, outgoing: bool);
    /// The node whose entries were just visited.
    fn node_done(&mut self, id: NodeId);
}

/// Calls `f(edge, node at the other end, edge type, outgoing)` for the adjacency entries
/// of the version of `node_id` that `snapshot_ts` sees, outgoing ones first (if `out`),
/// then incoming ones (if `inn`), each list in adjacency order. Returns false, calling
/// nothing, when no version is visible or the visible one is a tombstone.
fn visit_node_adjacency(
    rs: &mut RecordStore<'_>,
    node_root: PageId,
    node_id: NodeId,
    snapshot_ts: u64,
    out: bool,
    inn: bool,
    f: &mut impl FnMut(EdgeId, NodeId, &str, bool),
) -> Result<bool> {
    let Some(head) = RecordPointer::decode(rs.map_get(node_root, node_id)?) else {
        return Ok(false);
    };
    // The newest version is what nearly every snapshot sees: it is checked and read in
    // one visit of its page. The adjacency entries carry the other end and the type, so
    // no edge record is read.
    let done = rs.with_bytes(head, |bytes, dict| {
        let h = codec::decode_header(bytes, Some(head.page))?;
        if h.id != node_id || h.kind != KIND_NODE {
            return Err(GraphError::corrupt(
                format!(
                    "version chain of {node_id} reaches a record of {} (kind {})",
                    h.id, h.kind
                ),
                Some(head.page),
            ));
        }
        if h.commit_ts > snapshot_ts {
            return Ok(None);
        }
        if h.tombstone {
            return Ok(Some(false));
        }
        codec::visit_adjacency(bytes, Some(head.page), dict, out, inn, &mut *f)?;
        Ok(Some(true))
    })?;
    if let Some(visible) = done {
        return Ok(visible);
    }
    let ptr = match visible_version(rs, node_root, KIND_NODE, node_id, snapshot_ts)? {
        Some((ptr, h, _)) if !h.tombstone => ptr,
        _ => return Ok(false),
    };
    rs.with_bytes(ptr, |bytes, dict| {
        codec::visit_adjacency(bytes, Some(ptr.page), dict, out, inn, &mut *f)
    })?;
    Ok(true)
}

/// What a commit changes in one node's adjacency: entries (edge, other end, type) to
/// append, edges to remove, and edges whose type changed.
#[derive(Default)]
struct AdjDelta<'a> {
    add_out: Vec<(EdgeId, NodeId, &'a str)>,
    add_in: Vec<(EdgeId, NodeId, &'a str)>,
    remove: BTreeSet<EdgeId>,
    retype: Vec<(EdgeId, &'a str)>,
}

impl GraphDB {
    /// Opens the database at `path` (its log is `path` + `-wal`) and recovers every commit
    /// the log holds; [`recovery_report`](GraphDB::recovery_report) says what recovery
    /// did. A path with neither file is [`GraphError::NotFound`] unless
    /// [`Config::create_if_missing`] is set; a missing or empty file beside a log that is
    /// not empty is rebuilt from the log when the log holds every page, and is otherwise
    /// a [`GraphError::Corruption`] naming both files (never a new, empty database).
    ///
    /// The handle holds an exclusive advisory lock on the file until it is dropped: a
    /// second `open` of the same file, from this process or another, fails with
    /// [`GraphError::InUse`] instead of letting two pagers overwrite each other's pages.
    pub fn open(path: impl AsRef<Path>, config: Config) -> Result<GraphDB> {
        let create = config.create_if_missing;
        GraphDB::open_path(path.as_ref(), config, create)
    }

    /// Creates a new database at `path`; fails if a database file or a log that is not
    /// empty is already there.
    pub fn create(path: impl AsRef<Path>, config: Config) -> Result<GraphDB> {
        let path = path.as_ref();
        for p in [path.to_path_buf(), wal_path(path)] {
            if std::fs::metadata(&p).map(|m| m.len() > 0).unwrap_or(false) {
                return Err(GraphError::InvalidArgument(format!(
                    "{} already exists",
                    p.display()
                )));
            }
        }
        GraphDB::open_path(path, config, true)
    }

    fn open_path(path: &Path, config: Config, create: bool) -> Result<GraphDB> {
        let log = wal_path(path);
        let log_len = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let main_existed = path.exists();
        if !main_existed && log_len == 0 && !create {
            return Err(GraphError::NotFound(path.display().to_string()));
        }
        let main = FileStorage::open(path)?;
        // The lock goes before recovery: recovery writes the main file.
        if !lock_within(&main, config.lock_wait)? {
            return Err(GraphError::InUse(path.display().to_string()));
        }
        let wal = FileStorage::open(&log)?;
        let mode = OpenMode {
            create,
            strict: config.strict_recovery,
            main_name: path.display().to_string(),
            log_name: log.display().to_string(),
        };
        match GraphDB::open_storage(Arc::new(main), Arc::new(wal), config, &mode) {
            Ok(mut db) => {
                db.path = Some(path.to_path_buf());
                Ok(db)
            }
            Err(e) => {
                if !main_existed {
                    // Leave the directory as it was: the file was only made to be locked.
                    let _ = std::fs::remove_file(path);
                    if log_len == 0 {
                        let _ = std::fs::remove_file(&log);
                    }
                }
                Err(e)
            }
        }
    }

    /// Opens a database over any [`Storage`] pair (main file, log): tests use
    /// [`MemStorage`](crate::MemStorage) to simulate crashes. When both are empty a new
    /// database is initialised in them; an empty main storage beside a log that is not
    /// empty is treated as [`open`](GraphDB::open) treats a missing file.
    pub fn open_with_storage(
        main: Arc<dyn Storage>,
        wal: Arc<dyn Storage>,
        config: Config,
    ) -> Result<GraphDB> {
        let mode = OpenMode {
            create: true,
            strict: config.strict_recovery,
            main_name: "main storage".into(),
            log_name: "log storage".into(),
        };
        GraphDB::open_storage(main, wal, config, &mode)
    }

    fn open_storage(
        main: Arc<dyn Storage>,
        wal: Arc<dyn Storage>,
        config: Config,
        mode: &OpenMode,
    ) -> Result<GraphDB> {
        let sizing = CacheSizing::of(&config);
        let (pager, recovery) = Pager::open(main, wal, sizing, mode)?;
        let meta = pager.meta().clone();
        let log = pager.log();
        Ok(GraphDB {
            path: None,
            pager: OrderedMutex::new(Rank::Pager, "pager", pager),
            node_cache: VersionCache::new(config.node_cache_capacity),
            edge_cache: VersionCache::new(config.edge_cache_capacity),
            tracking_enabled: AtomicBool::new(false),
            recent_dirty_pages: OrderedMutex::new(
                Rank::DirtyPages,
                "recent dirty pages",
                Vec::new(),
            ),
            wal_sync: OrderedMutex::new(Rank::WalSync, "log sync state", WalSyncState::default()),
            log,
            commit_ts: AtomicU64::new(meta.last_commit_ts),
            commit_seq: AtomicU64::new(0),
            next_tx_id: AtomicU64::new(meta.next_tx_id),
            next_node_id: AtomicU64::new(meta.next_node_id),
            next_edge_id: AtomicU64::new(meta.next_edge_id),
            pending: HashMap::new(),
            recovery,
            index_lookups: AtomicU64::new(0),
            scan_lookups: AtomicU64::new(0),
            closed: false,
            failed: AtomicBool::new(false),
            health: Health::Ok,
            analytics: Mutex::new(None),
            config,
        })
    }

    /// What recovery did when this handle opened the database: transactions and frames
    /// replayed, and what was dropped after the replayed prefix and why.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The path given to [`open`](GraphDB::open), if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The configuration the database was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ----- transactions and timestamps -----

    /// The newest published commit timestamp (an atomic load): a snapshot taken now.
    pub fn current_commit_ts(&self) -> u64 {
        self.commit_ts.load(Ordering::Acquire)
    }

    /// A fresh transaction id (an atomic increment; ids are unique across reopenings
    /// because the next id is persisted with every commit).
    pub(crate) fn allocate_tx_id(&self) -> TxId {
        self.next_tx_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a write transaction that reads at `snapshot_ts`. Every write method needs
    /// the transaction registered first. Registering an open id again is an error.
    pub(crate) fn begin_write(&mut self, tx_id: TxId, snapshot_ts: u64) -> Result<()> {
        self.check_open()?;
        if self.pending.contains_key(&tx_id) {
            return Err(GraphError::InvalidArgument(format!(
                "transaction {tx_id} is already open"
            )));
        }
        if snapshot_ts > self.current_commit_ts() {
            return Err(GraphError::InvalidArgument(format!(
                "snapshot {snapshot_ts} is in the future"
            )));
        }
        self.pending.insert(
            tx_id,
            TxState {
                snapshot_ts,
                nodes: BTreeMap::new(),
                edges: BTreeMap::new(),
                segments: 0,
                created: Vec::new(),
                deferred_adjacency: false,
            },
        );
        Ok(())
    }

    /// Allocates an id, takes the current snapshot and returns a guard for one write
    /// transaction (rolled back when dropped without commit).
    pub fn begin_write_txn(&mut self) -> Result<crate::WriteTxn<'_>> {
        let tx_id = self.allocate_tx_id();
        let snapshot_ts = self.current_commit_ts();
        self.begin_write(tx_id, snapshot_ts)?;
        Ok(crate::WriteTxn::new(self, tx_id, snapshot_ts))
    }

    /// The snapshot timestamps of the open write transactions (for choosing a vacuum
    /// horizon).
    pub(crate) fn open_write_snapshots(&self) -> Vec<u64> {
        self.pending.values().map(|s| s.snapshot_ts).collect()
    }

    /// Runs `f` on the pager as a commit of its own that changes no record version (index
    /// creation and removal): logged and synced like vacuum, abandoned on error.
    pub(crate) fn maintenance_commit<T>(
        &mut self,
        f: impl FnOnce(&mut Pager) -> Result<T>,
    ) -> Result<T> {
        self.check_open()?;
        let pager = self.pager.get_mut()?;
        if pager.has_uncommitted() {
            return Err(bulk_in_progress());
        }
        match f(pager) {
            Ok(v) => {
                if pager.has_uncommitted() {
                    let ts = pager.committed_meta().last_commit_ts;
                    pager.commit(ts.max(1))?;
                    self.commit_seq.fetch_add(1, Ordering::AcqRel);
                    self.sync_after_maintenance()?;
                }
                Ok(v)
            }
            Err(e) => {
                pager.abandon();
                Err(e)
            }
        }
    }

    /// The ids of nodes that transaction `tx_id` wrote or deleted (none for `None`).
    pub(crate) fn pending_node_ids(&self, tx_id: Option<TxId>) -> Vec<NodeId> {
        tx_id
            .and_then(|t| self.pending.get(&t))
            .map(|t| t.nodes.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Whether transaction `tx_id` has uncommitted writes.
    pub(crate) fn has_pending_writes(&self, tx_id: Option<TxId>) -> bool {
        tx_id
            .and_then(|t| self.pending.get(&t))
            .is_some_and(|t| !t.nodes.is_empty() || !t.edges.is_empty())
    }

    /// Whether a committed node is visible at `snapshot_ts` (record headers only).
    pub(crate) fn node_exists_at(&self, node_id: NodeId, snapshot_ts: u64) -> Result<bool> {
        if self.node_cache.get(node_id, snapshot_ts).is_some() {
            return Ok(true);
        }
        let mut pager = self.pager.lock()?;
        let root = pager.meta().node_root;
        let mut rs = RecordStore::new(&mut pager);
        Ok(
            visible_version(&mut rs, root, KIND_NODE, node_id, snapshot_ts)?
                .is_some_and(|(_, h, _)| !h.tombstone),
        )
    }

    /// The ids of every node visible at `snapshot_ts`, read from record headers only.
    pub(crate) fn node_ids_at(&self, snapshot_ts: u64) -> Result<Vec<NodeId>> {
        let mut pager = self.pager.lock()?;
        let meta = pager.meta().clone();
        let mut rs = RecordStore::new(&mut pager);
        let mut out = Vec::new();
        for id in 1..meta.next_node_id.min(MAX_ID + 1) {
            if let Some((_, h, _)) =
                visible_version(&mut rs, meta.node_root, KIND_NODE, id, snapshot_ts)?
            {
                if !h.tombstone {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }

    /// The committed edges of a node in `direction` at `snapshot_ts`, as (edge, node at the
    /// other end) pairs, optionally only those of `edge_type`: one pager lock for the node
    /// and all its edges. `NodeNotFound` if the node is not visible.
    pub(crate) fn adjacent_committed(
        &self,
        node_id: NodeId,
        direction: Direction,
        edge_type: Option<&str>,
        snapshot_ts: u64,
        out: &mut Vec<(EdgeId, NodeId)>,
    ) -> Result<()> {
        self.adjacent_visit(node_id, direction, snapshot_ts, |e, other, ty, _| {
            if edge_type.is_none_or(|t| t == ty) {
                out.push((e, other));
            }
        })
    }

    /// Calls `f(edge, node at the other end, edge type, outgoing)` for every committed
    /// edge of a node in `direction` at `snapshot_ts`, outgoing ones first, each list in
    /// adjacency order: one pager lock for the node and all its edges. `NodeNotFound` if
    /// the node is not visible.
    pub(crate) fn adjacent_visit(
        &self,
        node_id: NodeId,
        direction: Direction,
        snapshot_ts: u64,
        mut f: impl FnMut(EdgeId, NodeId, &str, bool),
    ) -> Result<()> {
        let (out, inn) = match direction {
            Direction::Outgoing => (true, false),
            Direction::Incoming => (false, true),
            Direction::Both => (true, true),
        };
        if node_id == 0 || node_id > MAX_ID {
            return Err(GraphError::NodeNotFound(node_id));
        }
        let mut pager = self.pager.lock()?;
        let node_root = pager.meta().node_root;
        let mut rs = RecordStore::new(&mut pager);
        if visit_node_adjacency(&mut rs, node_root, node_id, snapshot_ts, out, inn, &mut f)? {
            Ok(())
        } else {
            Err(GraphError::NodeNotFound(node_id))
        }
    }

    /// For every committed node visible at `snapshot_ts`, in id order, calls
    /// [`AdjacencySink::entry`] for its outgoing and then its incoming adjacency entries,
    /// and then [`AdjacencySink::node_done`]: one visit of each node's newest version
    /// for the whole graph (what the analytics layout is built from), the pager locked
    /// once per `VISIT_CHUNK` ids rather than once per node, so that other readers'
    /// page reads wait at most one chunk. Invisible ids call nothing.
    pub(crate) fn visit_all_adjacency(
        &self,
        snapshot_ts: u64,
        sink: &mut impl AdjacencySink,
    ) -> Result<()> {
        /// Ids visited per hold of the pager lock.
        const VISIT_CHUNK: u64 = 4096;
        // No commit can change the graph between chunks: commits take `&mut self`.
        let (node_root, next_node_id, next_edge_id) = {
            let pager = self.pager.lock()?;
            let m = pager.meta();
            (m.node_root, m.next_node_id, m.next_edge_id)
        };
        sink.begin(next_node_id, next_edge_id);
        let end = next_node_id.min(MAX_ID + 1);
        let mut first = 1;
        while first < end {
            let last = first.saturating_add(VISIT_CHUNK).min(end);
            let mut pager = self.pager.lock()?;
            let mut rs = RecordStore::new(&mut pager);
            for id in first..last {
                let mut f = |_: EdgeId, other: NodeId, ty: &str, outgoing: bool| {
                    sink.entry(other, ty, outgoing)
                };
                if visit_node_adjacency(&mut rs, node_root, id, snapshot_ts, true, true, &mut f)? {
                    sink.node_done(id);
                }
            }
            first = last;
        }
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            return Err(GraphError::Closed("the database was closed".into()));
        }
        if self.failed.load(Ordering::Acquire) || self.log.has_failed() {
            let why = match &self.health {
                Health::WritesRefused { reason } => reason.clone(),
                _ => "a write or sync of the log failed".into(),
            };
            return Err(GraphError::Closed(format!(
                "{why}; reopen the database to recover"
            )));
        }
        Ok(())
    }

    fn tx(&mut self, tx_id: TxId) -> Result<&mut TxState> {
        self.pending
            .get_mut(&tx_id)
            .ok_or(GraphError::TransactionNotFound(tx_id))
    }

    fn tx_snapshot(&self, tx_id: TxId) -> Result<u64> {
        self.pending
            .get(&tx_id)
            .map(|s| s.snapshot_ts)
            .ok_or(GraphError::TransactionNotFound(tx_id))
    }

    // ----- writes (&mut self) -----

    /// Adds a node in transaction `tx_id` and returns its new id. `node.id` is ignored.
    pub(crate) fn add_node_internal(&mut self, mut node: Node, tx_id: TxId) -> Result<NodeId> {
        validate_properties(&node.properties)?;
        self.tx(tx_id)?;
        let id = self.next_node_id.fetch_add(1, Ordering::Relaxed);
        if id > MAX_ID {
            return Err(GraphError::InvalidArgument(
                "node id space exhausted".into(),
            ));
        }
        node.id = id;
        node.version = 0;
        self.tx(tx_id)?.nodes.insert(
            id,
            Pending::Put {
                value: node,
                is_new: true,
            },
        );
        Ok(id)
    }

    /// Replaces the labels and properties of a node visible to `tx_id`.
    pub(crate) fn update_node(
        &mut self,
        node_id: NodeId,
        mut node: Node,
        tx_id: TxId,
    ) -> Result<()> {
        validate_properties(&node.properties)?;
        let snapshot = self.tx_snapshot(tx_id)?;
        let is_new = match self.tx(tx_id)?.nodes.get(&node_id) {
            Some(Pending::Put { is_new, .. }) => *is_new,
            Some(Pending::Delete) => return Err(GraphError::NodeNotFound(node_id)),
            None => {
                if self
                    .get_node_with_snapshot(node_id, snapshot, None)?
                    .is_none()
                {
                    return Err(GraphError::NodeNotFound(node_id));
                }
                false
            }
        };
        node.id = node_id;
        node.version = 0;
        self.tx(tx_id)?.nodes.insert(
            node_id,
            Pending::Put {
                value: node,
                is_new,
            },
        );
        Ok(())
    }

    /// Deletes a node visible to `tx_id` together with every edge it has in that view.
    pub(crate) fn delete_node(&mut self, node_id: NodeId, tx_id: TxId) -> Result<()> {
        let snapshot = self.tx_snapshot(tx_id)?;
        if self
            .get_node_with_snapshot(node_id, snapshot, Some(tx_id))?
            .is_none()
        {
            return Err(GraphError::NodeNotFound(node_id));
        }
        let edges = self.edges_of(node_id, Direction::Both, snapshot, Some(tx_id))?;
        for e in edges {
            // A self-loop appears twice in `Both`; the second delete finds it gone.
            match self.delete_edge(e, tx_id) {
                Ok(()) | Err(GraphError::EdgeNotFound(_)) => {}
                Err(other) => return Err(other),
            }
        }
        let tx = self.tx(tx_id)?;
        match tx.nodes.get(&node_id) {
            Some(Pending::Put { is_new: true, .. }) => {
                tx.nodes.remove(&node_id);
            }
            _ => {
                tx.nodes.insert(node_id, Pending::Delete);
            }
        }
        Ok(())
    }

    /// Adds an edge between two nodes visible to `tx_id` and returns its id.
    pub(crate) fn add_edge_internal(&mut self, mut edge: Edge, tx_id: TxId) -> Result<EdgeId> {
        validate_properties(&edge.properties)?;
        let snapshot = self.tx_snapshot(tx_id)?;
        for end in [edge.source, edge.target] {
            // An existence check without cloning the node: bulk imports add many edges
            // per node.
            let mine = self.pending.get(&tx_id).and_then(|t| t.nodes.get(&end));
            let earlier = self
                .pending
                .get(&tx_id)
                .is_some_and(|t| t.created_before(end));
            let exists = match mine {
                Some(Pending::Put { .. }) => true,
                Some(Pending::Delete) => false,
                None => earlier || self.node_exists_at(end, snapshot)?,
            };
            if !exists {
                return Err(GraphError::NodeNotFound(end));
            }
        }
        let id = self.next_edge_id.fetch_add(1, Ordering::Relaxed);
        if id > MAX_ID {
            return Err(GraphError::InvalidArgument(
                "edge id space exhausted".into(),
            ));
        }
        edge.id = id;
        edge.version = 0;
        self.tx(tx_id)?.edges.insert(
            id,
            Pending::Put {
                value: edge,
                is_new: true,
            },
        );
        Ok(id)
    }

    /// Replaces the type and properties of an edge visible to `tx_id`; its endpoints
    /// cannot change (delete it and add another).
    pub(crate) fn update_edge(
        &mut self,
        edge_id: EdgeId,
        mut edge: Edge,
        tx_id: TxId,
    ) -> Result<()> {
        validate_properties(&edge.properties)?;
        let snapshot = self.tx_snapshot(tx_id)?;
        let current = self
            .get_edge_with_snapshot(edge_id, snapshot, Some(tx_id))?
            .ok_or(GraphError::EdgeNotFound(edge_id))?;
        if (current.source, current.target) != (edge.source, edge.target) {
            return Err(GraphError::InvalidArgument(format!(
                "edge {edge_id}: endpoints cannot change ({}->{} to {}->{})",
                current.source, current.target, edge.source, edge.target
            )));
        }
        let is_new = matches!(
            self.tx(tx_id)?.edges.get(&edge_id),
            Some(Pending::Put { is_new: true, .. })
        );
        edge.id = edge_id;
        edge.version = 0;
        self.tx(tx_id)?.edges.insert(
            edge_id,
            Pending::Put {
                value: edge,
                is_new,
            },
        );
        Ok(())
    }

    /// Deletes an edge visible to `tx_id`.
    pub(crate) fn delete_edge(&mut self, edge_id: EdgeId, tx_id: TxId) -> Result<()> {
        let snapshot = self.tx_snapshot(tx_id)?;
        if self
            .get_edge_with_snapshot(edge_id, snapshot, Some(tx_id))?
            .is_none()
        {
            return Err(GraphError::EdgeNotFound(edge_id));
        }
        let tx = self.tx(tx_id)?;
        match tx.edges.get(&edge_id) {
            Some(Pending::Put { is_new: true, .. }) => {
                tx.edges.remove(&edge_id);
            }
            _ => {
                tx.edges.insert(edge_id, Pending::Delete);
            }
        }
        Ok(())
    }

    /// Forgets the transaction's writes. Unknown ids are ignored (rollback is idempotent).
    pub(crate) fn rollback_transaction(&mut self, tx_id: TxId) {
        if let Some(state) = self.pending.remove(&tx_id) {
            if state.segments > 0 {
                // Its earlier batches are in the pager (and maybe spilled to the log).
                if let Ok(pager) = self.pager.get_mut() {
                    pager.abandon();
                }
            }
        }
    }

    /// Appends edges to the adjacency lists of nodes that earlier batches of `tx_id`
    /// created (see [`bulk_write`](GraphDB::bulk_write)):
    /// for each `(node, outgoing, incoming)` the node's version is rewritten once with
    /// the edges appended in the order given, each entry `(edge, other end, type)` with
    /// the type an index into `types`. Spills past `max_dirty_pages` as
    /// `bulk_write` does and, like it, returns the modified pages held before that.
    /// On error the whole transaction is rolled back.
    pub(crate) fn apply_adjacency(
        &mut self,
        tx_id: TxId,
        lists: &[AdjLists],
        types: &[String],
        max_dirty_pages: usize,
    ) -> Result<usize> {
        self.check_open()?;
        let st = self.tx(tx_id)?;
        if let Some((id, _, _)) = lists.iter().find(|(id, _, _)| !st.created_before(*id)) {
            let id = *id;
            self.rollback_transaction(tx_id);
            return Err(GraphError::InvalidArgument(format!(
                "node {id} was not created by an earlier batch of this transaction"
            )));
        }
        let pager = self.pager.get_mut()?;
        let mut outcome = append_adjacency(pager, tx_id, lists, types);
        let dirty = pager.dirty_pages();
        if outcome.is_ok() && dirty > max_dirty_pages {
            outcome = pager.spill();
        }
        match outcome {
            Ok(()) => Ok(dirty),
            Err(e) => {
                self.rollback_transaction(tx_id);
                Err(e)
            }
        }
    }

    /// A fresh node id for [`bulk_write`](GraphDB::bulk_write).
    pub(crate) fn next_bulk_node_id(&self) -> Result<NodeId> {
        take_bulk_id(&self.next_node_id, "node")
    }

    /// A fresh edge id for [`bulk_write`](GraphDB::bulk_write).
    pub(crate) fn next_bulk_edge_id(&self) -> Result<EdgeId> {
        take_bulk_id(&self.next_edge_id, "edge")
    }

    /// Writes a batch of a bulk load into the commit being built (a batched commit):
    /// new nodes and edges, their ids already taken with
    /// [`next_bulk_node_id`](GraphDB::next_bulk_node_id) and
    /// [`next_bulk_edge_id`](GraphDB::next_bulk_edge_id), go straight into the commit
    /// being built, without the per-record bookkeeping of a transaction's writes (the
    /// records are moved into their encoded form, never cloned; the caller has checked
    /// their properties with `validate_properties`). The edges' adjacency
    /// is left to [`apply_adjacency`](GraphDB::apply_adjacency). An edge's ends must be
    /// nodes of this call, of an earlier batch, or visible to the transaction. Returns
    /// the modified pages held before any went to the log; on error the whole
    /// transaction is rolled back.
    ///
    /// Past `max_dirty_pages` modified pages the pager writes them all to the log ahead
    /// of the commit frame (see `Pager::spill`). Nothing becomes visible, and a crash
    /// keeps nothing, until [`commit_transaction`](GraphDB::commit_transaction) writes
    /// the commit frame. This is how a bulk import keeps its memory bounded whatever
    /// its size. While a batched commit is being built no other commit can run.
    pub(crate) fn bulk_write(
        &mut self,
        tx_id: TxId,
        nodes: Vec<Node>,
        edges: &BulkEdges,
        names: &[String],
        max_dirty_pages: usize,
    ) -> Result<usize> {
        let outcome = self.bulk_write_inner(tx_id, nodes, edges, names, max_dirty_pages);
        if outcome.is_err() {
            self.rollback_transaction(tx_id);
        }
        outcome
    }

    fn bulk_write_inner(
        &mut self,
        tx_id: TxId,
        nodes: Vec<Node>,
        edges: &BulkEdges,
        names: &[String],
        max_dirty_pages: usize,
    ) -> Result<usize> {
        self.check_open()?;
        let st = self.tx(tx_id)?;
        if !st.nodes.is_empty() || !st.edges.is_empty() {
            return Err(GraphError::InvalidArgument(
                "a bulk write cannot follow unbatched writes of the same transaction".into(),
            ));
        }
        let snapshot = st.snapshot_ts;
        // Node ids of this call, in order (the caller takes them increasing).
        let mut mine: Vec<NodeId> = nodes.iter().map(|n| n.id).collect();
        mine.sort_unstable();
        // The caller validated every record's properties (the importer, so that an error
        // names its line).
        for e in &edges.edges {
            for end in [e.source, e.target] {
                let ok = mine.binary_search(&end).is_ok()
                    || self.tx(tx_id)?.created_before(end)
                    || self.node_exists_at(end, snapshot)?;
                if !ok {
                    return Err(GraphError::NodeNotFound(end));
                }
            }
        }
        let pager = self.pager.get_mut()?;
        let outcome = write_bulk(pager, tx_id, nodes, edges, names);
        let mut outcome = outcome.map(|()| pager.dirty_pages());
        if let Ok(dirty) = outcome {
            if dirty > max_dirty_pages {
                outcome = pager.spill().map(|()| dirty);
            }
        }
        let dirty = outcome?;
        let st = self.tx(tx_id)?;
        st.segments += 1;
        st.deferred_adjacency = true;
        st.note_created(mine.into_iter());
        Ok(dirty)
    }

    /// Modified pages the commit being built holds in memory (for bulk-import tests).
    pub(crate) fn dirty_pages(&mut self) -> usize {
        self.pager.get_mut().map_or(0, |p| p.dirty_pages())
    }

    /// Commits `tx_id`: checks for write-write conflicts (first committer wins), writes the
    /// new versions, logs them and syncs according to the [`SyncMode`]. Returns the commit
    /// timestamp. A read-only transaction commits without I/O and returns the current
    /// timestamp.
    ///
    /// The contract is documented on [`WriteTxn::commit`](crate::WriteTxn::commit).
    pub(crate) fn commit_transaction(&mut self, tx_id: TxId) -> Result<u64> {
        let full = self.config.sync_mode == SyncMode::Full;
        // Under `Full` the commit is published only once it is durable, so a failed
        // fsync leaves it invisible (see the contract above).
        let info = self.commit_inner(tx_id, !full)?;
        if info.seq == 0 {
            return Ok(info.commit_ts);
        }
        let sync_now = {
            let state = self.wal_sync.get_mut_recovered();
            state.unsynced += 1;
            match self.config.sync_mode {
                SyncMode::Full => true,
                SyncMode::Batched { commits } => state.unsynced >= commits.max(1),
                SyncMode::Off => false,
            }
        };
        let outcome = if sync_now {
            self.sync_commits_upto(info.seq)
        } else {
            // Not synced, but in the file: a killed process keeps the commit.
            self.log.settle(false)
        };
        if let Err(e) = outcome {
            self.refuse_writes(format!(
                "the log write after commit {} failed: {e}",
                info.commit_ts
            ));
            if full {
                return Err(GraphError::CommitNotDurable(e.to_string()));
            }
        }
        if full {
            self.commit_ts.store(info.commit_ts, Ordering::Release);
        }
        self.maybe_checkpoint();
        Ok(info.commit_ts)
    }

    /// Commits `tx_id` without writing or syncing the log, whatever the [`SyncMode`]: the
    /// transaction is visible to new snapshots at once, its log frames wait in memory,
    /// and it is durable once [`sync_commits_upto`](crate::engine::Engine::sync_commits_upto)`(info.seq)`
    /// or a [`LogSync::sync`] begun after this call returned ([`LogSync::flush`] puts it
    /// in the file without syncing; checkpoint, `sync`, `close` and drop also write it).
    /// This is the building block of group commit. `seq` is 0 for a read-only
    /// transaction. An error means nothing of the transaction was applied.
    pub(crate) fn commit_deferred(&mut self, tx_id: TxId) -> Result<CommitInfo> {
        self.commit_inner(tx_id, true)
    }

    /// Applies the transaction to the pager and queues its log frames (the commit point
    /// for `Off` and `Batched`); publishes its timestamp when `publish`. Every error is
    /// returned before anything is applied; nothing after the queueing can fail.
    fn commit_inner(&mut self, tx_id: TxId, publish: bool) -> Result<CommitInfo> {
        self.check_open()?;
        let segmented = self.pending.get(&tx_id).is_some_and(|s| s.segments > 0);
        if self
            .pending
            .get(&tx_id)
            .is_some_and(|s| s.deferred_adjacency && !s.edges.is_empty())
        {
            // Its last writes would get adjacency while the earlier ones wait for lists
            // that can no longer come: refuse rather than commit a mix.
            self.rollback_transaction(tx_id);
            return Err(GraphError::InvalidArgument(
                "a commit with deferred adjacency must apply its last edges as a batch".into(),
            ));
        }
        if !segmented && self.pager.get_mut()?.has_uncommitted() {
            return Err(bulk_in_progress());
        }
        let state = self
            .pending
            .remove(&tx_id)
            .ok_or(GraphError::TransactionNotFound(tx_id))?;
        if state.nodes.is_empty() && state.edges.is_empty() && !segmented {
            return Ok(CommitInfo {
                commit_ts: self.current_commit_ts(),
                seq: 0,
                touched_nodes: Vec::new(),
                touched_edges: Vec::new(),
            });
        }
        let next_ids = (
            self.next_node_id.load(Ordering::Relaxed),
            self.next_edge_id.load(Ordering::Relaxed),
            self.next_tx_id.load(Ordering::Relaxed),
        );
        let pager = self.pager.get_mut()?;
        let outcome = apply_commit(pager, tx_id, &state, next_ids);
        let (commit_ts, pages, touched_nodes, touched_edges) = match outcome {
            Ok(v) => v,
            Err(e) => {
                pager.abandon();
                return Err(e);
            }
        };
        // The commit point: from here on nothing fails.
        if publish {
            self.commit_ts.store(commit_ts, Ordering::Release);
        }
        let seq = self.commit_seq.fetch_add(1, Ordering::AcqRel) + 1;
        // Close the cached spans before the timestamp is published (under `Full`, after
        // the sync): snapshots older than the commit keep hitting the old versions.
        for id in &touched_nodes {
            self.node_cache.end_version(*id, commit_ts);
        }
        for id in &touched_edges {
            self.edge_cache.end_version(*id, commit_ts);
        }
        if self.tracking_enabled.load(Ordering::Acquire) {
            self.recent_dirty_pages.get_mut_recovered().extend(pages);
        }
        Ok(CommitInfo {
            commit_ts,
            seq,
            touched_nodes,
            touched_edges,
        })
    }

    /// Syncs a maintenance commit (index change, vacuum). These are applied at once; a
    /// failed sync leaves the handle refusing writes, as for a transaction's commit.
    fn sync_after_maintenance(&mut self) -> Result<()> {
        if let Err(e) = self.sync() {
            self.refuse_writes(format!("the log sync of a maintenance commit failed: {e}"));
            return Err(GraphError::CommitNotDurable(e.to_string()));
        }
        Ok(())
    }

    /// Puts the handle into [`Health::WritesRefused`].
    fn refuse_writes(&mut self, reason: String) {
        self.failed.store(true, Ordering::Release);
        if !matches!(self.health, Health::WritesRefused { .. }) {
            self.health = Health::WritesRefused { reason };
        }
    }

    /// Whether the handle is fully usable, and if not, why and what still works (see
    /// the contract on [`WriteTxn::commit`](crate::WriteTxn::commit)).
    pub fn health(&self) -> Health {
        if matches!(self.health, Health::WritesRefused { .. }) {
            return self.health.clone();
        }
        if self.failed.load(Ordering::Acquire) || self.log.has_failed() {
            return Health::WritesRefused {
                reason: "a write or sync of the log failed".into(),
            };
        }
        self.health.clone()
    }

    /// Makes every commit up to sequence number `seq` durable. Takes `&self` so that
    /// committers can release their write access before the fsync; when several wait,
    /// one fsync covers them all.
    pub(crate) fn sync_commits_upto(&self, seq: u64) -> Result<()> {
        let mut state = self.wal_sync.lock()?;
        if state.synced_seq >= seq {
            return Ok(());
        }
        let target = self.commit_seq.load(Ordering::Acquire);
        if let Err(e) = self.log.settle(true) {
            // After a failed fsync the kernel may have dropped the dirty pages, so a
            // retry could "succeed" without the data being durable. Refuse all further
            // writes; reopening recovers whatever did reach the disk.
            self.failed.store(true, Ordering::Release);
            return Err(e);
        }
        state.synced_seq = state.synced_seq.max(target);
        state.unsynced = 0;
        Ok(())
    }

    /// A handle on the log that syncs (or only writes) every commit made before each call
    /// without any access to the engine: committers of a concurrent layer release their
    /// lock and then share one write and one fsync (group commit).
    pub(crate) fn log_sync(&self) -> LogSync {
        LogSync {
            log: Arc::clone(&self.log),
        }
    }

    /// Makes every commit so far durable (fsync of the log).
    pub fn sync(&self) -> Result<()> {
        self.sync_commits_upto(self.commit_seq.load(Ordering::Acquire))
    }

    /// The checkpoint a commit runs when the log is full: after the commit point, so its
    /// failure only changes [`health`](GraphDB::health).
    fn maybe_checkpoint(&mut self) {
        let due = self
            .pager
            .get_mut()
            .map(|p| p.wal_frames() >= self.config.checkpoint_after_frames);
        if due.unwrap_or(false) {
            // The error is kept in the health state (see `checkpoint`).
            let _ = self.checkpoint_log(false);
        }
    }

    /// The checkpoint a busy writer runs when the log is full: like
    /// [`checkpoint`](GraphDB::checkpoint), but the log keeps its space for the next
    /// generation instead of being cut back to 1 MiB, so commits keep writing into
    /// allocated blocks. The log then stays below `checkpoint_after_frames` frames plus
    /// one transaction and 1 MiB; an explicit checkpoint (or `close`) shrinks it.
    pub(crate) fn checkpoint_keeping_log(&mut self) -> Result<()> {
        self.checkpoint_log(false)
    }

    /// Folds the log into the main file and empties it. Open write transactions are not
    /// affected (their writes are still only in memory).
    ///
    /// A failure leaves every commit safe in the log. If it failed while writing the main
    /// file, [`health`](GraphDB::health) is [`Health::CheckpointPending`] and the next
    /// checkpoint retries it; if the log itself could not be synced or reset, it is
    /// [`Health::WritesRefused`].
    pub fn checkpoint(&mut self) -> Result<()> {
        self.checkpoint_log(true)
    }

    fn checkpoint_log(&mut self, shrink: bool) -> Result<()> {
        self.check_open()?;
        let result = self.pager.get_mut()?.checkpoint(shrink);
        match result {
            Ok(()) => {
                if matches!(self.health, Health::CheckpointPending { .. }) {
                    self.health = Health::Ok;
                }
                let seq = self.commit_seq.load(Ordering::Acquire);
                let state = self.wal_sync.get_mut_recovered();
                state.synced_seq = seq;
                state.unsynced = 0;
                Ok(())
            }
            Err(e) => {
                if self.log.has_failed() {
                    self.refuse_writes(format!("checkpoint failed in the log: {e}"));
                } else if !matches!(self.health, Health::WritesRefused { .. }) {
                    self.health = Health::CheckpointPending {
                        reason: e.to_string(),
                    };
                }
                Err(e)
            }
        }
    }

    /// Writes the log from now on in format `version`: [`LOG_FORMAT_VERSION`] (the
    /// default: records of the byte ranges each commit changed) or 3 (the format before
    /// it: a fixed-size frame holding the whole image of every page a commit wrote, and
    /// commits that wait to be written merged page by page). Folds the log into the main
    /// file first. Kept so that one process can measure both formats side by side, and
    /// so that tests can write a log of the previous format; every format is read
    /// whichever is written, and a reopened handle writes [`LOG_FORMAT_VERSION`] again
    /// (after folding a log of another format into the main file).
    ///
    /// [`LOG_FORMAT_VERSION`]: crate::LOG_FORMAT_VERSION
    pub fn use_log_format(&mut self, version: u32) -> Result<()> {
        self.check_open()?;
        if self.pager.get_mut()?.has_uncommitted() {
            return Err(bulk_in_progress());
        }
        let result = self.pager.get_mut()?.set_log_format(version);
        if result.is_ok() {
            let seq = self.commit_seq.load(Ordering::Acquire);
            let state = self.wal_sync.get_mut_recovered();
            state.synced_seq = seq;
            state.unsynced = 0;
        }
        result
    }

    /// Frees every record version that no snapshot at or after `oldest_snapshot_ts` (nor
    /// any open write transaction) can see, and the chains of records deleted before it.
    /// The caller passes the oldest snapshot its readers still hold.
    pub fn vacuum(&mut self, oldest_snapshot_ts: u64) -> Result<VacuumStats> {
        self.check_open()?;
        let horizon = self
            .pending
            .values()
            .map(|s| s.snapshot_ts)
            .chain([oldest_snapshot_ts, self.current_commit_ts()])
            .min()
            .unwrap_or(0);
        let pager = self.pager.get_mut()?;
        let result = vacuum_pages(pager, horizon);
        match result {
            Ok(stats) => {
                if pager.has_uncommitted() {
                    let ts = pager.committed_meta().last_commit_ts;
                    pager.commit(ts.max(1))?;
                    self.commit_seq.fetch_add(1, Ordering::AcqRel);
                    self.sync_after_maintenance()?;
                }
                Ok(stats)
            }
            Err(e) => {
                pager.abandon();
                Err(e)
            }
        }
    }

    /// Syncs, checkpoints and closes the database. Open write transactions are rolled
    /// back.
    pub fn close(mut self) -> Result<()> {
        self.pending.clear();
        self.sync()?;
        self.checkpoint()?;
        self.closed = true;
        Ok(())
    }

    // ----- reads (&self) -----

    /// The newest committed version of a node.
    pub fn get_node(&self, node_id: NodeId) -> Result<Option<Node>> {
        self.get_node_with_snapshot(node_id, self.current_commit_ts(), None)
    }

    /// The version of a node that a snapshot at `snapshot_ts` sees; with `tx_id`, that
    /// transaction's own uncommitted writes come first.
    pub(crate) fn get_node_with_snapshot(
        &self,
        node_id: NodeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Option<Node>> {
        Ok(self
            .get_node_shared(node_id, snapshot_ts, tx_id)?
            .map(Arc::unwrap_or_clone))
    }

    /// Like [`get_node_with_snapshot`](crate::engine::Engine::get_node_with_snapshot), but shares the
    /// cached version instead of cloning it. A cache hit takes one cache shard in read
    /// mode and no exclusive lock, so readers on several threads run in parallel.
    pub(crate) fn get_node_shared(
        &self,
        node_id: NodeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Option<Arc<Node>>> {
        if let Some(tx) = tx_id.and_then(|t| self.pending.get(&t)) {
            match tx.nodes.get(&node_id) {
                Some(Pending::Put { value, .. }) => return Ok(Some(Arc::new(value.clone()))),
                Some(Pending::Delete) => return Ok(None),
                None => {}
            }
        }
        if let Some(n) = self.node_cache.get(node_id, snapshot_ts) {
            return Ok(Some(n));
        }
        let found = self.read_node_version(node_id, snapshot_ts)?;
        Ok(match found {
            Some((node, head)) => {
                let node = Arc::new(node);
                if head {
                    self.node_cache
                        .insert_head(node_id, Arc::clone(&node), node.version);
                }
                Some(node)
            }
            None => None,
        })
    }

    /// The committed version of a node visible at `snapshot_ts`, read from the pages
    /// without consulting or filling the node cache, and whether it is the newest version.
    /// A cache kept above the engine (one that hands out `Arc<Node>`) loads through this.
    pub(crate) fn read_node_version(
        &self,
        node_id: NodeId,
        snapshot_ts: u64,
    ) -> Result<Option<(Node, bool)>> {
        let mut pager = self.pager.lock()?;
        let root = pager.meta().node_root;
        let mut rs = RecordStore::new(&mut pager);
        Ok(
            match visible_version(&mut rs, root, KIND_NODE, node_id, snapshot_ts)? {
                Some((_, h, _)) if h.tombstone => None,
                Some((ptr, _, head)) => Some((read_node(&mut rs, ptr)?.to_node(), head)),
                None => None,
            },
        )
    }

    /// The newest committed version of an edge; `EdgeNotFound` if there is none.
    pub fn load_edge(&self, edge_id: EdgeId) -> Result<Edge> {
        self.load_edge_with_snapshot(edge_id, self.current_commit_ts(), None)
    }

    /// The version of an edge a snapshot sees (own writes first); `EdgeNotFound` if none.
    pub(crate) fn load_edge_with_snapshot(
        &self,
        edge_id: EdgeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Edge> {
        self.get_edge_with_snapshot(edge_id, snapshot_ts, tx_id)?
            .ok_or(GraphError::EdgeNotFound(edge_id))
    }

    /// Like [`load_edge_with_snapshot`](crate::engine::Engine::load_edge_with_snapshot) but `None` for a
    /// missing edge.
    pub(crate) fn get_edge_with_snapshot(
        &self,
        edge_id: EdgeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Option<Edge>> {
        Ok(self
            .get_edge_shared(edge_id, snapshot_ts, tx_id)?
            .map(Arc::unwrap_or_clone))
    }

    /// Like [`get_edge_with_snapshot`](crate::engine::Engine::get_edge_with_snapshot), but shares the
    /// cached version instead of cloning it (a hit takes no exclusive lock).
    pub(crate) fn get_edge_shared(
        &self,
        edge_id: EdgeId,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Option<Arc<Edge>>> {
        if let Some(tx) = tx_id.and_then(|t| self.pending.get(&t)) {
            match tx.edges.get(&edge_id) {
                Some(Pending::Put { value, .. }) => return Ok(Some(Arc::new(value.clone()))),
                Some(Pending::Delete) => return Ok(None),
                None => {}
            }
        }
        if let Some(e) = self.edge_cache.get(edge_id, snapshot_ts) {
            return Ok(Some(e));
        }
        let found = self.read_edge_version(edge_id, snapshot_ts)?;
        Ok(match found {
            Some((edge, head)) => {
                let edge = Arc::new(edge);
                if head {
                    self.edge_cache
                        .insert_head(edge_id, Arc::clone(&edge), edge.version);
                }
                Some(edge)
            }
            None => None,
        })
    }

    /// The committed version of an edge visible at `snapshot_ts`, bypassing the edge
    /// cache, and whether it is the newest version.
    pub(crate) fn read_edge_version(
        &self,
        edge_id: EdgeId,
        snapshot_ts: u64,
    ) -> Result<Option<(Edge, bool)>> {
        let mut pager = self.pager.lock()?;
        let root = pager.meta().edge_root;
        let mut rs = RecordStore::new(&mut pager);
        Ok(
            match visible_version(&mut rs, root, KIND_EDGE, edge_id, snapshot_ts)? {
                Some((_, h, _)) if h.tombstone => None,
                Some((ptr, _, head)) => Some((read_edge(&mut rs, ptr)?.to_edge(), head)),
                None => None,
            },
        )
    }

    /// The newest committed versions of several edges, in order; `EdgeNotFound` for the
    /// first missing one.
    pub(crate) fn load_edges_batch(&self, edge_ids: &[EdgeId]) -> Result<Vec<Edge>> {
        let ts = self.current_commit_ts();
        edge_ids
            .iter()
            .map(|id| self.load_edge_with_snapshot(*id, ts, None))
            .collect()
    }

    /// The ids of a node's edges in `direction` as a snapshot (and optionally a write
    /// transaction) sees them; `NodeNotFound` if the node is not visible.
    pub(crate) fn edges_of(
        &self,
        node_id: NodeId,
        direction: Direction,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<EdgeId>> {
        let tx = tx_id.and_then(|t| self.pending.get(&t));
        let mine = tx.and_then(|t| t.nodes.get(&node_id));
        if matches!(mine, Some(Pending::Delete)) {
            return Err(GraphError::NodeNotFound(node_id));
        }
        let created_here = matches!(mine, Some(Pending::Put { is_new: true, .. }));
        let (mut out, mut inn) = if created_here {
            (Vec::new(), Vec::new())
        } else {
            let mut pager = self.pager.lock()?;
            let root = pager.meta().node_root;
            let mut rs = RecordStore::new(&mut pager);
            match visible_version(&mut rs, root, KIND_NODE, node_id, snapshot_ts)? {
                Some((ptr, h, _)) if !h.tombstone => {
                    let r = read_node(&mut rs, ptr)?;
                    let ids = |l: Vec<codec::Adj>| l.into_iter().map(|a| a.edge).collect();
                    (ids(r.out), ids(r.inn))
                }
                _ => return Err(GraphError::NodeNotFound(node_id)),
            }
        };
        if let Some(tx) = tx {
            for (id, p) in &tx.edges {
                match p {
                    Pending::Delete => {
                        out.retain(|e| e != id);
                        inn.retain(|e| e != id);
                    }
                    Pending::Put {
                        value,
                        is_new: true,
                    } => {
                        if value.source == node_id {
                            out.push(*id);
                        }
                        if value.target == node_id {
                            inn.push(*id);
                        }
                    }
                    Pending::Put { .. } => {}
                }
            }
        }
        Ok(match direction {
            Direction::Outgoing => out,
            Direction::Incoming => inn,
            Direction::Both => {
                out.extend(inn);
                out
            }
        })
    }

    /// The nodes at the other end of a node's edges in `direction` (one entry per edge).
    pub(crate) fn neighbors(
        &self,
        node_id: NodeId,
        direction: Direction,
        snapshot_ts: u64,
        tx_id: Option<TxId>,
    ) -> Result<Vec<NodeId>> {
        let mut result = Vec::new();
        if !self.has_pending_writes(tx_id) {
            self.adjacent_visit(node_id, direction, snapshot_ts, |_, other, _, _| {
                result.push(other)
            })?;
            return Ok(result);
        }
        for (dir, list) in [
            (Direction::Outgoing, Direction::Outgoing),
            (Direction::Incoming, Direction::Incoming),
        ] {
            if direction != Direction::Both && direction != dir {
                continue;
            }
            for e in self.edges_of(node_id, list, snapshot_ts, tx_id)? {
                let edge = self.load_edge_with_snapshot(e, snapshot_ts, tx_id)?;
                result.push(if dir == Direction::Outgoing {
                    edge.target
                } else {
                    edge.source
                });
            }
        }
        Ok(result)
    }

    /// Every committed node carrying `label`, in id order: read from the label index on
    /// `label` when there is one, a scan otherwise.
    pub fn get_nodes_by_label(&self, label: &str) -> Result<Vec<Node>> {
        self.get_nodes_by_label_at(label, self.current_commit_ts(), None)
    }

    /// Every committed node with `label` whose property `key` equals `value` (same type
    /// and same bits, see [`compare_values`](crate::compare_values)), in id order: read
    /// from the property index on `(label, key)` when there is one, a scan otherwise.
    pub fn find_nodes_by_property(
        &self,
        label: &str,
        key: &str,
        value: &PropertyValue,
    ) -> Result<Vec<Node>> {
        self.find_nodes_by_property_at(label, key, value, self.current_commit_ts(), None)
    }

    /// Like [`get_nodes_by_label`](Self::get_nodes_by_label), but the results share the
    /// node cache's versions (`Arc<Node>`) instead of being copies: no labels or
    /// properties are cloned, so a lookup with many results costs a reference count per
    /// node. The nodes are immutable snapshots of their versions.
    pub fn get_nodes_by_label_shared(&self, label: &str) -> Result<Vec<Arc<Node>>> {
        self.get_nodes_by_label_shared_at(label, self.current_commit_ts(), None)
    }

    /// Like [`find_nodes_by_property`](Self::find_nodes_by_property), but the results
    /// share the node cache's versions (`Arc<Node>`) instead of being copies (see
    /// [`get_nodes_by_label_shared`](Self::get_nodes_by_label_shared)).
    pub fn find_nodes_by_property_shared(
        &self,
        label: &str,
        key: &str,
        value: &PropertyValue,
    ) -> Result<Vec<Arc<Node>>> {
        self.find_nodes_by_property_shared_at(label, key, value, self.current_commit_ts(), None)
    }

    /// Every node visible at `snapshot_ts` that passes `keep`, in id order.
    pub(crate) fn scan_nodes(
        &self,
        snapshot_ts: u64,
        keep: impl Fn(&Node) -> bool,
    ) -> Result<Vec<Node>> {
        let mut pager = self.pager.lock()?;
        let meta = pager.meta().clone();
        let mut rs = RecordStore::new(&mut pager);
        let mut out = Vec::new();
        for id in 1..meta.next_node_id.min(MAX_ID + 1) {
            if let Some((ptr, h, _)) =
                visible_version(&mut rs, meta.node_root, KIND_NODE, id, snapshot_ts)?
            {
                if !h.tombstone {
                    let n = read_node(&mut rs, ptr)?.to_node();
                    if keep(&n) {
                        out.push(n);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every edge visible at `snapshot_ts`, in id order.
    pub(crate) fn scan_edges(&self, snapshot_ts: u64) -> Result<Vec<Edge>> {
        let mut pager = self.pager.lock()?;
        let meta = pager.meta().clone();
        let mut rs = RecordStore::new(&mut pager);
        let mut out = Vec::new();
        for id in 1..meta.next_edge_id.min(MAX_ID + 1) {
            if let Some((ptr, h, _)) =
                visible_version(&mut rs, meta.edge_root, KIND_EDGE, id, snapshot_ts)?
            {
                if !h.tombstone {
                    out.push(read_edge(&mut rs, ptr)?.to_edge());
                }
            }
        }
        Ok(out)
    }

    /// Reads and checks the checksum of every page of the database; returns how many.
    pub fn verify_pages(&self) -> Result<u64> {
        let mut pager = self.pager.lock()?;
        let count = pager.meta().page_count;
        for id in 1..count {
            pager.fetch_page(id)?;
        }
        Ok(count)
    }

    /// Checks the whole file: page checksums, the free list, the id maps, every version
    /// chain (ids, kinds, commit order), adjacency symmetry (each live edge in both
    /// endpoints' lists and nothing else there) and leaked pages or records. Problems are
    /// collected in the report; `Err` only for a poisoned lock.
    ///
    /// A database whose recovery dropped committed transactions (see
    /// [`RecoveryReport::lost_committed_data`]) is never reported ok: the report lists
    /// that as a problem, whatever the pages say.
    pub fn check(&self) -> Result<crate::CheckReport> {
        let mut report = {
            let mut pager = self.pager.lock()?;
            crate::check::run(&mut pager)?
        };
        if self.recovery.lost_committed_data() {
            report.problems.insert(
                0,
                format!(
                    "recovery dropped {} committed transactions ({} bytes) of the log: {}",
                    self.recovery.dropped_transactions,
                    self.recovery.dropped_bytes,
                    self.recovery.end
                ),
            );
        }
        Ok(report)
    }

    /// Starts recording the pages each commit writes.
    pub(crate) fn enable_tracking(&self) {
        self.tracking_enabled.store(true, Ordering::Release);
    }

    /// Stops recording written pages.
    pub(crate) fn disable_tracking(&self) {
        self.tracking_enabled.store(false, Ordering::Release);
    }

    /// The pages written by commits since the last call (while tracking was on).
    pub(crate) fn take_recent_dirty_pages(&self) -> Result<Vec<PageId>> {
        Ok(std::mem::take(&mut *self.recent_dirty_pages.lock()?))
    }

    /// Engine counters.
    pub fn stats(&self) -> Result<DbStats> {
        let pager = self.pager.lock()?;
        Ok(DbStats {
            pager: pager.stats(),
            page_count: pager.meta().page_count,
            free_pages: pager.meta().free_count,
            wal_frames: pager.wal_frames(),
            commit_ts: self.current_commit_ts(),
            recovered_txs: self.recovery.transactions_replayed,
            recovery_dropped_bytes: self.recovery.dropped_bytes,
        })
    }

    /// Empties the page, node and edge caches and drops the analytics layout (benchmarks
    /// use it to measure cold reads).
    pub fn clear_caches(&self) -> Result<()> {
        self.pager.lock()?.clear_cache();
        *self
            .analytics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.node_cache.clear();
        self.edge_cache.clear();
        Ok(())
    }

    /// The log position after the last commit (bytes), for tools.
    pub fn wal_end(&self) -> Result<u64> {
        Ok(self.pager.lock()?.wal_end())
    }

    /// The size of the main file in bytes.
    pub fn main_file_len(&self) -> Result<u64> {
        Ok(self.pager.lock()?.main_storage().len()?)
    }
}

/// Takes the next id from one of the engine's id counters, refusing ids past `MAX_ID`.
fn take_bulk_id(counter: &AtomicU64, what: &str) -> Result<u64> {
    let id = counter.fetch_add(1, Ordering::Relaxed);
    if id > MAX_ID {
        return Err(GraphError::InvalidArgument(format!(
            "{what} id space exhausted"
        )));
    }
    Ok(id)
}

impl Drop for GraphDB {
    fn drop(&mut self) {
        if !self.closed {
            // Best effort: a handle dropped without `close` still makes its batched or
            // unsynced commits durable. Errors cannot be reported from drop; a caller who
            // needs to know calls `close` or `sync`.
            let _ = self.sync();
        }
    }
}

/// Group commit without the engine: see [`Engine::log_sync`](crate::engine::Engine::log_sync). Cheap to clone.
#[derive(Debug, Clone)]
pub struct LogSync {
    log: Arc<LogShared>,
}

impl LogSync {
    /// Returns once every commit made before the call is written to the log and synced.
    /// One caller at a time writes and syncs everything queued; callers that arrive
    /// meanwhile wait and are usually covered by the next sync. After a failure every
    /// later call fails, and the engine refuses writes ([`GraphError::Closed`]).
    pub fn sync(&self) -> Result<()> {
        self.log.settle(true)
    }

    /// Returns once every commit made before the call is written to the log file (not
    /// synced: it survives a killed process, not a power cut).
    pub fn flush(&self) -> Result<()> {
        self.log.settle(false)
    }
}

/// The path of the log that belongs to the database file at `path`.
pub fn wal_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

type Applied = (u64, Vec<PageId>, Vec<NodeId>, Vec<EdgeId>);

/// An edge of a bulk load (see [`GraphDB::bulk_write`]): its type and its property keys
/// are indexes into the load's table of names, so a million edges of one type hold no
/// copy of the type's name or of a property key.
#[derive(Debug, Clone)]
pub(crate) struct BulkEdge {
    pub(crate) id: EdgeId,
    pub(crate) source: NodeId,
    pub(crate) target: NodeId,
    pub(crate) ty: u32,
    /// Where its properties lie in [`BulkEdges::properties`]: start and count.
    pub(crate) properties: (u32, u32),
}

/// A batch of bulk-loaded edges, their properties in one vector (no allocation per edge;
/// the importer reuses both vectors from batch to batch).
#[derive(Debug, Clone, Default)]
pub(crate) struct BulkEdges {
    pub(crate) edges: Vec<BulkEdge>,
    /// Property key (an index into the load's names) and value.
    pub(crate) properties: Vec<(u32, crate::types::PropertyValue)>,
}

impl BulkEdges {
    /// The properties of `e`.
    pub(crate) fn properties_of(&self, e: &BulkEdge) -> &[(u32, crate::types::PropertyValue)] {
        let (start, n) = (e.properties.0 as usize, e.properties.1 as usize);
        self.properties.get(start..start + n).unwrap_or_default()
    }
}

/// A node's adjacency to append (see [`GraphDB::apply_adjacency`]): the node, then its
/// outgoing and its incoming entries as `(edge, node at the other end, type index)`.
pub(crate) type AdjLists = (
    NodeId,
    Vec<(EdgeId, NodeId, u32)>,
    Vec<(EdgeId, NodeId, u32)>,
);

/// Takes the file's exclusive lock, retrying for up to `wait` (short sleeps, growing
/// to 10 ms) while another open file description holds it.
fn lock_within(main: &FileStorage, wait: Duration) -> Result<bool> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(1);
    loop {
        if main.try_lock_exclusive()? {
            return Ok(true);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

fn bulk_in_progress() -> GraphError {
    GraphError::InvalidArgument(
        "a batched commit (bulk import) is being built; it must commit or roll back first".into(),
    )
}

/// Checks and writes one transaction. Runs under `&mut GraphDB`, so no reader sees the
/// pager in between; on error the caller abandons the pager's uncommitted pages.
fn apply_commit(
    pager: &mut Pager,
    tx_id: TxId,
    st: &TxState,
    next_ids: (u64, u64, u64),
) -> Result<Applied> {
    let (ts, touched_nodes, touched_edges) = apply_writes(pager, tx_id, st, next_ids)?;
    let (_, pages) = pager.commit(ts)?;
    Ok((ts, pages, touched_nodes, touched_edges))
}

/// The checks and writes of [`apply_commit`], without writing the commit to the log:
/// the new versions, the adjacency and index changes and the header fields, all in the
/// pager's uncommitted pages. In a batched commit (see [`GraphDB::bulk_write`]) a
/// version written by an earlier batch of the same commit (same timestamp) is replaced
/// instead of chained.
fn apply_writes(
    pager: &mut Pager,
    tx_id: TxId,
    st: &TxState,
    next_ids: (u64, u64, u64),
) -> Result<(u64, Vec<NodeId>, Vec<EdgeId>)> {
    let snapshot = st.snapshot_ts;
    let ts = pager.committed_meta().last_commit_ts + 1;
    let node_root = pager.meta().node_root;
    let edge_root = pager.meta().edge_root;
    let mut rs = RecordStore::new(pager);
    let conflict = |what: String| GraphError::Conflict {
        what,
        snapshot_ts: snapshot,
    };

    // First the checks, so a conflict leaves no trace.
    for (id, p) in &st.nodes {
        if matches!(p, Pending::Put { is_new: true, .. }) {
            continue;
        }
        let head = head_of(&mut rs, node_root, KIND_NODE, *id)?;
        let Some((_, h)) = head.filter(|(_, h)| !h.tombstone) else {
            return Err(conflict(format!("node {id} (deleted meanwhile)")));
        };
        let changed_at = if matches!(p, Pending::Delete) {
            h.commit_ts
        } else {
            h.props_ts
        };
        if changed_at > snapshot {
            return Err(conflict(format!("node {id}")));
        }
    }
    let mut deltas: BTreeMap<NodeId, AdjDelta<'_>> = BTreeMap::new();
    // Encoded at once: a bulk load holds hundreds of thousands of these until the writes.
    let mut edge_writes: Vec<(EdgeId, Vec<u8>)> = Vec::new();
    for (id, p) in &st.edges {
        let is_new = matches!(p, Pending::Put { is_new: true, .. });
        let head = if is_new {
            None
        } else {
            let head = head_of(&mut rs, edge_root, KIND_EDGE, *id)?;
            let Some((ptr, h)) = head.filter(|(_, h)| !h.tombstone) else {
                return Err(conflict(format!("edge {id} (deleted meanwhile)")));
            };
            if h.props_ts > snapshot {
                return Err(conflict(format!("edge {id}")));
            }
            Some((ptr, read_edge(&mut rs, ptr)?))
        };
        let prev = head.as_ref().map(|(ptr, _)| *ptr);
        let old_type = head.as_ref().map(|(_, old)| old.edge_type.clone());
        let header = RecordHeader {
            kind: KIND_EDGE,
            tombstone: matches!(p, Pending::Delete),
            id: *id,
            tx_id,
            commit_ts: ts,
            props_ts: ts,
            prev,
        };
        let record = match (p, head) {
            (Pending::Put { value, .. }, _) => EdgeRecord {
                header,
                source: value.source,
                target: value.target,
                edge_type: value.edge_type.clone(),
                properties: value.properties.clone(),
            },
            (Pending::Delete, Some((_, old))) => EdgeRecord {
                header,
                properties: Default::default(),
                ..old
            },
            (Pending::Delete, None) => return Err(GraphError::EdgeNotFound(*id)),
        };
        if is_new {
            for end in [record.source, record.target] {
                let created_here =
                    matches!(st.nodes.get(&end), Some(Pending::Put { is_new: true, .. }))
                        || st.created_before(end);
                if !created_here {
                    let alive = head_of(&mut rs, node_root, KIND_NODE, end)?
                        .is_some_and(|(_, h)| !h.tombstone);
                    if !alive || matches!(st.nodes.get(&end), Some(Pending::Delete)) {
                        return Err(conflict(format!(
                            "edge {id}: endpoint node {end} was deleted"
                        )));
                    }
                }
            }
            // A batched commit that defers adjacency appends it later, sorted
            // (`GraphDB::apply_adjacency`).
            if let (Pending::Put { value, .. }, false) = (p, st.deferred_adjacency) {
                let ty = value.edge_type.as_str();
                deltas
                    .entry(value.source)
                    .or_default()
                    .add_out
                    .push((*id, value.target, ty));
                deltas
                    .entry(value.target)
                    .or_default()
                    .add_in
                    .push((*id, value.source, ty));
            }
        } else if let (Pending::Put { value, .. }, Some(old)) = (p, &old_type) {
            // The adjacency entries name the type: a retyped edge rewrites both ends.
            if *old != value.edge_type {
                let ty = value.edge_type.as_str();
                deltas
                    .entry(value.source)
                    .or_default()
                    .retype
                    .push((*id, ty));
                deltas
                    .entry(value.target)
                    .or_default()
                    .retype
                    .push((*id, ty));
            }
        } else if record.header.tombstone {
            deltas.entry(record.source).or_default().remove.insert(*id);
            deltas.entry(record.target).or_default().remove.insert(*id);
        }
        let bytes = codec::encode_edge(&record, &mut rs.pager().meta_mut().dict);
        edge_writes.push((*id, bytes));
    }

    // Then the writes.
    let mut edge_root = edge_root;
    let mut touched_edges = Vec::with_capacity(edge_writes.len());
    for (id, bytes) in &edge_writes {
        let ptr = rs.insert(bytes)?;
        rs.map_set(&mut edge_root, *id, ptr.encode())?;
        touched_edges.push(*id);
    }
    let mut node_root = node_root;
    let ids: BTreeSet<NodeId> = st.nodes.keys().chain(deltas.keys()).copied().collect();
    let mut touched_nodes = Vec::with_capacity(ids.len());
    for id in ids {
        // A node created by this transaction has a fresh id and so no older version.
        let head = if matches!(st.nodes.get(&id), Some(Pending::Put { is_new: true, .. })) {
            None
        } else {
            head_of(&mut rs, node_root, KIND_NODE, id)?
        };
        let old = match &head {
            Some((ptr, h)) if !h.tombstone => Some(read_node(&mut rs, *ptr)?),
            _ => None,
        };
        let delta = deltas.remove(&id).unwrap_or_default();
        let mut adj = NodeRecord {
            header: RecordHeader {
                kind: KIND_NODE,
                tombstone: false,
                id,
                tx_id,
                commit_ts: ts,
                props_ts: ts,
                prev: None,
            },
            labels: Vec::new(),
            properties: Default::default(),
            types: Vec::new(),
            out: Vec::new(),
            inn: Vec::new(),
        };
        if let Some(r) = &old {
            adj.types = r.types.clone();
            adj.out = r.out.clone();
            adj.inn = r.inn.clone();
        }
        if !delta.remove.is_empty() {
            adj.out.retain(|a| !delta.remove.contains(&a.edge));
            adj.inn.retain(|a| !delta.remove.contains(&a.edge));
        }
        for (edge, ty) in &delta.retype {
            let t = adj.type_index(ty);
            for a in adj.out.iter_mut().chain(adj.inn.iter_mut()) {
                if a.edge == *edge {
                    a.ty = t;
                }
            }
        }
        for (edge, other, ty) in &delta.add_out {
            let ty = adj.type_index(ty);
            adj.out.push(codec::Adj {
                edge: *edge,
                other: *other,
                ty,
            });
        }
        for (edge, other, ty) in &delta.add_in {
            let ty = adj.type_index(ty);
            adj.inn.push(codec::Adj {
                edge: *edge,
                other: *other,
                ty,
            });
        }
        let NodeRecord {
            types, out, inn, ..
        } = adj;
        let (tombstone, labels, properties, props_ts) = match st.nodes.get(&id) {
            Some(Pending::Put { value, .. }) => {
                (false, value.labels.clone(), value.properties.clone(), ts)
            }
            Some(Pending::Delete) => {
                if !out.is_empty() || !inn.is_empty() {
                    return Err(conflict(format!("node {id}: edges were added meanwhile")));
                }
                (true, Vec::new(), Default::default(), ts)
            }
            None => match old {
                Some(r) => (false, r.labels, r.properties, r.header.props_ts),
                None => return Err(conflict(format!("node {id} (deleted meanwhile)"))),
            },
        };
        // A version an earlier batch of this same commit wrote is replaced: versions of
        // one node never share a timestamp.
        let prev = match &head {
            Some((p, h)) if h.commit_ts == ts => {
                rs.delete(*p)?;
                h.prev
            }
            Some((p, _)) => Some(*p),
            None => None,
        };
        let record = NodeRecord {
            header: RecordHeader {
                kind: KIND_NODE,
                tombstone,
                id,
                tx_id,
                commit_ts: ts,
                props_ts,
                prev,
            },
            labels,
            properties,
            types,
            out,
            inn,
        };
        let bytes = codec::encode_node(&record, &mut rs.pager().meta_mut().dict);
        let ptr = rs.insert(&bytes)?;
        rs.map_set(&mut node_root, id, ptr.encode())?;
        touched_nodes.push(id);
    }
    // Versions that only changed adjacency keep the labels and properties of the version
    // before them, whose index entries exist already; only written nodes add entries.
    let written: Vec<&Node> = st
        .nodes
        .values()
        .filter_map(|p| match p {
            Pending::Put { value, .. } => Some(value),
            Pending::Delete => None,
        })
        .collect();
    crate::index::on_commit(rs.pager(), &written)?;
    let pager = rs.pager();
    let meta = pager.meta_mut();
    meta.node_root = node_root;
    meta.edge_root = edge_root;
    meta.next_node_id = meta.next_node_id.max(next_ids.0);
    meta.next_edge_id = meta.next_edge_id.max(next_ids.1);
    meta.next_tx_id = meta.next_tx_id.max(next_ids.2).max(tx_id + 1);
    Ok((ts, touched_nodes, touched_edges))
}

/// The writes of [`GraphDB::bulk_write`]: new versions of new records, no adjacency.
fn write_bulk(
    pager: &mut Pager,
    tx_id: TxId,
    nodes: Vec<Node>,
    edges: &BulkEdges,
    names: &[String],
) -> Result<()> {
    let ts = pager.committed_meta().last_commit_ts + 1;
    let header = |kind: u8, id: u64| RecordHeader {
        kind,
        tombstone: false,
        id,
        tx_id,
        commit_ts: ts,
        props_ts: ts,
        prev: None,
    };
    let (max_node, max_edge) = (
        nodes.iter().map(|n| n.id).max().unwrap_or(0),
        edges.edges.iter().map(|e| e.id).max().unwrap_or(0),
    );
    {
        let refs: Vec<&Node> = nodes.iter().collect();
        crate::index::on_commit(pager, &refs)?;
    }
    let mut node_root = pager.meta().node_root;
    let mut edge_root = pager.meta().edge_root;
    let refs: Vec<(u64, &str)> = {
        let dict = &mut pager.meta_mut().dict;
        names
            .iter()
            .map(|n| (codec::name_ref(dict, n), n.as_str()))
            .collect()
    };
    let mut rs = RecordStore::new(pager);
    let mut bytes = Vec::with_capacity(64);
    for e in &edges.edges {
        codec::encode_bulk_edge(
            &mut bytes,
            &header(KIND_EDGE, e.id),
            e.source,
            e.target,
            e.ty,
            edges.properties_of(e),
            &refs,
        )?;
        let ptr = rs.insert(&bytes)?;
        rs.map_set(&mut edge_root, e.id, ptr.encode())?;
    }
    for n in nodes {
        let id = n.id;
        let record = NodeRecord {
            header: header(KIND_NODE, id),
            labels: n.labels,
            properties: n.properties,
            types: Vec::new(),
            out: Vec::new(),
            inn: Vec::new(),
        };
        let bytes = codec::encode_node(&record, &mut rs.pager().meta_mut().dict);
        let ptr = rs.insert(&bytes)?;
        rs.map_set(&mut node_root, id, ptr.encode())?;
    }
    let meta = rs.pager().meta_mut();
    meta.node_root = node_root;
    meta.edge_root = edge_root;
    meta.next_node_id = meta.next_node_id.max(max_node + 1);
    meta.next_edge_id = meta.next_edge_id.max(max_edge + 1);
    meta.next_tx_id = meta.next_tx_id.max(tx_id + 1);
    Ok(())
}

/// The writes of [`GraphDB::apply_adjacency`]: each listed node's version, written by an
/// earlier batch of the same commit, is replaced by one with the edges appended.
fn append_adjacency(
    pager: &mut Pager,
    tx_id: TxId,
    lists: &[AdjLists],
    types: &[String],
) -> Result<()> {
    let ts = pager.committed_meta().last_commit_ts + 1;
    let mut node_root = pager.meta().node_root;
    let refs: Vec<(u64, &str)> = {
        let dict = &mut pager.meta_mut().dict;
        types
            .iter()
            .map(|t| (codec::name_ref(dict, t), t.as_str()))
            .collect()
    };
    let mut rs = RecordStore::new(pager);
    for (id, out, inn) in lists {
        let (ptr, h) = head_of(&mut rs, node_root, KIND_NODE, *id)?
            .filter(|(_, h)| !h.tombstone && h.commit_ts == ts && h.tx_id == tx_id)
            .ok_or_else(|| {
                GraphError::InvalidArgument(format!(
                    "node {id} was not written by this commit: cannot append adjacency"
                ))
            })?;
        // A node the import wrote has no entries yet: its new version is its bytes with
        // the lists spliced in, labels and properties not decoded.
        let spliced = rs.with_bytes(ptr, |bytes, _| {
            codec::with_adjacency(bytes, Some(ptr.page), &refs, out, inn)
        })?;
        if let Some(bytes) = spliced {
            rs.delete(ptr)?;
            let new = rs.insert(&bytes)?;
            rs.map_set(&mut node_root, *id, new.encode())?;
            continue;
        }
        let mut r = read_node(&mut rs, ptr)?;
        // The import's type indexes become this record's own (its table holds the types
        // it uses, usually one or two).
        let mut local: Vec<(u32, u32)> = Vec::new();
        for (list, outgoing) in [(out, true), (inn, false)] {
            for (edge, other, ty) in list {
                let at = match local.iter().find(|(t, _)| t == ty) {
                    Some((_, at)) => *at,
                    None => {
                        let name = types.get(*ty as usize).ok_or_else(|| {
                            GraphError::InvalidArgument(format!("edge type index {ty} unknown"))
                        })?;
                        let at = r.type_index(name);
                        local.push((*ty, at));
                        at
                    }
                };
                let entry = codec::Adj {
                    edge: *edge,
                    other: *other,
                    ty: at,
                };
                if outgoing {
                    r.out.push(entry);
                } else {
                    r.inn.push(entry);
                }
            }
        }
        r.header.prev = h.prev;
        rs.delete(ptr)?;
        let bytes = codec::encode_node(&r, &mut rs.pager().meta_mut().dict);
        let new = rs.insert(&bytes)?;
        rs.map_set(&mut node_root, *id, new.encode())?;
    }
    rs.pager().meta_mut().node_root = node_root;
    Ok(())
}

/// Cuts every version chain below the newest version visible at `horizon`.
fn vacuum_pages(pager: &mut Pager, horizon: u64) -> Result<VacuumStats> {
    let mut stats = VacuumStats::default();
    let mut touched = BTreeSet::new();
    let indexed = !crate::index::load_catalog(pager)?.is_empty();
    // Labels and properties of the node versions freed, for removing index entries.
    let mut freed_nodes: Vec<(NodeId, Vec<String>, crate::types::Properties)> = Vec::new();
    for kind in [KIND_NODE, KIND_EDGE] {
        let meta = pager.meta().clone();
        let (mut root, end) = if kind == KIND_NODE {
            (meta.node_root, meta.next_node_id)
        } else {
            (meta.edge_root, meta.next_edge_id)
        };
        let mut rs = RecordStore::new(pager);
        for id in 1..end.min(MAX_ID + 1) {
            let Some((keep, h, is_head)) = visible_version(&mut rs, root, kind, id, horizon)?
            else {
                continue;
            };
            // Everything older than `keep` is invisible to every snapshot at or after the
            // horizon.
            let mut older = h.prev;
            while let Some(p) = older {
                let oh = rs.read_header(p)?;
                if indexed && kind == KIND_NODE && !oh.tombstone {
                    let r = read_node(&mut rs, p)?;
                    freed_nodes.push((id, r.labels, r.properties));
                }
                rs.delete(p)?;
                touched.insert(p.page);
                stats.versions_freed += 1;
                older = oh.prev;
            }
            if h.tombstone && is_head {
                rs.delete(keep)?;
                touched.insert(keep.page);
                rs.map_set(&mut root, id, 0)?;
                stats.versions_freed += 1;
                stats.ids_removed += 1;
            } else if h.prev.is_some() {
                rs.patch_prev(keep, None)?;
            }
        }
        let meta = pager.meta_mut();
        if kind == KIND_NODE {
            meta.node_root = root;
        } else {
            meta.edge_root = root;
        }
    }
    if !freed_nodes.is_empty() {
        remove_vacuumed_index_entries(pager, &freed_nodes)?;
    }
    let mut rs = RecordStore::new(pager);
    for page in touched {
        rs.reclaim(page)?;
    }
    Ok(stats)
}

/// Every version still in the chain of node `id` (newest first), tombstones left out.
pub(crate) fn node_versions(
    rs: &mut RecordStore<'_>,
    root: PageId,
    id: NodeId,
) -> Result<Vec<NodeRecord>> {
    let mut out = Vec::new();
    let mut ptr = head_of(rs, root, KIND_NODE, id)?.map(|(p, _)| p);
    let mut steps = 0u64;
    while let Some(p) = ptr {
        steps += 1;
        if steps > 1 << 32 {
            return Err(GraphError::corrupt(
                "version chain has a cycle",
                Some(p.page),
            ));
        }
        let r = read_node(rs, p)?;
        ptr = r.header.prev;
        if !r.header.tombstone {
            out.push(r);
        }
    }
    Ok(out)
}

/// Removes the index entries of freed node versions that no remaining version of the
/// same node still produces.
fn remove_vacuumed_index_entries(
    pager: &mut Pager,
    freed: &[(NodeId, Vec<String>, crate::types::Properties)],
) -> Result<()> {
    let catalog = crate::index::load_catalog(pager)?;
    let root = pager.meta().node_root;
    let mut remaining: HashMap<NodeId, BTreeSet<(usize, Vec<u8>)>> = HashMap::new();
    for (id, _, _) in freed {
        if remaining.contains_key(id) {
            continue;
        }
        let mut rs = RecordStore::new(pager);
        let mut keys = BTreeSet::new();
        for r in node_versions(&mut rs, root, *id)? {
            for (i, e) in catalog.iter().enumerate() {
                if let Some(k) = e.def.key_for(*id, &r.labels, &r.properties) {
                    keys.insert((i, k));
                }
            }
        }
        remaining.insert(*id, keys);
    }
    for (id, labels, props) in freed {
        for (i, e) in catalog.iter().enumerate() {
            if let Some(k) = e.def.key_for(*id, labels, props) {
                let key = (i, k);
                if !remaining.get(id).is_some_and(|s| s.contains(&key)) {
                    crate::index::tree_remove(pager, e.root, &key.1)?;
                }
            }
        }
    }
    Ok(())
}

// The concurrent layer shares a `GraphDB` between threads behind a lock.
const _: fn() = || {
    fn check<T: Send + Sync>() {}
    check::<GraphDB>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemStorage;

    fn db() -> GraphDB {
        GraphDB::open_with_storage(
            Arc::new(MemStorage::new()),
            Arc::new(MemStorage::new()),
            Config::default(),
        )
        .unwrap()
    }

    #[test]
    fn check_finds_injected_faults() {
        let mut db = db();
        let mut tx = db.begin_write_txn().unwrap();
        let a = tx.add_node(Node::new()).unwrap();
        let b = tx.add_node(Node::new()).unwrap();
        let e = tx.add_edge(Edge::new(a, b, "X")).unwrap();
        tx.commit().unwrap();
        let report = db.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!((report.nodes, report.edges, report.versions), (2, 1, 3));

        // A dangling edge: the edge's map entry vanishes while the nodes still list it.
        {
            let pager = db.pager.get_mut().unwrap();
            let mut root = pager.meta().edge_root;
            let mut rs = RecordStore::new(pager);
            rs.map_set(&mut root, e, 0).unwrap();
            let ts = pager.committed_meta().last_commit_ts;
            pager.commit(ts).unwrap();
        }
        let report = db.check().unwrap();
        assert!(
            report.problems.iter().any(|p| p.contains("missing edge")),
            "{:?}",
            report.problems
        );
        assert!(
            report.problems.iter().any(|p| p.contains("leaked")),
            "{:?}",
            report.problems
        );

        // A page that is allocated but neither used nor free.
        let pager = db.pager.get_mut().unwrap();
        pager.allocate(crate::page::PageType::Records).unwrap();
        let ts = pager.committed_meta().last_commit_ts;
        pager.commit(ts).unwrap();
        let report = db.check().unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("neither free nor in use")),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn check_finds_a_broken_free_list() {
        let mut db = db();
        let pager = db.pager.get_mut().unwrap();
        let p = pager.allocate(crate::page::PageType::Records).unwrap();
        pager.free(p).unwrap();
        pager.meta_mut().free_count = 5;
        pager.commit(1).unwrap();
        let report = db.check().unwrap();
        assert!(
            report.problems.iter().any(|p| p.contains("header says 5")),
            "{:?}",
            report.problems
        );
    }
}
