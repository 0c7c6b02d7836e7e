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

    /// The atoms that may unify with the expression pattern `items` (symbol head), in
    /// byte-path order.
    ///
    /// When the second item is a ground leaf (a symbol, number, string, space or state),
    /// only two subtries can hold a match: atoms with that very leaf there and atoms
    /// with a variable there (unification of leaves is equality). The key encoding is
    /// self-delimiting, so each is one prefix; visiting the two in tag order keeps the
    /// byte-path order a scan of the whole head subtrie would give. Fact bases queried
    /// by their first argument (`(parent p3 $x)`) visit only the facts about `p3`.
    fn candidates(&self, items: &[Atom]) -> Vec<Atom> {
        let head = crate::atom::expr_head_prefix(items.len(), &items[0]);
        let second = match items.get(1) {
            Some(second) if !matches!(second, Atom::Var(_) | Atom::Expr(_)) => second,
            _ => return self.atoms_under(&head),
        };
        let mut exact = head.clone();
        second.encode(&mut exact);
        let mut variable = head;
        variable.push(crate::atom::VAR_TAG);
        let (first, then) = if exact < variable {
            (exact, variable)
        } else {
            (variable, exact)
        };
        let mut out = self.atoms_under(&first);
        out.extend(self.atoms_under(&then));
        out
    }

    /// The bindings under which an atom of the space unifies with `pattern`, one per
    /// matching atom. The atoms' own variables are renamed apart from the pattern's.
    ///
    /// A pattern `(head ...)` with a symbol head only visits the subtrie of expressions
    /// of that length and head, because the key encoding puts both first.
    pub fn query(&self, pattern: &Atom, fresh: &mut u64) -> Vec<Bindings> {
        let candidates = match pattern.as_expr() {
            Some(items @ [Atom::Sym(_), ..]) => self.candidates(items),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Atom {
        crate::parser::parse_atom(text).expect("test atom parses")
    }

    /// The narrowed candidate set gives exactly what unifying against every atom gives,
    /// in the same order, including stored atoms with a variable where the pattern has
    /// a leaf.
    #[test]
    fn narrowed_query_equals_a_scan_of_every_atom() {
        let space = AtomSpace::from_atoms(
            [
                "(parent p3 p7)",
                "(parent p3 p8)",
                "(parent p30 p9)",
                "(parent $anyone p1)",
                "(parent \"p3\" p2)",
                "(parent 3 p4)",
                "(parent (p3) p5)",
                "(parent p3)",
                "(child p3 p6)",
            ]
            .map(p),
        );
        for pattern in ["(parent p3 $x)", "(parent 3 $x)", "(parent \"p3\" $x)"] {
            let pattern = p(pattern);
            let mut fresh = 0;
            let narrowed: Vec<Atom> = space
                .query(&pattern, &mut fresh)
                .iter()
                .map(|b| b.apply(&pattern))
                .collect();
            let scanned: Vec<Atom> = space
                .atoms()
                .iter()
                .filter_map(|atom| {
                    let renamed = rename(atom, 1_000, &mut HashMap::new());
                    let mut bindings = Bindings::new();
                    bindings
                        .unify(&pattern, &renamed)
                        .then(|| bindings.apply(&pattern))
                })
                .collect();
            assert_eq!(narrowed, scanned, "pattern {pattern:?}");
        }
        let mut fresh = 0;
        assert_eq!(space.query(&p("(parent p3 $x)"), &mut fresh).len(), 3);
    }
}
