//! The Hindley-Milner type checker of one module.
//!
//! A [`Checker`] is created per module and owns its type arena and its local
//! environment; nothing mutable is shared. What other modules see is the immutable
//! [`ModuleTypes`] it produces, which the parallel engine publishes in a `DashMap`
//! once the module is done.
//!
//! # Representation
//!
//! Inside a checker a type is an index ([`Ty`]) into an arena of nodes. A type
//! variable is a node that is either unbound (with its let-nesting *level*) or a
//! link to another node: union-find, with path compression. Unification remembers
//! the pairs of structures it has unified, so a pair of shared subterms is unified
//! once, however often it is reachable. A node that reaches no unbound variable is
//! marked *ground* (once ground, always ground), and the traversals that look for
//! variables (the occurs check, level adjustment, generalisation, instantiation)
//! skip ground nodes, so passing a big finished type around costs nothing. Nothing
//! copies a type except instantiation, which copies only the nodes that reach a
//! generalised variable, once each. A type that would print as a tree of 2^60 nodes (the type of
//! `f (f (... (f 1)))` with `f = \x -> { a = x, b = x }`) is a chain of 60 nodes here,
//! and every operation on it is linear in the number of nodes.
//!
//! Generalisation uses levels (Rémy's algorithm): a variable created while the value
//! of a `let` is inferred has a deeper level than the enclosing scope, binding a
//! variable lowers the levels of the variables it reaches, and the variables still
//! deeper than the scope when the value is done are exactly those not free in the
//! environment. No scan of the environment is needed.
//!
//! Exported types ([`Type`]) are immutable DAGs of `Arc` nodes that keep the arena's
//! sharing; they are what crosses threads. Every traversal counts steps against a
//! [`CheckLimits`] budget (and a deadline), and printing a type stops after
//! [`MAX_TYPE_CHARS`] characters, so no input makes the checker or its messages
//! unbounded.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::ast::*;

mod classes;
mod fields;
mod selective;
use crate::error::Error;
use crate::sync::Arc;

/// Longest rendering of a type in a message; longer ones end in `…`.
pub(crate) const MAX_TYPE_CHARS: usize = 600;

/// A type as checked modules publish it: immutable, cheap to clone, and shared where
/// the checker's arena shared it (a DAG, never expanded into a tree).
#[derive(Clone)]
pub(crate) struct Type(Arc<TypeKind>);

/// The shape of one [`Type`] node.
pub(crate) enum TypeKind {
    Unit,
    Bool,
    Int,
    Float,
    Str,
    List(Type),
    /// Fields sorted by name, each name once.
    Record(Vec<(String, Type)>),
    Fun(Type, Type),
    /// A union, by its module-qualified name, applied to arguments.
    Con(Arc<str>, Vec<Type>),
    /// The n-th variable of the enclosing scheme or definition.
    Var(u32),
}

impl Type {
    pub(crate) fn new(kind: TypeKind) -> Self {
        Type(Arc::new(kind))
    }

    pub(crate) fn kind(&self) -> &TypeKind {
        &self.0
    }

    /// Identity of the node, for memo tables over the DAG.
    fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// Writes the type into `out`, stopping (with `…`) once `out` is `limit` long.
    fn render(&self, out: &mut String, limit: usize) {
        if out.ends_with('…') {
            return;
        }
        if out.len() >= limit {
            out.push('…');
            return;
        }
        match self.kind() {
            TypeKind::Unit => out.push_str("Unit"),
            TypeKind::Bool => out.push_str("Bool"),
            TypeKind::Int => out.push_str("Integer"),
            TypeKind::Float => out.push_str("Float"),
            TypeKind::Str => out.push_str("String"),
            TypeKind::List(t) => {
                out.push_str("List (");
                t.render(out, limit);
                close(out, ")");
            }
            TypeKind::Record(fs) => {
                out.push_str("{ ");
                for (i, (n, t)) in fs.iter().enumerate() {
                    if out.len() >= limit {
                        t.render(out, limit);
                        break;
                    }
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(n);
                    out.push_str(": ");
                    t.render(out, limit);
                }
                close(out, " }");
            }
            TypeKind::Fun(a, b) => {
                out.push('(');
                a.render(out, limit);
                close(out, ") -> ");
                b.render(out, limit);
            }
            TypeKind::Con(n, args) => {
                out.push_str(n.rsplit("::").next().unwrap_or(n));
                for a in args {
                    if out.len() >= limit {
                        a.render(out, limit);
                        break;
                    }
                    out.push_str(" (");
                    a.render(out, limit);
                    close(out, ")");
                }
            }
            TypeKind::Var(v) => {
                out.push_str("'t");
                out.push_str(&v.to_string());
            }
        }
    }
}

/// Appends `s` unless the rendering was cut off.
fn close(out: &mut String, s: &str) {
    if !out.ends_with('…') {
        out.push_str(s);
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.render(&mut s, MAX_TYPE_CHARS);
        f.write_str(&s)
    }
}

impl fmt::Debug for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A type generalised over its variables `Var(0) .. Var(vars - 1)`.
#[derive(Debug, Clone)]
pub(crate) struct Scheme {
    pub(crate) vars: u32,
    pub(crate) ty: Type,
}

/// A named type. Parameters are the definition's `Var(0) .. Var(params - 1)`.
#[derive(Debug, Clone)]
pub(crate) enum TypeDef {
    Alias { params: u32, body: Type },
    Union { qualified: Arc<str>, params: u32 },
}

/// A union constructor; its payload uses the union's parameters as `Var(i)`.
#[derive(Debug, Clone)]
pub(crate) struct CtorInfo {
    pub(crate) qualified: Arc<str>,
    pub(crate) params: u32,
    pub(crate) payload: Option<Type>,
}

/// What a checked module offers its importers. Immutable once built.
#[derive(Debug, Default)]
pub(crate) struct ModuleTypes {
    /// Exported top-level bindings, generalised.
    pub(crate) values: HashMap<String, Scheme>,
    /// Exported type aliases and unions.
    pub(crate) types: HashMap<String, TypeDef>,
    /// Constructors of exported unions.
    pub(crate) ctors: HashMap<String, CtorInfo>,
    /// Steps the check of this module took (see [`CheckLimits::max_steps`]).
    pub(crate) steps: u64,
    /// Exported type classes.
    pub(crate) classes: HashMap<String, Arc<classes::ClassInfo>>,
    /// Every instance visible in the module (its own and its imports').
    pub(crate) instances: Vec<classes::InstanceHead>,
}

/// Bounds on one module's type check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckLimits {
    /// Most steps (expressions visited, unification pairs, nodes traversed or copied)
    /// before [`Error::CheckLimit`].
    pub(crate) max_steps: u64,
    /// When to give up with [`Error::Timeout`], and the timeout it came from.
    pub(crate) deadline: Option<(Instant, Duration)>,
}

impl Default for CheckLimits {
    fn default() -> Self {
        CheckLimits {
            max_steps: u64::MAX,
            deadline: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Numeric,
    Ordered,
    Concat,
}

/// Whether a module exports `name` given its export flags: a module without any
/// `export` exports everything.
pub(crate) fn exports_all(m: &Module) -> bool {
    !m.lets.iter().any(|l| l.exported)
        && !m.types.iter().any(|t| t.exported)
        && !m.classes.iter().any(|c| c.exported)
}

/// A type in a checker's arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Ty(u32);

/// The level of a generalised variable: instantiation replaces it.
const GENERIC: u32 = u32::MAX;

const UNIT: Ty = Ty(0);
const BOOL: Ty = Ty(1);
const INT: Ty = Ty(2);
const FLOAT: Ty = Ty(3);
const STR: Ty = Ty(4);

/// One arena node.
#[derive(Debug, Clone)]
enum Node {
    /// An unbound variable and its level.
    Var(u32),
    /// Bound or unified: the same type as the target.
    Link(Ty),
    Unit,
    Bool,
    Int,
    Float,
    Str,
    List(Ty),
    /// Sorted by name, each name once.
    Record(Rc<[(String, Ty)]>),
    Fun(Ty, Ty),
    Con(Arc<str>, Rc<[Ty]>),
}

impl Node {
    fn children(&self) -> Vec<Ty> {
        match self {
            Node::List(e) => vec![*e],
            Node::Record(fs) => fs.iter().map(|(_, t)| *t).collect(),
            Node::Fun(a, b) => vec![*a, *b],
            Node::Con(_, args) => args.to_vec(),
            _ => Vec::new(),
        }
    }

    fn has_children(&self) -> bool {
        match self {
            Node::List(_) | Node::Fun(..) => true,
            Node::Record(fs) => !fs.is_empty(),
            Node::Con(_, args) => !args.is_empty(),
            _ => false,
        }
    }
}

/// A write to undo when a unification fails.
enum Undo {
    Node(Ty, Node),
    Ground(Ty),
}

/// Why a unification stopped.
enum Fail {
    Mismatch,
    Stop(Error),
}

/// A binding of the environment: its type, and whether that type has generalised
/// variables (so that instantiating a monomorphic type costs nothing).
#[derive(Debug, Clone, Copy)]
struct Binding {
    ty: Ty,
    poly: bool,
}

struct Checker<'a> {
    file: &'a str,
    module_key: &'a str,
    nodes: Vec<Node>,
    /// Whether a node reaches no unbound variable, parallel to `nodes`. Monotone: a
    /// ground node stays ground (bindings only remove variables), except that a
    /// failed unification undoes the marks it set.
    ground: Vec<bool>,
    /// Exported forms of ground nodes, shared by every scheme and message.
    frozen_ground: HashMap<Ty, Type>,
    /// Traversal marks, parallel to `nodes`: a node is visited in the current
    /// traversal when its mark equals `epoch`.
    marks: Vec<u32>,
    epoch: u32,
    /// Old values of nodes written during the current unification, so that a failed
    /// unification leaves the types as they were (for its message).
    trail: Option<Vec<Undo>>,
    level: u32,
    steps: u64,
    limits: CheckLimits,
    pending: Vec<(Ty, Class, Span)>,
    types: HashMap<String, TypeDef>,
    ctors: HashMap<String, CtorInfo>,
    imports: HashMap<String, Arc<ModuleTypes>>,
    globals: HashMap<String, Binding>,
    locals: Vec<(String, Binding)>,
    deferred_preds: Vec<(Expr, Ty)>,
    /// Type classes, instances and the method uses waiting for an instance.
    tc: classes::ClassEnv,
    /// Field reads waiting for their record type.
    fields: fields::FieldReads,
    /// Values imported unqualified.
    selected: selective::SelectedNames,
}

/// Type-checks `module` given the checked modules it imports (by alias).
#[cfg(test)]
pub(crate) fn check_module(
    file: &str,
    module: &Module,
    imports: &HashMap<String, Arc<ModuleTypes>>,
) -> Result<ModuleTypes, Error> {
    check_module_with(file, module, imports, CheckLimits::default())
}

/// Type-checks `module` given the checked modules it imports (by alias), within
/// `limits`.
pub(crate) fn check_module_with(
    file: &str,
    module: &Module,
    imports: &HashMap<String, Arc<ModuleTypes>>,
    limits: CheckLimits,
) -> Result<ModuleTypes, Error> {
    let mut c = Checker {
        file,
        module_key: file,
        nodes: vec![Node::Unit, Node::Bool, Node::Int, Node::Float, Node::Str],
        ground: vec![true; 5],
        frozen_ground: HashMap::new(),
        marks: vec![0; 5],
        epoch: 0,
        trail: None,
        level: 0,
        steps: 0,
        limits,
        pending: Vec::new(),
        types: HashMap::new(),
        ctors: HashMap::new(),
        imports: imports.clone(),
        globals: HashMap::new(),
        locals: Vec::new(),
        deferred_preds: Vec::new(),
        tc: classes::ClassEnv::default(),
        fields: fields::FieldReads::default(),
        selected: selective::SelectedNames::default(),
    };
    let mut out = c.module(module)?;
    out.steps = c.steps;
    Ok(out)
}

impl Checker<'_> {
    fn error<T>(&self, span: Span, message: impl Into<String>) -> Result<T, Error> {
        Err(Error::Type {
            file: self.file.to_owned(),
            line: span.line,
            col: span.col,
            message: message.into(),
        })
    }

    /// Counts `n` steps against the budget; checks the deadline every 4096 steps.
    fn tick(&mut self, n: u64) -> Result<(), Error> {
        let before = self.steps;
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.limits.max_steps {
            return Err(Error::CheckLimit {
                file: self.file.to_owned(),
                limit: self.limits.max_steps,
            });
        }
        if let Some((deadline, after)) = self.limits.deadline {
            if before >> 12 != self.steps >> 12 && Instant::now() >= deadline {
                return Err(Error::Timeout {
                    file: self.file.to_owned(),
                    phase: "type checking".into(),
                    after_ms: after.as_millis().min(u64::MAX as u128) as u64,
                });
            }
        }
        Ok(())
    }

    fn alloc(&mut self, n: Node) -> Ty {
        let ground = match &n {
            Node::Var(_) | Node::Link(_) => false,
            n => n
                .children()
                .iter()
                .all(|c| self.ground[self.repr(*c).0 as usize]),
        };
        self.nodes.push(n);
        self.ground.push(ground);
        self.marks.push(0);
        Ty((self.nodes.len() - 1) as u32)
    }

    fn fresh(&mut self) -> Ty {
        self.alloc(Node::Var(self.level))
    }

    fn list(&mut self, e: Ty) -> Ty {
        self.alloc(Node::List(e))
    }

    fn fun(&mut self, a: Ty, b: Ty) -> Ty {
        self.alloc(Node::Fun(a, b))
    }

    fn node(&self, t: Ty) -> &Node {
        &self.nodes[t.0 as usize]
    }

    /// Writes a node, remembering the old value while a unification is running.
    fn set(&mut self, t: Ty, n: Node) {
        let old = std::mem::replace(&mut self.nodes[t.0 as usize], n);
        if let Some(trail) = &mut self.trail {
            trail.push(Undo::Node(t, old));
        }
    }

    fn is_ground(&self, t: Ty) -> bool {
        self.ground[self.repr(t).0 as usize]
    }

    /// Marks the structure `t` ground if its children are.
    fn note_ground(&mut self, t: Ty) {
        let i = t.0 as usize;
        if self.ground[i] || matches!(self.nodes[i], Node::Var(_) | Node::Link(_)) {
            return;
        }
        if self.nodes[i].children().iter().all(|c| self.is_ground(*c)) {
            self.ground[i] = true;
            if let Some(trail) = &mut self.trail {
                trail.push(Undo::Ground(t));
            }
        }
    }

    /// The representative of `t`, compressing the path to it.
    fn find(&mut self, t: Ty) -> Ty {
        let mut root = t;
        while let Node::Link(next) = *self.node(root) {
            root = next;
        }
        let mut cur = t;
        while let Node::Link(next) = *self.node(cur) {
            if next != root {
                self.set(cur, Node::Link(root));
            }
            cur = next;
        }
        root
    }

    /// The representative of `t` without writing anything.
    fn repr(&self, t: Ty) -> Ty {
        let mut t = t;
        while let Node::Link(next) = *self.node(t) {
            t = next;
        }
        t
    }

    /// Starts a traversal: afterwards, `visit` is true once per node.
    fn new_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.epoch = 1;
        }
    }

    /// Marks `t`; false if it was already marked in this traversal.
    fn visit(&mut self, t: Ty) -> bool {
        let m = &mut self.marks[t.0 as usize];
        if *m == self.epoch {
            false
        } else {
            *m = self.epoch;
            true
        }
    }

    /// Renders `ts` with one numbering of their variables, each at most
    /// [`MAX_TYPE_CHARS`] long.
    fn show_all(&mut self, ts: &[Ty]) -> Vec<String> {
        let mut numbering = HashMap::new();
        let mut memo = HashMap::new();
        ts.iter()
            .map(|&t| {
                let mut s = String::new();
                // Rendering is bounded; freezing is linear in the (shared) size, and a
                // step limit is no reason to lose the message, so it is not counted.
                self.freeze_with(t, &mut numbering, &mut memo, false)
                    .map(|f| f.render(&mut s, MAX_TYPE_CHARS))
                    .unwrap_or_else(|_| s.push('…'));
                s
            })
            .collect()
    }

    fn show(&mut self, t: Ty) -> String {
        self.show_all(&[t]).remove(0)
    }

    /// Converts an arena type into an exported [`Type`], numbering its unbound
    /// variables through `numbering` in order of first appearance. Iterative and
    /// memoised: linear in the number of distinct nodes.
    fn freeze_with(
        &mut self,
        t: Ty,
        numbering: &mut HashMap<Ty, u32>,
        memo: &mut HashMap<Ty, Type>,
        count: bool,
    ) -> Result<Type, Error> {
        let mut stack: Vec<(Ty, bool)> = vec![(t, false)];
        while let Some((x, expanded)) = stack.pop() {
            let x = self.repr(x);
            if memo.contains_key(&x) {
                continue;
            }
            if let Some(f) = self.frozen_ground.get(&x) {
                memo.insert(x, f.clone());
                continue;
            }
            if count {
                self.tick(1)?;
            }
            let node = self.node(x).clone();
            if !expanded && node.has_children() {
                stack.push((x, true));
                for c in node.children().into_iter().rev() {
                    let c = self.repr(c);
                    if !memo.contains_key(&c) {
                        stack.push((c, false));
                    }
                }
                continue;
            }
            let get = |memo: &HashMap<Ty, Type>, c: Ty, s: &Self| memo[&s.repr(c)].clone();
            let kind = match node {
                Node::Var(_) => {
                    let next = numbering.len() as u32;
                    TypeKind::Var(*numbering.entry(x).or_insert(next))
                }
                // `x` is a representative, so never a link.
                Node::Link(_) => TypeKind::Unit,
                Node::Unit => TypeKind::Unit,
                Node::Bool => TypeKind::Bool,
                Node::Int => TypeKind::Int,
                Node::Float => TypeKind::Float,
                Node::Str => TypeKind::Str,
                Node::List(e) => TypeKind::List(get(memo, e, self)),
                Node::Record(fs) => TypeKind::Record(
                    fs.iter()
                        .map(|(n, t)| (n.clone(), get(memo, *t, self)))
                        .collect(),
                ),
                Node::Fun(a, b) => TypeKind::Fun(get(memo, a, self), get(memo, b, self)),
                Node::Con(n, args) => {
                    TypeKind::Con(n, args.iter().map(|a| get(memo, *a, self)).collect())
                }
            };
            let f = Type::new(kind);
            self.note_ground(x);
            if self.ground[x.0 as usize] {
                self.frozen_ground.insert(x, f.clone());
            }
            memo.insert(x, f);
        }
        let root = self.repr(t);
        Ok(memo[&root].clone())
    }

    /// Freezes `t` with `vars` as `Var(0) ..` in that order; other unbound variables
    /// are numbered after them.
    fn freeze_over(&mut self, t: Ty, vars: &[Ty]) -> Result<Type, Error> {
        let mut numbering: HashMap<Ty, u32> = HashMap::new();
        for (i, v) in vars.iter().enumerate() {
            let v = self.repr(*v);
            numbering.entry(v).or_insert(i as u32);
        }
        self.freeze_with(t, &mut numbering, &mut HashMap::new(), true)
    }

    /// Copies an exported type into the arena, `Var(i)` becoming `args[i]` (a fresh
    /// variable where `args` is too short). Linear in the number of distinct nodes.
    fn thaw(&mut self, t: &Type, args: &[Ty]) -> Result<Ty, Error> {
        let mut memo: HashMap<usize, Ty> = HashMap::new();
        let mut extra: HashMap<u32, Ty> = HashMap::new();
        let mut stack: Vec<(&Type, bool)> = vec![(t, false)];
        while let Some((x, expanded)) = stack.pop() {
            if memo.contains_key(&x.addr()) {
                continue;
            }
            self.tick(1)?;
            let children: Vec<&Type> = match x.kind() {
                TypeKind::List(e) => vec![e],
                TypeKind::Record(fs) => fs.iter().map(|(_, t)| t).collect(),
                TypeKind::Fun(a, b) => vec![a, b],
                TypeKind::Con(_, args) => args.iter().collect(),
                _ => Vec::new(),
            };
            if !expanded && !children.is_empty() {
                stack.push((x, true));
                for c in children.into_iter().rev() {
                    if !memo.contains_key(&c.addr()) {
                        stack.push((c, false));
                    }
                }
                continue;
            }
            let id = match x.kind() {
                TypeKind::Unit => UNIT,
                TypeKind::Bool => BOOL,
                TypeKind::Int => INT,
                TypeKind::Float => FLOAT,
                TypeKind::Str => STR,
                TypeKind::Var(v) => match args.get(*v as usize) {
                    Some(a) => *a,
                    None => match extra.get(v) {
                        Some(t) => *t,
                        None => {
                            let f = self.fresh();
                            extra.insert(*v, f);
                            f
                        }
                    },
                },
                TypeKind::List(e) => {
                    let e = memo[&e.addr()];
                    self.list(e)
                }
                TypeKind::Record(fs) => {
                    let fs: Rc<[(String, Ty)]> = fs
                        .iter()
                        .map(|(n, t)| (n.clone(), memo[&t.addr()]))
                        .collect();
                    self.alloc(Node::Record(fs))
                }
                TypeKind::Fun(a, b) => {
                    let (a, b) = (memo[&a.addr()], memo[&b.addr()]);
                    self.fun(a, b)
                }
                TypeKind::Con(n, cargs) => {
                    let cargs: Rc<[Ty]> = cargs.iter().map(|a| memo[&a.addr()]).collect();
                    self.alloc(Node::Con(n.clone(), cargs))
                }
            };
            memo.insert(x.addr(), id);
        }
        Ok(memo[&t.addr()])
    }

    /// Instantiates an exported scheme with fresh variables.
    fn instantiate_scheme(&mut self, s: &Scheme) -> Result<Ty, Error> {
        let args: Vec<Ty> = (0..s.vars).map(|_| self.fresh()).collect();
        self.thaw(&s.ty, &args)
    }

    /// A copy of `b`'s type with its generalised variables replaced by fresh ones;
    /// nodes that reach no generalised variable are shared, not copied.
    fn instantiate(&mut self, b: Binding) -> Result<Ty, Error> {
        if !b.poly {
            return Ok(b.ty);
        }
        let mut memo: HashMap<Ty, Ty> = HashMap::new();
        let mut stack: Vec<(Ty, bool)> = vec![(b.ty, false)];
        while let Some((x, expanded)) = stack.pop() {
            let x = self.find(x);
            if memo.contains_key(&x) {
                continue;
            }
            if self.ground[x.0 as usize] {
                memo.insert(x, x);
                continue;
            }
            self.tick(1)?;
            let node = self.node(x).clone();
            if !expanded && node.has_children() {
                stack.push((x, true));
                for c in node.children().into_iter().rev() {
                    let c = self.find(c);
                    if !memo.contains_key(&c) {
                        stack.push((c, false));
                    }
                }
                continue;
            }
            let m = |memo: &HashMap<Ty, Ty>, s: &Self, c: Ty| memo[&s.repr(c)];
            let copy = match node {
                Node::Var(GENERIC) => self.fresh(),
                Node::List(e) => {
                    let e2 = m(&memo, self, e);
                    if e2 == self.repr(e) {
                        x
                    } else {
                        self.list(e2)
                    }
                }
                Node::Fun(a, r) => {
                    let (a2, r2) = (m(&memo, self, a), m(&memo, self, r));
                    if a2 == self.repr(a) && r2 == self.repr(r) {
                        x
                    } else {
                        self.fun(a2, r2)
                    }
                }
                Node::Record(fs) => {
                    let new: Vec<(String, Ty)> = fs
                        .iter()
                        .map(|(n, t)| (n.clone(), m(&memo, self, *t)))
                        .collect();
                    if new
                        .iter()
                        .zip(fs.iter())
                        .all(|(a, b)| a.1 == self.repr(b.1))
                    {
                        x
                    } else {
                        self.alloc(Node::Record(new.into()))
                    }
                }
                Node::Con(n, args) => {
                    let new: Vec<Ty> = args.iter().map(|a| m(&memo, self, *a)).collect();
                    if new
                        .iter()
                        .zip(args.iter())
                        .all(|(a, b)| *a == self.repr(*b))
                    {
                        x
                    } else {
                        self.alloc(Node::Con(n, new.into()))
                    }
                }
                _ => x,
            };
            memo.insert(x, copy);
        }
        let root = self.repr(b.ty);
        Ok(memo[&root])
    }

    /// Unbound variables reachable from `t` whose level is deeper than `level`.
    fn vars_deeper_than(&mut self, t: Ty, level: u32) -> Result<Vec<Ty>, Error> {
        self.new_epoch();
        let mut out = Vec::new();
        let mut stack = vec![t];
        while let Some(x) = stack.pop() {
            let x = self.find(x);
            if self.ground[x.0 as usize] || !self.visit(x) {
                continue;
            }
            self.tick(1)?;
            match self.node(x) {
                Node::Var(l) if *l != GENERIC && *l > level => out.push(x),
                n => stack.extend(n.children()),
            }
        }
        Ok(out)
    }

    /// Binds the unbound variable `v` to `t`: fails if `t` contains `v` (an infinite
    /// type), and lowers the levels of `t`'s variables to `v`'s.
    fn bind(&mut self, v: Ty, t: Ty) -> Result<(), Fail> {
        let Node::Var(level) = *self.node(v) else {
            return Err(Fail::Mismatch);
        };
        self.new_epoch();
        // Depth first; a structure is revisited after its children (`true`) to note
        // whether it has become ground. The graph is acyclic (every binding passed
        // this check), so a marked child is finished by then.
        let mut stack = vec![(t, false)];
        while let Some((x, after)) = stack.pop() {
            if after {
                self.note_ground(x);
                continue;
            }
            let x = self.find(x);
            if self.ground[x.0 as usize] || !self.visit(x) {
                continue;
            }
            self.tick(1).map_err(Fail::Stop)?;
            if x == v {
                return Err(Fail::Mismatch);
            }
            match self.node(x) {
                Node::Var(l) => {
                    let l = *l;
                    if l > level && l != GENERIC {
                        self.set(x, Node::Var(level));
                    }
                }
                n => {
                    let children = n.children();
                    stack.push((x, true));
                    stack.extend(children.into_iter().map(|c| (c, false)));
                }
            }
        }
        self.set(v, Node::Link(t));
        Ok(())
    }

    fn unify(&mut self, expected: Ty, found: Ty, span: Span) -> Result<(), Error> {
        self.trail = Some(Vec::new());
        let r = self.unify_inner(expected, found);
        let trail = self.trail.take().unwrap_or_default();
        match r {
            Ok(()) => Ok(()),
            Err(fail) => {
                for undo in trail.into_iter().rev() {
                    match undo {
                        Undo::Node(t, old) => self.nodes[t.0 as usize] = old,
                        Undo::Ground(t) => self.ground[t.0 as usize] = false,
                    }
                }
                match fail {
                    Fail::Stop(e) => Err(e),
                    Fail::Mismatch => {
                        let shown = self.show_all(&[expected, found]);
                        self.error(
                            span,
                            format!("type mismatch: expected {}, found {}", shown[0], shown[1]),
                        )
                    }
                }
            }
        }
    }

    /// Unifies without recursion. Each pair of structures is unified once per call,
    /// so shared subterms cost once however often they are reachable. (Structures
    /// are not linked to each other as in Huet's algorithm: a link between a
    /// structure and one of its own subterms would hide an infinite type from the
    /// occurs check.)
    fn unify_inner(&mut self, a: Ty, b: Ty) -> Result<(), Fail> {
        let mut work = vec![(a, b)];
        let mut done: HashSet<(Ty, Ty)> = HashSet::new();
        while let Some((a, b)) = work.pop() {
            let (a, b) = (self.find(a), self.find(b));
            if a == b {
                continue;
            }
            self.tick(1).map_err(Fail::Stop)?;
            let (na, nb) = (self.node(a).clone(), self.node(b).clone());
            if na.has_children() && !done.insert((a, b)) {
                continue;
            }
            match (na, nb) {
                (Node::Var(la), Node::Var(lb)) => {
                    if la < lb {
                        self.set(b, Node::Link(a));
                    } else {
                        self.set(a, Node::Link(b));
                    }
                }
                (Node::Var(_), _) => self.bind(a, b)?,
                (_, Node::Var(_)) => self.bind(b, a)?,
                (Node::List(x), Node::List(y)) => {
                    work.push((x, y));
                }
                (Node::Fun(a1, r1), Node::Fun(a2, r2)) => {
                    work.push((r1, r2));
                    work.push((a1, a2));
                }
                (Node::Record(f1), Node::Record(f2)) => {
                    if f1.len() != f2.len() || f1.iter().zip(f2.iter()).any(|(x, y)| x.0 != y.0) {
                        return Err(Fail::Mismatch);
                    }
                    for (x, y) in f1.iter().zip(f2.iter()).rev() {
                        work.push((x.1, y.1));
                    }
                }
                (Node::Con(n1, a1), Node::Con(n2, a2)) => {
                    if n1 != n2 || a1.len() != a2.len() {
                        return Err(Fail::Mismatch);
                    }
                    for (x, y) in a1.iter().zip(a2.iter()).rev() {
                        work.push((*x, *y));
                    }
                }
                (Node::Unit, Node::Unit)
                | (Node::Bool, Node::Bool)
                | (Node::Int, Node::Int)
                | (Node::Float, Node::Float)
                | (Node::Str, Node::Str) => {}
                _ => return Err(Fail::Mismatch),
            }
        }
        Ok(())
    }

    /// Resolves pending class constraints whose variable is about to be generalised
    /// (defaulting it) or is already concrete (checking it).
    fn settle(&mut self, generalising: &[Ty], all: bool) -> Result<(), Error> {
        let pending = std::mem::take(&mut self.pending);
        let generalising: HashSet<Ty> = generalising.iter().map(|t| self.repr(*t)).collect();
        for (t, class, span) in pending {
            let r = self.find(t);
            match self.node(r).clone() {
                Node::Var(_) if all || generalising.contains(&r) => {
                    let default = match class {
                        Class::Numeric | Class::Ordered => INT,
                        Class::Concat => STR,
                    };
                    self.set(r, Node::Link(default));
                }
                Node::Var(_) => self.pending.push((t, class, span)),
                concrete => {
                    let ok = match class {
                        Class::Numeric => matches!(concrete, Node::Int | Node::Float),
                        Class::Ordered => {
                            matches!(concrete, Node::Int | Node::Float | Node::Str)
                        }
                        Class::Concat => matches!(concrete, Node::Str | Node::List(_)),
                    };
                    if !ok {
                        let what = match class {
                            Class::Numeric => "a number (Integer or Float)",
                            Class::Ordered => "an Integer, Float or String",
                            Class::Concat => "a String or a List",
                        };
                        let shown = self.show(r);
                        return self.error(span, format!("expected {what}, found {shown}"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Generalises the variables of `t` deeper than the current level (those not free
    /// in the environment), after settling their class constraints.
    fn generalize(&mut self, t: Ty, top_level: bool) -> Result<Binding, Error> {
        let vars = self.vars_deeper_than(t, self.level)?;
        self.settle(&vars, top_level)?;
        let vars = self.vars_deeper_than(t, self.level)?;
        for v in &vars {
            self.nodes[v.0 as usize] = Node::Var(GENERIC);
        }
        Ok(Binding {
            ty: t,
            poly: !vars.is_empty(),
        })
    }

    /// The exported scheme of a generalised binding.
    fn export(&mut self, b: Binding) -> Result<Scheme, Error> {
        let mut numbering = HashMap::new();
        let ty = self.freeze_with(b.ty, &mut numbering, &mut HashMap::new(), true)?;
        Ok(Scheme {
            vars: numbering.len() as u32,
            ty,
        })
    }

    fn lookup_type(&self, name: &str) -> Option<TypeDef> {
        self.types.get(name).cloned()
    }

    /// Converts a written type; `vars` maps the annotation's `'T` names.
    fn convert(
        &mut self,
        te: &TypeExpr,
        vars: &mut HashMap<String, Ty>,
        allow_new_vars: bool,
    ) -> Result<Ty, Error> {
        self.tick(1)?;
        Ok(match te {
            TypeExpr::Var(v) => match vars.get(v) {
                Some(t) => *t,
                None if allow_new_vars => {
                    let t = self.fresh();
                    vars.insert(v.clone(), t);
                    t
                }
                None => {
                    return self.error(Span::default(), format!("unknown type variable `'{v}`"));
                }
            },
            TypeExpr::Record(fs) => {
                let mut out = BTreeMap::new();
                for (n, t) in fs {
                    let t = self.convert(t, vars, allow_new_vars)?;
                    out.insert(n.clone(), t);
                }
                self.alloc(Node::Record(out.into_iter().collect()))
            }
            TypeExpr::Fun(a, b) => {
                let a = self.convert(a, vars, allow_new_vars)?;
                let b = self.convert(b, vars, allow_new_vars)?;
                self.fun(a, b)
            }
            TypeExpr::Refine(base, pred) => {
                let t = self.convert(base, vars, allow_new_vars)?;
                self.deferred_preds.push(((**pred).clone(), t));
                t
            }
            TypeExpr::Named(name, args, span) => {
                let mut converted = Vec::new();
                for a in args {
                    converted.push(self.convert(a, vars, allow_new_vars)?);
                }
                let builtin = match name.as_str() {
                    "Unit" => Some(UNIT),
                    "Bool" => Some(BOOL),
                    "Integer" => Some(INT),
                    "Float" => Some(FLOAT),
                    "String" => Some(STR),
                    _ => None,
                };
                if let Some(b) = builtin {
                    if !converted.is_empty() {
                        return self.error(*span, format!("type `{name}` takes no arguments"));
                    }
                    return Ok(b);
                }
                if name == "List" {
                    if converted.len() != 1 {
                        return self.error(*span, "type `List` takes exactly one argument");
                    }
                    return Ok(self.list(converted[0]));
                }
                let arity_error = |params: u32, this: &Self| {
                    this.error(
                        *span,
                        format!(
                            "type `{name}` takes {} argument(s), {} given",
                            params,
                            converted.len()
                        ),
                    )
                };
                match self.lookup_type(name) {
                    Some(TypeDef::Alias { params, body }) => {
                        if params as usize != converted.len() {
                            return arity_error(params, self);
                        }
                        self.thaw(&body, &converted)?
                    }
                    Some(TypeDef::Union { qualified, params }) => {
                        if params as usize != converted.len() {
                            return arity_error(params, self);
                        }
                        self.alloc(Node::Con(qualified, converted.into()))
                    }
                    None => return self.error(*span, format!("unknown type `{name}`")),
                }
            }
        })
    }

    fn module(&mut self, m: &Module) -> Result<ModuleTypes, Error> {
        // Exported types and constructors of imports come into scope unqualified.
        let mut type_origin: HashMap<String, String> = HashMap::new();
        let mut aliases = HashSet::new();
        for imp in &m.imports {
            if !aliases.insert(imp.alias.as_str()) {
                return self.error(imp.span, format!("two imports are named `{}`", imp.alias));
            }
        }
        let imports: Vec<(String, Span, Arc<ModuleTypes>)> = m
            .imports
            .iter()
            .filter_map(|i| {
                self.imports
                    .get(&i.alias)
                    .map(|t| (i.alias.clone(), i.span, t.clone()))
            })
            .collect();
        for (alias, span, t) in &imports {
            for (n, d) in &t.types {
                if let Some(other) = type_origin.insert(n.clone(), alias.clone()) {
                    return self.error(
                        *span,
                        format!("type `{n}` is exported by both `{other}` and `{alias}`"),
                    );
                }
                self.types.insert(n.clone(), d.clone());
            }
            for (n, c) in &t.ctors {
                self.ctors.insert(n.clone(), c.clone());
            }
        }
        // Local unions first (names only) so that payloads and aliases may refer to them.
        let mut seen = HashSet::new();
        for td in &m.types {
            if !seen.insert(td.name.clone()) {
                return self.error(td.span, format!("type `{}` is declared twice", td.name));
            }
            if matches!(
                td.name.as_str(),
                "Unit" | "Bool" | "Integer" | "Float" | "String" | "List"
            ) {
                return self.error(td.span, format!("`{}` is a built-in type", td.name));
            }
            if let TypeBody::Union(_) = td.body {
                let qualified: Arc<str> = format!("{}::{}", self.module_key, td.name).into();
                self.types.insert(
                    td.name.clone(),
                    TypeDef::Union {
                        qualified,
                        params: td.params.len() as u32,
                    },
                );
            }
        }
        for td in &m.types {
            if let TypeBody::Alias(body) = &td.body {
                let ids: Vec<Ty> = td.params.iter().map(|_| self.fresh()).collect();
                let mut vars: HashMap<String, Ty> =
                    td.params.iter().cloned().zip(ids.iter().copied()).collect();
                // The alias is not in scope inside its own body, so recursion is an
                // "unknown type" error rather than an infinite expansion.
                let t = self.convert_at(body, &mut vars, td.span)?;
                let body = self.freeze_over(t, &ids)?;
                self.types.insert(
                    td.name.clone(),
                    TypeDef::Alias {
                        params: ids.len() as u32,
                        body,
                    },
                );
            }
        }
        let mut local_ctors = HashSet::new();
        for td in &m.types {
            if let TypeBody::Union(variants) = &td.body {
                let Some(TypeDef::Union { qualified, params }) = self.lookup_type(&td.name) else {
                    continue;
                };
                let ids: Vec<Ty> = td.params.iter().map(|_| self.fresh()).collect();
                let mut vars: HashMap<String, Ty> =
                    td.params.iter().cloned().zip(ids.iter().copied()).collect();
                for v in variants {
                    if !local_ctors.insert(v.name.clone()) {
                        return self.error(
                            v.span,
                            format!("constructor `{}` is declared twice", v.name),
                        );
                    }
                    let payload = match &v.payload {
                        Some(p) => {
                            let t = self.convert_at(p, &mut vars, v.span)?;
                            Some(self.freeze_over(t, &ids)?)
                        }
                        None => None,
                    };
                    self.ctors.insert(
                        v.name.clone(),
                        CtorInfo {
                            qualified: qualified.clone(),
                            params,
                            payload,
                        },
                    );
                }
            }
        }
        self.declare_classes(m, &imports)?;
        self.declare_selected(m, &imports)?;
        // Type-level refinement predicates are checked after the values they may use.
        let type_preds = std::mem::take(&mut self.deferred_preds);

        // Top-level bindings, strongly connected components first-dependencies-first.
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, l) in m.lets.iter().enumerate() {
            if index.insert(l.name.as_str(), i).is_some() {
                return self.error(l.span, format!("`{}` is defined twice", l.name));
            }
        }
        let deps: Vec<Vec<usize>> = m
            .lets
            .iter()
            .map(|l| {
                let mut out = HashSet::new();
                free_globals(&l.value, &mut Vec::new(), &mut out);
                if let Some(a) = &l.ann {
                    free_globals_type(a, &mut out);
                }
                let mut d: Vec<usize> = out
                    .iter()
                    .filter_map(|n| index.get(n.as_str()).copied())
                    .collect();
                d.sort_unstable();
                d
            })
            .collect();
        for scc in tarjan(&deps) {
            let recursive = scc.len() > 1 || deps[scc[0]].contains(&scc[0]);
            if recursive {
                if let Some(&bad) = scc
                    .iter()
                    .find(|&&i| !matches!(m.lets[i].value.kind, ExprKind::Lambda(_)))
                {
                    let names: Vec<&str> = scc.iter().map(|&i| m.lets[i].name.as_str()).collect();
                    return self.error(
                        m.lets[bad].span,
                        format!(
                            "`{}` is defined in terms of itself ({}); only functions may be recursive",
                            m.lets[bad].name,
                            names.join(", ")
                        ),
                    );
                }
            }
            // The component is inferred one level down, so that what it does not share
            // with the (fully generalised) top level is generalised afterwards.
            self.level += 1;
            let mut tys = Vec::new();
            for &i in &scc {
                let t = self.fresh();
                self.globals
                    .insert(m.lets[i].name.clone(), Binding { ty: t, poly: false });
                tys.push(t);
            }
            for (k, &i) in scc.iter().enumerate() {
                let l = &m.lets[i];
                let t = self.infer_annotated(&l.value, l.ann.as_ref(), l.span);
                let t = match t {
                    Ok(t) => t,
                    Err(e) => {
                        self.level -= 1;
                        return Err(e);
                    }
                };
                let annotated = match &l.ann {
                    Some(a) => self
                        .annotation(a, l.span)
                        .and_then(|at| self.unify(at, t, l.value.span)),
                    None => Ok(()),
                };
                if let Err(e) = annotated.and_then(|()| self.unify(tys[k], t, l.span)) {
                    self.level -= 1;
                    return Err(e);
                }
            }
            self.level -= 1;
            self.resolve_fields(false)?;
            for (k, &i) in scc.iter().enumerate() {
                let b = self.generalize(tys[k], true)?;
                self.globals.insert(m.lets[i].name.clone(), b);
            }
        }
        for (pred, t) in type_preds {
            let pt = self.infer_pred(&pred, t)?;
            let want = self.fun(t, BOOL);
            self.unify(want, pt, pred.span)?;
            self.settle(&[], true)?;
        }
        self.check_instances(m)?;

        let all = exports_all(m);
        let mut out = ModuleTypes::default();
        self.export_classes(m, all, &mut out);
        for l in &m.lets {
            if all || l.exported {
                if let Some(b) = self.globals.get(&l.name).copied() {
                    let s = self.export(b)?;
                    out.values.insert(l.name.clone(), s);
                }
            }
        }
        for td in &m.types {
            if all || td.exported {
                if let Some(d) = self.types.get(&td.name) {
                    out.types.insert(td.name.clone(), d.clone());
                }
                if let TypeBody::Union(vs) = &td.body {
                    for v in vs {
                        if let Some(c) = self.ctors.get(&v.name) {
                            out.ctors.insert(v.name.clone(), c.clone());
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    fn convert_at(
        &mut self,
        te: &TypeExpr,
        vars: &mut HashMap<String, Ty>,
        span: Span,
    ) -> Result<Ty, Error> {
        let file = self.file;
        self.convert(te, vars, false)
            .map_err(|e| Self::locate(e, file, span))
    }

    /// Gives an error raised without a position (line 0) the position `span`.
    fn locate(e: Error, file: &str, span: Span) -> Error {
        match e {
            Error::Type {
                line: 0, message, ..
            } => Error::Type {
                file: file.to_owned(),
                line: span.line,
                col: span.col,
                message,
            },
            other => other,
        }
    }

    /// Converts an annotation and checks its refinement predicates in the current scope.
    fn annotation(&mut self, a: &TypeExpr, span: Span) -> Result<Ty, Error> {
        let saved = std::mem::take(&mut self.deferred_preds);
        let mut vars = HashMap::new();
        let file = self.file;
        let t = self.convert(a, &mut vars, true);
        let preds = std::mem::replace(&mut self.deferred_preds, saved);
        let t = t.map_err(|e| Self::locate(e, file, span))?;
        for (pred, pt) in preds {
            let found = self.infer_pred(&pred, pt)?;
            let want = self.fun(pt, BOOL);
            self.unify(want, found, pred.span)?;
        }
        Ok(t)
    }

    /// The type of a refinement predicate on `subject`: a lambda's parameter is given
    /// the subject's type before its body is checked, so the predicate of a record
    /// type may read the record's fields (`{ lo: Integer, hi: Integer } where x.lo <= x.hi`).
    fn infer_pred(&mut self, pred: &Expr, subject: Ty) -> Result<Ty, Error> {
        let ExprKind::Lambda(l) = &pred.kind else {
            return self.infer(pred);
        };
        if l.ann.is_some() {
            return self.infer(pred);
        }
        self.locals.push((
            l.param.clone(),
            Binding {
                ty: subject,
                poly: false,
            },
        ));
        let body = self.infer(&l.body);
        self.locals.pop();
        let body = body?;
        Ok(self.fun(subject, body))
    }

    /// The type of a bound value: an annotated lambda is checked against its
    /// annotation, so that its parameters' types are known in its body
    /// (`let name: Service -> String = \s -> s.name;`); anything else is inferred (the
    /// caller unifies it with the annotation).
    fn infer_annotated(
        &mut self,
        value: &Expr,
        ann: Option<&TypeExpr>,
        span: Span,
    ) -> Result<Ty, Error> {
        match (ann, &value.kind) {
            (Some(a), ExprKind::Lambda(_)) => {
                let at = self.annotation(a, span)?;
                self.check_against(value, at)?;
                Ok(at)
            }
            _ => self.infer(value),
        }
    }

    /// A fresh instance of a built-in's type, with its constraint pending.
    fn builtin_type(&mut self, b: crate::stdlib::Builtin, span: Span) -> Result<Ty, Error> {
        let te = crate::parser::parse_type(b.signature()).map_err(|e| Error::Type {
            file: self.file.to_owned(),
            line: span.line,
            col: span.col,
            message: format!("built-in `{}`: {}", b.name(), e.message),
        })?;
        let mut vars = HashMap::new();
        let t = self.convert(&te, &mut vars, true)?;
        if let (Some(c), Some(a)) = (b.constraint(), vars.get("a").copied()) {
            let class = match c {
                crate::stdlib::Constraint::Sized => Class::Concat,
                crate::stdlib::Constraint::Ordered => Class::Ordered,
            };
            self.pending.push((a, class, span));
        }
        Ok(t)
    }

    fn lookup_var(&mut self, name: &str, span: Span) -> Result<Ty, Error> {
        if let Some((_, b)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            let b = *b;
            return self.instantiate(b);
        }
        if let Some(b) = self.globals.get(name).copied() {
            return self.instantiate(b);
        }
        if let Some(t) = self.selected_type(name)? {
            return Ok(t);
        }
        if let Some(t) = self.method_type(name, span)? {
            return Ok(t);
        }
        if self.imports.contains_key(name) {
            return self.error(span, format!("`{name}` is a module; use `{name}.member`"));
        }
        if let Some(b) = crate::stdlib::Builtin::lookup(name) {
            return self.builtin_type(b, span);
        }
        self.error(span, format!("unknown variable `{name}`"))
    }

    fn is_module(&self, name: &str) -> bool {
        !self.locals.iter().any(|(n, _)| n == name)
            && !self.globals.contains_key(name)
            && self.imports.contains_key(name)
    }

    /// The type a constructor builds and its payload's type, with fresh parameters.
    fn ctor_type(&mut self, name: &str, span: Span) -> Result<(Ty, Option<Ty>), Error> {
        let Some(info) = self.ctors.get(name).cloned() else {
            return self.error(span, format!("unknown constructor `{name}`"));
        };
        let args: Vec<Ty> = (0..info.params).map(|_| self.fresh()).collect();
        let result = self.alloc(Node::Con(info.qualified.clone(), args.clone().into()));
        let payload = match &info.payload {
            Some(p) => Some(self.thaw(p, &args)?),
            None => None,
        };
        Ok((result, payload))
    }

    /// Record fields of `t` if its representative is a record.
    fn record_fields(&mut self, t: Ty) -> Option<Rc<[(String, Ty)]>> {
        let r = self.find(t);
        match self.node(r) {
            Node::Record(fs) => Some(fs.clone()),
            _ => None,
        }
    }

    /// An application, its whole spine `f a1 ... an` at once, so that too many
    /// arguments are reported against the function's arity. Out of `infer`, whose
    /// stack frame every level of nesting pays for.
    #[inline(never)]
    fn infer_app(&mut self, e: &Expr) -> Result<Ty, Error> {
        // The whole spine `f a1 ... an` at once, so that too many arguments
        // are reported against the function's arity.
        let mut args = Vec::new();
        let mut head = e;
        while let ExprKind::App(f, a) = &head.kind {
            args.push(&**a);
            head = f;
        }
        args.reverse();
        let mut ft = self.infer(head)?;
        // Arguments other than lambdas first, then the lambdas against the parameter
        // types that the others fixed: in `map (\s -> s.name) services` the lambda's
        // parameter is known to be a record by the time its body reads a field.
        let mut lambdas = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let fr = self.find(ft);
            let param = match self.node(fr).clone() {
                Node::Fun(param, result) => {
                    ft = result;
                    param
                }
                Node::Var(_) => {
                    let (p, r) = (self.fresh(), self.fresh());
                    let want = self.fun(p, r);
                    self.unify(ft, want, a.span)?;
                    ft = r;
                    p
                }
                _ if i == 0 => {
                    let shown = self.show(fr);
                    return self.error(
                        head.span,
                        format!("a value of type {shown} is not a function"),
                    );
                }
                _ => {
                    let shown = self.show(fr);
                    return self.error(
                        a.span,
                        format!(
                            "{} expects {i} argument{}, given {} (after {i} the result is {shown}, not a function)",
                            callee_name(head),
                            if i == 1 { "" } else { "s" },
                            args.len()
                        ),
                    );
                }
            };
            if matches!(a.kind, ExprKind::Lambda(_)) {
                lambdas.push((*a, param));
                continue;
            }
            let at = self.infer(a)?;
            self.unify(param, at, a.span)?;
        }
        for (a, param) in lambdas {
            self.check_against(a, param)?;
        }
        Ok(ft)
    }

    /// `"a ${e} b"`: any part but a function.
    #[inline(never)]
    fn infer_interp(&mut self, parts: &[Expr]) -> Result<Ty, Error> {
        for p in parts {
            let t = self.infer(p)?;
            let r = self.find(t);
            if let Node::Fun(..) = self.node(r) {
                return self.error(p.span, "a function cannot be put in a string");
            }
        }
        Ok(STR)
    }

    /// `{ r | f = e }`: `r`'s type, each replaced field at its type.
    #[inline(never)]
    fn infer_update(&mut self, target: &Expr, fields: &[(String, Expr)]) -> Result<Ty, Error> {
        let t = self.infer(target)?;
        let Some(fs) = self.record_fields(t) else {
            let shown = self.show(t);
            return self.error(
                target.span,
                format!(
                    "`{{ r | ... }}` needs a record of a known type, found {shown}; annotate it"
                ),
            );
        };
        for (n, e) in fields {
            let Ok(i) = fs.binary_search_by(|(f, _)| f.as_str().cmp(n)) else {
                let names: Vec<&str> = fs.iter().map(|(n, _)| n.as_str()).collect();
                return self.error(
                    e.span,
                    format!(
                        "record has no field `{n}` to replace (it has: {})",
                        names.join(", ")
                    ),
                );
            };
            let et = self.infer(e)?;
            self.unify(fs[i].1, et, e.span)?;
        }
        Ok(t)
    }

    /// `a & b`: the fields of both records, `b`'s type where both have a field.
    #[inline(never)]
    fn infer_merge(&mut self, l: &Expr, r: &Expr, span: Span) -> Result<Ty, Error> {
        let lt = self.infer(l)?;
        let rt = self.infer(r)?;
        let (Some(a), Some(b)) = (self.record_fields(lt), self.record_fields(rt)) else {
            let shown = self.show_all(&[lt, rt]);
            return self.error(
                span,
                format!(
                    "`&` merges two records of known types, found {} and {}",
                    shown[0], shown[1]
                ),
            );
        };
        let mut out: BTreeMap<String, Ty> = a.iter().cloned().collect();
        for (n, t) in b.iter() {
            out.insert(n.clone(), *t);
        }
        Ok(self.alloc(Node::Record(out.into_iter().collect())))
    }

    fn infer(&mut self, e: &Expr) -> Result<Ty, Error> {
        self.tick(1)?;
        let span = e.span;
        Ok(match &e.kind {
            ExprKind::Unit => UNIT,
            ExprKind::Bool(_) => BOOL,
            ExprKind::Int(_) => INT,
            ExprKind::Float(_) => FLOAT,
            ExprKind::Str(_) => STR,
            ExprKind::Var(name) => self.lookup_var(name, span)?,
            ExprKind::Ctor(name) => {
                let (result, payload) = self.ctor_type(name, span)?;
                match payload {
                    Some(p) => self.fun(p, result),
                    None => result,
                }
            }
            ExprKind::List(items) => {
                let elem = self.fresh();
                for it in items {
                    let t = self.infer(it)?;
                    self.unify(elem, t, it.span)?;
                }
                self.list(elem)
            }
            ExprKind::Record(fields) => {
                let mut out = BTreeMap::new();
                for (n, v) in fields {
                    let t = self.infer(v)?;
                    out.insert(n.clone(), t);
                }
                self.alloc(Node::Record(out.into_iter().collect()))
            }
            ExprKind::Field(target, field) => {
                if let ExprKind::Var(m) = &target.kind {
                    if self.is_module(m) {
                        let scheme = self
                            .imports
                            .get(m)
                            .and_then(|t| t.values.get(field).cloned());
                        return match scheme {
                            Some(s) => self.instantiate_scheme(&s),
                            None => {
                                self.error(span, format!("module `{m}` does not export `{field}`"))
                            }
                        };
                    }
                }
                let t = self.infer(target)?;
                if let Some(fs) = self.record_fields(t) {
                    return match fs.binary_search_by(|(n, _)| n.as_str().cmp(field)) {
                        Ok(i) => Ok(fs[i].1),
                        Err(_) => {
                            let names: Vec<&str> = fs.iter().map(|(n, _)| n.as_str()).collect();
                            self.error(
                                span,
                                format!(
                                    "record has no field `{field}` (it has: {})",
                                    names.join(", ")
                                ),
                            )
                        }
                    };
                }
                let r = self.find(t);
                if let Node::Var(_) = self.node(r) {
                    return Ok(self.defer_field(r, field, span));
                }
                let shown = self.show(r);
                return self.error(
                    span,
                    format!("`.{field}` on a value of type {shown}, which is not a record"),
                );
            }
            ExprKind::Lambda(l) => {
                let pt = match &l.ann {
                    Some(a) => self.annotation(a, span)?,
                    None => self.fresh(),
                };
                self.locals.push((
                    l.param.clone(),
                    Binding {
                        ty: pt,
                        poly: false,
                    },
                ));
                let body = self.infer(&l.body);
                self.locals.pop();
                let body = body?;
                self.fun(pt, body)
            }
            ExprKind::App(..) => self.infer_app(e)?,
            ExprKind::Let(name, ann, value, body) => {
                self.level += 1;
                let vt = self
                    .infer_annotated(value, ann.as_ref(), span)
                    .and_then(|vt| match ann {
                        Some(a) => {
                            let at = self.annotation(a, span)?;
                            self.unify(at, vt, value.span)?;
                            Ok(vt)
                        }
                        None => Ok(vt),
                    });
                self.level -= 1;
                let b = self.generalize(vt?, false)?;
                self.locals.push((name.clone(), b));
                let r = self.infer(body);
                self.locals.pop();
                r?
            }
            ExprKind::If(c, t, f) => {
                let ct = self.infer(c)?;
                self.unify(BOOL, ct, c.span)?;
                let tt = self.infer(t)?;
                let ft = self.infer(f)?;
                self.unify(tt, ft, f.span)?;
                tt
            }
            ExprKind::Match(scrutinee, arms) => {
                let st = self.infer(scrutinee)?;
                let result = self.fresh();
                for arm in arms {
                    let mark = self.locals.len();
                    let r = self.arm(arm, st, result);
                    self.locals.truncate(mark);
                    r?;
                }
                result
            }
            ExprKind::Interp(parts) => self.infer_interp(parts)?,
            ExprKind::Update(target, fields) => self.infer_update(target, fields)?,
            ExprKind::Binary(BinOp::Merge, l, r) => self.infer_merge(l, r, span)?,
            ExprKind::Binary(op, l, r) => {
                let lt = self.infer(l)?;
                let rt = self.infer(r)?;
                match op {
                    BinOp::And | BinOp::Or => {
                        self.unify(BOOL, lt, l.span)?;
                        self.unify(BOOL, rt, r.span)?;
                        BOOL
                    }
                    BinOp::Eq | BinOp::Ne => {
                        self.unify(lt, rt, r.span)?;
                        BOOL
                    }
                    BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                        self.unify(lt, rt, r.span)?;
                        self.pending.push((lt, Class::Ordered, span));
                        BOOL
                    }
                    BinOp::Concat => {
                        self.unify(lt, rt, r.span)?;
                        self.pending.push((lt, Class::Concat, span));
                        lt
                    }
                    _ => {
                        self.unify(lt, rt, r.span)?;
                        self.pending.push((lt, Class::Numeric, span));
                        lt
                    }
                }
            }
            ExprKind::Unary(op, x) => {
                let t = self.infer(x)?;
                match op {
                    UnOp::Not => {
                        self.unify(BOOL, t, x.span)?;
                        BOOL
                    }
                    UnOp::Neg => {
                        self.pending.push((t, Class::Numeric, span));
                        t
                    }
                }
            }
        })
    }

    fn arm(&mut self, arm: &Arm, scrutinee: Ty, result: Ty) -> Result<(), Error> {
        self.pattern(&arm.pat, scrutinee, arm.body.span)?;
        if let Some(g) = &arm.guard {
            let gt = self.infer(g)?;
            self.unify(BOOL, gt, g.span)?;
        }
        let bt = self.infer(&arm.body)?;
        self.unify(result, bt, arm.body.span)
    }

    fn pattern(&mut self, p: &Pattern, t: Ty, span: Span) -> Result<(), Error> {
        self.tick(1)?;
        match p {
            Pattern::Wildcard => Ok(()),
            Pattern::Var(n) => {
                self.locals
                    .push((n.clone(), Binding { ty: t, poly: false }));
                Ok(())
            }
            Pattern::Unit => self.unify(t, UNIT, span),
            Pattern::Bool(_) => self.unify(t, BOOL, span),
            Pattern::Int(_) => self.unify(t, INT, span),
            Pattern::Str(_) => self.unify(t, STR, span),
            Pattern::List(items) => {
                let elem = self.fresh();
                let lt = self.list(elem);
                self.unify(t, lt, span)?;
                for it in items {
                    self.pattern(it, elem, span)?;
                }
                Ok(())
            }
            Pattern::ListRest(items, rest) => {
                let elem = self.fresh();
                let lt = self.list(elem);
                self.unify(t, lt, span)?;
                for it in items {
                    self.pattern(it, elem, span)?;
                }
                self.pattern(rest, lt, span)
            }
            Pattern::Ctor(name, payload, pspan) => {
                let (result, pt) = self.ctor_type(name, *pspan)?;
                self.unify(t, result, *pspan)?;
                match (payload, pt) {
                    (Some(p), Some(pt)) => self.pattern(p, pt, *pspan),
                    (None, None) => Ok(()),
                    (Some(_), None) => {
                        self.error(*pspan, format!("constructor `{name}` has no payload"))
                    }
                    (None, Some(_)) => self.error(
                        *pspan,
                        format!("constructor `{name}` needs a payload pattern, e.g. `{name}(_)`"),
                    ),
                }
            }
            Pattern::Record(fields, pspan) => {
                if let Some(fs) = self.record_fields(t) {
                    for (n, fp) in fields {
                        let Ok(i) = fs.binary_search_by(|(f, _)| f.as_str().cmp(n)) else {
                            return self.error(*pspan, format!("record has no field `{n}`"));
                        };
                        self.pattern(fp, fs[i].1, *pspan)?;
                    }
                    return Ok(());
                }
                let r = self.find(t);
                if let Node::Var(_) = self.node(r) {
                    let mut out = BTreeMap::new();
                    for (n, _) in fields {
                        let f = self.fresh();
                        out.insert(n.clone(), f);
                    }
                    let rt = self.alloc(Node::Record(
                        out.iter().map(|(n, t)| (n.clone(), *t)).collect(),
                    ));
                    self.unify(t, rt, *pspan)?;
                    for (n, fp) in fields {
                        self.pattern(fp, out[n], *pspan)?;
                    }
                    return Ok(());
                }
                let shown = self.show(r);
                self.error(
                    *pspan,
                    format!("record pattern against a value of type {shown}"),
                )
            }
        }
    }
}

/// How an error names the function at the head of an application.
fn callee_name(head: &Expr) -> String {
    match &head.kind {
        ExprKind::Var(n) | ExprKind::Ctor(n) => format!("`{n}`"),
        ExprKind::Field(t, f) => match &t.kind {
            ExprKind::Var(m) => format!("`{m}.{f}`"),
            _ => format!("`.{f}`"),
        },
        _ => "this function".into(),
    }
}

/// Collects the names an expression reads that are not bound inside it.
pub(crate) fn free_globals(e: &Expr, bound: &mut Vec<String>, out: &mut HashSet<String>) {
    match &e.kind {
        ExprKind::Var(n) if !bound.contains(n) => {
            out.insert(n.clone());
        }
        ExprKind::List(xs) | ExprKind::Interp(xs) => {
            xs.iter().for_each(|x| free_globals(x, bound, out))
        }
        ExprKind::Record(fs) => fs.iter().for_each(|(_, x)| free_globals(x, bound, out)),
        ExprKind::Update(r, fs) => {
            free_globals(r, bound, out);
            fs.iter().for_each(|(_, x)| free_globals(x, bound, out));
        }
        ExprKind::Field(x, _) | ExprKind::Unary(_, x) => free_globals(x, bound, out),
        ExprKind::Lambda(l) => {
            if let Some(a) = &l.ann {
                free_globals_type(a, out);
            }
            bound.push(l.param.clone());
            free_globals(&l.body, bound, out);
            bound.pop();
        }
        ExprKind::App(a, b) | ExprKind::Binary(_, a, b) => {
            free_globals(a, bound, out);
            free_globals(b, bound, out);
        }
        ExprKind::Let(n, ann, v, b) => {
            if let Some(a) = ann {
                free_globals_type(a, out);
            }
            free_globals(v, bound, out);
            bound.push(n.clone());
            free_globals(b, bound, out);
            bound.pop();
        }
        ExprKind::If(a, b, c) => {
            free_globals(a, bound, out);
            free_globals(b, bound, out);
            free_globals(c, bound, out);
        }
        ExprKind::Match(s, arms) => {
            free_globals(s, bound, out);
            for arm in arms {
                let mark = bound.len();
                pattern_vars(&arm.pat, bound);
                if let Some(g) = &arm.guard {
                    free_globals(g, bound, out);
                }
                free_globals(&arm.body, bound, out);
                bound.truncate(mark);
            }
        }
        _ => {}
    }
}

fn free_globals_type(t: &TypeExpr, out: &mut HashSet<String>) {
    match t {
        TypeExpr::Named(_, args, _) => args.iter().for_each(|a| free_globals_type(a, out)),
        TypeExpr::Var(_) => {}
        TypeExpr::Record(fs) => fs.iter().for_each(|(_, t)| free_globals_type(t, out)),
        TypeExpr::Fun(a, b) => {
            free_globals_type(a, out);
            free_globals_type(b, out);
        }
        TypeExpr::Refine(b, p) => {
            free_globals_type(b, out);
            free_globals(p, &mut Vec::new(), out);
        }
    }
}

pub(crate) fn pattern_vars(p: &Pattern, out: &mut Vec<String>) {
    match p {
        Pattern::Var(n) => out.push(n.clone()),
        Pattern::Ctor(_, Some(p), _) => pattern_vars(p, out),
        Pattern::Record(fs, _) => fs.iter().for_each(|(_, p)| pattern_vars(p, out)),
        Pattern::List(ps) => ps.iter().for_each(|p| pattern_vars(p, out)),
        Pattern::ListRest(ps, rest) => {
            ps.iter().for_each(|p| pattern_vars(p, out));
            pattern_vars(rest, out);
        }
        _ => {}
    }
}

/// Tarjan's algorithm without recursion: strongly connected components of `deps`
/// (edges from a binding to what it uses), each emitted after everything it uses.
pub(crate) fn tarjan(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = deps.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0usize;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut edge)) = call.last_mut() {
            if *edge < deps[v].len() {
                let w = deps[v][*edge];
                *edge += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut scc = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        scc.push(w);
                        if w == v {
                            break;
                        }
                    }
                    scc.sort_unstable();
                    out.push(scc);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_module;

    fn check(src: &str) -> Result<ModuleTypes, Error> {
        check_module("t.lig", &parse_module(src).unwrap(), &HashMap::new())
    }

    fn type_of(src: &str, name: &str) -> String {
        let t = check(src).unwrap();
        t.values[name].ty.to_string()
    }

    #[test]
    fn let_polymorphism_and_generalisation() {
        let t = check("let id = \\x -> x;\nlet a = id 1;\nlet b = id \"s\";").unwrap();
        assert_eq!(t.values["id"].vars, 1);
        assert!(matches!(t.values["a"].ty.kind(), TypeKind::Int));
        assert!(matches!(t.values["b"].ty.kind(), TypeKind::Str));
        assert_eq!(
            type_of("let f = let g = \\y -> y in { a = g 1, b = g true };", "f"),
            "{ a: Integer, b: Bool }"
        );
    }

    #[test]
    fn unresolved_numeric_constraints_default_to_integer() {
        assert_eq!(
            type_of("let add = \\x y -> x + y;", "add"),
            "(Integer) -> (Integer) -> Integer"
        );
        assert_eq!(
            type_of("let cat = \\x y -> x ++ y;", "cat"),
            "(String) -> (String) -> String"
        );
        assert_eq!(
            type_of("let fadd = \\(x : Float) y -> x + y;", "fadd"),
            "(Float) -> (Float) -> Float"
        );
    }

    #[test]
    fn unions_aliases_and_annotations() {
        let src = "type Option 'T = Some('T) | None;\ntype Pair 'A = { l: 'A, r: 'A };\nlet p: Pair Integer = { l = 1, r = 2 };\nlet o = Some(p);";
        assert_eq!(type_of(src, "o"), "Option ({ l: Integer, r: Integer })");
        let e = check("type Option 'T = Some('T) | None;\nlet x: Option = None;").unwrap_err();
        assert!(
            e.to_string().contains("takes 1 argument(s), 0 given"),
            "{e}"
        );
    }

    #[test]
    fn occurs_check_rejects_infinite_types() {
        let e = check("let f = \\x -> x x;").unwrap_err();
        assert!(e.to_string().contains("type mismatch"), "{e}");
    }

    #[test]
    fn occurs_check_sees_through_shared_structures() {
        let e = check("let f = \\c -> let b = [c] in [b] == b;").unwrap_err();
        assert!(e.to_string().contains("type mismatch"), "{e}");
        let e =
            check("let f = \\x y -> if true then [y] else x;\nlet g = \\z -> f z z;").unwrap_err();
        assert!(e.to_string().contains("type mismatch"), "{e}");
    }

    #[test]
    fn locals_do_not_leak_between_scopes() {
        let e = check("let a = (\\x -> x) 1;\nlet b = x;").unwrap_err();
        assert!(e.to_string().contains("unknown variable `x`"), "{e}");
    }

    #[test]
    fn tarjan_orders_dependencies_first_and_groups_cycles() {
        // 0 uses 1, 1 uses 2, 2 uses 1, 3 alone.
        let sccs = tarjan(&[vec![1], vec![2], vec![1], vec![]]);
        assert_eq!(sccs, vec![vec![1, 2], vec![0], vec![3]]);
    }

    /// `let f = \x -> { a = x, b = x };` applied `n` times: the result's type printed
    /// as a tree has 2^n leaves.
    fn doubling(n: usize) -> String {
        let mut call = "1".to_owned();
        for _ in 0..n {
            call = format!("f ({call})");
        }
        format!("let f = \\x -> {{ a = x, b = x }};\nlet r = {call};\nlet s = r.a.b.a;\n")
    }

    fn steps_of(src: &str, max_steps: u64) -> Result<u64, Error> {
        let limits = CheckLimits {
            max_steps,
            deadline: None,
        };
        check_module_with(
            "t.lig",
            &parse_module(src).unwrap(),
            &HashMap::new(),
            limits,
        )
        .map(|t| t.steps)
    }

    #[test]
    fn doubling_records_check_in_linear_steps() {
        // A step budget far below 2^60 (and even below 2^20): an exponential checker
        // stops with the limit error instead of running for hours.
        let s30 = steps_of(&doubling(30), 1_000_000).unwrap();
        let s60 = steps_of(&doubling(60), 1_000_000).unwrap();
        eprintln!("30: {s30} steps, 60: {s60} steps");
        assert!(s60 < 5_000, "{s60} steps for 60 applications");
        // Linear, with room for the (small) cost per application: doubling the
        // applications at most doubles the steps plus a constant.
        assert!(s60 <= 2 * s30 + 200, "30: {s30} steps, 60: {s60} steps");
    }

    #[test]
    fn doubling_chains_of_top_level_bindings_check_in_linear_steps() {
        let mut src = "let f = \\x -> { a = x, b = x };\nlet x0 = 1;\n".to_owned();
        for i in 1..=60 {
            src.push_str(&format!("let x{i} = f x{};\n", i - 1));
        }
        src.push_str("let pair = \\y -> { l = y, r = y };\nlet both = pair x60;\n");
        let steps = steps_of(&src, 1_000_000).unwrap();
        assert!(steps < 50_000, "{steps}");
        let t = check(&src).unwrap();
        // The exported scheme keeps the sharing: 2^60 leaves, about 60 nodes.
        assert!(t.values["x60"].ty.to_string().len() <= MAX_TYPE_CHARS + 10);
    }

    #[test]
    fn step_limit_is_a_typed_error() {
        let e = steps_of(&doubling(60), 100).unwrap_err();
        assert_eq!(
            e,
            Error::CheckLimit {
                file: "t.lig".into(),
                limit: 100
            }
        );
    }

    #[test]
    fn a_passed_deadline_stops_type_checking() {
        let mut src = String::new();
        for i in 0..2_000 {
            src.push_str(&format!("let x{i} = [1, 2, 3];\n"));
        }
        let limits = CheckLimits {
            max_steps: u64::MAX,
            deadline: Some((Instant::now(), Duration::from_millis(5))),
        };
        let e = check_module_with(
            "t.lig",
            &parse_module(&src).unwrap(),
            &HashMap::new(),
            limits,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.lig: timed out after 5 ms while type checking"
        );
    }

    #[test]
    fn messages_about_huge_types_are_bounded() {
        let src = format!("{}let bad: Integer = r;\n", doubling(60));
        let e = check(&src).unwrap_err().to_string();
        assert!(
            e.contains("type mismatch: expected Integer, found { a: { a: "),
            "{e}"
        );
        assert!(e.contains('…'), "{e}");
        assert!(e.len() < 2 * MAX_TYPE_CHARS + 200, "{} bytes", e.len());
    }

    #[test]
    fn a_failed_unification_reports_the_types_as_they_were() {
        // Without undoing the partial unification, both sides would print with `'a`
        // already bound to Integer.
        let e = check("let f = \\(p : { x: 'a, y: 'a }) -> p;\nlet g = f { x = 1, y = true };")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("expected { x: 't0, y: 't0 }, found { x: Integer, y: Bool }"),
            "{e}"
        );
    }

    #[test]
    fn shared_structures_unify_once() {
        // Two separately built doubling types of depth 40, unified: each pair of
        // shared nodes is unified once, so this is cheap.
        let mut a = "1".to_owned();
        let mut b = "2".to_owned();
        for _ in 0..40 {
            a = format!("f ({a})");
            b = format!("g ({b})");
        }
        let src = format!(
            "let f = \\x -> {{ a = x, b = x }};\nlet g = \\x -> {{ a = x, b = x }};\nlet same = [{a}, {b}];\n"
        );
        let steps = steps_of(&src, 1_000_000).unwrap();
        assert!(steps < 20_000, "{steps}");
    }
}
