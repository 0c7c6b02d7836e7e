//! `graphdb`: create, import into, export, inspect, traverse and maintain a graphdb-core
//! database from the command line.
//!
//! Results go to standard output, errors and progress to standard error. Every command
//! that opens a database prints the recovery report to standard error first.
//!
//! Exit codes: 0 success; 1 the work failed (I/O, a damaged file, a rejected import, a
//! missing node, `check` found problems or recovery dropped committed data); 2 the
//! command line is wrong. A closed standard output (`graphdb ... | head -1`) ends the
//! command quietly with 0.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use graphdb_core::interchange;
use graphdb_core::{Config, Direction, GraphDB, GraphError, IndexDef, SyncMode};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(
    name = "graphdb",
    version,
    about = "An embedded graph database on one file"
)]
struct Cli {
    /// Refuse to open a database whose recovery would drop committed transactions found
    /// past a damaged log frame (the files are left untouched for salvage).
    #[arg(long, global = true)]
    strict: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Dir {
    Out,
    In,
    Both,
}

impl From<Dir> for Direction {
    fn from(d: Dir) -> Direction {
        match d {
            Dir::Out => Direction::Outgoing,
            Dir::In => Direction::Incoming,
            Dir::Both => Direction::Both,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Neo4j bulk-import layout: `nodes.csv` and `edges.csv` in a directory.
    Csv,
    /// One JSON object per node or edge, every value exact.
    Jsonl,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Node,
    Edge,
}

#[derive(Subcommand)]
enum Command {
    /// Create an empty database (fails if the file exists).
    Create { db: PathBuf },
    /// Import CSV (Neo4j layout) or JSON lines as one transaction; creates the database
    /// if needed. A malformed file changes nothing.
    Import {
        db: PathBuf,
        /// Nodes CSV files (header with `:ID`, optional `:LABEL`, `name:type` columns).
        #[arg(long)]
        nodes: Vec<PathBuf>,
        /// Edges CSV files (header with `:START_ID`, `:END_ID`, `:TYPE`).
        #[arg(long)]
        edges: Vec<PathBuf>,
        /// A JSON lines file as written by `export --format jsonl`.
        #[arg(long, conflicts_with_all = ["nodes", "edges"])]
        jsonl: Option<PathBuf>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Export the newest committed state.
    Export {
        db: PathBuf,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// A directory for csv, a file (or `-` for standard output) for jsonl.
        #[arg(long)]
        out: PathBuf,
    },
    /// Counts, pages, log and indexes.
    Stats { db: PathBuf },
    /// Check the whole file; exit code 1 if anything is wrong, including committed
    /// transactions that recovery had to drop.
    Check { db: PathBuf },
    /// Print one node or edge as JSON.
    Get {
        db: PathBuf,
        #[arg(value_enum)]
        kind: Kind,
        id: u64,
    },
    /// Neighbours of a node (one line per edge: edge id and the node at the other end).
    Neighbors {
        db: PathBuf,
        node: u64,
        #[arg(long, value_enum, default_value = "both")]
        direction: Dir,
        /// Only edges of this type.
        #[arg(long = "type")]
        edge_type: Option<String>,
    },
    /// Breadth-first search: one line per reached node with its depth.
    Bfs {
        db: PathBuf,
        start: u64,
        #[arg(long)]
        depth: Option<u32>,
        #[arg(long, value_enum, default_value = "out")]
        direction: Dir,
        #[arg(long = "type")]
        edge_type: Option<String>,
    },
    /// A shortest path (fewest edges) between two nodes.
    Path {
        db: PathBuf,
        from: u64,
        to: u64,
        #[arg(long, value_enum, default_value = "out")]
        direction: Dir,
        #[arg(long = "type")]
        edge_type: Option<String>,
    },
    /// Create, drop or list indexes.
    Index {
        #[command(subcommand)]
        action: IndexAction,
    },
    /// Reclaim old versions no snapshot can see (no other process may use the file).
    Vacuum { db: PathBuf },
    /// Fold the write-ahead log into the database file.
    Checkpoint { db: PathBuf },
}

#[derive(Subcommand)]
enum IndexAction {
    /// Create a label index (`--label`) or a property index (`--label` and `--property`).
    Create {
        db: PathBuf,
        #[arg(long)]
        label: String,
        #[arg(long)]
        property: Option<String>,
    },
    /// Drop an index.
    Drop {
        db: PathBuf,
        #[arg(long)]
        label: String,
        #[arg(long)]
        property: Option<String>,
    },
    /// List the indexes.
    List { db: PathBuf },
}

/// A failure with the exit code it maps to (1 the work failed, 2 usage); code 0 with no
/// message is a closed standard output, which ends the command quietly.
struct Failure {
    code: u8,
    message: String,
}

impl From<GraphError> for Failure {
    fn from(e: GraphError) -> Self {
        fail(1, e.to_string())
    }
}

/// An index definition the engine rejects was named on the command line: a usage error
/// (exit 2), not a database failure.
fn invalid_index_is_usage(e: GraphError) -> Failure {
    match e {
        GraphError::InvalidArgument(m) => fail(2, m),
        other => other.into(),
    }
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

/// A write to standard output failed: a closed pipe ends quietly, anything else fails.
fn output_error(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        fail(0, "")
    } else {
        fail(1, format!("cannot write output: {e}"))
    }
}

/// An open database. `GraphDB::open` holds an exclusive lock on the file for as long as
/// the handle lives, so two `graphdb` processes never write the same file at once.
struct Locked {
    db: GraphDB,
}

fn config(strict: bool) -> Config {
    Config {
        sync_mode: SyncMode::Full,
        strict_recovery: strict,
        ..Config::default()
    }
}

/// Opens an existing database (never creates one by accident) and prints what recovery
/// did to standard error.
fn open(path: &Path, strict: bool) -> Result<Locked, Failure> {
    let db = GraphDB::open(path, config(strict))?;
    eprintln!("graphdb: {}", db.recovery_report());
    Ok(Locked { db })
}

fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    let style = ProgressStyle::with_template("{spinner} {msg} {pos} records ({per_sec})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_message("importing");
    bar
}

/// Imports into an existing database as one transaction and closes it.
fn import(
    db: &Path,
    nodes: &[PathBuf],
    edges: &[PathBuf],
    jsonl: Option<&Path>,
    quiet: bool,
    strict: bool,
) -> Result<interchange::Counts, Failure> {
    let mut h = open(db, strict)?;
    let bar = progress_bar(quiet);
    let mut tick = |n: u64| bar.set_position(n);
    let counts = match jsonl {
        Some(path) => {
            let mut file =
                File::open(path).map_err(|e| fail(1, format!("{}: {e}", path.display())))?;
            interchange::import_jsonl(&mut h.db, &path.display().to_string(), &mut file, &mut tick)?
        }
        None => {
            let n: Vec<&Path> = nodes.iter().map(PathBuf::as_path).collect();
            let e: Vec<&Path> = edges.iter().map(PathBuf::as_path).collect();
            interchange::import_csv(&mut h.db, &n, &e, &mut tick)?
        }
    };
    bar.finish_and_clear();
    h.db.close()?;
    Ok(counts)
}

fn run(cli: Cli) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let say = |out: &mut dyn Write, text: String| -> Result<(), Failure> {
        writeln!(out, "{text}").map_err(output_error)
    };
    let strict = cli.strict;
    match cli.command {
        Command::Create { db } => {
            if db.exists() {
                return Err(fail(1, format!("{} already exists", db.display())));
            }
            GraphDB::create(&db, config(strict))?.close()?;
            say(&mut out, format!("created {}", db.display()))?;
        }
        Command::Import {
            db,
            nodes,
            edges,
            jsonl,
            quiet,
        } => {
            if jsonl.is_none() && nodes.is_empty() {
                return Err(fail(2, "import needs --nodes (and --edges) or --jsonl"));
            }
            let created = !db.exists() && !graphdb_core::wal_path(&db).exists();
            if created {
                GraphDB::create(&db, config(strict))?.close()?;
            }
            let result = import(&db, &nodes, &edges, jsonl.as_deref(), quiet, strict);
            if result.is_err() && created {
                // The database did not exist before: leave nothing behind either.
                let _ = std::fs::remove_file(graphdb_core::wal_path(&db));
                let _ = std::fs::remove_file(&db);
            }
            let counts = result?;
            say(
                &mut out,
                format!("imported {} nodes and {} edges", counts.nodes, counts.edges),
            )?;
        }
        Command::Export {
            db,
            format,
            out: target,
        } => {
            let h = open(&db, strict)?;
            let ts = h.db.current_commit_ts();
            let counts = match format {
                Format::Csv => interchange::export_csv(&h.db, ts, &target)?,
                Format::Jsonl if target.as_os_str() == "-" => {
                    match interchange::export_jsonl(&h.db, ts, &mut out) {
                        Err(GraphError::Io(e)) => return Err(output_error(e)),
                        other => other?,
                    }
                }
                Format::Jsonl => {
                    let mut file = File::create(&target)
                        .map_err(|e| fail(1, format!("{}: {e}", target.display())))?;
                    let c = interchange::export_jsonl(&h.db, ts, &mut file)?;
                    file.sync_all()
                        .map_err(|e| fail(1, format!("{}: {e}", target.display())))?;
                    c
                }
            };
            eprintln!("exported {} nodes and {} edges", counts.nodes, counts.edges);
        }
        Command::Stats { db } => {
            let h = open(&db, strict)?;
            let s = h.db.stats()?;
            let snap = h.db.snapshot();
            let nodes = snap.all_nodes()?.len();
            let edges = snap.all_edges()?.len();
            say(&mut out, format!("nodes {nodes}"))?;
            say(&mut out, format!("edges {edges}"))?;
            say(
                &mut out,
                format!("pages {} (free {})", s.page_count, s.free_pages),
            )?;
            say(&mut out, format!("file bytes {}", h.db.main_file_len()?))?;
            say(&mut out, format!("log frames {}", s.wal_frames))?;
            say(&mut out, format!("commit ts {}", s.commit_ts))?;
            for i in h.db.indexes()? {
                say(&mut out, format!("index {i}"))?;
            }
        }
        Command::Check { db } => {
            let h = open(&db, strict)?;
            let r = h.db.check()?;
            say(
                &mut out,
                format!(
                    "pages {} free {} nodes {} edges {} versions {} indexes {} index entries {}",
                    r.pages, r.free_pages, r.nodes, r.edges, r.versions, r.indexes, r.index_entries
                ),
            )?;
            for p in &r.problems {
                say(&mut out, format!("problem: {p}"))?;
            }
            if !r.is_ok() {
                return Err(fail(1, format!("{} problems found", r.problems.len())));
            }
            say(&mut out, "ok".into())?;
        }
        Command::Get { db, kind, id } => {
            let h = open(&db, strict)?;
            match kind {
                Kind::Node => {
                    let n = h.db.get_node(id)?.ok_or(GraphError::NodeNotFound(id))?;
                    say(&mut out, interchange::node_to_json(&n).to_string())?;
                }
                Kind::Edge => {
                    let e = h.db.load_edge(id)?;
                    say(&mut out, interchange::edge_to_json(&e).to_string())?;
                }
            }
        }
        Command::Neighbors {
            db,
            node,
            direction,
            edge_type,
        } => {
            let h = open(&db, strict)?;
            for (e, n) in
                h.db.snapshot()
                    .edges(node, direction.into(), edge_type.as_deref())?
            {
                say(&mut out, format!("{e}\t{n}"))?;
            }
        }
        Command::Bfs {
            db,
            start,
            depth,
            direction,
            edge_type,
        } => {
            let h = open(&db, strict)?;
            let snap = h.db.snapshot();
            for step in snap.bfs(start, direction.into(), edge_type.as_deref(), depth)? {
                let (n, d) = step?;
                say(&mut out, format!("{n}\t{d}"))?;
            }
        }
        Command::Path {
            db,
            from,
            to,
            direction,
            edge_type,
        } => {
            let h = open(&db, strict)?;
            match h
                .db
                .snapshot()
                .shortest_path(from, to, direction.into(), edge_type.as_deref())?
            {
                Some(p) => say(
                    &mut out,
                    p.iter().map(u64::to_string).collect::<Vec<_>>().join(" "),
                )?,
                None => say(&mut out, "no path".into())?,
            }
        }
        Command::Index { action } => match action {
            IndexAction::Create {
                db,
                label,
                property,
            } => {
                let mut h = open(&db, strict)?;
                let def = IndexDef { label, property };
                let n =
                    h.db.create_index(def.clone())
                        .map_err(invalid_index_is_usage)?;
                h.db.close()?;
                say(&mut out, format!("created index {def} with {n} entries"))?;
            }
            IndexAction::Drop {
                db,
                label,
                property,
            } => {
                let mut h = open(&db, strict)?;
                let def = IndexDef { label, property };
                h.db.drop_index(&def).map_err(invalid_index_is_usage)?;
                h.db.close()?;
                say(&mut out, format!("dropped index {def}"))?;
            }
            IndexAction::List { db } => {
                let h = open(&db, strict)?;
                for i in h.db.indexes()? {
                    say(&mut out, i.to_string())?;
                }
            }
        },
        Command::Vacuum { db } => {
            let mut h = open(&db, strict)?;
            // The lock guarantees no other process holds a snapshot of this file.
            let s = h.db.vacuum(u64::MAX)?;
            h.db.close()?;
            say(
                &mut out,
                format!(
                    "freed {} versions, removed {} ids",
                    s.versions_freed, s.ids_removed
                ),
            )?;
        }
        Command::Checkpoint { db } => {
            let mut h = open(&db, strict)?;
            h.db.checkpoint()?;
            h.db.close()?;
            say(&mut out, "checkpointed".into())?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) if f.code == 0 => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("graphdb: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
