//! The write-ahead log: checksummed page frames, a commit marker on the last frame of each
//! transaction, recovery that keeps exactly the committed prefix, and reset after a
//! checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::error::{GraphError, Result};
use crate::page::{get_u32, get_u64, put_u32, put_u64, PageBuf, PAGE_HEADER, PAGE_SIZE};
use crate::storage::Storage;
use crate::sync::{Condvar, Mutex, MutexGuard};
use crate::types::PageId;

const WAL_MAGIC: &[u8; 8] = b"GDBWAL\0\x01";
/// The log format this build writes by default. Version 2 added a second checksum to
/// every frame header (bytes 28..32): a CRC-32 of the frame's first 24 header bytes (page
/// id, commit timestamp, salt) and its page image alone, not chained to the frames before
/// it. It lets recovery tell a damaged frame followed by intact committed frames
/// (committed data dropped) from a torn or stale tail, and a frame whose salt was damaged
/// from one of an older log generation. Version 3 lets a frame leave out the longest run
/// of zero bytes of its page: the run is named in the top bits of the page-id field (see
/// [`frame_gap`]), the writer skips those bytes of the slot, and readers take them as
/// zeros (the checksums cover the page with the run zeroed, and the field). Slots keep
/// their fixed size, so every offset is as in version 2; a version 2 frame is a version 3
/// frame without a run.
///
/// Version 4 replaces the fixed page-image frames by variable-length records of changed
/// byte ranges (see [`put_ranges`] and docs/graphdb-core.md): a page's first entry in a
/// log generation is its image (the ranges that are not zero), every later entry only the
/// ranges that changed since the entry before it. A one-node commit that wrote about
/// 8 KiB of frames in version 3 writes a few hundred bytes, with one `pwrite` and one
/// pair of checksums over the record instead of three passes over each page.
pub const LOG_FORMAT_VERSION: u32 = 4;
/// The page-image format (version 3), still written on request
/// ([`GraphDB::use_log_format`](crate::GraphDB::use_log_format)) so that one process can
/// measure both, and read like every older version.
pub(crate) const PAGE_IMAGE_LOG_VERSION: u32 = 3;
/// Version 1 logs (chained checksums only) are still replayed; the pager then folds them
/// into the main file at once, so the next log generation is written in the current
/// format.
const OLDEST_LOG_VERSION: u32 = 1;
pub(crate) const WAL_HEADER: u64 = 32;
const FRAME_HEADER: usize = 32;
/// Bytes of a version 4 record header: body length (u32), entry count (u32), commit
/// timestamp (u64, 0 for a record that does not end a transaction), salt (u64), chained
/// CRC-32 (u32) and own CRC-32 (u32), both over bytes 0..24 and the body.
const RECORD_HEADER: usize = 32;
/// Bytes of a version 4 entry header: page id (u64), kind (u16: [`ENTRY_IMAGE`] or
/// [`ENTRY_DELTA`]), range count (u16).
const ENTRY_HEADER: usize = 12;
/// An entry that holds the page's whole image: the ranges that are not zero.
const ENTRY_IMAGE: u16 = 0;
/// An entry that holds the ranges changed since the page's previous entry in this log
/// generation.
const ENTRY_DELTA: u16 = 1;
/// The most pages one version 4 record holds; a larger commit is several records, the
/// last one carrying the commit timestamp, so a body length always fits its field.
const RECORD_MAX_PAGES: usize = 4096;
/// Equal 8-byte words between two changed ones that end a range (fewer are carried in
/// it: a range descriptor costs four bytes).
const MERGE_WORDS: usize = 2;
pub(crate) const FRAME_SIZE: u64 = (FRAME_HEADER + PAGE_SIZE) as u64;

/// The log as the pager sees it: a handle on the state it shares with [`LogSync`]
/// handles (group commit runs without the pager).
///
/// [`LogSync`]: crate::LogSync
#[derive(Debug)]
pub(crate) struct Wal {
    shared: Arc<LogShared>,
}

/// The log's storage and state, shared by the pager and every committer that syncs.
///
/// A commit only copies its pages into `pending` (newest image per page) under the state
/// mutex. A sync (or flush) leader encodes everything pending as ONE log transaction (its
/// commit marker carries the newest pending commit timestamp), writes it with one
/// `write` and one `fdatasync`, and wakes the waiters. Commits that arrive while it
/// writes collect in `pending` for the next leader. Several commits that rewrote the same
/// page (the header page, a records page) log it once. Merging is safe because none of
/// the merged commits has been acknowledged as durable before the sync that writes
/// them, and recovery keeps whole log transactions: a crash keeps all of them or none,
/// always a prefix of the commit order.
#[derive(Debug)]
pub(crate) struct LogShared {
    storage: Arc<dyn Storage>,
    // A leaf of the lock order (taken under the pager lock or under no lock; nothing is
    // taken while it is held); never held across the leader's write or fsync.
    state: Mutex<LogState>,
    done: Condvar,
}

#[derive(Debug)]
struct LogState {
    salt: u64,
    /// For every page in the log, the byte offset of the page image in its newest
    /// encoded frame. Only frames of whole log transactions are indexed.
    index: HashMap<PageId, u64>,
    /// Byte offset just past the last encoded frame: where the next frame goes.
    end: u64,
    /// The chained checksum of the last encoded frame (or of the header).
    last_crc: u32,
    /// Encoded frames in the log since the last reset.
    frames: u64,
    /// The log file's length: space past `end` is zeros (or stale frames of an older
    /// generation) that later frames overwrite.
    allocated: u64,
    /// Pages of commits not yet encoded: the newest image of each, and the newest
    /// commit timestamp among those commits (0: nothing pending).
    pending: BTreeMap<PageId, PageBuf>,
    pending_ts: u64,
    /// Frames encoded but not yet handed to a leader: the file's bytes from
    /// `encoded_at` to `end`. A commit that finds nothing waiting is encoded at once (as a
    /// single commit always was); later ones go to `pending` and merge.
    encoded: Vec<u8>,
    encoded_at: u64,
    /// Byte ranges of `encoded` that are zero runs left out of their frames (format 3):
    /// the leader does not write them.
    encoded_gaps: Vec<(usize, usize)>,
    /// Encoded bytes a leader is writing now, at their offset (reads overlay them).
    in_flight: Option<(u64, Arc<Vec<u8>>)>,
    /// Commits appended so far; every commit up to `written` is in the file, up to
    /// `durable` also synced.
    issued: u64,
    written: u64,
    durable: u64,
    /// A leader is writing or syncing.
    busy: bool,
    /// A write or sync failed: the kernel may have dropped dirty pages, so nothing later
    /// is acknowledged as durable.
    failed: bool,
    /// Pages of the commit being built that were spilled to the file ahead of its commit
    /// frame (a bulk import holds more pages than memory should): the byte offset of
    /// each page's newest spilled image. Frames without a commit marker, so recovery
    /// drops them unless the commit frame that ends their log transaction follows. Only
    /// the committer reads them; readers never see them before the commit.
    spilled: HashMap<PageId, u64>,
    /// Where the log ended before the first spilled frame (end, chained checksum,
    /// frames), to rewind to when the commit is abandoned.
    spill_mark: Option<(u64, u32, u64)>,
    /// The format of this log generation (the version in its header).
    version: u32,
    /// The format a reset starts the next generation in.
    write_version: u32,
    /// Version 4: the newest committed image of every page with an entry in this
    /// generation. A page whose last entry was written by a commit is held in memory
    /// (the next commit's entry is the difference to it, and reads are a copy); one
    /// whose last entry is a whole image already in the file (spilled, or found by
    /// recovery) is read from there. At most one image per page entry, so the
    /// checkpoint that `checkpoint_after_frames` triggers bounds them.
    images: HashMap<PageId, Image>,
    /// Version 4: pages of the commit being built that were spilled (see `spilled`),
    /// each a whole-image entry in the file.
    spilled_entries: HashMap<PageId, FileEntry>,
}

/// Where a version 4 image entry's ranges lie in the log file.
#[derive(Debug, Clone, Copy)]
struct FileEntry {
    /// Byte offset of the first range descriptor.
    at: u64,
    /// Bytes of range descriptors and range bytes.
    len: u32,
    ranges: u16,
}

/// The newest image of a page in a version 4 log.
#[derive(Debug)]
enum Image {
    Mem(PageBuf),
    File(FileEntry),
}

/// Appends to `out` the ranges where `new` differs from `base` (from an all-zero page
/// when `None`), each as its byte offset (u16), its length (u16) and the new bytes, in
/// whole 8-byte words; ranges fewer than [`MERGE_WORDS`] equal words apart are joined.
/// Returns how many ranges it wrote. The page is compared 64 bytes at a time into a
/// bitmap of changed words, which the ranges are then read from.
fn put_ranges(base: Option<&[u8; PAGE_SIZE]>, new: &[u8; PAGE_SIZE], out: &mut Vec<u8>) -> u16 {
    const WORDS: usize = PAGE_SIZE / 8;
    static ZERO: [u8; PAGE_SIZE] = [0; PAGE_SIZE];
    let old = base.unwrap_or(&ZERO);
    let mut bits = [0u64; WORDS / 64];
    // Equal kilobytes, then equal 64-byte blocks, are skipped with one comparison each
    // (a change entry usually touches two or three blocks of a page).
    let (nk, _) = new.as_chunks::<1024>();
    let (ok, _) = old.as_chunks::<1024>();
    for (c, (nc, oc)) in nk.iter().zip(ok).enumerate() {
        if nc == oc {
            continue;
        }
        let (nb, _) = nc.as_chunks::<64>();
        let (ob, _) = oc.as_chunks::<64>();
        for (b, (n, o)) in nb.iter().zip(ob).enumerate() {
            let (n, _) = n.as_chunks::<8>();
            let (o, _) = o.as_chunks::<8>();
            let word = |k: usize| u64::from_ne_bytes(n[k]) ^ u64::from_ne_bytes(o[k]);
            if (0..8).fold(0, |acc, k| acc | word(k)) == 0 {
                continue;
            }
            let mut m = 0u64;
            for k in 0..8 {
                m |= u64::from(word(k) != 0) << k;
            }
            let block = c * 16 + b;
            bits[block / 8] |= m << ((block % 8) * 8);
        }
    }
    // The first changed word at or after `from`.
    let next = |from: usize| -> Option<usize> {
        let mut w = from / 64;
        let mut cur = *bits.get(w)? & (!0u64 << (from % 64));
        loop {
            if cur != 0 {
                return Some(w * 64 + cur.trailing_zeros() as usize);
            }
            w += 1;
            cur = *bits.get(w)?;
        }
    };
    let mut count = 0u16;
    let mut i = 0;
    while let Some(start) = next(i) {
        let mut end = start + 1;
        while let Some(n) = next(end) {
            if n - end >= MERGE_WORDS {
                break;
            }
            end = n + 1;
        }
        let (from, to) = (start * 8, end * 8);
        out.extend_from_slice(&(from as u16).to_le_bytes());
        out.extend_from_slice(&((to - from) as u16).to_le_bytes());
        out.extend_from_slice(&new[from..to]);
        count += 1;
        i = end;
    }
    count
}

/// Applies `count` ranges from the front of `body` to `page`; returns the bytes they
/// took, or `None` if they are malformed (a range outside the page, or past the body).
fn apply_ranges(page: &mut [u8; PAGE_SIZE], body: &[u8], count: u16) -> Option<usize> {
    let mut at = 0;
    for _ in 0..count {
        let h = body.get(at..at + 4)?;
        let off = usize::from(u16::from_le_bytes([h[0], h[1]]));
        let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
        if len == 0 || off + len > PAGE_SIZE {
            return None;
        }
        page[off..off + len].copy_from_slice(body.get(at + 4..at + 4 + len)?);
        at += 4 + len;
    }
    Some(at)
}

/// The bytes `count` ranges take at the front of `body`, if well formed.
fn ranges_len(body: &[u8], count: u16) -> Option<usize> {
    let mut at = 0;
    for _ in 0..count {
        let h = body.get(at..at + 4)?;
        let off = usize::from(u16::from_le_bytes([h[0], h[1]]));
        let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
        if len == 0 || off + len > PAGE_SIZE || body.len() < at + 4 + len {
            return None;
        }
        at += 4 + len;
    }
    Some(at)
}

/// A page image from the ranges of an image entry.
fn decode_image(body: &[u8], ranges: u16) -> Option<PageBuf> {
    let mut page: PageBuf = Box::new([0u8; PAGE_SIZE]);
    apply_ranges(&mut page, body, ranges)?;
    Some(page)
}

/// A version 4 record found in the file.
#[derive(Debug, Clone, Copy)]
struct Record {
    /// Bytes the record takes in the file (header, body, padding).
    total: usize,
    body_len: usize,
    entries: u32,
    commit_ts: u64,
    /// The chained checksum it carries.
    chained: u32,
}

/// The record at `at` if its header fits, its salt is `salt` and it verifies on its own
/// (its own checksum). The chained checksum is for the caller to check.
fn record_at(all: &[u8], at: usize, salt: u64) -> Option<Record> {
    let head = all.get(at..at + RECORD_HEADER)?;
    if get_u64(head, 16) != salt {
        return None;
    }
    let body_len = get_u32(head, 0) as usize;
    let body = all.get(at + RECORD_HEADER..(at + RECORD_HEADER).checked_add(body_len)?)?;
    let mut h = crc32fast::Hasher::new();
    h.update(&head[0..24]);
    h.update(body);
    if h.finalize() != get_u32(head, 28) {
        return None;
    }
    Some(Record {
        total: RECORD_HEADER + body_len.next_multiple_of(8),
        body_len,
        entries: get_u32(head, 4),
        commit_ts: get_u64(head, 8),
        chained: get_u32(head, 24),
    })
}

/// The chained checksum of the record at `at` continued from `prev`.
fn record_chain(all: &[u8], at: usize, rec: &Record, prev: u32) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(prev);
    h.update(&all[at..at + 24]);
    h.update(&all[at + RECORD_HEADER..at + RECORD_HEADER + rec.body_len]);
    h.finalize()
}

/// One entry of a version 4 record: page id, kind, and where its ranges lie in the log.
#[derive(Debug, Clone, Copy)]
struct Entry {
    id: PageId,
    kind: u16,
    at: usize,
    len: usize,
    ranges: u16,
}

/// The entries of a record body (at `body_at` in `all`), if it is well formed: as many
/// entries as the header says, each of a known kind with well-formed ranges, filling the
/// body exactly.
fn record_entries(all: &[u8], body_at: usize, rec: &Record) -> Option<Vec<Entry>> {
    let body = all.get(body_at..body_at + rec.body_len)?;
    let mut out = Vec::with_capacity(rec.entries.min(RECORD_MAX_PAGES as u32) as usize);
    let mut at = 0;
    for _ in 0..rec.entries {
        let h = body.get(at..at + ENTRY_HEADER)?;
        let id = get_u64(h, 0);
        let kind = u16::from_le_bytes([h[8], h[9]]);
        let ranges = u16::from_le_bytes([h[10], h[11]]);
        if kind != ENTRY_IMAGE && kind != ENTRY_DELTA {
            return None;
        }
        let len = ranges_len(&body[at + ENTRY_HEADER..], ranges)?;
        out.push(Entry {
            id,
            kind,
            at: body_at + at + ENTRY_HEADER,
            len,
            ranges,
        });
        at += ENTRY_HEADER + len;
    }
    (at == body.len()).then_some(out)
}

/// Scans the log from `from` (8-byte aligned) for version 4 records of `salt` that
/// verify on their own. Returns how many of them end a transaction, and the byte offset
/// just past the last record (or damaged header) of that salt.
fn records_after(all: &[u8], from: usize, salt: u64) -> (u64, usize) {
    let (mut commits, mut cut) = (0, from);
    let mut p = from;
    while p + RECORD_HEADER <= all.len() {
        if get_u64(all, p + 16) == salt {
            if let Some(rec) = record_at(all, p, salt) {
                if rec.commit_ts != 0 {
                    commits += 1;
                }
                p += rec.total;
                cut = cut.max(p.min(all.len()));
                continue;
            }
            cut = cut.max(p + RECORD_HEADER);
        }
        p += 8;
    }
    (commits, cut)
}

/// Without a header: how many version 4 records that verify on their own end a
/// transaction, for the salt (among the most common odd values in the salt position of
/// aligned headers) that has most of them.
fn intact_records_any_salt(all: &[u8]) -> u64 {
    let mut counts: HashMap<u64, u64> = HashMap::new();
    let mut p = WAL_HEADER as usize;
    while p + RECORD_HEADER <= all.len() {
        let salt = get_u64(all, p + 16);
        // Salts are odd (see `fresh_salt`); a body length past the file is no record.
        if salt & 1 == 1 && (get_u32(all, p) as usize) <= all.len() - p - RECORD_HEADER {
            *counts.entry(salt).or_default() += 1;
        }
        p += 8;
    }
    let mut best: Vec<(u64, u64)> = counts.into_iter().collect();
    best.sort_unstable_by_key(|(s, n)| (std::cmp::Reverse(*n), *s));
    // Page bytes can repeat a value more often than there are records: try a few.
    best.iter()
        .take(8)
        .map(|(salt, _)| records_after(all, WAL_HEADER as usize, *salt).0)
        .max()
        .unwrap_or(0)
}

fn poisoned() -> GraphError {
    GraphError::corrupt("log state lock poisoned by a panicking thread", None)
}

fn failed() -> GraphError {
    GraphError::Closed("an earlier write or sync of the log failed; reopen the database".into())
}

/// How much the log grows at a time.
const PREALLOCATE: u64 = 1 << 20;
/// The most a log keeps after a checkpoint (its header and reusable space).
pub(crate) const LOG_KEEP: u64 = PREALLOCATE;

fn fresh_salt(previous: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // Mixing in the previous salt guarantees a change even if the clock does not move.
    (nanos ^ previous.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
}

fn header_bytes(salt: u64, version: u32) -> ([u8; WAL_HEADER as usize], u32) {
    let mut h = [0u8; WAL_HEADER as usize];
    h[0..8].copy_from_slice(WAL_MAGIC);
    put_u32(&mut h, 8, version);
    put_u32(&mut h, 12, PAGE_SIZE as u32);
    put_u64(&mut h, 16, salt);
    let crc = crc32fast::hash(&h[0..24]);
    put_u32(&mut h, 24, crc);
    (h, crc)
}

/// Bits of a frame's page-id field that hold the page id; above them, 12 bits of run
/// start and 12 bits of run length, both in 8-byte words of the page.
const PAGE_ID_BITS: u32 = 40;
/// The shortest zero run worth leaving out (a write is split around it).
const MIN_GAP_WORDS: usize = 64;

/// The page id of a frame header.
fn frame_page(header: &[u8]) -> PageId {
    get_u64(header, 0) & ((1 << PAGE_ID_BITS) - 1)
}

/// The byte range of the page a frame leaves out (empty for none), or `None` when the
/// field names a range outside the page body (a damaged header).
fn frame_gap(header: &[u8]) -> Option<std::ops::Range<usize>> {
    let raw = get_u64(header, 0) >> PAGE_ID_BITS;
    let start = (raw & 0xFFF) as usize * 8;
    let len = (raw >> 12) as usize * 8;
    if len == 0 {
        return Some(0..0);
    }
    (start >= PAGE_HEADER && start + len <= PAGE_SIZE).then_some(start..start + len)
}

/// The longest run of zero 64-byte blocks after the first block (which holds the page
/// header), as (start word, length in words), if long enough to leave out. Blocks, not
/// single words, keep the scan short: a whole block is tested with one OR of eight words.
fn zero_run(page: &[u8; PAGE_SIZE]) -> Option<(usize, usize)> {
    const BLOCK: usize = 64;
    let (mut best, mut best_len) = (0, 0);
    let (mut run_start, mut run) = (0, 0);
    let (words, _) = page.as_chunks::<8>();
    for (i, block) in words.chunks_exact(BLOCK / 8).enumerate().skip(1) {
        let zero = block
            .iter()
            .fold(0u64, |acc, w| acc | u64::from_ne_bytes(*w))
            == 0;
        if zero {
            if run == 0 {
                run_start = i;
            }
            run += 1;
            if run > best_len {
                best = run_start;
                best_len = run;
            }
        } else {
            run = 0;
        }
    }
    let words = BLOCK / 8;
    (best_len * words >= MIN_GAP_WORDS).then_some((best * words, best_len * words))
}

/// The page image of a frame slot as written: the slot's bytes with the left-out run
/// zeroed (a copy only when there is a run); `None` if the run is malformed.
fn slot_image<'a>(header: &[u8], slot: &'a [u8]) -> Option<std::borrow::Cow<'a, [u8]>> {
    let gap = frame_gap(header)?;
    if gap.is_empty() {
        return Some(std::borrow::Cow::Borrowed(slot));
    }
    let mut page = slot.to_vec();
    page[gap].fill(0);
    Some(std::borrow::Cow::Owned(page))
}

/// Whether the slot `at` of `all` holds a frame that verifies on its own (format 2).
fn self_verifies(all: &[u8], at: usize) -> bool {
    let fh = &all[at..at + FRAME_HEADER];
    let slot = &all[at + FRAME_HEADER..at + FRAME_SIZE as usize];
    slot_image(fh, slot).is_some_and(|page| frame_self_crc(fh, &page) == get_u32(fh, 28))
}

fn frame_crc(prev: u32, header: &[u8], page: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(prev);
    h.update(&header[0..24]);
    h.update(page);
    h.finalize()
}

/// The frame's own checksum (log format 2): its first 24 header bytes and its page, not
/// chained, so one frame can be verified without the frames before it.
fn frame_self_crc(header: &[u8], page: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header[0..24]);
    h.update(page);
    h.finalize()
}

/// Why recovery stopped replaying the log where it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogEnd {
    /// The log ended cleanly: after the last committed frame there is nothing, zeros, or
    /// frames of an older log generation.
    Clean,
    /// Frames after the last commit belong to a transaction whose commit frame never
    /// reached the disk, or the last frame was only partly written: what a crash during a
    /// commit leaves. No intact committed frame follows.
    TornTail {
        /// Byte offset of the first frame not replayed.
        offset: u64,
    },
    /// A frame at `offset` failed its checksum (or had a damaged salt) and at least one
    /// intact commit frame of this log generation lies after it: committed transactions
    /// were dropped.
    DamagedFrame {
        /// Byte offset of the damaged frame.
        offset: u64,
    },
    /// The log header failed its checksum; frames after it could not be trusted.
    DamagedHeader,
}

impl std::fmt::Display for LogEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogEnd::Clean => write!(f, "the log ended cleanly"),
            LogEnd::TornTail { offset } => write!(
                f,
                "torn or uncommitted frames from byte {offset} (an interrupted commit)"
            ),
            LogEnd::DamagedFrame { offset } => write!(
                f,
                "damaged frame at byte {offset} followed by intact committed frames"
            ),
            LogEnd::DamagedHeader => write!(f, "the log header is damaged"),
        }
    }
}

/// What recovery found in the log when the database was opened
/// ([`GraphDB::recovery_report`](crate::GraphDB::recovery_report)).
///
/// Replay stops at the first frame that fails its checks: everything after it is
/// dropped, because log transactions must be applied in order. A torn tail after a crash
/// is normal (the commit being written was never acknowledged); committed transactions
/// found intact *after* a damaged frame are not, and [`lost_committed_data`] says so.
/// With [`Config::strict_recovery`](crate::Config::strict_recovery) the open fails
/// instead of dropping them, and leaves both files untouched.
///
/// [`lost_committed_data`]: RecoveryReport::lost_committed_data
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Log frames (page images) replayed.
    pub frames_replayed: u64,
    /// Committed log transactions replayed.
    pub transactions_replayed: u64,
    /// Bytes after the replayed prefix that were dropped (and zeroed).
    pub dropped_bytes: u64,
    /// Intact commit frames of this log generation found after the point where replay
    /// stopped: committed transactions that were dropped.
    pub dropped_transactions: u64,
    /// Why replay stopped.
    pub end: LogEnd,
    /// The main file was missing or empty and was rebuilt from a log that held every
    /// page of the database.
    pub rebuilt_main_file: bool,
    /// The log's format version as found (0 for an empty log).
    pub log_version: u32,
}

impl Default for RecoveryReport {
    fn default() -> Self {
        RecoveryReport {
            frames_replayed: 0,
            transactions_replayed: 0,
            dropped_bytes: 0,
            dropped_transactions: 0,
            end: LogEnd::Clean,
            rebuilt_main_file: false,
            log_version: 0,
        }
    }
}

impl RecoveryReport {
    /// Whether recovery dropped committed transactions (damage in the log, not a torn
    /// tail).
    pub fn lost_committed_data(&self) -> bool {
        self.dropped_transactions > 0 || matches!(self.end, LogEnd::DamagedFrame { .. })
    }
}

impl std::fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "recovery: replayed {} transactions ({} frames); dropped {} bytes and {} committed transactions; {}",
            self.transactions_replayed,
            self.frames_replayed,
            self.dropped_bytes,
            self.dropped_transactions,
            self.end
        )?;
        if self.rebuilt_main_file {
            write!(f, "; main file rebuilt from the log")?;
        }
        Ok(())
    }
}

impl LogState {
    fn new(len: u64, write_version: u32) -> Self {
        LogState {
            salt: 0,
            index: HashMap::new(),
            end: WAL_HEADER,
            last_crc: 0,
            frames: 0,
            allocated: len,
            pending: BTreeMap::new(),
            pending_ts: 0,
            encoded: Vec::new(),
            encoded_at: WAL_HEADER,
            encoded_gaps: Vec::new(),
            in_flight: None,
            issued: 0,
            written: 0,
            durable: 0,
            busy: false,
            failed: false,
            spilled: HashMap::new(),
            spill_mark: None,
            version: write_version,
            write_version,
            images: HashMap::new(),
            spilled_entries: HashMap::new(),
        }
    }

    /// Starts a new, empty log generation with a new salt. Only called when the main file
    /// already holds (synced) everything the old log held, and no leader is running.
    fn reset(&mut self, storage: &dyn Storage, shrink: bool) -> Result<()> {
        self.salt = fresh_salt(self.salt);
        let (h, crc) = header_bytes(self.salt, self.write_version);
        // The old frames stay in the file (their salt no longer matches): the space is
        // reused, so commits overwrite allocated blocks and `fdatasync` need not touch
        // the file's metadata.
        storage.write_at(&h, 0)?;
        storage.sync()?;
        // A quiet database's log shrinks back: past a bounded amount of reusable space,
        // the frames of the old generation are cut off. They can never verify again (the
        // salt changed and the header is synced), so a failed or lost truncation only
        // leaves space behind, and is not an error. The checkpoints that commits trigger
        // keep the space (`shrink` false): a busy log would otherwise be cut and grown
        // again, zero-filled, every cycle, which doubled the bytes each commit wrote.
        if shrink && self.allocated > LOG_KEEP && storage.set_len(LOG_KEEP).is_ok() {
            self.allocated = LOG_KEEP;
        }
        self.index.clear();
        self.images.clear();
        self.version = self.write_version;
        self.end = WAL_HEADER;
        self.last_crc = crc;
        self.frames = 0;
        Ok(())
    }

    /// Encodes one log transaction at `end` into `encoded` and indexes it.
    fn encode(&mut self, pages: &[(PageId, &[u8; PAGE_SIZE])], commit_ts: u64) {
        // Spilled frames belong to this log transaction: they become readable with it.
        let spilled = std::mem::take(&mut self.spilled);
        self.index.extend(spilled);
        self.spill_mark = None;
        if self.version >= 4 {
            // Spilled image entries are committed with this record: their images are
            // in the file. Drained first, so that a page of this commit that was also
            // spilled gets a whole image (its base is the spilled one, not an older
            // image in memory).
            let spilled = std::mem::take(&mut self.spilled_entries);
            for (id, entry) in spilled {
                self.images.insert(id, Image::File(entry));
            }
            self.encode_records(pages, commit_ts, false);
        } else {
            self.encode_frames(pages, commit_ts, false);
        }
    }

    /// Version 4: ends the encoded records at a 4 KiB boundary of the file with a padding
    /// record (no entries, no commit marker, a body of zeros), so that the next write
    /// after a sync never rewrites a block that holds synced records: on a disk that can
    /// tear a block it writes, a commit being written could otherwise destroy the
    /// record of one already acknowledged as durable. Recovery steps over padding.
    fn encode_padding(&mut self) {
        const BLOCK: u64 = 4096;
        let mut gap = (BLOCK - self.end % BLOCK) % BLOCK;
        if gap == 0 {
            return;
        }
        if gap < RECORD_HEADER as u64 {
            gap += BLOCK;
        }
        if self.encoded.is_empty() {
            self.encoded_at = self.end;
        }
        let rec = self.encoded.len();
        self.encoded.resize(rec + gap as usize, 0);
        let (head, body) = self.encoded[rec..].split_at_mut(RECORD_HEADER);
        // `end` and the block size are multiples of 8, so the body needs no padding.
        put_u32(head, 0, body.len() as u32);
        put_u64(head, 16, self.salt);
        let mut chained = crc32fast::Hasher::new_with_initial(self.last_crc);
        chained.update(&head[0..24]);
        chained.update(body);
        let chained = chained.finalize();
        let mut own = crc32fast::Hasher::new();
        own.update(&head[0..24]);
        own.update(body);
        let own = own.finalize();
        put_u32(head, 24, chained);
        put_u32(head, 28, own);
        self.last_crc = chained;
        self.end += gap;
    }

    /// Version 4: encodes the pages as records at `end` into `encoded`, the last record
    /// carrying `commit_ts` (0: none), and updates the images. A page with an image in
    /// memory gets the ranges that changed (no entry when none did); any other gets its
    /// whole image. Spilled pages always get whole images, indexed apart from the
    /// committed ones.
    fn encode_records(
        &mut self,
        pages: &[(PageId, &[u8; PAGE_SIZE])],
        commit_ts: u64,
        spill: bool,
    ) {
        if self.encoded.is_empty() {
            self.encoded_at = self.end;
        }
        let chunks = pages.len().div_ceil(RECORD_MAX_PAGES).max(1);
        for (n, chunk) in pages.chunks(RECORD_MAX_PAGES).enumerate() {
            let last = n + 1 == chunks;
            let rec = self.encoded.len();
            let rec_file = self.end;
            self.encoded.resize(rec + RECORD_HEADER, 0);
            let mut entries = 0u32;
            for (id, page) in chunk {
                let at = self.encoded.len();
                let base = match self.images.get(id) {
                    Some(Image::Mem(b)) if !spill => Some(&**b),
                    _ => None,
                };
                let kind = if base.is_some() {
                    ENTRY_DELTA
                } else {
                    ENTRY_IMAGE
                };
                self.encoded.extend_from_slice(&id.to_le_bytes());
                self.encoded.extend_from_slice(&kind.to_le_bytes());
                self.encoded.extend_from_slice(&[0, 0]);
                let ranges = put_ranges(base, page, &mut self.encoded);
                if kind == ENTRY_DELTA && ranges == 0 {
                    // Unchanged since its last entry: nothing to log.
                    self.encoded.truncate(at);
                    continue;
                }
                self.encoded[at + 10..at + 12].copy_from_slice(&ranges.to_le_bytes());
                entries += 1;
                let entry = FileEntry {
                    at: rec_file + (at + ENTRY_HEADER - rec) as u64,
                    len: (self.encoded.len() - at - ENTRY_HEADER) as u32,
                    ranges,
                };
                if spill {
                    self.spilled_entries.insert(*id, entry);
                } else if let Some(Image::Mem(b)) = self.images.get_mut(id) {
                    // Only the changed ranges: the rest of the image already matches.
                    let _ = apply_ranges(b, &self.encoded[at + ENTRY_HEADER..], ranges);
                } else {
                    self.images.insert(*id, Image::Mem(Box::new(**page)));
                }
            }
            let body_len = self.encoded.len() - rec - RECORD_HEADER;
            self.encoded
                .resize(rec + RECORD_HEADER + body_len.next_multiple_of(8), 0);
            let (head, body) = self.encoded[rec..].split_at_mut(RECORD_HEADER);
            // At most RECORD_MAX_PAGES entries of at most 4 + 8 KiB + 4 bytes per word.
            put_u32(head, 0, body_len as u32);
            put_u32(head, 4, entries);
            put_u64(head, 8, if last { commit_ts } else { 0 });
            put_u64(head, 16, self.salt);
            let body = &body[..body_len];
            let mut chained = crc32fast::Hasher::new_with_initial(self.last_crc);
            chained.update(&head[0..24]);
            chained.update(body);
            let chained = chained.finalize();
            let mut own = crc32fast::Hasher::new();
            own.update(&head[0..24]);
            own.update(body);
            let own = own.finalize();
            put_u32(head, 24, chained);
            put_u32(head, 28, own);
            self.last_crc = chained;
            self.end = rec_file + (self.encoded.len() - rec) as u64;
            self.frames += u64::from(entries);
        }
    }

    /// Encodes frames at `end` into `encoded`; the last carries `commit_ts` (0: none).
    /// Spilled frames are indexed apart from the committed ones.
    fn encode_frames(&mut self, pages: &[(PageId, &[u8; PAGE_SIZE])], commit_ts: u64, spill: bool) {
        if self.encoded.is_empty() {
            self.encoded_at = self.end;
        }
        let start = self.end;
        let mut crc = self.last_crc;
        self.encoded.reserve(pages.len() * FRAME_SIZE as usize);
        for (i, (id, page)) in pages.iter().enumerate() {
            let mut fh = [0u8; FRAME_HEADER];
            // Page ids stay far below 2^40 (that many pages would be 8 PiB); a larger one
            // is simply written without leaving anything out.
            let gap = zero_run(page).filter(|_| *id < 1 << PAGE_ID_BITS);
            let field = match gap {
                Some((start, len)) => {
                    let slot = self.encoded.len() + FRAME_HEADER;
                    self.encoded_gaps
                        .push((slot + start * 8, slot + (start + len) * 8));
                    *id | ((start as u64) << PAGE_ID_BITS) | ((len as u64) << (PAGE_ID_BITS + 12))
                }
                None => *id,
            };
            put_u64(&mut fh, 0, field);
            put_u64(&mut fh, 8, if i + 1 == pages.len() { commit_ts } else { 0 });
            put_u64(&mut fh, 16, self.salt);
            crc = frame_crc(crc, &fh, &page[..]);
            put_u32(&mut fh, 24, crc);
            let own = frame_self_crc(&fh, &page[..]);
            put_u32(&mut fh, 28, own);
            self.encoded.extend_from_slice(&fh);
            self.encoded.extend_from_slice(&page[..]);
            let at = start + i as u64 * FRAME_SIZE + FRAME_HEADER as u64;
            if spill {
                self.spilled.insert(*id, at);
            } else {
                self.index.insert(*id, at);
            }
        }
        self.end = start + pages.len() as u64 * FRAME_SIZE;
        self.last_crc = crc;
        self.frames += pages.len() as u64;
    }

    /// Encodes the pending commits as ONE log transaction (pages in ascending id order,
    /// the header page first, as a single commit writes them), then takes every encoded
    /// byte for a leader to write, growing the file in large zero-filled steps in the
    /// same write: a sync after an append that stays inside allocated space is a
    /// data-only flush, much cheaper than one that also commits a new file size to the
    /// file system journal.
    fn take_batch(&mut self, durable: bool) -> Option<Batch> {
        if durable && self.version >= 4 {
            // A sync runs only when something is not yet durable (written or encoded).
            self.encode_padding();
        }
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            let commit_ts = std::mem::replace(&mut self.pending_ts, 0);
            let pages: Vec<(PageId, &[u8; PAGE_SIZE])> =
                pending.iter().map(|(id, p)| (*id, &**p)).collect();
            self.encode(&pages, commit_ts);
        }
        if self.encoded.is_empty() {
            return None;
        }
        let at = self.encoded_at;
        let mut buf = std::mem::take(&mut self.encoded);
        let gaps = std::mem::take(&mut self.encoded_gaps);
        self.encoded_at = self.end;
        if self.end > self.allocated {
            // Whole steps, strictly past the end: the zero-filled tail is written after
            // the last frame, so the file covers that frame's slot even when its own
            // trailing zero run is left out (a write of more than a step otherwise
            // ended at the last non-zero byte, short of the slot).
            let mut target = self.allocated + PREALLOCATE;
            while target <= self.end {
                target += PREALLOCATE;
            }
            buf.resize((target - at) as usize, 0);
            self.allocated = target;
        }
        Some((at, buf, gaps))
    }
}

/// Scans the frame slots from `from` to the end of the log for frames that verify on
/// their own (version 2 checksum) with salt `salt` (any salt when `None`: then the most
/// common one). Returns how many of them are commit frames, and the byte offset just past
/// the last frame with that salt (verified or not).
fn intact_commits_after(all: &[u8], from: usize, salt: Option<u64>) -> (u64, usize) {
    let mut counts: HashMap<u64, u64> = HashMap::new();
    let mut at = from;
    let mut found = Vec::new();
    while at + FRAME_SIZE as usize <= all.len() {
        let fh = &all[at..at + FRAME_HEADER];
        let frame_salt = get_u64(fh, 16);
        let intact = frame_salt != 0 && self_verifies(all, at);
        if intact {
            found.push((frame_salt, get_u64(fh, 8) != 0));
            *counts.entry(frame_salt).or_default() += 1;
        }
        at += FRAME_SIZE as usize;
    }
    let salt = match salt {
        Some(s) => s,
        None => match counts.into_iter().max_by_key(|(_, n)| *n) {
            Some((s, _)) => s,
            None => return (0, from),
        },
    };
    let commits = found.iter().filter(|(s, c)| *s == salt && *c).count() as u64;
    let mut cut = from;
    let mut at = from;
    while at + FRAME_HEADER <= all.len() {
        if get_u64(all, at + 16) == salt {
            cut = at + FRAME_SIZE as usize;
        }
        at += FRAME_SIZE as usize;
    }
    (commits, cut)
}

/// Encoded frames for a leader: where they go, the bytes (with the zero-filled space
/// that grows the file), and the zero runs not to write.
type Batch = (u64, Vec<u8>, Vec<(usize, usize)>);

/// Writes `bytes` at `at` except the ranges in `gaps` (ascending, disjoint): one write per
/// stretch between them.
fn write_skipping(
    storage: &dyn Storage,
    at: u64,
    bytes: &[u8],
    gaps: &[(usize, usize)],
) -> std::io::Result<()> {
    let mut from = 0;
    for &(start, end) in gaps {
        if start > from {
            storage.write_at(&bytes[from..start], at + from as u64)?;
        }
        from = from.max(end);
    }
    if from < bytes.len() {
        storage.write_at(&bytes[from..], at + from as u64)?;
    }
    Ok(())
}

/// Replays the version 4 records of `all` into `st` (whose salt and header checksum are
/// set): every whole transaction, in order, up to the first record that does not verify
/// or chain, is malformed, or changes a page that has no image before it. A page whose
/// newest entry is a whole image is left in the file; one changed by later entries is
/// rebuilt in memory.
fn replay_records(all: &[u8], st: &mut LogState, report: &mut RecoveryReport) {
    let mut at = WAL_HEADER as usize;
    let mut crc = st.last_crc;
    let mut pending: Vec<Entry> = Vec::new();
    let mut pending_frames = 0u64;
    while let Some(rec) = record_at(all, at, st.salt) {
        let chained = record_chain(all, at, &rec, crc);
        if chained != rec.chained {
            break;
        }
        if rec.entries == 0 && rec.commit_ts == 0 && pending.is_empty() {
            // Padding after a synced batch (its body is zeros, under the checksums):
            // nothing to replay, and the log's end is after it.
            crc = chained;
            at += rec.total;
            st.end = at as u64;
            st.last_crc = crc;
            continue;
        }
        let Some(entries) = record_entries(all, at + RECORD_HEADER, &rec) else {
            break;
        };
        crc = chained;
        at += rec.total;
        pending_frames += u64::from(rec.entries);
        pending.extend(entries);
        if rec.commit_ts == 0 {
            continue;
        }
        // A whole transaction: every change must have an image before it.
        let mut known: std::collections::HashSet<PageId> = std::collections::HashSet::new();
        let based = pending.iter().all(|e| {
            let ok =
                e.kind == ENTRY_IMAGE || known.contains(&e.id) || st.images.contains_key(&e.id);
            known.insert(e.id);
            ok
        });
        if !based {
            break;
        }
        for e in pending.drain(..) {
            let bytes = &all[e.at..e.at + e.len];
            if e.kind == ENTRY_IMAGE {
                let entry = FileEntry {
                    at: e.at as u64,
                    len: e.len as u32,
                    ranges: e.ranges,
                };
                st.images.insert(e.id, Image::File(entry));
                continue;
            }
            let mut page = match st.images.remove(&e.id) {
                Some(Image::Mem(p)) => p,
                Some(Image::File(f)) => {
                    let from = f.at as usize;
                    // Checked when its record was read.
                    decode_image(&all[from..from + f.len as usize], f.ranges)
                        .unwrap_or_else(|| Box::new([0u8; PAGE_SIZE]))
                }
                None => Box::new([0u8; PAGE_SIZE]),
            };
            // Well formed: checked by `record_entries`.
            let _ = apply_ranges(&mut page, bytes, e.ranges);
            st.images.insert(e.id, Image::Mem(page));
        }
        report.transactions_replayed += 1;
        report.frames_replayed += pending_frames;
        st.frames += pending_frames;
        pending_frames = 0;
        st.end = at as u64;
        st.last_crc = crc;
    }
}

/// Drops what lies between the end of the committed prefix (`end`) and `cut`: reports
/// it (committed transactions past a damaged frame or record, or a torn tail), refuses
/// under strict recovery when commits would be lost, and otherwise zeroes those bytes,
/// keeping the file's length (preallocated space), so none of them can ever be chained
/// onto later frames or records.
fn drop_tail(
    storage: &dyn Storage,
    report: &mut RecoveryReport,
    end: usize,
    cut: usize,
    commits: u64,
    strict: bool,
) -> Result<()> {
    if cut <= end {
        return Ok(());
    }
    report.dropped_bytes = (cut - end) as u64;
    report.dropped_transactions = commits;
    report.end = if commits > 0 {
        LogEnd::DamagedFrame { offset: end as u64 }
    } else {
        LogEnd::TornTail { offset: end as u64 }
    };
    if strict && commits > 0 {
        return Err(strict_refusal(report));
    }
    storage.write_at(&vec![0u8; cut - end], end as u64)?;
    storage.sync()?;
    Ok(())
}

fn strict_refusal(report: &RecoveryReport) -> GraphError {
    GraphError::corrupt(
        format!(
            "strict recovery refused to open: {} committed transactions ({} bytes) lie past \
             the point where the log stops verifying ({}); nothing was changed, so the \
             files can be salvaged first",
            report.dropped_transactions, report.dropped_bytes, report.end
        ),
        None,
    )
}

impl LogShared {
    fn lock(&self) -> Result<MutexGuard<'_, LogState>> {
        self.state.lock().map_err(|_| poisoned())
    }

    /// Whether a write or sync of the log failed.
    pub(crate) fn has_failed(&self) -> bool {
        self.state.lock().map_or(true, |s| s.failed)
    }

    /// Returns once every commit appended before the call is in the file (`durable`:
    /// and synced). The first caller to find no leader running leads: it encodes all
    /// pending commits as one log transaction, writes it and syncs once; callers that
    /// arrive meanwhile wait and usually find themselves covered.
    pub(crate) fn settle(&self, durable: bool) -> Result<()> {
        let mut st = self.lock()?;
        let target = st.issued;
        loop {
            if st.failed {
                return Err(failed());
            }
            let reached = if durable { st.durable } else { st.written };
            if reached >= target {
                return Ok(());
            }
            if st.busy {
                st = self.done.wait(st).map_err(|_| poisoned())?;
                continue;
            }
            st.busy = true;
            let upto = st.issued;
            let batch = st
                .take_batch(durable)
                .map(|(at, bytes, gaps)| (at, Arc::new(bytes), gaps));
            st.in_flight = batch
                .as_ref()
                .map(|(at, bytes, _)| (*at, Arc::clone(bytes)));
            drop(st);
            let mut outcome = match &batch {
                Some((at, bytes, gaps)) => write_skipping(&*self.storage, *at, bytes, gaps),
                None => Ok(()),
            };
            if outcome.is_ok() && durable {
                outcome = self.storage.sync();
            }
            st = self.lock()?;
            st.in_flight = None;
            st.busy = false;
            let result = match outcome {
                Ok(()) => {
                    st.written = st.written.max(upto);
                    if durable {
                        st.durable = st.durable.max(upto);
                    }
                    // `upto` covers this caller's own target.
                    Ok(())
                }
                Err(e) => {
                    st.failed = true;
                    Err(e.into())
                }
            };
            // Wake the waiters after releasing the mutex, so that they do not wake only
            // to block on it while the leader still holds it.
            drop(st);
            self.done.notify_all();
            return result;
        }
    }
}

impl Wal {
    /// Opens the log and recovers its committed prefix.
    ///
    /// An empty or all-zero log is a fresh one. A log whose header is damaged is dropped
    /// only when no intact commit frame follows it (nothing committed is lost); otherwise,
    /// like a damaged frame followed by intact commits, the report says how many committed
    /// transactions are dropped, and `strict` refuses to drop them: the open fails and the
    /// file is left as it was.
    ///
    /// `write_version` is the format new log generations are written in
    /// ([`LOG_FORMAT_VERSION`] or [`PAGE_IMAGE_LOG_VERSION`]); a log found in another
    /// format is replayed, and the pager folds it into the main file before anything is
    /// appended.
    pub(crate) fn open(
        storage: Arc<dyn Storage>,
        strict: bool,
        write_version: u32,
    ) -> Result<(Wal, RecoveryReport)> {
        let len = storage.len()?;
        let mut all = vec![0u8; len as usize];
        storage.read_at(&mut all, 0)?;
        let mut st = LogState::new(len, write_version);
        let mut report = RecoveryReport::default();
        let magic_ok = all.len() >= WAL_HEADER as usize && &all[0..8] == WAL_MAGIC;
        let header_ok = magic_ok
            && get_u32(&all, 12) == PAGE_SIZE as u32
            && get_u32(&all, 24) == crc32fast::hash(&all[0..24]);
        let version = if header_ok { get_u32(&all, 8) } else { 0 };
        if header_ok && !(OLDEST_LOG_VERSION..=LOG_FORMAT_VERSION).contains(&version) {
            return Err(GraphError::corrupt(
                format!(
                    "the log has format version {version}; this build reads versions \
                     {OLDEST_LOG_VERSION} to {LOG_FORMAT_VERSION}"
                ),
                None,
            ));
        }
        if !header_ok {
            if all.iter().any(|b| *b != 0) {
                // Without the header there is no salt to chain from. Count the commit
                // frames (or version 4 records) that verify on their own: those are
                // committed transactions.
                let (frames, _) = intact_commits_after(&all, WAL_HEADER as usize, None);
                let commits = frames.max(intact_records_any_salt(&all));
                report.end = LogEnd::DamagedHeader;
                report.dropped_bytes = len;
                report.dropped_transactions = commits;
                if strict && commits > 0 {
                    return Err(strict_refusal(&report));
                }
            }
            st.reset(&*storage, true)?;
        } else if version >= 4 {
            report.log_version = version;
            st.version = version;
            st.salt = get_u64(&all, 16);
            st.last_crc = get_u32(&all, 24);
            replay_records(&all, &mut st, &mut report);
            let end = st.end as usize;
            let (commits, cut) = records_after(&all, end, st.salt);
            drop_tail(
                &*storage,
                &mut report,
                end,
                cut.min(all.len()),
                commits,
                strict,
            )?;
            if version != write_version && st.frames == 0 {
                st.reset(&*storage, true)?;
            }
        } else {
            report.log_version = version;
            st.version = version;
            st.salt = get_u64(&all, 16);
            st.last_crc = get_u32(&all, 24);
            let v2 = version >= 2;
            let mut at = WAL_HEADER as usize;
            let mut crc = st.last_crc;
            let mut pending: Vec<(PageId, u64)> = Vec::new();
            while at + FRAME_SIZE as usize <= all.len() {
                let fh = &all[at..at + FRAME_HEADER];
                let slot = &all[at + FRAME_HEADER..at + FRAME_SIZE as usize];
                if get_u64(fh, 16) != st.salt {
                    break;
                }
                let Some(page) = slot_image(fh, slot) else {
                    break;
                };
                let c = frame_crc(crc, fh, &page);
                if c != get_u32(fh, 24) || (v2 && frame_self_crc(fh, &page) != get_u32(fh, 28)) {
                    break;
                }
                crc = c;
                pending.push((frame_page(fh), (at + FRAME_HEADER) as u64));
                at += FRAME_SIZE as usize;
                if get_u64(fh, 8) != 0 {
                    // A commit frame: everything up to here is one whole log transaction.
                    report.transactions_replayed += 1;
                    report.frames_replayed += pending.len() as u64;
                    st.frames += pending.len() as u64;
                    for (id, off) in pending.drain(..) {
                        st.index.insert(id, off);
                    }
                    st.end = at as u64;
                    st.last_crc = crc;
                }
            }
            // What lies after the committed prefix: intact commit frames of this
            // generation mean committed data is being dropped (a damaged frame before
            // them); anything else of this generation is a torn or unfinished commit.
            // Frames of an older generation (another salt, verifying on their own) and
            // zeros are preallocated space, not damage.
            let end = st.end as usize;
            let (commits, cut) = if v2 {
                intact_commits_after(&all, end, Some(st.salt))
            } else {
                (0, end)
            };
            let mut cut = cut.max(end);
            if v2 && end + FRAME_SIZE as usize <= all.len() {
                // A slot right after the prefix that is neither zeros nor a frame that
                // verifies on its own (a stale one of an older generation) is a torn or
                // damaged frame, whatever its salt field now says.
                let zero = all[end..end + FRAME_SIZE as usize].iter().all(|b| *b == 0);
                if !zero && !self_verifies(&all, end) {
                    cut = cut.max(end + FRAME_SIZE as usize);
                }
            }
            // Version 1 frames cannot be verified alone: drop this generation's tail.
            let mut c = cut;
            while c + FRAME_HEADER <= all.len() && get_u64(&all, c + 16) == st.salt {
                c += FRAME_SIZE as usize;
            }
            cut = cut.max(c);
            if cut == end && all.len() > end && all.len() < end + FRAME_HEADER {
                cut = all.len();
            }
            drop_tail(
                &*storage,
                &mut report,
                end,
                cut.min(all.len()),
                commits,
                strict,
            )?;
            if version != write_version && st.frames == 0 {
                // Nothing to replay: start a generation in the format this handle writes.
                st.reset(&*storage, true)?;
            }
        }
        let shared = Arc::new(LogShared {
            storage,
            state: Mutex::new(st),
            done: Condvar::new(),
        });
        Ok((Wal { shared }, report))
    }

    /// Whether the log holds frames in another format than the one this handle writes
    /// (they must be folded into the main file before anything is appended).
    pub(crate) fn is_old_format(&self) -> bool {
        self.shared
            .lock()
            .is_ok_and(|st| st.version != st.write_version && st.frames > 0)
    }

    /// Starts the next log generation in format `version` ([`LOG_FORMAT_VERSION`] or
    /// [`PAGE_IMAGE_LOG_VERSION`]). The log must hold no frames (checkpoint first).
    pub(crate) fn set_format(&mut self, version: u32) -> Result<()> {
        if version != LOG_FORMAT_VERSION && version != PAGE_IMAGE_LOG_VERSION {
            return Err(GraphError::InvalidArgument(format!(
                "log format {version} cannot be written; this build writes versions \
                 {PAGE_IMAGE_LOG_VERSION} and {LOG_FORMAT_VERSION}"
            )));
        }
        {
            let mut st = self.shared.lock()?;
            if st.frames > 0 || !st.pending.is_empty() || !st.encoded.is_empty() {
                return Err(GraphError::InvalidArgument(
                    "the log format changes only when the log is empty".into(),
                ));
            }
            st.write_version = version;
        }
        self.reset(false)
    }

    /// The state shared with group-commit handles.
    pub(crate) fn shared(&self) -> &Arc<LogShared> {
        &self.shared
    }

    /// Whether the log file's allocated space is past what a shrinking reset keeps.
    pub(crate) fn holds_more_than_kept(&self) -> Result<bool> {
        Ok(self.shared.lock()?.allocated > LOG_KEEP)
    }

    /// Starts a new, empty log generation with a new salt. Only called when the main file
    /// already holds (synced) everything the old log held.
    /// With `shrink`, a log larger than [`LOG_KEEP`] is cut back to it.
    pub(crate) fn reset(&mut self, shrink: bool) -> Result<()> {
        let mut st = self.shared.lock()?;
        // Under exclusive access to the engine nothing new is appended, but a leader
        // that started before may still be finishing.
        while st.busy {
            st = self.shared.done.wait(st).map_err(|_| poisoned())?;
        }
        if !st.pending.is_empty() || !st.encoded.is_empty() {
            return Err(GraphError::InvalidArgument(
                "log reset with commits not yet written".into(),
            ));
        }
        let result = st.reset(&*self.shared.storage, shrink);
        if result.is_err() {
            // The new header may or may not be on disk: frames chained to either salt
            // could be lost, so nothing more is appended to this log.
            st.failed = true;
        }
        result
    }

    /// Appends one transaction's pages, the last carrying the commit, to the pending
    /// commits (in memory). [`LogShared::settle`] writes them; until then reads of these
    /// pages are answered from memory. Returns the commit's number in the log.
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
        let mut st = self.shared.lock()?;
        if st.failed {
            return Err(failed());
        }
        st.issued += 1;
        if st.version >= 4
            || st.pending.is_empty() && st.encoded.is_empty()
            || st.spill_mark.is_some()
        {
            // With spilled frames before it the commit must be encoded right after them
            // (they were written with nothing waiting, and nothing was appended since).
            // Nothing to merge with: encode now, as a lone commit always was. Version 4
            // always encodes at once: a record holds only what changed, so merging
            // commits saves little, and a page's next entry needs this one's image.
            st.encode(pages, commit_ts);
            return Ok(st.issued);
        }
        for (id, page) in pages {
            match st.pending.get_mut(id) {
                Some(p) => p.copy_from_slice(&page[..]),
                None => {
                    st.pending.insert(*id, Box::new(**page));
                }
            }
        }
        st.pending_ts = st.pending_ts.max(commit_ts);
        Ok(st.issued)
    }

    /// Writes pages of the commit being built to the file now, as frames without a commit
    /// marker, so that a commit larger than memory need not hold them (a bulk import).
    /// The commit that follows ([`append_commit`](Self::append_commit)) ends their log
    /// transaction; until then nobody but [`read_spilled`](Self::read_spilled) sees them,
    /// and recovery drops them as an unfinished commit. Not synced.
    pub(crate) fn append_spilled(&mut self, pages: &[(PageId, &[u8; PAGE_SIZE])]) -> Result<()> {
        if pages.is_empty() {
            return Ok(());
        }
        // Earlier commits go first, whole: the spilled frames chain after them.
        self.shared.settle(false)?;
        let mut st = self.shared.lock()?;
        while st.busy {
            st = self.shared.done.wait(st).map_err(|_| poisoned())?;
        }
        if st.failed {
            return Err(failed());
        }
        if !st.pending.is_empty() || !st.encoded.is_empty() {
            return Err(GraphError::InvalidArgument(
                "spilling pages while other commits wait to be written".into(),
            ));
        }
        if st.spill_mark.is_none() {
            st.spill_mark = Some((st.end, st.last_crc, st.frames));
        }
        if st.version >= 4 {
            st.encode_records(pages, 0, true);
        } else {
            st.encode_frames(pages, 0, true);
        }
        let Some((at, bytes, gaps)) = st.take_batch(false) else {
            return Ok(());
        };
        st.busy = true;
        drop(st);
        let outcome = write_skipping(&*self.shared.storage, at, &bytes, &gaps);
        let mut st = self.shared.lock()?;
        st.busy = false;
        if outcome.is_err() {
            st.failed = true;
        }
        drop(st);
        self.shared.done.notify_all();
        outcome.map_err(GraphError::from)
    }

    /// The newest spilled image of `id` (see [`append_spilled`](Self::append_spilled));
    /// false if it has none.
    pub(crate) fn read_spilled(&self, id: PageId, buf: &mut [u8; PAGE_SIZE]) -> Result<bool> {
        let st = self.shared.lock()?;
        if st.version >= 4 {
            let Some(entry) = st.spilled_entries.get(&id).copied() else {
                return Ok(false);
            };
            drop(st);
            self.read_entry(id, entry, buf)?;
            return Ok(true);
        }
        let Some(&off) = st.spilled.get(&id) else {
            return Ok(false);
        };
        // The whole slot: its header says which zero run the writer left out.
        let mut slot = vec![0u8; FRAME_SIZE as usize];
        let start = off
            .checked_sub(FRAME_HEADER as u64)
            .ok_or_else(|| GraphError::corrupt("spilled frame inside the log header", None))?;
        self.shared.storage.read_at(&mut slot, start)?;
        let (fh, image) = slot.split_at(FRAME_HEADER);
        let page = slot_image(fh, image).ok_or_else(|| {
            GraphError::corrupt(
                format!("spilled frame of page {id} names a zero run outside the page"),
                Some(id),
            )
        })?;
        buf.copy_from_slice(&page);
        Ok(true)
    }

    /// Forgets the spilled frames of an abandoned commit: the next frames overwrite them
    /// (recovery never replays them: no commit frame ends their log transaction, and the
    /// frames written over them break the checksum chain).
    pub(crate) fn discard_spilled(&mut self) {
        if let Ok(mut st) = self.shared.lock() {
            st.spilled.clear();
            st.spilled_entries.clear();
            if let Some((end, crc, frames)) = st.spill_mark.take() {
                st.end = end;
                st.encoded_at = end;
                st.last_crc = crc;
                st.frames = frames;
            }
        }
    }

    /// Writes and syncs every pending commit (see [`LogShared::settle`]).
    pub(crate) fn sync(&self) -> Result<()> {
        self.shared.settle(true)
    }

    /// Reads the newest committed image of `id` into `buf`; false if the log has none.
    /// A page of a pending commit comes from memory, one being written from the leader's
    /// buffer; the file read happens under the state lock, so no leader can be
    /// overwriting the frame meanwhile.
    pub(crate) fn read_page(&self, id: PageId, buf: &mut [u8; PAGE_SIZE]) -> Result<bool> {
        let st = self.shared.lock()?;
        if st.version >= 4 {
            let entry = match st.images.get(&id) {
                None => return Ok(false),
                Some(Image::Mem(p)) => {
                    buf.copy_from_slice(&p[..]);
                    return Ok(true);
                }
                Some(Image::File(entry)) => *entry,
            };
            // An image entry in the file is never rewritten while its generation lasts
            // (a reset comes only under exclusive access to the engine).
            drop(st);
            self.read_entry(id, entry, buf)?;
            return Ok(true);
        }
        if let Some(p) = st.pending.get(&id) {
            buf.copy_from_slice(&p[..]);
            return Ok(true);
        }
        let Some(&off) = st.index.get(&id) else {
            return Ok(false);
        };
        let waiting = (st.encoded_at, &st.encoded);
        for (at, bytes) in st
            .in_flight
            .iter()
            .map(|(a, b)| (*a, &**b))
            .chain([waiting])
        {
            if off >= at && off + PAGE_SIZE as u64 <= at + bytes.len() as u64 {
                let from = (off - at) as usize;
                buf.copy_from_slice(&bytes[from..from + PAGE_SIZE]);
                return Ok(true);
            }
        }
        // The slot with its header, which says which zero run the writer left out (the
        // file holds stale bytes there).
        let mut slot = vec![0u8; FRAME_SIZE as usize];
        let start = off
            .checked_sub(FRAME_HEADER as u64)
            .ok_or_else(|| GraphError::corrupt("log index points into the log header", None))?;
        self.shared.storage.read_at(&mut slot, start)?;
        let (fh, image) = slot.split_at(FRAME_HEADER);
        let Some(page) = slot_image(fh, image) else {
            return Err(GraphError::corrupt(
                format!("log frame of page {id} names a zero run outside the page"),
                Some(id),
            ));
        };
        buf.copy_from_slice(&page);
        Ok(true)
    }

    /// Reads the image entry `entry` of page `id` from the file.
    fn read_entry(&self, id: PageId, entry: FileEntry, buf: &mut [u8; PAGE_SIZE]) -> Result<()> {
        let mut bytes = vec![0u8; entry.len as usize];
        self.shared.storage.read_at(&mut bytes, entry.at)?;
        buf.fill(0);
        if apply_ranges(buf, &bytes, entry.ranges) != Some(bytes.len()) {
            return Err(GraphError::corrupt(
                format!("log entry of page {id} has malformed ranges"),
                Some(id),
            ));
        }
        Ok(())
    }

    /// The pages whose newest image is in the log (written or pending).
    pub(crate) fn logged_pages(&self) -> Result<Vec<PageId>> {
        let st = self.shared.lock()?;
        let mut ids: Vec<PageId> = st
            .index
            .keys()
            .chain(st.pending.keys())
            .chain(st.images.keys())
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Frames in the log since the last reset, counting pending pages: what
    /// `checkpoint_after_frames` is compared with. In format 4, where a commit's record
    /// is a small fraction of a page, it is the log's size in page-frame units (32 +
    /// 8192 bytes, so the log is folded at the size a page-image log was) or the number
    /// of page images the log holds, whichever is larger (so the images it keeps in
    /// memory stay bounded too).
    pub(crate) fn frames(&self) -> u64 {
        self.shared.lock().map_or(0, |st| {
            if st.version >= 4 {
                let bytes = st.end.saturating_sub(WAL_HEADER);
                bytes.div_ceil(FRAME_SIZE).max(st.images.len() as u64)
            } else {
                st.frames + st.pending.len() as u64
            }
        })
    }

    /// Byte offset just past the last frame encoded so far.
    pub(crate) fn end(&self) -> u64 {
        self.shared.lock().map_or(0, |st| st.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemStorage;

    /// The page-image format, which the tests before version 4 describe.
    const V3: u32 = PAGE_IMAGE_LOG_VERSION;

    fn page(fill: u8) -> Box<[u8; PAGE_SIZE]> {
        Box::new([fill; PAGE_SIZE])
    }

    fn flush(wal: &Wal) {
        wal.shared.settle(false).unwrap();
    }

    /// A commit (or a spill) more than a growth step past the allocated space whose last
    /// page ends in a left-out zero run: the file must still reach the end of that
    /// frame's slot, or reading the page back and recovery would stop short of it.
    #[test]
    fn a_large_write_ending_in_a_zero_run_still_covers_its_last_slot() {
        let mem = MemStorage::new();
        let (mut wal, _) = Wal::open(Arc::new(mem.clone()), false, V3).unwrap();
        let mut pages = Vec::new();
        // Each write is more than two growth steps (1 MiB each) of frames.
        for i in 1..=600u64 {
            let mut p = page(0);
            p[..64].fill(i as u8);
            pages.push((i, p));
        }
        let frames: Vec<(PageId, &[u8; PAGE_SIZE])> =
            pages[..300].iter().map(|(id, p)| (*id, &**p)).collect();
        wal.append_spilled(&frames).unwrap();
        let mut buf = page(9);
        assert!(wal.read_spilled(300, &mut buf).unwrap());
        assert_eq!((buf[0], buf[100]), (44, 0));
        let frames: Vec<(PageId, &[u8; PAGE_SIZE])> =
            pages[300..].iter().map(|(id, p)| (*id, &**p)).collect();
        wal.append_commit(&frames, 1).unwrap();
        wal.sync().unwrap();
        assert!(wal.read_page(600, &mut buf).unwrap());
        assert_eq!((buf[0], buf[100]), (88, 0));
        let (wal2, rec) = Wal::open(Arc::new(mem.crash_image(0, None)), false, V3).unwrap();
        assert_eq!((rec.transactions_replayed, rec.frames_replayed), (1, 600));
        assert!(wal2.read_page(600, &mut buf).unwrap());
        assert_eq!(buf[0], 88);
    }

    #[test]
    fn recovery_keeps_committed_and_drops_torn_tail() {
        let mem = MemStorage::new();
        let (mut wal, _) = Wal::open(Arc::new(mem.clone()), false, V3).unwrap();
        let (a, b) = (page(1), page(2));
        wal.append_commit(&[(1, &a), (2, &b)], 1).unwrap();
        wal.sync().unwrap();
        let c = page(3);
        wal.append_commit(&[(1, &c)], 2).unwrap();
        flush(&wal);
        // The second commit was never synced and only half of it reached the disk.
        let crashed = mem.crash_image(1, Some(FRAME_SIZE as usize / 2));
        let (wal2, rec) = Wal::open(Arc::new(crashed), false, V3).unwrap();
        assert_eq!(rec.transactions_replayed, 1);
        assert!(rec.dropped_bytes > 0);
        let mut buf = page(0);
        assert!(wal2.read_page(1, &mut buf).unwrap());
        assert_eq!(buf[0], 1);
        // With the whole write on disk both commits are back.
        let (wal3, rec) = Wal::open(Arc::new(mem.crash_image(1, None)), false, V3).unwrap();
        assert_eq!(rec.transactions_replayed, 2);
        assert!(wal3.read_page(1, &mut buf).unwrap());
        assert_eq!(buf[0], 3);
    }

    #[test]
    fn pending_commits_are_read_from_memory_and_merged_into_one_write() {
        let mem = MemStorage::new();
        let (mut wal, _) = Wal::open(Arc::new(mem.clone()), false, V3).unwrap();
        let syncs = mem.sync_count();
        let ops = mem.unsynced_ops();
        for ts in 1..=5u8 {
            // Every commit rewrites page 1 and adds a page of its own.
            wal.append_commit(
                &[(1, &page(ts)), (10 + u64::from(ts), &page(ts))],
                u64::from(ts),
            )
            .unwrap();
        }
        // Nothing reached the file, yet every page reads back.
        assert_eq!(mem.unsynced_ops(), ops);
        let mut buf = page(0);
        assert!(wal.read_page(1, &mut buf).unwrap());
        assert_eq!(buf[0], 5);
        assert!(wal.read_page(12, &mut buf).unwrap());
        assert_eq!(buf[0], 2);
        assert!(!wal.read_page(99, &mut buf).unwrap());
        // The first commit found nothing waiting and was encoded at once (2 frames); the
        // four after it merged, page 1 once (5 frames).
        assert_eq!(wal.frames(), 7);
        // One write and one sync for all five.
        wal.sync().unwrap();
        wal.sync().unwrap();
        assert_eq!(mem.sync_count() - syncs, 1);
        let (wal2, rec) = Wal::open(Arc::new(mem.crash_image(0, None)), false, V3).unwrap();
        assert_eq!((rec.transactions_replayed, rec.frames_replayed), (2, 7));
        assert!(wal2.read_page(1, &mut buf).unwrap());
        assert_eq!(buf[0], 5);
        assert!(wal2.read_page(15, &mut buf).unwrap());
        assert_eq!(buf[0], 5);
        // A batch torn inside its first log transaction loses all of it, never part.
        wal.append_commit(&[(1, &page(6)), (20, &page(6))], 6)
            .unwrap();
        wal.append_commit(&[(21, &page(7))], 7).unwrap();
        assert!(wal.read_page(20, &mut buf).unwrap() && buf[0] == 6);
        flush(&wal);
        let (wal3, rec) = Wal::open(
            Arc::new(mem.crash_image(1, Some(FRAME_SIZE as usize))),
            false,
            V3,
        )
        .unwrap();
        assert_eq!(rec.transactions_replayed, 2);
        assert!(!wal3.read_page(20, &mut buf).unwrap());
        assert!(!wal3.read_page(21, &mut buf).unwrap());
        assert!(wal3.read_page(1, &mut buf).unwrap());
        assert_eq!(buf[0], 5);
    }

    #[test]
    fn concurrent_syncs_share_one_fsync_and_failure_is_sticky() {
        #[derive(Debug)]
        struct Slow(MemStorage, std::sync::atomic::AtomicBool);
        impl Storage for Slow {
            fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
                self.0.read_at(buf, offset)
            }
            fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
                self.0.write_at(buf, offset)
            }
            fn len(&self) -> std::io::Result<u64> {
                self.0.len()
            }
            fn set_len(&self, len: u64) -> std::io::Result<()> {
                self.0.set_len(len)
            }
            fn sync(&self) -> std::io::Result<()> {
                if self.1.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err(std::io::Error::other("disk gone"));
                }
                // Slow enough that other threads queue behind it.
                std::thread::sleep(std::time::Duration::from_millis(2));
                self.0.sync()
            }
        }
        let mem = MemStorage::new();
        let slow = Arc::new(Slow(mem.clone(), false.into()));
        let (wal, _) = Wal::open(slow.clone(), false, V3).unwrap();
        let wal = std::sync::Mutex::new(wal);
        let shared = Arc::clone(wal.lock().unwrap().shared());
        let base = mem.sync_count();
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let (wal, shared) = (&wal, &shared);
                s.spawn(move || {
                    for i in 0..10u64 {
                        let ts = t * 10 + i + 1;
                        // Appends go one at a time (the engine's write lock); syncs
                        // run with no lock held, as a concurrent layer runs them.
                        wal.lock()
                            .unwrap()
                            .append_commit(&[(ts, &page(t as u8 + 1))], ts)
                            .unwrap();
                        shared.settle(true).unwrap();
                    }
                });
            }
        });
        // Every commit is durable, and waiting committers shared fsyncs.
        let (wal2, _) = Wal::open(Arc::new(mem.crash_image(0, None)), false, V3).unwrap();
        let mut buf = page(0);
        for ts in 1..=80u64 {
            assert!(wal2.read_page(ts, &mut buf).unwrap(), "page {ts} lost");
        }
        assert!(
            mem.sync_count() - base < 80,
            "{} syncs",
            mem.sync_count() - base
        );
        slow.1.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut wal = wal.into_inner().unwrap();
        wal.append_commit(&[(100, &page(9))], 100).unwrap();
        assert!(wal.sync().is_err());
        assert!(shared.has_failed());
        slow.1.store(false, std::sync::atomic::Ordering::SeqCst);
        // Once failed, always failed: the kernel may have dropped the pages.
        assert!(wal.sync().is_err());
        assert!(wal.append_commit(&[(101, &page(9))], 101).is_err());
    }

    /// A page with data at both ends and a long zero run between, like a records page.
    fn sparse_page(fill: u8) -> Box<[u8; PAGE_SIZE]> {
        let mut p = page(0);
        p[..1024].fill(fill);
        p[PAGE_SIZE - 512..].fill(fill.wrapping_add(1));
        p
    }

    /// Format 3 leaves a page's zero run out of the file. Over a slot that still holds
    /// an older generation's bytes, the run reads back as zeros from the file (after the
    /// in-memory copies are gone) and after recovery; a damaged run field is a damaged
    /// frame, never a panic or a wrong page.
    #[test]
    fn a_left_out_zero_run_reads_back_as_zeros_over_stale_bytes() {
        let mem = MemStorage::new();
        let (mut wal, _) = Wal::open(Arc::new(mem.clone()), false, V3).unwrap();
        // Fill the first slots with non-zero bytes, then start a new generation over them.
        let full = page(0xAB);
        wal.append_commit(&[(1, &full), (2, &full)], 1).unwrap();
        wal.sync().unwrap();
        wal.reset(false).unwrap();
        let (a, b) = (sparse_page(3), sparse_page(7));
        wal.append_commit(&[(1, &a), (2, &b)], 2).unwrap();
        wal.sync().unwrap();
        let bytes = mem.snapshot();
        let slot = WAL_HEADER as usize + FRAME_HEADER;
        assert_eq!(bytes[slot + 2048], 0xAB, "the run was not written");
        assert!(frame_gap(&bytes[WAL_HEADER as usize..]).is_some_and(|g| g.len() >= 4096));
        let mut buf = page(0);
        assert!(wal.read_page(1, &mut buf).unwrap());
        assert_eq!(buf[..], a[..]);
        let (wal2, rec) = Wal::open(Arc::new(mem.clone()), false, V3).unwrap();
        assert_eq!((rec.transactions_replayed, rec.end), (1, LogEnd::Clean));
        assert!(wal2.read_page(2, &mut buf).unwrap());
        assert_eq!(buf[..], b[..]);
        // Every value of the run field of the first frame: recovery never panics, and
        // whatever it replays reads back as the page that was written.
        for bit in PAGE_ID_BITS..64 {
            let mut bad = bytes.clone();
            let at = WAL_HEADER as usize + bit as usize / 8;
            bad[at] ^= 1 << (bit % 8);
            let m = MemStorage::new();
            m.overwrite(bad);
            let (w, rec) = Wal::open(Arc::new(m), false, V3).unwrap();
            assert_eq!(rec.transactions_replayed, 0, "bit {bit}");
            assert!(!w.read_page(1, &mut buf).unwrap());
        }
    }

    #[test]
    fn reset_reuses_space_and_old_frames_never_return() {
        let mem = MemStorage::new();
        let (mut wal, _) = Wal::open(Arc::new(mem.clone()), false, V3).unwrap();
        let a = page(1);
        wal.append_commit(&[(1, &a), (2, &a)], 1).unwrap();
        wal.sync().unwrap();
        let len = mem.len().unwrap();
        assert!(len >= PREALLOCATE);
        wal.reset(true).unwrap();
        assert_eq!(mem.len().unwrap(), len, "reset keeps the allocated space");
        let (wal2, rec) = Wal::open(Arc::new(mem.clone()), false, V3).unwrap();
        assert_eq!((rec.transactions_replayed, wal2.frames()), (0, 0));
        // An uncommitted frame of the current generation is zeroed by recovery.
        let (mut wal3, _) = Wal::open(Arc::new(mem.clone()), false, V3).unwrap();
        wal3.append_commit(&[(3, &a)], 2).unwrap();
        flush(&wal3);
        let mut bytes = mem.snapshot();
        let commit_field = (WAL_HEADER + 8) as usize;
        bytes[commit_field..commit_field + 8].fill(0);
        mem.overwrite(bytes);
        let (_, rec) = Wal::open(Arc::new(mem.clone()), false, V3).unwrap();
        assert_eq!(
            (rec.transactions_replayed, rec.dropped_bytes),
            (0, FRAME_SIZE)
        );
        assert!(mem.snapshot()[WAL_HEADER as usize..]
            .iter()
            .take(FRAME_SIZE as usize)
            .all(|b| *b == 0));
    }

    /// A page like the engine's: a header word, data at the front and at the back.
    fn records_page(seed: u8, front: usize, back: usize) -> Box<[u8; PAGE_SIZE]> {
        let mut p = page(0);
        p[4] = 5;
        for (i, b) in p[16..16 + front].iter_mut().enumerate() {
            *b = seed.wrapping_add(i as u8) | 1;
        }
        for (i, b) in p[PAGE_SIZE - back..].iter_mut().enumerate() {
            *b = seed.wrapping_mul(3).wrapping_add(i as u8) | 1;
        }
        p
    }

    /// The pages a commit left: (page id, image).
    type State = Vec<(PageId, Box<[u8; PAGE_SIZE]>)>;

    /// Version 4: each commit logs only the ranges it changed, in one record; the log
    /// ends of the commits, and the pages each one left.
    fn v4_history(mem: &MemStorage) -> (Vec<u64>, Vec<State>) {
        let (mut wal, _) = Wal::open(Arc::new(mem.clone()), false, LOG_FORMAT_VERSION).unwrap();
        let mut ends = vec![wal.end()];
        let mut states = vec![Vec::new()];
        for ts in 1..=12u64 {
            // Page 1 grows at both ends each commit; page 2 is rewritten every third;
            // page 3 appears at commit 5.
            let t = ts as usize;
            let mut pages = vec![(1, records_page(1, 40 * t, 24 * t))];
            if ts % 3 == 0 {
                pages.push((2, records_page(ts as u8, 100, 0)));
            }
            if ts == 5 {
                pages.push((3, records_page(0x5A, 64, 8)));
            }
            let frames: Vec<(PageId, &[u8; PAGE_SIZE])> =
                pages.iter().map(|(id, p)| (*id, &**p)).collect();
            wal.append_commit(&frames, ts).unwrap();
            flush(&wal);
            ends.push(wal.end());
            let mut state: State = states.last().unwrap().clone();
            for (id, p) in pages {
                state.retain(|(i, _)| *i != id);
                state.push((id, p));
            }
            states.push(state);
        }
        (ends, states)
    }

    fn assert_state(wal: &Wal, state: &[(PageId, Box<[u8; PAGE_SIZE]>)], what: &str) {
        let mut buf = page(0);
        for (id, p) in state {
            assert!(
                wal.read_page(*id, &mut buf).unwrap(),
                "{what}: page {id} missing"
            );
            assert!(buf[..] == p[..], "{what}: page {id} differs");
        }
        for id in 1..=3 {
            if !state.iter().any(|(i, _)| *i == id) {
                assert!(
                    !wal.read_page(id, &mut buf).unwrap(),
                    "{what}: page {id} early"
                );
            }
        }
    }

    #[test]
    fn a_version_4_commit_logs_only_the_ranges_it_changed() {
        let mem = MemStorage::new();
        let (ends, states) = v4_history(&mem);
        // The first commit holds page 1's image (its non-zero ranges only); every later
        // one changes a few hundred bytes of it, one record each.
        assert!(
            ends[1] - ends[0] < 200,
            "first commit {} bytes",
            ends[1] - ends[0]
        );
        for w in ends[1..].windows(2) {
            assert!(w[1] - w[0] < 600, "a commit took {} bytes", w[1] - w[0]);
        }
        let (wal, rec) = Wal::open(Arc::new(mem.clone()), false, LOG_FORMAT_VERSION).unwrap();
        assert_eq!(
            (rec.transactions_replayed, rec.end, rec.log_version),
            (12, LogEnd::Clean, 4)
        );
        assert_state(&wal, states.last().unwrap(), "reopened");
    }

    /// The log `full` with bytes `cut..to` set to `fill` and the rest up to the end zeroed.
    fn m_bytes(full: &[u8], cut: usize, to: usize, fill: u8) -> Vec<u8> {
        let mut bytes = full.to_vec();
        bytes[cut..to].fill(fill);
        bytes[to..].fill(0);
        bytes
    }

    /// Kill at every point: the log cut at every byte offset, with zeros (preallocated
    /// space) or garbage after the cut, recovers exactly the transactions wholly before
    /// it, with every page as that commit left it, and never reports lost commits.
    #[test]
    fn a_version_4_log_cut_anywhere_recovers_the_whole_transactions_before_the_cut() {
        let mem = MemStorage::new();
        let (ends, states) = v4_history(&mem);
        let full = mem.snapshot();
        let last = *ends.last().unwrap() as usize;
        for cut in (WAL_HEADER as usize..=last).step_by(3).chain([last]) {
            for fill in [0u8, 0x77] {
                let to = (cut + 300).min(last);
                let m = MemStorage::new();
                m.overwrite(m_bytes(&full, cut, to, fill));
                let (wal, rec) = Wal::open(Arc::new(m), true, LOG_FORMAT_VERSION).unwrap();
                // The records before the first one whose bytes (padding aside: it is
                // outside the checksums) the cut changed.
                let salt = get_u64(&full, 16);
                let whole = ends
                    .windows(2)
                    .take_while(|w| {
                        let (start, _) = (w[0] as usize, w[1]);
                        let rec = record_at(&full, start, salt).unwrap();
                        let data = start..start + RECORD_HEADER + rec.body_len;
                        full[data.clone()] == m_bytes(&full, cut, to, fill)[data]
                    })
                    .count();
                let what = format!("cut {cut} fill {fill:#x}");
                assert_eq!(rec.transactions_replayed as usize, whole, "{what}");
                assert!(!rec.lost_committed_data(), "{what}: {rec}");
                assert_state(&wal, &states[whole], &what);
            }
        }
    }

    /// A damaged record followed by intact ones is reported as dropped commits; a change
    /// to a page with no image before it stops replay there.
    #[test]
    fn a_damaged_version_4_record_before_intact_ones_is_lost_data() {
        let mem = MemStorage::new();
        let (ends, states) = v4_history(&mem);
        let full = mem.snapshot();
        let mut bad = full.clone();
        // A body byte of commit 4's record.
        bad[ends[3] as usize + RECORD_HEADER + 3] ^= 0x10;
        let m = MemStorage::new();
        m.overwrite(bad.clone());
        let (wal, rec) = Wal::open(Arc::new(m), false, LOG_FORMAT_VERSION).unwrap();
        assert_eq!(rec.transactions_replayed, 3);
        assert_eq!(rec.dropped_transactions, 8, "{rec}");
        assert!(matches!(rec.end, LogEnd::DamagedFrame { .. }), "{rec}");
        assert_state(&wal, &states[3], "damaged");
        let m = MemStorage::new();
        m.overwrite(bad);
        assert!(Wal::open(Arc::new(m), true, LOG_FORMAT_VERSION).is_err());
        // A log that begins with a change (its image entry dropped): nothing replays.
        let (mut wal, _) =
            Wal::open(Arc::new(MemStorage::new()), false, LOG_FORMAT_VERSION).unwrap();
        let a = records_page(1, 100, 100);
        wal.append_commit(&[(1, &a)], 1).unwrap();
        let mut b = a.clone();
        b[50] ^= 1;
        wal.append_commit(&[(1, &b)], 2).unwrap();
        let mut st = wal.shared.lock().unwrap();
        let enc = std::mem::take(&mut st.encoded);
        drop(st);
        let first = record_at(&enc, 0, get_u64(&enc, 16)).unwrap().total;
        let m = MemStorage::new();
        let mut log = vec![0u8; WAL_HEADER as usize];
        let (h, _) = header_bytes(get_u64(&enc, 16), LOG_FORMAT_VERSION);
        log.copy_from_slice(&h);
        // Re-chain the second record straight after the header.
        let mut second = enc[first..].to_vec();
        let rec = record_at(&second, 0, get_u64(&second, 16)).unwrap();
        let chained = record_chain(&second, 0, &rec, get_u32(&h, 24));
        put_u32(&mut second, 24, chained);
        log.extend_from_slice(&second);
        m.overwrite(log);
        let (wal, rec) = Wal::open(Arc::new(m), false, LOG_FORMAT_VERSION).unwrap();
        assert_eq!(rec.transactions_replayed, 0, "{rec}");
        assert!(!wal.read_page(1, &mut page(0)).unwrap());
    }

    /// Spilled pages are whole images in the file; the commit after them logs a page
    /// that was both spilled and committed before as a whole image again (its base is
    /// the spilled image), and everything reads back before and after recovery.
    #[test]
    fn version_4_spilled_pages_commit_with_the_record_that_follows() {
        let mem = MemStorage::new();
        let (mut wal, _) = Wal::open(Arc::new(mem.clone()), false, LOG_FORMAT_VERSION).unwrap();
        let a = records_page(1, 200, 50);
        wal.append_commit(&[(1, &a)], 1).unwrap();
        let s1 = records_page(2, 300, 300);
        let s2 = records_page(3, 8000, 0);
        wal.append_spilled(&[(1, &s1), (2, &s2)]).unwrap();
        let mut buf = page(0);
        assert!(wal.read_spilled(2, &mut buf).unwrap() && buf[..] == s2[..]);
        // Readers still see the committed image of page 1.
        assert!(wal.read_page(1, &mut buf).unwrap() && buf[..] == a[..]);
        assert!(!wal.read_page(2, &mut buf).unwrap());
        let mut c = s1.clone();
        c[100] ^= 0xFF;
        wal.append_commit(&[(1, &c), (3, &a)], 2).unwrap();
        wal.sync().unwrap();
        let expect = [(1, c.clone()), (2, s2.clone()), (3, a.clone())];
        for (id, p) in &expect {
            assert!(
                wal.read_page(*id, &mut buf).unwrap() && buf[..] == p[..],
                "{id}"
            );
        }
        let (wal2, rec) = Wal::open(
            Arc::new(mem.crash_image(0, None)),
            false,
            LOG_FORMAT_VERSION,
        )
        .unwrap();
        assert_eq!(rec.transactions_replayed, 2);
        for (id, p) in &expect {
            assert!(
                wal2.read_page(*id, &mut buf).unwrap() && buf[..] == p[..],
                "{id}"
            );
        }
        // An abandoned spill is forgotten, and the commit after it is intact.
        let (mut wal3, _) = Wal::open(Arc::new(mem.clone()), false, LOG_FORMAT_VERSION).unwrap();
        wal3.append_spilled(&[(5, &s2)]).unwrap();
        wal3.discard_spilled();
        wal3.append_commit(&[(1, &a)], 3).unwrap();
        wal3.sync().unwrap();
        let (wal4, rec) = Wal::open(Arc::new(mem.clone()), false, LOG_FORMAT_VERSION).unwrap();
        assert_eq!(rec.transactions_replayed, 3, "{rec}");
        assert!(!wal4.read_page(5, &mut buf).unwrap());
        assert!(wal4.read_page(1, &mut buf).unwrap() && buf[..] == a[..]);
    }

    /// A page-image (version 3) log found by a handle that writes version 4 is replayed
    /// and marked for folding; an empty one is restarted in version 4 at once.
    #[test]
    fn a_version_3_log_is_read_by_a_version_4_writer() {
        let mem = MemStorage::new();
        let (mut wal, _) = Wal::open(Arc::new(mem.clone()), false, V3).unwrap();
        wal.append_commit(&[(1, &sparse_page(4))], 1).unwrap();
        wal.sync().unwrap();
        let (wal2, rec) = Wal::open(Arc::new(mem.clone()), false, LOG_FORMAT_VERSION).unwrap();
        assert_eq!((rec.log_version, rec.transactions_replayed), (3, 1));
        assert!(wal2.is_old_format());
        let mut buf = page(0);
        assert!(wal2.read_page(1, &mut buf).unwrap() && buf[..] == sparse_page(4)[..]);
        let empty = MemStorage::new();
        drop(Wal::open(Arc::new(empty.clone()), false, V3).unwrap());
        let (wal3, _) = Wal::open(Arc::new(empty.clone()), false, LOG_FORMAT_VERSION).unwrap();
        assert!(!wal3.is_old_format());
        assert_eq!(get_u32(&empty.snapshot(), 8), LOG_FORMAT_VERSION);
    }

    /// A sync ends the log at a 4 KiB boundary with a padding record, so the next commit
    /// never writes into a block that holds synced records; recovery steps over the
    /// padding (a clean end, no transaction counted), also when only the padding of a
    /// batch reached the disk.
    #[test]
    fn a_version_4_sync_pads_to_a_block_and_recovery_steps_over_it() {
        let mem = MemStorage::new();
        let (mut wal, _) = Wal::open(Arc::new(mem.clone()), false, LOG_FORMAT_VERSION).unwrap();
        let mut buf = page(0);
        for ts in 1..=3u64 {
            wal.append_commit(&[(1, &records_page(ts as u8, 100, 20))], ts)
                .unwrap();
            wal.sync().unwrap();
            assert_eq!(wal.end() % 4096, 0, "commit {ts}");
        }
        // Not synced: no padding.
        wal.append_commit(&[(2, &records_page(9, 100, 20))], 4)
            .unwrap();
        flush(&wal);
        assert_ne!(wal.end() % 4096, 0);
        let (wal2, rec) = Wal::open(Arc::new(mem.clone()), false, LOG_FORMAT_VERSION).unwrap();
        assert_eq!(
            (rec.transactions_replayed, rec.end),
            (4, LogEnd::Clean),
            "{rec}"
        );
        assert!(wal2.read_page(1, &mut buf).unwrap() && buf[..] == records_page(3, 100, 20)[..]);
        assert!(wal2.read_page(2, &mut buf).unwrap() && buf[..] == records_page(9, 100, 20)[..]);
        // A power cut after the sync: three commits, a clean end after the padding.
        let (_, rec) = Wal::open(
            Arc::new(mem.crash_image(0, None)),
            false,
            LOG_FORMAT_VERSION,
        )
        .unwrap();
        assert_eq!(rec.transactions_replayed, 3, "{rec}");
    }

    #[test]
    fn ranges_round_trip_against_any_base() {
        let mut rng = 0x0123_4567_89AB_CDEF_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..200 {
            let mut old = page(0);
            let mut new = page(0);
            for _ in 0..(next() % 50) {
                let at = (next() % PAGE_SIZE as u64) as usize;
                old[at] = next() as u8;
            }
            new.copy_from_slice(&old[..]);
            for _ in 0..(next() % 50) {
                let at = (next() % PAGE_SIZE as u64) as usize;
                let len = (next() % 64) as usize;
                for b in &mut new[at..(at + len).min(PAGE_SIZE)] {
                    *b = next() as u8;
                }
            }
            for base in [Some(&*old), None] {
                let mut out = Vec::new();
                let n = put_ranges(base, &new, &mut out);
                let mut back = base.map_or_else(|| page(0), |b| Box::new(*b));
                assert_eq!(apply_ranges(&mut back, &out, n), Some(out.len()));
                assert_eq!(ranges_len(&out, n), Some(out.len()));
                assert!(back[..] == new[..]);
            }
        }
    }

    #[test]
    fn garbage_log_is_treated_as_empty() {
        let mem = MemStorage::new();
        mem.overwrite(vec![0xAB; 5000]);
        let (wal, rec) = Wal::open(Arc::new(mem), false, V3).unwrap();
        assert_eq!(rec.transactions_replayed, 0);
        assert_eq!(wal.frames(), 0);
    }
}
