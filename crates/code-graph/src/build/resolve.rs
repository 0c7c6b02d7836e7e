//! Name resolution: scopes, member tables, and the edge each pending path site makes.
//!
//! Resolution is syntactic: a path is looked up through scopes, `use`s and globs, then
//! through modules and members; a method call is resolved on its receiver's type where
//! `types.rs` can tell it, else by its name alone (see `docs/code-graph.md`).

use super::types::Cx;
use super::Pending;
use crate::fasthash::FastMap;
use crate::id::NodeId;
use crate::model::{Edge, EdgeKind, NodeKind};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    Namespace,
    Value,
    Any,
}

pub(super) fn kind_ok(kind: NodeKind, want: Want) -> bool {
    match want {
        Want::Namespace => kind.is_namespace(),
        Want::Value => matches!(
            kind,
            NodeKind::Function | NodeKind::Method | NodeKind::Const | NodeKind::Static
        ),
        Want::Any => true,
    }
}

/// The values under one map key, in insertion order. Nearly every name has exactly one
/// item (or use, or member) behind it, so the first is held inline and only a second
/// allocates: a `Vec` per name was one heap allocation (and one free) per scope entry
/// and per member, thousands per build.
pub(super) struct Few<T> {
    first: T,
    more: Vec<T>,
}

impl<T> Few<T> {
    fn iter(&self) -> impl Iterator<Item = &T> {
        std::iter::once(&self.first).chain(self.more.iter())
    }
}

/// Appends `value` to the values under `key`.
pub(super) fn push_few<K: std::hash::Hash + Eq, T>(map: &mut FastMap<K, Few<T>>, key: K, value: T) {
    match map.entry(key) {
        std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().more.push(value),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(Few {
                first: value,
                more: Vec::new(),
            });
        }
    }
}

#[derive(Default)]
pub(super) struct Scope<'a> {
    pub(super) items: FastMap<&'a str, Few<(NodeKind, NodeId)>>,
    pub(super) uses: FastMap<&'a str, Few<&'a [String]>>,
    pub(super) globs: Vec<&'a [String]>,
    pub(super) parent: Option<NodeId>,
    pub(super) root: NodeId,
}

/// Name -> the (kind, ID) of every member with that name.
/// (name, kind, ID) of an owner's members. Filled in a deterministic order, then sorted
/// by name stably ([`Members::seal`]), so the members of one name keep the order they
/// came in and are found by binary search. A vector, not a map: most owners (an impl
/// with one method) have one or two members, and a map per owner cost about 250 bytes
/// each on a large input.
#[derive(Default)]
pub(super) struct Members<'a>(pub(super) Vec<(&'a str, NodeKind, NodeId)>);

impl<'a> Members<'a> {
    pub(super) fn push(&mut self, name: &'a str, kind: NodeKind, id: NodeId) {
        self.0.push((name, kind, id));
    }

    /// Sorts by name, keeping the arrival order among equal names; frees spare room.
    pub(super) fn seal(&mut self) {
        self.0.sort_by_key(|m| m.0);
        self.0.shrink_to_fit();
    }

    /// The (kind, ID) of the members called `name`, in arrival order (once sealed).
    pub(super) fn get<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = (NodeKind, NodeId)> + 's {
        let start = self.0.partition_point(|m| m.0 < name);
        self.0[start..]
            .iter()
            .take_while(move |m| m.0 == name)
            .map(|m| (m.1, m.2))
    }
}

pub(super) struct Resolver<'a> {
    pub(super) scopes: FastMap<NodeId, Scope<'a>>,
    /// (ID, kind) of every item node, sorted by ID (stably: of two nodes with one ID,
    /// the later one is found, as a map filled in the same order would keep it).
    pub(super) kinds: Vec<(NodeId, NodeKind)>,
    /// Type, trait, enum or impl -> name -> its methods, associated items, variants.
    pub(super) members: FastMap<NodeId, Members<'a>>,
    /// Library crate names -> crate node.
    pub(super) crates: FastMap<String, NodeId>,
    /// Method name -> (target, ID) of every inherent or trait-declared method of that
    /// name, sorted.
    pub(super) methods: FastMap<&'a str, Vec<(usize, NodeId)>>,
    /// Which targets are libraries (their methods can be called from other targets).
    pub(super) lib_targets: Vec<bool>,
    /// Module -> the module holding its items (a file mounted twice).
    pub(super) aliases: FastMap<NodeId, NodeId>,
    /// Function, field or type alias -> what typing needs of it.
    pub(super) typed: FastMap<NodeId, super::TypeSite<'a>>,
    /// Impl -> the type it is for, when its self type resolves.
    pub(super) impl_targets: FastMap<NodeId, Option<NodeId>>,
    /// Type -> the traits its impls implement (sorted).
    pub(super) impl_traits: FastMap<NodeId, Vec<NodeId>>,
    /// Variant -> its enum.
    pub(super) variant_of: FastMap<NodeId, NodeId>,
}

/// Method names that std gives nearly every value (`Clone`, `Iterator` and its
/// adapters, collections, slices, `Option`, `Result`, I/O; sorted): a call `x.len()` on a receiver of unknown type most likely
/// means std's, even when the crate defines a `len` of its own, so such a call is left
/// unresolved rather than linked by its name alone.
const STD_METHODS: &[&str] = &[
    "all",
    "and_then",
    "any",
    "as_bytes",
    "as_mut",
    "as_ptr",
    "as_ref",
    "as_slice",
    "as_str",
    "borrow",
    "borrow_mut",
    "chain",
    "chars",
    "clear",
    "clone",
    "cloned",
    "cmp",
    "collect",
    "contains",
    "contains_key",
    "copied",
    "count",
    "default",
    "deref",
    "deref_mut",
    "drain",
    "drop",
    "ends_with",
    "entry",
    "enumerate",
    "eq",
    "err",
    "expect",
    "extend",
    "filter",
    "filter_map",
    "find",
    "first",
    "flat_map",
    "flatten",
    "flush",
    "fmt",
    "fold",
    "for_each",
    "from",
    "fuse",
    "get",
    "get_mut",
    "hash",
    "insert",
    "inspect",
    "into",
    "into_iter",
    "is_empty",
    "is_err",
    "is_none",
    "is_ok",
    "is_some",
    "iter",
    "iter_mut",
    "join",
    "last",
    "len",
    "lock",
    "map",
    "map_err",
    "max",
    "max_by",
    "max_by_key",
    "min",
    "min_by",
    "min_by_key",
    "ne",
    "next",
    "nth",
    "ok",
    "ok_or",
    "or_else",
    "parse",
    "partial_cmp",
    "partition",
    "peekable",
    "pop",
    "position",
    "product",
    "push",
    "push_str",
    "read",
    "reduce",
    "remove",
    "rev",
    "send",
    "skip",
    "skip_while",
    "sort",
    "split",
    "split_at",
    "starts_with",
    "step_by",
    "sum",
    "take",
    "take_while",
    "to_owned",
    "to_string",
    "to_vec",
    "trim",
    "unwrap",
    "unwrap_or",
    "unwrap_or_default",
    "unwrap_or_else",
    "unzip",
    "windows",
    "write",
    "write_all",
    "write_str",
    "zip",
];

/// Bounds one resolution: glob imports can form cycles (`a` globs `b`, `b` globs `a`),
/// so a (module, name, what is wanted) already being looked up is not looked up again
/// inside itself, and the work is capped. What is wanted is part of the key: `pub use self::once::{once, ..}`
/// looks up the function `once` through the module `once` of the same scope.
struct Query {
    /// (module, hash of the name, want) of the lookups in progress: a short list, linear
    /// search beats hashing here.
    seen: Vec<(NodeId, u64, Want)>,
    /// Lookups finished without meeting one in progress, and their results: the same
    /// in any context, so a second glob walking the same path takes them from here.
    done: Vec<((NodeId, u64, Want), Option<NodeId>)>,
    /// How many lookups were cut because they were in progress already.
    cuts: u32,
    budget: u32,
}

fn name_hash(name: &str) -> u64 {
    let mut h = crate::id::StableHasher::default();
    h.write(name.as_bytes());
    h.finish()
}

impl Resolver<'_> {
    pub(super) fn kind(&self, id: NodeId) -> Option<NodeKind> {
        let end = self.kinds.partition_point(|(k, _)| *k <= id);
        end.checked_sub(1)
            .map(|i| self.kinds[i])
            .filter(|(k, _)| *k == id)
            .map(|(_, kind)| kind)
    }

    /// Resolves `segs` from a body: first among the items of the enclosing functions
    /// (innermost first), then from the module.
    pub(super) fn resolve_scoped(
        &self,
        module: NodeId,
        locals: Option<&[NodeId]>,
        segs: &[String],
        want: Want,
    ) -> Option<NodeId> {
        if let (Some(locals), Some(first)) = (locals, segs.first()) {
            let w = if segs.len() == 1 {
                want
            } else {
                Want::Namespace
            };
            for f in locals.iter().rev() {
                if let Some(found) = self.member(*f, first, w) {
                    let mut q = Query {
                        seen: Vec::new(),
                        done: Vec::new(),
                        cuts: 0,
                        budget: 512,
                    };
                    let mut cur = found;
                    for (i, seg) in segs[1..].iter().enumerate() {
                        let w = if i + 2 == segs.len() {
                            want
                        } else {
                            Want::Namespace
                        };
                        cur = self.step(cur, seg, w, &mut q)?;
                    }
                    return Some(cur);
                }
            }
        }
        self.resolve(module, segs, want)
    }

    /// A method call `x.name()` by its name alone: the one inherent or trait-declared
    /// method of that name in the caller's target or a library. Returns the method, or
    /// whether several could be meant.
    pub(super) fn method_by_name(&self, target: usize, name: &str) -> (Option<NodeId>, bool) {
        if STD_METHODS.binary_search(&name).is_ok() {
            return (None, false);
        }
        let Some(list) = self.methods.get(name) else {
            return (None, false);
        };
        let mut found = None;
        for (t, id) in list {
            if *t == target || self.lib_targets.get(*t).copied().unwrap_or(false) {
                if found.is_some() {
                    return (None, true);
                }
                found = Some(*id);
            }
        }
        (found, false)
    }

    fn resolve(&self, module: NodeId, segs: &[String], want: Want) -> Option<NodeId> {
        let mut q = Query {
            seen: Vec::new(),
            done: Vec::new(),
            cuts: 0,
            budget: 512,
        };
        self.resolve_in(module, segs, want, &mut q)
    }

    fn resolve_in(
        &self,
        module: NodeId,
        segs: &[String],
        want: Want,
        q: &mut Query,
    ) -> Option<NodeId> {
        if q.budget == 0 {
            return None;
        }
        q.budget -= 1;
        let module = self.aliases.get(&module).copied().unwrap_or(module);
        let scope = self.scopes.get(&module)?;
        let first = segs.first()?;
        let (start, rest) = match first.as_str() {
            "crate" => (scope.root, &segs[1..]),
            "self" => (module, &segs[1..]),
            "super" => {
                let mut m = module;
                let mut i = 0;
                while segs.get(i).map(String::as_str) == Some("super") {
                    m = self.scopes.get(&m)?.parent?;
                    i += 1;
                }
                (m, &segs[i..])
            }
            name => {
                let w = if segs.len() == 1 {
                    want
                } else {
                    Want::Namespace
                };
                let found = self.lookup(module, name, w, q).or_else(|| {
                    if w == Want::Value {
                        None
                    } else {
                        self.crates.get(name).copied()
                    }
                })?;
                (found, &segs[1..])
            }
        };
        let mut cur = start;
        for (i, seg) in rest.iter().enumerate() {
            let w = if i + 1 == rest.len() {
                want
            } else {
                Want::Namespace
            };
            cur = self.step(cur, seg, w, q)?;
        }
        Some(cur)
    }

    fn step(&self, from: NodeId, seg: &str, want: Want, q: &mut Query) -> Option<NodeId> {
        match self.kind(from)? {
            NodeKind::Crate | NodeKind::Module => self.lookup(from, seg, want, q),
            _ => self
                .members
                .get(&from)?
                .get(seg)
                .find(|(k, _)| {
                    kind_ok(*k, want) || (want != Want::Value && *k == NodeKind::Variant)
                })
                .map(|(_, id)| id),
        }
    }

    fn lookup(&self, module: NodeId, name: &str, want: Want, q: &mut Query) -> Option<NodeId> {
        let module = self.aliases.get(&module).copied().unwrap_or(module);
        let key = (module, name_hash(name), want);
        if let Some((_, found)) = q.done.iter().find(|(k, _)| *k == key) {
            return *found;
        }
        if q.seen.contains(&key) {
            q.cuts += 1;
            return None;
        }
        q.seen.push(key);
        let cuts = q.cuts;
        let found = self.lookup_in_scope(module, name, want, q);
        // `seen` holds the lookups in progress, not every lookup made: a name that one
        // glob's path walked through (`crate::iter` of `crate::iter::plumbing::*`) must
        // still be found through the next glob (`crate::iter::*`). A result that no cut
        // shaped is kept for the rest of the query.
        q.seen.pop();
        if q.cuts == cuts {
            q.done.push((key, found));
        }
        found
    }

    fn lookup_in_scope(
        &self,
        module: NodeId,
        name: &str,
        want: Want,
        q: &mut Query,
    ) -> Option<NodeId> {
        let scope = self.scopes.get(&module)?;
        if let Some(list) = scope.items.get(name) {
            if let Some((_, id)) = list.iter().find(|(k, _)| kind_ok(*k, want)) {
                return Some(*id);
            }
        }
        if let Some(paths) = scope.uses.get(name) {
            for p in paths.iter() {
                if let Some(id) = self.resolve_in(module, p, want, q) {
                    return Some(id);
                }
            }
        }
        for g in &scope.globs {
            // `g::*` then `name`: the glob's module, then the name in it (no path is
            // built, and the module's lookup is shared by every name through it).
            if g.is_empty() {
                continue;
            }
            let Some(base) = self.resolve_in(module, g, Want::Namespace, q) else {
                continue;
            };
            if let Some(id) = self.step(base, name, want, q) {
                return Some(id);
            }
        }
        None
    }

    pub(super) fn member(&self, owner: NodeId, name: &str, want: Want) -> Option<NodeId> {
        self.members
            .get(&owner)?
            .get(name)
            .find(|(k, _)| kind_ok(*k, want))
            .map(|(_, id)| id)
    }

    /// The edge a pending path site makes, if it resolves, and whether a call could
    /// mean several methods (an ambiguous call, counted apart from unresolved ones).
    pub(super) fn pending(&self, p: &Pending<'_>) -> (Option<Edge>, bool) {
        match p {
            Pending::Implements {
                from,
                module,
                path,
                fallback,
            } => {
                let to = self
                    .resolve(*module, path, Want::Namespace)
                    .filter(|id| self.kind(*id) == Some(NodeKind::Trait))
                    .or(*fallback);
                let edge = to.map(|to| Edge {
                    from: *from,
                    kind: EdgeKind::Implements,
                    to,
                });
                (edge, false)
            }
            Pending::Import {
                from,
                module,
                path,
                glob,
            } => {
                let want = if *glob { Want::Namespace } else { Want::Any };
                let to = self.resolve(*module, path, want).filter(|to| to != from);
                let edge = to.map(|to| Edge {
                    from: *from,
                    kind: EdgeKind::Imports,
                    to,
                });
                (edge, false)
            }
            Pending::Call {
                from,
                module,
                target,
                owner,
                locals,
                callee,
            } => {
                // The caller's generic parameters, kept with its return type.
                let env = self.typed.get(from).and_then(|s| s.env);
                let cx = Cx {
                    module: *module,
                    target: *target,
                    owner,
                    locals: locals.as_deref(),
                    env,
                };
                let (to, ambiguous) = self.call_target(cx, callee);
                let to = to.filter(|id| {
                    matches!(self.kind(*id), Some(NodeKind::Function | NodeKind::Method))
                });
                let edge = to.map(|to| Edge {
                    from: *from,
                    kind: EdgeKind::Calls,
                    to,
                });
                (edge, ambiguous)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn std_method_names_are_sorted_for_binary_search() {
        assert!(super::STD_METHODS.windows(2).all(|w| w[0] < w[1]));
    }
}
