//! The buffered log: per-step buffers that the thread running the step fills without a
//! lock, published a whole step at a time into per-thread append-only segments.
//!
//! Two structures, each written by one thread at a time without a lock on its hot path:
//!
//! - A [`StepBuffer`] belongs to one step. The first thread that records into it claims
//!   it (one compare-and-swap per step); from then on that thread, the *owner*, writes
//!   its edges into the buffer's slots and raises the buffer's length with a `Release`
//!   store: no lock, no read-modify-write. Other threads that start children of the
//!   same step (a rayon scope) push under the buffer's lock instead. Publication takes
//!   the lock, so whichever thread publishes sees every edge recorded before it.
//! - A [`BufferedLog`] holds one [`Segment`] per thread that has published into it. A
//!   segment is append-only storage in chunks that are never moved or freed while the
//!   log lives; only its thread writes it, and it publishes a whole step by one
//!   `Release` store of the segment's length. Readers walk every segment up to the
//!   length they load with `Acquire`, so they see exactly the published steps, each
//!   whole.
//!
//! Nothing is allocated per step once a thread's segment chunk and a step buffer's
//! slots exist: the benchmark's reused buffer records and publishes without allocating,
//! and a fresh step allocates its slots once (16 edges) on its first edge.

use std::cell::Cell;
use std::fmt;
use std::mem::MaybeUninit;

use crate::step::Dependency;
use crate::sync::{
    thread_locals, AtomicPtr, AtomicU64, AtomicUsize, Mutex, Ordering, StdAtomicU64, UnsafeCell,
};

use super::DependencyLog;

/// One edge's storage: written once by one thread, then read by others only after an
/// `Acquire` load of a length that covers it.
type Slot = UnsafeCell<MaybeUninit<Dependency>>;

/// Slots a step buffer reserves on its first owner edge (a typical step fits), and the
/// least it grows to. Two under loom, so the models cover growth.
const STEP_SLOTS: usize = if cfg!(loom) { 2 } else { 16 };

/// Slots in a segment's first chunk; chunk `k` holds `FIRST_CHUNK << k`. Two under loom,
/// so a published step in the models can straddle a chunk boundary.
const FIRST_CHUNK: usize = if cfg!(loom) { 2 } else { 32 };

/// Enough chunks to address every `usize` index: chunk `k` starts at
/// `FIRST_CHUNK * (2^k - 1)`.
const CHUNKS: usize = (usize::BITS - FIRST_CHUNK.trailing_zeros()) as usize;

fn new_slots(n: usize) -> Box<[Slot]> {
    // Writing an uninitialised value is no write at all; this is one allocation.
    (0..n)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect()
}

/// Reads an edge from a slot.
///
/// # Safety
///
/// The slot was written, and that write happens before this read (program order on the
/// writing thread, or a `Release` store of a length covering the slot that this thread
/// loaded with `Acquire`, or a lock).
#[inline(always)]
unsafe fn read_slot(slot: &Slot) -> Dependency {
    // SAFETY: initialised and ordered before this read, as the caller promises.
    slot.with(|p| unsafe { (*p).assume_init() })
}

/// Writes an edge into a slot.
///
/// # Safety
///
/// No other thread reads or writes this slot concurrently: it is beyond every length
/// another thread may have loaded, and only the calling thread writes there.
#[inline(always)]
unsafe fn write_slot(slot: &Slot, dep: Dependency) {
    slot.with_mut(|p| {
        let p = p.cast::<Dependency>();
        // Field by field: a whole-record copy moves the padding after `kind` too, and
        // reading that padding back as one 8-byte word right after `kind` was stored as
        // one byte stalls store forwarding (measured: it tripled the cost of a record).
        // SAFETY: exclusive access, as the caller promises; `MaybeUninit<Dependency>`
        // has the layout of `Dependency`.
        unsafe {
            std::ptr::addr_of_mut!((*p).from).write(dep.from);
            std::ptr::addr_of_mut!((*p).to).write(dep.to);
            std::ptr::addr_of_mut!((*p).kind).write(dep.kind);
        }
    });
}

/// Numbers that tell threads and logs apart. 0 means "none" in both. Never reused, so
/// a number can be compared after its thread ended or its log was dropped.
static NEXT_THREAD: StdAtomicU64 = StdAtomicU64::new(1);
static NEXT_LOG: StdAtomicU64 = StdAtomicU64::new(1);

thread_locals! {
    static THREAD_TOKEN: Cell<u64> = Cell::new(0);
    /// The last log this thread published into and its segment there.
    static LAST_SEGMENT: Cell<(u64, *const Segment)> = Cell::new((0, std::ptr::null()));
}

/// This thread's token: unique in the process, never 0.
#[inline]
fn thread_token() -> u64 {
    THREAD_TOKEN.with(|token| match token.get() {
        0 => {
            let fresh = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
            token.set(fresh);
            fresh
        }
        known => known,
    })
}

/// The per-step buffer of a [`BufferedLog`]: the edges a step recorded and has not
/// published yet.
///
/// The first thread that records into it becomes its owner and records without any
/// lock or atomic read-modify-write. Other threads recording for the same step (a step
/// that starts children from a rayon scope) go through the buffer's lock, which is
/// contended only by threads working for that one step. Publication takes the lock.
pub struct StepBuffer {
    /// The owner's thread token; 0 until a thread claims the buffer with its first edge.
    owner: AtomicU64,
    /// The owner's edges. Only the owner writes the slots (beyond `own_len`, without the
    /// lock) and only the owner replaces the box (to grow it, under the lock). Other
    /// threads read it only under the lock, slots below an `Acquire`d `own_len` only.
    own: UnsafeCell<Box<[Slot]>>,
    /// How many slots of `own` the owner has written; raised with `Release` after each
    /// write, changed otherwise only under the lock.
    own_len: AtomicUsize,
    shared: Mutex<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Edges recorded by threads other than the owner.
    others: Vec<Dependency>,
    /// Owner slots below this index are already published (by a thread other than the
    /// owner, which cannot reset `own_len`).
    consumed: usize,
}

// SAFETY: `StepBuffer` is `Send` (every field is). Shared use from several threads is
// sound because of the ownership protocol on `own` documented on its fields: the box is
// replaced only by the owner under `shared`'s lock and read by others only under that
// lock; a slot is written only by the owner, at or beyond `own_len`, and read by others
// only below an `Acquire` load of `own_len` that the owner's `Release` store published
// after the write, and only under the lock, which also orders them before the owner's
// reset of `own_len`. The loom models check this protocol.
unsafe impl Sync for StepBuffer {}

impl Default for StepBuffer {
    fn default() -> Self {
        StepBuffer {
            owner: AtomicU64::new(0),
            own: UnsafeCell::new(Box::default()),
            own_len: AtomicUsize::new(0),
            shared: Mutex::default(),
        }
    }
}

impl fmt::Debug for StepBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = self.shared.lock();
        let owner_pending = self
            .own_len
            .load(Ordering::Acquire)
            .saturating_sub(shared.consumed);
        f.debug_struct("StepBuffer")
            .field("pending", &(owner_pending + shared.others.len()))
            .finish()
    }
}

impl StepBuffer {
    /// Records `dep` into the owner's slots. Only the owner thread calls this.
    #[inline]
    fn push_own(&self, dep: Dependency) {
        // Only this thread writes `own_len` outside the lock, and the lock holders that
        // change it are ordered before us by the lock.
        let len = self.own_len.load(Ordering::Relaxed);
        let written = self.own.with(|own| {
            // SAFETY: only this thread (the owner) replaces the box, so no write to it
            // can race with this read.
            let own = unsafe { &*own };
            own.get(len).map(|slot| {
                // SAFETY: slot `len` is beyond every length another thread can have
                // loaded, and only the owner writes slots.
                unsafe { write_slot(slot, dep) }
            })
        });
        match written {
            Some(()) => self.own_len.store(len + 1, Ordering::Release),
            None => self.grow_and_push(len, dep),
        }
    }

    /// The owner's slots are full: move the unpublished ones to a larger box, under the
    /// lock so that no publisher is reading the old box.
    #[cold]
    fn grow_and_push(&self, len: usize, dep: Dependency) {
        let mut shared = self.shared.lock();
        let live = len - shared.consumed;
        let bigger = new_slots((2 * live).max(STEP_SLOTS));
        self.own.with_mut(|own| {
            // SAFETY: the owner is the only thread that replaces the box, and the lock
            // keeps every other reader of it out.
            let own = unsafe { &mut *own };
            for (from, to) in own[shared.consumed..len].iter().zip(bigger.iter()) {
                // SAFETY: the owner wrote these slots itself; `bigger` is not shared yet.
                unsafe { write_slot(to, read_slot(from)) };
            }
            // SAFETY: `live < bigger.len()`, and `bigger` is not shared yet.
            unsafe { write_slot(&bigger[live], dep) };
            *own = bigger;
        });
        shared.consumed = 0;
        self.own_len.store(live + 1, Ordering::Release);
    }
}

/// One thread's append-only storage inside a [`BufferedLog`].
///
/// Chunk `k` holds `FIRST_CHUNK << k` slots, is allocated by the owner thread before the
/// first `len` store that covers it, and lives as long as the segment, so a reader that
/// loaded `len` may read any slot below it at any later time.
#[repr(align(128))]
struct Segment {
    /// The thread that appends here; no other thread ever writes the segment.
    owner: u64,
    /// Published slots; raised with `Release` once per published step.
    len: AtomicUsize,
    chunks: [AtomicPtr<Slot>; CHUNKS],
}

impl Segment {
    fn new(owner: u64) -> Self {
        Segment {
            owner,
            len: AtomicUsize::new(0),
            chunks: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
        }
    }

    /// Appends a step's edges and publishes them with one `Release` store. Only the
    /// owner thread calls this.
    fn append(&self, own: &[Slot], others: &[Dependency]) {
        let start = self.len.load(Ordering::Relaxed);
        let mut cursor = Cursor::at(self, start);
        for slot in own {
            // SAFETY: the caller holds the step buffer's lock and `own` lies below an
            // `Acquire`d `own_len` (or was written by this very thread).
            cursor.push(unsafe { read_slot(slot) });
        }
        for &dep in others {
            cursor.push(dep);
        }
        self.len
            .store(start + own.len() + others.len(), Ordering::Release);
    }

    /// The `k`th chunk's slots, allocating it if it does not exist. Only the owner thread
    /// calls this.
    fn chunk_for_append(&self, k: usize) -> *mut Slot {
        let ptr = self.chunks[k].load(Ordering::Relaxed);
        if !ptr.is_null() {
            return ptr;
        }
        let fresh = Box::into_raw(new_slots(FIRST_CHUNK << k)).cast::<Slot>();
        // Readers only follow this pointer after the `Release` store of a `len` that
        // covers the chunk, which orders this store (and the allocation) before them.
        self.chunks[k].store(fresh, Ordering::Release);
        fresh
    }

    /// Calls `f` on every published edge of this segment.
    fn for_each(&self, f: &mut dyn FnMut(&Dependency)) {
        let len = self.len.load(Ordering::Acquire);
        let mut seen = 0;
        for (k, chunk) in self.chunks.iter().enumerate() {
            if seen == len {
                break;
            }
            let n = (FIRST_CHUNK << k).min(len - seen);
            let ptr = chunk.load(Ordering::Acquire);
            // A model that breaks the protocol fails here rather than by a crash.
            #[cfg(loom)]
            assert!(
                !ptr.is_null(),
                "published length covers an unallocated chunk"
            );
            // SAFETY: the chunk was allocated with `FIRST_CHUNK << k >= n` slots before
            // the `Release` store of the `len` loaded above, and is freed only when the
            // segment is dropped, which `&self` rules out.
            let slots = unsafe { std::slice::from_raw_parts(ptr, n) };
            for slot in slots {
                // SAFETY: below the `Acquire`d `len`, so written and ordered before us.
                f(&unsafe { read_slot(slot) });
            }
            seen += n;
        }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        for (k, chunk) in self.chunks.iter().enumerate() {
            let ptr = chunk.load(Ordering::Acquire);
            if !ptr.is_null() {
                // SAFETY: `ptr` came from `Box::into_raw` of a boxed slice of exactly
                // `FIRST_CHUNK << k` slots, and nothing else frees it.
                drop(unsafe {
                    Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, FIRST_CHUNK << k))
                });
            }
        }
    }
}

/// The owner's write position in its segment.
struct Cursor<'a> {
    segment: &'a Segment,
    chunk: usize,
    offset: usize,
    slots: *mut Slot,
}

impl<'a> Cursor<'a> {
    fn at(segment: &'a Segment, index: usize) -> Self {
        // Chunk `k` covers `[F * (2^k - 1), F * (2^(k+1) - 1))`.
        let q = index / FIRST_CHUNK + 1;
        let chunk = (usize::BITS - 1 - q.leading_zeros()) as usize;
        let offset = index - FIRST_CHUNK * ((1 << chunk) - 1);
        Cursor {
            segment,
            chunk,
            offset,
            // Allocated lazily: a chunk that is exactly full has no successor yet.
            slots: std::ptr::null_mut(),
        }
    }

    #[inline]
    fn push(&mut self, dep: Dependency) {
        if self.offset == FIRST_CHUNK << self.chunk {
            self.chunk += 1;
            self.offset = 0;
            self.slots = std::ptr::null_mut();
        }
        if self.slots.is_null() {
            self.slots = self.segment.chunk_for_append(self.chunk);
        }
        // SAFETY: `offset` is inside the chunk, which lives as long as the segment; the
        // slot is at or beyond the published `len`, so no reader looks at it, and only
        // the segment's owner (this thread) writes.
        unsafe { write_slot(&*self.slots.add(self.offset), dep) };
        self.offset += 1;
    }
}

/// Each step collects its edges in its own [`StepBuffer`] and publishes them as one
/// batch when it finishes, the way rustc's `TaskDeps` and salsa's active-query stack
/// do.
///
/// Recording an edge touches only the step's buffer, and on the thread that runs the
/// step it takes no lock. Publishing appends the step's edges to the publishing
/// thread's own segment of the log and raises that segment's length once, so
/// publishers never wait for each other and nothing is allocated per step. A reader sees
/// exactly the edges of the steps that have published: all of a step's edges or none of
/// them, every step published before the read started, and no edge of a step that is
/// still running.
pub struct BufferedLog {
    /// Tells this log apart in each thread's cache of its last segment.
    id: u64,
    /// One segment per publishing thread, never removed while the log lives.
    segments: boxcar::Vec<Segment>,
}

impl Default for BufferedLog {
    fn default() -> Self {
        BufferedLog {
            id: NEXT_LOG.fetch_add(1, Ordering::Relaxed),
            segments: boxcar::Vec::new(),
        }
    }
}

impl fmt::Debug for BufferedLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferedLog")
            .field("segments", &self.segments.count())
            .field("published", &self.published_len())
            .finish()
    }
}

impl BufferedLog {
    /// The calling thread's segment, created on its first publication into this log.
    fn segment(&self, me: u64) -> &Segment {
        let cached = LAST_SEGMENT.with(|last| match last.get() {
            (log, segment) if log == self.id => Some(segment),
            _ => None,
        });
        if let Some(segment) = cached {
            // SAFETY: the cache holds a segment of the log with this id; ids are never
            // reused, so it is a segment of `self`, which lives at least as long as
            // `&self` (segments are never removed or moved).
            return unsafe { &*segment };
        }
        let segment = match self.segments.iter().find(|(_, s)| s.owner == me) {
            Some((_, segment)) => segment,
            // Only this thread creates a segment for its own token, so none can appear
            // between the search and the push.
            None => &self.segments[self.segments.push(Segment::new(me))],
        };
        LAST_SEGMENT.with(|last| last.set((self.id, segment as *const Segment)));
        segment
    }
}

impl DependencyLog for BufferedLog {
    type Local = StepBuffer;
    const NAME: &'static str = "buffered";

    #[inline]
    fn record(&self, local: &StepBuffer, dep: Dependency) {
        let me = thread_token();
        // Only this thread ever stores `me`, so a relaxed load that returns it is this
        // thread's own claim.
        let owner = local.owner.load(Ordering::Relaxed);
        if owner == me
            || (owner == 0
                && local
                    .owner
                    .compare_exchange(0, me, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok())
        {
            local.push_own(dep);
        } else {
            local.shared.lock().others.push(dep);
        }
    }

    fn publish(&self, local: &StepBuffer) {
        // A buffer nobody recorded into is never claimed: every recording claims it or
        // finds it claimed, and a recording that happens before this publication is
        // seen here. Leaf steps (most steps) stop here without the lock.
        if local.owner.load(Ordering::Acquire) == 0 {
            return;
        }
        let me = thread_token();
        let mut shared = local.shared.lock();
        let len = local.own_len.load(Ordering::Acquire);
        let from = shared.consumed;
        if len == from && shared.others.is_empty() {
            return;
        }
        let segment = self.segment(me);
        local.own.with(|own| {
            // SAFETY: the box is replaced only under the lock, which we hold.
            let own = unsafe { &*own };
            segment.append(&own[from..len], &shared.others);
        });
        shared.others.clear();
        if local.owner.load(Ordering::Relaxed) == me {
            // The owner may start over at slot 0: other threads read the slots only
            // under the lock, after this reset.
            local.own_len.store(0, Ordering::Relaxed);
            shared.consumed = 0;
        } else {
            // The owner may be writing beyond `len` right now; only it resets.
            shared.consumed = len;
        }
    }

    fn for_each(&self, f: &mut dyn FnMut(&Dependency)) {
        for (_, segment) in self.segments.iter() {
            segment.for_each(f);
        }
    }

    fn published_len(&self) -> usize {
        self.segments
            .iter()
            .map(|(_, s)| s.len.load(Ordering::Acquire))
            .sum()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::step::{StepId, StepKind};

    fn dep(from: u64, to: u64) -> Dependency {
        Dependency {
            from: StepId::from_raw(from),
            to: StepId::from_raw(to),
            kind: StepKind::Read,
        }
    }

    #[test]
    fn a_step_shows_nothing_until_it_publishes_and_then_all_of_it() {
        let log = BufferedLog::default();
        let (a, b) = (StepBuffer::default(), StepBuffer::default());
        log.record(&a, dep(1, 2));
        log.record(&b, dep(5, 6));
        log.record(&a, dep(1, 3));
        assert!(log.snapshot().is_empty());
        assert_eq!(log.published_len(), 0);
        log.publish(&b);
        assert_eq!(log.snapshot(), vec![dep(5, 6)]);
        log.publish(&a);
        assert_eq!(log.snapshot(), vec![dep(5, 6), dep(1, 2), dep(1, 3)]);
        assert_eq!(log.published_len(), 3);
    }

    #[test]
    fn a_buffer_nobody_recorded_into_publishes_nothing() {
        let log = BufferedLog::default();
        let local = StepBuffer::default();
        log.publish(&local);
        assert_eq!(log.published_len(), 0);
        assert_eq!(log.segments.count(), 0);
    }

    /// Steps of 1 to 40 edges (beyond the buffer's first 16 slots) published by one
    /// thread through a reused buffer: the log holds them in order across many chunk
    /// boundaries, and the count is exact after every step.
    #[test]
    fn many_steps_cross_chunk_and_buffer_boundaries_in_order() {
        let log = BufferedLog::default();
        let local = StepBuffer::default();
        let mut expected = Vec::new();
        for step in 0..3_000u64 {
            for child in 0..(step % 40 + 1) {
                let edge = dep(step, child);
                log.record(&local, edge);
                expected.push(edge);
            }
            log.publish(&local);
            assert_eq!(log.published_len(), expected.len());
        }
        assert_eq!(log.snapshot(), expected);
        assert_eq!(log.segments.count(), 1);
    }

    /// A thread that alternates between two logs finds its own segment in each.
    #[test]
    fn a_thread_publishing_into_two_logs_keeps_them_apart() {
        let (one, two) = (BufferedLog::default(), BufferedLog::default());
        let local = StepBuffer::default();
        for i in 0..100 {
            one.record(&local, dep(1, i));
            one.publish(&local);
            two.record(&local, dep(2, i));
            two.publish(&local);
        }
        assert!(one.snapshot().iter().all(|d| d.from == StepId::from_raw(1)));
        assert!(two.snapshot().iter().all(|d| d.from == StepId::from_raw(2)));
        assert_eq!((one.published_len(), two.published_len()), (100, 100));
        assert_eq!((one.segments.count(), two.segments.count()), (1, 1));
    }

    /// The owner records on; another thread records for the same step and publishes it
    /// in the middle (what `dependencies()` from a rayon task does). Every edge lands
    /// once, and what the other thread published includes everything recorded before.
    #[test]
    fn a_publication_from_another_thread_takes_what_was_recorded_and_no_more() {
        let log = BufferedLog::default();
        let local = StepBuffer::default();
        for i in 0..10 {
            log.record(&local, dep(1, i));
        }
        std::thread::scope(|s| {
            s.spawn(|| {
                log.record(&local, dep(2, 0));
                log.publish(&local);
                let seen = log.snapshot();
                assert_eq!(seen.len(), 11);
                assert!((0..10).all(|i| seen.contains(&dep(1, i))));
            });
        });
        // The owner goes on past its first 16 slots, then publishes the rest.
        for i in 10..40 {
            log.record(&local, dep(1, i));
        }
        log.publish(&local);
        let mut all = log.snapshot();
        all.sort();
        let mut expected: Vec<_> = (0..40).map(|i| dep(1, i)).collect();
        expected.push(dep(2, 0));
        expected.sort();
        assert_eq!(all, expected);
        assert_eq!(log.segments.count(), 2);
    }

    /// Four threads record into one step at once and three other steps publish
    /// meanwhile; the finished step's edges are all there, once.
    #[test]
    fn threads_sharing_one_step_buffer_lose_nothing() {
        let log = BufferedLog::default();
        let shared = StepBuffer::default();
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (log, shared) = (&log, &shared);
                s.spawn(move || {
                    let mine = StepBuffer::default();
                    for i in 0..1_000 {
                        log.record(shared, dep(1, t * 1_000 + i));
                        log.record(&mine, dep(10 + t, i));
                        if i % 7 == 0 {
                            log.publish(&mine);
                        }
                    }
                    log.publish(&mine);
                });
            }
        });
        assert_eq!(log.published_len(), 4_000);
        log.publish(&shared);
        let mut all = log.snapshot();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 8_000);
        assert_eq!(log.published_len(), 8_000);
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::step::{StepId, StepKind};
    use loom::sync::Arc;
    use loom::thread;

    fn dep(from: u64, to: u64) -> Dependency {
        Dependency {
            from: StepId::from_raw(from),
            to: StepId::from_raw(to),
            kind: StepKind::Parse,
        }
    }

    /// Runs `model` under loom with a preemption bound of 3 and checks that loom really
    /// explored alternatives. loom 0.7 explores a single execution when the only other
    /// party is the main thread doing nothing but loads, so a reader racing a writer
    /// must be a spawned thread; the count catches a model that silently stopped racing.
    fn explore(name: &str, model: impl Fn() + Sync + Send + 'static) {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        let runs = std::sync::Arc::new(AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&runs);
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(move || {
            counted.fetch_add(1, Relaxed);
            model();
        });
        let runs = runs.load(Relaxed);
        eprintln!("loom model {name}: {runs} executions");
        assert!(runs > 1, "loom explored a single execution of {name}");
    }

    /// A step publishes three edges (its buffer grows past its first two slots, and
    /// the segment's first chunk of two slots overflows into the second) while a reader
    /// reads: the reader sees none or all three, never fewer than the count it loaded
    /// first, and every slot access is ordered (loom checks the cells).
    #[test]
    fn loom_buffered_publication_is_all_or_nothing_per_step() {
        explore("all or nothing", || {
            let log = Arc::new(BufferedLog::default());
            let reader = {
                let log = Arc::clone(&log);
                thread::spawn(move || {
                    let counted = log.published_len();
                    let seen = log.snapshot();
                    assert!(
                        seen.len() >= counted,
                        "{} seen < {} counted",
                        seen.len(),
                        counted
                    );
                    assert!(
                        seen.is_empty() || seen == [dep(1, 2), dep(1, 3), dep(1, 4)],
                        "partial step: {seen:?}"
                    );
                })
            };
            let local = StepBuffer::default();
            log.record(&local, dep(1, 2));
            log.record(&local, dep(1, 3));
            log.record(&local, dep(1, 4));
            log.publish(&local);
            reader.join().unwrap();
            assert_eq!(log.snapshot(), [dep(1, 2), dep(1, 3), dep(1, 4)]);
            assert_eq!(log.published_len(), 3);
        });
    }

    /// A thread publishes a second step into its segment while a reader reads: the
    /// reader sees the first step, then either exactly the first or both, in order.
    #[test]
    fn loom_a_second_step_in_the_same_segment_appears_whole() {
        explore("second step", || {
            let log = Arc::new(BufferedLog::default());
            let local = StepBuffer::default();
            log.record(&local, dep(1, 2));
            log.publish(&local);
            let reader = {
                let log = Arc::clone(&log);
                thread::spawn(move || {
                    let seen = log.snapshot();
                    assert!(
                        seen == [dep(1, 2)] || seen == [dep(1, 2), dep(3, 4), dep(3, 5)],
                        "{seen:?}"
                    );
                })
            };
            log.record(&local, dep(3, 4));
            log.record(&local, dep(3, 5));
            log.publish(&local);
            reader.join().unwrap();
        });
    }

    /// Two steps publish from two threads at once, each into its own segment: both
    /// land, once each.
    #[test]
    fn loom_two_steps_publishing_at_once_both_land() {
        explore("two publishers", || {
            let log = Arc::new(BufferedLog::default());
            let writer = {
                let log = Arc::clone(&log);
                thread::spawn(move || {
                    let local = StepBuffer::default();
                    log.record(&local, dep(1, 2));
                    log.publish(&local);
                })
            };
            let local = StepBuffer::default();
            log.record(&local, dep(5, 6));
            log.publish(&local);
            writer.join().unwrap();
            let mut all = log.snapshot();
            all.sort();
            assert_eq!(all, [dep(1, 2), dep(5, 6)]);
            assert_eq!(log.published_len(), 2);
        });
    }

    /// One step records children from two threads (a rayon scope): whichever claims the
    /// buffer writes its slots, the other goes through the lock; after the step
    /// finishes both edges are published exactly once.
    #[test]
    fn loom_step_buffer_shared_by_two_threads_publishes_each_edge_once() {
        explore("shared buffer", || {
            let log = Arc::new(BufferedLog::default());
            let local = Arc::new(StepBuffer::default());
            let other = {
                let (log, local) = (Arc::clone(&log), Arc::clone(&local));
                thread::spawn(move || log.record(&local, dep(1, 3)))
            };
            log.record(&local, dep(1, 2));
            other.join().unwrap();
            log.publish(&local);
            log.publish(&local);
            let mut all = log.snapshot();
            all.sort();
            assert_eq!(all, vec![dep(1, 2), dep(1, 3)]);
        });
    }

    /// Another thread publishes a step (as `dependencies()` does) while the step's owner
    /// goes on recording and outgrows its slots: the publication holds the edge
    /// recorded before it started, the owner's later edges are published once by the
    /// owner's own publication, and no slot is read while it is written.
    #[test]
    fn loom_publication_from_another_thread_races_the_owner_safely() {
        explore("foreign publication", || {
            let log = Arc::new(BufferedLog::default());
            let local = Arc::new(StepBuffer::default());
            log.record(&local, dep(1, 2));
            let other = {
                let (log, local) = (Arc::clone(&log), Arc::clone(&local));
                thread::spawn(move || {
                    log.publish(&local);
                    assert!(log.snapshot().contains(&dep(1, 2)));
                })
            };
            log.record(&local, dep(1, 3));
            log.record(&local, dep(1, 4));
            other.join().unwrap();
            log.publish(&local);
            let mut all = log.snapshot();
            all.sort();
            assert_eq!(all, [dep(1, 2), dep(1, 3), dep(1, 4)]);
            assert_eq!(log.published_len(), 3);
        });
    }
}
