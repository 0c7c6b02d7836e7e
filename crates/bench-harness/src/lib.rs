//! The thread-sweep benchmark harness and report writer every crate of this workspace
//! uses (unpublished).
//!
//! A benchmark runs a closure on N threads for a fixed time or a fixed number of
//! operations, after a warm-up, several times; the harness keeps the median, minimum and
//! maximum throughput, and a [`Suite`] collects the points, prints each one as it is
//! measured, and writes `results.jsonl`, `report.md` and one SVG chart per benchmark.
//! It does not decide what to measure or assert anything about the figures: benchmarks
//! never pass or fail.
//!
//! ```
//! use bench_harness::{BenchSpec, Budget, Mode, Suite};
//! use std::sync::Mutex;
//!
//! const PUSH: BenchSpec = BenchSpec {
//!     crate_name: "demo",
//!     bench: "push",
//!     description: "One push onto a shared vector.",
//!     baseline: "std-mutex",
//!     seed_target: None,
//! };
//!
//! let mut suite = Suite::new(Mode::Smoke, vec![1, 2]);
//! for threads in suite.threads().to_vec() {
//!     suite.measure(&PUSH, "std-mutex", threads, Budget::Ops(1_000), || Mutex::new(Vec::new()), |v, _, i| {
//!         v.lock().unwrap().push(i)
//!     });
//! }
//! assert_eq!(suite.records().len(), 2);
//! let table = bench_harness::report::render_table(suite.records(), "demo", "push");
//! assert!(table.contains("std-mutex (baseline)"));
//! ```
#![deny(missing_docs)]

pub mod report;
pub mod sweep;
mod sync;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use report::{BenchSpec, Header, Record};
pub use sweep::{measure_task, measure_threads, Budget, Measurement, Mode, SweepConfig};

/// Everything that can go wrong while writing or reading a report.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// JSON could not be produced.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A line of a `results.jsonl` is not a valid record.
    #[error("{path}:{line}: not a benchmark record: {source}")]
    BadLine {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A chart could not be drawn.
    #[error("chart: {0}")]
    Plot(String),
}

impl HarnessError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        HarnessError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    fn plot(err: impl std::fmt::Display) -> Self {
        HarnessError::Plot(err.to_string())
    }
}

/// The thread counts of the seeds: 1, 2, 10, 20 and 50.
pub const DEFAULT_THREADS: &[usize] = &[1, 2, 10, 20, 50];

/// Collects the measurements of one run and prints progress as it goes.
#[derive(Debug)]
pub struct Suite {
    mode: Mode,
    config: SweepConfig,
    threads: Vec<usize>,
    records: Vec<Record>,
    started: Instant,
}

impl Suite {
    /// A suite measuring at `threads` (use [`DEFAULT_THREADS`] unless the user said
    /// otherwise) with the sample plan of `mode`.
    pub fn new(mode: Mode, threads: Vec<usize>) -> Self {
        Suite {
            mode,
            config: SweepConfig::for_mode(mode),
            threads,
            records: Vec::new(),
            started: Instant::now(),
        }
    }

    /// The run's mode, for benchmarks that size their data by it.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The thread counts to sweep.
    pub fn threads(&self) -> &[usize] {
        &self.threads
    }

    /// The sample plan.
    pub fn config(&self) -> &SweepConfig {
        &self.config
    }

    /// The points measured so far.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Measures `variant` of `spec` at `threads` threads with [`measure_threads`] and
    /// records it.
    pub fn measure<S, Setup, Op>(
        &mut self,
        spec: &BenchSpec,
        variant: &str,
        threads: usize,
        budget: Budget,
        setup: Setup,
        op: Op,
    ) -> Measurement
    where
        S: Sync,
        Setup: FnMut() -> S,
        Op: Fn(&S, usize, u64) + Sync,
    {
        let m = measure_threads(&self.config, budget, threads, setup, op);
        self.record(spec, variant, threads, m.clone());
        m
    }

    /// Measures a whole task with [`measure_task`] and records it at `threads` (the
    /// parallelism the task uses internally, 1 if none).
    pub fn measure_task<S, Setup, Task>(
        &mut self,
        spec: &BenchSpec,
        variant: &str,
        threads: usize,
        setup: Setup,
        task: Task,
    ) -> Measurement
    where
        Setup: FnMut() -> S,
        Task: FnMut(S) -> u64,
    {
        let m = measure_task(&self.config, setup, task);
        self.record(spec, variant, threads, m.clone());
        m
    }

    /// Records a measurement taken elsewhere and prints it.
    pub fn record(&mut self, spec: &BenchSpec, variant: &str, threads: usize, m: Measurement) {
        eprintln!(
            "[{:>6.1}s] {}/{} {:<24} {:>3} thr  {:>9} ops/s  (min {}, max {})",
            self.started.elapsed().as_secs_f64(),
            spec.crate_name,
            spec.bench,
            variant,
            threads,
            report::format_rate(m.ops_per_sec),
            report::format_rate(m.min_ops_per_sec),
            report::format_rate(m.max_ops_per_sec),
        );
        self.records.push(Record::new(spec, variant, threads, &m));
    }

    /// Adds records from another run (a sub-process) to this one.
    pub fn extend(&mut self, records: impl IntoIterator<Item = Record>) {
        self.records.extend(records);
    }

    /// Writes the report into `dir` and returns the path of `report.md`.
    pub fn write(&self, dir: &Path) -> Result<(PathBuf, String), HarnessError> {
        let header = machine_header(self.mode);
        let markdown = report::write_report(dir, &header, &self.records)?;
        Ok((dir.join("report.md"), markdown))
    }
}

/// Describes this machine and build for the report header. Missing facts read `unknown`.
pub fn machine_header(mode: Mode) -> Header {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let command = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    };
    Header {
        kind: "header".into(),
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu_model,
        rustc: command("rustc", &["--version"]),
        git_commit: command("git", &["rev-parse", "--short", "HEAD"]),
        date: command("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        mode: mode.name().into(),
    }
}
