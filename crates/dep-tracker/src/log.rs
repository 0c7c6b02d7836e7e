//! The dependency log abstraction and its four implementations.
//!
//! A log is shared by every step of a run. Steps call [`DependencyLog::record`] with
//! their own per-step storage ([`DependencyLog::Local`]) and [`DependencyLog::publish`]
//! once when they finish; readers call [`DependencyLog::for_each`] or
//! [`DependencyLog::snapshot`]. A log that stores each edge at once ignores `Local` and
//! makes `publish` a no-op; the buffered log keeps edges in `Local` until `publish`.

use append_only_vec::AppendOnlyVec;

use crate::step::Dependency;
use crate::sync::Mutex;

mod buffered;

pub use buffered::{BufferedLog, StepBuffer};

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

/// The log a [`Context`](crate::Context) uses unless told otherwise.
///
/// One type whatever the features: it records either like [`BufferedLog`] (the
/// best-measured log, docs/dep-tracker.md) or like the seed's [`AppendOnlyVecLog`],
/// chosen when the log is built. [`DefaultLog::default`] builds the buffered one; the
/// `append-only-vec-log` feature makes it build the append-only-vec one instead.
/// Features are unified across a build, so the feature changes only that default value,
/// never the type another crate names; [`buffered`](Self::buffered) and
/// [`append_only_vec`](Self::append_only_vec) choose explicitly.
#[derive(Debug)]
pub struct DefaultLog(DefaultKind);

#[derive(Debug)]
enum DefaultKind {
    Buffered(BufferedLog),
    AppendOnlyVec(AppendOnlyVecLog),
}

impl DefaultLog {
    /// A default log that records like [`BufferedLog`].
    pub fn buffered() -> Self {
        DefaultLog(DefaultKind::Buffered(BufferedLog::default()))
    }

    /// A default log that records like [`AppendOnlyVecLog`].
    pub fn append_only_vec() -> Self {
        DefaultLog(DefaultKind::AppendOnlyVec(AppendOnlyVecLog::default()))
    }

    /// The [`DependencyLog::NAME`] of the log it records like.
    pub fn records_like(&self) -> &'static str {
        match &self.0 {
            DefaultKind::Buffered(_) => BufferedLog::NAME,
            DefaultKind::AppendOnlyVec(_) => AppendOnlyVecLog::NAME,
        }
    }
}

impl Default for DefaultLog {
    /// [`buffered`](Self::buffered), or [`append_only_vec`](Self::append_only_vec)
    /// with the `append-only-vec-log` feature.
    fn default() -> Self {
        if cfg!(feature = "append-only-vec-log") {
            DefaultLog::append_only_vec()
        } else {
            DefaultLog::buffered()
        }
    }
}

impl DependencyLog for DefaultLog {
    type Local = StepBuffer;
    const NAME: &'static str = "default";

    fn record(&self, local: &StepBuffer, dep: Dependency) {
        match &self.0 {
            DefaultKind::Buffered(log) => log.record(local, dep),
            DefaultKind::AppendOnlyVec(log) => log.record(&(), dep),
        }
    }

    fn publish(&self, local: &StepBuffer) {
        match &self.0 {
            DefaultKind::Buffered(log) => log.publish(local),
            DefaultKind::AppendOnlyVec(log) => log.publish(&()),
        }
    }

    fn for_each(&self, f: &mut dyn FnMut(&Dependency)) {
        match &self.0 {
            DefaultKind::Buffered(log) => log.for_each(f),
            DefaultKind::AppendOnlyVec(log) => log.for_each(f),
        }
    }

    fn snapshot(&self) -> Vec<Dependency> {
        match &self.0 {
            DefaultKind::Buffered(log) => log.snapshot(),
            DefaultKind::AppendOnlyVec(log) => log.snapshot(),
        }
    }

    fn published_len(&self) -> usize {
        match &self.0 {
            DefaultKind::Buffered(log) => log.published_len(),
            DefaultKind::AppendOnlyVec(log) => log.published_len(),
        }
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
        records_and_reads::<DefaultLog>();
    }

    #[test]
    fn the_default_log_is_one_type_that_records_like_either_log() {
        let expected = if cfg!(feature = "append-only-vec-log") {
            "append-only-vec"
        } else {
            "buffered"
        };
        assert_eq!(DefaultLog::default().records_like(), expected);
        for log in [DefaultLog::buffered(), DefaultLog::append_only_vec()] {
            let local = StepBuffer::default();
            log.record(&local, dep(1, 2));
            log.publish(&local);
            assert_eq!(log.snapshot(), vec![dep(1, 2)], "{}", log.records_like());
        }
        assert_eq!(
            DefaultLog::append_only_vec().records_like(),
            "append-only-vec"
        );
    }
}
