//! A copy-on-write rule environment for a MeTTa-style rewrite engine, and the engine.
//!
//! The crate has three layers:
//! - **The host language**: [`Atom`]s (symbols, integers, floats, strings, `$x`
//!   variables, expressions), an S-expression reader with line and column in its errors
//!   ([`parse_program`], [`parse_atom`]), unification, and an [`Interpreter`] with the
//!   reference MeTTa interpreter's semantics: rules `(= lhs rhs)` with nondeterministic
//!   results and bindings that flow outwards, `get-type` inference and argument type
//!   checks (`BadArgType`), type-directed evaluation, spaces, states, the assertion
//!   family and the standard library, evaluated on an explicit stack under a depth
//!   limit that turns runaway recursion into [`Error::DepthExceeded`].
//! - **The environment** ([`RuleEnvironment`]): the seed's seven fields (an atom trie
//!   `btm`, a rule index by head and arity, wildcard rules, multiplicities, an LRU
//!   pattern cache, a type index and its dirty flag) and its mutation and read methods.
//!   [`Environment`] is the copy-on-write design: O(1) clone, isolated handles, a first
//!   write that copies only a trie path, cache hits under a read lock, and a `union`
//!   that is a set union of atom instances and of removals (it never counts a shared
//!   base twice, never drops a side, and keeps a removal made on either side).
//!   [`MutexEnvironment`] and [`RwLockEnvironment`] are the seed's lock-per-field
//!   designs, kept for comparison.
//! - **The `.metta` runner** ([`run_file`], binary `metta-run`): adds top-level atoms,
//!   evaluates `!` forms, counts and checks every `assert*` form.
//!
//! It deliberately does not collect removal tombstones. The MeTTa it does not run yet is
//! listed in the crate README.
//!
//! Every field of an [`Environment`] is a persistent trie keyed by the one byte encoding
//! [`Atom::encode`]. The default backend, [`NativeTrie`], is this crate's own radix trie
//! and builds on every target with no flags; the seed's `pathmap` crate is available as
//! `Environment<PathMapTrie>` with the `pathmap` feature.
//!
//! ```
//! use cow_env::{parse_atom, AtomSpace, Environment, Interpreter, RuleEnvironment};
//!
//! let mut env = Environment::empty();
//! for line in ["(= (fib 0) 0)", "(= (fib 1) 1)",
//!              "(= (fib $n) (if (> $n 1) (+ (fib (- $n 1)) (fib (- $n 2))) (empty)))"] {
//!     env.add_atom(parse_atom(line).unwrap());
//! }
//! let snapshot = env.clone(); // O(1)
//! let mut interp = Interpreter::new(env);
//! assert_eq!(interp.eval(&parse_atom("(fib 10)").unwrap()).unwrap(), vec![parse_atom("55").unwrap()]);
//!
//! // A space snapshot is O(1) too, and spaces join into environments.
//! assert!(snapshot.create_space().contains(&parse_atom("(= (fib 0) 0)").unwrap()));
//! let mut other = Environment::empty();
//! other.update_pathmap(&AtomSpace::from_atoms([parse_atom("(colour sky blue)").unwrap()]));
//! assert_eq!(other.create_space().len(), 1);
//! ```
//!
//! # Feature flags
//!
//! Features only add; none changes a type another crate names.
//!
//! - `pathmap` (off by default): adds `PathMapTrie`, so that `Environment<PathMapTrie>`
//!   stores its fields in the `pathmap` crate (the seed's trie). `pathmap` hashes with
//!   `gxhash`, which does not compile on x86_64 without AES-NI and SSE2, so on x86_64 a
//!   build with this feature needs `RUSTFLAGS="-C target-feature=+aes,+sse2"` (or the same
//!   `rustflags` in the user's `.cargo/config.toml`). `Environment` itself (the
//!   [`NativeTrie`] backend) is the same type with or without the feature.
//!
//! [`LockedEnvironment`] without a type argument is `LockedEnvironment<RwLockKind>` (the
//! seed's "after"); [`MutexEnvironment`] is the seed's "before". Both always exist.
#![deny(missing_docs)]

mod atom;
mod cache;
mod environment;
mod error;
mod eval;
mod lineage;
mod locked;
mod parser;
mod rule;
mod runner;
mod space;
mod stdlib;
mod sync;
mod trie;
mod types;
mod unify;

pub use atom::Atom;
pub use cache::RuleList;
pub use environment::{Environment, RuleEnvironment, PATTERN_CACHE_CAPACITY};
pub use error::Error;
pub use eval::{eval_parallel, Interpreter, ASSERTIONS, DEFAULT_MAX_DEPTH, DEFAULT_MAX_RESULTS};
pub use locked::{LockedEnvironment, MutexEnvironment, RwLockEnvironment};
pub use parser::{parse_atom, parse_program, TopLevel};
pub use rule::{Rule, RuleId, RuleKey};
pub use runner::{run_file, run_source, same_multiset, Failure, RunReport};
pub use space::AtomSpace;
pub use sync::{
    FieldLock, LockKind, MutexCell, MutexKind, RwLockCell, RwLockKind, RwLockWriteHitKind,
};
#[cfg(feature = "pathmap")]
pub use trie::PathMapTrie;
pub use trie::{NativeTrie, TrieBackend};
pub use unify::{unify, Bindings};
