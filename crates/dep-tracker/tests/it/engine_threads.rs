//! Single flight and depth: a key's step runs at most once per revision however many
//! threads ask for it, and chains far deeper than any thread's stack work.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dep_tracker::{Engine, Error};

/// Key `k >= 1` reads `k / 2` and `k / 3` (shared by many keys), and yields the
/// processor in between so that other threads ask for the same keys meanwhile.
fn shared_dag(
    runs: Arc<Mutex<HashMap<(u64, u32), u32>>>,
    epoch: Arc<AtomicU64>,
) -> Engine<u32, u64> {
    Engine::<u32, u64>::new(move |&k, step| {
        *runs
            .lock()
            .unwrap()
            .entry((epoch.load(Ordering::SeqCst), k))
            .or_insert(0) += 1;
        if k == 0 {
            return Err(step.fail("key 0 is an input"));
        }
        let a = step.get(&(k / 2))?;
        std::thread::yield_now();
        let b = step.get(&(k / 3))?;
        Ok(a.wrapping_mul(3).wrapping_add(b) % 1_000_003)
    })
}

#[test]
fn every_step_runs_once_per_revision_under_many_threads() {
    const KEYS: u32 = 3_000;
    const THREADS: usize = 16;
    let runs = Arc::new(Mutex::new(HashMap::new()));
    let epoch = Arc::new(AtomicU64::new(0));
    let mut engine = shared_dag(Arc::clone(&runs), Arc::clone(&epoch));
    engine.set_input(0, 1);
    let keys: Vec<u32> = (1..KEYS).collect();
    for round in 0..3u64 {
        let answers: Vec<Vec<Result<u64, Error>>> = std::thread::scope(|s| {
            let engine = &engine;
            let keys = &keys;
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    s.spawn(move || {
                        // Half the threads go from the top, half from the bottom, some
                        // through `get_all` (helpers on rayon's pool as well).
                        let mut order = keys.clone();
                        if t % 2 == 1 {
                            order.reverse();
                        }
                        let mut got = if t % 4 < 2 {
                            order.iter().map(|k| engine.get(k)).collect::<Vec<_>>()
                        } else {
                            engine.get_all(&order)
                        };
                        if t % 2 == 1 {
                            got.reverse();
                        }
                        got
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for other in &answers[1..] {
            assert_eq!(other, &answers[0]);
        }
        let runs = runs.lock().unwrap();
        let twice: Vec<_> = runs.iter().filter(|(_, &n)| n > 1).collect();
        assert!(
            twice.is_empty(),
            "round {round}: {} keys ran more than once, e.g. {:?}",
            twice.len(),
            &twice[..twice.len().min(10)]
        );
        if round == 0 {
            assert_eq!(
                runs.len(),
                KEYS as usize - 1,
                "every key ran in the first build"
            );
        }
        drop(runs);
        epoch.fetch_add(1, Ordering::SeqCst);
        engine.set_input(0, round + 2);
    }
    // Every key ran once in the first revision; after each edit only keys whose value
    // may change ran, each once.
    assert!(engine.executions() >= u64::from(KEYS) - 1);
}

/// Key `k > 0` is key `k - 1` plus one; key 0 is an input.
fn chain() -> Engine<u32, u64> {
    let mut engine = Engine::<u32, u64>::new(|&k, step| {
        if k == 0 {
            return Err(step.fail("key 0 is an input"));
        }
        Ok(step.get(&(k - 1))? + 1)
    });
    engine.set_parallel(false);
    engine
}

/// 100,000 in the debug test suite; `cargo xtask bench` measures 1,000,000.
const DEPTH: u32 = 100_000;

fn deep_chain_builds_and_rebuilds() {
    let mut engine = chain();
    engine.set_input(0, 7);
    assert_eq!(engine.get(&DEPTH), Ok(u64::from(DEPTH) + 7));
    // A change at the bottom: the check walks the whole chain down and every step
    // runs again on the way up.
    engine.set_input(0, 8);
    assert_eq!(engine.get(&DEPTH), Ok(u64::from(DEPTH) + 8));
    // A cycle closed across the whole depth is found, not a hang or an overflow.
    let mut cyclic = Engine::<u32, u64>::new(|&k, step| {
        let next = if k == 0 { DEPTH } else { k - 1 };
        Ok(step.get(&next)? + 1)
    });
    cyclic.set_parallel(false);
    match cyclic.get(&DEPTH) {
        Err(Error::Cycle { cycle }) => assert_eq!(cycle.len(), DEPTH as usize + 2),
        other => panic!("expected a cycle, got {other:?}"),
    }
}

#[test]
fn a_chain_of_100_000_keys_works_on_a_thread_with_a_small_stack() {
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(deep_chain_builds_and_rebuilds)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_deep_chain_works_on_a_rayon_worker() {
    let (send, recv) = std::sync::mpsc::channel();
    rayon::spawn(move || {
        let mut engine = chain();
        engine.set_input(0, 1);
        send.send(engine.get(&(DEPTH / 4))).unwrap();
    });
    assert_eq!(recv.recv().unwrap(), Ok(u64::from(DEPTH / 4) + 1));
}
