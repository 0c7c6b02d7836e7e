//! The demonstration sweep that proves the report pipeline end to end: pushes onto a
//! vector behind `std::sync::Mutex` (baseline) against `parking_lot::Mutex`.

use std::sync::atomic::{AtomicUsize, Ordering};

use bench_harness::{BenchSpec, Budget, Suite};

use crate::StressContext;

const PUSH: BenchSpec = BenchSpec {
    crate_name: "demo",
    bench: "mutex-vec-push",
    description: "One `push` of a `u64` onto a `Vec` shared behind a lock.",
    baseline: "std-mutex",
    seed_target: None,
};

/// Measures both locks at every thread count of the suite.
pub fn bench(suite: &mut Suite) {
    let ops = suite.mode().pick(10_000, 2_000_000, 10_000_000);
    for threads in suite.threads().to_vec() {
        suite.measure(
            &PUSH,
            "std-mutex",
            threads,
            Budget::Ops(ops),
            || std::sync::Mutex::new(Vec::new()),
            |v, _, i| {
                // A poisoned lock only means another pusher panicked; the vector is still valid.
                v.lock().unwrap_or_else(|p| p.into_inner()).push(i);
            },
        );
        suite.measure(
            &PUSH,
            "parking_lot-mutex",
            threads,
            Budget::Ops(ops),
            || parking_lot::Mutex::new(Vec::new()),
            |v, _, i| {
                v.lock().push(i);
            },
        );
    }
}

/// Many threads push onto one vector; at the end every push must be there exactly once.
pub fn stress(ctx: &StressContext) -> Result<String, String> {
    let log = parking_lot::Mutex::new(Vec::new());
    let pushed = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for thread in 0..ctx.threads {
            let (log, pushed) = (&log, &pushed);
            scope.spawn(move || {
                let mut i = 0u64;
                while ctx.keep_going() {
                    log.lock().push((thread as u64) << 40 | i);
                    pushed.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                    ctx.beat();
                }
            });
        }
    });
    let mut all = log.into_inner();
    let total = all.len();
    all.sort_unstable();
    all.dedup();
    if all.len() != total || total != pushed.load(Ordering::Relaxed) {
        return Err(format!(
            "{} pushes counted, {} stored, {} distinct",
            pushed.load(Ordering::Relaxed),
            total,
            all.len()
        ));
    }
    Ok(format!(
        "{total} pushes from {} threads, all present once",
        ctx.threads
    ))
}
