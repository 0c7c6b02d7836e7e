//! Copy-on-write rule environment of a MeTTa-style rewrite engine: a `PathMap` trie of
//! atoms, a rule index, a pattern cache and a type index, with O(1) clone, a cheap first
//! write and a union that merges relative to the common base.
//!
//! This crate is being built; see `docs/cow-env.md` for the plan. The trie is the
//! [`pathmap`] crate, built without its default features:
//!
//! ```
//! use pathmap::PathMap;
//!
//! let mut atoms = PathMap::<u32>::new();
//! atoms.set_val_at(b"(= (fib 0) 0)", 1);
//! assert_eq!(atoms.get(b"(= (fib 0) 0)"), Some(&1));
//! assert!(!atoms.contains(b"(= (fib 1) 1)"));
//! ```
#![deny(missing_docs)]
