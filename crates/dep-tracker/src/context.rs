//! The seed's `Context`: the handle a step uses to start its dependencies.

use std::fmt;
use std::sync::Arc;

use crate::log::{DefaultLog, DependencyLog};
use crate::step::{Dependency, StepId, StepKind};

/// One running step of a pipeline and the log shared by the whole run.
///
/// `in_read`, `in_parse`, `in_resolve` and `in_exec` start a child step: they record the
/// edge `self -> child` (`from` = this step, the one that needs; `to` = the child, the
/// one needed) and return the child's context. They take `&self`, so one step can start
/// children from many threads at once (`rayon::scope`, `par_iter`), and a child moved to
/// another thread keeps this step as its parent.
///
/// A step finishes when its context is dropped (or [`finish`](Self::finish)ed); that is
/// when a buffered log publishes the step's edges. `Context` is deliberately not
/// `Clone`: two handles for one step would each own part of its edges.
pub struct Context<L: DependencyLog = DefaultLog> {
    log: Arc<L>,
    step: StepId,
    kind: StepKind,
    /// Edges this step recorded and has not published (buffered logs only).
    local: L::Local,
}

impl Context<DefaultLog> {
    /// The root step of a new run with a fresh [`DefaultLog`].
    pub fn root() -> Self {
        Context::root_in(Arc::new(DefaultLog::default()))
    }
}

impl<L: DependencyLog> Context<L> {
    /// The root step of a new run recording into `log`, for a log other than the
    /// default (`Context::root_in(Arc::new(MutexLog::default()))`) or a log shared with
    /// a reader.
    pub fn root_in(log: Arc<L>) -> Self {
        Context {
            log,
            step: StepId::fresh(),
            kind: StepKind::Root,
            local: L::Local::default(),
        }
    }

    /// Starts a child step reading an input.
    pub fn in_read(&self) -> Self {
        self.child(StepKind::Read)
    }

    /// Starts a child step parsing.
    pub fn in_parse(&self) -> Self {
        self.child(StepKind::Parse)
    }

    /// Starts a child step resolving names.
    pub fn in_resolve(&self) -> Self {
        self.child(StepKind::Resolve)
    }

    /// Starts a child step executing.
    pub fn in_exec(&self) -> Self {
        self.child(StepKind::Exec)
    }

    /// Starts a child step of `kind` and records `self -> child`.
    pub fn child(&self, kind: StepKind) -> Self {
        let step = StepId::fresh();
        self.log.record(
            &self.local,
            Dependency {
                from: self.step,
                to: step,
                kind,
            },
        );
        Context {
            log: Arc::clone(&self.log),
            step,
            kind,
            local: L::Local::default(),
        }
    }

    /// This step's id.
    pub fn step(&self) -> StepId {
        self.step
    }

    /// This step's kind.
    pub fn kind(&self) -> StepKind {
        self.kind
    }

    /// The run's log, for readers that outlive this step.
    pub fn log(&self) -> &Arc<L> {
        &self.log
    }

    /// Every published edge of the run, this step's own edges included.
    ///
    /// It publishes this step's pending edges first (a step always sees what it
    /// recorded), then reads without blocking writers, except with [`MutexLog`], the
    /// seed's before, which copies under its lock. What it sees of steps running on other
    /// threads is documented on each log.
    ///
    /// [`MutexLog`]: crate::MutexLog
    pub fn dependencies(&self) -> Vec<Dependency> {
        self.log.publish(&self.local);
        self.log.snapshot()
    }

    /// Finishes the step now; the same as dropping it.
    pub fn finish(self) {}
}

impl<L: DependencyLog> Drop for Context<L> {
    fn drop(&mut self) {
        self.log.publish(&self.local);
    }
}

impl<L: DependencyLog> fmt::Debug for Context<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("log", &L::NAME)
            .field("step", &self.step)
            .field("kind", &self.kind)
            .finish()
    }
}
