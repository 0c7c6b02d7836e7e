//! A reader of function bodies for the body shortcut (see [`crate::hollow`]).
//!
//! It follows syn's grammar for statements, expressions, patterns and types, keeps only
//! what the graph takes from a body, and records it as a list of [`Ev`]ents in the
//! order syn's visitor in `extract.rs` meets them: call sites, what each method call's
//! receiver is, the bindings of `let`s, patterns and closure parameters, and the scopes
//! they live in. The extractor replays the events with the same rules it applies to a
//! syn tree, so the facts are the same.
//!
//! Items declared in a body are stepped over and recorded ([`Body::kept`]): they stay in
//! the text for syn. The reader covers a subset of Rust and refuses the rest (`None`):
//! inner attributes, macros whose tokens may be items, `try` and `const` blocks,
//! `yield`, qualified paths in patterns, anything unusual in a type. A refused body is
//! left to syn. Where a macro's arguments are read as expressions, syn reads them so
//! too; where they certainly are not expressions (an expression read whole, then
//! neither `,` nor `;`), syn's reading fails as well and the macro contributes nothing.

use crate::extract::MAX_RECV_DEPTH;
use crate::lex::{Kind, Tok};

mod atom;
mod expr;
mod pat;
mod ty;

/// What a body says, in visiting order.
#[derive(Debug, Default)]
pub(crate) struct Body<'a> {
    pub(crate) events: Vec<Ev<'a>>,
    /// Byte ranges of the items declared in the body (attributes included), in source
    /// order: they stay in the text, for syn to parse as the block's statements.
    pub(crate) kept: Vec<(u32, u32)>,
}

#[derive(Debug)]
pub(crate) enum Ev<'a> {
    /// A call of a path (`f(..)`, `a::b(..)`); `true` for a one-segment path.
    Call(Vec<&'a str>, bool),
    /// A call of something that is not a path.
    Opaque,
    /// `recv.name(..)`.
    Method(&'a str, RSyn<'a>),
    Push,
    Pop,
    /// A pattern bound to a value (`None`: nothing known).
    Bind(PSyn<'a>, Option<RSyn<'a>>),
}

/// An expression, as far as a receiver description needs it.
#[derive(Debug, Clone)]
pub(crate) enum RSyn<'a> {
    Other,
    /// A one-segment path without arguments (`self`, a local).
    Ident(&'a str),
    Field(Box<RSyn<'a>>, &'a str),
    MethodRet(Box<RSyn<'a>>, &'a str),
    CallRet(Vec<&'a str>),
    Struct(Vec<&'a str>),
    Cast(Ty<'a>),
    /// Parentheses, a reference or a dereference.
    Wrap(Box<RSyn<'a>>),
}

/// A pattern, as far as binding needs it.
#[derive(Debug)]
pub(crate) enum PSyn<'a> {
    /// `name` or `name @ sub` (`ref`/`mut` dropped).
    Ident(&'a str, Option<Box<PSyn<'a>>>),
    /// `pat: Type`.
    Typed(Box<PSyn<'a>>, Ty<'a>),
    /// `&pat` or `(pat)`.
    Ref(Box<PSyn<'a>>),
    /// `Path(a, b, ..)`: elements, `None` for `..`.
    TupleStruct(Vec<&'a str>, Vec<Option<PSyn<'a>>>),
    /// `Path { a, b: pat, .. }`.
    Struct(Vec<&'a str>, Vec<(&'a str, PSyn<'a>)>),
    /// Any other pattern: the names it binds, in order.
    Names(Vec<&'a str>),
}

/// A type, as far as `recv::ty_ref` needs it.
#[derive(Debug, Clone)]
pub(crate) enum Ty<'a> {
    /// A reference, parentheses.
    Ref(Box<Ty<'a>>),
    Path {
        segs: Vec<&'a str>,
        leading_colon: bool,
        args: Args<'a>,
    },
    /// `impl`/`dyn` bounds: the trait paths, `Sized` left out.
    Bounds(Vec<Vec<&'a str>>),
    Other,
}

/// The arguments of a path type's last segment.
#[derive(Debug, Clone)]
pub(crate) enum Args<'a> {
    None,
    /// `<...>`, with the first argument when it is a type.
    Angle(Option<Box<Ty<'a>>>),
    /// `(...) -> ...`.
    Paren,
}

/// How deep the reader recurses before it gives the body to syn.
const MAX_DEPTH: u32 = 96;

/// Keywords (strict and reserved) other than the path keywords `self`, `Self`,
/// `super` and `crate`.
fn is_keyword(w: &str) -> bool {
    matches!(
        w,
        "as" | "async"
            | "await"
            | "become"
            | "box"
            | "break"
            | "const"
            | "continue"
            | "do"
            | "dyn"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "macro"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "static"
            | "struct"
            | "trait"
            | "true"
            | "try"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "yield"
            | "abstract"
            | "final"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
    )
}

/// Reads the body between the braces at `open` and `close`.
pub(crate) fn parse<'a>(toks: &[Tok], src: &'a str, open: usize, close: usize) -> Option<Body<'a>> {
    let mut p = P {
        t: toks,
        s: src,
        i: open + 1,
        end: close,
        ev: Vec::new(),
        kept: Vec::new(),
        depth: 0,
    };
    // Inner attributes of a function body are the function's attributes.
    if p.punct(b'#') && p.punct_at(p.i + 1, b'!') {
        return None;
    }
    p.ev.push(Ev::Push);
    p.stmts()?;
    p.ev.push(Ev::Pop);
    Some(Body {
        events: p.ev,
        kept: p.kept,
    })
}

/// A parsed expression.
struct E<'a> {
    r: RSyn<'a>,
    /// Where its events start (a call's event goes before its callee's and receiver's).
    start: usize,
    /// The path it is, when it is a plain path (no `<T as Trait>::`).
    path: Option<(Vec<&'a str>, bool)>,
    block_like: bool,
    range: bool,
    /// The precedence of its top binary operator (0: none).
    prec: u8,
}

impl<'a> E<'a> {
    fn other(start: usize) -> E<'a> {
        E {
            r: RSyn::Other,
            start,
            path: None,
            block_like: false,
            range: false,
            prec: 0,
        }
    }
}

const ASSIGN: u8 = 1;
const RANGE: u8 = 2;
const COMPARE: u8 = 6;
const CAST: u8 = 13;

struct P<'t, 'a> {
    t: &'t [Tok],
    s: &'a str,
    i: usize,
    end: usize,
    ev: Vec<Ev<'a>>,
    kept: Vec<(u32, u32)>,
    depth: u32,
}

impl<'t, 'a> P<'t, 'a> {
    // ---- tokens ----

    fn at_end(&self) -> bool {
        self.i >= self.end
    }

    fn tok(&self, i: usize) -> Option<&'t Tok> {
        if i < self.end {
            self.t.get(i)
        } else {
            None
        }
    }

    fn text(&self, i: usize) -> &'a str {
        let t = &self.t[i];
        &self.s[t.start as usize..t.end as usize]
    }

    fn punct_at(&self, i: usize, c: u8) -> bool {
        self.tok(i)
            .is_some_and(|t| t.kind == Kind::Punct && t.ch == c)
    }

    fn punct(&self, c: u8) -> bool {
        self.punct_at(self.i, c)
    }

    /// `c1c2` as one operator at `i` (`::`, `=>`, `..`).
    fn punct2_at(&self, i: usize, c1: u8, c2: u8) -> bool {
        self.punct_at(i, c1) && self.t[i].joint && self.punct_at(i + 1, c2)
    }

    fn punct2(&self, c1: u8, c2: u8) -> bool {
        self.punct2_at(self.i, c1, c2)
    }

    /// A `:` that is not the start of `::`.
    fn colon(&self) -> bool {
        self.punct(b':') && !self.punct2(b':', b':')
    }

    /// A `.` that is not the start of `..`.
    fn dot(&self) -> bool {
        self.punct(b'.') && !self.punct2(b'.', b'.')
    }

    fn word_at(&self, i: usize) -> Option<&'a str> {
        let t = self.tok(i)?;
        (t.kind == Kind::Ident).then(|| self.text(i))
    }

    fn word(&self) -> Option<&'a str> {
        self.word_at(self.i)
    }

    fn is_word(&self, w: &str) -> bool {
        self.word() == Some(w)
    }

    fn is_word_at(&self, i: usize, w: &str) -> bool {
        self.word_at(i) == Some(w)
    }

    fn open_at(&self, i: usize, c: u8) -> bool {
        self.tok(i)
            .is_some_and(|t| t.kind == Kind::Open && t.ch == c)
    }

    fn open(&self, c: u8) -> bool {
        self.open_at(self.i, c)
    }

    fn eat_punct(&mut self, c: u8) -> Option<()> {
        if self.punct(c) {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Runs `f` inside the group opening at the current token, which must be `c`; `f`
    /// must consume the whole group.
    fn group<R>(&mut self, c: u8, f: impl FnOnce(&mut Self) -> Option<R>) -> Option<R> {
        if !self.open(c) {
            return None;
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let close = self.t[self.i].close as usize;
        let outer = self.end;
        self.i += 1;
        self.end = close;
        let r = f(self)?;
        if self.i != close {
            return None;
        }
        self.end = outer;
        self.i = close + 1;
        self.depth -= 1;
        Some(r)
    }

    fn deeper(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    // ---- attributes ----

    /// Outer attributes (`#[path]`, `#[path(...)]`, `#[path = literal]`), stepped over.
    fn attrs(&mut self) -> Option<()> {
        while self.punct(b'#') {
            self.i += 1;
            self.attr_body()?;
        }
        Some(())
    }

    fn attr_body(&mut self) -> Option<()> {
        self.group(b'[', |p| {
            p.eat_word("unsafe");
            p.mod_path()?;
            if p.punct(b'=') {
                p.i += 1;
                if p.tok(p.i)?.kind != Kind::Literal {
                    return None;
                }
                p.i += 1;
            } else if let Some(t) = p.tok(p.i) {
                if t.kind != Kind::Open {
                    return None;
                }
                p.i = t.close as usize + 1;
            }
            Some(())
        })
    }

    /// `a::b::c` without arguments.
    fn mod_path(&mut self) -> Option<Vec<&'a str>> {
        let mut segs = Vec::new();
        if self.punct2(b':', b':') {
            self.i += 2;
        }
        loop {
            let w = self.word()?;
            if is_keyword(w) {
                return None;
            }
            segs.push(w);
            self.i += 1;
            if self.punct2(b':', b':') && self.word_at(self.i + 2).is_some() {
                self.i += 2;
            } else {
                return Some(segs);
            }
        }
    }

    // ---- statements ----

    fn stmts(&mut self) -> Option<()> {
        loop {
            while self.punct(b';') {
                self.i += 1;
            }
            if self.at_end() {
                return Some(());
            }
            let stmt = self.i;
            self.attrs()?;
            if self.is_word("let") {
                self.local()?;
                continue;
            }
            if self.item_start() {
                self.keep_item(stmt)?;
                continue;
            }
            if let Some(done) = self.stmt_macro(stmt)? {
                if done {
                    continue;
                }
            }
            let e = self.expr_early()?;
            if self.punct(b';') {
                self.i += 1;
            } else if self.at_end() || e.block_like {
                // A tail expression, or one that needs no `;`.
            } else {
                return None;
            }
        }
    }

    /// An item declared in the body, from its first attribute at `from`: left in the
    /// text for syn (see [`Body::kept`]).
    fn keep_item(&mut self, from: usize) -> Option<()> {
        let next = crate::hollow::item_end(self.t, self.s, from, self.end)?;
        if next <= from || next > self.end {
            return None;
        }
        self.kept.push((self.t[from].start, self.t[next - 1].end));
        self.i = next;
        Some(())
    }

    /// syn's test for an item in statement position.
    fn item_start(&self) -> bool {
        let Some(w) = self.word() else {
            return false;
        };
        let w2 = self.word_at(self.i + 1);
        match w {
            "pub" | "extern" | "use" | "fn" | "mod" | "type" | "struct" | "enum" | "trait"
            | "impl" | "macro" => true,
            "crate" => !self.punct2_at(self.i + 1, b':', b':'),
            "static" => w2.is_some_and(|w| w == "mut" || !is_keyword(w) || w == "async"),
            "const" => !self.open_at(self.i + 1, b'{'),
            "unsafe" => !self.open_at(self.i + 1, b'{'),
            "async" => matches!(w2, Some("unsafe" | "extern" | "fn")),
            "union" => w2.is_some_and(|w| !is_keyword(w)),
            "auto" => w2 == Some("trait"),
            "default" => matches!(w2, Some("unsafe" | "impl")),
            _ => false,
        }
    }

    /// A statement `path! { ... }` (or an item macro): `Some(true)` when read,
    /// `Some(false)` when the statement is not one, `None` to refuse the body.
    fn stmt_macro(&mut self, stmt: usize) -> Option<Option<bool>> {
        let save = self.i;
        let path = self.mod_path();
        let cfg_if = path
            .as_ref()
            .and_then(|p| p.last())
            .is_some_and(|l| *l == "cfg_if");
        let is_path = path.is_some();
        let bang = is_path && self.punct(b'!') && !self.punct2(b'!', b'=');
        if !bang {
            self.i = save;
            return Some(Some(false));
        }
        let after = self.i + 1;
        if self.word_at(after).is_some() {
            // `macro_rules! name { ... }` and other item macros.
            self.keep_item(stmt)?;
            return Some(Some(true));
        }
        if self.open_at(after, b'{') {
            let next = self.t[after].close as usize + 1;
            let trailer = (self.punct_at(next, b'.') && !self.punct2_at(next, b'.', b'.'))
                || self.punct_at(next, b'?');
            if !trailer {
                self.i = after;
                self.macro_args(cfg_if)?;
                if self.punct(b';') {
                    self.i += 1;
                }
                return Some(Some(true));
            }
        }
        self.i = save;
        Some(Some(false))
    }

    /// The arguments of a macro (the group at the current token) as `a, b; c`; `cfg_if`
    /// says whether the macro is `cfg_if!`.
    ///
    /// When they are not expressions for certain (an expression read completely is
    /// followed by something other than `,` or `;`, as in `select! { _ = f => {} }`
    /// or `trace!(target: "x")`), syn's reading fails too and the macro contributes
    /// nothing, unless its tokens could be items (a statement macro's items belong to
    /// the body): then the body is refused.
    fn macro_args(&mut self, cfg_if: bool) -> Option<()> {
        let t = self.tok(self.i)?;
        if t.kind != Kind::Open {
            return None;
        }
        let (close, outer, depth) = (t.close as usize, self.end, self.depth);
        let (first_event, first_kept) = (self.ev.len(), self.kept.len());
        let may_be_items = cfg_if || self.could_start_item(self.i + 1, close);
        self.i += 1;
        self.end = close;
        let mut read = true;
        while !self.at_end() {
            self.expr(true)?;
            if self.at_end() {
                break;
            }
            if self.punct(b';') || self.punct(b',') {
                self.i += 1;
            } else {
                read = false;
                break;
            }
        }
        if !read {
            if may_be_items {
                return None;
            }
            self.ev.truncate(first_event);
            self.kept.truncate(first_kept);
            self.depth = depth;
        }
        self.end = outer;
        self.i = close + 1;
        Some(())
    }

    /// Whether the tokens from `i` (up to `end`) could begin an item.
    fn could_start_item(&self, i: usize, end: usize) -> bool {
        if i >= end {
            return false;
        }
        let t = &self.t[i];
        match t.kind {
            Kind::Punct => t.ch == b'#' || (t.ch == b':' && t.joint),
            Kind::Ident => {
                matches!(
                    self.text(i),
                    "pub"
                        | "fn"
                        | "struct"
                        | "enum"
                        | "union"
                        | "trait"
                        | "impl"
                        | "use"
                        | "const"
                        | "static"
                        | "extern"
                        | "mod"
                        | "type"
                        | "unsafe"
                        | "async"
                        | "default"
                        | "auto"
                        | "macro"
                        | "macro_rules"
                        | "safe"
                ) || (i + 1 < end
                    && self.t[i + 1].kind == Kind::Punct
                    && (self.t[i + 1].ch == b'!'
                        || (self.t[i + 1].ch == b':' && self.t[i + 1].joint)))
            }
            _ => false,
        }
    }

    fn local(&mut self) -> Option<()> {
        self.i += 1;
        let mut pat = self.pat_single()?;
        if self.colon() {
            self.i += 1;
            let ty = self.ty(true)?;
            pat = PSyn::Typed(Box::new(pat), ty);
        }
        let mut value = None;
        if self.punct(b'=') && !self.punct2(b'=', b'=') && !self.punct2(b'=', b'>') {
            self.i += 1;
            let e = self.expr(true)?;
            if self.is_word("else") {
                self.i += 1;
                self.block()?;
            }
            value = Some(e.r);
        }
        self.eat_punct(b';')?;
        self.ev.push(Ev::Bind(pat, value));
        Some(())
    }
}

/// How many levels of a receiver description are kept under a new outer one: typing
/// looks [`MAX_RECV_DEPTH`] levels deep, so what lies deeper is never read (and a
/// chain of 100,000 calls stays small).
const CAP: usize = MAX_RECV_DEPTH - 1;

/// `r` with its levels past the first `keep` replaced by [`RSyn::Other`].
fn cap(r: RSyn<'_>, keep: usize) -> RSyn<'_> {
    if keep == 0 {
        return RSyn::Other;
    }
    match r {
        RSyn::Field(base, m) => RSyn::Field(Box::new(cap(*base, keep - 1)), m),
        RSyn::MethodRet(base, m) => RSyn::MethodRet(Box::new(cap(*base, keep - 1)), m),
        RSyn::Wrap(inner) => RSyn::Wrap(Box::new(cap(*inner, keep - 1))),
        leaf => leaf,
    }
}

/// The names a pattern binds, in syn's visiting order.
fn names_of<'a>(p: &PSyn<'a>, out: &mut Vec<&'a str>) {
    match p {
        PSyn::Ident(n, sub) => {
            out.push(n);
            if let Some(s) = sub {
                names_of(s, out);
            }
        }
        PSyn::Typed(p, _) | PSyn::Ref(p) => names_of(p, out),
        PSyn::TupleStruct(_, elems) => {
            for e in elems.iter().flatten() {
                names_of(e, out);
            }
        }
        PSyn::Struct(_, fields) => {
            for (_, f) in fields {
                names_of(f, out);
            }
        }
        PSyn::Names(n) => out.extend(n.iter().cloned()),
    }
}

#[cfg(test)]
mod tests;
