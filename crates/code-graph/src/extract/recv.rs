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

/// The primitive types: a receiver of one of them has no method of the crate (a
/// crate's own trait implemented for `u64` is reached by name), and facts are kept
/// for millions of items, so these are not recorded.
const PRIMITIVES: &[&str] = &[
    "bool", "char", "f32", "f64", "i128", "i16", "i32", "i64", "i8", "isize", "str", "u128", "u16",
    "u32", "u64", "u8", "usize",
];

/// std types whose methods are std's and whose generic arguments (the part that could
/// name a crate type) are dropped: a receiver of one of them is not typed. (A crate's
/// own type of one of these names loses typing, never gains a wrong edge.)
const STD_TYPES: &[&str] = &[
    "BTreeMap",
    "BTreeSet",
    "Cell",
    "Cow",
    "HashMap",
    "HashSet",
    "Mutex",
    "Option",
    "PhantomData",
    "RefCell",
    "Result",
    "RwLock",
    "String",
    "Vec",
    "VecDeque",
];

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
    /// `self.name`: the commonest field receiver, kept without a box.
    SelfField(String),
    /// A value bound by a pattern: the field of a struct or variant (`Lit::Str(lit)`
    /// binds field `0` of `Lit::Str`; `Chain { a, .. }` field `a` of `Chain`).
    PatField(Vec<String>, String),
}

impl Recv {
    /// How many descriptions are nested in this one, itself included.
    pub(crate) fn depth(&self) -> usize {
        match self {
            Recv::SelfValue
            | Recv::SelfField(_)
            | Recv::Type(_)
            | Recv::CallRet(_)
            | Recv::PatField(..) => 1,
            Recv::MethodRet(r, _) => 1 + r.as_deref().map_or(0, Recv::depth),
            Recv::Field(r, _) => 1 + r.depth(),
        }
    }
}

// A receiver is kept for every typed method call until the graph is resolved, and a
// large input has millions of calls: it is kept as one string (one allocation, about
// the size of the old method name alone) and read back into a [`Recv`] when resolved.
// Identifiers never hold these control characters.
const STEP: char = '\u{1f}';
const PART: char = '\u{1e}';

/// `name` and `recv` as one string: the method name, then the receiver's root and its
/// steps outwards, each after [`STEP`].
#[cfg(test)]
fn encode(recv: &Recv, name: &str) -> Box<str> {
    let mut out = String::new();
    encode_with(recv, name, &mut out)
}

/// [`encode`], written in `buf` first so that the one allocation kept is exactly the
/// string's size (a shrunk allocation leaves a hole among facts that live long).
pub(crate) fn encode_with(recv: &Recv, name: &str, buf: &mut String) -> Box<str> {
    buf.clear();
    buf.push_str(name);
    encode_into(recv, buf);
    Box::from(buf.as_str())
}

fn encode_into(recv: &Recv, out: &mut String) {
    match recv {
        Recv::SelfValue => {
            out.push(STEP);
            out.push('s');
        }
        Recv::SelfField(f) => {
            out.push(STEP);
            out.push('s');
            out.push(STEP);
            out.push('.');
            out.push_str(f);
        }
        Recv::Type(t) => {
            out.push(STEP);
            match t {
                TyRef::Path(p) => {
                    out.push('p');
                    out.push_str(&p.join("::"));
                }
                TyRef::Param(n) => {
                    out.push('g');
                    out.push_str(n);
                }
                TyRef::Bounds(b) => {
                    out.push('b');
                    let joined: Vec<String> = b.iter().map(|p| p.join("::")).collect();
                    out.push_str(&joined.join(&PART.to_string()));
                }
            }
        }
        Recv::CallRet(p) => {
            out.push(STEP);
            out.push('c');
            out.push_str(&p.join("::"));
        }
        Recv::PatField(p, f) => {
            out.push(STEP);
            out.push('f');
            out.push_str(&p.join("::"));
            out.push(PART);
            out.push_str(f);
        }
        Recv::MethodRet(base, name) => {
            match base {
                Some(b) => encode_into(b, out),
                None => {
                    out.push(STEP);
                    out.push('u');
                }
            }
            out.push(STEP);
            out.push('(');
            out.push_str(name);
        }
        Recv::Field(base, name) => {
            encode_into(base, out);
            out.push(STEP);
            out.push('.');
            out.push_str(name);
        }
    }
}

fn split_path(s: &str) -> Vec<String> {
    s.split("::").map(str::to_owned).collect()
}

/// The method name and receiver of [`encode`]'s string.
pub(crate) fn decode(s: &str) -> Option<(&str, Recv)> {
    let mut parts = s.split(STEP);
    let name = parts.next()?;
    let root = parts.next()?;
    let (tag, rest) = root.split_at(root.char_indices().nth(1).map_or(root.len(), |(i, _)| i));
    let mut recv: Option<Recv> = match tag {
        "s" => Some(Recv::SelfValue),
        "u" => None,
        "p" => Some(Recv::Type(TyRef::Path(split_path(rest)))),
        "g" => Some(Recv::Type(TyRef::Param(rest.to_owned()))),
        "b" => Some(Recv::Type(TyRef::Bounds(
            rest.split(PART).map(split_path).collect(),
        ))),
        "c" => Some(Recv::CallRet(split_path(rest))),
        "f" => {
            let (p, f) = rest.split_once(PART)?;
            Some(Recv::PatField(split_path(p), f.to_owned()))
        }
        _ => return None,
    };
    for step in parts {
        let (tag, rest) = step.split_at(step.char_indices().nth(1).map_or(step.len(), |(i, _)| i));
        recv = Some(match tag {
            "." => Recv::Field(Box::new(recv?), rest.to_owned()),
            "(" => Recv::MethodRet(recv.map(Box::new), rest.to_owned()),
            _ => return None,
        });
    }
    Some((name, recv?))
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

pub(crate) fn trait_bounds<'a>(
    bounds: impl Iterator<Item = &'a syn::TypeParamBound>,
) -> Vec<Vec<String>> {
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
                if p.path.segments.len() == 1 && p.path.leading_colon.is_none() {
                    let name = last.ident.to_string();
                    if is_param(&name) && last.arguments.is_none() {
                        return Some(TyRef::Param(name));
                    }
                    // A primitive is never a type of the crate, and a std container
                    // without its (dropped) arguments tells nothing: nothing to keep.
                    if PRIMITIVES.contains(&name.as_str()) || STD_TYPES.contains(&name.as_str()) {
                        return None;
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

/// [`ty_ref`] of a type read by the body reader.
pub(crate) fn ty_ref_read(
    ty: &crate::body::Ty<'_>,
    is_param: &dyn Fn(&str) -> bool,
) -> Option<TyRef> {
    use crate::body::{Args, Ty};
    let owned = |segs: &[&str]| segs.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let mut ty = ty;
    for _ in 0..MAX_RECV_DEPTH {
        match ty {
            Ty::Ref(inner) => ty = inner,
            Ty::Path {
                segs,
                leading_colon,
                args,
            } => {
                let last = *segs.last()?;
                if matches!(last, "Box" | "Rc" | "Arc") {
                    if let Args::Angle(Some(inner)) = args {
                        ty = inner;
                        continue;
                    }
                }
                if segs.len() == 1 && !leading_colon {
                    if is_param(last) && matches!(args, Args::None) {
                        return Some(TyRef::Param(last.to_string()));
                    }
                    if PRIMITIVES.contains(&last) || STD_TYPES.contains(&last) {
                        return None;
                    }
                }
                return Some(TyRef::Path(owned(segs)));
            }
            Ty::Bounds(b) => return bounds_ref(b.iter().map(|p| owned(p)).collect()),
            Ty::Other => return None,
        }
    }
    None
}

fn bounds_ref(b: Vec<Vec<String>>) -> Option<TyRef> {
    (!b.is_empty()).then_some(TyRef::Bounds(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split("::").map(str::to_owned).collect()
    }

    #[test]
    fn receivers_read_back_as_written() {
        let cases = [
            Recv::SelfValue,
            Recv::Type(TyRef::Path(p("crate::ast::Span"))),
            Recv::Type(TyRef::Param("T".into())),
            Recv::Type(TyRef::Bounds(vec![p("Visit"), p("a::Other")])),
            Recv::CallRet(p("Foo::new")),
            Recv::PatField(p("Lit::Str"), "0".into()),
            Recv::MethodRet(None, "into_par_iter".into()),
            Recv::MethodRet(
                Some(Box::new(Recv::MethodRet(None, "a".into()))),
                "chunks".into(),
            ),
            Recv::Field(Box::new(Recv::CallRet(p("make"))), "inner".into()),
        ];
        for r in cases {
            let s = encode(&r, "go");
            let (name, back) = decode(&s).unwrap();
            assert_eq!(name, "go");
            assert_eq!(back, r, "{s:?}");
        }
        // `self.a` reads back as the field of `self`.
        let s = encode(&Recv::SelfField("a".into()), "go");
        assert_eq!(
            decode(&s).unwrap().1,
            Recv::Field(Box::new(Recv::SelfValue), "a".into())
        );
    }
}
