//! What a body says about the types of its values, kept as syntax for the resolver.
//!
//! There is no type inference here. A method call's receiver is described by how it
//! was written (`self`, a parameter or `let` with a declared type, a constructor call,
//! a field, a method's result, a value bound by an enum or struct pattern); the
//! resolver turns that description into a type of the crate where it can, using the
//! declared types of parameters, fields, return types and type aliases, and the trait
//! bounds of generic parameters (`build/types.rs`).

use std::sync::Arc;

use super::path_segments;

/// How deep a receiver description may nest (`a.b().c.d()`): longer chains are left
/// untyped, so a description is small and every walk over it is bounded.
pub(crate) const MAX_RECV_DEPTH: usize = 8;

/// A type as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TyRef {
    /// A path (`Parser`, `crate::ast::Span`, `Self`, `Self::Item`), resolved from where
    /// it is written. References, parentheses and `Box`/`Rc`/`Arc` are looked through,
    /// since a method call looks through them too; generic arguments are dropped.
    Path(Vec<String>),
    /// A generic parameter of the item where the type is written.
    Param(String),
    /// `impl A + B` or `dyn A + B`: the trait bounds.
    Bounds(Vec<Vec<String>>),
}

/// A method call's receiver, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recv {
    /// `self`.
    SelfValue,
    /// A value of a declared type: a parameter `p: &Parser`, a `let x: T`, a struct
    /// literal `Foo { .. }`, a cast.
    Type(TyRef),
    /// What a path call returns: `Foo::new(..)`, `make(..)`.
    CallRet(Vec<String>),
    /// What a method returns: `recv.name(..)`; `None` when nothing is known of the
    /// receiver (the method may still be found by its name alone).
    MethodRet(Option<Box<Recv>>, String),
    /// A field of a value: `recv.name` (tuple fields by index).
    Field(Box<Recv>, String),
    /// A value bound by a pattern: the field of a struct or variant (`Lit::Str(lit)`
    /// binds field `0` of `Lit::Str`; `Chain { a, .. }` field `a` of `Chain`).
    PatField(Vec<String>, String),
}

impl Recv {
    /// How many descriptions are nested in this one, itself included.
    pub(crate) fn depth(&self) -> usize {
        match self {
            Recv::SelfValue | Recv::Type(_) | Recv::CallRet(_) | Recv::PatField(..) => 1,
            Recv::MethodRet(r, _) => 1 + r.as_deref().map_or(0, Recv::depth),
            Recv::Field(r, _) => 1 + r.depth(),
        }
    }
}

/// The generic parameters in scope and their trait bounds, outermost item first:
/// (name, trait paths).
pub(crate) type Env = Arc<[(String, Vec<Vec<String>>)]>;

/// What a function's signature says for typing: its return type and the generic
/// parameters in scope (the enclosing impl's or trait's and its own).
#[derive(Debug)]
pub(crate) struct FnFact {
    pub(crate) ret: Option<TyRef>,
    pub(crate) env: Env,
}

/// The generic parameters of the items being extracted, innermost last.
#[derive(Debug, Default)]
pub(crate) struct Generics {
    params: Vec<(String, Vec<Vec<String>>)>,
    /// `params` as shared by the functions extracted since it last changed.
    snapshot: Option<Env>,
}

impl Generics {
    /// Adds the parameters and `where` bounds of `g`; returns the length to
    /// [`Generics::truncate`] back to.
    pub(crate) fn push(&mut self, g: &syn::Generics) -> usize {
        let mark = self.params.len();
        for p in g.type_params() {
            let bounds = trait_bounds(p.bounds.iter());
            self.params.push((p.ident.to_string(), bounds));
        }
        if let Some(w) = &g.where_clause {
            for pred in &w.predicates {
                let syn::WherePredicate::Type(pt) = pred else {
                    continue;
                };
                let syn::Type::Path(tp) = &pt.bounded_ty else {
                    continue;
                };
                let Some(ident) = tp.path.get_ident().filter(|_| tp.qself.is_none()) else {
                    continue;
                };
                let name = ident.to_string();
                let bounds = trait_bounds(pt.bounds.iter());
                // The innermost parameter of that name is the one meant.
                if let Some(p) = self.params.iter_mut().rev().find(|p| p.0 == name) {
                    p.1.extend(bounds);
                }
            }
        }
        if self.params.len() != mark || g.where_clause.is_some() {
            self.snapshot = None;
        }
        mark
    }

    pub(crate) fn truncate(&mut self, mark: usize) {
        if self.params.len() != mark {
            self.params.truncate(mark);
            self.snapshot = None;
        }
    }

    /// Removes every parameter (an item nested in a body does not see its function's
    /// generics); returns them for [`Generics::restore`].
    pub(crate) fn take(&mut self) -> Vec<(String, Vec<Vec<String>>)> {
        self.snapshot = None;
        std::mem::take(&mut self.params)
    }

    pub(crate) fn restore(&mut self, params: Vec<(String, Vec<Vec<String>>)>) {
        self.params = params;
        self.snapshot = None;
    }

    pub(crate) fn is_param(&self, name: &str) -> bool {
        self.params.iter().any(|p| p.0 == name)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    pub(crate) fn env(&mut self) -> Env {
        self.snapshot
            .get_or_insert_with(|| Arc::from(self.params.clone()))
            .clone()
    }
}

fn trait_bounds<'a>(bounds: impl Iterator<Item = &'a syn::TypeParamBound>) -> Vec<Vec<String>> {
    bounds
        .filter_map(|b| match b {
            syn::TypeParamBound::Trait(t) => Some(path_segments(&t.path)),
            _ => None,
        })
        .filter(|p| p.last().is_some_and(|s| s != "Sized"))
        .collect()
}

/// The [`TyRef`] of a written type, if it is one this resolution can use.
pub(crate) fn ty_ref(ty: &syn::Type, is_param: &dyn Fn(&str) -> bool) -> Option<TyRef> {
    let mut ty = ty;
    // Bounded: each step strips one layer of a type that scan.rs already bounded.
    for _ in 0..MAX_RECV_DEPTH {
        match ty {
            syn::Type::Reference(r) => ty = &r.elem,
            syn::Type::Paren(p) => ty = &p.elem,
            syn::Type::Group(g) => ty = &g.elem,
            syn::Type::Path(p) if p.qself.is_none() => {
                let last = p.path.segments.last()?;
                if matches!(last.ident.to_string().as_str(), "Box" | "Rc" | "Arc") {
                    if let syn::PathArguments::AngleBracketed(a) = &last.arguments {
                        if let Some(syn::GenericArgument::Type(inner)) = a.args.first() {
                            ty = inner;
                            continue;
                        }
                    }
                }
                if let Some(ident) = p.path.get_ident() {
                    let name = ident.to_string();
                    if is_param(&name) {
                        return Some(TyRef::Param(name));
                    }
                }
                return Some(TyRef::Path(path_segments(&p.path)));
            }
            syn::Type::ImplTrait(t) => return bounds_ref(trait_bounds(t.bounds.iter())),
            syn::Type::TraitObject(t) => return bounds_ref(trait_bounds(t.bounds.iter())),
            _ => return None,
        }
    }
    None
}

fn bounds_ref(b: Vec<Vec<String>>) -> Option<TyRef> {
    (!b.is_empty()).then_some(TyRef::Bounds(b))
}
