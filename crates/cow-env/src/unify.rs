//! Syntactic unification of atoms with variable bindings.

use std::collections::HashMap;
use std::sync::Arc;

use crate::Atom;

/// A substitution from variable names to atoms. Bindings may refer to other variables;
/// [`Bindings::apply`] resolves them fully.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bindings {
    map: HashMap<Arc<str>, Atom>,
}

impl Bindings {
    /// No bindings.
    pub fn new() -> Self {
        Bindings::default()
    }

    /// Whether nothing is bound.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The bindings of both `self` and `other`, or `None` when they disagree on a
    /// variable.
    pub fn merge(&self, other: &Bindings) -> Option<Bindings> {
        if other.map.is_empty() {
            return Some(self.clone());
        }
        if self.map.is_empty() {
            return Some(other.clone());
        }
        let mut out = self.clone();
        for (name, value) in &other.map {
            if !out.unify(&Atom::Var(name.clone()), value) {
                return None;
            }
        }
        Some(out)
    }

    /// The fully resolved values of those of `vars` that are bound here.
    pub fn restricted(&self, vars: &[Arc<str>]) -> Bindings {
        let mut out = Bindings::new();
        if self.map.is_empty() {
            return out;
        }
        for name in vars {
            if self.map.contains_key(name) {
                let value = self.apply(&Atom::Var(name.clone()));
                if value != Atom::Var(name.clone()) {
                    out.map.insert(name.clone(), value);
                }
            }
        }
        out
    }

    /// The atom bound to `name`, if any (not resolved further).
    pub fn get(&self, name: &str) -> Option<&Atom> {
        self.map.get(name)
    }

    fn walk<'a>(&'a self, mut atom: &'a Atom) -> &'a Atom {
        while let Atom::Var(name) = atom {
            match self.map.get(name) {
                Some(next) => atom = next,
                None => break,
            }
        }
        atom
    }

    fn occurs(&self, name: &str, atom: &Atom) -> bool {
        match self.walk(atom) {
            Atom::Var(other) => **other == *name,
            Atom::Expr(items) => items.iter().any(|item| self.occurs(name, item)),
            _ => false,
        }
    }

    /// Unifies `a` with `b`, extending the bindings. On failure the bindings may hold
    /// partial work; callers unify into a copy.
    pub fn unify(&mut self, a: &Atom, b: &Atom) -> bool {
        let (a, b) = (self.walk(a).clone(), self.walk(b).clone());
        match (&a, &b) {
            (Atom::Var(x), Atom::Var(y)) if x == y => true,
            (Atom::Var(x), other) | (other, Atom::Var(x)) => {
                // The occurs check keeps every binding finite, so `apply` terminates.
                if self.occurs(x, other) {
                    return false;
                }
                self.map.insert(x.clone(), other.clone());
                true
            }
            (Atom::Expr(xs), Atom::Expr(ys)) => {
                xs.len() == ys.len() && xs.iter().zip(ys.iter()).all(|(x, y)| self.unify(x, y))
            }
            _ => a == b,
        }
    }

    /// Replaces every bound variable of `atom` by its (fully resolved) value.
    pub fn apply(&self, atom: &Atom) -> Atom {
        if self.map.is_empty() {
            return atom.clone();
        }
        match self.walk(atom) {
            Atom::Expr(items) => Atom::expr(
                items
                    .iter()
                    .map(|item| self.apply(item))
                    .collect::<Vec<_>>(),
            ),
            other => other.clone(),
        }
    }
}

/// Unifies two atoms from scratch; `None` if they do not unify.
///
/// ```
/// use cow_env::{parse_atom, unify};
/// let b = unify(&parse_atom("(f $x 2)").unwrap(), &parse_atom("(f 1 $y)").unwrap()).unwrap();
/// assert_eq!(b.apply(&parse_atom("($x $y)").unwrap()).to_string(), "(1 2)");
/// ```
pub fn unify(a: &Atom, b: &Atom) -> Option<Bindings> {
    let mut bindings = Bindings::new();
    bindings.unify(a, b).then_some(bindings)
}

/// Renames every variable of `atom` by appending `#suffix`, so a rule's variables
/// cannot collide with the query's (standardising apart).
pub(crate) fn rename(atom: &Atom, suffix: u64, cache: &mut HashMap<Arc<str>, Atom>) -> Atom {
    match atom {
        Atom::Var(name) => cache
            .entry(name.clone())
            .or_insert_with(|| Atom::var(&format!("{name}#{suffix}")))
            .clone(),
        Atom::Expr(items) => Atom::expr(
            items
                .iter()
                .map(|item| rename(item, suffix, cache))
                .collect::<Vec<_>>(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_atom;

    fn p(text: &str) -> Atom {
        parse_atom(text).unwrap()
    }

    #[test]
    fn unifies_both_directions_and_chains() {
        let b = unify(&p("(f $x $x)"), &p("(f $y 3)")).unwrap();
        assert_eq!(b.apply(&p("$x")), Atom::Int(3));
        assert_eq!(b.apply(&p("$y")), Atom::Int(3));
    }

    #[test]
    fn mismatches_and_occurs_check_fail() {
        assert!(unify(&p("(f 1)"), &p("(f 2)")).is_none());
        assert!(unify(&p("(f 1)"), &p("(f 1 2)")).is_none());
        assert!(unify(&p("$x"), &p("(g $x)")).is_none());
        assert!(unify(&p("1"), &p("1.0")).is_none());
    }
}
