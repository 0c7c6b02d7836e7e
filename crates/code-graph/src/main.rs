//! `code-graph <path> --format json|dot|summary --threads N --output FILE`

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use code_graph::{build, summary, to_dot, to_json, BuildMode, BuildOptions, Progress};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Json,
    Dot,
    Summary,
}

/// Builds the code graph of a Rust crate or Cargo workspace.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// A crate or workspace directory (one holding Cargo.toml).
    path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "summary")]
    format: Format,
    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Use the sequential builder instead of the parallel one.
    #[arg(long)]
    sequential: bool,
    /// Write here instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
}

/// Trees with fewer files than this finish before a bar would be worth drawing.
const PROGRESS_MIN_FILES: usize = 200;

fn main() -> ExitCode {
    let args = Args::parse();
    let mut options = BuildOptions {
        mode: if args.sequential {
            BuildMode::Sequential
        } else {
            BuildMode::Parallel
        },
        threads: args.threads,
        ..BuildOptions::default()
    };
    let bar = indicatif::ProgressBar::hidden();
    if !args.no_progress && std::io::stderr().is_terminal() {
        let bar = bar.clone();
        options.progress = Some(Arc::new(move |p| match p {
            Progress::Discovered { files } if files >= PROGRESS_MIN_FILES => {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_length(files as u64);
            }
            Progress::Parsed { .. } => bar.inc(1),
            Progress::Discovered { .. } => {}
        }));
    }
    let graph = match build(&args.path, &options) {
        Ok(g) => g,
        Err(e) => {
            bar.finish_and_clear();
            eprintln!("code-graph: {e}");
            return ExitCode::from(1);
        }
    };
    bar.finish_and_clear();
    let text = match args.format {
        Format::Json => match to_json(&graph) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("code-graph: {e}");
                return ExitCode::from(1);
            }
        },
        Format::Dot => to_dot(&graph),
        Format::Summary => summary(&graph),
    };
    let written = match &args.output {
        Some(path) => std::fs::write(path, text.as_bytes()),
        None => std::io::stdout().lock().write_all(text.as_bytes()),
    };
    if let Err(e) = written {
        // A closed pipe (`code-graph ... | head`) means the reader has what it wanted.
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return ExitCode::SUCCESS;
        }
        eprintln!("code-graph: writing output: {e}");
        return ExitCode::from(1);
    }
    if !matches!(args.format, Format::Summary) && !graph.diagnostics.is_empty() {
        eprintln!(
            "code-graph: {} diagnostic(s); see the `diagnostics` of the output or use --format summary",
            graph.diagnostics.len()
        );
    }
    ExitCode::SUCCESS
}
