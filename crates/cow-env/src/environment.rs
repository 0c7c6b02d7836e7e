//! The environment contract every variant implements, and the copy-on-write
//! [`Environment`].

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use pathmap::PathMap;

use crate::cache::{PatternCache, RuleList};
use crate::lineage::Lineage;
use crate::rule::{RuleId, RuleRef};
use crate::{trie, Atom, AtomSpace, Error, Rule, RuleKey};

/// The operations of the seed's `Environment`, implemented by the copy-on-write
/// [`Environment`] and by the lock-per-field [`crate::LockedEnvironment`]s.
///
/// Semantics shared by all of them (`docs/cow-env.md` has the proofs):
/// - `clone()` gives an independent handle: after it, neither handle sees the other's
///   writes.
/// - An environment is a grow-only set of atoms plus a grow-only set of *rule
///   instances*, each with a process-wide unique [`crate::RuleId`]; the multiplicity of
///   a rule is its number of instances.
/// - `union` is the set union of both: commutative, associative and idempotent, so a
///   base shared by two forks is counted once and unrelated environments lose nothing.
pub trait RuleEnvironment: Clone + Send + Sync + Sized + 'static {
    /// An empty environment.
    fn empty() -> Self;

    /// Adds one instance of `rule` (and the atom `(= lhs rhs)` to the space).
    fn add_rule(&mut self, rule: Rule);

    /// Adds one instance of every rule.
    fn add_rules_bulk(&mut self, rules: impl IntoIterator<Item = Rule>);

    /// Adds atoms to the space. An atom `(= lhs rhs)` is added as a rule, so the index
    /// never disagrees with the space; `(: name type)` marks the type index dirty.
    fn add_facts_bulk(&mut self, facts: impl IntoIterator<Item = Atom>);

    /// Adds the type assertion `(: name ty)`.
    fn add_type(&mut self, name: Atom, ty: Atom);

    /// Joins `atoms` (paths written by [`Atom::encode`]) into the space. The space is
    /// grow-only, so this is a union, not a replacement. Rules arriving this way are
    /// indexed by [`RuleEnvironment::rebuild_rule_index`].
    fn update_pathmap(&mut self, atoms: &PathMap<()>);

    /// Raises the number of instances of each rule atom `(= lhs rhs)` to the given
    /// count. Lowering is refused with [`Error::MultiplicityDecrease`] (instances are
    /// grow-only); nothing is changed unless every entry is valid.
    fn set_multiplicities(&mut self, counts: &HashMap<Atom, usize>) -> Result<(), Error>;

    /// Gives every rule atom of the space that has no instance one instance (after
    /// [`RuleEnvironment::update_pathmap`] brought rules in as plain atoms).
    fn rebuild_rule_index(&mut self);

    /// The rules whose left side could match `query`: those filed under its head and
    /// arity, then the wildcard rules; every rule when `query` has no symbol head.
    /// Each group is in instance order. Served from the pattern cache when possible.
    fn get_matching_rules(&self, query: &Atom) -> RuleList;

    /// The number of rule instances.
    fn get_rule_count(&self) -> usize;

    /// The types asserted for `name` with `(: name type)`, in byte-path order.
    fn get_type(&self, name: &Atom) -> Vec<Atom>;

    /// Each rule atom `(= lhs rhs)` with its number of instances.
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

/// Builds a type index (`encode(name) ++ encode(type)`) from the `(: name type)` atoms of
/// a space.
pub(crate) fn build_type_index(btm: &PathMap<()>) -> PathMap<()> {
    let prefix = triple_prefix(":");
    let mut index = trie::fresh();
    trie::for_each_under(btm, &prefix, |suffix, _| {
        // A suffix that does not split into two atoms was not written by this crate.
        if let Ok((_, used)) = Atom::decode(suffix) {
            if Atom::decode(&suffix[used..]).is_ok() {
                index.set_val_at(suffix, ());
            }
        }
    });
    index
}

/// Reads the types of `name` out of a type index.
pub(crate) fn types_in(index: &PathMap<()>, name: &Atom) -> Vec<Atom> {
    let mut out = Vec::new();
    trie::for_each_under(index, &name.to_path(), |suffix, _| {
        if let Ok(ty) = Atom::from_path(suffix) {
            out.push(ty);
        }
    });
    out
}

/// The copy-on-write environment: the design this crate recommends.
///
/// Every field is either a persistent `PathMap` (clone = one reference-count increment,
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
pub struct Environment {
    /// The four persistent fields of the seed (`btm`, `rule_index`, `wildcard_rules`,
    /// `multiplicities`) behind one `Arc`, so that a clone costs one reference count for
    /// all four. The first write after a clone copies the four trie handles (four
    /// reference counts, `Arc::make_mut`), and each trie then copies only the nodes on
    /// the path it writes.
    tries: Arc<Tries>,
    /// Query key to matching rules. Invariant: its entries agree with this handle's
    /// rules; a handle that writes either clears the affected entries (when it is the
    /// only owner) or swaps in an empty cache (when the cache is shared), never copies it.
    pattern_cache: Arc<PatternCache>,
    /// `encode(name) ++ encode(type)` for every `(: name type)` in `btm`, built on first
    /// read. An empty cell is the seed's "dirty" flag: writes that touch types swap in a
    /// new empty cell instead of rebuilding.
    type_index: Arc<OnceLock<PathMap<()>>>,
    /// Version stamp and recent ancestry, for `union`'s fast paths.
    lineage: Lineage,
}

/// The persistent part of an [`Environment`].
#[derive(Debug, Clone)]
struct Tries {
    /// Every atom of the space, keyed by [`Atom::encode`]. Grow-only.
    btm: PathMap<()>,
    /// Rule instances with a symbol head, keyed by `RuleKey::to_path() ++ id` so that one
    /// key's rules sit in one subtrie in instance order.
    rule_index: PathMap<RuleRef>,
    /// Rule instances without a symbol head, keyed by id.
    wildcard_rules: PathMap<RuleRef>,
    /// One path `encode(rule atom) ++ id` per rule instance; a rule's multiplicity is the
    /// number of paths under its encoding (the encoding is prefix-free).
    multiplicities: PathMap<()>,
    /// Number of rule instances: always the number of values in `rule_index` and
    /// `wildcard_rules` together.
    rule_count: usize,
}

impl Clone for Environment {
    fn clone(&self) -> Self {
        Environment {
            tries: self.tries.clone(),
            pattern_cache: self.pattern_cache.clone(),
            type_index: self.type_index.clone(),
            lineage: self.lineage.clone(),
        }
    }
}

impl Default for Environment {
    fn default() -> Self {
        Environment::empty()
    }
}

impl Environment {
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

    fn mark_types_dirty(&mut self) {
        if self.type_index.get().is_some() || Arc::strong_count(&self.type_index) > 1 {
            self.type_index = Arc::new(OnceLock::new());
        }
    }

    fn insert_instance(&mut self, rule: Arc<Rule>, id: RuleId) {
        let atom_path = rule.to_atom().to_path();
        let mut mult = atom_path.clone();
        mult.extend_from_slice(&id.to_bytes());
        let tries = Arc::make_mut(&mut self.tries);
        tries.multiplicities.set_val_at(&mult, ());
        tries.btm.set_val_at(&atom_path, ());
        tries.rule_count += 1;
        let cache_key = match rule.key() {
            Some(key) => {
                let mut path = key.to_path();
                let cache_key = path.clone();
                path.extend_from_slice(&id.to_bytes());
                tries.rule_index.set_val_at(&path, RuleRef(rule));
                Some(cache_key)
            }
            None => {
                tries
                    .wildcard_rules
                    .set_val_at(id.to_bytes(), RuleRef(rule));
                None
            }
        };
        self.invalidate_cache(cache_key.as_deref());
    }

    fn collect_rules(map: &PathMap<RuleRef>, prefix: &[u8], out: &mut Vec<Arc<Rule>>) {
        trie::for_each_under(map, prefix, |_, rule| out.push(rule.0.clone()));
    }

    /// The number of instances of the rule atom `(= lhs rhs)`.
    pub fn multiplicity(&self, rule_atom: &Atom) -> usize {
        trie::count_under(&self.tries.multiplicities, &rule_atom.to_path())
    }

    /// The number of entries in this handle's pattern cache (for tests and benchmarks).
    pub fn pattern_cache_len(&self) -> usize {
        self.pattern_cache.len()
    }

    /// Every rule instance with its id, in id order (for tests and the docs' proofs).
    pub fn rule_instances(&self) -> Vec<(RuleId, Arc<Rule>)> {
        let mut out = Vec::new();
        trie::for_each_under(&self.tries.multiplicities, &[], |path, _| {
            let split = path.len().saturating_sub(8);
            if let (Ok(atom), Some(id)) = (
                Atom::from_path(&path[..split]),
                RuleId::from_bytes(&path[split..]),
            ) {
                if let Some(rule) = Rule::from_atom(&atom) {
                    out.push((id, Arc::new(rule)));
                }
            }
        });
        out.sort_by_key(|(id, _)| *id);
        out
    }
}

impl RuleEnvironment for Environment {
    fn empty() -> Self {
        Environment {
            tries: Arc::new(Tries {
                btm: trie::fresh(),
                rule_index: trie::fresh(),
                wildcard_rules: trie::fresh(),
                multiplicities: trie::fresh(),
                rule_count: 0,
            }),
            pattern_cache: Arc::new(PatternCache::new(PATTERN_CACHE_CAPACITY)),
            type_index: Arc::new(OnceLock::new()),
            lineage: Lineage::new(),
        }
    }

    fn add_rule(&mut self, rule: Rule) {
        self.insert_instance(Arc::new(rule), RuleId::fresh());
        self.lineage.advance();
    }

    fn add_rules_bulk(&mut self, rules: impl IntoIterator<Item = Rule>) {
        for rule in rules {
            self.insert_instance(Arc::new(rule), RuleId::fresh());
        }
        self.lineage.advance();
    }

    fn add_facts_bulk(&mut self, facts: impl IntoIterator<Item = Atom>) {
        let mut types = false;
        for fact in facts {
            if let Some(rule) = Rule::from_atom(&fact) {
                self.insert_instance(Arc::new(rule), RuleId::fresh());
                continue;
            }
            if let Some([colon, _, _]) = fact.as_expr() {
                types |= colon.as_sym() == Some(":");
            }
            Arc::make_mut(&mut self.tries)
                .btm
                .set_val_at(fact.to_path(), ());
        }
        if types {
            self.mark_types_dirty();
        }
        self.lineage.advance();
    }

    fn add_type(&mut self, name: Atom, ty: Atom) {
        let atom = Atom::expr(vec![Atom::sym(":"), name, ty]);
        Arc::make_mut(&mut self.tries)
            .btm
            .set_val_at(atom.to_path(), ());
        self.mark_types_dirty();
        self.lineage.advance();
    }

    fn update_pathmap(&mut self, atoms: &PathMap<()>) {
        let tries = Arc::make_mut(&mut self.tries);
        tries.btm = trie::join(&tries.btm, atoms);
        self.mark_types_dirty();
        self.lineage.advance();
    }

    fn set_multiplicities(&mut self, counts: &HashMap<Atom, usize>) -> Result<(), Error> {
        let mut plan = Vec::new();
        for (atom, &requested) in counts {
            let rule = Rule::from_atom(atom).ok_or_else(|| Error::NotARule {
                atom: crate::error::shorten(atom.to_string()),
            })?;
            let current = self.multiplicity(atom);
            if requested < current {
                return Err(Error::MultiplicityDecrease {
                    atom: crate::error::shorten(atom.to_string()),
                    current,
                    requested,
                });
            }
            plan.push((Arc::new(rule), requested - current));
        }
        for (rule, missing) in plan {
            for _ in 0..missing {
                self.insert_instance(rule.clone(), RuleId::fresh());
            }
        }
        self.lineage.advance();
        Ok(())
    }

    fn rebuild_rule_index(&mut self) {
        let mut missing = Vec::new();
        trie::for_each_under(&self.tries.btm, &triple_prefix("="), |suffix, _| {
            let mut path = triple_prefix("=");
            path.extend_from_slice(suffix);
            if trie::count_under(&self.tries.multiplicities, &path) == 0 {
                if let Ok(atom) = Atom::from_path(&path) {
                    if let Some(rule) = Rule::from_atom(&atom) {
                        missing.push(rule);
                    }
                }
            }
        });
        for rule in missing {
            self.insert_instance(Arc::new(rule), RuleId::fresh());
        }
        self.lineage.advance();
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
        AtomSpace::new(self.tries.btm.clone())
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
        // |a ∪ b| = |a| + |b \ a|; the subtraction skips the shared base.
        let (mine, theirs) = (&self.tries, &other.tries);
        let rule_count = mine.rule_count
            + trie::count_missing(&theirs.rule_index, &mine.rule_index)
            + trie::count_missing(&theirs.wildcard_rules, &mine.wildcard_rules);
        Environment {
            tries: Arc::new(Tries {
                btm: trie::join(&mine.btm, &theirs.btm),
                rule_index: trie::join(&mine.rule_index, &theirs.rule_index),
                wildcard_rules: trie::join(&mine.wildcard_rules, &theirs.wildcard_rules),
                multiplicities: trie::join(&mine.multiplicities, &theirs.multiplicities),
                rule_count,
            }),
            pattern_cache: Arc::new(PatternCache::new(PATTERN_CACHE_CAPACITY)),
            type_index: Arc::new(OnceLock::new()),
            lineage,
        }
    }

    fn same_state(&self, other: &Self) -> bool {
        self.lineage.stamp() == other.lineage.stamp()
    }
}
