//! The `config-eval` command: type-check or evaluate a configuration file.
//!
//! Results go to standard output, errors and statistics to standard error. Exit
//! codes: 0 success (also when standard output is closed early, as by `| head`), 1 a
//! fault in the program or its files (syntax, type, import, evaluation, a limit, an
//! unreadable file), 2 a usage error (bad arguments or settings).
//!
//! Every limit of [`Config`] is on by default and has a flag. `--timeout` covers the
//! whole run: reading, parsing, type checking, evaluation and writing the result. The
//! engine stops cooperatively when its own share of the time is spent (and says
//! where); a watchdog on the main thread ends the process in any case.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
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
    /// Check and evaluate in parallel (programs below --parallel-threshold still run
    /// sequentially).
    #[arg(long)]
    parallel: bool,
    /// Worker threads (0: one per CPU); 1 forces the sequential path.
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// With --parallel, programs with fewer top-level declarations than this run
    /// sequentially; 0 always takes the parallel path.
    #[arg(long, default_value_t = Config::default().parallel_threshold)]
    parallel_threshold: usize,
    /// Stop after this long, covering reading, parsing, type checking, evaluation and
    /// output, e.g. `30s`, `500ms`, `2m`; `none` turns it off.
    #[arg(long, value_parser = parse_timeout, default_value = "60s")]
    timeout: Timeout,
    /// Stop after this many evaluation steps.
    #[arg(long, default_value_t = Config::default().max_steps)]
    max_steps: u64,
    /// Deepest nesting of evaluations (recursion).
    #[arg(long, default_value_t = Config::default().max_depth)]
    max_depth: usize,
    /// Largest string (bytes) or list (elements) evaluation may build; also the most
    /// JSON values in the output (and 16 times that many bytes of text output).
    #[arg(long, default_value_t = Config::default().max_value_size)]
    max_value_size: usize,
    /// Largest module file read, in bytes.
    #[arg(long, default_value_t = Config::default().max_input_size)]
    max_input_size: u64,
    /// Most type-checking steps per module.
    #[arg(long, default_value_t = Config::default().max_check_steps)]
    max_check_steps: u64,
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

/// A `--timeout` value: a duration, or none.
#[derive(Clone, Copy)]
struct Timeout(Option<Duration>);

fn parse_timeout(s: &str) -> Result<Timeout, String> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(Timeout(None));
    }
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err("a timeout of 0 would stop everything; use `none` to turn it off".into());
    }
    Ok(Timeout(Some(d)))
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

/// The output is bounded by `--max-value-size` too: at most that many JSON values,
/// or this many times that many bytes of text.
const TEXT_BYTES_PER_VALUE: usize = 16;

/// A string that refuses to grow past `limit` bytes.
struct Bounded {
    text: String,
    limit: usize,
}

impl std::fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.text.len() + s.len() > self.limit {
            return Err(std::fmt::Error);
        }
        self.text.push_str(s);
        Ok(())
    }
}

/// Why a run did not succeed.
enum Failure {
    /// Bad settings: exit 2.
    Usage(String),
    /// The work failed: exit 1.
    Work(String),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are "errors" with exit code 0; printing them
            // to a closed stdout is not worth a panic.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let (opts, evaluate) = match cli.command {
        Command::Eval(o) => (o, true),
        Command::Typecheck(o) => (o, false),
    };
    let timeout = opts.timeout.0;
    let file = opts.file.display().to_string();
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name("config-eval-main".into())
        .stack_size(64 << 20)
        .spawn(move || {
            // The receiver is gone only when the watchdog has already ended the run.
            let _ = tx.send(run(&opts, evaluate));
        });
    if let Err(e) = worker {
        return fail(Failure::Work(format!("cannot start a thread: {e}")));
    }
    let outcome = match timeout {
        Some(t) => match rx.recv_timeout(t) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Failure::Work(
                Error::Timeout {
                    after_ms: t.as_millis().min(u64::MAX as u128) as u64,
                    file,
                    phase: "running".into(),
                }
                .to_string(),
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Failure::Work(
                "the worker thread stopped unexpectedly".into(),
            )),
        },
        None => rx.recv().unwrap_or_else(|_| {
            Err(Failure::Work(
                "the worker thread stopped unexpectedly".into(),
            ))
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => fail(f),
    }
}

fn fail(f: Failure) -> ExitCode {
    let (msg, code) = match f {
        Failure::Usage(m) => (m, 2),
        Failure::Work(m) => (m, 1),
    };
    // Nothing more can be done if standard error is closed too.
    let _ = writeln!(std::io::stderr(), "error: {msg}");
    ExitCode::from(code)
}

/// The message of an engine error; errors that carry no file name get `file`'s.
fn describe(e: &Error, file: &Path) -> Failure {
    match e {
        Error::Config(m) => Failure::Usage(m.clone()),
        Error::Serialise { .. }
        | Error::TaskFailed { .. }
        | Error::UnknownDependency { .. }
        | Error::QueueClosed => Failure::Work(format!("{}: {e}", file.display())),
        _ => Failure::Work(e.to_string()),
    }
}

/// Writes `text` and a newline to standard output; a closed pipe is not an error
/// (the reader has what it wanted).
fn emit(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Work(format!("cannot write the result: {e}"))),
    }
}

fn run(opts: &Options, evaluate: bool) -> Result<(), Failure> {
    let err = |e: Error| describe(&e, &opts.file);
    let config = Config {
        parallel: opts.parallel,
        worker_threads: opts.workers,
        cache_size: opts.cache_size,
        timeout: opts.timeout.0,
        max_steps: opts.max_steps,
        max_depth: opts.max_depth,
        max_check_steps: opts.max_check_steps,
        max_value_size: opts.max_value_size,
        max_input_size: opts.max_input_size,
        parallel_threshold: opts.parallel_threshold,
    };
    let started = Instant::now();
    let engine = Engine::new(config).map_err(err)?;
    let program = engine.load(&opts.file).map_err(err)?;
    let strategy = engine.strategy_for(&program);
    if evaluate {
        let value = engine.eval(&program).map_err(err)?;
        let text = match opts.format {
            Format::Json => {
                let json = value
                    .to_json_within(opts.max_value_size as u64)
                    .map_err(err)?;
                serde_json::to_string_pretty(&json).map_err(|e| {
                    err(Error::Serialise {
                        message: e.to_string(),
                    })
                })?
            }
            Format::Text => {
                let limit = opts.max_value_size.saturating_mul(TEXT_BYTES_PER_VALUE);
                let mut out = Bounded {
                    text: String::new(),
                    limit,
                };
                if std::fmt::Write::write_fmt(&mut out, format_args!("{value}")).is_err() {
                    return Err(err(Error::Serialise {
                        message: format!(
                            "the result's text is longer than {limit} bytes (parts it \
                             shares in memory are repeated in text)"
                        ),
                    }));
                }
                out.text
            }
        };
        emit(&text)?;
    } else {
        engine.typecheck(&program).map_err(err)?;
        let text = match opts.format {
            Format::Json => serde_json::json!({
                "ok": true,
                "modules": program.module_count(),
                "declarations": program.declaration_count(),
            })
            .to_string(),
            Format::Text => format!(
                "ok: {} module(s), {} declaration(s)",
                program.module_count(),
                program.declaration_count()
            ),
        };
        emit(&text)?;
    }
    if opts.stats {
        let s = engine.stats();
        let c = s.cache.total();
        let _ = writeln!(
            std::io::stderr(),
            "stats: {} module(s), {} declaration(s), strategy {}, {} worker(s), {} step(s), {:.3} ms\ncache: {} hit(s), {} miss(es), {} insert(s), {} eviction(s)",
            program.module_count(),
            program.declaration_count(),
            match strategy {
                Strategy::Sequential => "sequential",
                Strategy::Parallel => "parallel",
            },
            engine.workers(),
            s.last_steps,
            started.elapsed().as_secs_f64() * 1000.0,
            c.hits,
            c.misses,
            c.inserts,
            c.evictions
        );
    }
    Ok(())
}
