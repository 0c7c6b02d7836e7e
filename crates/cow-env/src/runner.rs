//! The `.metta` file runner: top-level atoms go into the environment, `!` forms are
//! evaluated, and the two assertion forms are checked.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{parse_program, Atom, Error, Interpreter, RuleEnvironment};

/// One failed assertion or evaluation error, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The file.
    pub path: PathBuf,
    /// 1-based line of the `!` form.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

/// What running one file produced.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// The file.
    pub path: PathBuf,
    /// Number of `assertEqual` and `assertEqualToResult` forms.
    pub assertions: usize,
    /// Failed assertions and evaluation errors, in file order.
    pub failures: Vec<Failure>,
    /// The results of each plain `!` form: its line and its results.
    pub outputs: Vec<(usize, Vec<Atom>)>,
}

impl RunReport {
    /// Whether every assertion held and nothing failed to evaluate.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Renames the variables of `atom` to `$_0`, `$_1`, ... in order of first appearance,
/// so that results equal up to variable names compare equal.
fn canonical(atom: &Atom, names: &mut HashMap<Arc<str>, Atom>) -> Atom {
    match atom {
        Atom::Var(name) => {
            let next = names.len();
            names
                .entry(name.clone())
                .or_insert_with(|| Atom::var(&format!("_{next}")))
                .clone()
        }
        Atom::Expr(items) => Atom::expr(
            items
                .iter()
                .map(|i| canonical(i, names))
                .collect::<Vec<_>>(),
        ),
        other => other.clone(),
    }
}

/// Whether two result lists are equal as multisets (up to variable names).
pub fn same_multiset(actual: &[Atom], expected: &[Atom]) -> bool {
    if actual.len() != expected.len() {
        return false;
    }
    let mut counts: HashMap<Atom, i64> = HashMap::new();
    for a in actual {
        *counts.entry(canonical(a, &mut HashMap::new())).or_default() += 1;
    }
    for e in expected {
        *counts.entry(canonical(e, &mut HashMap::new())).or_default() -= 1;
    }
    counts.values().all(|&c| c == 0)
}

fn show(atoms: &[Atom]) -> String {
    let items: Vec<String> = atoms.iter().map(Atom::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// Runs the program `text` (labelled `path` in messages) against `env` and returns the
/// report and the environment it left. A parse error is an `Err` naming the file, line
/// and column; assertion failures and evaluation errors are collected in the report.
pub fn run_source<E: RuleEnvironment>(
    path: &Path,
    text: &str,
    env: E,
) -> Result<(RunReport, E), Error> {
    let forms = parse_program(text).map_err(|e| {
        let line = match &e {
            Error::Parse { line, .. } => *line,
            _ => 0,
        };
        Error::InFile {
            path: path.to_path_buf(),
            line,
            source: Box::new(e),
        }
    })?;
    let mut interp = Interpreter::new(env);
    let mut report = RunReport {
        path: path.to_path_buf(),
        ..RunReport::default()
    };
    for form in forms {
        if !form.bang {
            interp.env_mut().add_atom(form.atom);
            continue;
        }
        let fail = |message: String| Failure {
            path: path.to_path_buf(),
            line: form.line,
            message,
        };
        let assertion = match form.atom.as_expr() {
            Some([head, actual, expected]) => match head.as_sym() {
                Some("assertEqual") => Some((actual, expected, true)),
                Some("assertEqualToResult") => Some((actual, expected, false)),
                _ => None,
            },
            _ => None,
        };
        match assertion {
            Some((actual, expected, evaluate_expected)) => {
                report.assertions += 1;
                let got = match interp.eval(actual) {
                    Ok(got) => got,
                    Err(e) => {
                        report
                            .failures
                            .push(fail(format!("evaluating {actual}: {e}")));
                        continue;
                    }
                };
                let want = if evaluate_expected {
                    match interp.eval(expected) {
                        Ok(want) => want,
                        Err(e) => {
                            report
                                .failures
                                .push(fail(format!("evaluating {expected}: {e}")));
                            continue;
                        }
                    }
                } else {
                    match expected.as_expr() {
                        Some(items) => items.to_vec(),
                        None => {
                            report.failures.push(fail(format!(
                                "assertEqualToResult needs a list of results, got {expected}"
                            )));
                            continue;
                        }
                    }
                };
                if !same_multiset(&got, &want) {
                    report.failures.push(fail(format!(
                        "{}: expected {} but got {}",
                        form.atom,
                        show(&want),
                        show(&got)
                    )));
                }
            }
            None => match interp.eval(&form.atom) {
                Ok(results) => report.outputs.push((form.line, results)),
                Err(e) => report.failures.push(fail(e.to_string())),
            },
        }
    }
    Ok((report, interp.into_env()))
}

/// Reads and runs one `.metta` file in a fresh environment of type `E`.
pub fn run_file<E: RuleEnvironment>(path: &Path) -> Result<RunReport, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    run_source(path, &text, E::empty()).map(|(report, _)| report)
}
