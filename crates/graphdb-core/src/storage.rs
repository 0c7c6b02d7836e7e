//! Byte storage under the pager and the log: a real file, or an in-memory image that can
//! simulate a crash by dropping (or tearing) the writes that were never synced.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::sync::{Condvar, Mutex, MutexGuard};

/// Positional byte storage. All methods take `&self` so a log can be synced by one thread
/// while another appends (group commit).
pub trait Storage: Send + Sync + fmt::Debug {
    /// Fills `buf` from `offset`; a read past the end is an `UnexpectedEof` error.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `buf` at `offset`, growing the storage if needed.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// The current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Whether the storage is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Truncates or zero-extends to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes every completed write durable (fsync / fdatasync).
    fn sync(&self) -> io::Result<()>;
}

/// A file on disk.
#[derive(Debug)]
pub struct FileStorage {
    file: File,
}

impl FileStorage {
    /// Opens `path` for reading and writing, creating it if it does not exist.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(FileStorage { file })
    }
}

#[cfg(unix)]
impl Storage for FileStorage {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.file, buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

#[cfg(windows)]
impl Storage for FileStorage {
    fn read_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            let n = std::os::windows::fs::FileExt::seek_read(&self.file, buf, offset)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            buf = &mut buf[n..];
            offset += n as u64;
        }
        Ok(())
    }
    fn write_at(&self, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            let n = std::os::windows::fs::FileExt::seek_write(&self.file, buf, offset)?;
            buf = &buf[n..];
            offset += n as u64;
        }
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

#[derive(Debug, Clone)]
enum Pending {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
}

#[derive(Debug, Default)]
struct MemState {
    /// What a crash leaves: the image as of the last `sync`.
    synced: Vec<u8>,
    /// Operations since the last sync, in order; `current` = `synced` + these.
    pending: Vec<Pending>,
    current: Vec<u8>,
    syncs: u64,
}

fn apply(image: &mut Vec<u8>, op: &Pending) {
    match op {
        Pending::Write { offset, bytes } => {
            let start = *offset as usize;
            let end = start + bytes.len();
            if image.len() < end {
                image.resize(end, 0);
            }
            image[start..end].copy_from_slice(bytes);
        }
        Pending::SetLen(len) => image.resize(*len as usize, 0),
    }
}

/// An in-memory storage for tests and benchmarks that remembers which writes were synced.
///
/// [`MemStorage::crash_image`] returns what a power cut would leave: the last synced image
/// plus a chosen prefix of the later operations, the last of them optionally torn. Clones
/// share the same bytes.
#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    state: Arc<Mutex<MemState>>,
}

impl MemStorage {
    /// An empty storage.
    pub fn new() -> Self {
        MemStorage::default()
    }

    fn state(&self) -> MutexGuard<'_, MemState> {
        // A test thread that panicked while holding this lock left whole operations
        // behind (each is applied under the lock in one step), so the state is usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many operations were issued since the last sync.
    pub fn unsynced_ops(&self) -> usize {
        self.state().pending.len()
    }

    /// How many times `sync` was called.
    pub fn sync_count(&self) -> u64 {
        self.state().syncs
    }

    /// A copy of the current bytes (synced or not).
    pub fn snapshot(&self) -> Vec<u8> {
        self.state().current.clone()
    }

    /// Replaces the current bytes (and treats them as synced): for corruption tests.
    pub fn overwrite(&self, bytes: Vec<u8>) {
        let mut s = self.state();
        s.synced = bytes.clone();
        s.current = bytes;
        s.pending.clear();
    }

    /// The image a crash would leave: the synced bytes plus the first `keep` unsynced
    /// operations; if `tear_last_to` is `Some(n)` the last kept write only got its first
    /// `n` bytes to disk.
    pub fn crash_image(&self, keep: usize, tear_last_to: Option<usize>) -> MemStorage {
        let s = self.state();
        let mut image = s.synced.clone();
        let keep = keep.min(s.pending.len());
        for (i, op) in s.pending[..keep].iter().enumerate() {
            match (op, tear_last_to) {
                (Pending::Write { offset, bytes }, Some(n)) if i + 1 == keep => {
                    let torn = Pending::Write {
                        offset: *offset,
                        bytes: bytes[..n.min(bytes.len())].to_vec(),
                    };
                    apply(&mut image, &torn);
                }
                _ => apply(&mut image, op),
            }
        }
        MemStorage {
            state: Arc::new(Mutex::new(MemState {
                synced: image.clone(),
                pending: Vec::new(),
                current: image,
                syncs: 0,
            })),
        }
    }
}

impl Storage for MemStorage {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let s = self.state();
        let start = offset as usize;
        let end = start
            .checked_add(buf.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        if end > s.current.len() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.copy_from_slice(&s.current[start..end]);
        Ok(())
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut s = self.state();
        let op = Pending::Write {
            offset,
            bytes: buf.to_vec(),
        };
        apply(&mut s.current, &op);
        s.pending.push(op);
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.state().current.len() as u64)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut s = self.state();
        let op = Pending::SetLen(len);
        apply(&mut s.current, &op);
        s.pending.push(op);
        Ok(())
    }
    fn sync(&self) -> io::Result<()> {
        let mut s = self.state();
        let s = &mut *s;
        // Replaying the pending operations costs what they wrote, not the whole image.
        for op in s.pending.drain(..) {
            apply(&mut s.synced, &op);
        }
        s.syncs += 1;
        Ok(())
    }
}

/// The log's storage with its writes held in memory until a sync (or flush) hands them
/// to the file: group commit.
///
/// A committer appends its frames here under the engine lock, which costs a copy into
/// memory and no system call. Afterwards, holding no engine lock, it calls
/// [`sync`](Storage::sync): the first caller to find no sync running becomes the leader,
/// takes every queued write, writes them (contiguous ones as one write) and syncs once;
/// callers that arrive meanwhile wait on a condition variable while the next batch
/// collects in memory, and a waiter whose writes the finished sync covered returns
/// without any I/O. So committers never write to a file that an fsync is flushing (on
/// ext4 such a write stalls behind the fsync), and one write plus one fsync serves a
/// whole batch.
///
/// Reads overlay the writes that are queued or being written on the file's bytes, so a
/// reader sees every completed `write_at` at once. A failed write or sync marks the log
/// failed: later syncs report an error, because the kernel may have dropped dirty pages
/// and no later sync could prove them durable.
///
/// The state mutex is a leaf of the lock order: nothing is locked while it is held, and it
/// is never held across I/O except the overlay read of a range that has queued writes.
#[derive(Debug)]
pub(crate) struct BufferedLog {
    inner: Arc<dyn Storage>,
    state: Mutex<LogState>,
    done: Condvar,
}

#[derive(Debug, Default)]
struct LogState {
    /// Writes not yet handed to the file, in issue order; a write that continues the
    /// previous one is appended to it.
    queued: Vec<(u64, Vec<u8>)>,
    /// The batch a leader is writing now (readers overlay it too).
    in_flight: Arc<Vec<(u64, Vec<u8>)>>,
    /// Writes issued so far (a sequence number; each `write_at` counts one).
    issued: u64,
    /// Every write up to this number is in the file.
    written: u64,
    /// Every write up to this number is in the file and synced.
    durable: u64,
    /// A leader is writing or syncing.
    busy: bool,
    failed: bool,
    /// The length the log has with every issued write applied.
    len: u64,
}

fn poisoned() -> io::Error {
    io::Error::other("log buffer lock poisoned by a panicking thread")
}

fn failed() -> io::Error {
    io::Error::other("an earlier write or sync of the log failed; reopen the database")
}

impl BufferedLog {
    pub(crate) fn new(inner: Arc<dyn Storage>) -> io::Result<Self> {
        let len = inner.len()?;
        Ok(BufferedLog {
            inner,
            state: Mutex::new(LogState {
                len,
                ..LogState::default()
            }),
            done: Condvar::new(),
        })
    }

    fn lock(&self) -> io::Result<MutexGuard<'_, LogState>> {
        self.state.lock().map_err(|_| poisoned())
    }

    /// Whether a write or sync of the log failed.
    pub(crate) fn has_failed(&self) -> bool {
        self.state.lock().map_or(true, |s| s.failed)
    }

    /// Returns once every write issued before the call is in the file (`durable`: and
    /// synced). One caller at a time leads; the others wait for it and usually find
    /// themselves covered.
    fn settle(&self, durable: bool) -> io::Result<()> {
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
            // Lead: take everything queued so far, also what later callers issued.
            st.busy = true;
            let upto = st.issued;
            let batch = Arc::new(std::mem::take(&mut st.queued));
            st.in_flight = Arc::clone(&batch);
            drop(st);
            let mut outcome = batch
                .iter()
                .try_for_each(|(offset, bytes)| self.inner.write_at(bytes, *offset));
            if outcome.is_ok() && durable {
                outcome = self.inner.sync();
            }
            st = self.lock()?;
            st.in_flight = Arc::default();
            st.busy = false;
            match outcome {
                Ok(()) => {
                    st.written = st.written.max(upto);
                    if durable {
                        st.durable = st.durable.max(upto);
                    }
                }
                Err(e) => {
                    st.failed = true;
                    self.done.notify_all();
                    return Err(e);
                }
            }
            self.done.notify_all();
        }
    }

    /// Hands every queued write to the file without syncing it.
    pub(crate) fn flush(&self) -> io::Result<()> {
        self.settle(false)
    }
}

/// Copies the part of `(offset, bytes)` that overlaps `[at, at + buf.len())` into `buf`.
fn overlay(buf: &mut [u8], at: u64, offset: u64, bytes: &[u8]) {
    let start = at.max(offset);
    let end = (at + buf.len() as u64).min(offset + bytes.len() as u64);
    if start < end {
        let (s, e) = ((start - at) as usize, (end - at) as usize);
        let from = (start - offset) as usize;
        buf[s..e].copy_from_slice(&bytes[from..from + (e - s)]);
    }
}

fn overlaps(at: u64, len: usize, offset: u64, bytes: &[u8]) -> bool {
    at < offset + bytes.len() as u64 && offset < at + len as u64
}

impl Storage for BufferedLog {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let st = self.lock()?;
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        if end > st.len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let pending = st
            .in_flight
            .iter()
            .chain(st.queued.iter())
            .any(|(o, b)| overlaps(offset, buf.len(), *o, b));
        if !pending {
            // Nothing issued for this range is outside the file, and only the holder of
            // the engine's pager (this caller) issues writes, so none can appear now.
            drop(st);
            return self.inner.read_at(buf, offset);
        }
        // Rare: a page read back before its commit reached the file. The file's bytes
        // (as far as it reaches) under the in-flight batch under the queued writes.
        buf.fill(0);
        let file_len = self.inner.len()?;
        if offset < file_len {
            let n = ((file_len - offset) as usize).min(buf.len());
            self.inner.read_at(&mut buf[..n], offset)?;
        }
        for (o, b) in st.in_flight.iter().chain(st.queued.iter()) {
            overlay(buf, offset, *o, b);
        }
        Ok(())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut st = self.lock()?;
        if st.failed {
            return Err(failed());
        }
        st.issued += 1;
        st.len = st.len.max(offset + buf.len() as u64);
        match st.queued.last_mut() {
            Some((o, b)) if *o + b.len() as u64 == offset => b.extend_from_slice(buf),
            _ => st.queued.push((offset, buf.to_vec())),
        }
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.lock()?.len)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        // Rare (a new database): settle the queue, then change the file itself.
        self.flush()?;
        let mut st = self.lock()?;
        self.inner.set_len(len)?;
        st.len = len;
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        self.settle(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffered_log_queues_until_sync_and_reads_its_own_writes() {
        let m = MemStorage::new();
        m.write_at(b"0123456789", 0).unwrap();
        m.sync().unwrap();
        let log = BufferedLog::new(Arc::new(m.clone())).unwrap();
        log.write_at(b"ab", 2).unwrap();
        log.write_at(b"cd", 4).unwrap();
        log.write_at(b"XYZ", 12).unwrap();
        // Nothing reached the file yet, but reads see every write, also past its end.
        assert_eq!(m.unsynced_ops(), 0);
        assert_eq!(log.len().unwrap(), 15);
        let mut buf = [0u8; 15];
        log.read_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"01abcd6789\0\0XYZ");
        assert!(log.read_at(&mut [0u8; 2], 14).is_err());
        // One sync: the contiguous writes go out as one write, then one fsync.
        let syncs = m.sync_count();
        log.sync().unwrap();
        log.sync().unwrap();
        assert_eq!(m.sync_count() - syncs, 1);
        assert_eq!(m.crash_image(0, None).snapshot(), b"01abcd6789\0\0XYZ");
        // A flush writes without syncing.
        log.write_at(b"!", 0).unwrap();
        log.flush().unwrap();
        assert_eq!(m.unsynced_ops(), 1);
        assert_eq!(m.sync_count() - syncs, 1);
    }

    #[test]
    fn buffered_log_group_commit_and_sticky_failure() {
        #[derive(Debug)]
        struct Failing(MemStorage, std::sync::atomic::AtomicBool);
        impl Storage for Failing {
            fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
                self.0.read_at(buf, offset)
            }
            fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
                self.0.write_at(buf, offset)
            }
            fn len(&self) -> io::Result<u64> {
                self.0.len()
            }
            fn set_len(&self, len: u64) -> io::Result<()> {
                self.0.set_len(len)
            }
            fn sync(&self) -> io::Result<()> {
                if self.1.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err(io::Error::other("disk gone"));
                }
                // Slow enough that other threads queue behind it.
                std::thread::sleep(std::time::Duration::from_millis(2));
                self.0.sync()
            }
        }
        let m = MemStorage::new();
        let inner = Arc::new(Failing(m.clone(), false.into()));
        let log = Arc::new(BufferedLog::new(inner.clone()).unwrap());
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let log = &log;
                s.spawn(move || {
                    for i in 0..10u64 {
                        log.write_at(&[t as u8 + 1], t * 10 + i).unwrap();
                        log.sync().unwrap();
                    }
                });
            }
        });
        // Every write is durable, and waiting committers shared fsyncs.
        let image = m.crash_image(0, None).snapshot();
        assert!(image.iter().all(|b| *b != 0) && image.len() == 80);
        assert!(
            m.sync_count() < 80,
            "{} syncs for 80 commits",
            m.sync_count()
        );
        inner.1.store(true, std::sync::atomic::Ordering::SeqCst);
        log.write_at(b"x", 80).unwrap();
        assert!(log.sync().is_err());
        assert!(log.has_failed());
        inner.1.store(false, std::sync::atomic::Ordering::SeqCst);
        // Once failed, always failed: the kernel may have dropped the pages.
        assert!(log.sync().is_err());
        assert!(log.write_at(b"y", 81).is_err());
    }

    #[test]
    fn crash_drops_unsynced_and_tears() {
        let m = MemStorage::new();
        m.write_at(b"hello", 0).unwrap();
        m.sync().unwrap();
        m.write_at(b"world", 5).unwrap();
        m.write_at(b"!!", 10).unwrap();
        assert_eq!(m.crash_image(0, None).snapshot(), b"hello");
        assert_eq!(m.crash_image(1, Some(2)).snapshot(), b"hellowo");
        assert_eq!(m.crash_image(9, None).snapshot(), b"helloworld!!");
        let mut buf = [0u8; 3];
        assert!(m.read_at(&mut buf, 11).is_err());
    }
}
