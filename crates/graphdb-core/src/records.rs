//! The record store over the pager: slotted record pages, overflow chains for records
//! larger than [`INLINE_MAX`], and the id maps (node id or edge id to the newest version).

use crate::codec::{self, RecordHeader, MAX_RECORD_HEADER, PREV_OFFSET};
use crate::dict::Dict;
use crate::error::{GraphError, Result};
use crate::page::{get_u16, get_u32, get_u64, next_of, put_u16, put_u32, put_u64, set_next};
use crate::page::{PageType, PAGE_HEADER, PAGE_SIZE};
use crate::pager::Pager;
use crate::types::{PageId, RecordPointer};

/// Records longer than this go to overflow pages, leaving a 12-byte stub in the slot.
pub(crate) const INLINE_MAX: usize = 4096;
const SLOTS_AT: usize = PAGE_HEADER + 4;
const OVERFLOW_FLAG: u16 = 0x8000;
/// Bit of page-header byte 5 marking a records page that is on the partial-page list.
pub(crate) const PARTIAL_FLAG: u8 = 1;
/// Bit of page-header byte 5 set when a slot of a records page was freed: only then can
/// an insert find a free slot to reuse, so a page filled by appends is never scanned.
const HOLES_FLAG: u8 = 2;
const STUB_LEN: usize = 12;
const CHUNK_AT: usize = PAGE_HEADER + 2;
const CHUNK: usize = PAGE_SIZE - CHUNK_AT;
/// Entries per inner id-map page (`u64` page ids).
pub(crate) const FANOUT: u64 = ((PAGE_SIZE - PAGE_HEADER) / 8) as u64;
/// Bytes of a leaf entry: a record pointer packed as `page << SLOT_BITS | slot`.
const LEAF_ENTRY: usize = 5;
/// Entries per id-map leaf page.
pub(crate) const LEAF_FANOUT: u64 = ((PAGE_SIZE - PAGE_HEADER) / LEAF_ENTRY) as u64;
/// Bits of the slot in a leaf entry: a records page holds fewer than 2^11 slots (each
/// takes 4 bytes of slot array and at least one byte of record).
const SLOT_BITS: u32 = 11;
/// Slots a records page may hold.
const MAX_SLOTS: usize = (1 << SLOT_BITS) - 1;
/// Records pages must lie below this page (2^29 pages of 8 KiB: 4 TiB) for a leaf entry
/// to name them.
const MAX_RECORD_PAGE: u64 = 1 << (8 * LEAF_ENTRY as u32 - SLOT_BITS);
/// The id maps have three levels, so ids must stay below `FANOUT^2 * LEAF_FANOUT`
/// (about 1.7e9).
pub(crate) const MAX_ID: u64 = FANOUT * FANOUT * LEAF_FANOUT - 1;

/// A leaf entry from a record pointer in its `u64` form (`page << 16 | slot`, 0 = none).
fn pack_leaf(raw: u64) -> Result<u64> {
    let Some(ptr) = RecordPointer::decode(raw) else {
        return Ok(0);
    };
    if ptr.page >= MAX_RECORD_PAGE || usize::from(ptr.slot) > MAX_SLOTS {
        return Err(GraphError::InvalidArgument(format!(
            "record pointer {ptr:?} beyond what an id map can name (the file is limited to \
             {MAX_RECORD_PAGE} pages)"
        )));
    }
    Ok(ptr.page << SLOT_BITS | u64::from(ptr.slot))
}

/// The record pointer (`page << 16 | slot`) of a leaf entry.
fn unpack_leaf(v: u64) -> u64 {
    if v == 0 {
        return 0;
    }
    (v >> SLOT_BITS) << 16 | (v & ((1 << SLOT_BITS) - 1))
}

fn get_leaf(p: &[u8; PAGE_SIZE], i: usize) -> u64 {
    let at = PAGE_HEADER + LEAF_ENTRY * i;
    let mut b = [0u8; 8];
    b[..LEAF_ENTRY].copy_from_slice(&p[at..at + LEAF_ENTRY]);
    unpack_leaf(u64::from_le_bytes(b))
}

fn put_leaf(p: &mut [u8; PAGE_SIZE], i: usize, packed: u64) {
    let at = PAGE_HEADER + LEAF_ENTRY * i;
    p[at..at + LEAF_ENTRY].copy_from_slice(&packed.to_le_bytes()[..LEAF_ENTRY]);
}

/// The pages of an id map and its (id, raw value) entries.
pub(crate) type MapContents = (Vec<PageId>, Vec<(u64, u64)>);

/// The seed's `RecordStore`: borrows the locked pager for the length of one operation.
pub(crate) struct RecordStore<'a> {
    pager: &'a mut Pager,
}

/// The slot a record of `len` bytes would take in page `p` (the first free slot, or a
/// new one), if it fits.
fn slot_for(p: &[u8; PAGE_SIZE], len: usize) -> Option<u16> {
    let count = get_u16(p, PAGE_HEADER) as usize;
    let data_start = get_u16(p, PAGE_HEADER + 2) as usize;
    let reuse = if p[5] & HOLES_FLAG != 0 {
        (0..count).find(|s| get_u16(p, SLOTS_AT + 4 * s + 2) == 0)
    } else {
        None
    };
    let (slot, slots_end) = match reuse {
        Some(s) => (s, SLOTS_AT + 4 * count),
        None if count < MAX_SLOTS => (count, SLOTS_AT + 4 * (count + 1)),
        None => return None,
    };
    (data_start >= slots_end + len).then_some(slot as u16)
}

fn slot_entry(p: &[u8; PAGE_SIZE], page: PageId, slot: u16) -> Result<(usize, usize, bool)> {
    let count = get_u16(p, PAGE_HEADER) as usize;
    if slot as usize >= count {
        return Err(GraphError::corrupt(
            format!("slot {slot} beyond slot count {count}"),
            Some(page),
        ));
    }
    let at = SLOTS_AT + 4 * slot as usize;
    let off = get_u16(p, at) as usize;
    let raw = get_u16(p, at + 2);
    let len = (raw & !OVERFLOW_FLAG) as usize;
    if len == 0 {
        return Err(GraphError::corrupt(
            format!("pointer to freed slot {slot}"),
            Some(page),
        ));
    }
    if off < SLOTS_AT + 4 * count || off + len > PAGE_SIZE {
        return Err(GraphError::corrupt(
            format!("slot {slot} points outside the record area"),
            Some(page),
        ));
    }
    Ok((off, len, raw & OVERFLOW_FLAG != 0))
}

impl<'a> RecordStore<'a> {
    pub(crate) fn new(pager: &'a mut Pager) -> Self {
        RecordStore { pager }
    }

    pub(crate) fn pager(&mut self) -> &mut Pager {
        self.pager
    }

    /// The bytes of the record at `ptr`.
    pub(crate) fn read(&mut self, ptr: RecordPointer) -> Result<Vec<u8>> {
        let p = self.pager.fetch_typed(ptr.page, PageType::Records)?;
        let (off, len, overflow) = slot_entry(p, ptr.page, ptr.slot)?;
        if !overflow {
            return Ok(p[off..off + len].to_vec());
        }
        if len != STUB_LEN {
            return Err(GraphError::corrupt(
                "bad overflow stub length",
                Some(ptr.page),
            ));
        }
        let total = get_u32(p, off) as usize;
        let mut next = get_u64(p, off + 4);
        let pages = total.div_ceil(CHUNK);
        let mut out = Vec::with_capacity(total.min(1 << 24));
        for _ in 0..pages {
            let o = self.pager.fetch_typed(next, PageType::Overflow)?;
            let n = get_u16(o, PAGE_HEADER) as usize;
            if n > CHUNK || out.len() + n > total {
                return Err(GraphError::corrupt("overflow chunk length", Some(next)));
            }
            out.extend_from_slice(&o[CHUNK_AT..CHUNK_AT + n]);
            next = next_of(o);
        }
        if out.len() != total {
            return Err(GraphError::corrupt(
                "overflow chain shorter than its record",
                Some(ptr.page),
            ));
        }
        Ok(out)
    }

    /// Calls `f` with the bytes of the record at `ptr` and the name dictionary, the bytes
    /// borrowed from the cached page when the record is inline (no copy), read into a
    /// buffer when it overflows.
    pub(crate) fn with_bytes<R>(
        &mut self,
        ptr: RecordPointer,
        f: impl FnOnce(&[u8], &Dict) -> Result<R>,
    ) -> Result<R> {
        self.pager.fetch_typed(ptr.page, PageType::Records)?;
        let (p, meta) = self
            .pager
            .fetched_with_meta(ptr.page)
            .ok_or_else(|| GraphError::corrupt("fetched page vanished", Some(ptr.page)))?;
        let (off, len, overflow) = slot_entry(p, ptr.page, ptr.slot)?;
        if !overflow {
            return f(&p[off..off + len], &meta.dict);
        }
        let bytes = self.read(ptr)?;
        f(&bytes, &self.pager.meta().dict)
    }

    /// The header of the record at `ptr`, without decoding the rest when the record is
    /// inline.
    pub(crate) fn read_header(&mut self, ptr: RecordPointer) -> Result<RecordHeader> {
        let p = self.pager.fetch_typed(ptr.page, PageType::Records)?;
        let (off, len, overflow) = slot_entry(p, ptr.page, ptr.slot)?;
        if !overflow {
            return codec::decode_header(&p[off..off + len], Some(ptr.page));
        }
        let bytes = self.read(ptr)?;
        codec::decode_header(
            bytes.get(..MAX_RECORD_HEADER).unwrap_or(&bytes),
            Some(ptr.page),
        )
    }

    /// Stores `bytes` as a new record.
    pub(crate) fn insert(&mut self, bytes: &[u8]) -> Result<RecordPointer> {
        if bytes.len() > INLINE_MAX {
            let first = self.write_overflow(bytes)?;
            let mut stub = [0u8; STUB_LEN];
            put_u32(
                &mut stub,
                0,
                u32::try_from(bytes.len())
                    .map_err(|_| GraphError::InvalidArgument("record larger than 4 GiB".into()))?,
            );
            put_u64(&mut stub, 4, first);
            return self.insert_inline(&stub, true);
        }
        self.insert_inline(bytes, false)
    }

    fn write_overflow(&mut self, bytes: &[u8]) -> Result<PageId> {
        // Written back to front so each page can link to the one after it.
        let mut next = 0;
        let chunks: Vec<&[u8]> = bytes.chunks(CHUNK).collect();
        for chunk in chunks.iter().rev() {
            let id = self.pager.allocate(PageType::Overflow)?;
            let p = self.pager.page_mut(id)?;
            set_next(p, next);
            put_u16(p, PAGE_HEADER, chunk.len() as u16);
            p[CHUNK_AT..CHUNK_AT + chunk.len()].copy_from_slice(chunk);
            next = id;
        }
        Ok(next)
    }

    fn insert_inline(&mut self, bytes: &[u8], overflow: bool) -> Result<RecordPointer> {
        let len = bytes.len();
        let mut page = self.pager.meta().fill_page;
        let mut slot = if page == 0 {
            None
        } else {
            slot_for(self.pager.fetch_typed(page, PageType::Records)?, len)
        };
        if slot.is_none() {
            // Reuse a page that vacuum left with room before growing the file.
            let head = self.pager.meta().partial_head;
            if head != 0 {
                let page_count = self.pager.meta().page_count;
                let p = self.pager.fetch_typed(head, PageType::Records)?;
                let next = next_of(p);
                if next >= page_count {
                    return Err(GraphError::corrupt(
                        "partial-page list points outside the file",
                        Some(head),
                    ));
                }
                if let Some(s) = slot_for(p, len) {
                    let p = self.pager.page_mut(head)?;
                    p[5] &= !PARTIAL_FLAG;
                    set_next(p, 0);
                    let meta = self.pager.meta_mut();
                    meta.partial_head = next;
                    meta.fill_page = head;
                    page = head;
                    slot = Some(s);
                }
            }
        }
        let slot = match slot {
            Some(s) => s,
            None => {
                page = self.pager.allocate(PageType::Records)?;
                let p = self.pager.page_mut(page)?;
                put_u16(p, PAGE_HEADER, 0);
                put_u16(p, PAGE_HEADER + 2, PAGE_SIZE as u16);
                self.pager.meta_mut().fill_page = page;
                0
            }
        };
        let p = self.pager.page_mut(page)?;
        let count = get_u16(p, PAGE_HEADER);
        let data_start = get_u16(p, PAGE_HEADER + 2) as usize;
        let off = data_start - len;
        p[off..data_start].copy_from_slice(bytes);
        let at = SLOTS_AT + 4 * slot as usize;
        put_u16(p, at, off as u16);
        put_u16(
            p,
            at + 2,
            len as u16 | if overflow { OVERFLOW_FLAG } else { 0 },
        );
        if slot == count {
            put_u16(p, PAGE_HEADER, count + 1);
        }
        put_u16(p, PAGE_HEADER + 2, off as u16);
        Ok(RecordPointer { page, slot })
    }

    /// Moves the live records of a page together (slot numbers, and so every pointer,
    /// stay the same), drops trailing free slots, and returns the contiguous free bytes.
    pub(crate) fn compact(&mut self, page: PageId) -> Result<usize> {
        let old: Box<[u8; PAGE_SIZE]> = Box::new(*self.pager.fetch_typed(page, PageType::Records)?);
        let mut count = get_u16(&old[..], PAGE_HEADER) as usize;
        while count > 0 && get_u16(&old[..], SLOTS_AT + 4 * (count - 1) + 2) == 0 {
            count -= 1;
        }
        let mut live = Vec::new();
        for slot in 0..count as u16 {
            if get_u16(&old[..], SLOTS_AT + 4 * slot as usize + 2) != 0 {
                let (off, len, _) = slot_entry(&old, page, slot)?;
                live.push((slot, off, len));
            }
        }
        let holes = live.len() < count;
        let p = self.pager.page_mut(page)?;
        if holes {
            p[5] |= HOLES_FLAG;
        } else {
            p[5] &= !HOLES_FLAG;
        }
        let slots_end = SLOTS_AT + 4 * count;
        p[slots_end..].fill(0);
        let mut cursor = PAGE_SIZE;
        for (slot, off, len) in live {
            cursor -= len;
            p[cursor..cursor + len].copy_from_slice(&old[off..off + len]);
            let at = SLOTS_AT + 4 * slot as usize;
            put_u16(p, at, cursor as u16);
        }
        put_u16(p, PAGE_HEADER, count as u16);
        put_u16(p, PAGE_HEADER + 2, cursor as u16);
        Ok(cursor - slots_end)
    }

    /// After vacuum freed records in `page`: compacts it and, if that leaves at least a
    /// quarter of a page free, puts it on the partial-page list for reuse.
    pub(crate) fn reclaim(&mut self, page: PageId) -> Result<()> {
        let fill = self.pager.meta().fill_page;
        let p = self.pager.fetch_page(page)?;
        if PageType::of(p, page)? != PageType::Records || fill == page {
            return Ok(());
        }
        let listed = p[5] & PARTIAL_FLAG != 0;
        let free = self.compact(page)?;
        if !listed && free >= PAGE_SIZE / 4 {
            let head = self.pager.meta().partial_head;
            let p = self.pager.page_mut(page)?;
            p[5] |= PARTIAL_FLAG;
            set_next(p, head);
            self.pager.meta_mut().partial_head = page;
        }
        Ok(())
    }

    /// Rewrites the `prev` pointer of a stored record in place (vacuum cuts chains). A
    /// record written without a `prev` field can only be given none.
    pub(crate) fn patch_prev(
        &mut self,
        ptr: RecordPointer,
        prev: Option<RecordPointer>,
    ) -> Result<()> {
        let raw = prev.map_or(0, RecordPointer::encode);
        let p = self.pager.fetch_typed(ptr.page, PageType::Records)?;
        let (off, len, overflow) = slot_entry(p, ptr.page, ptr.slot)?;
        let (page, at) = if overflow {
            let first = get_u64(p, off + 4);
            (first, CHUNK_AT)
        } else {
            (ptr.page, off)
        };
        let kind = if overflow {
            PageType::Overflow
        } else {
            PageType::Records
        };
        let b = self.pager.fetch_typed(page, kind)?;
        let fits = overflow || len >= PREV_OFFSET + 8;
        if !codec::has_prev_field(b[at]) || !fits {
            if prev.is_none() {
                return Ok(());
            }
            return Err(GraphError::corrupt(
                "record has no prev field to patch",
                Some(ptr.page),
            ));
        }
        let p = self.pager.page_mut(page)?;
        put_u64(p, at + PREV_OFFSET, raw);
        Ok(())
    }

    /// The live slots of a records page (for the integrity check).
    pub(crate) fn live_slots(&mut self, page: PageId) -> Result<Vec<u16>> {
        let p = self.pager.fetch_typed(page, PageType::Records)?;
        let count = get_u16(p, PAGE_HEADER);
        let mut live = Vec::new();
        for slot in 0..count {
            if get_u16(p, SLOTS_AT + 4 * slot as usize + 2) != 0 {
                slot_entry(p, page, slot)?;
                live.push(slot);
            }
        }
        Ok(live)
    }

    /// The overflow pages holding the record at `ptr` (empty for an inline record).
    pub(crate) fn overflow_pages(&mut self, ptr: RecordPointer) -> Result<Vec<PageId>> {
        let p = self.pager.fetch_typed(ptr.page, PageType::Records)?;
        let (off, _, overflow) = slot_entry(p, ptr.page, ptr.slot)?;
        if !overflow {
            return Ok(Vec::new());
        }
        let total = get_u32(p, off) as usize;
        let mut next = get_u64(p, off + 4);
        let mut pages = Vec::new();
        for _ in 0..total.div_ceil(CHUNK) {
            pages.push(next);
            next = next_of(self.pager.fetch_typed(next, PageType::Overflow)?);
        }
        Ok(pages)
    }

    /// The map pages under `root` and every (id, raw value) stored in them.
    pub(crate) fn map_walk(&mut self, root: PageId) -> Result<MapContents> {
        let mut pages = Vec::new();
        let mut entries = Vec::new();
        if root == 0 {
            return Ok((pages, entries));
        }
        let mut stack = vec![(root, 0usize, 0u64)];
        while let Some((page, level, base)) = stack.pop() {
            pages.push(page);
            let kind = if level == 2 {
                PageType::MapLeaf
            } else {
                PageType::MapInner
            };
            let p = self.pager.fetch_typed(page, kind)?;
            if level == 2 {
                for i in 0..LEAF_FANOUT {
                    let v = get_leaf(p, i as usize);
                    if v != 0 {
                        entries.push((base + i, v));
                    }
                }
                continue;
            }
            let scale = if level == 0 {
                FANOUT * LEAF_FANOUT
            } else {
                LEAF_FANOUT
            };
            for i in 0..FANOUT {
                let v = get_u64(p, PAGE_HEADER + 8 * i as usize);
                if v != 0 {
                    stack.push((v, level + 1, base + i * scale));
                }
            }
        }
        Ok((pages, entries))
    }

    /// Frees a record; a records page whose every slot is free goes back to the free list.
    pub(crate) fn delete(&mut self, ptr: RecordPointer) -> Result<()> {
        let p = self.pager.fetch_typed(ptr.page, PageType::Records)?;
        let (off, _, overflow) = slot_entry(p, ptr.page, ptr.slot)?;
        if overflow {
            let total = get_u32(p, off) as usize;
            let mut next = get_u64(p, off + 4);
            for _ in 0..total.div_ceil(CHUNK) {
                let after = next_of(self.pager.fetch_typed(next, PageType::Overflow)?);
                self.pager.free(next)?;
                next = after;
            }
        }
        let p = self.pager.page_mut(ptr.page)?;
        let at = SLOTS_AT + 4 * ptr.slot as usize;
        put_u16(p, at, 0);
        put_u16(p, at + 2, 0);
        p[5] |= HOLES_FLAG;
        let count = get_u16(p, PAGE_HEADER) as usize;
        // From the end: records are freed mostly in slot order, so a live slot is found
        // at once.
        let empty = (0..count)
            .rev()
            .all(|s| get_u16(p, SLOTS_AT + 4 * s + 2) == 0);
        // A page on the partial list stays there even when empty: unlinking it from
        // the middle of a singly linked list is not worth it, and it is reused first.
        let listed = p[5] & PARTIAL_FLAG != 0;
        if empty && !listed && self.pager.meta().fill_page != ptr.page {
            self.pager.free(ptr.page)?;
        }
        Ok(())
    }

    fn split(id: u64) -> Result<[usize; 3]> {
        if id == 0 || id > MAX_ID {
            return Err(GraphError::InvalidArgument(format!(
                "id {id} outside 1..={MAX_ID}"
            )));
        }
        Ok([
            (id / (FANOUT * LEAF_FANOUT)) as usize,
            ((id / LEAF_FANOUT) % FANOUT) as usize,
            (id % LEAF_FANOUT) as usize,
        ])
    }

    /// The raw value stored for `id` in the map rooted at `root` (0 if none).
    pub(crate) fn map_get(&mut self, root: PageId, id: u64) -> Result<u64> {
        let idx = Self::split(id)?;
        let key = id / LEAF_FANOUT;
        if let Some(leaf) = self.pager.memo_leaf(root, key) {
            let p = self.pager.fetch_typed(leaf, PageType::MapLeaf)?;
            return Ok(get_leaf(p, idx[2]));
        }
        let mut page = root;
        for (level, i) in idx.iter().enumerate() {
            if page == 0 {
                return Ok(0);
            }
            let kind = if level == 2 {
                PageType::MapLeaf
            } else {
                PageType::MapInner
            };
            let p = self.pager.fetch_typed(page, kind)?;
            if level == 2 {
                let v = get_leaf(p, *i);
                self.pager.remember_leaf(root, key, page);
                return Ok(v);
            }
            page = get_u64(p, PAGE_HEADER + 8 * i);
        }
        Ok(page)
    }

    /// Stores `value` for `id`, creating map pages as needed; updates `root`.
    pub(crate) fn map_set(&mut self, root: &mut PageId, id: u64, value: u64) -> Result<()> {
        let idx = Self::split(id)?;
        let packed = pack_leaf(value)?;
        if *root == 0 {
            *root = self.pager.allocate(PageType::MapInner)?;
        }
        let mut page = *root;
        for (level, i) in idx.iter().enumerate() {
            let at = PAGE_HEADER + 8 * i;
            if level == 2 {
                self.pager.fetch_typed(page, PageType::MapLeaf)?;
                put_leaf(self.pager.page_mut(page)?, *i, packed);
                return Ok(());
            }
            self.pager.fetch_typed(page, PageType::MapInner)?;
            let mut child = get_u64(self.pager.fetch_page(page)?, at);
            if child == 0 {
                let kind = if level == 1 {
                    PageType::MapLeaf
                } else {
                    PageType::MapInner
                };
                child = self.pager.allocate(kind)?;
                put_u64(self.pager.page_mut(page)?, at, child);
            }
            page = child;
        }
        Ok(())
    }
}
