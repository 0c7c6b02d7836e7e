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
}

/// An incremental computation over keys `K` producing values `V`.
///
/// Inputs are set with [`set_input`](Self::set_input); every other key is computed by
/// the step function given to [`new`](Self::new), which reads other keys through
/// [`Step::get`]. The engine remembers each step's result and what it read. After an
/// input changes, asking for a key re-checks its recorded dependencies, deepest first,
/// and re-runs a step only when one of them changed; a re-run whose result equals the
/// previous one leaves the step's `changed_at` alone, so its dependents are not re-run
/// (early cutoff). Dependencies of one step are checked in parallel (rayon), and
/// [`Step::get_all`] fetches independent keys in parallel.
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
    /// What this step read so far; becomes the memo's `deps` when the step ends.
    deps: Mutex<Vec<K>>,
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
        self.deps.lock().push(key.clone());
        self.engine.fetch(key, Some(self.chain))
    }

    /// The values of `keys`, fetched in parallel when the engine is parallel.
    pub fn get_all(&self, keys: &[K]) -> Vec<Result<V, Error>> {
        self.deps.lock().extend(keys.iter().cloned());
        if self.engine.parallel && keys.len() > 1 {
            keys.par_iter()
                .map(|k| self.engine.fetch(k, Some(self.chain)))
                .collect()
        } else {
            keys.iter()
                .map(|k| self.engine.fetch(k, Some(self.chain)))
                .collect()
        }
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
        let memo = Memo {
            value: Ok(value),
            deps: Vec::new(),
            changed_at: self.revision,
            verified_at: StdAtomicU64::new(u64::MAX),
        };
        memos.insert(key, Arc::new(memo));
        true
    }

    /// The current value of `key`, computing or re-checking what it needs.
    pub fn get(&self, key: &K) -> Result<V, Error> {
        self.fetch(key, None)
    }

    /// The current values of `keys`, computed in parallel when the engine is parallel.
    pub fn get_all(&self, keys: &[K]) -> Vec<Result<V, Error>> {
        if self.parallel {
            keys.par_iter().map(|k| self.fetch(k, None)).collect()
        } else {
            keys.iter().map(|k| self.fetch(k, None)).collect()
        }
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

    fn fetch(&self, key: &K, chain: Option<&Chain<'_, K>>) -> Result<V, Error> {
        match self.lookup(key, |memo| memo.value.clone()) {
            Ok(value) => value,
            Err(existing) => self.refresh(key, chain, existing)?.value.clone(),
        }
    }

    /// The revision at which `key` last changed, bringing it up to date first; `None`
    /// when it cannot be brought up to date from here (a cycle through `chain`).
    fn changed_at(&self, key: &K, chain: Option<&Chain<'_, K>>) -> Option<u64> {
        match self.lookup(key, |memo| memo.changed_at) {
            Ok(changed_at) => Some(changed_at),
            Err(existing) => self
                .refresh(key, chain, existing)
                .ok()
                .map(|memo| memo.changed_at),
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
            Some(memo) if memo.verified_at.load(Ordering::Acquire) >= self.revision => {
                Ok(read(memo))
            }
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
            if verified_at >= revision {
                return Ok(Arc::clone(memo));
            }
            let link = Chain { key, parent: chain };
            let changed = |dep: &K| {
                self.changed_at(dep, Some(&link))
                    .is_none_or(|at| at > verified_at)
            };
            let any_changed = if self.parallel && memo.deps.len() >= PARALLEL_FROM {
                memo.deps.par_iter().any(changed)
            } else {
                memo.deps.iter().any(changed)
            };
            if !any_changed {
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
            deps: Mutex::new(Vec::new()),
        };
        self.executions.fetch_add(1, Ordering::Relaxed);
        let value = match catch_unwind(AssertUnwindSafe(|| (self.compute)(key, &step))) {
            Ok(value) => value,
            Err(payload) => Err(Error::StepPanicked {
                step: format!("{key:?}"),
                message: panic_message(payload.as_ref()),
            }),
        };
        let deps = std::mem::take(&mut *step.deps.lock());
        let changed_at = match old {
            Some(old) if old.value == value => old.changed_at,
            _ => self.revision,
        };
        let memo = Arc::new(Memo {
            value,
            deps,
            changed_at,
            verified_at: StdAtomicU64::new(self.revision),
        });
        self.memos[shard_of(key)]
            .0
            .write()
            .insert(key.clone(), Arc::clone(&memo));
        memo
    }
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
