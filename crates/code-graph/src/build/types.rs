//! Receiver types: what a method call's receiver is, as far as declarations say.
//!
//! No inference: a receiver's type comes from `self` (the impl's type, or the trait in
//! a trait's default method), a declared type (a parameter, a `let` with a type, a
//! struct literal, a cast), a generic parameter's trait bounds (`T: Visit`, `impl
//! Visit`, `dyn Visit`, `where` clauses), the return type of a call the graph resolves
//! (`Foo::new()`, `once(x)`, `a.chunks(2)`), the declared type of a field
//! (`self.base`), a field matched by a struct or variant pattern (`Lit::Str(lit)`), and
//! type aliases. A method is then looked up among the type's own methods (its impls,
//! inherent or of a trait), else among the methods its traits declare; on a bound
//! generic, among the bounding traits' methods. Anything else is unknown, and the call
//! falls back to resolution by name.

use std::sync::Arc;

use super::resolve::{Resolver, Want};
use super::Owner;
use crate::extract::{recv, Callee, Env, Recv, TyRef};
use crate::id::NodeId;
use crate::model::NodeKind;

/// What a function (return type, generics), field or type alias says for typing, and
/// where its names resolve.
pub(super) struct TypeSite<'a> {
    /// A function's return type, a field's or an alias's type.
    pub(super) ty: Option<&'a TyRef>,
    /// A function's generic parameters in scope.
    pub(super) env: Option<&'a Env>,
    pub(super) module: NodeId,
    pub(super) locals: Option<Arc<[NodeId]>>,
    pub(super) owner: Owner,
}

/// Where a body's names resolve: a call site's context, or a declaration's.
#[derive(Clone, Copy)]
pub(super) struct Cx<'c> {
    pub(super) module: NodeId,
    pub(super) target: usize,
    pub(super) owner: &'c Owner,
    pub(super) locals: Option<&'c [NodeId]>,
    pub(super) env: Option<&'c Env>,
}

/// A receiver's type: an item of the graph, or the traits a generic is bound by.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(super) enum Ty {
    Item(NodeId),
    Bounds(Vec<NodeId>),
}

/// How many steps typing one receiver may take (aliases may form cycles; chains of
/// calls are walked through their return types).
const FUEL: u32 = 32;

impl Resolver<'_> {
    /// The type `Self` stands for in a body owned by `owner`.
    fn self_ty(&self, owner: &Owner) -> Option<Ty> {
        match owner {
            Owner::None => None,
            Owner::Trait(t) => Some(Ty::Bounds(vec![*t])),
            Owner::Impl(i) => self.impl_targets.get(i).copied().flatten().map(Ty::Item),
        }
    }

    /// The one member of `owner` called `name` whose kind `ok` accepts; `None` when
    /// there is none or several.
    fn unique_member(
        &self,
        owner: NodeId,
        name: &str,
        ok: impl Fn(NodeKind) -> bool,
    ) -> Option<NodeId> {
        let mut found = None;
        for (k, id) in self.members.get(&owner)?.get(name) {
            if ok(k) {
                if found.is_some_and(|f| f != id) {
                    return None;
                }
                found = Some(id);
            }
        }
        found
    }

    /// The type a type text names, read where it was written.
    fn eval(&self, t: &TyRef, cx: Cx<'_>, fuel: &mut u32) -> Option<Ty> {
        *fuel = fuel.checked_sub(1)?;
        match t {
            TyRef::Param(name) => {
                let (_, bounds) = cx.env?.iter().rev().find(|(n, _)| n == name)?;
                self.bounds(bounds, cx)
            }
            TyRef::Bounds(bounds) => self.bounds(bounds, cx),
            TyRef::Path(segs) => {
                let id = if segs.first().map(String::as_str) == Some("Self") {
                    let base = self.self_ty(cx.owner)?;
                    if segs.len() == 1 {
                        return Some(base);
                    }
                    let Ty::Item(mut cur) = base else {
                        return None;
                    };
                    for seg in &segs[1..] {
                        cur = self.unique_member(cur, seg, |k| {
                            k.is_namespace() || k == NodeKind::TypeAlias
                        })?;
                    }
                    cur
                } else {
                    self.resolve_scoped(cx.module, cx.locals, segs, Want::Namespace)?
                };
                self.item_ty(id, fuel)
            }
        }
    }

    /// The type an item stands for: itself for a struct, enum or union; its bound for
    /// a trait; what it aliases for a type alias.
    fn item_ty(&self, id: NodeId, fuel: &mut u32) -> Option<Ty> {
        match self.kind(id)? {
            NodeKind::Struct | NodeKind::Enum | NodeKind::Union => Some(Ty::Item(id)),
            NodeKind::Trait => Some(Ty::Bounds(vec![id])),
            NodeKind::TypeAlias => {
                let site = self.typed.get(&id)?;
                let t = site.ty?;
                // An alias's generic parameters are not known here.
                if matches!(t, TyRef::Param(_)) {
                    return None;
                }
                self.eval(t, self.site_cx(site), fuel)
            }
            _ => None,
        }
    }

    fn site_cx<'s>(&'s self, site: &'s TypeSite<'_>) -> Cx<'s> {
        Cx {
            module: site.module,
            target: usize::MAX,
            owner: &site.owner,
            locals: site.locals.as_deref(),
            env: site.env,
        }
    }

    fn bounds(&self, paths: &[Vec<String>], cx: Cx<'_>) -> Option<Ty> {
        let mut traits: Vec<NodeId> = paths
            .iter()
            .filter_map(|p| self.resolve_scoped(cx.module, cx.locals, p, Want::Namespace))
            .filter(|id| self.kind(*id) == Some(NodeKind::Trait))
            .collect();
        traits.sort_unstable();
        traits.dedup();
        (!traits.is_empty()).then_some(Ty::Bounds(traits))
    }

    /// The type of a receiver at a call site.
    pub(super) fn type_of(&self, r: &Recv, cx: Cx<'_>, fuel: &mut u32) -> Option<Ty> {
        *fuel = fuel.checked_sub(1)?;
        match r {
            Recv::SelfValue => self.self_ty(cx.owner),
            Recv::Type(t) => self.eval(t, cx, fuel),
            Recv::CallRet(segs) => {
                let f = self.path_call(cx, segs)?;
                self.ret_of(f, None, fuel)
            }
            Recv::MethodRet(base, name) => {
                let base_ty = base.as_deref().and_then(|b| self.type_of(b, cx, fuel));
                let (m, _) = match &base_ty {
                    Some(t) => match self.method_on(t, name) {
                        (None, false) => self.method_by_name(cx.target, name),
                        found => found,
                    },
                    None => self.method_by_name(cx.target, name),
                };
                match m {
                    Some(m) => self.ret_of(m, base_ty, fuel),
                    // `x.clone()` of a type with no `clone` of its own (a derived or
                    // std `Clone`) is of the same type.
                    None if name == "clone" => base_ty,
                    None => None,
                }
            }
            Recv::Field(base, name) => {
                let Ty::Item(owner) = self.type_of(base, cx, fuel)? else {
                    return None;
                };
                self.field_ty(owner, name, cx, fuel)
            }
            Recv::SelfField(name) => {
                let Ty::Item(owner) = self.self_ty(cx.owner)? else {
                    return None;
                };
                self.field_ty(owner, name, cx, fuel)
            }
            Recv::PatField(path, name) => {
                let owner = if path.first().map(String::as_str) == Some("Self") {
                    let Ty::Item(mut cur) = self.self_ty(cx.owner)? else {
                        return None;
                    };
                    for seg in &path[1..] {
                        cur = self.unique_member(cur, seg, |k| k == NodeKind::Variant)?;
                    }
                    cur
                } else {
                    self.resolve_scoped(cx.module, cx.locals, path, Want::Namespace)?
                };
                if !matches!(
                    self.kind(owner)?,
                    NodeKind::Struct | NodeKind::Union | NodeKind::Variant
                ) {
                    return None;
                }
                self.field_ty(owner, name, cx, fuel)
            }
        }
    }

    /// The type of field `name` of a struct, union or variant, read at a call site.
    fn field_ty(&self, owner: NodeId, name: &str, cx: Cx<'_>, fuel: &mut u32) -> Option<Ty> {
        let field = self.unique_member(owner, name, |k| k == NodeKind::Field)?;
        let site = self.typed.get(&field)?;
        let t = site.ty?;
        if matches!(t, TyRef::Param(_)) {
            // A generic parameter of the struct: known only inside the struct's own
            // impls, whose parameters are taken to be named as the struct's.
            let ty_owner = self.variant_of.get(&owner).copied().unwrap_or(owner);
            if self.self_ty(cx.owner) != Some(Ty::Item(ty_owner)) {
                return None;
            }
            return self.eval(t, cx, fuel);
        }
        self.eval(t, self.site_cx(site), fuel)
    }

    /// The return type of function `f`; `recv` is the receiver's type for a method, what
    /// a returned `Self` stands for.
    fn ret_of(&self, f: NodeId, recv: Option<Ty>, fuel: &mut u32) -> Option<Ty> {
        let site = self.typed.get(&f)?;
        let t = site.ty?;
        if let (TyRef::Path(p), Some(recv)) = (t, recv) {
            if p.len() == 1 && p[0] == "Self" {
                return Some(recv);
            }
        }
        self.eval(t, self.site_cx(site), fuel)
    }

    /// The function a path call names: `Self::f` through the owner, else by scope.
    pub(super) fn path_call(&self, cx: Cx<'_>, segs: &[String]) -> Option<NodeId> {
        let to = if segs.len() == 2 && segs[0] == "Self" {
            self.via_self(cx.owner, &segs[1])
        } else {
            self.resolve_scoped(cx.module, cx.locals, segs, Want::Value)
        };
        to.filter(|id| matches!(self.kind(*id), Some(NodeKind::Function | NodeKind::Method)))
    }

    /// `Self::name` or `self.name()` in a body owned by `owner`.
    pub(super) fn via_self(&self, owner: &Owner, name: &str) -> Option<NodeId> {
        match owner {
            Owner::None => None,
            Owner::Trait(t) => self.member(*t, name, Want::Value),
            Owner::Impl(i) => self.member(*i, name, Want::Value).or_else(|| {
                self.impl_targets
                    .get(i)
                    .copied()
                    .flatten()
                    .and_then(|t| self.member(t, name, Want::Value))
            }),
        }
    }

    /// Method `name` on a value of type `t`: the one method of the type's impls of that
    /// name, else the one its implemented traits declare; on a bound generic, the one
    /// the bounding traits declare. Returns the method, or whether several could be
    /// meant.
    pub(super) fn method_on(&self, t: &Ty, name: &str) -> (Option<NodeId>, bool) {
        let is_fn = |k: NodeKind| matches!(k, NodeKind::Method | NodeKind::Function);
        let mut found: Vec<NodeId> = Vec::new();
        let traits: &[NodeId] = match t {
            Ty::Item(id) => {
                if let Some(m) = self.members.get(id) {
                    found.extend(m.get(name).filter(|(k, _)| is_fn(*k)).map(|(_, id)| id));
                }
                if found.is_empty() {
                    self.impl_traits.get(id).map_or(&[], Vec::as_slice)
                } else {
                    &[]
                }
            }
            Ty::Bounds(traits) => traits,
        };
        let traits = self.with_supertraits(traits);
        for tr in &traits {
            if let Some(m) = self.members.get(tr) {
                found.extend(m.get(name).filter(|(k, _)| is_fn(*k)).map(|(_, id)| id));
            }
        }
        found.sort_unstable();
        found.dedup();
        match found.len() {
            0 => (None, false),
            1 => (Some(found[0]), false),
            _ => (None, true),
        }
    }

    /// `traits` and, transitively, their supertraits (at most 32 traits).
    fn with_supertraits(&self, traits: &[NodeId]) -> Vec<NodeId> {
        let mut all = traits.to_vec();
        let mut i = 0;
        while i < all.len() && all.len() < 32 {
            if let Some(site) = self.typed.get(&all[i]) {
                if let Some(TyRef::Bounds(paths)) = site.ty {
                    if let Some(Ty::Bounds(sup)) = self.bounds(paths, self.site_cx(site)) {
                        for s in sup {
                            if !all.contains(&s) {
                                all.push(s);
                            }
                        }
                    }
                }
            }
            i += 1;
        }
        all
    }

    /// A method call `recv.name()`: on the receiver's type where it is known, else by
    /// the name alone.
    pub(super) fn typed_call(&self, cx: Cx<'_>, recv: &Recv, name: &str) -> (Option<NodeId>, bool) {
        let mut fuel = FUEL;
        if let Some(t) = self.type_of(recv, cx, &mut fuel) {
            match self.method_on(&t, name) {
                (None, false) => {}
                found => return found,
            }
        }
        self.method_by_name(cx.target, name)
    }

    /// The function a call site names, or whether several methods could be meant.
    pub(super) fn call_target(&self, cx: Cx<'_>, callee: &Callee) -> (Option<NodeId>, bool) {
        match callee {
            Callee::SelfMethod(name) => match self.via_self(cx.owner, name) {
                Some(id) => (Some(id), false),
                None => self.typed_call(cx, &Recv::SelfValue, name),
            },
            Callee::Method(name) => self.method_by_name(cx.target, name),
            Callee::Typed(s) => match recv::decode(s) {
                Some((name, r)) => self.typed_call(cx, &r, name),
                None => (None, false),
            },
            Callee::Name(name) => (self.path_call(cx, std::slice::from_ref(name)), false),
            Callee::Path(segs) => match self.path_call(cx, segs) {
                Some(f) => (Some(f), false),
                // `T::f(..)` on a generic parameter: a method of its bounds.
                None if segs.len() == 2 => {
                    let mut fuel = FUEL;
                    match self.eval(&TyRef::Param(segs[0].clone()), cx, &mut fuel) {
                        Some(t) => self.method_on(&t, &segs[1]),
                        None => (None, false),
                    }
                }
                None => (None, false),
            },
        }
    }
}
