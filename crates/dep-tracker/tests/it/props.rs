//! Property tests: concurrent runs, invalidation and incremental builds against simple
//! reference models.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use dep_tracker::{Context, DependencyGraph, DependencyLog, Engine, Error, StepId, StepKind};
use proptest::prelude::*;
use rayon::prelude::*;

const KINDS: [StepKind; 4] = [
    StepKind::Read,
    StepKind::Parse,
    StepKind::Resolve,
    StepKind::Exec,
];

/// A tree of work: `parents[i]` is the parent of node `i + 1` (node 0 is the root), and
/// `kinds[i]` its kind.
#[derive(Debug, Clone)]
struct Work {
    parents: Vec<usize>,
    kinds: Vec<StepKind>,
}

fn work() -> impl Strategy<Value = Work> {
    prop::collection::vec((any::<prop::sample::Index>(), 0..4usize), 0..60).prop_map(|spec| Work {
        parents: spec
            .iter()
            .enumerate()
            .map(|(i, (p, _))| p.index(i + 1))
            .collect(),
        kinds: spec.iter().map(|&(_, k)| KINDS[k]).collect(),
    })
}

impl Work {
    fn children(&self, node: usize) -> Vec<usize> {
        (0..self.parents.len())
            .filter(|&i| self.parents[i] == node)
            .map(|i| i + 1)
            .collect()
    }
}

/// Runs `work` and returns its edges as (parent node, child node, kind).
fn run<L: DependencyLog>(work: &Work, parallel: bool) -> BTreeSet<(usize, usize, StepKind)> {
    let root = Context::root_in(Arc::new(L::default()));
    let names = Mutex::new(HashMap::from([(root.step(), 0usize)]));
    fn visit<L: DependencyLog>(
        ctx: &Context<L>,
        node: usize,
        work: &Work,
        parallel: bool,
        names: &Mutex<HashMap<StepId, usize>>,
    ) {
        let body = |child: usize| {
            let sub = ctx.child(work.kinds[child - 1]);
            names.lock().unwrap().insert(sub.step(), child);
            visit(&sub, child, work, parallel, names);
        };
        if parallel {
            work.children(node).into_par_iter().for_each(body);
        } else {
            work.children(node).into_iter().for_each(body);
        }
    }
    visit(&root, 0, work, parallel, &names);
    let names = names.into_inner().unwrap();
    root.dependencies()
        .iter()
        .map(|d| (names[&d.from], names[&d.to], d.kind))
        .collect()
}

fn concurrent_equals_sequential<L: DependencyLog>(work: &Work) -> Result<(), TestCaseError> {
    let sequential = run::<L>(work, false);
    prop_assert_eq!(sequential.len(), work.parents.len());
    prop_assert_eq!(run::<L>(work, true), sequential, "log {}", L::NAME);
    Ok(())
}

/// Edges over `n` nodes; may contain cycles and self-edges.
fn edges() -> impl Strategy<Value = (usize, Vec<(usize, usize)>)> {
    (1..25usize).prop_flat_map(|n| (Just(n), prop::collection::vec((0..n, 0..n), 0..60)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_graph_of_a_concurrent_run_equals_the_graph_of_a_sequential_run(work in work()) {
        concurrent_equals_sequential::<dep_tracker::MutexLog>(&work)?;
        concurrent_equals_sequential::<dep_tracker::AppendOnlyVecLog>(&work)?;
        concurrent_equals_sequential::<dep_tracker::BoxcarLog>(&work)?;
        concurrent_equals_sequential::<dep_tracker::BufferedLog>(&work)?;
    }

    #[test]
    fn invalidation_equals_reachability_in_the_reverse_graph(
        (n, edges) in edges(),
        changed in prop::collection::vec(0..30usize, 0..4),
    ) {
        let mut graph = DependencyGraph::from_edges(edges.iter().copied());
        (0..n).for_each(|i| graph.add_node(i));
        let got: HashSet<usize> = graph.invalidated(&changed).into_iter().collect();
        // Reference: grow the set until no edge leads into it from outside.
        let mut want: HashSet<usize> = changed.iter().copied().filter(|&c| c < n).collect();
        loop {
            let more: Vec<usize> = edges.iter().filter(|(f, t)| want.contains(t) && !want.contains(f)).map(|&(f, _)| f).collect();
            if more.is_empty() { break; }
            want.extend(more);
        }
        prop_assert_eq!(got, want);
    }

    #[test]
    fn topological_order_and_cycle_detection_agree((n, edges) in edges()) {
        let mut graph = DependencyGraph::from_edges(edges.iter().copied());
        (0..n).for_each(|i| graph.add_node(i));
        match (graph.topological_order(), graph.find_cycle()) {
            (Ok(order), None) => {
                prop_assert_eq!(order.len(), n);
                let pos: HashMap<usize, usize> = order.iter().enumerate().map(|(i, &x)| (x, i)).collect();
                for (f, t) in &edges {
                    prop_assert!(pos[t] < pos[f], "{} needs {} but comes first", f, t);
                }
            }
            (Err(Error::Cycle { cycle: names }), Some(cycle)) => {
                prop_assert_eq!(cycle.first(), cycle.last());
                for pair in cycle.windows(2) {
                    prop_assert!(edges.contains(&(pair[0], pair[1])));
                }
                prop_assert_eq!(names.to_vec(), cycle.iter().map(|c| c.to_string()).collect::<Vec<_>>());
            }
            (order, cycle) => prop_assert!(false, "disagree: {:?} vs {:?}", order, cycle),
        }
    }

    #[test]
    fn incremental_results_always_equal_a_from_scratch_run(
        inputs in prop::collection::vec(-5i64..5, 1..8),
        derived in prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 0..4), 1..20),
        changes in prop::collection::vec((any::<prop::sample::Index>(), -5i64..5), 1..8),
        parallel in any::<bool>(),
    ) {
        // Node i < inputs.len() is an input; node j >= it reads nodes chosen among all
        // nodes before it and takes a lossy combination, so early cutoff happens often.
        let n_in = inputs.len();
        let reads: Arc<Vec<Vec<usize>>> = Arc::new(
            derived.iter().enumerate().map(|(j, picks)| picks.iter().map(|p| p.index(n_in + j)).collect()).collect(),
        );
        let make = |values: &[i64]| {
            let reads = Arc::clone(&reads);
            let mut engine = Engine::<usize, i64>::new(move |&k, step| {
                let picks = reads.get(k.wrapping_sub(n_in)).ok_or_else(|| step.fail("not derived"))?;
                let vals = step.get_all(picks);
                let sum = vals.into_iter().sum::<Result<i64, Error>>()?;
                Ok(if k % 2 == 0 { sum.rem_euclid(3) } else { sum.clamp(-4, 4) + k as i64 })
            });
            engine.set_parallel(parallel);
            for (i, &v) in values.iter().enumerate() {
                engine.set_input(i, v);
            }
            engine
        };
        let all: Vec<usize> = (n_in..n_in + derived.len()).collect();
        let mut values = inputs.clone();
        let mut incremental = make(&values);
        prop_assert_eq!(incremental.get_all(&all), make(&values).get_all(&all));
        for (which, value) in changes {
            let i = which.index(n_in);
            values[i] = value;
            incremental.set_input(i, value);
            prop_assert_eq!(incremental.get_all(&all), make(&values).get_all(&all));
        }
    }
    #[test]
    fn incremental_results_equal_a_from_scratch_run_when_reads_depend_on_values(
        inputs in prop::collection::vec(-5i64..5, 1..8),
        derived in prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 3), 1..16),
        changes in prop::collection::vec((any::<prop::sample::Index>(), -5i64..5, any::<bool>()), 1..48),
        parallel in any::<bool>(),
    ) {
        // Node j >= inputs.len() reads one earlier node and, depending on its value, one
        // of two others, so a step's dependencies change from run to run. Some changes
        // are not followed by a read, so memos fall many revisions behind.
        let n_in = inputs.len();
        let reads: Arc<Vec<Vec<usize>>> = Arc::new(
            derived.iter().enumerate().map(|(j, picks)| picks.iter().map(|p| p.index(n_in + j)).collect()).collect(),
        );
        let make = |values: &[i64]| {
            let reads = Arc::clone(&reads);
            let mut engine = Engine::<usize, i64>::new(move |&k, step| {
                let picks = reads.get(k.wrapping_sub(n_in)).ok_or_else(|| step.fail("not derived"))?;
                let first = step.get(&picks[0])?;
                let second = step.get(&picks[if first.rem_euclid(2) == 0 { 1 } else { 2 }])?;
                Ok((first + second).rem_euclid(5) - 2)
            });
            engine.set_parallel(parallel);
            for (i, &v) in values.iter().enumerate() {
                engine.set_input(i, v);
            }
            engine
        };
        let all: Vec<usize> = (n_in..n_in + derived.len()).collect();
        let last = [n_in + derived.len() - 1];
        let mut values = inputs.clone();
        let mut incremental = make(&values);
        prop_assert_eq!(incremental.get_all(&all), make(&values).get_all(&all));
        for (which, value, read) in changes {
            let i = which.index(n_in);
            values[i] = value;
            incremental.set_input(i, value);
            if read {
                prop_assert_eq!(incremental.get_all(&last), make(&values).get_all(&last));
            }
        }
        prop_assert_eq!(incremental.get_all(&all), make(&values).get_all(&all));
    }
}
