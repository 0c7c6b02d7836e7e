//! Fixed-size pages: the common page header, checksums, and the database header page.

use std::sync::Arc;

use crate::dict::Dict;
use crate::error::{GraphError, Result};
use crate::types::PageId;

/// Bytes per page, in the main file and in every log frame.
pub const PAGE_SIZE: usize = 8192;
/// Bytes of the header every page starts with.
pub(crate) const PAGE_HEADER: usize = 16;
/// The first eight bytes of the database header (after the page header).
pub(crate) const MAGIC: &[u8; 8] = b"GRAPHDB\0";
/// The on-disk format version this build writes. Version 2 added the index catalog
/// (header offset 120) and the index page types. Version 3 changed the record bodies:
/// variable-length integers, and node adjacency entries that carry the node at the other
/// end and the edge type beside the edge id. Version 4 made records compact: a
/// variable-length record header, and labels, edge types and property keys named by
/// their number in a dictionary held in the header page (offset 128).
pub const FORMAT_VERSION: u32 = 4;
/// The oldest format version this build still reads: records of versions 1 to 3 have
/// the fixed 42-byte header and name strings inline, which this build does not decode.
pub(crate) const OLDEST_READABLE_VERSION: u32 = 4;

/// A page image.
pub(crate) type PageBuf = Box<[u8; PAGE_SIZE]>;

pub(crate) fn new_page(kind: PageType) -> PageBuf {
    let mut p: PageBuf = Box::new([0u8; PAGE_SIZE]);
    p[4] = kind as u8;
    p
}

/// What a page holds; byte 4 of every page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageType {
    Header = 1,
    Free = 2,
    MapInner = 3,
    MapLeaf = 4,
    Records = 5,
    Overflow = 6,
    IndexLeaf = 7,
    IndexInner = 8,
    IndexCatalog = 9,
}

impl PageType {
    pub(crate) fn of(page: &[u8; PAGE_SIZE], id: PageId) -> Result<PageType> {
        Ok(match page[4] {
            1 => PageType::Header,
            2 => PageType::Free,
            3 => PageType::MapInner,
            4 => PageType::MapLeaf,
            5 => PageType::Records,
            6 => PageType::Overflow,
            7 => PageType::IndexLeaf,
            8 => PageType::IndexInner,
            9 => PageType::IndexCatalog,
            other => {
                return Err(GraphError::corrupt(
                    format!("unknown page type {other}"),
                    Some(id),
                ))
            }
        })
    }
}

pub(crate) fn get_u16(p: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([p[at], p[at + 1]])
}
pub(crate) fn put_u16(p: &mut [u8], at: usize, v: u16) {
    p[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn get_u32(p: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&p[at..at + 4]);
    u32::from_le_bytes(b)
}
pub(crate) fn put_u32(p: &mut [u8], at: usize, v: u32) {
    p[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn get_u64(p: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&p[at..at + 8]);
    u64::from_le_bytes(b)
}
pub(crate) fn put_u64(p: &mut [u8], at: usize, v: u64) {
    p[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// The link field of the page header (free list, overflow chain).
pub(crate) fn next_of(p: &[u8; PAGE_SIZE]) -> u64 {
    get_u64(p, 8)
}
pub(crate) fn set_next(p: &mut [u8; PAGE_SIZE], next: u64) {
    put_u64(p, 8, next);
}

/// Computes the checksum of bytes 4.. and stores it in bytes 0..4. The page id is mixed
/// in so a page written at the wrong offset fails its check.
pub(crate) fn seal(p: &mut [u8; PAGE_SIZE], id: PageId) {
    let sum = checksum(p, id);
    put_u32(p, 0, sum);
}

fn checksum(p: &[u8; PAGE_SIZE], id: PageId) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&id.to_le_bytes());
    h.update(&p[4..]);
    h.finalize()
}

/// Checks a page read from disk.
pub(crate) fn verify(p: &[u8; PAGE_SIZE], id: PageId) -> Result<()> {
    if get_u32(p, 0) != checksum(p, id) {
        return Err(GraphError::corrupt("page checksum mismatch", Some(id)));
    }
    PageType::of(p, id)?;
    Ok(())
}

/// The database header, stored in page 0 after the page header. Every field is
/// little-endian; see docs/graphdb-core.md for the byte offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Pages in use by the database, including page 0 and free pages; page ids are
    /// always below this.
    pub(crate) page_count: u64,
    /// First page of the free list (0 = empty).
    pub(crate) free_head: PageId,
    pub(crate) free_count: u64,
    /// Root of the node id map (0 = no node ever stored).
    pub(crate) node_root: PageId,
    pub(crate) edge_root: PageId,
    /// The records page new records are appended to (0 = none yet).
    pub(crate) fill_page: PageId,
    pub(crate) next_node_id: u64,
    pub(crate) next_edge_id: u64,
    pub(crate) next_tx_id: u64,
    /// The timestamp of the newest commit in the file.
    pub(crate) last_commit_ts: u64,
    /// First records page with reusable space after vacuum (0 = none), linked through
    /// the page header's `next` field.
    pub(crate) partial_head: PageId,
    /// The page listing the indexes and their roots (0 = no index ever created).
    pub(crate) index_catalog: PageId,
    /// The names records refer to by number (see [`Dict`]); shared with the committed
    /// header until a commit adds a name.
    pub(crate) dict: Arc<Dict>,
}

impl Meta {
    pub(crate) fn fresh() -> Meta {
        Meta {
            page_count: 1,
            free_head: 0,
            free_count: 0,
            node_root: 0,
            edge_root: 0,
            fill_page: 0,
            next_node_id: 1,
            next_edge_id: 1,
            next_tx_id: 1,
            last_commit_ts: 0,
            partial_head: 0,
            index_catalog: 0,
            dict: Arc::default(),
        }
    }

    pub(crate) fn write(&self, p: &mut [u8; PAGE_SIZE]) {
        p[4] = PageType::Header as u8;
        p[16..24].copy_from_slice(MAGIC);
        put_u32(p, 24, FORMAT_VERSION);
        put_u32(p, 28, PAGE_SIZE as u32);
        put_u64(p, 32, self.page_count);
        put_u64(p, 40, self.free_head);
        put_u64(p, 48, self.free_count);
        put_u64(p, 56, self.node_root);
        put_u64(p, 64, self.edge_root);
        put_u64(p, 72, self.fill_page);
        put_u64(p, 80, self.next_node_id);
        put_u64(p, 88, self.next_edge_id);
        put_u64(p, 96, self.next_tx_id);
        put_u64(p, 104, self.last_commit_ts);
        put_u64(p, 112, self.partial_head);
        put_u64(p, 120, self.index_catalog);
        self.dict.write(p);
    }

    /// Parses page 0, checking magic, version and page size before anything else so a
    /// foreign or future file gets a precise message.
    pub(crate) fn read(p: &[u8; PAGE_SIZE]) -> Result<Meta> {
        if &p[16..24] != MAGIC {
            return Err(GraphError::corrupt(
                "bad magic: not a graphdb file",
                Some(0),
            ));
        }
        let version = get_u32(p, 24);
        if (1..OLDEST_READABLE_VERSION).contains(&version) {
            return Err(GraphError::corrupt(
                format!(
                    "format version {version} was written by an earlier build; this build \
                     reads format version {FORMAT_VERSION} only (the record layout changed in \
                     versions 3 and 4): export the database with the build that wrote it and import \
                     the export into a new database"
                ),
                Some(0),
            ));
        }
        if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(GraphError::corrupt(
                format!("unsupported format version {version} (this build reads {FORMAT_VERSION})"),
                Some(0),
            ));
        }
        let page_size = get_u32(p, 28);
        if page_size as usize != PAGE_SIZE {
            return Err(GraphError::corrupt(
                format!("page size {page_size} (this build uses {PAGE_SIZE})"),
                Some(0),
            ));
        }
        verify(p, 0)?;
        if PageType::of(p, 0)? != PageType::Header {
            return Err(GraphError::corrupt("page 0 is not a header page", Some(0)));
        }
        let meta = Meta {
            page_count: get_u64(p, 32),
            free_head: get_u64(p, 40),
            free_count: get_u64(p, 48),
            node_root: get_u64(p, 56),
            edge_root: get_u64(p, 64),
            fill_page: get_u64(p, 72),
            next_node_id: get_u64(p, 80),
            next_edge_id: get_u64(p, 88),
            next_tx_id: get_u64(p, 96),
            last_commit_ts: get_u64(p, 104),
            partial_head: get_u64(p, 112),
            index_catalog: get_u64(p, 120),
            dict: Arc::new(Dict::read(p)?),
        };
        let in_range = |pg: u64| pg < meta.page_count;
        if meta.page_count == 0
            || !in_range(meta.free_head)
            || !in_range(meta.node_root)
            || !in_range(meta.edge_root)
            || !in_range(meta.fill_page)
            || !in_range(meta.partial_head)
            || !in_range(meta.index_catalog)
            || meta.next_node_id == 0
            || meta.next_edge_id == 0
        {
            return Err(GraphError::corrupt("header fields out of range", Some(0)));
        }
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_and_flips_are_caught() {
        let mut m = Meta::fresh();
        m.page_count = 9;
        m.node_root = 3;
        let mut p = new_page(PageType::Header);
        m.write(&mut p);
        seal(&mut p, 0);
        assert_eq!(Meta::read(&p).unwrap(), m);
        for at in [0usize, 5, 40, 200, PAGE_SIZE - 1] {
            let mut q = p.clone();
            q[at] ^= 0x40;
            assert!(
                matches!(Meta::read(&q), Err(GraphError::Corruption { .. })),
                "flip at {at}"
            );
        }
    }
}
