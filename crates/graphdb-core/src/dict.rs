//! The name dictionary (format version 4): labels, edge types and property keys stored
//! once, in the database header page, so that records name them by a small number.
//!
//! The dictionary is append-only: a name keeps its number for the life of the file, so a
//! record written at any time decodes with the dictionary of any later commit. It lives
//! in [`Meta`](crate::page::Meta) behind an `Arc`, so the header of the commit being
//! built and the committed header share it until a commit adds a name, and an abandoned
//! commit drops its names with the rest of its header. Room is bounded by the header
//! page; a name that does not fit (or is longer than [`MAX_NAME`]) is written inline in
//! the record instead (name reference 0), so the dictionary never limits what can be
//! stored.

use std::collections::HashMap;

use crate::error::{GraphError, Result};
use crate::page::{get_u16, put_u16, PAGE_SIZE};

/// Byte offset in page 0 of the dictionary's name count (`u16`).
pub(crate) const DICT_COUNT_AT: usize = 128;
/// Byte offset in page 0 of the bytes the names take (`u16`).
pub(crate) const DICT_USED_AT: usize = 130;
/// Byte offset in page 0 of the first name.
pub(crate) const DICT_AT: usize = 136;
/// Bytes of page 0 available to names.
pub(crate) const DICT_ROOM: usize = PAGE_SIZE - DICT_AT;
/// The longest name the dictionary takes (longer names are stored inline).
pub(crate) const MAX_NAME: usize = 127;

/// A multiplicative hasher for short names (SipHash costs more than the rest of a
/// property key's encoding).
#[derive(Default, Clone, Copy)]
pub(crate) struct NameHasher(u64);

impl std::hash::Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(29);
        }
        for &b in chunks.remainder() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
        }
        self.0 = h.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (h >> 32);
    }
}

type NameBuild = std::hash::BuildHasherDefault<NameHasher>;

/// The names and their numbers. Invariant: `names[i]` has number `i` in `index`, and
/// `used` is the encoded size of `names` (a one-byte length and the bytes per name), at
/// most [`DICT_ROOM`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Dict {
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, u32, NameBuild>,
    used: usize,
}

impl PartialEq for Dict {
    fn eq(&self, other: &Self) -> bool {
        self.names == other.names
    }
}

impl Eq for Dict {}

impl Dict {
    /// The number of `name`, if it is in the dictionary.
    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<u32> {
        if name.len() > MAX_NAME {
            return None;
        }
        self.index.get(name).copied()
    }

    /// The name numbered `i`.
    #[inline]
    pub(crate) fn name(&self, i: u64) -> Option<&str> {
        self.names.get(usize::try_from(i).ok()?).map(|s| &**s)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether `name` (not in the dictionary yet) would fit.
    pub(crate) fn has_room(&self, name: &str) -> bool {
        name.len() <= MAX_NAME
            && self.used + 1 + name.len() <= DICT_ROOM
            && self.names.len() < usize::from(u16::MAX)
    }

    /// Adds `name` if there is room; its number, or `None` when it must stay inline.
    pub(crate) fn add(&mut self, name: &str) -> Option<u32> {
        if let Some(i) = self.get(name) {
            return Some(i);
        }
        if !self.has_room(name) {
            return None;
        }
        let i = self.names.len() as u32;
        self.names.push(name.into());
        self.index.insert(name.into(), i);
        self.used += 1 + name.len();
        Some(i)
    }

    /// Writes the dictionary into the header page image `p`.
    pub(crate) fn write(&self, p: &mut [u8; PAGE_SIZE]) {
        put_u16(p, DICT_COUNT_AT, self.names.len() as u16);
        put_u16(p, DICT_USED_AT, self.used as u16);
        let mut at = DICT_AT;
        for n in &self.names {
            p[at] = n.len() as u8;
            p[at + 1..at + 1 + n.len()].copy_from_slice(n.as_bytes());
            at += 1 + n.len();
        }
    }

    /// Reads the dictionary from the header page image `p`.
    pub(crate) fn read(p: &[u8; PAGE_SIZE]) -> Result<Dict> {
        let bad = |what: &str| GraphError::corrupt(format!("name dictionary: {what}"), Some(0));
        let count = usize::from(get_u16(p, DICT_COUNT_AT));
        let used = usize::from(get_u16(p, DICT_USED_AT));
        if used > DICT_ROOM {
            return Err(bad("longer than its room"));
        }
        let area = &p[DICT_AT..DICT_AT + used];
        let mut d = Dict::default();
        let mut at = 0;
        while at < area.len() {
            let len = usize::from(area[at]);
            let Some(bytes) = area.get(at + 1..at + 1 + len) else {
                return Err(bad("name runs past its end"));
            };
            let name = std::str::from_utf8(bytes).map_err(|_| bad("invalid UTF-8"))?;
            if len > MAX_NAME || d.index.contains_key(name) {
                return Err(bad("a name too long or listed twice"));
            }
            d.add(name);
            at += 1 + len;
        }
        if d.names.len() != count || d.used != used {
            return Err(bad("count does not match its names"));
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_the_header_page() {
        let mut d = Dict::default();
        assert_eq!(d.add("Person"), Some(0));
        assert_eq!(d.add("KNOWS"), Some(1));
        assert_eq!(d.add("Person"), Some(0));
        assert_eq!(d.add(&"x".repeat(MAX_NAME + 1)), None);
        let mut p = Box::new([0u8; PAGE_SIZE]);
        d.write(&mut p);
        let back = Dict::read(&p).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.get("KNOWS"), Some(1));
        assert_eq!(back.name(0), Some("Person"));
        assert_eq!(back.name(2), None);
    }

    #[test]
    fn a_full_dictionary_refuses_names_and_a_bad_one_is_corruption() {
        let mut d = Dict::default();
        let mut added = 0;
        while d.add(&format!("{added:0>100}")).is_some() {
            added += 1;
        }
        assert_eq!(added, DICT_ROOM / 101);
        assert!(d.used <= DICT_ROOM);
        let mut p = Box::new([0u8; PAGE_SIZE]);
        d.write(&mut p);
        assert_eq!(Dict::read(&p).unwrap().len(), added);
        let mut q = p.clone();
        put_u16(&mut q[..], DICT_COUNT_AT, 3);
        assert!(matches!(Dict::read(&q), Err(GraphError::Corruption { .. })));
        let mut q = p.clone();
        q[DICT_AT] = 200;
        assert!(matches!(Dict::read(&q), Err(GraphError::Corruption { .. })));
        let mut q = p;
        put_u16(&mut q[..], DICT_USED_AT, u16::MAX);
        assert!(matches!(Dict::read(&q), Err(GraphError::Corruption { .. })));
    }
}
