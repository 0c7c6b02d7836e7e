//! The body shortcut: function bodies read without syn.
//!
//! Most of a crate's text is function bodies, and all the graph takes from a body is
//! its call sites, what is known of their receivers, and the items declared in it.
//! Before syn sees a file, this pass tokenizes it ([`crate::lex`]), walks its items as
//! far as their shape is plain (attributes, visibility, `fn`, `impl`, `trait`, `mod`,
//! data items, macro invocations), and reads each function body with the small parser
//! of [`crate::body`]. A body that parser reads completely is *hollowed*: its text is
//! replaced by its line breaks and as many spaces as its last line has characters, so
//! every token outside it keeps its line and column, and syn parses a block holding
//! only the items the body declares (they stay in the text). The extractor then takes
//! the body's facts from what the parser recorded, found by the line and column of the
//! body's `{`.
//!
//! Whatever the walk or the parser is not sure of (an item shape it does not know, a
//! macro whose tokens may be items, a syntax it does not cover) stays in the text for
//! syn. The shortcut is checked to change no fact on every file of the
//! local registry ([`crate::check_body_shortcut`]).

use crate::body::{self, Body};
use crate::fasthash::FastMap;
use crate::lex::{lex, Kind, Tok};

/// The source with its readable bodies hollowed out, and what each body said.
pub(crate) struct Hollowed<'a> {
    pub(crate) text: String,
    /// By the 1-based line and 0-based character column of the body's `{`.
    pub(crate) bodies: FastMap<(u32, u32), Body<'a>>,
}

/// How deep `mod`, `impl` and `trait` blocks are walked.
const MAX_ITEM_DEPTH: usize = 32;

/// Hollows the bodies of `source` that the body parser reads; `None` when there is none
/// (or the file is not one this pass tokenizes).
pub(crate) fn hollow(source: &str) -> Option<Hollowed<'_>> {
    let (start, found, _) = walk(source)?;
    if found.is_empty() {
        return None;
    }
    let b = source.as_bytes();
    let mut text = String::with_capacity(source.len());
    let mut bodies = FastMap::default();
    let mut copied = 0;
    let mut line: u32 = 1;
    let mut counted = 0;
    for (open, close, body) in found {
        let (open, close) = (open + start, close + start);
        line += count_newlines(&b[counted..open]);
        counted = open;
        let line_start = b[..open]
            .iter()
            .rposition(|c| *c == b'\n')
            .map_or(0, |p| p + 1);
        let column = char_count(&b[line_start..open]);
        // Everything up to and including the `{`; then the body with only the items it
        // declares left in place, every other line reduced to its line break, and the
        // last line of each gap to as many spaces as it has characters (so the next
        // item, or the `}`, keeps its column).
        text.push_str(&source[copied..=open]);
        let mut from = open + 1;
        for &(kept_from, kept_to) in &body.kept {
            let (kept_from, kept_to) = (kept_from as usize + start, kept_to as usize + start);
            blank_gap(&b[from..kept_from], &mut text);
            text.push_str(&source[kept_from..kept_to]);
            from = kept_to;
        }
        blank_gap(&b[from..close], &mut text);
        bodies.insert((line, column), body);
        copied = close;
    }
    text.push_str(&source[copied..]);
    Some(Hollowed { text, bodies })
}

/// The bodies read and the bodies refused in `source` (a file that does not tokenize
/// counts none).
pub(crate) fn coverage(source: &str) -> (usize, usize) {
    let blanked = crate::docs::blank_docs(source);
    walk(blanked.as_deref().unwrap_or(source))
        .map_or((0, 0), |(_, found, refused)| (found.len(), refused))
}

type Found<'a> = Vec<(usize, usize, Body<'a>)>;

/// Tokenizes `source` and reads its bodies: the offset the tokens start from, the
/// bodies read, and how many were refused.
fn walk(source: &str) -> Option<(usize, Found<'_>, usize)> {
    let mut start = 0;
    if source.starts_with('\u{feff}') {
        start = 3;
    }
    let rest = &source[start..];
    if rest.starts_with("#!") && !rest[2..].trim_start().starts_with('[') {
        start += rest.find('\n').unwrap_or(rest.len());
    }
    let toks = lex(&source[start..])?;
    let mut w = Walker {
        toks: &toks,
        src: &source[start..],
        found: Vec::new(),
        refused: 0,
        skip_only: false,
    };
    w.items(0, toks.len(), 0);
    Some((start, w.found, w.refused))
}

/// The line breaks of `gap`, then one space per character of its last line.
fn blank_gap(gap: &[u8], text: &mut String) {
    let mut last_line = 0;
    for (k, c) in gap.iter().enumerate() {
        if *c == b'\n' {
            text.push('\n');
            last_line = k + 1;
        }
    }
    for _ in 0..char_count(&gap[last_line..]) {
        text.push(' ');
    }
}

fn count_newlines(b: &[u8]) -> u32 {
    b.iter().filter(|c| **c == b'\n').count() as u32
}

/// Characters in `b` (proc_macro2 counts columns in characters).
fn char_count(b: &[u8]) -> u32 {
    b.iter().filter(|c| (**c & 0xC0) != 0x80).count() as u32
}

struct Walker<'t, 'a> {
    toks: &'t [Tok],
    src: &'a str,
    /// Byte offsets of each hollowed body's braces, and its facts, in source order.
    found: Found<'a>,
    /// Bodies left to syn.
    refused: usize,
    /// Only find where items end (an item kept in a hollowed body is left whole).
    skip_only: bool,
}

/// The index after the item starting at token `i` (its attributes included), or `None`
/// when its shape is not one this pass knows.
pub(crate) fn item_end(toks: &[Tok], src: &str, i: usize, end: usize) -> Option<usize> {
    let mut w = Walker {
        toks,
        src,
        found: Vec::new(),
        refused: 0,
        skip_only: true,
    };
    w.item(i, end, 0)
}

impl Walker<'_, '_> {
    fn ident(&self, i: usize) -> Option<&str> {
        let t = self.toks.get(i)?;
        (t.kind == Kind::Ident).then(|| &self.src[t.start as usize..t.end as usize])
    }

    fn is_ident(&self, i: usize, word: &str) -> bool {
        self.ident(i) == Some(word)
    }

    fn is_punct(&self, i: usize, c: u8) -> bool {
        self.toks
            .get(i)
            .is_some_and(|t| t.kind == Kind::Punct && t.ch == c)
    }

    fn is_open(&self, i: usize, c: u8) -> bool {
        self.toks
            .get(i)
            .is_some_and(|t| t.kind == Kind::Open && t.ch == c)
    }

    /// Walks the items in tokens `i..end`; stops (leaving the rest to syn) at anything
    /// it does not know.
    fn items(&mut self, mut i: usize, end: usize, depth: usize) {
        if depth > MAX_ITEM_DEPTH {
            return;
        }
        while i < end {
            match self.item(i, end, depth) {
                Some(next) if next > i => i = next,
                _ => return,
            }
        }
    }

    /// One item at `i`: the index after it.
    fn item(&mut self, mut i: usize, end: usize, depth: usize) -> Option<usize> {
        // Attributes, inner (at the start of a block) or outer.
        while self.is_punct(i, b'#') {
            if self.is_punct(i + 1, b'!') {
                i += 1;
            }
            if !self.is_open(i + 1, b'[') {
                return None;
            }
            i = self.toks[i + 1].close as usize + 1;
        }
        if self.is_ident(i, "pub") {
            i += 1;
            if self.is_open(i, b'(') {
                i = self.toks[i].close as usize + 1;
            }
        }
        loop {
            match self.ident(i)? {
                "async" | "unsafe" | "default" | "safe" | "auto" => i += 1,
                "const"
                    if matches!(
                        self.ident(i + 1),
                        Some("fn" | "unsafe" | "async" | "extern")
                    ) =>
                {
                    i += 1
                }
                "extern" => {
                    if self.is_ident(i + 1, "crate") {
                        return self.to_semicolon(i, end);
                    }
                    i += 1;
                    if self.toks.get(i)?.kind == Kind::Literal {
                        i += 1;
                    }
                    if self.is_open(i, b'{') {
                        // Foreign items have no bodies.
                        return Some(self.toks[i].close as usize + 1);
                    }
                }
                _ => break,
            }
        }
        if i >= end {
            return None;
        }
        match self.ident(i)? {
            "fn" => {
                let (brace, next) = self.header(i + 1, end)?;
                if let Some(open) = brace.filter(|_| !self.skip_only) {
                    let close = self.toks[open].close as usize;
                    if let Some(body) = body::parse(self.toks, self.src, open, close) {
                        self.found.push((
                            self.toks[open].start as usize,
                            self.toks[close].start as usize,
                            body,
                        ));
                    } else {
                        self.refused += 1;
                    }
                }
                Some(next)
            }
            "impl" | "trait" | "mod" => {
                let (brace, next) = self.header(i + 1, end)?;
                if let Some(open) = brace.filter(|_| !self.skip_only) {
                    self.items(open + 1, self.toks[open].close as usize, depth + 1);
                }
                Some(next)
            }
            "struct" | "enum" | "union" => Some(self.header(i + 1, end)?.1),
            "const" | "static" | "type" | "use" => self.to_semicolon(i, end),
            "macro_rules" if self.is_punct(i + 1, b'!') => {
                let g = i + 3;
                let t = self.toks.get(g)?;
                if t.kind != Kind::Open {
                    return None;
                }
                let next = t.close as usize + 1;
                Some(if self.is_punct(next, b';') {
                    next + 1
                } else {
                    next
                })
            }
            _ => {
                // A macro invocation: `path! (...)`, `path! [...]`, `path! { ... }`.
                let mut k = i;
                while self.is_punct(k + 1, b':')
                    && self.is_punct(k + 2, b':')
                    && self.ident(k + 3).is_some()
                {
                    k += 3;
                }
                if !self.is_punct(k + 1, b'!') {
                    return None;
                }
                let g = k + 2;
                let t = *self.toks.get(g)?;
                if t.kind != Kind::Open {
                    return None;
                }
                // The tokens of an item macro are read as items where they are items
                // (`cfg_rt! { ... }`, `cfg_if!`'s arms); the walk stops where they are
                // not, and a body is hollowed only where syn's reading of the same
                // tokens as items would give the same block.
                if self.skip_only {
                } else if self.is_ident(k, "cfg_if") {
                    self.cfg_if(g + 1, t.close as usize, depth + 1);
                } else {
                    self.items(g + 1, t.close as usize, depth + 1);
                }
                let next = t.close as usize + 1;
                Some(if t.ch != b'{' && self.is_punct(next, b';') {
                    next + 1
                } else {
                    next
                })
            }
        }
    }

    /// `if #[cfg(..)] { items } else if #[cfg(..)] { items } else { items }`.
    fn cfg_if(&mut self, mut i: usize, end: usize, depth: usize) {
        if depth > MAX_ITEM_DEPTH {
            return;
        }
        while i < end {
            if self.is_ident(i, "if") {
                if !(self.is_punct(i + 1, b'#') && self.is_open(i + 2, b'[')) {
                    return;
                }
                i = self.toks[i + 2].close as usize + 1;
            }
            if !self.is_open(i, b'{') {
                return;
            }
            let close = self.toks[i].close as usize;
            self.items(i + 1, close, depth + 1);
            i = close + 1;
            if i < end && !self.is_ident(i, "else") {
                return;
            }
            i += 1;
        }
    }

    /// The tokens of an item's header from `i`, up to its `{ ... }` block or its `;`:
    /// the block's open token (if any) and the index after the item. Groups are stepped
    /// over; a `{` counts only outside `<...>`.
    fn header(&self, mut i: usize, end: usize) -> Option<(Option<usize>, usize)> {
        let mut angle: i32 = 0;
        while i < end {
            let t = &self.toks[i];
            match t.kind {
                Kind::Open if t.ch == b'{' && angle == 0 => {
                    return Some((Some(i), t.close as usize + 1));
                }
                Kind::Open => i = t.close as usize + 1,
                Kind::Punct => {
                    match t.ch {
                        b';' if angle == 0 => return Some((None, i + 1)),
                        b'<' => angle += 1,
                        b'>' if !(i > 0
                            && self.toks[i - 1].joint
                            && matches!(self.toks[i - 1].ch, b'-' | b'=')) =>
                        {
                            angle -= 1;
                            if angle < 0 {
                                return None;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
        None
    }

    /// The index after the `;` that ends the item at `i` (groups stepped over).
    fn to_semicolon(&self, mut i: usize, end: usize) -> Option<usize> {
        while i < end {
            let t = &self.toks[i];
            match t.kind {
                Kind::Open => i = t.close as usize + 1,
                Kind::Punct if t.ch == b';' => return Some(i + 1),
                _ => i += 1,
            }
        }
        None
    }
}
