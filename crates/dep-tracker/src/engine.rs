//! A small incremental engine: steps record what they read while they run, and after
//! inputs change only the steps whose inputs really changed run again.
//!
//! Bringing a key up to date is a *frame*: the key is claimed in the memo table (single
//! flight: one frame per key at a time, and a second asker parks until it ends), then
//! its old memo is verified dependency by dependency or the step runs. Frames nest by
//! native calls only up to a stack budget; past it, the frames of the request unwind
//! onto an explicit work stack, keeping their claims, and are resumed from it (see
//! [`Engine::drive`]), so a chain of any depth needs a bounded native stack. Frames
//! link to the frame that asked for them, which is how cycles are found: a frame that
//! asks for a key whose frame (transitively) waits for it closes a cycle.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt::{self, Debug};
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use smallvec::SmallVec;

use crate::error::Error;
use crate::graph::DependencyGraph;
use crate::sync::{
    Ordering, StdAtomicBool, StdAtomicU64, StdAtomicUsize, StdCondvar, StdGuard, StdMutex,
};
use crate::table::{Entry, Table};

/// The function that computes every derived (non-input) key.
type Compute<K, V> = dyn Fn(&K, &Step<'_, K, V>) -> Result<V, Error> + Send + Sync;

/// Native stack, in bytes, that nested frames may use on one thread before the request
/// unwinds them onto its explicit work stack. Well under the 2 MiB of a spawned
/// thread, so a step function has room of its own at any depth.
const STACK_BUDGET: usize = 256 * 1024;

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

/// The memo table: each key's latest memo, and the frame bringing it up to date, if
/// one is running. Lookups take no lock (see [`Table`]).
type Memos<K, V> = Table<K, Memo<K, V>, Frame<K>>;

type MemoEntry<K, V> = Entry<K, Memo<K, V>, Frame<K>>;

fn hash_of<K: Hash>(key: &K) -> u64 {
    let mut hasher = FxHasher::default();
    key.hash(&mut hasher);
    hasher.finish()
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
    /// Every bit: a memo whose value involves a cycle is re-checked after any change.
    const FULL: InputSet = InputSet([u64::MAX; INPUT_BITS / 64]);

    fn of(hash: u64) -> Self {
        let mut set = InputSet::default();
        set.insert(bit_of(hash));
        set
    }

    fn insert(&mut self, bit: u8) {
        self.0[usize::from(bit) / 64] |= 1 << (bit % 64);
    }

    fn contains(&self, bit: u8) -> bool {
        self.0[usize::from(bit) / 64] & (1 << (bit % 64)) != 0
    }

    #[inline]
    fn union(mut self, other: InputSet) -> InputSet {
        for (word, add) in self.0.iter_mut().zip(other.0) {
            *word |= add;
        }
        self
    }
}

fn bit_of(hash: u64) -> u8 {
    // The top bits, which the multiply of the last word mixes best.
    ((hash >> 56) as usize % INPUT_BITS) as u8
}

/// Dependencies a memo keeps without an allocation of their own.
const INLINE_DEPS: usize = 4;

/// The keys a step read, in order: up to [`INLINE_DEPS`] inside the memo itself.
type Deps<K> = SmallVec<[K; INLINE_DEPS]>;

/// What the engine knows about one key.
struct Memo<K, V> {
    /// The result; an error is boxed, which keeps every memo (most are `Ok`) smaller
    /// by the size of an `Error` less a pointer.
    value: Result<V, Box<Error>>,
    /// The keys this step read in its last run, in the order it asked for them
    /// (possibly repeated). Empty for inputs. A run that ended in a cycle error keeps
    /// what it read up to then, the cycle's next member included.
    deps: Deps<K>,
    /// The revision in which `value` last became different from the previous value.
    /// Invariant: `changed_at <= verified_at`.
    changed_at: u64,
    /// The latest revision at which `value` is known to be current. `u64::MAX` for
    /// inputs, which are current by definition until `set_input` replaces them.
    verified_at: StdAtomicU64,
    /// Every key this value may depend on, transitively, the key itself included: its
    /// own bit, and the union of its dependencies' sets as of its last run or check;
    /// every bit when the value involves a cycle. It only grows (a check widens it
    /// before raising `verified_at`), so a reader that sees a `verified_at` also sees
    /// at least the set that went with it. Invariant: if no key of this set changed
    /// after `verified_at`, the value is current, which lets a check skip the memo's
    /// whole dependency walk.
    inputs: [StdAtomicU64; INPUT_BITS / 64],
}

impl<K, V> Memo<K, V> {
    fn new(
        value: Result<V, Error>,
        deps: Deps<K>,
        changed_at: u64,
        verified_at: u64,
        inputs: InputSet,
    ) -> Self {
        Memo {
            value: value.map_err(Box::new),
            deps,
            changed_at,
            verified_at: StdAtomicU64::new(verified_at),
            inputs: inputs.0.map(StdAtomicU64::new),
        }
    }

    /// The result, copied out.
    #[inline]
    fn value(&self) -> Result<V, Error>
    where
        V: Clone,
    {
        match &self.value {
            Ok(value) => Ok(value.clone()),
            Err(error) => Err(Error::clone(error)),
        }
    }

    /// Whether `value` equals this memo's result.
    fn same(&self, value: &Result<V, Error>) -> bool
    where
        V: PartialEq,
    {
        match (&self.value, value) {
            (Ok(old), Ok(new)) => old == new,
            (Err(old), Err(new)) => **old == *new,
            _ => false,
        }
    }

    #[inline]
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

/// One key being brought up to date: the claim that makes it run at most once per
/// revision, the link to the frame that asked for it (cycle detection), and what
/// parked askers wait on.
struct Frame<K> {
    key: K,
    hash: u64,
    /// The frame that asked for this key (`None` for a request from outside a step).
    /// It waits for this frame, whatever thread either runs on.
    parent: Option<Arc<Frame<K>>>,
    /// Set when the frame has stored its memo, under the lock of its key's shard.
    done: StdAtomicBool,
    /// Set, under the lock of its key's shard, by a thread that found this frame
    /// running there and may park on it; the finishing thread reads it under the same
    /// lock, after which no thread finds the frame, and takes `state`'s lock to wake
    /// parked threads only when it is set. So a frame nobody waits for finishes with
    /// no lock of its own and no read-modify-write.
    contended: StdAtomicBool,
    /// Set once `state.cycle` is.
    on_cycle: StdAtomicBool,
    state: StdMutex<FrameState<K>>,
    finished: StdCondvar,
}

struct FrameState<K> {
    /// Frames parked until this one finishes; they wait for it like its parent does.
    waiters: Vec<Arc<Frame<K>>>,
    /// Set when this frame was found on a cycle: the cycle, and so its value.
    cycle: Option<Arc<[String]>>,
}

fn lock<T>(mutex: &StdMutex<T>) -> StdGuard<'_, T> {
    // Every guarded value is valid after any single operation on it, and no user code
    // runs under these guards.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<K> Frame<K> {
    fn new(key: K, hash: u64, parent: Option<Arc<Frame<K>>>) -> Self {
        Frame {
            key,
            hash,
            parent,
            done: StdAtomicBool::new(false),
            contended: StdAtomicBool::new(false),
            on_cycle: StdAtomicBool::new(false),
            state: StdMutex::new(FrameState {
                waiters: Vec::new(),
                cycle: None,
            }),
            finished: StdCondvar::new(),
        }
    }

    fn cycle(&self) -> Option<Arc<[String]>> {
        if !self.on_cycle.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.state).cycle.clone()
    }

    fn mark_cycle(&self, cycle: &Arc<[String]>) {
        let mut state = lock(&self.state);
        if state.cycle.is_none() {
            state.cycle = Some(Arc::clone(cycle));
            self.on_cycle.store(true, Ordering::Release);
        }
    }

    /// Wakes the threads parked on the frame, which is done. A parker holds `state`'s
    /// lock from before it reads `done` until it sleeps, so taking it here orders this
    /// wake-up after its sleep.
    fn wake(&self) {
        let mut state = lock(&self.state);
        state.waiters.clear();
        drop(state);
        self.finished.notify_all();
    }

    /// Parks the calling thread until the frame has finished. The caller set
    /// `contended` when it found the frame running.
    fn wait(&self) {
        let mut state = lock(&self.state);
        while !self.done.load(Ordering::Acquire) {
            state = self
                .finished
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// How [`Engine::demand`] answers.
enum Demanded<'a, K, V> {
    /// The key's memo, current in this revision.
    Current(&'a Memo<K, V>),
    /// The key is being brought up to date by a frame that waits for the asker: a
    /// cycle. Carries the cycle (dependency order, first key repeated at the end).
    Cycle(Arc<[String]>),
    /// The native stack budget ran out; the request resumes the asker later.
    Suspended,
    /// Another frame is bringing the key up to date and the asker chose not to wait.
    Busy,
}

/// What a request's explicit work stack holds.
enum Work<K> {
    /// Bring `key` up to date for `parent`.
    Demand {
        key: K,
        parent: Option<Arc<Frame<K>>>,
    },
    /// Run a claimed frame again from its start (verifying first if `verify`).
    Resume { frame: Arc<Frame<K>>, verify: bool },
}

/// One call into the engine from outside a step (or one helper's share of a batch):
/// frames that had to unwind past the stack budget, and the key they need first.
struct Request<'a, K> {
    /// Frames unwound by a suspension, innermost first.
    unwound: RefCell<Vec<Work<K>>>,
    /// The key whose demand hit the budget, for the frame that asked.
    needed: RefCell<Option<Work<K>>>,
    /// Step runs completed by this request, added to `total` when it ends (one atomic
    /// add per request instead of one per run).
    executions: Cell<u64>,
    total: &'a StdAtomicU64,
}

impl<'a, K> Request<'a, K> {
    fn new(total: &'a StdAtomicU64) -> Self {
        Request {
            unwound: RefCell::new(Vec::new()),
            needed: RefCell::new(None),
            executions: Cell::new(0),
            total,
        }
    }
}

impl<K> Drop for Request<'_, K> {
    fn drop(&mut self) {
        let runs = self.executions.get();
        if runs > 0 {
            self.total.fetch_add(runs, Ordering::Relaxed);
        }
    }
}

thread_local! {
    /// (frames running natively on this thread, stack address when the first began).
    static NATIVE: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

#[inline(never)]
fn stack_address() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Counts a frame running natively on this thread while alive.
struct NativeFrame;

impl NativeFrame {
    fn enter() -> NativeFrame {
        NATIVE.with(|native| {
            let (depth, base) = native.get();
            let base = if depth == 0 { stack_address() } else { base };
            native.set((depth + 1, base));
        });
        NativeFrame
    }

    /// Whether frames on this thread already use more native stack than the budget.
    fn over_budget() -> bool {
        NATIVE.with(|native| {
            let (depth, base) = native.get();
            depth > 0 && base.abs_diff(stack_address()) > STACK_BUDGET
        })
    }
}

impl Drop for NativeFrame {
    fn drop(&mut self) {
        NATIVE.with(|native| {
            let (depth, base) = native.get();
            native.set((depth.saturating_sub(1), base));
        });
    }
}

/// Counts helper jobs that may still touch the engine, so `&mut self` methods can wait
/// for them.
#[derive(Default)]
struct Helpers {
    live: StdMutex<usize>,
    idle: StdCondvar,
}

impl Helpers {
    fn wait_idle(&self) {
        let mut live = lock(&self.live);
        while *live > 0 {
            live = self
                .idle
                .wait(live)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// Decrements the helper count when a helper job ends, however it ends.
struct HelperDone(Arc<Helpers>);

impl Drop for HelperDone {
    fn drop(&mut self) {
        let mut live = lock(&self.0.live);
        *live = live.saturating_sub(1);
        if *live == 0 {
            self.0.idle.notify_all();
        }
    }
}

/// Keys a step (or the caller) fetches together; helpers on rayon's pool take keys
/// from it while the owner does.
struct Batch<K> {
    keys: Vec<K>,
    next: StdAtomicUsize,
    parent: Option<Arc<Frame<K>>>,
}

/// Everything the engine shares with its helper jobs.
struct Inner<K, V> {
    compute: Box<Compute<K, V>>,
    memos: Memos<K, V>,
    /// Bumped by every `set_input` that changes a value; only `&mut self` changes it,
    /// after every helper job has ended, so it is fixed while any frame runs.
    revision: u64,
    /// `(revision, bit_of(key))` of the latest input changes, oldest first, so a check
    /// can tell whether any key of a memo's [`InputSet`] changed since it was verified.
    /// Only `&mut self` changes it. Trimmed, but never below `RECENT_CHANGES + 1`
    /// entries once it has been trimmed.
    changes: Vec<(u64, u8)>,
    parallel: StdAtomicBool,
    executions: StdAtomicU64,
    /// Serialises the cycle check and registration of a parked frame, so that two
    /// frames closing a cycle from two threads cannot both park.
    waits: StdMutex<()>,
    helpers: Arc<Helpers>,
}

/// An incremental computation over keys `K` producing values `V`.
///
/// Inputs are set with [`set_input`](Self::set_input); every other key is computed by
/// the step function given to [`new`](Self::new), which reads other keys through
/// [`Step::get`]. The engine remembers each step's result and what it read. After an
/// input changes, asking for a key re-checks its recorded dependencies, in the order
/// they were read, and re-runs a step only when one of them changed; a re-run whose
/// result equals the previous one leaves the step's `changed_at` alone, so its
/// dependents are not re-run (early cutoff). A memo none of whose possible inputs
/// changed since its last check is current without that walk (each memo keeps a small
/// lossy set of the keys it depends on), so a small edit costs about one lookup per
/// step that read something, not a walk of the whole graph.
///
/// - **Single flight.** A key is brought up to date by at most one thread at a time and
///   its step runs at most once per revision; a second thread that needs it parks
///   until the first is done.
/// - **Parallelism.** [`Step::get_all`] and [`Engine::get_all`] hand the keys that are
///   not current to helper jobs on rayon's global pool while the calling thread works
///   through them too. Step functions must not block inside rayon themselves (`join`,
///   `scope`, `par_iter`): a worker blocked there may run engine work that waits for a
///   step beneath it on the same stack.
/// - **Depth.** Dependency chains of any length work on any thread: frames nest
///   natively up to 256 KiB of stack, then continue from an explicit work stack.
/// - **Cycles.** A step that asks for a key whose computation (transitively) waits for
///   this step closes a cycle. Every key on the cycle has the value
///   [`Error::Cycle`], naming the cycle from its member with the smallest `Debug` form,
///   whatever its step function returned; the step that closed it sees the same error
///   from [`Step::get`], and steps that read a member see its error like any other.
///   Such a result records what the step read up to then, and depends on every input;
///   once the cycle is gone, every key that reported it is recomputed.
///
/// Step functions must be deterministic functions of what they read. A panicking step
/// becomes [`Error::StepPanicked`] for that step and for the steps that propagate its
/// error; the engine stays usable.
pub struct Engine<K, V> {
    inner: Arc<Inner<K, V>>,
}

impl<K, V> Debug for Engine<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("revision", &self.inner.revision)
            .field("parallel", &self.inner.parallel.load(Ordering::Relaxed))
            .field("executions", &self.inner.executions.load(Ordering::Relaxed))
            .finish()
    }
}

/// The handle a step function gets: its key, and access to other keys.
pub struct Step<'a, K, V> {
    engine: &'a Arc<Inner<K, V>>,
    frame: &'a Arc<Frame<K>>,
    request: &'a Request<'a, K>,
    /// What this step read so far and the union of their input sets; becomes the
    /// memo's `deps` and `inputs` when the step ends.
    deps: RefCell<(Deps<K>, InputSet)>,
    /// Set when a read hit the stack budget: the run is discarded and resumed later.
    suspended: Cell<bool>,
}

impl<K, V> Debug for Step<'_, K, V>
where
    K: Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step")
            .field("key", &self.frame.key)
            .finish()
    }
}

impl<'a, K, V> Step<'a, K, V>
where
    K: Clone + Eq + Hash + Debug + Send + Sync + 'static,
    V: Clone + PartialEq + Send + Sync + 'static,
{
    /// The key this step computes.
    pub fn key(&self) -> &K {
        &self.frame.key
    }

    /// The value of `key`, recording that this step needs it. An error of `key` (a
    /// failure, a panic, a cycle) comes back as `Err`; propagate it with `?`.
    pub fn get(&self, key: &K) -> Result<V, Error> {
        match self.fetch(key) {
            Ok(memo) => memo.value(),
            Err(error) => Err(error),
        }
    }

    /// [`get`](Self::get) without copying the value: a reference to it that lives as
    /// long as the step's borrow of the engine (values are kept until the next
    /// [`Engine::set_input`], which cannot run while a step does). An error is
    /// returned by value.
    pub fn get_ref(&self, key: &K) -> Result<&'a V, Error> {
        match &self.fetch(key)?.value {
            Ok(value) => Ok(value),
            Err(error) => Err(Error::clone(error)),
        }
    }

    /// The current memo of `key`, recording that this step read it, or why there is
    /// none (a cycle, or a suspension).
    #[inline]
    fn fetch(&self, key: &K) -> Result<&'a Memo<K, V>, Error> {
        if self.suspended.get() {
            return Err(self.suspension());
        }
        let hash = hash_of(key);
        let engine: &'a Arc<Inner<K, V>> = self.engine;
        if let Some(memo) = engine.lookup(key, hash) {
            let mut deps = self.deps.borrow_mut();
            deps.0.push(key.clone());
            deps.1 = deps.1.union(memo.inputs());
            return Ok(memo);
        }
        let demanded = engine.demand_hashed(
            key,
            hash,
            Some(self.frame),
            self.request,
            false,
            true,
            false,
            true,
        );
        match demanded {
            Demanded::Current(memo) => {
                let mut deps = self.deps.borrow_mut();
                deps.0.push(key.clone());
                deps.1 = deps.1.union(memo.inputs());
                Ok(memo)
            }
            Demanded::Cycle(cycle) => {
                let mut deps = self.deps.borrow_mut();
                deps.0.push(key.clone());
                deps.1 = InputSet::FULL;
                Err(Error::Cycle { cycle })
            }
            Demanded::Suspended | Demanded::Busy => {
                self.suspended.set(true);
                Err(self.suspension())
            }
        }
    }

    /// The values of `keys`, brought up to date in parallel when the engine is
    /// parallel and enough of them are not current.
    pub fn get_all(&self, keys: &[K]) -> Vec<Result<V, Error>> {
        if self.suspended.get() {
            return keys.iter().map(|_| Err(self.suspension())).collect();
        }
        let demanded = self.engine.demand_all(keys, Some(self.frame), self.request);
        keys.iter()
            .zip(demanded)
            .map(|(key, d)| self.record(key, d))
            .collect()
    }

    /// An error saying this step failed because of `message`.
    pub fn fail(&self, message: impl Into<String>) -> Error {
        Error::StepFailed {
            step: format!("{:?}", self.frame.key),
            message: message.into(),
        }
    }

    fn suspension(&self) -> Error {
        self.fail("suspended: the engine resumes this step when its input is ready")
    }

    fn record(&self, key: &K, demanded: Demanded<'_, K, V>) -> Result<V, Error> {
        let (value, inputs) = match demanded {
            Demanded::Current(memo) => (memo.value(), memo.inputs()),
            Demanded::Cycle(cycle) => (Err(Error::Cycle { cycle }), InputSet::FULL),
            Demanded::Suspended | Demanded::Busy => {
                self.suspended.set(true);
                return Err(self.suspension());
            }
        };
        let mut deps = self.deps.borrow_mut();
        deps.0.push(key.clone());
        deps.1 = deps.1.union(inputs);
        value
    }
}

impl<K, V> Engine<K, V>
where
    K: Clone + Eq + Hash + Debug + Send + Sync + 'static,
    V: Clone + PartialEq + Send + Sync + 'static,
{
    /// An engine computing every non-input key with `compute`.
    pub fn new<F>(compute: F) -> Self
    where
        F: Fn(&K, &Step<'_, K, V>) -> Result<V, Error> + Send + Sync + 'static,
    {
        Engine {
            inner: Arc::new(Inner {
                compute: Box::new(compute),
                memos: Table::new(),
                revision: 0,
                changes: Vec::new(),
                parallel: StdAtomicBool::new(true),
                executions: StdAtomicU64::new(0),
                waits: StdMutex::new(()),
                helpers: Arc::new(Helpers::default()),
            }),
        }
    }

    /// Whether to fetch [`Step::get_all`]'s keys with helpers on rayon's pool (the
    /// default). Either way every key's step runs at most once per revision.
    pub fn set_parallel(&mut self, parallel: bool) {
        self.inner.parallel.store(parallel, Ordering::Relaxed);
    }

    /// Exclusive access to the shared state: waits for helper jobs of earlier calls
    /// that may still hold it (they end as soon as they run).
    fn inner_mut(&mut self) -> &mut Inner<K, V> {
        loop {
            self.inner.helpers.wait_idle();
            if Arc::get_mut(&mut self.inner).is_some() {
                break;
            }
            // A helper has signalled its end but not yet dropped its handle.
            std::thread::yield_now();
        }
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner,
            None => unreachable!("no helper holds the engine after the wait"),
        }
    }

    /// Sets input `key` to `value`. Returns whether it changed (a new revision starts
    /// only then).
    pub fn set_input(&mut self, key: K, value: V) -> bool {
        let inner = self.inner_mut();
        // No reader is left (`&mut`): free what the last revision replaced.
        inner.memos.release_retired();
        let hash = hash_of(&key);
        if let Some(old) = inner.memos.find(&key, hash).and_then(Entry::memo) {
            if old.deps.is_empty() && old.verified_at.load(Ordering::Relaxed) == u64::MAX {
                if let Ok(old_value) = &old.value {
                    if *old_value == value {
                        return false;
                    }
                }
            }
        }
        inner.revision += 1;
        let memo = Memo::new(
            Ok(value),
            Deps::new(),
            inner.revision,
            u64::MAX,
            InputSet::of(hash),
        );
        {
            let mut shard = inner.memos.lock(hash);
            let entry = shard.entry(&key, hash);
            shard.set_memo(entry, Box::new(memo));
            drop(shard.take_running(entry));
        }
        inner.memos.release_retired();
        if inner.changes.len() >= 4 * (RECENT_CHANGES + 1) {
            inner.changes.drain(..2 * (RECENT_CHANGES + 1));
        }
        let revision = inner.revision;
        inner.changes.push((revision, bit_of(hash)));
        true
    }

    /// The current value of `key`, computing or re-checking what it needs.
    pub fn get(&self, key: &K) -> Result<V, Error> {
        if let Some(memo) = self.inner.lookup(key, hash_of(key)) {
            return memo.value();
        }
        match self.inner.drive(key, None, true) {
            Some(memo) => memo.value(),
            None => unreachable!("a waiting request always ends with a memo"),
        }
    }

    /// The current values of `keys`, brought up to date in parallel when the engine is
    /// parallel.
    pub fn get_all(&self, keys: &[K]) -> Vec<Result<V, Error>> {
        self.inner.prefetch(keys, None, None);
        keys.iter().map(|key| self.get(key)).collect()
    }

    /// How many times a step function has run to completion or to a cycle, over the
    /// engine's life. Runs cut short by the stack budget (and resumed) are not counted.
    pub fn executions(&self) -> u64 {
        self.inner.executions.load(Ordering::Relaxed)
    }

    /// The current revision: the number of `set_input` calls that changed a value.
    pub fn revision(&self) -> u64 {
        self.inner.revision
    }

    /// The dependencies recorded by the last run of every step: an edge `a -> b` for
    /// each key `b` that step `a` read. Steps are added in the order of their keys'
    /// `Debug` form, so the graph (and its DOT export) is the same from run to run.
    pub fn graph(&self) -> DependencyGraph<K> {
        let mut entries = Vec::new();
        self.inner.memos.for_each(|entry| {
            if let Some(memo) = entry.memo() {
                entries.push((
                    format!("{:?}", entry.key()),
                    entry.key().clone(),
                    memo.deps.clone(),
                ));
            }
        });
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut graph = DependencyGraph::new();
        for (_, key, deps) in entries {
            graph.add_node(key.clone());
            for dep in &deps {
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
}

/// What bringing a frame up to date ended with.
enum Ran<'a, K, V> {
    Done(&'a Memo<K, V>),
    Suspended,
}

impl<K, V> Inner<K, V>
where
    K: Clone + Eq + Hash + Debug + Send + Sync + 'static,
    V: Clone + PartialEq + Send + Sync + 'static,
{
    /// Whether `memo` is known to be current in this revision without looking at its
    /// dependencies: verified in it, or none of its possible inputs changed since it
    /// was last verified (checked against the latest `RECENT_CHANGES` changes only).
    #[inline]
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

    /// The memo of `key` when it is already current; takes no lock.
    #[inline]
    fn lookup(&self, key: &K, hash: u64) -> Option<&Memo<K, V>> {
        let memo = self.memos.find(key, hash)?.memo()?;
        self.is_current(memo).then_some(memo)
    }

    /// Brings `key` up to date for the frame `asker` (or for a caller outside any step)
    /// and returns its memo, or says why not. `verifying`: the asker is checking its
    /// old dependencies, not running, so a key on a cycle with it only means "changed"
    /// and marks nothing. `wait`: park while another frame has the key. `force`: go
    /// ahead even past the stack budget (the request's own entries).
    fn demand<'a>(
        self: &'a Arc<Self>,
        key: &K,
        asker: Option<&Arc<Frame<K>>>,
        request: &Request<'_, K>,
        verifying: bool,
        wait: bool,
        force: bool,
    ) -> Demanded<'a, K, V> {
        self.demand_hashed(
            key,
            hash_of(key),
            asker,
            request,
            verifying,
            wait,
            force,
            false,
        )
    }

    /// [`demand`](Self::demand) with the key's hash; `looked`: the caller has just
    /// found the key not current, so the first lookup is skipped.
    #[allow(clippy::too_many_arguments)]
    fn demand_hashed<'a>(
        self: &'a Arc<Self>,
        key: &K,
        hash: u64,
        asker: Option<&Arc<Frame<K>>>,
        request: &Request<'_, K>,
        verifying: bool,
        wait: bool,
        force: bool,
        mut looked: bool,
    ) -> Demanded<'a, K, V> {
        loop {
            if !std::mem::take(&mut looked) {
                if let Some(memo) = self.lookup(key, hash) {
                    return Demanded::Current(memo);
                }
            }
            if !force && NativeFrame::over_budget() {
                *request.needed.borrow_mut() = Some(Work::Demand {
                    key: key.clone(),
                    parent: asker.cloned(),
                });
                return Demanded::Suspended;
            }
            let claimed = {
                let mut shard = self.memos.lock(hash);
                let entry = shard.entry(key, hash);
                let memo = entry.memo();
                if let Some(memo) = memo {
                    if self.is_current(memo) {
                        return Demanded::Current(memo);
                    }
                }
                match shard.running(entry) {
                    Some(running) => {
                        if wait {
                            // Under the shard lock, so the frame's finish sees it.
                            running.contended.store(true, Ordering::Relaxed);
                        }
                        Err(running)
                    }
                    None => {
                        let frame = Arc::new(Frame::new(key.clone(), hash, asker.cloned()));
                        // SAFETY: the handle is used only by `run` below, which ends the
                        // claim last (in `finish`, or never when it suspends: the frame
                        // then stays in the entry and on the request's work stack).
                        Ok((entry, unsafe { shard.claim(entry, frame) }, memo))
                    }
                }
            };
            match claimed {
                Ok((entry, frame, old)) => {
                    return match self.run(entry, &frame, old, true, request) {
                        Ran::Done(memo) => Demanded::Current(memo),
                        Ran::Suspended => Demanded::Suspended,
                    };
                }
                Err(running) => {
                    if !wait {
                        return Demanded::Busy;
                    }
                    if let Some(cycle) = self.park_or_cycle(&running, asker, verifying) {
                        return Demanded::Cycle(cycle);
                    }
                }
            }
        }
    }

    /// Either parks until `running` finishes (`None`), or, when `running` waits for
    /// `asker` (a cycle), returns the cycle without parking, after marking its members
    /// unless the asker is only verifying.
    fn park_or_cycle(
        &self,
        running: &Arc<Frame<K>>,
        asker: Option<&Arc<Frame<K>>>,
        verifying: bool,
    ) -> Option<Arc<[String]>> {
        if let Some(asker) = asker {
            let waits = lock(&self.waits);
            if let Some(path) = waiting_path(asker, running) {
                drop(waits);
                let cycle = canonical_cycle(&path);
                if !verifying {
                    for frame in &path {
                        frame.mark_cycle(&cycle);
                    }
                }
                return Some(cycle);
            }
            if running.done.load(Ordering::Acquire) {
                return None;
            }
            lock(&running.state).waiters.push(Arc::clone(asker));
        }
        running.wait();
        None
    }

    /// Runs the request that brings `key` up to date for `parent` to its end: frames
    /// nest natively up to the stack budget; a frame that would go deeper unwinds the
    /// native frames of the request onto `stack` (they keep their claims), and the loop
    /// continues with the key they need, then resumes them innermost first. `None`
    /// only when `!wait` and another frame has `key`.
    fn drive(
        self: &Arc<Self>,
        key: &K,
        parent: Option<Arc<Frame<K>>>,
        wait: bool,
    ) -> Option<&Memo<K, V>> {
        let request = Request::new(&self.executions);
        let mut stack = vec![Work::Demand {
            key: key.clone(),
            parent,
        }];
        while let Some(top) = stack.last() {
            let outcome = match top {
                Work::Demand { key, parent } => {
                    let root = stack.len() == 1;
                    match self.demand(key, parent.as_ref(), &request, false, wait || !root, true) {
                        Demanded::Current(memo) => Ran::Done(memo),
                        Demanded::Suspended => Ran::Suspended,
                        // Another frame has the request's own key: it finishes it.
                        Demanded::Busy if root => return None,
                        // A key needed by an unwound frame closes a cycle: the frame asks
                        // again when resumed and sees it then.
                        Demanded::Cycle(_) | Demanded::Busy => {
                            stack.pop();
                            continue;
                        }
                    }
                }
                Work::Resume { frame, verify } => {
                    let Some(entry) = self.memos.find(&frame.key, frame.hash) else {
                        unreachable!("a claimed key has an entry")
                    };
                    let frame = Arc::clone(frame);
                    self.run(entry, &frame, entry.memo(), *verify, &request)
                }
            };
            match outcome {
                Ran::Done(memo) => {
                    stack.pop();
                    if stack.is_empty() {
                        return Some(memo);
                    }
                }
                Ran::Suspended => {
                    stack.extend(request.unwound.borrow_mut().drain(..).rev());
                    if let Some(needed) = request.needed.borrow_mut().take() {
                        stack.push(needed);
                    }
                }
            }
        }
        None
    }

    /// Brings the claimed `frame` up to date: verifies `old` dependency by dependency
    /// (when `verify`), or runs the step. Stores the memo and ends the claim, unless
    /// the stack budget ran out, in which case the frame is left to the request.
    fn run<'a>(
        self: &'a Arc<Self>,
        entry: &'a MemoEntry<K, V>,
        frame: &Arc<Frame<K>>,
        old: Option<&'a Memo<K, V>>,
        verify: bool,
        request: &Request<'_, K>,
    ) -> Ran<'a, K, V> {
        let _native = NativeFrame::enter();
        if let (Some(old), true) = (old, verify) {
            match self.verify(frame, old, request) {
                Verified::Unchanged(inputs) => {
                    let memo = match frame.cycle() {
                        // Found on a cycle while checking: the value is the cycle.
                        Some(cycle)
                            if !old.same(&Err(Error::Cycle {
                                cycle: Arc::clone(&cycle),
                            })) =>
                        {
                            self.finish(
                                entry,
                                frame,
                                Some(Memo::new(
                                    Err(Error::Cycle { cycle }),
                                    old.deps.clone(),
                                    self.revision,
                                    self.revision,
                                    InputSet::FULL,
                                )),
                            )
                        }
                        _ => {
                            old.widen(inputs);
                            old.verified_at.fetch_max(self.revision, Ordering::AcqRel);
                            self.finish(entry, frame, None);
                            Some(old)
                        }
                    };
                    return match memo {
                        Some(memo) => Ran::Done(memo),
                        None => unreachable!("a new memo is always stored"),
                    };
                }
                Verified::Changed => {}
                Verified::Suspended => {
                    request.unwound.borrow_mut().push(Work::Resume {
                        frame: Arc::clone(frame),
                        verify: true,
                    });
                    return Ran::Suspended;
                }
            }
        }
        let step = Step {
            engine: self,
            frame,
            request,
            deps: RefCell::new((
                Deps::with_capacity(old.map_or(INLINE_DEPS, |o| o.deps.len())),
                InputSet::of(frame.hash),
            )),
            suspended: Cell::new(false),
        };
        let key = &frame.key;
        let value = match catch_unwind(AssertUnwindSafe(|| (self.compute)(key, &step))) {
            Ok(value) => value,
            Err(payload) => Err(Error::StepPanicked {
                step: format!("{key:?}"),
                message: panic_message(payload.as_ref()),
            }),
        };
        if step.suspended.get() {
            request.unwound.borrow_mut().push(Work::Resume {
                frame: Arc::clone(frame),
                verify: false,
            });
            return Ran::Suspended;
        }
        request.executions.set(request.executions.get() + 1);
        let (deps, mut inputs) = step.deps.into_inner();
        let value = match frame.cycle() {
            Some(cycle) => {
                inputs = InputSet::FULL;
                Err(Error::Cycle { cycle })
            }
            None => value,
        };
        let changed_at = match old {
            Some(old) if old.same(&value) => old.changed_at,
            _ => self.revision,
        };
        let memo = Memo::new(value, deps, changed_at, self.revision, inputs);
        match self.finish(entry, frame, Some(memo)) {
            Some(memo) => Ran::Done(memo),
            None => unreachable!("a new memo is always stored"),
        }
    }

    /// Stores `memo` (if given) as `entry`'s (the frame's key's), ends the frame's
    /// claim and wakes parked askers. Returns the stored memo. The caller's handle to
    /// `frame` may be the claim's own (see `Table::claim`): it is not used after this.
    fn finish<'a>(
        &'a self,
        entry: &'a MemoEntry<K, V>,
        frame: &Arc<Frame<K>>,
        memo: Option<Memo<K, V>>,
    ) -> Option<&'a Memo<K, V>> {
        let (stored, claim, contended) = {
            let mut shard = self.memos.lock(frame.hash);
            let stored = memo.map(|memo| shard.set_memo(entry, Box::new(memo)));
            // `claim` is the frame itself: the entry's count, now `claim`'s, keeps it
            // alive until the end of this function.
            let claim = shard.take_running(entry);
            // Under the shard lock: every thread that found the frame running set
            // `contended` before this, and every later one finds no frame.
            frame.done.store(true, Ordering::Release);
            (stored, claim, frame.contended.load(Ordering::Relaxed))
        };
        if contended {
            frame.wake();
        }
        drop(claim);
        stored
    }

    /// Whether none of `old`'s dependencies changed after it was last verified,
    /// checking them in the order they were read and stopping at the first that did
    /// (the step, run again, would read the same keys up to there).
    fn verify(
        self: &Arc<Self>,
        frame: &Arc<Frame<K>>,
        old: &Memo<K, V>,
        request: &Request<'_, K>,
    ) -> Verified {
        let verified_at = old.verified_at.load(Ordering::Acquire);
        let mut inputs = InputSet::of(frame.hash);
        for dep in &old.deps {
            let hash = hash_of(dep);
            if let Some(memo) = self.lookup(dep, hash) {
                if memo.changed_at > verified_at {
                    return Verified::Changed;
                }
                inputs = inputs.union(memo.inputs());
                continue;
            }
            match self.demand_hashed(dep, hash, Some(frame), request, true, true, false, true) {
                Demanded::Current(memo) if memo.changed_at <= verified_at => {
                    inputs = inputs.union(memo.inputs());
                }
                Demanded::Current(_) | Demanded::Cycle(_) | Demanded::Busy => {
                    return Verified::Changed
                }
                Demanded::Suspended => return Verified::Suspended,
            }
        }
        Verified::Unchanged(inputs)
    }

    /// Brings `keys` up to date, with helper jobs on rayon's pool when the engine is
    /// parallel and more than one is not current, then answers each in order.
    fn demand_all<'a>(
        self: &'a Arc<Self>,
        keys: &[K],
        asker: Option<&Arc<Frame<K>>>,
        request: &Request<'_, K>,
    ) -> Vec<Demanded<'a, K, V>> {
        if !self.prefetch(keys, asker, Some(request)) {
            return keys.iter().map(|_| Demanded::Suspended).collect();
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let demanded = self.demand(key, asker, request, false, true, false);
            let stop = matches!(demanded, Demanded::Suspended);
            out.push(demanded);
            if stop {
                out.resize_with(keys.len(), || Demanded::Suspended);
                break;
            }
        }
        out
    }

    /// When parallel and at least two of `keys` are not current: shares them with
    /// helper jobs and works through them on this thread too, skipping keys another
    /// frame has. `false` if this thread's share hit the stack budget (`request`) .
    fn prefetch(
        self: &Arc<Self>,
        keys: &[K],
        asker: Option<&Arc<Frame<K>>>,
        request: Option<&Request<'_, K>>,
    ) -> bool {
        if !self.parallel.load(Ordering::Relaxed) || keys.len() < 2 {
            return true;
        }
        let workers = rayon::current_num_threads();
        let helpers = if rayon::current_thread_index().is_some() {
            workers.saturating_sub(1)
        } else {
            workers
        };
        if helpers == 0 {
            return true;
        }
        let stale: Vec<K> = keys
            .iter()
            .filter(|k| self.lookup(k, hash_of(k)).is_none())
            .cloned()
            .collect();
        if stale.len() < 2 {
            return true;
        }
        let batch = Arc::new(Batch {
            keys: stale,
            next: StdAtomicUsize::new(0),
            parent: asker.cloned(),
        });
        let helpers = helpers.min(batch.keys.len() - 1);
        *lock(&self.helpers.live) += helpers;
        for _ in 0..helpers {
            let (engine, batch) = (Arc::clone(self), Arc::clone(&batch));
            let done = HelperDone(Arc::clone(&self.helpers));
            rayon::spawn(move || {
                let _done = done;
                engine.help(&batch);
                drop(engine);
            });
        }
        let mut ok = true;
        loop {
            let i = batch.next.fetch_add(1, Ordering::Relaxed);
            let Some(key) = batch.keys.get(i) else {
                break;
            };
            match request {
                Some(request) => {
                    if let Demanded::Suspended =
                        self.demand(key, asker, request, false, false, false)
                    {
                        ok = false;
                        break;
                    }
                }
                None => {
                    if self.lookup(key, hash_of(key)).is_none() {
                        self.drive(key, None, false);
                    }
                }
            }
        }
        // Late helpers find nothing left.
        batch.next.store(batch.keys.len(), Ordering::Relaxed);
        ok
    }

    /// A helper job's loop: takes keys from `batch` and brings each up to date as a
    /// request of its own, skipping keys another frame has.
    fn help(self: &Arc<Self>, batch: &Batch<K>) {
        // `set_input` waits for every helper to end, so the revision is fixed here.
        loop {
            let i = batch.next.fetch_add(1, Ordering::Relaxed);
            let Some(key) = batch.keys.get(i) else {
                return;
            };
            if self.lookup(key, hash_of(key)).is_none() {
                self.drive(key, batch.parent.clone(), false);
            }
        }
    }
}

/// How verifying a memo's dependencies ended.
enum Verified {
    /// None changed; the union of their input sets.
    Unchanged(InputSet),
    Changed,
    Suspended,
}

/// If `target` waits for `asker` (it is an ancestor of it, or parked on a frame that
/// waits for it, and so on), the frames from `target` to `asker` in the order each
/// asks for the next. Call with the engine's wait lock held.
fn waiting_path<K>(asker: &Arc<Frame<K>>, target: &Arc<Frame<K>>) -> Option<Vec<Arc<Frame<K>>>> {
    // Breadth-first from the asker over "is waited for by" edges: the parent, and the
    // frames parked on this one.
    let mut seen: HashSet<*const Frame<K>> = HashSet::new();
    let mut queue = std::collections::VecDeque::new();
    // (frame, index of the frame it waits for in `visited`).
    let mut visited: Vec<(Arc<Frame<K>>, Option<usize>)> = Vec::new();
    seen.insert(Arc::as_ptr(asker));
    visited.push((Arc::clone(asker), None));
    queue.push_back(0usize);
    while let Some(i) = queue.pop_front() {
        let frame = Arc::clone(&visited[i].0);
        if Arc::ptr_eq(&frame, target) {
            let mut path = Vec::new();
            let mut at = Some(i);
            while let Some(j) = at {
                path.push(Arc::clone(&visited[j].0));
                at = visited[j].1;
            }
            return Some(path);
        }
        let waiters = lock(&frame.state).waiters.clone();
        for next in frame.parent.iter().cloned().chain(waiters) {
            if seen.insert(Arc::as_ptr(&next)) {
                visited.push((next, Some(i)));
                queue.push_back(visited.len() - 1);
            }
        }
    }
    None
}

/// The cycle through `path` (each frame asks for the next, the last asks for the
/// first), named from its member with the smallest `Debug` form and closed by
/// repeating it, so every member reports the same cycle wherever it was entered.
fn canonical_cycle<K: Debug>(path: &[Arc<Frame<K>>]) -> Arc<[String]> {
    let names: Vec<String> = path.iter().map(|f| format!("{:?}", f.key)).collect();
    let start = names
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.cmp(b.1))
        .map_or(0, |(i, _)| i);
    let mut cycle: Vec<String> = names[start..]
        .iter()
        .chain(&names[..start])
        .cloned()
        .collect();
    if let Some(first) = cycle.first().cloned() {
        cycle.push(first);
    }
    cycle.into()
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

#[cfg(test)]
mod tests {
    //! Small enough to run under Miri, which checks the memo table's unsafe code as the
    //! engine uses it: `cargo +nightly miri test -p dep-tracker --lib engine::`.

    use super::*;

    /// `sum(n)` reads `x(n)` and `sum(n - 1)`; `x(n)` are inputs.
    fn chain(len: u32) -> Engine<(char, u32), u64> {
        let mut engine = Engine::new(|key: &(char, u32), step| match *key {
            ('s', 0) => step.get(&('x', 0)),
            ('s', n) => {
                let own = *step.get_ref(&('x', n))?;
                Ok(own + step.get(&('s', n - 1))?)
            }
            _ => Err(Error::UnknownInput {
                key: format!("{key:?}"),
            }),
        });
        engine.set_parallel(false);
        for n in 0..len {
            engine.set_input(('x', n), u64::from(n));
        }
        engine
    }

    #[test]
    fn values_survive_replacement_and_revisions_through_the_lock_free_table() {
        let len = if cfg!(miri) { 40 } else { 400 };
        let mut engine = chain(len);
        let sum = |n: u32| (0..=u64::from(n)).sum::<u64>();
        assert_eq!(engine.get(&('s', len - 1)), Ok(sum(len - 1)));
        for round in 1..4u64 {
            // Every memo above key 3 is replaced; the replaced ones are freed at the
            // next `set_input`, after the readers are gone.
            assert!(engine.set_input(('x', 3), 3 + round));
            assert_eq!(engine.get(&('s', len - 1)), Ok(sum(len - 1) + round));
            assert_eq!(engine.get(&('s', 2)), Ok(sum(2)));
        }
        assert_eq!(
            engine.get(&('y', 0)),
            Err(Error::UnknownInput {
                key: "('y', 0)".to_owned()
            })
        );
        assert_eq!(engine.graph().node_count(), 2 * len as usize + 1);
    }
}
