//! Differential check of the build's three parse shortcuts over every `.rs` file of the
//! local cargo registry (or of the directories given): the facts extracted with brace-free
//! `const`/`static` initialisers stepped over must equal those of a full
//! `syn::parse_file`; the facts (and parse errors) with doc comments blanked out must
//! equal those with them tokenised; and the facts (and parse errors) with function
//! bodies read by the body reader must equal those with every body parsed by syn.
//! Prints each difference, how many bodies the reader covered, and a total; exits 1 on
//! any difference.
//!
//! `cargo run --release -p code-graph --example shortcut_check [DIR...]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn main() -> ExitCode {
    let mut dirs: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
        if let Some(h) = home {
            dirs.push(h.join("registry/src"));
        }
    }
    let mut files = Vec::new();
    for d in &dirs {
        rust_files(d, &mut files);
    }
    files.sort();
    if files.is_empty() {
        eprintln!("no .rs files under {dirs:?}");
        return ExitCode::FAILURE;
    }
    // Each file on a thread with a large stack: syn recurses once per nesting level.
    let (mut bytes, mut differing) = (0u64, 0u64);
    let (mut read, mut refused) = (0usize, 0usize);
    for f in &files {
        let Ok(source) = std::fs::read_to_string(f) else {
            continue;
        };
        bytes += source.len() as u64;
        let (r, left) = code_graph::body_coverage(&source);
        read += r;
        refused += left;
        let result = std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(256 << 20)
                .spawn_scoped(s, || {
                    code_graph::check_data_skip(&source)
                        .map(|d| format!("data: {d}"))
                        .or_else(|| {
                            code_graph::check_doc_blanking(&source).map(|d| format!("docs: {d}"))
                        })
                        .or_else(|| {
                            code_graph::check_body_shortcut(&source).map(|d| format!("bodies: {d}"))
                        })
                })
                .ok()
                .and_then(|h| h.join().ok())
        });
        match result {
            Some(None) => {}
            Some(Some(diff)) => {
                differing += 1;
                println!("{}: {diff}", f.display());
            }
            None => {
                differing += 1;
                println!("{}: the check did not finish", f.display());
            }
        }
    }
    println!("function bodies: {read} read by the body reader, {refused} left to syn");
    println!(
        "{} files, {:.1} MB: {differing} with different facts",
        files.len(),
        bytes as f64 / 1e6
    );
    if differing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
