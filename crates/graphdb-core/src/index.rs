//! Persistent secondary indexes: a catalog page naming each index and its root, and one
//! B+tree of byte keys per index, stored in the same checksummed pages and logged with
//! the same commits as the records they describe.
//!
//! An index entry is a key without a value. A label index on `L` holds the big-endian
//! id of every node version carrying `L`; a property index on `(L, k)` holds the
//! order-preserving encoding of the value of `k` followed by the node id. Entries are
//! added when a version is committed and removed only when vacuum frees the last
//! version that produced them, so every version any snapshot can still see has its
//! entries. A lookup therefore treats the index as a superset of candidates and checks
//! each candidate against the version its snapshot sees: that is what keeps an index
//! consistent under MVCC without versioning the entries themselves.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crate::error::{GraphError, Result};
use crate::page::{get_u16, get_u64, next_of, put_u16, put_u64, set_next};
use crate::page::{PageType, PAGE_HEADER, PAGE_SIZE};
use crate::pager::Pager;
use crate::types::{NodeId, PageId, Properties, PropertyValue};

/// Encoded values longer than this are cut to this length in property-index keys. A cut
/// key can only add candidates (lookups re-check every candidate), never hide one, because
/// cutting keeps the order of keys and the encoding is prefix-free.
pub(crate) const MAX_VALUE_KEY: usize = 512;
const COUNT_AT: usize = PAGE_HEADER;
const ENTRIES_AT: usize = PAGE_HEADER + 2;
/// Deepest tree the reader follows before calling the file corrupt (a cycle guard; a real
/// tree of 8 KiB pages with keys of at most ~530 bytes is far shallower).
const MAX_DEPTH: usize = 32;

/// Which nodes an index covers: every node carrying `label` (a label index), or those
/// that also have the property `property` (a property index, keyed by its value).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndexDef {
    /// The label a node must carry to be indexed.
    pub label: String,
    /// The property whose value is the key; `None` for a label index.
    pub property: Option<String>,
}

impl IndexDef {
    /// A label index: `get_nodes_by_label(label)` reads it instead of scanning.
    pub fn label(label: impl Into<String>) -> Self {
        IndexDef {
            label: label.into(),
            property: None,
        }
    }

    /// A property index: `find_nodes_by_property(label, property, ..)` and the range
    /// lookups read it instead of scanning.
    pub fn property(label: impl Into<String>, property: impl Into<String>) -> Self {
        IndexDef {
            label: label.into(),
            property: Some(property.into()),
        }
    }

    /// The key this index holds for one node version, if the version is covered.
    pub(crate) fn key_for(
        &self,
        id: NodeId,
        labels: &[String],
        props: &Properties,
    ) -> Option<Vec<u8>> {
        if !labels.contains(&self.label) {
            return None;
        }
        match &self.property {
            None => Some(id.to_be_bytes().to_vec()),
            Some(k) => props.get(k).map(|v| {
                let mut key = value_key(v);
                key.extend_from_slice(&id.to_be_bytes());
                key
            }),
        }
    }
}

impl std::fmt::Display for IndexDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.property {
            None => write!(f, ":{}", self.label),
            Some(k) => write!(f, ":{}({})", self.label, k),
        }
    }
}

/// One catalog entry: an index and the root page of its tree (0 = empty tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CatalogEntry {
    pub(crate) def: IndexDef,
    pub(crate) root: PageId,
}

// ----- the order-preserving value encoding -----

/// Appends the order-preserving encoding of `v`: comparing two encodings byte by byte
/// gives the index order of the values (by type first: null, bool, int, float, string,
/// bytes, list; then by value). The encoding is prefix-free.
pub(crate) fn encode_value(v: &PropertyValue, out: &mut Vec<u8>) {
    match v {
        PropertyValue::Null => out.push(0x10),
        PropertyValue::Bool(b) => {
            out.push(0x20);
            out.push(u8::from(*b));
        }
        PropertyValue::Int(i) => {
            out.push(0x30);
            out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes());
        }
        PropertyValue::Float(f) => {
            out.push(0x40);
            let bits = f.to_bits();
            // Negative floats reverse their order when read as integers; flipping every
            // bit of those and only the sign bit of the others gives IEEE total order.
            let ordered = if bits >> 63 == 1 {
                !bits
            } else {
                bits | (1 << 63)
            };
            out.extend_from_slice(&ordered.to_be_bytes());
        }
        PropertyValue::String(s) => {
            out.push(0x50);
            escape(s.as_bytes(), out);
        }
        PropertyValue::Bytes(b) => {
            out.push(0x60);
            escape(b, out);
        }
        PropertyValue::List(items) => {
            out.push(0x70);
            for item in items {
                out.push(1);
                encode_value(item, out);
            }
            out.push(0);
        }
    }
}

/// Zero bytes become `00 FF` and the text ends with `00 00`, so a shorter text sorts
/// before every longer text it is a prefix of.
fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// The encoding of `v`, cut to [`MAX_VALUE_KEY`] bytes.
pub(crate) fn value_key(v: &PropertyValue) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(v, &mut out);
    out.truncate(MAX_VALUE_KEY);
    out
}

/// The order the property indexes use: by type (null, bool, int, float, string, bytes,
/// list), then by value; floats in IEEE total order (so `-0.0 < 0.0` and NaN sorts past
/// infinity), strings and bytes lexicographically by byte. Two values are equal in this
/// order exactly when they are the same type and the same bits, which is the equality
/// `find_nodes_by_property` uses, with or without an index.
pub fn compare_values(a: &PropertyValue, b: &PropertyValue) -> Ordering {
    // The same order as comparing the encodings (a unit test checks it), without
    // allocating: lookups compare every candidate.
    use PropertyValue as V;
    fn rank(v: &PropertyValue) -> u8 {
        match v {
            V::Null => 0,
            V::Bool(_) => 1,
            V::Int(_) => 2,
            V::Float(_) => 3,
            V::String(_) => 4,
            V::Bytes(_) => 5,
            V::List(_) => 6,
        }
    }
    match (a, b) {
        (V::Bool(x), V::Bool(y)) => x.cmp(y),
        (V::Int(x), V::Int(y)) => x.cmp(y),
        (V::Float(x), V::Float(y)) => x.total_cmp(y),
        (V::String(x), V::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (V::Bytes(x), V::Bytes(y)) => x.cmp(y),
        (V::List(x), V::List(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = compare_values(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

// ----- the catalog page -----

/// The indexes listed on the catalog page (none when the file has no catalog).
pub(crate) fn load_catalog(pager: &mut Pager) -> Result<Vec<CatalogEntry>> {
    let page = pager.meta().index_catalog;
    if page == 0 {
        return Ok(Vec::new());
    }
    let p = pager.fetch_typed(page, PageType::IndexCatalog)?;
    let bad = || GraphError::corrupt("index catalog entry runs past the page", Some(page));
    let count = get_u16(p, COUNT_AT) as usize;
    let mut at = ENTRIES_AT;
    let mut out = Vec::with_capacity(count);
    let text = |p: &[u8; PAGE_SIZE], at: &mut usize| -> Result<String> {
        if *at + 2 > PAGE_SIZE {
            return Err(bad());
        }
        let len = get_u16(p, *at) as usize;
        *at += 2;
        let bytes = p.get(*at..*at + len).ok_or_else(bad)?;
        *at += len;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| GraphError::corrupt("index catalog name is not UTF-8", Some(page)))
    };
    for _ in 0..count {
        let label = text(p, &mut at)?;
        let flag = *p.get(at).ok_or_else(bad)?;
        at += 1;
        let key = text(p, &mut at)?;
        if at + 8 > PAGE_SIZE {
            return Err(bad());
        }
        let root = get_u64(p, at);
        at += 8;
        let property = match flag {
            0 => None,
            1 => Some(key),
            other => {
                return Err(GraphError::corrupt(
                    format!("index catalog kind {other}"),
                    Some(page),
                ))
            }
        };
        out.push(CatalogEntry {
            def: IndexDef { label, property },
            root,
        });
    }
    Ok(out)
}

/// Writes the catalog (allocating its page the first time).
pub(crate) fn store_catalog(pager: &mut Pager, entries: &[CatalogEntry]) -> Result<()> {
    let mut buf = Vec::new();
    buf.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for e in entries {
        let key = e.def.property.as_deref().unwrap_or("");
        for (i, text) in [e.def.label.as_str(), key].into_iter().enumerate() {
            let len = u16::try_from(text.len()).map_err(|_| {
                GraphError::InvalidArgument(format!("index name {text:?} is too long"))
            })?;
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(text.as_bytes());
            if i == 0 {
                buf.push(u8::from(e.def.property.is_some()));
            }
        }
        buf.extend_from_slice(&e.root.to_le_bytes());
    }
    if COUNT_AT + buf.len() > PAGE_SIZE {
        return Err(GraphError::InvalidArgument(
            "the index catalog is full (one page of names)".into(),
        ));
    }
    let mut page = pager.meta().index_catalog;
    if page == 0 {
        page = pager.allocate(PageType::IndexCatalog)?;
        pager.meta_mut().index_catalog = page;
    }
    let p = pager.page_mut(page)?;
    p[COUNT_AT..].fill(0);
    p[COUNT_AT..COUNT_AT + buf.len()].copy_from_slice(&buf);
    Ok(())
}

// ----- the B+tree -----

type Keys = Vec<Vec<u8>>;
/// A page still to visit in [`tree_walk`]: the page, its depth, and the bounds its keys
/// must respect (inclusive lower, exclusive upper).
type WalkItem = (PageId, usize, Option<Vec<u8>>, Option<Vec<u8>>);

fn read_leaf(p: &[u8; PAGE_SIZE], page: PageId) -> Result<Keys> {
    let count = get_u16(p, COUNT_AT) as usize;
    let mut at = ENTRIES_AT;
    let mut keys = Vec::with_capacity(count);
    for _ in 0..count {
        if at + 2 > PAGE_SIZE {
            return Err(GraphError::corrupt(
                "index leaf entry past the page",
                Some(page),
            ));
        }
        let len = get_u16(p, at) as usize;
        at += 2;
        let key = p
            .get(at..at + len)
            .ok_or_else(|| GraphError::corrupt("index leaf key past the page", Some(page)))?;
        keys.push(key.to_vec());
        at += len;
    }
    Ok(keys)
}

/// Where a key is or would go in a leaf, found by reading the page in place.
struct Spot {
    /// Byte offset of the key's entry (or of the first larger key's, or of `end`).
    at: usize,
    /// Whether the key is there.
    found: bool,
    /// The end of the last entry.
    end: usize,
}

fn leaf_find(p: &[u8; PAGE_SIZE], page: PageId, key: &[u8]) -> Result<Spot> {
    let bad = || GraphError::corrupt("index leaf key past the page", Some(page));
    let count = get_u16(p, COUNT_AT) as usize;
    let mut at = ENTRIES_AT;
    let mut spot: Option<(usize, bool)> = None;
    for _ in 0..count {
        if at + 2 > PAGE_SIZE {
            return Err(bad());
        }
        let len = get_u16(p, at) as usize;
        let k = p.get(at + 2..at + 2 + len).ok_or_else(bad)?;
        if spot.is_none() && k >= key {
            spot = Some((at, k == key));
        }
        at += 2 + len;
    }
    let (found_at, found) = spot.unwrap_or((at, false));
    Ok(Spot {
        at: found_at,
        found,
        end: at,
    })
}

fn write_leaf(p: &mut [u8; PAGE_SIZE], keys: &[Vec<u8>]) {
    put_u16(p, COUNT_AT, keys.len() as u16);
    let mut at = ENTRIES_AT;
    for k in keys {
        put_u16(p, at, k.len() as u16);
        at += 2;
        p[at..at + k.len()].copy_from_slice(k);
        at += k.len();
    }
    p[at..].fill(0);
}

/// An inner page: `children.len() == seps.len() + 1`; `seps[i]` is the smallest key that
/// may be stored under `children[i + 1]`.
struct Inner {
    children: Vec<PageId>,
    seps: Keys,
}

fn read_inner(p: &[u8; PAGE_SIZE], page: PageId) -> Result<Inner> {
    let bad = || GraphError::corrupt("index inner entry past the page", Some(page));
    let count = get_u16(p, COUNT_AT) as usize;
    if count == 0 {
        return Err(GraphError::corrupt(
            "index inner page without children",
            Some(page),
        ));
    }
    let mut at = ENTRIES_AT;
    let mut children = Vec::with_capacity(count);
    let mut seps = Vec::with_capacity(count - 1);
    if at + 8 > PAGE_SIZE {
        return Err(bad());
    }
    children.push(get_u64(p, at));
    at += 8;
    for _ in 1..count {
        if at + 2 > PAGE_SIZE {
            return Err(bad());
        }
        let len = get_u16(p, at) as usize;
        at += 2;
        seps.push(p.get(at..at + len).ok_or_else(bad)?.to_vec());
        at += len;
        if at + 8 > PAGE_SIZE {
            return Err(bad());
        }
        children.push(get_u64(p, at));
        at += 8;
    }
    Ok(Inner { children, seps })
}

/// The child of an inner page whose range holds `key` (the last child whose separator is
/// at most `key`), and its index, found by reading the page in place.
fn child_for(p: &[u8; PAGE_SIZE], page: PageId, key: &[u8]) -> Result<(usize, PageId)> {
    let bad = || GraphError::corrupt("index inner entry past the page", Some(page));
    let count = get_u16(p, COUNT_AT) as usize;
    if count == 0 || ENTRIES_AT + 8 > PAGE_SIZE {
        return Err(GraphError::corrupt(
            "index inner page without children",
            Some(page),
        ));
    }
    let mut at = ENTRIES_AT;
    let mut child = get_u64(p, at);
    at += 8;
    let mut idx = 0;
    for i in 1..count {
        if at + 2 > PAGE_SIZE {
            return Err(bad());
        }
        let len = get_u16(p, at) as usize;
        let sep = p.get(at + 2..at + 2 + len).ok_or_else(bad)?;
        at += 2 + len;
        if at + 8 > PAGE_SIZE {
            return Err(bad());
        }
        if sep > key {
            break;
        }
        child = get_u64(p, at);
        idx = i;
        at += 8;
    }
    Ok((idx, child))
}

fn inner_size(n: &Inner) -> usize {
    ENTRIES_AT + 8 + n.seps.iter().map(|k| 2 + k.len() + 8).sum::<usize>()
}

fn write_inner(p: &mut [u8; PAGE_SIZE], n: &Inner) {
    put_u16(p, COUNT_AT, n.children.len() as u16);
    let mut at = ENTRIES_AT;
    put_u64(p, at, n.children[0]);
    at += 8;
    for (sep, child) in n.seps.iter().zip(&n.children[1..]) {
        put_u16(p, at, sep.len() as u16);
        at += 2;
        p[at..at + sep.len()].copy_from_slice(sep);
        at += sep.len();
        put_u64(p, at, *child);
        at += 8;
    }
    p[at..].fill(0);
}

/// The leaf that holds (or would hold) `key`, and the inner pages above it with the child
/// index taken in each.
fn descend(pager: &mut Pager, root: PageId, key: &[u8]) -> Result<(PageId, Vec<(PageId, usize)>)> {
    let mut path = Vec::new();
    let mut page = root;
    loop {
        if path.len() > MAX_DEPTH {
            return Err(GraphError::corrupt(
                "index tree deeper than possible (a cycle?)",
                Some(root),
            ));
        }
        let p = pager.fetch_page(page)?;
        match PageType::of(p, page)? {
            PageType::IndexLeaf => return Ok((page, path)),
            PageType::IndexInner => {
                let (idx, child) = child_for(p, page, key)?;
                path.push((page, idx));
                page = child;
            }
            other => {
                return Err(GraphError::corrupt(
                    format!("index tree reaches a {other:?} page"),
                    Some(page),
                ))
            }
        }
    }
}

/// Where to cut a list of keys so both halves take about the same bytes (each non-empty).
fn split_point(sizes: impl Iterator<Item = usize>, len: usize) -> usize {
    let sizes: Vec<usize> = sizes.collect();
    let total: usize = sizes.iter().sum();
    let mut acc = 0;
    for (i, s) in sizes.iter().enumerate() {
        acc += s;
        if acc * 2 >= total {
            return (i + 1).clamp(1, len.saturating_sub(1).max(1));
        }
    }
    len / 2
}

/// Adds `key` to the tree at `root` (creating the tree when `root` is 0). Returns whether
/// the key was new. Splits full pages on the way back up, so `root` may change.
pub(crate) fn tree_insert(pager: &mut Pager, root: &mut PageId, key: &[u8]) -> Result<bool> {
    if *root == 0 {
        let leaf = pager.allocate(PageType::IndexLeaf)?;
        write_leaf(pager.page_mut(leaf)?, &[key.to_vec()]);
        *root = leaf;
        return Ok(true);
    }
    let (leaf, mut path) = descend(pager, *root, key)?;
    let spot = leaf_find(pager.fetch_page(leaf)?, leaf, key)?;
    if spot.found {
        return Ok(false);
    }
    if spot.end + 2 + key.len() <= PAGE_SIZE {
        // The common case, in place: shift the larger keys up and write this one.
        let p = pager.page_mut(leaf)?;
        p.copy_within(spot.at..spot.end, spot.at + 2 + key.len());
        put_u16(p, spot.at, key.len() as u16);
        p[spot.at + 2..spot.at + 2 + key.len()].copy_from_slice(key);
        let count = get_u16(p, COUNT_AT);
        put_u16(p, COUNT_AT, count + 1);
        return Ok(true);
    }
    let mut keys = read_leaf(pager.fetch_page(leaf)?, leaf)?;
    let pos = match keys.binary_search_by(|k| k.as_slice().cmp(key)) {
        Ok(_) => return Ok(false),
        Err(pos) => pos,
    };
    keys.insert(pos, key.to_vec());
    let mid = split_point(keys.iter().map(|k| k.len() + 2), keys.len());
    let right_keys = keys.split_off(mid);
    let right = pager.allocate(PageType::IndexLeaf)?;
    let old_next = next_of(pager.fetch_page(leaf)?);
    {
        let p = pager.page_mut(right)?;
        write_leaf(p, &right_keys);
        set_next(p, old_next);
    }
    {
        let p = pager.page_mut(leaf)?;
        write_leaf(p, &keys);
        set_next(p, right);
    }
    let mut sep = right_keys[0].clone();
    let mut new_child = right;
    while let Some((parent, idx)) = path.pop() {
        let mut n = read_inner(pager.fetch_page(parent)?, parent)?;
        n.children.insert(idx + 1, new_child);
        n.seps.insert(idx, sep);
        if inner_size(&n) <= PAGE_SIZE {
            write_inner(pager.page_mut(parent)?, &n);
            return Ok(true);
        }
        let m = split_point(n.seps.iter().map(|k| k.len() + 10), n.seps.len());
        let right_seps = n.seps.split_off(m + 1);
        let up = n.seps.pop().unwrap_or_default();
        let right_children = n.children.split_off(m + 1);
        let right_node = Inner {
            children: right_children,
            seps: right_seps,
        };
        let right_page = pager.allocate(PageType::IndexInner)?;
        write_inner(pager.page_mut(right_page)?, &right_node);
        write_inner(pager.page_mut(parent)?, &n);
        sep = up;
        new_child = right_page;
    }
    let new_root = pager.allocate(PageType::IndexInner)?;
    write_inner(
        pager.page_mut(new_root)?,
        &Inner {
            children: vec![*root, new_child],
            seps: vec![sep],
        },
    );
    *root = new_root;
    Ok(true)
}

/// Removes `key` from the tree; returns whether it was there. Pages are never merged:
/// an emptied leaf stays linked and costs a page until the index is rebuilt.
pub(crate) fn tree_remove(pager: &mut Pager, root: PageId, key: &[u8]) -> Result<bool> {
    if root == 0 {
        return Ok(false);
    }
    let (leaf, _) = descend(pager, root, key)?;
    let spot = leaf_find(pager.fetch_page(leaf)?, leaf, key)?;
    if !spot.found {
        return Ok(false);
    }
    let p = pager.page_mut(leaf)?;
    let len = 2 + key.len();
    p.copy_within(spot.at + len..spot.end, spot.at);
    p[spot.end - len..spot.end].fill(0);
    let count = get_u16(p, COUNT_AT);
    put_u16(p, COUNT_AT, count.saturating_sub(1));
    Ok(true)
}

/// Calls `f` on every key in `lo..=hi` in order, until `f` returns false.
pub(crate) fn tree_scan(
    pager: &mut Pager,
    root: PageId,
    lo: &[u8],
    hi: &[u8],
    mut f: impl FnMut(&[u8]) -> bool,
) -> Result<()> {
    if root == 0 {
        return Ok(());
    }
    let (mut leaf, _) = descend(pager, root, lo)?;
    let limit = pager.meta().page_count;
    let mut visited = 0u64;
    while leaf != 0 {
        visited += 1;
        if visited > limit {
            return Err(GraphError::corrupt(
                "index leaf chain has a cycle",
                Some(leaf),
            ));
        }
        let p = pager.fetch_typed(leaf, PageType::IndexLeaf)?;
        let next = next_of(p);
        // Keys are read in place: a scan allocates nothing per key.
        let count = get_u16(p, COUNT_AT) as usize;
        let mut at = ENTRIES_AT;
        for _ in 0..count {
            let bad = || GraphError::corrupt("index leaf key past the page", Some(leaf));
            if at + 2 > PAGE_SIZE {
                return Err(bad());
            }
            let len = get_u16(p, at) as usize;
            let k = p.get(at + 2..at + 2 + len).ok_or_else(bad)?;
            at += 2 + len;
            if k < lo {
                continue;
            }
            if k > hi || !f(k) {
                return Ok(());
            }
        }
        leaf = next;
    }
    Ok(())
}

/// Every page of the tree and every key in key order, checking the tree's shape on the
/// way: separators bound their subtrees, leaves are sorted and linked left to right.
/// Shape problems go to `problems`; unreadable pages end the walk with an error.
pub(crate) fn tree_walk(
    pager: &mut Pager,
    root: PageId,
    problems: &mut Vec<String>,
    name: &str,
) -> Result<(Vec<PageId>, Keys)> {
    let mut pages = Vec::new();
    let mut keys: Keys = Vec::new();
    let mut leaves = Vec::new();
    if root == 0 {
        return Ok((pages, keys));
    }
    // (page, depth, lower bound, upper bound)
    let mut stack: Vec<WalkItem> = vec![(root, 0, None, None)];
    let mut seen = BTreeSet::new();
    let mut leaf_depth = None;
    while let Some((page, depth, lo, hi)) = stack.pop() {
        if depth > MAX_DEPTH || !seen.insert(page) {
            problems.push(format!(
                "index {name}: page {page} reached twice or too deep"
            ));
            continue;
        }
        pages.push(page);
        let p = pager.fetch_page(page)?;
        let in_bounds =
            |k: &[u8]| lo.as_deref().is_none_or(|l| k >= l) && hi.as_deref().is_none_or(|h| k < h);
        match PageType::of(p, page)? {
            PageType::IndexLeaf => {
                if *leaf_depth.get_or_insert(depth) != depth {
                    problems.push(format!("index {name}: leaves at different depths"));
                }
                let ks = read_leaf(p, page)?;
                for k in &ks {
                    if !in_bounds(k) {
                        problems.push(format!(
                            "index {name}: leaf {page} holds a key outside its parent's range"
                        ));
                        break;
                    }
                }
                leaves.push((page, next_of(p)));
                keys.extend(ks);
            }
            PageType::IndexInner => {
                let n = read_inner(p, page)?;
                if n.seps.windows(2).any(|w| w[0] >= w[1]) || n.seps.iter().any(|s| !in_bounds(s)) {
                    problems.push(format!(
                        "index {name}: separators of page {page} out of order"
                    ));
                }
                // Pushed right to left so the walk visits leaves in key order.
                for i in (0..n.children.len()).rev() {
                    let clo = if i == 0 {
                        lo.clone()
                    } else {
                        Some(n.seps[i - 1].clone())
                    };
                    let chi = if i == n.seps.len() {
                        hi.clone()
                    } else {
                        Some(n.seps[i].clone())
                    };
                    stack.push((n.children[i], depth + 1, clo, chi));
                }
            }
            other => {
                problems.push(format!(
                    "index {name}: tree reaches a {other:?} page {page}"
                ));
            }
        }
    }
    if keys.windows(2).any(|w| w[0] >= w[1]) {
        problems.push(format!(
            "index {name}: keys not in strictly increasing order"
        ));
    }
    for w in leaves.windows(2) {
        if w[0].1 != w[1].0 {
            problems.push(format!(
                "index {name}: leaf {} links to {} instead of {}",
                w[0].0, w[0].1, w[1].0
            ));
        }
    }
    if let Some((last, next)) = leaves.last() {
        if *next != 0 {
            problems.push(format!("index {name}: last leaf {last} links to {next}"));
        }
    }
    Ok((pages, keys))
}

/// Frees every page of the tree.
pub(crate) fn tree_free(pager: &mut Pager, root: PageId) -> Result<()> {
    let mut ignored = Vec::new();
    let (pages, _) = tree_walk(pager, root, &mut ignored, "dropped")?;
    for p in pages {
        pager.free(p)?;
    }
    Ok(())
}

/// Adds the entries of freshly written node versions to every index (inside the commit
/// being built, so the entries are logged atomically with the versions).
pub(crate) fn on_commit(pager: &mut Pager, nodes: &[&crate::types::Node]) -> Result<()> {
    if nodes.is_empty() || pager.meta().index_catalog == 0 {
        return Ok(());
    }
    let mut catalog = load_catalog(pager)?;
    let mut moved = false;
    for e in &mut catalog {
        for n in nodes {
            if let Some(k) = e.def.key_for(n.id, &n.labels, &n.properties) {
                let before = e.root;
                tree_insert(pager, &mut e.root, &k)?;
                moved |= e.root != before;
            }
        }
    }
    if moved {
        store_catalog(pager, &catalog)?;
    }
    Ok(())
}

/// The node id at the end of an index key.
pub(crate) fn key_node(key: &[u8]) -> Option<NodeId> {
    let tail = key.len().checked_sub(8).map(|at| &key[at..])?;
    let mut b = [0u8; 8];
    b.copy_from_slice(tail);
    Some(u64::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemStorage;
    use std::sync::Arc;

    fn pager() -> Pager {
        let mode = crate::pager::OpenMode {
            create: true,
            strict: false,
            main_name: "main".into(),
            log_name: "log".into(),
        };
        Pager::open(
            Arc::new(MemStorage::new()),
            Arc::new(MemStorage::new()),
            crate::pager::CacheSizing::Fixed(64),
            &mode,
        )
        .unwrap()
        .0
    }

    #[test]
    fn encoding_orders_like_values() {
        use PropertyValue as V;
        let ordered = [
            V::Null,
            V::Bool(false),
            V::Bool(true),
            V::Int(i64::MIN),
            V::Int(-1),
            V::Int(0),
            V::Int(7),
            V::Int(i64::MAX),
            V::Float(f64::NEG_INFINITY),
            V::Float(-1.5),
            V::Float(-0.0),
            V::Float(0.0),
            V::Float(2.0),
            V::Float(f64::INFINITY),
            V::String(String::new()),
            V::String("a".into()),
            V::String("a\0".into()),
            V::String("ab".into()),
            V::Bytes(vec![]),
            V::Bytes(vec![0]),
            V::List(vec![]),
            V::List(vec![V::Int(1)]),
            V::List(vec![V::Int(1), V::Int(0)]),
            V::List(vec![V::Int(2)]),
        ];
        for w in ordered.windows(2) {
            assert_eq!(compare_values(&w[0], &w[1]), Ordering::Less, "{w:?}");
        }
        // The structural comparison agrees with comparing encodings, for every pair.
        let more = [
            V::Float(f64::NAN),
            V::Float(-f64::NAN),
            V::String("\0".into()),
        ];
        for a in ordered.iter().chain(&more) {
            for b in ordered.iter().chain(&more) {
                let (mut x, mut y) = (Vec::new(), Vec::new());
                encode_value(a, &mut x);
                encode_value(b, &mut y);
                assert_eq!(compare_values(a, b), x.cmp(&y), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn tree_holds_many_keys_in_order() {
        let mut pager = pager();
        let mut root = 0;
        let mut model = BTreeSet::new();
        let mut x: u64 = 12345;
        for i in 0..6000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (x >> 60) as usize * 20 + 1;
            let mut key = vec![(x >> 32) as u8; len];
            key.extend_from_slice(&i.to_be_bytes());
            assert!(tree_insert(&mut pager, &mut root, &key).unwrap());
            model.insert(key);
        }
        for k in model.iter().step_by(3) {
            assert!(tree_remove(&mut pager, root, k).unwrap());
        }
        let model: Vec<Vec<u8>> = model
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % 3 != 0)
            .map(|(_, k)| k)
            .collect();
        let mut problems = Vec::new();
        let (_, keys) = tree_walk(&mut pager, root, &mut problems, "t").unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(keys, model);
        let mut scanned = Vec::new();
        tree_scan(&mut pager, root, &model[10], &model[500], |k| {
            scanned.push(k.to_vec());
            true
        })
        .unwrap();
        assert_eq!(scanned, model[10..=500].to_vec());
    }
}
