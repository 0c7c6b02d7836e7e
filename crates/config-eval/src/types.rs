//! The Hindley-Milner type checker of one module.
//!
//! A [`Checker`] is created per module and owns its substitution and its local
//! environment; nothing mutable is shared. What other modules see is the immutable
//! [`ModuleTypes`] it produces, which the parallel engine publishes in a `DashMap`
//! once the module is done.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use crate::ast::*;
use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Type {
    Unit,
    Bool,
    Int,
    Float,
    Str,
    List(Box<Type>),
    Record(BTreeMap<String, Type>),
    Fun(Box<Type>, Box<Type>),
    /// A union, by its module-qualified name, applied to arguments.
    Con(Arc<str>, Vec<Type>),
    Var(u32),
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Unit => write!(f, "Unit"),
            Type::Bool => write!(f, "Bool"),
            Type::Int => write!(f, "Integer"),
            Type::Float => write!(f, "Float"),
            Type::Str => write!(f, "String"),
            Type::List(t) => write!(f, "List ({t})"),
            Type::Record(fs) => {
                write!(f, "{{ ")?;
                for (i, (n, t)) in fs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{n}: {t}")?;
                }
                write!(f, " }}")
            }
            Type::Fun(a, b) => write!(f, "({a}) -> {b}"),
            Type::Con(n, args) => {
                let short = n.rsplit("::").next().unwrap_or(n);
                write!(f, "{short}")?;
                for a in args {
                    write!(f, " ({a})")?;
                }
                Ok(())
            }
            Type::Var(v) => write!(f, "'t{v}"),
        }
    }
}

/// A type generalised over `vars`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scheme {
    pub(crate) vars: Vec<u32>,
    pub(crate) ty: Type,
}

impl Scheme {
    fn mono(ty: Type) -> Self {
        Scheme {
            vars: Vec::new(),
            ty,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum TypeDef {
    Alias {
        params: Vec<u32>,
        body: Type,
    },
    Union {
        qualified: Arc<str>,
        params: Vec<u32>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct CtorInfo {
    pub(crate) qualified: Arc<str>,
    pub(crate) params: Vec<u32>,
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
    !m.lets.iter().any(|l| l.exported) && !m.types.iter().any(|t| t.exported)
}

struct Checker<'a> {
    file: &'a str,
    module_key: &'a str,
    subst: Vec<Option<Type>>,
    pending: Vec<(Type, Class, Span)>,
    types: HashMap<String, TypeDef>,
    ctors: HashMap<String, CtorInfo>,
    imports: HashMap<String, Arc<ModuleTypes>>,
    globals: HashMap<String, Scheme>,
    locals: Vec<(String, Scheme)>,
    deferred_preds: Vec<(Expr, Type)>,
}

/// Type-checks `module` given the checked modules it imports (by alias).
pub(crate) fn check_module(
    file: &str,
    module: &Module,
    imports: &HashMap<String, Arc<ModuleTypes>>,
) -> Result<ModuleTypes, Error> {
    let mut c = Checker {
        file,
        module_key: file,
        subst: Vec::new(),
        pending: Vec::new(),
        types: HashMap::new(),
        ctors: HashMap::new(),
        imports: imports.clone(),
        globals: HashMap::new(),
        locals: Vec::new(),
        deferred_preds: Vec::new(),
    };
    c.module(module)
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

    fn fresh(&mut self) -> Type {
        self.subst.push(None);
        Type::Var((self.subst.len() - 1) as u32)
    }

    fn fresh_id(&mut self) -> u32 {
        self.subst.push(None);
        (self.subst.len() - 1) as u32
    }

    /// Follows the substitution at the top of `t` only.
    fn shallow(&self, t: &Type) -> Type {
        let mut t = t.clone();
        while let Type::Var(v) = t {
            match self.subst.get(v as usize).and_then(|s| s.clone()) {
                Some(next) => t = next,
                None => return Type::Var(v),
            }
        }
        t
    }

    /// Applies the substitution everywhere in `t`.
    fn resolve(&self, t: &Type) -> Type {
        match self.shallow(t) {
            Type::List(e) => Type::List(Box::new(self.resolve(&e))),
            Type::Record(fs) => Type::Record(
                fs.iter()
                    .map(|(n, t)| (n.clone(), self.resolve(t)))
                    .collect(),
            ),
            Type::Fun(a, b) => Type::Fun(Box::new(self.resolve(&a)), Box::new(self.resolve(&b))),
            Type::Con(n, args) => Type::Con(n, args.iter().map(|a| self.resolve(a)).collect()),
            other => other,
        }
    }

    fn occurs(&self, v: u32, t: &Type) -> bool {
        match self.shallow(t) {
            Type::Var(w) => v == w,
            Type::List(e) => self.occurs(v, &e),
            Type::Record(fs) => fs.values().any(|t| self.occurs(v, t)),
            Type::Fun(a, b) => self.occurs(v, &a) || self.occurs(v, &b),
            Type::Con(_, args) => args.iter().any(|a| self.occurs(v, a)),
            _ => false,
        }
    }

    fn unify(&mut self, expected: &Type, found: &Type, span: Span) -> Result<(), Error> {
        if self.unify_inner(expected, found).is_err() {
            let (e, f) = (self.resolve(expected), self.resolve(found));
            return self.error(span, format!("type mismatch: expected {e}, found {f}"));
        }
        Ok(())
    }

    fn unify_inner(&mut self, a: &Type, b: &Type) -> Result<(), ()> {
        let (a, b) = (self.shallow(a), self.shallow(b));
        match (&a, &b) {
            (Type::Var(x), Type::Var(y)) if x == y => Ok(()),
            (Type::Var(x), t) | (t, Type::Var(x)) => {
                if self.occurs(*x, t) {
                    return Err(());
                }
                self.subst[*x as usize] = Some(t.clone());
                Ok(())
            }
            (Type::List(x), Type::List(y)) => self.unify_inner(x, y),
            (Type::Fun(a1, r1), Type::Fun(a2, r2)) => {
                self.unify_inner(a1, a2)?;
                self.unify_inner(r1, r2)
            }
            (Type::Record(f1), Type::Record(f2)) => {
                if f1.len() != f2.len() || f1.keys().zip(f2.keys()).any(|(x, y)| x != y) {
                    return Err(());
                }
                for (x, y) in f1.values().zip(f2.values()) {
                    self.unify_inner(x, y)?;
                }
                Ok(())
            }
            (Type::Con(n1, a1), Type::Con(n2, a2)) => {
                if n1 != n2 || a1.len() != a2.len() {
                    return Err(());
                }
                for (x, y) in a1.iter().zip(a2.iter()) {
                    self.unify_inner(x, y)?;
                }
                Ok(())
            }
            _ if a == b => Ok(()),
            _ => Err(()),
        }
    }

    fn free_vars(&self, t: &Type, out: &mut Vec<u32>) {
        match self.shallow(t) {
            Type::Var(v) if !out.contains(&v) => out.push(v),
            Type::List(e) => self.free_vars(&e, out),
            Type::Record(fs) => fs.values().for_each(|t| self.free_vars(t, out)),
            Type::Fun(a, b) => {
                self.free_vars(&a, out);
                self.free_vars(&b, out);
            }
            Type::Con(_, args) => args.iter().for_each(|a| self.free_vars(a, out)),
            _ => {}
        }
    }

    fn instantiate(&mut self, s: &Scheme) -> Type {
        if s.vars.is_empty() {
            return s.ty.clone();
        }
        let map: HashMap<u32, Type> = s.vars.iter().map(|v| (*v, self.fresh())).collect();
        substitute(&s.ty, &map)
    }

    /// Resolves pending class constraints whose variable is about to be generalised
    /// (defaulting it) or is already concrete (checking it).
    fn settle(&mut self, generalising: &[u32], all: bool) -> Result<(), Error> {
        let pending = std::mem::take(&mut self.pending);
        for (t, class, span) in pending {
            let r = self.shallow(&t);
            match r {
                Type::Var(v) if all || generalising.contains(&v) => {
                    let default = match class {
                        Class::Numeric | Class::Ordered => Type::Int,
                        Class::Concat => Type::Str,
                    };
                    self.subst[v as usize] = Some(default);
                }
                Type::Var(_) => self.pending.push((t, class, span)),
                concrete => {
                    let ok = match class {
                        Class::Numeric => matches!(concrete, Type::Int | Type::Float),
                        Class::Ordered => matches!(concrete, Type::Int | Type::Float | Type::Str),
                        Class::Concat => matches!(concrete, Type::Str | Type::List(_)),
                    };
                    if !ok {
                        let what = match class {
                            Class::Numeric => "a number (Integer or Float)",
                            Class::Ordered => "an Integer, Float or String",
                            Class::Concat => "a String or a List",
                        };
                        let shown = self.resolve(&concrete);
                        return self.error(span, format!("expected {what}, found {shown}"));
                    }
                }
            }
        }
        Ok(())
    }

    fn generalize(&mut self, t: &Type, top_level: bool) -> Result<Scheme, Error> {
        let mut in_env = Vec::new();
        if !top_level {
            let locals: Vec<Type> = self.locals.iter().map(|(_, s)| s.ty.clone()).collect();
            for lt in &locals {
                self.free_vars(lt, &mut in_env);
            }
        }
        let mut vars = Vec::new();
        self.free_vars(t, &mut vars);
        vars.retain(|v| !in_env.contains(v));
        self.settle(&vars, top_level)?;
        let ty = self.resolve(t);
        let mut vars = Vec::new();
        self.free_vars(&ty, &mut vars);
        vars.retain(|v| !in_env.contains(v));
        Ok(Scheme { vars, ty })
    }

    fn lookup_type(&self, name: &str) -> Option<TypeDef> {
        self.types.get(name).cloned()
    }

    /// Converts a written type; `vars` maps the annotation's `'T` names.
    fn convert(
        &mut self,
        te: &TypeExpr,
        vars: &mut HashMap<String, Type>,
        allow_new_vars: bool,
    ) -> Result<Type, Error> {
        Ok(match te {
            TypeExpr::Var(v) => match vars.get(v) {
                Some(t) => t.clone(),
                None if allow_new_vars => {
                    let t = self.fresh();
                    vars.insert(v.clone(), t.clone());
                    t
                }
                None => {
                    return self.error(Span::default(), format!("unknown type variable `'{v}`"));
                }
            },
            TypeExpr::Record(fs) => {
                let mut out = BTreeMap::new();
                for (n, t) in fs {
                    out.insert(n.clone(), self.convert(t, vars, allow_new_vars)?);
                }
                Type::Record(out)
            }
            TypeExpr::Fun(a, b) => Type::Fun(
                Box::new(self.convert(a, vars, allow_new_vars)?),
                Box::new(self.convert(b, vars, allow_new_vars)?),
            ),
            TypeExpr::Refine(base, pred) => {
                let t = self.convert(base, vars, allow_new_vars)?;
                self.deferred_preds.push(((**pred).clone(), t.clone()));
                t
            }
            TypeExpr::Named(name, args, span) => {
                let mut converted = Vec::new();
                for a in args {
                    converted.push(self.convert(a, vars, allow_new_vars)?);
                }
                let builtin = match name.as_str() {
                    "Unit" => Some(Type::Unit),
                    "Bool" => Some(Type::Bool),
                    "Integer" => Some(Type::Int),
                    "Float" => Some(Type::Float),
                    "String" => Some(Type::Str),
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
                    return Ok(Type::List(Box::new(converted.remove(0))));
                }
                match self.lookup_type(name) {
                    Some(TypeDef::Alias { params, body }) => {
                        if params.len() != converted.len() {
                            return self.error(
                                *span,
                                format!(
                                    "type `{name}` takes {} argument(s), {} given",
                                    params.len(),
                                    converted.len()
                                ),
                            );
                        }
                        let map = params.into_iter().zip(converted).collect();
                        substitute(&body, &map)
                    }
                    Some(TypeDef::Union { qualified, params }) => {
                        if params.len() != converted.len() {
                            return self.error(
                                *span,
                                format!(
                                    "type `{name}` takes {} argument(s), {} given",
                                    params.len(),
                                    converted.len()
                                ),
                            );
                        }
                        Type::Con(qualified, converted)
                    }
                    None => return self.error(*span, format!("unknown type `{name}`")),
                }
            }
        })
    }

    fn module(&mut self, m: &Module) -> Result<ModuleTypes, Error> {
        // Exported types and constructors of imports come into scope unqualified.
        let mut type_origin: HashMap<String, String> = HashMap::new();
        let imports: Vec<(String, Arc<ModuleTypes>)> = m
            .imports
            .iter()
            .filter_map(|i| {
                self.imports
                    .get(&i.alias)
                    .map(|t| (i.alias.clone(), t.clone()))
            })
            .collect();
        for imp in &m.imports {
            if m.imports.iter().filter(|j| j.alias == imp.alias).count() > 1 {
                return self.error(imp.span, format!("two imports are named `{}`", imp.alias));
            }
        }
        for (alias, t) in &imports {
            let span = m
                .imports
                .iter()
                .find(|i| i.alias == *alias)
                .map(|i| i.span)
                .unwrap_or_default();
            for (n, d) in &t.types {
                if let Some(other) = type_origin.insert(n.clone(), alias.clone()) {
                    return self.error(
                        span,
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
                let params = td.params.iter().map(|_| self.fresh_id()).collect();
                let qualified: Arc<str> = format!("{}::{}", self.module_key, td.name).into();
                self.types
                    .insert(td.name.clone(), TypeDef::Union { qualified, params });
            }
        }
        for td in &m.types {
            if let TypeBody::Alias(body) = &td.body {
                let ids: Vec<u32> = td.params.iter().map(|_| self.fresh_id()).collect();
                let mut vars: HashMap<String, Type> = td
                    .params
                    .iter()
                    .cloned()
                    .zip(ids.iter().map(|i| Type::Var(*i)))
                    .collect();
                // The alias is not in scope inside its own body, so recursion is an
                // "unknown type" error rather than an infinite expansion.
                let t = self.convert_at(body, &mut vars, td.span)?;
                self.types.insert(
                    td.name.clone(),
                    TypeDef::Alias {
                        params: ids,
                        body: t,
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
                let mut vars: HashMap<String, Type> = td
                    .params
                    .iter()
                    .cloned()
                    .zip(params.iter().map(|i| Type::Var(*i)))
                    .collect();
                for v in variants {
                    if !local_ctors.insert(v.name.clone()) {
                        return self.error(
                            v.span,
                            format!("constructor `{}` is declared twice", v.name),
                        );
                    }
                    let payload = match &v.payload {
                        Some(p) => Some(self.convert_at(p, &mut vars, v.span)?),
                        None => None,
                    };
                    self.ctors.insert(
                        v.name.clone(),
                        CtorInfo {
                            qualified: qualified.clone(),
                            params: params.clone(),
                            payload,
                        },
                    );
                }
            }
        }
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
            let mut tys = Vec::new();
            for &i in &scc {
                let t = self.fresh();
                self.globals
                    .insert(m.lets[i].name.clone(), Scheme::mono(t.clone()));
                tys.push(t);
            }
            for (k, &i) in scc.iter().enumerate() {
                let l = &m.lets[i];
                let t = self.infer(&l.value)?;
                if let Some(a) = &l.ann {
                    let at = self.annotation(a, l.span)?;
                    self.unify(&at, &t, l.value.span)?;
                }
                let tk = tys[k].clone();
                self.unify(&tk, &t, l.span)?;
            }
            for (k, &i) in scc.iter().enumerate() {
                let s = self.generalize(&tys[k], true)?;
                self.globals.insert(m.lets[i].name.clone(), s);
            }
        }
        for (pred, t) in type_preds {
            let pt = self.infer_pred(&pred, &t)?;
            let want = Type::Fun(Box::new(t), Box::new(Type::Bool));
            self.unify(&want, &pt, pred.span)?;
            self.settle(&[], true)?;
        }

        let all = exports_all(m);
        let mut out = ModuleTypes::default();
        for l in &m.lets {
            if all || l.exported {
                if let Some(s) = self.globals.get(&l.name) {
                    out.values.insert(l.name.clone(), s.clone());
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
        vars: &mut HashMap<String, Type>,
        span: Span,
    ) -> Result<Type, Error> {
        self.convert(te, vars, false).map_err(|e| match e {
            Error::Type {
                line: 0, message, ..
            } => Error::Type {
                file: self.file.to_owned(),
                line: span.line,
                col: span.col,
                message,
            },
            other => other,
        })
    }

    /// Converts an annotation and checks its refinement predicates in the current scope.
    fn annotation(&mut self, a: &TypeExpr, span: Span) -> Result<Type, Error> {
        let saved = std::mem::take(&mut self.deferred_preds);
        let mut vars = HashMap::new();
        let t = self.convert(a, &mut vars, true).map_err(|e| match e {
            Error::Type {
                line: 0, message, ..
            } => Error::Type {
                file: self.file.to_owned(),
                line: span.line,
                col: span.col,
                message,
            },
            other => other,
        })?;
        let preds = std::mem::replace(&mut self.deferred_preds, saved);
        for (pred, pt) in preds {
            let found = self.infer_pred(&pred, &pt)?;
            let want = Type::Fun(Box::new(pt), Box::new(Type::Bool));
            self.unify(&want, &found, pred.span)?;
        }
        Ok(t)
    }

    /// The type of a refinement predicate on `subject`: a lambda's parameter is given
    /// the subject's type before its body is checked, so the predicate of a record
    /// type may read the record's fields (`{ lo: Integer, hi: Integer } where x.lo <= x.hi`).
    fn infer_pred(&mut self, pred: &Expr, subject: &Type) -> Result<Type, Error> {
        let ExprKind::Lambda(l) = &pred.kind else {
            return self.infer(pred);
        };
        if l.ann.is_some() {
            return self.infer(pred);
        }
        self.locals
            .push((l.param.clone(), Scheme::mono(subject.clone())));
        let body = self.infer(&l.body);
        self.locals.pop();
        Ok(Type::Fun(Box::new(subject.clone()), Box::new(body?)))
    }

    fn lookup_var(&mut self, name: &str, span: Span) -> Result<Type, Error> {
        if let Some((_, s)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            let s = s.clone();
            return Ok(self.instantiate(&s));
        }
        if let Some(s) = self.globals.get(name).cloned() {
            return Ok(self.instantiate(&s));
        }
        if self.imports.contains_key(name) {
            return self.error(span, format!("`{name}` is a module; use `{name}.member`"));
        }
        if let Some(b) = crate::stdlib::Builtin::lookup(name) {
            return self.builtin_type(b, span);
        }
        self.error(span, format!("unknown variable `{name}`"))
    }

    /// A fresh instance of a built-in's type, with its constraint pending.
    fn builtin_type(&mut self, b: crate::stdlib::Builtin, span: Span) -> Result<Type, Error> {
        let te = crate::parser::parse_type(b.signature()).map_err(|e| Error::Type {
            file: self.file.to_owned(),
            line: span.line,
            col: span.col,
            message: format!("built-in `{}`: {}", b.name(), e.message),
        })?;
        let mut vars = HashMap::new();
        let t = self.convert(&te, &mut vars, true)?;
        if let (Some(c), Some(a)) = (b.constraint(), vars.get("a")) {
            let class = match c {
                crate::stdlib::Constraint::Sized => Class::Concat,
                crate::stdlib::Constraint::Ordered => Class::Ordered,
            };
            self.pending.push((a.clone(), class, span));
        }
        Ok(t)
    }

    fn is_module(&self, name: &str) -> bool {
        !self.locals.iter().any(|(n, _)| n == name)
            && !self.globals.contains_key(name)
            && self.imports.contains_key(name)
    }

    fn ctor_type(&mut self, name: &str, span: Span) -> Result<(Type, Option<Type>), Error> {
        let Some(info) = self.ctors.get(name).cloned() else {
            return self.error(span, format!("unknown constructor `{name}`"));
        };
        let map: HashMap<u32, Type> = info.params.iter().map(|p| (*p, self.fresh())).collect();
        let result = Type::Con(
            info.qualified.clone(),
            info.params.iter().map(|p| map[p].clone()).collect(),
        );
        Ok((result, info.payload.as_ref().map(|p| substitute(p, &map))))
    }

    fn infer(&mut self, e: &Expr) -> Result<Type, Error> {
        let span = e.span;
        Ok(match &e.kind {
            ExprKind::Unit => Type::Unit,
            ExprKind::Bool(_) => Type::Bool,
            ExprKind::Int(_) => Type::Int,
            ExprKind::Float(_) => Type::Float,
            ExprKind::Str(_) => Type::Str,
            ExprKind::Var(name) => self.lookup_var(name, span)?,
            ExprKind::Ctor(name) => {
                let (result, payload) = self.ctor_type(name, span)?;
                match payload {
                    Some(p) => Type::Fun(Box::new(p), Box::new(result)),
                    None => result,
                }
            }
            ExprKind::List(items) => {
                let elem = self.fresh();
                for it in items {
                    let t = self.infer(it)?;
                    self.unify(&elem, &t, it.span)?;
                }
                Type::List(Box::new(elem))
            }
            ExprKind::Record(fields) => {
                let mut out = BTreeMap::new();
                for (n, v) in fields {
                    out.insert(n.clone(), self.infer(v)?);
                }
                Type::Record(out)
            }
            ExprKind::Field(target, field) => {
                if let ExprKind::Var(m) = &target.kind {
                    if self.is_module(m) {
                        let scheme = self
                            .imports
                            .get(m)
                            .and_then(|t| t.values.get(field).cloned());
                        return match scheme {
                            Some(s) => Ok(self.instantiate(&s)),
                            None => {
                                self.error(span, format!("module `{m}` does not export `{field}`"))
                            }
                        };
                    }
                }
                let t = self.infer(target)?;
                match self.shallow(&t) {
                    Type::Record(fs) => match fs.get(field) {
                        Some(ft) => ft.clone(),
                        None => {
                            let names: Vec<&str> = fs.keys().map(|s| s.as_str()).collect();
                            return self.error(
                                span,
                                format!("record has no field `{field}` (it has: {})", names.join(", ")),
                            );
                        }
                    },
                    Type::Var(_) => {
                        return self.error(
                            span,
                            format!("cannot tell which record `.{field}` reads; annotate the parameter, e.g. `\\(r : {{ {field}: Integer }}) -> ...`"),
                        )
                    }
                    other => {
                        let shown = self.resolve(&other);
                        return self.error(span, format!("`.{field}` on a value of type {shown}, which is not a record"));
                    }
                }
            }
            ExprKind::Lambda(l) => {
                let pt = match &l.ann {
                    Some(a) => self.annotation(a, span)?,
                    None => self.fresh(),
                };
                self.locals
                    .push((l.param.clone(), Scheme::mono(pt.clone())));
                let body = self.infer(&l.body);
                self.locals.pop();
                Type::Fun(Box::new(pt), Box::new(body?))
            }
            ExprKind::App(f, a) => {
                let ft = self.infer(f)?;
                let at = self.infer(a)?;
                let r = self.fresh();
                let want = Type::Fun(Box::new(at.clone()), Box::new(r.clone()));
                if let Type::Fun(param, _) = self.shallow(&ft) {
                    self.unify(&param, &at, a.span)?;
                }
                match self.shallow(&ft) {
                    Type::Fun(..) | Type::Var(_) => self.unify(&ft, &want, span)?,
                    other => {
                        let shown = self.resolve(&other);
                        return self
                            .error(f.span, format!("a value of type {shown} is not a function"));
                    }
                }
                r
            }
            ExprKind::Let(name, ann, value, body) => {
                let vt = self.infer(value)?;
                if let Some(a) = ann {
                    let at = self.annotation(a, span)?;
                    self.unify(&at, &vt, value.span)?;
                }
                let s = self.generalize(&vt, false)?;
                self.locals.push((name.clone(), s));
                let r = self.infer(body);
                self.locals.pop();
                r?
            }
            ExprKind::If(c, t, f) => {
                let ct = self.infer(c)?;
                self.unify(&Type::Bool, &ct, c.span)?;
                let tt = self.infer(t)?;
                let ft = self.infer(f)?;
                self.unify(&tt, &ft, f.span)?;
                tt
            }
            ExprKind::Match(scrutinee, arms) => {
                let st = self.infer(scrutinee)?;
                let result = self.fresh();
                for arm in arms {
                    let mark = self.locals.len();
                    let r = self.arm(arm, &st, &result);
                    self.locals.truncate(mark);
                    r?;
                }
                result
            }
            ExprKind::Binary(BinOp::Merge, l, r) => {
                let lt = self.infer(l)?;
                let rt = self.infer(r)?;
                let (Type::Record(a), Type::Record(b)) = (self.shallow(&lt), self.shallow(&rt))
                else {
                    let (ls, rs) = (self.resolve(&lt), self.resolve(&rt));
                    return self.error(
                        span,
                        format!("`&` merges two records of known types, found {ls} and {rs}"),
                    );
                };
                let mut out = a;
                for (n, t) in b {
                    out.insert(n, t);
                }
                Type::Record(out)
            }
            ExprKind::Binary(op, l, r) => {
                let lt = self.infer(l)?;
                let rt = self.infer(r)?;
                match op {
                    BinOp::And | BinOp::Or => {
                        self.unify(&Type::Bool, &lt, l.span)?;
                        self.unify(&Type::Bool, &rt, r.span)?;
                        Type::Bool
                    }
                    BinOp::Eq | BinOp::Ne => {
                        self.unify(&lt, &rt, r.span)?;
                        Type::Bool
                    }
                    BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                        self.unify(&lt, &rt, r.span)?;
                        self.pending.push((lt, Class::Ordered, span));
                        Type::Bool
                    }
                    BinOp::Concat => {
                        self.unify(&lt, &rt, r.span)?;
                        self.pending.push((lt.clone(), Class::Concat, span));
                        lt
                    }
                    _ => {
                        self.unify(&lt, &rt, r.span)?;
                        self.pending.push((lt.clone(), Class::Numeric, span));
                        lt
                    }
                }
            }
            ExprKind::Interp(parts) => {
                for p in parts {
                    let t = self.infer(p)?;
                    if let Type::Fun(..) = self.shallow(&t) {
                        return self.error(p.span, "a function cannot be put in a string");
                    }
                }
                Type::Str
            }
            ExprKind::Update(target, fields) => {
                let t = self.infer(target)?;
                let Type::Record(fs) = self.shallow(&t) else {
                    let shown = self.resolve(&t);
                    return self.error(
                        target.span,
                        format!("`{{ r | ... }}` needs a record of a known type, found {shown}; annotate it"),
                    );
                };
                for (n, e) in fields {
                    let Some(ft) = fs.get(n).cloned() else {
                        let names: Vec<&str> = fs.keys().map(|s| s.as_str()).collect();
                        return self.error(
                            e.span,
                            format!(
                                "record has no field `{n}` to replace (it has: {})",
                                names.join(", ")
                            ),
                        );
                    };
                    let et = self.infer(e)?;
                    self.unify(&ft, &et, e.span)?;
                }
                t
            }
            ExprKind::Unary(op, x) => {
                let t = self.infer(x)?;
                match op {
                    UnOp::Not => {
                        self.unify(&Type::Bool, &t, x.span)?;
                        Type::Bool
                    }
                    UnOp::Neg => {
                        self.pending.push((t.clone(), Class::Numeric, span));
                        t
                    }
                }
            }
        })
    }

    fn arm(&mut self, arm: &Arm, scrutinee: &Type, result: &Type) -> Result<(), Error> {
        self.pattern(&arm.pat, scrutinee, arm.body.span)?;
        if let Some(g) = &arm.guard {
            let gt = self.infer(g)?;
            self.unify(&Type::Bool, &gt, g.span)?;
        }
        let bt = self.infer(&arm.body)?;
        self.unify(result, &bt, arm.body.span)
    }

    fn pattern(&mut self, p: &Pattern, t: &Type, span: Span) -> Result<(), Error> {
        match p {
            Pattern::Wildcard => Ok(()),
            Pattern::Var(n) => {
                self.locals.push((n.clone(), Scheme::mono(t.clone())));
                Ok(())
            }
            Pattern::Unit => self.unify(t, &Type::Unit, span),
            Pattern::Bool(_) => self.unify(t, &Type::Bool, span),
            Pattern::Int(_) => self.unify(t, &Type::Int, span),
            Pattern::Str(_) => self.unify(t, &Type::Str, span),
            Pattern::List(items) => {
                let elem = self.fresh();
                self.unify(t, &Type::List(Box::new(elem.clone())), span)?;
                for it in items {
                    self.pattern(it, &elem, span)?;
                }
                Ok(())
            }
            Pattern::ListRest(items, rest) => {
                let elem = self.fresh();
                let list = Type::List(Box::new(elem.clone()));
                self.unify(t, &list, span)?;
                for it in items {
                    self.pattern(it, &elem, span)?;
                }
                self.pattern(rest, &list, span)
            }
            Pattern::Ctor(name, payload, pspan) => {
                let (result, pt) = self.ctor_type(name, *pspan)?;
                self.unify(t, &result, *pspan)?;
                match (payload, pt) {
                    (Some(p), Some(pt)) => self.pattern(p, &pt, *pspan),
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
            Pattern::Record(fields, pspan) => match self.shallow(t) {
                Type::Record(fs) => {
                    for (n, fp) in fields {
                        let Some(ft) = fs.get(n).cloned() else {
                            return self.error(*pspan, format!("record has no field `{n}`"));
                        };
                        self.pattern(fp, &ft, *pspan)?;
                    }
                    Ok(())
                }
                Type::Var(_) => {
                    let mut out = BTreeMap::new();
                    for (n, _) in fields {
                        out.insert(n.clone(), self.fresh());
                    }
                    self.unify(t, &Type::Record(out.clone()), *pspan)?;
                    for (n, fp) in fields {
                        self.pattern(fp, &out[n], *pspan)?;
                    }
                    Ok(())
                }
                other => {
                    let shown = self.resolve(&other);
                    self.error(
                        *pspan,
                        format!("record pattern against a value of type {shown}"),
                    )
                }
            },
        }
    }
}

pub(crate) fn substitute(t: &Type, map: &HashMap<u32, Type>) -> Type {
    match t {
        Type::Var(v) => map.get(v).cloned().unwrap_or(Type::Var(*v)),
        Type::List(e) => Type::List(Box::new(substitute(e, map))),
        Type::Record(fs) => Type::Record(
            fs.iter()
                .map(|(n, t)| (n.clone(), substitute(t, map)))
                .collect(),
        ),
        Type::Fun(a, b) => Type::Fun(Box::new(substitute(a, map)), Box::new(substitute(b, map))),
        Type::Con(n, args) => {
            Type::Con(n.clone(), args.iter().map(|a| substitute(a, map)).collect())
        }
        other => other.clone(),
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
        assert_eq!(t.values["id"].vars.len(), 1);
        assert_eq!(t.values["a"].ty, Type::Int);
        assert_eq!(t.values["b"].ty, Type::Str);
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
}
