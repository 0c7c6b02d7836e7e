//! Running a closure on N threads and summarising the samples.

use std::time::{Duration, Instant};

use crate::sync::{AtomicBool, Barrier, Ordering};

/// How long each measurement runs. Pick one with [`SweepConfig::for_mode`].
#[derive(Debug, Clone, PartialEq)]
pub struct SweepConfig {
    /// Time spent running the workload before the first sample, to warm caches and
    /// let the allocator settle. Not measured.
    pub warmup: Duration,
    /// Wall-clock length of one timed sample in [`Budget::Duration`] mode.
    pub sample_time: Duration,
    /// Number of timed samples; the report keeps their median, minimum and maximum.
    pub samples: usize,
}

/// How much work one sample does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// Every thread runs the operation until the sample time is up.
    Duration,
    /// This many operations in total, split evenly over the threads; the sample ends
    /// when the last thread finishes. Use it when the state grows with every operation
    /// (a log that is pushed to) so that samples are comparable across thread counts.
    Ops(u64),
}

/// Which depth of run the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One sample of a few milliseconds with tiny sizes: proves the benchmark runs.
    Smoke,
    /// A few short samples: the whole workspace in a few minutes.
    Quick,
    /// Longer samples for figures worth quoting.
    Full,
}

impl Mode {
    /// The name used on the command line and in the report header.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Smoke => "smoke",
            Mode::Quick => "quick",
            Mode::Full => "full",
        }
    }

    /// Picks a size for this mode: `smoke` is for CI, `quick` for the report in a few
    /// minutes, `full` for quoting.
    pub fn pick<T>(self, smoke: T, quick: T, full: T) -> T {
        match self {
            Mode::Smoke => smoke,
            Mode::Quick => quick,
            Mode::Full => full,
        }
    }
}

impl SweepConfig {
    /// The sample plan for a mode.
    pub fn for_mode(mode: Mode) -> Self {
        match mode {
            Mode::Smoke => SweepConfig {
                warmup: Duration::ZERO,
                sample_time: Duration::from_millis(10),
                samples: 1,
            },
            Mode::Quick => SweepConfig {
                warmup: Duration::from_millis(30),
                sample_time: Duration::from_millis(120),
                samples: 3,
            },
            Mode::Full => SweepConfig {
                warmup: Duration::from_millis(200),
                sample_time: Duration::from_millis(1000),
                samples: 7,
            },
        }
    }
}

/// The summary of the samples of one (variant, thread count) point.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Median throughput over the samples, operations per second (all threads together).
    pub ops_per_sec: f64,
    /// Lowest sample throughput.
    pub min_ops_per_sec: f64,
    /// Highest sample throughput.
    pub max_ops_per_sec: f64,
    /// Number of samples summarised.
    pub samples: usize,
}

impl Measurement {
    /// Summarises per-sample throughputs (operations per second). Returns `None` for an
    /// empty slice or when a sample is not a finite, non-negative number.
    pub fn from_samples(ops_per_sec: &[f64]) -> Option<Self> {
        if ops_per_sec.is_empty() || ops_per_sec.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return None;
        }
        let mut sorted = ops_per_sec.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Measurement {
            ops_per_sec: median,
            min_ops_per_sec: sorted[0],
            max_ops_per_sec: sorted[n - 1],
            samples: n,
        })
    }

    /// Median wall-clock nanoseconds per operation of the whole group of threads
    /// (`1e9 / ops_per_sec`); infinite when nothing completed.
    pub fn ns_per_op(&self) -> f64 {
        if self.ops_per_sec > 0.0 {
            1e9 / self.ops_per_sec
        } else {
            f64::INFINITY
        }
    }
}

/// Runs `op` on `threads` threads and measures throughput.
///
/// `setup` builds fresh shared state for each sample (and for the warm-up), so a
/// workload that grows its state does not carry it from one sample into the next.
/// `op(state, thread_index, iteration)` is one operation; `iteration` counts from zero
/// per thread. All threads start together behind a barrier; the span of a sample runs
/// from the earliest worker's first operation to the latest worker's last one, stamped
/// by the workers themselves.
pub fn measure_threads<S, Setup, Op>(
    config: &SweepConfig,
    budget: Budget,
    threads: usize,
    mut setup: Setup,
    op: Op,
) -> Measurement
where
    S: Sync,
    Setup: FnMut() -> S,
    Op: Fn(&S, usize, u64) + Sync,
{
    let threads = threads.max(1);
    if !config.warmup.is_zero() {
        let state = setup();
        run_sample(&state, budget, config.warmup, threads, &op);
    }
    let samples: Vec<f64> = (0..config.samples.max(1))
        .map(|_| {
            let state = setup();
            let (ops, elapsed) = run_sample(&state, budget, config.sample_time, threads, &op);
            ops as f64 / elapsed.as_secs_f64().max(1e-9)
        })
        .collect();
    // Every sample is finite and non-negative by construction.
    Measurement::from_samples(&samples).unwrap_or(Measurement {
        ops_per_sec: 0.0,
        min_ops_per_sec: 0.0,
        max_ops_per_sec: 0.0,
        samples: 0,
    })
}

/// Times a whole task (a rebuild, a load) `config.samples` times. `task` returns how many
/// operations it performed (use 1 when the task is the unit); `setup` runs untimed
/// before each sample and hands its state to the task.
pub fn measure_task<S, Setup, Task>(
    config: &SweepConfig,
    mut setup: Setup,
    mut task: Task,
) -> Measurement
where
    Setup: FnMut() -> S,
    Task: FnMut(S) -> u64,
{
    if !config.warmup.is_zero() {
        task(setup());
    }
    let samples: Vec<f64> = (0..config.samples.max(1))
        .map(|_| {
            let state = setup();
            let start = Instant::now();
            let ops = task(state);
            ops as f64 / start.elapsed().as_secs_f64().max(1e-9)
        })
        .collect();
    Measurement::from_samples(&samples).unwrap_or(Measurement {
        ops_per_sec: 0.0,
        min_ops_per_sec: 0.0,
        max_ops_per_sec: 0.0,
        samples: 0,
    })
}

fn run_sample<S, Op>(
    state: &S,
    budget: Budget,
    sample_time: Duration,
    threads: usize,
    op: &Op,
) -> (u64, Duration)
where
    S: Sync,
    Op: Fn(&S, usize, u64) + Sync,
{
    run_sample_with_release_delay(state, budget, sample_time, threads, op, Duration::ZERO)
}

/// One thread's part of a sample: how many operations it ran, and when it ran them.
struct ThreadSpan {
    ops: u64,
    first_op: Instant,
    last_op_done: Instant,
}

/// The body of [`run_sample`]. `release_delay` stalls the coordinating thread right after
/// it releases the workers, as the scheduler does when many busy workers share few
/// cores; tests use it to prove the measured span does not depend on when that thread
/// runs again.
///
/// Each worker stamps its own first and last operation, and the sample's span runs from
/// the earliest first stamp to the latest last stamp. An earlier version started the clock
/// on the coordinating thread after the barrier; with 50 spinning workers on 2 cores that
/// thread could wake milliseconds late, so operations done before the clock started were
/// counted against too short a span and 50-thread figures came out inflated.
fn run_sample_with_release_delay<S, Op>(
    state: &S,
    budget: Budget,
    sample_time: Duration,
    threads: usize,
    op: &Op,
    release_delay: Duration,
) -> (u64, Duration)
where
    S: Sync,
    Op: Fn(&S, usize, u64) + Sync,
{
    let stop = AtomicBool::new(false);
    // One extra party: the coordinating thread releases the workers and, in a duration
    // budget, tells them when to stop.
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let (stop, barrier) = (&stop, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let first_op = Instant::now();
                    let ops = match budget {
                        Budget::Duration => {
                            // At least one operation per worker, even one scheduled only
                            // after the stop: a thread count that ran fewer threads than
                            // it names would be mislabelled.
                            let mut i = 0u64;
                            loop {
                                op(state, thread, i);
                                i += 1;
                                if stop.load(Ordering::Relaxed) {
                                    break i;
                                }
                            }
                        }
                        Budget::Ops(total_ops) => {
                            let share = share_of(total_ops, threads, thread);
                            for i in 0..share {
                                op(state, thread, i);
                            }
                            share
                        }
                    };
                    ThreadSpan {
                        ops,
                        first_op,
                        last_op_done: Instant::now(),
                    }
                })
            })
            .collect();
        barrier.wait();
        if !release_delay.is_zero() {
            std::thread::sleep(release_delay);
        }
        if budget == Budget::Duration {
            std::thread::sleep(sample_time);
            stop.store(true, Ordering::Relaxed);
        }
        let spans: Vec<ThreadSpan> = handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        let ops = spans.iter().map(|span| span.ops).sum();
        let began = spans.iter().map(|span| span.first_op).min();
        let ended = spans.iter().map(|span| span.last_op_done).max();
        let elapsed = match (began, ended) {
            (Some(began), Some(ended)) => ended.saturating_duration_since(began),
            _ => Duration::ZERO,
        };
        (ops, elapsed)
    })
}

/// The number of operations thread `index` of `threads` runs out of `total`: the
/// remainder goes to the first threads so the shares add up exactly.
pub fn share_of(total: u64, threads: usize, index: usize) -> u64 {
    let threads = threads.max(1) as u64;
    let index = index as u64;
    total / threads + u64::from(index < total % threads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::AtomicU64;

    #[test]
    fn median_of_odd_and_even_sample_counts() {
        let m = Measurement::from_samples(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(
            (m.ops_per_sec, m.min_ops_per_sec, m.max_ops_per_sec),
            (2.0, 1.0, 3.0)
        );
        let m = Measurement::from_samples(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(m.ops_per_sec, 2.5);
        assert_eq!(m.samples, 4);
    }

    #[test]
    fn rejects_empty_and_non_finite_samples() {
        assert!(Measurement::from_samples(&[]).is_none());
        assert!(Measurement::from_samples(&[1.0, f64::NAN]).is_none());
        assert!(Measurement::from_samples(&[-1.0]).is_none());
    }

    #[test]
    fn ns_per_op_is_the_inverse_of_throughput() {
        let m = Measurement::from_samples(&[2e6]).unwrap();
        assert!((m.ns_per_op() - 500.0).abs() < 1e-9);
        let zero = Measurement::from_samples(&[0.0]).unwrap();
        assert!(zero.ns_per_op().is_infinite());
    }

    #[test]
    fn shares_add_up_to_the_total() {
        for total in [0u64, 1, 7, 100, 1001] {
            for threads in 1..9 {
                let sum: u64 = (0..threads).map(|i| share_of(total, threads, i)).sum();
                assert_eq!(sum, total, "total {total} threads {threads}");
            }
        }
    }

    #[test]
    fn ops_budget_runs_exactly_the_requested_operations() {
        let config = SweepConfig {
            warmup: Duration::ZERO,
            sample_time: Duration::ZERO,
            samples: 2,
        };
        let counters: Vec<AtomicU64> = (0..2).map(|_| AtomicU64::new(0)).collect();
        let mut sample = 0;
        let m = measure_threads(
            &config,
            Budget::Ops(1000),
            4,
            || {
                sample += 1;
                &counters[sample - 1]
            },
            |counter, _thread, _i| {
                counter.fetch_add(1, Ordering::Relaxed);
            },
        );
        assert_eq!(m.samples, 2);
        assert!(m.ops_per_sec > 0.0);
        assert_eq!(counters[0].load(Ordering::Relaxed), 1000);
        assert_eq!(counters[1].load(Ordering::Relaxed), 1000);
    }

    #[test]
    fn a_late_coordinating_thread_does_not_inflate_throughput() {
        // Every operation sleeps 2 ms, so each thread's share of 5 operations takes at
        // least 10 ms and no honest measurement can exceed 8 threads * 5 ops / 10 ms.
        // The coordinating thread is held back 40 ms after the release, as a busy
        // scheduler would; a clock started there would report about five times that.
        let threads = 8;
        let total_ops = 8 * 5;
        let (ops, elapsed) = run_sample_with_release_delay(
            &(),
            Budget::Ops(total_ops),
            Duration::ZERO,
            threads,
            &|(), _, _| std::thread::sleep(Duration::from_millis(2)),
            Duration::from_millis(40),
        );
        assert_eq!(ops, total_ops);
        assert!(
            elapsed >= Duration::from_millis(10),
            "span {elapsed:?} shorter than one share"
        );
        let ops_per_sec = ops as f64 / elapsed.as_secs_f64();
        assert!(
            ops_per_sec <= 8.0 * 5.0 / 0.010,
            "inflated: {ops_per_sec} ops/s"
        );
    }

    #[test]
    fn duration_budget_counts_work_done_after_a_late_stop() {
        // The coordinating thread wakes late (delay + sample time); the workers keep
        // running until it stops them, and the span must cover all of that work.
        let (ops, elapsed) = run_sample_with_release_delay(
            &(),
            Budget::Duration,
            Duration::from_millis(5),
            4,
            &|(), _, _| std::thread::sleep(Duration::from_millis(1)),
            Duration::from_millis(30),
        );
        // Each worker runs at least one operation, each operation takes at least 1 ms
        // and a worker's operations all lie inside the span, so 4 threads cannot
        // honestly exceed 4 operations per millisecond.
        assert!(ops >= 4, "every worker runs at least once, ran {ops}");
        let ops_per_sec = ops as f64 / elapsed.as_secs_f64();
        assert!(ops_per_sec <= 4.0 / 0.001, "inflated: {ops_per_sec} ops/s");
    }

    #[test]
    fn duration_budget_stops_and_counts_every_thread() {
        let config = SweepConfig {
            warmup: Duration::ZERO,
            sample_time: Duration::from_millis(5),
            samples: 1,
        };
        let seen = [const { AtomicU64::new(0) }; 3];
        let m = measure_threads(
            &config,
            Budget::Duration,
            3,
            || (),
            |(), thread, _| {
                seen[thread].fetch_add(1, Ordering::Relaxed);
            },
        );
        assert!(m.ops_per_sec > 0.0);
        assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) > 0));
    }

    #[test]
    fn task_measurement_counts_reported_operations() {
        let config = SweepConfig {
            warmup: Duration::ZERO,
            sample_time: Duration::ZERO,
            samples: 3,
        };
        let mut runs = 0;
        let m = measure_task(
            &config,
            || 10u64,
            |n| {
                runs += 1;
                std::thread::sleep(Duration::from_millis(1));
                n
            },
        );
        assert_eq!(runs, 3);
        // Ten operations in at least a millisecond: at most ten thousand per second.
        assert!(m.ops_per_sec > 0.0 && m.ops_per_sec <= 10_000.0);
    }
}
