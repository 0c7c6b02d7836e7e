//! Long concurrent runs of every crate with integrity checks and a deadlock watchdog
//! (see `cargo xtask stress`).

use std::process::ExitCode;
use std::time::Duration;

use benches::{StressContext, CRATES};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(about = "Runs every crate's stress test under a deadlock watchdog")]
struct Args {
    /// Total time, split evenly over the selected crates: `90s`, `10m`, `1h` or seconds.
    #[arg(long, default_value = "60s")]
    duration: String,
    /// Worker threads per crate.
    #[arg(long, default_value_t = 8)]
    threads: usize,
    /// Only these crates (repeatable).
    #[arg(long = "crate")]
    crates: Vec<String>,
    /// Seed of every random choice; printed so a failure can be replayed.
    #[arg(long)]
    seed: Option<u64>,
    /// Seconds without progress after which the run is declared deadlocked.
    #[arg(long, default_value_t = 60)]
    watchdog: u64,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let value: u64 = number
        .parse()
        .map_err(|_| format!("bad duration `{text}`: expected e.g. 60s, 10m, 1h"))?;
    let seconds = match unit {
        "" | "s" => value,
        "m" => value * 60,
        "h" => value * 3600,
        _ => return Err(format!("bad duration unit in `{text}`: use s, m or h")),
    };
    Ok(Duration::from_secs(seconds))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let duration = match parse_duration(&args.duration) {
        Ok(d) => d,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    for name in &args.crates {
        if !CRATES.iter().any(|c| c.name == name) {
            let known: Vec<&str> = CRATES.iter().map(|c| c.name).collect();
            eprintln!(
                "error: unknown crate `{name}`: expected one of {}",
                known.join(", ")
            );
            return ExitCode::FAILURE;
        }
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let selected: Vec<_> = CRATES
        .iter()
        .filter(|c| args.crates.is_empty() || args.crates.iter().any(|n| n == c.name))
        .collect();
    let share = duration / selected.len().max(1) as u32;
    println!(
        "stress: seed {seed} (replay with --seed {seed}), {} threads, {:?} per crate",
        args.threads, share
    );
    let mut failures = Vec::new();
    for entry in selected {
        let ctx = StressContext::new(share, args.threads, seed);
        let bar = ProgressBar::new(share.as_secs().max(1));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len}s {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(entry.name);
        let outcome = std::thread::scope(|scope| {
            let worker = scope.spawn(|| (entry.stress)(&ctx));
            let mut last_beats = 0;
            let mut quiet_since = std::time::Instant::now();
            while !worker.is_finished() {
                std::thread::sleep(Duration::from_millis(100));
                let beats = ctx.beats();
                if beats != last_beats {
                    last_beats = beats;
                    quiet_since = std::time::Instant::now();
                }
                bar.set_position(ctx.elapsed().as_secs().min(share.as_secs()));
                bar.set_message(format!("{beats} ops"));
                if quiet_since.elapsed() > Duration::from_secs(args.watchdog) {
                    bar.abandon();
                    eprintln!(
                        "FAIL {}: no progress for {}s after {beats} ops: deadlock suspected (seed {seed})",
                        entry.name, args.watchdog
                    );
                    // The stuck threads cannot be joined; leave with the verdict.
                    std::process::exit(3);
                }
            }
            match worker.join() {
                Ok(result) => result,
                Err(_) => Err("a stress thread panicked".to_string()),
            }
        });
        bar.finish_and_clear();
        match outcome {
            Ok(summary) => println!("ok   {:<12} {summary}", entry.name),
            Err(why) => {
                println!("FAIL {:<12} {why} (seed {seed})", entry.name);
                failures.push(entry.name);
            }
        }
    }
    if failures.is_empty() {
        println!("stress: all passed");
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "stress: {} crate(s) failed: {} (replay with --seed {seed})",
            failures.len(),
            failures.join(", ")
        );
        ExitCode::FAILURE
    }
}
