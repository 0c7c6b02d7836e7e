//! Integration tests of cow-env: the `.metta` files, the parser's errors, the
//! environment contract on all three variants, properties, and bounded concurrency.

// Tests may unwrap (the workspace rules allow it); a panic is the failure report.
#![allow(clippy::unwrap_used)]

#[cfg(feature = "cli")]
mod cli;
mod concurrency;
mod contract;
mod downstream;
mod metta_files;
mod parallel;
mod parser_errors;
mod properties;

use cow_env::{parse_atom, Atom, Rule};

/// Parses an atom written in a test.
pub(crate) fn atom(text: &str) -> Atom {
    parse_atom(text).unwrap()
}

/// The rule `(= (name arg) value)`.
pub(crate) fn rule(name: &str, arg: i64, value: i64) -> Rule {
    Rule::new(atom(&format!("({name} {arg})")), Atom::Int(value))
}

/// A seed for randomised tests: `COW_ENV_SEED` if set, else the clock. Printed so a
/// failure can be replayed.
pub(crate) fn seed(test: &str) -> u64 {
    let seed = std::env::var("COW_ENV_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        });
    eprintln!("{test}: seed {seed} (replay with COW_ENV_SEED={seed})");
    seed
}
