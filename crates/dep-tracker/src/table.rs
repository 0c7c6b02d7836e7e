//! The engine's memo table: a hash table whose lookups take no lock and write nothing
//! shared, so checking whether a key is current costs loads only.
//!
//! Keys are split over shards by the high bits of their hash. Each shard has a mutex
//! that serialises every change (inserting a key, publishing a memo, claiming a key for
//! a running frame) and an open-addressed index of entry pointers that readers probe
//! without it. Nothing a reader can reach is freed or moved while the table is shared:
//!
//! - entries live in chunks of the shard's arena, which only ever grow, and are dropped
//!   with the table;
//! - an index that was outgrown is kept (frozen) until the next `&mut` access, so a
//!   reader still probing it finds every entry it had, and one inserted since not at
//!   all, which sends the reader to the locked path;
//! - a memo that was replaced is kept until the next `&mut` access
//!   ([`Table::release_retired`]), so `&M` borrowed from `&Table` stays valid for as long
//!   as the borrow.
//!
//! The frame that holds a key's claim is an `Arc` the entry owns; it is set, counted
//! for another thread and taken out only under the shard's lock, so no thread counts a
//! frame that is being freed.
//!
//! Publication: an entry is fully written before the `Release` store of its pointer
//! into the index, a memo before the `Release` store of its pointer into the entry, an
//! index before the `Release` store that makes it current; readers load each with
//! `Acquire`.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::sync::Arc;

use crate::sync::{Ordering, StdAtomicPtr, StdGuard, StdMutex};

/// Number of independently locked shards.
const SHARDS: usize = 32;

/// Index slots of a shard when the table is created (a power of two): room for 128
/// keys a shard, 4,096 in all (64 KiB of slots a table), before the first growth, so
/// a build of a few thousand keys does not grow and zero indexes while it runs.
const FIRST_INDEX: usize = 256;

/// Entries in a shard's first arena chunk; each further chunk doubles.
const FIRST_CHUNK: usize = 64;

/// One key of the table: its memo, if any, and the frame running it, if any.
pub(crate) struct Entry<K, M, R> {
    hash: u64,
    key: K,
    /// Null, or a pointer from `Box::into_raw` that this entry owns (a raw pointer, not
    /// a `Box`, since readers share it). Written only under the shard's lock, read by
    /// anyone.
    memo: StdAtomicPtr<M>,
    /// Null, or a pointer from `Arc::into_raw` that this entry owns. Read and written
    /// only under the shard's lock (an atomic only so that entries can be shared).
    running: StdAtomicPtr<R>,
    /// The entry owns an `M` and an `Arc<R>`: it is `Send` and `Sync` only when an
    /// `Arc<M>` (shared by readers) and an `Arc<R>` are.
    _owns: PhantomData<(Arc<M>, Arc<R>)>,
}

impl<K, M, R> Entry<K, M, R> {
    pub(crate) fn key(&self) -> &K {
        &self.key
    }

    /// The entry's latest memo.
    #[inline]
    pub(crate) fn memo(&self) -> Option<&M> {
        let memo = self.memo.load(Ordering::Acquire);
        // SAFETY: a non-null pointer came from `Box::into_raw` and its memo was written
        // before the `Release` store that published it (this `Acquire` load pairs with
        // it). The memo is freed only by `release_retired` or `Drop`, which take
        // `&mut Table`, so it outlives this `&self`.
        unsafe { memo.as_ref() }
    }
}

impl<K, M, R> Drop for Entry<K, M, R> {
    fn drop(&mut self) {
        let memo = *self.memo.get_mut();
        if !memo.is_null() {
            // SAFETY: the entry owns the memo; with `&mut self` no reader holds it.
            drop(unsafe { Box::from_raw(memo) });
        }
        let running = *self.running.get_mut();
        if !running.is_null() {
            // SAFETY: as above.
            drop(unsafe { Arc::from_raw(running) });
        }
    }
}

/// An open-addressed index of entry pointers, at most half full, so every probe meets
/// a null slot. Slots are only ever filled, once each.
struct Index<K, M, R> {
    mask: usize,
    slots: Box<[StdAtomicPtr<Entry<K, M, R>>]>,
}

impl<K, M, R> Index<K, M, R> {
    fn with_slots(slots: usize) -> Self {
        Index {
            mask: slots - 1,
            slots: (0..slots)
                .map(|_| StdAtomicPtr::new(std::ptr::null_mut()))
                .collect(),
        }
    }

    /// Stores `entry` into the first free slot of its probe sequence.
    fn place(&self, entry: *mut Entry<K, M, R>, hash: u64) {
        let mut i = hash as usize & self.mask;
        while !self.slots[i].load(Ordering::Relaxed).is_null() {
            i = (i + 1) & self.mask;
        }
        self.slots[i].store(entry, Ordering::Release);
    }
}

/// What a shard's lock guards.
struct ShardState<K, M, R> {
    /// Number of entries.
    len: usize,
    /// The arena: each chunk is allocated with its final capacity and only pushed to
    /// while it has room, so an entry never moves.
    chunks: Vec<Vec<Entry<K, M, R>>>,
    /// Outgrown indexes and replaced memos, kept for readers that may still hold them.
    retired_indexes: Vec<Arc<Index<K, M, R>>>,
    retired_memos: Vec<Retired<M>>,
}

/// A replaced memo, freed when this is dropped (only with `&mut Table`).
struct Retired<M>(std::ptr::NonNull<M>);

// SAFETY: a `Retired<M>` owns its memo like a `Box<M>` does, and readers share it like
// an `Arc<M>`: it may move to, and be dropped on, another thread when `M` may.
unsafe impl<M: Send + Sync> Send for Retired<M> {}
// SAFETY: as above; it gives no access to the memo.
unsafe impl<M: Send + Sync> Sync for Retired<M> {}

impl<M> Drop for Retired<M> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::into_raw` and was owned by an entry that
        // handed it here; it is dropped only by `release_retired` or the table's drop,
        // which have `&mut Table`, so no reader holds it.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

#[repr(align(128))]
struct Shard<K, M, R> {
    /// The current index: a pointer from `Arc::into_raw`, owned by the shard. Replaced
    /// only under `state`'s lock.
    index: StdAtomicPtr<Index<K, M, R>>,
    state: StdMutex<ShardState<K, M, R>>,
    _owns: PhantomData<Arc<Index<K, M, R>>>,
}

impl<K, M, R> Shard<K, M, R> {
    fn new() -> Self {
        Shard {
            index: StdAtomicPtr::new(
                Arc::into_raw(Arc::new(Index::with_slots(FIRST_INDEX))).cast_mut(),
            ),
            state: StdMutex::new(ShardState {
                len: 0,
                chunks: Vec::new(),
                retired_indexes: Vec::new(),
                retired_memos: Vec::new(),
            }),
            _owns: PhantomData,
        }
    }

    #[inline]
    fn index(&self) -> &Index<K, M, R> {
        // SAFETY: the pointer came from `Arc::into_raw` and was published with
        // `Release`; an index that is replaced is kept in `retired_indexes` until
        // `&mut` access, so it outlives `&self`.
        unsafe { &*self.index.load(Ordering::Acquire) }
    }
}

impl<K, M, R> Drop for Shard<K, M, R> {
    fn drop(&mut self) {
        // SAFETY: the shard owns the `Arc` the current index pointer came from.
        drop(unsafe { Arc::from_raw(*self.index.get_mut()) });
    }
}

/// The memo table: keys `K` to entries holding an `Arc<M>` (the memo) and an `Arc<R>`
/// (the running frame).
pub(crate) struct Table<K, M, R> {
    shards: Box<[Shard<K, M, R>]>,
}

/// Locks a shard's state. Every change under it (a push, a pointer swap, a `Vec`
/// push) leaves the state valid, and no user code runs under it except `K::clone` and
/// `K::eq`, which cannot leave it half-changed, so a poisoned lock still guards a valid
/// state.
fn lock<T>(mutex: &StdMutex<T>) -> StdGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn shard_of(hash: u64) -> usize {
    // The high bits: the index uses the low ones.
    (hash >> 58) as usize % SHARDS
}

impl<K: Eq, M, R> Table<K, M, R> {
    pub(crate) fn new() -> Self {
        Table {
            shards: (0..SHARDS).map(|_| Shard::new()).collect(),
        }
    }

    /// The entry of `key` (whose hash is `hash`), without taking a lock. `None` may
    /// also mean that the key was inserted while this ran: ask again under the lock.
    #[inline]
    pub(crate) fn find(&self, key: &K, hash: u64) -> Option<&Entry<K, M, R>> {
        find_in(self.shards[shard_of(hash)].index(), key, hash)
    }

    /// Locks the shard of `hash` for changes.
    pub(crate) fn lock(&self, hash: u64) -> Locked<'_, K, M, R> {
        let shard = &self.shards[shard_of(hash)];
        Locked {
            shard,
            at: shard_of(hash),
            state: lock(&shard.state),
        }
    }

    /// Frees the replaced memos and outgrown indexes kept for readers: with `&mut self`
    /// there are none.
    pub(crate) fn release_retired(&mut self) {
        for shard in self.shards.iter_mut() {
            let state = shard
                .state
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state.retired_memos.clear();
            state.retired_indexes.clear();
        }
    }

    /// Calls `f` with every entry, shard by shard, each shard under its lock.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Entry<K, M, R>)) {
        for shard in self.shards.iter() {
            let state = lock(&shard.state);
            state.chunks.iter().flatten().for_each(&mut f);
        }
    }
}

#[inline]
fn find_in<'a, K: Eq, M, R>(
    index: &'a Index<K, M, R>,
    key: &K,
    hash: u64,
) -> Option<&'a Entry<K, M, R>> {
    let mut i = hash as usize & index.mask;
    loop {
        let entry = index.slots[i].load(Ordering::Acquire);
        // SAFETY: a non-null slot points into an arena chunk of the same shard, written
        // before the `Release` store that filled the slot; chunks never move their
        // entries and are dropped only with the table, which `'a` outlives.
        let entry = unsafe { entry.as_ref() }?;
        if entry.hash == hash && entry.key == *key {
            return Some(entry);
        }
        i = (i + 1) & index.mask;
    }
}

/// A shard, locked for changes. Entries and memos it hands out borrow the table, not
/// the guard.
pub(crate) struct Locked<'a, K, M, R> {
    shard: &'a Shard<K, M, R>,
    /// The shard's number: the methods that change an entry take only entries of it.
    at: usize,
    state: StdGuard<'a, ShardState<K, M, R>>,
}

impl<'a, K: Eq + Clone, M, R> Locked<'a, K, M, R> {
    /// The entry of `key`, inserted (without memo or frame) if it has none.
    pub(crate) fn entry(&mut self, key: &K, hash: u64) -> &'a Entry<K, M, R> {
        let index = self.shard.index();
        if let Some(entry) = find_in(index, key, hash) {
            return entry;
        }
        let state = &mut *self.state;
        if (state.len + 1) * 2 > index.slots.len() {
            let grown = Index::with_slots(index.slots.len() * 2);
            for entry in state.chunks.iter().flatten() {
                grown.place(std::ptr::from_ref(entry).cast_mut(), entry.hash);
            }
            let old = self
                .shard
                .index
                .swap(Arc::into_raw(Arc::new(grown)).cast_mut(), Ordering::AcqRel);
            // SAFETY: the shard owned the `Arc` of the index it just replaced.
            state.retired_indexes.push(unsafe { Arc::from_raw(old) });
        }
        let room = state.chunks.last().is_some_and(|c| c.len() < c.capacity());
        if !room {
            let size = state
                .chunks
                .last()
                .map_or(FIRST_CHUNK, |c| c.capacity() * 2);
            state.chunks.push(Vec::with_capacity(size));
        }
        let Some(chunk) = state.chunks.last_mut() else {
            unreachable!("a chunk with room was just ensured")
        };
        let at = chunk.len();
        chunk.push(Entry {
            hash,
            key: key.clone(),
            memo: StdAtomicPtr::new(std::ptr::null_mut()),
            running: StdAtomicPtr::new(std::ptr::null_mut()),
            _owns: PhantomData,
        });
        // The chunk never reallocates (it had room), so the entry stays at this address
        // for as long as the table lives.
        let entry = chunk.as_mut_ptr().wrapping_add(at);
        state.len += 1;
        self.shard.index().place(entry, hash);
        // SAFETY: just written, never moved or freed before the table is.
        unsafe { &*entry }
    }

    /// Publishes `memo` as the entry's memo and returns it; the memo it replaces is
    /// kept until [`Table::release_retired`].
    pub(crate) fn set_memo(&mut self, entry: &'a Entry<K, M, R>, memo: Box<M>) -> &'a M {
        debug_assert_eq!(shard_of(entry.hash), self.at, "an entry of another shard");
        let new = Box::into_raw(memo);
        // Only this lock's holder writes the field, so a load and a store do what a
        // swap would, without a read-modify-write.
        let old = entry.memo.load(Ordering::Relaxed);
        entry.memo.store(new, Ordering::Release);
        if let Some(old) = std::ptr::NonNull::new(old) {
            // The entry owned the memo it just replaced; readers may still use it, so
            // it is only moved to the retired list, not dropped.
            self.state.retired_memos.push(Retired(old));
        }
        // SAFETY: published above; freed only with `&mut Table`.
        unsafe { &*new }
    }

    /// The frame running the entry's key, if any.
    pub(crate) fn running(&self, entry: &Entry<K, M, R>) -> Option<Arc<R>> {
        debug_assert_eq!(shard_of(entry.hash), self.at, "an entry of another shard");
        let running = entry.running.load(Ordering::Relaxed);
        if running.is_null() {
            return None;
        }
        // SAFETY: the entry owns one count of this `Arc` and changes it only under the
        // lock this guard holds, so it is alive; this adds a count for the caller.
        unsafe {
            Arc::increment_strong_count(running);
            Some(Arc::from_raw(running))
        }
    }

    /// Makes `running` the frame running the entry's key (the entry must have none)
    /// and returns a handle to it that holds no count of its own.
    ///
    /// # Safety
    ///
    /// The handle is valid only while the entry keeps `running`: the caller must not
    /// use it after [`take_running`](Self::take_running) took the frame out of this
    /// entry (that call returns an owned `Arc` to finish with).
    pub(crate) unsafe fn claim(
        &mut self,
        entry: &Entry<K, M, R>,
        running: Arc<R>,
    ) -> ManuallyDrop<Arc<R>> {
        debug_assert_eq!(shard_of(entry.hash), self.at, "an entry of another shard");
        debug_assert!(entry.running.load(Ordering::Relaxed).is_null());
        let raw = Arc::into_raw(running);
        entry.running.store(raw.cast_mut(), Ordering::Relaxed);
        // SAFETY: the entry holds the count of `raw`; the handle never drops it, and
        // the caller promises not to use it after the entry gives it up.
        ManuallyDrop::new(unsafe { Arc::from_raw(raw) })
    }

    /// Takes the frame running the entry's key out of it.
    pub(crate) fn take_running(&mut self, entry: &Entry<K, M, R>) -> Option<Arc<R>> {
        debug_assert_eq!(shard_of(entry.hash), self.at, "an entry of another shard");
        let old = entry.running.load(Ordering::Relaxed);
        if old.is_null() {
            return None;
        }
        entry.running.store(std::ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: the entry owned the count it just gave up; only this lock's holder
        // reads the field.
        Some(unsafe { Arc::from_raw(old) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u64) -> u64 {
        // Spread over shards and slots alike, with collisions in the low bits.
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15) & !0xF0
    }

    #[test]
    fn entries_stay_put_while_indexes_grow_and_memos_are_replaced() {
        let mut table: Table<u64, String, u8> = Table::new();
        let n = if cfg!(miri) { 300 } else { 5_000 };
        let mut seen = Vec::new();
        for k in 0..n {
            let mut locked = table.lock(hash(k));
            let entry = locked.entry(&k, hash(k));
            let memo = locked.set_memo(entry, Box::new(format!("v{k}")));
            seen.push((entry as *const Entry<u64, String, u8>, memo.clone()));
        }
        for k in 0..n {
            let entry = table.find(&k, hash(k)).map(|e| e as *const _);
            assert_eq!(entry, Some(seen[k as usize].0), "key {k}");
        }
        assert!(table.find(&n, hash(n)).is_none());
        // Replacing a memo keeps the old one readable until `release_retired`.
        let first = table.find(&0, hash(0)).and_then(Entry::memo);
        let old = first.map(String::as_str);
        {
            let mut locked = table.lock(hash(0));
            let entry = locked.entry(&0, hash(0));
            locked.set_memo(entry, Box::new("new".to_owned()));
        }
        assert_eq!(old, Some("v0"));
        table.release_retired();
        let now = table.find(&0, hash(0)).and_then(Entry::memo).cloned();
        assert_eq!(now.as_deref(), Some("new"));
        let mut count = 0;
        table.for_each(|_| count += 1);
        assert_eq!(count, n);
    }

    #[test]
    fn running_frames_are_counted_and_released() {
        let table: Table<u64, u8, String> = Table::new();
        let frame = Arc::new("frame".to_owned());
        let mut locked = table.lock(hash(7));
        let entry = locked.entry(&7, hash(7));
        assert!(locked.running(entry).is_none());
        // SAFETY: `handle` is not used after `take_running`.
        let handle = unsafe { locked.claim(entry, Arc::clone(&frame)) };
        assert_eq!(handle.as_str(), "frame");
        let got = locked.running(entry);
        assert_eq!(got.as_deref().map(String::as_str), Some("frame"));
        assert_eq!(Arc::strong_count(&frame), 3);
        drop(got);
        let taken = locked.take_running(entry);
        assert!(taken.is_some_and(|t| Arc::ptr_eq(&t, &frame)));
        assert!(locked.take_running(entry).is_none());
        assert_eq!(Arc::strong_count(&frame), 1);
        // A frame left running is released with the table.
        // SAFETY: the handle is not used.
        let _handle = unsafe { locked.claim(entry, Arc::clone(&frame)) };
        drop(locked);
        drop(table);
        assert_eq!(Arc::strong_count(&frame), 1);
    }

    #[test]
    fn readers_on_other_threads_see_whole_entries_while_a_writer_inserts() {
        let table: Table<u64, u64, u8> = Table::new();
        let n: u64 = if cfg!(miri) { 200 } else { 20_000 };
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let mut found = 0;
                    while found < n {
                        found = 0;
                        for k in 0..n {
                            if let Some(entry) = table.find(&k, hash(k)) {
                                assert_eq!(*entry.key(), k);
                                if let Some(memo) = entry.memo() {
                                    assert_eq!(*memo, k * 3);
                                    found += 1;
                                }
                            }
                        }
                    }
                });
            }
            for k in 0..n {
                let mut locked = table.lock(hash(k));
                let entry = locked.entry(&k, hash(k));
                locked.set_memo(entry, Box::new(k * 3));
            }
        });
    }
}
