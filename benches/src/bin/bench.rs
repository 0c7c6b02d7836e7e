//! Runs the selected crates' benchmarks and writes the report (see `cargo xtask bench`).

use std::path::PathBuf;
use std::process::ExitCode;

use bench_harness::{report, Mode, Suite, DEFAULT_THREADS};
use benches::CRATES;
use clap::Parser;

#[derive(Parser)]
#[command(
    about = "Runs the workspace benchmarks and writes results.jsonl, report.md and SVG charts"
)]
struct Args {
    /// smoke (CI: tiny, once), quick (a few minutes) or full.
    #[arg(long, default_value = "full")]
    mode: String,
    /// Thread counts to sweep, comma separated.
    #[arg(long, value_delimiter = ',')]
    threads: Vec<usize>,
    /// Only these crates (repeatable).
    #[arg(long = "crate")]
    crates: Vec<String>,
    /// Where the report goes.
    #[arg(long, default_value = "target/bench-report")]
    out: PathBuf,
    /// An earlier results.jsonl to compare against.
    #[arg(long)]
    compare: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<ExitCode, String> {
    let mode = match args.mode.as_str() {
        "smoke" => Mode::Smoke,
        "quick" => Mode::Quick,
        "full" => Mode::Full,
        other => {
            return Err(format!(
                "unknown mode `{other}`: expected smoke, quick or full"
            ))
        }
    };
    if args.threads.contains(&0) {
        return Err("--threads: a thread count must be at least 1".into());
    }
    for name in &args.crates {
        if !CRATES.iter().any(|c| c.name == name) {
            let known: Vec<&str> = CRATES.iter().map(|c| c.name).collect();
            return Err(format!(
                "unknown crate `{name}`: expected one of {}",
                known.join(", ")
            ));
        }
    }
    let old = match &args.compare {
        Some(path) => Some(report::read_jsonl(path).map_err(|e| e.to_string())?),
        None => None,
    };
    let threads = if !args.threads.is_empty() {
        args.threads.clone()
    } else if mode == Mode::Smoke {
        vec![1, 2]
    } else {
        DEFAULT_THREADS.to_vec()
    };
    let mut suite = Suite::new(mode, threads);
    let selected: Vec<_> = CRATES
        .iter()
        .filter(|c| args.crates.is_empty() || args.crates.iter().any(|n| n == c.name))
        .collect();
    for (index, entry) in selected.iter().enumerate() {
        eprintln!(
            "== [{}/{}] {} ({} mode)",
            index + 1,
            selected.len(),
            entry.name,
            mode.name()
        );
        (entry.bench)(&mut suite);
    }
    let (path, markdown) = suite.write(&args.out).map_err(|e| e.to_string())?;
    println!("{markdown}");
    println!("Report: {}", path.display());
    println!("Charts and results.jsonl: {}", args.out.display());
    if let Some(old) = old {
        let (table, regressions) = report::render_comparison(&old, suite.records());
        println!(
            "\n## Against {}\n\n{table}",
            args.compare
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        let path = args.out.join("compare.md");
        std::fs::write(&path, &table).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("{regressions} point(s) dropped beyond the min-max noise.");
    }
    Ok(ExitCode::SUCCESS)
}
