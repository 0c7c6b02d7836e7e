//! The evaluator: strict, call-by-value, one top-level binding at a time.
//!
//! Each top-level binding lives in a [`OnceLock`] cell of its module's
//! [`ModuleRuntime`]: whoever forces it first computes it, everybody else (another
//! binding on another thread) parks until the value is there. That is the
//! single-flight the parallel engine relies on; it cannot deadlock because the type
//! checker only lets functions be recursive, so forcing a binding never waits on
//! itself.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use crate::ast::*;
use crate::error::Error;
use crate::stdlib::{self, Builtin, Fail, Host};
use crate::sync::{Arc, AtomicBool, AtomicU64, OnceLock, Ordering, Weak};

/// A value produced by evaluation.
#[derive(Clone)]
pub enum Value {
    /// `()`.
    Unit,
    /// `true` or `false`.
    Bool(bool),
    /// A 64-bit integer (arithmetic is checked: overflow is an error).
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A string.
    Str(Arc<str>),
    /// A list.
    List(Arc<Vec<Value>>),
    /// A record; fields are kept sorted by name.
    Record(Arc<BTreeMap<String, Value>>),
    /// A union constructor with its payload, if any: `Some(1)`, `None`.
    Ctor(Arc<str>, Option<Arc<Value>>),
    /// A function (a closure or a constructor waiting for its payload).
    Function(Function),
}

/// An opaque function value.
#[derive(Clone)]
pub struct Function(FnRepr);

#[derive(Clone)]
enum FnRepr {
    Closure {
        lambda: Arc<Lambda>,
        env: Env,
        module: Weak<ModuleRuntime>,
    },
    Ctor(Arc<str>),
    /// A built-in with the arguments it has been given so far (fewer than its arity).
    Builtin(Builtin, Arc<Vec<Value>>),
    /// A constructor whose payload type has refinements, checked in `module` (the
    /// module declaring the union).
    CheckedCtor(Arc<CheckedCtor>),
    /// A function that entered a type with refinements in its parameter or result:
    /// calls check both.
    Checked(Arc<CheckedFn>),
    /// A type class method with the arguments given so far.
    Method(Arc<MethodCall>),
}

// Behind an `Arc` so that `Value` stays small: every level of evaluation keeps
// several values on the stack.
struct CheckedCtor {
    name: Arc<str>,
    payload: TypeExpr,
    module: Weak<ModuleRuntime>,
}

/// The type is read in `module`, where it was written, with `env` in scope.
struct CheckedFn {
    inner: Value,
    param: TypeExpr,
    result: TypeExpr,
    env: Env,
    module: Weak<ModuleRuntime>,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<function>")
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl PartialEq for Value {
    /// Structural equality; two functions are never equal.
    fn eq(&self, other: &Self) -> bool {
        value_eq(self, other).unwrap_or(false)
    }
}

/// Structural equality; `None` when a function is compared.
pub(crate) fn values_equal(a: &Value, b: &Value) -> Option<bool> {
    value_eq(a, b)
}

fn value_eq(a: &Value, b: &Value) -> Option<bool> {
    Some(match (a, b) {
        (Value::Unit, Value::Unit) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            if x.len() != y.len() {
                return Some(false);
            }
            for (p, q) in x.iter().zip(y.iter()) {
                if !value_eq(p, q)? {
                    return Some(false);
                }
            }
            true
        }
        (Value::Record(x), Value::Record(y)) => {
            if x.len() != y.len() {
                return Some(false);
            }
            for ((k1, v1), (k2, v2)) in x.iter().zip(y.iter()) {
                if k1 != k2 || !value_eq(v1, v2)? {
                    return Some(false);
                }
            }
            true
        }
        (Value::Ctor(n1, p1), Value::Ctor(n2, p2)) => {
            n1 == n2
                && match (p1, p2) {
                    (Some(a), Some(b)) => value_eq(a, b)?,
                    (None, None) => true,
                    _ => false,
                }
        }
        (Value::Function(_), _) | (_, Value::Function(_)) => return None,
        _ => false,
    })
}

impl Drop for Value {
    /// Dismantles nested values with an explicit stack: a value built by deep
    /// recursion (a long chain of constructors) would otherwise be freed by a recursion
    /// as deep as the value, which can overflow a small thread stack.
    fn drop(&mut self) {
        let mut stack = Vec::new();
        take_children(self, &mut stack);
        while let Some(mut v) = stack.pop() {
            take_children(&mut v, &mut stack);
        }
    }
}

/// Moves out the children that this value owns alone (shared ones are left to their
/// other owners).
fn take_children(v: &mut Value, stack: &mut Vec<Value>) {
    match v {
        Value::List(xs) => {
            if let Some(xs) = Arc::get_mut(xs) {
                stack.append(xs);
            }
        }
        Value::Record(fs) => {
            if let Some(fs) = Arc::get_mut(fs) {
                stack.extend(std::mem::take(fs).into_values());
            }
        }
        Value::Ctor(_, Some(p)) => {
            if let Some(p) = Arc::get_mut(p) {
                stack.push(std::mem::replace(p, Value::Unit));
            }
        }
        _ => {}
    }
}

/// Values nested deeper than this are not printed or serialised (the printers recurse).
const MAX_PRINT_DEPTH: usize = 256;

fn write_str_lit(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    write!(f, "\"")?;
    for c in s.chars() {
        match c {
            '"' => write!(f, "\\\"")?,
            '\\' => write!(f, "\\\\")?,
            '\n' => write!(f, "\\n")?,
            '\t' => write!(f, "\\t")?,
            '\r' => write!(f, "\\r")?,
            c => write!(f, "{c}")?,
        }
    }
    write!(f, "\"")
}

impl fmt::Display for Value {
    /// The value in the language's own syntax (the `--format text` output). Parts
    /// nested deeper than 256 levels are shown as `...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_text(f, 0)
    }
}

impl Value {
    fn write_text(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        if depth > MAX_PRINT_DEPTH {
            return write!(f, "...");
        }
        let d = depth + 1;
        match self {
            Value::Unit => write!(f, "()"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => {
                if x.fract() == 0.0 && x.is_finite() {
                    write!(f, "{x:.1}")
                } else {
                    write!(f, "{x}")
                }
            }
            Value::Str(s) => write_str_lit(f, s),
            Value::List(xs) => {
                write!(f, "[")?;
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    x.write_text(f, d)?;
                }
                write!(f, "]")
            }
            Value::Record(fs) => {
                if fs.is_empty() {
                    return write!(f, "{{}}");
                }
                write!(f, "{{ ")?;
                for (i, (k, v)) in fs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k} = ")?;
                    v.write_text(f, d)?;
                }
                write!(f, " }}")
            }
            Value::Ctor(n, None) => write!(f, "{n}"),
            Value::Ctor(n, Some(p)) => {
                write!(f, "{n}(")?;
                p.write_text(f, d)?;
                write!(f, ")")
            }
            Value::Function(_) => write!(f, "<function>"),
        }
    }

    /// The value as JSON: records become objects, lists arrays, `()` `null`, `None`
    /// the string `"None"` and `Some(x)` the object `{"Some": x}`. Functions and
    /// non-finite floats cannot be written and give [`Error::Serialise`].
    ///
    /// At most [`Value::MAX_JSON_VALUES`] JSON values are written: a value shares its
    /// parts in memory (a record holding the same list twice holds it once), and JSON
    /// repeats them, so a small value can have an exponentially large JSON form.
    pub fn to_json(&self) -> Result<serde_json::Value, Error> {
        self.to_json_within(Self::MAX_JSON_VALUES)
    }

    /// The default bound of [`Value::to_json`] on the number of JSON values written.
    pub const MAX_JSON_VALUES: u64 = 1 << 22;

    /// [`Value::to_json`] with at most `max_values` JSON values (numbers, strings,
    /// arrays, objects, ... each count one); more is [`Error::Serialise`].
    pub fn to_json_within(&self, max_values: u64) -> Result<serde_json::Value, Error> {
        let mut budget = max_values;
        self.json_at(0, &mut budget)
    }

    fn json_at(&self, depth: usize, budget: &mut u64) -> Result<serde_json::Value, Error> {
        use serde_json::Value as J;
        if depth > MAX_PRINT_DEPTH {
            return Err(Error::Serialise {
                message: format!("the value is nested deeper than {MAX_PRINT_DEPTH} levels"),
            });
        }
        if *budget == 0 {
            return Err(Error::Serialise {
                message: "the result has too many JSON values (parts it shares in memory \
                          are repeated in JSON)"
                    .into(),
            });
        }
        *budget -= 1;
        let d = depth + 1;
        Ok(match self {
            Value::Unit => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(x) => match serde_json::Number::from_f64(*x) {
                Some(n) => J::Number(n),
                None => {
                    return Err(Error::Serialise {
                        message: format!("the float {x} has no JSON form"),
                    })
                }
            },
            Value::Str(s) => J::String(s.to_string()),
            Value::List(xs) => J::Array(
                xs.iter()
                    .map(|x| x.json_at(d, budget))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Record(fs) => {
                let mut m = serde_json::Map::new();
                for (k, v) in fs.iter() {
                    m.insert(k.clone(), v.json_at(d, budget)?);
                }
                J::Object(m)
            }
            Value::Ctor(n, None) => J::String(n.to_string()),
            Value::Ctor(n, Some(p)) => {
                let mut m = serde_json::Map::new();
                m.insert(n.to_string(), p.json_at(d, budget)?);
                J::Object(m)
            }
            Value::Function(_) => {
                return Err(Error::Serialise {
                    message: "a function has no JSON form".into(),
                })
            }
        })
    }
}

/// A persistent linked list of local bindings; closures share their tail.
#[derive(Clone, Default)]
struct Env(Option<Arc<EnvNode>>);

struct EnvNode {
    name: String,
    value: Value,
    next: Env,
}

impl Env {
    fn push(&self, name: &str, value: Value) -> Env {
        Env(Some(Arc::new(EnvNode {
            name: name.to_owned(),
            value,
            next: self.clone(),
        })))
    }
    fn get(&self, name: &str) -> Option<&Value> {
        let mut cur = &self.0;
        while let Some(node) = cur {
            if node.name == name {
                return Some(&node.value);
            }
            cur = &node.next.0;
        }
        None
    }
}

/// An alias as the evaluator needs it for refinement checks.
pub(crate) struct AliasDef {
    params: Vec<String>,
    body: TypeExpr,
    /// `None` when the alias is declared in this module, else the import alias of the
    /// module that declares it.
    owner: Option<String>,
}

/// A constructor as the evaluator needs it.
#[derive(Clone)]
struct CtorDef {
    has_payload: bool,
    /// The payload's type and the module declaring it, when that type has
    /// refinements to check on construction.
    refined: Option<(Arc<TypeExpr>, Weak<ModuleRuntime>)>,
}

/// An instance at run time: which values it is for, and its methods' code.
struct InstanceRt {
    class: Arc<str>,
    head: RtHead,
    methods: HashMap<String, Expr>,
    /// The module declaring the instance, where its methods are evaluated.
    module: Weak<ModuleRuntime>,
}

/// The values an instance is for.
#[derive(Debug, PartialEq)]
enum RtHead {
    Unit,
    Bool,
    Int,
    Float,
    Str,
    List,
    /// A union, by its constructors.
    Ctors(Arc<Vec<String>>),
    /// A record type, by its field names (sorted).
    Fields(Vec<String>),
}

impl RtHead {
    fn matches(&self, v: &Value) -> bool {
        match (self, v) {
            (RtHead::Unit, Value::Unit)
            | (RtHead::Bool, Value::Bool(_))
            | (RtHead::Int, Value::Int(_))
            | (RtHead::Float, Value::Float(_))
            | (RtHead::Str, Value::Str(_))
            | (RtHead::List, Value::List(_)) => true,
            (RtHead::Ctors(cs), Value::Ctor(n, _)) => cs.iter().any(|c| c.as_str() == &**n),
            (RtHead::Fields(fs), Value::Record(r)) => {
                fs.len() == r.len() && fs.iter().zip(r.keys()).all(|(a, b)| a == b)
            }
            _ => false,
        }
    }
}

/// The head of an instance's type, looking through aliases.
fn rt_head(
    te: &TypeExpr,
    aliases: &HashMap<String, AliasDef>,
    imports: &HashMap<String, Arc<ModuleRuntime>>,
    unions: &HashMap<String, Arc<Vec<String>>>,
    depth: usize,
) -> Option<RtHead> {
    if depth > 64 {
        return None;
    }
    match te {
        TypeExpr::Refine(base, _) => rt_head(base, aliases, imports, unions, depth + 1),
        TypeExpr::Record(fs) => {
            let mut names: Vec<String> = fs.iter().map(|(n, _)| n.clone()).collect();
            names.sort();
            Some(RtHead::Fields(names))
        }
        TypeExpr::Named(name, _, _) => Some(match name.as_str() {
            "Unit" => RtHead::Unit,
            "Bool" => RtHead::Bool,
            "Integer" => RtHead::Int,
            "Float" => RtHead::Float,
            "String" => RtHead::Str,
            "List" => RtHead::List,
            _ => {
                if let Some(cs) = unions.get(name) {
                    return Some(RtHead::Ctors(cs.clone()));
                }
                let alias = aliases.get(name)?;
                return match &alias.owner {
                    None => rt_head(&alias.body, aliases, imports, unions, depth + 1),
                    Some(o) => {
                        let rt = imports.get(o)?;
                        rt_head(&alias.body, &rt.aliases, &rt.imports, &rt.unions, depth + 1)
                    }
                };
            }
        }),
        TypeExpr::Var(_) | TypeExpr::Fun(..) => None,
    }
}

/// The index of a method's first argument whose type is the class variable `param`.
fn dispatch_index(sig: &TypeExpr, param: &str) -> usize {
    let mut cur = sig;
    let mut i = 0;
    while let TypeExpr::Fun(a, rest) = cur {
        if matches!(&**a, TypeExpr::Var(v) if v == param) {
            return i;
        }
        cur = rest;
        i += 1;
    }
    0
}

/// A type class method waiting for the argument that selects its instance.
struct MethodCall {
    name: String,
    class: Arc<str>,
    dispatch: usize,
    args: Vec<Value>,
    /// The module where the method was named: its instances are the candidates.
    module: Weak<ModuleRuntime>,
}

/// Whether `te` (read in a module with these aliases and imports) has a `where`
/// anywhere, looking through aliases. Conservative (true) past 64 alias levels.
fn has_refinement(
    te: &TypeExpr,
    aliases: &HashMap<String, AliasDef>,
    imports: &HashMap<String, Arc<ModuleRuntime>>,
    depth: usize,
) -> bool {
    if depth > 64 {
        return true;
    }
    match te {
        TypeExpr::Refine(..) => true,
        TypeExpr::Var(_) => false,
        TypeExpr::Record(fs) => fs
            .iter()
            .any(|(_, t)| has_refinement(t, aliases, imports, depth + 1)),
        TypeExpr::Fun(a, b) => {
            has_refinement(a, aliases, imports, depth + 1)
                || has_refinement(b, aliases, imports, depth + 1)
        }
        TypeExpr::Named(name, args, _) => {
            if args
                .iter()
                .any(|a| has_refinement(a, aliases, imports, depth + 1))
            {
                return true;
            }
            match aliases.get(name) {
                None => false,
                Some(AliasDef {
                    body, owner: None, ..
                }) => has_refinement(body, aliases, imports, depth + 1),
                Some(AliasDef {
                    body,
                    owner: Some(o),
                    ..
                }) => match imports.get(o) {
                    Some(rt) => has_refinement(body, &rt.aliases, &rt.imports, depth + 1),
                    None => true,
                },
            }
        }
    }
}

/// The run-time form of one module: its top-level cells and its imports.
pub(crate) struct ModuleRuntime {
    pub(crate) file: String,
    index: HashMap<String, usize>,
    pub(crate) decls: Vec<Arc<LetDecl>>,
    /// Invariant: a cell is written once, by the thread that forced the binding
    /// first; the value never changes afterwards.
    cells: Vec<OnceLock<Result<Value, Error>>>,
    imports: HashMap<String, Arc<ModuleRuntime>>,
    ctors: HashMap<String, CtorDef>,
    aliases: HashMap<String, AliasDef>,
    /// Type class methods in scope: name to (class, index of the dispatching argument).
    methods: HashMap<String, (Arc<str>, usize)>,
    /// Instances visible here: the imports' and this module's.
    instances: Vec<Arc<InstanceRt>>,
    /// Unions in scope (own and imported): their constructors, for instance heads.
    unions: HashMap<String, Arc<Vec<String>>>,
    /// Values imported unqualified (`import lib { a }`): the module and the binding.
    selected: HashMap<String, (Arc<ModuleRuntime>, usize)>,
    /// The root module's output lists these names (exports, or everything).
    pub(crate) exported: Vec<usize>,
    exported_types: std::collections::HashSet<String>,
}

impl ModuleRuntime {
    /// Builds the (unevaluated) runtime of `module`, whose imports are `imports`
    /// (aligned with `module.imports`).
    pub(crate) fn new(file: &str, module: &Module, imports: Vec<Arc<ModuleRuntime>>) -> Arc<Self> {
        let mut ctors = HashMap::new();
        let mut aliases = HashMap::new();
        let mut import_map = HashMap::new();
        let mut methods = HashMap::new();
        let mut instances: Vec<Arc<InstanceRt>> = Vec::new();
        let mut unions: HashMap<String, Arc<Vec<String>>> = HashMap::new();
        for (imp, rt) in module.imports.iter().zip(imports) {
            for (name, def) in rt.exported_ctors() {
                ctors.insert(name, def);
            }
            for (name, m) in &rt.methods {
                methods.insert(name.clone(), m.clone());
            }
            for i in &rt.instances {
                if !instances.iter().any(|j| Arc::ptr_eq(i, j)) {
                    instances.push(i.clone());
                }
            }
            for (name, cs) in &rt.unions {
                unions.entry(name.clone()).or_insert_with(|| cs.clone());
            }
            for (name, (params, body)) in rt.exported_aliases() {
                aliases.insert(
                    name,
                    AliasDef {
                        params,
                        body,
                        owner: Some(imp.alias.clone()),
                    },
                );
            }
            import_map.insert(imp.alias.clone(), rt);
        }
        for c in &module.classes {
            let class: Arc<str> = c.name.as_str().into();
            for (name, sig) in &c.methods {
                methods.insert(name.clone(), (class.clone(), dispatch_index(sig, &c.param)));
            }
        }
        for td in &module.types {
            match &td.body {
                TypeBody::Union(vs) => {
                    unions.insert(
                        td.name.clone(),
                        Arc::new(vs.iter().map(|v| v.name.clone()).collect()),
                    );
                }
                TypeBody::Alias(body) => {
                    aliases.insert(
                        td.name.clone(),
                        AliasDef {
                            params: td.params.clone(),
                            body: body.clone(),
                            owner: None,
                        },
                    );
                }
            }
        }
        let mut selected = HashMap::new();
        for s in &module.selected {
            if let Some(rt) = import_map.get(&s.import) {
                if let Some(&i) = rt.index.get(&s.name) {
                    selected.insert(s.local.clone(), (rt.clone(), i));
                }
            }
        }
        let all = crate::types::exports_all(module);
        Arc::new_cyclic(|me| {
            for inst in &module.instances {
                let Some(head) = rt_head(&inst.ty, &aliases, &import_map, &unions, 0) else {
                    continue;
                };
                instances.push(Arc::new(InstanceRt {
                    class: inst.class.as_str().into(),
                    head,
                    methods: inst.methods.iter().cloned().collect(),
                    module: me.clone(),
                }));
            }
            for td in &module.types {
                let TypeBody::Union(vs) = &td.body else {
                    continue;
                };
                for v in vs {
                    let refined = v
                        .payload
                        .as_ref()
                        .filter(|p| has_refinement(p, &aliases, &import_map, 0))
                        .map(|p| (Arc::new(p.clone()), me.clone()));
                    ctors.insert(
                        v.name.clone(),
                        CtorDef {
                            has_payload: v.payload.is_some(),
                            refined,
                        },
                    );
                }
            }
            ModuleRuntime {
                file: file.to_owned(),
                index: module
                    .lets
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (l.name.clone(), i))
                    .collect(),
                decls: module.lets.clone(),
                cells: module.lets.iter().map(|_| OnceLock::new()).collect(),
                imports: import_map,
                ctors,
                aliases,
                methods,
                instances,
                unions,
                selected,
                exported: module
                    .lets
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| all || l.exported)
                    .map(|(i, _)| i)
                    .collect(),
                exported_types: module
                    .types
                    .iter()
                    .filter(|t| all || t.exported)
                    .map(|t| t.name.clone())
                    .collect(),
            }
        })
    }

    fn exported_ctors(&self) -> Vec<(String, CtorDef)> {
        // Constructors travel with their union; the checker already restricted what
        // is visible, so the runtime may simply offer all of its own.
        self.ctors
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn exported_aliases(&self) -> Vec<(String, (Vec<String>, TypeExpr))> {
        self.aliases
            .iter()
            .filter(|(n, a)| a.owner.is_none() && self.exported_types.contains(*n))
            .map(|(n, a)| (n.clone(), (a.params.clone(), a.body.clone())))
            .collect()
    }

    /// The result of binding `i`, if it has been computed.
    pub(crate) fn result(&self, i: usize) -> Option<&Result<Value, Error>> {
        self.cells[i].get()
    }

    /// Whether every binding has been computed successfully.
    pub(crate) fn all_ok(&self) -> bool {
        self.cells.iter().all(|c| matches!(c.get(), Some(Ok(_))))
    }

    pub(crate) fn len(&self) -> usize {
        self.cells.len()
    }
}

/// The limits of one evaluation, shared by every thread taking part in it.
pub(crate) struct Limits {
    start: Instant,
    timeout: Option<Duration>,
    max_steps: u64,
    max_depth: usize,
    /// Largest string (bytes) or list (elements) an operation may build.
    max_value_size: usize,
    steps: AtomicU64,
    /// Set by the first thread that notices the deadline; the others stop at their
    /// next checkpoint.
    cancelled: AtomicBool,
}

/// Steps a thread takes between looks at the shared counters and the clock.
const CHECK_EVERY: u64 = 256;

impl Limits {
    /// Limits of an evaluation whose time started at `start` (the timeout also
    /// covers the type check before it).
    pub(crate) fn new(
        start: Instant,
        timeout: Option<Duration>,
        max_steps: u64,
        max_depth: usize,
        max_value_size: usize,
    ) -> Self {
        Limits {
            start,
            timeout,
            max_steps,
            max_depth,
            max_value_size,
            steps: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
        }
    }

    /// Steps counted so far (approximate while threads are still running).
    pub(crate) fn steps(&self) -> u64 {
        self.steps.load(Ordering::Relaxed)
    }
}

/// The evaluator as the standard library sees it: calls made at `span`.
struct CtxHost<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    span: Span,
}

impl Host for CtxHost<'_, '_> {
    fn call(&mut self, f: &Value, arg: Value) -> Result<Value, Error> {
        self.ctx.apply(f.clone(), arg, self.span)
    }
    fn charge(&mut self, n: u64) -> Result<(), Error> {
        self.ctx.charge(n, self.span)
    }
    fn check_size(&mut self, what: &str, size: usize) -> Result<(), Error> {
        self.ctx.check_size(self.span, what, size)
    }
    fn size_limit(&self) -> usize {
        self.ctx.limits.max_value_size
    }
}

/// One thread's evaluation state.
pub(crate) struct Ctx<'a> {
    limits: &'a Limits,
    local_steps: u64,
    depth: usize,
    binding: String,
    file: String,
    forcing: Vec<(usize, usize)>,
}

impl Drop for Ctx<'_> {
    fn drop(&mut self) {
        self.limits
            .steps
            .fetch_add(self.local_steps % CHECK_EVERY, Ordering::Relaxed);
    }
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(limits: &'a Limits) -> Self {
        Ctx {
            limits,
            local_steps: 0,
            depth: 0,
            binding: String::new(),
            file: String::new(),
            forcing: Vec::new(),
        }
    }

    /// An error about a value, shown short. Out of line: its formatting would
    /// otherwise enlarge the frame of `eval_inner`, which every level of recursion pays.
    #[cold]
    #[inline(never)]
    fn fail_value<T>(&self, span: Span, before: &str, v: &Value, after: &str) -> Result<T, Error> {
        self.fail(span, format!("{before}{}{after}", short(v)))
    }

    fn fail<T>(&self, span: Span, message: impl Into<String>) -> Result<T, Error> {
        Err(Error::Eval {
            file: self.file.clone(),
            binding: self.binding.clone(),
            line: span.line,
            col: span.col,
            message: message.into(),
        })
    }

    /// Fails with [`Error::ValueTooLarge`] when an operation would build a `what` of
    /// `size` (bytes of a string, elements of a list or record) above the limit;
    /// called before allocating.
    pub(crate) fn check_size(&self, span: Span, what: &str, size: usize) -> Result<(), Error> {
        if size <= self.limits.max_value_size {
            return Ok(());
        }
        Err(Error::ValueTooLarge {
            file: self.file.clone(),
            binding: self.binding.clone(),
            line: span.line,
            col: span.col,
            message: format!(
                "{what} of {size} would exceed the limit of {}",
                self.limits.max_value_size
            ),
        })
    }

    fn checkpoint(&mut self, span: Span) -> Result<(), Error> {
        self.charge(CHECK_EVERY, span)
    }

    /// Computes (or waits for, or reads) top-level binding `i` of `module`.
    pub(crate) fn force(&mut self, module: &Arc<ModuleRuntime>, i: usize) -> Result<Value, Error> {
        if let Some(r) = module.cells[i].get() {
            return r.clone();
        }
        let key = (Arc::as_ptr(module) as usize, i);
        if self.forcing.contains(&key) {
            // The checker rejects value recursion, so this is a defence in depth:
            // re-entering a OnceLock from its own initialiser would deadlock.
            let d = &module.decls[i];
            return self.fail(d.span, format!("`{}` depends on its own value", d.name));
        }
        self.forcing.push(key);
        let saved = (
            std::mem::replace(&mut self.binding, module.decls[i].name.clone()),
            std::mem::replace(&mut self.file, module.file.clone()),
        );
        let r = module.cells[i]
            .get_or_init(|| {
                let d = module.decls[i].clone();
                let v = self.eval(&d.value, &Env::default(), module)?;
                match &d.ann {
                    Some(ann) => {
                        let what = What::Binding(&d.name);
                        self.enter_type(v, ann, &Env::default(), module, d.value.span, &what)
                    }
                    None => Ok(v),
                }
            })
            .clone();
        self.binding = saved.0;
        self.file = saved.1;
        self.forcing.pop();
        r
    }

    fn eval(&mut self, e: &Expr, env: &Env, module: &Arc<ModuleRuntime>) -> Result<Value, Error> {
        self.depth += 1;
        let r = if self.depth > self.limits.max_depth {
            Err(Error::RecursionLimit {
                limit: self.limits.max_depth,
                file: self.file.clone(),
                binding: self.binding.clone(),
                line: e.span.line,
                col: e.span.col,
            })
        } else {
            self.local_steps += 1;
            if self.local_steps.is_multiple_of(CHECK_EVERY) {
                self.checkpoint(e.span)
                    .and_then(|_| self.eval_inner(e, env, module))
            } else {
                self.eval_inner(e, env, module)
            }
        };
        self.depth -= 1;
        r
    }

    fn lookup(
        &mut self,
        name: &str,
        env: &Env,
        module: &Arc<ModuleRuntime>,
        span: Span,
    ) -> Result<Value, Error> {
        if let Some(v) = env.get(name) {
            return Ok(v.clone());
        }
        if let Some(&i) = module.index.get(name) {
            return self.force(module, i);
        }
        if let Some((rt, i)) = module.selected.get(name) {
            let rt = rt.clone();
            return self.force(&rt, *i);
        }
        if let Some((class, dispatch)) = module.methods.get(name) {
            return Ok(Value::Function(Function(FnRepr::Method(Arc::new(
                MethodCall {
                    name: name.to_owned(),
                    class: class.clone(),
                    dispatch: *dispatch,
                    args: Vec::new(),
                    module: Arc::downgrade(module),
                },
            )))));
        }
        if let Some(b) = Builtin::lookup(name) {
            return Ok(Value::Function(Function(FnRepr::Builtin(
                b,
                Arc::new(Vec::new()),
            ))));
        }
        self.fail(span, format!("unknown variable `{name}`"))
    }

    /// Counts `n` steps of built-in work against the step limit.
    fn charge(&mut self, n: u64, span: Span) -> Result<(), Error> {
        if n == 0 {
            return Ok(());
        }
        let total = self
            .limits
            .steps
            .fetch_add(n, Ordering::Relaxed)
            .saturating_add(n);
        if total > self.limits.max_steps {
            return Err(Error::StepLimit {
                limit: self.limits.max_steps,
                file: self.file.clone(),
                binding: self.binding.clone(),
                line: span.line,
                col: span.col,
            });
        }
        let timed_out = self.limits.cancelled.load(Ordering::Relaxed)
            || self
                .limits
                .timeout
                .is_some_and(|t| self.limits.start.elapsed() > t);
        if timed_out {
            self.limits.cancelled.store(true, Ordering::Relaxed);
            return Err(Error::EvaluationTimeout {
                after_ms: self.limits.timeout.map_or(0, |t| t.as_millis() as u64),
                file: self.file.clone(),
                binding: self.binding.clone(),
                line: span.line,
                col: span.col,
            });
        }
        Ok(())
    }

    fn run_builtin(&mut self, b: Builtin, args: &[Value], span: Span) -> Result<Value, Error> {
        let mut host = CtxHost { ctx: self, span };
        match stdlib::call(b, args, &mut host) {
            Ok(v) => Ok(v),
            Err(Fail::Err(e)) => Err(e),
            Err(Fail::Msg(m)) => self.fail(span, format!("`{}`: {m}", b.name())),
        }
    }

    fn eval_inner(
        &mut self,
        e: &Expr,
        env: &Env,
        module: &Arc<ModuleRuntime>,
    ) -> Result<Value, Error> {
        let span = e.span;
        Ok(match &e.kind {
            ExprKind::Unit => Value::Unit,
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Int(i) => Value::Int(*i),
            ExprKind::Float(f) => Value::Float(f.0),
            ExprKind::Str(s) => Value::Str(Arc::from(s.as_str())),
            ExprKind::Var(n) => self.lookup(n, env, module, span)?,
            ExprKind::Ctor(n) => match module.ctors.get(n) {
                Some(CtorDef {
                    has_payload: true,
                    refined: Some((payload, owner)),
                }) => Value::Function(Function(FnRepr::CheckedCtor(Arc::new(CheckedCtor {
                    name: Arc::from(n.as_str()),
                    payload: (**payload).clone(),
                    module: owner.clone(),
                })))),
                Some(CtorDef {
                    has_payload: true, ..
                }) => Value::Function(Function(FnRepr::Ctor(Arc::from(n.as_str())))),
                Some(CtorDef {
                    has_payload: false, ..
                }) => Value::Ctor(Arc::from(n.as_str()), None),
                None => return self.fail(span, format!("unknown constructor `{n}`")),
            },
            ExprKind::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    out.push(self.eval(it, env, module)?);
                }
                Value::List(Arc::new(out))
            }
            ExprKind::Record(fields) => {
                let mut out = BTreeMap::new();
                for (n, v) in fields {
                    out.insert(n.clone(), self.eval(v, env, module)?);
                }
                Value::Record(Arc::new(out))
            }
            ExprKind::Field(target, field) => {
                if let ExprKind::Var(m) = &target.kind {
                    if env.get(m).is_none() && !module.index.contains_key(m) {
                        if let Some(imported) = module.imports.get(m) {
                            let Some(&i) = imported.index.get(field) else {
                                return self.fail(span, format!("module `{m}` has no `{field}`"));
                            };
                            let imported = imported.clone();
                            return self.force(&imported, i);
                        }
                    }
                }
                match &self.eval(target, env, module)? {
                    Value::Record(fs) => match fs.get(field) {
                        Some(v) => v.clone(),
                        None => return self.fail(span, format!("record has no field `{field}`")),
                    },
                    other => {
                        return self.fail_value(span, "", other, &field_note(field));
                    }
                }
            }
            ExprKind::Lambda(l) => Value::Function(Function(FnRepr::Closure {
                lambda: l.clone(),
                env: env.clone(),
                module: Arc::downgrade(module),
            })),
            ExprKind::App(f, a) => {
                let fv = self.eval(f, env, module)?;
                let av = self.eval(a, env, module)?;
                self.apply(fv, av, span)?
            }
            ExprKind::Let(name, ann, value, body) => {
                let mut v = self.eval(value, env, module)?;
                if let Some(a) = ann {
                    v = self.enter_type(v, a, env, module, value.span, &What::Binding(name))?;
                }
                let env2 = env.push(name, v);
                self.eval(body, &env2, module)?
            }
            ExprKind::If(c, t, f) => match self.eval(c, env, module)? {
                Value::Bool(true) => self.eval(t, env, module)?,
                Value::Bool(false) => self.eval(f, env, module)?,
                other => return self.fail_value(c.span, "`if` needs a Bool, found ", &other, ""),
            },
            ExprKind::Match(scrutinee, arms) => {
                let v = self.eval(scrutinee, env, module)?;
                for arm in arms {
                    let mut env2 = env.clone();
                    if !bind_pattern(&arm.pat, &v, &mut env2) {
                        continue;
                    }
                    if let Some(g) = &arm.guard {
                        match self.eval(g, &env2, module)? {
                            Value::Bool(true) => {}
                            Value::Bool(false) => continue,
                            other => {
                                return self.fail_value(
                                    g.span,
                                    "a guard must be a Bool, found ",
                                    &other,
                                    "",
                                )
                            }
                        }
                    }
                    return self.eval(&arm.body, &env2, module);
                }
                return self.fail_value(span, "no arm of this `match` accepts ", &v, "");
            }
            ExprKind::Binary(op, l, r) => {
                let lv = self.eval(l, env, module)?;
                match (op, &lv) {
                    (BinOp::And, Value::Bool(false)) => return Ok(Value::Bool(false)),
                    (BinOp::Or, Value::Bool(true)) => return Ok(Value::Bool(true)),
                    _ => {}
                }
                let rv = self.eval(r, env, module)?;
                self.binary(*op, lv, rv, span)?
            }
            ExprKind::Unary(op, x) => match (op, self.eval(x, env, module)?) {
                (UnOp::Not, Value::Bool(b)) => Value::Bool(!b),
                (UnOp::Neg, Value::Int(i)) => match i.checked_neg() {
                    Some(n) => Value::Int(n),
                    None => return self.fail(span, "integer overflow in negation"),
                },
                (UnOp::Neg, Value::Float(f)) => Value::Float(-f),
                (_, other) => return self.fail_value(span, "bad operand ", &other, ""),
            },
            ExprKind::Interp(parts) => self.interp(parts, env, module, span)?,
            ExprKind::Update(target, fields) => self.update(target, fields, env, module, span)?,
        })
    }

    /// `"a ${e} b"`. Kept out of `eval_inner` so that its stack frame, which every
    /// level of recursion pays for, stays small.
    #[inline(never)]
    fn interp(
        &mut self,
        parts: &[Expr],
        env: &Env,
        module: &Arc<ModuleRuntime>,
        span: Span,
    ) -> Result<Value, Error> {
        let mut out = String::new();
        for p in parts {
            let v = self.eval(p, env, module)?;
            let mut host = CtxHost {
                ctx: self,
                span: p.span,
            };
            match stdlib::to_text(&v, &mut host) {
                Ok(t) => out.push_str(&t),
                Err(Fail::Err(e)) => return Err(e),
                Err(Fail::Msg(m)) => return self.fail(p.span, m),
            }
            self.check_size(span, "a string", out.len())?;
        }
        Ok(Value::Str(Arc::from(out)))
    }

    /// `{ r | a = e }`.
    #[inline(never)]
    fn update(
        &mut self,
        target: &Expr,
        fields: &[(String, Expr)],
        env: &Env,
        module: &Arc<ModuleRuntime>,
        span: Span,
    ) -> Result<Value, Error> {
        let base = self.eval(target, env, module)?;
        let Value::Record(fs) = &base else {
            return self.fail(
                span,
                format!("`{{ ... | }}` on {}, which is not a record", short(&base)),
            );
        };
        let mut out = (**fs).clone();
        for (n, e) in fields {
            let v = self.eval(e, env, module)?;
            if out.insert(n.clone(), v).is_none() {
                return self.fail(e.span, format!("record has no field `{n}` to replace"));
            }
        }
        Ok(Value::Record(Arc::new(out)))
    }

    fn apply(&mut self, f: Value, arg: Value, span: Span) -> Result<Value, Error> {
        match &f {
            Value::Function(Function(FnRepr::Ctor(name))) => {
                Ok(Value::Ctor(name.clone(), Some(Arc::new(arg))))
            }
            Value::Function(Function(FnRepr::Closure {
                lambda,
                env,
                module,
            })) => {
                let Some(module) = module.upgrade() else {
                    return self.fail(
                        span,
                        "the module defining this function is no longer loaded",
                    );
                };
                let arg = match &lambda.ann {
                    Some(a) => {
                        let what = What::Argument(&lambda.param);
                        self.enter_type(arg, a, env, &module, span, &what)?
                    }
                    None => arg,
                };
                let env2 = env.push(&lambda.param, arg);
                let saved = std::mem::replace(&mut self.file, module.file.clone());
                let r = self.eval(&lambda.body, &env2, &module);
                self.file = saved;
                r
            }
            _ => self.apply_other(f, arg, span),
        }
    }

    /// A method given one more argument: once the dispatching argument is there, the
    /// instance for its value is found and its implementation applied to everything.
    fn call_method(&mut self, m: &MethodCall, arg: Value, span: Span) -> Result<Value, Error> {
        let mut args = m.args.clone();
        args.push(arg);
        if args.len() <= m.dispatch {
            return Ok(Value::Function(Function(FnRepr::Method(Arc::new(
                MethodCall {
                    name: m.name.clone(),
                    class: m.class.clone(),
                    dispatch: m.dispatch,
                    args,
                    module: m.module.clone(),
                },
            )))));
        }
        let Some(here) = m.module.upgrade() else {
            return self.fail(span, "the module naming this method is no longer loaded");
        };
        let selector = &args[m.dispatch];
        let inst = here
            .instances
            .iter()
            .find(|i| i.class == m.class && i.head.matches(selector))
            .cloned();
        let Some(inst) = inst else {
            return self.fail(
                span,
                format!("no instance of `{}` for {}", m.class, short(selector)),
            );
        };
        let (Some(code), Some(owner)) = (inst.methods.get(&m.name), inst.module.upgrade()) else {
            return self.fail(
                span,
                format!("the instance of `{}` lacks `{}`", m.class, m.name),
            );
        };
        let saved = std::mem::replace(&mut self.file, owner.file.clone());
        let f = self.eval(code, &Env::default(), &owner);
        self.file = saved;
        let mut f = f?;
        for a in args {
            f = self.apply(f, a, span)?;
        }
        Ok(f)
    }

    /// Applying a built-in, a checked constructor or a checked function (out of
    /// `apply`, whose frame every level of recursion pays for).
    #[inline(never)]
    fn apply_other(&mut self, f: Value, arg: Value, span: Span) -> Result<Value, Error> {
        // These calls put more frames on the stack than a closure call does; they count
        // as that many more levels, so the recursion limit still comes before the end
        // of the stack when a refined function or a method recurses.
        const EXTRA: usize = 2;
        self.depth += EXTRA;
        let r = if self.depth > self.limits.max_depth {
            Err(Error::RecursionLimit {
                limit: self.limits.max_depth,
                file: self.file.clone(),
                binding: self.binding.clone(),
                line: span.line,
                col: span.col,
            })
        } else {
            self.apply_special(f, arg, span)
        };
        self.depth -= EXTRA;
        r
    }

    fn apply_special(&mut self, f: Value, arg: Value, span: Span) -> Result<Value, Error> {
        match &f {
            Value::Function(Function(FnRepr::Builtin(b, given))) => {
                let mut args = Vec::with_capacity(given.len() + 1);
                args.extend(given.iter().cloned());
                args.push(arg);
                if args.len() < b.arity() {
                    return Ok(Value::Function(Function(FnRepr::Builtin(
                        *b,
                        Arc::new(args),
                    ))));
                }
                self.run_builtin(*b, &args, span)
            }
            Value::Function(Function(FnRepr::CheckedCtor(c))) => {
                if let Some(owner) = c.module.upgrade() {
                    let what = What::Payload(&c.name);
                    self.check_refinements(&arg, &c.payload, &Env::default(), &owner, span, &what)?;
                }
                Ok(Value::Ctor(c.name.clone(), Some(Arc::new(arg))))
            }
            Value::Function(Function(FnRepr::Method(m))) => self.call_method(m, arg, span),
            Value::Function(Function(FnRepr::Checked(c))) => {
                let Some(owner) = c.module.upgrade() else {
                    return self.apply(c.inner.clone(), arg, span);
                };
                let arg =
                    self.enter_type(arg, &c.param, &c.env, &owner, span, &What::TheArgument)?;
                let r = self.apply(c.inner.clone(), arg, span)?;
                self.enter_type(r, &c.result, &c.env, &owner, span, &What::TheResult)
            }
            other => self.fail(span, format!("{} is not a function", short(other))),
        }
    }

    fn binary(&mut self, op: BinOp, l: Value, r: Value, span: Span) -> Result<Value, Error> {
        use Value::*;
        let overflow = |what: &str| format!("integer overflow in {what}");
        Ok(match (op, &l, &r) {
            (BinOp::Add, Int(a), Int(b)) => Int(a
                .checked_add(*b)
                .ok_or(())
                .or_else(|_| self.fail(span, overflow("+")))?),
            (BinOp::Sub, Int(a), Int(b)) => Int(a
                .checked_sub(*b)
                .ok_or(())
                .or_else(|_| self.fail(span, overflow("-")))?),
            (BinOp::Mul, Int(a), Int(b)) => Int(a
                .checked_mul(*b)
                .ok_or(())
                .or_else(|_| self.fail(span, overflow("*")))?),
            (BinOp::Div | BinOp::Rem, Int(_), Int(0)) => {
                return self.fail(span, "division by zero")
            }
            (BinOp::Div, Int(a), Int(b)) => Int(a
                .checked_div(*b)
                .ok_or(())
                .or_else(|_| self.fail(span, overflow("/")))?),
            (BinOp::Rem, Int(a), Int(b)) => Int(a
                .checked_rem(*b)
                .ok_or(())
                .or_else(|_| self.fail(span, overflow("%")))?),
            (BinOp::Add, Float(a), Float(b)) => Float(a + b),
            (BinOp::Sub, Float(a), Float(b)) => Float(a - b),
            (BinOp::Mul, Float(a), Float(b)) => Float(a * b),
            (BinOp::Div, Float(a), Float(b)) => Float(a / b),
            (BinOp::Rem, Float(a), Float(b)) => Float(a % b),
            (BinOp::Concat, Str(a), Str(b)) => {
                self.check_size(span, "a string", a.len().saturating_add(b.len()))?;
                let mut s = String::with_capacity(a.len() + b.len());
                s.push_str(a);
                s.push_str(b);
                Str(Arc::from(s))
            }
            (BinOp::Concat, List(a), List(b)) => {
                self.check_size(span, "a list", a.len().saturating_add(b.len()))?;
                let mut v = Vec::with_capacity(a.len() + b.len());
                v.extend(a.iter().cloned());
                v.extend(b.iter().cloned());
                List(Arc::new(v))
            }
            (BinOp::Eq | BinOp::Ne, _, _) => match value_eq(&l, &r) {
                Some(eq) => Bool(eq == (op == BinOp::Eq)),
                None => return self.fail(span, "functions cannot be compared"),
            },
            (BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge, _, _) => {
                let ord = match (&l, &r) {
                    (Int(a), Int(b)) => a.partial_cmp(b),
                    (Float(a), Float(b)) => a.partial_cmp(b),
                    (Str(a), Str(b)) => a.partial_cmp(b),
                    _ => None,
                };
                let Some(ord) = ord else {
                    return self.fail(
                        span,
                        format!("cannot order {} and {}", short(&l), short(&r)),
                    );
                };
                Bool(match op {
                    BinOp::Lt => ord.is_lt(),
                    BinOp::Le => ord.is_le(),
                    BinOp::Gt => ord.is_gt(),
                    _ => ord.is_ge(),
                })
            }
            (BinOp::And, Bool(_), Bool(b)) | (BinOp::Or, Bool(_), Bool(b)) => Bool(*b),
            (BinOp::Merge, _, _) => match stdlib::merge(&l, &r) {
                Ok(v) => v,
                Err(m) => return self.fail(span, m),
            },
            _ => {
                return self.fail(
                    span,
                    format!(
                        "`{}` cannot combine {} and {}",
                        op.symbol(),
                        short(&l),
                        short(&r)
                    ),
                )
            }
        })
    }

    /// `v` entering the type `ty`: checks its refinements and returns it, wrapped when
    /// it is a function whose parameter or result type has refinements (so that every
    /// call is checked).
    fn enter_type(
        &mut self,
        v: Value,
        ty: &TypeExpr,
        env: &Env,
        module: &Arc<ModuleRuntime>,
        span: Span,
        what: &What<'_>,
    ) -> Result<Value, Error> {
        match ty {
            TypeExpr::Fun(a, b) if matches!(v, Value::Function(_)) => {
                let refined = has_refinement(ty, &module.aliases, &module.imports, 0);
                if !refined {
                    return Ok(v);
                }
                Ok(Value::Function(Function(FnRepr::Checked(Arc::new(
                    CheckedFn {
                        inner: v,
                        param: (**a).clone(),
                        result: (**b).clone(),
                        env: env.clone(),
                        module: Arc::downgrade(module),
                    },
                )))))
            }
            TypeExpr::Named(name, args, _) if matches!(v, Value::Function(_)) => {
                let Some(alias) = module.aliases.get(name) else {
                    return Ok(v);
                };
                let map: HashMap<&str, &TypeExpr> = alias
                    .params
                    .iter()
                    .map(|p| p.as_str())
                    .zip(args.iter())
                    .collect();
                let body = substitute_type_expr(&alias.body, &map);
                match &alias.owner {
                    None => self.enter_type(v, &body, &Env::default(), module, span, what),
                    Some(imp) => match module.imports.get(imp).cloned() {
                        Some(owner) => {
                            self.enter_type(v, &body, &Env::default(), &owner, span, what)
                        }
                        None => Ok(v),
                    },
                }
            }
            _ => {
                self.check_refinements(&v, ty, env, module, span, what)?;
                Ok(v)
            }
        }
    }

    /// Checks the `where` predicates of `ty` (looking through aliases, records and
    /// lists) against `v`; `what` says what `v` is, for the error.
    fn check_refinements(
        &mut self,
        v: &Value,
        ty: &TypeExpr,
        env: &Env,
        module: &Arc<ModuleRuntime>,
        span: Span,
        what: &What<'_>,
    ) -> Result<(), Error> {
        self.check_named(v, ty, env, module, span, what, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn check_named(
        &mut self,
        v: &Value,
        ty: &TypeExpr,
        env: &Env,
        module: &Arc<ModuleRuntime>,
        span: Span,
        what: &What<'_>,
        named: Option<&str>,
    ) -> Result<(), Error> {
        match ty {
            TypeExpr::Var(_) | TypeExpr::Fun(..) => Ok(()),
            TypeExpr::Record(fields) => {
                if let Value::Record(fs) = v {
                    for (n, t) in fields {
                        if let Some(fv) = fs.get(n) {
                            let inner = What::Field(n, what);
                            self.check_named(fv, t, env, module, span, &inner, None)?;
                        }
                    }
                }
                Ok(())
            }
            TypeExpr::Refine(base, pred) => {
                self.check_named(v, base, env, module, span, what, named)?;
                let p = self.eval(pred, env, module)?;
                match self.apply(p, v.clone(), pred.span)? {
                    Value::Bool(true) => Ok(()),
                    _ => {
                        let of = named.map(|n| format!(" of `{n}`")).unwrap_or_default();
                        let place = format!("declared at {}:{}", module.file, pred.span.line);
                        self.fail(
                            span,
                            format!(
                                "{what} {} does not satisfy the refinement{of} `{}` ({place})",
                                short(v),
                                crate::printer::predicate_text(pred)
                            ),
                        )
                    }
                }
            }
            TypeExpr::Named(name, args, _) => {
                if name == "List" {
                    if let (Value::List(xs), Some(elem)) = (v, args.first()) {
                        for (i, x) in xs.iter().enumerate() {
                            let inner = What::Element(i, what);
                            self.check_named(x, elem, env, module, span, &inner, None)?;
                        }
                    }
                    return Ok(());
                }
                let Some(alias) = module.aliases.get(name) else {
                    return Ok(());
                };
                let map: HashMap<&str, &TypeExpr> = alias
                    .params
                    .iter()
                    .map(|p| p.as_str())
                    .zip(args.iter())
                    .collect();
                let body = substitute_type_expr(&alias.body, &map);
                match &alias.owner {
                    None => {
                        self.check_named(v, &body, &Env::default(), module, span, what, Some(name))
                    }
                    Some(imp) => match module.imports.get(imp).cloned() {
                        Some(owner) => self.check_named(
                            v,
                            &body,
                            &Env::default(),
                            &owner,
                            span,
                            what,
                            Some(name),
                        ),
                        None => Ok(()),
                    },
                }
            }
        }
    }
}

/// What entered a refined type, for the message of a violation; rendered only then.
#[derive(Clone, Copy)]
enum What<'a> {
    Binding(&'a str),
    Argument(&'a str),
    Payload(&'a str),
    TheArgument,
    TheResult,
    Field(&'a str, &'a What<'a>),
    Element(usize, &'a What<'a>),
}

impl fmt::Display for What<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            What::Binding(n) => write!(f, "`{n}`"),
            What::Argument(n) => write!(f, "argument `{n}`"),
            What::Payload(n) => write!(f, "the payload of `{n}`"),
            What::TheArgument => write!(f, "the argument"),
            What::TheResult => write!(f, "the result"),
            What::Field(n, w) => write!(f, "field `{n}` of {w}"),
            What::Element(i, w) => write!(f, "element {i} of {w}"),
        }
    }
}

/// A value for an error message: at most about 80 characters.
/// The message tail of a field read on a value that is not a record.
#[cold]
#[inline(never)]
fn field_note(field: &str) -> String {
    format!(" is not a record (reading `.{field}`)")
}

pub(crate) fn short(v: &Value) -> String {
    let (text, complete) = capped_text(v, 400);
    if complete && text.chars().count() <= 80 {
        return text;
    }
    let cut: String = text.chars().take(77).collect();
    format!("{cut}...")
}

/// The value as `--format text` prints it, but at most `cap` bytes: a value shares its
/// parts in memory and the text repeats them, so a small value can have an
/// exponentially long text. Whether the text is complete comes second.
pub(crate) fn capped_text(v: &Value, cap: usize) -> (String, bool) {
    struct Capped {
        out: String,
        cap: usize,
    }
    impl fmt::Write for Capped {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            if self.out.len() + s.len() > self.cap {
                let room = self.cap - self.out.len();
                let mut cut = room.min(s.len());
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                self.out.push_str(&s[..cut]);
                return Err(fmt::Error);
            }
            self.out.push_str(s);
            Ok(())
        }
    }
    let mut w = Capped {
        out: String::new(),
        cap,
    };
    let complete = fmt::write(&mut w, format_args!("{v}")).is_ok();
    (w.out, complete)
}

fn substitute_type_expr(t: &TypeExpr, map: &HashMap<&str, &TypeExpr>) -> TypeExpr {
    match t {
        TypeExpr::Var(v) => map
            .get(v.as_str())
            .map(|t| (*t).clone())
            .unwrap_or_else(|| t.clone()),
        TypeExpr::Named(n, args, s) => TypeExpr::Named(
            n.clone(),
            args.iter().map(|a| substitute_type_expr(a, map)).collect(),
            *s,
        ),
        TypeExpr::Record(fs) => TypeExpr::Record(
            fs.iter()
                .map(|(n, t)| (n.clone(), substitute_type_expr(t, map)))
                .collect(),
        ),
        TypeExpr::Fun(a, b) => TypeExpr::Fun(
            Box::new(substitute_type_expr(a, map)),
            Box::new(substitute_type_expr(b, map)),
        ),
        TypeExpr::Refine(b, p) => {
            TypeExpr::Refine(Box::new(substitute_type_expr(b, map)), p.clone())
        }
    }
}

fn bind_pattern(p: &Pattern, v: &Value, env: &mut Env) -> bool {
    match (p, v) {
        (Pattern::Wildcard, _) => true,
        (Pattern::Var(n), _) => {
            *env = env.push(n, v.clone());
            true
        }
        (Pattern::Unit, Value::Unit) => true,
        (Pattern::Bool(a), Value::Bool(b)) => a == b,
        (Pattern::Int(a), Value::Int(b)) => a == b,
        (Pattern::Str(a), Value::Str(b)) => a.as_str() == &**b,
        (Pattern::Ctor(n, payload, _), Value::Ctor(m, pv)) => {
            if n.as_str() != &**m {
                return false;
            }
            match (payload, pv) {
                (Some(p), Some(pv)) => bind_pattern(p, pv, env),
                (None, None) => true,
                _ => false,
            }
        }
        (Pattern::Record(fields, _), Value::Record(fs)) => {
            fields.iter().all(|(n, p)| match fs.get(n) {
                Some(fv) => bind_pattern(p, fv, env),
                None => false,
            })
        }
        (Pattern::ListRest(ps, rest), Value::List(xs)) => {
            ps.len() <= xs.len()
                && ps
                    .iter()
                    .zip(xs.iter())
                    .all(|(p, x)| bind_pattern(p, x, env))
                && bind_pattern(rest, &Value::List(Arc::new(xs[ps.len()..].to_vec())), env)
        }
        (Pattern::List(ps), Value::List(xs)) => {
            ps.len() == xs.len()
                && ps
                    .iter()
                    .zip(xs.iter())
                    .all(|(p, x)| bind_pattern(p, x, env))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(fields: &[(&str, Value)]) -> Value {
        Value::Record(Arc::new(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        ))
    }

    #[test]
    fn text_and_json_forms() {
        let v = rec(&[
            ("s", Value::Str(Arc::from("a\"b"))),
            (
                "l",
                Value::List(Arc::new(vec![Value::Int(1), Value::Float(2.0)])),
            ),
            (
                "o",
                Value::Ctor(Arc::from("Some"), Some(Arc::new(Value::Unit))),
            ),
            ("n", Value::Ctor(Arc::from("None"), None)),
        ]);
        assert_eq!(
            v.to_string(),
            "{ l = [1, 2.0], n = None, o = Some(()), s = \"a\\\"b\" }"
        );
        assert_eq!(
            v.to_json().unwrap(),
            serde_json::json!({"l": [1, 2.0], "n": "None", "o": {"Some": null}, "s": "a\"b"})
        );
        assert!(Value::Float(f64::NAN).to_json().is_err());
    }

    #[test]
    fn functions_are_never_equal_and_do_not_serialise() {
        let f = Value::Function(Function(FnRepr::Ctor(Arc::from("Some"))));
        assert_eq!(value_eq(&f, &f), None);
        assert!(f != f.clone());
        assert!(matches!(f.to_json(), Err(Error::Serialise { .. })));
    }

    #[test]
    fn values_stay_small() {
        // Every level of evaluation keeps several values on the stack: the recursion
        // limit's stack budget assumes they stay at four words.
        assert!(
            std::mem::size_of::<Value>() <= 32,
            "{}",
            std::mem::size_of::<Value>()
        );
    }

    #[test]
    fn dropping_a_long_chain_does_not_recurse() {
        let mut v = Value::Ctor(Arc::from("Leaf"), None);
        for _ in 0..1_000_000 {
            v = Value::Ctor(Arc::from("Node"), Some(Arc::new(v)));
        }
        drop(v);
    }
}
