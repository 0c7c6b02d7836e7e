//! The write-ahead log: checksummed page frames, a commit marker on the last frame of each
//! transaction, recovery that keeps exactly the committed prefix, and reset after a
//! checkpoint.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{GraphError, Result};
use crate::page::{get_u32, get_u64, put_u32, put_u64, PAGE_SIZE};
use crate::storage::Storage;
use crate::types::PageId;

const WAL_MAGIC: &[u8; 8] = b"GDBWAL\0\x01";
const WAL_VERSION: u32 = 1;
pub(crate) const WAL_HEADER: u64 = 32;
const FRAME_HEADER: usize = 32;
pub(crate) const FRAME_SIZE: u64 = (FRAME_HEADER + PAGE_SIZE) as u64;

#[derive(Debug)]
pub(crate) struct Wal {
    storage: Arc<dyn Storage>,
    salt: u64,
    /// For every page in the log, the byte offset of the page image in its newest
    /// committed frame. Only committed frames are ever indexed.
    index: HashMap<PageId, u64>,
    /// Byte offset just past the last committed frame: where the next frame goes.
    end: u64,
    /// The chained checksum of the last committed frame (or of the header).
    last_crc: u32,
    /// Committed frames in the log since the last reset.
    frames: u64,
    /// The log file's length: space past `end` is zeros (or stale frames of an older
    /// generation) that later commits overwrite.
    allocated: u64,
}

/// How much the log grows at a time.
const PREALLOCATE: u64 = 1 << 20;

fn fresh_salt(previous: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // Mixing in the previous salt guarantees a change even if the clock does not move.
    (nanos ^ previous.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
}

fn header_bytes(salt: u64) -> ([u8; WAL_HEADER as usize], u32) {
    let mut h = [0u8; WAL_HEADER as usize];
    h[0..8].copy_from_slice(WAL_MAGIC);
    put_u32(&mut h, 8, WAL_VERSION);
    put_u32(&mut h, 12, PAGE_SIZE as u32);
    put_u64(&mut h, 16, salt);
    let crc = crc32fast::hash(&h[0..24]);
    put_u32(&mut h, 24, crc);
    (h, crc)
}

fn frame_crc(prev: u32, header: &[u8], page: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(prev);
    h.update(&header[0..24]);
    h.update(page);
    h.finalize()
}

/// What recovery found in the log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Recovery {
    pub(crate) committed_txs: u64,
    pub(crate) committed_frames: u64,
    /// Bytes after the committed prefix that were dropped (torn or uncommitted frames).
    pub(crate) dropped_bytes: u64,
}

impl Wal {
    /// Opens the log and recovers its committed prefix. A missing or damaged log header
    /// means no frame after the last checkpoint ever became durable under it, so the log is
    /// reset to empty.
    pub(crate) fn open(storage: Arc<dyn Storage>) -> Result<(Wal, Recovery)> {
        let len = storage.len()?;
        let mut all = vec![0u8; len as usize];
        storage.read_at(&mut all, 0)?;
        let mut wal = Wal {
            storage,
            salt: 0,
            index: HashMap::new(),
            end: WAL_HEADER,
            last_crc: 0,
            frames: 0,
            allocated: len,
        };
        let header_ok = all.len() >= WAL_HEADER as usize
            && &all[0..8] == WAL_MAGIC
            && get_u32(&all, 8) == WAL_VERSION
            && get_u32(&all, 12) == PAGE_SIZE as u32
            && get_u32(&all, 24) == crc32fast::hash(&all[0..24]);
        if !header_ok {
            let dropped = len;
            wal.reset()?;
            return Ok((
                wal,
                Recovery {
                    dropped_bytes: dropped,
                    ..Recovery::default()
                },
            ));
        }
        wal.salt = get_u64(&all, 16);
        wal.last_crc = get_u32(&all, 24);
        let mut recovery = Recovery::default();
        let mut at = WAL_HEADER as usize;
        let mut crc = wal.last_crc;
        let mut pending: Vec<(PageId, u64)> = Vec::new();
        while at + FRAME_SIZE as usize <= all.len() {
            let fh = &all[at..at + FRAME_HEADER];
            let page = &all[at + FRAME_HEADER..at + FRAME_SIZE as usize];
            if get_u64(fh, 16) != wal.salt {
                break;
            }
            let c = frame_crc(crc, fh, page);
            if c != get_u32(fh, 24) {
                break;
            }
            crc = c;
            pending.push((get_u64(fh, 0), (at + FRAME_HEADER) as u64));
            at += FRAME_SIZE as usize;
            if get_u64(fh, 8) != 0 {
                // A commit frame: everything up to here is one whole transaction.
                recovery.committed_txs += 1;
                recovery.committed_frames += pending.len() as u64;
                wal.frames += pending.len() as u64;
                for (id, off) in pending.drain(..) {
                    wal.index.insert(id, off);
                }
                wal.end = at as u64;
                wal.last_crc = crc;
            }
        }
        wal.allocated = len;
        // Frames of this generation after the committed prefix are torn or belong to a
        // transaction that never committed. Zero them (keeping the file's length, which
        // is preallocated space) so none can ever be chained onto later frames. Frames
        // with another salt are left alone: they can never verify.
        let end = wal.end as usize;
        let mut cut = end;
        while cut + FRAME_HEADER <= all.len() && get_u64(&all, cut + 16) == wal.salt {
            cut += FRAME_SIZE as usize;
        }
        if cut == end && all.len() > end && all.len() < end + FRAME_HEADER {
            cut = all.len();
        }
        let cut = cut.min(all.len());
        if cut > end {
            recovery.dropped_bytes = (cut - end) as u64;
            wal.storage.write_at(&vec![0u8; cut - end], wal.end)?;
            wal.storage.sync()?;
        }
        Ok((wal, recovery))
    }

    /// Starts a new, empty log generation with a new salt. Only called when the main file
    /// already holds (synced) everything the old log held.
    pub(crate) fn reset(&mut self) -> Result<()> {
        self.salt = fresh_salt(self.salt);
        let (h, crc) = header_bytes(self.salt);
        // The old frames stay in the file (their salt no longer matches): the space is
        // reused, so commits overwrite allocated blocks and `fdatasync` need not touch
        // the file's metadata.
        self.storage.write_at(&h, 0)?;
        self.storage.sync()?;
        self.index.clear();
        self.end = WAL_HEADER;
        self.last_crc = crc;
        self.frames = 0;
        Ok(())
    }

    /// Appends one transaction's pages, the last frame carrying the commit marker, in a
    /// single write. The index is updated only after the write succeeded; the caller
    /// syncs. Returns the log position after the commit (its "LSN").
    pub(crate) fn append_commit(
        &mut self,
        pages: &[(PageId, &[u8; PAGE_SIZE])],
        commit_ts: u64,
    ) -> Result<u64> {
        if pages.is_empty() || commit_ts == 0 {
            return Err(GraphError::InvalidArgument(
                "a log commit needs at least one page and a non-zero timestamp".into(),
            ));
        }
        let mut buf = Vec::with_capacity(pages.len() * FRAME_SIZE as usize);
        let mut crc = self.last_crc;
        for (i, (id, page)) in pages.iter().enumerate() {
            let mut fh = [0u8; FRAME_HEADER];
            put_u64(&mut fh, 0, *id);
            put_u64(&mut fh, 8, if i + 1 == pages.len() { commit_ts } else { 0 });
            put_u64(&mut fh, 16, self.salt);
            crc = frame_crc(crc, &fh, &page[..]);
            put_u32(&mut fh, 24, crc);
            buf.extend_from_slice(&fh);
            buf.extend_from_slice(&page[..]);
        }
        let new_end = self.end + buf.len() as u64;
        if new_end > self.allocated {
            // Grow in large zero-filled steps: a sync after an append that stays inside
            // allocated space is a data-only flush, much cheaper than one that also
            // commits a new file size to the file system journal.
            let target = new_end.max(self.allocated + PREALLOCATE);
            let start = self.allocated.max(self.end);
            self.storage
                .write_at(&vec![0u8; (target - start) as usize], start)?;
            self.allocated = target;
        }
        self.storage.write_at(&buf, self.end)?;
        for (i, (id, _)) in pages.iter().enumerate() {
            self.index
                .insert(*id, self.end + i as u64 * FRAME_SIZE + FRAME_HEADER as u64);
        }
        self.end += buf.len() as u64;
        self.last_crc = crc;
        self.frames += pages.len() as u64;
        Ok(self.end)
    }

    /// Reads the newest committed image of `id` into `buf`; false if the log has none.
    pub(crate) fn read_page(&self, id: PageId, buf: &mut [u8; PAGE_SIZE]) -> Result<bool> {
        match self.index.get(&id) {
            Some(off) => {
                self.storage.read_at(&mut buf[..], *off)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The pages whose newest image is in the log, with their offsets.
    pub(crate) fn indexed_pages(&self) -> impl Iterator<Item = (PageId, u64)> + '_ {
        self.index.iter().map(|(k, v)| (*k, *v))
    }

    pub(crate) fn frames(&self) -> u64 {
        self.frames
    }

    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    pub(crate) fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemStorage;

    fn page(fill: u8) -> Box<[u8; PAGE_SIZE]> {
        Box::new([fill; PAGE_SIZE])
    }

    #[test]
    fn recovery_keeps_committed_and_drops_torn_tail() {
        let mem = MemStorage::new();
        let (mut wal, _) = Wal::open(Arc::new(mem.clone())).unwrap();
        let (a, b) = (page(1), page(2));
        wal.append_commit(&[(1, &a), (2, &b)], 1).unwrap();
        mem.sync().unwrap();
        let c = page(3);
        wal.append_commit(&[(1, &c)], 2).unwrap();
        // The second commit was never synced and only half of it reached the disk.
        let crashed = mem.crash_image(1, Some(FRAME_SIZE as usize / 2));
        let (wal2, rec) = Wal::open(Arc::new(crashed)).unwrap();
        assert_eq!(rec.committed_txs, 1);
        assert!(rec.dropped_bytes > 0);
        let mut buf = page(0);
        assert!(wal2.read_page(1, &mut buf).unwrap());
        assert_eq!(buf[0], 1);
        // With the whole write on disk both commits are back.
        let (wal3, rec) = Wal::open(Arc::new(mem.crash_image(1, None))).unwrap();
        assert_eq!(rec.committed_txs, 2);
        assert!(wal3.read_page(1, &mut buf).unwrap());
        assert_eq!(buf[0], 3);
    }

    #[test]
    fn reset_reuses_space_and_old_frames_never_return() {
        let mem = MemStorage::new();
        let (mut wal, _) = Wal::open(Arc::new(mem.clone())).unwrap();
        let a = page(1);
        wal.append_commit(&[(1, &a), (2, &a)], 1).unwrap();
        let len = mem.len().unwrap();
        assert!(len >= PREALLOCATE);
        wal.reset().unwrap();
        assert_eq!(mem.len().unwrap(), len, "reset keeps the allocated space");
        let (wal2, rec) = Wal::open(Arc::new(mem.clone())).unwrap();
        assert_eq!((rec.committed_txs, wal2.frames()), (0, 0));
        // An uncommitted frame of the current generation is zeroed by recovery.
        let (mut wal3, _) = Wal::open(Arc::new(mem.clone())).unwrap();
        wal3.append_commit(&[(3, &a)], 2).unwrap();
        let mut bytes = mem.snapshot();
        let commit_field = (WAL_HEADER + 8) as usize;
        bytes[commit_field..commit_field + 8].fill(0);
        mem.overwrite(bytes);
        let (_, rec) = Wal::open(Arc::new(mem.clone())).unwrap();
        assert_eq!((rec.committed_txs, rec.dropped_bytes), (0, FRAME_SIZE));
        assert!(mem.snapshot()[WAL_HEADER as usize..]
            .iter()
            .take(FRAME_SIZE as usize)
            .all(|b| *b == 0));
    }

    #[test]
    fn garbage_log_is_treated_as_empty() {
        let mem = MemStorage::new();
        mem.overwrite(vec![0xAB; 5000]);
        let (wal, rec) = Wal::open(Arc::new(mem)).unwrap();
        assert_eq!(rec.committed_txs, 0);
        assert_eq!(wal.frames(), 0);
    }
}
