//! `DependencyGraph`: invalidation, cycles, order, DOT.

use dep_tracker::{Context, DependencyGraph, Error};

#[test]
fn a_cycle_is_reported_with_its_steps_in_order() {
    let graph = DependencyGraph::from_edges([
        ("main", "util"),
        ("util", "io"),
        ("io", "util"),
        ("main", "log"),
    ]);
    let cycle = graph.find_cycle().unwrap();
    assert_eq!(cycle, ["util", "io", "util"]);
    match graph.topological_order() {
        Err(Error::Cycle { cycle }) => assert_eq!(*cycle, ["\"util\"", "\"io\"", "\"util\""]),
        other => panic!("expected a cycle, got {other:?}"),
    }
    let message = graph.topological_order().unwrap_err().to_string();
    assert_eq!(message, "dependency cycle: \"util\" -> \"io\" -> \"util\"");
}

#[test]
fn a_self_edge_is_a_cycle_of_one_step() {
    let graph = DependencyGraph::from_edges([(1, 1)]);
    assert_eq!(graph.find_cycle().unwrap(), [1, 1]);
}

#[test]
fn topological_order_puts_dependencies_first_and_keeps_insertion_order_on_ties() {
    let graph =
        DependencyGraph::from_edges([("app", "b"), ("app", "a"), ("b", "core"), ("a", "core")]);
    assert_eq!(
        graph.topological_order().unwrap(),
        ["core", "b", "a", "app"]
    );
    assert!(graph.find_cycle().is_none());
}

#[test]
fn invalidation_follows_reverse_edges_transitively_and_ignores_unknown_nodes() {
    let mut graph = DependencyGraph::from_edges([
        ("app", "lib"),
        ("lib", "core"),
        ("tool", "core"),
        ("app", "cfg"),
    ]);
    graph.add_node("orphan");
    let mut hit = graph.invalidated(&["core", "nowhere"]);
    hit.sort();
    assert_eq!(hit, ["app", "core", "lib", "tool"]);
    assert_eq!(graph.invalidated(&["cfg"]), ["cfg", "app"]);
    assert_eq!(graph.invalidated(&["orphan"]), ["orphan"]);
    assert_eq!(graph.dependents_of(&"core").count(), 2);
    assert_eq!(
        graph.dependencies_of(&"app").collect::<Vec<_>>(),
        [&"lib", &"cfg"]
    );
}

#[test]
fn duplicate_edges_count_once() {
    let mut graph = DependencyGraph::new();
    assert!(graph.add_edge(1, 2));
    assert!(!graph.add_edge(1, 2));
    assert_eq!(graph.edge_count(), 1);
    assert_eq!(graph.node_count(), 2);
}

#[test]
fn dot_export_names_every_node_and_edge() {
    let graph = DependencyGraph::from_edges([("a\"b", "c")]);
    let dot = graph.to_dot();
    assert!(dot.starts_with("digraph dependencies {\n"));
    assert!(dot.contains("n0 [label=\"\\\"a\\\\\\\"b\\\"\"];"), "{dot}");
    assert!(dot.contains("n0 -> n1;"));
    let custom = graph.to_dot_with(|n| n.len().to_string());
    assert!(custom.contains("[label=\"3\"]"));
}

#[test]
fn a_graph_from_a_log_is_a_tree_rooted_at_the_root() {
    let root = Context::root();
    {
        let exec = root.in_exec();
        let _a = exec.in_read();
        let _b = exec.in_parse();
    }
    // With the buffered default, the root's own edge is published when the root
    // finishes or reads; until then a graph of the log lacks it.
    let before = DependencyGraph::from_log(root.log().as_ref());
    assert!(before.edge_count() == 2 || cfg!(feature = "append-only-vec-log"));
    let graph = DependencyGraph::from_dependencies(&root.dependencies());
    assert_eq!(graph.node_count(), 4);
    assert_eq!(graph.edge_count(), 3);
    assert_eq!(
        graph.topological_order().unwrap().last(),
        Some(&root.step())
    );
    assert_eq!(graph.invalidated(&[root.step()]), [root.step()]);
}

#[test]
fn deep_chains_do_not_overflow_the_stack() {
    let graph = DependencyGraph::from_edges((0..200_000u32).map(|i| (i, i + 1)));
    assert!(graph.find_cycle().is_none());
    assert_eq!(graph.topological_order().unwrap().len(), 200_001);
    let cyclic = DependencyGraph::from_edges((0..200_000u32).map(|i| (i, (i + 1) % 200_000)));
    assert_eq!(cyclic.find_cycle().unwrap().len(), 200_001);
}
