//! `metta-run`: runs `.metta` files and checks their assertions.
//!
//! The results of each `!` form go to stdout, one line per form (`[r1, r2]`, as the
//! reference interpreter prints them; `--locations` prefixes `FILE:LINE: `). Warnings
//! (a `!` call of an unknown name, once per name), failed assertions, errors and the
//! closing `N passed, N failed` line go to stderr. Exit
//! status: 0 when every assertion passed and nothing failed, 1 when an assertion failed
//! or a file could not be read, parsed or evaluated, 2 on a usage error. A closed stdout
//! (`metta-run f.metta | head -1`) ends the run quietly with status 0.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use cow_env::{run_file, Environment, MutexEnvironment, RunReport, RwLockEnvironment};

/// Runs MeTTa programs (`.metta` files) on the copy-on-write rule environment.
#[derive(Debug, Parser)]
#[command(name = "metta-run", version, about, long_about = None)]
struct Args {
    /// Which environment implementation holds the rules.
    #[arg(long, value_enum, default_value_t = EnvKind::Cow)]
    env: EnvKind,
    /// Prefix each result line with `FILE:LINE: `.
    #[arg(short, long)]
    locations: bool,
    /// Print no summary line.
    #[arg(short, long)]
    quiet: bool,
    /// The `.metta` files, run one after the other, each in a fresh environment.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EnvKind {
    /// The copy-on-write `Environment` (default backend).
    Cow,
    /// The `Environment` on the `pathmap` crate (built with the `pathmap` feature).
    #[cfg(feature = "pathmap")]
    CowPathmap,
    /// The seed's lock-per-field design with mutexes.
    Mutex,
    /// The seed's lock-per-field design with reader-writer locks.
    Rwlock,
}

type Runner = fn(&Path) -> Result<RunReport, cow_env::Error>;

fn runner(kind: EnvKind) -> Runner {
    match kind {
        EnvKind::Cow => run_file::<Environment>,
        #[cfg(feature = "pathmap")]
        EnvKind::CowPathmap => run_file::<Environment<cow_env::PathMapTrie>>,
        EnvKind::Mutex => run_file::<MutexEnvironment>,
        EnvKind::Rwlock => run_file::<RwLockEnvironment>,
    }
}

/// Passed and failed counts over all files.
#[derive(Debug, Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

fn run(args: &Args, out: &mut impl Write) -> io::Result<Tally> {
    let run = runner(args.env);
    let mut tally = Tally::default();
    for file in &args.files {
        match run(file) {
            Ok(report) => {
                for (line, results) in &report.outputs {
                    let shown: Vec<String> = results.iter().map(ToString::to_string).collect();
                    if args.locations {
                        write!(out, "{}:{line}: ", file.display())?;
                    }
                    writeln!(out, "[{}]", shown.join(", "))?;
                }
                out.flush()?;
                for (line, warning) in &report.warnings {
                    eprintln!("warning: {}:{line}: {warning}", file.display());
                }
                for failure in &report.failures {
                    eprintln!("FAIL {failure}");
                }
                tally.failed += report.failures.len();
                tally.passed += report.assertions.saturating_sub(report.failures.len());
            }
            Err(e) => {
                eprintln!("ERROR {e}");
                tally.failed += 1;
            }
        }
    }
    Ok(tally)
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // --help and --version are successes printed on stdout; the rest are usage
            // errors (status 2).
            let code = if e.use_stderr() { 2 } else { 0 };
            // A closed stream while printing help is not worth reporting.
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match run(&args, &mut out) {
        Ok(tally) => {
            if !args.quiet {
                eprintln!("{} passed, {} failed", tally.passed, tally.failed);
            }
            if tally.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        // The reader went away (`metta-run f.metta | head -1`): stop quietly.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("metta-run: writing results: {e}");
            ExitCode::FAILURE
        }
    }
}
