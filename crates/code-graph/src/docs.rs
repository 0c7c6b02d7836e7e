//! Doc comments blanked out before a file is tokenised.
//!
//! The graph takes nothing from doc comments: `attrs` leaves out every `#[doc = ...]`
//! attribute, and no name, line or call comes from one. Yet the tokeniser turns each
//! `/// line` into four tokens and a bracket group (`# [doc = "line"]`, the text escaped
//! into a fresh string), and syn parses each into an attribute holding an expression:
//! on documented code (tokio, syn, serde) that is a fifth of the parse. So every doc
//! comment (`///`, `//!`, `/** */`, `/*! */`) is replaced by its line breaks, and by
//! one space per character of its last line when a token follows it on that line:
//! every token after it keeps its line and its column, and the facts are the same
//! (checked over every file of the local cargo registry by the `shortcut_check`
//! example and by a test on real crates).
//!
//! The lexer here only has to tell comments from string and character literals; it
//! follows the tokeniser's rules for those (nested block comments, raw strings, byte and
//! C strings, character literals against lifetimes). A doc comment with a carriage
//! return in it is left as written (the tokeniser rejects a bare one, and that error
//! must stay), and so is an unterminated block comment.
//!
//! What is given up: a doc comment where no attribute may stand (after the last item of
//! a block, or `//!` after the first item) is an error to the tokeniser and to rustc;
//! blanked, it is not reported.

/// `source` with the text of every doc comment replaced by spaces (line breaks kept),
/// or `None` when it has no doc comment.
pub(crate) fn blank_docs(source: &str) -> Option<String> {
    let b = source.as_bytes();
    let mut out: Option<String> = None;
    // `source[copied..]` is not yet in `out`.
    let mut copied = 0;
    let mut i = 0;
    // A first line `#!...` that is not an inner attribute is a shebang: syn strips it,
    // and its text is no token.
    if source.starts_with("#!") && !source[2..].trim_start().starts_with('[') {
        i = b.iter().position(|c| *c == b'\n').unwrap_or(b.len());
    }
    // Only `/`, `"` and `'` can start a comment or a literal; the bytes between are
    // stepped over without a look (a raw string's `r#` prefix is checked from its quote).
    while let Some(at) = find_special(&b[i..]) {
        i += at;
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = b[i..]
                    .iter()
                    .position(|c| *c == b'\n')
                    .map_or(b.len(), |n| i + n);
                let doc = match b.get(i + 2) {
                    Some(b'!') => true,
                    Some(b'/') => b.get(i + 3) != Some(&b'/'),
                    _ => false,
                };
                if doc {
                    // A `\r` right before the line break belongs to the break.
                    let stop = if end < b.len() && end > i && b[end - 1] == b'\r' {
                        end - 1
                    } else {
                        end
                    };
                    if !b[i..stop].contains(&b'\r') {
                        blank(source, i, stop, &mut out, &mut copied);
                    }
                }
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let Some(end) = block_comment_end(b, i) else {
                    // Unterminated: the tokeniser fails here; leave the rest as it is.
                    break;
                };
                let text = &b[i..end];
                let doc =
                    (text.starts_with(b"/**") && !text.starts_with(b"/***") && text != b"/**/")
                        || text.starts_with(b"/*!");
                if doc && !text.contains(&b'\r') {
                    blank(source, i, end, &mut out, &mut copied);
                }
                i = end;
            }
            b'/' => i += 1,
            b'"' => {
                i = match raw_prefix(b, i) {
                    Some(hashes_at) => raw_string_end(b, hashes_at),
                    None => string_end(b, i + 1),
                }
            }
            _ => i = quote_end(b, i),
        }
    }
    let mut out = out?;
    out.push_str(&source[copied..]);
    Some(out)
}

/// Appends `source[copied..from]` to `out`, then the line breaks of `source[from..to]`
/// and, when more text follows on the comment's last line, one space per character of
/// that last line: every token after the comment keeps its line and its column, and the
/// text the tokeniser steps over is no longer than it must be.
fn blank(source: &str, from: usize, to: usize, out: &mut Option<String>, copied: &mut usize) {
    let out = out.get_or_insert_with(|| String::with_capacity(source.len()));
    out.push_str(&source[*copied..from]);
    let text = &source[from..to];
    let breaks = text.bytes().filter(|c| *c == b'\n').count();
    for _ in 0..breaks {
        out.push('\n');
    }
    let rest = source.as_bytes()[to..]
        .iter()
        .take_while(|c| **c == b' ' || **c == b'\t');
    let line_goes_on = !matches!(
        source.as_bytes().get(to + rest.count()),
        None | Some(b'\n' | b'\r')
    );
    if line_goes_on {
        let last = text.rfind('\n').map_or(text, |k| &text[k + 1..]);
        let mut n = if last.is_ascii() {
            last.len()
        } else {
            last.chars().count()
        };
        while n > 0 {
            let k = n.min(SPACES.len());
            out.push_str(&SPACES[..k]);
            n -= k;
        }
    }
    *copied = to;
}

/// Spaces to copy from (faster than pushing them one at a time).
const SPACES: &str = "                                                                ";

/// The offset of the first `/`, `"` or `'` in `b`: eight bytes at a time (a zero byte
/// in `x ^ splat(c)` marks a match), then the tail one at a time.
fn find_special(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut at = 0;
    while at + 8 <= b.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&b[at..at + 8]);
        let x = u64::from_le_bytes(word);
        let hits = zero_byte(x ^ (ONES * u64::from(b'/')))
            | zero_byte(x ^ (ONES * u64::from(b'"')))
            | zero_byte(x ^ (ONES * u64::from(b'\'')));
        if hits != 0 {
            // The lowest flagged byte is always a real match (a borrow can only flag
            // bytes above a real zero).
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    b[at..]
        .iter()
        .position(|c| matches!(c, b'/' | b'"' | b'\''))
        .map(|k| at + k)
}

/// Whether an identifier byte (ASCII letter, digit, `_`, or part of a non-ASCII
/// character).
fn is_word(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric() || c >= 0x80
}

/// For the `"` at `quote`: the offset of the `#`s (or of the quote) after an `r`, `br`
/// or `cr` that is a whole word, when the quote opens a raw string.
fn raw_prefix(b: &[u8], quote: usize) -> Option<usize> {
    let mut k = quote;
    while k > 0 && b[k - 1] == b'#' {
        k -= 1;
    }
    if k == 0 || b[k - 1] != b'r' {
        return None;
    }
    let starts_word = |at: usize| at == 0 || !is_word(b[at - 1]);
    let r = k - 1;
    if starts_word(r) || (r > 0 && matches!(b[r - 1], b'b' | b'c') && starts_word(r - 1)) {
        Some(k)
    } else {
        None
    }
}

/// The offset after the block comment (nested ones too) that starts at `i`, as the
/// tokeniser finds it; `None` when it is not closed.
fn block_comment_end(b: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j + 1 < b.len() {
        if b[j] == b'/' && b[j + 1] == b'*' {
            depth += 1;
            j += 2;
        } else if b[j] == b'*' && b[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return Some(j);
            }
        } else {
            j += 1;
        }
    }
    None
}

/// The offset after the closing quote of a string whose body starts at `i`.
fn string_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// The offset after `#*"..."#*` starting at `i` (after the `r`); a raw identifier
/// (`r#name`) is left to the identifier rule.
pub(crate) fn raw_string_end(b: &[u8], mut i: usize) -> usize {
    let mut hashes = 0;
    while b.get(i) == Some(&b'#') {
        hashes += 1;
        i += 1;
    }
    if b.get(i) != Some(&b'"') {
        return i;
    }
    raw_string_close(b, i, hashes).unwrap_or(b.len())
}

/// The offset after the `"` and `hashes` `#`s that close the raw string whose opening
/// quote is at `quote`; `None` when it is not closed.
pub(crate) fn raw_string_close(b: &[u8], quote: usize, hashes: usize) -> Option<usize> {
    let mut i = quote + 1;
    while i < b.len() {
        if b[i] == b'"'
            && b[i + 1..]
                .iter()
                .take(hashes)
                .filter(|c| **c == b'#')
                .count()
                == hashes
        {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    None
}

/// The offset after a character literal starting at the quote at `i`, or after the
/// quote alone when it starts a lifetime (its name is then read as an identifier).
fn quote_end(b: &[u8], i: usize) -> usize {
    let j = i + 1;
    match b.get(j) {
        Some(b'\\') => {
            // An escape: `'\n'`, `'\''`, `'\u{..}'`: up to the closing quote.
            let mut k = j + 2;
            while k < b.len() && b[k] != b'\'' && b[k] != b'\n' {
                k += 1;
            }
            (k + 1).min(b.len())
        }
        Some(&c) => {
            let len = match c {
                c if c < 0x80 => 1,
                c if c >= 0xF0 => 4,
                c if c >= 0xE0 => 3,
                _ => 2,
            };
            if b.get(j + len) == Some(&b'\'') {
                j + len + 1
            } else {
                j
            }
        }
        None => j,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blanked(s: &str) -> String {
        blank_docs(s).unwrap_or_else(|| s.to_owned())
    }

    #[test]
    fn doc_comments_go_with_lines_and_columns_kept() {
        let src =
            "//! Crate doc é\n/// Item doc\nfn f() {} /** block\n doc */ struct S;\n/*! inner */\n/** é */ x\n";
        let out = blanked(src);
        assert_eq!(out.lines().count(), src.lines().count());
        assert_eq!(out, "\n\nfn f() {} \n        struct S;\n\n         x\n");
        // Every token keeps its line and character column.
        let place = |text: &str, token: &str| {
            let at = text.find(token).unwrap();
            let line = text[..at].matches('\n').count();
            let start = text[..at].rfind('\n').map_or(0, |k| k + 1);
            (line, text[start..at].chars().count())
        };
        for token in ["fn f", "struct S", "x\n"] {
            assert_eq!(place(src, token), place(&out, token), "{token}");
        }
    }

    #[test]
    fn other_comments_strings_and_literals_are_left_alone() {
        for src in [
            "// plain\n//// four\n/* block /** nested doc */ */\n/***/ /**/ /*** x */\n",
            "const A: &str = \"/// not a comment\"; const B: &str = r#\"//! \"# ;\n",
            "const C: char = '\"'; const D: &[u8] = b\"/**\"; fn l<'a>(x: &'a str) {}\n",
            "const E: char = '\\''; const F: &str = \"\\\"/// x\";\n",
            "const G: &CStr = c\"//!\"; const H: &[u8] = br##\"/// \"# \"##;\n",
            "#!/usr/bin/env run-cargo-script //! not doc\nfn main() {}\n",
            "/// bare \r carriage return\nfn f() {}\n",
            "/** unterminated",
        ] {
            assert_eq!(blank_docs(src), None, "{src:?}");
        }
    }

    #[test]
    fn special_bytes_are_found_at_every_offset() {
        for len in 0..40 {
            for at in 0..len {
                for c in [b'/', b'"', b'\''] {
                    let mut v = vec![b'a'; len];
                    // Bytes one off the special ones, and high bytes, around it.
                    for (k, x) in v.iter_mut().enumerate() {
                        *x = [b'.', b'0', b'&', b'!', 0x80, 0xFF, b'a'][k % 7];
                    }
                    v[at] = c;
                    assert_eq!(find_special(&v), Some(at), "{len} {at} {c}");
                }
            }
            assert_eq!(find_special(&vec![b'x'; len]), None);
        }
    }

    #[test]
    fn raw_strings_need_a_whole_word_prefix() {
        assert_eq!(blank_docs("const A: &str = r#\"/// x\"#;\n"), None);
        assert_eq!(blank_docs("const A: &[u8] = br\"///\";\n"), None);
        // `xr"` is no raw string prefix: the string ends at the first `"` after `\`.
        assert_eq!(
            blanked("m!(xr\"\\\" /// d\n\");\n"),
            "m!(xr\"\\\" /// d\n\");\n"
        );
    }

    #[test]
    fn crlf_line_breaks_are_kept() {
        assert_eq!(blanked("/// a\r\nfn f() {}\r\n"), "\r\nfn f() {}\r\n");
    }

    #[test]
    fn a_doc_comment_after_a_string_or_lifetime_is_found() {
        let src = "fn f<'a>() -> &'a str { \"x\" } /// d\nconst C: char = 'x'; //! e\n";
        assert_eq!(
            blanked(src),
            "fn f<'a>() -> &'a str { \"x\" } \nconst C: char = 'x'; \n"
        );
    }
}
