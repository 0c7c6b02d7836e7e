//! A tiny module language and its incremental pipeline, shared by the `modules` example
//! and the integration tests.
//!
//! A module is a file `NAME.mod` of lines:
//!
//! ```text
//! # a comment
//! import other
//! let x = 1 + other.y + x_before
//! ```
//!
//! `let` binds a name to a sum of integers, earlier names of the same module and
//! `module.name` references to imported modules. Every binding is visible to importers.
//!
//! The pipeline is four kinds of steps over the [`Engine`]: the file text of each module
//! is an input set by [`load_dir`] (the read step: it reads every file from disk and
//! tells the engine what changed); `Parse` turns text into a syntax tree, `Resolve`
//! checks imports and references against the set of modules, and `Exec` evaluates the
//! bindings after the modules it imports, fetching those in parallel.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use dep_tracker::{Engine, Error};

/// The steps of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Key {
    /// Input: the text of a module file, as read from disk.
    Source(String),
    /// Input: the names of all modules in the directory, sorted.
    Modules,
    /// The syntax tree of a module.
    Parse(String),
    /// The modules a module imports, after checking that they and its references exist.
    Resolve(String),
    /// The values of a module's bindings.
    Exec(String),
}

/// One term of a sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Term {
    Number(i64),
    Local(String),
    Imported(String, String),
}

/// A parsed module: what it imports and its bindings in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Module {
    pub(crate) imports: Vec<String>,
    pub(crate) bindings: Vec<(String, Vec<Term>)>,
}

/// The value of each step kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    Text(String),
    Names(Vec<String>),
    Ast(Arc<Module>),
    Values(Arc<BTreeMap<String, i64>>),
}

/// An engine that knows how to compute every step of the pipeline.
pub(crate) fn engine() -> Engine<Key, Val> {
    Engine::<Key, Val>::new(|key, step| match key {
        Key::Parse(m) => match step.get(&Key::Source(m.clone()))? {
            Val::Text(text) => parse(&text)
                .map(|ast| Val::Ast(Arc::new(ast)))
                .map_err(|e| step.fail(e)),
            other => Err(step.fail(format!("source is {other:?}"))),
        },
        Key::Resolve(m) => {
            let ast = ast_of(step.get(&Key::Parse(m.clone()))?, step)?;
            let Val::Names(all) = step.get(&Key::Modules)? else {
                return Err(step.fail("module list is not a list"));
            };
            for import in &ast.imports {
                if all.binary_search(import).is_err() {
                    return Err(step.fail(format!("imports unknown module `{import}`")));
                }
            }
            for (name, terms) in &ast.bindings {
                for term in terms {
                    if let Term::Imported(module, _) = term {
                        if !ast.imports.contains(module) {
                            return Err(step
                                .fail(format!("`{name}` uses `{module}`, which is not imported")));
                        }
                    }
                }
            }
            Ok(Val::Names(ast.imports.clone()))
        }
        Key::Exec(m) => {
            let Val::Names(imports) = step.get(&Key::Resolve(m.clone()))? else {
                return Err(step.fail("imports are not a list"));
            };
            let ast = ast_of(step.get(&Key::Parse(m.clone()))?, step)?;
            let keys: Vec<Key> = imports.iter().map(|i| Key::Exec(i.clone())).collect();
            let mut imported = BTreeMap::new();
            for (name, value) in imports.iter().zip(step.get_all(&keys)) {
                match value? {
                    Val::Values(values) => imported.insert(name.clone(), values),
                    other => return Err(step.fail(format!("{name} evaluated to {other:?}"))),
                };
            }
            let mut values = BTreeMap::new();
            for (name, terms) in &ast.bindings {
                let mut sum: i64 = 0;
                for term in terms {
                    let value = match term {
                        Term::Number(n) => *n,
                        Term::Local(l) => *values
                            .get(l)
                            .ok_or_else(|| step.fail(format!("`{l}` is not bound yet")))?,
                        Term::Imported(module, l) => *imported
                            .get(module)
                            .and_then(|vals| vals.get(l))
                            .ok_or_else(|| step.fail(format!("`{module}` has no `{l}`")))?,
                    };
                    // Stands in for a bug in a step function: overflow panics, and the
                    // engine reports it as this step's failure.
                    sum = match sum.checked_add(value) {
                        Some(s) => s,
                        None => panic!("integer overflow while evaluating `{name}`"),
                    };
                }
                values.insert(name.clone(), sum);
            }
            Ok(Val::Values(Arc::new(values)))
        }
        Key::Source(_) | Key::Modules => Err(Error::UnknownInput {
            key: format!("{key:?}"),
        }),
    })
}

fn ast_of(val: Val, step: &dep_tracker::Step<'_, Key, Val>) -> Result<Arc<Module>, Error> {
    match val {
        Val::Ast(ast) => Ok(ast),
        other => Err(step.fail(format!("expected a syntax tree, got {other:?}"))),
    }
}

/// Parses one module's text.
pub(crate) fn parse(text: &str) -> Result<Module, String> {
    let mut module = Module::default();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        let at = |msg: &str| format!("line {}: {msg}", number + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix("import ") {
            let name = name.trim();
            if !is_ident(name) {
                return Err(at("expected a module name after `import`"));
            }
            module.imports.push(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("let ") {
            let (name, expr) = rest.split_once('=').ok_or_else(|| at("expected `=`"))?;
            let name = name.trim();
            if !is_ident(name) {
                return Err(at("expected a name after `let`"));
            }
            let terms = expr
                .split('+')
                .map(|t| {
                    parse_term(t.trim()).ok_or_else(|| at(&format!("bad term `{}`", t.trim())))
                })
                .collect::<Result<Vec<_>, _>>()?;
            module.bindings.push((name.to_owned(), terms));
        } else {
            return Err(at("expected `import` or `let`"));
        }
    }
    Ok(module)
}

fn parse_term(t: &str) -> Option<Term> {
    if let Ok(n) = t.parse() {
        return Some(Term::Number(n));
    }
    match t.split_once('.') {
        Some((m, n)) if is_ident(m) && is_ident(n) => {
            Some(Term::Imported(m.to_owned(), n.to_owned()))
        }
        None if is_ident(t) => Some(Term::Local(t.to_owned())),
        _ => None,
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The read step: reads every `*.mod` file of `dir` and sets the inputs. Returns the
/// module names. Unchanged files leave the engine's revision alone.
pub(crate) fn load_dir(engine: &mut Engine<Key, Val>, dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "mod") {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                let text = std::fs::read_to_string(&path)?;
                engine.set_input(Key::Source(stem.to_owned()), Val::Text(text));
                names.push(stem.to_owned());
            }
        }
    }
    names.sort();
    engine.set_input(Key::Modules, Val::Names(names.clone()));
    Ok(names)
}

/// The bindings of module `name`, evaluated.
pub(crate) fn exec(engine: &Engine<Key, Val>, name: &str) -> Result<BTreeMap<String, i64>, Error> {
    match engine.get(&Key::Exec(name.to_owned()))? {
        Val::Values(values) => Ok((*values).clone()),
        other => Err(Error::StepFailed {
            step: format!("Exec({name:?})"),
            message: format!("{other:?}"),
        }),
    }
}
