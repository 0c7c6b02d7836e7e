//! Step identities and the edge record.

use std::cell::Cell;
use std::fmt;

use crate::sync::{Ordering, StdAtomicU64};

/// The identity of one step of a run. Unique in the whole process, whichever thread or
/// log created it, so edges from different threads never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepId(u64);

impl StepId {
    /// The raw number, for display and for maps keyed by plain integers.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// An id with a chosen number, for tests of the logs and graph.
    #[cfg(test)]
    pub(crate) fn from_raw(raw: u64) -> StepId {
        StepId(raw)
    }

    /// A fresh id, never returned before in this process.
    ///
    /// Each thread reserves a block of ids from one shared counter and hands them out
    /// without further synchronisation, so creating steps on 50 threads does not
    /// contend on a single cache line. Ids are unique, not dense or ordered across
    /// threads.
    pub(crate) fn fresh() -> StepId {
        const BLOCK: u64 = 1024;
        static NEXT_BLOCK: StdAtomicU64 = StdAtomicU64::new(0);
        thread_local! {
            // (next id to hand out, end of the reserved block); empty until first use.
            static RESERVED: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        RESERVED.with(|reserved| {
            let (mut next, mut end) = reserved.get();
            if next == end {
                next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
                end = next + BLOCK;
            }
            reserved.set((next + 1, end));
            StepId(next)
        })
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a step does. The root is the step a run starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepKind {
    /// The step a [`Context::root`](crate::Context::root) stands for.
    Root,
    /// Reading an input (a file, a table).
    Read,
    /// Parsing what was read.
    Parse,
    /// Resolving names across parsed units.
    Resolve,
    /// Executing resolved code.
    Exec,
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepKind::Root => "root",
            StepKind::Read => "read",
            StepKind::Parse => "parse",
            StepKind::Resolve => "resolve",
            StepKind::Exec => "exec",
        })
    }
}

/// One edge of the log: step `from` needs step `to`.
///
/// This is the crate's only edge direction, everywhere: `from` is the step that needs
/// (the parent, the dependent), `to` is the step needed (the child, the dependency).
/// `kind` is the kind of `to`. The record is `Copy` and 24 bytes, so logs store it by
/// value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dependency {
    /// The step that needs.
    pub from: StepId,
    /// The step needed.
    pub to: StepId,
    /// The kind of `to`.
    pub kind: StepKind,
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn step_ids_are_unique_across_threads() {
        let per_thread: Vec<Vec<StepId>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| (0..5_000).map(|_| StepId::fresh()).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let all: HashSet<StepId> = per_thread.iter().flatten().copied().collect();
        assert_eq!(all.len(), 8 * 5_000);
    }
}
