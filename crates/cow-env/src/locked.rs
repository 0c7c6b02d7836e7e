//! The seed's design: seven fields, each behind its own lock, deep-copied on the first
//! write after a clone. Kept as real, tested types (`MutexEnvironment` is the seed's
//! "before", `RwLockEnvironment` its "after") so that the benchmarks measure them beside
//! the copy-on-write [`crate::Environment`].
//!
//! Two of the seed's defects are fixed here too, because they are correctness bugs, not
//! design choices: both handles lose exclusive ownership on clone (the seed's parent kept
//! writing into the snapshot), and `union` merges by instance id (the seed's plan summed
//! the shared base twice).

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;

use crate::cache::RuleList;
use crate::environment::{build_type_index, is_type_assertion, types_in, PATTERN_CACHE_CAPACITY};
use crate::lineage::Lineage;
use crate::rule::RuleId;
use crate::sync::{FieldLock, LockKind, MutexKind, RwLockKind};
use crate::trie::private::TrieMap;
use crate::trie::Trie;
use crate::{trie, Atom, AtomSpace, Error, Rule, RuleEnvironment, RuleKey};

type Instances = Vec<(RuleId, Arc<Rule>)>;
type Field<L, T> = Arc<<L as LockKind>::Lock<T>>;

/// The instance ids of one atom, each list sorted.
#[derive(Debug, Clone, Default)]
pub(crate) struct AtomIds {
    live: Vec<RuleId>,
    removed: Vec<RuleId>,
}

/// An environment with one lock per field, generic over the lock family.
pub struct LockedEnvironment<L: LockKind = RwLockKind> {
    /// Every atom with a live instance, keyed by [`Atom::encode`].
    btm: Field<L, Trie<()>>,
    /// Live rule instances by key, each list sorted by id (ids grow, so appending keeps
    /// it sorted).
    rule_index: Field<L, HashMap<RuleKey, Instances>>,
    /// Live rule instances without a symbol head, sorted by id.
    wildcard_rules: Field<L, Instances>,
    /// The live and removed instance ids of every atom ever added. The other fields are
    /// functions of this one.
    multiplicities: Field<L, HashMap<Atom, AtomIds>>,
    /// Query key to matching rules; `lru::LruCache` as in the seed.
    pattern_cache: Field<L, LruCache<Vec<u8>, RuleList>>,
    /// `encode(name) ++ encode(type)` of every type assertion, once built.
    type_index: Field<L, Option<Trie<()>>>,
    /// Whether `type_index` is stale.
    type_index_dirty: Field<L, bool>,
    /// Version stamp and recent ancestry, for `union`'s fast paths.
    lineage: Lineage,
}

/// The seed's "before": a mutex per field.
pub type MutexEnvironment = LockedEnvironment<MutexKind>;

/// The seed's "after": a reader-writer lock per field, with cache hits under the read
/// lock.
pub type RwLockEnvironment = LockedEnvironment<RwLockKind>;

impl<L: LockKind> Clone for LockedEnvironment<L> {
    fn clone(&self) -> Self {
        LockedEnvironment {
            btm: self.btm.clone(),
            rule_index: self.rule_index.clone(),
            wildcard_rules: self.wildcard_rules.clone(),
            multiplicities: self.multiplicities.clone(),
            pattern_cache: self.pattern_cache.clone(),
            type_index: self.type_index.clone(),
            type_index_dirty: self.type_index_dirty.clone(),
            lineage: self.lineage.clone(),
        }
    }
}

impl<L: LockKind> std::fmt::Debug for LockedEnvironment<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockedEnvironment")
            .field("lock", &L::NAME)
            .field("rules", &self.get_rule_count())
            .finish_non_exhaustive()
    }
}

impl<L: LockKind> Default for LockedEnvironment<L> {
    fn default() -> Self {
        Self::empty()
    }
}

fn new_cache() -> LruCache<Vec<u8>, RuleList> {
    LruCache::new(NonZeroUsize::new(PATTERN_CACHE_CAPACITY).unwrap_or(NonZeroUsize::MIN))
}

fn field<L: LockKind, T: Send + Sync + Clone>(value: T) -> Field<L, T> {
    Arc::new(<L::Lock<T> as FieldLock<T>>::new(value))
}

/// The value of a field this handle owns, copying it first when it is shared
/// (`Arc::make_mut`: the copy takes the source's lock to read it).
fn owned<L: LockKind, T: Send + Sync + Clone>(f: &mut Field<L, T>) -> &mut T {
    Arc::make_mut(f).get_mut()
}

/// The sorted union of two sorted id lists.
fn merge_ids(a: &[RuleId], b: &[RuleId]) -> Vec<RuleId> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

impl<L: LockKind> LockedEnvironment<L> {
    /// The seed's `make_owned`: on the first write after a clone, every field that is
    /// still shared is deep-copied (all seven right after a clone).
    fn make_owned(&mut self) {
        owned::<L, _>(&mut self.btm);
        owned::<L, _>(&mut self.rule_index);
        owned::<L, _>(&mut self.wildcard_rules);
        owned::<L, _>(&mut self.multiplicities);
        owned::<L, _>(&mut self.pattern_cache);
        owned::<L, _>(&mut self.type_index);
        owned::<L, _>(&mut self.type_index_dirty);
    }

    fn invalidate_rule(&mut self, rule: &Rule) {
        let cache = owned::<L, _>(&mut self.pattern_cache);
        match rule.key() {
            Some(key) => {
                cache.pop(&key.to_path());
                cache.pop(&[0u8][..]);
            }
            None => cache.clear(),
        }
    }

    /// Adds one instance of `atom` (the caller has called `make_owned`).
    fn insert(&mut self, atom: Atom, rule: Option<Arc<Rule>>) {
        let id = RuleId::fresh();
        owned::<L, _>(&mut self.btm).set_val(&atom.to_path(), ());
        if is_type_assertion(&atom) {
            *owned::<L, _>(&mut self.type_index_dirty) = true;
        }
        owned::<L, _>(&mut self.multiplicities)
            .entry(atom)
            .or_default()
            .live
            .push(id);
        if let Some(rule) = rule {
            self.invalidate_rule(&rule);
            match rule.key() {
                Some(key) => owned::<L, _>(&mut self.rule_index)
                    .entry(key)
                    .or_default()
                    .push((id, rule)),
                None => owned::<L, _>(&mut self.wildcard_rules).push((id, rule)),
            }
        }
    }

    /// Removes the live instances of `atom` from the `keep`-th on (the caller has called
    /// `make_owned`); returns how many were removed.
    fn kill_from(&mut self, atom: &Atom, keep: usize) -> usize {
        let Some(ids) = owned::<L, _>(&mut self.multiplicities).get_mut(atom) else {
            return 0;
        };
        if ids.live.len() <= keep {
            return 0;
        }
        let gone = ids.live.split_off(keep);
        ids.removed = merge_ids(&ids.removed, &gone);
        let now_dead = ids.live.is_empty();
        if now_dead {
            owned::<L, _>(&mut self.btm).remove_val(&atom.to_path());
        }
        if is_type_assertion(atom) {
            *owned::<L, _>(&mut self.type_index_dirty) = true;
        }
        if let Some(rule) = Rule::from_atom(atom) {
            self.invalidate_rule(&rule);
            let list = match rule.key() {
                Some(key) => owned::<L, _>(&mut self.rule_index).get_mut(&key),
                None => Some(owned::<L, _>(&mut self.wildcard_rules)),
            };
            if let Some(list) = list {
                list.retain(|(id, _)| gone.binary_search(id).is_err());
            }
        }
        gone.len()
    }

    /// Builds the derived fields from the instance ids.
    fn derived(
        multiplicities: &HashMap<Atom, AtomIds>,
    ) -> (Trie<()>, HashMap<RuleKey, Instances>, Instances) {
        let mut btm: Trie<()> = trie::fresh();
        let mut index: HashMap<RuleKey, Instances> = HashMap::new();
        let mut wildcard = Instances::new();
        for (atom, ids) in multiplicities {
            if ids.live.is_empty() {
                continue;
            }
            btm.set_val(&atom.to_path(), ());
            if let Some(rule) = Rule::from_atom(atom) {
                let rule = Arc::new(rule);
                let list = match rule.key() {
                    Some(key) => index.entry(key).or_default(),
                    None => &mut wildcard,
                };
                list.extend(ids.live.iter().map(|&id| (id, rule.clone())));
            }
        }
        for list in index.values_mut() {
            list.sort_by_key(|(id, _)| *id);
        }
        wildcard.sort_by_key(|(id, _)| *id);
        (btm, index, wildcard)
    }

    /// The lock family's name (`mutex` or `rwlock`).
    pub fn lock_name(&self) -> &'static str {
        L::NAME
    }
}

impl<L: LockKind> RuleEnvironment for LockedEnvironment<L> {
    fn empty() -> Self {
        LockedEnvironment {
            btm: field::<L, _>(trie::fresh()),
            rule_index: field::<L, _>(HashMap::new()),
            wildcard_rules: field::<L, _>(Vec::new()),
            multiplicities: field::<L, _>(HashMap::new()),
            pattern_cache: field::<L, _>(new_cache()),
            type_index: field::<L, _>(None),
            type_index_dirty: field::<L, _>(true),
            lineage: Lineage::new(),
        }
    }

    fn add_rule(&mut self, rule: Rule) {
        self.make_owned();
        self.insert(rule.to_atom(), Some(Arc::new(rule)));
        self.lineage.advance();
    }

    fn add_rules_bulk(&mut self, rules: impl IntoIterator<Item = Rule>) {
        self.make_owned();
        for rule in rules {
            self.insert(rule.to_atom(), Some(Arc::new(rule)));
        }
        self.lineage.advance();
    }

    fn add_facts_bulk(&mut self, facts: impl IntoIterator<Item = Atom>) {
        self.make_owned();
        for fact in facts {
            let rule = Rule::from_atom(&fact).map(Arc::new);
            self.insert(fact, rule);
        }
        self.lineage.advance();
    }

    fn add_type(&mut self, name: Atom, ty: Atom) {
        self.make_owned();
        self.insert(Atom::expr(vec![Atom::sym(":"), name, ty]), None);
        self.lineage.advance();
    }

    fn update_pathmap(&mut self, atoms: &AtomSpace) {
        self.make_owned();
        let btm = owned::<L, _>(&mut self.btm).clone();
        let missing: Vec<Atom> = atoms
            .atoms()
            .into_iter()
            .filter(|atom| btm.get_val(&atom.to_path()).is_none())
            .collect();
        for atom in missing {
            let rule = Rule::from_atom(&atom).map(Arc::new);
            self.insert(atom, rule);
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
        self.make_owned();
        for (atom, rule, requested) in plan {
            let current = self
                .multiplicities
                .read_with(|m| m.get(atom).map_or(0, |ids| ids.live.len()));
            if requested >= current {
                for _ in current..requested {
                    self.insert(atom.clone(), Some(rule.clone()));
                }
            } else {
                self.kill_from(atom, requested);
            }
        }
        self.lineage.advance();
        Ok(())
    }

    fn rebuild_rule_index(&mut self) {
        self.make_owned();
        let (_, index, wildcard) = Self::derived(owned::<L, _>(&mut self.multiplicities));
        *owned::<L, _>(&mut self.rule_index) = index;
        *owned::<L, _>(&mut self.wildcard_rules) = wildcard;
        owned::<L, _>(&mut self.pattern_cache).clear();
        self.lineage.advance();
    }

    fn remove_atom(&mut self, atom: &Atom) -> usize {
        let live = self
            .multiplicities
            .read_with(|m| m.get(atom).map_or(0, |ids| ids.live.len()));
        if live == 0 {
            return 0;
        }
        self.make_owned();
        let removed = self.kill_from(atom, 0);
        self.lineage.advance();
        removed
    }

    fn get_matching_rules(&self, query: &Atom) -> RuleList {
        let key = RuleKey::of(query);
        let cache_key = key
            .as_ref()
            .map(RuleKey::to_path)
            .unwrap_or_else(|| vec![0]);
        let hit = if L::SHARED_READS {
            // `peek` does not refresh recency, so a hit needs only the shared mode.
            self.pattern_cache
                .read_with(|c| c.peek(&cache_key).cloned())
        } else {
            self.pattern_cache
                .write_with(|c| c.get(&cache_key).cloned())
        };
        if let Some(hit) = hit {
            return hit;
        }
        let mut rules: Vec<Arc<Rule>> = self.rule_index.read_with(|index| match &key {
            Some(key) => index
                .get(key)
                .map(|list| list.iter().map(|(_, r)| r.clone()).collect())
                .unwrap_or_default(),
            None => {
                // Key order then id order, as the copy-on-write trie iterates.
                let mut all: Vec<(Vec<u8>, RuleId, Arc<Rule>)> = index
                    .iter()
                    .flat_map(|(k, list)| {
                        let path = k.to_path();
                        list.iter()
                            .map(move |(id, r)| (path.clone(), *id, r.clone()))
                    })
                    .collect();
                all.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
                all.into_iter().map(|(_, _, r)| r).collect()
            }
        });
        self.wildcard_rules
            .read_with(|w| rules.extend(w.iter().map(|(_, r)| r.clone())));
        let list: RuleList = Arc::from(rules);
        self.pattern_cache
            .write_with(|c| c.put(cache_key, list.clone()));
        list
    }

    fn get_rule_count(&self) -> usize {
        let indexed = self
            .rule_index
            .read_with(|index| index.values().map(Vec::len).sum::<usize>());
        indexed + self.wildcard_rules.read_with(Vec::len)
    }

    fn get_type(&self, name: &Atom) -> Vec<Atom> {
        self.ensure_type_index();
        self.type_index.read_with(|index| {
            index
                .as_ref()
                .map(|i| types_in(i, name))
                .unwrap_or_default()
        })
    }

    fn get_multiplicities(&self) -> HashMap<Atom, usize> {
        self.multiplicities.read_with(|m| {
            m.iter()
                .filter(|(atom, ids)| !ids.live.is_empty() && Rule::from_atom(atom).is_some())
                .map(|(atom, ids)| (atom.clone(), ids.live.len()))
                .collect()
        })
    }

    fn create_space(&self) -> AtomSpace {
        AtomSpace::new(trie::Atoms::Native(self.btm.read_with(Trie::clone)))
    }

    fn ensure_type_index(&self) {
        // Lock order: type_index_dirty, then btm, then type_index; never two at once
        // except in that order. Two readers may both rebuild; the results are equal.
        if !self.type_index_dirty.read_with(|d| *d) {
            return;
        }
        let built = self.btm.read_with(build_type_index);
        self.type_index.write_with(|t| *t = Some(built));
        self.type_index_dirty.write_with(|d| *d = false);
    }

    fn union(&self, other: &Self) -> Self {
        if self.lineage.contains_state_of(&other.lineage) {
            return self.clone();
        }
        if other.lineage.contains_state_of(&self.lineage) {
            return other.clone();
        }
        // One lock at a time: snapshot each side's instances, then merge without locks.
        let mut merged = self.multiplicities.read_with(HashMap::clone);
        other.multiplicities.read_with(|theirs| {
            for (atom, ids) in theirs {
                let entry = merged.entry(atom.clone()).or_default();
                let removed = merge_ids(&entry.removed, &ids.removed);
                let mut live = merge_ids(&entry.live, &ids.live);
                live.retain(|id| removed.binary_search(id).is_err());
                *entry = AtomIds { live, removed };
            }
        });
        // Instances this side has live but the other removed.
        for ids in merged.values_mut() {
            if !ids.removed.is_empty() {
                let removed = ids.removed.clone();
                ids.live.retain(|id| removed.binary_search(id).is_err());
            }
        }
        let (btm, index, wildcard) = Self::derived(&merged);
        let mut lineage = self.lineage.clone();
        lineage.advance();
        LockedEnvironment {
            btm: field::<L, _>(btm),
            rule_index: field::<L, _>(index),
            wildcard_rules: field::<L, _>(wildcard),
            multiplicities: field::<L, _>(merged),
            pattern_cache: field::<L, _>(new_cache()),
            type_index: field::<L, _>(None),
            type_index_dirty: field::<L, _>(true),
            lineage,
        }
    }

    fn same_state(&self, other: &Self) -> bool {
        self.lineage.stamp() == other.lineage.stamp()
    }
}
