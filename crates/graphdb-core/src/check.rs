//! The integrity check: walks every structure of the file and reports what is wrong
//! instead of stopping at the first problem.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::codec::{self, KIND_EDGE, KIND_NODE};
use crate::error::Result;
use crate::page::{next_of, PageType};
use crate::pager::Pager;
use crate::records::{RecordStore, PARTIAL_FLAG};
use crate::types::{EdgeId, NodeId, PageId, RecordPointer};

/// An adjacency entry as the check compares it: edge, node at the other end, edge type.
type Entry = (EdgeId, NodeId, String);

/// What [`GraphDB::check`](crate::GraphDB::check) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Pages in the file (including page 0 and free pages).
    pub pages: u64,
    /// Pages on the free list.
    pub free_pages: u64,
    /// Nodes whose newest version is not a delete.
    pub nodes: u64,
    /// Edges whose newest version is not a delete.
    pub edges: u64,
    /// Record versions reachable from the id maps.
    pub versions: u64,
    /// Indexes in the catalog.
    pub indexes: u64,
    /// Entries in all indexes together.
    pub index_entries: u64,
    /// Every problem found, in words; empty for a healthy database.
    pub problems: Vec<String>,
}

impl CheckReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

struct Claims {
    owner: HashMap<PageId, &'static str>,
    problems: Vec<String>,
}

impl Claims {
    /// Records that `page` is used as `what`; a page used in two roles is a problem.
    /// Records pages are shared by many records, so claiming one twice as records is fine.
    fn claim(&mut self, page: PageId, what: &'static str) {
        match self.owner.insert(page, what) {
            Some(prev) if prev != what || what != "records" => self
                .problems
                .push(format!("page {page} is used as {what} and as {prev}")),
            _ => {}
        }
    }
}

pub(crate) fn run(pager: &mut Pager) -> Result<CheckReport> {
    let meta = pager.meta().clone();
    let mut report = CheckReport {
        pages: meta.page_count,
        ..CheckReport::default()
    };
    let mut claims = Claims {
        owner: HashMap::new(),
        problems: Vec::new(),
    };
    let mut bad_pages = HashSet::new();
    for id in 1..meta.page_count {
        if let Err(e) = pager.fetch_page(id) {
            claims.problems.push(e.to_string());
            bad_pages.insert(id);
        }
    }

    // The free list: each page free, no cycle, the count in the header right.
    let mut next = meta.free_head;
    let mut seen = HashSet::new();
    while next != 0 {
        if !seen.insert(next) || seen.len() as u64 > meta.page_count {
            claims
                .problems
                .push(format!("free list has a cycle at page {next}"));
            break;
        }
        match pager.fetch_typed(next, PageType::Free) {
            Ok(p) => {
                let after = next_of(p);
                claims.claim(next, "free");
                next = after;
            }
            Err(e) => {
                claims.problems.push(format!("free list: {e}"));
                break;
            }
        }
    }
    report.free_pages = seen.len() as u64;
    if report.free_pages != meta.free_count {
        claims.problems.push(format!(
            "free list holds {} pages, header says {}",
            report.free_pages, meta.free_count
        ));
    }

    // The partial-page list: records pages with room, each flagged, no cycle.
    let mut partial = HashSet::new();
    let mut next = meta.partial_head;
    while next != 0 {
        if !partial.insert(next) || partial.len() as u64 > meta.page_count {
            claims
                .problems
                .push(format!("partial-page list has a cycle at page {next}"));
            break;
        }
        match pager.fetch_typed(next, PageType::Records) {
            Ok(p) => {
                if p[5] & PARTIAL_FLAG == 0 {
                    claims.problems.push(format!(
                        "page {next} is on the partial-page list without its flag"
                    ));
                }
                let after = next_of(p);
                claims.claim(next, "records");
                next = after;
            }
            Err(e) => {
                claims.problems.push(format!("partial-page list: {e}"));
                break;
            }
        }
    }

    let mut rs = RecordStore::new(pager);
    if meta.fill_page != 0 {
        claims.claim(meta.fill_page, "records");
    }
    let mut used_slots: HashSet<RecordPointer> = HashSet::new();
    let mut node_adj: BTreeMap<NodeId, (Vec<Entry>, Vec<Entry>)> = BTreeMap::new();
    let mut edge_ends: BTreeMap<EdgeId, (NodeId, NodeId, String)> = BTreeMap::new();
    let catalog = match crate::index::load_catalog(rs.pager()) {
        Ok(c) => c,
        Err(e) => {
            claims.problems.push(format!("index catalog: {e}"));
            Vec::new()
        }
    };
    if meta.index_catalog != 0 {
        claims.claim(meta.index_catalog, "index catalog");
    }
    // The keys every stored node version produces, per index: what the indexes must hold.
    let mut expected: Vec<BTreeSet<Vec<u8>>> = vec![BTreeSet::new(); catalog.len()];
    for (kind, root, next_id, name) in [
        (KIND_NODE, meta.node_root, meta.next_node_id, "node"),
        (KIND_EDGE, meta.edge_root, meta.next_edge_id, "edge"),
    ] {
        let (map_pages, entries) = match rs.map_walk(root) {
            Ok(v) => v,
            Err(e) => {
                claims.problems.push(format!("{name} map: {e}"));
                continue;
            }
        };
        for p in map_pages {
            claims.claim(p, "id map");
        }
        for (id, raw) in entries {
            if id == 0 || id >= next_id {
                claims
                    .problems
                    .push(format!("{name} {id} is mapped but ids end at {next_id}"));
            }
            let mut ptr = RecordPointer::decode(raw);
            let mut newer = u64::MAX;
            let mut head = true;
            while let Some(p) = ptr {
                if !used_slots.insert(p) {
                    claims
                        .problems
                        .push(format!("{name} {id}: record {p:?} reached twice"));
                    break;
                }
                claims.claim(p.page, "records");
                let bytes = match rs.read(p) {
                    Ok(b) => b,
                    Err(e) => {
                        claims.problems.push(format!("{name} {id}: {e}"));
                        break;
                    }
                };
                if let Ok(pages) = rs.overflow_pages(p) {
                    for o in pages {
                        claims.claim(o, "overflow");
                    }
                }
                let dict = std::sync::Arc::clone(&rs.pager().meta().dict);
                let decoded = if kind == KIND_NODE {
                    codec::decode_node(&bytes, Some(p.page), &dict).map(|r| {
                        if !r.header.tombstone {
                            for (e, want) in catalog.iter().zip(expected.iter_mut()) {
                                if let Some(k) = e.def.key_for(id, &r.labels, &r.properties) {
                                    want.insert(k);
                                }
                            }
                        }
                        let named = |l: &[codec::Adj]| -> Vec<Entry> {
                            l.iter()
                                .map(|a| (a.edge, a.other, r.type_of(a).to_owned()))
                                .collect()
                        };
                        let adj = (named(&r.out), named(&r.inn));
                        (r.header.clone(), Some(adj), None)
                    })
                } else {
                    codec::decode_edge(&bytes, Some(p.page), &dict).map(|r| {
                        (
                            r.header.clone(),
                            None,
                            Some((r.source, r.target, r.edge_type)),
                        )
                    })
                };
                let (h, adj, ends) = match decoded {
                    Ok(v) => v,
                    Err(e) => {
                        claims.problems.push(format!("{name} {id}: {e}"));
                        break;
                    }
                };
                report.versions += 1;
                if h.id != id || h.kind != kind {
                    claims.problems.push(format!(
                        "{name} {id}: chain reaches a record of id {} kind {}",
                        h.id, h.kind
                    ));
                    break;
                }
                if h.commit_ts >= newer || h.commit_ts > meta.last_commit_ts || h.commit_ts == 0 {
                    claims.problems.push(format!(
                        "{name} {id}: version at {} out of order (newer {newer}, last commit {})",
                        h.commit_ts, meta.last_commit_ts
                    ));
                    break;
                }
                if head && !h.tombstone {
                    if let Some(adj) = adj {
                        node_adj.insert(id, adj);
                    }
                    if let Some(ends) = ends {
                        edge_ends.insert(id, ends);
                    }
                }
                newer = h.commit_ts;
                head = false;
                ptr = h.prev;
            }
        }
    }
    report.nodes = node_adj.len() as u64;

    // Indexes: a well-formed tree per index whose keys are exactly the expected ones.
    report.indexes = catalog.len() as u64;
    for (e, want) in catalog.iter().zip(&expected) {
        let name = e.def.to_string();
        let (pages, keys) =
            match crate::index::tree_walk(rs.pager(), e.root, &mut claims.problems, &name) {
                Ok(v) => v,
                Err(err) => {
                    claims.problems.push(format!("index {name}: {err}"));
                    continue;
                }
            };
        for p in pages {
            claims.claim(p, "index");
        }
        report.index_entries += keys.len() as u64;
        let have: BTreeSet<Vec<u8>> = keys.into_iter().collect();
        let node = |k: &Vec<u8>| crate::index::key_node(k).unwrap_or(0);
        for k in want.difference(&have) {
            claims
                .problems
                .push(format!("index {name}: missing entry for node {}", node(k)));
        }
        for k in have.difference(want) {
            claims.problems.push(format!(
                "index {name}: entry for node {} that no stored version produces",
                node(k)
            ));
        }
    }
    report.edges = edge_ends.len() as u64;

    // Adjacency symmetry: every live edge in both endpoints' lists, nothing else there.
    for (node, (out, inn)) in &node_adj {
        for (list, dir) in [(out, "out"), (inn, "in")] {
            let mut seen = HashSet::new();
            for (e, other, ty) in list {
                if !seen.insert(*e) {
                    claims
                        .problems
                        .push(format!("node {node}: edge {e} twice in its {dir} list"));
                }
                match edge_ends.get(e) {
                    None => claims
                        .problems
                        .push(format!("node {node}: {dir} list names missing edge {e}")),
                    Some((s, t, edge_type)) => {
                        let (end, far) = if dir == "out" { (s, t) } else { (t, s) };
                        if end != node {
                            claims
                                .problems
                                .push(format!("node {node}: {dir} edge {e} does not touch it"));
                        } else if far != other || edge_type != ty {
                            claims.problems.push(format!(
                                "node {node}: {dir} entry of edge {e} says ({other}, {ty:?}), \
                                 the edge says ({far}, {edge_type:?})"
                            ));
                        }
                    }
                }
            }
        }
    }
    for (e, (s, t, _)) in &edge_ends {
        let listed = |l: &[Entry]| l.iter().any(|(x, _, _)| x == e);
        let listed_out = node_adj.get(s).is_some_and(|(out, _)| listed(out));
        let listed_in = node_adj.get(t).is_some_and(|(_, inn)| listed(inn));
        if !listed_out || !listed_in {
            claims.problems.push(format!(
                "edge {e} ({s}->{t}) missing from an endpoint's adjacency (out {listed_out}, in {listed_in})"
            ));
        }
    }

    // Leaks: live slots nobody points at, and pages with no role at all.
    let record_pages: Vec<PageId> = claims
        .owner
        .iter()
        .filter(|(_, w)| **w == "records")
        .map(|(p, _)| *p)
        .collect();
    for page in record_pages {
        if let Ok(p) = rs.pager().fetch_page(page) {
            if p[5] & PARTIAL_FLAG != 0 && !partial.contains(&page) {
                claims.problems.push(format!(
                    "page {page} is flagged partial but not on the list"
                ));
            }
        }
        match rs.live_slots(page) {
            Ok(slots) => {
                for slot in slots {
                    if !used_slots.contains(&RecordPointer { page, slot }) {
                        claims.problems.push(format!(
                            "page {page} slot {slot}: record not reachable from any id (leaked)"
                        ));
                    }
                }
            }
            Err(e) => claims.problems.push(e.to_string()),
        }
    }
    for id in 1..meta.page_count {
        if !claims.owner.contains_key(&id) && !bad_pages.contains(&id) {
            claims
                .problems
                .push(format!("page {id} is neither free nor in use (leaked)"));
        }
    }
    report.problems = claims.problems;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::codec;
    use crate::index::{load_catalog, tree_insert, tree_remove, IndexDef};
    use crate::page::PAGE_SIZE;
    use crate::storage::MemStorage;
    use crate::types::{Edge, Node};
    use crate::{Config, GraphDB};

    /// A small database with two indexes, checkpointed so every page is in `main`.
    fn indexed_db() -> (GraphDB, MemStorage) {
        let main = MemStorage::new();
        let mut db = GraphDB::open_with_storage(
            Arc::new(main.clone()),
            Arc::new(MemStorage::new()),
            Config::default(),
        )
        .unwrap();
        db.create_index(IndexDef::label("P")).unwrap();
        db.create_index(IndexDef::property("P", "k")).unwrap();
        let mut tx = db.begin_write_txn().unwrap();
        let mut prev = None;
        for i in 0..40i64 {
            let n = tx
                .add_node(Node::new().with_label("P").with_property("k", i % 7))
                .unwrap();
            if let Some(p) = prev {
                tx.add_edge(Edge::new(p, n, "NEXT")).unwrap();
            }
            prev = Some(n);
        }
        tx.commit().unwrap();
        db.checkpoint().unwrap();
        (db, main)
    }

    fn problems(db: &GraphDB) -> Vec<String> {
        db.check().unwrap().problems
    }

    #[test]
    fn healthy_indexed_database_passes() {
        let (db, _) = indexed_db();
        let report = db.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!((report.indexes, report.index_entries), (2, 80));
    }

    #[test]
    fn missing_and_stale_index_entries_are_found() {
        let (mut db, _) = indexed_db();
        {
            let pager = db.pager.get_mut().unwrap();
            let catalog = load_catalog(pager).unwrap();
            let prop = &catalog[1];
            let key = prop
                .def
                .key_for(6, &["P".into()], &[("k".to_string(), 5i64.into())].into());
            assert!(tree_remove(pager, prop.root, &key.unwrap()).unwrap());
            let ts = pager.committed_meta().last_commit_ts;
            pager.commit(ts).unwrap();
        }
        let found = problems(&db);
        assert!(
            found.iter().any(|p| p.contains("missing entry for node 6")),
            "{found:?}"
        );
        {
            let pager = db.pager.get_mut().unwrap();
            let catalog = load_catalog(pager).unwrap();
            let mut root = catalog[0].root;
            tree_insert(pager, &mut root, &999u64.to_be_bytes()).unwrap();
            let ts = pager.committed_meta().last_commit_ts;
            pager.commit(ts).unwrap();
        }
        let found = problems(&db);
        assert!(
            found
                .iter()
                .any(|p| p.contains("entry for node 999 that no stored version produces")),
            "{found:?}"
        );
    }

    #[test]
    fn a_flipped_byte_in_any_page_is_found() {
        let (db, main) = indexed_db();
        let clean = main.snapshot();
        let pages = clean.len() / PAGE_SIZE;
        assert!(pages > 4);
        for page in 1..pages {
            let mut bytes = clean.clone();
            bytes[page * PAGE_SIZE + 200] ^= 0x10;
            main.overwrite(bytes);
            db.clear_caches().unwrap();
            let found = problems(&db);
            assert!(
                found.iter().any(|p| p.contains(&format!("page {page}"))),
                "flip in page {page}: {found:?}"
            );
        }
        main.overwrite(clean);
        db.clear_caches().unwrap();
        assert!(problems(&db).is_empty());
    }

    #[test]
    fn a_dangling_edge_is_found() {
        let (mut db, _) = indexed_db();
        {
            let pager = db.pager.get_mut().unwrap();
            let mut root = pager.meta().edge_root;
            let mut rs = crate::records::RecordStore::new(pager);
            rs.map_set(&mut root, 3, 0).unwrap();
            let ts = pager.committed_meta().last_commit_ts;
            pager.commit(ts).unwrap();
        }
        let found = problems(&db);
        assert!(
            found.iter().any(|p| p.contains("missing edge 3")),
            "{found:?}"
        );
    }

    /// Adjacency entries copy the other end and the type of their edge (format 3): an
    /// entry that disagrees with its edge record is reported, whichever field is wrong.
    #[test]
    fn an_adjacency_entry_that_disagrees_with_its_edge_is_found() {
        for wrong_type in [false, true] {
            let (mut db, _) = indexed_db();
            {
                let pager = db.pager.get_mut().unwrap();
                let mut root = pager.meta().node_root;
                let mut rs = crate::records::RecordStore::new(pager);
                let ptr = crate::types::RecordPointer::decode(rs.map_get(root, 2).unwrap());
                let ptr = ptr.unwrap();
                let bytes = rs.read(ptr).unwrap();
                let mut r = codec::decode_node(&bytes, None, &rs.pager().meta().dict).unwrap();
                assert_eq!(r.out.len(), 1);
                if wrong_type {
                    r.out[0].ty = r.type_index("OTHER");
                } else {
                    r.out[0].other = 40;
                }
                let bytes = codec::encode_node(&r, &mut rs.pager().meta_mut().dict);
                let moved = rs.insert(&bytes).unwrap();
                rs.map_set(&mut root, 2, moved.encode()).unwrap();
                rs.delete(ptr).unwrap();
                let ts = pager.committed_meta().last_commit_ts;
                pager.commit(ts).unwrap();
            }
            let found = problems(&db);
            assert!(
                found
                    .iter()
                    .any(|p| p.contains("node 2: out entry of edge") && p.contains("the edge says")),
                "{found:?}"
            );
        }
    }
}
