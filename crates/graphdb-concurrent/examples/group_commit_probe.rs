//! Commits per second (`SyncMode::Full` unless `GRAPHDB_PROBE_SYNC` says otherwise) for
//! one variant and thread count, with the
//! database in a temporary directory (or `GRAPHDB_PROBE_DIR`): a quick way to look at
//! group commit outside the benchmark harness.
//!
//! `cargo run --release -p graphdb-concurrent --example group_commit_probe -- lockfree 20 2`
//! (variant, threads, seconds).

use std::time::{Duration, Instant};

use graphdb_concurrent::{ConcurrentGraphDB, Variant};
use graphdb_core::{Config, Node, SyncMode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let variant = match args.get(1).map(String::as_str) {
        Some("mutex") => Variant::Mutex,
        Some("rwlock") => Variant::RwLock,
        _ => Variant::LockFreeReads,
    };
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2);
    let dir = match std::env::var_os("GRAPHDB_PROBE_DIR") {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    // `GRAPHDB_PROBE_SYNC=off` or `batched` measures the other sync modes.
    let sync_mode = match std::env::var("GRAPHDB_PROBE_SYNC").as_deref() {
        Ok("off") => SyncMode::Off,
        Ok("batched") => SyncMode::Batched { commits: 32 },
        _ => SyncMode::Full,
    };
    let config = Config {
        sync_mode,
        ..Config::default()
    };
    let db = ConcurrentGraphDB::create(dir.path().join("g.db"), config, variant)?;
    let end = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let db = db.clone();
                s.spawn(move || -> u64 {
                    let mut n = 0u64;
                    while Instant::now() < end {
                        let Ok(mut tx) = db.begin_transaction() else {
                            break;
                        };
                        let node = Node::new()
                            .with_label("Person")
                            .with_property("t", t as i64);
                        if tx.add_node(node).is_err() || tx.commit().is_err() {
                            break;
                        }
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!(
        "{} {threads} threads: {total} commits, {rate:.0} commits/s",
        variant.name()
    );
    db.close()?;
    Ok(())
}
