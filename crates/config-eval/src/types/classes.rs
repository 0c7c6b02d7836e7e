//! Type classes in the checker: `typeclass` declarations, `instance`s, and the
//! resolution of every method use at a known type to an instance.
//!
//! A class has one type variable; each method's signature is frozen over it, so a use
//! of the method thaws the signature with a fresh variable and records that the
//! variable must have an instance of the class. When the module has been checked, a
//! recorded variable that became a concrete type must have a visible instance (the
//! module's own or an import's); one still a variable (inside a polymorphic function)
//! is left to the evaluator, which picks the instance by the argument's value.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Binding, Checker, Node, Ty, Type};
use crate::ast::*;
use crate::error::Error;

/// A class as importers see it.
#[derive(Debug)]
pub(crate) struct ClassInfo {
    pub(crate) name: Arc<str>,
    /// Method name, signature frozen over the class variable (`Var(0)`), and the
    /// index of the argument whose type is the class variable.
    pub(crate) methods: Vec<(String, Type, usize)>,
}

/// An instance: a class and the head of a type (`Integer`, `List`, a union's
/// qualified name, or a record's field names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct InstanceHead {
    pub(crate) class: Arc<str>,
    pub(crate) head: String,
}

/// The type-class part of a checker's state.
#[derive(Default)]
pub(crate) struct ClassEnv {
    classes: HashMap<String, Arc<ClassInfo>>,
    /// Method name to its class.
    methods: HashMap<String, Arc<ClassInfo>>,
    /// Instances visible here: imported ones and this module's.
    instances: Vec<InstanceHead>,
    /// Uses of methods: the type that needs an instance, its class, where.
    wanted: Vec<(Ty, Arc<str>, Span)>,
}

impl Checker<'_> {
    /// The head of a type for instance lookup, or `None` for a variable or function.
    fn head_of(&mut self, t: Ty) -> Option<String> {
        let r = self.find(t);
        Some(match self.node(r) {
            Node::Unit => "Unit".into(),
            Node::Bool => "Bool".into(),
            Node::Int => "Integer".into(),
            Node::Float => "Float".into(),
            Node::Str => "String".into(),
            Node::List(_) => "List".into(),
            Node::Con(q, _) => q.to_string(),
            Node::Record(fs) => {
                let names: Vec<&str> = fs.iter().map(|(n, _)| n.as_str()).collect();
                format!("{{ {} }}", names.join(", "))
            }
            Node::Var(_) | Node::Link(_) | Node::Fun(..) => return None,
        })
    }

    /// Brings the imports' classes and instances into scope and declares this
    /// module's classes.
    pub(super) fn declare_classes(
        &mut self,
        m: &Module,
        imports: &[(String, Span, Arc<super::ModuleTypes>)],
    ) -> Result<(), Error> {
        for (alias, span, t) in imports {
            for (n, c) in &t.classes {
                if let Some(old) = self.tc.classes.get(n) {
                    if !Arc::ptr_eq(old, c) {
                        return self.error(
                            *span,
                            format!("type class `{n}` from `{alias}` is already in scope"),
                        );
                    }
                    continue;
                }
                self.tc.classes.insert(n.clone(), c.clone());
                for (method, _, _) in &c.methods {
                    self.tc.methods.insert(method.clone(), c.clone());
                }
            }
            for i in &t.instances {
                if !self.tc.instances.contains(i) {
                    self.tc.instances.push(i.clone());
                }
            }
        }
        for c in &m.classes {
            if self.tc.classes.contains_key(&c.name) {
                return self.error(c.span, format!("type class `{}` is declared twice", c.name));
            }
            let a = self.fresh();
            let mut methods = Vec::new();
            for (name, sig) in &c.methods {
                if let Some(other) = self.tc.methods.get(name) {
                    return self.error(
                        c.span,
                        format!("method `{name}` is already a method of `{}`", other.name),
                    );
                }
                let mut vars: HashMap<String, Ty> = HashMap::from([(c.param.clone(), a)]);
                let file = self.file;
                let t = self
                    .convert(sig, &mut vars, true)
                    .map_err(|e| Self::locate(e, file, c.span))?;
                // The argument that selects the instance: the first whose type is
                // exactly the class variable.
                let mut dispatch = None;
                let mut cur = t;
                let mut i = 0;
                loop {
                    let r = self.find(cur);
                    let Node::Fun(p, rest) = self.node(r).clone() else {
                        break;
                    };
                    if self.find(p) == self.find(a) {
                        dispatch = Some(i);
                        break;
                    }
                    cur = rest;
                    i += 1;
                }
                let Some(dispatch) = dispatch else {
                    return self.error(
                        c.span,
                        format!(
                            "method `{name}` of `{}` must take an argument of type '{} (it selects the instance)",
                            c.name, c.param
                        ),
                    );
                };
                let frozen = self.freeze_over(t, &[a])?;
                methods.push((name.clone(), frozen, dispatch));
            }
            let info = Arc::new(ClassInfo {
                name: c.name.as_str().into(),
                methods,
            });
            for (method, _, _) in &info.methods {
                self.tc.methods.insert(method.clone(), info.clone());
            }
            self.tc.classes.insert(c.name.clone(), info);
        }
        Ok(())
    }

    /// The type of a use of method `name`, if it is one.
    pub(super) fn method_type(&mut self, name: &str, span: Span) -> Result<Option<Ty>, Error> {
        let Some(class) = self.tc.methods.get(name).cloned() else {
            return Ok(None);
        };
        let Some((_, sig, _)) = class.methods.iter().find(|(n, _, _)| n == name) else {
            return Ok(None);
        };
        let a = self.fresh();
        let t = self.thaw(sig, &[a])?;
        self.tc.wanted.push((a, class.name.clone(), span));
        Ok(Some(t))
    }

    /// Checks this module's instances (after its top-level bindings, which they may
    /// use), resolves the field reads still waiting, then checks that every method use
    /// at a known type has an instance. The last inference of a module happens here.
    pub(super) fn check_instances(&mut self, m: &Module) -> Result<(), Error> {
        for inst in &m.instances {
            let Some(class) = self.tc.classes.get(&inst.class).cloned() else {
                return self.error(inst.span, format!("unknown type class `{}`", inst.class));
            };
            let file = self.file;
            let it = self
                .convert(&inst.ty, &mut HashMap::new(), true)
                .map_err(|e| Self::locate(e, file, inst.span))?;
            let Some(head) = self.head_of(it) else {
                let shown = self.show(it);
                return self.error(
                    inst.span,
                    format!("an instance needs a type with a head (a built-in, `List`, a union or a record), not {shown}"),
                );
            };
            let key = InstanceHead {
                class: class.name.clone(),
                head: head.clone(),
            };
            if self.tc.instances.contains(&key) {
                return self.error(
                    inst.span,
                    format!("`{}` already has an instance for {head}", class.name),
                );
            }
            for (name, _) in &inst.methods {
                if !class.methods.iter().any(|(n, _, _)| n == name) {
                    return self.error(
                        inst.span,
                        format!("`{name}` is not a method of `{}`", class.name),
                    );
                }
            }
            for (name, sig, _) in &class.methods {
                let Some((_, body)) = inst.methods.iter().find(|(n, _)| n == name) else {
                    return self.error(
                        inst.span,
                        format!(
                            "the instance of `{}` for {head} does not define `{name}`",
                            class.name
                        ),
                    );
                };
                let want = self.thaw(sig, &[it])?;
                self.check_against(body, want)?;
            }
            self.tc.instances.push(key);
        }
        // Every expression of the module has been seen: field reads must have found
        // their records by now.
        self.resolve_fields(true)?;
        self.settle(&[], true)?;
        let wanted = std::mem::take(&mut self.tc.wanted);
        for (t, class, span) in wanted {
            let Some(head) = self.head_of(t) else {
                continue;
            };
            let found = self
                .tc
                .instances
                .iter()
                .any(|i| i.class == class && i.head == head);
            if !found {
                let shown = self.show(t);
                return self.error(span, format!("no instance of `{class}` for {shown}"));
            }
        }
        Ok(())
    }

    /// Checks `e` against the type `want`, giving the parameters of a lambda their
    /// types from `want` first, so that a lambda's body may read the fields of a
    /// record argument (a method of a record instance, a function passed to `map`).
    pub(super) fn check_against(&mut self, e: &Expr, want: Ty) -> Result<(), Error> {
        if let ExprKind::Lambda(l) = &e.kind {
            let r = self.find(want);
            if let (None, Node::Fun(p, res)) = (&l.ann, self.node(r).clone()) {
                self.locals
                    .push((l.param.clone(), Binding { ty: p, poly: false }));
                let out = self.check_against(&l.body, res);
                self.locals.pop();
                return out;
            }
        }
        let found = self.infer(e)?;
        self.unify(want, found, e.span)
    }

    /// What importers get: exported classes and every visible instance.
    pub(super) fn export_classes(&self, m: &Module, all: bool, out: &mut super::ModuleTypes) {
        for c in &m.classes {
            if all || c.exported {
                if let Some(info) = self.tc.classes.get(&c.name) {
                    out.classes.insert(c.name.clone(), info.clone());
                }
            }
        }
        out.instances = self.tc.instances.clone();
    }
}
