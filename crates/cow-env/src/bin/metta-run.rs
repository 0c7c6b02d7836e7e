//! Runs `.metta` files and reports failed assertions with file and line.
//!
//! Usage: `metta-run [--env cow|mutex|rwlock] FILE...`. Exits 1 when an assertion fails
//! or a file cannot be read or parsed, 2 on a usage error.

use std::path::Path;
use std::process::ExitCode;

use cow_env::{run_file, Environment, MutexEnvironment, RunReport, RwLockEnvironment};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut env = "cow".to_owned();
    if args.first().map(String::as_str) == Some("--env") {
        if args.len() < 2 {
            eprintln!("usage: metta-run [--env cow|mutex|rwlock] FILE...");
            return ExitCode::from(2);
        }
        env = args[1].clone();
        args.drain(..2);
    }
    if args.is_empty() {
        eprintln!("usage: metta-run [--env cow|mutex|rwlock] FILE...");
        return ExitCode::from(2);
    }
    let run: fn(&Path) -> Result<RunReport, cow_env::Error> = match env.as_str() {
        "cow" => run_file::<Environment>,
        "mutex" => run_file::<MutexEnvironment>,
        "rwlock" => run_file::<RwLockEnvironment>,
        other => {
            eprintln!("unknown environment `{other}` (expected cow, mutex or rwlock)");
            return ExitCode::from(2);
        }
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &args {
        match run(Path::new(file)) {
            Ok(report) => {
                for (line, results) in &report.outputs {
                    let shown: Vec<String> = results.iter().map(ToString::to_string).collect();
                    println!("{file}:{line}: [{}]", shown.join(", "));
                }
                for failure in &report.failures {
                    println!("FAIL {failure}");
                }
                failed += report.failures.len();
                passed += report.assertions.saturating_sub(report.failures.len());
            }
            Err(e) => {
                println!("ERROR {e}");
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
