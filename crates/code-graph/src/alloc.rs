//! The allocator of the `code-graph` binary: mimalloc, or the system allocator when the
//! environment says `CODE_GRAPH_ALLOCATOR=system` (for measuring one against the other
//! with the same binary).
//!
//! A build allocates and frees tens of millions of small blocks (syn's tokens and trees,
//! the per-file facts), and mimalloc does that for about a fifth less CPU time than
//! glibc's allocator (`vs-ctags` in `cargo xtask bench`). The library never sets a
//! global allocator; only the binary installs this one, under the `tools` feature.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{c_char, c_int, c_long, CStr};

use crate::sync::{AtomicU8, Ordering};

/// mimalloc unless `CODE_GRAPH_ALLOCATOR=system`; the choice is made at the first
/// allocation (before `main`, on the one thread there is) and never changes, so every
/// block is freed by the allocator that made it.
#[derive(Debug, Default, Clone, Copy)]
pub struct CliAllocator;

const UNDECIDED: u8 = 0;
const MIMALLOC: u8 = 1;
const SYSTEM: u8 = 2;

static CHOICE: AtomicU8 = AtomicU8::new(UNDECIDED);

extern "C" {
    // The C library's `getenv`: it does not allocate, so the allocator may call it.
    fn getenv(name: *const c_char) -> *const c_char;
    // mimalloc's option call (linked in by the `mimalloc` crate).
    fn mi_option_set(option: c_int, value: c_long);
}

/// `mi_option_purge_delay` in `mimalloc.h` (version 3, the one `mimalloc` 0.1.52
/// builds; the `libmimalloc-sys` bindings do not name it). A unit test checks that the
/// option at this index has the purge delay's default.
const MI_OPTION_PURGE_DELAY: c_int = 15;

/// How long freed memory may stay committed before mimalloc returns it, in
/// milliseconds. With mimalloc's default of a second, the memory a build frees between
/// its phases (a 20 MB file's syntax trees, then its facts) is still held at the peak:
/// 510 to 534 MB on the 20 MB file against 492 MB with the system allocator; at 100 ms,
/// 463 MB, with no CPU time lost on ordinary crates (a delay of 0 costs a fifth more).
const PURGE_DELAY_MS: c_long = 100;

/// Tunes the allocator for a build; call once at the start of `main`. Does nothing
/// with the system allocator, or when the user set `MIMALLOC_PURGE_DELAY` (mimalloc
/// reads it, and the user's value wins).
pub fn tune() {
    if system() || std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: plain calls into mimalloc with a valid option index.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}

#[inline]
fn system() -> bool {
    match CHOICE.load(Ordering::Relaxed) {
        MIMALLOC => false,
        SYSTEM => true,
        _ => {
            // SAFETY: the name is a NUL-terminated string; `getenv` returns null or a
            // NUL-terminated string that stays valid while the environment is not
            // changed (nothing changes it before the first allocation returns).
            let value = unsafe { getenv(c"CODE_GRAPH_ALLOCATOR".as_ptr()) };
            let system = !value.is_null() && unsafe { CStr::from_ptr(value) } == c"system";
            CHOICE.store(if system { SYSTEM } else { MIMALLOC }, Ordering::Relaxed);
            system
        }
    }
}

// SAFETY: every call is forwarded to one of two allocators, the same one for the whole
// life of the process (see `CHOICE`), so blocks are freed and resized by their maker.
unsafe impl GlobalAlloc for CliAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe {
            if system() {
                System.alloc(layout)
            } else {
                mimalloc::MiMalloc.alloc(layout)
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe {
            if system() {
                System.alloc_zeroed(layout)
            } else {
                mimalloc::MiMalloc.alloc_zeroed(layout)
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was made by the same allocator (the choice never changes).
        unsafe {
            if system() {
                System.dealloc(ptr, layout)
            } else {
                mimalloc::MiMalloc.dealloc(ptr, layout)
            }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`.
        unsafe {
            if system() {
                System.realloc(ptr, layout, new_size)
            } else {
                mimalloc::MiMalloc.realloc(ptr, layout, new_size)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern "C" {
        fn mi_option_get(option: c_int) -> c_long;
    }

    /// mimalloc's default purge delay, in milliseconds.
    const DEFAULT_PURGE_DELAY: c_long = 1000;

    #[test]
    fn the_purge_delay_option_index_is_mimallocs() {
        // If a mimalloc update renumbered its options, the index would name another
        // option, whose default is not the purge delay's.
        let value = unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(value, DEFAULT_PURGE_DELAY);
        }
    }
}
