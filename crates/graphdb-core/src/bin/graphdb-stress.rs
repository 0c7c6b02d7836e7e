//! `graphdb-stress`: the outside crash and corruption harness, run by `cargo xtask stress
//! --crate graphdb` (minutes) and by the crate's tests (a few cycles).
//!
//! - `crash`: a child process commits batches through the public API and prints `ACK n`
//!   after each commit returns; the parent kills it with SIGKILL at a random moment,
//!   reopens the database and verifies that every acknowledged batch is there, whole,
//!   and nothing that was never committed; then the next cycle continues on the same
//!   files.
//! - `corrupt`: builds a database whose newest commits live in the log, then damages a
//!   copy at random (byte flips, truncations, zeroed blocks, in the main file or the log)
//!   and classifies what opening and reading it gives: a clean error, a recovered
//!   committed state, or wrong data (a failure).
//!
//! Every run prints its seed; `--seed` replays it. Exit 0 when no acknowledged commit was
//! lost and no wrong data was read, 1 otherwise, 2 for a wrong command line.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use graphdb_core::{Config, Edge, GraphDB, Node, PropertyValue, SyncMode};

#[derive(Parser)]
#[command(
    name = "graphdb-stress",
    version,
    about = "Crash and corruption harness for graphdb-core"
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Kill a committing child process at random moments and verify every acknowledged
    /// commit.
    Crash {
        /// Kill-and-verify cycles (ignored when --duration is given).
        #[arg(long, default_value_t = 20)]
        cycles: u64,
        /// Run for this long instead (e.g. 90s, 3m).
        #[arg(long)]
        duration: Option<String>,
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Damage copies of a database at random and classify what reading them gives.
    Corrupt {
        /// Damaged copies to try (ignored when --duration is given).
        #[arg(long, default_value_t = 200)]
        cases: u64,
        #[arg(long)]
        duration: Option<String>,
        #[arg(long)]
        seed: Option<u64>,
    },
    /// The child side of `crash` (not for direct use).
    #[command(hide = true)]
    Child { db: PathBuf, seed: u64 },
}

/// Nodes per batch; the first carries a payload large enough to need overflow pages.
const PER_BATCH: usize = 3;

/// A small deterministic generator (xorshift64*), so a seed replays a run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (num, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = num.parse().map_err(|_| format!("bad duration `{text}`"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("bad duration unit in `{text}` (s, m, h)")),
    };
    Ok(Duration::from_secs(secs))
}

fn seed_of(seed: Option<u64>) -> u64 {
    seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    })
}

fn config() -> Config {
    Config {
        sync_mode: SyncMode::Full,
        // Small, so that kills land in checkpoints too (format 4 counts the log's size in
        // page frames or the page images it holds: this is every few batches).
        checkpoint_after_frames: 6,
        page_cache_pages: 16,
        ..Config::default()
    }
}

/// The counter's value; the inner error is wrong data, the outer one a read that failed.
fn counter(db: &GraphDB) -> graphdb_core::Result<Result<i64, String>> {
    Ok(match db.get_node(1)? {
        None => Ok(0),
        Some(n) => match n.properties.get("last") {
            Some(PropertyValue::Int(i)) => Ok(*i),
            other => Err(format!("counter node without a value: {other:?}")),
        },
    })
}

/// Commits one batch: `PER_BATCH` items in a chain and the counter moved to `batch`.
fn commit_batch(db: &mut GraphDB, batch: i64) -> graphdb_core::Result<()> {
    let mut tx = db.begin_write_txn()?;
    if batch == 1 {
        tx.add_node(
            Node::new()
                .with_label("Counter")
                .with_property("last", 0i64),
        )?;
    }
    let mut ids = Vec::new();
    for i in 0..PER_BATCH {
        let payload = vec![batch as u8; if i == 0 { 9000 } else { 10 }];
        ids.push(
            tx.add_node(
                Node::new()
                    .with_label("Item")
                    .with_property("batch", batch)
                    .with_property("payload", payload),
            )?,
        );
    }
    for w in ids.windows(2) {
        tx.add_edge(Edge::new(w[0], w[1], "NEXT").with_property("batch", batch))?;
    }
    tx.update_node(
        1,
        Node::new()
            .with_label("Counter")
            .with_property("last", batch),
    )?;
    tx.commit()?;
    Ok(())
}

/// Reads the whole database and returns the batch it holds, or why it is not a state
/// any sequence of whole commits could produce (wrong data).
fn verify(db: &GraphDB) -> Result<Result<i64, String>, graphdb_core::GraphError> {
    let last = match counter(db)? {
        Ok(l) => l,
        Err(e) => return Ok(Err(e)),
    };
    let snap = db.snapshot();
    let nodes = snap.all_nodes()?;
    let mut per_batch = std::collections::BTreeMap::<i64, usize>::new();
    for n in &nodes {
        if n.id == 1 {
            continue;
        }
        let Some(PropertyValue::Int(b)) = n.properties.get("batch") else {
            return Ok(Err(format!("node {} without a batch", n.id)));
        };
        let want = vec![
            *b as u8;
            if per_batch.get(b).copied().unwrap_or(0) == 0 {
                9000
            } else {
                10
            }
        ];
        match n.properties.get("payload") {
            Some(PropertyValue::Bytes(p))
                if p.len() == want.len() && p.iter().all(|x| *x == *b as u8) => {}
            _ => return Ok(Err(format!("node {} has a wrong payload", n.id))),
        }
        *per_batch.entry(*b).or_default() += 1;
    }
    let edges = snap.all_edges()?;
    if edges.len() != per_batch.len() * (PER_BATCH - 1) {
        return Ok(Err(format!(
            "{} edges for {} batches",
            edges.len(),
            per_batch.len()
        )));
    }
    let want: Vec<i64> = (1..=last).collect();
    let got: Vec<i64> = per_batch.keys().copied().collect();
    if got != want || per_batch.values().any(|n| *n != PER_BATCH) {
        return Ok(Err(format!("counter {last} but batches {per_batch:?}")));
    }
    Ok(Ok(last))
}

fn child(path: &Path, seed: u64) -> Result<(), String> {
    let mut db = GraphDB::open(
        path,
        Config {
            create_if_missing: true,
            ..config()
        },
    )
    .map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let start = counter(&db).map_err(|e| e.to_string())??;
    let mut rng = Rng::new(seed);
    for batch in start + 1.. {
        commit_batch(&mut db, batch).map_err(|e| e.to_string())?;
        if rng.below(50) == 0 {
            let _ = db.checkpoint();
        }
        writeln!(out, "ACK {batch}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn crash(cycles: u64, duration: Option<Duration>, seed: u64) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!(
        "graphdb-stress-crash-{}-{seed}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("crash.db");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut rng = Rng::new(seed);
    let deadline = duration.map(|d| Instant::now() + d);
    // Commits acknowledged to the parent over all cycles, and the failures found.
    let (mut done, mut acks, mut lost) = (0u64, 0u64, Vec::new());
    // The batch the database held at the last verification.
    let mut floor = 0i64;
    loop {
        match deadline {
            Some(d) if Instant::now() >= d => break,
            None if done >= cycles => break,
            _ => {}
        }
        let mut child = Command::new(&exe)
            .args([
                "child",
                &path.display().to_string(),
                &rng.next().to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the child: {e}"))?;
        let stdout = child.stdout.take().ok_or("no child stdout")?;
        // Kill after a random number of acknowledgements plus a random delay, so kills
        // land anywhere in a commit, a checkpoint or recovery itself.
        let acks_before_kill = rng.below(40);
        let delay = Duration::from_micros(rng.below(3000));
        let (tx, rx) = std::sync::mpsc::channel::<i64>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ACK ").and_then(|n| n.parse().ok()) {
                    if tx.send(n).is_err() {
                        break;
                    }
                }
            }
        });
        let mut acked = 0i64;
        let mut seen = 0u64;
        let wait_until = Instant::now() + Duration::from_secs(20);
        while seen < acks_before_kill && Instant::now() < wait_until {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(n) => {
                    acked = n;
                    seen += 1;
                    acks += 1;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(format!("the child exited by itself ({status})"));
                    }
                }
                Err(_) => break,
            }
        }
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let _ = reader.join();
        while let Ok(n) = rx.try_recv() {
            acked = acked.max(n);
            acks += 1;
        }
        // What earlier cycles verified stays acknowledged.
        acked = acked.max(floor);
        let db = GraphDB::open(&path, config())
            .map_err(|e| format!("cycle {done}: reopen failed: {e}"))?;
        match verify(&db) {
            Ok(Ok(last)) if last >= acked && last <= acked + 1 => floor = last,
            Ok(Ok(last)) => lost.push(format!("cycle {done}: acknowledged {acked}, found {last}")),
            Ok(Err(wrong)) => lost.push(format!("cycle {done}: wrong data: {wrong}")),
            Err(e) => lost.push(format!("cycle {done}: read failed: {e}")),
        }
        let report = db.check().map_err(|e| e.to_string())?;
        if !report.is_ok() {
            lost.push(format!("cycle {done}: check: {:?}", report.problems));
        }
        drop(db);
        done += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let line = format!(
        "crash: {done} kills, {acks} acknowledged commits, {} lost or wrong (seed {seed})",
        lost.len()
    );
    if lost.is_empty() {
        Ok(line)
    } else {
        Err(format!("{line}\n{}", lost.join("\n")))
    }
}

/// Builds the corruption base: 60 batches, the first 40 checkpointed into the main file,
/// the rest only in the log. Returns the two files' bytes.
fn corruption_base(dir: &Path) -> Result<(Vec<u8>, Vec<u8>), String> {
    let path = dir.join("base.db");
    let err = |e: graphdb_core::GraphError| e.to_string();
    let mut db = GraphDB::create(
        &path,
        Config {
            checkpoint_after_frames: 1_000_000,
            ..config()
        },
    )
    .map_err(err)?;
    for batch in 1..=60 {
        commit_batch(&mut db, batch).map_err(err)?;
        if batch == 40 {
            db.checkpoint().map_err(err)?;
        }
    }
    drop(db);
    let main = std::fs::read(&path).map_err(|e| e.to_string())?;
    let log = std::fs::read(graphdb_core::wal_path(&path)).map_err(|e| e.to_string())?;
    Ok((main, log))
}

#[derive(Default)]
struct Tally {
    clean_error: u64,
    recovered: u64,
    reported_loss: u64,
    wrong: Vec<String>,
}

fn damage(rng: &mut Rng, bytes: &mut Vec<u8>, limit: usize) -> String {
    let len = bytes.len().min(limit.max(1));
    if len == 0 {
        return "nothing to damage".into();
    }
    match rng.below(3) {
        0 => {
            let flips = 1 + rng.below(3);
            let mut at = Vec::new();
            for _ in 0..flips {
                let i = rng.below(len as u64) as usize;
                bytes[i] ^= 1 << rng.below(8);
                at.push(i);
            }
            format!("bit flips at {at:?}")
        }
        1 => {
            let cut = rng.below(len as u64) as usize;
            bytes.truncate(cut);
            format!("truncated to {cut}")
        }
        _ => {
            let start = rng.below(len as u64) as usize;
            let n = (1 + rng.below(4096) as usize).min(bytes.len() - start);
            bytes[start..start + n].fill(0);
            format!("{n} bytes zeroed at {start}")
        }
    }
}

fn corrupt(cases: u64, duration: Option<Duration>, seed: u64) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!(
        "graphdb-stress-corrupt-{}-{seed}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (main, log) = corruption_base(&dir)?;
    // Damage inside the used part of the log, not its preallocated zeros.
    let log_used = {
        let mut end = log.len();
        while end > 0 && log[end - 1] == 0 {
            end -= 1;
        }
        end
    };
    let mut rng = Rng::new(seed);
    let deadline = duration.map(|d| Instant::now() + d);
    let mut tally = Tally::default();
    let mut done = 0u64;
    let path = dir.join("case.db");
    loop {
        match deadline {
            Some(d) if Instant::now() >= d => break,
            None if done >= cases => break,
            _ => {}
        }
        let (mut m, mut l) = (main.clone(), log.clone());
        let what = if rng.below(2) == 0 {
            format!("main file: {}", damage(&mut rng, &mut m, usize::MAX))
        } else {
            format!("log: {}", damage(&mut rng, &mut l, log_used))
        };
        std::fs::write(&path, &m).map_err(|e| e.to_string())?;
        std::fs::write(graphdb_core::wal_path(&path), &l).map_err(|e| e.to_string())?;
        done += 1;
        let db = match GraphDB::open(&path, config()) {
            Ok(db) => db,
            Err(_) => {
                tally.clean_error += 1;
                continue;
            }
        };
        let lost = db.recovery_report().lost_committed_data();
        match verify(&db) {
            Err(_) => tally.clean_error += 1,
            Ok(Err(wrong)) => tally.wrong.push(format!("case {done} ({what}): {wrong}")),
            Ok(Ok(last)) => {
                // A state some prefix of the commits produced. Dropped commits must be
                // reported, by the recovery report and by `check`.
                let check_ok = db.check().map(|r| r.is_ok()).unwrap_or(false);
                if last < 60 && !lost && check_ok && what.starts_with("main") {
                    tally.wrong.push(format!(
                        "case {done} ({what}): batches after {last} vanished without a report"
                    ));
                } else if lost {
                    if check_ok {
                        tally.wrong.push(format!(
                            "case {done} ({what}): check ok after dropping commits"
                        ));
                    }
                    tally.reported_loss += 1;
                } else {
                    tally.recovered += 1;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let line = format!(
        "corrupt: {done} cases: {} clean errors, {} recovered to a committed state, {} recovered \
         with dropped commits reported, {} wrong data (seed {seed})",
        tally.clean_error,
        tally.recovered,
        tally.reported_loss,
        tally.wrong.len()
    );
    if tally.wrong.is_empty() {
        Ok(line)
    } else {
        Err(format!("{line}\n{}", tally.wrong.join("\n")))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let duration = |d: &Option<String>| d.as_deref().map(parse_duration).transpose();
    let result = match cli.mode {
        Mode::Child { db, seed } => match child(&db, seed) {
            Ok(()) => return ExitCode::SUCCESS,
            Err(e) => Err(e),
        },
        Mode::Crash {
            cycles,
            duration: d,
            seed,
        } => match duration(&d) {
            Err(e) => {
                eprintln!("graphdb-stress: {e}");
                return ExitCode::from(2);
            }
            Ok(d) => {
                let seed = seed_of(seed);
                eprintln!("graphdb-stress: crash mode, seed {seed}");
                crash(cycles, d, seed)
            }
        },
        Mode::Corrupt {
            cases,
            duration: d,
            seed,
        } => match duration(&d) {
            Err(e) => {
                eprintln!("graphdb-stress: {e}");
                return ExitCode::from(2);
            }
            Ok(d) => {
                let seed = seed_of(seed);
                eprintln!("graphdb-stress: corruption mode, seed {seed}");
                corrupt(cases, d, seed)
            }
        },
    };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("graphdb-stress: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
