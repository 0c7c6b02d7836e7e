//! The crate's one error type.

/// Everything that can go wrong while loading, checking or evaluating a program, or
/// while running tasks on the [`WorkQueue`](crate::WorkQueue).
///
/// Positions are 1-based `line:column` in the named file. The type is `Clone` and
/// `PartialEq` because one binding's failure is shared with every binding that depends
/// on it, and because the tests compare the parallel engine's error with the
/// sequential one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The source does not follow the grammar.
    #[error("{file}:{line}:{col}: syntax error: {message}")]
    Syntax {
        /// The module's file (or in-memory name).
        file: String,
        /// Line.
        line: u32,
        /// Column.
        col: u32,
        /// What was expected.
        message: String,
    },
    /// The program is not well typed.
    #[error("{file}:{line}:{col}: type error: {message}")]
    Type {
        /// The module's file.
        file: String,
        /// Line.
        line: u32,
        /// Column.
        col: u32,
        /// What does not fit.
        message: String,
    },
    /// Evaluation failed (division by zero, overflow, a refinement predicate that
    /// returned false, no matching arm, ...).
    #[error("{file}:{line}:{col}: evaluation error in `{binding}`: {message}")]
    Eval {
        /// The module's file.
        file: String,
        /// The top-level binding being evaluated.
        binding: String,
        /// Line.
        line: u32,
        /// Column.
        col: u32,
        /// What went wrong.
        message: String,
    },
    /// The configured timeout passed; evaluation stopped cooperatively.
    #[error("{file}:{line}:{col}: evaluation timed out after {after_ms} ms while evaluating `{binding}`")]
    EvaluationTimeout {
        /// The timeout that was exceeded, in milliseconds.
        after_ms: u64,
        /// The module being evaluated when the timeout was noticed.
        file: String,
        /// The top-level binding being evaluated.
        binding: String,
        /// Line of the expression being evaluated.
        line: u32,
        /// Column of the expression being evaluated.
        col: u32,
    },
    /// The evaluation took more steps than allowed.
    #[error("{file}:{line}:{col}: step limit of {limit} exceeded while evaluating `{binding}`")]
    StepLimit {
        /// The configured limit.
        limit: u64,
        /// The module.
        file: String,
        /// The top-level binding.
        binding: String,
        /// Line.
        line: u32,
        /// Column.
        col: u32,
    },
    /// Evaluation nested deeper than allowed (usually unbounded recursion).
    #[error("{file}:{line}:{col}: recursion limit of {limit} nested evaluations exceeded while evaluating `{binding}`")]
    RecursionLimit {
        /// The configured limit.
        limit: usize,
        /// The module.
        file: String,
        /// The top-level binding.
        binding: String,
        /// Line.
        line: u32,
        /// Column.
        col: u32,
    },
    /// Type checking took more steps than [`Config::max_check_steps`](crate::Config)
    /// allows.
    #[error("{file}: type checking exceeded its limit of {limit} steps")]
    CheckLimit {
        /// The module being checked.
        file: String,
        /// The configured limit.
        limit: u64,
    },
    /// The configured timeout passed outside evaluation (while reading, parsing, type
    /// checking or writing the result).
    #[error("{file}: timed out after {after_ms} ms while {phase}")]
    Timeout {
        /// The timeout, in milliseconds.
        after_ms: u64,
        /// The file being worked on.
        file: String,
        /// What was being done: `parsing`, `type checking`, `writing the result`.
        phase: String,
    },
    /// An operation would build a string, list or record larger than
    /// [`Config::max_value_size`](crate::Config) allows.
    #[error("{file}:{line}:{col}: value too large in `{binding}`: {message}")]
    ValueTooLarge {
        /// The module.
        file: String,
        /// The top-level binding being evaluated.
        binding: String,
        /// Line.
        line: u32,
        /// Column.
        col: u32,
        /// What would have been built, and the limit.
        message: String,
    },
    /// A module file is larger than [`Config::max_input_size`](crate::Config) allows.
    #[error("{path}: input too large: {size} bytes, the limit is {limit}")]
    InputTooLarge {
        /// The file.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// An imported module does not exist.
    #[error("{file}:{line}:{col}: import `{path}` not found")]
    ImportNotFound {
        /// The importing module.
        file: String,
        /// Line of the import.
        line: u32,
        /// Column of the import.
        col: u32,
        /// The import as written.
        path: String,
    },
    /// An import names a file outside the resolver's root directory.
    #[error("{file}:{line}:{col}: import `{path}` escapes the root directory")]
    ImportEscape {
        /// The importing module.
        file: String,
        /// Line of the import.
        line: u32,
        /// Column of the import.
        col: u32,
        /// The import as written.
        path: String,
    },
    /// Modules import each other in a cycle.
    #[error("import cycle: {}", cycle.join(" -> "))]
    ImportCycle {
        /// The modules of the cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// A file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The value cannot be written as JSON (a function, a non-finite float).
    #[error("cannot serialise the result: {message}")]
    Serialise {
        /// Why.
        message: String,
    },
    /// A [`Config`](crate::Config) setting is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A task of the work queue failed, or one of its dependencies did.
    #[error("task {task} failed: {message}")]
    TaskFailed {
        /// The task.
        task: u64,
        /// Why.
        message: String,
    },
    /// A task was submitted with a dependency the queue does not know.
    #[error("task depends on unknown task {dependency}")]
    UnknownDependency {
        /// The missing task id.
        dependency: u64,
    },
    /// The work queue no longer accepts tasks.
    #[error("the work queue is closed")]
    QueueClosed,
}

impl Error {
    /// Whether this is a resource limit (timeout, steps, recursion) rather than a fault
    /// of the program: such results are never cached.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            Error::EvaluationTimeout { .. }
                | Error::Timeout { .. }
                | Error::CheckLimit { .. }
                | Error::ValueTooLarge { .. }
                | Error::InputTooLarge { .. }
                | Error::StepLimit { .. }
                | Error::RecursionLimit { .. }
        )
    }
}
