//! Pushing threads with concurrent readers, for every log.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use dep_tracker::{Context, Dependency, DependencyGraph, DependencyLog, StepKind};

const PUSHERS: usize = 4;
const READERS: usize = 2;
const BATCHES: usize = 1_500;
const EDGES_PER_STEP: usize = 4;

/// What a reader may assume about successive reads of one log.
#[derive(Clone, Copy)]
struct Promise {
    /// Each read is a prefix of every later read (same order).
    prefix: bool,
    /// A step's edges appear all together or not at all.
    whole_steps: bool,
}

fn pushers_and_readers<L: DependencyLog + 'static>(promise: Promise) {
    eprintln!(
        "concurrency: log {} with {PUSHERS} pushers x {BATCHES} steps x {EDGES_PER_STEP} edges, {READERS} readers",
        L::NAME
    );
    let log = Arc::new(L::default());
    let root = Context::root_in(Arc::clone(&log));
    let finished: Vec<AtomicUsize> = (0..PUSHERS).map(|_| AtomicUsize::new(0)).collect();
    let stop = AtomicBool::new(false);
    let reads = std::thread::scope(|s| {
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let (log, finished, stop) = (&log, &finished, &stop);
                s.spawn(move || {
                    let mut previous: Vec<Dependency> = Vec::new();
                    let mut reads = 0usize;
                    while !stop.load(Ordering::Acquire) {
                        let done: usize = finished.iter().map(|f| f.load(Ordering::Acquire)).sum();
                        let seen = log.snapshot();
                        check_read(&previous, &seen, done, promise);
                        previous = seen;
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        std::thread::scope(|p| {
            for finished in &finished {
                let root = &root;
                p.spawn(move || {
                    let mine = root.in_exec();
                    for _ in 0..BATCHES {
                        let step = mine.in_exec();
                        for _ in 0..EDGES_PER_STEP {
                            step.in_read();
                        }
                        drop(step);
                        finished.fetch_add(1, Ordering::Release);
                    }
                });
            }
        });
        stop.store(true, Ordering::Release);
        readers
            .into_iter()
            .map(|r| r.join().unwrap())
            .sum::<usize>()
    });
    drop(root);
    let all = log.snapshot();
    let total = PUSHERS * (1 + BATCHES * (1 + EDGES_PER_STEP));
    assert_eq!(all.len(), total, "log {}", L::NAME);
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        total,
        "duplicates in {}",
        L::NAME
    );
    let graph = DependencyGraph::from_dependencies(&all);
    assert_eq!(
        graph.node_count(),
        total + 1,
        "log {}: the edges form a tree",
        L::NAME
    );
    assert!(graph.find_cycle().is_none());
    eprintln!("concurrency: log {} passed after {reads} reads", L::NAME);
}

fn check_read(previous: &[Dependency], seen: &[Dependency], done: usize, promise: Promise) {
    let unique: HashSet<&Dependency> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a read saw an edge twice");
    let reads = seen.iter().filter(|d| d.kind == StepKind::Read).count();
    assert!(
        reads >= done * EDGES_PER_STEP,
        "{reads} leaf edges seen but {done} steps had finished before the read"
    );
    if promise.prefix {
        assert!(
            seen.len() >= previous.len() && seen[..previous.len()] == *previous,
            "not a prefix"
        );
    } else {
        assert!(
            previous.iter().all(|d| unique.contains(d)),
            "an edge disappeared"
        );
    }
    if promise.whole_steps {
        let mut per_step = std::collections::HashMap::new();
        for d in seen.iter().filter(|d| d.kind == StepKind::Read) {
            *per_step.entry(d.from).or_insert(0usize) += 1;
        }
        assert!(
            per_step.values().all(|&n| n == EDGES_PER_STEP),
            "a step was partly visible"
        );
    }
}

#[test]
fn mutex_log_readers_see_prefixes() {
    pushers_and_readers::<dep_tracker::MutexLog>(Promise {
        prefix: true,
        whole_steps: false,
    });
}

#[test]
fn append_only_vec_log_readers_see_prefixes() {
    pushers_and_readers::<dep_tracker::AppendOnlyVecLog>(Promise {
        prefix: true,
        whole_steps: false,
    });
}

#[test]
fn boxcar_log_readers_see_growing_sets() {
    pushers_and_readers::<dep_tracker::BoxcarLog>(Promise {
        prefix: false,
        whole_steps: false,
    });
}

#[test]
fn buffered_log_readers_see_whole_published_steps() {
    pushers_and_readers::<dep_tracker::BufferedLog>(Promise {
        prefix: false,
        whole_steps: true,
    });
}
