//! A small incremental engine: steps record what they read while they run, and after
//! inputs change only the steps whose inputs really changed run again.

use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::Error;
use crate::graph::DependencyGraph;
use crate::sync::{Mutex, Ordering, RwLock, StdAtomicU64};

/// The function that computes every derived (non-input) key.
type Compute<K, V> = dyn Fn(&K, &Step<'_, K, V>) -> Result<V, Error> + Send + Sync;

/// Fewer dependencies than this are checked on the calling thread: handing a couple of
/// memo lookups to rayon costs more than doing them.
const PARALLEL_FROM: usize = 8;

/// Fewer stale keys than this, found among keys that are otherwise current, are
/// brought up to date on the calling thread. After a small edit most of them are
/// unchanged after a lookup or two (their input sets only share a bit with the changed
/// key), and a rayon fan-out costs more than that, most of all on a busy machine.
const STALE_PARALLEL_FROM: usize = 32;

/// The multiply-rotate hash rustc and salsa use for their query maps (FxHash).
///
/// Checking an unchanged build is a few thousand memo lookups and nothing else, so the
/// hash is a large part of its cost; SipHash's resistance to chosen keys buys nothing
/// for keys the engine's own user writes.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type MemoMap<K, V> = HashMap<K, Arc<Memo<K, V>>, BuildHasherDefault<FxHasher>>;

/// Number of independently locked parts of the memo table. Every lookup takes a read
/// lock, which writes the lock's reader count; with one lock, two threads checking a
/// build bounce that cache line on every lookup and run slower than one.
const SHARDS: usize = 32;

/// One part of the memo table on its own cache lines.
#[repr(align(128))]
struct Shard<K, V>(RwLock<MemoMap<K, V>>);

fn shard_of<K: Hash>(key: &K) -> usize {
    let mut hasher = FxHasher::default();
    key.hash(&mut hasher);
    // The high bits: the map uses the low ones for its buckets.
    (hasher.finish() >> 58) as usize % SHARDS
}

/// Number of bits in an [`InputSet`].
const INPUT_BITS: usize = 256;

/// How many of the latest input changes a memo's [`InputSet`] is compared with before
/// the engine falls back to checking the memo's dependencies one by one.
const RECENT_CHANGES: usize = 16;

/// A lossy set of keys: bit `bit_of(k)` is set for every key `k` in the set. It may
/// hold keys that are not there (two keys share a bit), never lose one that is, so a
/// key whose bit is clear is certainly absent.
#[derive(Clone, Copy, Default)]
struct InputSet([u64; INPUT_BITS / 64]);

impl InputSet {
    fn of<K: Hash>(key: &K) -> Self {
        let mut set = InputSet::default();
        set.insert(bit_of(key));
        set
    }

    fn insert(&mut self, bit: u8) {
        self.0[usize::from(bit) / 64] |= 1 << (bit % 64);
    }

    fn contains(&self, bit: u8) -> bool {
        self.0[usize::from(bit) / 64] & (1 << (bit % 64)) != 0
    }

    fn union(mut self, other: InputSet) -> InputSet {
        for (word, add) in self.0.iter_mut().zip(other.0) {
            *word |= add;
        }
        self
    }
}

fn bit_of<K: Hash>(key: &K) -> u8 {
    let mut hasher = FxHasher::default();
    key.hash(&mut hasher);
    // The top bits, which the multiply of the last word mixes best.
    ((hasher.finish() >> 56) as usize % INPUT_BITS) as u8
}

/// What the engine knows about one key.
struct Memo<K, V> {
    value: Result<V, Error>,
    /// The keys this step read in its last run, in the order it asked for them
    /// (possibly repeated). Empty for inputs. This is the buffered log of the engine:
    /// collected by the step while it runs and published with the memo when it ends.
    deps: Vec<K>,
    /// The revision in which `value` last became different from the previous value.
    /// Invariant: `changed_at <= verified_at`.
    changed_at: u64,
    /// The latest revision at which `value` is known to be current. `u64::MAX` for
    /// inputs, which are current by definition until `set_input` replaces them.
    verified_at: StdAtomicU64,
    /// Every key this value may depend on, transitively, the key itself included: its
    /// own bit, and the union of its dependencies' sets as of its last run or check.
    /// It only grows (a check widens it before raising `verified_at`), so a reader
    /// that sees a `verified_at` also sees at least the set that went with it.
    /// Invariant: if no key of this set changed after `verified_at`, the value is
    /// current, which lets a check skip the memo's whole dependency walk.
    inputs: [StdAtomicU64; INPUT_BITS / 64],
}

impl<K, V> Memo<K, V> {
    fn new(
        value: Result<V, Error>,
        deps: Vec<K>,
        changed_at: u64,
        verified_at: u64,
        inputs: InputSet,
    ) -> Self {
        Memo {
            value,
            deps,
            changed_at,
            verified_at: StdAtomicU64::new(verified_at),
            inputs: inputs.0.map(StdAtomicU64::new),
        }
    }

    fn inputs(&self) -> InputSet {
        InputSet(std::array::from_fn(|i| {
            self.inputs[i].load(Ordering::Relaxed)
        }))
    }

    /// Adds `more` to the set; call before raising `verified_at` (Release) so that
    /// readers who see the new revision see the wider set.
    fn widen(&self, more: InputSet) {
        for (word, add) in self.inputs.iter().zip(more.0) {
            if add != 0 {
                word.fetch_or(add, Ordering::Relaxed);
            }
        }
    }
}

/// An incremental computation over keys `K` producing values `V`.
///
/// Inputs are set with [`set_input`](Self::set_input); every other key is computed by
/// the step function given to [`new`](Self::new), which reads other keys through
/// [`Step::get`]. The engine remembers each step's result and what it read. After an
/// input changes, asking for a key re-checks its recorded dependencies, deepest first,
/// and re-runs a step only when one of them changed; a re-run whose result equals the
/// previous one leaves the step's `changed_at` alone, so its dependents are not re-run
/// (early cutoff). A memo none of whose possible inputs changed since its last check is
/// current without that walk (each memo keeps a small lossy set of the keys it depends
/// on), so a small edit costs about one lookup per step that read something, not a walk
/// of the whole graph. Stale dependencies of one step are checked in parallel (rayon),
/// and [`Step::get_all`] fetches independent keys in parallel, when there are enough
/// of them to be worth a fan-out.
///
/// Step functions must be deterministic functions of what they read: two threads may
/// race to compute the same key (the engine does not block one on the other, which
/// inside rayon could deadlock), and both results are equal. A panicking step becomes
/// [`Error::StepPanicked`] for that step and for the steps that propagate its error;
/// the engine stays usable.
pub struct Engine<K, V> {
    compute: Box<Compute<K, V>>,
    /// Invariant: a key's memo lives in shard `shard_of(key)` only.
    memos: Box<[Shard<K, V>]>,
    /// Bumped by every `set_input` that changes a value; only `&mut self` changes it,
    /// so it is fixed while any `get` runs.
    revision: u64,
    /// `(revision, bit_of(key))` of the latest input changes, oldest first, so a check
    /// can tell whether any key of a memo's [`InputSet`] changed since it was verified.
    /// Only `&mut self` changes it. Trimmed, but never below `RECENT_CHANGES + 1`
    /// entries once it has been trimmed.
    changes: Vec<(u64, u8)>,
    parallel: bool,
    executions: StdAtomicU64,
}

impl<K, V> Debug for Engine<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("revision", &self.revision)
            .field("parallel", &self.parallel)
            .field("executions", &self.executions.load(Ordering::Relaxed))
            .finish()
    }
}

/// The chain of steps that led to the current one, to detect cycles across threads.
struct Chain<'a, K> {
    key: &'a K,
    parent: Option<&'a Chain<'a, K>>,
}

impl<K: Eq + Debug> Chain<'_, K> {
    /// The cycle closed by asking for `key` from this chain, if `key` is on it.
    fn cycle_to(&self, key: &K) -> Option<Vec<String>> {
        let mut path = Vec::new();
        let mut link = Some(self);
        while let Some(chain) = link {
            path.push(chain.key);
            if chain.key == key {
                path.reverse();
                let mut names: Vec<String> = path.iter().map(|k| format!("{k:?}")).collect();
                names.push(format!("{key:?}"));
                return Some(names);
            }
            link = chain.parent;
        }
        None
    }
}

/// The handle a step function gets: its key, and access to other keys.
pub struct Step<'a, K, V> {
    engine: &'a Engine<K, V>,
    chain: &'a Chain<'a, K>,
    /// What this step read so far and the union of their input sets; becomes the
    /// memo's `deps` and `inputs` when the step ends.
    deps: Mutex<(Vec<K>, InputSet)>,
}

impl<K, V> Debug for Step<'_, K, V>
where
    K: Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step").field("key", self.chain.key).finish()
    }
}

impl<K, V> Step<'_, K, V>
where
    K: Clone + Eq + Hash + Debug + Send + Sync,
    V: Clone + PartialEq + Send + Sync,
{
    /// The key this step computes.
    pub fn key(&self) -> &K {
        self.chain.key
    }

    /// The value of `key`, recording that this step needs it. An error of `key` (a
    /// failure, a panic, a cycle) comes back as `Err`; propagate it with `?`.
    pub fn get(&self, key: &K) -> Result<V, Error> {
        let (value, inputs) = self.engine.fetch_tracked(key, Some(self.chain));
        let mut deps = self.deps.lock();
        deps.0.push(key.clone());
        deps.1 = deps.1.union(inputs);
        value
    }

    /// The values of `keys`, fetched in parallel when the engine is parallel.
    pub fn get_all(&self, keys: &[K]) -> Vec<Result<V, Error>> {
        let fetched = self.engine.fetch_many(keys, Some(self.chain));
        let mut deps = self.deps.lock();
        deps.0.extend(keys.iter().cloned());
        let mut values = Vec::with_capacity(fetched.len());
        for (value, inputs) in fetched {
            deps.1 = deps.1.union(inputs);
            values.push(value);
        }
        values
    }

    /// An error saying this step failed because of `message`.
    pub fn fail(&self, message: impl Into<String>) -> Error {
        Error::StepFailed {
            step: format!("{:?}", self.chain.key),
            message: message.into(),
        }
    }
}

impl<K, V> Engine<K, V>
where
    K: Clone + Eq + Hash + Debug + Send + Sync,
    V: Clone + PartialEq + Send + Sync,
{
    /// An engine computing every non-input key with `compute`.
    pub fn new<F>(compute: F) -> Self
    where
        F: Fn(&K, &Step<'_, K, V>) -> Result<V, Error> + Send + Sync + 'static,
    {
        Engine {
            compute: Box::new(compute),
            memos: (0..SHARDS)
                .map(|_| Shard(RwLock::new(MemoMap::default())))
                .collect(),
            revision: 0,
            changes: Vec::new(),
            parallel: true,
            executions: StdAtomicU64::new(0),
        }
    }

    /// Whether to check dependencies and run [`Step::get_all`] in parallel (the
    /// default). Sequential mode never runs a step twice in one revision, which makes
    /// [`executions`](Self::executions) exact.
    pub fn set_parallel(&mut self, parallel: bool) {
        self.parallel = parallel;
    }

    /// Sets input `key` to `value`. Returns whether it changed (a new revision starts
    /// only then).
    pub fn set_input(&mut self, key: K, value: V) -> bool {
        let memos = self.memos[shard_of(&key)].0.get_mut();
        if let Some(old) = memos.get(&key) {
            if old.deps.is_empty() && old.verified_at.load(Ordering::Relaxed) == u64::MAX {
                if let Ok(old_value) = &old.value {
                    if *old_value == value {
                        return false;
                    }
                }
            }
        }
        self.revision += 1;
        let bit = bit_of(&key);
        let memo = Memo::new(
            Ok(value),
            Vec::new(),
            self.revision,
            u64::MAX,
            InputSet::of(&key),
        );
        memos.insert(key, Arc::new(memo));
        if self.changes.len() >= 4 * (RECENT_CHANGES + 1) {
            self.changes.drain(..2 * (RECENT_CHANGES + 1));
        }
        self.changes.push((self.revision, bit));
        true
    }

    /// The current value of `key`, computing or re-checking what it needs.
    pub fn get(&self, key: &K) -> Result<V, Error> {
        self.fetch(key, None)
    }

    /// The current values of `keys`, computed in parallel when the engine is parallel.
    pub fn get_all(&self, keys: &[K]) -> Vec<Result<V, Error>> {
        self.fetch_many(keys, None)
            .into_iter()
            .map(|(value, _)| value)
            .collect()
    }

    /// How many times a step function has run, over the engine's life.
    pub fn executions(&self) -> u64 {
        self.executions.load(Ordering::Relaxed)
    }

    /// The current revision: the number of `set_input` calls that changed a value.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The dependencies recorded by the last run of every step: an edge `a -> b` for
    /// each key `b` that step `a` read. Steps are added in the order of their keys'
    /// `Debug` form, so the graph (and its DOT export) is the same from run to run.
    pub fn graph(&self) -> DependencyGraph<K> {
        let mut entries = Vec::new();
        for shard in self.memos.iter() {
            let memos = shard.0.read();
            entries.extend(
                memos
                    .iter()
                    .map(|(k, m)| (format!("{k:?}"), k.clone(), Arc::clone(m))),
            );
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut graph = DependencyGraph::new();
        for (_, key, memo) in entries {
            graph.add_node(key.clone());
            for dep in &memo.deps {
                graph.add_edge(key.clone(), dep.clone());
            }
        }
        graph
    }

    /// The steps that changing `changed` may make re-run: everything that transitively
    /// read one of them in its last run. With early cutoff fewer may actually run.
    pub fn invalidated_by(&self, changed: &[K]) -> Vec<K> {
        self.graph().invalidated(changed)
    }

    /// The value of `key` and its input set, for a step that records reading it.
    fn fetch_tracked(&self, key: &K, chain: Option<&Chain<'_, K>>) -> (Result<V, Error>, InputSet) {
        match self.lookup(key, |memo| (memo.value.clone(), memo.inputs())) {
            Ok(found) => found,
            Err(existing) => match self.refresh(key, chain, existing) {
                Ok(memo) => (memo.value.clone(), memo.inputs()),
                // A cycle error stores no memo; the key itself is all the reader depends on.
                Err(error) => (Err(error), InputSet::of(key)),
            },
        }
    }

    /// The values of `keys` with their input sets, in order. Keys already current are
    /// read on the calling thread; the others are brought up to date in parallel when
    /// the engine is parallel and there are enough of them. After a small change most
    /// keys are current, and a parallel fan-out over lookups of a few tens of
    /// nanoseconds costs more than the lookups.
    fn fetch_many(
        &self,
        keys: &[K],
        chain: Option<&Chain<'_, K>>,
    ) -> Vec<(Result<V, Error>, InputSet)> {
        if !self.parallel || keys.len() < 2 {
            return keys.iter().map(|k| self.fetch_tracked(k, chain)).collect();
        }
        let mut found: Vec<Option<(Result<V, Error>, InputSet)>> = Vec::with_capacity(keys.len());
        let mut stale = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            if mostly_stale(stale.len(), i) {
                stale.extend(i..keys.len());
                found.resize_with(keys.len(), || None);
                break;
            }
            match self.lookup(key, |memo| (memo.value.clone(), memo.inputs())) {
                Ok(current) => found.push(Some(current)),
                Err(_) => {
                    found.push(None);
                    stale.push(i);
                }
            }
        }
        let fetch = |&i: &usize| (i, self.fetch_tracked(&keys[i], chain));
        let fetched: Vec<_> = if stale.len() > 1 && worth_a_fan_out(stale.len(), keys.len()) {
            stale.par_iter().map(fetch).collect()
        } else {
            stale.iter().map(fetch).collect()
        };
        for (i, result) in fetched {
            found[i] = Some(result);
        }
        // Every slot is filled: a current key above, a stale one just now.
        found.into_iter().flatten().collect()
    }

    /// The union of the input sets of `deps` if none of them changed after revision
    /// `verified_at`, bringing them up to date; `None` if one did (or is part of a cycle
    /// through `link`). Like [`fetch_many`](Self::fetch_many), only the dependencies
    /// that are not already current are checked in parallel.
    fn unchanged_since(
        &self,
        deps: &[K],
        verified_at: u64,
        link: &Chain<'_, K>,
    ) -> Option<InputSet> {
        // `Some(its input set)` for a dependency that did not change.
        let unchanged = |dep: &K| match self.changed_at(dep, Some(link)) {
            Some((at, inputs)) if at <= verified_at => Some(inputs),
            _ => None,
        };
        if !self.parallel || deps.len() < PARALLEL_FROM {
            return deps.iter().try_fold(InputSet::default(), |acc, dep| {
                unchanged(dep).map(|i| acc.union(i))
            });
        }
        let mut inputs = InputSet::default();
        let mut stale: Vec<&K> = Vec::new();
        for (i, dep) in deps.iter().enumerate() {
            if mostly_stale(stale.len(), i) {
                stale.extend(&deps[i..]);
                break;
            }
            match self.lookup(dep, |memo| (memo.changed_at, memo.inputs())) {
                Ok((at, _)) if at > verified_at => return None,
                Ok((_, more)) => inputs = inputs.union(more),
                Err(_) => stale.push(dep),
            }
        }
        let rest = if stale.len() >= PARALLEL_FROM && worth_a_fan_out(stale.len(), deps.len()) {
            stale
                .par_iter()
                .map(|dep| unchanged(dep))
                .try_reduce(InputSet::default, |a, b| Some(a.union(b)))
        } else {
            stale.iter().try_fold(InputSet::default(), |acc, dep| {
                unchanged(dep).map(|i| acc.union(i))
            })
        };
        rest.map(|more| inputs.union(more))
    }

    /// Whether `memo` is known to be current in this revision without looking at its
    /// dependencies: verified in it, or none of its possible inputs changed since it
    /// was last verified (checked against the latest `RECENT_CHANGES` changes only).
    fn is_current(&self, memo: &Memo<K, V>) -> bool {
        let verified_at = memo.verified_at.load(Ordering::Acquire);
        if verified_at >= self.revision {
            return true;
        }
        let inputs = memo.inputs();
        for (seen, &(revision, bit)) in self.changes.iter().rev().enumerate() {
            if revision <= verified_at {
                return true;
            }
            if seen >= RECENT_CHANGES || inputs.contains(bit) {
                return false;
            }
        }
        // The whole log was scanned, so it was never trimmed: it holds every change.
        true
    }

    fn fetch(&self, key: &K, chain: Option<&Chain<'_, K>>) -> Result<V, Error> {
        match self.lookup(key, |memo| memo.value.clone()) {
            Ok(value) => value,
            Err(existing) => self.refresh(key, chain, existing)?.value.clone(),
        }
    }

    /// The revision at which `key` last changed, bringing it up to date first; `None`
    /// when it cannot be brought up to date from here (a cycle through `chain`).
    /// Also returns the key's input set, which a check of a dependent adds to its own.
    fn changed_at(&self, key: &K, chain: Option<&Chain<'_, K>>) -> Option<(u64, InputSet)> {
        match self.lookup(key, |memo| (memo.changed_at, memo.inputs())) {
            Ok(found) => Some(found),
            Err(existing) => self
                .refresh(key, chain, existing)
                .ok()
                .map(|memo| (memo.changed_at, memo.inputs())),
        }
    }

    /// `Ok(read(memo))` when `key` is already current in this revision, read under the
    /// map's lock without cloning the memo (the common case of every check after the
    /// first); otherwise `Err` with the stale memo, if any, for [`refresh`](Self::refresh).
    /// One map lookup either way.
    ///
    /// No cycle check here: a key on the asking chain is still being checked or run, so
    /// its memo is not current yet, unless another thread finished it meanwhile, and then
    /// its finished result is the right answer.
    fn lookup<R>(
        &self,
        key: &K,
        read: impl FnOnce(&Memo<K, V>) -> R,
    ) -> Result<R, Option<Arc<Memo<K, V>>>> {
        let memos = self.memos[shard_of(key)].0.read();
        match memos.get(key) {
            Some(memo) if self.is_current(memo) => Ok(read(memo)),
            stale => Err(stale.cloned()),
        }
    }

    /// Brings `key`, whose memo was `existing` and not current, up to date in this
    /// revision and returns its memo. `Err` only for errors that depend on who asked (a
    /// cycle through the asking chain), which are therefore never stored.
    fn refresh(
        &self,
        key: &K,
        chain: Option<&Chain<'_, K>>,
        existing: Option<Arc<Memo<K, V>>>,
    ) -> Result<Arc<Memo<K, V>>, Error> {
        if let Some(cycle) = chain.and_then(|c| c.cycle_to(key)) {
            return Err(Error::Cycle { cycle });
        }
        let revision = self.revision;
        if let Some(memo) = &existing {
            let verified_at = memo.verified_at.load(Ordering::Acquire);
            if self.is_current(memo) {
                return Ok(Arc::clone(memo));
            }
            let link = Chain { key, parent: chain };
            let all_unchanged = self.unchanged_since(&memo.deps, verified_at, &link);
            if let Some(inputs) = all_unchanged {
                // The dependencies may read other keys now than when this memo was
                // computed; its set must cover them before it counts as verified.
                memo.widen(inputs);
                memo.verified_at.fetch_max(revision, Ordering::AcqRel);
                return Ok(Arc::clone(memo));
            }
        }
        Ok(self.execute(key, chain, existing.as_deref()))
    }

    fn execute(
        &self,
        key: &K,
        chain: Option<&Chain<'_, K>>,
        old: Option<&Memo<K, V>>,
    ) -> Arc<Memo<K, V>> {
        let link = Chain { key, parent: chain };
        let step = Step {
            engine: self,
            chain: &link,
            deps: Mutex::new((Vec::new(), InputSet::of(key))),
        };
        self.executions.fetch_add(1, Ordering::Relaxed);
        let value = match catch_unwind(AssertUnwindSafe(|| (self.compute)(key, &step))) {
            Ok(value) => value,
            Err(payload) => Err(Error::StepPanicked {
                step: format!("{key:?}"),
                message: panic_message(payload.as_ref()),
            }),
        };
        let (deps, inputs) = std::mem::take(&mut *step.deps.lock());
        let changed_at = match old {
            Some(old) if old.value == value => old.changed_at,
            _ => self.revision,
        };
        let memo = Arc::new(Memo::new(value, deps, changed_at, self.revision, inputs));
        self.memos[shard_of(key)]
            .0
            .write()
            .insert(key.clone(), Arc::clone(&memo));
        memo
    }
}

/// Whether a scan that found `stale` keys needing work among the first `seen` should
/// stop looking one by one and hand the rest to rayon: a from-scratch build finds every
/// key stale and loses only the first few lookups to this test.
fn mostly_stale(stale: usize, seen: usize) -> bool {
    stale >= PARALLEL_FROM && stale * 4 > seen
}

/// Whether `stale` keys out of `total` should be brought up to date in parallel: when
/// they are most of the keys (a build, not a check), or many in absolute terms.
fn worth_a_fan_out(stale: usize, total: usize) -> bool {
    stale * 4 > total || stale >= STALE_PARALLEL_FROM
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
