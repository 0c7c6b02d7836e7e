//! What a stress run gets: its time budget, thread count, seed and a heartbeat that the
//! watchdog reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

/// The budget and instruments of one crate's stress run.
#[derive(Debug)]
pub struct StressContext {
    /// How long the run should keep going.
    pub duration: Duration,
    /// How many worker threads to use.
    pub threads: usize,
    /// The seed every random choice derives from; printed so a failure can be replayed.
    pub seed: u64,
    start: Instant,
    heartbeat: AtomicU64,
}

impl StressContext {
    /// A context whose clock starts now.
    pub fn new(duration: Duration, threads: usize, seed: u64) -> Self {
        StressContext {
            duration,
            threads: threads.max(1),
            seed,
            start: Instant::now(),
            heartbeat: AtomicU64::new(0),
        }
    }

    /// Whether the time budget still has room. Workers loop `while ctx.keep_going()`.
    pub fn keep_going(&self) -> bool {
        self.start.elapsed() < self.duration
    }

    /// Tells the watchdog that work completed. Call it after every unit of work; a run
    /// whose heartbeat stops for the watchdog's limit is reported as a deadlock.
    pub fn beat(&self) {
        self.heartbeat.fetch_add(1, Ordering::Relaxed);
    }

    /// Units of work completed so far.
    pub fn beats(&self) -> u64 {
        self.heartbeat.load(Ordering::Relaxed)
    }

    /// Seconds since the run started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A deterministic random stream for worker `stream`, derived from the seed.
    pub fn rng(&self, stream: u64) -> StdRng {
        StdRng::seed_from_u64(self.seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}
