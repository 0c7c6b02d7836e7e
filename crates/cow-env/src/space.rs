//! A read-only snapshot of an environment's atoms, for `match`.

use std::collections::HashMap;

use crate::unify::{rename, Bindings};
use crate::{trie, Atom};

/// The atoms of an environment at one moment (`create_space`). Taking it is O(1): it
/// shares the trie with the environment, and later writes to the environment do not
/// show through.
#[derive(Debug, Clone)]
pub struct AtomSpace {
    btm: trie::Atoms,
}

impl AtomSpace {
    pub(crate) fn new(btm: trie::Atoms) -> Self {
        AtomSpace { btm }
    }

    /// A space holding `atoms` (each once).
    pub fn from_atoms(atoms: impl IntoIterator<Item = Atom>) -> Self {
        AtomSpace::new(trie::Atoms::from_paths(
            atoms.into_iter().map(|a| a.to_path()),
        ))
    }

    /// Whether the space holds `atom`.
    pub fn contains(&self, atom: &Atom) -> bool {
        self.btm.contains(atom.to_path())
    }

    /// The number of distinct atoms.
    pub fn len(&self) -> usize {
        self.btm.val_count()
    }

    /// Whether the space is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every atom, in byte-path order. Paths that do not decode (none are written by
    /// this crate) are skipped.
    pub fn atoms(&self) -> Vec<Atom> {
        self.atoms_under(&[])
    }

    fn atoms_under(&self, prefix: &[u8]) -> Vec<Atom> {
        let mut out = Vec::new();
        trie::for_each_under(&self.btm, prefix, |suffix, _| {
            let mut path = Vec::with_capacity(prefix.len() + suffix.len());
            path.extend_from_slice(prefix);
            path.extend_from_slice(suffix);
            if let Ok(atom) = Atom::from_path(&path) {
                out.push(atom);
            }
        });
        out
    }

    /// The bindings under which an atom of the space unifies with `pattern`, one per
    /// matching atom. The atoms' own variables are renamed apart from the pattern's.
    ///
    /// A pattern `(head ...)` with a symbol head only visits the subtrie of expressions
    /// of that length and head, because the key encoding puts both first.
    pub fn query(&self, pattern: &Atom, fresh: &mut u64) -> Vec<Bindings> {
        let candidates = match pattern.as_expr() {
            Some(items @ [Atom::Sym(_), ..]) => {
                self.atoms_under(&crate::atom::expr_head_prefix(items.len(), &items[0]))
            }
            _ => self.atoms(),
        };
        let mut out = Vec::new();
        for atom in candidates {
            *fresh += 1;
            let renamed = rename(&atom, *fresh, &mut HashMap::new());
            let mut bindings = Bindings::new();
            if bindings.unify(pattern, &renamed) {
                out.push(bindings);
            }
        }
        out
    }
}
