//! A lexical pass over a file before syn sees it: it bounds how deep the syntax tree can
//! get, and finds where a large file can be cut into pieces that parse on their own.
//!
//! syn parses, visits and drops trees by recursion, one stack frame (or several) per
//! level of nesting. A file nested deeper than any stack allows (100,000 parentheses, a
//! chain of 100,000 `else if`s or unary operators) would abort the process with a stack
//! overflow, which no caller can catch. So the nesting a file could produce is estimated
//! here, in one pass with no recursion, and a file over the bound is reported and
//! skipped like a parse error.
//!
//! The estimate is a cost: [`DEPTH_COST`] per open delimiter, plus one per operator
//! character (and per `else`) in the expression still open at each level. An expression
//! ends at `;` or `,`, or at a `}` that is not followed by an operator, `else`, `as` or
//! `.`: so a long `impl` block costs nothing per method, while `a + b + ... + z` costs
//! its length, because syn nests it that deep.
//!
//! Large files are cut at top level, after a `}` or `;` that ends an item and before
//! the next item: syn's tree of a whole 20 MB file takes gigabytes, the tree of one
//! piece a few megabytes, and the pieces' facts are the same as the whole file's.

/// What one open delimiter costs.
pub(crate) const DEPTH_COST: u32 = 16;

/// The largest cost a file may reach (about 1,250 nested delimiters, or an expression of
/// about 20,000 operators). Real code stays far below: the deepest file of syn, serde,
/// rayon and regex-syntax costs under 300.
pub(crate) const MAX_COST: u32 = 20_000;

/// Bytes of identifiers and number literals: ASCII letters, digits, `_`, and every
/// byte of a non-ASCII character (a table: this test runs on most bytes of a file).
const WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b == b'_' || b.is_ascii_alphanumeric() || b >= 0x80;
        c += 1;
    }
    t
};

/// A file nested beyond [`MAX_COST`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TooDeep {
    /// 1-based line where the bound was passed.
    pub(crate) line: u32,
    /// 1-based column.
    pub(crate) column: u32,
}

/// Checks the nesting of `source` and returns the byte offsets where it may be cut into
/// pieces of about `piece` bytes (ascending; empty when the file is smaller).
pub(crate) fn scan(source: &str, piece: usize) -> Result<Vec<usize>, TooDeep> {
    let b = source.as_bytes();
    let mut i = 0;
    let mut line: u32 = 1;
    let mut line_start = 0;
    // One entry per open delimiter: the operators counted at that level so far.
    let mut levels: Vec<u32> = vec![0];
    let mut cost: u32 = 0;
    let mut cuts = Vec::new();
    let mut last_cut = 0;
    let too_deep = |i: usize, line: u32, line_start: usize| TooDeep {
        line,
        column: (i - line_start) as u32 + 1,
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                line_start = i + 1;
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i, &mut line, &mut line_start);
            }
            b'"' => i = skip_string(b, i + 1, &mut line, &mut line_start),
            b'\'' => i = skip_quote(b, i),
            b'(' | b'[' | b'{' => {
                levels.push(0);
                cost += DEPTH_COST;
                if cost > MAX_COST {
                    return Err(too_deep(i, line, line_start));
                }
                i += 1;
            }
            b')' | b']' | b'}' => {
                if levels.len() > 1 {
                    let closed = levels.pop().unwrap_or(0);
                    cost = cost.saturating_sub(DEPTH_COST + closed);
                }
                i += 1;
                if c == b'}' && !continues_expression(b, i) {
                    let top = levels.last_mut().map(std::mem::take).unwrap_or(0);
                    cost -= top;
                    if levels.len() == 1 && piece > 0 && i - last_cut >= piece && starts_item(b, i)
                    {
                        cuts.push(i);
                        last_cut = i;
                    }
                }
            }
            b';' | b',' => {
                let top = levels.last_mut().map(std::mem::take).unwrap_or(0);
                cost -= top;
                i += 1;
                if c == b';'
                    && levels.len() == 1
                    && piece > 0
                    && i - last_cut >= piece
                    && starts_item(b, i)
                {
                    cuts.push(i);
                    last_cut = i;
                }
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'!' | b'&' | b'|' | b'<' | b'>' | b'='
            | b'.' | b'?' | b'@' | b'~' => {
                if let Some(top) = levels.last_mut() {
                    *top += 1;
                }
                cost += 1;
                if cost > MAX_COST {
                    return Err(too_deep(i, line, line_start));
                }
                i += 1;
            }
            c if WORD[c as usize] => {
                let start = i;
                i += 1;
                while i < b.len() && WORD[b[i] as usize] {
                    i += 1;
                }
                let word = &b[start..i];
                let next = b.get(i).copied();
                match (word, next) {
                    (b"r" | b"br" | b"cr", Some(b'"' | b'#')) => {
                        i = skip_raw_string(b, i, &mut line, &mut line_start);
                    }
                    (b"b" | b"c", Some(b'"')) => {
                        i = skip_string(b, i + 1, &mut line, &mut line_start);
                    }
                    (b"b", Some(b'\'')) => i = skip_quote(b, i),
                    (b"else", _) => {
                        if let Some(top) = levels.last_mut() {
                            *top += 1;
                        }
                        cost += 1;
                        if cost > MAX_COST {
                            return Err(too_deep(start, line, line_start));
                        }
                    }
                    _ => {}
                }
            }
            _ => i += 1,
        }
    }
    Ok(cuts)
}

/// Skips a block comment (nested ones too) starting at `i`; returns the offset after it.
fn skip_block_comment(b: &[u8], mut i: usize, line: &mut u32, line_start: &mut usize) -> usize {
    let mut depth = 0u32;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            if b[i] == b'\n' {
                *line += 1;
                *line_start = i + 1;
            }
            i += 1;
        }
    }
    i
}

/// Skips a string body from `i` (after the opening quote); returns the offset after the
/// closing quote.
fn skip_string(b: &[u8], mut i: usize, line: &mut u32, line_start: &mut usize) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' => {
                *line += 1;
                *line_start = i + 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    i
}

/// Skips `#*"..."#*` from `i` (after the `r`); returns the offset after it and counts
/// the lines the string spans.
fn skip_raw_string(b: &[u8], i: usize, line: &mut u32, line_start: &mut usize) -> usize {
    let end = crate::docs::raw_string_end(b, i);
    for (k, c) in b[i..end].iter().enumerate() {
        if *c == b'\n' {
            *line += 1;
            *line_start = i + k + 1;
        }
    }
    end
}

/// Skips a character literal or a lifetime starting at the quote at `i`.
fn skip_quote(b: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    if b.get(j) == Some(&b'\'') {
        j += 1;
    }
    if b.get(j) == Some(&b'\\') {
        // An escaped character: up to the closing quote (on this line).
        j += 2;
        while j < b.len() && b[j] != b'\'' && b[j] != b'\n' {
            j += 1;
        }
        return (j + 1).min(b.len());
    }
    // One character (of up to 4 bytes) then a quote: a literal; otherwise a lifetime,
    // whose name the identifier rule skips.
    let len = match b.get(j) {
        Some(c) if *c < 0x80 => 1,
        Some(c) if *c >= 0xF0 => 4,
        Some(c) if *c >= 0xE0 => 3,
        Some(_) => 2,
        None => return j,
    };
    if b.get(j + len) == Some(&b'\'') {
        j + len + 1
    } else {
        j
    }
}

/// Offset of the next byte that is not whitespace or inside a comment.
fn next_significant(b: &[u8], mut i: usize) -> usize {
    let (mut line, mut line_start) = (0, 0);
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) == Some(&b'/') && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b.get(i) == Some(&b'/') && b.get(i + 1) == Some(&b'*') {
            i = skip_block_comment(b, i, &mut line, &mut line_start);
        } else {
            return i;
        }
    }
}

/// Whether the expression goes on after a `}` ending at `i` (`{ 1 } + x`, `} else`).
fn continues_expression(b: &[u8], i: usize) -> bool {
    let j = next_significant(b, i);
    match b.get(j) {
        Some(
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'!' | b'&' | b'|' | b'<' | b'>' | b'='
            | b'.' | b'?',
        ) => true,
        Some(_) => {
            let word = word_at(b, j);
            word == b"else" || word == b"as"
        }
        None => false,
    }
}

/// Whether an item can start at the next significant byte after `i`: a cut is made only
/// where the next piece begins with an item (or its attributes or doc comments).
fn starts_item(b: &[u8], i: usize) -> bool {
    // Doc comments are comments to `next_significant`; cutting before them keeps them
    // with their item.
    let j = next_significant(b, i);
    if b.get(j) == Some(&b'#') {
        return b.get(j + 1) == Some(&b'[');
    }
    let word = word_at(b, j.min(b.len()));
    const STARTERS: &[&[u8]] = &[
        b"pub",
        b"fn",
        b"struct",
        b"enum",
        b"union",
        b"impl",
        b"trait",
        b"mod",
        b"use",
        b"const",
        b"static",
        b"type",
        b"extern",
        b"unsafe",
        b"async",
        b"macro_rules",
    ];
    STARTERS.contains(&word)
}

/// The ASCII word (letters, digits, `_`) that starts at `j`, possibly empty.
fn word_at(b: &[u8], j: usize) -> &[u8] {
    let rest = &b[j..];
    let len = rest
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
        .unwrap_or(rest.len());
    &rest[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_code_is_cheap_and_uncut() {
        let src = "/// doc (\nimpl A { fn a(&self) -> u8 { if x { 1 } else { 2 } } fn b() -> u8 { 3 } }\n\
                   const S: &str = \"((((\"; const R: &str = r#\"{{{{\"#; fn l<'a>(x: &'a u8) -> char { '(' }\n";
        assert_eq!(scan(src, 0), Ok(vec![]));
    }

    #[test]
    fn deep_nesting_is_refused_with_its_place() {
        let deep = format!("fn f() {{\n {}1{} }}", "(".repeat(5000), ")".repeat(5000));
        let e = scan(&deep, 0).unwrap_err();
        assert_eq!(e.line, 2);
        let chain = format!("fn f() -> i32 {{ {}1 }}", "-".repeat(30_000));
        assert!(scan(&chain, 0).is_err());
        let elses = format!("fn f() {{ if a {{}} {} }}", "else if a {} ".repeat(30_000));
        assert!(scan(&elses, 0).is_err());
        // The same length spread over statements is fine.
        let flat = format!("fn f() {{ {} }}", "a + b;".repeat(30_000));
        assert!(scan(&flat, 0).is_ok());
    }

    #[test]
    fn cuts_fall_between_items() {
        let src = "fn a() {}\nconst X: u8 = { 1 } + 1;\n/// doc\nfn b() {}\nstruct S;\nimpl S {}\n";
        let cuts = scan(src, 1).unwrap();
        for c in &cuts {
            let rest = src[*c..].trim_start();
            assert!(
                ["const", "/// doc", "struct", "impl"]
                    .iter()
                    .any(|p| rest.starts_with(p)),
                "cut before {rest:?}"
            );
        }
        assert_eq!(cuts.len(), 4);
    }
}
