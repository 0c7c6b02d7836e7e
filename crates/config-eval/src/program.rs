//! Loading a program: the root module and everything it imports, through a resolver
//! rooted at one directory (or an in-memory map of files).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::ast::{Import, ImportPath, Module};
use crate::cache::{hash_of, ConcurrentCache};
use crate::error::Error;
use crate::parser::parse_module;
use crate::sync::Arc;

/// Where module files come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// Files under this directory; nothing outside it may be read.
    Dir(PathBuf),
    /// Files by relative path, for tests, benchmarks and embedding.
    Memory(HashMap<String, String>),
}

/// One loaded module.
#[derive(Debug, Clone)]
pub(crate) struct LoadedModule {
    /// The path relative to the root, `/`-separated: the module's identity.
    pub(crate) file: String,
    pub(crate) ast: Arc<Module>,
    /// Indices (into [`Program::modules`]) of the imports, aligned with `ast.imports`.
    pub(crate) imports: Vec<usize>,
    /// Structural hash of the syntax tree (spans excluded).
    pub(crate) ast_hash: u64,
}

/// A parsed program: its modules in dependency order, the root last.
///
/// Invariant: every module's imports come before it in `modules`, so walking the
/// vector front to back visits dependencies first.
#[derive(Debug, Clone)]
pub struct Program {
    pub(crate) modules: Vec<LoadedModule>,
    /// Top-level declarations over all modules, counted once at load so that the
    /// engine's sequential-fallback decision is a comparison, not a walk.
    declarations: usize,
}

impl Program {
    /// Number of modules.
    pub fn module_count(&self) -> usize {
        self.modules.len()
    }

    /// Number of top-level `let` declarations over all modules.
    pub fn declaration_count(&self) -> usize {
        self.declarations
    }

    /// The modules' paths relative to the root, dependencies first.
    pub fn files(&self) -> Vec<&str> {
        self.modules.iter().map(|m| m.file.as_str()).collect()
    }

    pub(crate) fn root(&self) -> usize {
        self.modules.len() - 1
    }
}

fn import_text(p: &ImportPath) -> String {
    match p {
        ImportPath::Dotted(parts) => parts.join("."),
        ImportPath::File(s) => format!("\"{s}\""),
    }
}

/// The root-relative path an import names, or an escape error.
fn resolve_path(imp: &Import, from: &str) -> Result<String, Error> {
    let escape = || Error::ImportEscape {
        file: from.to_owned(),
        line: imp.span.line,
        col: imp.span.col,
        path: import_text(&imp.path),
    };
    match &imp.path {
        ImportPath::Dotted(parts) => Ok(format!("{}.lig", parts.join("/"))),
        ImportPath::File(s) => {
            if s.starts_with('/') || s.contains('\\') || s.contains(':') {
                return Err(escape());
            }
            let mut out: Vec<&str> = Vec::new();
            for part in s.split('/') {
                match part {
                    "" | "." => {}
                    ".." => {
                        if out.pop().is_none() {
                            return Err(escape());
                        }
                    }
                    p => out.push(p),
                }
            }
            if out.is_empty() {
                return Err(escape());
            }
            Ok(out.join("/"))
        }
    }
}

impl Source {
    /// Reads `rel`; `Ok(None)` if it does not exist.
    fn read(&self, rel: &str) -> Result<Option<String>, Error> {
        match self {
            Source::Memory(files) => Ok(files.get(rel).cloned()),
            Source::Dir(root) => {
                let path = root.join(rel);
                if !path.exists() {
                    return Ok(None);
                }
                let io = |e: std::io::Error| Error::Io {
                    path: path.display().to_string(),
                    message: e.to_string(),
                };
                let canon_root = root.canonicalize().map_err(io)?;
                let canon = path.canonicalize().map_err(io)?;
                if !canon.starts_with(&canon_root) {
                    return Err(Error::ImportEscape {
                        file: rel.to_owned(),
                        line: 1,
                        col: 1,
                        path: format!("{} (a link to {})", rel, canon.display()),
                    });
                }
                std::fs::read_to_string(&canon).map(Some).map_err(io)
            }
        }
    }
}

fn parse(rel: &str, src: &str, cache: &ConcurrentCache) -> Result<Arc<Module>, Error> {
    cache.parsed_or(hash_of(&(rel, src)), || {
        parse_module(src).map(Arc::new).map_err(|e| Error::Syntax {
            file: rel.to_owned(),
            line: e.span.line,
            col: e.span.col,
            message: e.message,
        })
    })
}

struct Frame {
    file: String,
    ast: Arc<Module>,
    next: usize,
    imports: Vec<usize>,
}

/// Loads `root` and, depth first without recursion, everything it imports.
pub(crate) fn load(source: &Source, root: &str, cache: &ConcurrentCache) -> Result<Program, Error> {
    let src = source.read(root)?.ok_or_else(|| Error::Io {
        path: match source {
            Source::Dir(d) => d.join(root).display().to_string(),
            Source::Memory(_) => root.to_owned(),
        },
        message: "no such file".into(),
    })?;
    let mut done: HashMap<String, usize> = HashMap::new();
    let mut modules: Vec<LoadedModule> = Vec::new();
    let mut stack = vec![Frame {
        file: root.to_owned(),
        ast: parse(root, &src, cache)?,
        next: 0,
        imports: Vec::new(),
    }];
    while let Some(top) = stack.last_mut() {
        if top.next < top.ast.imports.len() {
            let imp = top.ast.imports[top.next].clone();
            top.next += 1;
            let rel = resolve_path(&imp, &top.file)?;
            if let Some(&i) = done.get(&rel) {
                top.imports.push(i);
                continue;
            }
            let from = top.file.clone();
            if let Some(pos) = stack.iter().position(|f| f.file == rel) {
                let mut cycle: Vec<String> = stack[pos..].iter().map(|f| f.file.clone()).collect();
                cycle.push(rel);
                return Err(Error::ImportCycle { cycle });
            }
            let Some(text) = source.read(&rel)? else {
                return Err(Error::ImportNotFound {
                    file: from,
                    line: imp.span.line,
                    col: imp.span.col,
                    path: import_text(&imp.path),
                });
            };
            let ast = parse(&rel, &text, cache)?;
            stack.push(Frame {
                file: rel,
                ast,
                next: 0,
                imports: Vec::new(),
            });
        } else if let Some(f) = stack.pop() {
            let idx = modules.len();
            done.insert(f.file.clone(), idx);
            modules.push(LoadedModule {
                ast_hash: hash_of(&*f.ast),
                file: f.file,
                ast: f.ast,
                imports: f.imports,
            });
            if let Some(parent) = stack.last_mut() {
                parent.imports.push(idx);
            }
        }
    }
    let declarations = modules.iter().map(|m| m.ast.lets.len()).sum();
    Ok(Program {
        modules,
        declarations,
    })
}

/// Splits a file path into the resolver root (its directory) and the root module.
pub(crate) fn split_root(path: &Path) -> Result<(PathBuf, String), Error> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Io {
            path: path.display().to_string(),
            message: "not a file name".into(),
        })?
        .to_owned();
    let dir = match path.parent() {
        Some(p) if p.components().any(|c| !matches!(c, Component::CurDir)) => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Span;

    fn imp(path: ImportPath) -> Import {
        Import {
            path,
            alias: "a".into(),
            span: Span::default(),
        }
    }

    #[test]
    fn import_paths_normalise_under_the_root() {
        let dotted = imp(ImportPath::Dotted(vec!["lib".into(), "net".into()]));
        assert_eq!(resolve_path(&dotted, "main.lig").unwrap(), "lib/net.lig");
        let file = imp(ImportPath::File("./lib/../util/x.lig".into()));
        assert_eq!(resolve_path(&file, "main.lig").unwrap(), "util/x.lig");
        for bad in [
            "../x.lig",
            "/etc/passwd",
            "a/../../x.lig",
            "..",
            "c:\\x",
            "",
        ] {
            let r = resolve_path(&imp(ImportPath::File(bad.into())), "main.lig");
            assert!(matches!(r, Err(Error::ImportEscape { .. })), "{bad}");
        }
    }
}
