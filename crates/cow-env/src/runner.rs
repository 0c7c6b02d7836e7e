//! The `.metta` file runner: top-level atoms go into the environment, `!` forms are
//! evaluated, and every `assert*` form is counted and checked.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{parse_program, Atom, Error, Interpreter, RuleEnvironment, ASSERTIONS};

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
    /// Number of top-level `!(assert* ...)` forms, known or not (an unknown `assert*`
    /// head is counted and fails).
    pub assertions: usize,
    /// Failed assertions and evaluation errors, in file order.
    pub failures: Vec<Failure>,
    /// The results of each plain `!` form: its line and its results.
    pub outputs: Vec<(usize, Vec<Atom>)>,
    /// Warnings that do not fail the run, with their line: a `!` call of a name that is
    /// neither built in nor defined (each name once).
    pub warnings: Vec<(usize, String)>,
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

/// Whether two atoms are equal up to a consistent renaming of their variables.
pub(crate) fn alpha_equal(a: &Atom, b: &Atom) -> bool {
    canonical(a, &mut HashMap::new()) == canonical(b, &mut HashMap::new())
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

/// The message of a failed assertion: the form and what its error atom says.
fn describe_failure(form: &Atom, error: &Atom) -> String {
    let detail = match error.as_expr() {
        Some([_, _, Atom::Str(text)]) => text.replace('\n', " ").trim().to_owned(),
        Some([_, _, other]) => other.to_string(),
        _ => error.to_string(),
    };
    format!("{form}: {detail}")
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
    interp.set_current_file(path);
    let mut report = RunReport {
        path: path.to_path_buf(),
        ..RunReport::default()
    };
    let mut warned: Vec<Arc<str>> = Vec::new();
    for form in forms {
        let atom = interp.resolve_tokens(&form.atom);
        let fail = |message: String| Failure {
            path: path.to_path_buf(),
            line: form.line,
            message,
        };
        if !form.bang {
            if interp.type_check_auto() && interp.infer_types(&atom).is_empty() {
                report
                    .failures
                    .push(fail(format!("{atom} is ill-typed (BadType); not added")));
                continue;
            }
            interp.add_atom(atom);
            continue;
        }
        let head = match atom.as_expr() {
            Some([Atom::Sym(head), ..]) => Some(head.clone()),
            _ => None,
        };
        let is_assertion = head.as_deref().is_some_and(|h| h.starts_with("assert"));
        if is_assertion {
            report.assertions += 1;
            let name = head.as_deref().unwrap_or_default();
            if !ASSERTIONS.contains(&name) {
                report
                    .failures
                    .push(fail(format!("unknown assertion `{name}` in {atom}")));
                continue;
            }
        }
        if interp.type_check_auto() && interp.infer_types(&atom).is_empty() {
            let error = Atom::expr(vec![Atom::sym("Error"), atom.clone(), Atom::sym("BadType")]);
            report.outputs.push((form.line, vec![error]));
            continue;
        }
        let results = match interp.eval(&atom) {
            Ok(results) => results,
            Err(e) => {
                report.failures.push(fail(e.to_string()));
                continue;
            }
        };
        let results: Vec<Atom> = results.iter().map(|a| interp.show_states(a)).collect();
        if is_assertion {
            let errors: Vec<&Atom> = results.iter().filter(|r| r.is_error()).collect();
            if let Some(first) = errors.first() {
                report.failures.push(fail(describe_failure(&atom, first)));
            } else if results.is_empty() {
                report
                    .failures
                    .push(fail(format!("{atom} produced no result")));
            }
            continue;
        }
        if let Some(name) = head {
            let unchanged = results.len() == 1 && results[0] == atom;
            if unchanged
                && !Interpreter::<E>::is_builtin(&name)
                && !warned.contains(&name)
                && !interp.knows(&name)
            {
                warned.push(name.clone());
                report.warnings.push((
                    form.line,
                    format!("`{name}` is neither built in nor defined by a rule or a type; {atom} is left as it is"),
                ));
            }
        }
        report.outputs.push((form.line, results));
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
