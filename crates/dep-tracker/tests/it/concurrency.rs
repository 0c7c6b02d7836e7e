//! Pushing threads with concurrent readers, for every log.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use dep_tracker::{Context, Dependency, DependencyGraph, DependencyLog, StepKind};

const READERS: usize = 2;
const BATCHES: usize = 1_000;
const EDGES_PER_STEP: usize = 4;

/// What a reader may assume about successive reads of one log.
#[derive(Clone, Copy)]
struct Promise {
    /// Each read is a prefix of every later read (same order).
    prefix: bool,
    /// A step's edges appear all together or not at all.
    whole_steps: bool,
}

/// The four tests run one at a time: together they would put 24 threads on this
/// machine's 2 cores, and `append-only-vec` pushers, which wait for each other, then
/// take tens of seconds instead of a fraction of one.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn pushers_and_readers<L: DependencyLog + 'static>(pushers: usize, promise: Promise) {
    // A panic in another of these tests poisons the lock; this test is still valid.
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    eprintln!(
        "concurrency: log {} with {pushers} pushers x {BATCHES} steps x {EDGES_PER_STEP} edges, {READERS} readers",
        L::NAME
    );
    let log = Arc::new(L::default());
    let root = Context::root_in(Arc::clone(&log));
    let finished: Vec<AtomicUsize> = (0..pushers).map(|_| AtomicUsize::new(0)).collect();
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
                        // Leave the cores to the pushers now and then: an
                        // append-only-vec pusher that is descheduled stalls the others
                        // until it runs again.
                        std::thread::yield_now();
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
    let total = pushers * (1 + BATCHES * (1 + EDGES_PER_STEP));
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
    pushers_and_readers::<dep_tracker::MutexLog>(
        4,
        Promise {
            prefix: true,
            whole_steps: false,
        },
    );
}

#[test]
fn append_only_vec_log_readers_see_prefixes() {
    // Two pushers, not four: an append-only-vec pusher waits for every earlier one, and
    // with more pushers than this machine's two cores a descheduled one stalled the
    // rest for up to 15 s (the collapse the benchmarks measure).
    pushers_and_readers::<dep_tracker::AppendOnlyVecLog>(
        2,
        Promise {
            prefix: true,
            whole_steps: false,
        },
    );
}

#[test]
fn boxcar_log_readers_see_growing_sets() {
    pushers_and_readers::<dep_tracker::BoxcarLog>(
        4,
        Promise {
            prefix: false,
            whole_steps: false,
        },
    );
}

#[test]
fn buffered_log_readers_see_whole_published_steps() {
    pushers_and_readers::<dep_tracker::BufferedLog>(
        4,
        Promise {
            prefix: false,
            whole_steps: true,
        },
    );
}
