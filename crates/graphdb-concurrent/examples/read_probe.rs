//! Read transactions per second (begin_read, get_node of a random node, commit) for one
//! variant and thread count over 10,000 cached nodes: a quick look at the read path
//! outside the benchmark harness.
//!
//! `cargo run --release -p graphdb-concurrent --example read_probe -- rwlock 50 1`
//! (variant, threads, seconds).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use graphdb_concurrent::{ConcurrentGraphDB, Variant};
use graphdb_core::{Config, Node, SyncMode};

const NODES: u64 = 10_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let variant = match args.get(1).map(String::as_str) {
        Some("mutex") => Variant::Mutex,
        Some("rwlock") => Variant::RwLock,
        _ => Variant::LockFreeReads,
    };
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let secs: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let dir = tempfile::tempdir()?;
    let config = Config {
        sync_mode: SyncMode::Off,
        ..Config::default()
    };
    let db = ConcurrentGraphDB::create(dir.path().join("g.db"), config, variant)?;
    let mut tx = db.begin_transaction()?;
    for i in 0..NODES {
        let node = Node::new()
            .with_label("Person")
            .with_property("name", format!("person-{i}"))
            .with_property("age", (i % 90) as i64);
        tx.add_node(node)?;
    }
    tx.commit()?;
    let warm = db.begin_read()?;
    for id in 1..=NODES {
        black_box(warm.get_node(id)?);
    }
    warm.commit()?;
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (db, stop) = (&db, &stop);
                s.spawn(move || -> u64 {
                    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64) << 32;
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let Ok(tx) = db.begin_read() else { break };
                        if tx.get_node(1 + x % NODES).map(black_box).is_err() {
                            break;
                        }
                        let _ = tx.commit();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!("{} {threads} threads: {rate:.0} reads/s", variant.name());
    db.close()?;
    Ok(())
}
