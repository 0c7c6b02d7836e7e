//! The one error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while parsing, evaluating, or running a `.metta` file.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    /// The text is not a well-formed S-expression program.
    #[error("{line}:{column}: {message}")]
    Parse {
        /// 1-based line of the offending character.
        line: usize,
        /// 1-based column (in characters) of the offending character.
        column: usize,
        /// What was expected or found.
        message: String,
    },
    /// Evaluation nested deeper than the interpreter's limit; the usual cause is a rule
    /// that rewrites a term into a larger one forever.
    #[error("evaluation exceeded the depth limit of {limit} while evaluating {atom}")]
    DepthExceeded {
        /// The limit in force.
        limit: usize,
        /// The atom being evaluated when the limit was hit (printed, possibly shortened).
        atom: String,
    },
    /// One evaluation produced more alternative results than the interpreter allows.
    #[error("evaluation produced more than {limit} results while evaluating {atom}")]
    TooManyResults {
        /// The limit in force.
        limit: usize,
        /// The atom being evaluated (printed, possibly shortened).
        atom: String,
    },
    /// A byte path in the trie does not decode to an atom (it was not written by
    /// [`crate::Atom::encode`]).
    #[error("corrupt atom encoding at byte {offset}: {message}")]
    Decode {
        /// Offset into the path where decoding failed.
        offset: usize,
        /// What was wrong.
        message: &'static str,
    },
    /// `set_multiplicities` named an atom that is not a rule `(= lhs rhs)`.
    #[error("{atom} is not a rule (= lhs rhs); only rules have multiplicities")]
    NotARule {
        /// The atom.
        atom: String,
    },
    /// A `.metta` file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A `.metta` file has an error at a known place (parse or evaluation).
    #[error("{path}:{line}: {source}")]
    InFile {
        /// The file.
        path: PathBuf,
        /// 1-based line of the top-level form.
        line: usize,
        /// The underlying error.
        source: Box<Error>,
    },
}

/// Shortens a printed atom for an error message so that a runaway term does not flood
/// the terminal.
pub(crate) fn shorten(text: String) -> String {
    const MAX: usize = 200;
    if text.chars().count() <= MAX {
        text
    } else {
        let mut cut: String = text.chars().take(MAX).collect();
        cut.push_str("...");
        cut
    }
}
