//! The one place that chooses the harness's atomics and thread barrier.
//!
//! The harness has no loom models; the module exists so that, as in every crate of the
//! workspace, the rest of the code names no lock or atomic type directly.

pub(crate) use std::sync::atomic::{AtomicBool, Ordering};
pub(crate) use std::sync::Barrier;

#[cfg(test)]
pub(crate) use std::sync::atomic::AtomicU64;
