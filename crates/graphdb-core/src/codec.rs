//! Byte encoding of record versions and property values (format version 4).
//!
//! Records use variable-length integers (LEB128, signed values zigzag-encoded)
//! throughout, from a header of one flags byte and varints, and name labels, edge types
//! and property keys by their number in the header page's [`Dict`] (a name that is not in
//! it is written inline). A node version carries its adjacency first: a small
//! table of the edge types its entries name, then per direction the entries (edge id as
//! a delta from the previous entry, the node at the other end, the type's index), so a
//! traversal reads who the neighbours are from the node alone, without decoding labels
//! or properties and without loading any edge record.

use std::sync::Arc;

use crate::dict::{Dict, MAX_NAME};
use crate::error::{GraphError, Result};
use crate::types::{
    Edge, EdgeId, Node, NodeId, PageId, Properties, PropertyValue, RecordPointer, TxId,
    MAX_LIST_DEPTH,
};

pub(crate) const KIND_NODE: u8 = 1;
pub(crate) const KIND_EDGE: u8 = 2;
/// Bits of the first record byte: bits 0-1 the kind, then these flags.
const FLAG_TOMBSTONE: u8 = 1 << 2;
/// An 8-byte `prev` pointer follows the first byte.
const FLAG_PREV: u8 = 1 << 3;
/// `props_ts` differs from `commit_ts` (a varint of the difference is stored).
const FLAG_PROPS_TS: u8 = 1 << 4;
/// `tx_id` differs from `commit_ts` (a zigzag varint of the difference is stored). A
/// transaction's id equals its commit timestamp whenever every transaction before it
/// committed, the usual case for a single writer.
const FLAG_TX: u8 = 1 << 5;
const KNOWN_BITS: u8 = 3 | FLAG_TOMBSTONE | FLAG_PREV | FLAG_PROPS_TS | FLAG_TX;
/// Byte offset of the `prev` pointer inside a record that has one (`FLAG_PREV`): vacuum
/// patches it in place.
pub(crate) const PREV_OFFSET: usize = 1;
/// The most bytes a record header takes (flags, `prev`, four 10-byte varints).
pub(crate) const MAX_RECORD_HEADER: usize = 1 + 8 + 4 * 10;

/// Whether the record whose first byte is `first` has a `prev` field at [`PREV_OFFSET`].
pub(crate) fn has_prev_field(first: u8) -> bool {
    first & FLAG_PREV != 0
}

/// The fixed part of every record version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    pub(crate) kind: u8,
    pub(crate) tombstone: bool,
    pub(crate) id: u64,
    /// The transaction that wrote this version.
    pub(crate) tx_id: TxId,
    /// When this version became visible.
    pub(crate) commit_ts: u64,
    /// The commit timestamp of the last version that changed labels, properties or
    /// existence (not adjacency): the write-write conflict check compares against it, so
    /// edges added to a node do not conflict with an update of the node.
    pub(crate) props_ts: u64,
    /// The next older version.
    pub(crate) prev: Option<RecordPointer>,
}

/// One entry of a node's adjacency list: the edge, the node at its other end and the
/// edge's type (an index into the record's [`NodeRecord::types`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Adj {
    pub(crate) edge: EdgeId,
    pub(crate) other: NodeId,
    pub(crate) ty: u32,
}

/// A node version with its adjacency lists.
#[derive(Debug, Clone)]
pub(crate) struct NodeRecord {
    pub(crate) header: RecordHeader,
    pub(crate) labels: Vec<String>,
    pub(crate) properties: Properties,
    /// The edge types named by `out` and `inn`; every `Adj::ty` is an index below its
    /// length. The encoder writes only the types still in use.
    pub(crate) types: Vec<String>,
    pub(crate) out: Vec<Adj>,
    pub(crate) inn: Vec<Adj>,
}

impl NodeRecord {
    pub(crate) fn to_node(&self) -> Node {
        Node {
            id: self.header.id,
            labels: self.labels.clone(),
            properties: self.properties.clone(),
            version: self.header.commit_ts,
        }
    }

    /// The index of `ty` in the type table, added if missing.
    pub(crate) fn type_index(&mut self, ty: &str) -> u32 {
        match self.types.iter().position(|t| t == ty) {
            Some(i) => i as u32,
            None => {
                self.types.push(ty.to_owned());
                (self.types.len() - 1) as u32
            }
        }
    }

    /// The type of an entry of this record.
    pub(crate) fn type_of(&self, a: &Adj) -> &str {
        self.types.get(a.ty as usize).map_or("", String::as_str)
    }
}

/// An edge version.
#[derive(Debug, Clone)]
pub(crate) struct EdgeRecord {
    pub(crate) header: RecordHeader,
    pub(crate) source: u64,
    pub(crate) target: u64,
    pub(crate) edge_type: String,
    pub(crate) properties: Properties,
}

impl EdgeRecord {
    pub(crate) fn to_edge(&self) -> Edge {
        Edge {
            id: self.header.id,
            source: self.source,
            target: self.target,
            edge_type: self.edge_type.clone(),
            properties: self.properties.clone(),
            version: self.header.commit_ts,
        }
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Bytes of `v` as a varint.
fn var_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

struct Writer<'d> {
    out: Vec<u8>,
    dict: &'d mut Arc<Dict>,
}

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    /// LEB128: seven bits per byte, low bits first, the high bit set on every byte but
    /// the last.
    #[inline]
    fn var(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }
    fn len_of(&mut self, n: usize) {
        self.var(n as u64);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len_of(b.len());
        self.out.extend_from_slice(b);
    }
    /// The name reference of `name`: its dictionary number plus one, added to the
    /// dictionary if there is room, or 0 when it is written inline.
    #[inline]
    fn name_ref(&mut self, name: &str) -> u64 {
        if let Some(i) = self.dict.get(name) {
            return u64::from(i) + 1;
        }
        if name.len() > MAX_NAME || !self.dict.has_room(name) {
            return 0;
        }
        Arc::make_mut(self.dict)
            .add(name)
            .map_or(0, |i| u64::from(i) + 1)
    }
    /// A name: its reference, and the string itself after a reference of 0.
    fn name(&mut self, name: &str) {
        let r = self.name_ref(name);
        self.var(r);
        if r == 0 {
            self.bytes(name.as_bytes());
        }
    }
    fn tag(v: &PropertyValue) -> u8 {
        match v {
            PropertyValue::Null => 0,
            PropertyValue::Bool(_) => 1,
            PropertyValue::Int(_) => 2,
            PropertyValue::Float(_) => 3,
            PropertyValue::String(_) => 4,
            PropertyValue::Bytes(_) => 5,
            PropertyValue::List(_) => 6,
        }
    }
    /// The bytes of a value after its tag.
    fn payload(&mut self, v: &PropertyValue) {
        match v {
            PropertyValue::Null => {}
            PropertyValue::Bool(b) => self.u8(u8::from(*b)),
            PropertyValue::Int(i) => self.var(zigzag(*i)),
            PropertyValue::Float(f) => self.u64(f.to_bits()),
            PropertyValue::String(s) => self.bytes(s.as_bytes()),
            PropertyValue::Bytes(b) => self.bytes(b),
            PropertyValue::List(items) => {
                self.len_of(items.len());
                for item in items {
                    self.u8(Self::tag(item));
                    self.payload(item);
                }
            }
        }
    }
    /// Per property one varint of `key reference << 3 | value tag`, the key after a
    /// reference of 0, then the value's payload.
    fn props(&mut self, p: &Properties) {
        self.len_of(p.len());
        for (k, v) in p {
            let r = self.name_ref(k);
            self.var(r << 3 | u64::from(Self::tag(v)));
            if r == 0 {
                self.bytes(k.as_bytes());
            }
            self.payload(v);
        }
    }
    /// One adjacency list of `n` entries: a varint `n << 2 | flags`, then per entry the
    /// edge id, the node at the other end and the type index (if `ty` gives one). Flag
    /// bit 1: the edge ids are consecutive, so only the first is written (as a varint,
    /// before the entries); else each is a zigzag delta from the previous one. Flag bit
    /// 0: the other ends are zigzag deltas from the previous entry's (chosen when that
    /// is shorter, as when a list was loaded in order of its other ends); else varints.
    fn adjacency(
        &mut self,
        n: usize,
        edge: impl Fn(usize) -> EdgeId,
        other: impl Fn(usize) -> NodeId,
        ty: impl Fn(usize) -> Option<u64>,
    ) {
        let consecutive = n > 1 && (1..n).all(|i| edge(i) == edge(i - 1).wrapping_add(1));
        let (mut plain, mut delta, mut prev) = (0usize, 0usize, 0u64);
        for i in 0..n {
            plain += var_len(other(i));
            delta += var_len(zigzag(other(i).wrapping_sub(prev) as i64));
            prev = other(i);
        }
        let delta_others = delta < plain;
        self.var((n as u64) << 2 | u64::from(consecutive) << 1 | u64::from(delta_others));
        if consecutive {
            self.var(edge(0));
        }
        let (mut prev_edge, mut prev_other) = (0u64, 0u64);
        for i in 0..n {
            if !consecutive {
                self.var(zigzag(edge(i).wrapping_sub(prev_edge) as i64));
                prev_edge = edge(i);
            }
            if delta_others {
                self.var(zigzag(other(i).wrapping_sub(prev_other) as i64));
                prev_other = other(i);
            } else {
                self.var(other(i));
            }
            if let Some(t) = ty(i) {
                self.var(t);
            }
        }
    }
    fn header(&mut self, h: &RecordHeader) {
        let mut first = h.kind & 3;
        if h.tombstone {
            first |= FLAG_TOMBSTONE;
        }
        if h.prev.is_some() {
            first |= FLAG_PREV;
        }
        if h.props_ts != h.commit_ts {
            first |= FLAG_PROPS_TS;
        }
        if h.tx_id != h.commit_ts {
            first |= FLAG_TX;
        }
        self.u8(first);
        if let Some(prev) = h.prev {
            self.u64(prev.encode());
        }
        self.var(h.id);
        self.var(h.commit_ts);
        if h.tx_id != h.commit_ts {
            self.var(zigzag(h.tx_id.wrapping_sub(h.commit_ts) as i64));
        }
        if h.props_ts != h.commit_ts {
            self.var(h.commit_ts.wrapping_sub(h.props_ts));
        }
    }
}

/// The name reference of `name` (its dictionary number plus one, or 0 for inline),
/// adding it to `dict` if there is room.
pub(crate) fn name_ref(dict: &mut Arc<Dict>, name: &str) -> u64 {
    Writer {
        out: Vec::new(),
        dict,
    }
    .name_ref(name)
}

/// Encodes into `out` (cleared first) a new edge version of a bulk load, whose type and
/// property keys are indexes into `names`, a table of `(name reference, name)` (see
/// [`name_ref`]). The bytes are those [`encode_edge`] writes for the same edge.
pub(crate) fn encode_bulk_edge(
    out: &mut Vec<u8>,
    h: &RecordHeader,
    source: NodeId,
    target: NodeId,
    ty: u32,
    properties: &[(u32, PropertyValue)],
    names: &[(u64, &str)],
) -> Result<()> {
    let name = |i: u32| {
        names.get(i as usize).copied().ok_or_else(|| {
            GraphError::InvalidArgument(format!("name index {i} outside the load's table"))
        })
    };
    let mut no_dict = Arc::default();
    out.clear();
    let mut w = Writer {
        out: std::mem::take(out),
        dict: &mut no_dict,
    };
    w.header(h);
    w.var(source);
    w.var(target);
    let (r, n) = name(ty)?;
    w.var(r);
    if r == 0 {
        w.bytes(n.as_bytes());
    }
    w.len_of(properties.len());
    for (k, v) in properties {
        let (r, n) = name(*k)?;
        w.var(r << 3 | u64::from(Writer::tag(v)));
        if r == 0 {
            w.bytes(n.as_bytes());
        }
        w.payload(v);
    }
    *out = w.out;
    Ok(())
}

/// An adjacency entry of a bulk load: edge, other end, and the type as an index into
/// the load's table of `(name reference, name)`.
pub(crate) type BulkAdj = (EdgeId, NodeId, u32);

/// The node version `bytes` with the adjacency lists `out` and `inn`, when `bytes` has
/// none (a bulk import's second pass): the header and the labels and properties are
/// copied as they are, not decoded. `types[i]` is the name reference and name of the
/// load's type `i`. `None` if the version already has adjacency entries.
pub(crate) fn with_adjacency(
    bytes: &[u8],
    page: Option<PageId>,
    types: &[(u64, &str)],
    out: &[BulkAdj],
    inn: &[BulkAdj],
) -> Result<Option<Vec<u8>>> {
    let mut r = Reader::new(bytes, page, None);
    let header = r.header()?;
    if header.kind != KIND_NODE {
        return r.fail("expected a node record");
    }
    let header_end = r.at;
    if r.var()? != 0 || r.var()? != 0 || r.var()? != 0 {
        return Ok(None);
    }
    let tail = &bytes[r.at..];
    // The record's own table: the load's types it uses, in first-use order.
    let mut local: Vec<u32> = Vec::new();
    for (_, _, ty) in out.iter().chain(inn) {
        if !local.contains(ty) {
            if *ty as usize >= types.len() {
                return Err(GraphError::InvalidArgument(format!(
                    "edge type index {ty} unknown"
                )));
            }
            local.push(*ty);
        }
    }
    let mut no_dict = Arc::default();
    let mut w = Writer {
        out: Vec::with_capacity(bytes.len() + 8 + 8 * (out.len() + inn.len())),
        dict: &mut no_dict,
    };
    w.out.extend_from_slice(&bytes[..header_end]);
    w.len_of(local.len());
    for ty in &local {
        let (r, name) = types[*ty as usize];
        w.var(r);
        if r == 0 {
            w.bytes(name.as_bytes());
        }
    }
    for list in [out, inn] {
        w.adjacency(
            list.len(),
            |i| list[i].0,
            |i| list[i].1,
            |i| {
                (local.len() > 1)
                    .then(|| local.iter().position(|t| *t == list[i].2).unwrap_or(0) as u64)
            },
        );
    }
    w.out.extend_from_slice(tail);
    Ok(Some(w.out))
}

/// Encodes a node version; names not yet in `dict` are added to it when there is room.
pub(crate) fn encode_node(r: &NodeRecord, dict: &mut Arc<Dict>) -> Vec<u8> {
    let mut w = Writer {
        out: Vec::with_capacity(32 + 6 * (r.out.len() + r.inn.len()) + 16 * r.properties.len()),
        dict,
    };
    w.header(&r.header);
    // Only the types still named by an entry are written, renumbered in table order.
    let mut remap = vec![u32::MAX; r.types.len()];
    for a in r.out.iter().chain(&r.inn) {
        if let Some(m) = remap.get_mut(a.ty as usize) {
            *m = 0;
        }
    }
    let mut used = 0u32;
    for m in remap.iter_mut() {
        if *m == 0 {
            *m = used;
            used += 1;
        }
    }
    w.len_of(used as usize);
    for (t, m) in r.types.iter().zip(&remap) {
        if *m != u32::MAX {
            w.name(t);
        }
    }
    for list in [&r.out, &r.inn] {
        w.adjacency(
            list.len(),
            |i| list[i].edge,
            |i| list[i].other,
            |i| (used > 1).then(|| u64::from(remap.get(list[i].ty as usize).copied().unwrap_or(0))),
        );
    }
    w.len_of(r.labels.len());
    for l in &r.labels {
        w.name(l);
    }
    w.props(&r.properties);
    w.out
}

/// Encodes an edge version; names not yet in `dict` are added to it when there is room.
pub(crate) fn encode_edge(r: &EdgeRecord, dict: &mut Arc<Dict>) -> Vec<u8> {
    let mut w = Writer {
        out: Vec::with_capacity(24 + 12 * r.properties.len()),
        dict,
    };
    w.header(&r.header);
    w.var(r.source);
    w.var(r.target);
    w.name(&r.edge_type);
    w.props(&r.properties);
    w.out
}

/// A bounds-checked cursor: every overrun is a `Corruption` naming the page.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
    page: Option<PageId>,
    /// The names records refer to (`None` when only the header is decoded).
    dict: Option<&'a Dict>,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], page: Option<PageId>, dict: Option<&'a Dict>) -> Self {
        Reader {
            buf,
            at: 0,
            page,
            dict,
        }
    }
    fn fail<T>(&self, what: &str) -> Result<T> {
        Err(GraphError::corrupt(
            format!("record: {what} at byte {}", self.at),
            self.page,
        ))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.at.checked_add(n) {
            Some(end) if end <= self.buf.len() => {
                let s = &self.buf[self.at..end];
                self.at = end;
                Ok(s)
            }
            _ => self.fail("truncated"),
        }
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u64(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
    /// A LEB128 integer of at most ten bytes whose value fits 64 bits.
    #[inline]
    fn var(&mut self) -> Result<u64> {
        let mut v = 0u64;
        let mut shift = 0u32;
        loop {
            let Some(&b) = self.buf.get(self.at) else {
                return self.fail("truncated");
            };
            self.at += 1;
            if shift == 63 && b > 1 {
                return self.fail("integer longer than 64 bits");
            }
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
        }
    }
    /// A count that must fit in what is left, at `min_each` bytes per item, so a flipped
    /// length cannot make the decoder allocate gigabytes.
    fn count(&mut self, min_each: usize) -> Result<usize> {
        let n = self.var()?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n.saturating_mul(min_each) > self.buf.len() - self.at {
            return self.fail("count larger than the record");
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.count(1)?;
        self.take(n)
    }
    fn str(&mut self) -> Result<&'a str> {
        let b = self.bytes()?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s),
            Err(_) => self.fail("invalid UTF-8"),
        }
    }
    fn string(&mut self) -> Result<String> {
        Ok(self.str()?.to_owned())
    }
    /// The name of reference `r`: the inline string that follows for 0, else dictionary
    /// entry `r - 1`.
    #[inline]
    fn name_of(&mut self, r: u64) -> Result<&'a str> {
        if r == 0 {
            return self.str();
        }
        match self.dict.and_then(|d| d.name(r - 1)) {
            Some(n) => Ok(n),
            None => self.fail("name number outside the dictionary"),
        }
    }
    fn name(&mut self) -> Result<&'a str> {
        let r = self.var()?;
        self.name_of(r)
    }
    fn payload(&mut self, tag: u8, depth: usize) -> Result<PropertyValue> {
        Ok(match tag {
            0 => PropertyValue::Null,
            1 => match self.u8()? {
                0 => PropertyValue::Bool(false),
                1 => PropertyValue::Bool(true),
                _ => return self.fail("bad bool"),
            },
            2 => PropertyValue::Int(unzigzag(self.var()?)),
            3 => PropertyValue::Float(f64::from_bits(self.u64()?)),
            4 => PropertyValue::String(self.string()?),
            5 => PropertyValue::Bytes(self.bytes()?.to_vec()),
            6 => {
                if depth >= MAX_LIST_DEPTH {
                    return self.fail("lists nested too deep");
                }
                let n = self.count(1)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    let tag = self.u8()?;
                    items.push(self.payload(tag, depth + 1)?);
                }
                PropertyValue::List(items)
            }
            _ => return self.fail("unknown value tag"),
        })
    }
    fn props(&mut self) -> Result<Properties> {
        let n = self.count(1)?;
        let mut p = Properties::new();
        for _ in 0..n {
            let word = self.var()?;
            let k = self.name_of(word >> 3)?.to_owned();
            let v = self.payload((word & 7) as u8, 0)?;
            p.insert(k, v);
        }
        Ok(p)
    }
    fn header(&mut self) -> Result<RecordHeader> {
        let first = self.u8()?;
        let kind = first & 3;
        if kind != KIND_NODE && kind != KIND_EDGE {
            return self.fail("unknown record kind");
        }
        if first & !KNOWN_BITS != 0 {
            return self.fail("unknown record flags");
        }
        let prev = if first & FLAG_PREV != 0 {
            RecordPointer::decode(self.u64()?)
        } else {
            None
        };
        let id = self.var()?;
        let commit_ts = self.var()?;
        let tx_id = if first & FLAG_TX != 0 {
            commit_ts.wrapping_add(unzigzag(self.var()?) as u64)
        } else {
            commit_ts
        };
        let props_ts = if first & FLAG_PROPS_TS != 0 {
            commit_ts.wrapping_sub(self.var()?)
        } else {
            commit_ts
        };
        Ok(RecordHeader {
            kind,
            tombstone: first & FLAG_TOMBSTONE != 0,
            id,
            tx_id,
            commit_ts,
            props_ts,
            prev,
        })
    }
    fn finish(&self) -> Result<()> {
        if self.at != self.buf.len() {
            return self.fail("trailing bytes");
        }
        Ok(())
    }
    /// The type table of a node body (names borrowed from the record or the dictionary).
    fn type_table(&mut self) -> Result<Vec<&'a str>> {
        let n = self.count(1)?;
        let mut types = Vec::with_capacity(n);
        for _ in 0..n {
            types.push(self.name()?);
        }
        Ok(types)
    }
    /// One adjacency list: calls `f(edge, other, type index)` per entry.
    #[inline]
    fn adjacency(&mut self, types: usize, mut f: impl FnMut(EdgeId, NodeId, u32)) -> Result<()> {
        let word = self.var()?;
        let (consecutive, delta_others) = (word & 2 != 0, word & 1 != 0);
        // Each entry takes at least its other end's byte (and an edge delta's).
        let n = usize::try_from(word >> 2).unwrap_or(usize::MAX);
        if n.saturating_mul(if consecutive { 1 } else { 2 }) > self.buf.len() - self.at {
            return self.fail("count larger than the record");
        }
        let mut edge = if consecutive {
            self.var()?.wrapping_sub(1)
        } else {
            0
        };
        let mut other = 0u64;
        for _ in 0..n {
            edge = if consecutive {
                edge.wrapping_add(1)
            } else {
                edge.wrapping_add(unzigzag(self.var()?) as u64)
            };
            other = if delta_others {
                other.wrapping_add(unzigzag(self.var()?) as u64)
            } else {
                self.var()?
            };
            let ty = if types > 1 { self.var()? } else { 0 };
            if ty >= types as u64 {
                return self.fail("adjacency entry names a type outside the table");
            }
            f(edge, other, ty as u32);
        }
        Ok(())
    }
}

/// The header of a record from its first bytes (the rest of the record may be cut off).
pub(crate) fn decode_header(buf: &[u8], page: Option<PageId>) -> Result<RecordHeader> {
    Reader::new(buf, page, None).header()
}

pub(crate) fn decode_node(buf: &[u8], page: Option<PageId>, dict: &Dict) -> Result<NodeRecord> {
    let mut r = Reader::new(buf, page, Some(dict));
    let header = r.header()?;
    if header.kind != KIND_NODE {
        return r.fail("expected a node record");
    }
    let types: Vec<String> = r.type_table()?.into_iter().map(str::to_owned).collect();
    let mut lists = [Vec::new(), Vec::new()];
    for list in &mut lists {
        r.adjacency(types.len(), |edge, other, ty| {
            list.push(Adj { edge, other, ty })
        })?;
    }
    let n = r.count(1)?;
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        labels.push(r.name()?.to_owned());
    }
    let properties = r.props()?;
    r.finish()?;
    let [out, inn] = lists;
    Ok(NodeRecord {
        header,
        labels,
        properties,
        types,
        out,
        inn,
    })
}

/// Calls `f(edge, node at the other end, edge type, outgoing)` for the entries of a
/// node record's outgoing list (if `out`) and then its incoming list (if `inn`), read
/// straight from the record bytes: no labels, properties or edge records are decoded.
pub(crate) fn visit_adjacency(
    buf: &[u8],
    page: Option<PageId>,
    dict: &Dict,
    out: bool,
    inn: bool,
    mut f: impl FnMut(EdgeId, NodeId, &str, bool),
) -> Result<()> {
    let mut r = Reader::new(buf, page, Some(dict));
    let header = r.header()?;
    if header.kind != KIND_NODE {
        return r.fail("expected a node record");
    }
    let types = r.type_table()?;
    if out {
        r.adjacency(types.len(), |e, o, t| f(e, o, types[t as usize], true))?;
    } else if inn {
        r.adjacency(types.len(), |_, _, _| {})?;
    }
    if inn {
        r.adjacency(types.len(), |e, o, t| f(e, o, types[t as usize], false))?;
    }
    Ok(())
}

pub(crate) fn decode_edge(buf: &[u8], page: Option<PageId>, dict: &Dict) -> Result<EdgeRecord> {
    let mut r = Reader::new(buf, page, Some(dict));
    let header = r.header()?;
    if header.kind != KIND_EDGE {
        return r.fail("expected an edge record");
    }
    let source = r.var()?;
    let target = r.var()?;
    let edge_type = r.name()?.to_owned();
    let properties = r.props()?;
    r.finish()?;
    Ok(EdgeRecord {
        header,
        source,
        target,
        edge_type,
        properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NodeRecord {
        let mut properties = Properties::new();
        properties.insert("n".into(), PropertyValue::Null);
        properties.insert("b".into(), PropertyValue::Bool(true));
        properties.insert("i".into(), PropertyValue::Int(-7));
        properties.insert("f".into(), PropertyValue::Float(1.5));
        properties.insert("s".into(), PropertyValue::String("héllo".into()));
        properties.insert("x".into(), PropertyValue::Bytes(vec![0, 255]));
        properties.insert(
            "l".into(),
            PropertyValue::List(vec![PropertyValue::Int(1), PropertyValue::List(vec![])]),
        );
        NodeRecord {
            header: RecordHeader {
                kind: KIND_NODE,
                tombstone: false,
                id: 9,
                tx_id: 3,
                commit_ts: 4,
                props_ts: 4,
                prev: Some(RecordPointer { page: 5, slot: 2 }),
            },
            labels: vec!["Person".into()],
            properties,
            types: vec!["KNOWS".into(), "unused".into(), "LIKES".into()],
            out: vec![adj(1, 7, 0), adj(2, 300, 2)],
            inn: vec![adj(3, 1 << 40, 0)],
        }
    }

    fn adj(edge: EdgeId, other: NodeId, ty: u32) -> Adj {
        Adj { edge, other, ty }
    }

    /// The entries of a record as (edge, other, type name), for comparisons across
    /// renumbered type tables.
    fn named(r: &NodeRecord, list: &[Adj]) -> Vec<(EdgeId, NodeId, String)> {
        list.iter()
            .map(|a| (a.edge, a.other, r.type_of(a).to_owned()))
            .collect()
    }

    fn enc(r: &NodeRecord) -> (Vec<u8>, Arc<Dict>) {
        let mut d = Arc::default();
        (encode_node(r, &mut d), d)
    }

    #[test]
    fn node_round_trip() {
        let r = sample();
        let (bytes, dict) = enc(&r);
        let back = decode_node(&bytes, None, &dict).unwrap();
        assert_eq!(back.header, r.header);
        assert_eq!(back.properties, r.properties);
        assert_eq!(named(&back, &back.out), named(&r, &r.out));
        assert_eq!(named(&back, &back.inn), named(&r, &r.inn));
        // The unused type is not written.
        assert_eq!(back.types, ["KNOWS", "LIKES"]);
        assert_eq!(decode_header(&bytes, None).unwrap(), r.header);
        let mut seen = Vec::new();
        visit_adjacency(&bytes, None, &dict, true, true, |e, o, t, out| {
            seen.push((e, o, t.to_owned(), out))
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (1, 7, "KNOWS".to_owned(), true),
                (2, 300, "LIKES".to_owned(), true),
                (3, 1 << 40, "KNOWS".to_owned(), false)
            ]
        );
        let mut incoming = Vec::new();
        visit_adjacency(&bytes, None, &dict, false, true, |e, _, _, out| {
            incoming.push((e, out))
        })
        .unwrap();
        assert_eq!(incoming, [(3, false)]);
    }

    #[test]
    fn small_integers_and_ids_take_few_bytes() {
        let mut r = sample();
        r.header.prev = None;
        r.properties.clear();
        r.labels.clear();
        r.types = vec!["T".into()];
        // 100 entries, edge ids consecutive and other ends in order: the list is its
        // count and flags (2 bytes: 100 << 2 | 3), the first edge id (2), the first other
        // end (zigzag, 2) and 99 deltas of one byte; no type index with a single type.
        r.out = (1..=100).map(|i| adj(1000 + i, 200 + i, 0)).collect();
        r.inn.clear();
        let (bytes, dict) = enc(&r);
        // Header: flags 1, id 1, commit_ts 1, tx delta 1 (tx 3, commit 4); type table:
        // count 1 and the type's dictionary reference 1; out as above; inn count 1,
        // labels 1, properties 1.
        assert_eq!(bytes.len(), 4 + 2 + (2 + 2 + 2 + 99) + 1 + 1 + 1);
        // Every other edge id, and other ends that jump (200, 8400, 200, ...): edge
        // deltas of one byte (zigzag 4; the first, 1002, takes two), other ends as
        // plain varints of two bytes (their deltas would take three).
        r.out = (1..=100)
            .map(|i| adj(1000 + 2 * i, if i % 2 == 0 { 200 } else { 8400 }, 0))
            .collect();
        let (bytes, _) = enc(&r);
        assert_eq!(bytes.len(), 4 + 2 + (2 + 2 + 99 + 200) + 1 + 1 + 1);
        let back = decode_node(&bytes, None, &dict).unwrap();
        assert_eq!(named(&back, &back.out), named(&r, &r.out));
        assert_eq!(dict.get("T"), Some(0));
        let mut p = Properties::new();
        p.insert("a".into(), PropertyValue::Int(-3));
        let mut d = Arc::default();
        let mut w = Writer {
            out: Vec::new(),
            dict: &mut d,
        };
        w.props(&p);
        // Count 1; key reference 1 (dictionary entry 0) << 3 | tag 2; zigzag -3.
        assert_eq!(w.out, [1, 1 << 3 | 2, 5]);
    }

    #[test]
    fn an_edge_without_history_takes_a_few_bytes() {
        let mut properties = Properties::new();
        properties.insert("since".into(), PropertyValue::Int(12));
        let e = EdgeRecord {
            header: RecordHeader {
                kind: KIND_EDGE,
                tombstone: false,
                id: 500_000,
                tx_id: 7,
                commit_ts: 7,
                props_ts: 7,
                prev: None,
            },
            source: 90_000,
            target: 1_000,
            edge_type: "KNOWS".into(),
            properties,
        };
        let mut dict = Arc::default();
        let bytes = encode_edge(&e, &mut dict);
        // The example of docs/graphdb-core.md: header (kind, id, commit; the transaction
        // id equals the commit timestamp), source, target, type reference, properties
        // (count, `since` reference 2 << 3 | tag 2, zigzag 12). Format 3 took 62 bytes.
        assert_eq!(
            bytes,
            [2, 0xA0, 0xC2, 0x1E, 7, 0x90, 0xBF, 5, 0xE8, 7, 1, 1, 0x12, 0x18]
        );
        let back = decode_edge(&bytes, None, &dict).unwrap();
        assert_eq!(back.header, e.header);
        assert_eq!((back.source, back.target), (e.source, e.target));
        assert_eq!(back.edge_type, "KNOWS");
        assert_eq!(back.properties, e.properties);
        let mut other = e.clone();
        other.header.tx_id = 8;
        other.header.props_ts = 5;
        // A transaction id or props_ts that differs costs a byte each.
        let bytes = encode_edge(&other, &mut dict);
        assert_eq!(bytes.len(), 14 + 2);
        assert_eq!(
            decode_edge(&bytes, None, &dict).unwrap().header,
            other.header
        );
    }

    #[test]
    fn names_outside_the_dictionary_are_written_inline() {
        let mut r = sample();
        let long = "L".repeat(MAX_NAME + 1);
        r.labels = vec![long.clone(), "short".into()];
        r.properties.insert(long.clone(), PropertyValue::Int(1));
        let (bytes, dict) = enc(&r);
        assert_eq!(dict.get(&long), None);
        let back = decode_node(&bytes, None, &dict).unwrap();
        assert_eq!(back.labels, r.labels);
        assert_eq!(back.properties, r.properties);
        // A dictionary without the record's names is corruption, not a panic.
        let err = decode_node(&bytes, Some(4), &Dict::default()).unwrap_err();
        assert!(err.to_string().contains("dictionary"), "{err}");
    }

    #[test]
    fn adjacency_spliced_into_a_bare_node_equals_the_encoded_node() {
        let mut r = sample();
        r.out.clear();
        r.inn.clear();
        r.types.clear();
        let (bare, mut dict) = enc(&r);
        let names = ["A", "KNOWS", "LIKES"];
        let types: Vec<(u64, &str)> = names
            .iter()
            .map(|n| (if *n == "A" { 0 } else { name_ref(&mut dict, n) }, *n))
            .collect();
        let out = [(10, 3, 1), (11, 4, 2), (15, 9, 1)];
        let inn = [(2, 8, 0), (30, 1 << 40, 1)];
        let spliced = with_adjacency(&bare, None, &types, &out, &inn)
            .unwrap()
            .unwrap();
        let back = decode_node(&spliced, None, &dict).unwrap();
        assert_eq!(back.header, r.header);
        assert_eq!(back.labels, r.labels);
        assert_eq!(back.properties, r.properties);
        let want = |l: &[BulkAdj]| -> Vec<(EdgeId, NodeId, String)> {
            l.iter()
                .map(|(e, o, t)| (*e, *o, names[*t as usize].to_owned()))
                .collect()
        };
        assert_eq!(named(&back, &back.out), want(&out));
        assert_eq!(named(&back, &back.inn), want(&inn));
        // A version that has entries already is left to the general path.
        assert!(with_adjacency(&spliced, None, &types, &out, &inn)
            .unwrap()
            .is_none());
        assert!(with_adjacency(&bare, None, &types, &[(1, 1, 3)], &[]).is_err());
    }

    #[test]
    fn a_bulk_edge_encodes_like_any_edge() {
        let mut dict = Arc::default();
        let long = "k".repeat(MAX_NAME + 1);
        let table = ["KNOWS", "since", long.as_str()];
        let names: Vec<(u64, &str)> = table.iter().map(|n| (name_ref(&mut dict, n), *n)).collect();
        let props = vec![
            (1, PropertyValue::Int(-4)),
            (2, PropertyValue::String("x".into())),
        ];
        let mut properties = Properties::new();
        for (k, v) in &props {
            properties.insert(table[*k as usize].to_owned(), v.clone());
        }
        let e = EdgeRecord {
            header: RecordHeader {
                kind: KIND_EDGE,
                ..sample().header
            },
            source: 7,
            target: 9,
            edge_type: "KNOWS".into(),
            properties,
        };
        let header = e.header.clone();
        let mut bulk = vec![1, 2, 3];
        encode_bulk_edge(&mut bulk, &header, 7, 9, 0, &props, &names).unwrap();
        // The same bytes but for the order of the properties (key order in a map).
        assert_eq!(bulk.len(), encode_edge(&e, &mut dict).len());
        let back = decode_edge(&bulk, None, &dict).unwrap();
        assert_eq!(back.header, e.header);
        assert_eq!((back.source, back.target), (7, 9));
        assert_eq!(back.edge_type, "KNOWS");
        assert_eq!(back.properties, e.properties);
        assert!(encode_bulk_edge(&mut bulk, &header, 7, 9, 3, &[], &names).is_err());
    }

    #[test]
    fn a_cut_prev_pointer_decodes_as_none() {
        let r = sample();
        let (mut bytes, dict) = enc(&r);
        assert!(has_prev_field(bytes[0]));
        bytes[PREV_OFFSET..PREV_OFFSET + 8].fill(0);
        let back = decode_node(&bytes, None, &dict).unwrap();
        assert_eq!(back.header.prev, None);
        assert_eq!(back.header.id, r.header.id);
    }

    #[test]
    fn header_fields_far_apart_round_trip() {
        for (tx_id, commit_ts, props_ts) in [(u64::MAX, 1, 0), (1, u64::MAX, 3), (5, 5, u64::MAX)] {
            let mut r = sample();
            r.header.tx_id = tx_id;
            r.header.commit_ts = commit_ts;
            r.header.props_ts = props_ts;
            r.header.tombstone = true;
            let (bytes, _) = enc(&r);
            assert_eq!(decode_header(&bytes, None).unwrap(), r.header);
        }
    }

    #[test]
    fn edge_ids_out_of_order_and_far_apart_round_trip() {
        let mut r = sample();
        r.out = vec![
            adj(u64::MAX, 1, 0),
            adj(5, u64::MAX, 2),
            adj(1 << 63, 0, 0),
            adj(6, 2, 2),
        ];
        let (bytes, dict) = enc(&r);
        let back = decode_node(&bytes, None, &dict).unwrap();
        assert_eq!(named(&back, &back.out), named(&r, &r.out));
        // Consecutive ids across the wrap, other ends close together near the top.
        r.out = vec![
            adj(u64::MAX - 1, u64::MAX, 0),
            adj(u64::MAX, u64::MAX - 2, 2),
            adj(0, u64::MAX - 1, 0),
        ];
        r.inn = vec![adj(0, 0, 0), adj(1, 1, 0)];
        let (bytes, dict) = enc(&r);
        let back = decode_node(&bytes, None, &dict).unwrap();
        assert_eq!(named(&back, &back.out), named(&r, &r.out));
        assert_eq!(named(&back, &back.inn), named(&r, &r.inn));
    }

    #[test]
    fn an_overlong_varint_is_corruption() {
        let mut b = vec![KIND_NODE];
        b.extend_from_slice(&[0xFF; 11]);
        let err = decode_node(&b, Some(3), &Dict::default()).unwrap_err();
        assert!(err.to_string().contains("64 bits"), "{err}");
    }

    fn value() -> impl proptest::strategy::Strategy<Value = PropertyValue> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(PropertyValue::Null),
            any::<bool>().prop_map(PropertyValue::Bool),
            any::<i64>().prop_map(PropertyValue::Int),
            // Compared bit for bit below, so NaN payloads are covered too.
            any::<u64>().prop_map(|b| PropertyValue::Float(f64::from_bits(b))),
            ".{0,12}".prop_map(PropertyValue::String),
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(PropertyValue::Bytes),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            proptest::collection::vec(inner, 0..6).prop_map(PropertyValue::List)
        })
    }

    /// Floats compared by bits, so that NaN round trips count as equal.
    fn same(a: &PropertyValue, b: &PropertyValue) -> bool {
        match (a, b) {
            (PropertyValue::Float(x), PropertyValue::Float(y)) => x.to_bits() == y.to_bits(),
            (PropertyValue::List(x), PropertyValue::List(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
            }
            _ => a == b,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]
        #[test]
        fn decode_inverts_encode(
            labels in proptest::collection::vec(".{0,8}", 0..4),
            props in proptest::collection::btree_map(".{0,8}", value(), 0..6),
            out in proptest::collection::vec(
                (proptest::prelude::any::<u64>(), proptest::prelude::any::<u64>(), 0u32..3),
                0..8,
            ),
            source in proptest::prelude::any::<u64>(),
        ) {
            let mut r = sample();
            r.labels = labels.clone();
            r.properties = props.clone();
            r.out = out.iter().map(|(e, o, t)| adj(*e, *o, *t)).collect();
            let (bytes, mut dict) = enc(&r);
            let back = decode_node(&bytes, None, &dict).unwrap();
            proptest::prop_assert_eq!(&back.labels, &labels);
            proptest::prop_assert_eq!(named(&back, &back.out), named(&r, &r.out));
            proptest::prop_assert_eq!(back.properties.len(), props.len());
            for (k, v) in &props {
                proptest::prop_assert!(same(&back.properties[k], v));
            }
            let e = EdgeRecord {
                header: RecordHeader { kind: KIND_EDGE, ..r.header.clone() },
                source,
                target: source ^ 1,
                edge_type: labels.concat(),
                properties: props,
            };
            let bytes = encode_edge(&e, &mut dict);
            let back = decode_edge(&bytes, None, &dict).unwrap();
            proptest::prop_assert_eq!((back.source, back.target), (e.source, e.target));
            proptest::prop_assert_eq!(&back.edge_type, &e.edge_type);
            proptest::prop_assert_eq!(back.header, e.header);
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let (bytes, dict) = enc(&sample());
        for n in 0..bytes.len() {
            assert!(decode_node(&bytes[..n], Some(1), &dict).is_err());
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xFF;
            // A flip may still decode to something; it must never panic.
            let _ = decode_node(&b, Some(1), &dict);
            let _ = visit_adjacency(&b, Some(1), &dict, true, true, |_, _, _, _| {});
        }
    }
}
