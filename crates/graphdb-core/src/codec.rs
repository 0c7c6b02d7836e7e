//! Byte encoding of record versions and property values.

use crate::error::{GraphError, Result};
use crate::types::{
    Edge, EdgeId, Node, PageId, Properties, PropertyValue, RecordPointer, TxId, MAX_LIST_DEPTH,
};

pub(crate) const KIND_NODE: u8 = 1;
pub(crate) const KIND_EDGE: u8 = 2;
const FLAG_TOMBSTONE: u8 = 1;
/// Byte offset of the `prev` pointer inside a record: vacuum patches it in place.
pub(crate) const PREV_OFFSET: usize = 34;
/// Bytes of the fixed record header.
pub(crate) const RECORD_HEADER: usize = 42;

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

/// A node version with its adjacency lists.
#[derive(Debug, Clone)]
pub(crate) struct NodeRecord {
    pub(crate) header: RecordHeader,
    pub(crate) labels: Vec<String>,
    pub(crate) properties: Properties,
    pub(crate) out: Vec<EdgeId>,
    pub(crate) inn: Vec<EdgeId>,
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

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len_of(&mut self, n: usize) {
        // Lengths above u32 are refused earlier by `encoded_len_ok`.
        self.u32(n as u32);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len_of(b.len());
        self.0.extend_from_slice(b);
    }
    fn value(&mut self, v: &PropertyValue) {
        match v {
            PropertyValue::Null => self.u8(0),
            PropertyValue::Bool(b) => {
                self.u8(1);
                self.u8(u8::from(*b));
            }
            PropertyValue::Int(i) => {
                self.u8(2);
                self.0.extend_from_slice(&i.to_le_bytes());
            }
            PropertyValue::Float(f) => {
                self.u8(3);
                self.u64(f.to_bits());
            }
            PropertyValue::String(s) => {
                self.u8(4);
                self.bytes(s.as_bytes());
            }
            PropertyValue::Bytes(b) => {
                self.u8(5);
                self.bytes(b);
            }
            PropertyValue::List(items) => {
                self.u8(6);
                self.len_of(items.len());
                for item in items {
                    self.value(item);
                }
            }
        }
    }
    fn props(&mut self, p: &Properties) {
        self.len_of(p.len());
        for (k, v) in p {
            self.bytes(k.as_bytes());
            self.value(v);
        }
    }
    fn header(&mut self, h: &RecordHeader) {
        self.u8(h.kind);
        self.u8(if h.tombstone { FLAG_TOMBSTONE } else { 0 });
        self.u64(h.id);
        self.u64(h.tx_id);
        self.u64(h.commit_ts);
        self.u64(h.props_ts);
        self.u64(h.prev.map_or(0, RecordPointer::encode));
    }
}

pub(crate) fn encode_node(r: &NodeRecord) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(128));
    w.header(&r.header);
    w.len_of(r.labels.len());
    for l in &r.labels {
        w.bytes(l.as_bytes());
    }
    w.props(&r.properties);
    for list in [&r.out, &r.inn] {
        w.len_of(list.len());
        for e in list {
            w.u64(*e);
        }
    }
    w.0
}

pub(crate) fn encode_edge(r: &EdgeRecord) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(96));
    w.header(&r.header);
    w.u64(r.source);
    w.u64(r.target);
    w.bytes(r.edge_type.as_bytes());
    w.props(&r.properties);
    w.0
}

/// A bounds-checked cursor: every overrun is a `Corruption` naming the page.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
    page: Option<PageId>,
}

impl<'a> Reader<'a> {
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
    fn u32(&mut self) -> Result<u32> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
    /// A count that must fit in what is left, at `min_each` bytes per item, so a flipped
    /// length cannot make the decoder allocate gigabytes.
    fn count(&mut self, min_each: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_each) > self.buf.len() - self.at {
            return self.fail("count larger than the record");
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.count(1)?;
        self.take(n)
    }
    fn string(&mut self) -> Result<String> {
        let b = self.bytes()?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => self.fail("invalid UTF-8"),
        }
    }
    fn value(&mut self, depth: usize) -> Result<PropertyValue> {
        Ok(match self.u8()? {
            0 => PropertyValue::Null,
            1 => match self.u8()? {
                0 => PropertyValue::Bool(false),
                1 => PropertyValue::Bool(true),
                _ => return self.fail("bad bool"),
            },
            2 => PropertyValue::Int(self.u64()? as i64),
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
                    items.push(self.value(depth + 1)?);
                }
                PropertyValue::List(items)
            }
            _ => return self.fail("unknown value tag"),
        })
    }
    fn props(&mut self) -> Result<Properties> {
        let n = self.count(5)?;
        let mut p = Properties::new();
        for _ in 0..n {
            let k = self.string()?;
            let v = self.value(0)?;
            p.insert(k, v);
        }
        Ok(p)
    }
    fn header(&mut self) -> Result<RecordHeader> {
        let kind = self.u8()?;
        if kind != KIND_NODE && kind != KIND_EDGE {
            return self.fail("unknown record kind");
        }
        let flags = self.u8()?;
        if flags & !FLAG_TOMBSTONE != 0 {
            return self.fail("unknown record flags");
        }
        Ok(RecordHeader {
            kind,
            tombstone: flags & FLAG_TOMBSTONE != 0,
            id: self.u64()?,
            tx_id: self.u64()?,
            commit_ts: self.u64()?,
            props_ts: self.u64()?,
            prev: RecordPointer::decode(self.u64()?),
        })
    }
    fn finish(&self) -> Result<()> {
        if self.at != self.buf.len() {
            return self.fail("trailing bytes");
        }
        Ok(())
    }
}

pub(crate) fn decode_header(buf: &[u8], page: Option<PageId>) -> Result<RecordHeader> {
    Reader { buf, at: 0, page }.header()
}

pub(crate) fn decode_node(buf: &[u8], page: Option<PageId>) -> Result<NodeRecord> {
    let mut r = Reader { buf, at: 0, page };
    let header = r.header()?;
    if header.kind != KIND_NODE {
        return r.fail("expected a node record");
    }
    let n = r.count(4)?;
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        labels.push(r.string()?);
    }
    let properties = r.props()?;
    let mut lists = [Vec::new(), Vec::new()];
    for list in &mut lists {
        let n = r.count(8)?;
        list.reserve(n);
        for _ in 0..n {
            list.push(r.u64()?);
        }
    }
    r.finish()?;
    let [out, inn] = lists;
    Ok(NodeRecord {
        header,
        labels,
        properties,
        out,
        inn,
    })
}

pub(crate) fn decode_edge(buf: &[u8], page: Option<PageId>) -> Result<EdgeRecord> {
    let mut r = Reader { buf, at: 0, page };
    let header = r.header()?;
    if header.kind != KIND_EDGE {
        return r.fail("expected an edge record");
    }
    let source = r.u64()?;
    let target = r.u64()?;
    let edge_type = r.string()?;
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
            out: vec![1, 2],
            inn: vec![3],
        }
    }

    #[test]
    fn node_round_trip() {
        let r = sample();
        let bytes = encode_node(&r);
        let back = decode_node(&bytes, None).unwrap();
        assert_eq!(back.header, r.header);
        assert_eq!(back.properties, r.properties);
        assert_eq!((back.out, back.inn), (r.out, r.inn));
        assert_eq!(decode_header(&bytes, None).unwrap(), r.header);
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
            out in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..8),
            source in proptest::prelude::any::<u64>(),
        ) {
            let mut r = sample();
            r.labels = labels.clone();
            r.properties = props.clone();
            r.out = out.clone();
            let back = decode_node(&encode_node(&r), None).unwrap();
            proptest::prop_assert_eq!(&back.labels, &labels);
            proptest::prop_assert_eq!(&back.out, &out);
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
            let back = decode_edge(&encode_edge(&e), None).unwrap();
            proptest::prop_assert_eq!((back.source, back.target), (e.source, e.target));
            proptest::prop_assert_eq!(&back.edge_type, &e.edge_type);
            proptest::prop_assert_eq!(back.header, e.header);
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = encode_node(&sample());
        for n in 0..bytes.len() {
            assert!(decode_node(&bytes[..n], Some(1)).is_err());
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xFF;
            // A flip may still decode to something; it must never panic.
            let _ = decode_node(&b, Some(1));
        }
    }
}
