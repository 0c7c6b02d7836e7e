//! A small tokenizer for the body shortcut (see [`crate::hollow`]): the tokens of a
//! file as flat records with byte offsets, groups matched, no allocation per token.
//!
//! It is stricter than `proc_macro2`'s tokenizer, never looser: whatever it does not
//! know for certain (a non-ASCII character outside a literal or comment, a doc comment,
//! an unclosed literal or group) is a failure, and the caller then leaves the file (or
//! the body) to syn, whose handling is the reference.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An identifier or keyword (raw identifiers keep their `r#`).
    Ident,
    /// `'name`.
    Lifetime,
    /// A string, character, byte or number literal (with its suffix).
    Literal,
    /// One punctuation character; `joint` says whether another follows at once.
    Punct,
    /// `(`, `[` or `{`; `close` is the index of the matching token.
    Open,
    /// `)`, `]` or `}`.
    Close,
}

/// One token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tok {
    pub(crate) kind: Kind,
    /// The punctuation or delimiter character (0 for other kinds).
    pub(crate) ch: u8,
    /// For punctuation: the next character is punctuation too (`->`, `::`, `..=`).
    pub(crate) joint: bool,
    pub(crate) start: u32,
    pub(crate) end: u32,
    /// For an open delimiter: the index of its close.
    pub(crate) close: u32,
}

/// Characters that are punctuation tokens.
fn is_punct(c: u8) -> bool {
    matches!(
        c,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'%'
            | b'^'
            | b'!'
            | b'&'
            | b'|'
            | b'='
            | b'<'
            | b'>'
            | b'@'
            | b'.'
            | b','
            | b';'
            | b':'
            | b'#'
            | b'$'
            | b'?'
            | b'~'
    )
}

/// Bytes that continue an identifier (a table: most bytes of a file are tested).
const IDENT: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b == b'_' || b.is_ascii_alphanumeric();
        c += 1;
    }
    t
};

fn is_ident_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn is_ident_continue(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// Tokenizes `source`; `None` when it holds anything this tokenizer leaves to syn.
pub(crate) fn lex(source: &str) -> Option<Vec<Tok>> {
    let mut at = 0;
    lex_from(source, &mut at)
}

/// [`lex`], leaving in `at` where it stopped.
fn lex_from(source: &str, at: &mut usize) -> Option<Vec<Tok>> {
    let b = source.as_bytes();
    let mut toks: Vec<Tok> = Vec::with_capacity(b.len() / 5 + 16);
    let mut open: Vec<u32> = Vec::new();
    let mut i = 0;
    let n = b.len();
    let tok = |kind, ch, start: usize, end: usize| Tok {
        kind,
        ch,
        joint: false,
        start: start as u32,
        end: end as u32,
        close: 0,
    };
    while i < n {
        *at = i;
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                while i < n && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                // `///` and `//!` are doc comments (attributes to syn), `////` is not.
                let doc = matches!(b.get(i + 2), Some(b'!'))
                    || (b.get(i + 2) == Some(&b'/') && b.get(i + 3) != Some(&b'/'));
                if doc {
                    return None;
                }
                while i < n && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let doc = matches!(b.get(i + 2), Some(b'!'))
                    || (b.get(i + 2) == Some(&b'*') && !matches!(b.get(i + 3), Some(b'*' | b'/')));
                if doc {
                    return None;
                }
                let mut depth = 0usize;
                loop {
                    if i + 1 >= n {
                        return None;
                    }
                    if b[i] == b'/' && b[i + 1] == b'*' {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b[i + 1] == b'/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'(' | b'[' | b'{' => {
                open.push(toks.len() as u32);
                toks.push(tok(Kind::Open, c, i, i + 1));
                i += 1;
            }
            b')' | b']' | b'}' => {
                let o = open.pop()? as usize;
                let want = match toks[o].ch {
                    b'(' => b')',
                    b'[' => b']',
                    _ => b'}',
                };
                if want != c {
                    return None;
                }
                toks[o].close = toks.len() as u32;
                toks.push(tok(Kind::Close, c, i, i + 1));
                i += 1;
            }
            b'"' => {
                let end = string_end(b, i + 1)?;
                let end = suffix_end(b, end);
                toks.push(tok(Kind::Literal, 0, i, end));
                i = end;
            }
            b'\'' => {
                let (kind, end) = quote(b, i)?;
                toks.push(tok(kind, 0, i, end));
                i = end;
            }
            b'0'..=b'9' => {
                let end = number_end(b, i);
                toks.push(tok(Kind::Literal, 0, i, end));
                i = end;
            }
            c if is_ident_start(c) => {
                // Byte, C and raw strings, byte characters, raw identifiers.
                let prefixed = |p: &[u8]| b[i..].starts_with(p);
                // Only `b`, `c` and `r` can start a literal or a raw identifier.
                let special = matches!(c, b'b' | b'c' | b'r')
                    && matches!(b.get(i + 1), Some(b'"' | b'\'' | b'#' | b'r'));
                let lit_end = if !special {
                    None
                } else if prefixed(b"b\"") || prefixed(b"c\"") {
                    Some(string_end(b, i + 2)?)
                } else if (prefixed(b"br") || prefixed(b"cr"))
                    && matches!(b.get(i + 2), Some(b'"' | b'#'))
                {
                    Some(raw_string(b, i + 2)??)
                } else if prefixed(b"r#") || prefixed(b"r\"") {
                    raw_string(b, i + 1)?
                } else if prefixed(b"b'") {
                    let (kind, end) = quote(b, i + 1)?;
                    if kind != Kind::Literal {
                        return None;
                    }
                    Some(end)
                } else {
                    None
                };
                if let Some(end) = lit_end {
                    let end = suffix_end(b, end);
                    toks.push(tok(Kind::Literal, 0, i, end));
                    i = end;
                    continue;
                }
                let mut j = i + 1;
                if special && prefixed(b"r#") {
                    j += 1;
                }
                while j < n && IDENT[b[j] as usize] {
                    j += 1;
                }
                toks.push(tok(Kind::Ident, 0, i, j));
                i = j;
            }
            c if is_punct(c) => {
                let mut t = tok(Kind::Punct, c, i, i + 1);
                t.joint = b.get(i + 1).is_some_and(|&d| is_punct(d));
                toks.push(t);
                i += 1;
            }
            _ => return None,
        }
    }
    if !open.is_empty() {
        return None;
    }
    Some(toks)
}

/// The end of a `"` string whose body starts at `i`.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// For `#*"..."#*` at `i`: `Some(Some(end))` for a raw string, `Some(None)` when there
/// is no raw string here (`r#name`, a raw identifier), `None` when one is not closed.
fn raw_string(b: &[u8], mut i: usize) -> Option<Option<usize>> {
    let mut hashes = 0;
    while b.get(i) == Some(&b'#') {
        hashes += 1;
        i += 1;
    }
    if b.get(i) != Some(&b'"') {
        return if hashes == 1 && b.get(i).is_some_and(|&c| is_ident_start(c)) {
            Some(None)
        } else {
            None
        };
    }
    crate::docs::raw_string_close(b, i, hashes).map(Some)
}

/// A literal's suffix (`1u8`, `"x"suffix`).
fn suffix_end(b: &[u8], mut i: usize) -> usize {
    if b.get(i).is_some_and(|&c| is_ident_start(c)) {
        while i < b.len() && is_ident_continue(b[i]) {
            i += 1;
        }
    }
    i
}

/// The token at a `'`: a character literal or a lifetime, and where it ends.
fn quote(b: &[u8], i: usize) -> Option<(Kind, usize)> {
    let j = i + 1;
    match *b.get(j)? {
        b'\\' => {
            let mut k = j + 2;
            while k < b.len() && b[k] != b'\'' && b[k] != b'\n' {
                k += 1;
            }
            (b.get(k) == Some(&b'\'')).then_some((Kind::Literal, suffix_end(b, k + 1)))
        }
        c if c >= 0x80 => {
            // A non-ASCII character literal; a non-ASCII lifetime is left to syn.
            let len = if c >= 0xF0 {
                4
            } else if c >= 0xE0 {
                3
            } else {
                2
            };
            (b.get(j + len) == Some(&b'\'')).then_some((Kind::Literal, suffix_end(b, j + len + 1)))
        }
        c => {
            if b.get(j + 1) == Some(&b'\'') && c != b'\'' && c != b'\n' {
                return Some((Kind::Literal, suffix_end(b, j + 2)));
            }
            let mut k = j;
            if b[k..].starts_with(b"r#") {
                k += 2;
            }
            if !b.get(k).is_some_and(|&c| is_ident_start(c)) {
                return None;
            }
            while k < b.len() && is_ident_continue(b[k]) {
                k += 1;
            }
            Some((Kind::Lifetime, k))
        }
    }
}

/// The end of a number literal starting at `i` (`1`, `0x1F_u8`, `1.5e-3f64`, `1.`),
/// leaving `1..2`, `1.max(2)` and `x.0.1`'s dots alone.
fn number_end(b: &[u8], i: usize) -> usize {
    let n = b.len();
    let mut j = i;
    while j < n && is_ident_continue(b[j]) {
        j += 1;
    }
    let radix = b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'o' | b'b'));
    let exponent_sign = |j: usize| {
        !radix
            && matches!(b[j - 1], b'e' | b'E')
            && matches!(b.get(j), Some(b'+' | b'-'))
            && b.get(j + 1).is_some_and(|c| c.is_ascii_digit())
    };
    if exponent_sign(j) {
        j += 1;
        while j < n && is_ident_continue(b[j]) {
            j += 1;
        }
        return j;
    }
    if !radix
        && b.get(j) == Some(&b'.')
        && !matches!(b.get(j + 1), Some(b'.'))
        && !b.get(j + 1).is_some_and(|&c| is_ident_start(c))
        && b[i..j].iter().all(|c| c.is_ascii_digit() || *c == b'_')
    {
        j += 1;
        if b.get(j).is_some_and(|c| c.is_ascii_digit()) {
            while j < n && is_ident_continue(b[j]) {
                j += 1;
            }
            if exponent_sign(j) {
                j += 1;
                while j < n && is_ident_continue(b[j]) {
                    j += 1;
                }
            }
        }
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<&str> {
        lex(s)
            .unwrap()
            .iter()
            .map(|t| &s[t.start as usize..t.end as usize])
            .collect()
    }

    #[test]
    fn tokens_are_split_as_rust_splits_them() {
        assert_eq!(
            texts("a.0.1 + 1..2 - 1.5e-3 * x.max(1.) 'a 'b' b'c' r#type r\"s\" br#\"t\"#"),
            [
                "a",
                ".",
                "0.1",
                "+",
                "1",
                ".",
                ".",
                "2",
                "-",
                "1.5e-3",
                "*",
                "x",
                ".",
                "max",
                "(",
                "1.",
                ")",
                "'a",
                "'b'",
                "b'c'",
                "r#type",
                "r\"s\"",
                "br#\"t\"#"
            ]
        );
        assert_eq!(texts("x /* a /* b */ c */ y // z\n w"), ["x", "y", "w"]);
        assert_eq!(
            texts("'\\n' '\\u{1F600}' 'é' 0x1e-5"),
            ["'\\n'", "'\\u{1F600}'", "'é'", "0x1e", "-", "5"]
        );
    }

    #[test]
    fn groups_are_matched() {
        let t = lex("f(a[b{}])").unwrap();
        assert_eq!(t[1].close, 8);
        assert_eq!(t[3].close, 7);
        assert_eq!(t[5].close, 6);
        assert!(t[0].kind == Kind::Ident && t[1].kind == Kind::Open);
    }

    #[test]
    fn what_it_cannot_be_sure_of_is_refused() {
        for s in [
            "(",
            ")",
            "(]",
            "\"open",
            "/* open",
            "é",
            "/// doc",
            "//! doc",
            "/** doc */",
            "r#\"x\"",
            "'",
        ] {
            assert!(lex(s).is_none(), "{s:?}");
        }
        assert!(lex("//// not a doc\n/*** not a doc */ /**/ x").is_some());
    }
}
