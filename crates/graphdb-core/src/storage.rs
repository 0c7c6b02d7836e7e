//! Byte storage under the pager and the log: a real file, or an in-memory image that can
//! simulate a crash by dropping (or tearing) the writes that were never synced.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::sync::{Mutex, MutexGuard};

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

    /// Takes an exclusive advisory lock on the file, released when the storage is
    /// dropped; `Ok(false)` when another open file description holds it.
    pub(crate) fn try_lock_exclusive(&self) -> io::Result<bool> {
        match self.file.try_lock() {
            Ok(()) => Ok(true),
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
