//! Format 4: records that name labels, edge types and property keys through the header
//! page's dictionary, names that do not fit written inline, and the size that buys.

use graphdb_core::{Config, Direction, Edge, GraphDB, Node, PropertyValue};

use crate::mem_db;

/// More distinct names than the dictionary's room (8,056 bytes): the first few hundred
/// go to the dictionary, the rest inline, names longer than 127 bytes always inline, and
/// every one reads back the same after the file is reopened.
#[test]
fn names_past_the_dictionary_are_stored_inline_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let name = |i: usize| format!("name-{i:0>25}");
    let long = "x".repeat(300);
    let mut ids = Vec::new();
    {
        let mut db = GraphDB::create(&path, Config::default()).unwrap();
        for chunk in 0..6 {
            let mut tx = db.begin_write_txn().unwrap();
            for i in chunk * 100..(chunk + 1) * 100 {
                let n = Node::new()
                    .with_label(name(i))
                    .with_property(name(i + 1), i as i64)
                    .with_property(long.clone(), "v");
                let a = tx.add_node(n).unwrap();
                let b = tx.add_node(Node::new().with_label(long.clone())).unwrap();
                let e = tx
                    .add_edge(Edge::new(a, b, name(i + 2)).with_property(name(i + 3), true))
                    .unwrap();
                ids.push((i, a, b, e));
            }
            tx.commit().unwrap();
        }
        db.close().unwrap();
    }
    let mut db = GraphDB::open(&path, Config::default()).unwrap();
    assert!(db.check().unwrap().problems.is_empty());
    for (i, a, b, e) in ids {
        let n = db.get_node(a).unwrap().unwrap();
        assert_eq!(n.labels, [name(i)]);
        assert_eq!(n.properties[&name(i + 1)], PropertyValue::Int(i as i64));
        assert_eq!(n.properties[&long], PropertyValue::String("v".into()));
        assert_eq!(db.get_node(b).unwrap().unwrap().labels, [long.as_str()]);
        {
            let tx = db.begin_write_txn().unwrap();
            let edge = tx.get_edge(e).unwrap().unwrap();
            assert_eq!(edge.edge_type, name(i + 2));
            assert_eq!(edge.properties[&name(i + 3)], PropertyValue::Bool(true));
        }
        let snap = db.snapshot();
        let typed = snap
            .edges(a, Direction::Outgoing, Some(&name(i + 2)))
            .unwrap();
        assert_eq!(typed, [(e, b)]);
        assert!(snap
            .edges(a, Direction::Outgoing, Some(&name(i + 1)))
            .unwrap()
            .is_empty());
    }
}

/// 20,000 edges of one type with one integer property, between 2,000 nodes: with names
/// in the dictionary and varint headers an edge takes about 15 bytes plus its slot and
/// 5 bytes of id map (format 3: 62 bytes plus 4 and 8), so the whole file stays under
/// 100 pages where format 3 needed about 190.
#[test]
fn a_graph_of_small_records_takes_few_pages() {
    let (mut db, _, _) = mem_db(Config::default());
    let mut tx = db.begin_write_txn().unwrap();
    let nodes: Vec<u64> = (0..2_000)
        .map(|i| {
            tx.add_node(
                Node::new()
                    .with_label("Person")
                    .with_property("age", i % 90),
            )
            .unwrap()
        })
        .collect();
    for i in 0..20_000u64 {
        let (s, t) = (nodes[(i % 2_000) as usize], nodes[(i * 7 % 1_999) as usize]);
        tx.add_edge(Edge::new(s, t, "KNOWS").with_property("since", (i % 30) as i64))
            .unwrap();
    }
    tx.commit().unwrap();
    db.checkpoint().unwrap();
    let pages = db.stats().unwrap().page_count;
    assert!(pages < 100, "{pages} pages");
    assert!(db.check().unwrap().problems.is_empty());
}
