//! Atoms, their printed form, and their byte-path encoding for the trie.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::Error;

/// A MeTTa atom.
///
/// Cloning is cheap: names and children are reference counted.
#[derive(Clone, Debug)]
pub enum Atom {
    /// A symbol such as `foo`, `+`, `True` or `&self`.
    Sym(Arc<str>),
    /// A variable `$x`; the name is stored without the `$`.
    Var(Arc<str>),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float. Equality and hashing use the bit pattern, so `NaN == NaN` here
    /// and `0.0 != -0.0`; that keeps `Eq` lawful for the indexes.
    Float(f64),
    /// A string literal (the text between the quotes, escapes resolved).
    Str(Arc<str>),
    /// An expression `(a b c)`.
    Expr(Arc<[Atom]>),
    /// A space created by `new-space` (or `&self`): an index into the interpreter's
    /// table of spaces. Only meaningful to the interpreter that made it.
    Space(u32),
    /// A mutable state cell created by `new-state`: an index into the interpreter's
    /// table of states. Only meaningful to the interpreter that made it.
    State(u32),
}

impl PartialEq for Atom {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Atom::Sym(a), Atom::Sym(b)) | (Atom::Var(a), Atom::Var(b)) => a == b,
            (Atom::Str(a), Atom::Str(b)) => a == b,
            (Atom::Int(a), Atom::Int(b)) => a == b,
            (Atom::Float(a), Atom::Float(b)) => a.to_bits() == b.to_bits(),
            (Atom::Expr(a), Atom::Expr(b)) => Arc::ptr_eq(a, b) || a == b,
            (Atom::Space(a), Atom::Space(b)) | (Atom::State(a), Atom::State(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Atom {}

impl Hash for Atom {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Atom::Sym(s) => (0u8, s).hash(state),
            Atom::Var(s) => (1u8, s).hash(state),
            Atom::Int(i) => (2u8, i).hash(state),
            Atom::Float(f) => (3u8, f.to_bits()).hash(state),
            Atom::Str(s) => (4u8, s).hash(state),
            Atom::Space(id) => (6u8, id).hash(state),
            Atom::State(id) => (7u8, id).hash(state),
            Atom::Expr(items) => {
                5u8.hash(state);
                items.len().hash(state);
                for item in items.iter() {
                    item.hash(state);
                }
            }
        }
    }
}

// Tags of the byte encoding. Each atom's encoding is self-delimiting (a tag, then either
// a fixed-width payload or a length followed by exactly that much), so no encoding is a
// proper prefix of another. The indexes rely on that: the keys under the prefix
// `encode(a)` all belong to `a` itself.
const TAG_SYM: u8 = 1;
const TAG_VAR: u8 = 2;
/// The tag byte that starts a variable's encoding, for lookups that must also visit
/// atoms holding a variable at some position.
pub(crate) const VAR_TAG: u8 = TAG_VAR;
const TAG_INT: u8 = 3;
const TAG_FLOAT: u8 = 4;
const TAG_STR: u8 = 5;
const TAG_EXPR: u8 = 6;
const TAG_SPACE: u8 = 7;
const TAG_STATE: u8 = 8;

impl Atom {
    /// A symbol.
    pub fn sym(name: &str) -> Atom {
        Atom::Sym(Arc::from(name))
    }

    /// A variable (`name` without the `$`).
    pub fn var(name: &str) -> Atom {
        Atom::Var(Arc::from(name))
    }

    /// A string literal.
    pub fn string(text: &str) -> Atom {
        Atom::Str(Arc::from(text))
    }

    /// An expression of the given items.
    pub fn expr(items: impl Into<Vec<Atom>>) -> Atom {
        Atom::Expr(Arc::from(items.into()))
    }

    /// The boolean symbols `True` and `False`.
    pub fn bool(value: bool) -> Atom {
        Atom::sym(if value { "True" } else { "False" })
    }

    /// The items of an expression, or `None` for any other atom.
    pub fn as_expr(&self) -> Option<&[Atom]> {
        match self {
            Atom::Expr(items) => Some(items),
            _ => None,
        }
    }

    /// The name of a symbol, or `None` for any other atom.
    pub fn as_sym(&self) -> Option<&str> {
        match self {
            Atom::Sym(name) => Some(name),
            _ => None,
        }
    }

    /// The unit value `()`.
    pub fn unit() -> Atom {
        Atom::expr(Vec::new())
    }

    /// Whether the atom is an error expression `(Error ...)`.
    pub fn is_error(&self) -> bool {
        matches!(self.as_expr(), Some([head, ..]) if head.as_sym() == Some("Error"))
    }

    /// The variables of the atom, each once, in order of first appearance.
    pub fn vars(&self) -> Vec<Arc<str>> {
        fn walk(atom: &Atom, out: &mut Vec<Arc<str>>) {
            match atom {
                Atom::Var(name) if !out.contains(name) => out.push(name.clone()),
                Atom::Expr(items) => items.iter().for_each(|i| walk(i, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// Whether the atom contains no variable.
    pub fn is_ground(&self) -> bool {
        match self {
            Atom::Var(_) => false,
            Atom::Expr(items) => items.iter().all(Atom::is_ground),
            _ => true,
        }
    }

    /// Appends the byte-path encoding of the atom to `out`.
    ///
    /// This one encoding is used for every insert into and every lookup in the tries, so
    /// a lookup never falls back to a scan because the two sides disagree on the key.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Atom::Sym(s) => encode_text(TAG_SYM, s, out),
            Atom::Var(s) => encode_text(TAG_VAR, s, out),
            Atom::Str(s) => encode_text(TAG_STR, s, out),
            Atom::Int(i) => {
                out.push(TAG_INT);
                // Flipping the sign bit makes byte order equal numeric order.
                out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes());
            }
            Atom::Float(f) => {
                out.push(TAG_FLOAT);
                out.extend_from_slice(&f.to_bits().to_be_bytes());
            }
            Atom::Space(id) => {
                out.push(TAG_SPACE);
                out.extend_from_slice(&id.to_be_bytes());
            }
            Atom::State(id) => {
                out.push(TAG_STATE);
                out.extend_from_slice(&id.to_be_bytes());
            }
            Atom::Expr(items) => {
                out.push(TAG_EXPR);
                out.extend_from_slice(&len_u32(items.len()).to_be_bytes());
                for item in items.iter() {
                    item.encode(out);
                }
            }
        }
    }

    /// The byte-path encoding of the atom as a fresh vector.
    pub fn to_path(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes one atom from the start of `bytes`; returns it and the number of bytes
    /// it used.
    pub fn decode(bytes: &[u8]) -> Result<(Atom, usize), Error> {
        let mut pos = 0;
        let atom = decode_at(bytes, &mut pos, 0)?;
        Ok((atom, pos))
    }

    /// Decodes a path that holds exactly one atom.
    pub fn from_path(bytes: &[u8]) -> Result<Atom, Error> {
        let (atom, used) = Atom::decode(bytes)?;
        if used != bytes.len() {
            return Err(Error::Decode {
                offset: used,
                message: "trailing bytes after the atom",
            });
        }
        Ok(atom)
    }
}

/// The path prefix shared by every expression of `len` items whose first item is
/// `head`: the expression tag, the length, then the head's encoding. Such expressions
/// form one subtrie, which `match` and the type index visit instead of the whole space.
pub(crate) fn expr_head_prefix(len: usize, head: &Atom) -> Vec<u8> {
    let mut prefix = vec![TAG_EXPR];
    prefix.extend_from_slice(&len_u32(len).to_be_bytes());
    head.encode(&mut prefix);
    prefix
}

fn len_u32(len: usize) -> u32 {
    // Atoms longer than 4 GiB cannot be parsed from text on any machine this runs on;
    // saturating keeps the encoding total without a panic path.
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn encode_text(tag: u8, text: &str, out: &mut Vec<u8>) {
    out.push(tag);
    out.extend_from_slice(&len_u32(text.len()).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Nesting limit of the decoder, so that a corrupt or hostile path cannot overflow the
/// stack.
const MAX_DECODE_DEPTH: usize = 2_000;

fn take<'a>(bytes: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], Error> {
    let end = pos.checked_add(n).filter(|&end| end <= bytes.len());
    match end {
        Some(end) => {
            let slice = &bytes[*pos..end];
            *pos = end;
            Ok(slice)
        }
        None => Err(Error::Decode {
            offset: *pos,
            message: "path ends inside an atom",
        }),
    }
}

fn take_u32(bytes: &[u8], pos: &mut usize) -> Result<usize, Error> {
    let raw = take(bytes, pos, 4)?;
    let mut word = [0u8; 4];
    word.copy_from_slice(raw);
    Ok(u32::from_be_bytes(word) as usize)
}

fn take_u64(bytes: &[u8], pos: &mut usize) -> Result<u64, Error> {
    let raw = take(bytes, pos, 8)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(raw);
    Ok(u64::from_be_bytes(word))
}

fn take_text(bytes: &[u8], pos: &mut usize) -> Result<Arc<str>, Error> {
    let len = take_u32(bytes, pos)?;
    let start = *pos;
    let raw = take(bytes, pos, len)?;
    std::str::from_utf8(raw)
        .map(Arc::from)
        .map_err(|_| Error::Decode {
            offset: start,
            message: "name is not UTF-8",
        })
}

fn decode_at(bytes: &[u8], pos: &mut usize, depth: usize) -> Result<Atom, Error> {
    if depth > MAX_DECODE_DEPTH {
        return Err(Error::Decode {
            offset: *pos,
            message: "expressions nested too deeply",
        });
    }
    let tag_at = *pos;
    let tag = take(bytes, pos, 1)?[0];
    Ok(match tag {
        TAG_SYM => Atom::Sym(take_text(bytes, pos)?),
        TAG_VAR => Atom::Var(take_text(bytes, pos)?),
        TAG_STR => Atom::Str(take_text(bytes, pos)?),
        TAG_INT => Atom::Int((take_u64(bytes, pos)? ^ (1 << 63)) as i64),
        TAG_FLOAT => Atom::Float(f64::from_bits(take_u64(bytes, pos)?)),
        TAG_SPACE => Atom::Space(take_u32(bytes, pos)? as u32),
        TAG_STATE => Atom::State(take_u32(bytes, pos)? as u32),
        TAG_EXPR => {
            let len = take_u32(bytes, pos)?;
            // Every item takes at least one byte, which bounds the allocation by the
            // input instead of by a corrupt length.
            let mut items = Vec::with_capacity(len.min(bytes.len() - *pos));
            for _ in 0..len {
                items.push(decode_at(bytes, pos, depth + 1)?);
            }
            Atom::expr(items)
        }
        _ => {
            return Err(Error::Decode {
                offset: tag_at,
                message: "unknown atom tag",
            })
        }
    })
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Sym(s) => f.write_str(s),
            Atom::Var(s) => write!(f, "${s}"),
            Atom::Space(id) => write!(f, "GroundingSpace-{id}"),
            Atom::State(id) => write!(f, "(State #{id})"),
            Atom::Int(i) => write!(f, "{i}"),
            Atom::Float(x) => {
                if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 {
                    // Keep a decimal point so the printed form parses back as a float.
                    write!(f, "{x:.1}")
                } else {
                    write!(f, "{x}")
                }
            }
            Atom::Str(s) => {
                f.write_str("\"")?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\t' => f.write_str("\\t")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("\"")
            }
            Atom::Expr(items) => {
                f.write_str("(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_every_kind() {
        let atoms = [
            Atom::sym("foo"),
            Atom::var("x"),
            Atom::Int(-42),
            Atom::Int(i64::MIN),
            Atom::Float(2.5),
            Atom::string("a \"b\"\n"),
            Atom::expr(vec![
                Atom::sym("="),
                Atom::expr(vec![Atom::sym("f"), Atom::var("x")]),
                Atom::Int(1),
            ]),
            Atom::expr(Vec::new()),
            Atom::Space(3),
            Atom::State(u32::MAX),
        ];
        for atom in atoms {
            let path = atom.to_path();
            assert_eq!(Atom::from_path(&path).unwrap(), atom);
        }
    }

    #[test]
    fn integers_encode_in_numeric_order() {
        let mut values = [-5i64, 3, i64::MIN, 0, i64::MAX, -1];
        let mut paths: Vec<Vec<u8>> = values.iter().map(|&i| Atom::Int(i).to_path()).collect();
        values.sort_unstable();
        paths.sort();
        let decoded: Vec<Atom> = paths.iter().map(|p| Atom::from_path(p).unwrap()).collect();
        let expected: Vec<Atom> = values.iter().map(|&i| Atom::Int(i)).collect();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn truncated_and_unknown_paths_are_errors() {
        let path = Atom::expr(vec![Atom::sym("f"), Atom::Int(1)]).to_path();
        for cut in 0..path.len() {
            assert!(Atom::from_path(&path[..cut]).is_err(), "cut at {cut}");
        }
        assert!(matches!(Atom::from_path(&[99]), Err(Error::Decode { .. })));
        let mut extra = path.clone();
        extra.push(0);
        assert!(Atom::from_path(&extra).is_err());
    }
}
