//! Rules `(= lhs rhs)`, their index keys, and rule instances.

use crate::sync::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::Atom;

/// A rewrite rule `(= lhs rhs)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The pattern an expression must unify with.
    pub lhs: Atom,
    /// What the expression rewrites to.
    pub rhs: Atom,
}

impl Rule {
    /// A rule from its two sides.
    pub fn new(lhs: Atom, rhs: Atom) -> Rule {
        Rule { lhs, rhs }
    }

    /// The rule as the atom `(= lhs rhs)`.
    pub fn to_atom(&self) -> Atom {
        Atom::expr(vec![Atom::sym("="), self.lhs.clone(), self.rhs.clone()])
    }

    /// Reads `(= lhs rhs)`; `None` for any other atom.
    pub fn from_atom(atom: &Atom) -> Option<Rule> {
        match atom.as_expr() {
            Some([eq, lhs, rhs]) if eq.as_sym() == Some("=") => {
                Some(Rule::new(lhs.clone(), rhs.clone()))
            }
            _ => None,
        }
    }

    /// The index key of the rule, or `None` when its left side has no symbol head (a
    /// variable, a number, or an expression headed by something else): such a rule is a
    /// wildcard rule and is tried against every expression.
    pub fn key(&self) -> Option<RuleKey> {
        RuleKey::of(&self.lhs)
    }
}

/// Where a rule is filed: by the head symbol and arity of its left side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RuleKey {
    /// The left side is a bare symbol, `(= pi 3.14)`.
    Symbol(Arc<str>),
    /// The left side is `(head a1 .. an)`; `arity` is n.
    Expr {
        /// The head symbol.
        head: Arc<str>,
        /// The number of arguments.
        arity: usize,
    },
}

impl RuleKey {
    /// The key an atom is looked up under, or `None` when it has no symbol head.
    pub fn of(atom: &Atom) -> Option<RuleKey> {
        match atom {
            Atom::Sym(name) => Some(RuleKey::Symbol(name.clone())),
            Atom::Expr(items) => match items.first() {
                Some(Atom::Sym(head)) => Some(RuleKey::Expr {
                    head: head.clone(),
                    arity: items.len() - 1,
                }),
                _ => None,
            },
            _ => None,
        }
    }

    /// The key's byte path: a kind byte, then (for expressions) the arity, then the
    /// encoded head symbol. Self-delimiting, so a rule's id can follow it.
    pub fn to_path(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        match self {
            RuleKey::Symbol(name) => {
                out.push(1);
                Atom::Sym(name.clone()).encode(&mut out);
            }
            RuleKey::Expr { head, arity } => {
                out.push(2);
                out.extend_from_slice(&u32::try_from(*arity).unwrap_or(u32::MAX).to_be_bytes());
                Atom::Sym(head.clone()).encode(&mut out);
            }
        }
        out
    }
}

/// The identity of one rule instance: adding the same rule twice makes two instances
/// (MeTTa then yields its result twice). Ids come from one process-wide counter, so two
/// environments agree on an id exactly when they share the instance through a clone;
/// `union` relies on that to count a shared base once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleId(pub u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl RuleId {
    /// A process-wide unique id, larger than every id handed out before it.
    pub(crate) fn fresh() -> RuleId {
        RuleId(NEXT_ID.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<RuleId> {
        let word: [u8; 8] = bytes.try_into().ok()?;
        Some(RuleId(u64::from_be_bytes(word)))
    }
}

/// A shared rule as stored in the trie indexes. Two instances with the same id hold the
/// same rule, so a union keeps either (the left one).
#[derive(Debug, Clone)]
pub(crate) struct RuleRef(pub(crate) Arc<Rule>);
