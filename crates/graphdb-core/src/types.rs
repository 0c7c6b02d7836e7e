//! Identifiers, property values, nodes and edges.

use std::collections::BTreeMap;

use crate::error::{GraphError, Result};

/// A node's identifier. Ids start at 1 and are never reused.
pub type NodeId = u64;
/// An edge's identifier. Ids start at 1 and are never reused.
pub type EdgeId = u64;
/// A transaction's identifier, unique over the life of the database file.
pub type TxId = u64;
/// A page number in the database file; page 0 is the header page.
pub type PageId = u64;

/// Where a record version lives: a page and a slot in that page's slot directory.
/// Encoded on disk as `page << 16 | slot`; 0 means "no record".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RecordPointer {
    /// The slotted page holding the record (or its overflow stub).
    pub page: PageId,
    /// The slot in that page.
    pub slot: u16,
}

impl RecordPointer {
    pub(crate) fn encode(self) -> u64 {
        (self.page << 16) | u64::from(self.slot)
    }

    pub(crate) fn decode(raw: u64) -> Option<Self> {
        if raw == 0 {
            None
        } else {
            Some(RecordPointer {
                page: raw >> 16,
                slot: (raw & 0xFFFF) as u16,
            })
        }
    }
}

/// The deepest nesting of [`PropertyValue::List`] the engine stores. Deeper values are
/// rejected as invalid input, and deeper stored bytes are reported as corruption, so a
/// crafted file cannot overflow the decoder's stack.
pub const MAX_LIST_DEPTH: usize = 32;

/// A typed property value.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float (stored bit for bit, so NaN payloads survive).
    Float(f64),
    /// UTF-8 text.
    String(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A list of values, nested at most [`MAX_LIST_DEPTH`] deep.
    List(Vec<PropertyValue>),
}

impl PropertyValue {
    pub(crate) fn depth(&self) -> usize {
        match self {
            PropertyValue::List(items) => 1 + items.iter().map(|v| v.depth()).max().unwrap_or(0),
            _ => 0,
        }
    }
}

impl From<i64> for PropertyValue {
    fn from(v: i64) -> Self {
        PropertyValue::Int(v)
    }
}
impl From<bool> for PropertyValue {
    fn from(v: bool) -> Self {
        PropertyValue::Bool(v)
    }
}
impl From<f64> for PropertyValue {
    fn from(v: f64) -> Self {
        PropertyValue::Float(v)
    }
}
impl From<&str> for PropertyValue {
    fn from(v: &str) -> Self {
        PropertyValue::String(v.to_owned())
    }
}
impl From<String> for PropertyValue {
    fn from(v: String) -> Self {
        PropertyValue::String(v)
    }
}
impl From<Vec<u8>> for PropertyValue {
    fn from(v: Vec<u8>) -> Self {
        PropertyValue::Bytes(v)
    }
}

/// Properties of a node or edge, ordered by key so encoding is deterministic.
pub type Properties = BTreeMap<String, PropertyValue>;

/// A node: labels and properties. `id` is assigned by the database on insert (the value
/// passed in is ignored).
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// The node's id (0 until stored).
    pub id: NodeId,
    /// Labels, in the order given.
    pub labels: Vec<String>,
    /// Properties by key.
    pub properties: Properties,
    /// The commit timestamp of the version this value was read from; 0 for a value that
    /// was not read from the database or is still uncommitted.
    pub(crate) version: u64,
}

impl PartialEq for Node {
    /// Compares content (id, labels, properties), not the version it was read from.
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.labels == other.labels && self.properties == other.properties
    }
}

impl Node {
    /// A node without labels or properties.
    pub fn new() -> Self {
        Node::default()
    }

    /// Adds a label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.labels.push(label.into());
        self
    }

    /// Sets a property.
    pub fn with_property(
        mut self,
        key: impl Into<String>,
        value: impl Into<PropertyValue>,
    ) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Whether the node carries `label`.
    pub fn has_label(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }

    /// The commit timestamp of the version this value was read from (0 if it was not read
    /// from the database).
    pub fn version(&self) -> u64 {
        self.version
    }
}

/// A directed, typed edge between two nodes. `id` is assigned by the database on insert.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    /// The edge's id (0 until stored).
    pub id: EdgeId,
    /// The node the edge leaves.
    pub source: NodeId,
    /// The node the edge enters.
    pub target: NodeId,
    /// The edge type, e.g. `KNOWS`.
    pub edge_type: String,
    /// Properties by key.
    pub properties: Properties,
    pub(crate) version: u64,
}

impl PartialEq for Edge {
    /// Compares content, not the version it was read from.
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.source == other.source
            && self.target == other.target
            && self.edge_type == other.edge_type
            && self.properties == other.properties
    }
}

impl Edge {
    /// An edge of `edge_type` from `source` to `target` without properties.
    pub fn new(source: NodeId, target: NodeId, edge_type: impl Into<String>) -> Self {
        Edge {
            source,
            target,
            edge_type: edge_type.into(),
            ..Edge::default()
        }
    }

    /// Sets a property.
    pub fn with_property(
        mut self,
        key: impl Into<String>,
        value: impl Into<PropertyValue>,
    ) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// The commit timestamp of the version this value was read from (0 if it was not read
    /// from the database).
    pub fn version(&self) -> u64 {
        self.version
    }
}

/// Which adjacency list of a node to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Edges whose source is the node.
    Outgoing,
    /// Edges whose target is the node.
    Incoming,
    /// Both lists (an edge from a node to itself appears twice).
    Both,
}

pub(crate) fn validate_properties(props: &Properties) -> Result<()> {
    for (k, v) in props {
        if v.depth() > MAX_LIST_DEPTH {
            return Err(GraphError::InvalidArgument(format!(
                "property {k:?} nests lists deeper than {MAX_LIST_DEPTH}"
            )));
        }
    }
    Ok(())
}
