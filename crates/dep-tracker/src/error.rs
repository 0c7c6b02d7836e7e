//! The crate's one error type.

use std::sync::Arc;

/// Everything that can go wrong in a dependency graph or an incremental build.
///
/// Errors are values a build stores and hands to every step that asked for the failed
/// one, so the type is `Clone` and `Eq` (the engine compares a re-run's result, error
/// included, with the previous one for early cutoff).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The dependencies form a cycle. `cycle` names the steps in order, starting and
    /// ending with the same step (`a -> b -> a`). Shared, because every member of a
    /// cycle reports it.
    #[error("dependency cycle: {}", .cycle.join(" -> "))]
    Cycle {
        /// The steps of the cycle, the first repeated at the end.
        cycle: Arc<[String]>,
    },
    /// A step's function panicked. The engine caught the panic; other steps and later
    /// builds are unaffected.
    #[error("step {step} panicked: {message}")]
    StepPanicked {
        /// The step, as its key's `Debug` form.
        step: String,
        /// The panic payload when it was a string, otherwise a placeholder.
        message: String,
    },
    /// A step's function returned an error of its own.
    #[error("step {step} failed: {message}")]
    StepFailed {
        /// The step, as its key's `Debug` form.
        step: String,
        /// What the step said.
        message: String,
    },
    /// A step asked for a key that is neither an input nor something the engine's step
    /// function can compute.
    #[error("unknown input {key}")]
    UnknownInput {
        /// The key, as its `Debug` form.
        key: String,
    },
}
