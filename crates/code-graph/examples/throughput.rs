//! Single-thread throughput on a real tree: bare `syn::parse_file`, parse + extraction,
//! and the whole sequential and parallel builds.
//!
//! `cargo run --release -p code-graph --example throughput -- <crate-dir> [threads]`

use std::time::Instant;

use code_graph::{build, extract_only, parse_only, BuildOptions, LocalInterner};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(
        args.next()
            .ok_or("usage: throughput <crate-dir> [threads]")?,
    );
    let threads: usize = args.next().map(|t| t.parse()).transpose()?.unwrap_or(2);
    let sources: Vec<String> = walkdir::WalkDir::new(dir.join("src"))
        .into_iter()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    let bytes: usize = sources.iter().map(String::len).sum();
    let mb = |secs: f64| bytes as f64 / 1e6 / secs;
    for round in 0..3 {
        let t = Instant::now();
        for s in &sources {
            let _ = parse_only(s);
        }
        let parse = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let interner = LocalInterner::new();
        for s in &sources {
            let _ = extract_only(s, &interner);
        }
        let extract = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let g = build(&dir, &BuildOptions::sequential())?;
        // The build reads tests, examples and benches too: rate it on its own bytes.
        let seq = t.elapsed().as_secs_f64() * bytes as f64 / g.metrics.bytes as f64;
        let t = Instant::now();
        let g = build(&dir, &BuildOptions::parallel(threads))?;
        let par = t.elapsed().as_secs_f64() * bytes as f64 / g.metrics.bytes as f64;
        println!(
            "round {round}: {:.2} MB; syn {:.1} MB/s, extract {:.1} MB/s ({:.2}x), sequential build {:.1} MB/s ({:.2}x), parallel({threads}) {:.1} MB/s ({:.2}x of sequential)",
            bytes as f64 / 1e6,
            mb(parse),
            mb(extract),
            parse / extract,
            mb(seq),
            parse / seq,
            mb(par),
            seq / par
        );
    }
    Ok(())
}
