//! `code-graph <path> --format json|node-link|compact|dot|summary --threads N --output FILE`
//! with `--crate`, `--kind` and `--focus NAME --depth N` to export part of the graph.
//!
//! Exit status: 0 success, 1 the graph could not be built or written, 2 a usage error
//! (from clap). A closed standard output (`code-graph . | head`) ends quietly with 0.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use code_graph::{
    build, filter, summary, to_dot, write_compact, write_json, write_node_link, BuildMode,
    BuildOptions, CodeGraphError, Filter, NodeKind, Progress,
};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// The full graph, pretty-printed (schema in docs/code-graph.md).
    Json,
    /// Node-link JSON, as `networkx.node_link_graph(data)` reads it.
    NodeLink,
    /// Compact JSON: strings once in a table, nodes and edges as arrays of indexes.
    Compact,
    /// Graphviz DOT (filter it for anything past a few hundred nodes).
    Dot,
    /// Counts, statistics and the first diagnostics, for a person.
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
    /// Export only this crate namespace or package (repeatable).
    #[arg(long = "crate", value_name = "NAME")]
    crates: Vec<String>,
    /// Export only nodes of this kind (repeatable): crate, module, function, method,
    /// struct, enum, variant, union, trait, impl, type-alias, const, static, macro, use,
    /// field, type.
    #[arg(long = "kind", value_name = "KIND", value_parser = parse_kind)]
    kinds: Vec<NodeKind>,
    /// Export only what lies within `--depth` edges of the nodes with this path or name.
    #[arg(long, value_name = "NAME")]
    focus: Option<String>,
    /// The radius around `--focus`.
    #[arg(long, default_value_t = 1, requires = "focus")]
    depth: usize,
    /// Parse every function body with syn instead of the body reader (same graph,
    /// slower; for comparisons).
    #[arg(long, hide = true)]
    parse_bodies: bool,
}

fn parse_kind(s: &str) -> Result<NodeKind, String> {
    NodeKind::ALL
        .iter()
        .copied()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| {
            let all: Vec<&str> = NodeKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown kind `{s}`; one of {}", all.join(", "))
        })
}

// mimalloc (or, with `CODE_GRAPH_ALLOCATOR=system`, the system allocator): a build
// allocates and frees tens of millions of small blocks, and mimalloc does that for
// about a fifth less CPU time. The library never sets an allocator; the binary does.
#[global_allocator]
static GLOBAL: code_graph::alloc::CliAllocator = code_graph::alloc::CliAllocator;

/// Trees with fewer files than this finish before a bar would be worth drawing.
const PROGRESS_MIN_FILES: usize = 200;

fn main() -> ExitCode {
    code_graph::alloc::tune();
    let args = Args::parse();
    let mut options = BuildOptions {
        mode: if args.sequential {
            BuildMode::Sequential
        } else {
            BuildMode::Parallel
        },
        threads: args.threads,
        parse_bodies: args.parse_bodies,
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
    let selection = Filter {
        crates: args.crates.clone(),
        kinds: args.kinds.clone(),
        focus: args.focus.clone(),
        depth: args.depth,
    };
    // Only when something is selected: a filtered copy holds every kept node twice.
    let selecting =
        !selection.crates.is_empty() || !selection.kinds.is_empty() || selection.focus.is_some();
    let graph = if selecting {
        filter(&graph, &selection)
    } else {
        graph
    };
    let result = match &args.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => write(&graph, args.format, BufWriter::new(f)),
            Err(e) => Err(CodeGraphError::Io {
                path: path.clone(),
                source: e,
            }),
        },
        None => write(
            &graph,
            args.format,
            BufWriter::new(std::io::stdout().lock()),
        ),
    };
    if let Err(e) = result {
        // A closed pipe (`code-graph ... | head`) means the reader has what it wanted.
        if is_broken_pipe(&e) {
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
    // The process ends here: freeing the graph node by node would only delay the exit,
    // and the system takes the memory back at once.
    std::mem::forget(graph);
    ExitCode::SUCCESS
}

fn write<W: Write>(
    graph: &code_graph::CodeGraph,
    format: Format,
    mut out: W,
) -> Result<(), CodeGraphError> {
    let io = |e: std::io::Error| CodeGraphError::Serialise(serde_json::Error::io(e));
    match format {
        Format::Json => write_json(graph, &mut out)?,
        Format::NodeLink => write_node_link(graph, &mut out)?,
        Format::Compact => write_compact(graph, &mut out)?,
        Format::Dot => out.write_all(to_dot(graph).as_bytes()).map_err(io)?,
        Format::Summary => out.write_all(summary(graph).as_bytes()).map_err(io)?,
    }
    out.flush().map_err(io)
}

fn is_broken_pipe(e: &CodeGraphError) -> bool {
    match e {
        CodeGraphError::Serialise(s) => s.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe),
        CodeGraphError::Io { source, .. } => source.kind() == std::io::ErrorKind::BrokenPipe,
        _ => false,
    }
}
