//! The pager: page images by id, from a bounded cache, the log, or the main file; page
//! allocation and the free list; commit of the modified pages to the log; checkpoint.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;

use crate::cache::IdBuild;
use crate::error::{GraphError, Result};
use crate::page::{self, new_page, next_of, set_next, Meta, PageBuf, PageType, PAGE_SIZE};
use crate::storage::Storage;
use crate::types::PageId;
use crate::wal::{LogShared, RecoveryReport, Wal};

/// Counters for benchmarks and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PagerStats {
    /// Page requests answered from the cache or the uncommitted set.
    pub hits: u64,
    /// Page requests that read the log or the main file.
    pub misses: u64,
    /// Pages written to the log.
    pub pages_logged: u64,
    /// Checkpoints completed.
    pub checkpoints: u64,
}

#[derive(Debug)]
pub(crate) struct Pager {
    main: Arc<dyn Storage>,
    wal: Wal,
    /// Verified images of committed pages, bounded; never holds uncommitted bytes.
    cache: LruCache<PageId, PageBuf, IdBuild>,
    /// Pages modified by the commit being built. Not bounded by the pager: they are the
    /// working set of one commit and are moved to the cache (or dropped) when it ends. A
    /// commit that grows past memory (a bulk import) moves them to the log with
    /// [`spill`](Pager::spill).
    dirty: HashMap<PageId, PageBuf, IdBuild>,
    /// Pages of the commit being built whose newest image was spilled to the log (not in
    /// `dirty`, and never in `cache`, which holds committed images only).
    spilled: HashSet<PageId, IdBuild>,
    /// The header as the commit being built sees it.
    meta: Meta,
    /// The header as of the last commit; restored when a commit is abandoned.
    committed_meta: Meta,
    stats: PagerStats,
    /// The main file's length, read at open and after each checkpoint.
    main_len: u64,
    /// How the page cache is sized; an automatic size follows the file at checkpoints.
    sizing: CacheSizing,
    /// Leaf pages of the id maps, direct-mapped by (map root, id / FANOUT), so that a
    /// lookup visits one map page instead of three. Sound because map pages are never
    /// freed or moved: an inner entry, once set, names the same leaf for the life of the
    /// file. Only an abandoned commit can drop map pages (ones it created), so
    /// [`abandon`](Pager::abandon) clears the memo. Entries are `(root, key, leaf)`.
    leaf_memo: Box<[(PageId, u64, PageId)]>,
    /// The header page buffer of the last commit, reused by the next one: every commit
    /// writes a new header page, and a fresh 8 KiB allocation per commit (freed right
    /// after) made the allocator consolidate its free lists each time.
    spare_header: Option<PageBuf>,
}

/// Entries of [`Pager::leaf_memo`] (a power of two).
const LEAF_MEMO: usize = 1024;

/// Seals the modified pages `ids` (ascending) for the log and returns them as frames.
/// A free function over the dirty map so the caller can hand the frames to the log
/// while they borrow it.
fn sealed_frames<'a>(
    dirty: &'a mut HashMap<PageId, PageBuf, IdBuild>,
    ids: &[PageId],
) -> Vec<(PageId, &'a [u8; PAGE_SIZE])> {
    for id in ids {
        if let Some(p) = dirty.get_mut(id) {
            page::seal(p, *id);
        }
    }
    ids.iter()
        .filter_map(|id| dirty.get(id).map(|p| (*id, &**p)))
        .collect()
}

fn memo_slot(root: PageId, key: u64) -> usize {
    (key.wrapping_add(root.wrapping_mul(0x9E37_79B9)) as usize) & (LEAF_MEMO - 1)
}

/// How many pages the pager caches: a fixed number, or sized from the file.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CacheSizing {
    Fixed(usize),
    /// Twice the database's pages (room to grow), at least `AUTO_MIN`, at most `max`.
    Auto {
        max: usize,
    },
}

/// The smallest automatically sized cache: 32 MiB.
const AUTO_MIN: usize = 4096;

impl CacheSizing {
    pub(crate) fn of(config: &crate::Config) -> CacheSizing {
        match config.page_cache_pages {
            0 => CacheSizing::Auto {
                max: (config.page_cache_budget_bytes / PAGE_SIZE as u64).max(8) as usize,
            },
            n => CacheSizing::Fixed(n),
        }
    }

    fn pages_for(self, page_count: u64) -> NonZeroUsize {
        let n = match self {
            CacheSizing::Fixed(n) => n,
            CacheSizing::Auto { max } => {
                let want = usize::try_from(page_count.saturating_mul(2)).unwrap_or(usize::MAX);
                want.max(AUTO_MIN).min(max.max(8))
            }
        };
        NonZeroUsize::new(n.max(8)).unwrap_or(NonZeroUsize::MIN)
    }
}

/// How [`Pager::open`] treats what it finds.
#[derive(Debug, Clone)]
pub(crate) struct OpenMode {
    /// Initialise a new database when the main file and the log are both empty.
    pub(crate) create: bool,
    /// Refuse to drop committed transactions found past damage in the log.
    pub(crate) strict: bool,
    /// The main file and the log as named in messages.
    pub(crate) main_name: String,
    pub(crate) log_name: String,
}

impl Pager {
    /// Opens a database over `main` and `wal`, recovering the committed prefix of the log;
    /// initialises a new one when both are empty and `mode.create` says so.
    ///
    /// An empty main file beside a log that is not empty is never a new database: if the
    /// log holds an image of every page (it was never checkpointed, or later commits
    /// rewrote every page), the main file is rebuilt from it; otherwise the open fails
    /// with a `Corruption` error naming both files.
    pub(crate) fn open(
        main: Arc<dyn Storage>,
        wal: Arc<dyn Storage>,
        sizing: CacheSizing,
        mode: &OpenMode,
    ) -> Result<(Pager, RecoveryReport)> {
        let cap = sizing.pages_for((main.len()? / PAGE_SIZE as u64).max(1));
        let main_len = main.len()?;
        let wal_len = wal.len()?;
        let mut rebuild = false;
        if main_len == 0 && wal_len == 0 {
            if !mode.create {
                return Err(GraphError::NotFound(mode.main_name.clone()));
            }
            // A new database: the header page goes straight to the main file, synced,
            // before any log exists, so a crash here leaves either nothing or a valid
            // empty database.
            let meta = Meta::fresh();
            let mut p = new_page(PageType::Header);
            meta.write(&mut p);
            page::seal(&mut p, 0);
            main.write_at(&p[..], 0)?;
            main.sync()?;
        } else if main_len == 0 {
            rebuild = true;
        } else if main_len % PAGE_SIZE as u64 != 0 {
            return Err(GraphError::corrupt(
                format!(
                    "main file {} length {main_len} is not a multiple of the page size",
                    mode.main_name
                ),
                None,
            ));
        }
        let (wal, mut recovery) = Wal::open(wal, mode.strict, crate::wal::LOG_FORMAT_VERSION)?;
        let main_len = main.len()?;
        let mut pager = Pager {
            main_len,
            main,
            wal,
            cache: LruCache::with_hasher(cap, IdBuild::default()),
            dirty: HashMap::default(),
            spilled: HashSet::default(),
            meta: Meta::fresh(),
            committed_meta: Meta::fresh(),
            stats: PagerStats::default(),
            sizing,
            leaf_memo: vec![(0, 0, 0); LEAF_MEMO].into_boxed_slice(),
            spare_header: None,
        };
        if rebuild {
            pager.check_rebuildable(mode)?;
            recovery.rebuilt_main_file = true;
        }
        let mut header: PageBuf = Box::new([0u8; PAGE_SIZE]);
        pager.load(0, &mut header)?;
        let meta = Meta::read(&header)?;
        pager.meta = meta.clone();
        pager.committed_meta = meta;
        if rebuild || pager.wal.is_old_format() {
            // Put every logged page in place now: a rebuilt main file must not depend on
            // the log any longer, and an old-format log must not get new-format frames.
            pager.checkpoint(true)?;
        }
        Ok((pager, recovery))
    }

    /// Whether the log holds an image of every page of the database (the header page's
    /// newest image says how many there are), so an empty main file can be rebuilt.
    fn check_rebuildable(&mut self, mode: &OpenMode) -> Result<()> {
        let refuse = |why: String| {
            GraphError::corrupt(
                format!(
                    "main file {} is missing or empty but its log {} is not: {why}; \
                     refusing to treat it as a new database",
                    mode.main_name, mode.log_name
                ),
                None,
            )
        };
        let mut header: PageBuf = Box::new([0u8; PAGE_SIZE]);
        if !self.wal.read_page(0, &mut header)? {
            return Err(refuse("the log holds no committed transaction".into()));
        }
        let meta = Meta::read(&header)?;
        let logged: std::collections::HashSet<PageId> =
            self.wal.logged_pages()?.into_iter().collect();
        let missing = (0..meta.page_count)
            .filter(|id| !logged.contains(id))
            .count();
        if missing > 0 {
            return Err(refuse(format!(
                "{missing} of its {} pages are only in the lost main file",
                meta.page_count
            )));
        }
        Ok(())
    }

    /// Reads a committed page image from the log or the main file and verifies it.
    fn load(&mut self, id: PageId, buf: &mut [u8; PAGE_SIZE]) -> Result<()> {
        self.stats.misses += 1;
        if !self.wal.read_page(id, buf)? {
            let off = id
                .checked_mul(PAGE_SIZE as u64)
                .ok_or_else(|| GraphError::corrupt("page id overflows the file", Some(id)))?;
            // The cached length saves an `fstat` per miss; only a checkpoint changes it.
            let len = self.main_len;
            if off + PAGE_SIZE as u64 > len {
                return Err(GraphError::corrupt(
                    format!(
                        "page lies beyond the end of the main file ({len} bytes): truncated file"
                    ),
                    Some(id),
                ));
            }
            self.main.read_at(&mut buf[..], off)?;
        }
        if id == 0 {
            // Meta::read gives the precise message for a foreign file; it verifies too.
            return Ok(());
        }
        page::verify(buf, id)
    }

    /// The page `id` as the commit being built sees it.
    pub(crate) fn fetch_page(&mut self, id: PageId) -> Result<&[u8; PAGE_SIZE]> {
        if id == 0 || id >= self.meta.page_count {
            return Err(GraphError::corrupt(
                format!("pointer to page {id} outside 1..{}", self.meta.page_count),
                None,
            ));
        }
        if self.dirty.contains_key(&id) {
            self.stats.hits += 1;
            return self
                .dirty
                .get(&id)
                .map(|p| &**p)
                .ok_or_else(|| GraphError::corrupt("dirty page vanished", Some(id)));
        }
        if self.spilled.contains(&id) {
            // Back into memory for the rest of the commit (it is logged again with it).
            let mut buf: PageBuf = Box::new([0u8; PAGE_SIZE]);
            if !self.wal.read_spilled(id, &mut buf)? {
                return Err(GraphError::corrupt("spilled page vanished", Some(id)));
            }
            page::verify(&buf, id)?;
            self.spilled.remove(&id);
            self.stats.misses += 1;
            let p = self.dirty.entry(id).or_insert(buf);
            return Ok(&**p);
        }
        // While the cache has room, recency does not matter (nothing is evicted), so a
        // hit only looks the page up; once full, `get` marks it recently used.
        let hit = if self.cache.len() < self.cache.cap().get() {
            self.cache.contains(&id)
        } else {
            self.cache.get(&id).is_some()
        };
        if hit {
            self.stats.hits += 1;
        } else {
            let mut buf: PageBuf = Box::new([0u8; PAGE_SIZE]);
            self.load(id, &mut buf)?;
            self.cache.put(id, buf);
        }
        self.cache
            .peek(&id)
            .map(|p| &**p)
            .ok_or_else(|| GraphError::corrupt("cached page vanished", Some(id)))
    }

    /// The leaf page of the id map at `root` that holds the ids of `key` (id / FANOUT),
    /// if a lookup found it before.
    pub(crate) fn memo_leaf(&self, root: PageId, key: u64) -> Option<PageId> {
        let (r, k, leaf) = self.leaf_memo[memo_slot(root, key)];
        (r == root && k == key && leaf != 0).then_some(leaf)
    }

    /// Remembers the leaf a lookup reached (see [`Pager::leaf_memo`]).
    pub(crate) fn remember_leaf(&mut self, root: PageId, key: u64, leaf: PageId) {
        self.leaf_memo[memo_slot(root, key)] = (root, key, leaf);
    }

    /// A page that [`fetch_page`](Pager::fetch_page) has just returned, borrowed together
    /// with the header (decoding a record in place needs the header's name dictionary).
    pub(crate) fn fetched_with_meta(&self, id: PageId) -> Option<(&[u8; PAGE_SIZE], &Meta)> {
        let p = match self.dirty.get(&id) {
            Some(p) => p,
            None => self.cache.peek(&id)?,
        };
        Some((&**p, &self.meta))
    }

    /// A fetched page that must be of `kind`.
    pub(crate) fn fetch_typed(&mut self, id: PageId, kind: PageType) -> Result<&[u8; PAGE_SIZE]> {
        let p = self.fetch_page(id)?;
        if PageType::of(p, id)? != kind {
            return Err(GraphError::corrupt(
                format!("expected a {kind:?} page, found type {}", p[4]),
                Some(id),
            ));
        }
        Ok(p)
    }

    /// The page `id` for modification within the commit being built.
    pub(crate) fn page_mut(&mut self, id: PageId) -> Result<&mut [u8; PAGE_SIZE]> {
        if !self.dirty.contains_key(&id) {
            // Loads the page (a spilled one straight into `dirty`), then moves the cached
            // committed image into the commit being built instead of copying it: the
            // cache holds committed images only, so it loses this one until the commit
            // puts the new image back (an abandoned commit leaves a miss that reloads
            // the committed image from the log or the main file).
            self.fetch_page(id)?;
            if !self.dirty.contains_key(&id) {
                let page = self
                    .cache
                    .pop(&id)
                    .ok_or_else(|| GraphError::corrupt("cached page vanished", Some(id)))?;
                self.dirty.insert(id, page);
            }
        }
        self.dirty
            .get_mut(&id)
            .map(|p| &mut **p)
            .ok_or_else(|| GraphError::corrupt("dirty page vanished", Some(id)))
    }

    /// A zeroed page of `kind`, from the free list if it has one.
    pub(crate) fn allocate(&mut self, kind: PageType) -> Result<PageId> {
        let id = if self.meta.free_head != 0 {
            let id = self.meta.free_head;
            let next = next_of(self.fetch_typed(id, PageType::Free)?);
            if next >= self.meta.page_count {
                return Err(GraphError::corrupt(
                    "free list points outside the file",
                    Some(id),
                ));
            }
            self.meta.free_head = next;
            self.meta.free_count = self.meta.free_count.saturating_sub(1);
            id
        } else {
            let id = self.meta.page_count;
            self.meta.page_count += 1;
            id
        };
        self.dirty.insert(id, new_page(kind));
        Ok(id)
    }

    /// Returns a page to the free list.
    pub(crate) fn free(&mut self, id: PageId) -> Result<()> {
        let head = self.meta.free_head;
        let mut p = new_page(PageType::Free);
        set_next(&mut p, head);
        self.dirty.insert(id, p);
        self.meta.free_head = id;
        self.meta.free_count += 1;
        Ok(())
    }

    pub(crate) fn meta(&self) -> &Meta {
        &self.meta
    }

    pub(crate) fn meta_mut(&mut self) -> &mut Meta {
        &mut self.meta
    }

    pub(crate) fn committed_meta(&self) -> &Meta {
        &self.committed_meta
    }

    pub(crate) fn has_uncommitted(&self) -> bool {
        !self.dirty.is_empty() || !self.spilled.is_empty() || self.meta != self.committed_meta
    }

    /// Pages the commit being built holds in memory.
    pub(crate) fn dirty_pages(&self) -> usize {
        self.dirty.len()
    }

    /// Moves every page the commit being built holds in memory to the log, ahead of its
    /// commit frame (see `Wal::append_spilled`), so that a commit larger than memory
    /// needs only a bounded number of pages in memory at a time. A page read again later
    /// comes back from the log. On error the caller abandons the commit.
    pub(crate) fn spill(&mut self) -> Result<()> {
        let mut ids: Vec<PageId> = self.dirty.keys().copied().filter(|id| *id != 0).collect();
        if ids.is_empty() {
            return Ok(());
        }
        ids.sort_unstable();
        let frames = sealed_frames(&mut self.dirty, &ids);
        self.wal.append_spilled(&frames)?;
        self.stats.pages_logged += ids.len() as u64;
        for id in ids {
            self.dirty.remove(&id);
            // The cache holds committed images only; this page's committed image is
            // stale for the commit being built.
            self.cache.pop(&id);
            self.spilled.insert(id);
        }
        Ok(())
    }

    /// Writes every modified page and the header to the log as one transaction (not
    /// synced: the caller decides). Returns the log position after it and the pages
    /// written. On error the modifications are abandoned.
    pub(crate) fn commit(&mut self, commit_ts: u64) -> Result<(u64, Vec<PageId>)> {
        self.meta.last_commit_ts = commit_ts;
        let mut header = match self.spare_header.take() {
            Some(mut p) => {
                p.fill(0);
                p[4] = PageType::Header as u8;
                p
            }
            None => new_page(PageType::Header),
        };
        self.meta.write(&mut header);
        self.dirty.insert(0, header);
        let mut ids: Vec<PageId> = self.dirty.keys().copied().collect();
        // Ascending order puts the header first and makes the log reproducible.
        ids.sort_unstable();
        let frames = sealed_frames(&mut self.dirty, &ids);
        let lsn = match self.wal.append_commit(&frames, commit_ts) {
            Ok(lsn) => lsn,
            Err(e) => {
                self.abandon();
                return Err(e);
            }
        };
        self.stats.pages_logged += ids.len() as u64;
        // Spilled pages are committed with this frame: read from the log from now on.
        self.spilled.clear();
        for (id, p) in self.dirty.drain() {
            if id != 0 {
                self.cache.put(id, p);
            } else {
                self.spare_header = Some(p);
            }
        }
        self.committed_meta = self.meta.clone();
        Ok((lsn, ids))
    }

    /// Drops every modification since the last commit.
    pub(crate) fn abandon(&mut self) {
        self.leaf_memo.fill((0, 0, 0));
        self.dirty.clear();
        if !self.spilled.is_empty() {
            self.spilled.clear();
            self.wal.discard_spilled();
        }
        self.meta = self.committed_meta.clone();
    }

    /// The seed's `flush_page`: copies the newest committed image of `id` from the log to
    /// its place in the main file (not synced). Pages not in the log are already there.
    pub(crate) fn flush_page(&mut self, id: PageId) -> Result<()> {
        if id >= self.meta.page_count {
            // Never written by a commit of this database: the log is foreign or damaged
            // past what its checksums catch. Refuse rather than write far past the end.
            return Err(GraphError::corrupt(
                format!(
                    "the log holds page {id}, past the database's {} pages",
                    self.meta.page_count
                ),
                Some(id),
            ));
        }
        let mut buf: PageBuf = Box::new([0u8; PAGE_SIZE]);
        if self.wal.read_page(id, &mut buf)? {
            self.main.write_at(&buf[..], id * PAGE_SIZE as u64)?;
        }
        Ok(())
    }

    /// Folds the log into the main file: every logged page is written in place, the main
    /// file is synced, and only then is the log reset. A crash at any point leaves either
    /// the old log (replayed again, idempotently) or a main file that holds everything.
    /// With `shrink`, a large log is cut back to [`LOG_KEEP`](crate::wal::LOG_KEEP)
    /// afterwards; without, its space is kept for the next generation.
    pub(crate) fn checkpoint(&mut self, shrink: bool) -> Result<()> {
        if self.has_uncommitted() {
            return Err(GraphError::InvalidArgument(
                "checkpoint while a commit is being built".into(),
            ));
        }
        // An empty log still goes through a reset when it should shrink: the checkpoints
        // that commits trigger keep the log's space, so after a busy spell (or a bulk
        // import) the log is empty but large, and only an explicit checkpoint or `close`
        // gives that space back.
        if self.wal.frames() == 0 && !(shrink && self.wal.holds_more_than_kept()?) {
            return Ok(());
        }
        // The log must be durable before the main file is changed from it: a crash after
        // the main file is written but before the log sync could otherwise leave main
        // pages newer than a log that later loses its tail.
        self.wal.sync()?;
        for id in self.wal.logged_pages()? {
            self.flush_page(id)?;
        }
        let want = self.meta.page_count * PAGE_SIZE as u64;
        if self.main.len()? < want {
            self.main.set_len(want)?;
        }
        self.main_len = self.main.len()?;
        self.main.sync()?;
        self.wal.reset(shrink)?;
        self.stats.checkpoints += 1;
        let cap = self.sizing.pages_for(self.meta.page_count);
        if cap != self.cache.cap() {
            self.cache.resize(cap);
        }
        Ok(())
    }

    /// Folds the log into the main file and starts the next log generation in format
    /// `version` (see [`GraphDB::use_log_format`](crate::GraphDB::use_log_format)).
    pub(crate) fn set_log_format(&mut self, version: u32) -> Result<()> {
        self.checkpoint(false)?;
        self.wal.set_format(version)
    }

    pub(crate) fn wal_frames(&self) -> u64 {
        self.wal.frames()
    }

    /// The log state that group-commit handles share.
    pub(crate) fn log(&self) -> Arc<LogShared> {
        Arc::clone(self.wal.shared())
    }

    pub(crate) fn wal_end(&self) -> u64 {
        self.wal.end()
    }

    pub(crate) fn main_storage(&self) -> &Arc<dyn Storage> {
        &self.main
    }

    pub(crate) fn stats(&self) -> PagerStats {
        self.stats
    }

    /// Empties the page cache (for measuring uncached reads).
    pub(crate) fn clear_cache(&mut self) {
        self.cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_automatic_page_cache_follows_the_file_within_its_budget() {
        let auto = CacheSizing::Auto { max: 100_000 };
        assert_eq!(auto.pages_for(10).get(), AUTO_MIN);
        assert_eq!(auto.pages_for(20_000).get(), 40_000);
        assert_eq!(auto.pages_for(1_000_000).get(), 100_000);
        assert_eq!(CacheSizing::Fixed(100).pages_for(1_000_000).get(), 100);
        let config = crate::Config {
            page_cache_budget_bytes: 64 << 20,
            ..crate::Config::default()
        };
        assert!(matches!(
            CacheSizing::of(&config),
            CacheSizing::Auto { max: 8192 }
        ));
    }
}
