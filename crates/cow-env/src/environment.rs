//! The environment contract every variant implements, and the copy-on-write
//! [`Environment`].

use std::collections::HashMap;
use std::sync::Arc;

use crate::cache::{PatternCache, RuleList};
use crate::lineage::Lineage;
use crate::rule::{RuleId, RuleRef};
use crate::sync::OnceLock;
use crate::trie::private::TrieMap;
use crate::trie::{NativeTrie, TrieBackend};
use crate::{trie, Atom, AtomSpace, Error, Rule, RuleKey};

/// The operations of the seed's `Environment`, implemented by the copy-on-write
/// [`Environment`] and by the lock-per-field [`crate::LockedEnvironment`]s.
///
/// Semantics shared by all of them (`docs/cow-env.md` has the proofs):
/// - `clone()` gives an independent handle: after it, neither handle sees the other's
///   writes.
/// - An environment is a set of *instances* (an atom with a process-wide unique
///   [`crate::RuleId`]; adding an atom twice makes two instances) and a set of removed
///   instance ids (tombstones). Both only grow. An atom is in the space while it has an
///   instance that is not removed; the multiplicity of a rule is its number of live
///   instances.
/// - `union` is the set union of both sets: commutative, associative and idempotent, so
///   a base shared by two forks is counted once, unrelated environments lose nothing,
///   and an instance removed on either side stays removed.
pub trait RuleEnvironment: Clone + Send + Sync + Sized + 'static {
    /// An empty environment.
    fn empty() -> Self;

    /// Adds one instance of the atom `(= lhs rhs)` and files it as a rule.
    fn add_rule(&mut self, rule: Rule);

    /// Adds one instance of every rule.
    fn add_rules_bulk(&mut self, rules: impl IntoIterator<Item = Rule>);

    /// Adds one instance of each atom. An atom `(= lhs rhs)` is added as a rule, so the
    /// index never disagrees with the space; `(: name type)` marks the type index dirty.
    fn add_facts_bulk(&mut self, facts: impl IntoIterator<Item = Atom>);

    /// Adds the type assertion `(: name ty)`.
    fn add_type(&mut self, name: Atom, ty: Atom);

    /// Joins the atoms of `atoms` (the seed's `update_pathmap`, which took a `PathMap`;
    /// build one with [`AtomSpace::from_atoms`] or take one with `create_space`): each
    /// atom not already present gets one instance (rules are indexed at once).
    fn update_pathmap(&mut self, atoms: &AtomSpace);

    /// Sets the number of live instances of each rule atom `(= lhs rhs)`: adds instances
    /// or removes the newest ones. Nothing is changed unless every entry is a rule.
    fn set_multiplicities(&mut self, counts: &HashMap<Atom, usize>) -> Result<(), Error>;

    /// Re-derives the rule index and wildcard list from the live rule instances (a
    /// repair; the index is kept current by every write).
    fn rebuild_rule_index(&mut self);

    /// Removes every live instance of `atom` (MeTTa's `remove-atom`) and returns how
    /// many there were. The removal survives `union` with any handle that still has the
    /// instances.
    fn remove_atom(&mut self, atom: &Atom) -> usize;

    /// The rules whose left side could match `query`: those filed under its head and
    /// arity, then the wildcard rules; every rule when `query` has no symbol head.
    /// Each group is in instance order. Served from the pattern cache when possible.
    fn get_matching_rules(&self, query: &Atom) -> RuleList;

    /// The number of rule instances.
    fn get_rule_count(&self) -> usize;

    /// The types asserted for `name` with `(: name type)`, in byte-path order.
    fn get_type(&self, name: &Atom) -> Vec<Atom>;

    /// Each rule atom `(= lhs rhs)` with its number of live instances (at least one).
    fn get_multiplicities(&self) -> HashMap<Atom, usize>;

    /// An O(1) read-only snapshot of the atoms.
    fn create_space(&self) -> AtomSpace;

    /// Builds the type index if a write made it stale. Readers call it implicitly.
    fn ensure_type_index(&self);

    /// The union of two environments (see the trait's documentation). Fast paths: the
    /// same state returns it; when one side's state is a remembered ancestor of the
    /// other's, the other is returned; otherwise the fields are merged.
    fn union(&self, other: &Self) -> Self;

    /// Whether the two handles are known to hold the same state without comparing the
    /// contents (same version stamp).
    fn same_state(&self, other: &Self) -> bool;

    /// Adds an atom by its shape: a rule, a type assertion, or a plain fact.
    fn add_atom(&mut self, atom: Atom) {
        if let Some(rule) = Rule::from_atom(&atom) {
            self.add_rule(rule);
        } else if let Some([colon, name, ty]) = atom.as_expr() {
            if colon.as_sym() == Some(":") {
                self.add_type(name.clone(), ty.clone());
                return;
            }
            self.add_facts_bulk([atom]);
        } else {
            self.add_facts_bulk([atom]);
        }
    }
}

/// Pattern-cache entries kept per environment.
pub const PATTERN_CACHE_CAPACITY: usize = 1_024;

/// Key of the cache entry for queries without a symbol head (all rules).
const ALL_RULES_KEY: &[u8] = &[0];

/// Path prefix of the expressions `(<head> _ _)` with three items, used to find rule and
/// type atoms in the space.
pub(crate) fn triple_prefix(head: &str) -> Vec<u8> {
    crate::atom::expr_head_prefix(3, &Atom::sym(head))
}

/// Whether `atom` is a type assertion `(: name type)`.
pub(crate) fn is_type_assertion(atom: &Atom) -> bool {
    matches!(atom.as_expr(), Some([colon, _, _]) if colon.as_sym() == Some(":"))
}

/// Builds a type index (`encode(name) ++ encode(type)`) from the `(: name type)` atoms of
/// a space.
pub(crate) fn build_type_index<M: TrieMap<()>>(btm: &M) -> M {
    let prefix = triple_prefix(":");
    let mut index: M = trie::fresh();
    trie::for_each_under(btm, &prefix, |suffix, _| {
        // A suffix that does not split into two atoms was not written by this crate.
        if let Ok((_, used)) = Atom::decode(suffix) {
            if Atom::decode(&suffix[used..]).is_ok() {
                index.set_val(suffix, ());
            }
        }
    });
    index
}

/// Reads the types of `name` out of a type index.
pub(crate) fn types_in<M: TrieMap<()>>(index: &M, name: &Atom) -> Vec<Atom> {
    let mut out = Vec::new();
    trie::for_each_under(index, &name.to_path(), |suffix, _| {
        if let Ok(ty) = Atom::from_path(suffix) {
            out.push(ty);
        }
    });
    out
}

/// Splits an instance path `encode(atom) ++ id` into the atom's path and the id.
fn split_instance(path: &[u8]) -> Option<(&[u8], RuleId)> {
    let split = path.len().checked_sub(8)?;
    Some((&path[..split], RuleId::from_bytes(&path[split..])?))
}

fn instance_path(atom_path: &[u8], id: RuleId) -> Vec<u8> {
    let mut path = Vec::with_capacity(atom_path.len() + 8);
    path.extend_from_slice(atom_path);
    path.extend_from_slice(&id.to_bytes());
    path
}

/// The copy-on-write environment: the design this crate recommends.
///
/// Every field is either a persistent trie of the backend `B` (clone = one reference-count increment,
/// a write copies only the nodes on its path) or an `Arc` of a derived structure that a
/// write replaces instead of copying. `clone()` is therefore O(1), a clone's first write
/// costs a path copy, and both handles stay isolated.
///
/// ```
/// use cow_env::{parse_atom, Environment, Rule, RuleEnvironment};
///
/// let mut base = Environment::empty();
/// base.add_atom(parse_atom("(= (color sky) blue)").unwrap());
/// let mut left = base.clone();
/// let mut right = base.clone();
/// left.add_atom(parse_atom("(= (color grass) green)").unwrap());
/// right.add_atom(parse_atom("(= (color sun) yellow)").unwrap());
/// assert_eq!(base.get_rule_count(), 1);
///
/// let merged = left.union(&right);
/// assert_eq!(merged.get_rule_count(), 3); // the shared rule is counted once
/// ```
#[derive(Debug)]
pub struct Environment<B: TrieBackend = NativeTrie> {
    /// The persistent fields of the seed (`btm`, `rule_index`, `wildcard_rules`,
    /// `multiplicities`) and the tombstones behind one `Arc`, so that a clone costs one
    /// reference count for all of them. The first write after a clone copies the trie
    /// handles (`Arc::make_mut`), and each trie then copies only the nodes on the path it
    /// writes.
    tries: Arc<Tries<B>>,
    /// Query key to matching rules. Invariant: its entries agree with this handle's
    /// rules; a handle that writes either clears the affected entries (when it is the
    /// only owner) or swaps in an empty cache (when the cache is shared), never copies it.
    pattern_cache: Arc<PatternCache>,
    /// `encode(name) ++ encode(type)` for every `(: name type)` in `btm`, built on first
    /// read. An empty cell is the seed's "dirty" flag: writes that touch types swap in a
    /// new empty cell instead of rebuilding.
    type_index: Arc<OnceLock<B::Map<()>>>,
    /// Version stamp and recent ancestry, for `union`'s fast paths.
    lineage: Lineage,
}

/// The persistent part of an [`Environment`]. Every field is a function of
/// `multiplicities` (all instances) and `tombstones` (removed ones), which only grow.
#[derive(Debug)]
struct Tries<B: TrieBackend> {
    /// Every atom with a live instance, keyed by [`Atom::encode`].
    btm: B::Map<()>,
    /// Live rule instances with a symbol head, keyed by `RuleKey::to_path() ++ id` so
    /// that one key's rules sit in one subtrie in instance order.
    rule_index: B::Map<RuleRef>,
    /// Live rule instances without a symbol head, keyed by id.
    wildcard_rules: B::Map<RuleRef>,
    /// One path `encode(atom) ++ id` per instance ever added, of every atom. A rule's
    /// multiplicity is the number of paths under its encoding (the encoding is
    /// prefix-free) less its tombstones.
    multiplicities: B::Map<()>,
    /// One path `encode(atom) ++ id` per removed instance; always a subset of
    /// `multiplicities`.
    tombstones: B::Map<()>,
    /// Number of live rule instances: always the number of values in `rule_index` and
    /// `wildcard_rules` together.
    rule_count: usize,
}

impl<B: TrieBackend> Clone for Tries<B> {
    fn clone(&self) -> Self {
        Tries {
            btm: self.btm.clone(),
            rule_index: self.rule_index.clone(),
            wildcard_rules: self.wildcard_rules.clone(),
            multiplicities: self.multiplicities.clone(),
            tombstones: self.tombstones.clone(),
            rule_count: self.rule_count,
        }
    }
}

impl<B: TrieBackend> Tries<B> {
    fn live_count(&self, atom_path: &[u8]) -> usize {
        trie::count_under(&self.multiplicities, atom_path)
            .saturating_sub(trie::count_under(&self.tombstones, atom_path))
    }

    /// Live instance ids of an atom, in id order.
    fn live_ids(&self, atom_path: &[u8]) -> Vec<RuleId> {
        let mut ids = Vec::new();
        trie::for_each_under(&self.multiplicities, atom_path, |suffix, _| {
            if let Some(id) = RuleId::from_bytes(suffix) {
                if self
                    .tombstones
                    .get_val(&instance_path(atom_path, id))
                    .is_none()
                {
                    ids.push(id);
                }
            }
        });
        ids
    }

    /// Drops a rule instance from the index; whether it was there.
    fn unindex(&mut self, rule: &Rule, id: RuleId) -> bool {
        let removed = match rule.key() {
            Some(key) => {
                let mut path = key.to_path();
                path.extend_from_slice(&id.to_bytes());
                self.rule_index.remove_val(&path).is_some()
            }
            None => self.wildcard_rules.remove_val(&id.to_bytes()).is_some(),
        };
        if removed {
            self.rule_count -= 1;
        }
        removed
    }

    fn index(&mut self, rule: Arc<Rule>, id: RuleId) -> bool {
        let fresh = match rule.key() {
            Some(key) => {
                let mut path = key.to_path();
                path.extend_from_slice(&id.to_bytes());
                self.rule_index.set_val(&path, RuleRef(rule)).is_none()
            }
            None => self
                .wildcard_rules
                .set_val(&id.to_bytes(), RuleRef(rule))
                .is_none(),
        };
        if fresh {
            self.rule_count += 1;
        }
        fresh
    }
}

impl<B: TrieBackend> Clone for Environment<B> {
    fn clone(&self) -> Self {
        Environment {
            tries: self.tries.clone(),
            pattern_cache: self.pattern_cache.clone(),
            type_index: self.type_index.clone(),
            lineage: self.lineage.clone(),
        }
    }
}

impl<B: TrieBackend> Default for Environment<B> {
    fn default() -> Self {
        <Self as RuleEnvironment>::empty()
    }
}

impl Environment {
    /// An empty environment on the default backend ([`NativeTrie`]); the same as
    /// [`RuleEnvironment::empty`], callable without naming the backend.
    pub fn empty() -> Self {
        <Self as RuleEnvironment>::empty()
    }
}

impl<B: TrieBackend> Environment<B> {
    /// The name of the storage backend (`native`, `pathmap`), for reports.
    pub fn backend_name(&self) -> &'static str {
        B::NAME
    }

    fn cache_mut(&mut self) -> Option<&mut PatternCache> {
        Arc::get_mut(&mut self.pattern_cache)
    }

    /// Makes the pattern cache agree with a write to `key` (`None`: every key).
    fn invalidate_cache(&mut self, key: Option<&[u8]>) {
        match self.cache_mut() {
            Some(cache) => match key {
                Some(key) => {
                    cache.invalidate(key);
                    cache.invalidate(ALL_RULES_KEY);
                }
                None => cache.clear(),
            },
            // Shared with another handle: that handle's entries stay right for it, and
            // copying them would be the seed's deep copy, so start empty.
            None => self.pattern_cache = Arc::new(PatternCache::new(PATTERN_CACHE_CAPACITY)),
        }
    }

    fn invalidate_rule(&mut self, rule: &Rule) {
        let key = rule.key().map(|k| k.to_path());
        self.invalidate_cache(key.as_deref());
    }

    fn mark_types_dirty(&mut self) {
        if self.type_index.get().is_some() || Arc::strong_count(&self.type_index) > 1 {
            self.type_index = Arc::new(OnceLock::new());
        }
    }

    /// Adds one instance of `atom`; `rule` is `Rule::from_atom(atom)` when it is a rule.
    fn insert(&mut self, atom: &Atom, rule: Option<Arc<Rule>>) {
        let id = RuleId::fresh();
        let atom_path = atom.to_path();
        let tries = Arc::make_mut(&mut self.tries);
        tries
            .multiplicities
            .set_val(&instance_path(&atom_path, id), ());
        tries.btm.set_val(&atom_path, ());
        if let Some(rule) = rule {
            tries.index(rule.clone(), id);
            self.invalidate_rule(&rule);
        } else if is_type_assertion(atom) {
            self.mark_types_dirty();
        }
    }

    /// Removes the given live instances of `atom`.
    fn kill(&mut self, atom: &Atom, ids: &[RuleId]) {
        if ids.is_empty() {
            return;
        }
        let atom_path = atom.to_path();
        let rule = Rule::from_atom(atom);
        let tries = Arc::make_mut(&mut self.tries);
        for &id in ids {
            tries.tombstones.set_val(&instance_path(&atom_path, id), ());
            if let Some(rule) = &rule {
                tries.unindex(rule, id);
            }
        }
        if tries.live_count(&atom_path) == 0 {
            tries.btm.remove_val(&atom_path);
        }
        match &rule {
            Some(rule) => self.invalidate_rule(rule),
            None if is_type_assertion(atom) => self.mark_types_dirty(),
            None => {}
        }
    }

    fn collect_rules(map: &B::Map<RuleRef>, prefix: &[u8], out: &mut Vec<Arc<Rule>>) {
        trie::for_each_under(map, prefix, |_, rule| out.push(rule.0.clone()));
    }

    /// The number of live instances of `atom` (for a rule, its multiplicity).
    pub fn multiplicity(&self, atom: &Atom) -> usize {
        self.tries.live_count(&atom.to_path())
    }

    /// The number of entries in this handle's pattern cache (for tests and benchmarks).
    pub fn pattern_cache_len(&self) -> usize {
        self.pattern_cache.len()
    }

    /// Every live rule instance with its id, in id order (for tests and the docs'
    /// proofs).
    pub fn rule_instances(&self) -> Vec<(RuleId, Arc<Rule>)> {
        let mut out = Vec::new();
        let tries = &self.tries;
        trie::for_each_under(&tries.multiplicities, &[], |path, _| {
            if tries.tombstones.get_val(path).is_some() {
                return;
            }
            if let Some((atom_path, id)) = split_instance(path) {
                if let Ok(atom) = Atom::from_path(atom_path) {
                    if let Some(rule) = Rule::from_atom(&atom) {
                        out.push((id, Arc::new(rule)));
                    }
                }
            }
        });
        out.sort_by_key(|(id, _)| *id);
        out
    }
}

impl<B: TrieBackend> RuleEnvironment for Environment<B> {
    fn empty() -> Self {
        Environment {
            tries: Arc::new(Tries {
                btm: trie::fresh(),
                rule_index: trie::fresh(),
                wildcard_rules: trie::fresh(),
                multiplicities: trie::fresh(),
                tombstones: trie::fresh(),
                rule_count: 0,
            }),
            pattern_cache: Arc::new(PatternCache::new(PATTERN_CACHE_CAPACITY)),
            type_index: Arc::new(OnceLock::new()),
            lineage: Lineage::new(),
        }
    }

    fn add_rule(&mut self, rule: Rule) {
        self.insert(&rule.to_atom(), Some(Arc::new(rule)));
        self.lineage.advance();
    }

    fn add_rules_bulk(&mut self, rules: impl IntoIterator<Item = Rule>) {
        for rule in rules {
            self.insert(&rule.to_atom(), Some(Arc::new(rule)));
        }
        self.lineage.advance();
    }

    fn add_facts_bulk(&mut self, facts: impl IntoIterator<Item = Atom>) {
        for fact in facts {
            let rule = Rule::from_atom(&fact).map(Arc::new);
            self.insert(&fact, rule);
        }
        self.lineage.advance();
    }

    fn add_type(&mut self, name: Atom, ty: Atom) {
        self.insert(&Atom::expr(vec![Atom::sym(":"), name, ty]), None);
        self.lineage.advance();
    }

    fn update_pathmap(&mut self, atoms: &AtomSpace) {
        let missing: Vec<Atom> = atoms
            .atoms()
            .into_iter()
            .filter(|atom| self.tries.btm.get_val(&atom.to_path()).is_none())
            .collect();
        for atom in missing {
            let rule = Rule::from_atom(&atom).map(Arc::new);
            self.insert(&atom, rule);
        }
        self.lineage.advance();
    }

    fn set_multiplicities(&mut self, counts: &HashMap<Atom, usize>) -> Result<(), Error> {
        let mut plan = Vec::new();
        for (atom, &requested) in counts {
            let rule = Rule::from_atom(atom).ok_or_else(|| Error::NotARule {
                atom: crate::error::shorten(atom.to_string()),
            })?;
            plan.push((atom, Arc::new(rule), requested));
        }
        for (atom, rule, requested) in plan {
            let live = self.tries.live_ids(&atom.to_path());
            if requested >= live.len() {
                for _ in live.len()..requested {
                    self.insert(atom, Some(rule.clone()));
                }
            } else {
                // Remove the newest instances: the oldest keep their place in rule order.
                self.kill(atom, &live[requested..]);
            }
        }
        self.lineage.advance();
        Ok(())
    }

    fn rebuild_rule_index(&mut self) {
        let instances = self.rule_instances();
        let tries = Arc::make_mut(&mut self.tries);
        tries.rule_index = trie::fresh();
        tries.wildcard_rules = trie::fresh();
        tries.rule_count = 0;
        for (id, rule) in instances {
            tries.index(rule, id);
        }
        self.invalidate_cache(None);
        self.lineage.advance();
    }

    fn remove_atom(&mut self, atom: &Atom) -> usize {
        let live = self.tries.live_ids(&atom.to_path());
        self.kill(atom, &live);
        if !live.is_empty() {
            self.lineage.advance();
        }
        live.len()
    }

    fn get_matching_rules(&self, query: &Atom) -> RuleList {
        let key = RuleKey::of(query).map(|k| k.to_path());
        let cache_key: &[u8] = key.as_deref().unwrap_or(ALL_RULES_KEY);
        if let Some(hit) = self.pattern_cache.get(cache_key) {
            return hit;
        }
        let mut rules = Vec::new();
        match &key {
            Some(prefix) => Self::collect_rules(&self.tries.rule_index, prefix, &mut rules),
            None => Self::collect_rules(&self.tries.rule_index, &[], &mut rules),
        }
        Self::collect_rules(&self.tries.wildcard_rules, &[], &mut rules);
        let list: RuleList = Arc::from(rules);
        self.pattern_cache.insert(cache_key.to_vec(), list.clone());
        list
    }

    fn get_rule_count(&self) -> usize {
        self.tries.rule_count
    }

    fn get_type(&self, name: &Atom) -> Vec<Atom> {
        types_in(
            self.type_index
                .get_or_init(|| build_type_index(&self.tries.btm)),
            name,
        )
    }

    fn get_multiplicities(&self) -> HashMap<Atom, usize> {
        let mut out: HashMap<Atom, usize> = HashMap::new();
        for (_, rule) in self.rule_instances() {
            *out.entry(rule.to_atom()).or_default() += 1;
        }
        out
    }

    fn create_space(&self) -> AtomSpace {
        AtomSpace::new(B::atoms(&self.tries.btm))
    }

    fn ensure_type_index(&self) {
        self.type_index
            .get_or_init(|| build_type_index(&self.tries.btm));
    }

    fn union(&self, other: &Self) -> Self {
        if self.lineage.contains_state_of(&other.lineage) {
            return self.clone();
        }
        if other.lineage.contains_state_of(&self.lineage) {
            return other.clone();
        }
        let mut lineage = self.lineage.clone();
        lineage.advance();
        let (mine, theirs) = (&self.tries, &other.tries);
        // |x ∪ y| = |x| + |y \ x|; the subtraction skips the shared base.
        let rule_count = mine.rule_count
            + trie::count_missing(&theirs.rule_index, &mine.rule_index)
            + trie::count_missing(&theirs.wildcard_rules, &mine.wildcard_rules);
        let mut merged: Tries<B> = Tries {
            btm: trie::join(&mine.btm, &theirs.btm),
            rule_index: trie::join(&mine.rule_index, &theirs.rule_index),
            wildcard_rules: trie::join(&mine.wildcard_rules, &theirs.wildcard_rules),
            multiplicities: trie::join(&mine.multiplicities, &theirs.multiplicities),
            tombstones: trie::join(&mine.tombstones, &theirs.tombstones),
            rule_count,
        };
        // An instance one side removed may still be live on the other, so it came back
        // with the join: remove it again. Only the tombstones the two sides do not share
        // are visited, which for two forks is what they removed since forking.
        let mut revived = Vec::new();
        for (a, b) in [(theirs, mine), (mine, theirs)] {
            trie::for_each_missing(&a.tombstones, &b.tombstones, |path, _| {
                revived.push(path.to_vec())
            });
        }
        let mut emptied = Vec::new();
        for path in revived {
            let Some((atom_path, id)) = split_instance(&path) else {
                continue;
            };
            if let Ok(atom) = Atom::from_path(atom_path) {
                if let Some(rule) = Rule::from_atom(&atom) {
                    merged.unindex(&rule, id);
                }
            }
            emptied.push(atom_path.to_vec());
        }
        for atom_path in emptied {
            if merged.live_count(&atom_path) == 0 {
                merged.btm.remove_val(&atom_path);
            }
        }
        Environment {
            tries: Arc::new(merged),
            pattern_cache: Arc::new(PatternCache::new(PATTERN_CACHE_CAPACITY)),
            type_index: Arc::new(OnceLock::new()),
            lineage,
        }
    }

    fn same_state(&self, other: &Self) -> bool {
        self.lineage.stamp() == other.lineage.stamp()
    }
}
