//! The `config-eval` command: type-check or evaluate a configuration file.
//!
//! Exit codes: 0 success, 1 a fault in the program (syntax, type, import, evaluation,
//! timeout, unreadable file), 2 a usage error (clap's own code for bad arguments).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use config_eval::{Config, Engine, Error, Strategy};

#[derive(Parser)]
#[command(
    name = "config-eval",
    version,
    about = "Type-check and evaluate typed configuration files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Type-check FILE and its imports, then evaluate it and print the result.
    Eval(Options),
    /// Type-check FILE and its imports.
    Typecheck(Options),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Text,
}

#[derive(Args)]
struct Options {
    /// The root module; imports resolve under its directory.
    file: PathBuf,
    /// Check and evaluate in parallel (small programs still run sequentially).
    #[arg(long)]
    parallel: bool,
    /// Worker threads (0: one per CPU); 1 forces the sequential path.
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Stop evaluating after this long, e.g. `30s`, `500ms`, `2m`.
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Stop after this many evaluation steps.
    #[arg(long)]
    max_steps: Option<u64>,
    /// Deepest nesting of evaluations (recursion).
    #[arg(long)]
    max_depth: Option<usize>,
    /// Entries per cache tier; 0 turns caching off.
    #[arg(long, default_value_t = 4096)]
    cache_size: usize,
    /// Print timing, strategy and cache statistics to standard error.
    #[arg(long)]
    stats: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 30s, 500ms or 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit `{unit}` (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (opts, evaluate) = match cli.command {
        Command::Eval(o) => (o, true),
        Command::Typecheck(o) => (o, false),
    };
    match run(&opts, evaluate) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Config(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(opts: &Options, evaluate: bool) -> Result<(), Error> {
    let defaults = Config::default();
    let config = Config {
        parallel: opts.parallel,
        worker_threads: opts.workers,
        cache_size: opts.cache_size,
        timeout: opts.timeout,
        max_steps: opts.max_steps.unwrap_or(defaults.max_steps),
        max_depth: opts.max_depth.unwrap_or(defaults.max_depth),
        ..defaults
    };
    let started = Instant::now();
    let engine = Engine::new(config)?;
    let program = engine.load(&opts.file)?;
    let strategy = engine.strategy_for(&program);
    if evaluate {
        let value = engine.eval(&program)?;
        match opts.format {
            Format::Json => {
                let json = value.to_json()?;
                let text = serde_json::to_string_pretty(&json).map_err(|e| Error::Serialise {
                    message: e.to_string(),
                })?;
                println!("{text}");
            }
            Format::Text => println!("{value}"),
        }
    } else {
        engine.typecheck(&program)?;
        match opts.format {
            Format::Json => println!(
                "{{\"ok\":true,\"modules\":{},\"declarations\":{}}}",
                program.module_count(),
                program.declaration_count()
            ),
            Format::Text => println!(
                "ok: {} module(s), {} declaration(s)",
                program.module_count(),
                program.declaration_count()
            ),
        }
    }
    if opts.stats {
        let s = engine.stats();
        let c = s.cache.total();
        eprintln!(
            "stats: {} module(s), {} declaration(s), strategy {}, {} worker(s), {} step(s), {:.3} ms",
            program.module_count(),
            program.declaration_count(),
            match strategy {
                Strategy::Sequential => "sequential",
                Strategy::Parallel => "parallel",
            },
            engine.workers(),
            s.last_steps,
            started.elapsed().as_secs_f64() * 1000.0
        );
        eprintln!(
            "cache: {} hit(s), {} miss(es), {} insert(s), {} eviction(s)",
            c.hits, c.misses, c.inserts, c.evictions
        );
    }
    Ok(())
}
