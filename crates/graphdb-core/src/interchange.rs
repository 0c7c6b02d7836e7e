//! Import and export: CSV in the layout of Neo4j's bulk importer (`neo4j-admin database
//! import`: a nodes file with `:ID` and `:LABEL` columns, a relationships file with
//! `:START_ID`, `:END_ID` and `:TYPE`, typed property columns such as `age:long`), and JSON
//! lines (one object per node or edge, every value kept exactly). The CSV export also
//! writes `kuzu.cypher`, which declares Kuzu tables matching the files' columns so that
//! Kuzu's `COPY FROM` loads the same files.
//!
//! An import is one write transaction: a malformed file stops it with
//! [`GraphError::Import`] naming the file, the line and the reason, and the database is
//! left exactly as it was. Export reads one snapshot.
//!
//! An import streams: whatever the input's size, it holds at most
//! [`ImportOptions::batch_records`] parsed records, [`ImportOptions::run_entries`]
//! adjacency entries and about [`ImportOptions::max_dirty_pages`] modified pages in
//! memory (plus the map from the files' node ids to the database's, which grows with the
//! node count). Every batch of records is written into the commit being built; pages
//! past the limit go to the log as frames without a commit marker, and the adjacency
//! entries are sorted in runs (temporary files when they do not fit) and merged, so
//! that every node's adjacency is written once, after all edges. The single commit
//! frame at the end makes the whole import visible and durable at once: a process
//! killed or a machine stopped before it leaves the database as it was (recovery drops
//! the unfinished frames), after it the import is complete.
//!
//! CSV keeps what its layout can say: booleans, integers, floats, strings and lists of
//! one of those, one type per column. A value CSV cannot express (null, bytes, nested or
//! mixed lists, a key holding different types on different nodes, a list of strings with
//! `;` or an empty string in it, a label with `;`) makes the CSV export fail with
//! [`GraphError::InvalidArgument`] saying which; JSON lines express everything.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use crate::db::{AdjLists, BulkEdge, BulkEdges, GraphDB};
use crate::error::{GraphError, Result};
use crate::txn::WriteTxn;
use crate::types::{Edge, EdgeId, Node, NodeId, Properties, PropertyValue, MAX_LIST_DEPTH};

/// What an import or export moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Nodes read or written.
    pub nodes: u64,
    /// Edges read or written.
    pub edges: u64,
}

/// Memory limits of an import (see the module docs). The defaults hold a few tens of
/// MiB whatever the input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// Parsed records held before they are written into the commit being built.
    pub batch_records: usize,
    /// Modified pages (8 KiB each) the commit being built may keep in memory after a
    /// batch; past it they go to the log. One batch can add its own pages on top.
    pub max_dirty_pages: usize,
    /// Adjacency entries (32 bytes each, two per edge) sorted in memory before a sorted
    /// run goes to a temporary file.
    pub run_entries: usize,
    /// Hold the whole import in one ordinary in-memory transaction instead (what the
    /// importer did before it streamed; kept to measure the two side by side). The
    /// other limits are then ignored.
    pub in_memory: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_records: 65_536,
            max_dirty_pages: 4_096,
            run_entries: 1 << 20,
            in_memory: false,
        }
    }
}

/// What an import did, beyond [`Counts`]: the figures that show its memory bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportStats {
    /// Nodes and edges imported.
    pub counts: Counts,
    /// Batches written into the commit being built (0 for an in-memory import).
    pub batches: u64,
    /// The most parsed records held at once.
    pub peak_buffered_records: u64,
    /// The most adjacency entries held in memory at once.
    pub peak_adjacency_entries: u64,
    /// The most modified pages held after a batch, before they went to the log.
    pub peak_dirty_pages: u64,
    /// Sorted adjacency runs written to temporary files.
    pub adjacency_runs: u64,
}

/// One adjacency entry: the node, `direction << 63 | edge`, the node at the other end
/// and the edge type (an index into the import's type table). Sorting by the first two
/// puts a node's outgoing then incoming edges together, each in edge-id order.
type AdjEntry = (NodeId, u64, NodeId, u32);

/// The bytes of one entry in a run file.
const ENTRY_BYTES: usize = 28;

/// Adjacency entries, sorted in runs of bounded size; runs that do not fit stay in
/// temporary files until they are merged.
struct AdjacencyRuns {
    buf: Vec<AdjEntry>,
    /// Room for sorting a run, kept from run to run.
    scratch: Vec<AdjEntry>,
    cap: usize,
    files: Vec<std::path::PathBuf>,
    peak: usize,
}

const INCOMING: u64 = 1 << 63;

impl AdjacencyRuns {
    fn new(cap: usize) -> Self {
        AdjacencyRuns {
            buf: Vec::new(),
            scratch: Vec::new(),
            cap: cap.max(2),
            files: Vec::new(),
            peak: 0,
        }
    }

    fn push(
        &mut self,
        node: NodeId,
        incoming: bool,
        edge: EdgeId,
        other: NodeId,
        ty: u32,
    ) -> Result<()> {
        let key = if incoming { INCOMING | edge } else { edge };
        self.buf.push((node, key, other, ty));
        self.peak = self.peak.max(self.buf.len());
        if self.buf.len() >= self.cap {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorts the buffer and writes it as one run to a temporary file.
    fn spill(&mut self) -> Result<()> {
        sort_run(&mut self.buf, &mut self.scratch);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "graphdb-import-{}-{nanos}-{}.run",
            std::process::id(),
            self.files.len()
        ));
        let file = std::fs::File::create(&path).map_err(|e| io_err(&path, e))?;
        self.files.push(path.clone());
        let mut w = BufWriter::with_capacity(1 << 16, file);
        for (node, key, other, ty) in self.buf.drain(..) {
            let mut b = [0u8; ENTRY_BYTES];
            b[..8].copy_from_slice(&node.to_le_bytes());
            b[8..16].copy_from_slice(&key.to_le_bytes());
            b[16..24].copy_from_slice(&other.to_le_bytes());
            b[24..].copy_from_slice(&ty.to_le_bytes());
            w.write_all(&b).map_err(|e| io_err(&path, e))?;
        }
        w.flush().map_err(|e| io_err(&path, e))
    }

    /// Every entry in `(node, direction, edge)` order, one node's lists at a time.
    fn merge(&mut self, mut each: impl FnMut(AdjLists) -> Result<()>) -> Result<()> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        sort_run(&mut self.buf, &mut self.scratch);
        self.scratch = Vec::new();
        let mut readers = Vec::new();
        for path in &self.files {
            let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
            readers.push((path.clone(), BufReader::with_capacity(1 << 16, file)));
        }
        let next_of =
            |r: &mut (std::path::PathBuf, BufReader<std::fs::File>)| -> Result<Option<AdjEntry>> {
                let mut b = [0u8; ENTRY_BYTES];
                match r.1.read_exact(&mut b) {
                    Ok(()) => {
                        let u = |at: usize| {
                            let mut x = [0u8; 8];
                            x.copy_from_slice(&b[at..at + 8]);
                            u64::from_le_bytes(x)
                        };
                        let mut t = [0u8; 4];
                        t.copy_from_slice(&b[24..]);
                        Ok(Some((u(0), u(8), u(16), u32::from_le_bytes(t))))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
                    Err(e) => Err(io_err(&r.0, e)),
                }
            };
        // Sources 0..files are the runs on disk; the last one is the buffer.
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some(x) = next_of(r)? {
                heap.push(Reverse((x, i)));
            }
        }
        let in_memory = readers.len();
        let buf = std::mem::take(&mut self.buf);
        let mut buf_at = 0;
        if let Some(x) = buf.first() {
            heap.push(Reverse((*x, in_memory)));
            buf_at = 1;
        }
        let mut current: Option<AdjLists> = None;
        while let Some(Reverse(((node, key, other, ty), src))) = heap.pop() {
            let next = if src == in_memory {
                let x = buf.get(buf_at).copied();
                buf_at += 1;
                x
            } else {
                next_of(&mut readers[src])?
            };
            if let Some(x) = next {
                heap.push(Reverse((x, src)));
            }
            if current.as_ref().is_some_and(|(n, _, _)| *n != node) {
                if let Some(lists) = current.take() {
                    each(lists)?;
                }
            }
            let slot = current.get_or_insert_with(|| (node, Vec::new(), Vec::new()));
            if key & INCOMING != 0 {
                slot.2.push((key & !INCOMING, other, ty));
            } else {
                slot.1.push((key, other, ty));
            }
        }
        if let Some(lists) = current.take() {
            each(lists)?;
        }
        Ok(())
    }
}

/// Sorts a run of entries by `(node, direction and edge)`. The importer pushes entries in
/// edge-id order, so a stable counting sort by node and direction gives that order in
/// two linear passes when the run's node ids are dense (they are taken in sequence);
/// otherwise, or if the result is not in order after all, a comparison sort does it.
/// `scratch` is room for the counting sort (its contents are not kept).
fn sort_run(buf: &mut Vec<AdjEntry>, scratch: &mut Vec<AdjEntry>) {
    let (Some(lo), Some(hi)) = (buf.iter().map(|e| e.0).min(), buf.iter().map(|e| e.0).max())
    else {
        return;
    };
    let buckets = (hi - lo).saturating_add(1).saturating_mul(2);
    if buckets > 4 * buf.len() as u64 + 4096 {
        buf.sort_unstable();
        return;
    }
    let bucket = |e: &AdjEntry| ((e.0 - lo) * 2 + (e.1 >> 63)) as usize;
    let mut starts = vec![0usize; buckets as usize + 1];
    for e in buf.iter() {
        starts[bucket(e) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    scratch.clear();
    scratch.resize(buf.len(), (0, 0, 0, 0));
    for e in buf.iter() {
        let at = &mut starts[bucket(e)];
        scratch[*at] = *e;
        *at += 1;
    }
    if scratch.windows(2).all(|w| w[0] < w[1]) {
        std::mem::swap(buf, scratch);
    } else {
        buf.sort_unstable();
    }
}

impl Drop for AdjacencyRuns {
    fn drop(&mut self) {
        for path in &self.files {
            // A leftover temporary file is only wasted space.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// One import's write transaction with its batching (see the module docs).
struct Loader<'a> {
    tx: WriteTxn<'a>,
    opts: ImportOptions,
    stats: ImportStats,
    /// Parsed records waiting for the next batch (ids already taken).
    nodes: Vec<Node>,
    edges: BulkEdges,
    adjacency: AdjacencyRuns,
    /// The edge types and edge property keys seen so far; adjacency entries and bulk
    /// edges name them by index.
    names: Vec<String>,
    name_index: HashMap<String, u32>,
    /// The type of the last edge added (an index into `names`).
    last_type: u32,
}

impl<'a> Loader<'a> {
    fn new(db: &'a mut GraphDB, opts: ImportOptions) -> Result<Self> {
        Ok(Loader {
            tx: db.begin_write_txn()?,
            opts,
            stats: ImportStats::default(),
            nodes: Vec::new(),
            edges: BulkEdges::default(),
            adjacency: AdjacencyRuns::new(opts.run_entries),
            names: Vec::new(),
            name_index: HashMap::new(),
            last_type: u32::MAX,
        })
    }

    fn add_node(&mut self, mut node: Node) -> Result<NodeId> {
        self.stats.counts.nodes += 1;
        if self.opts.in_memory {
            return self.tx.add_node(node);
        }
        crate::types::validate_properties(&node.properties)?;
        node.id = self.tx.next_bulk_node_id()?;
        node.version = 0;
        let id = node.id;
        self.nodes.push(node);
        Ok(id)
    }

    /// The index of `name` in the load's table of names, added if new.
    fn intern(&mut self, name: &str) -> Result<u32> {
        if let Some(i) = self.name_index.get(name) {
            return Ok(*i);
        }
        let i = u32::try_from(self.names.len()).map_err(|_| {
            GraphError::InvalidArgument("more than 2^32 edge types and property keys".into())
        })?;
        self.names.push(name.to_owned());
        self.name_index.insert(name.to_owned(), i);
        Ok(i)
    }

    fn add_edge(&mut self, edge: Edge) -> Result<EdgeId> {
        if self.opts.in_memory {
            self.stats.counts.edges += 1;
            return self.tx.add_edge(edge);
        }
        crate::types::validate_properties(&edge.properties)?;
        let mut props = Vec::with_capacity(edge.properties.len());
        for (k, v) in edge.properties {
            props.push((self.intern(&k)?, v));
        }
        self.add_bulk_edge(edge.source, edge.target, &edge.edge_type, &mut props)
    }

    /// Adds an edge whose property keys are indexes into the load's names (see
    /// [`intern`](Loader::intern)); its values nest no list (a CSV cell's do not). The
    /// properties are moved out of `properties`, which is left empty (its room kept).
    fn add_bulk_edge(
        &mut self,
        s: NodeId,
        t: NodeId,
        edge_type: &str,
        properties: &mut Vec<(u32, PropertyValue)>,
    ) -> Result<EdgeId> {
        if self.opts.in_memory {
            let mut e = Edge::new(s, t, edge_type);
            for (k, v) in properties.drain(..) {
                let key = self.names.get(k as usize).cloned().unwrap_or_default();
                e.properties.insert(key, v);
            }
            return self.add_edge(e);
        }
        self.stats.counts.edges += 1;
        // Most files use one type or a few, usually in runs: the last one is checked
        // before the map.
        let ty = match self.names.get(self.last_type as usize) {
            Some(last) if last == edge_type => self.last_type,
            _ => self.intern(edge_type)?,
        };
        self.last_type = ty;
        let id = self.tx.next_bulk_edge_id()?;
        let span = (
            u32::try_from(self.edges.properties.len()),
            u32::try_from(properties.len()),
        );
        let (Ok(start), Ok(n)) = span else {
            return Err(GraphError::InvalidArgument(
                "more than 2^32 properties in one batch".into(),
            ));
        };
        self.edges.properties.append(properties);
        self.edges.edges.push(BulkEdge {
            id,
            source: s,
            target: t,
            ty,
            properties: (start, n),
        });
        self.adjacency.push(s, false, id, t, ty)?;
        self.adjacency.push(t, true, id, s, ty)?;
        Ok(id)
    }

    /// Writes the buffered records into the commit once there are enough of them.
    fn after_record(&mut self) -> Result<()> {
        let held = (self.nodes.len() + self.edges.edges.len()) as u64;
        self.stats.peak_buffered_records = self.stats.peak_buffered_records.max(held);
        if held >= self.opts.batch_records.max(1) as u64 {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<()> {
        let room = self.opts.batch_records.min(1 << 16);
        let nodes = std::mem::replace(&mut self.nodes, Vec::with_capacity(room));
        let dirty =
            self.tx
                .bulk_write(nodes, &self.edges, &self.names, self.opts.max_dirty_pages)?;
        self.edges.edges.clear();
        self.edges.properties.clear();
        self.stats.peak_dirty_pages = self.stats.peak_dirty_pages.max(dirty as u64);
        self.stats.batches += 1;
        Ok(())
    }

    /// Writes what is left, the sorted adjacency, and commits.
    fn finish(mut self) -> Result<ImportStats> {
        if !self.opts.in_memory {
            self.write_batch()?;
            self.stats.adjacency_runs = self.adjacency.files.len() as u64;
            let mut lists = Vec::new();
            let mut held = 0usize;
            let batch = self.opts.batch_records.max(1);
            let max_dirty = self.opts.max_dirty_pages;
            let (tx, stats, adjacency, types) = (
                &mut self.tx,
                &mut self.stats,
                &mut self.adjacency,
                &self.names,
            );
            adjacency.merge(|node_lists| {
                held += node_lists.1.len() + node_lists.2.len();
                lists.push(node_lists);
                if held >= batch {
                    let dirty = tx.apply_adjacency(&lists, types, max_dirty)?;
                    stats.peak_dirty_pages = stats.peak_dirty_pages.max(dirty as u64);
                    lists.clear();
                    held = 0;
                }
                Ok(())
            })?;
            if !lists.is_empty() {
                let dirty = self.tx.apply_adjacency(&lists, &self.names, max_dirty)?;
                self.stats.peak_dirty_pages = self.stats.peak_dirty_pages.max(dirty as u64);
            }
        }
        self.stats.peak_adjacency_entries = self.adjacency.peak as u64;
        let mut stats = self.stats;
        stats.peak_dirty_pages = stats.peak_dirty_pages.max(self.tx.dirty_pages() as u64);
        self.tx.commit()?;
        Ok(stats)
    }
}

/// A hasher for integer keys: one multiplication instead of SipHash (the keys are the
/// files' own ids, which the importer only ever looks up).
#[derive(Default)]
struct IntHasher(u64);

impl std::hash::Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 =
                (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IntMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<IntHasher>>;

/// The files' `:ID`s and the node ids the database gave them. Ids written as plain
/// decimal integers (the common case) are kept as numbers: no allocation per node and
/// no string comparison per edge end; any other text is kept as text. `"7"` and `"07"`
/// stay different ids, as in the file.
#[derive(Default)]
struct IdMap {
    /// Small numbers index a vector directly (0: no node), as long as it stays within a
    /// few times the number of ids mapped, so dense ids `1..=n` cost no hashing at all.
    dense: Vec<NodeId>,
    mapped: usize,
    ints: IntMap<NodeId>,
    texts: HashMap<String, NodeId>,
}

impl IdMap {
    /// The number a canonical decimal id stands for (no sign, no leading zero).
    #[inline]
    fn number(text: &str) -> Option<u64> {
        let b = text.as_bytes();
        if b.is_empty() || b.len() > 19 || (b.len() > 1 && b[0] == b'0') {
            return None;
        }
        // At most 19 digits: below 10^19, so no overflow.
        let mut n = 0u64;
        for &c in b {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            n = n * 10 + u64::from(d);
        }
        Some(n)
    }

    fn get(&self, text: &str) -> Option<NodeId> {
        match Self::number(text) {
            Some(n) => match self.dense.get(n as usize) {
                Some(0) => None,
                Some(id) => Some(*id),
                None => self.ints.get(&n).copied(),
            },
            None => self.texts.get(text).copied(),
        }
    }

    fn insert(&mut self, text: &str, id: NodeId) {
        self.mapped += 1;
        match Self::number(text) {
            Some(n) if (n as usize) < self.dense.len() => self.dense[n as usize] = id,
            Some(n) if n < 4 * self.mapped as u64 + 4096 => {
                self.dense
                    .resize((n as usize + 1).max(2 * self.dense.len()), 0);
                self.dense[n as usize] = id;
            }
            Some(n) => {
                self.ints.insert(n, id);
            }
            None => {
                self.texts.insert(text.to_owned(), id);
            }
        }
    }
}

// ----- CSV reading and writing -----

/// One CSV field and whether it was quoted (an unquoted empty field is "no value", a
/// quoted empty one is the empty string).
#[derive(Debug, Clone, PartialEq)]
struct Field {
    text: String,
    quoted: bool,
}

/// A CSV record: the line it starts on and its fields.
type Record = (u64, Vec<Field>);

/// Sets field `n` of `fields` (reusing its string) to `text`.
fn set_field(fields: &mut Vec<Field>, n: usize, text: &str, quoted: bool) {
    match fields.get_mut(n) {
        Some(f) => {
            f.text.clear();
            f.text.push_str(text);
            f.quoted = quoted;
        }
        None => fields.push(Field {
            text: text.to_owned(),
            quoted,
        }),
    }
}

/// Splits a one-line record whose quoted fields hold no `""` escape and no line break,
/// and whose other fields hold no quote (no carriage return anywhere, which the general
/// reader drops), into `fields`. `false` when the line is not that simple (the general
/// reader then reads it, and reports what is malformed).
fn split_simple(body: &str, fields: &mut Vec<Field>) -> bool {
    let b = body.as_bytes();
    if b.contains(&b'\r') {
        return false;
    }
    let mut n = 0;
    let mut at = 0;
    loop {
        let end = if b.get(at) == Some(&b'"') {
            let Some(close) = b[at + 1..].iter().position(|&c| c == b'"') else {
                return false;
            };
            let close = at + 1 + close;
            if close + 1 < b.len() && b[close + 1] != b',' {
                return false;
            }
            set_field(fields, n, &body[at + 1..close], true);
            close + 1
        } else {
            let end = b[at..]
                .iter()
                .position(|&c| c == b',')
                .map_or(b.len(), |p| at + p);
            if b[at..end].contains(&b'"') {
                return false;
            }
            set_field(fields, n, &body[at..end], false);
            end
        };
        n += 1;
        if end >= b.len() {
            break;
        }
        at = end + 1;
    }
    fields.truncate(n);
    true
}

/// Reads RFC 4180 records (commas, double quotes, `""` inside quotes, line breaks inside
/// quotes) and tells the line each record starts on.
struct CsvReader<R> {
    input: R,
    line: u64,
    buf: String,
}

impl<R: BufRead> CsvReader<R> {
    fn new(input: R) -> Self {
        CsvReader {
            input,
            line: 0,
            buf: String::new(),
        }
    }

    /// The next record and its first line; `Ok(None)` at the end. Blank lines are skipped.
    fn next_record(&mut self) -> std::result::Result<Option<Record>, (u64, String)> {
        let mut fields = Vec::new();
        Ok(self.next_into(&mut fields)?.map(|line| (line, fields)))
    }

    /// Reads the next record into `fields` (whose strings are reused) and returns the line
    /// it starts on.
    fn next_into(
        &mut self,
        fields: &mut Vec<Field>,
    ) -> std::result::Result<Option<u64>, (u64, String)> {
        loop {
            self.buf.clear();
            let n = self
                .input
                .read_line(&mut self.buf)
                .map_err(|e| (self.line + 1, format!("cannot read: {e}")))?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            if !self.buf.trim_end_matches(['\r', '\n']).is_empty() {
                break;
            }
        }
        let start = self.line;
        let body = self.buf.trim_end_matches(['\r', '\n']);
        if split_simple(body, fields) {
            return Ok(Some(start));
        }
        fields.clear();
        let mut cur = String::new();
        let mut quoted = false;
        let mut in_quotes = false;
        let mut after_quote = false;
        loop {
            let line = std::mem::take(&mut self.buf);
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                if in_quotes {
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            cur.push('"');
                        } else {
                            in_quotes = false;
                            after_quote = true;
                        }
                    } else {
                        cur.push(c);
                    }
                    continue;
                }
                match c {
                    ',' => {
                        fields.push(Field {
                            text: std::mem::take(&mut cur),
                            quoted,
                        });
                        quoted = false;
                        after_quote = false;
                    }
                    '"' if cur.is_empty() && !quoted => {
                        quoted = true;
                        in_quotes = true;
                    }
                    '\r' | '\n' => {}
                    _ if after_quote => {
                        return Err((start, format!("text after a closing quote: {c:?}")));
                    }
                    '"' => return Err((start, "a quote inside an unquoted field".into())),
                    _ => cur.push(c),
                }
            }
            if !in_quotes {
                break;
            }
            // The record goes on: a line break inside quotes is part of the value.
            let n = self
                .input
                .read_line(&mut self.buf)
                .map_err(|e| (self.line + 1, format!("cannot read: {e}")))?;
            if n == 0 {
                return Err((start, "the file ends inside a quoted field".into()));
            }
            self.line += 1;
        }
        fields.push(Field { text: cur, quoted });
        Ok(Some(start))
    }
}

fn csv_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Quotes only when the text needs it (a comma, quote, line break, or nothing at all).
fn csv_plain(text: &str) -> String {
    if text.is_empty() || text.contains([',', '"', '\n', '\r']) {
        csv_quote(text)
    } else {
        text.to_owned()
    }
}

// ----- column types -----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Bool,
    Long,
    Double,
    Str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ColType {
    scalar: Scalar,
    array: bool,
}

impl ColType {
    fn name(self) -> String {
        let s = match self.scalar {
            Scalar::Bool => "boolean",
            Scalar::Long => "long",
            Scalar::Double => "double",
            Scalar::Str => "string",
        };
        if self.array {
            format!("{s}[]")
        } else {
            s.to_owned()
        }
    }

    fn parse(name: &str) -> Option<ColType> {
        let (base, array) = match name.strip_suffix("[]") {
            Some(b) => (b, true),
            None => (name, false),
        };
        let scalar = match base.to_ascii_lowercase().as_str() {
            "boolean" => Scalar::Bool,
            "long" | "int" | "short" | "byte" => Scalar::Long,
            "double" | "float" => Scalar::Double,
            "string" | "char" => Scalar::Str,
            _ => return None,
        };
        Some(ColType { scalar, array })
    }
}

fn scalar_of(v: &PropertyValue) -> Option<Scalar> {
    Some(match v {
        PropertyValue::Bool(_) => Scalar::Bool,
        PropertyValue::Int(_) => Scalar::Long,
        PropertyValue::Float(_) => Scalar::Double,
        PropertyValue::String(_) => Scalar::Str,
        _ => return None,
    })
}

/// The CSV column type of a value, or why it has none.
fn col_type_of(v: &PropertyValue) -> std::result::Result<Option<ColType>, &'static str> {
    match v {
        PropertyValue::List(items) => {
            let mut scalar = None;
            for item in items {
                let s = scalar_of(item).ok_or("a list of nulls, bytes or lists")?;
                if scalar.is_some_and(|x| x != s) {
                    return Err("a list of mixed types");
                }
                scalar = Some(s);
            }
            // An empty list fits any array column; the column takes its type elsewhere.
            Ok(scalar.map(|scalar| ColType {
                scalar,
                array: true,
            }))
        }
        other => scalar_of(other)
            .map(|scalar| {
                Some(ColType {
                    scalar,
                    array: false,
                })
            })
            .ok_or("null or bytes"),
    }
}

fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        // Rust prints the shortest text that parses back to the same bits.
        format!("{f:?}")
    }
}

fn format_scalar(v: &PropertyValue) -> String {
    match v {
        PropertyValue::Bool(b) => b.to_string(),
        PropertyValue::Int(i) => i.to_string(),
        PropertyValue::Float(f) => format_float(*f),
        PropertyValue::String(s) => s.clone(),
        _ => String::new(),
    }
}

fn parse_scalar(s: Scalar, text: &str) -> std::result::Result<PropertyValue, String> {
    Ok(match s {
        Scalar::Bool => match text.trim() {
            t if t.eq_ignore_ascii_case("true") => PropertyValue::Bool(true),
            t if t.eq_ignore_ascii_case("false") => PropertyValue::Bool(false),
            t => return Err(format!("{t:?} is not a boolean")),
        },
        Scalar::Long => PropertyValue::Int(
            text.trim()
                .parse()
                .map_err(|_| format!("{text:?} is not an integer"))?,
        ),
        Scalar::Double => PropertyValue::Float(match text.trim() {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            t => t.parse().map_err(|_| format!("{t:?} is not a number"))?,
        }),
        Scalar::Str => PropertyValue::String(text.to_owned()),
    })
}

/// The cell for one value in a column of type `t`.
fn format_cell(t: ColType, v: &PropertyValue) -> String {
    match v {
        PropertyValue::List(items) => csv_quote(
            &items
                .iter()
                .map(format_scalar)
                .collect::<Vec<_>>()
                .join(";"),
        ),
        PropertyValue::String(s) => csv_quote(s),
        other => {
            let _ = t;
            format_scalar(other)
        }
    }
}

fn parse_cell(t: ColType, f: &Field) -> std::result::Result<Option<PropertyValue>, String> {
    if f.text.is_empty() && !f.quoted {
        return Ok(None);
    }
    if !t.array {
        return parse_scalar(t.scalar, &f.text).map(Some);
    }
    if f.text.is_empty() {
        return Ok(Some(PropertyValue::List(Vec::new())));
    }
    f.text
        .split(';')
        .map(|part| parse_scalar(t.scalar, part))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(|items| Some(PropertyValue::List(items)))
}

/// The typed property columns for a set of property maps, in key order.
fn columns<'a>(
    what: &str,
    items: impl Iterator<Item = (u64, &'a Properties)>,
) -> Result<Vec<(String, ColType)>> {
    let mut types: BTreeMap<String, Option<ColType>> = BTreeMap::new();
    let unrepresentable = |id: u64, key: &str, why: &str| {
        GraphError::InvalidArgument(format!(
            "{what} {id}: property {key:?} holds {why}, which the CSV layout cannot express; export as JSON lines instead"
        ))
    };
    for (id, props) in items {
        for (k, v) in props {
            if k.contains(':') {
                return Err(unrepresentable(id, k, "a ':' in its name"));
            }
            let t = col_type_of(v).map_err(|why| unrepresentable(id, k, why))?;
            if let PropertyValue::List(items) = v {
                if items.iter().any(
                    |i| matches!(i, PropertyValue::String(s) if s.is_empty() || s.contains(';')),
                ) {
                    return Err(unrepresentable(
                        id,
                        k,
                        "a list with an empty string or a ';'",
                    ));
                }
            }
            let slot = types.entry(k.clone()).or_insert(None);
            match (*slot, t) {
                (_, None) => {
                    // An empty list: the column must be an array column.
                    if slot.is_some_and(|s| !s.array) {
                        return Err(unrepresentable(id, k, "values of different types"));
                    }
                }
                (None, Some(t)) => *slot = Some(t),
                (Some(s), Some(t)) if s == t => {}
                (Some(_), Some(_)) => {
                    return Err(unrepresentable(id, k, "values of different types"))
                }
            }
        }
    }
    // A key that only ever held empty lists becomes a string array.
    let mut out = Vec::new();
    for (k, t) in types {
        let t = t.unwrap_or(ColType {
            scalar: Scalar::Str,
            array: true,
        });
        out.push((k, t));
    }
    // Every empty list must sit in an array column (checked above for keys seen first
    // as scalars; here for keys whose scalar came later).
    Ok(out)
}

fn io_err(path: &Path, e: std::io::Error) -> GraphError {
    GraphError::Io(std::io::Error::new(
        e.kind(),
        format!("{}: {e}", path.display()),
    ))
}

/// Writes `nodes.csv` and `edges.csv` into `dir` (created if missing) from the snapshot
/// at `snapshot_ts`, in Neo4j's bulk-import layout, plus `kuzu.cypher`, the Kuzu
/// statements that declare matching tables and load both files. Node ids are the
/// database's ids.
pub fn export_csv(db: &GraphDB, snapshot_ts: u64, dir: &Path) -> Result<Counts> {
    let nodes = db.scan_nodes(snapshot_ts, |_| true)?;
    let edges = db.scan_edges(snapshot_ts)?;
    let node_cols = columns("node", nodes.iter().map(|n| (n.id, &n.properties)))?;
    let edge_cols = columns("edge", edges.iter().map(|e| (e.id, &e.properties)))?;
    for n in &nodes {
        if n.labels.iter().any(|l| l.is_empty() || l.contains(';')) {
            return Err(GraphError::InvalidArgument(format!(
                "node {}: a label that is empty or holds ';' cannot be written to CSV; export as JSON lines instead",
                n.id
            )));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let write_rows = |path: &Path,
                      header: Vec<String>,
                      rows: &mut dyn Iterator<Item = Vec<String>>|
     -> Result<()> {
        let file = std::fs::File::create(path).map_err(|e| io_err(path, e))?;
        let mut w = BufWriter::new(file);
        writeln!(w, "{}", header.join(",")).map_err(|e| io_err(path, e))?;
        for row in rows {
            writeln!(w, "{}", row.join(",")).map_err(|e| io_err(path, e))?;
        }
        w.flush().map_err(|e| io_err(path, e))?;
        w.get_ref().sync_all().map_err(|e| io_err(path, e))
    };
    let cell = |props: &Properties, cols: &[(String, ColType)]| -> Vec<String> {
        cols.iter()
            .map(|(k, t)| props.get(k).map(|v| format_cell(*t, v)).unwrap_or_default())
            .collect()
    };
    let mut header = vec![":ID".to_owned(), ":LABEL".to_owned()];
    header.extend(
        node_cols
            .iter()
            .map(|(k, t)| csv_plain(&format!("{k}:{}", t.name()))),
    );
    write_rows(
        &dir.join("nodes.csv"),
        header,
        &mut nodes.iter().map(|n| {
            let mut row = vec![n.id.to_string(), csv_plain(&n.labels.join(";"))];
            if n.labels.is_empty() {
                row[1].clear();
            }
            row.extend(cell(&n.properties, &node_cols));
            row
        }),
    )?;
    let mut header = vec![
        ":START_ID".to_owned(),
        ":END_ID".to_owned(),
        ":TYPE".to_owned(),
    ];
    header.extend(
        edge_cols
            .iter()
            .map(|(k, t)| csv_plain(&format!("{k}:{}", t.name()))),
    );
    write_rows(
        &dir.join("edges.csv"),
        header,
        &mut edges.iter().map(|e| {
            let mut row = vec![
                e.source.to_string(),
                e.target.to_string(),
                csv_quote(&e.edge_type),
            ];
            row.extend(cell(&e.properties, &edge_cols));
            row
        }),
    )?;
    let script = kuzu_script(&node_cols, &edge_cols);
    let path = dir.join("kuzu.cypher");
    std::fs::write(&path, script).map_err(|e| io_err(&path, e))?;
    Ok(Counts {
        nodes: nodes.len() as u64,
        edges: edges.len() as u64,
    })
}

/// Kuzu's type for a CSV column. Arrays stay `;`-joined text: Kuzu's list syntax in CSV
/// (`[a,b]`) differs from Neo4j's.
fn kuzu_type(t: ColType) -> &'static str {
    match (t.array, t.scalar) {
        (true, _) | (false, Scalar::Str) => "STRING",
        (false, Scalar::Bool) => "BOOLEAN",
        (false, Scalar::Long) => "INT64",
        (false, Scalar::Double) => "DOUBLE",
    }
}

/// The Kuzu statements that load `nodes.csv` and `edges.csv` as they are: Kuzu maps CSV
/// columns by position and skips the header line, so one node table `Node` (the id,
/// the `;`-joined labels, then the properties) and one relationship table `Edge` (the
/// endpoints, the type, then the properties) read the Neo4j-layout files unchanged.
fn kuzu_script(node_cols: &[(String, ColType)], edge_cols: &[(String, ColType)]) -> String {
    let cols = |cs: &[(String, ColType)]| -> String {
        cs.iter()
            .map(|(k, t)| format!(", `{}` {}", k.replace('`', "``"), kuzu_type(*t)))
            .collect()
    };
    format!(
        "// Loads this directory into Kuzu: kuzu <db> < kuzu.cypher (run from this directory).\n\
         CREATE NODE TABLE Node(id INT64, labels STRING{}, PRIMARY KEY (id));\n\
         CREATE REL TABLE Edge(FROM Node TO Node, type STRING{});\n\
         COPY Node FROM 'nodes.csv' (HEADER=true, PARALLEL=false);\n\
         COPY Edge FROM 'edges.csv' (HEADER=true, PARALLEL=false);\n",
        cols(node_cols),
        cols(edge_cols)
    )
}

enum Column {
    Id,
    Label,
    Start,
    End,
    Type,
    Ignore,
    Prop(String, ColType),
}

fn parse_header(fields: &[Field], edges: bool) -> std::result::Result<Vec<Column>, String> {
    let mut cols = Vec::new();
    for f in fields {
        let (name, kind) = match f.text.rfind(':') {
            Some(at) => (&f.text[..at], &f.text[at + 1..]),
            None => (f.text.as_str(), ""),
        };
        let col = match kind {
            "ID" if !edges => Column::Id,
            "LABEL" if !edges => Column::Label,
            "START_ID" if edges => Column::Start,
            "END_ID" if edges => Column::End,
            "TYPE" if edges => Column::Type,
            "IGNORE" => Column::Ignore,
            "" => Column::Prop(
                name.to_owned(),
                ColType {
                    scalar: Scalar::Str,
                    array: false,
                },
            ),
            t => match ColType::parse(t) {
                Some(ct) if !name.is_empty() => Column::Prop(name.to_owned(), ct),
                _ => return Err(format!("column {:?}: unknown type or role {t:?}", f.text)),
            },
        };
        cols.push(col);
    }
    let count = |want: fn(&Column) -> bool| cols.iter().filter(|c| want(c)).count();
    if edges {
        if count(|c| matches!(c, Column::Start)) != 1
            || count(|c| matches!(c, Column::End)) != 1
            || count(|c| matches!(c, Column::Type)) != 1
        {
            return Err(
                "an edges file needs one :START_ID, one :END_ID and one :TYPE column".into(),
            );
        }
    } else if count(|c| matches!(c, Column::Id)) != 1 {
        return Err("a nodes file needs one :ID column".into());
    }
    Ok(cols)
}

fn open_reader(path: &Path) -> Result<BufReader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    Ok(BufReader::with_capacity(1 << 16, file))
}

/// Imports CSV files in Neo4j's bulk-import layout (every nodes file first, then every
/// edges file) as one transaction, streaming with the default [`ImportOptions`].
/// `progress` is called with the number of records read so far, every few thousand
/// records. On any error nothing is applied.
pub fn import_csv(
    db: &mut GraphDB,
    node_files: &[&Path],
    edge_files: &[&Path],
    progress: &mut dyn FnMut(u64),
) -> Result<Counts> {
    import_csv_with(
        db,
        node_files,
        edge_files,
        ImportOptions::default(),
        progress,
    )
    .map(|s| s.counts)
}

/// [`import_csv`] with explicit memory limits, returning what it held at most.
pub fn import_csv_with(
    db: &mut GraphDB,
    node_files: &[&Path],
    edge_files: &[&Path],
    options: ImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportStats> {
    let mut load = Loader::new(db, options)?;
    let mut ids = IdMap::default();
    let mut records = 0u64;
    for (files, edges) in [(node_files, false), (edge_files, true)] {
        for path in files {
            let name = path.display().to_string();
            let fail = |line: u64, reason: String| GraphError::Import {
                file: name.clone(),
                line,
                reason,
            };
            let mut reader = CsvReader::new(open_reader(path)?);
            let (_, header) = reader
                .next_record()
                .map_err(|(l, r)| fail(l, r))?
                .ok_or_else(|| fail(1, "the file is empty (no header line)".into()))?;
            let cols = parse_header(&header, edges).map_err(|r| fail(1, r))?;
            // An edge's property keys are indexes into the load's names.
            let mut keys = Vec::with_capacity(cols.len());
            for c in &cols {
                keys.push(match c {
                    Column::Prop(k, _) if edges => load.intern(k)?,
                    _ => 0,
                });
            }
            let mut fields = Vec::new();
            let mut edge_props = Vec::new();
            while let Some(line) = reader.next_into(&mut fields).map_err(|(l, r)| fail(l, r))? {
                if fields.len() != cols.len() {
                    return Err(fail(
                        line,
                        format!("{} fields, the header has {}", fields.len(), cols.len()),
                    ));
                }
                let mut props = Properties::new();
                edge_props.clear();
                let (mut ext_id, mut labels, mut start, mut end, mut ty) =
                    (None, Vec::new(), None, None, None);
                for ((col, f), key) in cols.iter().zip(&fields).zip(&keys) {
                    match col {
                        Column::Id => ext_id = Some(f.text.as_str()),
                        Column::Label => {
                            labels = f
                                .text
                                .split(';')
                                .filter(|l| !l.is_empty())
                                .map(str::to_owned)
                                .collect()
                        }
                        Column::Start => start = Some(f.text.as_str()),
                        Column::End => end = Some(f.text.as_str()),
                        Column::Type => ty = Some(f.text.as_str()),
                        Column::Ignore => {}
                        Column::Prop(k, t) => {
                            let v = parse_cell(*t, f)
                                .map_err(|r| fail(line, format!("column {k:?}: {r}")))?;
                            if let Some(v) = v {
                                if edges {
                                    edge_props.push((*key, v));
                                } else {
                                    props.insert(k.clone(), v);
                                }
                            }
                        }
                    }
                }
                if edges {
                    let lookup = |which: &str, v: Option<&str>| -> Result<NodeId> {
                        let v = v.unwrap_or_default();
                        ids.get(v).ok_or_else(|| {
                            fail(
                                line,
                                format!("{which} {v:?} is not the :ID of any imported node"),
                            )
                        })
                    };
                    let s = lookup(":START_ID", start)?;
                    let t = lookup(":END_ID", end)?;
                    let ty = ty.unwrap_or_default();
                    if ty.is_empty() {
                        return Err(fail(line, "empty :TYPE".into()));
                    }
                    load.add_bulk_edge(s, t, ty, &mut edge_props)
                        .map_err(|err| fail(line, err.to_string()))?;
                } else {
                    let ext = ext_id.unwrap_or_default();
                    if ext.is_empty() {
                        return Err(fail(line, "empty :ID".into()));
                    }
                    let mut n = Node::new();
                    n.labels = labels;
                    n.properties = props;
                    if ids.get(ext).is_some() {
                        return Err(fail(line, format!(":ID {ext:?} appears twice")));
                    }
                    let id = load
                        .add_node(n)
                        .map_err(|err| fail(line, err.to_string()))?;
                    ids.insert(ext, id);
                }
                load.after_record()?;
                records += 1;
                if records.is_multiple_of(4096) {
                    progress(records);
                }
            }
        }
    }
    progress(records);
    load.finish()
}

// ----- JSON lines -----

fn value_to_json(v: &PropertyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        PropertyValue::Null => J::Null,
        PropertyValue::Bool(b) => J::Bool(*b),
        PropertyValue::Int(i) => J::from(*i),
        PropertyValue::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => J::Number(n),
            // Not finite: kept bit for bit.
            None => serde_json::json!({ "$f64_bits": f.to_bits() }),
        },
        PropertyValue::String(s) => J::String(s.clone()),
        PropertyValue::Bytes(b) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            serde_json::json!({ "$bytes": hex })
        }
        PropertyValue::List(items) => J::Array(items.iter().map(value_to_json).collect()),
    }
}

fn json_to_value(
    j: &serde_json::Value,
    depth: usize,
) -> std::result::Result<PropertyValue, String> {
    use serde_json::Value as J;
    if depth > MAX_LIST_DEPTH {
        return Err(format!("lists nested deeper than {MAX_LIST_DEPTH}"));
    }
    Ok(match j {
        J::Null => PropertyValue::Null,
        J::Bool(b) => PropertyValue::Bool(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                PropertyValue::Int(i)
            } else if n.is_f64() {
                PropertyValue::Float(n.as_f64().unwrap_or(f64::NAN))
            } else {
                return Err(format!("integer {n} does not fit in 64 signed bits"));
            }
        }
        J::String(s) => PropertyValue::String(s.clone()),
        J::Array(items) => PropertyValue::List(
            items
                .iter()
                .map(|i| json_to_value(i, depth + 1))
                .collect::<std::result::Result<_, _>>()?,
        ),
        J::Object(map) => {
            if let (1, Some(J::String(hex))) = (map.len(), map.get("$bytes")) {
                if !hex.len().is_multiple_of(2) {
                    return Err("odd number of hex digits in $bytes".into());
                }
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
                    .collect::<std::result::Result<Vec<u8>, _>>()
                    .map_err(|_| "bad hex digits in $bytes".to_string())?;
                PropertyValue::Bytes(bytes)
            } else if let (1, Some(bits)) =
                (map.len(), map.get("$f64_bits").and_then(|b| b.as_u64()))
            {
                PropertyValue::Float(f64::from_bits(bits))
            } else {
                return Err(
                    "an object value must be {\"$bytes\": hex} or {\"$f64_bits\": n}".into(),
                );
            }
        }
    })
}

fn props_to_json(p: &Properties) -> serde_json::Value {
    serde_json::Value::Object(
        p.iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect(),
    )
}

/// A node as the JSON object [`export_jsonl`] writes for it.
pub fn node_to_json(n: &Node) -> serde_json::Value {
    serde_json::json!({
        "kind": "node", "id": n.id, "labels": n.labels, "properties": props_to_json(&n.properties),
    })
}

/// An edge as the JSON object [`export_jsonl`] writes for it.
pub fn edge_to_json(e: &Edge) -> serde_json::Value {
    serde_json::json!({
        "kind": "edge", "id": e.id, "source": e.source, "target": e.target,
        "type": e.edge_type, "properties": props_to_json(&e.properties),
    })
}

/// Writes every node, then every edge, visible at `snapshot_ts` as one JSON object per
/// line: `{"kind":"node","id":1,"labels":[..],"properties":{..}}` and
/// `{"kind":"edge","id":7,"source":1,"target":2,"type":"KNOWS","properties":{..}}`.
/// Integers are JSON integers, floats always carry a fraction or exponent, bytes are
/// `{"$bytes":"<hex>"}` and non-finite floats `{"$f64_bits":<u64>}`.
pub fn export_jsonl(db: &GraphDB, snapshot_ts: u64, out: &mut dyn Write) -> Result<Counts> {
    let mut w = BufWriter::new(out);
    let nodes = db.scan_nodes(snapshot_ts, |_| true)?;
    for n in &nodes {
        writeln!(w, "{}", node_to_json(n))?;
    }
    let edges = db.scan_edges(snapshot_ts)?;
    for e in &edges {
        writeln!(w, "{}", edge_to_json(e))?;
    }
    w.flush()?;
    Ok(Counts {
        nodes: nodes.len() as u64,
        edges: edges.len() as u64,
    })
}

/// Imports JSON lines as written by [`export_jsonl`] (node lines before the edge lines
/// that use them; `id`, `source` and `target` are the file's ids, the database assigns
/// its own) as one transaction, streaming with the default [`ImportOptions`]. `name` is
/// the file name used in errors.
pub fn import_jsonl(
    db: &mut GraphDB,
    name: &str,
    input: &mut dyn Read,
    progress: &mut dyn FnMut(u64),
) -> Result<Counts> {
    import_jsonl_with(db, name, input, ImportOptions::default(), progress).map(|s| s.counts)
}

/// [`import_jsonl`] with explicit memory limits, returning what it held at most.
pub fn import_jsonl_with(
    db: &mut GraphDB,
    name: &str,
    input: &mut dyn Read,
    options: ImportOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportStats> {
    let fail = |line: u64, reason: String| GraphError::Import {
        file: name.to_owned(),
        line,
        reason,
    };
    let mut load = Loader::new(db, options)?;
    let mut ids: IntMap<NodeId> = IntMap::default();
    let reader = BufReader::with_capacity(1 << 16, input);
    for (i, line) in reader.lines().enumerate() {
        let no = i as u64 + 1;
        let line = line.map_err(|e| fail(no, format!("cannot read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let j: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| fail(no, format!("not JSON: {e}")))?;
        let field = |k: &str| j.get(k).ok_or_else(|| fail(no, format!("missing {k:?}")));
        let uint = |k: &str| -> Result<u64> {
            field(k)?
                .as_u64()
                .ok_or_else(|| fail(no, format!("{k:?} is not a non-negative integer")))
        };
        let props = match j.get("properties") {
            None | Some(serde_json::Value::Null) => Properties::new(),
            Some(serde_json::Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    json_to_value(v, 0)
                        .map(|v| (k.clone(), v))
                        .map_err(|r| fail(no, format!("property {k:?}: {r}")))
                })
                .collect::<Result<Properties>>()?,
            Some(_) => return Err(fail(no, "\"properties\" is not an object".into())),
        };
        match field("kind")?.as_str() {
            Some("node") => {
                let ext = uint("id")?;
                let labels = match j.get("labels") {
                    None => Vec::new(),
                    Some(serde_json::Value::Array(items)) => items
                        .iter()
                        .map(|l| {
                            l.as_str()
                                .map(str::to_owned)
                                .ok_or_else(|| fail(no, "a label is not a string".into()))
                        })
                        .collect::<Result<Vec<_>>>()?,
                    Some(_) => return Err(fail(no, "\"labels\" is not an array".into())),
                };
                let mut n = Node::new();
                n.labels = labels;
                n.properties = props;
                if ids.contains_key(&ext) {
                    return Err(fail(no, format!("node id {ext} appears twice")));
                }
                let id = load.add_node(n).map_err(|e| fail(no, e.to_string()))?;
                ids.insert(ext, id);
            }
            Some("edge") => {
                let end = |k: &str| -> Result<NodeId> {
                    let v = uint(k)?;
                    ids.get(&v).copied().ok_or_else(|| {
                        fail(
                            no,
                            format!("{k} {v} is not a node of this file (or comes later)"),
                        )
                    })
                };
                let (s, t) = (end("source")?, end("target")?);
                let ty = field("type")?
                    .as_str()
                    .ok_or_else(|| fail(no, "\"type\" is not a string".into()))?;
                let mut e = Edge::new(s, t, ty);
                e.properties = props;
                load.add_edge(e).map_err(|err| fail(no, err.to_string()))?;
            }
            _ => return Err(fail(no, "\"kind\" must be \"node\" or \"edge\"".into())),
        }
        load.after_record()?;
        let done = load.stats.counts.nodes + load.stats.counts.edges;
        if done.is_multiple_of(4096) {
            progress(done);
        }
    }
    progress(load.stats.counts.nodes + load.stats.counts.edges);
    load.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_run_sorts_the_same_whichever_way_it_is_sorted() {
        let mut entries = Vec::new();
        let mut x = 7u64;
        for edge in 1..5_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (s, t) = (100 + (x >> 33) % 300, 100 + (x >> 13) % 300);
            entries.push((s, edge, t, (x % 3) as u32));
            entries.push((t, INCOMING | edge, s, (x % 3) as u32));
        }
        let mut want = entries.clone();
        want.sort_unstable();
        let mut got = entries.clone();
        let mut scratch = Vec::new();
        sort_run(&mut got, &mut scratch);
        assert_eq!(got, want);
        // Out of edge order (not what the importer pushes) and sparse: still sorted.
        entries.reverse();
        entries.push((u64::MAX / 4, 1, 1, 0));
        let mut want = entries.clone();
        want.sort_unstable();
        for mut run in [entries.clone(), entries[..entries.len() - 1].to_vec()] {
            let mut w = run.clone();
            w.sort_unstable();
            sort_run(&mut run, &mut scratch);
            assert_eq!(run, w);
        }
        sort_run(&mut entries, &mut scratch);
        assert_eq!(entries, want);
        let mut empty = Vec::new();
        sort_run(&mut empty, &mut scratch);
        assert!(empty.is_empty());
    }

    use super::*;

    fn records(text: &str) -> Vec<(u64, Vec<(String, bool)>)> {
        let mut r = CsvReader::new(text.as_bytes());
        let mut out = Vec::new();
        while let Some((line, fields)) = r.next_record().unwrap() {
            out.push((
                line,
                fields.into_iter().map(|f| (f.text, f.quoted)).collect(),
            ));
        }
        out
    }

    #[test]
    fn csv_reader_handles_quotes_and_line_breaks() {
        let got = records("a,\"b,c\",\n\n\"x\"\"y\",\"two\nlines\",\"\"\nlast,,z\n");
        assert_eq!(
            got,
            vec![
                (
                    1,
                    vec![
                        ("a".into(), false),
                        ("b,c".into(), true),
                        ("".into(), false)
                    ]
                ),
                (
                    3,
                    vec![
                        ("x\"y".into(), true),
                        ("two\nlines".into(), true),
                        ("".into(), true)
                    ]
                ),
                (
                    5,
                    vec![
                        ("last".into(), false),
                        ("".into(), false),
                        ("z".into(), false)
                    ]
                ),
            ]
        );
        let mut r = CsvReader::new("\"open\n".as_bytes());
        assert!(r.next_record().is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]
        /// Records written field by field (quoted or not, with commas, quotes and line
        /// breaks in the quoted ones) read back the same, one after another through the
        /// same field buffers, whichever path of the reader takes them.
        #[test]
        fn written_records_read_back(
            rows in proptest::collection::vec(
                proptest::collection::vec(("[a-c,\"\n ]{0,4}", proptest::prelude::any::<bool>()), 1..5),
                1..6,
            ),
        ) {
            let mut text = String::new();
            let mut want = Vec::new();
            let mut line = 1u64;
            for row in &rows {
                let mut fields = Vec::new();
                let mut cells = Vec::new();
                for (t, q) in row {
                    // A field that needs quotes, or an empty one that must not vanish
                    // (a line of one empty field is a blank line), is quoted.
                    let quoted = *q || t.contains([',', '"', '\n']) || (row.len() == 1 && t.is_empty());
                    cells.push(if quoted { format!("\"{}\"", t.replace('"', "\"\"")) } else { t.clone() });
                    fields.push((t.clone(), quoted));
                }
                let record = cells.join(",");
                want.push((line, fields));
                line += 1 + record.matches('\n').count() as u64;
                text.push_str(&record);
                text.push('\n');
            }
            proptest::prop_assert_eq!(records(&text), want);
        }
    }

    #[test]
    fn floats_print_back_to_the_same_bits() {
        for f in [0.1, -0.0, 1.0, 1e300, f64::MIN_POSITIVE, 123456.789e-10] {
            let text = format_float(f);
            let back = parse_scalar(Scalar::Double, &text).unwrap();
            assert_eq!(back, PropertyValue::Float(f), "{text}");
            if let PropertyValue::Float(b) = back {
                assert_eq!(b.to_bits(), f.to_bits());
            }
        }
    }
}
