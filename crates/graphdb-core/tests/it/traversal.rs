//! Traversal checked against an independent reference (plain adjacency lists, a textbook
//! BFS and union-find written here) on generated graphs (random, scale-free, grid) and on
//! Zachary's karate club: BFS levels, depth limits, shortest-path lengths, k-hop sets,
//! edge-type filters and weakly connected components.

use graphdb_core::engine::Engine;
use std::collections::{HashMap, HashSet, VecDeque};

use graphdb_core::{Config, Direction, Edge, GraphDB, Node, SyncMode};
use rand::{Rng, SeedableRng};

/// A graph as plain data: nodes `0..n`, typed directed edges.
struct Graph {
    n: usize,
    edges: Vec<(usize, usize, &'static str)>,
}

fn random_graph(n: usize, m: usize, seed: u64) -> Graph {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let edges = (0..m)
        .map(|_| {
            let t = if rng.gen_bool(0.5) { "A" } else { "B" };
            (rng.gen_range(0..n), rng.gen_range(0..n), t)
        })
        .collect();
    Graph { n, edges }
}

/// Barabási–Albert preferential attachment: each new node links to `k` earlier nodes
/// picked in proportion to their degree.
fn scale_free(n: usize, k: usize, seed: u64) -> Graph {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut ends: Vec<usize> = vec![0];
    let mut edges = Vec::new();
    for v in 1..n {
        for _ in 0..k.min(v) {
            let u = ends[rng.gen_range(0..ends.len())];
            let t = if rng.gen_bool(0.3) { "A" } else { "B" };
            edges.push((v, u, t));
            ends.push(u);
            ends.push(v);
        }
    }
    Graph { n, edges }
}

fn grid(w: usize, h: usize) -> Graph {
    let mut edges = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let v = y * w + x;
            if x + 1 < w {
                edges.push((v, v + 1, "A"));
            }
            if y + 1 < h {
                edges.push((v, v + w, "B"));
            }
        }
    }
    Graph { n: w * h, edges }
}

/// Zachary's karate club (1977): 34 members, 78 friendships, numbered 1 to 34.
const KARATE: &[(usize, &[usize])] = &[
    (1, &[2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 18, 20, 22, 32]),
    (2, &[3, 4, 8, 14, 18, 20, 22, 31]),
    (3, &[4, 8, 9, 10, 14, 28, 29, 33]),
    (4, &[8, 13, 14]),
    (5, &[7, 11]),
    (6, &[7, 11, 17]),
    (7, &[17]),
    (9, &[31, 33, 34]),
    (10, &[34]),
    (14, &[34]),
    (15, &[33, 34]),
    (16, &[33, 34]),
    (19, &[33, 34]),
    (20, &[34]),
    (21, &[33, 34]),
    (23, &[33, 34]),
    (24, &[26, 28, 30, 33, 34]),
    (25, &[26, 28, 32]),
    (26, &[32]),
    (27, &[30, 34]),
    (28, &[34]),
    (29, &[32, 34]),
    (30, &[33, 34]),
    (31, &[33, 34]),
    (32, &[33, 34]),
    (33, &[34]),
];

fn karate() -> Graph {
    let mut edges = Vec::new();
    for (a, bs) in KARATE {
        for b in *bs {
            edges.push((a - 1, b - 1, "FRIEND"));
        }
    }
    Graph { n: 34, edges }
}

/// Loads the graph in one transaction; returns the database and the id of each node.
fn load(g: &Graph) -> (GraphDB, Vec<u64>) {
    let config = Config {
        sync_mode: SyncMode::Off,
        ..Config::default()
    };
    let (mut db, _m, _w) = crate::mem_db(config);
    let mut tx = db.begin_write_txn().unwrap();
    let ids: Vec<u64> = (0..g.n)
        .map(|i| {
            tx.add_node(Node::new().with_property("i", i as i64))
                .unwrap()
        })
        .collect();
    for (a, b, t) in &g.edges {
        tx.add_edge(Edge::new(ids[*a], ids[*b], *t)).unwrap();
    }
    tx.commit().unwrap();
    (db, ids)
}

/// The reference adjacency: indices of neighbours in `dir`, keeping only `filter`'s type.
fn reference_adj(g: &Graph, dir: Direction, filter: Option<&str>) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); g.n];
    for (a, b, t) in &g.edges {
        if filter.is_some_and(|f| f != *t) {
            continue;
        }
        if matches!(dir, Direction::Outgoing | Direction::Both) {
            adj[*a].push(*b);
        }
        if matches!(dir, Direction::Incoming | Direction::Both) {
            adj[*b].push(*a);
        }
    }
    adj
}

fn reference_levels(adj: &[Vec<usize>], start: usize) -> Vec<Option<u32>> {
    let mut level = vec![None; adj.len()];
    level[start] = Some(0);
    let mut q = VecDeque::from([start]);
    while let Some(v) = q.pop_front() {
        let d = level[v].unwrap_or(0);
        for &u in &adj[v] {
            if level[u].is_none() {
                level[u] = Some(d + 1);
                q.push_back(u);
            }
        }
    }
    level
}

fn reference_components(g: &Graph) -> usize {
    let mut parent: Vec<usize> = (0..g.n).collect();
    fn root(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            x = p[x];
        }
        x
    }
    for (a, b, _) in &g.edges {
        let (ra, rb) = (root(&mut parent, *a), root(&mut parent, *b));
        parent[ra] = rb;
    }
    (0..g.n).filter(|&v| root(&mut parent, v) == v).count()
}

/// Compares every traversal of the engine with the reference from `sources`.
fn check_graph(g: &Graph, sources: &[usize]) {
    let (db, ids) = load(g);
    let index: HashMap<u64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let snap = db.snapshot();
    for &(dir, filter) in &[
        (Direction::Outgoing, None),
        (Direction::Incoming, None),
        (Direction::Both, None),
        (Direction::Both, Some("A")),
        (Direction::Outgoing, Some("B")),
    ] {
        let adj = reference_adj(g, dir, filter);
        for &s in sources {
            let want = reference_levels(&adj, s);
            // Full BFS: every reachable node once, at its level, levels never decreasing.
            let mut got = vec![None; g.n];
            let mut last = 0;
            for step in snap.bfs(ids[s], dir, filter, None).unwrap() {
                let (node, depth) = step.unwrap();
                let i = index[&node];
                assert!(got[i].is_none(), "node {i} visited twice");
                assert!(depth >= last, "BFS order");
                last = depth;
                got[i] = Some(depth);
            }
            assert_eq!(got, want, "BFS levels from {s} ({dir:?}, {filter:?})");
            // Depth limit and k-hop.
            for k in [1u32, 2, 3] {
                let limited: HashSet<usize> = snap
                    .bfs(ids[s], dir, filter, Some(k))
                    .unwrap()
                    .map(|r| index[&r.unwrap().0])
                    .collect();
                let want_k: HashSet<usize> = (0..g.n)
                    .filter(|&v| want[v].is_some_and(|d| d <= k))
                    .collect();
                assert_eq!(limited, want_k, "depth {k}");
                let hop: HashSet<usize> = snap
                    .k_hop(ids[s], k, dir, filter)
                    .unwrap()
                    .into_iter()
                    .map(|n| index[&n])
                    .collect();
                let want_hop: HashSet<usize> = want_k.iter().copied().filter(|&v| v != s).collect();
                assert_eq!(hop, want_hop, "{k}-hop");
            }
            // Shortest paths to a few targets: right length, made of real edges.
            for t in (0..g.n).step_by((g.n / 7).max(1)) {
                let path = snap.shortest_path(ids[s], ids[t], dir, filter).unwrap();
                match (path, want[t]) {
                    (None, None) => {}
                    (Some(p), Some(d)) => {
                        assert_eq!(p.len() as u32, d + 1, "path length {s} -> {t}");
                        assert_eq!((p[0], p[p.len() - 1]), (ids[s], ids[t]));
                        for w in p.windows(2) {
                            assert!(
                                adj[index[&w[0]]].contains(&index[&w[1]]),
                                "path step {} -> {} is not an edge",
                                w[0],
                                w[1]
                            );
                        }
                    }
                    (p, d) => panic!("path {s} -> {t}: engine {p:?}, reference {d:?}"),
                }
            }
        }
    }
    // Neighbours match the reference lists as multisets.
    let adj = reference_adj(g, Direction::Both, None);
    for v in (0..g.n).step_by(3) {
        let mut got: Vec<usize> = snap
            .neighbors(ids[v], Direction::Both, None)
            .unwrap()
            .into_iter()
            .map(|n| index[&n])
            .collect();
        let mut want = adj[v].clone();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "neighbours of {v}");
    }
    let comps = snap.weakly_connected_components().unwrap();
    assert_eq!(comps.count, reference_components(g));
    assert_eq!(comps.component_of.len(), g.n);
    assert_eq!(comps.groups().len(), comps.count);
    // The analytics layout answers exactly what the record-by-record traversal does.
    let csr = snap.analytics().unwrap();
    assert_eq!(csr.node_count(), g.n);
    assert_eq!(csr.weakly_connected_components(), comps);
    for &(dir, filter) in &[
        (Direction::Outgoing, None),
        (Direction::Incoming, None),
        (Direction::Both, None),
        (Direction::Both, Some("A")),
        (Direction::Outgoing, Some("B")),
        (Direction::Both, Some("no such type")),
    ] {
        for &s in sources {
            for depth in [None, Some(1), Some(2), Some(3)] {
                let want: Vec<(u64, u32)> = snap
                    .bfs(ids[s], dir, filter, depth)
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert_eq!(csr.bfs(ids[s], dir, filter, depth).unwrap(), want);
            }
            assert_eq!(
                csr.k_hop(ids[s], 2, dir, filter).unwrap(),
                snap.k_hop(ids[s], 2, dir, filter).unwrap()
            );
        }
    }
    // Reused while no commit intervenes.
    assert!(std::sync::Arc::ptr_eq(
        &csr,
        &db.snapshot().analytics().unwrap()
    ));
}

#[test]
fn random_graphs_match_the_reference() {
    for seed in 0..3 {
        let g = random_graph(120, 150 + 60 * seed as usize, seed);
        check_graph(&g, &[0, 17, 60]);
    }
}

#[test]
fn scale_free_graph_matches_the_reference() {
    let g = scale_free(300, 2, 7);
    check_graph(&g, &[0, 150, 299]);
}

#[test]
fn grid_matches_the_reference() {
    let g = grid(12, 9);
    check_graph(&g, &[0, 50, 107]);
    // On a grid the distance is the Manhattan distance.
    let (db, ids) = load(&g);
    let snap = db.snapshot();
    let p = snap
        .shortest_path(ids[0], ids[107], Direction::Both, None)
        .unwrap()
        .unwrap();
    assert_eq!(p.len(), 11 + 8 + 1);
}

#[test]
fn karate_club_matches_known_figures() {
    let g = karate();
    assert_eq!((g.n, g.edges.len()), (34, 78));
    check_graph(&g, &[0, 16, 33]);
    let (db, ids) = load(&g);
    let snap = db.snapshot();
    // Published figures: one component, the instructor (1) has 16 friends, the
    // administrator (34) 17, and the diameter is 5.
    assert_eq!(snap.weakly_connected_components().unwrap().count, 1);
    assert_eq!(
        snap.neighbors(ids[0], Direction::Both, None).unwrap().len(),
        16
    );
    assert_eq!(
        snap.neighbors(ids[33], Direction::Both, None)
            .unwrap()
            .len(),
        17
    );
    let mut diameter = 0;
    for &s in &ids {
        for step in snap.bfs(s, Direction::Both, None, None).unwrap() {
            diameter = diameter.max(step.unwrap().1);
        }
    }
    assert_eq!(diameter, 5);
}

#[test]
fn the_analytics_layout_is_rebuilt_after_a_commit_and_refuses_uncommitted_views() {
    let g = random_graph(40, 80, 3);
    let (mut db, ids) = load(&g);
    let before = db.snapshot().analytics().unwrap();
    assert!(matches!(
        db.snapshot()
            .analytics()
            .unwrap()
            .bfs(999_999, Direction::Both, None, None),
        Err(graphdb_core::GraphError::NodeNotFound(_))
    ));
    let mut tx = db.begin_write_txn().unwrap();
    let extra = tx.add_node(Node::new()).unwrap();
    tx.add_edge(Edge::new(ids[0], extra, "A")).unwrap();
    tx.commit().unwrap();
    let after = db.snapshot().analytics().unwrap();
    assert!(after.ts() > before.ts());
    assert_eq!(after.node_count(), before.node_count() + 1);
    assert_eq!(after.edge_count(), before.edge_count() + 1);
    assert!(after
        .k_hop(ids[0], 1, Direction::Outgoing, None)
        .unwrap()
        .contains(&extra));
    let tx_id = db.allocate_tx_id();
    let ts = db.current_commit_ts();
    db.begin_write(tx_id, ts).unwrap();
    db.add_node_internal(Node::new(), tx_id).unwrap();
    assert!(db.snapshot_at(ts, Some(tx_id)).analytics().is_err());
}

#[test]
fn traversal_reads_one_snapshot_and_sees_own_writes() {
    let (mut db, _m, _w) = crate::mem_db(Config::default());
    let mut tx = db.begin_write_txn().unwrap();
    let a = tx.add_node(Node::new()).unwrap();
    let b = tx.add_node(Node::new()).unwrap();
    let c = tx.add_node(Node::new()).unwrap();
    tx.add_edge(Edge::new(a, b, "X")).unwrap();
    let old = tx.commit().unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    tx.add_edge(Edge::new(b, c, "X")).unwrap();
    tx.commit().unwrap();
    let t = db.allocate_tx_id();
    db.begin_write(t, db.current_commit_ts()).unwrap();
    let d = db.add_node_internal(Node::new(), t).unwrap();
    db.add_edge_internal(Edge::new(c, d, "Y"), t).unwrap();

    let reach = |ts, tx| -> Vec<u64> {
        db.snapshot_at(ts, tx)
            .bfs(a, Direction::Outgoing, None, None)
            .unwrap()
            .map(|r| r.unwrap().0)
            .collect()
    };
    assert_eq!(reach(old, None), vec![a, b]);
    assert_eq!(reach(db.current_commit_ts(), None), vec![a, b, c]);
    assert_eq!(reach(db.current_commit_ts(), Some(t)), vec![a, b, c, d]);
    let snap = db.snapshot_at(db.current_commit_ts(), Some(t));
    assert_eq!(snap.weakly_connected_components().unwrap().count, 1);
    assert_eq!(
        snap.shortest_path(a, d, Direction::Outgoing, Some("X"))
            .unwrap(),
        None
    );
    assert_eq!(
        snap.shortest_path(a, d, Direction::Outgoing, None).unwrap(),
        Some(vec![a, b, c, d])
    );
    assert!(matches!(
        db.snapshot().bfs(999, Direction::Both, None, None),
        Err(graphdb_core::GraphError::NodeNotFound(999))
    ));
}

/// Adjacency entries carry the edge type, so changing an edge's type must reach both
/// endpoints' entries: typed traversal at the new snapshot follows the new type, at the
/// old snapshot the old one, a reopened file agrees, and `check()` (which compares every
/// entry's other end and type with the edge record) passes.
#[test]
fn a_retyped_edge_is_followed_by_its_new_type_and_old_snapshots_keep_the_old() {
    let (mut db, m, w) = crate::mem_db(Config::default());
    let mut tx = db.begin_write_txn().unwrap();
    let a = tx.add_node(Node::new()).unwrap();
    let b = tx.add_node(Node::new()).unwrap();
    let c = tx.add_node(Node::new()).unwrap();
    let ab = tx.add_edge(Edge::new(a, b, "X")).unwrap();
    tx.add_edge(Edge::new(a, c, "Y")).unwrap();
    let old = tx.commit().unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    tx.update_edge(ab, Edge::new(a, b, "Y").with_property("w", 1i64))
        .unwrap();
    tx.commit().unwrap();

    let typed = |db: &GraphDB, ts, ty, dir, from| -> Vec<u64> {
        db.snapshot_at(ts, None)
            .neighbors(from, dir, Some(ty))
            .unwrap()
    };
    let now = db.current_commit_ts();
    assert_eq!(typed(&db, now, "Y", Direction::Outgoing, a), vec![b, c]);
    assert_eq!(
        typed(&db, now, "X", Direction::Outgoing, a),
        Vec::<u64>::new()
    );
    assert_eq!(typed(&db, now, "Y", Direction::Incoming, b), vec![a]);
    assert_eq!(typed(&db, old, "X", Direction::Outgoing, a), vec![b]);
    assert_eq!(typed(&db, old, "X", Direction::Incoming, b), vec![a]);
    assert_eq!(
        db.neighbors(a, Direction::Outgoing, now, None).unwrap(),
        vec![b, c]
    );
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    db.close().unwrap();
    let db = GraphDB::open_with_storage(
        std::sync::Arc::new(m),
        std::sync::Arc::new(w),
        Config::default(),
    )
    .unwrap();
    let now = db.current_commit_ts();
    assert_eq!(typed(&db, now, "Y", Direction::Outgoing, a), vec![b, c]);
    assert_eq!(typed(&db, now, "X", Direction::Both, b), Vec::<u64>::new());
}

/// Every answer of two layouts of the same snapshot, and of the record-by-record
/// traversal, agrees.
fn layouts_agree(snap: graphdb_core::Snapshot<'_>, types: &[&str]) {
    let one_pass = snap.analytics().unwrap();
    let per_node = graphdb_core::engine::analytics_per_node(&snap).unwrap();
    assert_eq!(one_pass.node_count(), per_node.node_count());
    assert_eq!(one_pass.edge_count(), per_node.edge_count());
    let ids: Vec<u64> = snap.all_nodes().unwrap().iter().map(|n| n.id).collect();
    assert_eq!(one_pass.node_count(), ids.len());
    let comps = snap.weakly_connected_components().unwrap();
    assert_eq!(one_pass.weakly_connected_components(), comps);
    assert_eq!(per_node.weakly_connected_components(), comps);
    let mut filters: Vec<Option<&str>> = types.iter().map(|t| Some(*t)).collect();
    filters.push(None);
    for &s in ids.iter().step_by(7) {
        for dir in [Direction::Outgoing, Direction::Incoming, Direction::Both] {
            for &filter in &filters {
                let want: Vec<(u64, u32)> = snap
                    .bfs(s, dir, filter, None)
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert_eq!(one_pass.bfs(s, dir, filter, None).unwrap(), want);
                assert_eq!(per_node.bfs(s, dir, filter, None).unwrap(), want);
            }
        }
    }
}

#[test]
fn the_one_pass_layout_matches_at_old_snapshots_after_deletes_and_with_many_types() {
    // A page cache of a few pages, so the build reads records from pages that are
    // evicted and reloaded while it runs; eight edge types, so the type tables of the
    // nodes list them in many orders.
    let config = Config {
        sync_mode: SyncMode::Off,
        page_cache_pages: 8,
        node_cache_capacity: 8,
        edge_cache_capacity: 8,
        ..Config::default()
    };
    let (mut db, _m, _w) = crate::mem_db(config);
    let types = [
        "T0",
        "T1",
        "T2",
        "T3",
        "T4",
        "T5",
        "T6",
        "a much longer type name",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut tx = db.begin_write_txn().unwrap();
    let mut ids: Vec<u64> = (0..400)
        .map(|i| tx.add_node(Node::new().with_property("i", i)).unwrap())
        .collect();
    let mut edges = Vec::new();
    for _ in 0..1500 {
        let (a, b) = (
            ids[rng.gen_range(0..ids.len())],
            ids[rng.gen_range(0..ids.len())],
        );
        let t = types[rng.gen_range(0..types.len())];
        edges.push(tx.add_edge(Edge::new(a, b, t)).unwrap());
    }
    tx.commit().unwrap();
    let first = db.current_commit_ts();
    // Then: nodes deleted (their edges with them), nodes updated (a newer head version
    // that the first snapshot must not read), edges deleted and added, nodes added.
    let mut tx = db.begin_write_txn().unwrap();
    for k in (0..ids.len()).step_by(9) {
        tx.delete_node(ids[k]).unwrap();
    }
    let deleted: HashSet<u64> = (0..ids.len()).step_by(9).map(|k| ids[k]).collect();
    for k in (1..ids.len()).step_by(5) {
        if !deleted.contains(&ids[k]) {
            tx.update_node(ids[k], Node::new().with_property("i", -1))
                .unwrap();
        }
    }
    ids.retain(|id| !deleted.contains(id));
    for e in edges.iter().step_by(4) {
        // Some went with their nodes.
        let _ = tx.delete_edge(*e);
    }
    for _ in 0..50 {
        ids.push(tx.add_node(Node::new()).unwrap());
    }
    for _ in 0..400 {
        let (a, b) = (
            ids[rng.gen_range(0..ids.len())],
            ids[rng.gen_range(0..ids.len())],
        );
        tx.add_edge(Edge::new(a, b, types[rng.gen_range(0..types.len())]))
            .unwrap();
    }
    tx.commit().unwrap();
    let second = db.current_commit_ts();
    assert!(second > first);
    for ts in [first, second] {
        let snap = db.snapshot_at(ts, None);
        layouts_agree(snap, &types);
        db.clear_caches().unwrap();
    }
    // The old snapshot's layout still has the deleted nodes; the new one does not.
    let old = db.snapshot_at(first, None).analytics().unwrap();
    let new = db.snapshot_at(second, None).analytics().unwrap();
    assert_eq!(old.node_count(), 400);
    assert_eq!(new.node_count(), 400 - deleted.len() + 50);
}

#[test]
fn an_empty_database_and_edgeless_nodes_have_a_layout() {
    let (mut db, _m, _w) = crate::mem_db(Config::default());
    let empty = db.snapshot().analytics().unwrap();
    assert_eq!((empty.node_count(), empty.edge_count()), (0, 0));
    assert_eq!(empty.weakly_connected_components().count, 0);
    assert!(matches!(
        empty.bfs(1, Direction::Both, None, None),
        Err(graphdb_core::GraphError::NodeNotFound(1))
    ));
    let mut tx = db.begin_write_txn().unwrap();
    let a = tx.add_node(Node::new()).unwrap();
    let b = tx.add_node(Node::new()).unwrap();
    tx.commit().unwrap();
    let two = db.snapshot().analytics().unwrap();
    assert_eq!((two.node_count(), two.edge_count()), (2, 0));
    assert_eq!(two.weakly_connected_components().count, 2);
    assert_eq!(two.bfs(b, Direction::Both, None, None).unwrap(), [(b, 0)]);
    assert!(two.k_hop(a, 3, Direction::Both, None).unwrap().is_empty());
}

#[test]
fn a_layout_of_one_edge_type_filters_by_it_and_by_types_it_lacks() {
    let g = karate();
    let (db, ids) = load(&g);
    let snap = db.snapshot();
    let csr = snap.analytics().unwrap();
    for dir in [Direction::Outgoing, Direction::Incoming, Direction::Both] {
        let all = csr.bfs(ids[0], dir, None, None).unwrap();
        assert_eq!(csr.bfs(ids[0], dir, Some("FRIEND"), None).unwrap(), all);
        let want: Vec<(u64, u32)> = snap
            .bfs(ids[0], dir, Some("FRIEND"), None)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(all, want);
        assert_eq!(
            csr.bfs(ids[0], dir, Some("ENEMY"), None).unwrap(),
            [(ids[0], 0)]
        );
    }
    assert_eq!(csr.edge_count(), 78);
    // Depth 0 is the start alone, as in the record-by-record search.
    assert_eq!(
        csr.bfs(ids[0], Direction::Both, None, Some(0)).unwrap(),
        [(ids[0], 0)]
    );
    assert_eq!(
        snap.bfs(ids[0], Direction::Both, None, Some(0))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn a_layout_over_many_lock_chunks_matches_the_reference() {
    // More than two of the build's 4,096-id chunks, with deleted ids in each, so chunk
    // boundaries fall on visible and on deleted nodes.
    let n = 9_000usize;
    let config = Config {
        sync_mode: SyncMode::Off,
        ..Config::default()
    };
    let (mut db, _m, _w) = crate::mem_db(config);
    let mut tx = db.begin_write_txn().unwrap();
    let ids: Vec<u64> = (0..n).map(|_| tx.add_node(Node::new()).unwrap()).collect();
    // A ring, plus a chord from every 10th node to the one opposite.
    for i in 0..n {
        tx.add_edge(Edge::new(ids[i], ids[(i + 1) % n], "R"))
            .unwrap();
        if i % 10 == 0 {
            tx.add_edge(Edge::new(ids[i], ids[(i + n / 2) % n], "C"))
                .unwrap();
        }
    }
    tx.commit().unwrap();
    let mut tx = db.begin_write_txn().unwrap();
    let gone: HashSet<usize> = [4095usize, 4096, 4097, 8191, 8192, 20].into();
    for &i in &gone {
        tx.delete_node(ids[i]).unwrap();
    }
    tx.commit().unwrap();
    let snap = db.snapshot();
    let csr = snap.analytics().unwrap();
    assert_eq!(csr.node_count(), n - gone.len());
    let per_node = graphdb_core::engine::analytics_per_node(&snap).unwrap();
    assert_eq!(csr.edge_count(), per_node.edge_count());
    assert_eq!(
        csr.weakly_connected_components(),
        snap.weakly_connected_components().unwrap()
    );
    for start in [ids[0], ids[4098], ids[8999]] {
        for filter in [None, Some("R"), Some("C")] {
            let want: Vec<(u64, u32)> = snap
                .bfs(start, Direction::Both, filter, None)
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(csr.bfs(start, Direction::Both, filter, None).unwrap(), want);
            assert_eq!(
                per_node.bfs(start, Direction::Both, filter, None).unwrap(),
                want
            );
        }
    }
}
