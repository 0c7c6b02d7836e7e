//! The dependency log abstraction and its four implementations.
//!
//! A log is shared by every step of a run. Steps call [`DependencyLog::record`] with
//! their own per-step storage ([`DependencyLog::Local`]) and [`DependencyLog::publish`]
//! once when they finish; readers call [`DependencyLog::for_each`] or
//! [`DependencyLog::snapshot`]. A log that stores each edge at once ignores `Local` and
//! makes `publish` a no-op; the buffered log keeps edges in `Local` until `publish`.

use append_only_vec::AppendOnlyVec;

use crate::step::Dependency;
use crate::sync::{AtomicUsize, Mutex, Ordering};

/// Where the edges of a run go, and how readers see them.
///
/// What a reader sees while writers are active differs by log and is documented on each
/// type; all of them guarantee that every edge appears at most once, that every edge a
/// reader sees was really recorded, and that every edge published before the read
/// started is seen.
pub trait DependencyLog: Send + Sync + Default {
    /// Per-step storage that [`record`](Self::record) may fill and
    /// [`publish`](Self::publish) empties. `()` for logs that store each edge at once.
    type Local: Default + Send + Sync;

    /// A short lowercase name for reports (`mutex`, `append-only-vec`, ...).
    const NAME: &'static str;

    /// Records one edge on behalf of the step that owns `local`.
    fn record(&self, local: &Self::Local, dep: Dependency);

    /// Makes every edge recorded through `local` visible to readers. Called once when a
    /// step finishes (and by a step that reads the log, so it sees its own edges).
    /// Calling it again with nothing new recorded costs little and publishes nothing.
    fn publish(&self, local: &Self::Local);

    /// Calls `f` on every published edge. `f` must not record into this log.
    fn for_each(&self, f: &mut dyn FnMut(&Dependency));

    /// Every published edge, copied out.
    fn snapshot(&self) -> Vec<Dependency> {
        let mut out = Vec::with_capacity(self.published_len());
        self.for_each(&mut |dep| out.push(*dep));
        out
    }

    /// How many edges are published. Under concurrent writers this is a lower bound of
    /// what a later [`for_each`](Self::for_each) sees.
    fn published_len(&self) -> usize;
}

/// The seed's "before": one `Vec` behind a `std::sync::Mutex`.
///
/// Readers take the lock and copy the vector, so a read blocks every writer for the
/// length of the copy; writers serialise on one lock. A reader sees an exact prefix of
/// the log's push order.
#[derive(Debug, Default)]
pub struct MutexLog {
    edges: Mutex<Vec<Dependency>>,
}

impl DependencyLog for MutexLog {
    type Local = ();
    const NAME: &'static str = "mutex";

    fn record(&self, _local: &(), dep: Dependency) {
        self.edges.lock().push(dep);
    }

    fn publish(&self, _local: &()) {}

    fn for_each(&self, f: &mut dyn FnMut(&Dependency)) {
        // Copy first so that `f` runs without the lock held.
        self.snapshot().iter().for_each(f);
    }

    fn snapshot(&self) -> Vec<Dependency> {
        self.edges.lock().clone()
    }

    fn published_len(&self) -> usize {
        self.edges.lock().len()
    }
}

/// The seed's option 1: the `append-only-vec` crate.
///
/// A push reserves a slot with one `fetch_add` and then spins until every earlier push
/// has published, so a reader always sees an exact prefix of the reservation order, but
/// one pusher that is preempted between reserving and publishing stalls every later
/// pusher. Kept because it is the seed's recommendation and the measurements show why it
/// is not the default (docs/dep-tracker.md).
#[derive(Debug, Default)]
pub struct AppendOnlyVecLog {
    edges: AppendOnlyVec<Dependency>,
}

impl DependencyLog for AppendOnlyVecLog {
    type Local = ();
    const NAME: &'static str = "append-only-vec";

    fn record(&self, _local: &(), dep: Dependency) {
        self.edges.push(dep);
    }

    fn publish(&self, _local: &()) {}

    fn for_each(&self, f: &mut dyn FnMut(&Dependency)) {
        self.edges.iter().for_each(f);
    }

    fn published_len(&self) -> usize {
        self.edges.len()
    }
}

/// A `boxcar::Vec`: lock-free pushes into geometrically growing buckets.
///
/// A push claims an index and marks its entry active when written; it never waits for
/// other pushers. A reader sees every push that completed before the read started plus
/// any subset of the ones in flight, so what it sees is not necessarily a prefix of the
/// index order (a slow pusher leaves a gap that is filled later).
#[derive(Debug, Default)]
pub struct BoxcarLog {
    edges: boxcar::Vec<Dependency>,
}

impl DependencyLog for BoxcarLog {
    type Local = ();
    const NAME: &'static str = "boxcar";

    fn record(&self, _local: &(), dep: Dependency) {
        self.edges.push(dep);
    }

    fn publish(&self, _local: &()) {}

    fn for_each(&self, f: &mut dyn FnMut(&Dependency)) {
        self.edges.iter().for_each(|(_, dep)| f(dep));
    }

    fn published_len(&self) -> usize {
        self.edges.count()
    }
}

/// The per-step buffer of a [`BufferedLog`]: the edges a step recorded and has not
/// published yet.
///
/// It sits behind a lock of its own because a step may spawn children from several
/// threads at once (rayon); that lock is only ever contended by threads working for the
/// same step, never by the whole run.
#[derive(Debug, Default)]
pub struct StepBuffer {
    pending: Mutex<Vec<Dependency>>,
}

/// Each step collects its edges in its own [`StepBuffer`] and publishes them as one
/// batch when it finishes, the way rustc's `TaskDeps` and salsa's active-query stack
/// do.
///
/// The shared structure is touched once per step instead of once per edge: a
/// `boxcar::Vec` of batches, so publishing never waits on another publisher. A reader
/// sees exactly the edges of the steps that have published: all of a step's edges or
/// none of them (a step's batch appears atomically), every batch published before the
/// read started, and no edge of a step that is still running.
#[derive(Debug, Default)]
pub struct BufferedLog {
    /// Invariant: every batch is non-empty and is never changed after it is pushed.
    batches: boxcar::Vec<Vec<Dependency>>,
    /// Invariant: the sum of the lengths of the batches whose push has completed;
    /// incremented only after the batch is visible.
    edges: AtomicUsize,
}

impl DependencyLog for BufferedLog {
    type Local = StepBuffer;
    const NAME: &'static str = "buffered";

    fn record(&self, local: &StepBuffer, dep: Dependency) {
        let mut pending = local.pending.lock();
        if pending.capacity() == 0 {
            // One allocation covers a typical step; growing through 4 and 8 costs two
            // more per step, measurable when an edge costs about 20 ns.
            pending.reserve_exact(16);
        }
        pending.push(dep);
    }

    fn publish(&self, local: &StepBuffer) {
        // Take the batch out first so the step's lock is not held while the shared
        // structure is written.
        let mut batch = std::mem::take(&mut *local.pending.lock());
        if batch.is_empty() {
            return;
        }
        if batch.capacity() >= 4 * batch.len() {
            // The log keeps every batch until it is dropped; do not keep the unused
            // part of the initial reservation of a step that recorded one or two edges.
            batch.shrink_to_fit();
        }
        let n = batch.len();
        self.batches.push(batch);
        self.edges.fetch_add(n, Ordering::Release);
    }

    fn for_each(&self, f: &mut dyn FnMut(&Dependency)) {
        for (_, batch) in self.batches.iter() {
            batch.iter().for_each(&mut *f);
        }
    }

    fn published_len(&self) -> usize {
        self.edges.load(Ordering::Acquire)
    }
}

/// The log a [`Context`](crate::Context) uses unless told otherwise: [`BufferedLog`],
/// the best-measured log (docs/dep-tracker.md). With the `append-only-vec-log` feature
/// it is the seed's [`AppendOnlyVecLog`] instead.
#[cfg(not(feature = "append-only-vec-log"))]
pub type DefaultLog = BufferedLog;

/// The log a [`Context`](crate::Context) uses unless told otherwise: the seed's
/// [`AppendOnlyVecLog`], selected by the `append-only-vec-log` feature. Without the
/// feature it is [`BufferedLog`], the best-measured log.
#[cfg(feature = "append-only-vec-log")]
pub type DefaultLog = AppendOnlyVecLog;

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

    fn records_and_reads<L: DependencyLog>() {
        let log = L::default();
        let local = L::Local::default();
        log.record(&local, dep(1, 2));
        log.record(&local, dep(1, 3));
        log.publish(&local);
        log.publish(&local);
        assert_eq!(log.snapshot(), vec![dep(1, 2), dep(1, 3)], "{}", L::NAME);
        assert_eq!(log.published_len(), 2, "{}", L::NAME);
        let mut count = 0;
        log.for_each(&mut |_| count += 1);
        assert_eq!(count, 2);
    }

    #[test]
    fn every_log_records_publishes_and_reads_in_order_on_one_thread() {
        records_and_reads::<MutexLog>();
        records_and_reads::<AppendOnlyVecLog>();
        records_and_reads::<BoxcarLog>();
        records_and_reads::<BufferedLog>();
    }

    #[test]
    fn buffered_log_shows_nothing_of_a_step_until_it_publishes() {
        let log = BufferedLog::default();
        let (a, b) = (StepBuffer::default(), StepBuffer::default());
        log.record(&a, dep(1, 2));
        log.record(&b, dep(5, 6));
        log.record(&a, dep(1, 3));
        assert!(log.snapshot().is_empty());
        log.publish(&b);
        assert_eq!(log.snapshot(), vec![dep(5, 6)]);
        log.publish(&a);
        assert_eq!(log.snapshot(), vec![dep(5, 6), dep(1, 2), dep(1, 3)]);
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

    /// A step publishes two edges while a reader reads: the reader sees both or
    /// neither, never fewer edges than the counter says, and the end state holds both.
    #[test]
    fn loom_buffered_publication_is_all_or_nothing_per_step() {
        loom::model(|| {
            let log = Arc::new(BufferedLog::default());
            let writer = {
                let log = Arc::clone(&log);
                thread::spawn(move || {
                    let local = StepBuffer::default();
                    log.record(&local, dep(1, 2));
                    log.record(&local, dep(1, 3));
                    log.publish(&local);
                })
            };
            let counted = log.published_len();
            let seen = log.snapshot();
            assert!(
                seen.len() >= counted,
                "{} seen < {} counted",
                seen.len(),
                counted
            );
            assert!(
                seen.is_empty() || seen == [dep(1, 2), dep(1, 3)],
                "partial step: {seen:?}"
            );
            writer.join().unwrap();
            assert_eq!(log.snapshot(), [dep(1, 2), dep(1, 3)]);
            assert_eq!(log.published_len(), 2);
        });
    }

    /// Two steps publish at once: both batches land, each once.
    #[test]
    fn loom_two_steps_publishing_at_once_both_land() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
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

    /// One step records children from two threads (a rayon scope) and then finishes:
    /// both edges are published exactly once.
    #[test]
    fn loom_step_buffer_shared_by_two_threads_publishes_each_edge_once() {
        loom::model(|| {
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
}
