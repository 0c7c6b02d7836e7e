//! Loading a program: the root module and everything it imports, through a resolver
//! rooted at one directory (or an in-memory map of files).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

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

/// Bounds on loading a program.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadLimits {
    /// Largest file read, in bytes.
    pub(crate) max_input_size: u64,
    /// When to stop with [`Error::Timeout`], and the timeout it came from.
    pub(crate) deadline: Option<(Instant, Duration)>,
}

impl LoadLimits {
    fn check_time(&self, file: &str) -> Result<(), Error> {
        match self.deadline {
            Some((deadline, after)) if Instant::now() >= deadline => Err(Error::Timeout {
                after_ms: after.as_millis().min(u64::MAX as u128) as u64,
                file: file.to_owned(),
                phase: "parsing".into(),
            }),
            _ => Ok(()),
        }
    }
}

/// Decodes `bytes` as UTF-8; invalid input is a syntax error at the line and column
/// (in characters, 1-based) of the first bad byte.
pub(crate) fn decode_utf8(file: &str, bytes: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let good = &bytes[..at];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        // The prefix is valid UTF-8, so this counts characters.
        let col = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
        Error::Syntax {
            file: file.to_owned(),
            line: line as u32,
            col: col as u32,
            message: format!("invalid UTF-8 (byte 0x{:02x})", bytes[at]),
        }
    })
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
    fn read(&self, rel: &str, limits: &LoadLimits) -> Result<Option<String>, Error> {
        match self {
            Source::Memory(files) => match files.get(rel) {
                Some(text) if text.len() as u64 > limits.max_input_size => {
                    Err(Error::InputTooLarge {
                        path: rel.to_owned(),
                        size: text.len() as u64,
                        limit: limits.max_input_size,
                    })
                }
                other => Ok(other.cloned()),
            },
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
                let file = std::fs::File::open(&canon).map_err(io)?;
                let size = file.metadata().map_err(io)?.len();
                let too_large = |size| Error::InputTooLarge {
                    path: path.display().to_string(),
                    size,
                    limit: limits.max_input_size,
                };
                if size > limits.max_input_size {
                    return Err(too_large(size));
                }
                // Read one byte past the limit: a file that grew since its metadata
                // was read is still caught.
                let mut bytes = Vec::with_capacity(size as usize);
                file.take(limits.max_input_size.saturating_add(1))
                    .read_to_end(&mut bytes)
                    .map_err(io)?;
                if bytes.len() as u64 > limits.max_input_size {
                    return Err(too_large(bytes.len() as u64));
                }
                decode_utf8(rel, bytes).map(Some)
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
pub(crate) fn load(
    source: &Source,
    root: &str,
    cache: &ConcurrentCache,
    limits: &LoadLimits,
) -> Result<Program, Error> {
    let src = source.read(root, limits)?.ok_or_else(|| Error::Io {
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
            limits.check_time(&rel)?;
            let Some(text) = source.read(&rel, limits)? else {
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
    limits.check_time(root)?;
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
    fn loading_stops_at_the_deadline_naming_the_file() {
        let files: HashMap<String, String> = [
            (
                "main.lig".to_owned(),
                "import lib;\nlet a = lib.b;".to_owned(),
            ),
            ("lib.lig".to_owned(), "let b = 1;".to_owned()),
        ]
        .into_iter()
        .collect();
        let limits = LoadLimits {
            max_input_size: 1 << 20,
            deadline: Some((Instant::now(), Duration::from_millis(7))),
        };
        let e = load(
            &Source::Memory(files),
            "main.lig",
            &ConcurrentCache::new(0),
            &limits,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "lib.lig: timed out after 7 ms while parsing");
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_line_and_column() {
        let e = decode_utf8("m.lig", b"let a = 1;\nlet \xc3\xa9\xff = 2;".to_vec()).unwrap_err();
        assert_eq!(
            e,
            Error::Syntax {
                file: "m.lig".into(),
                line: 2,
                col: 6,
                message: "invalid UTF-8 (byte 0xff)".into(),
            }
        );
        assert!(decode_utf8("m.lig", b"ok".to_vec()).is_ok());
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
